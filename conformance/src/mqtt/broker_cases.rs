//! Cases for an MQTT 3.1.1 broker: the suite acts as clients. Every case uses its own
//! client ids and topics (see [`unique_client_id`], [`unique_topic`]), so cases run in
//! parallel and against a broker other clients use, and leave no retained message or
//! persistent session behind when they finish normally.

use std::time::Duration;

use ferrocom_wire::mqtt311::PacketBody;

use super::client::{
    Client, ConnectOpts, Reaction, Rx, RxError, body_offset, connect_bytes, id, publish_bytes,
    simple_bytes, subscribe_bytes, unique_client_id, unique_topic, unsubscribe_bytes,
};
use crate::case::{Case, CaseFuture, CaseResult, Ctx, Failure, Kind, Outcome, Role};

macro_rules! case {
    ($id:literal, [$($c:literal),+], $kind:ident, $title:literal, $f:ident) => {
        case!($id, [$($c),+], $kind, $title, $f, false)
    };
    ($id:literal, [$($c:literal),+], $kind:ident, $title:literal, $f:ident, $slow:literal) => {
        Case {
            id: $id,
            clauses: &[$($c),+],
            role: Role::Broker,
            title: $title,
            kind: Kind::$kind,
            slow: $slow,
            run: |ctx| -> CaseFuture { Box::pin($f(ctx)) },
        }
    };
}

/// The broker-role cases.
pub static CASES: &[Case] = &[
    case!(
        "MQTT-3.2.0-1#b1",
        ["MQTT-3.2.0-1", "MQTT-3.2.2-1", "MQTT-3.1", "MQTT-3.2"],
        Normal,
        "CONNECT with a clean session: the first packet back is CONNACK 0, session present 0",
        connect_clean
    ),
    case!(
        "MQTT-3.12.4-1#b1",
        ["MQTT-3.12.4-1", "MQTT-3.12", "MQTT-3.13"],
        Normal,
        "PINGREQ is answered with PINGRESP",
        ping
    ),
    case!(
        "MQTT-3.8.4-1#b1",
        [
            "MQTT-3.8.4-1",
            "MQTT-3.8.4-2",
            "MQTT-3.8.4-5",
            "MQTT-3.9.3-1",
            "MQTT-3.8",
            "MQTT-3.9"
        ],
        Normal,
        "SUBSCRIBE with three filters (QoS 0, 1, 2): SUBACK with the same packet id and a granted QoS per filter, in order",
        subscribe_three
    ),
    case!(
        "MQTT-3.10.4-4#b1",
        [
            "MQTT-3.10.4-4",
            "MQTT-3.10.4-1",
            "MQTT-3.10.4-2",
            "MQTT-3.10.4-5",
            "MQTT-3.10",
            "MQTT-3.11"
        ],
        Normal,
        "UNSUBSCRIBE: UNSUBACK with the same packet id, no delivery afterwards; UNSUBACK also for an unknown filter",
        unsubscribe
    ),
    case!(
        "MQTT-4.3.1-1#b1",
        ["MQTT-4.3.1-1", "MQTT-3.3.1-9", "MQTT-3.3"],
        Normal,
        "QoS 0 publish is delivered to a QoS 0 subscriber: QoS 0, no packet id, RETAIN 0",
        qos0_flow
    ),
    case!(
        "MQTT-4.3.2-2#b1",
        ["MQTT-4.3.2-2", "MQTT-3.3.4-1", "MQTT-3.4"],
        Normal,
        "QoS 1 publish to the broker is answered with PUBACK of the same packet id",
        qos1_to_broker
    ),
    case!(
        "MQTT-4.3.2-1#b1",
        ["MQTT-4.3.2-1", "MQTT-2.3.1-1", "MQTT-3.8.4-6"],
        Normal,
        "QoS 1 delivery from the broker: QoS 1, DUP 0, a non-zero packet id; PUBACK completes it",
        qos1_from_broker
    ),
    case!(
        "MQTT-4.3.3-2#b1",
        [
            "MQTT-4.3.3-2",
            "MQTT-3.3.4-1",
            "MQTT-3.6.4-1",
            "MQTT-3.5",
            "MQTT-3.7"
        ],
        Normal,
        "QoS 2 publish to the broker: PUBREC, then PUBCOMP for our PUBREL, same packet id",
        qos2_to_broker
    ),
    case!(
        "MQTT-4.3.3-1#b1",
        ["MQTT-4.3.3-1", "MQTT-2.3.1-1", "MQTT-3.6", "MQTT-3.8.4-6"],
        Normal,
        "QoS 2 delivery from the broker: PUBLISH QoS 2, PUBREL for our PUBREC, delivered once",
        qos2_from_broker
    ),
    case!(
        "MQTT-3.8.4-6#b1",
        ["MQTT-3.8.4-6", "MQTT-3.3.5-1"],
        Normal,
        "Delivery QoS is the minimum of the published QoS and the granted QoS",
        qos_downgrade
    ),
    case!(
        "MQTT-3.3.1-6#b1",
        ["MQTT-3.3.1-6", "MQTT-3.3.1-5", "MQTT-3.3.1-8"],
        Normal,
        "A retained message is delivered on subscribe, with RETAIN 1",
        retained_delivered
    ),
    case!(
        "MQTT-3.3.1-10#b1",
        ["MQTT-3.3.1-10", "MQTT-3.3.1-11", "MQTT-3.3.1-9"],
        Normal,
        "An empty retained publish reaches subscribers (RETAIN 0) and clears the retained message",
        retained_cleared
    ),
    case!(
        "MQTT-3.1.2-8#b1",
        ["MQTT-3.1.2-8", "MQTT-3.1.2-9"],
        Normal,
        "The will message is published when the connection closes without DISCONNECT",
        will_on_abrupt_close
    ),
    case!(
        "MQTT-3.14.4-3#b1",
        ["MQTT-3.14.4-3", "MQTT-3.14"],
        Normal,
        "After DISCONNECT the will message is discarded, not published",
        no_will_after_disconnect
    ),
    case!(
        "MQTT-3.2.2-2#b1",
        [
            "MQTT-3.2.2-2",
            "MQTT-3.2.2-3",
            "MQTT-3.1.2-4",
            "MQTT-3.1.2-5"
        ],
        Normal,
        "Persistent session: session present 1 on return, subscriptions kept, QoS 1 messages stored while away",
        persistent_session
    ),
    case!(
        "MQTT-3.1.2-6#b1",
        ["MQTT-3.1.2-6", "MQTT-3.2.2-1"],
        Normal,
        "A clean session discards the previous session and its subscriptions",
        clean_discards
    ),
    case!(
        "MQTT-3.1.4-2#b1",
        ["MQTT-3.1.4-2"],
        Normal,
        "A second connection with the same client id takes over: the first is closed",
        takeover
    ),
    case!(
        "MQTT-3.1.2-24#b1",
        ["MQTT-3.1.2-24"],
        Normal,
        "Keep alive 1 s: the broker disconnects a silent client (due after 1.5 s)",
        keep_alive,
        true
    ),
    case!(
        "MQTT-3.1.0-1#b1",
        ["MQTT-3.1.0-1", "MQTT-4.8.0-1"],
        Malformed,
        "First packet PINGREQ instead of CONNECT: close, keep serving",
        first_not_connect
    ),
    case!(
        "MQTT-3.1.0-2#b1",
        ["MQTT-3.1.0-2", "MQTT-4.8.0-1"],
        Malformed,
        "A second CONNECT on an accepted connection: close, keep serving",
        second_connect
    ),
    case!(
        "MQTT-3.1.2-3#b1",
        ["MQTT-3.1.2-3", "MQTT-4.8.0-1"],
        Malformed,
        "CONNECT with the reserved connect flag set: close, keep serving",
        reserved_connect_flag
    ),
    case!(
        "MQTT-2.2.2-2#b1",
        ["MQTT-2.2.2-2", "MQTT-4.8.0-1"],
        Malformed,
        "PINGREQ with reserved flag bit 0 set (0xC1): close, keep serving",
        pingreq_flags
    ),
    case!(
        "MQTT-3.8.1-1#b1",
        ["MQTT-3.8.1-1", "MQTT-4.8.0-1"],
        Malformed,
        "SUBSCRIBE with flags 0000 instead of 0010: close, keep serving",
        subscribe_flags
    ),
    case!(
        "MQTT-3.1.2-1#b1",
        ["MQTT-3.1.2-1", "MQTT-4.8.0-1"],
        Malformed,
        "CONNECT with protocol name \"MQTX\": not accepted, close, keep serving",
        bad_protocol_name
    ),
    case!(
        "MQTT-3.1.2-2#b1",
        ["MQTT-3.1.2-2", "MQTT-4.8.0-1"],
        Malformed,
        "CONNECT with protocol level 42: CONNACK 0x01, close, keep serving",
        bad_protocol_level
    ),
    case!(
        "MQTT-2.2.3#b1",
        ["MQTT-2.2.3", "MQTT-4.8.0-1"],
        Malformed,
        "Remaining length in 5 bytes (at most 4 allowed): close, keep serving",
        remaining_length_five_bytes
    ),
    case!(
        "MQTT-2.2.3#b2",
        ["MQTT-2.2.3", "MQTT-4.8.0-1"],
        Malformed,
        "CONNECT whose remaining length ends inside the client id: close, keep serving",
        remaining_length_truncated
    ),
    case!(
        "MQTT-2.2.3#b3",
        ["MQTT-2.2.3", "MQTT-4.8.0-1"],
        Malformed,
        "CONNECT whose remaining length covers 2 bytes after the last field: close, keep serving",
        remaining_length_overlong
    ),
    case!(
        "MQTT-1.5.3-1#b1",
        ["MQTT-1.5.3-1", "MQTT-3.3.2-1", "MQTT-4.8.0-1"],
        Malformed,
        "PUBLISH topic with ill-formed UTF-8 (C3 28): close, not delivered, keep serving",
        invalid_utf8_topic
    ),
    case!(
        "MQTT-3.3.2-2#b1",
        ["MQTT-3.3.2-2", "MQTT-4.8.0-1"],
        Malformed,
        "PUBLISH to a topic name with a wildcard (+): close, not delivered, keep serving",
        wildcard_topic
    ),
    case!(
        "MQTT-3.3.1-4#b1",
        ["MQTT-3.3.1-4", "MQTT-4.8.0-1"],
        Malformed,
        "PUBLISH with both QoS bits set: close, keep serving",
        publish_qos3
    ),
    case!(
        "MQTT-2.3.1-1#b1",
        ["MQTT-2.3.1-1", "MQTT-4.8.0-1"],
        Malformed,
        "QoS 1 PUBLISH with packet id 0: close, keep serving",
        publish_pid_zero
    ),
    case!(
        "MQTT-3.8.3-3#b1",
        ["MQTT-3.8.3-3", "MQTT-4.8.0-1"],
        Malformed,
        "SUBSCRIBE without any topic filter: close, keep serving",
        subscribe_empty
    ),
    case!(
        "MQTT-2.2.1#b1",
        ["MQTT-2.2.1", "MQTT-2.2", "MQTT-4.8.0-1"],
        Malformed,
        "A packet of the reserved type 0 (00 00): close, keep serving",
        reserved_type_0
    ),
    case!(
        "MQTT-2.2.1#b2",
        ["MQTT-2.2.1", "MQTT-2.2", "MQTT-4.8.0-1"],
        Malformed,
        "A packet of the reserved type 15 (F0 00): close, keep serving",
        reserved_type_15
    ),
    case!(
        "MQTT-3.1.2-11#b1",
        ["MQTT-3.1.2-11", "MQTT-3.1.2.3", "MQTT-4.8.0-1"],
        Malformed,
        "CONNECT with the will flag clear and will QoS 1: not accepted, close, keep serving",
        will_qos_without_will
    ),
    case!(
        "MQTT-3.1.2-14#b1",
        ["MQTT-3.1.2-14", "MQTT-3.1.2.3", "MQTT-4.8.0-1"],
        Malformed,
        "CONNECT with a will of QoS 3: not accepted, close, keep serving",
        will_qos_3
    ),
    case!(
        "MQTT-3.1.2-19#b1",
        ["MQTT-3.1.2-19", "MQTT-4.8.0-1"],
        Malformed,
        "CONNECT with the user name flag set and no user name in the payload: not accepted, close, keep serving",
        user_flag_without_user
    ),
    case!(
        "MQTT-3.1.2-21#b1",
        ["MQTT-3.1.2-21", "MQTT-4.8.0-1"],
        Malformed,
        "CONNECT with the password flag set and no password in the payload: not accepted, close, keep serving",
        password_flag_without_password
    ),
    case!(
        "MQTT-3.1.2-22#b1",
        ["MQTT-3.1.2-22", "MQTT-4.8.0-1"],
        Malformed,
        "CONNECT with a password but the user name flag clear: not accepted, close, keep serving",
        password_without_user
    ),
    case!(
        "MQTT-3.1.3-3#b1",
        ["MQTT-3.1.3-3", "MQTT-4.8.0-1"],
        Malformed,
        "CONNECT that ends after the variable header (no client identifier): not accepted, close, keep serving",
        connect_without_client_id
    ),
    case!(
        "MQTT-3.2.2-4#b1",
        ["MQTT-3.2.2-4", "MQTT-3.1.2-2"],
        Malformed,
        "Protocol level 42 for a client id with a stored session: CONNACK 0x01 with session present 0, close",
        refused_connack_session_present
    ),
    case!(
        "MQTT-3.6.1-1#b1",
        ["MQTT-3.6.1-1", "MQTT-4.8.0-1"],
        Malformed,
        "PUBREL with flags 0000 instead of 0010 in a QoS 2 flow: no PUBCOMP, close, keep serving",
        pubrel_flags
    ),
    case!(
        "MQTT-3-8.3-4#b1",
        ["MQTT-3-8.3-4", "MQTT-4.8.0-1"],
        Malformed,
        "SUBSCRIBE requesting QoS 3: no SUBACK, close, keep serving",
        subscribe_qos_3
    ),
    case!(
        "MQTT-3.8.3-1#b1",
        ["MQTT-3.8.3-1", "MQTT-1.5.3-1", "MQTT-4.8.0-1"],
        Malformed,
        "SUBSCRIBE with an ill-formed UTF-8 filter (C3 28): no SUBACK, close, keep serving",
        subscribe_invalid_utf8
    ),
    case!(
        "MQTT-3.10.1-1#b1",
        ["MQTT-3.10.1-1", "MQTT-4.8.0-1"],
        Malformed,
        "UNSUBSCRIBE with flags 0000 instead of 0010: no UNSUBACK, close, keep serving",
        unsubscribe_flags
    ),
    case!(
        "MQTT-3.10.3-2#b1",
        ["MQTT-3.10.3-2", "MQTT-4.8.0-1"],
        Malformed,
        "UNSUBSCRIBE without any topic filter: no UNSUBACK, close, keep serving",
        unsubscribe_empty
    ),
    case!(
        "MQTT-3.14.1-1#b1",
        ["MQTT-3.14.1-1", "MQTT-3.1.2-8"],
        Malformed,
        "DISCONNECT with a reserved flag bit set (E1 00) is no DISCONNECT: close, and the will is published",
        disconnect_flags
    ),
];

fn t(ctx: &Ctx) -> Duration {
    ctx.settings().reply_timeout
}

/// How long to watch for a message that must not come.
fn quiet(ctx: &Ctx) -> Duration {
    (t(ctx) / 4).max(Duration::from_millis(300))
}

fn fail(clauses: &[&'static str], msg: impl Into<String>) -> Failure {
    Failure(Outcome::fail(clauses, msg))
}

/// Removes a retained message the case left (best effort, its own connection).
async fn clear_retained(ctx: &Ctx, topic: &str) {
    if let Ok(mut c) = Client::connect_clean(ctx).await {
        let _ = c.publish(topic, 0, true, b"", t(ctx)).await;
        c.disconnect().await;
    }
}

async fn connect_clean(ctx: Ctx) -> CaseResult {
    let mut c = Client::open(&ctx).await?;
    c.send(&connect_bytes(&unique_client_id(), &ConnectOpts::clean())?)
        .await?;
    let first = c
        .recv(t(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-3.2.0-1", "waiting for CONNACK"))?;
    let outcome = match first {
        Rx::Connack {
            session_present: false,
            code: 0,
        } => Outcome::pass("CONNACK accepted, session present 0"),
        Rx::Connack {
            session_present: true,
            code: 0,
        } => Outcome::fail(
            &["MQTT-3.2.2-1"],
            "CONNACK of a clean session has session present 1",
        ),
        Rx::Connack { code, .. } => Outcome::fail(
            &["MQTT-3.2"],
            format!("an anonymous clean CONNECT was refused with return code {code}"),
        ),
        other => Outcome::fail(
            &["MQTT-3.2.0-1"],
            format!("the first packet is {}, not CONNACK", other.name()),
        ),
    };
    c.disconnect().await;
    Ok(outcome)
}

async fn ping(ctx: Ctx) -> CaseResult {
    let mut c = Client::connect_clean(&ctx).await?;
    c.ping(t(&ctx)).await?;
    c.ping(t(&ctx)).await?;
    c.disconnect().await;
    Ok(Outcome::pass("two PINGREQs, two PINGRESPs"))
}

async fn subscribe_three(ctx: Ctx) -> CaseResult {
    let topic = unique_topic();
    let filters = [
        (format!("{topic}/a"), 0u8),
        (format!("{topic}/+"), 1),
        (format!("{topic}/#"), 2),
    ];
    let refs: Vec<(&str, u8)> = filters.iter().map(|(f, q)| (f.as_str(), *q)).collect();
    let mut c = Client::connect_clean(&ctx).await?;
    let codes = c.subscribe(0x1234, &refs, t(&ctx)).await?;
    c.disconnect().await;
    for (&(ref f, q), &code) in filters.iter().zip(&codes) {
        if code != 0x80 && code > q {
            return Ok(Outcome::fail(
                &["MQTT-3.9.3-1"],
                format!("filter {f} requested QoS {q} but was granted {code:#04x}"),
            ));
        }
    }
    if codes.contains(&0x80) {
        return Ok(Outcome::info(format!(
            "the broker refused some filters: return codes {codes:02X?}"
        )));
    }
    Ok(Outcome::pass(format!(
        "SUBACK 0x1234 with return codes {codes:02X?}"
    )))
}

async fn unsubscribe(ctx: Ctx) -> CaseResult {
    let topic = unique_topic();
    let mut sub = Client::connect_clean(&ctx).await?;
    sub.subscribe_granted(1, &topic, 0, t(&ctx)).await?;
    sub.send(&super::client::unsubscribe_bytes(0x4321, &[&topic])?)
        .await?;
    sub.wait_for(t(&ctx), |r| matches!(r, Rx::Unsuback(_)))
        .await
        .and_then(|r| match r {
            Rx::Unsuback(0x4321) => Ok(()),
            other => Err(RxError::Io(format!(
                "UNSUBACK carries {other:?}, the UNSUBSCRIBE had packet id 0x4321"
            ))),
        })
        .map_err(|e| e.fail("MQTT-3.10.4-4", "waiting for UNSUBACK"))?;
    let mut publisher = Client::connect_clean(&ctx).await?;
    publisher
        .publish(&topic, 1, false, b"after", t(&ctx))
        .await?;
    publisher.disconnect().await;
    let got = sub
        .publish_within(&topic, quiet(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-3.10.4-2", "watching for deliveries"))?;
    if got.is_some() {
        return Ok(Outcome::fail(
            &["MQTT-3.10.4-2"],
            "a message was delivered after the UNSUBACK",
        ));
    }
    let never = format!("{topic}/never/subscribed");
    sub.send(&super::client::unsubscribe_bytes(0x0BAD, &[&never])?)
        .await?;
    sub.wait_for(t(&ctx), |r| *r == Rx::Unsuback(0x0BAD))
        .await
        .map_err(|e| {
            e.fail(
                "MQTT-3.10.4-5",
                "waiting for UNSUBACK of a filter never subscribed",
            )
        })?;
    sub.disconnect().await;
    Ok(Outcome::pass(
        "UNSUBACK 0x4321, nothing delivered afterwards, UNSUBACK 0x0BAD for an unknown filter",
    ))
}

/// A subscriber on a fresh topic with the given QoS, and a publisher.
async fn pair(ctx: &Ctx, sub_qos: u8) -> Result<(String, Client, Client), Failure> {
    let topic = unique_topic();
    let mut sub = Client::connect_clean(ctx).await?;
    sub.subscribe_granted(1, &topic, sub_qos, t(ctx)).await?;
    let publisher = Client::connect_clean(ctx).await?;
    Ok((topic, sub, publisher))
}

async fn qos0_flow(ctx: Ctx) -> CaseResult {
    let (topic, mut sub, mut publisher) = pair(&ctx, 0).await?;
    publisher
        .publish(&topic, 0, false, b"qos0", t(&ctx))
        .await?;
    let m = sub
        .next_publish(&topic, t(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-4.3.1-1", "waiting for the QoS 0 message"))?;
    publisher.disconnect().await;
    sub.disconnect().await;
    if m.qos != 0 || m.dup || m.packet_id.is_some() {
        return Ok(Outcome::fail(
            &["MQTT-4.3.1-1"],
            format!(
                "delivered with QoS {}, DUP {}, packet id {:?}",
                m.qos, m.dup, m.packet_id
            ),
        ));
    }
    if m.retain {
        return Ok(Outcome::fail(
            &["MQTT-3.3.1-9"],
            "a live message to an established subscription has RETAIN 1",
        ));
    }
    if m.payload != b"qos0" {
        return Ok(Outcome::fail(&["MQTT-3.3"], "the payload changed"));
    }
    Ok(Outcome::pass("delivered once with QoS 0, no packet id"))
}

async fn qos1_to_broker(ctx: Ctx) -> CaseResult {
    let mut c = Client::connect_clean(&ctx).await?;
    let topic = unique_topic();
    c.send(&publish_bytes(&topic, 1, false, Some(0x7A01), b"q1")?)
        .await?;
    let rx = c
        .wait_for(t(&ctx), |r| matches!(r, Rx::Puback(_)))
        .await
        .map_err(|e| e.fail("MQTT-4.3.2-2", "waiting for PUBACK"))?;
    c.disconnect().await;
    match rx {
        Rx::Puback(0x7A01) => Ok(Outcome::pass("PUBACK 0x7A01")),
        other => Ok(Outcome::fail(
            &["MQTT-4.3.2-2"],
            format!("{other:?} for PUBLISH 0x7A01"),
        )),
    }
}

async fn qos1_from_broker(ctx: Ctx) -> CaseResult {
    let (topic, mut sub, mut publisher) = pair(&ctx, 1).await?;
    publisher
        .publish(&topic, 1, false, b"qos1", t(&ctx))
        .await?;
    let m = sub
        .next_publish(&topic, t(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-4.3.2-1", "waiting for the QoS 1 message"))?;
    publisher.disconnect().await;
    sub.ack(&m, t(&ctx)).await?;
    // A redelivery within the quiet window would mean our PUBACK went unnoticed.
    let again = sub
        .publish_within(&topic, quiet(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-4.3.2-1", "after PUBACK"))?;
    sub.disconnect().await;
    match m.packet_id {
        _ if m.qos != 1 => Ok(Outcome::fail(
            &["MQTT-3.8.4-6"],
            format!(
                "QoS 1 message to a QoS 1 subscription delivered with QoS {}",
                m.qos
            ),
        )),
        None | Some(0) => Ok(Outcome::fail(&["MQTT-2.3.1-1"], "no packet id")),
        Some(_) if m.dup => Ok(Outcome::fail(&["MQTT-4.3.2-1"], "first delivery has DUP 1")),
        Some(_) if again.is_some() => Ok(Outcome::fail(
            &["MQTT-4.3.2-1"],
            "delivered again although PUBACK was sent",
        )),
        Some(p) => Ok(Outcome::pass(format!(
            "QoS 1, DUP 0, packet id {p}; PUBACK sent"
        ))),
    }
}

async fn qos2_to_broker(ctx: Ctx) -> CaseResult {
    let mut c = Client::connect_clean(&ctx).await?;
    let topic = unique_topic();
    c.send(&publish_bytes(&topic, 2, false, Some(0x2B02), b"q2")?)
        .await?;
    let rec = c
        .wait_for(t(&ctx), |r| matches!(r, Rx::Pubrec(_)))
        .await
        .map_err(|e| e.fail("MQTT-4.3.3-2", "waiting for PUBREC"))?;
    if rec != Rx::Pubrec(0x2B02) {
        return Ok(Outcome::fail(
            &["MQTT-4.3.3-2"],
            format!("{rec:?} for PUBLISH 0x2B02"),
        ));
    }
    c.send(&simple_bytes(PacketBody::Pubrel(super::client::id(
        0x2B02,
    )))?)
    .await?;
    let comp = c
        .wait_for(t(&ctx), |r| matches!(r, Rx::Pubcomp(_)))
        .await
        .map_err(|e| e.fail("MQTT-3.6.4-1", "waiting for PUBCOMP"))?;
    c.disconnect().await;
    if comp != Rx::Pubcomp(0x2B02) {
        return Ok(Outcome::fail(
            &["MQTT-3.6.4-1"],
            format!("{comp:?} for PUBREL 0x2B02"),
        ));
    }
    Ok(Outcome::pass("PUBREC 0x2B02, PUBCOMP 0x2B02"))
}

async fn qos2_from_broker(ctx: Ctx) -> CaseResult {
    let (topic, mut sub, mut publisher) = pair(&ctx, 2).await?;
    publisher
        .publish(&topic, 2, false, b"qos2", t(&ctx))
        .await?;
    publisher.disconnect().await;
    let m = sub
        .next_publish(&topic, t(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-4.3.3-1", "waiting for the QoS 2 message"))?;
    if m.qos != 2 {
        return Ok(Outcome::fail(
            &["MQTT-3.8.4-6"],
            format!(
                "QoS 2 message to a QoS 2 subscription delivered with QoS {}",
                m.qos
            ),
        ));
    }
    if m.packet_id.is_none_or(|p| p == 0) {
        return Ok(Outcome::fail(&["MQTT-2.3.1-1"], "no packet id"));
    }
    if m.dup {
        return Ok(Outcome::fail(&["MQTT-4.3.3-1"], "first delivery has DUP 1"));
    }
    sub.ack(&m, t(&ctx)).await?;
    let again = sub
        .publish_within(&topic, quiet(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-4.3.3-1", "after PUBCOMP"))?;
    sub.disconnect().await;
    if again.is_some() {
        return Ok(Outcome::fail(
            &["MQTT-4.3.3-1"],
            "delivered a second time after PUBREC / PUBCOMP",
        ));
    }
    Ok(Outcome::pass(format!(
        "QoS 2 with packet id {:?}; PUBREC → PUBREL → PUBCOMP; delivered once",
        m.packet_id.unwrap_or(0)
    )))
}

async fn qos_downgrade(ctx: Ctx) -> CaseResult {
    let base = unique_topic();
    let low = format!("{base}/low");
    let high = format!("{base}/high");
    let mut sub = Client::connect_clean(&ctx).await?;
    sub.subscribe_granted(1, &low, 0, t(&ctx)).await?;
    sub.subscribe_granted(2, &high, 2, t(&ctx)).await?;
    let mut publisher = Client::connect_clean(&ctx).await?;
    publisher.publish(&low, 2, false, b"down", t(&ctx)).await?;
    publisher.publish(&high, 1, false, b"keep", t(&ctx)).await?;
    publisher.disconnect().await;
    let a = sub.next_publish(&low, t(&ctx)).await.map_err(|e| {
        e.fail(
            "MQTT-3.8.4-6",
            "waiting for the QoS 2 message on a QoS 0 subscription",
        )
    })?;
    let b = sub.next_publish(&high, t(&ctx)).await.map_err(|e| {
        e.fail(
            "MQTT-3.8.4-6",
            "waiting for the QoS 1 message on a QoS 2 subscription",
        )
    })?;
    sub.ack(&b, t(&ctx)).await?;
    sub.disconnect().await;
    if a.qos != 0 || b.qos != 1 {
        return Ok(Outcome::fail(
            &["MQTT-3.8.4-6"],
            format!(
                "published QoS 2 / granted 0 arrived with QoS {}; published 1 / granted 2 with QoS {}",
                a.qos, b.qos
            ),
        ));
    }
    Ok(Outcome::pass("min(2, 0) = 0 and min(1, 2) = 1"))
}

async fn retained_delivered(ctx: Ctx) -> CaseResult {
    let topic = unique_topic();
    let mut publisher = Client::connect_clean(&ctx).await?;
    publisher.publish(&topic, 1, true, b"kept", t(&ctx)).await?;
    publisher.disconnect().await;
    let mut sub = Client::connect_clean(&ctx).await?;
    let result = async {
        sub.subscribe_granted(1, &topic, 1, t(&ctx)).await?;
        let m = sub
            .next_publish(&topic, t(&ctx))
            .await
            .map_err(|e| e.fail("MQTT-3.3.1-6", "waiting for the retained message"))?;
        sub.ack(&m, t(&ctx)).await?;
        if m.payload != b"kept" {
            return Ok(Outcome::fail(
                &["MQTT-3.3.1-5"],
                format!("retained payload {:02X?}, published 6B 65 70 74", m.payload),
            ));
        }
        if !m.retain {
            return Ok(Outcome::fail(
                &["MQTT-3.3.1-8"],
                "the retained message sent on subscribe has RETAIN 0",
            ));
        }
        Ok(Outcome::pass("delivered on subscribe with RETAIN 1"))
    }
    .await;
    sub.disconnect().await;
    clear_retained(&ctx, &topic).await;
    result
}

async fn retained_cleared(ctx: Ctx) -> CaseResult {
    let topic = unique_topic();
    let mut publisher = Client::connect_clean(&ctx).await?;
    publisher.publish(&topic, 1, true, b"old", t(&ctx)).await?;
    let mut sub = Client::connect_clean(&ctx).await?;
    sub.subscribe_granted(1, &topic, 1, t(&ctx)).await?;
    let first = sub
        .next_publish(&topic, t(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-3.3.1-6", "waiting for the retained message"))?;
    sub.ack(&first, t(&ctx)).await?;
    publisher.publish(&topic, 0, true, b"", t(&ctx)).await?;
    publisher.disconnect().await;
    let live = sub
        .next_publish(&topic, t(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-3.3.1-10", "waiting for the empty retained publish"))?;
    sub.disconnect().await;
    if !live.payload.is_empty() {
        return Ok(Outcome::fail(&["MQTT-3.3.1-10"], "payload is not empty"));
    }
    if live.retain {
        return Ok(Outcome::fail(
            &["MQTT-3.3.1-9"],
            "delivered to an established subscription with RETAIN 1",
        ));
    }
    let mut late = Client::connect_clean(&ctx).await?;
    late.subscribe_granted(1, &topic, 1, t(&ctx)).await?;
    let stale = late
        .publish_within(&topic, quiet(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-3.3.1-10", "watching for a retained message"))?;
    late.disconnect().await;
    match stale {
        Some(m) => Ok(Outcome::fail(
            &["MQTT-3.3.1-10", "MQTT-3.3.1-11"],
            format!(
                "a new subscriber still got a retained message ({} bytes)",
                m.payload.len()
            ),
        )),
        None => Ok(Outcome::pass(
            "empty publish delivered with RETAIN 0; later subscribers get nothing",
        )),
    }
}

async fn with_will(ctx: &Ctx, topic: &str) -> Result<(Client, Client), Failure> {
    let mut watcher = Client::connect_clean(ctx).await?;
    watcher.subscribe_granted(1, topic, 1, t(ctx)).await?;
    let opts = ConnectOpts {
        will: Some((topic.to_string(), b"gone".to_vec(), 1, false)),
        ..ConnectOpts::clean()
    };
    let (mut holder, _) = Client::connect(ctx, &unique_client_id(), &opts).await?;
    // A round trip makes sure the broker has processed the CONNECT fully.
    holder.ping(t(ctx)).await?;
    Ok((watcher, holder))
}

async fn will_on_abrupt_close(ctx: Ctx) -> CaseResult {
    let topic = unique_topic();
    let (mut watcher, holder) = with_will(&ctx, &topic).await?;
    holder.drop_connection().await;
    let m = watcher
        .next_publish(&topic, t(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-3.1.2-8", "waiting for the will message"))?;
    watcher.ack(&m, t(&ctx)).await?;
    watcher.disconnect().await;
    if m.payload != b"gone" {
        return Ok(Outcome::fail(
            &["MQTT-3.1.2-9"],
            format!("will payload {:02X?}, expected 67 6F 6E 65", m.payload),
        ));
    }
    Ok(Outcome::pass("will message published after the close"))
}

async fn no_will_after_disconnect(ctx: Ctx) -> CaseResult {
    let topic = unique_topic();
    let (mut watcher, holder) = with_will(&ctx, &topic).await?;
    holder.disconnect().await;
    let got = watcher
        .publish_within(&topic, quiet(&ctx) * 2)
        .await
        .map_err(|e| e.fail("MQTT-3.14.4-3", "watching for the will"))?;
    watcher.disconnect().await;
    match got {
        Some(_) => Ok(Outcome::fail(
            &["MQTT-3.14.4-3"],
            "the will was published after DISCONNECT",
        )),
        None => Ok(Outcome::pass("no will after DISCONNECT")),
    }
}

async fn persistent_session(ctx: Ctx) -> CaseResult {
    let id = unique_client_id();
    let topic = unique_topic();
    let result = async {
        let (mut c, present) = Client::connect(&ctx, &id, &ConnectOpts::persistent()).await?;
        if present {
            return Ok(Outcome::fail(
                &["MQTT-3.2.2-3"],
                "session present 1 for a client id never seen",
            ));
        }
        c.subscribe_granted(1, &topic, 1, t(&ctx)).await?;
        c.disconnect().await;
        let mut publisher = Client::connect_clean(&ctx).await?;
        publisher
            .publish(&topic, 1, false, b"while away", t(&ctx))
            .await?;
        publisher.disconnect().await;
        let (mut c, present) = Client::connect(&ctx, &id, &ConnectOpts::persistent()).await?;
        if !present {
            c.disconnect().await;
            return Ok(Outcome::fail(
                &["MQTT-3.2.2-2", "MQTT-3.1.2-4"],
                "session present 0 on return to a persistent session",
            ));
        }
        let m = c
            .next_publish(&topic, t(&ctx))
            .await
            .map_err(|e| e.fail("MQTT-3.1.2-5", "waiting for the message stored while away"))?;
        c.ack(&m, t(&ctx)).await?;
        c.disconnect().await;
        if m.payload != b"while away" || m.qos != 1 {
            return Ok(Outcome::fail(
                &["MQTT-3.1.2-5"],
                format!("stored message arrived as QoS {} {:02X?}", m.qos, m.payload),
            ));
        }
        Ok(Outcome::pass(
            "session present 0, then 1; the QoS 1 message published while away arrived",
        ))
    }
    .await;
    // Leave no session behind.
    if let Ok((c, _)) = Client::connect(&ctx, &id, &ConnectOpts::clean()).await {
        c.disconnect().await;
    }
    result
}

async fn clean_discards(ctx: Ctx) -> CaseResult {
    let id = unique_client_id();
    let topic = unique_topic();
    let (mut c, _) = Client::connect(&ctx, &id, &ConnectOpts::persistent()).await?;
    c.subscribe_granted(1, &topic, 1, t(&ctx)).await?;
    c.disconnect().await;
    let (c, present) = Client::connect(&ctx, &id, &ConnectOpts::clean()).await?;
    c.disconnect().await;
    if present {
        return Ok(Outcome::fail(
            &["MQTT-3.2.2-1"],
            "session present 1 for a clean session",
        ));
    }
    let (mut c, present) = Client::connect(&ctx, &id, &ConnectOpts::persistent()).await?;
    let mut publisher = Client::connect_clean(&ctx).await?;
    publisher
        .publish(&topic, 1, false, b"gone?", t(&ctx))
        .await?;
    publisher.disconnect().await;
    let got = c
        .publish_within(&topic, quiet(&ctx))
        .await
        .map_err(|e| e.fail("MQTT-3.1.2-6", "watching for deliveries"))?;
    c.disconnect().await;
    if let Ok((c, _)) = Client::connect(&ctx, &id, &ConnectOpts::clean()).await {
        c.disconnect().await;
    }
    if present {
        return Ok(Outcome::fail(
            &["MQTT-3.1.2-6"],
            "the session survived a clean-session connection (session present 1)",
        ));
    }
    if got.is_some() {
        return Ok(Outcome::fail(
            &["MQTT-3.1.2-6"],
            "the subscription survived a clean-session connection",
        ));
    }
    Ok(Outcome::pass(
        "after a clean session: session present 0 and the old subscription is gone",
    ))
}

async fn takeover(ctx: Ctx) -> CaseResult {
    let id = unique_client_id();
    let (mut first, _) = Client::connect(&ctx, &id, &ConnectOpts::clean()).await?;
    first.ping(t(&ctx)).await?;
    let (mut second, _) = Client::connect(&ctx, &id, &ConnectOpts::clean()).await?;
    let closed = first.peer.expect_close(t(&ctx)).await;
    second.ping(t(&ctx)).await?;
    second.disconnect().await;
    if !closed {
        return Ok(Outcome::fail(
            &["MQTT-3.1.4-2"],
            "the first connection with the same client id stayed open",
        ));
    }
    Ok(Outcome::pass(
        "the first connection was closed, the second works",
    ))
}

async fn keep_alive(ctx: Ctx) -> CaseResult {
    let opts = ConnectOpts {
        keep_alive: 1,
        ..ConnectOpts::clean()
    };
    let (mut c, _) = Client::connect(&ctx, &unique_client_id(), &opts).await?;
    let start = std::time::Instant::now();
    // The disconnect is due 1.5 s after the CONNACK. Brokers check keep alive on a
    // timer, so a second more still passes; a later disconnect is reported as
    // non-strict with its time (mosquitto 2.0 closes anywhere between 1.1 and 6.8 s),
    // and only a connection still open after LIMIT fails.
    const LIMIT: Duration = Duration::from_secs(10);
    let closed = c.peer.expect_close(LIMIT).await;
    let after = start.elapsed();
    let ms = after.as_millis();
    if !closed {
        return Ok(Outcome::fail(
            &["MQTT-3.1.2-24"],
            format!(
                "still connected {} s into a 1 s keep alive without packets",
                LIMIT.as_secs()
            ),
        ));
    }
    if after < Duration::from_millis(1000) {
        return Ok(Outcome::fail(
            &["MQTT-3.1.2-24"],
            format!("disconnected after {ms} ms, before the keep alive ran out"),
        ));
    }
    if after > Duration::from_millis(2500) {
        return Ok(Outcome::non_strict(
            &["MQTT-3.1.2-24"],
            format!("disconnected late, after {ms} ms (due after 1500 ms)"),
        ));
    }
    Ok(Outcome::pass(format!("disconnected after {ms} ms")))
}

// --- malformed input ---------------------------------------------------------------

/// After crafted input: the broker must close the connection ([MQTT-4.8.0-1] and the
/// case's clause), and a fresh connection must still work (CONNECT, PINGREQ).
/// `judge` may turn what the broker sent before closing into a failure.
async fn expect_drop(
    ctx: &Ctx,
    c: &mut Client,
    clause: &'static str,
    what: &str,
    judge: impl FnOnce(&Reaction) -> Option<Outcome>,
) -> CaseResult {
    let r = c.reaction(t(ctx)).await;
    if let Some(o) = judge(&r) {
        return Ok(o);
    }
    if let Some((m, cl)) = &r.malformed {
        return Ok(Outcome::fail(
            &[cl],
            format!("{what}: the broker answered with a malformed packet: {m}"),
        ));
    }
    if !r.closed {
        let sent: Vec<_> = r.packets.iter().map(Rx::name).collect();
        return Ok(Outcome::fail(
            &[clause, "MQTT-4.8.0-1"],
            format!(
                "{what}: the broker kept the connection open ({} ms; it sent {sent:?})",
                t(ctx).as_millis()
            ),
        ));
    }
    fresh_connection_works(ctx).await?;
    let before = if r.packets.is_empty() {
        String::new()
    } else {
        let sent: Vec<String> = r.packets.iter().map(|p| format!("{p:?}")).collect();
        format!(" (after sending {})", sent.join(", "))
    };
    Ok(Outcome::pass(format!(
        "{what}: the broker closed the connection{before} and serves new ones"
    )))
}

/// A new connection: CONNECT accepted, PINGREQ answered.
async fn fresh_connection_works(ctx: &Ctx) -> Result<(), Failure> {
    ctx.note("checking that the broker still serves a new connection");
    let mut c = Client::connect_clean(ctx).await.map_err(|Failure(o)| {
        fail(
            &["MQTT-4.8.0-1"],
            format!("a new connection after the dropped one: {}", o.message),
        )
    })?;
    c.ping(t(ctx)).await?;
    c.disconnect().await;
    Ok(())
}

fn accepted(r: &Reaction) -> bool {
    r.packets
        .iter()
        .any(|p| matches!(p, Rx::Connack { code: 0, .. }))
}

/// A malformed CONNECT must not be accepted.
fn no_accept(clause: &'static str) -> impl FnOnce(&Reaction) -> Option<Outcome> {
    move |r| {
        accepted(r).then(|| Outcome::fail(&[clause], "the broker accepted the malformed CONNECT"))
    }
}

fn nothing(_: &Reaction) -> Option<Outcome> {
    None
}

async fn first_not_connect(ctx: Ctx) -> CaseResult {
    let mut c = Client::open(&ctx).await?;
    c.inject(&simple_bytes(PacketBody::Pingreq)?).await;
    expect_drop(
        &ctx,
        &mut c,
        "MQTT-3.1.0-1",
        "PINGREQ before CONNECT",
        |r| {
            r.packets
                .contains(&Rx::Pingresp)
                .then(|| Outcome::fail(&["MQTT-3.1.0-1"], "PINGREQ before CONNECT was answered"))
        },
    )
    .await
}

async fn second_connect(ctx: Ctx) -> CaseResult {
    let id = unique_client_id();
    let (mut c, _) = Client::connect(&ctx, &id, &ConnectOpts::clean()).await?;
    c.inject(&connect_bytes(&id, &ConnectOpts::clean())?).await;
    expect_drop(&ctx, &mut c, "MQTT-3.1.0-2", "a second CONNECT", nothing).await
}

/// A CONNECT from the codec with `edit` applied at the variable header.
fn crafted_connect(edit: impl FnOnce(&mut Vec<u8>, usize)) -> Result<Vec<u8>, Failure> {
    let mut b = connect_bytes(&unique_client_id(), &ConnectOpts::clean())?;
    let at = body_offset(&b);
    edit(&mut b, at);
    Ok(b)
}

/// Offsets in the CONNECT variable header: name length (2), "MQTT" (4), level, flags.
const LEVEL: usize = 6;
const FLAGS: usize = 7;

async fn reserved_connect_flag(ctx: Ctx) -> CaseResult {
    let b = crafted_connect(|b, at| b[at + FLAGS] |= 0x01)?;
    let mut c = Client::open(&ctx).await?;
    c.inject(&b).await;
    expect_drop(
        &ctx,
        &mut c,
        "MQTT-3.1.2-3",
        "reserved connect flag set",
        no_accept("MQTT-3.1.2-3"),
    )
    .await
}

async fn pingreq_flags(ctx: Ctx) -> CaseResult {
    let mut c = Client::connect_clean(&ctx).await?;
    let mut b = simple_bytes(PacketBody::Pingreq)?;
    b[0] |= 0x01;
    c.inject(&b).await;
    expect_drop(&ctx, &mut c, "MQTT-2.2.2-2", "PINGREQ 0xC1", |r| {
        r.packets.contains(&Rx::Pingresp).then(|| {
            Outcome::fail(
                &["MQTT-2.2.2-2"],
                "PINGREQ with reserved flags was answered",
            )
        })
    })
    .await
}

async fn subscribe_flags(ctx: Ctx) -> CaseResult {
    let mut c = Client::connect_clean(&ctx).await?;
    let topic = unique_topic();
    let mut b = subscribe_bytes(1, &[(&topic, 0)])?;
    b[0] &= 0xF0;
    c.inject(&b).await;
    expect_drop(&ctx, &mut c, "MQTT-3.8.1-1", "SUBSCRIBE 0x80", |r| {
        r.packets
            .iter()
            .any(|p| matches!(p, Rx::Suback { .. }))
            .then(|| Outcome::fail(&["MQTT-3.8.1-1"], "SUBSCRIBE with flags 0000 was answered"))
    })
    .await
}

async fn bad_protocol_name(ctx: Ctx) -> CaseResult {
    let b = crafted_connect(|b, at| b[at + 5] = b'X')?;
    let mut c = Client::open(&ctx).await?;
    c.inject(&b).await;
    expect_drop(
        &ctx,
        &mut c,
        "MQTT-3.1.2-1",
        "protocol name MQTX",
        no_accept("MQTT-3.1.2-1"),
    )
    .await
}

async fn bad_protocol_level(ctx: Ctx) -> CaseResult {
    let b = crafted_connect(|b, at| b[at + LEVEL] = 42)?;
    let mut c = Client::open(&ctx).await?;
    c.inject(&b).await;
    expect_drop(
        &ctx,
        &mut c,
        "MQTT-3.1.2-2",
        "protocol level 42",
        |r| match r.packets.first() {
            Some(Rx::Connack { code: 1, .. }) => None,
            Some(other) => Some(Outcome::fail(
                &["MQTT-3.1.2-2"],
                format!("answered with {other:?}, not CONNACK return code 0x01"),
            )),
            None if r.closed => Some(Outcome::fail(
                &["MQTT-3.1.2-2"],
                "closed without CONNACK return code 0x01 (unacceptable protocol level)",
            )),
            None => None,
        },
    )
    .await
}

async fn remaining_length_five_bytes(ctx: Ctx) -> CaseResult {
    // A CONNECT whose remaining length is written in five 7-bit groups (FF FF FF FF 7F):
    // the fifth byte alone is the violation, the broker must not wait for 2^35 bytes.
    let b = connect_bytes(&unique_client_id(), &ConnectOpts::clean())?;
    let mut crafted = vec![b[0], 0xFF, 0xFF, 0xFF, 0xFF, 0x7F];
    crafted.extend_from_slice(&b[body_offset(&b)..]);
    let mut c = Client::open(&ctx).await?;
    c.inject(&crafted).await;
    expect_drop(
        &ctx,
        &mut c,
        "MQTT-2.2.3",
        "remaining length of 5 bytes",
        no_accept("MQTT-2.2.3"),
    )
    .await
}

/// A CONNECT whose remaining length is changed by `delta`; the packet bytes stay and,
/// for a positive delta, as many zero bytes follow.
async fn connect_length_off(ctx: &Ctx, delta: i8, what: &str) -> CaseResult {
    let b = connect_bytes(&unique_client_id(), &ConnectOpts::clean())?;
    // The CONNECT of a 15-character client id is short: remaining length is one byte.
    let Some(len) = b.get(1).and_then(|&l| l.checked_add_signed(delta)) else {
        return Ok(Outcome::fail(
            &[],
            "the CONNECT is not what the case expects",
        ));
    };
    let mut crafted = b.clone();
    crafted[1] = len;
    let extra = usize::from(delta.unsigned_abs());
    if delta > 0 {
        crafted.extend(std::iter::repeat_n(0u8, extra));
    } else {
        crafted.truncate(crafted.len() - extra);
    }
    let mut c = Client::open(ctx).await?;
    c.inject(&crafted).await;
    expect_drop(ctx, &mut c, "MQTT-2.2.3", what, no_accept("MQTT-2.2.3")).await
}

async fn remaining_length_truncated(ctx: Ctx) -> CaseResult {
    connect_length_off(&ctx, -3, "remaining length 3 short of the client id").await
}

async fn remaining_length_overlong(ctx: Ctx) -> CaseResult {
    connect_length_off(&ctx, 2, "remaining length 2 beyond the last field").await
}

/// Publishes crafted bytes on a connected client while a subscriber to `#` under the
/// case's topic prefix watches: the broker must close and deliver nothing.
async fn bad_publish(
    ctx: &Ctx,
    clause: &'static str,
    what: &str,
    craft: impl FnOnce(&str) -> Result<Vec<u8>, Failure>,
) -> CaseResult {
    let base = unique_topic();
    let filter = format!("{base}/#");
    let mut watcher = Client::connect_clean(ctx).await?;
    watcher.subscribe_granted(1, &filter, 0, t(ctx)).await?;
    let mut c = Client::connect_clean(ctx).await?;
    c.inject(&craft(&base)?).await;
    let outcome = expect_drop(ctx, &mut c, clause, what, nothing).await?;
    let leaked = watcher
        .wait_for(quiet(ctx), |r| matches!(r, Rx::Publish(_)))
        .await;
    watcher.disconnect().await;
    match leaked {
        Ok(Rx::Publish(m)) => Ok(Outcome::fail(
            &[clause],
            format!("{what}: delivered to a subscriber as {:?}", m.topic),
        )),
        _ => Ok(outcome),
    }
}

async fn invalid_utf8_topic(ctx: Ctx) -> CaseResult {
    bad_publish(&ctx, "MQTT-1.5.3-1", "topic with C3 28", |base| {
        let topic = format!("{base}/xx");
        let mut b = publish_bytes(&topic, 0, false, None, b"bad")?;
        // The last two characters of the topic become C3 28 (a lead byte followed by
        // a non-continuation byte).
        let end = body_offset(&b) + 2 + topic.len();
        b[end - 2] = 0xC3;
        b[end - 1] = 0x28;
        Ok(b)
    })
    .await
}

async fn wildcard_topic(ctx: Ctx) -> CaseResult {
    bad_publish(&ctx, "MQTT-3.3.2-2", "topic name with +", |base| {
        publish_bytes(&format!("{base}/+"), 0, false, None, b"bad")
    })
    .await
}

async fn publish_qos3(ctx: Ctx) -> CaseResult {
    bad_publish(&ctx, "MQTT-3.3.1-4", "PUBLISH QoS 3", |base| {
        let mut b = publish_bytes(&format!("{base}/q"), 1, false, Some(1), b"bad")?;
        b[0] |= 0x06;
        Ok(b)
    })
    .await
}

async fn publish_pid_zero(ctx: Ctx) -> CaseResult {
    bad_publish(
        &ctx,
        "MQTT-2.3.1-1",
        "QoS 1 PUBLISH with packet id 0",
        |base| {
            let topic = format!("{base}/z");
            let mut b = publish_bytes(&topic, 1, false, Some(1), b"bad")?;
            let pid = body_offset(&b) + 2 + topic.len();
            b[pid] = 0;
            b[pid + 1] = 0;
            Ok(b)
        },
    )
    .await
}

async fn subscribe_empty(ctx: Ctx) -> CaseResult {
    let mut c = Client::connect_clean(&ctx).await?;
    let topic = unique_topic();
    let b = subscribe_bytes(1, &[(&topic, 0)])?;
    // Keep byte 1 and the packet id; drop the filter and shorten the remaining length.
    let at = body_offset(&b);
    let mut crafted = vec![b[0], 2];
    crafted.extend_from_slice(&b[at..at + 2]);
    c.inject(&crafted).await;
    expect_drop(
        &ctx,
        &mut c,
        "MQTT-3.8.3-3",
        "SUBSCRIBE without filters",
        |r| {
            r.packets
                .iter()
                .any(|p| matches!(p, Rx::Suback { .. }))
                .then(|| Outcome::fail(&["MQTT-3.8.3-3"], "an empty SUBSCRIBE was answered"))
        },
    )
    .await
}

/// After CONNECT: `bytes`; the broker must close, answering none of `forbidden`.
async fn bad_after_connect(
    ctx: &Ctx,
    bytes: &[u8],
    clause: &'static str,
    what: &str,
    forbidden: fn(&Rx) -> bool,
) -> CaseResult {
    let mut c = Client::connect_clean(ctx).await?;
    c.inject(bytes).await;
    expect_drop(ctx, &mut c, clause, what, |r| {
        r.packets
            .iter()
            .find(|p| forbidden(p))
            .map(|p| Outcome::fail(&[clause], format!("{what} was answered with {}", p.name())))
    })
    .await
}

async fn reserved_type_0(ctx: Ctx) -> CaseResult {
    // PINGREQ from the codec with its type nibble cleared.
    let mut b = simple_bytes(PacketBody::Pingreq)?;
    b[0] &= 0x0F;
    bad_after_connect(&ctx, &b, "MQTT-2.2.1", "packet type 0", |_| true).await
}

async fn reserved_type_15(ctx: Ctx) -> CaseResult {
    let mut b = simple_bytes(PacketBody::Pingreq)?;
    b[0] = 0xF0 | (b[0] & 0x0F);
    bad_after_connect(&ctx, &b, "MQTT-2.2.1", "packet type 15", |_| true).await
}

/// A crafted CONNECT on a new connection: not accepted, then closed.
async fn bad_connect(ctx: &Ctx, b: &[u8], clause: &'static str, what: &str) -> CaseResult {
    let mut c = Client::open(ctx).await?;
    c.inject(b).await;
    expect_drop(ctx, &mut c, clause, what, no_accept(clause)).await
}

/// Connect flag bits (byte 8 of the variable header).
const WILL_QOS_1: u8 = 0x08;
const WILL_QOS_MASK: u8 = 0x18;
const USER_FLAG: u8 = 0x80;
const PASSWORD_FLAG: u8 = 0x40;

async fn will_qos_without_will(ctx: Ctx) -> CaseResult {
    let b = crafted_connect(|b, at| b[at + FLAGS] |= WILL_QOS_1)?;
    bad_connect(&ctx, &b, "MQTT-3.1.2-11", "will QoS 1 without a will").await
}

async fn will_qos_3(ctx: Ctx) -> CaseResult {
    let opts = ConnectOpts {
        will: Some((unique_topic(), b"gone".to_vec(), 1, false)),
        ..ConnectOpts::clean()
    };
    let mut b = connect_bytes(&unique_client_id(), &opts)?;
    let at = body_offset(&b);
    b[at + FLAGS] |= WILL_QOS_MASK;
    bad_connect(&ctx, &b, "MQTT-3.1.2-14", "will QoS 3").await
}

async fn user_flag_without_user(ctx: Ctx) -> CaseResult {
    let b = crafted_connect(|b, at| b[at + FLAGS] |= USER_FLAG)?;
    bad_connect(
        &ctx,
        &b,
        "MQTT-3.1.2-19",
        "user name flag without a user name",
    )
    .await
}

async fn password_flag_without_password(ctx: Ctx) -> CaseResult {
    let opts = ConnectOpts {
        username: Some("conform".into()),
        ..ConnectOpts::clean()
    };
    let mut b = connect_bytes(&unique_client_id(), &opts)?;
    let at = body_offset(&b);
    b[at + FLAGS] |= PASSWORD_FLAG;
    bad_connect(
        &ctx,
        &b,
        "MQTT-3.1.2-21",
        "password flag without a password",
    )
    .await
}

async fn password_without_user(ctx: Ctx) -> CaseResult {
    // A CONNECT with user name "u" and a password; then the user name flag is cleared
    // and the user name field ("u": 00 01 75) taken out, so that only the flag rule is
    // broken: the payload is client id, password.
    let id = unique_client_id();
    let opts = ConnectOpts {
        username: Some("u".into()),
        password: Some(b"pw".to_vec()),
        ..ConnectOpts::clean()
    };
    let mut b = connect_bytes(&id, &opts)?;
    let at = body_offset(&b);
    if at != 2 {
        return Err(fail(
            &[],
            "the suite's CONNECT should be shorter than 128 bytes",
        ));
    }
    b[at + FLAGS] &= !USER_FLAG;
    let user = at + 10 + 2 + id.len();
    b.drain(user..user + 3);
    b[1] -= 3;
    bad_connect(&ctx, &b, "MQTT-3.1.2-22", "a password without a user name").await
}

async fn connect_without_client_id(ctx: Ctx) -> CaseResult {
    let mut b = connect_bytes(&unique_client_id(), &ConnectOpts::clean())?;
    let at = body_offset(&b);
    if at != 2 {
        return Err(fail(
            &[],
            "the suite's CONNECT should be shorter than 128 bytes",
        ));
    }
    // Only the 10-byte variable header stays.
    b.truncate(at + 10);
    b[1] = 10;
    bad_connect(&ctx, &b, "MQTT-3.1.3-3", "CONNECT without a payload").await
}

async fn refused_connack_session_present(ctx: Ctx) -> CaseResult {
    let id = unique_client_id();
    let (c, _) = Client::connect(&ctx, &id, &ConnectOpts::persistent()).await?;
    c.disconnect().await;
    let mut b = connect_bytes(&id, &ConnectOpts::persistent())?;
    let at = body_offset(&b);
    b[at + LEVEL] = 42;
    let mut c = Client::open(&ctx).await?;
    c.inject(&b).await;
    let outcome = expect_drop(
        &ctx,
        &mut c,
        "MQTT-3.1.2-2",
        "protocol level 42 with a stored session",
        |r| match r.packets.first() {
            Some(Rx::Connack {
                code: 1,
                session_present: false,
            }) => None,
            Some(Rx::Connack {
                code: 1,
                session_present: true,
            }) => Some(Outcome::fail(
                &["MQTT-3.2.2-4"],
                "CONNACK 0x01 (refused) with session present 1",
            )),
            Some(other) => Some(Outcome::fail(
                &["MQTT-3.1.2-2"],
                format!("answered with {other:?}, not CONNACK return code 0x01"),
            )),
            None if r.closed => Some(Outcome::fail(
                &["MQTT-3.1.2-2"],
                "closed without CONNACK return code 0x01 (unacceptable protocol level)",
            )),
            None => None,
        },
    )
    .await;
    // Leave no session behind.
    if let Ok((c, _)) = Client::connect(&ctx, &id, &ConnectOpts::clean()).await {
        c.disconnect().await;
    }
    outcome
}

async fn pubrel_flags(ctx: Ctx) -> CaseResult {
    let topic = unique_topic();
    let mut c = Client::connect_clean(&ctx).await?;
    c.send(&publish_bytes(&topic, 2, false, Some(7), b"qos 2")?)
        .await?;
    c.wait_for(t(&ctx), |r| *r == Rx::Pubrec(7))
        .await
        .map_err(|e| e.fail("MQTT-4.3.3-2", "waiting for PUBREC"))?;
    let mut b = simple_bytes(PacketBody::Pubrel(id(7)))?;
    b[0] &= 0xF0;
    c.inject(&b).await;
    expect_drop(&ctx, &mut c, "MQTT-3.6.1-1", "PUBREL 0x60", |r| {
        r.packets
            .contains(&Rx::Pubcomp(7))
            .then(|| Outcome::fail(&["MQTT-3.6.1-1"], "PUBREL with flags 0000 was answered"))
    })
    .await
}

fn is_suback(r: &Rx) -> bool {
    matches!(r, Rx::Suback { .. })
}

fn is_unsuback(r: &Rx) -> bool {
    matches!(r, Rx::Unsuback(_))
}

async fn subscribe_qos_3(ctx: Ctx) -> CaseResult {
    let mut b = subscribe_bytes(1, &[(&unique_topic(), 0)])?;
    // The requested QoS is the last byte.
    if let Some(q) = b.last_mut() {
        *q = 3;
    }
    bad_after_connect(&ctx, &b, "MQTT-3-8.3-4", "SUBSCRIBE QoS 3", is_suback).await
}

async fn subscribe_invalid_utf8(ctx: Ctx) -> CaseResult {
    let filter = format!("{}/xx", unique_topic());
    let mut b = subscribe_bytes(1, &[(&filter, 0)])?;
    // The filter's last two characters become C3 28; the QoS byte follows them.
    let end = b.len() - 1;
    b[end - 2] = 0xC3;
    b[end - 1] = 0x28;
    bad_after_connect(
        &ctx,
        &b,
        "MQTT-3.8.3-1",
        "SUBSCRIBE filter with C3 28",
        is_suback,
    )
    .await
}

async fn unsubscribe_flags(ctx: Ctx) -> CaseResult {
    let mut b = unsubscribe_bytes(1, &[&unique_topic()])?;
    b[0] &= 0xF0;
    bad_after_connect(&ctx, &b, "MQTT-3.10.1-1", "UNSUBSCRIBE 0xA0", is_unsuback).await
}

async fn unsubscribe_empty(ctx: Ctx) -> CaseResult {
    let b = unsubscribe_bytes(1, &[&unique_topic()])?;
    // Keep byte 1 and the packet id; drop the filter and shorten the remaining length.
    let at = body_offset(&b);
    let mut crafted = vec![b[0], 2];
    crafted.extend_from_slice(&b[at..at + 2]);
    bad_after_connect(
        &ctx,
        &crafted,
        "MQTT-3.10.3-2",
        "UNSUBSCRIBE without filters",
        is_unsuback,
    )
    .await
}

async fn disconnect_flags(ctx: Ctx) -> CaseResult {
    let topic = unique_topic();
    let (mut watcher, mut holder) = with_will(&ctx, &topic).await?;
    let mut b = simple_bytes(PacketBody::Disconnect)?;
    b[0] |= 0x01;
    holder.inject(&b).await;
    let outcome = expect_drop(
        &ctx,
        &mut holder,
        "MQTT-3.14.1-1",
        "DISCONNECT 0xE1",
        nothing,
    )
    .await?;
    let will = watcher
        .next_publish(&topic, t(&ctx))
        .await
        .map_err(|e| {
            e.fail(
                "MQTT-3.14.1-1",
                "after DISCONNECT with reserved bits set (a protocol error, not a DISCONNECT), waiting for the will",
            )
        });
    match will {
        Ok(m) => {
            watcher.ack(&m, t(&ctx)).await?;
            watcher.disconnect().await;
            Ok(outcome)
        }
        Err(f) => {
            watcher.disconnect().await;
            Err(f)
        }
    }
}
