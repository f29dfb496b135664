//! The live edge of the web server: a driver thread runs [`LiveSession`]s (the one session engine
//! every command uses) from the simulator or BLE sensors, and [`WebSink`] turns the session's
//! typed outputs into messages for the browsers. Events and cues go out the moment the engine
//! emits them; the display state goes out at most [`DISPLAY_HZ`] times a second and only when a
//! new frame came (never more often than the engine's frame rate). Commands from the page
//! (start/stop a block, switch side or stretch, calibrate again) come back as [`Command`]s.

use super::WebError;
use super::cues::{CueGate, CueOut};
use crate::form::Event;
use crate::live::{Command, LiveConfig, LiveOutputs, LiveSession, LiveView, StageView};
use crate::model::{SensorRole, Side};
use crate::protocol::Family;
use crate::session::{Output, SessionEvent, SessionSink, SinkError};
use crate::source::ble::BleUpdate;
use crate::source::simulated::{SimDevice, SimNotification, encode_all, sim_devices};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc};

/// Display updates per second at most.
pub const DISPLAY_HZ: f64 = 30.0;

/// Wall-clock milliseconds (stamped on every message, so the page can measure the delay from
/// the engine's output to its own update).
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// A simulated session: a scenario played in real time (or faster, for tests).
#[derive(Debug, Clone)]
pub struct SimSource {
    /// Scenario name (preset such as `S2`) or TOML file.
    pub scenario: String,
    /// Family the simulated sensors speak.
    pub family: Family,
    /// Playback speed (1 = real time).
    pub speed: f64,
}

/// What the page asks of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubCommand {
    /// Start a session (no effect while one runs).
    Start,
    /// End the running session (it is summarised and stored).
    Stop,
    /// A session command (block, side, stretch, calibration).
    Session(Command),
}

/// Shared between the server and the driver thread: the message fan-out, the last display state
/// for newly connected pages, and the command queue.
pub struct LiveHub {
    tx: broadcast::Sender<Arc<str>>,
    latest: Mutex<Option<Arc<str>>>,
    commands: mpsc::UnboundedSender<HubCommand>,
}

impl LiveHub {
    /// Subscribes to the messages; returns the latest state first, if any.
    pub fn subscribe(&self) -> (Option<Arc<str>>, broadcast::Receiver<Arc<str>>) {
        let rx = self.tx.subscribe();
        let latest = self.latest.lock().ok().and_then(|l| l.clone());
        (latest, rx)
    }

    /// Queues a command for the driver.
    pub fn command(&self, c: HubCommand) -> Result<(), WebError> {
        self.commands
            .send(c)
            .map_err(|_| WebError::Live("the live session driver has stopped".into()))
    }

    fn publish(&self, msg: Value, keep: bool) {
        let text: Arc<str> = Arc::from(msg.to_string());
        if keep && let Ok(mut l) = self.latest.lock() {
            *l = Some(text.clone());
        }
        // No page connected is not an error.
        let _ = self.tx.send(text);
    }
}

/// What the sink gathers for the display between updates.
#[derive(Default)]
struct Gathered {
    frames: u64,
    primary_deg: Option<f64>,
    knee_deg: Option<f64>,
    gap: bool,
    reps: u32,
    dose_s: [f64; 2],
    block_side: Option<Side>,
    calibration_quality: Option<f64>,
}

/// The web sink: receives the session's outputs and publishes events and cues at once.
pub struct WebSink {
    hub: Arc<LiveHub>,
    gathered: Rc<RefCell<Gathered>>,
    cues: CueGate,
}

impl WebSink {
    fn cue(&self, c: CueOut) {
        self.hub.publish(
            json!({"type": "cue", "speak": c.speak, "chime": c.chime, "sent_ms": now_ms()}),
            false,
        );
    }

    fn event(&mut self, e: &SessionEvent) {
        let mut g = self.gathered.borrow_mut();
        match e {
            SessionEvent::Block(b) => {
                g.block_side = b.figures.is_none().then_some(b.side);
            }
            SessionEvent::Form {
                event: Event::Rep {
                    rep, static_hold_s, ..
                },
                ..
            } => {
                g.reps = g.reps.max(*rep);
                let side = g.block_side.unwrap_or_default();
                g.dose_s[side_index(side)] += static_hold_s;
            }
            _ => {}
        }
        drop(g);
        let form = e.form();
        let wire: Value = serde_json::from_str(&e.to_json()).unwrap_or(Value::Null);
        let severity = form.and_then(|f| f.severity()).map(|s| match s {
            crate::form::Severity::Warning => "warning",
            crate::form::Severity::Advisory => "advisory",
            crate::form::Severity::System => "system",
            crate::form::Severity::Info => "info",
        });
        let text = e.describe().map(|t| plain(&t));
        self.hub.publish(
            json!({
                "type": "event", "event": wire, "text": text, "severity": severity,
                "state": form.and_then(|f| f.state()).map(|s| match s {
                    crate::form::State::On => "on",
                    crate::form::State::Off => "off",
                }),
                "sent_ms": now_ms(),
            }),
            false,
        );
        if let Some(c) = form.and_then(|f| self.cues.on_event(f)) {
            self.cue(c);
        }
    }
}

impl SessionSink for WebSink {
    fn output(&mut self, out: &Output<'_>) -> Result<(), SinkError> {
        match out {
            Output::Frame(f) => {
                {
                    let mut g = self.gathered.borrow_mut();
                    g.frames += 1;
                    g.primary_deg = f.angles.hip_flexion_deg.or(f.angles.leg_raise_deg);
                    g.knee_deg = f.angles.knee_flexion_deg;
                    g.gap = f.angles.gap;
                }
                if let Some(c) = self.cues.on_frame(f.angles.t_s, f.static_hold_s) {
                    self.cue(c);
                }
            }
            Output::Event(e) => self.event(e),
            Output::Calibrated { profile, .. } => {
                let q = profile.quality.score;
                self.gathered.borrow_mut().calibration_quality = Some(q);
                let caveat = crate::calibration::accuracy_caveat(profile);
                self.hub.publish(
                    json!({"type": "calibrated", "quality": q, "caveat": caveat, "sent_ms": now_ms()}),
                    false,
                );
            }
            _ => {}
        }
        Ok(())
    }
}

/// The timeline wording for a person: without the severity word in front (the page shows it in
/// colour) and without the cue tag (the page plays the cue).
fn plain(text: &str) -> String {
    text.trim_start_matches("WARNING ")
        .trim_start_matches("ADVISORY ")
        .trim_start_matches("INFO ")
        .trim_start_matches("SYSTEM ")
        .replace(" [audio cue]", "")
        .replace(" [visual cue]", "")
}

fn side_index(s: Side) -> usize {
    match s {
        Side::Left => 0,
        Side::Right => 1,
    }
}

/// The display state of the page, from the live view and what the sink gathered.
fn state_message(v: &LiveView, g: &Gathered, cfg: &LiveConfig, running: bool) -> Value {
    let stage = match &v.stage {
        StageView::Waiting => {
            json!({"kind": "waiting", "instruction": "Waiting for every sensor to stream"})
        }
        StageView::Calibrating {
            instruction,
            left_s,
        } => json!({"kind": "calibrating", "instruction": instruction, "left_s": left_s}),
        StageView::Running => json!({"kind": "running"}),
        StageView::CalibrationFailed(m) => {
            json!({"kind": "failed", "instruction": m.replace("Press c", "Press Calibrate")})
        }
    };
    let baseline = cfg.baselines.for_block(v.side, v.stretch);
    let warnings: Vec<Value> = v
        .warnings
        .iter()
        .map(|w| json!({"key": w.key, "text": plain(&w.text), "severity": w.severity.to_ascii_lowercase()}))
        .collect();
    json!({
        "type": "state",
        "sent_ms": now_ms(),
        "running": running,
        "source": v.source,
        "t_s": v.t_s,
        "side": v.side.as_str(),
        "stretch": v.stretch.as_str(),
        "block": v.block,
        "stage": stage,
        "phase": v.phase,
        "primary_deg": g.primary_deg,
        "knee_deg": g.knee_deg,
        "knee_band_deg": cfg.form.knee_lock.band_deg,
        "gap": g.gap,
        "hold_s": v.hold_s,
        "hold_target_s": v.hold_target_s,
        "reps": g.reps,
        "dose_s": {"left": g.dose_s[0], "right": g.dose_s[1]},
        "dose_target_s": cfg.form.hold.dose_target_s,
        "baseline_deg": baseline.map(|b| b.value_deg),
        "limit_deg": baseline.map(|b| b.value_deg + b.delta_deg),
        "warnings": warnings,
        "messages": v.messages,
        "notes": v.notes,
        "sensors": v.sensors.iter().map(|s| json!({"role": s.role.as_str(), "state": s.state.label(), "rate_hz": s.rate_hz})).collect::<Vec<_>>(),
        "calibration_quality": g.calibration_quality,
        "accuracy": v.accuracy,
        "frames": g.frames,
    })
}

/// How the driver runs sessions.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Session settings (devices are filled in per session).
    pub live: LiveConfig,
    /// The simulated source; `None`: BLE.
    pub sim: Option<SimSource>,
    /// BLE sensors to look for (when not simulated).
    pub targets: Vec<crate::source::ble::Target>,
    /// Session database the sessions are stored in.
    pub db: Option<PathBuf>,
}

/// Starts the driver thread; returns the hub the server shares.
pub fn spawn_driver(cfg: DriverConfig) -> Result<Arc<LiveHub>, WebError> {
    let (tx, _) = broadcast::channel(1024);
    let (ctx, crx) = mpsc::unbounded_channel();
    let hub = Arc::new(LiveHub {
        tx,
        latest: Mutex::new(None),
        commands: ctx,
    });
    let h = hub.clone();
    std::thread::Builder::new()
        .name("live-session".into())
        .spawn(move || {
            // The session is synchronous and single-threaded (its sinks share state without
            // locks), so it gets a runtime of its own and never blocks the server's.
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    h.publish(json!({"type": "error", "message": e.to_string()}), true);
                    return;
                }
            };
            rt.block_on(driver_loop(cfg, h, crx));
        })
        .map_err(|e| WebError::Live(e.to_string()))?;
    Ok(hub)
}

async fn driver_loop(
    cfg: DriverConfig,
    hub: Arc<LiveHub>,
    mut commands: mpsc::UnboundedReceiver<HubCommand>,
) {
    hub.publish(idle_message(&cfg, None), true);
    while let Some(c) = commands.recv().await {
        if c != HubCommand::Start {
            continue;
        }
        let ended = match run_one(&cfg, &hub, &mut commands).await {
            Ok(v) => v,
            Err(e) => json!({"type": "error", "message": e.to_string()}),
        };
        hub.publish(ended.clone(), false);
        hub.publish(idle_message(&cfg, Some(ended)), true);
    }
}

fn idle_message(cfg: &DriverConfig, last: Option<Value>) -> Value {
    json!({
        "type": "idle",
        "source": match &cfg.sim { Some(s) => format!("simulated {}", s.scenario), None => "BLE sensors".into() },
        "side": cfg.live.side.as_str(),
        "stretch": cfg.live.stretch.as_str(),
        "last": last,
        "sent_ms": now_ms(),
    })
}

/// The simulated notifications and devices of a scenario.
fn prepare_sim(
    s: &SimSource,
    live: &mut LiveConfig,
) -> Result<(Vec<SimDevice>, Vec<SimNotification>, String), WebError> {
    let scn =
        crate::sim::Simulation::resolve(&s.scenario).map_err(|e| WebError::Live(e.to_string()))?;
    let rate = s.family.default_rate_hz();
    let out = scn.run(&crate::sim::SimOptions::new(
        f64::from(rate),
        crate::sim::Variant::Realistic,
        42,
    ));
    live.stretch = out.header.stretch.unwrap_or(live.stretch);
    live.side = out.header.side.unwrap_or(live.side);
    let mut roles = vec![SensorRole::Thigh, SensorRole::Shank];
    if scn.pelvis_sensor() {
        roles.push(SensorRole::Pelvis);
    }
    let devices = sim_devices(&roles, s.family, rate).map_err(|e| WebError::Live(e.to_string()))?;
    live.devices = devices.iter().map(|d| d.device.clone()).collect();
    let notes = encode_all(&out.samples, &devices, 1, 0.0, f64::INFINITY)
        .map_err(|e| WebError::Live(e.to_string()))?;
    Ok((devices, notes, format!("simulated {}", scn.name())))
}

/// Runs one session until it ends or the page stops it; returns the `ended` message.
async fn run_one(
    cfg: &DriverConfig,
    hub: &Arc<LiveHub>,
    commands: &mut mpsc::UnboundedReceiver<HubCommand>,
) -> Result<Value, WebError> {
    let mut live = cfg.live.clone();
    let (tx, mut rx) = mpsc::channel::<BleUpdate>(8192);
    let mut producers = Vec::new();
    let mut ble_stop = None;
    let source = match &cfg.sim {
        Some(s) => {
            let (devs, notes, source) = prepare_sim(s, &mut live)?;
            producers.push(tokio::spawn(crate::live::run::produce_simulated(
                devs,
                notes,
                0.0,
                s.speed,
                tx.clone(),
            )));
            source
        }
        None if cfg.targets.is_empty() => {
            return Err(WebError::Live(
                "no sensors named: start `stretchwatch serve` with --thigh and --shank (or --simulate)".into(),
            ));
        }
        None => {
            hub.publish(
                json!({"type": "notice", "message": "Looking for the sensors…", "sent_ms": now_ms()}),
                false,
            );
            let adapter = crate::source::ble::open_adapter()
                .await
                .map_err(|e| WebError::Live(e.to_string()))?;
            let resolved =
                crate::source::ble::resolve(&adapter, &cfg.targets, None, Duration::from_secs(15))
                    .await
                    .map_err(|e| WebError::Live(e.to_string()))?;
            live.devices = resolved.iter().map(|(_, d)| d.clone()).collect();
            let clock = crate::source::ble::HostClock::start();
            let disconnects = crate::source::ble::spawn_central_events(adapter.clone(), tx.clone());
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            for (p, d) in resolved {
                let link = crate::source::ble::DeviceLink {
                    peripheral: p,
                    device: d,
                    clock,
                    updates: tx.clone(),
                    disconnects: disconnects.subscribe(),
                    stop: stop_rx.clone(),
                    options: Default::default(),
                };
                producers.push(tokio::spawn(link.run()));
            }
            ble_stop = Some(stop_tx);
            "BLE".to_string()
        }
    };
    drop(tx);
    let outputs = LiveOutputs {
        session_db: cfg.db.clone(),
        ..Default::default()
    };
    let mut store = outputs
        .session_db
        .as_deref()
        .map(crate::store::Store::open)
        .transpose()
        .map_err(|e| WebError::Live(e.to_string()))?;
    let started = now_ms() / 1000.0;
    let mut session = LiveSession::new(live.clone(), &outputs, &source, started, store.as_mut())
        .map_err(|e| WebError::Live(e.to_string()))?;
    let gathered = Rc::new(RefCell::new(Gathered::default()));
    session.add_sink(Box::new(WebSink {
        hub: hub.clone(),
        gathered: gathered.clone(),
        cues: CueGate::default(),
    }));
    let host_start = Instant::now();
    let speed = cfg.sim.as_ref().map_or(1.0, |s| s.speed);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / DISPLAY_HZ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_frames = u64::MAX;
    let mut last_idle_push = Instant::now();
    let result: Result<(), WebError> = loop {
        tokio::select! {
            u = rx.recv() => match u {
                Some(BleUpdate::Record { record, .. }) => {
                    if let Err(e) = session.on_record(&record) {
                        break Err(WebError::Live(e.to_string()));
                    }
                }
                Some(BleUpdate::AdapterOff) => session.view_mut().messages.push_back("Bluetooth was turned off".into()),
                Some(BleUpdate::LinkError { role, message }) => session.view_mut().messages.push_back(format!("{role}: {message}")),
                None => break Ok(()),
            },
            _ = tick.tick() => {
                session.refresh_sensors(host_start.elapsed().as_secs_f64() * speed);
                let frames = gathered.borrow().frames;
                // A new frame, or (while calibrating or waiting, without frames) a few updates a
                // second for the countdown.
                if frames != last_frames || last_idle_push.elapsed() >= Duration::from_millis(250) {
                    last_frames = frames;
                    last_idle_push = Instant::now();
                    let msg = state_message(session.view(), &gathered.borrow(), &live, true);
                    hub.publish(msg, true);
                }
            }
            c = commands.recv() => match c {
                Some(HubCommand::Session(c)) => session.command(c),
                Some(HubCommand::Stop) | None => break Ok(()),
                Some(HubCommand::Start) => {}
            },
        }
    };
    if let Some(s) = ble_stop {
        let _ = s.send(true);
    }
    for p in producers {
        p.abort();
    }
    result?;
    let (view, figures) = session
        .finish()
        .map_err(|e| WebError::Live(e.to_string()))?;
    let g = gathered.borrow();
    let mut last = state_message(&view, &g, &live, false);
    last["type"] = json!("state");
    hub.publish(last, false);
    Ok(json!({
        "type": "ended",
        "summary": view.summary,
        "stored_session_id": figures.stored_session_id,
        "sent_ms": now_ms(),
    }))
}
