//! What a calibration's quality means for the angles: the expected error predicted from the score,
//! and the plain-words caveat every output shows when it is too large or the profile is nominal.

use super::CalibrationProfile;

/// Expected errors above this are announced with the angles, degrees.
pub const WARN_EXPECTED_ERROR_DEG: f64 = 3.0;

/// Expected error of a nominal profile (a default mounting, not fitted to anyone), degrees: a
/// strap turned by a few tens of degrees on the limb shows up almost fully in the angles.
pub const NOMINAL_ERROR_DEG: f64 = 30.0;

/// Expected RMS angle error for a fit quality score in [0, 1], degrees.
///
/// Fitted to deliberately poor calibrations (`tests/quality_curve.rs`: swing ranges down to the
/// 30° gate, swing planes wobbling up to 35°, shanks twisting up to 25°, standing thighs swaying
/// up to 12°), as the line that bounds the measured knee and leg-raise RMSE in 95 % of them:
/// 0.7° for a clean fit, growing by 0.5° per 0.1 the score falls short. The score sees hinge
/// violations (residual), a small swing range and an unstable axis; it cannot see every
/// systematic twist, so rare cases exceed the line (the test prints them).
pub fn expected_error_deg(score: f64) -> f64 {
    let shortfall = (1.0 - score).clamp(0.0, 1.0);
    0.7 + 5.0 * shortfall
}

/// The caveat to print beside angles computed with `profile`, if any: `None` when the expected
/// error is within [`WARN_EXPECTED_ERROR_DEG`] and the profile was fitted to this person.
pub fn accuracy_caveat(profile: &CalibrationProfile) -> Option<String> {
    let err = profile.expected_error_deg();
    if profile.quality.is_nominal {
        return Some(format!(
            "default sensor placement, not a calibration of this person: angles may be off by up to {err:.0}°; calibrate (stand still 5 s, then swing the lower leg) for real figures"
        ));
    }
    (err > WARN_EXPECTED_ERROR_DEG).then(|| {
        format!(
            "calibration quality {:.2}: angles may be off by up to {err:.0}°; repeat the calibration (stand still 5 s, then swing the lower leg 10 times through a large range, thigh steady)",
            profile.quality.score
        )
    })
}

/// The short form of [`accuracy_caveat`] for titles and labels ("angles may be off by up to N°").
pub fn accuracy_caveat_short(profile: &CalibrationProfile) -> Option<String> {
    let err = profile.expected_error_deg();
    if profile.quality.is_nominal {
        Some(format!(
            "default sensor placement: angles may be off by up to {err:.0}°"
        ))
    } else {
        (err > WARN_EXPECTED_ERROR_DEG).then(|| format!("angles may be off by up to {err:.0}°"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_error_grows_as_quality_drops() {
        assert!(expected_error_deg(1.0) <= 1.0);
        assert!(expected_error_deg(0.5) > WARN_EXPECTED_ERROR_DEG);
        let mut last = 0.0;
        for k in 0..=10 {
            let e = expected_error_deg(1.0 - k as f64 / 10.0);
            assert!(e >= last);
            last = e;
        }
    }

    #[test]
    fn the_shipped_nominal_profile_is_labelled() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("calibration/default-lateral-x-up.toml");
        let p = CalibrationProfile::load(&path).unwrap();
        assert!(p.quality.is_nominal);
        let c = accuracy_caveat(&p).unwrap();
        assert!(
            c.contains("default sensor placement") && c.contains("30°"),
            "{c}"
        );
        assert!(accuracy_caveat_short(&p).unwrap().contains("up to 30°"));
    }

    #[test]
    fn a_low_score_is_announced_and_a_good_one_is_not() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("calibration/default-lateral-x-up.toml");
        let mut p = CalibrationProfile::load(&path).unwrap();
        p.quality.is_nominal = false;
        p.quality.score = 0.42;
        p.quality.expected_error_deg = None;
        let c = accuracy_caveat(&p).unwrap();
        assert!(c.contains("angles may be off by up to 4°"), "{c}");
        p.quality.expected_error_deg = Some(expected_error_deg(0.98));
        assert_eq!(accuracy_caveat(&p), None);
    }
}
