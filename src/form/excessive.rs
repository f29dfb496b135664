//! D3 excessive range against the user's baseline and D3p population guardrail
//! (form-spec 3, D3/D3p).

use super::config::Excessive;
use super::event::{Cue, Event, Severity, State, r4};

/// Baseline B and margin Δ for D3.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// B, degrees.
    pub value_deg: f64,
    /// Δ, degrees.
    pub delta_deg: f64,
}

impl Baseline {
    /// B set explicitly (`--baseline-deg`, or a clinician) with the standard Δ.
    pub fn explicit(value_deg: f64, c: &Excessive) -> Baseline {
        Baseline {
            value_deg,
            delta_deg: c.delta_deg,
        }
    }

    /// B from prior session values (oldest first): median of the last `history_sessions`; Δ is
    /// provisional with fewer than 3 sessions; `None` without history.
    pub fn from_history(history_deg: &[f64], c: &Excessive) -> Option<Baseline> {
        if history_deg.is_empty() {
            return None;
        }
        let n = history_deg.len().min(c.history_sessions as usize);
        let mut last: Vec<f64> = history_deg[history_deg.len() - n..].to_vec();
        let value_deg = super::filters::median_in_place(&mut last);
        let delta_deg = if n >= 3 {
            c.delta_deg
        } else {
            c.delta_provisional_deg
        };
        Some(Baseline {
            value_deg,
            delta_deg,
        })
    }
}

/// The D3 and D3p detector.
#[derive(Debug, Clone)]
pub struct ExcessiveDetector {
    c: Excessive,
    baseline: Option<Baseline>,
    pop_limit_deg: f64,
    since: Option<f64>,
    on: bool,
    peak: f64,
    pop_done: bool,
}

impl ExcessiveDetector {
    /// A detector; `pop_limit_deg` is the D3p limit for the stretch.
    pub fn new(c: Excessive, baseline: Option<Baseline>, pop_limit_deg: f64) -> Self {
        // D3p is not applied when the user's baseline already exceeds it.
        let pop_done = baseline.is_some_and(|b| b.value_deg >= pop_limit_deg);
        ExcessiveDetector {
            c,
            baseline,
            pop_limit_deg,
            since: None,
            on: false,
            peak: f64::NEG_INFINITY,
            pop_done,
        }
    }

    fn event(&self, t_s: f64, state: State, b: Baseline) -> Event {
        Event::ExcessiveRange {
            t_s,
            state,
            severity: Severity::Warning,
            cue: (state == State::On).then_some(Cue::Audio),
            excess_deg: r4(self.peak - b.value_deg),
            baseline_deg: r4(b.value_deg),
            threshold_deg: r4(b.value_deg + b.delta_deg),
        }
    }

    /// Whether an episode is open.
    pub fn active(&self) -> bool {
        self.on
    }

    /// Feeds θf; `gate` is MOVING_IN/HOLD. Returns up to one D3 event and one D3p event.
    pub fn update(&mut self, t_s: f64, gate: bool, theta_f: f64) -> (Option<Event>, Option<Event>) {
        let mut pop = None;
        if !self.pop_done && theta_f > self.pop_limit_deg {
            self.pop_done = true;
            pop = Some(Event::UnusualRange {
                t_s,
                severity: Severity::Info,
                angle_deg: r4(theta_f),
                limit_deg: self.pop_limit_deg,
            });
        }
        let Some(b) = self.baseline else {
            return (None, pop);
        };
        let thr = b.value_deg + b.delta_deg;
        if !self.on {
            if gate && theta_f > thr {
                let s = *self.since.get_or_insert(t_s);
                self.peak = self.peak.max(theta_f);
                if t_s - s >= self.c.dwell_s - 1e-9 {
                    self.on = true;
                    return (Some(self.event(t_s, State::On, b)), pop);
                }
            } else {
                self.since = None;
                self.peak = f64::NEG_INFINITY;
            }
            return (None, pop);
        }
        self.peak = self.peak.max(theta_f);
        if !gate || theta_f < thr - self.c.hyst_deg {
            self.on = false;
            self.since = None;
            let e = self.event(t_s, State::Off, b);
            self.peak = f64::NEG_INFINITY;
            return (Some(e), pop);
        }
        (None, pop)
    }
}
