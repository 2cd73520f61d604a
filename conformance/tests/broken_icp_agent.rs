//! A deliberately broken Iotellect agent: ferrocom's agent (`ferrocom-icp-agent`)
//! behind a faulty proxy that rewrites the byte streams. The suite must report exactly
//! the clauses each fault violates — and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::SocketAddr;

use ferrocom_conformance::targets::{InProcessTarget, StartFuture, Started, TaskGuard};
use ferrocom_conformance::{Report, Role, RunOptions, RuntimeIcpAgent, Verdict, run_in_process};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iotellect::{
    BinaryFrame, BodyKind, Command, CommandBody, MessageBody, OperationBody, Reply, Start, V2Frame,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The faults the double can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Replies to operations carry another id than the message's (violates ICP-S-7).
    WrongReplyId,
    /// Messages before Start never reach the agent, so no `D` comes (ICP-S-3).
    NoDeniedBeforeStart,
    /// Commands of 128 bytes or less are compressed too (ICP-S-6).
    CompressesShortCommands,
    /// A Start proposing an unknown version is taken as 4 (ICP-S-2).
    AcceptsUnknownVersion,
    /// Remove listener is answered `A` by the proxy and never reaches the agent, which
    /// goes on sending events (ICP-S-10).
    IgnoresRemoveListener,
}

/// Frame parser for one direction of the proxy.
#[derive(Default)]
struct Dir {
    buf: Vec<u8>,
    binary: bool,
    /// Unparseable input seen: everything passes unchanged from now on.
    raw: bool,
}

enum Piece {
    /// Bytes outside frames, or anything once the stream stopped parsing.
    Bytes(Vec<u8>),
    /// A whole command and whether it came zlib-compressed.
    Command(Vec<u8>, bool),
}

impl Dir {
    fn pieces(&mut self, more: &[u8]) -> Vec<Piece> {
        self.buf.extend_from_slice(more);
        let mut out = Vec::new();
        loop {
            if self.raw {
                if !self.buf.is_empty() {
                    out.push(Piece::Bytes(std::mem::take(&mut self.buf)));
                }
                return out;
            }
            let Some(stx) = self.buf.iter().position(|&b| b == 0x02) else {
                if !self.buf.is_empty() {
                    out.push(Piece::Bytes(std::mem::take(&mut self.buf)));
                }
                return out;
            };
            if stx > 0 {
                out.push(Piece::Bytes(self.buf.drain(..stx).collect()));
            }
            if self.binary {
                match BinaryFrame::decode(&self.buf) {
                    Ok(Decoded::Complete(f, used)) => {
                        let piece = Piece::Command(f.body.to_vec(), f.kind == BodyKind::ZLIB);
                        self.buf.drain(..used);
                        out.push(piece);
                    }
                    Ok(Decoded::Incomplete(_)) => return out,
                    Err(_) => self.raw = true,
                }
            } else {
                match self.buf[1..].iter().position(|&b| b == 0x0D || b == 0x02) {
                    None => return out,
                    Some(i) if self.buf[1 + i] == 0x02 => {
                        out.push(Piece::Bytes(self.buf.drain(..=i).collect()));
                    }
                    Some(i) => {
                        let frame: Vec<u8> = self.buf.drain(..i + 2).collect();
                        match V2Frame::decode_exact(&frame) {
                            Ok(f) => out.push(Piece::Command(f.command.to_vec(), false)),
                            Err(_) => out.push(Piece::Bytes(frame)),
                        }
                    }
                }
            }
        }
    }

    fn frame(&self, body: &[u8], zlib: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if self.binary {
            let f = BinaryFrame {
                kind: if zlib { BodyKind::ZLIB } else { BodyKind::RAW },
                body: Cow::Borrowed(body),
            };
            f.encode(&mut out).unwrap();
        } else {
            V2Frame { command: body }.encode(&mut out).unwrap();
        }
        out
    }
}

fn encode(c: &Command<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    c.encode(&mut out).unwrap();
    out
}

/// One proxied connection: the suite's side and the agent's side.
struct Proxy {
    fault: Fault,
    to_agent: Dir,
    to_suite: Dir,
    /// Ids of the Starts the suite sent, and whether any Start came yet.
    starts: BTreeSet<String>,
    started: bool,
}

impl Proxy {
    /// Bytes from the suite; returns (to the agent, back to the suite).
    fn suite_wrote(&mut self, bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut agent, mut back) = (Vec::new(), Vec::new());
        for p in self.to_agent.pieces(bytes) {
            let (body, zlib) = match p {
                Piece::Bytes(b) => {
                    agent.extend(b);
                    continue;
                }
                Piece::Command(b, z) => (b, z),
            };
            let Ok(cmd) = Command::decode_exact(&body) else {
                agent.extend(self.to_agent.frame(&body, zlib));
                continue;
            };
            let mut out = body.clone();
            if let CommandBody::Message(m) = &cmd.body {
                match &m.body {
                    MessageBody::Start(s) => {
                        self.starts.insert(m.id.to_string());
                        self.started = true;
                        if self.fault == Fault::AcceptsUnknownVersion && s.version == Some("9") {
                            let mut m2 = m.clone();
                            m2.body = MessageBody::Start(Start { version: Some("4") });
                            out = encode(&Command {
                                body: CommandBody::Message(m2),
                            });
                        }
                    }
                    MessageBody::Operation(_)
                        if self.fault == Fault::NoDeniedBeforeStart && !self.started =>
                    {
                        continue;
                    }
                    MessageBody::Operation(o)
                        if self.fault == Fault::IgnoresRemoveListener
                            && matches!(o.body, OperationBody::RemoveListener(_)) =>
                    {
                        let ok = encode(&Command {
                            body: CommandBody::Reply(Reply {
                                id: m.id,
                                code: "A",
                                params: Vec::new(),
                            }),
                        });
                        back.extend(self.to_suite.frame(&ok, false));
                        continue;
                    }
                    _ => {}
                }
            }
            agent.extend(self.to_agent.frame(&out, zlib));
        }
        (agent, back)
    }

    /// Bytes from the agent, to the suite.
    fn agent_wrote(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut suite = Vec::new();
        for p in self.to_suite.pieces(bytes) {
            let (body, zlib) = match p {
                Piece::Bytes(b) => {
                    suite.extend(b);
                    continue;
                }
                Piece::Command(b, z) => (b, z),
            };
            let Ok(cmd) = Command::decode_exact(&body) else {
                suite.extend(self.to_suite.frame(&body, zlib));
                continue;
            };
            let mut out = body.clone();
            let mut switch = false;
            if let CommandBody::Reply(r) = &cmd.body {
                let to_start = self.starts.contains(r.id);
                if to_start && r.code == "A" {
                    // Both sides frame in V3/V4 after an accepted Start 3 or 4.
                    switch = matches!(r.params.first().map(|p| &p[..]), Some(b"3" | b"4"));
                }
                if self.fault == Fault::WrongReplyId && !to_start {
                    let id = format!("9{}", r.id);
                    out = encode(&Command {
                        body: CommandBody::Reply(Reply {
                            id: &id,
                            code: r.code,
                            params: r.params.clone(),
                        }),
                    });
                }
            }
            let zlib =
                zlib || (self.fault == Fault::CompressesShortCommands && self.to_suite.binary);
            suite.extend(self.to_suite.frame(&out, zlib));
            if switch {
                self.to_suite.binary = true;
                self.to_agent.binary = true;
            }
        }
        suite
    }
}

async fn pump(fault: Fault, mut agent: TcpStream, suite: SocketAddr) {
    let Ok(mut suite) = TcpStream::connect(suite).await else {
        return;
    };
    let mut p = Proxy {
        fault,
        to_agent: Dir::default(),
        to_suite: Dir::default(),
        starts: BTreeSet::new(),
        started: false,
    };
    let (mut a, mut s) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        tokio::select! {
            r = agent.read(&mut a) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let out = p.agent_wrote(&a[..n]);
                    if suite.write_all(&out).await.is_err() { break }
                }
            },
            r = suite.read(&mut s) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let (to_agent, back) = p.suite_wrote(&s[..n]);
                    if agent.write_all(&to_agent).await.is_err() { break }
                    if suite.write_all(&back).await.is_err() { break }
                }
            },
        }
    }
}

/// `ferrocom-icp-agent` connecting to the suite through the faulty proxy.
struct BrokenAgent {
    fault: Fault,
    inner: RuntimeIcpAgent,
}

impl InProcessTarget for BrokenAgent {
    fn role(&self) -> Role {
        Role::IcpAgent
    }

    fn start(&self, suite: Option<SocketAddr>) -> StartFuture<'_> {
        Box::pin(async move {
            let suite = suite.expect("the suite's address");
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let proxy_addr = listener.local_addr()?;
            let fault = self.fault;
            let proxy = tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    tokio::spawn(pump(fault, tcp, suite));
                }
            });
            let inner = self.inner.start(Some(proxy_addr)).await?;
            let (stop, stopped) = oneshot::channel::<()>();
            tokio::spawn(async move {
                let _ = stopped.await;
                drop(inner);
            });
            Ok(Started {
                addr: suite,
                role: Role::IcpAgent,
                name: format!("broken-icp-{fault:?}"),
                guard: TaskGuard::new(vec![proxy]).stop_with(stop),
            })
        })
    }

    fn adjust(&self, settings: &mut ferrocom_conformance::case::CaseSettings) {
        self.inner.adjust(settings);
    }
}

async fn run_double(fault: Fault) -> Report {
    let target = BrokenAgent {
        fault,
        inner: RuntimeIcpAgent::default(),
    };
    let opts = RunOptions {
        progress: false,
        ..RunOptions::default()
    };
    run_in_process(&target, &opts).await
}

type Judged = BTreeSet<(String, Verdict, Vec<String>)>;

fn judged(r: &Report) -> Judged {
    r.failures().into_iter().collect()
}

fn set(items: &[(&str, Verdict, &[&str])]) -> Judged {
    items
        .iter()
        .map(|(id, v, c)| {
            (
                id.to_string(),
                *v,
                c.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_denial_before_start_fails_exactly_s_3() {
    let r = run_double(Fault::NoDeniedBeforeStart).await;
    assert_eq!(
        judged(&r),
        set(&[("ICP-S-3#a1", Verdict::Fail, &["ICP-S-3"])]),
        "{}",
        r.console_summary()
    );
    assert!(!r.ok);
    assert_eq!(r.new_failures, ["ICP-S-3#a1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressing_short_commands_fails_exactly_s_6() {
    let r = run_double(Fault::CompressesShortCommands).await;
    assert_eq!(
        judged(&r),
        set(&[("ICP-S-6#a1", Verdict::Fail, &["ICP-S-6"])]),
        "{}",
        r.console_summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_an_unknown_version_fails_exactly_s_2() {
    let r = run_double(Fault::AcceptsUnknownVersion).await;
    assert_eq!(
        judged(&r),
        set(&[("ICP-S-2#a1", Verdict::Fail, &["ICP-S-2"])]),
        "{}",
        r.console_summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_after_remove_listener_fail_exactly_s_10() {
    let r = run_double(Fault::IgnoresRemoveListener).await;
    assert_eq!(
        judged(&r),
        set(&[("ICP-S-10#a1", Verdict::Fail, &["ICP-S-10"])]),
        "{}",
        r.console_summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_reply_ids_fail_s_7_wherever_an_operation_is_answered() {
    let r = run_double(Fault::WrongReplyId).await;
    // Every reply but those to Start carries a wrong id: each case that waits for one
    // blames ICP-S-7, and nothing else is blamed.
    let blamed: BTreeSet<String> = r.failures().into_iter().flat_map(|(_, _, c)| c).collect();
    assert_eq!(
        blamed,
        BTreeSet::from(["ICP-S-7".to_string()]),
        "{}",
        r.console_summary()
    );
    let failed: BTreeSet<String> = r.failures().into_iter().map(|(id, _, _)| id).collect();
    for id in [
        "ICP-S-7#a1",
        "ICP-S-8#a1",
        "ICP-S-9#a1",
        "ICP-S-3#a1",
        "ICP-4-3#a1",
    ] {
        assert!(
            failed.contains(id),
            "{id} not failed:\n{}",
            r.console_summary()
        );
    }
    // Cases that only exchange Start and its reply still pass.
    for id in ["ICP-S-1#a1", "ICP-S-1#a2", "ICP-S-2#a1", "ICP-3.1-1#a1"] {
        let c = r.cases.iter().find(|c| c.id == id).unwrap();
        assert_eq!(c.verdict, Verdict::Pass, "{id}: {}", c.message);
    }
}
