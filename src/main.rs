//! The `stretchwatch` command line: a thin layer over the library.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use stretchwatch::calibration::CalibrationProfile;
use stretchwatch::form::{Event, FormConfig, FormContext, FormEngine, WarmupStatus, wording};
use stretchwatch::live::run::{LiveReport, RunOptions, run_ble, run_simulated};
use stretchwatch::live::{LiveConfig, LiveError, LiveOutputs};
use stretchwatch::model::SensorRole;
use stretchwatch::model::{Side, StretchType};
use stretchwatch::protocol::Family;
use stretchwatch::record::AnglesCsvWriter;
use stretchwatch::record::RecordingHeader;
use stretchwatch::replay::{
    ReplayError, ReplayOptions, ReplaySummary, calibrate_file, replay_file,
};
use stretchwatch::sim;
use stretchwatch::source::ble::{Target, open_adapter, scan};
use stretchwatch::source::simulated::{encode_all, sim_devices};

/// Hamstring-stretch monitor for thigh, shank and pelvis IMUs. Not a medical device.
#[derive(Parser)]
#[command(name = "stretchwatch", version, about, long_about = None)]
struct Cli {
    /// Session database (default: stretchwatch.db in the platform data directory).
    #[arg(long, global = true, value_name = "PATH", env = "STRETCHWATCH_DB")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run a recording (IMU CSV v1) through the pipeline: angles, summary.
    Replay {
        /// Recording file.
        file: PathBuf,
        /// Write one row of angles per output frame to this CSV (DESIGN 3.4).
        #[arg(long, value_name = "OUT.csv")]
        angles_out: Option<PathBuf>,
        /// Use a saved calibration profile instead of the recording's calibration windows.
        #[arg(long, value_name = "PROFILE")]
        calibration: Option<PathBuf>,
        /// Skip malformed rows (and report how many) instead of stopping at the first.
        #[arg(long)]
        skip_bad_rows: bool,
        /// Print form events as JSON Lines on stdout (DESIGN 3.3) instead of the timeline.
        #[arg(long)]
        json: bool,
        /// Excessive-range baseline B in degrees (Δ = excessive.delta_deg) for this run.
        #[arg(long, value_name = "DEG")]
        baseline_deg: Option<f64>,
        /// Form configuration (TOML, any subset of form-spec section 8).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The user's warm-up answer: confirmed, no or unknown (default: header `warmup_status`, else config).
        #[arg(long, value_name = "STATUS")]
        warmup_status: Option<String>,
        /// Also store the recording as a session in the database.
        #[arg(long)]
        save: bool,
        /// With --save: session start (YYYY-MM-DD[THH:MM[:SS]] UTC, or Unix seconds); default: the
        /// header's `started` key, else the file's modification time.
        #[arg(long, value_name = "WHEN")]
        started: Option<String>,
    },
    /// Store a recording (IMU CSV v1) as a session: raw samples, angles, events, reps, summary.
    Import {
        /// Recording file.
        file: PathBuf,
        /// Use a saved calibration profile instead of the recording's calibration windows.
        #[arg(long, value_name = "PROFILE")]
        calibration: Option<PathBuf>,
        /// Skip malformed rows instead of stopping at the first.
        #[arg(long)]
        skip_bad_rows: bool,
        /// Session start (YYYY-MM-DD[THH:MM[:SS]] UTC, or Unix seconds); default: the header's
        /// `started` key, else the file's modification time.
        #[arg(long, value_name = "WHEN")]
        started: Option<String>,
    },
    /// Review stored sessions: list, show, delete.
    Sessions {
        #[command(subcommand)]
        action: SessionsCommand,
    },
    /// Export a stored session: CSV files (samples, angles, reps, events) or an OpenSim .sto of the angles.
    Export {
        /// Session id (see `sessions list`).
        id: i64,
        /// `csv` or `sto`.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Output: for csv a prefix (files PREFIX.samples.csv, ...), for sto the file
        /// (default: session-ID, session-ID.sto).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
    /// Plot progress, one session, or left against right, as PNG or SVG (by the file extension).
    Plot {
        #[command(subcommand)]
        what: PlotCommand,
    },
    /// Write a simulated recording of a scenario (S1..S12 or a TOML file) with ground truth beside it.
    Simulate {
        /// Preset name (S1..S12, see --list) or path to a scenario TOML file.
        scenario: Option<String>,
        /// Sample rate per sensor, Hz (50 to 200).
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// `clean` (noise-free) or `realistic` (noise, bias, offsets, drops).
        #[arg(long, default_value = "realistic")]
        variant: String,
        /// Random seed for the realistic variant.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output recording; ground truth goes to the same name with `.truth.csv`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// List the preset scenarios and exit.
        #[arg(long)]
        list: bool,
    },
    /// List nearby Bluetooth sensors (family, name, address, signal strength).
    Scan {
        /// How long to scan, seconds.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Also list devices of unsupported families.
        #[arg(long)]
        all: bool,
    },
    /// Stream from BLE sensors (or the simulator) with live angles, warnings and recording.
    Live {
        /// Thigh sensor: BLE address or advertised name.
        #[arg(long, value_name = "ID", required_unless_present = "simulate")]
        thigh: Option<String>,
        /// Shank sensor: BLE address or advertised name.
        #[arg(long, value_name = "ID", required_unless_present = "simulate")]
        shank: Option<String>,
        /// Pelvis sensor (optional): BLE address or advertised name.
        #[arg(long, value_name = "ID")]
        pelvis: Option<String>,
        /// Drive the live view from a simulated scenario (S1..S12 or a TOML file) in real time.
        #[arg(long, value_name = "SCENARIO", conflicts_with_all = ["thigh", "shank", "pelvis"])]
        simulate: Option<String>,
        /// Sensor family the simulated sensors speak (`open` or `witmotion`).
        #[arg(long, default_value = "open")]
        sim_family: String,
        /// Start the simulation this many seconds into the scenario.
        #[arg(long, default_value_t = 0.0)]
        sim_from: f64,
        /// Stretch type (supine, seated, standing).
        #[arg(long, default_value = "supine")]
        stretch: String,
        /// Stretched side (left, right).
        #[arg(long, default_value = "left")]
        side: String,
        /// Saved calibration profile (skips the guided calibration).
        #[arg(long, value_name = "PROFILE")]
        calibration: Option<PathBuf>,
        /// Output rate requested from the sensors, Hz (default: the family's).
        #[arg(long)]
        rate: Option<u32>,
        /// Recording prefix: writes PREFIX.raw.jsonl and PREFIX.imu.csv (default: session-UNIXTIME).
        #[arg(long, value_name = "PREFIX")]
        record: Option<PathBuf>,
        /// Do not record.
        #[arg(long, conflicts_with = "record")]
        no_record: bool,
        /// Do not store the session in the database (by default it is stored as it goes).
        #[arg(long)]
        no_store: bool,
        /// Also write the angles CSV (DESIGN 3.4).
        #[arg(long, value_name = "OUT.csv")]
        angles_out: Option<PathBuf>,
        /// Stop after this many seconds.
        #[arg(long)]
        duration: Option<f64>,
        /// Plain status lines on stderr instead of the terminal view (automatic when not a terminal).
        #[arg(long)]
        no_tui: bool,
        /// No terminal bell.
        #[arg(long)]
        no_bell: bool,
        /// Write the session figures (throughput, latency, gaps, reconnects) as JSON here.
        #[arg(long, value_name = "FILE")]
        summary_json: Option<PathBuf>,
        /// Write the form events (one JSON object per line, as `replay --json`) here.
        #[arg(long, value_name = "FILE")]
        events_out: Option<PathBuf>,
        /// Excessive-range baseline B in degrees (with the 10° delta).
        #[arg(long)]
        baseline_deg: Option<f64>,
    },
    /// Calibrate from a recording's standing and knee-swing windows; print and save the profile.
    Calibrate {
        /// Recording with `calibration.static` and `calibration.functional` header windows.
        file: PathBuf,
        /// Where to save the profile (default: FILE with `.calibration.toml`).
        #[arg(long, value_name = "PROFILE")]
        out: Option<PathBuf>,
        /// Skip malformed rows instead of stopping at the first.
        #[arg(long)]
        skip_bad_rows: bool,
    },
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// One line per session: date, side, stretch, reps, static hold, session value, warnings per minute, flags.
    List {
        /// Only this side (left or right).
        #[arg(long)]
        side: Option<String>,
        /// Only this stretch (supine, seated or standing).
        #[arg(long)]
        stretch: Option<String>,
    },
    /// A session's details, reps and events.
    Show {
        /// Session id.
        id: i64,
    },
    /// Delete a session and everything stored with it (asks to confirm).
    Delete {
        /// Session id.
        id: i64,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum PlotCommand {
    /// Session value per session over dates, rolling 7-day median, ±MDC band, D4/D8 flags.
    Progress {
        /// Stretch type.
        #[arg(long, default_value = "supine")]
        stretch: String,
        /// Only one side (default both).
        #[arg(long)]
        side: Option<String>,
        /// Output file, .png or .svg.
        #[arg(long, default_value = "progress.png")]
        out: PathBuf,
    },
    /// Knee and hip traces of one session with phase shading, hold spans and warning markers.
    Session {
        /// Session id.
        id: i64,
        /// Output file, .png or .svg (default session-ID.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Left against right: paired session values and their difference with the ±10° band.
    Sides {
        /// Stretch type.
        #[arg(long, default_value = "supine")]
        stretch: String,
        /// Output file, .png or .svg.
        #[arg(long, default_value = "sides.png")]
        out: PathBuf,
    },
}

/// An error caused by the user's input (exit status 2).
#[derive(Debug)]
struct InputError(String);
impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for InputError {}

/// Every replay error is about the input (a missing, unreadable or malformed file): exit status 2.
fn input_err(e: ReplayError) -> anyhow::Error {
    InputError(e.to_string()).into()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("stretchwatch: error: {msg}");
            if e.downcast_ref::<InputError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let db = cli.db;
    match cli.command {
        Command::Replay {
            file,
            angles_out,
            calibration,
            skip_bad_rows,
            json,
            baseline_deg,
            config,
            warmup_status,
            save,
            started,
        } => cmd_replay(
            &file,
            &ReplayArgs {
                angles_out,
                calibration,
                skip_bad_rows,
                json,
                baseline_deg,
                config,
                warmup_status,
                save: save.then(|| review::SaveTo {
                    db: db.clone(),
                    started,
                }),
                db,
            },
            Output::Timeline,
        ),
        Command::Import {
            file,
            calibration,
            skip_bad_rows,
            started,
        } => cmd_replay(
            &file,
            &ReplayArgs {
                angles_out: None,
                calibration,
                skip_bad_rows,
                json: false,
                baseline_deg: None,
                config: None,
                warmup_status: None,
                save: Some(review::SaveTo {
                    db: db.clone(),
                    started,
                }),
                db,
            },
            Output::Quiet,
        ),
        Command::Sessions { action } => review::cmd_sessions(db, action),
        Command::Export { id, format, out } => review::cmd_export(db, id, &format, out),
        Command::Plot { what } => review::cmd_plot(db, what),
        Command::Simulate {
            scenario,
            rate,
            variant,
            seed,
            out,
            list,
        } => cmd_simulate(scenario, rate, &variant, seed, out, list),
        Command::Calibrate {
            file,
            out,
            skip_bad_rows,
        } => cmd_calibrate(&file, out, skip_bad_rows),
        Command::Scan { seconds, all } => cmd_scan(seconds, all),
        Command::Live {
            thigh,
            shank,
            pelvis,
            simulate,
            sim_family,
            sim_from,
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
        } => {
            let stretch: StretchType = stretch
                .parse()
                .map_err(|e: String| InputError(format!("--stretch: {e}")))?;
            let side: Side = side
                .parse()
                .map_err(|e: String| InputError(format!("--side: {e}")))?;
            let profile = match &calibration {
                Some(p) => {
                    Some(CalibrationProfile::load(p).map_err(|e| InputError(e.to_string()))?)
                }
                None => None,
            };
            let session_db = if no_store {
                None
            } else {
                Some(match db {
                    Some(p) => p,
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
                ..Default::default()
            };
            // D3 baseline: --baseline-deg, else this side's and stretch's stored history.
            let stored_baseline = match (&outputs.session_db, baseline_deg) {
                (Some(db), None) if db.exists() => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64());
                    stretchwatch::store::Store::open(db)?
                        .baseline(side, stretch, now)?
                        .map(|b| stretchwatch::form::Baseline {
                            value_deg: b.b_deg,
                            delta_deg: b.delta_deg,
                        })
                }
                _ => None,
            };
            let cfg = LiveConfig {
                devices: Vec::new(),
                stretch,
                side,
                profile,
                params: Default::default(),
                form: FormConfig::default(),
                baseline_deg,
                stored_baseline,
            };
            let report = match simulate {
                Some(name) => {
                    cmd_live_sim(cfg, &name, &sim_family, sim_from, rate, &outputs, &opts)?
                }
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
            print_live_report(&report, &outputs);
            if let Some(p) = summary_json {
                std::fs::write(&p, report.to_json() + "\n")
                    .with_context(|| format!("cannot write {}", p.display()))?;
            }
            Ok(())
        }
    }
}

#[path = "cli/review.rs"]
mod review;

/// What `cmd_replay` prints besides JSON: the timeline and summary (`replay`) or only what was
/// stored (`import`).
#[derive(Clone, Copy, PartialEq)]
enum Output {
    Timeline,
    Quiet,
}

/// Options of `stretchwatch replay`.
struct ReplayArgs {
    angles_out: Option<PathBuf>,
    calibration: Option<PathBuf>,
    skip_bad_rows: bool,
    json: bool,
    baseline_deg: Option<f64>,
    config: Option<PathBuf>,
    warmup_status: Option<String>,
    save: Option<review::SaveTo>,
    db: Option<PathBuf>,
}

fn load_form_config(args: &ReplayArgs, header: &RecordingHeader) -> Result<FormConfig> {
    let mut cfg = match &args.config {
        Some(p) => FormConfig::load(p).map_err(|e| InputError(e.to_string()))?,
        None => FormConfig::default(),
    };
    // The header may carry the user's answer; the command line wins.
    let header_status = header
        .extra
        .iter()
        .find(|(k, _)| k == "warmup_status")
        .map(|(_, v)| v.clone());
    if let Some(s) = args.warmup_status.as_deref().or(header_status.as_deref()) {
        cfg.warmup.status = s
            .parse::<WarmupStatus>()
            .map_err(|e| InputError(format!("--warmup-status: {e}")))?;
    }
    if let Some(b) = args.baseline_deg
        && !(b.is_finite() && (0.0..=180.0).contains(&b))
    {
        return Err(InputError(format!("--baseline-deg {b} is out of range (0 to 180)")).into());
    }
    Ok(cfg)
}

/// The form stage and the outputs of `replay`: events to stdout (JSON Lines or the timeline),
/// phases into the angles CSV, and every event object handed on to the session store.
struct ReplaySink {
    engine: FormEngine,
    angles: Option<AnglesCsvWriter<std::io::BufWriter<std::fs::File>>>,
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
    json: bool,
    quiet: bool,
    timeline_started: bool,
    io_err: Option<std::io::Error>,
    summary_event: Option<Event>,
}

impl ReplaySink {
    fn emit(&mut self, e: &Event, stored: &mut Vec<serde_json::Value>) {
        if matches!(e, Event::Summary { .. }) {
            self.summary_event = Some(*e);
        }
        let text = e.to_json();
        if let Ok(v) = serde_json::from_str(&text) {
            stored.push(v);
        }
        if self.io_err.is_some() || self.quiet {
            return;
        }
        let r = if self.json {
            writeln!(self.out, "{text}")
        } else {
            match wording::describe(e) {
                // The heading waits for the first line, so a recording that fails to parse
                // leaves nothing on stdout.
                Some(line) if !self.timeline_started => {
                    self.timeline_started = true;
                    writeln!(self.out, "timeline (recording time)")
                        .and_then(|_| writeln!(self.out, "{:>9.2} s  {line}", e.t_s()))
                }
                Some(line) => writeln!(self.out, "{:>9.2} s  {line}", e.t_s()),
                None => Ok(()),
            }
        };
        self.io_err = r.err();
    }
}

impl review::FrameSink for ReplaySink {
    fn frame(&mut self, a: &stretchwatch::model::JointAngles, events: &mut Vec<serde_json::Value>) {
        let mut fired: [Option<Event>; 16] = [None; 16];
        let mut n = 0;
        self.engine.push(a, &mut |e: &Event| {
            if n < fired.len() {
                fired[n] = Some(*e);
            }
            n += 1;
        });
        for e in fired.iter().flatten() {
            self.emit(e, events);
        }
        if let Some(w) = self.angles.as_mut()
            && self.io_err.is_none()
        {
            self.io_err = w.write(a, self.engine.phase().map(|p| p.as_str())).err();
        }
    }

    fn finish(&mut self, events: &mut Vec<serde_json::Value>) {
        let mut fired = Vec::new();
        self.engine.finish(&mut |e: &Event| fired.push(*e));
        for e in &fired {
            self.emit(e, events);
        }
    }
}

/// D3 baseline B: `--baseline-deg`, else stored history (only if a database is given or already
/// exists: replaying never creates one), else the header's `history_deg`, else none.
fn form_context(
    args: &ReplayArgs,
    header: &RecordingHeader,
    cfg: &FormConfig,
    file: &Path,
) -> Result<FormContext> {
    let mut ctx = FormContext::from_header(header, cfg, args.baseline_deg);
    if args.baseline_deg.is_none()
        && let Some(b) = review::stored_baseline(args.db.clone(), header, file)?
    {
        ctx.baseline = Some(stretchwatch::form::Baseline {
            value_deg: b.b_deg,
            delta_deg: b.delta_deg,
        });
    }
    Ok(ctx)
}

fn cmd_replay(file: &Path, args: &ReplayArgs, output: Output) -> Result<()> {
    let quiet = output == Output::Quiet;
    let header = stretchwatch::record::ImuCsvReader::open(file, args.skip_bad_rows)
        .map_err(|e| input_err(e.into()))?
        .header()
        .clone();
    let cfg = load_form_config(args, &header)?;
    let ctx = form_context(args, &header, &cfg, file)?;
    let opts = ReplayOptions {
        skip_bad_rows: args.skip_bad_rows,
        calibration: args.calibration.clone(),
        ..Default::default()
    };
    let angles = match &args.angles_out {
        Some(out) => {
            let f = std::fs::File::create(out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            Some(
                AnglesCsvWriter::new(std::io::BufWriter::new(f))
                    .with_context(|| format!("cannot write {}", out.display()))?,
            )
        }
        None => None,
    };
    let mut sink = ReplaySink {
        engine: FormEngine::new(cfg, ctx),
        angles,
        out: std::io::BufWriter::new(std::io::stdout().lock()),
        json: args.json,
        quiet,
        timeline_started: false,
        io_err: None,
        summary_event: None,
    };
    let (summary, stored) = match &args.save {
        Some(to) => {
            let (s, stored) = review::replay_and_store(to, file, &opts, &mut sink)?;
            (s, Some(stored))
        }
        None => {
            let mut scratch = Vec::new();
            let s = replay_file(file, &opts, |a| {
                review::FrameSink::frame(&mut sink, a, &mut scratch);
                scratch.clear();
            })
            .map_err(input_err)?;
            review::FrameSink::finish(&mut sink, &mut scratch);
            (s, None)
        }
    };
    if let Some(e) = sink.io_err.take() {
        return Err(e).context("cannot write output");
    }
    if let Some(w) = sink.angles.take() {
        let out_path = args.angles_out.as_ref().expect("angles path");
        w.finish()
            .with_context(|| format!("cannot write {}", out_path.display()))?;
    }
    if args.skip_bad_rows && summary.skipped_rows > 0 {
        eprintln!(
            "stretchwatch: skipped {} malformed rows in {}",
            summary.skipped_rows,
            file.display()
        );
    }
    let out = &mut sink.out;
    if !args.json && !quiet {
        writeln!(out)?;
        print_summary(file, &summary, out)?;
        if let Some(e) = sink.summary_event {
            writeln!(out, "session")?;
            for line in wording::summary_lines(&e) {
                writeln!(out, "  {line}")?;
            }
        }
        writeln!(out)?;
        for note in wording::SAFETY_NOTES {
            writeln!(out, "{note}")?;
        }
    }
    if let Some(stored) = stored {
        // `import` reports on stdout; `replay --save` keeps stdout for the events.
        if quiet {
            writeln!(out, "{stored}")?;
        } else {
            eprintln!("{stored}");
        }
    }
    out.flush()?;
    Ok(())
}

fn print_summary(file: &Path, s: &ReplaySummary, o: &mut dyn Write) -> Result<()> {
    let h = &s.header;
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
        if let Some(r) = s.rate_of(role) {
            writeln!(
                o,
                "sensor      {:<6} {:>7} samples, {:.1} Hz",
                role.as_str(),
                s.samples[role.index()],
                r
            )?;
        }
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
    }
    let block = h.block_window();
    writeln!(
        o,
        "block       {:.1} s to {}",
        block.start_s,
        if block.end_s.is_finite() {
            format!("{:.1} s", block.end_s)
        } else {
            "end".into()
        }
    )?;
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

fn cmd_simulate(
    scenario: Option<String>,
    rate: f64,
    variant: &str,
    seed: u64,
    out: Option<PathBuf>,
    list: bool,
) -> Result<()> {
    if list {
        for n in sim::preset_names() {
            println!("{n}");
        }
        return Ok(());
    }
    let name = scenario.ok_or_else(|| {
        InputError(
            "simulate needs a SCENARIO (a preset such as S1, or a .toml file); see --list".into(),
        )
    })?;
    let scn = match sim::preset(&name) {
        Some(s) => s,
        None if Path::new(&name).exists() => {
            sim::load_scenario(Path::new(&name)).map_err(|e| InputError(e.to_string()))?
        }
        None => {
            return Err(InputError(format!(
                "unknown scenario '{name}': not a preset ({}) and no such file",
                sim::preset_names().join(", ")
            ))
            .into());
        }
    };
    if !(50.0..=200.0).contains(&rate) {
        return Err(InputError(format!("--rate {rate} is out of range (50 to 200 Hz)")).into());
    }
    let variant: sim::Variant = variant
        .parse()
        .map_err(|e: String| InputError(format!("--variant: {e}")))?;
    let out = out.ok_or_else(|| InputError("simulate needs --out FILE".into()))?;
    let truth = truth_path(&out);
    let opts = sim::SimOptions::new(rate, variant, seed);
    let result = sim::simulate(&scn, &opts);
    sim::write_recording(&result, &out, &truth)?;
    eprintln!(
        "wrote {} ({} samples) and {}",
        out.display(),
        result.samples.len(),
        truth.display()
    );
    Ok(())
}

/// `x.csv` → `x.truth.csv`.
fn truth_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recording".into());
    out.with_file_name(format!("{stem}.truth.csv"))
}

fn cmd_calibrate(file: &Path, out: Option<PathBuf>, skip_bad_rows: bool) -> Result<()> {
    let profile = calibrate_file(file, skip_bad_rows).map_err(input_err)?;
    let out = out.unwrap_or_else(|| {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        file.with_file_name(format!("{stem}.calibration.toml"))
    });
    print_profile(&profile);
    profile.save(&out)?;
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

fn live_err(e: LiveError) -> anyhow::Error {
    match e {
        LiveError::Invalid(m) => InputError(m).into(),
        other => other.into(),
    }
}

fn cmd_scan(seconds: f64, all: bool) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let found = rt.block_on(async {
        let adapter = open_adapter().await?;
        scan(
            &adapter,
            std::time::Duration::from_secs_f64(seconds.max(0.5)),
        )
        .await
    })?;
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "{:<22} {:<24} {:<18} {:>5}",
        "family", "name", "address", "rssi"
    )?;
    let mut shown = 0;
    for f in &found {
        if f.family.is_none() && !all {
            continue;
        }
        shown += 1;
        writeln!(
            o,
            "{:<22} {:<24} {:<18} {:>5}",
            f.family
                .map(|f| f.display_name())
                .unwrap_or("(unsupported)"),
            f.name.as_deref().unwrap_or("—"),
            f.address,
            f.rssi.map(|r| format!("{r} dBm")).unwrap_or("—".into())
        )?;
    }
    if shown == 0 {
        eprintln!(
            "stretchwatch: no supported sensor seen in {seconds:.0} s ({} other devices; --all lists them)",
            found.len()
        );
    }
    Ok(())
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
    let scn = match sim::preset(name) {
        Some(s) => s,
        None if Path::new(name).exists() => {
            sim::load_scenario(Path::new(name)).map_err(|e| InputError(e.to_string()))?
        }
        None => {
            return Err(InputError(format!(
                "unknown scenario '{name}': not a preset ({}) and no such file",
                sim::preset_names().join(", ")
            ))
            .into());
        }
    };
    let family: Family = family
        .parse()
        .map_err(|e: stretchwatch::protocol::ProtocolError| InputError(e.to_string()))?;
    if !matches!(family, Family::OpenSensor | Family::WitMotion) {
        return Err(InputError("--sim-family must be open or witmotion".into()).into());
    }
    let rate = rate.unwrap_or(100);
    let out = sim::simulate(
        &scn,
        &sim::SimOptions::new(f64::from(rate), sim::Variant::Realistic, 42),
    );
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
    if scn.pelvis_sensor {
        roles.push(SensorRole::Pelvis);
    }
    let devices = sim_devices(&roles, family, rate).map_err(|e| InputError(e.to_string()))?;
    cfg.devices = devices.iter().map(|d| d.device.clone()).collect();
    let notes = encode_all(&out.samples, &devices, 1, from_s, f64::INFINITY)?;
    let source = format!("simulated {}", scn.name);
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
