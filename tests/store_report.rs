//! Plots and exports against the store: valid PNG/SVG files whose drawn data matches the stored
//! sessions, and CSV/STO exports with the stored rows. Images are left in
//! `target/tmp/report/` for a look.

use std::path::{Path, PathBuf};
use stretchwatch::model::{JointAngles, Side, StretchType};
use stretchwatch::report::{self, export, plots};
use stretchwatch::store::history::FlagStatus;
use stretchwatch::store::{SessionFilter, SessionMeta, SessionSummary, Store, parse_utc};

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Six weeks of supine sessions: left steady near 72°, right rising from 58° (D4 and D8 fire).
fn fill(store: &mut Store) -> i64 {
    let t0 = parse_utc("2026-09-01T07:30").unwrap();
    let mut detailed = 0;
    for (k, day) in [
        0, 2, 4, 7, 9, 11, 14, 16, 18, 21, 23, 25, 28, 30, 32, 35, 37, 39, 41,
    ]
    .iter()
    .enumerate()
    {
        let k = k as f64;
        for side in [Side::Left, Side::Right] {
            let m = match side {
                Side::Left => 72.0 + (k * 1.3).sin() * 1.5,
                Side::Right => (58.0 + k * 1.6).min(75.0) + (k * 0.7).cos(),
            };
            let meta = SessionMeta {
                started_unix_s: t0
                    + *day as f64 * 86_400.0
                    + if side == Side::Right { 900.0 } else { 0.0 },
                side,
                stretch: StretchType::Supine,
                source: "test".into(),
                rate_hz: Some(100.0),
                sensors: vec![],
                calibration: None,
            };
            let mut w = store.begin_session(&meta).unwrap();
            if k == 3.0 && side == Side::Left {
                detailed = w.id();
                session_trace(&mut w);
            } else {
                w.set_summary(&SessionSummary {
                    reps: 3,
                    total_static_hold_s: 96.0,
                    warnings_per_min: Some(0.4),
                    session_value_deg: Some(m),
                    active_s: Some(120.0),
                });
            }
            w.finish().unwrap();
        }
    }
    detailed
}

/// One S2-like rep with events as the form module would emit them.
fn session_trace(w: &mut stretchwatch::store::SessionWriter<'_>) {
    let mj = |t: f64, t0: f64, d: f64, a: f64, b: f64| {
        let s = ((t - t0) / d).clamp(0.0, 1.0);
        a + (b - a) * (10.0 * s.powi(3) - 15.0 * s.powi(4) + 6.0 * s.powi(5))
    };
    for i in 0..6300 {
        let t = i as f64 * 0.01;
        let mut hip = mj(t, 5.0, 4.0, 0.0, 70.0) + mj(t, 55.0, 3.0, 70.0, 0.0) - 70.0;
        if (15.0..23.0).contains(&t) {
            hip += 4.0 * (1.0 - (2.0 * std::f64::consts::PI * 1.5 * (t - 15.0)).cos());
        }
        let knee = mj(t, 3.5, 2.0, 1.0, 12.0) + mj(t, 58.0, 2.0, 12.0, 1.0) - 12.0;
        w.push_angles(&JointAngles {
            t_s: t,
            knee_flexion_deg: Some(knee),
            hip_flexion_deg: Some(hip),
            leg_raise_deg: Some(hip),
            ..Default::default()
        })
        .unwrap();
    }
    for ev in [
        r#"{"event":"phase","t_s":6.2,"phase":"moving_in","onset_s":5.6}"#,
        r#"{"event":"phase","t_s":9.4,"phase":"hold","onset_s":8.4}"#,
        r#"{"event":"bouncing","t_s":16.84,"state":"on","severity":"warning","freq_hz":1.5,"p2p_deg":8.0}"#,
        r#"{"event":"bouncing","t_s":24.84,"state":"off","severity":"warning"}"#,
        r#"{"event":"phase","t_s":55.6,"phase":"release","onset_s":55.3}"#,
        r#"{"event":"rep","t_s":55.6,"rep":1,"static_hold_s":39.6,"positional_hold_s":47.1,"hold_angle_deg":70.1,"peak_angle_deg":78.0,"knee_mean_deg":12.0}"#,
        r#"{"event":"phase","t_s":58.9,"phase":"rest","onset_s":58.4}"#,
        r#"{"event":"dose_short","t_s":62.9,"total_static_hold_s":39.6}"#,
        r#"{"event":"summary","t_s":62.99,"reps":1,"total_static_hold_s":39.6,"warnings_per_min":1.2,"session_value_deg":70.1}"#,
    ] {
        let v: serde_json::Value = serde_json::from_str(ev).unwrap();
        w.add_event(&v).unwrap();
    }
}

fn assert_png(path: &Path, size: (u32, u32)) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    assert_eq!(&b[12..16], b"IHDR");
    let w = u32::from_be_bytes(b[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(b[20..24].try_into().unwrap());
    assert_eq!((w, h), size);
    assert_eq!(&b[b.len() - 8..b.len() - 4], b"IEND");
}

fn svg(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(s.trim_start().starts_with("<svg"), "{}", path.display());
    assert!(s.trim_end().ends_with("</svg>"));
    s
}

#[test]
fn plots_match_the_store_and_are_valid_files() {
    let dir = out_dir();
    let db = dir.join("report.db");
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_file(dir.join("report.db-wal"));
    let mut store = Store::open(&db).unwrap();
    let detailed = fill(&mut store);

    // Progress: one point per stored session value, flags as stored.
    let data = plots::progress_data(&store, StretchType::Supine, None).unwrap();
    let rows = store.list_sessions(&SessionFilter::default()).unwrap();
    let n_points: usize = data.series.iter().map(|s| s.points.len()).sum();
    assert_eq!(n_points, rows.len());
    for s in &data.series {
        for p in &s.points {
            let r = rows.iter().find(|r| r.id == p.id).unwrap();
            assert_eq!(r.side, s.side);
            assert_eq!(Some(p.value_deg), r.summary.unwrap().session_value_deg);
            assert_eq!(p.t_days, r.started_unix_s / 86_400.0);
            let v = r.review.unwrap();
            assert_eq!(p.d4_flag, v.fast_progression.status == FlagStatus::Flag);
            assert_eq!(p.d8_flag, v.asymmetry.status == FlagStatus::Flag);
        }
        assert_eq!(s.rolling_median.len(), s.points.len());
    }
    assert!(
        data.series
            .iter()
            .flat_map(|s| &s.points)
            .any(|p| p.d4_flag)
    );
    assert!(
        data.series
            .iter()
            .flat_map(|s| &s.points)
            .any(|p| p.d8_flag)
    );
    report::render(&data, &dir.join("progress.png"), (1100, 620)).unwrap();
    assert_png(&dir.join("progress.png"), (1100, 620));
    report::render(&data, &dir.join("progress.svg"), (1100, 620)).unwrap();
    let s = svg(&dir.join("progress.svg"));
    assert_eq!(
        s.matches("<circle").count(),
        n_points,
        "one circle per session"
    );

    // Sides: one pair per day, circles = 2 per pair on top and 1 per pair in the difference panel
    // (a single pair would otherwise leave that panel empty).
    let sides = plots::sides_data(&store, StretchType::Supine).unwrap();
    assert_eq!(sides.pairs.len(), 19);
    assert!(sides.pairs.iter().any(|p| p.d8_flag));
    report::render(&sides, &dir.join("sides.png"), (1100, 700)).unwrap();
    assert_png(&dir.join("sides.png"), (1100, 700));
    report::render(&sides, &dir.join("sides.svg"), (1100, 700)).unwrap();
    assert_eq!(
        svg(&dir.join("sides.svg")).matches("<circle").count(),
        3 * 19
    );

    // Session: traces as stored (decimated), phases and warnings from the events.
    let sp = plots::session_data(&store, detailed).unwrap();
    let angles = store.angles(detailed).unwrap();
    assert!(
        sp.knee.len() <= plots::MAX_TRACE_POINTS && sp.knee.len() > plots::MAX_TRACE_POINTS / 4
    );
    for (t, v) in &sp.hip {
        let a = angles.iter().find(|a| (a.t_s - t).abs() < 1e-9).unwrap();
        assert_eq!(a.hip_flexion_deg, Some(*v));
    }
    let phases: Vec<&str> = sp.phases.iter().map(|p| p.phase.as_str()).collect();
    assert_eq!(phases, ["moving_in", "hold", "release", "rest"]);
    assert_eq!((sp.phases[1].start_s, sp.phases[1].end_s), (8.4, 55.3));
    assert_eq!(sp.warnings.len(), 2);
    assert_eq!(
        (sp.warnings[0].t_s, sp.warnings[0].end_s),
        (16.84, Some(24.84))
    );
    assert_eq!(sp.reps.len(), 1);
    report::render(&sp, &dir.join("session.png"), (1200, 600)).unwrap();
    assert_png(&dir.join("session.png"), (1200, 600));
    report::render(&sp, &dir.join("session.svg"), (1200, 600)).unwrap();
    svg(&dir.join("session.svg"));
    assert!(report::render(&sp, &dir.join("session.gif"), (10, 10)).is_err());

    // Exports.
    let files = export::export_csv(&store, detailed, &dir.join("detailed")).unwrap();
    let angles_csv = std::fs::read_to_string(&files[1]).unwrap();
    assert_eq!(angles_csv.lines().count(), angles.len() + 1);
    assert!(angles_csv.lines().nth(1000).unwrap().ends_with(",hold"));
    let events_csv = std::fs::read_to_string(&files[3]).unwrap();
    assert_eq!(events_csv.lines().count(), 1 + 9);
    let reps_csv = std::fs::read_to_string(&files[2]).unwrap();
    assert!(
        reps_csv
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("1,55.600,39.600,47.100,70.100")
    );
    let sto = dir.join("detailed.sto");
    export::export_sto(&store, detailed, &sto).unwrap();
    let text = std::fs::read_to_string(&sto).unwrap();
    assert!(text.contains(&format!("nRows={}", angles.len())));
    let body: Vec<&str> = text.lines().skip_while(|l| *l != "endheader").collect();
    // No pelvis sensor in this session: no pelvis column, and no NaN anywhere.
    assert_eq!(body[1], "time\tknee_angle_l\thip_flexion_l\tleg_raise_l");
    assert!(text.contains("nColumns=4"));
    assert!(!text.contains("NaN"));
    assert_eq!(body.len(), angles.len() + 2);
    assert_eq!(body[2].split('\t').count(), 4);
}
