//! The committed fixtures replay from their files (IMU CSV v1, plain or gzip) and their angles match
//! the ground truth written beside them: knee flexion and leg-raise RMSE ≤ 2.0° over the exercise
//! block, after calibrating from the recording's own header windows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use stretchwatch::replay::{ReplayOptions, replay_file};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Truth rows keyed by time in 0.1 ms ticks: (knee, hip, leg raise).
fn read_truth(path: &Path) -> HashMap<i64, (f64, f64, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "t_s,knee_flexion_deg,hip_flexion_deg,leg_raise_deg,pelvic_tilt_deg"
    );
    lines
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            ((v[0] * 1e4).round() as i64, (v[1], v[2], v[3]))
        })
        .collect()
}

fn check(recording: &str, truth: &str) {
    let truth = read_truth(&fixtures().join(truth));
    let (mut ek, mut er, mut eh) = (Vec::new(), Vec::new(), Vec::new());
    let mut block = None;
    let path = fixtures().join(recording);
    let sum = replay_file(&path, &ReplayOptions::default(), |a| {
        let Some(gt) = truth.get(&((a.t_s * 1e4).round() as i64)) else {
            return;
        };
        ek.push((a.t_s, a.knee_flexion_deg.unwrap() - gt.0));
        er.push((a.t_s, a.leg_raise_deg.unwrap() - gt.2));
        if let Some(h) = a.hip_flexion_deg {
            eh.push((a.t_s, h - gt.1));
        }
    })
    .unwrap();
    block.get_or_insert(sum.header.block_window());
    let block = block.unwrap();
    let rmse = |v: &[(f64, f64)]| {
        let inside: Vec<f64> = v
            .iter()
            .filter(|(t, _)| block.contains(*t))
            .map(|e| e.1)
            .collect();
        assert!(
            inside.len() > 1000,
            "{recording}: only {} frames in the block",
            inside.len()
        );
        (inside.iter().map(|e| e * e).sum::<f64>() / inside.len() as f64).sqrt()
    };
    let (k, r) = (rmse(&ek), rmse(&er));
    let h = (!eh.is_empty()).then(|| rmse(&eh));
    eprintln!("{recording}: knee {k:.2}°, leg raise {r:.2}°, hip {h:?}");
    assert!(k <= 2.0, "{recording}: knee RMSE {k:.2}°");
    assert!(r <= 2.0, "{recording}: leg-raise RMSE {r:.2}°");
    if let Some(h) = h {
        assert!(h <= 2.0, "{recording}: hip RMSE {h:.2}°");
    }
}

#[test]
fn fixtures_match_their_ground_truth() {
    for n in 1..=10 {
        let rec = if n == 9 {
            "s9_100hz.csv.gz".to_string()
        } else {
            format!("s{n}_100hz.csv")
        };
        check(&rec, &format!("s{n}_100hz.truth.csv"));
    }
    for n in 1..=2 {
        check(&format!("s{n}_50hz.csv"), &format!("s{n}_50hz.truth.csv"));
    }
}

#[test]
fn fixture_files_stay_small() {
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            let len = e.metadata().unwrap().len();
            assert!(len < 2_000_000, "{:?} is {len} bytes", e.file_name());
        }
    }
}
