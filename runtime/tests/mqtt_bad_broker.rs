//! The MQTT client against fake brokers on a loopback TcpListener that answer with
//! corrupted or out-of-place packets (derived from codec output by small edits): the
//! session ends with an error naming what was wrong, the client keeps running and
//! reconnects, nothing panics — also for random byte mutations (proptest). A SUBACK
//! failure code is reported to the caller without ending anything. TLS offers the
//! configured ALPN protocols.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrocom_runtime::mqtt::{Options, QoS, SubscribeOutcome};
use ferrocom_runtime::mqtt_client::{Backoff, Broker, ClientConfig, MqttClient, Notification};
use ferrocom_runtime::net::tls::{Trust, generate_dev_certificates};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::mqtt311::{
    Connack, ConnackFlags, ConnectReturnCode, Packet, PacketBody, PacketId, Publish, PublishHeader,
    SubAckCode, Suback,
};
use proptest::prelude::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;

fn enc(body: PacketBody<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    Packet { body }.encode(&mut v).unwrap();
    v
}

fn connack() -> Vec<u8> {
    enc(PacketBody::Connack(Connack {
        flags: ConnackFlags {
            session_present: false,
        },
        return_code: ConnectReturnCode::ACCEPTED,
    }))
}

fn suback(id: u16, codes: Vec<SubAckCode>) -> Vec<u8> {
    enc(PacketBody::Suback(Suback {
        packet_id: id,
        return_codes: codes,
    }))
}

fn publish(qos: u8, id: Option<u16>) -> Vec<u8> {
    enc(PacketBody::Publish(Publish {
        header: PublishHeader {
            dup: false,
            qos,
            retain: false,
        },
        topic: "a/b",
        packet_id: id,
        payload: b"x",
    }))
}

/// What the fake broker says to a client packet (a CONNECT, SUBSCRIBE, ... by name,
/// with its packet id if any).
type Responder = Arc<dyn Fn(&str, u16) -> Vec<u8> + Send + Sync>;

/// Serves one connection: answers each decoded client packet; returns when the client
/// closes or sends bytes the codec rejects.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, respond: Responder) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let (name, id, used) = match Packet::decode(&buf) {
                Ok(Decoded::Complete(p, used)) => {
                    let (name, id) = match &p.body {
                        PacketBody::Connect(_) => ("CONNECT", 0),
                        PacketBody::Subscribe(s) => ("SUBSCRIBE", s.packet_id),
                        PacketBody::Pingreq => ("PINGREQ", 0),
                        PacketBody::Puback(PacketId { id }) => ("PUBACK", *id),
                        _ => ("OTHER", 0),
                    };
                    (name, id, used)
                }
                Ok(Decoded::Incomplete(_)) => break,
                Err(e) => panic!("the client sent a malformed packet: {e}"),
            };
            buf.drain(..used);
            let reply = respond(name, id);
            if !reply.is_empty() && s.write_all(&reply).await.is_err() {
                return;
            }
        }
    }
}

struct Fake {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn fake(respond: Responder) -> Fake {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let c = connections.clone();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(s, respond.clone()));
        }
    });
    Fake {
        addr,
        connections,
        task,
    }
}

fn cfg(addr: SocketAddr) -> ClientConfig {
    let mut c = ClientConfig::new(Broker::Tcp(addr.to_string()), Options::new("victim"));
    c.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
    };
    c
}

async fn disconnected(notes: &mut UnboundedReceiver<Notification>) -> String {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match notes.recv().await {
                Some(Notification::Disconnected { reason }) => return reason,
                Some(_) => {}
                None => panic!("notifications closed: the client task died"),
            }
        }
    })
    .await
    .expect("the session did not end")
}

async fn reconnects(f: &Fake) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while f.connections.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the client did not reconnect");
}

/// Starts a client against a broker answering CONNECT with `on_connect` (and SUBSCRIBE
/// with `on_subscribe`), subscribes if asked, and returns the reason the session ended.
async fn ends_with(on_connect: Vec<u8>, on_subscribe: Option<Vec<u8>>) -> String {
    let sub = on_subscribe.clone();
    let f = fake(Arc::new(move |name, _id| match name {
        "CONNECT" => on_connect.clone(),
        "SUBSCRIBE" => sub.clone().unwrap_or_default(),
        _ => Vec::new(),
    }))
    .await;
    let (c, mut notes) = MqttClient::start(cfg(f.addr)).unwrap();
    if on_subscribe.is_some() {
        let c2 = Arc::new(c);
        let c3 = c2.clone();
        tokio::spawn(async move {
            let _ = c3.subscribe(&[("a/#", QoS::AtLeastOnce)]).await;
        });
        let reason = disconnected(&mut notes).await;
        reconnects(&f).await;
        return reason;
    }
    let reason = disconnected(&mut notes).await;
    reconnects(&f).await;
    drop(c);
    reason
}

#[tokio::test]
async fn corrupted_connack() {
    let mut reserved = connack();
    reserved[2] |= 0x02;
    let r = ends_with(reserved, None).await;
    assert!(
        r.contains("malformed packet from the broker") && r.contains("reserved"),
        "{r}"
    );

    let mut short = connack();
    short[1] = 1;
    short.truncate(3);
    let r = ends_with(short, None).await;
    assert!(r.contains("malformed packet from the broker"), "{r}");

    let mut refused = connack();
    refused[3] = 5;
    let r = ends_with(refused, None).await;
    assert!(r.contains("not authorized"), "{r}");

    let r = ends_with(publish(0, None), None).await;
    assert!(r.contains("MQTT-3.2.0-1") && r.contains("PUBLISH"), "{r}");
}

#[tokio::test]
async fn corrupted_suback() {
    let two = suback(1, vec![SubAckCode::SUCCESS_QOS1, SubAckCode::SUCCESS_QOS1]);
    let r = ends_with(connack(), Some(two)).await;
    assert!(r.contains("MQTT-3.9.3-1"), "{r}");

    let reserved = suback(1, vec![SubAckCode(0x03)]);
    let r = ends_with(connack(), Some(reserved)).await;
    assert!(r.contains("reserved return code 0x03"), "{r}");

    let wrong_id = suback(77, vec![SubAckCode::SUCCESS_QOS1]);
    let r = ends_with(connack(), Some(wrong_id)).await;
    assert!(r.contains("SUBACK for packet id 77"), "{r}");
}

#[tokio::test]
async fn corrupted_publish() {
    let mut qos3 = publish(1, Some(1));
    qos3[0] |= 0x06;
    let mut after = connack();
    after.extend(qos3);
    let r = ends_with(after, None).await;
    assert!(r.contains("malformed packet from the broker"), "{r}");

    let mut no_id = connack();
    no_id.extend(enc(PacketBody::Publish(Publish {
        header: PublishHeader {
            dup: false,
            qos: 1,
            retain: false,
        },
        topic: "a/b",
        packet_id: Some(1),
        payload: b"",
    })));
    // The codec refuses to encode id 0 ([MQTT-2.3.1-1]): edit the encoded id (the last
    // two bytes, the payload being empty).
    let at = no_id.len() - 2;
    no_id[at] = 0;
    no_id[at + 1] = 0;
    let r = ends_with(no_id, None).await;
    assert!(r.contains("malformed packet from the broker"), "{r}");
}

#[tokio::test]
async fn suback_failure_code_is_reported_not_fatal() {
    let f = fake(Arc::new(|name, id| match name {
        "CONNECT" => connack(),
        "SUBSCRIBE" => suback(id, vec![SubAckCode::FAILURE, SubAckCode::SUCCESS_QOS2]),
        _ => Vec::new(),
    }))
    .await;
    let (c, mut notes) = MqttClient::start(cfg(f.addr)).unwrap();
    let out = c
        .subscribe(&[("nope", QoS::AtLeastOnce), ("yes/#", QoS::ExactlyOnce)])
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            SubscribeOutcome::Failed,
            SubscribeOutcome::Granted(QoS::ExactlyOnce)
        ]
    );
    assert!(c.is_connected());
    assert!(
        tokio::time::timeout(Duration::from_millis(200), async {
            loop {
                if let Some(Notification::Disconnected { .. }) = notes.recv().await {
                    return;
                }
            }
        })
        .await
        .is_err(),
        "a SUBACK failure code must not end the session"
    );
}

#[tokio::test]
async fn missing_pingresp_ends_the_session() {
    let f = fake(Arc::new(|name, _| match name {
        "CONNECT" => connack(),
        _ => Vec::new(), // PINGREQ unanswered
    }))
    .await;
    let mut c = cfg(f.addr);
    c.session.keep_alive_secs = 1;
    c.session.response_timeout = 300;
    let (_c, mut notes) = MqttClient::start(c).unwrap();
    let t0 = std::time::Instant::now();
    let r = disconnected(&mut notes).await;
    assert!(r.contains("no PINGRESP"), "{r}");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1200),
        "PINGREQ after 1 s of silence, then 300 ms: ended after {took:?}"
    );
}

#[tokio::test]
async fn tls_offers_the_configured_alpn() {
    let dev = generate_dev_certificates(&["localhost"]).unwrap();
    let mut sc = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(dev.server_chain.clone(), dev.server_key().unwrap())
    .unwrap();
    sc.alpn_protocols = vec![b"x-amzn-mqtt-ca".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(sc));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let tls = acceptor.accept(s).await.unwrap();
        let _ = tx.send(tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec));
        serve(
            tls,
            Arc::new(|n, _| {
                if n == "CONNECT" {
                    connack()
                } else {
                    Vec::new()
                }
            }),
        )
        .await;
    });
    let mut c = cfg(addr);
    c.broker = Broker::Tls {
        addr: addr.to_string(),
        server_name: "localhost".into(),
        trust: Trust::Roots(vec![dev.ca_cert.clone()]),
        alpn: vec![b"x-amzn-mqtt-ca".to_vec()],
    };
    let (_c, mut notes) = MqttClient::start(c).unwrap();
    assert_eq!(rx.await.unwrap().as_deref(), Some(&b"x-amzn-mqtt-ca"[..]));
    let n = tokio::time::timeout(Duration::from_secs(10), notes.recv())
        .await
        .unwrap();
    assert_eq!(
        n,
        Some(Notification::Connected {
            session_present: false
        })
    );
}

/// The broker's bytes after CONNECT: CONNACK, SUBACK, messages of every QoS, PUBREL.
fn stream() -> Vec<u8> {
    let mut v = connack();
    v.extend(suback(1, vec![SubAckCode::SUCCESS_QOS2]));
    v.extend(publish(0, None));
    v.extend(publish(1, Some(9)));
    v.extend(publish(2, Some(10)));
    v.extend(enc(PacketBody::Pubrel(PacketId { id: 10 })));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Byte mutations of a broker's stream over a real socket: the client task survives
    /// (it is still connected, or it reports why the session ended and reconnects).
    #[test]
    fn mutated_stream_over_tcp(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = stream();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let f = fake(Arc::new(move |name, _| if name == "CONNECT" { bytes.clone() } else { Vec::new() })).await;
            let (c, mut notes) = MqttClient::start(cfg(f.addr)).unwrap();
            let c = Arc::new(c);
            let c2 = c.clone();
            tokio::spawn(async move { let _ = c2.subscribe(&[("a/#", QoS::ExactlyOnce)]).await; });
            let ended = tokio::time::timeout(Duration::from_millis(300), async {
                loop {
                    match notes.recv().await {
                        Some(Notification::Disconnected { reason }) => return Some(reason),
                        Some(_) => {}
                        None => return None,
                    }
                }
            })
            .await;
            match ended {
                Ok(Some(reason)) => {
                    assert!(!reason.is_empty());
                    reconnects(&f).await;
                }
                Ok(None) => panic!("the client task died"),
                Err(_) => {} // still running on the (accepted) bytes
            }
        });
    }
}
