//! The web app: an HTTP server (`stretchwatch serve`) with the live page and the review pages.
//!
//! The server is an edge over the one session engine, like the terminal view: [`live`] runs the
//! [`crate::live::LiveSession`] and attaches a sink that publishes its frames, events and cues;
//! the page only draws what it is sent and sends back the same commands as the keyboard. The
//! review pages read the store ([`review`]). Every request passes [`auth`] first. The pages,
//! styles and scripts are compiled into the binary ([`assets`]); nothing is read from disk for a
//! URL, so no path outside the app can be served.

pub mod assets;
pub mod auth;
pub mod cues;
pub mod live;
pub mod review;

use auth::Access;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use live::{HubCommand, LiveHub};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Request bodies larger than this are refused (413).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Errors of the web layer.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// An export failed.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// No such session or file.
    #[error("not found")]
    NotFound,
    /// The request is malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
    /// The live session could not run.
    #[error("live session: {0}")]
    Live(String),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Live(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, self.to_string()).into_response()
    }
}

/// What the routes share.
#[derive(Clone)]
pub struct AppState {
    /// Access rules.
    pub access: Arc<Access>,
    /// The live session driver.
    pub hub: Arc<LiveHub>,
    /// Session database.
    pub db: PathBuf,
}

/// The whole app: pages, API, WebSocket, behind the access check and the body limit.
pub fn router(state: AppState) -> Router {
    let access = state.access.clone();
    Router::new()
        .route("/", get(page_live))
        .route("/sessions", get(page_sessions))
        .route("/sessions/{id}", get(page_session))
        .route("/progress", get(page_progress))
        .route("/assets/{name}", get(asset))
        .route("/ws", get(ws))
        .route("/api/live/command", post(live_command))
        .route("/api/sessions", get(api_sessions))
        .route("/api/sessions/{id}", get(api_session))
        .route("/api/sessions/{id}/download/{kind}", get(api_download))
        .route("/api/progress", get(api_progress))
        .route("/api/goals", get(api_goals).post(api_set_goals))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(access, auth::check))
        .with_state(state)
}

fn page(state: &AppState, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // Scripts and styles only from this server; no framing by other sites.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'",
            ),
        ],
        assets::page(body, &state.access.token),
    )
        .into_response()
}

async fn page_live(State(s): State<AppState>) -> Response {
    page(&s, assets::LIVE_HTML)
}

async fn page_sessions(State(s): State<AppState>) -> Response {
    page(&s, assets::SESSIONS_HTML)
}

async fn page_session(State(s): State<AppState>, UrlPath(id): UrlPath<i64>) -> Response {
    let _ = id;
    page(&s, assets::SESSION_HTML)
}

async fn page_progress(State(s): State<AppState>) -> Response {
    page(&s, assets::PROGRESS_HTML)
}

async fn asset(UrlPath(name): UrlPath<String>) -> Response {
    match assets::asset(&name) {
        Some((mime, body)) => (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

async fn ws(State(s): State<AppState>, up: WebSocketUpgrade) -> Response {
    up.on_upgrade(move |socket| push(socket, s.hub))
}

/// Sends the latest state, then every message, to one page. A page too slow to keep up skips
/// to the newest messages instead of holding the session back.
async fn push(mut socket: WebSocket, hub: Arc<LiveHub>) {
    let (latest, mut rx) = hub.subscribe();
    if let Some(m) = latest
        && socket
            .send(Message::Text(m.to_string().into()))
            .await
            .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Ok(m) => {
                    if socket.send(Message::Text(m.to_string().into())).await.is_err() {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            },
            r = socket.recv() => match r {
                // The page sends nothing but pings; a close or error ends it.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// A command from the live page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    command: String,
}

async fn live_command(
    State(s): State<AppState>,
    body: axum::Json<CommandBody>,
) -> Result<StatusCode, WebError> {
    use crate::live::Command;
    let c = match body.command.as_str() {
        "start" => HubCommand::Start,
        "stop" => HubCommand::Stop,
        "toggle_block" => HubCommand::Session(Command::ToggleBlock),
        "switch_side" => HubCommand::Session(Command::SwitchSide),
        "switch_stretch" => HubCommand::Session(Command::SwitchStretch),
        "recalibrate" => HubCommand::Session(Command::Recalibrate),
        other => return Err(WebError::BadRequest(format!("unknown command '{other}'"))),
    };
    s.hub.command(c)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a store read off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WebError> + Send + 'static,
) -> Result<T, WebError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WebError::Live(e.to_string()))?
}

async fn api_sessions(
    State(s): State<AppState>,
) -> Result<axum::Json<serde_json::Value>, WebError> {
    blocking(move || review::sessions(&s.db))
        .await
        .map(axum::Json)
}

async fn api_session(
    State(s): State<AppState>,
    UrlPath(id): UrlPath<i64>,
) -> Result<axum::Json<serde_json::Value>, WebError> {
    blocking(move || review::session(&s.db, id))
        .await
        .map(axum::Json)
}

async fn api_download(
    State(s): State<AppState>,
    UrlPath((id, kind)): UrlPath<(i64, String)>,
) -> Result<Response, WebError> {
    let (name, bytes) = blocking(move || review::download(&s.db, id, &kind)).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn api_progress(
    State(s): State<AppState>,
) -> Result<axum::Json<serde_json::Value>, WebError> {
    blocking(move || review::progress(&s.db))
        .await
        .map(axum::Json)
}

async fn api_goals(State(s): State<AppState>) -> axum::Json<review::Goals> {
    axum::Json(review::goals(&s.db))
}

async fn api_set_goals(
    State(s): State<AppState>,
    body: axum::Json<review::Goals>,
) -> Result<StatusCode, WebError> {
    let g = body.0;
    blocking(move || review::save_goals(&s.db, &g)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The URL to open: the bound address (a listen-on-all address is shown as this computer's
/// address on the network), with the token when it is needed.
pub fn open_url(access: &Access) -> String {
    let addr = access.addr;
    let host = if addr.ip().is_unspecified() {
        local_ip().unwrap_or_else(|| "127.0.0.1".parse().expect("literal address"))
    } else {
        addr.ip()
    };
    let host = match host {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    if access.required {
        format!("http://{host}:{}/?token={}", addr.port(), access.token)
    } else {
        format!("http://{host}:{}/", addr.port())
    }
}

/// This computer's address on the network: the one a UDP socket would send from (nothing is
/// sent).
fn local_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.168.0.1:9").ok()?;
    s.local_addr().ok().map(|a| a.ip())
}
