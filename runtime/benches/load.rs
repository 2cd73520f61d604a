//! Load benchmark of the IOCOM runtime (results and method: BENCHMARKS.md, "Runtime").
//!
//! ```text
//! cargo bench -p ferrocom-runtime --bench load                 # 1000, 2000, 5000, 10000 devices
//! FERROCOM_LOAD_DEVICES=500,3000 FERROCOM_LOAD_SECS=10 cargo bench -p ferrocom-runtime --bench load
//! ```
//!
//! The server runs in a child process (this program started again with
//! `FERROCOM_LOAD_SERVER=1`), so that its memory and CPU time are its own. For each step
//! the devices (runtime `Device`s, in this process) connect over TCP on 127.0.0.1, the
//! server's resident memory is read before and after (memory per idle connection), then
//! every device updates `exp.counter` at 10 Hz for `FERROCOM_LOAD_SECS` (default 10) while
//! 20 probe devices measure round trips: a probe sets `exp.probe = n`, the server writes
//! `imp.echo = n` back when it sees it, and the probe waits for that write (device →
//! server → device). Reported: updates the server received per second, round-trip p50 /
//! p99 / max, the server's CPU use and memory.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrocom_runtime::device::{
    Backoff, Connect, Device, DeviceConfig, DeviceEvent, DeviceHandle, DeviceNumber,
};
use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerEvent};
use ferrocom_runtime::signal::SignalValue;
use ferrocom_spec::signals::SignalMap;

const MAP: &str = r#"{"name": "loadtest", "mblk": [
  {"name": "exp", "flags": "up", "groups": [{"name": "g", "signals": [
    {"name": "counter", "type": "uint"}, {"name": "probe", "type": "uint"}]}]},
  {"name": "imp", "flags": "down", "groups": [{"name": "g", "signals": [
    {"name": "echo", "type": "uint"}]}]}
]}"#;

const PROBES: usize = 20;
const RATE_HZ: u64 = 10;

// ---- the server process -------------------------------------------------------------

/// Runs the server; prints `port N`, then answers commands on stdin: `stats` prints
/// `stats <updates received> <rss kB> <cpu ticks>`.
fn server_main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = std::env::temp_dir().join(format!("ferrocom-load-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&db);
        let mut cfg = ServerConfig::new("cafenet", &db);
        cfg.endpoints
            .push(Endpoint::Tcp("127.0.0.1:0".parse().unwrap()));
        let server = Arc::new(Server::start(cfg).await.unwrap());
        let updates = Arc::new(AtomicU64::new(0));
        let mut events = server.subscribe().into_inner();
        let (s2, u2) = (server.clone(), updates.clone());
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ServerEvent::SignalChanged {
                        device,
                        signal,
                        value,
                        state,
                        ..
                    }) if state.is_connected() => {
                        u2.fetch_add(1, Ordering::Relaxed);
                        if signal == "probe" {
                            let _ = s2.write_signal(&device, "imp", "echo", value);
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("server: event consumer lagged by {n}");
                    }
                    Err(_) => break,
                }
            }
        });
        println!("port {}", server.local_addrs()[0].port());
        let stdin = tokio::io::stdin();
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdin));
        while let Ok(Some(l)) = lines.next_line().await {
            if l.trim() == "stats" {
                println!(
                    "stats {} {} {}",
                    updates.load(Ordering::Relaxed),
                    rss_kb(std::process::id()),
                    cpu_ticks(std::process::id())
                );
            }
        }
        let _ = std::fs::remove_file(&db);
    });
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks (100 per second on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

// ---- the device side ----------------------------------------------------------------

struct ServerProc {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl ServerProc {
    fn start() -> (ServerProc, u16) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("FERROCOM_LOAD_SERVER", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("port ").unwrap().parse().unwrap();
        (ServerProc { child, out }, port)
    }

    /// (updates received, RSS kB, CPU ticks).
    fn stats(&mut self) -> (u64, u64, u64) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "stats").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        (v[0], v[1], v[2])
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn step(port: u16, server: &mut ServerProc, n: usize, secs: u64) {
    let map = SignalMap::from_json_str("load map", MAP).unwrap().0;
    let (_, rss0, _) = server.stats();
    let t0 = Instant::now();
    let mut devices: Vec<DeviceHandle> = Vec::with_capacity(n);
    for i in 0..n {
        let mut cfg = DeviceConfig::new(
            &format!("d{i}"),
            "cafenet",
            map.clone(),
            Connect::Tcp(format!("127.0.0.1:{port}")),
        );
        cfg.number = DeviceNumber::Fixed(1);
        cfg.backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        devices.push(Device::start(cfg).unwrap());
        if i % 200 == 199 {
            // Let the accept queue drain.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for d in &devices {
        tokio::time::timeout(Duration::from_secs(120), d.wait_connected())
            .await
            .expect("devices did not all connect within 120 s");
    }
    let connect_time = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await; // settle: maps learned, key frames
    let (u_idle, rss1, _) = server.stats();
    let per_conn = (rss1.saturating_sub(rss0)) as f64 * 1024.0 / n as f64;

    let stop = Arc::new(tokio::sync::Notify::new());
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut tasks = tokio::task::JoinSet::new();
    let devices: Vec<Arc<DeviceHandle>> = devices.into_iter().map(Arc::new).collect();
    for (i, d) in devices.iter().enumerate().skip(PROBES) {
        let (d, running) = (d.clone(), running.clone());
        tasks.spawn(async move {
            // Spread the devices' ticks over the period.
            let period = Duration::from_millis(1000 / RATE_HZ);
            tokio::time::sleep(period * (i as u32 % 100) / 100).await;
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut c: u32 = 0;
            while running.load(Ordering::Relaxed) {
                tick.tick().await;
                c = c.wrapping_add(1);
                let _ = d.set("exp", "counter", c);
            }
            Vec::new()
        });
    }
    for d in devices.iter().take(PROBES) {
        let (d, running) = (d.clone(), running.clone());
        tasks.spawn(async move {
            let mut lat = Vec::new();
            let mut ev = d.subscribe();
            let mut n: u32 = 0;
            while running.load(Ordering::Relaxed) {
                n += 1;
                let start = Instant::now();
                let _ = d.set("exp", "probe", n);
                let got = tokio::time::timeout(Duration::from_secs(5), async {
                    loop {
                        match ev.recv().await {
                            Some(DeviceEvent::Write { signal, value, .. })
                                if signal == "echo" && value == SignalValue::Int(n.into()) =>
                            {
                                return true;
                            }
                            Some(_) => {}
                            None => return false,
                        }
                    }
                })
                .await;
                if got == Ok(true) {
                    lat.push(start.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(1000 / RATE_HZ)).await;
            }
            lat
        });
    }
    let (u0, _, cpu0) = server.stats();
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (u1, rss2, cpu1) = server.stats();
    let elapsed = t.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    stop.notify_waiters();
    let mut lat = Vec::new();
    while let Some(r) = tasks.join_next().await {
        lat.extend(r.unwrap());
    }
    lat.sort();
    let offered = (n as f64) * RATE_HZ as f64;
    let got = (u1 - u0) as f64 / elapsed;
    let cpu = (cpu1 - cpu0) as f64 / 100.0 / elapsed * 100.0;
    println!(
        "| {n} | {:.1} s | {:.0} | {:.0} ({:.0} %) | {} | {:.2} | {:.2} | {:.2} | {:.0} % | {:.1} MiB | {:.1} KiB |",
        connect_time.as_secs_f64(),
        offered,
        got,
        got / offered * 100.0,
        lat.len(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        cpu,
        rss2 as f64 / 1024.0,
        per_conn / 1024.0,
    );
    let _ = u_idle;
    for d in devices {
        if let Ok(d) = Arc::try_unwrap(d) {
            d.shutdown().await;
        }
    }
    // Let the server notice every disconnection before the next step.
    tokio::time::sleep(Duration::from_secs(2)).await;
}

fn main() {
    if std::env::var_os("FERROCOM_LOAD_SERVER").is_some() {
        return server_main();
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep that short.
    let testing = !std::env::args().any(|a| a == "--bench");
    let steps: Vec<usize> = std::env::var("FERROCOM_LOAD_DEVICES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| {
            if testing {
                vec![50]
            } else {
                vec![1000, 2000, 5000, 10000]
            }
        });
    let secs: u64 = std::env::var("FERROCOM_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if testing { 2 } else { 10 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut server, port) = ServerProc::start();
    println!(
        "| devices | connect all | offered updates/s | received updates/s | round trips | p50 ms | p99 ms | max ms | server CPU | server RSS | RSS per idle connection |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in steps {
        rt.block_on(step(port, &mut server, n.max(PROBES + 1), secs));
    }
}
