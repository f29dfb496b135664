//! Where a session's outputs go: the [`SessionSink`] trait and the file sinks every command
//! shares (angles CSV, JSON Lines events, the readable timeline, the IMU CSV recorder).
//!
//! A sink receives every [`Output`] in order and decides what it keeps. The store writer
//! ([`crate::store::StoreSink`]) and the live views implement the same trait; so can a network
//! sink (an HTTP or WebSocket server pushing frames and events to a browser): it needs only
//! [`Output`], which borrows and never allocates, and [`SessionEvent::to_json`] for the wire.

use super::{Output, PlanItem, SessionEvent};
use crate::model::ImuSample;
use crate::record::{AnglesCsvWriter, ImuCsvWriter, RecordingHeader};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A sink could not write; names the file (or stream) concerned.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", file.display())]
pub struct SinkError {
    /// File or stream being written.
    pub file: PathBuf,
    /// Underlying error.
    pub source: std::io::Error,
}

impl SinkError {
    /// An error of writing `file`.
    pub fn io(file: &Path, source: std::io::Error) -> Self {
        SinkError {
            file: file.to_path_buf(),
            source,
        }
    }
}

/// Receives a session's outputs in order.
pub trait SessionSink {
    /// One output.
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError>;
    /// The session ended: flush and close.
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Hands every output to several sinks, in order.
#[derive(Default)]
pub struct Fanout<'a> {
    sinks: Vec<&'a mut dyn SessionSink>,
}

impl<'a> Fanout<'a> {
    /// No sinks yet.
    pub fn new() -> Self {
        Fanout { sinks: Vec::new() }
    }

    /// Adds a sink.
    pub fn add(&mut self, s: &'a mut dyn SessionSink) -> &mut Self {
        self.sinks.push(s);
        self
    }
}

impl SessionSink for Fanout<'_> {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        self.sinks.iter_mut().try_for_each(|s| s.output(out))
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.sinks.iter_mut().try_for_each(|s| s.finish())
    }
}

impl<S: SessionSink + ?Sized> SessionSink for &mut S {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        (**self).output(out)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        (**self).finish()
    }
}

impl<S: SessionSink> SessionSink for Option<S> {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        match self {
            Some(s) => s.output(out),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        match self {
            Some(s) => s.finish(),
            None => Ok(()),
        }
    }
}

/// Calls a closure with every frame's angles (library callers and tests).
pub struct FrameFn<F>(pub F);

impl<F: FnMut(&super::Frame)> SessionSink for FrameFn<F> {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        if let Output::Frame(f) = out {
            (self.0)(f);
        }
        Ok(())
    }
}

/// Collects every event (tests, the live view's summary).
#[derive(Debug, Default)]
pub struct EventLog(pub Vec<SessionEvent>);

impl SessionSink for EventLog {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        if let Output::Event(e) = out {
            self.0.push(**e);
        }
        Ok(())
    }
}

/// The angles CSV (DESIGN 3.4), one row per frame with its phase.
pub struct AnglesCsvSink<W: Write> {
    path: PathBuf,
    w: AnglesCsvWriter<W>,
}

impl<W: Write> AnglesCsvSink<W> {
    /// Writes to `out`; `name` names it in errors.
    pub fn new(out: W, name: impl Into<PathBuf>) -> Result<Self, SinkError> {
        let path = name.into();
        let w = AnglesCsvWriter::new(out).map_err(|e| SinkError::io(&path, e))?;
        Ok(AnglesCsvSink { path, w })
    }

    /// The writer back (tests read what was written).
    pub fn into_inner(self) -> Result<W, SinkError> {
        let path = self.path;
        self.w.finish().map_err(|e| SinkError::io(&path, e))
    }
}

impl AnglesCsvSink<BufWriter<File>> {
    /// Creates `path` and writes the column line.
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        let io = |e| SinkError::io(path, e);
        let f = File::create(path).map_err(io)?;
        Ok(AnglesCsvSink {
            path: path.to_path_buf(),
            w: AnglesCsvWriter::new(BufWriter::with_capacity(1 << 16, f)).map_err(io)?,
        })
    }
}

impl<W: Write> SessionSink for AnglesCsvSink<W> {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        if let Output::Frame(f) = out {
            self.w
                .write(&f.angles, f.phase.map(|p| p.as_str()))
                .map_err(|e| SinkError::io(&self.path, e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.w.flush().map_err(|e| SinkError::io(&self.path, e))
    }
}

/// Events as JSON Lines (DESIGN 3.3): `replay --json` on stdout, `live --events-out` to a file.
pub struct JsonEventsSink<W: Write> {
    name: PathBuf,
    out: W,
}

impl<W: Write> JsonEventsSink<W> {
    /// Writes to `out`; `name` names it in errors (`stdout` or the file).
    pub fn new(out: W, name: impl Into<PathBuf>) -> Self {
        JsonEventsSink {
            name: name.into(),
            out,
        }
    }
}

impl<W: Write> JsonEventsSink<W> {
    /// The writer back (tests read what was written).
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl JsonEventsSink<BufWriter<File>> {
    /// Creates `path`.
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        let f = File::create(path).map_err(|e| SinkError::io(path, e))?;
        Ok(Self::new(BufWriter::new(f), path))
    }
}

impl<W: Write> SessionSink for JsonEventsSink<W> {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        if let Output::Event(e) = out {
            writeln!(self.out, "{}", e.to_json()).map_err(|e| SinkError::io(&self.name, e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| SinkError::io(&self.name, e))
    }
}

/// The readable timeline (`replay` without `--json`): one line per event in the spec's wording.
pub struct TimelineSink<W: Write> {
    out: W,
    started: bool,
}

impl<W: Write> TimelineSink<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        TimelineSink {
            out,
            started: false,
        }
    }

    /// The writer (to print the summary after the timeline).
    pub fn out(&mut self) -> &mut W {
        &mut self.out
    }
}

impl<W: Write> SessionSink for TimelineSink<W> {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        let Output::Event(e) = out else {
            return Ok(());
        };
        let Some(line) = e.describe() else {
            return Ok(());
        };
        let io = |e| SinkError::io(Path::new("stdout"), e);
        // The heading waits for the first line, so a recording that fails to parse leaves
        // nothing on stdout.
        if !self.started {
            self.started = true;
            writeln!(self.out, "timeline (recording time)").map_err(io)?;
        }
        writeln!(self.out, "{:>9.2} s  {line}", e.t_s()).map_err(io)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out
            .flush()
            .map_err(|e| SinkError::io(Path::new("stdout"), e))
    }
}

/// Records the samples and plan as IMU CSV v1, exactly (every value written with as many digits
/// as it takes to read back the same number), so a replay of the file sees the samples the
/// session saw. Samples wait in memory until [`open`](Self::open) writes the header.
pub struct ImuCsvRecorder {
    path: PathBuf,
    header: RecordingHeader,
    w: Option<ImuCsvWriter<BufWriter<File>>>,
    held: Vec<ImuSample>,
    held_plan: Vec<PlanItem>,
    rows: u64,
}

impl ImuCsvRecorder {
    /// A recorder for `path` with this header (the file is created by [`open`](Self::open)).
    pub fn new(path: &Path, header: RecordingHeader) -> Self {
        ImuCsvRecorder {
            path: path.to_path_buf(),
            header,
            w: None,
            held: Vec::new(),
            held_plan: Vec::new(),
            rows: 0,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the header has been written.
    pub fn is_open(&self) -> bool {
        self.w.is_some()
    }

    /// Creates the file with the header (plan items given so far go into it) and writes the
    /// samples held until now.
    pub fn open(&mut self) -> Result<(), SinkError> {
        if self.w.is_some() {
            return Ok(());
        }
        let mut h = self.header.clone();
        for item in self.held_plan.drain(..) {
            for (k, v) in item.entries() {
                h.apply(k, &v)
                    .map_err(|m| SinkError::io(&self.path, std::io::Error::other(m)))?;
            }
        }
        let w = ImuCsvWriter::create(&self.path, &h)
            .map_err(|e| SinkError::io(&self.path, std::io::Error::other(e.to_string())))?;
        self.w = Some(w);
        for s in std::mem::take(&mut self.held) {
            self.write(&s)?;
        }
        Ok(())
    }

    /// Writes a marker line (gaps, reconnects) at the current position.
    pub fn marker(&mut self, t_s: f64, label: &str) -> Result<(), SinkError> {
        if let Some(w) = &mut self.w {
            w.write_marker(t_s, label)
                .map_err(|e| SinkError::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Flushes written rows.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        if let Some(w) = &mut self.w {
            w.flush().map_err(|e| SinkError::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Rows written.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn write(&mut self, s: &ImuSample) -> Result<(), SinkError> {
        if let Some(w) = &mut self.w {
            w.write_exact(s).map_err(|e| SinkError::io(&self.path, e))?;
            self.rows += 1;
        }
        Ok(())
    }
}

impl SessionSink for ImuCsvRecorder {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        match out {
            Output::Sample(s) if self.w.is_none() => self.held.push(**s),
            Output::Sample(s) => self.write(s)?,
            Output::Plan(item) if self.w.is_none() => self.held_plan.push(**item),
            Output::Plan(item) => {
                if let Some(w) = &mut self.w {
                    for (k, v) in item.entries() {
                        w.write_entry(k, &v)
                            .map_err(|e| SinkError::io(&self.path, e))?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        if self.w.is_none() {
            // Not every sensor ever streamed: still leave a readable file with what came.
            self.open()?;
        }
        self.flush()
    }
}
