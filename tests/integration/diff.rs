use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{fixture, root, run, snapshots};

const SAMPLE: &str = "tests/fixtures/movies_sample.csv";

/// A store in its own temporary folder.
fn store_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("store.db").display())
}

fn aggregate<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["diff"]["aggregates"]
        .as_array()
        .expect("diff.aggregates")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no aggregate {name}"))
}

/// Copies rules/movies.toml and its queries to a temporary folder, with
/// one query replaced.
fn rules_with_query(name: &str, sql: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("queries")).unwrap();
    std::fs::copy(
        root().join("rules/movies.toml"),
        dir.path().join("movies.toml"),
    )
    .unwrap();
    for entry in std::fs::read_dir(root().join("rules/queries")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sql") {
            std::fs::copy(
                &path,
                dir.path().join("queries").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    std::fs::write(dir.path().join("queries").join(format!("{name}.sql")), sql).unwrap();
    let rules = dir.path().join("movies.toml");
    (dir, rules)
}

#[test]
fn the_store_agrees_with_the_reference_on_every_key() {
    let store = tempfile::tempdir().unwrap();
    let run = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", &store_url(store.path()), "--subset", "all"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.report();
    let diff = &report["diff"];
    assert_eq!(diff["agrees"], true);
    assert_eq!(diff["subset"]["rows"], 301);
    assert_eq!(diff["staged"]["movies"], 301);
    for name in [
        "genre_year",
        "company_year",
        "company_genre_year",
        "genre_year_top",
    ] {
        let a = aggregate(&report, name);
        assert!(a["keys_reference"].as_u64().unwrap() > 0, "{name}");
        assert_eq!(a["keys_reference"], a["keys_store"], "{name}");
        assert_eq!(a["mismatched"], 0, "{name}");
    }
}

#[test]
fn the_reference_aggregates_of_the_sample_are_stable() {
    let store = tempfile::tempdir().unwrap();
    let run = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", &store_url(store.path()), "--subset", "all"],
    );
    assert_eq!(run.code, 0);
    let settings = snapshots();
    settings.bind(|| {
        for name in [
            "genre_year",
            "company_year",
            "company_genre_year",
            "genre_year_top",
        ] {
            let csv = std::fs::read_to_string(
                run.out_path().join("reference").join(format!("{name}.csv")),
            )
            .unwrap();
            insta::assert_snapshot!(format!("reference_{name}"), csv);
        }
        let table = run
            .redact(&run.stdout)
            .replace(&store.path().display().to_string(), "[STORE]");
        insta::assert_snapshot!("diff_sample_table", table);
    });
}

#[test]
fn a_query_that_joins_companies_into_genres_is_caught_and_named() {
    let buggy = std::fs::read_to_string(root().join("rules/queries/genre_year.sql"))
        .unwrap()
        .replace(
            "JOIN genres AS g ON g.id = mg.genre_id",
            "JOIN genres AS g ON g.id = mg.genre_id\nJOIN movie_companies AS mc ON mc.movie_id = m.id",
        );
    let (_dir, rules) = rules_with_query("genre_year", &buggy);
    let store = tempfile::tempdir().unwrap();
    let run = run(
        "diff",
        SAMPLE,
        rules.to_str().unwrap(),
        &["--store", &store_url(store.path()), "--subset", "all"],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.report();
    let genre_year = aggregate(&report, "genre_year");
    assert!(genre_year["mismatched"].as_u64().unwrap() > 0);
    let first = &genre_year["examples"][0];
    assert_eq!(first["kind"], "mismatch");
    assert_eq!(first["measure"], "releases", "{first}");
    assert!(
        first["key"].as_str().unwrap().starts_with("genre_id="),
        "{first}"
    );
    assert!(
        run.stdout.contains("genre_year         │"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("DIFFER"));
    assert!(
        report["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .starts_with("aggregate genre_year: the store disagrees")),
        "{}",
        report["reasons"]
    );
    // The other aggregates have their own queries and still agree.
    assert_eq!(aggregate(&report, "company_year")["mismatched"], 0);
}

#[test]
fn a_profit_query_that_ignores_the_positive_filter_is_caught_and_named() {
    let buggy = std::fs::read_to_string(root().join("rules/queries/genre_year.sql"))
        .unwrap()
        .replace(
            "SUM(CASE WHEN m.budget > 0 AND m.revenue > 0 THEN m.revenue - m.budget ELSE 0 END) AS profit",
            "SUM(m.revenue - m.budget) AS profit",
        );
    let (_dir, rules) = rules_with_query("genre_year", &buggy);
    let store = tempfile::tempdir().unwrap();
    let run = run(
        "diff",
        SAMPLE,
        rules.to_str().unwrap(),
        &["--store", &store_url(store.path()), "--subset", "all"],
    );
    assert_eq!(run.code, 1);
    let report = run.report();
    let examples = aggregate(&report, "genre_year")["examples"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!examples.is_empty());
    assert!(
        examples.iter().all(|e| e["measure"] == "profit"),
        "{examples:#?}"
    );
}

#[test]
fn a_query_missing_an_output_column_fails_with_the_column_named() {
    let buggy = std::fs::read_to_string(root().join("rules/queries/genre_year_top.sql"))
        .unwrap()
        .replace("AS most_popular_genre\n", "AS popular_genre\n");
    let (_dir, rules) = rules_with_query("genre_year_top", &buggy);
    let store = tempfile::tempdir().unwrap();
    let run = run(
        "diff",
        SAMPLE,
        rules.to_str().unwrap(),
        &["--store", &store_url(store.path())],
    );
    assert_eq!(run.code, 1);
    let error = aggregate(&run.report(), "genre_year_top")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.starts_with("the store's output lacks column most_popular_genre"),
        "{error}"
    );
}

#[test]
fn exported_results_from_another_engine_can_be_compared() {
    let store = tempfile::tempdir().unwrap();
    let first = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", &store_url(store.path()), "--subset", "all"],
    );
    let exported = first.out_path().join("reference");
    let agree = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &[
            "--store-output",
            exported.to_str().unwrap(),
            "--subset",
            "all",
        ],
    );
    assert_eq!(agree.code, 0, "{}", agree.stdout);
    assert_eq!(agree.report()["diff"]["staged"], Value::Null);

    // One changed figure in the export is found.
    let path = exported.join("genre_year_top.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let tampered = text.replacen(",Drama,", ",Comedy,", 1);
    std::fs::write(&path, tampered).unwrap();
    let differ = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &[
            "--store-output",
            exported.to_str().unwrap(),
            "--subset",
            "all",
        ],
    );
    assert_eq!(differ.code, 1);
    let top = aggregate(&differ.report(), "genre_year_top").clone();
    assert_eq!(top["mismatched"], 1, "{top:#}");
    assert_eq!(top["examples"][0]["reference"], "Drama");
    assert_eq!(top["examples"][0]["store"], "Comedy");
}

#[test]
fn the_subset_takes_the_first_rows_or_a_reproducible_sample() {
    let store = tempfile::tempdir().unwrap();
    let url = store_url(store.path());
    let first = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", &url, "--subset", "50"],
    );
    assert_eq!(first.code, 0);
    assert_eq!(first.report()["diff"]["subset"]["rows"], 50);
    // The rule file's default is 1000 rows: here, all 301 accepted ones.
    let default = run("diff", SAMPLE, "rules/movies.toml", &["--store", &url]);
    assert_eq!(default.report()["diff"]["subset"]["limit"], 1000);
    assert_eq!(default.report()["diff"]["subset"]["rows"], 301);
    let sample = |seed: &str| {
        let r = run(
            "diff",
            SAMPLE,
            "rules/movies.toml",
            &["--store", &url, "--sample", "0.3", "--seed", seed],
        );
        assert_eq!(r.code, 0);
        let subset = r.report()["diff"]["subset"].clone();
        (
            subset["rows"].as_u64().unwrap(),
            std::fs::read_to_string(r.out_path().join("reference/genre_year.csv")).unwrap(),
        )
    };
    let (rows, figures) = sample("7");
    assert!(
        (50..130).contains(&rows),
        "a 30% sample of 301 rows took {rows}"
    );
    assert_eq!(
        sample("7"),
        (rows, figures.clone()),
        "the same seed takes the same rows"
    );
    assert_ne!(sample("8").1, figures, "another seed takes other rows");
}

#[test]
fn store_errors_exit_2_with_a_clear_message() {
    let bad_url = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", "mysql://x"],
    );
    assert_eq!(bad_url.code, 2);
    assert!(
        bad_url.stderr.contains("unsupported store \"mysql://x\""),
        "{}",
        bad_url.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let conn_ok = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", &store_url(dir.path())],
    );
    assert_eq!(conn_ok.code, 0);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE dq_meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    let too_new = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", &store_url(dir.path())],
    );
    assert_eq!(too_new.code, 2);
    assert!(
        too_new
            .stderr
            .contains("has schema version 99, newer than this dqgate supports"),
        "{}",
        too_new.stderr
    );
}

#[test]
fn the_crlf_and_json_list_fixtures_agree_too() {
    let store = tempfile::tempdir().unwrap();
    let run = run(
        "diff",
        &fixture("movies_crlf.csv"),
        "rules/movies.toml",
        &["--store", &store_url(store.path()), "--subset", "all"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.report()["diff"]["agrees"], true);
}
