//! Simulating a scenario and replaying it: the knee and leg-raise errors against the
//! simulator's truth over the exercise block.

#![allow(dead_code)]

use std::collections::HashMap;
use stretchwatch::replay::{ReplayOptions, ReplaySummary, replay_samples};
use stretchwatch::sim::{self, Scenario, SimOptions};

/// Per-frame errors over the block (knee, leg raise), degrees, and what replay saw.
pub struct BlockErrors {
    pub knee_deg: Vec<f64>,
    pub leg_raise_deg: Vec<f64>,
    pub summary: ReplaySummary,
}

/// Simulates `scn` at `opts`, replays it (calibrating from its own windows) and compares the
/// frames inside the block with the truth at the same instants.
pub fn block_errors(scn: &Scenario, opts: &SimOptions) -> Result<BlockErrors, String> {
    let out = sim::simulate(scn, opts);
    let block = out.header.block_window();
    let rate = opts.rate_hz;
    let truth: HashMap<i64, &sim::TruthRow> = out
        .truth
        .iter()
        .map(|r| ((r.t_s * rate).round() as i64, r))
        .collect();
    let (mut knee_deg, mut leg_raise_deg) = (Vec::new(), Vec::new());
    let summary = replay_samples(&out.header, &out.samples, &ReplayOptions::default(), |a| {
        if !block.contains(a.t_s) {
            return;
        }
        if let Some(gt) = truth.get(&((a.t_s * rate).round() as i64)) {
            knee_deg.push(a.knee_flexion_deg.unwrap_or(f64::NAN) - gt.knee_flexion_deg);
            leg_raise_deg.push(a.leg_raise_deg.unwrap_or(f64::NAN) - gt.leg_raise_deg);
        }
    })
    .map_err(|e| e.to_string())?;
    Ok(BlockErrors {
        knee_deg,
        leg_raise_deg,
        summary,
    })
}

/// Root mean square of `v` (0 for an empty slice).
pub fn rmse(v: &[f64]) -> f64 {
    (v.iter().map(|e| e * e).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

/// A uniform draw in `[lo, hi)`.
pub fn u(rng: &mut rand_chacha::ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    use rand::RngExt;
    lo + (hi - lo) * rng.random::<f64>()
}

/// Draws the randomized suites' common part of a case: thigh and shank sensors on any side of
/// the limb (a quarter turn about the long axis) and ±30° about every axis, a 16 s block with
/// one leg raise to 55–85° and a knee rest cycle up to 15°, a rate of 50–200 Hz, and realistic
/// noise with gyro biases up to ±1.5 °/s (noise seed `seed`).
pub fn randomize_mounting_and_block(
    rng: &mut rand_chacha::ChaCha8Rng,
    scn: &mut Scenario,
    seed: u64,
) -> SimOptions {
    use rand::RngExt;
    for m in scn.mounting_deg.iter_mut().take(2) {
        let side = f64::from(rng.random_range(0..4u8)) * 90.0;
        *m = [
            side + u(rng, -30.0, 30.0),
            u(rng, -30.0, 30.0),
            u(rng, -30.0, 30.0),
        ];
    }
    let hold = u(rng, 55.0, 85.0);
    scn.theta_h = sim::traj::raise_hold_release(2.0, 3.0, hold, 10.0, 3.0).to_vec();
    scn.theta_k = sim::traj::knee_rest_cycle(0.5, 13.0, u(rng, 0.0, 15.0)).to_vec();
    let rate_hz = f64::from(rng.random_range(50..=200u32));
    let mut opts = SimOptions::new(rate_hz, sim::Variant::Realistic, seed);
    opts.gyro_bias_max_deg_s = Some(1.5);
    opts
}
