//! The example in the repository README, kept compiling and true.
#![allow(clippy::unwrap_used)]

use ferrocom_wire::codec::Decoded;
use ferrocom_wire::mqtt311::{Packet, PacketBody};

#[test]
fn readme_publish_example() -> Result<(), ferrocom_wire::codec::DecodeError> {
    let bytes = [0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i'];
    match Packet::decode(&bytes)? {
        Decoded::Complete(packet, used) => {
            assert_eq!(used, bytes.len());
            let PacketBody::Publish(p) = &packet.body else {
                panic!("not a PUBLISH: {packet:?}")
            };
            assert_eq!((p.topic, p.payload), ("a/b", &b"hi"[..]));
        }
        Decoded::Incomplete(more) => panic!("need {more} more bytes"),
    }
    Ok(())
}
