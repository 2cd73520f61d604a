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
    ExpectedFailures, Role, RunConfig, RunOptions, Verdict, all_cases, expected_dir, run,
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
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
log_dest stderr\nlog_type all\n"
            ),
        )
        .unwrap();
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
