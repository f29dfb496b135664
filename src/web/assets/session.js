// One stored session: figures, the interactive angle trace, reps and the readable timeline.
"use strict";
const id = Number(location.pathname.split("/").pop());
const $ = (x) => document.getElementById(x);
let data = null, view = null, drag = null;

function phaseSpans(events, tEnd) {
  const spans = [];
  let cur = null, held = false;
  for (const e of events.filter((e) => e.name === "phase")) {
    const t = e.onset_s !== null && e.onset_s !== undefined ? e.onset_s : e.t_s;
    if (cur) spans.push({ phase: cur.phase, a: cur.t, b: t });
    // A release with no hold since the last rest is movement that never settled.
    if (e.phase === "hold") held = true;
    const phase = e.phase === "release" && !held ? "moving" : e.phase;
    if (e.phase === "rest") held = false;
    cur = { phase, t };
  }
  if (cur) spans.push({ phase: cur.phase, a: cur.t, b: tEnd });
  return spans;
}

function draw() {
  const c = $("trace"), g = c.getContext("2d");
  const W = (c.width = c.clientWidth * devicePixelRatio), H = (c.height = 360 * devicePixelRatio);
  g.setTransform(1, 0, 0, 1, 0, 0);
  g.clearRect(0, 0, W, H);
  const tr = data.trace, pad = { l: 50 * devicePixelRatio, r: 10, t: 20, b: 30 * devicePixelRatio };
  const css = getComputedStyle(document.body);
  const fg = css.color;
  let lo = Infinity, hi = -Infinity;
  const from = data.calibration_end !== null && data.calibration_end < view.b ? Math.max(view.a, data.calibration_end) : view.a;
  tr.t_s.forEach((t, i) => { if (t < from || t > view.b) return;
    for (const v of [tr.primary_deg[i], tr.knee_deg[i]]) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
  if (!isFinite(lo)) { lo = 0; hi = 90; }
  lo = Math.floor((lo - 5) / 10) * 10; hi = Math.ceil((hi + 5) / 10) * 10;
  const x = (t) => pad.l + ((t - view.a) / (view.b - view.a)) * (W - pad.l - pad.r);
  const y = (v) => H - pad.b - ((v - lo) / (hi - lo)) * (H - pad.t - pad.b);
  const colors = { hold: "rgba(29,122,70,.18)", moving_in: "rgba(36,91,158,.13)", release: "rgba(120,120,120,.15)", moving: "rgba(200,170,60,.12)" };
  for (const s of phaseSpans(data.events, view.b)) {
    if (!colors[s.phase]) continue;
    g.fillStyle = colors[s.phase];
    g.fillRect(x(Math.max(s.a, view.a)), pad.t, x(Math.min(s.b, view.b)) - x(Math.max(s.a, view.a)), H - pad.t - pad.b);
  }
  // Calibration (standing, knee swings: the thigh hangs at −90°) is shaded and kept out of the range.
  const calib = data.calibration_end;
  if (calib !== null && calib > view.a) {
    g.fillStyle = "rgba(128,128,128,.15)";
    g.fillRect(x(view.a), pad.t, x(Math.min(calib, view.b)) - x(view.a), H - pad.t - pad.b);
    g.fillStyle = fg; g.fillText("calibration (off the scale)", x(view.a) + 6, H - pad.b - 8);
  }
  g.fillStyle = "rgba(179,38,30,.25)";
  tr.t_s.forEach((t, i) => { if (tr.gap[i] && t >= view.a && t <= view.b) g.fillRect(x(t) - 1, pad.t, 3, H - pad.t - pad.b); });
  g.strokeStyle = "rgba(128,128,128,.4)"; g.fillStyle = fg; g.font = 12 * devicePixelRatio + "px system-ui";
  for (let v = lo; v <= hi; v += 10) { g.beginPath(); g.moveTo(pad.l, y(v)); g.lineTo(W - pad.r, y(v)); g.stroke(); g.fillText(v + "°", 4, y(v) + 4); }
  const span = view.b - view.a, step = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600].find((s) => span / s <= 10) || 1200;
  for (let t = Math.ceil(view.a / step) * step; t <= view.b; t += step) g.fillText(t + " s", x(t) - 10, H - 8);
  const line = (vals, color) => {
    g.strokeStyle = color; g.lineWidth = 2 * devicePixelRatio; g.beginPath(); let pen = false;
    tr.t_s.forEach((t, i) => { const v = vals[i]; if (t < view.a || t > view.b || v === null) { pen = false; return; }
      const yv = y(Math.max(lo, Math.min(hi, v)));
      if (pen) g.lineTo(x(t), yv); else g.moveTo(x(t), yv); pen = true; });
    g.stroke();
  };
  line(tr.primary_deg, "#245b9e");
  line(tr.knee_deg, "#a15c00");
  for (const e of data.events) {
    if (e.t_s < view.a || e.t_s > view.b) continue;
    if (e.state === "on" && (e.severity === "warning" || e.severity === "advisory")) {
      g.fillStyle = e.severity === "warning" ? "#b3261e" : "#a15c00";
      g.fillRect(x(e.t_s) - 2, pad.t, 4, 14 * devicePixelRatio);
    }
  }
  g.fillStyle = fg;
  for (const r of data.reps) if (r.t_s >= view.a && r.t_s <= view.b) g.fillText("rep " + r.rep, x(r.t_s) - 14, pad.t + 28 * devicePixelRatio);
  g.fillStyle = "#245b9e"; g.fillText("— leg raise / hip", pad.l + 8, pad.t + 4);
  g.fillStyle = "#a15c00"; g.fillText("— knee bend", pad.l + 140 * devicePixelRatio, pad.t + 4);
  draw.x = x; draw.pad = pad; draw.W = W;
}

function tAt(ev) {
  const c = $("trace"), r = c.getBoundingClientRect();
  const px = (ev.clientX - r.left) * devicePixelRatio;
  return view.a + ((px - draw.pad.l) / (draw.W - draw.pad.l - draw.pad.r)) * (view.b - view.a);
}

function zoom(f, center) {
  const full = data.full, c = center === undefined ? (view.a + view.b) / 2 : center;
  const half = Math.max(2, ((view.b - view.a) * f) / 2);
  view = { a: Math.max(full.a, c - half), b: Math.min(full.b, c + half) };
  draw();
}

function hover(ev) {
  const t = tAt(ev), tr = data.trace, tip = $("tip");
  let best = -1, bd = Infinity;
  tr.t_s.forEach((s, i) => { const d = Math.abs(s - t); if (d < bd) { bd = d; best = i; } });
  if (best < 0) return;
  tip.style.display = "block";
  tip.style.left = ev.offsetX + 12 + "px"; tip.style.top = ev.offsetY + 12 + "px";
  tip.textContent = tr.t_s[best].toFixed(1) + " s: leg " + SW.fmt(tr.primary_deg[best], 1, "°") + ", knee " + SW.fmt(tr.knee_deg[best], 1, "°") + (tr.gap[best] ? " (gap)" : "");
}

(async () => {
  data = await SW.get("/api/sessions/" + id);
  const s = data.session;
  document.title = "stretchwatch — session " + s.date;
  $("title").textContent = "Session of " + s.date + " UTC";
  $("rep-count").textContent = s.reps === null ? "–" : s.reps;
  $("hold").textContent = SW.fmt(s.static_hold_s, 1, " s");
  $("value").textContent = SW.fmt(s.stretch_angle_deg, 1, "°");
  $("warning-count").textContent = s.warnings + s.advisories;
  $("quality").textContent = SW.fmt(s.calibration_quality, 2, "");
  if (s.calibration_caveat) {
    $("caveat").textContent = "Calibration: " + s.calibration_caveat + ".";
    $("caveat").hidden = false;
  }
  $("meta").textContent = s.sides.join(" and ") + " side, " + s.stretches.join(", ") + " · " + s.source + (s.duration_s ? " · " + (s.duration_s / 60).toFixed(1) + " min" : "");
  for (const k of ["angles", "reps", "events", "samples", "sto"]) $("dl-" + k).href = "/api/sessions/" + id + "/download/" + k;
  const tb = document.querySelector("#reps tbody");
  for (const r of data.reps) tb.append(SW.el("tr", {}, SW.el("td", {}, String(r.rep)), SW.el("td", {}, SW.fmt(r.t_s, 1, " s")),
    SW.el("td", {}, SW.fmt(r.static_hold_s, 1, " s")), SW.el("td", {}, SW.fmt(r.positional_hold_s, 1, " s")),
    SW.el("td", {}, SW.fmt(r.hold_angle_deg, 1, "°")), SW.el("td", {}, SW.fmt(r.peak_angle_deg, 1, "°")), SW.el("td", {}, SW.fmt(r.knee_mean_deg, 1, "°"))));
  for (const e of data.events) $("timeline").append(SW.el("div", { class: e.severity ? "sev-" + e.severity : "" }, e.t_s.toFixed(1).padStart(7) + " s  " + e.text));
  const first = data.events.find((e) => (e.name === "block" && e.state === "start") || e.name === "phase");
  data.calibration_end = first ? (first.onset_s !== null && first.onset_s !== undefined ? first.onset_s : first.t_s) : null;
  const t = data.trace.t_s;
  data.full = { a: t.length ? t[0] : 0, b: t.length ? t[t.length - 1] : 1 };
  view = { ...data.full };
  draw();
  const c = $("trace");
  c.addEventListener("wheel", (ev) => { ev.preventDefault(); zoom(ev.deltaY > 0 ? 1.25 : 0.8, tAt(ev)); });
  c.addEventListener("pointerdown", (ev) => (drag = tAt(ev)));
  c.addEventListener("pointerup", (ev) => { const t2 = tAt(ev); if (drag !== null && Math.abs(t2 - drag) > 1) { view = { a: Math.min(drag, t2), b: Math.max(drag, t2) }; draw(); } drag = null; });
  c.addEventListener("pointermove", hover);
  c.addEventListener("pointerleave", () => ($("tip").style.display = "none"));
  $("zoomIn").onclick = () => zoom(0.5); $("zoomOut").onclick = () => zoom(2);
  $("reset").onclick = () => { view = { ...data.full }; draw(); };
  $("print").onclick = () => window.print();
  window.addEventListener("resize", draw);
  document.body.dataset.loaded = "1";
})().catch((e) => ($("title").textContent = String(e)));
