use ferrocom_macros::Signals;

#[derive(Signals)]
#[signals(block = "exp")]
struct Exp {
    a: u32,
    #[signal(addr = 2)]
    b: u16,
}

fn main() {}
