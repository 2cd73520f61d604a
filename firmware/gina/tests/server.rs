//! gina's board code against the ferrocom server: over TCP with the blocking runner (a
//! std thread, std::net, no async runtime) and with the tokio runner, and over a serial
//! pty pair. The server learns gina's map from the info block, sees the simulated
//! potentiometer move, and its writes reach the simulated outputs; a spy sees the live
//! signals through the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrocom_board_gina::{Gina, GinaPins, sim::SimPins, spec};
use ferrocom_device_core::{Backoff, Clock, Device, Link};
use ferrocom_firmware_host::{SerialTransport, StdClock, TcpTransport, run_blocking, run_tokio};
use ferrocom_runtime::device::Connect;
use ferrocom_runtime::iocom::Transport;
use ferrocom_runtime::server::{DeviceRef, Endpoint, Server, ServerConfig, ServerHandle};
use ferrocom_runtime::signal::SignalValue;
use ferrocom_runtime::spy::{Spy, SpyConfig};

fn temp_db(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "ferrocom-gina-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("server.db")
}

async fn start_server(tag: &str, tcp: bool) -> ServerHandle {
    let mut cfg = ServerConfig::new("cafenet", temp_db(tag));
    if tcp {
        cfg.endpoints
            .push(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
    }
    Server::start(cfg).await.unwrap()
}

/// Waits until the server knows gina with its map; returns her.
async fn wait_gina(server: &ServerHandle) -> DeviceRef {
    for _ in 0..200 {
        if let Some(d) = server
            .devices()
            .into_iter()
            .find(|d| d.device.name == "gina" && d.has_map && d.connected)
        {
            return d.device;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "gina never connected; the server has {:?}",
        server.devices()
    );
}

fn float(server: &ServerHandle, gina: &DeviceRef, signal: &str) -> f64 {
    match server.read_signal(gina, "exp", signal).unwrap().0 {
        SignalValue::Float(v) => v,
        other => panic!("{signal} is {other:?}"),
    }
}

/// The potentiometer follows its sine: two readings 300 ms apart differ, both in range.
async fn check_potentiometer_moves(server: &ServerHandle, gina: &DeviceRef) {
    let a = float(server, gina, "potentiometer");
    let mut b = a;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        b = float(server, gina, "potentiometer");
        if b != a {
            break;
        }
    }
    assert_ne!(a, b, "the potentiometer did not move");
    for v in [a, b] {
        assert!((0.0..=4095.0).contains(&v), "potentiometer {v}");
    }
    assert_eq!(
        server.read_signal(gina, "exp", "teststr").unwrap().0,
        SignalValue::Str("gina".into())
    );
}

fn write_outputs(server: &ServerHandle, gina: &DeviceRef) {
    server.write_signal(gina, "imp", "myoutput", true).unwrap();
    server
        .write_signal(gina, "imp", "dimmer_led", 300u16)
        .unwrap();
    server
        .write_signal(gina, "imp", "strtodevice", "hello gina")
        .unwrap();
}

async fn wait_outputs(pins: impl Fn() -> SimPins) {
    for _ in 0..100 {
        let p = pins();
        if p.led && p.dimmer == 300 && p.text == "hello gina" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("outputs never set: {:?}", pins());
}

/// Runs gina with the blocking runner in a std thread; the shared pins copy lets the test
/// look at the outputs while it runs.
struct Pins(Arc<std::sync::Mutex<SimPins>>);

impl GinaPins for Pins {
    fn potentiometer(&mut self, now: u64) -> f32 {
        self.0.lock().unwrap().potentiometer(now)
    }
    fn in_x(&mut self, now: u64) -> bool {
        self.0.lock().unwrap().in_x(now)
    }
    fn set_led(&mut self, on: bool) {
        self.0.lock().unwrap().set_led(on)
    }
    fn set_dimmer(&mut self, duty: u16) {
        self.0.lock().unwrap().set_dimmer(duty)
    }
    fn set_segments(&mut self, s: [bool; 8]) {
        self.0.lock().unwrap().set_segments(s)
    }
    fn show_text(&mut self, text: &str) {
        self.0.lock().unwrap().show_text(text)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_runner_over_tcp() {
    let server = start_server("blocking", true).await;
    let addr = server.local_addrs()[0].to_string();
    let pins = Arc::new(std::sync::Mutex::new(SimPins::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (pins, stop) = (Pins(pins.clone()), stop.clone());
        std::thread::spawn(move || {
            let clock = StdClock::new();
            let spec = spec("cafenet", *b"gina-block-1");
            let mut mem = vec![0u8; spec.memory_size(Link::Socket)];
            let mut dev = Device::new(
                &spec,
                Link::Socket,
                Gina::new(pins),
                clock.now_ms(),
                &mut mem,
            )
            .unwrap();
            let mut t = TcpTransport::new(&addr);
            run_blocking(&mut dev, &mut t, &clock, Backoff::default(), &stop);
        })
    };
    let gina = wait_gina(&server).await;
    check_potentiometer_moves(&server, &gina).await;
    write_outputs(&server, &gina);
    wait_outputs(|| pins.lock().unwrap().clone()).await;
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_runner_over_tcp_and_a_spy_sees_the_signals() {
    let server = start_server("tokio", true).await;
    let addr = server.local_addrs()[0].to_string();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = {
        let addr = addr.clone();
        tokio::spawn(async move {
            let clock = StdClock::new();
            let spec = spec("cafenet", *b"gina-tokio-1");
            let mut mem = vec![0u8; spec.memory_size(Link::Socket)];
            let mut dev = Device::new(
                &spec,
                Link::Socket,
                Gina::new(SimPins::default()),
                0,
                &mut mem,
            )
            .unwrap();
            let open = || tokio::net::TcpStream::connect(addr.clone());
            run_tokio(&mut dev, open, &clock, Backoff::default(), stop_rx).await;
            dev.into_board()
        })
    };
    let gina = wait_gina(&server).await;
    check_potentiometer_moves(&server, &gina).await;

    let spy = Spy::start(SpyConfig::new("cafenet", Connect::Tcp(addr))).unwrap();
    let mut seen = None;
    for _ in 0..200 {
        let snap = spy.snapshot();
        let pot = snap
            .iter()
            .filter(|d| d.device.name == "gina" && d.has_map)
            .flat_map(|d| d.blocks.iter().filter(|b| b.name == "exp"))
            .flat_map(|b| b.signals.iter().filter(|s| s.name == "potentiometer"))
            .find_map(|s| s.value.as_ref().ok().map(|(v, _)| v.clone()));
        if let Some(SignalValue::Float(v)) = pot {
            match seen {
                None => seen = Some(v),
                // A second, different value: the spy sees the signal live.
                Some(first) if first != v => break,
                Some(_) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = seen.expect("the spy never showed gina's potentiometer");
    let now = float(&server, &gina, "potentiometer");
    assert!((0.0..=4095.0).contains(&first));
    assert!((0.0..=4095.0).contains(&now));
    spy.shutdown().await;

    write_outputs(&server, &gina);
    // The board runs inside the task: stop it once the write had time, then look.
    let mut board = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if server
            .read_signal(&gina, "imp", "myoutput")
            .is_ok_and(|(v, _)| v == SignalValue::Bool(true))
        {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stop_tx.send(true).unwrap();
            board = Some(task.await.unwrap());
            break;
        }
    }
    let board = board.expect("the write never took");
    let pins = board.pins();
    assert!(pins.led, "{pins:?}");
    assert_eq!(pins.dimmer, 300);
    assert_eq!(pins.text, "hello gina");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_runner_over_a_serial_pty() {
    let server = start_server("serial", false).await;
    let (board_end, server_end) = serialport::TTYPort::pair().unwrap();
    let server_end = tokio_serial::SerialStream::try_from(server_end).unwrap();
    server.serve_stream(server_end, Transport::Serial, "pty");
    let pins = Arc::new(std::sync::Mutex::new(SimPins::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (pins, stop) = (Pins(pins.clone()), stop.clone());
        std::thread::spawn(move || {
            let clock = StdClock::new();
            let spec = spec("cafenet", [0; 12]);
            let mut mem = vec![0u8; spec.memory_size(Link::Serial)];
            let mut dev = Device::new(
                &spec,
                Link::Serial,
                Gina::new(pins),
                clock.now_ms(),
                &mut mem,
            )
            .unwrap();
            let mut t = SerialTransport::from_port(board_end);
            run_blocking(&mut dev, &mut t, &clock, Backoff::default(), &stop);
        })
    };
    let gina = wait_gina(&server).await;
    check_potentiometer_moves(&server, &gina).await;
    write_outputs(&server, &gina);
    wait_outputs(|| pins.lock().unwrap().clone()).await;
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();
    server.shutdown().await;
}
