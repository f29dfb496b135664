//! Sample and angle types shared by every pipeline stage, with units in their names.

use nalgebra::Vector3;
use std::fmt;
use std::str::FromStr;

/// Which body segment a sensor is strapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SensorRole {
    /// Lateral mid-thigh.
    Thigh,
    /// Upper-to-mid shank.
    Shank,
    /// Lateral iliac crest or sacrum (optional sensor).
    Pelvis,
}

impl SensorRole {
    /// All roles, in index order.
    pub const ALL: [SensorRole; 3] = [SensorRole::Thigh, SensorRole::Shank, SensorRole::Pelvis];

    /// Dense index (thigh 0, shank 1, pelvis 2) for per-sensor arrays.
    pub fn index(self) -> usize {
        match self {
            SensorRole::Thigh => 0,
            SensorRole::Shank => 1,
            SensorRole::Pelvis => 2,
        }
    }

    /// Name used in recordings (`thigh`, `shank`, `pelvis`).
    pub fn as_str(self) -> &'static str {
        match self {
            SensorRole::Thigh => "thigh",
            SensorRole::Shank => "shank",
            SensorRole::Pelvis => "pelvis",
        }
    }
}

impl fmt::Display for SensorRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SensorRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "thigh" => Ok(SensorRole::Thigh),
            "shank" => Ok(SensorRole::Shank),
            "pelvis" => Ok(SensorRole::Pelvis),
            other => Err(format!(
                "unknown sensor '{other}' (expected thigh, shank or pelvis)"
            )),
        }
    }
}

/// Which leg is being stretched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Side {
    /// Left leg.
    #[default]
    Left,
    /// Right leg.
    Right,
}

impl Side {
    /// Name used in recordings.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

impl FromStr for Side {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "left" => Ok(Side::Left),
            "right" => Ok(Side::Right),
            other => Err(format!("unknown side '{other}' (expected left or right)")),
        }
    }
}

/// The stretch being performed (form-spec 1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StretchType {
    /// Lying leg raise (hands or towel).
    #[default]
    Supine,
    /// Long-sitting toe reach.
    Seated,
    /// Standing hip hinge.
    Standing,
}

impl StretchType {
    /// Name used in recordings (`supine`, `seated`, `standing`).
    pub fn as_str(self) -> &'static str {
        match self {
            StretchType::Supine => "supine",
            StretchType::Seated => "seated",
            StretchType::Standing => "standing",
        }
    }
}

impl FromStr for StretchType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "supine" => Ok(StretchType::Supine),
            "seated" | "seated_reach" => Ok(StretchType::Seated),
            "standing" | "standing_hinge" => Ok(StretchType::Standing),
            other => Err(format!(
                "unknown stretch '{other}' (expected supine, seated or standing)"
            )),
        }
    }
}

/// One decoded IMU sample in the sensor frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImuSample {
    /// Recording time of the sample, seconds.
    pub t_s: f64,
    /// Segment the sensor is on.
    pub role: SensorRole,
    /// Specific force, sensor frame (about +9.81 on the up axis at rest).
    pub acc_m_s2: Vector3<f64>,
    /// Angular rate, sensor frame, bias not removed.
    pub gyr_rad_s: Vector3<f64>,
    /// Magnetic field, sensor frame, if the sensor reports one.
    pub mag_ut: Option<Vector3<f64>>,
}

/// A time window `[start_s, end_s]` in recording time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeWindow {
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
}

impl TimeWindow {
    /// Whether `t_s` lies inside the window (inclusive).
    pub fn contains(&self, t_s: f64) -> bool {
        t_s >= self.start_s && t_s <= self.end_s
    }

    /// Length of the window, seconds.
    pub fn duration_s(&self) -> f64 {
        self.end_s - self.start_s
    }
}

/// Joint angles of one output frame; `None` where unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JointAngles {
    /// Frame time, seconds.
    pub t_s: f64,
    /// Knee flexion, 0 at the standing calibration, flexion positive.
    pub knee_flexion_deg: Option<f64>,
    /// Hip flexion (thigh vs pelvis); in supine without a pelvis sensor the leg-raise proxy.
    pub hip_flexion_deg: Option<f64>,
    /// Thigh long axis above horizontal.
    pub leg_raise_deg: Option<f64>,
    /// Pelvic tilt about the medio-lateral axis relative to the standing calibration (pelvis sensor only).
    pub pelvic_tilt_deg: Option<f64>,
    /// Knee flexion from the signed sagittal inclination difference (drift-free cross-check).
    pub knee_sagittal_deg: Option<f64>,
    /// Knee flexion rate from the gyros about the hinge axis, °/s.
    pub knee_rate_deg_s: Option<f64>,
    /// Rate of `hip_flexion_deg` from the gyros, °/s.
    pub hip_rate_deg_s: Option<f64>,
    /// Rate of `leg_raise_deg` from the thigh gyro, °/s.
    pub leg_raise_rate_deg_s: Option<f64>,
    /// True when a sensor stream had a gap longer than the interpolation limit around this frame.
    pub gap: bool,
    /// Samples dropped as physically implausible (outside the limits of `limits.rs`) since the
    /// previous frame.
    pub implausible_samples: u32,
}
