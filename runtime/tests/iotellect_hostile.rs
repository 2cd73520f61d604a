//! Misbehaving peers on real sockets. A fake server in front of ferrocom's agent and
//! fake agents in front of ferrocom's server send malformed commands (unknown codes,
//! broken escapes, nesting bombs, bad zlib, wrong and huge lengths, garbage) or die in
//! the middle of a frame: each is answered with an error reply where the protocol
//! allows, or its connection is dropped with a log line naming the fault; nothing
//! panics and other connections go on working.
#![cfg(all(feature = "iotellect", feature = "tokio"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Duration;

use ferrocom_runtime::iotellect::{Refusal, ReplyCode};
use ferrocom_runtime::iotellect_net::{
    Agent, AgentConfig, AgentNote, CallError, ConnectTo, Endpoint, Handler, IotellectServer,
    ServerConfig,
};
use ferrocom_runtime::net::client::Backoff;
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::datatable::{DataTable, FieldFormat, FieldType, TableFormat, Value};
use ferrocom_wire::iotellect::{BinaryFrame, BodyKind, V2Frame};
use support::{logs, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// `M/1/S/4`-style text with `/` for the separator 0x17, `<` `>` `=` for the table
/// separators.
fn cmd(text: &str) -> Vec<u8> {
    text.bytes()
        .map(|b| match b {
            b'/' => 0x17,
            b'<' => 0x1c,
            b'>' => 0x1d,
            b'=' => 0x1e,
            b => b,
        })
        .collect()
}

fn v2(command: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    V2Frame { command }.encode(&mut out).unwrap();
    out
}

fn binary(command: &[u8], kind: BodyKind) -> Vec<u8> {
    let mut out = Vec::new();
    BinaryFrame {
        kind,
        body: Cow::Borrowed(command),
    }
    .encode(&mut out)
    .unwrap();
    out
}

/// Reads frames from a socket: V2 until told otherwise, then V3/V4.
struct Peer {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    async fn fill(&mut self) -> bool {
        let mut b = [0u8; 4096];
        match within(Duration::from_secs(10), self.s.read(&mut b)).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&b[..n]);
                true
            }
        }
    }

    async fn v2(&mut self) -> Vec<u8> {
        loop {
            if let Ok(Decoded::Complete(f, used)) = V2Frame::decode(&self.buf) {
                let c = f.command.to_vec();
                self.buf.drain(..used);
                return c;
            }
            assert!(
                self.fill().await,
                "connection closed while waiting for a V2 frame"
            );
        }
    }

    async fn binary(&mut self) -> (BodyKind, Vec<u8>) {
        loop {
            if let Ok(Decoded::Complete(f, used)) = BinaryFrame::decode(&self.buf) {
                let r = (f.kind, f.body.into_owned());
                self.buf.drain(..used);
                return r;
            }
            assert!(
                self.fill().await,
                "connection closed while waiting for a frame"
            );
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.unwrap();
    }

    /// The peer closes the connection (reads return end of stream) without writing.
    async fn expect_dropped(&mut self) {
        let mut b = [0u8; 64];
        let r = within(Duration::from_secs(10), self.s.read(&mut b)).await;
        assert!(
            matches!(r, Ok(0) | Err(_)),
            "expected the connection to be dropped, read {r:?}"
        );
    }
}

// ---- a fake server in front of ferrocom's agent --------------------------------------

struct Vars;

impl Handler for Vars {
    fn get_variable(&mut self, _: &str, variable: &str) -> Result<DataTable, Refusal> {
        match variable {
            "date" => Ok(DataTable::new(TableFormat::single(FieldFormat::new(
                "value",
                FieldType::Integer,
            )))
            .with_record(vec![Value::Integer(42)])),
            _ => Err(Refusal::denied(format!(
                "Variable not available:{variable}"
            ))),
        }
    }

    fn set_variable(&mut self, _: &str, _: &str, _: DataTable) -> Result<(), Refusal> {
        Ok(())
    }
}

async fn fake_server() -> (
    TcpListener,
    Agent,
    tokio::sync::mpsc::UnboundedReceiver<AgentNote>,
) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = AgentConfig::new(
        ConnectTo::Tcp(l.local_addr().unwrap().to_string()),
        "rustpeer",
        "admin",
        "admin",
    );
    cfg.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
    };
    let (agent, notes) = Agent::start(cfg, Vars).unwrap();
    (l, agent, notes)
}

/// Accepts the agent and starts it (V4, with compression).
async fn accept_started(l: &TcpListener) -> Peer {
    let (s, _) = within(Duration::from_secs(10), l.accept()).await.unwrap();
    let mut p = Peer { s, buf: Vec::new() };
    p.send(&v2(&cmd("M/1/S/4"))).await;
    // Reference §6 example 6: the reply, in V2 framing.
    assert_eq!(p.v2().await, cmd("R/1/A/4/C"));
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_answers_the_reference_login_and_errors_without_dropping() {
    let _logs = logs();
    let (l, agent, _notes) = fake_server().await;
    let mut p = accept_started(&l).await;

    // Reference §6 example 8, inside a V4 frame: the Java agent's answer, byte for byte.
    p.send(&binary(&cmd("M/2/O/C//login/<R=<abc>>"), BodyKind::RAW))
        .await;
    assert_eq!(
        p.binary().await,
        (
            BodyKind::RAW,
            cmd("R/2/A/<R=<admin><rustpeer><7D61F71F34B0305AABC5D1CDD9D2A777>>")
        )
    );
    // Example 7 / 14: get with a table; unknown variable denied.
    p.send(&binary(&cmd("M/3/O/G//date"), BodyKind::RAW)).await;
    let (_, body) = p.binary().await;
    assert!(body.starts_with(&cmd("R/3/A/<F=")), "{:?}", show(&body));
    assert!(body.ends_with(&cmd("<R=<42>>")));
    p.send(&binary(&cmd("M/4/O/G//nosuch"), BodyKind::RAW))
        .await;
    assert_eq!(
        p.binary().await.1,
        cmd("R/4/D/Variable not available:nosuch")
    );

    // Malformed requests that carry an id: error replies, the link stays.
    let bomb = cmd(&format!("M/10/O/S//v/{}", nesting_bomb(5_000)));
    let mut not_utf8 = cmd("M/11/O/S//v/<R=<");
    not_utf8.extend([0xff, 0xfe]);
    not_utf8.extend(cmd(">>"));
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (cmd("M/5/O/Q//x"), "R/5/E/", "Operation"),
        (cmd("M/6/O/G//x/extra/parts"), "R/6/E/", "GetVariable"),
        (cmd("M/7/O/L//ev/12x"), "R/7/E/", "listener code"),
        (cmd("M/8/O/S//v/<R=<1>"), "R/8/E/", "data table"),
        (cmd("M/9/O/S//v/junk<R=<1>>"), "R/9/E/", "data table"),
        (bomb, "R/10/E/", "data table"),
        (not_utf8, "R/11/E/", "UTF-8"),
        (cmd("M/12/O/C//login/<R=<>>"), "R/12/", ""),
        (
            cmd("M/13/O/C//nosuch/"),
            "R/13/D/",
            "Function not available",
        ),
    ];
    for (input, prefix, needle) in cases {
        let zipped = input.len() > 128;
        p.send(&binary(
            &input,
            if zipped {
                BodyKind::ZLIB
            } else {
                BodyKind::RAW
            },
        ))
        .await;
        let (_, body) = p.binary().await;
        let text = show(&body);
        assert!(body.starts_with(&cmd(prefix)), "{text:?} for {prefix}");
        assert!(text.contains(needle), "{text:?} should name {needle}");
    }
    // A broken escape is no error: `%z` stays as it is (reference §5.5).
    p.send(&binary(
        &cmd("M/14/O/S//v/<F=<<s><S>>><R=<a%zb%>>"),
        BodyKind::RAW,
    ))
    .await;
    assert_eq!(p.binary().await.1, cmd("R/14/A"));
    assert!(agent.is_started(), "still the same connection");

    // Bad zlib: the agent drops the link, then reconnects.
    p.send(&hex_bytes("02 00 00 00 04 01 78 9c 00 0d")).await;
    p.expect_dropped().await;
    let mut p = accept_started(&l).await;

    // A length far beyond the limit: dropped at once, no body is waited for.
    p.send(&hex_bytes("02 00 ff ff ff 00")).await;
    p.expect_dropped().await;
    let mut p = accept_started(&l).await;

    // Killed in the middle of a frame: the agent reconnects.
    p.send(&binary(&cmd("M/2/O/G//date"), BodyKind::RAW)[..6])
        .await;
    drop(p);
    let mut p = accept_started(&l).await;
    p.send(&binary(&cmd("M/2/O/G//date"), BodyKind::RAW)).await;
    assert!(p.binary().await.1.starts_with(&cmd("R/2/A/")));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_refuses_operations_before_start_and_unknown_versions() {
    let _logs = logs();
    let (l, agent, _notes) = fake_server().await;
    let (s, _) = within(Duration::from_secs(10), l.accept()).await.unwrap();
    let mut p = Peer { s, buf: Vec::new() };
    p.send(&v2(&cmd("M/1/O/G//date"))).await;
    assert_eq!(p.v2().await, cmd("R/1/D/Start not received yet"));
    p.send(&v2(&cmd("M/2/S/9"))).await;
    let r = p.v2().await;
    assert!(
        r.starts_with(&cmd("R/2/D/unsupported protocol version")),
        "{r:?}"
    );
    // Garbage and a restarted frame in V2: skipped; Start still works.
    p.send(b"\r\n\x02M\x17garbage").await;
    p.send(&v2(&cmd("M/3/S/3"))).await;
    assert_eq!(p.v2().await, cmd("R/3/A/3/C"));
    p.send(&binary(&cmd("M/4/O/G//date"), BodyKind::RAW)).await;
    assert!(p.binary().await.1.starts_with(&cmd("R/4/A/")));
    agent.shutdown().await;
}

/// A table nested `depth` levels deep through `T` fields (V4: inserted raw), in the
/// `cmd` notation: far deeper than any decoder should follow.
fn nesting_bomb(depth: usize) -> String {
    let mut t = String::from("<F=<<v><I>>><R=<1>>");
    for _ in 0..depth {
        t = format!("<F=<<t><T>>><R=<{t}>>");
    }
    t
}

/// At most 200 characters of a command, for messages.
fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()
}

fn hex_bytes(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

// ---- fake agents in front of ferrocom's server ---------------------------------------

/// Connects as an agent and answers Start (V4, compression as asked).
async fn fake_agent(addr: SocketAddr, compression: bool) -> Peer {
    let s = TcpStream::connect(addr).await.unwrap();
    let mut p = Peer { s, buf: Vec::new() };
    assert_eq!(p.v2().await, cmd("M/1/S/4"));
    let reply = if compression { "R/1/A/4/C" } else { "R/1/A/4" };
    p.send(&v2(&cmd(reply))).await;
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_agents_are_dropped_one_by_one_and_a_good_one_keeps_working() {
    let logs = logs();
    let mut cfg = ServerConfig::new();
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    let (server, mut agents) = IotellectServer::start(cfg).await.unwrap();
    let addr = server.local_addrs()[0];

    // A good agent first.
    let (good, _notes) = {
        let mut cfg = AgentConfig::new(ConnectTo::Tcp(addr.to_string()), "good", "admin", "x");
        cfg.backoff = Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
        };
        Agent::start(cfg, Vars).unwrap()
    };
    let good_remote = within(Duration::from_secs(10), agents.recv())
        .await
        .unwrap();
    let check_good = || async {
        let t = good_remote.get_variable("", "date", None).await.unwrap();
        assert_eq!(t.get(0, "value"), Some(&Value::Integer(42)));
    };
    check_good().await;

    let drops: Vec<(Vec<u8>, &str)> = vec![
        (binary(b"garbage", BodyKind::RAW), "iotellect::Command"),
        (hex_bytes("02 7f ff ff ff"), "exceeds the limit"),
        (hex_bytes("02 00 ff ff ff"), "exceeds the limit"),
        (hex_bytes("02 00 00 00 04 01 78 9c 00 0d"), "zlib"),
        (hex_bytes("02 00 00 00 02 00 41 42 0d"), "ICP-3.2-5"),
        (hex_bytes("02 00 00 00 02 09 41 0d"), "ICP-3.2-3"),
        (binary(&cmd("R/1"), BodyKind::RAW), "iotellect::Reply"),
    ];
    for (input, needle) in drops {
        let mut p = fake_agent(addr, true).await;
        let remote = within(Duration::from_secs(10), agents.recv())
            .await
            .unwrap();
        p.send(&input).await;
        p.expect_dropped().await;
        let why = within(Duration::from_secs(10), remote.wait_closed()).await;
        assert!(why.contains(needle), "{why} should name {needle}");
        logs.wait_line(&["Iotellect agent connection ended", needle])
            .await;
        check_good().await;
    }

    // Answered, not dropped: a malformed message with an id, an operation to the server.
    let mut p = fake_agent(addr, false).await;
    let mut remote = within(Duration::from_secs(10), agents.recv())
        .await
        .unwrap();
    p.send(&binary(&cmd("M/5/O/Q"), BodyKind::RAW)).await;
    assert!(p.binary().await.1.starts_with(&cmd("R/5/E/")));
    p.send(&binary(&cmd("M/6/O/G//x"), BodyKind::RAW)).await;
    assert!(p.binary().await.1.starts_with(&cmd("R/6/D/")));
    // An event whose table is a nesting bomb: delivered with a decode error, no panic.
    let ev = cmd(&format!(
        "M//E//ev/1/1/5/{}/1700000000123",
        nesting_bomb(5_000)
    ));
    p.send(&binary(&ev, BodyKind::ZLIB)).await;
    let e = within(Duration::from_secs(10), remote.next_event(None))
        .await
        .unwrap();
    assert_eq!((e.event.as_str(), e.listener), ("ev", Some(5)));
    let err = e.data.map(|_| ()).unwrap_err();
    assert!(err.contains("deep"), "{}", &err[..err.len().min(200)]);
    // A reply that answers nothing is ignored.
    p.send(&binary(&cmd("R/77/A"), BodyKind::RAW)).await;
    // The server's requests still work on this link.
    // The server's requests still work on this link; a table sent without its format
    // is read with the one the caller knows.
    let format = TableFormat::single(FieldFormat::new("value", FieldType::Integer));
    let get = remote.get_variable("", "date", Some(&format));
    let answer = async {
        let (_, body) = p.binary().await;
        assert_eq!(body, cmd("M/2/O/G//date"));
        p.send(&binary(&cmd("R/2/A/<R=<7>>"), BodyKind::RAW)).await;
    };
    let (r, ()) = tokio::join!(get, answer);
    assert_eq!(r.unwrap().get(0, "value"), Some(&Value::Integer(7)));

    // Killed in the middle of a frame.
    p.send(&binary(&cmd("M/9/O/G//x"), BodyKind::RAW)[..7])
        .await;
    drop(p);
    let why = within(Duration::from_secs(10), remote.wait_closed()).await;
    assert!(why.contains("closed"), "{why}");
    check_good().await;

    // A connection that never answers Start is dropped after the handshake timeout.
    let mut cfg = ServerConfig::new();
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    cfg.handshake_timeout = Duration::from_millis(300);
    let (quick, _quick_agents) = IotellectServer::start(cfg).await.unwrap();
    let s = TcpStream::connect(quick.local_addrs()[0]).await.unwrap();
    let mut p = Peer { s, buf: Vec::new() };
    assert_eq!(p.v2().await, cmd("M/1/S/4"));
    p.expect_dropped().await;

    // And the refusal reaches a caller as such.
    match good_remote.get_variable("", "nosuch", None).await {
        Err(CallError::Refused(r)) => assert_eq!(r.code, ReplyCode::Denied),
        other => panic!("{other:?}"),
    }
    drop(good);
    quick.shutdown().await;
    server.shutdown().await;
}
