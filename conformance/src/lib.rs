//! The ferrocom conformance suite: numbered cases tied to spec clauses, run against
//! ferrocom or any other implementation, with console, JSON, JUnit XML and HTML reports.
//!
//! * Clauses live in manifests (`conformance/manifest/*.toml`, [`manifest`]); the
//!   IOCOM and MQTT manifests list every clause id of the generated codecs plus
//!   behavioural clauses (for MQTT the standard's `[MQTT-x.y.z-n]` ids).
//! * A [`Case`] names its clauses and the [`Role`] of the target; the suite plays the
//!   opposite role: a device against a server ([`iocom::server_cases`]), a server
//!   against a device (the device connects to the suite, [`iocom::device_cases`]), MQTT
//!   3.1.1 clients against a broker ([`mqtt::broker_cases`]: packets built and parsed by
//!   the generated codec, malformed input derived from its output; unique client ids and
//!   topics per case and run), an MQTT broker against clients
//!   ([`mqtt::client_cases`]), an IO network service and its clients against a
//!   switchbox ([`switchbox::cases`], TLS only, one case at a time), and for Iotellect a
//!   server against agents ([`iotellect::agent_cases`], role `icp-agent`, the agent
//!   connects to the suite) and an agent against servers ([`iotellect::server_cases`],
//!   role `icp-server`).
//! * Connections are plain TCP or TLS: [`RustlsProvider`] is the [`TlsProvider`] on the
//!   runtime's rustls adapter, [`DevTls`] a development CA for in-process TLS targets.
//! * Verdicts: pass, non-strict, fail, unsupported, informational, each with a wire log.
//! * [`run`] runs every case of a role against one target (what `ferrocom conform
//!   --target URL --role ROLE` calls); [`run_main_job`] starts ferrocom's own
//!   implementations in-process on loopback and runs everything.
//!
//! Tests with outside programs: `tests/mosquitto.rs` starts its own mosquitto on a free
//! loopback port and runs every broker case against it (known failures in
//! `expected/mosquitto.toml`); `tests/html_chromium.rs` renders a report in headless
//! Chromium. Both fail under `CI=true` when the program is missing and skip with a
//! printed reason elsewhere.
//!
//! Targets list known failures in `conformance/expected/<target>.toml`; a run fails on a
//! failure that is not listed and on a listed case that passes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// DecodeError inside ConnectionError is large by design (see ferrocom-wire).
#![allow(clippy::result_large_err)]

pub mod case;
pub mod expected;
pub mod iocom;
pub mod iotellect;
pub mod manifest;
pub mod mqtt;
pub mod peer;
pub mod report;
pub mod runner;
pub mod runtime_targets;
pub mod switchbox;
pub mod targets;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use case::{Case, Kind, Outcome, Role, Verdict};
pub use expected::{ExpectedFailure, ExpectedFailures};
pub use iotellect::targets::{RuntimeIcpAgent, RuntimeIcpServer};
pub use peer::{Endpoint, TlsProvider};
pub use report::{Report, TargetInfo};
pub use runner::RunOptions;
pub use runtime_targets::{RuntimeDevice, RuntimeMqttClient, RuntimeServer, RuntimeSwitchbox};
pub use targets::{EngineDevice, EngineServer, InProcessTarget};
pub use tls::{DevTls, RustlsProvider};

/// Every registered case, all roles.
pub fn all_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend_from_slice(iocom::server_cases::CASES);
    v.extend_from_slice(iocom::device_cases::CASES);
    v.extend_from_slice(mqtt::broker_cases::CASES);
    v.extend_from_slice(mqtt::client_cases::CASES);
    v.extend_from_slice(switchbox::cases::CASES);
    v.extend_from_slice(iotellect::agent_cases::CASES);
    v.extend_from_slice(iotellect::server_cases::CASES);
    v
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Name for reports (and the expected-failures file).
    pub name: String,
    /// `host:port`: the server to connect to, or (role device) where the suite listens
    /// for the device.
    pub address: String,
    /// Role of the target.
    pub role: Role,
    /// TLS, if any.
    pub tls: Option<Arc<dyn TlsProvider>>,
    /// Known failures.
    pub expected: ExpectedFailures,
    /// Run options.
    pub options: RunOptions,
}

/// Runs every case of `config.role` against the target.
pub async fn run(config: RunConfig) -> Report {
    let target = TargetInfo {
        name: config.name.clone(),
        address: format!(
            "{}://{}",
            if config.tls.is_some() { "tls" } else { "tcp" },
            config.address
        ),
        role: config.role,
    };
    let mut options = config.options.clone();
    if config.role.one_case_at_a_time() {
        options.parallel = 1;
    }
    if config.role == Role::Switchbox && config.tls.is_none() {
        return setup_failure(
            target,
            "a switchbox speaks TLS only: give a tls:// target (with --ca or --insecure)".into(),
        );
    }
    let endpoint = match config.role {
        r if r.connects_to_suite() => match tokio::net::TcpListener::bind(&config.address).await {
            Ok(listener) => Endpoint::Accept {
                listener,
                tls: config.tls.clone(),
                wait: Duration::from_secs(10),
            },
            Err(e) => {
                return setup_failure(target, format!("cannot listen on {}: {e}", config.address));
            }
        },
        _ => Endpoint::Connect {
            addr: config.address.clone(),
            tls: config.tls.clone(),
        },
    };
    runner::run_cases(target, endpoint, &all_cases(), &config.expected, &options).await
}

fn setup_failure(target: TargetInfo, message: String) -> Report {
    eprintln!("{message}");
    let mut r = Report::build(target, Vec::new(), Duration::ZERO);
    r.ok = false;
    r.new_failures.push(message);
    r
}

/// Where the expected-failures files of this repository are.
pub fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("expected")
}

/// Runs every case against one in-process target.
pub async fn run_in_process(target: &dyn InProcessTarget, options: &RunOptions) -> Report {
    let role = target.role();
    let tls = target.tls();
    let (endpoint, started) = match role {
        r if r.connects_to_suite() => {
            let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                Ok(l) => l,
                Err(e) => {
                    return setup_failure(info_of(role, "?", "in-process device"), e.to_string());
                }
            };
            let addr: Option<SocketAddr> = listener.local_addr().ok();
            let started = target.start(addr).await;
            (
                Endpoint::Accept {
                    listener,
                    tls: tls.clone(),
                    wait: Duration::from_secs(5),
                },
                started,
            )
        }
        _ => {
            let started = target.start(None).await;
            let addr = started
                .as_ref()
                .map(|s| s.addr.to_string())
                .unwrap_or_default();
            (
                Endpoint::Connect {
                    addr,
                    tls: tls.clone(),
                },
                started,
            )
        }
    };
    let started = match started {
        Ok(s) => s,
        Err(e) => {
            return setup_failure(
                info_of(role, "?", "in-process target"),
                format!("cannot start the in-process {role}: {e}"),
            );
        }
    };
    let expected = ExpectedFailures::load(&expected_dir().join(format!("{}.toml", started.name)))
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            ExpectedFailures::default()
        });
    let mut info = info_of(role, &started.addr.to_string(), &started.name);
    if tls.is_some() {
        info.address = format!("tls://{}", started.addr);
    }
    let mut options = options.clone();
    target.adjust(&mut options.settings);
    options.skip_slow |= target.skip_slow();
    if role.one_case_at_a_time() {
        options.parallel = 1;
    }
    let report = runner::run_cases(info, endpoint, &all_cases(), &expected, &options).await;
    drop(started);
    report
}

fn info_of(role: Role, addr: &str, name: &str) -> TargetInfo {
    TargetInfo {
        name: name.into(),
        address: format!("tcp://{addr}"),
        role,
    }
}

/// The main job: starts ferrocom's own implementations in-process on loopback, runs
/// every case against them, prints the summaries and writes the reports under
/// `report_dir/<target>/`. Returns the reports; the run is OK if every report is.
///
/// Ten targets, reported in this order: the stand-ins built directly on the sans-I/O
/// engine of `ferrocom-runtime` ([`EngineServer`] `ferrocom-engine-server`,
/// [`EngineDevice`] `ferrocom-engine-device`), the runtime's real tokio roles
/// ([`RuntimeServer`] `ferrocom-server`, [`RuntimeDevice`] `ferrocom-device`) and their
/// TLS variants (`ferrocom-server-tls`, `ferrocom-device-tls`: development
/// certificates, every case of their role but the slow timer cases, which their plain
/// TCP twins run),
/// the runtime's MQTT client ([`RuntimeMqttClient`] `ferrocom-mqtt-client`, the suite
/// as its broker), the runtime's Iotellect agent and server ([`RuntimeIcpAgent`]
/// `ferrocom-icp-agent`, the suite as its server; [`RuntimeIcpServer`]
/// `ferrocom-icp-server`, the suite as an agent) and the runtime's switchbox
/// ([`RuntimeSwitchbox`] `ferrocom-switchbox`, the suite as its service and clients,
/// over TLS).
///
/// The switchbox cases run one at a time (one network, one service) and one of them
/// waits 10 s for a keep-alive, so the switchbox target runs beside the others, from
/// the start, without a progress bar of its own; its summary comes last.
pub async fn run_main_job(report_dir: &Path, options: &RunOptions) -> Vec<Report> {
    let switchbox = match RuntimeSwitchbox::new() {
        Ok(target) => {
            let mut o = options.clone();
            o.progress = false;
            Some(tokio::spawn(
                async move { run_in_process(&target, &o).await },
            ))
        }
        Err(e) => {
            eprintln!("no switchbox target: {e}");
            None
        }
    };
    let mut targets: Vec<Box<dyn InProcessTarget>> = vec![
        Box::new(EngineServer::default()),
        Box::new(EngineDevice::default()),
        Box::new(RuntimeServer::default()),
        Box::new(RuntimeDevice::default()),
    ];
    match (RuntimeServer::tls(), RuntimeDevice::tls()) {
        (Ok(s), Ok(d)) => {
            targets.push(Box::new(s));
            targets.push(Box::new(d));
        }
        (Err(e), _) | (_, Err(e)) => eprintln!("no TLS targets: {e}"),
    }
    targets.push(Box::new(RuntimeMqttClient::default()));
    targets.push(Box::new(RuntimeIcpAgent::default()));
    targets.push(Box::new(RuntimeIcpServer::default()));
    let mut reports = Vec::new();
    for t in &targets {
        let r = run_in_process(t.as_ref(), options).await;
        reports.push(finish(report_dir, r));
    }
    if let Some(task) = switchbox {
        let r = match task.await {
            Ok(r) => r,
            Err(e) => setup_failure(
                info_of(Role::Switchbox, "?", "ferrocom-switchbox"),
                format!("the switchbox target's run ended abnormally: {e}"),
            ),
        };
        reports.push(finish(report_dir, r));
    }
    println!(
        "reports: {}/<target>/report.{{json,html}}, junit.xml",
        report_dir.display()
    );
    reports
}

/// Writes one target's reports and prints its summary.
fn finish(report_dir: &Path, r: Report) -> Report {
    if let Err(e) = r.write_files(&report_dir.join(&r.target.name)) {
        eprintln!(
            "cannot write the reports under {}: {e}",
            report_dir.display()
        );
    }
    print!("{}", r.console_summary());
    r
}
