//! dqgate's reading checked against other projects' CSV suites: the records
//! it accepts (or quarantines for their shape) are the records the peers'
//! own tests expect, and the malformed rows are at the lines they expect.

use serde_json::Value;

use crate::harness::{Run, check, root};

const RULES: &str = "tests/fixtures/peer/permissive.toml";

fn text_records(records: &[csv::ByteRecord]) -> Vec<Vec<String>> {
    records
        .iter()
        .map(|r| {
            r.iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect()
        })
        .collect()
}

/// A quarantined record: its line, its rule, and its fields re-parsed from
/// its original text.
type Quarantined = (u64, String, Vec<String>);

/// Every record dqgate read after the header, in file order: accepted ones
/// from `accepted.csv`, quarantined ones re-parsed from their original text.
fn records_read(run: &Run) -> (Vec<Vec<String>>, Vec<Quarantined>) {
    let accepted = text_records(&run.accepted());
    let quarantined = run
        .quarantine()
        .iter()
        .map(|q| {
            let line = String::from_utf8_lossy(&q[0]).parse().unwrap();
            let rule = String::from_utf8_lossy(&q[1]).into_owned();
            let fields = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&q[5])
                .byte_records()
                .next()
                .map(|r| {
                    r.unwrap()
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect()
                })
                .unwrap_or_default();
            (line, rule, fields)
        })
        .collect();
    (accepted, quarantined)
}

/// The rust-csv suite's folder and its expectations.
fn rust_csv() -> (std::path::PathBuf, Value) {
    let dir = root().join("tests/fixtures/peer/rust-csv");
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    (dir, serde_json::from_str(&text).unwrap())
}

#[test]
fn csv_spectrum_cases_read_as_their_expected_json() {
    let dir = root().join("tests/fixtures/peer/csv-spectrum");
    let mut cases = 0;
    for entry in std::fs::read_dir(dir.join("csvs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let expected: Vec<serde_json::Map<String, Value>> = serde_json::from_str(
            &std::fs::read_to_string(dir.join("json").join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let run = check(path.to_str().unwrap(), RULES, &["--write-accepted"]);
        assert_eq!(run.code, 0, "{name}: {}{}", run.stdout, run.stderr);
        run.assert_balanced();
        let (header, rows) = run.accepted_table();
        let got: Vec<serde_json::Map<String, Value>> = rows
            .into_iter()
            .map(|r| {
                header
                    .iter()
                    .cloned()
                    .zip(r.into_iter().map(Value::String))
                    .collect()
            })
            .collect();
        assert_eq!(got, expected, "{name}");
        cases += 1;
    }
    assert_eq!(cases, 11);
}

#[test]
fn rust_csv_core_cases_read_as_the_csv_core_tests_expect() {
    let (dir, suite) = rust_csv();
    let mut cases = 0;
    for case in suite["csv_core_cases"].as_array().unwrap() {
        // dqgate configures only the delimiter; cases of other dialects do not apply.
        if case["config"] != serde_json::json!({}) {
            continue;
        }
        let id = case["id"].as_str().unwrap();
        let expected: Vec<Vec<String>> =
            serde_json::from_value(case["expected_records"].clone()).unwrap();
        let input = dir.join(case["input_file"].as_str().unwrap());
        let run = check(input.to_str().unwrap(), RULES, &["--write-accepted"]);
        cases += 1;
        let Some((header, rows)) = expected.split_first() else {
            assert_eq!(
                run.code, 1,
                "{id}: an empty input fails for want of a header"
            );
            continue;
        };
        assert_eq!(run.code, 0, "{id}: {}", run.stdout);
        run.assert_balanced();
        let (accepted, quarantined) = records_read(&run);
        // Rows shaped like the header are accepted; the others are
        // quarantined for their field count, with exactly their fields.
        let (same, other): (Vec<&Vec<String>>, Vec<&Vec<String>>) =
            rows.iter().partition(|r| r.len() == header.len());
        assert_eq!(
            accepted.iter().collect::<Vec<_>>(),
            same,
            "{id}: accepted records"
        );
        assert_eq!(
            quarantined.iter().map(|(_, _, f)| f).collect::<Vec<_>>(),
            other,
            "{id}: quarantined records"
        );
        assert!(
            quarantined
                .iter()
                .all(|(_, rule, _)| rule == "csv.field_count"),
            "{id}: {quarantined:?}"
        );
    }
    assert_eq!(cases, 47);
}

#[test]
fn rust_csv_unequal_length_errors_are_quarantined_at_the_expected_lines() {
    let (dir, suite) = rust_csv();
    let mut checked = 0;
    for case in suite["csv_crate_cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        for step in case["steps"].as_array().unwrap() {
            let error = &step["error"];
            if error["kind"] != "UnequalLengths" {
                continue;
            }
            let input = dir.join(case["input_file"].as_str().unwrap());
            let run = check(input.to_str().unwrap(), RULES, &["--write-accepted"]);
            let (_, quarantined) = records_read(&run);
            let line = error["position"]["line"].as_u64().unwrap();
            let found = quarantined.iter().find(|(l, _, _)| *l == line);
            assert!(
                found.is_some_and(|(_, rule, fields)| rule == "csv.field_count"
                    && fields.len() as u64 == error["len"].as_u64().unwrap()),
                "{id}: expected a ragged row at line {line}, quarantined {quarantined:?}"
            );
            let reason = &run.report()["rules"][0]["examples"][0]["reason"];
            let expected_reason = format!(
                "expected {} fields, found {}",
                error["expected_len"].as_u64().unwrap(),
                error["len"].as_u64().unwrap()
            );
            assert_eq!(reason.as_str().unwrap(), expected_reason, "{id}");
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
}

/// The column names the generated files use.
fn column_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("c{i}")).collect()
}

#[test]
fn rust_csv_utf8_field_errors_name_the_field_and_byte() {
    let (_, suite) = rust_csv();
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for case in suite["utf8_field_cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let fields: Vec<Vec<u8>> = case["fields_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let h = h.as_str().unwrap();
                (0..h.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                    .collect()
            })
            .collect();
        // The record as CSV text, every field quoted, under a plain header.
        let path = tmp.path().join(format!("{id}.csv"));
        let mut writer = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Always)
            .from_path(&path)
            .unwrap();
        writer.write_record(column_names(fields.len())).unwrap();
        writer.write_record(&fields).unwrap();
        writer.flush().unwrap();
        let run = check(path.to_str().unwrap(), RULES, &[]);
        run.assert_balanced();
        let expected = &case["expected_error"];
        let field = expected["field"].as_u64().unwrap();
        let reason = format!(
            "field `c{field}` is not valid UTF-8 at byte {} of the field",
            expected["valid_up_to"].as_u64().unwrap()
        );
        let rows = run.quarantine();
        assert_eq!(rows.len(), 1, "{id}");
        assert_eq!(
            (&rows[0][1][..], &rows[0][3][..]),
            (&b"csv.utf8"[..], reason.as_bytes()),
            "{id}"
        );
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn rust_csv_invalid_utf8_header_names_are_pointed_out() {
    let (dir, suite) = rust_csv();
    let mut checked = 0;
    for case in suite["csv_crate_cases"].as_array().unwrap() {
        for step in case["steps"].as_array().unwrap() {
            let error = &step["error"];
            if error["kind"] != "Utf8" || step["call"] != "headers" {
                continue;
            }
            let input = dir.join(case["input_file"].as_str().unwrap());
            let run = check(input.to_str().unwrap(), RULES, &[]);
            let hint = format!(
                "the name of column {} is not valid UTF-8 at byte {}",
                error["field"].as_u64().unwrap() + 1,
                error["valid_up_to"].as_u64().unwrap()
            );
            let hints = run.report()["header"]["hints"].clone();
            assert!(
                hints.as_array().unwrap().iter().any(|h| h == &hint),
                "{}: {hints}",
                case["id"]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
}
