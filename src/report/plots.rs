//! The review plots: progress over dates, one session's traces, and left against right.
//!
//! * [`progress_data`]: session value M per session (points), rolling 7-day median (line), a band of
//!   ±MDC (8°) around the first-two-weeks baseline, per side, with D4 (triangle above the point)
//!   and D8 (cross below the point) flags (form-spec 4.3).
//! * [`session_data`]: knee and hip traces with phase shading, hold spans (green bars with the
//!   rep's static hold) and warning markers (red triangles with their episode span).
//! * [`sides_data`]: paired left/right session values and their difference with the ±10° band and
//!   D8 flags.
//!
//! Every session point is drawn as exactly one circle (legend keys use squares), which the tests
//! use to check an SVG against the store.

use super::{FONT_FAMILY, Plot, ReportError, ReportResult};
use crate::model::{Side, StretchType};
use crate::store::history::{self, FlagStatus, HistoryConfig};
use crate::store::{SessionFilter, Store, format_date_utc};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Default minimal detectable change shown as the band half-width, degrees (form-spec `display.mdc_deg`).
pub const MDC_DEG: f64 = 8.0;
/// Window of the rolling median, days.
pub const ROLLING_DAYS: f64 = 7.0;
/// Window from the first session that defines the band's baseline, days.
pub const BASELINE_DAYS: f64 = 14.0;

const LEFT: RGBColor = RGBColor(31, 119, 180);
const RIGHT: RGBColor = RGBColor(214, 39, 40);
const D4_COLOR: RGBColor = RGBColor(255, 127, 14);
const D8_COLOR: RGBColor = RGBColor(148, 103, 189);

fn side_color(side: Side) -> RGBColor {
    match side {
        Side::Left => LEFT,
        Side::Right => RIGHT,
    }
}

fn e<E: std::fmt::Display>(err: E) -> String {
    err.to_string()
}

/// One session on the progress plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressPoint {
    /// Session id.
    pub id: i64,
    /// Start, days since the Unix epoch.
    pub t_days: f64,
    /// Session value M, degrees.
    pub value_deg: f64,
    /// D4 flagged at this session's end.
    pub d4_flag: bool,
    /// D8 flagged at this session's end.
    pub d8_flag: bool,
}

/// One side's sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressSeries {
    /// Side.
    pub side: Side,
    /// Sessions in time order.
    pub points: Vec<ProgressPoint>,
    /// Rolling 7-day median at each session time (days, degrees).
    pub rolling_median: Vec<(f64, f64)>,
    /// Median M over the first two weeks (centre of the ±MDC band).
    pub baseline_deg: Option<f64>,
}

/// Everything `plot progress` draws.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressPlot {
    /// Stretch type shown.
    pub stretch: StretchType,
    /// One series per side with sessions.
    pub series: Vec<ProgressSeries>,
    /// Band half-width, degrees.
    pub mdc_deg: f64,
}

/// Reads the progress plot's data: finished sessions with a session value of `stretch` (and `side`).
pub fn progress_data(
    store: &Store,
    stretch: StretchType,
    side: Option<Side>,
) -> ReportResult<ProgressPlot> {
    let rows = store.list_sessions(&SessionFilter {
        side,
        stretch: Some(stretch),
    })?;
    let mut series = Vec::new();
    for s in [Side::Left, Side::Right] {
        let points: Vec<ProgressPoint> = rows
            .iter()
            .filter(|r| r.side == s)
            .filter_map(|r| {
                let value_deg = r.summary?.session_value_deg?;
                Some(ProgressPoint {
                    id: r.id,
                    t_days: r.started_unix_s / 86_400.0,
                    value_deg,
                    d4_flag: r
                        .review
                        .is_some_and(|v| v.fast_progression.status == FlagStatus::Flag),
                    d8_flag: r
                        .review
                        .is_some_and(|v| v.asymmetry.status == FlagStatus::Flag),
                })
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        let rolling_median = rolling_median(&points);
        let t0 = points[0].t_days;
        let first: Vec<f64> = points
            .iter()
            .filter(|p| p.t_days - t0 < BASELINE_DAYS)
            .map(|p| p.value_deg)
            .collect();
        series.push(ProgressSeries {
            side: s,
            baseline_deg: history::median(&first),
            points,
            rolling_median,
        });
    }
    Ok(ProgressPlot {
        stretch,
        series,
        mdc_deg: MDC_DEG,
    })
}

/// Median of the values in `(t − 7 d, t]` at each point (points in time order).
fn rolling_median(points: &[ProgressPoint]) -> Vec<(f64, f64)> {
    let mut start = 0;
    let mut window = Vec::new();
    points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            while points[start].t_days <= p.t_days - ROLLING_DAYS {
                start += 1;
            }
            window.clear();
            window.extend(points[start..=i].iter().map(|q| q.value_deg));
            history::median(&window).map(|m| (p.t_days, m))
        })
        .collect()
}

/// A date label for ticks on whole days; nothing between days (so no date repeats).
fn day_label(days: &f64) -> String {
    if (days - days.round()).abs() < 1e-6 {
        format_date_utc(days.round() * 86_400.0)
    } else {
        String::new()
    }
}

/// From the day before the first point to the day after the last, in whole days.
fn day_range(lo: f64, hi: f64) -> std::ops::Range<f64> {
    if !(lo.is_finite() && hi.is_finite()) {
        return 0.0..1.0;
    }
    (lo.floor() - 1.0)..(hi.ceil() + 1.0)
}

/// How many tick labels a whole-day range asks for: one per day up to 8.
fn day_labels(r: &std::ops::Range<f64>) -> usize {
    ((r.end - r.start).round() as usize + 1).clamp(2, 8)
}

fn padded_range(lo: f64, hi: f64, pad: f64) -> std::ops::Range<f64> {
    if lo.is_finite() && hi.is_finite() && hi > lo {
        (lo - pad)..(hi + pad)
    } else if lo.is_finite() {
        (lo - pad.max(1.0))..(lo + pad.max(1.0))
    } else {
        0.0..1.0
    }
}

impl Plot for ProgressPlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(e)?;
        let all = || self.series.iter().flat_map(|s| s.points.iter());
        let (t_lo, t_hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.t_days), b.max(p.t_days))
        });
        let (mut v_lo, mut v_hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.value_deg), b.max(p.value_deg))
        });
        for b in self.series.iter().filter_map(|s| s.baseline_deg) {
            v_lo = v_lo.min(b - self.mdc_deg);
            v_hi = v_hi.max(b + self.mdc_deg);
        }
        // Whole days, so the date ticks fall on distinct days (no repeated dates).
        let x_range = day_range(t_lo, t_hi);
        let n_labels = day_labels(&x_range);
        let y_range = padded_range(v_lo, v_hi, 6.0);
        let y_bottom = y_range.start;
        let (x0, x1) = (x_range.start, x_range.end);
        let (main, foot) = root.split_vertically(root.dim_in_pixel().1.saturating_sub(28));
        let mut chart = ChartBuilder::on(&main)
            .caption(
                format!(
                    "Stretch angle per session, {} stretch (wearable estimate)",
                    self.stretch.as_str()
                ),
                (FONT_FAMILY, 22),
            )
            .margin(12)
            .margin_right(48)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x_range, y_range)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_labels(n_labels)
            .x_label_formatter(&day_label)
            .y_desc("stretch angle (°)")
            .label_style((FONT_FAMILY, 14))
            .axis_desc_style((FONT_FAMILY, 16))
            .draw()
            .map_err(e)?;
        for s in &self.series {
            let c = side_color(s.side);
            let name = s.side.as_str();
            if let Some(b) = s.baseline_deg {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, b - self.mdc_deg), (x1, b + self.mdc_deg)],
                        c.mix(0.10).filled(),
                    )))
                    .map_err(e)?
                    .label(format!(
                        "{name}: ±{:.0}° around first-two-weeks median",
                        self.mdc_deg
                    ))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.mix(0.2).filled())
                    });
            }
            chart
                .draw_series(LineSeries::new(
                    s.rolling_median.iter().copied(),
                    c.stroke_width(2),
                ))
                .map_err(e)?
                .label(format!("{name}: rolling {ROLLING_DAYS:.0}-day median"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2))
                });
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|p| Circle::new((p.t_days, p.value_deg), 4, c.filled())),
                )
                .map_err(e)?
                .label(format!("{name}: stretch angle"))
                .legend(move |(x, y)| {
                    Rectangle::new([(x + 3, y - 4), (x + 11, y + 4)], c.filled())
                });
        }
        let d4: Vec<&ProgressPoint> = all().filter(|p| p.d4_flag).collect();
        if !d4.is_empty() {
            chart
                .draw_series(d4.iter().map(|p| {
                    TriangleMarker::new((p.t_days, p.value_deg + 3.0), 7, D4_COLOR.filled())
                }))
                .map_err(e)?
                .label("faster progress than typical")
                .legend(|(x, y)| TriangleMarker::new((x + 7, y), 6, D4_COLOR.filled()));
        }
        let d8: Vec<&ProgressPoint> = all().filter(|p| p.d8_flag).collect();
        if !d8.is_empty() {
            chart
                .draw_series(
                    d8.iter().map(|p| {
                        Cross::new((p.t_days, y_bottom + 1.5), 5, D8_COLOR.stroke_width(2))
                    }),
                )
                .map_err(e)?
                .label(
                    "along the bottom: left and right differ by more than 10° in 3 of 5 sessions",
                )
                .legend(|(x, y)| Cross::new((x + 7, y), 5, D8_COLOR.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT_FAMILY, 13))
            .draw()
            .map_err(e)?;
        foot.draw_text(
            &format!(
                "Changes inside the band may be measurement noise (about {:.0}°). Not a clinical test score.",
                self.mdc_deg
            ),
            &(FONT_FAMILY, 14).into_text_style(&foot),
            (70, 4),
        )
        .map_err(e)?;
        Ok(())
    }
}

/// A phase span from the `phase` events.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpan {
    /// Backdated onset, recording seconds.
    pub start_s: f64,
    /// Next phase's onset (or the last frame).
    pub end_s: f64,
    /// `rest`, `moving_in`, `hold`, `release`, or `moving` (a release straight after moving in:
    /// movement without a hold).
    pub phase: String,
}

/// A warning episode or an INFO event.
#[derive(Debug, Clone, PartialEq)]
pub struct WarningMark {
    /// Time of the `on` object (or of the event), recording seconds.
    pub t_s: f64,
    /// Time of the matching `off`, if any.
    pub end_s: Option<f64>,
    /// Event name.
    pub event: String,
}

/// A rep's label, placed at its report time.
#[derive(Debug, Clone, PartialEq)]
pub struct RepMark {
    /// Rep number.
    pub rep: u32,
    /// Report time, recording seconds.
    pub t_s: f64,
    /// Static hold, seconds.
    pub static_hold_s: Option<f64>,
}

/// Everything `plot session ID` draws.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPlot {
    /// Title line.
    pub title: String,
    /// Knee flexion trace (seconds, degrees), min/max-decimated for drawing.
    pub knee: Vec<(f64, f64)>,
    /// Hip flexion trace (or the leg-raise angle where no hip angle exists).
    pub hip: Vec<(f64, f64)>,
    /// Legend name of the hip trace.
    pub hip_label: String,
    /// Phase spans.
    pub phases: Vec<PhaseSpan>,
    /// Warning episodes and INFO events.
    pub warnings: Vec<WarningMark>,
    /// Rep labels.
    pub reps: Vec<RepMark>,
    /// End of the calibration poses (the first block's start, or the first phase), seconds.
    pub calibration_end_s: Option<f64>,
    /// Exercise blocks of the session (a routine has several).
    pub blocks: Vec<crate::store::BlockRecord>,
}

/// Detector events drawn as warnings (episode `on`/`off`).
const EPISODE_EVENTS: [&str; 6] = [
    "bouncing",
    "knee_locked",
    "excessive_range",
    "jerky_entry",
    "pelvic_compensation",
    "knee_bend_excess",
];
/// INFO events drawn as markers.
const INFO_EVENTS: [&str; 4] = [
    "short_hold",
    "dose_short",
    "data_quality",
    "hip_unavailable",
];

/// Maximum points per drawn trace.
pub const MAX_TRACE_POINTS: usize = 4000;

/// Reads one session's plot data.
pub fn session_data(store: &Store, id: i64) -> ReportResult<SessionPlot> {
    let row = store.session(id)?;
    let angles = store.angles(id)?;
    if angles.is_empty() {
        return Err(ReportError::Empty(format!(
            "session {id} has no stored angles to plot"
        )));
    }
    let t_end = angles.last().map_or(0.0, |a| a.t_s);
    let knee: Vec<(f64, f64)> = angles
        .iter()
        .filter_map(|a| a.knee_flexion_deg.map(|v| (a.t_s, v)))
        .collect();
    // Without a pelvis sensor the stored hip column is at most the leg-raise proxy (supine), which
    // form-spec 1.2 says must not be called hip flexion: plot and label the leg raise instead.
    let has_pelvis = store
        .sensors(id)?
        .iter()
        .any(|s| s.role == crate::model::SensorRole::Pelvis);
    let has_hip = has_pelvis && angles.iter().any(|a| a.hip_flexion_deg.is_some());
    let hip: Vec<(f64, f64)> = angles
        .iter()
        .filter_map(|a| {
            if has_hip {
                a.hip_flexion_deg
            } else {
                a.leg_raise_deg
            }
            .map(|v| (a.t_s, v))
        })
        .collect();
    let events = store.events(id)?;
    let mut phases: Vec<PhaseSpan> = Vec::new();
    let mut warnings: Vec<WarningMark> = Vec::new();
    let mut reps = Vec::new();
    for ev in &events {
        let v: serde_json::Value = serde_json::from_str(&ev.json).unwrap_or_default();
        let str_of = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let num_of = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
        match ev.event.as_str() {
            "phase" => {
                let start_s = num_of("onset_s").unwrap_or(ev.t_s);
                if let Some(last) = phases.last_mut() {
                    last.end_s = start_s;
                }
                let mut phase = str_of("phase").unwrap_or_default();
                // A release with no hold since the last rest is movement that never settled,
                // e.g. slow repeated raises: shading it as one long "release" misleads.
                let held = phases
                    .iter()
                    .rev()
                    .take_while(|p| p.phase != "rest")
                    .any(|p| p.phase == "hold");
                if phase == "release" && !held {
                    phase = "moving".into();
                }
                phases.push(PhaseSpan {
                    start_s,
                    end_s: t_end,
                    phase,
                });
            }
            "rep" => reps.push(RepMark {
                rep: num_of("rep").map_or(reps.len() as u32 + 1, |r| r as u32),
                t_s: ev.t_s,
                static_hold_s: num_of("static_hold_s"),
            }),
            name if EPISODE_EVENTS.contains(&name) => match str_of("state").as_deref() {
                Some("off") => {
                    if let Some(w) = warnings
                        .iter_mut()
                        .rev()
                        .find(|w| w.event == name && w.end_s.is_none())
                    {
                        w.end_s = Some(ev.t_s);
                    }
                }
                _ => warnings.push(WarningMark {
                    t_s: ev.t_s,
                    end_s: None,
                    event: name.to_string(),
                }),
            },
            name if INFO_EVENTS.contains(&name) => warnings.push(WarningMark {
                t_s: ev.t_s,
                end_s: Some(ev.t_s),
                event: name.to_string(),
            }),
            _ => {}
        }
    }
    // A low-quality or nominal calibration is stated on the plot itself.
    let caveat = store
        .calibration(id)?
        .and_then(|p| crate::calibration::accuracy_caveat_short(&p))
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let blocks = store.blocks(id)?;
    Ok(SessionPlot {
        title: if blocks.len() > 1 {
            format!(
                "Session {id}: {} blocks, {}{caveat}",
                blocks.len(),
                crate::store::format_utc(row.started_unix_s)
            )
        } else {
            format!(
                "Session {id}: {} {} stretch, {}{caveat}",
                row.side.as_str(),
                row.stretch.as_str(),
                crate::store::format_utc(row.started_unix_s)
            )
        },
        blocks,
        knee: decimate(&knee, MAX_TRACE_POINTS),
        hip: decimate(&hip, MAX_TRACE_POINTS),
        hip_label: if has_hip {
            "hip flexion".into()
        } else {
            "leg raise".into()
        },
        calibration_end_s: events
            .iter()
            .find(|e| e.event == "block" || e.event == "phase")
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(&e.json)
                    .ok()
                    .and_then(|v| v.get("onset_s").and_then(serde_json::Value::as_f64))
                    .unwrap_or(e.t_s)
            }),
        phases,
        warnings,
        reps,
    })
}

/// Min/max decimation: at most `max_points` points, keeping each bucket's extremes in time order.
pub fn decimate(xy: &[(f64, f64)], max_points: usize) -> Vec<(f64, f64)> {
    if xy.len() <= max_points || max_points < 2 {
        return xy.to_vec();
    }
    let buckets = max_points / 2;
    let per = xy.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(max_points);
    for b in xy.chunks(per) {
        let (imin, imax) = b.iter().enumerate().fold((0, 0), |(lo, hi), (i, p)| {
            (
                if p.1 < b[lo].1 { i } else { lo },
                if p.1 > b[hi].1 { i } else { hi },
            )
        });
        let (a, c) = if imin <= imax {
            (imin, imax)
        } else {
            (imax, imin)
        };
        out.push(b[a]);
        if c != a {
            out.push(b[c]);
        }
    }
    out
}

fn phase_color(phase: &str) -> Option<RGBAColor> {
    match phase {
        "moving_in" => Some(RGBColor(255, 221, 87).mix(0.35)),
        "hold" => Some(RGBColor(44, 160, 44).mix(0.18)),
        "release" => Some(RGBColor(100, 149, 237).mix(0.25)),
        "moving" => Some(RGBColor(214, 180, 90).mix(0.25)),
        _ => None,
    }
}

impl Plot for SessionPlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(e)?;
        let pts = || self.knee.iter().chain(&self.hip);
        let (t_lo, t_hi) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
        // The calibration poses (standing, knee swings; the thigh hangs at −90° from horizontal
        // when standing) are not part of the stretch: they are shaded and labelled, and left out
        // of the angle range so the stretch keeps the height of the plot.
        let calib_end = self.calibration_end_s.filter(|&c| c > t_lo);
        let in_exercise = |p: &&(f64, f64)| calib_end.is_none_or(|c| p.0 >= c);
        let (v_lo, v_hi) = pts()
            .filter(in_exercise)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.1), b.max(p.1))
            });
        let y_range = padded_range(v_lo.min(0.0), v_hi, 8.0);
        let (y0, y1) = (y_range.start, y_range.end);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT_FAMILY, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(padded_range(t_lo, t_hi, 0.5), y_range)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("recording time (s)")
            .y_desc("angle (°)")
            .label_style((FONT_FAMILY, 14))
            .axis_desc_style((FONT_FAMILY, 16))
            .draw()
            .map_err(e)?;
        if let Some(c) = calib_end {
            let grey = BLACK.mix(0.08);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(t_lo, y0), (c, y1)],
                    grey.filled(),
                )))
                .map_err(e)?
                .label("calibration (standing, knee swings; off the scale)")
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], grey.filled()));
            chart
                .draw_series(std::iter::once(Text::new(
                    "calibration",
                    (t_lo + (c - t_lo) * 0.05, y0 + (y1 - y0) * 0.12),
                    (FONT_FAMILY, 13).into_font().color(&BLACK),
                )))
                .map_err(e)?;
        }
        for name in ["moving_in", "hold", "release", "moving"] {
            let Some(c) = phase_color(name) else { continue };
            let label = match name {
                "moving" => "moving, no hold".to_string(),
                n => n.replace('_', " "),
            };
            let spans: Vec<&PhaseSpan> = self.phases.iter().filter(|p| p.phase == name).collect();
            if spans.is_empty() {
                continue;
            }
            chart
                .draw_series(
                    spans
                        .iter()
                        .map(|p| Rectangle::new([(p.start_s, y0), (p.end_s, y1)], c.filled())),
                )
                .map_err(e)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        }
        // Blocks of a routine: a line at each start, labelled with its side and stretch.
        if self.blocks.len() > 1 {
            let edge = RGBColor(90, 90, 90);
            chart
                .draw_series(self.blocks.iter().map(|b| {
                    PathElement::new(
                        vec![(b.t_start_s, y0), (b.t_start_s, y1)],
                        edge.stroke_width(1),
                    )
                }))
                .map_err(e)?;
            let style = (FONT_FAMILY, 13).into_font().color(&edge);
            for b in &self.blocks {
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!(
                            "block {}: {} {}",
                            b.block,
                            b.side.as_str(),
                            b.stretch.as_str()
                        ),
                        (b.t_start_s, y1 - (y1 - y0) * 0.11),
                        style.clone(),
                    )))
                    .map_err(e)?;
            }
        }
        // Hold spans: a bar along the top with the rep's static hold at the end of its last hold.
        let bar = (y1 - (y1 - y0) * 0.04, y1 - (y1 - y0) * 0.015);
        chart
            .draw_series(self.phases.iter().filter(|p| p.phase == "hold").map(|p| {
                Rectangle::new(
                    [(p.start_s, bar.0), (p.end_s, bar.1)],
                    RGBColor(44, 160, 44).filled(),
                )
            }))
            .map_err(e)?;
        let label_style = (FONT_FAMILY, 13).into_font().color(&BLACK);
        let mut prev_t = f64::NEG_INFINITY;
        for (i, r) in self.reps.iter().enumerate() {
            let text = match r.static_hold_s {
                Some(s) => format!("rep {}: {s:.1} s", r.rep),
                None => format!("rep {}", r.rep),
            };
            // Each label sits over its own rep's first hold (the holds after the previous rep),
            // and neighbours alternate between two rows so long labels never overlap.
            let x = self
                .phases
                .iter()
                .filter(|p| p.phase == "hold" && p.start_s > prev_t && p.start_s <= r.t_s)
                .map(|p| p.start_s)
                .fold(r.t_s, f64::min);
            prev_t = r.t_s;
            let row = if i % 2 == 0 { 0.06 } else { 0.10 };
            chart
                .draw_series(std::iter::once(Text::new(
                    text,
                    (x, y1 - (y1 - y0) * row),
                    label_style.clone(),
                )))
                .map_err(e)?;
        }
        let clip = |v: &[(f64, f64)]| -> Vec<(f64, f64)> {
            v.iter().map(|&(t, a)| (t, a.clamp(y0, y1))).collect()
        };
        chart
            .draw_series(LineSeries::new(clip(&self.knee), LEFT.stroke_width(2)))
            .map_err(e)?
            .label("knee flexion")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], LEFT.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(clip(&self.hip), RIGHT.stroke_width(2)))
            .map_err(e)?
            .label(self.hip_label.clone())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], RIGHT.stroke_width(2)));
        if !self.warnings.is_empty() {
            let warn = RGBColor(200, 0, 0);
            let y_mark = y0 + (y1 - y0) * 0.05;
            chart
                .draw_series(self.warnings.iter().map(|w| {
                    let end = w.end_s.unwrap_or(t_hi).max(w.t_s);
                    Rectangle::new(
                        [
                            (w.t_s, y_mark - (y1 - y0) * 0.008),
                            (end, y_mark + (y1 - y0) * 0.008),
                        ],
                        warn.mix(0.6).filled(),
                    )
                }))
                .map_err(e)?;
            chart
                .draw_series(
                    self.warnings
                        .iter()
                        .map(|w| TriangleMarker::new((w.t_s, y_mark), 7, warn.filled())),
                )
                .map_err(e)?
                .label("warning (episode span)")
                .legend(move |(x, y)| TriangleMarker::new((x + 7, y), 6, warn.filled()));
            for w in &self.warnings {
                // Labels near the right edge end at their marker instead of starting there.
                let h = if w.t_s > t_lo + 0.85 * (t_hi - t_lo) {
                    HPos::Right
                } else {
                    HPos::Left
                };
                let style = (FONT_FAMILY, 13)
                    .into_font()
                    .color(&warn)
                    .pos(Pos::new(h, VPos::Bottom));
                chart
                    .draw_series(std::iter::once(Text::new(
                        w.event.replace('_', " "),
                        (w.t_s, y_mark + (y1 - y0) * 0.02),
                        style,
                    )))
                    .map_err(e)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::MiddleRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT_FAMILY, 13))
            .draw()
            .map_err(e)?;
        Ok(())
    }
}

/// One left/right pair on the sides plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SidesPair {
    /// Pair time (later session), days since the Unix epoch.
    pub t_days: f64,
    /// Left session value, degrees.
    pub left_deg: f64,
    /// Right session value, degrees.
    pub right_deg: f64,
    /// D8 flagged at the later session's end.
    pub d8_flag: bool,
}

/// Everything `plot sides` draws.
#[derive(Debug, Clone, PartialEq)]
pub struct SidesPlot {
    /// Stretch type shown.
    pub stretch: StretchType,
    /// Pairs in time order.
    pub pairs: Vec<SidesPair>,
    /// The D8 reference band half-width, degrees.
    pub diff_limit_deg: f64,
}

/// Reads the sides plot's data: left/right pairs of `stretch` as D8 pairs them.
pub fn sides_data(store: &Store, stretch: StretchType) -> ReportResult<SidesPlot> {
    let cfg: HistoryConfig = *store.history_config();
    let points = store.session_points(stretch)?;
    let rows = store.list_sessions(&SessionFilter {
        side: None,
        stretch: Some(stretch),
    })?;
    let flagged = |id: i64| {
        rows.iter().any(|r| {
            r.id == id
                && r.review
                    .is_some_and(|v| v.asymmetry.status == FlagStatus::Flag)
        })
    };
    let pairs = history::pairs(&points, &cfg)
        .into_iter()
        .map(|p| SidesPair {
            t_days: p.t_days,
            left_deg: p.left_deg,
            right_deg: p.right_deg,
            d8_flag: flagged(p.left_id) || flagged(p.right_id),
        })
        .collect();
    Ok(SidesPlot {
        stretch,
        pairs,
        diff_limit_deg: cfg.as_diff_deg,
    })
}

impl Plot for SidesPlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(e)?;
        let h = root.dim_in_pixel().1;
        let (top, bottom) = root.split_vertically(h * 3 / 5);
        let (t_lo, t_hi) = self
            .pairs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.t_days), b.max(p.t_days))
            });
        // Whole days, so the date ticks fall on distinct days (no repeated dates).
        let x_range = day_range(t_lo, t_hi);
        let n_labels = day_labels(&x_range);
        let (v_lo, v_hi) =
            self.pairs
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                    (
                        a.min(p.left_deg.min(p.right_deg)),
                        b.max(p.left_deg.max(p.right_deg)),
                    )
                });
        let mut chart = ChartBuilder::on(&top)
            .caption(
                format!("Left against right, {} stretch", self.stretch.as_str()),
                (FONT_FAMILY, 22),
            )
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .margin_right(48)
            .build_cartesian_2d(x_range.clone(), padded_range(v_lo, v_hi, 5.0))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_labels(n_labels)
            .x_label_formatter(&day_label)
            .y_desc("stretch angle (°)")
            .label_style((FONT_FAMILY, 14))
            .axis_desc_style((FONT_FAMILY, 16))
            .draw()
            .map_err(e)?;
        for (side, get) in [
            (
                Side::Left,
                (|p: &SidesPair| p.left_deg) as fn(&SidesPair) -> f64,
            ),
            (Side::Right, |p: &SidesPair| p.right_deg),
        ] {
            let c = side_color(side);
            chart
                .draw_series(LineSeries::new(
                    self.pairs.iter().map(|p| (p.t_days, get(p))),
                    c.stroke_width(1),
                ))
                .map_err(e)?;
            chart
                .draw_series(
                    self.pairs
                        .iter()
                        .map(|p| Circle::new((p.t_days, get(p)), 4, c.filled())),
                )
                .map_err(e)?
                .label(side.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x + 3, y - 4), (x + 11, y + 4)], c.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT_FAMILY, 13))
            .draw()
            .map_err(e)?;
        let (d_lo, d_hi) =
            self.pairs
                .iter()
                .fold((-self.diff_limit_deg, self.diff_limit_deg), |(a, b), p| {
                    let d = p.left_deg - p.right_deg;
                    (a.min(d), b.max(d))
                });
        let (x0, x1) = (x_range.start, x_range.end);
        let mut diff = ChartBuilder::on(&bottom)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .margin_right(48)
            .build_cartesian_2d(x_range, padded_range(d_lo, d_hi, 3.0))
            .map_err(e)?;
        diff.configure_mesh()
            .x_labels(n_labels)
            .x_label_formatter(&day_label)
            .y_desc("left − right (°)")
            .label_style((FONT_FAMILY, 14))
            .axis_desc_style((FONT_FAMILY, 16))
            .draw()
            .map_err(e)?;
        diff.draw_series(std::iter::once(Rectangle::new(
            [(x0, -self.diff_limit_deg), (x1, self.diff_limit_deg)],
            BLACK.mix(0.07).filled(),
        )))
        .map_err(e)?
        .label(format!(
            "±{:.0}° (left/right reference)",
            self.diff_limit_deg
        ))
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], BLACK.mix(0.15).filled()));
        diff.draw_series(LineSeries::new(
            self.pairs
                .iter()
                .map(|p| (p.t_days, p.left_deg - p.right_deg)),
            BLACK.stroke_width(2),
        ))
        .map_err(e)?
        .label("left − right")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK.stroke_width(2)));
        // A single pair is a point, not a line: every pair gets a marker.
        diff.draw_series(
            self.pairs
                .iter()
                .map(|p| Circle::new((p.t_days, p.left_deg - p.right_deg), 4, BLACK.filled())),
        )
        .map_err(e)?;
        let flagged: Vec<&SidesPair> = self.pairs.iter().filter(|p| p.d8_flag).collect();
        if !flagged.is_empty() {
            diff.draw_series(flagged.iter().map(|p| {
                Cross::new(
                    (p.t_days, p.left_deg - p.right_deg),
                    6,
                    D8_COLOR.stroke_width(3),
                )
            }))
            .map_err(e)?
            .label("left/right difference flag")
            .legend(|(x, y)| Cross::new((x + 7, y), 5, D8_COLOR.stroke_width(3)));
        }
        diff.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT_FAMILY, 13))
            .draw()
            .map_err(e)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_ticks_fall_on_distinct_whole_days() {
        // Three sessions over two days: the axis spans whole days and labels each day once.
        let r = day_range(20_423.3, 20_425.8);
        assert_eq!((r.start, r.end), (20_422.0, 20_427.0));
        assert_eq!(day_labels(&r), 6);
        let labels: Vec<String> = [20_422.0, 20_422.5, 20_423.0, 20_423.5]
            .iter()
            .map(day_label)
            .collect();
        assert_eq!(labels[1], "");
        assert_eq!(labels[3], "");
        assert_ne!(labels[0], labels[2]);
    }

    #[test]
    fn decimation_keeps_extremes() {
        let xy: Vec<(f64, f64)> = (0..100_000)
            .map(|i| {
                (
                    i as f64,
                    if i == 31_337 {
                        99.0
                    } else {
                        (i as f64 * 0.001).sin()
                    },
                )
            })
            .collect();
        let d = decimate(&xy, 1000);
        assert!(d.len() <= 1000);
        assert!(d.iter().any(|p| p.1 == 99.0));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
