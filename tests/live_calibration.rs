//! Guided live calibration asks for another go when the calibration came out poor (issue 8):
//! a person whose swings were small, wobbling and twisting is told the angles may be off and
//! to do it again. When they do (stand still, swing), live recognises it and calibrates again;
//! the stretch that follows is counted with the new calibration, and replay of the raw log
//! gives the same events.

use std::path::PathBuf;
use stretchwatch::calibration::accuracy_caveat;
use stretchwatch::model::{ImuSample, SensorRole, StretchType};

#[path = "common/cli_run.rs"]
mod cli_run;
#[path = "common/live_drive.rs"]
mod live_drive;
use stretchwatch::replay::{ReplayOptions, replay_samples};
use stretchwatch::sim::{self, Scenario, SimOptions, SwingStyle, Variant};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stretchwatch-livecal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Small (31°), wobbling (30°) and twisting (20°) knee swings, then a supine block.
fn poor_swings() -> (Scenario, SimOptions) {
    let mut scn = Scenario::new("poor swings", StretchType::Supine, 40.0);
    scn.swing_range_deg = 31.0;
    scn.swing_style = SwingStyle {
        wobble_deg: 30.0,
        shank_axial_deg: 20.0,
        ..SwingStyle::default()
    };
    (scn, SimOptions::new(100.0, Variant::Realistic, 7))
}

/// Streams `samples` (thigh and shank) through a live session; returns the messages it showed
/// and its raw log and events.
fn run_live(samples: &[ImuSample], name: &str) -> (Vec<String>, PathBuf, String) {
    let d = live_drive::drive(
        samples,
        &[SensorRole::Thigh, SensorRole::Shank],
        &tmp(name),
        |_, _| {},
    );
    (d.shown, d.raw, d.events)
}

#[test]
fn a_poor_guided_calibration_is_asked_again_and_the_repeat_is_taken() {
    let (scn, opts) = poor_swings();
    let poor = sim::simulate(&scn, &opts);
    // The precondition: these swings calibrate, but poorly enough for a caveat.
    let summary = replay_samples(
        &poor.header,
        &poor.samples,
        &ReplayOptions::default(),
        |_| {},
    )
    .expect("poor swings still calibrate");
    let profile = summary.profile.expect("a profile");
    assert!(
        accuracy_caveat(&profile).is_some(),
        "quality {:.2}, expected {:.1}°",
        profile.quality.score,
        profile.expected_error_deg()
    );
    // The person does it again, properly, right after the poor swings: the poor recording up to
    // a second after its swings, then a good calibration and a supine stretch.
    let cut_s = poor.header.calibration_functional.expect("swings").end_s + 1.0;
    let mut good_scn = Scenario::new("good swings", StretchType::Supine, 60.0);
    good_scn.theta_h = sim::traj::raise_hold_release(5.0, 4.0, 65.0, 35.0, 3.0).to_vec();
    let good = sim::simulate(&good_scn, &opts);
    let shift = cut_s + 0.01 - good.samples[0].t_s;
    let mut samples: Vec<ImuSample> = poor
        .samples
        .iter()
        .filter(|s| s.t_s <= cut_s)
        .copied()
        .collect();
    samples.extend(good.samples.iter().map(|s| ImuSample {
        t_s: s.t_s + shift,
        ..*s
    }));

    let (shown, raw, events) = run_live(&samples, "poor_then_good");
    let said = shown.join("\n");
    eprintln!("{said}");
    assert_eq!(said.matches("Please do it again").count(), 1, "{said}");
    assert!(said.contains("angles may be off by up to"), "{said}");
    assert!(
        said.contains("knee swings recognised: calibrating again"),
        "{said}"
    );
    let accepted = said
        .lines()
        .find(|l| l.contains("calibration accepted"))
        .unwrap_or_else(|| panic!("no accepted calibration:\n{said}"));
    let q: f64 = accepted
        .split("quality ")
        .nth(1)
        .and_then(|t| t.get(..4))
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert!(q > 0.85, "{accepted}");
    // The stretch after the good calibration is counted, on the same leg.
    let events_v: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = events_v.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert!(summary["reps"].as_u64().unwrap() >= 1, "{summary}");
    // …with the good calibration's accuracy: the simulated hold is 65°, the knee straight.
    let rep = events_v.iter().find(|e| e["event"] == "rep").unwrap();
    let hold = rep["hold_angle_deg"].as_f64().unwrap();
    let knee = rep["knee_mean_deg"].as_f64().unwrap();
    assert!((hold - 65.0).abs() < 1.0 && knee.abs() < 1.5, "{rep}");
    assert!(
        events_v
            .iter()
            .filter(|e| e["event"] == "block")
            .all(|e| e["side"] == "left"),
        "{events}"
    );
    // Replay of the raw log follows the same calibrations.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stretchwatch"))
        .args(["replay", "--json"])
        .arg(&raw)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), events);
}

/// A calibration asked for and not done (the person stays lying down) is reported and the
/// previous calibration goes on: replay keeps every frame and rep instead of stopping at it.
#[test]
fn a_calibration_not_done_keeps_the_previous_one() {
    use stretchwatch::record::ImuCsvWriter;
    let mut scn = Scenario::new("stretch", StretchType::Supine, 80.0);
    scn.theta_h = sim::traj::raise_hold_release(5.0, 4.0, 65.0, 35.0, 3.0).to_vec();
    let out = sim::simulate(&scn, &SimOptions::new(100.0, Variant::Realistic, 3));
    let mut header = out.header.clone();
    let block = header.block_window();
    // The recording's own calibration first, in plan order…
    let win = |w: stretchwatch::model::TimeWindow| format!("{:.3} {:.3}", w.start_s, w.end_s);
    for (k, w) in [
        ("calibration.static", out.header.calibration_static),
        ("calibration.functional", out.header.calibration_functional),
    ] {
        header
            .apply(k, &win(w.expect("simulated windows")))
            .unwrap();
    }
    // …then "c" pressed after the stretch, and the person stays lying down.
    let t = block.start_s + 55.0;
    header
        .apply("calibration.static", &format!("{:.3} {:.3}", t, t + 5.0))
        .unwrap();
    header
        .apply(
            "calibration.functional",
            &format!("{:.3} {:.3}", t + 8.0, t + 18.0),
        )
        .unwrap();
    let path = tmp("not_done.imu.csv");
    let mut w = ImuCsvWriter::create(&path, &header).unwrap();
    for s in &out.samples {
        w.write_exact(s).unwrap();
    }
    w.flush().unwrap();
    let bin = env!("CARGO_BIN_EXE_stretchwatch");
    let o = std::process::Command::new(bin)
        .arg("replay")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    eprintln!("{text}");
    assert!(text.contains("not done"), "{text}");
    assert!(text.contains("the previous one went on"), "{text}");
    let o = std::process::Command::new(bin)
        .args(["replay", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&o.stdout);
    let rep: serde_json::Value = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "rep")
        .unwrap_or_else(|| panic!("no rep:\n{json}"));
    assert!(
        (rep["hold_angle_deg"].as_f64().unwrap() - 65.0).abs() < 1.0,
        "{rep}"
    );
    // The stored session's timeline says which calibration the stretch used and that the
    // later one was not done, as the replay summary does.
    let db = tmp("not_done.db");
    let _ = std::fs::remove_file(&db);
    let saved = cli_run::run_for(
        &["replay".as_ref(), "--save".as_ref(), path.as_os_str()],
        &db,
        std::time::Duration::from_secs(120),
    );
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let shown = cli_run::sessions_show(&db, 1);
    eprintln!("{shown}");
    let line = |needle: &str| {
        shown
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no '{needle}' in:\n{shown}"))
            .to_string()
    };
    let done = line("calibrated, quality");
    let not_done = line("calibration not done");
    assert!(not_done.contains("the previous one went on"), "{not_done}");
    let at = |l: &str| l.split_whitespace().next().unwrap().parse::<f64>().unwrap();
    assert!(at(&done) < block.start_s + 1.0, "{done}");
    assert!((at(&not_done) - (t + 18.0)).abs() < 1.0, "{not_done}");
}
