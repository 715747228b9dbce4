use crate::harness::{TestStore, check, fixture, run, snapshots};

const RULES: &str = "tests/fixtures/hostile/rules.toml";

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
            &fixture("hostile/duplicate_ids.csv"),
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
    // The word holding a URL is code: shown as written, neither a link nor markup.
    assert!(
        markdown
            .stdout
            .contains("&lt;img src=x `onerror=alert(1)>\\|![p](http://e`)\""),
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

/// Reads JUnit XML back with an XML parser, checking it against the rules
/// of the common JUnit schema (Jenkins' junit-10.xsd): testsuites holds
/// testsuite elements; a testsuite holds an optional properties element,
/// then testcase, system-out and system-err elements, and has a name and
/// integer tests, failures and errors; a testcase has a name and holds
/// skipped, error, failure, system-out and system-err elements; a property
/// has a name and a value. Returns (test cases, failures, failure messages).
fn junit_counts(xml: &str) -> (usize, usize, Vec<String>) {
    use quick_xml::events::Event;
    let allowed_children = |parent: &str| -> &'static [&'static str] {
        match parent {
            "" => &["testsuites", "testsuite"],
            "testsuites" => &["testsuite"],
            "testsuite" => &["properties", "testcase", "system-out", "system-err"],
            "properties" => &["property"],
            "testcase" => &["skipped", "error", "failure", "system-out", "system-err"],
            _ => &[],
        }
    };
    let required: &[(&str, &[&str])] = &[
        ("testsuite", &["name", "tests", "failures", "errors"]),
        ("testcase", &["name"]),
        ("property", &["name", "value"]),
    ];
    let integers = ["tests", "failures", "errors", "skipped"];
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let (mut cases, mut failures, mut messages, mut suites) = (0, 0, Vec::new(), 0);
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (element, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8(element.name().as_ref().to_vec()).unwrap();
        let parent = stack.last().map_or("", String::as_str);
        assert!(
            allowed_children(parent).contains(&name.as_str()),
            "<{name}> inside <{parent}>"
        );
        let attributes: Vec<(String, String)> = element
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                let value = a
                    .normalized_value(quick_xml::XmlVersion::Explicit1_0)
                    .unwrap()
                    .into_owned();
                (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), value)
            })
            .collect();
        let attr = |key: &str| {
            attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        if let Some((_, keys)) = required.iter().find(|(e, _)| *e == name) {
            for key in *keys {
                assert!(attr(key).is_some(), "<{name}> lacks {key}");
            }
        }
        for key in integers {
            if let Some(v) = attr(key).filter(|_| name == "testsuite" || name == "testsuites") {
                assert!(
                    v.parse::<u64>().is_ok(),
                    "<{name} {key}={v:?}> is not an integer"
                );
            }
        }
        match name.as_str() {
            "testsuite" => suites += 1,
            "testcase" => cases += 1,
            "failure" => {
                failures += 1;
                messages.push(attr("message").expect("failure message"));
            }
            _ => {}
        }
        if !empty {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
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
    // Only what fails the gate fails a test case: file rules, aggregates,
    // the verdict; a row rule's quarantined rows are reported in its output.
    let failures = file_rules.iter().filter(|f| f["passed"] == false).count()
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
            &fixture("hostile/duplicate_ids.csv"),
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
        failures, 2,
        "the threshold of quarantined rows and the verdict: {messages:?}"
    );
    let (_, failures, _) = junit_counts(&cases[0].stdout);
    assert_eq!(failures, 0, "a passing gate is a passing test run");
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
    assert_eq!(
        failures, 0,
        "within the file's threshold: reported, not failed"
    );
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
