//! Shared checks of the fuzz targets: the input split into notifications, finite outputs.

#![allow(dead_code)]

use stretchwatch::protocol::{DecodedSample, Family, decoder_for};

/// Splits `data` into notifications: each starts with a length byte (the low 6 bits; a set top
/// bit makes it a host write instead of a notification).
pub fn notifications(data: &[u8]) -> Vec<(bool, &[u8])> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len & 0x3f).min(tail.len());
        out.push((len & 0x80 != 0, &tail[..n]));
        rest = &tail[n..];
    }
    out
}

/// Asserts a decoded sample holds only finite numbers.
pub fn assert_finite_sample(s: &DecodedSample) {
    assert!(s.acc_m_s2.iter().all(|x| x.is_finite()), "acc {s:?}");
    assert!(s.gyr_rad_s.iter().all(|x| x.is_finite()), "gyr {s:?}");
    if let Some(t) = s.device_time_s {
        assert!(t.is_finite(), "device time {s:?}");
    }
    if let Some(m) = s.mag_ut {
        assert!(m.iter().all(|x| x.is_finite()), "mag {s:?}");
    }
}

/// Feeds `data` to a fresh decoder of `family`: no panic, finite samples, bounded output.
pub fn fuzz_decoder(family: Family, data: &[u8]) {
    let mut dec = decoder_for(family);
    let mut out = Vec::new();
    for (write, bytes) in notifications(data) {
        if write {
            dec.observe_write(bytes);
            continue;
        }
        let _ = dec.push(bytes, &mut out);
        // No notification can hold more than a few dozen samples.
        assert!(out.len() <= 64 * (data.len() + 1), "unbounded output");
        out.iter().for_each(assert_finite_sample);
        out.clear();
    }
    let _ = dec.flush(&mut out);
    out.iter().for_each(assert_finite_sample);
    dec.reset();
}

/// A scratch file of this fuzzing process holding `data`.
pub fn scratch_file(name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("stretchwatch-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&p, data).expect("scratch file");
    p
}

/// Whether `text` holds a non-finite number as a word ("NaN", "inf", "-Infinity", …).
pub fn has_non_finite(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .any(|w| matches!(w.to_ascii_lowercase().as_str(), "nan" | "inf" | "infinity"))
}

/// Replays `data` as a recording file (IMU CSV or raw log) through the one session engine with
/// the form stage on, into the JSON-events and angles-CSV sinks `replay --json --angles-out`
/// uses; checks every output is finite and the run stays bounded.
pub fn fuzz_replay(data: &[u8], profile: Option<&str>) {
    use stretchwatch::session::Session;
    use stretchwatch::session::sinks::{AnglesCsvSink, Fanout, JsonEventsSink};
    use stretchwatch::session::source::RecordingFile;
    let path = scratch_file("recording", data);
    let skip = data.first().is_some_and(|b| b & 1 == 1);
    let Ok(file) = RecordingFile::open(&path, skip) else {
        return;
    };
    let form = stretchwatch::form::FormConfig::default();
    let mut cfg = file.session_config(&form.excessive);
    cfg.form = Some(form);
    if let Some(p) = profile {
        cfg.profile =
            Some(stretchwatch::calibration::CalibrationProfile::from_toml_str(p).expect("profile"));
    }
    let mut session = Session::new(cfg);
    let mut events = JsonEventsSink::new(Vec::new(), &path);
    let Ok(mut angles) = AnglesCsvSink::new(Vec::new(), &path) else {
        return;
    };
    let result = {
        let mut fan = Fanout::new();
        fan.add(&mut events).add(&mut angles);
        file.run(&mut session, &mut fan)
    };
    let events = events.into_inner();
    let events = String::from_utf8_lossy(&events);
    let angles = angles.into_inner().unwrap_or_default();
    let angles = String::from_utf8_lossy(&angles);
    if let Ok(report) = result {
        assert!(
            !has_non_finite(&events),
            "non-finite value in the events: {events}"
        );
        assert!(!has_non_finite(&angles), "non-finite value in the angles");
        // A file of N bytes holds at most N / 16 samples; frames per sample are bounded.
        let frames = report.session.frames as u64;
        assert!(
            frames <= (data.len() as u64 / 8 + 2) * 4100,
            "{frames} frames"
        );
    }
}
