//! Live equals replay, without BLE: simulated notifications go through the live driver on
//! tokio's paused clock (instant and exact), and the events and angles live wrote must equal,
//! byte for byte, a replay of the raw log it recorded and of its IMU CSV, for each sensor family
//! the simulator speaks. The view must show the form engine's hold and every active warning, in
//! the terminal view and in the plain-text status line.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::{Path, PathBuf};
use stretchwatch::form::FormConfig;
use stretchwatch::live::run::{RunOptions, drive_simulated, status_line};
use stretchwatch::live::{LiveConfig, LiveOutputs, LiveSession, view};
use stretchwatch::model::SensorRole;
use stretchwatch::protocol::Family;
use stretchwatch::record::RawLogReader;
use stretchwatch::session::sinks::{AnglesCsvSink, FrameFn, JsonEventsSink};
use stretchwatch::session::source::RecordingFile;
use stretchwatch::session::{Fanout, Frame, Session};
use stretchwatch::sim;
use stretchwatch::source::simulated::{encode_all, sim_devices};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stretchwatch-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

struct Recorded {
    raw: PathBuf,
    csv: PathBuf,
    events: String,
    angles: String,
    summary: Vec<String>,
}

/// Runs `scenario` through the live driver as `family` sensors, recording everything.
async fn live(scenario: &str, family: Family, rate_hz: u32) -> Recorded {
    let scn = sim::preset(scenario).unwrap();
    let out = sim::simulate(
        &scn,
        &sim::SimOptions::new(100.0, sim::Variant::Realistic, 42),
    );
    let mut roles = vec![SensorRole::Thigh, SensorRole::Shank];
    if scn.pelvis_sensor {
        roles.push(SensorRole::Pelvis);
    }
    let devices = sim_devices(&roles, family, rate_hz).unwrap();
    let notes = encode_all(&out.samples, &devices, 1, 0.0, f64::INFINITY).unwrap();
    let cfg = LiveConfig {
        devices: devices.iter().map(|d| d.device.clone()).collect(),
        stretch: out.header.stretch.unwrap(),
        side: out.header.side.unwrap(),
        profile: None,
        params: Default::default(),
        form: FormConfig::default(),
        baselines: Default::default(),
    };
    let name = format!("{scenario}-{family}");
    let outputs = LiveOutputs {
        raw_log: Some(tmp(&format!("{name}.raw.jsonl"))),
        imu_csv: Some(tmp(&format!("{name}.imu.csv"))),
        angles_csv: Some(tmp(&format!("{name}.angles.csv"))),
        events_jsonl: Some(tmp(&format!("{name}.events.jsonl"))),
        session_db: None,
    };
    let mut session = LiveSession::new(cfg, &outputs, "test", 0.0, None).unwrap();
    let opts = RunOptions {
        bell: false,
        ..Default::default()
    };
    drive_simulated(&mut session, &devices, notes, 0.0, &opts)
        .await
        .unwrap();
    let (view, figures) = session.finish().unwrap();
    assert!(
        figures.frames as f64 > 50.0 * f64::from(rate_hz),
        "{name}: {} frames",
        figures.frames
    );
    Recorded {
        raw: outputs.raw_log.unwrap(),
        csv: outputs.imu_csv.unwrap(),
        events: std::fs::read_to_string(outputs.events_jsonl.unwrap()).unwrap(),
        angles: std::fs::read_to_string(outputs.angles_csv.unwrap()).unwrap(),
        summary: view.summary,
    }
}

/// Replays `path` as `stretchwatch replay --json --angles-out` does; returns events and angles.
fn replay(path: &Path) -> (String, String, Vec<Frame>) {
    let file = RecordingFile::open(path, false).unwrap();
    let form = FormConfig::default();
    let mut cfg = file.session_config(&form.excessive);
    cfg.form = Some(form);
    let mut session = Session::new(cfg);
    let mut events = Some(JsonEventsSink::new(Vec::new(), "events"));
    let mut angles = Some(AnglesCsvSink::new(Vec::new(), "angles").unwrap());
    let mut frames = Vec::new();
    let mut collect = FrameFn(|f: &Frame| frames.push(*f));
    {
        let mut sinks = Fanout::new();
        sinks.add(&mut events).add(&mut angles).add(&mut collect);
        file.run(&mut session, &mut sinks)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let ev = String::from_utf8(events.take().unwrap().into_inner()).unwrap();
    let an = String::from_utf8(angles.take().unwrap().into_inner().unwrap()).unwrap();
    (ev, an, frames)
}

async fn live_equals_replay(scenario: &str, family: Family, rate_hz: u32) {
    let live = live(scenario, family, rate_hz).await;
    for path in [&live.raw, &live.csv] {
        let (events, angles, _) = replay(path);
        assert!(
            events == live.events,
            "{scenario} {family}: events of {} differ from live:\n{events}\n---\n{}",
            path.display(),
            live.events
        );
        assert!(
            angles == live.angles,
            "{scenario} {family}: angles of {} differ from live",
            path.display()
        );
    }
    assert!(
        live.events.contains(r#""event":"block""#),
        "{}",
        live.events
    );
    assert!(
        live.events
            .lines()
            .last()
            .unwrap()
            .contains(r#""event":"summary""#)
    );
    assert!(
        live.summary.iter().any(|l| l.starts_with("reps")),
        "{:?}",
        live.summary
    );
}

#[tokio::test(start_paused = true)]
async fn s2_bouncing_open_sensor() {
    live_equals_replay("S2", Family::OpenSensor, 100).await;
}

#[tokio::test(start_paused = true)]
async fn s2_bouncing_witmotion() {
    live_equals_replay("S2", Family::WitMotion, 100).await;
}

#[tokio::test(start_paused = true)]
async fn s10_seated_with_pelvis_open_sensor() {
    live_equals_replay("S10", Family::OpenSensor, 100).await;
}

#[tokio::test(start_paused = true)]
async fn s3_hyperextended_knee_witmotion() {
    live_equals_replay("S3", Family::WitMotion, 100).await;
}

#[tokio::test(start_paused = true)]
async fn s1_good_stretch_movesense() {
    live_equals_replay("S1", Family::Movesense, 104).await;
}

#[tokio::test(start_paused = true)]
async fn s5_excessive_range_movella_dot() {
    live_equals_replay("S5", Family::MovellaDot, 60).await;
}

fn screen(v: &stretchwatch::live::LiveView) -> String {
    let mut t = Terminal::new(TestBackend::new(160, 40)).unwrap();
    t.draw(|f| view::draw(f, v)).unwrap();
    let buf = t.backend().buffer();
    let w = buf.area.width as usize;
    buf.content
        .chunks(w)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Feeds a live recording's records one by one and checks what the person sees after each.
fn check_view(raw: &Path, scenario: &str) {
    let (_, _, frames) = replay(raw);
    let mut reader = RawLogReader::open(raw).unwrap();
    let cfg = LiveConfig {
        devices: reader.header().devices.clone(),
        stretch: sim::preset(scenario).unwrap().stretch,
        side: sim::preset(scenario).unwrap().side,
        profile: None,
        params: Default::default(),
        form: FormConfig::default(),
        baselines: Default::default(),
    };
    let mut session = LiveSession::new(cfg, &LiveOutputs::default(), "test", 0.0, None).unwrap();
    let mut k = 0;
    let mut holds = 0;
    let mut warnings = 0;
    while let Some(rec) = reader.next_record().unwrap() {
        if matches!(
            rec.entry,
            stretchwatch::record::raw_log::RawEntry::Marker { .. }
        ) {
            // Live writes its own decisions again; the recorded ones are what it decided.
            continue;
        }
        session.on_record(&rec).unwrap();
        let v = session.view_mut();
        v.timeline.clear();
        let Some(a) = v.angles else { continue };
        while k < frames.len() && frames[k].angles.t_s < a.t_s {
            k += 1;
        }
        let truth = frames[k];
        assert_eq!(truth.angles.t_s, a.t_s);
        if let (Some(h), Some(shown)) = (truth.static_hold_s, v.hold_s) {
            assert!(
                (h - shown).abs() <= 0.5,
                "{scenario} {}: hold {shown} vs {h}",
                a.t_s
            );
            holds += 1;
        }
        if !v.warnings.is_empty() {
            let line = status_line(v);
            let scr = screen(v);
            for w in &v.warnings {
                assert!(
                    line.contains(&w.text),
                    "{scenario}: {} not in {line}",
                    w.text
                );
                let head: String = w.text.chars().take(40).collect();
                assert!(
                    scr.contains(&head),
                    "{scenario}: {head} not on screen\n{scr}"
                );
                warnings += 1;
            }
        }
    }
    let (view, _) = session.finish().unwrap();
    assert!(holds > 100, "{scenario}: {holds} frames with a hold");
    assert!(view.summary.iter().any(|l| l.starts_with("static hold")));
    if scenario == "S2" {
        assert!(
            warnings > 50,
            "{scenario}: bouncing shown on {warnings} records"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn view_shows_engine_hold_and_every_active_warning() {
    let rec = live("S2", Family::OpenSensor, 100).await;
    check_view(&rec.raw, "S2");
    // The rep's hold at release is what the rep reports.
    let rep = rec
        .events
        .lines()
        .find(|l| l.contains(r#""event":"rep""#))
        .expect("a rep");
    let v: serde_json::Value = serde_json::from_str(rep).unwrap();
    assert!(v["static_hold_s"].as_f64().unwrap() > 30.0);
}
