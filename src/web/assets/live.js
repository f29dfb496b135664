// The live page: draws the engine's state, plays the cues the server sends, sends commands.
// No form logic here: every figure (angle, hold, reps, dose, warnings, cues) comes from the engine.
"use strict";
window.__sw = { lat: [], spoken: [], chimes: [], steps: [], events: [], holdShown: null, lastRep: null, holds: [] };
const $ = (id) => document.getElementById(id);
let state = null;
let audio = null;
let blockOpen = false;
let goals = null;
SW.get("/api/goals").then((g) => {
  goals = g;
  $("goalText").textContent = "Your goals: " + g.hold_per_rep_s + " s per rep, " + g.dose_per_side_s + " s per side" +
    (g.target_angle_deg === null ? "" : ", target angle " + g.target_angle_deg + "° (blue mark)") + ".";
}).catch(() => {});

function now() { return performance.timeOrigin + performance.now(); }

function speak(text) {
  if (!$("voice").checked || !text || !window.speechSynthesis) return;
  const u = new SpeechSynthesisUtterance(text);
  u.rate = 1.0;
  window.speechSynthesis.speak(u);
  window.__sw.spoken.push(text);
}

function chime(kind) {
  if (!$("chime").checked) return;
  window.__sw.chimes.push(kind);
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    const tones = kind === "done" ? [660, 880] : [660];
    tones.forEach((f, i) => {
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = f; o.connect(g); g.connect(audio.destination);
      const t = audio.currentTime + i * 0.25;
      g.gain.setValueAtTime(0.25, t); g.gain.exponentialRampToValueAtTime(0.001, t + 0.6);
      o.start(t); o.stop(t + 0.6);
    });
  } catch (e) { /* no audio device: the visual timer still shows the milestone */ }
}

function command(c) { SW.post("/api/live/command", { command: c }).catch((e) => message(String(e))); }

function message(text) {
  const d = SW.el("div", {}, text);
  $("messages").prepend(d);
  while ($("messages").childNodes.length > 12) $("messages").lastChild.remove();
}

// Angle scale of the gauges.
const SCALE = { lo: -10, hi: 120 };
function pct(x, lo, hi) { return Math.max(0, Math.min(100, (100 * (x - lo)) / (hi - lo))); }

function drawWarnings(list) {
  const ul = $("warnings");
  ul.replaceChildren(...list.map((w) => SW.el("li", { class: w.severity, "data-key": w.key }, w.text)));
}

function drawState(s) {
  state = s;
  $("source").textContent = s.source || "";
  $("sideStretch").textContent = s.side + " side, " + s.stretch;
  $("blockText").textContent = s.block || "no block open";
  blockOpen = !!s.block;
  $("block").textContent = blockOpen ? "End block" : "Start block";
  $("angleLabel").textContent = s.stretch === "supine" ? "leg raise" : "hip bend";
  const a = s.primary_deg;
  $("angle").firstChild.textContent = a === null || a === undefined ? "–" : Math.round(a);
  $("needle").style.left = a === null ? "0%" : pct(a, SCALE.lo, SCALE.hi) + "%";
  if (s.baseline_deg !== null && s.baseline_deg !== undefined) {
    $("zone").style.left = pct(s.baseline_deg - 10, SCALE.lo, SCALE.hi) + "%";
    $("zone").style.width = (pct(s.limit_deg, SCALE.lo, SCALE.hi) - pct(s.baseline_deg - 10, SCALE.lo, SCALE.hi)) + "%";
    $("baseMark").hidden = false; $("limitMark").hidden = false;
    $("baseMark").style.left = pct(s.baseline_deg, SCALE.lo, SCALE.hi) + "%";
    $("limitMark").style.left = pct(s.limit_deg, SCALE.lo, SCALE.hi) + "%";
    $("baselineText").textContent = "Your usual hold angle " + Math.round(s.baseline_deg) + "°; the green zone ends where \u201cfurther than usual\u201d starts (" + Math.round(s.limit_deg) + "°).";
  }
  if (goals && goals.target_angle_deg !== null) {
    $("targetMark").hidden = false;
    $("targetMark").style.left = pct(goals.target_angle_deg, SCALE.lo, SCALE.hi) + "%";
  }
  const k = s.knee_deg;
  $("knee").textContent = k === null || k === undefined ? "–" : Math.round(k);
  const [blo, bhi] = s.knee_band_deg;
  $("band").textContent = blo + "–" + bhi + "°";
  $("kneeZone").style.left = pct(blo, -10, 60) + "%";
  $("kneeZone").style.width = (pct(bhi, -10, 60) - pct(blo, -10, 60)) + "%";
  $("kneeNeedle").style.left = k === null ? "0%" : pct(k, -10, 60) + "%";
  const hold = s.hold_s;
  const target = s.hold_target_s;
  $("ring").dataset.holdS = hold === null || hold === undefined ? "" : hold.toFixed(2);
  window.__sw.holdShown = hold;
  // What the ring showed, a few times a second (the browser test reads it).
  const hs = window.__sw.holds;
  if (!hs.length || s.t_s - hs[hs.length - 1][0] >= 0.25) hs.push([s.t_s, hold === undefined ? null : hold, s.phase]);
  if (hs.length > 4000) hs.splice(0, 2000);
  $("ringText").textContent = hold === null || hold === undefined ? "0" : Math.floor(hold);
  $("ringTarget").textContent = "of " + target + " s hold";
  const frac = Math.min(1, (hold || 0) / target);
  $("ringArc").setAttribute("stroke-dasharray", (frac * 540.35).toFixed(1) + " 540.35");
  $("phase").textContent = s.phase ? s.phase.replace("_", " ") : (s.block ? "–" : "rest");
  $("reps").textContent = s.reps;
  $("doseL").textContent = Math.floor(s.dose_s.left);
  $("doseR").textContent = Math.floor(s.dose_s.right);
  document.querySelectorAll(".dt").forEach((e) => (e.textContent = s.dose_target_s));
  drawWarnings(s.warnings);
  $("notes").textContent = (s.notes || []).join(" ");
  $("accuracy").hidden = !s.accuracy;
  $("accuracy").textContent = s.accuracy ? "Calibration: " + s.accuracy : "";
  const st = s.stage;
  if (st.kind === "calibrating" || st.kind === "waiting" || st.kind === "failed") {
    $("calib").hidden = false;
    $("calibText").textContent = st.instruction;
    $("calibCount").textContent = st.left_s === undefined ? "–" : Math.ceil(st.left_s);
    const steps = window.__sw.steps;
    if (steps[steps.length - 1] !== st.instruction) {
      steps.push(st.instruction);
      $("calibSteps").replaceChildren(...steps.map((t, i) => SW.el("li", { class: i === steps.length - 1 ? "now" : "" }, t)));
    }
  } else {
    $("calib").hidden = true;
  }
  $("status").textContent = s.running ? "Session running." : "Session ended.";
}

function onMessage(m) {
  const t0 = now();
  if (m.type === "state") {
    drawState(m);
  } else if (m.type === "event") {
    window.__sw.events.push(m);
    const ev = m.event;
    if (ev.event === "rep") window.__sw.lastRep = ev;
    // An episode switching on is shown at once, before the next display update.
    if (m.state === "on" && m.severity && m.text && (m.severity === "warning" || m.severity === "advisory")) {
      const ul = $("warnings");
      if (!ul.querySelector('[data-key="' + ev.event + '"]')) ul.append(SW.el("li", { class: m.severity, "data-key": ev.event }, m.text));
    } else if (m.state === "off") {
      const li = $("warnings").querySelector('[data-key="' + ev.event + '"]');
      if (li) li.remove();
    }
    if (m.text && ev.event !== "phase") message(ev.t_s.toFixed(1) + " s  " + m.text);
  } else if (m.type === "cue") {
    if (m.chime) chime(m.chime);
    if (m.speak) speak(m.speak);
  } else if (m.type === "calibrated") {
    if (m.caveat) message(m.caveat.charAt(0).toUpperCase() + m.caveat.slice(1) + ".");
    else message("Calibration accepted (quality " + m.quality.toFixed(2) + "). Lie down or sit with the leg straight and rest: the block starts when you are still.");
  } else if (m.type === "ended") {
    $("summary").replaceChildren(...(m.summary || []).map((l) => SW.el("div", {}, l)));
    $("status").textContent = "Session ended" + (m.stored_session_id ? " and stored (session " + m.stored_session_id + ")." : ".");
  } else if (m.type === "idle") {
    $("source").textContent = m.source;
    $("sideStretch").textContent = m.side + " side, " + m.stretch;
  } else if (m.type === "error" || m.type === "notice") {
    message(m.message);
  }
  // Delay from the engine's output to this page having drawn it (same clock on one computer).
  if (m.sent_ms) window.__sw.lat.push({ type: m.type, ms: now() - m.sent_ms, drawn_ms: now() - t0 });
  if (window.__sw.lat.length > 20000) window.__sw.lat.splice(0, 10000);
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  ws.onclose = () => { message("Connection to stretchwatch lost; retrying…"); setTimeout(connect, 1000); };
}

$("start").onclick = () => { window.__sw.steps.length = 0; $("calibSteps").replaceChildren(); $("summary").replaceChildren(); chime.warm = true;
  try { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); } catch (e) {}
  command("start"); };
$("stopSession").onclick = () => command("stop");
$("block").onclick = () => command("toggle_block");
$("side").onclick = () => command("switch_side");
$("stretch").onclick = () => command("switch_stretch");
$("recal").onclick = () => { window.__sw.steps.length = 0; command("recalibrate"); };
$("pain").onclick = () => { $("advice").classList.add("open"); if (blockOpen) command("toggle_block"); };
$("adviceClose").onclick = () => $("advice").classList.remove("open");
connect();
