//! Movella (formerly Xsens) DOT: measurement payloads with a microsecond device clock.
//!
//! Streaming is started by writing `[0x01, 1, mode]` to the measurement control characteristic
//! and enabling notifications on the short, medium or long payload characteristic that fits the
//! payload mode. Every notification is one payload: a `u32` µs timestamp followed by the mode's
//! fields (little-endian `f32` in SI units except angular rate in °/s and the magnetic field as
//! `i16` fixed point in arbitrary units), padded with zeros to the characteristic length. The
//! project streams "rate quantities" (acceleration and angular rate). Layout and sources:
//! `firmware-protocol/movella-dot.md`.

use super::le::{f32_at, f32x3_at, i16x3_at, u16_at, u32_at};
use super::{
    DecodedSample, Decoder, DecoderStats, Family, GattWrite, ProtocolError, StreamSetup,
    WrapUnwrapper, finite_vec3,
};
use nalgebra::{Quaternion, Vector3};

/// Configuration service.
pub const CONFIG_SERVICE_UUID: &str = "15171000-4947-11e9-8646-d663bd873d93";
/// Device info characteristic (read, 34 bytes).
pub const DEVICE_INFO_CHAR_UUID: &str = "15171001-4947-11e9-8646-d663bd873d93";
/// Device control characteristic (read/write, 32 bytes; holds the output rate).
pub const DEVICE_CONTROL_CHAR_UUID: &str = "15171002-4947-11e9-8646-d663bd873d93";
/// Device report characteristic (notify).
pub const DEVICE_REPORT_CHAR_UUID: &str = "15171004-4947-11e9-8646-d663bd873d93";
/// Measurement service.
pub const MEASUREMENT_SERVICE_UUID: &str = "15172000-4947-11e9-8646-d663bd873d93";
/// Measurement control characteristic (read/write, 3 bytes).
pub const CONTROL_CHAR_UUID: &str = "15172001-4947-11e9-8646-d663bd873d93";
/// Long payload characteristic (notify, 63 bytes).
pub const LONG_PAYLOAD_CHAR_UUID: &str = "15172002-4947-11e9-8646-d663bd873d93";
/// Medium payload characteristic (notify, 40 bytes).
pub const MEDIUM_PAYLOAD_CHAR_UUID: &str = "15172003-4947-11e9-8646-d663bd873d93";
/// Short payload characteristic (notify, 20 bytes).
pub const SHORT_PAYLOAD_CHAR_UUID: &str = "15172004-4947-11e9-8646-d663bd873d93";
/// Orientation (heading) reset control characteristic (read/write, 2 bytes).
pub const ORIENTATION_RESET_CHAR_UUID: &str = "15172006-4947-11e9-8646-d663bd873d93";
/// Battery service.
pub const BATTERY_SERVICE_UUID: &str = "15173000-4947-11e9-8646-d663bd873d93";
/// Battery characteristic (read/notify: level %, charging flag).
pub const BATTERY_CHAR_UUID: &str = "15173001-4947-11e9-8646-d663bd873d93";

/// Output rates the DOT accepts while streaming, Hz.
pub const SUPPORTED_RATES_HZ: [u32; 8] = [1, 4, 10, 12, 15, 20, 30, 60];
/// Length of the device control structure, bytes.
pub const DEVICE_CONTROL_LEN: usize = 32;
/// Bit of the device control "visit index" that selects the output rate field.
pub const VISIT_OUTPUT_RATE: u8 = 0x10;
/// Offset of the `u16` output rate in the device control structure.
pub const OUTPUT_RATE_OFFSET: usize = 24;
/// Scale of the fixed-point magnetic field (arbitrary units): raw / 2^12.
pub const MAG_SCALE: f64 = 1.0 / 4096.0;

/// Whether a UUID belongs to the DOT's vendor base (`1517xxxx-4947-11e9-8646-d663bd873d93`).
pub fn is_dot_uuid(uuid: &str) -> bool {
    let u = uuid.trim().to_ascii_lowercase();
    u.len() == 36 && u.starts_with("1517") && u.ends_with("-4947-11e9-8646-d663bd873d93")
}

/// One field of a payload, in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Quat,
    Euler,
    FreeAcc,
    Acc,
    Gyr,
    Mag,
    Dq,
    Dv,
    Status,
}

impl Field {
    fn len(self) -> usize {
        match self {
            Field::Quat | Field::Dq => 16,
            Field::Euler | Field::FreeAcc | Field::Acc | Field::Gyr | Field::Dv => 12,
            Field::Mag => 6,
            Field::Status => 4, // u16 status, u8 acc clip count, u8 gyro clip count
        }
    }
}

/// Measurement payload modes that the BLE API streams (the SDK-only modes are left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadMode {
    /// 2: quaternion, free acceleration, status.
    ExtendedQuaternion,
    /// 3: quaternion, free acceleration.
    CompleteQuaternion,
    /// 4: Euler angles.
    OrientationEuler,
    /// 5: quaternion.
    OrientationQuaternion,
    /// 6: free acceleration.
    FreeAcceleration,
    /// 7: Euler angles, free acceleration, status.
    ExtendedEuler,
    /// 16: Euler angles, free acceleration.
    CompleteEuler,
    /// 18: orientation and velocity increments, magnetic field.
    DeltaQuantitiesWithMag,
    /// 19: orientation and velocity increments.
    DeltaQuantities,
    /// 20: acceleration, angular rate, magnetic field (the official example server's mode).
    RateQuantitiesWithMag,
    /// 21: acceleration, angular rate.
    RateQuantities,
    /// 22: Euler angles, free acceleration, angular rate.
    CustomMode1,
    /// 23: Euler angles, free acceleration, magnetic field.
    CustomMode2,
    /// 24: quaternion, angular rate.
    CustomMode3,
    /// 26: quaternion, acceleration, angular rate.
    CustomMode5,
}

impl PayloadMode {
    /// Every supported mode.
    pub const ALL: [PayloadMode; 15] = [
        PayloadMode::ExtendedQuaternion,
        PayloadMode::CompleteQuaternion,
        PayloadMode::OrientationEuler,
        PayloadMode::OrientationQuaternion,
        PayloadMode::FreeAcceleration,
        PayloadMode::ExtendedEuler,
        PayloadMode::CompleteEuler,
        PayloadMode::DeltaQuantitiesWithMag,
        PayloadMode::DeltaQuantities,
        PayloadMode::RateQuantitiesWithMag,
        PayloadMode::RateQuantities,
        PayloadMode::CustomMode1,
        PayloadMode::CustomMode2,
        PayloadMode::CustomMode3,
        PayloadMode::CustomMode5,
    ];

    /// The control byte for this mode.
    pub fn code(self) -> u8 {
        match self {
            PayloadMode::ExtendedQuaternion => 2,
            PayloadMode::CompleteQuaternion => 3,
            PayloadMode::OrientationEuler => 4,
            PayloadMode::OrientationQuaternion => 5,
            PayloadMode::FreeAcceleration => 6,
            PayloadMode::ExtendedEuler => 7,
            PayloadMode::CompleteEuler => 16,
            PayloadMode::DeltaQuantitiesWithMag => 18,
            PayloadMode::DeltaQuantities => 19,
            PayloadMode::RateQuantitiesWithMag => 20,
            PayloadMode::RateQuantities => 21,
            PayloadMode::CustomMode1 => 22,
            PayloadMode::CustomMode2 => 23,
            PayloadMode::CustomMode3 => 24,
            PayloadMode::CustomMode5 => 26,
        }
    }

    /// The mode for a control byte.
    pub fn from_code(code: u8) -> Option<PayloadMode> {
        PayloadMode::ALL.into_iter().find(|m| m.code() == code)
    }

    fn fields(self) -> &'static [Field] {
        use Field::*;
        match self {
            PayloadMode::ExtendedQuaternion => &[Quat, FreeAcc, Status],
            PayloadMode::CompleteQuaternion => &[Quat, FreeAcc],
            PayloadMode::OrientationEuler => &[Euler],
            PayloadMode::OrientationQuaternion => &[Quat],
            PayloadMode::FreeAcceleration => &[FreeAcc],
            PayloadMode::ExtendedEuler => &[Euler, FreeAcc, Status],
            PayloadMode::CompleteEuler => &[Euler, FreeAcc],
            PayloadMode::DeltaQuantitiesWithMag => &[Dq, Dv, Mag],
            PayloadMode::DeltaQuantities => &[Dq, Dv],
            PayloadMode::RateQuantitiesWithMag => &[Acc, Gyr, Mag],
            PayloadMode::RateQuantities => &[Acc, Gyr],
            PayloadMode::CustomMode1 => &[Euler, FreeAcc, Gyr],
            PayloadMode::CustomMode2 => &[Euler, FreeAcc, Mag],
            PayloadMode::CustomMode3 => &[Quat, Gyr],
            PayloadMode::CustomMode5 => &[Quat, Acc, Gyr],
        }
    }

    /// Payload length in bytes, timestamp included.
    pub fn payload_len(self) -> usize {
        4 + self.fields().iter().map(|f| f.len()).sum::<usize>()
    }

    /// Whether the payload carries both acceleration (specific force) and angular rate, which the
    /// pipeline needs; only these modes produce [`DecodedSample`]s.
    pub fn carries_imu(self) -> bool {
        let f = self.fields();
        f.contains(&Field::Acc) && f.contains(&Field::Gyr)
    }

    /// The payload characteristic that carries this mode (short ≤ 20 B, medium ≤ 40 B, long).
    pub fn notify_char(self) -> &'static str {
        match self.payload_len() {
            0..=20 => SHORT_PAYLOAD_CHAR_UUID,
            21..=40 => MEDIUM_PAYLOAD_CHAR_UUID,
            _ => LONG_PAYLOAD_CHAR_UUID,
        }
    }
}

/// Every field a payload can carry; those the mode lacks are `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DotPayload {
    /// Sensor clock, µs (wraps every 71.6 min).
    pub timestamp_us: u32,
    /// Orientation quaternion (w, x, y, z).
    pub quat: Option<Quaternion<f64>>,
    /// Euler angles x (roll), y (pitch), z (yaw), degrees.
    pub euler_deg: Option<Vector3<f64>>,
    /// Free acceleration (earth frame, gravity removed), m/s².
    pub free_acc_m_s2: Option<Vector3<f64>>,
    /// Specific force, sensor frame, m/s².
    pub acc_m_s2: Option<Vector3<f64>>,
    /// Angular rate, sensor frame, rad/s (sent in °/s).
    pub gyr_rad_s: Option<Vector3<f64>>,
    /// Magnetic field, arbitrary units (raw / 2^12).
    pub mag_au: Option<Vector3<f64>>,
    /// Orientation increment quaternion.
    pub dq: Option<Quaternion<f64>>,
    /// Velocity increment, m/s.
    pub dv_m_s: Option<Vector3<f64>>,
    /// Status word (clipping flags).
    pub status: Option<u16>,
    /// Accelerometer clip count.
    pub clip_count_acc: Option<u8>,
    /// Gyroscope clip count.
    pub clip_count_gyr: Option<u8>,
}

fn quat_at(b: &[u8], off: usize, what: &'static str) -> Result<Quaternion<f64>, ProtocolError> {
    let w = f32_at(b, off).unwrap_or(f32::NAN);
    let v = f32x3_at(b, off + 4).unwrap_or([f32::NAN; 3]);
    if !w.is_finite() {
        return Err(ProtocolError::NonFinite {
            family: Family::MovellaDot,
            offset: off,
            what,
        });
    }
    let v = finite_vec3(Family::MovellaDot, off + 4, what, v)?;
    Ok(Quaternion::new(f64::from(w), v.x, v.y, v.z))
}

/// Decodes one notification in `mode`. Trailing bytes past the mode's length (the zero padding
/// of the characteristic) are ignored.
pub fn parse_payload(mode: PayloadMode, bytes: &[u8]) -> Result<DotPayload, ProtocolError> {
    if bytes.len() < mode.payload_len() {
        return Err(ProtocolError::Truncated {
            family: Family::MovellaDot,
            what: "measurement payload",
            offset: 0,
            needed: mode.payload_len(),
            available: bytes.len(),
        });
    }
    let mut p = DotPayload {
        timestamp_us: u32_at(bytes, 0).unwrap_or_default(),
        ..Default::default()
    };
    let vec3 = |off: usize, what: &'static str| {
        finite_vec3(
            Family::MovellaDot,
            off,
            what,
            f32x3_at(bytes, off).unwrap_or([f32::NAN; 3]),
        )
    };
    let mut off = 4;
    for field in mode.fields() {
        match field {
            Field::Quat => p.quat = Some(quat_at(bytes, off, "quaternion")?),
            Field::Dq => p.dq = Some(quat_at(bytes, off, "orientation increment")?),
            Field::Euler => p.euler_deg = Some(vec3(off, "Euler angles")?),
            Field::FreeAcc => p.free_acc_m_s2 = Some(vec3(off, "free acceleration")?),
            Field::Acc => p.acc_m_s2 = Some(vec3(off, "acceleration")?),
            Field::Gyr => p.gyr_rad_s = Some(vec3(off, "angular rate")?.map(f64::to_radians)),
            Field::Dv => p.dv_m_s = Some(vec3(off, "velocity increment")?),
            Field::Mag => {
                let m = i16x3_at(bytes, off).unwrap_or_default();
                p.mag_au = Some(Vector3::new(
                    f64::from(m[0]) * MAG_SCALE,
                    f64::from(m[1]) * MAG_SCALE,
                    f64::from(m[2]) * MAG_SCALE,
                ));
            }
            Field::Status => {
                p.status = u16_at(bytes, off);
                p.clip_count_acc = bytes.get(off + 2).copied();
                p.clip_count_gyr = bytes.get(off + 3).copied();
            }
        }
        off += field.len();
    }
    Ok(p)
}

/// Encodes a payload in `mode` (fields the payload lacks are sent as zeros), padded with zeros to
/// the length of the mode's characteristic. For the simulator and tests.
pub fn encode_payload(mode: PayloadMode, p: &DotPayload) -> Vec<u8> {
    fn f32s(out: &mut Vec<u8>, xs: &[f64]) {
        for x in xs {
            out.extend_from_slice(&(*x as f32).to_le_bytes());
        }
    }
    let quat = |q: &Option<Quaternion<f64>>| q.map(|q| [q.w, q.i, q.j, q.k]).unwrap_or([0.0; 4]);
    let v3 = |v: &Option<Vector3<f64>>| v.map(|v| [v.x, v.y, v.z]).unwrap_or([0.0; 3]);
    let mut out = p.timestamp_us.to_le_bytes().to_vec();
    for field in mode.fields() {
        match field {
            Field::Quat => f32s(&mut out, &quat(&p.quat)),
            Field::Dq => f32s(&mut out, &quat(&p.dq)),
            Field::Euler => f32s(&mut out, &v3(&p.euler_deg)),
            Field::FreeAcc => f32s(&mut out, &v3(&p.free_acc_m_s2)),
            Field::Acc => f32s(&mut out, &v3(&p.acc_m_s2)),
            Field::Gyr => f32s(&mut out, &v3(&p.gyr_rad_s.map(|g| g.map(f64::to_degrees)))),
            Field::Dv => f32s(&mut out, &v3(&p.dv_m_s)),
            Field::Mag => {
                for x in v3(&p.mag_au) {
                    let raw = super::witmotion::quantize_i16(x / MAG_SCALE);
                    out.extend_from_slice(&raw.to_le_bytes());
                }
            }
            Field::Status => {
                out.extend_from_slice(&p.status.unwrap_or(0).to_le_bytes());
                out.push(p.clip_count_acc.unwrap_or(0));
                out.push(p.clip_count_gyr.unwrap_or(0));
            }
        }
    }
    let padded = match mode.notify_char() {
        SHORT_PAYLOAD_CHAR_UUID => 20,
        MEDIUM_PAYLOAD_CHAR_UUID => 40,
        _ => 63,
    };
    out.resize(padded, 0);
    out
}

/// Measurement control write: `[0x01, start, mode]`.
pub fn measurement_control_command(start: bool, mode: PayloadMode) -> [u8; 3] {
    [0x01, u8::from(start), mode.code()]
}

/// Start streaming in `mode` (e.g. rate quantities with mag: `01 01 14`).
pub fn start_streaming_command(mode: PayloadMode) -> [u8; 3] {
    measurement_control_command(true, mode)
}

/// Stop streaming in `mode` (`01 00 mode`).
pub fn stop_streaming_command(mode: PayloadMode) -> [u8; 3] {
    measurement_control_command(false, mode)
}

/// Heading reset (write to the orientation reset characteristic during measurement).
pub const HEADING_RESET_COMMAND: [u8; 2] = [0x01, 0x00];
/// Heading revert to default.
pub const HEADING_REVERT_COMMAND: [u8; 2] = [0x07, 0x00];

/// Device control write that sets the output rate (only the output-rate bit of the visit index
/// is set, so the device ignores every other field). Pass the structure read from the device as
/// `current` to keep its other fields as they are (read-modify-write); otherwise they are zero.
/// The rate cannot change while measuring.
pub fn output_rate_command(
    rate_hz: u32,
    current: Option<&[u8]>,
) -> Result<[u8; DEVICE_CONTROL_LEN], ProtocolError> {
    if !SUPPORTED_RATES_HZ.contains(&rate_hz) {
        return Err(ProtocolError::InvalidArgument {
            family: Family::MovellaDot,
            what: format!(
                "unsupported output rate {rate_hz} Hz (supported: 1, 4, 10, 12, 15, 20, 30, 60)"
            ),
        });
    }
    let mut b = [0u8; DEVICE_CONTROL_LEN];
    if let Some(cur) = current {
        let n = cur.len().min(DEVICE_CONTROL_LEN);
        b[..n].copy_from_slice(&cur[..n]);
    }
    b[0] = VISIT_OUTPUT_RATE;
    // The rate list above is all < 2^16.
    let rate = u16::try_from(rate_hz).unwrap_or(60);
    b[OUTPUT_RATE_OFFSET..OUTPUT_RATE_OFFSET + 2].copy_from_slice(&rate.to_le_bytes());
    Ok(b)
}

/// The start/stop sequence: set the output rate, enable notifications on the mode's payload
/// characteristic, start measuring; stop measuring before disabling notifications.
pub fn stream_setup(mode: PayloadMode, rate_hz: u32) -> Result<StreamSetup, ProtocolError> {
    let write = |char_uuid, bytes: Vec<u8>| GattWrite {
        char_uuid,
        bytes,
        with_response: true,
        delay_after_ms: 0,
    };
    Ok(StreamSetup {
        family: Family::MovellaDot,
        service_uuid: MEASUREMENT_SERVICE_UUID,
        notify_char: mode.notify_char(),
        before_subscribe: vec![write(
            DEVICE_CONTROL_CHAR_UUID,
            output_rate_command(rate_hz, None)?.to_vec(),
        )],
        after_subscribe: vec![write(
            CONTROL_CHAR_UUID,
            start_streaming_command(mode).to_vec(),
        )],
        stop: vec![write(
            CONTROL_CHAR_UUID,
            stop_streaming_command(mode).to_vec(),
        )],
    })
}

/// Notification decoder for one payload mode.
///
/// Only modes with acceleration and angular rate ([`PayloadMode::carries_imu`]) emit samples;
/// other modes are parsed and kept as [`DotDecoder::last_payload`]. The magnetic field is in
/// arbitrary units, so `mag_ut` stays `None`. The µs clock is unwrapped across its 2^32 wrap.
#[derive(Debug, Clone)]
pub struct DotDecoder {
    mode: PayloadMode,
    clock: WrapUnwrapper,
    last_payload: Option<DotPayload>,
    stats: DecoderStats,
}

impl DotDecoder {
    /// A decoder for `mode`.
    pub fn new(mode: PayloadMode) -> Self {
        DotDecoder {
            mode,
            clock: WrapUnwrapper::new(32),
            last_payload: None,
            stats: DecoderStats::default(),
        }
    }

    /// The payload mode being decoded (updated by [`Decoder::observe_write`]).
    pub fn mode(&self) -> PayloadMode {
        self.mode
    }

    /// The most recent payload, whatever the mode.
    pub fn last_payload(&self) -> Option<&DotPayload> {
        self.last_payload.as_ref()
    }
}

impl Decoder for DotDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<DecodedSample>) -> Result<(), ProtocolError> {
        self.stats.pushes += 1;
        let p = match parse_payload(self.mode, bytes) {
            Ok(p) => p,
            Err(e) => {
                self.stats.errors += 1;
                self.stats.bytes_skipped += bytes.len() as u64;
                return Err(e);
            }
        };
        self.stats.packets += 1;
        let t_us = self.clock.unwrap(p.timestamp_us);
        if let (Some(acc), Some(gyr)) = (p.acc_m_s2, p.gyr_rad_s) {
            let mut s = DecodedSample::new(acc, gyr);
            s.device_time_s = Some(t_us as f64 / 1e6);
            s.quat = p.quat;
            out.push(s);
            self.stats.samples += 1;
        }
        self.last_payload = Some(p);
        Ok(())
    }

    fn family(&self) -> Family {
        Family::MovellaDot
    }

    fn observe_write(&mut self, bytes: &[u8]) {
        if let [0x01, 0x01, code] = *bytes
            && let Some(mode) = PayloadMode::from_code(code)
        {
            self.mode = mode;
        }
    }

    fn reset(&mut self) {}

    fn stats(&self) -> DecoderStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::from_hex;

    #[test]
    fn real_free_acceleration_notifications() {
        // Real capture, protobioengineering/xsens-dot-python-examples
        // `stream_free_acceleration_data.py` docstring (ble-sensors.md §5.3): short payload 0x2004
        // in mode 6, decoded there as [(1143080408, 3.009197, 5.223928, -2.3260102, 0)] and
        // [(1143097075, 2.947574, 5.1898937, -2.1416588, 0)]; Δt = 16.667 ms ⇒ 60 Hz.
        let a = from_hex("d8 05 22 44 af 96 40 40 6b 2a a7 40 5a dd 14 c0 00 00 00 00").unwrap();
        let b = from_hex("f3 46 22 44 0d a5 3c 40 9c 13 a6 40 f0 10 09 c0 00 00 00 00").unwrap();
        let pa = parse_payload(PayloadMode::FreeAcceleration, &a).unwrap();
        let pb = parse_payload(PayloadMode::FreeAcceleration, &b).unwrap();
        assert_eq!(pa.timestamp_us, 1143080408);
        assert_eq!(pb.timestamp_us, 1143097075);
        assert_eq!(pb.timestamp_us - pa.timestamp_us, 16667);
        let fa = pa.free_acc_m_s2.unwrap().map(|x| x as f32);
        assert_eq!(fa, Vector3::new(3.009197f32, 5.223928, -2.3260102));
        let fb = pb.free_acc_m_s2.unwrap().map(|x| x as f32);
        assert_eq!(fb, Vector3::new(2.947574f32, 5.1898937, -2.1416588));
        assert_eq!(pa.acc_m_s2, None);
        assert_eq!(
            PayloadMode::FreeAcceleration.notify_char(),
            SHORT_PAYLOAD_CHAR_UUID
        );
        // Through the decoder in that mode: parsed and kept, but no IMU sample.
        let mut d = DotDecoder::new(PayloadMode::FreeAcceleration);
        let mut out = Vec::new();
        d.push(&a, &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(d.last_payload(), Some(&pa));
    }

    #[test]
    fn mode_table_matches_the_spec() {
        // ble-sensors.md §5.3 sizes; 20 = rate quantities with mag, 21 without (xsens_dot_server
        // bleHandler.js reads acc at 4, gyro at 16, mag at 28 for payload 20).
        let sizes = [
            (2, 36),
            (3, 32),
            (4, 16),
            (5, 20),
            (6, 16),
            (7, 32),
            (16, 28),
            (18, 38),
            (19, 32),
            (20, 34),
            (21, 28),
            (22, 40),
            (23, 34),
            (24, 32),
            (26, 44),
        ];
        for (code, len) in sizes {
            let m = PayloadMode::from_code(code).unwrap();
            assert_eq!(m.code(), code);
            assert_eq!(m.payload_len(), len, "mode {code}");
        }
        assert_eq!(PayloadMode::from_code(1), None);
        assert_eq!(PayloadMode::from_code(17), None);
        assert_eq!(
            PayloadMode::CustomMode5.notify_char(),
            LONG_PAYLOAD_CHAR_UUID
        );
        let imu: Vec<u8> = PayloadMode::ALL
            .iter()
            .filter(|m| m.carries_imu())
            .map(|m| m.code())
            .collect();
        assert_eq!(imu, vec![20, 21, 26]);
    }

    #[test]
    fn commands() {
        // ble-sensors.md §5.2: start Extended (Quaternion) = `01 01 02`; stop = `01 00 02`.
        assert_eq!(
            start_streaming_command(PayloadMode::ExtendedQuaternion),
            [1, 1, 2]
        );
        assert_eq!(
            stop_streaming_command(PayloadMode::ExtendedQuaternion),
            [1, 0, 2]
        );
        assert_eq!(
            start_streaming_command(PayloadMode::RateQuantitiesWithMag),
            [1, 1, 0x14]
        );
        let c = output_rate_command(60, None).unwrap();
        assert_eq!(c[0], 0x10);
        assert_eq!(&c[24..26], &[60, 0]);
        assert!(c[1..24].iter().chain(&c[26..]).all(|&b| b == 0));
        let cur = [0xAAu8; 32];
        let c = output_rate_command(30, Some(&cur)).unwrap();
        assert_eq!(c[0], 0x10);
        assert_eq!(c[1], 0xAA);
        assert_eq!(&c[24..26], &[30, 0]);
        assert_eq!(c[26], 0xAA);
        assert!(
            output_rate_command(100, None)
                .unwrap_err()
                .to_string()
                .contains("100 Hz")
        );
        let s = stream_setup(PayloadMode::RateQuantitiesWithMag, 60).unwrap();
        assert_eq!(s.notify_char, MEDIUM_PAYLOAD_CHAR_UUID);
        assert_eq!(s.before_subscribe[0].char_uuid, DEVICE_CONTROL_CHAR_UUID);
        assert_eq!(s.after_subscribe[0].bytes, vec![1, 1, 20]);
        assert_eq!(s.stop[0].bytes, vec![1, 0, 20]);
    }

    #[test]
    fn rate_quantities_round_trip_and_clock_wrap() {
        let mut d = DotDecoder::new(PayloadMode::RateQuantities);
        // The start write switches the decoder to mode 20.
        d.observe_write(&start_streaming_command(PayloadMode::RateQuantitiesWithMag));
        assert_eq!(d.mode(), PayloadMode::RateQuantitiesWithMag);
        let mut out = Vec::new();
        for (i, ts) in [u32::MAX - 7999, 8667].into_iter().enumerate() {
            let p = DotPayload {
                timestamp_us: ts,
                acc_m_s2: Some(Vector3::new(0.1, -9.8, 0.25 * i as f64)),
                gyr_rad_s: Some(Vector3::new(1.0, -0.5, 0.0)),
                mag_au: Some(Vector3::new(0.5, -0.25, 1.0)),
                ..Default::default()
            };
            let bytes = encode_payload(PayloadMode::RateQuantitiesWithMag, &p);
            assert_eq!(bytes.len(), 40);
            assert_eq!(&bytes[34..], &[0; 6]);
            let back = parse_payload(PayloadMode::RateQuantitiesWithMag, &bytes).unwrap();
            assert_eq!(back.mag_au, p.mag_au);
            d.push(&bytes, &mut out).unwrap();
        }
        assert_eq!(out.len(), 2);
        assert!((out[0].acc_m_s2 - Vector3::new(0.1, -9.8, 0.0)).amax() < 1e-6);
        assert!((out[1].gyr_rad_s - Vector3::new(1.0, -0.5, 0.0)).amax() < 1e-6);
        assert_eq!(out[0].mag_ut, None);
        let dt = out[1].device_time_s.unwrap() - out[0].device_time_s.unwrap();
        assert!((dt - 0.016667).abs() < 1e-9, "{dt}");
    }

    #[test]
    fn custom_mode_5_carries_the_quaternion() {
        let p = DotPayload {
            timestamp_us: 5,
            quat: Some(Quaternion::new(1.0, 0.0, 0.0, 0.0)),
            acc_m_s2: Some(Vector3::new(0.0, 0.0, 9.81)),
            gyr_rad_s: Some(Vector3::zeros()),
            ..Default::default()
        };
        let mut d = DotDecoder::new(PayloadMode::CustomMode5);
        let mut out = Vec::new();
        d.push(&encode_payload(PayloadMode::CustomMode5, &p), &mut out)
            .unwrap();
        assert_eq!(out[0].quat, p.quat);
        assert_eq!(out[0].device_time_s, Some(5e-6));
    }

    #[test]
    fn errors_name_offsets() {
        let mut d = DotDecoder::new(PayloadMode::RateQuantities);
        let mut out = Vec::new();
        let err = d.push(&[0; 27], &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "movella_dot: truncated measurement payload: needs 28 bytes from byte offset 0, only 27 available"
        );
        let mut bad = vec![0u8; 28];
        bad[20..24].copy_from_slice(&f32::INFINITY.to_le_bytes());
        let err = d.push(&bad, &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "movella_dot: byte offset 20: angular rate is not a finite number"
        );
        assert_eq!(d.stats().errors, 2);
        assert!(out.is_empty());
    }
}
