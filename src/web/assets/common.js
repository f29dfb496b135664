// Shared by the pages: the token for changes, JSON fetches, small formatting helpers.
"use strict";
const SW = {
  token: document.querySelector('meta[name="sw-token"]').content,
  async get(url) {
    const r = await fetch(url, { credentials: "same-origin" });
    if (!r.ok) throw new Error(url + ": " + r.status + " " + (await r.text()));
    return r.json();
  },
  async post(url, body) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Stretchwatch-Token": SW.token },
      body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error(url + ": " + r.status + " " + (await r.text()));
  },
  fmt(x, digits, unit) { return x === null || x === undefined || Number.isNaN(x) ? "–" : x.toFixed(digits) + (unit || ""); },
  el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) { if (k === "class") e.className = v; else e.setAttribute(k, v); }
    for (const k of kids) e.append(k);
    return e;
  },
  plural(n, one, many) { return n + " " + (n === 1 ? one : many); },
};
// The token came in the URL once; the cookie carries it from now on, so take it out of the
// address bar (and of bookmarks and screenshots).
if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", location.pathname);
