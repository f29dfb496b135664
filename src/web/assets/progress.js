// Progress per stretch and side over weeks, the noise band, left against right, goals.
"use strict";
const $ = (x) => document.getElementById(x);
const COL = { left: "#245b9e", right: "#a15c00" };

function chart(canvas, st, noise, goal) {
  const g = canvas.getContext("2d");
  const W = (canvas.width = canvas.clientWidth * devicePixelRatio), H = (canvas.height = 300 * devicePixelRatio);
  const pts = [...(st.sides.left || []), ...(st.sides.right || [])];
  if (!pts.length) return;
  const t0 = Math.min(...pts.map((p) => p.t_days)), t1 = Math.max(...pts.map((p) => p.t_days), t0 + 1);
  let lo = Math.min(...pts.map((p) => p.value_deg)) - noise - 5, hi = Math.max(...pts.map((p) => p.value_deg)) + noise + 5;
  if (goal) { lo = Math.min(lo, goal - 5); hi = Math.max(hi, goal + 5); }
  const pad = { l: 50 * devicePixelRatio, r: 20, t: 20, b: 30 * devicePixelRatio };
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (W - pad.l - pad.r);
  const y = (v) => H - pad.b - ((v - lo) / (hi - lo)) * (H - pad.t - pad.b);
  g.font = 12 * devicePixelRatio + "px system-ui"; g.fillStyle = getComputedStyle(document.body).color;
  for (let v = Math.ceil(lo / 10) * 10; v <= hi; v += 10) g.fillText(v + "°", 4, y(v) + 4);
  // One date label per distinct day, none past the right edge.
  const seen = new Set();
  for (const p of pts) { if (seen.has(p.date)) continue; seen.add(p.date);
    const px = Math.min(x(p.t_days), W - 80 * devicePixelRatio); g.fillText(p.date, px, H - 8); }
  for (const side of ["left", "right"]) {
    const s = st.sides[side] || [];
    if (!s.length) continue;
    g.fillStyle = side === "left" ? "rgba(36,91,158,.12)" : "rgba(161,92,0,.12)";
    g.fillRect(pad.l, y(s[0].value_deg + noise), W - pad.l - pad.r, y(s[0].value_deg - noise) - y(s[0].value_deg + noise));
    g.strokeStyle = COL[side]; g.fillStyle = COL[side]; g.lineWidth = 2 * devicePixelRatio; g.beginPath();
    s.forEach((p, i) => (i ? g.lineTo(x(p.t_days), y(p.value_deg)) : g.moveTo(x(p.t_days), y(p.value_deg))));
    g.stroke();
    for (const p of s) { g.beginPath(); g.arc(x(p.t_days), y(p.value_deg), 5 * devicePixelRatio, 0, 7); g.fill(); }
  }
  if (goal) { g.strokeStyle = "#1d7a46"; g.setLineDash([6, 6]); g.beginPath(); g.moveTo(pad.l, y(goal)); g.lineTo(W - pad.r, y(goal)); g.stroke(); g.setLineDash([]); }
}

(async () => {
  const d = await SW.get("/api/progress");
  $("noise").textContent = d.noise_deg;
  const box = $("charts");
  if (!d.stretches.length) box.append(SW.el("p", {}, "No stored sessions with reps yet."));
  for (const st of d.stretches) {
    const sec = SW.el("section", { class: "card", "data-stretch": st.stretch });
    sec.append(SW.el("h2", {}, st.stretch[0].toUpperCase() + st.stretch.slice(1) + " stretch"));
    for (const s of st.sentences) sec.append(SW.el("p", { class: "sentence", style: "font-size:1.4rem" }, s));
    const c = SW.el("canvas", { height: "300" });
    sec.append(c);
    sec.append(SW.el("p", { class: "note" }, "Blue: left side, orange: right side" + (d.goals.target_angle_deg ? ", dashed green: your target angle." : ".")));
    if (st.pairs.length) {
      const t = SW.el("table", {}, SW.el("thead", {}, SW.el("tr", {}, SW.el("th", {}, "Date"), SW.el("th", {}, "Left"), SW.el("th", {}, "Right"), SW.el("th", {}, "Left − right"))));
      const tb = SW.el("tbody");
      for (const p of st.pairs) tb.append(SW.el("tr", {}, SW.el("td", {}, p.date), SW.el("td", {}, SW.fmt(p.left_deg, 1, "°")), SW.el("td", {}, SW.fmt(p.right_deg, 1, "°")), SW.el("td", {}, SW.fmt(p.left_deg - p.right_deg, 1, "°"))));
      t.append(tb);
      sec.append(SW.el("h3", {}, "Left against right"), t);
    }
    box.append(sec);
    chart(c, st, d.noise_deg, d.goals.target_angle_deg);
  }
  $("g-hold").value = d.goals.hold_per_rep_s; $("g-dose").value = d.goals.dose_per_side_s;
  $("g-angle").value = d.goals.target_angle_deg === null ? "" : d.goals.target_angle_deg;
  $("goals").onsubmit = async (ev) => {
    ev.preventDefault();
    const a = $("g-angle").value;
    try {
      await SW.post("/api/goals", { hold_per_rep_s: Number($("g-hold").value), dose_per_side_s: Number($("g-dose").value), target_angle_deg: a === "" ? null : Number(a) });
      $("g-msg").textContent = "Saved.";
    } catch (e) { $("g-msg").textContent = String(e); }
  };
})().catch((e) => $("charts").textContent = String(e));
