//! Writer of the angles CSV (DESIGN 3.4): `t_s,knee_flexion_deg,hip_flexion_deg,leg_raise_deg,phase`.

use crate::model::JointAngles;
use std::io::Write;

/// Column line of the angles CSV.
pub const ANGLES_COLUMNS: &str = "t_s,knee_flexion_deg,hip_flexion_deg,leg_raise_deg,phase";

/// Streams angle rows; unavailable values are empty cells.
pub struct AnglesCsvWriter<W: Write> {
    out: W,
}

impl<W: Write> AnglesCsvWriter<W> {
    /// Writes the column line.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        writeln!(out, "{ANGLES_COLUMNS}")?;
        Ok(AnglesCsvWriter { out })
    }

    /// Writes one frame; `phase` is empty until the form stage provides one.
    pub fn write(&mut self, a: &JointAngles, phase: Option<&str>) -> std::io::Result<()> {
        write!(self.out, "{:.4}", a.t_s)?;
        for v in [a.knee_flexion_deg, a.hip_flexion_deg, a.leg_raise_deg] {
            // A value that is not a number is unavailable, never written as "NaN".
            match v.filter(|x| x.is_finite()) {
                Some(x) => write!(self.out, ",{x:.3}")?,
                None => write!(self.out, ",")?,
            }
        }
        writeln!(self.out, ",{}", phase.unwrap_or(""))
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
