//! Property tests over every decoder: no input panics, and valid streams decode the same however
//! their bytes are split into or merged across notifications.

use super::movesense::{Measurement, MovesenseConfig, MovesenseDecoder, encode_imu_message};
use super::open::{DataFormat, OpenConfig, OpenDecoder, OpenEncoder, OpenStatus};
use super::witmotion::{WitMotionDecoder, encode_data_frame};
use super::{DecodedSample, Decoder, Family, decoder_for};
use nalgebra::{Quaternion, Vector3};
use proptest::prelude::*;

/// Feeds `bytes` cut at `cuts` (positions taken modulo the length) and returns the samples.
fn decode_split(d: &mut dyn Decoder, bytes: &[u8], cuts: &[usize]) -> Vec<DecodedSample> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| if bytes.is_empty() { 0 } else { c % bytes.len() })
        .collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    for w in points.windows(2) {
        let _ = d.push(&bytes[w[0]..w[1]], &mut out);
    }
    let _ = d.flush(&mut out);
    out
}

/// Samples compared through `Debug`, so NaN in a field (impossible by construction, but cheap to
/// guard) compares equal to itself.
fn same(a: &[DecodedSample], b: &[DecodedSample]) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn vec3(range: f64) -> impl Strategy<Value = Vector3<f64>> {
    (-range..range, -range..range, -range..range).prop_map(|(x, y, z)| Vector3::new(x, y, z))
}

fn imu_sample() -> impl Strategy<Value = DecodedSample> {
    (vec3(150.0), vec3(30.0), vec3(3000.0), vec3(1.0)).prop_map(|(acc, gyr, mag, q)| {
        let mut s = DecodedSample::new(acc, gyr);
        s.mag_ut = Some(mag);
        let q = Quaternion::new(0.5, q.x, q.y, q.z).normalize();
        s.quat = Some(q);
        s
    })
}

proptest! {
    // 256 cases per property by default; set PROPTEST_CASES for a longer run.

    #[test]
    fn arbitrary_bytes_never_panic(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..12),
        writes in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 0..4),
    ) {
        for family in Family::ALL {
            let mut d = decoder_for(family);
            let mut out = Vec::new();
            for w in &writes {
                d.observe_write(w);
            }
            for c in &chunks {
                let _ = d.push(c, &mut out);
            }
            let _ = d.flush(&mut out);
            d.reset();
            let _ = d.push(&[], &mut out);
            let stats = d.stats();
            prop_assert_eq!(stats.samples, out.len() as u64);
            for s in &out {
                prop_assert!(s.acc_m_s2.iter().all(|x| x.is_finite()));
                prop_assert!(s.gyr_rad_s.iter().all(|x| x.is_finite()));
            }
        }
        // Each DOT payload mode and each Movesense measurement, too.
        for mode in super::movella_dot::PayloadMode::ALL {
            let mut d = super::movella_dot::DotDecoder::new(mode);
            let mut out = Vec::new();
            for c in &chunks {
                let _ = d.push(c, &mut out);
            }
        }
        for measurement in [Measurement::Imu6, Measurement::Imu9] {
            let mut d = MovesenseDecoder::new(MovesenseConfig {
                measurement,
                max_notification_len: 40,
                ..Default::default()
            });
            let mut out = Vec::new();
            for c in &chunks {
                let _ = d.push(c, &mut out);
            }
            let _ = d.flush(&mut out);
        }
    }

    #[test]
    fn stream_decoders_ignore_split_points_even_on_garbage(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
    ) {
        for family in [Family::WitMotion, Family::OpenSensor] {
            let whole = decode_split(decoder_for(family).as_mut(), &bytes, &[]);
            let split = decode_split(decoder_for(family).as_mut(), &bytes, &cuts);
            prop_assert!(same(&whole, &split), "{family}");
        }
    }

    #[test]
    fn witmotion_valid_stream_split_or_merged_decodes_identically(
        frames in prop::collection::vec((vec3(150.0), vec3(34.0), vec3(179.0)), 1..20),
        lead in prop::collection::vec(any::<u8>(), 0..19),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let encoded: Vec<[u8; 20]> = frames
            .iter()
            .map(|(a, g, e)| encode_data_frame(a, g, e))
            .collect();
        // One notification per frame, as a module at the default MTU sends them.
        let mut per_frame = WitMotionDecoder::new();
        let mut expected = Vec::new();
        for f in &encoded {
            per_frame.push(f, &mut expected).unwrap();
        }
        prop_assert_eq!(expected.len(), frames.len());
        // The same stream after a partial frame (connection started mid-frame), cut anywhere.
        // The lead-in is the tail of a frame, so it holds no header of its own.
        let lead: Vec<u8> = lead.into_iter().map(|b| if b == 0x55 { 0 } else { b }).collect();
        let mut stream = lead.clone();
        for f in &encoded {
            stream.extend_from_slice(f);
        }
        let got = decode_split(&mut WitMotionDecoder::new(), &stream, &cuts);
        prop_assert!(same(&got, &expected));
    }

    #[test]
    fn open_valid_stream_split_or_merged_decodes_identically(
        batches in prop::collection::vec(prop::collection::vec(imu_sample(), 1..=16), 1..8),
        format_code in 0u8..3,
        first_seq in any::<u16>(),
        t0 in any::<u32>(),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let format = DataFormat::from_code(format_code).unwrap();
        let mut enc = OpenEncoder::new(format, first_seq);
        let status = OpenStatus { sample_period_us: 2500, format, ..Default::default() };
        let mut packets = vec![enc.status(t0, &status)];
        let mut t = t0;
        for b in &batches {
            packets.push(enc.encode(t, b).unwrap());
            t = t.wrapping_add(2500 * b.len() as u32);
        }
        // Reference: one packet per notification.
        let mut d = OpenDecoder::new(OpenConfig::default());
        let mut expected = Vec::new();
        for p in &packets {
            d.push(p, &mut expected).unwrap();
        }
        let n: usize = batches.iter().map(Vec::len).sum();
        prop_assert_eq!(expected.len(), n);
        // Counters are consecutive and times evenly spaced, across both wraps.
        for (i, s) in expected.iter().enumerate() {
            prop_assert_eq!(s.seq, Some(u32::from(first_seq.wrapping_add(i as u16))));
            let dt = s.device_time_s.unwrap() - expected[0].device_time_s.unwrap();
            prop_assert!((dt - 0.0025 * i as f64).abs() < 1e-6);
        }
        for (s, want) in expected.iter().zip(batches.iter().flatten()) {
            prop_assert!((s.acc_m_s2 - want.acc_m_s2).amax() <= 0.0025 + 1e-12);
            prop_assert!((s.gyr_rad_s - want.gyr_rad_s).amax() <= 0.0005 + 1e-12);
        }
        // All packets merged into one buffer, then cut anywhere.
        let stream: Vec<u8> = packets.concat();
        let got = decode_split(&mut OpenDecoder::new(OpenConfig::default()), &stream, &cuts);
        prop_assert!(same(&got, &expected));
    }

    #[test]
    fn movesense_continuations_decode_like_whole_messages(
        samples in prop::collection::vec(imu_sample(), 1..=12),
        imu9 in any::<bool>(),
        max_len in 23usize..=300,
        ts in any::<u32>(),
    ) {
        let measurement = if imu9 { Measurement::Imu9 } else { Measurement::Imu6 };
        let config = |max| MovesenseConfig {
            measurement,
            rate_hz: 104,
            reference: Some(9),
            max_notification_len: max,
        };
        // Reference: the whole message in one notification on a link with room to spare.
        let whole = encode_imu_message(9, measurement, ts, &samples, 10_000);
        prop_assert_eq!(whole.len(), 1);
        let mut expected = Vec::new();
        MovesenseDecoder::new(config(10_000)).push(&whole[0], &mut expected).unwrap();
        prop_assert_eq!(expected.len(), samples.len());
        // The same message as the firmware splits it at the negotiated notification size,
        // followed by a second message.
        let parts = encode_imu_message(9, measurement, ts, &samples, max_len);
        let mut d = MovesenseDecoder::new(config(max_len));
        let mut got = Vec::new();
        for p in &parts {
            prop_assert!(p.len() <= max_len || parts.len() == 2);
            d.push(p, &mut got).unwrap();
        }
        d.flush(&mut got).unwrap();
        prop_assert!(same(&got, &expected));
    }

    #[test]
    fn dot_rate_quantities_round_trip(
        acc in vec3(150.0),
        gyr in vec3(30.0),
        ts in any::<u32>(),
    ) {
        use super::movella_dot::{DotDecoder, DotPayload, PayloadMode, encode_payload};
        for mode in [PayloadMode::RateQuantities, PayloadMode::RateQuantitiesWithMag, PayloadMode::CustomMode5] {
            let p = DotPayload {
                timestamp_us: ts,
                acc_m_s2: Some(acc),
                gyr_rad_s: Some(gyr),
                quat: Some(Quaternion::new(1.0, 0.0, 0.0, 0.0)),
                ..Default::default()
            };
            let mut out = Vec::new();
            DotDecoder::new(mode).push(&encode_payload(mode, &p), &mut out).unwrap();
            prop_assert_eq!(out.len(), 1);
            prop_assert!((out[0].acc_m_s2 - acc).amax() <= 150.0 * f64::from(f32::EPSILON));
            prop_assert!((out[0].gyr_rad_s - gyr).amax() <= 30.0 * f64::from(f32::EPSILON));
            prop_assert_eq!(out[0].device_time_s, Some(f64::from(ts) / 1e6));
        }
    }
}
