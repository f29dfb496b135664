//! Hold timing and rep statistics (form-spec 2.2, 2.3, 4.1).
//!
//! Positional hold is the time inside HOLD segments (backdated onsets and ends); static hold is
//! that minus the bouncing intervals (first to last extremum of each D1 episode). Because those
//! intervals and the segment ends are only known after the fact, frames wait in a fixed ring for
//! `commit_delay_s` before they are counted; a release or the end of a rep flushes the ring. The
//! hold angle (median θf over the static hold) comes from a fixed 0.05° histogram, so nothing
//! allocates per frame.

/// One frame waiting to be counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct HoldSample {
    /// Frame time, s.
    pub t_s: f64,
    /// θf, degrees.
    pub theta_f_deg: f64,
    /// Filtered knee flexion, degrees.
    pub knee_deg: f64,
    /// Leg-raise angle θte, degrees (NaN when absent).
    pub leg_raise_deg: f64,
    /// Pelvic tilt change vs rest, degrees (NaN when absent).
    pub tilt_change_deg: f64,
}

/// Statistics of one finished rep cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RepStats {
    /// Static hold, s.
    pub static_hold_s: f64,
    /// Positional hold, s.
    pub positional_hold_s: f64,
    /// Median θf over the static hold, degrees (NaN without static hold).
    pub hold_angle_deg: f64,
    /// Mean knee over the static hold, degrees.
    pub knee_mean_deg: f64,
    /// Min knee over the static hold, degrees.
    pub knee_min_deg: f64,
    /// Share of static hold with the knee in band, %.
    pub knee_in_band_pct: f64,
    /// Mean θte over the static hold (None when absent).
    pub leg_raise_hold_deg: Option<f64>,
    /// Mean pelvic tilt change over the static hold (None when absent).
    pub tilt_change_deg: Option<f64>,
}

const MAX_SEGS: usize = 32;
const MAX_EXCL: usize = 64;
const HIST_LO_DEG: f64 = -90.0;
const HIST_HI_DEG: f64 = 270.0;
const HIST_STEP_DEG: f64 = 0.05;

/// Accumulates one rep's hold at a time.
#[derive(Debug, Clone)]
pub struct HoldTracker {
    dt_s: f64,
    delay_s: f64,
    band_deg: [f64; 2],
    ring: Vec<HoldSample>,
    head: usize,
    len: usize,
    segs: [(f64, f64); MAX_SEGS],
    n_segs: usize,
    excl: [(f64, f64); MAX_EXCL],
    n_excl: usize,
    /// Open bouncing interval per signal (index into `excl`).
    open_excl: [Option<usize>; 2],
    hist: Vec<u32>,
    acc: Acc,
    /// Time of the last frame counted (or dropped as outside the hold), s.
    committed_t_s: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    static_s: f64,
    positional_s: f64,
    n: u64,
    knee_sum: f64,
    knee_min: f64,
    in_band: u64,
    leg_sum: f64,
    leg_n: u64,
    tilt_sum: f64,
    tilt_n: u64,
}

impl HoldTracker {
    /// A tracker for frames every `dt_s`, counting frames `delay_s` after they arrive.
    pub fn new(dt_s: f64, delay_s: f64, band_deg: [f64; 2]) -> Self {
        let cap = (delay_s / dt_s).ceil() as usize + 2;
        let bins = ((HIST_HI_DEG - HIST_LO_DEG) / HIST_STEP_DEG) as usize;
        HoldTracker {
            dt_s,
            delay_s,
            band_deg,
            ring: vec![HoldSample::default(); cap],
            head: 0,
            len: 0,
            segs: [(0.0, 0.0); MAX_SEGS],
            n_segs: 0,
            excl: [(0.0, 0.0); MAX_EXCL],
            n_excl: 0,
            open_excl: [None; 2],
            hist: vec![0; bins],
            acc: Acc {
                knee_min: f64::INFINITY,
                ..Acc::default()
            },
            committed_t_s: f64::NEG_INFINITY,
        }
    }

    /// Opens a hold segment at its (backdated) onset.
    pub fn open_segment(&mut self, onset_s: f64) {
        if self.n_segs == MAX_SEGS {
            // Out of room: extend the last segment instead (never reached by real sessions).
            self.segs[MAX_SEGS - 1].1 = f64::INFINITY;
            return;
        }
        self.segs[self.n_segs] = (onset_s, f64::INFINITY);
        self.n_segs += 1;
    }

    /// Closes the open hold segment at its (backdated) end.
    pub fn close_segment(&mut self, end_s: f64) {
        if let Some(s) = self.segs[..self.n_segs].last_mut()
            && s.1.is_infinite()
        {
            s.1 = end_s.max(s.0);
        }
    }

    /// Whether a hold segment is open.
    pub fn segment_open(&self) -> bool {
        self.segs[..self.n_segs]
            .last()
            .is_some_and(|s| s.1.is_infinite())
    }

    /// Starts excluding from `start_s` on (a bouncing episode on signal `sig`).
    pub fn exclude_from(&mut self, sig: usize, start_s: f64) {
        if self.n_excl == MAX_EXCL {
            self.excl[MAX_EXCL - 1].1 = f64::INFINITY;
            self.open_excl[sig] = Some(MAX_EXCL - 1);
            return;
        }
        self.excl[self.n_excl] = (start_s, f64::INFINITY);
        self.open_excl[sig] = Some(self.n_excl);
        self.n_excl += 1;
    }

    /// Ends the open exclusion of signal `sig` at `end_s`.
    pub fn exclude_until(&mut self, sig: usize, end_s: f64) {
        if let Some(i) = self.open_excl[sig].take() {
            self.excl[i].1 = end_s.max(self.excl[i].0);
        }
    }

    /// Whether an exclusion is open (bouncing in progress).
    pub fn excluding(&self) -> bool {
        self.open_excl.iter().any(Option::is_some)
    }

    /// Counts `gap_s` of hold that had no frames (a short gap whose angles agree).
    pub fn credit_gap(&mut self, gap_s: f64) {
        self.acc.positional_s += gap_s;
        if !self.excluding() {
            self.acc.static_s += gap_s;
        }
    }

    /// Queues one frame; frames older than the delay are counted.
    pub fn push(&mut self, s: HoldSample) {
        let cap = self.ring.len();
        let i = (self.head + self.len) % cap;
        self.ring[i] = s;
        if self.len == cap {
            self.head = (self.head + 1) % cap;
        } else {
            self.len += 1;
        }
        while self.len > 0 && s.t_s - self.ring[self.head].t_s > self.delay_s {
            let old = self.ring[self.head];
            self.head = (self.head + 1) % cap;
            self.len -= 1;
            self.commit(&old);
        }
    }

    /// Counts every queued frame now (segment ends and exclusions must be known).
    pub fn flush(&mut self) {
        while self.len > 0 {
            let old = self.ring[self.head];
            self.head = (self.head + 1) % self.ring.len();
            self.len -= 1;
            self.commit(&old);
        }
    }

    fn commit(&mut self, s: &HoldSample) {
        let t = s.t_s;
        self.committed_t_s = t;
        let in_hold = self.segs[..self.n_segs]
            .iter()
            .any(|&(a, b)| t >= a && t < b);
        if !in_hold {
            return;
        }
        self.acc.positional_s += self.dt_s;
        let excluded = self.excl[..self.n_excl]
            .iter()
            .any(|&(a, b)| t >= a && t <= b);
        if excluded {
            return;
        }
        let a = &mut self.acc;
        a.static_s += self.dt_s;
        a.n += 1;
        a.knee_sum += s.knee_deg;
        a.knee_min = a.knee_min.min(s.knee_deg);
        if s.knee_deg >= self.band_deg[0] && s.knee_deg <= self.band_deg[1] {
            a.in_band += 1;
        }
        if s.leg_raise_deg.is_finite() {
            a.leg_sum += s.leg_raise_deg;
            a.leg_n += 1;
        }
        if s.tilt_change_deg.is_finite() {
            a.tilt_sum += s.tilt_change_deg;
            a.tilt_n += 1;
        }
        let bin = ((s.theta_f_deg - HIST_LO_DEG) / HIST_STEP_DEG).floor();
        let bin = (bin.max(0.0) as usize).min(self.hist.len() - 1);
        self.hist[bin] += 1;
    }

    /// Static hold counted so far, s (call [`flush`](Self::flush) first for an exact figure).
    pub fn static_hold_s(&self) -> f64 {
        self.acc.static_s
    }

    /// Static hold at `now_s` as far as it is known: the counted part plus the frames still
    /// waiting, taken as hold inside the hold segments and outside the bouncing intervals known
    /// so far. What a live timer shows; it becomes [`static_hold_s`](Self::static_hold_s) as the
    /// waiting frames are counted (a bounce found later takes back its seconds).
    pub fn static_hold_now_s(&self, now_s: f64) -> f64 {
        let from = if self.len > 0 {
            self.ring[self.head].t_s - self.dt_s
        } else {
            self.committed_t_s
        }
        .max(self.committed_t_s);
        // `from` may be -inf (nothing counted yet) but `now_s` is a frame time: NaN never reaches here.
        if now_s <= from || now_s.is_nan() {
            return self.acc.static_s;
        }
        let overlap = |a: f64, b: f64| (b.min(now_s) - a.max(from)).max(0.0);
        let held: f64 = self.segs[..self.n_segs]
            .iter()
            .map(|&(a, b)| overlap(a, b))
            .sum();
        let bounced: f64 = self.excl[..self.n_excl]
            .iter()
            .map(|&(a, b)| overlap(a, b))
            .sum();
        self.acc.static_s + (held - bounced).max(0.0)
    }

    /// Statistics of the rep so far (flushes).
    pub fn stats(&mut self) -> RepStats {
        self.flush();
        let a = self.acc;
        let n = a.n.max(1) as f64;
        RepStats {
            static_hold_s: a.static_s,
            positional_hold_s: a.positional_s,
            hold_angle_deg: self.hist_median(),
            knee_mean_deg: if a.n > 0 { a.knee_sum / n } else { f64::NAN },
            knee_min_deg: if a.n > 0 { a.knee_min } else { f64::NAN },
            knee_in_band_pct: 100.0 * a.in_band as f64 / n,
            leg_raise_hold_deg: (a.leg_n > 0).then(|| a.leg_sum / a.leg_n as f64),
            tilt_change_deg: (a.tilt_n > 0).then(|| a.tilt_sum / a.tilt_n as f64),
        }
    }

    fn hist_median(&self) -> f64 {
        let n = self.acc.n;
        if n == 0 {
            return f64::NAN;
        }
        let half = n.div_ceil(2);
        let mut cum = 0u64;
        for (i, &c) in self.hist.iter().enumerate() {
            let c = u64::from(c);
            if cum + c >= half {
                // Interpolate inside the bin, as if its samples were spread evenly.
                let frac = (half - cum) as f64 / c as f64;
                return HIST_LO_DEG + (i as f64 + frac) * HIST_STEP_DEG;
            }
            cum += c;
        }
        f64::NAN
    }

    /// Forgets the rep (after [`stats`](Self::stats)); keeps open exclusions open.
    pub fn reset(&mut self) {
        self.flush();
        self.n_segs = 0;
        let open: [Option<(f64, f64)>; 2] = self.open_excl.map(|i| i.map(|i| self.excl[i]));
        self.n_excl = 0;
        self.open_excl = [None; 2];
        for (sig, e) in open.iter().enumerate() {
            if let Some((a, _)) = e {
                self.exclude_from(sig, *a);
            }
        }
        self.hist.iter_mut().for_each(|c| *c = 0);
        self.acc = Acc {
            knee_min: f64::INFINITY,
            ..Acc::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_hold_excludes_bouncing() {
        let dt = 0.01;
        let mut h = HoldTracker::new(dt, 8.0, [5.0, 15.0]);
        h.open_segment(1.0);
        for k in 0..2000 {
            let t = k as f64 * dt;
            if (t - 5.0).abs() < 1e-9 {
                h.exclude_from(0, 4.0);
            }
            if (t - 8.0).abs() < 1e-9 {
                h.exclude_until(0, 7.0);
            }
            h.push(HoldSample {
                t_s: t,
                theta_f_deg: 70.0,
                knee_deg: 10.0,
                leg_raise_deg: f64::NAN,
                tilt_change_deg: f64::NAN,
            });
        }
        h.close_segment(15.0);
        let s = h.stats();
        assert!((s.positional_hold_s - 14.0).abs() < 0.02, "{s:?}");
        assert!((s.static_hold_s - 11.0).abs() < 0.03, "{s:?}");
        assert!((s.hold_angle_deg - 70.0).abs() < 0.05);
        assert_eq!(s.knee_in_band_pct, 100.0);
    }
}
