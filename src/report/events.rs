//! Stored events (the DESIGN 3.3 objects kept in the session store) in plain words, for
//! `sessions show` and the web app's session page: what the movement was, never a spec code.

use serde_json::Value;

/// A stored event in plain words (the stored object is the DESIGN 3.3 JSON).
pub fn describe_stored(v: &Value) -> Option<String> {
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let on = v["state"] == "on";
    Some(match v["event"].as_str()? {
        "phase" => format!("phase: {}", v["phase"].as_str()?.replace('_', " ")),
        "rep" => format!(
            "rep {}: static hold {:.1} s, hold angle {:.1}°, knee {:.1}°",
            v["rep"],
            f("static_hold_s"),
            f("hold_angle_deg"),
            f("knee_mean_deg")
        ),
        "aborted_rep" => format!(
            "adjustment (held {:.1} s, not counted as a rep)",
            f("static_hold_s")
        ),
        "bouncing" if on => "Hold still. Ease into the stretch, no bouncing.".into(),
        "bouncing" => "bouncing stopped".into(),
        "knee_locked" if on && v["kind"] == "hyperextended" => {
            "Your knee is pushed back. Bend it slightly.".into()
        }
        "knee_locked" if on => "Soften your knee, keep a slight bend.".into(),
        "knee_locked" => format!(
            "knee slightly bent again (it was straight for {:.1} s)",
            f("locked_s")
        ),
        "excessive_range" if on => {
            "Further than your usual range. Back off to a comfortable stretch.".into()
        }
        "excessive_range" => "back within your usual range".into(),
        "unusual_range" => "Unusually high reading: check sensor placement.".into(),
        "jerky_entry" if on => "Slow down as you move into the stretch.".into(),
        "jerky_entry" => "entry finished".into(),
        "pelvic_compensation" if on => "Keep your hips on the floor.".into(),
        "pelvic_compensation" => "hips settled".into(),
        "knee_bend_excess" if on => "Straighten a little for the hamstring stretch.".into(),
        "knee_bend_excess" => "knee straighter again".into(),
        "short_hold" => format!(
            "Held {:.0} s. Aim for {:.0} s next time.",
            f("static_hold_s"),
            f("target_s")
        ),
        "dose_short" => format!(
            "{:.0} s of hold in this block; aim for about {:.0} s in total per side.",
            f("total_static_hold_s"),
            f("dose_target_s")
        ),
        "warmup_detected" => "Warm-up noted.".into(),
        "no_warmup" => {
            "No warm-up noted. Stretching works best after 5–10 min of light activity.".into()
        }
        "calibration" => match v["state"].as_str()? {
            "done" if v["nominal"] == true => {
                "default sensor placement in use (not a calibration of this person)".into()
            }
            "done" => format!(
                "calibrated{}, quality {:.2}{}",
                if v["from_recording"] == false {
                    " from a saved profile"
                } else {
                    ""
                },
                f("quality"),
                v["caveat"]
                    .as_str()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
            "refined" => "calibration refined by the movements so far".into(),
            "not_done" => format!(
                "calibration not done ({}); the previous one went on",
                v["reason"].as_str().unwrap_or("no reason given")
            ),
            _ => return None,
        },
        "hip_unavailable" => "Hip angle unavailable (no pelvis sensor): knee feedback only.".into(),
        "data_quality" if v["kind"] == "gap" => {
            format!(
                "sensor data missing for {:.1} s; hold timer paused",
                f("value")
            )
        }
        "data_quality" => format!(
            "sensor data check: {}",
            v["kind"].as_str().unwrap_or("").replace('_', " ")
        ),
        "block" if v["state"] == "start" => format!(
            "block {} starts: {} side, {} stretch",
            v["block"],
            v["side"].as_str()?,
            v["stretch"].as_str()?
        ),
        "block" => format!(
            "block {} ends: {} {}, static hold {:.1} s",
            v["block"],
            v["reps"],
            if v["reps"] == 1 { "rep" } else { "reps" },
            f("total_static_hold_s")
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_events_read_as_movement_not_codes() {
        let v: Value = serde_json::from_str(
            r#"{"event":"knee_locked","t_s":30.0,"state":"off","locked_s":13.2,"severity":"ADVISORY"}"#,
        )
        .unwrap();
        let text = describe_stored(&v).unwrap();
        assert_eq!(
            text,
            "knee slightly bent again (it was straight for 13.2 s)"
        );
        let b: Value = serde_json::from_str(
            r#"{"event":"block","t_s":90.0,"state":"end","block":1,"reps":1,"total_static_hold_s":39.6}"#,
        )
        .unwrap();
        assert_eq!(
            describe_stored(&b).unwrap(),
            "block 1 ends: 1 rep, static hold 39.6 s"
        );
    }
}
