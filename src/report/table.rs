//! The terminal view of a report: a summary, the failing rules with
//! examples, the file-level rules, and the verdict.

use std::fmt::Write as _;

use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Modify, Style, Width};
use tabled::{Table, Tabled};

use super::{Report, Verdict};

/// Widest cell of the examples column, in characters.
const EXAMPLES_WIDTH: usize = 72;

#[derive(Tabled)]
struct SummaryRow {
    #[tabled(rename = "rows")]
    what: &'static str,
    #[tabled(rename = "count")]
    count: u64,
    #[tabled(rename = "share")]
    share: String,
}

#[derive(Tabled)]
struct FailureRow<'a> {
    rule: &'a str,
    severity: &'a str,
    failed: u64,
    #[tabled(rename = "first failures (line: reason)")]
    examples: String,
}

#[derive(Tabled)]
struct FileRuleRow<'a> {
    #[tabled(rename = "file rule")]
    name: &'a str,
    limit: &'a str,
    actual: &'a str,
    #[tabled(rename = "result")]
    result: &'static str,
}

#[derive(Tabled)]
struct AggregateRow<'a> {
    aggregate: &'a str,
    #[tabled(rename = "reference keys")]
    keys_reference: u64,
    #[tabled(rename = "store keys")]
    keys_store: u64,
    missing: u64,
    extra: u64,
    duplicate: u64,
    mismatched: u64,
    result: &'static str,
}

#[derive(Tabled)]
struct DifferenceRow<'a> {
    aggregate: &'a str,
    kind: &'a str,
    key: &'a str,
    measure: &'a str,
    reference: &'a str,
    store: &'a str,
    delta: String,
}

fn render_diff(out: &mut String, diff: &super::DiffReport) {
    let subset = &diff.subset;
    let chosen = match subset.mode.as_str() {
        "first" => format!("the first {} accepted rows", subset.limit.unwrap_or(0)),
        "sample" => format!(
            "a {:.1}% sample of keys (seed {})",
            subset.fraction.unwrap_or(0.0) * 100.0,
            subset.seed.unwrap_or(0)
        ),
        _ => "all accepted rows".to_owned(),
    };
    let _ = writeln!(
        out,
        "\nreference vs store ({}): {chosen}, {} of {} compared",
        diff.store, subset.rows, subset.accepted
    );
    if let Some(s) = &diff.staged {
        let _ = writeln!(
            out,
            "staged: {} movies, {} genres, {} companies, {} movie-genre and {} movie-company links",
            s.movies, s.genres, s.companies, s.movie_genres, s.movie_companies
        );
    }
    for c in &diff.name_conflicts {
        let _ = writeln!(
            out,
            "name conflict: {} id {} is {:?}, but line {} calls it {:?}",
            c.table, c.id, c.kept, c.line, c.other
        );
    }
    let rows: Vec<AggregateRow<'_>> = diff
        .aggregates
        .iter()
        .map(|a| AggregateRow {
            aggregate: &a.diff.name,
            keys_reference: a.diff.keys_reference,
            keys_store: a.diff.keys_store,
            missing: a.diff.missing,
            extra: a.diff.extra,
            duplicate: a.diff.duplicate,
            mismatched: a.diff.mismatched,
            result: if a.diff.agrees() { "agree" } else { "DIFFER" },
        })
        .collect();
    let mut table = Table::new(rows);
    table
        .with(Style::rounded())
        .with(Modify::new(Columns::new(1..7)).with(Alignment::right()));
    let _ = writeln!(out, "{table}");
    for a in &diff.aggregates {
        if let Some(error) = &a.diff.error {
            let _ = writeln!(out, "{}: {error}", a.diff.name);
        }
    }
    let differences: Vec<DifferenceRow<'_>> = diff
        .aggregates
        .iter()
        .flat_map(|a| {
            a.diff.examples.iter().map(|e| DifferenceRow {
                aggregate: &a.diff.name,
                kind: &e.kind,
                key: &e.key,
                measure: e.measure.as_deref().unwrap_or(""),
                reference: e.reference.as_deref().unwrap_or(""),
                store: e.store.as_deref().unwrap_or(""),
                delta: e.delta.map_or_else(String::new, |d| format!("{d:+}")),
            })
        })
        .collect();
    if !differences.is_empty() {
        let mut table = Table::new(differences);
        table.with(Style::rounded());
        let _ = writeln!(out, "first differences:\n{table}");
    }
}

fn render_promotion(out: &mut String, p: &crate::promote::PromotionReport) {
    let status = serde_json::to_value(p.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let batch = p
        .batch_id
        .map_or_else(String::new, |b| format!(" (batch {b})"));
    let _ = writeln!(
        out,
        "\npromotion: {status}{batch}, on_existing = {}",
        p.on_existing.as_str()
    );
    let a = p.applied;
    if a.new_movies + a.updated_movies + a.skipped_movies > 0 {
        let _ = writeln!(
            out,
            "applied: {} new, {} updated, {} skipped movies",
            a.new_movies, a.updated_movies, a.skipped_movies
        );
    }
    if !p.reconciliation.is_empty() {
        let agreeing = p.reconciliation.iter().filter(|r| r.diff.agrees()).count();
        let _ = writeln!(
            out,
            "running totals reconcile with production queries: {agreeing} of {} aggregates",
            p.reconciliation.len()
        );
    }
}

#[derive(Tabled)]
struct HistoryRow<'a> {
    batch: i64,
    date: &'a str,
    file: &'a str,
    #[tabled(rename = "in")]
    rows_in: u64,
    accepted: u64,
    quarantined: u64,
    #[tabled(rename = "quarantined %")]
    quarantined_share: String,
    #[tabled(rename = "new / updated")]
    applied: String,
    verdict: &'a str,
    status: &'a str,
    #[tabled(rename = "slowest query")]
    slowest: String,
}

/// Renders the ledger: batches over time, movies in versus movies out.
pub fn render_history(store: &str, batches: &[crate::store::BatchEntry]) -> String {
    let rows: Vec<HistoryRow<'_>> = batches
        .iter()
        .map(|b| {
            let timings: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&b.query_timings).unwrap_or_default();
            let slowest = timings
                .iter()
                .filter_map(|(name, ms)| Some((name, ms.as_f64()?)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or_else(String::new, |(name, ms)| format!("{name} {ms:.1} ms"));
            HistoryRow {
                batch: b.batch_id,
                date: b.started_at.get(..19).unwrap_or(&b.started_at),
                file: &b.file,
                rows_in: b.rows_in,
                accepted: b.accepted,
                quarantined: b.quarantined,
                quarantined_share: share(b.quarantined, b.rows_in),
                applied: format!("{} / {}", b.new_movies, b.updated_movies),
                verdict: &b.verdict,
                status: &b.status,
                slowest,
            }
        })
        .collect();
    let mut out = format!("batches in {store}: {}\n", batches.len());
    if !rows.is_empty() {
        let mut table = Table::new(rows);
        table
            .with(Style::rounded())
            .with(Modify::new(Columns::new(3..7)).with(Alignment::right()));
        let _ = writeln!(out, "{table}");
    }
    out
}

#[derive(Tabled)]
struct RuleRow<'a> {
    rule: &'a str,
    column: &'a str,
    kind: &'static str,
    severity: &'static str,
    #[tabled(rename = "checks")]
    detail: &'a str,
}

#[derive(Tabled)]
struct AggregateSpecRow {
    aggregate: String,
    #[tabled(rename = "key")]
    key: String,
    #[tabled(rename = "values")]
    values: String,
    query: String,
}

/// Renders a compiled rule set: file rules, every rule, and the aggregates.
pub fn render_rules(rules: &crate::rules::RuleSet) -> String {
    let mut out = format!(
        "{}: {} columns, {} rules, {} aggregates\n",
        rules.path.display(),
        rules.columns.len(),
        rules.catalog.len(),
        rules.aggregates.len()
    );
    let f = &rules.file;
    let _ = writeln!(
        out,
        "file: delimiter {:?}, required columns {}, unexpected columns {}, min rows {}, max quarantined {}",
        f.delimiter as char,
        f.required_columns.len(),
        match f.unexpected_columns {
            crate::rules::UnexpectedColumns::Report => "report",
            crate::rules::UnexpectedColumns::Fail => "fail",
        },
        f.min_rows,
        f.max_quarantined_fraction
            .map_or("none".into(), |x| format!("{:.2}%", x * 100.0))
    );
    let rows: Vec<RuleRow<'_>> = rules
        .catalog
        .iter()
        .map(|r| RuleRow {
            rule: &r.name,
            column: r.column.as_deref().unwrap_or(""),
            kind: r.kind.as_str(),
            severity: r.severity.as_str(),
            detail: &r.detail,
        })
        .collect();
    let mut table = Table::new(rows);
    table
        .with(Style::rounded())
        .with(Modify::new(Columns::one(4)).with(Width::wrap(EXAMPLES_WIDTH).keep_words(true)));
    let _ = writeln!(out, "{table}");
    if !rules.aggregates.is_empty() {
        let rows: Vec<AggregateSpecRow> = rules
            .aggregates
            .iter()
            .map(|a| AggregateSpecRow {
                aggregate: match a.parent {
                    Some(p) => format!("{} (from {})", a.name, rules.aggregates[p].name),
                    None => a.name.clone(),
                },
                key: a
                    .dimensions
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                values: a
                    .labels
                    .iter()
                    .map(|l| l.name.as_str())
                    .chain(a.measures.iter().map(|m| m.name.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
                query: a
                    .query_path
                    .as_ref()
                    .map_or_else(String::new, |p| p.display().to_string()),
            })
            .collect();
        let mut table = Table::new(rows);
        table
            .with(Style::rounded())
            .with(Modify::new(Columns::one(2)).with(Width::wrap(40).keep_words(true)));
        let _ = writeln!(out, "{table}");
    }
    out
}

fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.2}%", part as f64 * 100.0 / whole as f64)
    }
}

/// Renders the report for a terminal.
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dqgate {} · {} ({} bytes, sha256 {})",
        report.tool.version,
        report.file,
        report.bytes,
        &report.sha256[..report.sha256.len().min(12)]
    );
    let _ = writeln!(out, "rules: {}", report.rules_file.path);

    let rows = report.rows;
    let summary = [
        SummaryRow {
            what: "in",
            count: rows.rows_in,
            share: share(rows.rows_in, rows.rows_in),
        },
        SummaryRow {
            what: "accepted",
            count: rows.accepted,
            share: share(rows.accepted, rows.rows_in),
        },
        SummaryRow {
            what: "quarantined",
            count: rows.quarantined,
            share: share(rows.quarantined, rows.rows_in),
        },
        SummaryRow {
            what: "warned (accepted)",
            count: rows.warned,
            share: share(rows.warned, rows.rows_in),
        },
    ];
    let mut table = Table::new(summary);
    table
        .with(Style::rounded())
        .with(Modify::new(Columns::new(1..)).with(Alignment::right()));
    let _ = writeln!(out, "{table}");
    let balanced = rows.rows_in == rows.accepted + rows.quarantined;
    let _ = writeln!(
        out,
        "accounting: {} in = {} accepted + {} quarantined {}",
        rows.rows_in,
        rows.accepted,
        rows.quarantined,
        if balanced {
            "✓"
        } else {
            "✗ DOES NOT BALANCE"
        }
    );
    if report.blank_lines.skipped > 0 {
        let lines: Vec<String> = report
            .blank_lines
            .lines
            .iter()
            .map(u64::to_string)
            .collect();
        let _ = writeln!(
            out,
            "blank lines skipped (no record): {} (lines {}{})",
            report.blank_lines.skipped,
            lines.join(", "),
            if report.blank_lines.skipped as usize > lines.len() {
                ", …"
            } else {
                ""
            }
        );
    }

    let header = &report.header;
    for (label, list) in [
        ("missing columns", &header.missing),
        ("repeated columns", &header.duplicates),
        ("columns without rules", &header.unexpected),
        ("declared columns absent, not checked", &header.not_checked),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "{label}: {}", list.join(", "));
        }
    }
    for hint in &header.hints {
        let _ = writeln!(out, "hint: {hint}");
    }

    let failures: Vec<FailureRow<'_>> = report
        .failed_rules()
        .map(|r| FailureRow {
            rule: &r.name,
            severity: &r.severity,
            failed: r.failed,
            examples: r
                .examples
                .iter()
                .map(|e| {
                    if e.value.is_empty() || e.reason.contains(&e.value) {
                        format!("{}: {}", e.line, e.reason)
                    } else {
                        format!("{}: {} — {}", e.line, e.value, e.reason)
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
        })
        .collect();
    let passed = report.rules.len() - failures.len();
    if failures.is_empty() {
        let _ = writeln!(out, "\nrules: all {} passed", report.rules.len());
    } else {
        let mut table = Table::new(failures);
        table
            .with(Style::rounded())
            .with(Modify::new(Columns::one(2)).with(Alignment::right()))
            .with(Modify::new(Columns::one(3)).with(Width::wrap(EXAMPLES_WIDTH).keep_words(true)));
        let _ = writeln!(
            out,
            "\nrules that failed ({passed} of {} passed):",
            report.rules.len()
        );
        let _ = writeln!(out, "{table}");
    }

    if !report.file_rules.is_empty() {
        let rows: Vec<FileRuleRow<'_>> = report
            .file_rules
            .iter()
            .map(|f| FileRuleRow {
                name: &f.name,
                limit: &f.limit,
                actual: &f.actual,
                result: if f.passed { "pass" } else { "FAIL" },
            })
            .collect();
        let mut table = Table::new(rows);
        table.with(Style::rounded());
        let _ = writeln!(out, "\n{table}");
    }

    if let Some(diff) = &report.diff {
        render_diff(&mut out, diff);
    }
    if let Some(promotion) = &report.promotion {
        render_promotion(&mut out, promotion);
    }

    match report.verdict {
        Verdict::Pass => {
            let _ = writeln!(out, "\nverdict: PASS");
        }
        Verdict::Fail => {
            let _ = writeln!(out, "\nverdict: FAIL");
            for reason in &report.reasons {
                let _ = writeln!(out, "  - {reason}");
            }
        }
    }
    let _ = writeln!(out, "quarantine: {}", report.outputs.quarantine);
    if let Some(accepted) = &report.outputs.accepted {
        let _ = writeln!(out, "accepted: {accepted}");
    }
    let _ = writeln!(out, "report: {}", report.outputs.report);
    out
}
