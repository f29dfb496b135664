//! Records a simulated scenario through the live driver (on tokio's paused clock, so instantly)
//! as a raw notification log and IMU CSV, the way `stretchwatch live --simulate` records a
//! session. Used to make the raw-log fixtures in `fixtures/raw/`:
//!
//! ```text
//! cargo run --example sim_raw_log -- S6 movesense 52 fixtures/raw/s6_movesense
//! ```

use stretchwatch::form::FormConfig;
use stretchwatch::live::run::{RunOptions, drive_simulated};
use stretchwatch::live::{LiveConfig, LiveOutputs, LiveSession};
use stretchwatch::model::SensorRole;
use stretchwatch::protocol::Family;
use stretchwatch::sim;
use stretchwatch::source::simulated::{encode_all, sim_devices};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scenario, family, rate, prefix] = args.as_slice() else {
        anyhow::bail!("usage: sim_raw_log SCENARIO FAMILY RATE_HZ PREFIX");
    };
    let family: Family = family.parse()?;
    let rate: u32 = rate.parse()?;
    let scn = sim::preset(scenario).ok_or_else(|| anyhow::anyhow!("no preset {scenario}"))?;
    let out = sim::simulate(
        &scn,
        &sim::SimOptions::new(f64::from(rate), sim::Variant::Realistic, 42),
    );
    let mut roles = vec![SensorRole::Thigh, SensorRole::Shank];
    if scn.pelvis_sensor {
        roles.push(SensorRole::Pelvis);
    }
    let devices = sim_devices(&roles, family, rate)?;
    let notes = encode_all(&out.samples, &devices, 1, 0.0, f64::INFINITY)?;
    let cfg = LiveConfig {
        devices: devices.iter().map(|d| d.device.clone()).collect(),
        stretch: out.header.stretch.unwrap_or_default(),
        side: out.header.side.unwrap_or_default(),
        profile: None,
        params: Default::default(),
        form: FormConfig::default(),
        baselines: Default::default(),
    };
    let outputs = LiveOutputs {
        raw_log: Some(format!("{prefix}.raw.jsonl").into()),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?;
    let mut session = LiveSession::new(cfg, &outputs, "simulated", 1_764_633_600.0, None)?;
    rt.block_on(drive_simulated(
        &mut session,
        &devices,
        notes,
        0.0,
        &RunOptions {
            bell: false,
            ..Default::default()
        },
    ))?;
    let (view, figures) = session.finish()?;
    eprintln!(
        "{prefix}.raw.jsonl: {} records, {} frames",
        figures.records, figures.frames
    );
    for l in view.summary {
        eprintln!("  {l}");
    }
    Ok(())
}
