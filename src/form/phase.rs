//! Phase machine REST → MOVING_IN → HOLD → RELEASE → REST (form-spec 2.1) with backdated onsets.
//!
//! Works on the filtered primary angle θf, its 1-s mean θm and the gyro rate ω of the primary
//! angle. At most one transition per frame; each carries its detection time and backdated onset:
//! MOVING_IN at the start of movement (first sample with ω ≥ `move_w_dps`, when θ_rest froze),
//! HOLD at detection − `hold_window_s`, RELEASE at the last time ω > −5 °/s, REST at the start of
//! the settling dwell.

use super::config::Phases;
use super::event::Phase;
use super::filters::{Ring, RollingRange, samples_for};

/// Why the phase changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionKind {
    /// REST → MOVING_IN (a new rep cycle starts).
    Start,
    /// MOVING_IN → HOLD.
    Hold,
    /// HOLD → MOVING_IN (deepening; same rep, new hold segment).
    Deepen,
    /// HOLD → RELEASE.
    Release,
    /// MOVING_IN → RELEASE before a hold in this movement.
    Abort,
    /// RELEASE → MOVING_IN (re-stretch; same rep).
    Restretch,
    /// RELEASE → REST (the rep cycle ends).
    Rest,
}

/// One phase change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// What happened.
    pub kind: TransitionKind,
    /// New phase.
    pub to: Phase,
    /// Detection time, s.
    pub t_s: f64,
    /// Backdated onset, s.
    pub onset_s: f64,
}

/// Per-frame inputs.
#[derive(Debug, Clone, Copy)]
pub struct PhaseInput {
    /// Frame time, s.
    pub t_s: f64,
    /// θf, degrees.
    pub theta_f_deg: f64,
    /// θm, degrees.
    pub theta_m_deg: f64,
    /// ω (10 Hz), °/s.
    pub w_dps: f64,
}

/// The phase machine of one exercise block.
#[derive(Debug, Clone)]
pub struct PhaseMachine {
    p: Phases,
    phase: Phase,
    rest_ring: Ring,
    win_ring: Ring,
    range: RollingRange,
    m_ring: Ring,
    scratch: Vec<f64>,
    theta_rest_deg: Option<f64>,
    frozen: bool,
    move_start_s: f64,
    below_since_s: Option<f64>,
    up_since_s: Option<f64>,
    rel_since_s: Option<f64>,
    last_w_above_s: f64,
    rest_since_s: Option<f64>,
    ref_deg: f64,
    next_ref_update_s: f64,
    hold_detect_s: f64,
    stayed_above: bool,
    last_seg_end_s: f64,
}

/// Release onsets go back to the last time ω was above this, °/s (form-spec 2.1).
const RELEASE_ONSET_W_DPS: f64 = -5.0;
/// θ_rest is the median of this much REST before movement, s.
const REST_MEDIAN_S: f64 = 2.0;
/// θ_rest re-arms after ω stays below `move_w_dps` this long, s.
const REARM_S: f64 = 0.5;

impl PhaseMachine {
    /// A machine for frames every `dt_s`.
    pub fn new(p: Phases, dt_s: f64) -> Self {
        let n_rest = samples_for(REST_MEDIAN_S, dt_s);
        let n_win = samples_for(p.hold_window_s, dt_s) + 1;
        let n_m = samples_for(p.ref_update_s, dt_s);
        PhaseMachine {
            p,
            phase: Phase::Rest,
            rest_ring: Ring::new(n_rest),
            win_ring: Ring::new(n_win),
            range: RollingRange::new(n_win),
            m_ring: Ring::new(n_m),
            scratch: Vec::with_capacity(n_rest.max(n_win).max(n_m)),
            theta_rest_deg: None,
            frozen: false,
            move_start_s: 0.0,
            below_since_s: None,
            up_since_s: None,
            rel_since_s: None,
            last_w_above_s: f64::NEG_INFINITY,
            rest_since_s: None,
            ref_deg: 0.0,
            next_ref_update_s: f64::INFINITY,
            hold_detect_s: f64::NEG_INFINITY,
            stayed_above: true,
            last_seg_end_s: f64::NEG_INFINITY,
        }
    }

    /// Back to REST with no history, as at the start (after a long loss of data).
    pub fn reset(&mut self) {
        self.phase = Phase::Rest;
        self.rest_ring.clear();
        self.win_ring.clear();
        self.range.reset();
        self.m_ring.clear();
        self.theta_rest_deg = None;
        self.frozen = false;
        self.below_since_s = None;
        self.up_since_s = None;
        self.rel_since_s = None;
        self.last_w_above_s = f64::NEG_INFINITY;
        self.rest_since_s = None;
        self.next_ref_update_s = f64::INFINITY;
        self.stayed_above = true;
    }

    /// Current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// θ_rest of the current rep cycle (None before the first movement).
    pub fn theta_rest_deg(&self) -> Option<f64> {
        self.theta_rest_deg
    }

    /// Current hold reference (meaningful in HOLD).
    pub fn ref_deg(&self) -> f64 {
        self.ref_deg
    }

    /// Detection time of the latest HOLD, s.
    pub fn hold_detect_s(&self) -> f64 {
        self.hold_detect_s
    }

    fn go(&mut self, kind: TransitionKind, to: Phase, t_s: f64, onset_s: f64) -> Transition {
        self.phase = to;
        Transition {
            kind,
            to,
            t_s,
            onset_s,
        }
    }

    fn median_rest(&mut self) -> Option<f64> {
        self.rest_ring.median(&mut self.scratch)
    }

    /// Advances one frame; returns the transition it caused, if any.
    pub fn update(&mut self, x: &PhaseInput) -> Option<Transition> {
        let p = self.p;
        let t = x.t_s;
        let (lo, hi) = self.range.update(x.theta_f_deg);
        self.win_ring.push(x.theta_f_deg);
        self.m_ring.push(x.theta_m_deg);
        if x.w_dps > RELEASE_ONSET_W_DPS {
            self.last_w_above_s = t;
        }
        let up = x.w_dps >= p.move_w_dps;
        if up {
            self.up_since_s.get_or_insert(t);
        } else {
            self.up_since_s = None;
        }
        let up_dwell = self
            .up_since_s
            .is_some_and(|s| t - s >= p.move_dwell_s - 1e-9);
        if x.w_dps <= p.release_w_dps {
            self.rel_since_s.get_or_insert(t);
        } else {
            self.rel_since_s = None;
        }
        let rel_dwell = self
            .rel_since_s
            .is_some_and(|s| t - s >= p.release_dwell_s - 1e-9);

        match self.phase {
            Phase::Rest => {
                self.rest_ring.push(x.theta_f_deg);
                if self.theta_rest_deg.is_none() {
                    self.theta_rest_deg = Some(x.theta_f_deg);
                }
                if !self.frozen {
                    if up {
                        self.frozen = true;
                        self.move_start_s = t;
                        self.theta_rest_deg = self.median_rest();
                        self.below_since_s = None;
                    }
                } else if !up {
                    let s = *self.below_since_s.get_or_insert(t);
                    if t - s >= REARM_S {
                        self.frozen = false;
                        self.below_since_s = None;
                    }
                } else {
                    self.below_since_s = None;
                }
                let rest = self.theta_rest_deg.unwrap_or(x.theta_f_deg);
                if self.frozen && up_dwell && x.theta_f_deg - rest >= p.rise_deg {
                    let onset = self.move_start_s;
                    return Some(self.go(TransitionKind::Start, Phase::MovingIn, t, onset));
                }
                None
            }
            Phase::MovingIn => {
                let rest = self.theta_rest_deg.unwrap_or(0.0);
                if self.range.is_full()
                    && hi - lo <= p.hold_range_deg
                    && x.theta_f_deg - rest >= p.hold_min_above_rest_deg
                {
                    self.ref_deg = self
                        .win_ring
                        .median(&mut self.scratch)
                        .unwrap_or(x.theta_f_deg);
                    self.next_ref_update_s = t + p.ref_update_s;
                    self.hold_detect_s = t;
                    let onset = (t - p.hold_window_s).max(self.last_seg_end_s);
                    return Some(self.go(TransitionKind::Hold, Phase::Hold, t, onset));
                }
                if rel_dwell {
                    let onset = self.last_w_above_s.min(t);
                    self.stayed_above = true;
                    return Some(self.go(TransitionKind::Abort, Phase::Release, t, onset));
                }
                None
            }
            Phase::Hold => {
                if t >= self.next_ref_update_s {
                    if let Some(m) = self.m_ring.median(&mut self.scratch) {
                        self.ref_deg = m;
                    }
                    self.next_ref_update_s = t + p.ref_update_s;
                }
                if x.theta_m_deg < self.ref_deg - p.band_lo_deg || rel_dwell {
                    let onset = self.last_w_above_s.min(t);
                    self.last_seg_end_s = onset;
                    self.stayed_above = true;
                    return Some(self.go(TransitionKind::Release, Phase::Release, t, onset));
                }
                if x.theta_m_deg > self.ref_deg + p.band_hi_deg {
                    self.last_seg_end_s = t;
                    self.range.reset();
                    return Some(self.go(TransitionKind::Deepen, Phase::MovingIn, t, t));
                }
                None
            }
            Phase::Release => {
                let rest = self.theta_rest_deg.unwrap_or(0.0);
                let near_rest = x.theta_f_deg - rest <= p.rise_deg;
                if near_rest {
                    self.stayed_above = false;
                }
                if near_rest && x.w_dps.abs() < p.move_w_dps {
                    let s = *self.rest_since_s.get_or_insert(t);
                    if t - s >= p.rest_dwell_s - 1e-9 {
                        self.rest_since_s = None;
                        self.frozen = false;
                        self.rest_ring.clear();
                        self.theta_rest_deg = None;
                        return Some(self.go(TransitionKind::Rest, Phase::Rest, t, s));
                    }
                } else {
                    self.rest_since_s = None;
                }
                if up_dwell && self.stayed_above {
                    let onset = self.up_since_s.unwrap_or(t);
                    self.range.reset();
                    return Some(self.go(TransitionKind::Restretch, Phase::MovingIn, t, onset));
                }
                None
            }
        }
    }

    /// Backdated onset a hold segment ending now would get (used when a block ends mid-hold).
    pub fn last_w_above_s(&self) -> f64 {
        self.last_w_above_s
    }
}
