//! Kinematic simulator (form-spec 5.1): synthesises IMU CSV v1 recordings and ground truth.
//!
//! A [`Scenario`] describes one recording: stretch type, side, geometry, mounting and the joint
//! angle trajectories ψ, φ, θh, θk as sums of [`Term`]s in scenario time. [`simulate`] lays the
//! scenario out behind the standard calibration prefix (see [`scenario`] for the timing table:
//! `T0` is 22 s without and 30 s with a pelvis sensor), runs the sagittal chain
//! `R_pelvis = R_y(ψ + φ)`, `R_thigh = R_pelvis·R_y(−θh)`, `R_shank = R_thigh·R_y(θk)` on a
//! ≥ 1 kHz grid, low-pass filters (zero-phase FIR, cutoff 0.4·rate) and decimates to `rate_hz`,
//! then adds the `realistic` sensor errors if asked.
//!
//! Scenarios come from [`preset`] (S1..S12, S11b and the robustness fixtures) or from a TOML
//! file via [`load_scenario`]; the file format is documented in [`scenario_file`].
//!
//! Header keys written besides the DESIGN 3.1 ones: `scenario`, `variant`, `seed`,
//! `block_offset_s` (T0) and `history_deg` (space-separated, only when non-empty).

mod presets;
pub mod routine;
pub mod scenario;
pub mod scenario_file;
mod synth;
#[cfg(test)]
mod tests;
pub mod traj;

pub use presets::{preset, preset_names};
pub use scenario::{Layout, Pose, Prelude, Scenario, SwingPosture, SwingStyle};
pub use synth::GRAVITY_M_S2;
pub use traj::Term;

use crate::model::{ImuSample, TimeWindow};
use crate::record::{ImuCsvWriter, Marker, RecordError, RecordingHeader};
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Errors of the simulator; each message is one line naming the file or key and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A scenario file could not be read.
    #[error("{}: cannot read scenario file: {source}", path.display())]
    Read {
        /// File being read.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A scenario file is malformed.
    #[error("{}: {message}", path.display())]
    Scenario {
        /// File being read.
        path: PathBuf,
        /// Which key is wrong and what was expected.
        message: String,
    },
    /// Scenario or options fail validation.
    #[error("{what}: {message}")]
    Invalid {
        /// What was checked, e.g. `scenario 'S1'` or `sim options`.
        what: String,
        /// Which field is wrong and what was expected.
        message: String,
    },
    /// An output file could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// File being written.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The recording writer failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A name that is neither a preset nor a file.
    #[error("unknown scenario '{name}': not a preset ({}) or the routine, and no such file", preset_names().join(", "))]
    Unknown {
        /// The name given.
        name: String,
    },
}

/// What the simulator can play: one scenario, or a routine of several (one block each).
#[derive(Debug, Clone, PartialEq)]
pub enum Simulation {
    /// One scenario: one exercise block.
    One(Box<Scenario>),
    /// Several scenarios one after the other ([`routine`]).
    Routine(Vec<Scenario>),
}

impl Simulation {
    /// A preset (S1…), `routine` (the built-in routine of both legs) or a scenario TOML file.
    pub fn resolve(name: &str) -> Result<Simulation, SimError> {
        if let Some(s) = preset(name) {
            return Ok(Simulation::One(Box::new(s)));
        }
        if name == "routine" {
            return Ok(Simulation::Routine(routine::routine_pieces()));
        }
        let path = Path::new(name);
        if path.exists() {
            return load_scenario(path).map(|s| Simulation::One(Box::new(s)));
        }
        Err(SimError::Unknown { name: name.into() })
    }

    /// Its name (the scenario's, or `routine`).
    pub fn name(&self) -> &str {
        match self {
            Simulation::One(s) => &s.name,
            Simulation::Routine(_) => "routine",
        }
    }

    /// Whether a pelvis sensor is worn.
    pub fn pelvis_sensor(&self) -> bool {
        match self {
            Simulation::One(s) => s.pelvis_sensor,
            Simulation::Routine(p) => p.iter().any(|s| s.pelvis_sensor),
        }
    }

    /// Synthesises the recording.
    pub fn run(&self, opts: &SimOptions) -> SimOutput {
        match self {
            Simulation::One(s) => simulate(s, opts),
            Simulation::Routine(p) => routine::simulate_routine(p, opts),
        }
    }
}

/// Noise model of a simulated recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// Noise-free.
    #[default]
    Clean,
    /// Gyro/acc noise and bias, per-sensor timestamp offsets and single-sample drops.
    Realistic,
}

impl Variant {
    /// Name used on the command line and in headers (`clean`, `realistic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Clean => "clean",
            Variant::Realistic => "realistic",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "clean" => Ok(Variant::Clean),
            "realistic" => Ok(Variant::Realistic),
            _ => Err(format!(
                "unknown variant '{s}' (expected clean or realistic)"
            )),
        }
    }
}

/// How to synthesise: output rate, noise variant and random seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimOptions {
    /// Output sample rate per sensor, Hz (1..=1000; 50..200 is the tested range).
    pub rate_hz: f64,
    /// Noise model.
    pub variant: Variant,
    /// Seed of the ChaCha8 generator behind every random draw.
    pub seed: u64,
    /// Realistic gyro bias bound, °/s (bias drawn U(−max, max) per axis); `None` means 1.0.
    pub gyro_bias_max_deg_s: Option<f64>,
}

impl SimOptions {
    /// Options with the default gyro bias bound.
    pub fn new(rate_hz: f64, variant: Variant, seed: u64) -> SimOptions {
        SimOptions {
            rate_hz,
            variant,
            seed,
            gyro_bias_max_deg_s: None,
        }
    }

    /// Checks the rate and bias bound.
    pub fn validate(&self) -> Result<(), SimError> {
        let invalid = |message: String| SimError::Invalid {
            what: "sim options".into(),
            message,
        };
        if !(self.rate_hz.is_finite() && (1.0..=1000.0).contains(&self.rate_hz)) {
            return Err(invalid(format!(
                "rate_hz: expected 1..1000 Hz, found {}",
                self.rate_hz
            )));
        }
        if let Some(b) = self.gyro_bias_max_deg_s
            && !(b.is_finite() && b >= 0.0)
        {
            return Err(invalid(format!(
                "gyro_bias_max_deg_s: expected a non-negative number, found {b}"
            )));
        }
        Ok(())
    }
}

/// Ground truth at one output instant (recording time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TruthRow {
    /// Output instant `k/rate_hz`, seconds (without any sensor timestamp offset).
    pub t_s: f64,
    /// Knee flexion θk, degrees.
    pub knee_flexion_deg: f64,
    /// Hip flexion θh, degrees.
    pub hip_flexion_deg: f64,
    /// Thigh elevation θte = asin(x_thigh · z), degrees.
    pub leg_raise_deg: f64,
    /// Pelvic tilt φ relative to standing, degrees.
    pub pelvic_tilt_deg: f64,
}

/// One simulated recording.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOutput {
    /// Header to write (DESIGN 3.1 keys plus the simulator's extra keys).
    pub header: RecordingHeader,
    /// Samples sorted by `t_s`, sensors interleaved.
    pub samples: Vec<ImuSample>,
    /// Truth at every output instant.
    pub truth: Vec<TruthRow>,
}

/// Reads and validates a TOML scenario file (format in [`scenario_file`]).
pub fn load_scenario(path: &Path) -> Result<Scenario, SimError> {
    let text = std::fs::read_to_string(path).map_err(|source| SimError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    scenario_file::parse_scenario(&text).map_err(|message| SimError::Scenario {
        path: path.to_path_buf(),
        message,
    })
}

/// Checks a scenario before simulation (presets and loaded files are already valid).
pub fn validate_scenario(scn: &Scenario) -> Result<(), SimError> {
    scn.validate().map_err(|message| SimError::Invalid {
        what: format!("scenario '{}'", scn.name),
        message,
    })
}

/// The recording header of `scn` laid out by `layout`.
fn header(scn: &Scenario, layout: &Layout, opts: &SimOptions, rate_hz: f64) -> RecordingHeader {
    let window = |start_s, end_s| Some(TimeWindow { start_s, end_s });
    let (block_start_s, block_end_s) = match scn.block_markers_s {
        Some((a, b)) => (layout.block_offset_s + a, layout.block_offset_s + b),
        None => (layout.block_offset_s, layout.end_s),
    };
    let mut extra = vec![
        ("scenario".to_string(), scn.name.clone()),
        ("variant".to_string(), opts.variant.to_string()),
        ("seed".to_string(), opts.seed.to_string()),
        (
            "block_offset_s".to_string(),
            layout.block_offset_s.to_string(),
        ),
    ];
    if !scn.history_deg.is_empty() {
        let h: Vec<String> = scn.history_deg.iter().map(f64::to_string).collect();
        extra.push(("history_deg".to_string(), h.join(" ")));
    }
    RecordingHeader {
        side: Some(scn.side),
        stretch: Some(scn.stretch),
        calibration_static: window(0.0, scenario::STATIC_END_S),
        calibration_functional: window(scenario::SWING_START_S, scenario::SWING_END_S),
        pelvis_calibration_functional: if scn.pelvis_sensor {
            window(scenario::HINGE_START_S, scenario::HINGE_END_S)
        } else {
            None
        },
        markers: vec![
            Marker {
                t_s: block_start_s,
                label: "block.start".into(),
            },
            Marker {
                t_s: block_end_s,
                label: "block.end".into(),
            },
        ],
        rate_hz: Some(rate_hz),
        sensor_models: Vec::new(),
        extra,
        plan_entries: Vec::new(),
    }
}

/// Synthesises the recording described by `scn`.
///
/// Never panics: an out-of-range rate is clamped to 1..1000 Hz (non-finite becomes 100 Hz) and the
/// recording is cut at 1 h; call [`SimOptions::validate`] and [`validate_scenario`] to reject such
/// input instead.
pub fn simulate(scn: &Scenario, opts: &SimOptions) -> SimOutput {
    let rate_hz = if opts.rate_hz.is_finite() {
        opts.rate_hz.clamp(1.0, 1000.0)
    } else {
        100.0
    };
    let opts = SimOptions { rate_hz, ..*opts };
    let layout = scn.layout();
    let end_s = if layout.end_s.is_finite() {
        layout.end_s.min(scenario::MAX_RECORDING_S)
    } else {
        0.0
    };
    let n_out = synth::output_count(end_s, rate_hz);
    SimOutput {
        header: header(scn, &layout, &opts, rate_hz),
        samples: synth::samples(scn, &layout, &opts, n_out),
        truth: synth::truth(scn, &layout, rate_hz, n_out),
    }
}

/// Writes the truth CSV (`t_s,knee_flexion_deg,hip_flexion_deg,leg_raise_deg,pelvic_tilt_deg`).
pub fn write_truth_csv(path: &Path, truth: &[TruthRow]) -> Result<(), SimError> {
    let werr = |source| SimError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut w = BufWriter::new(File::create(path).map_err(werr)?);
    writeln!(
        w,
        "t_s,knee_flexion_deg,hip_flexion_deg,leg_raise_deg,pelvic_tilt_deg"
    )
    .map_err(werr)?;
    for r in truth {
        writeln!(
            w,
            "{:.6},{:.6},{:.6},{:.6},{:.6}",
            r.t_s, r.knee_flexion_deg, r.hip_flexion_deg, r.leg_raise_deg, r.pelvic_tilt_deg
        )
        .map_err(werr)?;
    }
    w.flush().map_err(werr)
}

/// Writes the IMU CSV v1 recording and the truth CSV.
pub fn write_recording(
    out: &SimOutput,
    imu_path: &Path,
    truth_path: &Path,
) -> Result<(), SimError> {
    let werr = |source| SimError::Write {
        path: imu_path.to_path_buf(),
        source,
    };
    let mut w = ImuCsvWriter::create(imu_path, &out.header)?;
    for s in &out.samples {
        w.write(s).map_err(werr)?;
    }
    w.flush().map_err(werr)?;
    write_truth_csv(truth_path, &out.truth)
}
