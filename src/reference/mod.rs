//! The reference engine: the declared aggregates computed with plain
//! HashMaps over accepted rows, independently of any SQL.
//!
//! One map per aggregate, from the group key to mergeable accumulators, so
//! two engines fed disjoint, consecutive parts of a file merge into the
//! engine of the whole. Semantics, which the shipped SQL follows:
//! - a row enters an aggregate when its `where` is true (null excludes);
//! - an exploded list contributes each distinct element key once per row,
//!   and a row with an empty list contributes nothing (an inner join);
//! - a label of an exploded key is the first name seen for that key in the
//!   whole subset (the store keeps one name per id, the first loaded);
//! - `sum` over no passing row is 0; `avg`, `min` and `max` skip nulls.

mod acc;
mod rollup;
pub mod subset;

pub use acc::Acc;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::fields::cell::Cell;
use crate::fields::literal::{self, Literal};
use crate::fields::value::Value;
use crate::rules::RuleSet;
use crate::rules::aggregate::{Aggregate, DimSource, Measure, MeasureInput};
use crate::store::RollupState;

/// One aggregate's output: rows keyed by the dimension cells.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateResult {
    /// The aggregate's name.
    pub name: String,
    /// Column names: dimensions, then labels, then measures.
    pub columns: Vec<String>,
    /// How many leading columns form the key.
    pub key_len: usize,
    /// Key cells to label and measure cells.
    pub rows: BTreeMap<Vec<Cell>, Vec<Cell>>,
}

impl AggregateResult {
    /// The result of `aggregate` with these rows.
    fn new(aggregate: &Aggregate, rows: BTreeMap<Vec<Cell>, Vec<Cell>>) -> Self {
        AggregateResult {
            name: aggregate.name.clone(),
            columns: aggregate
                .column_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            key_len: aggregate.dimensions.len(),
            rows,
        }
    }

    /// The result as CSV text, sorted by key (for snapshots and exports).
    pub fn to_csv(&self) -> String {
        let mut out = self.columns.join(",");
        out.push('\n');
        for (key, values) in &self.rows {
            let cells: Vec<String> = key.iter().chain(values).map(csv_cell).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}

fn csv_cell(cell: &Cell) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Text(s) if s.contains([',', '"', '\n', '\r']) => {
            format!("\"{}\"", s.replace('"', "\"\""))
        }
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Group {
    /// Row contributions; the group vanishes when they drop to zero.
    rows: i64,
    /// First-seen values of labels that are not tied to an exploded key.
    labels: Vec<Option<Cell>>,
    accs: Vec<Acc>,
}

/// Hashes group keys and label keys: fast, and seeded per process, so that
/// keys from a file cannot be chosen to collide.
type Hasher = foldhash::fast::RandomState;

/// The groups of one aggregate, by key.
type Groups = HashMap<Vec<Cell>, Group, Hasher>;

/// The first-seen labels of one list field's key: for `column`'s elements,
/// the `label_field` value first seen with each `key_field` value.
#[derive(Debug, Clone)]
struct LabelDict {
    column: usize,
    key_field: String,
    label_field: String,
    values: HashMap<Cell, Cell, Hasher>,
}

impl LabelDict {
    /// True when this is the dictionary of `column`'s `label_field` by `key_field`.
    fn is(&self, column: usize, key_field: &str, label_field: &str) -> bool {
        self.column == column && self.key_field == key_field && self.label_field == label_field
    }
}

/// The reference engine over a rule set's aggregates.
#[derive(Debug, Clone)]
pub struct Reference<'r> {
    rules: &'r RuleSet,
    groups: Vec<Groups>,
    labels: Vec<LabelDict>,
    rows: u64,
    /// False once a value was subtracted from a `min`, `max` or `argmax`.
    exact: bool,
}

/// One exploded element: its key cell per exploding dimension, and the
/// element itself for labels.
type Element<'a> = Literal<'a>;

impl<'r> Reference<'r> {
    /// An engine with no rows.
    pub fn new(rules: &'r RuleSet) -> Self {
        Reference {
            rules,
            groups: rules.aggregates.iter().map(|_| Groups::default()).collect(),
            labels: Vec::new(),
            rows: 0,
            exact: true,
        }
    }

    /// True unless a row was subtracted from a measure that cannot forget.
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// Rows added so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds one accepted row: its typed values and raw fields, both indexed
    /// like the declared columns (`None` for an absent column).
    pub fn add_row(&mut self, values: &[Value<'_>], fields: &[Option<&str>]) {
        self.rows += 1;
        self.apply(values, fields, true);
    }

    /// Removes a row added earlier (a movie replaced by a later batch).
    pub fn subtract_row(&mut self, values: &[Value<'_>], fields: &[Option<&str>]) {
        self.rows = self.rows.saturating_sub(1);
        self.apply(values, fields, false);
    }

    fn apply(&mut self, values: &[Value<'_>], fields: &[Option<&str>], add: bool) {
        let rules = self.rules;
        // Each exploded list column parsed once per row.
        let mut parsed: Parsed<'_> = Vec::new();
        for aggregate in &rules.aggregates {
            for dim in aggregate.dimensions.iter().chain(&aggregate.labels) {
                if let DimSource::Explode { column, .. } = &dim.source
                    && !parsed.iter().any(|(c, _)| c == column)
                {
                    parsed.push((*column, list_elements(fields[*column])));
                }
            }
        }
        if add {
            // Names are learned from every row, as the store's genres and
            // companies tables are filled from every promoted row.
            for aggregate in &rules.aggregates {
                self.learn_labels(aggregate, &parsed);
            }
        }
        for (index, aggregate) in rules.aggregates.iter().enumerate() {
            if aggregate.parent.is_some() {
                continue;
            }
            if let Some(filter) = &aggregate.filter
                && filter.eval(values) != Value::Bool(true)
            {
                continue;
            }
            let keys = group_keys(aggregate, values, &parsed);
            if keys.is_empty() {
                continue;
            }
            let inputs: Vec<Option<Cell>> = aggregate
                .measures
                .iter()
                .map(|m| measure_input(m, values))
                .collect();
            let plain_labels: Vec<Option<Cell>> = aggregate
                .labels
                .iter()
                .map(|l| match &l.source {
                    DimSource::Expr(e) => Some(Cell::from_value(&e.eval(values))),
                    _ => None,
                })
                .collect();
            let groups = &mut self.groups[index];
            for key in keys {
                if !add {
                    let Some(group) = groups.get_mut(&key) else {
                        continue;
                    };
                    group.rows -= 1;
                    for (acc, input) in group.accs.iter_mut().zip(&inputs) {
                        if let Some(v) = input {
                            self.exact &= acc.subtract(v);
                        }
                    }
                    if group.rows <= 0 {
                        groups.remove(&key);
                    }
                    continue;
                }
                let group = groups.entry(key).or_insert_with(|| Group {
                    rows: 0,
                    labels: vec![None; aggregate.labels.len()],
                    accs: aggregate.measures.iter().map(Acc::new).collect(),
                });
                group.rows += 1;
                for (slot, value) in group.labels.iter_mut().zip(&plain_labels) {
                    if slot.is_none() {
                        slot.clone_from(value);
                    }
                }
                for (acc, input) in group.accs.iter_mut().zip(&inputs) {
                    if let Some(v) = input {
                        acc.add(v);
                    }
                }
            }
        }
    }

    /// The label dictionary of `column`'s `label_field` by `key_field`,
    /// made empty on first use.
    fn label_dict(
        &mut self,
        column: usize,
        key_field: &str,
        label_field: &str,
    ) -> &mut HashMap<Cell, Cell, Hasher> {
        let found = self
            .labels
            .iter()
            .position(|d| d.is(column, key_field, label_field));
        let index = found.unwrap_or_else(|| {
            self.labels.push(LabelDict {
                column,
                key_field: key_field.to_owned(),
                label_field: label_field.to_owned(),
                values: HashMap::default(),
            });
            self.labels.len() - 1
        });
        &mut self.labels[index].values
    }

    /// The first-seen label of `key`, if any.
    fn label(
        &self,
        column: usize,
        key_field: &str,
        label_field: &str,
        key: &Cell,
    ) -> Option<&Cell> {
        self.labels
            .iter()
            .find(|d| d.is(column, key_field, label_field))
            .and_then(|d| d.values.get(key))
    }

    fn learn_labels(&mut self, aggregate: &Aggregate, parsed: &Parsed<'_>) {
        for label in &aggregate.labels {
            let DimSource::Explode { column, field } = &label.source else {
                continue;
            };
            let Some(key_field) = linked_key_field(aggregate, *column) else {
                continue;
            };
            let dict = self.label_dict(*column, key_field, field);
            for element in elements_of(parsed, *column) {
                let key = element
                    .get(key_field)
                    .map_or(Cell::Null, Cell::from_literal);
                dict.entry(key)
                    .or_insert_with(|| element.get(field).map_or(Cell::Null, Cell::from_literal));
            }
        }
    }

    /// Merges an engine that saw the rows after this one's.
    pub fn merge(&mut self, other: Reference<'_>) {
        self.rows += other.rows;
        self.exact &= other.exact;
        for (mine, theirs) in self.groups.iter_mut().zip(other.groups) {
            for (key, group) in theirs {
                match mine.get_mut(&key) {
                    None => {
                        mine.insert(key, group);
                    }
                    Some(existing) => {
                        existing.rows += group.rows;
                        for (slot, value) in existing.labels.iter_mut().zip(group.labels) {
                            if slot.is_none() {
                                *slot = value;
                            }
                        }
                        for (acc, other) in existing.accs.iter_mut().zip(&group.accs) {
                            acc.merge(other);
                        }
                    }
                }
            }
        }
        for theirs in other.labels {
            let mine = self.label_dict(theirs.column, &theirs.key_field, &theirs.label_field);
            for (key, value) in theirs.values {
                mine.entry(key).or_insert(value);
            }
        }
    }

    /// The results of every aggregate, parents before their children.
    pub fn finish(&self) -> Vec<AggregateResult> {
        let mut results: Vec<AggregateResult> = Vec::new();
        for (index, aggregate) in self.rules.aggregates.iter().enumerate() {
            let result = match aggregate.parent {
                None => self.finish_base(aggregate, &self.groups[index]),
                Some(parent) => finish_derived(aggregate, &results[parent]),
            };
            results.push(result);
        }
        results
    }

    fn finish_base(&self, aggregate: &Aggregate, groups: &Groups) -> AggregateResult {
        let rows = groups
            .iter()
            .map(|(key, group)| {
                let mut values: Vec<Cell> = aggregate
                    .labels
                    .iter()
                    .zip(&group.labels)
                    .map(|(label, plain)| match &label.source {
                        DimSource::Explode { column, field } => {
                            let (dim, key_field) = aggregate
                                .dimensions
                                .iter()
                                .enumerate()
                                .find_map(|(i, d)| match &d.source {
                                    DimSource::Explode {
                                        column: c,
                                        field: f,
                                    } if c == column => Some((i, f)),
                                    _ => None,
                                })
                                .expect(
                                    "labels are linked to an exploding dimension at compile time",
                                );
                            self.label(*column, key_field, field, &key[dim])
                                .cloned()
                                .unwrap_or(Cell::Null)
                        }
                        _ => plain.clone().unwrap_or(Cell::Null),
                    })
                    .collect();
                values.extend(group.accs.iter().map(Acc::finish));
                (key.clone(), values)
            })
            .collect();
        AggregateResult::new(aggregate, rows)
    }
}

fn linked_key_field(aggregate: &Aggregate, column: usize) -> Option<&str> {
    aggregate.dimensions.iter().find_map(|d| match &d.source {
        DimSource::Explode { column: c, field } if *c == column => Some(field.as_str()),
        _ => None,
    })
}

/// Labels and accumulators of one group of a derived aggregate.
type DerivedGroup = (Vec<Option<Cell>>, Vec<Acc>);

fn finish_derived(aggregate: &Aggregate, parent: &AggregateResult) -> AggregateResult {
    let mut groups: BTreeMap<Vec<Cell>, DerivedGroup> = BTreeMap::new();
    for (key, values) in &parent.rows {
        let row: Vec<&Cell> = key.iter().chain(values).collect();
        let cell = |i: usize| row[i].clone();
        let group_key: Vec<Cell> = aggregate
            .dimensions
            .iter()
            .map(|d| match d.source {
                DimSource::Parent(i) => cell(i),
                _ => Cell::Null,
            })
            .collect();
        let (labels, accs) = groups.entry(group_key).or_insert_with(|| {
            (
                vec![None; aggregate.labels.len()],
                aggregate.measures.iter().map(Acc::new).collect(),
            )
        });
        for (slot, label) in labels.iter_mut().zip(&aggregate.labels) {
            if let (None, DimSource::Parent(i)) = (&slot, &label.source) {
                *slot = Some(cell(*i));
            }
        }
        for (acc, measure) in accs.iter_mut().zip(&aggregate.measures) {
            match measure.input {
                MeasureInput::Argmax {
                    by,
                    value,
                    tie_break,
                } => acc.offer(&cell(by), &cell(tie_break), &cell(value)),
                MeasureInput::Parent(i) => acc.add(&cell(i)),
                MeasureInput::Rows => acc.add(&Cell::Int(1)),
                MeasureInput::Expr(_) => {}
            }
        }
    }
    let rows = groups
        .into_iter()
        .map(|(key, (labels, accs))| {
            let mut values: Vec<Cell> = labels
                .into_iter()
                .map(|l| l.unwrap_or(Cell::Null))
                .collect();
            values.extend(accs.iter().map(Acc::finish));
            (key, values)
        })
        .collect();
    AggregateResult::new(aggregate, rows)
}

/// The measure's input for one row, or `None` when the row does not count
/// (its filter is not true).
fn measure_input(measure: &Measure, values: &[Value<'_>]) -> Option<Cell> {
    if let Some(filter) = &measure.filter
        && filter.eval(values) != Value::Bool(true)
    {
        return None;
    }
    match &measure.input {
        MeasureInput::Rows => Some(Cell::Int(1)),
        MeasureInput::Expr(e) => Some(Cell::from_value(&e.eval(values))),
        MeasureInput::Parent(_) | MeasureInput::Argmax { .. } => None,
    }
}

/// The distinct group keys a row falls into: the cartesian product of its
/// exploded lists, with the other dimensions evaluated once.
fn group_keys(aggregate: &Aggregate, values: &[Value<'_>], parsed: &Parsed<'_>) -> Vec<Vec<Cell>> {
    let mut keys: Vec<Vec<Cell>> = vec![Vec::with_capacity(aggregate.dimensions.len())];
    for dim in &aggregate.dimensions {
        match &dim.source {
            DimSource::Explode { column, field } => {
                let mut seen = HashSet::new();
                let cells: Vec<Cell> = elements_of(parsed, *column)
                    .iter()
                    .map(|e| e.get(field).map_or(Cell::Null, Cell::from_literal))
                    .filter(|c| *c != Cell::Null && seen.insert(c.clone()))
                    .collect();
                keys = keys
                    .into_iter()
                    .flat_map(|prefix| {
                        cells.iter().map(move |c| {
                            let mut k = prefix.clone();
                            k.push(c.clone());
                            k
                        })
                    })
                    .collect();
            }
            DimSource::Expr(e) => {
                let cell = Cell::from_value(&e.eval(values));
                for k in &mut keys {
                    k.push(cell.clone());
                }
            }
            DimSource::Parent(_) => {}
        }
    }
    keys
}

/// The exploded list columns of one row, each parsed once.
type Parsed<'a> = Vec<(usize, Vec<Element<'a>>)>;

/// The parsed elements of `column`'s list (none when it was not parsed).
fn elements_of<'p, 'a>(parsed: &'p Parsed<'a>, column: usize) -> &'p [Element<'a>] {
    parsed
        .iter()
        .find(|(c, _)| *c == column)
        .map_or(&[][..], |(_, elements)| elements.as_slice())
}

fn list_elements(text: Option<&str>) -> Vec<Element<'_>> {
    match text.map(literal::parse) {
        Some(Ok(Literal::List(items))) => items,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::rules::spec::AggFn;
    use crate::store::batch::declared_values;

    const RULES: &str = r#"
[columns.id]
type = "integer"
[columns.genres]
type = "entity_list"
keys = { id = "integer", name = "string" }
[columns.release_date]
type = "date"
[columns.budget]
type = "integer"
[columns.revenue]
type = "integer"
[columns.popularity]
type = "number"

[[aggregates]]
name = "gy"
where = "release_date is not null"
dimensions = [
  { name = "genre_id", explode = "genres", field = "id" },
  { name = "year", expr = "year(release_date)" },
]
labels = [{ name = "genre", explode = "genres", field = "name" }]
measures = [
  { name = "releases", agg = "count" },
  { name = "budget", agg = "sum", expr = "budget", filter = "budget > 0" },
  { name = "profit", agg = "sum", expr = "revenue - budget", filter = "budget > 0 and revenue > 0" },
  { name = "avg_popularity", agg = "avg", expr = "popularity" },
]

[[aggregates]]
name = "top"
from = "gy"
dimensions = [{ name = "year", column = "year" }]
measures = [
  { name = "most_profitable", agg = "argmax", by = "profit", value = "genre_id" },
  { name = "most_popular", agg = "argmax", by = "avg_popularity", value = "genre", tie_break = "genre_id" },
]
"#;

    /// id, genres, release_date, budget, revenue, popularity
    const ROWS: &[[&str; 6]] = &[
        [
            "1",
            "[{'id': 1, 'name': 'A'}, {'id': 2, 'name': 'B'}]",
            "2000-01-01",
            "100",
            "300",
            "1.0",
        ],
        [
            "2",
            "[{'id': 1, 'name': 'A'}]",
            "2000-05-05",
            "0",
            "50",
            "3.0",
        ],
        // The same genre twice in one list counts once.
        [
            "3",
            "[{'id': 2, 'name': 'B'}, {'id': 2, 'name': 'B'}]",
            "2000-02-02",
            "10",
            "0",
            "2.0",
        ],
        // No release date: outside every aggregate.
        ["4", "[{'id': 1, 'name': 'A'}]", "", "5", "5", "9.0"],
        // No genre: contributes nothing.
        ["5", "[]", "2001-01-01", "1", "2", "1.0"],
        [
            "6",
            "[{'id': 3, 'name': 'C'}]",
            "2001-03-03",
            "10",
            "20",
            "4.0",
        ],
        // Id 1 under another name: the first name seen is kept.
        [
            "7",
            "[{'id': 1, 'name': 'Z'}]",
            "2001-06-06",
            "0",
            "0",
            "8.0",
        ],
    ];

    fn rules() -> RuleSet {
        RuleSet::from_source(Path::new("t.toml"), RULES).unwrap()
    }

    fn feed(engine: &mut Reference<'_>, rows: &[[&str; 6]]) {
        for row in rows {
            let fields: Vec<Option<&str>> = row.iter().map(|f| Some(*f)).collect();
            let values = declared_values(engine.rules, &fields);
            engine.add_row(&values, &fields);
        }
    }

    fn csv_of(results: &[AggregateResult], name: &str) -> String {
        results.iter().find(|r| r.name == name).unwrap().to_csv()
    }

    #[test]
    fn computes_hand_checked_figures() {
        let rules = rules();
        let mut engine = Reference::new(&rules);
        feed(&mut engine, ROWS);
        let results = engine.finish();
        assert_eq!(
            csv_of(&results, "gy"),
            "genre_id,year,genre,releases,budget,profit,avg_popularity\n\
             1,2000,A,2,100,200,2\n\
             1,2001,A,1,0,0,8\n\
             2,2000,B,2,110,200,1.5\n\
             3,2001,C,1,10,10,4\n"
        );
        // 2000: genres 1 and 2 tie on profit 200, the lowest id wins; genre 1
        // is the most popular (2.0 against 1.5). 2001: C has the profit,
        // A (named by its first-seen name) the popularity.
        assert_eq!(
            csv_of(&results, "top"),
            "year,most_profitable,most_popular\n2000,1,A\n2001,3,A\n"
        );
    }

    #[test]
    fn merging_two_halves_equals_the_whole() {
        let rules = rules();
        let mut whole = Reference::new(&rules);
        feed(&mut whole, ROWS);
        for split in 0..=ROWS.len() {
            let mut first = Reference::new(&rules);
            feed(&mut first, &ROWS[..split]);
            let mut second = Reference::new(&rules);
            feed(&mut second, &ROWS[split..]);
            first.merge(second);
            assert_eq!(first.finish(), whole.finish(), "split at {split}");
            assert_eq!(first.rows(), whole.rows());
        }
    }

    #[test]
    fn subtracting_a_row_equals_never_adding_it_and_state_round_trips() {
        let rules = rules();
        for (removed, row) in ROWS.iter().enumerate() {
            let mut engine = Reference::new(&rules);
            feed(&mut engine, ROWS);
            let resumed_state = engine.state();
            let mut engine = Reference::from_state(&rules, &resumed_state);
            let fields: Vec<Option<&str>> = row.iter().map(|f| Some(*f)).collect();
            let values = declared_values(&rules, &fields);
            engine.subtract_row(&values, &fields);
            let mut without = Reference::new(&rules);
            // Labels are first-seen and never forgotten, so learn them all.
            feed(&mut without, ROWS);
            let mut fresh = Reference::new(&rules);
            let rest: Vec<[&str; 6]> = ROWS
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != removed)
                .map(|(_, r)| *r)
                .collect();
            feed(&mut fresh, &rest);
            fresh.labels = without.labels.clone();
            let (got, want) = (engine.finish(), fresh.finish());
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.to_csv(), w.to_csv(), "removing row {removed}");
            }
            assert!(engine.is_exact());
        }
    }

    #[test]
    fn accumulators_merge_like_sequential_adds() {
        let values = [Cell::Int(3), Cell::Null, Cell::Int(-2), Cell::Int(7)];
        for agg in [AggFn::Count, AggFn::Sum, AggFn::Avg, AggFn::Min, AggFn::Max] {
            let measure = Measure {
                name: "m".into(),
                agg,
                input: MeasureInput::Rows,
                filter: None,
                integer: true,
                tolerance: crate::rules::aggregate::Tolerance { abs: 0.0, rel: 0.0 },
            };
            let mut all = Acc::new(&measure);
            values.iter().for_each(|v| all.add(v));
            let (mut a, mut b) = (Acc::new(&measure), Acc::new(&measure));
            values[..2].iter().for_each(|v| a.add(v));
            values[2..].iter().for_each(|v| b.add(v));
            a.merge(&b);
            assert_eq!(a.finish(), all.finish(), "{agg:?}");
        }
        let mut argmax = Acc::Argmax(None);
        argmax.offer(&Cell::Int(5), &Cell::Int(9), &Cell::Text("late".into()));
        argmax.offer(&Cell::Int(5), &Cell::Int(2), &Cell::Text("low id".into()));
        argmax.offer(&Cell::Null, &Cell::Int(1), &Cell::Text("no score".into()));
        assert_eq!(argmax.finish(), Cell::Text("low id".into()));
    }
}
