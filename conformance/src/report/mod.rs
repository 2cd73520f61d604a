//! The run report: JSON (serde), JUnit XML, a self-contained HTML page and a console
//! summary; plus the clause coverage table.

mod html;
mod junit;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::case::{Case, Kind, Outcome, Role, Verdict};
use crate::expected::ExpectedFailures;
use crate::manifest::Manifest;
use crate::peer::LogEntry;

pub use html::to_html;
pub use junit::to_junit;

/// The implementation under test.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// Name (also names the expected-failures file).
    pub name: String,
    /// Address as given.
    pub address: String,
    /// Role.
    pub role: Role,
}

/// One case's result.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// Case id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Normal / malformed.
    pub kind: Kind,
    /// Clauses the case checks.
    pub clauses: Vec<String>,
    /// Verdict.
    pub verdict: Verdict,
    /// Clauses violated (fail / non-strict).
    pub violated: Vec<String>,
    /// What the case found.
    pub message: String,
    /// Reason from the expected-failures list, if listed.
    pub expected_failure: Option<String>,
    /// Wall time.
    pub duration_ms: u64,
    /// Wire log.
    pub log: Vec<LogEntry>,
}

impl CaseReport {
    /// Builds a case report.
    pub fn new(
        case: &Case,
        outcome: Outcome,
        took: Duration,
        log: Vec<LogEntry>,
        expected: &ExpectedFailures,
    ) -> Self {
        let mut violated: Vec<String> = outcome.violated.iter().map(|s| s.to_string()).collect();
        if violated.is_empty() && matches!(outcome.verdict, Verdict::Fail | Verdict::NonStrict) {
            violated = case
                .clauses
                .first()
                .map(|c| c.to_string())
                .into_iter()
                .collect();
        }
        CaseReport {
            id: case.id.into(),
            title: case.title.into(),
            kind: case.kind,
            clauses: case.clauses.iter().map(|c| c.to_string()).collect(),
            verdict: outcome.verdict,
            violated,
            message: outcome.message,
            expected_failure: expected.reason(case.id).map(str::to_string),
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            log,
        }
    }
}

/// Counts per verdict.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Cases run.
    pub total: usize,
    /// Passed.
    pub pass: usize,
    /// Non-strict.
    pub non_strict: usize,
    /// Failed.
    pub fail: usize,
    /// Unsupported.
    pub unsupported: usize,
    /// Informational.
    pub informational: usize,
    /// Failures that are listed as expected.
    pub expected_failures: usize,
}

/// One clause of the coverage table.
#[derive(Debug, Clone, Serialize)]
pub struct ClauseRow {
    /// Clause id.
    pub id: String,
    /// `wire` / `behaviour`.
    pub kind: String,
    /// Clause text.
    pub text: String,
    /// Cases (of any role) that check it.
    pub cases: Vec<String>,
    /// Worst verdict among this run's cases for it, if any ran.
    pub verdict: Option<Verdict>,
}

/// Coverage of one protocol's manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// `IOCOM`, `SWB`, `MQTT`.
    pub protocol: String,
    /// Clauses with a case.
    pub covered: usize,
    /// Every clause.
    pub clauses: Vec<ClauseRow>,
}

/// The whole report of one run against one target.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Suite version.
    pub suite: String,
    /// Target.
    pub target: TargetInfo,
    /// Counts.
    pub summary: Summary,
    /// `true` if the run succeeded (no new failure, no listed case passing).
    pub ok: bool,
    /// Failures not in the expected-failures list.
    pub new_failures: Vec<String>,
    /// Listed cases that passed (remove them from the list).
    pub unexpected_passes: Vec<String>,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Case results, by id.
    pub cases: Vec<CaseReport>,
    /// Clause coverage per protocol (all cases of the suite, this run's verdicts).
    pub coverage: Vec<Coverage>,
}

impl Report {
    /// Builds the report from case results.
    pub fn build(target: TargetInfo, cases: Vec<CaseReport>, took: Duration) -> Report {
        let mut s = Summary {
            total: cases.len(),
            ..Summary::default()
        };
        let mut new_failures = Vec::new();
        let mut unexpected_passes = Vec::new();
        for c in &cases {
            match c.verdict {
                Verdict::Pass => s.pass += 1,
                Verdict::NonStrict => s.non_strict += 1,
                Verdict::Fail => s.fail += 1,
                Verdict::Unsupported => s.unsupported += 1,
                Verdict::Informational => s.informational += 1,
            }
            match (c.verdict, &c.expected_failure) {
                (Verdict::Fail, Some(_)) => s.expected_failures += 1,
                (Verdict::Fail, None) => new_failures.push(c.id.clone()),
                (Verdict::Pass, Some(_)) => unexpected_passes.push(c.id.clone()),
                _ => {}
            }
        }
        let coverage = coverage(&cases);
        Report {
            suite: format!("ferrocom-conformance {}", env!("CARGO_PKG_VERSION")),
            ok: new_failures.is_empty() && unexpected_passes.is_empty(),
            target,
            summary: s,
            new_failures,
            unexpected_passes,
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            cases,
            coverage,
        }
    }

    /// The JSON report.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The set of (case id, verdict, violated clauses) of failing and non-strict cases.
    pub fn failures(&self) -> Vec<(String, Verdict, Vec<String>)> {
        self.cases
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::NonStrict))
            .map(|c| (c.id.clone(), c.verdict, c.violated.clone()))
            .collect()
    }

    /// Console summary: counts, failures with reasons, coverage.
    pub fn console_summary(&self) -> String {
        let s = &self.summary;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} ({}, {}): {} cases in {:.1} s — {} pass, {} non-strict, {} fail ({} expected), {} unsupported, {} informational",
            self.target.name,
            self.target.role,
            self.target.address,
            s.total,
            self.duration_ms as f64 / 1000.0,
            s.pass,
            s.non_strict,
            s.fail,
            s.expected_failures,
            s.unsupported,
            s.informational
        );
        for c in &self.cases {
            if c.verdict == Verdict::Pass {
                continue;
            }
            let tag = match (&c.verdict, &c.expected_failure) {
                (Verdict::Fail, Some(_)) => "expected fail",
                (v, _) => v.name(),
            };
            let _ = writeln!(out, "  {tag:<14} {:<18} {}", c.id, c.message);
            if let Some(r) = &c.expected_failure {
                let _ = writeln!(out, "  {:<14} {:<18} listed: {r}", "", "");
            }
        }
        for id in &self.unexpected_passes {
            let _ = writeln!(
                out,
                "  now passes     {id:<18} remove it from the expected-failures list"
            );
        }
        for cov in &self.coverage {
            let _ = writeln!(
                out,
                "  coverage {}: {}/{} clauses have a case",
                cov.protocol,
                cov.covered,
                cov.clauses.len()
            );
        }
        let _ = writeln!(out, "  result: {}", if self.ok { "OK" } else { "FAILED" });
        out
    }

    /// Writes `report.json`, `junit.xml` and `report.html` into `dir`.
    pub fn write_files(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.json"), self.to_json())?;
        std::fs::write(dir.join("junit.xml"), to_junit(self))?;
        std::fs::write(dir.join("report.html"), to_html(self))?;
        Ok(())
    }
}

/// Clause coverage over every registered case, with this run's verdicts.
fn coverage(results: &[CaseReport]) -> Vec<Coverage> {
    let mut by_clause: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for case in crate::all_cases() {
        for c in case.clauses {
            by_clause.entry(c).or_default().push(case.id);
        }
    }
    Manifest::all()
        .into_iter()
        .map(|m| {
            let clauses: Vec<ClauseRow> = m
                .clauses
                .iter()
                .map(|cl| {
                    let cases: Vec<String> = by_clause
                        .get(cl.id.as_str())
                        .map(|v| v.iter().map(|s| s.to_string()).collect())
                        .unwrap_or_default();
                    let verdict = results
                        .iter()
                        .filter(|r| r.clauses.contains(&cl.id))
                        .map(|r| {
                            if r.violated.contains(&cl.id) || r.verdict != Verdict::Fail {
                                r.verdict
                            } else {
                                Verdict::Pass
                            }
                        })
                        .max_by_key(|v| severity(*v));
                    ClauseRow {
                        id: cl.id.clone(),
                        kind: cl.kind.clone(),
                        text: cl.text.clone(),
                        cases,
                        verdict,
                    }
                })
                .collect();
            Coverage {
                protocol: m.protocol.clone(),
                covered: clauses.iter().filter(|c| !c.cases.is_empty()).count(),
                clauses,
            }
        })
        .collect()
}

fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Fail => 4,
        Verdict::NonStrict => 3,
        Verdict::Pass => 2,
        Verdict::Informational => 1,
        Verdict::Unsupported => 0,
    }
}

/// Escapes text for XML / HTML.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => o.push('?'),
            c => o.push(c),
        }
    }
    o
}
