//! The guided calibration a live session walks the person through (form-spec 1.5), and the
//! automatic start and end of exercise blocks from posture.
//!
//! The step times are live mode's own protocol; the simulator's scenarios follow the same
//! protocol so that `live --simulate` calibrates like a person would.

use crate::form::Phase;
use crate::model::TimeWindow;
use crate::model::{JointAngles, StretchType};
use crate::session::CalibrationWindows;

/// Standing still: from the start to this many seconds.
pub const STATIC_END_S: f64 = 5.0;
/// Knee swings start.
pub const SWING_START_S: f64 = 6.0;
/// Knee swings end.
pub const SWING_END_S: f64 = 18.0;
/// Hip hinges start (pelvis sensor).
pub const HINGE_START_S: f64 = 19.0;
/// Hip hinges end.
pub const HINGE_END_S: f64 = 27.0;

/// The calibration windows of a guided calibration starting at `t0_s`.
pub fn windows(t0_s: f64, pelvis: bool) -> CalibrationWindows {
    let w = |a: f64, b: f64| TimeWindow {
        start_s: round_ms(t0_s + a),
        end_s: round_ms(t0_s + b),
    };
    CalibrationWindows {
        static_w: w(0.0, STATIC_END_S),
        functional_w: w(SWING_START_S, SWING_END_S),
        pelvis_w: pelvis.then(|| w(HINGE_START_S, HINGE_END_S)),
    }
}

fn round_ms(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

/// What to do now during a guided calibration, and the seconds left in this step.
pub fn instruction(w: &CalibrationWindows, t_s: f64) -> (&'static str, f64) {
    let t0 = w.static_w.start_s;
    let rel = t_s - t0;
    let steps: [(f64, &'static str); 5] = [
        (
            STATIC_END_S,
            "Stand upright and still, feet hip-width apart, weight on both feet, knees straight",
        ),
        (
            SWING_START_S,
            "Get ready to swing: sit on the edge of a chair, or stand on the other leg holding a support",
        ),
        (
            SWING_END_S,
            "Swing the lower leg back and forth, bending the knee to about 90° and straightening it, 5 to 10 times at varied speed",
        ),
        (HINGE_START_S, "Stand upright and still again"),
        (
            HINGE_END_S,
            "Hinge forward at the hips about 30° and back up, twice, slowly, knees straight",
        ),
    ];
    let pelvis = w.pelvis_w.is_some();
    steps
        .iter()
        .copied()
        .filter(|(e, _)| pelvis || *e <= SWING_END_S)
        .find(|(e, _)| rel < *e)
        .map_or(
            (
                "Calibrating… then lie down (supine) or sit (seated) and rest, leg straight",
                0.0,
            ),
            |(e, text)| (text, (e - rel).max(0.0)),
        )
}

/// Rest posture held this long starts a block (form-spec 1.5 step 5 checks 3 s of it).
pub const REST_TO_START_S: f64 = 2.0;
/// Standing up held this long ends a lying or sitting block.
pub const STAND_TO_END_S: f64 = 1.5;
/// Resting this long in a block (the phase machine at rest, or no movement where phases are
/// not automatic) ends it.
pub const LONG_REST_S: f64 = 90.0;

/// What the posture says about blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posture {
    /// In the rest posture of the stretch long enough: a block can start.
    ReadyToStart,
    /// Stood up, or rested long enough: the block can end.
    Done,
}

/// Watches frames for the rest posture (block start) and for standing up or a long rest (block end).
#[derive(Debug, Clone, Default)]
pub struct BlockDetector {
    rest_since: Option<f64>,
    stand_since: Option<f64>,
    idle_since: Option<f64>,
}

impl BlockDetector {
    /// Starts over (after a block edge).
    pub fn reset(&mut self) {
        *self = BlockDetector::default();
    }

    /// Feeds one frame with its phase; `in_block` says whether a block is open.
    pub fn push(
        &mut self,
        a: &JointAngles,
        phase: Option<Phase>,
        stretch: StretchType,
        in_block: bool,
    ) -> Option<Posture> {
        let (Some(raise), Some(knee)) = (a.leg_raise_deg, a.knee_flexion_deg) else {
            return None;
        };
        let rate = a.leg_raise_rate_deg_s.unwrap_or(0.0).abs();
        let still = rate < 5.0 && a.knee_rate_deg_s.unwrap_or(0.0).abs() < 10.0;
        let standing = raise < -60.0;
        // Lying on the back or sitting with the legs out: the thigh lies flat, the knee straight.
        let rest = match stretch {
            StretchType::Standing => standing && knee.abs() < 15.0,
            _ => raise.abs() < 12.0 && knee.abs() < 15.0,
        } && still;
        let since = |slot: &mut Option<f64>, on: bool| {
            if on {
                a.t_s - *slot.get_or_insert(a.t_s)
            } else {
                *slot = None;
                0.0
            }
        };
        let rest_s = since(&mut self.rest_since, rest);
        let stand_s = since(&mut self.stand_since, standing);
        // Holding still in the stretch is not resting: only the rest phase (or stillness where
        // the phases are not automatic) counts.
        let idle = match phase {
            Some(p) => p == Phase::Rest,
            None => still,
        };
        let idle_s = since(&mut self.idle_since, idle);
        if !in_block {
            return (rest_s >= REST_TO_START_S).then_some(Posture::ReadyToStart);
        }
        let stood_up = stretch != StretchType::Standing && stand_s >= STAND_TO_END_S;
        (stood_up || idle_s >= LONG_REST_S).then_some(Posture::Done)
    }
}

/// Standing still: every leg sensor's gyro below this, rad/s (a person standing sways 1–3 °/s).
const STILL_GYR_RAD_S: f64 = 0.15;
/// Standing still: specific force within this of gravity, m/s².
const STILL_ACC_M_S2: f64 = 1.0;
/// Standing still this long counts as the first step of the procedure, seconds.
const PROCEDURE_STILL_S: f64 = 3.0;
/// The standing window is the last this many seconds of the stillness.
const PROCEDURE_STATIC_MAX_S: f64 = 5.0;
/// The first swing must come within this after the stillness, seconds.
const PROCEDURE_SWING_WAIT_S: f64 = 4.0;
/// A swing peak: the shank turns faster than this, rad/s (about 45 °/s), ...
const SWING_PEAK_RAD_S: f64 = 0.8;
/// ... at least this many times faster than the thigh (the knee, not the whole leg, moves) ...
const SWING_THIGH_RATIO: f64 = 2.0;
/// ... after slowing below this at the swing's turn, rad/s.
const SWING_REARM_RAD_S: f64 = 0.3;
/// Fewest swing peaks (each half swing is one): three swings back and forth.
const MIN_SWING_PEAKS: u32 = 6;
/// No peak for this long ends the swings, seconds.
const SWINGS_END_S: f64 = 2.5;
/// The swing window reaches this far beyond the first and last peak, seconds.
const SWING_MARGIN_S: f64 = 0.6;
/// Before the first swing the thigh turns faster than this only while the person sits down (or
/// shifts), rad/s (about 30 °/s); the swing window starts after it, so that no sitting down is
/// taken for the knee's hinge.
const THIGH_SETTLED_RAD_S: f64 = 0.5;
/// Time after the thigh settles before the swing window may start, seconds.
const THIGH_SETTLE_MARGIN_S: f64 = 0.2;

/// Recognises the calibration procedure done again without a key: standing still, then swinging
/// the lower leg, as at the start of the session (typically after moving the sensors to the
/// other leg). It reads the raw gyros and accelerometers, so it does not depend on the
/// calibration it may replace; once the swings are over it gives the windows they took.
#[derive(Debug, Clone, Default)]
pub struct ProcedureDetector {
    gyr_rad_s: [f64; 2],
    acc_ok: [bool; 2],
    still_since: Option<f64>,
    standing: Option<TimeWindow>,
    peaks: u32,
    first_peak_s: f64,
    last_peak_s: f64,
    armed: bool,
    /// Last time before the first swing that the thigh turned fast (sitting down), s.
    thigh_moved_s: f64,
}

impl ProcedureDetector {
    /// Starts over (a block started, or the windows were used).
    pub fn reset(&mut self) {
        *self = ProcedureDetector::default();
    }

    /// Feeds one sample; returns the procedure's windows when its swings have just ended.
    pub fn push(&mut self, s: &crate::model::ImuSample) -> Option<CalibrationWindows> {
        use crate::model::SensorRole;
        let i = match s.role {
            SensorRole::Thigh => 0,
            SensorRole::Shank => 1,
            SensorRole::Pelvis => return None,
        };
        self.gyr_rad_s[i] = s.gyr_rad_s.norm();
        self.acc_ok[i] = (s.acc_m_s2.norm() - crate::limits::G_M_S2).abs() < STILL_ACC_M_S2;
        if s.role != SensorRole::Shank {
            return None;
        }
        let t = s.t_s;
        let still = self.gyr_rad_s.iter().all(|g| *g < STILL_GYR_RAD_S) && self.acc_ok == [true; 2];
        if still {
            self.still_since.get_or_insert(t);
        } else if let Some(a) = self.still_since.take()
            && t - a >= PROCEDURE_STILL_S
        {
            self.standing = Some(TimeWindow {
                start_s: a.max(t - PROCEDURE_STATIC_MAX_S),
                end_s: t,
            });
            self.peaks = 0;
        }
        let standing = self.standing?;
        let [thigh, shank] = self.gyr_rad_s;
        if shank < SWING_REARM_RAD_S {
            self.armed = true;
        }
        if self.peaks == 0 {
            self.armed |= self.still_since.is_some();
            if thigh > THIGH_SETTLED_RAD_S {
                self.thigh_moved_s = t;
            }
            if t - standing.end_s > PROCEDURE_SWING_WAIT_S {
                self.standing = None;
                return None;
            }
        }
        if self.armed && shank > SWING_PEAK_RAD_S && shank > SWING_THIGH_RATIO * thigh {
            self.armed = false;
            if self.peaks == 0 {
                self.first_peak_s = t;
            }
            self.peaks += 1;
            self.last_peak_s = t;
        }
        if self.peaks > 0 && t - self.last_peak_s > SWINGS_END_S {
            let found = (self.peaks >= MIN_SWING_PEAKS).then(|| CalibrationWindows {
                static_w: standing,
                functional_w: TimeWindow {
                    start_s: round_ms(
                        (self.first_peak_s - SWING_MARGIN_S)
                            .max(standing.end_s)
                            .max(self.thigh_moved_s + THIGH_SETTLE_MARGIN_S),
                    ),
                    end_s: round_ms(self.last_peak_s + SWING_MARGIN_S),
                },
                pelvis_w: None,
            });
            self.reset();
            return found.map(|mut w| {
                w.static_w = TimeWindow {
                    start_s: round_ms(w.static_w.start_s),
                    end_s: round_ms(w.static_w.end_s),
                };
                w
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim;

    /// The detector on the routine's samples: the right leg's calibration (standing, swings) is
    /// found with windows close to the simulator's; the left seated piece (standing a while, no
    /// swings) and the blocks give nothing.
    #[test]
    fn recognises_the_procedure_in_the_routine() {
        let out = sim::routine::simulate_routine(
            &sim::routine::routine_pieces(),
            &sim::SimOptions::new(100.0, sim::Variant::Realistic, 42),
        );
        let starts = sim::routine::piece_starts_s(&out);
        let mut d = ProcedureDetector::default();
        let mut found = Vec::new();
        for s in &out.samples {
            if let Some(w) = d.push(s) {
                found.push(w);
            }
        }
        // Each calibrating piece (the first and the third) once, nothing else.
        assert_eq!(found.len(), 2, "{found:?}");
        for (w, start) in found.iter().zip([starts[0], starts[2]]) {
            let rel = |t: f64| t - start;
            assert!(
                rel(w.static_w.start_s) >= -0.1 && rel(w.static_w.end_s) <= 5.6,
                "{w:?}"
            );
            assert!(w.static_w.duration_s() >= 3.0, "{w:?}");
            assert!((rel(w.functional_w.start_s) - 6.0).abs() < 0.7, "{w:?}");
            assert!((rel(w.functional_w.end_s) - 18.0).abs() < 0.7, "{w:?}");
        }
    }

    /// Seated swings after standing: the person sits down between the two (S2: 5–6 s). The swing
    /// window starts once the thigh has settled, not half-way through sitting down.
    #[test]
    fn the_swing_window_leaves_out_sitting_down() {
        let scn = sim::preset("S2").unwrap();
        let out = sim::simulate(
            &scn,
            &sim::SimOptions::new(100.0, sim::Variant::Realistic, 5),
        );
        let mut d = ProcedureDetector::default();
        let w = out
            .samples
            .iter()
            .find_map(|s| d.push(s))
            .expect("the procedure is recognised");
        // The thigh's last fast sample before the swings.
        let settled = out
            .samples
            .iter()
            .filter(|s| s.role == crate::model::SensorRole::Thigh && s.t_s < 7.0)
            .filter(|s| s.gyr_rad_s.norm() > THIGH_SETTLED_RAD_S)
            .map(|s| s.t_s)
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(settled > 5.5, "S2 sits down around 5–6 s: {settled}");
        assert!(w.functional_w.start_s > settled, "{w:?}, settled {settled}");
        assert!((w.functional_w.end_s - 18.0).abs() < 0.7, "{w:?}");
    }
}
