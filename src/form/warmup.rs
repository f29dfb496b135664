//! D7 warm-up (form-spec 3, D7): before the first exercise block, consecutive `window_s` windows
//! of thigh sagittal angular velocity are classed active when their RMS is ≥ `rms_dps` and their
//! dominant frequency (from zero crossings with a dead band) lies in `f_band_hz`. At block start,
//! ≥ `min_active_s` of active windows in the last `lookback_min`, the last ending at most
//! `max_gap_min` before the block, give `warmup_detected`; otherwise, unless the user confirmed a
//! warm-up, `no_warmup`.

use super::config::{Warmup, WarmupStatus};
use super::event::{Event, Severity, r4};

/// Dead band of the zero-crossing counter, as a fraction of `rms_dps`.
const DEADBAND_FRACTION: f64 = 0.25;

/// The D7 detector.
#[derive(Debug, Clone)]
pub struct WarmupDetector {
    c: Warmup,
    win_start_s: Option<f64>,
    sum_sq: f64,
    n: u64,
    sign: i8,
    flips: u32,
    /// End times of active windows (ring).
    active_end_s: Vec<f64>,
    head: usize,
    len: usize,
}

impl WarmupDetector {
    /// A detector with `c`.
    pub fn new(c: Warmup) -> Self {
        let cap = (c.lookback_min * 60.0 / c.window_s).ceil() as usize + 2;
        WarmupDetector {
            c,
            win_start_s: None,
            sum_sq: 0.0,
            n: 0,
            sign: 0,
            flips: 0,
            active_end_s: vec![0.0; cap],
            head: 0,
            len: 0,
        }
    }

    /// Feeds one pre-block frame of thigh sagittal rate, °/s.
    pub fn push(&mut self, t_s: f64, w_dps: f64) {
        let start = *self.win_start_s.get_or_insert(t_s);
        if t_s - start >= self.c.window_s {
            self.close_window(t_s);
            self.win_start_s = Some(t_s);
        }
        self.sum_sq += w_dps * w_dps;
        self.n += 1;
        let db = DEADBAND_FRACTION * self.c.rms_dps;
        let s = if w_dps > db {
            1
        } else if w_dps < -db {
            -1
        } else {
            0
        };
        if s != 0 && s != self.sign {
            if self.sign != 0 {
                self.flips += 1;
            }
            self.sign = s;
        }
    }

    fn close_window(&mut self, end_s: f64) {
        let rms = (self.sum_sq / self.n.max(1) as f64).sqrt();
        let f_hz = f64::from(self.flips) / (2.0 * self.c.window_s);
        if rms >= self.c.rms_dps && f_hz >= self.c.f_band_hz[0] && f_hz <= self.c.f_band_hz[1] {
            let cap = self.active_end_s.len();
            self.active_end_s[(self.head + self.len) % cap] = end_s;
            if self.len == cap {
                self.head = (self.head + 1) % cap;
            } else {
                self.len += 1;
            }
        }
        self.sum_sq = 0.0;
        self.n = 0;
        self.flips = 0;
        self.sign = 0;
    }

    /// The D7 outcome at the start of the first block.
    pub fn at_block_start(&self, t_s: f64, status: WarmupStatus) -> Option<Event> {
        let cap = self.active_end_s.len();
        let from = t_s - self.c.lookback_min * 60.0;
        let mut active_s = 0.0;
        let mut last_end = f64::NEG_INFINITY;
        for i in 0..self.len {
            let e = self.active_end_s[(self.head + i) % cap];
            if e >= from + self.c.window_s && e <= t_s {
                active_s += self.c.window_s;
                last_end = last_end.max(e);
            }
        }
        if active_s >= self.c.min_active_s && t_s - last_end <= self.c.max_gap_min * 60.0 {
            return Some(Event::WarmupDetected {
                t_s,
                severity: Severity::Info,
                active_s: r4(active_s),
                last_active_end_s: r4(last_end),
            });
        }
        (status != WarmupStatus::Confirmed).then_some(Event::NoWarmup {
            t_s,
            severity: Severity::Info,
            active_s: r4(active_s),
        })
    }
}
