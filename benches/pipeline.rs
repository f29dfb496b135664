//! Speed of the core: cost per two-sensor frame of orientation + kinematics (with a seated
//! calibration, and with a standing one that the session's movements still refine), the cost of
//! calibrating (seated swings; standing swings, which add the in-plane thigh-axis scan), and
//! `replay` end-to-end (parse, calibrate, orientation, kinematics) on a 30-minute 100 Hz recording.
//!
//! `cargo bench --bench pipeline`; throughput is reported in frames per second.

mod common;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use stretchwatch::calibration::Calibrator;
use stretchwatch::pipeline::{Pipeline, PipelineParams};
use stretchwatch::replay::{ReplayOptions, replay_file, replay_samples};
use stretchwatch::sim::{self, SimOptions, Variant};

/// Cost of the core per two-sensor frame on `preset`, calibrated from its own windows.
fn bench_frames(c: &mut Criterion, preset: &str, label: &str) {
    let out = sim::simulate(
        &sim::preset(preset).unwrap(),
        &SimOptions::new(100.0, Variant::Realistic, 1),
    );
    let summary = replay_samples(&out.header, &out.samples, &ReplayOptions::default(), |_| {})
        .expect("calibrates");
    let profile = summary.profile.unwrap();
    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Elements(summary.frames as u64));
    g.bench_function(label, |b| {
        b.iter_batched(
            || {
                Pipeline::new(
                    &profile,
                    stretchwatch::model::StretchType::Supine,
                    100.0,
                    PipelineParams::default(),
                )
            },
            |mut p| {
                let mut n = 0usize;
                for s in &out.samples {
                    p.push(s, |a| {
                        black_box(a);
                        n += 1;
                    });
                }
                n
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn frame_cost(c: &mut Criterion) {
    bench_frames(c, "S1", "orientation+kinematics per two-sensor frame");
}

fn refining_frame_cost(c: &mut Criterion) {
    bench_frames(
        c,
        "standing_swings",
        "per two-sensor frame, standing calibration refined",
    );
}

fn calibration_cost(c: &mut Criterion) {
    let mut g = c.benchmark_group("calibration");
    g.sample_size(20);
    for name in ["S1", "standing_swings"] {
        let out = sim::simulate(
            &sim::preset(name).unwrap(),
            &SimOptions::new(100.0, Variant::Realistic, 1),
        );
        g.bench_function(
            format!("{name}: standing + 12 s of swings at 100 Hz"),
            |b| {
                b.iter(|| {
                    let mut cal = Calibrator::new(&out.header, 100.0).unwrap();
                    let end = cal.end_s();
                    out.samples
                        .iter()
                        .filter(|s| s.t_s <= end)
                        .for_each(|s| cal.push(s));
                    black_box(cal.finish().unwrap())
                })
            },
        );
    }
    g.finish();
}

fn replay_end_to_end(c: &mut Criterion) {
    let path = common::thirty_minute_recording();
    let frames = replay_file(&path, &ReplayOptions::default(), |_| {})
        .expect("replays")
        .frames;
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.throughput(Throughput::Elements(frames as u64));
    g.bench_function("30 min, 100 Hz, thigh + shank (file to angles)", |b| {
        b.iter(|| {
            replay_file(&path, &ReplayOptions::default(), |a| {
                black_box(a);
            })
            .unwrap()
            .frames
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    frame_cost,
    refining_frame_cost,
    calibration_cost,
    replay_end_to_end
);
criterion_main!(benches);
