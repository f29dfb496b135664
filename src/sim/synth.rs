//! IMU synthesis (form-spec 5.1): chain kinematics on a fine grid, anti-alias filter, decimation,
//! and the `realistic` sensor errors.
//!
//! The fine grid has spacing `1/(rate·M)` with `M = ceil(1000/rate)`, so it runs at ≥ 1 kHz and
//! contains every output instant `k/rate` exactly; the zero-phase FIR is evaluated only there.
//! Derivatives are central differences with the grid spacing, so a velocity kink in a trajectory
//! becomes an acceleration impulse whose integral is exact.

use super::scenario::{Layout, Pose, Scenario};
use super::{SimOptions, TruthRow, Variant};
use crate::model::{ImuSample, SensorRole, Side};
use nalgebra::{Matrix3, Rotation3, Vector3};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;

/// Gravity magnitude, m/s².
pub const GRAVITY_M_S2: f64 = 9.81;
/// Rate of the fine generation grid (lower bound), Hz.
const FINE_RATE_HZ: f64 = 1000.0;
/// Anti-alias cutoff as a fraction of the output rate.
const CUTOFF_FRACTION: f64 = 0.4;
/// Filter half-length in periods of the cutoff frequency.
const FILTER_HALF_PERIODS: f64 = 5.0;
/// Gyro white-noise density, °/s/√Hz.
const GYRO_NOISE_DEG_S_RT_HZ: f64 = 0.01;
/// Accelerometer white-noise density, g/√Hz.
const ACC_NOISE_G_RT_HZ: f64 = 200e-6;
/// Accelerometer bias bound, g.
const ACC_BIAS_MAX_G: f64 = 0.020;
/// Inter-sensor timestamp offset bound, seconds.
const TIME_OFFSET_MAX_S: f64 = 0.002;
/// Probability of dropping a single sample.
const DROP_PROBABILITY: f64 = 0.005;
/// Default gyro bias bound, °/s.
pub const DEFAULT_GYRO_BIAS_MAX_DEG_S: f64 = 1.0;

/// Sensor geometry of one role: segment, position in the segment frame, mounting.
struct SensorGeometry {
    role: SensorRole,
    /// Index of the segment angle in [`Pose::segment_angles_deg`] (pelvis 0, thigh 1, shank 2).
    segment: usize,
    /// Sensor position in the segment frame, metres.
    pos_m: Vector3<f64>,
    /// Rotation taking sensor-frame vectors to the segment frame.
    segment_from_sensor: Matrix3<f64>,
}

fn mounting(angles_deg: [f64; 3]) -> Matrix3<f64> {
    let [x, y, z] = angles_deg.map(f64::to_radians);
    let r = Rotation3::from_axis_angle(&Vector3::x_axis(), x)
        * Rotation3::from_axis_angle(&Vector3::y_axis(), y)
        * Rotation3::from_axis_angle(&Vector3::z_axis(), z);
    *r.matrix()
}

fn geometry(scn: &Scenario) -> Vec<SensorGeometry> {
    let lat = match scn.side {
        Side::Right => 1.0,
        Side::Left => -1.0,
    };
    let mut g = vec![
        SensorGeometry {
            role: SensorRole::Thigh,
            segment: 1,
            pos_m: Vector3::new(scn.thigh_length_m / 2.0, lat * 0.08, 0.0),
            segment_from_sensor: mounting(scn.mounting_deg[0]),
        },
        SensorGeometry {
            role: SensorRole::Shank,
            segment: 2,
            pos_m: Vector3::new(0.405 * scn.shank_length_m, lat * 0.05, 0.03),
            segment_from_sensor: mounting(scn.mounting_deg[1]),
        },
    ];
    if scn.pelvis_sensor {
        g.push(SensorGeometry {
            role: SensorRole::Pelvis,
            segment: 0,
            pos_m: Vector3::new(-0.05, lat * 0.12, 0.0),
            segment_from_sensor: mounting(scn.mounting_deg[2]),
        });
    }
    g
}

/// `R_y(β)·v` with `R_y(β)·x = (cos β, 0, −sin β)`.
fn rot_y(beta_rad: f64, v: Vector3<f64>) -> Vector3<f64> {
    let (s, c) = beta_rad.sin_cos();
    Vector3::new(c * v.x + s * v.z, v.y, -s * v.x + c * v.z)
}

/// Symmetric Blackman-windowed sinc, unit DC gain, `2·half + 1` taps.
fn lowpass_taps(cutoff_hz: f64, fs_hz: f64, half: usize) -> Vec<f64> {
    let n_taps = 2 * half + 1;
    let wc = 2.0 * cutoff_hz / fs_hz;
    let mut h: Vec<f64> = (0..n_taps)
        .map(|i| {
            let n = i as f64 - half as f64;
            let sinc = if n == 0.0 {
                wc
            } else {
                (PI * wc * n).sin() / (PI * n)
            };
            let x = 2.0 * PI * i as f64 / (n_taps - 1).max(1) as f64;
            let w = 0.42 - 0.5 * x.cos() + 0.08 * (2.0 * x).cos();
            sinc * w
        })
        .collect();
    let sum: f64 = h.iter().sum();
    if sum.abs() > 0.0 {
        h.iter_mut().for_each(|v| *v /= sum);
    }
    h
}

/// Number of output instants `k/rate` in `[0, end_s]`.
pub fn output_count(end_s: f64, rate_hz: f64) -> usize {
    (end_s * rate_hz + 1e-9).floor().max(0.0) as usize + 1
}

/// Kinematic state at one fine-grid instant: segment orientations and sensor positions.
struct Kin {
    beta_rad: [f64; 3],
    /// `world_from_segment` of pelvis, thigh, shank; `None` while every segment turns about y
    /// only (then `R_y(beta)` is exact and the rates need no matrix differences).
    rot: Option<[Matrix3<f64>; 3]>,
    /// Position of each sensor in `geo` order (unused slots zero), metres.
    pos_m: [Vector3<f64>; 3],
}

fn rot_x_m(a_rad: f64) -> Matrix3<f64> {
    *Rotation3::from_axis_angle(&Vector3::x_axis(), a_rad).matrix()
}

fn rot_y_m(a_rad: f64) -> Matrix3<f64> {
    *Rotation3::from_axis_angle(&Vector3::y_axis(), a_rad).matrix()
}

fn rot_z_m(a_rad: f64) -> Matrix3<f64> {
    *Rotation3::from_axis_angle(&Vector3::z_axis(), a_rad).matrix()
}

fn kinematics(scn: &Scenario, layout: &Layout, geo: &[SensorGeometry], t_s: f64) -> Kin {
    let pose: Pose = scn.pose_at(layout, t_s);
    let b = pose.segment_angles_deg().map(f64::to_radians);
    let three_d =
        pose.thigh_frontal_deg != 0.0 || pose.thigh_axial_deg != 0.0 || pose.shank_axial_deg != 0.0;
    let rot = three_d.then(|| {
        // Thigh: sagittal angle, then ab/adduction about its anterior axis and axial rotation;
        // the shank hangs from it through the knee hinge and may turn about its own long axis.
        let thigh = rot_y_m(b[1])
            * rot_z_m(pose.thigh_frontal_deg.to_radians())
            * rot_x_m(pose.thigh_axial_deg.to_radians());
        let shank = thigh
            * rot_y_m(pose.knee_deg.to_radians())
            * rot_x_m(pose.shank_axial_deg.to_radians());
        [rot_y_m(b[0]), thigh, shank]
    });
    let seg_apply = |seg: usize, v: Vector3<f64>| match &rot {
        Some(r) => r[seg] * v,
        None => rot_y(b[seg], v),
    };
    let knee = seg_apply(1, Vector3::new(scn.thigh_length_m, 0.0, 0.0));
    let mut pos_m = [Vector3::zeros(); 3];
    for (p, g) in pos_m.iter_mut().zip(geo) {
        let origin = if g.segment == 2 {
            knee
        } else {
            Vector3::zeros()
        };
        *p = origin + seg_apply(g.segment, g.pos_m);
    }
    Kin {
        beta_rad: b,
        rot,
        pos_m,
    }
}

/// World-to-segment rotation of `seg` in `k`.
fn segment_from_world(k: &Kin, seg: usize, v: Vector3<f64>) -> Vector3<f64> {
    match &k.rot {
        Some(r) => r[seg].transpose() * v,
        None => rot_y(-k.beta_rad[seg], v),
    }
}

/// Segment-frame angular velocity at `cur` from its neighbours `dt` before and after.
fn segment_rate(prev: &Kin, cur: &Kin, next: &Kin, seg: usize, dt: f64) -> Vector3<f64> {
    let full = |k: &Kin| match &k.rot {
        Some(r) => r[seg],
        None => rot_y_m(k.beta_rad[seg]),
    };
    if prev.rot.is_none() && cur.rot.is_none() && next.rot.is_none() {
        return Vector3::new(
            0.0,
            (next.beta_rad[seg] - prev.beta_rad[seg]) / (2.0 * dt),
            0.0,
        );
    }
    // Body rate from R^T·dR/dt (its skew part), central difference.
    let w = full(cur).transpose() * (full(next) - full(prev)) / (2.0 * dt);
    Vector3::new(
        0.5 * (w[(2, 1)] - w[(1, 2)]),
        0.5 * (w[(0, 2)] - w[(2, 0)]),
        0.5 * (w[(1, 0)] - w[(0, 1)]),
    )
}

/// Clean sensor-frame (acc, gyro) at every output instant, per sensor geometry.
///
/// Streams over the fine grid with a ring buffer of one filter length per sensor, so memory does
/// not grow with the recording length.
fn clean_outputs(
    scn: &Scenario,
    layout: &Layout,
    geo: &[SensorGeometry],
    rate_hz: f64,
    n_out: usize,
) -> Vec<Vec<(Vector3<f64>, Vector3<f64>)>> {
    let m = (FINE_RATE_HZ / rate_hz - 1e-9).ceil().max(1.0) as usize;
    let fs = rate_hz * m as f64;
    let dt = 1.0 / fs;
    let cutoff = CUTOFF_FRACTION * rate_hz;
    let half = (FILTER_HALF_PERIODS * fs / cutoff).ceil() as usize;
    let taps = lowpass_taps(cutoff, fs, half);
    let n_taps = taps.len();

    // Fine index j sits at time (j − pad)·dt; channel index r = j − 1 (needs j ± 1 for differences).
    // Output k is centred on r = k·m + half and complete once r = k·m + 2·half has been computed.
    let pad = half + 1;
    let n_raw = (n_out - 1) * m + 2 * half + 1;
    let t_of = |j: usize| (j as f64 - pad as f64) * dt;
    let gravity = Vector3::new(0.0, 0.0, GRAVITY_M_S2);
    let sensor_from_segment: Vec<Matrix3<f64>> = geo
        .iter()
        .map(|g| g.segment_from_sensor.transpose())
        .collect();

    let mut ring = vec![vec![[0.0_f64; 6]; n_taps]; geo.len()];
    let mut out: Vec<Vec<(Vector3<f64>, Vector3<f64>)>> =
        (0..geo.len()).map(|_| Vec::with_capacity(n_out)).collect();
    let mut prev = kinematics(scn, layout, geo, t_of(0));
    let mut cur = kinematics(scn, layout, geo, t_of(1));
    for r in 0..n_raw {
        let next = kinematics(scn, layout, geo, t_of(r + 2));
        for (s, g) in geo.iter().enumerate() {
            let seg = g.segment;
            let acc_w = (next.pos_m[s] - 2.0 * cur.pos_m[s] + prev.pos_m[s]) / (dt * dt) + gravity;
            let acc = sensor_from_segment[s] * segment_from_world(&cur, seg, acc_w);
            let gyr = sensor_from_segment[s] * segment_rate(&prev, &cur, &next, seg, dt);
            ring[s][r % n_taps] = [acc.x, acc.y, acc.z, gyr.x, gyr.y, gyr.z];
        }
        if r >= 2 * half && (r - 2 * half).is_multiple_of(m) {
            let first = r + 1 - n_taps;
            for (s, buf) in ring.iter().enumerate() {
                let mut y = [0.0; 6];
                for (i, h) in taps.iter().enumerate() {
                    let x = &buf[(first + i) % n_taps];
                    for c in 0..6 {
                        y[c] += h * x[c];
                    }
                }
                out[s].push((
                    Vector3::new(y[0], y[1], y[2]),
                    Vector3::new(y[3], y[4], y[5]),
                ));
            }
        }
        prev = cur;
        cur = next;
    }
    out
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

fn uniform_vec(rng: &mut ChaCha8Rng, max: f64) -> Vector3<f64> {
    Vector3::from_fn(|_, _| (2.0 * rng.random::<f64>() - 1.0) * max)
}

/// Truth rows at the output instants.
pub fn truth(scn: &Scenario, layout: &Layout, rate_hz: f64, n_out: usize) -> Vec<TruthRow> {
    (0..n_out)
        .map(|k| {
            let t_s = k as f64 / rate_hz;
            let p = scn.pose_at(layout, t_s);
            let thigh_rad = p.segment_angles_deg()[1].to_radians();
            TruthRow {
                t_s,
                knee_flexion_deg: p.knee_deg,
                hip_flexion_deg: p.hip_deg,
                leg_raise_deg: (-thigh_rad.sin()).clamp(-1.0, 1.0).asin().to_degrees(),
                pelvic_tilt_deg: p.phi_deg,
            }
        })
        .collect()
}

/// All samples of the recording, sorted by `t_s` (stable: thigh, shank, pelvis on ties).
pub fn samples(scn: &Scenario, layout: &Layout, opts: &SimOptions, n_out: usize) -> Vec<ImuSample> {
    let rate_hz = opts.rate_hz;
    let geo = geometry(scn);
    let clean = clean_outputs(scn, layout, &geo, rate_hz, n_out);
    let realistic = opts.variant == Variant::Realistic;
    let gyro_bias_max_rad_s = opts
        .gyro_bias_max_deg_s
        .unwrap_or(DEFAULT_GYRO_BIAS_MAX_DEG_S)
        .abs()
        .to_radians();
    let gyro_sd_rad_s = (GYRO_NOISE_DEG_S_RT_HZ * rate_hz.sqrt()).to_radians();
    let acc_sd_m_s2 = ACC_NOISE_G_RT_HZ * GRAVITY_M_S2 * rate_hz.sqrt();

    let in_gap = |t_s: f64| {
        let ts = t_s - layout.block_offset_s;
        scn.gaps_s.iter().any(|&(a, b)| ts > a && ts < b)
    };

    let mut out = Vec::with_capacity(n_out * geo.len());
    let mut per_sensor: Vec<Vec<ImuSample>> = Vec::with_capacity(geo.len());
    for (g, series) in geo.iter().zip(clean) {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(g.role.index() as u64 + 1);
        let (gyro_bias, acc_bias, offset_s) = if realistic {
            (
                uniform_vec(&mut rng, gyro_bias_max_rad_s),
                uniform_vec(&mut rng, ACC_BIAS_MAX_G * GRAVITY_M_S2),
                (2.0 * rng.random::<f64>() - 1.0) * TIME_OFFSET_MAX_S,
            )
        } else {
            (Vector3::zeros(), Vector3::zeros(), 0.0)
        };
        let mut samples = Vec::with_capacity(n_out);
        let mut dropped_prev = false;
        for (k, (acc, gyr)) in series.into_iter().enumerate() {
            let t_true = k as f64 / rate_hz;
            let (mut acc, mut gyr) = (acc, gyr);
            if realistic {
                let drop = rng.random::<f64>() < DROP_PROBABILITY && !dropped_prev;
                let acc_noise = Vector3::from_fn(|_, _| normal(&mut rng) * acc_sd_m_s2);
                let gyr_noise = Vector3::from_fn(|_, _| normal(&mut rng) * gyro_sd_rad_s);
                dropped_prev = drop;
                if drop {
                    continue;
                }
                acc += acc_bias + acc_noise;
                gyr += gyro_bias + gyr_noise;
            }
            if in_gap(t_true) {
                continue;
            }
            samples.push(ImuSample {
                t_s: (t_true + offset_s).max(0.0),
                role: g.role,
                acc_m_s2: acc,
                gyr_rad_s: gyr,
                mag_ut: None,
            });
        }
        per_sensor.push(samples);
    }
    // Interleave by output index first (thigh, shank, pelvis), then a stable sort by time.
    let longest = per_sensor.iter().map(Vec::len).max().unwrap_or(0);
    let mut iters: Vec<_> = per_sensor.into_iter().map(Vec::into_iter).collect();
    for _ in 0..longest {
        for it in iters.iter_mut() {
            if let Some(s) = it.next() {
                out.push(s);
            }
        }
    }
    out.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rot_y_matches_spec_convention() {
        let v = rot_y(0.3, Vector3::x());
        assert!((v - Vector3::new(0.3_f64.cos(), 0.0, -0.3_f64.sin())).norm() < 1e-15);
    }

    #[test]
    fn mounting_is_rx_ry_rz() {
        let m = mounting([90.0, 0.0, 0.0]);
        assert!((m * Vector3::y() - Vector3::z()).norm() < 1e-12);
        let m = mounting([0.0, 0.0, 90.0]);
        assert!((m * Vector3::x() - Vector3::y()).norm() < 1e-12);
    }

    #[test]
    fn filter_has_unit_dc_gain_and_rejects_nyquist() {
        let h = lowpass_taps(40.0, 1000.0, 125);
        assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // A 70 Hz tone (above 0.5 × 100 Hz output rate... beyond the transition band) is attenuated.
        let gain: f64 = h
            .iter()
            .enumerate()
            .map(|(i, v)| v * (2.0 * PI * 70.0 * i as f64 / 1000.0).cos())
            .sum();
        assert!(gain.abs() < 1e-3, "gain {gain}");
    }
}
