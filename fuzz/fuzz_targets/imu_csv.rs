//! Arbitrary bytes as an IMU CSV v1 recording: errors, never a panic; samples in time order.
#![no_main]

use std::io::Cursor;
use std::path::Path;
use stretchwatch::record::ImuCsvReader;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for skip in [false, true] {
        let Ok(mut r) = ImuCsvReader::new(Cursor::new(data), Path::new("fuzz.csv"), skip) else {
            continue;
        };
        let mut last = f64::NEG_INFINITY;
        while let Ok(Some(s)) = r.next_sample() {
            assert!(s.t_s.is_finite());
            if s.t_s.abs() <= stretchwatch::limits::MAX_TIME_S {
                assert!(s.t_s >= last, "time order");
                last = s.t_s;
            }
            assert!(
                s.acc_m_s2
                    .iter()
                    .chain(s.gyr_rad_s.iter())
                    .all(|x| x.is_finite())
            );
        }
        let h = r.header();
        for w in [h.calibration_static, h.calibration_functional]
            .into_iter()
            .flatten()
        {
            assert!(w.start_s.is_finite() && w.end_s > w.start_s);
        }
        if let Some(rate) = h.rate_hz {
            assert!(stretchwatch::limits::RATE_HZ.contains(&rate));
        }
        assert!(h.markers.iter().all(|m| m.t_s.is_finite()));
    }
});
