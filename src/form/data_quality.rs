//! D11 data quality (form-spec 1.5 step 5, 1.6, D11): the knee-method cross-check (hinge angle vs
//! inclination difference disagreeing by more than `method_diff_deg` for more than
//! `method_dwell_s`), implausible angle jumps, the pre-block rest check and stream gaps. While the
//! cross-check disagrees, knee detectors are suspended and the rep is marked degraded.

use super::config::DataQuality;
use super::event::{Event, Severity, State, r4};
use crate::model::StretchType;

/// Pre-block rest check duration, s.
pub const REST_CHECK_S: f64 = 3.0;

/// A one-off D11 finding.
pub fn finding(t_s: f64, kind: &'static str, value: f64) -> Event {
    Event::DataQuality {
        t_s,
        kind,
        state: State::On,
        severity: Severity::System,
        value: r4(value),
    }
}

/// The D11 monitor.
#[derive(Debug, Clone)]
pub struct DataQualityMonitor {
    c: DataQuality,
    stretch: StretchType,
    has_pelvis: bool,
    diff_since: Option<f64>,
    disagree: bool,
    worst_diff: f64,
    jump_ring: [(f64, f64, f64); 8],
    jump_n: usize,
    last_jump_s: f64,
    check_sum: [f64; 3],
    check_n: u32,
    check_done: bool,
    block_start_s: f64,
}

impl DataQualityMonitor {
    /// A monitor for a block starting at `block_start_s`.
    pub fn new(c: DataQuality, stretch: StretchType, has_pelvis: bool, block_start_s: f64) -> Self {
        DataQualityMonitor {
            c,
            stretch,
            has_pelvis,
            diff_since: None,
            disagree: false,
            worst_diff: 0.0,
            jump_ring: [(f64::NEG_INFINITY, 0.0, 0.0); 8],
            jump_n: 0,
            last_jump_s: f64::NEG_INFINITY,
            check_sum: [0.0; 3],
            check_n: 0,
            check_done: false,
            block_start_s,
        }
    }

    /// Whether the knee cross-check currently disagrees (knee detectors suspended).
    pub fn knee_suspended(&self) -> bool {
        self.disagree
    }

    /// Feeds one in-block frame; calls `out` for each event.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        t_s: f64,
        knee_deg: f64,
        knee_sagittal_deg: Option<f64>,
        primary_deg: f64,
        leg_raise_deg: Option<f64>,
        hip_deg: Option<f64>,
        out: &mut impl FnMut(Event),
    ) {
        // Cross-check.
        if let Some(ks) = knee_sagittal_deg {
            let d = (knee_deg - ks).abs();
            if d > self.c.method_diff_deg {
                let s = *self.diff_since.get_or_insert(t_s);
                self.worst_diff = self.worst_diff.max(d);
                if !self.disagree && t_s - s > self.c.method_dwell_s {
                    self.disagree = true;
                    out(Event::DataQuality {
                        t_s,
                        kind: "knee_method_disagreement",
                        state: State::On,
                        severity: Severity::System,
                        value: r4(self.worst_diff),
                    });
                }
            } else {
                self.diff_since = None;
                if self.disagree {
                    self.disagree = false;
                    out(Event::DataQuality {
                        t_s,
                        kind: "knee_method_disagreement",
                        state: State::Off,
                        severity: Severity::System,
                        value: r4(self.worst_diff),
                    });
                }
                self.worst_diff = 0.0;
            }
        }
        // Implausible jumps: compare with the newest frame at least `jump_window_s` old.
        let ring = &self.jump_ring;
        let mut jump = 0.0f64;
        for i in 0..ring.len().min(self.jump_n) {
            let (t0, k0, p0) = ring[(self.jump_n - 1 - i) % ring.len()];
            if t_s - t0 >= self.c.jump_window_s - 1e-9 {
                jump = (knee_deg - k0).abs().max((primary_deg - p0).abs());
                break;
            }
        }
        let n = self.jump_ring.len();
        self.jump_ring[self.jump_n % n] = (t_s, knee_deg, primary_deg);
        self.jump_n += 1;
        if jump.is_finite() && jump > self.c.jump_deg && t_s - self.last_jump_s > 1.0 {
            self.last_jump_s = t_s;
            out(finding(t_s, "angle_jump", jump));
        }
        // Pre-block rest check over the first REST_CHECK_S of the block.
        if !self.check_done {
            let primary = match self.stretch {
                StretchType::Supine => leg_raise_deg,
                _ if self.has_pelvis => hip_deg,
                _ => None,
            };
            self.check_sum[0] += primary.unwrap_or(f64::NAN);
            self.check_sum[1] += knee_deg;
            self.check_n += 1;
            if t_s - self.block_start_s >= REST_CHECK_S {
                self.check_done = true;
                let n = f64::from(self.check_n);
                let (p, k) = (self.check_sum[0] / n, self.check_sum[1] / n);
                let (expect, tol) = match self.stretch {
                    StretchType::Supine => (0.0, 5.0),
                    _ => (90.0, 8.0),
                };
                let primary_bad = p.is_finite()
                    && self.stretch != StretchType::Standing
                    && (p - expect).abs() > tol;
                // The knee is checked with the leg straight on the floor (supine only; the seated
                // fixture rests with a slight bend).
                let knee_bad = self.stretch == StretchType::Supine && k.abs() > 5.0;
                if primary_bad {
                    out(finding(t_s, "pre_block_check", p));
                } else if knee_bad {
                    out(finding(t_s, "pre_block_check", k));
                }
            }
        }
    }
}
