//! The project's open sensor protocol (OSP v1): encoder and decoder.
//!
//! A DIY sensor (ESP32, nRF52) exposes one service with an Info characteristic (read), a Control
//! characteristic (write) and a Data characteristic (notify). Data packets carry a 7-byte header
//! (version, packet type, sample count, 16-bit sample counter, 32-bit µs timestamp), 1 to 16
//! samples as `i16` in fixed SI steps, and a CRC-8. A one-sample IMU6 packet is exactly 20 bytes,
//! so it fits the default ATT MTU. Packets are self-delimiting and checksummed, so the decoder
//! treats notifications as a byte stream: split or merged packets decode the same, and garbage is
//! skipped until the next valid packet. The normative text is `firmware-protocol/open-sensor.md`.

use super::witmotion::quantize_i16;
use super::{
    DecodedSample, Decoder, DecoderStats, Family, GattWrite, ProtocolError, StreamSetup,
    WrapUnwrapper,
};
use nalgebra::{Quaternion, Vector3};

/// Service UUID (advertise it so scanners can recognise the sensor).
pub const SERVICE_UUID: &str = "53570001-2365-4def-a084-b62823e25125";
/// Info characteristic (read, 20 bytes).
pub const INFO_CHAR_UUID: &str = "53570002-2365-4def-a084-b62823e25125";
/// Control characteristic (write with response).
pub const CONTROL_CHAR_UUID: &str = "53570003-2365-4def-a084-b62823e25125";
/// Data characteristic (notify).
pub const DATA_CHAR_UUID: &str = "53570004-2365-4def-a084-b62823e25125";
/// Recommended advertised name prefix, e.g. `OSP-thigh`.
pub const NAME_PREFIX: &str = "OSP-";

/// Protocol version carried in every packet header and in the Info characteristic.
pub const VERSION: u8 = 1;
/// Header length: header byte, `u16` seq, `u32` t_us.
pub const HEADER_LEN: usize = 7;
/// Trailing CRC-8 length.
pub const CRC_LEN: usize = 1;
/// Most samples in one data packet.
pub const MAX_SAMPLES_PER_PACKET: usize = 16;
/// Status body length.
pub const STATUS_BODY_LEN: usize = 12;
/// Info characteristic length.
pub const INFO_LEN: usize = 20;

/// Acceleration step: one count is 0.005 m/s² (range ±163.8 m/s², ±16.7 g).
pub const ACC_LSB_M_S2: f64 = 0.005;
/// Angular-rate step: one count is 0.001 rad/s (range ±32.8 rad/s, ±1877 °/s).
pub const GYR_LSB_RAD_S: f64 = 0.001;
/// Magnetic-field step: one count is 0.1 µT (range ±3277 µT).
pub const MAG_LSB_UT: f64 = 0.1;
/// Quaternion step: Q14, one count is 1/16384.
pub const QUAT_LSB: f64 = 1.0 / 16384.0;

/// Lowest configurable rate, Hz.
pub const MIN_RATE_HZ: u32 = 1;
/// Highest configurable rate, Hz.
pub const MAX_RATE_HZ: u32 = 1000;
/// Sample period assumed before any status packet or rate write, µs (100 Hz).
pub const DEFAULT_SAMPLE_PERIOD_US: u32 = 10_000;

/// Control opcode: start streaming.
pub const OP_START: u8 = 0x01;
/// Control opcode: stop streaming.
pub const OP_STOP: u8 = 0x02;
/// Control opcode: set the sample rate (`u16` Hz).
pub const OP_SET_RATE: u8 = 0x03;
/// Control opcode: set the data format (`u8`).
pub const OP_SET_FORMAT: u8 = 0x04;
/// Control opcode: set the samples per packet (`u8`, 1..=16).
pub const OP_SET_BATCH: u8 = 0x05;
/// Control opcode: send a status packet now.
pub const OP_REQUEST_STATUS: u8 = 0x06;

const TYPE_STATUS: u8 = 3;

/// CRC-8/SMBUS: polynomial 0x07, initial value 0, no reflection, no final XOR
/// (check value over ASCII `123456789` is 0xF4).
pub fn crc8(bytes: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in bytes {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// What each data sample carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataFormat {
    /// Type 0: acceleration and angular rate (12 bytes per sample).
    Imu6,
    /// Type 1: acceleration, angular rate, magnetic field (18 bytes).
    Imu9,
    /// Type 2: acceleration, angular rate, on-board quaternion w, x, y, z in Q14 (20 bytes).
    Imu6Quat,
}

impl DataFormat {
    /// Packet type / format code.
    pub fn code(self) -> u8 {
        match self {
            DataFormat::Imu6 => 0,
            DataFormat::Imu9 => 1,
            DataFormat::Imu6Quat => 2,
        }
    }

    /// The format for a code.
    pub fn from_code(code: u8) -> Option<DataFormat> {
        match code {
            0 => Some(DataFormat::Imu6),
            1 => Some(DataFormat::Imu9),
            2 => Some(DataFormat::Imu6Quat),
            _ => None,
        }
    }

    /// Bytes per sample.
    pub fn sample_len(self) -> usize {
        match self {
            DataFormat::Imu6 => 12,
            DataFormat::Imu9 => 18,
            DataFormat::Imu6Quat => 20,
        }
    }
}

/// One sample as sent: counts in the protocol's fixed SI steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawSample {
    /// Acceleration counts (× [`ACC_LSB_M_S2`]).
    pub acc: [i16; 3],
    /// Angular-rate counts (× [`GYR_LSB_RAD_S`]).
    pub gyr: [i16; 3],
    /// Magnetic-field counts (× [`MAG_LSB_UT`]); IMU9 only.
    pub mag: [i16; 3],
    /// Quaternion w, x, y, z counts (× [`QUAT_LSB`]); IMU6Quat only.
    pub quat: [i16; 4],
}

impl RawSample {
    /// Quantises a decoded sample (rounding, saturating; missing fields become zero).
    pub fn from_si(s: &DecodedSample) -> RawSample {
        let q3 = |v: &Vector3<f64>, lsb: f64| {
            [
                quantize_i16(v.x / lsb),
                quantize_i16(v.y / lsb),
                quantize_i16(v.z / lsb),
            ]
        };
        RawSample {
            acc: q3(&s.acc_m_s2, ACC_LSB_M_S2),
            gyr: q3(&s.gyr_rad_s, GYR_LSB_RAD_S),
            mag: s.mag_ut.map(|m| q3(&m, MAG_LSB_UT)).unwrap_or_default(),
            quat: s
                .quat
                .map(|q| [q.w, q.i, q.j, q.k].map(|x| quantize_i16(x / QUAT_LSB)))
                .unwrap_or_default(),
        }
    }

    /// Converts to SI; fields the format lacks are `None`.
    pub fn to_si(&self, format: DataFormat) -> DecodedSample {
        let v3 = |r: [i16; 3], lsb: f64| {
            Vector3::new(f64::from(r[0]), f64::from(r[1]), f64::from(r[2])) * lsb
        };
        let mut s = DecodedSample::new(v3(self.acc, ACC_LSB_M_S2), v3(self.gyr, GYR_LSB_RAD_S));
        if format == DataFormat::Imu9 {
            s.mag_ut = Some(v3(self.mag, MAG_LSB_UT));
        }
        if format == DataFormat::Imu6Quat {
            let [w, x, y, z] = self.quat.map(|c| f64::from(c) * QUAT_LSB);
            s.quat = Some(Quaternion::new(w, x, y, z));
        }
        s
    }
}

/// Device state flags in a status packet.
pub mod status_flags {
    /// The device is streaming data packets.
    pub const STREAMING: u8 = 0x01;
    /// Battery low: the session may end soon.
    pub const BATTERY_LOW: u8 = 0x02;
    /// On the charger.
    pub const CHARGING: u8 = 0x04;
    /// The IMU failed to initialise or stopped answering.
    pub const SENSOR_FAULT: u8 = 0x08;
    /// Samples were discarded on the device since the previous status (queue overflow).
    pub const DROPPED: u8 = 0x10;
}

/// The body of a status packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenStatus {
    /// Actual sample period of the data stream, µs (0 = unknown).
    pub sample_period_us: u32,
    /// [`status_flags`] bits.
    pub flags: u8,
    /// Battery charge 0..=100 %, 255 = unknown.
    pub battery_pct: u8,
    /// Samples discarded on the device since boot (wrapping).
    pub dropped_total: u16,
    /// Configured data format.
    pub format: DataFormat,
    /// Configured samples per packet.
    pub batch: u8,
    /// Device temperature, 0.01 °C; `i16::MIN` = unknown.
    pub temperature_cdeg: i16,
}

impl Default for OpenStatus {
    fn default() -> Self {
        OpenStatus {
            sample_period_us: DEFAULT_SAMPLE_PERIOD_US,
            flags: status_flags::STREAMING,
            battery_pct: 255,
            dropped_total: 0,
            format: DataFormat::Imu6,
            batch: 1,
            temperature_cdeg: i16::MIN,
        }
    }
}

/// One packet on the Data characteristic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenPacket {
    /// Samples.
    Data {
        /// Sample format.
        format: DataFormat,
        /// Counter of the first sample (wrapping).
        seq: u16,
        /// Device time of the first sample, µs (wrapping).
        t_us: u32,
        /// 1..=16 samples, equally spaced by the current sample period.
        samples: Vec<RawSample>,
    },
    /// Device status (sent after every control write, at stream start and every few seconds).
    Status {
        /// Counter the next data sample will carry.
        seq: u16,
        /// Device time when the status was taken, µs.
        t_us: u32,
        /// The status.
        status: OpenStatus,
    },
}

fn err(offset: usize, expected: impl Into<String>, found: impl Into<String>) -> ProtocolError {
    ProtocolError::Unexpected {
        family: Family::OpenSensor,
        offset,
        expected: expected.into(),
        found: found.into(),
    }
}

/// The total length of the packet that starts with header byte `h`, or an error naming what a
/// header byte may be.
pub fn packet_len(h: u8) -> Result<usize, ProtocolError> {
    let version = h >> 6;
    let kind = (h >> 4) & 0x03;
    let count = usize::from(h & 0x0F) + 1;
    if version != VERSION {
        return Err(err(
            0,
            "a version-1 packet header (0x40..=0x7f)",
            format!("0x{h:02x}"),
        ));
    }
    if kind == TYPE_STATUS {
        if count != 1 {
            return Err(err(
                0,
                "a status header 0x70 (count bits zero)",
                format!("0x{h:02x}"),
            ));
        }
        return Ok(HEADER_LEN + STATUS_BODY_LEN + CRC_LEN);
    }
    let format = DataFormat::from_code(kind).unwrap_or(DataFormat::Imu6);
    Ok(HEADER_LEN + count * format.sample_len() + CRC_LEN)
}

/// Decodes exactly one packet (header, body, CRC).
pub fn parse_packet(p: &[u8]) -> Result<OpenPacket, ProtocolError> {
    let Some(&h) = p.first() else {
        return Err(ProtocolError::Truncated {
            family: Family::OpenSensor,
            what: "packet header",
            offset: 0,
            needed: HEADER_LEN,
            available: 0,
        });
    };
    let len = packet_len(h)?;
    if p.len() < len {
        return Err(ProtocolError::Truncated {
            family: Family::OpenSensor,
            what: "packet",
            offset: 0,
            needed: len,
            available: p.len(),
        });
    }
    if p.len() > len {
        return Err(err(
            len,
            format!("end of the {len}-byte packet"),
            format!("{} more bytes", p.len() - len),
        ));
    }
    let want = crc8(&p[..len - 1]);
    if want != p[len - 1] {
        return Err(ProtocolError::Checksum {
            family: Family::OpenSensor,
            offset: len - 1,
            expected: want,
            found: p[len - 1],
        });
    }
    let i16s = |off: usize, n: usize| -> Vec<i16> {
        (0..n)
            .map(|k| i16::from_le_bytes([p[off + 2 * k], p[off + 2 * k + 1]]))
            .collect()
    };
    let seq = u16::from_le_bytes([p[1], p[2]]);
    let t_us = u32::from_le_bytes([p[3], p[4], p[5], p[6]]);
    let kind = (h >> 4) & 0x03;
    if kind == TYPE_STATUS {
        let b = &p[HEADER_LEN..HEADER_LEN + STATUS_BODY_LEN];
        let format = DataFormat::from_code(b[8]).ok_or_else(|| {
            err(
                HEADER_LEN + 8,
                "a data format code 0, 1 or 2",
                format!("{}", b[8]),
            )
        })?;
        return Ok(OpenPacket::Status {
            seq,
            t_us,
            status: OpenStatus {
                sample_period_us: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                flags: b[4],
                battery_pct: b[5],
                dropped_total: u16::from_le_bytes([b[6], b[7]]),
                format,
                batch: b[9],
                temperature_cdeg: i16::from_le_bytes([b[10], b[11]]),
            },
        });
    }
    let format = DataFormat::from_code(kind).unwrap_or(DataFormat::Imu6);
    let count = usize::from(h & 0x0F) + 1;
    let samples = (0..count)
        .map(|i| {
            let off = HEADER_LEN + i * format.sample_len();
            let v = i16s(off, format.sample_len() / 2);
            let mut s = RawSample {
                acc: [v[0], v[1], v[2]],
                gyr: [v[3], v[4], v[5]],
                ..Default::default()
            };
            match format {
                DataFormat::Imu6 => {}
                DataFormat::Imu9 => s.mag = [v[6], v[7], v[8]],
                DataFormat::Imu6Quat => s.quat = [v[6], v[7], v[8], v[9]],
            }
            s
        })
        .collect();
    Ok(OpenPacket::Data {
        format,
        seq,
        t_us,
        samples,
    })
}

/// Encodes one packet (header, body, CRC). Data packets need 1..=16 samples.
pub fn encode_packet(packet: &OpenPacket) -> Result<Vec<u8>, ProtocolError> {
    let (h, seq, t_us) = match packet {
        OpenPacket::Data {
            format,
            seq,
            t_us,
            samples,
        } => {
            let n = samples.len();
            if !(1..=MAX_SAMPLES_PER_PACKET).contains(&n) {
                return Err(ProtocolError::InvalidArgument {
                    family: Family::OpenSensor,
                    what: format!("a data packet holds 1 to 16 samples, not {n}"),
                });
            }
            (
                (VERSION << 6) | (format.code() << 4) | (n as u8 - 1),
                seq,
                t_us,
            )
        }
        OpenPacket::Status { seq, t_us, .. } => ((VERSION << 6) | (TYPE_STATUS << 4), seq, t_us),
    };
    let mut out = vec![h];
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&t_us.to_le_bytes());
    match packet {
        OpenPacket::Data {
            format, samples, ..
        } => {
            for s in samples {
                let mut words: Vec<i16> = s.acc.iter().chain(&s.gyr).copied().collect();
                match format {
                    DataFormat::Imu6 => {}
                    DataFormat::Imu9 => words.extend_from_slice(&s.mag),
                    DataFormat::Imu6Quat => words.extend_from_slice(&s.quat),
                }
                for w in words {
                    out.extend_from_slice(&w.to_le_bytes());
                }
            }
        }
        OpenPacket::Status { status, .. } => {
            out.extend_from_slice(&status.sample_period_us.to_le_bytes());
            out.push(status.flags);
            out.push(status.battery_pct);
            out.extend_from_slice(&status.dropped_total.to_le_bytes());
            out.push(status.format.code());
            out.push(status.batch);
            out.extend_from_slice(&status.temperature_cdeg.to_le_bytes());
        }
    }
    out.push(crc8(&out));
    Ok(out)
}

/// Stateful packet builder for the simulator and firmware-side tests: keeps the sample counter.
#[derive(Debug, Clone)]
pub struct OpenEncoder {
    format: DataFormat,
    next_seq: u16,
}

impl OpenEncoder {
    /// An encoder for `format` whose first sample carries counter `first_seq`.
    pub fn new(format: DataFormat, first_seq: u16) -> Self {
        OpenEncoder {
            format,
            next_seq: first_seq,
        }
    }

    /// Counter the next sample will carry.
    pub fn next_seq(&self) -> u16 {
        self.next_seq
    }

    /// Encodes 1..=16 samples whose first was measured at device time `t_first_us`, and advances
    /// the counter by the number of samples.
    pub fn encode(
        &mut self,
        t_first_us: u32,
        samples: &[DecodedSample],
    ) -> Result<Vec<u8>, ProtocolError> {
        let bytes = encode_packet(&OpenPacket::Data {
            format: self.format,
            seq: self.next_seq,
            t_us: t_first_us,
            samples: samples.iter().map(RawSample::from_si).collect(),
        })?;
        self.next_seq = self.next_seq.wrapping_add(samples.len() as u16);
        Ok(bytes)
    }

    /// Encodes a status packet at device time `t_us`.
    pub fn status(&self, t_us: u32, status: &OpenStatus) -> Vec<u8> {
        let packet = OpenPacket::Status {
            seq: self.next_seq,
            t_us,
            status: *status,
        };
        // Status packets have no sample count to get wrong.
        encode_packet(&packet).unwrap_or_default()
    }

    /// Skips `n` samples (simulating loss on the device or the link).
    pub fn skip(&mut self, n: u16) {
        self.next_seq = self.next_seq.wrapping_add(n);
    }
}

/// The Info characteristic (read once after connecting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInfo {
    /// Protocol version (1).
    pub version: u8,
    /// Supported data formats, bit `code` set for each.
    pub formats_mask: u8,
    /// Lowest supported rate, Hz.
    pub min_rate_hz: u16,
    /// Highest supported rate, Hz.
    pub max_rate_hz: u16,
    /// Most samples per packet the firmware will batch.
    pub max_batch: u8,
    /// Accelerometer full scale, g.
    pub acc_range_g: u8,
    /// Gyroscope full scale, °/s.
    pub gyr_range_dps: u16,
    /// Model name, at most 10 bytes of UTF-8.
    pub model: String,
}

impl OpenInfo {
    /// Encodes the 20-byte Info value (model truncated to 10 bytes at a character boundary).
    pub fn encode(&self) -> [u8; INFO_LEN] {
        let mut b = [0u8; INFO_LEN];
        b[0] = self.version;
        b[1] = self.formats_mask;
        b[2..4].copy_from_slice(&self.min_rate_hz.to_le_bytes());
        b[4..6].copy_from_slice(&self.max_rate_hz.to_le_bytes());
        b[6] = self.max_batch;
        b[7] = self.acc_range_g;
        b[8..10].copy_from_slice(&self.gyr_range_dps.to_le_bytes());
        let mut end = self.model.len().min(10);
        while !self.model.is_char_boundary(end) {
            end -= 1;
        }
        b[10..10 + end].copy_from_slice(&self.model.as_bytes()[..end]);
        b
    }

    /// Decodes the Info value.
    pub fn parse(b: &[u8]) -> Result<OpenInfo, ProtocolError> {
        if b.len() < INFO_LEN {
            return Err(ProtocolError::Truncated {
                family: Family::OpenSensor,
                what: "Info value",
                offset: 0,
                needed: INFO_LEN,
                available: b.len(),
            });
        }
        if b[0] != VERSION {
            return Err(err(0, "protocol version 1", format!("{}", b[0])));
        }
        let model_bytes = &b[10..INFO_LEN];
        let end = model_bytes.iter().position(|&c| c == 0).unwrap_or(10);
        Ok(OpenInfo {
            version: b[0],
            formats_mask: b[1],
            min_rate_hz: u16::from_le_bytes([b[2], b[3]]),
            max_rate_hz: u16::from_le_bytes([b[4], b[5]]),
            max_batch: b[6],
            acc_range_g: b[7],
            gyr_range_dps: u16::from_le_bytes([b[8], b[9]]),
            model: String::from_utf8_lossy(&model_bytes[..end]).into_owned(),
        })
    }
}

/// A write to the Control characteristic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlCommand {
    /// Start streaming data packets.
    Start,
    /// Stop streaming.
    Stop,
    /// Set the sample rate, Hz (the device picks its nearest rate and reports the period).
    SetRate(u16),
    /// Set the data format.
    SetFormat(DataFormat),
    /// Set the samples per packet, 1..=16 (the device lowers it to fit the MTU).
    SetBatch(u8),
    /// Ask for a status packet.
    RequestStatus,
}

impl ControlCommand {
    /// Encodes the command.
    pub fn encode(self) -> Vec<u8> {
        match self {
            ControlCommand::Start => vec![OP_START],
            ControlCommand::Stop => vec![OP_STOP],
            ControlCommand::SetRate(hz) => {
                let [lo, hi] = hz.to_le_bytes();
                vec![OP_SET_RATE, lo, hi]
            }
            ControlCommand::SetFormat(f) => vec![OP_SET_FORMAT, f.code()],
            ControlCommand::SetBatch(n) => vec![OP_SET_BATCH, n],
            ControlCommand::RequestStatus => vec![OP_REQUEST_STATUS],
        }
    }

    /// Decodes a Control write (what the firmware does), naming the offending byte on error.
    pub fn parse(b: &[u8]) -> Result<ControlCommand, ProtocolError> {
        let truncated = |needed| ProtocolError::Truncated {
            family: Family::OpenSensor,
            what: "control command",
            offset: 0,
            needed,
            available: b.len(),
        };
        let cmd = match *b {
            [OP_START] => ControlCommand::Start,
            [OP_STOP] => ControlCommand::Stop,
            [OP_SET_RATE, lo, hi] => {
                let hz = u16::from_le_bytes([lo, hi]);
                if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&u32::from(hz)) {
                    return Err(err(1, "a rate of 1 to 1000 Hz", format!("{hz}")));
                }
                ControlCommand::SetRate(hz)
            }
            [OP_SET_RATE, ..] => return Err(truncated(3)),
            [OP_SET_FORMAT, f] => ControlCommand::SetFormat(
                DataFormat::from_code(f)
                    .ok_or_else(|| err(1, "a data format code 0, 1 or 2", format!("{f}")))?,
            ),
            [OP_SET_BATCH, n] if (1..=MAX_SAMPLES_PER_PACKET as u8).contains(&n) => {
                ControlCommand::SetBatch(n)
            }
            [OP_SET_BATCH, n] => return Err(err(1, "a batch of 1 to 16 samples", format!("{n}"))),
            [OP_REQUEST_STATUS] => ControlCommand::RequestStatus,
            [] => return Err(truncated(1)),
            [op, ..] => {
                return Err(err(
                    0,
                    "an opcode 0x01..=0x06 with its arguments",
                    format!("0x{op:02x} in a {}-byte write", b.len()),
                ));
            }
        };
        Ok(cmd)
    }
}

/// The rate write for `rate_hz` (1..=1000).
pub fn rate_command(rate_hz: u32) -> Result<Vec<u8>, ProtocolError> {
    if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&rate_hz) {
        return Err(ProtocolError::InvalidArgument {
            family: Family::OpenSensor,
            what: format!("unsupported rate {rate_hz} Hz (supported: 1 to 1000)"),
        });
    }
    Ok(ControlCommand::SetRate(rate_hz as u16).encode())
}

/// The writes that start streaming at `rate_hz`: set rate, then start.
pub fn start_streaming_command(rate_hz: u32) -> Result<Vec<Vec<u8>>, ProtocolError> {
    Ok(vec![rate_command(rate_hz)?, ControlCommand::Start.encode()])
}

/// The start/stop sequence: enable notifications on Data, then format, batch, rate, start on
/// Control; stop with STOP.
pub fn stream_setup(
    rate_hz: u32,
    format: DataFormat,
    batch: u8,
) -> Result<StreamSetup, ProtocolError> {
    if !(1..=MAX_SAMPLES_PER_PACKET as u8).contains(&batch) {
        return Err(ProtocolError::InvalidArgument {
            family: Family::OpenSensor,
            what: format!("batch must be 1 to 16 samples per packet, not {batch}"),
        });
    }
    let write = |bytes| GattWrite {
        char_uuid: CONTROL_CHAR_UUID,
        bytes,
        with_response: true,
        delay_after_ms: 0,
    };
    let mut after = vec![
        write(ControlCommand::SetFormat(format).encode()),
        write(ControlCommand::SetBatch(batch).encode()),
    ];
    after.extend(start_streaming_command(rate_hz)?.into_iter().map(write));
    Ok(StreamSetup {
        family: Family::OpenSensor,
        service_uuid: SERVICE_UUID,
        notify_char: DATA_CHAR_UUID,
        before_subscribe: Vec::new(),
        after_subscribe: after,
        stop: vec![write(ControlCommand::Stop.encode())],
    })
}

/// Decoder configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenConfig {
    /// Sample period assumed until a status packet or a rate write says otherwise, µs.
    pub sample_period_us: u32,
}

impl Default for OpenConfig {
    fn default() -> Self {
        OpenConfig {
            sample_period_us: DEFAULT_SAMPLE_PERIOD_US,
        }
    }
}

/// Byte-stream decoder: finds packets by header and CRC, skips garbage, follows status packets.
///
/// Sample `i` of a packet gets counter `seq + i` (mod 2^16) and device time
/// `t_us + i × period`, with the period from the latest status packet (or rate write). The µs
/// clock is unwrapped across its 2^32 wrap.
#[derive(Debug, Clone)]
pub struct OpenDecoder {
    buf: Vec<u8>,
    sample_period_us: u32,
    clock: WrapUnwrapper,
    last_status: Option<OpenStatus>,
    stats: DecoderStats,
}

impl OpenDecoder {
    /// A decoder for `config`.
    pub fn new(config: OpenConfig) -> Self {
        OpenDecoder {
            buf: Vec::new(),
            sample_period_us: config.sample_period_us,
            clock: WrapUnwrapper::new(32),
            last_status: None,
            stats: DecoderStats::default(),
        }
    }

    /// The most recent status packet.
    pub fn last_status(&self) -> Option<OpenStatus> {
        self.last_status
    }

    /// The sample period in use, µs.
    pub fn sample_period_us(&self) -> u32 {
        self.sample_period_us
    }

    fn accept(&mut self, packet: OpenPacket, out: &mut Vec<DecodedSample>) {
        self.stats.packets += 1;
        match packet {
            OpenPacket::Status { status, .. } => {
                if status.sample_period_us > 0 {
                    self.sample_period_us = status.sample_period_us;
                }
                self.last_status = Some(status);
            }
            OpenPacket::Data {
                format,
                seq,
                t_us,
                samples,
            } => {
                let t0 = self.clock.unwrap(t_us);
                for (i, raw) in samples.iter().enumerate() {
                    let mut s = raw.to_si(format);
                    let t = t0 + i as u64 * u64::from(self.sample_period_us);
                    s.device_time_s = Some(t as f64 / 1e6);
                    s.seq = Some(u32::from(seq.wrapping_add(i as u16)));
                    out.push(s);
                }
                self.stats.samples += samples.len() as u64;
            }
        }
    }
}

impl OpenDecoder {
    /// Decodes what the buffer holds. A candidate header whose packet is not complete yet stops
    /// the scan (more bytes may complete it) unless `at_end`, when it is skipped as garbage.
    fn scan(&mut self, at_end: bool, out: &mut Vec<DecodedSample>) -> Result<(), ProtocolError> {
        let mut first_error = None;
        let mut pos = 0;
        while pos < self.buf.len() {
            let rest = &self.buf[pos..];
            let len = match packet_len(rest[0]) {
                Ok(len) => len,
                Err(e) => {
                    first_error.get_or_insert(e);
                    self.stats.bytes_skipped += 1;
                    pos += 1;
                    continue;
                }
            };
            if rest.len() < len {
                if !at_end {
                    break; // wait for the rest of the packet
                }
                first_error.get_or_insert(ProtocolError::Truncated {
                    family: Family::OpenSensor,
                    what: "packet at the end of the stream",
                    offset: 0,
                    needed: len,
                    available: rest.len(),
                });
                self.stats.bytes_skipped += 1;
                pos += 1;
                continue;
            }
            match parse_packet(&rest[..len]) {
                Ok(packet) => {
                    self.accept(packet, out);
                    pos += len;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                    self.stats.bytes_skipped += 1;
                    pos += 1;
                }
            }
        }
        self.buf.drain(..pos);
        match first_error {
            Some(e) => {
                self.stats.errors += 1;
                Err(e)
            }
            None => Ok(()),
        }
    }
}

impl Decoder for OpenDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<DecodedSample>) -> Result<(), ProtocolError> {
        self.stats.pushes += 1;
        self.buf.extend_from_slice(bytes);
        self.scan(false, out)
    }

    fn flush(&mut self, out: &mut Vec<DecodedSample>) -> Result<(), ProtocolError> {
        self.scan(true, out)
    }

    fn family(&self) -> Family {
        Family::OpenSensor
    }

    fn observe_write(&mut self, bytes: &[u8]) {
        if let Ok(ControlCommand::SetRate(hz)) = ControlCommand::parse(bytes) {
            self.sample_period_us = (1_000_000 / u32::from(hz.max(1))).max(1);
        }
    }

    fn reset(&mut self) {
        self.buf.clear();
    }

    fn stats(&self) -> DecoderStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{SeqCheck, SeqTracker, from_hex, to_hex};

    fn sample(k: f64) -> DecodedSample {
        DecodedSample::new(
            Vector3::new(0.1 * k, -9.80665, 1.25),
            Vector3::new(0.5, -0.25 * k, 0.001),
        )
    }

    #[test]
    fn crc8_check_value() {
        // CRC-8/SMBUS catalogue check value.
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc8(&[]), 0);
    }

    #[test]
    fn golden_imu6_packet_is_20_bytes() {
        // The worked example of firmware-protocol/open-sensor.md §5: seq 258, t = 1 000 000 µs,
        // acc (0, 0, 9.80665) m/s², gyro (0.1, −0.2, 0) rad/s.
        let mut s = DecodedSample::new(
            Vector3::new(0.0, 0.0, 9.80665),
            Vector3::new(0.1, -0.2, 0.0),
        );
        s.device_time_s = None;
        let mut enc = OpenEncoder::new(DataFormat::Imu6, 258);
        let bytes = enc.encode(1_000_000, &[s]).unwrap();
        assert_eq!(bytes.len(), 20);
        assert_eq!(to_hex(&bytes), "40020140420f0000000000a907640038ff000025");
        assert_eq!(enc.next_seq(), 259);
        let back = parse_packet(&bytes).unwrap();
        let OpenPacket::Data {
            samples,
            seq,
            t_us,
            format,
        } = back
        else {
            panic!("not a data packet")
        };
        assert_eq!((format, seq, t_us), (DataFormat::Imu6, 258, 1_000_000));
        assert_eq!(samples[0].acc, [0, 0, 1961]);
        assert_eq!(samples[0].gyr, [100, -200, 0]);
    }

    #[test]
    fn golden_batched_packet_across_both_wraps() {
        // firmware-protocol/open-sensor.md §9, example 2: two samples, counter 65535 then 0,
        // t = 4 294 967 000 µs, period 5000 µs, so the second sample is past the u32 wrap.
        let bytes = from_hex(
            "41 ff ff d8 fe ff ff 00 00 00 00 a9 07 00 00 00 00 00 00 \
             64 00 00 00 a9 07 00 00 00 00 e8 03 22",
        )
        .unwrap();
        assert_eq!(bytes.len(), 32);
        let mut dec = OpenDecoder::new(OpenConfig {
            sample_period_us: 5000,
        });
        let mut out = Vec::new();
        dec.push(&bytes, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].seq, Some(65535));
        assert_eq!(out[1].seq, Some(0));
        assert_eq!(
            out[0].acc_m_s2,
            Vector3::new(0.0, 0.0, 1961.0 * ACC_LSB_M_S2)
        );
        assert_eq!(out[1].acc_m_s2.x, 0.5);
        assert_eq!(out[1].gyr_rad_s.z, 1.0);
        assert_eq!(out[0].device_time_s, Some(4_294_967_000.0 / 1e6));
        assert_eq!(out[1].device_time_s, Some(4_294_972_000.0 / 1e6));
        // The encoder produces the same bytes.
        let mut enc = OpenEncoder::new(DataFormat::Imu6, 65535);
        let again = enc.encode(4_294_967_000, &out).unwrap();
        assert_eq!(again, bytes);
    }

    #[test]
    fn golden_status_packet() {
        let status = OpenStatus {
            sample_period_us: 5000,
            flags: status_flags::STREAMING,
            battery_pct: 87,
            dropped_total: 0,
            format: DataFormat::Imu6,
            batch: 4,
            temperature_cdeg: 3150,
        };
        let enc = OpenEncoder::new(DataFormat::Imu6, 7);
        let bytes = enc.status(42, &status);
        assert_eq!(bytes.len(), 20);
        assert_eq!(to_hex(&bytes), "7007002a000000881300000157000000044e0ca2");
        assert_eq!(
            parse_packet(&bytes).unwrap(),
            OpenPacket::Status {
                seq: 7,
                t_us: 42,
                status
            }
        );
    }

    #[test]
    fn round_trip_all_formats_with_batches() {
        for format in [DataFormat::Imu6, DataFormat::Imu9, DataFormat::Imu6Quat] {
            let samples: Vec<DecodedSample> = (0..5)
                .map(|k| {
                    let mut s = sample(k as f64);
                    if format == DataFormat::Imu9 {
                        s.mag_ut = Some(Vector3::new(22.0, -4.5, 41.3));
                    }
                    if format == DataFormat::Imu6Quat {
                        s.quat = Some(Quaternion::new(0.5, -0.5, 0.5, 0.5));
                    }
                    s
                })
                .collect();
            let mut enc = OpenEncoder::new(format, 65534);
            let mut dec = OpenDecoder::new(OpenConfig::default());
            let mut out = Vec::new();
            dec.push(
                &enc.status(
                    0,
                    &OpenStatus {
                        sample_period_us: 5000,
                        format,
                        ..Default::default()
                    },
                ),
                &mut out,
            )
            .unwrap();
            let packet = enc.encode(1_000, &samples).unwrap();
            assert_eq!(packet.len(), HEADER_LEN + 5 * format.sample_len() + CRC_LEN);
            dec.push(&packet, &mut out).unwrap();
            assert_eq!(out.len(), 5);
            for (k, (got, want)) in out.iter().zip(&samples).enumerate() {
                assert!((got.acc_m_s2 - want.acc_m_s2).amax() <= ACC_LSB_M_S2 / 2.0);
                assert!((got.gyr_rad_s - want.gyr_rad_s).amax() <= GYR_LSB_RAD_S / 2.0);
                // Counter wraps 65534, 65535, 0, 1, 2.
                assert_eq!(got.seq, Some(u32::from(65534u16.wrapping_add(k as u16))));
                let t = got.device_time_s.unwrap();
                assert!((t - (0.001 + 0.005 * k as f64)).abs() < 1e-12);
                match format {
                    DataFormat::Imu9 => {
                        assert!((got.mag_ut.unwrap() - want.mag_ut.unwrap()).amax() <= 0.05)
                    }
                    DataFormat::Imu6Quat => assert_eq!(got.quat, want.quat),
                    DataFormat::Imu6 => assert_eq!((got.mag_ut, got.quat), (None, None)),
                }
            }
        }
    }

    #[test]
    fn garbage_and_corruption_are_skipped() {
        let mut enc = OpenEncoder::new(DataFormat::Imu6, 0);
        let a = enc.encode(0, &[sample(1.0)]).unwrap();
        let b = enc.encode(10_000, &[sample(2.0)]).unwrap();
        let mut corrupt = enc.encode(20_000, &[sample(3.0)]).unwrap();
        corrupt[10] ^= 0x01;
        let c = enc.encode(30_000, &[sample(4.0)]).unwrap();
        let mut stream = vec![0x00, 0xff, 0x41]; // junk, including a plausible header byte
        stream.extend_from_slice(&a);
        stream.extend_from_slice(&b);
        stream.extend_from_slice(&corrupt);
        stream.extend_from_slice(&c);
        let mut dec = OpenDecoder::new(OpenConfig::default());
        let mut out = Vec::new();
        let e = dec.push(&stream, &mut out).unwrap_err();
        assert!(
            e.to_string()
                .contains("byte offset 0: expected a version-1 packet header"),
            "{e}"
        );
        // Inside the corrupt packet a byte that looks like a header claims a longer packet than
        // the bytes present, so the scan waits for more data; at the end of the stream `flush`
        // gives up on it and finds the last packet.
        let seqs: Vec<_> = out.iter().map(|s| s.seq.unwrap()).collect();
        assert_eq!(seqs, vec![0, 1]);
        assert!(dec.flush(&mut out).is_err());
        let seqs: Vec<_> = out.iter().map(|s| s.seq.unwrap()).collect();
        assert_eq!(seqs, vec![0, 1, 3]);
        let mut tracker = SeqTracker::new(16);
        let checks: Vec<_> = seqs.iter().map(|&s| tracker.observe(s)).collect();
        assert_eq!(checks[2], SeqCheck::Gap { missing: 1 });
        assert!(dec.stats().bytes_skipped >= 3 + 20);
    }

    #[test]
    fn checksum_error_names_the_offset() {
        let mut p = OpenEncoder::new(DataFormat::Imu6, 0)
            .encode(0, &[sample(1.0)])
            .unwrap();
        p[19] ^= 0xFF;
        let e = parse_packet(&p).unwrap_err();
        assert!(
            matches!(e, ProtocolError::Checksum { offset: 19, .. }),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("open: byte offset 19: checksum expected 0x")
        );
    }

    #[test]
    fn status_and_rate_writes_set_the_period() {
        let mut dec = OpenDecoder::new(OpenConfig::default());
        assert_eq!(dec.sample_period_us(), 10_000);
        dec.observe_write(&rate_command(200).unwrap());
        assert_eq!(dec.sample_period_us(), 5_000);
        let enc = OpenEncoder::new(DataFormat::Imu6, 0);
        let mut out = Vec::new();
        dec.push(
            &enc.status(
                0,
                &OpenStatus {
                    sample_period_us: 4_808,
                    ..Default::default()
                },
            ),
            &mut out,
        )
        .unwrap();
        assert_eq!(dec.sample_period_us(), 4_808);
        assert_eq!(dec.last_status().unwrap().sample_period_us, 4_808);
    }

    #[test]
    fn control_commands_round_trip_and_reject_bad_values() {
        for c in [
            ControlCommand::Start,
            ControlCommand::Stop,
            ControlCommand::SetRate(208),
            ControlCommand::SetFormat(DataFormat::Imu9),
            ControlCommand::SetBatch(4),
            ControlCommand::RequestStatus,
        ] {
            assert_eq!(ControlCommand::parse(&c.encode()), Ok(c));
        }
        assert_eq!(rate_command(100).unwrap(), vec![0x03, 0x64, 0x00]);
        assert_eq!(
            start_streaming_command(50).unwrap(),
            vec![vec![0x03, 0x32, 0x00], vec![0x01]]
        );
        assert!(rate_command(0).is_err());
        assert!(rate_command(5000).is_err());
        let e = ControlCommand::parse(&[0x05, 17]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "open: byte offset 1: expected a batch of 1 to 16 samples, found 17"
        );
        assert!(ControlCommand::parse(&[0x03, 0x00]).is_err());
        assert!(ControlCommand::parse(&[0x03, 0x00, 0x00]).is_err());
        assert!(ControlCommand::parse(&[0x09]).is_err());
        assert!(ControlCommand::parse(&[]).is_err());
        let s = stream_setup(100, DataFormat::Imu6, 4).unwrap();
        let writes: Vec<_> = s.after_subscribe.iter().map(|w| w.bytes.clone()).collect();
        assert_eq!(
            writes,
            vec![
                vec![0x04, 0x00],
                vec![0x05, 0x04],
                vec![0x03, 0x64, 0x00],
                vec![0x01]
            ]
        );
        assert_eq!(s.stop[0].bytes, vec![0x02]);
        assert!(stream_setup(100, DataFormat::Imu6, 0).is_err());
    }

    #[test]
    fn info_round_trip() {
        let info = OpenInfo {
            version: 1,
            formats_mask: 0b011,
            min_rate_hz: 10,
            max_rate_hz: 400,
            max_batch: 8,
            acc_range_g: 16,
            gyr_range_dps: 2000,
            model: "ESP32C3-BMI270".to_string(),
        };
        let b = info.encode();
        let back = OpenInfo::parse(&b).unwrap();
        assert_eq!(back.model, "ESP32C3-BM");
        assert_eq!(back.gyr_range_dps, 2000);
        assert_eq!(from_hex(&to_hex(&b)).unwrap(), b.to_vec());
        assert!(OpenInfo::parse(&b[..19]).is_err());
        let mut v2 = b;
        v2[0] = 2;
        assert!(OpenInfo::parse(&v2).is_err());
    }

    #[test]
    fn encoder_rejects_empty_and_oversized_batches() {
        let mut enc = OpenEncoder::new(DataFormat::Imu6, 0);
        assert!(enc.encode(0, &[]).is_err());
        assert!(enc.encode(0, &vec![sample(0.0); 17]).is_err());
        assert_eq!(enc.next_seq(), 0);
        assert_eq!(enc.encode(0, &vec![sample(0.0); 16]).unwrap().len(), 200);
    }
}
