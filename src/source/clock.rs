//! Mapping device sample times onto the host clock.
//!
//! BLE delivers samples late by a varying amount (connection interval, retransmissions), never
//! early, so the tightest estimate of `host_time − device_time` is the *lower envelope* of the
//! arrival offsets. [`ClockMapper`] keeps that envelope: an earlier-than-usual arrival lowers the
//! offset at once, a later one may raise it only at the slow rate a crystal can drift
//! ([`MAX_DRIFT`]). Mapped times are therefore never later than arrival and stay smooth through
//! arrival jitter.
//!
//! Families without a device clock (WitMotion) get a synthetic one: `n · period` for the n-th
//! sample. When arrivals run more than [`ClockMapper::gap_threshold_s`] behind that schedule,
//! samples were lost on the link: the schedule jumps forward by the whole number of missing
//! periods and the gap is reported. A loss of one or a few samples is smaller than that
//! threshold and hides inside the arrival jitter, but it leaves every later arrival at least one
//! period behind the schedule: when the smallest lateness over a [`ClockMapper::check_span_s`]
//! span exceeds half a period, the schedule advances by the whole periods it lags (without that,
//! every single loss would date all later samples one period too early, and the next
//! orientation step would integrate the wrong interval). After a reconnect the schedule
//! re-anchors on the first arrival and the outage is reported as a gap too. Everything here is pure and deterministic:
//! time comes from the arrival stamps given to it.

/// Largest rate at which the envelope may rise, seconds per second (500 ppm: ten times a typical
/// crystal's tolerance, far below any BLE jitter).
pub const MAX_DRIFT: f64 = 500e-6;

/// A device clock that jumps forward by more than this against the host (a device reboot) is
/// re-anchored instead of being followed by the drift limit, seconds.
pub const REANCHOR_S: f64 = 1.0;

/// A mapped sample: host time and how many samples were found missing just before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mapped {
    /// Sample time on the host clock, seconds.
    pub t_host_s: f64,
    /// Samples inferred lost before this one (synthetic clocks only; 0 otherwise).
    pub missing: u64,
}

/// Device-to-host time mapping for one device stream.
#[derive(Debug, Clone)]
pub struct ClockMapper {
    period_s: f64,
    offset_s: Option<f64>,
    last_arrival_s: f64,
    last_t_s: f64,
    synthetic_n: u64,
    reanchor: bool,
    /// Smallest lateness behind the synthetic schedule in the current check span, seconds.
    span_min_late_s: f64,
    /// Arrival time at which the current check span began.
    span_start_s: f64,
    /// The last arrival ran far behind the schedule and was dated on it: lost samples or a
    /// stall, told apart by the next arrival (a burst catching up is a stall).
    far_behind: bool,
}

impl ClockMapper {
    /// A mapper for samples nominally `period_s` apart (used by the synthetic clock and its gap test).
    pub fn new(period_s: f64) -> Self {
        ClockMapper {
            period_s: if period_s > 0.0 && period_s.is_finite() {
                period_s
            } else {
                0.01
            },
            offset_s: None,
            last_arrival_s: f64::NEG_INFINITY,
            last_t_s: f64::NEG_INFINITY,
            synthetic_n: 0,
            reanchor: false,
            span_min_late_s: f64::INFINITY,
            span_start_s: f64::NEG_INFINITY,
            far_behind: false,
        }
    }

    /// Length of the span over which the smallest lateness is taken to detect single lost
    /// samples, seconds: long enough that BLE's bursty delivery (several samples per connection
    /// event) always contains an on-time arrival, short enough that a loss misdates samples only
    /// briefly.
    pub fn check_span_s(&self) -> f64 {
        (16.0 * self.period_s).max(0.2)
    }

    /// Nominal sample period, seconds.
    pub fn period_s(&self) -> f64 {
        self.period_s
    }

    /// Changes the nominal period (a rate write seen in the stream).
    pub fn set_period_s(&mut self, period_s: f64) {
        if period_s > 0.0 && period_s.is_finite() {
            self.period_s = period_s;
        }
    }

    /// Arrivals later than the synthetic schedule by more than this mean lost samples, seconds:
    /// four periods, and at least 80 ms so that one late BLE connection event is not a gap.
    pub fn gap_threshold_s(&self) -> f64 {
        (4.0 * self.period_s).max(0.08)
    }

    /// Tells the mapper the link came back: the synthetic schedule re-anchors on the next arrival.
    pub fn on_reconnect(&mut self) {
        self.reanchor = true;
    }

    fn reset_span(&mut self, arrival_s: f64) {
        self.span_min_late_s = f64::INFINITY;
        self.span_start_s = arrival_s;
    }

    /// Maps one sample that arrived at `arrival_s` (host clock) and carries `device_s` (device
    /// clock, unwrapped) if the family has one.
    pub fn map(&mut self, arrival_s: f64, device_s: Option<f64>) -> Mapped {
        let mut missing = 0;
        let d = match device_s {
            Some(d) => d,
            None => {
                let p = self.period_s;
                if self.reanchor && self.offset_s.is_some() && self.last_t_s.is_finite() {
                    // Outage: whole periods between the last sample and this arrival were lost.
                    let lost = ((arrival_s - self.last_t_s) / p - 1.0).round();
                    if lost >= 1.0 {
                        missing = lost as u64;
                    }
                    self.synthetic_n += missing;
                    self.offset_s = None;
                    self.far_behind = false;
                } else if let Some(off) = self.offset_s {
                    let late = arrival_s - (self.synthetic_n as f64 * p + off);
                    let burst = arrival_s - self.last_arrival_s < 0.5 * p;
                    if late > self.gap_threshold_s() {
                        // Far behind. A host or link stall delivers the held samples in a burst
                        // that catches up; lost samples leave the next arrivals just as far
                        // behind at the normal spacing. The first far-late arrival (and a burst
                        // after it) stays on the schedule until the next one tells which.
                        if self.far_behind && !burst {
                            missing = (late / p).round() as u64;
                            self.synthetic_n += missing;
                            self.far_behind = false;
                        } else {
                            self.far_behind = true;
                        }
                        self.reset_span(arrival_s);
                    } else {
                        self.far_behind = false;
                        self.span_min_late_s = self.span_min_late_s.min(late);
                        if arrival_s - self.span_start_s >= self.check_span_s() {
                            // Every arrival of the span was late: samples were lost before it.
                            let lag = (self.span_min_late_s / p).round();
                            if self.span_min_late_s > 0.5 * p && lag >= 1.0 {
                                missing = lag as u64;
                                self.synthetic_n += missing;
                            }
                            self.reset_span(arrival_s);
                        }
                    }
                } else {
                    self.reset_span(arrival_s);
                }
                self.synthetic_n as f64 * p
            }
        };
        self.reanchor = false;
        if device_s.is_none() {
            self.synthetic_n += 1;
        }
        let cand = arrival_s - d;
        let off = match self.offset_s {
            None => cand,
            Some(off) if cand <= off => cand,
            Some(off) if cand - off > REANCHOR_S => cand,
            Some(off) => {
                let dt = (arrival_s - self.last_arrival_s).max(0.0);
                off + (cand - off).min(MAX_DRIFT * dt)
            }
        };
        self.offset_s = Some(off);
        self.last_arrival_s = arrival_s;
        // Never go backwards within one device (a lowered envelope could otherwise step back).
        let t = (d + off).max(self.last_t_s);
        self.last_t_s = t;
        Mapped {
            t_host_s: t,
            missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_clock_with_jittered_arrivals_maps_to_the_envelope() {
        let mut m = ClockMapper::new(0.01);
        // Device clock starts at 1000 s; arrivals are 20 ms late plus 0..15 ms jitter.
        let mut max_err: f64 = 0.0;
        for i in 0..2000 {
            let d = 1000.0 + i as f64 * 0.01;
            let jitter = ((i * 7919) % 16) as f64 * 0.001;
            let arrival = i as f64 * 0.01 + 0.020 + jitter;
            let out = m.map(arrival, Some(d));
            assert!(out.t_host_s <= arrival + 1e-12, "never later than arrival");
            if i > 50 {
                max_err = max_err.max((out.t_host_s - (i as f64 * 0.01 + 0.020)).abs());
            }
            assert_eq!(out.missing, 0);
        }
        assert!(max_err < 1e-3, "max error {max_err}");
    }

    #[test]
    fn slow_drift_is_followed_and_a_reboot_reanchors() {
        let mut m = ClockMapper::new(0.01);
        // Device clock 100 ppm slow.
        for i in 0..6000 {
            let arrival = i as f64 * 0.01 + 0.005;
            let d = i as f64 * 0.01 * (1.0 - 100e-6);
            let t = m.map(arrival, Some(d)).t_host_s;
            if i > 100 {
                assert!((arrival - t).abs() < 0.001, "i={i} lag {}", arrival - t);
            }
        }
        // Reboot: device clock back to 0 → cand jumps by +60 s → re-anchored.
        let t = m.map(61.0, Some(0.0)).t_host_s;
        assert!((t - 61.0).abs() < 1e-9);
    }

    #[test]
    fn synthetic_clock_counts_lost_samples() {
        let mut m = ClockMapper::new(0.01);
        let mut arrivals = Vec::new();
        for i in 0..100 {
            arrivals.push(i);
        }
        for i in 130..200 {
            arrivals.push(i); // 30 samples lost
        }
        let mut missing = 0;
        for (k, &i) in arrivals.iter().enumerate() {
            let out = m.map(i as f64 * 0.01 + 0.03, None);
            missing += out.missing;
            // The first arrival after the loss cannot yet be told from a stall: it stays on the
            // schedule, and the loss is counted (and the schedule jumps) at the next one.
            if k > 0 && k != 100 {
                assert!((out.t_host_s - (i as f64 * 0.01 + 0.03)).abs() < 1e-9);
            }
            if k == 101 {
                assert_eq!(out.missing, 30);
            }
        }
        assert_eq!(missing, 30);
    }

    #[test]
    fn a_stall_then_a_burst_loses_nothing() {
        // 100 Hz; the host stalls 150 ms at sample 100, then the held samples arrive at once.
        let mut m = ClockMapper::new(0.01);
        let mut missing = 0;
        for i in 0..300u32 {
            let due = f64::from(i) * 0.01 + 0.02;
            let arrival = if (100..115).contains(&i) { 1.17 } else { due };
            let out = m.map(arrival, None);
            missing += out.missing;
            assert!(
                (out.t_host_s - due).abs() < 1e-3,
                "sample {i} dated {} (due {due})",
                out.t_host_s
            );
        }
        assert_eq!(missing, 0);
    }

    #[test]
    fn synthetic_clock_tolerates_bursty_delivery() {
        // Four samples per connection event every 40 ms: no gaps.
        let mut m = ClockMapper::new(0.01);
        let mut missing = 0;
        for i in 0..400 {
            let arrival = (i / 4) as f64 * 0.04 + 0.04;
            missing += m.map(arrival, None).missing;
        }
        assert_eq!(missing, 0);
    }

    #[test]
    fn single_lost_samples_do_not_shift_later_times() {
        // One sample in 150 lost, arrivals 5..25 ms late (bursts of jitter): every mapped time
        // stays within a period of the truth and the losses are counted.
        let mut m = ClockMapper::new(0.01);
        let mut missing = 0;
        let mut worst: f64 = 0.0;
        let mut lost = 0;
        for i in 0..6000u64 {
            if i % 150 == 75 {
                lost += 1;
                continue;
            }
            let truth = i as f64 * 0.01;
            let arrival = truth + 0.005 + ((i * 7919) % 3) as f64 * 0.01;
            let out = m.map(arrival, None);
            missing += out.missing;
            if i > 20 {
                worst = worst.max((out.t_host_s - (truth + 0.005)).abs());
            }
        }
        assert_eq!(missing, lost);
        assert!(worst < 0.0105, "worst time error {worst}");
    }

    #[test]
    fn reconnect_reports_the_outage() {
        let mut m = ClockMapper::new(0.01);
        for i in 0..100 {
            m.map(i as f64 * 0.01, None);
        }
        m.on_reconnect();
        let out = m.map(2.0, None);
        // Last sample at 0.99 s; the next expected at 1.00 s; 2.00 arrives: 100 lost.
        assert_eq!(out.missing, 100);
        assert!((out.t_host_s - 2.0).abs() < 1e-9);
    }
}
