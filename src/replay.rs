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

/// What a replay saw: the header and the session's counters.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    /// Recording header (with markers found between rows).
    pub header: RecordingHeader,
    /// The session's counters (profile, samples, frames, rate, block ranges).
    pub session: SessionReport,
    /// Rows skipped with `--skip-bad-rows`.
    pub skipped_rows: usize,
}

impl std::ops::Deref for ReplaySummary {
    type Target = SessionReport;
    fn deref(&self) -> &SessionReport {
        &self.session
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
    Ok(ReplaySummary {
        header: r.header,
        session: r.session,
        skipped_rows: r.skipped_rows,
    })
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
    Ok(ReplaySummary {
        header: header.clone(),
        session: report,
        skipped_rows: 0,
    })
}
