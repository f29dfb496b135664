//! The raw notification log (DESIGN 3.2): JSON Lines, a header object then one object per
//! notification, write, read, connection event or marker, in the order they happened.
//!
//! Field reference: `firmware-protocol/README.md`, "Raw notification log". The writer formats
//! every line itself so that a record reads back to exactly the same values (host times are
//! whole microseconds, see [`round_to_us`]); the reader tolerates a truncated last line, which is
//! what a crash in the middle of a write leaves.

use super::RecordError;
use crate::limits;
use crate::model::SensorRole;
use crate::protocol::{Family, from_hex, to_hex};
use serde_json::Value;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The key of the header object that identifies a raw log (its value is the format version).
pub const FORMAT_KEY: &str = "stretchwatch_raw";

/// Rounds a host time to whole microseconds, the resolution of the log; live mode uses the rounded
/// value too, so a replay of the log sees exactly the times live mode used.
pub fn round_to_us(t_s: f64) -> f64 {
    (t_s * 1e6).round() / 1e6
}

/// One device named in the header.
#[derive(Debug, Clone, PartialEq)]
pub struct RawDevice {
    /// Body segment the device is on.
    pub role: SensorRole,
    /// Sensor family.
    pub family: Family,
    /// BLE address (or platform id).
    pub address: String,
    /// Advertised name, if any.
    pub name: Option<String>,
    /// Requested output rate, Hz.
    pub rate_hz: u32,
    /// Negotiated ATT MTU, if known.
    pub mtu: Option<u16>,
}

/// The header object (first line).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawLogHeader {
    /// Wall-clock time of `t_host_s = 0`, Unix seconds (informational).
    pub started_unix_s: f64,
    /// Devices of the session.
    pub devices: Vec<RawDevice>,
    /// IMU CSV header keys known at the start (`side`, `stretch`), as `key: value` pairs.
    pub keys: Vec<(String, String)>,
}

impl RawLogHeader {
    /// The device playing `role`.
    pub fn device(&self, role: SensorRole) -> Option<&RawDevice> {
        self.devices.iter().find(|d| d.role == role)
    }
}

/// Direction of a data record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDir {
    /// Notification from the device.
    Rx,
    /// Write by the host.
    Tx,
    /// Value read by the host.
    Read,
}

impl DataDir {
    /// Name used in the log (`rx`, `tx`, `read`).
    pub fn as_str(self) -> &'static str {
        match self {
            DataDir::Rx => "rx",
            DataDir::Tx => "tx",
            DataDir::Read => "read",
        }
    }
}

/// A connection event of one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnEvent {
    /// The link is up (decoders drop partial frames here).
    Connected,
    /// Notifications are enabled and the start commands were written.
    Subscribed,
    /// The link dropped or the stream went silent.
    Disconnected,
    /// One reconnection attempt failed; more follow.
    ReconnectFailed,
}

impl ConnEvent {
    /// Name used in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnEvent::Connected => "connected",
            ConnEvent::Subscribed => "subscribed",
            ConnEvent::Disconnected => "disconnected",
            ConnEvent::ReconnectFailed => "reconnect_failed",
        }
    }

    fn parse(s: &str) -> Option<ConnEvent> {
        [
            ConnEvent::Connected,
            ConnEvent::Subscribed,
            ConnEvent::Disconnected,
            ConnEvent::ReconnectFailed,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

/// What a record carries.
#[derive(Debug, Clone, PartialEq)]
pub enum RawEntry {
    /// Bytes from or to a characteristic.
    Data {
        /// Device role.
        device: SensorRole,
        /// Device family.
        family: Family,
        /// Direction.
        dir: DataDir,
        /// Characteristic UUID, canonical lower case.
        char_uuid: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A connection event.
    Event {
        /// Device role.
        device: SensorRole,
        /// Device family.
        family: Family,
        /// What happened.
        event: ConnEvent,
    },
    /// An IMU CSV header key decided during the session (calibration windows, block markers):
    /// `{"dir": "marker", "key": "calibration.static", "value": "3.1 8.1"}`.
    Marker {
        /// Header key, as in DESIGN 3.1.
        key: String,
        /// Value, as in DESIGN 3.1.
        value: String,
    },
}

/// One line after the header.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// Host time, seconds since the header's start, whole microseconds.
    pub t_host_s: f64,
    /// What happened.
    pub entry: RawEntry,
}

fn json_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Formats the header object as one line (without the newline).
pub fn header_line(h: &RawLogHeader) -> String {
    let mut s = format!(
        "{{\"{FORMAT_KEY}\": 1, \"started_unix_s\": {:.6}, \"devices\": [",
        h.started_unix_s
    );
    for (i, d) in h.devices.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(
            s,
            "{{\"device\": \"{}\", \"family\": \"{}\", \"address\": {}, \"name\": {}, \"rate_hz\": {}, \"mtu\": {}}}",
            d.role,
            d.family,
            json_str(&d.address),
            d.name.as_deref().map(json_str).unwrap_or("null".into()),
            d.rate_hz,
            d.mtu.map(|m| m.to_string()).unwrap_or("null".into())
        );
    }
    s.push(']');
    for (k, v) in &h.keys {
        let _ = write!(s, ", {}: {}", json_str(k), json_str(v));
    }
    s.push('}');
    s
}

/// Formats one record as one line (without the newline).
pub fn record_line(r: &RawRecord) -> String {
    let t = r.t_host_s;
    match &r.entry {
        RawEntry::Data {
            device,
            family,
            dir,
            char_uuid,
            bytes,
        } => format!(
            "{{\"t_host_s\": {t:.6}, \"device\": \"{device}\", \"family\": \"{family}\", \"char\": {}, \"dir\": \"{}\", \"hex\": \"{}\"}}",
            json_str(char_uuid),
            dir.as_str(),
            to_hex(bytes)
        ),
        RawEntry::Event {
            device,
            family,
            event,
        } => format!(
            "{{\"t_host_s\": {t:.6}, \"device\": \"{device}\", \"family\": \"{family}\", \"dir\": \"event\", \"event\": \"{}\"}}",
            event.as_str()
        ),
        RawEntry::Marker { key, value } => format!(
            "{{\"t_host_s\": {t:.6}, \"dir\": \"marker\", \"key\": {}, \"value\": {}}}",
            json_str(key),
            json_str(value)
        ),
    }
}

/// Writes a raw log line by line; call [`flush`](Self::flush) to make it durable.
pub struct RawLogWriter<W: Write> {
    out: W,
}

impl RawLogWriter<BufWriter<File>> {
    /// Creates `path` and writes the header (flushed at once).
    pub fn create(path: &Path, header: &RawLogHeader) -> Result<Self, RecordError> {
        let io = |source| RecordError::Io {
            file: path.to_path_buf(),
            source,
        };
        let f = File::create(path).map_err(io)?;
        let mut w = Self::new(BufWriter::new(f), header).map_err(io)?;
        w.flush().map_err(io)?;
        Ok(w)
    }
}

impl<W: Write> RawLogWriter<W> {
    /// Writes the header line.
    pub fn new(mut out: W, header: &RawLogHeader) -> std::io::Result<Self> {
        writeln!(out, "{}", header_line(header))?;
        Ok(RawLogWriter { out })
    }

    /// Writes one record.
    pub fn write(&mut self, r: &RawRecord) -> std::io::Result<()> {
        writeln!(self.out, "{}", record_line(r))
    }

    /// Flushes buffered lines.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Whether `first_line` is a raw log header (a JSON object with the format key).
pub fn is_raw_log_line(first_line: &str) -> bool {
    let t = first_line.trim_start();
    t.starts_with('{') && t.contains(FORMAT_KEY)
}

/// Streaming reader of a raw log.
pub struct RawLogReader<R: BufRead> {
    input: R,
    path: PathBuf,
    line_no: usize,
    header: RawLogHeader,
    buf: String,
    truncated_tail: bool,
}

impl RawLogReader<BufReader<File>> {
    /// Opens `path` and reads the header.
    pub fn open(path: &Path) -> Result<Self, RecordError> {
        let f = File::open(path).map_err(|source| RecordError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        Self::new(BufReader::new(f), path)
    }
}

impl<R: BufRead> RawLogReader<R> {
    /// Reads the header from `input`; `path` names the source in errors.
    pub fn new(input: R, path: &Path) -> Result<Self, RecordError> {
        let mut r = RawLogReader {
            input,
            path: path.to_path_buf(),
            line_no: 0,
            header: RawLogHeader::default(),
            buf: String::new(),
            truncated_tail: false,
        };
        if !r.read_line()? {
            return Err(r.err(1, "file is empty; expected a raw-log header object".into()));
        }
        let v: Value = serde_json::from_str(&r.buf)
            .map_err(|e| r.err(1, format!("header is not a JSON object: {e}")))?;
        r.header = parse_header(&v).map_err(|m| r.err(1, m))?;
        Ok(r)
    }

    /// The header.
    pub fn header(&self) -> &RawLogHeader {
        &self.header
    }

    /// Whether the file ended in a partial line that was ignored (a crash mid-write).
    pub fn truncated_tail(&self) -> bool {
        self.truncated_tail
    }

    fn err(&self, line: usize, message: String) -> RecordError {
        RecordError::Parse {
            file: self.path.clone(),
            line,
            column: None,
            message,
        }
    }

    fn read_line(&mut self) -> Result<bool, RecordError> {
        self.buf.clear();
        let n = self
            .input
            .read_line(&mut self.buf)
            .map_err(|source| RecordError::Io {
                file: self.path.clone(),
                source,
            })?;
        if n == 0 {
            return Ok(false);
        }
        self.line_no += 1;
        Ok(true)
    }

    /// The next record, `Ok(None)` at the end.
    pub fn next_record(&mut self) -> Result<Option<RawRecord>, RecordError> {
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            let complete = self.buf.ends_with('\n');
            let line = self.buf.trim();
            if line.is_empty() {
                continue;
            }
            let parsed = serde_json::from_str::<Value>(line)
                .map_err(|e| format!("not a JSON object: {e}"))
                .and_then(|v| parse_record(&v));
            return match parsed {
                Ok(r) => Ok(Some(r)),
                Err(_) if !complete => {
                    self.truncated_tail = true;
                    Ok(None)
                }
                Err(m) => Err(self.err(self.line_no, m)),
            };
        }
    }
}

impl<R: BufRead> Iterator for RawLogReader<R> {
    type Item = Result<RawRecord, RecordError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, String> {
    v.get(key).ok_or_else(|| format!("missing field '{key}'"))
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    field(v, key)?
        .as_str()
        .ok_or_else(|| format!("field '{key}' must be a string"))
}

fn parse_header(v: &Value) -> Result<RawLogHeader, String> {
    let version = v
        .get(FORMAT_KEY)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("first line lacks \"{FORMAT_KEY}\": 1 (not a raw log)"))?;
    if version != 1 {
        return Err(format!(
            "unsupported raw-log version {version} (expected 1)"
        ));
    }
    let mut h = RawLogHeader {
        started_unix_s: v
            .get("started_unix_s")
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        ..Default::default()
    };
    let devices = field(v, "devices")?
        .as_array()
        .ok_or("field 'devices' must be an array")?;
    for d in devices {
        let role: SensorRole = str_field(d, "device")?.parse()?;
        let family: Family = str_field(d, "family")?
            .parse()
            .map_err(|e: crate::protocol::ProtocolError| e.to_string())?;
        h.devices.push(RawDevice {
            role,
            family,
            address: d
                .get("address")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            name: d.get("name").and_then(Value::as_str).map(str::to_string),
            rate_hz: match d.get("rate_hz") {
                None | Some(Value::Null) => family.default_rate_hz(),
                Some(v) => device_rate_hz(v, role)?,
            },
            mtu: match d.get("mtu") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_u64()
                        .and_then(|m| u16::try_from(m).ok())
                        .filter(|m| *m >= 23)
                        .ok_or_else(|| {
                            format!("{role} device 'mtu': expected 23 to 65535 bytes, found {v}")
                        })?,
                ),
            },
        });
    }
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            if matches!(k.as_str(), FORMAT_KEY | "started_unix_s" | "devices") {
                continue;
            }
            if let Some(s) = val.as_str() {
                h.keys.push((k.clone(), s.to_string()));
            }
        }
    }
    Ok(h)
}

/// A device's nominal rate: a whole number of Hz inside [`limits::RATE_HZ`].
fn device_rate_hz(v: &Value, role: SensorRole) -> Result<u32, String> {
    v.as_u64()
        .filter(|r| limits::RATE_HZ.contains(&(*r as f64)))
        .map(|r| r as u32)
        .ok_or_else(|| {
            format!(
                "{role} device 'rate_hz': expected a whole number of {} to {} Hz, found {v}",
                limits::RATE_HZ.start(),
                limits::RATE_HZ.end()
            )
        })
}

fn parse_record(v: &Value) -> Result<RawRecord, String> {
    let t_host_s = field(v, "t_host_s")?
        .as_f64()
        .ok_or("field 't_host_s' must be a number")?;
    // Host times count from the start of the recording; anything beyond the limit is corrupt
    // and would overflow the clock mapping.
    if !limits::within_time(t_host_s) {
        return Err(format!(
            "field 't_host_s': expected seconds within ±{:.0e}, found {t_host_s}",
            limits::MAX_TIME_S
        ));
    }
    let dir = str_field(v, "dir")?;
    if dir == "marker" {
        return Ok(RawRecord {
            t_host_s,
            entry: RawEntry::Marker {
                key: str_field(v, "key")?.to_string(),
                value: str_field(v, "value")?.to_string(),
            },
        });
    }
    if !matches!(dir, "rx" | "tx" | "read" | "event") {
        return Err(format!(
            "unknown dir '{dir}' (expected rx, tx, read, event or marker)"
        ));
    }
    let device: SensorRole = str_field(v, "device")?.parse()?;
    let family: Family = str_field(v, "family")?
        .parse()
        .map_err(|e: crate::protocol::ProtocolError| e.to_string())?;
    let entry = match dir {
        "event" => {
            let name = str_field(v, "event")?;
            let event = ConnEvent::parse(name).ok_or_else(|| {
                format!("unknown event '{name}' (expected connected, subscribed, disconnected or reconnect_failed)")
            })?;
            RawEntry::Event {
                device,
                family,
                event,
            }
        }
        _ => {
            let hex = str_field(v, "hex")?;
            let bytes =
                from_hex(hex).ok_or_else(|| format!("field 'hex' is not hex bytes: '{hex}'"))?;
            RawEntry::Data {
                device,
                family,
                dir: match dir {
                    "rx" => DataDir::Rx,
                    "tx" => DataDir::Tx,
                    _ => DataDir::Read,
                },
                char_uuid: str_field(v, "char")?.to_ascii_lowercase(),
                bytes,
            }
        }
    };
    Ok(RawRecord { t_host_s, entry })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_log() -> (RawLogHeader, Vec<RawRecord>) {
        let header = RawLogHeader {
            started_unix_s: 1767225600.125,
            devices: vec![RawDevice {
                role: SensorRole::Thigh,
                family: Family::WitMotion,
                address: "E4:5F:01:AA:BB:CC".into(),
                name: Some("WT901BLE68".into()),
                rate_hz: 100,
                mtu: None,
            }],
            keys: vec![("stretch".into(), "supine".into())],
        };
        let recs = vec![
            RawRecord {
                t_host_s: 0.5,
                entry: RawEntry::Event {
                    device: SensorRole::Thigh,
                    family: Family::WitMotion,
                    event: ConnEvent::Connected,
                },
            },
            RawRecord {
                t_host_s: round_to_us(12.345_678_4),
                entry: RawEntry::Data {
                    device: SensorRole::Thigh,
                    family: Family::WitMotion,
                    dir: DataDir::Rx,
                    char_uuid: "0000ffe4-0000-1000-8000-00805f9a34fb".into(),
                    bytes: vec![0x55, 0x61, 0xd1, 0x00],
                },
            },
            RawRecord {
                t_host_s: 13.0,
                entry: RawEntry::Marker {
                    key: "marker".into(),
                    value: "13 block.start".into(),
                },
            },
        ];
        (header, recs)
    }

    #[test]
    fn round_trip_and_documented_example() {
        let (header, recs) = sample_log();
        let mut w = RawLogWriter::new(Vec::new(), &header).unwrap();
        for r in &recs {
            w.write(r).unwrap();
        }
        let text = String::from_utf8(w.out).unwrap();
        assert!(text.lines().nth(2).unwrap().starts_with(
            "{\"t_host_s\": 12.345678, \"device\": \"thigh\", \"family\": \"witmotion\", \"char\": \"0000ffe4-0000-1000-8000-00805f9a34fb\", \"dir\": \"rx\", \"hex\": \"5561d100\"}"
        ));
        assert!(is_raw_log_line(text.lines().next().unwrap()));
        let mut r = RawLogReader::new(text.as_bytes(), Path::new("mem")).unwrap();
        assert_eq!(r.header(), &header);
        let back: Vec<RawRecord> = r.by_ref().map(Result::unwrap).collect();
        assert_eq!(back, recs);
        assert!(!r.truncated_tail());
    }

    #[test]
    fn truncated_last_line_is_ignored_but_a_bad_middle_line_is_an_error() {
        let (header, recs) = sample_log();
        let mut w = RawLogWriter::new(Vec::new(), &header).unwrap();
        for r in &recs {
            w.write(r).unwrap();
        }
        let mut text = String::from_utf8(w.out).unwrap();
        text.push_str("{\"t_host_s\": 14.0, \"dev");
        let mut r = RawLogReader::new(text.as_bytes(), Path::new("mem")).unwrap();
        assert_eq!(r.by_ref().count(), 3);
        assert!(r.truncated_tail());

        let bad = format!(
            "{}\n{{\"t_host_s\": 1.0, \"dir\": \"sideways\"}}\n",
            header_line(&header)
        );
        let e = RawLogReader::new(bad.as_bytes(), Path::new("x.jsonl"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.jsonl:2: unknown dir 'sideways' (expected rx, tx, read, event or marker)"
        );
    }
}
