//! Gap detection and counter unwrapping for device sequence numbers and clocks.
//!
//! BLE notifications can be lost silently (btleplug drops lagged notifications on macOS and
//! Windows, rust-stack.md section 7), so every stream with a counter or a device clock is checked
//! here. [`SeqTracker`] counts missing samples from a wrapping sequence counter,
//! [`TimeGapTracker`] infers them from timestamps and a nominal sample period, and
//! [`WrapUnwrapper`] turns a wrapping device clock into a monotonic count.

/// Outcome of feeding one sequence number (or a run of them) to a [`SeqTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// The first sequence number seen since creation or [`SeqTracker::reset`].
    First,
    /// Exactly the expected sequence number.
    InOrder,
    /// `missing` samples were skipped before this one (counted modulo the counter width).
    Gap {
        /// Number of samples lost between the previous run and this one.
        missing: u64,
    },
    /// The counter went backwards by `by` (duplicate, reordering, or a device restart); the
    /// tracker resynchronises on the new value.
    Backwards {
        /// How far behind the expected value the counter was.
        by: u64,
    },
}

/// Tracks a wrapping per-sample sequence counter and reports lost samples.
///
/// A forward jump of less than half the counter range is a gap; a larger forward distance is
/// read as the counter going backwards (a duplicate or a restarted device), after which the
/// tracker follows the new value. With a 16-bit counter at 200 Hz that horizon is 164 s; longer
/// outages (a reconnect) should be measured with device timestamps instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqTracker {
    modulus: u64,
    next: Option<u64>,
    missing_total: u64,
    backwards_total: u64,
}

impl SeqTracker {
    /// A tracker for a counter that is `bits` wide (clamped to 1..=32), e.g. 16 for the open protocol.
    pub fn new(bits: u32) -> Self {
        let bits = bits.clamp(1, 32);
        SeqTracker {
            modulus: 1u64 << bits,
            next: None,
            missing_total: 0,
            backwards_total: 0,
        }
    }

    /// Feeds the sequence number of one sample.
    pub fn observe(&mut self, seq: u32) -> SeqCheck {
        self.observe_run(seq, 1)
    }

    /// Feeds a run of `count` consecutive samples whose first sequence number is `first`.
    pub fn observe_run(&mut self, first: u32, count: u32) -> SeqCheck {
        let first = u64::from(first) % self.modulus;
        let check = match self.next {
            None => SeqCheck::First,
            Some(expected) => {
                let ahead = (first + self.modulus - expected) % self.modulus;
                if ahead == 0 {
                    SeqCheck::InOrder
                } else if ahead < self.modulus / 2 {
                    self.missing_total += ahead;
                    SeqCheck::Gap { missing: ahead }
                } else {
                    let by = self.modulus - ahead;
                    self.backwards_total += 1;
                    SeqCheck::Backwards { by }
                }
            }
        };
        self.next = Some((first + u64::from(count)) % self.modulus);
        check
    }

    /// Total samples reported missing so far.
    pub fn missing_total(&self) -> u64 {
        self.missing_total
    }

    /// How many times the counter went backwards.
    pub fn backwards_total(&self) -> u64 {
        self.backwards_total
    }

    /// Forgets the expected value (totals are kept), e.g. after a reconnect.
    pub fn reset(&mut self) {
        self.next = None;
    }
}

/// Infers lost samples from device timestamps and a nominal sample period.
///
/// Used for families without a sequence counter (Movesense, Movella DOT): a step of `k` periods
/// between consecutive samples means `k - 1` samples were lost. Steps are rounded to the nearest
/// whole period, so clock jitter under half a period is never counted as a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeGapTracker {
    period_s: f64,
    last_s: Option<f64>,
    missing_total: u64,
}

impl TimeGapTracker {
    /// A tracker for samples nominally `period_s` seconds apart (non-positive periods disable it).
    pub fn new(period_s: f64) -> Self {
        TimeGapTracker {
            period_s,
            last_s: None,
            missing_total: 0,
        }
    }

    /// Feeds one sample time (device clock, seconds) and returns how many samples were missed
    /// before it. Time going backwards reports 0 and restarts from the new time.
    pub fn observe(&mut self, t_s: f64) -> u64 {
        let missing = match self.last_s {
            Some(last) if self.period_s > 0.0 && t_s.is_finite() && t_s > last => {
                let steps = ((t_s - last) / self.period_s).round();
                if steps > 1.0 {
                    // Saturating float-to-int conversion: absurd gaps clamp rather than wrap.
                    (steps - 1.0) as u64
                } else {
                    0
                }
            }
            _ => 0,
        };
        if t_s.is_finite() {
            self.last_s = Some(t_s);
        }
        self.missing_total += missing;
        missing
    }

    /// Total samples reported missing so far.
    pub fn missing_total(&self) -> u64 {
        self.missing_total
    }

    /// Forgets the last time (totals are kept).
    pub fn reset(&mut self) {
        self.last_s = None;
    }
}

/// Turns a wrapping device counter (a `u32` clock in ms or µs) into a monotonic `u64`.
///
/// A backwards step of more than half the counter range is read as a wrap; a smaller backwards
/// step is passed through (time going back slightly, e.g. reordering) without adding a wrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapUnwrapper {
    modulus: u64,
    last: Option<u64>,
    offset: u64,
}

impl WrapUnwrapper {
    /// An unwrapper for a counter that is `bits` wide (clamped to 1..=32).
    pub fn new(bits: u32) -> Self {
        WrapUnwrapper {
            modulus: 1u64 << bits.clamp(1, 32),
            last: None,
            offset: 0,
        }
    }

    /// Returns `raw` plus the accumulated wraps.
    pub fn unwrap(&mut self, raw: u32) -> u64 {
        let raw = u64::from(raw) % self.modulus;
        if let Some(last) = self.last
            && raw < last
            && last - raw > self.modulus / 2
        {
            self.offset = self.offset.saturating_add(self.modulus);
        }
        self.last = Some(raw);
        self.offset.saturating_add(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_tracker_counts_gaps_across_wraparound() {
        let mut t = SeqTracker::new(16);
        assert_eq!(t.observe(65534), SeqCheck::First);
        assert_eq!(t.observe(65535), SeqCheck::InOrder);
        assert_eq!(t.observe(0), SeqCheck::InOrder);
        // 1 and 2 lost.
        assert_eq!(t.observe(3), SeqCheck::Gap { missing: 2 });
        // Runs: 4..=7 arrive as one packet, then 10.. (8 and 9 lost).
        assert_eq!(t.observe_run(4, 4), SeqCheck::InOrder);
        assert_eq!(t.observe_run(10, 4), SeqCheck::Gap { missing: 2 });
        assert_eq!(t.missing_total(), 4);
        // A gap that spans the wrap.
        let mut t = SeqTracker::new(16);
        t.observe_run(65530, 3); // next expected 65533
        assert_eq!(t.observe(5), SeqCheck::Gap { missing: 8 }); // 65533..=65535, 0..=4
    }

    #[test]
    fn seq_tracker_reports_duplicates_and_restarts_as_backwards() {
        let mut t = SeqTracker::new(16);
        t.observe(100);
        assert_eq!(t.observe(100), SeqCheck::Backwards { by: 1 });
        assert_eq!(t.observe(101), SeqCheck::InOrder);
        // Device restarted: counter back to 0.
        assert_eq!(t.observe(0), SeqCheck::Backwards { by: 102 });
        assert_eq!(t.observe(1), SeqCheck::InOrder);
        assert_eq!(t.backwards_total(), 2);
        assert_eq!(t.missing_total(), 0);
        t.reset();
        assert_eq!(t.observe(500), SeqCheck::First);
    }

    #[test]
    fn seq_tracker_full_32_bit_width() {
        let mut t = SeqTracker::new(32);
        t.observe(u32::MAX);
        assert_eq!(t.observe(1), SeqCheck::Gap { missing: 1 });
    }

    #[test]
    fn time_gap_tracker_rounds_to_whole_periods() {
        let mut t = TimeGapTracker::new(0.01);
        assert_eq!(t.observe(1.000), 0);
        assert_eq!(t.observe(1.0104), 0); // jitter
        assert_eq!(t.observe(1.0400), 2); // 3 periods: 2 lost
        assert_eq!(t.observe(1.0300), 0); // backwards
        assert_eq!(t.observe(f64::NAN), 0);
        assert_eq!(t.missing_total(), 2);
    }

    #[test]
    fn unwrapper_adds_wraps_for_u32_microseconds() {
        let mut u = WrapUnwrapper::new(32);
        assert_eq!(u.unwrap(u32::MAX - 10), u64::from(u32::MAX - 10));
        assert_eq!(u.unwrap(5), (1u64 << 32) + 5);
        // Small backwards step: no extra wrap.
        assert_eq!(u.unwrap(3), (1u64 << 32) + 3);
        assert_eq!(u.unwrap(1000), (1u64 << 32) + 1000);
    }
}
