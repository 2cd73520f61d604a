//! `ferrocom spy ADDRESS`: a live table of an IO network's signals, updated in place.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use ferrocom_runtime::signal::SignalValue;
use ferrocom_runtime::spy::{Spy, SpyConfig, SpyDevice};
use ferrocom_wire::signals::State;

use crate::connect::{TlsArgs, init_logging};

/// Arguments of `ferrocom spy`.
#[derive(Debug, Args)]
#[command(
    about = "Show a live table of an IO network's signals, updated in place",
    long_about = "Connects to an IOCOM server the way IOCOM's i-spy does (as the upper end, so the server \
shares every device it has), reads each device's signal map from its info block, and shows every signal \
that devices send up with its value and state, updated in place. It never writes anything: the devices' \
downward blocks (the server's values) are not shown.\n\n\
STATE is `ok` (connected), `off` (not connected: the device is away or never set it), `orange`, `yellow` \
or `red`. On a terminal the table is redrawn in place; otherwise (piped) one table is printed per change, \
at most one per --interval. --once prints a single table when the devices' maps are known and exits.",
    after_help = "Examples:\n  ferrocom spy tcp://127.0.0.1\n  ferrocom spy tls://server.local --ca certs/ca.pem --network cafenet\n  \
ferrocom spy 127.0.0.1:6368 --once > snapshot.txt"
)]
pub struct SpyArgs {
    /// The server: tcp://HOST[:PORT] (6368), tls://HOST[:PORT] (6369) or
    /// serial:PATH[@BAUD].
    #[arg(value_name = "ADDRESS")]
    address: String,

    #[command(flatten)]
    tls: TlsArgs,

    /// IO network to watch.
    #[arg(long, value_name = "NAME", default_value = "cafenet")]
    network: String,

    /// Password (sent over TLS only; the spy authenticates as device `spy`).
    #[arg(long, value_name = "PASSWORD", default_value = "")]
    password: String,

    /// Shortest time between two redraws, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 250)]
    interval: u64,

    /// Print one table once every device seen has its map, then exit.
    #[arg(long)]
    once: bool,

    /// With --once: give up (exit status 1) after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    timeout: u64,
}

fn state_word(s: State) -> &'static str {
    let bits = s.bits();
    match (bits & 0x02 != 0, bits & 0x0C) {
        (_, 0x0C) => "red",
        (_, 0x04) => "orange",
        (_, 0x08) => "yellow",
        (true, _) => "ok",
        (false, _) => "off",
    }
}

fn value_text(v: &SignalValue) -> String {
    let t = v.to_string();
    // Long arrays and strings would push the table apart.
    if t.chars().count() > 40 {
        let cut: String = t.chars().take(37).collect();
        format!("{cut}...")
    } else {
        t
    }
}

/// The table as text: a header line, then one row per signal.
fn table(address: &str, network: &str, connected: bool, devices: &[SpyDevice]) -> String {
    let mut rows: Vec<[String; 5]> = Vec::new();
    for d in devices {
        if !d.has_map {
            rows.push([
                d.device.to_string(),
                String::new(),
                "(signal map not received yet)".into(),
                String::new(),
                String::new(),
            ]);
        }
        for b in &d.blocks {
            for s in &b.signals {
                let (v, st) = match &s.value {
                    Ok((v, st)) => (value_text(v), state_word(*st).to_string()),
                    Err(e) => (format!("unreadable: {e}"), String::new()),
                };
                rows.push([d.device.to_string(), b.name.clone(), s.name.clone(), v, st]);
            }
        }
    }
    let head = ["DEVICE", "BLOCK", "SIGNAL", "VALUE", "STATE"];
    let mut widths = head.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ferrocom spy: {address}, network {network}, {}, {} device(s)",
        if connected {
            "connected"
        } else {
            "not connected (retrying)"
        },
        devices.len()
    );
    let line = |out: &mut String, cells: [&str; 5]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let _ = write!(l, "{c:<w$}  ", w = widths[i]);
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(&mut out, head);
    for r in &rows {
        line(&mut out, [&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    out
}

/// Runs `ferrocom spy`.
pub fn run(args: SpyArgs) -> ExitCode {
    init_logging("warn");
    let connect = match args.tls.to_connect(&args.address) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    crate::connect::block_on(async move {
        let mut cfg = SpyConfig::new(&args.network, connect);
        cfg.password = args.password.clone();
        let spy = match Spy::start(cfg) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let code = if args.once {
            once(&spy, &args).await
        } else {
            live(&spy, &args).await
        };
        spy.shutdown().await;
        code
    })
}

async fn once(spy: &ferrocom_runtime::spy::SpyHandle, args: &SpyArgs) -> ExitCode {
    let mut changes = spy.changes();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let devs = spy.snapshot();
        if spy.connected() && !devs.is_empty() && devs.iter().all(|d| d.has_map) {
            // Let the key frames that follow the maps arrive.
            tokio::time::sleep(Duration::from_millis(args.interval)).await;
            print!(
                "{}",
                table(&args.address, &args.network, true, &spy.snapshot())
            );
            return ExitCode::SUCCESS;
        }
        if tokio::time::timeout_at(deadline, changes.changed())
            .await
            .is_err()
        {
            eprintln!(
                "error: {} after {} s",
                if spy.connected() {
                    "no device with a signal map"
                } else {
                    "could not connect"
                },
                args.timeout
            );
            print!(
                "{}",
                table(&args.address, &args.network, spy.connected(), &devs)
            );
            return ExitCode::FAILURE;
        }
    }
}

async fn live(spy: &ferrocom_runtime::spy::SpyHandle, args: &SpyArgs) -> ExitCode {
    let tty = std::io::stdout().is_terminal();
    let mut changes = spy.changes();
    let interval = Duration::from_millis(args.interval.max(10));
    loop {
        let text = table(
            &args.address,
            &args.network,
            spy.connected(),
            &spy.snapshot(),
        );
        let mut out = std::io::stdout().lock();
        let written = if tty {
            // Home, draw, clear what is left of the previous (longer) table.
            write!(out, "\x1b[H{}\x1b[J", text.replace('\n', "\x1b[K\n"))
        } else {
            writeln!(out, "{text}")
        };
        if written.and_then(|()| out.flush()).is_err() {
            // The reader went away (e.g. `| head`).
            return ExitCode::SUCCESS;
        }
        drop(out);
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
            _ = async {
                tokio::time::sleep(interval).await;
                // Redraw on change; on a terminal also every few seconds (the header
                // tells whether the spy is still connected).
                let _ = tokio::time::timeout(Duration::from_secs(if tty { 2 } else { 3600 }), changes.changed()).await;
            } => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        assert_eq!(state_word(State::CONNECTED), "ok");
        assert_eq!(state_word(State::NONE), "off");
        assert_eq!(state_word(State::from_bits(0x06)), "orange");
        assert_eq!(state_word(State::from_bits(0x0A)), "yellow");
        assert_eq!(state_word(State::from_bits(0x0E)), "red");
    }
}
