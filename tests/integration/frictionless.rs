//! dqgate against frictionless-py's own test expectations: the records it
//! reads are the rows frictionless parses, and the structural errors that
//! frictionless reports by row (missing-cell, extra-cell, blank-row) and
//! by label (duplicate-label, blank-label) are where dqgate reports them.
//!
//! Cases that need what dqgate does not have (a Table Schema, frictionless
//! checks, another dialect or encoding) are skipped by name below, each
//! with the reason.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::{Run, check, root};

const RULES: &str = "tests/fixtures/peer/permissive.toml";
const SUITE: &str = "tests/fixtures/peer/frictionless-py";

fn suite() -> Value {
    let text = std::fs::read_to_string(root().join(SUITE).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Options a case may have and still apply: they only select or cut the
/// expected errors.
const SELECTING: [&str; 3] = ["pick_errors", "skip_errors", "limit_errors"];

/// Lines where dqgate reports what frictionless calls a row error.
struct Found {
    field_count: BTreeSet<u64>,
    blank: BTreeSet<u64>,
    blank_count: u64,
    duplicates: Vec<String>,
    hints: Vec<String>,
}

fn found(run: &Run) -> Found {
    let report = run.report();
    let mut field_count = BTreeSet::new();
    let mut blank: BTreeSet<u64> = report["blank_lines"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap())
        .collect();
    let blank_count = report["blank_lines"]["skipped"].as_u64().unwrap();
    let mut empty_records = 0;
    for row in run.quarantine() {
        let line: u64 = std::str::from_utf8(&row[0]).unwrap().parse().unwrap();
        match &row[1] {
            b"csv.field_count" => {
                field_count.insert(line);
            }
            b"csv.empty_record" => {
                blank.insert(line);
                empty_records += 1;
            }
            _ => {}
        }
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    Found {
        field_count,
        blank,
        blank_count: blank_count + empty_records,
        duplicates: strings(&report["header"]["duplicates"]),
        hints: strings(&report["header"]["hints"]),
    }
}

fn header_of(fixture: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_path(root().join(SUITE).join(fixture)).unwrap();
    reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn row_and_label_errors_are_where_frictionless_expects_them() {
    let mut checked = 0;
    for case in suite()["validation_cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let fixture = case["fixture"].as_str().unwrap();
        let options = case["options"].as_object().cloned().unwrap_or_default();
        if !fixture.ends_with(".csv") || options.keys().any(|k| !SELECTING.contains(&k.as_str())) {
            continue;
        }
        let Some(errors) = case["errors"].as_array() else {
            continue; // counts only (capital-invalid-counts): checked below
        };
        let run = check(&format!("{SUITE}/{fixture}"), RULES, &["--write-accepted"]);
        run.assert_balanced();
        let got = found(&run);
        let mut expected_field_count = BTreeSet::new();
        let mut expected_blank = BTreeSet::new();
        for error in errors {
            let row = error["row"].as_u64();
            let field = error["field"].as_u64();
            match (error["type"].as_str().unwrap(), row, field) {
                ("missing-cell" | "extra-cell", Some(row), _) => {
                    expected_field_count.insert(row);
                }
                ("blank-row", Some(row), _) => {
                    expected_blank.insert(row);
                }
                ("duplicate-label", _, Some(field)) => {
                    let name = &header_of(fixture)[field as usize - 1];
                    assert!(got.duplicates.contains(name), "{id}: duplicate {name}");
                }
                ("blank-label", _, Some(field)) => {
                    let hint = format!("column {field} has no name");
                    assert!(got.hints.contains(&hint), "{id}: {:?}", got.hints);
                }
                ("source-error", ..) => assert_eq!(run.code, 1, "{id}: an empty file fails"),
                (other, ..) => panic!("{id}: unmapped error type {other}"),
            }
        }
        if options.is_empty() {
            // The whole list: dqgate finds these rows and no others.
            assert_eq!(got.field_count, expected_field_count, "{id}: ragged rows");
            assert_eq!(
                got.blank_count,
                expected_blank.len() as u64,
                "{id}: blank rows"
            );
            assert!(
                got.blank.is_subset(&expected_blank),
                "{id}: {:?}",
                got.blank
            );
        } else {
            assert!(expected_field_count.is_subset(&got.field_count), "{id}");
            let shown: BTreeSet<u64> = expected_blank.iter().take(5).copied().collect();
            assert!(
                shown.is_subset(&got.blank) || got.blank_count >= expected_blank.len() as u64,
                "{id}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 16, "cases checked");
}

#[test]
fn the_counts_only_case_has_its_structural_errors() {
    let case = suite()["validation_cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "capital-invalid-counts")
        .cloned()
        .unwrap();
    let counts = &case["expected_counts"];
    let run = check(
        &format!("{SUITE}/{}", case["fixture"].as_str().unwrap()),
        RULES,
        &[],
    );
    let got = found(&run);
    let ragged = counts["missing-cell"].as_u64().unwrap() + counts["extra-cell"].as_u64().unwrap();
    assert_eq!(got.field_count.len() as u64, ragged);
    assert_eq!(got.blank_count, counts["blank-row"].as_u64().unwrap());
    assert_eq!(
        got.duplicates.len() as u64,
        counts["duplicate-label"].as_u64().unwrap()
    );
}

#[test]
fn invalid_utf8_is_reported_where_frictionless_finds_it() {
    // latin1-read-as-utf8: byte 0xA9 at offset 20 is not UTF-8.
    let run = check(&format!("{SUITE}/data/latin1.csv"), RULES, &[]);
    let rows = run.quarantine();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][1], b"csv.utf8");
    let data = std::fs::read(root().join(SUITE).join("data/latin1.csv")).unwrap();
    assert_eq!(data[20], 0xa9);
    assert!(
        rows[0][5].contains(&0xa9),
        "the record keeps its original bytes"
    );
}

#[test]
fn records_read_are_the_rows_frictionless_parses() {
    let mut checked = 0;
    for case in suite()["parse_cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let options = case["options"].as_object().cloned().unwrap_or_default();
        // Another encoding or an escape character: dqgate reads UTF-8 CSV
        // with doubled quotes only.
        if !options.is_empty() {
            continue;
        }
        let fixture = case["fixture"].as_str().unwrap();
        let run = check(&format!("{SUITE}/{fixture}"), RULES, &["--write-accepted"]);
        assert_eq!(run.code, 0, "{id}");
        run.assert_balanced();
        let (header, rows) = run.accepted_table();
        if let Some(width) = case["header_length"].as_u64() {
            assert_eq!(header.len() as u64, width, "{id}");
            assert!(
                rows.iter()
                    .all(|r| r.len() as u64 == case["every_row_length"].as_u64().unwrap()),
                "{id}"
            );
        }
        if let Some(expected) = case["header"].as_array() {
            let expected: Vec<&str> = expected.iter().map(|h| h.as_str().unwrap()).collect();
            assert_eq!(header, expected, "{id}");
            let expected_rows: Vec<Vec<String>> = case["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| {
                    expected
                        .iter()
                        .map(|h| match &row[h] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect();
            assert_eq!(rows, expected_rows, "{id}");
        }
        checked += 1;
    }
    assert_eq!(checked, 3, "bom, table-utf8, doublequote-17-columns");
}
