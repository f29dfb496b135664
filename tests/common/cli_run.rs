//! Running the `stretchwatch` binary from a test with a time limit (a hang fails the test instead
//! of stalling the suite), and spotting non-finite numbers in what it wrote.

#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of the binary gave.
pub struct Run {
    /// Exit status (-1 when killed by a signal).
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// Wall time of the run.
    pub took: Duration,
}

/// Runs the binary with `args` and `STRETCHWATCH_DB=db`, failing the test after `limit`.
pub fn run_for(args: &[&std::ffi::OsStr], db: &Path, limit: Duration) -> Run {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stretchwatch"))
        .args(args)
        .env("STRETCHWATCH_DB", db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let read_all = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            r.read_to_string(&mut s).ok();
            s
        })
    };
    let t_out = read_all(Box::new(child.stdout.take().unwrap()));
    let t_err = read_all(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            panic!("stretchwatch {args:?} still running after {limit:?} (a hang)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
        took: start.elapsed(),
    }
}

/// Whether `text` holds a non-finite number as a word ("NaN", "inf", "-Infinity", …).
pub fn has_non_finite(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .any(|w| matches!(w.to_ascii_lowercase().as_str(), "nan" | "inf" | "infinity"))
}

/// The text of `stretchwatch sessions show ID` on `db`; fails the test if the command fails.
pub fn sessions_show(db: &Path, id: i64) -> String {
    let id = id.to_string();
    let r = run_for(
        &["sessions".as_ref(), "show".as_ref(), id.as_ref()],
        db,
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "sessions show {id}: {}\n{}", r.stderr, r.stdout);
    r.stdout
}
