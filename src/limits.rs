//! Physical limits of wearable IMUs, checked where samples enter the core.
//!
//! Every supported sensor family measures at most ±16 g and ±2000 °/s (WitMotion, Movella DOT,
//! Movesense, Thingy:52, MetaWear, the open protocol); the limits below leave a wide margin above
//! that, so they only reject values no body-worn sensor can produce (a corrupt row, an overflowed
//! register, a hostile file). A sample outside them is dropped and counted, never propagated:
//! one 1e154 component would otherwise overflow a norm and turn every later angle into NaN.

use crate::model::ImuSample;
use std::ops::RangeInclusive;

/// Standard gravity, m/s².
pub const G_M_S2: f64 = 9.80665;
/// Largest plausible specific force per axis: 50 g, m/s².
pub const MAX_ACC_M_S2: f64 = 50.0 * G_M_S2;
/// Largest plausible angular rate per axis: 70 rad/s (about 4000 °/s, twice a ±2000 °/s range).
pub const MAX_GYRO_RAD_S: f64 = 70.0;
/// Largest plausible magnetic field per axis, µT (the Earth's field is 25–65 µT).
pub const MAX_MAG_UT: f64 = 5000.0;
/// Largest plausible time stamp magnitude, s: about 300 years, so Unix times still fit, while
/// `t × rate` stays far inside `i64` and f64 keeps microsecond resolution.
pub const MAX_TIME_S: f64 = 1e10;
/// Nominal sample rates accepted, Hz: the form detectors need at least 10 Hz, and no supported
/// family streams faster than 1666 Hz (Movesense); WitMotion streams up to 200 Hz, Movella DOT
/// up to 120 Hz.
pub const RATE_HZ: RangeInclusive<f64> = 10.0..=2000.0;

/// Why a sample was judged implausible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implausible {
    /// Time stamp not finite or beyond [`MAX_TIME_S`].
    Time,
    /// An accelerometer component not finite or beyond [`MAX_ACC_M_S2`].
    Acc,
    /// A gyroscope component not finite or beyond [`MAX_GYRO_RAD_S`].
    Gyro,
    /// A magnetometer component not finite or beyond [`MAX_MAG_UT`].
    Mag,
}

impl Implausible {
    /// Plain description for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Implausible::Time => "time stamp out of range",
            Implausible::Acc => "acceleration beyond 50 g",
            Implausible::Gyro => "rotation rate beyond 70 rad/s",
            Implausible::Mag => "magnetic field beyond 5000 µT",
        }
    }
}

/// A number as a message shows it: plain for everyday magnitudes, in exponent form otherwise,
/// so a hostile `1e-320` or `1e300` does not print as hundreds of digits.
pub fn show(x: f64) -> String {
    if x == 0.0 || (1e-4..1e10).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// Whether `t_s` is a finite time within [`MAX_TIME_S`] (false for NaN).
pub fn within_time(t_s: f64) -> bool {
    t_s.is_finite() && t_s.abs() <= MAX_TIME_S
}

fn within(v: &nalgebra::Vector3<f64>, max: f64) -> bool {
    // `abs() <= max` is false for NaN, so non-finite values fail too.
    v.iter().all(|c| c.abs() <= max)
}

/// Checks one sample against the physical limits; components are checked one by one, so no
/// arithmetic on the sample can overflow.
pub fn check(s: &ImuSample) -> Result<(), Implausible> {
    if !within_time(s.t_s) {
        return Err(Implausible::Time);
    }
    if !within(&s.acc_m_s2, MAX_ACC_M_S2) {
        return Err(Implausible::Acc);
    }
    if !within(&s.gyr_rad_s, MAX_GYRO_RAD_S) {
        return Err(Implausible::Gyro);
    }
    if let Some(m) = &s.mag_ut
        && !within(m, MAX_MAG_UT)
    {
        return Err(Implausible::Mag);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SensorRole;
    use nalgebra::Vector3;

    fn s(acc: f64, gyr: f64, t_s: f64) -> ImuSample {
        ImuSample {
            t_s,
            role: SensorRole::Thigh,
            acc_m_s2: Vector3::new(0.0, acc, 9.81),
            gyr_rad_s: Vector3::new(gyr, 0.0, 0.0),
            mag_ut: None,
        }
    }

    #[test]
    fn messages_show_numbers_compactly() {
        assert_eq!(show(7.25), "7.25");
        assert_eq!(show(0.0), "0");
        assert_eq!(show(1e-320), "1e-320");
        assert_eq!(show(-3e200), "-3e200");
    }

    #[test]
    fn limits_reject_only_the_impossible() {
        assert_eq!(check(&s(16.0 * G_M_S2, 2000f64.to_radians(), 12.0)), Ok(()));
        assert_eq!(check(&s(1e155, 0.0, 0.0)), Err(Implausible::Acc));
        assert_eq!(check(&s(f64::NAN, 0.0, 0.0)), Err(Implausible::Acc));
        assert_eq!(check(&s(0.0, 1e30, 0.0)), Err(Implausible::Gyro));
        assert_eq!(check(&s(0.0, 0.0, 1e17)), Err(Implausible::Time));
        assert_eq!(check(&s(0.0, 0.0, f64::INFINITY)), Err(Implausible::Time));
        let mut m = s(0.0, 0.0, 1.0);
        m.mag_ut = Some(Vector3::new(1e9, 0.0, 0.0));
        assert_eq!(check(&m), Err(Implausible::Mag));
    }
}
