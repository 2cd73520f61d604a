//! The session state machine: one per client, across any number of connections.

use alloc::collections::{BTreeSet, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use ferrocom_wire::codec::Decoded;
use ferrocom_wire::mqtt311::{
    Connect, ConnectFlags, ConnectReturnCode, Packet, PacketBody, PacketId, Publish, PublishHeader,
    SubAckCode, Subscribe, Subscription, Unsubscribe,
};

use super::error::{PublishError, SessionError};
use super::event::{Event, Message, SubscribeOutcome};
use super::options::{Options, QoS};
use super::{Millis, valid_topic_filter, valid_topic_name};

/// MQTT's largest remaining length (four varint bytes, [MQTT-2.2.3]).
const MAX_REMAINING: usize = 268_435_455;
/// Incoming QoS 2 ids released (PUBCOMP sent) that are remembered per connection.
const RELEASED_KEPT: usize = 1024;

/// Names one [`Session::publish`] request in later [`Event::Written`] and
/// [`Event::Acknowledged`] events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No network connection.
    Down,
    /// CONNECT queued or sent, CONNACK due by this time.
    AwaitConnack(Millis),
    /// CONNACK accepted.
    Up,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Puback,
    Pubrec,
    Pubcomp,
}

#[derive(Debug)]
struct OutMsg {
    token: Token,
    topic: String,
    payload: Vec<u8>,
    qos: QoS,
    retain: bool,
}

/// An outgoing QoS 1 or 2 message holding a packet id.
#[derive(Debug)]
struct InFlight {
    id: u16,
    msg: OutMsg,
    stage: Stage,
    /// Handed to the transport on the current connection.
    sent: bool,
    /// Handed to the transport on any connection (later PUBLISHes carry DUP).
    written: bool,
}

#[derive(Debug)]
enum Request {
    Subscribe {
        id: u16,
        filters: Vec<(String, QoS)>,
    },
    Unsubscribe {
        id: u16,
        filters: Vec<String>,
    },
}

impl Request {
    fn id(&self) -> u16 {
        match self {
            Request::Subscribe { id, .. } | Request::Unsubscribe { id, .. } => *id,
        }
    }
}

/// The MQTT 3.1.1 client session (see the [module docs](super)).
#[derive(Debug)]
pub struct Session {
    opts: Options,
    link: Link,
    /// Received bytes not yet forming a whole packet.
    rx: Vec<u8>,
    /// Encoded control packets (CONNECT, acknowledgements, PINGREQ, SUBSCRIBE, ...).
    tx: Vec<u8>,
    inflight: VecDeque<InFlight>,
    /// Some in-flight message is not sent on this connection yet (after a reconnect).
    resend: bool,
    queue: VecDeque<OutMsg>,
    requests: Vec<Request>,
    /// Packet ids of incoming QoS 2 messages delivered and awaiting PUBREL.
    incoming_qos2: BTreeSet<u16>,
    /// Incoming QoS 2 ids released on this connection (latest last).
    released: VecDeque<u16>,
    /// Ids released on the previous connection whose PUBCOMP the broker may not have
    /// processed. A broker that restores its session from disk after a crash can
    /// re-send such a message as PUBLISH with DUP instead of PUBREL (mosquitto 2.0 does,
    /// against [MQTT-4.3.3-1]); a DUP PUBLISH reusing one of these ids is taken as that
    /// repeat and acknowledged without delivering it again. A first attempt (DUP = 0)
    /// with the id removes it from this set, so a new message is never mistaken for one.
    released_prev: BTreeSet<u16>,
    next_id: u16,
    next_token: u64,
    events: VecDeque<Event>,
    last_tx: Millis,
    ping_deadline: Option<Millis>,
    /// An encoding failure of a packet the session built, reported by the next call.
    encode_failure: Option<String>,
}

impl Session {
    /// A session with these options, not connected.
    pub fn new(opts: Options) -> Self {
        Session {
            opts,
            link: Link::Down,
            rx: Vec::new(),
            tx: Vec::new(),
            inflight: VecDeque::new(),
            resend: false,
            queue: VecDeque::new(),
            requests: Vec::new(),
            incoming_qos2: BTreeSet::new(),
            released: VecDeque::new(),
            released_prev: BTreeSet::new(),
            next_id: 0,
            next_token: 0,
            events: VecDeque::new(),
            last_tx: 0,
            ping_deadline: None,
            encode_failure: None,
        }
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// CONNACK accepted the current connection.
    pub fn is_connected(&self) -> bool {
        self.link == Link::Up
    }

    /// Outgoing QoS 1 / 2 messages awaiting acknowledgement.
    pub fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    /// Messages waiting for a connection or a free in-flight slot.
    pub fn queued_len(&self) -> usize {
        self.queue.len()
    }

    /// A new network connection is open: queues CONNECT. Unacknowledged messages are
    /// sent again once CONNACK arrives.
    pub fn connect(&mut self, now: Millis) -> Result<(), SessionError> {
        self.connection_lost();
        let o = &self.opts;
        let will = o.will.as_ref();
        let p = Packet {
            body: PacketBody::Connect(Connect {
                level: 4,
                flags: ConnectFlags {
                    username: o.username.is_some(),
                    password: o.username.is_some() && o.password.is_some(),
                    will_retain: will.is_some_and(|w| w.retain),
                    will_qos: will.map_or(0, |w| w.qos as u8),
                    will: will.is_some(),
                    clean_session: o.clean_session,
                },
                keep_alive: o.keep_alive_secs,
                client_id: &o.client_id,
                will_topic: will.map(|w| w.topic.as_str()),
                will_message: will.map(|w| w.payload.as_slice()),
                username: o.username.as_deref(),
                password: o.username.as_ref().and(o.password.as_deref()),
            }),
        };
        p.encode(&mut self.tx)
            .map_err(|e| SessionError::Encode(e.to_string()))?;
        self.link = Link::AwaitConnack(now.saturating_add(self.opts.response_timeout));
        Ok(())
    }

    /// The network connection ended (closed, failed, or dropped after an error). State
    /// that outlives connections is kept: in-flight and queued messages, pending
    /// SUBSCRIBE / UNSUBSCRIBE requests, incoming QoS 2 packet ids.
    pub fn connection_lost(&mut self) {
        self.link = Link::Down;
        self.rx.clear();
        self.tx.clear();
        self.ping_deadline = None;
        for f in &mut self.inflight {
            f.sent = false;
        }
        self.resend = !self.inflight.is_empty();
        if !self.released.is_empty() {
            self.released_prev = self.released.drain(..).collect();
        }
    }

    /// Queues DISCONNECT (the broker then discards the will, [MQTT-3.14.4-3]). Close the
    /// connection after transmitting it.
    pub fn disconnect(&mut self) {
        if self.link == Link::Up {
            self.put(&Packet {
                body: PacketBody::Disconnect,
            });
        }
    }

    /// Queues a message. QoS 0 goes out as soon as a connection is up; QoS 1 and 2
    /// also wait for a free in-flight slot. Order is kept.
    pub fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<Token, PublishError> {
        if !valid_topic_name(topic) {
            return Err(PublishError::InvalidTopic(topic.into()));
        }
        let len = 2 + topic.len() + 2 + payload.len();
        if len > MAX_REMAINING {
            return Err(PublishError::TooLarge(len));
        }
        let token = Token(self.next_token);
        self.next_token += 1;
        self.queue.push_back(OutMsg {
            token,
            topic: topic.into(),
            payload: payload.to_vec(),
            qos,
            retain,
        });
        Ok(token)
    }

    /// Subscribes to `filters`; returns the packet id that [`Event::Subscribed`] will
    /// carry. Sent now if connected, else on the next connection.
    pub fn subscribe(&mut self, filters: &[(&str, QoS)]) -> Result<u16, PublishError> {
        if filters.is_empty() {
            return Err(PublishError::NoFilters);
        }
        if let Some((f, _)) = filters.iter().find(|(f, _)| !valid_topic_filter(f)) {
            return Err(PublishError::InvalidFilter((*f).into()));
        }
        let id = self.alloc_id();
        let filters = filters.iter().map(|(f, q)| ((*f).into(), *q)).collect();
        self.requests.push(Request::Subscribe { id, filters });
        if self.link == Link::Up {
            self.send_request(self.requests.len() - 1);
        }
        Ok(id)
    }

    /// Unsubscribes from `filters`; returns the packet id of [`Event::Unsubscribed`].
    pub fn unsubscribe(&mut self, filters: &[&str]) -> Result<u16, PublishError> {
        if filters.is_empty() {
            return Err(PublishError::NoFilters);
        }
        if let Some(f) = filters.iter().find(|f| !valid_topic_filter(f)) {
            return Err(PublishError::InvalidFilter((*f).into()));
        }
        let id = self.alloc_id();
        let filters = filters.iter().map(|f| (*f).into()).collect();
        self.requests.push(Request::Unsubscribe { id, filters });
        if self.link == Link::Up {
            self.send_request(self.requests.len() - 1);
        }
        Ok(id)
    }

    /// Bytes from the broker. On an error the connection must be closed (then
    /// [`connection_lost`](Self::connection_lost)); events before the error stay
    /// available.
    pub fn handle_input(&mut self, bytes: &[u8], now: Millis) -> Result<(), SessionError> {
        self.take_encode_failure()?;
        if self.link == Link::Down {
            return Err(SessionError::Protocol {
                clause: "MQTT-3.1.0-1",
                detail: "bytes from the broker before CONNECT was sent".into(),
            });
        }
        if self.rx.is_empty() {
            let used = self.decode_all(bytes, now)?;
            self.rx.extend_from_slice(&bytes[used..]);
        } else {
            let mut buf = core::mem::take(&mut self.rx);
            buf.extend_from_slice(bytes);
            let r = self.decode_all(&buf, now);
            if let Ok(used) = r {
                buf.drain(..used);
                self.rx = buf;
            }
            r?;
        }
        self.take_encode_failure()
    }

    /// Decodes whole packets from `buf`; returns the bytes consumed.
    fn decode_all(&mut self, buf: &[u8], now: Millis) -> Result<usize, SessionError> {
        let mut at = 0;
        while at < buf.len() {
            match Packet::decode(&buf[at..]) {
                Ok(Decoded::Complete(p, used)) => {
                    at += used;
                    self.on_packet(p, now)?;
                }
                Ok(Decoded::Incomplete(_)) => break,
                Err(e) => return Err(SessionError::Malformed(e)),
            }
        }
        Ok(at)
    }

    /// Appends bytes to send to `out`: control packets first, then in-flight messages
    /// to (re)send, then queued messages while in-flight slots are free.
    pub fn poll_transmit(&mut self, now: Millis, out: &mut Vec<u8>) {
        let start = out.len();
        if self.link == Link::Down {
            return;
        }
        out.append(&mut self.tx);
        if self.link == Link::Up {
            if self.resend {
                self.resend = false;
                for i in 0..self.inflight.len() {
                    if !self.inflight[i].sent {
                        self.send_inflight(i, out);
                    }
                }
            }
            let max = self.opts.max_inflight.max(1);
            while let Some(front) = self.queue.front() {
                if front.qos != QoS::AtMostOnce && self.inflight.len() >= max {
                    break;
                }
                let Some(msg) = self.queue.pop_front() else {
                    break;
                };
                if msg.qos == QoS::AtMostOnce {
                    let token = msg.token;
                    if self.encode_publish(&msg, None, false, out) {
                        self.events.push_back(Event::Written(token));
                        self.events.push_back(Event::Acknowledged(token));
                    }
                } else {
                    let id = self.alloc_id();
                    let stage = if msg.qos == QoS::AtLeastOnce {
                        Stage::Puback
                    } else {
                        Stage::Pubrec
                    };
                    self.inflight.push_back(InFlight {
                        id,
                        msg,
                        stage,
                        sent: false,
                        written: false,
                    });
                    self.send_inflight(self.inflight.len() - 1, out);
                }
            }
        }
        if out.len() > start {
            self.last_tx = now;
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due next, if ever.
    pub fn poll_timeout(&self) -> Option<Millis> {
        match self.link {
            Link::Down => None,
            Link::AwaitConnack(deadline) => Some(deadline),
            Link::Up => self.ping_deadline.or_else(|| {
                (self.opts.keep_alive_secs > 0).then(|| {
                    self.last_tx
                        .saturating_add(u64::from(self.opts.keep_alive_secs) * 1000)
                })
            }),
        }
    }

    /// Time passed: sends PINGREQ when the keep-alive interval went by without sending
    /// anything; fails when CONNACK or PINGRESP is overdue.
    pub fn handle_timeout(&mut self, now: Millis) -> Result<(), SessionError> {
        match self.link {
            Link::Down => Ok(()),
            Link::AwaitConnack(deadline) if now >= deadline => Err(SessionError::ConnackTimeout),
            Link::AwaitConnack(_) => Ok(()),
            Link::Up => {
                if let Some(deadline) = self.ping_deadline {
                    if now >= deadline {
                        return Err(SessionError::PingTimeout);
                    }
                } else if let Some(due) = self.poll_timeout()
                    && now >= due
                {
                    self.put(&Packet {
                        body: PacketBody::Pingreq,
                    });
                    self.ping_deadline = Some(now.saturating_add(self.opts.response_timeout));
                }
                self.take_encode_failure()
            }
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // -----------------------------------------------------------------------------------

    fn take_encode_failure(&mut self) -> Result<(), SessionError> {
        match self.encode_failure.take() {
            Some(e) => Err(SessionError::Encode(e)),
            None => Ok(()),
        }
    }

    /// Encodes a packet the session built into the control buffer.
    fn put(&mut self, p: &Packet<'_>) {
        if let Err(e) = p.encode(&mut self.tx) {
            // Everything the session encodes was validated when requested; a failure
            // here is a bug, reported as an error rather than a panic.
            self.encode_failure = Some(e.to_string());
        }
    }

    fn encode_publish(
        &mut self,
        m: &OutMsg,
        id: Option<u16>,
        dup: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        let p = Packet {
            body: PacketBody::Publish(Publish {
                header: PublishHeader {
                    dup,
                    qos: m.qos as u8,
                    retain: m.retain,
                },
                topic: &m.topic,
                packet_id: id,
                payload: &m.payload,
            }),
        };
        match p.encode(out) {
            Ok(_) => true,
            Err(e) => {
                self.encode_failure = Some(e.to_string());
                false
            }
        }
    }

    /// Sends in-flight entry `i`: PUBLISH (DUP if written before) or, past PUBREC,
    /// PUBREL.
    fn send_inflight(&mut self, i: usize, out: &mut Vec<u8>) {
        let Some(f) = self.inflight.get_mut(i) else {
            return;
        };
        f.sent = true;
        if f.stage == Stage::Pubcomp {
            let id = f.id;
            let p = Packet {
                body: PacketBody::Pubrel(PacketId { id }),
            };
            if let Err(e) = p.encode(out) {
                self.encode_failure = Some(e.to_string());
            }
            return;
        }
        let first = !f.written;
        f.written = true;
        let (id, token) = (f.id, f.msg.token);
        let msg = core::mem::replace(
            &mut f.msg,
            OutMsg {
                token,
                topic: String::new(),
                payload: Vec::new(),
                qos: QoS::AtMostOnce,
                retain: false,
            },
        );
        self.encode_publish(&msg, Some(id), !first, out);
        if let Some(f) = self.inflight.get_mut(i) {
            f.msg = msg;
        }
        if first {
            self.events.push_back(Event::Written(token));
        }
    }

    fn send_request(&mut self, i: usize) {
        let Some(r) = self.requests.get(i) else {
            return;
        };
        let p = match r {
            Request::Subscribe { id, filters } => Packet {
                body: PacketBody::Subscribe(Subscribe {
                    packet_id: *id,
                    filters: filters
                        .iter()
                        .map(|(topic, q)| Subscription {
                            topic,
                            qos: *q as u8,
                        })
                        .collect(),
                }),
            },
            Request::Unsubscribe { id, filters } => Packet {
                body: PacketBody::Unsubscribe(Unsubscribe {
                    packet_id: *id,
                    filters: filters.iter().map(String::as_str).collect(),
                }),
            },
        };
        if let Err(e) = p.encode(&mut self.tx) {
            self.encode_failure = Some(e.to_string());
        }
    }

    /// A packet id (1..=65535) not used by an in-flight message or pending request.
    fn alloc_id(&mut self) -> u16 {
        loop {
            self.next_id = self.next_id.wrapping_add(1);
            if self.next_id == 0 {
                continue;
            }
            let id = self.next_id;
            // At most max_inflight + pending requests ids are in use, far below 65535,
            // so the loop ends.
            if !self.inflight.iter().any(|f| f.id == id)
                && !self.requests.iter().any(|r| r.id() == id)
            {
                return id;
            }
        }
    }

    fn protocol(clause: &'static str, detail: String) -> SessionError {
        SessionError::Protocol { clause, detail }
    }

    fn on_packet(&mut self, p: Packet<'_>, _now: Millis) -> Result<(), SessionError> {
        if let Link::AwaitConnack(_) = self.link {
            let PacketBody::Connack(c) = &p.body else {
                return Err(Self::protocol(
                    "MQTT-3.2.0-1",
                    format!(
                        "the broker's first packet is {}, not CONNACK",
                        body_name(&p.body)
                    ),
                ));
            };
            if c.return_code != ConnectReturnCode::ACCEPTED {
                return Err(SessionError::Refused(c.return_code));
            }
            let present = c.flags.session_present;
            if self.opts.clean_session && present {
                return Err(Self::protocol(
                    "MQTT-3.2.2-1",
                    "CONNACK has Session Present set for a clean session".into(),
                ));
            }
            self.link = Link::Up;
            if !present {
                // The broker holds no session: its PUBREL for old ids will not come.
                self.incoming_qos2.clear();
                self.released_prev.clear();
            }
            for i in 0..self.requests.len() {
                self.send_request(i);
            }
            self.events.push_back(Event::Connected {
                session_present: present,
            });
            return Ok(());
        }
        match p.body {
            PacketBody::Connack(_) => Err(Self::protocol(
                "MQTT-3.2.0-1",
                "a second CONNACK on one connection".into(),
            )),
            PacketBody::Publish(m) => {
                if !valid_topic_name(m.topic) {
                    return Err(Self::protocol(
                        "MQTT-3.3.2-2",
                        format!("PUBLISH with invalid topic name {:?}", m.topic),
                    ));
                }
                let qos = QoS::from_u8(m.header.qos)
                    .ok_or_else(|| Self::protocol("MQTT-3.3.1-4", "PUBLISH with QoS 3".into()))?;
                let deliver = match (qos, m.packet_id) {
                    (QoS::AtMostOnce, _) => true,
                    (QoS::AtLeastOnce, Some(id)) => {
                        self.put(&Packet {
                            body: PacketBody::Puback(PacketId { id }),
                        });
                        true
                    }
                    (QoS::ExactlyOnce, Some(id)) => {
                        self.put(&Packet {
                            body: PacketBody::Pubrec(PacketId { id }),
                        });
                        let repeat = if m.header.dup {
                            self.released_prev.contains(&id)
                        } else {
                            self.released_prev.remove(&id);
                            false
                        };
                        self.incoming_qos2.insert(id) && !repeat
                    }
                    (_, None) => {
                        return Err(Self::protocol(
                            "MQTT-2.3.1-5",
                            "QoS 1/2 PUBLISH without packet id".into(),
                        ));
                    }
                };
                if deliver {
                    self.events.push_back(Event::Message(Message {
                        topic: m.topic.to_string(),
                        payload: m.payload.to_vec(),
                        qos,
                        retain: m.header.retain,
                        dup: m.header.dup,
                    }));
                }
                Ok(())
            }
            PacketBody::Puback(PacketId { id }) => {
                let i = self.find(id, Stage::Puback, "PUBACK")?;
                self.complete(i);
                Ok(())
            }
            PacketBody::Pubrec(PacketId { id }) => {
                let i = match self.inflight.iter().position(|f| f.id == id) {
                    Some(i) if self.inflight[i].stage != Stage::Puback => i,
                    _ => {
                        return Err(Self::protocol(
                            "MQTT-4.3.3",
                            format!(
                                "PUBREC for packet id {id}, which is no QoS 2 message in flight"
                            ),
                        ));
                    }
                };
                // A repeated PUBREC (after PUBREL was sent) is answered with PUBREL again.
                self.inflight[i].stage = Stage::Pubcomp;
                self.put(&Packet {
                    body: PacketBody::Pubrel(PacketId { id }),
                });
                Ok(())
            }
            PacketBody::Pubcomp(PacketId { id }) => {
                let i = self.find(id, Stage::Pubcomp, "PUBCOMP")?;
                self.complete(i);
                Ok(())
            }
            PacketBody::Pubrel(PacketId { id }) => {
                // Answered also for an unknown id: the PUBCOMP may have been lost with an
                // earlier connection ([MQTT-4.3.3-2] from the receiver's side).
                if self.incoming_qos2.remove(&id) {
                    if self.released.len() == RELEASED_KEPT {
                        self.released.pop_front();
                    }
                    self.released.push_back(id);
                }
                self.put(&Packet {
                    body: PacketBody::Pubcomp(PacketId { id }),
                });
                Ok(())
            }
            PacketBody::Suback(s) => {
                let pos = self
                    .requests
                    .iter()
                    .position(|r| matches!(r, Request::Subscribe { id, .. } if *id == s.packet_id));
                let Some(i) = pos else {
                    return Err(Self::protocol(
                        "MQTT-3.8.4-1",
                        format!("SUBACK for packet id {}, which awaits none", s.packet_id),
                    ));
                };
                let Request::Subscribe { filters, .. } = &self.requests[i] else {
                    return Ok(());
                };
                if filters.len() != s.return_codes.len() {
                    return Err(Self::protocol(
                        "MQTT-3.9.3-1",
                        format!(
                            "SUBACK has {} return codes for {} topic filters",
                            s.return_codes.len(),
                            filters.len()
                        ),
                    ));
                }
                let mut outcomes = Vec::with_capacity(filters.len());
                for c in &s.return_codes {
                    outcomes.push(match *c {
                        SubAckCode::FAILURE => SubscribeOutcome::Failed,
                        c => match QoS::from_u8(c.0) {
                            Some(q) => SubscribeOutcome::Granted(q),
                            None => {
                                return Err(Self::protocol(
                                    "MQTT-3.9.3-2",
                                    format!("SUBACK with reserved return code 0x{:02X}", c.0),
                                ));
                            }
                        },
                    });
                }
                self.requests.remove(i);
                self.events.push_back(Event::Subscribed {
                    packet_id: s.packet_id,
                    outcomes,
                });
                Ok(())
            }
            PacketBody::Unsuback(PacketId { id }) => {
                let pos = self
                    .requests
                    .iter()
                    .position(|r| matches!(r, Request::Unsubscribe { id: i, .. } if *i == id));
                let Some(i) = pos else {
                    return Err(Self::protocol(
                        "MQTT-3.10.4-4",
                        format!("UNSUBACK for packet id {id}, which awaits none"),
                    ));
                };
                self.requests.remove(i);
                self.events.push_back(Event::Unsubscribed { packet_id: id });
                Ok(())
            }
            PacketBody::Pingresp => {
                self.ping_deadline = None;
                Ok(())
            }
            body @ (PacketBody::Connect(_)
            | PacketBody::Subscribe(_)
            | PacketBody::Unsubscribe(_)
            | PacketBody::Pingreq
            | PacketBody::Disconnect) => Err(Self::protocol(
                "MQTT-2.2.1",
                format!(
                    "the broker sent {}, a packet only clients send",
                    body_name(&body)
                ),
            )),
        }
    }

    fn find(&self, id: u16, stage: Stage, what: &str) -> Result<usize, SessionError> {
        self.inflight
            .iter()
            .position(|f| f.id == id && f.stage == stage)
            .ok_or_else(|| {
                Self::protocol(
                    "MQTT-4.3",
                    format!("{what} for packet id {id}, which awaits no {what}"),
                )
            })
    }

    fn complete(&mut self, i: usize) {
        if let Some(f) = self.inflight.remove(i) {
            self.events.push_back(Event::Acknowledged(f.msg.token));
        }
    }
}

fn body_name(b: &PacketBody<'_>) -> &'static str {
    match b {
        PacketBody::Connect(_) => "CONNECT",
        PacketBody::Connack(_) => "CONNACK",
        PacketBody::Publish(_) => "PUBLISH",
        PacketBody::Puback(_) => "PUBACK",
        PacketBody::Pubrec(_) => "PUBREC",
        PacketBody::Pubrel(_) => "PUBREL",
        PacketBody::Pubcomp(_) => "PUBCOMP",
        PacketBody::Subscribe(_) => "SUBSCRIBE",
        PacketBody::Suback(_) => "SUBACK",
        PacketBody::Unsubscribe(_) => "UNSUBSCRIBE",
        PacketBody::Unsuback(_) => "UNSUBACK",
        PacketBody::Pingreq => "PINGREQ",
        PacketBody::Pingresp => "PINGRESP",
        PacketBody::Disconnect => "DISCONNECT",
    }
}
