//! D5 too-short hold and dose (form-spec 3, D5): `short_hold` at each HOLD→RELEASE with
//! `min_rep_hold_s` ≤ static hold < target − tolerance; `dose_short` at block end when the
//! block's static hold is below `dose_target_s`.

use super::config::{Hold, Phases};
use super::event::{Event, Severity, r4};

/// The `short_hold` event for a release with `static_hold_s` so far in rep `rep`, if short.
pub fn short_hold(t_s: f64, rep: u32, static_hold_s: f64, h: &Hold, p: &Phases) -> Option<Event> {
    let target = h.effective_target_s();
    (static_hold_s >= p.min_rep_hold_s && static_hold_s < target - h.tolerance_s).then_some(
        Event::ShortHold {
            t_s,
            severity: Severity::Info,
            rep,
            static_hold_s: r4(static_hold_s),
            target_s: target,
        },
    )
}

/// The `dose_short` event at block end, if the dose was not met.
pub fn dose_short(t_s: f64, total_static_hold_s: f64, h: &Hold) -> Option<Event> {
    (total_static_hold_s < h.dose_target_s).then_some(Event::DoseShort {
        t_s,
        severity: Severity::Info,
        total_static_hold_s: r4(total_static_hold_s),
        dose_target_s: h.dose_target_s,
    })
}
