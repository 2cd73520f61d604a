//! Every broker case against a real mosquitto: the test starts its own mosquitto on a
//! free loopback port (generated config: anonymous, no persistence), runs the suite
//! through the same `run` the `ferrocom conform --role broker` command uses, and compares
//! with `conformance/expected/mosquitto.toml`. Under CI=true a missing mosquitto is a
//! failure; elsewhere the test prints why it skips.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

// The command behind `ferrocom conform`, compiled here as in tests/cli_glue.rs.
#[path = "../../cli/src/conform.rs"]
mod conform;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrocom_conformance::{
    DevTls, ExpectedFailures, Role, RunConfig, RunOptions, Verdict, all_cases, expected_dir, run,
};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn find_mosquitto() -> Option<PathBuf> {
    let candidates = [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ];
    if let Some(p) = candidates.iter().map(PathBuf::from).find(|p| p.exists()) {
        return Some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("mosquitto"))
        .find(|p| p.exists())
}

/// The broker process and its directory; killed and removed on drop, also when an
/// assertion fails.
struct Mosquitto {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Mosquitto {
    fn start(bin: &Path) -> Mosquitto {
        Self::start_with(bin, None)
    }

    /// With `tls`, the listener speaks TLS with that development certificate.
    fn start_with(bin: &Path, tls: Option<&DevTls>) -> Mosquitto {
        let dir = std::env::temp_dir().join(format!(
            "ferrocom-mosquitto-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // A free port: bind to 0, read it, release it just before mosquitto binds it.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.join("mosquitto.conf");
        let mut text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
log_dest stderr\nlog_type all\n"
        );
        if let Some(dev) = tls {
            // Readable by the user mosquitto drops to when started as root (a test key).
            let (cert, key) = (dir.join("chain.pem"), dir.join("key.pem"));
            std::fs::write(&cert, &dev.0.server_chain_pem).unwrap();
            std::fs::write(&key, &dev.0.server_key_pem).unwrap();
            text.push_str(&format!(
                "certfile {}\nkeyfile {}\n",
                cert.display(),
                key.display()
            ));
        }
        std::fs::write(&conf, text).unwrap();
        // The log goes to a file we open: mosquitto started as root drops to its own
        // user and could not open a file in our directory itself.
        let log = std::fs::File::create(dir.join("mosquitto.log")).unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let m = Mosquitto {
            child,
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let t0 = Instant::now();
        while TcpStream::connect_timeout(&m.addr, Duration::from_millis(200)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "mosquitto did not listen on {} within 10 s",
                m.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        m
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

/// The mosquitto binary; `None` (skip, with the reason printed) only outside CI.
fn mosquitto_or_skip() -> Option<PathBuf> {
    let bin = find_mosquitto();
    if bin.is_none() {
        assert!(
            !in_ci(),
            "mosquitto is not installed (CI=true: .ci/run installs it)"
        );
        eprintln!("skipping: mosquitto is not installed (apt-get install mosquitto)");
    }
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broker_case_against_mosquitto() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let broker = Mosquitto::start(&bin);
    let expected = ExpectedFailures::load(&expected_dir().join("mosquitto.toml")).unwrap();
    let report = run(RunConfig {
        name: "mosquitto".into(),
        address: broker.addr.to_string(),
        role: Role::Broker,
        tls: None,
        expected: expected.clone(),
        options: RunOptions {
            progress: false,
            ..RunOptions::default()
        },
    })
    .await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/conformance");
    let _ = report.write_files(&dir.join("mosquitto"));
    let summary = report.console_summary();
    println!("{summary}");

    let broker_cases = all_cases()
        .iter()
        .filter(|c| c.role == Role::Broker)
        .count();
    assert!(broker_cases >= 30, "{broker_cases} broker cases");
    assert_eq!(report.summary.total, broker_cases, "{summary}");
    for c in &report.cases {
        assert!(
            c.verdict != Verdict::Fail || c.expected_failure.is_some(),
            "{} failed against mosquitto: {}\n{summary}\nmosquitto log:\n{}",
            c.id,
            c.message,
            broker.log()
        );
        assert!(!c.log.is_empty(), "{} has no wire log", c.id);
    }
    assert!(report.ok, "{summary}");
    // Against mosquitto only the keep-alive timing may be non-strict.
    for c in &report.cases {
        assert!(
            c.verdict != Verdict::NonStrict || c.id == "MQTT-3.1.2-24#b1",
            "{}: {}",
            c.id,
            c.message
        );
    }
    // Every listed case really failed (a pass would have made `ok` false; a listed case
    // reporting anything but fail is stale too).
    for e in &expected.cases {
        let c = report.cases.iter().find(|c| c.id == e.id).unwrap();
        assert_eq!(
            c.verdict,
            Verdict::Fail,
            "{} is listed but {}",
            e.id,
            c.verdict
        );
    }
    drop(broker);
}

/// `ferrocom conform --target tcp://HOST:PORT --role broker --name mosquitto` runs the
/// same cases, picks up expected/mosquitto.toml by name and exits 0.
#[test]
fn the_command_line_runs_the_broker_cases() {
    use clap::Parser;
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: conform::ConformArgs,
    }
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let broker = Mosquitto::start(&bin);
    let reports = broker.dir.join("reports");
    let url = format!("tcp://{}", broker.addr);
    let cli = Cli::try_parse_from([
        "conform",
        "--target",
        &url,
        "--role",
        "broker",
        "--name",
        "mosquitto",
        "--report-dir",
        reports.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(conform::cmd(cli.args), std::process::ExitCode::SUCCESS);
    let json = std::fs::read_to_string(reports.join("mosquitto/report.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let broker_cases = all_cases()
        .iter()
        .filter(|c| c.role == Role::Broker)
        .count();
    assert_eq!(v["summary"]["total"], broker_cases, "{json}");
    assert_eq!(v["target"]["role"], "broker");
    drop(broker);
}

/// A broken broker: a proxy in front of mosquitto that rewrites the broker's packets
/// (decoded and re-encoded with the codec). Each fault must make exactly the case that
/// checks it fail, naming the clause it breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// SUBACK carries another packet id (breaks MQTT-3.8.4-2).
    SubackWrongId,
    /// Every PUBLISH to a subscriber has RETAIN 1 (breaks MQTT-3.3.1-9 for live ones).
    RetainAlways,
    /// PINGRESP is swallowed (breaks MQTT-3.12.4-1).
    NoPingresp,
}

fn rewrite(fault: Fault, buf: &mut Vec<u8>) -> Vec<u8> {
    use ferrocom_wire::codec::Decoded;
    use ferrocom_wire::mqtt311::{Packet, PacketBody};
    let mut out = Vec::new();
    loop {
        let (mut p, used) = match Packet::decode(buf) {
            Ok(Decoded::Complete(p, used)) => (p, used),
            Ok(Decoded::Incomplete(_)) => break,
            // Not ours to judge: pass the rest through unchanged.
            Err(_) => {
                out.append(buf);
                break;
            }
        };
        let keep = match (&mut p.body, fault) {
            (PacketBody::Suback(s), Fault::SubackWrongId) => {
                s.packet_id ^= 0x0100;
                true
            }
            (PacketBody::Publish(m), Fault::RetainAlways) => {
                m.header.retain = true;
                true
            }
            (PacketBody::Pingresp, Fault::NoPingresp) => false,
            _ => true,
        };
        if keep {
            p.encode(&mut out).unwrap();
        }
        buf.drain(..used);
    }
    out
}

async fn proxy(fault: Fault, upstream: SocketAddr) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(broker) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut br, mut bw) = broker.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut cr, &mut bw).await;
                let _ = bw.shutdown().await;
            });
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(n) = br.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let out = rewrite(fault, &mut buf);
                    if cw.write_all(&out).await.is_err() {
                        break;
                    }
                }
                let _ = cw.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_broker_fails_the_cases_that_check_it() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let broker = Mosquitto::start(&bin);
    let checks = [
        (Fault::SubackWrongId, "MQTT-3.8.4-1#b1", "MQTT-3.8.4-2"),
        (Fault::RetainAlways, "MQTT-4.3.1-1#b1", "MQTT-3.3.1-9"),
        (Fault::NoPingresp, "MQTT-3.12.4-1#b1", "MQTT-3.12.4-1"),
    ];
    for (fault, case, clause) in checks {
        let addr = proxy(fault, broker.addr).await;
        // The case itself and one that the fault does not touch.
        let untouched = if fault == Fault::RetainAlways {
            "MQTT-4.3.2-2#b1"
        } else {
            "MQTT-3.2.0-1#b1"
        };
        let report = run(RunConfig {
            name: format!("broken-{fault:?}"),
            address: addr.to_string(),
            role: Role::Broker,
            tls: None,
            expected: ExpectedFailures::default(),
            options: RunOptions {
                progress: false,
                only: vec![case.into(), untouched.into()],
                ..RunOptions::default()
            },
        })
        .await;
        let summary = report.console_summary();
        assert_eq!(report.summary.total, 2, "{summary}");
        let c = report.cases.iter().find(|c| c.id == case).unwrap();
        assert_eq!(c.verdict, Verdict::Fail, "{fault:?}: {summary}");
        assert_eq!(c.violated, [clause], "{fault:?}: {}", c.message);
        let u = report.cases.iter().find(|c| c.id == untouched).unwrap();
        assert_eq!(u.verdict, Verdict::Pass, "{fault:?}: {summary}");
        assert!(!report.ok);
    }
    drop(broker);
}

/// The broker cases over TLS: mosquitto with a development certificate, the suite's
/// clients on the rustls provider trusting only that CA. Same results as over TCP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_cases_over_tls() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let dev = DevTls::generate().unwrap();
    let broker = Mosquitto::start_with(&bin, Some(&dev));
    let expected = ExpectedFailures::load(&expected_dir().join("mosquitto.toml")).unwrap();
    let report = run(RunConfig {
        name: "mosquitto-tls".into(),
        address: broker.addr.to_string(),
        role: Role::Broker,
        tls: Some(std::sync::Arc::new(dev.client_provider().unwrap())),
        expected,
        options: RunOptions {
            progress: false,
            ..RunOptions::default()
        },
    })
    .await;
    let summary = report.console_summary();
    assert!(report.target.address.starts_with("tls://"), "{summary}");
    assert!(report.ok, "{summary}\nmosquitto log:\n{}", broker.log());
    // The listed failure, and the keep-alive case that is pass or non-strict by timing.
    assert_eq!(report.summary.expected_failures, 1, "{summary}");
    assert!(
        report.summary.pass + report.summary.non_strict == report.summary.total - 1
            && report.summary.non_strict <= 1,
        "{summary}"
    );
    drop(broker);
}
