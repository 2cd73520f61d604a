//! The main job against ferrocom's own (engine-based) server and device: every case
//! passes or is listed with a reason, in well under 60 s.
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
    assert_eq!(reports.len(), 2);
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
