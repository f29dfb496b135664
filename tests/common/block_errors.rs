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
