//! Simulated sensors: the simulator's samples encoded as the notifications real sensors send.
//!
//! `stretchwatch live --simulate` and the fake-BlueZ integration test both use this: each sensor
//! of a simulated recording becomes a WitMotion or open-protocol device whose notifications carry
//! the simulated samples, sent when the sample is due (Movesense and Movella DOT too, for the
//! per-family accuracy tests). Samples the simulator dropped (its
//! `realistic` variant) are skipped by the open-protocol counter, as a lossy link would.

use crate::model::{ImuSample, SensorRole};
use crate::protocol::open::{DataFormat, OpenEncoder};
use crate::protocol::{
    DecodedSample, Family, GattWrite, ProtocolError, movella_dot, movesense, stream_setup,
    witmotion,
};
use crate::record::raw_log::RawDevice;
use nalgebra::Vector3;

/// One notification of a simulated device.
#[derive(Debug, Clone, PartialEq)]
pub struct SimNotification {
    /// When the device sends it: the time of its last sample, seconds of simulation time.
    pub t_send_s: f64,
    /// Device.
    pub role: SensorRole,
    /// Characteristic it is sent on.
    pub char_uuid: &'static str,
    /// Bytes.
    pub bytes: Vec<u8>,
}

/// A simulated device: its header entry and the writes a host sends to start it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimDevice {
    /// Header entry (address and name are made up).
    pub device: RawDevice,
    /// Start-up writes, in order (before and after subscribing).
    pub start_writes: Vec<GattWrite>,
}

/// The simulated devices for `roles` in `family` at `rate_hz`.
pub fn sim_devices(
    roles: &[SensorRole],
    family: Family,
    rate_hz: u32,
) -> Result<Vec<SimDevice>, ProtocolError> {
    roles
        .iter()
        .enumerate()
        .map(|(i, &role)| {
            let setup = stream_setup(family, rate_hz)?;
            let mut writes = setup.before_subscribe;
            writes.extend(setup.after_subscribe);
            let name = match family {
                Family::OpenSensor => format!("OSP-{role}"),
                _ => format!("WT901BLE{i:02}"),
            };
            Ok(SimDevice {
                device: RawDevice {
                    role,
                    family,
                    address: format!("5A:11:00:00:00:{:02X}", i + 1),
                    name: Some(name),
                    rate_hz,
                    mtu: None,
                },
                start_writes: writes,
            })
        })
        .collect()
}

/// Encodes the samples of `role` between `from_s` and `to_s` (simulation time) as `family`
/// notifications at `rate_hz`, `batch` samples per open-protocol packet or Movesense message
/// (WitMotion and DOT send one sample per notification). Device time is simulation time.
pub fn encode_role(
    samples: &[ImuSample],
    role: SensorRole,
    family: Family,
    rate_hz: f64,
    batch: usize,
    from_s: f64,
    to_s: f64,
) -> Result<Vec<SimNotification>, ProtocolError> {
    let mine: Vec<&ImuSample> = samples
        .iter()
        .filter(|s| s.role == role && s.t_s >= from_s && s.t_s < to_s)
        .collect();
    let mut out = Vec::new();
    match family {
        Family::WitMotion => {
            for s in mine {
                let f = witmotion::encode_data_frame(&s.acc_m_s2, &s.gyr_rad_s, &Vector3::zeros());
                out.push(SimNotification {
                    t_send_s: s.t_s,
                    role,
                    char_uuid: witmotion::NOTIFY_CHAR_UUID,
                    bytes: f.to_vec(),
                });
            }
        }
        Family::OpenSensor => {
            let batch = batch.clamp(1, crate::protocol::open::MAX_SAMPLES_PER_PACKET);
            let mut enc = OpenEncoder::new(DataFormat::Imu6, 0);
            let mut k_next: Option<i64> = None;
            let mut pending: Vec<DecodedSample> = Vec::new();
            let mut t_first = 0.0;
            let mut flush = |pending: &mut Vec<DecodedSample>,
                             enc: &mut OpenEncoder,
                             t_first: f64,
                             t_last: f64|
             -> Result<(), ProtocolError> {
                if pending.is_empty() {
                    return Ok(());
                }
                let t_us = (t_first * 1e6).round().max(0.0) as u64 as u32;
                out.push(SimNotification {
                    t_send_s: t_last,
                    role,
                    char_uuid: crate::protocol::open::DATA_CHAR_UUID,
                    bytes: enc.encode(t_us, pending)?,
                });
                pending.clear();
                Ok(())
            };
            let mut t_last = 0.0;
            for s in mine {
                let k = (s.t_s * rate_hz).round() as i64;
                if let Some(expected) = k_next
                    && k > expected
                {
                    // Lost samples: close the packet and advance the counter past them.
                    flush(&mut pending, &mut enc, t_first, t_last)?;
                    enc.skip((k - expected) as u16);
                }
                if pending.is_empty() {
                    t_first = s.t_s;
                }
                pending.push(DecodedSample::new(s.acc_m_s2, s.gyr_rad_s));
                t_last = s.t_s;
                k_next = Some(k + 1);
                if pending.len() == batch {
                    flush(&mut pending, &mut enc, t_first, t_last)?;
                }
            }
            flush(&mut pending, &mut enc, t_first, t_last)?;
        }
        Family::Movesense => {
            // Movesense stamps a message with its first sample's time (ms) and the decoder
            // spaces the rest by the subscribed rate, so a lost sample closes the message.
            let batch = batch.clamp(1, 8);
            let mut pending: Vec<DecodedSample> = Vec::new();
            let (mut t_first, mut t_last) = (0.0, 0.0);
            let mut k_next: Option<i64> = None;
            let mut flush = |pending: &mut Vec<DecodedSample>, t_first: f64, t_last: f64| {
                if pending.is_empty() {
                    return;
                }
                let ts_ms = (t_first * 1000.0).round().max(0.0) as u64 as u32;
                for bytes in movesense::encode_imu_message(
                    movesense::DEFAULT_REFERENCE,
                    movesense::Measurement::Imu6,
                    ts_ms,
                    pending,
                    MOVESENSE_MAX_NOTIFICATION,
                ) {
                    out.push(SimNotification {
                        t_send_s: t_last,
                        role,
                        char_uuid: movesense::DATA_CHAR_UUID,
                        bytes,
                    });
                }
                pending.clear();
            };
            for s in mine {
                let k = (s.t_s * rate_hz).round() as i64;
                if k_next.is_some_and(|e| k > e) {
                    flush(&mut pending, t_first, t_last);
                }
                if pending.is_empty() {
                    t_first = s.t_s;
                }
                pending.push(DecodedSample::new(s.acc_m_s2, s.gyr_rad_s));
                t_last = s.t_s;
                k_next = Some(k + 1);
                if pending.len() == batch {
                    flush(&mut pending, t_first, t_last);
                }
            }
            flush(&mut pending, t_first, t_last);
        }
        Family::MovellaDot => {
            // One payload per sample, stamped in µs by the sensor clock.
            let mode = movella_dot::PayloadMode::RateQuantitiesWithMag;
            for s in mine {
                let p = movella_dot::DotPayload {
                    timestamp_us: (s.t_s * 1e6).round().max(0.0) as u64 as u32,
                    acc_m_s2: Some(s.acc_m_s2),
                    gyr_rad_s: Some(s.gyr_rad_s),
                    mag_au: Some(Vector3::zeros()),
                    ..Default::default()
                };
                out.push(SimNotification {
                    t_send_s: s.t_s,
                    role,
                    char_uuid: mode.notify_char(),
                    bytes: movella_dot::encode_payload(mode, &p),
                });
            }
        }
    }
    Ok(out)
}

/// Longest Movesense notification the simulator sends, bytes (a typical negotiated ATT MTU − 3).
const MOVESENSE_MAX_NOTIFICATION: usize = 244;

/// Encodes every role of `roles` and merges the notifications by send time.
pub fn encode_all(
    samples: &[ImuSample],
    devices: &[SimDevice],
    batch: usize,
    from_s: f64,
    to_s: f64,
) -> Result<Vec<SimNotification>, ProtocolError> {
    let mut all = Vec::new();
    for d in devices {
        all.extend(encode_role(
            samples,
            d.device.role,
            d.device.family,
            f64::from(d.device.rate_hz),
            batch,
            from_s,
            to_s,
        )?);
    }
    all.sort_by(|a, b| a.t_send_s.total_cmp(&b.t_send_s));
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::decoder_for;

    #[test]
    fn open_packets_decode_back_with_the_simulators_drops_as_gaps() {
        let mut samples = Vec::new();
        for k in 0..50 {
            if k == 20 || k == 21 {
                continue;
            }
            samples.push(ImuSample {
                t_s: f64::from(k) * 0.01,
                role: SensorRole::Thigh,
                acc_m_s2: Vector3::new(0.0, 0.0, 9.81),
                gyr_rad_s: Vector3::new(0.1, 0.0, 0.0),
                mag_ut: None,
            });
        }
        let n = encode_role(
            &samples,
            SensorRole::Thigh,
            Family::OpenSensor,
            100.0,
            4,
            0.0,
            1.0,
        )
        .unwrap();
        let mut dec = decoder_for(Family::OpenSensor);
        let mut out = Vec::new();
        for x in &n {
            dec.push(&x.bytes, &mut out).unwrap();
        }
        assert_eq!(out.len(), 48);
        let seqs: Vec<u32> = out.iter().map(|s| s.seq.unwrap()).collect();
        assert_eq!(&seqs[18..22], &[18, 19, 22, 23]);
        assert!((out[30].device_time_s.unwrap() - samples[30].t_s).abs() < 1e-6);
    }
}
