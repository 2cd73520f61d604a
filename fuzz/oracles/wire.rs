//! Fuzz oracles for the decoders of ferrocom-wire: the generated IOCOM, switchbox,
//! MQTT 3.1.1 and Iotellect codecs, IOCOM zero-run compression, packed JSON and
//! Iotellect Data Tables.
//!
//! One public function per fuzz target, named like the target. Each takes the raw fuzz
//! input and panics when a property does not hold; "never panics" is only the baseline,
//! every target also checks what it decoded (see `fuzz/README.md` for the table).
//!
//! This file is compiled twice: into the `ferrocom-fuzz` library (`fuzz/src/lib.rs`),
//! which the cargo-fuzz targets call, and into `wire/tests/fuzz_regressions.rs`, which
//! replays the seed corpora and every saved crash input through the same functions in
//! `cargo test --workspace --all-features`. It may only use `ferrocom_wire`, `arbitrary`
//! and `std`. `feature = "iotellect"` is ferrocom-wire's feature in the regression test
//! and the fuzz crate's own (on by default, enabling the former) in the fuzz targets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;

use arbitrary::{Arbitrary, Unstructured};
use ferrocom_wire::codec::{Decoded, Reader, crc16_modbus};
use ferrocom_wire::datatable::{
    self, DataTable, DecodeOptions, EncodeOptions, FieldFormat, FieldType, TableFormat,
};
use ferrocom_wire::packed_json::{self, PackOptions, PackedJsonError, PackedValue};
use ferrocom_wire::transforms::zero_run::{self, ApplyError, ApplyRange};
use ferrocom_wire::transforms::{Transform, ZeroRun, delta};
use ferrocom_wire::{iocom, mqtt311, switchbox};

/// A fuzz target: its name and its oracle.
pub type Target = (&'static str, fn(&[u8]));

/// Every target of this file.
pub const TARGETS: &[Target] = &[
    ("iocom_socket", iocom_socket),
    ("iocom_serial", iocom_serial),
    ("iocom_system", iocom_system),
    ("iocom_handshake", iocom_handshake),
    ("switchbox", switchbox),
    ("mqtt311", mqtt311),
    ("zero_run", zero_run),
    ("packed_json", packed_json),
    ("roundtrip_iocom", roundtrip_iocom),
    ("roundtrip_switchbox", roundtrip_switchbox),
    ("roundtrip_mqtt311", roundtrip_mqtt311),
    ("roundtrip_packed_json", roundtrip_packed_json),
    #[cfg(feature = "iotellect")]
    ("iotellect", iotellect),
    #[cfg(feature = "iotellect")]
    ("roundtrip_iotellect", roundtrip_iotellect),
    ("datatable", datatable),
];

/// Hex of (the start of) some bytes, for panic messages.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::new();
    for b in bytes.iter().take(512) {
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > 512 {
        let _ = write!(s, "... ({} bytes)", bytes.len());
    }
    s
}

/// The strict prefixes of a `len`-byte message whose streaming decode is checked: the
/// first few, the middle and the last two (all of them would be quadratic).
fn cuts(len: usize) -> impl Iterator<Item = usize> {
    let tail = [len / 2, len.saturating_sub(2), len.saturating_sub(1)];
    (0..len.min(8)).chain(tail.into_iter().filter(move |&c| c >= 8 && c < len))
}

// ---------------------------------------------------------------------------------------
// Generated codecs

/// Decodes `$data` as `$ty` and checks what came out; evaluates to the decoded message.
///
/// * an error names an offset inside the input, and `decode_exact` fails too;
/// * `Incomplete(n)` has `n >= 1`, and `decode_exact` fails;
/// * `Complete(msg, used)`: `used <= len`; `decode_exact` of the `used` bytes gives the
///   same message; for stream frames every checked strict prefix is `Incomplete(k)` with
///   `cut + k <= used` (never an error, never a different message), and the message
///   followed by other bytes decodes the same; `msg` encodes, `encoded_len` agrees, the
///   encoding decodes to `msg` again (consuming all of it) and re-encodes to the same
///   bytes.
macro_rules! check_decode {
    ($ty:ty, $data:expr, stream = $stream:expr) => {{
        let data: &[u8] = $data;
        let name = stringify!($ty);
        match <$ty>::decode(data) {
            Err(e) => {
                assert!(
                    e.offset <= data.len(),
                    "{name}: error offset beyond the input ({e}) for {}",
                    hex(data)
                );
                let _ = e.to_string();
                assert!(
                    <$ty>::decode_exact(data).is_err(),
                    "{name}: decode fails ({e}) but decode_exact succeeds on {}",
                    hex(data)
                );
                if $stream {
                    let mut longer = data.to_vec();
                    longer.extend_from_slice(&[0x00, 0xFF, 0x55]);
                    assert_eq!(
                        <$ty>::decode(&longer).err().as_ref(),
                        Some(&e),
                        "{name}: more bytes changed the error for {}",
                        hex(data)
                    );
                }
                None
            }
            Ok(Decoded::Incomplete(n)) => {
                assert!(n >= 1, "{name}: Incomplete(0) for {}", hex(data));
                assert!(
                    <$ty>::decode_exact(data).is_err(),
                    "{name}: decode is incomplete but decode_exact succeeds on {}",
                    hex(data)
                );
                None
            }
            Ok(Decoded::Complete(msg, used)) => {
                assert!(
                    used <= data.len(),
                    "{name}: consumed {used} of {} bytes",
                    data.len()
                );
                let consumed = &data[..used];
                match <$ty>::decode_exact(consumed) {
                    Ok(exact) => assert_eq!(
                        exact,
                        msg,
                        "{name}: decode and decode_exact disagree on {}",
                        hex(consumed)
                    ),
                    Err(e) => panic!(
                        "{name}: decode succeeds but decode_exact fails ({e}) on {}",
                        hex(consumed)
                    ),
                }
                if $stream {
                    assert!(used >= 1, "{name}: a stream frame of 0 bytes");
                    for cut in cuts(used) {
                        match <$ty>::decode(&data[..cut]) {
                            Ok(Decoded::Incomplete(k)) => assert!(
                                k >= 1 && cut + k <= used,
                                "{name}: prefix {cut} of a {used}-byte frame asks for {k} \
                                 more bytes: {}",
                                hex(consumed)
                            ),
                            other => {
                                panic!("{name}: prefix {cut} of {} gave {other:?}", hex(consumed))
                            }
                        }
                    }
                }
                let mut bytes = Vec::new();
                let n = msg.encode(&mut bytes).unwrap_or_else(|e| {
                    panic!(
                        "{name}: a decoded message does not encode again: {e}\n\
                         input {}\nmessage {msg:?}",
                        hex(consumed)
                    )
                });
                assert_eq!(n, bytes.len(), "{name}: encode returned a wrong length");
                assert_eq!(msg.encoded_len(), n, "{name}: encoded_len for {msg:?}");
                match <$ty>::decode(&bytes) {
                    Ok(Decoded::Complete(back, m)) => {
                        assert_eq!(m, n, "{name}: re-encoding {} not consumed", hex(&bytes));
                        assert_eq!(
                            back,
                            msg,
                            "{name}: input {} re-encoded as {} decodes differently",
                            hex(consumed),
                            hex(&bytes)
                        );
                        let mut again = Vec::new();
                        back.encode(&mut again).unwrap_or_else(|e| {
                            panic!("{name}: second encoding failed: {e}\n{back:?}")
                        });
                        assert_eq!(again, bytes, "{name}: encoding is not a fixpoint");
                    }
                    other => panic!(
                        "{name}: input {} re-encoded as {} gave {other:?}",
                        hex(consumed),
                        hex(&bytes)
                    ),
                }
                Some(msg)
            }
        }
    }};
}

/// Builds a message of `$ty` from `$u` with its `Arbitrary` implementation and checks
/// encode → decode → equal: all bytes consumed, `decode_exact` agrees, `encoded_len`
/// agrees, re-encoding gives the same bytes; for stream frames every checked strict
/// prefix is `Incomplete(k)` with `cut + k <= len`, and the frame followed by the rest of
/// the fuzz input decodes to the same message with the same length.
macro_rules! check_roundtrip {
    ($ty:ty, $u:expr, stream = $stream:expr) => {{
        let u: &mut Unstructured<'_> = $u;
        let name = stringify!($ty);
        let Ok(msg) = <$ty>::arbitrary(u) else {
            return;
        };
        let mut bytes = Vec::new();
        let n = msg
            .encode(&mut bytes)
            .unwrap_or_else(|e| panic!("{name}: Arbitrary built an unencodable {msg:?}: {e}"));
        assert_eq!(n, bytes.len(), "{name}: encode returned a wrong length");
        assert_eq!(msg.encoded_len(), n, "{name}: encoded_len of {msg:?}");
        match <$ty>::decode(&bytes) {
            Ok(Decoded::Complete(back, used)) => {
                assert_eq!(used, n, "{name}: {} not all consumed", hex(&bytes));
                assert_eq!(back, msg, "{name}: {} decodes differently", hex(&bytes));
                let mut again = Vec::new();
                back.encode(&mut again)
                    .unwrap_or_else(|e| panic!("{name}: decoded {back:?} does not encode: {e}"));
                assert_eq!(again, bytes, "{name}: re-encoding differs for {msg:?}");
            }
            other => panic!("{name}: {msg:?} encoded as {} gave {other:?}", hex(&bytes)),
        }
        match <$ty>::decode_exact(&bytes) {
            Ok(exact) => assert_eq!(exact, msg, "{name}: decode_exact of {}", hex(&bytes)),
            Err(e) => panic!("{name}: decode_exact of {} failed: {e}", hex(&bytes)),
        }
        if $stream {
            for cut in cuts(n) {
                match <$ty>::decode(&bytes[..cut]) {
                    Ok(Decoded::Incomplete(k)) => assert!(
                        k >= 1 && cut + k <= n,
                        "{name}: prefix {cut} of {} asks for {k} more bytes",
                        hex(&bytes)
                    ),
                    other => panic!("{name}: prefix {cut} of {} gave {other:?}", hex(&bytes)),
                }
            }
            let mut longer = bytes.clone();
            let rest = u.len();
            longer.extend_from_slice(u.bytes(rest).unwrap_or(&[]));
            match <$ty>::decode(&longer) {
                Ok(Decoded::Complete(back, used)) => {
                    assert_eq!(
                        (used, &back),
                        (n, &msg),
                        "{name}: trailing bytes changed {}",
                        hex(&longer)
                    );
                }
                other => panic!("{name}: {} + trailing bytes gave {other:?}", hex(&bytes)),
            }
        }
    }};
}

/// `iocom::SocketItem` (ACKs and numbered frames on TCP/TLS); the content of a system
/// frame goes on through [`iocom_system`].
pub fn iocom_socket(data: &[u8]) {
    if let Some(iocom::SocketItem {
        body: iocom::SocketBody::Numbered(frame),
    }) = check_decode!(iocom::SocketItem<'_>, data, stream = true)
        && frame.flags.contains(iocom::FrameFlags::SYSTEM)
    {
        iocom_system(&frame.data);
    }
}

/// `iocom::SerialItem` (link control, ACKs and CRC-checked numbered frames on a serial
/// line); the content of a system frame goes on through [`iocom_system`].
pub fn iocom_serial(data: &[u8]) {
    if let Some(iocom::SerialItem {
        body: iocom::SerialBody::Numbered(frame),
    }) = check_decode!(iocom::SerialItem<'_>, data, stream = true)
        && frame.flags.contains(iocom::FrameFlags::SYSTEM)
    {
        iocom_system(&frame.data);
    }
}

/// The content of an IOCOM system frame: `SystemMessage`, and its three bodies decoded
/// on their own from the same bytes.
pub fn iocom_system(data: &[u8]) {
    check_decode!(iocom::SystemMessage<'_>, data, stream = false);
    check_decode!(iocom::Authentication<'_>, data, stream = false);
    check_decode!(iocom::MemoryBlockInfo<'_>, data, stream = false);
    check_decode!(iocom::RemoveRequest, data, stream = false);
}

/// The socket connection establishment: `ClientHandshake`, `TlsMark` and
/// `CertificateAnswer`, each decoded from the same bytes.
pub fn iocom_handshake(data: &[u8]) {
    check_decode!(iocom::ClientHandshake<'_>, data, stream = true);
    check_decode!(iocom::TlsMark, data, stream = true);
    check_decode!(iocom::CertificateAnswer<'_>, data, stream = true);
}

/// `switchbox::Message`; the data of a Data message (a piece of a client's IOCOM stream)
/// goes on through [`iocom_socket`].
pub fn switchbox(data: &[u8]) {
    if let Some(switchbox::Message {
        body: switchbox::MessageBody::Data(payload),
        ..
    }) = check_decode!(switchbox::Message<'_>, data, stream = true)
    {
        iocom_socket(payload);
    }
}

/// Iotellect: the input as a V2 frame, a V3/V4 frame (zlib inflated by the codec, with
/// its 16 MiB cap) and a bare command; what a frame carries is decoded as a command too.
#[cfg(feature = "iotellect")]
pub fn iotellect(data: &[u8]) {
    use ferrocom_wire::iotellect::{BinaryFrame, Command, V2Frame};
    if let Some(f) = check_decode!(V2Frame<'_>, data, stream = true) {
        check_decode!(Command<'_>, f.command, stream = false);
    }
    if let Some(f) = check_decode!(BinaryFrame<'_>, data, stream = true) {
        check_decode!(Command<'_>, &f.body, stream = false);
    }
    check_decode!(Command<'_>, data, stream = false);
}

/// `mqtt311::Packet`, all 14 packet types.
pub fn mqtt311(data: &[u8]) {
    check_decode!(mqtt311::Packet<'_>, data, stream = true);
}

// ---------------------------------------------------------------------------------------
// Structure-aware round trips

macro_rules! roundtrip_fns {
    ($($f:ident: $ty:ty, stream = $stream:expr;)*) => {
        $(
            fn $f(u: &mut Unstructured<'_>) {
                check_roundtrip!($ty, u, stream = $stream);
            }
        )*
    };
}

roundtrip_fns! {
    rt_socket_item: iocom::SocketItem<'_>, stream = true;
    rt_serial_item: iocom::SerialItem<'_>, stream = true;
    rt_client_handshake: iocom::ClientHandshake<'_>, stream = true;
    rt_tls_mark: iocom::TlsMark, stream = true;
    rt_certificate_answer: iocom::CertificateAnswer<'_>, stream = true;
    rt_system_message: iocom::SystemMessage<'_>, stream = false;
    rt_authentication: iocom::Authentication<'_>, stream = false;
    rt_memory_block_info: iocom::MemoryBlockInfo<'_>, stream = false;
    rt_remove_request: iocom::RemoveRequest, stream = false;
    rt_switchbox_message: switchbox::Message<'_>, stream = true;
    rt_mqtt_packet: mqtt311::Packet<'_>, stream = true;
}

/// Every IOCOM message type (chosen by the first input byte): Arbitrary → encode →
/// decode → equal.
pub fn roundtrip_iocom(data: &[u8]) {
    const TYPES: [fn(&mut Unstructured<'_>); 9] = [
        rt_socket_item,
        rt_serial_item,
        rt_client_handshake,
        rt_tls_mark,
        rt_certificate_answer,
        rt_system_message,
        rt_authentication,
        rt_memory_block_info,
        rt_remove_request,
    ];
    let mut u = Unstructured::new(data);
    let which = usize::from(u.arbitrary::<u8>().unwrap_or(0)) % TYPES.len();
    TYPES[which](&mut u);
}

/// `switchbox::Message`: Arbitrary → encode → decode → equal.
pub fn roundtrip_switchbox(data: &[u8]) {
    rt_switchbox_message(&mut Unstructured::new(data));
}

/// Iotellect commands and both framings: Arbitrary → encode → decode → equal.
#[cfg(feature = "iotellect")]
pub fn roundtrip_iotellect(data: &[u8]) {
    use ferrocom_wire::iotellect::{BinaryFrame, Command, V2Frame};
    fn command(u: &mut Unstructured<'_>) {
        check_roundtrip!(Command<'_>, u, stream = false);
    }
    fn v2(u: &mut Unstructured<'_>) {
        check_roundtrip!(V2Frame<'_>, u, stream = true);
    }
    fn binary(u: &mut Unstructured<'_>) {
        check_roundtrip!(BinaryFrame<'_>, u, stream = true);
    }
    let mut u = Unstructured::new(data);
    match u.choose_index(3) {
        Ok(0) => command(&mut u),
        Ok(1) => v2(&mut u),
        _ => binary(&mut u),
    }
}

/// `mqtt311::Packet`: Arbitrary → encode → decode → equal.
pub fn roundtrip_mqtt311(data: &[u8]) {
    rt_mqtt_packet(&mut Unstructured::new(data));
}

// ---------------------------------------------------------------------------------------
// Zero-run compression and delta encoding

/// Block bytes before a frame is applied (recognisable, not zero).
fn initial_block(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
        .collect()
}

/// The zero-run transform and the receiver's `apply`, the sender's `compress` and the
/// delta transform. The whole input is a compressed stream for `ZeroRun::decode`; from
/// 4 bytes on, the first four are parameters (flags, block size, address, room) and the
/// rest is frame content for `apply` and raw block bytes for `compress` and delta.
///
/// * `ZeroRun::decode` appends at most `max_expanded_len` bytes, leaves the output as it
///   was on error, and what it expands encodes (C algorithm) to a stream that expands to
///   the same bytes;
/// * `compress` writes at most `room` bytes, strictly fewer than it consumed, that expand
///   to exactly the consumed bytes, and equal `ZeroRun::encode` when it consumed all;
/// * `apply` agrees with a model built on `ZeroRun::decode`: the same bytes written (or
///   added, for delta frames) from the address on, clipped at the block end, nothing else
///   touched, the covered range reported, the same errors;
/// * delta-encoding against a sync copy and applying the deltas to it gives the data.
pub fn zero_run(data: &[u8]) {
    let expanded = check_zero_run_decode(data);
    let [flags, size_lo, size_hi, at, content @ ..] = data else {
        return;
    };
    let size = usize::from(u16::from_le_bytes([*size_lo, *size_hi])) % 1024;
    // 0..=size+1: sometimes just beyond the block.
    let addr = usize::from(*at) * (size + 2) / 256;
    let room = usize::from(u16::from_le_bytes([*at, *size_lo])) % (content.len() + 16);
    let delta_frame = flags & 1 != 0;
    let compressed = flags & 2 != 0;

    check_apply(content, delta_frame, compressed, size, addr);
    check_compress(content, room);
    if let Some(expanded) = expanded {
        check_compress(&expanded, room);
    }
    check_delta(content, size);
}

/// Checks `ZeroRun::decode` on `input`; returns the expansion.
fn check_zero_run_decode(input: &[u8]) -> Option<Vec<u8>> {
    const BEFORE: u8 = 0xA5;
    let mut out = vec![BEFORE];
    if ZeroRun::decode(input, &mut out).is_err() {
        assert_eq!(out, [BEFORE], "failed decode changed its output");
        return None;
    }
    assert_eq!(out.first(), Some(&BEFORE), "decode overwrote its output");
    let expanded = out.split_off(1);
    assert!(
        expanded.len() <= zero_run::max_expanded_len(input.len()),
        "{} bytes expanded to {}",
        input.len(),
        expanded.len()
    );
    let mut encoded = Vec::new();
    ZeroRun::encode(&expanded, &mut encoded);
    let mut back = Vec::new();
    ZeroRun::decode(&encoded, &mut back).unwrap_or_else(|e| {
        panic!(
            "ZeroRun::encode output does not decode ({e}): {}",
            hex(&encoded)
        )
    });
    assert_eq!(
        back,
        expanded,
        "ZeroRun encode/decode of {} via {}",
        hex(input),
        hex(&encoded)
    );
    Some(expanded)
}

fn check_compress(src: &[u8], room: usize) {
    const BEFORE: u8 = 0x5A;
    let mut out = vec![BEFORE];
    match zero_run::compress(src, room, &mut out) {
        None => assert_eq!(out, [BEFORE], "compress returned None but wrote"),
        Some(consumed) => {
            let stream = &out[1..];
            assert!(src.len() >= 4, "compressed a {}-byte source", src.len());
            assert!(
                consumed <= src.len(),
                "consumed {consumed} of {}",
                src.len()
            );
            assert!(
                stream.len() < consumed,
                "compress output {} not smaller than the {consumed} bytes it consumed",
                stream.len()
            );
            assert!(
                stream.len() <= room,
                "compress wrote {} bytes into room {room}",
                stream.len()
            );
            let mut back = Vec::new();
            ZeroRun::decode(stream, &mut back)
                .unwrap_or_else(|e| panic!("compress output does not decode: {e}"));
            assert_eq!(
                back,
                &src[..consumed],
                "compress({}, room {room}) = {}",
                hex(src),
                hex(stream)
            );
            if consumed == src.len() {
                let mut full = Vec::new();
                ZeroRun::encode(src, &mut full);
                assert_eq!(full, stream, "compress and ZeroRun::encode differ");
            }
        }
    }
}

fn check_apply(content: &[u8], delta_frame: bool, compressed: bool, size: usize, addr: usize) {
    let initial = initial_block(size);
    let mut block = initial.clone();
    let result = zero_run::apply(content, delta_frame, compressed, &mut block, addr);
    let what = format!(
        "apply({}, delta {delta_frame}, compressed {compressed}, {size}-byte block, addr {addr})",
        hex(content)
    );
    if addr > size {
        assert_eq!(
            result,
            Err(ApplyError::AddressBeyondBlock {
                addr,
                block_size: size
            }),
            "{what}"
        );
        assert_eq!(block, initial, "{what}: a rejected frame wrote");
        return;
    }
    let model = if compressed {
        let mut v = Vec::new();
        ZeroRun::decode(content, &mut v).ok().map(|()| v)
    } else {
        Some(content.to_vec())
    };
    match (result, model) {
        (Ok(range), Some(bytes)) => {
            let end = size.min(addr + bytes.len());
            assert_eq!(range, ApplyRange { start: addr, end }, "{what}");
            let mut expect = initial;
            for (d, s) in expect[addr..end].iter_mut().zip(&bytes) {
                *d = if delta_frame { d.wrapping_add(*s) } else { *s };
            }
            assert_eq!(block, expect, "{what}");
        }
        // Content that does not decode is only accepted if the block end came first.
        (Ok(range), None) => {
            assert_eq!(range.start, addr, "{what}");
            assert_eq!(range.end, size, "{what}: accepted broken content");
        }
        (Err(ApplyError::LiteralOverrun { .. }), None) => {}
        (Err(e), model) => panic!("{what}: {e} (model: {model:?})"),
    }
}

fn check_delta(current: &[u8], size: usize) {
    let sync_copy = initial_block(size);
    let mut deltas = Vec::new();
    delta::encode(current, &sync_copy, &mut deltas);
    assert_eq!(deltas.len(), current.len());
    let mut target = sync_copy.clone();
    target.resize(size.max(current.len()), 0);
    delta::apply(&mut target, &deltas);
    assert_eq!(&target[..current.len()], current, "delta round trip");
    assert_eq!(
        &target[current.len()..],
        sync_copy.get(current.len()..).unwrap_or(&[]),
        "delta apply wrote beyond its data"
    );
}

// ---------------------------------------------------------------------------------------
// Packed JSON

/// The tree `unpack` returns for packed `tree`: what the packer changes on the way (see
/// `ferrocom_wire::packed_json`): skipped keys left out; empty strings become `Empty`;
/// floats equal to 0 and 1 the integers 0 and 1, other floats single precision (through
/// the C conversions); without "keep quirks" `null` becomes `Empty` and booleans 1 and 0.
pub fn packed_normal_form(v: &PackedValue, opts: &PackOptions) -> PackedValue {
    match v {
        PackedValue::Object(members) => PackedValue::Object(
            members
                .iter()
                .filter(|(k, _)| !opts.skip_keys.contains(k))
                .map(|(k, v)| (k.clone(), packed_normal_form(v, opts)))
                .collect(),
        ),
        PackedValue::Array(elements) => PackedValue::Array(
            elements
                .iter()
                .map(|e| packed_normal_form(e, opts))
                .collect(),
        ),
        PackedValue::String(s) if s.is_empty() => PackedValue::Empty,
        PackedValue::Float(x) if *x == 0.0 => PackedValue::Int(0),
        PackedValue::Float(x) if *x == 1.0 => PackedValue::Int(1),
        PackedValue::Float(x) => {
            let (m, e) = packed_json::float_to_ints(*x as f32);
            PackedValue::Float(f64::from(packed_json::ints_to_float(m, e)))
        }
        PackedValue::Null if !opts.keep_quirks => PackedValue::Empty,
        PackedValue::Bool(b) if !opts.keep_quirks => PackedValue::Int(i64::from(*b)),
        other => other.clone(),
    }
}

fn members(v: &PackedValue) -> &[(String, PackedValue)] {
    v.as_object()
        .unwrap_or_else(|| panic!("packed JSON root is not an object: {v:?}"))
}

/// `data` with the CRC of its packed JSON recomputed, if its two lengths fit; `None` if
/// they do not or the CRC was right.
fn with_fixed_crc(data: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader::exact(data);
    let dictionary = usize::try_from(r.intser().ok()?).ok()?;
    r.skip(dictionary).ok()?;
    let content = usize::try_from(r.intser().ok()?).ok()?;
    r.skip(content).ok()?;
    let end = r.pos();
    let crc = crc16_modbus(&data[..end]).to_le_bytes();
    let stored = data.get(end..end + 2)?;
    (stored != crc).then(|| {
        let mut fixed = data.to_vec();
        fixed[end..end + 2].copy_from_slice(&crc);
        fixed
    })
}

/// `packed_json::unpack`, on the input and (so that mutations get past the checksum) on
/// the input with its CRC recomputed. What unpacks packs again (keeping quirks) and
/// unpacks to the same tree up to the packer's normalisation, and packing that is a
/// fixpoint; the tree written as JSON text (`to_json_text`, what a server hands to the
/// signal-map parser) packs to the same bytes as the tree; the packed length is a prefix
/// of the input that unpacks alone.
pub fn packed_json(data: &[u8]) {
    check_unpack(data);
    if let Some(fixed) = with_fixed_crc(data) {
        check_unpack(&fixed);
    }
}

fn check_unpack(data: &[u8]) {
    let (root, len) = match packed_json::unpack_with_len(data) {
        Ok(r) => r,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert!(len <= data.len(), "packed length {len} of {}", data.len());
    assert_eq!(
        packed_json::unpack(&data[..len]).as_ref(),
        Ok(&root),
        "the packed prefix alone unpacks differently"
    );
    let opts = PackOptions {
        skip_keys: Vec::new(),
        keep_quirks: true,
    };
    let packed = packed_json::pack(members(&root), &opts)
        .unwrap_or_else(|e| panic!("unpacked tree does not pack: {e}\n{root:?}"));
    let again = match packed_json::unpack(&packed) {
        Ok(v) => v,
        // The input may have bought a larger text budget with unreferenced dictionary
        // bytes, which packing drops: then the repacked form may exceed its budget.
        Err(PackedJsonError::TooMuchText { .. }) => return,
        Err(e) => panic!("repacked tree does not unpack: {e}\n{}", hex(&packed)),
    };
    assert_eq!(
        again,
        packed_normal_form(&root, &opts),
        "unpack(pack(unpack(x))) for {}",
        hex(data)
    );
    let packed2 = packed_json::pack(members(&again), &opts)
        .unwrap_or_else(|e| panic!("normal form does not pack: {e}"));
    assert_eq!(packed2, packed, "packing the normal form is not a fixpoint");
    let text = root.to_json_text();
    let from_text = packed_json::pack_json_text(&text, &opts)
        .unwrap_or_else(|e| panic!("to_json_text output does not pack: {e}\n{text}"));
    assert_eq!(
        from_text, packed,
        "the JSON text of the tree packs differently:\n{text}"
    );
}

/// Tree generator for [`roundtrip_packed_json`].
struct TreeGen {
    /// Containers still allowed on the current path.
    depth_budget: usize,
    /// Values still allowed in the whole tree.
    size_budget: usize,
}

impl TreeGen {
    fn string(&mut self, u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
        const WORDS: [&str; 8] = ["title", "a", "b", "name", "type", "signals", "", "x y"];
        Ok(match u.int_in_range(0u8..=3)? {
            0 => WORDS[usize::from(u.int_in_range(0u8..=7)?)].to_string(),
            1 => packed_json::STATIC_DICTIONARY[usize::from(u.int_in_range(0u8..=38)?)].to_string(),
            _ => String::arbitrary(u)?,
        })
    }

    fn float(u: &mut Unstructured<'_>) -> arbitrary::Result<f64> {
        // Single-precision values as unpacking produces them, and the special cases.
        Ok(match u.int_in_range(0u8..=5)? {
            0 => 0.0,
            1 => 1.0,
            2 => -0.0,
            3 => f64::from(f32::from_bits(u.arbitrary()?)),
            _ => f64::from(packed_json::ints_to_float(
                i64::from(u.arbitrary::<i32>()?),
                i64::from(u.int_in_range(-130i16..=130)?),
            )),
        })
        .map(|x| if x.is_finite() { x } else { 0.5 })
    }

    fn value(&mut self, u: &mut Unstructured<'_>) -> arbitrary::Result<PackedValue> {
        self.size_budget = self.size_budget.saturating_sub(1);
        let containers = self.depth_budget > 0 && self.size_budget > 0;
        let kind = u.int_in_range(0u8..=11)?;
        Ok(match kind {
            0 | 1 if containers => {
                self.depth_budget -= 1;
                let n = u.int_in_range(0usize..=6)?;
                let v = if kind == 0 {
                    let mut m = Vec::new();
                    for _ in 0..n {
                        m.push((self.string(u)?, self.value(u)?));
                    }
                    PackedValue::Object(m)
                } else {
                    let mut a = Vec::new();
                    for _ in 0..n {
                        a.push(self.value(u)?);
                    }
                    PackedValue::Array(a)
                };
                self.depth_budget += 1;
                v
            }
            2 => PackedValue::String(self.string(u)?),
            3 => PackedValue::Int(u.arbitrary()?),
            4 => PackedValue::Int(i64::from(u.int_in_range(-2i8..=2)?)),
            5 => PackedValue::Float(Self::float(u)?),
            6 => PackedValue::Null,
            7 => PackedValue::Bool(u.arbitrary()?),
            8 => PackedValue::Empty,
            // A chain of nested arrays around the nesting limit.
            9 if containers => {
                let n = u.int_in_range(packed_json::MAX_DEPTH - 4..=packed_json::MAX_DEPTH + 2)?;
                let mut v = PackedValue::Int(7);
                for _ in 0..n {
                    v = PackedValue::Array(vec![v]);
                }
                v
            }
            _ => PackedValue::Int(0),
        })
    }
}

/// Levels of objects and arrays, counting `v` itself.
fn nesting(v: &PackedValue, opts: &PackOptions) -> usize {
    match v {
        PackedValue::Object(m) => {
            1 + m
                .iter()
                .filter(|(k, _)| !opts.skip_keys.contains(k))
                .map(|(_, v)| nesting(v, opts))
                .max()
                .unwrap_or(0)
        }
        PackedValue::Array(a) => 1 + a.iter().map(|v| nesting(v, opts)).max().unwrap_or(0),
        _ => 0,
    }
}

/// True if a (not skipped) key or string contains NUL.
fn has_nul(v: &PackedValue, opts: &PackOptions) -> bool {
    match v {
        PackedValue::Object(m) => m
            .iter()
            .filter(|(k, _)| !opts.skip_keys.contains(k))
            .any(|(k, v)| k.contains('\0') || has_nul(v, opts)),
        PackedValue::Array(a) => a.iter().any(|v| has_nul(v, opts)),
        PackedValue::String(s) => s.contains('\0'),
        _ => false,
    }
}

/// Structure-aware packed JSON: an arbitrary tree (nesting up to and beyond the limit,
/// dictionary and other strings, single-precision floats, quirks) packed with arbitrary
/// options. Packing fails exactly for NUL in a string or nesting beyond `MAX_DEPTH`;
/// otherwise the bytes unpack to the tree's normal form, and the tree written as JSON
/// text packs to the same bytes.
pub fn roundtrip_packed_json(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let opts = PackOptions {
        skip_keys: if u.arbitrary().unwrap_or(false) {
            vec!["title".to_string()]
        } else {
            Vec::new()
        },
        keep_quirks: u.arbitrary().unwrap_or(false),
    };
    let mut generator = TreeGen {
        depth_budget: 8,
        size_budget: 200,
    };
    let mut root = Vec::new();
    for _ in 0..u.int_in_range(0usize..=8).unwrap_or(0) {
        let (Ok(k), Ok(v)) = (generator.string(&mut u), generator.value(&mut u)) else {
            break;
        };
        root.push((k, v));
    }
    let tree = PackedValue::Object(root);
    let nul = has_nul(&tree, &opts);
    let deep = nesting(&tree, &opts) > packed_json::MAX_DEPTH;
    let bytes = match packed_json::pack(members(&tree), &opts) {
        Ok(b) => {
            assert!(
                !nul && !deep,
                "packed a tree with NUL {nul} / too deep {deep}"
            );
            b
        }
        Err(PackedJsonError::NulInString) if nul => return,
        Err(PackedJsonError::TooDeep { .. }) if deep => return,
        Err(e) => panic!("pack failed: {e} (NUL {nul}, too deep {deep})\n{tree:?}"),
    };
    let back = packed_json::unpack(&bytes)
        .unwrap_or_else(|e| panic!("packed tree does not unpack: {e}\n{}", hex(&bytes)));
    assert_eq!(
        back,
        packed_normal_form(&tree, &opts),
        "pack/unpack of {tree:?}"
    );
    let text = tree.to_json_text();
    // The text holds the skipped members too (`title` subtrees), and the JSON reader
    // bounds nesting before anything is skipped: a text nested deeper than MAX_DEPTH is
    // refused, which is right. Only a text within the limit must pack the same.
    let text_nesting = nesting(
        &tree,
        &PackOptions {
            skip_keys: Vec::new(),
            ..opts.clone()
        },
    );
    match packed_json::pack_json_text(&text, &opts) {
        Ok(from_text) => assert_eq!(from_text, bytes, "the JSON text packs differently:\n{text}"),
        Err(PackedJsonError::Json { .. }) if text_nesting > packed_json::MAX_DEPTH => {}
        Err(e) => panic!("to_json_text output does not pack: {e}\n{text}"),
    }
}

// ---------------------------------------------------------------------------------------
// Iotellect Data Tables

/// The format a `datatable` input's receiver knows: none, one integer (a variable's
/// value), all ten types nullable with a table field whose default has a format (so
/// nested tables may leave theirs out), or one table field.
pub fn datatable_known(selector: u8) -> Option<TableFormat> {
    let nested_default = DataTable::new(TableFormat::single(FieldFormat::new(
        "x",
        FieldType::Integer,
    )));
    match selector & 3 {
        0 => None,
        1 => Some(TableFormat::single(FieldFormat::new(
            "value",
            FieldType::Integer,
        ))),
        2 => Some(TableFormat::new(
            FieldType::ALL
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let f = FieldFormat::new(format!("f{i}"), *t);
                    if *t == FieldType::Table {
                        f.with_default(nested_default.clone().into())
                    } else {
                        f.nullable()
                    }
                })
                .collect(),
        )),
        _ => Some(TableFormat::new(vec![FieldFormat::new(
            "t",
            FieldType::Table,
        )])),
    }
}

/// Data Table text -> `DataTable::decode`. The first byte chooses: bits 0-1 the format
/// the receiver knows ([`datatable_known`]), bit 2 V3 rather than V4 (nested tables
/// escaped again), bit 3 visible separators; the rest is the text.
///
/// An error has an offset inside the text. A table that decodes encodes (with its
/// format unless it is the known one); that encoding decodes, and encodes to the same
/// bytes again, decoding to the same table (one pass settles what the decoder reads
/// leniently: `true` for 1, month 13, a format id used for two formats). In the visible
/// syntax a decoded string may hold what that syntax cannot write (its separators come
/// back from escapes), so there an encoding error is allowed.
pub fn datatable(data: &[u8]) {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let known = datatable_known(selector);
    let version = if selector & 4 == 0 {
        datatable::Version::V4
    } else {
        datatable::Version::V3
    };
    let mut options = DecodeOptions::new(version);
    options.known_format = known.as_ref();
    let visible = selector & 8 != 0;
    if visible {
        options = options.visible();
    }
    let table = match DataTable::decode(text, &options) {
        Ok(t) => t,
        Err(e) => {
            let at = e.offset().expect("a decoding error has an offset");
            assert!(
                at <= text.len(),
                "offset {at} past the text ({}): {e}",
                text.len()
            );
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let mut encode = EncodeOptions::new(version);
    encode.syntax = options.syntax;
    encode.include_format = known.as_ref() != Some(&table.format) || table.format_id.is_some();
    let once = match table.encode(&encode) {
        Ok(bytes) => bytes,
        Err(e) if visible && matches!(e.kind(), datatable::ErrorKind::Unencodable(_)) => return,
        Err(e) => panic!("decoded table does not encode: {e}\n{}", hex(text)),
    };
    let again = DataTable::decode(&once, &options)
        .unwrap_or_else(|e| panic!("encoding does not decode: {e}\n{}", hex(&once)));
    let twice = again
        .encode(&encode)
        .unwrap_or_else(|e| panic!("re-decoded table does not encode: {e}\n{}", hex(&once)));
    assert!(
        twice == once,
        "encoding is not a fixpoint:\n{}\n{}",
        hex(&once),
        hex(&twice)
    );
    let third = DataTable::decode(&twice, &options).expect("decodes as before");
    assert!(third == again, "decodes differently:\n{}", hex(&twice));
}
