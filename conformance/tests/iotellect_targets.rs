//! The Iotellect cases against ferrocom's own agent and server (the main job's
//! `ferrocom-icp-agent` and `ferrocom-icp-server`): every case passes or is listed with
//! a reason, none is unsupported (both targets offer login, and the agent an event),
//! and each role's run stays short.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ferrocom_conformance::{
    Report, Role, RunOptions, RuntimeIcpAgent, RuntimeIcpServer, Verdict, all_cases, run_in_process,
};

fn opts() -> RunOptions {
    RunOptions {
        progress: false,
        ..RunOptions::default()
    }
}

fn check(r: &Report, role: Role) {
    for c in &r.cases {
        eprintln!("{} {} {} ms: {}", c.id, c.verdict, c.duration_ms, c.message);
    }
    let expected = all_cases().iter().filter(|c| c.role == role).count();
    assert_eq!(r.cases.len(), expected, "{}", r.console_summary());
    for c in &r.cases {
        assert!(
            c.verdict == Verdict::Pass || c.expected_failure.is_some(),
            "{} against {}: {} {}",
            c.id,
            r.target.name,
            c.verdict,
            c.message
        );
    }
    assert_eq!(r.summary.unsupported, 0, "{}", r.console_summary());
    assert!(r.ok, "{}", r.console_summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrocom_icp_agent_passes_the_agent_cases() {
    let t0 = Instant::now();
    let r = run_in_process(&RuntimeIcpAgent::default(), &opts()).await;
    check(&r, Role::IcpAgent);
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrocom_icp_server_passes_the_server_cases() {
    let t0 = Instant::now();
    let r = run_in_process(&RuntimeIcpServer::default(), &opts()).await;
    check(&r, Role::IcpServer);
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
}
