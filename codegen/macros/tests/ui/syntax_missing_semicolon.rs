// Syntax error: the `;` after field `id` is missing.
ferrocom_macros::protocol_str!(r#"
protocol demo {
  byte_order big;
  frame Ping {
    id: u16
    seq: u8;
  }
}
"#);

fn main() {}
