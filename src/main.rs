//! The `stretchwatch` command line: a thin layer over the library.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
        /// Write one row of angles per output frame to this CSV (time, knee, hip, leg raise, phase).
        #[arg(long, value_name = "OUT.csv")]
        angles_out: Option<PathBuf>,
        /// Use a saved calibration profile instead of the recording's calibration windows.
        #[arg(long, value_name = "PROFILE")]
        calibration: Option<PathBuf>,
        /// Skip malformed rows (and report how many) instead of stopping at the first.
        #[arg(long)]
        skip_bad_rows: bool,
        /// Print the events as JSON, one object per line, instead of the readable timeline.
        #[arg(long)]
        json: bool,
        /// Your usual stretch angle in degrees for the range check of this run (warns about 10° beyond it).
        #[arg(long, value_name = "DEG")]
        baseline_deg: Option<f64>,
        /// Form settings file (TOML; any of the thresholds and timings, the rest stay at their defaults).
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
    Live(live_cmd::LiveArgs),
    /// Web app: live page with spoken cues, and the review pages (opens on 127.0.0.1:8787).
    Serve(serve_cmd::ServeArgs),
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
    /// Stretch angle per session over dates, rolling 7-day median, measurement-noise band, fast-progress and left/right flags.
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
        } => simulate_cmd::cmd_simulate(scenario, rate, &variant, seed, out, list),
        Command::Calibrate {
            file,
            out,
            skip_bad_rows,
        } => cmd_calibrate(&file, out, skip_bad_rows),
        Command::Scan { seconds, all } => scan_cmd::cmd_scan(seconds, all),
        Command::Live(args) => live_cmd::cmd_live(args, db),
        Command::Serve(args) => serve_cmd::cmd_serve(args, db),
    }
}

#[path = "cli/review.rs"]
mod review;

#[path = "cli/replay.rs"]
mod replay_cmd;

use replay_cmd::{Output, ReplayArgs, cmd_calibrate, cmd_replay};

#[path = "cli/live.rs"]
mod live_cmd;

#[path = "cli/serve.rs"]
mod serve_cmd;

#[path = "cli/scan.rs"]
mod scan_cmd;

#[path = "cli/simulate.rs"]
mod simulate_cmd;
