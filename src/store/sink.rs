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
                calibration_event(
                    w,
                    &CalibrationRecord {
                        quality: Some(profile.quality.score),
                        expected_error_deg: Some(profile.expected_error_deg()),
                        from_recording: Some(*from_recording),
                        nominal: Some(profile.quality.is_nominal),
                        caveat: crate::calibration::accuracy_caveat_short(profile),
                        ..CalibrationRecord::new(*t_s, "done")
                    },
                )
            }),
            Output::CalibrationFailed { t_s, error } => calibration_event(
                w,
                &CalibrationRecord {
                    reason: Some(error.to_string()),
                    ..CalibrationRecord::new(*t_s, "not_done")
                },
            ),
            Output::CalibrationRefined { t_s } => {
                calibration_event(w, &CalibrationRecord::new(*t_s, "refined"))
            }
            _ => Ok(()),
        };
        r.map_err(|e| self.err(e))
    }
}

/// The stored `calibration` event: done (with its quality), refined, or not done (with why).
#[derive(serde::Serialize)]
struct CalibrationRecord {
    event: &'static str,
    t_s: f64,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    quality: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_error_deg: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_recording: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nominal: Option<bool>,
    /// "angles may be off by up to N°", when the calibration says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    caveat: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl CalibrationRecord {
    fn new(t_s: f64, state: &'static str) -> Self {
        CalibrationRecord {
            event: "calibration",
            t_s,
            state,
            quality: None,
            expected_error_deg: None,
            from_recording: None,
            nominal: None,
            caveat: None,
            reason: None,
        }
    }
}

/// Stores a `calibration` event so the timeline shows which calibration each stretch used. A
/// calibration without a sample time has no place on it.
fn calibration_event(w: &mut SessionWriter<'_>, rec: &CalibrationRecord) -> Result<(), StoreError> {
    if !rec.t_s.is_finite() {
        return Ok(());
    }
    let json = serde_json::to_string(rec).map_err(|e| StoreError::BadEvent {
        t_s: rec.t_s,
        message: e.to_string(),
    })?;
    w.add_event_json(rec.t_s, "calibration", &json)
}
