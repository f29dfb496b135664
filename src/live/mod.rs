//! Live use: records in, recordings, angles and the live view out.
//!
//! [`LiveSession`] is the synchronous heart of `stretchwatch live`. It takes [`RawRecord`]s in
//! arrival order (from the BLE edge or the real-time simulator, [`run`]), writes them to the raw
//! notification log, decodes and merges them with the same [`Assembler`] a raw-log replay uses,
//! writes IMU CSV v1 as it goes, calibrates (guided windows, or a saved profile), runs the core
//! [`Pipeline`] and keeps the [`LiveView`] state that [`view`] draws. Files are flushed every
//! [`FLUSH_EVERY_S`] of host time and on every connection event, so a crash leaves readable files
//! (the raw-log reader ignores a torn last line).
//!
//! Live mode and `replay` of its raw log agree exactly: the session feeds the pipeline every
//! sample from the first one, and calibrates on exactly the samples replay's first pass uses.

pub mod run;
pub mod view;

use crate::calibration::{CalibrationProfile, Calibrator};
use crate::form::{Event, FormConfig, FormContext, FormEngine, Phase, State, wording};
use crate::model::{ImuSample, JointAngles, SensorRole, Side, StretchType};
use crate::pipeline::{Pipeline, PipelineParams};
use crate::protocol::Family;
use crate::record::raw_log::{ConnEvent, RawDevice, RawEntry, RawLogWriter, RawRecord};
use crate::record::{AnglesCsvWriter, ImuCsvWriter, RecordError, RecordingHeader};
use crate::sim::scenario::{
    HINGE_END_S, HINGE_START_S, SETTLE_S, STATIC_END_S, SWING_END_S, SWING_START_S, TRANSITION_S,
};
use crate::source::{Assembled, Assembler, StreamStats};
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

/// Files are flushed at least this often (host time), seconds.
pub const FLUSH_EVERY_S: f64 = 0.2;

/// Hold target shown against the hold timer, seconds (form-spec 2.2).
pub const HOLD_TARGET_S: f64 = 30.0;

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
    /// Excessive-range baseline (D3), degrees; without it only the population guardrail runs.
    pub baseline_deg: Option<f64>,
    /// Baseline from stored history (B with its Δ), used when `baseline_deg` is not given.
    pub stored_baseline: Option<crate::form::Baseline>,
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

enum Stage {
    Waiting,
    Calibrating { end_s: f64 },
    Running,
    Failed,
}

/// The live session (synchronous; see the module docs).
pub struct LiveSession {
    cfg: LiveConfig,
    assembler: Assembler,
    assembled: Vec<Assembled>,
    header: RecordingHeader,
    stage: Stage,
    /// Samples held until the pipeline exists (calibration) or the CSV is opened.
    held: Vec<ImuSample>,
    csv_path: Option<PathBuf>,
    csv: Option<ImuCsvWriter<BufWriter<File>>>,
    csv_written: usize,
    raw: Option<RawLogWriter<BufWriter<File>>>,
    angles: Option<AnglesCsvWriter<BufWriter<File>>>,
    pipeline: Option<Pipeline>,
    form: Option<FormEngine>,
    events: Option<BufWriter<File>>,
    hold_onset_s: Option<f64>,
    t_first_sample_s: Option<f64>,
    seen: [bool; 3],
    last_flush_s: f64,
    view: LiveView,
    recent: [VecDeque<f64>; 3],
    dropped_at: [Option<f64>; 3],
    figures: LiveFigures,
    frame_buf: Vec<JointAngles>,
    store: Option<crate::store::SessionWriter<'static>>,
    store_err: Option<String>,
}

fn round_ms(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

impl LiveSession {
    /// Starts a session: creates the raw log (header written at once) and remembers the other outputs.
    pub fn new(
        cfg: LiveConfig,
        outputs: &LiveOutputs,
        source: &str,
        started_unix_s: f64,
    ) -> Result<Self, LiveError> {
        let raw_header = crate::record::raw_log::RawLogHeader {
            started_unix_s,
            devices: cfg.devices.clone(),
            keys: vec![
                ("side".into(), cfg.side.as_str().into()),
                ("stretch".into(), cfg.stretch.as_str().into()),
            ],
        };
        let raw = match &outputs.raw_log {
            Some(p) => Some(RawLogWriter::create(p, &raw_header)?),
            None => None,
        };
        let angles = match &outputs.angles_csv {
            Some(p) => {
                let io = |source| RecordError::Io {
                    file: p.clone(),
                    source,
                };
                let f = File::create(p).map_err(io)?;
                Some(AnglesCsvWriter::new(BufWriter::new(f)).map_err(io)?)
            }
            None => None,
        };
        let events = match &outputs.events_jsonl {
            Some(p) => Some(BufWriter::new(File::create(p).map_err(|source| {
                RecordError::Io {
                    file: p.clone(),
                    source,
                }
            })?)),
            None => None,
        };
        let mut header = RecordingHeader {
            side: Some(cfg.side),
            stretch: Some(cfg.stretch),
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
            hold_target_s: HOLD_TARGET_S,
            warnings: Vec::new(),
            messages: VecDeque::new(),
            bell: false,
        };
        let store = match &outputs.session_db {
            Some(db) => {
                // The store lives as long as the process: the writer borrows it for the session.
                let store: &'static mut crate::store::Store =
                    Box::leak(Box::new(crate::store::Store::open(db)?));
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
                Some(store.begin_session(&meta)?)
            }
            None => None,
        };
        Ok(LiveSession {
            store,
            store_err: None,
            assembler: Assembler::new(&cfg.devices),
            cfg,
            assembled: Vec::new(),
            header,
            stage: Stage::Waiting,
            held: Vec::new(),
            csv_path: outputs.imu_csv.clone(),
            csv: None,
            csv_written: 0,
            raw,
            angles,
            pipeline: None,
            form: None,
            events,
            hold_onset_s: None,
            t_first_sample_s: None,
            seen: [false; 3],
            last_flush_s: 0.0,
            view,
            recent: Default::default(),
            dropped_at: [None; 3],
            figures: LiveFigures::default(),
            frame_buf: Vec::new(),
        })
    }

    /// The view state.
    pub fn view(&self) -> &LiveView {
        &self.view
    }

    /// Mutable view state (the driver clears the bell after drawing).
    pub fn view_mut(&mut self) -> &mut LiveView {
        &mut self.view
    }

    /// Figures so far.
    pub fn figures(&self) -> &LiveFigures {
        &self.figures
    }

    /// Counters of one device.
    pub fn stats(&self, role: SensorRole) -> Option<StreamStats> {
        self.assembler.stats(role)
    }

    /// The recording header as decided so far.
    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// Handles one record; returns how many frames it completed.
    pub fn on_record(&mut self, rec: &RawRecord) -> Result<usize, LiveError> {
        self.figures.records += 1;
        if let Some(w) = &mut self.raw {
            w.write(rec).map_err(|e| self.io_err_raw(e))?;
        }
        let t = rec.t_host_s;
        self.view.t_s = self.view.t_s.max(t);
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
            self.view.push_message(format!(
                "{t:7.1} s  {device}: streaming again after {dt:.2} s"
            ));
            self.write_marker(t, &format!("reconnected.{device}"))?;
        }
        let mut assembled = std::mem::take(&mut self.assembled);
        assembled.clear();
        self.assembler.push(rec, &mut assembled);
        let mut frames = 0;
        let mut flush_now = false;
        for a in assembled.drain(..) {
            match a {
                Assembled::Sample(s) => frames += self.on_sample(s, t)?,
                Assembled::Gap { role, t_s, missing } => {
                    // Single lost samples are counted in the sensor table, not announced.
                    if missing >= 5 {
                        self.view
                            .push_message(format!("{t_s:7.1} s  {role}: {missing} samples lost"));
                    }
                    self.write_marker(t_s, &format!("gap.{role} {missing}"))?;
                }
                Assembled::Connection { role, t_s, event } => {
                    flush_now = true;
                    self.on_connection(role, t_s, event)?;
                }
                Assembled::DecodeError { role, t_s, message } => {
                    self.view
                        .push_message(format!("{t_s:7.1} s  {role}: {message}"));
                }
                Assembled::Marker { .. } => {}
            }
        }
        self.assembled = assembled;
        if let RawEntry::Data { device, .. } = &rec.entry {
            self.figures.first_rx_s.get_or_insert(t);
            self.figures.last_rx_s = Some(t);
            let _ = device;
        }
        self.refresh_sensors(t);
        if flush_now || t - self.last_flush_s >= FLUSH_EVERY_S {
            self.flush()?;
            self.last_flush_s = t;
        }
        Ok(frames)
    }

    /// Updates link states and rates for host time `now_s` (call on a timer too).
    pub fn refresh_sensors(&mut self, now_s: f64) {
        self.view.t_s = self.view.t_s.max(now_s);
        for (i, sv) in self.view.sensors.iter_mut().enumerate() {
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
            let _ = i;
        }
    }

    fn io_err_raw(&self, e: std::io::Error) -> LiveError {
        LiveError::Record(RecordError::Io {
            file: PathBuf::from("raw log"),
            source: e,
        })
    }

    fn csv_err(&self, e: std::io::Error) -> LiveError {
        LiveError::Record(RecordError::Io {
            file: self.csv_path.clone().unwrap_or_default(),
            source: e,
        })
    }

    fn write_marker(&mut self, t_s: f64, label: &str) -> Result<(), LiveError> {
        if let Some(w) = &mut self.csv {
            w.write_marker(round_ms(t_s), label).map_err(|e| {
                LiveError::Record(RecordError::Io {
                    file: PathBuf::from("imu csv"),
                    source: e,
                })
            })?;
        }
        Ok(())
    }

    fn on_connection(
        &mut self,
        role: SensorRole,
        t_s: f64,
        event: ConnEvent,
    ) -> Result<(), LiveError> {
        let Some(sv) = self.view.sensors.iter_mut().find(|s| s.role == role) else {
            return Ok(());
        };
        match event {
            ConnEvent::Connected => sv.state = LinkState::Connected,
            ConnEvent::Subscribed => {}
            ConnEvent::Disconnected => {
                sv.state = LinkState::Reconnecting;
                self.dropped_at[role.index()] = Some(t_s);
                self.view.bell = true;
                self.view
                    .push_message(format!("{t_s:7.1} s  {role}: link lost, reconnecting"));
                self.write_marker(t_s, &format!("disconnected.{role}"))?;
            }
            ConnEvent::ReconnectFailed => sv.state = LinkState::Reconnecting,
        }
        Ok(())
    }

    fn on_sample(&mut self, s: ImuSample, now_s: f64) -> Result<usize, LiveError> {
        self.store_with(|w| w.push_sample(&s));
        let i = s.role.index();
        self.recent[i].push_back(now_s);
        if let Some(sv) = self.view.sensors.iter_mut().find(|v| v.role == s.role) {
            sv.state = LinkState::Streaming;
        }
        self.seen[i] = true;
        let t_first = *self.t_first_sample_s.get_or_insert(s.t_s);
        match self.stage {
            Stage::Waiting => {
                self.held.push(s);
                let all = self.cfg.devices.iter().all(|d| self.seen[d.role.index()]);
                if all {
                    self.start(s.t_s)?;
                }
                Ok(0)
            }
            Stage::Calibrating { end_s } => {
                // Mirrors replay's first pass: calibrate on the samples before the first one past
                // the windows (and at least 2 s of data).
                if s.t_s > end_s && s.t_s - t_first > 2.0 {
                    self.finish_calibration();
                    return self.feed(s);
                }
                self.held.push(s);
                self.write_csv(&s)?;
                self.update_calibration_view(s.t_s);
                Ok(0)
            }
            Stage::Running => self.feed(s),
            Stage::Failed => {
                self.write_csv(&s)?;
                Ok(0)
            }
        }
    }

    fn write_csv(&mut self, s: &ImuSample) -> Result<(), LiveError> {
        if let Some(w) = &mut self.csv {
            w.write(s).map_err(|e| {
                LiveError::Record(RecordError::Io {
                    file: PathBuf::from("imu csv"),
                    source: e,
                })
            })?;
            self.csv_written += 1;
        }
        Ok(())
    }

    fn marker(&mut self, t_s: f64, key: &str, value: String) -> Result<(), LiveError> {
        let rec = RawRecord {
            t_host_s: crate::record::raw_log::round_to_us(t_s),
            entry: RawEntry::Marker {
                key: key.into(),
                value: value.clone(),
            },
        };
        if let Some(w) = &mut self.raw {
            w.write(&rec).map_err(|e| self.io_err_raw(e))?;
        }
        self.header.apply(key, &value).map_err(LiveError::Invalid)
    }

    /// Every sensor streams: plan the session and open the CSV.
    fn start(&mut self, t_s: f64) -> Result<(), LiveError> {
        let t0 = round_ms(t_s);
        if self.cfg.profile.is_some() {
            self.marker(t_s, "marker", format!("{t0} block.start"))?;
            self.stage = Stage::Running;
        } else {
            let pelvis = self
                .cfg
                .devices
                .iter()
                .any(|d| d.role == SensorRole::Pelvis);
            let w = |a: f64, b: f64| format!("{} {}", round_ms(t0 + a), round_ms(t0 + b));
            self.marker(t_s, "calibration.static", w(0.0, STATIC_END_S))?;
            self.marker(t_s, "calibration.functional", w(SWING_START_S, SWING_END_S))?;
            let mut end = SWING_END_S;
            if pelvis {
                self.marker(
                    t_s,
                    "pelvis_calibration.functional",
                    w(HINGE_START_S, HINGE_END_S),
                )?;
                end = HINGE_END_S;
            }
            // The simulator's layout: the block starts after the posture transition and settling.
            let cal_end = if pelvis { HINGE_END_S } else { HINGE_START_S };
            let block = round_ms(t0 + cal_end + TRANSITION_S + SETTLE_S);
            self.marker(t_s, "marker", format!("{block} block.start"))?;
            let _ = end;
            // The end as replay will read it back from the markers.
            let end_s = [
                self.header.calibration_static,
                self.header.calibration_functional,
                self.header.pelvis_calibration_functional,
            ]
            .iter()
            .flatten()
            .map(|w| w.end_s)
            .fold(f64::NEG_INFINITY, f64::max);
            self.stage = Stage::Calibrating { end_s };
            self.update_calibration_view(t_s);
        }
        if let Some(p) = self.csv_path.clone() {
            self.csv = Some(ImuCsvWriter::create(&p, &self.header)?);
        }
        let held = std::mem::take(&mut self.held);
        for s in &held {
            self.write_csv(s)?;
        }
        match self.stage {
            Stage::Running => {
                let profile = self.cfg.profile.clone().expect("profile given");
                if let Some(c) = crate::calibration::accuracy_caveat(&profile) {
                    self.view.push_message(c);
                }
                self.make_pipeline(profile);
                let mut n = 0;
                for s in &held {
                    n += self.push_pipeline(s)?;
                }
                let _ = n;
            }
            _ => self.held = held,
        }
        Ok(())
    }

    fn update_calibration_view(&mut self, t_s: f64) {
        let Some(t0) = self.header.calibration_static.map(|w| w.start_s) else {
            return;
        };
        let rel = t_s - t0;
        let steps: [(f64, &'static str); 5] = [
            (STATIC_END_S, "Stand upright and still, knees straight"),
            (SWING_START_S, "Get ready to swing the lower leg"),
            (
                SWING_END_S,
                "Swing the lower leg back and forth (bend and straighten the knee)",
            ),
            (HINGE_START_S, "Stand still"),
            (
                HINGE_END_S,
                "Hinge forward at the hips and back up, knees straight",
            ),
        ];
        let pelvis = self.header.pelvis_calibration_functional.is_some();
        let (end, instruction) = steps
            .iter()
            .copied()
            .filter(|(e, _)| pelvis || *e <= SWING_END_S)
            .find(|(e, _)| rel < *e)
            .unwrap_or((rel + 1.0, "Calibrating…"));
        self.view.stage = StageView::Calibrating {
            instruction,
            left_s: (end - rel).max(0.0),
        };
    }

    fn finish_calibration(&mut self) {
        let rates = [self.header.rate_hz.unwrap_or(100.0); 3];
        let result = Calibrator::with_sensor_rates(&self.header, rates).and_then(|mut c| {
            self.held.iter().for_each(|s| c.push(s));
            c.finish()
        });
        match result {
            Ok(profile) => {
                self.view.push_message(format!(
                    "calibration accepted — quality {:.2}",
                    profile.quality.score
                ));
                if let Some(c) = crate::calibration::accuracy_caveat(&profile) {
                    self.view.push_message(c);
                }
                self.make_pipeline(profile);
                self.stage = Stage::Running;
                let held = std::mem::take(&mut self.held);
                for s in &held {
                    // Frames of the calibration period are computed for the angles file only.
                    let _ = self.push_pipeline(s);
                }
            }
            Err(e) => {
                self.view.stage = StageView::CalibrationFailed(e.to_string());
                self.view.bell = true;
                self.stage = Stage::Failed;
                self.held.clear();
            }
        }
    }

    fn make_pipeline(&mut self, profile: CalibrationProfile) {
        self.store_with(|w| w.set_calibration(&profile));
        let rate = self.header.rate_hz.unwrap_or(100.0);
        self.pipeline = Some(Pipeline::with_sensor_rates(
            &profile,
            self.cfg.stretch,
            rate,
            [rate; 3],
            self.cfg.params,
        ));
        let mut ctx = FormContext::from_header(&self.header, &self.cfg.form, self.cfg.baseline_deg);
        if self.cfg.baseline_deg.is_none() && self.cfg.stored_baseline.is_some() {
            ctx.baseline = self.cfg.stored_baseline;
        }
        self.form = Some(FormEngine::new(self.cfg.form, ctx));
        self.view.hold_target_s = self.cfg.form.hold.effective_target_s();
        self.view.stage = StageView::Running;
    }

    fn feed(&mut self, s: ImuSample) -> Result<usize, LiveError> {
        self.write_csv(&s)?;
        self.push_pipeline(&s)
    }

    fn push_pipeline(&mut self, s: &ImuSample) -> Result<usize, LiveError> {
        let Some(p) = self.pipeline.as_mut() else {
            return Ok(0);
        };
        let mut frames = std::mem::take(&mut self.frame_buf);
        frames.clear();
        let refinements = p.calibration_refinements();
        p.push(s, |a| frames.push(*a));
        if p.calibration_refinements() != refinements
            && let Some(t) = p.calibration_refined_at_s()
        {
            self.view
                .push_message(format!("calibration refined at {t:.1} s"));
        }
        let n = frames.len();
        for a in &frames {
            self.on_frame(a)?;
        }
        self.frame_buf = frames;
        self.figures.frames += n as u64;
        Ok(n)
    }

    fn on_frame(&mut self, a: &JointAngles) -> Result<(), LiveError> {
        let mut events: Vec<Event> = Vec::new();
        let mut phase = None;
        let mut static_hold_s = None;
        if let Some(f) = &mut self.form {
            f.push(a, &mut |e: &Event| events.push(*e));
            phase = f.phase();
            static_hold_s = f.static_hold_s();
        }
        for e in &events {
            self.on_event(e)?;
        }
        self.view.phase = phase.map(|p| p.as_str().to_string());
        // The timer shows the static hold (bouncing does not count), as the rep report will.
        self.view.hold_s = match (phase, static_hold_s, self.hold_onset_s) {
            (Some(Phase::Hold), Some(h), _) => Some(h),
            (Some(Phase::Hold), None, Some(t0)) => Some((a.t_s - t0).max(0.0)),
            _ => self.view.hold_s.filter(|_| phase != Some(Phase::Rest)),
        };
        if let Some(w) = &mut self.angles {
            w.write(a, phase.map(|p| p.as_str())).map_err(|e| {
                LiveError::Record(RecordError::Io {
                    file: PathBuf::from("angles csv"),
                    source: e,
                })
            })?;
        }
        self.view.angles = Some(*a);
        self.store_with(|w| w.push_angles(a));
        Ok(())
    }

    /// Hands data to the session database. A failing database is reported once in the view and
    /// then left alone: the recording files go on, so nothing already captured is lost.
    fn store_with(
        &mut self,
        f: impl FnOnce(&mut crate::store::SessionWriter<'static>) -> crate::store::StoreResult<()>,
    ) {
        let Some(w) = self.store.as_mut() else {
            return;
        };
        if let Err(e) = f(w) {
            let msg = format!("session database: {e}; storing stopped, the recording files go on");
            self.view.push_message(msg.clone());
            self.store_err = Some(msg);
            self.store = None;
        }
    }

    fn on_event(&mut self, e: &Event) -> Result<(), LiveError> {
        if self.store.is_some()
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&e.to_json())
        {
            self.store_with(|w| w.add_event(&v));
        }
        if let Some(w) = &mut self.events {
            use std::io::Write as _;
            writeln!(w, "{}", e.to_json()).map_err(|source| {
                LiveError::Record(RecordError::Io {
                    file: PathBuf::from("events"),
                    source,
                })
            })?;
        }
        if let Event::Phase { phase, onset_s, .. } = *e {
            match phase {
                Phase::Hold => {
                    self.hold_onset_s.get_or_insert(onset_s);
                }
                Phase::Rest => self.hold_onset_s = None,
                _ => {}
            }
            return Ok(());
        }
        let Some(text) = wording::describe(e) else {
            return Ok(());
        };
        let json: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap_or_default();
        let severity = match json["severity"].as_str() {
            Some("warning") => "WARNING",
            Some("advisory") => "ADVISORY",
            Some("system") => "SYSTEM",
            _ => "INFO",
        };
        // The wording module prefixes warnings with their severity; the view shows it apart.
        let text = text
            .trim_start_matches("WARNING ")
            .trim_start_matches("ADVISORY ")
            .to_string();
        match e.state() {
            Some(State::On) => {
                self.view.warnings.retain(|w| w.key != e.name());
                self.view.warnings.push(ActiveWarning {
                    key: e.name(),
                    text,
                    severity,
                });
                // Cue arbitration (form-spec section 3) picks which warning gets the audio cue;
                // the others are shown without the bell.
                if json["cue"].as_str() == Some("audio") {
                    self.view.bell = true;
                }
            }
            Some(State::Off) => self.view.warnings.retain(|w| w.key != e.name()),
            None => self.view.push_message(format!("{:7.1} s  {text}", e.t_s())),
        }
        Ok(())
    }

    /// Flushes every open file.
    pub fn flush(&mut self) -> Result<(), LiveError> {
        if let Some(w) = &mut self.raw {
            w.flush().map_err(|e| self.io_err_raw(e))?;
        }
        if let Some(w) = &mut self.csv
            && let Err(e) = w.flush()
        {
            return Err(self.csv_err(e));
        }
        if let Some(w) = &mut self.events {
            use std::io::Write as _;
            w.flush().map_err(|source| {
                LiveError::Record(RecordError::Io {
                    file: PathBuf::from("events"),
                    source,
                })
            })?;
        }
        if let Some(w) = &mut self.angles {
            w.flush().map_err(|e| {
                LiveError::Record(RecordError::Io {
                    file: PathBuf::from("angles csv"),
                    source: e,
                })
            })?;
        }
        Ok(())
    }

    /// Ends the session: drains the assembler, flushes and closes the files.
    pub fn finish(mut self) -> Result<(LiveView, LiveFigures), LiveError> {
        let mut out = Vec::new();
        self.assembler.finish(&mut out);
        let t = self.view.t_s;
        for a in out {
            if let Assembled::Sample(s) = a {
                self.on_sample(s, t)?;
            }
        }
        if let Some(mut f) = self.form.take() {
            let mut events = Vec::new();
            f.finish(&mut |e: &Event| events.push(*e));
            for e in &events {
                self.on_event(e)?;
            }
        }
        if self.csv.is_none()
            && let Some(p) = self.csv_path.clone()
        {
            // Not every sensor ever streamed: still leave a readable file with what came.
            let mut w = ImuCsvWriter::create(&p, &self.header)?;
            for s in &self.held {
                w.write(s).map_err(|e| self.csv_err(e))?;
            }
            self.csv = Some(w);
        }
        self.flush()?;
        if let Some(w) = self.store.take() {
            let id = w.id();
            w.finish()?;
            self.figures.stored_session_id = Some(id);
        }
        Ok((self.view, self.figures))
    }
}
