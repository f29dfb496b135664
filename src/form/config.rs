//! The single form configuration (form-spec section 8): names, defaults and allowed ranges.
//!
//! Every section is optional in a TOML file; missing keys keep their defaults, unknown keys are
//! rejected. [`FormConfig::validate`] checks each value against its allowed range and names the
//! key in a one-line error. Keys not in section 8 (`hold.older_adult`, `warmup.status`,
//! `data_quality.*`) are marked as extensions.

use super::FormError;
use serde::Deserialize;
use std::path::Path;

/// Sensor sampling expectations.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sampling {
    /// Minimum accepted rate, Hz.
    pub min_hz: f64,
    /// Recommended rate, Hz.
    pub recommended_hz: f64,
    /// Largest accepted inter-sensor skew, ms.
    pub max_skew_ms: f64,
    /// Required gyro range, °/s.
    pub gyro_range_dps: f64,
    /// Required accelerometer range, g.
    pub acc_range_g: f64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            min_hz: 50.0,
            recommended_hz: 100.0,
            max_skew_ms: 10.0,
            gyro_range_dps: 500.0,
            acc_range_g: 4.0,
        }
    }
}

/// Causal detector filters (form-spec 1.6).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filters {
    /// θf: 2nd-order Butterworth cut-off, Hz.
    pub angle_lp_hz: f64,
    /// ω low-pass, Hz.
    pub omega_lp_hz: f64,
    /// ω4 low-pass (α = dω4/dt), Hz.
    pub alpha_omega_lp_hz: f64,
    /// θm moving-mean window, s.
    pub theta_m_window_s: f64,
}

impl Default for Filters {
    fn default() -> Self {
        Filters {
            angle_lp_hz: 6.0,
            omega_lp_hz: 10.0,
            alpha_omega_lp_hz: 4.0,
            theta_m_window_s: 1.0,
        }
    }
}

/// Stream-gap handling (form-spec 1.6).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gaps {
    /// Gaps up to this are interpolated, s.
    pub interp_max_s: f64,
    /// Gaps up to this freeze detector state; longer ones pause the hold timer, s.
    pub freeze_max_s: f64,
    /// Gaps longer than this (a lost sensor, a clock jump) end the running stretch: what the
    /// person did meanwhile is unknown, s.
    pub end_rep_s: f64,
}

impl Default for Gaps {
    fn default() -> Self {
        Gaps {
            interp_max_s: 0.2,
            freeze_max_s: 1.0,
            end_rep_s: 10.0,
        }
    }
}

/// Phase machine (form-spec 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Phases {
    /// Rise above θ_rest to leave REST, degrees.
    pub rise_deg: f64,
    /// ω that counts as moving in, °/s.
    pub move_w_dps: f64,
    /// Dwell of ω ≥ move_w_dps, s.
    pub move_dwell_s: f64,
    /// Largest θf range over the hold window for a hold, degrees.
    pub hold_range_deg: f64,
    /// Hold window (also the hold-onset backdate), s.
    pub hold_window_s: f64,
    /// A hold needs θf at least this far above θ_rest, degrees.
    pub hold_min_above_rest_deg: f64,
    /// HOLD ends when θm falls this far below the reference, degrees.
    pub band_lo_deg: f64,
    /// HOLD becomes MOVING_IN (deepening) when θm rises this far above the reference, degrees.
    pub band_hi_deg: f64,
    /// Reference update period (median θm over the preceding period), s.
    pub ref_update_s: f64,
    /// ω that counts as releasing, °/s (negative).
    pub release_w_dps: f64,
    /// Dwell of ω ≤ release_w_dps, s.
    pub release_dwell_s: f64,
    /// Dwell back in the rest band, s.
    pub rest_dwell_s: f64,
    /// Static hold needed to count a rep, s.
    pub min_rep_hold_s: f64,
}

impl Default for Phases {
    fn default() -> Self {
        Phases {
            rise_deg: 10.0,
            move_w_dps: 5.0,
            move_dwell_s: 0.2,
            hold_range_deg: 3.0,
            hold_window_s: 1.0,
            hold_min_above_rest_deg: 15.0,
            band_lo_deg: 8.0,
            band_hi_deg: 10.0,
            ref_update_s: 5.0,
            release_w_dps: -10.0,
            release_dwell_s: 0.5,
            rest_dwell_s: 0.5,
            min_rep_hold_s: 3.0,
        }
    }
}

/// Hold target and dose (form-spec 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hold {
    /// Static-hold target, s.
    pub target_s: f64,
    /// Target with the `older_adult` profile, s.
    pub target_s_older_adult: f64,
    /// A hold meets the target at target − tolerance, s.
    pub tolerance_s: f64,
    /// Per-side static-hold dose per block, s.
    pub dose_target_s: f64,
    /// Halfway tone (live only).
    pub cue_halfway: bool,
    /// Extension: use `target_s_older_adult`.
    pub older_adult: bool,
}

impl Default for Hold {
    fn default() -> Self {
        Hold {
            target_s: 30.0,
            target_s_older_adult: 45.0,
            tolerance_s: 1.0,
            dose_target_s: 60.0,
            cue_halfway: true,
            older_adult: false,
        }
    }
}

impl Hold {
    /// The target in force, s.
    pub fn effective_target_s(&self) -> f64 {
        if self.older_adult {
            self.target_s_older_adult
        } else {
            self.target_s
        }
    }
}

/// D1 bouncing.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bouncing {
    /// Zig-zag retreat that confirms an extremum, degrees.
    pub hyst_deg: f64,
    /// Smallest qualifying peak-to-peak excursion, degrees.
    pub min_excursion_deg: f64,
    /// Lowest cycle rate, Hz.
    pub f_min_hz: f64,
    /// Highest cycle rate, Hz.
    pub f_max_hz: f64,
    /// Consecutive qualifying excursions to fire.
    pub n_excursions: u32,
    /// Largest span of the chain, extremum to extremum, s.
    pub window_s: f64,
    /// Clear after this long without a new qualifying excursion, s.
    pub clear_s: f64,
    /// Gate zone: θf ≥ θ_rest + fraction·(θ_ref − θ_rest).
    pub gate_fraction: f64,
    /// Run a second instance on the knee.
    pub also_on_knee: bool,
}

impl Default for Bouncing {
    fn default() -> Self {
        Bouncing {
            hyst_deg: 2.5,
            min_excursion_deg: 5.0,
            f_min_hz: 0.7,
            f_max_hz: 4.0,
            n_excursions: 4,
            window_s: 4.0,
            clear_s: 2.0,
            gate_fraction: 0.5,
            also_on_knee: true,
        }
    }
}

/// D2 locked / hyperextended knee.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KneeLock {
    /// Locked at θk ≤ this, degrees.
    pub on_deg: f64,
    /// Locked dwell, s.
    pub dwell_s: f64,
    /// Hyperextended at θk ≤ this, degrees.
    pub hyper_deg: f64,
    /// Hyperextended dwell, s.
    pub hyper_dwell_s: f64,
    /// Clears at θk ≥ this, degrees.
    pub off_deg: f64,
    /// Clear dwell, s.
    pub off_dwell_s: f64,
    /// "Slight bend" coaching band, degrees.
    pub band_deg: [f64; 2],
}

impl Default for KneeLock {
    fn default() -> Self {
        KneeLock {
            on_deg: 2.0,
            dwell_s: 2.0,
            hyper_deg: -2.0,
            hyper_dwell_s: 1.0,
            off_deg: 4.0,
            off_dwell_s: 1.0,
            band_deg: [5.0, 15.0],
        }
    }
}

/// D3 excessive range and D3p population guardrail.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Excessive {
    /// Δ with ≥ 3 history sessions, degrees.
    pub delta_deg: f64,
    /// Δ with 1–2 history sessions, degrees.
    pub delta_provisional_deg: f64,
    /// Dwell above B + Δ, s.
    pub dwell_s: f64,
    /// Clears below B + Δ − hyst, degrees.
    pub hyst_deg: f64,
    /// History sessions in the baseline median.
    pub history_sessions: u32,
    /// History look-back, days.
    pub history_days: u32,
    /// D3p supine limit, degrees.
    pub pop_supine_max_deg: f64,
    /// D3p seated/standing hip limit, degrees.
    pub pop_hip_max_deg: f64,
}

impl Default for Excessive {
    fn default() -> Self {
        Excessive {
            delta_deg: 10.0,
            delta_provisional_deg: 15.0,
            dwell_s: 1.0,
            hyst_deg: 3.0,
            history_sessions: 5,
            history_days: 28,
            pop_supine_max_deg: 110.0,
            pop_hip_max_deg: 135.0,
        }
    }
}

/// D4 fast progression (review; used by the store).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FastProgression {
    /// Jump over the median of 3 prior sessions, degrees.
    pub jump_deg: f64,
    /// Trend limit, degrees per week.
    pub slope_deg_per_week: f64,
    /// Trend window, days.
    pub slope_window_days: u32,
    /// Sessions needed for a trend.
    pub min_sessions_slope: u32,
}

impl Default for FastProgression {
    fn default() -> Self {
        FastProgression {
            jump_deg: 8.0,
            slope_deg_per_week: 5.0,
            slope_window_days: 14,
            min_sessions_slope: 4,
        }
    }
}

/// Default θ_ref per stretch when there is no baseline, degrees.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThetaRefDefault {
    /// Supine, degrees.
    pub supine: f64,
    /// Seated reach, degrees.
    pub seated_reach: f64,
    /// Standing hinge, degrees.
    pub standing_hinge: f64,
}

impl Default for ThetaRefDefault {
    fn default() -> Self {
        ThetaRefDefault {
            supine: 70.0,
            seated_reach: 120.0,
            standing_hinge: 70.0,
        }
    }
}

/// D6 jerky entry.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Jerky {
    /// End-range zone starts at this fraction of (θ_ref − θ_rest).
    pub zone_fraction: f64,
    /// |ω| limit, °/s.
    pub w_dps: f64,
    /// Dwell of |ω| ≥ w_dps, s.
    pub w_dwell_s: f64,
    /// |α| limit, °/s².
    pub alpha_dps2: f64,
    /// |ω| needed with the α rule, °/s.
    pub alpha_min_w_dps: f64,
    /// θ_ref without a baseline.
    pub theta_ref_default: ThetaRefDefault,
    /// Gate stays open this long after HOLD detection, s.
    pub post_hold_gate_s: f64,
}

impl Default for Jerky {
    fn default() -> Self {
        Jerky {
            zone_fraction: 0.7,
            w_dps: 60.0,
            w_dwell_s: 0.1,
            alpha_dps2: 500.0,
            alpha_min_w_dps: 30.0,
            theta_ref_default: ThetaRefDefault::default(),
            post_hold_gate_s: 2.0,
        }
    }
}

/// Whether the user warmed up (extension; form-spec 5.1 uses `confirmed` for all scenarios).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WarmupStatus {
    /// The user confirmed a warm-up.
    #[default]
    Confirmed,
    /// The user answered "no" (or skipped the question).
    No,
    /// Not asked; treated like a skipped answer.
    Unknown,
}

impl std::str::FromStr for WarmupStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "confirmed" | "yes" => Ok(WarmupStatus::Confirmed),
            "no" | "skipped" => Ok(WarmupStatus::No),
            "unknown" => Ok(WarmupStatus::Unknown),
            other => Err(format!(
                "unknown warm-up status '{other}' (expected confirmed, no or unknown)"
            )),
        }
    }
}

/// D7 warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Warmup {
    /// Look-back before the first block, minutes.
    pub lookback_min: f64,
    /// Active time needed, s.
    pub min_active_s: f64,
    /// Analysis window, s.
    pub window_s: f64,
    /// Thigh sagittal ω RMS needed, °/s.
    pub rms_dps: f64,
    /// Dominant-frequency band, Hz.
    pub f_band_hz: [f64; 2],
    /// The last active window must end at most this long before the block, minutes.
    pub max_gap_min: f64,
    /// Extension: the user's answer to "have you warmed up?".
    pub status: WarmupStatus,
}

impl Default for Warmup {
    fn default() -> Self {
        Warmup {
            lookback_min: 20.0,
            min_active_s: 300.0,
            window_s: 5.0,
            rms_dps: 40.0,
            f_band_hz: [0.5, 2.0],
            max_gap_min: 15.0,
            status: WarmupStatus::Confirmed,
        }
    }
}

/// D8 asymmetry (review; used by the store).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Asymmetry {
    /// |L − R| limit, degrees.
    pub diff_deg: f64,
    /// Paired sessions considered.
    pub last_sessions: u32,
    /// Flagged sessions needed.
    pub min_flagged: u32,
    /// Look-back, days.
    pub window_days: u32,
}

impl Default for Asymmetry {
    fn default() -> Self {
        Asymmetry {
            diff_deg: 10.0,
            last_sessions: 5,
            min_flagged: 3,
            window_days: 28,
        }
    }
}

/// D9 pelvic compensation.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PelvicComp {
    /// Emit the ADVISORY cue (metric only when false).
    pub cue_enabled: bool,
    /// Posterior tilt change that triggers the cue, degrees.
    pub posterior_tilt_deg: f64,
    /// Dwell, s.
    pub dwell_s: f64,
}

impl Default for PelvicComp {
    fn default() -> Self {
        PelvicComp {
            cue_enabled: false,
            posterior_tilt_deg: 25.0,
            dwell_s: 2.0,
        }
    }
}

/// D10 excess knee bend.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KneeBendExcess {
    /// Run for straight-leg variants.
    pub enabled_for_straight_leg: bool,
    /// Knee limit, degrees.
    pub max_deg: f64,
    /// Dwell, s.
    pub dwell_s: f64,
}

impl Default for KneeBendExcess {
    fn default() -> Self {
        KneeBendExcess {
            enabled_for_straight_leg: true,
            max_deg: 30.0,
            dwell_s: 5.0,
        }
    }
}

/// Display constants.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Display {
    /// Minimal detectable change, degrees.
    pub mdc_deg: f64,
}

impl Default for Display {
    fn default() -> Self {
        Display { mdc_deg: 8.0 }
    }
}

/// Cue arbitration (form-spec 3 conventions).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cues {
    /// At most one audio cue per this interval, s.
    pub min_audio_gap_s: f64,
    /// A persisting episode re-announces after this, s.
    pub reannounce_s: f64,
    /// A new episode of a type within this of its last OFF is visual-only, s.
    pub same_type_visual_only_s: f64,
}

impl Default for Cues {
    fn default() -> Self {
        Cues {
            min_audio_gap_s: 3.0,
            reannounce_s: 10.0,
            same_type_visual_only_s: 5.0,
        }
    }
}

/// End-to-end latency budget.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Latency {
    /// 95th-percentile budget, ms.
    pub pipeline_p95_ms: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            pipeline_p95_ms: 300.0,
        }
    }
}

/// Extension: D11 thresholds the spec gives in prose (1.6, D11).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataQuality {
    /// Knee hinge vs inclination-difference disagreement, degrees.
    pub method_diff_deg: f64,
    /// Disagreement dwell, s.
    pub method_dwell_s: f64,
    /// Implausible jump size, degrees.
    pub jump_deg: f64,
    /// Implausible jump interval, s.
    pub jump_window_s: f64,
    /// Angles before and after a freeze gap must agree within this, degrees.
    pub gap_agree_deg: f64,
}

impl Default for DataQuality {
    fn default() -> Self {
        DataQuality {
            method_diff_deg: 5.0,
            method_dwell_s: 5.0,
            jump_deg: 30.0,
            jump_window_s: 0.02,
            gap_agree_deg: 3.0,
        }
    }
}

/// Every form parameter, with section 8 defaults.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FormConfig {
    /// `sampling`.
    pub sampling: Sampling,
    /// `filters`.
    pub filters: Filters,
    /// `gaps`.
    pub gaps: Gaps,
    /// `phases`.
    pub phases: Phases,
    /// `hold`.
    pub hold: Hold,
    /// `bouncing`.
    pub bouncing: Bouncing,
    /// `knee_lock`.
    pub knee_lock: KneeLock,
    /// `excessive`.
    pub excessive: Excessive,
    /// `fast_progression`.
    pub fast_progression: FastProgression,
    /// `jerky`.
    pub jerky: Jerky,
    /// `warmup`.
    pub warmup: Warmup,
    /// `asymmetry`.
    pub asymmetry: Asymmetry,
    /// `pelvic_comp`.
    pub pelvic_comp: PelvicComp,
    /// `knee_bend_excess`.
    pub knee_bend_excess: KneeBendExcess,
    /// `display`.
    pub display: Display,
    /// `cues`.
    pub cues: Cues,
    /// `latency`.
    pub latency: Latency,
    /// `data_quality` (extension).
    pub data_quality: DataQuality,
}

impl FormConfig {
    /// Parses TOML text (any subset of the keys) and validates it.
    pub fn from_toml_str(text: &str) -> Result<FormConfig, String> {
        let cfg: FormConfig = toml::from_str(text).map_err(|e| {
            let msg = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: {msg}")
                }
                None => msg,
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and validates a TOML config file.
    pub fn load(path: &Path) -> Result<FormConfig, FormError> {
        let text = std::fs::read_to_string(path).map_err(|e| FormError::Config {
            path: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        Self::from_toml_str(&text).map_err(|message| FormError::Config {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Checks every value against its allowed range; the message names the key and the range.
    pub fn validate(&self) -> Result<(), String> {
        let c = self;
        let checks: &[(&str, f64, f64, f64)] = &[
            ("sampling.min_hz", c.sampling.min_hz, 20.0, 200.0),
            (
                "sampling.recommended_hz",
                c.sampling.recommended_hz,
                50.0,
                200.0,
            ),
            ("sampling.max_skew_ms", c.sampling.max_skew_ms, 0.0, 50.0),
            (
                "sampling.gyro_range_dps",
                c.sampling.gyro_range_dps,
                250.0,
                4000.0,
            ),
            ("sampling.acc_range_g", c.sampling.acc_range_g, 2.0, 32.0),
            ("filters.angle_lp_hz", c.filters.angle_lp_hz, 3.0, 12.0),
            ("filters.omega_lp_hz", c.filters.omega_lp_hz, 4.0, 20.0),
            (
                "filters.alpha_omega_lp_hz",
                c.filters.alpha_omega_lp_hz,
                1.0,
                10.0,
            ),
            (
                "filters.theta_m_window_s",
                c.filters.theta_m_window_s,
                0.5,
                3.0,
            ),
            ("gaps.interp_max_s", c.gaps.interp_max_s, 0.05, 0.5),
            ("gaps.freeze_max_s", c.gaps.freeze_max_s, 0.2, 5.0),
            ("gaps.end_rep_s", c.gaps.end_rep_s, 2.0, 600.0),
            ("phases.rise_deg", c.phases.rise_deg, 5.0, 20.0),
            ("phases.move_w_dps", c.phases.move_w_dps, 3.0, 15.0),
            ("phases.move_dwell_s", c.phases.move_dwell_s, 0.05, 1.0),
            ("phases.hold_range_deg", c.phases.hold_range_deg, 2.0, 5.0),
            ("phases.hold_window_s", c.phases.hold_window_s, 0.5, 2.0),
            (
                "phases.hold_min_above_rest_deg",
                c.phases.hold_min_above_rest_deg,
                10.0,
                30.0,
            ),
            ("phases.band_lo_deg", c.phases.band_lo_deg, 5.0, 12.0),
            ("phases.band_hi_deg", c.phases.band_hi_deg, 5.0, 12.0),
            ("phases.ref_update_s", c.phases.ref_update_s, 2.0, 20.0),
            ("phases.release_w_dps", c.phases.release_w_dps, -20.0, -5.0),
            ("phases.release_dwell_s", c.phases.release_dwell_s, 0.2, 2.0),
            ("phases.rest_dwell_s", c.phases.rest_dwell_s, 0.2, 2.0),
            ("phases.min_rep_hold_s", c.phases.min_rep_hold_s, 2.0, 10.0),
            ("hold.target_s", c.hold.target_s, 10.0, 120.0),
            (
                "hold.target_s_older_adult",
                c.hold.target_s_older_adult,
                30.0,
                60.0,
            ),
            ("hold.tolerance_s", c.hold.tolerance_s, 0.0, 5.0),
            ("hold.dose_target_s", c.hold.dose_target_s, 10.0, 600.0),
            ("bouncing.hyst_deg", c.bouncing.hyst_deg, 1.0, 5.0),
            (
                "bouncing.min_excursion_deg",
                c.bouncing.min_excursion_deg,
                3.0,
                15.0,
            ),
            ("bouncing.f_min_hz", c.bouncing.f_min_hz, 0.3, 2.0),
            ("bouncing.f_max_hz", c.bouncing.f_max_hz, 2.0, 6.0),
            (
                "bouncing.n_excursions",
                f64::from(c.bouncing.n_excursions),
                2.0,
                8.0,
            ),
            ("bouncing.window_s", c.bouncing.window_s, 1.0, 10.0),
            ("bouncing.clear_s", c.bouncing.clear_s, 0.5, 10.0),
            ("bouncing.gate_fraction", c.bouncing.gate_fraction, 0.0, 1.0),
            ("knee_lock.on_deg", c.knee_lock.on_deg, 0.0, 5.0),
            ("knee_lock.dwell_s", c.knee_lock.dwell_s, 0.5, 5.0),
            ("knee_lock.hyper_deg", c.knee_lock.hyper_deg, -10.0, 0.0),
            (
                "knee_lock.hyper_dwell_s",
                c.knee_lock.hyper_dwell_s,
                0.2,
                5.0,
            ),
            ("knee_lock.off_deg", c.knee_lock.off_deg, 1.0, 10.0),
            ("knee_lock.off_dwell_s", c.knee_lock.off_dwell_s, 0.2, 5.0),
            ("knee_lock.band_deg[0]", c.knee_lock.band_deg[0], 0.0, 30.0),
            ("knee_lock.band_deg[1]", c.knee_lock.band_deg[1], 0.0, 45.0),
            ("excessive.delta_deg", c.excessive.delta_deg, 3.0, 30.0),
            (
                "excessive.delta_provisional_deg",
                c.excessive.delta_provisional_deg,
                3.0,
                40.0,
            ),
            ("excessive.dwell_s", c.excessive.dwell_s, 0.2, 5.0),
            ("excessive.hyst_deg", c.excessive.hyst_deg, 0.0, 10.0),
            (
                "excessive.history_sessions",
                f64::from(c.excessive.history_sessions),
                3.0,
                10.0,
            ),
            (
                "excessive.history_days",
                f64::from(c.excessive.history_days),
                7.0,
                365.0,
            ),
            (
                "excessive.pop_supine_max_deg",
                c.excessive.pop_supine_max_deg,
                80.0,
                180.0,
            ),
            (
                "excessive.pop_hip_max_deg",
                c.excessive.pop_hip_max_deg,
                100.0,
                180.0,
            ),
            (
                "fast_progression.jump_deg",
                c.fast_progression.jump_deg,
                2.0,
                30.0,
            ),
            (
                "fast_progression.slope_deg_per_week",
                c.fast_progression.slope_deg_per_week,
                1.0,
                20.0,
            ),
            (
                "fast_progression.slope_window_days",
                f64::from(c.fast_progression.slope_window_days),
                7.0,
                60.0,
            ),
            (
                "fast_progression.min_sessions_slope",
                f64::from(c.fast_progression.min_sessions_slope),
                3.0,
                20.0,
            ),
            ("jerky.zone_fraction", c.jerky.zone_fraction, 0.3, 0.95),
            ("jerky.w_dps", c.jerky.w_dps, 20.0, 200.0),
            ("jerky.w_dwell_s", c.jerky.w_dwell_s, 0.02, 1.0),
            ("jerky.alpha_dps2", c.jerky.alpha_dps2, 100.0, 3000.0),
            ("jerky.alpha_min_w_dps", c.jerky.alpha_min_w_dps, 5.0, 100.0),
            (
                "jerky.theta_ref_default.supine",
                c.jerky.theta_ref_default.supine,
                30.0,
                150.0,
            ),
            (
                "jerky.theta_ref_default.seated_reach",
                c.jerky.theta_ref_default.seated_reach,
                95.0,
                180.0,
            ),
            (
                "jerky.theta_ref_default.standing_hinge",
                c.jerky.theta_ref_default.standing_hinge,
                20.0,
                150.0,
            ),
            (
                "jerky.post_hold_gate_s",
                c.jerky.post_hold_gate_s,
                0.0,
                10.0,
            ),
            ("warmup.lookback_min", c.warmup.lookback_min, 5.0, 60.0),
            ("warmup.min_active_s", c.warmup.min_active_s, 30.0, 1800.0),
            ("warmup.window_s", c.warmup.window_s, 2.0, 30.0),
            ("warmup.rms_dps", c.warmup.rms_dps, 10.0, 200.0),
            ("warmup.f_band_hz[0]", c.warmup.f_band_hz[0], 0.1, 5.0),
            ("warmup.f_band_hz[1]", c.warmup.f_band_hz[1], 0.2, 5.0),
            ("warmup.max_gap_min", c.warmup.max_gap_min, 1.0, 60.0),
            ("asymmetry.diff_deg", c.asymmetry.diff_deg, 3.0, 30.0),
            (
                "asymmetry.last_sessions",
                f64::from(c.asymmetry.last_sessions),
                1.0,
                20.0,
            ),
            (
                "asymmetry.min_flagged",
                f64::from(c.asymmetry.min_flagged),
                1.0,
                20.0,
            ),
            (
                "asymmetry.window_days",
                f64::from(c.asymmetry.window_days),
                7.0,
                365.0,
            ),
            (
                "pelvic_comp.posterior_tilt_deg",
                c.pelvic_comp.posterior_tilt_deg,
                5.0,
                60.0,
            ),
            ("pelvic_comp.dwell_s", c.pelvic_comp.dwell_s, 0.5, 10.0),
            (
                "knee_bend_excess.max_deg",
                c.knee_bend_excess.max_deg,
                15.0,
                60.0,
            ),
            (
                "knee_bend_excess.dwell_s",
                c.knee_bend_excess.dwell_s,
                1.0,
                30.0,
            ),
            ("display.mdc_deg", c.display.mdc_deg, 1.0, 20.0),
            ("cues.min_audio_gap_s", c.cues.min_audio_gap_s, 0.0, 30.0),
            ("cues.reannounce_s", c.cues.reannounce_s, 1.0, 120.0),
            (
                "cues.same_type_visual_only_s",
                c.cues.same_type_visual_only_s,
                0.0,
                60.0,
            ),
            (
                "latency.pipeline_p95_ms",
                c.latency.pipeline_p95_ms,
                10.0,
                2000.0,
            ),
            (
                "data_quality.method_diff_deg",
                c.data_quality.method_diff_deg,
                1.0,
                30.0,
            ),
            (
                "data_quality.method_dwell_s",
                c.data_quality.method_dwell_s,
                0.5,
                60.0,
            ),
            ("data_quality.jump_deg", c.data_quality.jump_deg, 5.0, 180.0),
            (
                "data_quality.jump_window_s",
                c.data_quality.jump_window_s,
                0.005,
                0.5,
            ),
            (
                "data_quality.gap_agree_deg",
                c.data_quality.gap_agree_deg,
                0.5,
                20.0,
            ),
        ];
        for &(key, value, lo, hi) in checks {
            if !(value.is_finite() && value >= lo && value <= hi) {
                return Err(format!(
                    "{key} = {value} is out of range (allowed {lo} to {hi})"
                ));
            }
        }
        let order: &[(&str, bool)] = &[
            (
                "bouncing.f_min_hz must be below bouncing.f_max_hz",
                c.bouncing.f_min_hz < c.bouncing.f_max_hz,
            ),
            (
                "knee_lock.band_deg must be [low, high] with low < high",
                c.knee_lock.band_deg[0] < c.knee_lock.band_deg[1],
            ),
            (
                "knee_lock.off_deg must be above knee_lock.on_deg",
                c.knee_lock.off_deg > c.knee_lock.on_deg,
            ),
            (
                "knee_lock.hyper_deg must be below knee_lock.on_deg",
                c.knee_lock.hyper_deg < c.knee_lock.on_deg,
            ),
            (
                "warmup.f_band_hz must be [low, high] with low < high",
                c.warmup.f_band_hz[0] < c.warmup.f_band_hz[1],
            ),
            (
                "gaps.interp_max_s must be below gaps.freeze_max_s",
                c.gaps.interp_max_s < c.gaps.freeze_max_s,
            ),
        ];
        for (msg, ok) in order {
            if !ok {
                return Err((*msg).to_string());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_partial_files_keep_defaults() {
        FormConfig::default().validate().unwrap();
        let c = FormConfig::from_toml_str("[hold]\ntarget_s = 45\n[bouncing]\nn_excursions = 5\n")
            .unwrap();
        assert_eq!(c.hold.target_s, 45.0);
        assert_eq!(c.bouncing.n_excursions, 5);
        assert_eq!(c.phases.rise_deg, 10.0);
    }

    #[test]
    fn out_of_range_names_key_and_range() {
        let e = FormConfig::from_toml_str("[phases]\nrise_deg = 25\n").unwrap_err();
        assert_eq!(e, "phases.rise_deg = 25 is out of range (allowed 5 to 20)");
        let e = FormConfig::from_toml_str("[phases]\nrise = 12\n").unwrap_err();
        assert!(e.contains("rise") && e.starts_with("line 2"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn non_finite_values_are_refused_with_the_key() {
        for (text, key) in [
            ("[gaps]\nend_rep_s = nan", "gaps.end_rep_s"),
            ("[phases]\nrise_deg = inf", "phases.rise_deg"),
            ("[knee_lock]\nband_deg = [nan, 10.0]", "knee_lock.band_deg"),
        ] {
            let e = FormConfig::from_toml_str(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
