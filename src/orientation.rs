//! Per-sensor orientation: 6D VQF (Laidig & Seel 2023) with rest detection and gyro-bias estimation,
//! driven by sample timestamps so dropped samples and any rate from 50 to 200 Hz integrate correctly.

use nalgebra::{Quaternion, UnitQuaternion, Vector3};
use vqf_rs::{Params, VQF};

/// Filter settings; defaults are VQF's published defaults (orientation.md section 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrientationParams {
    /// Accelerometer low-pass time constant, seconds (the main 6D tuning knob).
    pub tau_acc_s: f64,
    /// Gyro deviation threshold for rest, °/s.
    pub rest_th_gyr_deg_s: f64,
    /// Accelerometer deviation threshold for rest, m/s².
    pub rest_th_acc_m_s2: f64,
    /// Longest gap integrated as one gyro step, seconds; longer gaps are integrated with this step.
    pub max_step_s: f64,
    /// Integrate each step with the mean of the two bracketing gyro samples (trapezoid rule) instead
    /// of the newer sample alone. Off by default: real IMUs report rates averaged over the interval
    /// just ended, and on BROAD the one-sided rule (VQF's own) matches the reference to 0.004° while
    /// the trapezoid adds half a sample of lag (+0.6° on trial 07). Only for instantaneous-rate data.
    pub trapezoidal_gyro: bool,
}

impl Default for OrientationParams {
    fn default() -> Self {
        OrientationParams {
            tau_acc_s: 3.0,
            rest_th_gyr_deg_s: 2.0,
            rest_th_acc_m_s2: 0.5,
            max_step_s: 0.5,
            trapezoidal_gyro: false,
        }
    }
}

/// Orientation estimator of one sensor: `world_from_sensor`, world is ENU with arbitrary heading.
pub struct SensorOrientation {
    vqf: VQF,
    nominal_dt_s: f64,
    max_step_s: f64,
    trapezoidal: bool,
    last_t_s: Option<f64>,
    last_gyr_rad_s: Vector3<f64>,
}

impl SensorOrientation {
    /// Creates a filter for a stream with the given nominal rate.
    pub fn new(rate_hz: f64, params: &OrientationParams) -> Self {
        let dt = 1.0 / rate_hz.clamp(1.0, 10_000.0);
        let p = Params {
            tau_acc: params.tau_acc_s,
            rest_th_gyr: params.rest_th_gyr_deg_s,
            rest_th_acc: params.rest_th_acc_m_s2,
            mag_dist_rejection_enabled: false,
            ..Params::default()
        };
        SensorOrientation {
            vqf: VQF::new(dt, None, None, Some(p)),
            nominal_dt_s: dt,
            max_step_s: params.max_step_s,
            trapezoidal: params.trapezoidal_gyro,
            last_t_s: None,
            last_gyr_rad_s: Vector3::zeros(),
        }
    }

    /// Feeds one sample and returns the new `world_from_sensor` orientation.
    pub fn update(
        &mut self,
        t_s: f64,
        gyr_rad_s: &Vector3<f64>,
        acc_m_s2: &Vector3<f64>,
    ) -> UnitQuaternion<f64> {
        // The gyro reading stands for the interval since the previous sample: integrate over the true dt.
        let (dt, g) = match self.last_t_s {
            Some(prev) if self.trapezoidal => (
                (t_s - prev).clamp(0.0, self.max_step_s),
                (gyr_rad_s + self.last_gyr_rad_s) * 0.5,
            ),
            Some(prev) => ((t_s - prev).clamp(0.0, self.max_step_s), *gyr_rad_s),
            None => (self.nominal_dt_s, *gyr_rad_s),
        };
        self.last_t_s = Some(t_s);
        self.last_gyr_rad_s = *gyr_rad_s;
        self.vqf.update_gyr_with_ts([g.x, g.y, g.z], dt);
        self.vqf.update_acc([acc_m_s2.x, acc_m_s2.y, acc_m_s2.z]);
        self.quat()
    }

    /// Current `world_from_sensor` (6D, heading drifts slowly and is never corrected).
    pub fn quat(&self) -> UnitQuaternion<f64> {
        let q = self.vqf.quat_6d();
        UnitQuaternion::new_normalize(Quaternion::new(q.0, q.1, q.2, q.3))
    }

    /// Current gyro-bias estimate, rad/s, sensor frame.
    pub fn bias_rad_s(&self) -> Vector3<f64> {
        // The state holds the same clipped estimate `bias_estimate` returns, without its
        // uncertainty computation (this is called for every sample).
        let b = self.vqf.state().bias;
        Vector3::new(b[0], b[1], b[2])
    }

    /// Whether VQF currently detects rest.
    pub fn rest_detected(&self) -> bool {
        self.vqf.rest_detected()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_sensor_converges_to_gravity() {
        let mut o = SensorOrientation::new(100.0, &OrientationParams::default());
        // Sensor lying with its x axis up.
        let acc = Vector3::new(9.81, 0.0, 0.0);
        let gyr = Vector3::new(0.01, -0.005, 0.002); // bias only
        let mut q = UnitQuaternion::identity();
        for i in 0..1000 {
            q = o.update(i as f64 * 0.01, &gyr, &acc);
        }
        let up_world = q * Vector3::x();
        assert!(up_world.z > 0.9999, "{up_world:?}");
        assert!(o.rest_detected());
        assert!(
            (o.bias_rad_s() - gyr).norm() < 0.002,
            "{:?}",
            o.bias_rad_s()
        );
    }
}
