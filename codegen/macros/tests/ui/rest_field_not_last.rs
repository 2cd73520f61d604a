// A `..` field that is not the last field of its record.
ferrocom_macros::protocol_str!(r#"
protocol demo {
  byte_order big;
  frame Chunk {
    payload: bytes[..];
    crc: u16;
  }
}
"#);

fn main() {}
