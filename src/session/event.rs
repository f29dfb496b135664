//! What a session reports besides frames: form events tagged with their block, block
//! boundaries with the block's figures, and the closing summary with its per-side figures
//! (DESIGN 3.3). Typed all the way to the edges; [`SessionEvent::to_json`] is the one place the
//! JSON objects are written.

use crate::form::{Event, wording};
use crate::model::{Side, StretchType};
use std::fmt::Write as _;

/// The dose and quality figures of a block, a side, or the whole session.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    /// Counted reps.
    pub reps: u32,
    /// Adjustments not counted as reps.
    pub aborted_reps: u32,
    /// Static hold summed over the reps, s.
    pub total_static_hold_s: f64,
    /// Whether the static hold reaches the dose target.
    pub dose_met: bool,
    /// Advisory and warning episodes per active minute.
    pub warnings_per_min: f64,
    /// Time moving in and holding, s.
    pub active_s: f64,
    /// Median rep hold angle, degrees (`None` without reps).
    pub session_value_deg: Option<f64>,
}

impl Figures {
    /// The figures as the form stage's `summary` event (for the shared wording), with the count
    /// of samples dropped as implausible.
    pub fn as_summary_event(&self, t_s: f64, implausible_samples: u64) -> Event {
        Event::Summary {
            implausible_samples,
            t_s,
            reps: self.reps,
            aborted_reps: self.aborted_reps,
            total_static_hold_s: self.total_static_hold_s,
            dose_met: self.dose_met,
            warnings_per_min: self.warnings_per_min,
            active_s: self.active_s,
            session_value_deg: self.session_value_deg,
        }
    }

    fn write_json(&self, o: &mut String) {
        let _ = write!(
            o,
            "\"reps\":{},\"total_static_hold_s\":{},\"warnings_per_min\":{},\"session_value_deg\":{},\"dose_met\":{}",
            self.reps,
            num(self.total_static_hold_s),
            num(self.warnings_per_min),
            self.session_value_deg.map_or("null".to_string(), num),
            self.dose_met
        );
    }
}

/// A JSON number as serde_json writes it (so block figures print like the form events).
fn num(x: f64) -> String {
    serde_json::to_string(&x).unwrap_or_else(|_| "null".into())
}

/// Start or end of an exercise block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockEdge {
    /// Time of the edge, s.
    pub t_s: f64,
    /// 1-based block index.
    pub block: u32,
    /// Stretched side.
    pub side: Side,
    /// Stretch type.
    pub stretch: StretchType,
    /// At the end: the block's figures; `None` at the start.
    pub figures: Option<Figures>,
}

/// The closing figures of a session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Time of the last frame, s.
    pub t_s: f64,
    /// Over the whole recording.
    pub overall: Figures,
    /// Per side, left then right (`None`: no block of that side).
    pub per_side: [Option<Figures>; 2],
    /// Samples dropped as physically implausible over the recording.
    pub implausible_samples: u64,
}

/// One output event of a session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SessionEvent {
    /// A form event; `block` is its 1-based block (rep numbers already count across blocks).
    Form {
        /// Block the event belongs to.
        block: Option<u32>,
        /// The event.
        event: Event,
    },
    /// A block started or ended.
    Block(BlockEdge),
    /// The session summary (always last).
    Summary(Summary),
}

impl SessionEvent {
    /// Emission time, s.
    pub fn t_s(&self) -> f64 {
        match self {
            SessionEvent::Form { event, .. } => event.t_s(),
            SessionEvent::Block(b) => b.t_s,
            SessionEvent::Summary(s) => s.t_s,
        }
    }

    /// The `event` name.
    pub fn name(&self) -> &'static str {
        match self {
            SessionEvent::Form { event, .. } => event.name(),
            SessionEvent::Block(_) => "block",
            SessionEvent::Summary(_) => "summary",
        }
    }

    /// The form event, if this is one.
    pub fn form(&self) -> Option<&Event> {
        match self {
            SessionEvent::Form { event, .. } => Some(event),
            _ => None,
        }
    }

    /// The event as one line of JSON (DESIGN 3.3): `event` and `t_s` first; `block` on every event
    /// inside a block; `per_side` in the summary.
    pub fn to_json(&self) -> String {
        match self {
            SessionEvent::Form { block, event } => {
                let mut s = event.to_json();
                if let Some(b) = block {
                    s.pop();
                    let _ = write!(s, ",\"block\":{b}}}");
                }
                s
            }
            SessionEvent::Block(b) => {
                let mut s = format!(
                    "{{\"event\":\"block\",\"t_s\":{},\"state\":\"{}\",\"block\":{},\"side\":\"{}\",\"stretch\":\"{}\"",
                    num(b.t_s),
                    if b.figures.is_some() { "end" } else { "start" },
                    b.block,
                    b.side.as_str(),
                    b.stretch.as_str()
                );
                if let Some(f) = &b.figures {
                    s.push(',');
                    f.write_json(&mut s);
                }
                s.push('}');
                s
            }
            SessionEvent::Summary(sum) => {
                let mut s = sum
                    .overall
                    .as_summary_event(sum.t_s, sum.implausible_samples)
                    .to_json();
                s.pop();
                s.push_str(",\"per_side\":{");
                let mut first = true;
                for (side, f) in [Side::Left, Side::Right].iter().zip(&sum.per_side) {
                    if let Some(f) = f {
                        if !first {
                            s.push(',');
                        }
                        first = false;
                        let _ = write!(s, "\"{}\":{{", side.as_str());
                        f.write_json(&mut s);
                        s.push('}');
                    }
                }
                s.push_str("}}");
                s
            }
        }
    }

    /// One timeline line (without the time column), or `None` where there is nothing to say.
    pub fn describe(&self) -> Option<String> {
        match self {
            SessionEvent::Form { event, .. } => wording::describe(event),
            SessionEvent::Block(b) => Some(match &b.figures {
                None => format!(
                    "block {} starts: {} side, {} stretch",
                    b.block,
                    b.side.as_str(),
                    b.stretch.as_str()
                ),
                Some(f) => format!(
                    "block {} ends: {} {}, static hold {:.1} s{}",
                    b.block,
                    f.reps,
                    if f.reps == 1 { "rep" } else { "reps" },
                    f.total_static_hold_s,
                    if f.dose_met { " (dose met)" } else { "" }
                ),
            }),
            SessionEvent::Summary(_) => None,
        }
    }
}

/// The summary lines of a session: the whole recording, then each side when both were stretched
/// (or when the session is not of one block).
pub fn summary_lines(s: &Summary) -> Vec<String> {
    let mut out = wording::summary_lines(&s.overall.as_summary_event(s.t_s, s.implausible_samples));
    let sides: Vec<(Side, &Figures)> = [Side::Left, Side::Right]
        .into_iter()
        .zip(&s.per_side)
        .filter_map(|(side, f)| f.as_ref().map(|f| (side, f)))
        .collect();
    if sides.len() > 1 {
        for (side, f) in sides {
            out.push(format!(
                "{:<13} {} {}, static hold {:.1} s — {}",
                format!("{} side", side.as_str()),
                f.reps,
                if f.reps == 1 { "rep" } else { "reps" },
                f.total_static_hold_s,
                if f.dose_met {
                    "dose met"
                } else {
                    "below the 60 s per-side dose"
                }
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::Phase;

    #[test]
    fn json_keeps_event_and_t_s_first_and_tags_the_block() {
        let e = SessionEvent::Form {
            block: Some(2),
            event: Event::Phase {
                t_s: 8.5,
                phase: Phase::Hold,
                onset_s: 7.5,
            },
        };
        assert_eq!(
            e.to_json(),
            r#"{"event":"phase","t_s":8.5,"phase":"hold","onset_s":7.5,"block":2}"#
        );
        let f = Figures {
            reps: 2,
            total_static_hold_s: 61.5,
            dose_met: true,
            session_value_deg: Some(70.25),
            ..Default::default()
        };
        let b = SessionEvent::Block(BlockEdge {
            t_s: 100.0,
            block: 1,
            side: Side::Left,
            stretch: StretchType::Supine,
            figures: Some(f),
        });
        let v: serde_json::Value = serde_json::from_str(&b.to_json()).unwrap();
        assert_eq!(v["event"], "block");
        assert_eq!(v["state"], "end");
        assert_eq!(v["reps"], 2);
        assert_eq!(v["session_value_deg"], 70.25);
        let s = SessionEvent::Summary(Summary {
            t_s: 120.0,
            overall: f,
            per_side: [Some(f), None],
            implausible_samples: 0,
        });
        let text = s.to_json();
        assert!(text.starts_with(r#"{"event":"summary","t_s":120.0,"reps":2"#));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["per_side"]["left"]["total_static_hold_s"], 61.5);
        assert!(v["per_side"].get("right").is_none());
    }
}
