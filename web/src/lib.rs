#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod api;
mod assets;
mod error;
mod history;
mod json;
mod session;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrocom_runtime::server::ServerHandle;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

pub use error::ApiError;

/// How to run the signal browser.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Address to listen on (port 0: the system picks one; see [`WebHandle::local_addr`]).
    pub addr: SocketAddr,
    /// Values kept per signal for the history plot.
    pub history_len: usize,
    /// How long a login lasts.
    pub session_ttl: Duration,
}

impl WebConfig {
    /// Listen on `addr`; 300 values of history per signal, logins valid 12 hours.
    pub fn new(addr: SocketAddr) -> Self {
        WebConfig {
            addr,
            history_len: 300,
            session_ttl: Duration::from_secs(12 * 3600),
        }
    }
}

/// Starts the signal browser.
#[derive(Debug)]
pub struct Web;

/// A running signal browser; [`WebHandle::shutdown`] stops it.
#[derive(Debug)]
pub struct WebHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    serve: JoinHandle<()>,
    recorder: JoinHandle<()>,
}

/// What the handlers share.
pub(crate) struct AppState {
    pub server: Arc<ServerHandle>,
    pub history: history::History,
    pub sessions: session::Sessions,
    /// Server events as the page receives them, stamped once by the recorder so the live
    /// stream and the history agree on times.
    pub live: broadcast::Sender<history::LiveEvent>,
    pub stop: watch::Receiver<bool>,
}

impl Web {
    /// Binds `cfg.addr` and serves the page and the API for `server` until
    /// [`WebHandle::shutdown`].
    pub async fn start(server: Arc<ServerHandle>, cfg: WebConfig) -> io::Result<WebHandle> {
        let listener = TcpListener::bind(cfg.addr).await?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = watch::channel(false);
        // Room for bursts (a key frame of a big device changes every signal at once); a
        // page that still falls behind is told to reload.
        let (live, _) = broadcast::channel(4096);
        let state = Arc::new(AppState {
            history: history::History::new(cfg.history_len),
            sessions: session::Sessions::new(cfg.session_ttl),
            server: server.clone(),
            live: live.clone(),
            stop: stop_rx.clone(),
        });
        // Subscribe before serving, so no change between the two is lost.
        let events = server.subscribe();
        let recorder = tokio::spawn(history::record(state.clone(), events, stop_rx.clone()));
        let app = api::router(state);
        let mut stop = stop_rx;
        let serve = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!("signal browser stopped: {e}");
            }
        });
        tracing::info!("signal browser on http://{addr}/");
        Ok(WebHandle {
            addr,
            stop: stop_tx,
            serve,
            recorder,
        })
    }
}

impl WebHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening, ends the live streams and waits until the page's connections are
    /// closed; afterwards the web part holds no reference to the server any more.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.serve.await;
        let _ = self.recorder.await;
    }
}
