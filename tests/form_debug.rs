mod form_common;
use form_common::*;
use stretchwatch::sim::{self, Variant};

#[test]
#[ignore]
fn dump_preset() {
    let name = std::env::var("PRESET").unwrap_or("S1".into());
    let rate: f64 = std::env::var("RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100.0);
    let variant: Variant = std::env::var("VARIANT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(Variant::Clean);
    let r = run_scenario(&sim::preset(&name).unwrap(), rate, variant, 42);
    println!("{}\n{}", r.label, r.dump());
}
