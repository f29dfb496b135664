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
        return Ok(());
    }
    let name = scenario.ok_or_else(|| {
        InputError(
            "simulate needs a SCENARIO (a preset such as S1, or a .toml file); see --list".into(),
        )
    })?;
    let scn = match sim::preset(&name) {
        Some(s) => s,
        None if Path::new(&name).exists() => {
            sim::load_scenario(Path::new(&name)).map_err(|e| InputError(e.to_string()))?
        }
        None => {
            return Err(InputError(format!(
                "unknown scenario '{name}': not a preset ({}) and no such file",
                sim::preset_names().join(", ")
            ))
            .into());
        }
    };
    if !(50.0..=200.0).contains(&rate) {
        return Err(InputError(format!("--rate {rate} is out of range (50 to 200 Hz)")).into());
    }
    let variant: sim::Variant = variant
        .parse()
        .map_err(|e: String| InputError(format!("--variant: {e}")))?;
    let out = out.ok_or_else(|| InputError("simulate needs --out FILE".into()))?;
    let truth = truth_path(&out);
    let opts = sim::SimOptions::new(rate, variant, seed);
    let result = sim::simulate(&scn, &opts);
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
