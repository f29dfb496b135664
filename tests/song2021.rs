//! Tracking on a real motor rig (`../shared/datasets/song2021`, MIT): two MPU-6050 IMUs, one fixed
//! ("thigh"), one on a shaft sweeping 0↔180° at up to about 300 °/s, with a shaft encoder as the
//! reference. Each 4-minute excerpt is replayed with its rig profile; the knee error, wrapped to
//! ±180°, is compared with the encoder at every frame. When the shared data is absent the test
//! says so and checks nothing else (it cannot be committed whole: 20 MB).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use stretchwatch::kinematics::wrap_pi;
use stretchwatch::replay::{ReplayOptions, replay_file};

/// (trial, knee RMSE limit in degrees).
const TRIALS: [(&str, f64); 5] = [
    ("pitch_slow", 1.2),
    ("pitch_medium", 1.5),
    ("roll_slow", 1.2),
    ("roll_medium", 1.5),
    ("roll_fast", 3.0),
];

fn dataset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/song2021")
}

/// Encoder angle keyed by time in 10 ms ticks.
fn reference(path: &Path) -> HashMap<i64, f64> {
    let f = std::fs::File::open(path).unwrap();
    let r = BufReader::new(flate2::read::GzDecoder::new(f));
    r.lines()
        .skip(1)
        .map(|l| {
            let l = l.unwrap();
            let (t, k) = l.split_once(',').unwrap();
            let t: f64 = t.parse().unwrap();
            ((t * 100.0).round() as i64, k.parse().unwrap())
        })
        .collect()
}

/// (RMSE, mean error) of the knee against the encoder, degrees.
fn knee_errors(trial: &str) -> (f64, f64) {
    let dir = dataset();
    let truth = reference(&dir.join(format!("song2021_{trial}_4min.ref.csv.gz")));
    let opts = ReplayOptions {
        calibration: Some(dir.join(format!("song2021_{trial}.profile.toml"))),
        ..Default::default()
    };
    let mut err = Vec::new();
    replay_file(
        &dir.join(format!("song2021_{trial}_4min.imu.csv.gz")),
        &opts,
        |a| {
            if let (Some(k), Some(r)) = (
                a.knee_flexion_deg,
                truth.get(&((a.t_s * 100.0).round() as i64)),
            ) {
                err.push(wrap_pi((k - r).to_radians()).to_degrees());
            }
        },
    )
    .unwrap();
    assert!(err.len() > 20_000, "{trial}: only {} frames", err.len());
    let n = err.len() as f64;
    (
        (err.iter().map(|e| e * e).sum::<f64>() / n).sqrt(),
        err.iter().sum::<f64>() / n,
    )
}

#[test]
fn song2021_knee_tracks_the_encoder() {
    if !dataset().join("README.md").exists() {
        eprintln!(
            "song2021: {} not present; nothing to compare",
            dataset().display()
        );
        return;
    }
    let mut over = Vec::new();
    for (trial, limit) in TRIALS {
        let (rmse, mean) = knee_errors(trial);
        eprintln!(
            "song2021 {trial}: knee RMSE {rmse:.2}° (mean error {mean:+.2}°), target ≤ {limit}°"
        );
        if rmse > limit {
            over.push(format!("{trial}: {rmse:.2}° > {limit}°"));
        }
    }
    assert!(over.is_empty(), "{over:#?}");
}
