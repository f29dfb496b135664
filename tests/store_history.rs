//! Store round trips and the history rules over stored sessions: form-spec 5.2 S12 row by row.

use stretchwatch::model::{ImuSample, JointAngles, SensorRole, Side, StretchType};
use stretchwatch::store::history::FlagStatus;
use stretchwatch::store::{
    RepRecord, SensorInfo, SessionFilter, SessionMeta, SessionSummary, Store, parse_utc,
};

fn meta(day: f64, side: Side) -> SessionMeta {
    SessionMeta {
        started_unix_s: parse_utc("2026-09-01T08:00").unwrap() + day * 86_400.0,
        side,
        stretch: StretchType::Supine,
        source: "test".into(),
        rate_hz: Some(100.0),
        sensors: vec![],
        calibration: None,
    }
}

fn store_session(
    store: &mut Store,
    day: f64,
    side: Side,
    m: f64,
) -> stretchwatch::store::SessionReview {
    let mut w = store.begin_session(&meta(day, side)).unwrap();
    w.set_summary(&SessionSummary {
        reps: 2,
        total_static_hold_s: 66.0,
        warnings_per_min: Some(0.0),
        session_value_deg: Some(m),
        active_s: Some(90.0),
    });
    w.finish().unwrap()
}

#[test]
fn s12_multi_session_review_matches_the_expected_table() {
    let mut store = Store::open_in_memory().unwrap();
    let days = [0.0, 2.0, 4.0, 7.0, 9.0, 11.0];
    let m_l = [72.0, 72.0, 73.0, 72.0, 73.0, 73.0];
    let m_r = [58.0, 59.0, 60.0, 68.0, 71.0, 74.0];
    use FlagStatus::*;
    // (D4 on R, D4 on L, D8 status, D8 over-limit of paired)
    let expected = [
        (InsufficientData, InsufficientData, No, (1, 1)),
        (InsufficientData, InsufficientData, No, (2, 2)),
        (InsufficientData, InsufficientData, Flag, (3, 3)),
        (Flag, No, Flag, (3, 4)),
        (Flag, No, Flag, (3, 5)),
        (Flag, No, Cleared, (2, 5)),
    ];
    for k in 0..6 {
        let l = store_session(&mut store, days[k], Side::Left, m_l[k]);
        let r = store_session(&mut store, days[k], Side::Right, m_r[k]);
        let (d4_r, d4_l, d8, (over, paired)) = expected[k];
        let row = k + 1;
        assert_eq!(r.fast_progression.status, d4_r, "k={row} D4 R");
        assert_eq!(l.fast_progression.status, d4_l, "k={row} D4 L");
        assert_eq!(r.asymmetry.status, d8, "k={row} D8");
        assert_eq!(
            (r.asymmetry.over_limit, r.asymmetry.paired),
            (over, paired),
            "k={row} D8 counts"
        );
        match row {
            3 => {
                assert_eq!(r.asymmetry.tighter, Some(Side::Right));
                assert!((r.asymmetry.mean_diff_deg.unwrap() - 13.33).abs() < 0.01);
            }
            4 => {
                assert_eq!(r.fast_progression.jump_deg, Some(9.0));
                let s = r.fast_progression.slope_deg_per_week.unwrap();
                assert!((s - 9.9).abs() < 0.05, "slope {s}");
                assert_eq!(l.fast_progression.jump_deg, Some(0.0));
                let s = l.fast_progression.slope_deg_per_week.unwrap();
                assert!((s - 0.2).abs() < 0.05, "slope {s}");
            }
            5 => {
                assert_eq!(r.fast_progression.jump_deg, Some(11.0));
                let s = r.fast_progression.slope_deg_per_week.unwrap();
                assert!((s - 10.9).abs() < 0.05, "slope {s}");
            }
            6 => {
                assert_eq!(r.fast_progression.jump_deg, Some(6.0));
                let s = r.fast_progression.slope_deg_per_week.unwrap();
                assert!((s - 11.1).abs() < 0.05, "slope {s}");
            }
            _ => {}
        }
        // What finish() returned is what the store kept.
        let stored = store.list_sessions(&SessionFilter::default()).unwrap();
        let last = stored.last().unwrap();
        assert_eq!(last.review.unwrap(), r);
    }
    // D3 baseline for the next right session: last five of 59, 60, 68, 71, 74 (day 0 is out of
    // the last five) → median 68, Δ = 10.
    let b = store
        .baseline(
            Side::Right,
            StretchType::Supine,
            meta(12.0, Side::Right).started_unix_s,
        )
        .unwrap()
        .unwrap();
    assert_eq!((b.b_deg, b.delta_deg, b.sessions), (68.0, 10.0, 5));
    // Provisional baseline with one session, none for the other stretch.
    assert!(
        store
            .baseline(Side::Left, StretchType::Seated, 0.0)
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_session_round_trips_samples_angles_events_and_reps() {
    let mut store = Store::open_in_memory().unwrap();
    let mut m = meta(0.0, Side::Right);
    m.sensors = vec![SensorInfo {
        role: SensorRole::Thigh,
        family: "witmotion".into(),
        model: "WT901BLECL".into(),
    }];
    let mut w = store.begin_session(&m).unwrap();
    let id = w.id();
    let n = 2_345;
    for i in 0..n {
        let t = 1000.0 + i as f64 * 0.01;
        for role in [SensorRole::Thigh, SensorRole::Shank] {
            w.push_sample(&ImuSample {
                t_s: t,
                role,
                acc_m_s2: nalgebra::Vector3::new(0.1, -0.2, 9.81 + i as f64 * 1e-3),
                gyr_rad_s: nalgebra::Vector3::new(0.01, 0.0, -(i as f64) * 1e-4),
                mag_ut: None,
            })
            .unwrap();
        }
        w.push_angles(&JointAngles {
            t_s: t,
            knee_flexion_deg: Some(12.0 + (i as f64 * 0.01).sin()),
            hip_flexion_deg: (i % 7 != 0).then_some(70.0),
            leg_raise_deg: Some(70.0),
            gap: i == 5,
            implausible_samples: 0,
            ..Default::default()
        })
        .unwrap();
    }
    w.add_event_json(
        1010.0,
        "phase",
        r#"{"event":"phase","t_s":1010.0,"phase":"hold","onset_s":1009.0}"#,
    )
    .unwrap();
    w.add_event(
        &serde_json::json!({"event":"rep","t_s":1040.0,"rep":1,"static_hold_s":33.5,
        "positional_hold_s":34.0,"hold_angle_deg":70.2,"peak_angle_deg":71.0,"knee_mean_deg":12.1}),
    )
    .unwrap();
    w.add_event(
        &serde_json::json!({"event":"summary","t_s":1050.0,"reps":1,"total_static_hold_s":33.5,
        "warnings_per_min":0.0,"session_value_deg":70.2}),
    )
    .unwrap();
    assert!(w.add_event_json(1.0, "x", "[1]").is_err());
    let review = w.finish().unwrap();
    assert_eq!(review.fast_progression.status, FlagStatus::InsufficientData);

    let row = store.session(id).unwrap();
    assert!(row.finished);
    assert_eq!(row.summary.unwrap().session_value_deg, Some(70.2));
    assert_eq!(row.t_span_s, Some((1000.0, 1000.0 + (n - 1) as f64 * 0.01)));
    let samples = store.samples(id).unwrap();
    assert_eq!(samples.len(), 2 * n);
    assert_eq!(samples[0].role, SensorRole::Thigh);
    assert_eq!(samples[1].role, SensorRole::Shank);
    let last = samples.last().unwrap();
    assert!((last.t_s - (1000.0 + (n - 1) as f64 * 0.01)).abs() < 1e-4);
    assert!((last.acc_m_s2.z - (9.81 + (n - 1) as f64 * 1e-3)).abs() < 1e-4);
    let angles = store.angles(id).unwrap();
    assert_eq!(angles.len(), n);
    assert!(angles[5].gap && !angles[6].gap);
    assert_eq!(angles[7].hip_flexion_deg, None);
    assert_eq!(angles[8].hip_flexion_deg, Some(70.0));
    let reps = store.reps(id).unwrap();
    assert_eq!(reps.len(), 1);
    assert_eq!(
        reps[0],
        RepRecord {
            rep: 1,
            t_s: 1040.0,
            static_hold_s: Some(33.5),
            positional_hold_s: Some(34.0),
            hold_angle_deg: Some(70.2),
            peak_angle_deg: Some(71.0),
            knee_mean_deg: Some(12.1)
        }
    );
    assert_eq!(store.events(id).unwrap().len(), 3);
    assert_eq!(store.sensors(id).unwrap(), m.sensors);
    store.delete_session(id).unwrap();
    assert!(store.session(id).is_err());
    assert!(store.samples(id).unwrap().is_empty());
    assert!(store.delete_session(id).is_err());
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn session_value_falls_back_to_median_rep_hold_angle() {
    let mut store = Store::open_in_memory().unwrap();
    let mut w = store.begin_session(&meta(0.0, Side::Left)).unwrap();
    let id = w.id();
    for (i, a) in [68.0, 71.0, 70.0].iter().enumerate() {
        w.add_rep(&RepRecord {
            rep: i as u32 + 1,
            t_s: 40.0 * (i + 1) as f64,
            static_hold_s: Some(31.0),
            hold_angle_deg: Some(*a),
            ..Default::default()
        });
    }
    w.finish().unwrap();
    let s = store.session(id).unwrap().summary.unwrap();
    assert_eq!(
        (s.reps, s.total_static_hold_s, s.session_value_deg),
        (3, 93.0, Some(70.0))
    );
}
