//! Replaying a recording for its angles: the [`Session`] with the form stage off, fed by a
//! recording file ([`RecordingFile`]) or by samples in memory. The commands use the session with
//! its sinks directly; these functions serve library callers and tests that want frames only.

use crate::calibration::CalibrationProfile;
use crate::model::{ImuSample, JointAngles};
use crate::pipeline::PipelineParams;
use crate::record::RecordingHeader;
use crate::session::plan::{PlanBuilder, blocks_marked, header_entries};
use crate::session::sinks::FrameFn;
use crate::session::source::RecordingFile;
use crate::session::{Session, SessionConfig, SessionError, SessionReport};
use std::path::{Path, PathBuf};

pub use crate::session::source::{is_raw_log, raw_log_header};

/// Errors of a replay run (the session's).
pub type ReplayError = SessionError;

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

/// What a replay saw: the header and the figures tests check.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    /// Recording header (with markers found between rows).
    pub header: RecordingHeader,
    /// Profile used (the last one, after any recalibration).
    pub profile: Option<CalibrationProfile>,
    /// Whether the profile came from the recording itself.
    pub calibrated_from_recording: bool,
    /// First sample time, s.
    pub t_first_s: f64,
    /// Last sample time, s.
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
    /// Samples dropped as physically implausible ([`crate::limits`]).
    pub implausible_samples: u64,
    /// When the session's movements last refined the calibration, s.
    pub calibration_refined_at_s: Option<f64>,
    /// Later calibrations that failed (the previous profile went on): time, reason.
    pub failed_calibrations: Vec<(f64, String)>,
    /// Min and max knee flexion over the exercise blocks.
    pub knee_range_deg: Option<(f64, f64)>,
    /// Min and max leg-raise angle over the exercise blocks.
    pub leg_raise_range_deg: Option<(f64, f64)>,
    /// Min and max hip flexion over the exercise blocks.
    pub hip_range_deg: Option<(f64, f64)>,
}

impl ReplaySummary {
    fn from(header: RecordingHeader, r: SessionReport, skipped_rows: usize) -> Self {
        ReplaySummary {
            header,
            profile: r.profile,
            calibrated_from_recording: r.calibrated_from_recording,
            t_first_s: r.t_first_s,
            t_last_s: r.t_last_s,
            samples: r.samples,
            frames: r.frames,
            gap_frames: r.gap_frames,
            rate_hz: r.rate_hz,
            skipped_rows,
            implausible_samples: r.implausible_samples,
            calibration_refined_at_s: r.calibration_refined_at_s,
            failed_calibrations: r.failed_calibrations,
            knee_range_deg: r.knee_range_deg,
            leg_raise_range_deg: r.leg_raise_range_deg,
            hip_range_deg: r.hip_range_deg,
        }
    }

    /// Sample rate of one sensor over the recording, Hz.
    pub fn rate_of(&self, role: crate::model::SensorRole) -> Option<f64> {
        let n = self.samples[role.index()];
        let d = self.t_last_s - self.t_first_s;
        (n > 1 && d > 0.0).then(|| (n - 1) as f64 / d)
    }
}

/// Loads `opts.calibration`, naming the profile in the error.
pub fn load_profile(opts: &ReplayOptions) -> Result<Option<CalibrationProfile>, SessionError> {
    opts.calibration
        .as_ref()
        .map(|p| {
            CalibrationProfile::load(p).map_err(|source| SessionError::Calibration {
                file: p.clone(),
                source,
            })
        })
        .transpose()
}

/// Replays a recording (IMU CSV v1 or raw notification log), calling `on_frame` for every output
/// frame in time order.
pub fn replay_file(
    path: &Path,
    opts: &ReplayOptions,
    mut on_frame: impl FnMut(&JointAngles),
) -> Result<ReplaySummary, ReplayError> {
    let file = RecordingFile::open(path, opts.skip_bad_rows)?;
    let mut cfg = file.session_config(&Default::default());
    cfg.profile = load_profile(opts)?;
    cfg.params = opts.params;
    let mut session = Session::new(cfg);
    let r = file.run(
        &mut session,
        &mut FrameFn(|f: &crate::session::Frame| on_frame(&f.angles)),
    )?;
    Ok(ReplaySummary::from(r.header, r.session, r.skipped_rows))
}

/// Calibrates only (what `stretchwatch calibrate FILE` does): the profile of the first
/// calibration pair.
pub fn calibrate_file(path: &Path, skip_bad_rows: bool) -> Result<CalibrationProfile, ReplayError> {
    let file = RecordingFile::open(path, skip_bad_rows)?;
    let mut session = Session::new(file.session_config(&Default::default()));
    let mut sink = FirstProfile(None);
    file.run(&mut session, &mut sink)?;
    sink.0.ok_or_else(|| SessionError::Calibration {
        file: path.to_path_buf(),
        source: crate::calibration::CalibrationError::MissingWindow("calibration.static"),
    })
}

/// Keeps the first profile of a pass.
struct FirstProfile(Option<CalibrationProfile>);

impl crate::session::SessionSink for FirstProfile {
    fn output(
        &mut self,
        out: &crate::session::Output<'_>,
    ) -> Result<(), crate::session::SinkError> {
        if let crate::session::Output::Calibrated { profile, .. } = out {
            self.0.get_or_insert_with(|| (*profile).clone());
        }
        Ok(())
    }
}

/// Same as [`replay_file`] for samples already in memory (simulator output, tests).
pub fn replay_samples(
    header: &RecordingHeader,
    samples: &[ImuSample],
    opts: &ReplayOptions,
    mut on_frame: impl FnMut(&JointAngles),
) -> Result<ReplaySummary, ReplayError> {
    let mut cfg = SessionConfig::new("<memory>");
    cfg.side = header.side.unwrap_or_default();
    cfg.stretch = header.stretch.unwrap_or_default();
    cfg.rate_hz = header.rate_hz;
    cfg.blocks_marked = blocks_marked(header);
    cfg.profile = load_profile(opts)?;
    cfg.params = opts.params;
    let mut session = Session::new(cfg);
    let mut sink = FrameFn(|f: &crate::session::Frame| on_frame(&f.angles));
    let mut plan = PlanBuilder::new();
    let mut items = Vec::new();
    for (k, v) in header_entries(header) {
        plan.entry(&k, &v, &mut |i| items.push(i)).map_err(|m| {
            SessionError::Record(crate::record::RecordError::Parse {
                file: PathBuf::from("<memory>"),
                line: 0,
                column: Some(k.clone()),
                message: m,
            })
        })?;
    }
    plan.flush(&mut |i| items.push(i));
    for i in items {
        session.plan(i, &mut sink)?;
    }
    session.check_calibration_source()?;
    for s in samples {
        session.push_sample(s, &mut sink)?;
    }
    let report = session.finish(&mut sink)?;
    Ok(ReplaySummary::from(header.clone(), report, 0))
}
