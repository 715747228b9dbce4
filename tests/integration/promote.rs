use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use crate::harness::{TestStore, dqgate, root, rule, run, store_test};

const RULES: &str = "rules/movies.toml";

/// A store and a working folder for increments.
struct World {
    dir: tempfile::TempDir,
    store: TestStore,
}

impl World {
    fn new(store: TestStore) -> Self {
        World {
            dir: tempfile::tempdir().unwrap(),
            store,
        }
    }

    fn url(&self) -> String {
        self.store.url.clone()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    #[track_caller]
    fn run(&self, file: &Path, extra: &[&str]) -> crate::harness::Run {
        let url = self.url();
        let mut args = vec!["--store", url.as_str()];
        args.extend_from_slice(extra);
        run("run", file.to_str().unwrap(), RULES, &args)
    }

    /// Writes production's figures with `dqgate export` into `dir`.
    #[track_caller]
    fn export_to(&self, dir: &Path) {
        let status = dqgate()
            .args(["export", "--rules", RULES, "--store", &self.url(), "--out"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    }

    /// Production's figures, as `dqgate export` writes them.
    #[track_caller]
    fn export(&self) -> Vec<(String, String)> {
        let out = tempfile::tempdir().unwrap();
        self.export_to(out.path());
        let mut files: Vec<(String, String)> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                (
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&path).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    fn history(&self) -> Vec<Value> {
        let output = dqgate()
            .args(["history", "--format", "json", "--store", &self.url()])
            .output()
            .unwrap();
        assert!(output.status.success());
        serde_json::from_slice::<Value>(&output.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

/// The clean records of the sample fixture (its first 300), parsed.
fn sample_records() -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader =
        csv::Reader::from_path(root().join("tests/fixtures/movies_sample.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let records = reader.records().map(Result::unwrap).take(300).collect();
    (header, records)
}

fn write_csv(path: &Path, header: &csv::StringRecord, records: &[csv::StringRecord]) {
    let mut writer = csv::Writer::from_path(path).unwrap();
    writer.write_record(header).unwrap();
    for r in records {
        writer.write_record(r).unwrap();
    }
    writer.flush().unwrap();
}

fn column(header: &csv::StringRecord, name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}

/// A revised version of a record: revenue up, and (optionally) only its first genre.
fn revise(
    header: &csv::StringRecord,
    record: &csv::StringRecord,
    drop_genres: bool,
) -> csv::StringRecord {
    let revenue = column(header, "revenue");
    let genres = column(header, "genres");
    let popularity = column(header, "popularity");
    record
        .iter()
        .enumerate()
        .map(|(i, f)| match i {
            i if i == revenue => (f.parse::<i64>().unwrap() * 2 + 1_000_000).to_string(),
            i if i == popularity => format!("{:.6}", f.parse::<f64>().unwrap() + 1.5),
            i if i == genres && drop_genres => match f.find("}, ") {
                Some(end) => format!("{}}}]", &f[..end]),
                None => f.to_owned(),
            },
            _ => f.to_owned(),
        })
        .collect()
}

/// Three monthly increments: new movies, and revisions of earlier ones.
fn increments(world: &World) -> (Vec<PathBuf>, PathBuf) {
    let (header, records) = sample_records();
    let id = column(&header, "id");
    let inc1: Vec<_> = records[..150].to_vec();
    let mut inc2: Vec<_> = records[120..150]
        .iter()
        .enumerate()
        .map(|(i, r)| revise(&header, r, i % 3 == 0))
        .collect();
    inc2.extend_from_slice(&records[150..240]);
    let mut inc3: Vec<_> = records[10..20]
        .iter()
        .map(|r| revise(&header, r, false))
        .collect();
    inc3.extend(
        records[130..135]
            .iter()
            .map(|r| revise(&header, &revise(&header, r, true), false)),
    );
    inc3.extend_from_slice(&records[240..300]);
    let paths: Vec<PathBuf> = [inc1, inc2, inc3]
        .iter()
        .enumerate()
        .map(|(i, rows)| {
            let path = world.path(&format!("2026-{:02}.csv", i + 9));
            write_csv(&path, &header, rows);
            path
        })
        .collect();
    // The union, later versions winning, in first-seen order.
    let mut union: Vec<csv::StringRecord> = Vec::new();
    for path in &paths {
        let mut reader = csv::Reader::from_path(path).unwrap();
        for r in reader.records().map(Result::unwrap) {
            match union.iter().position(|u| u[id] == r[id]) {
                Some(i) => union[i] = r,
                None => union.push(r),
            }
        }
    }
    let union_path = world.path("union.csv");
    write_csv(&union_path, &header, &union);
    (paths, union_path)
}

/// Starts `dqgate run` stopped inside its promotion transaction and waits
/// until it says so.
fn spawn_paused(world: &World, file: &Path, out: &str) -> std::process::Child {
    let mut child = dqgate()
        .env("DQGATE_FAILPOINT", "pause")
        .args([
            "run",
            file.to_str().unwrap(),
            "--store",
            &world.url(),
            "--out",
        ])
        .arg(world.path(out))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let paused =
        lines.any(|l| l.is_ok_and(|l| l.contains("paused inside the promotion transaction")));
    assert!(paused, "the run never reached the promotion");
    child
}

fn promotion(run: &crate::harness::Run) -> Value {
    run.report()["promotion"].clone()
}

store_test!(
    three_increments_reconcile_with_the_reference_over_their_union,
    |store| {
        let world = World::new(store);
        let (incs, union) = increments(&world);
        let expected = [(150, 0), (90, 30), (60, 15)];
        for (inc, (new, updated)) in incs.iter().zip(expected) {
            let run = world.run(inc, &[]);
            assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
            let p = promotion(&run);
            assert_eq!(p["status"], "promoted", "{p:#}");
            assert_eq!(p["applied"]["new_records"], new, "{}", inc.display());
            assert_eq!(
                p["applied"]["updated_records"],
                updated,
                "{}",
                inc.display()
            );
            assert!(
                p["reconciliation"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|a| a["mismatched"] == 0 && a["missing"] == 0)
            );
        }
        // Production over all promoted batches equals the reference over the
        // union of their accepted rows.
        let exported = tempfile::tempdir().unwrap();
        world.export_to(exported.path());
        let diff = run(
            "diff",
            union.to_str().unwrap(),
            RULES,
            &[
                "--store-output",
                exported.path().to_str().unwrap(),
                "--subset",
                "all",
            ],
        );
        assert_eq!(diff.code, 0, "{}", diff.stdout);
        assert_eq!(diff.report()["diff"]["subset"]["rows"], 300);

        let history = world.history();
        assert_eq!(history.len(), 3);
        assert!(history.iter().all(|b| b["status"] == "promoted"));
        assert_eq!(history[1]["updated_records"], 30);
    }
);

store_test!(
    a_run_over_every_row_compares_the_same_reference_as_diff,
    |store| {
        // With --subset all, `run` computes one engine for both the compared
        // subset and the batch's running totals: its reference must be the
        // one `diff --subset all` computes on its own.
        let world = World::new(store);
        let (incs, _) = increments(&world);
        let promoted = world.run(&incs[0], &["--subset", "all"]);
        assert_eq!(promoted.code, 0, "{}", promoted.stdout);
        let report = promoted.report();
        assert_eq!(report["diff"]["subset"]["rows"], 150);
        assert_eq!(report["diff"]["agrees"], true);
        assert_eq!(report["promotion"]["status"], "promoted");
        let compared = tempfile::tempdir().unwrap();
        let diff = run(
            "diff",
            incs[0].to_str().unwrap(),
            RULES,
            &[
                "--store",
                &format!("sqlite://{}", compared.path().join("s.db").display()),
                "--subset",
                "all",
            ],
        );
        assert_eq!(diff.code, 0, "{}", diff.stdout);
        let files = |dir: &Path| -> Vec<(String, String)> {
            let mut files: Vec<_> = std::fs::read_dir(dir.join("reference"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (name, std::fs::read_to_string(&p).unwrap())
                })
                .collect();
            files.sort();
            files
        };
        let (ran, diffed) = (files(promoted.out.path()), files(diff.out.path()));
        assert_eq!(ran.len(), 4);
        assert!(ran.iter().all(|(_, text)| text.lines().count() > 1));
        assert_eq!(ran, diffed);
        // The running totals stored with the batch reconcile too.
        let next = world.run(&incs[1], &["--subset", "all"]);
        assert_eq!(next.code, 0, "{}", next.stdout);
        let reconciliation = &next.report()["promotion"]["reconciliation"];
        assert!(
            reconciliation
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["mismatched"] == 0 && a["missing"] == 0 && a["extra"] == 0),
            "{reconciliation}"
        );
    }
);

store_test!(a_rerun_of_a_promoted_file_changes_nothing, |store| {
    let world = World::new(store);
    let (incs, _) = increments(&world);
    assert_eq!(world.run(&incs[0], &[]).code, 0);
    assert_eq!(world.run(&incs[1], &[]).code, 0);
    let before = world.export();
    let again = world.run(&incs[0], &[]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(promotion(&again)["status"], "already_promoted");
    assert_eq!(promotion(&again)["batch_id"], 1);
    assert!(
        again
            .stdout
            .contains("promotion: already_promoted (batch 1)"),
        "{}",
        again.stdout
    );
    assert_eq!(world.export(), before, "production changed on a rerun");
    assert_eq!(world.history().len(), 2, "a rerun adds no ledger row");
});

store_test!(
    a_store_of_the_fixed_movie_layout_is_refused_and_left_alone,
    |store| {
        let old = "CREATE TABLE dq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO dq_meta VALUES ('schema_version', '4');";
        store.execute(old, old);
        let world = World::new(store);
        let sample = root().join("tests/fixtures/movies_sample.csv");
        let refused = world.run(&sample, &[]);
        assert_eq!(refused.code, 2, "{}", refused.stdout);
        assert!(
            refused.stderr.contains(
                "has schema version 4, the fixed movie layout of dqgate before version 5"
            ),
            "{}",
            refused.stderr
        );
    }
);

store_test!(
    a_failed_gate_leaves_production_untouched_and_is_recorded,
    |store| {
        let world = World::new(store);
        let (incs, _) = increments(&world);
        assert_eq!(world.run(&incs[0], &[]).code, 0);
        let before = world.export();
        let excel = root().join("tests/fixtures/movies_excel_resave.csv");
        let rejected = world.run(&excel, &[]);
        assert_eq!(rejected.code, 1);
        assert_eq!(promotion(&rejected)["status"], "rejected");
        assert_eq!(world.export(), before);
        let history = world.history();
        assert_eq!(history.last().unwrap()["status"], "rejected");
        assert_eq!(history.last().unwrap()["verdict"], "fail");
        assert_eq!(history.last().unwrap()["quarantined"], 100);
    }
);

store_test!(a_dry_run_promotes_nothing, |store| {
    let world = World::new(store);
    let (incs, _) = increments(&world);
    let dry = world.run(&incs[0], &["--dry-run"]);
    assert_eq!(dry.code, 0);
    assert_eq!(promotion(&dry)["status"], "dry_run");
    assert!(world.history().is_empty());
    assert!(
        world
            .export()
            .iter()
            .all(|(_, csv)| csv.lines().count() == 1),
        "production is empty"
    );
});

store_test!(the_skip_and_reject_policies_keep_production_rows, |store| {
    let world = World::new(store);
    let (incs, _) = increments(&world);
    assert_eq!(world.run(&incs[0], &[]).code, 0);
    let skip = world.run(&incs[1], &["--on-existing", "skip"]);
    assert_eq!(skip.code, 0, "{}", skip.stdout);
    assert_eq!(promotion(&skip)["applied"]["skipped_records"], 30);
    assert_eq!(promotion(&skip)["applied"]["updated_records"], 0);

    let reject = world.run(&incs[2], &["--on-existing", "reject"]);
    let report = reject.report();
    let rule = rule(&report, "promotion.existing_id");
    assert_eq!(rule["failed"], 15, "{rule:#}");
    assert!(
        rule["examples"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("is already in production (batch 1) and on_existing = reject"),
        "{rule:#}"
    );
    // 15 of 75 rows quarantined is above the 1% limit: the file is rejected.
    assert_eq!(reject.code, 1);
    assert_eq!(promotion(&reject)["status"], "rejected");
});

store_test!(
    a_process_aborted_inside_the_promotion_leaves_production_as_it_was,
    |store| {
        let world = World::new(store);
        let (incs, _) = increments(&world);
        assert_eq!(world.run(&incs[0], &[]).code, 0);
        let before = world.export();
        let output = dqgate()
            .env("DQGATE_FAILPOINT", "abort")
            .args([
                "run",
                incs[1].to_str().unwrap(),
                "--store",
                &world.url(),
                "--out",
            ])
            .arg(world.path("out-abort"))
            .output()
            .unwrap();
        assert!(
            !output.status.success() && output.status.code().is_none(),
            "the process was aborted by a signal"
        );
        assert_eq!(
            world.export(),
            before,
            "an aborted promotion changed production"
        );
        assert_eq!(
            world.history().len(),
            1,
            "an aborted promotion left a ledger row"
        );
        let rerun = world.run(&incs[1], &[]);
        assert_eq!(rerun.code, 0, "{}", rerun.stdout);
        assert_eq!(promotion(&rerun)["status"], "promoted");
    }
);

store_test!(
    a_process_killed_inside_the_promotion_leaves_production_as_it_was,
    |store| {
        let world = World::new(store);
        let (incs, _) = increments(&world);
        assert_eq!(world.run(&incs[0], &[]).code, 0);
        let before = world.export();
        let mut child = spawn_paused(&world, &incs[1], "out-kill");
        // Every row is written and the running totals reconciled; kill now.
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "killed by a signal");
        assert_eq!(
            world.export(),
            before,
            "a killed promotion changed production"
        );
        assert_eq!(world.history().len(), 1);
        let rerun = world.run(&incs[1], &[]);
        assert_eq!(rerun.code, 0, "{}", rerun.stdout);
        assert_eq!(promotion(&rerun)["status"], "promoted");
        assert_eq!(world.history().len(), 2);
    }
);

store_test!(
    a_second_run_waits_for_the_first_and_the_ledger_stays_whole,
    |store| {
        let world = World::new(store);
        let (incs, _) = increments(&world);
        assert_eq!(world.run(&incs[0], &[]).code, 0);
        let mut first = spawn_paused(&world, &incs[1], "out-first");
        // The first run holds the store's lock inside its transaction.
        let second = dqgate()
            .args([
                "run",
                incs[2].to_str().unwrap(),
                "--store",
                &world.url(),
                "--out",
            ])
            .arg(world.path("out-second"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        first.kill().unwrap();
        first.wait().unwrap();
        let second = second.wait_with_output().unwrap();
        assert!(
            second.status.success(),
            "{}",
            String::from_utf8_lossy(&second.stderr)
        );
        let history = world.history();
        let statuses: Vec<&str> = history
            .iter()
            .map(|b| b["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["promoted", "promoted"],
            "the killed run left nothing; the waiting one promoted"
        );
        assert_eq!(history[1]["file"], incs[2].to_str().unwrap());
    }
);

#[test]
fn a_store_locked_by_another_process_is_an_error_that_changes_nothing() {
    let world = World::new(TestStore::sqlite());
    let (incs, _) = increments(&world);
    assert_eq!(world.run(&incs[0], &[]).code, 0);
    let before = world.export();
    let path = world.url().trim_start_matches("sqlite://").to_owned();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let locked = world.run(&incs[1], &[]);
    assert_eq!(locked.code, 2, "{}", locked.stdout);
    assert!(
        locked
            .stderr
            .contains("the store is locked by another process, and it stayed locked for 10 s"),
        "{}",
        locked.stderr
    );
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_eq!(world.export(), before, "a locked store was changed");
    assert_eq!(
        world.run(&incs[1], &[]).code,
        0,
        "the store works once the lock is gone"
    );
}

#[test]
fn reading_commands_refuse_a_store_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("typo.db").display());
    for args in [
        vec!["history", "--store", &url],
        vec!["export", "--store", &url, "--out", "unused"],
    ] {
        let output = dqgate().args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("there is no store at sqlite://")
                && stderr.contains("`dqgate run` creates one"),
            "{stderr}"
        );
    }
    assert!(!dir.path().join("typo.db").exists(), "no store was created");
}

/// Promotes `file` into a fresh SQLite store at `store` and returns it.
fn promoted_sqlite(dir: &Path, file: &str) -> PathBuf {
    let store = dir.join("store.db");
    let first = run(
        "run",
        file,
        RULES,
        &["--store", &format!("sqlite://{}", store.display())],
    );
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    store
}

#[test]
fn a_store_removed_during_the_run_gets_nothing_and_the_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = promoted_sqlite(dir.path(), "tests/fixtures/movies_crlf.csv");
    let before = std::fs::read(&store).unwrap();
    let mut child = dqgate()
        .env("DQGATE_FAILPOINT", "hold")
        .args(["run", "tests/fixtures/movies_sample.csv", "--store"])
        .arg(format!("sqlite://{}", store.display()))
        .arg("--out")
        .arg(dir.path().join("out"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("holding inside the promotion transaction") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the run never reached the promotion"
        );
    }
    // The store goes away (moved aside, as a careless cleanup would).
    let moved = dir.path().join("moved.db");
    std::fs::rename(&store, &moved).unwrap();
    drop(child.stdin.take());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{rest}");
    assert!(
        rest.contains("was removed or replaced during the run"),
        "{rest}"
    );
    assert!(!store.exists(), "no new store appears at the old path");
    assert_eq!(
        std::fs::read(&moved).unwrap(),
        before,
        "production is as it was"
    );
}

#[test]
fn a_read_only_store_is_an_error_that_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = promoted_sqlite(dir.path(), "tests/fixtures/movies_crlf.csv");
    let before = std::fs::read(&store).unwrap();
    // chmod does not stop root; the immutable attribute does.
    let immutable = std::process::Command::new("chattr")
        .arg("+i")
        .arg(&store)
        .status();
    if !immutable.is_ok_and(|s| s.success()) {
        println!("SKIPPED: chattr +i is not available here; a read-only store is not tested");
        return;
    }
    let run = run(
        "run",
        "tests/fixtures/movies_sample.csv",
        RULES,
        &["--store", &format!("sqlite://{}", store.display())],
    );
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(&store)
        .status();
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("readonly database"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&store.display().to_string()),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(&store).unwrap(), before);
}

store_test!(
    two_concurrent_runs_of_one_file_promote_it_once_whatever_the_policy,
    |store| {
        let world = World::new(store);
        let (header, records) = sample_records();
        for (part, policy) in ["update", "skip", "reject"].into_iter().enumerate() {
            let file = world.path(&format!("{policy}.csv"));
            write_csv(&file, &header, &records[part * 100..(part + 1) * 100]);
            let spawn = |out: &str, failpoint: Option<&str>| {
                let mut command = dqgate();
                if let Some(failpoint) = failpoint {
                    command.env("DQGATE_FAILPOINT", failpoint);
                }
                command
                    .args(["run", file.to_str().unwrap(), "--store", &world.url()])
                    .args(["--on-existing", policy, "--out"])
                    .arg(world.path(&format!("{policy}-{out}")))
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            };
            // The first run stops inside its promotion transaction, holding
            // the store's lock; the second has checked the same file and
            // found it not yet promoted before the first is let go.
            let mut first = spawn("first", Some("hold"));
            let mut lines = BufReader::new(first.stderr.take().unwrap()).lines();
            assert!(
                lines.any(|l| l.is_ok_and(|l| l.contains("holding inside the promotion"))),
                "{policy}: the first run never reached its promotion"
            );
            let second = spawn("second", None);
            std::thread::sleep(std::time::Duration::from_millis(2000));
            drop(first.stdin.take());
            assert!(first.wait().unwrap().success(), "{policy}: first run");
            let second = second.wait_with_output().unwrap();
            assert!(
                second.status.success(),
                "{policy}: second run: {}",
                String::from_utf8_lossy(&second.stderr)
            );
            let statuses: Vec<String> = ["first", "second"]
                .iter()
                .map(|out| {
                    let report = world.path(&format!("{policy}-{out}/report.json"));
                    let report: Value =
                        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
                    assert_eq!(report["verdict"], "pass", "{policy} {out}");
                    report["promotion"]["status"].as_str().unwrap().to_owned()
                })
                .collect();
            assert_eq!(statuses, ["promoted", "already_promoted"], "{policy}");
            let promoted = world
                .history()
                .iter()
                .filter(|b| b["file"] == file.to_str().unwrap() && b["status"] == "promoted")
                .count();
            assert_eq!(promoted, 1, "{policy}: the file is in the ledger once");
        }
    }
);

#[test]
fn run_refuses_a_store_that_keeps_nothing() {
    for url in [
        "sqlite::memory:",
        "sqlite://file:x?mode=memory",
        "sqlite://:memory:",
    ] {
        let run = run(
            "run",
            "tests/fixtures/movies_sample.csv",
            RULES,
            &["--store", url],
        );
        assert_eq!(run.code, 2, "{url}: {}", run.stdout);
        assert!(
            run.stderr.contains("keeps nothing after the run"),
            "{}",
            run.stderr
        );
        assert!(!run.stdout.contains("promoted"), "{}", run.stdout);
    }
}

store_test!(
    a_batch_that_changes_nothing_leaves_the_running_totals_byte_for_byte,
    |store| {
        let world = World::new(store);
        let (header, records) = sample_records();
        let first = world.path("first.csv");
        write_csv(&first, &header, &records);
        assert_eq!(world.run(&first, &[]).code, 0);
        let totals = || {
            world
                .store
                .texts("SELECT aggregate, key, state FROM dq_rollups ORDER BY aggregate, key")
        };
        let before = totals();
        assert!(!before.is_empty());
        // The same rows in another order: another file, the same movies.
        // Every movie is replaced by itself (on_existing = update).
        let mut reordered = records.clone();
        reordered.reverse();
        let second = world.path("second.csv");
        write_csv(&second, &header, &reordered);
        let run = world.run(&second, &[]);
        assert_eq!(run.code, 0, "{}", run.stdout);
        assert_eq!(promotion(&run)["status"], "promoted");
        assert_eq!(promotion(&run)["applied"]["updated_records"], 300);
        let after = totals();
        let changed: Vec<_> = after
            .iter()
            .filter(|row| !before.contains(row))
            .take(3)
            .collect();
        assert!(after == before, "the running totals changed: {changed:?}");
    }
);

#[test]
fn a_file_promoted_earlier_passes_even_when_todays_rules_fail_it() {
    let world = World::new(TestStore::sqlite());
    let file = root().join("tests/fixtures/movies_sample.csv");
    assert_eq!(world.run(&file, &[]).code, 0);
    // Today's rules allow no quarantined row: the sample quarantines 3.
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("queries");
    std::fs::create_dir(&queries).unwrap();
    for entry in std::fs::read_dir(root().join("rules/queries")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, queries.join(path.file_name().unwrap())).unwrap();
        }
    }
    let strict = std::fs::read_to_string(root().join("rules/movies.toml"))
        .unwrap()
        .replace(
            "max_quarantined_fraction = 0.01",
            "max_quarantined_fraction = 0.0",
        );
    assert!(strict.contains("max_quarantined_fraction = 0.0"));
    let rules = dir.path().join("movies.toml");
    std::fs::write(&rules, strict).unwrap();
    let check = crate::harness::check(file.to_str().unwrap(), rules.to_str().unwrap(), &[]);
    assert_eq!(check.code, 1, "today's rules fail the file");
    let again = run(
        "run",
        file.to_str().unwrap(),
        rules.to_str().unwrap(),
        &["--store", &world.url()],
    );
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(promotion(&again)["status"], "already_promoted");
    assert_eq!(again.report()["verdict"], "pass");
    assert_eq!(
        again.report()["rows"]["quarantined"],
        3,
        "the findings are still reported"
    );
}

#[test]
fn history_shows_skipped_records_utc_times_and_json_fields_as_json() {
    let world = World::new(TestStore::sqlite());
    let (header, records) = sample_records();
    let first = world.path("first.csv");
    write_csv(&first, &header, &records[..100]);
    assert_eq!(world.run(&first, &[]).code, 0);
    let again = world.path("again.csv");
    let mut reordered = records[..100].to_vec();
    reordered.reverse();
    write_csv(&again, &header, &reordered);
    assert_eq!(world.run(&again, &["--on-existing", "skip"]).code, 0);

    let history = world.history();
    assert_eq!(history[1]["skipped_records"], 100);
    assert!(history[1]["reasons"].is_array(), "{:#}", history[1]);
    assert!(history[1]["query_timings"].is_object(), "{:#}", history[1]);
    assert!(history[1]["query_timings"]["genre_year"].is_number());

    let output = dqgate()
        .args(["history", "--store", &world.url()])
        .output()
        .unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.contains("new / updated / skipped"), "{table}");
    assert!(table.contains("0 / 0 / 100"), "{table}");
    assert!(table.contains("started (UTC)"), "{table}");
    let started = history[0]["started_at"].as_str().unwrap();
    assert!(started.ends_with('Z'), "the ledger keeps UTC: {started}");
    assert!(
        table.contains(&started[..19].replacen('T', " ", 1)),
        "{table}"
    );
}
