//! The TLS variants of the runtime's roles: the suite's end uses the rustls provider with
//! the target's development CA; every case but the slow timer ones runs, the
//! hand-crafted malformed-input cases included (they skip the server's mark byte), and
//! passes or is listed — the authorization cases included, which report `unsupported`
//! over plain TCP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferrocom_conformance::{
    EngineServer, Kind, Role, RunOptions, RuntimeDevice, RuntimeServer, Verdict, all_cases,
    run_in_process,
};

/// The cases a TLS variant of `role` runs: all but the slow timer cases.
fn fast_cases(role: Role) -> Vec<&'static str> {
    all_cases()
        .iter()
        .filter(|c| c.role == role && !c.slow)
        .map(|c| c.id)
        .collect()
}

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
    let ids: Vec<&str> = r.cases.iter().map(|c| c.id.as_str()).collect();
    let mut want = fast_cases(Role::Server);
    want.sort_unstable();
    assert_eq!(ids, want, "{summary}");
    // Every hand-crafted malformed-input case gets through the TLS mark byte to its
    // crafted input: it passes, or fails as listed.
    for c in r.cases.iter().filter(|c| c.kind == Kind::Malformed) {
        assert!(
            c.verdict == Verdict::Pass || c.expected_failure.is_some(),
            "{}: {} {}",
            c.id,
            c.verdict,
            c.message
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
    assert_eq!(r.summary.total, fast_cases(Role::Device).len(), "{summary}");
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
