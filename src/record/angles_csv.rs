//! Writer of the angles CSV (DESIGN 3.4): `t_s,knee_flexion_deg,hip_flexion_deg,leg_raise_deg,phase`.

use crate::model::JointAngles;
use std::io::Write;

/// Column line of the angles CSV.
pub const ANGLES_COLUMNS: &str = "t_s,knee_flexion_deg,hip_flexion_deg,leg_raise_deg,phase";

/// Streams angle rows; unavailable values are empty cells.
pub struct AnglesCsvWriter<W: Write> {
    out: W,
    /// One row, reused (no allocation per row).
    line: Vec<u8>,
}

/// Appends `x` with `decimals` digits after the point, exactly as `format!("{x:.decimals$}")`
/// writes it, without the formatter's cost (a replay writes a row per frame). Values near a
/// rounding tie, and very large ones, go through the formatter.
fn push_fixed(line: &mut Vec<u8>, x: f64, decimals: u32) {
    use std::io::Write as _;
    let scale = 10f64.powi(decimals as i32);
    let scaled = (x * scale).abs();
    let frac = scaled - scaled.floor();
    if scaled >= 1e12 || scaled.is_nan() || (frac - 0.5).abs() < 1e-6 {
        let _ = write!(line, "{x:.*}", decimals as usize);
        return;
    }
    let m = scaled.round() as u64;
    if x.is_sign_negative() {
        line.push(b'-');
    }
    let p = 10u64.pow(decimals);
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut int = m / p;
    loop {
        digits[n] = b'0' + (int % 10) as u8;
        n += 1;
        int /= 10;
        if int == 0 {
            break;
        }
    }
    line.extend(digits[..n].iter().rev());
    if decimals > 0 {
        line.push(b'.');
        let f = m % p;
        let mut d = p / 10;
        while d > 0 {
            line.push(b'0' + ((f / d) % 10) as u8);
            d /= 10;
        }
    }
}

impl<W: Write> AnglesCsvWriter<W> {
    /// Writes the column line.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        writeln!(out, "{ANGLES_COLUMNS}")?;
        Ok(AnglesCsvWriter {
            out,
            line: Vec::with_capacity(64),
        })
    }

    /// Writes one frame; `phase` is empty until the form stage provides one.
    pub fn write(&mut self, a: &JointAngles, phase: Option<&str>) -> std::io::Result<()> {
        let line = &mut self.line;
        line.clear();
        push_fixed(line, a.t_s, 4);
        for v in [a.knee_flexion_deg, a.hip_flexion_deg, a.leg_raise_deg] {
            line.push(b',');
            // A value that is not a number is unavailable, never written as "NaN".
            if let Some(x) = v.filter(|x| x.is_finite()) {
                push_fixed(line, x, 3);
            }
        }
        line.push(b',');
        line.extend_from_slice(phase.unwrap_or("").as_bytes());
        line.push(b'\n');
        self.out.write_all(line)
    }

    /// Flushes buffered rows.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::push_fixed;

    #[test]
    fn fixed_point_equals_the_formatter() {
        let mut x = -1234.56789_f64;
        for _ in 0..20_000 {
            for d in [3u32, 4] {
                let mut line = Vec::new();
                push_fixed(&mut line, x, d);
                assert_eq!(
                    String::from_utf8(line).unwrap(),
                    format!("{x:.*}", d as usize),
                    "{x} with {d} decimals"
                );
            }
            x += 0.123_456_7;
        }
        for x in [
            0.0, -0.0, 0.0005, -0.0005, 0.00049, 1e13, -2.5e-4, 179.9995, 0.12345,
        ] {
            for d in [3u32, 4] {
                let mut line = Vec::new();
                push_fixed(&mut line, x, d);
                assert_eq!(
                    String::from_utf8(line).unwrap(),
                    format!("{x:.*}", d as usize)
                );
            }
        }
    }
}
