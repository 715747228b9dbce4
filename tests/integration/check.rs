use crate::harness::{check, fixture, rule, snapshots};

const MOVIES: &str = "rules/movies.toml";

/// Records in each fixture, counted when it was cut (Python's csv module).
const FIXTURE_RECORDS: &[(&str, &str, u64)] = &[
    ("movies_sample.csv", MOVIES, 304),
    ("movies_crlf.csv", MOVIES, 120),
    ("movies_excel_resave.csv", MOVIES, 100),
    ("movies_6col.csv", MOVIES, 80),
    ("tmdb_5000_sample.csv", "rules/tmdb_5000.toml", 82),
];

#[test]
fn every_fixture_balances_and_counts_every_record() {
    for (name, rules, records) in FIXTURE_RECORDS {
        let run = check(&fixture(name), rules, &["--write-accepted"]);
        assert!(
            run.code == 0 || run.code == 1,
            "{name}: exit {}\n{}",
            run.code,
            run.stderr
        );
        run.assert_balanced();
        assert_eq!(run.report()["rows"]["in"], *records, "{name}");
    }
}

#[test]
fn the_movie_sample_passes_after_quarantining_its_bad_records() {
    let run = check(&fixture("movies_sample.csv"), MOVIES, &["--write-accepted"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.report();
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["rows"]["quarantined"], 3);
    let quarantine = run.quarantine();
    let lines_and_rules: Vec<(String, String, String)> = quarantine
        .iter()
        .map(|r| {
            let text = |i: usize| String::from_utf8_lossy(&r[i]).into_owned();
            (text(0), text(1), text(3))
        })
        .collect();
    assert_eq!(
        lines_and_rules,
        [
            (
                "304".into(),
                "released_has_date".into(),
                "false for status=\"Released\", release_date=null".into()
            ),
            (
                "305".into(),
                "released_has_date".into(),
                "false for status=\"Released\", release_date=null".into()
            ),
            (
                "306".into(),
                "id.unique".into(),
                "duplicate id 105045, first seen on line 303".into()
            ),
        ]
    );
}

#[test]
fn the_movie_sample_report_is_stable() {
    let run = check(&fixture("movies_sample.csv"), MOVIES, &[]);
    let settings = snapshots();
    settings.bind(|| {
        insta::assert_snapshot!("movies_sample_table", run.redact(&run.stdout));
        insta::assert_snapshot!(
            "movies_sample_report_json",
            run.redact(&std::fs::read_to_string(run.out_path().join("report.json")).unwrap())
        );
    });
}

#[test]
fn json_format_prints_the_same_report_that_is_written() {
    let run = check(&fixture("movies_sample.csv"), MOVIES, &["--format", "json"]);
    assert_eq!(run.code, 0);
    let printed: serde_json::Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
    assert_eq!(printed, run.report());
    assert_eq!(printed["schema_version"], 2);
    for key in ["file", "blake3", "rows", "rules", "verdict", "reasons"] {
        assert!(printed.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn quarantined_records_keep_their_original_bytes_and_can_be_fed_again() {
    for name in [
        "movies_sample.csv",
        "movies_excel_resave.csv",
        "movies_crlf.csv",
    ] {
        let path = fixture(name);
        let original = std::fs::read(crate::harness::root().join(&path)).unwrap();
        let run = check(&path, MOVIES, &[]);
        let quarantine = run.quarantine();
        // Each record is a verbatim slice of the input.
        for row in &quarantine {
            let raw = &row[5];
            assert!(
                original.windows(raw.len()).any(|w| w == raw),
                "{name}: quarantined record is not verbatim: {}",
                String::from_utf8_lossy(raw)
            );
        }
        // The header plus the quarantined records is a valid file of the
        // same records, so a fixed record can be fed again.
        let header_end = original.iter().position(|&b| b == b'\n').unwrap() + 1;
        let mut refeed = original[..header_end].to_vec();
        for row in &quarantine {
            refeed.extend_from_slice(&row[5]);
            refeed.extend_from_slice(b"\r\n");
        }
        let dir = tempfile::tempdir().unwrap();
        let again = dir.path().join("again.csv");
        std::fs::write(&again, &refeed).unwrap();
        let rerun = check(again.to_str().unwrap(), MOVIES, &[]);
        rerun.assert_balanced();
        assert_eq!(
            rerun.report()["rows"]["in"],
            quarantine.len() as u64,
            "{name}"
        );
        // Fed again, each record fails the same rule, except a duplicate,
        // whose first occurrence is no longer in the file.
        let rule_of = |rows: &[csv::ByteRecord]| -> Vec<Vec<u8>> {
            rows.iter().map(|r| r[1].to_vec()).collect()
        };
        let expected: Vec<Vec<u8>> = rule_of(&quarantine)
            .into_iter()
            .filter(|r| r != b"id.unique")
            .collect();
        assert_eq!(rule_of(&rerun.quarantine()), expected, "{name}");
    }
}

#[test]
fn the_crlf_variant_reads_like_the_lf_original() {
    let run = check(&fixture("movies_crlf.csv"), MOVIES, &["--write-accepted"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.report()["rows"]["quarantined"], 0);
    // The first records are the same movies as in the LF sample.
    let lf = check(&fixture("movies_sample.csv"), MOVIES, &["--write-accepted"]);
    assert_eq!(run.accepted()[..100], lf.accepted()[..100]);
}

/// A named pipe (what `<(zcat feed.csv.gz)` or `/dev/stdin` is) cannot be
/// read at offsets as a file is: it is read as a stream, every row of it.
#[cfg(unix)]
#[test]
fn a_named_pipe_is_read_whole_like_the_file_it_carries() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("feed.csv");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|status| status.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    let sample = fixture("movies_sample.csv");
    let writer = std::thread::spawn({
        let (fifo, sample) = (fifo.clone(), sample.clone());
        move || std::fs::write(fifo, std::fs::read(sample).unwrap()).unwrap()
    });
    let piped = check(fifo.to_str().unwrap(), MOVIES, &[]);
    writer.join().unwrap();
    let direct = check(&sample, MOVIES, &[]);
    assert_eq!(piped.code, direct.code, "{}", piped.stderr);
    let (piped, direct) = (piped.report(), direct.report());
    for key in ["rows", "bytes", "blake3", "rules"] {
        assert_eq!(piped[key], direct[key], "{key}");
    }
}

#[test]
fn the_excel_resave_quarantines_its_empty_rows_and_fails_the_threshold() {
    let run = check(&fixture("movies_excel_resave.csv"), MOVIES, &[]);
    assert_eq!(run.code, 1);
    let report = run.report();
    assert_eq!(report["verdict"], "fail");
    let empty = rule(&report, "csv.empty_record");
    assert_eq!(empty["failed"], 40);
    assert!(
        report["reasons"][0]
            .as_str()
            .unwrap()
            .contains("were quarantined, above the limit of 1.00%"),
        "{}",
        report["reasons"]
    );
    let settings = snapshots();
    settings.bind(|| insta::assert_snapshot!("movies_excel_resave_table", run.redact(&run.stdout)));
}

#[test]
fn a_file_missing_columns_fails_and_names_them() {
    let run = check(&fixture("movies_6col.csv"), MOVIES, &[]);
    assert_eq!(run.code, 1);
    let report = run.report();
    let missing: Vec<&str> = report["header"]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(missing.len(), 18);
    assert!(missing.contains(&"budget") && missing.contains(&"genres"));
    assert!(
        run.stdout
            .contains("the header lacks required columns title, adult, video, budget"),
        "{}",
        run.stdout
    );
    assert_eq!(report["rows"]["accepted"], 0);
    run.assert_balanced();
}

#[test]
fn the_json_list_variant_parses_and_only_its_dateless_film_is_quarantined() {
    let run = check(
        &fixture("tmdb_5000_sample.csv"),
        "rules/tmdb_5000.toml",
        &[],
    );
    let report = run.report();
    for list in [
        "genres",
        "keywords",
        "production_companies",
        "production_countries",
        "spoken_languages",
    ] {
        let found = rule(&report, &format!("{list}.type"));
        assert_eq!(found["failed"], 0, "{list}: {found}");
    }
    let quarantine = run.quarantine();
    assert_eq!(quarantine.len(), 1);
    assert_eq!(&quarantine[0][1], b"released_has_date");
    assert!(String::from_utf8_lossy(&quarantine[0][5]).contains("America Is Still the Place"));
    // One bad record in a sample of 82 is above the 1% limit.
    assert_eq!(run.code, 1);
}

#[test]
fn outputs_are_complete_files_and_nothing_else() {
    let run = check(&fixture("movies_sample.csv"), MOVIES, &["--write-accepted"]);
    let mut names: Vec<String> = std::fs::read_dir(run.out_path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["accepted.csv", "quarantine.csv", "report.json"]);
}

#[test]
fn a_missing_input_file_is_an_error_with_exit_2() {
    let run = check("tests/fixtures/no_such_file.csv", MOVIES, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot read tests/fixtures/no_such_file.csv"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dash_reads_standard_input_with_the_same_report_as_the_file() {
    let sample = std::fs::read(fixture("movies_sample.csv")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut child = crate::harness::dqgate()
        .args(["check", "-", "--out"])
        .arg(out.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(&sample).unwrap();
    }
    assert!(child.wait().unwrap().success());
    let piped: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    let file = check(&fixture("movies_sample.csv"), "rules/movies.toml", &[]).report();
    assert_eq!(piped["file"], "-");
    for key in ["bytes", "blake3", "rows", "rules", "verdict"] {
        assert_eq!(piped[key], file[key], "{key}");
    }
}

#[test]
fn quiet_quiets_the_table_and_leaves_every_format_whole() {
    let json = check(
        &fixture("movies_sample.csv"),
        "rules/movies.toml",
        &["--format", "json", "-q"],
    );
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON on stdout");
    assert_eq!(parsed["verdict"], "pass");
    let summary = tempfile::NamedTempFile::new().unwrap();
    let output = crate::harness::dqgate()
        .args([
            "check",
            &fixture("movies_sample.csv"),
            "--format",
            "github",
            "-q",
            "--out",
        ])
        .arg(tempfile::tempdir().unwrap().path())
        .env("GITHUB_STEP_SUMMARY", summary.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("::notice file="), "{stdout}");
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
    assert!(!stdout.contains("╭"), "no table under -q: {stdout}");
    let written = std::fs::read_to_string(summary.path()).unwrap();
    assert!(written.contains("## dqgate"), "{written}");
    let table = check(&fixture("movies_sample.csv"), "rules/movies.toml", &["-q"]);
    assert_eq!(table.stdout, "verdict: PASS\n");
}

#[test]
fn outputs_are_created_as_the_umask_says() {
    use std::os::unix::fs::PermissionsExt;
    for (umask, mode) in [("022", 0o644), ("077", 0o600), ("002", 0o664)] {
        let out = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask}; exec {} check {} --write-accepted --out {}",
                env!("CARGO_BIN_EXE_dqgate"),
                fixture("movies_sample.csv"),
                out.path().display()
            ))
            .current_dir(crate::harness::root())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        for name in ["report.json", "quarantine.csv", "accepted.csv"] {
            let got = std::fs::metadata(out.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(got, mode, "umask {umask}: {name} is {got:o}");
        }
    }
}

#[test]
fn the_exit_codes_are_in_the_help() {
    for args in [&["--help"][..], &["check", "--help"], &["run", "--help"]] {
        let output = crate::harness::dqgate().args(args).output().unwrap();
        let help = String::from_utf8(output.stdout).unwrap();
        assert!(help.contains("Exit codes:"), "{args:?}: {help}");
        assert!(help.contains("1  the data failed the gate"), "{args:?}");
    }
}

#[test]
fn a_closed_standard_output_is_not_a_failure_and_not_a_panic() {
    // The reading end is closed before dqgate starts: every write gets EPIPE,
    // as `dqgate ... | head -0` would.
    for args in [
        &["rules", "check", "rules/movies.toml"][..],
        &["rules", "explain", "rules/movies.toml"],
        &[
            "check",
            "tests/fixtures/movies_sample.csv",
            "--format",
            "json",
        ],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = tempfile::tempdir().unwrap();
        let mut command = crate::harness::dqgate();
        command.args(args);
        if args[0] == "check" {
            command.arg("--out").arg(out.path());
        }
        let output = command.stdout(writer).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn compressed_files_are_checked_as_their_content_with_its_digest() {
    use std::io::Write as _;
    let sample = std::fs::read(fixture("movies_sample.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gzip = {
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        w.write_all(&sample).unwrap();
        w.finish().unwrap()
    };
    let xz = {
        let mut w = liblzma::write::XzEncoder::new(Vec::new(), 6);
        w.write_all(&sample).unwrap();
        w.finish().unwrap()
    };
    let bzip2 = {
        let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        w.write_all(&sample).unwrap();
        w.finish().unwrap()
    };
    let zstd =
        ruzstd::encoding::compress_to_vec(&sample[..], ruzstd::encoding::CompressionLevel::Fastest);
    let plain = check(&fixture("movies_sample.csv"), "rules/movies.toml", &[]).report();
    for (name, bytes) in [
        ("s.csv.gz", gzip),
        ("s.csv.xz", xz),
        ("s.csv.bz2", bzip2),
        ("s.csv.zst", zstd),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let run = check(path.to_str().unwrap(), "rules/movies.toml", &[]);
        assert_eq!(run.code, 0, "{name}: {}{}", run.stdout, run.stderr);
        let report = run.report();
        assert_eq!(report["rows"], plain["rows"], "{name}");
        assert_eq!(
            report["blake3"], plain["blake3"],
            "{name}: the digest is the content's"
        );
    }
}

#[test]
fn a_latin1_file_is_transcoded_with_encoding_and_refused_without() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.toml");
    std::fs::write(
        &rules,
        "[columns.id]\ntype = \"integer\"\n[columns.title]\nrequired = true\n",
    )
    .unwrap();
    let data = dir.path().join("latin1.csv");
    std::fs::write(&data, b"id,title\n1,Am\xe9lie\n2,Les Mis\xe9rables\n").unwrap();
    let without = check(data.to_str().unwrap(), rules.to_str().unwrap(), &[]);
    assert_eq!(without.report()["rows"]["quarantined"], 2);
    assert_eq!(
        crate::harness::rule(&without.report(), "csv.utf8")["failed"],
        2
    );
    let with = check(
        data.to_str().unwrap(),
        rules.to_str().unwrap(),
        &["--encoding", "latin1", "--write-accepted"],
    );
    assert_eq!(with.code, 0, "{}", with.stderr);
    assert_eq!(with.report()["rows"]["accepted"], 2);
    let accepted = std::fs::read_to_string(with.out_path().join("accepted.csv")).unwrap();
    assert_eq!(accepted, "id,title\n1,Amélie\n2,Les Misérables\n");
    let unknown = check(
        data.to_str().unwrap(),
        rules.to_str().unwrap(),
        &["--encoding", "klingon"],
    );
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("unknown encoding \"klingon\""),
        "{}",
        unknown.stderr
    );
}
