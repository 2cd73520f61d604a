//! The sans-I/O Iotellect session engine driven deterministically: a server and an agent
//! session wired together in memory with a simulated clock, hand-made peers for the
//! cases a well-behaved engine never produces, and proptest runs that feed the same
//! conversation in random chunkings and arbitrary or mutated bytes.
#![cfg(feature = "iotellect")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;

use ferrocom_runtime::iotellect::{
    Config, Event, ListenerSpec, Millis, Operation, OutgoingEvent, Refusal, ReplyCode, Request,
    RequestError, RequestId, Response, Session, SessionError, Version,
};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iotellect::{BinaryFrame, BodyKind, Command, V2Frame};
use proptest::prelude::*;

/// The bytes written as hex.
fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
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

/// `M/1/S/4`-style text with `/` standing for the separator 0x17.
fn cmd(text: &str) -> Vec<u8> {
    text.bytes()
        .map(|b| if b == b'/' { 0x17 } else { b })
        .collect()
}

/// What a peer wrote, frame by frame: (binary?, kind, command bytes).
fn frames(mut bytes: &[u8]) -> Vec<(bool, BodyKind, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if let Ok(Decoded::Complete(f, used)) = BinaryFrame::decode(bytes) {
            out.push((true, f.kind, f.body.into_owned()));
            bytes = &bytes[used..];
        } else if let Ok(Decoded::Complete(f, used)) = V2Frame::decode(bytes) {
            out.push((false, BodyKind::RAW, f.command.to_vec()));
            bytes = &bytes[used..];
        } else {
            panic!("not a whole frame: {bytes:02x?}");
        }
    }
    out
}

fn commands(bytes: &[u8]) -> Vec<Vec<u8>> {
    frames(bytes).into_iter().map(|(_, _, c)| c).collect()
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn out(s: &mut Session) -> Vec<u8> {
    let mut o = Vec::new();
    s.poll_transmit(&mut o);
    o
}

/// A server and an agent joined in memory.
struct Pair {
    server: Session,
    agent: Session,
    now: Millis,
    /// Every byte each side wrote, for inspection.
    server_wrote: Vec<u8>,
    agent_wrote: Vec<u8>,
}

impl Pair {
    fn new(server: Config, agent: Config) -> Pair {
        Pair {
            server: Session::new(server, 0),
            agent: Session::new(agent, 0),
            now: 0,
            server_wrote: Vec::new(),
            agent_wrote: Vec::new(),
        }
    }

    fn started() -> Pair {
        let mut p = Pair::new(Config::server(), Config::agent());
        p.pump();
        assert!(p.server.is_started() && p.agent.is_started());
        events(&mut p.server);
        events(&mut p.agent);
        p
    }

    /// Moves bytes both ways until neither side has anything to say.
    fn pump(&mut self) {
        loop {
            let a = out(&mut self.server);
            let b = out(&mut self.agent);
            if a.is_empty() && b.is_empty() {
                return;
            }
            self.server_wrote.extend_from_slice(&a);
            self.agent_wrote.extend_from_slice(&b);
            self.agent.handle_input(&a, self.now).unwrap();
            self.server.handle_input(&b, self.now).unwrap();
        }
    }

    fn advance(&mut self, ms: Millis) {
        self.now += ms;
        self.server.handle_timeout(self.now).unwrap();
        self.agent.handle_timeout(self.now).unwrap();
        self.pump();
    }
}

fn requests(evs: &[Event]) -> Vec<Request> {
    evs.iter()
        .filter_map(|e| match e {
            Event::Request(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn response(evs: &[Event], want: RequestId) -> Response {
    evs.iter()
        .find_map(|e| match e {
            Event::Response { id, response } if *id == want => Some(response.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no response to {want:?} in {evs:?}"))
}

// ---- Start ---------------------------------------------------------------------------

#[test]
fn start_is_the_reference_exchange_and_both_ends_switch_to_v4_with_compression() {
    let mut p = Pair::new(Config::server(), Config::agent());
    // Reference §6 example 6, byte for byte.
    let start = out(&mut p.server);
    assert_eq!(start, hex("02 4d 17 31 17 53 17 34 0d"));
    p.agent.handle_input(&start, 0).unwrap();
    let reply = out(&mut p.agent);
    assert_eq!(reply, hex("02 52 17 31 17 41 17 34 17 43 0d"));
    assert_eq!(
        events(&mut p.agent),
        vec![Event::Started {
            version: Version::V4,
            compression: true
        }]
    );
    p.server.handle_input(&reply, 0).unwrap();
    assert_eq!(
        events(&mut p.server),
        vec![Event::Started {
            version: Version::V4,
            compression: true
        }]
    );
    for s in [&p.server, &p.agent] {
        assert_eq!((s.version(), s.compression()), (Version::V4, true));
    }
    // From now on both write V4 frames (reference §6 example 12 for the get).
    p.server.get_variable("", "date", 0).unwrap();
    assert_eq!(
        out(&mut p.server),
        hex("02 00 00 00 0e 00 4d 17 32 17 4f 17 47 17 17 64 61 74 65 0d")
    );
}

#[test]
fn the_server_tries_4_then_3_then_2_until_accepted() {
    let agent = Config {
        max_version: Version::V2,
        ..Config::agent()
    };
    let mut p = Pair::new(Config::server(), agent);
    p.pump();
    assert_eq!(
        commands(&p.server_wrote),
        vec![cmd("M/1/S/4"), cmd("M/2/S/3"), cmd("M/3/S/2")]
    );
    let replies = commands(&p.agent_wrote);
    assert!(replies[0].starts_with(&cmd("R/1/D/")), "{replies:?}");
    assert!(replies[1].starts_with(&cmd("R/2/D/")));
    // V2 does not compress, so no `C`.
    assert_eq!(replies[2], cmd("R/3/A/2"));
    assert!(p.server.is_started());
    assert_eq!(p.server.version(), Version::V2);
    assert!(!p.server.compression());
    // Every frame, also after Start, is a V2 frame.
    p.server.get_variable("", "v", 0).unwrap();
    let f = frames(&out(&mut p.server));
    assert!(!f[0].0, "V2 after negotiating 2");
}

#[test]
fn a_peer_refusing_every_version_ends_the_link() {
    let mut s = Session::new(Config::server(), 0);
    assert_eq!(commands(&out(&mut s)), vec![cmd("M/1/S/4")]);
    s.handle_input(&v2(&cmd("R/1/D/no")), 0).unwrap();
    assert_eq!(commands(&out(&mut s)), vec![cmd("M/2/S/3")]);
    s.handle_input(&v2(&cmd("R/2/D/no")), 0).unwrap();
    assert_eq!(commands(&out(&mut s)), vec![cmd("M/3/S/2")]);
    let e = s.handle_input(&v2(&cmd("R/3/D/no")), 0).unwrap_err();
    assert!(
        matches!(
            e,
            SessionError::StartRefused {
                version: Version::V2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("no (D)"), "{e}");
    assert!(!s.is_started());
    // A reply accepting a version that was not proposed is an error too.
    let mut s = Session::new(Config::server(), 0);
    s.handle_input(&v2(&cmd("R/1/D/no")), 0).unwrap();
    let e = s.handle_input(&v2(&cmd("R/2/A/4")), 0).unwrap_err();
    assert!(matches!(e, SessionError::BadStartReply(_)), "{e}");
}

#[test]
fn the_agent_refuses_unknown_versions_and_takes_empty_as_2() {
    let mut a = Session::new(Config::agent(), 0);
    a.handle_input(&v2(&cmd("M/1/S/7")), 0).unwrap();
    let o = commands(&out(&mut a));
    assert_eq!(o.len(), 1);
    assert!(o[0].starts_with(&cmd("R/1/D/unsupported protocol version")));
    assert!(!a.is_started());
    let evs = events(&mut a);
    assert!(matches!(
        &evs[0],
        Event::Refused {
            code: Some(ReplyCode::Denied),
            ..
        }
    ));

    // `M/2/S/` (empty version) and `M/3/S` (none) both mean version 2.
    a.handle_input(&v2(&cmd("M/2/S/")), 0).unwrap();
    assert_eq!(commands(&out(&mut a)), vec![cmd("R/2/A/2")]);
    a.handle_input(&v2(&cmd("M/3/S")), 0).unwrap();
    assert_eq!(commands(&out(&mut a)), vec![cmd("R/3/A/2")]);
    assert_eq!(a.version(), Version::V2);
}

#[test]
fn messages_before_start_are_denied_and_events_dropped() {
    let mut a = Session::new(Config::agent(), 0);
    a.handle_input(&v2(&cmd("M/5/O/G//date")), 0).unwrap();
    assert_eq!(
        commands(&out(&mut a)),
        vec![cmd("R/5/D/Start not received yet")]
    );
    a.handle_input(&v2(&cmd("M//E//ev/1/5/12345//1700000000123")), 0)
        .unwrap();
    assert!(out(&mut a).is_empty(), "events are never replied to");
    let evs = events(&mut a);
    assert_eq!(evs.len(), 2);
    assert!(requests(&evs).is_empty());
    assert!(matches!(&evs[1], Event::Refused { code: None, .. }));
    // And our own requests wait for Start too.
    assert_eq!(a.get_variable("", "x", 0), Err(RequestError::NotStarted));
}

#[test]
fn the_receiver_parses_v4_right_after_start_and_writes_v2_until_its_reply_is_out() {
    let mut a = Session::new(Config::agent(), 0);
    // Start and a V4 get in one chunk: the get must be parsed with the new framing.
    let mut input = v2(&cmd("M/1/S/4"));
    input.extend(binary(&cmd("M/2/O/G//date"), BodyKind::RAW));
    a.handle_input(&input, 0).unwrap();
    let evs = events(&mut a);
    let reqs = requests(&evs);
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].operation,
        Operation::GetVariable {
            context: String::new(),
            variable: "date".into()
        }
    );
    a.reply("2", &[b"\x1cR\x1e\x1c42\x1d\x1d"]).unwrap();
    let f = frames(&out(&mut a));
    assert_eq!(f.len(), 2);
    assert!(!f[0].0, "the Start reply is a V2 frame");
    assert_eq!(f[0].2, cmd("R/1/A/4/C"));
    assert!(f[1].0, "the next reply is a V4 frame");
    assert_eq!(f[1].2, cmd("R/2/A/\x1cR\x1e\x1c42\x1d\x1d"));
}

#[test]
fn v2_skips_bytes_before_stx_and_restarts_at_a_new_stx() {
    let mut a = Session::new(Config::agent(), 0);
    let mut input = b"noise\r\n".to_vec();
    input.extend(b"\x02M\x17broken");
    input.extend(v2(&cmd("M/1/S/2")));
    input.extend(b"trailing garbage");
    input.extend(v2(&cmd("M/2/O/G//date")));
    a.handle_input(&input, 0).unwrap();
    assert_eq!(
        commands(&out(&mut a)),
        vec![cmd("R/1/A/2")],
        "the broken frame was discarded, not answered"
    );
    assert_eq!(requests(&events(&mut a)).len(), 1);
}

// ---- compression ---------------------------------------------------------------------

#[test]
fn commands_over_128_bytes_travel_compressed_only_when_negotiated() {
    let mut p = Pair::started();
    let small = vec![b'x'; 60];
    let big = vec![b'y'; 300];
    p.server.set_variable("", "s", &small, None, 0).unwrap();
    p.server.set_variable("", "b", &big, None, 0).unwrap();
    let wire = out(&mut p.server);
    let f = frames(&wire);
    assert_eq!(f[0].1, BodyKind::RAW);
    assert_eq!(f[1].1, BodyKind::ZLIB);
    assert!(f[1].2.len() > 128);
    assert!(wire.len() < 200, "300 bytes of y compress: {}", wire.len());
    p.agent.handle_input(&wire, 0).unwrap();
    let reqs = requests(&events(&mut p.agent));
    assert!(matches!(&reqs[1].operation, Operation::SetVariable { table, .. } if *table == big));

    // An agent that does not ask for compression gets none.
    let agent = Config {
        compression: false,
        ..Config::agent()
    };
    let mut q = Pair::new(Config::server(), agent);
    q.pump();
    assert!(!q.server.compression());
    q.server.set_variable("", "b", &big, None, 0).unwrap();
    assert_eq!(frames(&out(&mut q.server))[0].1, BodyKind::RAW);
}

#[test]
fn the_receiver_inflates_a_java_zlib_frame() {
    let mut a = Session::new(Config::agent(), 0);
    a.handle_input(&v2(&cmd("M/1/S/4")), 0).unwrap();
    // Reference §6 example 13: set variable `text` with a 160-character string.
    a.handle_input(
        &hex("02 00 00 00 23 01 78 9c f3 15 b7 14 f7 17 0f 16 17 2f 49 ad 28 11 97 09 92 93 49 4c 4a 4e 19 cc 58 56 16 00 9a 9e 41 ea 0d"),
        0,
    )
    .unwrap();
    let reqs = requests(&events(&mut a));
    let Operation::SetVariable {
        variable, table, ..
    } = &reqs[0].operation
    else {
        panic!("{reqs:?}");
    };
    assert_eq!(variable, "text");
    assert_eq!(table.len(), 166);
}

// ---- requests and replies ------------------------------------------------------------

#[test]
fn every_operation_round_trips_and_replies_find_their_requests() {
    let mut p = Pair::started();
    let get = p.server.get_variable("dev.exp", "temp", 0).unwrap();
    let set = p
        .server
        .set_variable(
            "dev.exp",
            "temp",
            b"\x1cR\x1e\x1c21.5\x1d\x1d",
            Some("q/1"),
            0,
        )
        .unwrap();
    let call = p
        .server
        .call_function("", "login", b"\x1cR\x1e\x1cabc\x1d\x1d", 0)
        .unwrap();
    let spec = ListenerSpec {
        context: "dev.exp".into(),
        event: "temp".into(),
        listener: Some(12345),
        filter: Some("a%b".into()),
        fingerprint: Some("fp".into()),
    };
    let add = p.server.add_listener(&spec, 0).unwrap();
    let remove = p.server.remove_listener(&spec, 0).unwrap();
    assert_eq!(p.server.pending_len(), 5);
    p.pump();
    let reqs = requests(&events(&mut p.agent));
    assert_eq!(reqs.len(), 5);
    assert_eq!(
        reqs[1].operation,
        Operation::SetVariable {
            context: "dev.exp".into(),
            variable: "temp".into(),
            table: b"\x1cR\x1e\x1c21.5\x1d\x1d".to_vec(),
            queue: Some("q/1".into()),
        }
    );
    assert!(
        matches!(&reqs[2].operation, Operation::CallFunction { function, flags: None, .. } if function == "login")
    );
    assert_eq!(reqs[3].operation, Operation::AddListener(spec.clone()));
    assert_eq!(reqs[4].operation, Operation::RemoveListener(spec));

    // Answer out of order; every reply reaches its own request.
    p.agent
        .refuse(
            &reqs[4].id,
            &Refusal {
                code: ReplyCode::Other("AG-10001".into()),
                message: "line1\rline2".into(),
                details: Some("d/e".into()),
            },
        )
        .unwrap();
    p.agent
        .reply(&reqs[0].id, &[b"\x1cR\x1e\x1c0.0\x1d\x1d"])
        .unwrap();
    p.agent.reply(&reqs[1].id, &[]).unwrap();
    p.agent.refuse(&reqs[2].id, &Refusal::denied("no")).unwrap();
    p.agent.reply(&reqs[3].id, &[]).unwrap();
    assert_eq!(
        p.agent.reply(&reqs[3].id, &[]),
        Err(RequestError::UnknownRequest(reqs[3].id.clone())),
        "answered once only"
    );
    p.pump();
    let evs = events(&mut p.server);
    assert_eq!(
        response(&evs, get),
        Response::Ok(vec![b"\x1cR\x1e\x1c0.0\x1d\x1d".to_vec()])
    );
    assert_eq!(response(&evs, set), Response::Ok(vec![]));
    assert_eq!(response(&evs, add), Response::Ok(vec![]));
    assert_eq!(
        response(&evs, call),
        Response::Refused(Refusal::denied("no"))
    );
    assert_eq!(
        response(&evs, remove),
        Response::Refused(Refusal {
            code: ReplyCode::Other("AG-10001".into()),
            message: "line1\rline2".into(),
            details: Some("d/e".into()),
        })
    );
    assert_eq!(p.server.pending_len(), 0);
}

#[test]
fn error_replies_decode_like_the_reference_example() {
    let mut s = Session::new(Config::server(), 0);
    s.handle_input(&v2(&cmd("R/1/A/2")), 0).unwrap();
    events(&mut s);
    for _ in 0..6 {
        s.get_variable("", "x", 0).unwrap();
    }
    let id = s.get_variable("", "x", 0).unwrap();
    assert_eq!(id, RequestId(8));
    // Reference §6 example 10 (the id 7 there; ours is 8).
    let mut wire = hex(
        "02 52 17 38 17 45 17 42 61 64 20 74 68 69 6e 67 17 6c 69 6e 65 31 25 24 6c 69 6e 65 32 0d",
    );
    wire.extend(v2(&cmd("R/99/A")));
    s.handle_input(&wire, 0).unwrap();
    let evs = events(&mut s);
    assert_eq!(
        response(&evs, id),
        Response::Refused(Refusal {
            code: ReplyCode::Error,
            message: "Bad thing".into(),
            details: Some("line1\rline2".into()),
        })
    );
    assert!(
        evs.iter()
            .any(|e| matches!(e, Event::Refused { id, code: None, .. } if id == "99")),
        "a reply to nothing is reported and dropped: {evs:?}"
    );
}

#[test]
fn events_reach_the_other_end() {
    let mut p = Pair::started();
    p.agent
        .send_event(&OutgoingEvent {
            context: "",
            event: "eventConfirmed",
            level: 1,
            event_id: "5",
            listener: "12345",
            data: b"\x1cR\x1e\x1c99\x1d\x1d",
            created: 1_700_000_000_123,
            server_id: None,
        })
        .unwrap();
    let wire = out(&mut p.agent);
    // Reference §6 example 11 inside a V4 frame.
    assert_eq!(
        commands(&wire),
        vec![hex(
            "4d 17 17 45 17 17 65 76 65 6e 74 43 6f 6e 66 69 72 6d 65 64 17 31 17 35 17 31 32 33 34 35 17 1c 52 1e 1c 39 39 1d 1d 17 31 37 30 30 30 30 30 30 30 30 31 32 33"
        )]
    );
    p.server.handle_input(&wire, 0).unwrap();
    let evs = events(&mut p.server);
    let Event::Event(e) = &evs[0] else {
        panic!("{evs:?}")
    };
    assert_eq!(
        (e.event.as_str(), e.level, e.listener.as_str()),
        ("eventConfirmed", 1, "12345")
    );
    assert_eq!(e.created, 1_700_000_000_123);
}

#[test]
fn a_call_without_reply_wanted_drops_the_answer() {
    let mut p = Pair::started();
    p.agent
        .handle_input(&binary(&cmd("M/9/O/C//f//q/N"), BodyKind::RAW), 0)
        .unwrap();
    let reqs = requests(&events(&mut p.agent));
    assert!(
        matches!(&reqs[0].operation, Operation::CallFunction { flags: Some(f), .. } if f == "N")
    );
    p.agent.reply("9", &[b""]).unwrap();
    assert!(out(&mut p.agent).is_empty());
}

#[test]
fn requests_time_out_and_the_count_of_open_requests_is_bounded() {
    let server = Config {
        max_pending: 3,
        request_timeout: 5_000,
        ..Config::server()
    };
    let mut p = Pair::new(server, Config::agent());
    p.pump();
    events(&mut p.server);
    let ids: Vec<RequestId> = (0..3)
        .map(|_| p.server.get_variable("", "v", p.now).unwrap())
        .collect();
    assert_eq!(
        p.server.get_variable("", "v", p.now),
        Err(RequestError::TooManyPending(3))
    );
    p.pump();
    assert_eq!(p.server.poll_timeout(), Some(5_000));
    p.advance(4_999);
    assert!(events(&mut p.server).is_empty());
    p.advance(1);
    let evs = events(&mut p.server);
    for id in ids {
        assert_eq!(response(&evs, id), Response::TimedOut);
    }
    // A late reply is reported as a reply to nothing.
    let reqs = requests(&events(&mut p.agent));
    p.agent.reply(&reqs[0].id, &[]).unwrap();
    p.pump();
    assert!(matches!(
        &events(&mut p.server)[0],
        Event::Refused { code: None, .. }
    ));

    // The agent answers `E` when the peer has too many requests open.
    let agent = Config {
        max_pending: 2,
        ..Config::agent()
    };
    let mut q = Pair::new(Config::server(), agent);
    q.pump();
    for _ in 0..3 {
        q.server.get_variable("", "v", 0).unwrap();
    }
    q.pump();
    assert_eq!(requests(&events(&mut q.agent)).len(), 2);
    let evs = events(&mut q.server);
    assert!(matches!(
        &response(&evs, RequestId(4)),
        Response::Refused(Refusal {
            code: ReplyCode::Error,
            ..
        })
    ));
}

#[test]
fn names_that_cannot_be_encoded_are_refused_before_anything_is_sent() {
    let mut p = Pair::started();
    let e = p.server.get_variable("a\u{17}b", "v", 0).unwrap_err();
    assert!(matches!(e, RequestError::Encode(_)), "{e}");
    assert!(out(&mut p.server).is_empty());
    assert_eq!(p.server.pending_len(), 0);
    // A V2 link cannot carry CR or STX inside a table.
    let agent = Config {
        max_version: Version::V2,
        ..Config::agent()
    };
    let mut q = Pair::new(Config::server(), agent);
    q.pump();
    assert!(matches!(
        q.server.set_variable("", "v", b"a\rb", None, 0),
        Err(RequestError::Encode(_))
    ));
    assert!(matches!(
        q.server.set_variable("", "v", b"a\x02b", None, 0),
        Err(RequestError::Encode(_))
    ));
}

// ---- keep-alive and timers -----------------------------------------------------------

#[test]
fn the_server_pings_with_start_and_a_silent_agent_link_is_dropped_after_100_s() {
    let mut p = Pair::started();
    assert_eq!(p.server.poll_timeout(), Some(10_000));
    p.advance(10_000);
    // The keep-alive Start went out in V4 framing, uncompressed, and was answered.
    let f = frames(&p.server_wrote);
    let last = f.last().unwrap();
    assert!(last.0 && last.1 == BodyKind::RAW);
    assert_eq!(last.2, cmd("M/2/S/4"));
    assert_eq!(commands(&p.agent_wrote).last().unwrap(), &cmd("R/2/A/4/C"));
    assert!(
        events(&mut p.agent).is_empty(),
        "same version: no second Started"
    );

    // The agent has now seen two Starts: 100 s of silence end its link.
    let silent_since = p.now;
    p.agent.handle_timeout(silent_since + 99_999).unwrap();
    let e = p.agent.handle_timeout(silent_since + 100_000).unwrap_err();
    assert_eq!(
        e,
        SessionError::Silence {
            silent_for: 100_000
        }
    );
    // It stays failed and says nothing more.
    assert!(p.agent.handle_input(b"\x02", p.now).is_err());
    assert!(out(&mut p.agent).is_empty());
}

#[test]
fn an_agent_that_saw_one_start_never_times_out_and_a_server_waits_for_its_start_reply() {
    let mut p = Pair::new(
        Config {
            keep_alive: None,
            ..Config::server()
        },
        Config::agent(),
    );
    p.pump();
    assert_eq!(p.agent.poll_timeout(), None);
    p.agent.handle_timeout(10_000_000).unwrap();

    let mut s = Session::new(Config::server(), 0);
    assert_eq!(s.poll_timeout(), Some(60_000));
    s.handle_timeout(59_999).unwrap();
    assert_eq!(s.handle_timeout(60_000), Err(SessionError::StartTimeout));
}

#[test]
fn a_server_whose_pings_go_unanswered_drops_the_link() {
    let mut s = Session::new(Config::server(), 0);
    s.handle_input(&v2(&cmd("R/1/A/4")), 0).unwrap();
    let mut now;
    let err = loop {
        now = s.poll_timeout().unwrap();
        out(&mut s);
        if let Err(e) = s.handle_timeout(now) {
            break e;
        }
        assert!(now <= 200_000, "never dropped");
    };
    assert_eq!(
        err,
        SessionError::Silence {
            silent_for: 100_000
        }
    );
    assert_eq!(now, 100_000);
}

// ---- malformed input -----------------------------------------------------------------

fn started_agent() -> Session {
    let mut a = Session::new(Config::agent(), 0);
    a.handle_input(&v2(&cmd("M/1/S/4")), 0).unwrap();
    out(&mut a);
    events(&mut a);
    a
}

#[test]
fn malformed_messages_with_an_id_get_an_error_reply_and_the_link_stays() {
    let mut a = started_agent();
    let mut bad_queue = cmd("M/7/O/S//v/t/");
    bad_queue.push(0xff);
    for (bad, why) in [
        (cmd("M/7/O/Q//x"), "iotellect::Operation"),
        (cmd("M/7/O/G//x/extra"), "iotellect::GetVariable"),
        (cmd("M/7/O/L//ev/notanumber"), "not a 32-bit integer"),
        (cmd("M/7/O/L//ev/99999999999"), "not a 32-bit integer"),
        (b"M\x177\x17O\x17G\x17\xff\x17x".to_vec(), "UTF-8"),
        (bad_queue, "queue name is not valid UTF-8"),
    ] {
        a.handle_input(&binary(&bad, BodyKind::RAW), 0).unwrap();
        let o = commands(&out(&mut a));
        assert_eq!(o.len(), 1, "{bad:02x?}");
        assert!(
            o[0].starts_with(&cmd("R/7/E/")),
            "{:?}",
            String::from_utf8_lossy(&o[0])
        );
        let evs = events(&mut a);
        let Event::Refused { reason, .. } = &evs[0] else {
            panic!("{evs:?}")
        };
        assert!(reason.contains(why), "{reason} should name {why}");
        assert!(a.is_started());
    }
    // Still fine afterwards.
    a.handle_input(&binary(&cmd("M/8/O/G//x"), BodyKind::RAW), 0)
        .unwrap();
    assert_eq!(requests(&events(&mut a)).len(), 1);
}

#[test]
fn input_that_cannot_be_answered_drops_the_link_with_a_named_error() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (binary(b"garbage", BodyKind::RAW), "iotellect::Command"),
        (binary(&cmd("R/1"), BodyKind::RAW), "iotellect::Reply"),
        (binary(&cmd("M//E//ev/x/1///1"), BodyKind::RAW), "level"),
        // Kind byte 7.
        (hex("02 00 00 00 02 07 41 0d"), "ICP-3.2-3"),
        // The length says 2 but three bytes follow before CR: the CR is not where the
        // length says.
        (hex("02 00 00 00 02 00 41 42 0d"), "ICP-3.2-5"),
        // Zero length.
        (hex("02 00 00 00 00 00 0d"), "ICP-3.2-2"),
        // Negative / huge length: refused from the header alone.
        (hex("02 ff ff ff ff"), "ICP-3.2-2"),
        // Not zlib at all.
        (hex("02 00 00 00 04 01 78 9c 00 0d"), "zlib"),
    ];
    for (input, needle) in cases {
        let mut a = started_agent();
        let e = a.handle_input(&input, 0).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(needle), "{text} should name {needle}");
        assert!(out(&mut a).is_empty());
        assert_eq!(a.error(), Some(&e));
    }
}

#[test]
fn buffered_input_is_bounded_by_the_command_limit() {
    let cfg = Config {
        max_command: 1000,
        ..Config::agent()
    };
    // V2: no CR in time.
    let mut a = Session::new(cfg.clone(), 0);
    a.handle_input(b"\x02", 0).unwrap();
    for _ in 0..1000 {
        a.handle_input(b"x", 0).unwrap();
    }
    let e = a.handle_input(b"x", 0).unwrap_err();
    assert_eq!(
        e,
        SessionError::CommandTooLong {
            len: 1001,
            limit: 1000
        }
    );

    // V3/V4: a header announcing more is refused before the body arrives.
    let mut a = Session::new(cfg.clone(), 0);
    a.handle_input(&v2(&cmd("M/1/S/4")), 0).unwrap();
    let e = a.handle_input(&hex("02 00 00 03 ea 00"), 0).unwrap_err();
    assert!(
        matches!(e, SessionError::CommandTooLong { len: 1001, .. }),
        "{e}"
    );
    let mut a = Session::new(cfg.clone(), 0);
    a.handle_input(&v2(&cmd("M/1/S/4")), 0).unwrap();
    a.handle_input(&hex("02 00 00 03 e9 00"), 0).unwrap();

    // zlib that inflates beyond the limit.
    let mut a = Session::new(cfg, 0);
    a.handle_input(&v2(&cmd("M/1/S/4")), 0).unwrap();
    let mut big = cmd("M/2/O/S//v/");
    big.extend(std::iter::repeat_n(b'z', 5000));
    let e = a
        .handle_input(&binary(&big, BodyKind::ZLIB), 0)
        .unwrap_err();
    assert!(matches!(e, SessionError::CommandTooLong { .. }), "{e}");
}

#[test]
fn a_zlib_bomb_is_capped_by_the_codec() {
    // 20 MiB of zeros deflate to about 20 KiB; the codec refuses to inflate past 16 MiB.
    let mut a = Session::new(
        Config {
            max_command: usize::MAX / 2,
            ..Config::agent()
        },
        0,
    );
    a.handle_input(&v2(&cmd("M/1/S/4")), 0).unwrap();
    let bomb = vec![0u8; 20 << 20];
    let mut frame = Vec::new();
    BinaryFrame {
        kind: BodyKind::ZLIB,
        body: Cow::Borrowed(&bomb),
    }
    .encode(&mut frame)
    .unwrap();
    assert!(frame.len() < 100_000);
    let e = a.handle_input(&frame, 0).unwrap_err();
    assert!(
        matches!(e, SessionError::Malformed { what: "frame", .. }),
        "{e}"
    );
}

// ---- chunking and arbitrary input ----------------------------------------------------

/// A whole conversation as the agent receives it, fed in the given chunk sizes
/// (cycled): what the agent reports, and the commands it wrote (sorted: when a reply
/// goes out depends on when the application answers, not on the engine).
fn agent_sees(stream: &[u8], chunks: &[usize]) -> (Vec<Event>, Vec<Vec<u8>>) {
    let mut a = Session::new(Config::agent(), 0);
    let mut evs = Vec::new();
    let mut wrote = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < stream.len() {
        let n = chunks[i % chunks.len()].clamp(1, stream.len() - at);
        i += 1;
        a.handle_input(&stream[at..at + n], 0).unwrap();
        at += n;
        let new = events(&mut a);
        // Answer every request at once, as an application would.
        for r in requests(&new) {
            a.reply(&r.id, &[b"ok"]).unwrap();
        }
        evs.extend(new);
        wrote.extend(out(&mut a));
    }
    let mut cmds = commands(&wrote);
    cmds.sort();
    (evs, cmds)
}

fn conversation() -> Vec<u8> {
    let mut s = b"junk".to_vec();
    s.extend(v2(&cmd("M/1/S/4")));
    s.extend(binary(&cmd("M/2/O/G/a.b/v"), BodyKind::RAW));
    let mut long = cmd("M/3/O/S//v/");
    long.extend(std::iter::repeat_n(b'q', 400));
    s.extend(binary(&long, BodyKind::ZLIB));
    s.extend(binary(&cmd("M//E//ev/2/1//t/17"), BodyKind::RAW));
    s.extend(binary(&cmd("M/4/S/4"), BodyKind::RAW));
    s.extend(binary(&cmd("M/5/O/C//f/in"), BodyKind::ZLIB));
    s
}

#[test]
fn byte_at_a_time_gives_the_same_result_as_one_chunk() {
    let stream = conversation();
    let whole = agent_sees(&stream, &[stream.len()]);
    let bytes = agent_sees(&stream, &[1]);
    assert_eq!(whole, bytes);
    assert_eq!(requests(&whole.0).len(), 3);
    assert!(whole.0.iter().any(|e| matches!(e, Event::Event(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_chunking_gives_the_same_conversation(chunks in proptest::collection::vec(1usize..64, 1..20)) {
        let stream = conversation();
        prop_assert_eq!(agent_sees(&stream, &chunks), agent_sees(&stream, &[stream.len()]));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_every_error_explains_itself(
        side in any::<bool>(),
        start_first in any::<bool>(),
        data in proptest::collection::vec(any::<u8>(), 0..2000),
        chunks in proptest::collection::vec(1usize..300, 1..10),
    ) {
        let cfg = Config { max_command: 512, ..if side { Config::server() } else { Config::agent() } };
        let mut s = Session::new(cfg, 0);
        if start_first {
            let _ = s.handle_input(&v2(&cmd(if side { "R/1/A/4/C" } else { "M/1/S/4" })), 0);
        }
        let mut at = 0;
        let mut i = 0;
        let mut now = 0;
        while at < data.len() {
            let n = chunks[i % chunks.len()].min(data.len() - at);
            i += 1;
            now += 997;
            let r = s.handle_input(&data[at..at + n], now).and_then(|()| s.handle_timeout(now));
            at += n;
            let mut o = Vec::new();
            s.poll_transmit(&mut o);
            // Whatever it writes is whole, well-formed frames of well-formed commands.
            for c in commands(&o) {
                prop_assert!(Command::decode_exact(&c).is_ok(), "{:02x?}", c);
            }
            while s.poll_event().is_some() {}
            if let Err(e) = r {
                prop_assert!(!e.to_string().is_empty());
                break;
            }
        }
    }

    #[test]
    fn mutated_conversations_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        chunk in 1usize..50,
    ) {
        let mut stream = conversation();
        for (i, b) in flips {
            let at = i.index(stream.len());
            stream[at] = b;
        }
        let mut a = Session::new(Config::agent(), 0);
        for c in stream.chunks(chunk) {
            if a.handle_input(c, 0).is_err() {
                break;
            }
            while let Some(e) = a.poll_event() {
                if let Event::Request(r) = e {
                    let _ = a.reply(&r.id, &[]);
                }
            }
            let mut o = Vec::new();
            a.poll_transmit(&mut o);
            for c in commands(&o) {
                prop_assert!(Command::decode_exact(&c).is_ok());
            }
        }
    }
}
