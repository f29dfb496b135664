//! Form events exactly as DESIGN 3.3: every event serialises to one JSON object whose first keys
//! are `event` and `t_s`, followed by its fields. Events are `Copy` (no strings owned), so the
//! engine hands them out without allocating; sinks serialise them.

use serde::Serialize;

/// Stretch phase (form-spec 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// At rest.
    Rest,
    /// Moving into the stretch.
    MovingIn,
    /// Holding.
    Hold,
    /// Coming out of the stretch.
    Release,
}

impl Phase {
    /// Name used in events and the angles CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Rest => "rest",
            Phase::MovingIn => "moving_in",
            Phase::Hold => "hold",
            Phase::Release => "release",
        }
    }
}

/// Episode edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Condition met.
    On,
    /// Condition cleared or gate closed.
    Off,
}

/// Severity (form-spec 3 conventions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Shown after the rep, at session end or in review.
    Info,
    /// Live visual, optional soft audio.
    Advisory,
    /// Live audio and visual.
    Warning,
    /// Data quality / calibration.
    System,
}

/// How a live cue is delivered after arbitration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cue {
    /// Audio and visual.
    Audio,
    /// Visual only.
    Visual,
}

/// Which angle a bouncing instance watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// The primary stretch angle θ.
    Primary,
    /// The knee θk.
    Knee,
}

/// One form event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Phase change with its backdated onset.
    Phase {
        /// Detection time, s.
        t_s: f64,
        /// New phase.
        phase: Phase,
        /// Backdated onset, s.
        onset_s: f64,
    },
    /// A counted rep (REST→…→REST with ≥ `min_rep_hold_s` static hold).
    Rep {
        /// Emission time, s.
        t_s: f64,
        /// 1-based rep number.
        rep: u32,
        /// Positional hold minus bouncing intervals, s.
        static_hold_s: f64,
        /// Sum of HOLD segments, s.
        positional_hold_s: f64,
        /// Median θf over the static hold, degrees.
        hold_angle_deg: f64,
        /// Max θf of the rep, degrees.
        peak_angle_deg: f64,
        /// Mean knee flexion over the static hold, degrees.
        knee_mean_deg: f64,
        /// Minimum knee flexion over the static hold, degrees.
        knee_min_deg: f64,
        /// Share of static hold with the knee in the slight-bend band, %.
        knee_in_band_pct: f64,
        /// Mean leg-raise angle θte over the static hold, degrees (supine).
        #[serde(skip_serializing_if = "Option::is_none")]
        leg_raise_hold_deg: Option<f64>,
        /// D9: mean pelvic tilt change over the static hold vs rest, degrees (posterior negative).
        #[serde(skip_serializing_if = "Option::is_none")]
        pelvic_tilt_change_deg: Option<f64>,
        /// Bouncing episodes in the rep.
        bounce_episodes: u32,
        /// Advisory and warning episodes in the rep (bouncing, locked knee, range, jerky entry,
        /// pelvic compensation): praise is given only to a rep without any.
        warning_episodes: u32,
        /// Static hold ≥ target − tolerance.
        target_met: bool,
        /// `ok`, `degraded` (D11 active) or `data_gap` (gap > freeze limit).
        data_quality: &'static str,
    },
    /// A REST→…→REST cycle with less than `min_rep_hold_s` of static hold (an adjustment).
    AbortedRep {
        /// Emission time, s.
        t_s: f64,
        /// Static hold, s.
        static_hold_s: f64,
        /// Max θf of the cycle, degrees.
        peak_angle_deg: f64,
    },
    /// D1.
    Bouncing {
        /// Emission time, s.
        t_s: f64,
        /// Edge.
        state: State,
        /// Severity.
        severity: Severity,
        /// Delivery of an ON cue.
        #[serde(skip_serializing_if = "Option::is_none")]
        cue: Option<Cue>,
        /// Watched angle.
        signal: Signal,
        /// Median cycle rate, Hz.
        freq_hz: f64,
        /// Median peak-to-peak excursion, degrees.
        p2p_deg: f64,
        /// First extremum of the episode, s.
        first_extremum_s: f64,
        /// Last extremum so far, s.
        last_extremum_s: f64,
        /// Qualifying excursions so far.
        excursions: u32,
    },
    /// D2.
    KneeLocked {
        /// Emission time, s.
        t_s: f64,
        /// Edge.
        state: State,
        /// Severity (advisory when locked, warning when hyperextended).
        severity: Severity,
        /// Delivery of an ON cue.
        #[serde(skip_serializing_if = "Option::is_none")]
        cue: Option<Cue>,
        /// `locked` or `hyperextended`.
        kind: &'static str,
        /// Minimum knee flexion in the episode, degrees.
        min_knee_deg: f64,
        /// Time with θk ≤ `on_deg` in the episode, s.
        locked_s: f64,
    },
    /// D3.
    ExcessiveRange {
        /// Emission time, s.
        t_s: f64,
        /// Edge.
        state: State,
        /// Severity.
        severity: Severity,
        /// Delivery of an ON cue.
        #[serde(skip_serializing_if = "Option::is_none")]
        cue: Option<Cue>,
        /// Episode peak − B, degrees.
        excess_deg: f64,
        /// B, degrees.
        baseline_deg: f64,
        /// B + Δ, degrees.
        threshold_deg: f64,
    },
    /// D3p: unusually high reading (once per session).
    UnusualRange {
        /// Emission time, s.
        t_s: f64,
        /// Severity (info).
        severity: Severity,
        /// Angle, degrees.
        angle_deg: f64,
        /// Population limit, degrees.
        limit_deg: f64,
    },
    /// D6 (one per rep).
    JerkyEntry {
        /// Emission time, s.
        t_s: f64,
        /// Edge.
        state: State,
        /// Severity.
        severity: Severity,
        /// Delivery of an ON cue.
        #[serde(skip_serializing_if = "Option::is_none")]
        cue: Option<Cue>,
        /// Peak |ω| inside the zone, °/s.
        peak_w_dps: f64,
        /// Peak |α| inside the zone, °/s².
        peak_alpha_dps2: f64,
        /// `omega` or `alpha`: the rule that fired.
        rule: &'static str,
    },
    /// D9 cue (disabled by default).
    PelvicCompensation {
        /// Emission time, s.
        t_s: f64,
        /// Edge.
        state: State,
        /// Severity.
        severity: Severity,
        /// Delivery of an ON cue.
        #[serde(skip_serializing_if = "Option::is_none")]
        cue: Option<Cue>,
        /// Pelvic tilt change vs rest, degrees (posterior negative).
        tilt_change_deg: f64,
    },
    /// D10.
    KneeBendExcess {
        /// Emission time, s.
        t_s: f64,
        /// Edge.
        state: State,
        /// Severity (info).
        severity: Severity,
        /// Largest knee flexion in the episode, degrees.
        max_knee_deg: f64,
    },
    /// D5 per rep.
    ShortHold {
        /// Emission time, s.
        t_s: f64,
        /// Severity (info).
        severity: Severity,
        /// Rep the hold belongs to (1-based, as it will be counted).
        rep: u32,
        /// Static hold so far, s.
        static_hold_s: f64,
        /// Target, s.
        target_s: f64,
    },
    /// D5 at block end.
    DoseShort {
        /// Emission time, s.
        t_s: f64,
        /// Severity (info).
        severity: Severity,
        /// Static hold in the block, s.
        total_static_hold_s: f64,
        /// Dose target, s.
        dose_target_s: f64,
    },
    /// D7: warm-up seen in the recording.
    WarmupDetected {
        /// Emission time (block start), s.
        t_s: f64,
        /// Severity (info).
        severity: Severity,
        /// Active time found in the look-back, s.
        active_s: f64,
        /// End of the last active window, s.
        last_active_end_s: f64,
    },
    /// D7: no warm-up detected and the user did not confirm one.
    NoWarmup {
        /// Emission time (block start), s.
        t_s: f64,
        /// Severity (info).
        severity: Severity,
        /// Active time found in the look-back, s.
        active_s: f64,
    },
    /// Seated/standing without a pelvis sensor: hip-based detectors do not run.
    HipUnavailable {
        /// Emission time (block start), s.
        t_s: f64,
        /// Severity (info).
        severity: Severity,
        /// Stretch type.
        stretch: &'static str,
    },
    /// D11.
    DataQuality {
        /// Emission time, s.
        t_s: f64,
        /// `gap`, `knee_method_disagreement`, `angle_jump` or `pre_block_check`.
        kind: &'static str,
        /// Edge for conditions with a duration; `on` for one-off findings.
        state: State,
        /// Severity (system).
        severity: Severity,
        /// The measured value: gap length (s), method difference or jump (degrees), or the
        /// rest-check angle (degrees).
        value: f64,
    },
    /// Last event of a run.
    Summary {
        /// Emission time, s.
        t_s: f64,
        /// Counted reps.
        reps: u32,
        /// Aborted reps.
        aborted_reps: u32,
        /// Static hold over the block, s.
        total_static_hold_s: f64,
        /// `total_static_hold_s ≥ dose_target_s`.
        dose_met: bool,
        /// Advisory + warning episodes per active minute (MOVING_IN + HOLD).
        warnings_per_min: f64,
        /// Active time, s.
        active_s: f64,
        /// Median rep hold angle M, degrees (null without reps).
        session_value_deg: Option<f64>,
        /// Samples dropped as physically implausible (beyond 50 g, 70 rad/s, or not finite).
        implausible_samples: u64,
    },
}

impl Event {
    /// Emission time, s.
    pub fn t_s(&self) -> f64 {
        match *self {
            Event::Phase { t_s, .. }
            | Event::Rep { t_s, .. }
            | Event::AbortedRep { t_s, .. }
            | Event::Bouncing { t_s, .. }
            | Event::KneeLocked { t_s, .. }
            | Event::ExcessiveRange { t_s, .. }
            | Event::UnusualRange { t_s, .. }
            | Event::JerkyEntry { t_s, .. }
            | Event::PelvicCompensation { t_s, .. }
            | Event::KneeBendExcess { t_s, .. }
            | Event::ShortHold { t_s, .. }
            | Event::DoseShort { t_s, .. }
            | Event::WarmupDetected { t_s, .. }
            | Event::NoWarmup { t_s, .. }
            | Event::HipUnavailable { t_s, .. }
            | Event::DataQuality { t_s, .. }
            | Event::Summary { t_s, .. } => t_s,
        }
    }

    /// The `event` name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Phase { .. } => "phase",
            Event::Rep { .. } => "rep",
            Event::AbortedRep { .. } => "aborted_rep",
            Event::Bouncing { .. } => "bouncing",
            Event::KneeLocked { .. } => "knee_locked",
            Event::ExcessiveRange { .. } => "excessive_range",
            Event::UnusualRange { .. } => "unusual_range",
            Event::JerkyEntry { .. } => "jerky_entry",
            Event::PelvicCompensation { .. } => "pelvic_compensation",
            Event::KneeBendExcess { .. } => "knee_bend_excess",
            Event::ShortHold { .. } => "short_hold",
            Event::DoseShort { .. } => "dose_short",
            Event::WarmupDetected { .. } => "warmup_detected",
            Event::NoWarmup { .. } => "no_warmup",
            Event::HipUnavailable { .. } => "hip_unavailable",
            Event::DataQuality { .. } => "data_quality",
            Event::Summary { .. } => "summary",
        }
    }

    /// Episode edge, for detector events that have one.
    pub fn state(&self) -> Option<State> {
        match *self {
            Event::Bouncing { state, .. }
            | Event::KneeLocked { state, .. }
            | Event::ExcessiveRange { state, .. }
            | Event::JerkyEntry { state, .. }
            | Event::PelvicCompensation { state, .. }
            | Event::KneeBendExcess { state, .. }
            | Event::DataQuality { state, .. } => Some(state),
            _ => None,
        }
    }

    /// Severity, for events that carry one.
    pub fn severity(&self) -> Option<Severity> {
        match *self {
            Event::Bouncing { severity, .. }
            | Event::KneeLocked { severity, .. }
            | Event::ExcessiveRange { severity, .. }
            | Event::UnusualRange { severity, .. }
            | Event::JerkyEntry { severity, .. }
            | Event::PelvicCompensation { severity, .. }
            | Event::KneeBendExcess { severity, .. }
            | Event::ShortHold { severity, .. }
            | Event::DoseShort { severity, .. }
            | Event::WarmupDetected { severity, .. }
            | Event::NoWarmup { severity, .. }
            | Event::HipUnavailable { severity, .. }
            | Event::DataQuality { severity, .. } => Some(severity),
            _ => None,
        }
    }

    /// How an ON cue is delivered after arbitration.
    pub fn cue(&self) -> Option<Cue> {
        match *self {
            Event::Bouncing { cue, .. }
            | Event::KneeLocked { cue, .. }
            | Event::ExcessiveRange { cue, .. }
            | Event::JerkyEntry { cue, .. }
            | Event::PelvicCompensation { cue, .. } => cue,
            _ => None,
        }
    }

    /// The event as one line of JSON (DESIGN 3.3).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events always serialise")
    }
}

/// Rounds to `1e-4` for stable, readable output.
pub(crate) fn r4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_starts_with_event_and_t_s() {
        let e = Event::Phase {
            t_s: 8.5,
            phase: Phase::Hold,
            onset_s: 7.5,
        };
        assert_eq!(
            e.to_json(),
            r#"{"event":"phase","t_s":8.5,"phase":"hold","onset_s":7.5}"#
        );
        let s = Event::Summary {
            t_s: 1.0,
            reps: 0,
            aborted_reps: 0,
            total_static_hold_s: 0.0,
            dose_met: false,
            warnings_per_min: 0.0,
            active_s: 0.0,
            session_value_deg: None,
            implausible_samples: 0,
        };
        assert!(
            s.to_json()
                .starts_with(r#"{"event":"summary","t_s":1.0,"reps":0"#)
        );
    }
}
