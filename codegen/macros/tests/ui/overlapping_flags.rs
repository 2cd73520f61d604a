// Overlapping flag bits: `READY` (0x03) and `ERROR` (0x02) share bit 0x02.
ferrocom_macros::protocol_str!(r#"
protocol demo {
  byte_order little;
  flags Status: u8 {
    READY = 0x03,
    ERROR = 0x02,
  }
  frame Report {
    status: Status;
  }
}
"#);

fn main() {}
