//! Fuzz oracles for the sans-I/O IOCOM connection engine of ferrocom-runtime, in the
//! server and in the device role, on a socket and on a serial line.
//!
//! Input: byte 0 = chunk size − 1 (1..=256 bytes per `handle_input` call), byte 1 =
//! milliseconds the clock advances per chunk, the rest = the peer's byte stream. A
//! captured stream with a chunk size prefix is therefore a natural seed.
//!
//! Beyond "never panics", the oracle checks that everything the engine transmits is a
//! well-formed IOCOM stream for the generated codec (handshake, then ACK and numbered
//! frames, or serial link characters, ACKs and frames with correct CRCs), and that a
//! socket connection that reported an error stays closed (no more output).
//!
//! Compiled into the `ferrocom-fuzz` library and into
//! `runtime/tests/fuzz_regressions.rs`; it may only use `ferrocom_runtime`,
//! `ferrocom_wire` and `std`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrocom_runtime::iocom::{BlockFlags, Connection, ConnectionConfig, Identity, Root};
use ferrocom_runtime::mqtt::{Options, QoS, Session};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::iocom::{CertificateAnswer, ClientHandshake, SerialItem, SocketItem};
use ferrocom_wire::mqtt311::{Packet, PacketBody};

/// A fuzz target: its name and its oracle.
pub type Target = (&'static str, fn(&[u8]));

/// Every target of this file.
pub const TARGETS: &[Target] = &[
    ("engine_socket_server", engine_socket_server),
    ("engine_socket_device", engine_socket_device),
    ("engine_serial_server", engine_serial_server),
    ("engine_serial_device", engine_serial_device),
    ("mqtt_session", mqtt_session),
    #[cfg(feature = "iotellect")]
    ("iotellect_session", iotellect_session),
];

/// The server role on a socket (fed a device's stream, handshake first).
pub fn engine_socket_server(data: &[u8]) {
    run(data, true, false);
}

/// The device role on a socket (fed a server's stream).
pub fn engine_socket_device(data: &[u8]) {
    run(data, false, false);
}

/// The listening end of a serial line.
pub fn engine_serial_server(data: &[u8]) {
    run(data, true, true);
}

/// The connecting end of a serial line.
pub fn engine_serial_device(data: &[u8]) {
    run(data, false, true);
}

fn run(data: &[u8], server: bool, serial: bool) {
    let [size, step, stream @ ..] = data else {
        return;
    };
    let chunk = usize::from(*size) + 1;
    let step = u64::from(*step);
    let mut root = if server {
        Root::new(Identity::new("frank", "cafenet"))
    } else {
        let mut root = Root::new(Identity::new("gina", "cafenet"));
        root.create_block("exp", BlockFlags::UP, vec![0; 44]);
        root.create_block("imp", BlockFlags::DOWN, vec![0; 24]);
        root
    };
    let cfg = match (server, serial) {
        (true, false) => ConnectionConfig::socket_server(false),
        (false, false) => ConnectionConfig::socket_client(false),
        (true, true) => ConnectionConfig::serial_server(),
        (false, true) => ConnectionConfig::serial_client(),
    };
    let mut now = 0;
    let mut conn = Connection::new(&mut root, cfg, now);
    let mut sent = Vec::new();
    let mut failed = false;
    conn.poll_transmit(&mut root, now, &mut sent);
    for piece in stream.chunks(chunk) {
        now += step;
        if conn.handle_input(&mut root, piece, now).is_err() {
            failed = true;
        }
        if let Some(t) = conn.poll_timeout()
            && t <= now
            && conn.handle_timeout(&mut root, now).is_err()
        {
            failed = true;
        }
        let before = sent.len();
        conn.poll_transmit(&mut root, now, &mut sent);
        if failed && !serial {
            // A socket connection that failed is closed: it writes nothing more.
            assert_eq!(
                sent.len(),
                before,
                "a failed socket connection kept writing"
            );
            break;
        }
        while conn.poll_event().is_some() {}
        if failed {
            // A serial end restarts its link procedure by itself; keep feeding it.
            failed = false;
        }
    }
    // A socket client that sets the certificate-request bit of its handshake gets the
    // certificate answer (§8.1 step 4) before the IOCOM stream.
    let cert_requested = server
        && !serial
        && matches!(ClientHandshake::decode(stream), Ok(Decoded::Complete(h, _)) if h.client_type.cert_request);
    check_stream(&sent, server, serial, cert_requested);
}

/// Everything transmitted parses as an IOCOM stream of the right kind, to the last byte
/// (a final frame cut by the end of the run would be "incomplete", which the engine never
/// produces: it writes whole frames).
fn check_stream(mut out: &[u8], server: bool, serial: bool, cert_requested: bool) {
    if cert_requested && !out.is_empty() {
        match CertificateAnswer::decode(out) {
            Ok(Decoded::Complete(_, n)) => out = &out[n..],
            other => panic!("no certificate answer after a certificate request: {other:?}"),
        }
    }
    if !serial && !server {
        match ClientHandshake::decode(out) {
            Ok(Decoded::Complete(_, n)) => out = &out[n..],
            other => panic!("device output does not start with a handshake: {other:?}"),
        }
    }
    while !out.is_empty() {
        let r = if serial {
            SerialItem::decode(out).map(|d| d.map(|_| ()))
        } else {
            SocketItem::decode(out).map(|d| d.map(|_| ()))
        };
        match r {
            Ok(Decoded::Complete((), n)) => out = &out[n..],
            Ok(Decoded::Incomplete(k)) => {
                panic!("engine output ends inside an item ({k} more bytes needed)")
            }
            Err(e) => panic!("engine output is not a valid IOCOM stream: {e}"),
        }
    }
}

/// The MQTT 3.1.1 client session (`ferrocom_runtime::mqtt::Session`) fed a broker's byte
/// stream. Input as for the IOCOM engine: chunk size − 1, clock step (in 10 ms), then
/// the broker's bytes. The session starts with a SUBSCRIBE (two filters), a QoS 1 and a
/// QoS 2 PUBLISH and an UNSUBSCRIBE pending, as in `runtime/tests/mqtt_session.rs`,
/// whose reference stream is the seed.
///
/// Checks: no panic; every error has a message; after an error nothing is transmitted
/// until the next `connect` (up to three reconnects); on every connection the session
/// transmits whole, well-formed packets for the generated codec, CONNECT first and only
/// first, and only packets a client sends.
pub fn mqtt_session(data: &[u8]) {
    let [size, step, stream @ ..] = data else {
        return;
    };
    let chunk = usize::from(*size) + 1;
    let step = u64::from(*step) * 10;
    let mut opts = Options::new("fuzz");
    opts.keep_alive_secs = 1;
    opts.response_timeout = 500;
    let mut s = Session::new(opts);
    s.subscribe(&[("x/#", QoS::ExactlyOnce), ("no", QoS::AtMostOnce)])
        .unwrap();
    s.publish("o/1", b"a", QoS::AtLeastOnce, false).unwrap();
    s.publish("o/2", b"b", QoS::ExactlyOnce, false).unwrap();
    s.unsubscribe(&["gone"]).unwrap();
    let mut now = 0;
    let mut sent = Vec::new();
    s.connect(now).unwrap();
    s.poll_transmit(now, &mut sent);
    let mut reconnects = 0;
    for piece in stream.chunks(chunk) {
        now += step;
        let mut r = s.handle_input(piece, now);
        if r.is_ok()
            && let Some(t) = s.poll_timeout()
            && t <= now
        {
            r = s.handle_timeout(now);
        }
        while s.poll_event().is_some() {}
        if let Err(e) = r {
            assert!(!e.to_string().is_empty(), "an error without a message");
            s.connection_lost();
            let before = sent.len();
            s.poll_transmit(now, &mut sent);
            assert_eq!(sent.len(), before, "bytes transmitted without a connection");
            check_mqtt_client_stream(&sent);
            sent.clear();
            if reconnects == 3 {
                return;
            }
            reconnects += 1;
            s.connect(now).unwrap();
        }
        s.poll_transmit(now, &mut sent);
    }
    check_mqtt_client_stream(&sent);
}

/// One connection's bytes from the client: whole packets, CONNECT first and only first,
/// nothing a broker sends.
fn check_mqtt_client_stream(bytes: &[u8]) {
    let mut at = 0;
    let mut first = true;
    while at < bytes.len() {
        let (p, used) = match Packet::decode(&bytes[at..]) {
            Ok(Decoded::Complete(p, used)) => (p, used),
            Ok(Decoded::Incomplete(n)) => panic!("the session sent a partial packet ({n} missing)"),
            Err(e) => panic!("the session sent a malformed packet: {e}"),
        };
        match p.body {
            PacketBody::Connect(_) => assert!(first, "CONNECT after the first packet"),
            PacketBody::Publish(_)
            | PacketBody::Puback(_)
            | PacketBody::Pubrec(_)
            | PacketBody::Pubrel(_)
            | PacketBody::Pubcomp(_)
            | PacketBody::Subscribe(_)
            | PacketBody::Unsubscribe(_)
            | PacketBody::Pingreq
            | PacketBody::Disconnect => assert!(!first, "the first packet is not CONNECT"),
            other => panic!("the session sent a broker's packet: {other:?}"),
        }
        first = false;
        at += used;
    }
}

/// The Iotellect session engine (`ferrocom_runtime::iotellect::Session`) fed a peer's
/// byte stream. Input: byte 0 = chunk size − 1, byte 1 = clock step (in 100 ms), byte 2
/// = which end (even: agent, fed a server's stream; odd: server, fed an agent's), then
/// the stream. Commands are limited to 4 KiB so the limits are reached. Every request of
/// the peer is answered (a table, or a refusal), and the server end makes a request
/// of each kind once started.
///
/// Checks: no panic; every error has a message; after an error nothing more is
/// transmitted; buffered input stays within the command limit plus a frame header;
/// everything transmitted is whole frames (V2 or V3/V4) holding commands the codec
/// decodes.
#[cfg(feature = "iotellect")]
pub fn iotellect_session(data: &[u8]) {
    use ferrocom_runtime::iotellect::{
        Config, Event, ListenerSpec, OutgoingEvent, Refusal, Session,
    };

    let [size, step, side, stream @ ..] = data else {
        return;
    };
    let chunk = usize::from(*size) + 1;
    let step = u64::from(*step) * 100;
    let server = side % 2 == 1;
    let mut cfg = if server {
        Config::server()
    } else {
        Config::agent()
    };
    cfg.max_command = 4096;
    cfg.max_pending = 8;
    let limit = cfg.max_command + 6;
    let mut now = 0;
    let mut s = Session::new(cfg, now);
    let mut sent = Vec::new();
    s.poll_transmit(&mut sent);
    let mut asked = false;
    let listener = ListenerSpec {
        context: "c".into(),
        event: "e".into(),
        listener: Some(1),
        filter: Some("%".into()),
        fingerprint: None,
    };
    for piece in stream.chunks(chunk) {
        now += step;
        let mut r = s.handle_input(piece, now);
        if r.is_ok()
            && let Some(t) = s.poll_timeout()
            && t <= now
        {
            r = s.handle_timeout(now);
        }
        assert!(
            s.buffered_len() <= limit,
            "{} bytes buffered, limit {limit}",
            s.buffered_len()
        );
        while let Some(e) = s.poll_event() {
            if let Event::Request(req) = e {
                let _ = if req.id.len() % 2 == 0 {
                    s.reply(&req.id, &[b"\x1cR\x1e\x1c1\x1d\x1d"])
                } else {
                    s.refuse(&req.id, &Refusal::error("no\r%/"))
                };
            }
        }
        if s.is_started() && !asked {
            asked = true;
            let _ = s.get_variable("c", "v", now);
            let _ = s.set_variable("c", "v", &[b'x'; 300], Some("q"), now);
            let _ = s.call_function("", "f", b"", now);
            let _ = s.add_listener(&listener, now);
            let _ = s.remove_listener(&listener, now);
            let _ = s.send_event(&OutgoingEvent {
                context: "c",
                event: "e",
                level: 1,
                event_id: "1",
                listener: "1",
                data: b"",
                created: 0,
                server_id: None,
            });
        }
        let before = sent.len();
        s.poll_transmit(&mut sent);
        if let Err(e) = r {
            assert!(!e.to_string().is_empty(), "an error without a message");
            assert_eq!(sent.len(), before, "a failed session kept writing");
            break;
        }
    }
    check_iotellect_stream(&sent);
}

/// Whole frames, each holding a command the codec decodes. A V2 frame's command starts
/// with `M` or `R`; a V3/V4 frame's length starts with a byte below 0x02 (16 MiB at
/// most), so the two cannot be confused.
#[cfg(feature = "iotellect")]
fn check_iotellect_stream(mut bytes: &[u8]) {
    use ferrocom_wire::iotellect::{BinaryFrame, Command, V2Frame};

    while !bytes.is_empty() {
        let (command, used) = if matches!(bytes.get(1), Some(b'M' | b'R')) {
            match V2Frame::decode(bytes) {
                Ok(Decoded::Complete(f, used)) => (f.command.to_vec(), used),
                other => panic!("the session sent a broken V2 frame: {other:?}"),
            }
        } else {
            match BinaryFrame::decode(bytes) {
                Ok(Decoded::Complete(f, used)) => (f.body.into_owned(), used),
                other => panic!("the session sent a broken V3/V4 frame: {other:?}"),
            }
        };
        if let Err(e) = Command::decode_exact(&command) {
            panic!("the session sent a malformed command: {e}");
        }
        bytes = &bytes[used..];
    }
}
