//! Randomly mutated copies of the bundled fixtures through the release CLI paths a user takes
//! (`replay --json --angles-out`, `import` and `export`, `calibrate`): every run ends within
//! seconds with exit 0 or 2; an exit 2 is one line on stderr naming the file, with nothing on
//! stdout; an exit 0 writes no NaN or infinity anywhere.
//!
//! The seeds are fixed, so a failure reproduces. `STRETCHWATCH_MUTATIONS=N` runs a longer
//! campaign (the default keeps the test suite fast).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DEFAULT_MUTATIONS: usize = 36;
const LIMIT: Duration = Duration::from_secs(30);

#[path = "common/cli_run.rs"]
mod cli_run;
use cli_run::{Run, has_non_finite};

fn run(args: &[&std::ffi::OsStr], db: &Path) -> Run {
    cli_run::run_for(args, db, LIMIT)
}

const EXTREMES: [&str; 14] = [
    "1e308",
    "-1e308",
    "1.4e154",
    "nan",
    "inf",
    "-inf",
    "1e17",
    "-0",
    "",
    "x",
    "1e-320",
    "4294967296",
    "-9999999",
    "0.000",
];

const HEADER_LINES: [&str; 14] = [
    "# sensor.model: WT901",
    "# sensor..model: WT901",
    "# rate_hz: 1e12",
    "# rate_hz: 0.001",
    "# calibration.static: 0 1e12",
    "# calibration.functional: 5 1e9",
    "# calibration.static: 7 3",
    "# marker: 1e300 block.start",
    "# marker: 10 block.end",
    "# marker: 30 block.start side=middle",
    "# side: middle",
    "# stretch: ",
    "# warmup_status: maybe",
    "# pelvis_calibration.functional: 0 1e12",
];

/// One mutation of a fixture's text, chosen by `rng`; returns a description and the new text.
fn mutate(text: &str, rng: &mut ChaCha8Rng) -> (String, Vec<u8>) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let first_row = lines.iter().position(|l| l.starts_with("t_s,")).unwrap() + 1;
    let n = lines.len();
    let pick_row = |rng: &mut ChaCha8Rng| rng.random_range(first_row..n);
    let what = match rng.random_range(0..11) {
        0 | 1 => {
            let i = pick_row(rng);
            let mut f: Vec<String> = lines[i].split(',').map(str::to_string).collect();
            let c = rng.random_range(0..f.len());
            let v = EXTREMES[rng.random_range(0..EXTREMES.len())];
            f[c] = v.to_string();
            lines[i] = f.join(",");
            format!("line {} cell {c} = '{v}'", i + 1)
        }
        2 => {
            let i = pick_row(rng);
            lines.remove(i);
            format!("line {} deleted", i + 1)
        }
        3 => {
            let i = pick_row(rng);
            let l = lines[i].clone();
            lines.insert(i, l);
            format!("line {} repeated", i + 1)
        }
        4 => {
            let i = pick_row(rng).min(n - 2);
            lines.swap(i, i + 1);
            format!("lines {} and {} swapped", i + 1, i + 2)
        }
        5 => {
            let i = rng.random_range(0..first_row);
            let l = HEADER_LINES[rng.random_range(0..HEADER_LINES.len())];
            lines.insert(i.max(1), l.to_string());
            format!("header '{l}' inserted at line {}", i.max(1) + 1)
        }
        6 => {
            let i = rng.random_range(1..first_row - 1);
            let v = EXTREMES[rng.random_range(0..EXTREMES.len())];
            let k = lines[i].split(':').next().unwrap().to_string();
            lines[i] = format!("{k}: {v}");
            format!("header line {} = '{k}: {v}'", i + 1)
        }
        7 => {
            // Every row from a random point shifted far ahead (a clock jump).
            let from = pick_row(rng);
            let dt = [3600.0, 1e9, 1e11][rng.random_range(0..3)];
            for l in &mut lines[from..] {
                let mut f: Vec<String> = l.split(',').map(str::to_string).collect();
                if let Ok(t) = f[0].parse::<f64>() {
                    f[0] = format!("{:.6}", t + dt);
                    *l = f.join(",");
                }
            }
            format!("time +{dt} s from line {}", from + 1)
        }
        8 => {
            let i = pick_row(rng);
            let l = HEADER_LINES[rng.random_range(0..HEADER_LINES.len())];
            lines.insert(i, l.to_string());
            format!("'{l}' inside the rows at line {}", i + 1)
        }
        9 => {
            let mut bytes = (lines.join("\n") + "\n").into_bytes();
            let cut = rng.random_range(0..bytes.len());
            bytes.truncate(cut);
            return (format!("truncated at byte {cut}"), bytes);
        }
        _ => {
            let mut bytes = (lines.join("\n") + "\n").into_bytes();
            let k = rng.random_range(1..6);
            let mut at = Vec::new();
            for _ in 0..k {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random_range(0..=255u8);
                at.push(i);
            }
            return (format!("bytes {at:?} overwritten"), bytes);
        }
    };
    (what, (lines.join("\n") + "\n").into_bytes())
}

#[test]
fn mutated_fixtures_end_cleanly_without_non_finite_output() {
    let count: usize = std::env::var("STRETCHWATCH_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MUTATIONS);
    let fixtures = ["s1_100hz.csv", "s2_50hz.csv", "s7_100hz.csv"];
    let texts: Vec<String> = fixtures
        .iter()
        .map(|f| {
            std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("fixtures")
                    .join(f),
            )
            .unwrap()
        })
        .collect();
    let dir: PathBuf =
        std::env::temp_dir().join(format!("stretchwatch-mut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("sessions.db");
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_1157);
    let (mut ok, mut refused, mut slowest) = (0, 0, Duration::ZERO);
    for k in 0..count {
        let which = k % fixtures.len();
        let (what, bytes) = mutate(&texts[which], &mut rng);
        let file = dir.join(format!("m{k}.csv"));
        std::fs::write(&file, &bytes).unwrap();
        let angles = dir.join(format!("m{k}.angles.csv"));
        let case = format!("mutation {k} of {} ({what})", fixtures[which]);
        let check = |r: &Run, cmd: &str| {
            assert!(
                r.code == 0 || r.code == 2,
                "{case}: {cmd} exit {}: {}",
                r.code,
                r.stderr
            );
            if r.code == 2 {
                let line = r.stderr.trim_end();
                assert!(
                    !line.is_empty() && !line.contains('\n'),
                    "{case}: {cmd}: {line}"
                );
                assert!(
                    line.contains(&file.display().to_string()),
                    "{case}: {cmd}: {line}"
                );
                assert!(r.stdout.is_empty(), "{case}: {cmd} printed before failing");
            } else {
                assert!(
                    !has_non_finite(&r.stdout),
                    "{case}: {cmd} stdout: {}",
                    r.stdout
                );
            }
        };
        let r = run(
            &[
                "replay".as_ref(),
                file.as_os_str(),
                "--json".as_ref(),
                "--angles-out".as_ref(),
                angles.as_os_str(),
            ],
            &db,
        );
        check(&r, "replay");
        slowest = slowest.max(r.took);
        if r.code == 0 {
            ok += 1;
            let a = std::fs::read_to_string(&angles).unwrap();
            assert!(!has_non_finite(&a), "{case}: angles");
        } else {
            refused += 1;
            if std::env::var_os("STRETCHWATCH_MUTATIONS_VERBOSE").is_some() {
                eprintln!("{case}: {}", r.stderr.trim_end());
            }
        }
        let r = run(&["calibrate".as_ref(), file.as_os_str()], &db);
        check(&r, "calibrate");
        if k % 3 == 0 {
            let r = run(&["import".as_ref(), file.as_os_str()], &db);
            check(&r, "import");
            if r.code == 0 {
                let id = r
                    .stdout
                    .split_whitespace()
                    .nth(2)
                    .and_then(|w| w.parse::<i64>().ok())
                    .unwrap_or_else(|| panic!("{case}: import said {}", r.stdout));
                let prefix = dir.join(format!("export{k}"));
                let r = run(
                    &[
                        "export".as_ref(),
                        id.to_string().as_ref(),
                        "--out".as_ref(),
                        prefix.as_os_str(),
                    ],
                    &db,
                );
                assert_eq!(r.code, 0, "{case}: export {}", r.stderr);
                for kind in ["angles", "reps", "events"] {
                    let p = PathBuf::from(format!("{}.{kind}.csv", prefix.display()));
                    let t = std::fs::read_to_string(&p).unwrap();
                    assert!(!has_non_finite(&t), "{case}: exported {kind}");
                }
            }
        }
    }
    eprintln!(
        "{count} mutations: {ok} replayed, {refused} refused with a one-line error; slowest replay {slowest:?}"
    );
    assert!(
        ok > 0 && refused > 0,
        "the mutations exercise both outcomes"
    );
}
