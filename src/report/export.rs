//! `export ID`: a session as CSV files or as an OpenSim storage file.
//!
//! CSV (`--format csv`) writes four files beside each other:
//! * `<prefix>.samples.csv`: the raw samples as an IMU CSV v1 recording (DESIGN 3.1) with the
//!   session's side, stretch and rate in the header, so it can be replayed;
//! * `<prefix>.angles.csv`: DESIGN 3.4 angles with the phase from the stored `phase` events;
//! * `<prefix>.reps.csv`: `rep,t_s,static_hold_s,positional_hold_s,hold_angle_deg,peak_angle_deg,knee_mean_deg`;
//! * `<prefix>.events.csv`: `t_s,event,json` (the DESIGN 3.3 object, CSV-quoted).
//!
//! STO (`--format sto`): OpenSim's tab-separated storage format (version 1, `inDegrees=yes`) with
//! columns `time`, `knee_angle_<s>`, `hip_flexion_<s>`, `leg_raise_<s>` and `pelvis_tilt`
//! (`<s>` = `l`/`r`), for OpenSense users. Signs follow stretchwatch (DESIGN 3.4): knee flexion
//! positive, which is the opposite of gait2392's `knee_angle` (flexion negative); negate that
//! column for gait2392. A column with no value in the whole session is left out; a value missing
//! inside a column (a stream gap) is `NaN`, as OpenSim expects. Time is recording seconds.

use super::{ReportError, ReportResult};
use crate::model::{JointAngles, Side};
use crate::record::{AnglesCsvWriter, ImuCsvWriter, RecordingHeader};
use crate::store::{AngleFrame, Store};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

fn io(path: &Path) -> impl Fn(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the four CSV files of session `id` as `<prefix>.{samples,angles,reps,events}.csv`;
/// returns their paths.
pub fn export_csv(store: &Store, id: i64, prefix: &Path) -> ReportResult<Vec<PathBuf>> {
    let row = store.session(id)?;
    let name = |kind: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(format!(".{kind}.csv"));
        PathBuf::from(s)
    };
    let samples_path = name("samples");
    let header = RecordingHeader {
        side: Some(row.side),
        stretch: Some(row.stretch),
        rate_hz: row.rate_hz,
        sensor_models: store
            .sensors(id)?
            .into_iter()
            .filter(|s| !s.model.is_empty())
            .map(|s| (s.role, s.model))
            .collect(),
        extra: vec![
            ("session_id".into(), id.to_string()),
            (
                "started".into(),
                crate::store::format_utc(row.started_unix_s).replace(' ', "T") + "Z",
            ),
        ],
        ..Default::default()
    };
    {
        let mut w = ImuCsvWriter::create(&samples_path, &header).map_err(|e| match e {
            crate::record::RecordError::Io { source, .. } => io(&samples_path)(source),
            other => ReportError::Empty(other.to_string()),
        })?;
        for s in store.samples(id)? {
            w.write(&s).map_err(io(&samples_path))?;
        }
        w.flush().map_err(io(&samples_path))?;
    }

    let events = store.events(id)?;
    let angles_path = name("angles");
    {
        let phases: Vec<(f64, String)> = events
            .iter()
            .filter(|e| e.event == "phase")
            .filter_map(|e| {
                let v: serde_json::Value = serde_json::from_str(&e.json).ok()?;
                Some((
                    v.get("onset_s").and_then(|x| x.as_f64()).unwrap_or(e.t_s),
                    v.get("phase")?.as_str()?.to_string(),
                ))
            })
            .collect();
        let f = File::create(&angles_path).map_err(io(&angles_path))?;
        let mut w = AnglesCsvWriter::new(BufWriter::new(f)).map_err(io(&angles_path))?;
        let mut k = 0;
        for a in exported_angles(store, id)? {
            while k < phases.len() && phases[k].0 <= a.t_s {
                k += 1;
            }
            let phase = k.checked_sub(1).map(|i| phases[i].1.as_str());
            w.write(&to_joint_angles(&a), phase)
                .map_err(io(&angles_path))?;
        }
        w.finish().map_err(io(&angles_path))?;
    }

    let reps_path = name("reps");
    {
        let mut w = BufWriter::new(File::create(&reps_path).map_err(io(&reps_path))?);
        writeln!(
            w,
            "rep,t_s,static_hold_s,positional_hold_s,hold_angle_deg,peak_angle_deg,knee_mean_deg"
        )
        .map_err(io(&reps_path))?;
        let o = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
        for r in store.reps(id)? {
            writeln!(
                w,
                "{},{:.3},{},{},{},{},{}",
                r.rep,
                r.t_s,
                o(r.static_hold_s),
                o(r.positional_hold_s),
                o(r.hold_angle_deg),
                o(r.peak_angle_deg),
                o(r.knee_mean_deg)
            )
            .map_err(io(&reps_path))?;
        }
        w.flush().map_err(io(&reps_path))?;
    }

    let events_path = name("events");
    {
        let mut w = BufWriter::new(File::create(&events_path).map_err(io(&events_path))?);
        writeln!(w, "t_s,event,json").map_err(io(&events_path))?;
        for e in &events {
            writeln!(
                w,
                "{:.6},{},\"{}\"",
                e.t_s,
                e.event,
                e.json.replace('"', "\"\"")
            )
            .map_err(io(&events_path))?;
        }
        w.flush().map_err(io(&events_path))?;
    }
    Ok(vec![samples_path, angles_path, reps_path, events_path])
}

/// Session `id`'s angle frames as exported. Without a pelvis sensor the hip column is the
/// leg-raise proxy, which means hip flexion only when lying on the back: outside the session's
/// supine blocks (standing to calibrate, sitting) it is left empty instead of reading −90°.
fn exported_angles(store: &Store, id: i64) -> ReportResult<Vec<AngleFrame>> {
    let mut angles = store.angles(id)?;
    let blocks = store.blocks(id)?;
    let has_pelvis = angles.iter().any(|a| a.pelvic_tilt_deg.is_some());
    if !has_pelvis && !blocks.is_empty() {
        for a in &mut angles {
            let in_supine_block = blocks.iter().any(|b| {
                b.stretch == crate::model::StretchType::Supine
                    && (b.t_start_s..=b.t_end_s).contains(&a.t_s)
            });
            if !in_supine_block {
                a.hip_flexion_deg = None;
            }
        }
    }
    Ok(angles)
}

fn to_joint_angles(a: &AngleFrame) -> JointAngles {
    JointAngles {
        t_s: a.t_s,
        knee_flexion_deg: a.knee_flexion_deg,
        hip_flexion_deg: a.hip_flexion_deg,
        leg_raise_deg: a.leg_raise_deg,
        pelvic_tilt_deg: a.pelvic_tilt_deg,
        gap: a.gap,
        ..Default::default()
    }
}

/// Writes session `id`'s angles as an OpenSim storage file (see the module docs).
pub fn export_sto(store: &Store, id: i64, path: &Path) -> ReportResult<()> {
    let row = store.session(id)?;
    let angles = exported_angles(store, id)?;
    let s = match row.side {
        Side::Left => "l",
        Side::Right => "r",
    };
    let err = io(path);
    let mut w = BufWriter::new(File::create(path).map_err(&err)?);
    writeln!(w, "stretchwatch_session_{id}").map_err(&err)?;
    writeln!(w, "version=1").map_err(&err)?;
    // A column no frame has a value for (the pelvis tilt without a pelvis sensor, the hip in a
    // seated stretch) is left out rather than written as a column of NaN.
    type Column = (String, fn(&AngleFrame) -> Option<f64>);
    let all: [Column; 4] = [
        (format!("knee_angle_{s}"), |a| a.knee_flexion_deg),
        (format!("hip_flexion_{s}"), |a| a.hip_flexion_deg),
        (format!("leg_raise_{s}"), |a| a.leg_raise_deg),
        ("pelvis_tilt".to_string(), |a| a.pelvic_tilt_deg),
    ];
    let columns: Vec<&Column> = all
        .iter()
        .filter(|(_, get)| angles.iter().any(|a| get(a).is_some_and(f64::is_finite)))
        .collect();
    writeln!(w, "nRows={}", angles.len()).map_err(&err)?;
    writeln!(w, "nColumns={}", columns.len() + 1).map_err(&err)?;
    writeln!(w, "inDegrees=yes").map_err(&err)?;
    writeln!(w, "endheader").map_err(&err)?;
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    writeln!(w, "time\t{}", names.join("\t")).map_err(&err)?;
    for a in &angles {
        write!(w, "{:.5}", a.t_s).map_err(&err)?;
        for (_, get) in &columns {
            // OpenSim's marker for a missing value inside a column (a stream gap).
            match get(a).filter(|x| x.is_finite()) {
                Some(x) => write!(w, "\t{x:.4}"),
                None => write!(w, "\tNaN"),
            }
            .map_err(&err)?;
        }
        writeln!(w).map_err(&err)?;
    }
    w.flush().map_err(&err)
}
