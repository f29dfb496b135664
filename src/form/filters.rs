//! Causal filters and fixed-capacity windows used by the phase machine and detectors
//! (form-spec 1.6): 2nd-order Butterworth low-pass at any rate, moving mean, rolling range and
//! a ring buffer with an on-demand median. Capacities are set once at construction; nothing
//! allocates per sample.

use std::f64::consts::PI;

/// 2nd-order Butterworth low-pass (bilinear transform with pre-warping), direct form II transposed.
#[derive(Debug, Clone, Copy)]
pub struct Butterworth2 {
    b: [f64; 3],
    a: [f64; 2],
    z: [f64; 2],
    primed: bool,
}

impl Butterworth2 {
    /// Low-pass at `cutoff_hz` for samples every `dt_s`.
    pub fn new(cutoff_hz: f64, dt_s: f64) -> Self {
        let fs = 1.0 / dt_s;
        // Keep the cut-off below Nyquist at low rates.
        let fc = cutoff_hz.min(0.45 * fs);
        let k = (PI * fc / fs).tan();
        let q = std::f64::consts::FRAC_1_SQRT_2;
        let norm = 1.0 / (1.0 + k / q + k * k);
        let b0 = k * k * norm;
        Butterworth2 {
            b: [b0, 2.0 * b0, b0],
            a: [2.0 * (k * k - 1.0) * norm, (1.0 - k / q + k * k) * norm],
            z: [0.0; 2],
            primed: false,
        }
    }

    /// Filters one sample; the first sample initialises the state to steady state.
    pub fn update(&mut self, x: f64) -> f64 {
        if !self.primed {
            self.primed = true;
            // Steady state for constant input x: y = x.
            self.z[1] = self.b[2] * x - self.a[1] * x;
            self.z[0] = self.b[1] * x - self.a[0] * x + self.z[1];
        }
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[0] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[1] * y;
        y
    }
}

/// Fixed-capacity ring of the most recent values.
#[derive(Debug, Clone)]
pub struct Ring {
    buf: Vec<f64>,
    head: usize,
    len: usize,
}

impl Ring {
    /// A ring holding up to `cap` values.
    pub fn new(cap: usize) -> Self {
        Ring {
            buf: vec![0.0; cap.max(1)],
            head: 0,
            len: 0,
        }
    }

    /// Appends, dropping the oldest when full; returns the dropped value.
    pub fn push(&mut self, x: f64) -> Option<f64> {
        let cap = self.buf.len();
        let dropped = (self.len == cap).then(|| self.buf[self.head]);
        self.buf[self.head] = x;
        self.head = (self.head + 1) % cap;
        self.len = (self.len + 1).min(cap);
        dropped
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the ring holds `cap` values.
    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Median of the values held, using `scratch` (capacity ≥ the ring's) as work space.
    pub fn median(&self, scratch: &mut Vec<f64>) -> Option<f64> {
        if self.len == 0 {
            return None;
        }
        scratch.clear();
        let cap = self.buf.len();
        let start = (self.head + cap - self.len) % cap;
        scratch.extend((0..self.len).map(|i| self.buf[(start + i) % cap]));
        Some(median_in_place(scratch))
    }
}

/// Median of a non-empty slice (reorders it).
pub fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if n % 2 == 1 {
        m
    } else {
        let lo = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lo + m)
    }
}

/// Causal moving mean over the last `n` samples (sum kept incrementally, re-summed on wrap to
/// stop round-off creeping in).
#[derive(Debug, Clone)]
pub struct MovingMean {
    ring: Ring,
    sum: f64,
    pushes: usize,
}

impl MovingMean {
    /// Mean over `n` samples.
    pub fn new(n: usize) -> Self {
        MovingMean {
            ring: Ring::new(n),
            sum: 0.0,
            pushes: 0,
        }
    }

    /// Adds a sample and returns the mean of the window (of what exists before it fills).
    pub fn update(&mut self, x: f64) -> f64 {
        if let Some(old) = self.ring.push(x) {
            self.sum -= old;
        }
        self.sum += x;
        self.pushes += 1;
        if self.pushes.is_multiple_of(self.ring.buf.len()) {
            self.sum = self.ring.buf.iter().sum();
        }
        self.sum / self.ring.len() as f64
    }
}

/// Minimum and maximum over the last `n` samples (monotonic deques in fixed rings).
#[derive(Debug, Clone)]
pub struct RollingRange {
    n: usize,
    idx: u64,
    max_q: Deque,
    min_q: Deque,
}

#[derive(Debug, Clone)]
struct Deque {
    buf: Vec<(u64, f64)>,
    head: usize,
    len: usize,
}

impl Deque {
    fn new(cap: usize) -> Self {
        Deque {
            buf: vec![(0, 0.0); cap + 1],
            head: 0,
            len: 0,
        }
    }
    fn front(&self) -> Option<(u64, f64)> {
        (self.len > 0).then(|| self.buf[self.head])
    }
    fn back(&self) -> Option<(u64, f64)> {
        (self.len > 0).then(|| self.buf[(self.head + self.len - 1) % self.buf.len()])
    }
    fn pop_front(&mut self) {
        self.head = (self.head + 1) % self.buf.len();
        self.len -= 1;
    }
    fn pop_back(&mut self) {
        self.len -= 1;
    }
    fn push_back(&mut self, v: (u64, f64)) {
        let i = (self.head + self.len) % self.buf.len();
        self.buf[i] = v;
        self.len += 1;
    }
}

impl RollingRange {
    /// Range over `n` samples.
    pub fn new(n: usize) -> Self {
        let n = n.max(1);
        RollingRange {
            n,
            idx: 0,
            max_q: Deque::new(n),
            min_q: Deque::new(n),
        }
    }

    /// Adds a sample; returns (min, max) of the window.
    pub fn update(&mut self, x: f64) -> (f64, f64) {
        let i = self.idx;
        self.idx += 1;
        while self.max_q.back().is_some_and(|(_, v)| v <= x) {
            self.max_q.pop_back();
        }
        self.max_q.push_back((i, x));
        while self.min_q.back().is_some_and(|(_, v)| v >= x) {
            self.min_q.pop_back();
        }
        self.min_q.push_back((i, x));
        let oldest = (i + 1).saturating_sub(self.n as u64);
        while self.max_q.front().is_some_and(|(j, _)| j < oldest) {
            self.max_q.pop_front();
        }
        while self.min_q.front().is_some_and(|(j, _)| j < oldest) {
            self.min_q.pop_front();
        }
        (self.min_q.front().unwrap().1, self.max_q.front().unwrap().1)
    }

    /// Whether `n` samples have been seen since the last reset.
    pub fn is_full(&self) -> bool {
        self.idx >= self.n as u64
    }

    /// Forgets every sample.
    pub fn reset(&mut self) {
        self.idx = 0;
        self.max_q.len = 0;
        self.min_q.len = 0;
    }
}

/// Number of samples covering `window_s` at `dt_s` (at least 1).
pub fn samples_for(window_s: f64, dt_s: f64) -> usize {
    ((window_s / dt_s).round() as usize).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn butterworth_passes_dc_and_attenuates_at_cutoff() {
        for fs in [50.0, 100.0, 200.0] {
            let dt = 1.0 / fs;
            let mut f = Butterworth2::new(6.0, dt);
            assert!((f.update(5.0) - 5.0).abs() < 1e-12);
            let mut g = Butterworth2::new(6.0, dt);
            let mut peak: f64 = 0.0;
            for k in 0..(fs as usize * 4) {
                let y = g.update((2.0 * PI * 6.0 * k as f64 * dt).sin());
                if k > fs as usize * 2 {
                    peak = peak.max(y.abs());
                }
            }
            assert!(
                (peak - std::f64::consts::FRAC_1_SQRT_2).abs() < 0.03,
                "{fs}: {peak}"
            );
        }
    }

    #[test]
    fn rolling_range_and_mean() {
        let mut r = RollingRange::new(3);
        let v = [1.0, 5.0, 2.0, 0.0, 3.0, 3.0];
        let got: Vec<_> = v.iter().map(|&x| r.update(x)).collect();
        assert_eq!(got[2], (1.0, 5.0));
        assert_eq!(got[3], (0.0, 5.0));
        assert_eq!(got[5], (0.0, 3.0));
        let mut m = MovingMean::new(2);
        assert_eq!(m.update(2.0), 2.0);
        assert_eq!(m.update(4.0), 3.0);
        assert_eq!(m.update(6.0), 5.0);
        let mut ring = Ring::new(4);
        for x in [5.0, 1.0, 3.0, 9.0, 2.0] {
            ring.push(x);
        }
        let mut s = Vec::with_capacity(4);
        assert_eq!(ring.median(&mut s), Some(2.5));
    }
}
