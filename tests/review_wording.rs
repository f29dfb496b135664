//! The review commands in plain words: `sessions show` reads the stored events as sentences
//! (no raw JSON, no spec codes, "1 rep"), and a mistyped `--db` is an error instead of a new
//! empty database; the same recording is not stored twice.

#[path = "common/cli_run.rs"]
mod cli_run;
mod web_common;

use std::process::Command;
use web_common::{BIN, db_with_session};

#[test]
fn sessions_show_speaks_plainly_and_a_missing_database_is_named() {
    let dir = std::env::temp_dir().join(format!("sw-review-wording-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (rec, db) = db_with_session(&dir, "S2", "2026-11-20T08:00");
    // The same recording again is refused, not stored twice.
    let again = web_common::import(&db, &rec, "2026-11-20T08:00");
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already stored as session 1"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let show = cli_run::sessions_show(&db, 1);
    for want in [
        "summary     1 rep,",
        "Hold still. Ease into the stretch, no bouncing.",
        "bouncing stopped",
        "rep 1: static hold",
        "not enough sessions yet",
    ] {
        assert!(show.contains(want), "missing {want:?} in\n{show}");
    }
    for never in [
        "{\"event\"",
        "insufficient_data",
        "D4",
        "D8",
        "1 reps",
        "session value",
    ] {
        assert!(!show.contains(never), "{never:?} in\n{show}");
    }

    let typo = dir.join("no-such-dir").join("typo.db");
    let o = Command::new(BIN)
        .arg("--db")
        .arg(&typo)
        .args(["sessions", "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no session database there"));
    assert!(!typo.exists(), "a mistyped --db must not create a database");
    let _ = std::fs::remove_dir_all(&dir);
}
