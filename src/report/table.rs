//! The terminal view: reports (laid out by [`layout`](super::layout)) as
//! boxed tables, the ledger, and compiled rule sets.

use std::fmt::Write as _;

use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Modify, Style, Width};
use tabled::{Table, Tabled};

use super::Report;
use super::layout::{Block, EXAMPLES_WIDTH, layout, share};

/// Renders a report for a terminal.
pub(crate) fn render_table(report: &Report) -> String {
    let mut out = String::new();
    for block in layout(report) {
        match block {
            Block::Heading(text) | Block::Line(text) => {
                let _ = writeln!(out, "{text}");
            }
            Block::Gap => out.push('\n'),
            Block::Table(t) => {
                let mut builder = tabled::builder::Builder::default();
                builder.push_record(t.header);
                for mut row in t.rows {
                    // Each line of the cell (one example) is wrapped on its
                    // own, its continuation indented, so an example never
                    // starts in the middle of a line.
                    if let Some((column, width)) = t.wrap
                        && let Some(cell) = row.get_mut(column)
                    {
                        *cell = wrap_lines(cell, width);
                    }
                    builder.push_record(row);
                }
                let mut table = builder.build();
                table.with(Style::rounded());
                for column in t.right {
                    table.with(Modify::new(Columns::one(column)).with(Alignment::right()));
                }
                let _ = writeln!(out, "{table}");
            }
        }
    }
    out
}

/// Each line of `text` wrapped at word boundaries to `width` characters
/// (a longer word is cut), its continuation lines indented by two spaces.
fn wrap_lines(text: &str, width: usize) -> String {
    const INDENT: &str = "  ";
    let width = width.max(8);
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut current = String::new();
        // Characters on the current line, and whether it holds a word yet.
        let (mut len, mut has_word) = (0, false);
        for word in line.split(' ') {
            let mut rest = word;
            loop {
                let needed = rest.chars().count() + usize::from(has_word);
                if len + needed <= width {
                    if has_word {
                        current.push(' ');
                    }
                    current.push_str(rest);
                    (len, has_word) = (len + needed, true);
                    break;
                }
                if !has_word {
                    // A word longer than a whole line: cut it.
                    let cut = rest
                        .char_indices()
                        .nth(width - len)
                        .map_or(rest.len(), |(i, _)| i);
                    current.push_str(&rest[..cut]);
                    rest = &rest[cut..];
                }
                out.push(std::mem::replace(&mut current, INDENT.to_owned()));
                (len, has_word) = (INDENT.len(), false);
                if rest.is_empty() {
                    break;
                }
            }
        }
        out.push(current);
    }
    out.join("\n")
}

#[derive(Tabled)]
struct HistoryRow<'a> {
    batch: i64,
    #[tabled(rename = "started (UTC)")]
    date: String,
    file: &'a str,
    #[tabled(rename = "in")]
    rows_in: u64,
    accepted: u64,
    quarantined: u64,
    #[tabled(rename = "quarantined %")]
    quarantined_share: String,
    #[tabled(rename = "new / updated / skipped")]
    applied: String,
    verdict: &'a str,
    status: &'a str,
    #[tabled(rename = "slowest query")]
    slowest: String,
}

/// An RFC 3339 time in UTC as the ledger keeps it (`2026-12-03T17:52:01.123Z`)
/// shown to the second (`2026-12-03 17:52:01`); anything else as it is.
fn utc_time(stamp: &str) -> String {
    match stamp.get(..19) {
        Some(second) if stamp.ends_with('Z') => second.replacen('T', " ", 1),
        _ => stamp.to_owned(),
    }
}

/// Renders the ledger: batches over time, records in versus records out.
pub(crate) fn render_history(store: &str, batches: &[super::BatchEntry]) -> String {
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
                date: utc_time(&b.started_at),
                file: &b.file,
                rows_in: b.rows_in,
                accepted: b.accepted,
                quarantined: b.quarantined,
                quarantined_share: share(b.quarantined, b.rows_in),
                applied: format!(
                    "{} / {} / {}",
                    b.new_records, b.updated_records, b.skipped_records
                ),
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
pub(crate) fn render_rules(rules: &crate::rules::RuleSet) -> String {
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

#[cfg(test)]
mod wrap_tests {
    use super::wrap_lines;

    #[test]
    fn each_line_wraps_on_its_own_with_an_indented_continuation() {
        let text = "2: one two three four five six\n3: short";
        assert_eq!(
            wrap_lines(text, 12),
            "2: one two\n  three four\n  five six\n3: short"
        );
        assert_eq!(
            wrap_lines("abcdefghijklmnop", 8),
            "abcdefgh\n  ijklmn\n  op"
        );
    }
}
