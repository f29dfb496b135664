//! Every rate the recording formats accept (10–2000 Hz: a WitMotion streams down to 10 Hz, a
//! Movesense up to 1666 Hz) gives the same stretch: the S2 rep (a 70° hold with a bouncing
//! episode), simulated at 100 and 200 Hz and resampled, must replay to the same static hold,
//! hold angle, knee angle and one bouncing episode as at 100 Hz; so must the 100 Hz recording with
//! its time stamps jittered by ±6 ms (a logger's clock).
//!
//! `cargo test --test rates -- --nocapture` prints each rate's figures.

use std::path::PathBuf;
use std::time::Duration;
use stretchwatch::model::{ImuSample, SensorRole};
use stretchwatch::record::ImuCsvWriter;
use stretchwatch::sim::{self, SimOptions, Variant};

#[path = "common/cli_run.rs"]
mod cli_run;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stretchwatch-rates-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// `samples` (sorted by time, sensors interleaved) linearly interpolated onto a grid at `rate_hz`.
fn resample(samples: &[ImuSample], rate_hz: f64) -> Vec<ImuSample> {
    let mut out = Vec::new();
    for role in [SensorRole::Thigh, SensorRole::Shank] {
        let mine: Vec<&ImuSample> = samples.iter().filter(|s| s.role == role).collect();
        let (t0, t1) = (mine[0].t_s, mine[mine.len() - 1].t_s);
        let mut j = 0;
        for k in 0.. {
            let t = t0 + k as f64 / rate_hz;
            if t > t1 {
                break;
            }
            while mine[j + 1].t_s < t {
                j += 1;
            }
            let (a, b) = (mine[j], mine[j + 1]);
            let f = ((t - a.t_s) / (b.t_s - a.t_s)).clamp(0.0, 1.0);
            out.push(ImuSample {
                t_s: t,
                role,
                acc_m_s2: a.acc_m_s2.lerp(&b.acc_m_s2, f),
                gyr_rad_s: a.gyr_rad_s.lerp(&b.gyr_rad_s, f),
                mag_ut: None,
            });
        }
    }
    out.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    out
}

/// `samples` with each time stamp moved by up to ±`jitter_s` (xorshift from `seed`), back in
/// time order.
fn jitter(mut samples: Vec<ImuSample>, jitter_s: f64, seed: u64) -> Vec<ImuSample> {
    let mut x: u64 = seed;
    let mut last = [f64::NEG_INFINITY; 3];
    for s in &mut samples {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.t_s += jitter_s * ((x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0);
        // Each sensor's stamps still increase (the format requires it), by 0.5 ms at least.
        let l = &mut last[s.role.index()];
        s.t_s = s.t_s.max(*l + 0.0005);
        *l = s.t_s;
    }
    samples.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    samples
}

/// Writes S2 at `rate_hz` (from a simulation at `sim_hz`, time stamps moved by up to
/// ±`jitter_s` from `seed`) and replays it: the JSON events.
fn replay_at(sim_hz: f64, rate_hz: f64, jitter_s: f64, seed: u64) -> Vec<serde_json::Value> {
    let scn = sim::preset("S2").unwrap();
    let out = sim::simulate(&scn, &SimOptions::new(sim_hz, Variant::Realistic, 5));
    let mut header = out.header.clone();
    header.rate_hz = Some(rate_hz);
    let path = tmp(&format!("s2_{rate_hz}_{jitter_s}_{seed}.csv"));
    let mut w = ImuCsvWriter::create(&path, &header).unwrap();
    for s in &jitter(resample(&out.samples, rate_hz), jitter_s, seed) {
        w.write_exact(s).unwrap();
    }
    w.flush().unwrap();
    let r = cli_run::run_for(
        &["replay".as_ref(), "--json".as_ref(), path.as_os_str()],
        &tmp("unused.db"),
        Duration::from_secs(300),
    );
    assert_eq!(r.code, 0, "{rate_hz} Hz: {}", r.stderr);
    r.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_accepted_rate_gives_the_same_stretch() {
    let figures = |events: &[serde_json::Value]| {
        let reps: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "rep").collect();
        assert_eq!(reps.len(), 1, "{events:?}");
        let bounces = events
            .iter()
            .filter(|e| e["event"] == "bouncing" && e["state"] == "on")
            .count();
        (
            reps[0]["static_hold_s"].as_f64().unwrap(),
            reps[0]["hold_angle_deg"].as_f64().unwrap(),
            reps[0]["knee_mean_deg"].as_f64().unwrap(),
            bounces,
        )
    };
    let (hold_ref, angle_ref, knee_ref, _) = figures(&replay_at(100.0, 100.0, 0.0, 1));
    let mut bad = Vec::new();
    // Jitter of ±6 ms (60 % of a sample) may move the knee by a little more than resampling.
    for (sim_hz, rate_hz, jitter_s, seed, knee_tol_deg) in [
        (100.0, 10.0, 0.0, 1, 0.5),
        (100.0, 25.0, 0.0, 1, 0.5),
        (200.0, 400.0, 0.0, 1, 0.5),
        (200.0, 1666.0, 0.0, 1, 0.5),
        (200.0, 2000.0, 0.0, 1, 0.5),
        (100.0, 100.0, 0.006, 1, 0.75),
        (100.0, 100.0, 0.006, 7, 0.75),
        (100.0, 100.0, 0.006, 999, 0.75),
        (100.0, 100.0, 0.006, 12345, 0.75),
    ] {
        let (hold, angle, knee, bounces) = figures(&replay_at(sim_hz, rate_hz, jitter_s, seed));
        let what = format!(
            "{rate_hz} Hz, time stamps ±{:.0} ms (seed {seed})",
            jitter_s * 1000.0
        );
        eprintln!(
            "{what}: static hold {hold:.1} s, hold angle {angle:.1}°, knee {knee:.1}°, {bounces} bouncing episode(s) (100 Hz: {hold_ref:.1} s, {angle_ref:.1}°, {knee_ref:.1}°)"
        );
        if (hold - hold_ref).abs() > 1.0
            || (angle - angle_ref).abs() > 1.0
            || (knee - knee_ref).abs() > knee_tol_deg
            || bounces != 1
        {
            bad.push(format!(
                "{what}: {hold:.1} s, {angle:.1}°, knee {knee:.1}°, {bounces} bouncing"
            ));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}
