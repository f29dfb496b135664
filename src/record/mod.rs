//! Readers and writers for the recording formats of DESIGN section 3.

pub mod angles_csv;
mod header;
pub mod imu_csv;
pub mod raw_log;

pub use angles_csv::AnglesCsvWriter;
pub use header::{Marker, RecordingHeader};
pub use imu_csv::{ImuCsvReader, ImuCsvWriter};
pub use raw_log::{RawLogReader, RawLogWriter, RawRecord};

use std::path::PathBuf;

/// Errors of the recording layer; every message names the file and, where known, line and column.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A malformed line.
    #[error("{}:{line}: {}{message}", file.display(), column.as_ref().map(|c| format!("column '{c}': ")).unwrap_or_default())]
    Parse {
        /// File being read.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Column name, if the problem is in one column.
        column: Option<String>,
        /// What was expected and what was found.
        message: String,
    },
    /// The file could not be read or written.
    #[error("{}: {source}", file.display())]
    Io {
        /// File being accessed.
        file: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}
