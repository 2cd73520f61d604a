//! Cases for an MQTT 3.1.1 client: the suite acts as the broker the client connects to
//! (role `client`; it listens, the client under test connects, one connection per case
//! at least). Every packet the suite sends is built with the generated codec; malformed
//! ones are codec output with one small edit.
//!
//! What the client under test must do by itself (nothing drives it): connect with a
//! keep-alive of a few seconds at most and Clean Session 0 for the re-delivery case, and
//! publish one QoS 1 message after each accepted connection (any topic). Without those
//! the affected cases report `unsupported`.

use std::time::{Duration, Instant};

use ferrocom_wire::codec::Decoded;
use ferrocom_wire::mqtt311::{
    Connack, ConnackFlags, ConnectReturnCode, Packet, PacketBody, PacketId, Publish, PublishHeader,
};

use super::client::encode;
use crate::case::{Case, CaseFuture, CaseResult, Ctx, Failure, Kind, Outcome, Role};
use crate::peer::{Peer, PeerError};

macro_rules! case {
    ($id:literal, [$($c:literal),+], $kind:ident, $title:literal, $f:ident, $slow:literal) => {
        Case {
            id: $id,
            clauses: &[$($c),+],
            role: Role::Client,
            title: $title,
            kind: Kind::$kind,
            slow: $slow,
            run: |ctx| -> CaseFuture { Box::pin($f(ctx)) },
        }
    };
}

/// The client-role cases.
pub static CASES: &[Case] = &[
    case!(
        "MQTT-3.1.0-1#c1",
        ["MQTT-3.1.0-1", "MQTT-3.1.2-1", "MQTT-3.1.2-2", "MQTT-3.1"],
        Normal,
        "The first packet on a connection is a well-formed CONNECT (protocol name MQTT, level 4)",
        first_connect,
        false
    ),
    case!(
        "MQTT-3.1.2-23#c1",
        ["MQTT-3.1.2-23", "MQTT-3.12"],
        Normal,
        "With nothing else to send, the client sends PINGREQ within its keep-alive interval",
        keep_alive,
        true
    ),
    case!(
        "MQTT-4.3.2-2#c1",
        ["MQTT-4.3.2-2", "MQTT-3.4"],
        Normal,
        "A QoS 1 PUBLISH from the broker is answered with PUBACK of the same packet id",
        qos1_receiver,
        false
    ),
    case!(
        "MQTT-4.3.3-2#c1",
        ["MQTT-4.3.3-2", "MQTT-3.5", "MQTT-3.7"],
        Normal,
        "QoS 2 from the broker: PUBREC for the PUBLISH (also for its DUP repeat), PUBCOMP for the PUBREL",
        qos2_receiver,
        false
    ),
    case!(
        "MQTT-4.4.0-1#c1",
        ["MQTT-4.4.0-1", "MQTT-3.3.1-1"],
        Normal,
        "After a reconnect with Clean Session 0, an unacknowledged QoS 1 PUBLISH is re-sent with its packet id and DUP 1",
        redelivery,
        false
    ),
    case!(
        "MQTT-3.2.2.1#c1",
        ["MQTT-3.2.2.1", "MQTT-4.8.0-1"],
        Malformed,
        "CONNACK with reserved flag bits set: the client closes the connection",
        connack_reserved,
        false
    ),
    case!(
        "MQTT-3.2.0-1#c1",
        ["MQTT-3.2.0-1", "MQTT-4.8.0-1"],
        Malformed,
        "A PUBLISH instead of CONNACK as the broker's first packet: the client closes the connection",
        publish_first,
        false
    ),
    case!(
        "MQTT-3.3.1-4#c1",
        ["MQTT-3.3.1-4", "MQTT-4.8.0-1"],
        Malformed,
        "A PUBLISH with QoS 3: the client closes the connection",
        publish_qos3,
        false
    ),
];

/// A packet from the client, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tx {
    Connect { clean: bool, keep_alive: u16 },
    Publish { qos: u8, dup: bool, id: Option<u16> },
    Puback(u16),
    Pubrec(u16),
    Pubrel(u16),
    Pubcomp(u16),
    Pingreq,
    Other(&'static str),
}

impl Tx {
    fn of(p: &Packet<'_>) -> Tx {
        match &p.body {
            PacketBody::Connect(c) => Tx::Connect {
                clean: c.flags.clean_session,
                keep_alive: c.keep_alive,
            },
            PacketBody::Publish(m) => Tx::Publish {
                qos: m.header.qos,
                dup: m.header.dup,
                id: m.packet_id,
            },
            PacketBody::Puback(i) => Tx::Puback(i.id),
            PacketBody::Pubrec(i) => Tx::Pubrec(i.id),
            PacketBody::Pubrel(i) => Tx::Pubrel(i.id),
            PacketBody::Pubcomp(i) => Tx::Pubcomp(i.id),
            PacketBody::Pingreq => Tx::Pingreq,
            PacketBody::Subscribe(_) => Tx::Other("SUBSCRIBE"),
            PacketBody::Unsubscribe(_) => Tx::Other("UNSUBSCRIBE"),
            PacketBody::Disconnect => Tx::Other("DISCONNECT"),
            PacketBody::Connack(_) => Tx::Other("CONNACK"),
            PacketBody::Suback(_) => Tx::Other("SUBACK"),
            PacketBody::Unsuback(_) => Tx::Other("UNSUBACK"),
            PacketBody::Pingresp => Tx::Other("PINGRESP"),
        }
    }
}

/// Why no packet came.
#[derive(Debug)]
enum Rx {
    Closed,
    Timeout,
    Malformed(String),
    Io(String),
}

/// The suite's broker end of one connection.
struct BrokerEnd {
    peer: Peer,
    buf: Vec<u8>,
}

fn fail(clauses: &[&'static str], m: impl Into<String>) -> Failure {
    Failure(Outcome::fail(clauses, m))
}

impl BrokerEnd {
    async fn accept(ctx: &Ctx) -> Result<BrokerEnd, Failure> {
        let peer = ctx.open().await.map_err(|e| {
            Failure(Outcome::fail(
                &["MQTT-3.1.0-1"],
                format!("the client did not connect: {e}"),
            ))
        })?;
        Ok(BrokerEnd {
            peer,
            buf: Vec::new(),
        })
    }

    async fn send(&mut self, body: PacketBody<'_>) -> Result<(), Failure> {
        let bytes = encode(&Packet { body })?;
        self.send_raw(&bytes).await
    }

    async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.peer
            .send(bytes)
            .await
            .map_err(|e| fail(&["MQTT-4.8.0-1"], format!("sending failed: {e}")))
    }

    async fn recv(&mut self, timeout: Duration) -> Result<Tx, Rx> {
        let end = Instant::now() + timeout;
        loop {
            match Packet::decode(&self.buf) {
                Ok(Decoded::Complete(p, used)) => {
                    let tx = Tx::of(&p);
                    self.buf.drain(..used);
                    return Ok(tx);
                }
                Ok(Decoded::Incomplete(_)) => {}
                Err(e) => return Err(Rx::Malformed(e.to_string())),
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Rx::Timeout);
            }
            match self.peer.recv(left).await {
                Ok(b) => self.buf.extend_from_slice(&b),
                Err(PeerError::Timeout) => return Err(Rx::Timeout),
                Err(PeerError::Closed) => return Err(Rx::Closed),
                Err(e) => return Err(Rx::Io(e.to_string())),
            }
        }
    }

    /// Waits for a packet `want` accepts, serving the client's routine traffic on the
    /// way (PINGREQ answered, its own QoS 1 PUBLISH acknowledged unless `hold`).
    async fn expect(
        &mut self,
        timeout: Duration,
        what: &str,
        clause: &'static str,
        hold: bool,
        mut want: impl FnMut(&Tx) -> bool,
    ) -> Result<Tx, Failure> {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let tx = match self.recv(left).await {
                Ok(tx) => tx,
                Err(Rx::Timeout) => return Err(fail(&[clause], format!("{what}: timed out"))),
                Err(Rx::Closed) => {
                    return Err(fail(
                        &[clause],
                        format!("{what}: the client closed the connection"),
                    ));
                }
                Err(Rx::Malformed(m)) => {
                    return Err(fail(
                        &["MQTT-2.2"],
                        format!("{what}: the client sent a malformed packet: {m}"),
                    ));
                }
                Err(Rx::Io(e)) => return Err(fail(&[clause], format!("{what}: {e}"))),
            };
            if want(&tx) {
                return Ok(tx);
            }
            match tx {
                Tx::Pingreq => self.send(PacketBody::Pingresp).await?,
                Tx::Publish {
                    qos: 1,
                    id: Some(id),
                    ..
                } if !hold => self.send(PacketBody::Puback(PacketId { id })).await?,
                _ => self.peer.note(format!("set aside: {tx:?}")),
            }
        }
    }

    /// Reads the CONNECT (the first packet) and answers CONNACK accepted.
    async fn handshake(ctx: &Ctx, session_present: bool) -> Result<(BrokerEnd, Tx), Failure> {
        let mut b = BrokerEnd::accept(ctx).await?;
        let t = ctx.settings().reply_timeout;
        let connect = match b.recv(t).await {
            Ok(c @ Tx::Connect { .. }) => c,
            Ok(other) => {
                return Err(fail(
                    &["MQTT-3.1.0-1"],
                    format!("the first packet is {other:?}, not CONNECT"),
                ));
            }
            Err(Rx::Malformed(m)) => {
                return Err(fail(
                    &["MQTT-3.1.0-1"],
                    format!("the first packet is malformed: {m}"),
                ));
            }
            Err(e) => return Err(fail(&["MQTT-3.1.0-1"], format!("no CONNECT: {e:?}"))),
        };
        let clean = matches!(connect, Tx::Connect { clean: true, .. });
        b.send(connack(session_present && !clean)).await?;
        Ok((b, connect))
    }

    /// Did the client close the connection within `within` (reading and discarding what
    /// it sends meanwhile)?
    async fn closes(&mut self, within: Duration) -> bool {
        self.peer.expect_close(within).await
    }
}

fn connack(session_present: bool) -> PacketBody<'static> {
    PacketBody::Connack(Connack {
        flags: ConnackFlags { session_present },
        return_code: ConnectReturnCode::ACCEPTED,
    })
}

fn publish(qos: u8, dup: bool, id: Option<u16>) -> PacketBody<'static> {
    PacketBody::Publish(Publish {
        header: PublishHeader {
            dup,
            qos,
            retain: false,
        },
        topic: "ferrocom/conform/client",
        packet_id: id,
        payload: b"conformance",
    })
}

async fn first_connect(ctx: Ctx) -> CaseResult {
    let (b, connect) = BrokerEnd::handshake(&ctx, false).await?;
    b.peer.close().await;
    Ok(Outcome::pass(format!(
        "first packet CONNECT, level 4: {connect:?}"
    )))
}

async fn keep_alive(ctx: Ctx) -> CaseResult {
    let (mut b, connect) = BrokerEnd::handshake(&ctx, false).await?;
    let Tx::Connect { keep_alive, .. } = connect else {
        return Ok(Outcome::unsupported("no CONNECT"));
    };
    if keep_alive == 0 || keep_alive > 5 {
        b.peer.close().await;
        return Ok(Outcome::unsupported(format!(
            "keep-alive {keep_alive} s: the case needs 1 to 5 s"
        )));
    }
    // Half a keep-alive of slack, as a broker allows ([MQTT-3.1.2-24]).
    let window = Duration::from_millis(u64::from(keep_alive) * 1500);
    let t0 = Instant::now();
    b.expect(
        window,
        &format!("PINGREQ within {} ms", window.as_millis()),
        "MQTT-3.1.2-23",
        false,
        |t| *t == Tx::Pingreq,
    )
    .await?;
    let after = t0.elapsed();
    b.send(PacketBody::Pingresp).await?;
    b.peer.close().await;
    Ok(Outcome::pass(format!(
        "PINGREQ {} ms after CONNACK (keep-alive {keep_alive} s)",
        after.as_millis()
    )))
}

async fn qos1_receiver(ctx: Ctx) -> CaseResult {
    let (mut b, _) = BrokerEnd::handshake(&ctx, false).await?;
    let t = ctx.settings().reply_timeout;
    b.send(publish(1, false, Some(0x1234))).await?;
    b.expect(t, "PUBACK 0x1234", "MQTT-4.3.2-2", false, |x| {
        *x == Tx::Puback(0x1234)
    })
    .await?;
    b.peer.close().await;
    Ok(Outcome::pass("PUBACK with the PUBLISH's packet id"))
}

async fn qos2_receiver(ctx: Ctx) -> CaseResult {
    let (mut b, _) = BrokerEnd::handshake(&ctx, false).await?;
    let t = ctx.settings().reply_timeout;
    b.send(publish(2, false, Some(0x2345))).await?;
    b.expect(t, "PUBREC 0x2345", "MQTT-4.3.3-2", false, |x| {
        *x == Tx::Pubrec(0x2345)
    })
    .await?;
    b.send(publish(2, true, Some(0x2345))).await?;
    b.expect(
        t,
        "PUBREC 0x2345 for the DUP repeat",
        "MQTT-4.3.3-2",
        false,
        |x| *x == Tx::Pubrec(0x2345),
    )
    .await?;
    b.send(PacketBody::Pubrel(PacketId { id: 0x2345 })).await?;
    b.expect(t, "PUBCOMP 0x2345", "MQTT-4.3.3-2", false, |x| {
        *x == Tx::Pubcomp(0x2345)
    })
    .await?;
    b.peer.close().await;
    Ok(Outcome::pass(
        "PUBREC, PUBREC again for the repeat, PUBCOMP",
    ))
}

async fn redelivery(ctx: Ctx) -> CaseResult {
    let (mut b, connect) = BrokerEnd::handshake(&ctx, false).await?;
    if matches!(connect, Tx::Connect { clean: true, .. }) {
        b.peer.close().await;
        return Ok(Outcome::unsupported(
            "the client connects with Clean Session 1",
        ));
    }
    let t = ctx.settings().reply_timeout;
    let first = match b
        .expect(t, "a QoS 1 PUBLISH", "MQTT-4.4.0-1", true, |x| {
            matches!(x, Tx::Publish { qos: 1, .. })
        })
        .await
    {
        Ok(Tx::Publish { id: Some(id), .. }) => id,
        _ => {
            b.peer.close().await;
            return Ok(Outcome::unsupported(
                "the client published no QoS 1 message after connecting",
            ));
        }
    };
    ctx.note(format!("PUBLISH {first} left unacknowledged; closing"));
    b.peer.close().await;

    let (mut b, _) = BrokerEnd::handshake(&ctx, true).await?;
    let again = b
        .expect(
            t,
            &format!("the re-sent PUBLISH {first}"),
            "MQTT-4.4.0-1",
            true,
            |x| matches!(x, Tx::Publish { id: Some(i), .. } if *i == first),
        )
        .await?;
    b.send(PacketBody::Puback(PacketId { id: first })).await?;
    let outcome = match again {
        Tx::Publish { dup: true, .. } => Outcome::pass(format!(
            "PUBLISH {first} re-sent with DUP 1 after reconnecting"
        )),
        _ => Outcome::fail(
            &["MQTT-3.3.1-1"],
            format!("PUBLISH {first} re-sent with DUP 0"),
        ),
    };
    // Acknowledge whatever else arrives so no state is left for the next case.
    let _ = b
        .expect(
            Duration::from_millis(200),
            "quiet",
            "MQTT-4.4.0-1",
            false,
            |_| false,
        )
        .await;
    b.peer.close().await;
    Ok(outcome)
}

/// Connects, answers CONNECT with `bytes`, and requires the client to close.
async fn must_close(ctx: Ctx, bytes: Vec<u8>, clause: &'static str, what: &str) -> CaseResult {
    let mut b = BrokerEnd::accept(&ctx).await?;
    let t = ctx.settings().reply_timeout;
    match b.recv(t).await {
        Ok(Tx::Connect { .. }) => {}
        other => return Err(fail(&["MQTT-3.1.0-1"], format!("no CONNECT: {other:?}"))),
    }
    b.peer.note(format!("injecting {what}"));
    b.send_raw(&bytes).await?;
    if b.closes(t).await {
        Ok(Outcome::pass(format!("closed the connection after {what}")))
    } else {
        Ok(Outcome::fail(
            &[clause, "MQTT-4.8.0-1"],
            format!("the connection stayed open after {what}"),
        ))
    }
}

async fn connack_reserved(ctx: Ctx) -> CaseResult {
    let mut bytes = encode(&Packet {
        body: connack(false),
    })?;
    // Byte 3 is the acknowledge flags; bit 1 is reserved.
    bytes[2] |= 0x02;
    must_close(
        ctx,
        bytes,
        "MQTT-3.2.2.1",
        "a CONNACK with reserved flag bit 1 set",
    )
    .await
}

async fn publish_first(ctx: Ctx) -> CaseResult {
    let bytes = encode(&Packet {
        body: publish(0, false, None),
    })?;
    must_close(ctx, bytes, "MQTT-3.2.0-1", "a PUBLISH before CONNACK").await
}

async fn publish_qos3(ctx: Ctx) -> CaseResult {
    let mut bytes = encode(&Packet {
        body: connack(false),
    })?;
    let mut p = encode(&Packet {
        body: publish(1, false, Some(7)),
    })?;
    // QoS bits 2-1 of byte 1: 01 becomes 11.
    p[0] |= 0x06;
    bytes.extend(p);
    must_close(ctx, bytes, "MQTT-3.3.1-4", "a QoS 3 PUBLISH").await
}
