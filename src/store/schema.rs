//! The versioned schema: forward-only migrations applied in order, version in `PRAGMA user_version`.
//!
//! Never edit a released migration; append a new one. `tests` below build a database at every older
//! version, fill it, and migrate it to the latest.
//!
//! | version | adds |
//! |---|---|
//! | 1 | `sessions` (start, side, stretch, source, rate, calibration), `session_sensors`, `sample_chunks`, `angle_chunks`, `events` |
//! | 2 | `reps` and the session summary columns (`reps`, `total_static_hold_s`, `warnings_per_min`, `session_value_deg`, `active_s`) |
//! | 3 | history results computed at session end: D3 baseline, D4 fast progression, D8 asymmetry |
//! | 4 | `blocks`: each exercise block of a session with its side, stretch, span and figures |

use rusqlite::{Connection, TransactionBehavior};

/// One migration: the SQL that takes the schema from `version - 1` to `version`.
pub struct Migration {
    /// Version reached after this step.
    pub version: u32,
    /// Statements, run in one transaction with the version bump.
    pub sql: &'static str,
}

/// Every migration in order; the last one's version is the current schema version.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: "
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    started_unix_s REAL NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('left', 'right')),
    stretch TEXT NOT NULL CHECK (stretch IN ('supine', 'seated', 'standing')),
    source TEXT NOT NULL DEFAULT '',
    rate_hz REAL,
    calibration_json TEXT,
    t_first_s REAL,
    t_last_s REAL,
    finished INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_start ON sessions (stretch, side, started_unix_s);
CREATE TABLE session_sensors (
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    family TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (session_id, role)
) WITHOUT ROWID;
CREATE TABLE sample_chunks (
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    sensor TEXT NOT NULL,
    chunk INTEGER NOT NULL,
    t0_s REAL NOT NULL,
    n INTEGER NOT NULL,
    codec INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (session_id, sensor, chunk)
);
CREATE TABLE angle_chunks (
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chunk INTEGER NOT NULL,
    t0_s REAL NOT NULL,
    n INTEGER NOT NULL,
    codec INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (session_id, chunk)
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    t_s REAL NOT NULL,
    event TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX events_by_session ON events (session_id, t_s);
",
    },
    Migration {
        version: 2,
        sql: "
CREATE TABLE reps (
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    rep INTEGER NOT NULL,
    t_s REAL NOT NULL,
    static_hold_s REAL,
    positional_hold_s REAL,
    hold_angle_deg REAL,
    peak_angle_deg REAL,
    knee_mean_deg REAL,
    PRIMARY KEY (session_id, rep)
) WITHOUT ROWID;
ALTER TABLE sessions ADD COLUMN reps INTEGER;
ALTER TABLE sessions ADD COLUMN total_static_hold_s REAL;
ALTER TABLE sessions ADD COLUMN warnings_per_min REAL;
ALTER TABLE sessions ADD COLUMN session_value_deg REAL;
ALTER TABLE sessions ADD COLUMN active_s REAL;
",
    },
    Migration {
        version: 3,
        sql: "
ALTER TABLE sessions ADD COLUMN baseline_deg REAL;
ALTER TABLE sessions ADD COLUMN baseline_delta_deg REAL;
ALTER TABLE sessions ADD COLUMN baseline_sessions INTEGER;
ALTER TABLE sessions ADD COLUMN d4_status TEXT;
ALTER TABLE sessions ADD COLUMN d4_jump_deg REAL;
ALTER TABLE sessions ADD COLUMN d4_slope_deg_per_week REAL;
ALTER TABLE sessions ADD COLUMN d8_status TEXT;
ALTER TABLE sessions ADD COLUMN d8_paired INTEGER;
ALTER TABLE sessions ADD COLUMN d8_over_limit INTEGER;
ALTER TABLE sessions ADD COLUMN d8_mean_diff_deg REAL;
ALTER TABLE sessions ADD COLUMN d8_tighter_side TEXT;
",
    },
    Migration {
        version: 4,
        sql: "
CREATE TABLE blocks (
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    block INTEGER NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('left', 'right')),
    stretch TEXT NOT NULL CHECK (stretch IN ('supine', 'seated', 'standing')),
    t_start_s REAL NOT NULL,
    t_end_s REAL NOT NULL,
    reps INTEGER NOT NULL,
    total_static_hold_s REAL NOT NULL,
    warnings_per_min REAL,
    session_value_deg REAL,
    PRIMARY KEY (session_id, block)
) WITHOUT ROWID;
CREATE INDEX blocks_by_stretch ON blocks (stretch, side);
",
    },
];

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Reads `PRAGMA user_version`.
pub fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Outcome of [`migrate_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateOutcome {
    /// Already at the target.
    UpToDate,
    /// Migrated from this version.
    Migrated {
        /// Version found.
        from: u32,
    },
    /// The file is newer than this build understands.
    TooNew {
        /// Version found.
        found: u32,
    },
}

/// Applies the migrations after the current version up to `target`, in one immediate transaction
/// (so two processes opening a fresh file do not both migrate).
pub fn migrate_to(conn: &mut Connection, target: u32) -> rusqlite::Result<MigrateOutcome> {
    if version(conn)? == target {
        return Ok(MigrateOutcome::UpToDate);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let from = version(&tx)?;
    if from > target {
        return Ok(MigrateOutcome::TooNew { found: from });
    }
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > from && m.version <= target)
    {
        tx.execute_batch(m.sql)?;
        tx.pragma_update(None, "user_version", m.version)?;
    }
    tx.commit()?;
    Ok(if from == target {
        MigrateOutcome::UpToDate
    } else {
        MigrateOutcome::Migrated { from }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(conn: &Connection, table: &str) -> Vec<String> {
        let mut st = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Fills a database at `version` with one session of everything that version can hold.
    fn fill(conn: &Connection, version: u32) {
        conn.execute_batch(
            "INSERT INTO sessions (id, started_unix_s, side, stretch, source, rate_hz, t_first_s, t_last_s, finished)
               VALUES (7, 1700000000.0, 'left', 'supine', 'import', 100.0, 0.0, 60.0, 1);
             INSERT INTO session_sensors VALUES (7, 'thigh', 'witmotion', 'WT901');
             INSERT INTO sample_chunks VALUES (7, 'thigh', 0, 0.0, 0, 0, x'');
             INSERT INTO angle_chunks VALUES (7, 0, 0.0, 0, 0, x'');
             INSERT INTO events (session_id, t_s, event, json) VALUES (7, 1.0, 'phase', '{\"event\":\"phase\",\"t_s\":1.0}');",
        )
        .unwrap();
        if version >= 2 {
            conn.execute_batch(
                "INSERT INTO reps VALUES (7, 1, 40.0, 33.0, 35.0, 70.0, 72.0, 12.0);
                 UPDATE sessions SET reps = 1, session_value_deg = 70.0 WHERE id = 7;",
            )
            .unwrap();
        }
    }

    #[test]
    fn migrates_from_every_older_version() {
        let latest = latest_version();
        for start in 0..=latest {
            let mut conn = Connection::open_in_memory().unwrap();
            conn.pragma_update(None, "foreign_keys", true).unwrap();
            migrate_to(&mut conn, start).unwrap();
            assert_eq!(version(&conn).unwrap(), start);
            if start >= 1 {
                fill(&conn, start);
            }
            let out = migrate_to(&mut conn, latest).unwrap();
            if start < latest {
                assert_eq!(out, MigrateOutcome::Migrated { from: start });
            }
            assert_eq!(version(&conn).unwrap(), latest);
            // Everything written before the migration is still there, and new columns exist.
            let cols = columns(&conn, "sessions");
            for c in [
                "session_value_deg",
                "d4_status",
                "d8_status",
                "baseline_deg",
            ] {
                assert!(cols.iter().any(|x| x == c), "from v{start}: no column {c}");
            }
            if start >= 1 {
                let (side, events): (String, i64) = conn
                    .query_row(
                        "SELECT side, (SELECT count(*) FROM events WHERE session_id = 7) FROM sessions WHERE id = 7",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .unwrap();
                assert_eq!((side.as_str(), events), ("left", 1));
                let reps: i64 = conn
                    .query_row("SELECT count(*) FROM reps", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(reps, i64::from(start >= 2));
            }
            assert_eq!(
                migrate_to(&mut conn, latest).unwrap(),
                MigrateOutcome::UpToDate
            );
            let check: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok");
        }
    }

    #[test]
    fn refuses_a_newer_file() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, latest_version()).unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        assert_eq!(
            migrate_to(&mut conn, latest_version()).unwrap(),
            MigrateOutcome::TooNew {
                found: latest_version() + 1
            }
        );
    }
}
