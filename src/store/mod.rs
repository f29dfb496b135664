//! The SQLite session store: schema, migrations, the session writer and the review queries.
//!
//! One file (WAL, `synchronous=NORMAL`, 5 s busy timeout) holds every session. A session is one
//! exercise block (one side × one stretch type) with its sensors, calibration profile, raw samples,
//! angle frames, the DESIGN 3.3 event objects, reps and a summary, plus the history results of
//! form-spec D3/D4/D8 computed when it ends ([`history`]).
//!
//! Raw samples and angle frames are stored as BLOB chunks of up to 1,000 rows per stream
//! ([`codec`]): row-per-sample tables cost about 77 bytes per sample (rust-stack.md §3), which puts a
//! one-hour two-sensor 100 Hz session at about 55 MB before angles, over the 30 MB budget; chunks
//! hold it in about 20 MB (figures in `benches/store.rs`). Readers decode whole chunks, which is
//! 10× faster than reading rows.
//!
//! Location: `--db PATH`, else `STRETCHWATCH_DB`, else `stretchwatch.db` in the platform data
//! directory ([`default_path`]).

pub mod codec;
pub mod history;
pub mod schema;
mod sink;
mod writer;

pub use sink::StoreSink;
pub use writer::{CommitMark, SessionWriter, WriterConfig};

use crate::calibration::CalibrationProfile;
use crate::model::{ImuSample, SensorRole, Side, StretchType};
use codec::Codec;
use history::{Asymmetry, Baseline, FastProgression, FlagStatus, HistoryConfig, SessionPoint};
use nalgebra::Vector3;
use rusqlite::{Connection, ErrorCode, OptionalExtension as _, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a writer waits for another process's transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors of the store layer; every message is one line naming the database file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("{}: cannot open the session database: {source}", path.display())]
    Open {
        /// Database file.
        path: PathBuf,
        /// Underlying error.
        source: rusqlite::Error,
    },
    /// Another process held the database locked for longer than the busy timeout.
    #[error("{}: database is busy: another process has held it locked for more than {waited_s} s; try again when it has finished", path.display())]
    Busy {
        /// Database file.
        path: PathBuf,
        /// How long this process waited, seconds.
        waited_s: f64,
    },
    /// The file was written by a newer stretchwatch.
    #[error("{}: schema version {found} is newer than this stretchwatch understands (up to {supported}); upgrade stretchwatch", path.display())]
    TooNew {
        /// Database file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Latest version this build knows.
        supported: u32,
    },
    /// No session with this id.
    #[error("{}: no session with id {id}", path.display())]
    NotFound {
        /// Database file.
        path: PathBuf,
        /// Requested id.
        id: i64,
    },
    /// A stored value is unreadable.
    #[error("{}: session {id}: {what}", path.display())]
    Corrupt {
        /// Database file.
        path: PathBuf,
        /// Session concerned.
        id: i64,
        /// What is wrong.
        what: String,
    },
    /// An event object is not a DESIGN 3.3 JSON object.
    #[error("event at t = {t_s} s is not a JSON object with 'event' and 't_s': {message}")]
    BadEvent {
        /// Event time.
        t_s: f64,
        /// What is wrong.
        message: String,
    },
    /// No platform data directory and no `--db` or `STRETCHWATCH_DB`.
    #[error("no data directory on this platform; pass --db PATH or set STRETCHWATCH_DB")]
    NoDataDir,
    /// The database directory could not be created.
    #[error("{}: cannot create the database directory: {source}", path.display())]
    CreateDir {
        /// Directory.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Any other SQLite failure.
    #[error("{}: {source}", path.display())]
    Sql {
        /// Database file.
        path: PathBuf,
        /// Underlying error.
        source: rusqlite::Error,
    },
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The platform default database: `<data dir>/stretchwatch.db` (e.g. `~/.local/share/stretchwatch/`).
pub fn default_path() -> StoreResult<PathBuf> {
    directories::ProjectDirs::from("", "", "stretchwatch")
        .map(|d| d.data_dir().join("stretchwatch.db"))
        .ok_or(StoreError::NoDataDir)
}

/// A sensor of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorInfo {
    /// Segment.
    pub role: SensorRole,
    /// Sensor family (`witmotion`, `movesense`, ...), empty if unknown.
    pub family: String,
    /// Model name, empty if unknown.
    pub model: String,
}

/// What is known when a session starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionMeta {
    /// Wall-clock start, seconds since the Unix epoch (UTC).
    pub started_unix_s: f64,
    /// Stretched side.
    pub side: Side,
    /// Stretch type.
    pub stretch: StretchType,
    /// Where the data came from (`live`, `replay FILE`, `import FILE`, ...).
    pub source: String,
    /// Nominal sample rate, Hz.
    pub rate_hz: Option<f64>,
    /// Sensors and their families.
    pub sensors: Vec<SensorInfo>,
    /// Calibration profile in use, if already known.
    pub calibration: Option<CalibrationProfile>,
}

/// One rep (DESIGN 3.3 `rep` event) as plain columns.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RepRecord {
    /// 1-based rep number.
    pub rep: u32,
    /// Time the rep was reported, recording seconds.
    pub t_s: f64,
    /// Static hold, seconds.
    pub static_hold_s: Option<f64>,
    /// Positional hold, seconds.
    pub positional_hold_s: Option<f64>,
    /// Rep hold angle (median θf over the static hold), degrees.
    pub hold_angle_deg: Option<f64>,
    /// Peak angle, degrees.
    pub peak_angle_deg: Option<f64>,
    /// Mean knee flexion over the hold, degrees.
    pub knee_mean_deg: Option<f64>,
}

/// The per-session summary (DESIGN 3.3 `summary` event) as plain columns.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SessionSummary {
    /// Counted reps.
    pub reps: u32,
    /// Sum of static holds, seconds.
    pub total_static_hold_s: f64,
    /// Warning episodes per active minute.
    pub warnings_per_min: Option<f64>,
    /// Session value M (median rep hold angle), degrees.
    pub session_value_deg: Option<f64>,
    /// Active (MOVING_IN + HOLD) time, seconds.
    pub active_s: Option<f64>,
}

/// One exercise block of a session (a side and a stretch type) with its figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockRecord {
    /// 1-based block index.
    pub block: u32,
    /// Stretched side.
    pub side: Side,
    /// Stretch type.
    pub stretch: StretchType,
    /// Start, recording seconds.
    pub t_start_s: f64,
    /// End, recording seconds.
    pub t_end_s: f64,
    /// Counted reps.
    pub reps: u32,
    /// Static hold over the block, s.
    pub total_static_hold_s: f64,
    /// Warning episodes per active minute.
    pub warnings_per_min: Option<f64>,
    /// Median rep hold angle of the block, degrees.
    pub session_value_deg: Option<f64>,
}

/// A stored event: the DESIGN 3.3 object and its name and time.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// `t_s` of the object.
    pub t_s: f64,
    /// `event` of the object.
    pub event: String,
    /// The whole object as JSON text.
    pub json: String,
}

/// One stored angle frame; `None` where unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AngleFrame {
    /// Frame time, recording seconds.
    pub t_s: f64,
    /// Knee flexion, degrees.
    pub knee_flexion_deg: Option<f64>,
    /// Hip flexion (or the supine leg-raise proxy), degrees.
    pub hip_flexion_deg: Option<f64>,
    /// Leg-raise angle, degrees.
    pub leg_raise_deg: Option<f64>,
    /// Pelvic tilt, degrees.
    pub pelvic_tilt_deg: Option<f64>,
    /// Frame spans a sensor gap.
    pub gap: bool,
}

/// History results computed when a session ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionReview {
    /// D3 baseline that applied to this session (from earlier sessions).
    pub baseline: Option<Baseline>,
    /// D4 fast progression.
    pub fast_progression: FastProgression,
    /// D8 asymmetry.
    pub asymmetry: Asymmetry,
}

/// One row of the `sessions` table with its summary and history results.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    /// Session id.
    pub id: i64,
    /// Wall-clock start, Unix seconds.
    pub started_unix_s: f64,
    /// Side.
    pub side: Side,
    /// Stretch type.
    pub stretch: StretchType,
    /// Source description.
    pub source: String,
    /// Nominal rate, Hz.
    pub rate_hz: Option<f64>,
    /// First and last frame time, recording seconds.
    pub t_span_s: Option<(f64, f64)>,
    /// Whether the session ended normally.
    pub finished: bool,
    /// Summary (`None` before the session has one).
    pub summary: Option<SessionSummary>,
    /// History results (`None` without a session value).
    pub review: Option<SessionReview>,
}

/// Which sessions to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only this side.
    pub side: Option<Side>,
    /// Only this stretch type.
    pub stretch: Option<StretchType>,
}

/// An open session database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    history: HistoryConfig,
    busy_timeout: Duration,
}

const SESSION_COLUMNS: &str =
    "id, started_unix_s, side, stretch, source, rate_hz, t_first_s, t_last_s, finished,
    reps, total_static_hold_s, warnings_per_min, session_value_deg, active_s,
    baseline_deg, baseline_delta_deg, baseline_sessions,
    d4_status, d4_jump_deg, d4_slope_deg_per_week,
    d8_status, d8_paired, d8_over_limit, d8_mean_diff_deg, d8_tighter_side";

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    pub fn open(path: &Path) -> StoreResult<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Store::setup(conn, path.to_path_buf())
    }

    /// An in-memory database (tests, benchmarks).
    pub fn open_in_memory() -> StoreResult<Store> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        Store::setup(conn, path)
    }

    fn setup(mut conn: Connection, path: PathBuf) -> StoreResult<Store> {
        let err = |source| map_err(&path, source, BUSY_TIMEOUT);
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // Both are persistent or per-connection settings that are harmless to repeat.
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(err)?;
        let latest = schema::latest_version();
        match schema::migrate_to(&mut conn, latest).map_err(err)? {
            schema::MigrateOutcome::TooNew { found } => {
                return Err(StoreError::TooNew {
                    path,
                    found,
                    supported: latest,
                });
            }
            schema::MigrateOutcome::UpToDate | schema::MigrateOutcome::Migrated { .. } => {}
        }
        Ok(Store {
            conn,
            path,
            history: HistoryConfig::default(),
            busy_timeout: BUSY_TIMEOUT,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes how long writes wait for another process's lock (default [`BUSY_TIMEOUT`]).
    pub fn set_busy_timeout(&mut self, timeout: Duration) -> StoreResult<()> {
        self.busy_timeout = timeout;
        self.conn.busy_timeout(timeout).map_err(|e| self.err(e))
    }

    /// Replaces the history-rule parameters (defaults: form-spec section 8).
    pub fn set_history_config(&mut self, cfg: HistoryConfig) {
        self.history = cfg;
    }

    /// The history-rule parameters in use.
    pub fn history_config(&self) -> &HistoryConfig {
        &self.history
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> StoreError {
        map_err(&self.path, source, self.busy_timeout)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(crate) fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// Starts a session; feed it through the returned writer and call [`SessionWriter::finish`].
    pub fn begin_session(&mut self, meta: &SessionMeta) -> StoreResult<SessionWriter<'_>> {
        self.begin_session_with(meta, WriterConfig::default())
    }

    /// [`begin_session`](Self::begin_session) with explicit batching settings.
    pub fn begin_session_with(
        &mut self,
        meta: &SessionMeta,
        cfg: WriterConfig,
    ) -> StoreResult<SessionWriter<'_>> {
        SessionWriter::begin(self, meta, cfg)
    }

    /// `PRAGMA integrity_check`: `"ok"` or SQLite's list of problems.
    pub fn integrity_check(&self) -> StoreResult<String> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Sessions matching `filter`, oldest first.
    pub fn list_sessions(&self, filter: &SessionFilter) -> StoreResult<Vec<SessionRow>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions
                 WHERE (?1 IS NULL OR side = ?1) AND (?2 IS NULL OR stretch = ?2)
                 ORDER BY started_unix_s, id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(
                params![
                    filter.side.map(|s| s.as_str()),
                    filter.stretch.map(|s| s.as_str())
                ],
                read_session_row,
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// One session.
    pub fn session(&self, id: i64) -> StoreResult<SessionRow> {
        self.conn
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
                [id],
                read_session_row,
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| StoreError::NotFound {
                path: self.path.clone(),
                id,
            })
    }

    /// Sensors of a session.
    pub fn sensors(&self, id: i64) -> StoreResult<Vec<SensorInfo>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT role, family, model FROM session_sensors WHERE session_id = ?1 ORDER BY role",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<(String, String, String)>, _>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(role, family, model)| {
                Ok(SensorInfo {
                    role: role.parse().map_err(|what| self.corrupt(id, what))?,
                    family,
                    model,
                })
            })
            .collect()
    }

    /// The calibration profile stored with a session.
    pub fn calibration(&self, id: i64) -> StoreResult<Option<CalibrationProfile>> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT calibration_json FROM sessions WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .flatten();
        json.map(|j| serde_json::from_str(&j).map_err(|e| self.corrupt(id, e.to_string())))
            .transpose()
    }

    /// Reps of a session in order.
    pub fn reps(&self, id: i64) -> StoreResult<Vec<RepRecord>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT rep, t_s, static_hold_s, positional_hold_s, hold_angle_deg, peak_angle_deg, knee_mean_deg
                 FROM reps WHERE session_id = ?1 ORDER BY rep",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([id], |r| {
                Ok(RepRecord {
                    rep: r.get(0)?,
                    t_s: r.get(1)?,
                    static_hold_s: r.get(2)?,
                    positional_hold_s: r.get(3)?,
                    hold_angle_deg: r.get(4)?,
                    peak_angle_deg: r.get(5)?,
                    knee_mean_deg: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Events of a session in time order.
    pub fn events(&self, id: i64) -> StoreResult<Vec<EventRecord>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT t_s, event, json FROM events WHERE session_id = ?1 ORDER BY t_s, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([id], |r| {
                Ok(EventRecord {
                    t_s: r.get(0)?,
                    event: r.get(1)?,
                    json: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The exercise blocks of a session, in order.
    pub fn blocks(&self, id: i64) -> StoreResult<Vec<BlockRecord>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT block, side, stretch, t_start_s, t_end_s, reps, total_static_hold_s,
                        warnings_per_min, session_value_deg
                 FROM blocks WHERE session_id = ?1 ORDER BY block",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([id], |r| {
                let side: String = r.get(1)?;
                let stretch: String = r.get(2)?;
                Ok((
                    side,
                    stretch,
                    BlockRecord {
                        block: r.get(0)?,
                        side: Side::Left,
                        stretch: StretchType::Supine,
                        t_start_s: r.get(3)?,
                        t_end_s: r.get(4)?,
                        reps: r.get(5)?,
                        total_static_hold_s: r.get(6)?,
                        warnings_per_min: r.get(7)?,
                        session_value_deg: r.get(8)?,
                    },
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (side, stretch, mut b) = row.map_err(|e| self.err(e))?;
            // The table's CHECK constraints admit only valid names.
            b.side = side.parse().unwrap_or(Side::Left);
            b.stretch = stretch.parse().unwrap_or(StretchType::Supine);
            out.push(b);
        }
        Ok(out)
    }

    /// Raw samples of a session, sensors interleaved in time order (magnetometer not stored).
    pub fn samples(&self, id: i64) -> StoreResult<Vec<ImuSample>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT sensor, t0_s, n, codec, data FROM sample_chunks WHERE session_id = ?1 ORDER BY sensor, chunk",
            )
            .map_err(|e| self.err(e))?;
        let chunks = st
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for c in chunks {
            let (sensor, t0_s, n, codec, blob) = c.map_err(|e| self.err(e))?;
            let role: SensorRole = sensor.parse().map_err(|what| self.corrupt(id, what))?;
            let cols = self.decode(id, &blob, codec, 7, n)?;
            #[allow(clippy::needless_range_loop)] // Row i across several columns.
            for i in 0..cols[0].len() {
                let v = |c: usize| f64::from(cols[c][i]);
                out.push(ImuSample {
                    t_s: t0_s + v(0),
                    role,
                    acc_m_s2: Vector3::new(v(1), v(2), v(3)),
                    gyr_rad_s: Vector3::new(v(4), v(5), v(6)),
                    mag_ut: None,
                });
            }
        }
        out.sort_by(|a, b| a.t_s.total_cmp(&b.t_s).then(a.role.cmp(&b.role)));
        Ok(out)
    }

    /// Angle frames of a session in time order.
    pub fn angles(&self, id: i64) -> StoreResult<Vec<AngleFrame>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT t0_s, n, codec, data FROM angle_chunks WHERE session_id = ?1 ORDER BY chunk",
            )
            .map_err(|e| self.err(e))?;
        let chunks = st
            .query_map([id], |r| {
                Ok((
                    r.get::<_, f64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for c in chunks {
            let (t0_s, n, codec, blob) = c.map_err(|e| self.err(e))?;
            let cols = self.decode(id, &blob, codec, writer::ANGLE_COLUMNS, n)?;
            #[allow(clippy::needless_range_loop)] // Row i across several columns.
            for i in 0..cols[0].len() {
                let opt = |c: usize| Some(f64::from(cols[c][i])).filter(|v| v.is_finite());
                out.push(AngleFrame {
                    t_s: t0_s + f64::from(cols[0][i]),
                    knee_flexion_deg: opt(1),
                    hip_flexion_deg: opt(2),
                    leg_raise_deg: opt(3),
                    pelvic_tilt_deg: opt(4),
                    gap: cols[5][i] != 0.0,
                });
            }
        }
        Ok(out)
    }

    fn decode(
        &self,
        id: i64,
        blob: &[u8],
        codec: i64,
        n_columns: usize,
        n: i64,
    ) -> StoreResult<Vec<Vec<f32>>> {
        let codec = Codec::from_tag(codec)
            .ok_or_else(|| self.corrupt(id, format!("unknown chunk codec {codec}")))?;
        codec::decode(blob, codec, n_columns, usize::try_from(n).unwrap_or(0))
            .ok_or_else(|| self.corrupt(id, "malformed data chunk".into()))
    }

    fn corrupt(&self, id: i64, what: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            id,
            what,
        }
    }

    /// Deletes a session and everything stored with it; `NotFound` if there is none.
    pub fn delete_session(&mut self, id: i64) -> StoreResult<()> {
        let n = self
            .conn
            .execute("DELETE FROM sessions WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::NotFound {
                path: self.path.clone(),
                id,
            });
        }
        Ok(())
    }

    /// Session values M of one stretch type (both sides), for the history rules and plots.
    pub fn session_points(&self, stretch: StretchType) -> StoreResult<Vec<SessionPoint>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, started_unix_s, side, session_value_deg FROM sessions
                 WHERE stretch = ?1 AND session_value_deg IS NOT NULL ORDER BY started_unix_s, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([stretch.as_str()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, f64>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, t, side, v) = row.map_err(|e| self.err(e))?;
            out.push(SessionPoint {
                id,
                t_days: t / 86_400.0,
                side: side.parse().map_err(|what| self.corrupt(id, what))?,
                value_deg: v,
            });
        }
        Ok(out)
    }

    /// The D3 baseline for a session of `side` × `stretch` starting at `started_unix_s`.
    pub fn baseline(
        &self,
        side: Side,
        stretch: StretchType,
        started_unix_s: f64,
    ) -> StoreResult<Option<Baseline>> {
        let pts: Vec<SessionPoint> = self
            .session_points(stretch)?
            .into_iter()
            .filter(|p| p.side == side)
            .collect();
        Ok(history::baseline(
            &pts,
            started_unix_s / 86_400.0,
            &self.history,
        ))
    }
}

fn map_err(path: &Path, source: rusqlite::Error, waited: Duration) -> StoreError {
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Busy {
            path: path.to_path_buf(),
            waited_s: waited.as_secs_f64(),
        },
        _ => StoreError::Sql {
            path: path.to_path_buf(),
            source,
        },
    }
}

fn read_session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    let bad = |i: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into())
    };
    let side: String = r.get(2)?;
    let stretch: String = r.get(3)?;
    let t_first: Option<f64> = r.get(6)?;
    let t_last: Option<f64> = r.get(7)?;
    let reps: Option<u32> = r.get(9)?;
    let summary = reps.map(|reps| -> rusqlite::Result<SessionSummary> {
        Ok(SessionSummary {
            reps,
            total_static_hold_s: r.get::<_, Option<f64>>(10)?.unwrap_or(0.0),
            warnings_per_min: r.get(11)?,
            session_value_deg: r.get(12)?,
            active_s: r.get(13)?,
        })
    });
    let baseline = r
        .get::<_, Option<f64>>(14)?
        .map(|b_deg| -> rusqlite::Result<_> {
            Ok(Baseline {
                b_deg,
                delta_deg: r.get::<_, Option<f64>>(15)?.unwrap_or(f64::NAN),
                sessions: r.get::<_, Option<u32>>(16)?.unwrap_or(0) as usize,
            })
        });
    let d4: Option<String> = r.get(17)?;
    let d8: Option<String> = r.get(20)?;
    let review = match (d4, d8) {
        (Some(d4), Some(d8)) => Some(SessionReview {
            baseline: baseline.transpose()?,
            fast_progression: FastProgression {
                status: FlagStatus::parse(&d4).ok_or_else(|| bad(17, d4.clone()))?,
                jump_deg: r.get(18)?,
                slope_deg_per_week: r.get(19)?,
            },
            asymmetry: Asymmetry {
                status: FlagStatus::parse(&d8).ok_or_else(|| bad(20, d8.clone()))?,
                paired: r.get::<_, Option<u32>>(21)?.unwrap_or(0) as usize,
                over_limit: r.get::<_, Option<u32>>(22)?.unwrap_or(0) as usize,
                mean_diff_deg: r.get(23)?,
                tighter: r
                    .get::<_, Option<String>>(24)?
                    .map(|s| s.parse().map_err(|e: String| bad(24, e)))
                    .transpose()?,
            },
        }),
        _ => None,
    };
    Ok(SessionRow {
        id: r.get(0)?,
        started_unix_s: r.get(1)?,
        side: side.parse().map_err(|e: String| bad(2, e))?,
        stretch: stretch.parse().map_err(|e: String| bad(3, e))?,
        source: r.get(4)?,
        rate_hz: r.get(5)?,
        t_span_s: t_first.zip(t_last),
        finished: r.get::<_, i64>(8)? != 0,
        summary: summary.transpose()?,
        review,
    })
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM` (UTC).
pub fn format_utc(unix_s: f64) -> String {
    let secs = unix_s.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Formats Unix seconds as `YYYY-MM-DD` (UTC).
pub fn format_date_utc(unix_s: f64) -> String {
    let (y, m, d) = civil_from_days((unix_s / 86_400.0).floor() as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS][Z]` (or a space instead of `T`), as UTC, or plain
/// Unix seconds.
pub fn parse_utc(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let (y, m, d) = (
        dp.next()?.parse::<i64>().ok()?,
        dp.next()?.parse::<u32>().ok()?,
        dp.next()?.parse::<u32>().ok()?,
    );
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = 0.0;
    if let Some(t) = time {
        let parts: Vec<&str> = t.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        let h: u32 = parts[0].parse().ok()?;
        let mi: u32 = parts[1].parse().ok()?;
        let se: f64 = parts.get(2).map_or(Some(0.0), |p| p.parse().ok())?;
        if h > 23 || mi > 59 || !(0.0..60.0).contains(&se) {
            return None;
        }
        secs = f64::from(h * 3600 + mi * 60) + se;
    }
    Some(days_from_civil(y, m, d) as f64 * 86_400.0 + secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_utc("1970-01-01"), Some(0.0));
        assert_eq!(parse_utc("2026-11-24T10:30"), Some(1_795_516_200.0));
        assert_eq!(format_utc(1_795_516_200.0), "2026-11-24 10:30");
        assert_eq!(format_date_utc(1_795_516_200.0), "2026-11-24");
        assert_eq!(parse_utc("2024-02-29 23:59:59Z"), Some(1_709_251_199.0));
        assert_eq!(parse_utc("2024-13-01"), None);
        assert_eq!(parse_utc("yesterday"), None);
        for z in [-1000, 0, 59, 19_000, 20_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}
