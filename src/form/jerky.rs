//! D6 jerky entry (form-spec 3, D6): inside the end-range zone, |ω| ≥ `w_dps` for `w_dwell_s`,
//! or |α| ≥ `alpha_dps2` while |ω| ≥ `alpha_min_w_dps`; gated to MOVING_IN and the first
//! `post_hold_gate_s` of HOLD; at most one episode per rep.

use super::config::Jerky;
use super::event::{Cue, Event, Severity, State, r4};

/// The D6 detector.
#[derive(Debug, Clone)]
pub struct JerkyDetector {
    c: Jerky,
    fired: bool,
    on: Option<&'static str>,
    w_since: Option<f64>,
    peak_w: f64,
    peak_alpha: f64,
}

impl JerkyDetector {
    /// A detector with `c`.
    pub fn new(c: Jerky) -> Self {
        JerkyDetector {
            c,
            fired: false,
            on: None,
            w_since: None,
            peak_w: 0.0,
            peak_alpha: 0.0,
        }
    }

    /// Re-arms at the start of a rep.
    pub fn new_rep(&mut self) {
        self.fired = false;
        self.peak_w = 0.0;
        self.peak_alpha = 0.0;
        self.w_since = None;
    }

    fn event(&self, t_s: f64, state: State, rule: &'static str) -> Event {
        Event::JerkyEntry {
            t_s,
            state,
            severity: Severity::Warning,
            cue: (state == State::On).then_some(Cue::Audio),
            peak_w_dps: r4(self.peak_w),
            peak_alpha_dps2: r4(self.peak_alpha),
            rule,
        }
    }

    /// Whether an episode is open.
    pub fn active(&self) -> bool {
        self.on.is_some()
    }

    /// Feeds one frame; `zone_deg` is the zone threshold on θf.
    pub fn update(
        &mut self,
        t_s: f64,
        gate: bool,
        theta_f: f64,
        zone_deg: f64,
        w_dps: f64,
        alpha_dps2: f64,
    ) -> Option<Event> {
        if !gate {
            self.w_since = None;
            let rule = self.on.take()?;
            return Some(self.event(t_s, State::Off, rule));
        }
        if theta_f < zone_deg {
            self.w_since = None;
            return None;
        }
        let w = w_dps.abs();
        let a = alpha_dps2.abs();
        self.peak_w = self.peak_w.max(w);
        if w >= self.c.alpha_min_w_dps {
            self.peak_alpha = self.peak_alpha.max(a);
        }
        if self.fired {
            return None;
        }
        if w >= self.c.w_dps {
            self.w_since.get_or_insert(t_s);
        } else {
            self.w_since = None;
        }
        let rule = if self
            .w_since
            .is_some_and(|s| t_s - s >= self.c.w_dwell_s - 1e-9)
        {
            "omega"
        } else if a >= self.c.alpha_dps2 && w >= self.c.alpha_min_w_dps {
            "alpha"
        } else {
            return None;
        };
        self.fired = true;
        self.on = Some(rule);
        Some(self.event(t_s, State::On, rule))
    }
}
