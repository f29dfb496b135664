//! Speed of the form stage: the full pipeline (orientation + kinematics + phases + every
//! detector) per two-sensor frame, the form engine alone per frame, and the processing latency
//! per frame in streaming use (time from a sample's arrival to the end of the form stage for the
//! frames it completes), printed as p50 / p99.
//!
//! `cargo bench --bench form`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Instant;
use stretchwatch::form::{Event, FormConfig, FormContext, FormEngine};
use stretchwatch::model::{JointAngles, StretchType};
use stretchwatch::pipeline::{Pipeline, PipelineParams};
use stretchwatch::replay::{ReplayOptions, replay_samples};
use stretchwatch::sim::{self, SimOptions, SimOutput, Variant};

fn setup() -> (
    SimOutput,
    stretchwatch::calibration::CalibrationProfile,
    Vec<JointAngles>,
) {
    // S2 has bouncing, so D1 runs its full path; S3's knee lock would do the same for D2.
    let out = sim::simulate(
        &sim::preset("S2").unwrap(),
        &SimOptions::new(100.0, Variant::Realistic, 1),
    );
    let mut frames = Vec::new();
    let s = replay_samples(&out.header, &out.samples, &ReplayOptions::default(), |a| {
        frames.push(*a)
    })
    .unwrap();
    (out, s.profile.unwrap(), frames)
}

fn bench(c: &mut Criterion) {
    let (out, profile, frames) = setup();
    let cfg = FormConfig::default();
    let ctx = FormContext::from_header(&out.header, &cfg, None);
    let mut g = c.benchmark_group("form");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("full pipeline + all detectors per two-sensor frame", |b| {
        b.iter_batched(
            || {
                (
                    Pipeline::new(
                        &profile,
                        StretchType::Supine,
                        100.0,
                        PipelineParams::default(),
                    ),
                    FormEngine::new(cfg, ctx),
                )
            },
            |(mut p, mut e)| {
                let mut n = 0usize;
                for s in &out.samples {
                    p.push(s, |a| {
                        e.push(a, &mut |ev: &Event| {
                            black_box(ev);
                            n += 1;
                        })
                    });
                }
                e.finish(&mut |ev: &Event| {
                    black_box(ev);
                });
                n
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("form engine alone per frame", |b| {
        b.iter_batched(
            || FormEngine::new(cfg, ctx),
            |mut e| {
                for a in &frames {
                    e.push(a, &mut |ev: &Event| {
                        black_box(ev);
                    });
                }
                e.finish(&mut |ev: &Event| {
                    black_box(ev);
                });
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // Streaming latency: per arriving sample, pipeline + form for the frames it completes.
    let mut lat_ns: Vec<u64> = Vec::with_capacity(out.samples.len() * 5);
    for _ in 0..5 {
        let mut p = Pipeline::new(
            &profile,
            StretchType::Supine,
            100.0,
            PipelineParams::default(),
        );
        let mut e = FormEngine::new(cfg, ctx);
        for s in &out.samples {
            let t0 = Instant::now();
            let mut produced = false;
            p.push(s, |a| {
                produced = true;
                e.push(a, &mut |ev: &Event| {
                    black_box(ev);
                });
            });
            let dt = t0.elapsed().as_nanos() as u64;
            if produced {
                lat_ns.push(dt);
            }
        }
    }
    lat_ns.sort_unstable();
    let q = |p: f64| lat_ns[((lat_ns.len() - 1) as f64 * p) as usize];
    println!(
        "form/streaming latency per frame (sample arrival → events out, {} frames): p50 {:.2} µs, p99 {:.2} µs, max {:.2} µs",
        lat_ns.len(),
        q(0.50) as f64 / 1e3,
        q(0.99) as f64 / 1e3,
        *lat_ns.last().unwrap() as f64 / 1e3
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
