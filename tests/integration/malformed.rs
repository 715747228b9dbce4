use crate::harness::{check, fixture, rule, snapshots};

const RULES: &str = "tests/fixtures/hostile/rules.toml";

/// (fixture, exit code, rows in, accepted, failing rules with their first line and a phrase of the reason)
type Case = (
    &'static str,
    i32,
    u64,
    u64,
    &'static [(&'static str, u64, &'static str)],
);

const CASES: &[Case] = &[
    (
        "ragged.csv",
        0,
        4,
        2,
        &[("csv.field_count", 3, "expected 3 fields, found 2")],
    ),
    (
        "unterminated_quote_end.csv",
        0,
        2,
        1,
        &[(
            "csv.quotes",
            3,
            "opens a quote on line 3 that is never closed",
        )],
    ),
    (
        "unterminated_quote_middle.csv",
        0,
        3,
        2,
        &[("csv.quotes", 3, "closes only on line 5")],
    ),
    (
        "stray_quote.csv",
        0,
        3,
        1,
        &[("csv.quotes", 2, "quote inside an unquoted value")],
    ),
    (
        "invalid_utf8.csv",
        0,
        2,
        1,
        &[("csv.utf8", 2, "field `name` is not valid UTF-8 at byte 3")],
    ),
    ("bom_crlf.csv", 0, 2, 2, &[]),
    ("mixed_line_endings.csv", 0, 3, 3, &[]),
    ("blank_lines.csv", 0, 3, 3, &[]),
    ("multiline.csv", 0, 3, 3, &[]),
    (
        "bad_lists.csv",
        0,
        4,
        1,
        &[("genres.type", 2, "not a valid list: at byte 31")],
    ),
    (
        "duplicate_ids.csv",
        0,
        5,
        2,
        &[
            ("id.type", 4, "expected an integer"),
            ("id.unique", 3, "first seen on line 2"),
        ],
    ),
    ("empty.csv", 1, 0, 0, &[]),
    ("header_only.csv", 1, 0, 0, &[]),
    (
        "duplicate_header.csv",
        1,
        1,
        0,
        &[("file.header", 2, "repeats column name")],
    ),
    (
        "missing_header.csv",
        1,
        1,
        0,
        &[("file.header", 2, "lacks required columns id, name, genres")],
    ),
];

/// Checks a fixture with the permissive rules and asserts its exit code,
/// its accounting, and its rows in and accepted; returns the report.
#[track_caller]
fn expect_outcome(name: &str, code: i32, rows_in: u64, accepted: u64) -> serde_json::Value {
    let run = check(&fixture(name), RULES, &["--write-accepted"]);
    assert_eq!(run.code, code, "{name}: {}{}", run.stdout, run.stderr);
    run.assert_balanced();
    let report = run.report();
    assert_eq!(report["rows"]["in"], rows_in, "{name}");
    assert_eq!(report["rows"]["accepted"], accepted, "{name}");
    report
}

#[test]
fn every_malformed_case_has_its_expected_outcome() {
    for (name, code, rows_in, accepted, failures) in CASES {
        let report = expect_outcome(&format!("hostile/{name}"), *code, *rows_in, *accepted);
        let failed: Vec<&serde_json::Value> = report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["failed"].as_u64().unwrap() > 0)
            .collect();
        assert_eq!(failed.len(), failures.len(), "{name}: {failed:#?}");
        for (rule, line, phrase) in *failures {
            let found = failed
                .iter()
                .find(|r| r["name"] == *rule)
                .unwrap_or_else(|| panic!("{name}: {rule} did not fail"));
            let example = &found["examples"][0];
            assert_eq!(example["line"], *line, "{name}: {rule}");
            assert!(
                example["reason"].as_str().unwrap().contains(phrase),
                "{name}: {rule}: {}",
                example["reason"]
            );
        }
        if *code == 1 {
            assert!(
                !report["reasons"].as_array().unwrap().is_empty(),
                "{name}: a failure gives a reason"
            );
        }
    }
}

#[test]
fn an_empty_file_and_a_header_only_file_say_why_they_fail() {
    let empty = check(&fixture("hostile/empty.csv"), RULES, &[]);
    assert_eq!(
        empty.report()["reasons"][0],
        "the file is empty: it has no header row"
    );
    let header_only = check(&fixture("hostile/header_only.csv"), RULES, &[]);
    assert_eq!(
        header_only.report()["reasons"][0],
        "the file has a header but no data rows (at least 1 required)"
    );
}

#[test]
fn blank_lines_are_counted_not_lost() {
    let run = check(&fixture("hostile/blank_lines.csv"), RULES, &[]);
    let report = run.report();
    assert_eq!(report["blank_lines"]["skipped"], 4);
    assert_eq!(
        report["blank_lines"]["lines"],
        serde_json::json!([3, 5, 6, 8])
    );
}

#[test]
fn the_bom_is_not_part_of_the_first_column_name() {
    let run = check(
        &fixture("hostile/bom_crlf.csv"),
        RULES,
        &["--write-accepted"],
    );
    assert_eq!(run.report()["header"]["missing"], serde_json::json!([]));
    let accepted = std::fs::read_to_string(run.out_path().join("accepted.csv")).unwrap();
    assert_eq!(accepted, "id,name,genres\n1,Toy Story,[]\n2,Heat,[]\n");
}

#[test]
fn oversized_records_and_fields_are_quarantined_with_their_line() {
    let run = check(
        &fixture("movies_sample.csv"),
        "rules/movies.toml",
        &["--max-record-bytes", "1500"],
    );
    let report = run.report();
    let too_large = rule(&report, "csv.too_large");
    assert!(too_large["failed"].as_u64().unwrap() > 0);
    assert!(
        too_large["examples"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("above --max-record-bytes 1500")
    );
    run.assert_balanced();

    let run = check(
        &fixture("movies_sample.csv"),
        "rules/movies.toml",
        &["--max-field-bytes", "600"],
    );
    let report = run.report();
    let too_large = rule(&report, "csv.too_large");
    assert_eq!(too_large["examples"][0]["line"], 30);
    assert!(
        too_large["examples"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("field `production_companies` is 996 bytes, above --max-field-bytes 600")
    );
}

#[test]
fn the_malformed_report_table_is_stable() {
    let run = check(&fixture("hostile/duplicate_ids.csv"), RULES, &[]);
    snapshots()
        .bind(|| insta::assert_snapshot!("malformed_duplicate_ids_table", run.redact(&run.stdout)));
}

#[test]
fn no_escape_sequence_from_the_file_reaches_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("escape.csv");
    std::fs::write(
        &path,
        b"id,name,genres,\x1b[31mred\x1b[0m\n\x1b[2J,Toy Story,[],x\n2,\x1b]0;owned\x07,[],y\n",
    )
    .unwrap();
    let run = check(path.to_str().unwrap(), RULES, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("columns without rules: \\u{1b}[31mred\\u{1b}[0m"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("expected an integer, found \"\\u{1b}[2J\""),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{7}'),
        "{}",
        run.stdout
    );
}

/// (fixture in tests/fixtures/hostile, exit code, rows in, accepted, the
/// failing rule and a phrase of its first reason, or of the verdict's reason)
const HOSTILE: &[(&str, i32, u64, u64, &str, &str)] = &[
    (
        "nul_bytes.csv",
        0,
        2,
        1,
        "csv.nul",
        "field `name` holds a NUL byte at byte 2",
    ),
    (
        "ten_thousand_fields.csv",
        0,
        2,
        1,
        "csv.field_count",
        "expected 3 fields, found 10000",
    ),
    (
        "truncated_multibyte.csv",
        0,
        2,
        1,
        "csv.field_count",
        "expected 3 fields, found 2",
    ),
    (
        "image.png",
        1,
        3,
        0,
        "file.header",
        "the file is not CSV: it is a PNG image",
    ),
    // Compressed inputs are decompressed as they stream (the file holds
    // one good record and 49 repeats of its id).
    (
        "compressed.csv.gz",
        0,
        50,
        1,
        "id.unique",
        "duplicate id 1, first seen on line 2",
    ),
];

#[test]
fn hostile_inputs_have_a_clear_outcome_and_balance() {
    for (name, code, rows_in, accepted, rule_name, phrase) in HOSTILE {
        let report = expect_outcome(&format!("hostile/{name}"), *code, *rows_in, *accepted);
        if rule_name.is_empty() {
            assert!(
                report["reasons"][0].as_str().unwrap().contains(phrase),
                "{name}: {}",
                report["reasons"]
            );
        } else {
            let found = rule(&report, rule_name);
            assert!(
                found["examples"][0]["reason"]
                    .as_str()
                    .unwrap()
                    .contains(phrase),
                "{name}: {found}"
            );
        }
    }
}

#[test]
fn oversized_fields_and_lines_are_quarantined_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    // A 64 MiB field, then a normal row.
    let big_field = dir.path().join("big_field.csv");
    let mut data = b"id,name,genres\n1,\"".to_vec();
    data.resize(data.len() + (64 << 20), b'x');
    data.extend_from_slice(b"\",[]\n2,Heat,[]\n");
    std::fs::write(&big_field, &data).unwrap();
    let run = check(big_field.to_str().unwrap(), RULES, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.assert_balanced();
    let report = run.report();
    assert_eq!(
        (
            report["rows"]["in"].as_u64(),
            report["rows"]["accepted"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let too_large = rule(&report, "csv.too_large");
    assert_eq!(too_large["examples"][0]["line"], 2);
    assert!(
        too_large["examples"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("above --max-record-bytes")
    );
    // Nothing lost: the quarantine holds the whole record, byte for byte.
    let quarantined = run.quarantine();
    let record = &data[15..data.len() - 11];
    assert!(
        &quarantined[0][5] == record,
        "the quarantined record differs from the original ({} bytes, expected {})",
        quarantined[0][5].len(),
        record.len()
    );
    // And it was never held in memory: the process stays far below 64 MiB.
    match peak_rss_kib(big_field.to_str().unwrap()) {
        Some(kib) => assert!(kib < 40 * 1024, "peak RSS {kib} KiB"),
        None => println!("SKIPPED: /usr/bin/time is not installed; peak memory not measured"),
    }

    // A 10 MiB last line with no newline, under a raised field limit but
    // over a lowered record limit.
    let long_line = dir.path().join("long_line.csv");
    let mut data = b"id,name,genres\n2,Heat,[]\n3,".to_vec();
    data.resize(data.len() + (10 << 20), b'y');
    data.extend_from_slice(b",[]");
    std::fs::write(&long_line, &data).unwrap();
    let run = check(
        long_line.to_str().unwrap(),
        RULES,
        &[
            "--max-field-bytes",
            "20000000",
            "--max-record-bytes",
            "5000000",
        ],
    );
    assert_eq!(run.code, 0);
    run.assert_balanced();
    let too_large = rule(&run.report(), "csv.too_large");
    assert_eq!(too_large["examples"][0]["line"], 3);
}

#[test]
fn an_unwritable_output_directory_is_an_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the output directory should be: no process may create it.
    let blocked = dir.path().join("out");
    std::fs::write(&blocked, "not a directory").unwrap();
    let output = crate::harness::dqgate()
        .args([
            "check",
            &fixture("hostile/ragged.csv"),
            "--rules",
            RULES,
            "--out",
        ])
        .arg(&blocked)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot write {}", blocked.display())),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&blocked).unwrap(),
        "not a directory"
    );
}

#[test]
fn a_failed_run_leaves_earlier_outputs_intact() {
    let first = check(&fixture("hostile/ragged.csv"), RULES, &[]);
    let report = std::fs::read(first.out_path().join("report.json")).unwrap();
    let quarantine = std::fs::read(first.out_path().join("quarantine.csv")).unwrap();
    // The same output directory, a run that cannot read its input.
    let output = crate::harness::dqgate()
        .args([
            "check",
            "tests/fixtures/no_such.csv",
            "--rules",
            RULES,
            "--out",
        ])
        .arg(first.out_path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        std::fs::read(first.out_path().join("report.json")).unwrap(),
        report
    );
    assert_eq!(
        std::fs::read(first.out_path().join("quarantine.csv")).unwrap(),
        quarantine
    );
    let leftovers: Vec<_> = std::fs::read_dir(first.out_path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".dqgate-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

#[test]
fn a_disk_that_fills_while_writing_quarantine_is_an_error_and_leaves_earlier_outputs() {
    // `ulimit -f` caps the size of any file the process writes; with SIGXFSZ
    // ignored, a write past it fails (EFBIG) as a full disk would.
    let out = tempfile::tempdir().unwrap();
    let first = crate::harness::dqgate()
        .args([
            "check",
            &fixture("hostile/ragged.csv"),
            "--rules",
            RULES,
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0));
    let before: Vec<(String, Vec<u8>)> = ["report.json", "quarantine.csv"]
        .iter()
        .map(|n| ((*n).to_owned(), std::fs::read(out.path().join(n)).unwrap()))
        .collect();
    let script = format!(
        "trap '' XFSZ; ulimit -f 8; exec {} check {} --rules rules/movies.toml --out {}",
        env!("CARGO_BIN_EXE_dqgate"),
        fixture("movies_excel_resave.csv"),
        out.path().display()
    );
    let full = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(crate::harness::root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write") && stderr.contains("File too large"),
        "{stderr}"
    );
    for (name, bytes) in before {
        assert_eq!(
            std::fs::read(out.path().join(&name)).unwrap(),
            bytes,
            "{name} changed"
        );
    }
    let leftovers: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".dqgate-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// Peak resident memory of `dqgate check FILE` with the permissive rules,
/// measured by GNU time; `None` where it is not installed.
fn peak_rss_kib(file: &str) -> Option<u64> {
    let time = std::path::Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("time.txt");
    let status = std::process::Command::new(time)
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(env!("CARGO_BIN_EXE_dqgate"))
        .args(["check", file, "--rules", RULES, "--out"])
        .arg(out.path())
        .current_dir(crate::harness::root())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    std::fs::read_to_string(&report)
        .unwrap()
        .trim()
        .parse()
        .ok()
}

#[test]
fn a_header_of_200000_columns_is_bound_whole_with_its_duplicates_and_hints() {
    // Binding a header is linear in its width (it was quadratic: a minute
    // for this file); bench/run.sh measures it against reading the file.
    let dir = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = (0..200_000).map(|i| format!("c{i}")).collect();
    for i in (0..200_000).step_by(1000) {
        names[i + 1] = format!("c{i}");
    }
    let path = dir.path().join("wide.csv");
    std::fs::write(&path, format!("{}\n", names.join(","))).unwrap();
    let run = check(path.to_str().unwrap(), "rules/movies.toml", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let header = &run.report()["header"];
    assert_eq!(header["columns"], 200_000);
    assert_eq!(header["duplicates"].as_array().unwrap().len(), 200);
    assert_eq!(header["duplicates"][0], "c0");
    // A declared column that differs only by case is a rule-file error,
    // found in the same linear pass.
    names[7] = "Title".into();
    std::fs::write(&path, format!("{}\n", names.join(","))).unwrap();
    let run = check(path.to_str().unwrap(), "rules/movies.toml", &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("column `title` is not in the header; did you mean `Title`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_interrupted_run_leaves_no_temporary_files_and_the_earlier_outputs() {
    use std::io::Write as _;
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("report.json"), "{\"an\": \"earlier run\"}").unwrap();
        let fifo = dir.path().join("feed.csv");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let mut child = crate::harness::dqgate()
            .args(["check", fifo.to_str().unwrap(), "--write-accepted", "--out"])
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The header and a record, then the feed stays open: the check is
        // under way, its temporary outputs created, when the signal comes.
        let mut feed = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        let sample = std::fs::read_to_string(fixture("movies_sample.csv")).unwrap();
        // Several chunks' worth (the reader takes 256 KiB at a time).
        feed.write_all(sample.as_bytes()).unwrap();
        let body = sample.split_once('\n').unwrap().1;
        for _ in 0..4 {
            feed.write_all(body.as_bytes()).unwrap();
        }
        feed.flush().unwrap();
        let has_temp = |dir: &std::path::Path| {
            std::fs::read_dir(dir).unwrap().any(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".dqgate-")
            })
        };
        for _ in 0..200 {
            if has_temp(&out) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(has_temp(&out), "the check never created its outputs");
        let killed = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        drop(feed);
        assert_eq!(status.code(), Some(code), "SIG{signal}");
        let left: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        // Stopped before it published anything: the earlier run's report
        // is all the folder holds.
        assert_eq!(left, ["report.json"], "SIG{signal}");
        assert_eq!(
            std::fs::read_to_string(out.join("report.json")).unwrap(),
            "{\"an\": \"earlier run\"}"
        );
    }
}

#[test]
fn a_record_with_several_bad_fields_counts_once_per_rule() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.toml");
    std::fs::write(&rules, "[columns.a]\n[columns.b]\n[columns.c]\n").unwrap();
    let data = dir.path().join("two_bad_fields.csv");
    std::fs::write(&data, b"a,b,c\n\xff,\xfe,ok\nx,y,z\n").unwrap();
    let run = check(data.to_str().unwrap(), rules.to_str().unwrap(), &[]);
    let report = run.report();
    assert_eq!(report["rows"]["quarantined"], 1);
    assert_eq!(crate::harness::rule(&report, "csv.utf8")["failed"], 1);
    // The quarantine keeps the record's original bytes, so it is read as bytes.
    let quarantine = std::fs::read(run.out_path().join("quarantine.csv")).unwrap();
    let quarantine = String::from_utf8_lossy(&quarantine);
    let row = quarantine.lines().nth(1).unwrap();
    assert!(row.starts_with("2,csv.utf8,"), "{row}");
    assert!(!row.contains("csv.utf8;csv.utf8"), "{row}");
}
