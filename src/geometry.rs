//! Angle helpers shared by calibration and kinematics: kept apart so that calibration, which
//! needs them to judge a fit, does not depend on the kinematics stage that consumes its profile.

use nalgebra::Matrix3;

/// Rotation about +y that takes segment frame `a` to segment frame `b` after aligning headings with
/// δ = atan2(sin, cos): the flexion angle for `R_b = R_a · R_y(θ)`.
pub fn hinge_angle_rad(
    world_from_a: &Matrix3<f64>,
    world_from_b: &Matrix3<f64>,
    delta_cs: (f64, f64),
) -> f64 {
    let (c, s) = delta_cs;
    let rz = Matrix3::new(c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0);
    let rel = world_from_a.transpose() * rz * world_from_b;
    (rel[(0, 2)] - rel[(2, 0)]).atan2(rel[(0, 0)] + rel[(2, 2)])
}

/// Wraps an angle to (−π, π].
pub fn wrap_pi(a: f64) -> f64 {
    let w = (a + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
    if w <= -std::f64::consts::PI {
        w + std::f64::consts::TAU
    } else {
        w
    }
}
