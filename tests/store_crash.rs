//! Crash safety and two processes on one database.
//!
//! The test binary re-runs itself as the child process: with `STRETCHWATCH_STORE_CHILD` set, the
//! `child` test plays a writer (live-paced, bulk, or holding a lock) instead of being a no-op.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stretchwatch::model::{ImuSample, JointAngles, SensorRole, Side, StretchType};
use stretchwatch::store::{SessionMeta, Store, StoreError, WriterConfig};

const CHILD_ENV: &str = "STRETCHWATCH_STORE_CHILD";

fn meta(side: Side) -> SessionMeta {
    SessionMeta {
        started_unix_s: 1_790_000_000.0,
        side,
        stretch: StretchType::Supine,
        source: "crash test".into(),
        rate_hz: Some(100.0),
        sensors: vec![],
        calibration: None,
    }
}

/// The value every pushed row carries, so the parent can check stored data exactly.
fn sample(i: u64, role: SensorRole) -> ImuSample {
    let x = i as f64;
    ImuSample {
        t_s: x * 0.01,
        role,
        acc_m_s2: nalgebra::Vector3::new(x * 1e-3, -1.0, 9.81),
        gyr_rad_s: nalgebra::Vector3::new(0.0, (x * 0.01).sin(), 0.5),
        mag_ut: None,
    }
}

fn frame(i: u64) -> JointAngles {
    JointAngles {
        t_s: i as f64 * 0.01,
        knee_flexion_deg: Some(12.0),
        hip_flexion_deg: Some(i as f64 * 0.01),
        leg_raise_deg: Some(70.0),
        ..Default::default()
    }
}

fn push_frame(w: &mut stretchwatch::store::SessionWriter<'_>, i: u64) {
    w.push_sample(&sample(i, SensorRole::Thigh)).unwrap();
    w.push_sample(&sample(i, SensorRole::Shank)).unwrap();
    w.push_angles(&frame(i)).unwrap();
}

/// Child roles: `live PATH` (100 Hz in real time, reports commits, runs until killed),
/// `bulk PATH SIDE FRAMES` (as fast as possible, committing every millisecond),
/// `hold PATH SECONDS` (holds a write lock).
#[test]
fn child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let args: Vec<&str> = spec.split('|').collect();
    let path = Path::new(args[1]);
    match args[0] {
        "live" => {
            let mut store = Store::open(path).unwrap();
            let mut w = store.begin_session(&meta(Side::Left)).unwrap();
            let start = Instant::now();
            let mut commits = 0;
            for i in 0.. {
                push_frame(&mut w, i);
                let c = w.committed();
                if c.commits != commits {
                    commits = c.commits;
                    println!(
                        "committed {} {} {}",
                        c.samples,
                        c.frames,
                        c.t_last_s.unwrap_or(-1.0)
                    );
                }
                if i % 10 == 9 {
                    println!("pushed {}", i);
                    let due = Duration::from_secs_f64((i + 1) as f64 * 0.01);
                    if let Some(d) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(d);
                    }
                }
            }
        }
        "bulk" => {
            let side = if args[2] == "left" {
                Side::Left
            } else {
                Side::Right
            };
            let frames: u64 = args[3].parse().unwrap();
            let mut store = Store::open(path).unwrap();
            let cfg = WriterConfig {
                flush_interval: Duration::from_millis(1),
                ..WriterConfig::default()
            };
            let mut w = store.begin_session_with(&meta(side), cfg).unwrap();
            for i in 0..frames {
                push_frame(&mut w, i);
            }
            println!("id {}", w.id());
            w.finish().unwrap();
            println!("done");
        }
        "hold" => {
            let secs: f64 = args[2].parse().unwrap();
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE; INSERT INTO events (session_id, t_s, event, json) SELECT id, 0, 'x', '{}' FROM sessions LIMIT 0;")
                .unwrap();
            println!("locked");
            std::thread::sleep(Duration::from_secs_f64(secs));
            conn.execute_batch("COMMIT").unwrap();
        }
        other => panic!("unknown child role {other}"),
    }
}

fn spawn(spec: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stretchwatch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("sessions.db")
}

#[test]
fn sigkill_mid_session_keeps_everything_committed() {
    let db = temp_db("crash");
    Store::open(&db).unwrap();
    let mut child = spawn(&format!("live|{}", db.display()));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let (mut last_committed, mut last_pushed) = (None, 0u64);
    while start.elapsed() < Duration::from_millis(2600) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(20)) {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.first() {
                Some(&"committed") => {
                    last_committed = Some((
                        f[1].parse::<u64>().unwrap(),
                        f[2].parse::<u64>().unwrap(),
                        f[3].parse::<f64>().unwrap(),
                    ))
                }
                Some(&"pushed") => last_pushed = f[1].parse().unwrap(),
                _ => {}
            }
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let (c_samples, c_frames, c_t) = last_committed.expect("the child committed before the kill");
    assert!(last_pushed > 150, "child pushed only {last_pushed} frames");

    let store = Store::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let rows = store.list_sessions(&Default::default()).unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].finished);
    let id = rows[0].id;
    let samples = store.samples(id).unwrap();
    let angles = store.angles(id).unwrap();
    assert!(
        samples.len() as u64 >= c_samples,
        "{} < {c_samples}",
        samples.len()
    );
    assert!(angles.len() as u64 >= c_frames);
    let t_stored = angles.last().unwrap().t_s.max(samples.last().unwrap().t_s);
    assert!(t_stored >= c_t - 1e-4, "{t_stored} < {c_t}");
    // At most about a second of data lost: the last pushed frame the parent saw is ≤ 1 s ahead.
    let lost_s = last_pushed as f64 * 0.01 - angles.last().unwrap().t_s;
    assert!(lost_s <= 1.0, "lost {lost_s:.2} s");
    // What is there is exactly what was pushed.
    for (i, a) in angles.iter().enumerate() {
        assert_eq!(*a, {
            let f = frame(i as u64);
            stretchwatch::store::AngleFrame {
                t_s: a.t_s,
                knee_flexion_deg: f.knee_flexion_deg,
                hip_flexion_deg: Some((i as f64 * 0.01) as f32 as f64),
                leg_raise_deg: f.leg_raise_deg,
                pelvic_tilt_deg: None,
                gap: false,
            }
        });
        assert!((a.t_s - i as f64 * 0.01).abs() < 1e-4);
    }
    for (k, s) in samples.iter().enumerate() {
        let want = sample(
            k as u64 / 2,
            if k % 2 == 0 {
                SensorRole::Thigh
            } else {
                SensorRole::Shank
            },
        );
        assert_eq!(s.role, want.role);
        assert!((s.acc_m_s2 - want.acc_m_s2).norm() < 1e-4);
    }
    eprintln!(
        "killed after {last_pushed} frames; stored {} frames, {} samples; lost {lost_s:.2} s",
        angles.len(),
        samples.len()
    );
    let _ = std::fs::remove_dir_all(db.parent().unwrap());
}

#[test]
fn two_writers_on_one_database_both_complete() {
    let db = temp_db("two");
    Store::open(&db).unwrap();
    let frames = 30_000; // 5 min at 100 Hz each
    let mut a = spawn(&format!("bulk|{}|left|{frames}", db.display()));
    let mut b = spawn(&format!("bulk|{}|right|{frames}", db.display()));
    // A reader works while both write (WAL).
    let reader = Store::open(&db).unwrap();
    for _ in 0..20 {
        reader.list_sessions(&Default::default()).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    for c in [&mut a, &mut b] {
        let status = c.wait().unwrap();
        assert!(status.success(), "a writer failed");
    }
    let store = Store::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let rows = store.list_sessions(&Default::default()).unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert!(r.finished);
        assert_eq!(store.angles(r.id).unwrap().len(), frames as usize);
        assert_eq!(store.samples(r.id).unwrap().len(), 2 * frames as usize);
    }
    let _ = std::fs::remove_dir_all(db.parent().unwrap());
}

#[test]
fn a_held_lock_gives_a_one_line_busy_error_or_a_wait() {
    let db = temp_db("busy");
    Store::open(&db).unwrap();
    let mut holder = spawn(&format!("hold|{}|1.5", db.display()));
    let mut out = BufReader::new(holder.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("locked") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "holder exited");
    }
    let mut store = Store::open(&db).unwrap();
    store.set_busy_timeout(Duration::from_millis(200)).unwrap();
    let err = store.begin_session(&meta(Side::Left)).err().expect("busy");
    assert!(matches!(err, StoreError::Busy { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        !msg.contains('\n') && msg.contains("database is busy"),
        "{msg}"
    );
    // With the default timeout the writer waits for the holder and succeeds.
    store
        .set_busy_timeout(stretchwatch::store::BUSY_TIMEOUT)
        .unwrap();
    let t = Instant::now();
    let w = store.begin_session(&meta(Side::Left)).unwrap();
    w.finish().unwrap();
    assert!(t.elapsed() > Duration::from_millis(300));
    holder.wait().unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let _ = std::fs::remove_dir_all(db.parent().unwrap());
}
