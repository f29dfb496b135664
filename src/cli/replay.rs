//! `replay`, `import` and `calibrate`: a recording file (IMU CSV or raw log) → the session →
//! sinks (angles CSV, JSON events or the timeline on stdout, the session database).

use super::{InputError, review};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use stretchwatch::calibration::CalibrationProfile;
use stretchwatch::form::{Baseline, FormConfig, WarmupStatus, wording};
use stretchwatch::model::SensorRole;
use stretchwatch::record::RecordingHeader;
use stretchwatch::replay::{ReplayOptions, calibrate_file, load_profile};
use stretchwatch::session::sinks::{AnglesCsvSink, JsonEventsSink, TimelineSink};
use stretchwatch::session::source::{FileReport, RecordingFile};
use stretchwatch::session::{Fanout, Session, SessionError, SessionReport, event};
use stretchwatch::store::{SensorInfo, StoreSink};

/// What `replay` prints besides JSON: the timeline and summary (`replay`) or only what was
/// stored (`import`).
#[derive(Clone, Copy, PartialEq)]
pub enum Output {
    /// Timeline and summary.
    Timeline,
    /// Only the stored session's line.
    Quiet,
}

/// Options of `stretchwatch replay` (and `import`).
pub struct ReplayArgs {
    /// `--angles-out`.
    pub angles_out: Option<PathBuf>,
    /// `--calibration`.
    pub calibration: Option<PathBuf>,
    /// `--skip-bad-rows`.
    pub skip_bad_rows: bool,
    /// `--json`.
    pub json: bool,
    /// `--baseline-deg`.
    pub baseline_deg: Option<f64>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--warmup-status`.
    pub warmup_status: Option<String>,
    /// `--save` (or `import`).
    pub save: Option<review::SaveTo>,
    /// `--db`.
    pub db: Option<PathBuf>,
}

/// Session errors: a sink that could not write is an output problem (status 1); everything else
/// is about the input file (status 2).
pub fn session_err(e: SessionError) -> anyhow::Error {
    match e {
        SessionError::Sink(s) => anyhow::Error::new(s),
        other => InputError(other.to_string()).into(),
    }
}

/// The form configuration: `--config`, the warm-up answer, the baseline range check.
pub fn load_form_config(
    config: Option<&Path>,
    warmup_status: Option<&str>,
    baseline_deg: Option<f64>,
    header: &RecordingHeader,
    file: &Path,
) -> Result<FormConfig> {
    let mut cfg = match config {
        Some(p) => FormConfig::load(p).map_err(|e| InputError(e.to_string()))?,
        None => FormConfig::default(),
    };
    // The header may carry the user's answer; the command line wins.
    let header_status = header
        .extra
        .iter()
        .find(|(k, _)| k == "warmup_status")
        .map(|(_, v)| v.clone());
    // Name where a bad value came from: the flag, or the recording's header.
    if let Some(s) = warmup_status {
        cfg.warmup.status = s
            .parse::<WarmupStatus>()
            .map_err(|e| InputError(format!("--warmup-status: {e}")))?;
    } else if let Some(s) = header_status.as_deref() {
        cfg.warmup.status = s.parse::<WarmupStatus>().map_err(|e| {
            InputError(format!(
                "{}: header key 'warmup_status': {e}",
                file.display()
            ))
        })?;
    }
    if let Some(b) = baseline_deg
        && !(b.is_finite() && (0.0..=180.0).contains(&b))
    {
        return Err(InputError(format!("--baseline-deg {b} is out of range (0 to 180)")).into());
    }
    Ok(cfg)
}

/// `replay FILE` and `import FILE`.
pub fn cmd_replay(file: &Path, args: &ReplayArgs, output: Output) -> Result<()> {
    let quiet = output == Output::Quiet;
    let rec = RecordingFile::open(file, args.skip_bad_rows)
        .map_err(|e| session_err(SessionError::Record(e)))?;
    let form = load_form_config(
        args.config.as_deref(),
        args.warmup_status.as_deref(),
        args.baseline_deg,
        &rec.header,
        file,
    )?;
    let mut cfg = rec.session_config(&form.excessive);
    cfg.form = Some(form);
    cfg.profile = load_profile(&ReplayOptions {
        calibration: args.calibration.clone(),
        ..Default::default()
    })
    .map_err(session_err)?;
    match args.baseline_deg {
        Some(b) => cfg.baselines.explicit = Some(Baseline::explicit(b, &form.excessive)),
        None => review::stored_baselines(args.db.clone(), &rec.header, file, &mut cfg.baselines)?,
    }
    let mut session = Session::new(cfg);
    let mut angles = args
        .angles_out
        .as_deref()
        .map(AnglesCsvSink::create)
        .transpose()?;
    // Everything for stdout is written only once the whole input has been read: an input error
    // found late in a file leaves stdout empty (no partial event stream). Events are few.
    let (mut json, mut timeline) = match (args.json, quiet) {
        (true, _) => (Some(JsonEventsSink::new(Vec::new(), "stdout")), None),
        (false, false) => (None, Some(TimelineSink::new(Vec::new()))),
        (false, true) => (None, None),
    };
    let mut store = match &args.save {
        Some(to) => Some(review::open_for_save(to, &rec)?),
        None => None,
    };
    let save_meta = store
        .as_ref()
        .map(|(st, meta)| (meta.clone(), st.path().to_path_buf()));
    let mut stored = match store.as_mut() {
        Some((st, meta)) => {
            let path = st.path().to_path_buf();
            Some(StoreSink::new(st.begin_session(meta)?, path))
        }
        None => None,
    };
    let result = {
        let mut sinks = Fanout::new();
        sinks.add(&mut angles).add(&mut json).add(&mut timeline);
        sinks.add(&mut stored);
        rec.run(&mut session, &mut sinks)
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            // Best effort: do not leave half a session behind.
            if let Some(id) = stored.as_ref().and_then(|s| s.id()) {
                drop(stored);
                if let Some((st, _)) = store.as_mut() {
                    let _ = st.delete_session(id);
                }
            }
            return Err(session_err(e));
        }
    };
    let stored_line = match (stored.as_mut(), &save_meta) {
        (Some(sink), Some((meta, db_path))) => {
            let samples: usize = report.session.samples.iter().sum();
            if let Some(w) = sink.writer() {
                w.set_rate_hz(report.session.rate_hz)?;
                for role in SensorRole::ALL {
                    if report.session.samples[role.index()] > 0 {
                        w.add_sensor(&sensor_info(&rec.header, role))?;
                    }
                }
            }
            let id = sink.close()?.unwrap_or_default();
            Some(format!(
                "stored session {id} ({} {}, {}, {} frames, {samples} samples) in {}",
                meta.side.as_str(),
                meta.stretch.as_str(),
                stretchwatch::store::format_utc(meta.started_unix_s),
                report.session.frames,
                db_path.display()
            ))
        }
        _ => None,
    };
    if args.skip_bad_rows && report.skipped_rows > 0 {
        eprintln!(
            "stretchwatch: skipped {} malformed rows in {}",
            report.skipped_rows,
            file.display()
        );
    }
    let mut out = std::io::stdout().lock();
    if let Some(t) = timeline.as_mut() {
        let o = t.out();
        writeln!(o)?;
        print_summary(file, &report, o)?;
        if let Some(s) = &report.session.summary {
            writeln!(o, "session")?;
            for line in event::summary_lines(s) {
                writeln!(o, "  {line}")?;
            }
        }
        writeln!(o)?;
        for note in wording::SAFETY_NOTES {
            writeln!(o, "{note}")?;
        }
        out.write_all(o)?;
    }
    if let Some(j) = json.take() {
        out.write_all(&j.into_inner())?;
    }
    if let Some(line) = stored_line {
        // `import` reports on stdout; `replay --save` keeps stdout for the events.
        if quiet {
            writeln!(out, "{line}")?;
        } else {
            eprintln!("{line}");
        }
    }
    out.flush()?;
    Ok(())
}

fn sensor_info(header: &RecordingHeader, role: SensorRole) -> SensorInfo {
    let model = header
        .sensor_models
        .iter()
        .find(|(r, _)| *r == role)
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    let family_key = format!("sensor.{role}.family");
    let family = header
        .extra
        .iter()
        .find(|(k, _)| *k == family_key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    SensorInfo {
        role,
        family,
        model,
    }
}

fn print_summary(file: &Path, r: &FileReport, o: &mut dyn Write) -> Result<()> {
    let h = &r.header;
    let s: &SessionReport = &r.session;
    writeln!(o, "recording   {}", file.display())?;
    writeln!(
        o,
        "stretch     {} ({} side)",
        h.stretch.map(|x| x.as_str()).unwrap_or("supine (assumed)"),
        h.side.map(|x| x.as_str()).unwrap_or("unknown")
    )?;
    writeln!(
        o,
        "duration    {:.1} s ({:.1} to {:.1} s), {} frames at {:.0} Hz",
        s.t_last_s - s.t_first_s,
        s.t_first_s,
        s.t_last_s,
        s.frames,
        s.rate_hz
    )?;
    for role in SensorRole::ALL {
        if let Some(rate) = s.rate_of(role) {
            writeln!(
                o,
                "sensor      {:<6} {:>7} samples, {:.1} Hz",
                role.as_str(),
                s.samples[role.index()],
                rate
            )?;
        }
    }
    if s.implausible_samples > 0 {
        writeln!(
            o,
            "data        {} impossible sensor readings ignored (beyond 50 g or 70 rad/s, or not numbers)",
            s.implausible_samples
        )?;
    }
    if s.gap_frames > 0 {
        writeln!(
            o,
            "gaps        {} frames spanned a gap over 0.2 s",
            s.gap_frames
        )?;
    }
    if let Some(p) = &s.profile {
        writeln!(
            o,
            "calibration {} — quality {:.2} (knee swing range {:.0}°, hinge residual {:.0}%, split-half {:.1}°, thigh axis from {})",
            if s.calibrated_from_recording {
                "from the recording's windows"
            } else {
                "from the saved profile"
            },
            p.quality.score,
            p.quality.knee_rom_deg,
            p.quality.knee_residual * 100.0,
            p.quality.split_half_deg,
            p.quality.thigh_axis_method
        )?;
        if let Some(c) = stretchwatch::calibration::accuracy_caveat(p) {
            writeln!(o, "caution     {c}")?;
        }
        if let Some(t) = s.calibration_refined_at_s {
            writeln!(
                o,
                "calibration refined at {t:.1} s from the session's own movements"
            )?;
        }
        if s.calibrations > 1 {
            writeln!(
                o,
                "            recalibrated {} times during the recording",
                s.calibrations - 1
            )?;
        }
        for (t, why) in &s.failed_calibrations {
            writeln!(
                o,
                "            calibration at {t:.1} s not done ({why}); the previous one went on"
            )?;
        }
    }
    if s.blocks.is_empty() {
        writeln!(o, "block       none (no exercise block in the recording)")?;
    }
    for (i, (side, stretch, w)) in s.blocks.iter().enumerate() {
        let end = if w.end_s.is_finite() {
            format!("{:.1} s", w.end_s)
        } else {
            "end".into()
        };
        if s.blocks.len() == 1 {
            writeln!(o, "block       {:.1} s to {end}", w.start_s)?;
        } else {
            writeln!(
                o,
                "block {:<5} {:.1} s to {end}: {} side, {}",
                i + 1,
                w.start_s,
                side.as_str(),
                stretch.as_str()
            )?;
        }
    }
    let range = |name: &str, r: Option<(f64, f64)>, o: &mut dyn Write| -> std::io::Result<()> {
        match r {
            Some((lo, hi)) => writeln!(o, "{name:<11} {lo:6.1}° to {hi:6.1}°"),
            None => writeln!(o, "{name:<11} unavailable"),
        }
    };
    range("knee", s.knee_range_deg, o)?;
    range("leg raise", s.leg_raise_range_deg, o)?;
    let hip_name = if s.profile.as_ref().is_some_and(|p| p.pelvis.is_some()) {
        "hip"
    } else {
        "hip (proxy)"
    };
    range(hip_name, s.hip_range_deg, o)?;
    Ok(())
}

/// `calibrate FILE`: the profile of the recording's first calibration pair, printed and saved.
pub fn cmd_calibrate(file: &Path, out: Option<PathBuf>, skip_bad_rows: bool) -> Result<()> {
    let profile = calibrate_file(file, skip_bad_rows).map_err(session_err)?;
    let out = out.unwrap_or_else(|| {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        file.with_file_name(format!("{stem}.calibration.toml"))
    });
    print_profile(&profile);
    profile
        .save(&out)
        .with_context(|| format!("cannot save {}", out.display()))?;
    println!("saved       {}", out.display());
    Ok(())
}

fn print_profile(p: &CalibrationProfile) {
    let v = |a: [f64; 3]| format!("[{:+.3} {:+.3} {:+.3}]", a[0], a[1], a[2]);
    println!(
        "calibration accepted — quality {:.2}: knee swing range {:.0}°, hinge residual {:.0}%, split-half axis difference {:.1}°, thigh axis from {}",
        p.quality.score,
        p.quality.knee_rom_deg,
        p.quality.knee_residual * 100.0,
        p.quality.split_half_deg,
        p.quality.thigh_axis_method
    );
    if let Some(c) = stretchwatch::calibration::accuracy_caveat(p) {
        println!("caution     {c}");
    }
    for (name, s) in p.segments() {
        println!(
            "{name:<7} long axis {}  hinge axis {}  gyro bias {:.2} °/s",
            v(s.long_axis),
            v(s.hinge_axis),
            nalgebra::Vector3::from(s.gyro_bias_rad_s)
                .norm()
                .to_degrees()
        );
    }
}
