//! The readable timeline of `stretchwatch replay` without `--json`: one line per event in the
//! spec's wording (form-spec 3 cues and 6.2). Lines describe movement only; they never diagnose,
//! and they suggest stopping or seeing a professional only where section 6 says so.

use super::event::{Cue, Event, Signal, State};

/// Safety lines printed with every timeline (form-spec 6.2).
pub const SAFETY_NOTES: [&str; 3] = [
    "This feedback is about how you move during stretches. It is not medical advice and does not diagnose or treat any condition.",
    "Angles are estimates from wearable sensors and may be off by a few degrees. Changes smaller than about 8° between sessions may be measurement noise.",
    "Stop now if you feel sharp or shooting pain, pain behind the knee or in the lower back, tingling, numbness or burning down the leg. If pain persists or keeps returning, talk to a health professional.",
];

fn cue_tag(cue: Option<Cue>) -> &'static str {
    match cue {
        Some(Cue::Audio) => " [audio cue]",
        Some(Cue::Visual) => " [visual cue]",
        None => "",
    }
}

/// One timeline line for `e` (without the time column), or `None` for the summary.
pub fn describe(e: &Event) -> Option<String> {
    Some(match *e {
        Event::Phase { phase, onset_s, .. } => {
            format!("phase {:<9} (from {onset_s:.2} s)", phase.as_str())
        }
        Event::Rep {
            rep,
            static_hold_s,
            positional_hold_s,
            hold_angle_deg,
            peak_angle_deg,
            knee_mean_deg,
            target_met,
            warning_episodes,
            ..
        } => format!(
            "rep {rep}: static hold {static_hold_s:.1} s (in position {positional_hold_s:.1} s), hold angle {hold_angle_deg:.1}°, peak {peak_angle_deg:.1}°, knee {knee_mean_deg:.1}°{}",
            // Praise never contradicts a warning given in the same rep.
            match (target_met, warning_episodes) {
                (true, 0) => " — Nice, 30 seconds",
                (true, _) => " — 30 seconds reached; mind the warnings above next time",
                _ => "",
            }
        ),
        Event::AbortedRep { static_hold_s, .. } => {
            format!("adjustment (held {static_hold_s:.1} s, not counted as a rep)")
        }
        Event::Bouncing {
            state: State::On,
            cue,
            freq_hz,
            p2p_deg,
            signal,
            ..
        } => format!(
            "WARNING Hold still. Ease into the stretch, no bouncing. ({}{p2p_deg:.0}° at {freq_hz:.1} Hz){}",
            if signal == Signal::Knee { "knee, " } else { "" },
            cue_tag(cue)
        ),
        Event::Bouncing {
            state: State::Off, ..
        } => "bouncing stopped".into(),
        Event::KneeLocked {
            state: State::On,
            kind,
            cue,
            ..
        } => {
            if kind == "hyperextended" {
                format!("WARNING Your knee is pushed back. Bend it slightly.{}", cue_tag(cue))
            } else {
                format!("ADVISORY Soften your knee, keep a slight bend.{}", cue_tag(cue))
            }
        }
        Event::KneeLocked {
            state: State::Off,
            locked_s,
            ..
        } => format!("knee slightly bent again (it was straight for {locked_s:.1} s)"),
        Event::ExcessiveRange {
            state: State::On,
            cue,
            ..
        } => format!(
            "WARNING Further than your usual range. Back off to a comfortable stretch.{}",
            cue_tag(cue)
        ),
        Event::ExcessiveRange {
            state: State::Off,
            excess_deg,
            ..
        } => format!("back within your usual range (went {excess_deg:.0}° past your usual hold angle)"),
        Event::UnusualRange { angle_deg, .. } => format!(
            "INFO Unusually high reading ({angle_deg:.0}°): check sensor placement, or ignore if you are very flexible."
        ),
        Event::JerkyEntry {
            state: State::On,
            cue,
            peak_w_dps,
            ..
        } => format!(
            "WARNING Slow down as you move into the stretch. ({peak_w_dps:.0}°/s){}",
            cue_tag(cue)
        ),
        Event::JerkyEntry {
            state: State::Off, ..
        } => "entry finished".into(),
        Event::PelvicCompensation {
            state: State::On,
            cue,
            ..
        } => format!("ADVISORY Keep your hips on the floor.{}", cue_tag(cue)),
        Event::PelvicCompensation {
            state: State::Off, ..
        } => "hips settled".into(),
        Event::KneeBendExcess {
            state: State::On, ..
        } => "INFO Straighten a little for the hamstring stretch.".into(),
        Event::KneeBendExcess {
            state: State::Off, ..
        } => "knee straighter again".into(),
        Event::ShortHold {
            static_hold_s,
            target_s,
            ..
        } => format!("INFO Held {static_hold_s:.0} s. Aim for {target_s:.0} s next time."),
        Event::DoseShort {
            total_static_hold_s,
            dose_target_s,
            ..
        } => format!(
            "INFO {total_static_hold_s:.0} s of hold in this block; aim for about {dose_target_s:.0} s in total per side."
        ),
        Event::WarmupDetected { active_s, .. } => {
            format!("INFO Warm-up detected ({:.0} min of activity).", active_s / 60.0)
        }
        Event::NoWarmup { .. } => {
            "INFO No warm-up noted. Stretching works best after 5–10 min of light activity.".into()
        }
        Event::HipUnavailable { .. } => {
            "INFO Hip angle unavailable for this stretch (no pelvis sensor): only knee feedback runs.".into()
        }
        Event::DataQuality {
            kind, state, value, ..
        } => match (kind, state) {
            ("gap", _) => format!("SYSTEM sensor data missing for {value:.1} s; hold timer paused."),
            ("knee_method_disagreement", State::On) => {
                "SYSTEM knee angle readings disagree: re-seat the sensors and recalibrate.".into()
            }
            ("knee_method_disagreement", State::Off) => "SYSTEM knee angle readings agree again.".into(),
            ("pre_block_check", _) => format!(
                "SYSTEM resting angle {value:.0}° is outside the expected range: re-seat sensor / recalibrate."
            ),
            ("angle_jump", _) => format!("SYSTEM implausible angle jump ({value:.0}°): check the sensor straps."),
            ("implausible_samples", _) => format!(
                "SYSTEM {value:.0} impossible sensor readings ignored (beyond 50 g or 70 rad/s): check the sensor and its file."
            ),
            ("time_jump", _) => format!(
                "SYSTEM the recording jumps {value:.0} s ahead; the running stretch ends here."
            ),
            _ => format!("SYSTEM {kind}"),
        },
        Event::Summary { .. } => return None,
    })
}

/// The session summary lines.
pub fn summary_lines(e: &Event) -> Vec<String> {
    let Event::Summary {
        reps,
        aborted_reps,
        total_static_hold_s,
        dose_met,
        warnings_per_min,
        active_s,
        session_value_deg,
        implausible_samples,
        ..
    } = *e
    else {
        return Vec::new();
    };
    let mut lines = vec![
        format!("reps          {reps} ({aborted_reps} adjustments not counted)"),
        format!(
            "static hold   {total_static_hold_s:.1} s in total — {}",
            if dose_met {
                "dose met"
            } else {
                "below the 60 s per-side dose"
            }
        ),
        format!("active time   {active_s:.1} s moving in and holding"),
        format!("warnings      {warnings_per_min:.2} per active minute"),
        match session_value_deg {
            Some(m) => format!(
                "stretch angle {m:.1}° (median hold angle; a wearable estimate, not a clinical test)"
            ),
            None => "stretch angle unavailable (no counted reps)".into(),
        },
    ];
    if implausible_samples > 0 {
        lines.push(format!(
            "data          {implausible_samples} impossible sensor readings ignored"
        ));
    }
    lines
}
