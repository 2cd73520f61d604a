//! The suite's MQTT 3.1.1 client end: every packet it sends is built with the generated
//! codec (`ferrocom_wire::mqtt311`) and every packet of the broker is parsed with it; the
//! bytes go through a [`Peer`], so they all land in the case's wire log.
//!
//! Malformed inputs are derived from codec output by small edits in the cases (a flag bit
//! set, a field overwritten, the remaining length changed), never written out by hand.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ferrocom_wire::codec::Decoded;
use ferrocom_wire::mqtt311::{
    Connect, ConnectFlags, Packet, PacketBody, PacketId, Publish, PublishHeader, Subscribe,
    Subscription, Unsubscribe,
};

use crate::case::{Ctx, Failure, Outcome};
use crate::peer::{Peer, PeerError};

/// A packet from the broker, owned (the codec's packets borrow the receive buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rx {
    /// CONNACK.
    Connack {
        /// Session present flag.
        session_present: bool,
        /// Return code (0 = accepted).
        code: u8,
    },
    /// PUBLISH.
    Publish(Message),
    /// PUBACK.
    Puback(u16),
    /// PUBREC.
    Pubrec(u16),
    /// PUBREL.
    Pubrel(u16),
    /// PUBCOMP.
    Pubcomp(u16),
    /// SUBACK.
    Suback {
        /// Packet identifier.
        packet_id: u16,
        /// Return codes, in order.
        codes: Vec<u8>,
    },
    /// UNSUBACK.
    Unsuback(u16),
    /// PINGRESP.
    Pingresp,
    /// A packet only a client sends (CONNECT, SUBSCRIBE, ...): its name.
    ClientOnly(&'static str),
}

/// A PUBLISH, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// DUP flag.
    pub dup: bool,
    /// QoS.
    pub qos: u8,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic name.
    pub topic: String,
    /// Packet identifier (QoS > 0).
    pub packet_id: Option<u16>,
    /// Payload.
    pub payload: Vec<u8>,
}

impl Rx {
    fn from_packet(p: &Packet<'_>) -> Rx {
        match &p.body {
            PacketBody::Connack(c) => Rx::Connack {
                session_present: c.flags.session_present,
                code: c.return_code.0,
            },
            PacketBody::Publish(m) => Rx::Publish(Message {
                dup: m.header.dup,
                qos: m.header.qos,
                retain: m.header.retain,
                topic: m.topic.to_string(),
                packet_id: m.packet_id,
                payload: m.payload.to_vec(),
            }),
            PacketBody::Puback(i) => Rx::Puback(i.id),
            PacketBody::Pubrec(i) => Rx::Pubrec(i.id),
            PacketBody::Pubrel(i) => Rx::Pubrel(i.id),
            PacketBody::Pubcomp(i) => Rx::Pubcomp(i.id),
            PacketBody::Suback(s) => Rx::Suback {
                packet_id: s.packet_id,
                codes: s.return_codes.iter().map(|c| c.0).collect(),
            },
            PacketBody::Unsuback(i) => Rx::Unsuback(i.id),
            PacketBody::Pingresp => Rx::Pingresp,
            PacketBody::Connect(_) => Rx::ClientOnly("CONNECT"),
            PacketBody::Subscribe(_) => Rx::ClientOnly("SUBSCRIBE"),
            PacketBody::Unsubscribe(_) => Rx::ClientOnly("UNSUBSCRIBE"),
            PacketBody::Pingreq => Rx::ClientOnly("PINGREQ"),
            PacketBody::Disconnect => Rx::ClientOnly("DISCONNECT"),
        }
    }

    /// Short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Rx::Connack { .. } => "CONNACK",
            Rx::Publish(_) => "PUBLISH",
            Rx::Puback(_) => "PUBACK",
            Rx::Pubrec(_) => "PUBREC",
            Rx::Pubrel(_) => "PUBREL",
            Rx::Pubcomp(_) => "PUBCOMP",
            Rx::Suback { .. } => "SUBACK",
            Rx::Unsuback(_) => "UNSUBACK",
            Rx::Pingresp => "PINGRESP",
            Rx::ClientOnly(n) => n,
        }
    }
}

/// Why no packet came.
#[derive(Debug)]
pub enum RxError {
    /// The broker closed the connection.
    Closed,
    /// Nothing (complete) arrived in time.
    Timeout,
    /// The broker sent bytes the codec rejects: the message and the clause they break.
    Malformed(String, &'static str),
    /// Transport trouble.
    Io(String),
}

impl RxError {
    /// The failure when waiting for `what` (required by `clause`) went wrong.
    pub fn fail(self, clause: &'static str, what: &str) -> Failure {
        Failure(match self {
            RxError::Closed => Outcome::fail(
                &[clause],
                format!("{what}: the broker closed the connection"),
            ),
            RxError::Timeout => Outcome::fail(&[clause], format!("{what}: timed out")),
            RxError::Malformed(m, c) => Outcome::fail(
                &[c],
                format!("{what}: the broker sent a malformed packet: {m}"),
            ),
            RxError::Io(e) => Outcome::fail(&[clause], format!("{what}: {e}")),
        })
    }
}

/// What the broker did after a crafted input, up to closing.
#[derive(Debug, Default)]
pub struct Reaction {
    /// Packets it sent first.
    pub packets: Vec<Rx>,
    /// It closed the connection in time.
    pub closed: bool,
    /// It sent bytes the codec rejects.
    pub malformed: Option<(String, &'static str)>,
}

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct ConnectOpts {
    /// Clean session.
    pub clean: bool,
    /// Keep alive (s), 0 = off.
    pub keep_alive: u16,
    /// Will: topic, message, QoS, retain.
    pub will: Option<(String, Vec<u8>, u8, bool)>,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Vec<u8>>,
}

impl ConnectOpts {
    /// A clean session, keep alive 60 s.
    pub fn clean() -> Self {
        ConnectOpts {
            clean: true,
            keep_alive: 60,
            ..ConnectOpts::default()
        }
    }

    /// A persistent session, keep alive 60 s.
    pub fn persistent() -> Self {
        ConnectOpts {
            clean: false,
            ..ConnectOpts::clean()
        }
    }
}

/// Encodes a packet; the suite only builds packets the codec accepts, so an error is a
/// bug of the case, reported as a failure of no clause rather than a panic.
pub fn encode(p: &Packet<'_>) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    p.encode(&mut out)
        .map_err(|e| Failure(Outcome::fail(&[], format!("the suite cannot encode: {e}"))))?;
    Ok(out)
}

/// The CONNECT for `client_id`.
pub fn connect_bytes(client_id: &str, o: &ConnectOpts) -> Result<Vec<u8>, Failure> {
    let will = o.will.as_ref();
    encode(&Packet {
        body: PacketBody::Connect(Connect {
            level: 4,
            flags: ConnectFlags {
                username: o.username.is_some(),
                password: o.password.is_some(),
                will_retain: will.is_some_and(|w| w.3),
                will_qos: will.map_or(0, |w| w.2),
                will: will.is_some(),
                clean_session: o.clean,
            },
            keep_alive: o.keep_alive,
            client_id,
            will_topic: will.map(|w| w.0.as_str()),
            will_message: will.map(|w| w.1.as_slice()),
            username: o.username.as_deref(),
            password: o.password.as_deref(),
        }),
    })
}

/// A PUBLISH.
pub fn publish_bytes(
    topic: &str,
    qos: u8,
    retain: bool,
    packet_id: Option<u16>,
    payload: &[u8],
) -> Result<Vec<u8>, Failure> {
    encode(&Packet {
        body: PacketBody::Publish(Publish {
            header: PublishHeader {
                dup: false,
                qos,
                retain,
            },
            topic,
            packet_id,
            payload,
        }),
    })
}

/// A SUBSCRIBE.
pub fn subscribe_bytes(packet_id: u16, filters: &[(&str, u8)]) -> Result<Vec<u8>, Failure> {
    encode(&Packet {
        body: PacketBody::Subscribe(Subscribe {
            packet_id,
            filters: filters
                .iter()
                .map(|&(topic, qos)| Subscription { topic, qos })
                .collect(),
        }),
    })
}

/// An UNSUBSCRIBE.
pub fn unsubscribe_bytes(packet_id: u16, filters: &[&str]) -> Result<Vec<u8>, Failure> {
    encode(&Packet {
        body: PacketBody::Unsubscribe(Unsubscribe {
            packet_id,
            filters: filters.to_vec(),
        }),
    })
}

/// A packet with no variable header (PINGREQ, DISCONNECT) or only a packet id.
pub fn simple_bytes(body: PacketBody<'_>) -> Result<Vec<u8>, Failure> {
    encode(&Packet { body })
}

/// PUBACK / PUBREC / PUBREL / PUBCOMP body for `id`.
pub fn id(id: u16) -> PacketId {
    PacketId { id }
}

/// Offset of the variable header: after byte 1 and the remaining length.
pub fn body_offset(packet: &[u8]) -> usize {
    1 + packet
        .iter()
        .skip(1)
        .take(4)
        .position(|b| b & 0x80 == 0)
        .map_or(4, |i| i + 1)
}

/// Run-unique names: concurrent cases (and runs against a shared broker) must not share
/// client ids or topics, or one case's session and messages would leak into another.
fn run_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let x = (nanos as u64) ^ (u64::from(std::process::id()) << 40);
        base36(x % 36u64.pow(8), 8)
    })
}

fn base36(mut x: u64, width: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut s = vec![b'0'; width];
    for slot in s.iter_mut().rev() {
        *slot = DIGITS[(x % 36) as usize];
        x /= 36;
    }
    String::from_utf8(s).unwrap_or_default()
}

fn next_seq() -> u32 {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// A fresh client identifier of 15 characters from [0-9a-z] (a broker must accept
/// 1 to 23 such characters, [MQTT-3.1.3-5]).
pub fn unique_client_id() -> String {
    format!("fc{}{}", run_tag(), base36(u64::from(next_seq()), 5))
}

/// A fresh topic prefix (no wildcards) for one case.
pub fn unique_topic() -> String {
    format!("ferrocom/conform/{}/{}", run_tag(), next_seq())
}

/// One MQTT connection of the suite.
#[derive(Debug)]
pub struct Client {
    /// The transport.
    pub peer: Peer,
    /// The client identifier it connected with.
    pub client_id: String,
    buf: Vec<u8>,
    /// Packets read while waiting for something else, in order.
    pub stash: Vec<Rx>,
}

impl Client {
    /// Opens a connection and sends nothing.
    pub async fn open(ctx: &Ctx) -> Result<Client, Failure> {
        let peer = ctx.open().await.map_err(|e| {
            Failure(Outcome::fail(
                &["MQTT-4.8.0-1"],
                format!("cannot open a connection to the broker: {e}"),
            ))
        })?;
        Ok(Client {
            peer,
            client_id: String::new(),
            buf: Vec::new(),
            stash: Vec::new(),
        })
    }

    /// Opens a connection, sends CONNECT and waits for an accepting CONNACK, which must
    /// be the first packet ([MQTT-3.2.0-1]). Returns the client and Session Present.
    pub async fn connect(
        ctx: &Ctx,
        client_id: &str,
        opts: &ConnectOpts,
    ) -> Result<(Client, bool), Failure> {
        let mut c = Client::open(ctx).await?;
        c.client_id = client_id.to_string();
        c.send(&connect_bytes(client_id, opts)?).await?;
        let t = ctx.settings().reply_timeout;
        match c.recv(t).await {
            Ok(Rx::Connack {
                session_present,
                code: 0,
            }) => Ok((c, session_present)),
            Ok(Rx::Connack { code, .. }) => Err(Failure(Outcome::fail(
                &["MQTT-3.2"],
                format!("CONNECT of {client_id} refused with return code {code}"),
            ))),
            Ok(other) => Err(Failure(Outcome::fail(
                &["MQTT-3.2.0-1"],
                format!(
                    "the first packet after CONNECT is {}, not CONNACK",
                    other.name()
                ),
            ))),
            Err(e) => Err(e.fail("MQTT-3.2.0-1", "waiting for CONNACK")),
        }
    }

    /// A clean-session connection with a fresh client id.
    pub async fn connect_clean(ctx: &Ctx) -> Result<Client, Failure> {
        Ok(
            Self::connect(ctx, &unique_client_id(), &ConnectOpts::clean())
                .await?
                .0,
        )
    }

    /// Sends bytes.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.peer.send(bytes).await.map_err(|e| {
            Failure(Outcome::fail(
                &["MQTT-4.8.0-1"],
                format!("sending failed: {e}"),
            ))
        })
    }

    /// Sends crafted bytes; a refused write is no failure (the broker may have closed
    /// already, which the case checks next).
    pub async fn inject(&mut self, bytes: &[u8]) {
        self.peer.note("injecting crafted bytes");
        let _ = self.peer.send(bytes).await;
    }

    /// The next packet from the broker.
    pub async fn recv(&mut self, timeout: Duration) -> Result<Rx, RxError> {
        let end = Instant::now() + timeout;
        loop {
            match Packet::decode(&self.buf) {
                Ok(Decoded::Complete(p, used)) => {
                    let rx = Rx::from_packet(&p);
                    self.buf.drain(..used);
                    return Ok(rx);
                }
                Ok(Decoded::Incomplete(_)) => {}
                Err(e) => {
                    let clause = e.clause().unwrap_or("MQTT-2.2");
                    return Err(RxError::Malformed(e.to_string(), clause));
                }
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RxError::Timeout);
            }
            match self.peer.recv(left).await {
                Ok(bytes) => self.buf.extend_from_slice(&bytes),
                Err(PeerError::Timeout) => return Err(RxError::Timeout),
                Err(PeerError::Closed) => return Err(RxError::Closed),
                Err(e) => return Err(RxError::Io(e.to_string())),
            }
        }
    }

    /// Reads packets until one satisfies `want`; the others go to [`Client::stash`].
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        mut want: impl FnMut(&Rx) -> bool,
    ) -> Result<Rx, RxError> {
        if let Some(i) = self.stash.iter().position(&mut want) {
            return Ok(self.stash.remove(i));
        }
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let rx = self.recv(left).await?;
            if want(&rx) {
                return Ok(rx);
            }
            self.peer.note(format!("set aside: {}", rx.name()));
            self.stash.push(rx);
        }
    }

    /// A PUBLISH on `topic` (stashed ones first).
    pub async fn next_publish(
        &mut self,
        topic: &str,
        timeout: Duration,
    ) -> Result<Message, RxError> {
        match self
            .wait_for(timeout, |r| matches!(r, Rx::Publish(m) if m.topic == topic))
            .await?
        {
            Rx::Publish(m) => Ok(m),
            // wait_for only returns what the predicate accepted.
            other => Err(RxError::Io(format!("unexpected {}", other.name()))),
        }
    }

    /// `Some(message)` if a PUBLISH on `topic` arrives within `window`; `None` if the
    /// window passes quietly (or the broker closes).
    pub async fn publish_within(
        &mut self,
        topic: &str,
        window: Duration,
    ) -> Result<Option<Message>, RxError> {
        match self.next_publish(topic, window).await {
            Ok(m) => Ok(Some(m)),
            Err(RxError::Timeout) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Subscribes and returns the SUBACK return codes, checking the packet id
    /// ([MQTT-3.8.4-2]) and one code per filter ([MQTT-3.8.4-5]).
    pub async fn subscribe(
        &mut self,
        packet_id: u16,
        filters: &[(&str, u8)],
        timeout: Duration,
    ) -> Result<Vec<u8>, Failure> {
        self.send(&subscribe_bytes(packet_id, filters)?).await?;
        let rx = self
            .wait_for(timeout, |r| matches!(r, Rx::Suback { .. }))
            .await
            .map_err(|e| e.fail("MQTT-3.8.4-1", "waiting for SUBACK"))?;
        let Rx::Suback {
            packet_id: pid,
            codes,
        } = rx
        else {
            return Err(Failure(Outcome::fail(&["MQTT-3.8.4-1"], "no SUBACK")));
        };
        if pid != packet_id {
            return Err(Failure(Outcome::fail(
                &["MQTT-3.8.4-2"],
                format!("SUBACK carries packet id {pid}, the SUBSCRIBE had {packet_id}"),
            )));
        }
        if codes.len() != filters.len() {
            return Err(Failure(Outcome::fail(
                &["MQTT-3.8.4-5"],
                format!(
                    "SUBACK has {} return codes for {} topic filters",
                    codes.len(),
                    filters.len()
                ),
            )));
        }
        Ok(codes)
    }

    /// Subscribes to one filter and requires the requested QoS to be granted (a lower
    /// grant makes the case `unsupported`: a broker may cap QoS).
    pub async fn subscribe_granted(
        &mut self,
        packet_id: u16,
        filter: &str,
        qos: u8,
        timeout: Duration,
    ) -> Result<(), Failure> {
        let codes = self.subscribe(packet_id, &[(filter, qos)], timeout).await?;
        match codes.first() {
            Some(&c) if c == qos => Ok(()),
            Some(&c) => Err(Failure(Outcome::unsupported(format!(
                "the broker granted {c:#04x} for a QoS {qos} subscription"
            )))),
            None => Err(Failure(Outcome::fail(&["MQTT-3.8.4-5"], "empty SUBACK"))),
        }
    }

    /// Publishes and completes the QoS 1 or 2 handshake as sender.
    pub async fn publish(
        &mut self,
        topic: &str,
        qos: u8,
        retain: bool,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<(), Failure> {
        let pid = (qos > 0).then_some(0x0101);
        self.send(&publish_bytes(topic, qos, retain, pid, payload)?)
            .await?;
        match qos {
            1 => {
                self.wait_for(timeout, |r| *r == Rx::Puback(0x0101))
                    .await
                    .map_err(|e| e.fail("MQTT-4.3.2-2", "waiting for PUBACK"))?;
            }
            2 => {
                self.wait_for(timeout, |r| *r == Rx::Pubrec(0x0101))
                    .await
                    .map_err(|e| e.fail("MQTT-4.3.3-2", "waiting for PUBREC"))?;
                self.send(&simple_bytes(PacketBody::Pubrel(id(0x0101)))?)
                    .await?;
                self.wait_for(timeout, |r| *r == Rx::Pubcomp(0x0101))
                    .await
                    .map_err(|e| e.fail("MQTT-4.3.3-2", "waiting for PUBCOMP"))?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Acknowledges a received QoS 1 / 2 message (as receiver).
    pub async fn ack(&mut self, m: &Message, timeout: Duration) -> Result<(), Failure> {
        let Some(pid) = m.packet_id else {
            return Ok(());
        };
        match m.qos {
            1 => self.send(&simple_bytes(PacketBody::Puback(id(pid)))?).await,
            2 => {
                self.send(&simple_bytes(PacketBody::Pubrec(id(pid)))?)
                    .await?;
                self.wait_for(timeout, |r| *r == Rx::Pubrel(pid))
                    .await
                    .map_err(|e| e.fail("MQTT-4.3.3-1", "waiting for PUBREL"))?;
                self.send(&simple_bytes(PacketBody::Pubcomp(id(pid)))?)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// PINGREQ → PINGRESP.
    pub async fn ping(&mut self, timeout: Duration) -> Result<(), Failure> {
        self.send(&simple_bytes(PacketBody::Pingreq)?).await?;
        self.wait_for(timeout, |r| *r == Rx::Pingresp)
            .await
            .map_err(|e| e.fail("MQTT-3.12.4-1", "waiting for PINGRESP"))?;
        Ok(())
    }

    /// Sends DISCONNECT and closes.
    pub async fn disconnect(mut self) {
        if let Ok(b) = simple_bytes(PacketBody::Disconnect) {
            let _ = self.peer.send(&b).await;
        }
        self.peer.close().await;
    }

    /// Closes the network connection without DISCONNECT.
    pub async fn drop_connection(self) {
        self.peer.note("closing without DISCONNECT");
        self.peer.close().await;
    }

    /// Reads whatever the broker sends until it closes or `within` passes.
    pub async fn reaction(&mut self, within: Duration) -> Reaction {
        let mut r = Reaction::default();
        let end = Instant::now() + within;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.peer.note(format!(
                    "still open {} ms after the crafted input",
                    within.as_millis()
                ));
                return r;
            }
            match self.recv(left).await {
                Ok(p) => r.packets.push(p),
                Err(RxError::Closed) | Err(RxError::Io(_)) => {
                    r.closed = true;
                    return r;
                }
                Err(RxError::Timeout) => {}
                Err(RxError::Malformed(m, c)) => {
                    // Nothing more to parse; only the close matters now.
                    r.malformed = Some((m, c));
                    r.closed = self.peer.expect_close(left).await;
                    return r;
                }
            }
        }
    }
}
