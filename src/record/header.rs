//! The `# key: value` header of an IMU CSV v1 recording (DESIGN 3.1).

use crate::limits;
use crate::model::{SensorRole, Side, StretchType, TimeWindow};

/// A time-stamped marker line (`# marker: 40.0 block.start`).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Marker time, seconds.
    pub t_s: f64,
    /// Label, e.g. `block.start`.
    pub label: String,
}

/// Everything the header of a recording says; unknown keys are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordingHeader {
    /// Stretched side.
    pub side: Option<Side>,
    /// Stretch type.
    pub stretch: Option<StretchType>,
    /// Standing-still window.
    pub calibration_static: Option<TimeWindow>,
    /// Knee-swing window.
    pub calibration_functional: Option<TimeWindow>,
    /// Hip-hinge window (pelvis sensor).
    pub pelvis_calibration_functional: Option<TimeWindow>,
    /// Markers in file order.
    pub markers: Vec<Marker>,
    /// Nominal sample rate per sensor.
    pub rate_hz: Option<f64>,
    /// `sensor.<role>.model` entries.
    pub sensor_models: Vec<(SensorRole, String)>,
    /// Unknown keys, kept verbatim.
    pub extra: Vec<(String, String)>,
    /// The calibration-window and `marker` entries in the order they were applied (the header's
    /// own fields keep only the last calibration pair; a session of several blocks needs them all).
    pub plan_entries: Vec<(String, String)>,
}

impl RecordingHeader {
    /// Applies one `key: value` pair; returns a message describing what was expected on failure.
    pub fn apply(&mut self, key: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        let plan = matches!(
            key,
            "calibration.static"
                | "calibration.functional"
                | "pelvis_calibration.functional"
                | "marker"
        );
        match key {
            "side" => self.side = Some(value.parse()?),
            "stretch" => self.stretch = Some(value.parse()?),
            "calibration.static" => self.calibration_static = Some(parse_window(value)?),
            "calibration.functional" => self.calibration_functional = Some(parse_window(value)?),
            "pelvis_calibration.functional" => {
                self.pelvis_calibration_functional = Some(parse_window(value)?)
            }
            "marker" => {
                let (t, label) = value
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| format!("expected 'TIME LABEL' for marker, found '{value}'"))?;
                let t_s = parse_time(t)?;
                self.markers.push(Marker {
                    t_s,
                    label: label.trim().to_string(),
                });
            }
            "rate_hz" => self.rate_hz = Some(parse_rate_hz(value)?),
            k => match k
                .strip_prefix("sensor.")
                .and_then(|r| r.strip_suffix(".model"))
            {
                // `sensor.model` itself has no role between the dots: an unknown key.
                Some(role_name) if !role_name.is_empty() => {
                    let role: SensorRole = role_name.parse()?;
                    self.sensor_models.push((role, value.to_string()));
                }
                _ => self.extra.push((key.to_string(), value.to_string())),
            },
        }
        if plan {
            self.plan_entries.push((key.to_string(), value.to_string()));
        }
        Ok(())
    }

    /// Header lines (without the format line) in the order a writer emits them.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = self.side {
            out.push(format!("side: {}", s.as_str()));
        }
        if let Some(s) = self.stretch {
            out.push(format!("stretch: {}", s.as_str()));
        }
        if let Some(r) = self.rate_hz {
            out.push(format!("rate_hz: {r}"));
        }
        if !self.plan_entries.is_empty() {
            // Repeated calibration pairs and block markers, in their order.
            for (role, model) in &self.sensor_models {
                out.push(format!("sensor.{role}.model: {model}"));
            }
            out.extend(self.plan_entries.iter().map(|(k, v)| format!("{k}: {v}")));
            for (k, v) in &self.extra {
                out.push(format!("{k}: {v}"));
            }
            return out;
        }
        let windows = [
            ("calibration.static", self.calibration_static),
            ("calibration.functional", self.calibration_functional),
            (
                "pelvis_calibration.functional",
                self.pelvis_calibration_functional,
            ),
        ];
        for (k, w) in windows {
            if let Some(w) = w {
                out.push(format!("{k}: {} {}", w.start_s, w.end_s));
            }
        }
        for (role, model) in &self.sensor_models {
            out.push(format!("sensor.{role}.model: {model}"));
        }
        for m in &self.markers {
            out.push(format!("marker: {} {}", m.t_s, m.label));
        }
        for (k, v) in &self.extra {
            out.push(format!("{k}: {v}"));
        }
        out
    }

    /// The exercise block: between `block.start`/`block.end` markers, else after the last calibration window.
    pub fn block_window(&self) -> TimeWindow {
        let start = self
            .markers
            .iter()
            .find(|m| m.label == "block.start")
            .map(|m| m.t_s);
        let end = self
            .markers
            .iter()
            .find(|m| m.label == "block.end")
            .map(|m| m.t_s);
        let after_cal = [
            self.calibration_static,
            self.calibration_functional,
            self.pelvis_calibration_functional,
        ]
        .iter()
        .flatten()
        .map(|w| w.end_s)
        .fold(0.0_f64, f64::max);
        TimeWindow {
            start_s: start.unwrap_or(after_cal),
            end_s: end.unwrap_or(f64::INFINITY),
        }
    }
}

fn parse_f64(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("expected a number, found '{}'", s.trim()))
}

/// A recording time, seconds: finite and within the plausible span of a recording.
fn parse_time(s: &str) -> Result<f64, String> {
    let t = parse_f64(s)?;
    if t.abs() > limits::MAX_TIME_S {
        return Err(format!(
            "expected a time within ±{:.0e} s, found '{}'",
            limits::MAX_TIME_S,
            s.trim()
        ));
    }
    Ok(t)
}

/// A nominal sample rate within the range the supported sensor families stream at.
pub(crate) fn parse_rate_hz(s: &str) -> Result<f64, String> {
    let r = parse_f64(s)?;
    if !limits::RATE_HZ.contains(&r) {
        return Err(format!(
            "expected a sample rate of {} to {} Hz (the supported sensors stream at 10 to 1666 Hz), found '{}'",
            limits::RATE_HZ.start(),
            limits::RATE_HZ.end(),
            s.trim()
        ));
    }
    Ok(r)
}

fn parse_window(value: &str) -> Result<TimeWindow, String> {
    let mut it = value.split_whitespace();
    let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
        return Err(format!("expected 'START END' in seconds, found '{value}'"));
    };
    let (start_s, end_s) = (parse_time(a)?, parse_time(b)?);
    if end_s <= start_s {
        return Err(format!(
            "expected the window's end after its start, found {} to {}",
            limits::show(start_s),
            limits::show(end_s)
        ));
    }
    Ok(TimeWindow { start_s, end_s })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_keys_and_keeps_unknown() {
        let mut h = RecordingHeader::default();
        h.apply("side", "right").unwrap();
        h.apply("stretch", "seated").unwrap();
        h.apply("calibration.static", "0.0 5.0").unwrap();
        h.apply("marker", "40.0 block.start").unwrap();
        h.apply("sensor.thigh.model", "WT901BLECL").unwrap();
        h.apply("operator", "anna").unwrap();
        assert_eq!(h.side, Some(Side::Right));
        assert_eq!(h.stretch, Some(StretchType::Seated));
        assert_eq!(h.calibration_static.unwrap().end_s, 5.0);
        assert_eq!(h.markers[0].label, "block.start");
        assert_eq!(h.block_window().start_s, 40.0);
        assert_eq!(h.extra, vec![("operator".into(), "anna".into())]);
        assert!(h.apply("calibration.functional", "6 x").is_err());
        assert!(h.apply("side", "middle").is_err());
    }

    #[test]
    fn block_defaults_to_after_last_calibration_window() {
        let mut h = RecordingHeader::default();
        h.apply("calibration.static", "0 5").unwrap();
        h.apply("calibration.functional", "6 18").unwrap();
        assert_eq!(h.block_window().start_s, 18.0);
        assert!(h.block_window().end_s.is_infinite());
    }
}
