//! Shared by the web and review tests: a database holding one stored session, made the way a
//! person would (simulate a scenario, import the recording).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The `stretchwatch` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_stretchwatch");

/// Simulates `scenario` into `dir` and imports it into `dir/sw.db` as starting at `started`;
/// returns the recording and the database.
pub fn db_with_session(dir: &Path, scenario: &str, started: &str) -> (PathBuf, PathBuf) {
    let rec = dir.join(format!("{scenario}.csv"));
    let ok = Command::new(BIN)
        .args(["simulate", scenario, "--out"])
        .arg(&rec)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "simulate {scenario}");
    let db = dir.join("sw.db");
    let o = import(&db, &rec, started);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (rec, db)
}

/// `stretchwatch --db DB import REC --started WHEN`.
pub fn import(db: &Path, rec: &Path, started: &str) -> std::process::Output {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .arg("import")
        .arg(rec)
        .args(["--started", started])
        .output()
        .unwrap()
}
