//! JUnit XML: one testsuite per run, one testcase per case.

use std::fmt::Write as _;

use super::{Report, esc};
use crate::case::Verdict;

/// The report as JUnit XML (non-strict and informational cases pass with a
/// `system-out` note; unsupported ones are skipped; listed failures are skipped with
/// their reason).
pub fn to_junit(r: &Report) -> String {
    let s = &r.summary;
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = s.fail - s.expected_failures;
    let skipped = s.unsupported + s.expected_failures;
    let _ = writeln!(
        o,
        "<testsuites name=\"ferrocom conformance\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{:.3}\">",
        s.total,
        r.duration_ms as f64 / 1000.0
    );
    let _ = writeln!(
        o,
        "  <testsuite name=\"{} ({})\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{:.3}\">",
        esc(&r.target.name),
        r.target.role,
        s.total,
        r.duration_ms as f64 / 1000.0
    );
    for c in &r.cases {
        let _ = write!(
            o,
            "    <testcase classname=\"{}.{}\" name=\"{} {}\" time=\"{:.3}\">",
            esc(&r.target.name),
            r.target.role,
            esc(&c.id),
            esc(&c.title),
            c.duration_ms as f64 / 1000.0
        );
        match (c.verdict, &c.expected_failure) {
            (Verdict::Fail, Some(reason)) => {
                let _ = write!(
                    o,
                    "<skipped message=\"expected failure: {}\"/>",
                    esc(reason)
                );
            }
            (Verdict::Fail, None) => {
                let _ = write!(
                    o,
                    "<failure message=\"{}\" type=\"{}\"/>",
                    esc(&c.message),
                    esc(&c.violated.join(" "))
                );
            }
            (Verdict::Unsupported, _) => {
                let _ = write!(o, "<skipped message=\"unsupported: {}\"/>", esc(&c.message));
            }
            (v, _) => {
                let _ = write!(o, "<system-out>{}: {}</system-out>", v, esc(&c.message));
            }
        }
        o.push_str("</testcase>\n");
    }
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}
