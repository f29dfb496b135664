//! The typed plan of a session: calibration windows and exercise blocks, in the order a recording
//! or a live session decided them.
//!
//! Recordings carry the plan as `key: value` entries (DESIGN 3.1: `calibration.static`,
//! `calibration.functional`, `pelvis_calibration.functional`, `marker: T block.start side=… stretch=…`,
//! `marker: T block.end`), in their header, between their rows, or as raw-log `marker` records.
//! [`PlanBuilder`] turns those entries into [`PlanItem`]s at the record edge, so the session core
//! only ever sees typed items.

use crate::model::{Side, StretchType, TimeWindow};
use crate::record::RecordingHeader;

pub use crate::calibration::CalibrationWindows;

/// One decision of the session plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlanItem {
    /// Calibrate on these windows; the result applies from their end on.
    Calibration(CalibrationWindows),
    /// An exercise block starts at `t_s`.
    BlockStart {
        /// Start, recording seconds.
        t_s: f64,
        /// Stretched side (`None`: the session's default).
        side: Option<Side>,
        /// Stretch type (`None`: the session's default).
        stretch: Option<StretchType>,
    },
    /// The open exercise block ends at `t_s`.
    BlockEnd {
        /// End, recording seconds.
        t_s: f64,
    },
    /// Any other marker (gaps, reconnects, notes): recorded, not acted on.
    Note {
        /// Marker time, seconds.
        t_s: f64,
    },
}

impl PlanItem {
    /// The `key: value` entries that record this item (DESIGN 3.1): one marker for a block edge,
    /// the two or three window keys for a calibration pair, none for a note.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let w = |w: TimeWindow| format!("{} {}", w.start_s, w.end_s);
        match *self {
            PlanItem::Calibration(c) => {
                let mut v = vec![
                    ("calibration.static", w(c.static_w)),
                    ("calibration.functional", w(c.functional_w)),
                ];
                if let Some(p) = c.pelvis_w {
                    v.push(("pelvis_calibration.functional", w(p)));
                }
                v
            }
            PlanItem::BlockStart { t_s, side, stretch } => {
                let mut label = format!("{t_s} block.start");
                if let Some(s) = side {
                    label.push_str(&format!(" side={}", s.as_str()));
                }
                if let Some(s) = stretch {
                    label.push_str(&format!(" stretch={}", s.as_str()));
                }
                vec![("marker", label)]
            }
            PlanItem::BlockEnd { t_s } => vec![("marker", format!("{t_s} block.end"))],
            PlanItem::Note { .. } => Vec::new(),
        }
    }
}

/// Turns `key: value` entries into [`PlanItem`]s. Calibration keys are gathered into one pair
/// until another kind of entry, a new `calibration.static`, or [`flush`](Self::flush) (called
/// before each sample) closes it.
#[derive(Debug, Default)]
pub struct PlanBuilder {
    static_w: Option<TimeWindow>,
    functional_w: Option<TimeWindow>,
    pelvis_w: Option<TimeWindow>,
}

impl PlanBuilder {
    /// A builder with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one entry; calls `out` for every item it completes. Returns a message naming what
    /// was expected when the value is malformed.
    pub fn entry(
        &mut self,
        key: &str,
        value: &str,
        out: &mut impl FnMut(PlanItem),
    ) -> Result<(), String> {
        let mut probe = RecordingHeader::default();
        match key {
            "calibration.static" => {
                self.flush(out);
                probe.apply(key, value)?;
                self.static_w = probe.calibration_static;
            }
            "calibration.functional" => {
                probe.apply(key, value)?;
                self.functional_w = probe.calibration_functional;
            }
            "pelvis_calibration.functional" => {
                probe.apply(key, value)?;
                self.pelvis_w = probe.pelvis_calibration_functional;
            }
            "marker" => {
                self.flush(out);
                probe.apply(key, value)?;
                let m = &probe.markers[0];
                out(parse_marker(m.t_s, &m.label)?);
            }
            _ => {}
        }
        Ok(())
    }

    /// Closes a pending calibration pair (both the static and the functional window are needed;
    /// an incomplete pair is dropped, as the calibrator would reject it).
    pub fn flush(&mut self, out: &mut impl FnMut(PlanItem)) {
        if let (Some(static_w), Some(functional_w)) = (self.static_w, self.functional_w) {
            out(PlanItem::Calibration(CalibrationWindows {
                static_w,
                functional_w,
                pelvis_w: self.pelvis_w,
            }));
        }
        *self = PlanBuilder::default();
    }
}

/// `block.start side=right stretch=seated`, `block.end`, or any other label.
fn parse_marker(t_s: f64, label: &str) -> Result<PlanItem, String> {
    let mut words = label.split_whitespace();
    match words.next() {
        Some("block.start") => {
            let (mut side, mut stretch) = (None, None);
            for w in words {
                match w.split_once('=') {
                    Some(("side", v)) => side = Some(v.parse()?),
                    Some(("stretch", v)) => stretch = Some(v.parse()?),
                    _ => {}
                }
            }
            Ok(PlanItem::BlockStart { t_s, side, stretch })
        }
        Some("block.end") => Ok(PlanItem::BlockEnd { t_s }),
        _ => Ok(PlanItem::Note { t_s }),
    }
}

/// The plan entries of a header in order: its recorded entries, or for a header built in memory
/// (the simulator's), its calibration fields and markers.
pub fn header_entries(h: &RecordingHeader) -> Vec<(String, String)> {
    if !h.plan_entries.is_empty() {
        return h.plan_entries.clone();
    }
    let mut v = Vec::new();
    let w = |w: TimeWindow| format!("{} {}", w.start_s, w.end_s);
    if let Some(s) = h.calibration_static {
        v.push(("calibration.static".to_string(), w(s)));
    }
    if let Some(f) = h.calibration_functional {
        v.push(("calibration.functional".to_string(), w(f)));
    }
    if let Some(p) = h.pelvis_calibration_functional {
        v.push(("pelvis_calibration.functional".to_string(), w(p)));
    }
    for m in &h.markers {
        v.push(("marker".to_string(), format!("{} {}", m.t_s, m.label)));
    }
    v
}

/// Whether a header marks its blocks (`block.start` markers, or the `blocks: marked` key a live
/// recording writes before its first block is known). Without, the block is everything after
/// each calibration pair (DESIGN 3.1).
pub fn blocks_marked(h: &RecordingHeader) -> bool {
    h.markers.iter().any(|m| m.label.starts_with("block.start"))
        || h.extra.iter().any(|(k, v)| k == "blocks" && v == "marked")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_pairs_and_blocks_in_order() {
        let mut b = PlanBuilder::new();
        let mut items = Vec::new();
        let mut out = |i| items.push(i);
        for (k, v) in [
            ("calibration.static", "0 5"),
            ("calibration.functional", "6 18"),
            ("marker", "40 block.start"),
            ("marker", "100 block.end"),
            ("calibration.static", "110 115"),
            ("calibration.functional", "116 128"),
            ("marker", "212 block.start side=right stretch=seated"),
        ] {
            b.entry(k, v, &mut out).unwrap();
        }
        b.flush(&mut out);
        assert_eq!(items.len(), 5);
        assert!(matches!(items[0], PlanItem::Calibration(c) if c.end_s() == 18.0));
        assert_eq!(
            items[1],
            PlanItem::BlockStart {
                t_s: 40.0,
                side: None,
                stretch: None
            }
        );
        assert_eq!(items[2], PlanItem::BlockEnd { t_s: 100.0 });
        assert!(matches!(items[3], PlanItem::Calibration(c) if c.start_s() == 110.0));
        assert_eq!(
            items[4],
            PlanItem::BlockStart {
                t_s: 212.0,
                side: Some(Side::Right),
                stretch: Some(StretchType::Seated)
            }
        );
        let mut b = PlanBuilder::new();
        assert!(
            b.entry("marker", "3 block.start side=middle", &mut |_| {})
                .is_err()
        );
    }

    #[test]
    fn items_round_trip_through_entries() {
        let items = [
            PlanItem::BlockStart {
                t_s: 212.5,
                side: Some(Side::Right),
                stretch: Some(StretchType::Seated),
            },
            PlanItem::BlockEnd { t_s: 300.25 },
        ];
        let mut b = PlanBuilder::new();
        let mut back = Vec::new();
        for i in items {
            for (k, v) in i.entries() {
                b.entry(k, &v, &mut |x| back.push(x)).unwrap();
            }
        }
        assert_eq!(back, items);
    }
}
