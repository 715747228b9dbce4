//! The gate: the one place that turns what the stages found into the
//! verdict, its reasons and the exit code. The check reports the file-level
//! rules that failed, the diff its disagreeing aggregates, the promotion
//! why it rolled back; only this module writes [`Report::verdict`].

use crate::report::{AggregateReport, DiffReport, Report, Verdict};

/// What a command decided, and so the process's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: the gate passed (or the command only reads or prints).
    Passed,
    /// Exit 1: the data failed the gate; the report says why.
    Failed,
}

impl Outcome {
    /// Exit code 2 is for errors: usage, rule files, I/O, stores.
    pub const ERROR_CODE: u8 = 2;

    /// The process's exit code.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Passed => 0,
            Outcome::Failed => 1,
        }
    }

    /// The outcome of a report's verdict.
    pub fn of(report: &Report) -> Outcome {
        match report.verdict {
            Verdict::Pass => Outcome::Passed,
            Verdict::Fail => Outcome::Failed,
        }
    }
}

/// The verdict `reasons` call for: a pass when nothing failed.
pub(crate) fn verdict_for(reasons: &[String]) -> Verdict {
    if reasons.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    }
}

/// Adds every aggregate of a diff that does not agree as a reason (`what`
/// says between which two sides), and a comparison that compared nothing
/// when `empty_fails`; decides again.
pub(crate) fn record_diff(report: &mut Report, diff: &DiffReport, what: &str, empty_fails: bool) {
    if let Some(why) = &diff.not_compared
        && empty_fails
    {
        report
            .reasons
            .push(format!("no reference figures were compared: {why}"));
    }
    record_disagreements(report, &diff.aggregates, what);
}

/// Adds every aggregate that does not agree as a reason, and decides again.
fn record_disagreements(report: &mut Report, aggregates: &[AggregateReport], what: &str) {
    report.reasons.extend(disagreements(aggregates, what));
    report.verdict = verdict_for(&report.reasons);
}

/// A promotion rolled back: its reason, then every aggregate whose running
/// totals did not reconcile with production.
pub(crate) fn record_rollback(
    report: &mut Report,
    reason: String,
    reconciliation: &[AggregateReport],
) {
    report.reasons.push(reason);
    record_disagreements(
        report,
        reconciliation,
        "the running totals disagree with production",
    );
}

/// A file whose content the store already holds is not judged again: it
/// passes whatever today's rules say of it (their results stay in the
/// report, for information), and the run changes nothing.
pub(crate) fn record_already_promoted(report: &mut Report) {
    report.reasons.clear();
    report.verdict = verdict_for(&report.reasons);
}

/// One reason per aggregate that does not agree.
fn disagreements(aggregates: &[AggregateReport], what: &str) -> Vec<String> {
    aggregates
        .iter()
        .filter(|a| !a.diff.agrees())
        .map(|a| {
            let d = &a.diff;
            match &d.error {
                Some(error) => format!("aggregate {}: {error}", d.name),
                None if d.keys_store == 0 => format!(
                    "aggregate {}: the store's query returned no rows, but the reference has {} keys",
                    d.name, d.keys_reference
                ),
                None => format!(
                    "aggregate {}: {what} ({} missing, {} extra, {} duplicate, {} mismatched keys)",
                    d.name, d.missing, d.extra, d.duplicate, d.mismatched
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::check::{CheckOptions, NoSink, check_reader};
    use crate::report::AggregateDiff;
    use crate::rules::RuleSet;

    /// A real report: a check of three rows, one of them quarantined.
    fn report() -> (Report, tempfile::TempDir) {
        let rules = RuleSet::from_source(
            Path::new("t.toml"),
            "[file]\nmax_quarantined_fraction = 0.5\n[columns.id]\ntype = \"integer\"\n",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let options = CheckOptions {
            out_dir: dir.path().to_owned(),
            ..CheckOptions::default()
        };
        let data: &[u8] = b"id\n1\n2\nx\n";
        let report =
            check_reader(Path::new("in.csv"), data, &rules, &options, &mut NoSink).unwrap();
        (report, dir)
    }

    fn aggregate(name: &str, mismatched: u64, error: Option<&str>) -> AggregateReport {
        AggregateReport {
            diff: AggregateDiff {
                keys_store: 3,
                mismatched,
                mismatched_values: mismatched,
                error: error.map(str::to_owned),
                ..AggregateDiff::new(name, 3)
            },
            source: String::new(),
            query_ms: None,
        }
    }

    #[test]
    fn a_check_within_its_limits_passes_and_exits_0() {
        let (report, _dir) = report();
        assert_eq!(report.rows.quarantined, 1);
        assert_eq!(report.verdict, Verdict::Pass);
        assert_eq!(Outcome::of(&report).code(), 0);
    }

    fn diff(aggregates: Vec<AggregateReport>, not_compared: Option<&str>) -> DiffReport {
        DiffReport {
            store: "s".into(),
            subset: crate::report::SubsetReport {
                mode: "all".into(),
                limit: None,
                fraction: None,
                seed: None,
                accepted: 3,
                rows: 3,
            },
            staged: None,
            key_conflicts: Vec::new(),
            agrees: false,
            not_compared: not_compared.map(str::to_owned),
            aggregates,
        }
    }

    #[test]
    fn a_comparison_of_nothing_fails_unless_it_is_declared_intended() {
        let (mut report, _dir) = report();
        record_diff(&mut report, &diff(vec![], Some("no aggregates")), "x", true);
        assert_eq!(report.verdict, Verdict::Fail);
        assert_eq!(
            report.reasons,
            ["no reference figures were compared: no aggregates"]
        );
        let (mut intended, _dir) = super::tests::report();
        record_diff(
            &mut intended,
            &diff(vec![], Some("no aggregates")),
            "x",
            false,
        );
        assert_eq!(intended.verdict, Verdict::Pass);
    }

    #[test]
    fn a_store_that_returned_no_rows_is_named_as_such() {
        let (mut report, _dir) = report();
        let mut empty = aggregate("genre_year", 0, None);
        empty.diff.keys_store = 0;
        empty.diff.missing = 3;
        record_disagreements(&mut report, &[empty], "x");
        assert_eq!(
            report.reasons,
            [
                "aggregate genre_year: the store's query returned no rows, but the reference has 3 keys"
            ]
        );
    }

    #[test]
    fn an_aggregate_that_disagrees_fails_the_gate_with_its_counts() {
        let (mut report, _dir) = report();
        record_diff(
            &mut report,
            &diff(
                vec![
                    aggregate("genre_year", 0, None),
                    aggregate("company_year", 2, None),
                ],
                None,
            ),
            "the store disagrees with the reference",
            true,
        );
        assert_eq!(report.verdict, Verdict::Fail);
        assert_eq!(
            report.reasons,
            [
                "aggregate company_year: the store disagrees with the reference (0 missing, 0 extra, 0 duplicate, 2 mismatched keys)"
            ]
        );
        assert_eq!(Outcome::of(&report).code(), 1);
    }

    #[test]
    fn agreeing_aggregates_leave_a_pass_a_pass() {
        let (mut report, _dir) = report();
        record_disagreements(&mut report, &[aggregate("genre_year", 0, None)], "x");
        assert_eq!(report.verdict, Verdict::Pass);
        assert!(report.reasons.is_empty());
    }

    #[test]
    fn a_rollback_names_its_reason_and_each_aggregate_that_did_not_reconcile() {
        let (mut report, _dir) = report();
        record_rollback(
            &mut report,
            "the promotion was rolled back".into(),
            &[aggregate("genre_year", 0, Some("missing column budget"))],
        );
        assert_eq!(report.verdict, Verdict::Fail);
        assert_eq!(
            report.reasons,
            [
                "the promotion was rolled back",
                "aggregate genre_year: missing column budget"
            ]
        );
    }

    #[test]
    fn a_file_already_promoted_passes_whatever_it_failed() {
        let (mut report, _dir) = report();
        record_disagreements(&mut report, &[aggregate("genre_year", 1, None)], "x");
        assert_eq!(report.verdict, Verdict::Fail);
        record_already_promoted(&mut report);
        assert_eq!(report.verdict, Verdict::Pass);
        assert!(report.reasons.is_empty());
        assert_eq!(
            report.rows.quarantined, 1,
            "the findings stay in the report"
        );
    }
}
