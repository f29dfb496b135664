//! Joint angles from calibrated segment orientations (form-spec 1.1).
//!
//! Segment frames follow form-spec 5.1: x distal along the long axis, z anterior, y = z × x (the
//! medio-lateral hinge axis, knee flexion positive about +y). Each sensor's 6D orientation has its own
//! drifting heading; the hinge constraint (both segments share the hinge axis in the world) gives the
//! relative heading without a magnetometer (Laidig et al. 2017 idea, `qmt.headingCorrection`).

use crate::calibration::{CalibrationProfile, THIGH_AXIS_FROM_GRAVITY, THIGH_AXIS_FROM_SWAY};
pub use crate::geometry::{hinge_angle_rad, wrap_pi};
use crate::model::{SensorRole, StretchType};
use nalgebra::{Matrix3, UnitQuaternion, Vector3};

/// Settings of the joint-angle stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KinematicsParams {
    /// Time constant of the relative-heading filter, seconds.
    pub heading_tau_s: f64,
    /// Minimum horizontal share of both hinge axes for a heading update (axis not near vertical).
    pub min_horizontal: f64,
}

impl Default for KinematicsParams {
    fn default() -> Self {
        KinematicsParams {
            heading_tau_s: 2.0,
            min_horizontal: 0.5,
        }
    }
}

/// Low-pass filter of the heading offset δ that maps `b`'s world onto `a`'s world about the vertical,
/// kept as the unit complex number (cos δ, sin δ) so the per-frame update needs no trigonometry.
#[derive(Debug, Clone, Copy)]
pub struct HingeHeading {
    /// Filtered (cos δ, sin δ), not normalised between updates.
    cs: Option<(f64, f64)>,
}

impl HingeHeading {
    /// A filter with no estimate yet.
    pub fn new() -> Self {
        HingeHeading { cs: None }
    }

    /// Updates from the two world hinge axes and returns the unit (cos δ, sin δ).
    pub fn update(
        &mut self,
        axis_a_world: &Vector3<f64>,
        axis_b_world: &Vector3<f64>,
        dt_s: f64,
        params: &KinematicsParams,
    ) -> (f64, f64) {
        let ha = axis_a_world.xy().norm();
        let hb = axis_b_world.xy().norm();
        if ha >= params.min_horizontal && hb >= params.min_horizontal {
            // e^{i(α−β)} from the two horizontal directions.
            let (ax, ay) = (axis_a_world.x / ha, axis_a_world.y / ha);
            let (bx, by) = (axis_b_world.x / hb, axis_b_world.y / hb);
            let (c, s) = (ax * bx + ay * by, ay * bx - ax * by);
            self.cs = Some(match self.cs {
                None => (c, s),
                Some((c0, s0)) => {
                    let k = (dt_s / params.heading_tau_s).clamp(0.0, 1.0);
                    (c0 + k * (c - c0), s0 + k * (s - s0))
                }
            });
        }
        match self.cs {
            Some((c, s)) => {
                let n = (c * c + s * s).sqrt();
                if n > 1e-12 {
                    (c / n, s / n)
                } else {
                    (1.0, 0.0)
                }
            }
            None => (1.0, 0.0),
        }
    }

    /// The current estimate in radians, if any.
    pub fn delta_rad(&self) -> Option<f64> {
        self.cs.map(|(c, s)| s.atan2(c))
    }
}

impl Default for HingeHeading {
    fn default() -> Self {
        Self::new()
    }
}

/// Signed sagittal angle β of a segment, with `R = R_z(h)·R_y(β)`: heading-free and drift-free.
pub fn sagittal_pitch_rad(world_from_segment: &Matrix3<f64>) -> f64 {
    let x = world_from_segment.column(0);
    let z = world_from_segment.column(2);
    (-x.z).atan2(z.z)
}

/// Long-axis elevation above horizontal in the segment's sagittal plane (leg-raise angle for the
/// thigh): −β. Unlike `asin(x·ẑ)` it keeps its slope through vertical (SLR past 90° reads above 90°),
/// and a small ab/adduction error (e.g. an unobservable lateral accelerometer bias) leaves it
/// unchanged to first order, where `asin` loses the full error near vertical.
pub fn elevation_rad(world_from_segment: &Matrix3<f64>) -> f64 {
    wrap_pi(-sagittal_pitch_rad(world_from_segment))
}

/// Per-frame sensor orientations handed to the joint-angle stage (`world_from_sensor`).
#[derive(Debug, Clone, Copy)]
pub struct SegmentInputs {
    /// Thigh sensor orientation.
    pub thigh: UnitQuaternion<f64>,
    /// Shank sensor orientation.
    pub shank: UnitQuaternion<f64>,
    /// Pelvis sensor orientation, if the sensor is worn.
    pub pelvis: Option<UnitQuaternion<f64>>,
    /// Thigh angular velocity in the thigh sensor's world frame, bias removed.
    pub w_thigh_rad_s: Vector3<f64>,
    /// Shank angular velocity in the shank sensor's world frame, bias removed.
    pub w_shank_rad_s: Vector3<f64>,
    /// Pelvis angular velocity in the pelvis sensor's world frame, bias removed.
    pub w_pelvis_rad_s: Option<Vector3<f64>>,
}

/// Angles of one frame in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AnglesDeg {
    /// Knee flexion from the hinge model.
    pub knee_flexion_deg: f64,
    /// Knee flexion from the sagittal inclination difference (cross-check).
    pub knee_sagittal_deg: f64,
    /// Thigh elevation above horizontal.
    pub leg_raise_deg: f64,
    /// Hip flexion from pelvis and thigh, when a calibrated pelvis sensor is present.
    pub hip_flexion_deg: Option<f64>,
    /// Pelvic tilt (anterior positive) relative to the posture's reference (ψ = 0° supine, 90° upright).
    pub pelvic_tilt_deg: Option<f64>,
    /// Knee flexion rate from the gyros projected on the hinge axis.
    pub knee_rate_deg_s: f64,
    /// Leg-raise rate from the thigh gyro about its medio-lateral axis.
    pub leg_raise_rate_deg_s: f64,
    /// Hip flexion rate (pelvis sensor only).
    pub hip_rate_deg_s: Option<f64>,
}

/// Thigh rotation rate above which a frame counts towards the axis refinement, rad/s (20 °/s).
const REFINE_MIN_RATE_RAD_S: f64 = 0.35;
/// Thigh rotation that one axis refinement accumulates, radians (45°).
const REFINE_TURN_RAD: f64 = std::f64::consts::FRAC_PI_4;
/// Share of the accumulated rotation that must lie about one axis for the refinement to apply.
const REFINE_MIN_PLANARITY: f64 = 0.85;
/// Largest disagreement between a sway-fitted thigh axis and the first large thigh motion that
/// keeps the fitted axis, degrees: getting down or a leg raise turns the thigh within a few
/// degrees of its hinge axis, a failed sway fit is off by tens of degrees.
const AXIS_CHECK_DEG: f64 = 12.0;
/// Largest tilt of the thigh's hinge axis from horizontal at the rest that settles its sign,
/// degrees, before gravity replaces it: a thigh lying or sitting rolls by less.
const REST_CHECK_DEG: f64 = 30.0;
/// Largest plausible |knee flexion| at rest with the thigh inclined, degrees: beyond it the
/// shank's axis sign disagrees with the thigh's.
const REST_KNEE_MAX_DEG: f64 = 135.0;
/// Time the thigh must rest inclined before its anterior direction is settled, seconds.
const SIGN_REST_S: f64 = 0.5;

/// Completes a calibration whose swings could not see the thigh's hinge axis (standing swings with
/// a steady thigh), from the session's own first informative moments, deterministically from the
/// frames: the first large thigh rotation about one axis (lying down, getting up, a leg raise)
/// gives the axis; the first rest with the thigh inclined (lying, sitting, a raised leg) gives
/// its anterior direction, which points up in every posture of the protocol.
#[derive(Debug, Clone, Copy)]
struct Refiner {
    axis_pending: bool,
    /// The pending axis only checks the calibration's: a thigh axis fitted to a standing thigh's
    /// small sway is replaced only if the first large motion disagrees with it by more than
    /// [`AXIS_CHECK_DEG`] (the sway fit failed, e.g. under a twisting shank).
    axis_check: bool,
    sign_pending: bool,
    /// At the rest that settles the sign, also check the axis against gravity: the thigh's
    /// hinge axis lies within [`REST_CHECK_DEG`] of horizontal in every inclined rest of the
    /// protocol (lying, sitting), so an axis further off is replaced by the gravity one. Not for
    /// axes that came from gravity in the first place.
    rest_check: bool,
    /// The thigh frame changed at an inclined rest (not during a movement, where a kneeling
    /// knee may read far beyond the rest range).
    changed_at_rest: bool,
    /// Σ ω ωᵀ·dt of the fast thigh frames, sensor frame.
    scatter: Matrix3<f64>,
    turned_rad: f64,
    rest_s: f64,
    vote: f64,
    /// Number of changes made so far.
    changes: u32,
}

impl Refiner {
    fn new(profile: &CalibrationProfile) -> Self {
        let from_sway = profile.quality.thigh_axis_method == THIGH_AXIS_FROM_SWAY;
        Refiner {
            axis_pending: !profile.quality.thigh_axis_observed || from_sway,
            axis_check: profile.quality.thigh_axis_observed && from_sway,
            sign_pending: !profile.quality.thigh_sign_resolved,
            rest_check: profile.quality.thigh_axis_method != THIGH_AXIS_FROM_GRAVITY,
            changed_at_rest: false,
            scatter: Matrix3::zeros(),
            turned_rad: 0.0,
            rest_s: 0.0,
            vote: 0.0,
            changes: 0,
        }
    }

    /// Updates `thigh_from_seg` from one frame; returns whether it changed.
    fn update(
        &mut self,
        thigh_from_seg: &mut Matrix3<f64>,
        world_from_thigh_seg: &Matrix3<f64>,
        w_thigh_sensor_rad_s: &Vector3<f64>,
        dt_s: f64,
    ) -> bool {
        let rate = w_thigh_sensor_rad_s.norm();
        let mut changed = false;
        if self.axis_pending && rate > REFINE_MIN_RATE_RAD_S {
            self.scatter += w_thigh_sensor_rad_s * w_thigh_sensor_rad_s.transpose() * (dt_s / rate);
            self.turned_rad += rate * dt_s;
            if self.turned_rad >= REFINE_TURN_RAD {
                changed |= self.refine_axis(thigh_from_seg);
            }
        }
        if self.sign_pending {
            let x = world_from_thigh_seg.column(0);
            let z = world_from_thigh_seg.column(2);
            if x.z.abs() < 0.5 && rate < 0.5 {
                self.rest_s += dt_s;
                self.vote += z.z * dt_s;
                if self.rest_s >= SIGN_REST_S {
                    self.sign_pending = false;
                    let x_w: Vector3<f64> = x.into();
                    let y_g = Vector3::z().cross(&x_w).normalize();
                    let y_w: Vector3<f64> = world_from_thigh_seg.column(1).into();
                    if self.rest_check && y_w.dot(&y_g).abs() < REST_CHECK_DEG.to_radians().cos() {
                        // The gravity axis, signed so that the anterior direction points up.
                        let world_from_sensor = world_from_thigh_seg * thigh_from_seg.transpose();
                        let x_s: Vector3<f64> = thigh_from_seg.column(0).into();
                        let y_s = world_from_sensor.transpose() * y_g;
                        let y_s = (y_s - x_s * y_s.dot(&x_s)).normalize();
                        *thigh_from_seg = Matrix3::from_columns(&[x_s, y_s, x_s.cross(&y_s)]);
                        changed = true;
                        self.changed_at_rest = true;
                    } else if self.vote < 0.0 {
                        // Turn the segment frame half a turn about the long axis: y and z flip.
                        for c in 1..3 {
                            let col = -thigh_from_seg.column(c);
                            thigh_from_seg.set_column(c, &col);
                        }
                        changed = true;
                        self.changed_at_rest = true;
                    }
                }
            } else {
                self.rest_s = 0.0;
                self.vote = 0.0;
            }
        }
        if changed {
            self.changes += 1;
        }
        changed
    }

    /// The principal axis of the accumulated rotation, if planar enough, becomes the hinge axis
    /// (made orthogonal to the long axis and signed like the current one).
    fn refine_axis(&mut self, thigh_from_seg: &mut Matrix3<f64>) -> bool {
        let eig = self.scatter.symmetric_eigen();
        let trace = eig.eigenvalues.sum();
        let i = eig.eigenvalues.imax();
        let (scatter_planarity, p) = (
            eig.eigenvalues[i] / trace.max(1e-12),
            Vector3::from(eig.eigenvectors.column(i)),
        );
        self.scatter = Matrix3::zeros();
        self.turned_rad = 0.0;
        if scatter_planarity < REFINE_MIN_PLANARITY {
            return false; // a twisting motion: wait for a cleaner one
        }
        let x: Vector3<f64> = thigh_from_seg.column(0).into();
        let across = p - x * p.dot(&x);
        if across.norm() < 0.7 {
            return false; // mostly about the long axis: says nothing about the hinge
        }
        let old_y: Vector3<f64> = thigh_from_seg.column(1).into();
        let mut y = across.normalize();
        if y.dot(&old_y) < 0.0 {
            y = -y;
        }
        self.axis_pending = false;
        if self.axis_check && y.dot(&old_y) > AXIS_CHECK_DEG.to_radians().cos() {
            return false; // the calibration's axis agrees: keep it (it saw the knee itself)
        }
        *thigh_from_seg = Matrix3::from_columns(&[x, y, x.cross(&y)]);
        true
    }
}

/// Stateful joint-angle stage: calibration plus the two hinge-heading filters.
pub struct Kinematics {
    refiner: Refiner,
    thigh_from_seg: Matrix3<f64>,
    shank_from_seg: Matrix3<f64>,
    pelvis_from_seg: Option<Matrix3<f64>>,
    stretch: StretchType,
    knee_heading: HingeHeading,
    hip_heading: HingeHeading,
    params: KinematicsParams,
    /// Set when the thigh's frame was refined at an inclined rest: the pair's signs are checked
    /// on the next frame (a knee near ±180° at rest means the shank's sign must follow).
    pair_check: bool,
}

impl Kinematics {
    /// Builds the stage from a calibration profile.
    pub fn new(
        profile: &CalibrationProfile,
        stretch: StretchType,
        params: KinematicsParams,
    ) -> Self {
        Kinematics {
            refiner: Refiner::new(profile),
            thigh_from_seg: profile.thigh.sensor_from_segment(),
            shank_from_seg: profile.shank.sensor_from_segment(),
            pelvis_from_seg: profile.pelvis.as_ref().map(|p| p.sensor_from_segment()),
            stretch,
            knee_heading: HingeHeading::new(),
            pair_check: false,
            hip_heading: HingeHeading::new(),
            params,
        }
    }

    /// Changes the stretch type (the pelvic-tilt reference posture).
    pub fn set_stretch(&mut self, stretch: StretchType) {
        self.stretch = stretch;
    }

    /// How many times the session's own movements have refined the thigh calibration so far.
    pub fn refinements(&self) -> u32 {
        self.refiner.changes
    }

    /// Corrects a segment's long axis for an accelerometer bias found after calibration, given
    /// as the change `delta_bias` from the profile's: the standing pose read `−x·g + b_old`, so
    /// the axis becomes `normalize(x·g + b_new − b_old)`; the hinge axis is kept orthogonal.
    pub fn correct_acc_bias(&mut self, role: SensorRole, delta_bias_m_s2: &Vector3<f64>) {
        let m = match role {
            SensorRole::Thigh => &mut self.thigh_from_seg,
            SensorRole::Shank => &mut self.shank_from_seg,
            SensorRole::Pelvis => return,
        };
        let x_old: Vector3<f64> = m.column(0).into();
        let x = (x_old * 9.81 + delta_bias_m_s2).normalize();
        let y_old: Vector3<f64> = m.column(1).into();
        let y = (y_old - x * y_old.dot(&x)).normalize();
        *m = Matrix3::from_columns(&[x, y, x.cross(&y)]);
        self.refiner.changes += 1;
    }

    /// The thigh's current `sensor_from_segment` (the profile's, or as refined since).
    pub fn thigh_sensor_from_segment(&self) -> Matrix3<f64> {
        self.thigh_from_seg
    }

    /// Computes the angles of one frame; `dt_s` is the time since the previous frame.
    pub fn update(&mut self, inp: &SegmentInputs, dt_s: f64) -> AnglesDeg {
        let world_from_thigh = inp.thigh.to_rotation_matrix().into_inner();
        if self.refiner.axis_pending || self.refiner.sign_pending {
            let w_sensor = world_from_thigh.transpose() * inp.w_thigh_rad_s;
            let r_t = world_from_thigh * self.thigh_from_seg;
            if self
                .refiner
                .update(&mut self.thigh_from_seg, &r_t, &w_sensor, dt_s)
            {
                // The hinge axes' heading offset changed with the thigh axis: start it afresh.
                self.knee_heading = HingeHeading::new();
                self.hip_heading = HingeHeading::new();
                self.pair_check = std::mem::take(&mut self.refiner.changed_at_rest);
            }
        }
        let r_t = world_from_thigh * self.thigh_from_seg;
        let world_from_shank = inp.shank.to_rotation_matrix().into_inner();
        let mut r_s = world_from_shank * self.shank_from_seg;
        let y_t: Vector3<f64> = r_t.column(1).into();
        let mut y_s: Vector3<f64> = r_s.column(1).into();
        let mut d = self.knee_heading.update(&y_t, &y_s, dt_s, &self.params);
        let mut knee = hinge_angle_rad(&r_t, &r_s, d);
        if std::mem::take(&mut self.pair_check) && knee.abs() > REST_KNEE_MAX_DEG.to_radians() {
            // Half a turn of the shank frame about its long axis makes the pair consistent.
            for c in 1..3 {
                let col = -self.shank_from_seg.column(c);
                self.shank_from_seg.set_column(c, &col);
            }
            self.knee_heading = HingeHeading::new();
            r_s = world_from_shank * self.shank_from_seg;
            y_s = r_s.column(1).into();
            d = self.knee_heading.update(&y_t, &y_s, dt_s, &self.params);
            knee = hinge_angle_rad(&r_t, &r_s, d);
        }
        let beta_t = sagittal_pitch_rad(&r_t);
        let knee_sag = wrap_pi(sagittal_pitch_rad(&r_s) - beta_t);
        // Same as `elevation_rad(&r_t)`, reusing the thigh's pitch.
        let leg_raise = wrap_pi(-beta_t);
        // Sagittal rates: for R = R_z(h)·R_y(β), ω_world = β̇·y_world.
        let beta_rate_t = inp.w_thigh_rad_s.dot(&y_t);
        let beta_rate_s = inp.w_shank_rad_s.dot(&y_s);
        let (hip, tilt, hip_rate) = match (inp.pelvis, self.pelvis_from_seg) {
            (Some(qp), Some(p_from_seg)) => {
                let r_p = qp.to_rotation_matrix().into_inner() * p_from_seg;
                let y_p: Vector3<f64> = r_p.column(1).into();
                let dh = self.hip_heading.update(&y_p, &y_t, dt_s, &self.params);
                // R_thigh = R_pelvis · R_y(−θh).
                let hip = -hinge_angle_rad(&r_p, &r_t, dh);
                let psi = match self.stretch {
                    StretchType::Supine => 0.0,
                    _ => std::f64::consts::FRAC_PI_2,
                };
                let tilt = wrap_pi(sagittal_pitch_rad(&r_p) - psi);
                // β_thigh = β_pelvis − θh.
                let rate = inp
                    .w_pelvis_rad_s
                    .map(|w| (w.dot(&y_p) - beta_rate_t).to_degrees());
                (Some(hip.to_degrees()), Some(tilt.to_degrees()), rate)
            }
            _ => (None, None, None),
        };
        AnglesDeg {
            knee_flexion_deg: knee.to_degrees(),
            knee_sagittal_deg: knee_sag.to_degrees(),
            leg_raise_deg: leg_raise.to_degrees(),
            hip_flexion_deg: hip,
            pelvic_tilt_deg: tilt,
            knee_rate_deg_s: (beta_rate_s - beta_rate_t).to_degrees(),
            leg_raise_rate_deg_s: -beta_rate_t.to_degrees(),
            hip_rate_deg_s: hip_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Rotation3;

    fn ry(b: f64) -> Matrix3<f64> {
        *Rotation3::from_axis_angle(&Vector3::y_axis(), b).matrix()
    }
    fn rz(b: f64) -> Matrix3<f64> {
        *Rotation3::from_axis_angle(&Vector3::z_axis(), b).matrix()
    }

    #[test]
    fn hinge_angle_ignores_heading_offsets() {
        let thigh = ry(0.3);
        let shank = thigh * ry(0.7);
        let mut h = HingeHeading::new();
        let p = KinematicsParams::default();
        // Shank estimate rotated by an unknown heading of 40°.
        let shank_est = rz(0.7) * shank;
        let d = h.update(
            &thigh.column(1).into(),
            &shank_est.column(1).into(),
            0.01,
            &p,
        );
        assert!((hinge_angle_rad(&thigh, &shank_est, d) - 0.7).abs() < 1e-12);
        assert!(
            (wrap_pi(sagittal_pitch_rad(&shank_est) - sagittal_pitch_rad(&thigh)) - 0.7).abs()
                < 1e-12
        );
    }

    #[test]
    fn elevation_matches_spec_supine_check() {
        // Supine, pelvis flat: R_thigh = R_y(−θh); θte = θh.
        let th = 70f64.to_radians();
        assert!((elevation_rad(&ry(-th)) - th).abs() < 1e-12);
        assert!((wrap_pi(3.5 * std::f64::consts::PI) + 0.5 * std::f64::consts::PI).abs() < 1e-12);
    }
}
