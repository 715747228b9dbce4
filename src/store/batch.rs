//! Accepted records normalized into the model's tables, ready for staging.
//!
//! This mapping is deliberately separate from the reference engine: the
//! reference reads the CSV columns through the rule file's aggregates, the
//! store answers through SQL over these tables, and the diff compares them.

use std::collections::{HashMap, HashSet};

use crate::check::header::HeaderBinding;
use crate::check::row::typed_value;
use crate::fields::cell::Cell;
use crate::fields::literal::{self, Literal};
use crate::fields::value::Value;
pub use crate::report::KeyConflict;
use crate::rules::RuleSet;
use crate::rules::model::{ColumnSource, Model, Table};

/// The rows of one model table.
#[derive(Debug, Clone, Default)]
pub struct TableRows {
    /// Rows in first-seen order, one cell per model column.
    pub rows: Vec<Vec<Cell>>,
    /// Key to row, for a shared table.
    index: HashMap<Vec<Cell>, usize>,
}

/// The original record behind one stored record, for lineage and for
/// replaying it out of the running totals when it is replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// The record key as text (see [`Cell::key_text`]).
    pub key: String,
    /// The record key's cells.
    pub key_cells: Vec<Cell>,
    /// Line of the record in its file.
    pub line: u64,
    /// The record's bytes as read.
    pub record: Vec<u8>,
}

/// Two accepted records with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The key as text.
    pub key: String,
    /// Line of the first record.
    pub first_line: u64,
    /// Line of the second.
    pub line: u64,
}

/// The rows of one batch, normalized.
#[derive(Debug, Clone, Default)]
pub struct ModelBatch {
    /// Rows per model table, in the model's order.
    pub tables: Vec<TableRows>,
    /// Keys of shared tables seen with other values (the first are kept).
    pub conflicts: Vec<KeyConflict>,
    /// Original records, when a promotion needs them.
    pub sources: Vec<SourceRecord>,
    /// The first key found twice, if any: such a batch cannot be staged.
    pub duplicate: Option<DuplicateKey>,
    lines: HashMap<String, u64>,
}

impl ModelBatch {
    /// An empty batch for `model`.
    pub fn new(model: &Model) -> Self {
        ModelBatch {
            tables: vec![TableRows::default(); model.tables.len()],
            ..ModelBatch::default()
        }
    }

    /// Adds one accepted record: `fields` holds the text of each declared
    /// column (`None` when absent or null), `values` their typed values.
    /// Returns the record key as text (see [`Cell::key_text`]) and its cells.
    pub fn add(
        &mut self,
        model: &Model,
        line: u64,
        fields: &[Option<&str>],
        values: &[Value<'_>],
    ) -> (String, Vec<Cell>) {
        let key_cells: Vec<Cell> = model
            .record_key
            .iter()
            .map(|&c| Cell::from_value(&values[c]))
            .collect();
        let key = Cell::key_text(&key_cells);
        if let Some(&first_line) = self.lines.get(&key) {
            if self.duplicate.is_none() {
                self.duplicate = Some(DuplicateKey {
                    key: key.clone(),
                    first_line,
                    line,
                });
            }
            return (key, key_cells);
        }
        self.lines.insert(key.clone(), line);
        for (table, rows) in model.tables.iter().zip(&mut self.tables) {
            match table.explode {
                None => {
                    let row = table
                        .columns
                        .iter()
                        .map(|c| record_cell(&c.source, values))
                        .collect();
                    add_row(
                        table,
                        rows,
                        row,
                        &mut HashSet::new(),
                        line,
                        &mut self.conflicts,
                    );
                }
                Some(list) => {
                    let Some(Ok(Literal::List(elements))) = fields[list].map(literal::parse) else {
                        continue;
                    };
                    let mut in_record = HashSet::new();
                    for element in &elements {
                        let row: Vec<Cell> = table
                            .columns
                            .iter()
                            .map(|c| match &c.source {
                                ColumnSource::Field(f) => {
                                    element.get(f).map_or(Cell::Null, Cell::from_literal)
                                }
                                other => record_cell(other, values),
                            })
                            .collect();
                        add_row(table, rows, row, &mut in_record, line, &mut self.conflicts);
                    }
                }
            }
        }
        (key, key_cells)
    }
}

/// Adds a row unless its key is incomplete or already there: once per
/// record for a table that belongs to the record, once per batch for a
/// shared one (where other values under a known key are a conflict).
fn add_row(
    table: &Table,
    rows: &mut TableRows,
    row: Vec<Cell>,
    in_record: &mut HashSet<Vec<Cell>>,
    line: u64,
    conflicts: &mut Vec<KeyConflict>,
) {
    let key: Vec<Cell> = table.key.iter().map(|&k| row[k].clone()).collect();
    if key.iter().any(|c| matches!(c, Cell::Null)) {
        return;
    }
    if !table.is_shared() {
        if in_record.insert(key) {
            rows.rows.push(row);
        }
        return;
    }
    match rows.index.get(&key) {
        None => {
            rows.index.insert(key, rows.rows.len());
            rows.rows.push(row);
        }
        Some(&at) => {
            for (i, column) in table.columns.iter().enumerate() {
                let kept = &rows.rows[at][i];
                if !same(kept, &row[i]) {
                    let conflict = KeyConflict {
                        table: table.name.clone(),
                        key: Cell::key_text(&key),
                        column: column.name.clone(),
                        kept: kept.to_string(),
                        other: row[i].to_string(),
                        line,
                    };
                    if !conflicts.contains(&conflict) {
                        conflicts.push(conflict);
                    }
                }
            }
        }
    }
}

fn same(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        (Cell::Null, Cell::Null) => true,
        (Cell::Null, _) | (_, Cell::Null) => false,
        _ => a == b,
    }
}

/// A cell of a record-level column (a CSV column or an expression).
fn record_cell(source: &ColumnSource, values: &[Value<'_>]) -> Cell {
    match source {
        ColumnSource::Column(c) => Cell::from_value(&values[*c]),
        ColumnSource::Expr(e) => Cell::from_value(&e.eval(values)),
        ColumnSource::Field(_) => Cell::Null,
    }
}

/// Text of every declared column of a record whose field `i` is
/// `field(i)`: `None` when the column is absent, the text is not UTF-8 or
/// it spells a null.
pub fn declared_fields<'a>(
    rules: &RuleSet,
    binding: &HeaderBinding,
    field: impl Fn(usize) -> Option<&'a [u8]>,
) -> Vec<Option<&'a str>> {
    binding
        .field_of
        .iter()
        .map(|f| {
            f.and_then(&field)
                .filter(|b| !rules.file.is_null(b))
                .and_then(|b| std::str::from_utf8(b).ok())
        })
        .collect()
}

/// Typed values of every declared column (null when absent or invalid).
pub fn declared_values<'a>(rules: &RuleSet, fields: &[Option<&'a str>]) -> Vec<Value<'a>> {
    rules
        .columns
        .iter()
        .zip(fields)
        .map(|(column, field)| match field {
            Some(text) => typed_value(&column.parse, text).unwrap_or(Value::Null),
            None => Value::Null,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const RULES: &str = r#"
[file]
null_values = ["NA"]
[columns.id]
type = "integer"
required = true
[columns.released]
type = "date"
[columns.genres]
type = "entity_list"
keys = { id = "integer", name = "string" }

[[tables]]
name = "films"
key = ["id"]
columns = [
  { name = "id", column = "id" },
  { name = "year", expr = "year(released)" },
]
[[tables]]
name = "genres"
explode = "genres"
key = ["id"]
columns = [{ name = "id", field = "id" }, { name = "name", field = "name" }]
[[tables]]
name = "film_genres"
explode = "genres"
key = ["film_id", "genre_id"]
columns = [{ name = "film_id", column = "id" }, { name = "genre_id", field = "id" }]
"#;

    fn batch_of(rows: &[[&str; 3]]) -> ModelBatch {
        let rules = RuleSet::from_source(Path::new("t.toml"), RULES).unwrap();
        let model = rules.model.as_ref().unwrap();
        let mut batch = ModelBatch::new(model);
        for (i, row) in rows.iter().enumerate() {
            let fields: Vec<Option<&str>> = row
                .iter()
                .map(|f| Some(*f).filter(|f| !rules.file.is_null(f.as_bytes())))
                .collect();
            let values = declared_values(&rules, &fields);
            batch.add(model, i as u64 + 2, &fields, &values);
        }
        batch
    }

    #[test]
    fn normalizes_records_into_every_table_and_reports_a_key_with_two_values() {
        let batch = batch_of(&[
            [
                "1",
                "1995-10-30",
                "[{'id': 16, 'name': 'Animation'}, {'id': 16, 'name': 'Animation'}]",
            ],
            [
                "2",
                "NA",
                "[{'id': 16, 'name': 'Animated'}, {'name': 'no id'}]",
            ],
        ]);
        assert_eq!(
            batch.tables[0].rows,
            [
                vec![Cell::Int(1), Cell::Int(1995)],
                vec![Cell::Int(2), Cell::Null]
            ]
        );
        assert_eq!(
            batch.tables[1].rows,
            [vec![Cell::Int(16), Cell::Text("Animation".into())]],
            "a shared key keeps its first values; an element without its key is left out"
        );
        assert_eq!(
            batch.tables[2].rows,
            [
                vec![Cell::Int(1), Cell::Int(16)],
                vec![Cell::Int(2), Cell::Int(16)]
            ],
            "a repeated element links once"
        );
        assert_eq!(
            batch.conflicts,
            [KeyConflict {
                table: "genres".into(),
                key: "[16]".into(),
                column: "name".into(),
                kept: "Animation".into(),
                other: "Animated".into(),
                line: 3,
            }]
        );
        assert_eq!(batch.duplicate, None);
    }

    #[test]
    fn a_key_seen_twice_is_found_whatever_the_engine() {
        let batch = batch_of(&[["7", "", "[]"], ["8", "", "[]"], ["7", "", "[]"]]);
        assert_eq!(
            batch.duplicate,
            Some(DuplicateKey {
                key: "[7]".into(),
                first_line: 2,
                line: 4
            })
        );
        assert_eq!(batch.tables[0].rows.len(), 2);
    }
}
