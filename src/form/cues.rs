//! Cue arbitration (form-spec 3 conventions): at most one audio cue every `min_audio_gap_s`, by
//! priority D2-hyperextended > D6 > D1 > D3 > D2-locked > others; a new episode of a type within
//! `same_type_visual_only_s` of that type's last OFF is visual-only. Visual state always shows
//! every active episode. Re-announcing persisting episodes after `reannounce_s` is a live-view
//! concern and not part of the event stream.

use super::config::Cues;
use super::event::{Cue, Event, State};

/// Cue types tracked for the same-type rule.
const N_TYPES: usize = 6;

/// Priority (0 highest) and type index of a live ON event, or None for events without a cue.
fn rank(e: &Event) -> Option<(u8, usize)> {
    match e {
        Event::KneeLocked {
            kind,
            state: State::On,
            ..
        } if *kind == "hyperextended" => Some((0, 0)),
        Event::JerkyEntry {
            state: State::On, ..
        } => Some((1, 1)),
        Event::Bouncing {
            state: State::On, ..
        } => Some((2, 2)),
        Event::ExcessiveRange {
            state: State::On, ..
        } => Some((3, 3)),
        Event::KneeLocked {
            state: State::On, ..
        } => Some((4, 0)),
        Event::PelvicCompensation {
            state: State::On, ..
        } => Some((5, 5)),
        _ => None,
    }
}

fn off_type(e: &Event) -> Option<usize> {
    match e {
        Event::KneeLocked {
            state: State::Off, ..
        } => Some(0),
        Event::JerkyEntry {
            state: State::Off, ..
        } => Some(1),
        Event::Bouncing {
            state: State::Off, ..
        } => Some(2),
        Event::ExcessiveRange {
            state: State::Off, ..
        } => Some(3),
        Event::PelvicCompensation {
            state: State::Off, ..
        } => Some(5),
        _ => None,
    }
}

fn set_cue(e: &mut Event, c: Cue) {
    match e {
        Event::KneeLocked { cue, .. }
        | Event::JerkyEntry { cue, .. }
        | Event::Bouncing { cue, .. }
        | Event::ExcessiveRange { cue, .. }
        | Event::PelvicCompensation { cue, .. } => *cue = Some(c),
        _ => {}
    }
}

/// The arbiter's memory.
#[derive(Debug, Clone)]
pub struct CueArbiter {
    c: Cues,
    last_audio_s: f64,
    last_off_s: [f64; N_TYPES],
}

impl CueArbiter {
    /// An arbiter with `c`.
    pub fn new(c: Cues) -> Self {
        CueArbiter {
            c,
            last_audio_s: f64::NEG_INFINITY,
            last_off_s: [f64::NEG_INFINITY; N_TYPES],
        }
    }

    /// Decides audio or visual for the ON events of one frame (in place).
    pub fn arbitrate(&mut self, t_s: f64, events: &mut [Event]) {
        // Highest-priority candidate first; ties keep emission order.
        let mut best: Option<(u8, usize)> = None;
        for (i, e) in events.iter().enumerate() {
            if let Some((p, ty)) = rank(e) {
                let recent_off = t_s - self.last_off_s[ty] < self.c.same_type_visual_only_s;
                if !recent_off && best.is_none_or(|(bp, _)| p < bp) {
                    best = Some((p, i));
                }
            }
        }
        for e in events.iter_mut() {
            if rank(e).is_some() {
                set_cue(e, Cue::Visual);
            }
        }
        if let Some((_, i)) = best
            && t_s - self.last_audio_s >= self.c.min_audio_gap_s
        {
            set_cue(&mut events[i], Cue::Audio);
            self.last_audio_s = t_s;
        }
        for e in events.iter() {
            if let Some(ty) = off_type(e) {
                self.last_off_s[ty] = t_s;
            }
        }
    }
}
