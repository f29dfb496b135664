//! Every rate the recording formats accept (10–2000 Hz: a WitMotion streams down to 10 Hz, a
//! Movesense up to 1666 Hz) gives the same stretch: the S2 rep (a 70° hold with a bouncing
//! episode), simulated at 100 and 200 Hz and resampled, must replay to the same static hold,
//! hold angle and one bouncing episode as at 100 Hz.
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

/// Writes S2 at `rate_hz` (from a simulation at `sim_hz`) and replays it: the JSON events.
fn replay_at(sim_hz: f64, rate_hz: f64) -> Vec<serde_json::Value> {
    let scn = sim::preset("S2").unwrap();
    let out = sim::simulate(&scn, &SimOptions::new(sim_hz, Variant::Realistic, 5));
    let mut header = out.header.clone();
    header.rate_hz = Some(rate_hz);
    let path = tmp(&format!("s2_{rate_hz}.csv"));
    let mut w = ImuCsvWriter::create(&path, &header).unwrap();
    for s in &resample(&out.samples, rate_hz) {
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
            bounces,
        )
    };
    let (hold_ref, angle_ref, _) = figures(&replay_at(100.0, 100.0));
    let mut bad = Vec::new();
    for (sim_hz, rate_hz) in [
        (100.0, 10.0),
        (100.0, 25.0),
        (200.0, 400.0),
        (200.0, 1666.0),
        (200.0, 2000.0),
    ] {
        let (hold, angle, bounces) = figures(&replay_at(sim_hz, rate_hz));
        eprintln!(
            "{rate_hz} Hz: static hold {hold:.1} s, hold angle {angle:.1}°, {bounces} bouncing episode(s) (100 Hz: {hold_ref:.1} s, {angle_ref:.1}°)"
        );
        if (hold - hold_ref).abs() > 1.0 || (angle - angle_ref).abs() > 1.0 || bounces != 1 {
            bad.push(format!(
                "{rate_hz} Hz: {hold:.1} s, {angle:.1}°, {bounces} bouncing"
            ));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}
