//! WitMotion BLE 5.0 IMUs (WT901BLECL, BWT901BLE5.0, WT9011DCL): `55 61` frames as a byte stream.
//!
//! The notify characteristic carries fixed 20-byte frames without a checksum: `55 61` combined
//! data (acceleration, angular rate, Euler angles) streamed at the configured return rate, and
//! `55 71` register-read replies. Frames may be split across notifications or several may share
//! one, so [`WitMotionDecoder`] buffers bytes, resynchronises on the next `55 61`/`55 71` header
//! after garbage, and cuts frames. Commands are 5-byte register writes `FF AA reg lo hi`.
//! Layout and sources: `firmware-protocol/witmotion.md`.

use super::le::{i16_at, i16x3_at, u16_at};
use super::{
    DecodedSample, Decoder, DecoderStats, Family, GattWrite, ProtocolError, STANDARD_GRAVITY_M_S2,
    StreamSetup,
};
use nalgebra::Vector3;

/// Service UUID (note the `…9A34FB` base, not the Bluetooth SIG `…9B34FB`).
pub const SERVICE_UUID: &str = "0000ffe5-0000-1000-8000-00805f9a34fb";
/// Notify characteristic carrying the frames.
pub const NOTIFY_CHAR_UUID: &str = "0000ffe4-0000-1000-8000-00805f9a34fb";
/// Write characteristic for commands.
pub const WRITE_CHAR_UUID: &str = "0000ffe9-0000-1000-8000-00805f9a34fb";

/// Frame length in bytes, for both frame kinds.
pub const FRAME_LEN: usize = 20;
/// First byte of every frame.
pub const HEADER: u8 = 0x55;
/// Second byte of a combined data frame.
pub const FLAG_DATA: u8 = 0x61;
/// Second byte of a register-read reply.
pub const FLAG_REGISTER: u8 = 0x71;

/// Full-scale acceleration, g, for raw 32768.
pub const ACC_FULL_SCALE_G: f64 = 16.0;
/// Full-scale angular rate, °/s, for raw 32768.
pub const GYR_FULL_SCALE_DPS: f64 = 2000.0;
/// Full-scale angle, degrees, for raw 32768.
pub const ANGLE_FULL_SCALE_DEG: f64 = 180.0;

/// Unlock command, needed before configuration writes (valid about 10 s).
pub const UNLOCK_COMMAND: [u8; 5] = [0xFF, 0xAA, 0x69, 0x88, 0xB5];
/// Save the configuration to flash.
pub const SAVE_COMMAND: [u8; 5] = [0xFF, 0xAA, 0x00, 0x00, 0x00];
/// Register holding the return rate.
pub const REG_RETURN_RATE: u8 = 0x03;
/// First magnetometer register (replies carry Hx, Hy, Hz raw counts).
pub const REG_MAG: u8 = 0x3A;
/// First quaternion register (q0..q3, /32768).
pub const REG_QUATERNION: u8 = 0x51;
/// Battery voltage register (/100 V).
pub const REG_BATTERY: u8 = 0x64;

/// Return rates the BLE 5.0 modules accept, with their register codes.
pub const RATE_CODES: [(u32, u8); 9] = [
    (1, 0x03),
    (2, 0x04),
    (5, 0x05),
    (10, 0x06),
    (20, 0x07),
    (50, 0x08),
    (100, 0x09),
    (125, 0x0A),
    (200, 0x0B),
];

/// Pause the SDKs leave between unlock, write and save, milliseconds.
pub const COMMAND_GAP_MS: u32 = 100;

/// Whether a service UUID is the WitMotion service (16-bit `FFE5` on either 128-bit base).
pub fn is_witmotion_service(uuid: &str) -> bool {
    let u = uuid.trim().to_ascii_lowercase();
    u == SERVICE_UUID || u == "0000ffe5-0000-1000-8000-00805f9b34fb"
}

/// Whether an advertised name looks like a WitMotion IMU (`WT901BLE68`, `WT9011DCL…`, `BWT901…`).
pub fn is_witmotion_name(name: &str) -> bool {
    let b = name.as_bytes();
    (b.len() >= 3 && b.starts_with(b"WT") && b[2].is_ascii_digit()) || name.starts_with("BWT")
}

/// Builds a register write `FF AA reg lo hi`.
pub fn write_register_command(reg: u8, value: u16) -> [u8; 5] {
    let [lo, hi] = value.to_le_bytes();
    [0xFF, 0xAA, reg, lo, hi]
}

/// Builds a register read request; the device answers with a `55 71` frame.
pub fn read_register_command(reg: u8) -> [u8; 5] {
    [0xFF, 0xAA, 0x27, reg, 0x00]
}

/// Builds the return-rate write for `rate_hz` (one of [`RATE_CODES`]).
pub fn rate_command(rate_hz: u32) -> Result<[u8; 5], ProtocolError> {
    RATE_CODES
        .iter()
        .find(|(hz, _)| *hz == rate_hz)
        .map(|(_, code)| write_register_command(REG_RETURN_RATE, u16::from(*code)))
        .ok_or_else(|| ProtocolError::InvalidArgument {
            family: Family::WitMotion,
            what: format!(
                "unsupported return rate {rate_hz} Hz (supported: 1, 2, 5, 10, 20, 50, 100, 125, 200)"
            ),
        })
}

/// The writes that set the return rate: unlock, rate, save. Streaming itself starts as soon as
/// notifications are enabled; there is no start command.
pub fn start_streaming_command(rate_hz: u32) -> Result<Vec<[u8; 5]>, ProtocolError> {
    Ok(vec![UNLOCK_COMMAND, rate_command(rate_hz)?, SAVE_COMMAND])
}

/// The start/stop sequence: enable notifications on FFE4, then unlock, rate, save on FFE9.
/// Stopping is disabling notifications (the module keeps streaming into the void).
pub fn stream_setup(rate_hz: u32) -> Result<StreamSetup, ProtocolError> {
    let after_subscribe = start_streaming_command(rate_hz)?
        .into_iter()
        .map(|bytes| GattWrite {
            char_uuid: WRITE_CHAR_UUID,
            bytes: bytes.to_vec(),
            with_response: false,
            delay_after_ms: COMMAND_GAP_MS,
        })
        .collect();
    Ok(StreamSetup {
        family: Family::WitMotion,
        service_uuid: SERVICE_UUID,
        notify_char: NOTIFY_CHAR_UUID,
        before_subscribe: Vec::new(),
        after_subscribe,
        stop: Vec::new(),
    })
}

/// A `55 71` register-read reply: eight consecutive 16-bit registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterReply {
    /// Address of the first register.
    pub start_register: u16,
    /// Register values, raw.
    pub values: [i16; 8],
}

/// Decodes one 20-byte `55 61` frame (header included).
pub fn parse_data_frame(frame: &[u8]) -> Result<DecodedSample, ProtocolError> {
    check_frame(frame, FLAG_DATA, "data frame")?;
    let raw = |off: usize| i16x3_at(frame, off).unwrap_or_default();
    let scale = |v: [i16; 3], k: f64| {
        Vector3::new(f64::from(v[0]), f64::from(v[1]), f64::from(v[2])) * (k / 32768.0)
    };
    let mut s = DecodedSample::new(
        scale(raw(2), ACC_FULL_SCALE_G * STANDARD_GRAVITY_M_S2),
        scale(raw(8), GYR_FULL_SCALE_DPS.to_radians()),
    );
    s.angle_deg = Some(scale(raw(14), ANGLE_FULL_SCALE_DEG));
    Ok(s)
}

/// Decodes one 20-byte `55 71` register-read reply (header included).
pub fn parse_register_reply(frame: &[u8]) -> Result<RegisterReply, ProtocolError> {
    check_frame(frame, FLAG_REGISTER, "register reply")?;
    let mut values = [0i16; 8];
    for (i, v) in values.iter_mut().enumerate() {
        *v = i16_at(frame, 4 + 2 * i).unwrap_or_default();
    }
    Ok(RegisterReply {
        start_register: u16_at(frame, 2).unwrap_or_default(),
        values,
    })
}

fn check_frame(frame: &[u8], flag: u8, what: &'static str) -> Result<(), ProtocolError> {
    if frame.len() < FRAME_LEN {
        return Err(ProtocolError::Truncated {
            family: Family::WitMotion,
            what,
            offset: 0,
            needed: FRAME_LEN,
            available: frame.len(),
        });
    }
    for (offset, want) in [(0, HEADER), (1, flag)] {
        if frame[offset] != want {
            return Err(ProtocolError::Unexpected {
                family: Family::WitMotion,
                offset,
                expected: format!("0x{want:02x} ({what})"),
                found: format!("0x{:02x}", frame[offset]),
            });
        }
    }
    Ok(())
}

/// Stream decoder: buffers bytes, resynchronises on `55 61`/`55 71`, cuts 20-byte frames.
///
/// Bytes before a header are skipped and counted in [`DecoderStats::bytes_skipped`] (expected at
/// connection start, when the first notification can begin mid-frame); they are not errors.
/// Without a checksum a frame that was itself cut short by lost bytes cannot be detected: it is
/// completed with the next frame's bytes, and the decoder resynchronises one frame later.
#[derive(Debug, Clone, Default)]
pub struct WitMotionDecoder {
    buf: Vec<u8>,
    last_register_reply: Option<RegisterReply>,
    nominal_rate_hz: Option<u32>,
    stats: DecoderStats,
}

impl WitMotionDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most recent `55 71` register reply seen in the stream (magnetometer, battery, …).
    pub fn last_register_reply(&self) -> Option<RegisterReply> {
        self.last_register_reply
    }

    /// Return rate last written through [`Decoder::observe_write`], Hz.
    pub fn nominal_rate_hz(&self) -> Option<u32> {
        self.nominal_rate_hz
    }
}

impl Decoder for WitMotionDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<DecodedSample>) -> Result<(), ProtocolError> {
        self.stats.pushes += 1;
        self.buf.extend_from_slice(bytes);
        let mut pos = 0;
        while pos < self.buf.len() {
            let rest = &self.buf[pos..];
            if rest[0] != HEADER {
                pos += 1;
                self.stats.bytes_skipped += 1;
                continue;
            }
            let Some(&flag) = rest.get(1) else {
                break; // lone 0x55 at the end: wait for the next byte
            };
            if flag != FLAG_DATA && flag != FLAG_REGISTER {
                pos += 1;
                self.stats.bytes_skipped += 1;
                continue;
            }
            if rest.len() < FRAME_LEN {
                break;
            }
            let frame = &rest[..FRAME_LEN];
            if flag == FLAG_DATA {
                if let Ok(sample) = parse_data_frame(frame) {
                    out.push(sample);
                    self.stats.samples += 1;
                }
            } else if let Ok(reply) = parse_register_reply(frame) {
                self.last_register_reply = Some(reply);
            }
            self.stats.packets += 1;
            pos += FRAME_LEN;
        }
        self.buf.drain(..pos);
        Ok(())
    }

    fn family(&self) -> Family {
        Family::WitMotion
    }

    fn observe_write(&mut self, bytes: &[u8]) {
        if let [0xFF, 0xAA, REG_RETURN_RATE, code, 0x00] = *bytes
            && let Some((hz, _)) = RATE_CODES.iter().find(|(_, c)| *c == code)
        {
            self.nominal_rate_hz = Some(*hz);
        }
    }

    fn reset(&mut self) {
        self.buf.clear();
    }

    fn stats(&self) -> DecoderStats {
        self.stats
    }
}

/// Encodes a `55 61` frame from physical values (saturating), for the simulator and tests.
pub fn encode_data_frame(
    acc_m_s2: &Vector3<f64>,
    gyr_rad_s: &Vector3<f64>,
    angle_deg: &Vector3<f64>,
) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[0] = HEADER;
    f[1] = FLAG_DATA;
    let groups = [
        (acc_m_s2, ACC_FULL_SCALE_G * STANDARD_GRAVITY_M_S2),
        (gyr_rad_s, GYR_FULL_SCALE_DPS.to_radians()),
        (angle_deg, ANGLE_FULL_SCALE_DEG),
    ];
    for (g, (v, full_scale)) in groups.iter().enumerate() {
        for axis in 0..3 {
            let raw = quantize_i16(v[axis] * 32768.0 / full_scale);
            let off = 2 + 6 * g + 2 * axis;
            f[off..off + 2].copy_from_slice(&raw.to_le_bytes());
        }
    }
    f
}

/// Rounds to the nearest `i16`, saturating; NaN becomes 0.
pub(crate) fn quantize_i16(x: f64) -> i16 {
    // `as` saturates at the bounds and maps NaN to 0.
    x.round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::from_hex;

    #[test]
    fn datasheet_register_reply_example() {
        // WT901BLECL datasheet v20-0707 §6.1.2.1 (ble-sensors.md §2.4): command `FF AA 27 3A 00`
        // → reply `55 71 3A 00 68 01 69 00 7A 00` + 10 zero bytes ⇒ Hx=360, Hy=105, Hz=122 (raw).
        assert_eq!(
            read_register_command(REG_MAG),
            [0xFF, 0xAA, 0x27, 0x3A, 0x00]
        );
        let reply =
            from_hex("55 71 3A 00 68 01 69 00 7A 00 00 00 00 00 00 00 00 00 00 00").unwrap();
        let r = parse_register_reply(&reply).unwrap();
        assert_eq!(r.start_register, 0x3A);
        assert_eq!(&r.values[..3], &[360, 105, 122]);
        assert_eq!(&r.values[3..], &[0; 5]);
        // The same frame inside a stream is consumed as a frame, not garbage, and is kept.
        let mut d = WitMotionDecoder::new();
        let mut out = Vec::new();
        d.push(&reply, &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(d.last_register_reply(), Some(r));
        assert_eq!(d.stats().bytes_skipped, 0);
    }

    #[test]
    fn commands_match_the_sdk_tables() {
        // ble-sensors.md §2.5 (WITMOTION/WitBluetooth_BWT901BLE5_0 SDKs).
        assert_eq!(UNLOCK_COMMAND, [0xFF, 0xAA, 0x69, 0x88, 0xB5]);
        assert_eq!(SAVE_COMMAND, [0xFF, 0xAA, 0x00, 0x00, 0x00]);
        assert_eq!(rate_command(10).unwrap(), [0xFF, 0xAA, 0x03, 0x06, 0x00]);
        assert_eq!(rate_command(100).unwrap(), [0xFF, 0xAA, 0x03, 0x09, 0x00]);
        assert_eq!(rate_command(200).unwrap(), [0xFF, 0xAA, 0x03, 0x0B, 0x00]);
        let err = rate_command(60).unwrap_err();
        assert!(
            err.to_string().contains("unsupported return rate 60 Hz"),
            "{err}"
        );
        let seq = start_streaming_command(50).unwrap();
        assert_eq!(
            seq,
            vec![UNLOCK_COMMAND, [0xFF, 0xAA, 0x03, 0x08, 0x00], SAVE_COMMAND]
        );
        let setup = stream_setup(100).unwrap();
        assert_eq!(setup.notify_char, NOTIFY_CHAR_UUID);
        assert_eq!(setup.after_subscribe.len(), 3);
        assert!(
            setup
                .after_subscribe
                .iter()
                .all(|w| w.char_uuid == WRITE_CHAR_UUID)
        );
    }

    #[test]
    fn data_frame_scaling() {
        // Hand-built frame from the layout in ble-sensors.md §2.3:
        // acc (0, 0, 2048) = 1 g on z; gyro (16384, 0, -16384) = ±1000 °/s; angles 90°, −45°, 180°·(32767/32768).
        let frame =
            from_hex("55 61 00 00 00 00 00 08 00 40 00 00 00 c0 00 40 00 e0 ff 7f").unwrap();
        let s = parse_data_frame(&frame).unwrap();
        assert_eq!(s.acc_m_s2, Vector3::new(0.0, 0.0, STANDARD_GRAVITY_M_S2));
        let w = 1000f64.to_radians();
        assert!((s.gyr_rad_s - Vector3::new(w, 0.0, -w)).norm() < 1e-12);
        let a = s.angle_deg.unwrap();
        assert_eq!(a.x, 90.0);
        assert_eq!(a.y, -45.0);
        assert!((a.z - 180.0 * 32767.0 / 32768.0).abs() < 1e-12);
        assert_eq!(s.device_time_s, None);
        assert_eq!(s.seq, None);
    }

    #[test]
    fn encode_then_decode_round_trip() {
        let acc = Vector3::new(-1.0, 0.5, 9.81);
        let gyr = Vector3::new(0.3, -2.0, 1.0);
        let ang = Vector3::new(10.0, -20.0, 170.0);
        let s = parse_data_frame(&encode_data_frame(&acc, &gyr, &ang)).unwrap();
        // Within half an LSB.
        assert!((s.acc_m_s2 - acc).amax() <= 0.5 * 16.0 * STANDARD_GRAVITY_M_S2 / 32768.0);
        assert!((s.gyr_rad_s - gyr).amax() <= 0.5 * 2000f64.to_radians() / 32768.0);
        assert!((s.angle_deg.unwrap() - ang).amax() <= 0.5 * 180.0 / 32768.0);
        // Saturation instead of wrapping.
        let big = Vector3::new(1e6, -1e6, f64::NAN);
        let f = encode_data_frame(&big, &big, &big);
        assert_eq!(i16x3_at(&f, 2), Some([i16::MAX, i16::MIN, 0]));
    }

    #[test]
    fn stream_resynchronises_after_garbage() {
        let a = encode_data_frame(
            &Vector3::new(1.0, 2.0, 3.0),
            &Vector3::zeros(),
            &Vector3::zeros(),
        );
        let b = encode_data_frame(
            &Vector3::new(4.0, 5.0, 6.0),
            &Vector3::zeros(),
            &Vector3::zeros(),
        );
        let mut bytes = vec![0x12, 0x55, 0x00, 0x55]; // garbage, including a false header start
        bytes.extend_from_slice(&a[7..]); // the tail of a frame cut at connection start
        bytes.extend_from_slice(&a);
        bytes.extend_from_slice(&[0x55, 0x55]);
        bytes.extend_from_slice(&b);
        let mut d = WitMotionDecoder::new();
        let mut out = Vec::new();
        d.push(&bytes, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], parse_data_frame(&a).unwrap());
        assert_eq!(out[1], parse_data_frame(&b).unwrap());
        // 4 garbage bytes, the 13-byte tail, and the two stray 0x55.
        assert_eq!(d.stats().bytes_skipped, 4 + 13 + 2);
        assert_eq!(d.stats().samples, 2);
    }

    #[test]
    fn frames_split_across_notifications() {
        let a = encode_data_frame(
            &Vector3::new(1.0, 2.0, 3.0),
            &Vector3::zeros(),
            &Vector3::zeros(),
        );
        let mut d = WitMotionDecoder::new();
        let mut out = Vec::new();
        d.push(&a[..1], &mut out).unwrap();
        d.push(&a[1..2], &mut out).unwrap();
        d.push(&a[2..19], &mut out).unwrap();
        assert!(out.is_empty());
        d.push(&a[19..], &mut out).unwrap();
        assert_eq!(out.len(), 1);
        // reset drops a partial frame.
        d.push(&a[..10], &mut out).unwrap();
        d.reset();
        d.push(&a, &mut out).unwrap();
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn observe_write_follows_the_rate() {
        let mut d = WitMotionDecoder::new();
        d.observe_write(&UNLOCK_COMMAND);
        assert_eq!(d.nominal_rate_hz(), None);
        d.observe_write(&rate_command(50).unwrap());
        assert_eq!(d.nominal_rate_hz(), Some(50));
    }

    #[test]
    fn names() {
        assert!(is_witmotion_name("WT901BLE68"));
        assert!(is_witmotion_name("WT9011DCL-BT50"));
        assert!(is_witmotion_name("BWT901BLE5.0"));
        assert!(!is_witmotion_name("WTF"));
        assert!(!is_witmotion_name(""));
    }
}
