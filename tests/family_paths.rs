//! Every sensor family's whole path: the simulator's samples are encoded as that family's
//! notifications (WitMotion int16 frames without a device clock, Movesense messages, Movella DOT
//! payloads, open-protocol packets), decoded by the real decoder, mapped onto the host clock by
//! the assembler from arrival times (a few ms of BLE latency with bursts), calibrated from the
//! recording's own windows and run through the pipeline. Knee RMSE over the exercise block must
//! stay within 1.0° on S1–S10 for every family.

use std::collections::HashMap;
use stretchwatch::model::{ImuSample, SensorRole};
use stretchwatch::protocol::Family;
use stretchwatch::record::raw_log::{DataDir, RawEntry, RawRecord};
use stretchwatch::replay::{ReplayOptions, replay_samples};
use stretchwatch::sim::{self, SimOptions, Variant};
use stretchwatch::source::simulated::{encode_all, sim_devices};
use stretchwatch::source::{Assembled, Assembler};

/// Knee RMSE limit per family and scenario, degrees.
const LIMIT_DEG: f64 = 1.0;

/// Decodes the notifications of `scn` sent by `family` devices and returns the host-timed samples.
fn through_family(out: &sim::SimOutput, roles: &[SensorRole], family: Family) -> Vec<ImuSample> {
    let rate = family.default_rate_hz();
    let devices = sim_devices(roles, family, rate).unwrap();
    let raw: Vec<_> = devices.iter().map(|d| d.device.clone()).collect();
    let notes = encode_all(&out.samples, &devices, 4, 0.0, f64::INFINITY).unwrap();
    let mut asm = Assembler::new(&raw);
    let mut assembled = Vec::new();
    for d in &devices {
        for w in &d.start_writes {
            let rec = RawRecord {
                t_host_s: 0.0,
                entry: RawEntry::Data {
                    device: d.device.role,
                    family,
                    dir: DataDir::Tx,
                    char_uuid: w.char_uuid.to_string(),
                    bytes: w.bytes.clone(),
                },
            };
            asm.push(&rec, &mut assembled);
        }
        let rec = RawRecord {
            t_host_s: 0.0,
            entry: RawEntry::Event {
                device: d.device.role,
                family,
                event: stretchwatch::record::raw_log::ConnEvent::Connected,
            },
        };
        asm.push(&rec, &mut assembled);
    }
    for (i, n) in notes.iter().enumerate() {
        // BLE latency: 8 ms plus bursts of up to three connection intervals (7.5 ms each),
        // deterministic, never early.
        let arrival = n.t_send_s + 0.008 + ((i * 7919) % 4) as f64 * 0.0075;
        let rec = RawRecord {
            t_host_s: (arrival * 1e6).round() / 1e6,
            entry: RawEntry::Data {
                device: n.role,
                family,
                dir: DataDir::Rx,
                char_uuid: n.char_uuid.to_string(),
                bytes: n.bytes.clone(),
            },
        };
        asm.push(&rec, &mut assembled);
    }
    let mut samples: Vec<ImuSample> = assembled
        .into_iter()
        .filter_map(|a| match a {
            Assembled::Sample(s) => Some(s),
            _ => None,
        })
        .collect();
    samples.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    samples
}

fn knee_rmse(name: &str, family: Family) -> f64 {
    let scn = sim::preset(name).unwrap();
    let rate = f64::from(family.default_rate_hz());
    let out = sim::simulate(&scn, &SimOptions::new(rate, Variant::Realistic, 7));
    let mut roles = vec![SensorRole::Thigh, SensorRole::Shank];
    if scn.pelvis_sensor {
        roles.push(SensorRole::Pelvis);
    }
    let samples = through_family(&out, &roles, family);
    // Host time starts at the first arrival; the truth is on simulation time. The mapping keeps
    // the lower envelope of latency (8 ms here), which is the offset to undo.
    let latency_s = 0.008;
    let truth: HashMap<i64, f64> = out
        .truth
        .iter()
        .map(|r| ((r.t_s * 1000.0).round() as i64, r.knee_flexion_deg))
        .collect();
    let block = out.header.block_window();
    let mut err = Vec::new();
    replay_samples(&out.header, &samples, &ReplayOptions::default(), |a| {
        let t_sim = a.t_s - latency_s;
        if !block.contains(t_sim) {
            return;
        }
        // Frames sit on the output grid of host time: compare with the truth interpolated there.
        let k = (t_sim * rate).floor();
        let (t0, t1) = (k / rate, (k + 1.0) / rate);
        let g = |t: f64| truth.get(&((t * 1000.0).round() as i64)).copied();
        let (Some(y0), Some(y1)) = (g(t0), g(t1)) else {
            return;
        };
        let y = y0 + (y1 - y0) * (t_sim - t0) / (t1 - t0);
        err.push(a.knee_flexion_deg.unwrap() - y);
    })
    .unwrap_or_else(|e| panic!("{name} via {family}: {e}"));
    assert!(
        err.len() as f64 > 0.8 * scn.duration_s * rate,
        "{name} via {family}: only {} frames",
        err.len()
    );
    (err.iter().map(|e| e * e).sum::<f64>() / err.len() as f64).sqrt()
}

#[test]
fn every_family_tracks_the_knee_within_a_degree() {
    let names = ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10"];
    let mut worst: Vec<String> = Vec::new();
    for family in [
        Family::WitMotion,
        Family::Movesense,
        Family::MovellaDot,
        Family::OpenSensor,
    ] {
        let mut line = format!("{family:>10}:");
        for name in names {
            let e = knee_rmse(name, family);
            line.push_str(&format!(" {name} {e:.2}°"));
            if e > LIMIT_DEG {
                worst.push(format!("{name} via {family}: knee RMSE {e:.2}°"));
            }
        }
        eprintln!("{line}");
    }
    assert!(worst.is_empty(), "{worst:#?}");
}
