//! Live use: records in, recordings, angles and the live view out.
//!
//! [`LiveSession`] is the synchronous heart of `stretchwatch live`. It takes [`RawRecord`]s in
//! arrival order (from the BLE edge or the real-time simulator, [`run`]), writes them to the raw
//! notification log, decodes and merges them with the same [`Assembler`] a raw-log replay uses,
//! and hands the samples to the one [`Session`] every command uses, with these sinks: the IMU CSV
//! recorder, the angles CSV, the events file, the session database and the [`LiveView`] that
//! [`view`] draws. Files are flushed every [`FLUSH_EVERY_S`] of host time and on every connection
//! event, so a crash leaves readable files (the raw-log reader ignores a torn last line).
//!
//! What live decides (calibration windows when every sensor streams, blocks started by the rest
//! posture and ended by standing up or a long rest, keys for start/stop, side, stretch and
//! recalibration; [`guide`]) becomes a plan item, written to both recordings where it stands, so
//! replay of either file gives the frames and events the person saw, bit for bit.

pub mod guide;
pub mod run;
pub mod view;

use crate::calibration::CalibrationProfile;
use crate::form::{FormConfig, Phase, State};
use crate::model::{ImuSample, JointAngles, SensorRole, Side, StretchType};
use crate::pipeline::PipelineParams;
use crate::protocol::Family;
use crate::record::raw_log::{ConnEvent, RawDevice, RawEntry, RawLogWriter, RawRecord};
use crate::record::{RecordError, RecordingHeader};
use crate::session::sinks::{AnglesCsvSink, ImuCsvRecorder, JsonEventsSink};
use crate::session::{
    Baselines, CalibrationWindows, Output, PlanItem, Session, SessionConfig, SessionError,
    SessionEvent, SessionSink, SinkError, Summary,
};
use crate::source::{Assembled, Assembler, StreamStats};
use crate::store::StoreSink;
use guide::{BlockDetector, Posture, ProcedureDetector};
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

/// Files are flushed at least this often (host time), seconds.
pub const FLUSH_EVERY_S: f64 = 0.2;

/// The stop advice shown at all times (form-spec 6.2).
pub const STOP_ADVICE: &str = "Stop now if you feel sharp or shooting pain, pain behind the knee or in the lower back, tingling, numbness or burning down the leg, or if symptoms stay after stretching. If pain persists or keeps returning, talk to a health professional.";

/// Errors of the live layer.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A recording file could not be written.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The BLE edge failed before streaming.
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    #[error(transparent)]
    Ble(#[from] crate::source::ble::BleError),
    /// The terminal could not be used.
    #[error("terminal: {0}")]
    Terminal(std::io::Error),
    /// Bad options.
    #[error("{0}")]
    Invalid(String),
    /// The session database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A recording sink could not write.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// How a live session runs.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Devices of the session (header of the raw log).
    pub devices: Vec<RawDevice>,
    /// Stretch type.
    pub stretch: StretchType,
    /// Stretched side.
    pub side: Side,
    /// Saved calibration; without it the session guides the user through the calibration poses.
    pub profile: Option<CalibrationProfile>,
    /// Core settings.
    pub params: PipelineParams,
    /// Form detector settings.
    pub form: FormConfig,
    /// Excessive-range baselines (given, or from stored history per side and stretch); without
    /// one the range check is off and the view says so.
    pub baselines: Baselines,
}

/// Where a live session writes.
#[derive(Debug, Clone, Default)]
pub struct LiveOutputs {
    /// Raw notification log (JSON Lines).
    pub raw_log: Option<PathBuf>,
    /// IMU CSV v1.
    pub imu_csv: Option<PathBuf>,
    /// Angles CSV (DESIGN 3.4).
    pub angles_csv: Option<PathBuf>,
    /// Form events, one JSON object per line (DESIGN 3.3 objects).
    pub events_jsonl: Option<PathBuf>,
    /// Session database: raw samples, angles, events, reps and summary are stored as they come
    /// (the writer commits at least every 0.5 s), so a crash loses at most about a second.
    pub session_db: Option<PathBuf>,
}

/// Link state of one sensor as the view shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected yet.
    Connecting,
    /// Connected, not streaming yet.
    Connected,
    /// Samples arriving.
    Streaming,
    /// Connected but nothing for a while.
    Silent,
    /// Link lost; reconnecting.
    Reconnecting,
}

impl LinkState {
    /// Label in the view.
    pub fn label(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Streaming => "streaming",
            LinkState::Silent => "silent",
            LinkState::Reconnecting => "reconnecting",
        }
    }
}

/// One sensor row of the view.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorView {
    /// Segment.
    pub role: SensorRole,
    /// Family.
    pub family: Family,
    /// Name or address.
    pub label: String,
    /// Link state.
    pub state: LinkState,
    /// Samples per second over the last second.
    pub rate_hz: f64,
    /// Counters.
    pub stats: StreamStats,
}

/// What the session is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum StageView {
    /// Waiting for every sensor to stream.
    Waiting,
    /// Guided calibration: instruction and seconds left in this step.
    Calibrating {
        /// What to do now.
        instruction: &'static str,
        /// Seconds left in this step.
        left_s: f64,
    },
    /// Angles are live.
    Running,
    /// Calibration failed (recording goes on).
    CalibrationFailed(String),
}

/// A warning currently active, in the spec's wording.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveWarning {
    /// Event name (`bouncing`, `knee_locked`, …).
    pub key: &'static str,
    /// Cue text.
    pub text: String,
    /// `WARNING`, `ADVISORY` or `INFO`.
    pub severity: &'static str,
}

/// Everything the live view draws.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveView {
    /// Session time (host), seconds.
    pub t_s: f64,
    /// Stretch type.
    pub stretch: StretchType,
    /// Side.
    pub side: Side,
    /// Source description (e.g. `BLE` or `simulated S2`).
    pub source: String,
    /// Sensor rows.
    pub sensors: Vec<SensorView>,
    /// Stage.
    pub stage: StageView,
    /// Latest frame.
    pub angles: Option<JointAngles>,
    /// Phase name, when the form stage runs.
    pub phase: Option<String>,
    /// Current static hold, seconds.
    pub hold_s: Option<f64>,
    /// Hold target, seconds.
    pub hold_target_s: f64,
    /// Active warnings.
    pub warnings: Vec<ActiveWarning>,
    /// Recent messages (newest last).
    pub messages: VecDeque<String>,
    /// Rings the terminal bell at the next draw.
    pub bell: bool,
    /// The open block (`block 2: right side, seated`), or what starts one.
    pub block: Option<String>,
    /// Checks that are off, and why.
    pub notes: Vec<String>,
    /// How far off the angles may be, while the calibration in use is poor or nominal
    /// ("angles may be off by up to 4°"); shown beside the angles the whole time.
    pub accuracy: Option<String>,
    /// Timeline lines not yet printed (plain-text mode prints and clears them).
    pub timeline: Vec<String>,
    /// The session summary lines, once the session has ended.
    pub summary: Vec<String>,
}

impl LiveView {
    fn push_message(&mut self, m: String) {
        if self.messages.len() >= 6 {
            self.messages.pop_front();
        }
        self.messages.push_back(m);
    }
}

/// Figures for the end-of-session summary and the performance test.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveFigures {
    /// Records handled.
    pub records: u64,
    /// Frames emitted by the pipeline.
    pub frames: u64,
    /// Host time of the first and last data notification, seconds.
    pub first_rx_s: Option<f64>,
    /// See `first_rx_s`.
    pub last_rx_s: Option<f64>,
    /// Seconds from each `disconnected` to the first sample after it, per role.
    pub reconnect_s: Vec<(SensorRole, f64)>,
    /// Id of the session stored in the database, if storing was on and succeeded.
    pub stored_session_id: Option<i64>,
}

/// A request from the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Start a block now, or end the open one.
    ToggleBlock,
    /// The other leg for the next block.
    SwitchSide,
    /// The next stretch type for the next block.
    SwitchStretch,
    /// Calibrate again (sensors moved or slipped).
    Recalibrate,
}

/// The sinks of a live session: recordings, events, database and the view.
struct LiveSinks<'s> {
    recorder: Option<ImuCsvRecorder>,
    angles: Option<AnglesCsvSink<BufWriter<File>>>,
    events: Option<JsonEventsSink<BufWriter<File>>>,
    store: Option<StoreSink<'s>>,
    view: LiveView,
    baselines: Baselines,
    detector: BlockDetector,
    posture: Option<Posture>,
    in_block: bool,
    frames: u64,
    summary: Option<Summary>,
    /// Another sink (the web server's), handed every output after the view has taken it in.
    extra: Option<Box<dyn SessionSink + 's>>,
    /// Low-quality calibrations asked to be repeated in a row (reset by a good one).
    repeats_asked: u32,
}

/// How many times in a row a poor guided calibration is asked to be repeated before the
/// session goes on with the last one (and its caveat).
const MAX_CALIBRATION_REPEATS: u32 = 2;

impl LiveSinks<'_> {
    /// Hands an output on to the extra sink, if any.
    fn forward(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        match self.extra.as_mut() {
            Some(x) => x.output(out),
            None => Ok(()),
        }
    }

    fn on_event(&mut self, e: &SessionEvent) {
        match e {
            SessionEvent::Block(b) => {
                self.detector.reset();
                self.posture = None;
                match &b.figures {
                    None => {
                        self.in_block = true;
                        self.view.block = Some(format!(
                            "block {}: {} side, {}",
                            b.block,
                            b.side.as_str(),
                            b.stretch.as_str()
                        ));
                        self.view.notes.clear();
                        if self.baselines.for_block(b.side, b.stretch).is_none() {
                            self.note(format!(
                                "Range check off: no baseline yet for the {} side, {} stretch (it starts after a few stored sessions).",
                                b.side.as_str(),
                                b.stretch.as_str()
                            ));
                        }
                    }
                    Some(_) => {
                        self.in_block = false;
                        self.view.block = None;
                        self.view.warnings.clear();
                        self.view.phase = None;
                        // The last rep's timer and the block's notes do not carry over to the rest.
                        self.view.hold_s = None;
                        self.view.notes.clear();
                    }
                }
                if let Some(line) = e.describe() {
                    self.say(e.t_s(), line);
                }
            }
            SessionEvent::Summary(s) => {
                self.summary = Some(*s);
                self.view.summary = crate::session::event::summary_lines(s);
            }
            SessionEvent::Form { event, .. } => {
                if let crate::form::Event::Rep { static_hold_s, .. } = *event {
                    // The timer ends on the rep's own figure.
                    self.view.hold_s = Some(static_hold_s);
                }
                if let crate::form::Event::HipUnavailable { .. } = event {
                    self.note(
                        "Hip-angle checks off: seated and standing stretches need a pelvis sensor; knee checks run while the block is open.".into(),
                    );
                }
                let Some(text) = e.describe() else {
                    return;
                };
                if matches!(event, crate::form::Event::Phase { .. }) {
                    self.view
                        .timeline
                        .push(format!("{:7.1} s  {text}", e.t_s()));
                    return;
                }
                let severity = match event.severity() {
                    Some(crate::form::Severity::Warning) => "WARNING",
                    Some(crate::form::Severity::Advisory) => "ADVISORY",
                    Some(crate::form::Severity::System) => "SYSTEM",
                    _ => "INFO",
                };
                // The wording module prefixes warnings with their severity; the view shows it apart.
                let shown = text
                    .trim_start_matches("WARNING ")
                    .trim_start_matches("ADVISORY ")
                    .to_string();
                match event.state() {
                    Some(State::On) => {
                        self.view.warnings.retain(|w| w.key != event.name());
                        self.view.warnings.push(ActiveWarning {
                            key: event.name(),
                            text: shown,
                            severity,
                        });
                        // Cue arbitration (form-spec section 3) picks which warning gets the
                        // audio cue; the others are shown without the bell.
                        if event.cue() == Some(crate::form::event::Cue::Audio) {
                            self.view.bell = true;
                        }
                        self.view
                            .timeline
                            .push(format!("{:7.1} s  {text}", e.t_s()));
                    }
                    Some(State::Off) => {
                        self.view.warnings.retain(|w| w.key != event.name());
                        self.view
                            .timeline
                            .push(format!("{:7.1} s  {text}", e.t_s()));
                    }
                    None => self.say(e.t_s(), text),
                }
            }
        }
    }

    /// A check that is off, and why: shown in the view and printed in plain-text mode.
    fn note(&mut self, text: String) {
        self.view.timeline.push(format!("          {text}"));
        self.view.notes.push(text);
    }

    fn say(&mut self, t_s: f64, text: String) {
        let line = format!("{t_s:7.1} s  {text}");
        self.view.timeline.push(line.clone());
        self.view.push_message(line);
    }

    fn on_frame(&mut self, f: &crate::session::Frame) {
        self.frames += 1;
        self.view.angles = Some(f.angles);
        self.view.phase = f.phase.map(|p| p.as_str().to_string());
        // The timer is the form engine's static hold (bouncing excluded) at every frame; it keeps
        // the rep's figure after release until the next rep begins.
        match (f.static_hold_s, f.phase) {
            (Some(h), _) => self.view.hold_s = Some(h),
            (None, Some(Phase::MovingIn)) => self.view.hold_s = None,
            _ => {}
        }
        let stretch = self.view.stretch;
        if let Some(p) = self
            .detector
            .push(&f.angles, f.phase, stretch, self.in_block)
        {
            self.posture = Some(p);
        }
    }
}

impl SessionSink for LiveSinks<'_> {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        self.recorder.output(out)?;
        self.angles.output(out)?;
        self.events.output(out)?;
        if let Some(s) = self.store.as_mut()
            && let Err(e) = s.output(out)
        {
            // A failing database is reported once; the recording files go on, so nothing
            // already captured is lost.
            self.view.push_message(format!(
                "session database: {e}; storing stopped, the recording files go on"
            ));
            self.store = None;
        }
        match out {
            Output::Frame(f) => self.on_frame(f),
            Output::Event(e) => self.on_event(e),
            Output::Calibrated {
                t_s,
                profile,
                from_recording,
            } => {
                self.view.stage = StageView::Running;
                self.view.accuracy = crate::calibration::accuracy_caveat_short(profile);
                let caveat = crate::calibration::accuracy_caveat(profile);
                if *from_recording
                    && caveat.is_some()
                    && !profile.quality.is_nominal
                    && self.repeats_asked < MAX_CALIBRATION_REPEATS
                {
                    // Ask for another go rather than track with poor angles. Doing the procedure
                    // again is recognised (as between blocks), and lying down instead goes on
                    // with these angles: nothing the person does next is lost to a plan.
                    self.repeats_asked += 1;
                    self.view.bell = true;
                    self.say(
                        *t_s,
                        format!(
                            "calibration quality {:.2}: angles may be off by up to {:.0}°. Please do it again: stand still for 5 s, then swing the lower leg steadily through a large range, thigh steady (or lie down to go on with these angles).",
                            profile.quality.score,
                            profile.expected_error_deg()
                        ),
                    );
                    return self.forward(out);
                }
                if *from_recording && caveat.is_none() {
                    self.repeats_asked = 0;
                }
                let what = if *from_recording {
                    "calibration accepted"
                } else {
                    "using the saved calibration"
                };
                self.say(
                    *t_s,
                    format!(
                        "{what} — quality {:.2}. Now lie down (supine) or sit (seated) with the leg straight and rest: the block starts when you are still.",
                        profile.quality.score
                    ),
                );
                if let Some(c) = caveat {
                    self.say(*t_s, c);
                }
            }
            Output::CalibrationRefined { t_s } => {
                self.say(*t_s, format!("calibration refined at {t_s:.1} s"));
            }
            Output::CalibrationFailed { t_s, error } => {
                self.view.bell = true;
                self.say(
                    *t_s,
                    format!("calibration not done: {error}. The previous calibration goes on; press c to calibrate again."),
                );
            }
            _ => {}
        }
        self.forward(out)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        if let Some(x) = self.extra.as_mut() {
            x.finish()?;
        }
        self.recorder.finish()?;
        self.angles.finish()?;
        self.events.finish()
    }
}

/// The live session (synchronous; see the module docs).
pub struct LiveSession<'s> {
    cfg: LiveConfig,
    assembler: Assembler,
    assembled: Vec<Assembled>,
    raw: Option<RawLogWriter<BufWriter<File>>>,
    raw_path: PathBuf,
    session: Session,
    sinks: LiveSinks<'s>,
    started: bool,
    seen: [bool; 3],
    last_sample_t_s: f64,
    side: Side,
    stretch: StretchType,
    commands: VecDeque<Command>,
    /// Recognises the calibration procedure done again (no key needed).
    procedure: ProcedureDetector,
    /// Windows of a recognised procedure, planned at the next decision.
    recognised: Option<CalibrationWindows>,
    /// Blocks started since the profile in use was calibrated, and whether the side was chosen
    /// by key since then.
    blocks_since_calibration: u32,
    side_chosen: bool,
    calibrations_seen: u32,
    last_flush_s: f64,
    recent: [VecDeque<f64>; 3],
    dropped_at: [Option<f64>; 3],
    figures: LiveFigures,
}

impl<'s> LiveSession<'s> {
    /// Starts a session: creates the raw log (header written at once) and the other outputs.
    /// `store` is the session database to store into (the session borrows it until
    /// [`finish`](Self::finish)).
    pub fn new(
        cfg: LiveConfig,
        outputs: &LiveOutputs,
        source: &str,
        started_unix_s: f64,
        store: Option<&'s mut crate::store::Store>,
    ) -> Result<Self, LiveError> {
        let raw_header = crate::record::raw_log::RawLogHeader {
            started_unix_s,
            devices: cfg.devices.clone(),
            keys: vec![
                ("side".into(), cfg.side.as_str().into()),
                ("stretch".into(), cfg.stretch.as_str().into()),
                // Blocks are marked as they happen: replay must not assume one after calibration.
                ("blocks".into(), "marked".into()),
            ],
        };
        let raw = match &outputs.raw_log {
            Some(p) => Some(RawLogWriter::create(p, &raw_header)?),
            None => None,
        };
        let mut header = RecordingHeader {
            side: Some(cfg.side),
            stretch: Some(cfg.stretch),
            extra: vec![("blocks".into(), "marked".into())],
            ..Default::default()
        };
        header.rate_hz = cfg
            .devices
            .iter()
            .find(|d| d.role == SensorRole::Thigh)
            .or(cfg.devices.first())
            .map(|d| f64::from(d.rate_hz));
        for d in &cfg.devices {
            header.sensor_models.push((
                d.role,
                match &d.name {
                    Some(n) => format!("{} {n}", d.family),
                    None => d.family.to_string(),
                },
            ));
        }
        let sensors = cfg
            .devices
            .iter()
            .map(|d| SensorView {
                role: d.role,
                family: d.family,
                label: d.name.clone().unwrap_or_else(|| d.address.clone()),
                state: LinkState::Connecting,
                rate_hz: 0.0,
                stats: StreamStats::default(),
            })
            .collect();
        let view = LiveView {
            t_s: 0.0,
            stretch: cfg.stretch,
            side: cfg.side,
            source: source.to_string(),
            sensors,
            stage: StageView::Waiting,
            angles: None,
            phase: None,
            hold_s: None,
            hold_target_s: cfg.form.hold.effective_target_s(),
            warnings: Vec::new(),
            messages: VecDeque::new(),
            bell: false,
            block: None,
            notes: Vec::new(),
            accuracy: None,
            timeline: Vec::new(),
            summary: Vec::new(),
        };
        let store = match store {
            Some(st) => {
                let meta = crate::store::SessionMeta {
                    started_unix_s,
                    side: cfg.side,
                    stretch: cfg.stretch,
                    source: format!("live {source}"),
                    rate_hz: header.rate_hz,
                    sensors: cfg
                        .devices
                        .iter()
                        .map(|d| crate::store::SensorInfo {
                            role: d.role,
                            family: d.family.to_string(),
                            model: d.name.clone().unwrap_or_default(),
                        })
                        .collect(),
                    calibration: cfg.profile.clone(),
                };
                let path = st.path().to_path_buf();
                Some(StoreSink::new(st.begin_session(&meta)?, path))
            }
            None => None,
        };
        let name = outputs
            .raw_log
            .clone()
            .unwrap_or_else(|| PathBuf::from("live session"));
        let mut scfg = SessionConfig::new(&name);
        scfg.side = cfg.side;
        scfg.stretch = cfg.stretch;
        scfg.rate_hz = header.rate_hz;
        scfg.profile = cfg.profile.clone();
        scfg.params = cfg.params;
        scfg.form = Some(cfg.form);
        scfg.baselines = cfg.baselines;
        scfg.blocks_marked = true;
        let sinks = LiveSinks {
            recorder: outputs
                .imu_csv
                .as_deref()
                .map(|p| ImuCsvRecorder::new(p, header.clone())),
            angles: outputs
                .angles_csv
                .as_deref()
                .map(AnglesCsvSink::create)
                .transpose()?,
            events: outputs
                .events_jsonl
                .as_deref()
                .map(JsonEventsSink::create)
                .transpose()?,
            store,
            view,
            baselines: cfg.baselines,
            detector: BlockDetector::default(),
            posture: None,
            in_block: false,
            frames: 0,
            summary: None,
            extra: None,
            repeats_asked: 0,
        };
        Ok(LiveSession {
            assembler: Assembler::new(&cfg.devices),
            side: cfg.side,
            stretch: cfg.stretch,
            cfg,
            assembled: Vec::new(),
            raw,
            raw_path: outputs.raw_log.clone().unwrap_or_default(),
            session: Session::new(scfg),
            sinks,
            started: false,
            seen: [false; 3],
            last_sample_t_s: f64::NEG_INFINITY,
            commands: VecDeque::new(),
            procedure: ProcedureDetector::default(),
            recognised: None,
            blocks_since_calibration: 0,
            side_chosen: false,
            calibrations_seen: 0,
            last_flush_s: 0.0,
            recent: Default::default(),
            dropped_at: [None; 3],
            figures: LiveFigures::default(),
        })
    }

    /// The view state.
    pub fn view(&self) -> &LiveView {
        &self.sinks.view
    }

    /// Mutable view state (the driver clears the bell and the printed timeline).
    pub fn view_mut(&mut self) -> &mut LiveView {
        &mut self.sinks.view
    }

    /// Adds a sink that receives every output of the session after the built-in ones (the web
    /// server pushes frames and events to browsers through it).
    pub fn add_sink(&mut self, sink: Box<dyn SessionSink + 's>) {
        self.sinks.extra = Some(sink);
    }

    /// Whether a block is open.
    pub fn block_open(&self) -> bool {
        self.session.block_open()
    }

    /// Figures so far.
    pub fn figures(&self) -> &LiveFigures {
        &self.figures
    }

    /// Counters of one device.
    pub fn stats(&self, role: SensorRole) -> Option<StreamStats> {
        self.assembler.stats(role)
    }

    /// Queues a keyboard request; it takes effect after the current record.
    pub fn command(&mut self, c: Command) {
        self.commands.push_back(c);
    }

    fn io_err_raw(&self, e: std::io::Error) -> LiveError {
        LiveError::Record(RecordError::Io {
            file: self.raw_path.clone(),
            source: e,
        })
    }

    /// Handles one record; returns how many frames it completed.
    pub fn on_record(&mut self, rec: &RawRecord) -> Result<usize, LiveError> {
        self.figures.records += 1;
        if let Some(w) = &mut self.raw {
            w.write(rec).map_err(|e| {
                LiveError::Record(RecordError::Io {
                    file: self.raw_path.clone(),
                    source: e,
                })
            })?;
        }
        let t = rec.t_host_s;
        self.sinks.view.t_s = self.sinks.view.t_s.max(t);
        if let RawEntry::Data {
            device,
            dir: crate::record::raw_log::DataDir::Rx,
            ..
        } = &rec.entry
            && let Some(t0) = self.dropped_at[device.index()].take()
        {
            // Reconnect time: from the drop to the first notification after it.
            let dt = t - t0;
            self.figures.reconnect_s.push((*device, dt));
            self.sinks.view.push_message(format!(
                "{t:7.1} s  {device}: streaming again after {dt:.2} s"
            ));
            self.note(t, &format!("reconnected.{device}"))?;
        }
        let frames_before = self.sinks.frames;
        let mut assembled = std::mem::take(&mut self.assembled);
        assembled.clear();
        self.assembler.push(rec, &mut assembled);
        let mut flush_now = false;
        for a in assembled.drain(..) {
            match a {
                Assembled::Sample(s) => self.on_sample(s, t)?,
                Assembled::Gap { role, t_s, missing } => {
                    // Single lost samples are counted in the sensor table, not announced.
                    if missing >= 5 {
                        self.sinks
                            .view
                            .push_message(format!("{t_s:7.1} s  {role}: {missing} samples lost"));
                    }
                    self.note(t_s, &format!("gap.{role} {missing}"))?;
                }
                Assembled::Connection { role, t_s, event } => {
                    flush_now = true;
                    self.on_connection(role, t_s, event)?;
                }
                Assembled::DecodeError { role, t_s, message } => {
                    self.sinks
                        .view
                        .push_message(format!("{t_s:7.1} s  {role}: {message}"));
                }
                Assembled::Marker { .. } => {}
            }
        }
        self.assembled = assembled;
        // Decisions take effect between records, where the raw log records them.
        self.decide()?;
        if let RawEntry::Data { .. } = &rec.entry {
            self.figures.first_rx_s.get_or_insert(t);
            self.figures.last_rx_s = Some(t);
        }
        self.refresh_sensors(t);
        if flush_now || t - self.last_flush_s >= FLUSH_EVERY_S {
            self.flush()?;
            self.last_flush_s = t;
        }
        let n = (self.sinks.frames - frames_before) as usize;
        self.figures.frames = self.sinks.frames;
        Ok(n)
    }

    /// Updates link states and rates for host time `now_s` (call on a timer too).
    pub fn refresh_sensors(&mut self, now_s: f64) {
        let view = &mut self.sinks.view;
        view.t_s = view.t_s.max(now_s);
        for sv in view.sensors.iter_mut() {
            let role = sv.role;
            let q = &mut self.recent[role.index()];
            while q.front().is_some_and(|&t| now_s - t > 1.0) {
                q.pop_front();
            }
            sv.rate_hz = q.len() as f64;
            if let Some(st) = self.assembler.stats(role) {
                sv.stats = st;
                if sv.state == LinkState::Streaming && st.last_rx_s.is_some_and(|t| now_s - t > 0.5)
                {
                    sv.state = LinkState::Silent;
                }
            }
        }
        if let Some(w) = self.session.calibrating() {
            let (instruction, left_s) = guide::instruction(&w, self.last_sample_t_s.max(now_s));
            view.stage = StageView::Calibrating {
                instruction,
                left_s,
            };
        }
    }

    /// A marker that is not part of the plan (gaps, reconnects): raw log and IMU CSV.
    fn note(&mut self, t_s: f64, label: &str) -> Result<(), LiveError> {
        if let Some(r) = self.sinks.recorder.as_mut() {
            r.marker(round_ms(t_s), label)?;
        }
        Ok(())
    }

    fn on_connection(
        &mut self,
        role: SensorRole,
        t_s: f64,
        event: ConnEvent,
    ) -> Result<(), LiveError> {
        let view = &mut self.sinks.view;
        let Some(sv) = view.sensors.iter_mut().find(|s| s.role == role) else {
            return Ok(());
        };
        match event {
            ConnEvent::Connected => sv.state = LinkState::Connected,
            ConnEvent::Subscribed => {}
            ConnEvent::Disconnected => {
                sv.state = LinkState::Reconnecting;
                self.dropped_at[role.index()] = Some(t_s);
                view.bell = true;
                view.push_message(format!("{t_s:7.1} s  {role}: link lost, reconnecting"));
                self.note(t_s, &format!("disconnected.{role}"))?;
            }
            ConnEvent::ReconnectFailed => sv.state = LinkState::Reconnecting,
        }
        Ok(())
    }

    fn on_sample(&mut self, s: ImuSample, now_s: f64) -> Result<(), LiveError> {
        let i = s.role.index();
        self.recent[i].push_back(now_s);
        if let Some(sv) = self
            .sinks
            .view
            .sensors
            .iter_mut()
            .find(|v| v.role == s.role)
        {
            sv.state = LinkState::Streaming;
        }
        self.seen[i] = true;
        self.last_sample_t_s = self.last_sample_t_s.max(s.t_s);
        // Outside blocks, with a calibration in use and none under way, the person may calibrate
        // again just by doing the procedure.
        if self.session.is_calibrated()
            && self.session.calibrating().is_none()
            && !self.session.block_open()
            && self.recognised.is_none()
        {
            self.recognised = self.procedure.push(&s);
        } else {
            self.procedure.reset();
        }
        match self.session.push_sample(&s, &mut self.sinks) {
            Ok(()) => Ok(()),
            Err(SessionError::Calibration { source, .. }) => {
                // The recording goes on; the view says what to do.
                self.sinks.view.stage =
                    StageView::CalibrationFailed(format!("{source}. Press c to calibrate again."));
                self.sinks.view.bell = true;
                Ok(())
            }
            Err(SessionError::Sink(e)) => Err(LiveError::Sink(e)),
            Err(e) => Err(LiveError::Invalid(e.to_string())),
        }
    }

    /// Time for a decision: just after everything the session has seen, so it applies to the
    /// frames after it in live mode and in replay alike.
    fn mark_time(&self) -> f64 {
        let t = self.last_sample_t_s.max(self.session.last_frame_t_s());
        (t * 1000.0).floor() / 1000.0 + 0.001
    }

    fn plan(&mut self, item: PlanItem) -> Result<(), LiveError> {
        for (k, v) in item.entries() {
            let rec = RawRecord {
                t_host_s: crate::record::raw_log::round_to_us(self.sinks.view.t_s),
                entry: RawEntry::Marker {
                    key: k.into(),
                    value: v,
                },
            };
            if let Some(w) = &mut self.raw {
                w.write(&rec).map_err(|e| self.io_err_raw(e))?;
            }
        }
        self.session
            .plan(item, &mut self.sinks)
            .map_err(|e| LiveError::Invalid(e.to_string()))
    }

    /// Applies what the posture, the keys and the sensors decided since the last record.
    fn decide(&mut self) -> Result<(), LiveError> {
        if !self.started && self.cfg.devices.iter().all(|d| self.seen[d.role.index()]) {
            self.started = true;
            if self.cfg.profile.is_none() {
                let pelvis = self
                    .cfg
                    .devices
                    .iter()
                    .any(|d| d.role == SensorRole::Pelvis);
                let w = guide::windows(self.mark_time(), pelvis);
                self.plan(PlanItem::Calibration(w))?;
            } else {
                self.sinks.view.stage = StageView::Running;
            }
            if let Some(r) = self.sinks.recorder.as_mut() {
                r.open()?;
            }
        }
        while let Some(c) = self.commands.pop_front() {
            match c {
                Command::ToggleBlock if self.session.block_open() => self.end_block()?,
                Command::ToggleBlock => self.start_block()?,
                Command::SwitchSide => {
                    self.side_chosen = true;
                    self.side = match self.side {
                        Side::Left => Side::Right,
                        Side::Right => Side::Left,
                    };
                    self.sinks.view.side = self.side;
                    let m = format!("next block: {} side", self.side.as_str());
                    self.sinks.say(self.mark_time(), m);
                }
                Command::SwitchStretch => {
                    self.stretch = match self.stretch {
                        StretchType::Supine => StretchType::Seated,
                        StretchType::Seated => StretchType::Standing,
                        StretchType::Standing => StretchType::Supine,
                    };
                    self.sinks.view.stretch = self.stretch;
                    let m = format!("next block: {} stretch", self.stretch.as_str());
                    self.sinks.say(self.mark_time(), m);
                }
                Command::Recalibrate => {
                    if self.session.block_open() {
                        self.end_block()?;
                    }
                    let pelvis = self
                        .cfg
                        .devices
                        .iter()
                        .any(|d| d.role == SensorRole::Pelvis);
                    let w = guide::windows(self.mark_time(), pelvis);
                    self.plan(PlanItem::Calibration(w))?;
                    self.sinks.detector.reset();
                }
            }
        }
        if let Some(w) = self.recognised.take()
            && !self.session.block_open()
            && self.session.calibrating().is_none()
        {
            let t = self.mark_time();
            self.sinks.say(
                t,
                "Standing still and knee swings recognised: calibrating again".into(),
            );
            self.plan(PlanItem::Calibration(w))?;
            self.sinks.detector.reset();
        }
        let calibrations = self.session.report().calibrations;
        if calibrations > self.calibrations_seen {
            // A new calibration after a side's blocks: the sensors moved to the other leg
            // (the usual reason to calibrate mid-session), unless a key already chose the side.
            if self.calibrations_seen > 0 && self.blocks_since_calibration > 0 && !self.side_chosen
            {
                self.side = match self.side {
                    Side::Left => Side::Right,
                    Side::Right => Side::Left,
                };
                self.sinks.view.side = self.side;
                let m = format!(
                    "calibrated again: the next blocks are the {} leg (press s to change)",
                    self.side.as_str()
                );
                self.sinks.say(self.mark_time(), m);
            }
            self.calibrations_seen = calibrations;
            self.blocks_since_calibration = 0;
            self.side_chosen = false;
        }
        match self.sinks.posture.take() {
            Some(Posture::ReadyToStart)
                if !self.session.block_open()
                    && self.session.is_calibrated()
                    && self.session.calibrating().is_none() =>
            {
                self.start_block()?
            }
            Some(Posture::Done) if self.session.block_open() => self.end_block()?,
            _ => {}
        }
        Ok(())
    }

    fn start_block(&mut self) -> Result<(), LiveError> {
        // With a pelvis sensor the posture tells lying from sitting: the hip is straight lying on
        // the back and bent about 90° sitting. Without one, the chosen stretch stands.
        if let Some(hip) = self
            .sinks
            .view
            .angles
            .and_then(|a| a.pelvic_tilt_deg.and(a.hip_flexion_deg))
        {
            let seen = if hip.abs() < 30.0 {
                Some(StretchType::Supine)
            } else if (hip - 90.0).abs() < 30.0 {
                Some(StretchType::Seated)
            } else {
                None
            };
            if let Some(st) =
                seen.filter(|st| *st != self.stretch && self.stretch != StretchType::Standing)
            {
                self.stretch = st;
                self.sinks.view.stretch = st;
            }
        }
        let item = PlanItem::BlockStart {
            t_s: self.mark_time(),
            side: Some(self.side),
            stretch: Some(self.stretch),
        };
        self.blocks_since_calibration += 1;
        self.sinks.detector.reset();
        self.plan(item)
    }

    fn end_block(&mut self) -> Result<(), LiveError> {
        let item = PlanItem::BlockEnd {
            t_s: self.mark_time(),
        };
        self.sinks.detector.reset();
        self.plan(item)
    }

    /// Flushes every open file.
    pub fn flush(&mut self) -> Result<(), LiveError> {
        if let Some(w) = &mut self.raw {
            w.flush().map_err(|e| {
                LiveError::Record(RecordError::Io {
                    file: self.raw_path.clone(),
                    source: e,
                })
            })?;
        }
        if let Some(r) = self.sinks.recorder.as_mut() {
            r.flush()?;
        }
        self.sinks.angles.finish()?;
        self.sinks.events.finish()?;
        Ok(())
    }

    /// Ends the session: drains the assembler, closes the open block, writes the summary, flushes
    /// and closes the files and the stored session.
    pub fn finish(mut self) -> Result<(LiveView, LiveFigures), LiveError> {
        let mut out = Vec::new();
        self.assembler.finish(&mut out);
        let t = self.sinks.view.t_s;
        for a in out {
            if let Assembled::Sample(s) = a {
                self.on_sample(s, t)?;
            }
        }
        match self.session.finish(&mut self.sinks) {
            Ok(_) => {}
            Err(SessionError::Sink(e)) => return Err(LiveError::Sink(e)),
            // Nothing to summarise (no calibration, a sensor never streamed): the files stay.
            Err(e) => self.sinks.view.summary = vec![format!("no summary: {e}")],
        }
        self.flush()?;
        if let Some(mut s) = self.sinks.store.take() {
            self.figures.stored_session_id = s.close()?;
        }
        self.figures.frames = self.sinks.frames;
        Ok((self.sinks.view, self.figures))
    }
}

fn round_ms(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}
