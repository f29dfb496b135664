//! The web app's files, compiled into the binary (no CDN, no build step): four pages, one
//! stylesheet and the scripts that draw what the server sends. Each page gets the access token
//! in a `<meta>` tag so its scripts can send it with changes.

/// The live page.
pub const LIVE_HTML: &str = include_str!("assets/live.html");
/// The session list.
pub const SESSIONS_HTML: &str = include_str!("assets/sessions.html");
/// One session.
pub const SESSION_HTML: &str = include_str!("assets/session.html");
/// Progress, left against right, goals.
pub const PROGRESS_HTML: &str = include_str!("assets/progress.html");

const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/common.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/live.js"),
    ),
    (
        "sessions.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/sessions.js"),
    ),
    (
        "session.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/session.js"),
    ),
    (
        "progress.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/progress.js"),
    ),
];

/// A page with the token and the stop advice (one wording for terminal and page) filled in.
pub fn page(body: &str, token: &str) -> String {
    body.replace("{{TOKEN}}", token)
        .replace("{{STOP_ADVICE}}", &escape(crate::live::STOP_ADVICE))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A static file by exact name (the only files the server can send): MIME type and contents.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, mime, body)| (*mime, *body))
}
