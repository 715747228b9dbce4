use crate::harness::{TestStore, check, fixture, run, snapshots};

const RULES: &str = "tests/fixtures/malformed/rules.toml";

#[test]
fn the_markdown_report_is_stable() {
    let store = TestStore::sqlite();
    let run = run(
        "diff",
        "tests/fixtures/movies_sample.csv",
        "rules/movies.toml",
        &[
            "--store", &store.url, "--subset", "all", "--format", "markdown",
        ],
    );
    assert_eq!(run.code, 0);
    let location = store
        .url
        .trim_start_matches("sqlite://")
        .trim_end_matches("/store.db")
        .to_owned();
    let text = run.redact(&run.stdout).replace(&location, "[STORE]");
    snapshots().bind(|| insta::assert_snapshot!("markdown_diff_sample", text));
}

#[test]
fn github_annotations_point_at_lines_and_the_step_summary_gets_the_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = crate::harness::dqgate()
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "check",
            &fixture("malformed/duplicate_ids.csv"),
            "--rules",
            RULES,
            "--format",
            "github",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let annotations: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    snapshots().bind(|| insta::assert_snapshot!("github_duplicate_ids", annotations.join("\n")));
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(
        written.starts_with("earlier step\n## dqgate"),
        "appended, not replaced: {written}"
    );
    assert!(written.contains("| id.unique | error | 2 |"), "{written}");
}

#[test]
fn a_failing_file_is_an_error_annotation_and_the_examples_bound_the_count() {
    let run = check(
        &fixture("movies_excel_resave.csv"),
        "rules/movies.toml",
        &["--format", "github", "--examples", "2"],
    );
    assert_eq!(run.code, 1);
    let annotations: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("::")).collect();
    // Two failed rules, two examples each, and the verdict.
    assert_eq!(annotations.len(), 5, "{annotations:#?}");
    assert!(annotations.last().unwrap().starts_with(
        "::error file=tests/fixtures/movies_excel_resave.csv,title=dqgate verdict FAIL::"
    ));
}

#[test]
fn records_cannot_inject_markup_or_end_a_workflow_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inject.csv");
    std::fs::write(&path, "id,name,genres\n\"<img src=x onerror=alert(1)>|![p](http://e)\",a,[]\n\"x%0A::error::owned\",b,[]\n").unwrap();
    let markdown = check(path.to_str().unwrap(), RULES, &["--format", "markdown"]);
    assert!(!markdown.stdout.contains("<img"), "{}", markdown.stdout);
    assert!(
        markdown
            .stdout
            .contains("&lt;img src=x onerror=alert(1)&gt;\\|\\!\\[p\\](http://e)"),
        "{}",
        markdown.stdout
    );
    let github = check(path.to_str().unwrap(), RULES, &["--format", "github"]);
    let commands: Vec<&str> = github
        .stdout
        .lines()
        .filter(|l| l.starts_with("::"))
        .collect();
    assert_eq!(
        commands.len(),
        3,
        "two annotations and the verdict: {commands:#?}"
    );
    assert!(
        commands[1].contains("x%250A::error::owned"),
        "{}",
        commands[1]
    );
}

/// (test cases, failures, failure messages) read back with an XML parser.
fn junit_counts(xml: &str) -> (usize, usize, Vec<String>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut cases, mut failures, mut messages) = (0, 0, Vec::new());
    let mut suites = 0;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &[u8]| {
                    e.attributes()
                        .map(|a| a.unwrap())
                        .find(|a| a.key.as_ref() == name)
                        .map(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                                .unwrap()
                                .into_owned()
                        })
                };
                match e.name().as_ref() {
                    b"testsuite" => {
                        suites += 1;
                        for required in [&b"name"[..], b"tests", b"failures", b"errors"] {
                            assert!(
                                attr(required).is_some(),
                                "testsuite lacks {}",
                                String::from_utf8_lossy(required)
                            );
                        }
                    }
                    b"testcase" => {
                        cases += 1;
                        assert!(attr(b"name").is_some() && attr(b"classname").is_some());
                    }
                    b"failure" => {
                        failures += 1;
                        assert!(attr(b"type").is_some());
                        messages.push(attr(b"message").expect("failure message"));
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(suites, 1, "one test suite per file");
    (cases, failures, messages)
}

/// The counts the JSON report implies for the JUnit output.
fn expected_counts(report: &serde_json::Value) -> (usize, usize) {
    let rules = report["rules"].as_array().unwrap();
    let file_rules = report["file_rules"].as_array().unwrap();
    let aggregates = report["diff"]["aggregates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let cases = rules.len() + file_rules.len() + aggregates.len() + 1;
    let failures = rules
        .iter()
        .filter(|r| r["severity"] == "error" && r["failed"].as_u64().unwrap() > 0)
        .count()
        + file_rules.iter().filter(|f| f["passed"] == false).count()
        + aggregates
            .iter()
            .filter(|a| {
                a["missing"] != 0
                    || a["extra"] != 0
                    || a["duplicate"] != 0
                    || a["mismatched"] != 0
                    || !a["error"].is_null()
            })
            .count()
        + usize::from(report["verdict"] == "fail");
    (cases, failures)
}

#[test]
fn junit_parses_and_its_counts_equal_the_json_report() {
    let store = TestStore::sqlite();
    let cases = [
        run(
            "check",
            &fixture("malformed/duplicate_ids.csv"),
            RULES,
            &["--format", "junit"],
        ),
        run(
            "check",
            &fixture("movies_excel_resave.csv"),
            "rules/movies.toml",
            &["--format", "junit"],
        ),
        run(
            "diff",
            &fixture("movies_sample.csv"),
            "rules/movies.toml",
            &["--format", "junit", "--store", &store.url],
        ),
    ];
    for run in &cases {
        let (tests, failures, messages) = junit_counts(&run.stdout);
        assert_eq!(
            (tests, failures),
            expected_counts(&run.report()),
            "{}",
            run.stdout
        );
        assert!(messages.iter().all(|m| !m.is_empty()));
    }
    let (_, failures, messages) = junit_counts(&cases[1].stdout);
    assert_eq!(
        failures, 4,
        "empty records, dates, the threshold and the verdict: {messages:?}"
    );
    snapshots()
        .bind(|| insta::assert_snapshot!("junit_duplicate_ids", cases[0].redact(&cases[0].stdout)));
}

#[test]
fn junit_escapes_what_the_data_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.csv");
    std::fs::write(&path, "id,name,genres\n\"]]></failure><x>&\u{1}\",a,[]\n").unwrap();
    let run = check(path.to_str().unwrap(), RULES, &["--format", "junit"]);
    let (_, failures, _) = junit_counts(&run.stdout);
    assert_eq!(failures, 1);
    assert!(
        run.stdout
            .contains("]]&gt;&lt;/failure&gt;&lt;x&gt;&amp;\\u{1}"),
        "{}",
        run.stdout
    );
}

#[test]
fn quiet_prints_only_the_verdict_and_colors_follow_the_choice() {
    let pass = check(
        &fixture("movies_sample.csv"),
        "rules/movies.toml",
        &["--quiet"],
    );
    assert_eq!(pass.stdout, "verdict: PASS\n");
    let fail = check(
        &fixture("movies_excel_resave.csv"),
        "rules/movies.toml",
        &["-q"],
    );
    assert_eq!(fail.code, 1);
    assert_eq!(
        fail.stdout,
        "verdict: FAIL: 100 of 100 rows (100.00%) were quarantined, above the limit of 1.00%\n"
    );
    // A pipe is no terminal: auto never colors, always does, never never does.
    let auto = check(&fixture("movies_sample.csv"), "rules/movies.toml", &[]);
    assert!(!auto.stdout.contains('\u{1b}'));
    let always = check(
        &fixture("movies_sample.csv"),
        "rules/movies.toml",
        &["--quiet", "--color", "always"],
    );
    assert_eq!(always.stdout, "\u{1b}[1;32mverdict: PASS\u{1b}[0m\n");
    let json = check(
        &fixture("movies_sample.csv"),
        "rules/movies.toml",
        &["--format", "json", "--color", "always"],
    );
    assert!(!json.stdout.contains('\u{1b}'), "JSON is never colored");
    // Nothing is drawn on a standard error that is not a terminal.
    assert!(
        auto.stderr.is_empty() && always.stderr.is_empty(),
        "{}",
        auto.stderr
    );
}
