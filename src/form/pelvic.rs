//! D9 pelvic compensation (form-spec 3, D9; supine with a pelvis sensor): the tilt change
//! relative to rest at the start of the rep is a metric (reported per rep); the optional ADVISORY
//! cue fires when the posterior change exceeds `posterior_tilt_deg` for `dwell_s` in HOLD.

use super::config::PelvicComp;
use super::event::{Cue, Event, Severity, State, r4};

/// The D9 cue detector (the metric itself is accumulated by the hold tracker).
#[derive(Debug, Clone)]
pub struct PelvicDetector {
    c: PelvicComp,
    since: Option<f64>,
    on: bool,
    worst: f64,
}

impl PelvicDetector {
    /// A detector with `c`.
    pub fn new(c: PelvicComp) -> Self {
        PelvicDetector {
            c,
            since: None,
            on: false,
            worst: 0.0,
        }
    }

    fn event(&self, t_s: f64, state: State) -> Event {
        Event::PelvicCompensation {
            t_s,
            state,
            severity: Severity::Advisory,
            cue: (state == State::On).then_some(Cue::Audio),
            tilt_change_deg: r4(self.worst),
        }
    }

    /// Whether an episode is open.
    pub fn active(&self) -> bool {
        self.on
    }

    /// Feeds the tilt change vs rest (posterior negative); `gate` is HOLD.
    pub fn update(&mut self, t_s: f64, gate: bool, tilt_change_deg: f64) -> Option<Event> {
        if !self.c.cue_enabled {
            return None;
        }
        let posterior = gate && tilt_change_deg <= -self.c.posterior_tilt_deg;
        if !self.on {
            if posterior {
                let s = *self.since.get_or_insert(t_s);
                self.worst = self.worst.min(tilt_change_deg);
                if t_s - s >= self.c.dwell_s - 1e-9 {
                    self.on = true;
                    return Some(self.event(t_s, State::On));
                }
            } else {
                self.since = None;
                self.worst = 0.0;
            }
            return None;
        }
        self.worst = self.worst.min(tilt_change_deg);
        if !posterior {
            self.on = false;
            self.since = None;
            let e = self.event(t_s, State::Off);
            self.worst = 0.0;
            return Some(e);
        }
        None
    }
}
