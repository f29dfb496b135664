//! Sensor packet decoders and command builders, one file per BLE sensor family.
//!
//! Everything here is pure: bytes in, [`DecodedSample`]s out, and command bytes out of plain
//! functions. No I/O, no clock reads; the BLE source owns btleplug and stamps host time. Each
//! family is documented byte by byte in `firmware-protocol/` at the crate root.
//!
//! - [`witmotion`]: WT901BLECL / BWT901BLE5.0 / WT9011DCL `55 61` frames as a byte stream.
//! - [`movesense`]: GATT SensorData Protocol (GSP), IMU6/IMU9 subscriptions with continuations.
//! - [`movella_dot`]: Movella (Xsens) DOT measurement payloads with acceleration and angular rate.
//! - [`open`]: the project's own open sensor protocol (encoder and decoder).
//!
//! Decoders are stateful so that a byte stream split or merged at any point decodes to the same
//! samples wherever the protocol allows it; [`gaps`] holds sequence and timestamp gap helpers.

pub mod gaps;
mod le;
pub mod movella_dot;
pub mod movesense;
pub mod open;
pub mod witmotion;

pub use gaps::{SeqCheck, SeqTracker, TimeGapTracker, WrapUnwrapper};

use crate::model::{ImuSample, SensorRole};
use nalgebra::{Quaternion, Vector3};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Standard gravity used to turn g into m/s² (WitMotion documents 9.8; the 0.07 % difference is
/// irrelevant for angles, and 9.80665 matches the MetaWear SDK and ISO 80000-3).
pub const STANDARD_GRAVITY_M_S2: f64 = 9.80665;

/// A supported sensor family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// WitMotion BLE 5.0 IMUs (WT901BLECL, BWT901BLE5.0, WT9011DCL).
    WitMotion,
    /// Movesense sensors running firmware with the GATT SensorData Protocol.
    Movesense,
    /// Movella (formerly Xsens) DOT.
    MovellaDot,
    /// The project's open sensor protocol (DIY ESP32/nRF52 firmware, the simulator).
    OpenSensor,
}

impl Family {
    /// All families, in documentation order.
    pub const ALL: [Family; 4] = [
        Family::WitMotion,
        Family::Movesense,
        Family::MovellaDot,
        Family::OpenSensor,
    ];

    /// Name used in recordings and on the command line (`witmotion`, `movesense`, `movella_dot`, `open`).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::WitMotion => "witmotion",
            Family::Movesense => "movesense",
            Family::MovellaDot => "movella_dot",
            Family::OpenSensor => "open",
        }
    }

    /// Human-readable product name for scan listings.
    pub fn display_name(self) -> &'static str {
        match self {
            Family::WitMotion => "WitMotion BLE 5.0",
            Family::Movesense => "Movesense (GSP)",
            Family::MovellaDot => "Movella DOT",
            Family::OpenSensor => "open sensor protocol",
        }
    }

    /// Recognises a device from its advertised local name (empty if unknown) and advertised
    /// service UUIDs (any case, 128-bit canonical form). Services win over names; returns `None`
    /// for devices of no supported family.
    pub fn detect<S: AsRef<str>>(name: &str, services: &[S]) -> Option<Family> {
        let services: Vec<String> = services
            .iter()
            .map(|s| s.as_ref().trim().to_ascii_lowercase())
            .collect();
        let has = |pred: &dyn Fn(&str) -> bool| services.iter().any(|s| pred(s));
        if has(&|s| s == open::SERVICE_UUID) {
            return Some(Family::OpenSensor);
        }
        if has(&|s| s == movesense::SERVICE_UUID) {
            return Some(Family::Movesense);
        }
        if has(&movella_dot::is_dot_uuid) {
            return Some(Family::MovellaDot);
        }
        if has(&witmotion::is_witmotion_service) {
            return Some(Family::WitMotion);
        }
        let name = name.trim();
        if name.starts_with(open::NAME_PREFIX) {
            Some(Family::OpenSensor)
        } else if name.starts_with("Movesense") {
            Some(Family::Movesense)
        } else if name.starts_with("Movella DOT") || name.starts_with("Xsens DOT") {
            Some(Family::MovellaDot)
        } else if witmotion::is_witmotion_name(name) {
            Some(Family::WitMotion)
        } else {
            None
        }
    }

    /// The output rate used when the user does not choose one, Hz (closest supported to 100 Hz,
    /// enough for stretching, which is slow).
    pub fn default_rate_hz(self) -> u32 {
        match self {
            Family::WitMotion => 100,
            Family::Movesense => 104,
            Family::MovellaDot => 60,
            Family::OpenSensor => 100,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Family {
    type Err = ProtocolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Family::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ProtocolError::UnknownFamily(s.to_string()))
    }
}

/// One IMU sample as decoded from the wire, before a role or host time is attached.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedSample {
    /// Device clock time of this sample, seconds, unwrapped across counter wraps; `None` when the
    /// family sends no device timestamp (WitMotion).
    pub device_time_s: Option<f64>,
    /// Per-sample sequence number when the family sends one (open protocol: 16-bit, wrapping).
    pub seq: Option<u32>,
    /// Specific force, sensor frame, m/s².
    pub acc_m_s2: Vector3<f64>,
    /// Angular rate, sensor frame, rad/s.
    pub gyr_rad_s: Vector3<f64>,
    /// Magnetic field, sensor frame, µT, when sent in µT.
    pub mag_ut: Option<Vector3<f64>>,
    /// On-board filter Euler angles (roll, pitch, yaw), degrees, when sent (WitMotion).
    pub angle_deg: Option<Vector3<f64>>,
    /// On-board filter orientation quaternion (w, x, y, z) as sent, when sent.
    pub quat: Option<Quaternion<f64>>,
}

impl DecodedSample {
    /// A sample with only acceleration and angular rate.
    pub fn new(acc_m_s2: Vector3<f64>, gyr_rad_s: Vector3<f64>) -> Self {
        DecodedSample {
            device_time_s: None,
            seq: None,
            acc_m_s2,
            gyr_rad_s,
            mag_ut: None,
            angle_deg: None,
            quat: None,
        }
    }

    /// Attaches recording time and role to make a pipeline sample.
    pub fn to_imu_sample(&self, t_s: f64, role: SensorRole) -> ImuSample {
        ImuSample {
            t_s,
            role,
            acc_m_s2: self.acc_m_s2,
            gyr_rad_s: self.gyr_rad_s,
            mag_ut: self.mag_ut,
        }
    }
}

/// Everything that can go wrong decoding packets or building commands. Byte offsets are counted
/// from the start of the frame, message or packet named in the message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// A field runs past the end of the data.
    #[error(
        "{family}: truncated {what}: needs {needed} bytes from byte offset {offset}, only {available} available"
    )]
    Truncated {
        /// Family whose data was being decoded.
        family: Family,
        /// The frame, message or field being read.
        what: &'static str,
        /// Byte offset where the field starts.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes present from `offset` on.
        available: usize,
    },
    /// A byte (or length) is not what the protocol allows here.
    #[error("{family}: byte offset {offset}: expected {expected}, found {found}")]
    Unexpected {
        /// Family whose data was being decoded.
        family: Family,
        /// Byte offset of the offending value.
        offset: usize,
        /// What the protocol allows.
        expected: String,
        /// What was there.
        found: String,
    },
    /// A floating-point field is NaN or infinite.
    #[error("{family}: byte offset {offset}: {what} is not a finite number")]
    NonFinite {
        /// Family whose data was being decoded.
        family: Family,
        /// Byte offset of the value.
        offset: usize,
        /// Which field.
        what: &'static str,
    },
    /// A packet checksum does not match.
    #[error(
        "{family}: byte offset {offset}: checksum expected 0x{expected:02x}, found 0x{found:02x}"
    )]
    Checksum {
        /// Family whose data was being decoded.
        family: Family,
        /// Byte offset of the checksum byte.
        offset: usize,
        /// Checksum computed over the packet.
        expected: u8,
        /// Checksum byte received.
        found: u8,
    },
    /// The device answered a command with an error status.
    #[error("{family}: device rejected command with reference {reference}: status {status}")]
    CommandRejected {
        /// Family of the device.
        family: Family,
        /// Client reference of the command.
        reference: u8,
        /// HTTP-style status code.
        status: u16,
    },
    /// A command builder was given a value the device does not support.
    #[error("{family}: {what}")]
    InvalidArgument {
        /// Family whose command was being built.
        family: Family,
        /// What was wrong and what is allowed.
        what: String,
    },
    /// A family name that is not one of ours.
    #[error("unknown sensor family '{0}' (expected witmotion, movesense, movella_dot or open)")]
    UnknownFamily(String),
}

/// Counters a decoder keeps for data-quality reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Notifications (or writes) fed to [`Decoder::push`].
    pub pushes: u64,
    /// Complete frames, messages or packets decoded (including non-sample ones).
    pub packets: u64,
    /// Samples emitted.
    pub samples: u64,
    /// Bytes discarded while resynchronising or in rejected packets.
    pub bytes_skipped: u64,
    /// Errors encountered (each push reports only its first).
    pub errors: u64,
}

/// A stateful decoder for one device's notification stream.
///
/// On error the decoder stays usable: samples decoded from the good parts of `bytes` are still
/// appended to `out`, the first problem is returned, and the next push continues normally.
pub trait Decoder: Send {
    /// Feeds one notification's bytes; appends every complete sample to `out`.
    fn push(&mut self, bytes: &[u8], out: &mut Vec<DecodedSample>) -> Result<(), ProtocolError>;

    /// The family this decoder understands.
    fn family(&self) -> Family;

    /// Tells the decoder about bytes the host wrote to the device (the raw log's `tx` records),
    /// so it can follow the configured rate, subscription or payload mode. Unknown writes are
    /// ignored.
    fn observe_write(&mut self, _bytes: &[u8]) {}

    /// Emits anything held back waiting for a possible continuation (end of a recording).
    fn flush(&mut self, _out: &mut Vec<DecodedSample>) -> Result<(), ProtocolError> {
        Ok(())
    }

    /// Drops partial frames after a disconnect; device-clock unwrapping and configuration are kept.
    fn reset(&mut self);

    /// Counters since creation.
    fn stats(&self) -> DecoderStats;
}

/// A decoder for `family` in the project's default configuration (see each family's module:
/// Movesense IMU6 at 104 Hz, DOT payload mode 20, open protocol at 100 Hz until a status packet
/// says otherwise). Configuration can be changed later through [`Decoder::observe_write`].
pub fn decoder_for(family: Family) -> Box<dyn Decoder> {
    match family {
        Family::WitMotion => Box::new(witmotion::WitMotionDecoder::new()),
        Family::Movesense => Box::new(movesense::MovesenseDecoder::new(
            movesense::MovesenseConfig::default(),
        )),
        Family::MovellaDot => Box::new(movella_dot::DotDecoder::new(
            movella_dot::PayloadMode::RateQuantitiesWithMag,
        )),
        Family::OpenSensor => Box::new(open::OpenDecoder::new(open::OpenConfig::default())),
    }
}

/// One GATT write of a start/stop sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GattWrite {
    /// Characteristic to write (canonical lower-case 128-bit UUID).
    pub char_uuid: &'static str,
    /// Bytes to write.
    pub bytes: Vec<u8>,
    /// Whether to use write-with-response.
    pub with_response: bool,
    /// Pause after this write before the next step, milliseconds.
    pub delay_after_ms: u32,
}

/// How to start and stop streaming on one device: write `before_subscribe`, enable notifications
/// on `notify_char`, write `after_subscribe`; to stop, write `stop` then disable notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSetup {
    /// Family the steps are for.
    pub family: Family,
    /// Primary service UUID.
    pub service_uuid: &'static str,
    /// Characteristic carrying the data notifications.
    pub notify_char: &'static str,
    /// Writes before enabling notifications.
    pub before_subscribe: Vec<GattWrite>,
    /// Writes after enabling notifications.
    pub after_subscribe: Vec<GattWrite>,
    /// Writes that stop streaming.
    pub stop: Vec<GattWrite>,
}

/// The start/stop sequence for `family` at `rate_hz` in the default configuration of
/// [`decoder_for`].
pub fn stream_setup(family: Family, rate_hz: u32) -> Result<StreamSetup, ProtocolError> {
    match family {
        Family::WitMotion => witmotion::stream_setup(rate_hz),
        Family::Movesense => movesense::stream_setup(
            movesense::Measurement::Imu6,
            rate_hz,
            movesense::DEFAULT_REFERENCE,
        ),
        Family::MovellaDot => {
            movella_dot::stream_setup(movella_dot::PayloadMode::RateQuantitiesWithMag, rate_hz)
        }
        Family::OpenSensor => open::stream_setup(rate_hz, open::DataFormat::Imu6, 1),
    }
}

/// Formats bytes as lower-case hex without separators (the raw log's `hex` field).
pub fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses hex (either case, optional spaces) into bytes; `None` on odd length or a non-hex digit.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// Converts three f32 fields to a vector, rejecting NaN and infinities.
pub(crate) fn finite_vec3(
    family: Family,
    offset: usize,
    what: &'static str,
    v: [f32; 3],
) -> Result<Vector3<f64>, ProtocolError> {
    for (i, x) in v.iter().enumerate() {
        if !x.is_finite() {
            return Err(ProtocolError::NonFinite {
                family,
                offset: offset + 4 * i,
                what,
            });
        }
    }
    Ok(Vector3::new(
        f64::from(v[0]),
        f64::from(v[1]),
        f64::from(v[2]),
    ))
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_names_round_trip() {
        for f in Family::ALL {
            assert_eq!(f.as_str().parse::<Family>(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        let err = "xsens".parse::<Family>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown sensor family 'xsens' (expected witmotion, movesense, movella_dot or open)"
        );
    }

    #[test]
    fn detect_by_service_and_name() {
        let none: [&str; 0] = [];
        assert_eq!(
            Family::detect("", &["0000FFE5-0000-1000-8000-00805F9A34FB"]),
            Some(Family::WitMotion)
        );
        // The SIG base seen in some listings is accepted too (ble-sensors.md 2.1).
        assert_eq!(
            Family::detect("", &["0000ffe5-0000-1000-8000-00805f9b34fb"]),
            Some(Family::WitMotion)
        );
        assert_eq!(Family::detect("WT901BLE68", &none), Some(Family::WitMotion));
        assert_eq!(
            Family::detect("Movesense 174630000192", &none),
            Some(Family::Movesense)
        );
        assert_eq!(
            Family::detect("", &["34802252-7185-4d5d-b431-630e7050e8f0"]),
            Some(Family::Movesense)
        );
        assert_eq!(Family::detect("Xsens DOT", &none), Some(Family::MovellaDot));
        assert_eq!(
            Family::detect("Movella DOT", &none),
            Some(Family::MovellaDot)
        );
        assert_eq!(
            Family::detect("", &["15172000-4947-11e9-8646-d663bd873d93"]),
            Some(Family::MovellaDot)
        );
        assert_eq!(
            Family::detect("whatever", &[open::SERVICE_UUID.to_uppercase()]),
            Some(Family::OpenSensor)
        );
        assert_eq!(Family::detect("OSP-thigh", &none), Some(Family::OpenSensor));
        assert_eq!(Family::detect("Forerunner 265", &none), None);
        assert_eq!(
            Family::detect("HMSoft", &["0000ffe0-0000-1000-8000-00805f9b34fb"]),
            None
        );
        assert_eq!(Family::detect("WH-1000XM4", &none), None);
    }

    #[test]
    fn decoded_sample_becomes_a_pipeline_sample() {
        let mut d = DecodedSample::new(Vector3::new(0.0, 0.0, 9.81), Vector3::new(0.1, 0.0, 0.0));
        d.mag_ut = Some(Vector3::new(20.0, 0.0, -40.0));
        d.device_time_s = Some(99.0);
        let s = d.to_imu_sample(1.5, SensorRole::Shank);
        assert_eq!(s.t_s, 1.5);
        assert_eq!(s.role, SensorRole::Shank);
        assert_eq!(s.acc_m_s2, d.acc_m_s2);
        assert_eq!(s.gyr_rad_s, d.gyr_rad_s);
        assert_eq!(s.mag_ut, d.mag_ut);
    }

    #[test]
    fn hex_round_trip() {
        let b = vec![0x55, 0x61, 0x00, 0xff];
        assert_eq!(to_hex(&b), "556100ff");
        assert_eq!(from_hex("55 61 00 FF"), Some(b));
        assert_eq!(from_hex("556"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn every_family_has_a_stream_setup_at_its_default_rate() {
        for f in Family::ALL {
            let setup = stream_setup(f, f.default_rate_hz()).unwrap();
            assert_eq!(setup.family, f);
            assert!(!setup.stop.is_empty() || f == Family::WitMotion);
            assert_eq!(decoder_for(f).family(), f);
        }
    }
}
