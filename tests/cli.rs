//! The `stretchwatch` binary through its contracts: angles CSV columns (DESIGN 3.4), exit statuses
//! and one-line errors (3.5), calibrate → profile → replay, and the simulator command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stretchwatch"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stretchwatch-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn replay_writes_angles_csv_contract() {
    let out = tmp("s1_angles.csv");
    let o = run(bin()
        .args(["replay"])
        .arg(fixture("s1_100hz.csv"))
        .arg("--angles-out")
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    // The readable timeline and summary still go to stdout.
    assert!(String::from_utf8_lossy(&o.stdout).contains("session"));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "t_s,knee_flexion_deg,hip_flexion_deg,leg_raise_deg,phase"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 7000, "{} rows", rows.len());
    for r in &rows {
        assert_eq!(r.len(), 5);
        assert!(
            ["", "rest", "moving_in", "hold", "release"].contains(&r[4]),
            "phase cell '{}'",
            r[4]
        );
        r[0].parse::<f64>().unwrap();
        r[1].parse::<f64>().unwrap();
        r[3].parse::<f64>().unwrap();
    }
    // Supine without a pelvis sensor: the hip column carries the leg-raise proxy.
    assert!(rows.iter().all(|r| r[2] == r[3]));
    assert!(rows.iter().any(|r| r[4] == "hold"), "S1 has a hold phase");
    // The hold of S1 (70° leg raise) shows in the output.
    let max_raise = rows
        .iter()
        .map(|r| r[3].parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max);
    assert!((max_raise - 70.0).abs() < 2.0, "max leg raise {max_raise}");
}

#[test]
fn seated_without_pelvis_leaves_hip_empty() {
    let rec = tmp("s10_nopelvis.csv");
    let o = run(bin()
        .args([
            "simulate",
            "S10_nopelvis",
            "--rate",
            "50",
            "--variant",
            "clean",
            "--out",
        ])
        .arg(&rec));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = tmp("s10_nopelvis_angles.csv");
    let o = run(bin().arg("replay").arg(&rec).arg("--angles-out").arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut n = 0;
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f[2], "", "hip must be empty: {l}");
        assert!(!f[1].is_empty());
        n += 1;
    }
    assert!(n > 1000);
}

#[test]
fn replay_summary_is_human_readable() {
    let o = run(bin().arg("replay").arg(fixture("s2_50hz.csv")));
    assert!(o.status.success(), "{}", stderr(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    for want in [
        "duration",
        "thigh",
        "shank",
        "calibration",
        "quality",
        "knee",
        "leg raise",
    ] {
        assert!(s.contains(want), "summary lacks '{want}':\n{s}");
    }
}

#[test]
fn malformed_input_is_one_line_error_with_status_2() {
    let src = std::fs::read_to_string(fixture("s1_100hz.csv")).unwrap();
    let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
    let bad_line = 40;
    let f: Vec<&str> = lines[bad_line - 1].split(',').collect();
    lines[bad_line - 1] = format!("{},{},abc,{}", f[0], f[1], f[3..].join(","));
    let path = tmp("bad.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let o = run(bin().arg("replay").arg(&path));
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(
        e.contains("bad.csv:40") && e.contains("ax_m_s2") && e.contains("'abc'"),
        "{e}"
    );
    assert!(
        o.stdout.is_empty(),
        "nothing on stdout when the input fails"
    );

    // --skip-bad-rows goes on and reports the count.
    let o = run(bin().arg("replay").arg(&path).arg("--skip-bad-rows"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("skipped 1 malformed rows"),
        "{}",
        stderr(&o)
    );

    let o = run(bin().arg("replay").arg(tmp("does-not-exist.csv")));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does-not-exist.csv"));

    let empty = tmp("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let o = run(bin().arg("replay").arg(&empty));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("empty.csv:1") && stderr(&o).contains("empty"));
}

#[test]
fn calibrate_saves_a_profile_that_replay_reuses() {
    let profile = tmp("s3.calibration.toml");
    let o = run(bin()
        .arg("calibrate")
        .arg(fixture("s3_100hz.csv"))
        .arg("--out")
        .arg(&profile));
    assert!(o.status.success(), "{}", stderr(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("calibration accepted") && s.contains("quality"),
        "{s}"
    );
    let a = tmp("own.csv");
    let b = tmp("profile.csv");
    assert!(
        run(bin()
            .arg("replay")
            .arg(fixture("s3_100hz.csv"))
            .arg("--angles-out")
            .arg(&a))
        .status
        .success()
    );
    let o = run(bin()
        .arg("replay")
        .arg(fixture("s3_100hz.csv"))
        .arg("--calibration")
        .arg(&profile)
        .arg("--angles-out")
        .arg(&b));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    let broken = tmp("broken.toml");
    std::fs::write(&broken, "version = 1\n[thigh]\nlong_axis = [1, 0]\n").unwrap();
    let o = run(bin()
        .arg("replay")
        .arg(fixture("s3_100hz.csv"))
        .arg("--calibration")
        .arg(&broken));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("broken.toml"), "{}", stderr(&o));
}

#[test]
fn small_knee_swings_are_rejected_with_advice() {
    let scn = tmp("small_swings.toml");
    std::fs::write(
        &scn,
        "name = \"small_swings\"\nstretch = \"supine\"\nduration_s = 20.0\nswing_range_deg = 15.0\n",
    )
    .unwrap();
    let rec = tmp("small_swings.csv");
    let o = run(bin()
        .arg("simulate")
        .arg(&scn)
        .args(["--rate", "100", "--out"])
        .arg(&rec));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(bin().arg("calibrate").arg(&rec));
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("swing your lower leg through a larger range"),
        "{e}"
    );
    assert_eq!(e.trim_end().lines().count(), 1);
}

#[test]
fn simulate_lists_presets_and_rejects_unknown() {
    let o = run(bin().args(["simulate", "--list"]));
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    for n in ["S1", "S5", "S10", "S12"] {
        assert!(s.lines().any(|l| l.trim() == n), "{s}");
    }
    let o = run(bin().args(["simulate", "S99", "--out"]).arg(tmp("x.csv")));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown scenario 'S99'"));
    let o = run(bin()
        .args(["simulate", "S1", "--rate", "20", "--out"])
        .arg(tmp("x.csv")));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["replay", "simulate", "calibrate"] {
        let o = run(bin().args([sub, "--help"]));
        assert!(o.status.success(), "{sub} --help");
        assert!(!o.stdout.is_empty());
    }
}

/// Raw notification logs as `live` records them, one per sensor family (fixtures/raw, made by
/// `cargo run --example sim_raw_log` from scenario S6: one rep with a 12 s static hold).
const RAW_LOGS: [&str; 4] = [
    "raw/s6_open.raw.jsonl",
    "raw/s6_witmotion.raw.jsonl",
    "raw/s6_movesense.raw.jsonl",
    "raw/s6_movella_dot.raw.jsonl",
];

#[test]
fn replay_and_import_read_raw_logs_of_every_family() {
    for (i, name) in RAW_LOGS.iter().enumerate() {
        let file = fixture(name);
        let o = run(bin().args(["replay", "--json"]).arg(&file));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let events: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let reps: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "rep").collect();
        assert_eq!(reps.len(), 1, "{name}: {events:?}");
        let hold = reps[0]["static_hold_s"].as_f64().unwrap();
        assert!((hold - 12.0).abs() < 1.5, "{name}: static hold {hold}");
        assert_eq!(reps[0]["block"], 1, "{name}");
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "block" && e["state"] == "start"),
            "{name}"
        );
        let last = events.last().unwrap();
        assert_eq!(last["event"], "summary", "{name}");
        assert_eq!(last["per_side"]["left"]["reps"], 1, "{name}");
        // The readable replay names the file and the sensors.
        let o = run(bin().arg("replay").arg(&file));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("rep 1: static hold"), "{name}:\n{text}");
        assert!(text.contains("sensor      thigh"), "{name}:\n{text}");
        // And it imports as a session.
        let db = tmp(&format!("raw_import_{i}.db"));
        let _ = std::fs::remove_file(&db);
        let o = run(bin()
            .arg("--db")
            .arg(&db)
            .arg("import")
            .arg(&file)
            .args(["--started", "2026-03-01T10:00"]));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("stored session 1 (left supine"),
            "{name}: {out}"
        );
        let o = run(bin().arg("--db").arg(&db).args(["sessions", "show", "1"]));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("12."),
            "{name}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

#[test]
fn exported_hip_proxy_is_empty_outside_supine_blocks() {
    // Without a pelvis sensor the hip column is the leg raise, which is hip flexion only lying
    // down: standing to calibrate it would read −90°.
    let db = tmp("export_hip.db");
    let _ = std::fs::remove_file(&db);
    let o = run(bin()
        .arg("--db")
        .arg(&db)
        .arg("import")
        .arg(fixture("s1_100hz.csv")));
    assert!(o.status.success(), "{}", stderr(&o));
    let prefix = tmp("export_hip");
    let o = run(bin()
        .arg("--db")
        .arg(&db)
        .args(["export", "1", "--out"])
        .arg(&prefix));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(format!("{}.angles.csv", prefix.display())).unwrap();
    let mut standing = 0;
    let mut holding = 0;
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let t: f64 = f[0].parse().unwrap();
        if t < 5.0 {
            assert_eq!(f[2], "", "hip while standing: {l}");
            standing += 1;
        }
        if f[4] == "hold" {
            let hip: f64 = f[2].parse().unwrap();
            assert!((60.0..80.0).contains(&hip), "{l}");
            holding += 1;
        }
    }
    assert!(standing > 100 && holding > 1000, "{standing} {holding}");
}

#[test]
fn slow_raises_are_shown_as_movement_without_a_hold() {
    // Form-spec: slow dynamic raises give MOVING_IN → RELEASE → REST with no hold; the review
    // must not shade 30 s of raising and lowering as one "release".
    let rec = tmp("slow_raises.csv");
    let o = run(bin()
        .args([
            "simulate",
            "slow_raises",
            "--rate",
            "100",
            "--variant",
            "clean",
            "--seed",
            "3",
        ])
        .arg("--out")
        .arg(&rec));
    assert!(o.status.success(), "{}", stderr(&o));
    let db = tmp("slow_raises.db");
    let _ = std::fs::remove_file(&db);
    let o = run(bin().arg("--db").arg(&db).arg("import").arg(&rec));
    assert!(o.status.success(), "{}", stderr(&o));
    let store = stretchwatch::store::Store::open(&db).unwrap();
    let plot = stretchwatch::report::plots::session_data(&store, 1).unwrap();
    let names: Vec<&str> = plot.phases.iter().map(|p| p.phase.as_str()).collect();
    assert!(!names.contains(&"release"), "{names:?}");
    let moving = plot.phases.iter().find(|p| p.phase == "moving").unwrap();
    assert!(moving.end_s - moving.start_s > 20.0, "{moving:?}");
    // A real rep keeps its release.
    let o = run(bin()
        .arg("--db")
        .arg(&db)
        .arg("import")
        .arg(fixture("s2_100hz.csv")));
    assert!(o.status.success(), "{}", stderr(&o));
    let plot = stretchwatch::report::plots::session_data(&store, 2).unwrap();
    let names: Vec<&str> = plot.phases.iter().map(|p| p.phase.as_str()).collect();
    assert!(
        names.contains(&"release") && !names.contains(&"moving"),
        "{names:?}"
    );
}
