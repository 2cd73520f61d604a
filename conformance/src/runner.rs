//! Runs cases with a timeout each, a few at a time, with a console progress bar.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::case::{Case, CaseSettings, Ctx, Outcome, Verdict};
use crate::expected::ExpectedFailures;
use crate::peer::{Endpoint, WireLog};
use crate::report::{CaseReport, Report, TargetInfo};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Settings passed to every case.
    pub settings: CaseSettings,
    /// Time limit per case (slow cases get 40 s).
    pub case_timeout: Duration,
    /// Cases run at the same time (1 for a device: it has one connection at a time).
    pub parallel: usize,
    /// Show a progress bar / progress lines on stderr.
    pub progress: bool,
    /// Run only cases whose id starts with one of these (all when empty).
    pub only: Vec<String>,
    /// Leave out slow cases (timers).
    pub skip_slow: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            settings: CaseSettings::default(),
            case_timeout: Duration::from_secs(20),
            parallel: 4,
            progress: true,
            only: Vec::new(),
            skip_slow: false,
        }
    }
}

/// Runs `cases` against `endpoint` and builds the report.
pub async fn run_cases(
    target: TargetInfo,
    endpoint: Endpoint,
    cases: &[Case],
    expected: &ExpectedFailures,
    opts: &RunOptions,
) -> Report {
    let started = Instant::now();
    let endpoint = Arc::new(endpoint);
    let settings = Arc::new(opts.settings.clone());
    let mut selected: Vec<Case> = cases
        .iter()
        .filter(|c| c.role == target.role)
        .filter(|c| opts.only.is_empty() || opts.only.iter().any(|p| c.id.starts_with(p.as_str())))
        .filter(|c| !(opts.skip_slow && c.slow))
        .copied()
        .collect();
    // Slow cases first so that they overlap with the rest.
    selected.sort_by_key(|c| !c.slow);
    let total = selected.len();
    let sem = Arc::new(Semaphore::new(opts.parallel.max(1)));
    let mut set = JoinSet::new();
    for (i, case) in selected.iter().copied().enumerate() {
        let (endpoint, settings) = (endpoint.clone(), settings.clone());
        let sem = sem.clone();
        let limit = if case.slow {
            Duration::from_secs(40)
        } else {
            opts.case_timeout
        };
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            // The log starts with the case, not when it was queued behind others.
            let ctx = Ctx {
                endpoint,
                log: WireLog::new(),
                settings,
            };
            let log = ctx.log.clone();
            let t0 = Instant::now();
            let outcome = match tokio::time::timeout(limit, (case.run)(ctx)).await {
                Ok(Ok(o)) | Ok(Err(crate::case::Failure(o))) => o,
                Err(_) => Outcome::fail(
                    &[],
                    format!("the case did not finish within {} s", limit.as_secs()),
                ),
            };
            (i, case, outcome, t0.elapsed(), log)
        });
    }
    let mut progress = Progress::new(total, opts.progress);
    let mut results: Vec<Option<CaseReport>> = vec![None; total];
    while let Some(joined) = set.join_next().await {
        let Ok((i, case, outcome, took, log)) = joined else {
            continue;
        };
        progress.done(case.id, outcome.verdict);
        results[i] = Some(CaseReport::new(
            &case,
            outcome,
            took,
            log.entries(),
            expected,
        ));
    }
    progress.finish();
    let mut cases: Vec<CaseReport> = results.into_iter().flatten().collect();
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    Report::build(target, cases, started.elapsed())
}

struct Progress {
    total: usize,
    done: usize,
    failed: usize,
    enabled: bool,
    tty: bool,
}

impl Progress {
    fn new(total: usize, enabled: bool) -> Self {
        Progress {
            total,
            done: 0,
            failed: 0,
            enabled,
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn done(&mut self, id: &str, v: Verdict) {
        self.done += 1;
        if v == Verdict::Fail {
            self.failed += 1;
        }
        if !self.enabled {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.tty {
            let width = 30;
            let filled = width * self.done / self.total.max(1);
            let _ = write!(
                err,
                "\r[{}{}] {}/{} {} failed  {id:<24}",
                "#".repeat(filled),
                "-".repeat(width - filled),
                self.done,
                self.total,
                self.failed
            );
        } else {
            let _ = writeln!(err, "[{}/{}] {id}: {v}", self.done, self.total);
        }
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.enabled && self.tty {
            eprintln!();
        }
    }
}
