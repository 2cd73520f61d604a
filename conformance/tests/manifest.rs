//! The manifests list every clause id the generated codecs carry, and every case names
//! clauses of a manifest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use ferrocom_conformance::manifest::Manifest;
use ferrocom_conformance::{ExpectedFailures, all_cases};

fn missing(codec: &[(&str, &str, u32)], m: &Manifest) -> Vec<String> {
    codec
        .iter()
        .filter(|(_, id, _)| m.clause(id).is_none())
        .map(|(el, id, line)| format!("{id} ({el}, line {line})"))
        .collect()
}

#[test]
fn manifest_covers_codec_clauses() {
    assert_eq!(
        missing(ferrocom_wire::iocom::CLAUSES, &Manifest::iocom()),
        Vec::<String>::new()
    );
    assert_eq!(
        missing(ferrocom_wire::switchbox::CLAUSES, &Manifest::switchbox()),
        Vec::<String>::new()
    );
    assert_eq!(
        missing(ferrocom_wire::mqtt311::CLAUSES, &Manifest::mqtt311()),
        Vec::<String>::new()
    );
    assert_eq!(
        missing(ferrocom_wire::iotellect::CLAUSES, &Manifest::iotellect()),
        Vec::<String>::new()
    );
}

#[test]
fn manifest_ids_are_unique_and_texts_present() {
    for m in Manifest::all() {
        let mut seen = BTreeSet::new();
        for c in &m.clauses {
            assert!(seen.insert(c.id.clone()), "duplicate {}", c.id);
            assert!(c.text.len() > 10, "{} has no text", c.id);
            assert!(
                c.id.starts_with(&m.protocol),
                "{} in the {} manifest",
                c.id,
                m.protocol
            );
        }
    }
}

#[test]
fn every_case_names_manifest_clauses_and_has_a_unique_id() {
    let mut ids = BTreeSet::new();
    for case in all_cases() {
        assert!(ids.insert(case.id), "duplicate case id {}", case.id);
        let primary = case.id.split('#').next().unwrap();
        assert_eq!(
            primary, case.clauses[0],
            "{}: id names its primary clause",
            case.id
        );
        for c in case.clauses {
            assert!(
                ferrocom_conformance::manifest::find_clause(c).is_some(),
                "{} names {c}, which no manifest lists",
                case.id
            );
        }
    }
}

#[test]
fn expected_failure_files_parse_and_name_real_cases() {
    let ids: BTreeSet<&str> = all_cases().iter().map(|c| c.id).collect();
    for entry in std::fs::read_dir(ferrocom_conformance::expected_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let list = ExpectedFailures::load(&path).unwrap();
        for c in &list.cases {
            assert!(
                ids.contains(c.id.as_str()),
                "{}: unknown case {}",
                path.display(),
                c.id
            );
            assert!(
                !c.reason.trim().is_empty(),
                "{}: {} has no reason",
                path.display(),
                c.id
            );
        }
    }
}
