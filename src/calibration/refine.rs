//! Refining a thigh accelerometer bias the calibration could not see, from the session's rests.
//!
//! The standing pose gives the long axis as the direction of the specific force; a bias of
//! 0.02 g across it tilts the axis by about 1°. Seated swings turn the thigh through 90° and
//! reveal the bias, but standing swings leave the thigh vertical: nothing there separates bias from
//! gravity. The first rest with the thigh inclined after a rest with it vertical (lying down,
//! sitting down) does: the gyro carries the vertical rest's frame to the inclined one, and gravity
//! is the same vector in both (the [`super::estimate_acc_bias`] equation with two poses).
//! Everything is driven by sample timestamps, so replay and live refine at the same sample.

use nalgebra::{Matrix3, UnitQuaternion, Vector3};

/// Length of one stillness block, seconds.
const BLOCK_S: f64 = 0.25;
/// Largest gyro deviation (bias removed) inside a still block, rad/s (3 °/s).
const STILL_RATE_RAD_S: f64 = 0.052;
/// Largest plausible bias, m/s² (0.1 g): beyond it the poses were not at rest.
const MAX_BIAS_M_S2: f64 = 0.981;
/// Longest gyro integration between the two rests, seconds: a residual gyro bias of 0.01 °/s
/// tilts the carried frame by 0.3° in that time, a 5 mg error in the bias.
const MAX_SPAN_S: f64 = 30.0;
/// Longest rotation path (∫|ω|dt) between the two rests, radians (one turn): every degree turned
/// carries the error of an uncertain sample time (a lost sample without a device clock misdates
/// its neighbours), so a frame carried through a session of swings is not trusted.
const MAX_PATH_RAD: f64 = std::f64::consts::TAU;

/// Streaming accelerometer-bias refiner of one sensor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccBiasRefiner {
    /// Distal long axis in sensor coordinates (the profile's).
    long: Vector3<f64>,
    gyro_bias: Vector3<f64>,
    /// Gyro-integrated orientation since the first sample (sensor → integration frame).
    q: UnitQuaternion<f64>,
    last_t_s: Option<f64>,
    block_start_s: f64,
    block_acc: Vector3<f64>,
    block_n: u32,
    block_still: bool,
    /// The latest vertical rest: mean acc, the integrated orientation and the time then.
    reference: Option<(Vector3<f64>, UnitQuaternion<f64>, f64)>,
    /// Rotation path since the reference, radians.
    path_rad: f64,
    done: bool,
}

impl AccBiasRefiner {
    /// A refiner for a sensor whose distal long axis is `long` and gyro bias `gyro_bias`.
    pub(crate) fn new(long: Vector3<f64>, gyro_bias: Vector3<f64>) -> Self {
        AccBiasRefiner {
            long: long.normalize(),
            gyro_bias,
            q: UnitQuaternion::identity(),
            last_t_s: None,
            block_start_s: f64::NAN,
            block_acc: Vector3::zeros(),
            block_n: 0,
            block_still: true,
            reference: None,
            path_rad: 0.0,
            done: false,
        }
    }

    /// Feeds one raw sample; returns the bias once it has been found (once).
    pub(crate) fn push(
        &mut self,
        t_s: f64,
        gyr_rad_s: &Vector3<f64>,
        acc_m_s2: &Vector3<f64>,
    ) -> Option<Vector3<f64>> {
        if self.done {
            return None;
        }
        // Close a finished block first, so that its orientation is the one at its last sample.
        let mut found = None;
        if self.block_start_s.is_nan() || t_s - self.block_start_s >= BLOCK_S {
            found = self.close_block();
            self.block_start_s = t_s;
            self.block_acc = Vector3::zeros();
            self.block_n = 0;
            self.block_still = true;
        }
        let w = gyr_rad_s - self.gyro_bias;
        if let Some(prev) = self.last_t_s {
            let dt = (t_s - prev).clamp(0.0, 0.5);
            self.q *= UnitQuaternion::from_scaled_axis(w * dt);
            self.path_rad += w.norm() * dt;
            if self.path_rad > MAX_PATH_RAD {
                self.reference = None;
            }
        }
        self.last_t_s = Some(t_s);
        if found.is_some() {
            return found;
        }
        self.block_acc += acc_m_s2;
        self.block_n += 1;
        self.block_still &= w.norm() < STILL_RATE_RAD_S;
        None
    }

    fn close_block(&mut self) -> Option<Vector3<f64>> {
        if self.block_n < 5 || !self.block_still {
            return None;
        }
        let a = self.block_acc / f64::from(self.block_n);
        let up = a.normalize();
        let along = up.dot(&self.long);
        if along < -0.95 {
            // Specific force against the distal axis: the segment hangs vertical. The latest
            // such rest is kept, so the gyro carries its frame for as short a time as possible.
            self.reference = Some((a, self.q, self.block_start_s));
            self.path_rad = 0.0;
            return None;
        }
        match self.reference {
            Some((a_ref, q_ref, t_ref)) if along.abs() < 0.7 => {
                if self.block_start_s - t_ref > MAX_SPAN_S {
                    self.reference = None;
                    return None;
                }
                self.done = true;
                let delta = (q_ref.inverse() * self.q).to_rotation_matrix().into_inner();
                solve_bias(&delta, &a_ref, &a)
            }
            _ => None,
        }
    }
}

/// `(I − ΔR)·b = a_ref − ΔR·a`, solved for the components the rotation observes.
fn solve_bias(
    delta: &Matrix3<f64>,
    a_ref: &Vector3<f64>,
    a: &Vector3<f64>,
) -> Option<Vector3<f64>> {
    let m = Matrix3::identity() - delta;
    let rhs = a_ref - delta * a;
    let svd = m.svd(true, true);
    let (u, v_t) = (svd.u?, svd.v_t?);
    let mut b = Vector3::zeros();
    for k in 0..3 {
        let sv = svd.singular_values[k];
        if sv > 0.25 {
            b += v_t.row(k).transpose() * (u.column(k).dot(&rhs) / sv);
        }
    }
    (b.norm() <= MAX_BIAS_M_S2).then_some(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Rotation3;

    #[test]
    fn bias_from_a_vertical_and_a_lying_rest() {
        // Sensor x distal. Standing 2 s, then a 90° turn about y over 1 s, then lying 2 s.
        let bias = Vector3::new(0.15, -0.1, 0.12);
        let mut r = AccBiasRefiner::new(Vector3::x(), Vector3::zeros());
        let mut found = None;
        for i in 0..500 {
            let t = i as f64 * 0.01;
            let angle = ((t - 2.0).clamp(0.0, 1.0)) * std::f64::consts::FRAC_PI_2;
            let rate = if (2.0..3.0).contains(&t) {
                std::f64::consts::FRAC_PI_2
            } else {
                0.0
            };
            // world_from_sensor = R_y(90° − angle): x down when standing, level when lying.
            let r_ws =
                Rotation3::from_axis_angle(&Vector3::y_axis(), std::f64::consts::FRAC_PI_2 - angle);
            let acc = r_ws.inverse() * Vector3::new(0.0, 0.0, 9.81) + bias;
            let gyr = Vector3::new(0.0, -rate, 0.0);
            if let Some(b) = r.push(t, &gyr, &acc) {
                found = Some(b);
            }
        }
        let b = found.expect("bias found");
        // The y component lies along the rotation axis: unobservable, left at 0.
        assert!(
            (b.x - bias.x).abs() < 0.01 && (b.z - bias.z).abs() < 0.01,
            "{b:?}"
        );
        assert!(b.y.abs() < 1e-9);
    }
}
