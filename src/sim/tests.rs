//! End-to-end tests of the simulator: physics of the synthetic IMU data, truth, noise, rates, files.

use super::*;
use crate::model::{SensorRole, StretchType};
use crate::record::ImuCsvReader;
use nalgebra::{Rotation3, Vector3};

fn clean(name: &str, rate_hz: f64) -> (Scenario, SimOutput) {
    let s = preset(name).unwrap();
    let out = simulate(&s, &SimOptions::new(rate_hz, Variant::Clean, 42));
    (s, out)
}

fn of_role(out: &SimOutput, role: SensorRole) -> Vec<&ImuSample> {
    out.samples.iter().filter(|s| s.role == role).collect()
}

/// The sample of `role` nearest to recording time `t_s`.
fn at(out: &SimOutput, role: SensorRole, t_s: f64) -> &ImuSample {
    out.samples
        .iter()
        .filter(|s| s.role == role)
        .min_by(|a, b| (a.t_s - t_s).abs().total_cmp(&(b.t_s - t_s).abs()))
        .unwrap()
}

fn truth_at(out: &SimOutput, t_s: f64) -> TruthRow {
    *out.truth
        .iter()
        .min_by(|a, b| (a.t_s - t_s).abs().total_cmp(&(b.t_s - t_s).abs()))
        .unwrap()
}

fn segment_from_sensor(angles_deg: [f64; 3]) -> Rotation3<f64> {
    let [x, y, z] = angles_deg.map(f64::to_radians);
    Rotation3::from_axis_angle(&Vector3::x_axis(), x)
        * Rotation3::from_axis_angle(&Vector3::y_axis(), y)
        * Rotation3::from_axis_angle(&Vector3::z_axis(), z)
}

#[test]
fn standing_still_reads_gravity_and_no_rotation() {
    let (_, out) = clean("S1", 100.0);
    let standing: Vec<_> = out
        .samples
        .iter()
        .filter(|s| s.t_s > 0.5 && s.t_s < 4.5)
        .collect();
    assert_eq!(standing.len(), 2 * 399);
    for s in standing {
        assert!((s.acc_m_s2.norm() - 9.81).abs() < 1e-6, "{s:?}");
        assert!(s.gyr_rad_s.norm() < 1e-9, "{s:?}");
    }
}

#[test]
fn knee_swings_match_the_analytic_rate_and_the_thigh_stays_still() {
    let (_, out) = clean("S1", 100.0);
    for k in 650..1750 {
        let t = k as f64 / 100.0;
        let expected_deg_s =
            (35.0 * std::f64::consts::PI * (std::f64::consts::PI * (t - 6.0)).sin()).abs();
        let shank = at(&out, SensorRole::Shank, t);
        let got_deg_s = shank.gyr_rad_s.norm().to_degrees();
        assert!(
            (got_deg_s - expected_deg_s).abs() < 0.05,
            "t {t}: shank gyro {got_deg_s} vs {expected_deg_s}"
        );
        let thigh = at(&out, SensorRole::Thigh, t);
        assert!(thigh.gyr_rad_s.norm() < 1e-9);
        assert!((thigh.acc_m_s2.norm() - 9.81).abs() < 1e-6);
    }
}

#[test]
fn truth_during_the_s1_hold() {
    let (s, out) = clean("S1", 100.0);
    let t0 = s.layout().block_offset_s;
    assert_eq!(t0, 22.0);
    let r = truth_at(&out, t0 + 20.0);
    assert!((r.t_s - 42.0).abs() < 1e-9);
    assert!((r.knee_flexion_deg - 12.0).abs() < 0.01);
    assert!((r.leg_raise_deg - 70.0).abs() < 0.01);
    assert!((r.hip_flexion_deg - 70.0).abs() < 0.01);
    assert!(r.pelvic_tilt_deg.abs() < 1e-12);
    // Standing: thigh points down.
    assert!((truth_at(&out, 2.0).leg_raise_deg + 90.0).abs() < 1e-9);
}

#[test]
fn static_hold_matches_the_gravity_formula() {
    let (s, out) = clean("S1", 100.0);
    let t = s.layout().block_offset_s + 20.0;
    // β_thigh = ψ + φ − θh = −70°, β_shank = −70 + 12 = −58°.
    for (role, beta_deg) in [(SensorRole::Thigh, -70.0), (SensorRole::Shank, -58.0)] {
        let world_from_segment =
            Rotation3::from_axis_angle(&Vector3::y_axis(), f64::to_radians(beta_deg));
        let world_from_sensor =
            world_from_segment * segment_from_sensor(s.mounting_deg[role.index()]);
        let expected = world_from_sensor.inverse() * Vector3::new(0.0, 0.0, 9.81);
        let got = at(&out, role, t);
        assert!(
            (got.acc_m_s2 - expected).norm() < 1e-6,
            "{role}: {} vs {expected}",
            got.acc_m_s2
        );
        assert!(got.gyr_rad_s.norm() < 1e-9);
    }
}

#[test]
fn integrated_shank_gyro_follows_the_truth_angle() {
    let (s, out) = clean("S1", 100.0);
    // Sensor-frame direction of the segment y axis (the only rotation axis).
    let axis = segment_from_sensor(s.mounting_deg[1]).inverse() * Vector3::y();
    let shank = of_role(&out, SensorRole::Shank);
    let beta = |r: &TruthRow| 90.0 + r.pelvic_tilt_deg - r.hip_flexion_deg + r.knee_flexion_deg;
    let start = 4.5;
    let beta0 = beta(&truth_at(&out, start));
    let mut angle_deg = 0.0;
    let mut checked = 0;
    for w in shank.windows(2) {
        if w[0].t_s < start - 1e-9 || w[1].t_s > 19.0 {
            continue;
        }
        let dt = w[1].t_s - w[0].t_s;
        angle_deg +=
            0.5 * dt * (w[0].gyr_rad_s.dot(&axis) + w[1].gyr_rad_s.dot(&axis)).to_degrees();
        let expected = beta(&truth_at(&out, w[1].t_s)) - beta0;
        assert!(
            (angle_deg - expected).abs() < 0.5,
            "t {}: integrated {angle_deg} vs truth {expected}",
            w[1].t_s
        );
        checked += 1;
    }
    assert_eq!(checked, 1450);
}

#[test]
fn accelerometer_includes_motion() {
    // During the fast S7 entry the thigh sensor feels tangential/centripetal acceleration.
    let (s, out) = clean("S7", 100.0);
    let t0 = s.layout().block_offset_s;
    let peak = of_role(&out, SensorRole::Thigh)
        .iter()
        .filter(|x| x.t_s > t0 + 5.0 && x.t_s < t0 + 5.6)
        .map(|x| (x.acc_m_s2.norm() - 9.81).abs())
        .fold(0.0, f64::max);
    // r·α ≈ 0.21 m × 1120°/s² ≈ 4.1 m/s² at the thigh sensor.
    assert!(peak > 2.0 && peak < 8.0, "peak dynamic acc {peak}");
}

#[test]
fn realistic_is_deterministic_per_seed() {
    let s = preset("S1").unwrap();
    let a = simulate(&s, &SimOptions::new(100.0, Variant::Realistic, 7));
    let b = simulate(&s, &SimOptions::new(100.0, Variant::Realistic, 7));
    let c = simulate(&s, &SimOptions::new(100.0, Variant::Realistic, 8));
    assert_eq!(a, b);
    assert_ne!(a.samples, c.samples);
    assert_eq!(a.truth, c.truth);
    let clean = simulate(&s, &SimOptions::new(100.0, Variant::Clean, 7));
    assert_ne!(a.samples, clean.samples);
}

#[test]
fn realistic_drops_offsets_and_order() {
    let s = preset("S2").unwrap();
    let rate = 200.0;
    let out = simulate(&s, &SimOptions::new(rate, Variant::Realistic, 42));
    let n = synth::output_count(s.layout().end_s, rate);
    assert!(out.samples.windows(2).all(|w| w[0].t_s <= w[1].t_s));
    for role in [SensorRole::Thigh, SensorRole::Shank] {
        let v = of_role(&out, role);
        let dropped = n - v.len();
        let frac = dropped as f64 / n as f64;
        assert!(
            (0.003..0.007).contains(&frac),
            "{role}: drop fraction {frac}"
        );
        // Constant per-sensor offset within ±2 ms; drops are single samples.
        let ks: Vec<i64> = v.iter().map(|x| (x.t_s * rate).round() as i64).collect();
        let offsets: Vec<f64> = v
            .iter()
            .zip(&ks)
            .filter(|(x, _)| x.t_s > 1.0)
            .map(|(x, &k)| x.t_s - k as f64 / rate)
            .collect();
        assert!(offsets.iter().all(|o| o.abs() <= 0.002 + 1e-9));
        let spread = offsets.iter().cloned().fold(f64::MIN, f64::max)
            - offsets.iter().cloned().fold(f64::MAX, f64::min);
        assert!(spread < 1e-9, "{role}: offset not constant ({spread})");
        assert!(
            ks.windows(2).all(|w| w[1] - w[0] <= 2),
            "{role}: double drop"
        );
    }
    // Biases are bounded; the still standing gyro mean is the bias (≤ 1°/s per axis).
    let still: Vec<_> = of_role(&out, SensorRole::Thigh)
        .into_iter()
        .filter(|x| x.t_s > 1.0 && x.t_s < 4.0)
        .collect();
    let mean = still.iter().map(|x| x.gyr_rad_s).sum::<Vector3<f64>>() / still.len() as f64;
    assert!(mean.iter().all(|g| g.to_degrees().abs() < 1.05), "{mean}");
    assert!(mean.norm() > 0.0);
}

#[test]
fn gyro_bias_override() {
    let s = preset("S6").unwrap();
    let mut opts = SimOptions::new(100.0, Variant::Realistic, 3);
    opts.gyro_bias_max_deg_s = Some(0.0);
    let out = simulate(&s, &opts);
    let still: Vec<_> = of_role(&out, SensorRole::Shank)
        .into_iter()
        .filter(|x| x.t_s > 1.0 && x.t_s < 4.5)
        .collect();
    let mean = still.iter().map(|x| x.gyr_rad_s).sum::<Vector3<f64>>() / still.len() as f64;
    // Noise only: σ ≈ 0.1°/s per sample, mean of ~350 samples ≈ 0.005°/s.
    assert!(mean.iter().all(|g| g.to_degrees().abs() < 0.03), "{mean}");
}

#[test]
fn every_rate_gives_the_right_sample_count() {
    let s = preset("S1_pelvis_tilt").unwrap();
    let end = s.layout().end_s;
    assert_eq!(end, 82.0);
    let mut reference = None;
    for rate in [50.0, 60.0, 100.0, 104.0, 200.0] {
        let out = simulate(&s, &SimOptions::new(rate, Variant::Clean, 1));
        let n = (end * rate).floor() as usize + 1;
        assert_eq!(out.truth.len(), n, "rate {rate}");
        for role in SensorRole::ALL {
            assert_eq!(of_role(&out, role).len(), n, "rate {rate} {role}");
        }
        let last = out.truth.last().unwrap().t_s;
        assert!((last - (n - 1) as f64 / rate).abs() < 1e-9);
        // The same instant reads the same at every rate (anti-alias filter leaves slow motion alone).
        let x = at(&out, SensorRole::Shank, 40.0);
        assert!((x.t_s - 40.0).abs() < 1e-9);
        let r = *reference.get_or_insert(x.acc_m_s2);
        assert!(
            (x.acc_m_s2 - r).norm() < 1e-3,
            "rate {rate}: {} vs {r}",
            x.acc_m_s2
        );
    }
}

#[test]
fn pelvis_tilt_separates_leg_raise_from_hip_flexion() {
    let (s, out) = clean("S1_pelvis_tilt", 100.0);
    let r = truth_at(&out, s.layout().block_offset_s + 25.0);
    assert!((r.leg_raise_deg - r.hip_flexion_deg - 15.0).abs() < 1e-9);
    assert!((r.pelvic_tilt_deg + 15.0).abs() < 1e-9);
    assert_eq!(
        out.header.pelvis_calibration_functional.unwrap().end_s,
        27.0
    );
    assert_eq!(
        of_role(&out, SensorRole::Pelvis).len(),
        of_role(&out, SensorRole::Thigh).len()
    );
}

#[test]
fn header_keys_and_manual_markers() {
    let (_, out) = clean("S10_nopelvis", 100.0);
    let h = &out.header;
    assert_eq!(h.stretch, Some(StretchType::Seated));
    assert!(h.pelvis_calibration_functional.is_none());
    let w = h.block_window();
    assert_eq!((w.start_s, w.end_s), (27.0, 82.0));
    let get = |k: &str| {
        h.extra
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("scenario"), Some("S10_nopelvis"));
    assert_eq!(get("variant"), Some("clean"));
    assert_eq!(get("seed"), Some("42"));
    assert_eq!(get("block_offset_s"), Some("22"));
    assert_eq!(get("history_deg"), Some("119 120 121"));
    assert!(of_role(&out, SensorRole::Pelvis).is_empty());

    let (_, out) = clean("S10", 100.0);
    let w = out.header.block_window();
    assert_eq!((w.start_s, w.end_s), (30.0, 92.0));
    // Seated hold: thigh horizontal, pelvis tilted 30°, θh = 120.
    let r = truth_at(&out, 70.0);
    assert!((r.hip_flexion_deg - 120.0).abs() < 1e-9 && r.leg_raise_deg.abs() < 1e-9);
}

#[test]
fn gap_preset_drops_every_sensor() {
    let (s, out) = clean("gap_0.8s", 100.0);
    let t0 = s.layout().block_offset_s;
    let inside = |t: f64| t > t0 + 25.0 && t < t0 + 25.8;
    assert!(!out.samples.iter().any(|x| inside(x.t_s)));
    assert_eq!(out.truth.iter().filter(|r| inside(r.t_s)).count(), 79);
}

#[test]
fn warmup_prelude_shifts_the_block() {
    let (s, out) = clean("S11", 50.0);
    let t0 = s.layout().block_offset_s;
    assert_eq!(t0, 19.0 + 540.0 + 3.0);
    // Walking: thigh gyro RMS ≈ 80°/s (spec), standing still afterwards.
    let rms = |a: f64, b: f64| {
        let v: Vec<f64> = of_role(&out, SensorRole::Thigh)
            .iter()
            .filter(|x| x.t_s > a && x.t_s < b)
            .map(|x| x.gyr_rad_s.norm_squared())
            .collect();
        (v.iter().sum::<f64>() / v.len() as f64).sqrt().to_degrees()
    };
    let walking = rms(30.0, 370.0);
    assert!((walking - 80.0).abs() < 5.0, "walking rms {walking}");
    assert!(rms(390.0, 550.0) < 1e-6);
    assert!((truth_at(&out, t0 + 20.0).leg_raise_deg - 70.0).abs() < 1e-9);
}

#[test]
fn custom_geometry_is_used() {
    let mut s = preset("S1").unwrap();
    s.mounting_deg = [[0.0; 3]; 3];
    s.thigh_length_m = 0.5;
    s.shank_length_m = 0.35;
    let out = simulate(&s, &SimOptions::new(100.0, Variant::Clean, 0));
    // With identity mounting a standing thigh sensor reads −g on its x axis (x points down).
    let a = at(&out, SensorRole::Thigh, 2.0).acc_m_s2;
    assert!((a - Vector3::new(-9.81, 0.0, 0.0)).norm() < 1e-9, "{a}");
    // Swing gyro lies on the sensor y axis.
    let g = at(&out, SensorRole::Shank, 6.5).gyr_rad_s;
    assert!(g.y.abs() > 0.5 && g.x.abs() < 1e-9 && g.z.abs() < 1e-9);
}

#[test]
fn invalid_options_and_scenarios_are_reported_not_panicked() {
    let mut o = SimOptions::new(0.0, Variant::Clean, 0);
    let e = o.validate().unwrap_err().to_string();
    assert!(e.contains("rate_hz") && !e.contains('\n'), "{e}");
    o.rate_hz = f64::NAN;
    let mut s = preset("S6").unwrap();
    s.duration_s = -3.0;
    let e = validate_scenario(&s).unwrap_err().to_string();
    assert!(e.starts_with("scenario 'S6': duration_s"), "{e}");
    // simulate still returns something sensible.
    let out = simulate(&s, &o);
    assert_eq!(out.truth.len(), synth::output_count(22.0, 100.0));
    assert_eq!("Realistic".parse::<Variant>(), Ok(Variant::Realistic));
    assert!("noisy".parse::<Variant>().is_err());
}

#[test]
fn example_file_loads_and_files_round_trip() {
    let dir = std::env::temp_dir().join(format!("stretchwatch-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/example.toml");
    let s = load_scenario(&example).unwrap();
    assert_eq!(s.name, "example_supine_bounce");
    assert_eq!(s.side, crate::model::Side::Right);
    assert_eq!(s.thigh_length_m, 0.44);
    let p = s.scenario_pose(15.0 + 1.0 / 3.0);
    assert!((p.hip_deg - 78.0).abs() < 1e-9);

    let out = simulate(&s, &SimOptions::new(50.0, Variant::Realistic, 42));
    let (imu, truth) = (dir.join("ex.csv"), dir.join("ex_truth.csv"));
    write_recording(&out, &imu, &truth).unwrap();
    let mut r = ImuCsvReader::open(&imu, false).unwrap();
    assert_eq!(r.header().side, Some(crate::model::Side::Right));
    assert_eq!(r.header().rate_hz, Some(50.0));
    assert_eq!(r.header().block_window().start_s, 22.0);
    let mut n = 0;
    while let Some(x) = r.next_sample().unwrap() {
        assert_eq!(x.role, out.samples[n].role);
        n += 1;
    }
    assert_eq!(n, out.samples.len());
    let text = std::fs::read_to_string(&truth).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("t_s,knee_flexion_deg,hip_flexion_deg,leg_raise_deg,pelvic_tilt_deg")
    );
    assert_eq!(lines.count(), out.truth.len());

    let missing = load_scenario(&dir.join("nope.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("nope.toml") && !missing.contains('\n'),
        "{missing}"
    );
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"b\"\nstretch = \"supine\"\nduration_s = 5\nspeed = 2\n",
    )
    .unwrap();
    let e = load_scenario(&bad).unwrap_err().to_string();
    assert!(
        e.contains("bad.toml") && e.contains("unknown key 'speed'"),
        "{e}"
    );
    let e = write_truth_csv(&dir.join("no/such/dir.csv"), &out.truth)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dir.csv"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
