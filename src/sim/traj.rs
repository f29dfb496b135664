//! Trajectory terms (form-spec 5.1): each joint angle is a sum of simple terms of time.
//!
//! All angles are in degrees and all times in seconds of *scenario* time (or prelude time for
//! prelude terms); the layout in [`super::scenario`] maps them onto recording time.

use std::f64::consts::PI;

/// One additive term of an angle trajectory, evaluated at time `t` (degrees).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Term {
    /// A constant `value_deg`.
    Const {
        /// Value, degrees.
        value_deg: f64,
    },
    /// Minimum-jerk ramp `MJ(t; t0, T, a, b) = a + (b − a)(10τ³ − 15τ⁴ + 6τ⁵)`, `τ = clamp((t − t0)/T, 0, 1)`.
    Mj {
        /// Ramp start, seconds.
        t0_s: f64,
        /// Ramp duration `T`, seconds (0 gives a step at `t0`).
        dur_s: f64,
        /// Value before the ramp, degrees.
        a_deg: f64,
        /// Value after the ramp, degrees.
        b_deg: f64,
    },
    /// Raised-cosine bounce `[t0 ≤ t < t1]·A·(1 − cos 2πf(t − t0))` (peak-to-peak `2A`).
    Bounce {
        /// Window start, seconds.
        t0_s: f64,
        /// Window end (exclusive), seconds.
        t1_s: f64,
        /// Amplitude `A`, degrees.
        amp_deg: f64,
        /// Frequency, Hz.
        freq_hz: f64,
    },
    /// Windowed sine `[t0 ≤ t < t1]·A·sin(2πf(t − t0) + phase)`.
    Sine {
        /// Window start, seconds.
        t0_s: f64,
        /// Window end (exclusive), seconds.
        t1_s: f64,
        /// Amplitude `A`, degrees.
        amp_deg: f64,
        /// Frequency, Hz.
        freq_hz: f64,
        /// Phase at `t0`, degrees.
        phase_deg: f64,
    },
    /// Windowed linear ramp `[t0 ≤ t < t1]·slope·(t − t0)`.
    Ramp {
        /// Window start, seconds.
        t0_s: f64,
        /// Window end (exclusive), seconds.
        t1_s: f64,
        /// Slope, degrees per second.
        slope_deg_s: f64,
    },
    /// Windowed constant `[t0 ≤ t < t1]·value` (use `t1_s = f64::INFINITY` for a step).
    Window {
        /// Window start, seconds.
        t0_s: f64,
        /// Window end (exclusive), seconds.
        t1_s: f64,
        /// Value inside the window, degrees.
        value_deg: f64,
    },
}

/// Minimum-jerk ramp from `a` to `b` starting at `t0` lasting `dur` (a step when `dur <= 0`).
pub fn mj(t: f64, t0: f64, dur: f64, a: f64, b: f64) -> f64 {
    let tau = if dur > 0.0 {
        ((t - t0) / dur).clamp(0.0, 1.0)
    } else if t >= t0 {
        1.0
    } else {
        0.0
    };
    let s = tau * tau * tau * (10.0 - 15.0 * tau + 6.0 * tau * tau);
    a + (b - a) * s
}

impl Term {
    /// Value of the term at `t_s`, degrees.
    pub fn eval(&self, t_s: f64) -> f64 {
        let inside = |t0: f64, t1: f64| t_s >= t0 && t_s < t1;
        match *self {
            Term::Const { value_deg } => value_deg,
            Term::Mj {
                t0_s,
                dur_s,
                a_deg,
                b_deg,
            } => mj(t_s, t0_s, dur_s, a_deg, b_deg),
            Term::Bounce {
                t0_s,
                t1_s,
                amp_deg,
                freq_hz,
            } if inside(t0_s, t1_s) => amp_deg * (1.0 - (2.0 * PI * freq_hz * (t_s - t0_s)).cos()),
            Term::Sine {
                t0_s,
                t1_s,
                amp_deg,
                freq_hz,
                phase_deg,
            } if inside(t0_s, t1_s) => {
                amp_deg * (2.0 * PI * freq_hz * (t_s - t0_s) + phase_deg.to_radians()).sin()
            }
            Term::Ramp {
                t0_s,
                t1_s,
                slope_deg_s,
            } if inside(t0_s, t1_s) => slope_deg_s * (t_s - t0_s),
            Term::Window {
                t0_s,
                t1_s,
                value_deg,
            } if inside(t0_s, t1_s) => value_deg,
            Term::Bounce { .. } | Term::Sine { .. } | Term::Ramp { .. } | Term::Window { .. } => {
                0.0
            }
        }
    }

    /// Whether every parameter is finite (window ends may be `+∞`) and durations are not negative.
    pub fn is_valid(&self) -> bool {
        let fin = |v: &[f64]| v.iter().all(|x| x.is_finite());
        match *self {
            Term::Const { value_deg } => value_deg.is_finite(),
            Term::Mj {
                t0_s,
                dur_s,
                a_deg,
                b_deg,
            } => fin(&[t0_s, dur_s, a_deg, b_deg]) && dur_s >= 0.0,
            Term::Bounce {
                t0_s,
                t1_s,
                amp_deg,
                freq_hz,
            } => fin(&[t0_s, amp_deg, freq_hz]) && !t1_s.is_nan(),
            Term::Sine {
                t0_s,
                t1_s,
                amp_deg,
                freq_hz,
                phase_deg,
            } => fin(&[t0_s, amp_deg, freq_hz, phase_deg]) && !t1_s.is_nan(),
            Term::Ramp {
                t0_s,
                t1_s,
                slope_deg_s,
            } => fin(&[t0_s, slope_deg_s]) && !t1_s.is_nan(),
            Term::Window {
                t0_s,
                t1_s,
                value_deg,
            } => fin(&[t0_s, value_deg]) && !t1_s.is_nan(),
        }
    }
}

/// Sum of all terms at `t_s`, degrees.
pub fn eval_sum(terms: &[Term], t_s: f64) -> f64 {
    terms.iter().map(|term| term.eval(t_s)).sum()
}

/// Minimum-jerk term helper.
pub fn mj_term(t0_s: f64, dur_s: f64, a_deg: f64, b_deg: f64) -> Term {
    Term::Mj {
        t0_s,
        dur_s,
        a_deg,
        b_deg,
    }
}

/// Knee rest cycle `k(t0, t1, K) = MJ(t; t0, 1.5, 1, K) + MJ(t; t1, 1.5, K, 1) − K` as terms.
pub fn knee_rest_cycle(t0_s: f64, t1_s: f64, bend_deg: f64) -> [Term; 3] {
    [
        mj_term(t0_s, 1.5, 1.0, bend_deg),
        mj_term(t1_s, 1.5, bend_deg, 1.0),
        Term::Const {
            value_deg: -bend_deg,
        },
    ]
}

/// Raise-hold-release terms `MJ(t; start, entry, 0, e) + MJ(t; release, rel_dur, e, 0) − e`.
pub fn raise_hold_release(
    start_s: f64,
    entry_s: f64,
    excursion_deg: f64,
    release_s: f64,
    release_dur_s: f64,
) -> [Term; 3] {
    [
        mj_term(start_s, entry_s, 0.0, excursion_deg),
        mj_term(release_s, release_dur_s, excursion_deg, 0.0),
        Term::Const {
            value_deg: -excursion_deg,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mj_endpoints_and_midpoint() {
        assert_eq!(mj(4.0, 5.0, 4.0, 0.0, 70.0), 0.0);
        assert_eq!(mj(9.0, 5.0, 4.0, 0.0, 70.0), 70.0);
        assert!((mj(7.0, 5.0, 4.0, 0.0, 70.0) - 35.0).abs() < 1e-12);
        assert_eq!(mj(5.0, 5.0, 0.0, 0.0, 70.0), 70.0);
    }

    #[test]
    fn knee_rest_cycle_rests_at_one_degree() {
        let k = knee_rest_cycle(3.5, 47.0, 12.0);
        assert!((eval_sum(&k, 0.0) - 1.0).abs() < 1e-12);
        assert!((eval_sum(&k, 20.0) - 12.0).abs() < 1e-12);
        assert!((eval_sum(&k, 50.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn windows_are_half_open() {
        let b = Term::Bounce {
            t0_s: 15.0,
            t1_s: 23.0,
            amp_deg: 4.0,
            freq_hz: 1.5,
        };
        assert_eq!(b.eval(14.999), 0.0);
        assert!((b.eval(15.0 + 1.0 / 3.0) - 8.0).abs() < 1e-9);
        assert_eq!(b.eval(23.0), 0.0);
    }
}
