//! What the gate accepts, every engine holds, and the figures agree: empty
//! and control characters in list elements, integers at the 64-bit limits
//! and sums beyond them, floats at the limits. What a store cannot hold
//! (NUL in text, integers beyond 64 bits, infinities, NaN) is quarantined
//! with its rule; a sum beyond a double fails the diff (exit 1) on both
//! engines, never the run (exit 2).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{run, store_test};

const RULES: &str = r#"
[file]
max_quarantined_fraction = 1.0

[columns.id]
type = "integer"
required = true
unique = true

[columns.amount]
type = "integer"

[columns.ratio]
type = "number"

[columns.tags]
type = "entity_list"
keys = { id = "integer", name = "string" }

[reference]
subset = "all"

[[aggregates]]
name = "tag_totals"
query = "tag_totals.sql"
dimensions = [{ name = "tag_id", explode = "tags", field = "id" }]
labels = [{ name = "tag", explode = "tags", field = "name" }]
measures = [
  { name = "records", agg = "count" },
  { name = "amount", agg = "sum", expr = "amount" },
]

[[aggregates]]
name = "ratio_total"
query = "ratio_total.sql"
dimensions = [{ name = "kind", expr = "'all'" }]
measures = [{ name = "ratio", agg = "sum", expr = "ratio" }]

[[tables]]
name = "records"
key = ["id"]
columns = [
  { name = "id", column = "id" },
  { name = "amount", column = "amount" },
  { name = "ratio", column = "ratio" },
]

[[tables]]
name = "tags"
explode = "tags"
key = ["id"]
columns = [{ name = "id", field = "id" }, { name = "name", field = "name" }]

[[tables]]
name = "record_tags"
explode = "tags"
key = ["record_id", "tag_id"]
columns = [{ name = "record_id", column = "id" }, { name = "tag_id", field = "id" }]
"#;

const TAG_TOTALS: &str = "SELECT rt.tag_id AS tag_id, t.name AS tag, COUNT(*) AS records, \
     SUM(r.amount) AS amount FROM records AS r \
     JOIN record_tags AS rt ON rt.record_id = r.id JOIN tags AS t ON t.id = rt.tag_id \
     GROUP BY rt.tag_id, t.name";

const RATIO_TOTAL: &str = "SELECT 'all' AS kind, SUM(ratio) AS ratio FROM records";

/// The rule file and its queries in `dir`, and `csv` as a data file.
fn feed(dir: &Path, csv: &str) -> (PathBuf, PathBuf) {
    std::fs::write(dir.join("tag_totals.sql"), TAG_TOTALS).unwrap();
    std::fs::write(dir.join("ratio_total.sql"), RATIO_TOTAL).unwrap();
    let rules = dir.join("edge.toml");
    std::fs::write(&rules, RULES).unwrap();
    let data = dir.join("edge.csv");
    std::fs::write(&data, csv).unwrap();
    (rules, data)
}

fn quarantined(report: &Value) -> Vec<(String, u64)> {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["failed"].as_u64().unwrap_or(0) > 0)
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["failed"].as_u64().unwrap(),
            )
        })
        .collect()
}

store_test!(
    values_at_the_limits_are_stored_alike_or_quarantined_with_a_rule,
    |store| {
        let dir = tempfile::tempdir().unwrap();
        let csv = "id,amount,ratio,tags\n\
        1,9223372036854775807,1.5,\"[{'id': 1, 'name': ''}]\"\n\
        2,9223372036854775807,1.7976931348623157e308,\"[{'id': 1, 'name': ''}, {'id': 2, 'name': 'tab\\there\\x01bell\\nline'}]\"\n\
        3,-9223372036854775808,2.2250738585072014e-308,\"[{'id': 3, 'name': 'back\\\\\\\\slash'}]\"\n\
        4,9223372036854775808,1,[]\n\
        5,1,inf,[]\n\
        6,1,NaN,[]\n\
        7,1,1e309,[]\n\
        8,1,1,\"[{'id': 4, 'name': 'nul\\x00here'}]\"\n\
        9,1,1,\"[{'id': 9223372036854775808, 'name': 'big'}]\"\n";
        let (rules, data) = feed(dir.path(), csv);
        let promoted = run(
            "run",
            data.to_str().unwrap(),
            rules.to_str().unwrap(),
            &["--store", &store.url],
        );
        assert_eq!(promoted.code, 0, "{}{}", promoted.stdout, promoted.stderr);
        let report = promoted.report();
        assert_eq!(report["rows"]["accepted"], 3);
        assert_eq!(
            quarantined(&report),
            [
                ("amount.type".to_owned(), 1),
                ("ratio.type".to_owned(), 3),
                ("tags.type".to_owned(), 2),
            ]
        );
        let nul = std::fs::read_to_string(promoted.out_path().join("quarantine.csv")).unwrap();
        assert!(
        nul.contains("a string holds a NUL character (written as an escape), which no store's text can hold"),
        "{nul}"
    );
        assert_eq!(report["diff"]["agrees"], true, "{}", promoted.stdout);
        assert_eq!(report["promotion"]["status"], "promoted");
        // The sum of tag 1 is beyond 64 bits: exact on both sides.
        let reference =
            std::fs::read_to_string(promoted.out_path().join("reference/tag_totals.csv")).unwrap();
        assert!(reference.contains("18446744073709551614"), "{reference}");
        let exported = crate::harness::dqgate()
            .args([
                "export",
                "--rules",
                rules.to_str().unwrap(),
                "--store",
                &store.url,
                "--out",
            ])
            .arg(dir.path().join("export"))
            .output()
            .unwrap();
        assert!(
            exported.status.success(),
            "{}",
            String::from_utf8_lossy(&exported.stderr)
        );
        let tags = std::fs::read_to_string(dir.path().join("export/tag_totals.csv")).unwrap();
        assert_eq!(
            tags,
            "tag_id,tag,records,amount\n\
         1,,2,18446744073709551614\n\
         2,\"tab\there\u{1}bell\nline\",1,9223372036854775807\n\
         3,back\\\\slash,1,-9223372036854775808\n"
        );
    }
);

store_test!(a_sum_beyond_a_double_fails_the_diff_not_the_run, |store| {
    let dir = tempfile::tempdir().unwrap();
    let csv = "id,amount,ratio,tags\n1,1,1.7e308,[]\n2,1,1.7e308,[]\n";
    let (rules, data) = feed(dir.path(), csv);
    let diff = run(
        "diff",
        data.to_str().unwrap(),
        rules.to_str().unwrap(),
        &["--store", &store.url],
    );
    assert_eq!(diff.code, 1, "{}{}", diff.stdout, diff.stderr);
    assert!(
        diff.stdout
            .contains("aggregate ratio_total: the store cannot compute it from this data"),
        "{}",
        diff.stdout
    );
});
