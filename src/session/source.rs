//! Recording files as session sources: IMU CSV v1 (plain or gzip) and the raw notification log,
//! told apart by their first line. Each is streamed once: samples and plan entries go to the
//! [`Session`] in file order, so memory stays flat whatever the file size.
//!
//! A raw log is decoded by the same [`Assembler`] live mode uses (decoders, clock mapping, merge),
//! and its `marker` records are plan entries where they stand, so it replays to exactly what the
//! live session saw.

use super::plan::{PlanBuilder, blocks_marked, header_entries};
use super::{Baselines, Session, SessionConfig, SessionError, SessionReport, SessionSink};
use crate::form::Baseline;
use crate::form::config::Excessive as ExcessiveConfig;
use crate::model::SensorRole;
use crate::record::raw_log::{RawEntry, RawLogHeader, RawLogReader, is_raw_log_line};
use crate::record::{ImuCsvReader, RecordError, RecordingHeader};
use crate::source::{Assembled, Assembler};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// The two recording formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// IMU CSV v1 (DESIGN 3.1), plain or gzip.
    ImuCsv,
    /// Raw notification log (DESIGN 3.2).
    RawLog,
}

/// A recording file, opened far enough to know what it is and what its header says.
#[derive(Debug, Clone)]
pub struct RecordingFile {
    /// Path.
    pub path: PathBuf,
    /// Format.
    pub kind: FileKind,
    /// What the header says (for a raw log: its header object and every marker record).
    pub header: RecordingHeader,
    /// The raw log's header object.
    pub raw: Option<RawLogHeader>,
    /// Skip malformed rows (IMU CSV) instead of stopping.
    pub skip_bad_rows: bool,
}

/// What a file pass saw besides the session's report.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// The session's counters.
    pub session: SessionReport,
    /// The header after the pass (with markers found between rows).
    pub header: RecordingHeader,
    /// Rows skipped with `skip_bad_rows`.
    pub skipped_rows: usize,
}

/// Whether `path` is a raw notification log (its first line is the raw-log header object).
pub fn is_raw_log(path: &Path) -> Result<bool, RecordError> {
    let io = |source| RecordError::Io {
        file: path.to_path_buf(),
        source,
    };
    // Bytes, not text: a gzip-compressed CSV is not UTF-8 and is simply not a raw log.
    let mut first = Vec::new();
    BufReader::new(File::open(path).map_err(io)?)
        .read_until(b'\n', &mut first)
        .map_err(io)?;
    Ok(is_raw_log_line(&String::from_utf8_lossy(&first)))
}

/// The recording header a raw log stands for: `side`/`stretch` and other keys from its header
/// object, the thigh device's rate as `rate_hz`, `sensor.<role>.model` from family and name, then
/// every `marker` record applied in order (calibration windows, block markers).
pub fn raw_log_header(path: &Path) -> Result<(RawLogHeader, RecordingHeader), RecordError> {
    let mut reader = RawLogReader::open(path)?;
    let raw = reader.header().clone();
    let mut h = header_of_raw(&raw, path)?;
    let bad = |m: String| RecordError::Parse {
        file: path.to_path_buf(),
        line: 1,
        column: None,
        message: m,
    };
    for rec in reader.by_ref() {
        if let RawEntry::Marker { key, value } = rec?.entry {
            h.apply(&key, &value).map_err(bad)?;
        }
    }
    Ok((raw, h))
}

fn header_of_raw(raw: &RawLogHeader, path: &Path) -> Result<RecordingHeader, RecordError> {
    let mut h = RecordingHeader::default();
    for (k, v) in &raw.keys {
        h.apply(k, v).map_err(|m| RecordError::Parse {
            file: path.to_path_buf(),
            line: 1,
            column: None,
            message: m,
        })?;
    }
    if h.rate_hz.is_none() {
        h.rate_hz = raw
            .device(SensorRole::Thigh)
            .or(raw.devices.first())
            .map(|d| f64::from(d.rate_hz));
    }
    for d in &raw.devices {
        h.sensor_models.push((
            d.role,
            match &d.name {
                Some(n) => format!("{} {n}", d.family),
                None => d.family.to_string(),
            },
        ));
    }
    Ok(h)
}

impl RecordingFile {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path, skip_bad_rows: bool) -> Result<Self, RecordError> {
        if is_raw_log(path)? {
            let (raw, header) = raw_log_header(path)?;
            return Ok(RecordingFile {
                path: path.to_path_buf(),
                kind: FileKind::RawLog,
                header,
                raw: Some(raw),
                skip_bad_rows,
            });
        }
        let header = ImuCsvReader::open(path, skip_bad_rows)?.header().clone();
        Ok(RecordingFile {
            path: path.to_path_buf(),
            kind: FileKind::ImuCsv,
            header,
            raw: None,
            skip_bad_rows,
        })
    }

    /// A session configuration from the header: side, stretch, rate, whether blocks are marked,
    /// and the header's own `history_deg` baseline.
    pub fn session_config(&self, excessive: &ExcessiveConfig) -> SessionConfig {
        let h = &self.header;
        let mut cfg = SessionConfig::new(&self.path);
        cfg.side = h.side.unwrap_or_default();
        cfg.stretch = h.stretch.unwrap_or_default();
        cfg.rate_hz = h.rate_hz;
        cfg.blocks_marked = blocks_marked(h);
        cfg.baselines = Baselines {
            recording: history_baseline(h, excessive),
            ..Default::default()
        };
        cfg
    }

    /// Streams the file through `session` into `sink`, then finishes the session.
    pub fn run(
        &self,
        session: &mut Session,
        sink: &mut dyn SessionSink,
    ) -> Result<FileReport, SessionError> {
        match self.kind {
            FileKind::ImuCsv => self.run_csv(session, sink),
            FileKind::RawLog => self.run_raw(session, sink),
        }
    }

    fn bad(&self, line: usize, key: &str, m: String) -> SessionError {
        SessionError::Record(RecordError::Parse {
            file: self.path.clone(),
            line,
            column: Some(key.to_string()),
            message: m,
        })
    }

    fn run_csv(
        &self,
        session: &mut Session,
        sink: &mut dyn SessionSink,
    ) -> Result<FileReport, SessionError> {
        let mut reader = ImuCsvReader::open(&self.path, self.skip_bad_rows)?;
        let mut plan = PlanBuilder::new();
        let mut items = Vec::new();
        for (k, v) in header_entries(reader.header()) {
            plan.entry(&k, &v, &mut |i| items.push(i))
                .map_err(|m| self.bad(1, &k, m))?;
        }
        plan.flush(&mut |i| items.push(i));
        for i in items.drain(..) {
            session.plan(i, sink)?;
        }
        session.check_calibration_source()?;
        let mut seen_entries = reader.header().plan_entries.len();
        while let Some(s) = reader.next_sample()? {
            let entries = &reader.header().plan_entries;
            if entries.len() > seen_entries {
                // Entries written between rows while recording apply from where they stand.
                for (k, v) in &entries[seen_entries..] {
                    plan.entry(k, v, &mut |i| items.push(i))
                        .map_err(|m| self.bad(0, k, m))?;
                }
                seen_entries = entries.len();
                plan.flush(&mut |i| items.push(i));
                for i in items.drain(..) {
                    session.plan(i, sink)?;
                }
            }
            session.push_sample(&s, sink)?;
        }
        let report = session.finish(sink)?;
        Ok(FileReport {
            session: report,
            header: reader.header().clone(),
            skipped_rows: reader.skipped_rows(),
        })
    }

    fn run_raw(
        &self,
        session: &mut Session,
        sink: &mut dyn SessionSink,
    ) -> Result<FileReport, SessionError> {
        let mut reader = RawLogReader::open(&self.path)?;
        let mut assembler = Assembler::new(&reader.header().devices);
        let mut plan = PlanBuilder::new();
        let mut items = Vec::new();
        let mut out = Vec::new();
        let mut feed = |out: &mut Vec<Assembled>,
                        session: &mut Session,
                        sink: &mut dyn SessionSink|
         -> Result<(), SessionError> {
            for a in out.drain(..) {
                match a {
                    Assembled::Sample(s) => {
                        plan.flush(&mut |i| items.push(i));
                        for i in items.drain(..) {
                            session.plan(i, sink)?;
                        }
                        session.push_sample(&s, sink)?;
                    }
                    Assembled::Marker { key, value, .. } => {
                        plan.entry(&key, &value, &mut |i| items.push(i))
                            .map_err(|m| self.bad(0, &key, m))?;
                        if key == "marker" {
                            for i in items.drain(..) {
                                session.plan(i, sink)?;
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        };
        while let Some(rec) = reader.next_record()? {
            assembler.push(&rec, &mut out);
            feed(&mut out, session, sink)?;
        }
        assembler.finish(&mut out);
        feed(&mut out, session, sink)?;
        plan.flush(&mut |i| items.push(i));
        for i in items.drain(..) {
            session.plan(i, sink)?;
        }
        let report = session.finish(sink)?;
        Ok(FileReport {
            session: report,
            header: self.header.clone(),
            skipped_rows: 0,
        })
    }
}

/// The baseline a recording carries itself (`history_deg: 70 72 71 …`, median with Δ).
pub fn history_baseline(h: &RecordingHeader, cfg: &ExcessiveConfig) -> Option<Baseline> {
    crate::form::header_history_baseline(h, cfg)
}
