//! Streaming reader and writer of IMU CSV v1 (DESIGN 3.1): one line in memory at a time.

use super::{RecordError, RecordingHeader};
use crate::model::{ImuSample, SensorRole};
use nalgebra::Vector3;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The mandatory first line of an IMU CSV v1 file.
pub const FORMAT_LINE: &str = "# stretchwatch-imu-csv v1";

const REQUIRED: [&str; 8] = [
    "t_s", "sensor", "ax_m_s2", "ay_m_s2", "az_m_s2", "gx_rad_s", "gy_rad_s", "gz_rad_s",
];
const MAG: [&str; 3] = ["mx_uT", "my_uT", "mz_uT"];
/// Most columns a recording may have (8 required, 3 magnetometer, the rest ignored).
const MAX_COLUMNS: usize = 32;

/// Streaming reader: parses the header on open, then yields samples one by one.
pub struct ImuCsvReader<R: BufRead> {
    input: R,
    path: PathBuf,
    header: RecordingHeader,
    /// Column index of each required field, then the optional magnetometer columns.
    cols: [usize; 11],
    has_mag: bool,
    n_cols: usize,
    line_no: usize,
    /// Line of the column line, for the message when it appears again.
    columns_line: usize,
    buf: String,
    last_t_s: f64,
    /// Latest time stamp and its line, per sensor: each sensor's times must increase.
    last_by_role: [(f64, usize); 3],
    skip_bad_rows: bool,
    skipped: usize,
    pending: Option<String>,
}

/// Any buffered input: a plain file or a gzip-compressed one.
pub type BoxedInput = Box<dyn BufRead + Send>;

impl ImuCsvReader<BoxedInput> {
    /// Opens a file (gzip-compressed files are recognised by their magic bytes) and parses its header.
    pub fn open(path: &Path, skip_bad_rows: bool) -> Result<Self, RecordError> {
        let io_err = |e| RecordError::Io {
            file: path.to_path_buf(),
            source: e,
        };
        let file = File::open(path).map_err(io_err)?;
        let mut buf = BufReader::with_capacity(1 << 16, file);
        let gz = buf.fill_buf().map_err(io_err)?.starts_with(&[0x1f, 0x8b]);
        let input: BoxedInput = if gz {
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::bufread::MultiGzDecoder::new(buf),
            ))
        } else {
            Box::new(buf)
        };
        Self::new(input, path, skip_bad_rows)
    }
}

impl<R: BufRead> ImuCsvReader<R> {
    /// Wraps any buffered input; `path` names it in errors.
    pub fn new(input: R, path: &Path, skip_bad_rows: bool) -> Result<Self, RecordError> {
        let mut r = ImuCsvReader {
            input,
            path: path.to_path_buf(),
            header: RecordingHeader::default(),
            cols: [0; 11],
            has_mag: false,
            n_cols: 0,
            line_no: 0,
            columns_line: 0,
            buf: String::with_capacity(256),
            last_t_s: f64::NEG_INFINITY,
            last_by_role: [(f64::NEG_INFINITY, 0); 3],
            skip_bad_rows,
            skipped: 0,
            pending: None,
        };
        r.read_header()?;
        Ok(r)
    }

    /// The header parsed so far (markers after the column line are appended as they are read).
    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// Number of malformed rows skipped (only with `skip_bad_rows`).
    pub fn skipped_rows(&self) -> usize {
        self.skipped
    }

    fn err(&self, line: usize, column: Option<&str>, message: String) -> RecordError {
        RecordError::Parse {
            file: self.path.clone(),
            line,
            column: column.map(str::to_string),
            message,
        }
    }

    /// Reads one line into `self.buf`; returns false at end of file. Records whether it ended with a newline.
    fn read_line(&mut self) -> Result<Option<bool>, RecordError> {
        self.buf.clear();
        let n = self
            .input
            .read_line(&mut self.buf)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => RecordError::Parse {
                    file: self.path.clone(),
                    line: self.line_no + 1,
                    column: None,
                    message: "line is not valid UTF-8 text".into(),
                },
                _ => RecordError::Io {
                    file: self.path.clone(),
                    source: e,
                },
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        let complete = self.buf.ends_with('\n');
        while self.buf.ends_with('\n') || self.buf.ends_with('\r') {
            self.buf.pop();
        }
        // A spreadsheet saves UTF-8 with a byte-order mark and pads comment lines with empty
        // cells ("# side: left,,,,,,,"); neither changes what the file says.
        if self.line_no == 1 && self.buf.starts_with('\u{feff}') {
            self.buf.drain(..'\u{feff}'.len_utf8());
        }
        if self.buf.starts_with('#') {
            let kept = self.buf.trim_end_matches([',', ' ', '\t']).len();
            self.buf.truncate(kept);
        }
        Ok(Some(complete))
    }

    fn read_header(&mut self) -> Result<(), RecordError> {
        match self.read_line()? {
            None => {
                return Err(self.err(
                    1,
                    None,
                    format!("file is empty; expected first line '{FORMAT_LINE}'"),
                ));
            }
            Some(_) if self.buf.trim_end() != FORMAT_LINE => {
                let found: String = self.buf.chars().take(40).collect();
                return Err(self.err(
                    1,
                    None,
                    format!("expected first line '{FORMAT_LINE}', found '{found}'"),
                ));
            }
            Some(_) => {}
        }
        loop {
            if self.read_line()?.is_none() {
                return Err(self.err(
                    self.line_no + 1,
                    None,
                    "file ends before the column line 't_s,sensor,ax_m_s2,...'".into(),
                ));
            }
            if let Some(rest) = self.buf.strip_prefix('#') {
                let rest = rest.trim();
                if rest.is_empty() {
                    continue;
                }
                let Some((k, v)) = rest.split_once(':') else {
                    return Err(self.err(
                        self.line_no,
                        None,
                        format!(
                            "expected a '# key: value' header line, found '{}'",
                            self.buf
                        ),
                    ));
                };
                let (k, v) = (k.trim().to_string(), v.trim().to_string());
                self.header
                    .apply(&k, &v)
                    .map_err(|m| self.err(self.line_no, None, format!("header key '{k}': {m}")))?;
                continue;
            }
            if self.buf.trim().is_empty() {
                continue;
            }
            return self.parse_columns();
        }
    }

    fn parse_columns(&mut self) -> Result<(), RecordError> {
        let names: Vec<&str> = self.buf.split(',').map(str::trim).collect();
        if names.len() > MAX_COLUMNS {
            return Err(self.err(
                self.line_no,
                None,
                format!(
                    "column line has {} columns; expected at most {MAX_COLUMNS}",
                    names.len()
                ),
            ));
        }
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) && (REQUIRED.contains(n) || MAG.contains(n)) {
                return Err(self.err(
                    self.line_no,
                    Some(n),
                    format!("column '{n}' appears twice in the column line"),
                ));
            }
        }
        for (i, req) in REQUIRED.iter().enumerate() {
            match names.iter().position(|n| n == req) {
                Some(p) => self.cols[i] = p,
                None => {
                    return Err(self.err(
                        self.line_no,
                        Some(req),
                        format!("column line lacks required column '{req}'"),
                    ));
                }
            }
        }
        let mag: Vec<Option<usize>> = MAG
            .iter()
            .map(|m| names.iter().position(|n| n == m))
            .collect();
        if mag.iter().all(Option::is_some) {
            self.has_mag = true;
            for (i, p) in mag.iter().enumerate() {
                self.cols[8 + i] = p.unwrap_or(0);
            }
        }
        self.n_cols = names.len();
        self.columns_line = self.line_no;
        Ok(())
    }

    /// A bad last line without a line end is a file cut off mid-row (a crash while recording):
    /// say so rather than describe the partial cell.
    fn truncated_or(&self, e: RecordError, complete: bool) -> RecordError {
        match e {
            RecordError::Parse { message, .. } if !complete && !message.contains("truncated") => {
                self.err(
                    self.line_no,
                    None,
                    "truncated last line (file ends mid-row)".into(),
                )
            }
            e => e,
        }
    }

    /// Whether the current line is the column line again (files concatenated by hand).
    fn is_column_line(&self) -> bool {
        self.buf.trim_start().starts_with("t_s")
            && self.buf.split(',').nth(1).map(str::trim) == Some("sensor")
    }

    /// Next sample, `Ok(None)` at end of file.
    pub fn next_sample(&mut self) -> Result<Option<ImuSample>, RecordError> {
        loop {
            let complete = match self.pending.take() {
                Some(line) => {
                    self.buf = line;
                    true
                }
                None => match self.read_line()? {
                    None => return Ok(None),
                    Some(c) => c,
                },
            };
            if let Some(rest) = self.buf.strip_prefix('#') {
                // Markers written while recording may follow the column line.
                if let Some((k, v)) = rest.trim().split_once(':') {
                    let (k, v) = (k.trim().to_string(), v.trim().to_string());
                    if let Err(m) = self.header.apply(&k, &v) {
                        let e = self.err(self.line_no, None, format!("header key '{k}': {m}"));
                        if self.skip_bad_rows {
                            self.skipped += 1;
                            continue;
                        }
                        return Err(e);
                    }
                }
                continue;
            }
            if self.buf.trim().is_empty() {
                continue;
            }
            if self.is_column_line() {
                let e = self.err(
                    self.line_no,
                    None,
                    format!(
                        "the column line appears again (first at line {}); expected a data row",
                        self.columns_line
                    ),
                );
                if self.skip_bad_rows {
                    self.skipped += 1;
                    continue;
                }
                return Err(e);
            }
            match self
                .parse_row(complete)
                .map_err(|e| self.truncated_or(e, complete))
            {
                Ok(s) => {
                    // An absurd time stamp (a corrupt row) is dropped downstream; it must not
                    // make every later row look as if time went backwards.
                    if crate::limits::within_time(s.t_s) {
                        self.last_t_s = s.t_s;
                        self.last_by_role[s.role.index()] = (s.t_s, self.line_no);
                    }
                    return Ok(Some(s));
                }
                Err(e) if self.skip_bad_rows => {
                    let _ = e;
                    self.skipped += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn parse_row(&self, complete: bool) -> Result<ImuSample, RecordError> {
        let line = self.line_no;
        // Fields are looked up by position without allocating: at most MAX_COLUMNS columns.
        // Fields are short, so a plain byte scan beats `split` (a memchr call per field); cells
        // are trimmed only when they start or end with whitespace.
        let mut fields: [&str; MAX_COLUMNS] = [""; MAX_COLUMNS];
        let mut n = 0;
        let text = self.buf.as_str();
        let mut start = 0;
        let bytes = text.as_bytes();
        for i in 0..=bytes.len() {
            if i == bytes.len() || bytes[i] == b',' {
                if n < fields.len() {
                    let f = &text[start..i];
                    let padded = f.as_bytes().first().is_some_and(u8::is_ascii_whitespace)
                        || f.as_bytes().last().is_some_and(u8::is_ascii_whitespace);
                    fields[n] = if padded { f.trim() } else { f };
                }
                n += 1;
                start = i + 1;
            }
        }
        if n > self.n_cols {
            return Err(self.err(
                line,
                None,
                format!(
                    "row has {n} fields; expected {} as in the column line (line {})",
                    self.n_cols, self.columns_line
                ),
            ));
        }
        let field = |i: usize, name: &str| -> Result<&str, RecordError> {
            let p = self.cols[i];
            if p >= n || p >= fields.len() {
                let msg = if complete {
                    format!(
                        "missing column '{name}' ({n} fields, expected {})",
                        self.n_cols
                    )
                } else {
                    "truncated last line (file ends mid-row)".to_string()
                };
                return Err(self.err(line, Some(name), msg));
            }
            Ok(fields[p])
        };
        let num = |i: usize, name: &str| -> Result<f64, RecordError> {
            let s = field(i, name)?;
            match parse_f64(s) {
                Ok(v) if v.is_finite() => Ok(v),
                _ if !complete && p_is_last(self.cols[i], n) => Err(self.err(
                    line,
                    Some(name),
                    format!("truncated last line (file ends mid-row at '{s}')"),
                )),
                _ => Err(self.err(
                    line,
                    Some(name),
                    format!("expected a finite number, found '{s}'"),
                )),
            }
        };
        let t_s = num(0, REQUIRED[0])?;
        let role: SensorRole = field(1, REQUIRED[1])?
            .parse()
            .map_err(|m: String| self.err(line, Some("sensor"), m))?;
        let acc = Vector3::new(
            num(2, REQUIRED[2])?,
            num(3, REQUIRED[3])?,
            num(4, REQUIRED[4])?,
        );
        let gyr = Vector3::new(
            num(5, REQUIRED[5])?,
            num(6, REQUIRED[6])?,
            num(7, REQUIRED[7])?,
        );
        let mag = if self.has_mag {
            // Empty magnetometer cells mean "not reported" for this row.
            let p = self.cols[8];
            if p < n && !fields[p].is_empty() {
                Some(Vector3::new(
                    num(8, MAG[0])?,
                    num(9, MAG[1])?,
                    num(10, MAG[2])?,
                ))
            } else {
                None
            }
        } else {
            None
        };
        if !complete && n < self.n_cols {
            return Err(self.err(
                line,
                None,
                format!(
                    "truncated last line ({n} of {} fields, no line end)",
                    self.n_cols
                ),
            ));
        }
        if t_s < self.last_t_s {
            return Err(self.err(
                line,
                Some("t_s"),
                format!(
                    "time goes backwards: {} is before the previous row's {}",
                    crate::limits::show(t_s),
                    crate::limits::show(self.last_t_s)
                ),
            ));
        }
        let (prev_t_s, prev_line) = self.last_by_role[role.index()];
        if t_s <= prev_t_s {
            return Err(self.err(
                line,
                Some("t_s"),
                format!(
                    "{role} time stamp {} repeats the {role} row at line {prev_line}; expected each sensor's times to increase",
                    crate::limits::show(t_s)
                ),
            ));
        }
        Ok(ImuSample {
            t_s,
            role,
            acc_m_s2: acc,
            gyr_rad_s: gyr,
            mag_ut: mag,
        })
    }
}

/// Parses a decimal number. Plain `[-]digits[.digits]` with a mantissa below 2^53 takes a fast path
/// that is exact (both the mantissa and the power of ten are exact doubles and IEEE division rounds
/// correctly, so the result equals `str::parse`); anything else goes to `str::parse`.
fn parse_f64(s: &str) -> Result<f64, std::num::ParseFloatError> {
    const POW10: [f64; 19] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18,
    ];
    let b = s.as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut mantissa: u64 = 0;
    let mut frac_digits: Option<usize> = None;
    let mut n_digits = 0usize;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                n_digits += 1;
                if let Some(f) = frac_digits.as_mut() {
                    *f += 1;
                }
            }
            b'.' if frac_digits.is_none() => frac_digits = Some(0),
            _ => return s.parse(),
        }
    }
    let frac = frac_digits.unwrap_or(0);
    if n_digits == 0 || n_digits > 18 || mantissa >= 1 << 53 || frac >= POW10.len() {
        return s.parse();
    }
    let v = mantissa as f64 / POW10[frac];
    Ok(if neg { -v } else { v })
}

fn p_is_last(p: usize, n: usize) -> bool {
    p + 1 == n
}

impl<R: BufRead> Iterator for ImuCsvReader<R> {
    type Item = Result<ImuSample, RecordError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_sample().transpose()
    }
}

/// Writer of IMU CSV v1; each row is written as it comes (call `flush` to make it durable).
pub struct ImuCsvWriter<W: Write> {
    out: W,
}

impl ImuCsvWriter<BufWriter<File>> {
    /// Creates a file and writes the header.
    pub fn create(path: &Path, header: &RecordingHeader) -> Result<Self, RecordError> {
        let f = File::create(path).map_err(|e| RecordError::Io {
            file: path.to_path_buf(),
            source: e,
        })?;
        Self::new(BufWriter::new(f), header).map_err(|e| RecordError::Io {
            file: path.to_path_buf(),
            source: e,
        })
    }
}

impl<W: Write> ImuCsvWriter<W> {
    /// Writes the format line, header lines and column line.
    pub fn new(mut out: W, header: &RecordingHeader) -> std::io::Result<Self> {
        writeln!(out, "{FORMAT_LINE}")?;
        for l in header.lines() {
            writeln!(out, "# {l}")?;
        }
        writeln!(out, "{}", REQUIRED.join(","))?;
        Ok(ImuCsvWriter { out })
    }

    /// Writes one sample row (magnetometer columns are not written).
    pub fn write(&mut self, s: &ImuSample) -> std::io::Result<()> {
        writeln!(
            self.out,
            "{:.6},{},{:.3},{:.3},{:.3},{:.5},{:.5},{:.5}",
            s.t_s,
            s.role,
            s.acc_m_s2.x,
            s.acc_m_s2.y,
            s.acc_m_s2.z,
            s.gyr_rad_s.x,
            s.gyr_rad_s.y,
            s.gyr_rad_s.z
        )
    }

    /// Writes one sample row with every value in its shortest exact form, so reading the row
    /// back gives the same numbers bit for bit (what a live recording needs to replay exactly).
    pub fn write_exact(&mut self, s: &ImuSample) -> std::io::Result<()> {
        writeln!(
            self.out,
            "{},{},{},{},{},{},{},{}",
            s.t_s,
            s.role,
            s.acc_m_s2.x,
            s.acc_m_s2.y,
            s.acc_m_s2.z,
            s.gyr_rad_s.x,
            s.gyr_rad_s.y,
            s.gyr_rad_s.z
        )
    }

    /// Writes one `# key: value` line at the current position (a plan entry decided while
    /// recording; the reader applies it before the rows after it).
    pub fn write_entry(&mut self, key: &str, value: &str) -> std::io::Result<()> {
        writeln!(self.out, "# {key}: {value}")
    }

    /// Writes a marker line at the current position.
    pub fn write_marker(&mut self, t_s: f64, label: &str) -> std::io::Result<()> {
        writeln!(self.out, "# marker: {t_s} {label}")
    }

    /// Flushes buffered rows to the underlying writer.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read_all(text: &str, skip: bool) -> Result<(Vec<ImuSample>, usize), RecordError> {
        let mut r = ImuCsvReader::new(Cursor::new(text.as_bytes()), Path::new("x.csv"), skip)?;
        let mut v = Vec::new();
        while let Some(s) = r.next_sample()? {
            v.push(s);
        }
        Ok((v, r.skipped_rows()))
    }

    const HEAD: &str = "# stretchwatch-imu-csv v1\n# side: left\nt_s,sensor,ax_m_s2,ay_m_s2,az_m_s2,gx_rad_s,gy_rad_s,gz_rad_s\n";

    #[test]
    fn fast_float_path_equals_std_parse() {
        for t in [
            "0",
            "-0.0",
            "9.80665",
            "-12.345678",
            "0.00001",
            "123456789012.345",
            "1e3",
            "nan",
            "+4.5",
            "7.",
            ".5",
            "1.2.3",
            "",
            "-",
            "9007199254740993.5",
            "0.1234567890123456789",
        ] {
            match (parse_f64(t), t.parse::<f64>()) {
                (Ok(a), Ok(b)) => assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "{t}"
                ),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{t}: {a:?} vs {b:?}"),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_float_path_matches_std_on_formatted_numbers(v in -1e9f64..1e9, k in 0usize..12) {
            let t = format!("{v:.k$}");
            proptest::prop_assert_eq!(parse_f64(&t).unwrap().to_bits(), t.parse::<f64>().unwrap().to_bits());
        }
    }

    #[test]
    fn round_trip() {
        let mut h = RecordingHeader::default();
        h.apply("side", "right").unwrap();
        h.apply("calibration.static", "0 5").unwrap();
        let mut w = ImuCsvWriter::new(Vec::new(), &h).unwrap();
        let s = ImuSample {
            t_s: 0.01,
            role: SensorRole::Shank,
            acc_m_s2: Vector3::new(0.1, -0.2, 9.81),
            gyr_rad_s: Vector3::new(0.001, 0.0, -0.5),
            mag_ut: None,
        };
        w.write(&s).unwrap();
        let text = String::from_utf8(w.into_inner()).unwrap();
        let (v, _) = read_all(&text, false).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].role, SensorRole::Shank);
        assert!((v[0].acc_m_s2.z - 9.81).abs() < 1e-9);
        assert!((v[0].gyr_rad_s.z + 0.5).abs() < 1e-9);
    }

    fn err_text(text: &str) -> String {
        read_all(text, false).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = err_text(&format!("{HEAD}0.0,thigh,1,2,x,0,0,0\n"));
        assert!(
            e.contains("x.csv:4") && e.contains("az_m_s2") && e.contains("'x'"),
            "{e}"
        );
        let e = err_text(&format!("{HEAD}0.0,knee,1,2,3,0,0,0\n"));
        assert!(
            e.contains("x.csv:4") && e.contains("unknown sensor 'knee'"),
            "{e}"
        );
        let e = err_text(&format!("{HEAD}0.0,thigh,1,2,3,0,0\n"));
        assert!(e.contains("missing column 'gz_rad_s'"), "{e}");
        let e = err_text(&format!(
            "{HEAD}1.0,thigh,1,2,3,0,0,0\n0.5,thigh,1,2,3,0,0,0\n"
        ));
        assert!(e.contains("x.csv:5") && e.contains("backwards"), "{e}");
        let e = err_text(&format!("{HEAD}1.0,thigh,1,2,3,0,0,0\n1.01,thigh,1,2,3,0"));
        assert!(
            e.contains("x.csv:5") && e.contains("truncated last line"),
            "{e}"
        );
        let e = err_text("");
        assert!(e.contains("empty"), "{e}");
        let e = err_text("t_s,sensor\n");
        assert!(e.contains("x.csv:1") && e.contains("first line"), "{e}");
        let e = err_text("# stretchwatch-imu-csv v1\nt_s,sensor,ax_m_s2\n");
        assert!(e.contains("x.csv:2") && e.contains("ay_m_s2"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn skip_bad_rows_counts() {
        let text = format!(
            "{HEAD}0.0,thigh,1,2,3,0,0,0\n0.0,thigh,1,2,nan,0,0,0\n0.01,shank,1,2,3,0,0,0\n0.02,thigh,1,2"
        );
        let (v, skipped) = read_all(&text, true).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(skipped, 2);
    }

    #[test]
    fn reads_markers_and_mag() {
        let text = "# stretchwatch-imu-csv v1\n# marker: 3.5 block.start\nt_s,sensor,ax_m_s2,ay_m_s2,az_m_s2,gx_rad_s,gy_rad_s,gz_rad_s,mx_uT,my_uT,mz_uT\n0,pelvis,0,0,9.8,0,0,0,1,2,3\n# marker: 9 block.end\n0.01,pelvis,0,0,9.8,0,0,0,,,\n";
        let mut r =
            ImuCsvReader::new(Cursor::new(text.as_bytes()), Path::new("m.csv"), false).unwrap();
        let a = r.next_sample().unwrap().unwrap();
        assert_eq!(a.mag_ut, Some(Vector3::new(1.0, 2.0, 3.0)));
        let b = r.next_sample().unwrap().unwrap();
        assert_eq!(b.mag_ut, None);
        assert!(r.next_sample().unwrap().is_none());
        assert_eq!(r.header().markers.len(), 2);
        assert_eq!(r.header().block_window().end_s, 9.0);
    }
}
