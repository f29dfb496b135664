//! The BLE edge: scanning, connecting, streaming and reconnecting through btleplug on tokio.
//!
//! Nothing here decodes. Each device runs in its own task that forwards every notification,
//! write and connection event as a [`RawRecord`] stamped with host time the moment it is seen
//! (rust-stack.md 7: drain `notifications()` in a dedicated task, take it before `subscribe`).
//! The consumer (the live session) decodes them with the same code a raw-log replay uses.
//!
//! A device task is a reconnect state machine: connect (with timeout) → discover → subscribe →
//! start writes → stream, watched by a silence watchdog, `is_connected` polls and the adapter's
//! `DeviceDisconnected` events (events are hints, rust-stack.md 7). After a drop it logs
//! `disconnected`, waits, and connects again (`reconnect_failed` per failed attempt) until the
//! session ends; the session goes on with the other sensors meanwhile.
//!
//! Errors are classified into one-line user messages ([`BleError`]) following rust-stack.md 1.5:
//! btleplug wraps every BlueZ failure as `Error::Other`, so the D-Bus error *name* is inspected.

use crate::model::SensorRole;
use crate::protocol::{Family, GattWrite, stream_setup};
use crate::record::raw_log::{ConnEvent, DataDir, RawDevice, RawEntry, RawRecord, round_to_us};
use crate::source::is_data_char;
use btleplug::api::ValueNotification;
use btleplug::api::{
    Central, CentralEvent, CentralState, Characteristic, Manager as _, Peripheral as _, ScanFilter,
    WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral, PeripheralId};
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, watch};

/// Errors of the BLE layer; each is one line that tells the user what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BleError {
    /// No system D-Bus socket.
    #[error(
        "no system D-Bus found (is this a container or WSL?): start dbus, or try `stretchwatch live --simulate S1`"
    )]
    NoSystemBus,
    /// D-Bus is up but nothing provides org.bluez.
    #[error("BlueZ (bluetoothd) is not running: `sudo systemctl start bluetooth`")]
    NoBluetoothService,
    /// BlueZ has no controller.
    #[error("no Bluetooth controller found (`bluetoothctl list` shows none)")]
    NoAdapter,
    /// The controller is powered off.
    #[error(
        "Bluetooth is off: `bluetoothctl power on` (or unblock it with `rfkill unblock bluetooth`)"
    )]
    PoweredOff,
    /// No advertising device matched the requested address or name.
    #[error(
        "{role} sensor '{query}' not found in a {timeout_s:.0} s scan (charged, in range, not connected to another app? `stretchwatch scan` lists what is visible)"
    )]
    DeviceNotFound {
        /// Role it was wanted for.
        role: SensorRole,
        /// Address or name given.
        query: String,
        /// How long the scan ran, seconds.
        timeout_s: f64,
    },
    /// The device is not of a supported family.
    #[error(
        "{role} sensor '{query}' ({name}, {address}) is not a supported sensor (WitMotion BLE 5.0, Movesense GSP, Movella DOT or the open sensor protocol)"
    )]
    Unsupported {
        /// Role it was wanted for.
        role: SensorRole,
        /// Address or name given.
        query: String,
        /// Advertised name.
        name: String,
        /// Address.
        address: String,
    },
    /// A BLE operation did not finish in time.
    #[error("{role} sensor {address}: {what} timed out after {timeout_s:.0} s")]
    Timeout {
        /// Device role.
        role: SensorRole,
        /// Device address.
        address: String,
        /// Operation.
        what: &'static str,
        /// Limit, seconds.
        timeout_s: f64,
    },
    /// The device lacks a characteristic its family needs.
    #[error("{role} sensor {address}: characteristic {uuid} not found (not a {family} device?)")]
    MissingCharacteristic {
        /// Device role.
        role: SensorRole,
        /// Device address.
        address: String,
        /// Family expected.
        family: Family,
        /// Characteristic UUID.
        uuid: String,
    },
    /// Anything else btleplug reports.
    #[error("Bluetooth: {0}")]
    Other(String),
}

/// Classifies a btleplug error (rust-stack.md 1.5).
pub fn classify(err: &btleplug::Error) -> BleError {
    #[cfg(target_os = "linux")]
    if let btleplug::Error::Other(inner) = err
        && let Some(bluez_async::BluetoothError::DbusError(e)) =
            inner.downcast_ref::<bluez_async::BluetoothError>()
    {
        return match e.name() {
            Some("org.freedesktop.DBus.Error.FileNotFound")
            | Some("org.freedesktop.DBus.Error.NoServer") => BleError::NoSystemBus,
            Some("org.freedesktop.DBus.Error.ServiceUnknown") => BleError::NoBluetoothService,
            _ => BleError::Other(one_line(&err.to_string())),
        };
    }
    if matches!(err, btleplug::Error::NoAdapterAvailable) {
        return BleError::NoAdapter;
    }
    BleError::Other(one_line(&err.to_string()))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Connects to the system's first Bluetooth adapter and checks it is powered.
pub async fn open_adapter() -> Result<Adapter, BleError> {
    #[cfg(target_os = "macos")]
    eprintln!(
        "stretchwatch: macOS asks for Bluetooth permission for your terminal app on first use; if the program is killed, grant it in System Settings → Privacy & Security → Bluetooth"
    );
    let manager = Manager::new().await.map_err(|e| classify(&e))?;
    let adapter = manager
        .adapters()
        .await
        .map_err(|e| classify(&e))?
        .into_iter()
        .next()
        .ok_or(BleError::NoAdapter)?;
    if let Ok(CentralState::PoweredOff) = adapter.adapter_state().await {
        return Err(BleError::PoweredOff);
    }
    Ok(adapter)
}

/// A device seen in a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Supported family, if recognised.
    pub family: Option<Family>,
    /// Advertised local name.
    pub name: Option<String>,
    /// BLE address.
    pub address: String,
    /// Signal strength, dBm.
    pub rssi: Option<i16>,
}

async fn describe(p: &Peripheral) -> Option<Found> {
    let props = p.properties().await.ok()??;
    let services: Vec<String> = props.services.iter().map(|u| u.to_string()).collect();
    let name = props.local_name.or(props.advertisement_name);
    Some(Found {
        family: Family::detect(name.as_deref().unwrap_or(""), &services),
        name,
        address: props.address.to_string(),
        rssi: props.rssi,
    })
}

/// Scans for `duration` and lists every device seen, supported families first, strongest first.
pub async fn scan(adapter: &Adapter, duration: Duration) -> Result<Vec<Found>, BleError> {
    adapter
        .start_scan(ScanFilter::default())
        .await
        .map_err(|e| classify(&e))?;
    tokio::time::sleep(duration).await;
    let _ = adapter.stop_scan().await;
    let mut out = Vec::new();
    for p in adapter.peripherals().await.map_err(|e| classify(&e))? {
        if let Some(f) = describe(&p).await {
            out.push(f);
        }
    }
    out.sort_by(|a, b| {
        (a.family.is_none(), std::cmp::Reverse(a.rssi))
            .cmp(&(b.family.is_none(), std::cmp::Reverse(b.rssi)))
    });
    Ok(out)
}

/// A sensor the user asked for: its role and an address or advertised name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Segment it is worn on.
    pub role: SensorRole,
    /// Address (any case) or advertised name (exact, then case-insensitive).
    pub query: String,
}

fn matches(query: &str, f: &Found) -> bool {
    f.address.eq_ignore_ascii_case(query)
        || f.name
            .as_deref()
            .is_some_and(|n| n == query || n.eq_ignore_ascii_case(query))
}

/// Scans until every target is seen (or `timeout`) and returns the peripherals with their
/// header entries, in target order.
pub async fn resolve(
    adapter: &Adapter,
    targets: &[Target],
    rate_hz: Option<u32>,
    timeout: Duration,
) -> Result<Vec<(Peripheral, RawDevice)>, BleError> {
    adapter
        .start_scan(ScanFilter::default())
        .await
        .map_err(|e| classify(&e))?;
    let start = Instant::now();
    let mut found: Vec<Option<(Peripheral, Found)>> = vec![None; targets.len()];
    loop {
        for p in adapter.peripherals().await.map_err(|e| classify(&e))? {
            let Some(f) = describe(&p).await else {
                continue;
            };
            for (i, t) in targets.iter().enumerate() {
                if found[i].is_none() && matches(&t.query, &f) {
                    found[i] = Some((p.clone(), f.clone()));
                }
            }
        }
        if found.iter().all(Option::is_some) || start.elapsed() >= timeout {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = adapter.stop_scan().await;
    let mut out = Vec::new();
    for (t, f) in targets.iter().zip(found) {
        let Some((p, f)) = f else {
            return Err(BleError::DeviceNotFound {
                role: t.role,
                query: t.query.clone(),
                timeout_s: timeout.as_secs_f64(),
            });
        };
        let Some(family) = f.family else {
            return Err(BleError::Unsupported {
                role: t.role,
                query: t.query.clone(),
                name: f.name.clone().unwrap_or_else(|| "no name".into()),
                address: f.address.clone(),
            });
        };
        out.push((
            p,
            RawDevice {
                role: t.role,
                family,
                address: f.address,
                name: f.name,
                rate_hz: rate_hz.unwrap_or_else(|| family.default_rate_hz()),
                mtu: None,
            },
        ));
    }
    Ok(out)
}

/// Host clock shared by the device tasks: seconds since the session start, whole microseconds.
#[derive(Debug, Clone, Copy)]
pub struct HostClock {
    start: Instant,
}

impl HostClock {
    /// A clock starting now.
    pub fn start() -> Self {
        HostClock {
            start: Instant::now(),
        }
    }

    /// A clock that started at `start`.
    pub fn from_instant(start: Instant) -> Self {
        HostClock { start }
    }

    /// Host time of `at`, seconds (µs resolution, as in the raw log).
    pub fn t_s(&self, at: Instant) -> f64 {
        round_to_us(at.saturating_duration_since(self.start).as_secs_f64())
    }
}

/// What the BLE edge sends to the session.
#[derive(Debug, Clone)]
pub enum BleUpdate {
    /// A record for the raw log and the decoders, with the instant it was seen.
    Record {
        /// The record.
        record: RawRecord,
        /// When it arrived (for latency figures; not used by the decoders).
        arrival: Instant,
    },
    /// The adapter reported it was powered off.
    AdapterOff,
    /// A connection attempt failed (a `reconnect_failed` record precedes this).
    LinkError {
        /// Device.
        role: SensorRole,
        /// One-line reason.
        message: String,
    },
}

/// Timeouts and watchdog settings of a device task.
#[derive(Debug, Clone, Copy)]
pub struct LinkOptions {
    /// Limit for connect and for service discovery, each.
    pub connect_timeout: Duration,
    /// No notification for this long means the stream is dead: drop and reconnect.
    pub silence: Duration,
    /// First wait before reconnecting; doubles per failure up to 2 s.
    pub backoff: Duration,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            connect_timeout: Duration::from_secs(10),
            silence: Duration::from_millis(1500),
            backoff: Duration::from_millis(100),
        }
    }
}

/// Forwards the adapter's disconnect events to the device tasks and power-off to the session.
pub fn spawn_central_events(
    adapter: Adapter,
    updates: mpsc::Sender<BleUpdate>,
) -> broadcast::Sender<PeripheralId> {
    let (tx, _) = broadcast::channel(64);
    let txc = tx.clone();
    tokio::spawn(async move {
        let Ok(mut events) = adapter.events().await else {
            return;
        };
        while let Some(ev) = events.next().await {
            match ev {
                CentralEvent::DeviceDisconnected(id) => {
                    let _ = txc.send(id);
                }
                CentralEvent::StateUpdate(CentralState::PoweredOff) => {
                    let _ = updates.send(BleUpdate::AdapterOff).await;
                }
                _ => {}
            }
        }
    });
    tx
}

/// Forwards every notification of one connection, stamped on arrival.
async fn forward(
    mut stream: std::pin::Pin<Box<dyn futures::Stream<Item = ValueNotification> + Send>>,
    clock: HostClock,
    role: SensorRole,
    family: Family,
    updates: mpsc::Sender<BleUpdate>,
    last_rx_us: Arc<AtomicU64>,
) {
    while let Some(n) = stream.next().await {
        let arrival = Instant::now();
        let t_host_s = clock.t_s(arrival);
        last_rx_us.store((t_host_s * 1e6) as u64 + 1, Ordering::Relaxed);
        let record = RawRecord {
            t_host_s,
            entry: RawEntry::Data {
                device: role,
                family,
                dir: DataDir::Rx,
                char_uuid: n.uuid.to_string(),
                bytes: n.value,
            },
        };
        if updates
            .send(BleUpdate::Record { record, arrival })
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Everything one device task needs.
pub struct DeviceLink {
    /// The peripheral.
    pub peripheral: Peripheral,
    /// Its header entry.
    pub device: RawDevice,
    /// Session clock.
    pub clock: HostClock,
    /// Where records go.
    pub updates: mpsc::Sender<BleUpdate>,
    /// Adapter disconnect events.
    pub disconnects: broadcast::Receiver<PeripheralId>,
    /// Becomes true when the session ends.
    pub stop: watch::Receiver<bool>,
    /// Timeouts.
    pub options: LinkOptions,
}

enum StreamEnd {
    Stopped,
    Dropped,
}

impl DeviceLink {
    async fn send(&self, entry: RawEntry) {
        let arrival = Instant::now();
        let record = RawRecord {
            t_host_s: self.clock.t_s(arrival),
            entry,
        };
        let _ = self
            .updates
            .send(BleUpdate::Record { record, arrival })
            .await;
    }

    async fn event(&self, event: ConnEvent) {
        self.send(RawEntry::Event {
            device: self.device.role,
            family: self.device.family,
            event,
        })
        .await;
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    fn timeout_err(&self, what: &'static str) -> BleError {
        BleError::Timeout {
            role: self.device.role,
            address: self.device.address.clone(),
            what,
            timeout_s: self.options.connect_timeout.as_secs_f64(),
        }
    }

    async fn write(&self, chars: &[Characteristic], w: &GattWrite) -> Result<(), BleError> {
        let c = chars
            .iter()
            .find(|c| c.uuid.to_string() == w.char_uuid)
            .ok_or_else(|| BleError::MissingCharacteristic {
                role: self.device.role,
                address: self.device.address.clone(),
                family: self.device.family,
                uuid: w.char_uuid.to_string(),
            })?;
        self.send(RawEntry::Data {
            device: self.device.role,
            family: self.device.family,
            dir: DataDir::Tx,
            char_uuid: w.char_uuid.to_string(),
            bytes: w.bytes.clone(),
        })
        .await;
        let kind = if w.with_response {
            WriteType::WithResponse
        } else {
            WriteType::WithoutResponse
        };
        tokio::time::timeout(
            self.options.connect_timeout,
            self.peripheral.write(c, &w.bytes, kind),
        )
        .await
        .map_err(|_| self.timeout_err("write"))?
        .map_err(|e| classify(&e))?;
        if w.delay_after_ms > 0 {
            tokio::time::sleep(Duration::from_millis(u64::from(w.delay_after_ms))).await;
        }
        Ok(())
    }

    /// One connection: connect, set up, stream until the link drops or the session stops.
    async fn connect_and_stream(&mut self) -> Result<StreamEnd, BleError> {
        let p = self.peripheral.clone();
        let limit = self.options.connect_timeout;
        if !p.is_connected().await.unwrap_or(false) {
            tokio::time::timeout(limit, p.connect())
                .await
                .map_err(|_| self.timeout_err("connect"))?
                .map_err(|e| classify(&e))?;
        }
        self.event(ConnEvent::Connected).await;
        tokio::time::timeout(limit, p.discover_services())
            .await
            .map_err(|_| self.timeout_err("service discovery"))?
            .map_err(|e| classify(&e))?;
        let family = self.device.family;
        let setup = stream_setup(family, self.device.rate_hz)
            .map_err(|e| BleError::Other(e.to_string()))?;
        let chars: Vec<Characteristic> = p.characteristics().into_iter().collect();
        let notify = chars
            .iter()
            .find(|c| is_data_char(family, &c.uuid.to_string()))
            .cloned()
            .ok_or_else(|| BleError::MissingCharacteristic {
                role: self.device.role,
                address: self.device.address.clone(),
                family,
                uuid: setup.notify_char.to_string(),
            })?;
        // Take the stream before subscribing so that no early notification is missed, and drain
        // it in its own task from now on: a notification is stamped when it arrives, not when
        // this task gets round to it (the start writes below pause between commands).
        let stream = p.notifications().await.map_err(|e| classify(&e))?;
        let last_rx_us = Arc::new(AtomicU64::new(0));
        let mut forwarder = tokio::spawn(forward(
            stream,
            self.clock,
            self.device.role,
            family,
            self.updates.clone(),
            last_rx_us.clone(),
        ));
        let result = self
            .start_and_watch(&p, &chars, &notify, &setup, &mut forwarder, &last_rx_us)
            .await;
        forwarder.abort();
        result
    }

    async fn start_and_watch(
        &mut self,
        p: &Peripheral,
        chars: &[Characteristic],
        notify: &Characteristic,
        setup: &crate::protocol::StreamSetup,
        forwarder: &mut tokio::task::JoinHandle<()>,
        last_rx_us: &AtomicU64,
    ) -> Result<StreamEnd, BleError> {
        let limit = self.options.connect_timeout;
        for w in &setup.before_subscribe {
            self.write(chars, w).await?;
        }
        tokio::time::timeout(limit, p.subscribe(notify))
            .await
            .map_err(|_| self.timeout_err("subscribe"))?
            .map_err(|e| classify(&e))?;
        for w in &setup.after_subscribe {
            self.write(chars, w).await?;
        }
        self.event(ConnEvent::Subscribed).await;

        let subscribed = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut polls = 0u32;
        let id = p.id();
        loop {
            tokio::select! {
                _ = &mut *forwarder => return Ok(StreamEnd::Dropped),
                gone = self.disconnects.recv() => {
                    if matches!(gone, Ok(ref g) if *g == id) {
                        return Ok(StreamEnd::Dropped);
                    }
                }
                _ = tick.tick() => {
                    polls += 1;
                    let last = last_rx_us.load(Ordering::Relaxed);
                    let last_rx = if last == 0 {
                        subscribed
                    } else {
                        self.clock.start + Duration::from_micros(last)
                    };
                    if last_rx.max(subscribed).elapsed() > self.options.silence {
                        let _ = tokio::time::timeout(Duration::from_secs(2), p.disconnect()).await;
                        return Ok(StreamEnd::Dropped);
                    }
                    if polls.is_multiple_of(2) && !p.is_connected().await.unwrap_or(true) {
                        return Ok(StreamEnd::Dropped);
                    }
                }
                _ = self.stop.changed() => {
                    for w in &setup.stop {
                        let _ = self.write(chars, w).await;
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(2), p.unsubscribe(notify)).await;
                    let _ = tokio::time::timeout(Duration::from_secs(2), p.disconnect()).await;
                    return Ok(StreamEnd::Stopped);
                }
            }
        }
    }

    /// Runs until the session stops, reconnecting after every drop.
    pub async fn run(mut self) {
        let mut backoff = self.options.backoff;
        while !self.stopped() {
            match self.connect_and_stream().await {
                Ok(StreamEnd::Stopped) => break,
                Ok(StreamEnd::Dropped) => {
                    backoff = self.options.backoff;
                    self.event(ConnEvent::Disconnected).await;
                }
                Err(e) => {
                    self.event(ConnEvent::ReconnectFailed).await;
                    let _ = self
                        .updates
                        .send(BleUpdate::LinkError {
                            role: self.device.role,
                            message: e.to_string(),
                        })
                        .await;
                    let _ =
                        tokio::time::timeout(Duration::from_secs(2), self.peripheral.disconnect())
                            .await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.stop.changed() => break,
            }
        }
    }
}
