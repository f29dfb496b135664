//! `serve`: the web app. Binds the address, prints the URL to open (with the access token and a
//! QR code when listening beyond this computer), starts the live-session driver and serves
//! until Ctrl-C.

use super::InputError;
use anyhow::{Context, Result};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use stretchwatch::model::{SensorRole, Side, StretchType};
use stretchwatch::source::ble::Target;
use stretchwatch::web::{self, live};

/// Options of `stretchwatch serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Any address other than 127.0.0.1 (e.g. 0.0.0.0:8080 for a
    /// phone on the home network) requires the access token printed at start.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8787")]
    pub listen: String,
    /// Run live sessions from a simulated scenario (S1..S12 or a TOML file) instead of sensors.
    #[arg(long, value_name = "SCENARIO", conflicts_with_all = ["thigh", "shank", "pelvis"])]
    pub simulate: Option<String>,
    /// Sensor family the simulated sensors speak (`open`, `witmotion`, `movesense` or `movella_dot`).
    #[arg(long, default_value = "open")]
    pub sim_family: String,
    /// Play the simulation this many times faster than real time (demonstrations and tests).
    #[arg(long, default_value_t = 1.0)]
    pub sim_speed: f64,
    /// Thigh sensor: BLE address or advertised name.
    #[arg(long, value_name = "ID")]
    pub thigh: Option<String>,
    /// Shank sensor: BLE address or advertised name.
    #[arg(long, value_name = "ID")]
    pub shank: Option<String>,
    /// Pelvis sensor (optional): BLE address or advertised name.
    #[arg(long, value_name = "ID")]
    pub pelvis: Option<String>,
    /// Stretch type of the first block (supine, seated, standing).
    #[arg(long, default_value = "supine")]
    pub stretch: String,
    /// Stretched side of the first block (left, right).
    #[arg(long, default_value = "left")]
    pub side: String,
}

/// `stretchwatch serve`.
pub fn cmd_serve(args: ServeArgs, db: Option<PathBuf>) -> Result<()> {
    let addr: SocketAddr = args.listen.parse().map_err(|_| {
        InputError(format!(
            "--listen {}: expected ADDR:PORT such as 127.0.0.1:8787",
            args.listen
        ))
    })?;
    let stretch: StretchType = args
        .stretch
        .parse()
        .map_err(|e: String| InputError(format!("--stretch: {e}")))?;
    let side: Side = args
        .side
        .parse()
        .map_err(|e: String| InputError(format!("--side: {e}")))?;
    if !(0.1..=20.0).contains(&args.sim_speed) {
        return Err(InputError("--sim-speed must be 0.1 to 20".into()).into());
    }
    let sim = match &args.simulate {
        Some(name) => {
            stretchwatch::sim::Simulation::resolve(name).map_err(|e| InputError(e.to_string()))?;
            Some(live::SimSource {
                scenario: name.clone(),
                family: args.sim_family.parse().map_err(
                    |e: stretchwatch::protocol::ProtocolError| InputError(e.to_string()),
                )?,
                speed: args.sim_speed,
            })
        }
        None => None,
    };
    let mut targets = Vec::new();
    for (role, q) in [
        (SensorRole::Thigh, &args.thigh),
        (SensorRole::Shank, &args.shank),
        (SensorRole::Pelvis, &args.pelvis),
    ] {
        if let Some(q) = q {
            targets.push(Target {
                role,
                query: q.clone(),
            });
        }
    }
    if sim.is_none() && !targets.is_empty() && targets.len() < 2 {
        return Err(
            InputError("live sessions need --thigh and --shank (or --simulate)".into()).into(),
        );
    }
    let db = match db {
        Some(p) => p,
        None => stretchwatch::store::default_path()?,
    };
    let form = stretchwatch::form::FormConfig::default();
    let mut baselines = stretchwatch::session::Baselines::default();
    if db.exists() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        crate::review::history_baselines(&db, now, &mut baselines)?;
    }
    let can_run = sim.is_some() || !targets.is_empty();
    let driver = live::DriverConfig {
        live: stretchwatch::live::LiveConfig {
            devices: Vec::new(),
            stretch,
            side,
            profile: None,
            params: Default::default(),
            form,
            baselines,
        },
        sim,
        targets,
        db: Some(db.clone()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        let access = Arc::new(web::auth::Access::new(bound));
        let url = web::open_url(&access);
        {
            let mut o = std::io::stdout().lock();
            writeln!(o, "{url}")?;
            if access.required {
                let qr = qrcode::QrCode::new(url.as_bytes())?
                    .render::<qrcode::render::unicode::Dense1x2>()
                    .quiet_zone(true)
                    .build();
                // The URL line is what scripts read; whoever reads it may close the pipe after
                // it, and that must not stop the server.
                let _ = writeln!(o, "{qr}").and_then(|()| writeln!(
                    o,
                    "Open the address above on a phone or tablet on the same network (or scan the code). Anyone who has it can see your sessions: the connection is plain HTTP, so use it only on a network you trust."
                ));
            }
            let _ = o.flush();
        }
        eprintln!(
            "stretchwatch: serving {} (sessions in {}){}; Ctrl-C stops",
            bound,
            db.display(),
            if can_run {
                ""
            } else {
                "; review only: pass --thigh and --shank (or --simulate) for live sessions"
            }
        );
        let hub = live::spawn_driver(driver)?;
        let app = web::router(web::AppState { access, hub, db });
        use axum::serve::ListenerExt;
        // Messages are small and must leave at once: no Nagle delay on the WebSocket.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
