//! What a report says, independent of where it is shown: headings, lines
//! and tables, in order. The terminal and Markdown renderers lay these
//! blocks out; neither decides what goes in a report.

use super::{DiffReport, PromotionReport, Report, Verdict};
use crate::text::printable;

/// Widest cell of the examples column on a terminal, in characters.
pub(crate) const EXAMPLES_WIDTH: usize = 72;

/// One piece of a report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// A line that introduces a part of the report.
    Heading(String),
    /// A line of text.
    Line(String),
    /// An empty line.
    Gap,
    /// A table.
    Table(TableBlock),
}

/// A table: a header row, rows of cells (a cell may hold several lines),
/// the columns aligned right, and a column wrapped on terminals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableBlock {
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
    pub(crate) right: Vec<usize>,
    pub(crate) wrap: Option<(usize, usize)>,
}

fn table(
    header: &[&str],
    rows: Vec<Vec<String>>,
    right: Vec<usize>,
    wrap: Option<(usize, usize)>,
) -> Block {
    Block::Table(TableBlock {
        header: header.iter().map(|h| (*h).to_owned()).collect(),
        rows,
        right,
        wrap,
    })
}

/// A share of a whole as a percentage, or `-` for an empty whole.
pub(crate) fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.2}%", part as f64 * 100.0 / whole as f64)
    }
}

/// The blocks of a report, in order, every text from outside (file and
/// rule names, keys, values) made printable: no control character, newline
/// or invisible formatting character reaches a renderer, except the line
/// breaks that separate the lines of a table cell.
pub(crate) fn layout(report: &Report) -> Vec<Block> {
    let lines = |text: &str| {
        text.split('\n')
            .map(printable)
            .collect::<Vec<_>>()
            .join("\n")
    };
    blocks(report)
        .into_iter()
        .map(|block| match block {
            Block::Heading(text) => Block::Heading(printable(&text)),
            Block::Line(text) => Block::Line(printable(&text)),
            Block::Gap => Block::Gap,
            Block::Table(mut t) => {
                for cell in t.header.iter_mut().chain(t.rows.iter_mut().flatten()) {
                    *cell = lines(cell);
                }
                Block::Table(t)
            }
        })
        .collect()
}

fn blocks(report: &Report) -> Vec<Block> {
    let mut out = vec![
        Block::Heading(format!(
            "dqgate {} · {} ({} bytes, blake3 {})",
            report.tool.version,
            report.file,
            report.bytes,
            &report.blake3[..report.blake3.len().min(12)]
        )),
        Block::Line(format!("rules: {}", report.rules_file.path)),
    ];
    let rows = report.rows;
    let count = |what: &str, n: u64| vec![what.to_owned(), n.to_string(), share(n, rows.rows_in)];
    out.push(table(
        &["rows", "count", "share"],
        vec![
            count("in", rows.rows_in),
            count("accepted", rows.accepted),
            count("quarantined", rows.quarantined),
            count("warned (accepted)", rows.warned),
        ],
        vec![1, 2],
        None,
    ));
    let balanced = rows.rows_in == rows.accepted + rows.quarantined;
    out.push(Block::Line(format!(
        "accounting: {} in = {} accepted + {} quarantined {}",
        rows.rows_in,
        rows.accepted,
        rows.quarantined,
        if balanced {
            "✓"
        } else {
            "✗ DOES NOT BALANCE"
        }
    )));
    if report.blank_lines.skipped > 0 {
        let lines: Vec<String> = report
            .blank_lines
            .lines
            .iter()
            .map(u64::to_string)
            .collect();
        out.push(Block::Line(format!(
            "blank lines skipped (no record): {} (lines {}{})",
            report.blank_lines.skipped,
            lines.join(", "),
            if report.blank_lines.skipped as usize > lines.len() {
                ", …"
            } else {
                ""
            }
        )));
    }
    let header = &report.header;
    for (label, list) in [
        ("missing columns", &header.missing),
        ("repeated columns", &header.duplicates),
        ("columns without rules", &header.unexpected),
        ("declared columns absent, not checked", &header.not_checked),
    ] {
        if !list.is_empty() {
            out.push(Block::Line(format!("{label}: {}", list.join(", "))));
        }
    }
    out.extend(
        header
            .hints
            .iter()
            .map(|h| Block::Line(format!("hint: {h}"))),
    );

    let failures: Vec<Vec<String>> = report
        .failed_rules()
        .map(|r| {
            let examples = r
                .examples
                .iter()
                .map(|e| {
                    // One line per example: its own line breaks are escaped.
                    printable(&if e.value.is_empty() || e.reason.contains(&e.value) {
                        format!("{}: {}", e.line, e.reason)
                    } else {
                        format!("{}: {} — {}", e.line, e.value, e.reason)
                    })
                })
                .collect::<Vec<_>>()
                .join("\n");
            vec![
                r.name.clone(),
                r.severity.clone(),
                r.failed.to_string(),
                examples,
            ]
        })
        .collect();
    out.push(Block::Gap);
    if failures.is_empty() {
        out.push(Block::Heading(format!(
            "rules: all {} passed",
            report.rules.len()
        )));
    } else {
        out.push(Block::Heading(format!(
            "rules that failed ({} of {} passed):",
            report.rules.len() - failures.len(),
            report.rules.len()
        )));
        out.push(table(
            &[
                "rule",
                "severity",
                "failed",
                "first failures (line: reason)",
            ],
            failures,
            vec![2],
            Some((3, EXAMPLES_WIDTH)),
        ));
    }

    if !report.file_rules.is_empty() {
        out.push(Block::Gap);
        out.push(table(
            &["file rule", "limit", "actual", "result"],
            report
                .file_rules
                .iter()
                .map(|f| {
                    let result = if f.passed { "pass" } else { "FAIL" };
                    vec![
                        f.name.clone(),
                        f.limit.clone(),
                        f.actual.clone(),
                        result.to_owned(),
                    ]
                })
                .collect(),
            vec![],
            None,
        ));
    }
    if let Some(diff) = &report.diff {
        diff_blocks(&mut out, diff);
    }
    if let Some(promotion) = &report.promotion {
        promotion_blocks(&mut out, promotion);
    }

    out.push(Block::Gap);
    match report.verdict {
        Verdict::Pass => out.push(Block::Heading("verdict: PASS".into())),
        Verdict::Fail => {
            out.push(Block::Heading("verdict: FAIL".into()));
            out.extend(
                report
                    .reasons
                    .iter()
                    .map(|r| Block::Line(format!("  - {r}"))),
            );
        }
    }
    out.push(Block::Line(format!(
        "quarantine: {}",
        report.outputs.quarantine
    )));
    if let Some(accepted) = &report.outputs.accepted {
        out.push(Block::Line(format!("accepted: {accepted}")));
    }
    out.push(Block::Line(format!("report: {}", report.outputs.report)));
    out
}

fn diff_blocks(out: &mut Vec<Block>, diff: &DiffReport) {
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
    out.push(Block::Gap);
    out.push(Block::Heading(format!(
        "reference vs store ({}): {chosen}, {} of {} compared",
        diff.store, subset.rows, subset.accepted
    )));
    if let Some(why) = &diff.not_compared {
        out.push(Block::Line(format!(
            "no reference figures were compared: {why}"
        )));
    }
    if let Some(staged) = &diff.staged {
        let tables: Vec<String> = staged
            .iter()
            .map(|t| format!("{} {}", t.table, t.rows))
            .collect();
        out.push(Block::Line(format!("staged rows: {}", tables.join(", "))));
    }
    for c in &diff.key_conflicts {
        out.push(Block::Line(format!(
            "key conflict: {} {} has {} {:?}, but line {} gives {:?} (the first is kept)",
            c.table, c.key, c.column, c.kept, c.line, c.other
        )));
    }
    out.push(table(
        &[
            "aggregate",
            "reference keys",
            "store keys",
            "missing",
            "extra",
            "duplicate",
            "mismatched",
            "result",
        ],
        diff.aggregates
            .iter()
            .map(|a| {
                let d = &a.diff;
                let result = if d.agrees() { "agree" } else { "DIFFER" };
                vec![
                    d.name.clone(),
                    d.keys_reference.to_string(),
                    d.keys_store.to_string(),
                    d.missing.to_string(),
                    d.extra.to_string(),
                    d.duplicate.to_string(),
                    d.mismatched.to_string(),
                    result.to_owned(),
                ]
            })
            .collect(),
        (1..7).collect(),
        None,
    ));
    for a in &diff.aggregates {
        if let Some(error) = &a.diff.error {
            out.push(Block::Line(format!("{}: {error}", a.diff.name)));
        }
    }
    let differences: Vec<Vec<String>> = diff
        .aggregates
        .iter()
        .flat_map(|a| {
            a.diff.examples.iter().map(|e| {
                // Keys and values may come from another engine's export:
                // each cell is one line.
                [
                    a.diff.name.clone(),
                    e.kind.clone(),
                    e.key.clone(),
                    e.measure.clone().unwrap_or_default(),
                    e.reference.clone().unwrap_or_default(),
                    e.store.clone().unwrap_or_default(),
                    e.delta.map_or_else(String::new, |d| format!("{d:+}")),
                ]
                .iter()
                .map(|cell| printable(cell))
                .collect::<Vec<_>>()
            })
        })
        .collect();
    if !differences.is_empty() {
        out.push(Block::Heading("first differences:".into()));
        out.push(table(
            &[
                "aggregate",
                "kind",
                "key",
                "measure",
                "reference",
                "store",
                "delta",
            ],
            differences,
            vec![],
            None,
        ));
    }
}

fn promotion_blocks(out: &mut Vec<Block>, p: &PromotionReport) {
    let status = serde_json::to_value(p.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let batch = p
        .batch_id
        .map_or_else(String::new, |b| format!(" (batch {b})"));
    out.push(Block::Gap);
    out.push(Block::Heading(format!(
        "promotion: {status}{batch}, on_existing = {}",
        p.on_existing.as_str()
    )));
    let a = p.applied;
    if a.new_records + a.updated_records + a.skipped_records > 0 {
        out.push(Block::Line(format!(
            "applied: {} new, {} updated, {} skipped records",
            a.new_records, a.updated_records, a.skipped_records
        )));
    }
    if !p.reconciliation.is_empty() {
        let agreeing = p.reconciliation.iter().filter(|r| r.diff.agrees()).count();
        out.push(Block::Line(format!(
            "running totals reconcile with production queries: {agreeing} of {} aggregates",
            p.reconciliation.len()
        )));
    }
}
