//! History-aware rules over stored session values (form-spec section 3): the D3 baseline, D4 fast
//! progression and D8 left/right asymmetry. Pure functions over [`SessionPoint`]s; the store feeds
//! them and keeps the results.
//!
//! Choices the spec leaves open, made here:
//! * Session times are in days (`started_unix_s / 86400`); "within 28 days" means `t_k − t ≤ 28`.
//! * D3 with 1–2 sessions counts only sessions within the 28-day window too (older values are stale).
//! * D4 reports `no` when at least one of its two rules could be evaluated and neither fired.
//! * D8 pairs a left and a right session of the same stretch type when they start within
//!   [`HistoryConfig::pair_window_days`] (12 h) of each other, greedily in time order; the pair's
//!   time is its later session. The mean difference is the mean of `M_L − M_R` over the pairs
//!   considered; the tighter side is the one with the smaller mean value. `cleared` means the
//!   evaluation without the newest pair flagged and this one does not.

use crate::model::Side;

/// One stored session value M (form-spec 4.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionPoint {
    /// Session id in the store.
    pub id: i64,
    /// Session start, days since the Unix epoch.
    pub t_days: f64,
    /// Stretched side.
    pub side: Side,
    /// Session value M, degrees.
    pub value_deg: f64,
}

/// Parameters of the history rules (form-spec section 8, `excessive`, `fast_progression`, `asymmetry`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryConfig {
    /// D3 Δ with ≥ 3 sessions, degrees.
    pub er_delta_deg: f64,
    /// D3 Δ with 1–2 sessions, degrees.
    pub er_delta_provisional_deg: f64,
    /// D3: at most this many recent sessions form the baseline.
    pub history_sessions: usize,
    /// D3 and D4 jump: history window, days.
    pub history_days: f64,
    /// D4 jump threshold, degrees.
    pub fp_jump_deg: f64,
    /// D4 trend threshold, degrees per week.
    pub fp_slope_deg_per_week: f64,
    /// D4 trend window, days.
    pub fp_slope_window_days: f64,
    /// D4 trend: minimum sessions in the window.
    pub fp_min_sessions_slope: usize,
    /// D4 trend: minimum span of those sessions, days.
    pub fp_min_span_days: f64,
    /// D8 difference threshold, degrees.
    pub as_diff_deg: f64,
    /// D8: last paired sessions considered.
    pub as_last_sessions: usize,
    /// D8: how many of them must exceed the threshold.
    pub as_min_flagged: usize,
    /// D8 window, days.
    pub as_window_days: f64,
    /// D8: a left and a right session pair when they start this close, days.
    pub pair_window_days: f64,
}

impl HistoryConfig {
    /// The history rules from the one form configuration (form-spec section 8): D3's Δ and
    /// look-back, D4 and D8. Only the two choices the spec leaves open live here (the D4 trend's
    /// minimum span and how close a left and a right session must start to pair).
    pub fn from_form(cfg: &crate::form::FormConfig) -> Self {
        let (e, fp, a) = (&cfg.excessive, &cfg.fast_progression, &cfg.asymmetry);
        HistoryConfig {
            er_delta_deg: e.delta_deg,
            er_delta_provisional_deg: e.delta_provisional_deg,
            history_sessions: e.history_sessions as usize,
            history_days: f64::from(e.history_days),
            fp_jump_deg: fp.jump_deg,
            fp_slope_deg_per_week: fp.slope_deg_per_week,
            fp_slope_window_days: f64::from(fp.slope_window_days),
            fp_min_sessions_slope: fp.min_sessions_slope as usize,
            fp_min_span_days: 7.0,
            as_diff_deg: a.diff_deg,
            as_last_sessions: a.last_sessions as usize,
            as_min_flagged: a.min_flagged as usize,
            as_window_days: f64::from(a.window_days),
            pair_window_days: 0.5,
        }
    }
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self::from_form(&crate::form::FormConfig::default())
    }
}

/// The D3 excessive-range baseline B and its Δ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// B: median session value, degrees.
    pub b_deg: f64,
    /// Δ: 10° with ≥ 3 sessions, 15° with 1–2.
    pub delta_deg: f64,
    /// Sessions B was computed from.
    pub sessions: usize,
}

/// D3 baseline for a session starting at `now_days`, from earlier sessions of the same side and
/// stretch (`history` in any order; entries at or after `now_days` are ignored).
pub fn baseline(history: &[SessionPoint], now_days: f64, cfg: &HistoryConfig) -> Option<Baseline> {
    let mut recent: Vec<&SessionPoint> = history
        .iter()
        .filter(|p| p.t_days < now_days && now_days - p.t_days <= cfg.history_days)
        .collect();
    recent.sort_by(|a, b| a.t_days.total_cmp(&b.t_days));
    let values: Vec<f64> = recent.iter().map(|p| p.value_deg).collect();
    // The median-of-last-N rule and its Δ are the form stage's own (D3), fed with the stored
    // sessions this store selects (same side and stretch, inside the look-back window).
    let rule = crate::form::config::Excessive {
        delta_deg: cfg.er_delta_deg,
        delta_provisional_deg: cfg.er_delta_provisional_deg,
        history_sessions: cfg.history_sessions as u32,
        ..Default::default()
    };
    let b = crate::form::Baseline::from_history(&values, &rule)?;
    Some(Baseline {
        b_deg: b.value_deg,
        delta_deg: b.delta_deg,
        sessions: values.len().min(cfg.history_sessions),
    })
}

/// A flag's state at the end of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagStatus {
    /// Not enough history to evaluate.
    InsufficientData,
    /// Evaluated, not flagged.
    No,
    /// Flagged.
    Flag,
    /// Not flagged now, flagged at the previous evaluation (D8 only).
    Cleared,
}

impl FlagStatus {
    /// Name stored and printed (`insufficient_data`, `no`, `flag`, `cleared`).
    pub fn as_str(self) -> &'static str {
        match self {
            FlagStatus::InsufficientData => "insufficient_data",
            FlagStatus::No => "no",
            FlagStatus::Flag => "flag",
            FlagStatus::Cleared => "cleared",
        }
    }

    /// Status from its stored name.
    pub fn parse(s: &str) -> Option<FlagStatus> {
        [
            FlagStatus::InsufficientData,
            FlagStatus::No,
            FlagStatus::Flag,
            FlagStatus::Cleared,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// D4 at the end of one session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FastProgression {
    /// Overall status.
    pub status: FlagStatus,
    /// `M_k − median(M_{k−3..k−1})`, when three prior sessions exist within the window.
    pub jump_deg: Option<f64>,
    /// OLS slope over the 14-day window, °/week, when ≥ 4 sessions span ≥ 7 days.
    pub slope_deg_per_week: Option<f64>,
}

/// D4 for `current`, from the sessions of the same side and stretch (`history` may include
/// `current`; later sessions are ignored).
pub fn fast_progression(
    history: &[SessionPoint],
    current: &SessionPoint,
    cfg: &HistoryConfig,
) -> FastProgression {
    let mut prior: Vec<&SessionPoint> = history
        .iter()
        .filter(|p| p.id != current.id && is_before(p, current))
        .collect();
    prior.sort_by(|a, b| a.t_days.total_cmp(&b.t_days).then(a.id.cmp(&b.id)));
    let in_window: Vec<f64> = prior
        .iter()
        .filter(|p| current.t_days - p.t_days <= cfg.history_days)
        .map(|p| p.value_deg)
        .collect();
    let jump_deg = (in_window.len() >= 3)
        .then(|| median(&in_window[in_window.len() - 3..]).map(|m| current.value_deg - m))
        .flatten();
    let mut window: Vec<(f64, f64)> = prior
        .iter()
        .filter(|p| current.t_days - p.t_days <= cfg.fp_slope_window_days)
        .map(|p| (p.t_days, p.value_deg))
        .collect();
    window.push((current.t_days, current.value_deg));
    let span = window.last().map_or(0.0, |l| l.0) - window.first().map_or(0.0, |f| f.0);
    let slope_deg_per_week = (window.len() >= cfg.fp_min_sessions_slope
        && span >= cfg.fp_min_span_days)
        .then(|| ols_slope(&window).map(|s| s * 7.0))
        .flatten();
    let flagged = jump_deg.is_some_and(|j| j > cfg.fp_jump_deg)
        || slope_deg_per_week.is_some_and(|s| s > cfg.fp_slope_deg_per_week);
    let status = if flagged {
        FlagStatus::Flag
    } else if jump_deg.is_some() || slope_deg_per_week.is_some() {
        FlagStatus::No
    } else {
        FlagStatus::InsufficientData
    };
    FastProgression {
        status,
        jump_deg,
        slope_deg_per_week,
    }
}

/// D8 at the end of one session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Asymmetry {
    /// Overall status (`insufficient_data` when no pair exists in the window).
    pub status: FlagStatus,
    /// Paired sessions considered (at most 5).
    pub paired: usize,
    /// How many of them differ by more than 10°.
    pub over_limit: usize,
    /// Mean of `M_L − M_R` over the pairs considered, degrees.
    pub mean_diff_deg: Option<f64>,
    /// The side with the smaller mean value, when they differ.
    pub tighter: Option<Side>,
}

/// A left/right pair of sessions of one stretch type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// Left session id.
    pub left_id: i64,
    /// Right session id.
    pub right_id: i64,
    /// Time of the later session, days.
    pub t_days: f64,
    /// Left session value, degrees.
    pub left_deg: f64,
    /// Right session value, degrees.
    pub right_deg: f64,
}

/// Pairs left and right sessions (one stretch type, any order) as described in the module docs.
pub fn pairs(points: &[SessionPoint], cfg: &HistoryConfig) -> Vec<Pair> {
    let mut sorted: Vec<&SessionPoint> = points.iter().collect();
    sorted.sort_by(|a, b| a.t_days.total_cmp(&b.t_days).then(a.id.cmp(&b.id)));
    let mut out = Vec::new();
    let mut pending: Option<&SessionPoint> = None;
    for p in sorted {
        match pending {
            Some(q) if q.side != p.side && p.t_days - q.t_days <= cfg.pair_window_days => {
                let (l, r) = if q.side == Side::Left { (q, p) } else { (p, q) };
                out.push(Pair {
                    left_id: l.id,
                    right_id: r.id,
                    t_days: p.t_days,
                    left_deg: l.value_deg,
                    right_deg: r.value_deg,
                });
                pending = None;
            }
            _ => pending = Some(p),
        }
    }
    out
}

/// D8 for `current`, from the sessions of both sides of its stretch type (later ones ignored).
pub fn asymmetry(
    points: &[SessionPoint],
    current: &SessionPoint,
    cfg: &HistoryConfig,
) -> Asymmetry {
    let upto: Vec<SessionPoint> = points
        .iter()
        .filter(|p| p.id == current.id || is_before(p, current))
        .copied()
        .collect();
    let all = pairs(&upto, cfg);
    let now = eval_pairs(&all, current.t_days, cfg);
    let prev = match all.split_last() {
        Some((last, rest)) if last.t_days >= current.t_days => {
            rest.last().map(|p| eval_pairs(rest, p.t_days, cfg))
        }
        _ => None,
    };
    let status = match (now.status, prev.map(|p| p.status)) {
        (FlagStatus::Flag, _) => FlagStatus::Flag,
        (_, Some(FlagStatus::Flag)) => FlagStatus::Cleared,
        (s, _) => s,
    };
    Asymmetry { status, ..now }
}

fn eval_pairs(all: &[Pair], now_days: f64, cfg: &HistoryConfig) -> Asymmetry {
    let window: Vec<&Pair> = all
        .iter()
        .filter(|p| p.t_days <= now_days && now_days - p.t_days <= cfg.as_window_days)
        .collect();
    let last = &window[window.len().saturating_sub(cfg.as_last_sessions)..];
    let over_limit = last
        .iter()
        .filter(|p| (p.left_deg - p.right_deg).abs() > cfg.as_diff_deg)
        .count();
    let diffs: Vec<f64> = last.iter().map(|p| p.left_deg - p.right_deg).collect();
    let mean_diff_deg = (!diffs.is_empty()).then(|| diffs.iter().sum::<f64>() / diffs.len() as f64);
    let status = if last.is_empty() {
        FlagStatus::InsufficientData
    } else if over_limit >= cfg.as_min_flagged {
        FlagStatus::Flag
    } else {
        FlagStatus::No
    };
    Asymmetry {
        status,
        paired: last.len(),
        over_limit,
        mean_diff_deg,
        tighter: mean_diff_deg.and_then(|d| {
            if d > 0.0 {
                Some(Side::Right)
            } else if d < 0.0 {
                Some(Side::Left)
            } else {
                None
            }
        }),
    }
}

fn is_before(p: &SessionPoint, current: &SessionPoint) -> bool {
    p.t_days < current.t_days || (p.t_days == current.t_days && p.id < current.id)
}

/// Median of `v` (mean of the middle two for even lengths); `None` if empty.
pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    })
}

/// Ordinary-least-squares slope of `(x, y)` points; `None` when x does not vary.
pub fn ols_slope(xy: &[(f64, f64)]) -> Option<f64> {
    let n = xy.len() as f64;
    let mx = xy.iter().map(|p| p.0).sum::<f64>() / n;
    let my = xy.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = xy.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(id: i64, day: f64, side: Side, v: f64) -> SessionPoint {
        SessionPoint {
            id,
            t_days: day,
            side,
            value_deg: v,
        }
    }

    #[test]
    fn baseline_follows_d3() {
        let cfg = HistoryConfig::default();
        let h = [66.0, 68.0, 69.0, 90.0, 70.0, 71.0];
        let pts: Vec<_> = h
            .iter()
            .enumerate()
            .map(|(i, v)| pt(i as i64, i as f64, Side::Left, *v))
            .collect();
        assert_eq!(baseline(&pts, 0.0, &cfg), None);
        let b = baseline(&pts, 0.5, &cfg).unwrap();
        assert_eq!((b.b_deg, b.delta_deg, b.sessions), (66.0, 15.0, 1));
        let b = baseline(&pts[..3], 3.0, &cfg).unwrap();
        assert_eq!((b.b_deg, b.delta_deg, b.sessions), (68.0, 10.0, 3));
        // Last five: 68, 69, 90, 70, 71 → 70.
        let b = baseline(&pts, 10.0, &cfg).unwrap();
        assert_eq!((b.b_deg, b.sessions), (70.0, 5));
        // Older than 28 days: no baseline.
        assert_eq!(baseline(&pts, 40.0, &cfg), None);
    }

    #[test]
    fn s5_jump_flags() {
        let cfg = HistoryConfig::default();
        let pts = [
            pt(1, 0.0, Side::Left, 64.0),
            pt(2, 1.0, Side::Left, 65.0),
            pt(3, 2.0, Side::Left, 66.0),
            pt(4, 3.0, Side::Left, 90.0),
        ];
        let f = fast_progression(&pts, &pts[3], &cfg);
        assert_eq!(f.status, FlagStatus::Flag);
        assert_eq!(f.jump_deg, Some(25.0));
    }

    #[test]
    fn medians_and_slopes() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0]), Some(1.5));
        assert_eq!(ols_slope(&[(0.0, 1.0), (1.0, 3.0)]), Some(2.0));
        assert_eq!(ols_slope(&[(1.0, 1.0), (1.0, 3.0)]), None);
    }
}
