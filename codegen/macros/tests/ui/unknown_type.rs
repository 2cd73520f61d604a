// Unknown type: `Knd` is not declared (`Kind` is).
ferrocom_macros::protocol_str!(r#"
protocol demo {
  byte_order big;
  enum Kind: u8 { PING = 1, PONG = 2 }
  frame Message {
    kind: Knd;
    id: u16;
  }
}
"#);

fn main() {}
