//! Sensor-to-segment calibration (form-spec 1.5): the standing pose gives each segment's long axis
//! and the zero of the angles; the knee swings give the knee hinge axis in both sensor frames
//! (Seel et al. 2014 gyro constraint, with a gravity-based thigh axis when the thigh is horizontal);
//! optional hip hinges give the pelvis medio-lateral axis. Nothing about the mounting is assumed.

use crate::geometry::{hinge_angle_rad, wrap_pi};
use crate::model::{ImuSample, SensorRole, TimeWindow};
use crate::orientation::{OrientationParams, SensorOrientation};
use crate::record::RecordingHeader;
use nalgebra::{Matrix3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};
use std::path::Path;

mod axes;
mod quality;
pub(crate) mod refine;

pub use axes::principal_axis;
use axes::{fit_both_axes, fit_shank_axis, fit_thigh_axis_in_plane};
pub use quality::{
    NOMINAL_ERROR_DEG, WARN_EXPECTED_ERROR_DEG, accuracy_caveat, accuracy_caveat_short,
    expected_error_deg,
};

/// Calibration errors: each message tells the user what to do differently.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// The recording lacks a window the procedure needs.
    #[error(
        "no {0} window in the recording header (expected '# {0}: START END'; or use a saved profile with --calibration)"
    )]
    MissingWindow(&'static str),
    /// Too few samples of a sensor inside a window.
    #[error("only {count} {role} samples in the {window} window: record at least {needed}")]
    TooFewSamples {
        /// Sensor.
        role: SensorRole,
        /// Window name.
        window: &'static str,
        /// Samples seen.
        count: usize,
        /// Samples needed.
        needed: usize,
    },
    /// A sensor moved while it should stand still.
    #[error(
        "{role} sensor was not still in the standing window (gyro spread {gyro_dev_deg_s:.1} °/s, |acc| {acc_g:.2} g): stand still, upright, knees straight, for 5 s"
    )]
    NotStill {
        /// Sensor.
        role: SensorRole,
        /// RMS deviation of the gyro from its mean, °/s.
        gyro_dev_deg_s: f64,
        /// Mean accelerometer norm, g.
        acc_g: f64,
    },
    /// A calibration window runs past the end of the recording.
    #[error(
        "header key '{key}': window {} to {} s runs past the end of the recording (last sample at {last_t_s:.2} s); expected times inside the recording",
        crate::limits::show(*start_s),
        crate::limits::show(*end_s)
    )]
    WindowOutside {
        /// Header key of the window.
        key: &'static str,
        /// Window start, s.
        start_s: f64,
        /// Window end, s.
        end_s: f64,
        /// Last sample time, s.
        last_t_s: f64,
    },
    /// The knee swings were unusable.
    #[error("knee-axis calibration rejected: {0}")]
    Rejected(String),
    /// A profile file could not be read or written.
    #[error("{file}: {message}")]
    Profile {
        /// Profile path.
        file: String,
        /// What went wrong.
        message: String,
    },
}

/// Axes of one segment expressed in its sensor's frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SegmentCalibration {
    /// Unit long axis, pointing distally (segment x).
    pub long_axis: [f64; 3],
    /// Unit medio-lateral hinge axis (segment y, flexion positive about it), orthogonal to `long_axis`.
    pub hinge_axis: [f64; 3],
    /// Gyro bias measured in the standing window, rad/s.
    pub gyro_bias_rad_s: [f64; 3],
    /// Accelerometer bias found from the calibration poses (components the poses observe), m/s².
    #[serde(default)]
    pub acc_bias_m_s2: [f64; 3],
}

impl SegmentCalibration {
    fn new(
        long_axis: Vector3<f64>,
        hinge_axis: Vector3<f64>,
        bias: (Vector3<f64>, Vector3<f64>),
    ) -> Self {
        let x = long_axis.normalize();
        let y = (hinge_axis - x * hinge_axis.dot(&x)).normalize();
        SegmentCalibration {
            long_axis: x.into(),
            hinge_axis: y.into(),
            gyro_bias_rad_s: bias.0.into(),
            acc_bias_m_s2: bias.1.into(),
        }
    }

    /// `sensor_from_segment`: columns are the segment x, y, z axes in sensor coordinates.
    pub fn sensor_from_segment(&self) -> Matrix3<f64> {
        let x = Vector3::from(self.long_axis);
        let y = Vector3::from(self.hinge_axis);
        let z = x.cross(&y);
        Matrix3::from_columns(&[x, y, z])
    }
}

/// Fit quality figures of the knee-axis calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationQuality {
    /// RMS of the hinge-constraint residual divided by the RMS shank rate (0 = perfect hinge).
    pub knee_residual: f64,
    /// Knee range covered by the swings (5th to 95th percentile), degrees.
    pub knee_rom_deg: f64,
    /// Angle between shank-axis estimates from the two halves of the swings, degrees.
    pub split_half_deg: f64,
    /// Overall score in [0, 1] (1 = excellent).
    pub score: f64,
    /// How the thigh axis was found: `gravity` (thigh horizontal in the swings), `gyro` (both
    /// axes from a moving thigh), `thigh sway` (thigh near vertical, its small motion fitted) or
    /// `provisional` (the thigh barely moved: refined from the first large thigh motion).
    pub thigh_axis_method: String,
    /// Expected RMS angle error, degrees, from the score (absent in older profiles: see
    /// [`CalibrationProfile::expected_error_deg`]).
    #[serde(default)]
    pub expected_error_deg: Option<f64>,
    /// A nominal (default-placement) profile, not fitted to a person.
    #[serde(default)]
    pub is_nominal: bool,
    /// Whether the thigh axis direction (which way is anterior) was seen in the calibration; if
    /// not, the pipeline settles it at the first posture with the thigh inclined (lying, sitting).
    #[serde(default = "yes")]
    pub thigh_sign_resolved: bool,
    /// Whether the swings observed the thigh's hinge axis well; if not, the pipeline refines it
    /// from the first large thigh rotation (lying down, a leg raise).
    #[serde(default = "yes")]
    pub thigh_axis_observed: bool,
    /// Whether the calibration poses turned the leg far enough from vertical to reveal the
    /// accelerometer biases (standing swings do not); if not, the pipeline finds the thigh's and
    /// shank's at the first rest with the leg inclined.
    #[serde(default = "yes")]
    pub acc_bias_observed: bool,
}

fn yes() -> bool {
    true
}

/// A saved calibration: what `calibrate` writes and `replay --calibration` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationProfile {
    /// Format version (1).
    pub version: u32,
    /// Thigh sensor axes.
    pub thigh: SegmentCalibration,
    /// Shank sensor axes.
    pub shank: SegmentCalibration,
    /// Pelvis sensor axes, when a pelvis sensor was calibrated.
    pub pelvis: Option<SegmentCalibration>,
    /// Knee fit quality.
    pub quality: CalibrationQuality,
}

impl CalibrationProfile {
    /// Expected RMS error of the angles computed with this profile, degrees: the stored figure,
    /// else the one the score predicts; a nominal profile's is large.
    pub fn expected_error_deg(&self) -> f64 {
        if self.quality.is_nominal {
            return quality::NOMINAL_ERROR_DEG;
        }
        self.quality
            .expected_error_deg
            .unwrap_or_else(|| expected_error_deg(self.quality.score))
    }

    /// The calibrated segments with their names (thigh, shank, then pelvis if present).
    pub fn segments(&self) -> impl Iterator<Item = (&'static str, &SegmentCalibration)> {
        [
            ("thigh", Some(&self.thigh)),
            ("shank", Some(&self.shank)),
            ("pelvis", self.pelvis.as_ref()),
        ]
        .into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
    }

    /// Writes the profile as TOML.
    pub fn save(&self, path: &Path) -> Result<(), CalibrationError> {
        let text = toml::to_string_pretty(self).map_err(|e| CalibrationError::Profile {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        let text = format!("# stretchwatch calibration profile\n{text}");
        std::fs::write(path, text).map_err(|e| CalibrationError::Profile {
            file: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Reads a profile written by [`save`](Self::save), checking that every axis is a unit vector.
    pub fn load(path: &Path) -> Result<Self, CalibrationError> {
        let err = |message: String| CalibrationError::Profile {
            file: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Self::from_toml_str(&text).map_err(err)
    }

    /// Parses and checks the text of a profile; the message names the key at fault.
    pub fn from_toml_str(text: &str) -> Result<Self, String> {
        let p: CalibrationProfile = toml::from_str(text).map_err(|e| {
            // toml's message spans several lines (a source excerpt): keep it to one.
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })?;
        if p.version != 1 {
            return Err(format!("unsupported version {} (expected 1)", p.version));
        }
        p.validate()?;
        Ok(p)
    }

    /// Checks every value a profile file could get wrong, naming the key: finite numbers, unit
    /// and perpendicular axes, biases a real sensor can have, a quality score in [0, 1].
    pub fn validate(&self) -> Result<(), String> {
        let finite = |key: String, v: &[f64]| -> Result<(), String> {
            match v.iter().find(|x| !x.is_finite()) {
                Some(x) => Err(format!("key '{key}': expected finite numbers, found {x}")),
                None => Ok(()),
            }
        };
        for (name, s) in self.segments() {
            for (k, a) in [("long_axis", s.long_axis), ("hinge_axis", s.hinge_axis)] {
                finite(format!("{name}.{k}"), &a)?;
                let n = Vector3::from(a).norm();
                if !(0.99..=1.01).contains(&n) {
                    return Err(format!(
                        "key '{name}.{k}': expected a unit vector, found norm {n:.3}"
                    ));
                }
            }
            let cos = Vector3::from(s.long_axis).dot(&Vector3::from(s.hinge_axis));
            if cos.abs() > 0.05 {
                return Err(format!(
                    "key '{name}.hinge_axis': expected an axis perpendicular to {name}.long_axis, found {:.1}° between them",
                    cos.clamp(-1.0, 1.0).acos().to_degrees()
                ));
            }
            for (k, v, max) in [
                ("gyro_bias_rad_s", s.gyro_bias_rad_s, 0.5),
                ("acc_bias_m_s2", s.acc_bias_m_s2, 5.0),
            ] {
                finite(format!("{name}.{k}"), &v)?;
                if let Some(x) = v.iter().find(|x| x.abs() > max) {
                    return Err(format!(
                        "key '{name}.{k}': expected components within ±{max}, found {x}"
                    ));
                }
            }
        }
        let q = &self.quality;
        for (k, v) in [
            ("knee_residual", q.knee_residual),
            ("knee_rom_deg", q.knee_rom_deg),
            ("split_half_deg", q.split_half_deg),
            ("score", q.score),
        ] {
            finite(format!("quality.{k}"), &[v])?;
        }
        if !(0.0..=1.0).contains(&q.score) {
            return Err(format!(
                "key 'quality.score': expected a score from 0 to 1, found {}",
                q.score
            ));
        }
        Ok(())
    }
}

/// One buffered sample of a calibration window.
#[derive(Debug, Clone, Copy)]
struct WinSample {
    t_s: f64,
    gyr: Vector3<f64>,
    acc: Vector3<f64>,
    q: UnitQuaternion<f64>,
}

/// Largest hinge-constraint residual (relative to the RMS shank rate) accepted. Seated swings give
/// a few percent; walking with soft-tissue motion about 0.45 (qmt recording), which still yields
/// plausible angles, so the gate sits above that. [R]
pub const MAX_HINGE_RESIDUAL: f64 = 0.5;
/// Hinge residual at which the quality score's residual term reaches zero.
const SCORE_RESIDUAL_SCALE: f64 = 0.1;
/// `thigh_axis_method` of a thigh axis from gravity (the thigh lay inclined during the swings).
pub const THIGH_AXIS_FROM_GRAVITY: &str = "gravity";
/// `thigh_axis_method` of a thigh axis fitted to a near-vertical thigh's small sway.
pub const THIGH_AXIS_FROM_SWAY: &str = "thigh sway";
/// Stillness block length inside the standing window, seconds.
const STILL_BLOCK_S: f64 = 0.25;
/// How far a calibration window may run past the last sample, seconds.
const WINDOW_SLACK_S: f64 = 1.0;
/// Shortest still stretch of the standing window that is accepted, seconds.
const MIN_STILL_S: f64 = 1.0;

/// The calibration windows that apply to the blocks after them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationWindows {
    /// Standing still, knees straight.
    pub static_w: TimeWindow,
    /// Knee swings.
    pub functional_w: TimeWindow,
    /// Hip hinges (pelvis sensor).
    pub pelvis_w: Option<TimeWindow>,
}

impl CalibrationWindows {
    /// Start of the first window, seconds.
    pub fn start_s(&self) -> f64 {
        self.static_w
            .start_s
            .min(self.functional_w.start_s)
            .min(self.pelvis_w.map_or(f64::INFINITY, |w| w.start_s))
    }

    /// End of the last window, seconds.
    pub fn end_s(&self) -> f64 {
        self.static_w
            .end_s
            .max(self.functional_w.end_s)
            .max(self.pelvis_w.map_or(f64::NEG_INFINITY, |w| w.end_s))
    }

    /// The windows a recording header gives (its last calibration pair).
    pub fn from_header(header: &RecordingHeader) -> Result<Self, CalibrationError> {
        Ok(CalibrationWindows {
            static_w: header
                .calibration_static
                .ok_or(CalibrationError::MissingWindow("calibration.static"))?,
            functional_w: header
                .calibration_functional
                .ok_or(CalibrationError::MissingWindow("calibration.functional"))?,
            pelvis_w: header.pelvis_calibration_functional,
        })
    }
}

/// Streaming calibrator: feed the recording from its start; it runs the same orientation filter as
/// the pipeline and buffers only the calibration windows.
pub struct Calibrator {
    static_w: TimeWindow,
    functional_w: TimeWindow,
    pelvis_w: Option<TimeWindow>,
    orient: [SensorOrientation; 3],
    /// Every sample from the start of the first window to the end of the last, per sensor, in
    /// time order; each window is a slice of it ([`window`](Self::window)).
    all: [Vec<WinSample>; 3],
    seen: [bool; 3],
    start_s: f64,
    end_s: f64,
    /// Time of the latest sample fed, s.
    last_t_s: f64,
}

impl Calibrator {
    /// Prepares a calibrator from the header windows and the nominal rate.
    pub fn new(header: &RecordingHeader, rate_hz: f64) -> Result<Self, CalibrationError> {
        Self::with_sensor_rates(header, [rate_hz; 3])
    }

    /// Like [`new`](Self::new) with each sensor's nominal rate (thigh, shank, pelvis).
    pub fn with_sensor_rates(
        header: &RecordingHeader,
        rates_hz: [f64; 3],
    ) -> Result<Self, CalibrationError> {
        Ok(Self::for_windows(
            &CalibrationWindows::from_header(header)?,
            rates_hz,
        ))
    }

    /// A calibrator for these windows with each sensor's nominal rate (thigh, shank, pelvis).
    pub fn for_windows(w: &CalibrationWindows, rates_hz: [f64; 3]) -> Self {
        let p = OrientationParams::default();
        Calibrator {
            static_w: w.static_w,
            functional_w: w.functional_w,
            pelvis_w: w.pelvis_w,
            orient: std::array::from_fn(|i| SensorOrientation::new(rates_hz[i], &p)),
            all: Default::default(),
            seen: [false; 3],
            start_s: w.start_s(),
            end_s: w.end_s(),
            last_t_s: f64::NEG_INFINITY,
        }
    }

    /// Time after which no more samples are needed.
    pub fn end_s(&self) -> f64 {
        self.end_s
    }

    /// Feeds one sample (in recording order).
    pub fn push(&mut self, s: &ImuSample) {
        // The same physical limits as the pipeline: one absurd value would poison every mean.
        if crate::limits::check(s).is_err() {
            return;
        }
        self.last_t_s = self.last_t_s.max(s.t_s);
        let i = s.role.index();
        self.seen[i] = true;
        let q = self.orient[i].update(s.t_s, &s.gyr_rad_s, &s.acc_m_s2);
        let w = WinSample {
            t_s: s.t_s,
            gyr: s.gyr_rad_s,
            acc: s.acc_m_s2,
            q,
        };
        if s.t_s >= self.start_s && s.t_s <= self.end_s {
            self.all[i].push(w);
        }
    }

    /// The buffered samples of sensor `i` inside window `w` (inclusive).
    fn window(&self, i: usize, w: TimeWindow) -> &[WinSample] {
        let v = &self.all[i];
        let lo = v.partition_point(|s| s.t_s < w.start_s);
        let hi = v.partition_point(|s| s.t_s <= w.end_s);
        &v[lo..hi.max(lo)]
    }

    /// Computes the profile from everything fed so far.
    pub fn finish(self) -> Result<CalibrationProfile, CalibrationError> {
        let mut long = [Vector3::zeros(); 3];
        let mut bias = [(Vector3::zeros(), Vector3::zeros()); 3];
        self.check_windows_inside()?;
        let (t0, t1) = self.still_span()?;
        for role in SensorRole::ALL {
            let i = role.index();
            if !self.seen[i] {
                continue;
            }
            let run: Vec<&WinSample> = self
                .window(i, self.static_w)
                .iter()
                .filter(|w| w.t_s >= t0 && w.t_s < t1)
                .collect();
            let n = run.len().max(1) as f64;
            let mean_acc: Vector3<f64> = run.iter().map(|w| w.acc).sum::<Vector3<f64>>() / n;
            let gyr_bias = run.iter().map(|w| w.gyr).sum::<Vector3<f64>>() / n;
            let moving = match role {
                SensorRole::Pelvis => self.pelvis_w,
                _ => Some(self.functional_w),
            };
            let acc_bias = moving
                .map(|mw| consistent_acc_bias(&self.all[i], t0, mw, gyr_bias, mean_acc))
                .unwrap_or_else(Vector3::zeros);
            // Standing: specific force points up, so the distal axis is its opposite.
            long[i] = -(mean_acc - acc_bias).normalize();
            bias[i] = (gyr_bias, acc_bias);
        }
        for role in [SensorRole::Thigh, SensorRole::Shank] {
            if !self.seen[role.index()] {
                return Err(CalibrationError::TooFewSamples {
                    role,
                    window: "calibration.static",
                    count: 0,
                    needed: 50,
                });
            }
        }
        let (th, sh) = (SensorRole::Thigh.index(), SensorRole::Shank.index());
        let (tw, sw) = (
            self.window(th, self.functional_w),
            self.window(sh, self.functional_w),
        );
        let needed = (self.functional_w.duration_s() * 10.0).max(50.0) as usize;
        for (role, v) in [(SensorRole::Thigh, tw), (SensorRole::Shank, sw)] {
            if v.len() < needed {
                return Err(CalibrationError::TooFewSamples {
                    role,
                    window: "calibration.functional",
                    count: v.len(),
                    needed,
                });
            }
        }
        let pairs = pair_windows(tw, sw);
        let g1: Vec<Vector3<f64>> = pairs.iter().map(|p| p.0.gyr - bias[th].0).collect();
        let g2: Vec<Vector3<f64>> = pairs.iter().map(|p| p.1.gyr - bias[sh].0).collect();

        // Thigh axis: if the thigh lies well away from vertical (seated swings), gravity gives its
        // anterior direction and the hinge axis follows with its sign. A thigh that moves a lot
        // gives both axes from the gyros. Otherwise (standing swings: thigh near vertical) the
        // axis is the one angle in the plane across the thigh that its small sway fits best.
        let mean_acc_t: Vector3<f64> =
            pairs.iter().map(|p| p.0.acc).sum::<Vector3<f64>>() / pairs.len() as f64 - bias[th].1;
        let up_t = mean_acc_t.normalize();
        let thigh_rms = rms_norm(&g1);
        let thigh_inclined = up_t.dot(&long[th]).abs() < 45f64.to_radians().cos();
        let mut thigh_observed = true;
        let (j1, method) = if thigh_inclined {
            (up_t.cross(&long[th]).normalize(), THIGH_AXIS_FROM_GRAVITY)
        } else if thigh_rms > 10f64.to_radians() {
            let (j1, _, _) = fit_both_axes(&g1, &g2);
            (j1, "gyro")
        } else {
            let zeros = vec![0.0; g2.len()];
            let (mut j2, _) = fit_shank_axis(&g2, &zeros);
            let mut fit = fit_thigh_axis_in_plane(&g1, &g2, &j2, &long[th]);
            for _ in 0..2 {
                let n1: Vec<f64> = g1.iter().map(|g| g.cross(&fit.0).norm()).collect();
                j2 = fit_shank_axis(&g2, &n1).0;
                fit = fit_thigh_axis_in_plane(&g1, &g2, &j2, &long[th]);
            }
            thigh_observed = fit.1 > MIN_THIGH_SWAY_RAD_S;
            (
                fit.0,
                if thigh_observed {
                    THIGH_AXIS_FROM_SWAY
                } else {
                    "provisional"
                },
            )
        };
        let n1: Vec<f64> = g1.iter().map(|g| g.cross(&j1).norm()).collect();
        let (mut j2, cost) = fit_shank_axis(&g2, &n1);
        let half = g2.len() / 2;
        let (ja, _) = fit_shank_axis(&g2[..half], &n1[..half]);
        let (jb, _) = fit_shank_axis(&g2[half..], &n1[half..]);
        let split_half_deg = ja.dot(&jb).abs().clamp(0.0, 1.0).acos().to_degrees();
        let shank_rms = rms_norm(&g2);
        let knee_residual = if shank_rms > 1e-9 {
            (cost / g2.len() as f64).sqrt() / shank_rms
        } else {
            f64::INFINITY
        };

        // Signs. The thigh's anterior direction (z = x × y) points up whenever the thigh is
        // inclined at rest in this protocol (sitting, lying, a raised leg): if the calibration
        // data holds such moments, they fix the thigh's sign. The shank's sign then makes the
        // pair consistent (angles near 0..90, not near 180) and the swings flexion, which is
        // positive by definition; for a near-vertical thigh the pair's sign does not change the
        // swing angles, so flexion alone sets the shank and the thigh waits for a posture.
        let mut j1 = j1;
        let evidence = thigh_posture_evidence(&self.all[th], bias[th], long[th], j1);
        let thigh_sign_resolved = match evidence {
            Some(e) => {
                if e < 0.0 {
                    j1 = -j1;
                }
                true
            }
            None => false,
        };
        let mut thigh_cal = SegmentCalibration::new(long[th], j1, bias[th]);
        let mut shank_cal = SegmentCalibration::new(long[sh], j2, bias[sh]);
        let angles = |t: &SegmentCalibration, s: &SegmentCalibration| -> Vec<f64> {
            swing_angles_deg(&pairs, t, s)
        };
        let a_pos = angles(&thigh_cal, &shank_cal);
        let a_neg = angles(
            &thigh_cal,
            &SegmentCalibration::new(long[sh], -j2, bias[sh]),
        );
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        // Opposite signs read the knee near ±180° wherever the leg is not vertical: the sign with
        // fewer impossible angles (then the smaller typical |angle|) is the consistent one. Only
        // if both read alike (the thigh vertical throughout) does flexion decide.
        let implausible = |v: &[f64]| v.iter().filter(|k| !(-40.0..=150.0).contains(*k)).count();
        let (i_pos, i_neg) = (implausible(&a_pos), implausible(&a_neg));
        let mean_abs = |v: &[f64]| v.iter().map(|k| k.abs()).sum::<f64>() / v.len().max(1) as f64;
        let (m_pos, m_neg) = (mean_abs(&a_pos), mean_abs(&a_neg));
        let keep = if i_pos.abs_diff(i_neg) * 50 > a_pos.len() {
            i_pos < i_neg
        } else if (m_pos - m_neg).abs() > 15.0 {
            m_pos < m_neg
        } else {
            mean(&a_pos) >= mean(&a_neg)
        };
        let mut knee = if keep {
            a_pos
        } else {
            j2 = -j2;
            shank_cal = SegmentCalibration::new(long[sh], j2, bias[sh]);
            a_neg
        };
        if mean(&knee) < 0.0 && !thigh_sign_resolved {
            thigh_cal = SegmentCalibration::new(long[th], -j1, bias[th]);
            shank_cal = SegmentCalibration::new(long[sh], -j2, bias[sh]);
            knee.iter_mut().for_each(|k| *k = -*k);
        }
        knee.sort_by(f64::total_cmp);
        let pct = |p: f64| knee[((knee.len() - 1) as f64 * p).round() as usize];
        let knee_rom_deg = pct(0.95) - pct(0.05);

        if knee_rom_deg < 30.0 {
            return Err(CalibrationError::Rejected(format!(
                "the knee swings covered only {knee_rom_deg:.0}°: swing your lower leg through a larger range (about 60–90°)"
            )));
        }
        if split_half_deg > 10.0 {
            return Err(CalibrationError::Rejected(format!(
                "knee-axis estimates from the two halves of the swings differ by {split_half_deg:.0}°: swing the lower leg steadily, without twisting, and repeat"
            )));
        }
        if knee_residual > MAX_HINGE_RESIDUAL {
            return Err(CalibrationError::Rejected(format!(
                "the swings do not fit a hinge (residual {:.0}%): keep the thigh still and the straps tight, and swing only the lower leg",
                knee_residual * 100.0
            )));
        }
        // The residual term saturates well below the acceptance gate: residuals of a few percent
        // already come with degree-sized errors (a twisting or wobbling swing), see
        // `expected_error_deg`.
        let mut score = ((1.0 - knee_residual / SCORE_RESIDUAL_SCALE).clamp(0.0, 1.0) * 0.5
            + (knee_rom_deg / 60.0).min(1.0) * 0.3
            + (1.0 - split_half_deg / 10.0).clamp(0.0, 1.0) * 0.2)
            .clamp(0.0, 1.0);
        if !thigh_observed {
            // Until the first large thigh motion refines it, the thigh axis is a guess.
            score *= 0.7;
        }

        let pelvis = if self.seen[SensorRole::Pelvis.index()] {
            self.pelvis_axis(&long, &bias, &thigh_cal)?
        } else {
            None
        };
        Ok(CalibrationProfile {
            version: 1,
            thigh: thigh_cal,
            shank: shank_cal,
            pelvis,
            quality: CalibrationQuality {
                knee_residual,
                knee_rom_deg,
                split_half_deg,
                score,
                thigh_axis_method: method.into(),
                expected_error_deg: Some(expected_error_deg(score)),
                is_nominal: false,
                thigh_sign_resolved,
                thigh_axis_observed: thigh_observed,
                // Zero means not estimated: the poses did not observe it, or the estimate was
                // inconsistent (uncertain sample times) and dropped.
                acc_bias_observed: thigh_cal.acc_bias_m_s2 != [0.0; 3]
                    && shank_cal.acc_bias_m_s2 != [0.0; 3],
            },
        })
    }

    /// The longest stretch of the standing window in which every sensor is still (form-spec 1.5:
    /// gyro within 3 °/s of its mean, |acc| within 1 g ± 0.05 g), checked in 0.25 s blocks.
    /// Every window must lie inside the recording: one that runs past the last sample names
    /// the wrong times (a typo, another recording's header).
    fn check_windows_inside(&self) -> Result<(), CalibrationError> {
        let windows = [
            ("calibration.static", Some(self.static_w)),
            ("calibration.functional", Some(self.functional_w)),
            ("pelvis_calibration.functional", self.pelvis_w),
        ];
        for (key, w) in windows {
            let Some(w) = w else { continue };
            // A window may end a little after the last sample (rounding, a final dropped packet).
            if self.last_t_s.is_finite() && w.end_s > self.last_t_s + WINDOW_SLACK_S {
                return Err(CalibrationError::WindowOutside {
                    key,
                    start_s: w.start_s,
                    end_s: w.end_s,
                    last_t_s: self.last_t_s,
                });
            }
        }
        Ok(())
    }

    /// Samples of sensor `i` with `lo ≤ t < hi`, found by binary search.
    fn block(&self, i: usize, lo: f64, hi: f64) -> &[WinSample] {
        let v = &self.all[i];
        let a = v.partition_point(|s| s.t_s < lo);
        let b = v.partition_point(|s| s.t_s < hi);
        &v[a..b.max(a)]
    }

    fn still_span(&self) -> Result<(f64, f64), CalibrationError> {
        // Only the part of the window that holds samples is searched, so the work is bounded by
        // the data, not by the times the header names.
        let first_t_s = self
            .all
            .iter()
            .filter_map(|v| v.first())
            .map(|s| s.t_s)
            .fold(f64::INFINITY, f64::min);
        let w = TimeWindow {
            start_s: self.static_w.start_s.max(first_t_s),
            end_s: self.static_w.end_s.min(self.last_t_s),
        };
        let n_blocks = (w.duration_s() / STILL_BLOCK_S).floor().max(1.0) as usize;
        let mut best = (0usize, 0usize); // (start block, length)
        let mut run_start = 0usize;
        let mut worst: Option<(SensorRole, f64, f64)> = None;
        for b in 0..=n_blocks {
            let still = b < n_blocks && {
                let (lo, hi) = (
                    w.start_s + b as f64 * STILL_BLOCK_S,
                    w.start_s + (b + 1) as f64 * STILL_BLOCK_S,
                );
                let mut ok = true;
                for role in SensorRole::ALL {
                    if !self.seen[role.index()] {
                        continue;
                    }
                    let blk = self.block(role.index(), lo, hi);
                    if blk.is_empty() {
                        ok = false;
                        continue;
                    }
                    let n = blk.len() as f64;
                    let mg: Vector3<f64> = blk.iter().map(|s| s.gyr).sum::<Vector3<f64>>() / n;
                    let dev = blk.iter().map(|s| (s.gyr - mg).norm()).fold(0.0, f64::max);
                    let acc_g = blk.iter().map(|s| s.acc.norm()).sum::<f64>() / n / 9.81;
                    let (dev_deg, this_ok) = (
                        dev.to_degrees(),
                        dev.to_degrees() < 3.0 && (0.95..=1.05).contains(&acc_g),
                    );
                    if !this_ok {
                        ok = false;
                        if worst.is_none_or(|(_, d, _)| dev_deg > d) {
                            worst = Some((role, dev_deg, acc_g));
                        }
                    }
                }
                ok
            };
            if still {
                if b + 1 - run_start > best.1 {
                    best = (run_start, b + 1 - run_start);
                }
            } else {
                run_start = b + 1;
            }
        }
        let len_s = best.1 as f64 * STILL_BLOCK_S;
        if len_s < MIN_STILL_S {
            let (role, gyro_dev_deg_s, acc_g) = worst.unwrap_or((SensorRole::Thigh, 0.0, 0.0));
            if (0..3).all(|i| self.window(i, w).is_empty()) || acc_g == 0.0 {
                return Err(CalibrationError::TooFewSamples {
                    role,
                    window: "calibration.static",
                    count: self.window(role.index(), w).len(),
                    needed: (MIN_STILL_S * 20.0) as usize,
                });
            }
            return Err(CalibrationError::NotStill {
                role,
                gyro_dev_deg_s,
                acc_g,
            });
        }
        let t0 = w.start_s + best.0 as f64 * STILL_BLOCK_S;
        Ok((t0, t0 + len_s))
    }

    /// Pelvis medio-lateral axis from the hip hinges: the principal axis of the pelvis gyro, signed so
    /// that the hinges are hip flexion.
    fn pelvis_axis(
        &self,
        long: &[Vector3<f64>; 3],
        bias: &[(Vector3<f64>, Vector3<f64>); 3],
        thigh_cal: &SegmentCalibration,
    ) -> Result<Option<SegmentCalibration>, CalibrationError> {
        let (pi, ti) = (SensorRole::Pelvis.index(), SensorRole::Thigh.index());
        let Some(pelvis_w) = self.pelvis_w else {
            // A worn but uncalibrated pelvis sensor is ignored: hip flexion is then unavailable.
            return Ok(None);
        };
        let pw = self.window(pi, pelvis_w);
        if pw.len() < 50 {
            return Err(CalibrationError::TooFewSamples {
                role: SensorRole::Pelvis,
                window: "pelvis_calibration.functional",
                count: pw.len(),
                needed: 50,
            });
        }
        let g: Vec<Vector3<f64>> = pw.iter().map(|s| s.gyr - bias[pi].0).collect();
        let axis = principal_axis(&g);
        let rom = g.iter().map(|v| v.dot(&axis).abs()).sum::<f64>()
            * (pw[pw.len() - 1].t_s - pw[0].t_s)
            / pw.len() as f64;
        if rom.to_degrees() < 20.0 {
            return Err(CalibrationError::Rejected(format!(
                "the hip hinges covered only {:.0}° of pelvis rotation: bend forward at the hips about 30° and back, twice",
                rom.to_degrees() / 2.0
            )));
        }
        let mut cal = SegmentCalibration::new(long[pi], axis, bias[pi]);
        let pairs = pair_windows(self.window(ti, pelvis_w), pw);
        // Hip flexion = −(rotation from pelvis to thigh about +y); hinging forward must be positive.
        let mean_hip: f64 = pairs
            .iter()
            .map(|(t, p)| {
                let r_t = t.q.to_rotation_matrix().into_inner() * thigh_cal.sensor_from_segment();
                let r_p = p.q.to_rotation_matrix().into_inner() * cal.sensor_from_segment();
                -hinge_angle_rad(&r_p, &r_t, instant_delta(&r_p, &r_t))
            })
            .sum::<f64>()
            / pairs.len().max(1) as f64;
        if mean_hip < 0.0 {
            cal = SegmentCalibration::new(long[pi], -axis, bias[pi]);
        }
        Ok(Some(cal))
    }
}

/// Thigh sway (RMS rate across the long axis, rad/s, in the cost rise of the in-plane fit) below
/// which the swings are taken not to observe the thigh's hinge axis: about 1° of sway at 0.5 Hz.
const MIN_THIGH_SWAY_RAD_S: f64 = 0.04;

/// Which way the thigh's anterior axis points when the thigh is inclined at rest.
///
/// Over every buffered thigh sample that is near rest (|acc| within 0.1 g of 1 g, rate below
/// 30 °/s) with the long axis more than 45° from vertical, sums `z · up` with `z = x × y` from the
/// candidate hinge axis `j1`. Returns the sum's sign as ±1 when such moments add up to at least
/// half a second's worth of samples at ~100 Hz with a clear vote, else `None`.
fn thigh_posture_evidence(
    samples: &[WinSample],
    bias: (Vector3<f64>, Vector3<f64>),
    long: Vector3<f64>,
    j1: Vector3<f64>,
) -> Option<f64> {
    let x = long.normalize();
    let z = x.cross(&(j1 - x * j1.dot(&x)).normalize());
    let (mut vote, mut n) = (0.0, 0usize);
    for s in samples {
        let a = s.acc - bias.1;
        let an = a.norm();
        if (an / 9.81 - 1.0).abs() > 0.1 || (s.gyr - bias.0).norm() > 30f64.to_radians() {
            continue;
        }
        let up = a / an;
        if up.dot(&x).abs() < 45f64.to_radians().cos() {
            vote += z.dot(&up);
            n += 1;
        }
    }
    (n >= 50 && vote.abs() > 0.3 * n as f64).then_some(vote.signum())
}

/// Accelerometer bias from the standing pose and a later movement window.
///
/// The gyro (bias removed) carries the sensor frame from the standing reference at `t_ref_s`
/// through the window: `ΔR(t)` maps current sensor axes into the reference frame. If the world
/// acceleration averages out over the window (swings and hinges start and end at rest),
/// `mean(ΔR·a) = a_stand − b + mean(ΔR)·b`, so `(I − mean ΔR)·b = a_stand − mean(ΔR·a)`. Only the
/// components the poses observe are solved (a rotation says nothing about the bias along its axis);
/// the rest stay 0. A bias beyond 0.1 g means the assumption failed, and none is applied.
fn estimate_acc_bias(
    samples: &[WinSample],
    t_ref_s: f64,
    window: TimeWindow,
    gyr_bias: Vector3<f64>,
    a_stand: Vector3<f64>,
) -> Vector3<f64> {
    let mut delta = UnitQuaternion::identity();
    let mut last: Option<(f64, Vector3<f64>)> = None;
    let mut m_rot = Matrix3::zeros();
    let mut m_acc = Vector3::zeros();
    let mut n = 0usize;
    for s in samples.iter().filter(|s| s.t_s >= t_ref_s) {
        if let Some((t, g)) = last {
            // Trapezoid rule: samples are instantaneous rates, so the step uses their mean.
            let dt = (s.t_s - t).clamp(0.0, 0.5);
            delta *= UnitQuaternion::from_scaled_axis(((s.gyr + g) * 0.5 - gyr_bias) * dt);
        }
        last = Some((s.t_s, s.gyr));
        if window.contains(s.t_s) {
            let r = delta.to_rotation_matrix().into_inner();
            m_rot += r;
            m_acc += r * s.acc;
            n += 1;
        }
    }
    if n < 20 {
        return Vector3::zeros();
    }
    let (m_rot, m_acc) = (m_rot / n as f64, m_acc / n as f64);
    let a = Matrix3::identity() - m_rot;
    let rhs = a_stand - m_acc;
    let svd = a.svd(true, true);
    let (Some(u), Some(v_t)) = (svd.u, svd.v_t) else {
        return Vector3::zeros();
    };
    let mut b = Vector3::zeros();
    for k in 0..3 {
        let sv = svd.singular_values[k];
        // Directions the window's rotations barely excite are left unsolved.
        if sv > 0.25 {
            b += v_t.row(k).transpose() * (u.column(k).dot(&rhs) / sv);
        }
    }
    if b.norm() > 0.1 * 9.81 {
        Vector3::zeros()
    } else {
        b
    }
}

/// Largest difference between the accelerometer-bias estimates of the two halves of a movement
/// window that is still accepted, m/s². Good timing and a true bias agree to a few mg; a stream
/// whose sample times are uncertain (lost samples without a device clock) makes the gyro-carried
/// reference drift, and the halves then disagree by tens of mg.
const MAX_ACC_BIAS_SPLIT_M_S2: f64 = 0.03;

/// [`estimate_acc_bias`] over the whole window, kept when both halves of the window agree within
/// [`MAX_ACC_BIAS_SPLIT_M_S2`] or within half the bias; otherwise no bias is applied (its error
/// would exceed the bias itself). Jittery sample times (a logger's clock, ±6 ms at 100 Hz) split
/// the halves by a few hundredths while the estimate stays good.
fn consistent_acc_bias(
    samples: &[WinSample],
    t_ref_s: f64,
    window: TimeWindow,
    gyr_bias: Vector3<f64>,
    a_stand: Vector3<f64>,
) -> Vector3<f64> {
    let mid_s = 0.5 * (window.start_s + window.end_s);
    let halves = [
        TimeWindow {
            start_s: window.start_s,
            end_s: mid_s,
        },
        TimeWindow {
            start_s: mid_s,
            end_s: window.end_s,
        },
    ]
    .map(|w| estimate_acc_bias(samples, t_ref_s, w, gyr_bias, a_stand));
    let whole = estimate_acc_bias(samples, t_ref_s, window, gyr_bias, a_stand);
    // Kept when the halves agree, or disagree by less than half the bias: its error is then
    // smaller than the bias it removes (jittery sample times widen the split a little).
    let split = (halves[0] - halves[1]).norm();
    if split > MAX_ACC_BIAS_SPLIT_M_S2.max(0.5 * whole.norm()) {
        return Vector3::zeros();
    }
    whole
}

/// Pairs each sample of `a` with the sample of `b` nearest in time (both sorted).
fn pair_windows<'a>(a: &'a [WinSample], b: &'a [WinSample]) -> Vec<(&'a WinSample, &'a WinSample)> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for s in a {
        while j + 1 < b.len() && (b[j + 1].t_s - s.t_s).abs() <= (b[j].t_s - s.t_s).abs() {
            j += 1;
        }
        if let Some(bj) = b.get(j).filter(|bj| (bj.t_s - s.t_s).abs() < 0.05) {
            out.push((s, bj));
        }
    }
    out
}

/// Heading offset (cos δ, sin δ) that aligns the two hinge axes' horizontal projections.
fn instant_delta(a: &Matrix3<f64>, b: &Matrix3<f64>) -> (f64, f64) {
    let (ya, yb) = (a.column(1), b.column(1));
    let d = wrap_pi(ya.y.atan2(ya.x) - yb.y.atan2(yb.x));
    (d.cos(), d.sin())
}

fn swing_angles_deg(
    pairs: &[(&WinSample, &WinSample)],
    t: &SegmentCalibration,
    s: &SegmentCalibration,
) -> Vec<f64> {
    let (ft, fs) = (t.sensor_from_segment(), s.sensor_from_segment());
    pairs
        .iter()
        .map(|(a, b)| {
            let r_t = a.q.to_rotation_matrix().into_inner() * ft;
            let r_s = b.q.to_rotation_matrix().into_inner() * fs;
            hinge_angle_rad(&r_t, &r_s, instant_delta(&r_t, &r_s)).to_degrees()
        })
        .collect()
}

fn rms_norm(v: &[Vector3<f64>]) -> f64 {
    (v.iter().map(|g| g.norm_squared()).sum::<f64>() / v.len().max(1) as f64).sqrt()
}
