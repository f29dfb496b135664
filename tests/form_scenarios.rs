//! Form-spec 5.2 acceptance: S1–S11 (+S11b) and the robustness fixtures after S12, simulated IMU
//! data → calibration → orientation → kinematics → form engine, `clean` and `realistic`, 100 and
//! 50 Hz. Windows and tolerances are the spec's; times are relative to block start T0.
//!
//! Spec discrepancies followed by rule (see the form module docs and the issue note): `dose_short`
//! is emitted at block end whenever the block's static hold is under 60 s (D5), so single-rep
//! scenarios S1, S3, S5, S7, S8 and S10 emit it although S1 says "no D5" and S8 "zero detector
//! events"; those checks here exclude `dose_short` and assert it separately.

mod form_common;

use form_common::*;
use stretchwatch::form::{Event, FormConfig, Phase, WarmupStatus};
use stretchwatch::sim::{self, Variant};

/// Detector events that must not appear in negative controls.
const LIVE: [&str; 6] = [
    "bouncing",
    "knee_locked",
    "excessive_range",
    "jerky_entry",
    "pelvic_compensation",
    "knee_bend_excess",
];

struct Check {
    fails: Vec<String>,
}

impl Check {
    fn new() -> Self {
        Check { fails: Vec::new() }
    }
    fn ok(&mut self, r: &Run, cond: bool, what: String) {
        if !cond {
            self.fails.push(format!("{}: {what}", r.label));
        }
    }
    fn within(&mut self, r: &Run, what: &str, v: f64, lo: f64, hi: f64) {
        self.ok(
            r,
            v >= lo && v <= hi,
            format!("{what} = {v:.3}, expected [{lo}, {hi}]"),
        );
    }
    fn near(&mut self, r: &Run, what: &str, v: f64, want: f64, tol: f64) {
        self.within(r, what, v, want - tol, want + tol);
    }
    fn none(&mut self, r: &Run, names: &[&str]) {
        for n in names {
            let c = r.named(n).len();
            self.ok(r, c == 0, format!("{c} unexpected '{n}' events"));
        }
    }
    fn finish(self, runs: &[Run]) {
        if !self.fails.is_empty() {
            let dumps: Vec<String> = runs
                .iter()
                .map(|r| format!("{}\n{}", r.label, r.dump()))
                .collect();
            panic!("{}\n\n{}", self.fails.join("\n"), dumps.join("\n"));
        }
    }
}

fn runs(name: &str) -> Vec<Run> {
    let scn = sim::preset(name).unwrap();
    CONDITIONS
        .iter()
        .map(|&(rate, v)| run_scenario(&scn, rate, v, 42))
        .collect()
}

fn f(e: &Event, key: &str) -> f64 {
    let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {}", e.to_json()))
}

fn phase_events(r: &Run, p: Phase) -> Vec<&Event> {
    r.events
        .iter()
        .filter(|e| matches!(e, Event::Phase { phase, .. } if *phase == p))
        .collect()
}

fn reps(r: &Run) -> Vec<&Event> {
    r.named("rep")
}

/// S1-like expectations shared by S1, S11 and S11b.
fn check_s1_block(c: &mut Check, r: &Run) {
    let mi = phase_events(r, Phase::MovingIn);
    let ho = phase_events(r, Phase::Hold);
    let re = phase_events(r, Phase::Release);
    c.ok(
        r,
        mi.len() == 1 && ho.len() == 1 && re.len() == 1,
        "one MOVING_IN, HOLD, RELEASE".into(),
    );
    if let (Some(m), Some(h), Some(x)) = (mi.first(), ho.first(), re.first()) {
        c.near(r, "MOVING_IN detected", r.rel(m), 6.2, 0.5);
        c.near(r, "HOLD onset", f(h, "onset_s") - r.t0_s, 8.4, 0.5);
        c.near(r, "RELEASE onset", f(x, "onset_s") - r.t0_s, 44.4, 0.5);
    }
    let rp = reps(r);
    c.ok(r, rp.len() == 1, format!("{} reps", rp.len()));
    if let Some(rep) = rp.first() {
        c.near(r, "static hold", f(rep, "static_hold_s"), 36.1, 1.0);
        c.near(r, "hold angle", f(rep, "hold_angle_deg"), 70.0, 2.0);
        c.near(r, "knee mean", f(rep, "knee_mean_deg"), 12.0, 2.0);
        c.within(r, "knee in band", f(rep, "knee_in_band_pct"), 99.0, 100.0);
    }
    c.none(r, &LIVE);
    c.none(r, &["short_hold"]);
    c.near(
        r,
        "warnings per minute",
        f(r.summary(), "warnings_per_min"),
        0.0,
        1e-9,
    );
}

#[test]
fn s1_good_supine_stretch() {
    let rs = runs("S1");
    let mut c = Check::new();
    for r in &rs {
        check_s1_block(&mut c, r);
        c.ok(
            r,
            r.named("dose_short").len() == 1,
            "dose_short at block end (36 s < 60 s)".into(),
        );
        c.none(r, &["data_quality", "no_warmup", "unusual_range"]);
    }
    c.finish(&rs);
}

#[test]
fn s2_bouncing() {
    let rs = runs("S2");
    let mut c = Check::new();
    for r in &rs {
        let on = r.ons("bouncing");
        let off = r.offs("bouncing");
        c.ok(
            r,
            on.len() == 1 && off.len() == 1,
            format!("{} ON / {} OFF", on.len(), off.len()),
        );
        if let (Some(on), Some(off)) = (on.first(), off.first()) {
            c.within(r, "BOUNCING_ON", r.rel(on), 16.3, 17.5);
            c.within(r, "BOUNCING_OFF", r.rel(off), 24.3, 25.5);
            c.near(r, "p2p", f(off, "p2p_deg"), 8.0, 1.5);
            c.near(r, "freq", f(off, "freq_hz"), 1.5, 0.15);
        }
        if let Some(rep) = reps(r).first() {
            c.near(r, "positional hold", f(rep, "positional_hold_s"), 47.1, 1.0);
            c.near(r, "static hold", f(rep, "static_hold_s"), 39.1, 1.5);
        } else {
            c.ok(r, false, "no rep".into());
        }
        c.none(
            r,
            &[
                "excessive_range",
                "short_hold",
                "jerky_entry",
                "knee_locked",
            ],
        );
        c.near(
            r,
            "warnings per minute",
            f(r.summary(), "warnings_per_min"),
            1.2,
            0.2,
        );
    }
    c.finish(&rs);
}

#[test]
fn s3_hyperextended_knee() {
    let rs = runs("S3");
    let mut c = Check::new();
    for r in &rs {
        let on = r.ons("knee_locked");
        let off = r.offs("knee_locked");
        c.ok(
            r,
            on.len() == 1 && off.len() == 1,
            format!("{} ON / {} OFF", on.len(), off.len()),
        );
        if let (Some(on), Some(off)) = (on.first(), off.first()) {
            c.ok(
                r,
                matches!(
                    on,
                    Event::KneeLocked {
                        kind: "hyperextended",
                        ..
                    }
                ),
                "kind hyperextended".into(),
            );
            c.within(r, "KNEE_LOCK_ON", r.rel(on), 17.0, 17.6);
            c.within(r, "KNEE_LOCK_OFF", r.rel(off), 30.0, 30.6);
            c.near(r, "min knee", f(off, "min_knee_deg"), -3.0, 1.5);
            c.near(r, "time ≤ +2°", f(off, "locked_s"), 13.2, 0.5);
        }
        match reps(r).first() {
            Some(rep) => c.near(r, "static hold", f(rep, "static_hold_s"), 37.1, 1.0),
            None => c.ok(r, false, "no rep".into()),
        }
        c.none(
            r,
            &[
                "bouncing",
                "excessive_range",
                "jerky_entry",
                "short_hold",
                "knee_bend_excess",
            ],
        );
    }
    c.finish(&rs);
}

#[test]
fn s4_knee_threshold_boundaries() {
    let rs = runs("S4");
    let mut c = Check::new();
    for r in &rs {
        let on = r.ons("knee_locked");
        let off = r.offs("knee_locked");
        c.ok(
            r,
            on.len() == 1 && off.len() == 1,
            format!("{} ON / {} OFF", on.len(), off.len()),
        );
        if let (Some(on), Some(off)) = (on.first(), off.first()) {
            c.ok(
                r,
                matches!(on, Event::KneeLocked { kind: "locked", .. }),
                "kind locked".into(),
            );
            c.within(r, "rep 2 KNEE_LOCK_ON", r.rel(on), 52.9, 53.7);
            c.near(r, "KNEE_LOCK_OFF", r.rel(off), 85.9, 0.5);
        }
        c.ok(
            r,
            !r.events.iter().any(|e| {
                matches!(
                    e,
                    Event::KneeLocked {
                        kind: "hyperextended",
                        ..
                    }
                )
            }),
            "never hyperextended".into(),
        );
        let rp = reps(r);
        c.ok(r, rp.len() == 2, format!("{} reps", rp.len()));
        for rep in rp {
            c.near(r, "static hold", f(rep, "static_hold_s"), 32.1, 1.0);
        }
    }
    c.finish(&rs);
}

#[test]
fn s5_excessive_range() {
    let rs = runs("S5");
    let mut c = Check::new();
    for r in &rs {
        let on = r.ons("excessive_range");
        let off = r.offs("excessive_range");
        c.ok(
            r,
            on.len() == 1 && off.len() == 1,
            format!("{} ON / {} OFF", on.len(), off.len()),
        );
        if let (Some(on), Some(off)) = (on.first(), off.first()) {
            c.within(r, "EXCESSIVE_ON", r.rel(on), 9.4, 10.0);
            c.within(r, "EXCESSIVE_OFF", r.rel(off), 42.9, 43.8);
            c.near(r, "excess", f(off, "excess_deg"), 25.0, 2.0);
        }
        c.none(r, &["jerky_entry", "unusual_range", "bouncing"]);
        match reps(r).first() {
            Some(rep) => c.near(r, "static hold", f(rep, "static_hold_s"), 33.3, 1.0),
            None => c.ok(r, false, "no rep".into()),
        }
    }
    c.finish(&rs);
}

#[test]
fn s6_short_hold() {
    let rs = runs("S6");
    let mut c = Check::new();
    for r in &rs {
        let sh = r.named("short_hold");
        c.ok(r, sh.len() == 1, format!("{} short_hold", sh.len()));
        if let Some(e) = sh.first() {
            c.within(r, "SHORT_HOLD", r.rel(e), 20.8, 21.9);
            c.near(r, "short hold value", f(e, "static_hold_s"), 12.1, 1.0);
        }
        c.ok(r, reps(r).len() == 1, "rep counted".into());
        c.ok(
            r,
            r.named("dose_short").len() == 1,
            "dose_short at block end".into(),
        );
        c.none(r, &LIVE);
    }
    c.finish(&rs);
}

#[test]
fn s7_jerky_entry() {
    let rs = runs("S7");
    let mut c = Check::new();
    for r in &rs {
        let on = r.ons("jerky_entry");
        c.ok(r, on.len() == 1, format!("{} JERKY_ENTRY", on.len()));
        if let Some(on) = on.first() {
            c.within(r, "JERKY_ENTRY", r.rel(on), 5.35, 5.8);
            c.near(r, "peak |ω| in zone", f(on, "peak_w_dps"), 185.0, 30.0);
        }
        c.none(r, &["bouncing", "excessive_range"]);
        match reps(r).first() {
            Some(rep) => c.near(r, "static hold", f(rep, "static_hold_s"), 35.0, 1.0),
            None => c.ok(r, false, "no rep".into()),
        }
    }
    c.finish(&rs);
}

#[test]
fn s8_slow_entry_false_positive_control() {
    let rs = runs("S8");
    let mut c = Check::new();
    for r in &rs {
        c.none(r, &LIVE);
        c.none(
            r,
            &["short_hold", "data_quality", "unusual_range", "aborted_rep"],
        );
        let rp = reps(r);
        c.ok(r, rp.len() == 1, format!("{} reps", rp.len()));
        if let Some(rep) = rp.first() {
            c.near(r, "static hold", f(rep, "static_hold_s"), 41.7, 1.5);
            c.near(r, "hold angle", f(rep, "hold_angle_deg"), 66.5, 2.0);
        }
    }
    c.finish(&rs);
}

#[test]
fn s9_multi_rep_bilateral_dose() {
    let mut all = Vec::new();
    let mut c = Check::new();
    for &(rate, v) in &CONDITIONS {
        let l = run_scenario(&sim::preset("S9").unwrap(), rate, v, 42);
        let r = run_scenario(&sim::preset("S9_right").unwrap(), rate, v, 43);
        let mut m = [0.0; 2];
        for (i, run) in [&l, &r].into_iter().enumerate() {
            let rp = reps(run);
            c.ok(run, rp.len() == 3, format!("{} reps", rp.len()));
            for rep in &rp {
                c.near(run, "static hold", f(rep, "static_hold_s"), 33.1, 1.0);
                c.ok(
                    run,
                    f(rep, "static_hold_s") >= 29.0,
                    "target compliance".into(),
                );
            }
            let s = run.summary();
            c.near(
                run,
                "total static hold",
                f(s, "total_static_hold_s"),
                99.2,
                3.0,
            );
            c.ok(
                run,
                matches!(s, Event::Summary { dose_met: true, .. }),
                "dose met".into(),
            );
            c.none(run, &LIVE);
            c.none(run, &["short_hold", "dose_short"]);
            m[i] = f(s, "session_value_deg");
            c.near(run, "M", m[i], 70.0, 2.0);
        }
        c.ok(
            &l,
            (m[0] - m[1]).abs() <= 2.0,
            format!("|M_L − M_R| = {}", (m[0] - m[1]).abs()),
        );
        all.push(l);
        all.push(r);
    }
    c.finish(&all);
}

#[test]
fn s10_seated_bobbing_with_and_without_pelvis() {
    let rs = runs("S10");
    let mut c = Check::new();
    for r in &rs {
        let on = r.ons("bouncing");
        let off = r.offs("bouncing");
        c.ok(
            r,
            on.len() == 1 && off.len() == 1,
            format!("{} ON / {} OFF", on.len(), off.len()),
        );
        if let (Some(on), Some(off)) = (on.first(), off.first()) {
            c.within(r, "BOUNCING_ON", r.rel(on), 22.0, 23.3);
            c.within(r, "BOUNCING_OFF", r.rel(off), 27.2, 28.5);
            c.near(r, "freq", f(off, "freq_hz"), 1.0, 0.1);
            c.near(r, "p2p", f(off, "p2p_deg"), 8.0, 1.5);
        }
        match reps(r).first() {
            Some(rep) => c.near(r, "static hold", f(rep, "static_hold_s"), 42.5, 1.5),
            None => c.ok(r, false, "no rep".into()),
        }
        c.none(r, &["knee_locked", "excessive_range"]);
    }
    let np = runs("S10_nopelvis");
    for r in &np {
        let hu = r.named("hip_unavailable");
        c.ok(r, hu.len() == 1, "hip_unavailable reported".into());
        if let Some(e) = hu.first() {
            c.near(r, "hip_unavailable at manual start", r.rel(e), 5.0, 0.05);
        }
        c.none(
            r,
            &[
                "bouncing",
                "excessive_range",
                "jerky_entry",
                "rep",
                "phase",
                "knee_locked",
            ],
        );
    }
    c.finish(&rs);
}

#[test]
fn s11_warmup_detection_and_s11b_no_warmup() {
    let mut c = Check::new();
    let mut all = Vec::new();
    for &(rate, v) in &[(100.0, Variant::Realistic), (50.0, Variant::Clean)] {
        let r = run_scenario(&sim::preset("S11").unwrap(), rate, v, 42);
        let w = r.named("warmup_detected");
        c.ok(&r, w.len() == 1, "warmup_detected".into());
        if let Some(e) = w.first() {
            c.ok(&r, r.rel(e) <= 0.0, "before the block".into());
        }
        c.none(&r, &["no_warmup"]);
        check_s1_block(&mut c, &r);
        all.push(r);
    }
    for &(rate, v) in &CONDITIONS {
        let mut cfg = FormConfig::default();
        cfg.warmup.status = WarmupStatus::No;
        let r = run_with(
            &sim::preset("S11b").unwrap(),
            rate,
            v,
            42,
            cfg,
            None,
            |_| {},
        );
        let nw = r.named("no_warmup");
        c.ok(&r, nw.len() == 1, format!("{} no_warmup", nw.len()));
        if let Some(e) = nw.first() {
            c.near(&r, "no_warmup at block start", r.rel(e), 0.0, 0.05);
        }
        c.none(&r, &["warmup_detected"]);
        check_s1_block(&mut c, &r);
        all.push(r);
    }
    c.finish(&all);
}

#[test]
fn robustness_bounce_boundaries() {
    let cases = [
        ("bounce_0.8hz_8deg", true),
        ("bounce_3.5hz_8deg", true),
        ("bounce_1.5hz_6deg", true),
        ("bounce_1.5hz_4deg", false),
        ("bounce_0.6hz_8deg", false),
        ("bounce_4.5hz_8deg", false),
    ];
    let mut c = Check::new();
    let mut all = Vec::new();
    for (name, expect) in cases {
        for r in runs(name) {
            let n = r.ons("bouncing").len();
            c.ok(
                &r,
                n == usize::from(expect),
                format!("{n} BOUNCING_ON, expected {}", u8::from(expect)),
            );
            if let Some(on) = r.ons("bouncing").first() {
                // Bouncing starts at 15 s; the 4th qualifying excursion ends 2.5 cycles later.
                c.ok(
                    &r,
                    r.rel(on) > 15.0 && r.rel(on) < 19.5,
                    format!("ON at {}", r.rel(on)),
                );
            }
            c.ok(&r, reps(&r).len() == 1, "one rep".into());
            all.push(r);
        }
    }
    c.finish(&all);
}

#[test]
fn robustness_slow_raises_gap_and_pelvic_tilt() {
    let mut c = Check::new();
    let mut all = Vec::new();
    for r in runs("slow_raises") {
        c.none(&r, &["bouncing", "rep"]);
        c.ok(
            &r,
            phase_events(&r, Phase::Hold).is_empty(),
            "no HOLD".into(),
        );
        let seq: Vec<Phase> = r
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Phase { phase, .. } => Some(*phase),
                _ => None,
            })
            .collect();
        c.ok(
            &r,
            seq == [Phase::MovingIn, Phase::Release, Phase::Rest],
            format!("phases {seq:?}"),
        );
        all.push(r);
    }
    for r in runs("gap_0.8s") {
        check_s1_block(&mut c, &r);
        c.none(&r, &["data_quality", "aborted_rep"]);
        all.push(r);
    }
    for r in runs("S1_pelvis_tilt") {
        match reps(&r).first() {
            Some(rep) => {
                let d = f(rep, "leg_raise_hold_deg") - f(rep, "hold_angle_deg");
                c.near(&r, "θte − θh", d, 15.0, 2.0);
                c.near(
                    &r,
                    "pelvic tilt change (D9 metric)",
                    f(rep, "pelvic_tilt_change_deg"),
                    -15.0,
                    2.0,
                );
            }
            None => c.ok(&r, false, "no rep".into()),
        }
        c.none(&r, &LIVE);
        all.push(r);
    }
    c.finish(&all);
}
