// Unknown field in an expression: the size names `lenght`, the field is `length`.
ferrocom_macros::protocol_str!(r#"
protocol demo {
  byte_order big;
  frame Blob {
    length: u16;
    data: bytes[lenght];
  }
}
"#);

fn main() {}
