//! `ferrocom cert`, `server`, `device` and `spy`, run as programs on loopback: a TLS
//! server from a config file and generated certificates, a scripted device, a spy that
//! prints the live table, account management, and errors with exit code 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrocom"))
}

fn ferrocom(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p =
            std::env::temp_dir().join(format!("ferrocom-cli-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
    fn s(&self, f: &str) -> String {
        self.path(f).to_str().unwrap().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running command, killed when dropped; its standard output read line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line (from now on) containing `needle`.
    fn wait_line(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; output so far: {:#?}", self.seen),
            }
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for the process to end by itself.
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(std::time::Instant::now() < deadline, "process did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const MAP: &str = r#"{"name": "gina", "mblk": [
  {"name": "exp", "flags": "up", "groups": [{"name": "g", "signals": [
    {"name": "potentiometer", "type": "float"},
    {"name": "counter", "type": "uint"},
    {"name": "label", "type": "str", "array": 12}]}]},
  {"name": "imp", "flags": "down", "groups": [{"name": "h", "signals": [
    {"name": "setpoint", "type": "ushort"}]}]}
]}"#;

fn port_of(listening_line: &str) -> u16 {
    listening_line
        .rsplit(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn cert_writes_four_pem_files_and_never_overwrites_silently() {
    let dir = Scratch::new("cert");
    let out = ferrocom(&["cert", "--out", &dir.s("c"), "--name", "gw.local"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for f in ["ca.pem", "ca.key", "server.pem", "server.key"] {
        let t = std::fs::read_to_string(dir.path("c").join(f)).unwrap();
        assert!(t.starts_with("-----BEGIN "), "{f}: {t}");
    }
    let chain = std::fs::read_to_string(dir.path("c/server.pem")).unwrap();
    assert_eq!(
        chain.matches("BEGIN CERTIFICATE").count(),
        2,
        "server, then CA"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path("c/server.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is private to its owner: {mode:o}");
    }
    let again = ferrocom(&["cert", "--out", &dir.s("c")]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("--force"),
        "{}",
        text(&again.stderr)
    );
    assert!(
        ferrocom(&["cert", "--out", &dir.s("c"), "--force"])
            .status
            .success()
    );
}

#[test]
fn accounts_are_added_listed_and_removed() {
    let dir = Scratch::new("acc");
    let db = dir.s("a.db");
    let add = ferrocom(&[
        "server",
        "accounts",
        "--db",
        &db,
        "add",
        "gina*",
        "--password",
        "pw",
        "--network",
        "cafenet",
    ]);
    assert!(add.status.success(), "{}", text(&add.stderr));
    let mut piped = bin()
        .args([
            "server",
            "accounts",
            "--db",
            &db,
            "add",
            "frank",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    piped
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"s3cret\n")
        .unwrap();
    assert!(piped.wait_with_output().unwrap().status.success());
    let list = text(&ferrocom(&["server", "accounts", "--db", &db, "list"]).stdout);
    assert!(
        list.contains("gina*\tnetworks: cafenet\tpassword: set"),
        "{list}"
    );
    assert!(list.contains("frank\tnetworks: *"), "{list}");
    assert!(
        !list.contains("s3cret") && !list.contains("pw"),
        "no passwords shown: {list}"
    );
    assert!(
        ferrocom(&["server", "accounts", "--db", &db, "remove", "frank"])
            .status
            .success()
    );
    let gone = ferrocom(&["server", "accounts", "--db", &db, "remove", "frank"]);
    assert!(!gone.status.success());
    assert!(text(&gone.stderr).contains("no account frank"));
}

/// TLS server from a config file, a scripted TLS device with a password, a TCP spy.
#[test]
fn server_device_and_spy_over_tls_and_tcp() {
    let dir = Scratch::new("e2e");
    assert!(
        ferrocom(&["cert", "--out", &dir.s("certs")])
            .status
            .success()
    );
    let db = dir.s("server.db");
    assert!(
        ferrocom(&[
            "server",
            "accounts",
            "--db",
            &db,
            "add",
            "gina",
            "--password",
            "pw"
        ])
        .status
        .success()
    );
    std::fs::write(
        dir.path("server.toml"),
        "network = \"cafenet\"\ndatabase = \"server.db\"\ntcp = [\"127.0.0.1:0\"]\nlog_signals = true\n\
         [tls]\nlisten = \"127.0.0.1:0\"\ncert = \"certs/server.pem\"\nkey = \"certs/server.key\"\n",
    )
    .unwrap();
    std::fs::write(dir.path("map.json"), MAP).unwrap();

    let mut server = Running::start(bin().args(["server", "--config", &dir.s("server.toml")]));
    let tcp = port_of(&server.wait_line("listening on"));
    let tls = port_of(&server.wait_line("listening on"));

    let mut device = Running::start(bin().args([
        "device",
        "--map",
        &dir.s("map.json"),
        "--connect",
        &format!("tls://127.0.0.1:{tls}"),
        "--ca",
        &dir.s("certs/ca.pem"),
        "--password",
        "pw",
        "--set",
        "exp.potentiometer=41.5",
        "--script",
        "-",
    ]));
    device.send("wait connected");
    device.send("set counter 7");
    device.send("label=hello spy");
    device.send("get exp.counter");
    assert_eq!(
        device.wait_line("exp.counter ="),
        "exp.counter = 7 (state 0x03)"
    );
    server.wait_line("connected gina9001.cafenet");
    server.wait_line("signal counter.exp.gina9001.cafenet = 7 (state 0x03)");

    let spy = ferrocom(&["spy", &format!("127.0.0.1:{tcp}"), "--once"]);
    assert!(spy.status.success(), "{}", text(&spy.stderr));
    let table = text(&spy.stdout);
    let row = |sig: &str| {
        table
            .lines()
            .find(|l| l.contains(&format!(" {sig} ")))
            .unwrap_or_else(|| panic!("no row for {sig} in\n{table}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("potentiometer"),
        ["gina9001.cafenet", "exp", "potentiometer", "41.5", "ok"]
    );
    assert_eq!(
        row("counter"),
        ["gina9001.cafenet", "exp", "counter", "7", "ok"]
    );
    assert!(table.contains("\"hello spy\""), "{table}");
    assert!(
        !table.contains("setpoint"),
        "downward blocks are the server's: {table}"
    );

    // A typo at the prompt is reported and the device carries on.
    device.send("set nosuch 1");
    device.send("quit");
    assert!(device.wait().success());
    server.wait_line("disconnected gina9001.cafenet");
}

/// The device command prints what a server writes to it.
#[test]
fn device_prints_downward_writes() {
    use ferrocom_runtime::server::{Endpoint, Server, ServerConfig, ServerEvent};
    let dir = Scratch::new("writes");
    std::fs::write(dir.path("map.json"), MAP).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut cfg = ServerConfig::new("cafenet", dir.path("s.db"));
    cfg.endpoints
        .push(Endpoint::Tcp("127.0.0.1:0".parse().unwrap()));
    let server = rt.block_on(Server::start(cfg)).unwrap();
    let mut events = server.subscribe();
    let addr = server.local_addrs()[0];
    let mut device = Running::start(bin().args([
        "device",
        "--map",
        &dir.s("map.json"),
        "--connect",
        &format!("tcp://{addr}"),
        "--name",
        "board",
        "--number",
        "3",
    ]));
    device.wait_line("connected");
    let dev = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(ServerEvent::SignalMapLearned { device }) = events.recv().await {
                    return device;
                }
            }
        })
        .await
        .unwrap()
    });
    assert_eq!(dev.to_string(), "board3.cafenet");
    server
        .write_signal(&dev, "imp", "setpoint", 4242u16)
        .unwrap();
    assert_eq!(
        device.wait_line("write"),
        "write imp.setpoint = 4242 (state 0x03)"
    );
    drop(device);
    rt.block_on(server.shutdown());
}

#[test]
fn bad_input_is_named_with_exit_code_2() {
    let dir = Scratch::new("bad");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["device".into(), "--map".into(), dir.s("missing.json")],
            "missing.json",
        ),
        (
            vec!["spy".into(), "tls://127.0.0.1".into(), "--once".into()],
            "--ca",
        ),
        (vec!["spy".into(), "ftp://x".into()], "cannot read address"),
        (
            vec![
                "server".into(),
                "--no-tcp".into(),
                "--db".into(),
                dir.s("x.db"),
            ],
            "no end point",
        ),
        (
            vec![
                "server".into(),
                "--tls".into(),
                "127.0.0.1:0".into(),
                "--db".into(),
                dir.s("x.db"),
            ],
            "--cert and --key",
        ),
    ];
    for (args, needle) in cases {
        let out = bin().args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // A config file with a misspelt key names it.
    std::fs::write(dir.path("c.toml"), "netwrok = \"x\"\n").unwrap();
    let out = ferrocom(&["server", "--config", &dir.s("c.toml")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("netwrok"),
        "{}",
        text(&out.stderr)
    );
    // A script line that is wrong stops a script file with its line number.
    std::fs::write(dir.path("map.json"), MAP).unwrap();
    std::fs::write(
        dir.path("s.txt"),
        "# set up\nset exp.counter 1\nset exp.counter many\n",
    )
    .unwrap();
    let out = ferrocom(&[
        "device",
        "--map",
        &dir.s("map.json"),
        "--connect",
        "tcp://127.0.0.1:9",
        "--script",
        &dir.s("s.txt"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("line 3: exp.counter: \"many\" is not a uint value"),
        "{}",
        text(&out.stderr)
    );
}

/// A plain HTTP/1.1 GET; the status and the body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// `ferrocom server` with `http` in its config file serves the signal browser: the page,
/// and the API showing a `ferrocom device`'s value.
#[test]
fn server_serves_the_signal_browser_over_http() {
    let help = text(&ferrocom(&["server", "--help"]).stdout);
    assert!(help.contains("--http <ADDR>"), "{help}");
    assert!(help.contains("signal browser"), "{help}");

    let dir = Scratch::new("http");
    std::fs::write(
        dir.path("server.toml"),
        "database = \"server.db\"\ntcp = [\"127.0.0.1:0\"]\nhttp = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    std::fs::write(dir.path("map.json"), MAP).unwrap();
    let mut server = Running::start(bin().args(["server", "--config", &dir.s("server.toml")]));
    let tcp = port_of(&server.wait_line("listening on"));
    let web = server
        .wait_line("signal browser on http://")
        .rsplit("http://")
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();

    let (status, page) = http_get(&web, "/");
    assert_eq!(status, 200);
    assert!(page.contains("signal browser"), "{page}");

    let _device = Running::start(bin().args([
        "device",
        "--map",
        &dir.s("map.json"),
        "--connect",
        &format!("tcp://127.0.0.1:{tcp}"),
        "--set",
        "exp.potentiometer=41.5",
    ]));
    server.wait_line("map gina9001.cafenet");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = http_get(&web, "/api/devices/gina/signals/exp/potentiometer");
        if status == 200 && body.contains("\"value\":41.5") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no 41.5 from the API: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, list) = http_get(&web, "/api/devices");
    assert_eq!(status, 200);
    assert!(list.contains("\"id\":\"gina9001.cafenet\""), "{list}");

    // A bad address is bad input.
    let out = ferrocom(&["server", "--http", "localhost"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--http"),
        "{}",
        text(&out.stderr)
    );
}
