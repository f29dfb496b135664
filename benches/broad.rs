//! BROAD bench for the 6D orientation filter (`SensorOrientation`, VQF via vqf-rs).
//!
//! `cargo bench --bench broad` first prints, per trial, our inclination RMSE next to the official VQF 6D
//! reference (and the heading-aligned total RMSE), then lets criterion measure the cost of one
//! `SensorOrientation::update` (the reported time is per update, in ns).
//! Data: the six full trials from `$STRETCHWATCH_SHARED/datasets/broad` (default `<crate>/../shared`);
//! if that folder is absent, the reduced copies in `fixtures/broad/`.

#[path = "../tests/common/broad.rs"]
mod broad;

use broad::{
    FULL_REFERENCE, TOLERANCE_DEG, Trial, evaluate, fixtures_dir, load_csv, reduced_references,
    run_orientation, shared_broad_dir,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use stretchwatch::orientation::{OrientationParams, SensorOrientation};

/// A loaded trial with its official-VQF references (inclination, total_hr), degrees.
struct Case {
    trial: Trial,
    ref_incl_deg: f64,
    ref_total_hr_deg: f64,
}

/// Full shared trials if present, else the reduced fixtures.
fn load_cases() -> (Vec<Case>, String) {
    let dir = shared_broad_dir();
    if dir.is_dir() {
        let cases = FULL_REFERENCE
            .iter()
            .map(|&(name, incl, total_hr)| Case {
                trial: load_csv(&dir.join(format!("{name}.csv"))).unwrap_or_else(|e| panic!("{e}")),
                ref_incl_deg: incl,
                ref_total_hr_deg: total_hr,
            })
            .collect();
        let source = format!(
            "full trials from {} (references: that folder's README, 2 decimals)",
            dir.display()
        );
        return (cases, source);
    }
    let cases = reduced_references()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|r| Case {
            trial: load_csv(&fixtures_dir().join(&r.file)).unwrap_or_else(|e| panic!("{e}")),
            ref_incl_deg: r.inclination_deg,
            ref_total_hr_deg: r.total_hr_deg,
        })
        .collect();
    let source = format!(
        "{} not found: reduced fixtures from {} (references: reference.csv)",
        dir.display(),
        fixtures_dir().display()
    );
    (cases, source)
}

/// Prints the accuracy table (ours vs official VQF) with a whole-trial timing per row.
fn print_accuracy(cases: &[Case], source: &str) {
    println!("\nBROAD, 6D, inclination and heading-aligned total RMSE in degrees; {source}");
    println!(
        "{:<46} {:>7} {:>7} {:>7} {:>8} {:>7} {:>9} {:>9} {:>10}",
        "trial", "Hz", "eval", "incl", "ref", "diff", "total_hr", "ref", "ns/update"
    );
    let (mut sum, mut sum_ref) = (0.0, 0.0);
    for c in cases {
        let mut best = Duration::MAX;
        let mut q = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            q = black_box(run_orientation(black_box(&c.trial)));
            best = best.min(start.elapsed());
        }
        let e = evaluate(&c.trial, &q);
        let diff = e.inclination_deg - c.ref_incl_deg;
        sum += e.inclination_deg;
        sum_ref += c.ref_incl_deg;
        println!(
            "{:<46} {:>7.1} {:>7} {:>7.3} {:>8.3} {:>+7.3} {:>9.3} {:>9.3} {:>10.0}  {}",
            c.trial.name,
            c.trial.rate_hz(),
            e.samples,
            e.inclination_deg,
            c.ref_incl_deg,
            diff,
            e.total_hr_deg,
            c.ref_total_hr_deg,
            best.as_nanos() as f64 / c.trial.len() as f64,
            if diff.abs() <= TOLERANCE_DEG {
                "ok"
            } else {
                "OUTSIDE 0.1°"
            }
        );
    }
    let n = cases.len() as f64;
    println!(
        "{:<46} {:>7} {:>7} {:>7.3} {:>8.3}\n",
        "mean",
        "",
        "",
        sum / n,
        sum_ref / n
    );
}

fn bench_broad(c: &mut Criterion) {
    let (cases, source) = load_cases();
    print_accuracy(&cases, &source);

    let mut group = c.benchmark_group("vqf6d_update");
    group.throughput(Throughput::Elements(1));
    for case in &cases {
        let t = &case.trial;
        let span_s = t.t_s[t.len() - 1] - t.t_s[0] + 1.0 / t.rate_hz();
        group.bench_function(t.name.as_str(), |b| {
            // One iteration = one update; the trial is replayed cyclically with increasing timestamps.
            b.iter_custom(|iters| {
                let mut f = SensorOrientation::new(t.rate_hz(), &OrientationParams::default());
                let (mut i, mut lap) = (0usize, 0.0f64);
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(f.update(t.t_s[i] + lap, &t.gyr[i], &t.acc[i]));
                    i += 1;
                    if i == t.len() {
                        i = 0;
                        lap += span_s;
                    }
                }
                start.elapsed()
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_broad
}
criterion_main!(benches);
