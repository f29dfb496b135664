//! The synchronous core: samples in, joint-angle frames out.
//!
//! Per sample: orientation (VQF) of that sensor. Frames are emitted on a fixed grid of the nominal
//! rate as soon as every worn sensor has a sample at or after the grid time; each sensor's
//! orientation is interpolated (slerp) to the grid instant, so timestamp offsets between sensors
//! and dropped samples do not skew the angles. No allocation per sample, no clock reads.

use crate::calibration::CalibrationProfile;
use crate::calibration::refine::AccBiasRefiner;
use crate::kinematics::{Kinematics, KinematicsParams, SegmentInputs};
use crate::model::{ImuSample, JointAngles, SensorRole, StretchType};
use crate::orientation::{OrientationParams, SensorOrientation};
use nalgebra::{UnitQuaternion, Vector3};

/// Gaps longer than this (seconds) between two samples of a sensor mark the frames inside as `gap`.
pub const INTERPOLATION_LIMIT_S: f64 = 0.2;

#[derive(Clone, Copy)]
struct Stamped {
    t_s: f64,
    q: UnitQuaternion<f64>,
    /// Angular velocity in the sensor's world frame, bias removed, rad/s.
    w_world_rad_s: Vector3<f64>,
}

/// Longest silence filled with interpolated frames, seconds; longer silences emit no frames.
pub const MAX_GAP_FILL_S: f64 = 2.0;

/// Recent samples kept per sensor: enough to bracket a frame while another sensor lags behind.
const HISTORY: usize = 16;

struct SensorTrack {
    orient: SensorOrientation,
    /// Calibrated accelerometer bias, removed before the orientation filter.
    acc_bias_m_s2: Vector3<f64>,
    /// Finds a bias the calibration could not see (thigh and shank after standing swings).
    acc_refiner: Option<AccBiasRefiner>,
    ring: [Stamped; HISTORY],
    len: usize,
    head: usize,
    cur: Option<Stamped>,
}

impl SensorTrack {
    fn push(&mut self, s: Stamped) {
        self.head = (self.head + 1) % HISTORY;
        self.ring[self.head] = s;
        self.len = (self.len + 1).min(HISTORY);
        self.cur = Some(s);
    }

    /// The i-th most recent sample (0 = newest).
    fn back(&self, i: usize) -> Stamped {
        self.ring[(self.head + HISTORY - i) % HISTORY]
    }

    /// Orientation at `t_s`, interpolated between the samples that bracket it, and whether they
    /// bracket a gap longer than the interpolation limit.
    fn at(&self, t_s: f64) -> Option<(UnitQuaternion<f64>, Vector3<f64>, bool)> {
        let cur = self.cur?;
        if t_s >= cur.t_s || self.len < 2 {
            return Some((cur.q, cur.w_world_rad_s, false));
        }
        for i in 1..self.len {
            let (lo, hi) = (self.back(i), self.back(i - 1));
            if lo.t_s <= t_s {
                let span = hi.t_s - lo.t_s;
                if span <= 0.0 {
                    return Some((hi.q, hi.w_world_rad_s, false));
                }
                let k = ((t_s - lo.t_s) / span).clamp(0.0, 1.0);
                // Consecutive samples differ by a few degrees at most: nlerp is exact to ~1e-6 rad.
                let hi_q = if lo.q.coords.dot(&hi.q.coords) < 0.0 {
                    -hi.q.into_inner()
                } else {
                    hi.q.into_inner()
                };
                let q = UnitQuaternion::new_normalize(lo.q.into_inner().lerp(&hi_q, k));
                let w = lo.w_world_rad_s.lerp(&hi.w_world_rad_s, k);
                return Some((q, w, span > INTERPOLATION_LIMIT_S));
            }
        }
        let oldest = self.back(self.len - 1);
        Some((oldest.q, oldest.w_world_rad_s, false))
    }
}

/// Settings of the whole core.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PipelineParams {
    /// Orientation filter settings.
    pub orientation: OrientationParams,
    /// Joint-angle settings.
    pub kinematics: KinematicsParams,
}

/// Composes sync, orientation and kinematics; live mode and replay both drive this.
pub struct Pipeline {
    tracks: [Option<SensorTrack>; 3],
    kin: Kinematics,
    rate_hz: f64,
    next_k: Option<i64>,
    last_frame_t_s: Option<f64>,
    stretch: StretchType,
    has_pelvis: bool,
    /// Implausible samples dropped since the last frame, and in all.
    implausible_pending: u32,
    implausible_total: u64,
    /// Frame time of the latest refinement of the calibration by the session's movements.
    refined_at_s: Option<f64>,
    refinements_seen: u32,
}

/// Most frames one sample can complete: a silence up to [`MAX_GAP_FILL_S`] filled at the frame
/// rate, plus slack. Bounds the frame loop whatever the time stamps.
fn max_frames_per_push(rate_hz: f64) -> i64 {
    (MAX_GAP_FILL_S * rate_hz).ceil() as i64 + 4
}

impl Pipeline {
    /// Builds the core for the worn sensors implied by the profile (pelvis only if calibrated).
    pub fn new(
        profile: &CalibrationProfile,
        stretch: StretchType,
        rate_hz: f64,
        params: PipelineParams,
    ) -> Self {
        Self::with_sensor_rates(profile, stretch, rate_hz, [rate_hz; 3], params)
    }

    /// Like [`new`](Self::new) with each sensor's own nominal rate (thigh, shank, pelvis): VQF's
    /// filter coefficients depend on it even though integration follows the timestamps.
    pub fn with_sensor_rates(
        profile: &CalibrationProfile,
        stretch: StretchType,
        rate_hz: f64,
        sensor_rates_hz: [f64; 3],
        params: PipelineParams,
    ) -> Self {
        let has_pelvis = profile.pelvis.is_some();
        let mk = |seg: Option<&crate::calibration::SegmentCalibration>, role: SensorRole| {
            seg.map(|seg| SensorTrack {
                orient: SensorOrientation::new(sensor_rates_hz[role.index()], &params.orientation),
                acc_bias_m_s2: Vector3::from(seg.acc_bias_m_s2),
                acc_refiner: (role != SensorRole::Pelvis && !profile.quality.acc_bias_observed)
                    .then(|| {
                        AccBiasRefiner::new(
                            Vector3::from(seg.long_axis),
                            Vector3::from(seg.gyro_bias_rad_s),
                        )
                    }),
                ring: [Stamped {
                    t_s: 0.0,
                    q: UnitQuaternion::identity(),
                    w_world_rad_s: Vector3::zeros(),
                }; HISTORY],
                len: 0,
                head: 0,
                cur: None,
            })
        };
        Pipeline {
            tracks: [
                mk(Some(&profile.thigh), SensorRole::Thigh),
                mk(Some(&profile.shank), SensorRole::Shank),
                mk(profile.pelvis.as_ref(), SensorRole::Pelvis),
            ],
            kin: Kinematics::new(profile, stretch, params.kinematics),
            rate_hz,
            next_k: None,
            last_frame_t_s: None,
            stretch,
            has_pelvis,
            implausible_pending: 0,
            implausible_total: 0,
            refined_at_s: None,
            refinements_seen: 0,
        }
    }

    /// Changes the stretch type (a session's next block): it decides the hip-angle proxy and the
    /// pelvic-tilt reference, neither of which keeps state.
    pub fn set_stretch(&mut self, stretch: StretchType) {
        self.stretch = stretch;
        self.kin.set_stretch(stretch);
    }

    /// Samples dropped so far as physically implausible (see [`crate::limits`]).
    pub fn implausible_samples(&self) -> u64 {
        self.implausible_total
    }

    /// Frame time of the latest refinement of the calibration by the session's own movements
    /// ("calibration refined at 42.3 s"), if any. Deterministic from the sample timestamps, so
    /// replay and live refine at the same frame.
    pub fn calibration_refined_at_s(&self) -> Option<f64> {
        self.refined_at_s
    }

    /// How many refinements happened so far (poll after each `push` to announce a new one).
    pub fn calibration_refinements(&self) -> u32 {
        self.refinements_seen
    }

    /// Output frame rate, Hz.
    pub fn rate_hz(&self) -> f64 {
        self.rate_hz
    }

    /// Feeds one sample; calls `emit` for every frame that became complete.
    pub fn push(&mut self, s: &ImuSample, mut emit: impl FnMut(&JointAngles)) {
        let Some(track) = self.tracks[s.role.index()].as_mut() else {
            return; // a sensor the profile does not cover (e.g. an uncalibrated pelvis)
        };
        // The filter state would never recover from a non-finite or absurd value: drop it and
        // report it with the next frame.
        if crate::limits::check(s).is_err() {
            self.implausible_pending = self.implausible_pending.saturating_add(1);
            self.implausible_total += 1;
            return;
        }
        if track.cur.is_some_and(|c| s.t_s < c.t_s) {
            return; // an older time stamp would break the time order interpolation relies on
        }
        if let Some(r) = track.acc_refiner.as_mut()
            && let Some(b) = r.push(s.t_s, &s.gyr_rad_s, &s.acc_m_s2)
        {
            track.acc_refiner = None;
            self.kin
                .correct_acc_bias(s.role, &(b - track.acc_bias_m_s2));
            track.acc_bias_m_s2 = b;
        }
        let acc = s.acc_m_s2 - track.acc_bias_m_s2;
        let q = track.orient.update(s.t_s, &s.gyr_rad_s, &acc);
        let w_world_rad_s = q * (s.gyr_rad_s - track.orient.bias_rad_s());
        track.push(Stamped {
            t_s: s.t_s,
            q,
            w_world_rad_s,
        });

        // Frames up to the earliest "latest sample" of all worn sensors are complete.
        let mut ready_t = f64::INFINITY;
        for t in self.tracks.iter().flatten() {
            match t.cur {
                Some(c) => ready_t = ready_t.min(c.t_s),
                None => return,
            }
        }
        // Time stamps are bounded by `limits::MAX_TIME_S`, so these casts cannot saturate.
        let k0 = *self
            .next_k
            .get_or_insert_with(|| (ready_t * self.rate_hz - 1e-9).ceil() as i64);
        let mut k = k0;
        // A stream silent for longer than MAX_GAP_FILL_S (lost sensor, clock jump) produces no
        // frames for the silence: frames resume at the present, the first one marked as a gap.
        let mut skipped = false;
        if ready_t - k as f64 / self.rate_hz > MAX_GAP_FILL_S {
            k = (ready_t * self.rate_hz - 1e-9).floor() as i64;
            skipped = true;
        }
        let k_end = k.saturating_add(max_frames_per_push(self.rate_hz));
        while k < k_end {
            let t = k as f64 / self.rate_hz;
            if t > ready_t + 1e-9 {
                break;
            }
            let mut frame = self.frame_at(t);
            frame.gap |= std::mem::take(&mut skipped);
            frame.implausible_samples = std::mem::take(&mut self.implausible_pending);
            emit(&frame);
            k += 1;
        }
        self.next_k = Some(k);
    }

    fn frame_at(&mut self, t_s: f64) -> JointAngles {
        let mut gap = false;
        let mut get = |role: SensorRole| {
            self.tracks[role.index()].as_ref().and_then(|tr| {
                let (q, w, g) = tr.at(t_s)?;
                gap |= g;
                Some((q, w))
            })
        };
        let (thigh, w_thigh) = get(SensorRole::Thigh).unwrap_or_default();
        let (shank, w_shank) = get(SensorRole::Shank).unwrap_or_default();
        let pelvis = get(SensorRole::Pelvis);
        let dt = self
            .last_frame_t_s
            .map(|p| t_s - p)
            .unwrap_or(1.0 / self.rate_hz);
        self.last_frame_t_s = Some(t_s);
        let a = self.kin.update(
            &SegmentInputs {
                thigh,
                shank,
                pelvis: pelvis.map(|p| p.0),
                w_thigh_rad_s: w_thigh,
                w_shank_rad_s: w_shank,
                w_pelvis_rad_s: pelvis.map(|p| p.1),
            },
            dt,
        );
        if self.kin.refinements() != self.refinements_seen {
            self.refinements_seen = self.kin.refinements();
            self.refined_at_s = Some(t_s);
        }
        // Without a pelvis sensor, supine uses the leg-raise angle as the hip-flexion proxy
        // (form-spec 1.2); seated and standing have no hip angle.
        let (hip, hip_rate) = match (a.hip_flexion_deg, self.stretch) {
            (Some(h), _) => (Some(h), a.hip_rate_deg_s),
            (None, StretchType::Supine) => (Some(a.leg_raise_deg), Some(a.leg_raise_rate_deg_s)),
            (None, _) => (None, None),
        };
        JointAngles {
            t_s,
            knee_flexion_deg: Some(a.knee_flexion_deg),
            hip_flexion_deg: hip,
            leg_raise_deg: Some(a.leg_raise_deg),
            pelvic_tilt_deg: a.pelvic_tilt_deg,
            knee_sagittal_deg: Some(a.knee_sagittal_deg),
            knee_rate_deg_s: Some(a.knee_rate_deg_s),
            hip_rate_deg_s: hip_rate,
            leg_raise_rate_deg_s: Some(a.leg_raise_rate_deg_s),
            gap,
            implausible_samples: 0,
        }
    }

    /// Whether a calibrated pelvis sensor takes part.
    ///
    /// (Frames are emitted by [`push`](Self::push) only; nothing is buffered beyond 16 samples per
    /// sensor.)
    pub fn has_pelvis(&self) -> bool {
        self.has_pelvis
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::{CalibrationProfile, CalibrationQuality, SegmentCalibration};
    use nalgebra::Vector3;

    fn profile() -> CalibrationProfile {
        let seg = SegmentCalibration {
            long_axis: [-1.0, 0.0, 0.0],
            hinge_axis: [0.0, 0.0, 1.0],
            gyro_bias_rad_s: [0.0; 3],
            acc_bias_m_s2: [0.0; 3],
        };
        CalibrationProfile {
            version: 1,
            thigh: seg,
            shank: seg,
            pelvis: None,
            quality: CalibrationQuality {
                knee_residual: 0.0,
                knee_rom_deg: 0.0,
                split_half_deg: 0.0,
                score: 0.0,
                thigh_axis_method: "test".into(),
                expected_error_deg: None,
                is_nominal: false,
                thigh_sign_resolved: true,
                thigh_axis_observed: true,
                acc_bias_observed: true,
            },
        }
    }

    fn sample(t_s: f64, role: SensorRole) -> ImuSample {
        ImuSample {
            t_s,
            role,
            acc_m_s2: Vector3::new(9.81, 0.0, 0.0),
            gyr_rad_s: Vector3::zeros(),
            mag_ut: None,
        }
    }

    #[test]
    fn frames_follow_the_grid_and_long_silences_are_skipped() {
        let mut p = Pipeline::new(
            &profile(),
            StretchType::Supine,
            100.0,
            PipelineParams::default(),
        );
        let mut frames = Vec::new();
        let mut feed = |p: &mut Pipeline, t: f64| {
            for role in [SensorRole::Thigh, SensorRole::Shank] {
                p.push(&sample(t, role), |a| frames.push((a.t_s, a.gap)));
            }
        };
        for i in 0..100 {
            feed(&mut p, i as f64 * 0.01 + 0.003);
        }
        // One hour of silence (a clock jump or a lost sensor) must not produce 360 000 frames.
        for i in 0..100 {
            feed(&mut p, 3600.0 + i as f64 * 0.01 + 0.003);
        }
        assert!(frames.len() < 250, "{} frames", frames.len());
        assert!(frames.windows(2).all(|w| w[1].0 > w[0].0));
        let resumed = frames.iter().find(|f| f.0 > 3000.0).unwrap();
        assert!(
            resumed.1,
            "first frame after the silence is marked as a gap"
        );
        assert!(frames.iter().filter(|f| f.0 < 3000.0).all(|f| !f.1));
    }
}
