//! Who may use the server, checked on every request before any route runs.
//!
//! * Listening on a loopback address, only this computer can connect; the `Host` header must name
//!   the loopback address (so a web page that rebinds its own name to 127.0.0.1 is refused).
//! * Listening on any other address, every request must carry the access token generated at
//!   start: `?token=` in the first URL (the page then keeps it in a same-site cookie), the
//!   cookie, or the `X-Stretchwatch-Token` header.
//! * Requests that change something (POST) must carry the token in the `X-Stretchwatch-Token`
//!   header, which another site's page cannot add without the server's consent (it never
//!   gives it), and an `Origin`, when sent, must be this server. The WebSocket checks the
//!   `Origin` the same way, since browsers send cookies with cross-site WebSocket requests.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngExt;
use std::net::SocketAddr;
use std::sync::Arc;

/// Name of the cookie and of the query parameter carrying the token.
pub const TOKEN_PARAM: &str = "token";
/// Header carrying the token on API calls.
pub const TOKEN_HEADER: &str = "x-stretchwatch-token";

/// The access rules of a running server.
#[derive(Debug, Clone)]
pub struct Access {
    /// The token (always generated; required on every request when `required`).
    pub token: String,
    /// Whether every request needs the token (listening beyond this computer).
    pub required: bool,
    /// The bound address.
    pub addr: SocketAddr,
}

impl Access {
    /// Rules for a server bound to `addr`, with a fresh random token.
    pub fn new(addr: SocketAddr) -> Self {
        let mut rng = rand::rng();
        let token: String = (0..32)
            .map(|_| {
                let i = rng.random_range(0..62u8);
                char::from(match i {
                    0..=9 => b'0' + i,
                    10..=35 => b'a' + i - 10,
                    _ => b'A' + i - 36,
                })
            })
            .collect();
        Access {
            token,
            required: !addr.ip().is_loopback(),
            addr,
        }
    }

    /// Constant-time comparison, so the token cannot be guessed a character at a time.
    fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.token.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    fn host_ok(&self, headers: &HeaderMap) -> bool {
        if self.required {
            return true;
        }
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let port = self.addr.port();
        [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
            self.addr.to_string(),
        ]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host))
    }
}

/// `Origin`, when present, names the same host as `Host`.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(host)) = (
        origin.to_str(),
        headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    ) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

fn query_token(q: Option<&str>) -> Option<&str> {
    q?.split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .filter(|t| !t.is_empty())
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("sw_token="))
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, why).into_response()
}

/// The middleware: checks the rules above, then runs the route; sets the token cookie when the
/// token came in the URL.
pub async fn check(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if !access.host_ok(headers) {
        return refuse(StatusCode::FORBIDDEN, "unknown host name");
    }
    let from_query = query_token(req.uri().query()).filter(|t| access.matches(t));
    let header_ok = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| access.matches(t));
    let cookie_ok = cookie_token(headers).is_some_and(|t| access.matches(t));
    if access.required && !(from_query.is_some() || header_ok || cookie_ok) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "access token missing or wrong: open the URL stretchwatch printed",
        );
    }
    let is_ws = headers
        .get(header::UPGRADE)
        .is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if req.method() != Method::GET && req.method() != Method::HEAD || is_ws {
        if !same_origin(headers) {
            return refuse(StatusCode::FORBIDDEN, "request from another site refused");
        }
        if req.method() != Method::GET && !header_ok {
            return refuse(
                StatusCode::FORBIDDEN,
                "changes need the access token in the X-Stretchwatch-Token header",
            );
        }
    }
    let set_cookie = from_query.is_some();
    let mut resp = next.run(req).await;
    if set_cookie
        && let Ok(v) = format!(
            "sw_token={}; Path=/; HttpOnly; SameSite=Strict",
            access.token
        )
        .parse()
    {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_long_random_and_compared_whole() {
        let a = Access::new("0.0.0.0:1".parse().unwrap());
        let b = Access::new("0.0.0.0:1".parse().unwrap());
        assert_eq!(a.token.len(), 32);
        assert_ne!(a.token, b.token);
        assert!(a.required);
        assert!(a.matches(&a.token.clone()));
        assert!(!a.matches(&a.token[..31]));
        assert!(!Access::new("127.0.0.1:1".parse().unwrap()).required);
    }

    #[test]
    fn origin_must_name_the_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8787".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8787".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
    }
}
