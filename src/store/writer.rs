//! [`SessionWriter`]: the batcher that live capture and replay feed, one session at a time.
//!
//! Rows accumulate in memory and are committed in one transaction when
//! [`WriterConfig::flush_interval`] has passed since the last commit (checked on every push, so a
//! live stream commits at least that often), when [`WriterConfig::flush_rows`] rows are pending
//! (bulk imports), on [`SessionWriter::flush`], on [`SessionWriter::finish`] and on drop. Samples and
//! angle frames go into chunks of [`WriterConfig::chunk_rows`] rows per stream; the open (partly
//! filled) chunk of each stream is rewritten in place at every commit, so what has been committed
//! is always readable, and a crash loses at most the rows pushed since the last commit.

use super::codec::{self, Codec};
use super::history::{self, SessionPoint};
use super::{
    EventRecord, RepRecord, SessionMeta, SessionReview, SessionSummary, Store, StoreError,
    StoreResult,
};
use crate::calibration::CalibrationProfile;
use crate::form::Event;
use crate::model::{ImuSample, JointAngles, SensorRole};
use crate::session::SessionEvent;
use rusqlite::params;
use std::time::{Duration, Instant};

/// Columns of an angle chunk: time offset, knee, hip, leg raise, pelvic tilt, gap flag.
pub(crate) const ANGLE_COLUMNS: usize = 6;
/// Columns of a sample chunk: time offset, acc xyz, gyro xyz.
const SAMPLE_COLUMNS: usize = 7;

/// Batching settings of a [`SessionWriter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriterConfig {
    /// Commit when this long has passed since the last commit (default 0.5 s).
    pub flush_interval: Duration,
    /// Commit when this many sample and frame rows are pending (default 200,000).
    pub flush_rows: usize,
    /// Rows per chunk and stream (default 1,000: 10 s at 100 Hz, about 28 kB raw).
    pub chunk_rows: usize,
    /// Chunk encoding (default [`Codec::ShuffleDeflate`]).
    pub codec: Codec,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            flush_interval: Duration::from_millis(500),
            flush_rows: 200_000,
            chunk_rows: 1000,
            codec: Codec::ShuffleDeflate,
        }
    }
}

/// What the last commit made durable.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CommitMark {
    /// Raw samples committed so far.
    pub samples: u64,
    /// Angle frames committed so far.
    pub frames: u64,
    /// Events committed so far.
    pub events: u64,
    /// Latest sample or frame time committed, recording seconds.
    pub t_last_s: Option<f64>,
    /// Commits so far.
    pub commits: u64,
}

/// Where a stream's chunks go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamKey {
    Samples(SensorRole),
    Angles,
}

/// One stream's open chunk.
struct Stream {
    key: StreamKey,
    chunk: i64,
    t0_s: f64,
    cols: Vec<Vec<f32>>,
    dirty: bool,
}

impl Stream {
    fn new(key: StreamKey) -> Stream {
        let n = match key {
            StreamKey::Samples(_) => SAMPLE_COLUMNS,
            StreamKey::Angles => ANGLE_COLUMNS,
        };
        Stream {
            key,
            chunk: 0,
            t0_s: 0.0,
            cols: vec![Vec::new(); n],
            dirty: false,
        }
    }

    fn len(&self) -> usize {
        self.cols[0].len()
    }

    fn push(&mut self, t_s: f64, values: &[f32]) {
        if self.len() == 0 {
            self.t0_s = t_s;
        }
        self.cols[0].push((t_s - self.t0_s) as f32);
        for (c, v) in self.cols[1..].iter_mut().zip(values) {
            c.push(*v);
        }
        self.dirty = true;
    }
}

/// An encoded chunk waiting for the next commit.
struct Pending {
    key: StreamKey,
    chunk: i64,
    t0_s: f64,
    n: usize,
    blob: Vec<u8>,
}

/// Writes one session: raw samples, angle frames, DESIGN 3.3 event objects, reps and the summary.
pub struct SessionWriter<'a> {
    store: &'a mut Store,
    id: i64,
    meta: SessionMeta,
    cfg: WriterConfig,
    streams: Vec<Stream>,
    closed: Vec<Pending>,
    events: Vec<EventRecord>,
    reps: Vec<RepRecord>,
    all_reps: Vec<RepRecord>,
    blocks: Vec<super::BlockRecord>,
    block_starts: Vec<(u32, f64)>,
    summary: Option<SessionSummary>,
    pending_rows: usize,
    pushed: CommitMark,
    committed: CommitMark,
    t_first_s: Option<f64>,
    last_commit: Instant,
    done: bool,
}

impl<'a> SessionWriter<'a> {
    pub(super) fn begin(
        store: &'a mut Store,
        meta: &SessionMeta,
        cfg: WriterConfig,
    ) -> StoreResult<SessionWriter<'a>> {
        let calibration = meta
            .calibration
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_default());
        let path = store.path().to_path_buf();
        let waited = store.busy_timeout();
        let err = |e| super::map_err(&path, e, waited);
        let tx = store.conn_mut().transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO sessions (started_unix_s, side, stretch, source, rate_hz, calibration_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                meta.started_unix_s,
                meta.side.as_str(),
                meta.stretch.as_str(),
                meta.source,
                meta.rate_hz,
                calibration
            ],
        )
        .map_err(err)?;
        let id = tx.last_insert_rowid();
        for s in &meta.sensors {
            tx.execute(
                "INSERT OR REPLACE INTO session_sensors (session_id, role, family, model) VALUES (?1, ?2, ?3, ?4)",
                params![id, s.role.as_str(), s.family, s.model],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(SessionWriter {
            store,
            id,
            meta: meta.clone(),
            cfg: WriterConfig {
                chunk_rows: cfg.chunk_rows.max(1),
                ..cfg
            },
            streams: Vec::new(),
            closed: Vec::new(),
            events: Vec::new(),
            reps: Vec::new(),
            all_reps: Vec::new(),
            blocks: Vec::new(),
            block_starts: Vec::new(),
            summary: None,
            pending_rows: 0,
            pushed: CommitMark::default(),
            committed: CommitMark::default(),
            t_first_s: None,
            last_commit: Instant::now(),
            done: false,
        })
    }

    /// The new session's id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// What the last commit made durable.
    pub fn committed(&self) -> CommitMark {
        self.committed
    }

    /// Stores the calibration profile (when it becomes known after the session started).
    pub fn set_calibration(&mut self, profile: &CalibrationProfile) -> StoreResult<()> {
        let json = serde_json::to_string(profile).unwrap_or_default();
        self.store
            .conn()
            .execute(
                "UPDATE sessions SET calibration_json = ?1 WHERE id = ?2",
                params![json, self.id],
            )
            .map_err(|e| self.store.err(e))?;
        Ok(())
    }

    /// Adds (or replaces) a sensor of the session.
    pub fn add_sensor(&mut self, sensor: &super::SensorInfo) -> StoreResult<()> {
        self.store
            .conn()
            .execute(
                "INSERT OR REPLACE INTO session_sensors (session_id, role, family, model) VALUES (?1, ?2, ?3, ?4)",
                params![self.id, sensor.role.as_str(), sensor.family, sensor.model],
            )
            .map_err(|e| self.store.err(e))?;
        Ok(())
    }

    /// Stores the nominal sample rate.
    pub fn set_rate_hz(&mut self, rate_hz: f64) -> StoreResult<()> {
        self.store
            .conn()
            .execute(
                "UPDATE sessions SET rate_hz = ?1 WHERE id = ?2",
                params![rate_hz, self.id],
            )
            .map_err(|e| self.store.err(e))?;
        Ok(())
    }

    fn stream(&mut self, key: StreamKey) -> &mut Stream {
        let i = match self.streams.iter().position(|s| s.key == key) {
            Some(i) => i,
            None => {
                self.streams.push(Stream::new(key));
                self.streams.len() - 1
            }
        };
        &mut self.streams[i]
    }

    fn push_row(&mut self, key: StreamKey, t_s: f64, values: &[f32]) -> StoreResult<()> {
        let (chunk_rows, codec) = (self.cfg.chunk_rows, self.cfg.codec);
        let s = self.stream(key);
        s.push(t_s, values);
        if s.len() >= chunk_rows {
            let cols: Vec<&[f32]> = s.cols.iter().map(|c| c.as_slice()).collect();
            let pending = Pending {
                key,
                chunk: s.chunk,
                t0_s: s.t0_s,
                n: s.len(),
                blob: codec::encode(&cols, codec),
            };
            s.chunk += 1;
            s.cols.iter_mut().for_each(Vec::clear);
            s.dirty = false;
            self.closed.push(pending);
        }
        self.t_first_s = Some(self.t_first_s.map_or(t_s, |t| t.min(t_s)));
        self.pushed.t_last_s = Some(self.pushed.t_last_s.map_or(t_s, |t| t.max(t_s)));
        self.pending_rows += 1;
        self.maybe_flush()
    }

    /// Adds one raw sample (magnetometer values are not stored).
    pub fn push_sample(&mut self, s: &ImuSample) -> StoreResult<()> {
        // What the pipeline drops as physically impossible is not stored either.
        if crate::limits::check(s).is_err() {
            return Ok(());
        }
        let v = [
            s.acc_m_s2.x as f32,
            s.acc_m_s2.y as f32,
            s.acc_m_s2.z as f32,
            s.gyr_rad_s.x as f32,
            s.gyr_rad_s.y as f32,
            s.gyr_rad_s.z as f32,
        ];
        self.pushed.samples += 1;
        self.push_row(StreamKey::Samples(s.role), s.t_s, &v)
    }

    /// Adds one angle frame.
    pub fn push_angles(&mut self, a: &JointAngles) -> StoreResult<()> {
        let f = |v: Option<f64>| v.map_or(f32::NAN, |v| v as f32);
        let v = [
            f(a.knee_flexion_deg),
            f(a.hip_flexion_deg),
            f(a.leg_raise_deg),
            f(a.pelvic_tilt_deg),
            if a.gap { 1.0 } else { 0.0 },
        ];
        self.pushed.frames += 1;
        self.push_row(StreamKey::Angles, a.t_s, &v)
    }

    /// Adds one DESIGN 3.3 event object given as its time, name and JSON text.
    ///
    /// `rep` objects also become a row of the reps table and the `summary` object the session's
    /// summary columns, so the form module only has to hand over its events.
    pub fn add_event_json(&mut self, t_s: f64, event: &str, json: &str) -> StoreResult<()> {
        let bad = |message: String| StoreError::BadEvent { t_s, message };
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let obj = value
            .as_object()
            .ok_or_else(|| bad("not a JSON object".into()))?;
        let num = |k: &str| obj.get(k).and_then(serde_json::Value::as_f64);
        match event {
            "rep" => self.add_rep(&RepRecord {
                rep: num("rep").map_or(self.all_reps.len() as u32 + 1, |r| r as u32),
                t_s,
                static_hold_s: num("static_hold_s"),
                positional_hold_s: num("positional_hold_s"),
                hold_angle_deg: num("hold_angle_deg"),
                peak_angle_deg: num("peak_angle_deg"),
                knee_mean_deg: num("knee_mean_deg"),
            }),
            "summary" => self.set_summary(&SessionSummary {
                reps: num("reps").map_or(self.all_reps.len() as u32, |r| r as u32),
                total_static_hold_s: num("total_static_hold_s").unwrap_or(0.0),
                warnings_per_min: num("warnings_per_min"),
                session_value_deg: num("session_value_deg"),
                active_s: num("active_s"),
            }),
            _ => {}
        }
        self.events.push(EventRecord {
            t_s,
            event: event.to_string(),
            json: json.to_string(),
        });
        self.pushed.events += 1;
        self.maybe_flush()
    }

    /// Adds one session event. Its DESIGN 3.3 object is stored as the event row; a `rep` also
    /// becomes a row of the reps table and the `summary` the session's summary columns, taken
    /// from the typed fields (nothing is parsed back).
    pub fn add_session_event(&mut self, e: &SessionEvent) -> StoreResult<()> {
        match e {
            SessionEvent::Form {
                event:
                    Event::Rep {
                        t_s,
                        rep,
                        static_hold_s,
                        positional_hold_s,
                        hold_angle_deg,
                        peak_angle_deg,
                        knee_mean_deg,
                        ..
                    },
                ..
            } => self.add_rep(&RepRecord {
                rep: *rep,
                t_s: *t_s,
                static_hold_s: Some(*static_hold_s),
                positional_hold_s: Some(*positional_hold_s),
                hold_angle_deg: Some(*hold_angle_deg),
                peak_angle_deg: Some(*peak_angle_deg),
                knee_mean_deg: Some(*knee_mean_deg),
            }),
            SessionEvent::Block(b) => match &b.figures {
                None => self.block_starts.push((b.block, b.t_s)),
                Some(f) => {
                    let t_start_s = self
                        .block_starts
                        .iter()
                        .find(|(i, _)| *i == b.block)
                        .map_or(b.t_s, |(_, t)| *t);
                    self.blocks.push(super::BlockRecord {
                        block: b.block,
                        side: b.side,
                        stretch: b.stretch,
                        t_start_s,
                        t_end_s: b.t_s,
                        reps: f.reps,
                        total_static_hold_s: f.total_static_hold_s,
                        warnings_per_min: Some(f.warnings_per_min),
                        session_value_deg: f.session_value_deg,
                    });
                }
            },
            SessionEvent::Summary(sum) => self.set_summary(&SessionSummary {
                reps: sum.overall.reps,
                total_static_hold_s: sum.overall.total_static_hold_s,
                warnings_per_min: Some(sum.overall.warnings_per_min),
                session_value_deg: sum.overall.session_value_deg,
                active_s: Some(sum.overall.active_s),
            }),
            _ => {}
        }
        self.events.push(EventRecord {
            t_s: e.t_s(),
            event: e.name().to_string(),
            json: e.to_json(),
        });
        self.pushed.events += 1;
        self.maybe_flush()
    }

    /// Adds one DESIGN 3.3 event object (must hold `event` and `t_s`).
    pub fn add_event(&mut self, value: &serde_json::Value) -> StoreResult<()> {
        let t_s = value.get("t_s").and_then(serde_json::Value::as_f64);
        let name = value.get("event").and_then(serde_json::Value::as_str);
        match (t_s, name) {
            (Some(t_s), Some(name)) => self.add_event_json(t_s, name, &value.to_string()),
            _ => Err(StoreError::BadEvent {
                t_s: t_s.unwrap_or(f64::NAN),
                message: "missing 'event' or 't_s'".into(),
            }),
        }
    }

    /// Adds or replaces a rep (same number replaces).
    pub fn add_rep(&mut self, rep: &RepRecord) {
        self.all_reps.retain(|r| r.rep != rep.rep);
        self.all_reps.push(*rep);
        self.reps.push(*rep);
    }

    /// Sets the session summary (replaces an earlier one).
    pub fn set_summary(&mut self, summary: &SessionSummary) {
        self.summary = Some(*summary);
    }

    fn maybe_flush(&mut self) -> StoreResult<()> {
        if self.pending_rows >= self.cfg.flush_rows
            || self.last_commit.elapsed() >= self.cfg.flush_interval
        {
            self.flush()?;
        }
        Ok(())
    }

    /// Commits everything pushed so far in one transaction.
    pub fn flush(&mut self) -> StoreResult<()> {
        let codec = self.cfg.codec;
        let open: Vec<Pending> = self
            .streams
            .iter_mut()
            .filter(|s| s.dirty && s.len() > 0)
            .map(|s| {
                s.dirty = false;
                let cols: Vec<&[f32]> = s.cols.iter().map(|c| c.as_slice()).collect();
                Pending {
                    key: s.key,
                    chunk: s.chunk,
                    t0_s: s.t0_s,
                    n: s.len(),
                    blob: codec::encode(&cols, codec),
                }
            })
            .collect();
        let id = self.id;
        let path = self.store.path().to_path_buf();
        let waited = self.store.busy_timeout();
        let err = |e| super::map_err(&path, e, waited);
        let tx = self.store.conn_mut().transaction().map_err(err)?;
        {
            let mut ins_sample = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO sample_chunks (session_id, sensor, chunk, t0_s, n, codec, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(err)?;
            let mut ins_angle = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO angle_chunks (session_id, chunk, t0_s, n, codec, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for p in self.closed.iter().chain(&open) {
                match p.key {
                    StreamKey::Samples(role) => ins_sample.execute(params![
                        id,
                        role.as_str(),
                        p.chunk,
                        p.t0_s,
                        p.n as i64,
                        codec.tag(),
                        p.blob
                    ]),
                    StreamKey::Angles => ins_angle.execute(params![
                        id,
                        p.chunk,
                        p.t0_s,
                        p.n as i64,
                        codec.tag(),
                        p.blob
                    ]),
                }
                .map_err(err)?;
            }
            let mut ins_event = tx
                .prepare_cached(
                    "INSERT INTO events (session_id, t_s, event, json) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for e in &self.events {
                ins_event
                    .execute(params![id, e.t_s, e.event, e.json])
                    .map_err(err)?;
            }
            let mut ins_rep = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO reps (session_id, rep, t_s, static_hold_s, positional_hold_s,
                        hold_angle_deg, peak_angle_deg, knee_mean_deg) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(err)?;
            for r in &self.reps {
                ins_rep
                    .execute(params![
                        id,
                        r.rep,
                        r.t_s,
                        r.static_hold_s,
                        r.positional_hold_s,
                        r.hold_angle_deg,
                        r.peak_angle_deg,
                        r.knee_mean_deg
                    ])
                    .map_err(err)?;
            }
            let mut ins_block = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO blocks (session_id, block, side, stretch, t_start_s, t_end_s,
                        reps, total_static_hold_s, warnings_per_min, session_value_deg)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(err)?;
            for b in &self.blocks {
                ins_block
                    .execute(params![
                        id,
                        b.block,
                        b.side.as_str(),
                        b.stretch.as_str(),
                        b.t_start_s,
                        b.t_end_s,
                        b.reps,
                        b.total_static_hold_s,
                        b.warnings_per_min,
                        b.session_value_deg
                    ])
                    .map_err(err)?;
            }
            tx.execute(
                "UPDATE sessions SET t_first_s = ?1, t_last_s = ?2 WHERE id = ?3",
                params![self.t_first_s, self.pushed.t_last_s, id],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        self.closed.clear();
        self.events.clear();
        self.reps.clear();
        self.blocks.clear();
        self.pending_rows = 0;
        self.last_commit = Instant::now();
        self.committed = CommitMark {
            commits: self.committed.commits + 1,
            ..self.pushed
        };
        Ok(())
    }

    /// Commits the rest, stores the summary, computes the history results (D3 baseline, D4, D8)
    /// and marks the session finished.
    pub fn finish(mut self) -> StoreResult<SessionReview> {
        self.flush()?;
        self.done = true;
        // Without form output (no summary, no reps) the summary columns stay NULL.
        let has_summary = self.summary.is_some() || !self.all_reps.is_empty();
        let mut summary = self.summary.unwrap_or(SessionSummary {
            reps: self.all_reps.len() as u32,
            total_static_hold_s: self.all_reps.iter().filter_map(|r| r.static_hold_s).sum(),
            ..SessionSummary::default()
        });
        if summary.session_value_deg.is_none() {
            let holds: Vec<f64> = self
                .all_reps
                .iter()
                .filter_map(|r| r.hold_angle_deg)
                .collect();
            summary.session_value_deg = history::median(&holds);
        }
        let store = &mut *self.store;
        let cfg = *store.history_config();
        let points = store.session_points(self.meta.stretch)?;
        let now_days = self.meta.started_unix_s / 86_400.0;
        let same_side: Vec<SessionPoint> = points
            .iter()
            .filter(|p| p.side == self.meta.side && p.id != self.id)
            .copied()
            .collect();
        let baseline = history::baseline(&same_side, now_days, &cfg);
        let review = summary.session_value_deg.map(|value_deg| {
            let current = SessionPoint {
                id: self.id,
                t_days: now_days,
                side: self.meta.side,
                value_deg,
            };
            let mut all: Vec<SessionPoint> =
                points.iter().filter(|p| p.id != self.id).copied().collect();
            all.push(current);
            SessionReview {
                baseline,
                fast_progression: history::fast_progression(&same_side, &current, &cfg),
                asymmetry: history::asymmetry(&all, &current, &cfg),
            }
        });
        let d4 = review.map(|r| r.fast_progression);
        let d8 = review.map(|r| r.asymmetry);
        store
            .conn()
            .execute(
                "UPDATE sessions SET finished = 1, reps = ?2, total_static_hold_s = ?3, warnings_per_min = ?4,
                    session_value_deg = ?5, active_s = ?6, baseline_deg = ?7, baseline_delta_deg = ?8,
                    baseline_sessions = ?9, d4_status = ?10, d4_jump_deg = ?11, d4_slope_deg_per_week = ?12,
                    d8_status = ?13, d8_paired = ?14, d8_over_limit = ?15, d8_mean_diff_deg = ?16,
                    d8_tighter_side = ?17
                 WHERE id = ?1",
                params![
                    self.id,
                    has_summary.then_some(summary.reps),
                    has_summary.then_some(summary.total_static_hold_s),
                    summary.warnings_per_min,
                    summary.session_value_deg,
                    summary.active_s,
                    baseline.map(|b| b.b_deg),
                    baseline.map(|b| b.delta_deg),
                    baseline.map(|b| b.sessions as i64),
                    d4.map(|d| d.status.as_str()),
                    d4.and_then(|d| d.jump_deg),
                    d4.and_then(|d| d.slope_deg_per_week),
                    d8.map(|d| d.status.as_str()),
                    d8.map(|d| d.paired as i64),
                    d8.map(|d| d.over_limit as i64),
                    d8.and_then(|d| d.mean_diff_deg),
                    d8.and_then(|d| d.tighter).map(|s| s.as_str()),
                ],
            )
            .map_err(|e| store.err(e))?;
        Ok(review.unwrap_or(SessionReview {
            baseline,
            fast_progression: history::FastProgression {
                status: history::FlagStatus::InsufficientData,
                jump_deg: None,
                slope_deg_per_week: None,
            },
            asymmetry: history::Asymmetry {
                status: history::FlagStatus::InsufficientData,
                paired: 0,
                over_limit: 0,
                mean_diff_deg: None,
                tighter: None,
            },
        }))
    }
}

impl Drop for SessionWriter<'_> {
    /// An unfinished session keeps what was pushed (best effort) and stays marked unfinished.
    fn drop(&mut self) {
        if !self.done {
            let _ = self.flush();
        }
    }
}
