use ferrocom_macros::Signals;

#[derive(Signals)]
#[signals(block = "exp", flags = "sideways")]
struct Exp {
    name: String,
    count: u16,
    #[signal(name = "count")]
    other: u16,
    #[signal(type = "float")]
    wrong: i32,
    #[signal(str)]
    text: [u16; 4],
    #[signal(colour = "red")]
    painted: bool,
    this_signal_name_is_far_too_long_for_iocom: u8,
}

fn main() {}
