//! ferrocom's Iotellect agent against ferrocom's Iotellect server over real loopback
//! sockets, plain TCP and TLS: Start with compression (a command over 128 bytes is seen
//! zlib-compressed on the wire by a recording proxy), the login challenge, get / set,
//! function calls, listeners and events, refusals, a wrong password.
#![cfg(all(feature = "iotellect", feature = "tokio"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrocom_runtime::iotellect::{ListenerSpec, Refusal, ReplyCode, Version};
use ferrocom_runtime::iotellect_net::{
    Agent, AgentConfig, AgentNote, CallError, ConnectTo, Endpoint, Handler, IotellectServer,
    RemoteAgent, ServerConfig,
};
use ferrocom_runtime::net::client::Backoff;
use ferrocom_runtime::net::tls::{Trust, generate_dev_certificates};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::datatable::{DataTable, FieldFormat, FieldType, TableFormat, Value};
use ferrocom_wire::iotellect::{BinaryFrame, BodyKind};
use support::within;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;

/// A handler with a few variables kept in memory and two functions.
#[derive(Clone, Default)]
struct Memory {
    vars: Arc<Mutex<BTreeMap<(String, String), DataTable>>>,
}

fn single(name: &str, ty: FieldType, v: Value) -> DataTable {
    DataTable::new(TableFormat::single(FieldFormat::new(name, ty))).with_record(vec![v])
}

impl Handler for Memory {
    fn get_variable(&mut self, context: &str, variable: &str) -> Result<DataTable, Refusal> {
        self.vars
            .lock()
            .unwrap()
            .get(&(context.into(), variable.into()))
            .cloned()
            .ok_or_else(|| Refusal::denied(format!("Variable not available: {variable}")))
    }

    fn set_variable(
        &mut self,
        context: &str,
        variable: &str,
        value: DataTable,
    ) -> Result<(), Refusal> {
        if variable == "locked" {
            return Err(Refusal::new(ReplyCode::Locked, "locked for now"));
        }
        self.vars
            .lock()
            .unwrap()
            .insert((context.into(), variable.into()), value);
        Ok(())
    }

    fn call_function(
        &mut self,
        _context: &str,
        function: &str,
        input: DataTable,
    ) -> Result<DataTable, Refusal> {
        match function {
            "add" => {
                let n = |f: &str| match input.get(0, f) {
                    Some(Value::Integer(i)) => Ok(*i),
                    other => Err(Refusal::error(format!("{f}: {other:?}"))),
                };
                let sum = n("a")?
                    .checked_add(n("b")?)
                    .ok_or_else(|| Refusal::error("overflow"))?;
                Ok(single("sum", FieldType::Integer, Value::Integer(sum)))
            }
            "fail" => Err(Refusal {
                code: ReplyCode::Other("AG-10001".into()),
                message: "Password expired".into(),
                details: Some("line1\rline2".into()),
            }),
            _ => Err(Refusal::denied(format!(
                "Function not available: {function}"
            ))),
        }
    }

    fn has_event(&self, _context: &str, event: &str) -> bool {
        event != "nosuch"
    }
}

/// A TCP proxy that records what the server sends to the agent.
struct Recorder {
    addr: SocketAddr,
    from_server: Arc<Mutex<Vec<u8>>>,
}

async fn recorder(target: SocketAddr) -> Recorder {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let from_server = Arc::new(Mutex::new(Vec::new()));
    let rec = from_server.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = l.accept().await {
            let server = TcpStream::connect(target).await.unwrap();
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut cr, &mut sw).await;
                let _ = sw.shutdown().await;
            });
            let rec = rec.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            rec.lock().unwrap().extend_from_slice(&buf[..n]);
                            if cw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    Recorder { addr, from_server }
}

/// Every V3/V4 frame found in a recorded stream (V2 frames and bytes between are
/// skipped): (kind, body).
fn binary_frames(stream: &[u8]) -> Vec<(BodyKind, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        if stream[at] == 0x02
            && let Ok(Decoded::Complete(f, used)) = BinaryFrame::decode(&stream[at..])
        {
            out.push((f.kind, f.body.into_owned()));
            at += used;
        } else {
            at += 1;
        }
    }
    out
}

fn agent_cfg(connect: ConnectTo, password: &str) -> AgentConfig {
    let mut cfg = AgentConfig::new(connect, "rustpeer", "admin", password);
    cfg.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
    };
    cfg
}

async fn started(notes: &mut UnboundedReceiver<AgentNote>) -> (Version, bool) {
    within(Duration::from_secs(10), async {
        loop {
            match notes.recv().await.expect("agent gone") {
                AgentNote::Started {
                    version,
                    compression,
                } => return (version, compression),
                AgentNote::Disconnected { reason } => eprintln!("agent: {reason}"),
                _ => {}
            }
        }
    })
    .await
}

fn spec(context: &str, event: &str, code: Option<i32>) -> ListenerSpec {
    ListenerSpec {
        context: context.into(),
        event: event.into(),
        listener: code,
        filter: None,
        fingerprint: None,
    }
}

/// The whole exchange, whatever the transport.
async fn exercise(agent: &Agent, remote: &mut RemoteAgent, memory: &Memory) {
    assert_eq!(remote.version(), Version::V4);
    assert!(remote.compression());
    let login = remote.login().expect("login checked");
    assert_eq!(
        (login.owner.as_str(), login.name.as_str()),
        ("admin", "rustpeer")
    );

    // Get and set.
    memory.vars.lock().unwrap().insert(
        ("dev".into(), "temp".into()),
        single("value", FieldType::Float, Value::Float(0.0)),
    );
    let t = remote.get_variable("dev", "temp", None).await.unwrap();
    assert_eq!(t.get(0, "value"), Some(&Value::Float(0.0)));
    remote
        .set_variable(
            "dev",
            "temp",
            &single("value", FieldType::Float, Value::Float(21.5)),
        )
        .await
        .unwrap();
    let t = remote.get_variable("dev", "temp", None).await.unwrap();
    assert_eq!(t.get(0, "value"), Some(&Value::Float(21.5)));

    // Escapes survive: every byte the protocol escapes, in a string.
    let nasty = "a%b\u{17}c\u{1c}d\u{1d}e\u{1e}f\u{2}g\rh";
    remote
        .set_variable(
            "",
            "text",
            &single("s", FieldType::String, Value::String(nasty.into())),
        )
        .await
        .unwrap();
    let t = remote.get_variable("", "text", None).await.unwrap();
    assert_eq!(t.get(0, "s"), Some(&Value::String(nasty.into())));

    // Refusals keep their code, message and details.
    match remote.get_variable("", "nosuch", None).await {
        Err(CallError::Refused(r)) => {
            assert_eq!(r.code, ReplyCode::Denied);
            assert_eq!(r.message, "Variable not available: nosuch");
        }
        other => panic!("{other:?}"),
    }
    match remote
        .set_variable(
            "",
            "locked",
            &single("v", FieldType::Integer, Value::Integer(1)),
        )
        .await
    {
        Err(CallError::Refused(r)) => assert_eq!(r.code, ReplyCode::Locked),
        other => panic!("{other:?}"),
    }

    // Calls.
    let input = DataTable::new(
        TableFormat::new(vec![
            FieldFormat::new("a", FieldType::Integer),
            FieldFormat::new("b", FieldType::Integer),
        ])
        .with_records(1, 1),
    )
    .with_record(vec![Value::Integer(40), Value::Integer(2)]);
    let out = remote.call_function("", "add", &input, None).await.unwrap();
    assert_eq!(out.get(0, "sum"), Some(&Value::Integer(42)));
    match remote.call_function("", "fail", &input, None).await {
        Err(CallError::Refused(r)) => {
            assert_eq!(r.code, ReplyCode::Other("AG-10001".into()));
            assert_eq!(r.details.as_deref(), Some("line1\rline2"));
        }
        other => panic!("{other:?}"),
    }

    // Listeners and events.
    assert!(matches!(
        remote.add_listener(&spec("dev", "nosuch", Some(1))).await,
        Err(CallError::Refused(Refusal {
            code: ReplyCode::Denied,
            ..
        }))
    ));
    remote
        .add_listener(&spec("dev", "alarm", Some(7)))
        .await
        .unwrap();
    remote
        .add_listener(&spec("dev", "alarm", Some(8)))
        .await
        .unwrap();
    assert_eq!(agent.listeners().len(), 2);
    let data = single("level", FieldType::Long, Value::Long(99));
    assert_eq!(agent.fire_event("dev", "alarm", 3, &data).unwrap(), 2);
    assert_eq!(agent.fire_event("dev", "other", 3, &data).unwrap(), 0);
    let mut codes = Vec::new();
    for _ in 0..2 {
        let e = within(Duration::from_secs(10), remote.next_event(None))
            .await
            .unwrap();
        assert_eq!(
            (e.context.as_str(), e.event.as_str(), e.level),
            ("dev", "alarm", 3)
        );
        assert_eq!(e.data.unwrap().get(0, "level"), Some(&Value::Long(99)));
        codes.push(e.listener.unwrap());
    }
    codes.sort();
    assert_eq!(codes, vec![7, 8]);
    remote
        .remove_listener(&spec("dev", "alarm", Some(7)))
        .await
        .unwrap();
    assert_eq!(agent.fire_event("dev", "alarm", 3, &data).unwrap(), 1);
    let e = within(Duration::from_secs(10), remote.next_event(None))
        .await
        .unwrap();
    assert_eq!(e.listener, Some(8));
}

async fn plain_server(password: &str) -> (IotellectServer, UnboundedReceiver<RemoteAgent>) {
    let mut cfg = ServerConfig::new();
    cfg.endpoints
        .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    cfg.password = Some(password.into());
    IotellectServer::start(cfg).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_and_server_over_tcp_with_compression_on_the_wire() {
    let _logs = support::logs();
    let (server, mut agents) = plain_server("secret").await;
    let proxy = recorder(server.local_addrs()[0]).await;
    let memory = Memory::default();
    let (agent, mut notes) = Agent::start(
        agent_cfg(ConnectTo::Tcp(proxy.addr.to_string()), "secret"),
        memory.clone(),
    )
    .unwrap();
    assert_eq!(started(&mut notes).await, (Version::V4, true));
    let mut remote = within(Duration::from_secs(10), agents.recv())
        .await
        .unwrap();
    exercise(&agent, &mut remote, &memory).await;

    // A set of 300 bytes of text travels compressed; the start and short commands do not.
    let long = "x".repeat(300);
    remote
        .set_variable(
            "",
            "long",
            &single("s", FieldType::String, Value::String(long.clone())),
        )
        .await
        .unwrap();
    let frames = binary_frames(&proxy.from_server.lock().unwrap());
    let zlib: Vec<_> = frames
        .iter()
        .filter(|(k, _)| *k == BodyKind::ZLIB)
        .collect();
    assert!(
        zlib.iter()
            .any(|(_, body)| body.windows(300).any(|w| w == long.as_bytes())),
        "the long set went out zlib-compressed"
    );
    assert!(zlib.iter().all(|(_, body)| body.len() > 128));
    assert!(
        frames
            .iter()
            .filter(|(_, b)| b.len() <= 128)
            .all(|(k, _)| *k == BodyKind::RAW),
        "short commands raw"
    );
    let t = remote.get_variable("", "long", None).await.unwrap();
    assert_eq!(t.get(0, "s"), Some(&Value::String(long)));

    // Closing the server side: the agent notices and tries again.
    drop(remote);
    within(Duration::from_secs(10), async {
        loop {
            if let Some(AgentNote::Disconnected { .. }) = notes.recv().await {
                return;
            }
        }
    })
    .await;
    let again = within(Duration::from_secs(10), agents.recv())
        .await
        .unwrap();
    assert!(again.login().is_some(), "the agent reconnected");
    agent.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_and_server_over_tls() {
    let _logs = support::logs();
    let certs = generate_dev_certificates(&["localhost", "127.0.0.1"]).unwrap();
    let mut cfg = ServerConfig::new();
    cfg.endpoints.push(Endpoint::Tls {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        cert_chain: certs.server_chain.clone(),
        key: certs.server_key().unwrap(),
    });
    cfg.password = Some("tls-secret".into());
    let (server, mut agents) = IotellectServer::start(cfg).await.unwrap();
    let addr = server.local_addrs()[0];
    let memory = Memory::default();
    let connect = ConnectTo::Tls {
        addr: addr.to_string(),
        server_name: "localhost".into(),
        trust: Trust::Roots(vec![certs.ca_cert.clone()]),
    };
    let (agent, mut notes) =
        Agent::start(agent_cfg(connect, "tls-secret"), memory.clone()).unwrap();
    assert_eq!(started(&mut notes).await, (Version::V4, true));
    let mut remote = within(Duration::from_secs(10), agents.recv())
        .await
        .unwrap();
    exercise(&agent, &mut remote, &memory).await;

    // An agent that does not trust the certificate never gets a session.
    let other = generate_dev_certificates(&["localhost"]).unwrap();
    let connect = ConnectTo::Tls {
        addr: addr.to_string(),
        server_name: "localhost".into(),
        trust: Trust::Roots(vec![other.ca_cert.clone()]),
    };
    let (bad, mut bad_notes) =
        Agent::start(agent_cfg(connect, "tls-secret"), Memory::default()).unwrap();
    let reason = within(Duration::from_secs(10), async {
        loop {
            if let Some(AgentNote::Disconnected { reason }) = bad_notes.recv().await {
                return reason;
            }
        }
    })
    .await;
    assert!(reason.contains("TLS"), "{reason}");
    drop(bad);
    agent.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_the_login_and_the_agent_is_dropped() {
    let _logs = support::logs();
    let (server, mut agents) = plain_server("right").await;
    let (agent, mut notes) = Agent::start(
        agent_cfg(ConnectTo::Tcp(server.local_addrs()[0].to_string()), "wrong"),
        Memory::default(),
    )
    .unwrap();
    // Started (Start is before login), then dropped by the server.
    started(&mut notes).await;
    within(Duration::from_secs(10), async {
        loop {
            if let Some(AgentNote::Disconnected { .. }) = notes.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), agents.recv())
            .await
            .is_err(),
        "no agent delivered"
    );
    drop(agent);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_after_the_agent_is_gone_fail_with_closed() {
    let _logs = support::logs();
    let (server, mut agents) = plain_server("pw").await;
    let (agent, mut notes) = Agent::start(
        agent_cfg(ConnectTo::Tcp(server.local_addrs()[0].to_string()), "pw"),
        Memory::default(),
    )
    .unwrap();
    started(&mut notes).await;
    let mut remote = within(Duration::from_secs(10), agents.recv())
        .await
        .unwrap();
    agent.shutdown().await;
    let why = within(Duration::from_secs(10), remote.wait_closed()).await;
    assert!(!why.is_empty());
    assert!(matches!(
        remote.get_variable("", "x", None).await,
        Err(CallError::Closed(_))
    ));
    assert!(
        remote.next_event(None).await.is_none(),
        "events end with the link"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_shutdown_ends_every_remote_agent() {
    let _logs = support::logs();
    let (server, mut agents) = plain_server("pw").await;
    let (agent, mut notes) = Agent::start(
        agent_cfg(ConnectTo::Tcp(server.local_addrs()[0].to_string()), "pw"),
        Memory::default(),
    )
    .unwrap();
    started(&mut notes).await;
    let mut remote = within(Duration::from_secs(10), agents.recv())
        .await
        .unwrap();
    server.shutdown().await;
    let why = within(Duration::from_secs(10), remote.wait_closed()).await;
    assert!(why.contains("stopped"), "{why}");
    assert!(matches!(
        remote.get_variable("", "x", None).await,
        Err(CallError::Closed(_))
    ));
    assert!(
        within(Duration::from_secs(10), remote.next_event(None))
            .await
            .is_none()
    );
    agent.shutdown().await;
}
