//! Form analysis (form-spec sections 2, 3 and 8): phases, hold timing, reps and every live
//! detector, turning joint-angle frames into the events of DESIGN 3.3.
//!
//! [`FormEngine`] is a synchronous stage like the rest of the pipeline: one
//! [`JointAngles`](crate::model::JointAngles) frame in, zero or more [`Event`]s out, no clock
//! reads and no allocation per frame (all windows are preallocated when the frame rate is known,
//! at the second frame). Replay and live mode drive the same engine, so they give the same
//! warnings.
//!
//! One file per concern: [`config`] (section 8), [`filters`], [`phase`] (2.1), [`hold`] (2.2,
//! 2.3), the detectors [`bouncing`] (D1), [`knee_lock`] (D2), [`excessive`] (D3, D3p),
//! [`short_hold`] (D5), [`jerky`] (D6), [`warmup`] (D7), [`pelvic`] (D9), [`knee_bend`] (D10),
//! [`data_quality`] (D11), [`cues`] (arbitration), [`event`] (the JSON contract) and
//! [`wording`] (the readable timeline, section 6 wording).

pub mod bouncing;
pub mod config;
pub mod cues;
pub mod data_quality;
mod engine;
pub mod event;
pub mod excessive;
pub mod filters;
pub mod hold;
pub mod jerky;
pub mod knee_bend;
pub mod knee_lock;
pub mod pelvic;
pub mod phase;
pub mod short_hold;
pub mod warmup;
pub mod wording;

pub use config::{FormConfig, WarmupStatus};
pub use engine::{FormContext, FormEngine};
pub use event::{Event, Phase, Severity, State};
pub use excessive::Baseline;

use std::path::PathBuf;

/// Errors of the form layer.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// A config file is unreadable, malformed or out of range.
    #[error("{}: {message}", path.display())]
    Config {
        /// Config file.
        path: PathBuf,
        /// What is wrong (one line, naming the key).
        message: String,
    },
}
