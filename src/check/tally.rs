//! Counts: rows in, accepted, quarantined and warned, and failures per rule
//! with a few examples each. The accounting invariant lives here.

use crate::report::Example;

use crate::check::row::Violation;

/// Failures of one rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RuleCount {
    /// Records on which the rule failed.
    pub failed: u64,
    /// The first few failures.
    pub examples: Vec<Example>,
}

/// Running counts of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Records read (the header excluded).
    pub rows_in: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Accepted records with at least one warning.
    pub warned: u64,
    /// Failures per rule, indexed by rule id.
    pub per_rule: Vec<RuleCount>,
    max_examples: usize,
}

/// `rows in != accepted + quarantined`: a bug, reported rather than hidden.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "accounting does not balance: {rows_in} rows in, {accepted} accepted + {quarantined} quarantined"
)]
pub struct Unbalanced {
    /// Records read.
    pub rows_in: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Records quarantined.
    pub quarantined: u64,
}

impl Tally {
    /// Counts for a catalog of `rules` rules, keeping `max_examples` per rule.
    pub(crate) fn new(rules: usize, max_examples: usize) -> Self {
        Tally {
            rows_in: 0,
            accepted: 0,
            quarantined: 0,
            warned: 0,
            per_rule: vec![RuleCount::default(); rules],
            max_examples,
        }
    }

    /// Counts one record and its violations.
    pub(crate) fn record(&mut self, line: u64, accepted: bool, violations: &[Violation]) {
        self.rows_in += 1;
        if accepted {
            self.accepted += 1;
            if !violations.is_empty() {
                self.warned += 1;
            }
        } else {
            self.quarantined += 1;
        }
        for (i, v) in violations.iter().enumerate() {
            // A rule counts records: a record failing it in several fields
            // (such as two fields of invalid UTF-8) counts once.
            if violations[..i].iter().any(|earlier| earlier.rule == v.rule) {
                continue;
            }
            let count = &mut self.per_rule[v.rule];
            count.failed += 1;
            if count.examples.len() < self.max_examples {
                count.examples.push(Example {
                    line,
                    value: v.value.clone(),
                    reason: v.reason.clone(),
                });
            }
        }
    }

    /// Fraction of records quarantined (0 for an empty file).
    pub(crate) fn quarantined_fraction(&self) -> f64 {
        if self.rows_in == 0 {
            0.0
        } else {
            self.quarantined as f64 / self.rows_in as f64
        }
    }

    /// Checks `rows in = accepted + quarantined`.
    pub(crate) fn balance(&self) -> Result<(), Unbalanced> {
        if self.rows_in == self.accepted + self.quarantined {
            Ok(())
        } else {
            Err(Unbalanced {
                rows_in: self.rows_in,
                accepted: self.accepted,
                quarantined: self.quarantined,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(rule: usize) -> Violation {
        Violation {
            rule,
            value: "\"x\"".into(),
            reason: "bad".into(),
        }
    }

    #[test]
    fn counts_rows_and_keeps_a_few_examples() {
        let mut t = Tally::new(2, 2);
        t.record(2, true, &[]);
        t.record(3, true, &[violation(1)]);
        for line in 4..8 {
            t.record(line, false, &[violation(0)]);
        }
        assert_eq!(
            (t.rows_in, t.accepted, t.quarantined, t.warned),
            (6, 2, 4, 1)
        );
        assert_eq!(t.per_rule[0].failed, 4);
        assert_eq!(
            t.per_rule[0]
                .examples
                .iter()
                .map(|e| e.line)
                .collect::<Vec<_>>(),
            [4, 5]
        );
        assert!(t.balance().is_ok());
        assert!((t.quarantined_fraction() - 4.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn a_rule_counts_a_record_once_however_many_fields_fail_it() {
        let mut t = Tally::new(2, 5);
        t.record(2, false, &[violation(0), violation(0), violation(1)]);
        t.record(3, false, &[violation(0)]);
        assert_eq!((t.per_rule[0].failed, t.per_rule[1].failed), (2, 1));
        assert_eq!(t.per_rule[0].examples.len(), 2);
    }

    #[test]
    fn detects_an_unbalanced_count() {
        let mut t = Tally::new(0, 0);
        t.record(2, true, &[]);
        t.accepted += 1;
        assert_eq!(
            t.balance().unwrap_err().to_string(),
            "accounting does not balance: 1 rows in, 2 accepted + 0 quarantined"
        );
    }
}
