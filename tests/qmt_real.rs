//! Real-data plausibility on the qmt full-body example (no optical ground truth): knee near 0° while
//! standing and 60–90° while sitting, after calibrating from the recording's own windows.

use std::path::Path;
use stretchwatch::replay::{ReplayOptions, replay_file};

fn knee_stats(file: &str) -> (f64, f64, f64) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let mut stand = Vec::new();
    let mut sit = Vec::new();
    let sum = replay_file(&path, &ReplayOptions::default(), |a| {
        let k = a.knee_flexion_deg.unwrap();
        if (40.5..43.5).contains(&a.t_s) {
            stand.push(k);
        }
        if (60.0..75.0).contains(&a.t_s) {
            sit.push(k);
        }
    })
    .unwrap();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let q = sum.profile.unwrap().quality;
    eprintln!(
        "{file}: standing {:.1}°, sitting {:.1}°, quality {q:?}",
        mean(&stand),
        mean(&sit)
    );
    (mean(&stand), mean(&sit), q.score)
}

#[test]
fn qmt_left_knee_is_plausible() {
    let (stand, sit, _) = knee_stats("fixtures/qmt/qmt_stand_sit_walk_left.csv");
    assert!(stand.abs() <= 5.0, "standing knee {stand:.1}°");
    assert!((60.0..=90.0).contains(&sit), "sitting knee {sit:.1}°");
}

#[test]
fn qmt_right_knee_is_plausible() {
    let (stand, sit, _) = knee_stats("fixtures/qmt/qmt_stand_sit_walk_right.csv");
    assert!(stand.abs() <= 5.0, "standing knee {stand:.1}°");
    assert!((60.0..=90.0).contains(&sit), "sitting knee {sit:.1}°");
}
