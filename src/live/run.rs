//! Drivers of a live session on tokio: BLE sensors or the simulator in real time, the terminal
//! view or a plain status line, and the figures (throughput, latency, reconnect time).
//!
//! Both drivers feed [`BleUpdate`]s into one consumer loop that owns the [`LiveSession`]; the
//! BLE device tasks and the simulator only produce records. The latency figure is measured from
//! the instant a notification was seen by its device task to the moment the session returned the
//! frames it completed (channel hop, decoding, merge, orientation, kinematics, file writes).

use super::{
    Command, LiveConfig, LiveError, LiveFigures, LiveOutputs, LiveSession, LiveView, view,
};
use crate::model::{ImuSample, SensorRole};
use crate::record::raw_log::{ConnEvent, DataDir, RawEntry, RawRecord};
use crate::source::StreamStats;
use crate::source::ble::{
    BleUpdate, DeviceLink, HostClock, LinkOptions, Target, open_adapter, resolve,
    spawn_central_events,
};
use crate::source::simulated::{SimDevice, SimNotification};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};

/// How the driver runs.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Stop after this long (otherwise at the end of the simulation, or on `q`/Ctrl-C).
    pub duration: Option<Duration>,
    /// Draw the terminal view (otherwise one status line per second on stderr).
    pub tui: bool,
    /// Ring the terminal bell on new warnings and lost links.
    pub bell: bool,
    /// Scan time limit for finding the sensors.
    pub scan_timeout: Duration,
    /// Device link settings.
    pub link: LinkOptions,
    /// Simulated sensors: play this many times faster than real time (1: real time).
    pub sim_speed: f64,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            duration: None,
            tui: false,
            bell: true,
            scan_timeout: Duration::from_secs(15),
            link: LinkOptions::default(),
            sim_speed: 1.0,
        }
    }
}

/// Latency figures, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    /// Frame-completing notifications measured.
    pub n: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl Latency {
    fn from(mut v: Vec<f32>) -> Latency {
        if v.is_empty() {
            return Latency::default();
        }
        v.sort_by(f32::total_cmp);
        let q = |p: f64| f64::from(v[((v.len() - 1) as f64 * p).round() as usize]);
        Latency {
            n: v.len(),
            p50_ms: q(0.5),
            p99_ms: q(0.99),
            max_ms: q(1.0),
        }
    }
}

/// What a finished session reports.
#[derive(Debug, Clone)]
pub struct LiveReport {
    /// Last view state.
    pub view: LiveView,
    /// Counters of the session.
    pub figures: LiveFigures,
    /// Per-sensor counters.
    pub sensors: Vec<(SensorRole, StreamStats)>,
    /// Notification-to-frame latency.
    pub latency: Latency,
}

impl LiveReport {
    /// Data notifications per second over the session (all sensors).
    pub fn notifications_per_s(&self) -> f64 {
        let n: u64 = self.sensors.iter().map(|s| s.1.notifications).sum();
        match (self.figures.first_rx_s, self.figures.last_rx_s) {
            (Some(a), Some(b)) if b > a => n as f64 / (b - a),
            _ => 0.0,
        }
    }

    /// The report as one JSON object (for `--summary-json` and the tests).
    pub fn to_json(&self) -> String {
        let sensors: Vec<serde_json::Value> = self
            .sensors
            .iter()
            .map(|(r, s)| {
                serde_json::json!({
                    "sensor": r.as_str(), "notifications": s.notifications, "samples": s.samples,
                    "missing": s.missing, "gaps": s.gaps, "reconnects": s.reconnects,
                    "decode_errors": s.decode_errors, "late_samples": s.late_samples,
                })
            })
            .collect();
        let reconnect: Vec<serde_json::Value> = self
            .figures
            .reconnect_s
            .iter()
            .map(|(r, s)| serde_json::json!({"sensor": r.as_str(), "seconds": s}))
            .collect();
        serde_json::json!({
            "records": self.figures.records,
            "frames": self.figures.frames,
            "duration_s": self.figures.last_rx_s.unwrap_or(0.0) - self.figures.first_rx_s.unwrap_or(0.0),
            "notifications_per_s": self.notifications_per_s(),
            "latency_ms": {"n": self.latency.n, "p50": self.latency.p50_ms, "p99": self.latency.p99_ms, "max": self.latency.max_ms},
            "reconnects": reconnect,
            "sensors": sensors,
        })
        .to_string()
    }
}

fn unix_now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn runtime() -> Result<tokio::runtime::Runtime, LiveError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(LiveError::Terminal)
}

/// Keys from the terminal, read on a plain thread (crossterm's poll blocks).
fn spawn_keys(stop: Arc<AtomicBool>) -> mpsc::UnboundedReceiver<crossterm::event::KeyEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use crossterm::event::{Event, poll, read};
        while !stop.load(Ordering::Relaxed) {
            if poll(Duration::from_millis(100)).unwrap_or(false)
                && let Ok(Event::Key(k)) = read()
                && tx.send(k).is_err()
            {
                break;
            }
        }
    });
    rx
}

fn is_quit(k: &crossterm::event::KeyEvent) -> bool {
    use crossterm::event::{KeyCode, KeyModifiers};
    matches!(k.code, KeyCode::Char('q') | KeyCode::Esc)
        || (k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL))
}

/// The keyboard's session commands.
fn command_of(k: &crossterm::event::KeyEvent) -> Option<Command> {
    use crossterm::event::KeyCode;
    match k.code {
        KeyCode::Char('b') | KeyCode::Char(' ') => Some(Command::ToggleBlock),
        KeyCode::Char('s') => Some(Command::SwitchSide),
        KeyCode::Char('t') => Some(Command::SwitchStretch),
        KeyCode::Char('c') => Some(Command::Recalibrate),
        _ => None,
    }
}

/// One plain-text status line: time, sensors, angles, stage or phase and hold, warnings.
pub fn status_line(v: &LiveView) -> String {
    let mut s = format!("{:7.1} s", v.t_s);
    for sv in &v.sensors {
        s.push_str(&format!(
            " | {} {} {:.0} Hz lost {}",
            sv.role,
            sv.state.label(),
            sv.rate_hz,
            sv.stats.missing
        ));
    }
    let a = v.angles.unwrap_or_default();
    let f = |x: Option<f64>| x.map(|x| format!("{x:.1}°")).unwrap_or("—".into());
    s.push_str(&format!(
        " | knee {} hip {}",
        f(a.knee_flexion_deg),
        f(a.hip_flexion_deg)
    ));
    match &v.stage {
        super::StageView::Waiting => s.push_str(" | waiting for every sensor"),
        super::StageView::Calibrating {
            instruction,
            left_s,
        } => s.push_str(&format!(" | calibration: {instruction} ({left_s:.0} s)")),
        super::StageView::CalibrationFailed(m) => {
            s.push_str(&format!(" | calibration failed: {m}"))
        }
        super::StageView::Running => {
            match &v.block {
                Some(b) => s.push_str(&format!(" | {b}")),
                None => s.push_str(" | no block (rest in position to start one)"),
            }
            if let Some(p) = &v.phase {
                s.push_str(&format!(" | phase {p}"));
            }
            if let Some(h) = v.hold_s {
                s.push_str(&format!(" | hold {h:.0} s of {:.0} s", v.hold_target_s));
            }
        }
    }
    for w in &v.warnings {
        s.push_str(&format!(" | {}: {}", w.severity, w.text));
    }
    s
}

/// The consumer loop shared by both drivers; returns when the producers end, the duration is
/// up, or the user quits.
async fn consume(
    session: &mut LiveSession<'_>,
    updates: &mut mpsc::Receiver<BleUpdate>,
    clock: HostClock,
    opts: &RunOptions,
) -> Result<Vec<f32>, LiveError> {
    let stop_keys = Arc::new(AtomicBool::new(false));
    let mut keys = if opts.tui {
        Some(spawn_keys(stop_keys.clone()))
    } else {
        None
    };
    let mut terminal = if opts.tui {
        Some(ratatui::init())
    } else {
        None
    };
    let started = Instant::now();
    let mut redraw = tokio::time::interval(Duration::from_millis(100));
    let mut last_status = Instant::now();
    let mut latencies: Vec<f32> = Vec::new();
    let result = loop {
        tokio::select! {
            u = updates.recv() => match u {
                Some(BleUpdate::Record { record, arrival }) => {
                    match session.on_record(&record) {
                        Ok(n) if n > 0 => latencies.push(arrival.elapsed().as_secs_f32() * 1000.0),
                        Ok(_) => {}
                        Err(e) => break Err(e),
                    }
                    if !opts.tui {
                        // Plain text: every event line as it happens, with the bell on cues.
                        print_timeline(session, opts);
                    }
                }
                Some(BleUpdate::AdapterOff) => {
                    session.view_mut().messages.push_back("Bluetooth was turned off: `bluetoothctl power on`".into());
                }
                Some(BleUpdate::LinkError { role, message }) => {
                    let t = clock.t_s(Instant::now());
                    session.view_mut().messages.push_back(format!("{t:7.1} s  {role}: {message}"));
                }
                None => break Ok(()),
            },
            _ = redraw.tick() => {
                session.refresh_sensors(clock.t_s(Instant::now()));
                if let Some(t) = terminal.as_mut() {
                    if let Err(e) = t.draw(|f| view::draw(f, session.view())) {
                        break Err(LiveError::Terminal(e));
                    }
                    // The view shows the messages; the plain-text timeline is not kept.
                    session.view_mut().timeline.clear();
                }
                if session.view().bell {
                    session.view_mut().bell = false;
                    if opts.bell && opts.tui {
                        let mut o = std::io::stdout();
                        let _ = o.write_all(b"\x07");
                        let _ = o.flush();
                    }
                }
                if !opts.tui && last_status.elapsed() >= Duration::from_secs(1) {
                    last_status = Instant::now();
                    eprintln!("{}", status_line(session.view()));
                }
                if opts.duration.is_some_and(|d| started.elapsed() >= d) {
                    break Ok(());
                }
            }
            k = async {
                match keys.as_mut() {
                    Some(k) => k.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if k.as_ref().is_some_and(is_quit) {
                    break Ok(());
                }
                if let Some(c) = k.as_ref().and_then(command_of) {
                    session.command(c);
                }
            }
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
    };
    stop_keys.store(true, Ordering::Relaxed);
    if terminal.is_some() {
        ratatui::restore();
    }
    result.map(|()| latencies)
}

/// Prints and clears the timeline lines the view collected (plain-text mode).
fn print_timeline(session: &mut LiveSession<'_>, opts: &RunOptions) {
    let v = session.view_mut();
    if v.timeline.is_empty() {
        return;
    }
    for line in v.timeline.drain(..) {
        eprintln!("stretchwatch: {line}");
    }
    if v.bell {
        v.bell = false;
        if opts.bell {
            eprint!("\x07");
        }
    }
}

/// After the consumer stops: let the producers finish (stop writes, disconnects) and log them.
async fn drain(session: &mut LiveSession<'_>, updates: &mut mpsc::Receiver<BleUpdate>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(u)) = tokio::time::timeout_at(deadline, updates.recv()).await {
        if let BleUpdate::Record { record, .. } = u {
            let _ = session.on_record(&record);
        }
    }
}

fn report(
    session: LiveSession<'_>,
    roles: &[SensorRole],
    latencies: Vec<f32>,
) -> Result<LiveReport, LiveError> {
    let sensors = roles
        .iter()
        .map(|&r| (r, session.stats(r).unwrap_or_default()))
        .collect();
    let (view, figures) = session.finish()?;
    Ok(LiveReport {
        view,
        figures,
        sensors,
        latency: Latency::from(latencies),
    })
}

/// Runs a live session from simulated sensors in real time: `notifications` (simulation time,
/// sorted) are sent as if by BLE devices starting at `from_s`.
pub fn run_simulated(
    cfg: LiveConfig,
    outputs: &LiveOutputs,
    source: &str,
    devices: &[SimDevice],
    notifications: Vec<SimNotification>,
    from_s: f64,
    opts: &RunOptions,
) -> Result<LiveReport, LiveError> {
    let rt = runtime()?;
    let roles: Vec<SensorRole> = cfg.devices.iter().map(|d| d.role).collect();
    let mut store = outputs
        .session_db
        .as_deref()
        .map(crate::store::Store::open)
        .transpose()?;
    let mut session = LiveSession::new(cfg, outputs, source, unix_now_s(), store.as_mut())?;
    let lat = rt.block_on(drive_simulated(
        &mut session,
        devices,
        notifications,
        from_s,
        opts,
    ));
    lat.and_then(|lat| report(session, &roles, lat))
}

/// The simulated driver on the current tokio runtime: a producer task sends the devices'
/// connection events, start writes and notifications at their simulation times (host time is
/// tokio's clock, so under paused time a test runs instantly and exactly), and the consumer
/// loop feeds `session`. Returns the latencies.
pub async fn drive_simulated(
    session: &mut LiveSession<'_>,
    devices: &[SimDevice],
    notifications: Vec<SimNotification>,
    from_s: f64,
    opts: &RunOptions,
) -> Result<Vec<f32>, LiveError> {
    let clock = HostClock::start();
    let (tx, mut rx) = mpsc::channel::<BleUpdate>(8192);
    let producer = tokio::spawn(produce_simulated(
        devices.to_vec(),
        notifications,
        from_s,
        opts.sim_speed,
        tx,
    ));
    let lat = consume(session, &mut rx, clock, opts).await;
    producer.abort();
    drain(session, &mut rx).await;
    lat
}

/// The simulated devices as a producer: connection events, start writes, then each notification
/// at its simulation time from `from_s` on, `speed` times faster than real time (1: real time;
/// host time is tokio's clock, so under paused time a test runs instantly and exactly).
pub async fn produce_simulated(
    devs: Vec<SimDevice>,
    notifications: Vec<SimNotification>,
    from_s: f64,
    speed: f64,
    tx: mpsc::Sender<BleUpdate>,
) {
    let start = tokio::time::Instant::now();
    let send = |entry: RawEntry| {
        let arrival = Instant::now();
        BleUpdate::Record {
            record: RawRecord {
                t_host_s: crate::record::raw_log::round_to_us(
                    (tokio::time::Instant::now() - start).as_secs_f64() * speed,
                ),
                entry,
            },
            arrival,
        }
    };
    for d in &devs {
        let (device, family) = (d.device.role, d.device.family);
        let ev = |event| RawEntry::Event {
            device,
            family,
            event,
        };
        if tx.send(send(ev(ConnEvent::Connected))).await.is_err() {
            return;
        }
        for w in &d.start_writes {
            let _ = tx
                .send(send(RawEntry::Data {
                    device,
                    family,
                    dir: DataDir::Tx,
                    char_uuid: w.char_uuid.to_string(),
                    bytes: w.bytes.clone(),
                }))
                .await;
        }
        let _ = tx.send(send(ev(ConnEvent::Subscribed))).await;
    }
    for n in notifications {
        let due = start + Duration::from_secs_f64((n.t_send_s - from_s).max(0.0) / speed);
        tokio::time::sleep_until(due).await;
        let family = devs
            .iter()
            .find(|d| d.device.role == n.role)
            .map(|d| d.device.family)
            .unwrap_or(crate::protocol::Family::OpenSensor);
        let rec = send(RawEntry::Data {
            device: n.role,
            family,
            dir: DataDir::Rx,
            char_uuid: n.char_uuid.to_string(),
            bytes: n.bytes,
        });
        if tx.send(rec).await.is_err() {
            return;
        }
    }
}

/// Runs a live session with BLE sensors: scan, connect, stream, reconnect, until the duration
/// is up or the user quits. `cfg.devices` is filled in from the scan.
pub fn run_ble(
    mut cfg: LiveConfig,
    targets: &[Target],
    rate_hz: Option<u32>,
    outputs: &LiveOutputs,
    opts: &RunOptions,
) -> Result<LiveReport, LiveError> {
    let rt = runtime()?;
    rt.block_on(async {
        let adapter = open_adapter().await?;
        eprintln!("stretchwatch: looking for {} sensor(s)…", targets.len());
        let resolved = resolve(&adapter, targets, rate_hz, opts.scan_timeout).await?;
        cfg.devices = resolved.iter().map(|(_, d)| d.clone()).collect();
        for d in &cfg.devices {
            eprintln!(
                "stretchwatch: {} = {} {} ({})",
                d.role,
                d.family.display_name(),
                d.name.as_deref().unwrap_or(""),
                d.address
            );
        }
        let roles: Vec<SensorRole> = cfg.devices.iter().map(|d| d.role).collect();
        let clock = HostClock::start();
        let mut store = outputs
            .session_db
            .as_deref()
            .map(crate::store::Store::open)
            .transpose()?;
        let mut session = LiveSession::new(cfg, outputs, "BLE", unix_now_s(), store.as_mut())?;
        let (tx, mut rx) = mpsc::channel::<BleUpdate>(8192);
        let disconnects = spawn_central_events(adapter.clone(), tx.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for (p, d) in resolved {
            let link = DeviceLink {
                peripheral: p,
                device: d,
                clock,
                updates: tx.clone(),
                disconnects: disconnects.subscribe(),
                stop: stop_rx.clone(),
                options: opts.link,
            };
            tasks.push(tokio::spawn(link.run()));
        }
        drop(tx);
        let lat = consume(&mut session, &mut rx, clock, opts).await;
        let _ = stop_tx.send(true);
        let join = async {
            for t in tasks {
                let _ = t.await;
            }
        };
        let drained = async { drain(&mut session, &mut rx).await };
        let _ = tokio::time::timeout(Duration::from_secs(4), async {
            tokio::join!(join, drained)
        })
        .await;
        let lat = lat?;
        report(session, &roles, lat)
    })
}

/// Samples of a simulated scenario (helper for the `--simulate` command).
pub fn sim_samples(out: &crate::sim::SimOutput) -> &[ImuSample] {
    &out.samples
}
