//! Shared bench inputs: a long simulated session written once to the temp directory.

use std::path::PathBuf;
use stretchwatch::model::StretchType;
use stretchwatch::sim::{self, Scenario, SimOptions, Variant, traj};

/// A supine session of `duration_s` with one 35 s hold every 60 s.
pub fn long_session(duration_s: f64) -> Scenario {
    let mut scn = Scenario::new("bench_long_session", StretchType::Supine, duration_s);
    let mut t = 5.0;
    while t + 50.0 < duration_s {
        scn.theta_h
            .extend(traj::raise_hold_release(t, 4.0, 70.0, t + 39.0, 3.0));
        scn.theta_k
            .extend(traj::knee_rest_cycle(t - 1.5, t + 42.0, 12.0));
        scn.theta_k.push(traj::Term::Const { value_deg: -1.0 });
        t += 60.0;
    }
    scn.theta_k.push(traj::Term::Const { value_deg: 1.0 });
    scn
}

/// Path of a 30-minute, 100 Hz, two-sensor realistic recording, generated on first use.
pub fn thirty_minute_recording() -> PathBuf {
    let path = std::env::temp_dir().join("stretchwatch-bench-30min-100hz.csv");
    if !path.exists() {
        let out = sim::simulate(
            &long_session(1800.0),
            &SimOptions::new(100.0, Variant::Realistic, 7),
        );
        let truth = std::env::temp_dir().join("stretchwatch-bench-30min-100hz.truth.csv");
        sim::write_recording(&out, &path, &truth).expect("write bench recording");
    }
    path
}
