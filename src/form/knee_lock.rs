//! D2 locked / hyperextended knee (form-spec 3, D2): θk ≤ `on_deg` for `dwell_s` (locked,
//! ADVISORY) or ≤ `hyper_deg` for `hyper_dwell_s` (hyperextended, WARNING, escalating an open
//! episode); clears at θk ≥ `off_deg` for `off_dwell_s` or when the gate closes.

use super::config::KneeLock;
use super::event::{Cue, Event, Severity, State, r4};

/// The D2 detector.
#[derive(Debug, Clone)]
pub struct KneeLockDetector {
    c: KneeLock,
    on: Option<&'static str>,
    lock_since: Option<f64>,
    hyper_since: Option<f64>,
    off_since: Option<f64>,
    run_min: f64,
    min_knee: f64,
    locked_s: f64,
}

impl KneeLockDetector {
    /// A detector with `c`.
    pub fn new(c: KneeLock) -> Self {
        KneeLockDetector {
            c,
            on: None,
            lock_since: None,
            hyper_since: None,
            off_since: None,
            run_min: f64::INFINITY,
            min_knee: f64::INFINITY,
            locked_s: 0.0,
        }
    }

    fn event(&self, t_s: f64, state: State, kind: &'static str) -> Event {
        let hyper = kind == "hyperextended";
        Event::KneeLocked {
            t_s,
            state,
            severity: if hyper {
                Severity::Warning
            } else {
                Severity::Advisory
            },
            cue: (state == State::On).then_some(Cue::Audio),
            kind,
            min_knee_deg: r4(self.min_knee),
            locked_s: r4(self.locked_s),
        }
    }

    /// Whether an episode is open.
    pub fn active(&self) -> bool {
        self.on.is_some()
    }

    /// Feeds one frame of filtered knee flexion; `gate` is the phase gate.
    pub fn update(&mut self, t_s: f64, dt_s: f64, gate: bool, knee_deg: f64) -> Option<Event> {
        let c = self.c;
        if !gate {
            self.lock_since = None;
            self.hyper_since = None;
            self.off_since = None;
            self.run_min = f64::INFINITY;
            let kind = self.on.take()?;
            return Some(self.event(t_s, State::Off, kind));
        }
        if knee_deg <= c.on_deg {
            if self.lock_since.is_none() {
                self.lock_since = Some(t_s);
                self.run_min = f64::INFINITY;
            }
            self.run_min = self.run_min.min(knee_deg);
        } else {
            self.lock_since = None;
        }
        if knee_deg <= c.hyper_deg {
            self.hyper_since.get_or_insert(t_s);
        } else {
            self.hyper_since = None;
        }
        let hyper = self
            .hyper_since
            .is_some_and(|s| t_s - s >= c.hyper_dwell_s - 1e-9);
        let locked = self.lock_since.is_some_and(|s| t_s - s >= c.dwell_s - 1e-9);
        match self.on {
            None => {
                let kind = if hyper {
                    "hyperextended"
                } else if locked {
                    "locked"
                } else {
                    return None;
                };
                self.on = Some(kind);
                self.min_knee = self.run_min;
                self.locked_s = self.lock_since.map_or(0.0, |s| t_s - s);
                self.off_since = None;
                Some(self.event(t_s, State::On, kind))
            }
            Some(kind) => {
                self.min_knee = self.min_knee.min(knee_deg);
                if knee_deg <= c.on_deg {
                    self.locked_s += dt_s;
                }
                if kind == "locked" && hyper {
                    self.on = Some("hyperextended");
                    return Some(self.event(t_s, State::On, "hyperextended"));
                }
                if knee_deg >= c.off_deg {
                    let s = *self.off_since.get_or_insert(t_s);
                    if t_s - s >= c.off_dwell_s - 1e-9 {
                        self.on = None;
                        self.off_since = None;
                        return Some(self.event(t_s, State::Off, kind));
                    }
                } else {
                    self.off_since = None;
                }
                None
            }
        }
    }
}
