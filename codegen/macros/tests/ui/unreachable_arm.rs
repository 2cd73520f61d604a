// An arm that can never match: 0x12 is already matched by the range arm above it.
ferrocom_macros::protocol_str!(r#"
protocol demo {
  byte_order big;
  frame Packet {
    kind: u8 = tag(body);
    body: Body(kind);
  }
  union Body(kind: u8) {
    0x10..=0x1F => Short(Short(kind)) = self.kind;
    0x12 => Ping;
    _ => reject;
  }
  record Short(kind: u8) {
    value: u8;
  }
}
"#);

fn main() {}
