//! Replaying a recording file through the core pipeline.
//!
//! Two streaming passes, so memory stays flat whatever the file size: the first reads only up to the
//! end of the calibration windows (calibration and rate), the second runs the pipeline over it all.
//!
//! Two sample sources: IMU CSV v1 (DESIGN 3.1) and the raw notification log (DESIGN 3.2), told
//! apart by the first line. A raw log is decoded through the same [`Assembler`] live mode uses
//! (decoders, clock mapping, merge), so it replays to exactly the samples live mode saw; its
//! header and `marker` records become the recording header ([`raw_log_header`]).

use crate::calibration::{CalibrationError, CalibrationProfile, Calibrator};
use crate::model::{ImuSample, JointAngles, SensorRole, StretchType};
use crate::pipeline::{Pipeline, PipelineParams};
use crate::record::raw_log::{RawEntry, RawLogHeader, RawLogReader, is_raw_log_line};
use crate::record::{ImuCsvReader, RecordError, RecordingHeader};
use crate::source::{Assembled, Assembler};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Errors of a replay run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The recording is unreadable or malformed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// Calibration failed or the profile is unusable.
    #[error("{file}: {source}")]
    Calibration {
        /// Recording or profile concerned.
        file: PathBuf,
        /// Underlying problem.
        source: CalibrationError,
    },
    /// The recording has no samples of a sensor the pipeline needs.
    #[error(
        "{file}: no {role} samples in the recording (stretchwatch needs thigh and shank sensors)"
    )]
    MissingSensor {
        /// Recording.
        file: PathBuf,
        /// Missing sensor.
        role: SensorRole,
    },
}

/// How to run a replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Skip and count malformed rows instead of stopping.
    pub skip_bad_rows: bool,
    /// Use this saved profile instead of calibrating from the recording's header windows.
    pub calibration: Option<PathBuf>,
    /// Core settings.
    pub params: PipelineParams,
}

/// What a replay saw: the human summary and the figures tests check.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    /// Recording header.
    pub header: RecordingHeader,
    /// Profile used.
    pub profile: Option<CalibrationProfile>,
    /// Whether the profile came from the recording itself.
    pub calibrated_from_recording: bool,
    /// First and last sample time.
    pub t_first_s: f64,
    /// Last sample time.
    pub t_last_s: f64,
    /// Samples per sensor role (thigh, shank, pelvis).
    pub samples: [usize; 3],
    /// Frames emitted.
    pub frames: usize,
    /// Frames marked as spanning a gap.
    pub gap_frames: usize,
    /// Output rate, Hz.
    pub rate_hz: f64,
    /// Rows skipped with `--skip-bad-rows`.
    pub skipped_rows: usize,
    /// Min and max knee flexion over the exercise block.
    pub knee_range_deg: Option<(f64, f64)>,
    /// Min and max leg-raise angle over the exercise block.
    pub leg_raise_range_deg: Option<(f64, f64)>,
    /// Min and max hip flexion over the exercise block.
    pub hip_range_deg: Option<(f64, f64)>,
    /// When the session's movements last refined the calibration (see
    /// [`Pipeline::calibration_refined_at_s`]).
    pub calibration_refined_at_s: Option<f64>,
}

impl ReplaySummary {
    /// Sample rate of one sensor over the recording, Hz.
    pub fn rate_of(&self, role: SensorRole) -> Option<f64> {
        let n = self.samples[role.index()];
        let d = self.t_last_s - self.t_first_s;
        (n > 1 && d > 0.0).then(|| (n - 1) as f64 / d)
    }
}

/// Everything the second pass needs, found by the first.
struct Prepared {
    header: RecordingHeader,
    profile: CalibrationProfile,
    from_recording: bool,
    rate_hz: f64,
    sensor_rates_hz: [f64; 3],
}

fn prepare(
    path: &Path,
    header: RecordingHeader,
    samples: &mut dyn Iterator<Item = Result<ImuSample, RecordError>>,
    opts: &ReplayOptions,
) -> Result<Prepared, ReplayError> {
    let cal_err = |file: &Path, source| ReplayError::Calibration {
        file: file.to_path_buf(),
        source,
    };
    let cal_end_s = match &opts.calibration {
        Some(_) => None,
        None => Some(
            [
                header.calibration_static,
                header.calibration_functional,
                header.pelvis_calibration_functional,
            ]
            .iter()
            .flatten()
            .map(|w| w.end_s)
            .fold(f64::NEG_INFINITY, f64::max),
        ),
    };
    // Bounded by the calibration windows (or 2 s of data for the rate estimate).
    let mut head = Vec::new();
    let mut seen = [false; 3];
    for s in samples {
        let s = s?;
        seen[s.role.index()] = true;
        let t0 = head.first().map(|f: &ImuSample| f.t_s).unwrap_or(s.t_s);
        let done = match cal_end_s {
            Some(end) => s.t_s > end && s.t_s - t0 > 2.0,
            None => s.t_s - t0 > 2.0,
        };
        if done && seen[0] && seen[1] {
            break;
        }
        head.push(s);
    }
    for role in [SensorRole::Thigh, SensorRole::Shank] {
        if !seen[role.index()] {
            return Err(ReplayError::MissingSensor {
                file: path.to_path_buf(),
                role,
            });
        }
    }
    // The header's nominal rate wins; otherwise each sensor's rate is estimated from its intervals
    // and frames are emitted at the thigh's rate.
    let sensor_rates_hz: [f64; 3] = std::array::from_fn(|i| {
        header
            .rate_hz
            .unwrap_or_else(|| estimate_rate(&head, SensorRole::ALL[i]))
    });
    let rate_hz = sensor_rates_hz[SensorRole::Thigh.index()];
    let (profile, from_recording) = match &opts.calibration {
        Some(p) => (
            CalibrationProfile::load(p).map_err(|e| cal_err(p, e))?,
            false,
        ),
        None => {
            let mut c = Calibrator::with_sensor_rates(&header, sensor_rates_hz)
                .map_err(|e| cal_err(path, e))?;
            head.iter().for_each(|s| c.push(s));
            (c.finish().map_err(|e| cal_err(path, e))?, true)
        }
    };
    Ok(Prepared {
        header,
        profile,
        from_recording,
        rate_hz,
        sensor_rates_hz,
    })
}

/// Nominal rate of one sensor from its sample intervals (median, robust to drops).
fn estimate_rate(samples: &[ImuSample], role: SensorRole) -> f64 {
    let t: Vec<f64> = samples
        .iter()
        .filter(|s| s.role == role)
        .map(|s| s.t_s)
        .collect();
    let mut dts: Vec<f64> = t
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .collect();
    if dts.is_empty() {
        return 100.0;
    }
    dts.sort_by(f64::total_cmp);
    round_rate(1.0 / dts[dts.len() / 2])
}

/// Snaps an estimated rate to a nearby round value (sensor rates are nominal integers).
fn round_rate(r: f64) -> f64 {
    if (r - r.round()).abs() / r < 0.02 {
        r.round()
    } else {
        r
    }
}

/// Calibrates only (what `stretchwatch calibrate FILE` does).
pub fn calibrate_file(path: &Path, skip_bad_rows: bool) -> Result<CalibrationProfile, ReplayError> {
    let opts = ReplayOptions {
        skip_bad_rows,
        ..Default::default()
    };
    if is_raw_log(path)? {
        let (_, header) = raw_log_header(path)?;
        let mut samples = RawLogSamples::open(path)?;
        return Ok(prepare(path, header, &mut samples, &opts)?.profile);
    }
    let mut reader = ImuCsvReader::open(path, skip_bad_rows)?;
    let header = reader.header().clone();
    Ok(prepare(path, header, &mut reader, &opts)?.profile)
}

fn widen(r: &mut Option<(f64, f64)>, v: Option<f64>) {
    if let Some(v) = v {
        *r = Some(match *r {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }
}

/// Whether `path` is a raw notification log (its first line is the raw-log header object).
pub fn is_raw_log(path: &Path) -> Result<bool, RecordError> {
    let io = |source| RecordError::Io {
        file: path.to_path_buf(),
        source,
    };
    // Bytes, not text: a gzip-compressed CSV is not UTF-8 and is simply not a raw log.
    let mut first = Vec::new();
    BufReader::new(File::open(path).map_err(io)?)
        .read_until(b'\n', &mut first)
        .map_err(io)?;
    Ok(is_raw_log_line(&String::from_utf8_lossy(&first)))
}

/// The recording header a raw log stands for: `side`/`stretch` from its header object, the
/// thigh device's rate as `rate_hz`, `sensor.<role>.model` from family and name, then every
/// `marker` record applied in order (calibration windows, block markers).
pub fn raw_log_header(path: &Path) -> Result<(RawLogHeader, RecordingHeader), RecordError> {
    let mut reader = RawLogReader::open(path)?;
    let raw = reader.header().clone();
    let mut h = RecordingHeader::default();
    let bad = |m: String| RecordError::Parse {
        file: path.to_path_buf(),
        line: 1,
        column: None,
        message: m,
    };
    for (k, v) in &raw.keys {
        h.apply(k, v).map_err(bad)?;
    }
    if h.rate_hz.is_none() {
        h.rate_hz = raw
            .device(SensorRole::Thigh)
            .or(raw.devices.first())
            .map(|d| f64::from(d.rate_hz));
    }
    for d in &raw.devices {
        h.sensor_models.push((
            d.role,
            match &d.name {
                Some(n) => format!("{} {n}", d.family),
                None => d.family.to_string(),
            },
        ));
    }
    for rec in reader.by_ref() {
        if let RawEntry::Marker { key, value } = rec?.entry {
            h.apply(&key, &value).map_err(bad)?;
        }
    }
    Ok((raw, h))
}

/// Samples of a raw log, decoded and merged exactly as live mode does.
pub struct RawLogSamples {
    reader: RawLogReader<BufReader<File>>,
    assembler: Assembler,
    ready: VecDeque<ImuSample>,
    out: Vec<Assembled>,
    done: bool,
}

impl RawLogSamples {
    /// Opens `path` for a pass over its samples.
    pub fn open(path: &Path) -> Result<Self, RecordError> {
        let reader = RawLogReader::open(path)?;
        let assembler = Assembler::new(&reader.header().devices);
        Ok(RawLogSamples {
            reader,
            assembler,
            ready: VecDeque::new(),
            out: Vec::new(),
            done: false,
        })
    }

    /// The assembler (counters after the pass).
    pub fn assembler(&self) -> &Assembler {
        &self.assembler
    }

    fn take_ready(&mut self) {
        for a in self.out.drain(..) {
            if let Assembled::Sample(s) = a {
                self.ready.push_back(s);
            }
        }
    }
}

impl Iterator for RawLogSamples {
    type Item = Result<ImuSample, RecordError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(s) = self.ready.pop_front() {
                return Some(Ok(s));
            }
            if self.done {
                return None;
            }
            match self.reader.next_record() {
                Ok(Some(rec)) => self.assembler.push(&rec, &mut self.out),
                Ok(None) => {
                    self.assembler.finish(&mut self.out);
                    self.done = true;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            self.take_ready();
        }
    }
}

fn replay_raw_log(
    path: &Path,
    opts: &ReplayOptions,
    on_frame: impl FnMut(&JointAngles),
) -> Result<ReplaySummary, ReplayError> {
    let (_, header) = raw_log_header(path)?;
    let mut first = RawLogSamples::open(path)?;
    let prep = prepare(path, header.clone(), &mut first, opts)?;
    drop(first);
    let mut samples = RawLogSamples::open(path)?;
    let mut sum = run(&prep, &mut samples, opts, on_frame)?;
    sum.header = header;
    Ok(sum)
}

/// Replays a recording (IMU CSV v1 or raw notification log), calling `on_frame` for every output
/// frame in time order.
pub fn replay_file(
    path: &Path,
    opts: &ReplayOptions,
    on_frame: impl FnMut(&JointAngles),
) -> Result<ReplaySummary, ReplayError> {
    if is_raw_log(path)? {
        return replay_raw_log(path, opts, on_frame);
    }
    let mut first = ImuCsvReader::open(path, opts.skip_bad_rows)?;
    let header = first.header().clone();
    let prep = prepare(path, header, &mut first, opts)?;
    drop(first);
    let mut reader = ImuCsvReader::open(path, opts.skip_bad_rows)?;
    let mut sum = run(&prep, &mut reader, opts, on_frame)?;
    sum.skipped_rows = reader.skipped_rows();
    sum.header = reader.header().clone();
    Ok(sum)
}

/// Same as [`replay_file`] for samples already in memory (simulator output, tests).
pub fn replay_samples(
    header: &RecordingHeader,
    samples: &[ImuSample],
    opts: &ReplayOptions,
    on_frame: impl FnMut(&JointAngles),
) -> Result<ReplaySummary, ReplayError> {
    let path = Path::new("<memory>");
    let prep = prepare(
        path,
        header.clone(),
        &mut samples.iter().map(|s| Ok(*s)),
        opts,
    )?;
    let mut sum = run(&prep, &mut samples.iter().map(|s| Ok(*s)), opts, on_frame)?;
    sum.header = header.clone();
    Ok(sum)
}

fn run(
    prep: &Prepared,
    samples: &mut dyn Iterator<Item = Result<ImuSample, RecordError>>,
    opts: &ReplayOptions,
    mut on_frame: impl FnMut(&JointAngles),
) -> Result<ReplaySummary, ReplayError> {
    let stretch = prep.header.stretch.unwrap_or(StretchType::Supine);
    let mut pipeline = Pipeline::with_sensor_rates(
        &prep.profile,
        stretch,
        prep.rate_hz,
        prep.sensor_rates_hz,
        opts.params,
    );
    let mut sum = ReplaySummary {
        rate_hz: prep.rate_hz,
        calibrated_from_recording: prep.from_recording,
        t_first_s: f64::NAN,
        profile: Some(prep.profile.clone()),
        ..Default::default()
    };
    let block = prep.header.block_window();
    for s in samples {
        let s = s?;
        if sum.t_first_s.is_nan() {
            sum.t_first_s = s.t_s;
        }
        sum.t_last_s = s.t_s;
        sum.samples[s.role.index()] += 1;
        pipeline.push(&s, |a| {
            sum.frames += 1;
            sum.gap_frames += a.gap as usize;
            if block.contains(a.t_s) {
                widen(&mut sum.knee_range_deg, a.knee_flexion_deg);
                widen(&mut sum.leg_raise_range_deg, a.leg_raise_deg);
                widen(&mut sum.hip_range_deg, a.hip_flexion_deg);
            }
            on_frame(a);
        });
    }
    sum.calibration_refined_at_s = pipeline.calibration_refined_at_s();
    Ok(sum)
}
