//! Security of `stretchwatch serve`: listening beyond this computer every route and the
//! WebSocket need the token; changes need the token header and a same-site origin; no path
//! outside the app is served; bodies are size-limited and validated; on 127.0.0.1 other host
//! names and other sites' WebSockets are refused.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

mod web_common;

struct Server {
    child: Child,
    port: u16,
    token: Option<String>,
    _dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sw-websec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn start(listen: &str, name: &str) -> Server {
    let dir = tmpdir(name);
    // One stored session, so there is something to protect.
    let (_, db) = web_common::db_with_session(&dir, "S1", "2026-11-20T08:00");
    let (child, url) = web_common::serve(&db, listen, "S1", &[]);
    let rest = &url["http://".len()..];
    let hostport = rest.split('/').next().unwrap();
    let port: u16 = hostport.rsplit(':').next().unwrap().parse().unwrap();
    let token = url.split("token=").nth(1).map(str::to_string);
    Server {
        child,
        port,
        token,
        _dir: dir,
    }
}

/// Sends one raw HTTP/1.1 request; returns the status and the body.
fn raw(port: u16, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        // A WebSocket upgrade keeps the connection open: its head is all there is to read.
        if out.starts_with(b"HTTP/1.1 101") && out.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn get(port: u16, path: &str, extra: &str) -> (u16, String) {
    raw(
        port,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{extra}\r\n"
        ),
    )
}

fn post(port: u16, path: &str, extra: &str, body: &str) -> (u16, String) {
    raw(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        ),
    )
}

const ROUTES: &[&str] = &[
    "/",
    "/sessions",
    "/sessions/1",
    "/progress",
    "/assets/app.css",
    "/assets/live.js",
    "/api/sessions",
    "/api/sessions/1",
    "/api/sessions/1/download/angles",
    "/api/sessions/1/download/sto",
    "/api/progress",
    "/api/goals",
    "/no/such/page",
];

fn ws_upgrade(port: u16, extra: &str) -> (u16, String) {
    raw(
        port,
        &format!(
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
        ),
    )
}

#[test]
fn beyond_localhost_everything_needs_the_token() {
    let s = start("0.0.0.0:0", "token");
    let token = s.token.clone().expect("the URL carries the token");
    assert!(token.len() >= 32);
    for r in ROUTES {
        let (st, body) = get(s.port, r, "");
        assert_eq!(st, 401, "{r} without token answered {st}");
        assert!(!body.contains("stretch_angle"), "{r} leaked session data");
        let (st, _) = get(s.port, &format!("{r}?token=wrong{token}"), "");
        assert_eq!(st, 401, "{r} with a wrong token answered {st}");
    }
    let (st, _) = ws_upgrade(s.port, "");
    assert_eq!(st, 401, "WebSocket without token");
    for p in ["/api/live/command", "/api/goals"] {
        let (st, _) = post(s.port, p, "", r#"{"command":"start"}"#);
        assert_eq!(st, 401, "POST {p} without token");
    }
    // With the token: the URL sets the cookie, the cookie then opens every page.
    let (st, body) = get(s.port, &format!("/?token={token}"), "");
    assert_eq!(st, 200);
    assert!(body.contains("stretchwatch"));
    let cookie = format!("Cookie: sw_token={token}\r\n");
    let (st, body) = get(s.port, "/api/sessions", &cookie);
    assert_eq!(st, 200);
    assert!(body.contains("\"reps\":1"), "{body}");
    let (st, _) = get(s.port, "/api/sessions/1/download/angles", &cookie);
    assert_eq!(st, 200);
    let (st, _) = ws_upgrade(s.port, &cookie);
    assert_eq!(st, 101, "WebSocket with the token cookie");
}

#[test]
fn forged_cross_origin_posts_are_refused() {
    let s = start("0.0.0.0:0", "csrf");
    let token = s.token.clone().unwrap();
    let cookie = format!("Cookie: sw_token={token}\r\n");
    let goals = r#"{"hold_per_rep_s":30,"dose_per_side_s":60,"target_angle_deg":75}"#;
    // What another site's page can send: the cookie (the browser adds it) and its own origin,
    // but not our header.
    let (st, _) = post(
        s.port,
        "/api/goals",
        &format!("{cookie}Origin: http://evil.example\r\n"),
        goals,
    );
    assert_eq!(st, 403);
    let (st, _) = post(s.port, "/api/goals", &cookie, goals);
    assert_eq!(st, 403, "cookie alone does not allow a change");
    // Even with the header, another origin is refused.
    let hdr = format!("X-Stretchwatch-Token: {token}\r\n");
    let (st, _) = post(
        s.port,
        "/api/goals",
        &format!("{hdr}Origin: http://evil.example\r\n"),
        goals,
    );
    assert_eq!(st, 403);
    let (st, _) = ws_upgrade(s.port, &format!("{cookie}Origin: http://evil.example\r\n"));
    assert_eq!(st, 403, "cross-site WebSocket");
    // The page's own request goes through.
    let (st, _) = post(
        s.port,
        "/api/goals",
        &format!("{hdr}Origin: http://127.0.0.1:{}\r\n", s.port),
        goals,
    );
    assert_eq!(st, 204);
    let (_, body) = get(s.port, "/api/goals", &cookie);
    assert!(body.contains("75"), "{body}");
}

#[test]
fn no_path_outside_the_app_bodies_limited_and_validated() {
    let s = start("0.0.0.0:0", "paths");
    let token = s.token.clone().unwrap();
    let cookie = format!("Cookie: sw_token={token}\r\n");
    for p in [
        "/../Cargo.toml",
        "/assets/../../Cargo.toml",
        "/assets/..%2f..%2fCargo.toml",
        "/assets/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/assets/%2E%2E/%2E%2E/etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%5c..%5cCargo.toml",
        "/assets/%252e%252e%252fCargo.toml",
        "/assets/....//....//etc/passwd",
        "/api/sessions/1/download/..%2f..%2fCargo.toml",
        "/api/sessions/..%2f1",
    ] {
        let (st, body) = get(s.port, p, &cookie);
        assert!(
            (400..500).contains(&st),
            "{p} answered {st}: traversal must be refused"
        );
        assert!(
            !body.contains("[package]") && !body.contains("root:"),
            "{p} leaked a file"
        );
    }
    let hdr = format!("{cookie}X-Stretchwatch-Token: {token}\r\n");
    let big = format!(
        r#"{{"hold_per_rep_s":30,"dose_per_side_s":60,"target_angle_deg":null,"x":"{}"}}"#,
        "a".repeat(100_000)
    );
    let (st, _) = post(s.port, "/api/goals", &hdr, &big);
    assert_eq!(st, 413, "oversized body");
    for bad in [
        r#"{"hold_per_rep_s":-5,"dose_per_side_s":60,"target_angle_deg":null}"#,
        r#"{"hold_per_rep_s":30,"dose_per_side_s":60,"target_angle_deg":null,"admin":true}"#,
        r#"{"hold_per_rep_s":"30"}"#,
        "not json",
    ] {
        let (st, _) = post(s.port, "/api/goals", &hdr, bad);
        assert!((400..=422).contains(&st), "{bad} answered {st}");
    }
    let (st, _) = post(
        s.port,
        "/api/live/command",
        &hdr,
        r#"{"command":"format_disk"}"#,
    );
    assert_eq!(st, 400);
}

#[test]
fn on_localhost_other_host_names_and_sites_are_refused() {
    let s = start("127.0.0.1:0", "local");
    assert!(s.token.is_none(), "no token in the URL on 127.0.0.1");
    let (st, _) = get(s.port, "/api/sessions", "");
    assert_eq!(st, 200);
    // A page on another site whose name was rebound to 127.0.0.1.
    let (st, _) = raw(
        s.port,
        &format!(
            "GET /api/sessions HTTP/1.1\r\nHost: evil.example:{}\r\nConnection: close\r\n\r\n",
            s.port
        ),
    );
    assert_eq!(st, 403);
    let (st, _) = ws_upgrade(s.port, "Origin: http://evil.example\r\n");
    assert_eq!(st, 403);
    let (st, _) = post(
        s.port,
        "/api/live/command",
        "Origin: http://evil.example\r\n",
        r#"{"command":"start"}"#,
    );
    assert_eq!(st, 403);
    let (st, _) = post(s.port, "/api/live/command", "", r#"{"command":"stop"}"#);
    assert_eq!(st, 403, "changes need the token header even on 127.0.0.1");
}
