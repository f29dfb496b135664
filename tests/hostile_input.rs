//! Hostile and absurd input through the binary and the library: every case here was a finding of a
//! fuzzing campaign (a panic, a hang, a poisoned session or an unhelpful message). Each must now
//! end within seconds with exit 0 or 2, a one-line error naming the place, and no NaN or infinity
//! in any output.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stretchwatch::model::SensorRole;
use stretchwatch::protocol::Family;
use stretchwatch::record::raw_log::{DataDir, RawEntry, RawLogHeader, RawLogWriter};
use stretchwatch::record::{ImuCsvReader, RawRecord};

#[path = "common/cli_run.rs"]
mod cli_run;
use cli_run::{Run, has_non_finite};

fn run_for(args: &[&std::ffi::OsStr], limit: Duration) -> Run {
    cli_run::run_for(args, &tmp("unused.db"), limit)
}

fn run(args: &[&std::ffi::OsStr]) -> Run {
    run_for(args, Duration::from_secs(60))
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stretchwatch-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn s1_text() -> String {
    std::fs::read_to_string(fixture("s1_100hz.csv")).unwrap()
}

/// Writes an edited copy of S1 and returns its path.
fn write(name: &str, text: &str) -> PathBuf {
    let p = tmp(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Replaces the data row at `index` (0-based among data rows) with `row`.
fn replace_row(text: &str, index: usize, row: impl Fn(&str) -> String) -> String {
    let mut n = 0;
    let mut out = String::with_capacity(text.len());
    let mut past_columns = false;
    for line in text.lines() {
        if past_columns && !line.starts_with('#') {
            if n == index {
                out.push_str(&row(line));
            } else {
                out.push_str(line);
            }
            n += 1;
        } else {
            out.push_str(line);
        }
        if line.starts_with("t_s,") {
            past_columns = true;
        }
        out.push('\n');
    }
    out
}

/// Index of the first data row at or after `t_s`.
fn row_at(text: &str, t_s: f64) -> usize {
    text.lines()
        .skip_while(|l| !l.starts_with("t_s,"))
        .skip(1)
        .filter(|l| !l.starts_with('#'))
        .position(|l| l.split(',').next().unwrap().parse::<f64>().unwrap() >= t_s)
        .unwrap()
}

/// Sets field `col` of a CSV row.
fn set_field(line: &str, col: usize, value: &str) -> String {
    let mut f: Vec<&str> = line.split(',').collect();
    f[col] = value;
    f.join(",")
}

fn insert_header(text: &str, line: &str) -> String {
    text.replacen("# side: left\n", &format!("# side: left\n{line}\n"), 1)
}

/// An input error: exit 2, one line on stderr naming the file, nothing on stdout.
fn assert_input_error(r: &Run, file: &Path, needles: &[&str]) {
    assert_eq!(r.code, 2, "exit {}; stderr: {}", r.code, r.stderr);
    let line = r.stderr.trim_end();
    assert!(!line.contains('\n'), "one line expected: {line}");
    assert!(
        line.contains(&file.display().to_string()),
        "names the file: {line}"
    );
    for n in needles {
        assert!(line.contains(n), "'{n}' missing from: {line}");
    }
    assert!(
        !has_non_finite(line),
        "no non-finite value in the message: {line}"
    );
    assert!(
        r.stdout.is_empty(),
        "no partial output on stdout: {}",
        r.stdout
    );
}

/// No NaN or infinity in any text output.
fn assert_finite_text(what: &str, text: &str) {
    if let Some(l) = text.lines().find(|l| has_non_finite(l)) {
        panic!("{what} holds a non-finite value: {l}");
    }
}

/// `replay --json --angles-out` of `file`: exit 0 with finite events and angles; returns the events.
fn replay_ok(file: &Path) -> (Vec<serde_json::Value>, String) {
    let angles = tmp(&format!(
        "{}.angles.csv",
        file.file_name().unwrap().to_string_lossy()
    ));
    let r = run(&[
        os("replay"),
        file.as_os_str(),
        os("--json"),
        os("--angles-out"),
        angles.as_os_str(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let angles_text = std::fs::read_to_string(&angles).unwrap();
    assert_finite_text("angles CSV", &angles_text);
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (l, e) in r.stdout.lines().zip(&events) {
        // Optional values are null by contract only where unavailable; measured values never.
        if e["event"] == "rep" {
            assert!(e["knee_mean_deg"].is_number(), "{l}");
            assert!(e["hold_angle_deg"].is_number(), "{l}");
        }
        assert!(!has_non_finite(l), "{l}");
    }
    (events, angles_text)
}

fn data_quality<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|e| e["event"] == "data_quality" && e["kind"] == kind)
        .collect()
}

// ---- panics ---------------------------------------------------------------------------------

#[test]
fn sensor_model_key_without_a_role_does_not_panic() {
    let text = s1_text();
    for (name, edited) in [
        (
            "model_head.csv",
            insert_header(&text, "# sensor.model: WT901"),
        ),
        (
            "model_body.csv",
            replace_row(&text, 100, |l| format!("# sensor.model: WT901\n{l}")),
        ),
        (
            "model_bad_role.csv",
            insert_header(&text, "# sensor.knee.model: X"),
        ),
    ] {
        let f = write(name, &edited);
        for cmd in ["replay", "calibrate", "import"] {
            let r = run(&[os(cmd), f.as_os_str()]);
            assert!(
                r.code == 0 || r.code == 2,
                "{cmd} {name}: exit {} {}",
                r.code,
                r.stderr
            );
        }
    }
    // `sensor.model` is simply an unknown key; a named but unknown role is an input error.
    let ok = write(
        "model_ok.csv",
        &insert_header(&text, "# sensor.model: WT901"),
    );
    assert_eq!(run(&[os("replay"), ok.as_os_str()]).code, 0);
    let bad = write(
        "model_bad.csv",
        &insert_header(&text, "# sensor.knee.model: X"),
    );
    let r = run(&[os("replay"), bad.as_os_str()]);
    assert_input_error(&r, &bad, &["sensor.knee.model", "unknown sensor 'knee'"]);
}

// ---- hangs ----------------------------------------------------------------------------------

#[test]
fn a_calibration_window_beyond_the_recording_is_refused_quickly() {
    let text = s1_text().replace("# calibration.static: 0 5", "# calibration.static: 0 1e9");
    let f = write("long_window.csv", &text);
    for cmd in ["replay", "calibrate"] {
        let r = run_for(&[os(cmd), f.as_os_str()], Duration::from_secs(20));
        assert_input_error(
            &r,
            &f,
            &["calibration.static", "past the end of the recording"],
        );
    }
    let text = s1_text().replace("# calibration.static: 0 5", "# calibration.static: 0 1e12");
    let f = write("huge_window.csv", &text);
    let r = run_for(&[os("replay"), f.as_os_str()], Duration::from_secs(20));
    assert_input_error(&r, &f, &[":5:", "header key 'calibration.static'", "1e12"]);
    let text = s1_text().replace("# calibration.static: 0 5", "# calibration.static: -1e9 5");
    let f = write("early_window.csv", &text);
    let r = run_for(&[os("replay"), f.as_os_str()], Duration::from_secs(20));
    assert!(r.code == 0 || r.code == 2, "{}", r.stderr);
}

#[test]
fn absurd_timestamps_are_dropped_not_looped_over() {
    let text = s1_text();
    let i = row_at(&text, 40.0);
    let edited = replace_row(&text, i, |l| set_field(l, 0, "1e17"));
    let f = write("t_1e17.csv", &edited);
    let start = Instant::now();
    let (events, _) = replay_ok(&f);
    assert!(start.elapsed() < Duration::from_secs(20));
    let dq = data_quality(&events, "implausible_samples");
    assert_eq!(dq.len(), 1, "reported once: {dq:?}");
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["implausible_samples"], 1);
}

#[test]
fn sample_rates_outside_the_sensors_range_are_refused() {
    for rate in ["1e12", "0.001", "0", "-5"] {
        let f = write(
            &format!("rate_{rate}.csv"),
            &s1_text().replace("# rate_hz: 100", &format!("# rate_hz: {rate}")),
        );
        let r = run_for(&[os("replay"), f.as_os_str()], Duration::from_secs(20));
        assert_input_error(&r, &f, &[":4:", "rate_hz"]);
    }
    let f = write(
        "rate_nan.csv",
        &s1_text().replace("# rate_hz: 100", "# rate_hz: nan"),
    );
    let r = run(&[os("replay"), f.as_os_str()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(":4: header key 'rate_hz'"),
        "{}",
        r.stderr
    );
    // Without a header rate, absurd intervals are refused too.
    let text = s1_text().replace("# rate_hz: 100\n", "");
    let mut out = String::new();
    let mut k = 0u64;
    for l in text.lines() {
        if l.starts_with(|c: char| c.is_ascii_digit()) {
            let t = k as f64 * 1e-7;
            k += 1;
            out.push_str(&set_field(l, 0, &format!("{t:.7}")));
        } else {
            out.push_str(l);
        }
        out.push('\n');
    }
    let f = write("rate_tiny_dt.csv", &out);
    let r = run_for(&[os("replay"), f.as_os_str()], Duration::from_secs(20));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Hz"), "{}", r.stderr);
}

// ---- poisoned sessions ----------------------------------------------------------------------

#[test]
fn one_huge_component_does_not_poison_the_session() {
    let text = s1_text();
    let in_block = row_at(&text, 30.0);
    for (col, value) in [(2, "1.4e154"), (5, "1e30"), (7, "-3e200")] {
        let edited = replace_row(&text, in_block, |l| set_field(l, col, value));
        let f = write(&format!("huge_{col}.csv"), &edited);
        let (events, angles) = replay_ok(&f);
        assert!(angles.lines().count() > 7000);
        assert_eq!(data_quality(&events, "implausible_samples").len(), 1);
        let reps: Vec<_> = events.iter().filter(|e| e["event"] == "rep").collect();
        assert!(!reps.is_empty(), "the rep still counts");
        for r in reps {
            assert_eq!(r["data_quality"], "ok", "{r}");
        }
        // The readable output says what was ignored.
        let r = run(&[os("replay"), f.as_os_str()]);
        assert_eq!(r.code, 0);
        assert!(
            r.stdout.contains("impossible sensor readings ignored"),
            "{}",
            r.stdout
        );
        assert_finite_text("timeline", &r.stdout);
    }
}

#[test]
fn a_huge_value_in_the_standing_window_is_dropped_before_calibration() {
    let text = s1_text();
    let edited = replace_row(&text, row_at(&text, 2.0), |l| set_field(l, 6, "1e300"));
    let f = write("huge_static.csv", &edited);
    let r = run(&[
        os("calibrate"),
        f.as_os_str(),
        os("--out"),
        tmp("p.toml").as_os_str(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_finite_text("calibrate output", &r.stdout);
    replay_ok(&f);
}

#[test]
fn import_stores_no_non_finite_values() {
    let text = s1_text();
    let edited = replace_row(&text, row_at(&text, 30.0), |l| set_field(l, 3, "5e200"));
    let f = write("huge_import.csv", &edited);
    let db = tmp("import.db");
    let r = run(&[os("import"), f.as_os_str(), os("--db"), db.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dir = tmp("export");
    std::fs::create_dir_all(&dir).unwrap();
    let r = run(&[
        os("export"),
        os("1"),
        os("--format"),
        os("csv"),
        os("--db"),
        db.as_os_str(),
        os("--out"),
        dir.join("s").as_os_str(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(!t.contains("5e200"), "{}", p.display());
        assert_finite_text(&p.display().to_string(), &t);
        seen += 1;
    }
    assert!(seen > 0, "export wrote files");
}

#[test]
fn non_finite_profile_values_are_refused_with_the_key() {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/default-lateral-x-up.toml"),
    )
    .unwrap();
    for (from, to, key) in [
        ("score = 0.0", "score = inf", "quality.score"),
        ("score = 0.0", "score = nan", "quality.score"),
        (
            "gyro_bias_rad_s = [0.0, 0.0, 0.0]",
            "gyro_bias_rad_s = [nan, 0.0, 0.0]",
            "thigh.gyro_bias_rad_s",
        ),
        (
            "long_axis = [-1.0, 0.0, 0.0]",
            "long_axis = [-inf, 0.0, 0.0]",
            "thigh.long_axis",
        ),
    ] {
        let p = write("bad_profile.toml", &base.replacen(from, to, 1));
        let r = run(&[
            os("replay"),
            fixture("s1_100hz.csv").as_os_str(),
            os("--calibration"),
            p.as_os_str(),
        ]);
        assert_eq!(r.code, 2, "{to}: {}", r.stderr);
        assert!(r.stderr.contains(key), "{to}: {}", r.stderr);
        assert!(r.stderr.contains(&p.display().to_string()), "{}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

/// A raw notification log of S1 through the open protocol, as live mode records it.
fn s1_raw_log(path: &Path, device_rate: &str, t_host_edit: Option<(usize, &str)>) {
    let mut reader = ImuCsvReader::open(&fixture("s1_100hz.csv"), false).unwrap();
    let header = reader.header().clone();
    let samples: Vec<_> = reader.by_ref().map(Result::unwrap).collect();
    let devices = stretchwatch::source::simulated::sim_devices(
        &[SensorRole::Thigh, SensorRole::Shank],
        Family::OpenSensor,
        100,
    )
    .unwrap();
    let notes =
        stretchwatch::source::simulated::encode_all(&samples, &devices, 4, 0.0, 80.0).unwrap();
    let raw = RawLogHeader {
        started_unix_s: 0.0,
        devices: devices.iter().map(|d| d.device.clone()).collect(),
        keys: vec![
            ("side".into(), "left".into()),
            ("stretch".into(), "supine".into()),
        ],
    };
    let mut w = RawLogWriter::create(path, &raw).unwrap();
    for line in header.lines() {
        let (k, v) = line.split_once(": ").unwrap();
        if k.starts_with("calibration") || k == "marker" {
            w.write(&RawRecord {
                t_host_s: 0.0,
                entry: RawEntry::Marker {
                    key: k.into(),
                    value: v.into(),
                },
            })
            .unwrap();
        }
    }
    for n in &notes {
        w.write(&RawRecord {
            t_host_s: n.t_send_s + 0.01,
            entry: RawEntry::Data {
                device: n.role,
                family: Family::OpenSensor,
                dir: DataDir::Rx,
                char_uuid: n.char_uuid.to_string(),
                bytes: n.bytes.clone(),
            },
        })
        .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[0] = lines[0].replace("\"rate_hz\": 100", &format!("\"rate_hz\": {device_rate}"));
    if let Some((i, t)) = t_host_edit {
        let l = &lines[i];
        let start = l.find("\"t_host_s\": ").unwrap() + "\"t_host_s\": ".len();
        let end = start + l[start..].find(',').unwrap();
        lines[i] = format!("{}{t}{}", &l[..start], &l[end..]);
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn raw_log_rates_and_host_times_are_range_checked() {
    let good = tmp("good.raw.jsonl");
    s1_raw_log(&good, "100", None);
    let opts = stretchwatch::replay::ReplayOptions::default();
    let mut frames = 0;
    stretchwatch::replay::replay_file(&good, &opts, |a| {
        frames += 1;
        assert!(a.knee_flexion_deg.unwrap().is_finite());
    })
    .unwrap();
    assert!(frames > 7000);
    for rate in ["0", "4294967296", "100.5", "\"fast\""] {
        let f = tmp("bad_rate.raw.jsonl");
        s1_raw_log(&f, rate, None);
        let e = stretchwatch::replay::replay_file(&f, &opts, |_| {})
            .err()
            .unwrap_or_else(|| panic!("rate {rate} accepted"))
            .to_string();
        assert!(e.contains(":1:") && e.contains("rate_hz"), "{e}");
        let r = run(&[os("calibrate"), f.as_os_str()]);
        assert_input_error(&r, &f, &["rate_hz"]);
    }
    for t in ["1e300", "-1e300", "1e17"] {
        let f = tmp("bad_time.raw.jsonl");
        s1_raw_log(&f, "100", Some((500, t)));
        let e = stretchwatch::replay::replay_file(&f, &opts, |_| {})
            .err()
            .unwrap_or_else(|| panic!("t_host_s {t} accepted"))
            .to_string();
        assert!(e.contains(":501:") && e.contains("t_host_s"), "{e}");
    }
    // The key without a role, in the header object and in a marker record.
    let text = std::fs::read_to_string(&good).unwrap();
    let f = write(
        "model.raw.jsonl",
        &text.replacen(
            "{\"stretchwatch_raw\": 1,",
            "{\"stretchwatch_raw\": 1, \"sensor.model\": \"x\",",
            1,
        ),
    );
    stretchwatch::replay::replay_file(&f, &opts, |_| {}).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let marker =
        "{\"t_host_s\": 1.0, \"dir\": \"marker\", \"key\": \"sensor.model\", \"value\": \"x\"}";
    lines.insert(3, marker);
    let f = write("model_marker.raw.jsonl", &(lines.join("\n") + "\n"));
    stretchwatch::replay::replay_file(&f, &opts, |_| {}).unwrap();
    let r = run(&[os("calibrate"), f.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

// ---- messages -------------------------------------------------------------------------------

#[test]
fn extra_columns_are_read_and_extra_fields_named() {
    let text = s1_text();
    // Nine extra columns in the column line and every row: accepted, extra cells ignored.
    let mut wide = String::new();
    for l in text.lines() {
        wide.push_str(l);
        if !l.starts_with('#') {
            let extra = if l.starts_with("t_s,") {
                (1..=9).map(|i| format!(",note{i}")).collect::<String>()
            } else {
                ",x".repeat(9)
            };
            wide.push_str(&extra);
        }
        wide.push('\n');
    }
    let f = write("wide.csv", &wide);
    replay_ok(&f);
    // A row with more fields than the column line: named as such.
    let i = row_at(&text, 30.0);
    let f = write(
        "long_row.csv",
        &replace_row(&text, i, |l| format!("{l},1,2,3,4,5,6,7,8,9")),
    );
    let r = run(&[os("replay"), f.as_os_str()]);
    assert_input_error(&r, &f, &["row has 17 fields", "expected 8"]);
    assert!(!r.stderr.contains("missing column"), "{}", r.stderr);
    // Too many columns for any recording.
    let cols: String = (0..40).map(|i| format!(",c{i}")).collect();
    let f = write(
        "too_wide.csv",
        &text.replacen("gz_rad_s\n", &format!("gz_rad_s{cols}\n"), 1),
    );
    let r = run(&[os("replay"), f.as_os_str()]);
    assert_input_error(&r, &f, &["48 columns", "at most 32"]);
}

#[test]
fn a_bad_warmup_status_in_the_file_names_the_file_not_a_flag() {
    let f = write(
        "warmup.csv",
        &insert_header(&s1_text(), "# warmup_status: maybe"),
    );
    let r = run(&[os("replay"), f.as_os_str()]);
    assert_input_error(&r, &f, &["warmup_status", "maybe"]);
    assert!(!r.stderr.contains("--warmup-status"), "{}", r.stderr);
    // The flag, when given, is named as the flag.
    let r = run(&[
        os("replay"),
        fixture("s1_100hz.csv").as_os_str(),
        os("--warmup-status"),
        os("maybe"),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--warmup-status"), "{}", r.stderr);
}

#[test]
fn a_repeated_column_line_is_named() {
    let text = s1_text();
    let i = row_at(&text, 30.0);
    let f = write(
        "twice.csv",
        &replace_row(&text, i, |l| {
            format!("t_s,sensor,ax_m_s2,ay_m_s2,az_m_s2,gx_rad_s,gy_rad_s,gz_rad_s\n{l}")
        }),
    );
    let r = run(&[os("replay"), f.as_os_str(), os("--json")]);
    assert_input_error(&r, &f, &["column line appears again", "first at line"]);
}

#[test]
fn a_late_error_leaves_stdout_empty() {
    let text = s1_text();
    let n = text
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .count();
    let f = write(
        "late.csv",
        &replace_row(&text, n - 10, |l| set_field(l, 4, "oops")),
    );
    for json in [true, false] {
        let mut args = vec![os("replay"), f.as_os_str()];
        if json {
            args.push(os("--json"));
        }
        let r = run(&args);
        assert_input_error(&r, &f, &["az_m_s2", "'oops'"]);
    }
}

#[test]
fn a_long_time_jump_ends_the_running_rep_and_is_reported() {
    let text = s1_text();
    // Shift everything from 40 s (inside the first rep's hold) one hour later.
    let mut out = String::new();
    for l in text.lines() {
        match l.split(',').next().and_then(|t| t.parse::<f64>().ok()) {
            Some(t) if !l.starts_with('#') && t >= 40.0 => {
                out.push_str(&set_field(l, 0, &format!("{:.6}", t + 3600.0)));
            }
            _ => out.push_str(&l.replace("# marker: 74 block.end", "# marker: 3674 block.end")),
        }
        out.push('\n');
    }
    let f = write("jump.csv", &out);
    let (events, _) = replay_ok(&f);
    let jumps = data_quality(&events, "time_jump");
    assert_eq!(jumps.len(), 1, "{events:?}");
    let t_jump = jumps[0]["t_s"].as_f64().unwrap();
    assert!(t_jump > 3600.0);
    // The rep running at the jump ends there, marked, before anything after the jump.
    let rest_at_jump = events.iter().any(|e| {
        e["event"] == "phase" && e["phase"] == "rest" && e["t_s"].as_f64() == Some(t_jump)
    });
    assert!(rest_at_jump, "phase back to rest at the jump");
    let ended = events
        .iter()
        .filter(|e| e["t_s"].as_f64() == Some(t_jump))
        .any(|e| {
            e["event"] == "rep" && e["data_quality"] == "data_gap" || e["event"] == "aborted_rep"
        });
    assert!(ended, "the running rep ends at the jump: {events:?}");
    let r = run(&[os("replay"), f.as_os_str()]);
    assert!(r.stdout.contains("jumps"), "{}", r.stdout);
}

#[test]
fn duplicate_timestamps_are_named_or_skipped_and_counted() {
    let text = s1_text();
    let i = row_at(&text, 30.0);
    // The row after `i` from the same sensor: repeat row i right after itself.
    let f = write("dup.csv", &replace_row(&text, i, |l| format!("{l}\n{l}")));
    let r = run(&[os("replay"), f.as_os_str()]);
    assert_input_error(&r, &f, &["t_s", "repeats", "line"]);
    let r = run(&[
        os("replay"),
        f.as_os_str(),
        os("--skip-bad-rows"),
        os("--json"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("skipped 1 malformed rows"),
        "{}",
        r.stderr
    );
}

#[test]
fn spreadsheet_csv_with_bom_crlf_and_padding_reads_like_the_original() {
    let text = s1_text();
    let mut sheet = String::from("\u{feff}");
    for l in text.lines() {
        sheet.push_str(l);
        if l.starts_with('#') {
            sheet.push_str(",,,,,,,");
        }
        sheet.push_str("\r\n");
    }
    let f = write("sheet.csv", &sheet);
    let (events, angles) = replay_ok(&f);
    let (orig_events, orig_angles) = replay_ok(&fixture("s1_100hz.csv"));
    assert_eq!(angles, orig_angles);
    assert_eq!(events, orig_events);
}
