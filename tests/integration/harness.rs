//! Runs the binary in a clean environment and reads back what it wrote.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

/// The repository root; the binary runs there so relative paths are stable.
pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A `dqgate` command with a scrubbed environment, run from the repository root.
pub(crate) fn dqgate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dqgate"));
    cmd.current_dir(root());
    for var in [
        "NO_COLOR",
        "CLICOLOR_FORCE",
        "DQGATE_STORE",
        "RUST_BACKTRACE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// What one run produced.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// The output directory; deleted when the run is dropped.
    pub(crate) out: TempDir,
}

impl Run {
    pub(crate) fn out_path(&self) -> &Path {
        self.out.path()
    }

    /// `report.json`, parsed.
    #[track_caller]
    pub(crate) fn report(&self) -> Value {
        let text = std::fs::read_to_string(self.out_path().join("report.json"))
            .expect("report.json was written");
        serde_json::from_str(&text).expect("report.json is JSON")
    }

    /// Rows of `quarantine.csv` (header excluded), as raw byte records.
    #[track_caller]
    pub(crate) fn quarantine(&self) -> Vec<csv::ByteRecord> {
        read_csv(&self.out_path().join("quarantine.csv"))
    }

    /// Rows of `accepted.csv` (header excluded).
    #[track_caller]
    pub(crate) fn accepted(&self) -> Vec<csv::ByteRecord> {
        read_csv(&self.out_path().join("accepted.csv"))
    }

    /// `accepted.csv` as text: its header and its rows.
    #[track_caller]
    pub(crate) fn accepted_table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut reader = csv::Reader::from_path(self.out_path().join("accepted.csv"))
            .expect("accepted.csv was written");
        let header = reader
            .headers()
            .expect("a header")
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = reader
            .records()
            .map(|r| r.expect("UTF-8 CSV").iter().map(str::to_owned).collect())
            .collect();
        (header, rows)
    }

    /// Asserts `in = accepted + quarantined` in the report and in the files.
    #[track_caller]
    pub(crate) fn assert_balanced(&self) {
        let report = self.report();
        let rows = &report["rows"];
        let (rows_in, accepted, quarantined) = (
            rows["in"].as_u64().unwrap(),
            rows["accepted"].as_u64().unwrap(),
            rows["quarantined"].as_u64().unwrap(),
        );
        assert_eq!(rows_in, accepted + quarantined, "report rows: {rows}");
        assert_eq!(
            self.quarantine().len() as u64,
            quarantined,
            "quarantine.csv rows"
        );
        if self.out_path().join("accepted.csv").exists() {
            assert_eq!(self.accepted().len() as u64, accepted, "accepted.csv rows");
        }
        assert!(
            self.stdout.contains(&format!(
                "{rows_in} in = {accepted} accepted + {quarantined} quarantined"
            )) || self.stdout.trim_start().starts_with('{'),
            "the accounting line is printed:\n{}",
            self.stdout
        );
    }

    /// Replaces the temporary output directory so output can be snapshotted.
    pub(crate) fn redact(&self, text: &str) -> String {
        text.replace(&self.out_path().display().to_string(), "[OUT]")
    }
}

#[track_caller]
fn read_csv(path: &Path) -> Vec<csv::ByteRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader
        .byte_records()
        .map(|r| r.expect("valid CSV"))
        .collect()
}

/// Runs `dqgate check FILE --rules RULES --out TMP` plus `extra` arguments.
#[track_caller]
pub(crate) fn check(file: &str, rules: &str, extra: &[&str]) -> Run {
    run("check", file, rules, extra)
}

/// Runs `dqgate SUBCOMMAND FILE --rules RULES --out TMP` plus `extra` arguments.
#[track_caller]
pub(crate) fn run(subcommand: &str, file: &str, rules: &str, extra: &[&str]) -> Run {
    let out = tempfile::tempdir().expect("temp dir");
    let output = dqgate()
        .args([subcommand, file, "--rules", rules, "--out"])
        .arg(out.path())
        .args(extra)
        .output()
        .expect("dqgate runs");
    Run {
        code: output.status.code().expect("exit code"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        out,
    }
}

/// A rule's entry in a report, by name.
#[track_caller]
pub(crate) fn rule(report: &Value, name: &str) -> Value {
    report["rules"]
        .as_array()
        .expect("report.rules")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no rule {name} in the report"))
        .clone()
}

/// insta settings: snapshots in the top-level `snapshots/` folder.
pub(crate) fn snapshots() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// The fixture path, relative to the repository root.
pub(crate) fn fixture(name: &str) -> String {
    format!("tests/fixtures/{name}")
}

/// `../shared/data/NAME`. The tests that call this are ignored unless
/// asked for; asked for without the folder, they fail.
#[track_caller]
pub(crate) fn shared_data(name: &str) -> PathBuf {
    let path = root().join("../shared/data").join(name);
    assert!(
        path.exists(),
        "this test needs {}, which is not present",
        path.display()
    );
    path
}

/// The PostgreSQL server the tests use: `DQGATE_TEST_PG`.
#[track_caller]
pub(crate) fn postgres_url() -> String {
    std::env::var("DQGATE_TEST_PG")
        .expect("this test needs PostgreSQL: set DQGATE_TEST_PG=postgres://USER@HOST:PORT/DB")
}

/// A fresh store for one test: a SQLite file in a temporary folder, or a
/// PostgreSQL schema of its own in the database `DQGATE_TEST_PG` names,
/// dropped when the test ends.
pub(crate) struct TestStore {
    pub(crate) url: String,
    _dir: Option<TempDir>,
    pg: Option<(String, String)>,
}

impl TestStore {
    pub(crate) fn sqlite() -> TestStore {
        let dir = tempfile::tempdir().expect("temp dir");
        TestStore {
            url: format!("sqlite://{}", dir.path().join("store.db").display()),
            _dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh schema in the database `DQGATE_TEST_PG` names. The tests
    /// that call this are ignored unless asked for; asked for without a
    /// server, they fail, so no PostgreSQL test passes without running.
    pub(crate) fn postgres() -> TestStore {
        let base = postgres_url();
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let schema = format!(
            "dqgate_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let separator = if base.contains('?') { '&' } else { '?' };
        TestStore {
            url: format!("{base}{separator}schema={schema}"),
            _dir: None,
            pg: Some((base, schema)),
        }
    }
}

impl TestStore {
    /// Sets the store up by hand before dqgate opens it: runs `sqlite` in
    /// the SQLite file, or `postgres` in the store's PostgreSQL schema
    /// (created first).
    pub(crate) fn execute(&self, sqlite: &str, postgres: &str) {
        match &self.pg {
            None => rusqlite::Connection::open(self.url.trim_start_matches("sqlite://"))
                .and_then(|c| c.execute_batch(sqlite))
                .expect("SQLite set-up"),
            Some((base, schema)) => postgres::Client::connect(base, postgres::NoTls)
                .and_then(|mut c| {
                    c.batch_execute(&format!(
                        "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\"; {postgres}"
                    ))
                })
                .expect("PostgreSQL set-up"),
        }
    }
}

impl TestStore {
    /// The rows of a query whose columns are all text, read by hand (not
    /// through dqgate).
    pub(crate) fn texts(&self, sql: &str) -> Vec<Vec<String>> {
        match &self.pg {
            None => {
                let conn =
                    rusqlite::Connection::open(self.url.trim_start_matches("sqlite://")).unwrap();
                let mut statement = conn.prepare(sql).unwrap();
                let width = statement.column_count();
                statement
                    .query_map([], |row| {
                        (0..width).map(|i| row.get::<_, String>(i)).collect()
                    })
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            Some((base, schema)) => {
                let mut client = postgres::Client::connect(base, postgres::NoTls).unwrap();
                client
                    .batch_execute(&format!("SET search_path TO \"{schema}\""))
                    .unwrap();
                client
                    .query(sql, &[])
                    .unwrap()
                    .iter()
                    .map(|row| (0..row.len()).map(|i| row.get::<_, String>(i)).collect())
                    .collect()
            }
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg
            && let Ok(mut client) = postgres::Client::connect(base, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
        }
    }
}

/// Declares a test that runs once on SQLite and once on PostgreSQL.
macro_rules! store_test {
    ($name:ident, |$store:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                let $store = crate::harness::TestStore::sqlite();
                $body
            }

            #[test]
            #[ignore = "needs PostgreSQL: set DQGATE_TEST_PG and run cargo test -- --include-ignored, as .ci/run does"]
            fn postgres() {
                let $store = crate::harness::TestStore::postgres();
                $body
            }
        }
    };
}
pub(crate) use store_test;
