//! Spoken cues and chimes for the live page: the short phrase said for each audio cue the
//! engine's arbitration picked, the hold milestones (15 s halfway chime, 20 s, 30 s target), and
//! the pacing that keeps them from chattering (form-spec 3: at most one spoken cue every 3 s,
//! a persisting warning said again after 10 s). The browser only plays what it is sent.

use crate::form::event::Cue;
use crate::form::{Event, State};

/// At most one spoken cue this often, seconds (form-spec 3, arbitration).
pub const MIN_GAP_S: f64 = 3.0;
/// A warning still on is said again after this long, seconds.
pub const REANNOUNCE_S: f64 = 10.0;

/// The phrase spoken for a live warning the engine gave an audio cue (form-spec 6.2: short,
/// positive, about technique).
pub fn spoken_text(e: &Event) -> Option<&'static str> {
    Some(match e {
        Event::Bouncing { .. } => "Ease off, no bouncing",
        Event::KneeLocked { kind, .. } if *kind == "hyperextended" => {
            "Soften your knee, keep a slight bend"
        }
        Event::KneeLocked { .. } => "Soften your knee",
        Event::ExcessiveRange { .. } => "Further than usual, ease off",
        Event::JerkyEntry { .. } => "Slow down as you go in",
        Event::PelvicCompensation { .. } => "Keep your hips still",
        _ => return None,
    })
}

/// What the page should play now.
#[derive(Debug, Clone, PartialEq)]
pub struct CueOut {
    /// Text to speak, if any.
    pub speak: Option<String>,
    /// Chime: `halfway` or `done`.
    pub chime: Option<&'static str>,
}

/// Paces spoken cues and tracks the hold milestones of the current rep.
#[derive(Debug, Default)]
pub struct CueGate {
    last_spoken_s: Option<f64>,
    /// Warnings on with an audio cue: name, phrase and when last said.
    active: Vec<(&'static str, &'static str, f64)>,
    /// Milestones passed in this hold: 15, 20, 30 s.
    passed: [bool; 3],
    /// A warning was on during this rep (praise never contradicts it).
    warned_this_rep: bool,
}

impl CueGate {
    fn may_speak(&self, t_s: f64) -> bool {
        self.last_spoken_s.is_none_or(|l| t_s - l >= MIN_GAP_S)
    }

    /// A form event from the engine; returns what to play for it.
    pub fn on_event(&mut self, e: &Event) -> Option<CueOut> {
        let t = e.t_s();
        match (e.state(), e.cue()) {
            (Some(State::On), cue) if e.severity().is_some() => {
                self.warned_this_rep = true;
                let phrase = spoken_text(e)?;
                if cue == Some(Cue::Audio) {
                    self.active.retain(|a| a.0 != e.name());
                    self.active.push((e.name(), phrase, t));
                    // The engine already arbitrated between warnings; the gap also covers the
                    // hold milestones spoken in between.
                    if self.may_speak(t) {
                        self.last_spoken_s = Some(t);
                        return Some(CueOut {
                            speak: Some(phrase.to_string()),
                            chime: None,
                        });
                    }
                }
                None
            }
            (Some(State::Off), _) => {
                self.active.retain(|a| a.0 != e.name());
                None
            }
            _ => {
                if let Event::Phase {
                    phase: crate::form::Phase::MovingIn,
                    ..
                } = e
                {
                    self.passed = [false; 3];
                    self.warned_this_rep = false;
                }
                None
            }
        }
    }

    /// The engine's static hold at frame time `t_s` (`None` outside a hold); returns a milestone
    /// cue or a re-announced warning when one is due.
    pub fn on_frame(&mut self, t_s: f64, static_hold_s: Option<f64>) -> Option<CueOut> {
        if let Some(h) = static_hold_s {
            for (i, (at, chime, text)) in [
                (15.0, Some("halfway"), None),
                (20.0, None, Some("20 seconds")),
                (30.0, Some("done"), Some("30, well done, release slowly")),
            ]
            .into_iter()
            .enumerate()
            {
                if h >= at && !self.passed[i] {
                    self.passed[i] = true;
                    let text = match text {
                        Some(_) if i == 2 && self.warned_this_rep => Some("30 seconds"),
                        other => other,
                    };
                    let speak = text.filter(|_| self.may_speak(t_s)).map(|s| {
                        self.last_spoken_s = Some(t_s);
                        s.to_string()
                    });
                    if speak.is_some() || chime.is_some() {
                        return Some(CueOut { speak, chime });
                    }
                }
            }
        }
        let due = self.active.iter().position(|a| t_s - a.2 >= REANNOUNCE_S);
        if let Some(i) = due
            && self.may_speak(t_s)
        {
            self.active[i].2 = t_s;
            self.last_spoken_s = Some(t_s);
            return Some(CueOut {
                speak: Some(self.active[i].1.to_string()),
                chime: None,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milestones_come_once_per_hold_and_praise_waits_for_a_clean_rep() {
        let mut g = CueGate::default();
        assert_eq!(g.on_frame(1.0, Some(14.9)), None);
        assert_eq!(g.on_frame(1.1, Some(15.0)).unwrap().chime, Some("halfway"));
        assert_eq!(g.on_frame(1.2, Some(15.5)), None);
        let c = g.on_frame(6.0, Some(20.0)).unwrap();
        assert_eq!(c.speak.as_deref(), Some("20 seconds"));
        let c = g.on_frame(16.0, Some(30.0)).unwrap();
        assert_eq!(c.speak.as_deref(), Some("30, well done, release slowly"));
        assert_eq!(c.chime, Some("done"));
        assert_eq!(g.on_frame(17.0, Some(31.0)), None);
    }

    #[test]
    fn spoken_cues_keep_three_seconds_apart() {
        // 20 s milestone inside the gap: no speech, and no chime at 20 s either.
        let mut g = CueGate {
            last_spoken_s: Some(10.0),
            passed: [true, false, false],
            ..Default::default()
        };
        assert_eq!(g.on_frame(11.0, Some(20.0)), None);
        assert!(g.passed[1]);
    }
}
