//! BROAD benchmark helpers shared by `tests/broad_orientation.rs` and `benches/broad.rs`: CSV loading
//! (full shared trials and the reduced fixtures), running `SensorOrientation` over a trial, and the
//! BROAD error metric (Laidig et al., Data 6(7):72, 2021; `shared/tools/broad_eval.py`).
//!
//! Include with `#[path = "common/broad.rs"] mod broad;` (tests) or `#[path = "../tests/common/broad.rs"]`
//! (benches); it is not a `tests/common/mod.rs` so other test files are unaffected.

#![allow(dead_code)] // each including crate uses a different subset

use nalgebra::{Quaternion, UnitQuaternion, Vector3};
use std::path::{Path, PathBuf};
use stretchwatch::orientation::{OrientationParams, SensorOrientation};

/// Full-trial references: official `vqf` 2.1.2 (Python/C++), 6D, default parameters, from
/// `shared/datasets/broad/README.md` ("Reference results on these files"): (trial, inclination RMSE,
/// heading-aligned total RMSE `total_hr`), degrees.
pub const FULL_REFERENCE: [(&str, f64, f64); 6] = [
    ("02_undisturbed_slow_rotation_B", 0.43, 0.63),
    ("05_undisturbed_slow_rotation_with_breaks_B", 0.35, 0.67),
    ("07_undisturbed_fast_rotation_B", 1.02, 1.55),
    ("16_undisturbed_fast_translation_B", 0.54, 0.66),
    ("21_undisturbed_fast_combined", 1.72, 4.22),
    ("24_disturbed_tapping_A", 0.61, 0.84),
];

/// Acceptance tolerance on |ours − reference| inclination RMSE, degrees.
pub const TOLERANCE_DEG: f64 = 0.1;

/// Tolerance on |ours − reference| heading-aligned total RMSE, degrees. Not part of the acceptance criterion;
/// it guards the gyro-bias estimation, whose loss barely moves inclination (+0.04°) but multiplies `total_hr`.
pub const TOTAL_HR_TOLERANCE_DEG: f64 = 0.1;

/// One BROAD trial in memory.
pub struct Trial {
    /// File stem, e.g. `05_undisturbed_slow_rotation_with_breaks_B`.
    pub name: String,
    /// Sample timestamps, s.
    pub t_s: Vec<f64>,
    /// Gyroscope, rad/s, sensor frame, bias not removed.
    pub gyr: Vec<Vector3<f64>>,
    /// Accelerometer, m/s², sensor frame.
    pub acc: Vec<Vector3<f64>>,
    /// Ground truth `enu_from_sensor`; `None` where the OMC lost track.
    pub q_gt: Vec<Option<UnitQuaternion<f64>>>,
    /// Sample belongs to the motion phase evaluated by the BROAD metric.
    pub movement: Vec<bool>,
}

impl Trial {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.t_s.len()
    }

    /// Whether the trial has no samples.
    pub fn is_empty(&self) -> bool {
        self.t_s.is_empty()
    }

    /// Nominal rate from the median sample interval (as `broad_eval.py`: `fs = 1 / median(diff(t))`).
    pub fn rate_hz(&self) -> f64 {
        let mut dt: Vec<f64> = self.t_s.windows(2).map(|w| w[1] - w[0]).collect();
        dt.sort_by(f64::total_cmp);
        let n = dt.len();
        let median = if n % 2 == 1 {
            dt[n / 2]
        } else {
            0.5 * (dt[n / 2 - 1] + dt[n / 2])
        };
        1.0 / median
    }
}

/// Loads a BROAD-style CSV (header row; columns are looked up by name, so `mag_*` may be absent).
pub fn load_csv(path: &Path) -> Result<Trial, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| format!("{}: empty file", path.display()))?
        .split(',')
        .map(str::trim)
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("{}: missing column '{name}'", path.display()))
    };
    let names = [
        "t_s", "gyr_x", "gyr_y", "gyr_z", "acc_x", "acc_y", "acc_z", "q_w", "q_x", "q_y", "q_z",
        "movement",
    ];
    let mut idx = [0usize; 12];
    for (i, n) in names.iter().enumerate() {
        idx[i] = col(n)?;
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut trial = Trial {
        name,
        t_s: Vec::new(),
        gyr: Vec::new(),
        acc: Vec::new(),
        q_gt: Vec::new(),
        movement: Vec::new(),
    };
    let mut fields: Vec<&str> = Vec::with_capacity(header.len());
    for (line_no, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        fields.clear();
        fields.extend(line.split(','));
        let mut v = [0.0f64; 12];
        for (k, &i) in idx.iter().enumerate() {
            let s = fields
                .get(i)
                .ok_or_else(|| format!("{}:{}: too few fields", path.display(), line_no + 2))?;
            v[k] = s.trim().parse().map_err(|e| {
                format!(
                    "{}:{}: column '{}': {e}",
                    path.display(),
                    line_no + 2,
                    names[k]
                )
            })?;
        }
        trial.t_s.push(v[0]);
        trial.gyr.push(Vector3::new(v[1], v[2], v[3]));
        trial.acc.push(Vector3::new(v[4], v[5], v[6]));
        let q = Quaternion::new(v[7], v[8], v[9], v[10]);
        trial.q_gt.push(
            if q.coords.iter().all(|c| c.is_finite()) && q.norm() > 0.5 {
                Some(UnitQuaternion::new_normalize(q))
            } else {
                None
            },
        );
        trial.movement.push(v[11] != 0.0);
    }
    if trial.len() < 2 {
        return Err(format!("{}: fewer than two samples", path.display()));
    }
    Ok(trial)
}

/// Runs the project's 6D filter (default parameters, nominal rate from the data) over the trial.
pub fn run_orientation(trial: &Trial) -> Vec<UnitQuaternion<f64>> {
    let mut filter = SensorOrientation::new(trial.rate_hz(), &OrientationParams::default());
    (0..trial.len())
        .map(|i| filter.update(trial.t_s[i], &trial.gyr[i], &trial.acc[i]))
        .collect()
}

/// BROAD error RMSEs of one estimate, degrees.
#[derive(Debug, Clone, Copy)]
pub struct Errors {
    /// Inclination RMSE (heading-free; the 6D metric).
    pub inclination_deg: f64,
    /// Total RMSE after removing one constant heading offset (`total_hr` of `broad_eval.py`).
    pub total_hr_deg: f64,
    /// Number of evaluated samples (movement and valid ground truth).
    pub samples: usize,
}

/// BROAD metric: `q_err = q_est ⊗ q_gt⁻¹` over samples with `movement` and valid GT;
/// inclination = `2·acos(√(w² + z²))`; `total_hr` = `2·acos|w|` after the least-squares heading alignment.
pub fn evaluate(trial: &Trial, q_est: &[UnitQuaternion<f64>]) -> Errors {
    assert_eq!(q_est.len(), trial.len());
    let q_err: Vec<Quaternion<f64>> = (0..trial.len())
        .filter(|&i| trial.movement[i])
        .filter_map(|i| trial.q_gt[i].map(|gt| (q_est[i] * gt.inverse()).into_inner()))
        .collect();
    let n = q_err.len();
    assert!(n > 0, "{}: no evaluated samples", trial.name);
    let rms_deg = |sum_sq: f64| (sum_sq / n as f64).sqrt().to_degrees();

    let incl_sq: f64 = q_err
        .iter()
        .map(|q| {
            let a = 2.0 * (q.w * q.w + q.k * q.k).sqrt().clamp(0.0, 1.0).acos();
            a * a
        })
        .sum();

    // Heading offset d maximising Σ (cos(d/2)·w + sin(d/2)·z)²: principal eigenvector of [[Sww Swz] [Swz Szz]].
    let (sww, swz, szz) = q_err.iter().fold((0.0, 0.0, 0.0), |(a, b, c), q| {
        (a + q.w * q.w, b + q.w * q.k, c + q.k * q.k)
    });
    let half = 0.5 * (2.0 * swz).atan2(sww - szz);
    let (s, c) = half.sin_cos();
    // Corrected error q_z(−d) ⊗ q_err has scalar part c·w + s·z.
    let total_sq: f64 = q_err
        .iter()
        .map(|q| {
            let a = 2.0 * (c * q.w + s * q.k).abs().clamp(0.0, 1.0).acos();
            a * a
        })
        .sum();

    Errors {
        inclination_deg: rms_deg(incl_sq),
        total_hr_deg: rms_deg(total_sq),
        samples: n,
    }
}

/// Crate root (`CARGO_MANIFEST_DIR`).
pub fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reduced fixtures committed with the crate.
pub fn fixtures_dir() -> PathBuf {
    crate_root().join("fixtures").join("broad")
}

/// Full shared BROAD subset: `$STRETCHWATCH_SHARED/datasets/broad`, default `<crate>/../shared/...`.
/// Returns the path even if it does not exist (the caller decides whether to skip).
pub fn shared_broad_dir() -> PathBuf {
    let shared = std::env::var_os("STRETCHWATCH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_root().join("..").join("shared"));
    shared.join("datasets").join("broad")
}

/// One row of `fixtures/broad/reference.csv` (written by `fixtures/broad/make_reduced.py`).
#[derive(Debug, Clone)]
pub struct ReducedReference {
    /// Fixture file name, e.g. `05_undisturbed_slow_rotation_with_breaks_B_95hz.csv`.
    pub file: String,
    /// Official `vqf` 6D inclination RMSE on that file, degrees.
    pub inclination_deg: f64,
    /// Official `vqf` 6D heading-aligned total RMSE on that file, degrees.
    pub total_hr_deg: f64,
}

/// Reads `fixtures/broad/reference.csv` (columns `file,samples,rate_hz,vqf6d_incl_deg,vqf6d_total_hr_deg`).
pub fn reduced_references() -> Result<Vec<ReducedReference>, String> {
    let path = fixtures_dir().join("reference.csv");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| format!("{}: missing column '{name}'", path.display()))
    };
    let (c_file, c_incl, c_thr) = (
        col("file")?,
        col("vqf6d_incl_deg")?,
        col("vqf6d_total_hr_deg")?,
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let num = |c: usize| -> Result<f64, String> {
                f.get(c)
                    .ok_or_else(|| format!("{}: short row '{line}'", path.display()))?
                    .parse()
                    .map_err(|e| format!("{}: row '{line}': {e}", path.display()))
            };
            Ok(ReducedReference {
                file: f
                    .get(c_file)
                    .ok_or_else(|| format!("{}: short row '{line}'", path.display()))?
                    .to_string(),
                inclination_deg: num(c_incl)?,
                total_hr_deg: num(c_thr)?,
            })
        })
        .collect()
}
