//! A whole routine in one recording: left supine ×3, left seated ×2, recalibration (sensors
//! moved to the other leg), right supine ×3, right seated ×2. Replay must find the four blocks
//! with their side, stretch and reps, number reps across blocks, tag every event with its block,
//! and give the dose per side; the store must keep the blocks and the whole session's figures.

use std::path::PathBuf;
use std::process::Command;
use stretchwatch::model::{ImuSample, Side, StretchType};
use stretchwatch::record::{ImuCsvWriter, RecordingHeader};
use stretchwatch::sim;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stretchwatch-routine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A scenario of `reps` reps of one stretch with a pelvis sensor.
fn piece(name: &str, stretch: &str, side: &str, reps: usize) -> sim::Scenario {
    let (hold, every) = if stretch == "supine" {
        (70.0, 55.0)
    } else {
        (120.0, 45.0)
    };
    let mut toml = format!(
        "name = \"{name}\"\nstretch = \"{stretch}\"\nside = \"{side}\"\npelvis_sensor = true\nduration_s = {}\n",
        5.0 + every * reps as f64
    );
    for i in 0..reps {
        let o = every * i as f64;
        toml.push_str(&format!(
            "\n[[rep]]\nstart_s = {}\nentry_s = 4.0\nhold_angle_deg = {hold}\nrelease_s = {}\nrelease_dur_s = 3.0\nknee_bend_deg = 8.0\n",
            5.0 + o,
            41.0 + o
        ));
    }
    // Tests run in parallel and both build the routine: each writes its own scenario file.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = tmp(&format!("{name}-{n}.toml"));
    std::fs::write(&path, toml).unwrap();
    sim::load_scenario(&path).unwrap()
}

/// The routine's samples and header: each piece's calibration pair (the left seated piece reuses
/// the supine calibration) and block, one after the other; and where each piece starts.
fn routine_samples() -> (RecordingHeader, Vec<ImuSample>, Vec<f64>) {
    let pieces = [
        piece("left_supine", "supine", "left", 3),
        piece("left_seated", "seated", "left", 2),
        piece("right_supine", "supine", "right", 3),
        piece("right_seated", "seated", "right", 2),
    ];
    let mut header = RecordingHeader {
        side: Some(Side::Left),
        stretch: Some(StretchType::Supine),
        rate_hz: Some(100.0),
        ..Default::default()
    };
    let mut samples: Vec<ImuSample> = Vec::new();
    let mut offset = 0.0;
    let mut starts = Vec::new();
    for (i, scn) in pieces.iter().enumerate() {
        starts.push(offset);
        let out = sim::simulate(
            scn,
            &sim::SimOptions::new(100.0, sim::Variant::Realistic, 42 + i as u64),
        );
        let h = &out.header;
        // The left seated block follows the supine one without new calibration; the right leg
        // is calibrated again after the sensors moved.
        if i % 2 == 0 {
            let w = |w: stretchwatch::model::TimeWindow| {
                format!("{} {}", w.start_s + offset, w.end_s + offset)
            };
            header
                .apply("calibration.static", &w(h.calibration_static.unwrap()))
                .unwrap();
            header
                .apply(
                    "calibration.functional",
                    &w(h.calibration_functional.unwrap()),
                )
                .unwrap();
            header
                .apply(
                    "pelvis_calibration.functional",
                    &w(h.pelvis_calibration_functional.unwrap()),
                )
                .unwrap();
        }
        let start = h.markers.iter().find(|m| m.label == "block.start").unwrap();
        let end = h.markers.iter().find(|m| m.label == "block.end").unwrap();
        header
            .apply(
                "marker",
                &format!(
                    "{} block.start side={} stretch={}",
                    start.t_s + offset,
                    scn.side.as_str(),
                    scn.stretch.as_str()
                ),
            )
            .unwrap();
        header
            .apply(
                "marker",
                &format!(
                    "{} block.end",
                    end.t_s.min(out.samples.last().unwrap().t_s) + offset
                ),
            )
            .unwrap();
        let last = out.samples.last().unwrap().t_s;
        samples.extend(out.samples.iter().map(|s| ImuSample {
            t_s: s.t_s + offset,
            ..*s
        }));
        offset += last + 1.0;
    }
    (header, samples, starts)
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
    let want: Vec<(String, String, u64)> = [
        ("left", "supine", 3),
        ("left", "seated", 2),
        ("right", "supine", 3),
        ("right", "seated", 2),
    ]
    .iter()
    .map(|(a, b, n)| (a.to_string(), b.to_string(), *n))
    .collect();
    assert_eq!(got, want);
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
    let o = bin()
        .arg("--db")
        .arg(&db)
        .args(["sessions", "show", "1"])
        .output()
        .unwrap();
    let show = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{show}");
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

/// The same routine streamed through the live session as open-protocol notifications. Live
/// decides the blocks itself (rest position starts one, standing up ends it; the pelvis sensor
/// tells lying from sitting); the leg change is the person's keys: `c` (calibrate again) and `s`
/// (other leg) as they stand up to calibrate the right leg. The recording replays to the same
/// events, and the blocks, reps and per-side dose are the routine's.
#[test]
fn routine_through_live_with_the_leg_change_keys() {
    use stretchwatch::form::FormConfig;
    use stretchwatch::live::{Command as Key, LiveConfig, LiveOutputs, LiveSession};
    use stretchwatch::model::SensorRole;
    use stretchwatch::protocol::Family;
    use stretchwatch::record::raw_log::{ConnEvent, DataDir, RawEntry, RawRecord, round_to_us};
    use stretchwatch::source::simulated::{encode_all, sim_devices};

    let (_, samples, starts) = routine_samples();
    let roles = [SensorRole::Thigh, SensorRole::Shank, SensorRole::Pelvis];
    let devices = sim_devices(&roles, Family::OpenSensor, 100).unwrap();
    let notes = encode_all(&samples, &devices, 1, 0.0, f64::INFINITY).unwrap();
    let cfg = LiveConfig {
        devices: devices.iter().map(|d| d.device.clone()).collect(),
        stretch: StretchType::Supine,
        side: Side::Left,
        profile: None,
        params: Default::default(),
        form: FormConfig::default(),
        baselines: Default::default(),
    };
    let outputs = LiveOutputs {
        raw_log: Some(tmp("live_routine.raw.jsonl")),
        events_jsonl: Some(tmp("live_routine.events.jsonl")),
        ..Default::default()
    };
    let mut live = LiveSession::new(cfg, &outputs, "test", 0.0, None).unwrap();
    for d in &devices {
        for event in [ConnEvent::Connected, ConnEvent::Subscribed] {
            live.on_record(&RawRecord {
                t_host_s: 0.0,
                entry: RawEntry::Event {
                    device: d.device.role,
                    family: d.device.family,
                    event,
                },
            })
            .unwrap();
        }
    }
    let leg_change_s = starts[2];
    let mut pressed = false;
    for n in notes {
        if !pressed && n.t_send_s >= leg_change_s {
            pressed = true;
            live.command(Key::Recalibrate);
            live.command(Key::SwitchSide);
        }
        live.on_record(&RawRecord {
            t_host_s: round_to_us(n.t_send_s),
            entry: RawEntry::Data {
                device: n.role,
                family: Family::OpenSensor,
                dir: DataDir::Rx,
                char_uuid: n.char_uuid.to_string(),
                bytes: n.bytes,
            },
        })
        .unwrap();
    }
    live.finish().unwrap();
    let live_events = std::fs::read_to_string(outputs.events_jsonl.as_ref().unwrap()).unwrap();
    // The raw log replays to the same events.
    let o = bin()
        .args(["replay", "--json"])
        .arg(outputs.raw_log.as_ref().unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), live_events);
    let events: Vec<serde_json::Value> = live_events
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
    let want: Vec<(String, String, u64)> = [
        ("left", "supine", 3),
        ("left", "seated", 2),
        ("right", "supine", 3),
        ("right", "seated", 2),
    ]
    .iter()
    .map(|(a, b, n)| (a.to_string(), b.to_string(), *n))
    .collect();
    assert_eq!(blocks, want, "{live_events}");
    let summary = events.last().unwrap();
    for side in ["left", "right"] {
        assert_eq!(summary["per_side"][side]["reps"], 5, "{summary}");
        assert_eq!(summary["per_side"][side]["dose_met"], true, "{summary}");
    }
}
