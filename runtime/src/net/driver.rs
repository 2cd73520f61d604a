//! Runs one sans-I/O [`Connection`] over any `AsyncRead + AsyncWrite` byte stream with
//! tokio timers.
//!
//! ```text
//!   stream.read ──► handle_input ─┐          ┌─► poll_transmit ──► stream.write
//!   sleep_until(poll_timeout) ────┼─ lock ───┤
//!   wake.notified() (app wrote) ──┘  Root    └─► poll_event ──► Host::event
//! ```
//!
//! The [`Root`] lives in the role's state behind a `std::sync::Mutex` (see the "Runtime"
//! section of `ENGINE.md`): every engine call is made under the lock, and the lock is
//! never held across an `.await`. An application that writes a block wakes the
//! connection through the [`Notify`] handed to [`Host::opened`].

use std::fmt;
use std::io;
use std::string::String;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use std::vec;
use std::vec::Vec;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::iocom::{
    Connection, ConnectionConfig, ConnectionError, ConnectionId, Event, Root, Transport,
};

/// The role a connection belongs to (server or device): owns the [`Root`] and hears
/// about everything the engine reports.
pub trait Host: Send + Sync + 'static {
    /// State shared by all connections of the role, the [`Root`] included.
    type State: Send;

    /// The lock around the state.
    fn state(&self) -> &Mutex<Self::State>;
    /// The root inside the state.
    fn root(state: &mut Self::State) -> &mut Root;
    /// Time zero of the engine's millisecond clock.
    fn epoch(&self) -> Instant;
    /// A connection was registered in the root; `wake` makes its driver transmit.
    fn opened(&self, state: &mut Self::State, conn: ConnectionId, wake: Arc<Notify>, label: &str);
    /// An engine event. `Err(reason)` drops the connection (a policy stricter than the
    /// engine's, e.g. refusing unknown system frames).
    fn event(
        &self,
        state: &mut Self::State,
        conn: ConnectionId,
        event: Event,
    ) -> Result<(), String>;
    /// Called before each transmission: re-`send` blocks whose changes could not go
    /// into a snapshot yet.
    fn before_transmit(&self, _state: &mut Self::State) {}
    /// The connection is gone for good (after its last events).
    fn closed(&self, state: &mut Self::State, conn: ConnectionId, reason: &DriveEnd);
}

/// Why [`drive`] returned.
#[derive(Debug)]
#[non_exhaustive]
pub enum DriveEnd {
    /// The peer closed the stream; `mid_frame` bytes of an incomplete frame (or
    /// handshake) were left over (0 = a clean close between frames).
    PeerClosed {
        /// Bytes of the truncated frame.
        mid_frame: usize,
    },
    /// Reading or writing the stream failed.
    Io(io::Error),
    /// The peer broke the protocol (the engine's verdict).
    Protocol(ConnectionError),
    /// The role refused something the engine tolerates.
    Refused(String),
    /// The task was stopped (shutdown).
    Stopped,
}

impl fmt::Display for DriveEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveEnd::PeerClosed { mid_frame: 0 } => f.write_str("peer closed the connection"),
            DriveEnd::PeerClosed { mid_frame } => write!(
                f,
                "peer closed the connection in the middle of a frame (truncated frame, {mid_frame} bytes received)"
            ),
            DriveEnd::Io(e) => write!(f, "transport error: {e}"),
            DriveEnd::Protocol(e) => write!(f, "protocol error: {e}"),
            DriveEnd::Refused(r) => write!(f, "refused: {r}"),
            DriveEnd::Stopped => f.write_str("stopped"),
        }
    }
}

fn lock<H: Host>(host: &H) -> MutexGuard<'_, H::State> {
    // A panic elsewhere must not take every connection down with it.
    host.state().lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Closes the connection in the root when the driver ends, also when its task is
/// aborted.
struct Guard<'h, H: Host> {
    host: &'h H,
    conn: Option<Connection>,
}

impl<H: Host> Drop for Guard<'_, H> {
    fn drop(&mut self) {
        // Only reached with a connection left when the task was aborted.
        let Some(conn) = self.conn.take() else {
            return;
        };
        let id = conn.id();
        let mut st = lock(self.host);
        for e in conn.close(H::root(&mut st)) {
            let _ = self.host.event(&mut st, id, e);
        }
        self.host.closed(&mut st, id, &DriveEnd::Stopped);
    }
}

/// Runs one IOCOM connection over `stream` until the peer goes away, the protocol
/// breaks or the task is aborted. `label` names the peer in log lines (its address).
///
/// A socket connection ends at its first error. A serial connection keeps the port:
/// after an error the engine has restarted the link procedure, so the driver logs the
/// error and carries on; only end of stream or an I/O error ends it.
pub async fn drive<H: Host, S: AsyncRead + AsyncWrite + Unpin>(
    host: &H,
    mut stream: S,
    cfg: ConnectionConfig,
    label: &str,
) -> DriveEnd {
    let epoch = host.epoch();
    let serial = cfg.transport == Transport::Serial;
    let wake = Arc::new(Notify::new());
    let conn = {
        let mut st = lock(host);
        let conn = Connection::new(H::root(&mut st), cfg, now_ms(epoch));
        host.opened(&mut st, conn.id(), wake.clone(), label);
        conn
    };
    let mut g = Guard {
        host,
        conn: Some(conn),
    };
    let end = run(&mut g, &mut stream, &wake, epoch, serial, label).await;
    if !matches!(end, DriveEnd::Io(_)) {
        // TCP FIN / TLS close_notify, so the peer sees a clean end.
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
    }
    match &end {
        DriveEnd::PeerClosed { mid_frame: 0 } | DriveEnd::Stopped => {
            tracing::info!(peer = label, "IOCOM connection closed: {end}");
        }
        _ => tracing::warn!(peer = label, "IOCOM connection dropped: {end}"),
    }
    if let Some(conn) = g.conn.take() {
        let id = conn.id();
        let mut st = lock(host);
        for e in conn.close(H::root(&mut st)) {
            let _ = host.event(&mut st, id, e);
        }
        host.closed(&mut st, id, &end);
    }
    end
}

async fn run<H: Host, S: AsyncRead + AsyncWrite + Unpin>(
    g: &mut Guard<'_, H>,
    stream: &mut S,
    wake: &Notify,
    epoch: Instant,
    serial: bool,
    label: &str,
) -> DriveEnd {
    let host = g.host;
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    loop {
        // Everything due now: timers, then output.
        let deadline = {
            let mut st = lock(host);
            let Some(conn) = g.conn.as_mut() else {
                return DriveEnd::Stopped;
            };
            let now = now_ms(epoch);
            let mut failure = None;
            if conn.poll_timeout().is_some_and(|t| t <= now)
                && let Err(e) = conn.handle_timeout(H::root(&mut st), now)
            {
                failure = Some(e);
            }
            host.before_transmit(&mut st);
            // Changes written while the previous snapshot was still going out were
            // withheld (ENGINE.md departure 9); once it is out they can be sent, and no
            // wake-up will come for them, so go round until nothing more is produced.
            while conn.poll_transmit(H::root(&mut st), now, &mut out) > 0 {
                host.before_transmit(&mut st);
            }
            if let Some(end) = drain(host, &mut st, conn, now) {
                return end;
            }
            if let Some(e) = failure {
                if !serial {
                    return DriveEnd::Protocol(e);
                }
                tracing::warn!(peer = label, "IOCOM serial link restarted: {e}");
            }
            conn.poll_timeout()
        };
        if !out.is_empty() {
            if let Err(e) = stream.write_all(&out).await {
                return DriveEnd::Io(e);
            }
            if let Err(e) = stream.flush().await {
                return DriveEnd::Io(e);
            }
            out.clear();
        }
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(epoch + Duration::from_millis(t)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            r = stream.read(&mut buf) => {
                let n = match r {
                    Ok(0) => {
                        let mid_frame = g.conn.as_ref().map_or(0, Connection::buffered_input);
                        return DriveEnd::PeerClosed { mid_frame };
                    }
                    Ok(n) => n,
                    // A TLS peer that closed without close_notify.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        let mid_frame = g.conn.as_ref().map_or(0, Connection::buffered_input);
                        return DriveEnd::PeerClosed { mid_frame };
                    }
                    Err(e) => return DriveEnd::Io(e),
                };
                let mut st = lock(host);
                let Some(conn) = g.conn.as_mut() else {
                    return DriveEnd::Stopped;
                };
                let now = now_ms(epoch);
                let input = buf.get(..n).unwrap_or_default();
                let result = conn.handle_input(H::root(&mut st), input, now);
                if let Some(end) = drain(host, &mut st, conn, now) {
                    return end;
                }
                if let Err(e) = result {
                    if !serial {
                        return DriveEnd::Protocol(e);
                    }
                    tracing::warn!(peer = label, "IOCOM serial link restarted: {e}");
                }
            }
            () = sleep => {}
            () = wake.notified() => {}
        }
    }
}

/// Hands the engine's events to the host; a refusal ends a socket connection (a serial
/// connection restarts its link procedure instead).
fn drain<H: Host>(
    host: &H,
    st: &mut H::State,
    conn: &mut Connection,
    now: u64,
) -> Option<DriveEnd> {
    let id = conn.id();
    let mut refused = None;
    while let Some(e) = conn.poll_event() {
        if let Err(reason) = host.event(st, id, e)
            && refused.is_none()
        {
            refused = Some(reason);
        }
    }
    let reason = refused?;
    if conn.config().transport == Transport::Serial {
        tracing::warn!("IOCOM serial link restarted: {reason}");
        conn.reset(H::root(st), now);
        while let Some(e) = conn.poll_event() {
            let _ = host.event(st, id, e);
        }
        return None;
    }
    Some(DriveEnd::Refused(reason))
}
