//! End to end in headless Chromium: a server, a simulated device and the signal browser;
//! the page (driven by `tests/browser/e2e.mjs` with playwright-core) sees the device's
//! values change, logs in, writes a downward signal after confirming, and the device
//! receives the write. The screenshot is kept as `target/web/signal-browser.png`.
//!
//! Needs /usr/bin/chromium, Node and the pinned playwright-core (installed here with
//! `npm ci` when missing). Under CI=true a missing piece is a failure; elsewhere the test
//! prints why it skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Net, PASSWORD, USER, within};
use ferrocom_runtime::device::DeviceEvent;
use ferrocom_runtime::signal::SignalValue;
use ferrocom_wire::signals::State;
use serde_json::Value;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Fails under CI, else prints why the test does not run.
fn missing(why: &str) {
    assert!(!in_ci(), "{why} (CI=true: .ci/run installs it)");
    eprintln!("skipping: {why}");
}

fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .collect();
    ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.exists())
}

fn driver_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Node and playwright-core at the version pinned in package-lock.json.
fn node_ready() -> Result<(), String> {
    let dir = driver_dir();
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed (apt-get install nodejs npm)".into());
    }
    if dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return Ok(());
    }
    let out = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "npm ci in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The JSON of the driver's `STEP <name> <json>` line.
fn step(out: &str, name: &str) -> Value {
    let prefix = format!("STEP {name} ");
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("the driver did not report step {name}; it printed:\n{out}"));
    serde_json::from_str(line).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_shows_live_values_logs_in_and_writes() {
    let Some(chromium) = find_chromium() else {
        missing("chromium is not installed (apt-get install chromium)");
        return;
    };
    if let Err(why) = node_ready() {
        missing(&why);
        return;
    }
    let net = Net::start("browser").await;
    net.dev
        .set(
            "exp",
            "testfloat",
            SignalValue::Array(vec![1.5.into(), (-2.0).into(), 0.25.into()]),
        )
        .unwrap();
    net.dev
        .set_with_state(
            "exp",
            "potentiometer",
            3.75f32,
            State::CONNECTED | State::ORANGE,
        )
        .unwrap();
    net.dev.set("exp", "in_x", true).unwrap();
    let mut dev_events = net.dev.subscribe();

    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/web");
    std::fs::create_dir_all(&out_dir).unwrap();
    let shot = out_dir.join("signal-browser.png");
    let _ = std::fs::remove_file(&shot);

    let child = tokio::process::Command::new("node")
        .arg("e2e.mjs")
        .current_dir(driver_dir())
        .env("WEB_BASE", &net.base)
        .env("WEB_SCREENSHOT", &shot)
        .env("CHROMIUM", &chromium)
        .env("WEB_USER", USER)
        .env("WEB_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // While the browser works, the device keeps changing a value (the page must show
    // it move) and the test listens for the write the page makes.
    let mut writes = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut n = 0u32;
    let finished = child.wait_with_output();
    tokio::pin!(finished);
    let output = within(Duration::from_secs(120), async {
        loop {
            tokio::select! {
                out = &mut finished => return out.unwrap(),
                _ = tick.tick() => {
                    n += 1;
                    net.dev.set("exp", "counter", n).unwrap();
                    // Moves too, and keeps its ORANGE bit for the colour checks.
                    let v = 3.0f32 + f32::from(u8::try_from(n % 8).unwrap()) * 0.25;
                    net.dev
                        .set_with_state("exp", "potentiometer", v, State::CONNECTED | State::ORANGE)
                        .unwrap();
                }
                ev = dev_events.recv() => {
                    if let Some(DeviceEvent::Write { block, signal, value, .. }) = ev {
                        writes.push((block, signal, value));
                    }
                }
            }
        }
    })
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "the browser run failed: {stderr}\nsteps so far:\n{stdout}"
    );

    let live = step(&stdout, "live");
    assert_ne!(
        live["first"], live["second"],
        "the counter moved on the page"
    );
    let shown = step(&stdout, "shown");
    assert_eq!(shown["str"], "\"hello\"");
    assert_eq!(shown["arr"], serde_json::json!(["1.5", "-2", "0.25"]));
    let chips = shown["chips"].as_array().unwrap();
    assert!(chips.contains(&"connected".into()), "{chips:?}");
    assert!(chips.contains(&"orange".into()), "{chips:?}");
    assert_eq!(shown["potClass"], "st-orange");
    assert_eq!(shown["plots"], 1, "the counter has a plot");
    assert_eq!(step(&stdout, "before-login")["disabled"], true);
    let login = step(&stdout, "login");
    assert_eq!(login["who"], USER);
    assert_eq!(login["disabled"], false);
    assert_eq!(
        step(&stdout, "cancelled")["value"],
        "0",
        "a cancelled write"
    );
    let confirm = step(&stdout, "confirm");
    assert_eq!(confirm["signal"], "imp.setpoint");
    assert_eq!(confirm["device"], "gina9001.cafenet");
    assert_eq!(confirm["now"], "0");
    assert_eq!(confirm["next"], "1234");
    assert!(
        step(&stdout, "written")["toast"]
            .as_str()
            .unwrap()
            .contains("1234")
    );

    // The device received what the page wrote.
    if writes.is_empty() {
        let w = within(Duration::from_secs(10), async {
            loop {
                if let Some(DeviceEvent::Write {
                    block,
                    signal,
                    value,
                    ..
                }) = dev_events.recv().await
                {
                    return (block, signal, value);
                }
            }
        })
        .await;
        writes.push(w);
    }
    // Exactly the confirmed write; the cancelled 999 never left the page.
    assert_eq!(
        writes,
        vec![("imp".into(), "setpoint".into(), SignalValue::Int(1234))]
    );
    assert_eq!(
        net.dev.get("imp", "setpoint").unwrap().0,
        SignalValue::Int(1234)
    );

    // A real PNG of the page's size.
    let png =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(width, 1280);
    assert!(height >= 600, "height {height}");
    assert!(
        png.len() > 20_000,
        "a page with content, not a blank: {} bytes",
        png.len()
    );
    println!("screenshot: {}", shot.display());
    net.stop().await;
}
