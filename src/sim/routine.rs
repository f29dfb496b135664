//! A whole routine in one recording: several scenarios ("pieces") one after the other, each
//! becoming one exercise block with its side and stretch (DESIGN 3.1 multi-block contract).
//!
//! A piece whose calibration swings have a range calibrates (its calibration pair is written to
//! the header, applying to the blocks after it); a piece with `swing_range_deg = 0` only stands
//! for a while before getting into position, as a person does between two stretches of the same
//! leg. Between pieces the sensors stop for 1 s (taken off, moved, put back on).
//!
//! The built-in [`routine_pieces`] is the usual session: left supine ×3, left seated ×2, the
//! sensors moved to the right leg and calibrated again, right supine ×3, right seated ×2.

use super::scenario::{Scenario, SwingPosture};
use super::traj::{knee_rest_cycle, mj_term, raise_hold_release};
use super::{SimOptions, SimOutput, TruthRow, simulate};
use crate::model::{ImuSample, Side, StretchType, TimeWindow};
use crate::record::RecordingHeader;

/// Time after a piece's block to get up and stand, seconds (the next piece starts standing).
pub const GET_UP_S: f64 = 4.0;

/// One piece of the built-in routine: `reps` reps of `stretch` on `side` with a pelvis sensor;
/// `calibrate` says whether the person calibrates first (swings) or just stands a while.
pub fn routine_piece(stretch: StretchType, side: Side, reps: usize, calibrate: bool) -> Scenario {
    let (hold_deg, every_s) = match stretch {
        StretchType::Supine => (70.0, 55.0),
        _ => (120.0, 45.0),
    };
    let name = format!("{}_{}", side.as_str(), stretch.as_str());
    let block_s = 5.0 + every_s * reps as f64;
    let mut s = Scenario::new(&name, stretch, block_s + GET_UP_S);
    // The block ends with the last rest; then the person gets up and stands.
    s.block_markers_s = Some((0.0, block_s));
    match stretch {
        StretchType::Supine => s.psi.push(mj_term(block_s + 0.5, 2.0, 0.0, 90.0)),
        StretchType::Seated => s.theta_h.push(mj_term(block_s + 0.5, 2.0, 0.0, -90.0)),
        StretchType::Standing => {}
    }
    s.side = side;
    s.pelvis_sensor = true;
    if !calibrate {
        s.swing_range_deg = 0.0;
        s.swing_style.posture = SwingPosture::Standing;
    }
    for i in 0..reps {
        let o = every_s * i as f64;
        let (start, release) = (5.0 + o, 41.0 + o);
        // As a scenario file's `[[rep]]`: raise over 4 s, hold, lower over 3 s; seated, the
        // pelvis tilts with the hip (thigh fixed); the knee bends slightly over the rep.
        let primary = raise_hold_release(start, 4.0, hold_deg - base_hip(stretch), release, 3.0);
        if stretch != StretchType::Supine {
            s.phi.extend(primary);
        }
        s.theta_h.extend(primary);
        s.theta_k
            .extend(knee_rest_cycle(start - 1.5, release + 3.0, 8.0));
    }
    s
}

/// Hip flexion of the stretch's rest posture, degrees.
fn base_hip(stretch: StretchType) -> f64 {
    match stretch {
        StretchType::Seated => 90.0,
        _ => 0.0,
    }
}

/// The built-in routine (see the module docs).
pub fn routine_pieces() -> Vec<Scenario> {
    vec![
        routine_piece(StretchType::Supine, Side::Left, 3, true),
        routine_piece(StretchType::Seated, Side::Left, 2, false),
        routine_piece(StretchType::Supine, Side::Right, 3, true),
        routine_piece(StretchType::Seated, Side::Right, 2, false),
    ]
}

/// Where each piece of a simulated routine starts on the recording clock, seconds (read from
/// the `piece_start_s` header entries `simulate_routine` writes).
pub fn piece_starts_s(out: &SimOutput) -> Vec<f64> {
    out.header
        .extra
        .iter()
        .filter(|(k, _)| k == "piece_start_s")
        .filter_map(|(_, v)| v.parse().ok())
        .collect()
}

/// Simulates `pieces` one after the other (each with its own seed: `opts.seed + i`).
pub fn simulate_routine(pieces: &[Scenario], opts: &SimOptions) -> SimOutput {
    let first = pieces.first();
    let mut header = RecordingHeader {
        side: first.map(|p| p.side),
        stretch: first.map(|p| p.stretch),
        ..Default::default()
    };
    let mut samples: Vec<ImuSample> = Vec::new();
    let mut truth: Vec<TruthRow> = Vec::new();
    let mut offset = 0.0;
    for (i, scn) in pieces.iter().enumerate() {
        let opts_i = SimOptions {
            seed: opts.seed.wrapping_add(i as u64),
            ..*opts
        };
        let out = simulate(scn, &opts_i);
        let h = &out.header;
        header.rate_hz = h.rate_hz;
        let at = |t: f64| format!("{}", t + offset);
        let win = |w: TimeWindow| format!("{} {}", at(w.start_s), at(w.end_s));
        header.extra.push(("piece_start_s".into(), at(0.0)));
        if scn.swing_range_deg > 0.0 {
            for (k, w) in [
                ("calibration.static", h.calibration_static),
                ("calibration.functional", h.calibration_functional),
                (
                    "pelvis_calibration.functional",
                    h.pelvis_calibration_functional,
                ),
            ] {
                if let Some(w) = w {
                    header.apply(k, &win(w)).expect("simulated window");
                }
            }
        }
        let last = out.samples.last().map_or(0.0, |s| s.t_s);
        let marker = |label: &str| h.markers.iter().find(|m| m.label == label).map(|m| m.t_s);
        if let (Some(a), Some(b)) = (marker("block.start"), marker("block.end")) {
            let start = format!(
                "{} block.start side={} stretch={}",
                at(a),
                scn.side.as_str(),
                scn.stretch.as_str()
            );
            header.apply("marker", &start).expect("simulated marker");
            let end = format!("{} block.end", at(b.min(last)));
            header.apply("marker", &end).expect("simulated marker");
        }
        samples.extend(out.samples.iter().map(|s| ImuSample {
            t_s: s.t_s + offset,
            ..*s
        }));
        truth.extend(out.truth.iter().map(|r| TruthRow {
            t_s: r.t_s + offset,
            ..*r
        }));
        // The stream goes on without a gap: the next piece starts in the pose this one ends in.
        offset += last + 1.0 / opts.rate_hz;
    }
    header.extra.push(("scenario".into(), "routine".into()));
    header
        .extra
        .push(("variant".into(), opts.variant.to_string()));
    header.extra.push(("seed".into(), opts.seed.to_string()));
    SimOutput {
        header,
        samples,
        truth,
    }
}
