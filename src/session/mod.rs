//! [`Session`]: the one composition of calibration → orientation and kinematics → form over a
//! whole session of exercise blocks. Every command is "a source, the session, some sinks":
//! `replay`, `import` and `calibrate` feed it samples and plan entries read from a file
//! ([`source`]), `live` feeds it the samples its assembler decodes from BLE or simulated
//! notifications and the plan items it decides as the person moves. Whatever the source, the same
//! samples and plan give the same outputs, bit for bit.
//!
//! The session is synchronous and reads no clock. Its outputs ([`Output`]) go to one
//! [`SessionSink`] (fan out with [`Fanout`]): the samples as they arrive (recorder, store), plan
//! items (markers), calibration results, frames with their phase and hold, and typed events
//! ([`SessionEvent`]: form events tagged with their block, block edges with their figures, the
//! summary with its per-side figures). JSON is written only at the edges that need it.
//!
//! Blocks (DESIGN 3.1): each `block.start` begins a block with its side and stretch (defaults:
//! the session's), each `block.end` ends the open one; a recording that marks no blocks has one
//! after each calibration pair. Each block runs its own form engine, so phases, reps, dose and
//! figures are per block, while rep numbers count over the whole session. A calibration pair
//! arriving while the session runs (sensors moved to the other leg) is calibrated on its own
//! windows and its profile replaces the old one from the end of those windows on.

pub mod event;
pub mod plan;
pub mod sinks;
pub mod source;

pub use event::{BlockEdge, Figures, SessionEvent, Summary};
pub use plan::{CalibrationWindows, PlanBuilder, PlanItem};
pub use sinks::{Fanout, SessionSink, SinkError};

use crate::calibration::{CalibrationError, CalibrationProfile, Calibrator};
use crate::form::{Baseline, Event, FormConfig, FormContext, FormEngine, Phase};
use crate::model::{ImuSample, JointAngles, SensorRole, Side, StretchType, TimeWindow};
use crate::pipeline::{Pipeline, PipelineParams};
use std::collections::VecDeque;
use std::path::PathBuf;

/// Errors of a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Calibration failed or was impossible (no windows, too little movement).
    #[error("{file}: {source}")]
    Calibration {
        /// The recording or session concerned.
        file: PathBuf,
        /// Underlying problem.
        source: CalibrationError,
    },
    /// A sensor the pipeline needs never sent a sample.
    #[error(
        "{file}: no {role} samples in the recording (stretchwatch needs thigh and shank sensors)"
    )]
    MissingSensor {
        /// The recording or session concerned.
        file: PathBuf,
        /// Missing sensor.
        role: SensorRole,
    },
    /// A sink failed (it names its own file).
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The recording is unreadable or malformed.
    #[error(transparent)]
    Record(#[from] crate::record::RecordError),
    /// A sensor's samples arrive at a rate no supported sensor streams at.
    #[error(
        "{file}: {role} samples arrive at {rate_hz:.3} Hz; expected 10 to 2000 Hz (if the time column is right, add a '# rate_hz: N' header line)"
    )]
    Rate {
        /// Recording.
        file: PathBuf,
        /// Sensor.
        role: SensorRole,
        /// Estimated rate, Hz.
        rate_hz: f64,
    },
}

/// Excessive-range baselines (B with its Δ) for the blocks of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Baselines {
    /// Given for this run (`--baseline-deg`): every block uses it.
    pub explicit: Option<Baseline>,
    /// From stored history, per side (left, right) and stretch (supine, seated, standing).
    pub stored: [[Option<Baseline>; 3]; 2],
    /// From the recording itself (its `history_deg` key), when nothing else is known.
    pub recording: Option<Baseline>,
}

impl Baselines {
    /// The baseline for a block of `side` and `stretch`.
    pub fn for_block(&self, side: Side, stretch: StretchType) -> Option<Baseline> {
        self.explicit
            .or(self.stored[side_index(side)][stretch_index(stretch)])
            .or(self.recording)
    }

    /// Sets the stored baseline of one side and stretch.
    pub fn set_stored(&mut self, side: Side, stretch: StretchType, b: Option<Baseline>) {
        self.stored[side_index(side)][stretch_index(stretch)] = b;
    }
}

fn side_index(s: Side) -> usize {
    match s {
        Side::Left => 0,
        Side::Right => 1,
    }
}

fn stretch_index(s: StretchType) -> usize {
    match s {
        StretchType::Supine => 0,
        StretchType::Seated => 1,
        StretchType::Standing => 2,
    }
}

/// How a session runs.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// What the session is called in errors (the recording's path, or the live session's).
    pub name: PathBuf,
    /// Default side of blocks.
    pub side: Side,
    /// Default stretch of blocks.
    pub stretch: StretchType,
    /// Nominal sample rate of every sensor, Hz; `None`: estimated from the first 2 s.
    pub rate_hz: Option<f64>,
    /// A saved profile instead of calibrating on the plan's windows.
    pub profile: Option<CalibrationProfile>,
    /// Core settings.
    pub params: PipelineParams,
    /// Form stage settings; `None` computes angles only.
    pub form: Option<FormConfig>,
    /// Excessive-range baselines.
    pub baselines: Baselines,
    /// Whether blocks are marked; without, each calibration pair is followed by a block.
    pub blocks_marked: bool,
}

impl SessionConfig {
    /// A configuration with defaults: left supine, rate estimated, form stage off.
    pub fn new(name: impl Into<PathBuf>) -> Self {
        SessionConfig {
            name: name.into(),
            side: Side::default(),
            stretch: StretchType::default(),
            rate_hz: None,
            profile: None,
            params: PipelineParams::default(),
            form: None,
            baselines: Baselines::default(),
            blocks_marked: false,
        }
    }
}

/// One output frame with what the form stage says about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// The angles.
    pub angles: JointAngles,
    /// Phase (inside a block with automatic phases).
    pub phase: Option<Phase>,
    /// The form engine's static hold of the current rep so far, s (in HOLD).
    pub static_hold_s: Option<f64>,
    /// The block the frame lies in.
    pub block: Option<u32>,
}

/// Everything a session hands to its sinks, in order.
#[derive(Debug, Clone, Copy)]
pub enum Output<'a> {
    /// A sample as it arrived.
    Sample(&'a ImuSample),
    /// A plan item as it was given (a recorder writes it as a marker).
    Plan(&'a PlanItem),
    /// A calibration succeeded; its profile is used from now on.
    Calibrated {
        /// Time of the sample that completed it, s.
        t_s: f64,
        /// The profile.
        profile: &'a CalibrationProfile,
        /// True when it came from the recording's windows (not a saved profile).
        from_recording: bool,
    },
    /// A calibration asked for after the first one could not be done; the previous profile goes
    /// on (replay and live alike).
    CalibrationFailed {
        /// Time of the sample that closed its windows, s.
        t_s: f64,
        /// Why it failed, with what to do.
        error: &'a CalibrationError,
    },
    /// The session's own movements refined the calibration (see
    /// [`Pipeline::calibration_refined_at_s`]); the same frame in replay and live.
    CalibrationRefined {
        /// Frame time of the refinement, s.
        t_s: f64,
    },
    /// A form or block event, or the summary.
    Event(&'a SessionEvent),
    /// An output frame (after the events it caused).
    Frame(&'a Frame),
}

/// Counters of a finished (or running) session.
#[derive(Debug, Clone, Default)]
pub struct SessionReport {
    /// Profile in use at the end.
    pub profile: Option<CalibrationProfile>,
    /// Whether the first profile came from the recording.
    pub calibrated_from_recording: bool,
    /// Calibrations done from windows.
    pub calibrations: u32,
    /// Later calibrations that failed (the previous profile went on): time, reason.
    pub failed_calibrations: Vec<(f64, String)>,
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
    /// Samples dropped as physically implausible ([`crate::limits`]).
    pub implausible_samples: u64,
    /// When the session's movements last refined the calibration, s.
    pub calibration_refined_at_s: Option<f64>,
    /// Output rate, Hz.
    pub rate_hz: f64,
    /// Min and max knee flexion inside blocks.
    pub knee_range_deg: Option<(f64, f64)>,
    /// Min and max leg-raise angle inside blocks.
    pub leg_raise_range_deg: Option<(f64, f64)>,
    /// Min and max hip flexion inside blocks.
    pub hip_range_deg: Option<(f64, f64)>,
    /// Blocks, in order: side, stretch, start and end times.
    pub blocks: Vec<(Side, StretchType, TimeWindow)>,
    /// The summary (with the form stage).
    pub summary: Option<Summary>,
}

impl SessionReport {
    /// Sample rate of one sensor over the recording, Hz.
    pub fn rate_of(&self, role: SensorRole) -> Option<f64> {
        let n = self.samples[role.index()];
        let d = self.t_last_s - self.t_first_s;
        (n > 1 && d > 0.0).then(|| (n - 1) as f64 / d)
    }
}

/// Where calibration stands.
enum Stage {
    /// No profile yet: samples are held for the pipeline (and the first calibration).
    Starting,
    /// The first calibration pair is known; samples are held until its windows are over.
    Calibrating(CalibrationWindows),
    /// A profile is in use.
    Running,
    /// Calibration failed: samples still reach the sinks (the recording goes on), nothing else.
    Failed,
}

/// How far back the recent-sample ring reaches, seconds: a whole calibration procedure (standing
/// still, knee swings) and the time to recognise it.
const RECENT_S: f64 = 45.0;
/// Most samples the ring holds (fast sensors reach back less far).
const RECENT_MAX: usize = 100_000;
/// Samples before a recalibration's first window that run its orientation filters in, seconds.
const RECAL_LEAD_S: f64 = 2.0;

/// A recalibration in progress while the old profile still runs.
struct Recalibration {
    windows: CalibrationWindows,
    calibrator: Calibrator,
    held: Vec<ImuSample>,
}

/// Unrounded totals of a finished block.
#[derive(Debug, Clone)]
struct BlockTotals {
    side: Side,
    reps: u32,
    aborted: u32,
    static_s: f64,
    episodes: u32,
    active_s: f64,
    hold_angles: Vec<f64>,
    dose_target_s: f64,
}

/// The block the current engine runs.
#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    index: u32,
    side: Side,
    stretch: StretchType,
    start_s: f64,
    end_s: f64,
    announced: bool,
}

/// The session engine (see the module docs).
pub struct Session {
    cfg: SessionConfig,
    stage: Stage,
    held: Vec<ImuSample>,
    seen: [bool; 3],
    t_first_s: Option<f64>,
    rates_hz: Option<[f64; 3]>,
    pending_cal: VecDeque<CalibrationWindows>,
    recal: Option<Recalibration>,
    /// The latest samples (a fixed-capacity ring), for calibration windows decided after they began.
    recent: VecDeque<ImuSample>,
    pipeline: Option<Pipeline>,
    frames: Vec<JointAngles>,
    last_frame_t_s: f64,
    engine: Option<FormEngine>,
    block_queue: VecDeque<PlanItem>,
    block: Option<OpenBlock>,
    blocks_started: u32,
    done: Vec<BlockTotals>,
    rep_offset: u32,
    events: Vec<Event>,
    report: SessionReport,
    saw_calibration: bool,
    finished: bool,
}

fn widen(r: &mut Option<(f64, f64)>, v: Option<f64>) {
    if let Some(v) = v {
        *r = Some(match *r {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }
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
    let r = 1.0 / dts[dts.len() / 2];
    // Sensor rates are nominal integers: snap a close estimate.
    if (r - r.round()).abs() / r < 0.02 {
        r.round()
    } else {
        r
    }
}

/// Rounds to `1e-4` like the form events.
fn r4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

impl Session {
    /// A session that has seen nothing yet.
    pub fn new(cfg: SessionConfig) -> Self {
        let stage = if cfg.profile.is_some() {
            Stage::Running
        } else {
            Stage::Starting
        };
        let engine = cfg.form.map(|f| FormEngine::new(f, waiting_context(&cfg)));
        Session {
            stage: if matches!(stage, Stage::Running) && cfg.rate_hz.is_none() {
                // The rate is estimated from the first samples before the pipeline exists.
                Stage::Starting
            } else {
                stage
            },
            held: Vec::new(),
            seen: [false; 3],
            t_first_s: None,
            rates_hz: cfg.rate_hz.map(|r| [r; 3]),
            pending_cal: VecDeque::new(),
            recal: None,
            recent: VecDeque::new(),
            pipeline: None,
            frames: Vec::new(),
            last_frame_t_s: f64::NEG_INFINITY,
            engine,
            block_queue: VecDeque::new(),
            block: None,
            blocks_started: 0,
            done: Vec::new(),
            rep_offset: 0,
            events: Vec::new(),
            report: SessionReport {
                t_first_s: f64::NAN,
                calibrated_from_recording: false,
                ..Default::default()
            },
            saw_calibration: false,
            finished: false,
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn report(&self) -> &SessionReport {
        &self.report
    }

    /// The calibration windows being waited for (first calibration or a recalibration).
    pub fn calibrating(&self) -> Option<CalibrationWindows> {
        match (&self.stage, &self.recal) {
            (Stage::Calibrating(w), _) => Some(*w),
            (_, Some(r)) => Some(r.windows),
            _ => None,
        }
    }

    /// Whether a profile is in use.
    pub fn is_calibrated(&self) -> bool {
        self.pipeline.is_some()
    }

    /// The current block: 1-based index, side and stretch (once its first frame arrived).
    pub fn current_block(&self) -> Option<(u32, Side, StretchType)> {
        self.block
            .filter(|b| b.announced)
            .map(|b| (b.index, b.side, b.stretch))
    }

    /// Whether a block is open or waiting for its first frame.
    pub fn block_open(&self) -> bool {
        self.block.is_some()
            || self
                .block_queue
                .iter()
                .any(|i| matches!(i, PlanItem::BlockStart { .. }))
    }

    /// Time of the last frame, s.
    pub fn last_frame_t_s(&self) -> f64 {
        self.last_frame_t_s
    }

    /// Whether the range check of the current (or next) block has a baseline.
    pub fn has_baseline(&self, side: Side, stretch: StretchType) -> bool {
        self.cfg.baselines.for_block(side, stretch).is_some()
    }

    /// Fails when the plan can never give a profile: no saved profile and no calibration pair
    /// (file sources call this after their header, before streaming the whole file).
    pub fn check_calibration_source(&self) -> Result<(), SessionError> {
        if self.cfg.profile.is_some() || self.saw_calibration {
            return Ok(());
        }
        Err(SessionError::Calibration {
            file: self.cfg.name.clone(),
            source: CalibrationError::MissingWindow("calibration.static"),
        })
    }

    /// Adds one plan item (in stream order: before the samples after it).
    pub fn plan(&mut self, item: PlanItem, sink: &mut dyn SessionSink) -> Result<(), SessionError> {
        sink.output(&Output::Plan(&item))?;
        match item {
            PlanItem::Calibration(w) => {
                self.saw_calibration = true;
                if !self.cfg.blocks_marked {
                    // Unmarked recordings: the block is everything after each calibration pair.
                    if self.block_open() {
                        self.block_queue
                            .push_back(PlanItem::BlockEnd { t_s: w.start_s() });
                    }
                    self.block_queue.push_back(PlanItem::BlockStart {
                        t_s: w.end_s(),
                        side: None,
                        stretch: None,
                    });
                }
                match self.stage {
                    Stage::Starting if self.cfg.profile.is_none() => {
                        self.stage = Stage::Calibrating(w)
                    }
                    // The first calibration failed: try again on these windows, from now on.
                    Stage::Failed if self.pipeline.is_none() && self.cfg.profile.is_none() => {
                        self.held.clear();
                        self.stage = Stage::Calibrating(w);
                    }
                    // A saved profile replaces the windows the recording starts with.
                    _ if self.cfg.profile.is_some() && self.report.samples == [0; 3] => {}
                    _ => self.pending_cal.push_back(w),
                }
                self.start_recalibration();
            }
            PlanItem::BlockStart { .. } | PlanItem::BlockEnd { .. } => {
                self.block_queue.push_back(item)
            }
            PlanItem::Note { .. } => {}
        }
        self.apply_block_queue();
        Ok(())
    }

    fn start_recalibration(&mut self) {
        if self.recal.is_some() || !matches!(self.stage, Stage::Running) || self.pipeline.is_none()
        {
            return;
        }
        let Some(windows) = self.pending_cal.pop_front() else {
            return;
        };
        let rates = self.rates_hz.unwrap_or([100.0; 3]);
        let mut calibrator = Calibrator::for_windows(&windows, rates);
        // Windows that began before this decision (live recognised the procedure once it was
        // done) take their samples from the recent ones, with a little before for the filters.
        let from_s = windows.start_s() - RECAL_LEAD_S;
        let held: Vec<ImuSample> = self
            .recent
            .iter()
            .filter(|s| s.t_s >= from_s)
            .copied()
            .collect();
        held.iter().for_each(|s| calibrator.push(s));
        self.recal = Some(Recalibration {
            windows,
            calibrator,
            held,
        });
    }

    /// Feeds one sample (in arrival order). A calibration failure is returned once; the session
    /// then only passes samples on to the sinks.
    pub fn push_sample(
        &mut self,
        s: &ImuSample,
        sink: &mut dyn SessionSink,
    ) -> Result<(), SessionError> {
        sink.output(&Output::Sample(s))?;
        if crate::limits::check(s).is_err() {
            // Not part of the recording's span: the pipeline drops and counts it (the form stage
            // reports it); before the pipeline exists it waits with the others, in order.
            match self.stage {
                Stage::Running if self.pipeline.is_some() => self.pipe(s, sink)?,
                Stage::Failed => {}
                _ => self.held.push(*s),
            }
            return Ok(());
        }
        let i = s.role.index();
        self.seen[i] = true;
        self.report.samples[i] += 1;
        if self.report.t_first_s.is_nan() {
            self.report.t_first_s = s.t_s;
        }
        self.report.t_last_s = s.t_s;
        if self.cfg.form.is_some() && !self.cfg.blocks_marked && !self.saw_calibration {
            // No calibration pair precedes the samples (a saved profile): one block from the start.
            self.saw_calibration = true;
            self.block_queue.push_back(PlanItem::BlockStart {
                t_s: f64::NEG_INFINITY,
                side: None,
                stretch: None,
            });
            self.apply_block_queue();
        }
        match self.stage {
            Stage::Failed => Ok(()),
            Stage::Starting => {
                let t0 = *self.t_first_s.get_or_insert(s.t_s);
                if self.cfg.profile.is_some() && s.t_s - t0 > 2.0 && self.seen[0] && self.seen[1] {
                    // Saved profile, rate unknown: 2 s of data give the rate.
                    self.start_pipeline(self.cfg.profile.clone().expect("profile"), false, sink)?;
                    return self.run_sample(s, sink);
                }
                self.held.push(*s);
                Ok(())
            }
            Stage::Calibrating(w) => {
                let t0 = *self.t_first_s.get_or_insert(s.t_s);
                if s.t_s > w.end_s() && s.t_s - t0 > 2.0 && self.seen[0] && self.seen[1] {
                    self.calibrate_first(w, sink)?;
                    return self.run_sample(s, sink);
                }
                self.held.push(*s);
                Ok(())
            }
            Stage::Running => {
                if self.pipeline.is_none() {
                    // Saved profile with a known rate: the pipeline starts at the first sample.
                    self.t_first_s.get_or_insert(s.t_s);
                    self.start_pipeline(self.cfg.profile.clone().expect("profile"), false, sink)?;
                }
                self.run_sample(s, sink)
            }
        }
    }

    fn rates(&mut self) -> Result<[f64; 3], SessionError> {
        if let Some(r) = self.rates_hz {
            return Ok(r);
        }
        let r: [f64; 3] = std::array::from_fn(|i| estimate_rate(&self.held, SensorRole::ALL[i]));
        for (i, rate_hz) in r.iter().enumerate() {
            if self.seen[i] && !crate::limits::RATE_HZ.contains(rate_hz) {
                self.stage = Stage::Failed;
                return Err(SessionError::Rate {
                    file: self.cfg.name.clone(),
                    role: SensorRole::ALL[i],
                    rate_hz: *rate_hz,
                });
            }
        }
        // Frames follow the thigh's rate.
        self.rates_hz = Some(r);
        Ok(r)
    }

    fn calibrate_first(
        &mut self,
        w: CalibrationWindows,
        sink: &mut dyn SessionSink,
    ) -> Result<(), SessionError> {
        let rates = self.rates()?;
        let mut c = Calibrator::for_windows(&w, rates);
        self.held
            .iter()
            .filter(|s| crate::limits::check(s).is_ok())
            .for_each(|s| c.push(s));
        let result = c.finish();
        match result {
            Ok(p) => {
                self.report.calibrations += 1;
                self.start_pipeline(p, true, sink)
            }
            Err(source) => {
                self.stage = Stage::Failed;
                self.held = Vec::new();
                Err(SessionError::Calibration {
                    file: self.cfg.name.clone(),
                    source,
                })
            }
        }
    }

    fn start_pipeline(
        &mut self,
        profile: CalibrationProfile,
        from_recording: bool,
        sink: &mut dyn SessionSink,
    ) -> Result<(), SessionError> {
        let rates = self.rates()?;
        if self.recent.capacity() == 0 {
            let per_s: f64 = (0..3).filter(|&i| self.seen[i]).map(|i| rates[i]).sum();
            let cap = (per_s * RECENT_S) as usize;
            self.recent = VecDeque::with_capacity(cap.clamp(1024, RECENT_MAX));
        }
        // The latest sample seen: the one that completed the calibration or started the run.
        let t = self.report.t_last_s;
        sink.output(&Output::Calibrated {
            t_s: t,
            profile: &profile,
            from_recording,
        })?;
        self.report.rate_hz = rates[0];
        self.report.calibrated_from_recording = from_recording;
        let stretch = self.block.map_or(self.cfg.stretch, |b| b.stretch);
        self.pipeline = Some(Pipeline::with_sensor_rates(
            &profile,
            stretch,
            rates[0],
            rates,
            self.cfg.params,
        ));
        self.report.profile = Some(profile);
        self.stage = Stage::Running;
        let held = std::mem::take(&mut self.held);
        for s in &held {
            self.pipe(s, sink)?;
        }
        self.start_recalibration();
        Ok(())
    }

    fn run_sample(
        &mut self,
        s: &ImuSample,
        sink: &mut dyn SessionSink,
    ) -> Result<(), SessionError> {
        if self.recent.len() == self.recent.capacity() {
            self.recent.pop_front();
        }
        if self.recent.capacity() > 0 {
            self.recent.push_back(*s);
        }
        if let Some(r) = self.recal.as_mut() {
            if s.t_s > r.windows.end_s() {
                let r = self.recal.take().expect("recalibration");
                self.finish_recalibration(r, s.t_s, sink)?;
            } else {
                r.calibrator.push(s);
                r.held.push(*s);
            }
        }
        self.pipe(s, sink)
    }

    fn finish_recalibration(
        &mut self,
        r: Recalibration,
        now_s: f64,
        sink: &mut dyn SessionSink,
    ) -> Result<(), SessionError> {
        let profile = match r.calibrator.finish() {
            // Without hip hinges this time the pelvis sensor keeps its calibration: it stays on
            // the pelvis when the other sensors move to the other leg.
            Ok(mut p) if p.pelvis.is_none() && r.windows.pelvis_w.is_none() => {
                p.pelvis = self.report.profile.as_ref().and_then(|o| o.pelvis);
                p
            }
            Ok(p) => p,
            Err(error) => {
                // The old profile goes on, and so does the stream: a person who asked for a
                // calibration and did not do it loses nothing.
                self.report
                    .failed_calibrations
                    .push((now_s, error.to_string()));
                sink.output(&Output::CalibrationFailed {
                    t_s: now_s,
                    error: &error,
                })?;
                self.start_recalibration();
                return Ok(());
            }
        };
        let t = r.held.last().map_or(f64::NAN, |s| s.t_s);
        sink.output(&Output::Calibrated {
            t_s: t,
            profile: &profile,
            from_recording: true,
        })?;
        self.report.calibrations += 1;
        let rates = self.rates_hz.unwrap_or([100.0; 3]);
        let stretch = self.block.map_or(self.cfg.stretch, |b| b.stretch);
        let mut p =
            Pipeline::with_sensor_rates(&profile, stretch, rates[0], rates, self.cfg.params);
        // Prime the new orientation filters on the recalibration's samples; frames already
        // emitted by the old profile are not emitted again.
        for s in &r.held {
            p.push(s, |_| {});
        }
        self.pipeline = Some(p);
        self.report.profile = Some(profile);
        self.start_recalibration();
        Ok(())
    }

    fn pipe(&mut self, s: &ImuSample, sink: &mut dyn SessionSink) -> Result<(), SessionError> {
        let Some(p) = self.pipeline.as_mut() else {
            return Ok(());
        };
        let mut frames = std::mem::take(&mut self.frames);
        let refinements = p.calibration_refinements();
        p.push(s, |a| frames.push(*a));
        let refined = (p.calibration_refinements() != refinements)
            .then(|| p.calibration_refined_at_s())
            .flatten();
        let r = frames.drain(..).try_for_each(|a| self.frame(&a, sink));
        self.frames = frames;
        r?;
        if let Some(t_s) = refined {
            self.report.calibration_refined_at_s = Some(t_s);
            sink.output(&Output::CalibrationRefined { t_s })?;
        }
        Ok(())
    }

    fn frame(&mut self, a: &JointAngles, sink: &mut dyn SessionSink) -> Result<(), SessionError> {
        if a.t_s <= self.last_frame_t_s {
            return Ok(());
        }
        self.last_frame_t_s = a.t_s;
        self.report.frames += 1;
        self.report.gap_frames += a.gap as usize;
        self.report.implausible_samples += u64::from(a.implausible_samples);
        let mut frame = Frame {
            angles: *a,
            phase: None,
            static_hold_s: None,
            block: None,
        };
        if self.engine.is_some() {
            self.form_frame(a, &mut frame, sink)?;
        } else if let Some(b) = self.block {
            // Without the form stage the blocks still follow the plan (for the angle ranges).
            if a.t_s > b.end_s {
                self.block = None;
                self.apply_block_queue();
            } else if a.t_s >= b.start_s {
                frame.block = Some(b.index);
                self.in_block_ranges(a);
            }
        }
        sink.output(&Output::Frame(&frame))?;
        Ok(())
    }

    fn in_block_ranges(&mut self, a: &JointAngles) {
        widen(&mut self.report.knee_range_deg, a.knee_flexion_deg);
        widen(&mut self.report.leg_raise_range_deg, a.leg_raise_deg);
        widen(&mut self.report.hip_range_deg, a.hip_flexion_deg);
    }

    /// Applies block items to the engine as far as it can take them now.
    fn apply_block_queue(&mut self) {
        while let Some(item) = self.block_queue.front().copied() {
            match item {
                PlanItem::BlockStart { t_s, side, stretch } => {
                    if let Some(b) = self.block {
                        // The open block has to end first; without an end of its own it ends
                        // where this one starts (blocks do not overlap).
                        if b.end_s == f64::INFINITY {
                            self.apply_end(PlanItem::BlockEnd { t_s });
                        }
                        return;
                    }
                    self.block_queue.pop_front();
                    self.blocks_started += 1;
                    let side = side.unwrap_or(self.cfg.side);
                    let stretch = stretch.unwrap_or(self.cfg.stretch);
                    self.block = Some(OpenBlock {
                        index: self.blocks_started,
                        side,
                        stretch,
                        start_s: t_s,
                        end_s: f64::INFINITY,
                        announced: false,
                    });
                    if let Some(e) = self.engine.as_mut() {
                        e.begin_block(FormContext {
                            stretch,
                            side,
                            block: TimeWindow {
                                start_s: t_s,
                                end_s: f64::INFINITY,
                            },
                            baseline: self.cfg.baselines.for_block(side, stretch),
                        });
                    }
                }
                PlanItem::BlockEnd { .. } => {
                    self.block_queue.pop_front();
                    self.apply_end(item);
                }
                _ => {
                    self.block_queue.pop_front();
                }
            }
        }
    }

    fn apply_end(&mut self, item: PlanItem) {
        let PlanItem::BlockEnd { t_s } = item else {
            return;
        };
        if let Some(b) = self.block.as_mut() {
            b.end_s = t_s;
            if let Some(e) = self.engine.as_mut() {
                e.end_block_at(t_s);
            }
        }
    }

    fn form_frame(
        &mut self,
        a: &JointAngles,
        frame: &mut Frame,
        sink: &mut dyn SessionSink,
    ) -> Result<(), SessionError> {
        // Announce the block at its first frame, and switch the core to its stretch.
        if let Some(b) = self.block.as_mut()
            && !b.announced
            && a.t_s >= b.start_s
        {
            b.announced = true;
            let b = *b;
            if let Some(p) = self.pipeline.as_mut() {
                p.set_stretch(b.stretch);
            }
            self.report.blocks.push((
                b.side,
                b.stretch,
                TimeWindow {
                    start_s: if b.start_s.is_finite() {
                        b.start_s
                    } else {
                        a.t_s
                    },
                    end_s: f64::INFINITY,
                },
            ));
            let edge = SessionEvent::Block(BlockEdge {
                t_s: a.t_s,
                block: b.index,
                side: b.side,
                stretch: b.stretch,
                figures: None,
            });
            sink.output(&Output::Event(&edge))?;
        }
        let engine = self.engine.as_mut().expect("form stage");
        let mut events = std::mem::take(&mut self.events);
        engine.push(a, &mut |e: &Event| events.push(*e));
        let ended = engine.block_ended();
        frame.phase = engine.phase();
        frame.static_hold_s = engine.static_hold_s();
        let open = self.block.filter(|b| b.announced);
        frame.block = open.map(|b| b.index);
        if open.is_some() && engine.in_block() {
            self.in_block_ranges(a);
        }
        let r = events
            .drain(..)
            .try_for_each(|e| self.emit_form(e, open.map(|b| b.index), sink));
        self.events = events;
        r?;
        if ended {
            self.close_block(sink)?;
        }
        Ok(())
    }

    fn emit_form(
        &mut self,
        mut e: Event,
        block: Option<u32>,
        sink: &mut dyn SessionSink,
    ) -> Result<(), SessionError> {
        match &mut e {
            Event::Rep { rep, .. } | Event::ShortHold { rep, .. } => *rep += self.rep_offset,
            Event::Summary { .. } => return Ok(()),
            _ => {}
        }
        sink.output(&Output::Event(&SessionEvent::Form { block, event: e }))?;
        Ok(())
    }

    /// Ends the engine's block: its last events, the block's figures, a fresh engine for the next.
    fn close_block(&mut self, sink: &mut dyn SessionSink) -> Result<(), SessionError> {
        let Some(mut engine) = self.engine.take() else {
            return Ok(());
        };
        let open = self.block.take().filter(|b| b.announced);
        let mut events = std::mem::take(&mut self.events);
        engine.finish(&mut |e: &Event| events.push(*e));
        let block = open.map(|b| b.index);
        let t_end = events.last().map_or(self.last_frame_t_s, |e| e.t_s());
        let r = events
            .drain(..)
            .try_for_each(|e| self.emit_form(e, block, sink));
        self.events = events;
        r?;
        if let Some(b) = open {
            let t = engine.totals();
            let totals = BlockTotals {
                side: b.side,
                reps: t.reps,
                aborted: t.aborted_reps,
                static_s: t.total_static_hold_s,
                episodes: t.warning_episodes,
                active_s: t.active_s,
                hold_angles: t.hold_angles_deg.to_vec(),
                dose_target_s: t.dose_target_s,
            };
            self.rep_offset += t.reps;
            let figures = figures_of(std::slice::from_ref(&totals));
            if let Some(w) = self.report.blocks.last_mut() {
                w.2.end_s = t_end;
            }
            self.done.push(totals);
            sink.output(&Output::Event(&SessionEvent::Block(BlockEdge {
                t_s: t_end,
                block: b.index,
                side: b.side,
                stretch: b.stretch,
                figures: Some(figures),
            })))?;
        }
        if let Some(f) = self.cfg.form {
            self.engine = Some(FormEngine::new(f, waiting_context(&self.cfg)));
        }
        self.apply_block_queue();
        Ok(())
    }

    /// Ends the session: calibrates on what arrived if the windows never closed, closes the open
    /// block, emits the summary (with the form stage) and returns the counters.
    pub fn finish(&mut self, sink: &mut dyn SessionSink) -> Result<SessionReport, SessionError> {
        if self.finished {
            return Ok(self.report.clone());
        }
        self.finished = true;
        for role in [SensorRole::Thigh, SensorRole::Shank] {
            if !self.seen[role.index()] && !matches!(self.stage, Stage::Failed) {
                return Err(SessionError::MissingSensor {
                    file: self.cfg.name.clone(),
                    role,
                });
            }
        }
        match self.stage {
            Stage::Calibrating(w) => self.calibrate_first(w, sink)?,
            Stage::Starting => match self.cfg.profile.clone() {
                Some(p) => self.start_pipeline(p, false, sink)?,
                None => self.check_calibration_source()?,
            },
            _ => {}
        }
        // A recalibration whose windows never closed (the recording ended during it) is dropped.
        self.recal = None;
        if self.engine.is_some() {
            self.close_block(sink)?;
            let summary = self.summary();
            self.report.summary = Some(summary);
            sink.output(&Output::Event(&SessionEvent::Summary(summary)))?;
        }
        sink.finish()?;
        Ok(self.report.clone())
    }

    fn summary(&self) -> Summary {
        let per_side = [Side::Left, Side::Right].map(|side| {
            let blocks: Vec<BlockTotals> = self
                .done
                .iter()
                .filter(|b| b.side == side)
                .cloned()
                .collect();
            (!blocks.is_empty()).then(|| figures_of(&blocks))
        });
        let mut overall = figures_of(&self.done);
        // The dose is per side: met when every stretched side met it.
        overall.dose_met = !self.done.is_empty() && per_side.iter().flatten().all(|f| f.dose_met);
        Summary {
            t_s: if self.last_frame_t_s.is_finite() {
                self.last_frame_t_s
            } else {
                0.0
            },
            overall,
            per_side,
            implausible_samples: self.report.implausible_samples,
        }
    }
}

/// Context of an engine whose block is not known yet.
fn waiting_context(cfg: &SessionConfig) -> FormContext {
    FormContext {
        stretch: cfg.stretch,
        side: cfg.side,
        block: TimeWindow {
            start_s: f64::INFINITY,
            end_s: f64::INFINITY,
        },
        baseline: cfg.baselines.for_block(cfg.side, cfg.stretch),
    }
}

/// The figures of some blocks together, computed as the form stage computes one block's.
fn figures_of(blocks: &[BlockTotals]) -> Figures {
    let reps: u32 = blocks.iter().map(|b| b.reps).sum();
    let aborted: u32 = blocks.iter().map(|b| b.aborted).sum();
    let static_s: f64 = blocks.iter().map(|b| b.static_s).sum();
    let episodes: u32 = blocks.iter().map(|b| b.episodes).sum();
    let active_s: f64 = blocks.iter().map(|b| b.active_s).sum();
    let mut angles: Vec<f64> = blocks
        .iter()
        .flat_map(|b| b.hold_angles.iter().copied())
        .collect();
    let target = blocks.first().map_or(60.0, |b| b.dose_target_s);
    Figures {
        reps,
        aborted_reps: aborted,
        total_static_hold_s: r4(static_s),
        dose_met: static_s >= target,
        warnings_per_min: r4(if active_s > 0.0 {
            f64::from(episodes) / (active_s / 60.0)
        } else {
            0.0
        }),
        active_s: r4(active_s),
        session_value_deg: (!angles.is_empty())
            .then(|| r4(crate::form::filters::median_in_place(&mut angles))),
    }
}
