//! GitHub Actions output: workflow-command annotations on the checked file
//! (at most the report's examples per rule, so a bad file cannot flood the
//! log) and a notice or error with the verdict.

use std::fmt::Write as _;

use super::{Report, Verdict};

/// Escapes a workflow command's message: printable (no control or
/// invisible formatting character), then the runner's own escapes.
fn data(text: &str) -> String {
    crate::text::printable(text)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Renders annotations: one per example of every failed rule (`error` for
/// rules that quarantine, `warning` for warnings), then the verdict.
pub(crate) fn render_github(report: &Report) -> String {
    let file = property(&report.file);
    let mut out = String::new();
    for rule in report.failed_rules() {
        let level = if rule.severity == "error" {
            "error"
        } else {
            "warning"
        };
        for e in &rule.examples {
            let _ = writeln!(
                out,
                "::{level} file={file},line={},title={}::{}",
                e.line,
                property(&format!("dqgate {}", rule.name)),
                data(&format!(
                    "{} ({} failed this rule)",
                    e.reason,
                    super::rows(rule.failed)
                ))
            );
        }
    }
    let rows = report.rows;
    let summary = format!(
        "{} rows in = {} accepted + {} quarantined ({} warned)",
        rows.rows_in, rows.accepted, rows.quarantined, rows.warned
    );
    match report.verdict {
        Verdict::Pass => {
            let _ = writeln!(
                out,
                "::notice file={file},title=dqgate verdict PASS::{}",
                data(&summary)
            );
        }
        Verdict::Fail => {
            let reasons = report.reasons.join("; ");
            let _ = writeln!(
                out,
                "::error file={file},title=dqgate verdict FAIL::{}",
                data(&format!("{reasons}. {summary}"))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_commands_so_data_cannot_end_them() {
        assert_eq!(data("50% done\nnext"), "50%25 done\\nnext");
        assert_eq!(data("a\u{1b}[31m\u{202e}b\r"), "a\\u{1b}[31m\\u{202e}b\\r");
        assert_eq!(property("a:b,c"), "a%3Ab%2Cc");
    }
}
