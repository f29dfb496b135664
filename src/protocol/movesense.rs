//! Movesense GATT SensorData Protocol (GSP): IMU6/IMU9 subscriptions, continuation packets.
//!
//! The host writes `[cmd][ref][args]` to the command characteristic; the sensor notifies
//! `[type][ref][body]` on the data characteristic: type 1 is a command result, type 2 a data
//! message, type 3 the continuation of a data message too long for one notification. An IMU
//! body is a `u32` millisecond timestamp (of the first sample) followed by N acceleration vectors
//! (m/s²), N angular-rate vectors (°/s) and, for IMU9, N magnetic-field vectors (µT), all `f32`,
//! in blocks rather than interleaved. Layout and sources: `firmware-protocol/movesense.md`.

use super::le::{f32x3_at, u16_at, u32_at};
use super::{
    DecodedSample, Decoder, DecoderStats, Family, GattWrite, ProtocolError, StreamSetup,
    WrapUnwrapper, finite_vec3,
};
use nalgebra::Vector3;

/// GSP service UUID (usually not advertised: find sensors by the name `Movesense <serial>`).
pub const SERVICE_UUID: &str = "34802252-7185-4d5d-b431-630e7050e8f0";
/// Command characteristic (write with response).
pub const COMMAND_CHAR_UUID: &str = "34800001-7185-4d5d-b431-630e7050e8f0";
/// Data/response characteristic (notify).
pub const DATA_CHAR_UUID: &str = "34800002-7185-4d5d-b431-630e7050e8f0";

/// Client reference the project uses for its IMU subscription (any non-zero byte works).
pub const DEFAULT_REFERENCE: u8 = 99;
/// Sample rates the IMU resources accept, Hz.
pub const SUPPORTED_RATES_HZ: [u32; 8] = [13, 26, 52, 104, 208, 416, 833, 1666];
/// Longest notification a Movesense sensor sends (ATT MTU 158 − 3), bytes.
pub const MAX_NOTIFICATION_LEN: usize = 155;

/// Command byte: HELLO.
pub const CMD_HELLO: u8 = 0;
/// Command byte: SUBSCRIBE.
pub const CMD_SUBSCRIBE: u8 = 1;
/// Command byte: UNSUBSCRIBE.
pub const CMD_UNSUBSCRIBE: u8 = 2;
/// Notification type: command result.
pub const TYPE_RESPONSE: u8 = 1;
/// Notification type: data message.
pub const TYPE_DATA: u8 = 2;
/// Notification type: continuation of the previous data message.
pub const TYPE_DATA_PART2: u8 = 3;

const TS_LEN: usize = 4;
const VEC_LEN: usize = 12;

/// Which IMU resource is subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measurement {
    /// `/Meas/IMU6/{rate}`: acceleration and angular rate.
    Imu6,
    /// `/Meas/IMU9/{rate}`: acceleration, angular rate and magnetic field.
    Imu9,
}

impl Measurement {
    /// Resource path for `rate_hz`, e.g. `/Meas/IMU6/104`.
    pub fn path(self, rate_hz: u32) -> String {
        match self {
            Measurement::Imu6 => format!("/Meas/IMU6/{rate_hz}"),
            Measurement::Imu9 => format!("/Meas/IMU9/{rate_hz}"),
        }
    }

    /// Vectors per sample (2 or 3).
    pub fn vectors(self) -> usize {
        match self {
            Measurement::Imu6 => 2,
            Measurement::Imu9 => 3,
        }
    }

    /// Bytes per sample across the blocks (24 or 36).
    pub fn sample_len(self) -> usize {
        self.vectors() * VEC_LEN
    }

    /// Parses a resource path like `/Meas/IMU9/52` into measurement and rate.
    pub fn parse_path(path: &str) -> Option<(Measurement, u32)> {
        let rest = path.strip_prefix("/Meas/")?;
        let (kind, rate) = rest.split_once('/')?;
        let m = match kind {
            "IMU6" => Measurement::Imu6,
            "IMU9" => Measurement::Imu9,
            _ => return None,
        };
        Some((m, rate.parse().ok()?))
    }
}

/// HELLO command; old sample firmware answers `01 ref "Hello"`.
pub fn hello_command(reference: u8) -> [u8; 2] {
    [CMD_HELLO, reference]
}

/// SUBSCRIBE command for `measurement` at `rate_hz` with client reference `reference` (non-zero).
pub fn subscribe_command(
    reference: u8,
    measurement: Measurement,
    rate_hz: u32,
) -> Result<Vec<u8>, ProtocolError> {
    if reference == 0 {
        return Err(ProtocolError::InvalidArgument {
            family: Family::Movesense,
            what: "client reference must be non-zero".to_string(),
        });
    }
    if !SUPPORTED_RATES_HZ.contains(&rate_hz) {
        return Err(ProtocolError::InvalidArgument {
            family: Family::Movesense,
            what: format!(
                "unsupported IMU rate {rate_hz} Hz (supported: 13, 26, 52, 104, 208, 416, 833, 1666)"
            ),
        });
    }
    let mut cmd = vec![CMD_SUBSCRIBE, reference];
    cmd.extend_from_slice(measurement.path(rate_hz).as_bytes());
    Ok(cmd)
}

/// UNSUBSCRIBE command for the subscription made with `reference`.
pub fn unsubscribe_command(reference: u8) -> [u8; 2] {
    [CMD_UNSUBSCRIBE, reference]
}

/// The project's start command: subscribe IMU6 at `rate_hz` with [`DEFAULT_REFERENCE`].
pub fn start_streaming_command(rate_hz: u32) -> Result<Vec<u8>, ProtocolError> {
    subscribe_command(DEFAULT_REFERENCE, Measurement::Imu6, rate_hz)
}

/// The start/stop sequence: enable notifications on the data characteristic first, then
/// subscribe; stop by unsubscribing.
pub fn stream_setup(
    measurement: Measurement,
    rate_hz: u32,
    reference: u8,
) -> Result<StreamSetup, ProtocolError> {
    let write = |bytes: Vec<u8>| GattWrite {
        char_uuid: COMMAND_CHAR_UUID,
        bytes,
        with_response: true,
        delay_after_ms: 0,
    };
    Ok(StreamSetup {
        family: Family::Movesense,
        service_uuid: SERVICE_UUID,
        notify_char: DATA_CHAR_UUID,
        before_subscribe: Vec::new(),
        after_subscribe: vec![write(subscribe_command(reference, measurement, rate_hz)?)],
        stop: vec![write(unsubscribe_command(reference).to_vec())],
    })
}

/// A decoded IMU data body.
#[derive(Debug, Clone, PartialEq)]
pub struct ImuBody {
    /// Sensor clock of the first sample, milliseconds (wraps at 2^32).
    pub timestamp_ms: u32,
    /// Samples in order; `device_time_s` is left `None` (the decoder fills it in).
    pub samples: Vec<DecodedSample>,
}

/// Whether `body` (after the 2-byte GSP header) is a whole IMU message: a timestamp plus at
/// least one complete sample in every block.
pub fn is_complete_body(body: &[u8], measurement: Measurement) -> bool {
    body.len() > TS_LEN && (body.len() - TS_LEN).is_multiple_of(measurement.sample_len())
}

/// Decodes an IMU data body (after the 2-byte GSP header): timestamp, then the blocks.
pub fn parse_imu_body(body: &[u8], measurement: Measurement) -> Result<ImuBody, ProtocolError> {
    let timestamp_ms = u32_at(body, 0).ok_or(ProtocolError::Truncated {
        family: Family::Movesense,
        what: "IMU message timestamp",
        offset: 0,
        needed: TS_LEN,
        available: body.len(),
    })?;
    if !is_complete_body(body, measurement) {
        return Err(ProtocolError::Unexpected {
            family: Family::Movesense,
            offset: TS_LEN,
            expected: format!(
                "a multiple of {} bytes of {:?} samples after the timestamp",
                measurement.sample_len(),
                measurement
            ),
            found: format!("{} bytes", body.len() - TS_LEN),
        });
    }
    let n = (body.len() - TS_LEN) / measurement.sample_len();
    let block = |b: usize, i: usize, what: &'static str| -> Result<Vector3<f64>, ProtocolError> {
        let off = TS_LEN + b * n * VEC_LEN + i * VEC_LEN;
        let v = f32x3_at(body, off).ok_or(ProtocolError::Truncated {
            family: Family::Movesense,
            what,
            offset: off,
            needed: VEC_LEN,
            available: body.len().saturating_sub(off),
        })?;
        finite_vec3(Family::Movesense, off, what, v)
    };
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let acc = block(0, i, "acceleration")?;
        let gyr_dps = block(1, i, "angular rate")?;
        let mut s = DecodedSample::new(acc, gyr_dps.map(f64::to_radians));
        if measurement == Measurement::Imu9 {
            s.mag_ut = Some(block(2, i, "magnetic field")?);
        }
        samples.push(s);
    }
    Ok(ImuBody {
        timestamp_ms,
        samples,
    })
}

/// Decodes a single-vector body (`/Meas/Acc`, `/Meas/Gyro`, `/Meas/Magn`): timestamp and N raw
/// vectors in the resource's own unit.
pub fn parse_vector_body(body: &[u8]) -> Result<(u32, Vec<Vector3<f64>>), ProtocolError> {
    let ts = u32_at(body, 0).ok_or(ProtocolError::Truncated {
        family: Family::Movesense,
        what: "vector message timestamp",
        offset: 0,
        needed: TS_LEN,
        available: body.len(),
    })?;
    let data = body.len() - TS_LEN;
    if data == 0 || !data.is_multiple_of(VEC_LEN) {
        return Err(ProtocolError::Unexpected {
            family: Family::Movesense,
            offset: TS_LEN,
            expected: "a multiple of 12 bytes of vectors after the timestamp".to_string(),
            found: format!("{data} bytes"),
        });
    }
    (0..data / VEC_LEN)
        .map(|i| {
            let off = TS_LEN + i * VEC_LEN;
            let v = f32x3_at(body, off).unwrap_or([f32::NAN; 3]);
            finite_vec3(Family::Movesense, off, "vector", v)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|v| (ts, v))
}

/// A command result notification (type 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Client reference of the command.
    pub reference: u8,
    /// HTTP-style status, when the body carries one (the HELLO reply of old firmware does not).
    pub status: Option<u16>,
    /// Bytes after the header.
    pub body: Vec<u8>,
}

/// Reads the status of a command result body. The sample firmware writes it big-endian
/// (507 = `01 FB`); either byte order is accepted when exactly one gives an HTTP status.
pub fn response_status(body: &[u8]) -> Option<u16> {
    let le = u16_at(body, 0)?;
    let be = le.swap_bytes();
    let http = |v: u16| (100..=599).contains(&v);
    if http(be) {
        Some(be)
    } else if http(le) {
        Some(le)
    } else {
        None
    }
}

/// Decoder configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovesenseConfig {
    /// The subscribed resource.
    pub measurement: Measurement,
    /// The subscribed rate, Hz (spaces the samples within a message).
    pub rate_hz: u32,
    /// Only data with this client reference is decoded; `None` accepts any.
    pub reference: Option<u8>,
    /// Longest notification the link carries (negotiated ATT MTU − 3). A complete-looking data
    /// message exactly this long may still have a continuation, so it is held until the next
    /// notification.
    pub max_notification_len: usize,
}

impl Default for MovesenseConfig {
    fn default() -> Self {
        MovesenseConfig {
            measurement: Measurement::Imu6,
            rate_hz: 104,
            reference: None,
            max_notification_len: MAX_NOTIFICATION_LEN,
        }
    }
}

/// GSP notification decoder with continuation (DATA_PART2) handling.
///
/// A data message whose body is a whole number of samples and shorter than
/// [`MovesenseConfig::max_notification_len`] is decoded at once. Otherwise it is held: a type-3
/// notification with the same reference completes it, and any other data message first releases
/// it (decoded if whole, reported as an error if not). Sample `i` of a message is timed
/// `timestamp + i / rate` (the first-sample convention of the official web client).
#[derive(Debug, Clone)]
pub struct MovesenseDecoder {
    config: MovesenseConfig,
    pending: Option<(u8, Vec<u8>)>,
    clock: WrapUnwrapper,
    last_response: Option<Response>,
    stats: DecoderStats,
}

impl MovesenseDecoder {
    /// A decoder for `config`.
    pub fn new(config: MovesenseConfig) -> Self {
        MovesenseDecoder {
            config,
            pending: None,
            clock: WrapUnwrapper::new(32),
            last_response: None,
            stats: DecoderStats::default(),
        }
    }

    /// Current configuration (updated by [`Decoder::observe_write`]).
    pub fn config(&self) -> MovesenseConfig {
        self.config
    }

    /// The most recent command result.
    pub fn last_response(&self) -> Option<&Response> {
        self.last_response.as_ref()
    }

    fn emit(&mut self, body: &[u8], out: &mut Vec<DecodedSample>) -> Result<(), ProtocolError> {
        let parsed = parse_imu_body(body, self.config.measurement)?;
        let t0_ms = self.clock.unwrap(parsed.timestamp_ms);
        let rate = f64::from(self.config.rate_hz.max(1));
        self.stats.samples += parsed.samples.len() as u64;
        for (i, mut s) in parsed.samples.into_iter().enumerate() {
            s.device_time_s = Some(t0_ms as f64 / 1000.0 + i as f64 / rate);
            out.push(s);
        }
        Ok(())
    }

    /// Releases a held message: decoded if whole, otherwise an error naming what is missing.
    fn release_pending(&mut self, out: &mut Vec<DecodedSample>) -> Result<(), ProtocolError> {
        match self.pending.take() {
            None => Ok(()),
            Some((_, body)) if is_complete_body(&body, self.config.measurement) => {
                self.emit(&body, out)
            }
            Some((_, body)) => {
                self.stats.bytes_skipped += body.len() as u64;
                Err(ProtocolError::Truncated {
                    family: Family::Movesense,
                    what: "data message (its DATA_PART2 continuation never came)",
                    offset: 0,
                    needed: body.len() + 1,
                    available: body.len(),
                })
            }
        }
    }

    fn push_inner(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<DecodedSample>,
    ) -> Result<(), ProtocolError> {
        let (&kind, &reference) = match bytes {
            [k, r, ..] => (k, r),
            _ => {
                return Err(ProtocolError::Truncated {
                    family: Family::Movesense,
                    what: "GSP notification header",
                    offset: 0,
                    needed: 2,
                    available: bytes.len(),
                });
            }
        };
        let body = &bytes[2..];
        match kind {
            TYPE_RESPONSE => {
                self.stats.packets += 1;
                let status = response_status(body);
                self.last_response = Some(Response {
                    reference,
                    status,
                    body: body.to_vec(),
                });
                match status {
                    Some(status) if status >= 400 => Err(ProtocolError::CommandRejected {
                        family: Family::Movesense,
                        reference,
                        status,
                    }),
                    _ => Ok(()),
                }
            }
            TYPE_DATA => {
                let released = self.release_pending(out);
                if self.config.reference.is_some_and(|r| r != reference) {
                    return released; // another client's subscription
                }
                let whole = is_complete_body(body, self.config.measurement);
                let result = if whole && bytes.len() < self.config.max_notification_len {
                    self.stats.packets += 1;
                    self.emit(body, out)
                } else {
                    self.pending = Some((reference, body.to_vec()));
                    Ok(())
                };
                released.and(result)
            }
            TYPE_DATA_PART2 => match self.pending.take() {
                Some((r, mut first)) if r == reference => {
                    first.extend_from_slice(body);
                    self.stats.packets += 1;
                    self.emit(&first, out)
                }
                other => {
                    self.pending = other;
                    self.stats.bytes_skipped += bytes.len() as u64;
                    Err(ProtocolError::Unexpected {
                        family: Family::Movesense,
                        offset: 0,
                        expected: format!(
                            "a DATA (2) notification before DATA_PART2 (3) with reference {reference}"
                        ),
                        found: "a DATA_PART2 without its first part".to_string(),
                    })
                }
            },
            other => {
                self.stats.bytes_skipped += bytes.len() as u64;
                Err(ProtocolError::Unexpected {
                    family: Family::Movesense,
                    offset: 0,
                    expected: "notification type 1 (result), 2 (data) or 3 (data part 2)"
                        .to_string(),
                    found: format!("{other}"),
                })
            }
        }
    }
}

impl Decoder for MovesenseDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<DecodedSample>) -> Result<(), ProtocolError> {
        self.stats.pushes += 1;
        let r = self.push_inner(bytes, out);
        if r.is_err() {
            self.stats.errors += 1;
        }
        r
    }

    fn family(&self) -> Family {
        Family::Movesense
    }

    fn observe_write(&mut self, bytes: &[u8]) {
        if let [CMD_SUBSCRIBE, reference, path @ ..] = bytes
            && let Ok(path) = std::str::from_utf8(path)
            && let Some((measurement, rate_hz)) = Measurement::parse_path(path)
        {
            self.config.measurement = measurement;
            self.config.rate_hz = rate_hz;
            self.config.reference = Some(*reference);
        }
    }

    fn flush(&mut self, out: &mut Vec<DecodedSample>) -> Result<(), ProtocolError> {
        let r = self.release_pending(out);
        if r.is_err() {
            self.stats.errors += 1;
        }
        r
    }

    fn reset(&mut self) {
        self.pending = None;
    }

    fn stats(&self) -> DecoderStats {
        self.stats
    }
}

/// Encodes an IMU message as the notifications a sensor would send: one DATA notification, or
/// DATA plus DATA_PART2 when longer than `max_notification_len` (for the simulator and tests).
/// Angular rate is given in rad/s and sent in °/s.
pub fn encode_imu_message(
    reference: u8,
    measurement: Measurement,
    timestamp_ms: u32,
    samples: &[DecodedSample],
    max_notification_len: usize,
) -> Vec<Vec<u8>> {
    let mut body = timestamp_ms.to_le_bytes().to_vec();
    let block_vector = |block: usize, s: &DecodedSample| match block {
        0 => s.acc_m_s2,
        1 => s.gyr_rad_s.map(f64::to_degrees),
        _ => s.mag_ut.unwrap_or_else(Vector3::zeros),
    };
    for block in 0..measurement.vectors() {
        for s in samples {
            for x in block_vector(block, s).iter() {
                body.extend_from_slice(&(*x as f32).to_le_bytes());
            }
        }
    }
    let max = max_notification_len.max(3);
    let mut first = vec![TYPE_DATA, reference];
    let split = body.len().min(max - 2);
    first.extend_from_slice(&body[..split]);
    let mut out = vec![first];
    // Like the firmware, at most one continuation.
    if split < body.len() {
        let mut second = vec![TYPE_DATA_PART2, reference];
        second.extend_from_slice(&body[split..]);
        out.push(second);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::from_hex;

    // Real GSP DATA bodies (2-byte header stripped) captured from a Movesense sensor, with the
    // sensor's own JSON decode: sensein/movesense-py tests/fixtures/validation/fixture.json,
    // cited in ble-sensors.md §4.5. Hand-typed here as short test vectors.
    const IMU6_52: &str = "aca1020094b578bf399b8840cdb20d4155ff7cbf6a60884092c70c4182627cbfa2e988405da00c418bf871bf71248940c38c0c4148e17abf713daabf3333b3bec3f568bf713daabf3e0ad7beae4721bff628bcbf3e0ad7beae4721bf3333b3bf3e0ad7be";
    const IMU9_52: &str = "aca1020094b578bf399b8840cdb20d4155ff7cbf6a60884092c70c4182627cbfa2e988405da00c418bf871bf71248940c38c0c4148e17abf713daabf3333b3bec3f568bf713daabf3e0ad7beae4721bff628bcbf3e0ad7beae4721bf3333b3bf3e0ad7bede9cfe41708636c2a5026cc10a4a0a42750733c293a355c19bc8fd411b8938c287f75fc17cfef541ff742fc2475774c1";
    const ACC_52: &str = "03de010055ab8bbf69f78d4081dd0a412b1387bf975a8d4020840b41e79190bf076d8e401bf10a412b1387bf316e8d40b9660b41";
    const MAGN_13: &str = "aca10200de9cfe41708636c2a5026cc1";

    // The JSON "ArrayAcc" / "ArrayGyro" (°/s) / "ArrayMagn" (µT) values of the fixture.
    const IMU_ACC: [[f64; 3]; 4] = [
        [-0.9715206623077393, 4.268948078155518, 8.856152534484863],
        [-0.9882710576057434, 4.2617692947387695, 8.798723220825195],
        [-0.9858781099319458, 4.278519630432129, 8.789151191711426],
        [-0.9451987147331238, 4.285698413848877, 8.7843656539917],
    ];
    const IMU_GYRO_DPS: [[f64; 3]; 4] = [
        [
            -0.9800000190734863,
            -1.3300000429153442,
            -0.3499999940395355,
        ],
        [
            -0.9100000262260437,
            -1.3300000429153442,
            -0.42000001668930054,
        ],
        [
            -0.6299999952316284,
            -1.4700000286102295,
            -0.42000001668930054,
        ],
        [
            -0.6299999952316284,
            -1.399999976158142,
            -0.42000001668930054,
        ],
    ];
    const IMU_MAGN_UT: [[f64; 3]; 4] = [
        [31.826595306396484, -45.63128662109375, -14.750645637512207],
        [34.572303771972656, -44.75728225708008, -13.352435111999512],
        [31.722951889038086, -46.13389205932617, -13.997931480407715],
        [30.74925994873047, -43.864253997802734, -15.271307945251465],
    ];

    fn notification(kind: u8, reference: u8, body: &[u8]) -> Vec<u8> {
        let mut n = vec![kind, reference];
        n.extend_from_slice(body);
        n
    }

    fn assert_fixture_values(samples: &[DecodedSample], with_mag: bool) {
        assert_eq!(samples.len(), 4);
        for (i, s) in samples.iter().enumerate() {
            assert_eq!(s.acc_m_s2, Vector3::from(IMU_ACC[i]), "acc sample {i}");
            let gyr = Vector3::from(IMU_GYRO_DPS[i]).map(f64::to_radians);
            assert!((s.gyr_rad_s - gyr).amax() < 1e-15, "gyro sample {i}");
            if with_mag {
                assert_eq!(
                    s.mag_ut,
                    Some(Vector3::from(IMU_MAGN_UT[i])),
                    "mag sample {i}"
                );
            } else {
                assert_eq!(s.mag_ut, None);
            }
            // Timestamp 172460 ms is the first sample; 52 Hz spacing.
            let t = s.device_time_s.unwrap();
            assert!(
                (t - (172.460 + i as f64 / 52.0)).abs() < 1e-9,
                "time sample {i}"
            );
        }
    }

    #[test]
    fn real_imu6_fixture_decodes_to_the_sensor_json() {
        let body = from_hex(IMU6_52).unwrap();
        assert_eq!(body.len(), 100);
        let mut d = MovesenseDecoder::new(MovesenseConfig {
            measurement: Measurement::Imu6,
            rate_hz: 52,
            ..Default::default()
        });
        let mut out = Vec::new();
        d.push(&notification(TYPE_DATA, 99, &body), &mut out)
            .unwrap();
        assert_fixture_values(&out, false);
    }

    #[test]
    fn real_imu9_fixture_decodes_to_the_sensor_json() {
        let body = from_hex(IMU9_52).unwrap();
        assert_eq!(body.len(), 148);
        let mut d = MovesenseDecoder::new(MovesenseConfig::default());
        // The subscription write configures IMU9 at 52 Hz.
        d.observe_write(&subscribe_command(7, Measurement::Imu9, 52).unwrap());
        assert_eq!(d.config().measurement, Measurement::Imu9);
        assert_eq!(d.config().rate_hz, 52);
        let mut out = Vec::new();
        // 150 bytes < 155: decoded at once.
        d.push(&notification(TYPE_DATA, 7, &body), &mut out)
            .unwrap();
        assert_fixture_values(&out, true);
        // Another reference is ignored.
        d.push(&notification(TYPE_DATA, 8, &body), &mut out)
            .unwrap();
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn real_single_vector_fixtures() {
        // /Meas/Acc/52: ts 122371 ms, first sample (−1.0911661, 4.4364514, 8.6790781) m/s².
        let (ts, v) = parse_vector_body(&from_hex(ACC_52).unwrap()).unwrap();
        assert_eq!(ts, 122371);
        assert_eq!(v.len(), 4);
        assert_eq!(
            v[0],
            Vector3::new(-1.0911661386489868, 4.436451435089111, 8.679078102111816)
        );
        assert_eq!(
            v[3],
            Vector3::new(-1.0552724599838257, 4.419701099395752, 8.712578773498535)
        );
        // /Meas/Magn/13: ts 172460, (31.826595, −45.631287, −14.750646) µT.
        let (ts, v) = parse_vector_body(&from_hex(MAGN_13).unwrap()).unwrap();
        assert_eq!(ts, 172460);
        assert_eq!(v, vec![Vector3::from(IMU_MAGN_UT[0])]);
    }

    #[test]
    fn continuation_packets_are_joined() {
        let body = from_hex(IMU9_52).unwrap();
        // A link with a 100-byte notification limit splits the 150-byte message.
        let mut d = MovesenseDecoder::new(MovesenseConfig {
            measurement: Measurement::Imu9,
            rate_hz: 52,
            reference: Some(99),
            max_notification_len: 100,
        });
        let mut out = Vec::new();
        d.push(&notification(TYPE_DATA, 99, &body[..98]), &mut out)
            .unwrap();
        assert!(out.is_empty());
        d.push(&notification(TYPE_DATA_PART2, 99, &body[98..]), &mut out)
            .unwrap();
        assert_fixture_values(&out, true);
        assert_eq!(d.stats().samples, 4);
    }

    #[test]
    fn commands() {
        // ble-sensors.md §4.2: subscribe IMU9 at 52 Hz with ref 99 = `01 63` + ASCII path; stop = `02 63`.
        let mut want = vec![0x01, 0x63];
        want.extend_from_slice(b"/Meas/IMU9/52");
        assert_eq!(subscribe_command(99, Measurement::Imu9, 52).unwrap(), want);
        assert_eq!(unsubscribe_command(99), [0x02, 0x63]);
        assert_eq!(hello_command(1), [0x00, 0x01]);
        let mut want = vec![0x01, 0x63];
        want.extend_from_slice(b"/Meas/IMU6/104");
        assert_eq!(start_streaming_command(104).unwrap(), want);
        assert!(subscribe_command(0, Measurement::Imu6, 52).is_err());
        let err = subscribe_command(1, Measurement::Imu6, 100).unwrap_err();
        assert!(
            err.to_string().contains("unsupported IMU rate 100 Hz"),
            "{err}"
        );
        let setup = stream_setup(Measurement::Imu6, 52, 99).unwrap();
        assert_eq!(setup.notify_char, DATA_CHAR_UUID);
        assert_eq!(setup.stop[0].bytes, vec![0x02, 0x63]);
        assert_eq!(
            Measurement::parse_path("/Meas/IMU6/208"),
            Some((Measurement::Imu6, 208))
        );
        assert_eq!(Measurement::parse_path("/Meas/Acc/52"), None);
    }

    #[test]
    fn responses_and_errors() {
        let mut d = MovesenseDecoder::new(MovesenseConfig::default());
        let mut out = Vec::new();
        // Sample firmware: HELLO reply has no status; 507 (no free slot) is sent as `01 FB`.
        d.push(b"\x01\x05Hello", &mut out).unwrap();
        assert_eq!(d.last_response().unwrap().status, None);
        let err = d.push(&[0x01, 0x63, 0x01, 0xFB], &mut out).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::CommandRejected {
                family: Family::Movesense,
                reference: 0x63,
                status: 507
            }
        );
        // 200 OK in little-endian order.
        d.push(&[0x01, 0x63, 0xC8, 0x00], &mut out).unwrap();
        assert_eq!(d.last_response().unwrap().status, Some(200));
        let err = d.push(&[0x03, 0x63, 0, 0], &mut out).unwrap_err();
        assert!(
            err.to_string()
                .contains("DATA_PART2 without its first part"),
            "{err}"
        );
        let err = d.push(&[0x09, 0x63], &mut out).unwrap_err();
        assert!(err.to_string().contains("byte offset 0"), "{err}");
        let err = d.push(&[0x02], &mut out).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::Truncated {
                needed: 2,
                available: 1,
                ..
            }
        ));
        // A first part without continuation is reported when the next message arrives, and the
        // next message is still decoded.
        let body = from_hex(IMU6_52).unwrap();
        d.push(&notification(TYPE_DATA, 1, &body[..50]), &mut out)
            .unwrap();
        let err = d
            .push(&notification(TYPE_DATA, 1, &body), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("continuation never came"), "{err}");
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|s| s.acc_m_s2.iter().all(|x| x.is_finite())));
        // NaN is rejected with its offset.
        let mut bad = body.clone();
        bad[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
        let err = parse_imu_body(&bad, Measurement::Imu6).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::NonFinite {
                family: Family::Movesense,
                offset: 4,
                what: "acceleration"
            }
        );
    }

    #[test]
    fn full_length_message_waits_for_a_possible_continuation() {
        // A whole message that fills the notification exactly is held until the next notification.
        let samples: Vec<DecodedSample> = (0..6)
            .map(|i| DecodedSample::new(Vector3::new(i as f64, 0.0, 9.81), Vector3::zeros()))
            .collect();
        let msgs = encode_imu_message(5, Measurement::Imu6, 1000, &samples, 150);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].len(), 2 + 4 + 6 * 24);
        let mut d = MovesenseDecoder::new(MovesenseConfig {
            max_notification_len: 150,
            ..Default::default()
        });
        let mut out = Vec::new();
        d.push(&msgs[0], &mut out).unwrap();
        assert!(out.is_empty());
        d.flush(&mut out).unwrap();
        assert_eq!(out.len(), 6);
        assert_eq!(out[5].acc_m_s2.x, 5.0);
    }

    #[test]
    fn encoder_round_trip_with_wrapping_clock() {
        let samples: Vec<DecodedSample> = (0..8)
            .map(|i| {
                let mut s = DecodedSample::new(
                    Vector3::new(0.5 * i as f64, -1.0, 9.75),
                    Vector3::new(0.01 * i as f64, 0.2, -0.3),
                );
                s.mag_ut = Some(Vector3::new(20.0, -5.0, 40.0));
                s
            })
            .collect();
        let mut d = MovesenseDecoder::new(MovesenseConfig {
            measurement: Measurement::Imu9,
            rate_hz: 104,
            reference: Some(3),
            max_notification_len: MAX_NOTIFICATION_LEN,
        });
        let mut out = Vec::new();
        for ts in [u32::MAX - 10, 66] {
            for n in encode_imu_message(3, Measurement::Imu9, ts, &samples, MAX_NOTIFICATION_LEN) {
                d.push(&n, &mut out).unwrap();
            }
        }
        assert_eq!(out.len(), 16);
        for (got, want) in out.iter().zip(samples.iter().chain(samples.iter())) {
            assert!((got.acc_m_s2 - want.acc_m_s2).amax() < 1e-6);
            assert!((got.gyr_rad_s - want.gyr_rad_s).amax() < 1e-6);
            assert!((got.mag_ut.unwrap() - want.mag_ut.unwrap()).amax() < 1e-5);
        }
        // The second message is after the u32 wrap: 77 ms later, not 49 days earlier.
        let dt = out[8].device_time_s.unwrap() - out[0].device_time_s.unwrap();
        assert!((dt - 0.077).abs() < 1e-9, "{dt}");
    }
}
