//! The HTML report of a real small run, rendered by headless Chromium: the summary line
//! of the rendered page shows the run's counts, the page's script (run by the browser)
//! recounts the case rows of the tables to the same numbers, and a screenshot is saved
//! to `target/conformance/report.png`. Under CI=true a missing Chromium is a failure;
//! elsewhere the test prints why it skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferrocom_conformance::report::Summary;
use ferrocom_conformance::{EngineServer, RunOptions, run_in_process};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
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

/// Runs Chromium headless with its own fresh profile; kills it after `limit`.
fn chromium(bin: &Path, profile: &Path, extra: &[String], limit: Duration) -> Output {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    // Read both pipes while it runs: a page dump larger than the pipe buffer would
    // otherwise block Chromium forever.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {limit:?}: {}",
                String::from_utf8_lossy(&err.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The number after `label` in the text content of the element with `id`.
fn count_in(dom: &str, id: &str, label: &str) -> usize {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element {id} in the rendered page"));
    let rest = &dom[start..];
    let text = &rest[rest.find('>').unwrap() + 1..rest.find("</").unwrap()];
    let after = text
        .split_once(label)
        .unwrap_or_else(|| panic!("{id}: {text:?} has no {label:?}"))
        .1
        .trim_start();
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{id}: {text:?}: {e}"))
}

fn counts(s: &Summary) -> [(&'static str, usize); 6] {
    [
        ("pass", s.pass),
        ("non-strict", s.non_strict),
        ("fail", s.fail),
        ("unsupported", s.unsupported),
        ("informational", s.informational),
        ("total", s.total),
    ]
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(bin) = find_chromium() else {
        assert!(
            !in_ci(),
            "chromium is not installed (CI=true: .ci/run installs it)"
        );
        eprintln!("skipping: chromium is not installed (apt-get install chromium)");
        return;
    };
    // A real small run with more than one verdict: without reflection the data-down
    // case is unsupported, and the TLS authorization cases are too over plain TCP.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let target = EngineServer {
        reflect: false,
        ..EngineServer::default()
    };
    let opts = RunOptions {
        progress: false,
        only: [
            "IOCOM-8.5-1#s1",
            "IOCOM-11.2-2#s1",
            "IOCOM-11.4-2#s1",
            "IOCOM-9.4-4#",
            "IOCOM-4.7-2#s1",
            "IOCOM-8.1-3#s1",
        ]
        .map(String::from)
        .to_vec(),
        ..RunOptions::default()
    };
    let report = rt.block_on(run_in_process(&target, &opts));
    let s = report.summary.clone();
    assert!(
        s.pass >= 4 && s.unsupported >= 3,
        "{}",
        report.console_summary()
    );

    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/conformance");
    let page_dir = out_dir.join("chromium-run");
    report.write_files(&page_dir).unwrap();
    let page = page_dir.join("report.html").canonicalize().unwrap();
    let url = format!("file://{}", page.display());
    let profile = std::env::temp_dir().join(format!(
        "ferrocom-chromium-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));

    let dom = chromium(
        &bin,
        &profile.join("dom"),
        &["--dump-dom".into(), url.clone()],
        Duration::from_secs(60),
    );
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(
        dom.contains("Conformance: ferrocom-engine-server"),
        "{dom:.500}"
    );
    // The summary line as rendered.
    for (label, n) in counts(&s) {
        assert_eq!(
            count_in(&dom, &format!("count-{label}"), label),
            n,
            "summary {label}"
        );
    }
    // The recount the page's script did in the browser.
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script did not run"
    );
    for (label, n) in counts(&s) {
        assert_eq!(count_in(&dom, "tally", label), n, "tables: {label}");
    }

    let png = out_dir.join("report.png");
    let _ = std::fs::remove_file(&png);
    let shot = chromium(
        &bin,
        &profile.join("shot"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".into(),
            url,
        ],
        Duration::from_secs(60),
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {}: {e}; chromium said {}",
            png.display(),
            String::from_utf8_lossy(&shot.stderr)
        )
    });
    assert!(bytes.len() > 1000, "screenshot of {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let _ = std::fs::remove_dir_all(&profile);
}
