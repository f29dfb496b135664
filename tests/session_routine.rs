//! A whole routine in one recording: left supine ×3, left seated ×2, recalibration (sensors
//! moved to the other leg), right supine ×3, right seated ×2. Replay must find the four blocks
//! with their side, stretch and reps, number reps across blocks, tag every event with its block,
//! and give the dose per side; the store must keep the blocks and the whole session's figures.

use std::path::{Path, PathBuf};
use std::process::Command;
use stretchwatch::model::ImuSample;
use stretchwatch::record::{ImuCsvWriter, RecordingHeader};
use stretchwatch::sim;

#[path = "common/cli_run.rs"]
mod cli_run;
#[path = "common/live_drive.rs"]
mod live_drive;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stretchwatch-routine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The routine's samples and header (the simulator's built-in routine: left supine ×3, left
/// seated ×2, the right leg calibrated again, right supine ×3, right seated ×2), and where each
/// piece starts.
fn routine_samples() -> (RecordingHeader, Vec<ImuSample>, Vec<f64>) {
    let out = sim::routine::simulate_routine(
        &sim::routine::routine_pieces(),
        &sim::SimOptions::new(100.0, sim::Variant::Realistic, 42),
    );
    let starts = sim::routine::piece_starts_s(&out);
    (out.header, out.samples, starts)
}

/// The routine as one IMU CSV.
fn routine() -> PathBuf {
    let (header, samples, _) = routine_samples();
    let path = tmp("routine.csv");
    let mut w = ImuCsvWriter::create(&path, &header).unwrap();
    for s in &samples {
        w.write_exact(s).unwrap();
    }
    w.flush().unwrap();
    path
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stretchwatch"))
}

/// The routine's blocks in order: (side, stretch, reps).
fn routine_blocks() -> Vec<(String, String, u64)> {
    [
        ("left", "supine", 3),
        ("left", "seated", 2),
        ("right", "supine", 3),
        ("right", "seated", 2),
    ]
    .iter()
    .map(|(a, b, n)| (a.to_string(), b.to_string(), *n))
    .collect()
}

/// `sessions show 1` on `db` lists the routine's four blocks and each side's reps.
fn assert_stored_routine(db: &Path) {
    let show = cli_run::sessions_show(db, 1);
    for want in [
        "block 1  left supine",
        "block 2  left seated",
        "block 3  right supine",
        "block 4  right seated",
        "left  side  5 reps",
        "right side  5 reps",
        "reps        10",
    ] {
        assert!(show.contains(want), "missing {want:?} in\n{show}");
    }
}

#[test]
fn routine_blocks_reps_and_dose_per_side() {
    let file = routine();
    let o = bin()
        .args(["replay", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ends: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "block" && e["state"] == "end")
        .collect();
    let got: Vec<(String, String, u64)> = ends
        .iter()
        .map(|e| {
            (
                e["side"].as_str().unwrap().to_string(),
                e["stretch"].as_str().unwrap().to_string(),
                e["reps"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, routine_blocks());
    // Rep numbers count over the whole recording; every rep carries its block.
    let reps: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e["event"] == "rep")
        .map(|e| (e["rep"].as_u64().unwrap(), e["block"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        reps,
        vec![
            (1, 1),
            (2, 1),
            (3, 1),
            (4, 2),
            (5, 2),
            (6, 3),
            (7, 3),
            (8, 3),
            (9, 4),
            (10, 4)
        ]
    );
    for e in &events {
        if e["event"] != "summary" {
            assert!(e["block"].is_u64(), "event without its block: {e}");
        }
    }
    // Each side's dose is the sum of its blocks' static hold.
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["reps"], 10);
    for side in ["left", "right"] {
        let blocks: f64 = ends
            .iter()
            .filter(|e| e["side"] == side)
            .map(|e| e["total_static_hold_s"].as_f64().unwrap())
            .sum();
        let per_side = summary["per_side"][side]["total_static_hold_s"]
            .as_f64()
            .unwrap();
        assert!(
            (per_side - blocks).abs() < 1e-3,
            "{side}: {per_side} vs {blocks}"
        );
        assert!(per_side > 150.0, "{side}: {per_side} s");
        assert_eq!(summary["per_side"][side]["reps"], 5);
        assert_eq!(summary["per_side"][side]["dose_met"], true);
    }
    // The readable summary names the blocks and each side's dose.
    let o = bin().arg("replay").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("block 4     "), "{text}");
    assert!(text.contains("right side"), "{text}");
    assert!(text.contains("recalibrated 1 times"), "{text}");
    // Stored: the session keeps its blocks and the whole routine's figures.
    let db = tmp("routine.db");
    let _ = std::fs::remove_file(&db);
    let o = bin()
        .arg("--db")
        .arg(&db)
        .arg("import")
        .arg(&file)
        .args(["--started", "2026-03-02T09:00"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_stored_routine(&db);
    // The session plot draws and labels the four blocks.
    let store = stretchwatch::store::Store::open(&db).unwrap();
    let plot = stretchwatch::report::plots::session_data(&store, 1).unwrap();
    assert_eq!(plot.blocks.len(), 4);
    assert!(plot.title.contains("4 blocks"), "{}", plot.title);
    let svg = tmp("routine.svg");
    let o = bin()
        .arg("--db")
        .arg(&db)
        .args(["plot", "session", "1", "--out"])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("block 3: right supine"),
        "block labels in the plot"
    );
}

/// Streams the routine through the live session as open-protocol notifications (instantly, in
/// arrival order). With `keys`, the person presses `c` (calibrate again) and `s` (other leg) as
/// the right leg's calibration starts; without, live must recognise the procedure itself.
/// Returns the events live wrote, its raw log and IMU CSV, and the messages it showed.
fn live_routine(keys: bool, name: &str) -> (String, PathBuf, PathBuf, Vec<String>) {
    use stretchwatch::live::Command as Key;
    use stretchwatch::model::SensorRole;

    let (_, samples, starts) = routine_samples();
    let roles = [SensorRole::Thigh, SensorRole::Shank, SensorRole::Pelvis];
    let leg_change_s = starts[2];
    let mut pressed = !keys;
    let mut seen_block = false;
    let d = live_drive::drive(&samples, &roles, &tmp(name), |live, t_send_s| {
        if !pressed && t_send_s >= leg_change_s {
            pressed = true;
            live.command(Key::Recalibrate);
            live.command(Key::SwitchSide);
        }
        // Between blocks the view shows no leftover of the block before: no rep timer, no note.
        let view = live.view();
        seen_block |= view.block.is_some();
        if seen_block && view.block.is_none() {
            assert!(
                view.hold_s.is_none() && view.notes.is_empty(),
                "between blocks at {t_send_s:.1} s: hold {:?}, notes {:?}",
                view.hold_s,
                view.notes
            );
        }
    });
    (d.events, d.raw, d.csv, d.shown)
}

/// The routine's blocks, reps and per-side dose in a live events stream, and that replay of
/// the live raw log and IMU CSV gives the same events.
fn check_live_routine(events_jsonl: &str, raw: &PathBuf, csv: &PathBuf) {
    for file in [raw, csv] {
        let o = bin().args(["replay", "--json"]).arg(file).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            events_jsonl,
            "replay of {} differs from live",
            file.display()
        );
    }
    let events: Vec<serde_json::Value> = events_jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let blocks: Vec<(String, String, u64)> = events
        .iter()
        .filter(|e| e["event"] == "block" && e["state"] == "end")
        .map(|e| {
            (
                e["side"].as_str().unwrap().to_string(),
                e["stretch"].as_str().unwrap().to_string(),
                e["reps"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(blocks, routine_blocks(), "{events_jsonl}");
    let summary = events.last().unwrap();
    for side in ["left", "right"] {
        assert_eq!(summary["per_side"][side]["reps"], 5, "{summary}");
        assert_eq!(summary["per_side"][side]["dose_met"], true, "{summary}");
    }
}

/// Live decides the blocks itself (rest position starts one, standing up ends it; the pelvis
/// sensor tells lying from sitting); the leg change is the person's keys.
#[test]
fn routine_through_live_with_the_leg_change_keys() {
    let (events, raw, csv, _) = live_routine(true, "live_keys");
    check_live_routine(&events, &raw, &csv);
}

/// No key at all: live recognises the right leg's calibration (standing still, knee swings)
/// after the left leg's blocks, calibrates again and takes the next blocks as the right leg.
#[test]
fn routine_through_live_without_keys() {
    let (events, raw, csv, shown) = live_routine(false, "live_nokeys");
    check_live_routine(&events, &raw, &csv);
    let said = shown.join("\n");
    assert!(
        said.contains("knee swings recognised: calibrating again"),
        "{said}"
    );
    assert!(said.contains("the next blocks are the right leg"), "{said}");
    // The left seated piece (standing a while, no swings) is not taken for a calibration.
    assert_eq!(said.matches("recognised").count(), 1, "{said}");
}

/// The same routine as a person would run it: `live --simulate routine` at the command line,
/// no keys, stored; the stored session has the four blocks and each side's reps, and the
/// recording replays to the events live wrote.
#[test]
fn live_simulate_routine_at_the_command_line() {
    let db = tmp("live_cli.db");
    let _ = std::fs::remove_file(&db);
    let prefix = tmp("live_cli");
    let events = tmp("live_cli.events.jsonl");
    let o = bin()
        .arg("--db")
        .arg(&db)
        .args([
            "live",
            "--simulate",
            "routine",
            "--sim-speed",
            "100",
            "--no-tui",
        ])
        .arg("--record")
        .arg(&prefix)
        .arg("--events-out")
        .arg(&events)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("calibrating again"), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("right side"), "{stdout}");
    let events = std::fs::read_to_string(&events).unwrap();
    let raw = prefix.with_extension("raw.jsonl");
    let csv = prefix.with_extension("imu.csv");
    check_live_routine(&events, &raw, &csv);
    assert_stored_routine(&db);
}
