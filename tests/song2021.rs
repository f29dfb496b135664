//! Tracking on a real motor rig (`../shared/datasets/song2021`, MIT): two MPU-6050 IMUs, one fixed
//! ("thigh"), one on a shaft sweeping 0↔180° at up to about 300 °/s, with a shaft encoder as the
//! reference. Each 4-minute excerpt is replayed with its rig profile; the knee error, wrapped to
//! ±180°, is compared with the encoder at every frame. When the shared data is absent the test
//! says so and checks nothing else (it cannot be committed whole: 20 MB).
//!
//! `cargo test --test song2021 -- --nocapture` prints each trial's RMSE against the target.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use stretchwatch::kinematics::wrap_pi;
use stretchwatch::replay::{ReplayOptions, replay_file};

/// (trial, issue-8 target, regression bound), knee RMSE in degrees.
///
/// The targets are not met: most of the error is a mean offset that the sensors carry
/// themselves — the knee angle from the accelerometers alone has the same mean error against the
/// encoder (+1.3°, +1.1°, −1.5°, −2.9°, −4.7°), and the test checks the pipeline adds no more —
/// plus the shaft gyro turning 98.0–99.6 % of each encoder sweep (printed) and the samples lagging
/// the encoder by about 10 ms (the gyro's own lag, printed; the test checks the pipeline adds
/// none). `SONG_DEBUG=1` prints the fit `err ≈ a + b·ref + c·rate`. The published figures are
/// offline (zero-phase filtered) and zeroed at one sample, which removes most of that offset. The
/// bound keeps today's figures from getting worse.
const TRIALS: [(&str, f64, f64); 5] = [
    ("pitch_slow", 1.2, 2.0),
    ("pitch_medium", 1.5, 2.05),
    ("roll_slow", 1.2, 1.65),
    ("roll_medium", 1.5, 3.35),
    ("roll_fast", 3.0, 7.0),
];

fn dataset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/song2021")
}

/// Encoder angle keyed by time in 10 ms ticks.
fn reference(path: &Path) -> HashMap<i64, f64> {
    let f = std::fs::File::open(path).unwrap();
    let r = BufReader::new(flate2::read::GzDecoder::new(f));
    r.lines()
        .skip(1)
        .map(|l| {
            let l = l.unwrap();
            let (t, k) = l.split_once(',').unwrap();
            let t: f64 = t.parse().unwrap();
            ((t * 100.0).round() as i64, k.parse().unwrap())
        })
        .collect()
}

/// Encoder angle as a time series (t_s, degrees), in file order.
fn reference_series(path: &Path) -> Vec<(f64, f64)> {
    let mut r: Vec<(f64, f64)> = reference(path)
        .into_iter()
        .map(|(k, v)| (k as f64 / 100.0, v))
        .collect();
    r.sort_by(|a, b| a.0.total_cmp(&b.0));
    r
}

/// Linear interpolation of a time series at `t_s` (clamped at the ends).
fn interp(series: &[(f64, f64)], t_s: f64) -> f64 {
    let i = series.partition_point(|p| p.0 < t_s);
    if i == 0 {
        return series[0].1;
    }
    if i == series.len() {
        return series[i - 1].1;
    }
    let ((t0, v0), (t1, v1)) = (series[i - 1], series[i]);
    v0 + (v1 - v0) * (t_s - t0) / (t1 - t0)
}

/// The delay, ms, at which `f(lag_s)` is smallest, searched over ±40 ms in 0.5 ms steps.
fn best_lag_ms(f: impl Fn(f64) -> f64) -> f64 {
    (-80..=80)
        .map(|i| i as f64 * 0.0005)
        .map(|lag| (f(lag), lag))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap()
        .1
        * 1000.0
}

/// How far the shaft gyro's rate about its hinge axis lags the encoder's rate, ms: the delay the
/// sensor itself brings (its low-pass filter, the rig's timing), which no estimator can remove.
fn gyro_lag_ms(trial: &str) -> f64 {
    use stretchwatch::calibration::CalibrationProfile;
    let dir = dataset();
    let enc = reference_series(&dir.join(format!("song2021_{trial}_4min.ref.csv.gz")));
    let p = CalibrationProfile::load(&dir.join(format!("song2021_{trial}.profile.toml"))).unwrap();
    let h = nalgebra::Vector3::from(p.shank.hinge_axis).normalize();
    let rate: Vec<(f64, f64)> = enc
        .windows(3)
        .map(|w| (w[1].0, (w[2].1 - w[0].1) / (w[2].0 - w[0].0)))
        .collect();
    let gyro: Vec<(f64, f64)> = samples(trial, "shank")
        .into_iter()
        .map(|(t, _, g)| (t, g.dot(&h).to_degrees()))
        .collect();
    // Scale-free: the lag that best correlates the two rates.
    best_lag_ms(|lag| {
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for (t, g) in &gyro {
            let r = interp(&rate, t - lag);
            sxy += g * r;
            sxx += g * g;
            syy += r * r;
        }
        -(sxy / (sxx * syy).sqrt()).abs()
    })
}

/// The shaft gyro's rotation over each sweep between the encoder's turning points, as a share of
/// the encoder's (the median over the sweeps): the two instruments' scale against each other.
fn gyro_sweep_gain(trial: &str, gyro_lag_ms: f64) -> f64 {
    use stretchwatch::calibration::CalibrationProfile;
    let dir = dataset();
    let enc = reference_series(&dir.join(format!("song2021_{trial}_4min.ref.csv.gz")));
    let p = CalibrationProfile::load(&dir.join(format!("song2021_{trial}.profile.toml"))).unwrap();
    let (h, bias) = (
        nalgebra::Vector3::from(p.shank.hinge_axis).normalize(),
        nalgebra::Vector3::from(p.shank.gyro_bias_rad_s),
    );
    let gyro: Vec<(f64, f64)> = samples(trial, "shank")
        .into_iter()
        .map(|(t, _, g)| (t - gyro_lag_ms / 1000.0, (g - bias).dot(&h).to_degrees()))
        .collect();
    // Turning points: the extreme encoder reading of each stay near 0° or near 180°.
    let mut turns: Vec<(f64, f64)> = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for &(t, v) in enc.iter().chain(std::iter::once(&(f64::MAX, 90.0))) {
        let end = |r: &Vec<(f64, f64)>| r.first().is_some_and(|f| (f.1 > 90.0) != (v > 90.0));
        if (10.0..=170.0).contains(&v) || end(&run) {
            if let Some(f) = run.first() {
                let pick = if f.1 > 90.0 { f64::max } else { f64::min };
                let ext = run.iter().fold(f.1, |m, p| pick(m, p.1));
                turns.push(*run.iter().find(|p| p.1 == ext).unwrap());
            }
            run.clear();
        }
        if !(10.0..=170.0).contains(&v) {
            run.push((t, v));
        }
    }
    let mut gains: Vec<f64> = turns
        .windows(2)
        .filter(|w| (w[1].1 - w[0].1).abs() > 90.0)
        .map(|w| {
            let turned: f64 = gyro
                .windows(2)
                .filter(|g| g[1].0 > w[0].0 && g[1].0 <= w[1].0)
                .map(|g| g[1].1 * (g[1].0 - g[0].0))
                .sum();
            turned / (w[1].1 - w[0].1)
        })
        .collect();
    gains.sort_by(f64::total_cmp);
    gains[gains.len() / 2].abs()
}

/// One sensor's samples ("thigh": fixed, "shank": on the shaft): (t_s, accelerometer m/s², gyro rad/s).
fn samples(trial: &str, role: &str) -> Vec<(f64, nalgebra::Vector3<f64>, nalgebra::Vector3<f64>)> {
    let f =
        std::fs::File::open(dataset().join(format!("song2021_{trial}_4min.imu.csv.gz"))).unwrap();
    let mut out = Vec::new();
    for l in BufReader::new(flate2::read::GzDecoder::new(f)).lines() {
        let l = l.unwrap();
        let v: Vec<&str> = l.split(',').collect();
        let Some(t) = v[0].parse::<f64>().ok().filter(|_| v[1] == role) else {
            continue; // comments, the column row and the other sensor
        };
        let n = |i: usize| v[i].parse::<f64>().unwrap();
        out.push((
            t,
            nalgebra::Vector3::new(n(2), n(3), n(4)),
            nalgebra::Vector3::new(n(5), n(6), n(7)),
        ));
    }
    out
}

/// Mean error against the encoder of the knee angle the accelerometers alone give (each
/// sensor's gravity direction in the plane across its hinge axis, as the profile sets them),
/// degrees: what the sensors themselves say about the zero and scale, before any filtering.
fn accelerometer_mean_error(trial: &str) -> f64 {
    use stretchwatch::calibration::CalibrationProfile;
    let dir = dataset();
    let truth = reference(&dir.join(format!("song2021_{trial}_4min.ref.csv.gz")));
    let p = CalibrationProfile::load(&dir.join(format!("song2021_{trial}.profile.toml"))).unwrap();
    // (long, anterior) axes of the plane across each hinge axis.
    let plane = |seg: &stretchwatch::calibration::SegmentCalibration| {
        let h = nalgebra::Vector3::from(seg.hinge_axis).normalize();
        let l = nalgebra::Vector3::from(seg.long_axis);
        let x = (l - h * h.dot(&l)).normalize();
        (x, x.cross(&h))
    };
    let planes = [plane(&p.thigh), plane(&p.shank)];
    // The "thigh" never moves: its mean accelerometer reading is its gravity direction.
    let thigh_acc: nalgebra::Vector3<f64> = samples(trial, "thigh").iter().map(|s| s.1).sum();
    let shank = samples(trial, "shank");
    let angle = |a: &nalgebra::Vector3<f64>,
                 (x, z): &(nalgebra::Vector3<f64>, nalgebra::Vector3<f64>)| {
        a.dot(z).atan2(a.dot(x))
    };
    let thigh = angle(&thigh_acc, &planes[0]);
    let errs: Vec<f64> = shank
        .iter()
        .filter_map(|(t, a, _)| {
            let r = truth.get(&((t * 100.0).round() as i64))?;
            Some(wrap_pi(angle(a, &planes[1]) - thigh - r.to_radians()).to_degrees())
        })
        .collect();
    errs.iter().sum::<f64>() / errs.len() as f64
}

/// Knee errors against the encoder.
struct KneeErrors {
    rmse_deg: f64,
    mean_deg: f64,
    /// How far the output lags the encoder, ms (the delay that best aligns the two).
    lag_ms: f64,
}

fn knee_errors(trial: &str) -> KneeErrors {
    let dir = dataset();
    let truth = reference(&dir.join(format!("song2021_{trial}_4min.ref.csv.gz")));
    let opts = ReplayOptions {
        calibration: Some(dir.join(format!("song2021_{trial}.profile.toml"))),
        ..Default::default()
    };
    let mut err = Vec::new();
    let mut rows: Vec<(f64, f64, f64)> = Vec::new();
    let mut knee: Vec<(f64, f64)> = Vec::new();
    replay_file(
        &dir.join(format!("song2021_{trial}_4min.imu.csv.gz")),
        &opts,
        |a| {
            if let Some(k) = a.knee_flexion_deg {
                knee.push((a.t_s, k));
            }
            if let (Some(k), Some(r)) = (
                a.knee_flexion_deg,
                truth.get(&((a.t_s * 100.0).round() as i64)),
            ) {
                err.push(wrap_pi((k - r).to_radians()).to_degrees());
                rows.push((a.t_s, *r, *err.last().unwrap()));
            }
        },
    )
    .unwrap();
    assert!(err.len() > 20_000, "{trial}: only {} frames", err.len());
    if std::env::var("SONG_DEBUG").is_ok() {
        // err ≈ a + b·ref + c·rate: least squares.
        let mut m = nalgebra::Matrix3::<f64>::zeros();
        let mut v = nalgebra::Vector3::<f64>::zeros();
        for w in rows.windows(3) {
            let rate = (w[2].1 - w[0].1) / (w[2].0 - w[0].0);
            if rate.abs() > 1000.0 {
                continue;
            }
            let x = nalgebra::Vector3::new(1.0, w[1].1, rate);
            m += x * x.transpose();
            v += x * w[1].2;
        }
        let c = m.lu().solve(&v).unwrap();
        eprintln!(
            "{trial}: err ≈ {:.2} + {:.4}·ref + {:.4}·rate (s)",
            c[0], c[1], c[2]
        );
        for q in 0..8 {
            let seg: Vec<f64> = rows[q * rows.len() / 8..(q + 1) * rows.len() / 8]
                .iter()
                .map(|r| r.2)
                .collect();
            eprint!(" {:+.2}", seg.iter().sum::<f64>() / seg.len() as f64);
        }
        eprintln!(" (mean error per half-minute)");
    }
    let n = err.len() as f64;
    let enc = reference_series(&dir.join(format!("song2021_{trial}_4min.ref.csv.gz")));
    // The lag that leaves the least varying error (its mean is the offset discussed above).
    let lag_ms = best_lag_ms(|lag| {
        let e: Vec<f64> = knee
            .iter()
            .map(|(t, k)| wrap_pi((k - interp(&enc, t - lag)).to_radians()))
            .collect();
        let m = e.iter().sum::<f64>() / e.len() as f64;
        e.iter().map(|x| (x - m) * (x - m)).sum::<f64>()
    });
    KneeErrors {
        rmse_deg: (err.iter().map(|e| e * e).sum::<f64>() / n).sqrt(),
        mean_deg: err.iter().sum::<f64>() / n,
        lag_ms,
    }
}

#[test]
fn song2021_knee_tracks_the_encoder() {
    if !dataset().join("README.md").exists() {
        eprintln!(
            "song2021: {} not present; nothing to compare",
            dataset().display()
        );
        return;
    }
    let mut over = Vec::new();
    for (trial, target, bound) in TRIALS {
        let KneeErrors {
            rmse_deg: rmse,
            mean_deg: mean,
            lag_ms,
        } = knee_errors(trial);
        let acc_mean = accelerometer_mean_error(trial);
        let gyro_lag = gyro_lag_ms(trial);
        let gain = gyro_sweep_gain(trial, gyro_lag);
        let centred = (rmse * rmse - mean * mean).max(0.0).sqrt();
        eprintln!(
            "song2021 {trial}: knee RMSE {rmse:.2}° (mean error {mean:+.2}°; the accelerometers alone {acc_mean:+.2}°; {centred:.2}° without the mean), target ≤ {target}°{}; output lags the encoder {lag_ms:.1} ms, the shaft gyro {gyro_lag:.1} ms; the gyro turns {:.1} % of the encoder's sweep",
            if rmse <= target { "" } else { " (not met)" },
            gain * 100.0
        );
        // No lag added: the angles are no later than the shaft's own gyro (the sensor's delay), within
        // a quarter sample; one sample of added delay is 10 ms.
        if lag_ms > gyro_lag + 2.5 {
            over.push(format!(
                "{trial}: output lags {lag_ms:.1} ms, more than the gyro's {gyro_lag:.1} ms"
            ));
        }
        if rmse > bound {
            over.push(format!("{trial}: {rmse:.2}° > {bound}°"));
        }
        // The offset is the sensors' own: the pipeline adds none to what the accelerometers say.
        if (mean - acc_mean).abs() > 0.5 {
            over.push(format!(
                "{trial}: mean error {mean:+.2}° but the accelerometers alone {acc_mean:+.2}°"
            ));
        }
    }
    assert!(over.is_empty(), "{over:#?}");
}
