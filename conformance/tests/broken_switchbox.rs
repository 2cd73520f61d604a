//! A deliberately broken switchbox: ferrocom's switchbox behind a TLS proxy that injects
//! one fault into the streams it relays. The suite must report exactly the clauses each
//! fault violates — and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrocom_conformance::case::CaseSettings;
use ferrocom_conformance::targets::{InProcessTarget, StartFuture, Started, TaskGuard};
use ferrocom_conformance::{
    DevTls, Report, Role, RunOptions, RuntimeSwitchbox, TlsProvider, Verdict, run_in_process,
};
use ferrocom_runtime::net::tls::{self, TlsAcceptor, TlsConnector};
use ferrocom_runtime::switchbox::hello;
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::ClientHandshake;
use ferrocom_wire::switchbox::{Message, MessageBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The faults the double can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Strips NEW_CONNECTION from what goes to a service (violates SWB-17-3).
    NoNewConnection,
    /// Strips CONNECTION_DROPPED from what goes to a service (violates SWB-17-4).
    NoConnectionDropped,
    /// Swallows a service's stream from the first message with an invalid code on: the
    /// switchbox never sees it, so the connection stays open (violates SWB-17-7).
    IgnoresInvalidCodes,
    /// Flips a bit in the first data byte of every message of 2048 bytes or more that
    /// goes to a service (violates SWB-17-11).
    CorruptsLargeData,
    /// Keeps a client that names no network or another one than the served network
    /// connected, silently (violates SWB-17-10).
    KeepsUnknownNetworks,
}

/// What a relayed connection is, from its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    Service,
    Client,
    /// Held open by [`Fault::KeepsUnknownNetworks`], never forwarded.
    Kept,
    /// Not a well-formed handshake: relayed as it is, for the switchbox to refuse.
    Other,
}

/// Walks a multiplexed stream message by message, its headers classified by the
/// generated codec, and lets the fault drop or alter messages; data bytes stream
/// through as they arrive.
#[derive(Debug, Default)]
struct Walker {
    buf: Vec<u8>,
    data_left: usize,
    data_pos: usize,
    corrupt: bool,
    /// After a header the codec refused: everything passes as it is ...
    raw: bool,
    /// ... or, swallowing, nothing does.
    swallow: bool,
}

impl Walker {
    fn feed(&mut self, bytes: &[u8], fault: Fault, to_service: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if self.swallow {
            return out;
        }
        if self.raw {
            out.extend_from_slice(bytes);
            return out;
        }
        self.buf.extend_from_slice(bytes);
        let mut pos = 0;
        loop {
            let rest = &self.buf[pos..];
            if self.data_left > 0 {
                let n = self.data_left.min(rest.len());
                if n == 0 {
                    break;
                }
                let start = out.len();
                out.extend_from_slice(&rest[..n]);
                if self.corrupt && self.data_pos == 0 {
                    out[start] ^= 0x01;
                }
                self.data_pos += n;
                self.data_left -= n;
                pos += n;
                continue;
            }
            if rest.len() < 6 {
                break;
            }
            let head = &rest[..6];
            match Message::decode(head) {
                Ok(Decoded::Complete(m, used)) => {
                    let stripped = to_service
                        && matches!(
                            (fault, m.body),
                            (Fault::NoNewConnection, MessageBody::NewConnection)
                                | (Fault::NoConnectionDropped, MessageBody::ConnectionDropped)
                        );
                    if !stripped {
                        out.extend_from_slice(&head[..used]);
                    }
                    pos += used;
                }
                Ok(Decoded::Incomplete(more)) => {
                    // A data message: its header now, its data as they come.
                    out.extend_from_slice(head);
                    self.data_left = more;
                    self.data_pos = 0;
                    self.corrupt = to_service && fault == Fault::CorruptsLargeData && more >= 2048;
                    pos += 6;
                }
                Err(_) => {
                    if !to_service && fault == Fault::IgnoresInvalidCodes {
                        self.swallow = true;
                    } else {
                        self.raw = true;
                        out.extend_from_slice(rest);
                    }
                    pos = self.buf.len();
                    break;
                }
            }
        }
        self.buf.drain(..pos);
        out
    }
}

/// One direction of a service connection after the handshake: the authentication frame
/// passes as it is, the multiplexed messages go through the walker.
#[derive(Debug)]
struct ServiceStream {
    to_service: bool,
    auth_done: bool,
    pending: Vec<u8>,
    walker: Walker,
}

impl ServiceStream {
    fn new(to_service: bool) -> Self {
        ServiceStream {
            to_service,
            auth_done: false,
            pending: Vec::new(),
            walker: Walker::default(),
        }
    }

    fn feed(&mut self, bytes: &[u8], fault: Fault) -> Vec<u8> {
        if self.auth_done {
            return self.walker.feed(bytes, fault, self.to_service);
        }
        self.pending.extend_from_slice(bytes);
        match hello::decode_auth(&self.pending) {
            Ok(Decoded::Incomplete(_)) => Vec::new(),
            Ok(Decoded::Complete(_, used)) => {
                self.auth_done = true;
                let rest = self.pending.split_off(used);
                let mut out = std::mem::take(&mut self.pending);
                out.extend(self.walker.feed(&rest, fault, self.to_service));
                out
            }
            Err(_) => {
                // For the switchbox to refuse.
                self.auth_done = true;
                self.walker.raw = true;
                std::mem::take(&mut self.pending)
            }
        }
    }
}

struct Proxy {
    fault: Fault,
    network: String,
    upstream: SocketAddr,
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

/// Relays one connection: TLS from the suite, TLS to the switchbox.
async fn relay(p: Arc<Proxy>, down: TcpStream) {
    let Ok(down) = p.acceptor.accept(down).await else {
        return;
    };
    let Ok(up) = TcpStream::connect(p.upstream).await else {
        return;
    };
    let Ok(up) = tls::connect(&p.connector, "localhost", up).await else {
        return;
    };
    let (mut dr, mut dw) = tokio::io::split(down);
    let (mut ur, mut uw) = tokio::io::split(up);
    let (conn_tx, conn_rx) = oneshot::channel::<Conn>();
    let fault = p.fault;

    // Switchbox → suite.
    let to_suite = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        // The mark byte: the switchbox sends nothing else before the handshake, which is
        // forwarded only once the connection's kind is known.
        match ur.read(&mut buf).await {
            Ok(n) if n > 0 => {
                if dw.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            _ => {
                let _ = dw.shutdown().await;
                return;
            }
        }
        let conn = conn_rx.await.unwrap_or(Conn::Other);
        if conn == Conn::Kept {
            return;
        }
        let mut stream = ServiceStream::new(true);
        loop {
            let n = match ur.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let out = if conn == Conn::Service {
                stream.feed(&buf[..n], fault)
            } else {
                buf[..n].to_vec()
            };
            if dw.write_all(&out).await.is_err() || dw.flush().await.is_err() {
                break;
            }
        }
        let _ = dw.shutdown().await;
    });

    // Suite → switchbox: the handshake decides what the connection is.
    let mut buf = vec![0u8; 32 * 1024];
    let mut hs = Vec::new();
    let (conn, used) = loop {
        let n = match dr.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = uw.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        hs.extend_from_slice(&buf[..n]);
        match ClientHandshake::decode(&hs) {
            Ok(Decoded::Complete(h, used)) => {
                let conn = match h.client_type.role {
                    hello::ROLE_SERVICE => Conn::Service,
                    _ if fault == Fault::KeepsUnknownNetworks
                        && h.network != Some(p.network.as_str()) =>
                    {
                        Conn::Kept
                    }
                    _ => Conn::Client,
                };
                break (conn, used);
            }
            Ok(Decoded::Incomplete(_)) => {}
            Err(_) => break (Conn::Other, hs.len()),
        }
    };
    let _ = conn_tx.send(conn);
    if conn == Conn::Kept {
        while matches!(dr.read(&mut buf).await, Ok(n) if n > 0) {}
        to_suite.abort();
        return;
    }
    let mut stream = ServiceStream::new(false);
    let mut out = hs[..used].to_vec();
    let rest = &hs[used..];
    if conn == Conn::Service {
        out.extend(stream.feed(rest, fault));
    } else {
        out.extend_from_slice(rest);
    }
    loop {
        if uw.write_all(&out).await.is_err() || uw.flush().await.is_err() {
            break;
        }
        let n = match dr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        out = if conn == Conn::Service {
            stream.feed(&buf[..n], fault)
        } else {
            buf[..n].to_vec()
        };
    }
    let _ = uw.shutdown().await;
}

/// ferrocom's switchbox behind the faulty proxy.
struct BrokenSwitchbox {
    fault: Fault,
    inner: RuntimeSwitchbox,
    front: DevTls,
}

impl BrokenSwitchbox {
    fn new(fault: Fault) -> Self {
        BrokenSwitchbox {
            fault,
            inner: RuntimeSwitchbox::new().unwrap(),
            front: DevTls::generate().unwrap(),
        }
    }
}

impl InProcessTarget for BrokenSwitchbox {
    fn role(&self) -> Role {
        Role::Switchbox
    }

    fn start(&self, _suite: Option<SocketAddr>) -> StartFuture<'_> {
        Box::pin(async move {
            let inner = self.inner.start(None).await?;
            let proxy = Arc::new(Proxy {
                fault: self.fault,
                network: self.inner.network.clone(),
                upstream: inner.addr,
                acceptor: tls::acceptor(
                    self.front.0.server_chain.clone(),
                    self.front.0.server_key().unwrap(),
                )
                .unwrap(),
                connector: tls::connector(&self.inner.tls.trust()).unwrap(),
            });
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let task = tokio::spawn(async move {
                // Keeps the switchbox running as long as the proxy.
                let _inner = inner;
                while let Ok((tcp, _)) = listener.accept().await {
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(relay(proxy.clone(), tcp));
                }
            });
            Ok(Started {
                addr,
                role: Role::Switchbox,
                name: format!("broken-switchbox-{:?}", self.fault),
                guard: TaskGuard::new(vec![task]),
            })
        })
    }

    fn tls(&self) -> Option<Arc<dyn TlsProvider>> {
        Some(Arc::new(self.front.client_provider().unwrap()))
    }

    fn adjust(&self, settings: &mut CaseSettings) {
        self.inner.adjust(settings);
    }
}

async fn run_double(fault: Fault) -> Report {
    let mut opts = RunOptions {
        progress: false,
        skip_slow: true,
        ..RunOptions::default()
    };
    // Most cases of a fault wait for something that never comes.
    opts.settings.reply_timeout = Duration::from_secs(1);
    run_in_process(&BrokenSwitchbox::new(fault), &opts).await
}

/// Failing and non-strict cases, without the non-strict verdict ferrocom's own
/// switchbox gets too (a second service of the same account takes the network over).
fn judged(r: &Report) -> BTreeSet<(String, Verdict, Vec<String>)> {
    r.failures()
        .into_iter()
        .filter(|(id, v, _)| !(id == "SWB-17-9#w1" && *v == Verdict::NonStrict))
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, Verdict, Vec<String>)> {
    items
        .iter()
        .map(|(id, c)| (id.to_string(), Verdict::Fail, vec![c.to_string()]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_new_connection_every_client_fails_17_3() {
    let r = run_double(Fault::NoNewConnection).await;
    let blamed: BTreeSet<String> = judged(&r).into_iter().flat_map(|(_, _, c)| c).collect();
    assert_eq!(
        blamed,
        BTreeSet::from(["SWB-17-3".to_string()]),
        "{}",
        r.console_summary()
    );
    // Every case with a client fails; the login alone needs none.
    assert_eq!(
        r.summary.fail,
        r.summary.total - 2,
        "{}",
        r.console_summary()
    );
    let login = r.cases.iter().find(|c| c.id == "SWB-17-8#w1").unwrap();
    assert_eq!(login.verdict, Verdict::Pass);
    assert!(!r.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_connection_dropped_the_17_4_cases_fail() {
    let r = run_double(Fault::NoConnectionDropped).await;
    assert_eq!(
        judged(&r),
        set(&[
            ("SWB-17-4#w1", "SWB-17-4"),
            ("SWB-17-2#w2", "SWB-17-4"),
            ("SWB-17-4#w3", "SWB-17-4"),
        ]),
        "{}",
        r.console_summary()
    );
    assert_eq!(r.new_failures.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignoring_invalid_codes_fails_17_7() {
    let r = run_double(Fault::IgnoresInvalidCodes).await;
    assert_eq!(
        judged(&r),
        set(&[
            ("SWB-17-7#w1", "SWB-17-7"),
            ("SWB-17-7#w2", "SWB-17-7"),
            ("SWB-17-7#w3", "SWB-17-7"),
        ]),
        "{}",
        r.console_summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupting_data_fails_17_11() {
    let r = run_double(Fault::CorruptsLargeData).await;
    assert_eq!(
        judged(&r),
        set(&[("SWB-17-11#w1", "SWB-17-11")]),
        "{}",
        r.console_summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeping_clients_of_unknown_networks_fails_17_10() {
    let r = run_double(Fault::KeepsUnknownNetworks).await;
    assert_eq!(
        judged(&r),
        set(&[("SWB-17-10#w1", "SWB-17-10"), ("SWB-17-10#w2", "SWB-17-10")]),
        "{}",
        r.console_summary()
    );
}
