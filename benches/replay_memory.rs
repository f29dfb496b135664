//! Peak memory of `replay` on a 30-minute, 100 Hz, two-sensor recording (goal < 50 MB).
//!
//! `cargo bench --bench replay_memory`: the recording is generated once, then replayed in a child
//! process (this same binary with `--child FILE`) so the generator's memory is not counted; the
//! child reports its peak resident set (VmHWM, Linux).

mod common;

use std::process::Command;
use stretchwatch::replay::{ReplayOptions, replay_file};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let path = std::path::PathBuf::from(&args[i + 1]);
        let t = std::time::Instant::now();
        let sum = replay_file(&path, &ReplayOptions::default(), |a| {
            std::hint::black_box(a);
        })
        .expect("replays");
        let secs = t.elapsed().as_secs_f64();
        println!("{} {} {:.3}", sum.frames, peak_rss_kib().unwrap_or(0), secs);
        return;
    }
    let path = common::thirty_minute_recording();
    let size_mb = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--child")
        .arg(&path)
        .output()
        .expect("child runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<&str> = text.split_whitespace().collect();
    if v.len() != 3 {
        eprintln!("child failed: {}", String::from_utf8_lossy(&out.stderr));
        std::process::exit(1);
    }
    let (frames, kib, secs): (f64, f64, f64) = (
        v[0].parse().unwrap(),
        v[1].parse().unwrap(),
        v[2].parse().unwrap(),
    );
    println!(
        "replay of {} ({size_mb:.1} MB, {frames} frames): peak memory {:.1} MB, {:.3} s, {:.0} frames/s",
        path.display(),
        kib / 1024.0,
        secs,
        frames / secs
    );
}
