//! Determinism: the same recording replayed twice by the CLI gives byte-identical `--json`
//! output, and feeding the samples to the streaming pipeline in different chunk sizes gives
//! byte-identical events.

mod form_common;

use std::process::Command;
use stretchwatch::form::{Event, FormConfig, FormContext, FormEngine};
use stretchwatch::model::StretchType;
use stretchwatch::pipeline::{Pipeline, PipelineParams};
use stretchwatch::replay::{ReplayOptions, replay_samples};
use stretchwatch::sim::{self, SimOptions, Variant};

#[test]
fn cli_json_is_byte_identical_across_runs_and_stdout_holds_only_json() {
    let dir = std::env::temp_dir().join(format!("sw-form-det-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rec = dir.join("s2.csv");
    let out = sim::simulate(
        &sim::preset("S2").unwrap(),
        &SimOptions::new(100.0, Variant::Realistic, 42),
    );
    sim::write_recording(&out, &rec, &dir.join("s2.truth.csv")).unwrap();
    let run = || {
        let o = Command::new(env!("CARGO_BIN_EXE_stretchwatch"))
            .args(["replay", rec.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let a = run();
    let b = run();
    assert_eq!(a, b);
    let text = String::from_utf8(a).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("every stdout line is JSON");
        assert!(v["event"].is_string() && v["t_s"].is_number(), "{l}");
        assert!(l.starts_with("{\"event\":"), "{l}");
    }
    assert!(lines.last().unwrap().starts_with("{\"event\":\"summary\""));
    assert!(text.contains("\"bouncing\""));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn chunked_streaming_gives_identical_events() {
    let out = sim::simulate(
        &sim::preset("S3").unwrap(),
        &SimOptions::new(100.0, Variant::Realistic, 5),
    );
    let cfg = FormConfig::default();
    let ctx = FormContext::from_header(&out.header, &cfg, None);
    // Reference: whole-recording replay.
    let mut reference = String::new();
    let mut engine = FormEngine::new(cfg, ctx);
    let summary = replay_samples(&out.header, &out.samples, &ReplayOptions::default(), |a| {
        engine.push(a, &mut |e: &Event| {
            reference.push_str(&(e.to_json() + "\n"))
        });
    })
    .unwrap();
    engine.finish(&mut |e: &Event| reference.push_str(&(e.to_json() + "\n")));
    let profile = summary.profile.unwrap();
    for chunk in [1usize, 7, 64, 1000, 100_000] {
        let mut pipe = Pipeline::new(
            &profile,
            StretchType::Supine,
            100.0,
            PipelineParams::default(),
        );
        let mut engine = FormEngine::new(cfg, ctx);
        let mut text = String::new();
        let mut frames = Vec::new();
        for part in out.samples.chunks(chunk) {
            // A chunk arrives: frames are produced, then handed to the form stage together.
            for s in part {
                pipe.push(s, |a| frames.push(*a));
            }
            for a in frames.drain(..) {
                engine.push(&a, &mut |e: &Event| text.push_str(&(e.to_json() + "\n")));
            }
        }
        engine.finish(&mut |e: &Event| text.push_str(&(e.to_json() + "\n")));
        assert_eq!(text, reference, "chunk size {chunk}");
    }
}
