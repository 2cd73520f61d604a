//! The Iotellect command codec against the worked examples of the reference
//! (../shared/reference/iotellect.md §6, produced by the Java SDK): every frame and
//! command decodes to the expected fields and encodes back to the same bytes.
#![cfg(feature = "iotellect")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferrocom_wire::codec::{DecodeErrorKind, Decoded, EncodeErrorKind};
use ferrocom_wire::iotellect::{
    BinaryFrame, BodyKind, CallFunction, Command, CommandBody, Event, GetVariable, Listener,
    Message, MessageBody, Operation, OperationBody, Reply, Start, V2Frame,
};

/// The bytes written as hex; leaked so that decoded values may borrow them.
fn hex(s: &str) -> &'static [u8] {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex in the test"))
        .collect::<Vec<u8>>()
        .leak()
}

/// Decodes a V2 frame and its command, checks that both encode back to `wire`.
fn v2(wire: &[u8]) -> Command<'_> {
    let Ok(Decoded::Complete(frame, used)) = V2Frame::decode(wire) else {
        panic!("V2 frame did not decode: {:?}", V2Frame::decode(wire));
    };
    assert_eq!(used, wire.len());
    let command = Command::decode_exact(frame.command).expect("command decodes");
    let mut body = Vec::new();
    command.encode(&mut body).expect("command encodes");
    assert_eq!(body, frame.command, "command re-encodes byte for byte");
    assert_eq!(command.encoded_len(), body.len());
    let mut out = Vec::new();
    frame.encode(&mut out).expect("frame encodes");
    assert_eq!(out, wire, "frame re-encodes byte for byte");
    command
}

fn message<'a>(c: &'a Command<'a>) -> &'a Message<'a> {
    match &c.body {
        CommandBody::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

fn operation<'a>(c: &'a Command<'a>) -> &'a OperationBody<'a> {
    match &message(c).body {
        MessageBody::Operation(Operation { body }) => body,
        other => panic!("not an operation: {other:?}"),
    }
}

fn reply<'a>(c: &'a Command<'a>) -> &'a Reply<'a> {
    match &c.body {
        CommandBody::Reply(r) => r,
        other => panic!("not a reply: {other:?}"),
    }
}

#[test]
fn example_6_start_and_its_reply() {
    let start = v2(hex("02 4d 17 31 17 53 17 34 0d"));
    let m = message(&start);
    assert_eq!(m.id, "1");
    assert_eq!(m.body, MessageBody::Start(Start { version: Some("4") }));
    let ok = v2(hex("02 52 17 31 17 41 17 34 17 43 0d"));
    let r = reply(&ok);
    assert_eq!((r.id, r.code), ("1", "A"));
    assert_eq!(r.params, vec![&b"4"[..], &b"C"[..]]);
}

#[test]
fn example_7_get_variable_and_a_table_reply() {
    let get = v2(hex("02 4d 17 32 17 4f 17 47 17 17 64 61 74 65 0d"));
    assert_eq!(message(&get).id, "2");
    assert_eq!(
        operation(&get),
        &OperationBody::GetVariable(GetVariable {
            context: "",
            variable: "date"
        })
    );
    let answer = v2(hex("02 52 17 32 17 41 17 1c 52 1e 1c 34 32 1d 1d 0d"));
    assert_eq!(reply(&answer).params, vec![&b"\x1cR\x1e\x1c42\x1d\x1d"[..]]);
}

#[test]
fn example_8_call_function() {
    let call = v2(hex(
        "02 4d 17 34 17 4f 17 43 17 17 6c 6f 67 69 6e 17 1c 52 1e 1c 61 62 63 1d 1d 0d",
    ));
    let OperationBody::CallFunction(CallFunction {
        context,
        function,
        input,
        queue,
        flags,
    }) = operation(&call)
    else {
        panic!("not a call");
    };
    assert_eq!((*context, *function), ("", "login"));
    assert_eq!(*input, b"\x1cR\x1e\x1cabc\x1d\x1d");
    assert_eq!((queue, flags), (&None, &None));
}

#[test]
fn example_9_listeners_with_escaped_filter() {
    let add = v2(hex(
        "02 4d 17 35 17 4f 17 4c 17 17 65 76 65 6e 74 43 6f 6e 66 69 72 6d 65 64 17 31 32 33 34 35 0d",
    ));
    assert_eq!(
        operation(&add),
        &OperationBody::AddListener(Listener {
            context: "",
            event: "eventConfirmed",
            listener: "12345",
            filter: None,
            fingerprint: None,
        })
    );
    let remove = v2(hex(
        "02 4d 17 35 17 4f 17 52 17 17 65 76 65 6e 74 43 6f 6e 66 69 72 6d 65 64 17 31 32 33 34 35 17 61 25 25 62 17 66 70 0d",
    ));
    let OperationBody::RemoveListener(l) = operation(&remove) else {
        panic!("not a removal");
    };
    assert_eq!(
        l.filter.as_deref(),
        Some(&b"a%b"[..]),
        "filter is unescaped"
    );
    assert_eq!(l.fingerprint.as_deref(), Some(&b"fp"[..]));
}

#[test]
fn example_10_error_reply() {
    let err = v2(hex(
        "02 52 17 37 17 45 17 42 61 64 20 74 68 69 6e 67 17 6c 69 6e 65 31 25 24 6c 69 6e 65 32 0d",
    ));
    let r = reply(&err);
    assert_eq!((r.id, r.code), ("7", "E"));
    assert_eq!(r.params, vec![&b"Bad thing"[..], &b"line1%$line2"[..]]);
}

#[test]
fn example_11_event() {
    let ev = v2(hex(
        "02 4d 17 17 45 17 17 65 76 65 6e 74 43 6f 6e 66 69 72 6d 65 64 17 31 17 35 17 31 32 33 34 35 17 1c 52 1e 1c 39 39 1d 1d 17 31 37 30 30 30 30 30 30 30 30 31 32 33 0d",
    ));
    let m = message(&ev);
    assert_eq!(m.id, "", "events carry an empty id");
    assert_eq!(
        m.body,
        MessageBody::Event(Event {
            context: "",
            event: "eventConfirmed",
            level: 1,
            event_id: "5",
            listener: "12345",
            data: b"\x1cR\x1e\x1c99\x1d\x1d",
            created: 1_700_000_000_123,
            server_id: None,
        })
    );
}

#[test]
fn example_12_v4_raw_frame() {
    let wire = hex("02 00 00 00 0e 00 4d 17 37 17 4f 17 47 17 17 64 61 74 65 0d");
    let Ok(Decoded::Complete(frame, used)) = BinaryFrame::decode(wire) else {
        panic!("frame did not decode");
    };
    assert_eq!(used, wire.len());
    assert_eq!(frame.kind, BodyKind::RAW);
    let c = Command::decode_exact(&frame.body).expect("command");
    assert_eq!(message(&c).id, "7");
    let mut out = Vec::new();
    frame.encode(&mut out).expect("encodes");
    assert_eq!(out, wire);
}

#[test]
fn example_13_v4_zlib_frame_inflates_and_deflates_to_the_same_bytes() {
    let wire = hex(
        "02 00 00 00 23 01 78 9c f3 15 b7 14 f7 17 0f 16 17 2f 49 ad 28 11 97 09 92 93 49 4c 4a 4e 19 cc 58 56 16 00 9a 9e 41 ea 0d",
    );
    let Ok(Decoded::Complete(frame, _)) = BinaryFrame::decode(wire) else {
        panic!("frame did not decode");
    };
    assert_eq!(frame.kind, BodyKind::ZLIB);
    assert_eq!(frame.body.len(), 180, "the raw command is 180 bytes");
    let c = Command::decode_exact(&frame.body).expect("command");
    let OperationBody::SetVariable(set) = operation(&c) else {
        panic!("not a set");
    };
    assert_eq!(set.variable, "text");
    assert_eq!(set.table.len(), 166);
    let mut out = Vec::new();
    frame.encode(&mut out).expect("encodes");
    assert_eq!(out, wire, "system zlib compresses as Java's Deflater does");
}

#[test]
fn frames_arrive_in_pieces_and_oversize_lengths_fail_from_the_header() {
    let wire = hex("02 00 00 00 0e 00 4d 17 37 17 4f 17 47 17 17 64 61 74 65 0d");
    for cut in 0..wire.len() {
        assert!(matches!(
            BinaryFrame::decode(&wire[..cut]),
            Ok(Decoded::Incomplete(_))
        ));
    }
    // 2 GiB declared: refused from the five header bytes, nothing waits for the body.
    let e = BinaryFrame::decode(hex("02 7f ff ff ff")).expect_err("oversize");
    assert!(matches!(e.kind, DecodeErrorKind::Constraint { .. }), "{e}");
    assert_eq!(e.info.clause, Some("ICP-3.2-2"));
    let e = BinaryFrame::decode(hex("02 00 00 00 00 00")).expect_err("zero length");
    assert!(matches!(e.kind, DecodeErrorKind::Constraint { .. }), "{e}");
    let e = BinaryFrame::decode(hex("02 00 00 00 02 07 41 0d")).expect_err("kind 7");
    assert_eq!(e.info.clause, Some("ICP-3.2-3"), "{e}");
    let e = BinaryFrame::decode(hex("02 00 00 00 02 00 41 0a")).expect_err("no CR");
    assert_eq!(e.info.clause, Some("ICP-3.2-5"), "{e}");
    let e = BinaryFrame::decode(hex("02 00 00 00 04 01 78 9c 00 0d")).expect_err("bad zlib");
    assert!(matches!(e.kind, DecodeErrorKind::Transform { .. }), "{e}");
}

#[test]
fn malformed_commands_name_what_is_wrong() {
    let e = Command::decode_exact(b"X\x171").expect_err("unknown kind");
    assert!(
        matches!(e.kind, DecodeErrorKind::Rejected { tag: 0x58 }),
        "{e}"
    );
    let e = Command::decode_exact(b"M\x171").expect_err("no code");
    assert!(
        matches!(e.kind, DecodeErrorKind::MissingPart { separator: 0x17 }),
        "{e}"
    );
    let e = Command::decode_exact(b"M\x171\x17OO\x17G").expect_err("two-letter code");
    assert!(matches!(e.kind, DecodeErrorKind::Trailing { .. }), "{e}");
    let e = Command::decode_exact(b"M\x171\x17O\x17G\x17\x17date\x17extra").expect_err("extra");
    assert!(matches!(e.kind, DecodeErrorKind::ExtraParts { .. }), "{e}");
    let e =
        Command::decode_exact(b"M\x17\x17E\x17\x17e\x17one\x175\x17\x17\x171").expect_err("level");
    assert!(matches!(e.kind, DecodeErrorKind::InvalidDecimal), "{e}");
    let e = Command::decode_exact(b"M\x17\x17E\x17\x17e\x17999999999999\x175\x17\x17\x171")
        .expect_err("level too large for i32");
    assert!(matches!(e.kind, DecodeErrorKind::TooLarge { .. }), "{e}");
    let e = Command::decode_exact(b"M\x171\x17O\x17G\x17\xff\x17date").expect_err("utf8");
    assert!(matches!(e.kind, DecodeErrorKind::InvalidUtf8), "{e}");
    let e = V2Frame::decode_exact(b"\x02M\x171").expect_err("no CR");
    assert!(
        matches!(
            e.kind,
            DecodeErrorKind::MissingTerminator { terminator: 0x0D }
        ),
        "{e}"
    );
}

#[test]
fn optional_parts_keep_their_order_and_text_is_checked_for_separators() {
    // `R/3/A/` (one empty parameter) and `R/3/A` (none) are different replies.
    let one = Command::decode_exact(b"R\x173\x17A\x17").expect("empty parameter");
    assert_eq!(reply(&one).params, vec![&b""[..]]);
    let none = Command::decode_exact(b"R\x173\x17A").expect("no parameter");
    assert!(reply(&none).params.is_empty());
    for (c, wire) in [
        (&one, &b"R\x173\x17A\x17"[..]),
        (&none, &b"R\x173\x17A"[..]),
    ] {
        let mut out = Vec::new();
        c.encode(&mut out).expect("encodes");
        assert_eq!(out, wire);
    }
    // A flag without a queue would be read back as the queue.
    let bad = Command {
        body: CommandBody::Message(Message {
            id: "9",
            body: MessageBody::Operation(Operation {
                body: OperationBody::CallFunction(CallFunction {
                    context: "",
                    function: "f",
                    input: b"",
                    queue: None,
                    flags: Some(b"N"[..].into()),
                }),
            }),
        }),
    };
    let e = bad.encode(&mut Vec::new()).expect_err("gap");
    assert!(
        matches!(e.kind, EncodeErrorKind::Inconsistent { .. }),
        "{e}"
    );
    // A context holding the separator would split the command.
    let bad = Command {
        body: CommandBody::Message(Message {
            id: "9",
            body: MessageBody::Operation(Operation {
                body: OperationBody::GetVariable(GetVariable {
                    context: "a\u{17}b",
                    variable: "v",
                }),
            }),
        }),
    };
    let mut out = b"kept".to_vec();
    let e = bad.encode(&mut out).expect_err("separator");
    assert!(
        matches!(
            e.kind,
            EncodeErrorKind::ContainsSeparator { separator: 0x17 }
        ),
        "{e}"
    );
    assert_eq!(out, b"kept", "nothing appended on error");
    // Escaped parameters may hold any byte.
    let ok = Command {
        body: CommandBody::Message(Message {
            id: "9",
            body: MessageBody::Operation(Operation {
                body: OperationBody::CallFunction(CallFunction {
                    context: "",
                    function: "f",
                    input: b"",
                    queue: Some(b"q\x17\x02\x0d%"[..].into()),
                    flags: None,
                }),
            }),
        }),
    };
    let mut out = Vec::new();
    ok.encode(&mut out).expect("encodes");
    assert_eq!(out, b"M\x179\x17O\x17C\x17\x17f\x17\x17q%/%^%$%%");
    assert_eq!(Command::decode_exact(&out).expect("decodes"), ok);
}

#[test]
fn a_message_of_no_parts_has_no_encoding() {
    use ferrocom_wire::iotellect::Start;
    // On its own, a Start without a version would be empty, and an empty region reads
    // back as one empty part (version ""): the encoder refuses instead of lying.
    let e = Start { version: None }
        .encode(&mut Vec::new())
        .expect_err("no parts");
    assert!(
        matches!(e.kind, EncodeErrorKind::Inconsistent { .. }),
        "{e}"
    );
    assert_eq!(
        Start::decode_exact(b"").expect("one empty part"),
        Start { version: Some("") }
    );
    // Inside a command the separator before it says whether a part follows.
    let c = Command::decode_exact(b"M\x171\x17S").expect("start without version");
    assert_eq!(
        message(&c).body,
        MessageBody::Start(Start { version: None })
    );
}
