//! [`StoreSink`]: the session database as a session sink. Samples, frames and events are stored
//! as they come (the writer commits at least every half second), so a crash loses at most about
//! a second.

use super::{SessionWriter, StoreError};
use crate::session::{Output, SessionSink, SinkError};
use std::path::PathBuf;

/// Stores a session's samples, angle frames, events, reps, summary and calibration.
pub struct StoreSink<'a> {
    writer: Option<SessionWriter<'a>>,
    path: PathBuf,
    /// Whether raw samples are stored (an import stores them; a replay may not need to).
    pub samples: bool,
}

impl<'a> StoreSink<'a> {
    /// Stores into `writer` (a session begun on the store).
    pub fn new(writer: SessionWriter<'a>, path: PathBuf) -> Self {
        StoreSink {
            writer: Some(writer),
            path,
            samples: true,
        }
    }

    /// The session's id.
    pub fn id(&self) -> Option<i64> {
        self.writer.as_ref().map(|w| w.id())
    }

    /// Ends the session in the store (history results, finished flag).
    pub fn close(&mut self) -> Result<Option<i64>, StoreError> {
        match self.writer.take() {
            Some(w) => {
                let id = w.id();
                w.finish()?;
                Ok(Some(id))
            }
            None => Ok(None),
        }
    }

    /// The writer, to add what the session does not produce (sensors, rate).
    pub fn writer(&mut self) -> Option<&mut SessionWriter<'a>> {
        self.writer.as_mut()
    }

    fn err(&self, e: StoreError) -> SinkError {
        SinkError::io(&self.path, std::io::Error::other(e.to_string()))
    }
}

impl SessionSink for StoreSink<'_> {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let r = match out {
            Output::Sample(s) if self.samples => w.push_sample(s),
            Output::Frame(f) => w.push_angles(&f.angles),
            Output::Event(e) => w.add_session_event(e),
            Output::Calibrated {
                t_s,
                profile,
                from_recording,
            } => w.set_calibration(profile).and_then(|()| {
                let q = &profile.quality;
                let json = serde_json::json!({
                    "event": "calibration", "t_s": t_s, "state": "done",
                    "quality": q.score, "expected_error_deg": profile.expected_error_deg(),
                    "from_recording": from_recording, "nominal": q.is_nominal,
                });
                calibration_event(w, *t_s, json)
            }),
            Output::CalibrationFailed { t_s, error } => {
                let json = serde_json::json!({
                    "event": "calibration", "t_s": t_s, "state": "not_done",
                    "reason": error.to_string(),
                });
                calibration_event(w, *t_s, json)
            }
            Output::CalibrationRefined { t_s } => {
                let json =
                    serde_json::json!({"event": "calibration", "t_s": t_s, "state": "refined"});
                calibration_event(w, *t_s, json)
            }
            _ => Ok(()),
        };
        r.map_err(|e| self.err(e))
    }
}

/// Stores a `calibration` event (done, refined, not done) so the timeline shows which
/// calibration each stretch used. A calibration without a sample time has no place on it.
fn calibration_event(
    w: &mut SessionWriter<'_>,
    t_s: f64,
    json: serde_json::Value,
) -> Result<(), StoreError> {
    if !t_s.is_finite() {
        return Ok(());
    }
    w.add_event_json(t_s, "calibration", &json.to_string())
}
