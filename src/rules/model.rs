//! The store's model: the tables a feed's accepted records are normalized
//! into, compiled from the rule file's `[[tables]]`.
//!
//! The first table holds one row per record and is keyed by CSV columns:
//! that key identifies a record in the store (for `on_existing`, lineage and
//! the running totals). Every other table either *belongs to the record*
//! (its key holds every column of the record's key, so replacing a record
//! replaces its rows there) or is *shared* between records (such as a table
//! of genres: a key seen again keeps its first values).
//!
//! A rule file without `[[tables]]` gets a one-table model: every scalar
//! column, keyed by the first column that is `required` and `unique`.

use std::collections::HashSet;

use toml::Spanned;

use super::error::Problems;
use super::expr::{self, Columns, Expr};
use super::spec::{ColumnSpec, ColumnType, KeyType, TableSpec};
use crate::fields::value::Ty;

/// The type of a model column, mapped to each engine's column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    /// A 64-bit integer.
    Integer,
    /// A double-precision float.
    Number,
    /// Text.
    Text,
    /// A boolean (0 or 1 where the engine has no boolean type).
    Boolean,
    /// A calendar date, written as ISO 8601.
    Date,
}

impl SqlType {
    /// The spelling recorded in the store and shown in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            SqlType::Integer => "integer",
            SqlType::Number => "number",
            SqlType::Text => "text",
            SqlType::Boolean => "boolean",
            SqlType::Date => "date",
        }
    }

    fn of_column(ty: ColumnType) -> Option<SqlType> {
        match ty {
            ColumnType::String | ColumnType::Json => Some(SqlType::Text),
            ColumnType::Integer => Some(SqlType::Integer),
            ColumnType::Number => Some(SqlType::Number),
            ColumnType::Boolean => Some(SqlType::Boolean),
            ColumnType::Date => Some(SqlType::Date),
            ColumnType::EntityList | ColumnType::Entity => None,
        }
    }

    fn of_value(ty: Ty) -> Option<SqlType> {
        match ty {
            Ty::Int => Some(SqlType::Integer),
            Ty::Num => Some(SqlType::Number),
            Ty::Str => Some(SqlType::Text),
            Ty::Bool => Some(SqlType::Boolean),
            Ty::Date => Some(SqlType::Date),
            Ty::List | Ty::Null => None,
        }
    }

    fn of_key(ty: KeyType) -> Option<SqlType> {
        match ty {
            KeyType::Integer => Some(SqlType::Integer),
            KeyType::Number => Some(SqlType::Number),
            KeyType::String => Some(SqlType::Text),
            KeyType::Boolean => Some(SqlType::Boolean),
            KeyType::Any => None,
        }
    }
}

/// Where a model column's value comes from.
#[derive(Debug, Clone)]
pub enum ColumnSource {
    /// A declared CSV column, by position.
    Column(usize),
    /// An expression over the record's typed values.
    Expr(Expr),
    /// A field of the exploded list's element.
    Field(String),
}

/// One column of a model table.
#[derive(Debug, Clone)]
pub struct ModelColumn {
    /// Name in the store.
    pub name: String,
    /// Where its value comes from.
    pub source: ColumnSource,
    /// Its type.
    pub ty: SqlType,
}

/// One table of the model.
#[derive(Debug, Clone)]
pub struct Table {
    /// Name in the store (staging adds `stg_`).
    pub name: String,
    /// The list column whose elements make the rows; `None`: one row per record.
    pub explode: Option<usize>,
    /// Columns in order.
    pub columns: Vec<ModelColumn>,
    /// Positions in `columns` of the key.
    pub key: Vec<usize>,
    /// For a table that belongs to the record: positions in `columns` of
    /// the record key's columns, in the record key's order. `None` for a
    /// shared table.
    pub owner: Option<Vec<usize>>,
}

impl Table {
    /// Whether a key seen again keeps its first values.
    pub fn is_shared(&self) -> bool {
        self.owner.is_none()
    }
}

/// The compiled model.
#[derive(Debug, Clone)]
pub struct Model {
    /// Tables in order; the first holds one row per record.
    pub tables: Vec<Table>,
    /// Declared CSV columns of the record key, in key order.
    pub record_key: Vec<usize>,
    /// Whether the rule file declared the model (not derived).
    pub declared: bool,
}

impl Model {
    /// The table of records.
    pub fn records(&self) -> &Table {
        &self.tables[0]
    }
}

struct Declared<'a>(&'a [(Spanned<String>, ColumnSpec)]);

impl Columns for Declared<'_> {
    fn resolve(&self, name: &str) -> Option<(usize, Ty)> {
        let index = self.0.iter().position(|(n, _)| n.get_ref() == name)?;
        Some((index, super::compile::value_type(self.0[index].1.ty)))
    }
}

/// A name made into an identifier [`valid_identifier`] accepts: lower
/// case, `_` for anything but letters and digits, `_` before a leading
/// digit or a reserved prefix, cut to 63 bytes.
pub(crate) fn identifier_for(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty()
        || out.starts_with(|c: char| c.is_ascii_digit())
        || out.starts_with("stg_")
        || out.starts_with("dq_")
    {
        out.insert(0, '_');
    }
    out.truncate(63);
    out
}

/// A name both engines resolve alike whether a query quotes it or not: a
/// lower-case letter or `_`, then lower-case letters, digits or `_`, at
/// most 63 bytes (PostgreSQL's limit). dqgate quotes it, so a keyword
/// (`order`, `user`) is a name like any other.
fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
        && !name.to_ascii_lowercase().starts_with("stg_")
        && !name.to_ascii_lowercase().starts_with("dq_")
}

/// Compiles `[[tables]]`, or derives the one-table model when there are
/// none. `None` when no model can be made; problems go to `problems`.
pub(crate) fn compile(
    specs: &[TableSpec],
    columns: &[(Spanned<String>, ColumnSpec)],
    dataset: Option<&str>,
    source: &str,
    problems: &mut Problems<'_>,
) -> Option<Model> {
    if specs.is_empty() {
        return derive(columns, dataset);
    }
    let declared = Declared(columns);
    let mut tables: Vec<Table> = Vec::new();
    let mut names = HashSet::new();
    let mut ok = true;
    for (i, spec) in specs.iter().enumerate() {
        let name = spec.name.get_ref();
        if !valid_identifier(name) {
            problems.span(
                &spec.name.span(),
                format!(
                    "table `{name}`: a table name is a lower-case letter or `_`, then lower-case letters, digits or `_` (at most 63 bytes), and does not start with `stg_` or `dq_`"
                ),
            );
            ok = false;
            continue;
        }
        if !names.insert(name.to_ascii_lowercase()) {
            problems.span(
                &spec.name.span(),
                format!("a table named `{name}` is already declared"),
            );
            ok = false;
            continue;
        }
        match compile_table(spec, i == 0, columns, &declared, source, problems) {
            Some(t) => tables.push(t),
            None => ok = false,
        }
    }
    if !ok || tables.is_empty() {
        return None;
    }
    let record_key: Vec<usize> = tables[0]
        .key
        .iter()
        .map(|&k| match tables[0].columns[k].source {
            ColumnSource::Column(c) => c,
            _ => unreachable!("compile_table keeps the record key to CSV columns"),
        })
        .collect();
    for table in tables.iter_mut().skip(1) {
        table.owner = owner_positions(table, &record_key);
    }
    Some(Model {
        tables,
        record_key,
        declared: true,
    })
}

/// The positions of the record key's columns among `table`'s key, when
/// its key holds all of them.
fn owner_positions(table: &Table, record_key: &[usize]) -> Option<Vec<usize>> {
    record_key
        .iter()
        .map(|csv| {
            table
                .key
                .iter()
                .copied()
                .find(|&k| matches!(table.columns[k].source, ColumnSource::Column(c) if c == *csv))
        })
        .collect()
}

fn compile_table(
    spec: &TableSpec,
    is_records: bool,
    columns: &[(Spanned<String>, ColumnSpec)],
    declared: &Declared<'_>,
    source: &str,
    problems: &mut Problems<'_>,
) -> Option<Table> {
    let name = spec.name.get_ref();
    let mut ok = true;
    let explode = match &spec.explode {
        None => None,
        Some(_) if is_records => {
            problems.span(
                &spec.name.span(),
                format!(
                    "table `{name}`: the first table holds one row per record, so it cannot `explode` a list"
                ),
            );
            return None;
        }
        Some(list) => {
            let found = columns
                .iter()
                .position(|(n, _)| n.get_ref() == list.get_ref());
            match found {
                Some(c) if columns[c].1.ty == ColumnType::EntityList => Some(c),
                _ => {
                    problems.span(
                        &list.span(),
                        format!(
                            "table `{name}`: `explode` names an entity_list column, and `{}` is not one",
                            list.get_ref()
                        ),
                    );
                    return None;
                }
            }
        }
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for col in &spec.columns {
        let col_name = col.name.get_ref();
        let at = col.name.span();
        if !valid_identifier(col_name) {
            problems.span(
                &at,
                format!(
                    "table `{name}`, column `{col_name}`: a column name is a lower-case letter or `_`, then lower-case letters, digits or `_`, and does not start with `stg_` or `dq_`"
                ),
            );
            ok = false;
            continue;
        }
        if !seen.insert(col_name.to_ascii_lowercase()) {
            problems.span(
                &at,
                format!("table `{name}`: column `{col_name}` is declared twice"),
            );
            ok = false;
            continue;
        }
        let given = [
            col.column.is_some(),
            col.expr.is_some(),
            col.field.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given != 1 {
            problems.span(
                &at,
                format!("table `{name}`, column `{col_name}`: give exactly one of `column`, `expr` or `field`"),
            );
            ok = false;
            continue;
        }
        let compiled = if let Some(csv) = &col.column {
            match columns
                .iter()
                .position(|(n, _)| n.get_ref() == csv.get_ref())
            {
                None => {
                    problems.span(
                        &csv.span(),
                        format!(
                            "table `{name}`, column `{col_name}`: `{}` is not a declared column",
                            csv.get_ref()
                        ),
                    );
                    None
                }
                Some(c) => match SqlType::of_column(columns[c].1.ty) {
                    Some(ty) => Some((ColumnSource::Column(c), ty)),
                    None => {
                        problems.span(
                            &csv.span(),
                            format!(
                                "table `{name}`, column `{col_name}`: `{}` is a list; give it its own table with `explode`",
                                csv.get_ref()
                            ),
                        );
                        None
                    }
                },
            }
        } else if let Some(text) = &col.expr {
            match expr::compile_typed(text.get_ref(), declared) {
                Err(err) => {
                    let at =
                        super::compile::string_content_start(source, &text.span()) + err.offset;
                    problems.at(
                        at,
                        format!("table `{name}`, column `{col_name}`: {}", err.message),
                    );
                    None
                }
                Ok((e, ty)) => match SqlType::of_value(ty) {
                    Some(sql) => Some((ColumnSource::Expr(e), sql)),
                    None => {
                        problems.span(
                            &text.span(),
                            format!(
                                "table `{name}`, column `{col_name}`: the expression is a {}, which no store column can hold",
                                ty.name()
                            ),
                        );
                        None
                    }
                },
            }
        } else if let Some(field) = &col.field {
            field_column(
                name,
                col_name,
                field,
                col.ty.as_ref(),
                explode.map(|c| &columns[c].1),
                problems,
            )
        } else {
            None
        };
        match compiled {
            Some((source, ty)) => out.push(ModelColumn {
                name: col_name.clone(),
                source,
                ty,
            }),
            None => ok = false,
        }
    }
    if spec.key.is_empty() {
        problems.span(
            &spec.name.span(),
            format!("table `{name}`: `key` names at least one column"),
        );
        return None;
    }
    let mut key = Vec::new();
    for k in &spec.key {
        match out.iter().position(|c| c.name == *k.get_ref()) {
            Some(p) if !key.contains(&p) => key.push(p),
            Some(_) => {
                problems.span(
                    &k.span(),
                    format!("table `{name}`: `{}` is in the key twice", k.get_ref()),
                );
                ok = false;
            }
            None if ok => {
                problems.span(
                    &k.span(),
                    format!(
                        "table `{name}`: the key column `{}` is not one of its columns",
                        k.get_ref()
                    ),
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    if ok && is_records {
        for &k in &key {
            let col = &out[k];
            let ColumnSource::Column(c) = col.source else {
                problems.span(
                    &spec.name.span(),
                    format!(
                        "table `{name}`: the key of the first table identifies a record, so `{}` must come from a CSV column (`column = ...`)",
                        col.name
                    ),
                );
                ok = false;
                continue;
            };
            if !columns[c].1.required {
                problems.span(
                    &columns[c].0.span(),
                    format!(
                        "column `{}` is in the key of table `{name}`, so it must be `required = true`: a record without a key cannot be stored",
                        columns[c].0.get_ref()
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then(|| Table {
        name: name.clone(),
        explode,
        columns: out,
        owner: is_records.then(|| key.clone()),
        key,
    })
}

fn field_column(
    table: &str,
    name: &str,
    field: &Spanned<String>,
    ty: Option<&Spanned<ColumnType>>,
    list: Option<&ColumnSpec>,
    problems: &mut Problems<'_>,
) -> Option<(ColumnSource, SqlType)> {
    let Some(list) = list else {
        problems.span(
            &field.span(),
            format!("table `{table}`, column `{name}`: `field` reads an exploded element; add `explode = \"LIST\"` to the table"),
        );
        return None;
    };
    let key_type = list
        .keys
        .as_ref()
        .and_then(|keys| keys.get(field.get_ref()))
        .and_then(|k| SqlType::of_key(*k));
    let sql = match (ty, key_type) {
        (Some(t), _) => SqlType::of_column(*t.get_ref()).or_else(|| {
            problems.span(
                &t.span(),
                format!("table `{table}`, column `{name}`: a field holds a scalar type"),
            );
            None
        })?,
        (None, Some(k)) => k,
        (None, None) => {
            problems.span(
                &field.span(),
                format!(
                    "table `{table}`, column `{name}`: the list declares no type for `{}` in its `keys`; give `type`",
                    field.get_ref()
                ),
            );
            return None;
        }
    };
    Some((ColumnSource::Field(field.get_ref().clone()), sql))
}

/// The one-table model of a rule file without `[[tables]]`: every scalar
/// column, keyed by the first required unique column; `None` when there is
/// no such column.
fn derive(columns: &[(Spanned<String>, ColumnSpec)], dataset: Option<&str>) -> Option<Model> {
    let key = columns
        .iter()
        .position(|(_, c)| c.unique && c.required && SqlType::of_column(c.ty).is_some())?;
    let name = dataset
        .map(|d| {
            d.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .filter(|n| valid_identifier(n))
        .unwrap_or_else(|| "records".to_owned());
    // Every scalar column, under a store name made from its header name
    // (`Release Date` is stored as `release_date`); a name taken twice
    // gets its position appended.
    let mut taken = HashSet::new();
    let table_columns: Vec<ModelColumn> = columns
        .iter()
        .enumerate()
        .filter_map(|(i, (n, c))| {
            let ty = SqlType::of_column(c.ty)?;
            let mut name = identifier_for(n.get_ref());
            if !taken.insert(name.clone()) {
                name = identifier_for(&format!("{name}_{}", i + 1));
                taken.insert(name.clone());
            }
            Some(ModelColumn {
                name,
                source: ColumnSource::Column(i),
                ty,
            })
        })
        .collect();
    let key_position = table_columns
        .iter()
        .position(|c| matches!(c.source, ColumnSource::Column(i) if i == key))?;
    Some(Model {
        tables: vec![Table {
            name,
            explode: None,
            columns: table_columns,
            key: vec![key_position],
            owner: Some(vec![key_position]),
        }],
        record_key: vec![key],
        declared: false,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::rules::RuleSet;

    const COLUMNS: &str = r#"
[columns.id]
type = "integer"
required = true
unique = true
[columns.released]
type = "date"
[columns.genres]
type = "entity_list"
keys = { id = "integer", name = "string" }
"#;

    fn problems(text: &str) -> String {
        RuleSet::from_source(Path::new("t.toml"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn tables_belong_to_the_record_when_their_key_holds_the_record_key() {
        let rules = RuleSet::from_source(
            Path::new("t.toml"),
            &format!(
                "{COLUMNS}
[[tables]]
name = \"films\"
key = [\"id\"]
columns = [{{ name = \"id\", column = \"id\" }}, {{ name = \"year\", expr = \"year(released)\" }}]
[[tables]]
name = \"genres\"
explode = \"genres\"
key = [\"id\"]
columns = [{{ name = \"id\", field = \"id\" }}, {{ name = \"name\", field = \"name\" }}]
[[tables]]
name = \"film_genres\"
explode = \"genres\"
key = [\"film_id\", \"genre_id\"]
columns = [{{ name = \"film_id\", column = \"id\" }}, {{ name = \"genre_id\", field = \"id\" }}]
"
            ),
        )
        .unwrap();
        let model = rules.model.unwrap();
        assert_eq!(model.record_key, [0]);
        assert_eq!(model.tables[1].owner, None, "genres are shared");
        assert_eq!(
            model.tables[2].owner,
            Some(vec![0]),
            "links belong to the film"
        );
        assert_eq!(model.tables[0].columns[1].ty, super::SqlType::Integer);
    }

    #[test]
    fn a_rule_file_without_tables_gets_one_keyed_by_its_unique_column() {
        let rules = RuleSet::from_source(
            Path::new("t.toml"),
            &format!("[dataset]\nname = \"My Feed\"\n{COLUMNS}"),
        )
        .unwrap();
        let model = rules.model.unwrap();
        assert_eq!(model.tables.len(), 1);
        assert_eq!(model.tables[0].name, "my_feed");
        let names: Vec<&str> = model.tables[0]
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["id", "released"], "lists need their own table");
        let no_key =
            RuleSet::from_source(Path::new("t.toml"), "[columns.a]\ntype = \"integer\"\n").unwrap();
        assert!(no_key.model.is_none());
    }

    #[test]
    fn reports_each_mistake_in_a_model() {
        let text = problems(&format!(
            "{COLUMNS}
[columns.note]
type = \"string\"
[[tables]]
name = \"stg_films\"
key = [\"id\"]
columns = [{{ name = \"id\", column = \"id\" }}]
[[tables]]
name = \"films\"
key = [\"note\"]
columns = [{{ name = \"note\", column = \"note\" }}, {{ name = \"g\", column = \"genres\" }}, {{ name = \"x\", field = \"id\" }}]
[[tables]]
name = \"genres\"
explode = \"released\"
key = [\"id\"]
columns = [{{ name = \"id\", field = \"id\" }}]
"
        ));
        for expected in [
            "does not start with `stg_` or `dq_`",
            "`genres` is a list; give it its own table with `explode`",
            "`field` reads an exploded element",
            "`explode` names an entity_list column, and `released` is not one",
        ] {
            assert!(text.contains(expected), "{expected}\n{text}");
        }
        let text = problems(&format!(
            "{COLUMNS}
[columns.note]
type = \"string\"
[[tables]]
name = \"films\"
key = [\"note\"]
columns = [{{ name = \"note\", column = \"note\" }}]
"
        ));
        assert!(
            text.contains(
                "column `note` is in the key of table `films`, so it must be `required = true`"
            ),
            "{text}"
        );
    }
}
