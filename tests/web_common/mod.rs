//! Shared by the web and review tests: a database holding one stored session, made the way a
//! person would (simulate a scenario, import the recording).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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

/// Starts `stretchwatch --db DB serve --listen LISTEN --simulate SCENARIO EXTRA…`; returns the
/// server and the URL it prints first. Its output goes on being read (a QR code follows), so it
/// never writes into a closed pipe.
#[allow(dead_code)] // the review tests include this module and serve nothing
pub fn serve(db: &Path, listen: &str, scenario: &str, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(["serve", "--listen", listen, "--simulate", scenario])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = first.trim().to_string();
    assert!(url.starts_with("http://"), "first line is the URL: {url}");
    (child, url)
}
