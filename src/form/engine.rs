//! [`FormEngine`]: composes filters, the phase machine, the hold tracker, every detector and cue
//! arbitration for one exercise block. A session of several blocks runs one engine per block
//! ([`crate::session`]); an engine can be told its block when it becomes known
//! ([`FormEngine::begin_block`], [`FormEngine::end_block_at`]), so live sessions that decide
//! blocks as they go and replays that read them from the file run the same frames the same way.

use super::bouncing::{BounceDetector, BounceEdge};
use super::config::{FormConfig, WarmupStatus};
use super::cues::CueArbiter;
use super::data_quality::{self, DataQualityMonitor};
use super::event::{Event, Phase, Severity, Signal, State, r4};
use super::excessive::{Baseline, ExcessiveDetector};
use super::filters::{Butterworth2, MovingMean, samples_for};
use super::hold::{HoldSample, HoldTracker};
use super::jerky::JerkyDetector;
use super::knee_bend::KneeBendDetector;
use super::knee_lock::KneeLockDetector;
use super::pelvic::PelvicDetector;
use super::phase::{PhaseInput, PhaseMachine, Transition, TransitionKind};
use super::short_hold;
use super::warmup::WarmupDetector;
use crate::model::{JointAngles, Side, StretchType, TimeWindow};
use crate::record::RecordingHeader;

/// What the engine needs to know about the recording besides the frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FormContext {
    /// Stretch type.
    pub stretch: StretchType,
    /// Stretched side.
    pub side: Side,
    /// The exercise block (detectors run only inside it).
    pub block: TimeWindow,
    /// D3 baseline (`None`: no baseline check, only D3p).
    pub baseline: Option<Baseline>,
}

/// The baseline a recording carries itself (`history_deg: 70 72 71 …`, median with Δ).
pub fn header_history_baseline(
    h: &RecordingHeader,
    cfg: &super::config::Excessive,
) -> Option<Baseline> {
    let hist: Vec<f64> = h
        .extra
        .iter()
        .find(|(k, _)| k == "history_deg")
        .map(|(_, v)| {
            v.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    Baseline::from_history(&hist, cfg)
}

impl FormContext {
    /// Context from a recording header. The baseline is `baseline_deg` if given (Δ = `delta_deg`),
    /// else the median of the header's `history_deg` (the seam where the session store will plug
    /// in), else none.
    pub fn from_header(h: &RecordingHeader, cfg: &FormConfig, baseline_deg: Option<f64>) -> Self {
        let baseline = match baseline_deg {
            Some(b) => Some(Baseline::explicit(b, &cfg.excessive)),
            None => header_history_baseline(h, &cfg.excessive),
        };
        FormContext {
            stretch: h.stretch.unwrap_or_default(),
            side: h.side.unwrap_or_default(),
            block: h.block_window(),
            baseline,
        }
    }
}

/// Events produced by one frame (never more than this many).
const FRAME_EVENTS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Before,
    Auto,
    Manual,
    Ended,
}

/// Everything sized by the frame rate, built once when it is known.
struct Core {
    dt_s: f64,
    theta_lp: Butterworth2,
    knee_lp: Butterworth2,
    w_lp: Butterworth2,
    w4_lp: Butterworth2,
    w4_prev: Option<f64>,
    theta_m: MovingMean,
    tilt_m: MovingMean,
    phase: PhaseMachine,
    bounce: BounceDetector,
    bounce_knee: BounceDetector,
    knee_lock: KneeLockDetector,
    excessive: ExcessiveDetector,
    jerky: JerkyDetector,
    pelvic: PelvicDetector,
    knee_bend: KneeBendDetector,
    dq: DataQualityMonitor,
    hold: HoldTracker,
    last_theta_f: f64,
    last_knee_f: f64,
    last_tilt_m: f64,
}

/// Per-rep bookkeeping.
#[derive(Debug, Clone, Copy, Default)]
struct RepState {
    in_rep: bool,
    peak_deg: f64,
    theta_ref_deg: f64,
    tilt_rest_deg: f64,
    bounce_episodes: u32,
    warning_episodes: u32,
    data_gap: bool,
    degraded: bool,
}

/// Unrounded totals of a block so far ([`FormEngine::totals`]).
#[derive(Debug, Clone, Copy)]
pub struct Totals<'a> {
    /// Counted reps.
    pub reps: u32,
    /// Aborted reps.
    pub aborted_reps: u32,
    /// Static hold summed over the counted reps, s.
    pub total_static_hold_s: f64,
    /// Advisory and warning episodes.
    pub warning_episodes: u32,
    /// Time moving in and holding, s.
    pub active_s: f64,
    /// Hold angle of each counted rep, degrees.
    pub hold_angles_deg: &'a [f64],
    /// The dose target in force, s.
    pub dose_target_s: f64,
}

/// Synchronous form stage: frames in, events out.
pub struct FormEngine {
    cfg: FormConfig,
    ctx: FormContext,
    warmup: WarmupDetector,
    core: Option<Box<Core>>,
    block: Block,
    t_prev: Option<f64>,
    t_last: f64,
    has_pelvis: bool,
    rep: RepState,
    tilt_rest_candidate: f64,
    reps: u32,
    aborted: u32,
    total_static_s: f64,
    session_peak_deg: f64,
    hold_angles: [f64; 256],
    active_s: f64,
    active_since: Option<f64>,
    episodes: u32,
    gap_start: Option<(f64, f64, f64)>,
    arb: CueArbiter,
    buf: [Option<Event>; FRAME_EVENTS],
    n_buf: usize,
    finished: bool,
    /// Samples the pipeline dropped as implausible: in all, and not yet reported.
    implausible_total: u64,
    implausible_unreported: u64,
    implausible_reported_s: f64,
}

/// Implausible samples are reported at most this often, with the count since the last report.
const IMPLAUSIBLE_REPORT_S: f64 = 5.0;

impl FormEngine {
    /// An engine for one recording; `cfg` must be valid ([`FormConfig::validate`]).
    pub fn new(cfg: FormConfig, ctx: FormContext) -> Self {
        FormEngine {
            warmup: WarmupDetector::new(cfg.warmup),
            arb: CueArbiter::new(cfg.cues),
            cfg,
            ctx,
            core: None,
            block: Block::Before,
            t_prev: None,
            t_last: 0.0,
            has_pelvis: false,
            rep: RepState::default(),
            tilt_rest_candidate: f64::NAN,
            reps: 0,
            aborted: 0,
            total_static_s: 0.0,
            session_peak_deg: f64::NEG_INFINITY,
            hold_angles: [0.0; 256],
            active_s: 0.0,
            active_since: None,
            episodes: 0,
            gap_start: None,
            buf: [None; FRAME_EVENTS],
            n_buf: 0,
            finished: false,
            implausible_total: 0,
            implausible_unreported: 0,
            implausible_reported_s: f64::NEG_INFINITY,
        }
    }

    /// Reports samples the pipeline dropped as physically implausible, at most every few seconds.
    fn note_implausible(&mut self, t_s: f64, n: u32, emit: &mut impl FnMut(&Event)) {
        self.implausible_total += u64::from(n);
        self.implausible_unreported += u64::from(n);
        if self.implausible_unreported > 0
            && t_s - self.implausible_reported_s >= IMPLAUSIBLE_REPORT_S
        {
            let count = std::mem::take(&mut self.implausible_unreported);
            self.implausible_reported_s = t_s;
            emit(&data_quality::finding(
                t_s,
                "implausible_samples",
                count as f64,
            ));
        }
    }

    /// Phase for the angles CSV: `None` outside the block and without automatic phases.
    pub fn phase(&self) -> Option<Phase> {
        match (self.block, &self.core) {
            (Block::Auto, Some(c)) => Some(c.phase.phase()),
            _ => None,
        }
    }

    /// Static hold of the current rep at the last frame (bounce intervals known so far
    /// excluded), s; `None` outside HOLD. This is the live timer: the rep's `static_hold_s` is
    /// this figure once the hold tracker has settled.
    pub fn static_hold_s(&self) -> Option<f64> {
        match (self.block, &self.core) {
            (Block::Auto, Some(c)) if c.phase.phase() == Phase::Hold => {
                Some(c.hold.static_hold_now_s(self.t_last))
            }
            _ => None,
        }
    }

    /// Counted reps so far.
    pub fn reps(&self) -> u32 {
        self.reps
    }

    /// Whether the block has started (frames at or after its start arrived) and not ended.
    pub fn in_block(&self) -> bool {
        matches!(self.block, Block::Auto | Block::Manual)
    }

    /// Whether the block has ended (its end passed); [`finish`](Self::finish) then gives the summary.
    pub fn block_ended(&self) -> bool {
        self.block == Block::Ended
    }

    /// Start of the block, s (infinite while not yet known).
    pub fn block_start_s(&self) -> f64 {
        self.ctx.block.start_s
    }

    /// The block's context (side, stretch, window, baseline).
    pub fn context(&self) -> &FormContext {
        &self.ctx
    }

    /// Sets the block once it is known: side, stretch and baseline for it, starting at `start_s`.
    /// Frames before the start only feed the warm-up look-back, so the detectors start fresh at
    /// the block whenever this is called before the first frame of the block.
    pub fn begin_block(&mut self, ctx: FormContext) {
        self.ctx = ctx;
        if let Some(dt) = self.core.as_ref().map(|c| c.dt_s) {
            self.init_core(dt);
        }
    }

    /// Ends the block at `end_s` (the first frame after it closes the block).
    pub fn end_block_at(&mut self, end_s: f64) {
        self.ctx.block.end_s = end_s;
    }

    /// Running totals of the block, unrounded (a session adds them up over blocks and sides).
    pub fn totals(&self) -> Totals<'_> {
        let n = (self.reps as usize).min(self.hold_angles.len());
        Totals {
            reps: self.reps,
            aborted_reps: self.aborted,
            total_static_hold_s: self.total_static_s,
            warning_episodes: self.episodes,
            active_s: self.active_s,
            hold_angles_deg: &self.hold_angles[..n],
            dose_target_s: self.cfg.hold.dose_target_s,
        }
    }

    fn out(&mut self, e: Event) {
        if self.n_buf < FRAME_EVENTS {
            self.buf[self.n_buf] = Some(e);
            self.n_buf += 1;
        }
    }

    fn drain(&mut self, t_s: f64, emit: &mut impl FnMut(&Event)) {
        let mut evs: [Event; FRAME_EVENTS] = [Event::NoWarmup {
            t_s: 0.0,
            severity: Severity::Info,
            active_s: 0.0,
        }; FRAME_EVENTS];
        let n = self.n_buf;
        for (i, e) in self.buf[..n].iter().enumerate() {
            evs[i] = e.expect("filled");
        }
        self.arb.arbitrate(t_s, &mut evs[..n]);
        for e in &evs[..n] {
            emit(e);
        }
        self.n_buf = 0;
    }

    fn init_core(&mut self, dt_s: f64) {
        let c = &self.cfg;
        let pop = match self.ctx.stretch {
            StretchType::Supine => c.excessive.pop_supine_max_deg,
            _ => c.excessive.pop_hip_max_deg,
        };
        let delay_s = c.bouncing.window_s + c.bouncing.clear_s + 1.0 / c.bouncing.f_min_hz + 1.0;
        self.core = Some(Box::new(Core {
            dt_s,
            theta_lp: Butterworth2::new(c.filters.angle_lp_hz, dt_s),
            knee_lp: Butterworth2::new(c.filters.angle_lp_hz, dt_s),
            w_lp: Butterworth2::new(c.filters.omega_lp_hz, dt_s),
            w4_lp: Butterworth2::new(c.filters.alpha_omega_lp_hz, dt_s),
            w4_prev: None,
            theta_m: MovingMean::new(samples_for(c.filters.theta_m_window_s, dt_s)),
            tilt_m: MovingMean::new(samples_for(c.filters.theta_m_window_s, dt_s)),
            phase: PhaseMachine::new(c.phases, dt_s),
            bounce: BounceDetector::new(c.bouncing, Signal::Primary),
            bounce_knee: BounceDetector::new(c.bouncing, Signal::Knee),
            knee_lock: KneeLockDetector::new(c.knee_lock),
            excessive: ExcessiveDetector::new(c.excessive, self.ctx.baseline, pop),
            jerky: JerkyDetector::new(c.jerky),
            pelvic: PelvicDetector::new(c.pelvic_comp),
            knee_bend: KneeBendDetector::new(c.knee_bend_excess),
            dq: DataQualityMonitor::new(
                c.data_quality,
                self.ctx.stretch,
                false,
                self.ctx.block.start_s,
            ),
            hold: HoldTracker::new(dt_s, delay_s, c.knee_lock.band_deg),
            last_theta_f: f64::NAN,
            last_knee_f: f64::NAN,
            last_tilt_m: f64::NAN,
        }));
    }

    fn theta_ref_default(&self) -> f64 {
        let d = self.cfg.jerky.theta_ref_default;
        match self.ctx.stretch {
            StretchType::Supine => d.supine,
            StretchType::Seated => d.seated_reach,
            StretchType::Standing => d.standing_hinge,
        }
    }

    /// Feeds one frame; calls `emit` for every event it causes, in order.
    pub fn push(&mut self, a: &JointAngles, emit: &mut impl FnMut(&Event)) {
        let t = a.t_s;
        self.t_last = t;
        if a.implausible_samples > 0 || self.implausible_unreported > 0 {
            self.note_implausible(t, a.implausible_samples, emit);
        }
        let Some(t_prev) = self.t_prev.replace(t) else {
            return;
        };
        if self.core.is_none() {
            let dt = t - t_prev;
            if !(dt > 0.0 && dt.is_finite()) {
                self.t_prev = Some(t);
                return;
            }
            // Any rate the recording formats accept (a Movesense streams up to 1666 Hz, a
            // WitMotion down to 10 Hz): every frame counts for its own interval.
            let rates = crate::limits::RATE_HZ;
            self.init_core(dt.clamp(1.0 / rates.end(), 1.0 / rates.start()));
        }
        match self.block {
            Block::Ended => return,
            Block::Before => {
                if t < self.ctx.block.start_s {
                    if let Some(w) = a.leg_raise_rate_deg_s {
                        self.warmup.push(t, w);
                    }
                    return;
                }
                self.start_block(a);
            }
            _ => {}
        }
        if t > self.ctx.block.end_s {
            self.end_block(t);
            self.drain(t, emit);
            return;
        }
        if a.gap {
            if self.gap_start.is_none() {
                let c = self.core.as_ref().expect("core");
                self.gap_start = Some((t_prev, c.last_theta_f, c.last_knee_f));
            }
        } else {
            if let Some(g) = self.gap_start.take() {
                self.end_gap(a, g);
            }
            match self.block {
                Block::Auto => self.frame_auto(a),
                Block::Manual => self.frame_manual(a),
                _ => {}
            }
        }
        self.drain(t, emit);
    }

    fn start_block(&mut self, a: &JointAngles) {
        let t = a.t_s;
        self.has_pelvis = a.pelvic_tilt_deg.is_some();
        let manual = a.hip_flexion_deg.is_none();
        self.block = if manual { Block::Manual } else { Block::Auto };
        let status = self.cfg.warmup.status;
        if let Some(e) = self.warmup.at_block_start(t, status) {
            self.out(e);
        }
        if manual {
            self.out(Event::HipUnavailable {
                t_s: t,
                severity: Severity::Info,
                stretch: self.ctx.stretch.as_str(),
            });
        }
        let c = self.core.as_mut().expect("core");
        c.dq = DataQualityMonitor::new(self.cfg.data_quality, self.ctx.stretch, self.has_pelvis, t);
    }

    /// Gap rules of form-spec 1.6, applied when frames resume.
    fn end_gap(&mut self, a: &JointAngles, (start_s, theta_before, knee_before): (f64, f64, f64)) {
        let gap_s = a.t_s - start_s;
        let g = self.cfg.gaps;
        if gap_s > g.end_rep_s {
            self.end_rep_at_gap(a.t_s, start_s, gap_s);
            return;
        }
        if gap_s > g.freeze_max_s {
            self.rep.data_gap |= self.rep.in_rep;
            self.out(data_quality::finding(a.t_s, "gap", gap_s));
            return;
        }
        let c = self.core.as_mut().expect("core");
        let agree = |now: Option<f64>, before: f64| {
            now.is_none_or(|x| {
                !before.is_finite() || (x - before).abs() <= self.cfg.data_quality.gap_agree_deg
            })
        };
        let hold_open = c.hold.segment_open();
        if gap_s > g.interp_max_s
            && hold_open
            && agree(a.hip_flexion_deg, theta_before)
            && agree(a.knee_flexion_deg, knee_before)
        {
            // The hold timer continues across the gap.
            c.hold.credit_gap(gap_s - c.dt_s);
        }
    }

    /// A silence too long to bridge: the running rep ends where the data stopped, reported as
    /// such, and the phases start again from rest.
    fn end_rep_at_gap(&mut self, t_s: f64, start_s: f64, gap_s: f64) {
        self.out(data_quality::finding(t_s, "time_jump", gap_s));
        if self.block != Block::Auto {
            return;
        }
        let c = self.core.as_mut().expect("core");
        if c.phase.phase() != Phase::Rest {
            if c.hold.segment_open() {
                c.hold.close_segment(start_s);
            }
            c.phase.reset();
            self.close_active(start_s);
            self.rep.data_gap |= self.rep.in_rep;
            self.out(Event::Phase {
                t_s,
                phase: Phase::Rest,
                onset_s: r4(start_s),
            });
            self.finish_rep(t_s);
        } else {
            c.phase.reset();
        }
    }

    fn frame_manual(&mut self, a: &JointAngles) {
        let t = a.t_s;
        let c = self.core.as_mut().expect("core");
        let knee = a.knee_flexion_deg.unwrap_or(f64::NAN);
        let knee_f = c.knee_lp.update(knee);
        c.last_knee_f = knee_f;
        let mut evs: [Option<Event>; 6] = [None; 6];
        let mut n = 0;
        let mut add = |e: Event| {
            if n < 6 {
                evs[n] = Some(e);
                n += 1;
            }
        };
        c.dq.update(t, knee, a.knee_sagittal_deg, knee, None, None, &mut add);
        let gate = !c.dq.knee_suspended();
        let was = c.knee_lock.active();
        if let Some(e) = c.knee_lock.update(t, c.dt_s, gate, knee_f) {
            if !was && e.state() == Some(State::On) {
                self.episodes += 1;
            }
            add(e);
        }
        if let Some(e) = c.knee_bend.update(t, gate, knee_f) {
            add(e);
        }
        for e in evs.into_iter().flatten() {
            self.out(e);
        }
    }

    fn frame_auto(&mut self, a: &JointAngles) {
        let t = a.t_s;
        let theta = a.hip_flexion_deg.unwrap_or(f64::NAN);
        let knee = a.knee_flexion_deg.unwrap_or(f64::NAN);
        let w_raw = a.hip_rate_deg_s.unwrap_or(0.0);
        let supine_pelvis = self.ctx.stretch == StretchType::Supine && a.pelvic_tilt_deg.is_some();
        let (theta_f, knee_f, w, alpha, theta_m, tilt_m, tr, dt) = {
            let c = self.core.as_mut().expect("core");
            let dt = c.dt_s;
            let theta_f = c.theta_lp.update(theta);
            let knee_f = c.knee_lp.update(knee);
            let w = c.w_lp.update(w_raw);
            let w4 = c.w4_lp.update(w_raw);
            let alpha = c.w4_prev.map_or(0.0, |p| (w4 - p) / dt);
            c.w4_prev = Some(w4);
            let theta_m = c.theta_m.update(theta_f);
            let tilt_m = a.pelvic_tilt_deg.map_or(f64::NAN, |p| c.tilt_m.update(p));
            c.last_theta_f = theta_f;
            c.last_knee_f = knee_f;
            c.last_tilt_m = tilt_m;
            let tr = c.phase.update(&PhaseInput {
                t_s: t,
                theta_f_deg: theta_f,
                theta_m_deg: theta_m,
                w_dps: w,
            });
            (theta_f, knee_f, w, alpha, theta_m, tilt_m, tr, dt)
        };
        let _ = theta_m;
        // Supine pelvic reference: the tilt at rest just before the rep starts.
        if self
            .core
            .as_ref()
            .is_some_and(|c| c.phase.phase() == Phase::Rest)
            && w.abs() < self.cfg.phases.move_w_dps
            && tr.is_none()
        {
            self.tilt_rest_candidate = tilt_m;
        }
        if let Some(tr) = tr {
            self.on_transition(&tr, theta_f, self.tilt_rest_candidate);
        }
        let cfg = self.cfg;
        let c = self.core.as_mut().expect("core");
        let phase = c.phase.phase();
        let gate = matches!(phase, Phase::MovingIn | Phase::Hold);
        let rest = c.phase.theta_rest_deg().unwrap_or(theta_f);
        let theta_ref = self.rep.theta_ref_deg;
        let zone1 = rest + cfg.bouncing.gate_fraction * (theta_ref - rest);
        let zone6 = rest + cfg.jerky.zone_fraction * (theta_ref - rest);
        let gate_ok = gate && self.rep.in_rep && theta_f >= zone1;
        let mut evs: [Option<Event>; 16] = [None; 16];
        let mut n = 0usize;
        let mut new_episodes = 0u32;
        let mut add = |e: Event, evs: &mut [Option<Event>; 16]| {
            if n < 16 {
                evs[n] = Some(e);
                n += 1;
            }
        };
        // D11 first: it can suspend the knee detectors.
        {
            let mut tmp: [Option<Event>; 4] = [None; 4];
            let mut k = 0;
            c.dq.update(
                t,
                knee,
                a.knee_sagittal_deg,
                theta,
                a.leg_raise_deg,
                a.hip_flexion_deg,
                &mut |e| {
                    if k < 4 {
                        tmp[k] = Some(e);
                        k += 1;
                    }
                },
            );
            for e in tmp.into_iter().flatten() {
                add(e, &mut evs);
            }
        }
        let knee_ok = !c.dq.knee_suspended();
        if !knee_ok && self.rep.in_rep {
            self.rep.degraded = true;
        }
        // D1 on the primary angle and on the knee.
        for (sig, det) in [(0usize, &mut c.bounce), (1usize, &mut c.bounce_knee)] {
            if sig == 1 && !cfg.bouncing.also_on_knee {
                continue;
            }
            let (x, ok, open) = if sig == 0 {
                (theta_f, gate_ok, gate)
            } else {
                (knee_f, gate_ok && knee_ok, gate && knee_ok)
            };
            if let Some((e, edge)) = det.update(t, x, ok, open) {
                match edge {
                    BounceEdge::On { first_extremum_s } => {
                        c.hold.exclude_from(sig, first_extremum_s);
                        new_episodes += 1;
                        self.rep.bounce_episodes += 1;
                    }
                    BounceEdge::Off { last_extremum_s } => {
                        c.hold.exclude_until(sig, last_extremum_s);
                    }
                }
                add(e, &mut evs);
            }
        }
        // D2.
        let was = c.knee_lock.active();
        if let Some(e) = c.knee_lock.update(t, dt, gate && knee_ok, knee_f) {
            if !was && e.state() == Some(State::On) {
                new_episodes += 1;
            }
            add(e, &mut evs);
        }
        // D3 / D3p.
        let (d3, d3p) = c.excessive.update(t, gate, theta_f);
        if let Some(e) = d3 {
            if e.state() == Some(State::On) {
                new_episodes += 1;
            }
            add(e, &mut evs);
        }
        if let Some(e) = d3p {
            add(e, &mut evs);
        }
        // D6.
        let jgate = phase == Phase::MovingIn
            || (phase == Phase::Hold && t - c.phase.hold_detect_s() <= cfg.jerky.post_hold_gate_s);
        if let Some(e) = c
            .jerky
            .update(t, jgate && self.rep.in_rep, theta_f, zone6, w, alpha)
        {
            if e.state() == Some(State::On) {
                new_episodes += 1;
            }
            add(e, &mut evs);
        }
        // D9.
        let tilt_change = if supine_pelvis && self.rep.in_rep {
            tilt_m - self.rep.tilt_rest_deg
        } else {
            f64::NAN
        };
        if tilt_change.is_finite()
            && let Some(e) = c.pelvic.update(t, phase == Phase::Hold, tilt_change)
        {
            if e.state() == Some(State::On) {
                new_episodes += 1;
            }
            add(e, &mut evs);
        }
        // D10.
        if let Some(e) = c
            .knee_bend
            .update(t, phase == Phase::Hold && knee_ok, knee_f)
        {
            add(e, &mut evs);
        }
        // Hold accounting.
        c.hold.push(HoldSample {
            t_s: t,
            theta_f_deg: theta_f,
            knee_deg: knee_f,
            leg_raise_deg: a.leg_raise_deg.unwrap_or(f64::NAN),
            tilt_change_deg: tilt_change,
        });
        if self.rep.in_rep {
            self.rep.peak_deg = self.rep.peak_deg.max(theta_f);
        }
        let short = if tr.is_some_and(|x| x.kind == TransitionKind::Release) {
            c.hold.flush();
            short_hold::short_hold(
                t,
                self.reps + 1,
                c.hold.static_hold_s(),
                &cfg.hold,
                &cfg.phases,
            )
        } else {
            None
        };
        self.episodes += new_episodes;
        if self.rep.in_rep {
            self.rep.warning_episodes += new_episodes;
        }
        for e in evs.into_iter().flatten() {
            self.out(e);
        }
        if let Some(e) = short {
            self.out(e);
        }
        if tr.is_some_and(|x| x.kind == TransitionKind::Rest) {
            self.finish_rep(t);
        }
    }

    fn on_transition(&mut self, tr: &Transition, theta_f: f64, tilt_m: f64) {
        self.out(Event::Phase {
            t_s: tr.t_s,
            phase: tr.to,
            onset_s: r4(tr.onset_s),
        });
        let ref_default = self
            .ctx
            .baseline
            .map_or_else(|| self.theta_ref_default(), |b| b.value_deg);
        let c = self.core.as_mut().expect("core");
        match tr.kind {
            TransitionKind::Start => {
                self.rep = RepState {
                    in_rep: true,
                    peak_deg: theta_f,
                    theta_ref_deg: ref_default.max(self.session_peak_deg),
                    tilt_rest_deg: tilt_m,
                    ..RepState::default()
                };
                c.jerky.new_rep();
                self.active_since = Some(tr.onset_s);
            }
            TransitionKind::Hold => c.hold.open_segment(tr.onset_s),
            TransitionKind::Deepen => c.hold.close_segment(tr.onset_s),
            TransitionKind::Release => {
                c.hold.close_segment(tr.onset_s);
                self.close_active(tr.onset_s);
            }
            TransitionKind::Abort => self.close_active(tr.onset_s),
            TransitionKind::Restretch => self.active_since = Some(tr.onset_s),
            TransitionKind::Rest => {}
        }
    }

    fn close_active(&mut self, end_s: f64) {
        if let Some(s) = self.active_since.take() {
            self.active_s += (end_s - s).max(0.0);
        }
    }

    fn finish_rep(&mut self, t_s: f64) {
        if !self.rep.in_rep {
            return;
        }
        let c = self.core.as_mut().expect("core");
        let s = c.hold.stats();
        c.hold.reset();
        let rep = self.rep;
        self.rep.in_rep = false;
        if s.static_hold_s >= self.cfg.phases.min_rep_hold_s {
            self.reps += 1;
            let i = (self.reps as usize - 1).min(self.hold_angles.len() - 1);
            self.hold_angles[i] = s.hold_angle_deg;
            self.total_static_s += s.static_hold_s;
            self.session_peak_deg = self.session_peak_deg.max(rep.peak_deg);
            let h = self.cfg.hold;
            self.out(Event::Rep {
                t_s,
                rep: self.reps,
                static_hold_s: r4(s.static_hold_s),
                positional_hold_s: r4(s.positional_hold_s),
                hold_angle_deg: r4(s.hold_angle_deg),
                peak_angle_deg: r4(rep.peak_deg),
                knee_mean_deg: r4(s.knee_mean_deg),
                knee_min_deg: r4(s.knee_min_deg),
                knee_in_band_pct: r4(s.knee_in_band_pct),
                leg_raise_hold_deg: s.leg_raise_hold_deg.map(r4),
                pelvic_tilt_change_deg: s.tilt_change_deg.map(r4),
                bounce_episodes: rep.bounce_episodes,
                warning_episodes: rep.warning_episodes,
                target_met: s.static_hold_s >= h.effective_target_s() - h.tolerance_s,
                data_quality: if rep.data_gap {
                    "data_gap"
                } else if rep.degraded {
                    "degraded"
                } else {
                    "ok"
                },
            });
        } else {
            self.aborted += 1;
            self.out(Event::AbortedRep {
                t_s,
                static_hold_s: r4(s.static_hold_s),
                peak_angle_deg: r4(rep.peak_deg),
            });
        }
    }

    fn end_block(&mut self, t_s: f64) {
        let prev = self.block;
        self.block = Block::Ended;
        let Some(c) = self.core.as_mut() else {
            return;
        };
        match prev {
            Block::Auto => {
                let phase = c.phase.phase();
                if phase == Phase::Hold {
                    c.hold.close_segment(t_s);
                }
                // Close every open episode (the gate closes with the block).
                let mut evs: [Option<Event>; 8] = [None; 8];
                let (th, kn) = (c.last_theta_f, c.last_knee_f);
                if let Some((e, BounceEdge::Off { last_extremum_s })) =
                    c.bounce.update(t_s, th, false, false)
                {
                    c.hold.exclude_until(0, last_extremum_s);
                    evs[0] = Some(e);
                }
                if let Some((e, BounceEdge::Off { last_extremum_s })) =
                    c.bounce_knee.update(t_s, kn, false, false)
                {
                    c.hold.exclude_until(1, last_extremum_s);
                    evs[1] = Some(e);
                }
                evs[2] = c.knee_lock.update(t_s, c.dt_s, false, kn);
                evs[3] = c.excessive.update(t_s, false, th).0;
                evs[4] = c.jerky.update(t_s, false, th, f64::INFINITY, 0.0, 0.0);
                if c.pelvic.active() {
                    evs[5] = c.pelvic.update(t_s, false, 0.0);
                }
                evs[6] = c.knee_bend.update(t_s, false, kn);
                for e in evs.into_iter().flatten() {
                    self.out(e);
                }
                self.close_active(t_s);
                self.finish_rep(t_s);
                if let Some(e) = short_hold::dose_short(t_s, self.total_static_s, &self.cfg.hold) {
                    self.out(e);
                }
            }
            Block::Manual => {
                let kn = c.last_knee_f;
                let a = c.knee_lock.update(t_s, c.dt_s, false, kn);
                let b = c.knee_bend.update(t_s, false, kn);
                for e in [a, b].into_iter().flatten() {
                    self.out(e);
                }
            }
            _ => {}
        }
    }

    /// Ends the run: closes the block if still open and emits the `summary` (always last).
    pub fn finish(&mut self, emit: &mut impl FnMut(&Event)) {
        if self.finished {
            return;
        }
        self.finished = true;
        let t = self.t_last;
        if matches!(self.block, Block::Auto | Block::Manual) {
            self.end_block(t);
        }
        self.drain(t, emit);
        if self.implausible_unreported > 0 {
            self.implausible_reported_s = f64::NEG_INFINITY;
            self.note_implausible(t, 0, emit);
        }
        let n = (self.reps as usize).min(self.hold_angles.len());
        let session_value_deg = (n > 0).then(|| {
            let mut v = self.hold_angles;
            r4(super::filters::median_in_place(&mut v[..n]))
        });
        let wpm = if self.active_s > 0.0 {
            f64::from(self.episodes) / (self.active_s / 60.0)
        } else {
            0.0
        };
        emit(&Event::Summary {
            t_s: t,
            reps: self.reps,
            aborted_reps: self.aborted,
            total_static_hold_s: r4(self.total_static_s),
            dose_met: self.total_static_s >= self.cfg.hold.dose_target_s,
            warnings_per_min: r4(wpm),
            active_s: r4(self.active_s),
            session_value_deg,
            implausible_samples: self.implausible_total,
        });
    }

    /// The warm-up status in force.
    pub fn warmup_status(&self) -> WarmupStatus {
        self.cfg.warmup.status
    }
}
