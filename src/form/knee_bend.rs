//! D10 excess knee bend (form-spec 3, D10; straight-leg variants): θk > `max_deg` for `dwell_s`
//! during HOLD gives an INFO episode.

use super::config::KneeBendExcess;
use super::event::{Event, Severity, State, r4};

/// The D10 detector.
#[derive(Debug, Clone)]
pub struct KneeBendDetector {
    c: KneeBendExcess,
    since: Option<f64>,
    on: bool,
    max_knee: f64,
}

impl KneeBendDetector {
    /// A detector with `c`.
    pub fn new(c: KneeBendExcess) -> Self {
        KneeBendDetector {
            c,
            since: None,
            on: false,
            max_knee: f64::NEG_INFINITY,
        }
    }

    fn event(&self, t_s: f64, state: State) -> Event {
        Event::KneeBendExcess {
            t_s,
            state,
            severity: Severity::Info,
            max_knee_deg: r4(self.max_knee),
        }
    }

    /// Feeds filtered knee flexion; `gate` is HOLD (or the manual block gate).
    pub fn update(&mut self, t_s: f64, gate: bool, knee_deg: f64) -> Option<Event> {
        if !self.c.enabled_for_straight_leg {
            return None;
        }
        let bent = gate && knee_deg > self.c.max_deg;
        if !self.on {
            if bent {
                let s = *self.since.get_or_insert(t_s);
                self.max_knee = self.max_knee.max(knee_deg);
                if t_s - s >= self.c.dwell_s - 1e-9 {
                    self.on = true;
                    return Some(self.event(t_s, State::On));
                }
            } else {
                self.since = None;
                self.max_knee = f64::NEG_INFINITY;
            }
            return None;
        }
        self.max_knee = self.max_knee.max(knee_deg);
        if !bent {
            self.on = false;
            self.since = None;
            let e = self.event(t_s, State::Off);
            self.max_knee = f64::NEG_INFINITY;
            return Some(e);
        }
        None
    }
}
