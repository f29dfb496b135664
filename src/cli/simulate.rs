//! `simulate`: a recording of a scenario (a preset or a TOML file) with its ground truth.

use super::InputError;
use anyhow::Result;
use std::path::{Path, PathBuf};
use stretchwatch::sim;

/// `stretchwatch simulate`.
pub fn cmd_simulate(
    scenario: Option<String>,
    rate: f64,
    variant: &str,
    seed: u64,
    out: Option<PathBuf>,
    list: bool,
) -> Result<()> {
    if list {
        for n in sim::preset_names() {
            println!("{n}");
        }
        println!("routine");
        return Ok(());
    }
    let name = scenario.ok_or_else(|| {
        InputError(
            "simulate needs a SCENARIO (a preset such as S1, or a .toml file); see --list".into(),
        )
    })?;
    let scn = sim::Simulation::resolve(&name).map_err(|e| InputError(e.to_string()))?;
    if !(50.0..=200.0).contains(&rate) {
        return Err(InputError(format!("--rate {rate} is out of range (50 to 200 Hz)")).into());
    }
    let variant: sim::Variant = variant
        .parse()
        .map_err(|e: String| InputError(format!("--variant: {e}")))?;
    let out = out.ok_or_else(|| InputError("simulate needs --out FILE".into()))?;
    let truth = truth_path(&out);
    let opts = sim::SimOptions::new(rate, variant, seed);
    let result = scn.run(&opts);
    sim::write_recording(&result, &out, &truth)?;
    eprintln!(
        "wrote {} ({} samples) and {}",
        out.display(),
        result.samples.len(),
        truth.display()
    );
    Ok(())
}

/// `x.csv` → `x.truth.csv`.
fn truth_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recording".into());
    out.with_file_name(format!("{stem}.truth.csv"))
}
