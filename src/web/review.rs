//! The review data behind the review pages, read from the session store: the session list, one
//! session (reps, events in plain words, blocks, the angle trace), progress per side and stretch
//! with the measurement-noise band, left against right, goals, and the downloads (the same
//! files as `stretchwatch export`). JSON is built here, at the edge; the figures are the
//! store's and the engine's.

use super::WebError;
use crate::model::{Side, StretchType};
use crate::store::{self, SessionFilter, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Changes smaller than this between sessions may be measurement noise (form-spec 6.2).
pub const NOISE_DEG: f64 = 8.0;

/// At most this many points of the angle trace are sent (the page zooms into them).
pub const TRACE_POINTS: usize = 6000;

/// Opens the store read-side; a database that does not exist is not created.
pub fn open(db: &Path) -> Result<Option<Store>, WebError> {
    if !db.exists() {
        return Ok(None);
    }
    Store::open(db).map(Some).map_err(WebError::from)
}

fn warning_count(events: &[store::EventRecord]) -> (u32, u32) {
    let (mut warnings, mut advisories) = (0, 0);
    for e in events {
        let Ok(v) = serde_json::from_str::<Value>(&e.json) else {
            continue;
        };
        if v["state"] == "on" {
            match v["severity"].as_str() {
                Some("WARNING") | Some("warning") => warnings += 1,
                Some("ADVISORY") | Some("advisory") => advisories += 1,
                _ => {}
            }
        }
    }
    (warnings, advisories)
}

/// Sides and stretches of the blocks of a session (the session's own when it marks none).
fn blocks_of(row: &store::SessionRow, events: &[store::EventRecord]) -> (Vec<String>, Vec<String>) {
    let mut sides = Vec::new();
    let mut stretches = Vec::new();
    for e in events.iter().filter(|e| e.event == "block") {
        if let Ok(v) = serde_json::from_str::<Value>(&e.json) {
            if let Some(s) = v["side"].as_str()
                && !sides.iter().any(|x| x == s)
            {
                sides.push(s.to_string());
            }
            if let Some(s) = v["stretch"].as_str()
                && !stretches.iter().any(|x| x == s)
            {
                stretches.push(s.to_string());
            }
        }
    }
    if sides.is_empty() {
        sides.push(row.side.as_str().to_string());
    }
    if stretches.is_empty() {
        stretches.push(row.stretch.as_str().to_string());
    }
    (sides, stretches)
}

fn row_json(st: &Store, row: &store::SessionRow) -> Result<Value, WebError> {
    let events = st.events(row.id)?;
    let (warnings, advisories) = warning_count(&events);
    let (sides, stretches) = blocks_of(row, &events);
    let profile = st.calibration(row.id)?;
    let quality = profile.as_ref().map(|p| p.quality.score);
    let caveat = profile
        .as_ref()
        .and_then(crate::calibration::accuracy_caveat_short);
    let s = row.summary;
    Ok(json!({
        "id": row.id,
        "started_unix_s": row.started_unix_s,
        "date": store::format_utc(row.started_unix_s),
        "sides": sides,
        "stretches": stretches,
        "source": row.source,
        "finished": row.finished,
        "reps": s.map(|s| s.reps),
        "static_hold_s": s.map(|s| s.total_static_hold_s),
        "stretch_angle_deg": s.and_then(|s| s.session_value_deg),
        "warnings": warnings,
        "advisories": advisories,
        "calibration_quality": quality,
        "calibration_caveat": caveat,
        "duration_s": row.t_span_s.map(|(a, b)| b - a),
    }))
}

/// The session list, newest first.
pub fn sessions(db: &Path) -> Result<Value, WebError> {
    let Some(st) = open(db)? else {
        return Ok(json!({"db": db.display().to_string(), "exists": false, "sessions": []}));
    };
    let mut rows = st.list_sessions(&SessionFilter::default())?;
    rows.reverse();
    let list = rows
        .iter()
        .map(|r| row_json(&st, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"db": db.display().to_string(), "exists": true, "sessions": list}))
}

/// One session: figures, reps, the readable timeline, and the trace.
pub fn session(db: &Path, id: i64) -> Result<Value, WebError> {
    let st = open(db)?.ok_or(WebError::NotFound)?;
    let row = st.session(id).map_err(|_| WebError::NotFound)?;
    let head = row_json(&st, &row)?;
    let reps: Vec<Value> = st
        .reps(id)?
        .iter()
        .map(|r| {
            json!({"rep": r.rep, "t_s": r.t_s, "static_hold_s": r.static_hold_s,
            "positional_hold_s": r.positional_hold_s, "hold_angle_deg": r.hold_angle_deg,
            "peak_angle_deg": r.peak_angle_deg, "knee_mean_deg": r.knee_mean_deg})
        })
        .collect();
    let events: Vec<Value> = st
        .events(id)?
        .iter()
        .filter(|e| e.event != "summary")
        .filter_map(|e| {
            let v: Value = serde_json::from_str(&e.json).ok()?;
            let text = crate::report::events::describe_stored(&v)?;
            Some(json!({
                "t_s": e.t_s, "name": e.event, "text": text,
                "severity": v["severity"].as_str().map(str::to_ascii_lowercase),
                "state": v["state"], "phase": v["phase"], "onset_s": v["onset_s"],
            }))
        })
        .collect();
    let angles = st.angles(id)?;
    let step = angles.len().div_ceil(TRACE_POINTS).max(1);
    let pick = angles.iter().step_by(step);
    let trace = json!({
        "t_s": pick.clone().map(|a| a.t_s).collect::<Vec<_>>(),
        "primary_deg": pick.clone().map(|a| a.hip_flexion_deg.or(a.leg_raise_deg)).collect::<Vec<_>>(),
        "knee_deg": pick.clone().map(|a| a.knee_flexion_deg).collect::<Vec<_>>(),
        "gap": pick.map(|a| a.gap).collect::<Vec<_>>(),
    });
    Ok(json!({"session": head, "reps": reps, "events": events, "trace": trace}))
}

/// Goals the person sets (shown on the live and review pages).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goals {
    /// Static hold per rep, seconds.
    pub hold_per_rep_s: f64,
    /// Static hold per side and session, seconds.
    pub dose_per_side_s: f64,
    /// Stretch angle aimed at, degrees (`None`: none set).
    pub target_angle_deg: Option<f64>,
}

impl Default for Goals {
    fn default() -> Self {
        Goals {
            hold_per_rep_s: 30.0,
            dose_per_side_s: 60.0,
            target_angle_deg: None,
        }
    }
}

impl Goals {
    /// Checks the ranges a person could mean.
    pub fn validate(&self) -> Result<(), WebError> {
        let bad = |m: &str| Err(WebError::BadRequest(m.to_string()));
        if !(5.0..=300.0).contains(&self.hold_per_rep_s) {
            return bad("hold per rep must be 5 to 300 seconds");
        }
        if !(10.0..=1800.0).contains(&self.dose_per_side_s) {
            return bad("dose per side must be 10 to 1800 seconds");
        }
        if self
            .target_angle_deg
            .is_some_and(|a| !(0.0..=150.0).contains(&a))
        {
            return bad("target angle must be 0 to 150 degrees");
        }
        Ok(())
    }
}

/// Where the goals are kept: next to the database.
pub fn goals_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".goals.json");
    PathBuf::from(s)
}

/// The goals set, or the defaults (form-spec: 30 s hold, 60 s per side).
pub fn goals(db: &Path) -> Goals {
    std::fs::read_to_string(goals_path(db))
        .ok()
        .and_then(|t| serde_json::from_str::<Goals>(&t).ok())
        .filter(|g| g.validate().is_ok())
        .unwrap_or_default()
}

/// Saves validated goals.
pub fn save_goals(db: &Path, g: &Goals) -> Result<(), WebError> {
    g.validate()?;
    let p = goals_path(db);
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| WebError::Io {
            path: p.clone(),
            source: e,
        })?;
    }
    let text = serde_json::to_string_pretty(g).map_err(|e| WebError::BadRequest(e.to_string()))?;
    std::fs::write(&p, text).map_err(|e| WebError::Io { path: p, source: e })
}

/// The plain sentence about one side's progress: change from the first to the last of the
/// recent sessions, and whether it is beyond measurement noise.
pub fn progress_sentence(side: Side, pts: &[(f64, f64)]) -> String {
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return format!("{}: no sessions yet", side.as_str());
    };
    if pts.len() < 2 {
        return format!("{}: one session so far ({:.0}°)", side.as_str(), first.1);
    }
    let d = (last.1 - first.1).round();
    let days = last.0 - first.0;
    let span = if days >= 13.5 {
        format!("{:.0} weeks", days / 7.0)
    } else if days >= 1.5 {
        format!("{days:.0} days")
    } else {
        "one day".into()
    };
    let noise = if d.abs() > NOISE_DEG {
        "beyond measurement noise"
    } else {
        "within measurement noise"
    };
    if d == 0.0 {
        return format!(
            "{} unchanged over {span}, within measurement noise",
            side.as_str()
        );
    }
    format!("{} {d:+.0}° in {span}, {noise}", side.as_str())
}

/// Progress per stretch and side (session values over time), left against right, the noise
/// band and the goals.
pub fn progress(db: &Path) -> Result<Value, WebError> {
    let goals = goals(db);
    let Some(st) = open(db)? else {
        return Ok(json!({"stretches": [], "noise_deg": NOISE_DEG, "goals": goals}));
    };
    let mut out = Vec::new();
    for stretch in [
        StretchType::Supine,
        StretchType::Seated,
        StretchType::Standing,
    ] {
        let pts = st.session_points(stretch)?;
        if pts.is_empty() {
            continue;
        }
        let mut sides = serde_json::Map::new();
        let mut sentences = Vec::new();
        for side in [Side::Left, Side::Right] {
            let xy: Vec<(f64, f64)> = pts
                .iter()
                .filter(|p| p.side == side)
                .map(|p| (p.t_days, p.value_deg))
                .collect();
            if !xy.is_empty() {
                sentences.push(progress_sentence(side, &xy));
            }
            sides.insert(
                side.as_str().into(),
                json!(
                    xy.iter()
                        .zip(pts.iter().filter(|p| p.side == side))
                        .map(
                            |(&(t, v), p)| json!({"t_days": t, "value_deg": v, "id": p.id,
                            "date": store::format_date_utc(t * 86_400.0)})
                        )
                        .collect::<Vec<_>>()
                ),
            );
        }
        // Left against right: sessions on the same day.
        let pairs: Vec<Value> = store::history::pairs(&pts, st.history_config())
            .iter()
            .map(|p| {
                json!({"t_days": p.t_days, "left_deg": p.left_deg, "right_deg": p.right_deg,
                "date": store::format_date_utc(p.t_days * 86_400.0)})
            })
            .collect();
        out.push(json!({"stretch": stretch.as_str(), "sides": sides, "sentences": sentences, "pairs": pairs}));
    }
    Ok(json!({"stretches": out, "noise_deg": NOISE_DEG, "goals": goals}))
}

/// A download: the file name and its bytes (`kind`: `samples`, `angles`, `reps`, `events` CSV,
/// or `sto` for OpenSim).
pub fn download(db: &Path, id: i64, kind: &str) -> Result<(String, Vec<u8>), WebError> {
    let st = open(db)?.ok_or(WebError::NotFound)?;
    st.session(id).map_err(|_| WebError::NotFound)?;
    let dir = tempdir()?;
    let result = (|| {
        let name = match kind {
            "sto" => {
                let p = dir.join("session.sto");
                crate::report::export::export_sto(&st, id, &p)?;
                p
            }
            "samples" | "angles" | "reps" | "events" => {
                let files = crate::report::export::export_csv(&st, id, &dir.join("session"))?;
                files
                    .into_iter()
                    .find(|f| f.to_string_lossy().ends_with(&format!(".{kind}.csv")))
                    .ok_or(WebError::NotFound)?
            }
            _ => return Err(WebError::NotFound),
        };
        let bytes = std::fs::read(&name).map_err(|e| WebError::Io {
            path: name.clone(),
            source: e,
        })?;
        let ext = if kind == "sto" {
            "sto".to_string()
        } else {
            format!("{kind}.csv")
        };
        Ok((format!("stretchwatch-session-{id}.{ext}"), bytes))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempdir() -> Result<PathBuf, WebError> {
    let mut rng = rand::rng();
    let n: u64 = rand::RngExt::random(&mut rng);
    let d = std::env::temp_dir().join(format!("stretchwatch-export-{n:016x}"));
    std::fs::create_dir(&d).map_err(|e| WebError::Io {
        path: d.clone(),
        source: e,
    })?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_sentence_says_change_span_and_noise_in_plain_words() {
        let pts = [(0.0, 60.0), (14.0, 66.0), (28.0, 72.4)];
        assert_eq!(
            progress_sentence(Side::Left, &pts),
            "left +12° in 4 weeks, beyond measurement noise"
        );
        assert_eq!(
            progress_sentence(Side::Right, &[(0.0, 70.0), (3.0, 74.0)]),
            "right +4° in 3 days, within measurement noise"
        );
        assert_eq!(
            progress_sentence(Side::Left, &[(0.0, 70.0), (12.0, 69.9)]),
            "left unchanged over 12 days, within measurement noise"
        );
    }

    #[test]
    fn goals_out_of_range_are_refused() {
        let mut g = Goals::default();
        assert!(g.validate().is_ok());
        g.hold_per_rep_s = 0.5;
        assert!(g.validate().is_err());
        g = Goals {
            target_angle_deg: Some(400.0),
            ..Goals::default()
        };
        assert!(g.validate().is_err());
    }
}
