//! TOML scenario files: a high-level rep list plus optional low-level term lists.
//!
//! ```toml
//! name = "example"            # required
//! stretch = "supine"          # supine | seated | standing (seated_reach / standing_hinge accepted)
//! side = "left"               # left | right (default left)
//! pelvis_sensor = false       # default false
//! duration_s = 52.0           # required, scenario length after T0
//! thigh_length_m = 0.42       # optional
//! shank_length_m = 0.42       # optional
//! history_deg = [66, 68, 69]  # optional, prior-session hold angles
//! block_markers_s = [5, 60]   # optional manual block.start / block.end (scenario time)
//! gaps_s = [[25.0, 25.8]]     # optional windows with no samples from any sensor
//! swing_range_deg = 70.0       # knee range of the calibration swings (default 70)
//!
//! # optional low-level terms, added to what the reps generate (offsets from the posture base)
//! theta_h = [ { kind = "mj", t0 = 5, dur = 4, a = 0, b = 70 } ]
//! theta_k = []
//! phi = []
//! psi = []
//!
//! [mounting_deg]              # optional; each entry [x, y, z] degrees, R_x·R_y·R_z
//! thigh = [15, 5, 0]
//! shank = [-10, 0, 3]
//! pelvis = [0, 0, 10]
//!
//! [[rep]]                     # any number of reps; times in scenario seconds
//! start_s = 5.0               # raise starts
//! entry_s = 4.0               # raise duration (minimum jerk)
//! hold_angle_deg = 70.0       # primary angle θ at the plateau (θh; seated ≈ 90 + φ)
//! release_s = 44.0            # release starts
//! release_dur_s = 3.0         # release duration
//! knee_bend_deg = 12.0        # optional knee rest cycle (start_s − 1.5, release_s + release_dur_s, K)
//! bounce = { start_s = 15, end_s = 23, freq_hz = 1.5, p2p_deg = 8 }                # optional
//! knee_lock = { start_s = 15, end_s = 28.5, angle_deg = -3, ramp_s = 1.5 }         # optional
//!
//! [calibration_swings]        # optional: how the calibration knee swings are done
//! posture = "standing"        # seated (default) | standing (holding a support, no sit-down)
//! thigh_lift_deg = 0          # hip flexion added in phase with each swing
//! sway_sagittal_deg = 3       # thigh sway amplitudes (sagittal, frontal) and frequency
//! sway_frontal_deg = 2
//! sway_hz = 0.6
//! wobble_deg = 0              # swing-plane wobble (thigh axial rotation)
//! shank_axial_deg = 0         # shank axial rotation at full swing
//!
//! [prelude]                   # optional standing segment before the posture transition
//! duration_s = 540
//! theta_h = [ { kind = "sine", t0 = 0, t1 = 360, amp = 20, freq = 0.9 } ]
//! theta_k = []
//! ```
//!
//! Term kinds (times s, angles °, frequencies Hz, slope °/s):
//! `const {value}`, `mj {t0, dur, a, b}`, `bounce {t0, t1, amp, freq}` = A(1 − cos 2πf(t − t0)),
//! `sine {t0, t1, amp, freq, phase = 0}`, `ramp {t0, t1, slope}`, `window {t0, t1 = ∞, value}`,
//! `knee_rest {t0, t1, k}` (the spec's knee rest cycle). Windows are `t0 ≤ t < t1`.
//!
//! Reps act on the primary angle: supine moves θh; seated and standing move φ and θh together
//! (thigh fixed), with the excursion `hold_angle_deg − base` (base θh: supine 0, seated 90,
//! standing 0). A `knee_lock` moves the knee from `knee_bend_deg` (0 if absent) to `angle_deg`
//! over `ramp_s` at `start_s` and back at `end_s`. Unknown keys are rejected.
//!
//! TOML puts every key after a `[table]` or `[[rep]]` header into that table, so top-level keys
//! (including the term lists) must come before the first table, as above.

use super::scenario::{Prelude, Scenario, SwingPosture};
use super::traj::{Term, knee_rest_cycle, mj_term, raise_hold_release};
use crate::model::StretchType;
use toml::{Table, Value};

/// Parses scenario text; the error names the key (e.g. `rep[1].bounce.freq_hz`) and what was expected.
pub fn parse_scenario(text: &str) -> Result<Scenario, String> {
    let table: Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let msg = e.message().replace('\n', " ");
        match line {
            Some(l) => format!("line {l}: TOML syntax error: {}", msg.trim()),
            None => format!("TOML syntax error: {}", msg.trim()),
        }
    })?;
    let t = Fields::new(&table, "")?;
    t.allow(&[
        "name",
        "stretch",
        "side",
        "pelvis_sensor",
        "duration_s",
        "thigh_length_m",
        "shank_length_m",
        "history_deg",
        "block_markers_s",
        "gaps_s",
        "swing_range_deg",
        "mounting_deg",
        "rep",
        "theta_h",
        "theta_k",
        "phi",
        "psi",
        "prelude",
        "calibration_swings",
    ])?;
    let stretch: StretchType = t
        .req_str("stretch")?
        .parse()
        .map_err(|e| format!("key 'stretch': {e}"))?;
    let mut s = Scenario::new(t.req_str("name")?, stretch, t.req_f64("duration_s")?);
    if let Some(side) = t.opt_str("side")? {
        s.side = side.parse().map_err(|e| format!("key 'side': {e}"))?;
    }
    s.pelvis_sensor = t.opt_bool("pelvis_sensor")?.unwrap_or(false);
    s.thigh_length_m = t.opt_f64("thigh_length_m")?.unwrap_or(s.thigh_length_m);
    s.shank_length_m = t.opt_f64("shank_length_m")?.unwrap_or(s.shank_length_m);
    if let Some(h) = t.opt_f64_array("history_deg", None)? {
        s.history_deg = h;
    }
    if let Some(m) = t.opt_f64_array("block_markers_s", Some(2))? {
        s.block_markers_s = Some((m[0], m[1]));
    }
    s.swing_range_deg = t.opt_f64("swing_range_deg")?.unwrap_or(s.swing_range_deg);
    if let Some(gaps) = t.opt_array("gaps_s")? {
        for (i, g) in gaps.iter().enumerate() {
            let key = format!("gaps_s[{i}]");
            let v = f64_array(g, &key, Some(2))?;
            s.gaps_s.push((v[0], v[1]));
        }
    }
    if let Some(m) = t.opt_table("mounting_deg")? {
        m.allow(&["thigh", "shank", "pelvis"])?;
        for (i, role) in ["thigh", "shank", "pelvis"].iter().enumerate() {
            if let Some(v) = m.opt_f64_array(role, Some(3))? {
                s.mounting_deg[i] = [v[0], v[1], v[2]];
            }
        }
    }
    let (_, hip_base) = s.posture_base_deg();
    if let Some(reps) = t.opt_array("rep")? {
        for (i, r) in reps.iter().enumerate() {
            add_rep(&mut s, r, &format!("rep[{i}]"), hip_base)?;
        }
    }
    s.theta_h.extend(t.terms("theta_h")?);
    s.theta_k.extend(t.terms("theta_k")?);
    s.phi.extend(t.terms("phi")?);
    s.psi.extend(t.terms("psi")?);
    if let Some(c) = t.opt_table("calibration_swings")? {
        c.allow(&[
            "posture",
            "thigh_lift_deg",
            "sway_sagittal_deg",
            "sway_frontal_deg",
            "sway_hz",
            "wobble_deg",
            "shank_axial_deg",
        ])?;
        let st = &mut s.swing_style;
        if let Some(p) = c.opt_str("posture")? {
            st.posture = match p {
                "seated" => SwingPosture::Seated,
                "standing" => SwingPosture::Standing,
                other => {
                    return Err(format!(
                        "key 'calibration_swings.posture': expected seated or standing, found '{other}'"
                    ));
                }
            };
        }
        for (k, v) in [
            ("thigh_lift_deg", &mut st.thigh_lift_deg),
            ("sway_sagittal_deg", &mut st.sway_sagittal_deg),
            ("sway_frontal_deg", &mut st.sway_frontal_deg),
            ("sway_hz", &mut st.sway_hz),
            ("wobble_deg", &mut st.wobble_deg),
            ("shank_axial_deg", &mut st.shank_axial_deg),
        ] {
            if let Some(x) = c.opt_f64(k)? {
                *v = x;
            }
        }
    }
    if let Some(p) = t.opt_table("prelude")? {
        p.allow(&["duration_s", "theta_h", "theta_k"])?;
        s.prelude = Some(Prelude {
            duration_s: p.req_f64("duration_s")?,
            theta_h: p.terms("theta_h")?,
            theta_k: p.terms("theta_k")?,
        });
    }
    s.validate().map_err(|e| match e.split_once(": ") {
        Some((k, m)) => format!("key '{k}': {m}"),
        None => e,
    })?;
    Ok(s)
}

fn add_rep(s: &mut Scenario, v: &Value, key: &str, hip_base: f64) -> Result<(), String> {
    let r = Fields::of(v, key)?;
    r.allow(&[
        "start_s",
        "entry_s",
        "hold_angle_deg",
        "release_s",
        "release_dur_s",
        "knee_bend_deg",
        "bounce",
        "knee_lock",
    ])?;
    let start = r.req_f64("start_s")?;
    let entry = r.req_nonneg("entry_s")?;
    let excursion = r.req_f64("hold_angle_deg")? - hip_base;
    let release = r.req_f64("release_s")?;
    let release_dur = r.req_nonneg("release_dur_s")?;
    let mut primary = raise_hold_release(start, entry, excursion, release, release_dur).to_vec();
    if let Some(b) = r.opt_table("bounce")? {
        b.allow(&["start_s", "end_s", "freq_hz", "p2p_deg"])?;
        primary.push(Term::Bounce {
            t0_s: b.req_f64("start_s")?,
            t1_s: b.req_f64("end_s")?,
            amp_deg: b.req_f64("p2p_deg")? / 2.0,
            freq_hz: b.req_f64("freq_hz")?,
        });
    }
    let bend = r.opt_f64("knee_bend_deg")?;
    if let Some(k) = bend {
        s.theta_k
            .extend(knee_rest_cycle(start - 1.5, release + release_dur, k));
    }
    if let Some(l) = r.opt_table("knee_lock")? {
        l.allow(&["start_s", "end_s", "angle_deg", "ramp_s"])?;
        let k = bend.unwrap_or(0.0);
        let angle = l.req_f64("angle_deg")?;
        let ramp = l.opt_f64("ramp_s")?.unwrap_or(1.5);
        if ramp < 0.0 {
            return Err(format!(
                "key '{key}.knee_lock.ramp_s': expected a non-negative duration"
            ));
        }
        s.theta_k.extend([
            mj_term(l.req_f64("start_s")?, ramp, k, angle),
            Term::Const { value_deg: -k },
            mj_term(l.req_f64("end_s")?, ramp, angle, k),
            Term::Const { value_deg: -angle },
        ]);
    }
    if s.stretch != StretchType::Supine {
        s.phi.extend(primary.iter().copied());
    }
    s.theta_h.extend(primary);
    Ok(())
}

/// A TOML table plus its key path, for error messages.
struct Fields<'a> {
    table: &'a Table,
    path: String,
}

fn type_name(v: &Value) -> &'static str {
    v.type_str()
}

fn as_f64(v: &Value, key: &str) -> Result<f64, String> {
    let x = match v {
        Value::Float(f) => *f,
        Value::Integer(i) => *i as f64,
        other => {
            return Err(format!(
                "key '{key}': expected a number, found {}",
                type_name(other)
            ));
        }
    };
    if x.is_finite() {
        Ok(x)
    } else {
        Err(format!("key '{key}': expected a finite number, found {x}"))
    }
}

fn f64_array(v: &Value, key: &str, len: Option<usize>) -> Result<Vec<f64>, String> {
    let Value::Array(a) = v else {
        return Err(format!(
            "key '{key}': expected an array of numbers, found {}",
            type_name(v)
        ));
    };
    if let Some(n) = len
        && a.len() != n
    {
        return Err(format!(
            "key '{key}': expected {n} numbers, found {}",
            a.len()
        ));
    }
    a.iter()
        .enumerate()
        .map(|(i, x)| as_f64(x, &format!("{key}[{i}]")))
        .collect()
}

impl<'a> Fields<'a> {
    fn new(table: &'a Table, path: &str) -> Result<Self, String> {
        Ok(Fields {
            table,
            path: path.to_string(),
        })
    }

    fn of(v: &'a Value, key: &str) -> Result<Self, String> {
        match v {
            Value::Table(t) => Fields::new(t, key),
            other => Err(format!(
                "key '{key}': expected a table, found {}",
                type_name(other)
            )),
        }
    }

    fn key(&self, k: &str) -> String {
        if self.path.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.path)
        }
    }

    fn allow(&self, known: &[&str]) -> Result<(), String> {
        match self.table.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(format!(
                "unknown key '{}' (expected one of: {})",
                self.key(k),
                known.join(", ")
            )),
            None => Ok(()),
        }
    }

    fn get(&self, k: &str) -> Option<&'a Value> {
        self.table.get(k)
    }

    fn missing(&self, k: &str, what: &str) -> String {
        format!("missing key '{}': expected {what}", self.key(k))
    }

    fn req_str(&self, k: &str) -> Result<&'a str, String> {
        self.opt_str(k)?.ok_or_else(|| self.missing(k, "a string"))
    }

    fn opt_str(&self, k: &str) -> Result<Option<&'a str>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!(
                "key '{}': expected a string, found {}",
                self.key(k),
                type_name(other)
            )),
        }
    }

    fn opt_bool(&self, k: &str) -> Result<Option<bool>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(format!(
                "key '{}': expected true or false, found {}",
                self.key(k),
                type_name(other)
            )),
        }
    }

    fn opt_f64(&self, k: &str) -> Result<Option<f64>, String> {
        self.get(k).map(|v| as_f64(v, &self.key(k))).transpose()
    }

    fn req_f64(&self, k: &str) -> Result<f64, String> {
        self.opt_f64(k)?.ok_or_else(|| self.missing(k, "a number"))
    }

    fn req_nonneg(&self, k: &str) -> Result<f64, String> {
        let v = self.req_f64(k)?;
        if v < 0.0 {
            return Err(format!(
                "key '{}': expected a non-negative duration in seconds, found {v}",
                self.key(k)
            ));
        }
        Ok(v)
    }

    fn opt_f64_array(&self, k: &str, len: Option<usize>) -> Result<Option<Vec<f64>>, String> {
        self.get(k)
            .map(|v| f64_array(v, &self.key(k), len))
            .transpose()
    }

    fn opt_array(&self, k: &str) -> Result<Option<&'a Vec<Value>>, String> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(format!(
                "key '{}': expected an array, found {}",
                self.key(k),
                type_name(other)
            )),
        }
    }

    fn opt_table(&self, k: &str) -> Result<Option<Fields<'a>>, String> {
        self.get(k).map(|v| Fields::of(v, &self.key(k))).transpose()
    }

    fn terms(&self, k: &str) -> Result<Vec<Term>, String> {
        let mut out = Vec::new();
        for (i, v) in self.opt_array(k)?.into_iter().flatten().enumerate() {
            out.extend(parse_term(v, &format!("{}[{i}]", self.key(k)))?);
        }
        Ok(out)
    }
}

fn parse_term(v: &Value, key: &str) -> Result<Vec<Term>, String> {
    let f = Fields::of(v, key)?;
    let kind = f.req_str("kind")?;
    let term = match kind {
        "const" => {
            f.allow(&["kind", "value"])?;
            Term::Const {
                value_deg: f.req_f64("value")?,
            }
        }
        "mj" => {
            f.allow(&["kind", "t0", "dur", "a", "b"])?;
            Term::Mj {
                t0_s: f.req_f64("t0")?,
                dur_s: f.req_nonneg("dur")?,
                a_deg: f.req_f64("a")?,
                b_deg: f.req_f64("b")?,
            }
        }
        "bounce" => {
            f.allow(&["kind", "t0", "t1", "amp", "freq"])?;
            Term::Bounce {
                t0_s: f.req_f64("t0")?,
                t1_s: f.req_f64("t1")?,
                amp_deg: f.req_f64("amp")?,
                freq_hz: f.req_f64("freq")?,
            }
        }
        "sine" => {
            f.allow(&["kind", "t0", "t1", "amp", "freq", "phase"])?;
            Term::Sine {
                t0_s: f.req_f64("t0")?,
                t1_s: f.req_f64("t1")?,
                amp_deg: f.req_f64("amp")?,
                freq_hz: f.req_f64("freq")?,
                phase_deg: f.opt_f64("phase")?.unwrap_or(0.0),
            }
        }
        "ramp" => {
            f.allow(&["kind", "t0", "t1", "slope"])?;
            Term::Ramp {
                t0_s: f.req_f64("t0")?,
                t1_s: f.req_f64("t1")?,
                slope_deg_s: f.req_f64("slope")?,
            }
        }
        "window" => {
            f.allow(&["kind", "t0", "t1", "value"])?;
            Term::Window {
                t0_s: f.req_f64("t0")?,
                t1_s: f.opt_f64("t1")?.unwrap_or(f64::INFINITY),
                value_deg: f.req_f64("value")?,
            }
        }
        "knee_rest" => {
            f.allow(&["kind", "t0", "t1", "k"])?;
            return Ok(
                knee_rest_cycle(f.req_f64("t0")?, f.req_f64("t1")?, f.req_f64("k")?).to_vec(),
            );
        }
        other => {
            return Err(format!(
                "key '{key}.kind': expected one of const, mj, bounce, sine, ramp, window, knee_rest, found '{other}'"
            ));
        }
    };
    Ok(vec![term])
}

#[cfg(test)]
mod tests {
    #[test]
    fn calibration_swings_table() {
        let s = parse_scenario(
            "name = \"x\"\nstretch = \"supine\"\nduration_s = 10\n[calibration_swings]\nposture = \"standing\"\nsway_sagittal_deg = 3\nwobble_deg = 10\n",
        )
        .unwrap();
        assert_eq!(s.swing_style.posture, SwingPosture::Standing);
        assert_eq!(s.swing_style.sway_sagittal_deg, 3.0);
        assert_eq!(s.swing_style.wobble_deg, 10.0);
        let e = parse_scenario(
            "name = \"x\"\nstretch = \"supine\"\nduration_s = 10\n[calibration_swings]\nposture = \"lying\"\n",
        )
        .unwrap_err();
        assert!(e.contains("calibration_swings.posture"), "{e}");
    }

    use super::*;

    const MIN: &str = "name = \"m\"\nstretch = \"supine\"\nduration_s = 30\n";

    fn err(extra: &str) -> String {
        let e = parse_scenario(&format!("{MIN}{extra}")).unwrap_err();
        assert!(!e.contains('\n'), "multi-line message: {e}");
        e
    }

    #[test]
    fn module_doc_example_parses() {
        let src = include_str!("scenario_file.rs");
        let start = src.find("//! ```toml\n").unwrap() + "//! ```toml\n".len();
        let end = start + src[start..].find("//! ```\n").unwrap();
        let text: String = src[start..end]
            .lines()
            .map(|l| {
                l.strip_prefix("//!")
                    .unwrap()
                    .strip_prefix(' ')
                    .unwrap_or("")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let s = parse_scenario(&text).unwrap();
        assert_eq!(s.block_markers_s, Some((5.0, 60.0)));
        assert_eq!(s.prelude.unwrap().duration_s, 540.0);
        assert_eq!(s.gaps_s, vec![(25.0, 25.8)]);
    }

    #[test]
    fn minimal_file_uses_defaults() {
        let s = parse_scenario(MIN).unwrap();
        assert_eq!(s.name, "m");
        assert_eq!(s.thigh_length_m, 0.42);
        assert!(!s.pelvis_sensor);
    }

    #[test]
    fn reps_reproduce_s1() {
        let text = format!(
            "{MIN}history_deg = [66, 68, 69]\n[[rep]]\nstart_s = 5\nentry_s = 4\nhold_angle_deg = 70\nrelease_s = 44\nrelease_dur_s = 3\nknee_bend_deg = 12\n"
        );
        let s = parse_scenario(&text).unwrap();
        let s1 = crate::sim::preset("S1").unwrap();
        for t in [0.0, 4.0, 6.5, 20.0, 45.0, 46.0, 51.0] {
            assert_eq!(s.scenario_pose(t), s1.scenario_pose(t), "t = {t}");
        }
    }

    #[test]
    fn seated_reps_move_pelvis_and_hip() {
        let text = "name = \"s\"\nstretch = \"seated\"\nduration_s = 62\npelvis_sensor = true\n\
                    theta_k = [{ kind = \"const\", value = 8 }]\n\
                    [[rep]]\nstart_s = 5\nentry_s = 5\nhold_angle_deg = 120\nrelease_s = 56\nrelease_dur_s = 4\n\
                    bounce = { start_s = 20, end_s = 26, freq_hz = 1.0, p2p_deg = 8 }\n";
        let s = parse_scenario(text).unwrap();
        let s10 = crate::sim::preset("S10").unwrap();
        for t in [0.0, 7.0, 21.3, 40.0, 58.0] {
            let (a, b) = (s.scenario_pose(t), s10.scenario_pose(t));
            assert!((a.hip_deg - b.hip_deg).abs() < 1e-9 && (a.phi_deg - b.phi_deg).abs() < 1e-9);
            assert_eq!(a.knee_deg, b.knee_deg);
        }
    }

    #[test]
    fn knee_lock_matches_s3() {
        let text = format!(
            "{MIN}[[rep]]\nstart_s = 5\nentry_s = 4\nhold_angle_deg = 70\nrelease_s = 45\nrelease_dur_s = 3\nknee_bend_deg = 12\nknee_lock = {{ start_s = 15, end_s = 28.5, angle_deg = -3 }}\n"
        );
        let s = parse_scenario(&text).unwrap();
        let s3 = crate::sim::preset("S3").unwrap();
        for t in [10.0, 15.7, 20.0, 29.0, 35.0] {
            assert!((s.scenario_pose(t).knee_deg - s3.scenario_pose(t).knee_deg).abs() < 1e-9);
        }
    }

    #[test]
    fn errors_name_the_key() {
        assert!(err("colour = 1\n").contains("unknown key 'colour'"));
        assert!(
            err("[[rep]]\nstart_s = \"x\"\n").contains("key 'rep[0].start_s': expected a number")
        );
        assert!(err("[[rep]]\nstart_s = 5\n").contains("missing key 'rep[0].entry_s'"));
        assert!(
            err("theta_h = [{ kind = \"mj\", t0 = 1, dur = 2, a = 0, b = 1, c = 3 }]\n")
                .contains("unknown key 'theta_h[0].c'")
        );
        assert!(err("theta_h = [{ kind = \"zigzag\" }]\n").contains("'theta_h[0].kind'"));
        assert!(
            err("[mounting_deg]\nthigh = [1, 2]\n").contains("'mounting_deg.thigh': expected 3")
        );
        assert!(err("side = \"middle\"\n").contains("key 'side'"));
        assert!(err("thigh_length_m = 9\n").contains("thigh_length_m"));
        assert!(err("duration_s = \n").contains("line 4: TOML syntax error"));
        let e = parse_scenario("stretch = \"supine\"\nduration_s = 3\n").unwrap_err();
        assert!(e.contains("missing key 'name'"), "{e}");
    }
}
