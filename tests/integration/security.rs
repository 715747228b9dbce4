//! What a rule file or a record cannot do: read files outside the rules
//! folder, compile a regex past its size limit, put SQL into identifiers,
//! or reach the store's SQL as anything but a bound value.

use std::path::Path;

use crate::harness::{dqgate, fixture, run};

/// A copy of rules/movies.toml and its queries in `dir`, with `edit`
/// applied to the rule file's text; returns the rule file's path.
fn movies_rules_with(dir: &Path, edit: impl Fn(String) -> String) -> String {
    let queries = dir.join("queries");
    std::fs::create_dir_all(&queries).unwrap();
    for entry in std::fs::read_dir("rules/queries").unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, queries.join(path.file_name().unwrap())).unwrap();
        }
    }
    let text = std::fs::read_to_string("rules/movies.toml").unwrap();
    let path = dir.join("movies.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path.display().to_string()
}

/// `dqgate rules check RULES`: its exit code and standard error.
fn rules_check(rules: &str) -> (Option<i32>, String) {
    let output = dqgate().args(["rules", "check", rules]).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn query_files_cannot_be_read_from_outside_the_rules_folder() {
    let dir = tempfile::tempdir().unwrap();
    let rules_dir = dir.path().join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    std::fs::write(dir.path().join("secret.sql"), "select 'secret'").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.sql"), rules_dir.join("link.sql")).unwrap();
    for escape in ["../secret.sql", "/etc/passwd", "link.sql"] {
        let rules = movies_rules_with(&rules_dir, |text| {
            text.replacen(
                "query = \"queries/genre_year.sql\"",
                &format!("query = \"{escape}\""),
                1,
            )
        });
        let (code, stderr) = rules_check(&rules);
        assert_eq!(code, Some(2), "{escape}: {stderr}");
        assert!(
            stderr.contains("is outside the rule file's folder"),
            "{escape}: {stderr}"
        );
        assert!(
            !stderr.contains("secret'"),
            "{escape}: the file's text is never shown"
        );
    }
}

#[test]
fn a_regex_past_the_size_limit_is_a_rule_file_error() {
    let dir = tempfile::tempdir().unwrap();
    let rules = movies_rules_with(dir.path(), |text| {
        text.replace("pattern = 'tt\\d{7,8}'", "pattern = '(\\w{100}){100}{100}'")
    });
    let (code, stderr) = rules_check(&rules);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("column `imdb_id`: invalid pattern"),
        "{stderr}"
    );
    assert!(stderr.contains("size limit"), "{stderr}");
}

#[test]
fn names_that_reach_sql_must_be_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [
        (
            "name = \"genre_year\"",
            "name = \"genre_year; DROP TABLE movies\"",
        ),
        (
            "{ name = \"year\", expr = \"year(release_date)\" },",
            "{ name = \"year\\\" --\", expr = \"year(release_date)\" },",
        ),
    ] {
        let rules = movies_rules_with(dir.path(), |text| text.replacen(from, to, 1));
        let (code, stderr) = rules_check(&rules);
        assert_eq!(code, Some(2), "{to}: {stderr}");
        assert!(
            stderr.contains("must be letters, digits and _"),
            "{to}: {stderr}"
        );
    }
    let output = dqgate()
        .args([
            "history",
            "--store",
            "postgres://u@127.0.0.1:1/db?schema=a;drop%20schema%20b",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("must be letters, digits and _"), "{stderr}");
}

#[test]
fn hostile_values_reach_the_store_as_values() {
    let dir = tempfile::tempdir().unwrap();
    // The sample's first movie, retitled with SQL and a quote-laden
    // company name.
    let mut reader = csv::Reader::from_path(fixture("movies_sample.csv")).unwrap();
    let header = reader.byte_headers().unwrap().clone();
    let title = header.iter().position(|h| h == b"title").unwrap();
    let mut record: Vec<Vec<u8>> = reader
        .byte_records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(<[u8]>::to_vec)
        .collect();
    let hostile = "Robert'); DROP TABLE movies; -- \"quoted\" \\ $1 ?";
    record[title] = hostile.as_bytes().to_vec();
    let file = dir.path().join("hostile.csv");
    let mut writer = csv::Writer::from_path(&file).unwrap();
    writer.write_byte_record(&header).unwrap();
    writer.write_record(&record).unwrap();
    writer.flush().unwrap();
    let store = dir.path().join("store.db");
    let promoted = run(
        "run",
        file.to_str().unwrap(),
        "rules/movies.toml",
        &["--store", &format!("sqlite://{}", store.display())],
    );
    assert_eq!(promoted.code, 0, "{}{}", promoted.stdout, promoted.stderr);
    let db = rusqlite::Connection::open(&store).unwrap();
    let stored: String = db
        .query_row("SELECT title FROM movies", [], |row| row.get(0))
        .unwrap();
    assert_eq!(stored, hostile);
    let tables: i64 = db
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'movies'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1);
}

/// A rule file with one more `[[rules]]` entry whose expression is `expr`.
fn movies_rules_with_expr(dir: &Path, expr: &str) -> String {
    movies_rules_with(dir, |text| {
        format!("{text}\n[[rules]]\nname = \"generated\"\nexpr = \"{expr}\"\n")
    })
}

#[test]
fn a_long_chain_of_alternatives_is_checked_on_every_thread() {
    let dir = tempfile::tempdir().unwrap();
    let single = movies_rules_with_expr(dir.path(), "vote_count != 7");
    let expected = crate::harness::rule(
        &crate::harness::check(&fixture("movies_sample.csv"), &single, &[]).report(),
        "generated",
    )["failed"]
        .clone();
    assert!(expected.as_u64().unwrap() > 0, "the fixture has votes of 7");
    let chain = vec!["vote_count != 7"; 1000].join(" or ");
    let rules = movies_rules_with_expr(dir.path(), &chain);
    assert_eq!(rules_check(&rules).0, Some(0));
    for threads in ["1", "2"] {
        let run = crate::harness::check(
            &fixture("movies_sample.csv"),
            &rules,
            &["--threads", threads],
        );
        assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
        assert_eq!(
            crate::harness::rule(&run.report(), "generated")["failed"],
            expected
        );
    }
}

#[test]
fn expressions_nested_or_long_past_the_limits_are_rule_file_errors_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            format!("{}vote_count > 1", "not ".repeat(1000)),
            "nests too deeply",
        ),
        (format!("{}vote_count > 1", "(".repeat(100_000)), "too long"),
        (
            format!("{}vote_count > 1", "(".repeat(1000)),
            "nests too deeply",
        ),
        (
            format!("{}vote_count{} > 1", "abs(".repeat(300), ")".repeat(300)),
            "nests too deeply",
        ),
        (
            format!("{} > 1", vec!["vote_count"; 500].join(" - ")),
            "nests too deeply",
        ),
        (vec!["vote_count == 1"; 5000].join(" or "), "too long"),
    ];
    for (expr, needle) in cases {
        let rules = movies_rules_with_expr(dir.path(), &expr);
        let (code, stderr) = rules_check(&rules);
        assert_eq!(code, Some(2), "{needle}: {stderr}");
        assert!(stderr.contains(needle), "{needle}: {stderr}");
        assert!(stderr.contains("in rule `generated`"), "{stderr}");
        let run = crate::harness::check(&fixture("movies_sample.csv"), &rules, &[]);
        assert_eq!(run.code, 2, "{needle}: {}", run.stderr);
    }
}

#[test]
fn query_files_that_write_or_hold_several_statements_are_rule_file_errors() {
    let cases = [
        ("DROP TABLE movies;", "it is a DROP statement, not a query"),
        (
            "DELETE FROM movie_sources RETURNING movie_id",
            "it is a DELETE statement, not a query",
        ),
        (
            "WITH gone AS (DELETE FROM dq_batches RETURNING batch_id) SELECT count(*) AS n FROM gone",
            "its query contains a DELETE statement, which changes data",
        ),
        (
            "SELECT 1 AS year; DELETE FROM dq_batches",
            "it holds 2 statements",
        ),
    ];
    for (sql, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let rules = movies_rules_with(dir.path(), |text| text);
        std::fs::write(dir.path().join("queries/genre_year.sql"), sql).unwrap();
        let (code, stderr) = rules_check(&rules);
        assert_eq!(code, Some(2), "{sql}: {stderr}");
        assert!(stderr.contains("genre_year.sql is refused"), "{stderr}");
        assert!(stderr.contains(needle), "{sql}: {stderr}");

        // `export` refuses to run it too, and production keeps its tables.
        let store = dir.path().join("store.db");
        let url = format!("sqlite://{}", store.display());
        let promoted = run(
            "run",
            &fixture("movies_sample.csv"),
            "rules/movies.toml",
            &["--store", &url],
        );
        assert_eq!(promoted.code, 0, "{}", promoted.stderr);
        let export = dqgate()
            .args(["export", "--rules", &rules, "--store", &url, "--out"])
            .arg(dir.path().join("export"))
            .output()
            .unwrap();
        assert_eq!(export.status.code(), Some(2), "{sql}");
        let conn = rusqlite::Connection::open(&store).unwrap();
        let movies: i64 = conn
            .query_row("SELECT count(*) FROM movies", [], |r| r.get(0))
            .unwrap();
        let batches: i64 = conn
            .query_row("SELECT count(*) FROM dq_batches", [], |r| r.get(0))
            .unwrap();
        assert_eq!((movies, batches), (301, 1), "{sql}");
    }
}

#[test]
fn no_form_of_store_url_shows_its_password_in_any_command_or_output() {
    // Every password holds `s3cr`; every URL fails somewhere (a port nobody
    // listens on, a bad schema name, a wrong scheme, a broken form).
    let urls = [
        "postgres://ann:s3cret@127.0.0.1:1/movies",
        "postgres://ann:s3cr%40t@127.0.0.1:1/movies",
        "postgres://ann:s3cr@t@127.0.0.1:1/movies",
        "postgres://ann:x@s3cret@127.0.0.1:1/movies",
        "postgres://ann:s3cr:t@127.0.0.1:1/movies",
        "postgres://ann:s3cr/t@127.0.0.1:1/movies",
        "postgres://ann@127.0.0.1:1/movies?password=s3cret",
        "postgres://ann@127.0.0.1:1/movies?password=s3cret&schema=x;drop",
        "postgres://ann@127.0.0.1:1/movies?sslmode=bogus&password=s3cret",
        "postgres://ann:s3cret@127.0.0.1:1/movies?schema=x;drop",
        "postgres://ann:s3cret@127.0.0.1:99999/movies",
        "Postgres://ann:s3cret@127.0.0.1:1/movies",
        "pgsql://ann:s3cret@127.0.0.1:1/movies",
        "postgres:/ann:s3cret@127.0.0.1:1/movies",
        "ann:s3cret@127.0.0.1:1/movies",
    ];
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let file = fixture("movies_sample.csv");
    let commands: [&[&str]; 4] = [
        &["run", &file, "--out", out_dir],
        &["diff", &file, "--out", out_dir],
        &["export", "--out", out_dir],
        &["history"],
    ];
    for url in urls {
        for args in commands {
            for via_env in [false, true] {
                let mut command = dqgate();
                command.args(args);
                if via_env {
                    command.env("DQGATE_STORE", url);
                } else {
                    command.args(["--store", url]);
                }
                let output = command.output().unwrap();
                let shown = format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                assert_eq!(output.status.code(), Some(2), "{url} {args:?}: {shown}");
                assert!(
                    !shown.contains("s3cr") && !shown.contains("3cr"),
                    "{url} {args:?} (env: {via_env}): {shown}"
                );
            }
        }
        let help = dqgate()
            .args(["run", "--help"])
            .env("DQGATE_STORE", url)
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&help.stdout).contains("s3cr"));
    }
    for entry in walk(out.path()) {
        let text = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&text).contains("s3cr"),
            "{}",
            entry.display()
        );
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// What no output may hold: a raw escape, a bidi control, or a line that a
/// GitHub runner would take for a command planted by the data.
#[track_caller]
fn assert_inert(shown: &str, context: &str) {
    assert!(!shown.contains('\u{1b}'), "{context}: raw ESC in\n{shown}");
    assert!(
        !shown.contains('\u{202e}'),
        "{context}: raw U+202E in\n{shown}"
    );
    assert!(
        !shown.contains('\u{2066}'),
        "{context}: raw U+2066 in\n{shown}"
    );
    for line in shown.lines() {
        assert!(
            !line.trim_start().starts_with("::error file=planted"),
            "{context}: a planted workflow command starts a line:\n{shown}"
        );
    }
}

#[test]
fn names_from_outside_are_escaped_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let name = "evil\n::error file=planted::owned \u{1b}[2J\u{202e}vsc.\u{2066}csv";
    let path = dir.path().join(name);
    std::fs::copy(fixture("movies_sample.csv"), &path).unwrap();
    let file = path.to_str().unwrap();
    for format in ["table", "json", "markdown", "github", "junit"] {
        let run = crate::harness::check(file, "rules/movies.toml", &["--format", format]);
        assert_eq!(run.code, 0, "{format}: {}", run.stderr);
        assert_inert(&run.stdout, format);
        assert_inert(&run.stderr, format);
        let report = std::fs::read_to_string(run.out_path().join("report.json")).unwrap();
        assert_inert(&report, "report.json");
        let parsed: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(parsed["file"], file, "JSON keeps the name, escaped");
    }

    // Keys and names read back from another engine's export.
    let store = crate::harness::TestStore::sqlite();
    let exported = run(
        "diff",
        &fixture("movies_sample.csv"),
        "rules/movies.toml",
        &["--store", &store.url, "--subset", "all"],
    );
    let reference = exported.out_path().join("reference");
    let top = reference.join("genre_year_top.csv");
    let text = std::fs::read_to_string(&top).unwrap();
    std::fs::write(
        &top,
        text.replacen(
            ",Drama,",
            ",\"\u{1b}[2J\u{202e}Dr\n::error file=planted::ama\",",
            1,
        ),
    )
    .unwrap();
    for format in ["table", "json", "markdown", "github", "junit"] {
        let differ = run(
            "diff",
            &fixture("movies_sample.csv"),
            "rules/movies.toml",
            &[
                "--store-output",
                reference.to_str().unwrap(),
                "--subset",
                "all",
                "--format",
                format,
            ],
        );
        assert_eq!(differ.code, 1, "{format}: {}", differ.stderr);
        assert_inert(&differ.stdout, format);
    }
}

#[test]
#[ignore = "needs PostgreSQL: set DQGATE_TEST_PG and run cargo test -- --include-ignored, as .ci/run does"]
fn the_gate_runs_without_superuser_rights_and_the_reader_reads_production_only() {
    let base = crate::harness::postgres_url();
    let id = std::process::id();
    let (gate, reader, schema) = (
        format!("dq_gate_{id}"),
        format!("dq_reader_{id}"),
        format!("dq_access_{id}"),
    );
    let as_role = |role: &str| {
        let mut url = url::Url::parse(&base).unwrap();
        url.set_username(role).unwrap();
        url.set_password(None).unwrap();
        url.set_query(Some(&format!("schema={schema}")));
        url.to_string()
    };
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    let cleanup = |admin: &mut postgres::Client| {
        let _ = admin.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE;
             DROP OWNED BY \"{gate}\"; DROP OWNED BY \"{reader}\";
             DROP ROLE IF EXISTS \"{gate}\"; DROP ROLE IF EXISTS \"{reader}\";"
        ));
    };
    cleanup(&mut admin);
    admin
        .batch_execute(&format!(
            "CREATE ROLE \"{gate}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
             CREATE ROLE \"{reader}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;"
        ))
        .unwrap();
    let script = dqgate()
        .args(["grants", "--store", &as_role(&gate), "--reader", &reader])
        .output()
        .unwrap();
    assert!(script.status.success());
    let script = String::from_utf8(script.stdout).unwrap();
    let (before_first_run, after_first_run) = script.split_at(script.find("-- 2.").unwrap());
    admin.batch_execute(before_first_run).unwrap();

    let promoted = run(
        "run",
        &fixture("movies_sample.csv"),
        "rules/movies.toml",
        &["--store", &as_role(&gate)],
    );
    let outcome = (promoted.code, promoted.stderr.clone());
    admin.batch_execute(after_first_run).unwrap();

    let reader_url = as_role(&reader);
    let reader_url = reader_url.split('?').next().unwrap();
    let mut read = postgres::Client::connect(reader_url, postgres::NoTls).unwrap();
    let count = |client: &mut postgres::Client, table: &str| {
        client
            .query_one(&format!("SELECT count(*) FROM \"{schema}\".{table}"), &[])
            .map(|row| row.get::<_, i64>(0))
    };
    let results = (
        count(&mut read, "movies").ok(),
        count(&mut read, "dq_batches").ok(),
        count(&mut read, "stg_movies").is_err(),
        count(&mut read, "dq_sources").is_err(),
        count(&mut read, "dq_rollups").is_err(),
        read.batch_execute(&format!("DELETE FROM \"{schema}\".movies"))
            .is_err(),
        read.batch_execute(&format!("UPDATE \"{schema}\".dq_batches SET status = 'x'"))
            .is_err(),
        read.batch_execute(&format!("CREATE TABLE \"{schema}\".mine (x int)"))
            .is_err(),
    );
    drop(read);
    cleanup(&mut admin);
    assert_eq!(
        outcome.0, 0,
        "the gate's own role could not run: {}",
        outcome.1
    );
    assert_eq!(
        results,
        (Some(301), Some(1), true, true, true, true, true, true),
        "(movies, ledger, staging refused, sources refused, rollups refused, delete refused, update refused, create refused)"
    );
}
