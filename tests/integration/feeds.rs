//! The whole gate on three real feeds, each with its own model: the movie
//! feed, the TMDB 5000 export (JSON lists, a keywords table), and the
//! hourly weather of New York's airports (another domain, five key
//! columns, `NA` for nulls). Each promotes with every aggregate agreeing,
//! is not promoted twice, and a bug planted in one of its queries fails
//! the diff, on SQLite and on PostgreSQL.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{TestStore, fixture, root, run, store_test};

/// One feed: its file, its rule file, and a planted bug (a query file of
/// `rules/`, the text to replace, and its replacement).
struct Feed {
    file: PathBuf,
    rules: &'static str,
    bug: (&'static str, &'static str, &'static str),
}

/// The TMDB 5000 sample without its one record that breaks a rule: alone
/// it puts the sample over the quarantine limit.
fn tmdb_accepted_sample(dir: &Path) -> PathBuf {
    let mut reader = csv::Reader::from_path(fixture("tmdb_5000_sample.csv")).unwrap();
    let path = dir.join("tmdb_5000_accepted.csv");
    let mut writer = csv::Writer::from_path(&path).unwrap();
    writer.write_record(reader.headers().unwrap()).unwrap();
    let id = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "id")
        .unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        if &record[id] != "380097" {
            writer.write_record(&record).unwrap();
        }
    }
    writer.flush().unwrap();
    path
}

fn feeds(dir: &Path) -> Vec<Feed> {
    vec![
        Feed {
            file: fixture("movies_sample.csv").into(),
            rules: "movies.toml",
            // Every movie counted once per production company.
            bug: (
                "queries/genre_year.sql",
                "FROM movies AS m",
                "FROM movies AS m JOIN movie_companies AS extra ON extra.movie_id = m.id",
            ),
        },
        Feed {
            file: tmdb_accepted_sample(dir),
            rules: "tmdb_5000.toml",
            // Keywords joined to genres: a double count.
            bug: (
                "queries/keyword_year.sql",
                "JOIN keywords AS k ON k.id = mk.keyword_id",
                "JOIN keywords AS k ON k.id = mk.keyword_id JOIN movie_genres AS mg ON mg.movie_id = m.id",
            ),
        },
        Feed {
            file: fixture("weather/weather_sample.csv").into(),
            rules: "nyc_weather.toml",
            // A missing pressure read as 0.
            bug: (
                "queries/nyc_weather/origin_day.sql",
                "AVG(pressure)",
                "AVG(COALESCE(pressure, 0))",
            ),
        },
    ]
}

/// Copies `rules/` (rule files and queries) to `to`.
fn copy_rules(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_rules(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn aggregates(report: &Value) -> Vec<(String, bool)> {
    report["diff"]["aggregates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["missing"] == 0 && a["extra"] == 0 && a["mismatched"] == 0,
            )
        })
        .collect()
}

fn promote_each_feed_and_catch_a_planted_bug(store: &TestStore) {
    let dir = tempfile::tempdir().unwrap();
    for feed in feeds(dir.path()) {
        let rules = root().join("rules").join(feed.rules);
        let file = feed.file.to_str().unwrap();
        // Each feed in a store of its own, on the same engine: a store
        // holds one model.
        let own = if store.url.starts_with("sqlite://") {
            TestStore::sqlite()
        } else {
            TestStore::postgres()
        };
        let args = ["--store", own.url.as_str(), "--subset", "all"];
        let first = run("run", file, rules.to_str().unwrap(), &args);
        assert_eq!(
            first.code, 0,
            "{}: {}{}",
            feed.rules, first.stdout, first.stderr
        );
        let report = first.report();
        assert_eq!(report["promotion"]["status"], "promoted", "{}", feed.rules);
        let compared = aggregates(&report);
        assert!(compared.len() >= 2, "{}: {compared:?}", feed.rules);
        assert!(
            compared.iter().all(|(_, agrees)| *agrees),
            "{}: {compared:?}",
            feed.rules
        );
        assert!(report["diff"]["not_compared"].is_null());
        let reconciled = report["promotion"]["reconciliation"].as_array().unwrap();
        assert_eq!(reconciled.len(), compared.len(), "{}", feed.rules);

        let again = run("run", file, rules.to_str().unwrap(), &args);
        assert_eq!(again.code, 0, "{}: {}", feed.rules, again.stdout);
        assert_eq!(again.report()["promotion"]["status"], "already_promoted");

        let planted = dir.path().join(format!("planted_{}", feed.rules));
        copy_rules(&root().join("rules"), &planted);
        let (query, from, to) = feed.bug;
        let path = planted.join(query);
        let sql = std::fs::read_to_string(&path).unwrap();
        assert!(
            sql.contains(from),
            "the planted bug no longer applies to {query}"
        );
        std::fs::write(&path, sql.replace(from, to)).unwrap();
        let caught = run(
            "diff",
            file,
            planted.join(feed.rules).to_str().unwrap(),
            &args,
        );
        assert_eq!(
            caught.code, 1,
            "{}: {}{}",
            feed.rules, caught.stdout, caught.stderr
        );
        let report = caught.report();
        let failed: Vec<String> = aggregates(&report)
            .into_iter()
            .filter(|(_, agrees)| !agrees)
            .map(|(name, _)| name)
            .collect();
        let expected = Path::new(query).file_stem().unwrap().to_str().unwrap();
        assert_eq!(failed, [expected], "{}", feed.rules);
    }
}

store_test!(
    three_feeds_promote_agree_once_and_catch_a_planted_query_bug,
    |store| {
        promote_each_feed_and_catch_a_planted_bug(&store);
    }
);

store_test!(
    a_feed_without_declared_tables_is_stored_by_its_unique_key,
    |store| {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("people.toml");
        std::fs::write(
            &rules,
            "[dataset]\nname = \"people\"\n\n[reference]\nno_aggregates = true\n\n\
         [columns.person_id]\ntype = \"integer\"\nrequired = true\nunique = true\n\n\
         [columns.name]\nrequired = true\n\n[columns.born]\ntype = \"date\"\n",
        )
        .unwrap();
        let data = dir.path().join("people.csv");
        std::fs::write(
            &data,
            "person_id,name,born\n1,Ada,1815-12-10\n2,Alan,1912-06-23\n3,Grace,\n",
        )
        .unwrap();
        let first = run(
            "run",
            data.to_str().unwrap(),
            rules.to_str().unwrap(),
            &["--store", &store.url],
        );
        assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
        let report = first.report();
        assert_eq!(report["promotion"]["status"], "promoted");
        assert_eq!(report["diff"]["staged"][0]["table"], "people");
        assert_eq!(report["diff"]["staged"][0]["rows"], 3);
        assert!(
            first.stdout.contains(
                "no reference figures were compared: the rule file declares no aggregates"
            ),
            "{}",
            first.stdout
        );
        let names = store.texts("SELECT name FROM people ORDER BY person_id");
        assert_eq!(names, [["Ada"], ["Alan"], ["Grace"]]);
    }
);

#[test]
fn a_feed_without_a_key_is_refused_before_any_store_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("keyless.toml");
    std::fs::write(&rules, "[columns.name]\n[columns.city]\n").unwrap();
    let data = dir.path().join("keyless.csv");
    std::fs::write(&data, "name,city\nAda,London\n").unwrap();
    let db = dir.path().join("store.db");
    let refused = run(
        "run",
        data.to_str().unwrap(),
        rules.to_str().unwrap(),
        &["--store", &format!("sqlite://{}", db.display())],
    );
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("declares no [[tables]] and no column that is both `required` and `unique`"),
        "{}",
        refused.stderr
    );
    assert!(
        !db.exists(),
        "no store is created for a feed that cannot be stored"
    );
}

store_test!(
    columns_named_like_keywords_or_with_spaces_are_stored,
    |store| {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("orders.toml");
        std::fs::write(
            &rules,
            "[dataset]\nname = \"orders\"\n\n[reference]\nno_aggregates = true\n\n\
         [columns.order]\ntype = \"integer\"\nrequired = true\nunique = true\n\n\
         [columns.user]\n\n[columns.\"Group Name\"]\n",
        )
        .unwrap();
        let data = dir.path().join("orders.csv");
        std::fs::write(&data, "order,user,Group Name\n1,ann,a\n2,bob,b\n").unwrap();
        let first = run(
            "run",
            data.to_str().unwrap(),
            rules.to_str().unwrap(),
            &["--store", &store.url],
        );
        assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
        let rows = store.texts("SELECT \"user\", group_name FROM orders ORDER BY \"order\"");
        assert_eq!(rows, [["ann", "a"], ["bob", "b"]]);
        let again = run(
            "run",
            data.to_str().unwrap(),
            rules.to_str().unwrap(),
            &["--store", &store.url],
        );
        assert_eq!(again.report()["promotion"]["status"], "already_promoted");
    }
);
