//! The device's reconnect loop backs off from a server that accepts the socket but never
//! gives it a session (it closes at once, as a server refusing the device does), instead
//! of reconnecting at the shortest delay forever.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ferrocom_runtime::device::{Backoff, Device};
use support::*;
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sessions_back_off_exponentially() {
    let _logs = logs();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = device_config("gina", tcp(addr));
    cfg.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_secs(10),
    };
    let dev = Device::start(cfg).unwrap();
    let mut accepted = Vec::new();
    let start = tokio::time::Instant::now();
    let window = Duration::from_millis(1500);
    while start.elapsed() < window {
        match tokio::time::timeout(window.saturating_sub(start.elapsed()), listener.accept()).await
        {
            Ok(Ok((sock, _))) => {
                accepted.push(start.elapsed());
                drop(sock); // refuse: close before any session
            }
            Ok(Err(e)) => panic!("accept failed: {e}"),
            Err(_) => break,
        }
    }
    dev.shutdown().await;
    // 20 ms doubling: attempts near 0, 20, 60, 140, 300, 620, 1260 ms — at most 7 in 1.5 s
    // (at a constant 20 ms it would be about 60).
    assert!(
        (3..=8).contains(&accepted.len()),
        "{} attempts in {window:?}: {accepted:?}",
        accepted.len()
    );
    let gaps: Vec<Duration> = accepted.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] > g[0]),
        "delays grow after every refused session: {gaps:?}"
    );
}
