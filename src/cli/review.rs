//! The store-facing commands: `import`, `replay --save`, `sessions`, `export` and `plot`.

use super::{InputError, PlotCommand, SessionsCommand};
use anyhow::{Context as _, Result};
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use stretchwatch::model::{Side, StretchType};
use stretchwatch::record::RecordingHeader;
use stretchwatch::report::{self, ReportError, export, plots};
use stretchwatch::store::{
    self, SessionFilter, SessionMeta, SessionRow, Store, StoreError, history::FlagStatus,
};

/// Where and when `replay --save` stores a session.
pub struct SaveTo {
    /// `--db` / `STRETCHWATCH_DB`.
    pub db: Option<PathBuf>,
    /// `--started`.
    pub started: Option<String>,
}

/// Store errors the user caused (a wrong id, a file from a newer version) exit with 2.
fn store_err(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::NotFound { .. } | StoreError::TooNew { .. } | StoreError::BadEvent { .. } => {
            InputError(e.to_string()).into()
        }
        other => other.into(),
    }
}

fn report_err(e: ReportError) -> anyhow::Error {
    match e {
        ReportError::Store(s) => store_err(s),
        ReportError::Format { .. } | ReportError::Empty(_) => InputError(e.to_string()).into(),
        other => other.into(),
    }
}

fn open_store(db: Option<PathBuf>) -> Result<Store> {
    let path = match db {
        Some(p) => p,
        None => store::default_path()?,
    };
    Ok(Store::open(&path)?)
}

/// The store for reviewing: a database that does not exist is an error (a mistyped `--db` must
/// not look like an empty history), not a new empty file.
fn open_existing(db: Option<PathBuf>) -> Result<Store> {
    let path = match db {
        Some(p) => p,
        None => store::default_path()?,
    };
    if !path.exists() {
        return Err(InputError(format!(
            "{}: no session database there (check --db; live, import and replay --save create it)",
            path.display()
        ))
        .into());
    }
    Ok(Store::open(&path)?)
}

/// `1 rep`, `2 reps`.
fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A history check's result in plain words.
fn status_words(s: store::history::FlagStatus, flagged: &str) -> &str {
    use store::history::FlagStatus;
    match s {
        FlagStatus::InsufficientData => "not enough sessions yet",
        FlagStatus::No => "as usual",
        FlagStatus::Flag => flagged,
        FlagStatus::Cleared => "back to usual",
    }
}

fn parse_side(s: Option<&str>) -> Result<Option<Side>> {
    s.map(|s| {
        s.parse()
            .map_err(|e: String| InputError(format!("--side: {e}")).into())
    })
    .transpose()
}

fn parse_stretch(s: &str) -> Result<StretchType> {
    s.parse()
        .map_err(|e: String| InputError(format!("--stretch: {e}")).into())
}

/// Session start: `--started`, else the header's `started` key, else the file's modification time.
fn session_start(file: &Path, header: &RecordingHeader, started: Option<&str>) -> Result<f64> {
    if let Some(s) = started {
        return store::parse_utc(s).ok_or_else(|| {
            InputError(format!(
                "--started '{s}': expected YYYY-MM-DD[THH:MM[:SS]] (UTC) or Unix seconds"
            ))
            .into()
        });
    }
    if let Some((_, v)) = header.extra.iter().find(|(k, _)| k == "started") {
        return store::parse_utc(v).ok_or_else(|| {
            InputError(format!(
                "{}: header 'started: {v}': expected YYYY-MM-DD[THH:MM[:SS]] (UTC)",
                file.display()
            ))
            .into()
        });
    }
    let modified = std::fs::metadata(file)
        .and_then(|m| m.modified())
        .with_context(|| format!("{}: cannot read the modification time", file.display()))?;
    Ok(modified
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64()))
}

/// The excessive-range baselines from stored sessions of each side and stretch, when a database
/// was named (`--db`, `STRETCHWATCH_DB`) or the default one already exists; never creates one.
/// A recording without a side gets none (its blocks cannot be matched to a history).
pub fn stored_baselines(
    db: Option<PathBuf>,
    header: &RecordingHeader,
    file: &Path,
    out: &mut stretchwatch::session::Baselines,
) -> Result<()> {
    let path = match db {
        Some(p) => p,
        None => match store::default_path() {
            Ok(p) if p.exists() => p,
            _ => return Ok(()),
        },
    };
    if header.side.is_none() {
        return Ok(());
    }
    let started = session_start(file, header, None)?;
    history_baselines(&path, started, out)
}

/// Every side's and stretch's baseline from the sessions stored in `path` before `at_unix_s`
/// (live, serve and replay share it).
pub fn history_baselines(
    path: &Path,
    at_unix_s: f64,
    out: &mut stretchwatch::session::Baselines,
) -> Result<()> {
    let store = Store::open(path)?;
    for side in [Side::Left, Side::Right] {
        for stretch in [
            StretchType::Supine,
            StretchType::Seated,
            StretchType::Standing,
        ] {
            let b = store.baseline(side, stretch, at_unix_s)?;
            out.set_stored(
                side,
                stretch,
                b.map(|b| stretchwatch::form::Baseline {
                    value_deg: b.b_deg,
                    delta_deg: b.delta_deg,
                }),
            );
        }
    }
    Ok(())
}

/// Opens the store for `replay --save` / `import` and describes the new session (the
/// recording's side is required: the history is kept per side).
pub fn open_for_save(
    to: &SaveTo,
    rec: &stretchwatch::session::source::RecordingFile,
) -> Result<(Store, SessionMeta)> {
    let header = &rec.header;
    let file = rec.path.as_path();
    let side = header.side.ok_or_else(|| {
        InputError(format!(
            "{}: the header has no 'side'; a stored session needs one (add a '# side: left' or '# side: right' line)",
            file.display()
        ))
    })?;
    let started_unix_s = session_start(file, header, to.started.as_deref())?;
    let store = open_store(to.db.clone())?;
    let stretch = header.stretch.unwrap_or_default();
    // The same recording stored twice would count twice in the history: same file name, start,
    // side and stretch is the same session.
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    if let Some(dup) = store
        .list_sessions(&SessionFilter::default())?
        .iter()
        .find(|r| {
            (r.started_unix_s - started_unix_s).abs() < 1e-3
                && r.side == side
                && r.stretch == stretch
                && name.as_deref().is_some_and(|n| {
                    std::path::Path::new(r.source.trim_start_matches("import "))
                        .file_name()
                        .is_some_and(|f| f.to_string_lossy() == n)
                })
        })
    {
        return Err(InputError(format!(
            "{}: already stored as session {} (same recording, same start); `sessions delete {}` first to store it again",
            file.display(),
            dup.id,
            dup.id
        ))
        .into());
    }
    let meta = SessionMeta {
        started_unix_s,
        side,
        stretch,
        source: format!("import {}", file.display()),
        rate_hz: header.rate_hz,
        sensors: Vec::new(),
        calibration: None,
    };
    Ok((store, meta))
}

fn opt(v: Option<f64>, prec: usize, unit: &str) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.prec$}{unit}"))
}

fn flags(r: &SessionRow) -> String {
    let mut f = Vec::new();
    if let Some(v) = r.review {
        if v.fast_progression.status == FlagStatus::Flag {
            f.push("fast-progress");
        }
        if v.asymmetry.status == FlagStatus::Flag {
            f.push("asymmetry");
        }
    }
    if !r.finished {
        f.push("unfinished");
    }
    f.join(" ")
}

/// Writes the `sessions list` table.
pub fn write_list(out: &mut dyn std::io::Write, rows: &[SessionRow]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>5}  {:<16}  {:<5}  {:<8}  {:>4}  {:>11}  {:>7}  {:>8}  flags",
        "id", "date (UTC)", "side", "stretch", "reps", "static hold", "value", "warn/min"
    )?;
    for r in rows {
        let s = r.summary;
        writeln!(
            out,
            "{:>5}  {:<16}  {:<5}  {:<8}  {:>4}  {:>11}  {:>7}  {:>8}  {}",
            r.id,
            store::format_utc(r.started_unix_s),
            r.side.as_str(),
            r.stretch.as_str(),
            s.map_or("–".into(), |s| s.reps.to_string()),
            opt(s.map(|s| s.total_static_hold_s), 1, " s"),
            opt(s.and_then(|s| s.session_value_deg), 1, "°"),
            opt(s.and_then(|s| s.warnings_per_min), 2, ""),
            flags(r)
        )?;
    }
    Ok(())
}

/// `sessions list|show|delete`.
pub fn cmd_sessions(db: Option<PathBuf>, action: SessionsCommand) -> Result<()> {
    let mut store = open_existing(db)?;
    let mut o = std::io::stdout().lock();
    match action {
        SessionsCommand::List { side, stretch } => {
            let filter = SessionFilter {
                side: parse_side(side.as_deref())?,
                stretch: stretch.as_deref().map(parse_stretch).transpose()?,
            };
            let rows = store.list_sessions(&filter)?;
            if rows.is_empty() {
                eprintln!("no sessions in {}", store.path().display());
                return Ok(());
            }
            write_list(&mut o, &rows)?;
        }
        SessionsCommand::Show { id } => show(&store, id, &mut o)?,
        SessionsCommand::Delete { id, yes } => {
            let row = store.session(id).map_err(store_err)?;
            if !yes {
                eprint!(
                    "delete session {id} ({} {} {}) and all its data? [y/N] ",
                    store::format_utc(row.started_unix_s),
                    row.side.as_str(),
                    row.stretch.as_str()
                );
                let mut answer = String::new();
                let n = std::io::stdin().lock().read_line(&mut answer)?;
                if n == 0 {
                    return Err(InputError(format!(
                        "session {id} not deleted: no confirmation on standard input (pass --yes)"
                    ))
                    .into());
                }
                if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
                    eprintln!("session {id} not deleted");
                    return Ok(());
                }
            }
            store.delete_session(id).map_err(store_err)?;
            writeln!(o, "deleted session {id}")?;
        }
    }
    Ok(())
}

fn show(store: &Store, id: i64, o: &mut dyn std::io::Write) -> Result<()> {
    let r = store.session(id).map_err(store_err)?;
    writeln!(o, "session     {id}")?;
    writeln!(o, "started     {} UTC", store::format_utc(r.started_unix_s))?;
    writeln!(
        o,
        "stretch     {} ({} side)",
        r.stretch.as_str(),
        r.side.as_str()
    )?;
    writeln!(o, "source      {}", r.source)?;
    for s in store.sensors(id)? {
        writeln!(
            o,
            "sensor      {:<6} {} {}",
            s.role.as_str(),
            if s.family.is_empty() {
                "–"
            } else {
                &s.family
            },
            s.model
        )?;
    }
    if let Some(c) = store
        .calibration(id)?
        .and_then(|p| stretchwatch::calibration::accuracy_caveat(&p))
    {
        writeln!(o, "caution     {c}")?;
    }
    if let Some((a, b)) = r.t_span_s {
        writeln!(
            o,
            "duration    {:.1} s ({a:.1} to {b:.1} s){}",
            b - a,
            r.rate_hz
                .map(|h| format!(", {h:.0} Hz"))
                .unwrap_or_default()
        )?;
    }
    if !r.finished {
        writeln!(
            o,
            "state       unfinished (the writer stopped before the session ended)"
        )?;
    }
    if let Some(s) = r.summary {
        writeln!(
            o,
            "summary     {}, static hold {:.1} s, stretch angle {}, {} warnings per minute",
            count(s.reps, "rep", "reps"),
            s.total_static_hold_s,
            opt(s.session_value_deg, 1, "°"),
            opt(s.warnings_per_min, 2, "")
        )?;
    }
    if let Some(v) = r.review {
        match v.baseline {
            Some(b) => writeln!(
                o,
                "usual angle {:.1}° from {}; \"further than usual\" starts {:.0}° above it",
                b.b_deg,
                count(b.sessions as u64, "earlier session", "earlier sessions"),
                b.delta_deg
            )?,
            None => writeln!(
                o,
                "usual angle none yet (no earlier sessions in the last 28 days)"
            )?,
        }
        let d4 = v.fast_progression;
        writeln!(
            o,
            "progress    {} (jump {}, trend {})",
            status_words(d4.status, "faster than typical: go gently"),
            opt(d4.jump_deg, 1, "°"),
            opt(d4.slope_deg_per_week, 1, "°/week")
        )?;
        let d8 = v.asymmetry;
        writeln!(
            o,
            "left/right  {} ({} of {} differ by more than 10°, mean left − right {}{})",
            status_words(d8.status, "the sides differ more than usual"),
            d8.over_limit,
            count(d8.paired as u64, "pair of sessions", "pairs of sessions"),
            opt(d8.mean_diff_deg, 1, "°"),
            d8.tighter
                .map(|s| format!(", the {} side reaches less far", s.as_str()))
                .unwrap_or_default()
        )?;
    }
    let blocks = store.blocks(id)?;
    if !blocks.is_empty() {
        writeln!(o, "blocks      {}", blocks.len())?;
    }
    for b in &blocks {
        writeln!(
            o,
            "  block {}  {} {}  {:.1} to {:.1} s, {}, static hold {:.1} s, stretch angle {}, {} warnings per minute",
            b.block,
            b.side.as_str(),
            b.stretch.as_str(),
            b.t_start_s,
            b.t_end_s,
            count(b.reps, "rep", "reps"),
            b.total_static_hold_s,
            opt(b.session_value_deg, 1, "°"),
            opt(b.warnings_per_min, 2, "")
        )?;
    }
    // Each side over its blocks (a routine stretches both legs).
    for side in [Side::Left, Side::Right] {
        let mine: Vec<_> = blocks.iter().filter(|b| b.side == side).collect();
        if mine.is_empty() || mine.len() == blocks.len() {
            continue;
        }
        writeln!(
            o,
            "  {:<5} side  {}, static hold {:.1} s",
            side.as_str(),
            count(mine.iter().map(|b| b.reps).sum::<u32>(), "rep", "reps"),
            mine.iter().map(|b| b.total_static_hold_s).sum::<f64>()
        )?;
    }
    let reps = store.reps(id)?;
    writeln!(o, "reps        {}", reps.len())?;
    if !reps.is_empty() {
        writeln!(
            o,
            "  rep      t_s  static_s  positional_s  hold_deg  peak_deg  knee_deg"
        )?;
        for p in &reps {
            writeln!(
                o,
                "  {:>3} {:>8.1} {:>9} {:>13} {:>9} {:>9} {:>9}",
                p.rep,
                p.t_s,
                opt(p.static_hold_s, 1, ""),
                opt(p.positional_hold_s, 1, ""),
                opt(p.hold_angle_deg, 1, ""),
                opt(p.peak_angle_deg, 1, ""),
                opt(p.knee_mean_deg, 1, "")
            )?;
        }
    }
    let events = store.events(id)?;
    writeln!(
        o,
        "timeline    {}",
        count(events.len() as u64, "event", "events")
    )?;
    for e in events.iter().filter(|e| e.event != "summary") {
        // The stored object in plain words; `export --format csv` gives the fields.
        let text = serde_json::from_str(&e.json)
            .ok()
            .and_then(|v| stretchwatch::report::events::describe_stored(&v))
            .unwrap_or_else(|| e.event.replace('_', " "));
        writeln!(o, "  {:>8.2} s  {text}", e.t_s)?;
    }
    Ok(())
}

/// `export ID --format csv|sto`.
pub fn cmd_export(db: Option<PathBuf>, id: i64, format: &str, out: Option<PathBuf>) -> Result<()> {
    let store = open_existing(db)?;
    match format {
        "csv" => {
            let prefix = out.unwrap_or_else(|| PathBuf::from(format!("session-{id}")));
            let files = export::export_csv(&store, id, &prefix).map_err(report_err)?;
            for f in files {
                println!("wrote {}", f.display());
            }
        }
        "sto" => {
            let path = out.unwrap_or_else(|| PathBuf::from(format!("session-{id}.sto")));
            export::export_sto(&store, id, &path).map_err(report_err)?;
            println!("wrote {}", path.display());
        }
        other => {
            return Err(InputError(format!("--format '{other}': expected csv or sto")).into());
        }
    }
    Ok(())
}

/// `plot progress|session|sides`.
pub fn cmd_plot(db: Option<PathBuf>, what: PlotCommand) -> Result<()> {
    let store = open_existing(db)?;
    let out = match what {
        PlotCommand::Progress { stretch, side, out } => {
            let data = plots::progress_data(
                &store,
                parse_stretch(&stretch)?,
                parse_side(side.as_deref())?,
            )
            .map_err(report_err)?;
            if data.series.is_empty() {
                return Err(InputError(format!(
                    "no {stretch} sessions with a session value in {}",
                    store.path().display()
                ))
                .into());
            }
            report::render(&data, &out, (1100, 620)).map_err(report_err)?;
            out
        }
        PlotCommand::Session { id, out } => {
            let out = out.unwrap_or_else(|| PathBuf::from(format!("session-{id}.png")));
            let data = plots::session_data(&store, id).map_err(report_err)?;
            report::render(&data, &out, (1200, 600)).map_err(report_err)?;
            out
        }
        PlotCommand::Sides { stretch, out } => {
            let data = plots::sides_data(&store, parse_stretch(&stretch)?).map_err(report_err)?;
            if data.pairs.is_empty() {
                return Err(InputError(format!(
                    "no left/right pairs of {stretch} sessions in {}",
                    store.path().display()
                ))
                .into());
            }
            report::render(&data, &out, (1100, 700)).map_err(report_err)?;
            out
        }
    };
    println!("wrote {}", out.display());
    Ok(())
}
