//! The report of a check: one serializable value that every output format
//! renders. The JSON form is versioned by [`SCHEMA_VERSION`].

mod github;
mod json;
mod junit;
mod layout;
mod markdown;
mod table;

use serde::Serialize;

pub(crate) use github::render_github;
pub(crate) use json::{to_json, to_json_string};
pub(crate) use junit::render_junit;
pub(crate) use markdown::render_markdown;
pub(crate) use table::{render_history, render_rules, render_table};

use crate::rules::spec::OnExisting;

/// Version of the JSON report's shape; bumped on incompatible changes.
pub(crate) const SCHEMA_VERSION: u32 = 2;

/// One example failure, for reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Example {
    /// Line where the record starts.
    pub line: u64,
    /// The offending value, shortened and escaped.
    pub value: String,
    /// Why the rule failed.
    pub reason: String,
}

/// A field the ledger keeps as JSON text, written as the JSON it holds
/// (text that is not JSON stays a string).
fn as_json<S: serde::Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => value.serialize(serializer),
        Err(_) => serializer.serialize_str(text),
    }
}

/// One row of the ledger, `dq_batches`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BatchEntry {
    /// Assigned by the store.
    pub batch_id: i64,
    /// The input file as given.
    pub file: String,
    /// Its BLAKE3 digest (hex); a batch recorded by a dqgate before schema
    /// version 4 reads as `sha256:` and its SHA-256.
    pub blake3: String,
    /// The rule file's BLAKE3 digest, likewise.
    pub rules_blake3: String,
    /// The input's header, as a CSV line.
    pub header: String,
    /// Records read.
    pub rows_in: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Accepted records with warnings.
    pub warned: u64,
    /// Records new to production.
    pub new_records: u64,
    /// Records that replaced production's rows.
    pub updated_records: u64,
    /// Records not promoted because production holds their key (`skip`).
    pub skipped_records: u64,
    /// `pass` or `fail`.
    pub verdict: String,
    /// `agree`, `differ` or `not_run`.
    pub diff_outcome: String,
    /// Per-query timings as JSON: `{"genre_year": 4.2, ...}` in milliseconds.
    #[serde(serialize_with = "as_json")]
    pub query_timings: String,
    /// `promoted`, `rejected` or `rolled_back`.
    pub status: String,
    /// Reasons as a JSON array.
    #[serde(serialize_with = "as_json")]
    pub reasons: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 end time.
    pub finished_at: String,
}

/// A key of a shared table that arrived with other values than the ones
/// kept (the first seen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyConflict {
    /// The model table.
    pub table: String,
    /// The key, as a JSON array.
    pub key: String,
    /// The column whose value differs.
    pub column: String,
    /// The value kept.
    pub kept: String,
    /// The other value.
    pub other: String,
    /// Line of the record that carried the other value.
    pub line: u64,
}

/// What happened to the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionStatus {
    /// Production now holds the batch.
    Promoted,
    /// A file with the same BLAKE3 digest was promoted before; nothing changed.
    AlreadyPromoted,
    /// A gate failed; production is untouched.
    Rejected,
    /// The promotion started but its reconciliation failed; rolled back.
    RolledBack,
    /// Every gate passed; `--dry-run` stopped before promoting.
    DryRun,
}

/// The `promotion` section of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromotionReport {
    /// What happened.
    pub status: PromotionStatus,
    /// The ledger's batch id (promoted, rejected, rolled back, or the
    /// earlier batch for `already_promoted`).
    pub batch_id: Option<i64>,
    /// The policy for ids production already held.
    pub on_existing: OnExisting,
    /// What the promotion applied.
    pub applied: Applied,
    /// The running totals checked against the production queries inside
    /// the transaction (empty when no promotion was attempted).
    pub reconciliation: Vec<AggregateReport>,
}

/// One difference, for reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffExample {
    /// `missing`, `extra`, `duplicate` or `mismatch`.
    pub kind: String,
    /// The key, as `name=value` pairs.
    pub key: String,
    /// The measure or label that differs (mismatches only).
    pub measure: Option<String>,
    /// The reference's value.
    pub reference: Option<String>,
    /// The store's value.
    pub store: Option<String>,
    /// `store - reference`, for numbers.
    pub delta: Option<f64>,
}

/// The comparison of one aggregate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateDiff {
    /// Aggregate name.
    pub name: String,
    /// Keys the reference computed.
    pub keys_reference: u64,
    /// Distinct keys the store returned.
    pub keys_store: u64,
    /// Reference keys the store lacks.
    pub missing: u64,
    /// Store keys the reference lacks.
    pub extra: u64,
    /// Store keys returned more than once.
    pub duplicate: u64,
    /// Keys present on both sides whose values differ.
    pub mismatched: u64,
    /// Differing values, over all keys and measures.
    pub mismatched_values: u64,
    /// A problem that prevented the comparison (such as a missing column).
    pub error: Option<String>,
    /// The first few differences.
    pub examples: Vec<DiffExample>,
}

impl AggregateDiff {
    /// No difference yet: the comparison of `name` over `keys_reference`
    /// reference keys, before the store's side is read.
    pub fn new(name: &str, keys_reference: u64) -> Self {
        AggregateDiff {
            name: name.to_owned(),
            keys_reference,
            keys_store: 0,
            missing: 0,
            extra: 0,
            duplicate: 0,
            mismatched: 0,
            mismatched_values: 0,
            error: None,
            examples: Vec::new(),
        }
    }

    /// True when both sides agree on every key and value.
    pub fn agrees(&self) -> bool {
        self.error.is_none()
            && self.missing == 0
            && self.extra == 0
            && self.duplicate == 0
            && self.mismatched == 0
    }
}

/// How many staged records a promotion applied, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// New keys.
    pub new_records: u64,
    /// Replaced keys.
    pub updated_records: u64,
    /// Keys left as they were.
    pub skipped_records: u64,
}

/// "1 row", "2 rows": a count of rows in words.
pub(crate) fn rows(n: u64) -> String {
    if n == 1 {
        "1 row".to_owned()
    } else {
        format!("{n} rows")
    }
}

/// The outcome of the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every gate held: the file-level rules, and where they ran, the diff
    /// with the store and the reconciliation of the promotion (a file
    /// already promoted passes).
    Pass,
    /// A gate failed: a file-level rule, the diff or the reconciliation;
    /// `reasons` says which.
    Fail,
}

impl Verdict {
    /// `pass` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }
}

/// Everything a check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The tool that wrote the report.
    pub tool: Tool,
    /// The input file as given on the command line.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Hex BLAKE3 digest of its bytes.
    pub blake3: String,
    /// The rule file used.
    pub rules_file: RulesFile,
    /// How the header matched the declared columns.
    pub header: HeaderReport,
    /// The accounting.
    pub rows: Rows,
    /// Blank lines the reader skipped (they hold no record).
    pub blank_lines: BlankLines,
    /// Every rule with its failures, in catalog order.
    pub rules: Vec<RuleReport>,
    /// File-level rules and their measured values.
    pub file_rules: Vec<FileRuleReport>,
    /// Pass or fail.
    pub verdict: Verdict,
    /// Why the verdict is what it is (empty on a pass).
    pub reasons: Vec<String>,
    /// Files written.
    pub outputs: OutputsReport,
    /// The reference/store comparison (`dqgate diff`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<DiffReport>,
    /// What `dqgate run` did with the batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PromotionReport>,
}

/// The comparison of the reference aggregates with the store's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffReport {
    /// The store (never with credentials), or the folder of exported results.
    pub store: String,
    /// Which rows were compared.
    pub subset: SubsetReport,
    /// Rows loaded into staging (absent when comparing exported results).
    pub staged: Option<Vec<StagedTable>>,
    /// Keys of shared tables seen with other values than the ones kept.
    pub key_conflicts: Vec<KeyConflict>,
    /// One entry per aggregate.
    pub aggregates: Vec<AggregateReport>,
    /// Why nothing was compared (no aggregates declared, no row in the
    /// subset, or no key on either side); `null` when figures were compared.
    pub not_compared: Option<String>,
    /// True when figures were compared and every aggregate agrees.
    pub agrees: bool,
}

/// Which accepted rows were compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubsetReport {
    /// `first`, `all` or `sample`.
    pub mode: String,
    /// For `first`: how many.
    pub limit: Option<u64>,
    /// For `sample`: the fraction of keys.
    pub fraction: Option<f64>,
    /// For `sample`: the seed.
    pub seed: Option<u64>,
    /// Accepted rows in the file.
    pub accepted: u64,
    /// Rows compared.
    pub rows: u64,
}

/// Rows staged in one model table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StagedTable {
    /// The table.
    pub table: String,
    /// Its staged rows.
    pub rows: u64,
}

/// One aggregate's comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateReport {
    /// Counts and examples.
    #[serde(flatten)]
    pub diff: AggregateDiff,
    /// Where the store's side came from: the query file or the exported CSV.
    pub source: String,
    /// Time the store's query took, in milliseconds.
    pub query_ms: Option<f64>,
}

/// Name and version of dqgate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tool {
    /// `dqgate`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

impl Tool {
    /// This build of dqgate.
    pub fn current() -> Self {
        Tool {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The rule file used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulesFile {
    /// Path as given.
    pub path: String,
    /// Hex BLAKE3 digest of its bytes.
    pub blake3: String,
    /// `[dataset].name`.
    pub dataset: Option<String>,
}

/// How the header matched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HeaderReport {
    /// Number of header columns.
    pub columns: usize,
    /// Required columns that are absent.
    pub missing: Vec<String>,
    /// Header columns without rules.
    pub unexpected: Vec<String>,
    /// Names repeated in the header.
    pub duplicates: Vec<String>,
    /// Optional declared columns that are absent, so not checked.
    pub not_checked: Vec<String>,
    /// Hints about likely causes.
    pub hints: Vec<String>,
}

/// The accounting: `in = accepted + quarantined`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Rows {
    /// Records read, the header excluded.
    #[serde(rename = "in")]
    pub rows_in: u64,
    /// Records that passed every error-severity rule.
    pub accepted: u64,
    /// Records written to quarantine.
    pub quarantined: u64,
    /// Accepted records with at least one warning.
    pub warned: u64,
}

/// Skipped blank lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlankLines {
    /// How many.
    pub skipped: u64,
    /// The first few line numbers.
    pub lines: Vec<u64>,
}

/// One rule's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    /// Rule name.
    pub name: String,
    /// Column, for column rules.
    pub column: Option<String>,
    /// Kind of check.
    pub kind: String,
    /// `error` or `warn`.
    pub severity: String,
    /// The rule in words.
    pub rule: String,
    /// Records on which it failed.
    pub failed: u64,
    /// The first few failures.
    pub examples: Vec<Example>,
}

/// One file-level rule's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileRuleReport {
    /// Rule name, such as `file.min_rows`.
    pub name: String,
    /// The configured limit, in words.
    pub limit: String,
    /// The configured limit as a number (rows, or a fraction from 0 to 1).
    pub limit_value: f64,
    /// The measured value, in words.
    pub actual: String,
    /// The measured value as a number, in the unit of `limit_value`.
    pub actual_value: f64,
    /// Whether it held.
    pub passed: bool,
}

/// Files written by the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputsReport {
    /// The JSON report.
    pub report: String,
    /// The quarantine file.
    pub quarantine: String,
    /// The accepted rows, when asked for.
    pub accepted: Option<String>,
}

impl Report {
    /// The rules that failed at least once.
    pub fn failed_rules(&self) -> impl Iterator<Item = &RuleReport> {
        self.rules.iter().filter(|r| r.failed > 0)
    }
}
