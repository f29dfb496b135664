//! A simulated recording's description ([`Scenario`]) and its layout on the recording clock.
//!
//! Every recording starts with the same calibration prefix (form-spec 5.1), then an optional
//! standing prelude (S11's walking), then a 2 s minimum-jerk transition into the exercise posture
//! and 1 s of stillness. Scenario time `t = 0` maps to recording time `T0 = block_offset_s`.
//!
//! | recording time | what happens |
//! |---|---|
//! | 0–5 s | standing still, all angles 0 (`calibration.static`) |
//! | 5–6 s | sit down: θh MJ 0→90 |
//! | 6–18 s | seated knee swings θk = 35 − 35·cos(2π·0.5·(t − 6)) (`calibration.functional`); a [`SwingStyle`] makes them standing (no sit-down), with a lifting or swaying thigh, a wobbling plane or shank axial rotation |
//! | 18–19 s | stand up: θh MJ 90→0 |
//! | 19–27 s | pelvis sensor only: two standing hinges φ = θh = MJ 0→30 (2 s) and back (2 s) |
//! | prelude | standing, scenario-defined θh/θk offsets (e.g. walking) |
//! | +2 s | every angle MJ from its prelude-end value to the scenario's value at t = 0 |
//! | +1 s | still; then the scenario starts at `T0` |
//!
//! So `T0` = 22 s without and 30 s with a pelvis sensor when there is no prelude.

use super::traj::{Term, eval_sum, mj};
use crate::model::{Side, StretchType};

/// End of the standing-still calibration window, seconds.
pub const STATIC_END_S: f64 = 5.0;
/// Start of the seated knee swings, seconds.
pub const SWING_START_S: f64 = 6.0;
/// End of the seated knee swings, seconds.
pub const SWING_END_S: f64 = 18.0;
/// Start of the standing hip hinges (pelvis sensor only), seconds.
pub const HINGE_START_S: f64 = 19.0;
/// End of the standing hip hinges, seconds.
pub const HINGE_END_S: f64 = 27.0;
/// Duration of the transition into the exercise posture, seconds.
pub const TRANSITION_S: f64 = 2.0;
/// Stillness between the transition and scenario start, seconds.
pub const SETTLE_S: f64 = 1.0;
/// Longest recording the simulator accepts, seconds (1 h).
pub const MAX_RECORDING_S: f64 = 3600.0;

/// Standing segment inserted after calibration and before the exercise posture (S11's walking).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prelude {
    /// Length of the prelude, seconds.
    pub duration_s: f64,
    /// Hip-flexion terms in prelude time (offsets from standing, θh = 0).
    pub theta_h: Vec<Term>,
    /// Knee-flexion terms in prelude time.
    pub theta_k: Vec<Term>,
}

/// Posture of the calibration knee swings (form-spec 1.5 step 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SwingPosture {
    /// Sitting on a chair edge: the thigh lies level (hip 90°).
    #[default]
    Seated,
    /// Standing on the other leg holding a support: the thigh hangs near vertical.
    Standing,
}

/// How the calibration knee swings are performed: the procedure variants a real person produces.
///
/// Every movement besides the knee swing is a smooth oscillation faded in and out over the
/// swing window (no velocity steps), so the swings start and end at rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SwingStyle {
    /// Seated or standing.
    pub posture: SwingPosture,
    /// Hip flexion added in phase with each swing (the thigh lifts off the chair), degrees.
    pub thigh_lift_deg: f64,
    /// Sagittal thigh sway amplitude (about the hip's flexion axis), degrees.
    pub sway_sagittal_deg: f64,
    /// Frontal thigh sway amplitude (ab/adduction), degrees.
    pub sway_frontal_deg: f64,
    /// Frequency of the sway, Hz (the frontal sway runs at 0.77 times it).
    pub sway_hz: f64,
    /// Swing-plane wobble: thigh axial rotation amplitude, degrees (the plane turns by it).
    pub wobble_deg: f64,
    /// Shank axial rotation at full swing (grows with knee flexion), degrees.
    pub shank_axial_deg: f64,
}

impl Default for SwingStyle {
    fn default() -> Self {
        SwingStyle {
            posture: SwingPosture::Seated,
            thigh_lift_deg: 0.0,
            sway_sagittal_deg: 0.0,
            sway_frontal_deg: 0.0,
            sway_hz: 0.6,
            wobble_deg: 0.0,
            shank_axial_deg: 0.0,
        }
    }
}

impl SwingStyle {
    /// Checks every field; the message names the field.
    fn validate(&self) -> Result<(), String> {
        for (k, v, max) in [
            ("thigh_lift_deg", self.thigh_lift_deg, 45.0),
            ("sway_sagittal_deg", self.sway_sagittal_deg, 30.0),
            ("sway_frontal_deg", self.sway_frontal_deg, 30.0),
            ("wobble_deg", self.wobble_deg, 30.0),
            ("shank_axial_deg", self.shank_axial_deg, 30.0),
        ] {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                return Err(format!(
                    "calibration_swings.{k}: expected 0..{max} degrees, found {v}"
                ));
            }
        }
        if !(self.sway_hz.is_finite() && (0.05..=3.0).contains(&self.sway_hz)) {
            return Err(format!(
                "calibration_swings.sway_hz: expected 0.05..3 Hz, found {}",
                self.sway_hz
            ));
        }
        Ok(())
    }
}

/// Everything needed to synthesise one recording.
///
/// The term lists are in scenario time and are *offsets from the posture base*: supine ψ = 0,
/// θh = 0; seated ψ = 90, θh = 90; standing ψ = 90, θh = 0. φ and θk have base 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Name written to the `scenario` header key.
    pub name: String,
    /// Stretch type (selects the posture base).
    pub stretch: StretchType,
    /// Stretched side (sign of the lateral sensor offsets).
    pub side: Side,
    /// Whether a pelvis sensor is recorded.
    pub pelvis_sensor: bool,
    /// Length of the scenario after `T0`, seconds.
    pub duration_s: f64,
    /// Thigh length, metres.
    pub thigh_length_m: f64,
    /// Shank length, metres.
    pub shank_length_m: f64,
    /// Per role (thigh, shank, pelvis): sensor-from-segment rotation angles about x, y, z (R_x·R_y·R_z), degrees.
    pub mounting_deg: [[f64; 3]; 3],
    /// Prior-session hold angles, degrees (written as the `history_deg` header key).
    pub history_deg: Vec<f64>,
    /// Posture-angle ψ offset terms.
    pub psi: Vec<Term>,
    /// Pelvic-tilt φ terms.
    pub phi: Vec<Term>,
    /// Hip-flexion θh offset terms.
    pub theta_h: Vec<Term>,
    /// Knee-flexion θk terms.
    pub theta_k: Vec<Term>,
    /// Optional standing prelude before the posture transition.
    pub prelude: Option<Prelude>,
    /// Manual `block.start`/`block.end` markers in scenario time, overriding `0`/`duration_s`.
    pub block_markers_s: Option<(f64, f64)>,
    /// Open intervals of scenario time in which every sensor's samples are dropped.
    pub gaps_s: Vec<(f64, f64)>,
    /// Knee range of the calibration swings, degrees (protocol: 70; small values make the
    /// calibration reject the recording).
    pub swing_range_deg: f64,
    /// How the calibration swings are done (seated and still by default).
    pub swing_style: SwingStyle,
}

/// Default mounting: thigh R_x(15)·R_y(5), shank R_x(−10)·R_z(3), pelvis R_z(10).
pub const DEFAULT_MOUNTING_DEG: [[f64; 3]; 3] =
    [[15.0, 5.0, 0.0], [-10.0, 0.0, 3.0], [0.0, 0.0, 10.0]];
/// Default thigh length, metres.
pub const DEFAULT_THIGH_LENGTH_M: f64 = 0.42;
/// Default shank length, metres.
pub const DEFAULT_SHANK_LENGTH_M: f64 = 0.42;

/// Joint angles at one instant, degrees.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pose {
    /// Posture angle ψ (0 supine, 90 upright).
    pub psi_deg: f64,
    /// Pelvic tilt φ.
    pub phi_deg: f64,
    /// Hip flexion θh.
    pub hip_deg: f64,
    /// Knee flexion θk.
    pub knee_deg: f64,
    /// Thigh ab/adduction about its anterior axis, degrees (calibration swings only).
    pub thigh_frontal_deg: f64,
    /// Thigh axial rotation about its long axis, degrees (calibration swings only).
    pub thigh_axial_deg: f64,
    /// Shank axial rotation about its long axis, degrees (calibration swings only).
    pub shank_axial_deg: f64,
}

impl Pose {
    /// Total R_y angles (pelvis, thigh, shank), degrees.
    pub fn segment_angles_deg(&self) -> [f64; 3] {
        let pelvis = self.psi_deg + self.phi_deg;
        let thigh = pelvis - self.hip_deg;
        [pelvis, thigh, thigh + self.knee_deg]
    }

    fn upright() -> Pose {
        Pose {
            psi_deg: 90.0,
            ..Pose::default()
        }
    }
}

/// Where the parts of a scenario sit on the recording clock, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// End of the last calibration window (19 or 27).
    pub calibration_end_s: f64,
    /// End of the prelude (= start of the posture transition).
    pub prelude_end_s: f64,
    /// Recording time of scenario time 0 (`T0`).
    pub block_offset_s: f64,
    /// End of the recording (`T0 + duration_s`).
    pub end_s: f64,
}

impl Scenario {
    /// A still supine scenario with default geometry and no movement, as a starting point.
    pub fn new(name: &str, stretch: StretchType, duration_s: f64) -> Scenario {
        Scenario {
            name: name.to_string(),
            stretch,
            side: Side::Left,
            pelvis_sensor: false,
            duration_s,
            thigh_length_m: DEFAULT_THIGH_LENGTH_M,
            shank_length_m: DEFAULT_SHANK_LENGTH_M,
            mounting_deg: DEFAULT_MOUNTING_DEG,
            history_deg: Vec::new(),
            psi: Vec::new(),
            phi: Vec::new(),
            theta_h: Vec::new(),
            theta_k: Vec::new(),
            prelude: None,
            block_markers_s: None,
            gaps_s: Vec::new(),
            swing_range_deg: 70.0,
            swing_style: SwingStyle::default(),
        }
    }

    /// Posture base (ψ, θh) of the stretch type, degrees.
    pub fn posture_base_deg(&self) -> (f64, f64) {
        match self.stretch {
            StretchType::Supine => (0.0, 0.0),
            StretchType::Seated => (90.0, 90.0),
            StretchType::Standing => (90.0, 0.0),
        }
    }

    /// Placement of calibration, prelude and scenario on the recording clock.
    pub fn layout(&self) -> Layout {
        let calibration_end_s = if self.pelvis_sensor {
            HINGE_END_S
        } else {
            HINGE_START_S
        };
        let prelude_s = self.prelude.as_ref().map_or(0.0, |p| p.duration_s.max(0.0));
        let prelude_end_s = calibration_end_s + prelude_s;
        let block_offset_s = prelude_end_s + TRANSITION_S + SETTLE_S;
        Layout {
            calibration_end_s,
            prelude_end_s,
            block_offset_s,
            end_s: block_offset_s + self.duration_s.max(0.0),
        }
    }

    /// Absolute pose at scenario time `t_s` (may be negative; terms decide).
    pub fn scenario_pose(&self, t_s: f64) -> Pose {
        let (psi0, hip0) = self.posture_base_deg();
        Pose {
            psi_deg: psi0 + eval_sum(&self.psi, t_s),
            phi_deg: eval_sum(&self.phi, t_s),
            hip_deg: hip0 + eval_sum(&self.theta_h, t_s),
            knee_deg: eval_sum(&self.theta_k, t_s),
            ..Pose::default()
        }
    }

    fn prelude_pose(&self, t_s: f64) -> Pose {
        let mut p = Pose::upright();
        if let Some(pre) = &self.prelude {
            p.hip_deg = eval_sum(&pre.theta_h, t_s);
            p.knee_deg = eval_sum(&pre.theta_k, t_s);
        }
        p
    }

    /// Ground-truth pose at recording time `t_s`, given this scenario's `layout`.
    pub fn pose_at(&self, layout: &Layout, t_s: f64) -> Pose {
        if t_s >= layout.block_offset_s {
            return self.scenario_pose(t_s - layout.block_offset_s);
        }
        if t_s >= layout.prelude_end_s {
            let from = self.prelude_pose(layout.prelude_end_s - layout.calibration_end_s);
            let to = self.scenario_pose(0.0);
            let f = |a: f64, b: f64| mj(t_s, layout.prelude_end_s, TRANSITION_S, a, b);
            return Pose {
                psi_deg: f(from.psi_deg, to.psi_deg),
                phi_deg: f(from.phi_deg, to.phi_deg),
                hip_deg: f(from.hip_deg, to.hip_deg),
                knee_deg: f(from.knee_deg, to.knee_deg),
                ..Pose::default()
            };
        }
        if t_s >= layout.calibration_end_s {
            return self.prelude_pose(t_s - layout.calibration_end_s);
        }
        calibration_pose(t_s, self.swing_range_deg, &self.swing_style)
    }

    /// Checks every field; the message names the field and what was expected.
    pub fn validate(&self) -> Result<(), String> {
        let pos_fin = |v: f64| v.is_finite() && v > 0.0;
        if !pos_fin(self.duration_s) {
            return Err(format!(
                "duration_s: expected a positive number of seconds, found {}",
                self.duration_s
            ));
        }
        for (key, v) in [
            ("thigh_length_m", self.thigh_length_m),
            ("shank_length_m", self.shank_length_m),
        ] {
            if !(v.is_finite() && (0.05..=2.0).contains(&v)) {
                return Err(format!(
                    "{key}: expected a length in 0.05..2.0 m, found {v}"
                ));
            }
        }
        for (role, m) in ["thigh", "shank", "pelvis"].iter().zip(&self.mounting_deg) {
            if m.iter().any(|a| !a.is_finite()) {
                return Err(format!(
                    "mounting_deg.{role}: expected three finite angles in degrees"
                ));
            }
        }
        if self.history_deg.iter().any(|h| !h.is_finite()) {
            return Err("history_deg: expected finite angles in degrees".into());
        }
        for (key, terms) in [
            ("psi", &self.psi),
            ("phi", &self.phi),
            ("theta_h", &self.theta_h),
            ("theta_k", &self.theta_k),
        ] {
            check_terms(key, terms)?;
        }
        if let Some(pre) = &self.prelude {
            if !(pre.duration_s.is_finite() && pre.duration_s >= 0.0) {
                return Err(format!(
                    "prelude.duration_s: expected a non-negative number of seconds, found {}",
                    pre.duration_s
                ));
            }
            check_terms("prelude.theta_h", &pre.theta_h)?;
            check_terms("prelude.theta_k", &pre.theta_k)?;
        }
        self.swing_style.validate()?;
        if let Some((a, b)) = self.block_markers_s
            && !(a.is_finite() && b.is_finite() && b > a)
        {
            return Err(format!(
                "block_markers_s: expected [start, end] with end after start, found [{a}, {b}]"
            ));
        }
        for (i, &(a, b)) in self.gaps_s.iter().enumerate() {
            if !(a.is_finite() && b.is_finite() && b > a) {
                return Err(format!(
                    "gaps_s[{i}]: expected [start, end] with end after start, found [{a}, {b}]"
                ));
            }
        }
        let end = self.layout().end_s;
        if end > MAX_RECORDING_S {
            return Err(format!(
                "duration_s: recording would last {end} s, more than the {MAX_RECORDING_S} s limit"
            ));
        }
        Ok(())
    }
}

fn check_terms(key: &str, terms: &[Term]) -> Result<(), String> {
    match terms.iter().position(|t| !t.is_valid()) {
        Some(i) => Err(format!(
            "{key}[{i}]: expected finite parameters and a non-negative duration"
        )),
        None => Ok(()),
    }
}

/// The calibration prefix pose at recording time `t_s < 27` (hinges only matter with a pelvis sensor).
fn calibration_pose(t_s: f64, swing_range_deg: f64, style: &SwingStyle) -> Pose {
    let mut p = Pose::upright();
    if t_s < STATIC_END_S {
        return p;
    }
    if t_s < HINGE_START_S {
        let standing = style.posture == SwingPosture::Standing;
        if !standing {
            p.hip_deg =
                mj(t_s, STATIC_END_S, 1.0, 0.0, 90.0) + mj(t_s, SWING_END_S, 1.0, 90.0, 0.0) - 90.0;
        }
        if (SWING_START_S..SWING_END_S).contains(&t_s) {
            let tau = std::f64::consts::TAU;
            let x = tau * 0.5 * (t_s - SWING_START_S);
            let swing = 0.5 * (1.0 - x.cos());
            p.knee_deg = swing_range_deg * swing;
            // Fade the extra movements in and out so the swings start and end at rest.
            let env = (std::f64::consts::PI * (t_s - SWING_START_S)
                / (SWING_END_S - SWING_START_S))
                .sin()
                .powi(2);
            let u = t_s - SWING_START_S;
            p.hip_deg += style.thigh_lift_deg * swing
                + env * style.sway_sagittal_deg * (tau * style.sway_hz * u).sin();
            p.thigh_frontal_deg =
                env * style.sway_frontal_deg * (tau * 0.77 * style.sway_hz * u + 1.0).sin();
            p.thigh_axial_deg = env * style.wobble_deg * (tau * 0.23 * u + 0.5).sin();
            p.shank_axial_deg = style.shank_axial_deg * swing;
        }
        return p;
    }
    // Two hinges of 4 s each: MJ 0→30 over 2 s, back over 2 s; the thigh stays vertical (θh = φ).
    let h = HINGE_START_S;
    let phi = mj(t_s, h, 2.0, 0.0, 30.0) + mj(t_s, h + 2.0, 2.0, 30.0, 0.0) - 30.0
        + mj(t_s, h + 4.0, 2.0, 0.0, 30.0)
        + mj(t_s, h + 6.0, 2.0, 30.0, 0.0)
        - 30.0;
    p.phi_deg = phi;
    p.hip_deg = phi;
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::traj::raise_hold_release;

    #[test]
    fn layout_offsets() {
        let mut s = Scenario::new("x", StretchType::Supine, 52.0);
        assert_eq!(s.layout().block_offset_s, 22.0);
        s.pelvis_sensor = true;
        assert_eq!(s.layout().block_offset_s, 30.0);
        assert_eq!(s.layout().end_s, 82.0);
    }

    #[test]
    fn transition_is_continuous() {
        let mut s = Scenario::new("x", StretchType::Seated, 10.0);
        s.theta_k = vec![Term::Const { value_deg: 8.0 }];
        s.theta_h = raise_hold_release(5.0, 4.0, 30.0, 8.0, 1.0).to_vec();
        let l = s.layout();
        let before = s.pose_at(&l, l.prelude_end_s - 1e-9);
        let start = s.pose_at(&l, l.prelude_end_s);
        assert!((before.hip_deg - start.hip_deg).abs() < 1e-6);
        let settled = s.pose_at(&l, l.block_offset_s - 0.5);
        assert_eq!(settled, s.scenario_pose(0.0));
        assert_eq!(settled.hip_deg, 90.0);
        assert_eq!(settled.knee_deg, 8.0);
        assert_eq!(settled.psi_deg, 90.0);
    }

    #[test]
    fn calibration_prefix_values() {
        assert_eq!(
            calibration_pose(2.0, 70.0, &SwingStyle::default()),
            Pose::upright()
        );
        let swing = calibration_pose(7.0, 70.0, &SwingStyle::default());
        assert_eq!(swing.hip_deg, 90.0);
        assert!((swing.knee_deg - 70.0).abs() < 1e-9);
        assert!((calibration_pose(21.0, 70.0, &SwingStyle::default()).phi_deg - 30.0).abs() < 1e-9);
        assert!(
            calibration_pose(26.999, 70.0, &SwingStyle::default())
                .phi_deg
                .abs()
                < 1e-6
        );
    }
}
