//! Arbitrary text as a calibration profile: accepted profiles hold only usable values.
#![no_main]

use stretchwatch::calibration::CalibrationProfile;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = CalibrationProfile::from_toml_str(text) {
        for (_, s) in p.segments() {
            let all = s
                .long_axis
                .iter()
                .chain(&s.hinge_axis)
                .chain(&s.gyro_bias_rad_s)
                .chain(&s.acc_bias_m_s2);
            assert!(all.into_iter().all(|x| x.is_finite()));
        }
        assert!((0.0..=1.0).contains(&p.quality.score));
    }
});
