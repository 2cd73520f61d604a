//! Differential test of the generated MQTT 3.1.1 codec (`ferrocom_wire::mqtt311`, built
//! from `spec/protocols/mqtt311.wire`) against an independent, hand-written one: rumqttc's
//! `mqttbytes::v4`.
//!
//! Over random packets of all 14 types (our generated `Arbitrary`, driven by proptest):
//!
//! * **ours → rumqttc**: we encode; rumqttc reads the bytes (consuming exactly them, also
//!   when a next packet follows, and reporting "insufficient bytes" for every strict
//!   prefix, as our decoder reports `Incomplete`); every field of rumqttc's packet equals
//!   ours; rumqttc's `size()` equals our `encoded_len()`; rumqttc writes its packet back
//!   and produces exactly our bytes.
//! * **rumqttc → ours**: the rumqttc packet is built from our random values' fields (not
//!   from our bytes); rumqttc writes it; we decode those bytes (consuming exactly them);
//!   every field equals rumqttc's, and the decoded packet equals the one we started from;
//!   we encode it again and produce exactly rumqttc's bytes.
//!
//! rumqttc is not a perfect oracle: in places it is stricter than MQTT 3.1.1, looser, or
//! represents a field differently. Our codec is NOT bent to match it. Instead
//! [`comparable`] leaves out of the comparison exactly the inputs where the two are
//! expected to differ (each filter names the rumqttc behaviour and the standard's rule),
//! and the `disagreement_*` unit tests at the end pin every known difference with a
//! concrete packet, so that a change on either side shows up.
#![cfg(feature = "arbitrary")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use ferrocom_wire::codec::{DecodeError, Decoded};
use ferrocom_wire::mqtt311::{self, Packet, PacketBody};
use proptest::prelude::*;
use rumqttc::mqttbytes::v4;
use rumqttc::mqttbytes::{Protocol, QoS};

/// No packet size limit for rumqttc's reader and writer (its `max_size` arguments).
const NO_LIMIT: usize = usize::MAX;

// ---------------------------------------------------------------------------------------
// The two codecs, behind small helpers

/// Our encoding of `p`, checking that `encode` reports the bytes it wrote and that
/// `encoded_len` agrees.
fn ours_encode(p: &Packet<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let n = p
        .encode(&mut out)
        .expect("our encoder rejected a packet it generated");
    assert_eq!(n, out.len(), "encode() return value");
    assert_eq!(p.encoded_len(), n, "encoded_len()");
    out
}

/// Our streaming decode of `bytes`: the packet and the bytes it consumed.
fn ours_decode(bytes: &[u8]) -> Result<Decoded<Packet<'_>>, DecodeError> {
    Packet::decode(bytes)
}

/// rumqttc's decode of `bytes`: the packet and the number of bytes it consumed.
fn theirs_read(bytes: &[u8]) -> Result<(v4::Packet, usize), rumqttc::mqttbytes::Error> {
    let mut buf = BytesMut::from(bytes);
    let p = v4::Packet::read(&mut buf, NO_LIMIT)?;
    Ok((p, bytes.len() - buf.len()))
}

/// rumqttc's encoding of `p`, checking that `write` reports the bytes it wrote.
fn theirs_write(p: &v4::Packet) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let n = p
        .write(&mut buf, NO_LIMIT)
        .expect("rumqttc rejected a packet to write");
    assert_eq!(n, buf.len(), "rumqttc write() return value");
    buf.to_vec()
}

fn qos_of(q: u8) -> QoS {
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        2 => QoS::ExactlyOnce,
        _ => panic!("QoS {q} in a packet our encoder accepted"),
    }
}

// ---------------------------------------------------------------------------------------
// Where rumqttc and MQTT 3.1.1 part ways

/// `true` if `p` is a packet on which rumqttc is expected to agree with us. Every `false`
/// below is a known rumqttc behaviour that differs from MQTT 3.1.1 or from our
/// representation; each has a `disagreement_*` test with a concrete packet.
fn comparable(p: &Packet<'_>) -> bool {
    match &p.body {
        PacketBody::Connect(c) => {
            // rumqttc stores the password as a `String` and reads it with
            // `read_mqtt_string`, so it rejects a non-UTF-8 password (`TopicNotUtf8`).
            // MQTT 3.1.1 §3.1.3.5: the password is Binary Data, 0 to 65535 bytes of any
            // value. (disagreement_connect_binary_password)
            let password_utf8 = c.password.is_none_or(|pw| std::str::from_utf8(pw).is_ok());
            // rumqttc's `Login` treats an empty user name or password as absent: it reads
            // flag+empty string as "no login" / "no password" and writes no flag for an
            // empty string. MQTT 3.1.1 §1.5.3 / §3.1.3.4 / §3.1.3.5: a zero-length user
            // name or password is a present field, distinct from an absent one.
            // (disagreement_connect_empty_user_name, disagreement_connect_empty_password)
            let username_nonempty = c.username.is_none_or(|u| !u.is_empty());
            let password_nonempty = c.password.is_none_or(|pw| !pw.is_empty());
            password_utf8 && username_nonempty && password_nonempty
        }
        // rumqttc's `ConnectReturnCode` has only codes 0..=5 and rejects any other
        // (`InvalidConnectReturnCode`). MQTT 3.1.1 §3.2.2.3 Table 3.1: 6..=255 are
        // "reserved for future use"; our spec keeps the enum open so that an engine or the
        // conformance suite can report them. (disagreement_connack_reserved_return_code)
        PacketBody::Connack(c) => c.return_code.0 <= 5,
        PacketBody::Suback(s) => {
            // rumqttc's `SubscribeReasonCode` has only 0x00, 0x01, 0x02 and 0x80 and
            // rejects others (`InvalidSubscribeReasonCode`). [MQTT-3.9.3-2]: the other
            // values are reserved and MUST NOT be used by a sender; our spec keeps the enum
            // open so the conformance suite can report them.
            // (disagreement_suback_reserved_return_code)
            let known = s
                .return_codes
                .iter()
                .all(|c| matches!(c.0, 0x00 | 0x01 | 0x02 | 0x80));
            // rumqttc rejects a SUBACK without return codes (`MalformedPacket`). MQTT 3.1.1
            // requires one code per topic filter of the SUBSCRIBE ([MQTT-3.9.3-1]), which
            // has at least one ([MQTT-3.8.3-3]), but gives no rule on the SUBACK alone; our
            // spec does not require `count(return_codes) >= 1`.
            // (disagreement_suback_without_return_codes)
            known && !s.return_codes.is_empty()
        }
        PacketBody::Publish(_)
        | PacketBody::Puback(_)
        | PacketBody::Pubrec(_)
        | PacketBody::Pubrel(_)
        | PacketBody::Pubcomp(_)
        | PacketBody::Subscribe(_)
        | PacketBody::Unsubscribe(_)
        | PacketBody::Unsuback(_)
        | PacketBody::Pingreq
        | PacketBody::Pingresp
        | PacketBody::Disconnect => true,
    }
}

// ---------------------------------------------------------------------------------------
// Field-by-field comparison and construction

/// Asserts that every field of our packet equals the corresponding field of rumqttc's.
///
/// Representation differences, mapped here: rumqttc has no connect-flag byte (the will
/// and user name / password flags are `last_will` / `login` being `Some`, with an empty
/// user name or password meaning absent); its PUBLISH packet id is `0` where ours is
/// `None` (QoS 0); its QoS values and return codes are enums where ours are integers.
fn assert_same(ours: &Packet<'_>, theirs: &v4::Packet) {
    use v4::Packet as T;
    match (&ours.body, theirs) {
        (PacketBody::Connect(o), T::Connect(t)) => {
            assert_eq!(o.level, 4, "CONNECT protocol level");
            assert_eq!(t.protocol, Protocol::V4, "CONNECT protocol level");
            assert_eq!(o.keep_alive, t.keep_alive, "CONNECT keep alive");
            assert_eq!(o.client_id, t.client_id, "CONNECT client id");
            assert_eq!(
                o.flags.clean_session, t.clean_session,
                "CONNECT clean session"
            );
            // Will.
            assert_eq!(o.flags.will, t.last_will.is_some(), "CONNECT will flag");
            assert_eq!(
                o.will_topic.is_some(),
                o.flags.will,
                "CONNECT will topic presence"
            );
            assert_eq!(
                o.will_message.is_some(),
                o.flags.will,
                "CONNECT will message presence"
            );
            match &t.last_will {
                Some(w) => {
                    assert_eq!(o.will_topic, Some(w.topic.as_str()), "CONNECT will topic");
                    assert_eq!(o.will_message, Some(&w.message[..]), "CONNECT will message");
                    assert_eq!(qos_of(o.flags.will_qos), w.qos, "CONNECT will QoS");
                    assert_eq!(o.flags.will_retain, w.retain, "CONNECT will retain");
                }
                None => {
                    assert_eq!(o.flags.will_qos, 0, "CONNECT will QoS without will");
                    assert!(!o.flags.will_retain, "CONNECT will retain without will");
                }
            }
            // User name and password.
            assert_eq!(
                o.flags.username,
                o.username.is_some(),
                "CONNECT user name flag"
            );
            assert_eq!(
                o.flags.password,
                o.password.is_some(),
                "CONNECT password flag"
            );
            match &t.login {
                Some(l) => {
                    assert_eq!(o.username.unwrap_or(""), l.username, "CONNECT user name");
                    assert_eq!(
                        o.password.unwrap_or(b""),
                        l.password.as_bytes(),
                        "CONNECT password"
                    );
                }
                None => {
                    assert_eq!(o.username, None, "CONNECT user name");
                    assert_eq!(o.password, None, "CONNECT password");
                }
            }
        }
        (PacketBody::Connack(o), T::ConnAck(t)) => {
            assert_eq!(
                o.flags.session_present, t.session_present,
                "CONNACK session present"
            );
            assert_eq!(o.return_code.0, t.code as u8, "CONNACK return code");
        }
        (PacketBody::Publish(o), T::Publish(t)) => {
            assert_eq!(o.header.dup, t.dup, "PUBLISH dup");
            assert_eq!(qos_of(o.header.qos), t.qos, "PUBLISH QoS");
            assert_eq!(o.header.retain, t.retain, "PUBLISH retain");
            assert_eq!(o.topic, t.topic, "PUBLISH topic");
            match o.packet_id {
                Some(id) => assert_eq!(id, t.pkid, "PUBLISH packet id"),
                None => {
                    assert_eq!(o.header.qos, 0, "PUBLISH without packet id");
                    assert_eq!(t.pkid, 0, "PUBLISH packet id at QoS 0");
                }
            }
            assert_eq!(o.payload, &t.payload[..], "PUBLISH payload");
        }
        (PacketBody::Puback(o), T::PubAck(t)) => assert_eq!(o.id, t.pkid, "PUBACK packet id"),
        (PacketBody::Pubrec(o), T::PubRec(t)) => assert_eq!(o.id, t.pkid, "PUBREC packet id"),
        (PacketBody::Pubrel(o), T::PubRel(t)) => assert_eq!(o.id, t.pkid, "PUBREL packet id"),
        (PacketBody::Pubcomp(o), T::PubComp(t)) => assert_eq!(o.id, t.pkid, "PUBCOMP packet id"),
        (PacketBody::Subscribe(o), T::Subscribe(t)) => {
            assert_eq!(o.packet_id, t.pkid, "SUBSCRIBE packet id");
            assert_eq!(o.filters.len(), t.filters.len(), "SUBSCRIBE filter count");
            for (of, tf) in o.filters.iter().zip(&t.filters) {
                assert_eq!(of.topic, tf.path, "SUBSCRIBE topic filter");
                assert_eq!(qos_of(of.qos), tf.qos, "SUBSCRIBE requested QoS");
            }
        }
        (PacketBody::Suback(o), T::SubAck(t)) => {
            assert_eq!(o.packet_id, t.pkid, "SUBACK packet id");
            let codes: Vec<u8> = t
                .return_codes
                .iter()
                .map(|c| match c {
                    v4::SubscribeReasonCode::Success(q) => *q as u8,
                    v4::SubscribeReasonCode::Failure => 0x80,
                })
                .collect();
            let ours: Vec<u8> = o.return_codes.iter().map(|c| c.0).collect();
            assert_eq!(ours, codes, "SUBACK return codes");
        }
        (PacketBody::Unsubscribe(o), T::Unsubscribe(t)) => {
            assert_eq!(o.packet_id, t.pkid, "UNSUBSCRIBE packet id");
            assert_eq!(o.filters, t.topics, "UNSUBSCRIBE topic filters");
        }
        (PacketBody::Unsuback(o), T::UnsubAck(t)) => assert_eq!(o.id, t.pkid, "UNSUBACK packet id"),
        (PacketBody::Pingreq, T::PingReq)
        | (PacketBody::Pingresp, T::PingResp)
        | (PacketBody::Disconnect, T::Disconnect) => {}
        (o, t) => panic!("packet type differs: ours {o:?}, rumqttc {t:?}"),
    }
}

/// rumqttc's packet with the field values of ours (only for [`comparable`] packets).
fn to_theirs(p: &Packet<'_>) -> v4::Packet {
    use v4::Packet as T;
    match &p.body {
        PacketBody::Connect(c) => T::Connect(v4::Connect {
            protocol: Protocol::V4,
            keep_alive: c.keep_alive,
            client_id: c.client_id.to_owned(),
            clean_session: c.flags.clean_session,
            last_will: c.flags.will.then(|| v4::LastWill {
                topic: c.will_topic.expect("will topic").to_owned(),
                message: Bytes::copy_from_slice(c.will_message.expect("will message")),
                qos: qos_of(c.flags.will_qos),
                retain: c.flags.will_retain,
            }),
            login: c.username.map(|u| v4::Login {
                username: u.to_owned(),
                password: c
                    .password
                    .map(|pw| {
                        std::str::from_utf8(pw)
                            .expect("comparable: UTF-8 password")
                            .to_owned()
                    })
                    .unwrap_or_default(),
            }),
        }),
        PacketBody::Connack(c) => T::ConnAck(v4::ConnAck {
            session_present: c.flags.session_present,
            code: match c.return_code.0 {
                0 => v4::ConnectReturnCode::Success,
                1 => v4::ConnectReturnCode::RefusedProtocolVersion,
                2 => v4::ConnectReturnCode::BadClientId,
                3 => v4::ConnectReturnCode::ServiceUnavailable,
                4 => v4::ConnectReturnCode::BadUserNamePassword,
                5 => v4::ConnectReturnCode::NotAuthorized,
                other => panic!("comparable: CONNACK return code {other}"),
            },
        }),
        PacketBody::Publish(x) => T::Publish(v4::Publish {
            dup: x.header.dup,
            qos: qos_of(x.header.qos),
            retain: x.header.retain,
            topic: x.topic.to_owned(),
            pkid: x.packet_id.unwrap_or(0),
            payload: Bytes::copy_from_slice(x.payload),
        }),
        PacketBody::Puback(x) => T::PubAck(v4::PubAck { pkid: x.id }),
        PacketBody::Pubrec(x) => T::PubRec(v4::PubRec { pkid: x.id }),
        PacketBody::Pubrel(x) => T::PubRel(v4::PubRel { pkid: x.id }),
        PacketBody::Pubcomp(x) => T::PubComp(v4::PubComp { pkid: x.id }),
        PacketBody::Subscribe(s) => T::Subscribe(v4::Subscribe {
            pkid: s.packet_id,
            filters: s
                .filters
                .iter()
                .map(|f| v4::SubscribeFilter {
                    path: f.topic.to_owned(),
                    qos: qos_of(f.qos),
                })
                .collect(),
        }),
        PacketBody::Suback(s) => T::SubAck(v4::SubAck {
            pkid: s.packet_id,
            return_codes: s
                .return_codes
                .iter()
                .map(|c| match c.0 {
                    0x80 => v4::SubscribeReasonCode::Failure,
                    q => v4::SubscribeReasonCode::Success(qos_of(q)),
                })
                .collect(),
        }),
        PacketBody::Unsubscribe(u) => T::Unsubscribe(v4::Unsubscribe {
            pkid: u.packet_id,
            topics: u.filters.iter().map(|f| (*f).to_owned()).collect(),
        }),
        PacketBody::Unsuback(x) => T::UnsubAck(v4::UnsubAck { pkid: x.id }),
        PacketBody::Pingreq => T::PingReq,
        PacketBody::Pingresp => T::PingResp,
        PacketBody::Disconnect => T::Disconnect,
    }
}

// ---------------------------------------------------------------------------------------
// The two directions

/// A PINGREQ appended after the packet under test: both decoders must stop before it.
const NEXT: [u8; 2] = [0xC0, 0x00];

/// Bytes of the fixed header (type byte and remaining length) at the start of `bytes`.
fn fixed_header_len(bytes: &[u8]) -> usize {
    1 + bytes[1..]
        .iter()
        .position(|b| b & 0x80 == 0)
        .expect("remaining length")
        + 1
}

/// Our bytes → rumqttc reads them → same fields → rumqttc writes them → same bytes.
fn ours_to_theirs(p: &Packet<'_>) {
    let bytes = ours_encode(p);
    let n = bytes.len();

    let (theirs, used) =
        theirs_read(&bytes).unwrap_or_else(|e| panic!("rumqttc rejected our {bytes:02x?}: {e:?}"));
    assert_eq!(used, n, "rumqttc consumed");
    assert_same(p, &theirs);
    assert_eq!(theirs.size(), n, "rumqttc size() vs our encoded_len()");
    assert_eq!(
        theirs_write(&theirs),
        bytes,
        "rumqttc re-encoding of our bytes"
    );

    // Framing in a stream: both stop at the end of the packet...
    let mut stream = bytes.clone();
    stream.extend_from_slice(&NEXT);
    let (again, used) = theirs_read(&stream).expect("rumqttc, packet followed by another");
    assert_eq!(
        (used, &again),
        (n, &theirs),
        "rumqttc, packet followed by another"
    );
    match ours_decode(&stream) {
        Ok(Decoded::Complete(back, used)) => {
            assert_eq!((used, &back), (n, p), "ours, packet followed by another")
        }
        other => panic!("ours, packet followed by another: {other:?}"),
    }
    // ...and both ask for more bytes on every strict prefix, the same number once the
    // fixed header is complete (before that each asks for a lower bound of its own).
    if n <= 4096 {
        let header = fixed_header_len(&bytes);
        for cut in 0..n {
            let ours = match ours_decode(&bytes[..cut]) {
                Ok(Decoded::Incomplete(k)) => k,
                other => panic!("ours on prefix {cut} of {bytes:02x?}: {other:?}"),
            };
            let theirs = match theirs_read(&bytes[..cut]) {
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(k)) => k,
                other => panic!("rumqttc on prefix {cut} of {bytes:02x?}: {other:?}"),
            };
            assert!(ours >= 1 && theirs >= 1);
            if cut >= header {
                assert_eq!(ours, theirs, "bytes missing after prefix {cut} of {n}");
                assert_eq!(ours, n - cut, "bytes missing after prefix {cut} of {n}");
            }
        }
    }
}

/// rumqttc packet built from our fields → rumqttc writes → we decode → same fields and
/// the same packet → we encode → rumqttc's bytes.
fn theirs_to_ours(p: &Packet<'_>) {
    let theirs = to_theirs(p);
    let bytes = theirs_write(&theirs);
    assert_eq!(theirs.size(), bytes.len(), "rumqttc size()");
    let back = match ours_decode(&bytes) {
        Ok(Decoded::Complete(back, used)) => {
            assert_eq!(used, bytes.len(), "ours consumed");
            back
        }
        other => panic!("ours on rumqttc's {bytes:02x?} ({theirs:?}): {other:?}"),
    };
    assert_same(&back, &theirs);
    assert_eq!(
        &back, p,
        "decoded packet vs the packet rumqttc's was built from"
    );
    assert_eq!(
        Packet::decode_exact(&bytes).as_ref(),
        Ok(&back),
        "decode_exact"
    );
    assert_eq!(
        ours_encode(&back),
        bytes,
        "our re-encoding of rumqttc's bytes"
    );
}

/// Both directions on one packet (which must be [`comparable`]).
fn differential(p: &Packet<'_>) {
    assert!(comparable(p), "not comparable with rumqttc: {p:?}");
    ours_to_theirs(p);
    theirs_to_ours(p);
}

// ---------------------------------------------------------------------------------------
// Random packets of every type

/// One proptest per packet type, so that every type gets the same number of cases (the
/// mixed generator reaches some types far less often than others), plus one over
/// `Packet::arbitrary` itself.
macro_rules! differential_props {
    ($($test:ident: |$u:ident| $body:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, max_global_rejects: 10_000, ..ProptestConfig::default() })]
            $(
                #[test]
                fn $test(seed in proptest::collection::vec(any::<u8>(), 0..1200)) {
                    let mut $u = Unstructured::new(&seed);
                    let body: arbitrary::Result<PacketBody<'_>> = $body;
                    // Generator inputs that make no encodable packet.
                    prop_assume!(body.is_ok());
                    let packet = Packet { body: body.unwrap() };
                    // Inputs where rumqttc is known to differ (see `comparable`).
                    prop_assume!(comparable(&packet));
                    differential(&packet);
                }
            )*
        }
    };
}

differential_props! {
    connect: |u| mqtt311::Connect::arbitrary(&mut u).map(PacketBody::Connect);
    publish: |u| mqtt311::Publish::arbitrary(&mut u).map(PacketBody::Publish);
    puback: |u| mqtt311::PacketId::arbitrary(&mut u).map(PacketBody::Puback);
    pubrec: |u| mqtt311::PacketId::arbitrary(&mut u).map(PacketBody::Pubrec);
    pubrel: |u| mqtt311::PacketId::arbitrary(&mut u).map(PacketBody::Pubrel);
    pubcomp: |u| mqtt311::PacketId::arbitrary(&mut u).map(PacketBody::Pubcomp);
    subscribe: |u| mqtt311::Subscribe::arbitrary(&mut u).map(PacketBody::Subscribe);
    // Random return codes are almost never all among the four rumqttc knows (see
    // `comparable`), so they are mapped onto those four instead of being filtered.
    suback: |u| mqtt311::Suback::arbitrary(&mut u).map(|mut s| {
        for c in &mut s.return_codes {
            c.0 = [0x00, 0x01, 0x02, 0x80][usize::from(c.0 % 4)];
        }
        PacketBody::Suback(s)
    });
    unsubscribe: |u| mqtt311::Unsubscribe::arbitrary(&mut u).map(PacketBody::Unsubscribe);
    unsuback: |u| mqtt311::PacketId::arbitrary(&mut u).map(PacketBody::Unsuback);
    any_packet: |u| Packet::arbitrary(&mut u).map(|p| p.body);
}

/// CONNACK has a two-byte body: all 65536 of them, through both decoders. Where both
/// accept, the packets agree field by field and both directions of the differential hold;
/// every body only one of them accepts is one of the known disagreements.
#[test]
fn connack_exhaustive() {
    let mut compared = 0;
    for flags in 0..=255u8 {
        for code in 0..=255u8 {
            let b = [0x20, 0x02, flags, code];
            match (ours_exact(&b), theirs_exact(&b)) {
                (Ok(ours), Ok(theirs)) => {
                    assert_same(&ours, &theirs);
                    differential(&ours);
                    compared += 1;
                }
                (Err(_), Err(_)) => {}
                // disagreement_connack_reserved_return_code
                (Ok(_), Err(rumqttc::mqttbytes::Error::InvalidConnectReturnCode(c))) => {
                    assert!(c >= 6 && c == code, "{b:02x?}");
                }
                // disagreement_connack_reserved_flags
                (Err(Some("MQTT-3.2.2.1")), Ok(_)) => assert!(flags & 0xFE != 0, "{b:02x?}"),
                // disagreement_connack_session_present_with_refusal
                (Err(Some("MQTT-3.2.2-4")), Ok(_)) => assert!(flags == 1 && code != 0, "{b:02x?}"),
                (ours, theirs) => panic!("{b:02x?}: ours {ours:?}, rumqttc {theirs:?}"),
            }
        }
    }
    // Session present 0 with codes 0..=5, and session present 1 with code 0.
    assert_eq!(compared, 7);
}

/// The three packets without fields have a single value each.
#[test]
fn pingreq_pingresp_disconnect() {
    for body in [
        PacketBody::Pingreq,
        PacketBody::Pingresp,
        PacketBody::Disconnect,
    ] {
        differential(&Packet { body });
    }
}

/// The mixed generator (`Packet::arbitrary`, as used by `any_packet` and cargo-fuzz)
/// reaches every packet type with comparable values, and those pass the differential.
#[test]
fn generators_make_comparable_packets_of_every_type() {
    use proptest::test_runner::{RngAlgorithm, TestRng};
    let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut compared = std::collections::BTreeMap::new();
    for _ in 0..20_000 {
        let len = (rng.next_u32() % 600) as usize;
        let seed: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        if let Ok(p) = Packet::arbitrary(&mut Unstructured::new(&seed))
            && comparable(&p)
        {
            differential(&p);
            *compared.entry(ours_encode(&p)[0] >> 4).or_insert(0u32) += 1;
        }
    }
    assert_eq!(
        compared.keys().copied().collect::<Vec<u8>>(),
        (1..=14).collect::<Vec<u8>>(),
        "{compared:?}"
    );
}

/// Remaining lengths of 2, 3 and 4 bytes (the random packets stay below 16 KiB).
#[test]
fn long_remaining_lengths() {
    for len in [127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
        let payload = vec![0xA5u8; len];
        let p = Packet {
            body: PacketBody::Publish(mqtt311::Publish {
                header: mqtt311::PublishHeader {
                    dup: false,
                    qos: 1,
                    retain: true,
                },
                topic: "a/b",
                packet_id: Some(7),
                payload: &payload,
            }),
        };
        differential(&p);
    }
}

// ---------------------------------------------------------------------------------------
// Known disagreements, each with a concrete packet

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Our decode of exactly `bytes`: the packet, or the error's clause.
fn ours_exact(bytes: &[u8]) -> Result<Packet<'_>, Option<&'static str>> {
    match Packet::decode(bytes) {
        Ok(Decoded::Complete(p, n)) if n == bytes.len() => Ok(p),
        Ok(other) => panic!("ours on {bytes:02x?}: {other:?}"),
        Err(e) => Err(e.clause()),
    }
}

/// rumqttc's decode of exactly `bytes`.
fn theirs_exact(bytes: &[u8]) -> Result<v4::Packet, rumqttc::mqttbytes::Error> {
    let (p, n) = theirs_read(bytes)?;
    assert_eq!(n, bytes.len(), "rumqttc consumed");
    Ok(p)
}

/// CONNECT with header `10 len 00 04 "MQTT" 04 <flags> 00 3C` and the given payload.
fn connect_bytes(flags: u8, payload: &str) -> Vec<u8> {
    let payload = hex(payload);
    let mut b = vec![0x10, (10 + payload.len()) as u8];
    b.extend_from_slice(&hex("0004 4D515454 04"));
    b.push(flags);
    b.extend_from_slice(&hex("003C"));
    b.extend_from_slice(&payload);
    b
}

/// [§3.1.3.5] The password is binary data; rumqttc only takes UTF-8.
#[test]
fn disagreement_connect_binary_password() {
    // Client id "c", user name "u", password FF FE.
    let b = connect_bytes(0xC2, "0001 63  0001 75  0002 FFFE");
    let ours = ours_exact(&b).unwrap();
    let PacketBody::Connect(c) = &ours.body else {
        panic!("{ours:?}")
    };
    assert_eq!(c.password, Some(&[0xFF, 0xFE][..]));
    assert!(matches!(
        theirs_exact(&b),
        Err(rumqttc::mqttbytes::Error::TopicNotUtf8)
    ));
}

/// [§1.5.3, §3.1.3.4] A zero-length user name is a present field; rumqttc reads it as no
/// login and writes the CONNECT back without the user name flag and field.
#[test]
fn disagreement_connect_empty_user_name() {
    let b = connect_bytes(0x82, "0001 63  0000");
    let ours = ours_exact(&b).unwrap();
    let PacketBody::Connect(c) = &ours.body else {
        panic!("{ours:?}")
    };
    assert_eq!((c.flags.username, c.username), (true, Some("")));
    assert_eq!(ours_encode(&ours), b);
    let theirs = theirs_exact(&b).unwrap();
    let v4::Packet::Connect(t) = &theirs else {
        panic!("{theirs:?}")
    };
    assert_eq!(t.login, None);
    assert_eq!(theirs_write(&theirs), connect_bytes(0x02, "0001 63"));
}

/// [§3.1.3.5] A zero-length password is a present field; rumqttc drops it on writing.
#[test]
fn disagreement_connect_empty_password() {
    let b = connect_bytes(0xC2, "0001 63  0001 75  0000");
    let ours = ours_exact(&b).unwrap();
    assert_eq!(ours_encode(&ours), b);
    let theirs = theirs_exact(&b).unwrap();
    assert_eq!(
        theirs_write(&theirs),
        connect_bytes(0x82, "0001 63  0001 75")
    );
}

/// [MQTT-3.1.2-22] No password without a user name: rumqttc reads one anyway, and writes
/// one when its `Login` has an empty user name and a non-empty password.
#[test]
fn disagreement_connect_password_without_user_name() {
    let b = connect_bytes(0x42, "0001 63  0002 7077");
    assert_eq!(ours_exact(&b).unwrap_err(), Some("MQTT-3.1.2-22"));
    let theirs = theirs_exact(&b).unwrap();
    let v4::Packet::Connect(t) = &theirs else {
        panic!("{theirs:?}")
    };
    assert_eq!(
        t.login,
        Some(v4::Login {
            username: String::new(),
            password: "pw".into()
        })
    );
    assert_eq!(
        theirs_write(&theirs),
        b,
        "rumqttc writes the forbidden flags"
    );
}

/// [MQTT-3.1.2-3] The reserved connect flag must be 0: rumqttc ignores it.
#[test]
fn disagreement_connect_reserved_flag() {
    let b = connect_bytes(0x03, "0001 63");
    assert_eq!(ours_exact(&b).unwrap_err(), Some("MQTT-3.1.2-3"));
    assert!(theirs_exact(&b).is_ok());
}

/// [MQTT-3.1.2-2] Protocol level 5 is not MQTT 3.1.1; rumqttc's v4 reader accepts it as
/// `Protocol::V5` (and would write it back with level 5).
#[test]
fn disagreement_connect_protocol_level_5() {
    let mut b = connect_bytes(0x02, "0001 63");
    b[8] = 5;
    assert_eq!(ours_exact(&b).unwrap_err(), Some("MQTT-3.1.2-2"));
    let theirs = theirs_exact(&b).unwrap();
    let v4::Packet::Connect(t) = &theirs else {
        panic!("{theirs:?}")
    };
    assert_eq!(t.protocol, Protocol::V5);
}

/// [§3.1, MQTT-2.2.3] The remaining length covers the payload exactly: rumqttc ignores
/// bytes after the last CONNECT payload field.
#[test]
fn disagreement_connect_trailing_bytes() {
    let b = connect_bytes(0x02, "0001 63  EE");
    assert!(ours_exact(&b).is_err());
    assert!(theirs_exact(&b).is_ok());
}

/// [§3.2.2.1] CONNACK flag bits 7-1 are reserved (0): rumqttc ignores them.
#[test]
fn disagreement_connack_reserved_flags() {
    let b = hex("2002 0200");
    assert_eq!(ours_exact(&b).unwrap_err(), Some("MQTT-3.2.2.1"));
    assert!(theirs_exact(&b).is_ok());
}

/// [MQTT-3.2.2-4] Session Present must be 0 with a non-zero return code: rumqttc accepts
/// `01 05`.
#[test]
fn disagreement_connack_session_present_with_refusal() {
    let b = hex("2002 0105");
    assert_eq!(ours_exact(&b).unwrap_err(), Some("MQTT-3.2.2-4"));
    assert!(theirs_exact(&b).is_ok());
}

/// [§3.2.2.3] Return codes 6..=255 are reserved: we keep them, rumqttc rejects them.
#[test]
fn disagreement_connack_reserved_return_code() {
    let b = hex("2002 0006");
    let ours = ours_exact(&b).unwrap();
    let PacketBody::Connack(c) = &ours.body else {
        panic!("{ours:?}")
    };
    assert_eq!(c.return_code.0, 6);
    assert!(matches!(
        theirs_exact(&b),
        Err(rumqttc::mqttbytes::Error::InvalidConnectReturnCode(6))
    ));
}

/// [MQTT-2.2.2-2, MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1, MQTT-3.14.1-1] Reserved flags
/// in byte 1 must have the listed values: rumqttc only looks at the packet type nibble.
#[test]
fn disagreement_fixed_header_flags() {
    for (b, clause) in [
        ("4102 0001", "MQTT-2.2.2-2"),            // PUBACK with flags 0001
        ("6002 0001", "MQTT-3.6.1-1"),            // PUBREL with flags 0000 instead of 0010
        ("8006 0001 0001 61 00", "MQTT-3.8.1-1"), // SUBSCRIBE with flags 0000
        ("A005 0001 0001 61", "MQTT-3.10.1-1"),   // UNSUBSCRIBE with flags 0000
        ("C100", "MQTT-2.2.2-2"),                 // PINGREQ with flags 0001
        ("E800", "MQTT-3.14.1-1"),                // DISCONNECT with flags 1000
    ] {
        let b = hex(b);
        assert_eq!(ours_exact(&b).unwrap_err(), Some(clause), "{b:02x?}");
        assert!(theirs_exact(&b).is_ok(), "{b:02x?}");
    }
}

/// [MQTT-2.2.3, §3.4.1, §3.12.1] PUBACK/PUBREC/PUBREL/PUBCOMP have remaining length 2,
/// PINGREQ/PINGRESP/DISCONNECT 0: rumqttc ignores extra bytes in them (it does check
/// UNSUBACK).
#[test]
fn disagreement_trailing_bytes_in_fixed_size_packets() {
    for b in [
        "4003 0001 FF",
        "5003 0001 FF",
        "6203 0001 FF",
        "7003 0001 FF",
        "C001 FF",
        "D001 FF",
        "E001 FF",
    ] {
        let b = hex(b);
        assert!(ours_exact(&b).is_err(), "{b:02x?}");
        assert!(theirs_exact(&b).is_ok(), "{b:02x?}");
    }
    let b = hex("B003 0001 FF");
    assert!(ours_exact(&b).is_err());
    assert!(theirs_exact(&b).is_err());
}

/// [MQTT-3-8.3-4] Bits 7-2 of a requested QoS byte are reserved (0): rumqttc masks them
/// off, so `05` reads as QoS 1.
#[test]
fn disagreement_subscribe_reserved_qos_bits() {
    let b = hex("8206 0001 0001 61 05");
    assert_eq!(ours_exact(&b).unwrap_err(), Some("MQTT-3-8.3-4"));
    let theirs = theirs_exact(&b).unwrap();
    let v4::Packet::Subscribe(t) = &theirs else {
        panic!("{theirs:?}")
    };
    assert_eq!(t.filters[0].qos, QoS::AtLeastOnce);
}

/// [MQTT-2.3.1-1] SUBSCRIBE and UNSUBSCRIBE carry a non-zero packet identifier: rumqttc
/// reads and writes packet id 0 (it checks only PUBLISH).
#[test]
fn disagreement_packet_id_zero() {
    for b in ["8206 0000 0001 61 01", "A205 0000 0001 61"] {
        let b = hex(b);
        assert_eq!(
            ours_exact(&b).unwrap_err(),
            Some("MQTT-2.3.1-1"),
            "{b:02x?}"
        );
        let theirs = theirs_exact(&b).unwrap();
        assert_eq!(theirs_write(&theirs), b);
    }
}

/// [MQTT-3.10.3-2] UNSUBSCRIBE has at least one topic filter: rumqttc reads and writes an
/// empty one.
#[test]
fn disagreement_unsubscribe_without_filters() {
    let b = hex("A202 0001");
    assert_eq!(ours_exact(&b).unwrap_err(), Some("MQTT-3.10.3-2"));
    let theirs = theirs_exact(&b).unwrap();
    assert_eq!(theirs_write(&theirs), b);
}

/// [MQTT-3.9.3-1] One return code per SUBSCRIBE filter (so at least one): rumqttc rejects
/// a SUBACK without codes, our spec has no `count(return_codes) >= 1` (the standard has no
/// rule on the SUBACK alone) and accepts it.
#[test]
fn disagreement_suback_without_return_codes() {
    let b = hex("9002 0001");
    let ours = ours_exact(&b).unwrap();
    let PacketBody::Suback(s) = &ours.body else {
        panic!("{ours:?}")
    };
    assert!(s.return_codes.is_empty());
    assert!(matches!(
        theirs_exact(&b),
        Err(rumqttc::mqttbytes::Error::MalformedPacket)
    ));
}

/// [MQTT-3.9.3-2] SUBACK codes other than 00, 01, 02, 80 are reserved: we keep them (for
/// the conformance suite to report), rumqttc rejects them.
#[test]
fn disagreement_suback_reserved_return_code() {
    let b = hex("9003 0001 03");
    let ours = ours_exact(&b).unwrap();
    let PacketBody::Suback(s) = &ours.body else {
        panic!("{ours:?}")
    };
    assert_eq!(s.return_codes[0].0, 3);
    assert!(matches!(
        theirs_exact(&b),
        Err(rumqttc::mqttbytes::Error::InvalidSubscribeReasonCode(3))
    ));
}

/// Where both are looser than one might expect, they agree: neither requires the minimal
/// remaining-length encoding (MQTT 3.1.1 has no such rule; MQTT 5 added one), and neither
/// enforces the content rules the spec file leaves to the engine (DUP on QoS 0,
/// [MQTT-3.3.1-2]; wildcards in a topic name, [MQTT-3.3.2-2]).
#[test]
fn agreements_on_loose_points() {
    // PINGREQ with remaining length 0 in two bytes.
    let b = hex("C08000");
    assert_eq!(ours_exact(&b).unwrap().body, PacketBody::Pingreq);
    assert_eq!(theirs_exact(&b).unwrap(), v4::Packet::PingReq);
    // PUBLISH QoS 0 with DUP, topic "#".
    let b = hex("3803 0001 23");
    let ours = ours_exact(&b).unwrap();
    let theirs = theirs_exact(&b).unwrap();
    assert_same(&ours, &theirs);
    assert_eq!(theirs_write(&theirs), b);
}
