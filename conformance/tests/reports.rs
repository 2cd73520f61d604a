//! The reports of a fixed run against the engine-based server: a JSON snapshot (timings,
//! addresses and wire logs redacted), JUnit and HTML sanity.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferrocom_conformance::report::{to_html, to_junit};
use ferrocom_conformance::{EngineServer, Report, RunOptions, run_in_process};
use serde_json::Value;

async fn fixed_run() -> Report {
    let opts = RunOptions {
        progress: false,
        only: [
            "IOCOM-8.5-1#s1",
            "IOCOM-4.7-2#s1",
            "IOCOM-5-2#s1",
            "IOCOM-8.1-3",
            "IOCOM-9.4-1",
            "IOCOM-9.4-2",
            "IOCOM-10.4-1#s1",
            "IOCOM-12-2#s1",
        ]
        .map(String::from)
        .to_vec(),
        ..RunOptions::default()
    };
    run_in_process(&EngineServer::default(), &opts).await
}

/// Timings, ports and wire logs vary from run to run.
fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match k.as_str() {
                    "duration_ms" => *x = Value::from(0),
                    "address" => *x = Value::from("tcp://[redacted]"),
                    "log" => {
                        *x = Value::from(format!(
                            "[{} entries]",
                            if x.as_array().is_some_and(|a| !a.is_empty()) {
                                "some"
                            } else {
                                "no"
                            }
                        ))
                    }
                    _ => redact(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_of_a_fixed_run() {
    let r = fixed_run().await;
    assert!(r.ok, "{}", r.console_summary());
    assert_eq!(r.summary.total, 9);

    let mut json: Value = serde_json::from_str(&r.to_json()).unwrap();
    redact(&mut json);
    insta::assert_snapshot!(
        "fixed_run_json",
        serde_json::to_string_pretty(&json).unwrap()
    );

    let html = to_html(&r);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(&format!("pass {}", r.summary.pass)));
    assert!(html.contains(&format!("total {}", r.summary.total)));
    assert!(html.contains("<details><summary>wire log"));
    assert!(
        html.contains("no case yet"),
        "coverage lists clauses without cases"
    );
    assert!(
        !html.contains("<link") && !html.contains("src=\"http"),
        "self-contained"
    );

    let junit = to_junit(&r);
    assert!(junit.contains(&format!("tests=\"{}\"", r.summary.total)));
    assert_eq!(junit.matches("<testcase ").count(), r.summary.total);
}
