// The session list: one row per stored session, newest first.
"use strict";
(async () => {
  const d = await SW.get("/api/sessions");
  document.getElementById("db").textContent = d.exists
    ? SW.plural(d.sessions.length, "session", "sessions") + " in " + d.db
    : "No database yet at " + d.db + ": sessions appear here once one is stored.";
  const tb = document.querySelector("#list tbody");
  for (const s of d.sessions) {
    const a = SW.el("a", { href: "/sessions/" + s.id }, s.date);
    const warn = s.warnings + s.advisories;
    tb.append(SW.el("tr", { "data-id": s.id },
      SW.el("td", {}, a), SW.el("td", {}, s.sides.join(", ")), SW.el("td", {}, s.stretches.join(", ")),
      SW.el("td", {}, s.reps === null ? "–" : String(s.reps)), SW.el("td", {}, SW.fmt(s.static_hold_s, 1, " s")),
      SW.el("td", {}, SW.fmt(s.stretch_angle_deg, 1, "°")), SW.el("td", {}, String(warn)),
      SW.el("td", {}, SW.fmt(s.calibration_quality, 2, ""))));
  }
})().catch((e) => document.getElementById("db").textContent = String(e));
