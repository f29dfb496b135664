//! Store acceptance benchmarks (issue 5):
//! * storing a one-hour, two-sensor, 100 Hz session (raw samples, angles, events): ≤ 2 s, ≤ 30 MB;
//! * `sessions list` over 1,000 sessions: ≤ 100 ms (library query and the CLI end to end);
//! * `plot progress` over 1,000 sessions: ≤ 1 s (data + PNG render, and the CLI end to end).
//!
//! Before the timed groups it prints a layout comparison for the same hour of samples: chunk codecs
//! (plain f32 vs byte-shuffled deflate) and row-per-sample (`WITHOUT ROWID`), with file sizes.
//!
//! `cargo bench --bench store`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use stretchwatch::model::{ImuSample, JointAngles, SensorRole, Side, StretchType};
use stretchwatch::report::{self, plots};
use stretchwatch::store::codec::Codec;
use stretchwatch::store::{SessionFilter, SessionMeta, SessionSummary, Store, WriterConfig};

const FRAMES: u64 = 360_000; // one hour at 100 Hz

/// Deterministic noise in [−1, 1].
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// Sensor-like samples: slow leg raises plus noise at realistic levels (0.02 m/s², 0.003 rad/s).
fn hour_of_data() -> (Vec<ImuSample>, Vec<JointAngles>) {
    let mut rng = Lcg(7);
    let mut samples = Vec::with_capacity(2 * FRAMES as usize);
    let mut frames = Vec::with_capacity(FRAMES as usize);
    for i in 0..FRAMES {
        let t = i as f64 * 0.01;
        let hip = 35.0 * (1.0 - (2.0 * std::f64::consts::PI * t / 60.0).cos());
        let a = hip.to_radians();
        for (k, role) in [SensorRole::Thigh, SensorRole::Shank]
            .into_iter()
            .enumerate()
        {
            samples.push(ImuSample {
                t_s: t + k as f64 * 0.0002,
                role,
                acc_m_s2: nalgebra::Vector3::new(
                    9.81 * a.sin() + 0.02 * rng.next(),
                    0.1 + 0.02 * rng.next(),
                    9.81 * a.cos() + 0.02 * rng.next(),
                ),
                gyr_rad_s: nalgebra::Vector3::new(
                    0.003 * rng.next(),
                    0.2 * (2.0 * std::f64::consts::PI * t / 60.0).sin() + 0.003 * rng.next(),
                    0.003 * rng.next(),
                ),
                mag_ut: None,
            });
        }
        frames.push(JointAngles {
            t_s: t,
            knee_flexion_deg: Some(12.0 + 0.2 * rng.next()),
            hip_flexion_deg: Some(hip + 0.2 * rng.next()),
            leg_raise_deg: Some(hip + 0.2 * rng.next()),
            ..Default::default()
        });
    }
    (samples, frames)
}

fn meta(t: f64, side: Side) -> SessionMeta {
    SessionMeta {
        started_unix_s: t,
        side,
        stretch: StretchType::Supine,
        source: "bench".into(),
        rate_hz: Some(100.0),
        sensors: vec![],
        calibration: None,
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stretchwatch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", p.display()));
    }
    p
}

fn file_size(p: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|ext| std::fs::metadata(format!("{}{ext}", p.display())).map_or(0, |m| m.len()))
        .sum()
}

/// Stores the hour into a fresh file; returns (seconds, bytes on disk after close).
fn store_hour(
    samples: &[ImuSample],
    frames: &[JointAngles],
    codec: Codec,
    name: &str,
) -> (f64, u64) {
    let path = tmp(name);
    let t = Instant::now();
    {
        let mut store = Store::open(&path).unwrap();
        let cfg = WriterConfig {
            codec,
            ..WriterConfig::default()
        };
        let mut w = store
            .begin_session_with(&meta(1.79e9, Side::Left), cfg)
            .unwrap();
        let mut k = 0;
        for (i, f) in frames.iter().enumerate() {
            w.push_sample(&samples[k]).unwrap();
            w.push_sample(&samples[k + 1]).unwrap();
            k += 2;
            w.push_angles(f).unwrap();
            // About one rep a minute: phase events, a warning episode, a rep.
            if i % 6000 == 3000 {
                for name in ["phase", "phase", "bouncing", "bouncing", "phase", "rep"] {
                    let json = format!(r#"{{"event":"{name}","t_s":{}}}"#, f.t_s);
                    w.add_event_json(f.t_s, name, &json).unwrap();
                }
            }
        }
        w.finish().unwrap();
    }
    (t.elapsed().as_secs_f64(), file_size(&path))
}

/// Row-per-sample layout of rust-stack.md §3 for comparison (samples only).
fn rows_layout(samples: &[ImuSample]) -> (f64, u64) {
    let path = tmp("rows.db");
    let t = Instant::now();
    {
        let mut c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.pragma_update(None, "synchronous", "NORMAL").unwrap();
        c.execute_batch(
            "CREATE TABLE s (session_id INTEGER, sensor INTEGER, t REAL, ax REAL, ay REAL, az REAL,
             gx REAL, gy REAL, gz REAL, PRIMARY KEY (session_id, sensor, t)) WITHOUT ROWID",
        )
        .unwrap();
        for chunk in samples.chunks(100) {
            let tx = c.transaction().unwrap();
            {
                let mut st = tx
                    .prepare_cached("INSERT INTO s VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                    .unwrap();
                for s in chunk {
                    st.execute(rusqlite::params![
                        s.role.index() as i64,
                        s.t_s,
                        s.acc_m_s2.x,
                        s.acc_m_s2.y,
                        s.acc_m_s2.z,
                        s.gyr_rad_s.x,
                        s.gyr_rad_s.y,
                        s.gyr_rad_s.z
                    ])
                    .unwrap();
                }
            }
            tx.commit().unwrap();
        }
    }
    (t.elapsed().as_secs_f64(), file_size(&path))
}

fn one_hour(c: &mut Criterion) {
    let (samples, frames) = hour_of_data();
    let mb = |b: u64| b as f64 / 1e6;
    for (codec, label) in [
        (Codec::ShuffleDeflate, "chunks, shuffle+deflate (default)"),
        (Codec::F32, "chunks, plain f32"),
    ] {
        let (s, size) = store_hour(&samples, &frames, codec, "layout.db");
        println!(
            "layout: {label:<36} samples+angles+events  {s:6.2} s  {:6.1} MB",
            mb(size)
        );
    }
    let (s, size) = rows_layout(&samples);
    println!(
        "layout: {:<36} samples only            {s:6.2} s  {:6.1} MB",
        "rows, WITHOUT ROWID, commit/100",
        mb(size)
    );

    let mut g = c.benchmark_group("store");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function(
        "one hour, two sensors, 100 Hz (samples, angles, events) to a file",
        |b| {
            b.iter(|| {
                black_box(store_hour(
                    &samples,
                    &frames,
                    Codec::ShuffleDeflate,
                    "hour.db",
                ))
            })
        },
    );
    g.finish();
}

/// 1,000 supine sessions over about two years, alternating sides.
fn thousand_sessions() -> PathBuf {
    let path = tmp("thousand.db");
    let mut store = Store::open(&path).unwrap();
    let t0 = 1.75e9;
    for k in 0..1000 {
        let side = if k % 2 == 0 { Side::Left } else { Side::Right };
        let mut w = store
            .begin_session(&meta(
                t0 + (k / 2) as f64 * 1.4 * 86_400.0 + (k % 2) as f64 * 600.0,
                side,
            ))
            .unwrap();
        w.set_summary(&SessionSummary {
            reps: 3,
            total_static_hold_s: 95.0,
            warnings_per_min: Some(0.3),
            session_value_deg: Some(65.0 + (k as f64 * 0.37).sin() * 6.0 + k as f64 * 0.01),
            active_s: Some(120.0),
        });
        w.finish().unwrap();
    }
    path
}

fn review(c: &mut Criterion) {
    let db = thousand_sessions();
    let exe = env!("CARGO_BIN_EXE_stretchwatch");
    let out_png = db.with_file_name("progress.png");
    let cli = |args: &[&str]| {
        let st = Command::new(exe)
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
    };
    let mut g = c.benchmark_group("review over 1000 sessions");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let store = Store::open(&db).unwrap();
    g.bench_function("list_sessions (library)", |b| {
        b.iter(|| {
            black_box(
                store
                    .list_sessions(&SessionFilter::default())
                    .unwrap()
                    .len(),
            )
        })
    });
    g.bench_function("`sessions list` (CLI, process start to exit)", |b| {
        b.iter(|| cli(&["sessions", "list"]))
    });
    g.bench_function("progress data + PNG render (library)", |b| {
        b.iter(|| {
            let d = plots::progress_data(&store, StretchType::Supine, None).unwrap();
            report::render(&d, &out_png, (1100, 620)).unwrap();
        })
    });
    g.bench_function("`plot progress` PNG (CLI, process start to exit)", |b| {
        b.iter(|| cli(&["plot", "progress", "--out", out_png.to_str().unwrap()]))
    });
    g.finish();
}

criterion_group!(benches, one_hour, review);
criterion_main!(benches);
