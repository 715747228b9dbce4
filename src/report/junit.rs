//! JUnit XML, the test-report format GitLab, Jenkins and GitHub test
//! reporters read. One test suite for the file; one test case per rule
//! (a failure when an error-severity rule failed on any row), per
//! file-level rule, per aggregate comparison, and one for the verdict.
//! Warnings pass, with their examples in `system-out`.

use std::fmt::Write as _;

use quick_xml::escape::escape;

use super::{Report, Verdict};
use crate::text::printable;

/// An element's text made safe for XML: its lines kept, each printable
/// (control and invisible formatting characters spelled out), markup
/// characters escaped.
fn xml(text: &str) -> String {
    text.split('\n')
        .map(xml_attr)
        .collect::<Vec<_>>()
        .join("\n")
}

/// An attribute's value made safe for XML: one printable line, escaped.
fn xml_attr(text: &str) -> String {
    escape(printable(text)).into_owned()
}

/// Pieces of text from outside as lines: each piece's own line breaks
/// escaped, so no piece can start a line of its own.
fn lines(pieces: impl Iterator<Item = String>) -> String {
    pieces.map(|p| printable(&p)).collect::<Vec<_>>().join("\n")
}

struct Case {
    classname: &'static str,
    name: String,
    failure: Option<(String, String, String)>,
    /// Why the case did not run, when it did not.
    skipped: Option<String>,
    output: Option<String>,
}

/// Renders a report as JUnit XML.
pub(crate) fn render_junit(report: &Report) -> String {
    let mut cases = Vec::new();
    for rule in &report.rules {
        let examples = lines(
            rule.examples
                .iter()
                .map(|e| format!("line {}: {}", e.line, e.reason)),
        );
        let message = format!(
            "{} failed {}: {}",
            super::rows(rule.failed),
            rule.name,
            rule.rule
        );
        // A row rule never fails the gate by itself (the file's threshold
        // of quarantined rows does, and is a test case of its own): its
        // failures are reported, so a passing gate is a passing test run.
        let (failure, output) = match (rule.failed, rule.severity.as_str()) {
            (0, _) => (None, None),
            (_, "error") => (
                None,
                Some(format!("quarantined: {}\n{examples}", printable(&message))),
            ),
            _ => (
                None,
                Some(format!("warning: {}\n{examples}", printable(&message))),
            ),
        };
        cases.push(Case {
            classname: "dqgate.rules",
            name: rule.name.clone(),
            failure,
            skipped: None,
            output,
        });
    }
    for f in &report.file_rules {
        cases.push(Case {
            classname: "dqgate.file",
            name: f.name.clone(),
            failure: (!f.passed).then(|| {
                (
                    format!("{} (limit {})", f.actual, f.limit),
                    "threshold".into(),
                    String::new(),
                )
            }),
            skipped: None,
            output: None,
        });
    }
    if let Some(diff) = &report.diff {
        if let Some(why) = &diff.not_compared {
            cases.push(Case {
                classname: "dqgate.diff",
                name: "comparison".into(),
                failure: None,
                skipped: Some(format!("no reference figures were compared: {why}")),
                output: None,
            });
        }
        for a in &diff.aggregates {
            let d = &a.diff;
            let details = lines(d.examples.iter().map(|e| {
                format!(
                    "{} {} {}: reference {} store {}",
                    e.kind,
                    e.key,
                    e.measure.as_deref().unwrap_or(""),
                    e.reference.as_deref().unwrap_or("-"),
                    e.store.as_deref().unwrap_or("-")
                )
            }));
            let message = d.error.clone().unwrap_or_else(|| {
                format!(
                    "{} missing, {} extra, {} duplicate, {} mismatched keys",
                    d.missing, d.extra, d.duplicate, d.mismatched
                )
            });
            cases.push(Case {
                classname: "dqgate.diff",
                name: d.name.clone(),
                failure: (!d.agrees()).then(|| (message, "diff".into(), details)),
                skipped: None,
                output: None,
            });
        }
    }
    cases.push(Case {
        classname: "dqgate",
        name: "verdict".into(),
        failure: (report.verdict == Verdict::Fail).then(|| {
            (
                "the gate failed".into(),
                "verdict".into(),
                lines(report.reasons.iter().cloned()),
            )
        }),
        skipped: None,
        output: None,
    });

    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"dqgate\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">",
        cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        xml_attr(&report.file),
        cases.len()
    );
    let _ = writeln!(out, "    <properties>");
    for (name, value) in [
        ("blake3", report.blake3.clone()),
        ("rules_file", report.rules_file.path.clone()),
        ("rows.in", report.rows.rows_in.to_string()),
        ("rows.accepted", report.rows.accepted.to_string()),
        ("rows.quarantined", report.rows.quarantined.to_string()),
        ("rows.warned", report.rows.warned.to_string()),
        ("verdict", report.verdict.as_str().to_owned()),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            xml_attr(&value)
        );
    }
    let _ = writeln!(out, "    </properties>");
    for case in &cases {
        let open = format!(
            "    <testcase name=\"{}\" classname=\"{}\"",
            xml_attr(&case.name),
            case.classname
        );
        match (&case.failure, &case.output, &case.skipped) {
            (None, None, None) => {
                let _ = writeln!(out, "{open}/>");
            }
            (failure, output, skipped) => {
                let _ = writeln!(out, "{open}>");
                if let Some(why) = skipped {
                    let _ = writeln!(out, "      <skipped message=\"{}\"/>", xml_attr(why));
                }
                if let Some((message, kind, details)) = failure {
                    let _ = writeln!(
                        out,
                        "      <failure message=\"{}\" type=\"{kind}\">{}</failure>",
                        xml_attr(message),
                        xml(details)
                    );
                }
                if let Some(text) = output {
                    let _ = writeln!(out, "      <system-out>{}</system-out>", xml(text));
                }
                let _ = writeln!(out, "    </testcase>");
            }
        }
    }
    let _ = writeln!(out, "  </testsuite>");
    let _ = writeln!(out, "</testsuites>");
    out
}
