//! Round-trip properties for every message type of every spec, over values built by the
//! generated `Arbitrary` implementations (the same ones cargo-fuzz uses):
//!
//! * encode → decode → equal, consuming exactly the encoded bytes;
//! * canonical bytes → decode → encode → the same bytes;
//! * `encoded_len` equals what `encode` wrote;
//! * for stream frames, every strict prefix decodes as `Incomplete`, never as an error
//!   or a different message.
#![cfg(feature = "arbitrary")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arbitrary::{Arbitrary, Unstructured};
use ferrocom_wire::codec::Decoded;
use ferrocom_wire::{iocom, mqtt311, switchbox};
use proptest::prelude::*;

/// Builds a message from random bytes; inputs that do not make an encodable message are
/// rejected (and counted by proptest, which fails the test if there are too many).
macro_rules! roundtrip {
    ($test:ident, $ty:ty, stream = $stream:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig { cases: 400, max_global_rejects: 4000, ..ProptestConfig::default() })]
            #[test]
            fn $test(seed in proptest::collection::vec(any::<u8>(), 0..1500)) {
                let mut u = Unstructured::new(&seed);
                let msg = <$ty>::arbitrary(&mut u);
                prop_assume!(msg.is_ok());
                let msg = msg.unwrap();
                let mut bytes = Vec::new();
                let n = msg.encode(&mut bytes).unwrap();
                prop_assert_eq!(n, bytes.len());
                prop_assert_eq!(msg.encoded_len(), n, "encoded_len");
                match <$ty>::decode(&bytes) {
                    Ok(Decoded::Complete(back, used)) => {
                        prop_assert_eq!(used, n);
                        prop_assert_eq!(&back, &msg);
                        let mut again = Vec::new();
                        back.encode(&mut again).unwrap();
                        prop_assert_eq!(&again, &bytes);
                    }
                    other => prop_assert!(false, "decode of {:02x?} gave {:?}", bytes, other),
                }
                let exact = <$ty>::decode_exact(&bytes);
                prop_assert_eq!(exact.as_ref(), Ok(&msg));
                if $stream {
                    for cut in 0..n {
                        match <$ty>::decode(&bytes[..cut]) {
                            Ok(Decoded::Incomplete(k)) => prop_assert!(k >= 1),
                            other => prop_assert!(false, "prefix {} of {:02x?} gave {:?}", cut, bytes, other),
                        }
                    }
                }
            }
        }
    };
}

roundtrip!(iocom_socket_item, iocom::SocketItem<'_>, stream = true);
roundtrip!(iocom_serial_item, iocom::SerialItem<'_>, stream = true);
roundtrip!(
    iocom_client_handshake,
    iocom::ClientHandshake<'_>,
    stream = true
);
roundtrip!(iocom_tls_mark, iocom::TlsMark, stream = true);
roundtrip!(
    iocom_certificate_answer,
    iocom::CertificateAnswer<'_>,
    stream = true
);
roundtrip!(
    iocom_system_message,
    iocom::SystemMessage<'_>,
    stream = false
);
roundtrip!(
    iocom_authentication,
    iocom::Authentication<'_>,
    stream = false
);
roundtrip!(
    iocom_memory_block_info,
    iocom::MemoryBlockInfo<'_>,
    stream = false
);
roundtrip!(iocom_remove_request, iocom::RemoveRequest, stream = false);
roundtrip!(switchbox_message, switchbox::Message<'_>, stream = true);
roundtrip!(mqtt_packet, mqtt311::Packet<'_>, stream = true);
roundtrip!(mqtt_connect, mqtt311::Connect<'_>, stream = false);
roundtrip!(mqtt_connack, mqtt311::Connack, stream = false);
roundtrip!(mqtt_subscribe, mqtt311::Subscribe<'_>, stream = false);
roundtrip!(mqtt_suback, mqtt311::Suback, stream = false);
roundtrip!(mqtt_unsubscribe, mqtt311::Unsubscribe<'_>, stream = false);
roundtrip!(mqtt_packet_id, mqtt311::PacketId, stream = false);

/// Every arm of the MQTT packet union is reached by the generator (so the round trip
/// above covers all 14 packet types, not just the easy ones).
#[test]
fn mqtt_generator_reaches_every_packet_type() {
    let mut seen = std::collections::BTreeSet::new();
    // A fixed xorshift sequence: the test is deterministic.
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..20_000 {
        let seed: Vec<u8> = (0..256).map(|_| rand_byte(&mut rng)).collect();
        if let Ok(p) = mqtt311::Packet::arbitrary(&mut Unstructured::new(&seed)) {
            let mut b = Vec::new();
            p.encode(&mut b).unwrap();
            seen.insert(b[0] >> 4);
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        (1..=14).collect::<Vec<u8>>()
    );
}

fn rand_byte(state: &mut u64) -> u8 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 32) as u8
}

/// The Iotellect codec: text commands (separated records) and both framings.
#[cfg(feature = "iotellect")]
mod iotellect_roundtrip {
    use super::*;
    use ferrocom_wire::iotellect::{
        BinaryFrame, Command, CommandBody, MessageBody, OperationBody, V2Frame,
    };

    roundtrip!(iotellect_command, Command<'_>, stream = false);
    roundtrip!(iotellect_v2_frame, V2Frame<'_>, stream = true);
    roundtrip!(iotellect_binary_frame, BinaryFrame<'_>, stream = true);

    /// The generator reaches every command form, with and without optional parts.
    #[test]
    fn generator_reaches_every_command_form() {
        let mut seen = std::collections::BTreeSet::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..40_000 {
            let seed: Vec<u8> = (0..96)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng as u8
                })
                .collect();
            let Ok(c) = Command::arbitrary(&mut Unstructured::new(&seed)) else {
                continue;
            };
            let form = match &c.body {
                CommandBody::Reply(r) => format!("reply/{}", r.params.len().min(2)),
                CommandBody::Message(m) => match &m.body {
                    MessageBody::Start(s) => format!("start/{}", s.version.is_some()),
                    MessageBody::Event(e) => format!("event/{}", e.server_id.is_some()),
                    MessageBody::Operation(o) => match &o.body {
                        OperationBody::GetVariable(_) => "get".to_string(),
                        OperationBody::SetVariable(s) => format!("set/{}", s.queue.is_some()),
                        OperationBody::CallFunction(f) => {
                            format!("call/{}/{}", f.queue.is_some(), f.flags.is_some())
                        }
                        OperationBody::AddListener(_) => "add".to_string(),
                        OperationBody::RemoveListener(_) => "remove".to_string(),
                    },
                },
            };
            seen.insert(form);
        }
        for form in [
            "reply/0",
            "reply/1",
            "reply/2",
            "start/false",
            "start/true",
            "event/false",
            "event/true",
            "get",
            "set/false",
            "set/true",
            "call/false/false",
            "call/true/false",
            "call/true/true",
            "add",
            "remove",
        ] {
            assert!(seen.contains(form), "never generated {form}: {seen:?}");
        }
    }
}
