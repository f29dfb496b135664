//! Driving a library `LiveSession` from simulated samples, as a BLE link would: the samples are
//! encoded as open-protocol notifications and fed in arrival order (instantly), after each
//! sensor's connect and subscribe events.

#![allow(dead_code)]

use std::path::PathBuf;
use stretchwatch::form::FormConfig;
use stretchwatch::live::{LiveConfig, LiveOutputs, LiveSession};
use stretchwatch::model::{ImuSample, SensorRole, Side, StretchType};
use stretchwatch::protocol::Family;
use stretchwatch::record::raw_log::{ConnEvent, DataDir, RawEntry, RawRecord, round_to_us};
use stretchwatch::source::simulated::{encode_all, sim_devices};

/// What a driven live session left: the messages it showed, its raw log, IMU CSV and events.
pub struct Driven {
    pub shown: Vec<String>,
    pub raw: PathBuf,
    pub csv: PathBuf,
    pub events: String,
}

/// Streams `samples` of `roles` through a live session writing `prefix.*` files; `before` runs
/// before each notification with its send time (to press keys, or to look at the view).
pub fn drive(
    samples: &[ImuSample],
    roles: &[SensorRole],
    prefix: &std::path::Path,
    mut before: impl FnMut(&mut LiveSession, f64),
) -> Driven {
    let devices = sim_devices(roles, Family::OpenSensor, 100).unwrap();
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
    let out = |ext: &str| PathBuf::from(format!("{}.{ext}", prefix.display()));
    let outputs = LiveOutputs {
        raw_log: Some(out("raw.jsonl")),
        imu_csv: Some(out("imu.csv")),
        events_jsonl: Some(out("events.jsonl")),
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
        before(&mut live, n.t_send_s);
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
    Driven {
        shown,
        events: std::fs::read_to_string(out("events.jsonl")).unwrap(),
        raw: out("raw.jsonl"),
        csv: out("imu.csv"),
    }
}
