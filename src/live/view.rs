//! The live terminal view (ratatui): sensors, angles, phase, hold timer, warnings, stop advice.
//!
//! [`draw`] is a pure function of [`LiveView`], so tests render it to ratatui's `TestBackend` and
//! read the buffer. The audible cue is the terminal bell, rung by the driver when
//! [`LiveView::bell`] is set (a new warning, a lost link).

use super::{LiveView, STOP_ADVICE, StageView};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Row, Table, Wrap};

fn deg(v: Option<f64>) -> String {
    v.map(|x| format!("{x:6.1}°"))
        .unwrap_or_else(|| "     —".into())
}

/// Draws the whole view into `frame`.
pub fn draw(frame: &mut Frame, v: &LiveView) {
    let n_sensors = v.sensors.len() as u16;
    let areas = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(n_sensors + 3),
        Constraint::Length(5),
        Constraint::Length(3),
        Constraint::Min(3),
        Constraint::Length(4),
    ])
    .split(frame.area());

    let title = Line::from(vec![
        Span::styled(
            "stretchwatch live",
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            " · {} stretch, {} leg · {} · {:.1} s · b block · s side · t stretch · c recalibrate · q quits",
            v.stretch.as_str(),
            v.side.as_str(),
            v.source,
            v.t_s
        )),
    ]);
    frame.render_widget(Paragraph::new(title), areas[0]);

    let rows = v.sensors.iter().map(|s| {
        let color = match s.state {
            super::LinkState::Streaming => Color::Green,
            super::LinkState::Connecting | super::LinkState::Connected => Color::Yellow,
            _ => Color::Red,
        };
        Row::new(vec![
            s.role.as_str().to_string(),
            s.family.as_str().to_string(),
            s.label.clone(),
            s.state.label().to_string(),
            format!("{:.0} Hz", s.rate_hz),
            s.stats.missing.to_string(),
            s.stats.reconnects.to_string(),
        ])
        .style(Style::default().fg(color))
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(18),
            Constraint::Length(13),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(10),
        ],
    )
    .header(
        Row::new(vec![
            "sensor",
            "family",
            "name",
            "link",
            "rate",
            "lost",
            "reconnects",
        ])
        .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(Block::default().borders(Borders::ALL).title(" Sensors "));
    frame.render_widget(table, areas[1]);

    let a = v.angles.unwrap_or_default();
    let stage = match &v.stage {
        StageView::Waiting => Line::from("Waiting for every sensor to stream…"),
        StageView::Calibrating {
            instruction,
            left_s,
        } => Line::from(vec![
            Span::styled(
                "Calibration: ",
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!("{instruction} ({left_s:.0} s)")),
        ]),
        StageView::Running => Line::from(format!(
            "Phase: {}    {}",
            v.phase.as_deref().unwrap_or("—"),
            v.block
                .as_deref()
                .unwrap_or("no block: rest in position (leg straight) to start one, or press b")
        )),
        StageView::CalibrationFailed(m) => Line::from(Span::styled(
            format!("Calibration failed: {m}"),
            Style::default().fg(Color::Red),
        )),
    };
    let angles = vec![
        stage,
        Line::from(format!(
            "Knee flexion {}    Hip flexion {}    Leg raise {}",
            deg(a.knee_flexion_deg),
            deg(a.hip_flexion_deg),
            deg(a.leg_raise_deg)
        )),
        if a.gap {
            Line::from("(sensor gap: angles held)")
        } else if let Some(c) = &v.accuracy {
            Line::styled(
                format!("Calibration: {c}"),
                Style::default().fg(Color::Yellow),
            )
        } else {
            Line::from("")
        },
    ];
    frame.render_widget(
        Paragraph::new(angles).block(Block::default().borders(Borders::ALL).title(" Angles ")),
        areas[2],
    );

    let hold = v.hold_s.unwrap_or(0.0);
    let ratio = (hold / v.hold_target_s).clamp(0.0, 1.0);
    let gauge = Gauge::default()
        .block(Block::default().borders(Borders::ALL).title(" Hold "))
        .gauge_style(Style::default().fg(if ratio >= 1.0 {
            Color::Green
        } else {
            Color::Cyan
        }))
        .ratio(ratio)
        .label(format!("{hold:.0} s of {:.0} s", v.hold_target_s));
    frame.render_widget(gauge, areas[3]);

    let mut lines: Vec<Line> = v
        .warnings
        .iter()
        .map(|w| {
            Line::from(Span::styled(
                format!("{}: {}", w.severity, w.text),
                Style::default()
                    .fg(if w.severity == "WARNING" {
                        Color::Red
                    } else {
                        Color::Yellow
                    })
                    .add_modifier(Modifier::BOLD),
            ))
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::from("No warnings"));
    }
    lines.extend(v.notes.iter().map(|n| Line::from(n.as_str())));
    lines.extend(v.summary.iter().map(|n| Line::from(n.as_str())));
    lines.extend(v.messages.iter().rev().map(|m| Line::from(m.as_str())));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Warnings and messages "),
            ),
        areas[4],
    );

    frame.render_widget(
        Paragraph::new(STOP_ADVICE)
            .wrap(Wrap { trim: true })
            .style(Style::default().fg(Color::DarkGray)),
        areas[5],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{ActiveWarning, LinkState, SensorView};
    use crate::model::{JointAngles, SensorRole, Side, StretchType};
    use crate::protocol::Family;
    use crate::source::StreamStats;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use std::collections::VecDeque;

    fn text(t: &Terminal<TestBackend>) -> String {
        let buf = t.backend().buffer();
        let w = buf.area.width as usize;
        buf.content
            .chunks(w)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn view() -> LiveView {
        LiveView {
            t_s: 41.25,
            stretch: StretchType::Supine,
            side: Side::Left,
            source: "simulated S2".into(),
            sensors: vec![
                SensorView {
                    role: SensorRole::Thigh,
                    family: Family::OpenSensor,
                    label: "OSP-thigh".into(),
                    state: LinkState::Streaming,
                    rate_hz: 100.0,
                    stats: StreamStats::default(),
                },
                SensorView {
                    role: SensorRole::Shank,
                    family: Family::WitMotion,
                    label: "WT901BLE01".into(),
                    state: LinkState::Reconnecting,
                    rate_hz: 0.0,
                    stats: StreamStats {
                        missing: 87,
                        reconnects: 1,
                        ..Default::default()
                    },
                },
            ],
            stage: StageView::Running,
            angles: Some(JointAngles {
                t_s: 41.2,
                knee_flexion_deg: Some(12.34),
                hip_flexion_deg: Some(70.06),
                leg_raise_deg: Some(69.9),
                ..Default::default()
            }),
            phase: Some("hold".into()),
            hold_s: Some(15.2),
            hold_target_s: 30.0,
            warnings: vec![ActiveWarning {
                key: "bouncing",
                text: "Hold still. Ease into the stretch, no bouncing.".into(),
                severity: "WARNING",
            }],
            messages: VecDeque::from(vec!["   30.2 s  shank: link lost, reconnecting".into()]),
            bell: true,
            block: Some("block 1: left side, supine".into()),
            notes: vec!["Range check off: no baseline yet".into()],
            accuracy: None,
            timeline: Vec::new(),
            summary: Vec::new(),
        }
    }

    #[test]
    fn renders_sensors_angles_phase_hold_warnings_and_stop_advice() {
        let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
        t.draw(|f| draw(f, &view())).unwrap();
        let s = text(&t);
        for needle in [
            "stretchwatch live · supine stretch, left leg · simulated S2 · 41.2 s",
            "thigh   open       OSP-thigh          streaming     100 Hz   0        0",
            "shank   witmotion  WT901BLE01         reconnecting  0 Hz     87       1",
            "Phase: hold",
            "Knee flexion   12.3°    Hip flexion   70.1°    Leg raise   69.9°",
            "15 s of 30 s",
            "WARNING: Hold still. Ease into the stretch, no bouncing.",
            "shank: link lost, reconnecting",
            "Stop now if you feel sharp or shooting pain",
        ] {
            assert!(s.contains(needle), "missing {needle:?} in\n{s}");
        }
        // The warning is drawn in red.
        let buf = t.backend().buffer();
        let y = s
            .lines()
            .position(|l| l.contains("WARNING: Hold still"))
            .unwrap();
        let x = s.lines().nth(y).unwrap().find("WARNING").unwrap();
        assert_eq!(buf[(x as u16, y as u16)].fg, Color::Red);
    }

    #[test]
    fn calibration_instructions_and_no_warning_state() {
        let mut v = view();
        v.stage = StageView::Calibrating {
            instruction: "Stand upright and still, knees straight",
            left_s: 3.4,
        };
        v.warnings.clear();
        v.angles = None;
        let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
        t.draw(|f| draw(f, &v)).unwrap();
        let s = text(&t);
        assert!(s.contains("Calibration: Stand upright and still, knees straight (3 s)"));
        assert!(s.contains("No warnings"));
        assert!(s.contains("Knee flexion      —"));
    }

    #[test]
    fn a_poor_calibration_stays_on_screen_beside_the_angles() {
        let mut v = view();
        v.accuracy = Some("angles may be off by up to 4°".into());
        let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
        t.draw(|f| draw(f, &v)).unwrap();
        let s = text(&t);
        let y = s
            .lines()
            .position(|l| l.contains("Calibration: angles may be off by up to 4°"))
            .unwrap_or_else(|| panic!("no accuracy line in\n{s}"));
        let x = s.lines().nth(y).unwrap().find("Calibration").unwrap();
        assert_eq!(t.backend().buffer()[(x as u16, y as u16)].fg, Color::Yellow);
    }
}
