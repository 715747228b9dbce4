//! The real files of ../shared/data. They are not shipped with the project,
//! so these tests are ignored unless asked for (`--include-ignored`), and
//! fail when asked for without the folder.

use crate::harness::{check, rule, shared_data};

macro_rules! require {
    ($name:expr) => {
        shared_data($name).to_str().unwrap().to_owned()
    };
}

#[test]
#[ignore = "needs the real data in ../shared/data: run cargo test -- --include-ignored, as .ci/run does"]
fn the_real_head_of_the_canonical_file_passes_with_its_bad_records_quarantined() {
    let path = require!("movies_metadata_head2996.csv");
    let run = check(&path, "rules/movies.toml", &["--write-accepted"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    run.assert_balanced();
    let report = run.report();
    // 2,996 records by Python's csv module (SOURCES.md).
    assert_eq!(report["rows"]["in"], 2996);
    assert_eq!(
        report["blake3"],
        // As the Python blake3 package computes it.
        "7e3251a72b065ba499562ab361b5ee1a2e382cacc407c8b6543b4a5270e1c3c6"
    );
    let dup = rule(&report, "id.unique");
    assert_eq!(dup["failed"], 1);
    assert_eq!(dup["examples"][0]["line"], 1468);
    assert_eq!(
        dup["examples"][0]["reason"],
        "duplicate id 105045, first seen on line 679"
    );
}

#[test]
#[ignore = "needs the real data in ../shared/data: run cargo test -- --include-ignored, as .ci/run does"]
fn the_crlf_head_passes_too() {
    let path = require!("movies_metadata_head4627_crlf.csv");
    let run = check(&path, "rules/movies.toml", &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.report()["rows"]["in"], 4627);
    run.assert_balanced();
}

#[test]
#[ignore = "needs the real data in ../shared/data: run cargo test -- --include-ignored, as .ci/run does"]
fn the_excel_resave_fails_on_its_empty_rows() {
    let path = require!("movies_metadata_excel_resave.csv");
    let run = check(&path, "rules/movies.toml", &[]);
    assert_eq!(run.code, 1);
    let report = run.report();
    assert_eq!(report["rows"]["in"], 45466);
    let empty = rule(&report, "csv.empty_record");
    assert_eq!(empty["failed"], 43814);
    run.assert_balanced();
}

#[test]
#[ignore = "needs the real data in ../shared/data: run cargo test -- --include-ignored, as .ci/run does"]
fn the_six_column_file_fails_naming_the_missing_columns() {
    let path = require!("movies_metadata_6col_allrows_excel.csv");
    let run = check(&path, "rules/movies.toml", &[]);
    assert_eq!(run.code, 1);
    assert_eq!(run.report()["rows"]["in"], 45466);
    assert!(
        run.stdout
            .contains("missing columns: title, adult, video, budget"),
        "{}",
        run.stdout
    );
    run.assert_balanced();
}

#[test]
#[ignore = "needs the real data in ../shared/data: run cargo test -- --include-ignored, as .ci/run does"]
fn no_shared_file_makes_dqgate_error_out() {
    let dir = shared_data("");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            for rules in ["rules/movies.toml", "rules/tmdb_5000.toml"] {
                let run = check(path.to_str().unwrap(), rules, &[]);
                assert!(
                    run.code == 0 || run.code == 1,
                    "{} with {rules}: exit {}\n{}",
                    path.display(),
                    run.code,
                    run.stderr
                );
                run.assert_balanced();
            }
        }
    }
}

#[test]
#[ignore = "needs the real data in ../shared/data: run cargo test -- --include-ignored, as .ci/run does"]
fn the_store_agrees_with_the_reference_on_the_whole_real_head() {
    let path = require!("movies_metadata_head2996.csv");
    let store = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", store.path().join("store.db").display());
    let run = crate::harness::run(
        "diff",
        &path,
        "rules/movies.toml",
        &["--store", &url, "--subset", "all"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = run.report();
    assert_eq!(report["diff"]["agrees"], true);
    assert_eq!(report["diff"]["subset"]["rows"], 2993);
    for aggregate in report["diff"]["aggregates"].as_array().unwrap() {
        assert_eq!(
            aggregate["keys_reference"], aggregate["keys_store"],
            "{aggregate}"
        );
        assert_eq!(aggregate["mismatched"], 0, "{aggregate}");
    }
}

#[test]
#[ignore = "needs the real data in ../shared/data: run cargo test -- --include-ignored, as .ci/run does"]
fn the_real_head_is_promoted_into_a_fresh_postgres_schema_and_reconciles() {
    let path = require!("movies_metadata_head2996.csv");
    let store = crate::harness::TestStore::postgres();
    let run = crate::harness::run(
        "run",
        &path,
        "rules/movies.toml",
        &["--store", &store.url, "--subset", "all"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.report();
    assert_eq!(report["promotion"]["status"], "promoted");
    assert_eq!(report["promotion"]["applied"]["new_records"], 2993);
    for aggregate in report["promotion"]["reconciliation"].as_array().unwrap() {
        assert_eq!(
            aggregate["keys_reference"], aggregate["keys_store"],
            "{aggregate}"
        );
        assert_eq!(aggregate["mismatched"], 0, "{aggregate}");
    }
}
