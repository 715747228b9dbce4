//! `dqgate run`: write, audit, publish. The file is checked, every accepted
//! row is staged, the subset is diffed on staging, and only when every gate
//! passed is the batch promoted, in one transaction that also reconciles the
//! running totals with the production queries and rolls back on any
//! disagreement. The ledger records every batch, promoted or not.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use csv::ByteRecord;

use crate::check::header::HeaderBinding;
use crate::check::{CheckOptions, check_path};
use crate::diff::command::{
    CompareError, audit_staging, compare_with_store, model_of, write_reference,
};
use crate::gate;
use crate::reference::Reference;
use crate::reference::subset::SubsetCollector;
use crate::report::{AggregateReport, PromotionReport, PromotionStatus, Report, Verdict};
use crate::rules::RuleSet;
use crate::rules::aggregate::Subset;
use crate::store::batch::{declared_fields, declared_values};
use crate::store::{self, Applied, BatchEntry, OnExisting, Store, Target};

/// Environment variable that makes a promotion stop at a fixed point, to
/// prove atomicity in tests: `abort` aborts the process inside the
/// transaction, `pause` announces itself on standard error and sleeps there
/// so a test can kill it, `hold` waits there for a line on standard input.
/// Read only by builds with the `failpoints` feature (the tests').
#[cfg(feature = "failpoints")]
pub(crate) const FAILPOINT_ENV: &str = "DQGATE_FAILPOINT";

/// How `run` promotes.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// The store URL.
    pub store: String,
    /// Rows diffed on staging; `None` takes the rule file's default.
    pub subset: Option<Subset>,
    /// Policy for ids production holds; `None` takes the rule file's.
    pub on_existing: Option<OnExisting>,
    /// Stop before promoting.
    pub dry_run: bool,
    /// Differences kept per aggregate.
    pub max_examples: usize,
}

/// A run that could not complete.
pub(crate) type RunError = CompareError;

/// Checks, stages, diffs and promotes the file at `path`.
pub(crate) fn run_file(
    path: &Path,
    rules: &RuleSet,
    check: &CheckOptions,
    options: &RunOptions,
) -> Result<Report, RunError> {
    let started_at = now();
    if store::keeps_nothing(&options.store) {
        return Err(store::StoreError::KeepsNothing {
            location: store::redact(&options.store),
        }
        .into());
    }
    let mut store = store::open(&options.store, Some(model_of(rules)?))?;
    let policy = options.on_existing.unwrap_or(rules.on_existing);
    let mut check = check.clone();
    if policy == OnExisting::Reject {
        check.reject_existing = Some(Arc::new(store.existing_keys()?));
    }
    let subset = options.subset.unwrap_or(rules.subset);
    let mut collector = SubsetCollector::new(rules, subset).staging_all_rows();
    let mut report = check_path(path, rules, &check, &mut collector)?;
    let mut promotion = PromotionReport {
        status: PromotionStatus::Rejected,
        batch_id: None,
        on_existing: policy,
        applied: Applied::default(),
        reconciliation: Vec::new(),
    };

    if let Some(earlier) = store.promoted_batch(&report.blake3)? {
        already_promoted(&mut report, promotion, earlier);
        return Ok(report);
    }

    let header = collector.header.clone().unwrap_or_default();
    let mut entry = ledger_entry(&report, &header, &started_at)?;
    let results = collector.reference().finish();
    write_reference(&results, &check.out_dir)?;

    if report.verdict == Verdict::Pass {
        let diff = audit_staging(
            &mut store,
            rules,
            &collector,
            &results,
            subset,
            options.max_examples,
        )?;
        gate::record_diff(
            &mut report,
            &diff,
            "the staged rows disagree with the reference",
            !rules.aggregates.is_empty(),
        );
        report.diff = Some(diff);
    }
    entry.verdict = report.verdict.as_str().to_owned();
    entry.diff_outcome = match &report.diff {
        None => "not_run".into(),
        Some(d) if d.not_compared.is_some() => "not_run".into(),
        Some(d) if d.agrees => "agree".into(),
        Some(_) => "differ".into(),
    };
    entry.query_timings = timings(report.diff.as_ref().map_or(&[], |d| &d.aggregates));

    if report.verdict == Verdict::Fail {
        if !options.dry_run {
            entry.status = "rejected".into();
            entry.reasons = serde_json::to_string(&report.reasons).unwrap_or_default();
            entry.finished_at = now();
            promotion.batch_id = Some(store.insert_batch(&entry)?);
        }
        promotion.status = if options.dry_run {
            PromotionStatus::DryRun
        } else {
            PromotionStatus::Rejected
        };
        report.promotion = Some(promotion);
        return Ok(report);
    }
    if options.dry_run {
        promotion.status = PromotionStatus::DryRun;
        report.promotion = Some(promotion);
        return Ok(report);
    }

    let outcome = promote(
        rules,
        &mut store,
        &mut collector,
        &header,
        policy,
        &mut entry,
        &mut promotion,
        options,
    )?;
    if let Outcome::AlreadyPromoted(earlier) = outcome {
        already_promoted(&mut report, promotion, earlier);
        return Ok(report);
    }
    if let Outcome::RolledBack(reason) = outcome {
        gate::record_rollback(&mut report, reason, &promotion.reconciliation);
        entry.status = "rolled_back".into();
        entry.reasons = serde_json::to_string(&report.reasons).unwrap_or_default();
        entry.finished_at = now();
        promotion.batch_id = Some(store.insert_batch(&entry)?);
    }
    report.promotion = Some(promotion);
    Ok(report)
}

/// A file whose content the store already holds is not promoted again;
/// the gate decides it passes (see [`gate::record_already_promoted`]).
fn already_promoted(report: &mut Report, mut promotion: PromotionReport, earlier: i64) {
    promotion.status = PromotionStatus::AlreadyPromoted;
    promotion.batch_id = Some(earlier);
    promotion.applied = Applied::default();
    promotion.reconciliation.clear();
    report.promotion = Some(promotion);
    gate::record_already_promoted(report);
}

/// How the promotion's transaction ended.
enum Outcome {
    /// Committed.
    Promoted,
    /// Another run promoted the same content first; nothing was written.
    AlreadyPromoted(i64),
    /// Rolled back, for this reason.
    RolledBack(String),
}

/// The transaction: ledger row, production rows, running totals, and their
/// reconciliation with the production queries; committed only if all agree.
/// Whether the file's content is already promoted is decided here, under
/// the store's write lock, so two runs of one file promote it once.
#[allow(clippy::too_many_arguments)] // the parts of one run, passed down once
fn promote(
    rules: &RuleSet,
    store: &mut Store,
    collector: &mut SubsetCollector<'_>,
    header: &ByteRecord,
    policy: OnExisting,
    entry: &mut BatchEntry,
    promotion: &mut PromotionReport,
    options: &RunOptions,
) -> Result<Outcome, RunError> {
    store.begin()?;
    let outcome = (|| -> Result<Outcome, RunError> {
        if let Some(earlier) = store.promoted_batch(&entry.blake3)? {
            return Ok(Outcome::AlreadyPromoted(earlier));
        }
        entry.status = "promoted".into();
        entry.reasons = "[]".into();
        entry.finished_at = now();
        let batch_id = store.insert_batch(entry)?;
        promotion.batch_id = Some(batch_id);
        let existing = store.staged_existing()?;
        if policy == OnExisting::Reject && !existing.is_empty() {
            return Ok(Outcome::RolledBack(format!(
                "the promotion was rolled back: {} of its record keys were promoted by another run meanwhile (on_existing = reject)",
                existing.len()
            )));
        }
        let replaced = match policy {
            OnExisting::Skip => Vec::new(),
            OnExisting::Update | OnExisting::Reject => store.replaced_sources()?,
        };
        let previous = store.read_rollups()?;
        promotion.applied = store.apply_staging(batch_id, policy)?;
        store.set_applied(batch_id, promotion.applied)?;
        failpoint("abort");

        // The running totals: previous + this batch (computed while the
        // file was checked) - the batch's skipped rows - the rows it replaced.
        let mut totals = Reference::from_state(rules, &previous);
        if let Some(batch) = collector.take_all() {
            totals.merge(batch);
        }
        let mut replay = Replay::new(rules);
        if policy == OnExisting::Skip {
            let skipped: std::collections::HashSet<String> = existing.into_iter().collect();
            let header_line = header_csv(header)?;
            for source in &collector.batch.sources {
                if skipped.contains(&source.key) {
                    replay.subtract(&mut totals, &header_line, &source.record);
                }
            }
        }
        for (old_header, _, record) in &replaced {
            replay.subtract(&mut totals, old_header, record);
        }
        let results = totals.finish();
        promotion.reconciliation = compare_with_store(
            rules,
            &results,
            store,
            Target::Production,
            options.max_examples,
        )?;
        if !totals.is_exact() {
            return Ok(Outcome::RolledBack(
                "the promotion was rolled back: a min, max or argmax running total cannot forget replaced rows".into(),
            ));
        }
        if !promotion.reconciliation.iter().all(|a| a.diff.agrees()) {
            return Ok(Outcome::RolledBack(
                "the promotion was rolled back: the running totals do not reconcile with the production queries".into(),
            ));
        }
        store.write_rollups(&totals.state())?;
        failpoint("pause");
        failpoint("hold");
        Ok(Outcome::Promoted)
    })();
    match outcome {
        Ok(Outcome::Promoted) => {
            store.commit()?;
            promotion.status = PromotionStatus::Promoted;
            Ok(Outcome::Promoted)
        }
        Ok(other) => {
            store.rollback()?;
            if matches!(other, Outcome::RolledBack(_)) {
                promotion.status = PromotionStatus::RolledBack;
            }
            promotion.batch_id = None;
            promotion.applied = Applied::default();
            Ok(other)
        }
        Err(err) => {
            // Production is left exactly as it was; the error is reported.
            let _ = store.rollback();
            Err(err)
        }
    }
}

/// Re-reads original records (of this batch or of earlier ones) through the
/// current rules, for the running totals.
struct Replay<'r> {
    rules: &'r RuleSet,
    bindings: HashMap<String, HeaderBinding>,
    parser: OneRecord,
}

impl<'r> Replay<'r> {
    fn new(rules: &'r RuleSet) -> Self {
        Replay {
            rules,
            bindings: HashMap::new(),
            parser: OneRecord::new(rules.file.delimiter),
        }
    }

    /// Takes the contribution of `record` (read under `header`) out of `totals`.
    fn subtract(&mut self, totals: &mut Reference<'_>, header: &str, record: &[u8]) {
        let rules = self.rules;
        let parser = &mut self.parser;
        let binding = self.bindings.entry(header.to_owned()).or_insert_with(|| {
            let header = parser.parse(header.as_bytes()).unwrap_or_default();
            HeaderBinding::bind(rules, &header)
        });
        let Some(fields) = self.parser.parse(record) else {
            return;
        };
        let declared = declared_fields(rules, binding, |i| fields.get(i));
        let values = declared_values(rules, &declared);
        totals.subtract_row(&values, &declared);
    }
}

/// Parses single CSV records with one reusable parser (building a csv
/// reader per record would cost more than the parsing).
struct OneRecord {
    core: csv_core::Reader,
    output: Vec<u8>,
    ends: Vec<usize>,
}

impl OneRecord {
    fn new(delimiter: u8) -> Self {
        OneRecord {
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            output: vec![0; 4096],
            ends: vec![0; 64],
        }
    }

    fn parse(&mut self, bytes: &[u8]) -> Option<ByteRecord> {
        use csv_core::ReadRecordResult::{End, InputEmpty, OutputEndsFull, OutputFull, Record};
        self.core.reset();
        let (mut input, mut out_len, mut ends_len) = (bytes, 0, 0);
        loop {
            // An empty slice after the input tells the parser the record ended.
            let (result, nin, nout, nends) = self.core.read_record(
                input,
                &mut self.output[out_len..],
                &mut self.ends[ends_len..],
            );
            input = &input[nin..];
            out_len += nout;
            ends_len += nends;
            match result {
                InputEmpty => {}
                OutputFull => self.output.resize(self.output.len() * 2, 0),
                OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                Record | End => break,
            }
        }
        if ends_len == 0 {
            return None;
        }
        let mut record = ByteRecord::with_capacity(out_len, ends_len);
        let mut start = 0;
        for &end in &self.ends[..ends_len] {
            record.push_field(&self.output[start..end]);
            start = end;
        }
        Some(record)
    }
}

/// The header as one CSV line, as the ledger and the stored sources keep it.
fn header_csv(header: &ByteRecord) -> Result<String, RunError> {
    let bytes = crate::check::output::csv_bytes([header]).map_err(|source| CompareError::Csv {
        what: "the header for the ledger".into(),
        source,
    })?;
    Ok(String::from_utf8_lossy(&bytes)
        .trim_end_matches('\n')
        .to_owned())
}

fn ledger_entry(
    report: &Report,
    header: &ByteRecord,
    started_at: &str,
) -> Result<BatchEntry, RunError> {
    Ok(BatchEntry {
        file: report.file.clone(),
        blake3: report.blake3.clone(),
        rules_blake3: report.rules_file.blake3.clone(),
        header: header_csv(header)?,
        rows_in: report.rows.rows_in,
        accepted: report.rows.accepted,
        quarantined: report.rows.quarantined,
        warned: report.rows.warned,
        started_at: started_at.to_owned(),
        ..BatchEntry::default()
    })
}

fn timings(aggregates: &[AggregateReport]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = aggregates
        .iter()
        .filter_map(|a| {
            Some((
                a.diff.name.clone(),
                serde_json::json!((a.query_ms? * 1000.0).round() / 1000.0),
            ))
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Stops the promotion at a named point when `DQGATE_FAILPOINT` asks for
/// it; compiled only with the `failpoints` feature (tests).
#[cfg(not(feature = "failpoints"))]
fn failpoint(_name: &str) {}

#[cfg(feature = "failpoints")]
fn failpoint(name: &str) {
    if std::env::var(FAILPOINT_ENV).is_ok_and(|v| v == name) {
        match name {
            "abort" => std::process::abort(),
            "hold" => {
                // Holds until a line (or the end) arrives on standard input,
                // so a test can change the world under a running promotion.
                eprintln!("dqgate: failpoint {name}: holding inside the promotion transaction");
                let _ = std::io::stdin().read_line(&mut String::new());
            }
            _ => {
                eprintln!("dqgate: failpoint {name}: paused inside the promotion transaction");
                std::thread::sleep(std::time::Duration::from_secs(600));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::AggregateDiff;

    #[test]
    fn one_record_is_parsed_whatever_its_size_quoting_and_line_ends() {
        let mut parser = OneRecord::new(b',');
        let long = "x".repeat(10_000);
        let text = format!("1,\"a,\"\"b\"\"\nc\",{long},\r\n");
        let record = parser.parse(text.as_bytes()).unwrap();
        assert_eq!(record.len(), 4);
        assert_eq!(&record[1], b"a,\"b\"\nc");
        assert_eq!(&record[2], long.as_bytes());
        assert_eq!(&record[3], b"");
        // Reused for the next record, a narrower one.
        assert_eq!(parser.parse(b"7,8").unwrap().len(), 2);
        assert!(parser.parse(b"").is_none());
    }

    #[test]
    fn the_header_is_kept_as_one_csv_line_that_parses_back() {
        let header = ByteRecord::from(vec!["id", "a,b", "say \"hi\""]);
        let line = header_csv(&header).unwrap();
        assert_eq!(line, "id,\"a,b\",\"say \"\"hi\"\"\"");
        assert_eq!(OneRecord::new(b',').parse(line.as_bytes()), Some(header));
    }

    #[test]
    fn query_timings_are_milliseconds_by_aggregate_and_skip_exports() {
        let report = |name: &str, query_ms| AggregateReport {
            diff: AggregateDiff::new(name, 0),
            source: String::new(),
            query_ms,
        };
        assert_eq!(
            timings(&[
                report("genre_year", Some(4.23456)),
                report("exported", None)
            ]),
            r#"{"genre_year":4.235}"#
        );
    }
}
