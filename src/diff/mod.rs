//! Compares a reference aggregate with the store's output, key by key and
//! measure by measure: keys missing from the store, keys in excess,
//! duplicate keys, and values outside tolerance.

use crate::report::{AggregateDiff, DiffExample};

pub(crate) mod command;

use std::collections::HashMap;

use crate::fields::cell::Cell;
use crate::reference::AggregateResult;
use crate::rules::aggregate::{Aggregate, Tolerance};

/// The store's side of one aggregate: named columns and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreRows {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<Cell>>,
}

/// True when two cells agree within the tolerance.
pub fn within(reference: &Cell, store: &Cell, tolerance: Tolerance) -> bool {
    match (reference.as_f64(), store.as_f64()) {
        (Some(a), Some(b)) => {
            let d = (a - b).abs();
            d <= tolerance.abs || d <= tolerance.rel * a.abs().max(b.abs())
        }
        _ => reference == store,
    }
}

/// Compares the reference result of `aggregate` with the store's rows.
pub fn diff(
    aggregate: &Aggregate,
    reference: &AggregateResult,
    store: &StoreRows,
    max_examples: usize,
) -> AggregateDiff {
    let mut out = AggregateDiff::new(&aggregate.name, reference.rows.len() as u64);
    // Map every reference column to the store's column of the same name.
    let mut positions = Vec::with_capacity(reference.columns.len());
    let mut absent = Vec::new();
    for name in &reference.columns {
        match store
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
        {
            Some(i) => positions.push(i),
            None => absent.push(name.as_str()),
        }
    }
    if !absent.is_empty() {
        out.error = Some(format!(
            "the store's output lacks column{} {} (it has {})",
            if absent.len() == 1 { "" } else { "s" },
            absent.join(", "),
            store.columns.join(", ")
        ));
        return out;
    }
    let key_len = reference.key_len;
    // Looked up once per reference key: a hash map keeps the diff linear in
    // the rows (the reference side stays ordered, so examples are stable).
    let mut store_rows: HashMap<Vec<Cell>, Vec<Cell>, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(store.rows.len(), Default::default());
    let example = |out: &mut AggregateDiff, e: DiffExample| {
        if out.examples.len() < max_examples {
            out.examples.push(e);
        }
    };
    for row in &store.rows {
        let key: Vec<Cell> = positions[..key_len]
            .iter()
            .map(|&i| row[i].clone().normalized())
            .collect();
        let values: Vec<Cell> = positions[key_len..]
            .iter()
            .map(|&i| row[i].clone())
            .collect();
        match store_rows.entry(key) {
            std::collections::hash_map::Entry::Occupied(taken) => {
                out.duplicate += 1;
                let key_text = show_key(&reference.columns, taken.key());
                example(
                    &mut out,
                    DiffExample {
                        kind: "duplicate".into(),
                        key: key_text,
                        measure: None,
                        reference: None,
                        store: None,
                        delta: None,
                    },
                );
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(values);
            }
        }
    }
    out.keys_store = store_rows.len() as u64;

    let tolerances: Vec<Tolerance> = aggregate
        .labels
        .iter()
        .map(|_| Tolerance { abs: 0.0, rel: 0.0 })
        .chain(aggregate.measures.iter().map(|m| m.tolerance))
        .collect();
    for (key, expected) in &reference.rows {
        // Matched keys leave the map: what stays is the store's extra keys.
        let Some(actual) = store_rows.remove(key) else {
            out.missing += 1;
            let key_text = show_key(&reference.columns, key);
            example(
                &mut out,
                DiffExample {
                    kind: "missing".into(),
                    key: key_text,
                    measure: None,
                    reference: None,
                    store: None,
                    delta: None,
                },
            );
            continue;
        };
        let mut differs = false;
        for (i, (want, got)) in expected.iter().zip(&actual).enumerate() {
            if within(want, got, tolerances[i]) {
                continue;
            }
            differs = true;
            out.mismatched_values += 1;
            let delta = match (want.as_f64(), got.as_f64()) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            };
            let key_text = show_key(&reference.columns, key);
            example(
                &mut out,
                DiffExample {
                    kind: "mismatch".into(),
                    key: key_text,
                    measure: Some(reference.columns[key_len + i].clone()),
                    reference: Some(want.to_string()),
                    store: Some(got.to_string()),
                    delta,
                },
            );
        }
        if differs {
            out.mismatched += 1;
        }
    }
    let mut extra: Vec<Vec<Cell>> = store_rows.into_keys().collect();
    extra.sort();
    out.extra = extra.len() as u64;
    for key in &extra {
        let key_text = show_key(&reference.columns, key);
        example(
            &mut out,
            DiffExample {
                kind: "extra".into(),
                key: key_text,
                measure: None,
                reference: None,
                store: None,
                delta: None,
            },
        );
    }
    out
}

fn show_key(columns: &[String], key: &[Cell]) -> String {
    columns
        .iter()
        .zip(key)
        .map(|(c, v)| format!("{c}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads `DIR/<aggregate>.csv` exported from an engine dqgate cannot reach.
pub fn read_exported(path: &std::path::Path) -> Result<StoreRows, csv::Error> {
    let mut reader = csv::ReaderBuilder::new().from_path(path)?;
    let columns = reader.headers()?.iter().map(str::to_owned).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        rows.push(record?.iter().map(Cell::parse).collect());
    }
    Ok(StoreRows { columns, rows })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::rules::RuleSet;

    fn aggregate() -> Aggregate {
        let rules = RuleSet::from_source(
            Path::new("t.toml"),
            r#"
[columns.year]
type = "integer"
[columns.popularity]
type = "number"
[[aggregates]]
name = "per_year"
dimensions = [{ name = "year", column = "year" }]
measures = [
  { name = "releases", agg = "count" },
  { name = "avg_popularity", agg = "avg", expr = "popularity", abs_tolerance = 0.01 },
]
"#,
        )
        .unwrap();
        rules.aggregates[0].clone()
    }

    fn reference() -> AggregateResult {
        let mut rows = std::collections::BTreeMap::new();
        rows.insert(vec![Cell::Int(2000)], vec![Cell::Int(2), Cell::Num(1.5)]);
        rows.insert(vec![Cell::Int(2001)], vec![Cell::Int(1), Cell::Num(4.0)]);
        rows.insert(vec![Cell::Int(2002)], vec![Cell::Int(5), Cell::Num(2.0)]);
        AggregateResult {
            name: "per_year".into(),
            columns: vec!["year".into(), "releases".into(), "avg_popularity".into()],
            key_len: 1,
            rows,
        }
    }

    fn store(rows: Vec<Vec<Cell>>) -> StoreRows {
        StoreRows {
            columns: vec!["AVG_POPULARITY".into(), "year".into(), "releases".into()],
            rows,
        }
    }

    #[test]
    fn agrees_within_tolerance_whatever_the_column_order_and_number_type() {
        let d = diff(
            &aggregate(),
            &reference(),
            &store(vec![
                vec![Cell::Num(1.505), Cell::Num(2000.0), Cell::Int(2)],
                vec![Cell::Num(4.0), Cell::Int(2001), Cell::Int(1)],
                vec![Cell::Num(2.0), Cell::Int(2002), Cell::Num(5.0)],
            ]),
            10,
        );
        assert!(d.agrees(), "{d:#?}");
        assert_eq!((d.keys_reference, d.keys_store), (3, 3));
    }

    #[test]
    fn names_missing_extra_duplicate_and_mismatched_keys() {
        let d = diff(
            &aggregate(),
            &reference(),
            &store(vec![
                vec![Cell::Num(1.6), Cell::Int(2000), Cell::Int(3)],
                vec![Cell::Num(4.0), Cell::Int(2001), Cell::Int(1)],
                vec![Cell::Num(4.0), Cell::Int(2001), Cell::Int(1)],
                vec![Cell::Num(9.0), Cell::Int(1999), Cell::Int(1)],
            ]),
            10,
        );
        assert!(!d.agrees());
        assert_eq!(
            (
                d.missing,
                d.extra,
                d.duplicate,
                d.mismatched,
                d.mismatched_values
            ),
            (1, 1, 1, 1, 2)
        );
        let shown: Vec<(&str, &str, Option<&str>)> = d
            .examples
            .iter()
            .map(|e| (e.kind.as_str(), e.key.as_str(), e.measure.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("duplicate", "year=2001", None),
                ("mismatch", "year=2000", Some("releases")),
                ("mismatch", "year=2000", Some("avg_popularity")),
                ("missing", "year=2002", None),
                ("extra", "year=1999", None),
            ]
        );
        assert_eq!(d.examples[1].delta, Some(1.0));
    }

    #[test]
    fn a_missing_output_column_is_an_error_not_a_pass() {
        let d = diff(
            &aggregate(),
            &reference(),
            &StoreRows {
                columns: vec!["year".into(), "releases".into()],
                rows: vec![],
            },
            10,
        );
        assert!(!d.agrees());
        assert_eq!(
            d.error.as_deref(),
            Some("the store's output lacks column avg_popularity (it has year, releases)")
        );
    }

    #[test]
    fn integers_are_exact_and_floats_relative_by_default() {
        let exact = Tolerance { abs: 0.0, rel: 0.0 };
        assert!(within(&Cell::Int(10), &Cell::Num(10.0), exact));
        assert!(!within(&Cell::Int(10), &Cell::Int(11), exact));
        let float = Tolerance {
            abs: 1e-9,
            rel: 1e-9,
        };
        assert!(within(
            &Cell::Num(8.750_879_230_769_2),
            &Cell::Num(8.750_879_230_769_3),
            float
        ));
        assert!(!within(&Cell::Num(8.75), &Cell::Num(8.76), float));
        assert!(within(&Cell::Null, &Cell::Null, float));
        assert!(!within(&Cell::Null, &Cell::Int(0), float));
        assert!(!within(
            &Cell::Text("A".into()),
            &Cell::Text("B".into()),
            exact
        ));
    }
}
