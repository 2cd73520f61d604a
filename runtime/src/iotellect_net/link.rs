//! One Iotellect [`Session`] driven over a tokio byte stream, shared by the agent and the
//! server roles: the session and the role's own state behind one lock, requests that
//! await their replies, and the loop that moves bytes, timers and events.

use std::collections::HashMap;
use std::fmt;
use std::format;
use std::string::{String, ToString};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use std::vec;
use std::vec::Vec;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use crate::iotellect::{Event, Millis, Refusal, RequestError, RequestId, Response, Session};

/// A request to the peer failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallError {
    /// The peer answered with a refusal (`D`, `E`, `L`, `M`, `AG-…`).
    Refused(Refusal),
    /// No reply within the session's request timeout.
    TimedOut,
    /// The request could not be sent (not started, too many pending, not encodable).
    Request(RequestError),
    /// A table in the reply (or one to send) could not be decoded (encoded).
    Table(String),
    /// The connection ended before the reply came; why.
    Closed(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Refused(r) => write!(f, "refused by the peer: {r}"),
            CallError::TimedOut => f.write_str("no reply from the peer in time"),
            CallError::Request(e) => write!(f, "{e}"),
            CallError::Table(e) => write!(f, "data table: {e}"),
            CallError::Closed(why) => write!(f, "connection closed: {why}"),
        }
    }
}

impl std::error::Error for CallError {}

impl From<RequestError> for CallError {
    fn from(e: RequestError) -> Self {
        CallError::Request(e)
    }
}

/// The session and the role's state `X`, behind one lock.
#[derive(Debug)]
pub(crate) struct LinkState<X> {
    pub session: Session,
    pub ext: X,
    waiters: HashMap<RequestId, oneshot::Sender<Response>>,
    closing: bool,
    /// Why the link ended, once it has.
    closed: Option<String>,
}

/// One connection's shared half: what handles hold.
pub(crate) struct Link<X> {
    state: Mutex<LinkState<X>>,
    wake: Notify,
    closed: Notify,
    epoch: Instant,
}

impl<X> fmt::Debug for Link<X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link").finish_non_exhaustive()
    }
}

impl<X> Link<X> {
    /// A link whose session is built for time zero of its clock.
    pub fn new(session: impl FnOnce(Millis) -> Session, ext: X) -> Self {
        Link {
            state: Mutex::new(LinkState {
                session: session(0),
                ext,
                waiters: HashMap::new(),
                closing: false,
                closed: None,
            }),
            wake: Notify::new(),
            closed: Notify::new(),
            epoch: Instant::now(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, LinkState<X>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn now(&self) -> Millis {
        Millis::try_from(self.epoch.elapsed().as_millis()).unwrap_or(Millis::MAX)
    }

    /// Has the drive loop write what the session queued.
    pub fn flush(&self) {
        self.wake.notify_one();
    }

    /// Makes a request with `make` and waits for its reply.
    pub async fn request(
        &self,
        make: impl FnOnce(&mut Session, Millis) -> Result<RequestId, RequestError>,
    ) -> Result<Vec<Vec<u8>>, CallError> {
        let rx = {
            let mut g = self.lock();
            if let Some(why) = &g.closed {
                return Err(CallError::Closed(why.clone()));
            }
            let id = make(&mut g.session, self.now())?;
            let (tx, rx) = oneshot::channel();
            g.waiters.insert(id, tx);
            rx
        };
        self.flush();
        match rx.await {
            Ok(Response::Ok(params)) => Ok(params),
            Ok(Response::Refused(r)) => Err(CallError::Refused(r)),
            Ok(Response::TimedOut) => Err(CallError::TimedOut),
            Err(_) => Err(CallError::Closed(
                self.closed_reason()
                    .unwrap_or_else(|| "connection lost".into()),
            )),
        }
    }

    /// Asks the drive loop to close the connection.
    pub fn close(&self) {
        self.lock().closing = true;
        self.flush();
    }

    /// Why the link ended, once it has.
    pub fn closed_reason(&self) -> Option<String> {
        self.lock().closed.clone()
    }

    /// Waits until the link has ended; returns why.
    pub async fn wait_closed(&self) -> String {
        loop {
            let notified = self.closed.notified();
            if let Some(why) = self.closed_reason() {
                return why;
            }
            notified.await;
        }
    }

    fn mark_closed(&self, why: &str) {
        let mut g = self.lock();
        if g.closed.is_none() {
            g.closed = Some(why.into());
        }
        // Waiting requests learn of it from their dropped senders.
        g.waiters.clear();
        drop(g);
        self.closed.notify_waiters();
    }
}

/// Runs the link over `stream` until it ends; returns why. `on_event` sees every event
/// but request responses (those go to their waiters), with the lock held, and may use
/// the session (replies, events).
pub(crate) async fn drive<S, X>(
    link: &Link<X>,
    stream: S,
    mut on_event: impl FnMut(&mut LinkState<X>, Event, Millis),
) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Also when the task running this future is aborted (a server shutting down):
    // waiting requests must not wait forever.
    let mut guard = CloseOnDrop { link, why: None };
    let why = drive_inner(link, stream, &mut on_event).await;
    guard.why = Some(why.clone());
    why
}

struct CloseOnDrop<'a, X> {
    link: &'a Link<X>,
    why: Option<String>,
}

impl<X> Drop for CloseOnDrop<'_, X> {
    fn drop(&mut self) {
        self.link.mark_closed(
            self.why
                .as_deref()
                .unwrap_or("the connection task was stopped"),
        );
    }
}

async fn drive_inner<S, X>(
    link: &Link<X>,
    stream: S,
    on_event: &mut impl FnMut(&mut LinkState<X>, Event, Millis),
) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::with_capacity(16 * 1024);
    loop {
        let (deadline, closing) = {
            let mut g = link.lock();
            dispatch(&mut g, link.now(), on_event);
            g.session.poll_transmit(&mut out);
            (g.session.poll_timeout(), g.closing)
        };
        if !out.is_empty() {
            if let Err(e) = wr.write_all(&out).await {
                return format!("write failed: {e}");
            }
            out.clear();
        }
        if closing {
            let _ = wr.shutdown().await;
            return "closed by this end".into();
        }
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(link.epoch + Duration::from_millis(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = rd.read(&mut buf) => {
                let n = match r {
                    Ok(0) => return "the peer closed the connection".into(),
                    Ok(n) => n,
                    Err(e) => return format!("read failed: {e}"),
                };
                let mut g = link.lock();
                let now = link.now();
                let r = g.session.handle_input(&buf[..n], now);
                // Events before an error (e.g. requests answered in the same chunk) are
                // still handled, but nothing more is written after it.
                dispatch(&mut g, now, on_event);
                if let Err(e) = r {
                    return e.to_string();
                }
            }
            _ = link.wake.notified() => {}
            _ = sleep => {
                let mut g = link.lock();
                if let Err(e) = g.session.handle_timeout(link.now()) {
                    return e.to_string();
                }
            }
        }
    }
}

fn dispatch<X>(
    g: &mut LinkState<X>,
    now: Millis,
    on_event: &mut impl FnMut(&mut LinkState<X>, Event, Millis),
) {
    while let Some(e) = g.session.poll_event() {
        match e {
            Event::Response { id, response } => {
                if let Some(tx) = g.waiters.remove(&id) {
                    let _ = tx.send(response);
                }
            }
            other => on_event(g, other, now),
        }
    }
}
