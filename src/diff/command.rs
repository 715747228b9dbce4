//! `dqgate diff`: check the file, compute the reference aggregates over a
//! subset of its accepted rows, stage the same rows in the store, run the
//! production queries there, and compare the two key by key.

use std::path::{Path, PathBuf};

use crate::check::{CheckError, CheckOptions, check_path};
use crate::diff::{self, StoreRows};
use crate::gate;
use crate::reference::AggregateResult;
use crate::reference::subset::SubsetCollector;
use crate::report::{AggregateReport, DiffReport, Report, SubsetReport};
use crate::rules::RuleSet;
use crate::rules::aggregate::Subset;
use crate::store::{self, Store, StoreError, Target};

/// The store's side of the comparison.
#[derive(Debug, Clone)]
pub(crate) enum StoreSide {
    /// A store URL: stage the rows and run the queries there.
    Url(String),
    /// A folder of `<aggregate>.csv` files exported from another engine.
    Exported(PathBuf),
}

/// How the comparison runs.
#[derive(Debug, Clone)]
pub(crate) struct DiffOptions {
    /// Where the store's figures come from.
    pub store: StoreSide,
    /// Which accepted rows are compared; `None` takes the rule file's default.
    pub subset: Option<Subset>,
    /// Differences kept per aggregate in the report.
    pub max_examples: usize,
}

/// A comparison that could not complete.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CompareError {
    /// Reading the file or writing outputs failed.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A CSV text could not be written.
    #[error("cannot write {what} as CSV: {source}")]
    Csv {
        /// What was being written.
        what: String,
        /// The writer's error.
        source: csv::Error,
    },
    /// An aggregate has no query file.
    #[error("aggregate `{0}` has no `query` file, so the store cannot compute it")]
    NoQuery(String),
    /// An exported result could not be read.
    #[error("cannot read exported result {}: {source}", path.display())]
    Exported {
        /// The CSV file.
        path: PathBuf,
        /// The error.
        source: csv::Error,
    },
}

/// The rule file's model, which staging needs.
pub(crate) fn model_of(rules: &RuleSet) -> Result<&crate::rules::model::Model, StoreError> {
    rules.model.as_ref().ok_or(StoreError::NoModel)
}

/// Runs the whole comparison for the file at `path`.
pub(crate) fn diff_file(
    path: &Path,
    rules: &RuleSet,
    check: &CheckOptions,
    options: &DiffOptions,
) -> Result<Report, CompareError> {
    // Open the store first: a store problem is an error before any work.
    let mut store = match &options.store {
        StoreSide::Url(url) => Some(store::open_for_audit(url, model_of(rules)?)?),
        StoreSide::Exported(_) => None,
    };
    let subset = options.subset.unwrap_or(rules.subset);
    let mut collector = SubsetCollector::new(rules, subset);
    let mut report = check_path(path, rules, check, &mut collector)?;

    let results = collector.reference().finish();
    write_reference(&results, &check.out_dir)?;
    let diff = match (&options.store, store.as_mut()) {
        (StoreSide::Url(_), Some(store)) => audit_staging(
            store,
            rules,
            &collector,
            &results,
            subset,
            options.max_examples,
        )?,
        (StoreSide::Exported(dir), _) => {
            let aggregates = compare_exported(rules, &results, dir, options.max_examples)?;
            let subset = subset_report(subset, collector.accepted, collector.taken);
            let not_compared = not_compared(rules, &subset, &aggregates);
            DiffReport {
                store: dir.display().to_string(),
                subset,
                staged: None,
                key_conflicts: collector.batch.conflicts.clone(),
                agrees: not_compared.is_none() && aggregates.iter().all(|a| a.diff.agrees()),
                not_compared,
                aggregates,
            }
        }
        (StoreSide::Url(_), None) => unreachable!("a URL store is opened above"),
    };
    gate::record_diff(
        &mut report,
        &diff,
        "the store disagrees with the reference",
        !rules.no_aggregates || !rules.aggregates.is_empty(),
    );
    report.diff = Some(diff);
    Ok(report)
}

/// The audit of staging that `diff` and `run` share: stage the collected
/// batch, mark the rows compared, run every aggregate's query on staging
/// (read-only) and compare each with the reference, key by key.
pub(crate) fn audit_staging(
    store: &mut Store,
    rules: &RuleSet,
    collector: &SubsetCollector<'_>,
    results: &[AggregateResult],
    subset: Subset,
    max_examples: usize,
) -> Result<DiffReport, CompareError> {
    let staged = store.stage(&collector.batch)?;
    // Staging marks every staged record as compared; `run` stages more
    // records than the reference computed.
    if let Some(keys) = collector.compared_keys() {
        store.set_subset(Some(keys))?;
    }
    let aggregates = compare_with_store(rules, results, store, Target::Staging, max_examples)?;
    let subset = subset_report(subset, collector.accepted, collector.taken);
    let not_compared = not_compared(rules, &subset, &aggregates);
    Ok(DiffReport {
        store: store.location(),
        subset,
        staged: Some(staged),
        key_conflicts: collector.batch.conflicts.clone(),
        agrees: not_compared.is_none() && aggregates.iter().all(|a| a.diff.agrees()),
        not_compared,
        aggregates,
    })
}

/// Why a comparison compared nothing, if it did: no aggregates declared, a
/// subset without rows, or aggregates without a key on either side. Such
/// a comparison never reads as one that agreed.
fn not_compared(
    rules: &RuleSet,
    subset: &SubsetReport,
    aggregates: &[AggregateReport],
) -> Option<String> {
    if rules.aggregates.is_empty() {
        return Some(if rules.no_aggregates {
            "the rule file declares no aggregates ([reference] no_aggregates = true)".to_owned()
        } else {
            "the rule file declares no [[aggregates]]; declare some, or set [reference] no_aggregates = true if this feed has no figures to check".to_owned()
        });
    }
    if subset.rows == 0 {
        return Some(format!(
            "the subset selected none of the {} accepted rows",
            subset.accepted
        ));
    }
    let empty = aggregates
        .iter()
        .all(|a| a.diff.keys_reference == 0 && a.diff.keys_store == 0 && a.diff.error.is_none());
    empty.then(|| {
        format!(
            "every aggregate is empty in the reference and in the store: none of the {} rows compared has a key",
            subset.rows
        )
    })
}

/// Runs every aggregate's query on the store and compares it with `results`.
pub(crate) fn compare_with_store(
    rules: &RuleSet,
    results: &[AggregateResult],
    store: &mut Store,
    target: Target,
    max_examples: usize,
) -> Result<Vec<AggregateReport>, CompareError> {
    let mut out = Vec::new();
    for (aggregate, result) in rules.aggregates.iter().zip(results) {
        let (sql, path) = aggregate
            .query_for(store.engine())
            .ok_or_else(|| CompareError::NoQuery(aggregate.name.clone()))?;
        let source = path.map_or_else(String::new, |p| p.display().to_string());
        let output = match store.query(&aggregate.name, sql, target) {
            Ok(output) => output,
            // The data is at fault (a value out of range): the aggregate
            // disagrees, with the engine's reason; the run goes on.
            Err(StoreError::Data { detail, .. }) => {
                out.push(AggregateReport {
                    diff: crate::report::AggregateDiff {
                        error: Some(format!(
                            "the store cannot compute it from this data: {detail}"
                        )),
                        ..crate::report::AggregateDiff::new(
                            &aggregate.name,
                            result.rows.len() as u64,
                        )
                    },
                    source,
                    query_ms: None,
                });
                continue;
            }
            Err(other) => return Err(other.into()),
        };
        let rows = StoreRows {
            columns: output.columns,
            rows: output.rows,
        };
        out.push(AggregateReport {
            diff: diff::diff(aggregate, result, &rows, max_examples),
            source,
            query_ms: Some(output.elapsed.as_secs_f64() * 1000.0),
        });
    }
    Ok(out)
}

fn compare_exported(
    rules: &RuleSet,
    results: &[AggregateResult],
    dir: &Path,
    max_examples: usize,
) -> Result<Vec<AggregateReport>, CompareError> {
    let mut out = Vec::new();
    for (aggregate, result) in rules.aggregates.iter().zip(results) {
        let file = dir.join(format!("{}.csv", aggregate.name));
        let rows = diff::read_exported(&file).map_err(|source| CompareError::Exported {
            path: file.clone(),
            source,
        })?;
        out.push(AggregateReport {
            diff: diff::diff(aggregate, result, &rows, max_examples),
            source: file.display().to_string(),
            query_ms: None,
        });
    }
    Ok(out)
}

/// Runs every aggregate's query on production and writes
/// `DIR/<aggregate>.csv`, rows sorted, in the form `--store-output` reads.
pub(crate) fn export_production(
    rules: &RuleSet,
    store: &mut Store,
    dir: &Path,
) -> Result<Vec<PathBuf>, CompareError> {
    let mut written = Vec::new();
    std::fs::create_dir_all(dir).map_err(|source| {
        CheckError::Output(crate::check::output::OutputError {
            path: dir.to_owned(),
            source,
        })
    })?;
    for aggregate in &rules.aggregates {
        let (sql, _) = aggregate
            .query_for(store.engine())
            .ok_or_else(|| CompareError::NoQuery(aggregate.name.clone()))?;
        let mut output = store.query(&aggregate.name, sql, Target::Production)?;
        output.rows.sort();
        let path = dir.join(format!("{}.csv", aggregate.name));
        let rows = output.rows.iter().map(|row| {
            row.iter()
                .map(|c| match c {
                    crate::fields::cell::Cell::Null => String::new(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
        });
        let bytes =
            crate::check::output::csv_bytes(std::iter::once(output.columns.clone()).chain(rows))
                .map_err(|source| CompareError::Csv {
                    what: path.display().to_string(),
                    source,
                })?;
        crate::check::output::write_atomic(&path, &bytes).map_err(CheckError::Output)?;
        written.push(path);
    }
    Ok(written)
}

/// Writes each reference result to `OUT/reference/<aggregate>.csv`.
pub(crate) fn write_reference(
    results: &[AggregateResult],
    out_dir: &Path,
) -> Result<(), CheckError> {
    let dir = out_dir.join("reference");
    std::fs::create_dir_all(&dir).map_err(|source| {
        CheckError::Output(crate::check::output::OutputError {
            path: dir.clone(),
            source,
        })
    })?;
    for result in results {
        crate::check::output::write_atomic(
            &dir.join(format!("{}.csv", result.name)),
            result.to_csv().as_bytes(),
        )
        .map_err(CheckError::Output)?;
    }
    Ok(())
}

pub(crate) fn subset_report(subset: Subset, accepted: u64, rows: u64) -> SubsetReport {
    let (mode, limit, fraction, seed) = match subset {
        Subset::First(n) => ("first", Some(n), None, None),
        Subset::All => ("all", None, None, None),
        Subset::Sample { fraction, seed } => ("sample", None, Some(fraction), Some(seed)),
    };
    SubsetReport {
        mode: mode.to_owned(),
        limit,
        fraction,
        seed,
        accepted,
        rows,
    }
}
