//! `scan`: nearby Bluetooth sensors, their family, name, address and signal strength.

use anyhow::Result;
use std::io::Write;
use stretchwatch::source::ble::{open_adapter, scan};

/// `stretchwatch scan`.
pub fn cmd_scan(seconds: f64, all: bool) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let found = rt.block_on(async {
        let adapter = open_adapter().await?;
        scan(
            &adapter,
            std::time::Duration::from_secs_f64(seconds.max(0.5)),
        )
        .await
    })?;
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "{:<22} {:<24} {:<18} {:>5}",
        "family", "name", "address", "rssi"
    )?;
    let mut shown = 0;
    for f in &found {
        if f.family.is_none() && !all {
            continue;
        }
        shown += 1;
        writeln!(
            o,
            "{:<22} {:<24} {:<18} {:>5}",
            f.family
                .map(|f| f.display_name())
                .unwrap_or("(unsupported)"),
            f.name.as_deref().unwrap_or("—"),
            f.address,
            f.rssi.map(|r| format!("{r} dBm")).unwrap_or("—".into())
        )?;
    }
    if shown == 0 {
        eprintln!(
            "stretchwatch: no supported sensor seen in {seconds:.0} s ({} other devices; --all lists them)",
            found.len()
        );
    }
    Ok(())
}
