//! `ferrocom device`: a simulated IOCOM device from a signal map, whose signals are set
//! from the command line or a script, and which prints what the server writes to it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use ferrocom_codegen::signals::load_map;
use ferrocom_runtime::device::{Device, DeviceConfig, DeviceEvent, DeviceHandle, DeviceNumber};
use ferrocom_runtime::signal::SignalValue;
use ferrocom_spec::signals::SignalMap;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::connect::{ConnectArgs, init_logging};

/// Exit code for unusable input.
const BAD_INPUT: u8 = 2;

/// Arguments of `ferrocom device`.
#[derive(Debug, Args)]
#[command(
    about = "Run a simulated IOCOM device from a signal map, setting its signals from flags or a script",
    long_about = "Runs an IOCOM device with the memory blocks of a signal map (signals.json, or a merge list), \
publishing the map in its info block like a real board. It connects to the server, reconnects with back-off, \
and prints one line per event on standard output: `connected`, `disconnected: REASON`, and \
`write BLOCK.SIGNAL = VALUE (state 0xNN)` for every downward signal the server writes.\n\n\
Signals of upward blocks are set with --set BLOCK.SIGNAL=VALUE (before connecting; sent on connect) \
and by a script (--script FILE, or - for standard input), one command per line:\n\n  \
set BLOCK.SIGNAL VALUE        also BLOCK.SIGNAL=VALUE; a signal name alone if it is unique\n  \
get BLOCK.SIGNAL              print the device's own value\n  \
sleep DURATION                e.g. 500ms, 2s\n  \
wait connected                until the server accepted the device\n  \
wait write BLOCK.SIGNAL [VALUE]  until the server writes that signal (that value)\n  \
quit                          stop the device\n  \
# ...                         a comment\n\n\
Values: numbers (41.5, -3, 0x1F), booleans (true/false, on/off, 1/0), text, arrays as [1, 2, 3]. \
When the script ends the device keeps running until Ctrl-C (or `quit`).",
    after_help = "Examples:\n  ferrocom device --map gina-signals.json --connect tcp://127.0.0.1 --set exp.potentiometer=41.5\n  \
ferrocom device --map signals.json --connect tls://server.local --ca certs/ca.pem --password secret\n  \
printf 'wait connected\\nset counter 7\\nsleep 1s\\nquit\\n' | ferrocom device --map signals.json --script -"
)]
pub struct DeviceArgs {
    /// The signal map (signals.json) or a merge list.
    #[arg(long, value_name = "FILE")]
    map: PathBuf,

    #[command(flatten)]
    connect: ConnectArgs,

    /// Device name. Default: the map's name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// IO network.
    #[arg(long, value_name = "NAME", default_value = "cafenet")]
    network: String,

    /// Device number; default: automatic (the server assigns one and remembers it).
    #[arg(long, value_name = "N")]
    number: Option<u32>,

    /// Password (sent over TLS only).
    #[arg(long, value_name = "PASSWORD", default_value = "")]
    password: String,

    /// Set a signal before connecting: BLOCK.SIGNAL=VALUE (repeatable).
    #[arg(long = "set", value_name = "BLOCK.SIGNAL=VALUE")]
    sets: Vec<String>,

    /// Run a script of commands (see above); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
}

/// `block.signal` (or a unique signal name) → (block, signal).
fn resolve(map: &SignalMap, name: &str) -> Result<(String, String), String> {
    if let Some((b, s)) = name.split_once('.') {
        return match map.signal(b, s) {
            Some(_) => Ok((b.into(), s.into())),
            None => Err(format!("no signal {name} in the map")),
        };
    }
    let hits: Vec<&str> = map
        .blocks
        .iter()
        .filter(|b| b.signal(name).is_some())
        .map(|b| b.name.as_str())
        .collect();
    match hits.as_slice() {
        [b] => Ok(((*b).into(), name.into())),
        [] => Err(format!("no signal {name} in the map")),
        many => Err(format!(
            "signal {name} is in several blocks ({}); write BLOCK.{name}",
            many.join(", ")
        )),
    }
}

fn parse_value(
    map: &SignalMap,
    block: &str,
    signal: &str,
    text: &str,
) -> Result<SignalValue, String> {
    let sig = map
        .signal(block, signal)
        .ok_or_else(|| format!("no signal {block}.{signal} in the map"))?;
    SignalValue::parse(sig, text).map_err(|e| format!("{block}.{signal}: {e}"))
}

fn set(dev: &DeviceHandle, map: &SignalMap, name: &str, text: &str) -> Result<(), String> {
    let (block, signal) = resolve(map, name)?;
    let value = parse_value(map, &block, &signal, text)?;
    dev.set(&block, &signal, value).map_err(|e| e.to_string())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((t, "s"), |i| (&t[..i], &t[i..]));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {text:?} (e.g. 500ms, 2s)"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" | "min" => n * 60.0,
        u => return Err(format!("bad duration unit {u:?} (ms, s, min)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("bad duration {text:?}"))
}

fn print_event(e: &DeviceEvent) {
    match e {
        DeviceEvent::Connected => println!("connected"),
        DeviceEvent::Disconnected { reason } => println!("disconnected: {reason}"),
        DeviceEvent::Write {
            block,
            signal,
            value,
            state,
        } => println!(
            "write {block}.{signal} = {value} (state {:#04x})",
            state.bits()
        ),
        _ => {}
    }
}

/// One script command. `Ok(false)` ends the device (`quit`).
async fn command(
    dev: &DeviceHandle,
    map: &SignalMap,
    events: &mut ferrocom_runtime::device::DeviceEvents,
    line: &str,
) -> Result<bool, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(true);
    }
    let (cmd, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    match cmd {
        "quit" | "exit" => return Ok(false),
        "set" => {
            let (name, value) = rest
                .split_once('=')
                .or_else(|| rest.split_once(char::is_whitespace))
                .ok_or_else(|| "usage: set BLOCK.SIGNAL VALUE".to_string())?;
            set(dev, map, name.trim(), value)?;
        }
        "get" => {
            let (block, signal) = resolve(map, rest)?;
            let (v, st) = dev.get(&block, &signal).map_err(|e| e.to_string())?;
            println!("{block}.{signal} = {v} (state {:#04x})", st.bits());
        }
        "sleep" => tokio::time::sleep(parse_duration(rest)?).await,
        "wait" => {
            let (what, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            match what {
                "connected" => dev.wait_connected().await,
                "write" => {
                    let arg = arg.trim();
                    let (name, want) = arg
                        .split_once(char::is_whitespace)
                        .map_or((arg, None), |(n, v)| (n, Some(v)));
                    let (block, signal) = resolve(map, name)?;
                    let want = want
                        .map(|v| parse_value(map, &block, &signal, v))
                        .transpose()?;
                    loop {
                        let Some(e) = events.recv().await else {
                            return Err("the device stopped".into());
                        };
                        print_event(&e);
                        if let DeviceEvent::Write {
                            block: b,
                            signal: s,
                            value,
                            ..
                        } = &e
                            && *b == block
                            && *s == signal
                            && want.as_ref().is_none_or(|w| w == value)
                        {
                            break;
                        }
                    }
                }
                _ => return Err("usage: wait connected | wait write BLOCK.SIGNAL [VALUE]".into()),
            }
        }
        other => {
            if let Some((name, value)) = line.split_once('=') {
                set(dev, map, name.trim(), value)?;
            } else {
                return Err(format!(
                    "unknown command {other:?} (set, get, sleep, wait, quit)"
                ));
            }
        }
    }
    Ok(true)
}

/// Runs `ferrocom device`.
pub fn run(args: DeviceArgs) -> ExitCode {
    init_logging("warn");
    let map = match load_map(&args.map, &[]) {
        Ok(m) => {
            for w in &m.warnings {
                eprintln!("warning: {w}");
            }
            m.map
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let connect = match args.connect.to_connect() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let Some(name) = args.name.clone().or_else(|| map.name.clone()) else {
        eprintln!("error: the map has no name; give --name");
        return ExitCode::from(BAD_INPUT);
    };
    crate::connect::block_on(async move {
        let mut cfg = DeviceConfig::new(&name, &args.network, map.clone(), connect);
        cfg.password = args.password.clone();
        if let Some(n) = args.number {
            cfg.number = DeviceNumber::Fixed(n);
        }
        let dev = match Device::start(cfg) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(BAD_INPUT);
            }
        };
        let mut events = dev.subscribe();
        for s in &args.sets {
            let Some((n, v)) = s.split_once('=') else {
                eprintln!("error: --set {s}: use BLOCK.SIGNAL=VALUE");
                return ExitCode::from(BAD_INPUT);
            };
            if let Err(e) = set(&dev, &map, n.trim(), v) {
                eprintln!("error: --set {s}: {e}");
                return ExitCode::from(BAD_INPUT);
            }
        }
        let code = drive(&dev, &map, &mut events, args.script.as_ref()).await;
        dev.shutdown().await;
        code
    })
}

async fn drive(
    dev: &DeviceHandle,
    map: &SignalMap,
    events: &mut ferrocom_runtime::device::DeviceEvents,
    script: Option<&PathBuf>,
) -> ExitCode {
    if let Some(path) = script {
        let reader: Box<dyn tokio::io::AsyncRead + Unpin + Send> = if path.as_os_str() == "-" {
            Box::new(tokio::io::stdin())
        } else {
            match tokio::fs::File::open(path).await {
                Ok(f) => Box::new(f),
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    return ExitCode::from(BAD_INPUT);
                }
            }
        };
        let mut lines = BufReader::new(reader).lines();
        let mut n = 0usize;
        loop {
            // Events are printed while waiting for the next line.
            let line = tokio::select! {
                l = lines.next_line() => l,
                Some(e) = events.recv() => { print_event(&e); continue; }
                _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
            };
            let line = match line {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("error: reading the script: {e}");
                    return ExitCode::FAILURE;
                }
            };
            n += 1;
            match command(dev, map, events, &line).await {
                Ok(true) => {}
                Ok(false) => return ExitCode::SUCCESS,
                Err(e) => {
                    // A typo at a prompt should not end the device; a script file stops.
                    eprintln!("error: line {n}: {e}");
                    if path.as_os_str() != "-" {
                        return ExitCode::from(BAD_INPUT);
                    }
                }
            }
        }
    }
    loop {
        tokio::select! {
            e = events.recv() => match e {
                Some(e) => print_event(&e),
                None => return ExitCode::FAILURE,
            },
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        }
    }
}
