use std::path::PathBuf;

use serde_json::Value;

use crate::harness::{TestStore, fixture, root, run, snapshots, store_test};

const SAMPLE: &str = "tests/fixtures/movies_sample.csv";

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

/// `dqgate diff --subset all` of the sample with one shipped query replaced.
fn diff_with_query(store: &TestStore, name: &str, sql: &str) -> crate::harness::Run {
    let (_dir, rules) = rules_with_query(name, sql);
    run(
        "diff",
        SAMPLE,
        rules.to_str().unwrap(),
        &["--store", &store.url, "--subset", "all"],
    )
}

fn buggy_query(file: &str, from: &str, to: &str) -> String {
    let sql = std::fs::read_to_string(root().join("rules/queries").join(file)).unwrap();
    assert!(
        sql.contains(from),
        "the planted bug no longer applies to {file}"
    );
    sql.replace(from, to)
}

store_test!(the_store_agrees_with_the_reference_on_every_key, |store| {
    let run = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", &store.url, "--subset", "all"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.report();
    let diff = &report["diff"];
    assert_eq!(diff["agrees"], true);
    assert_eq!(diff["subset"]["rows"], 301);
    assert_eq!(diff["staged"][0]["table"], "movies");
    assert_eq!(diff["staged"][0]["rows"], 301);
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
});

#[test]
fn the_reference_aggregates_of_the_sample_are_stable() {
    let store = TestStore::sqlite();
    let run = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", &store.url, "--subset", "all"],
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
        let location = store
            .url
            .trim_start_matches("sqlite://")
            .trim_end_matches("/store.db");
        let table = run.redact(&run.stdout).replace(location, "[STORE]");
        insta::assert_snapshot!("diff_sample_table", table);
    });
}

store_test!(
    a_query_that_joins_companies_into_genres_is_caught_and_named,
    |store| {
        let buggy = buggy_query(
            "genre_year.sql",
            "JOIN genres AS g ON g.id = mg.genre_id",
            "JOIN genres AS g ON g.id = mg.genre_id\nJOIN movie_companies AS mc ON mc.movie_id = m.id",
        );
        let run = diff_with_query(&store, "genre_year", &buggy);
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
);

store_test!(
    a_profit_query_that_ignores_the_positive_filter_is_caught_and_named,
    |store| {
        let buggy = buggy_query(
            "genre_year.sql",
            "SUM(CASE WHEN m.budget > 0 AND m.revenue > 0 THEN m.revenue - m.budget ELSE 0 END) AS profit",
            "SUM(m.revenue - m.budget) AS profit",
        );
        let run = diff_with_query(&store, "genre_year", &buggy);
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
);

store_test!(
    a_query_missing_an_output_column_fails_with_the_column_named,
    |store| {
        let buggy = buggy_query(
            "genre_year_top.sql",
            "AS most_popular_genre\n",
            "AS popular_genre\n",
        );
        let (_dir, rules) = rules_with_query("genre_year_top", &buggy);
        let run = run(
            "diff",
            SAMPLE,
            rules.to_str().unwrap(),
            &["--store", &store.url],
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
);

store_test!(
    an_engine_specific_query_file_replaces_the_shared_one,
    |store| {
        // A deliberately wrong file for this engine proves which file ran.
        let engine = if store.url.starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        };
        let (dir, rules) = rules_with_query(
            "genre_year",
            &std::fs::read_to_string(root().join("rules/queries/genre_year.sql")).unwrap(),
        );
        std::fs::create_dir(dir.path().join("queries").join(engine)).unwrap();
        let wrong = buggy_query(
            "genre_year.sql",
            "COUNT(*) AS releases",
            "COUNT(*) + 1 AS releases",
        );
        std::fs::write(
            dir.path()
                .join("queries")
                .join(engine)
                .join("genre_year.sql"),
            wrong,
        )
        .unwrap();
        let run = run(
            "diff",
            SAMPLE,
            rules.to_str().unwrap(),
            &["--store", &store.url],
        );
        assert_eq!(run.code, 1);
        let genre_year = aggregate(&run.report(), "genre_year").clone();
        assert!(
            genre_year["source"]
                .as_str()
                .unwrap()
                .ends_with(&format!("queries/{engine}/genre_year.sql")),
            "{genre_year}"
        );
        assert_eq!(genre_year["examples"][0]["measure"], "releases");
    }
);

#[test]
fn exported_results_from_another_engine_can_be_compared() {
    let store = TestStore::sqlite();
    let first = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", &store.url, "--subset", "all"],
    );
    let exported = first.out_path().join("reference");
    let args = [
        "--store-output",
        exported.to_str().unwrap(),
        "--subset",
        "all",
    ];
    let agree = run("diff", SAMPLE, "rules/movies.toml", &args);
    assert_eq!(agree.code, 0, "{}", agree.stdout);
    assert_eq!(agree.report()["diff"]["staged"], Value::Null);

    // One changed figure in the export is found.
    let path = exported.join("genre_year_top.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen(",Drama,", ",Comedy,", 1)).unwrap();
    let differ = run("diff", SAMPLE, "rules/movies.toml", &args);
    assert_eq!(differ.code, 1);
    let top = aggregate(&differ.report(), "genre_year_top").clone();
    assert_eq!(top["mismatched"], 1, "{top:#}");
    assert_eq!(top["examples"][0]["reference"], "Drama");
    assert_eq!(top["examples"][0]["store"], "Comedy");
}

store_test!(
    the_subset_takes_the_first_rows_or_a_reproducible_sample,
    |store| {
        let url = store.url.clone();
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
            let figures =
                std::fs::read_to_string(r.out_path().join("reference/genre_year.csv")).unwrap();
            (subset["rows"].as_u64().unwrap(), figures)
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
);

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

    let store = TestStore::sqlite();
    assert_eq!(
        run("run", SAMPLE, "rules/movies.toml", &["--store", &store.url]).code,
        0
    );
    rusqlite::Connection::open(store.url.trim_start_matches("sqlite://"))
        .unwrap()
        .execute(
            "UPDATE dq_meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    let too_new = run("run", SAMPLE, "rules/movies.toml", &["--store", &store.url]);
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
fn postgres_connection_failures_exit_2_quickly_and_never_show_the_password() {
    // Nothing listens on port 1: refused at once, whatever the machine runs.
    let started = std::time::Instant::now();
    let refused = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", "postgres://ann:hunter2@127.0.0.1:1/db"],
    );
    assert_eq!(refused.code, 2);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the connect timeout is bounded"
    );
    assert!(
        refused
            .stderr
            .contains("cannot open store postgres://ann@127.0.0.1:1/db?schema=dqgate"),
        "{}",
        refused.stderr
    );
    for text in [&refused.stdout, &refused.stderr] {
        assert!(!text.contains("hunter2"), "the password leaked: {text}");
    }
}

#[test]
#[ignore = "needs PostgreSQL: set DQGATE_TEST_PG and run cargo test -- --include-ignored, as .ci/run does"]
fn a_missing_postgres_database_exits_2_naming_it() {
    let store = TestStore::postgres();
    let base = store.url.split('?').next().unwrap().to_owned();
    let missing_db = format!("{}/dqgate_no_such_db", base.rsplit_once('/').unwrap().0);
    let run = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", &missing_db],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("database \"dqgate_no_such_db\" does not exist"),
        "{}",
        run.stderr
    );
}

store_test!(the_crlf_fixture_agrees_too, |store| {
    let run = run(
        "diff",
        &fixture("movies_crlf.csv"),
        "rules/movies.toml",
        &["--store", &store.url, "--subset", "all"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.report()["diff"]["agrees"], true);
});

#[test]
#[ignore = "needs PostgreSQL: set DQGATE_TEST_PG and run cargo test -- --include-ignored, as .ci/run does"]
fn a_planted_postgres_password_appears_in_no_output() {
    let store = TestStore::postgres();
    let planted = "Pl4nted-Secret";
    let url = with_password(&store.url, planted);
    for command in ["diff", "run"] {
        let run = run(
            command,
            SAMPLE,
            "rules/movies.toml",
            &["--store", &url, "--subset", "all"],
        );
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let mut texts = vec![run.stdout.clone(), run.stderr.clone()];
        for entry in walk(run.out_path()) {
            texts.push(String::from_utf8_lossy(&std::fs::read(entry).unwrap()).into_owned());
        }
        for text in &texts {
            assert!(
                !text.contains(planted),
                "{command}: the password leaked into an output"
            );
        }
        let history = crate::harness::dqgate()
            .args(["history", "--format", "json", "--store", &url])
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&history.stdout).contains(planted));
        assert!(!String::from_utf8_lossy(&history.stderr).contains(planted));
    }
}

/// The URL with a password added to its user (the current user if none).
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    match rest.split_once('@') {
        Some((user, host)) => format!("{scheme}://{user}:{password}@{host}"),
        None => format!(
            "{scheme}://{}:{password}@{rest}",
            std::env::var("USER").unwrap_or_default()
        ),
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_run_that_fails_after_publishing_its_files_leaves_no_report_of_another_run() {
    let (dir, rules) = rules_with_query(
        "genre_year",
        "SELECT no_such_column AS genre_id FROM movies",
    );
    let rules = rules.to_str().unwrap();
    let out = dir.path().join("out");
    let store = TestStore::sqlite();
    let args = |file: &str| {
        crate::harness::dqgate()
            .args([
                "diff", file, "--rules", rules, "--store", &store.url, "--out",
            ])
            .arg(&out)
            .output()
            .unwrap()
    };
    let earlier = crate::harness::dqgate()
        .args(["check", &fixture("movies_crlf.csv"), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(earlier.status.success());
    assert!(out.join("report.json").exists());
    let failed = args(SAMPLE);
    assert_eq!(
        failed.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("no_such_column"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    // This run's quarantine is in place; the earlier run's report is gone.
    assert!(!out.join("report.json").exists());
    let quarantine = std::fs::read_to_string(out.join("quarantine.csv")).unwrap();
    assert!(quarantine.contains("105045"), "{quarantine}");
}

/// The sample's rule file without its aggregates, with `extra` lines in
/// its `[reference]` table.
fn rules_without_aggregates(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let text = std::fs::read_to_string(root().join("rules/movies.toml"))
        .unwrap()
        .replace("subset = 1000\n", &format!("subset = 1000\n{extra}"));
    let start = text.find("[[aggregates]]").unwrap();
    let end = text.find("# --- the store's model").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no_figures.toml");
    std::fs::write(&path, format!("{}{}", &text[..start], &text[end..])).unwrap();
    (dir, path)
}

store_test!(
    a_rule_file_without_aggregates_never_passes_a_diff_by_default,
    |store| {
        let (_dir, rules) = rules_without_aggregates("");
        let diff = run(
            "diff",
            SAMPLE,
            rules.to_str().unwrap(),
            &["--store", &store.url],
        );
        assert_eq!(diff.code, 1, "{}{}", diff.stdout, diff.stderr);
        assert!(
            diff.stdout.contains(
                "no reference figures were compared: the rule file declares no [[aggregates]]"
            ),
            "{}",
            diff.stdout
        );
        let report = diff.report();
        assert_eq!(report["diff"]["agrees"], false);
        assert!(report["diff"]["not_compared"].is_string());

        let (_dir, intended) = rules_without_aggregates("no_aggregates = true\n");
        let junit = run(
            "diff",
            SAMPLE,
            intended.to_str().unwrap(),
            &["--store", &store.url, "--format", "junit"],
        );
        assert_eq!(junit.code, 0, "{}{}", junit.stdout, junit.stderr);
        assert!(
        junit.stdout.contains(
            "<skipped message=\"no reference figures were compared: the rule file declares no aggregates"
        ),
        "{}",
        junit.stdout
    );
        assert!(junit.stdout.contains("skipped=\"1\""), "{}", junit.stdout);
    }
);

store_test!(
    a_run_without_aggregates_promotes_and_records_the_diff_as_not_run,
    |store| {
        let (_dir, rules) = rules_without_aggregates("");
        let promoted = run(
            "run",
            SAMPLE,
            rules.to_str().unwrap(),
            &["--store", &store.url],
        );
        assert_eq!(promoted.code, 0, "{}{}", promoted.stdout, promoted.stderr);
        let report = promoted.report();
        assert_eq!(report["promotion"]["status"], "promoted");
        assert_eq!(report["diff"]["agrees"], false);
        let history = crate::harness::dqgate()
            .args(["history", "--format", "json", "--store", &store.url])
            .output()
            .unwrap();
        let history: Value = serde_json::from_slice(&history.stdout).unwrap();
        assert_eq!(history[0]["diff_outcome"], "not_run");
    }
);

store_test!(
    a_subset_or_sample_without_rows_fails_and_says_why,
    |store| {
        for extra in [["--subset", "0"], ["--sample", "0"]] {
            let mut args = vec!["--store", store.url.as_str()];
            args.extend(extra);
            let diff = run("diff", SAMPLE, "rules/movies.toml", &args);
            assert_eq!(diff.code, 1, "{extra:?}: {}{}", diff.stdout, diff.stderr);
            assert!(
            diff.stdout.contains(
                "no reference figures were compared: the subset selected none of the 301 accepted rows"
            ),
            "{extra:?}: {}",
            diff.stdout
        );
        }
    }
);

store_test!(a_query_that_returns_no_rows_is_named_as_such, |store| {
    let sql = std::fs::read_to_string(root().join("rules/queries/genre_year.sql")).unwrap();
    let diff = diff_with_query(&store, "genre_year", &format!("{sql}\nHAVING 1 = 0"));
    assert_eq!(diff.code, 1);
    assert!(
        diff.stdout
            .contains("aggregate genre_year: the store's query returned no rows, but the reference has 65 keys"),
        "{}",
        diff.stdout
    );
});

#[test]
fn diff_only_reads_the_store_and_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("absent.db");
    let url = format!("sqlite://{}", db.display());
    let diff = run("diff", SAMPLE, "rules/movies.toml", &["--store", &url]);
    assert_eq!(diff.code, 0, "{}{}", diff.stdout, diff.stderr);
    assert_eq!(diff.report()["diff"]["agrees"], true);
    assert!(!db.exists(), "diff created the store");

    let promoted = run("run", SAMPLE, "rules/movies.toml", &["--store", &url]);
    assert_eq!(promoted.code, 0, "{}", promoted.stdout);
    let before = std::fs::read(&db).unwrap();
    let again = run(
        "diff",
        SAMPLE,
        "rules/movies.toml",
        &["--store", &url, "--subset", "all"],
    );
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "diff changed the store"
    );
}
