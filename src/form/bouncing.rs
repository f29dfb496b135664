//! D1 bouncing (form-spec 3, D1): a zig-zag reversal detector with hysteresis on θf (one instance
//! on the primary angle, one on the knee), qualifying excursions by size, cycle period and gate
//! zone, firing after `n_excursions` consecutive qualifying excursions within `window_s`.

use super::config::Bouncing;
use super::event::{Cue, Event, Severity, Signal, State};
use super::filters::median_in_place;

/// Episode statistics kept (excursions beyond this are not added to the medians).
const MAX_STATS: usize = 128;
/// Recent extremum times kept for the span check.
const EXT_RING: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Extremum {
    t_s: f64,
    value: f64,
    is_max: bool,
    gate_ok: bool,
}

/// What an update produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BounceEdge {
    /// Episode started at `first_extremum_s`.
    On {
        /// First extremum of the episode, s.
        first_extremum_s: f64,
    },
    /// Episode ended; its last extremum.
    Off {
        /// Last extremum of the episode, s.
        last_extremum_s: f64,
    },
}

/// One D1 instance.
#[derive(Debug, Clone)]
pub struct BounceDetector {
    c: Bouncing,
    signal: Signal,
    /// 0 undecided, +1 tracking a maximum, −1 tracking a minimum.
    dir: i8,
    run_max: Extremum,
    run_min: Extremum,
    last: [Option<Extremum>; 2],
    ext_t: [f64; EXT_RING],
    n_ext: usize,
    chain: u32,
    active: bool,
    first_s: f64,
    last_s: f64,
    last_qual_confirm_s: f64,
    p2p: [f64; MAX_STATS],
    freq: [f64; MAX_STATS],
    n_p2p: usize,
    n_freq: usize,
    n_qual: u32,
    scratch: [f64; MAX_STATS],
}

impl BounceDetector {
    /// A detector on `signal`.
    pub fn new(c: Bouncing, signal: Signal) -> Self {
        let e = Extremum {
            t_s: 0.0,
            value: f64::NAN,
            is_max: true,
            gate_ok: false,
        };
        BounceDetector {
            c,
            signal,
            dir: 0,
            run_max: e,
            run_min: e,
            last: [None; 2],
            ext_t: [0.0; EXT_RING],
            n_ext: 0,
            chain: 0,
            active: false,
            first_s: 0.0,
            last_s: 0.0,
            last_qual_confirm_s: 0.0,
            p2p: [0.0; MAX_STATS],
            freq: [0.0; MAX_STATS],
            n_p2p: 0,
            n_freq: 0,
            n_qual: 0,
            scratch: [0.0; MAX_STATS],
        }
    }

    /// Whether an episode is active.
    pub fn active(&self) -> bool {
        self.active
    }

    fn median(scratch: &mut [f64; MAX_STATS], v: &[f64]) -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let s = &mut scratch[..v.len()];
        s.copy_from_slice(v);
        median_in_place(s)
    }

    /// The event for the current episode.
    fn event(&mut self, t_s: f64, state: State) -> Event {
        let p2p = Self::median(&mut self.scratch, &self.p2p[..self.n_p2p]);
        let freq = Self::median(&mut self.scratch, &self.freq[..self.n_freq]);
        Event::Bouncing {
            t_s,
            state,
            severity: Severity::Warning,
            cue: (state == State::On).then_some(Cue::Audio),
            signal: self.signal,
            freq_hz: super::event::r4(freq),
            p2p_deg: super::event::r4(p2p),
            first_extremum_s: super::event::r4(self.first_s),
            last_extremum_s: super::event::r4(self.last_s),
            excursions: self.n_qual,
        }
    }

    fn reset_chain_stats(&mut self) {
        self.n_p2p = 0;
        self.n_freq = 0;
        self.n_qual = 0;
    }

    fn add_stats(&mut self, p2p: f64, freq: Option<f64>) {
        if self.n_p2p < MAX_STATS {
            self.p2p[self.n_p2p] = p2p;
            self.n_p2p += 1;
        }
        if let Some(f) = freq
            && self.n_freq < MAX_STATS
        {
            self.freq[self.n_freq] = f;
            self.n_freq += 1;
        }
        self.n_qual += 1;
    }

    /// Feeds one frame: `x` is θf of the watched signal, `gate_ok` whether the frame lies in the
    /// gate zone (phase MOVING_IN/HOLD and primary θf above the zone), `phase_open` whether the
    /// phase gate is open. Returns the event and the edge for the hold tracker, if any.
    pub fn update(
        &mut self,
        t_s: f64,
        x: f64,
        gate_ok: bool,
        phase_open: bool,
    ) -> Option<(Event, BounceEdge)> {
        let here = |is_max| Extremum {
            t_s,
            value: x,
            is_max,
            gate_ok,
        };
        let mut confirmed = None;
        match self.dir {
            0 => {
                if self.run_max.value.is_nan() || x >= self.run_max.value {
                    self.run_max = here(true);
                }
                if self.run_min.value.is_nan() || x <= self.run_min.value {
                    self.run_min = here(false);
                }
                if self.run_max.value - x >= self.c.hyst_deg {
                    confirmed = Some(self.run_max);
                    self.dir = -1;
                    self.run_min = here(false);
                } else if x - self.run_min.value >= self.c.hyst_deg {
                    confirmed = Some(self.run_min);
                    self.dir = 1;
                    self.run_max = here(true);
                }
            }
            1 => {
                if x >= self.run_max.value {
                    self.run_max = here(true);
                } else if self.run_max.value - x >= self.c.hyst_deg {
                    confirmed = Some(self.run_max);
                    self.dir = -1;
                    self.run_min = here(false);
                }
            }
            _ => {
                if x <= self.run_min.value {
                    self.run_min = here(false);
                } else if x - self.run_min.value >= self.c.hyst_deg {
                    confirmed = Some(self.run_min);
                    self.dir = 1;
                    self.run_max = here(true);
                }
            }
        }
        let mut out = None;
        if let Some(e) = confirmed {
            out = self.on_extremum(t_s, e);
        }
        if out.is_none()
            && self.active
            && (!phase_open || t_s - self.last_qual_confirm_s >= self.c.clear_s - 1e-9)
        {
            self.active = false;
            let ev = self.event(t_s, State::Off);
            self.chain = 0;
            self.reset_chain_stats();
            out = Some((
                ev,
                BounceEdge::Off {
                    last_extremum_s: self.last_s,
                },
            ));
        }
        out
    }

    fn on_extremum(&mut self, t_s: f64, e: Extremum) -> Option<(Event, BounceEdge)> {
        let prev = self.last[0];
        let prev2 = self.last[1];
        self.last = [Some(e), prev];
        self.ext_t[self.n_ext % EXT_RING] = e.t_s;
        self.n_ext += 1;
        let p1 = prev?;
        let p2p = (e.value - p1.value).abs();
        let period = prev2
            .filter(|p| p.is_max == e.is_max)
            .map(|p| e.t_s - p.t_s);
        let base_ok = p2p >= self.c.min_excursion_deg && e.gate_ok && p1.gate_ok;
        let period_ok = period.is_some_and(|p| {
            p >= 1.0 / self.c.f_max_hz - 1e-9 && p <= 1.0 / self.c.f_min_hz + 1e-9
        });
        if base_ok && (self.chain == 0 || period_ok) {
            self.chain += 1;
            if !self.active && self.chain == 1 {
                self.reset_chain_stats();
            }
            let f = if self.chain > 1 {
                period.map(|p| 1.0 / p)
            } else {
                None
            };
            self.add_stats(p2p, f);
        } else if base_ok {
            // A qualifying size and zone but an out-of-band period starts a new chain.
            self.chain = 1;
            if !self.active {
                self.reset_chain_stats();
            }
            self.add_stats(p2p, None);
        } else {
            self.chain = 0;
            if !self.active {
                self.reset_chain_stats();
            }
            return None;
        }
        self.last_qual_confirm_s = t_s;
        let n = self.c.n_excursions as usize;
        if self.active {
            self.last_s = e.t_s;
            return None;
        }
        if self.chain as usize >= n && self.n_ext > n {
            let start_t = self.ext_t[(self.n_ext - 1 - n) % EXT_RING];
            if e.t_s - start_t <= self.c.window_s + 1e-9 {
                self.active = true;
                self.first_s = start_t;
                self.last_s = e.t_s;
                // Keep only the firing chain's excursions in the episode statistics.
                let keep = n.min(self.n_p2p);
                self.p2p.copy_within(self.n_p2p - keep..self.n_p2p, 0);
                self.n_p2p = keep;
                let keep_f = (n - 1).min(self.n_freq);
                self.freq.copy_within(self.n_freq - keep_f..self.n_freq, 0);
                self.n_freq = keep_f;
                self.n_qual = n as u32;
                let ev = self.event(t_s, State::On);
                return Some((
                    ev,
                    BounceEdge::On {
                        first_extremum_s: start_t,
                    },
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn run(freq_hz: f64, p2p: f64) -> Vec<Event> {
        let mut d = BounceDetector::new(Bouncing::default(), Signal::Primary);
        let dt = 0.01;
        let mut out = Vec::new();
        for k in 0..3000 {
            let t = k as f64 * dt;
            let b = if (15.0..23.0).contains(&t) {
                p2p / 2.0 * (1.0 - (2.0 * PI * freq_hz * (t - 15.0)).cos())
            } else {
                0.0
            };
            let x = (14.0 * t).min(70.0) + b;
            if let Some((e, _)) = d.update(t, x, x > 35.0, true) {
                out.push(e);
            }
        }
        out
    }

    #[test]
    fn fires_in_band_and_not_outside() {
        let ev = run(1.5, 8.0);
        assert_eq!(ev.len(), 2, "{ev:?}");
        let Event::Bouncing {
            t_s,
            freq_hz,
            p2p_deg,
            ..
        } = ev[0]
        else {
            panic!()
        };
        assert!((16.6..17.0).contains(&t_s), "{t_s}");
        assert!((freq_hz - 1.5).abs() < 0.05 && (p2p_deg - 8.0).abs() < 0.5);
        assert!(run(4.5, 8.0).is_empty());
        assert!(run(0.6, 8.0).is_empty());
        assert!(run(1.5, 4.0).is_empty());
    }
}
