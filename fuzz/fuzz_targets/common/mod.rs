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

/// Replays `data` as a recording file (IMU CSV or raw log), through the form stage too, and
/// checks every output is finite and the run stays bounded.
pub fn fuzz_replay(data: &[u8], profile: Option<&str>) {
    use stretchwatch::form::{FormConfig, FormContext, FormEngine};
    use stretchwatch::replay::{ReplayOptions, replay_file};
    let file = scratch_file("recording", data);
    let calibration = profile.map(|p| scratch_file("profile.toml", p.as_bytes()));
    let opts = ReplayOptions {
        skip_bad_rows: data.first().is_some_and(|b| b & 1 == 1),
        calibration,
        ..Default::default()
    };
    let header = stretchwatch::record::ImuCsvReader::open(&file, true)
        .map(|r| r.header().clone())
        .unwrap_or_default();
    let cfg = FormConfig::default();
    let ctx = FormContext::from_header(&header, &cfg, None);
    let mut engine = FormEngine::new(cfg, ctx);
    let mut frames = 0u64;
    // serde writes NaN as null, so look at the values themselves (Debug prints NaN and inf).
    let mut check_event = |e: &stretchwatch::form::Event| {
        let text = format!("{e:?}");
        let bad = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .any(|w| w == "NaN" || w == "inf");
        assert!(!bad, "non-finite value in {text}");
    };
    let result = replay_file(&file, &opts, |a| {
        frames += 1;
        assert!(a.t_s.is_finite(), "frame time {a:?}");
        for v in [a.knee_flexion_deg, a.hip_flexion_deg, a.leg_raise_deg]
            .into_iter()
            .flatten()
        {
            assert!(v.is_finite(), "angle {a:?}");
        }
        engine.push(a, &mut check_event);
    });
    if let Ok(sum) = result {
        // A file of N bytes holds at most N / 16 samples; frames per sample are bounded.
        assert!(
            frames <= (data.len() as u64 / 8 + 2) * 4100,
            "{frames} frames"
        );
        assert!(sum.t_first_s.is_finite() || frames == 0);
        engine.finish(&mut check_event);
    }
}
