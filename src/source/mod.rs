//! Sample sources: turning raw notification records into time-ordered pipeline samples.
//!
//! Live BLE ([`ble`], tokio + btleplug), the simulator driving notifications in real time
//! ([`simulated`]) and raw-log replay all produce [`RawRecord`]s (DESIGN 3.2). The synchronous
//! [`Assembler`] turns them into [`ImuSample`]s: one decoder per device ([`crate::protocol`]),
//! device-to-host clock mapping ([`clock`]), gap detection (sequence counters, device timestamps,
//! or arrival times for WitMotion) and a merge of the device streams into one non-decreasing
//! timeline. It depends only on the records, so live mode and a replay of its raw log give
//! exactly the same samples.

#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
pub mod ble;
pub mod clock;
pub mod simulated;

pub use clock::ClockMapper;

use crate::model::{ImuSample, SensorRole};
use crate::protocol::{
    DecodedSample, Decoder, Family, SeqCheck, SeqTracker, TimeGapTracker, decoder_for, stream_setup,
};
use crate::record::raw_log::{ConnEvent, DataDir, RawDevice, RawEntry, RawRecord};
use std::collections::VecDeque;

/// A device that has delivered nothing for this long (host time) no longer holds back the merge
/// of the other devices, seconds.
pub const STALE_S: f64 = 0.5;

/// What the assembler produces, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Assembled {
    /// A sample on the session's timeline (host seconds).
    Sample(ImuSample),
    /// Samples were lost just before `t_s` on `role`'s stream.
    Gap {
        /// Device.
        role: SensorRole,
        /// Host time of the first sample after the gap, seconds.
        t_s: f64,
        /// Number of samples lost.
        missing: u64,
    },
    /// A connection event.
    Connection {
        /// Device.
        role: SensorRole,
        /// Host time, seconds.
        t_s: f64,
        /// What happened.
        event: ConnEvent,
    },
    /// A notification could not be decoded (the decoder resynchronises and goes on).
    DecodeError {
        /// Device.
        role: SensorRole,
        /// Host time, seconds.
        t_s: f64,
        /// The decoder's message.
        message: String,
    },
    /// A header key decided during the session (calibration window, block marker).
    Marker {
        /// Host time, seconds.
        t_s: f64,
        /// Header key.
        key: String,
        /// Header value.
        value: String,
    },
}

/// Per-device counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamStats {
    /// Notifications on the data characteristic.
    pub notifications: u64,
    /// Samples decoded.
    pub samples: u64,
    /// Samples found missing (sequence, device time or arrival time).
    pub missing: u64,
    /// Gap episodes.
    pub gaps: u64,
    /// Notifications that failed to decode (fully or partly).
    pub decode_errors: u64,
    /// `connected` events after the first.
    pub reconnects: u64,
    /// Samples whose time had to be moved forward to keep the merged timeline ordered.
    pub late_samples: u64,
    /// Host time of the last data notification, seconds.
    pub last_rx_s: Option<f64>,
}

/// Whether `char_uuid` carries `family`'s data (WitMotion matches on the 16-bit part, because
/// modules exist with either 128-bit base, ble-sensors.md 2.1).
pub fn is_data_char(family: Family, char_uuid: &str) -> bool {
    let c = char_uuid.to_ascii_lowercase();
    match family {
        Family::WitMotion => c.starts_with("0000ffe4-"),
        f => stream_setup(f, f.default_rate_hz())
            .map(|s| s.notify_char == c)
            .unwrap_or(false),
    }
}

struct DeviceStream {
    role: SensorRole,
    family: Family,
    decoder: Box<dyn Decoder>,
    clock: ClockMapper,
    seq: SeqTracker,
    tgap: TimeGapTracker,
    decoded: Vec<DecodedSample>,
    queue: VecDeque<ImuSample>,
    connected: bool,
    ever_connected: bool,
    last_t_s: f64,
    stats: StreamStats,
}

impl DeviceStream {
    fn new(d: &RawDevice) -> Self {
        let period_s = 1.0 / f64::from(d.rate_hz.max(1));
        DeviceStream {
            role: d.role,
            family: d.family,
            decoder: decoder_for(d.family),
            clock: ClockMapper::new(period_s),
            seq: SeqTracker::new(16),
            tgap: TimeGapTracker::new(period_s),
            decoded: Vec::new(),
            queue: VecDeque::new(),
            connected: false,
            ever_connected: false,
            last_t_s: f64::NEG_INFINITY,
            stats: StreamStats::default(),
        }
    }

    fn blocking(&self, now_s: f64) -> bool {
        self.connected && self.stats.last_rx_s.is_some_and(|t| now_s - t <= STALE_S)
    }
}

/// Decodes, timestamps, gap-checks and merges the records of a session's devices.
pub struct Assembler {
    devices: Vec<DeviceStream>,
    now_s: f64,
    released_t_s: f64,
}

impl Assembler {
    /// An assembler for the devices of a raw-log header.
    pub fn new(devices: &[RawDevice]) -> Self {
        Assembler {
            devices: devices.iter().map(DeviceStream::new).collect(),
            now_s: f64::NEG_INFINITY,
            released_t_s: f64::NEG_INFINITY,
        }
    }

    /// Counters of the device playing `role`.
    pub fn stats(&self, role: SensorRole) -> Option<StreamStats> {
        self.devices
            .iter()
            .find(|d| d.role == role)
            .map(|d| d.stats)
    }

    /// Feeds one record; appends what became ready to `out`.
    pub fn push(&mut self, rec: &RawRecord, out: &mut Vec<Assembled>) {
        let t = rec.t_host_s;
        self.now_s = self.now_s.max(t);
        match &rec.entry {
            RawEntry::Marker { key, value } => out.push(Assembled::Marker {
                t_s: t,
                key: key.clone(),
                value: value.clone(),
            }),
            RawEntry::Event { device, event, .. } => {
                let Some(d) = self.devices.iter_mut().find(|d| d.role == *device) else {
                    return;
                };
                match event {
                    ConnEvent::Connected => {
                        if d.ever_connected {
                            d.stats.reconnects += 1;
                        }
                        d.ever_connected = true;
                        d.connected = true;
                        d.decoder.reset();
                        d.clock.on_reconnect();
                    }
                    ConnEvent::Disconnected => d.connected = false,
                    ConnEvent::Subscribed | ConnEvent::ReconnectFailed => {}
                }
                out.push(Assembled::Connection {
                    role: *device,
                    t_s: t,
                    event: *event,
                });
                self.release(out);
            }
            RawEntry::Data {
                device,
                dir,
                char_uuid,
                bytes,
                ..
            } => {
                let Some(d) = self.devices.iter_mut().find(|d| d.role == *device) else {
                    return;
                };
                match dir {
                    DataDir::Tx => d.decoder.observe_write(bytes),
                    DataDir::Read => {}
                    DataDir::Rx => {
                        if !is_data_char(d.family, char_uuid) {
                            return;
                        }
                        d.connected = true;
                        d.stats.notifications += 1;
                        d.stats.last_rx_s = Some(t);
                        d.decoded.clear();
                        let mut decoded = std::mem::take(&mut d.decoded);
                        if let Err(e) = d.decoder.push(bytes, &mut decoded) {
                            d.stats.decode_errors += 1;
                            out.push(Assembled::DecodeError {
                                role: d.role,
                                t_s: t,
                                message: e.to_string(),
                            });
                        }
                        for s in &decoded {
                            Self::accept(d, t, s, out);
                        }
                        d.decoded = decoded;
                        self.release(out);
                    }
                }
            }
        }
    }

    fn accept(d: &mut DeviceStream, arrival_s: f64, s: &DecodedSample, out: &mut Vec<Assembled>) {
        let mapped = d.clock.map(arrival_s, s.device_time_s);
        let missing = match d.family {
            Family::OpenSensor => match s.seq.map(|q| d.seq.observe(q)) {
                Some(SeqCheck::Gap { missing }) => missing,
                _ => 0,
            },
            Family::Movesense | Family::MovellaDot => {
                s.device_time_s.map(|t| d.tgap.observe(t)).unwrap_or(0)
            }
            Family::WitMotion => mapped.missing,
        };
        if missing > 0 {
            d.stats.missing += missing;
            d.stats.gaps += 1;
            out.push(Assembled::Gap {
                role: d.role,
                t_s: mapped.t_host_s,
                missing,
            });
        }
        d.stats.samples += 1;
        d.last_t_s = mapped.t_host_s;
        d.queue.push_back(s.to_imu_sample(mapped.t_host_s, d.role));
    }

    /// Releases every queued sample that no connected, non-stale device can still precede.
    fn release(&mut self, out: &mut Vec<Assembled>) {
        loop {
            let Some(i) = (0..self.devices.len())
                .filter(|&i| !self.devices[i].queue.is_empty())
                .min_by(|&a, &b| {
                    let ta = self.devices[a].queue[0].t_s;
                    let tb = self.devices[b].queue[0].t_s;
                    ta.total_cmp(&tb)
                })
            else {
                return;
            };
            let t = self.devices[i].queue[0].t_s;
            let now = self.now_s;
            let held =
                self.devices.iter().enumerate().any(|(j, o)| {
                    j != i && o.queue.is_empty() && o.blocking(now) && o.last_t_s < t
                });
            if held {
                return;
            }
            let d = &mut self.devices[i];
            let Some(mut s) = d.queue.pop_front() else {
                return;
            };
            if s.t_s < self.released_t_s {
                s.t_s = self.released_t_s;
                d.stats.late_samples += 1;
            }
            self.released_t_s = s.t_s;
            out.push(Assembled::Sample(s));
        }
    }

    /// End of the records: flushes decoders and releases everything queued.
    pub fn finish(&mut self, out: &mut Vec<Assembled>) {
        let now = self.now_s;
        for d in &mut self.devices {
            let mut decoded = Vec::new();
            let _ = d.decoder.flush(&mut decoded);
            for s in &decoded {
                Self::accept(d, now, s, out);
            }
            d.connected = false;
        }
        self.release(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::open::{DataFormat, OpenEncoder};
    use crate::protocol::witmotion;
    use nalgebra::Vector3;

    fn dev(role: SensorRole, family: Family) -> RawDevice {
        RawDevice {
            role,
            family,
            address: String::new(),
            name: None,
            rate_hz: 100,
            mtu: None,
        }
    }

    fn rx(t: f64, role: SensorRole, family: Family, bytes: Vec<u8>) -> RawRecord {
        let char_uuid = match family {
            Family::WitMotion => witmotion::NOTIFY_CHAR_UUID,
            _ => crate::protocol::open::DATA_CHAR_UUID,
        };
        RawRecord {
            t_host_s: t,
            entry: RawEntry::Data {
                device: role,
                family,
                dir: DataDir::Rx,
                char_uuid: char_uuid.into(),
                bytes,
            },
        }
    }

    #[test]
    fn two_devices_merge_in_time_order_and_gaps_are_counted() {
        let devs = [
            dev(SensorRole::Thigh, Family::OpenSensor),
            dev(SensorRole::Shank, Family::WitMotion),
        ];
        let mut a = Assembler::new(&devs);
        let mut enc = OpenEncoder::new(DataFormat::Imu6, 0);
        let s = DecodedSample::new(Vector3::new(0.0, 0.0, 9.8), Vector3::zeros());
        let mut out = Vec::new();
        for i in 0..200u32 {
            let t = f64::from(i) * 0.01;
            if i == 100 {
                enc.skip(5); // five open-protocol samples lost
            }
            let open = enc
                .encode(i * 10_000 + 7_000_000, std::slice::from_ref(&s))
                .unwrap();
            a.push(
                &rx(t + 0.012, SensorRole::Thigh, Family::OpenSensor, open),
                &mut out,
            );
            let wit = witmotion::encode_data_frame(&s.acc_m_s2, &s.gyr_rad_s, &Vector3::zeros());
            a.push(
                &rx(
                    t + 0.015,
                    SensorRole::Shank,
                    Family::WitMotion,
                    wit.to_vec(),
                ),
                &mut out,
            );
        }
        a.finish(&mut out);
        let samples: Vec<&ImuSample> = out
            .iter()
            .filter_map(|o| match o {
                Assembled::Sample(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(samples.len(), 400);
        assert!(samples.windows(2).all(|w| w[0].t_s <= w[1].t_s));
        let gaps: Vec<_> = out
            .iter()
            .filter(|o| matches!(o, Assembled::Gap { .. }))
            .collect();
        assert_eq!(gaps.len(), 1);
        assert!(matches!(
            gaps[0],
            Assembled::Gap {
                role: SensorRole::Thigh,
                missing: 5,
                ..
            }
        ));
        assert_eq!(a.stats(SensorRole::Shank).unwrap().missing, 0);
    }
}
