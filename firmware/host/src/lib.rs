//! Runs a ferrocom device-core [`Board`] on a host, the way the example boards' simulators
//! do: the same `Device` under the core's blocking [`Runner`] (std `TcpStream` with read
//! timeouts or a serial port, `std::time::Instant`; no async runtime) or under tokio.
//!
//! * [`TcpTransport`], [`SerialTransport`]: the core's [`Transport`] over std sockets and
//!   serial ports (a pty in the tests); [`StdClock`]: its [`Clock`].
//! * [`run_blocking`], [`run_tokio`]: keep a device connected until a stop signal.
//! * [`Options`], [`run_board`]: the simulators' command line (`--runner tokio|blocking`,
//!   `--connect tcp://HOST:PORT | serial:PATH[@BAUD]`, `--network`, `--seconds`).

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferrocom_device_core::{
    Backoff, Board, BoardSpec, Clock, Device, Link, Millis, RX_CHUNK, Runner, Transport,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

/// Milliseconds since the clock was made.
#[derive(Debug, Clone, Copy)]
pub struct StdClock {
    epoch: Instant,
}

impl StdClock {
    /// A clock reading 0 now.
    pub fn new() -> Self {
        StdClock {
            epoch: Instant::now(),
        }
    }
}

impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for StdClock {
    fn now_ms(&self) -> Millis {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn sleep_ms(&self, ms: Millis) {
        std::thread::sleep(Duration::from_millis(ms.max(1)));
    }
}

fn wait_duration(wait_ms: Millis) -> Duration {
    // A zero timeout means "block forever" to std and serialport: wait at least 1 ms.
    Duration::from_millis(wait_ms.clamp(1, 60_000))
}

/// A blocking TCP connection to a server (`host:port`), reopened by the runner.
#[derive(Debug)]
pub struct TcpTransport {
    addr: String,
    stream: Option<TcpStream>,
}

impl TcpTransport {
    /// Connects to `addr` (`host:port`) when the runner opens it.
    pub fn new(addr: &str) -> Self {
        TcpTransport {
            addr: addr.to_string(),
            stream: None,
        }
    }
}

fn not_open() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the link is not open")
}

impl Transport for TcpTransport {
    type Error = io::Error;

    fn open(&mut self) -> io::Result<()> {
        let mut last = io::Error::new(
            io::ErrorKind::NotFound,
            format!("`{}` resolves to no address", self.addr),
        );
        for addr in self.addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
                Ok(s) => {
                    s.set_nodelay(true)?;
                    self.stream = Some(s);
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn read(&mut self, buf: &mut [u8], wait_ms: Millis) -> io::Result<usize> {
        let s = self.stream.as_mut().ok_or_else(not_open)?;
        s.set_read_timeout(Some(wait_duration(wait_ms)))?;
        match s.read(buf) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )),
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let s = self.stream.as_mut().ok_or_else(not_open)?;
        s.write_all(data)?;
        Ok(data.len())
    }

    fn close(&mut self) {
        self.stream = None;
    }
}

/// A blocking serial port (8N1), or an already open one (a pty in the tests).
pub struct SerialTransport {
    path: Option<(String, u32)>,
    port: Option<serialport::TTYPort>,
}

impl std::fmt::Debug for SerialTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialTransport")
            .field("path", &self.path)
            .field("open", &self.port.is_some())
            .finish()
    }
}

impl SerialTransport {
    /// Opens `path` at `baud` when the runner opens it.
    pub fn new(path: &str, baud: u32) -> Self {
        SerialTransport {
            path: Some((path.to_string(), baud)),
            port: None,
        }
    }

    /// Uses a port that is already open (it cannot be reopened after a failure).
    pub fn from_port(port: serialport::TTYPort) -> Self {
        SerialTransport {
            path: None,
            port: Some(port),
        }
    }
}

impl Transport for SerialTransport {
    type Error = io::Error;

    fn open(&mut self) -> io::Result<()> {
        if self.port.is_some() {
            return Ok(());
        }
        let Some((path, baud)) = &self.path else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the serial port was given open and has been closed",
            ));
        };
        let port = serialport::new(path, *baud)
            .timeout(Duration::from_millis(10))
            .open_native()
            .map_err(io::Error::from)?;
        self.port = Some(port);
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], wait_ms: Millis) -> io::Result<usize> {
        use serialport::SerialPort;
        let p = self.port.as_mut().ok_or_else(not_open)?;
        p.set_timeout(wait_duration(wait_ms))
            .map_err(io::Error::from)?;
        match p.read(buf) {
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let p = self.port.as_mut().ok_or_else(not_open)?;
        p.write_all(data)?;
        Ok(data.len())
    }

    fn close(&mut self) {
        if self.path.is_some() {
            self.port = None;
        }
    }
}

/// Runs `device` over `transport` with the core's blocking [`Runner`] until `stop` is
/// set; every fault is logged (WARN) and handled by the runner (reopen, back-off).
pub fn run_blocking<B: Board, T: Transport, const N: usize>(
    device: &mut Device<'_, B, N>,
    transport: &mut T,
    clock: &StdClock,
    backoff: Backoff,
    stop: &AtomicBool,
) {
    let mut runner = Runner::new(backoff);
    while !stop.load(Ordering::Relaxed) {
        if let Err(fault) = runner.step(device, transport, clock) {
            tracing::warn!("{fault}");
        }
    }
    transport.close();
    device.disconnect(clock.now_ms());
}

enum SessionEnd {
    Stop,
    Failed(String),
}

/// Runs `device` under tokio until `stop` turns `true`: `open` makes a new stream (TCP
/// or serial) for each attempt; failures are logged (WARN) and retried with back-off, the
/// board running in between. The same `Device` and board as [`run_blocking`].
pub async fn run_tokio<B, S, F, Fut, const N: usize>(
    device: &mut Device<'_, B, N>,
    mut open: F,
    clock: &StdClock,
    backoff: Backoff,
    mut stop: watch::Receiver<bool>,
) where
    B: Board,
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let mut delay = backoff.initial;
    loop {
        if *stop.borrow() {
            return;
        }
        match open().await {
            Ok(stream) => {
                device.connect(clock.now_ms());
                let end = session(device, stream, clock, &mut stop, &mut delay, backoff).await;
                device.disconnect(clock.now_ms());
                match end {
                    SessionEnd::Stop => return,
                    SessionEnd::Failed(why) => {
                        tracing::warn!("{why} (reconnect in {delay} ms)");
                    }
                }
            }
            Err(e) => tracing::warn!("cannot open the link: {e} (retry in {delay} ms)"),
        }
        // Closed: the board keeps running until the retry.
        let until = clock.now_ms().saturating_add(delay);
        delay = delay.saturating_mul(2).min(backoff.max);
        loop {
            let now = clock.now_ms();
            if now >= until {
                break;
            }
            let _ = device.poll(now);
            let wake = device.next_wake().min(until);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wake.saturating_sub(now).max(1))) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

async fn session<B: Board, S: AsyncRead + AsyncWrite + Unpin, const N: usize>(
    device: &mut Device<'_, B, N>,
    mut stream: S,
    clock: &StdClock,
    stop: &mut watch::Receiver<bool>,
    delay: &mut Millis,
    backoff: Backoff,
) -> SessionEnd {
    let serial = device.link() == Link::Serial;
    let mut buf = [0u8; RX_CHUNK];
    loop {
        if let Err(e) = device.poll(clock.now_ms()) {
            if !serial {
                return SessionEnd::Failed(format!("IOCOM session dropped: {e}"));
            }
            tracing::warn!("IOCOM session dropped: {e}; link restarted");
        }
        let out = device.transmit();
        if !out.is_empty() {
            let n = out.len();
            if let Err(e) = stream.write_all(out).await {
                return SessionEnd::Failed(format!("link failed: {e}"));
            }
            device.transmitted(n);
        }
        if device.is_connected() {
            *delay = backoff.initial;
        }
        let wait = device.next_wake().saturating_sub(clock.now_ms());
        tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(0) => return SessionEnd::Failed("link failed: the server closed the connection".into()),
                Ok(n) => {
                    let bytes = buf.get(..n).unwrap_or(&buf);
                    if let Err(e) = device.handle_input(bytes, clock.now_ms()) {
                        if !serial {
                            return SessionEnd::Failed(format!("IOCOM session dropped: {e}"));
                        }
                        tracing::warn!("IOCOM session dropped: {e}; link restarted");
                    }
                }
                Err(e) => return SessionEnd::Failed(format!("link failed: {e}")),
            },
            _ = tokio::time::sleep(Duration::from_millis(wait.max(1))) => {}
            _ = stop.changed() => return SessionEnd::Stop,
        }
    }
}

/// Which loop runs the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerKind {
    /// The core's blocking [`Runner`] on std sockets / serial ports.
    Blocking,
    /// [`run_tokio`].
    Tokio,
}

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `tcp://host:port` (or `host:port`).
    Tcp(String),
    /// `serial:/dev/ttyUSB0@115200` (baud optional, default 115200).
    Serial {
        /// Device path.
        path: String,
        /// Baud rate.
        baud: u32,
    },
}

impl Endpoint {
    /// Parses `tcp://host:port`, `host:port` or `serial:PATH[@BAUD]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(rest) = text.strip_prefix("serial:") {
            let (path, baud) = match rest.rsplit_once('@') {
                Some((p, b)) => (
                    p,
                    b.parse()
                        .map_err(|_| format!("`{b}` in `{text}` is not a baud rate"))?,
                ),
                None => (rest, 115_200),
            };
            if path.is_empty() {
                return Err(format!("`{text}` names no serial port"));
            }
            return Ok(Endpoint::Serial {
                path: path.to_string(),
                baud,
            });
        }
        let addr = text.strip_prefix("tcp://").unwrap_or(text);
        if !addr.contains(':') {
            return Err(format!(
                "`{text}` is neither tcp://HOST:PORT nor serial:PATH[@BAUD]"
            ));
        }
        Ok(Endpoint::Tcp(addr.to_string()))
    }

    /// The link kind the engine uses on it.
    pub fn link(&self) -> Link {
        match self {
            Endpoint::Tcp(_) => Link::Socket,
            Endpoint::Serial { .. } => Link::Serial,
        }
    }
}

/// A board simulator's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--runner tokio|blocking` (default blocking).
    pub runner: RunnerKind,
    /// `--connect` (default `tcp://127.0.0.1:6368`).
    pub endpoint: Endpoint,
    /// `--network` (default `cafenet`).
    pub network: String,
    /// `--seconds N`: stop after N seconds (default: run until killed).
    pub seconds: Option<u64>,
}

/// Usage text of the simulators.
pub const USAGE: &str = "options: [--runner tokio|blocking] [--connect tcp://HOST:PORT | serial:PATH[@BAUD]] [--network NAME] [--seconds N]";

impl Options {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut o = Options {
            runner: RunnerKind::Blocking,
            endpoint: Endpoint::Tcp("127.0.0.1:6368".into()),
            network: "cafenet".into(),
            seconds: None,
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--runner" => {
                    o.runner = match value()?.as_str() {
                        "tokio" => RunnerKind::Tokio,
                        "blocking" => RunnerKind::Blocking,
                        other => {
                            return Err(format!(
                                "--runner takes `tokio` or `blocking`, not `{other}`"
                            ));
                        }
                    }
                }
                "--connect" => o.endpoint = Endpoint::parse(&value()?)?,
                "--network" => o.network = value()?,
                "--seconds" => {
                    let v = value()?;
                    o.seconds = Some(
                        v.parse()
                            .map_err(|_| format!("--seconds takes a number, not `{v}`"))?,
                    );
                }
                other => return Err(format!("unknown option `{other}`; {USAGE}")),
            }
        }
        Ok(o)
    }
}

/// Runs `board` (identity and blocks from `spec`, network from `opts`) as `opts` say:
/// blocks the calling thread until `--seconds` have passed (or forever). Returns the board
/// so a caller can look at its final state.
pub fn run_board<B: Board, const N: usize>(
    spec: &BoardSpec<'_, N>,
    board: B,
    opts: &Options,
) -> Result<B, String> {
    let spec = BoardSpec {
        network: &opts.network,
        ..*spec
    };
    let clock = StdClock::new();
    let link = opts.endpoint.link();
    let mut memory = std::vec![0u8; spec.memory_size(link)];
    let mut device =
        Device::new(&spec, link, board, clock.now_ms(), &mut memory).map_err(|e| e.to_string())?;
    let backoff = Backoff::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop = Arc::new(AtomicBool::new(false));
    // Without `--seconds` the sender stays here, so `stop.changed()` never fires.
    let _keep_open = match opts.seconds {
        Some(secs) => {
            let stop = stop.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(secs));
                stop.store(true, Ordering::Relaxed);
                let _ = stop_tx.send(true);
            });
            None
        }
        None => Some(stop_tx),
    };
    match opts.runner {
        RunnerKind::Blocking => match &opts.endpoint {
            Endpoint::Tcp(addr) => {
                let mut t = TcpTransport::new(addr);
                run_blocking(&mut device, &mut t, &clock, backoff, &stop);
            }
            Endpoint::Serial { path, baud } => {
                let mut t = SerialTransport::new(path, *baud);
                run_blocking(&mut device, &mut t, &clock, backoff, &stop);
            }
        },
        RunnerKind::Tokio => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start tokio: {e}"))?;
            rt.block_on(async {
                match &opts.endpoint {
                    Endpoint::Tcp(addr) => {
                        let open = || tokio::net::TcpStream::connect(addr.clone());
                        run_tokio(&mut device, open, &clock, backoff, stop_rx).await;
                    }
                    Endpoint::Serial { path, baud } => {
                        let open = || async {
                            tokio_serial::SerialStream::open(&tokio_serial::new(path, *baud))
                                .map_err(io::Error::from)
                        };
                        run_tokio(&mut device, open, &clock, backoff, stop_rx).await;
                    }
                }
            });
        }
    }
    Ok(device.into_board())
}
