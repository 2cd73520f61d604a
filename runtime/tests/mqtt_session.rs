//! The sans-I/O MQTT session driven directly with a simulated clock: keep-alive and its
//! timeout, the in-flight limit, DUP on resend after a reconnect, PUBREL resend, QoS 2
//! duplicates filtered, SUBACK failure codes, requests re-sent after a reconnect; and
//! property tests: arbitrary mutations of a broker's byte stream never panic and every
//! error names what was wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferrocom_runtime::mqtt::{Event, Options, QoS, Session, SessionError, SubscribeOutcome, Token};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::mqtt311::{
    Connack, ConnackFlags, ConnectReturnCode, Packet, PacketBody, PacketId, Publish, PublishHeader,
    SubAckCode, Suback,
};
use proptest::prelude::*;

fn enc(body: PacketBody<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    Packet { body }.encode(&mut v).unwrap();
    v
}

fn connack(present: bool) -> Vec<u8> {
    enc(PacketBody::Connack(Connack {
        flags: ConnackFlags {
            session_present: present,
        },
        return_code: ConnectReturnCode::ACCEPTED,
    }))
}

fn publish(topic: &str, qos: u8, id: Option<u16>, dup: bool, payload: &[u8]) -> Vec<u8> {
    enc(PacketBody::Publish(Publish {
        header: PublishHeader {
            dup,
            qos,
            retain: false,
        },
        topic,
        packet_id: id,
        payload,
    }))
}

/// Every packet in `bytes`, as owned debug text and the decoded kind.
fn packets(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match Packet::decode(&bytes[at..]).unwrap() {
            Decoded::Complete(p, n) => {
                out.push(format!("{:?}", p.body));
                at += n;
            }
            Decoded::Incomplete(_) => panic!("partial packet from the session"),
        }
    }
    out
}

fn tx(s: &mut Session, now: u64) -> Vec<String> {
    let mut out = Vec::new();
    s.poll_transmit(now, &mut out);
    packets(&out)
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn up(opts: Options) -> Session {
    let mut s = Session::new(opts);
    s.connect(0).unwrap();
    let sent = tx(&mut s, 0);
    assert!(sent[0].starts_with("Connect("), "{sent:?}");
    s.handle_input(&connack(false), 0).unwrap();
    assert_eq!(
        events(&mut s),
        vec![Event::Connected {
            session_present: false
        }]
    );
    s
}

#[test]
fn keep_alive_pings_and_times_out() {
    let mut o = Options::new("k");
    o.keep_alive_secs = 10;
    o.response_timeout = 2_000;
    let mut s = up(o);
    assert_eq!(
        s.poll_timeout(),
        Some(10_000),
        "keep-alive after the last send"
    );
    s.handle_timeout(9_999).unwrap();
    assert!(tx(&mut s, 9_999).is_empty());
    s.handle_timeout(10_000).unwrap();
    assert_eq!(tx(&mut s, 10_000), vec!["Pingreq"]);
    assert_eq!(s.poll_timeout(), Some(12_000), "PINGRESP deadline");
    s.handle_input(&enc(PacketBody::Pingresp), 11_000).unwrap();
    assert_eq!(s.poll_timeout(), Some(20_000));
    s.handle_timeout(20_000).unwrap();
    assert_eq!(tx(&mut s, 20_000), vec!["Pingreq"]);
    assert_eq!(s.handle_timeout(22_000), Err(SessionError::PingTimeout));
}

#[test]
fn connack_timeout_and_refusal() {
    let mut s = Session::new(Options::new("c"));
    s.connect(100).unwrap();
    assert_eq!(s.poll_timeout(), Some(10_100));
    assert_eq!(s.handle_timeout(10_100), Err(SessionError::ConnackTimeout));
    s.connect(0).unwrap();
    let refused = enc(PacketBody::Connack(Connack {
        flags: ConnackFlags {
            session_present: false,
        },
        return_code: ConnectReturnCode::BAD_USER_NAME_OR_PASSWORD,
    }));
    let e = s.handle_input(&refused, 0).unwrap_err();
    assert!(e.to_string().contains("bad user name or password"), "{e}");
}

#[test]
fn inflight_limit_dup_on_resend_and_pubrel_resend() {
    let mut o = Options::new("f");
    o.clean_session = false;
    o.max_inflight = 2;
    let mut s = up(o);
    let t: Vec<Token> = (0..3)
        .map(|i| {
            let q = if i == 1 {
                QoS::ExactlyOnce
            } else {
                QoS::AtLeastOnce
            };
            s.publish("a/b", &[i], q, false).unwrap()
        })
        .collect();
    let sent = tx(&mut s, 1);
    assert_eq!(sent.len(), 2, "in-flight limit 2: {sent:?}");
    assert!(sent.iter().all(|p| p.contains("dup: false")));
    assert_eq!((s.inflight_len(), s.queued_len()), (2, 1));
    assert_eq!(
        events(&mut s),
        vec![Event::Written(t[0]), Event::Written(t[1])]
    );
    // PUBREC for the QoS 2 message (id 2): PUBREL goes out.
    s.handle_input(&enc(PacketBody::Pubrec(PacketId { id: 2 })), 2)
        .unwrap();
    assert_eq!(tx(&mut s, 2), vec!["Pubrel(PacketId { id: 2 })"]);

    // The connection drops; on the next one the QoS 1 PUBLISH is re-sent with DUP and
    // the QoS 2 message continues with PUBREL, not PUBLISH ([MQTT-4.3.3-1]).
    s.connection_lost();
    s.connect(3).unwrap();
    tx(&mut s, 3);
    s.handle_input(&connack(true), 3).unwrap();
    let sent = tx(&mut s, 3);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[0].starts_with("Publish") && sent[0].contains("dup: true"),
        "{sent:?}"
    );
    assert!(sent[0].contains("packet_id: Some(1)"), "{sent:?}");
    assert_eq!(sent[1], "Pubrel(PacketId { id: 2 })");
    // A slot frees up: the queued third message goes out, new, with a fresh id.
    s.handle_input(&enc(PacketBody::Puback(PacketId { id: 1 })), 4)
        .unwrap();
    let sent = tx(&mut s, 4);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains("dup: false") && sent[0].contains("packet_id: Some(3)"));
    s.handle_input(&enc(PacketBody::Pubcomp(PacketId { id: 2 })), 5)
        .unwrap();
    let ev = events(&mut s);
    assert!(ev.contains(&Event::Acknowledged(t[0])) && ev.contains(&Event::Acknowledged(t[1])));
    // An acknowledgement of nothing is a protocol error.
    let e = s
        .handle_input(&enc(PacketBody::Puback(PacketId { id: 1 })), 6)
        .unwrap_err();
    assert!(e.to_string().contains("PUBACK for packet id 1"), "{e}");
}

#[test]
fn incoming_qos2_delivered_once() {
    let mut s = up(Options::new("q"));
    s.handle_input(&publish("t", 2, Some(7), false, b"x"), 1)
        .unwrap();
    s.handle_input(&publish("t", 2, Some(7), true, b"x"), 2)
        .unwrap();
    assert_eq!(tx(&mut s, 2), vec!["Pubrec(PacketId { id: 7 })"; 2]);
    let msgs = events(&mut s)
        .into_iter()
        .filter(|e| matches!(e, Event::Message(_)))
        .count();
    assert_eq!(msgs, 1, "the repeat before PUBREL is not delivered again");
    s.handle_input(&enc(PacketBody::Pubrel(PacketId { id: 7 })), 3)
        .unwrap();
    assert_eq!(tx(&mut s, 3), vec!["Pubcomp(PacketId { id: 7 })"]);
    // After release the id is free: a new message (DUP = 0) with it is delivered.
    s.handle_input(&publish("t", 2, Some(7), false, b"y"), 4)
        .unwrap();
    assert_eq!(
        events(&mut s)
            .into_iter()
            .filter(|e| matches!(e, Event::Message(_)))
            .count(),
        1
    );
}

#[test]
fn suback_failure_is_reported_per_filter_and_requests_survive_reconnects() {
    let mut s = Session::new(Options::new("s"));
    let id = s
        .subscribe(&[("a/#", QoS::ExactlyOnce), ("forbidden", QoS::AtMostOnce)])
        .unwrap();
    s.connect(0).unwrap();
    tx(&mut s, 0);
    s.handle_input(&connack(false), 0).unwrap();
    let sent = tx(&mut s, 0);
    assert!(
        sent[0].starts_with("Subscribe"),
        "sent once connected: {sent:?}"
    );
    s.connection_lost();
    s.connect(1).unwrap();
    tx(&mut s, 1);
    s.handle_input(&connack(false), 1).unwrap();
    let sent = tx(&mut s, 1);
    assert!(sent[0].starts_with("Subscribe"), "sent again: {sent:?}");
    let suback = enc(PacketBody::Suback(Suback {
        packet_id: id,
        return_codes: vec![SubAckCode::SUCCESS_QOS1, SubAckCode::FAILURE],
    }));
    s.handle_input(&suback, 2).unwrap();
    assert!(events(&mut s).contains(&Event::Subscribed {
        packet_id: id,
        outcomes: vec![
            SubscribeOutcome::Granted(QoS::AtLeastOnce),
            SubscribeOutcome::Failed
        ]
    }));
}

#[test]
fn broker_protocol_errors_are_named() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (publish("a/+", 0, None, false, b""), "MQTT-3.3.2-2"),
        (enc(PacketBody::Pingreq), "only clients send"),
        (connack(false), "second CONNACK"),
        (
            enc(PacketBody::Suback(Suback {
                packet_id: 9,
                return_codes: vec![SubAckCode::SUCCESS_QOS0],
            })),
            "SUBACK for packet id 9",
        ),
        (vec![0x36, 0x05, 0, 1, b'a', 0, 1], "malformed"),
        (vec![0xF0, 0x00], "malformed"),
    ];
    for (bytes, needle) in cases {
        let mut s = up(Options::new("e"));
        let e = s.handle_input(&bytes, 1).unwrap_err();
        assert!(e.to_string().contains(needle), "{bytes:02X?}: {e}");
    }
}

/// A broker's side of a session: CONNACK, SUBACK, messages of every QoS, PUBREL,
/// PUBACK / PUBREC / PUBCOMP for the client's messages, PINGRESP.
fn broker_stream() -> Vec<u8> {
    let mut v = connack(false);
    v.extend(enc(PacketBody::Suback(Suback {
        packet_id: 1,
        return_codes: vec![SubAckCode::SUCCESS_QOS2, SubAckCode::FAILURE],
    })));
    v.extend(publish("x/y", 0, None, false, b"zero"));
    v.extend(publish("x/y", 1, Some(5), false, b"one"));
    v.extend(publish("x/y", 2, Some(6), false, b"two"));
    v.extend(enc(PacketBody::Pubrel(PacketId { id: 6 })));
    v.extend(enc(PacketBody::Puback(PacketId { id: 3 })));
    v.extend(enc(PacketBody::Pubrec(PacketId { id: 4 })));
    v.extend(enc(PacketBody::Pubcomp(PacketId { id: 4 })));
    v.extend(enc(PacketBody::Unsuback(PacketId { id: 2 })));
    v.extend(enc(PacketBody::Pingresp));
    v
}

fn client_for_stream() -> Session {
    let mut s = Session::new(Options::new("p"));
    s.subscribe(&[("x/#", QoS::ExactlyOnce), ("no", QoS::AtMostOnce)])
        .unwrap();
    s.publish("o/1", b"a", QoS::AtLeastOnce, false).unwrap();
    s.publish("o/2", b"b", QoS::ExactlyOnce, false).unwrap();
    s.unsubscribe(&["gone"]).unwrap();
    s.connect(0).unwrap();
    s
}

/// Feeds `bytes` in chunks of `chunk`, transmitting in between as a driver would;
/// returns the messages delivered.
fn feed(s: &mut Session, bytes: &[u8], chunk: usize) -> Result<usize, SessionError> {
    let mut out = Vec::new();
    let mut messages = 0;
    for (i, c) in bytes.chunks(chunk.max(1)).enumerate() {
        s.poll_transmit(i as u64, &mut out);
        s.handle_input(c, i as u64)?;
        s.handle_timeout(i as u64)?;
        while let Some(e) = s.poll_event() {
            messages += usize::from(matches!(e, Event::Message(_)));
        }
    }
    s.poll_transmit(u64::MAX / 2, &mut out);
    Ok(messages)
}

#[test]
fn the_reference_stream_is_accepted() {
    // The client's ids: SUBSCRIBE 1 and UNSUBSCRIBE 2 when requested, PUBLISH 3 and 4
    // when sent after CONNACK; the stream acknowledges exactly those. Chunks up to 16
    // bytes let the client send its messages before their acknowledgements arrive.
    for chunk in 1..=16 {
        let mut s = client_for_stream();
        assert_eq!(
            feed(&mut s, &broker_stream(), chunk),
            Ok(3),
            "chunk {chunk}"
        );
        assert_eq!((s.inflight_len(), s.queued_len()), (0, 0));
    }
}

/// The seeds of the `mqtt_session` fuzz target (fuzz/corpus/mqtt_session/): the
/// [`broker_stream`] behind a chunk size and clock step prefix — one byte at a time, 8,
/// 16 and 256 bytes, and a slow clock (600 ms per chunk) that lets the keep-alive and
/// PINGRESP timers fire. Kept equal to the codec's output by this test;
/// `UPDATE_SEEDS=1` rewrites them.
#[test]
fn fuzz_seeds_are_the_reference_stream() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/mqtt_session");
    for (name, chunk, step) in [
        ("reference-1", 0u8, 1u8),
        ("reference-8", 7, 1),
        ("reference-16", 15, 1),
        ("reference-256", 255, 0),
        ("reference-slow", 15, 60),
    ] {
        let mut want = vec![chunk, step];
        want.extend(broker_stream());
        let path = dir.join(name);
        if std::env::var_os("UPDATE_SEEDS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &want).unwrap();
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            want,
            "{name}: UPDATE_SEEDS=1 rewrites it"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any byte edits of a valid broker stream, fed in any chunking: no panic; the
    /// session either accepts the bytes or returns an error whose text says what broke.
    #[test]
    fn mutated_broker_bytes_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
        chunk in 1usize..64,
    ) {
        let mut bytes = broker_stream();
        for (at, b, op) in edits {
            let i = at.index(bytes.len().max(1));
            match op {
                0 if i < bytes.len() => bytes[i] = b,
                1 => bytes.insert(i.min(bytes.len()), b),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        let mut s = client_for_stream();
        if let Err(e) = feed(&mut s, &bytes, chunk) {
            let text = e.to_string();
            prop_assert!(text.len() > 10, "unhelpful error {text:?}");
        }
    }

    /// Arbitrary bytes after a valid CONNACK.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut s = client_for_stream();
        let mut all = connack(false);
        all.extend(bytes);
        let _ = feed(&mut s, &all, 13);
    }
}
