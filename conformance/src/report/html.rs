//! A self-contained HTML page: summary, a table per clause group, expandable wire logs.

use std::fmt::Write as _;

use super::{Report, esc};
use crate::case::Verdict;
use crate::peer::Dir;

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}\
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;font-size:13px}\
th{background:#f0f0f0;text-align:left}td:first-child{white-space:nowrap}.pass{background:#dfd}.fail{background:#fcc}\
.non-strict{background:#ffd}.unsupported{background:#eee}.informational{background:#def}\
.none{color:#999}pre{font-size:11px;margin:0;white-space:pre-wrap}\
details summary{cursor:pointer}.tx{color:#06c}.rx{color:#a30}.note{color:#666}\
.counts span{display:inline-block;margin-right:1em;padding:2px 8px;border-radius:3px}";

// Besides the buttons: recount the verdicts of the case rows once the page is loaded, so
// that a reader (and the headless-browser test) sees that the tables agree with the
// summary line.
const JS: &str = "function toggleAll(open){document.querySelectorAll('details').forEach(d=>d.open=open)}\
document.addEventListener('DOMContentLoaded',()=>{const seen=new Map();\
document.querySelectorAll('tr[data-case]').forEach(r=>seen.set(r.dataset.case,r.dataset.verdict));\
const n={};seen.forEach(v=>{n[v]=(n[v]||0)+1});const out=document.getElementById('tally');\
if(out){out.textContent='cases in the tables: '+['pass','non-strict','fail','unsupported','informational']\
.map(v=>v+' '+(n[v]||0)).join(', ')+', total '+seen.size;out.dataset.ready='1';}});";

/// The report as one HTML page with inline CSS and JS.
pub fn to_html(r: &Report) -> String {
    let s = &r.summary;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>ferrocom conformance: {name}</title>\
<style>{CSS}</style><script>{JS}</script></head><body>\
<h1>Conformance: {name} ({role})</h1><p>{addr} — {suite} — {secs:.1} s — result: <b>{res}</b></p>\
<p class=\"counts\"><span class=\"pass\" id=\"count-pass\">pass {p}</span><span class=\"non-strict\" id=\"count-non-strict\">non-strict {ns}</span>\
<span class=\"fail\" id=\"count-fail\">fail {f} ({xf} expected)</span><span class=\"unsupported\" id=\"count-unsupported\">unsupported {u}</span>\
<span class=\"informational\" id=\"count-informational\">informational {i}</span><span id=\"count-total\">total {t}</span></p>\
<p id=\"tally\" class=\"note\"></p>\
<p><button onclick=\"toggleAll(true)\">expand all logs</button> <button onclick=\"toggleAll(false)\">collapse all</button></p>",
        name = esc(&r.target.name),
        role = r.target.role,
        addr = esc(&r.target.address),
        suite = esc(&r.suite),
        secs = r.duration_ms as f64 / 1000.0,
        res = if r.ok { "OK" } else { "FAILED" },
        p = s.pass,
        ns = s.non_strict,
        f = s.fail,
        xf = s.expected_failures,
        u = s.unsupported,
        i = s.informational,
        t = s.total,
    );
    // One table per clause of this run, with its cases and their logs.
    o.push_str("<h2>Results by clause</h2>");
    for cov in &r.coverage {
        for row in &cov.clauses {
            let cases: Vec<_> = r
                .cases
                .iter()
                .filter(|c| c.clauses.contains(&row.id))
                .collect();
            if cases.is_empty() {
                continue;
            }
            let v = row.verdict.map_or("none", Verdict::name);
            let _ = write!(
                o,
                "<h3 id=\"{id}\" class=\"{v}\">{id} — {v}</h3><p>{text}</p><table><tr><th>case</th><th>title</th><th>kind</th><th>verdict</th><th>message</th><th>ms</th></tr>",
                id = esc(&row.id),
                text = esc(&row.text)
            );
            for c in cases {
                let note = c
                    .expected_failure
                    .as_ref()
                    .map(|r| format!("<br><i>expected failure: {}</i>", esc(r)))
                    .unwrap_or_default();
                let _ = write!(
                    o,
                    "<tr class=\"{v}\" data-case=\"{id}\" data-verdict=\"{v}\"><td>{id}</td><td>{title}</td><td>{kind:?}</td><td>{v}</td><td>{msg}{note}\
<details><summary>wire log ({n} entries)</summary><pre>",
                    v = c.verdict.name(),
                    id = esc(&c.id),
                    title = esc(&c.title),
                    kind = c.kind,
                    msg = esc(&c.message),
                    n = c.log.len()
                );
                for e in &c.log {
                    let (cls, arrow) = match e.dir {
                        Dir::Tx => ("tx", "suite → target"),
                        Dir::Rx => ("rx", "target → suite"),
                        Dir::Note => ("note", "note"),
                    };
                    let _ = writeln!(
                        o,
                        "<span class=\"{cls}\">{:>10.3} ms  #{} {arrow}: {}</span>",
                        e.t_us as f64 / 1000.0,
                        e.conn,
                        esc(&e.data)
                    );
                }
                let _ = write!(o, "</pre></details></td><td>{}</td></tr>", c.duration_ms);
            }
            o.push_str("</table>");
        }
    }
    o.push_str("<h2>Coverage</h2>");
    for cov in &r.coverage {
        let _ = write!(
            o,
            "<h3>{} — {}/{} clauses have a case</h3><table><tr><th>clause</th><th>kind</th><th>text</th><th>cases</th><th>verdict here</th></tr>",
            esc(&cov.protocol),
            cov.covered,
            cov.clauses.len()
        );
        for row in &cov.clauses {
            let v = row.verdict.map_or("none", Verdict::name);
            let cases = if row.cases.is_empty() {
                "<span class=\"fail\">no case yet</span>".to_string()
            } else {
                esc(&row.cases.join(", "))
            };
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{cases}</td><td class=\"{v}\">{v}</td></tr>",
                esc(&row.id),
                esc(&row.kind),
                esc(&row.text)
            );
        }
        o.push_str("</table>");
    }
    o.push_str("</body></html>\n");
    o
}
