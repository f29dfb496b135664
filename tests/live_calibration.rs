//! Guided live calibration asks for another go when the calibration came out poor (issue 8):
//! a person whose swings were small, wobbling and twisting is told the angles may be off and
//! to repeat; live plans the new calibration itself (so replay of its raw log sees the same
//! plan and gives the same events), and after two poor repeats in a row it goes on with the
//! caveat rather than loop.

use std::path::PathBuf;
use stretchwatch::calibration::accuracy_caveat;
use stretchwatch::form::FormConfig;
use stretchwatch::live::{LiveConfig, LiveOutputs, LiveSession};
use stretchwatch::model::{ImuSample, SensorRole, Side, StretchType};
use stretchwatch::protocol::Family;
use stretchwatch::record::raw_log::{ConnEvent, DataDir, RawEntry, RawRecord, round_to_us};
use stretchwatch::replay::{ReplayOptions, replay_samples};
use stretchwatch::sim::{self, Scenario, SimOptions, SwingStyle, Variant};
use stretchwatch::source::simulated::{encode_all, sim_devices};

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

/// Streams `samples` through a live session as open-protocol notifications; returns the
/// messages it showed and its raw log and events files.
fn run_live(samples: &[ImuSample], name: &str) -> (Vec<String>, PathBuf, String) {
    let roles = [SensorRole::Thigh, SensorRole::Shank];
    let devices = sim_devices(&roles, Family::OpenSensor, 100).unwrap();
    let notes = encode_all(samples, &devices, 1, 0.0, f64::INFINITY).unwrap();
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
        raw_log: Some(tmp(&format!("{name}.raw.jsonl"))),
        events_jsonl: Some(tmp(&format!("{name}.events.jsonl"))),
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
    let mut shown = Vec::new();
    for n in notes {
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
        shown.append(&mut live.view_mut().timeline);
    }
    live.finish().unwrap();
    let events = std::fs::read_to_string(outputs.events_jsonl.as_ref().unwrap()).unwrap();
    (shown, outputs.raw_log.unwrap(), events)
}

#[test]
fn a_poor_guided_calibration_is_asked_again() {
    let (scn, opts) = poor_swings();
    let out = sim::simulate(&scn, &opts);
    // The precondition: these swings calibrate, but poorly enough for a caveat.
    let summary = replay_samples(&out.header, &out.samples, &ReplayOptions::default(), |_| {})
        .expect("poor swings still calibrate");
    let profile = summary.profile.expect("a profile");
    assert!(
        accuracy_caveat(&profile).is_some(),
        "quality {:.2}, expected {:.1}°",
        profile.quality.score,
        profile.expected_error_deg()
    );

    let (shown, raw, events) = run_live(&out.samples, "poor");
    let said = shown.join("\n");
    eprintln!("{said}");
    let asks = said.matches("Let's do it again").count();
    assert!(asks >= 1, "{said}");
    assert!(asks <= 2, "asked {asks} times:\n{said}");
    assert!(said.contains("angles may be off by up to"), "{said}");
    // Each request planned a new calibration, recorded in the raw log.
    let log = std::fs::read_to_string(&raw).unwrap();
    let planned = log.matches("calibration.static").count();
    assert!(
        planned > asks,
        "{planned} calibrations planned for {asks} requests"
    );
    // Replay of the raw log follows the same plan.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stretchwatch"))
        .args(["replay", "--json"])
        .arg(&raw)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), events);
}
