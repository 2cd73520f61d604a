//! The MQTT client against a real mosquitto the test starts: QoS 0/1/2 both ways,
//! retained messages, unsubscribe, the will on an abrupt disconnect (the client's socket
//! is cut by a proxy), persistent-session redelivery after the client is dropped and
//! recreated, in-flight QoS 1 and 2 messages across a broker restart, and TLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mosquitto;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrocom_runtime::mqtt::{Message, Options, QoS, SubscribeOutcome, Will};
use ferrocom_runtime::mqtt_client::{
    Backoff, Broker, ClientConfig, MqttClient, Notification, Wait,
};
use ferrocom_runtime::net::tls::{Trust, generate_dev_certificates};
use mosquitto::{Mosquitto, mosquitto_or_skip};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

const T: Duration = Duration::from_secs(10);

fn cfg(addr: SocketAddr, id: &str, clean: bool) -> ClientConfig {
    let mut o = Options::new(id);
    o.clean_session = clean;
    let mut c = ClientConfig::new(Broker::Tcp(addr.to_string()), o);
    c.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
    };
    c
}

type Notes = UnboundedReceiver<Notification>;

async fn start(c: ClientConfig) -> (MqttClient, Notes) {
    let (client, mut notes) = MqttClient::start(c).unwrap();
    connected(&mut notes).await;
    (client, notes)
}

/// Waits for the next Connected notification; returns Session Present.
async fn connected(notes: &mut Notes) -> bool {
    tokio::time::timeout(T, async {
        loop {
            match notes.recv().await {
                Some(Notification::Connected { session_present }) => return session_present,
                Some(_) => {}
                None => panic!("notification channel closed"),
            }
        }
    })
    .await
    .expect("no CONNACK in time")
}

async fn message(notes: &mut Notes) -> Message {
    tokio::time::timeout(T, async {
        loop {
            match notes.recv().await {
                Some(Notification::Message(m)) => return m,
                Some(_) => {}
                None => panic!("notification channel closed"),
            }
        }
    })
    .await
    .expect("no message in time")
}

/// Messages arriving within `quiet` of each other.
async fn drain(notes: &mut Notes, quiet: Duration) -> Vec<Message> {
    let mut out = Vec::new();
    while let Ok(Some(n)) = tokio::time::timeout(quiet, notes.recv()).await {
        if let Notification::Message(m) = n {
            out.push(m);
        }
    }
    out
}

#[tokio::test]
async fn qos_0_1_2_both_ways_and_unsubscribe() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let broker = Mosquitto::start(&bin, false);
    let (sub, mut sub_notes) = start(cfg(broker.addr, "sub1", true)).await;
    let granted = sub
        .subscribe(&[("q/+", QoS::ExactlyOnce), ("other/#", QoS::AtLeastOnce)])
        .await
        .unwrap();
    assert_eq!(
        granted,
        vec![
            SubscribeOutcome::Granted(QoS::ExactlyOnce),
            SubscribeOutcome::Granted(QoS::AtLeastOnce)
        ]
    );
    let (publ, _pub_notes) = start(cfg(broker.addr, "pub1", true)).await;
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let topic = format!("q/{i}");
        publ.publish(&topic, format!("m{i}"), qos, false, Wait::Acknowledged)
            .await
            .unwrap();
        let m = message(&mut sub_notes).await;
        assert_eq!(m.topic, topic);
        assert_eq!(m.payload, format!("m{i}").into_bytes());
        assert_eq!(m.qos, qos, "delivered at the publisher's QoS");
        assert!(!m.retain && !m.dup);
    }
    assert_eq!(publ.pending(), (0, 0), "nothing left in flight");

    sub.unsubscribe(&["q/+"]).await.unwrap();
    publ.publish("q/x", "after", QoS::AtLeastOnce, false, Wait::Acknowledged)
        .await
        .unwrap();
    publ.publish(
        "other/y",
        "still",
        QoS::AtLeastOnce,
        false,
        Wait::Acknowledged,
    )
    .await
    .unwrap();
    let m = message(&mut sub_notes).await;
    assert_eq!(
        (m.topic.as_str(), m.payload.as_slice()),
        ("other/y", &b"still"[..]),
        "no message of the unsubscribed filter"
    );
    publ.disconnect().await;
    sub.disconnect().await;
}

#[tokio::test]
async fn wait_modes_and_invalid_requests() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let broker = Mosquitto::start(&bin, false);
    let (c, _notes) = start(cfg(broker.addr, "wm1", true)).await;
    for wait in [Wait::Queued, Wait::Written, Wait::Acknowledged] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            c.publish("w/x", "v", qos, false, wait).await.unwrap();
        }
    }
    let err = c
        .publish("w/+", "v", QoS::AtMostOnce, false, Wait::Queued)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid topic name"), "{err}");
    let err = c
        .subscribe(&[("a/#/b", QoS::AtMostOnce)])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid topic filter"), "{err}");
    // Everything queued before is acknowledged eventually.
    tokio::time::timeout(T, async {
        while c.pending() != (0, 0) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("queued messages not acknowledged");
    c.disconnect().await;
}

#[tokio::test]
async fn retained_message_reaches_a_later_subscriber() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let broker = Mosquitto::start(&bin, false);
    let (publ, _n) = start(cfg(broker.addr, "ret-pub", true)).await;
    publ.publish("ret/a", "kept", QoS::AtLeastOnce, true, Wait::Acknowledged)
        .await
        .unwrap();
    publ.publish(
        "ret/b",
        "not kept",
        QoS::AtLeastOnce,
        false,
        Wait::Acknowledged,
    )
    .await
    .unwrap();
    let (sub, mut notes) = start(cfg(broker.addr, "ret-sub", true)).await;
    sub.subscribe(&[("ret/#", QoS::AtLeastOnce)]).await.unwrap();
    let m = message(&mut notes).await;
    assert_eq!(
        (m.topic.as_str(), m.payload.as_slice(), m.retain),
        ("ret/a", &b"kept"[..], true)
    );
    assert!(
        drain(&mut notes, Duration::from_millis(300))
            .await
            .is_empty()
    );
}

/// A TCP proxy whose connections can be cut, like a network failure.
struct Proxy {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let c2 = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut down, _)) = l.accept().await {
                let t = tokio::spawn(async move {
                    if let Ok(mut up) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                c2.lock().unwrap().push(t);
            }
        });
        Proxy {
            addr,
            conns,
            accept,
        }
    }

    /// Drops every proxied socket (no DISCONNECT reaches the broker).
    fn cut(&self) {
        for t in self.conns.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

#[tokio::test]
async fn will_is_published_on_abrupt_disconnect_only() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let broker = Mosquitto::start(&bin, false);
    let (watch, mut notes) = start(cfg(broker.addr, "watcher", true)).await;
    watch
        .subscribe(&[("will/#", QoS::AtLeastOnce)])
        .await
        .unwrap();

    let proxy = Proxy::start(broker.addr).await;
    let will = |topic: &str| Will {
        topic: topic.into(),
        payload: b"gone".to_vec(),
        qos: QoS::AtLeastOnce,
        retain: false,
    };
    let mut c = cfg(proxy.addr, "willing", true);
    c.session.will = Some(will("will/abrupt"));
    let (w, mut w_notes) = start(c).await;
    proxy.cut();
    let m = message(&mut notes).await;
    assert_eq!(
        (m.topic.as_str(), m.payload.as_slice()),
        ("will/abrupt", &b"gone"[..])
    );
    // The client notices and reconnects by itself.
    connected(&mut w_notes).await;
    drop(w);

    let mut c = cfg(broker.addr, "polite", true);
    c.session.will = Some(will("will/polite"));
    let (p, _pn) = start(c).await;
    p.disconnect().await;
    let rest = drain(&mut notes, Duration::from_millis(500)).await;
    assert!(
        rest.iter().all(|m| m.topic != "will/polite"),
        "will published after DISCONNECT: {rest:?}"
    );
}

#[tokio::test]
async fn persistent_session_redelivers_after_the_client_is_recreated() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let broker = Mosquitto::start(&bin, false);
    let (a, mut notes) = MqttClient::start(cfg(broker.addr, "keeper", false)).unwrap();
    connected(&mut notes).await;
    a.subscribe(&[("keep/#", QoS::ExactlyOnce)]).await.unwrap();
    drop(a); // no DISCONNECT: the socket just closes
    drop(notes);

    let (publ, _n) = start(cfg(broker.addr, "keep-pub", true)).await;
    for i in 0..10u32 {
        let qos = if i.is_multiple_of(2) {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        publ.publish(
            &format!("keep/{i}"),
            i.to_string(),
            qos,
            false,
            Wait::Acknowledged,
        )
        .await
        .unwrap();
    }

    let (_a2, mut notes) = MqttClient::start(cfg(broker.addr, "keeper", false)).unwrap();
    assert!(connected(&mut notes).await, "session present on resume");
    let got = drain(&mut notes, Duration::from_millis(700)).await;
    let mut payloads: Vec<u32> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).parse().unwrap())
        .collect();
    payloads.sort_unstable();
    assert_eq!(
        payloads,
        (0..10).collect::<Vec<_>>(),
        "queued messages: {got:?}"
    );

    // A clean session resumes nothing.
    let (_c, mut cn) = MqttClient::start(cfg(broker.addr, "keeper", true)).unwrap();
    assert!(!connected(&mut cn).await);
}

/// QoS 1 and 2 messages published in a stream while the broker is stopped and started
/// again: all arrive, the QoS 2 ones exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_loses_nothing_and_duplicates_no_qos2() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let mut broker = Mosquitto::start(&bin, true);
    let (sub, mut sub_notes) = MqttClient::start(cfg(broker.addr, "rs-sub", false)).unwrap();
    connected(&mut sub_notes).await;
    sub.subscribe(&[("rs/#", QoS::ExactlyOnce)]).await.unwrap();
    let (publ, mut pub_notes) = MqttClient::start(cfg(broker.addr, "rs-pub", false)).unwrap();
    connected(&mut pub_notes).await;

    let counts: Arc<Mutex<BTreeMap<u32, (QoS, u32)>>> = Arc::default();
    let c2 = counts.clone();
    let collector = tokio::spawn(async move {
        while let Some(n) = sub_notes.recv().await {
            if let Notification::Message(m) = n {
                let i: u32 = String::from_utf8_lossy(&m.payload).parse().unwrap();
                c2.lock().unwrap().entry(i).or_insert((m.qos, 0)).1 += 1;
            }
        }
    });

    const N: u32 = 400;
    let qos_of = |i: u32| {
        if i.is_multiple_of(2) {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        }
    };
    for i in 0..N {
        if i == N / 2 {
            // Freeze the broker, so that what follows is written but not acknowledged:
            // messages are surely in flight when it stops.
            broker.signal("STOP");
        }
        publ.publish("rs/x", i.to_string(), qos_of(i), false, Wait::Queued)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (inflight, queued) = publ.pending();
    assert!(
        inflight > 0,
        "messages in flight at the stop ({inflight}, {queued} queued)"
    );
    tokio::task::block_in_place(|| broker.terminate());
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::block_in_place(|| broker.restart());
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if publ.pending() == (0, 0) && counts.lock().unwrap().len() == N as usize {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "after the restart: publisher pending {:?}, {} of {N} messages received",
            publ.pending(),
            counts.lock().unwrap().len()
        )
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts = counts.lock().unwrap().clone();
    for i in 0..N {
        let Some(&(qos, n)) = counts.get(&i) else {
            panic!("message {i} lost");
        };
        assert_eq!(qos, qos_of(i), "message {i}");
        if qos == QoS::ExactlyOnce {
            assert_eq!(n, 1, "QoS 2 message {i} delivered {n} times");
        }
    }
    let log = broker.log();
    assert!(
        log.matches("New client connected").count() >= 4,
        "both clients reconnected after the restart:\n{log}"
    );
    assert!(
        log.contains("from rs-pub (d1"),
        "the publisher re-sent in-flight messages with DUP after the restart"
    );
    collector.abort();
}

#[tokio::test]
async fn tls_with_alpn_offered() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let dev = generate_dev_certificates(&["localhost", "127.0.0.1"]).unwrap();
    let broker = Mosquitto::start_tls(
        &bin,
        false,
        Some((&dev.server_chain_pem, &dev.server_key_pem)),
    );
    let mut c = cfg(broker.addr, "tls1", true);
    c.broker = Broker::Tls {
        addr: broker.addr.to_string(),
        server_name: "localhost".into(),
        trust: Trust::Roots(vec![dev.ca_cert.clone()]),
        alpn: vec![b"mqtt".to_vec()],
    };
    let (client, mut notes) = start(c).await;
    client
        .subscribe(&[("tls/x", QoS::ExactlyOnce)])
        .await
        .unwrap();
    client
        .publish(
            "tls/x",
            "secret",
            QoS::ExactlyOnce,
            false,
            Wait::Acknowledged,
        )
        .await
        .unwrap();
    assert_eq!(message(&mut notes).await.payload, b"secret");

    // A certificate from another CA is refused, and reported.
    let other = generate_dev_certificates(&["localhost"]).unwrap();
    let mut c = cfg(broker.addr, "tls2", true);
    c.broker = Broker::Tls {
        addr: broker.addr.to_string(),
        server_name: "localhost".into(),
        trust: Trust::Roots(vec![other.ca_cert]),
        alpn: vec![],
    };
    let (_c, mut notes) = MqttClient::start(c).unwrap();
    let n = tokio::time::timeout(T, notes.recv())
        .await
        .unwrap()
        .unwrap();
    let Notification::Disconnected { reason } = n else {
        panic!("connected with an untrusted certificate: {n:?}");
    };
    assert!(reason.contains("TLS handshake"), "{reason}");
}
