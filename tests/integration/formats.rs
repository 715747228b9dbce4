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
