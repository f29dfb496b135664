//! Shared helpers of the form tests: simulate a scenario, replay it through the core and the form
//! engine, and collect the events with scenario-relative times.

#![allow(dead_code)]

use stretchwatch::form::{Event, FormConfig, FormContext, FormEngine};
use stretchwatch::replay::{ReplayOptions, replay_samples};
use stretchwatch::sim::{self, Scenario, SimOptions, SimOutput, Variant};

/// Events of one run, with the block offset T0 to convert to scenario time.
pub struct Run {
    pub label: String,
    pub events: Vec<Event>,
    pub t0_s: f64,
}

impl Run {
    /// Scenario-relative time of an event.
    pub fn rel(&self, e: &Event) -> f64 {
        e.t_s() - self.t0_s
    }

    /// Events with a given name.
    pub fn named(&self, name: &str) -> Vec<&Event> {
        self.events.iter().filter(|e| e.name() == name).collect()
    }

    /// ON events of a detector.
    pub fn ons(&self, name: &str) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| e.name() == name && e.state() == Some(stretchwatch::form::State::On))
            .collect()
    }

    /// OFF events of a detector.
    pub fn offs(&self, name: &str) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| e.name() == name && e.state() == Some(stretchwatch::form::State::Off))
            .collect()
    }

    /// Every event as JSON lines (for failure messages).
    pub fn dump(&self) -> String {
        self.events
            .iter()
            .map(|e| format!("  {:8.3} {}", self.rel(e), e.to_json()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The summary event.
    pub fn summary(&self) -> &Event {
        self.events.last().expect("summary")
    }
}

/// Simulates `scn` and runs the whole pipeline.
pub fn run_scenario(scn: &Scenario, rate_hz: f64, variant: Variant, seed: u64) -> Run {
    run_with(
        scn,
        rate_hz,
        variant,
        seed,
        FormConfig::default(),
        None,
        |_| {},
    )
}

/// Same with a config, a baseline override and a header tweak.
pub fn run_with(
    scn: &Scenario,
    rate_hz: f64,
    variant: Variant,
    seed: u64,
    cfg: FormConfig,
    baseline_deg: Option<f64>,
    tweak: impl FnOnce(&mut SimOutput),
) -> Run {
    let mut out = sim::simulate(scn, &SimOptions::new(rate_hz, variant, seed));
    tweak(&mut out);
    run_output(
        &out,
        &format!("{} {variant} {rate_hz} Hz seed {seed}", scn.name),
        cfg,
        baseline_deg,
    )
}

/// Runs simulated output through replay and the form engine.
pub fn run_output(out: &SimOutput, label: &str, cfg: FormConfig, baseline_deg: Option<f64>) -> Run {
    let ctx = FormContext::from_header(&out.header, &cfg, baseline_deg);
    let mut engine = FormEngine::new(cfg, ctx);
    let mut events = Vec::new();
    replay_samples(&out.header, &out.samples, &ReplayOptions::default(), |a| {
        engine.push(a, &mut |e: &Event| events.push(*e));
    })
    .unwrap_or_else(|e| panic!("{label}: {e}"));
    engine.finish(&mut |e: &Event| events.push(*e));
    let t0_s = out
        .header
        .extra
        .iter()
        .find(|(k, _)| k == "block_offset_s")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0.0);
    Run {
        label: label.to_string(),
        events,
        t0_s,
    }
}

/// The four run conditions every spec scenario must pass.
pub const CONDITIONS: [(f64, Variant); 4] = [
    (100.0, Variant::Clean),
    (100.0, Variant::Realistic),
    (50.0, Variant::Clean),
    (50.0, Variant::Realistic),
];
