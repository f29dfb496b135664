//! `live`: BLE sensors or the simulator → the live session (the same session engine as replay)
//! → recordings, events, the database and the terminal view or plain status lines.

use super::InputError;
use anyhow::{Context, Result};
use std::io::IsTerminal;
use std::io::Write;
use std::path::PathBuf;
use stretchwatch::calibration::CalibrationProfile;
use stretchwatch::form::FormConfig;
use stretchwatch::live::run::{LiveReport, RunOptions, run_ble, run_simulated};
use stretchwatch::live::{LiveConfig, LiveError, LiveOutputs};
use stretchwatch::model::{SensorRole, Side, StretchType};
use stretchwatch::protocol::Family;
use stretchwatch::sim;
use stretchwatch::source::ble::Target;
use stretchwatch::source::simulated::{encode_all, sim_devices};

/// Options of `stretchwatch live`.
#[derive(clap::Args)]
pub struct LiveArgs {
    /// Thigh sensor: BLE address or advertised name.
    #[arg(long, value_name = "ID", required_unless_present = "simulate")]
    pub thigh: Option<String>,
    /// Shank sensor: BLE address or advertised name.
    #[arg(long, value_name = "ID", required_unless_present = "simulate")]
    pub shank: Option<String>,
    /// Pelvis sensor (optional): BLE address or advertised name.
    #[arg(long, value_name = "ID")]
    pub pelvis: Option<String>,
    /// Drive the live view from a simulated scenario (S1..S12, `routine` for both legs, or a TOML file) in real time.
    #[arg(long, value_name = "SCENARIO", conflicts_with_all = ["thigh", "shank", "pelvis"])]
    pub simulate: Option<String>,
    /// Sensor family the simulated sensors speak (`open`, `witmotion`, `movesense` or `movella_dot`).
    #[arg(long, default_value = "open")]
    pub sim_family: String,
    /// Start the simulation this many seconds into the scenario.
    #[arg(long, default_value_t = 0.0)]
    pub sim_from: f64,
    /// Play the simulation this many times faster than real time (previews and tests).
    #[arg(long, default_value_t = 1.0)]
    pub sim_speed: f64,
    /// Stretch type (supine, seated, standing).
    #[arg(long, default_value = "supine")]
    pub stretch: String,
    /// Stretched side (left, right).
    #[arg(long, default_value = "left")]
    pub side: String,
    /// Saved calibration profile (skips the guided calibration).
    #[arg(long, value_name = "PROFILE")]
    pub calibration: Option<PathBuf>,
    /// Output rate requested from the sensors, Hz (default: the family's).
    #[arg(long)]
    pub rate: Option<u32>,
    /// Recording prefix: writes PREFIX.raw.jsonl and PREFIX.imu.csv (default: session-UNIXTIME).
    #[arg(long, value_name = "PREFIX")]
    pub record: Option<PathBuf>,
    /// Do not record.
    #[arg(long, conflicts_with = "record")]
    pub no_record: bool,
    /// Do not store the session in the database (by default it is stored as it goes).
    #[arg(long)]
    pub no_store: bool,
    /// Also write the angles CSV (time, knee, hip, leg raise, phase).
    #[arg(long, value_name = "OUT.csv")]
    pub angles_out: Option<PathBuf>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Plain status lines on stderr instead of the terminal view (automatic when not a terminal).
    #[arg(long)]
    pub no_tui: bool,
    /// No terminal bell.
    #[arg(long)]
    pub no_bell: bool,
    /// Write the session figures (throughput, latency, gaps, reconnects) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Write the form events (one JSON object per line, as `replay --json`) here.
    #[arg(long, value_name = "FILE")]
    pub events_out: Option<PathBuf>,
    /// Excessive-range baseline B in degrees (with the 10° delta).
    #[arg(long)]
    pub baseline_deg: Option<f64>,
}

/// `stretchwatch live`.
pub fn cmd_live(args: LiveArgs, db: Option<PathBuf>) -> Result<()> {
    let LiveArgs {
        thigh,
        shank,
        pelvis,
        simulate,
        sim_family,
        sim_from,
        sim_speed,
        stretch,
        side,
        calibration,
        rate,
        record,
        no_record,
        no_store,
        angles_out,
        duration,
        no_tui,
        no_bell,
        summary_json,
        events_out,
        baseline_deg,
    } = args;
    let stretch: StretchType = stretch
        .parse()
        .map_err(|e: String| InputError(format!("--stretch: {e}")))?;
    let side: Side = side
        .parse()
        .map_err(|e: String| InputError(format!("--side: {e}")))?;
    let profile = match &calibration {
        Some(p) => Some(CalibrationProfile::load(p).map_err(|e| InputError(e.to_string()))?),
        None => None,
    };
    let session_db = if no_store {
        None
    } else {
        Some(match &db {
            Some(p) => p.clone(),
            None => stretchwatch::store::default_path()?,
        })
    };
    let outputs = if no_record {
        LiveOutputs {
            angles_csv: angles_out,
            events_jsonl: events_out,
            session_db,
            ..Default::default()
        }
    } else {
        let prefix = record.unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            PathBuf::from(format!("session-{t}"))
        });
        let with = |ext: &str| {
            let mut s = prefix.clone().into_os_string();
            s.push(ext);
            PathBuf::from(s)
        };
        LiveOutputs {
            raw_log: Some(with(".raw.jsonl")),
            imu_csv: Some(with(".imu.csv")),
            angles_csv: angles_out,
            events_jsonl: events_out,
            session_db,
        }
    };
    let tui = !no_tui && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let opts = RunOptions {
        duration: duration.map(std::time::Duration::from_secs_f64),
        tui,
        bell: !no_bell,
        sim_speed,
        ..Default::default()
    };
    if !(0.1..=100.0).contains(&sim_speed) {
        return Err(InputError(format!(
            "--sim-speed {sim_speed} is out of range (0.1 to 100)"
        ))
        .into());
    }
    // The range baseline: --baseline-deg, else each side's and stretch's stored history,
    // read whether or not this session is stored (never creating a database).
    let form = FormConfig::default();
    let mut baselines = stretchwatch::session::Baselines::default();
    if let Some(b) = baseline_deg {
        baselines.explicit = Some(stretchwatch::form::Baseline::explicit(b, &form.excessive));
    } else {
        let history_db = match &db {
            Some(p) => Some(p.clone()),
            None => stretchwatch::store::default_path().ok(),
        };
        if let Some(p) = history_db.filter(|p| p.exists()) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            crate::review::history_baselines(&p, now, &mut baselines)?;
        }
    }
    let cfg = LiveConfig {
        devices: Vec::new(),
        stretch,
        side,
        profile,
        params: Default::default(),
        form,
        baselines,
    };
    let report = match simulate {
        Some(name) => cmd_live_sim(cfg, &name, &sim_family, sim_from, rate, &outputs, &opts)?,
        None => {
            let mut targets = vec![
                Target {
                    role: SensorRole::Thigh,
                    query: thigh.unwrap_or_default(),
                },
                Target {
                    role: SensorRole::Shank,
                    query: shank.unwrap_or_default(),
                },
            ];
            if let Some(p) = pelvis {
                targets.push(Target {
                    role: SensorRole::Pelvis,
                    query: p,
                });
            }
            run_ble(cfg, &targets, rate, &outputs, &opts).map_err(live_err)?
        }
    };
    // The same ending as replay: the session summary and the safety text.
    {
        let mut o = std::io::stdout().lock();
        if !report.view.summary.is_empty() {
            writeln!(o, "session")?;
            for line in &report.view.summary {
                writeln!(o, "  {line}")?;
            }
            writeln!(o)?;
        }
        for note in stretchwatch::form::wording::SAFETY_NOTES {
            writeln!(o, "{note}")?;
        }
    }
    print_live_report(&report, &outputs);
    if let Some(p) = summary_json {
        std::fs::write(&p, report.to_json() + "\n")
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}

fn live_err(e: LiveError) -> anyhow::Error {
    match e {
        LiveError::Invalid(m) => InputError(m).into(),
        other => other.into(),
    }
}

fn cmd_live_sim(
    mut cfg: LiveConfig,
    name: &str,
    family: &str,
    from_s: f64,
    rate: Option<u32>,
    outputs: &LiveOutputs,
    opts: &RunOptions,
) -> Result<LiveReport> {
    let scn = sim::Simulation::resolve(name).map_err(|e| InputError(e.to_string()))?;
    let family: Family = family
        .parse()
        .map_err(|e: stretchwatch::protocol::ProtocolError| InputError(e.to_string()))?;
    // Each family at its usual rate unless --rate says otherwise.
    let rate = rate.unwrap_or(family.default_rate_hz());
    let out = scn.run(&sim::SimOptions::new(
        f64::from(rate),
        sim::Variant::Realistic,
        42,
    ));
    if cfg.profile.is_none() && from_s > 0.0 {
        // Starting past the calibration poses: calibrate on the scenario's own windows.
        let mut c = stretchwatch::calibration::Calibrator::with_sensor_rates(
            &out.header,
            [f64::from(rate); 3],
        )?;
        let end = c.end_s();
        out.samples
            .iter()
            .filter(|s| s.t_s <= end)
            .for_each(|s| c.push(s));
        cfg.profile = Some(c.finish()?);
    }
    cfg.stretch = out.header.stretch.unwrap_or(cfg.stretch);
    cfg.side = out.header.side.unwrap_or(cfg.side);
    let mut roles = vec![SensorRole::Thigh, SensorRole::Shank];
    if scn.pelvis_sensor() {
        roles.push(SensorRole::Pelvis);
    }
    let devices = sim_devices(&roles, family, rate).map_err(|e| InputError(e.to_string()))?;
    cfg.devices = devices.iter().map(|d| d.device.clone()).collect();
    let notes = encode_all(&out.samples, &devices, 1, from_s, f64::INFINITY)?;
    let source = format!("simulated {}", scn.name());
    run_simulated(cfg, outputs, &source, &devices, notes, from_s, opts).map_err(live_err)
}

fn print_live_report(r: &LiveReport, outputs: &LiveOutputs) {
    eprintln!(
        "stretchwatch: {} frames, {:.0} notifications/s, latency p50 {:.2} ms p99 {:.2} ms (n={})",
        r.figures.frames,
        r.notifications_per_s(),
        r.latency.p50_ms,
        r.latency.p99_ms,
        r.latency.n
    );
    for (role, s) in &r.sensors {
        eprintln!(
            "stretchwatch: {role}: {} samples, {} lost in {} gaps, {} reconnects",
            s.samples, s.missing, s.gaps, s.reconnects
        );
    }
    for (role, t) in &r.figures.reconnect_s {
        eprintln!("stretchwatch: {role} streamed again {t:.2} s after the drop");
    }
    for p in [&outputs.raw_log, &outputs.imu_csv, &outputs.angles_csv]
        .into_iter()
        .flatten()
    {
        eprintln!("stretchwatch: wrote {}", p.display());
    }
    if let (Some(id), Some(db)) = (r.figures.stored_session_id, &outputs.session_db) {
        eprintln!("stretchwatch: stored session {id} in {}", db.display());
    }
}
