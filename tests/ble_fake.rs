//! The real btleplug path against a fake BlueZ on a private D-Bus (rust-stack.md 2.2).
//!
//! Starts `dbus-daemon` with a private system-bus config and python-dbusmock with
//! `tests/fake_bluez/stretchwatch_bluez.py` (the `bluez5` template plus GATT objects), which
//! streams WitMotion and open-protocol notifications generated from a simulated scenario. Then
//! runs the `stretchwatch` binary with `DBUS_SYSTEM_BUS_ADDRESS` pointing at that bus. Skips, with
//! a message, only when python3-dbusmock is not installed (`apt-get install python3-dbusmock`).
//!
//! Figures (notifications/s, latency p50/p99, reconnect time) are printed: run with
//! `cargo test --test ble_fake -- --nocapture`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stretchwatch::calibration::CalibrationProfile;
use stretchwatch::form::FormConfig;
use stretchwatch::model::SensorRole;
use stretchwatch::protocol::{Family, open, witmotion};
use stretchwatch::replay::calibrate_file;
use stretchwatch::session::sinks::{AnglesCsvSink, JsonEventsSink};
use stretchwatch::session::source::RecordingFile;
use stretchwatch::session::{Fanout, Session};
use stretchwatch::sim;
use stretchwatch::source::simulated::encode_role;

const PYTHON: &str = "/usr/bin/python3";

fn dbusmock_available() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import dbusmock, dbus, gi"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

macro_rules! require_dbusmock {
    () => {
        if !dbusmock_available() {
            // In CI the packages are installed by .ci/run: a missing one is a failure there.
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "python3-dbusmock is not installed but CI=true: the fake-BlueZ test must run in CI"
            );
            eprintln!(
                "SKIPPED: python3-dbusmock is not installed (apt-get install python3-dbusmock); the fake-BlueZ test needs it"
            );
            return;
        }
    };
}

fn tmp_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A private system bus, optionally with the fake BlueZ on it; both are killed on drop.
struct FakeBus {
    address: String,
    children: Vec<Child>,
    dir: PathBuf,
    status: PathBuf,
}

impl Drop for FakeBus {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl FakeBus {
    fn start(parent: &Path, name: &str) -> FakeBus {
        let dir = &parent.join(name);
        std::fs::create_dir_all(dir).unwrap();
        let socket = dir.join("system_bus_socket");
        let conf = dir.join("system.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/> <allow own="*"/> <allow send_type="method_call"/>
    <allow send_destination="*" eavesdrop="true"/> <allow eavesdrop="true"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .arg("--nofork")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (package dbus-daemon) must be installed");
        let t0 = Instant::now();
        while !socket.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "dbus-daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        FakeBus {
            address: format!("unix:path={}", socket.display()),
            children: vec![daemon],
            dir: dir.clone(),
            status: dir.join("status.json"),
        }
    }

    /// Starts the fake BlueZ with `config` (JSON) and waits until it is serving.
    fn with_bluez(mut self, config: &serde_json::Value) -> FakeBus {
        let dir = &self.dir.clone();
        let mut config = config.clone();
        config["status"] = self.status.display().to_string().into();
        let cfg_path = dir.join("fake_bluez.json");
        std::fs::write(&cfg_path, config.to_string()).unwrap();
        let template =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_bluez/stretchwatch_bluez.py");
        let log = std::fs::File::create(dir.join("dbusmock.log")).unwrap();
        let child = Command::new(PYTHON)
            .args(["-m", "dbusmock", "--system", "--template"])
            .arg(&template)
            .arg("-p")
            .arg(serde_json::json!({"config": cfg_path.display().to_string()}).to_string())
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children.push(child);
        let t0 = Instant::now();
        while !self.status.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "fake BlueZ did not start; see {}",
                dir.join("dbusmock.log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self
    }

    fn stretchwatch(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_stretchwatch"))
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            // Live sessions are stored as they go: keep them in this test's own database.
            .env("STRETCHWATCH_DB", self.dir.join("sessions.db"))
            .output()
            .unwrap()
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&self.status).unwrap()).unwrap()
    }
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn error_messages_without_a_usable_bluetooth_stack() {
    // No system bus at all: needs nothing installed.
    let o = Command::new(env!("CARGO_BIN_EXE_stretchwatch"))
        .args(["scan", "--seconds", "0.5"])
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            "unix:path=/nonexistent/stretchwatch_bus",
        )
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr_of(&o);
    assert!(e.contains("no system D-Bus found"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "one line: {e}");

    require_dbusmock!();
    let dir = tmp_dir("ble_errors");
    // A bus without BlueZ.
    let bus = FakeBus::start(&dir, "nobluez");
    let o = bus.stretchwatch(&["scan", "--seconds", "0.5"]);
    let e = stderr_of(&o);
    assert!(e.contains("BlueZ (bluetoothd) is not running"), "{e}");
    drop(bus);

    // BlueZ with a powered-off adapter.
    let bus = FakeBus::start(&dir, "off")
        .with_bluez(&serde_json::json!({"powered": false, "devices": []}));
    let e = stderr_of(&bus.stretchwatch(&["scan", "--seconds", "0.5"]));
    assert!(e.contains("Bluetooth is off"), "{e}");
    drop(bus);

    // Device not found, unsupported device, and a scan listing.
    let frames = dir.join("none.frames");
    std::fs::write(&frames, "").unwrap();
    let cfg = serde_json::json!({"devices": [
        {"address": "5A:11:00:00:00:01", "name": "OSP-thigh", "family": "open",
         "service": open::SERVICE_UUID, "notify": open::DATA_CHAR_UUID,
         "write": [open::CONTROL_CHAR_UUID], "frames": frames},
        {"address": "5A:11:00:00:00:09", "name": "Headphones 9", "family": "other",
         "service": "0000110b-0000-1000-8000-00805f9b34fb", "notify": "00002a37-0000-1000-8000-00805f9b34fb",
         "frames": frames}
    ]});
    let bus = FakeBus::start(&dir, "devices").with_bluez(&cfg);
    let o = bus.stretchwatch(&["scan", "--seconds", "0.5"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        out.lines().any(|l| l.contains("open sensor protocol")
            && l.contains("OSP-thigh")
            && l.contains("5A:11:00:00:00:01")
            && l.contains("dBm")),
        "{out}"
    );
    assert!(!out.contains("Headphones"), "{out}");
    let live = |thigh: &str| {
        bus.stretchwatch(&[
            "live",
            "--thigh",
            thigh,
            "--shank",
            "OSP-thigh",
            "--no-record",
            "--no-tui",
            "--duration",
            "1",
        ])
    };
    let o = live("NOPE-42");
    let e = stderr_of(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("thigh sensor 'NOPE-42' not found"), "{e}");
    let e = stderr_of(&live("Headphones 9"));
    assert!(e.contains("is not a supported sensor"), "{e}");
}

/// Three sensors at 200 Hz (thigh and pelvis on the open protocol, shank WitMotion) streaming
/// scenario S2 with a pelvis sensor; the shank link is dropped once.
#[test]
fn live_session_through_fake_bluez() {
    require_dbusmock!();
    let dir = tmp_dir("ble_live");
    let rate = 200.0;
    let mut scn = sim::preset("S2").unwrap();
    scn.pelvis_sensor = true;
    let sim_out = sim::simulate(&scn, &sim::SimOptions::new(rate, sim::Variant::Clean, 7));
    let rec = dir.join("s2.csv");
    sim::write_recording(&sim_out, &rec, &dir.join("s2.truth.csv")).unwrap();
    let profile_path = dir.join("s2.calibration.toml");
    calibrate_file(&rec, false)
        .unwrap()
        .save(&profile_path)
        .unwrap();
    let profile = CalibrationProfile::load(&profile_path).unwrap();
    assert!(profile.pelvis.is_some());

    // Stream scenario seconds 1.5 .. 18.5 of the block (S2 bounces from 15 s).
    let t0 = scn.layout().block_offset_s;
    let (from_s, to_s) = (t0 + 1.5, t0 + 18.5);
    let devices = [
        (
            SensorRole::Thigh,
            Family::OpenSensor,
            "5A:11:00:00:00:01",
            "OSP-thigh",
        ),
        (
            SensorRole::Shank,
            Family::WitMotion,
            "5A:11:00:00:00:02",
            "WT901BLE02",
        ),
        (
            SensorRole::Pelvis,
            Family::OpenSensor,
            "5A:11:00:00:00:03",
            "OSP-pelvis",
        ),
    ];
    let mut cfg_devices = Vec::new();
    let mut expected = Vec::new();
    for (role, family, address, name) in devices {
        let notes = encode_role(&sim_out.samples, role, family, rate, 1, from_s, to_s).unwrap();
        expected.push(notes.len());
        let frames = dir.join(format!("{role}.frames"));
        let text: String = notes
            .iter()
            .map(|n| {
                format!(
                    "{:.6} {}\n",
                    n.t_send_s - from_s,
                    stretchwatch::protocol::to_hex(&n.bytes)
                )
            })
            .collect();
        std::fs::write(&frames, text).unwrap();
        let (service, notify, write) = match family {
            Family::WitMotion => (
                witmotion::SERVICE_UUID,
                witmotion::NOTIFY_CHAR_UUID,
                witmotion::WRITE_CHAR_UUID,
            ),
            _ => (
                open::SERVICE_UUID,
                open::DATA_CHAR_UUID,
                open::CONTROL_CHAR_UUID,
            ),
        };
        cfg_devices.push(serde_json::json!({
            "address": address, "name": name, "family": family.as_str(), "service": service,
            "notify": notify, "write": [write], "frames": frames}));
    }
    let drop_at_s = 1.0;
    let cfg = serde_json::json!({"devices": cfg_devices,
        "drops": [{"address": "5A:11:00:00:00:02", "at_s": drop_at_s}]});
    let bus = FakeBus::start(&dir, "bus").with_bluez(&cfg);

    let prefix = dir.join("live");
    let angles = dir.join("live.angles.csv");
    let summary = dir.join("summary.json");
    let events = dir.join("live.events.jsonl");
    let started = Instant::now();
    let o = bus.stretchwatch(&[
        "live",
        "--thigh",
        "OSP-thigh",
        "--shank",
        "5a:11:00:00:00:02",
        "--pelvis",
        "OSP-pelvis",
        "--rate",
        "200",
        "--calibration",
        profile_path.to_str().unwrap(),
        "--record",
        prefix.to_str().unwrap(),
        "--angles-out",
        angles.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
        "--duration",
        "18",
        "--no-tui",
        "--events-out",
        events.to_str().unwrap(),
    ]);
    let elapsed = started.elapsed();
    let err = stderr_of(&o);
    assert!(o.status.success(), "live failed: {err}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let status = bus.status();
    eprintln!("fake BlueZ: {status}");
    eprintln!("live summary: {s}");

    let sensor = |name: &str| {
        s["sensors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["sensor"] == name)
            .unwrap()
            .clone()
    };
    let sent = |i: usize| status["devices"][i]["sent"].as_u64().unwrap();
    // Open-protocol sensors: every notification the fake sent arrived, and no sequence gap.
    for (i, name) in [(0, "thigh"), (2, "pelvis")] {
        let x = sensor(name);
        assert_eq!(x["missing"], 0, "{name}: {x}");
        assert_eq!(
            x["notifications"].as_u64().unwrap(),
            sent(i),
            "{name}: lost notifications"
        );
        assert_eq!(x["decode_errors"], 0);
    }
    // The dropped shank: reconnected, the outage marked as a gap, nothing else lost.
    let shank = sensor("shank");
    assert!(shank["reconnects"].as_u64().unwrap() >= 1, "{shank}");
    assert_eq!(shank["notifications"].as_u64().unwrap(), sent(1));
    let lost_in_drop = status["devices"][1]["lost"].as_u64().unwrap();
    let missing = shank["missing"].as_u64().unwrap();
    assert!(lost_in_drop > 0);
    assert!(
        missing.abs_diff(lost_in_drop) <= 2 + lost_in_drop / 20,
        "shank gap {missing} samples, fake lost {lost_in_drop}"
    );
    let reconnect_s = s["reconnects"][0]["seconds"].as_f64().unwrap();
    assert!(reconnect_s < 3.0, "reconnect took {reconnect_s} s");
    let csv = std::fs::read_to_string(dir.join("live.imu.csv")).unwrap();
    assert!(csv.contains(" disconnected.shank\n") && csv.contains(" reconnected.shank\n"));
    assert!(csv.contains(" gap.shank "));
    let raw = std::fs::read_to_string(dir.join("live.raw.jsonl")).unwrap();
    assert!(raw.contains("\"device\": \"shank\", \"family\": \"witmotion\", \"dir\": \"event\", \"event\": \"disconnected\""));
    assert!(
        raw.contains("\"dir\": \"tx\", \"hex\": \"ffaa69"),
        "WitMotion unlock written"
    );

    // The session was stored in the database as it went: samples, angles, events and the rep.
    assert!(err.contains("stored session 1"), "{err}");
    let shown = bus.stretchwatch(&["sessions", "show", "1"]);
    let shown_text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{}", stderr_of(&shown));
    assert!(
        shown_text.contains("bouncing"),
        "stored events: {shown_text}"
    );

    // The raw log replays to exactly the live angles and events: the same session engine, fed
    // by the file instead of the BLE edge.
    let replayed = dir.join("replay.angles.csv");
    let raw_path = dir.join("live.raw.jsonl");
    let file = RecordingFile::open(&raw_path, false).unwrap();
    let form_cfg = FormConfig::default();
    let mut session_cfg = file.session_config(&form_cfg.excessive);
    session_cfg.form = Some(form_cfg);
    session_cfg.profile = Some(CalibrationProfile::load(&profile_path).unwrap());
    let mut session = Session::new(session_cfg);
    let mut json = Some(JsonEventsSink::new(Vec::new(), "events"));
    let mut csv = Some(AnglesCsvSink::new(Vec::new(), "angles").unwrap());
    let report = {
        let mut sinks = Fanout::new();
        sinks.add(&mut json).add(&mut csv);
        file.run(&mut session, &mut sinks).unwrap()
    };
    let sum = report.session;
    let replay_events = String::from_utf8(json.take().unwrap().into_inner()).unwrap();
    let replay_text = String::from_utf8(csv.take().unwrap().into_inner().unwrap()).unwrap();
    std::fs::write(&replayed, &replay_text).unwrap();
    let live_text = std::fs::read_to_string(&angles).unwrap();
    assert!(sum.frames > 2500, "{} frames", sum.frames);
    assert_eq!(live_text, replay_text, "live and replayed angles differ");
    let live_events = std::fs::read_to_string(&events).unwrap();
    assert_eq!(
        live_events, replay_events,
        "live and replayed events differ"
    );
    // The scenario's warning: S2 bounces at 1.5 Hz from scenario second 15 (form-spec 5.2).
    let bouncing_on: Vec<&str> = live_events
        .lines()
        .filter(|l| l.contains("\"event\":\"bouncing\"") && l.contains("\"state\":\"on\""))
        .collect();
    assert_eq!(bouncing_on.len(), 1, "{live_events}");
    assert!(live_events.contains("\"phase\":\"hold\""), "{live_events}");
    assert!(live_text.contains(",hold\n"), "phase column");

    // Angles follow the scenario: knee within a few degrees of truth while streaming.
    let truth = &sim_out.truth;
    let host0 = {
        // Host time of scenario time `from_s`: the first frame is near it.
        let first = live_text.lines().nth(1).unwrap();
        first.split(',').next().unwrap().parse::<f64>().unwrap()
    };
    let _ = host0;
    let knee: Vec<f64> = live_text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1).and_then(|x| x.parse().ok()))
        .collect();
    let truth_knee: Vec<f64> = truth
        .iter()
        .filter(|r| r.t_s >= from_s && r.t_s < to_s)
        .map(|r| r.knee_flexion_deg)
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        (mean(&knee) - mean(&truth_knee)).abs() < 3.0,
        "mean knee {} vs truth {}",
        mean(&knee),
        mean(&truth_knee)
    );

    let lat = &s["latency_ms"];
    eprintln!(
        "FIGURES: {:.0} notifications/s sustained over {:.1} s (3 sensors × 200 Hz sent: {:?}); latency notification→frame p50 {:.3} ms p99 {:.3} ms max {:.3} ms (n={}); shank reconnect: streaming again {reconnect_s:.3} s after the drop; test wall time {:.1} s",
        s["notifications_per_s"].as_f64().unwrap(),
        s["duration_s"].as_f64().unwrap(),
        expected,
        lat["p50"].as_f64().unwrap(),
        lat["p99"].as_f64().unwrap(),
        lat["max"].as_f64().unwrap(),
        lat["n"],
        elapsed.as_secs_f64()
    );
    assert!(lat["p99"].as_f64().unwrap() < 5.0, "latency p99 {lat}");
}
