//! The main job against ferrocom's own servers and devices (the engine-based stand-ins,
//! the runtime's real tokio roles and their TLS variants, the MQTT client, the
//! switchbox, the Iotellect agent and server): every case passes or is listed with a
//! reason, in well under 60 s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ferrocom_conformance::{RunOptions, Verdict, run_main_job};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_job_passes_against_ferrocom() {
    let dir = std::env::temp_dir().join(format!("ferrocom-conformance-{}", std::process::id()));
    let t0 = Instant::now();
    let opts = RunOptions {
        progress: false,
        ..RunOptions::default()
    };
    let reports = run_main_job(&dir, &opts).await;
    let took = t0.elapsed();
    let names: Vec<_> = reports.iter().map(|r| r.target.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ferrocom-engine-server",
            "ferrocom-engine-device",
            "ferrocom-server",
            "ferrocom-device",
            "ferrocom-server-tls",
            "ferrocom-device-tls",
            "ferrocom-mqtt-client",
            "ferrocom-icp-agent",
            "ferrocom-icp-server",
            "ferrocom-switchbox"
        ]
    );
    for r in &reports {
        for c in &r.cases {
            assert!(
                c.verdict != Verdict::Fail || c.expected_failure.is_some(),
                "{} failed against {}: {}",
                c.id,
                r.target.name,
                c.message
            );
        }
        assert!(r.ok, "{}", r.console_summary());
        assert!(dir.join(&r.target.name).join("report.html").exists());
    }
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
