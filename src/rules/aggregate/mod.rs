//! Compiled aggregates: the declarative business figures that the reference
//! engine computes with HashMaps and the store computes with SQL.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::compile::value_type;
use super::error::Problems;
use super::expr::{self, Columns, Expr};
use super::spec::{AggFn, AggregateSpec, ColumnSpec, ReferenceSpec};
use super::sql::read_query;
use parts::{compile_dimension, compile_measure};

mod parts;
use crate::fields::value::Ty;

/// Engines that may have their own query files (`queries/<engine>/NAME.sql`).
pub const ENGINES: [&str; 2] = ["sqlite", "postgres"];

/// Default tolerance for floating-point measures (relative and absolute).
pub const DEFAULT_FLOAT_TOLERANCE: f64 = 1e-9;

/// How many accepted rows the reference and the store compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Subset {
    /// The first N accepted rows.
    First(u64),
    /// Every accepted row.
    All,
    /// A deterministic sample by key: rows whose key hashes below the fraction.
    Sample {
        /// Fraction of keys kept, 0 to 1.
        fraction: f64,
        /// Seed of the hash.
        seed: u64,
    },
}

impl Default for Subset {
    fn default() -> Self {
        Subset::First(1000)
    }
}

/// Where a dimension's value comes from.
#[derive(Debug, Clone)]
pub enum DimSource {
    /// An expression over the row's typed values (a plain column is one).
    Expr(Expr),
    /// Each element of a list column, by one of its keys.
    Explode {
        /// Position of the list column among the declared columns.
        column: usize,
        /// The element key.
        field: String,
    },
    /// A column of the parent aggregate's output.
    Parent(usize),
}

/// A group-by dimension or label.
#[derive(Debug, Clone)]
pub struct Dimension {
    /// Output column name.
    pub name: String,
    /// Where the value comes from.
    pub source: DimSource,
}

/// Allowed difference between the reference and the store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Absolute.
    pub abs: f64,
    /// Relative to the larger magnitude.
    pub rel: f64,
}

/// What a measure aggregates.
#[derive(Debug, Clone)]
pub enum MeasureInput {
    /// Counts rows.
    Rows,
    /// An expression over the row.
    Expr(Expr),
    /// A parent column.
    Parent(usize),
    /// `argmax`: parent columns.
    Argmax {
        /// Maximized.
        by: usize,
        /// Returned.
        value: usize,
        /// Ties go to the lowest value of this column.
        tie_break: usize,
    },
}

/// A compiled measure.
#[derive(Debug, Clone)]
pub struct Measure {
    /// Output column name.
    pub name: String,
    /// The function.
    pub agg: AggFn,
    /// Its input.
    pub input: MeasureInput,
    /// Rows where this is not true are skipped.
    pub filter: Option<Expr>,
    /// True when the result is an integer (sum or min/max of integers, counts).
    pub integer: bool,
    /// Allowed difference in the diff.
    pub tolerance: Tolerance,
}

/// A compiled aggregate.
#[derive(Debug, Clone)]
pub struct Aggregate {
    /// Unique name.
    pub name: String,
    /// The SQL the store runs, when a query file is declared.
    pub query: Option<String>,
    /// The query file, resolved.
    pub query_path: Option<PathBuf>,
    /// Per-engine replacements: `queries/<engine>/<file>` next to the query,
    /// as `(engine, sql, path)`.
    pub engine_queries: Vec<(String, String, PathBuf)>,
    /// Index of the parent aggregate, for aggregates over another's output.
    pub parent: Option<usize>,
    /// Rows must satisfy this to enter.
    pub filter: Option<Expr>,
    /// The key.
    pub dimensions: Vec<Dimension>,
    /// Shown alongside the key.
    pub labels: Vec<Dimension>,
    /// The values.
    pub measures: Vec<Measure>,
}

impl Aggregate {
    /// The query for an engine: its own file if there is one, else the shared one.
    pub fn query_for(&self, engine: &str) -> Option<(&str, Option<&Path>)> {
        match self.engine_queries.iter().find(|(e, _, _)| e == engine) {
            Some((_, sql, path)) => Some((sql.as_str(), Some(path.as_path()))),
            None => self
                .query
                .as_deref()
                .map(|sql| (sql, self.query_path.as_deref())),
        }
    }

    /// Output column names: dimensions, labels, measures.
    pub fn column_names(&self) -> Vec<&str> {
        self.dimensions
            .iter()
            .chain(&self.labels)
            .map(|d| d.name.as_str())
            .chain(self.measures.iter().map(|m| m.name.as_str()))
            .collect()
    }
}

struct FileColumns<'a>(&'a [(Spanned<String>, ColumnSpec)]);

impl Columns for FileColumns<'_> {
    fn resolve(&self, name: &str) -> Option<(usize, Ty)> {
        let index = self.0.iter().position(|(n, _)| n.get_ref() == name)?;
        Some((index, value_type(self.0[index].1.ty)))
    }
}

/// Resolves a column of the parent aggregate, reporting a problem if absent.
type ParentColumn<'a> = dyn Fn(&Spanned<String>, &mut Problems<'_>) -> Option<usize> + 'a;

/// Compiles an expression of an aggregate, reporting problems at their position.
type CompileExpr<'a> = dyn Fn(&Spanned<String>, &str, &mut Problems<'_>) -> Option<(Expr, Ty)> + 'a;

pub(crate) struct Context<'a> {
    pub(crate) columns: &'a [(Spanned<String>, ColumnSpec)],
    pub(crate) base_dir: &'a Path,
    pub(crate) source: &'a str,
}

pub(crate) fn compile_subset(spec: &ReferenceSpec, problems: &mut Problems<'_>) -> Subset {
    let Some(value) = &spec.subset else {
        return Subset::default();
    };
    match value.get_ref() {
        toml::Value::Integer(n) if *n >= 0 => Subset::First(*n as u64),
        toml::Value::String(s) if s == "all" => Subset::All,
        other => {
            problems.span(
                &value.span(),
                format!("`subset` must be a number of rows or \"all\", found {other}"),
            );
            Subset::default()
        }
    }
}

pub(crate) fn compile_all(
    specs: &[AggregateSpec],
    ctx: &Context<'_>,
    problems: &mut Problems<'_>,
) -> Vec<Aggregate> {
    let mut out: Vec<Aggregate> = Vec::new();
    for spec in specs {
        let name = spec.name.get_ref();
        if out.iter().any(|a| &a.name == name) {
            problems.span(
                &spec.name.span(),
                format!("an aggregate named `{name}` is already defined"),
            );
            continue;
        }
        if !is_identifier(name) {
            problems.span(
                &spec.name.span(),
                format!("aggregate name `{name}` must be letters, digits and _"),
            );
            continue;
        }
        if let Some(agg) = compile_one(spec, &out, ctx, problems) {
            out.push(agg);
        }
    }
    out
}

/// SQL-safe output names: letters, digits and underscores, not starting with a digit.
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn compile_one(
    spec: &AggregateSpec,
    earlier: &[Aggregate],
    ctx: &Context<'_>,
    problems: &mut Problems<'_>,
) -> Option<Aggregate> {
    let name = spec.name.get_ref().clone();
    let before = problems.count();
    let parent = match &spec.from {
        None => None,
        Some(from) => match earlier.iter().position(|a| &a.name == from.get_ref()) {
            Some(i) => Some(i),
            None => {
                problems.span(
                    &from.span(),
                    format!("aggregate `{name}`: `from` names `{}`, which is not an aggregate defined above", from.get_ref()),
                );
                return None;
            }
        },
    };
    let parent_columns: Vec<String> = parent
        .map(|p| {
            earlier[p]
                .column_names()
                .into_iter()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let parent_col = |col: &Spanned<String>, problems: &mut Problems<'_>| -> Option<usize> {
        let found = parent_columns.iter().position(|c| c == col.get_ref());
        if found.is_none() {
            problems.span(
                &col.span(),
                format!(
                    "aggregate `{name}`: the parent has no column `{}` (it has {})",
                    col.get_ref(),
                    parent_columns.join(", ")
                ),
            );
        }
        found
    };
    let file_columns = FileColumns(ctx.columns);
    let compile_expr =
        |text: &Spanned<String>, what: &str, problems: &mut Problems<'_>| -> Option<(Expr, Ty)> {
            match expr::compile_typed(text.get_ref(), &file_columns) {
                Ok(e) => Some(e),
                Err(err) => {
                    let at =
                        super::compile::string_content_start(ctx.source, &text.span()) + err.offset;
                    problems.at(at, format!("aggregate `{name}`, {what}: {}", err.message));
                    None
                }
            }
        };

    let filter = match (&spec.filter, parent) {
        (Some(f), None) => compile_expr(f, "where", problems).and_then(|(e, ty)| {
            if matches!(ty, Ty::Bool | Ty::Null) {
                Some(e)
            } else {
                problems.span(
                    &f.span(),
                    format!("aggregate `{name}`: `where` must be true or false"),
                );
                None
            }
        }),
        (Some(f), Some(_)) => {
            problems.span(
                &f.span(),
                format!("aggregate `{name}`: `where` is not supported with `from`"),
            );
            None
        }
        (None, _) => None,
    };

    let mut dims = Vec::new();
    for d in &spec.dimensions {
        if let Some(dim) = compile_dimension(
            d,
            &name,
            parent.is_some(),
            &parent_col,
            &compile_expr,
            problems,
        ) {
            dims.push(dim);
        }
    }
    if spec.dimensions.is_empty() {
        problems.span(
            &spec.name.span(),
            format!("aggregate `{name}` needs at least one dimension"),
        );
    }
    let mut labels = Vec::new();
    for d in &spec.labels {
        if let Some(label) = compile_dimension(
            d,
            &name,
            parent.is_some(),
            &parent_col,
            &compile_expr,
            problems,
        ) {
            if let DimSource::Explode { column, .. } = &label.source {
                let linked = dims.iter().any(|dim| matches!(&dim.source, DimSource::Explode { column: c, .. } if c == column));
                if !linked {
                    problems.span(
                        &d.name.span(),
                        format!("aggregate `{name}`: label `{}` explodes a list that no dimension explodes", label.name),
                    );
                }
            }
            labels.push(label);
        }
    }

    let mut measures = Vec::new();
    for m in &spec.measures {
        if let Some(measure) = compile_measure(
            m,
            &name,
            parent,
            earlier,
            &parent_col,
            &compile_expr,
            problems,
        ) {
            measures.push(measure);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (n, span) in spec
        .dimensions
        .iter()
        .chain(&spec.labels)
        .map(|d| (&d.name, d.name.span()))
        .chain(spec.measures.iter().map(|m| (&m.name, m.name.span())))
    {
        if !is_identifier(n.get_ref()) {
            problems.span(
                &span,
                format!(
                    "aggregate `{name}`: column name `{}` must be letters, digits and _",
                    n.get_ref()
                ),
            );
        } else if !seen.insert(n.get_ref().clone()) {
            problems.span(
                &span,
                format!(
                    "aggregate `{name}`: column `{}` is defined twice",
                    n.get_ref()
                ),
            );
        }
    }

    let (query, query_path) = match &spec.query {
        None => (None, None),
        Some(q) => match read_query(ctx.base_dir, q.get_ref(), None) {
            Ok((sql, path)) => (Some(sql), Some(path)),
            Err(message) => {
                problems.span(&q.span(), format!("aggregate `{name}`: {message}"));
                (None, None)
            }
        },
    };

    let engine_queries = match &spec.query {
        None => Vec::new(),
        Some(q) => ENGINES
            .iter()
            .filter_map(|engine| {
                let relative = Path::new(q.get_ref());
                let file = relative.file_name()?;
                let candidate = relative
                    .parent()
                    .unwrap_or(Path::new(""))
                    .join(engine)
                    .join(file);
                let exists = ctx.base_dir.join(&candidate).exists();
                if !exists {
                    return None;
                }
                match read_query(ctx.base_dir, &candidate.to_string_lossy(), Some(engine)) {
                    Ok((sql, path)) => Some(((*engine).to_owned(), sql, path)),
                    Err(message) => {
                        problems.span(&q.span(), format!("aggregate `{name}`: {message}"));
                        None
                    }
                }
            })
            .collect(),
    };

    (problems.count() == before).then_some(Aggregate {
        name,
        query,
        query_path,
        engine_queries,
        parent,
        filter,
        dimensions: dims,
        labels,
        measures,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::rules::RuleSet;

    const COLUMNS: &str = r#"
[columns.id]
type = "integer"
[columns.genres]
type = "entity_list"
keys = { id = "integer", name = "string" }
[columns.budget]
type = "integer"
[columns.popularity]
type = "number"
[columns.release_date]
type = "date"
"#;

    /// Compiles `aggregates` (TOML) after the shared columns, in `dir`.
    fn compile(dir: &Path, aggregates: &str) -> Result<RuleSet, String> {
        let path = dir.join("rules.toml");
        let text = format!("{COLUMNS}\n{aggregates}");
        std::fs::write(&path, &text).unwrap();
        RuleSet::from_source(&path, &text).map_err(|e| e.to_string())
    }

    #[test]
    fn an_aggregate_compiles_its_dimensions_measures_and_engine_queries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("queries/postgres")).unwrap();
        std::fs::write(dir.path().join("queries/g.sql"), "SELECT 1 AS genre_id").unwrap();
        std::fs::write(
            dir.path().join("queries/postgres/g.sql"),
            "SELECT 2 AS genre_id",
        )
        .unwrap();
        let rules = compile(
            dir.path(),
            r#"
[[aggregates]]
name = "g"
query = "queries/g.sql"
where = "release_date is not null"
dimensions = [
  { name = "genre_id", explode = "genres", field = "id" },
  { name = "year", expr = "year(release_date)" },
]
measures = [
  { name = "n", agg = "count" },
  { name = "money", agg = "sum", expr = "budget" },
  { name = "pop", agg = "avg", expr = "popularity" },
]

[[aggregates]]
name = "top"
from = "g"
dimensions = [{ name = "year", column = "year" }]
measures = [{ name = "best", agg = "argmax", by = "money", value = "genre_id" }]
"#,
        )
        .unwrap();
        let g = &rules.aggregates[0];
        assert_eq!(g.column_names(), ["genre_id", "year", "n", "money", "pop"]);
        assert!(g.measures[1].integer, "a sum of integers is exact");
        assert!(!g.measures[2].integer);
        assert_eq!(g.query_for("sqlite").unwrap().0, "SELECT 1 AS genre_id");
        assert_eq!(g.query_for("postgres").unwrap().0, "SELECT 2 AS genre_id");
        assert_eq!(rules.aggregates[1].parent, Some(0));
    }

    #[test]
    fn mistakes_in_aggregates_are_rule_file_errors_naming_the_aggregate() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                r#"[[aggregates]]
name = "g"
dimensions = [{ name = "x", column = "nope" }]
measures = [{ name = "n", agg = "count" }]"#,
                "nope",
            ),
            (
                r#"[[aggregates]]
name = "g"
dimensions = [{ name = "x", column = "id" }]
measures = [{ name = "x", agg = "count" }]"#,
                "defined twice",
            ),
            (
                r#"[[aggregates]]
name = "g"
from = "later"
dimensions = [{ name = "x", column = "id" }]
measures = [{ name = "n", agg = "count" }]"#,
                "later",
            ),
            (
                r#"[[aggregates]]
name = "g"
query = "../outside.sql"
dimensions = [{ name = "x", column = "id" }]
measures = [{ name = "n", agg = "count" }]"#,
                "outside.sql",
            ),
        ];
        for (text, needle) in cases {
            let err = compile(dir.path(), text).unwrap_err();
            assert!(err.contains("aggregate") || err.contains(needle), "{err}");
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
