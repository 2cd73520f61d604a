//! The TLS variants of the runtime's roles: the suite's end uses the rustls provider with
//! the target's development CA; the selected handshake, authorization and data cases
//! pass — the authorization cases included, which report `unsupported` over plain TCP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferrocom_conformance::runtime_targets::{TLS_DEVICE_CASES, TLS_SERVER_CASES};
use ferrocom_conformance::{
    EngineServer, RunOptions, RuntimeDevice, RuntimeServer, Verdict, run_in_process,
};

fn opts() -> RunOptions {
    RunOptions {
        progress: false,
        ..RunOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_server_over_tls() {
    let r = run_in_process(&RuntimeServer::tls().unwrap(), &opts()).await;
    let summary = r.console_summary();
    assert!(r.ok, "{summary}");
    assert!(
        r.target.address.starts_with("tls://"),
        "{}",
        r.target.address
    );
    assert_eq!(r.summary.total, 6, "{summary}");
    for c in &r.cases {
        assert!(
            TLS_SERVER_CASES.iter().any(|p| c.id.starts_with(p)),
            "{} is not in the TLS subset",
            c.id
        );
    }
    for id in ["IOCOM-9.4-4#s1", "IOCOM-9.4-4#s2", "IOCOM-8.5-1#s1"] {
        let c = r.cases.iter().find(|c| c.id == id).unwrap();
        assert_eq!(c.verdict, Verdict::Pass, "{id}: {}", c.message);
    }
    // The refused attempt really closed: its wire log shows the server closing.
    let refused = r.cases.iter().find(|c| c.id == "IOCOM-9.4-4#s2").unwrap();
    assert!(
        refused
            .log
            .iter()
            .any(|e| e.data.contains("closed by the target") || e.data.contains("reset")),
        "{:?}",
        refused.log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_device_over_tls() {
    let r = run_in_process(&RuntimeDevice::tls().unwrap(), &opts()).await;
    let summary = r.console_summary();
    assert!(r.ok, "{summary}");
    assert_eq!(r.summary.total, TLS_DEVICE_CASES.len(), "{summary}");
    assert_eq!(r.summary.pass, r.summary.total, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_cases_are_unsupported_over_plain_tcp() {
    let o = RunOptions {
        only: vec!["IOCOM-9.4-4#".into()],
        ..opts()
    };
    let r = run_in_process(&EngineServer::default(), &o).await;
    assert_eq!(r.summary.total, 2);
    assert_eq!(r.summary.unsupported, 2, "{}", r.console_summary());
}
