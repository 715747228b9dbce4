//! [`RuleFileSpec`] to [`RuleSet`]: names, severities and ids for every rule,
//! bounds in the column's type, regexes and expressions compiled once.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::PathBuf;

use chrono::NaiveDate;
use toml::Spanned;

use super::error::Problems;
use super::expr::{self, Columns};
use super::spec::{ColumnSpec, ColumnType, KeyType, RuleFileSpec, Severity};
use super::{Bound, Column, CsvRules, FileRules, RowRule, RuleInfo, RuleKind, RuleSet, TypeCheck};
use crate::fields::list_layout::{ListLayout, PlainKind};
use crate::fields::value::Ty;

/// Largest compiled size of one `pattern`, so a rule file cannot make the
/// checker slow or large. The regex crate's matching is linear in the input.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

struct Catalog {
    rules: Vec<RuleInfo>,
    names: HashSet<String>,
}

impl Catalog {
    fn add(
        &mut self,
        name: String,
        column: Option<&str>,
        kind: RuleKind,
        severity: Severity,
        detail: String,
    ) -> usize {
        self.names.insert(name.clone());
        self.rules.push(RuleInfo {
            name,
            column: column.map(str::to_owned),
            kind,
            severity,
            detail,
        });
        self.rules.len() - 1
    }
}

struct Declared<'a>(&'a [(Spanned<String>, ColumnSpec)]);

impl Columns for Declared<'_> {
    fn resolve(&self, name: &str) -> Option<(usize, Ty)> {
        let index = self.0.iter().position(|(n, _)| n.get_ref() == name)?;
        Some((index, value_type(self.0[index].1.ty)))
    }
}

/// The type a column's values have in expressions.
pub(crate) fn value_type(ty: ColumnType) -> Ty {
    match ty {
        ColumnType::String | ColumnType::Json => Ty::Str,
        ColumnType::Integer => Ty::Int,
        ColumnType::Number => Ty::Num,
        ColumnType::Boolean => Ty::Bool,
        ColumnType::Date => Ty::Date,
        ColumnType::EntityList | ColumnType::Entity => Ty::List,
    }
}

pub(crate) fn compile(
    spec: RuleFileSpec,
    source: &str,
    base_dir: &std::path::Path,
    problems: &mut Problems<'_>,
) -> RuleSet {
    let mut catalog = Catalog {
        rules: Vec::new(),
        names: HashSet::new(),
    };
    let builtin = |c: &mut Catalog, name: &str, kind, detail: &str| {
        c.add(
            name.to_owned(),
            None,
            kind,
            Severity::Error,
            detail.to_owned(),
        )
    };
    let csv = CsvRules {
        field_count: builtin(
            &mut catalog,
            "csv.field_count",
            RuleKind::Csv,
            "as many fields as the header",
        ),
        empty_record: builtin(
            &mut catalog,
            "csv.empty_record",
            RuleKind::Csv,
            "at least one non-empty field",
        ),
        quotes: builtin(
            &mut catalog,
            "csv.quotes",
            RuleKind::Csv,
            "well-formed quoting",
        ),
        utf8: builtin(&mut catalog, "csv.utf8", RuleKind::Csv, "valid UTF-8"),
        nul: builtin(&mut catalog, "csv.nul", RuleKind::Csv, "no NUL bytes"),
        too_large: builtin(
            &mut catalog,
            "csv.too_large",
            RuleKind::Csv,
            "within --max-field-bytes and --max-record-bytes",
        ),
        existing_id: builtin(
            &mut catalog,
            "promotion.existing_id",
            RuleKind::Promotion,
            "the id is not already in production (on_existing = reject)",
        ),
        header: builtin(
            &mut catalog,
            "file.header",
            RuleKind::Header,
            "the header has every required column",
        ),
    };

    let file = compile_file(&spec, problems);
    let columns: Vec<Column> = spec
        .columns
        .iter()
        .map(|(name, col)| compile_column(name, col, &mut catalog, problems))
        .collect();

    let unique_keys = compile_unique_keys(&spec, &mut catalog, problems);
    let declared = Declared(&spec.columns);
    let mut row_rules = Vec::new();
    for rule in &spec.rules {
        let name = rule.name.get_ref();
        if name.trim().is_empty() {
            problems.span(&rule.name.span(), "a rule name cannot be empty");
            continue;
        }
        if catalog.names.contains(name) {
            problems.span(
                &rule.name.span(),
                format!("a rule named `{name}` is already defined"),
            );
            continue;
        }
        let unknown = expr::unknown_columns(rule.expr.get_ref(), &declared);
        if !unknown.is_empty() {
            // A column whose own table failed to load was reported already.
            let unknown: Vec<(usize, String)> = unknown
                .into_iter()
                .filter(|(_, column)| !spec.broken_columns.contains(column))
                .collect();
            let start = string_content_start(source, &rule.expr.span());
            for (offset, column) in unknown {
                let hint = crate::text::likely_typo(
                    &column,
                    spec.columns.iter().map(|(n, _)| n.get_ref().as_str()),
                )
                .map_or_else(String::new, |c| format!("; did you mean '{c}'?"));
                problems.at(
                    start + offset,
                    format!(
                        "in rule `{name}`: no column named '{column}' is declared in [columns]{hint}"
                    ),
                );
            }
            continue;
        }
        match expr::compile(rule.expr.get_ref(), &declared) {
            Ok(e) => {
                let mut reads = Vec::new();
                e.columns(&mut reads);
                let id = catalog.add(
                    name.clone(),
                    None,
                    RuleKind::Expression,
                    rule.severity,
                    rule.expr.get_ref().clone(),
                );
                row_rules.push(RowRule { id, expr: e, reads });
            }
            Err(err) => {
                let at = string_content_start(source, &rule.expr.span()) + err.offset;
                problems.at(at, format!("in rule `{name}`: {}", err.message));
            }
        }
    }

    let context = super::aggregate::Context {
        columns: &spec.columns,
        base_dir,
        source,
    };
    let aggregates = super::aggregate::compile_all(&spec.aggregates, &context, problems);
    let subset = super::aggregate::compile_subset(&spec.reference, problems);
    let model = super::model::compile(
        &spec.tables,
        &spec.columns,
        spec.dataset.name.as_deref(),
        source,
        problems,
    );

    RuleSet {
        unique_keys,
        model,
        no_aggregates: spec.reference.no_aggregates,
        on_existing: spec.promotion.on_existing,
        aggregates,
        subset,
        path: PathBuf::new(),
        blake3: String::new(),
        name: spec.dataset.name.clone(),
        file,
        columns,
        row_rules,
        catalog: catalog.rules,
        csv,
    }
}

/// `[file] unique`: keys of several declared columns, each a rule named
/// after its columns (`country+year.unique`).
fn compile_unique_keys(
    spec: &RuleFileSpec,
    catalog: &mut Catalog,
    problems: &mut Problems<'_>,
) -> Vec<super::UniqueKey> {
    let mut out = Vec::new();
    for key in &spec.file.unique {
        let mut columns = Vec::new();
        for name in key {
            match spec
                .columns
                .iter()
                .position(|(n, _)| n.get_ref() == name.get_ref())
            {
                Some(c) if !columns.contains(&c) => columns.push(c),
                Some(_) => problems.span(
                    &name.span(),
                    format!("`{}` is twice in one unique key", name.get_ref()),
                ),
                None => problems.span(
                    &name.span(),
                    format!(
                        "unique key column `{}` has no [columns.{}] table",
                        name.get_ref(),
                        name.get_ref()
                    ),
                ),
            }
        }
        if columns.len() != key.len() || columns.is_empty() {
            continue;
        }
        let names: Vec<&str> = key.iter().map(|n| n.get_ref().as_str()).collect();
        let rule = catalog.add(
            format!("{}.unique", names.join("+")),
            None,
            RuleKind::Unique,
            Severity::Error,
            format!("no repeated ({})", names.join(", ")),
        );
        out.push(super::UniqueKey { columns, rule });
    }
    out
}

/// Byte offset of the first character inside a TOML string value.
pub(crate) fn string_content_start(source: &str, span: &Range<usize>) -> usize {
    let text = source.get(span.clone()).unwrap_or("");
    let quote = if text.starts_with("\"\"\"") || text.starts_with("'''") {
        3
    } else if text.starts_with('"') || text.starts_with('\'') {
        1
    } else {
        0
    };
    span.start + quote
}

fn compile_file(spec: &RuleFileSpec, problems: &mut Problems<'_>) -> FileRules {
    let f = &spec.file;
    let delimiter = match f.delimiter.get_ref().as_bytes() {
        [b] if b.is_ascii() && *b != b'"' && *b != b'\n' && *b != b'\r' => *b,
        _ => {
            problems.span(
                &f.delimiter.span(),
                format!(
                    "delimiter must be one ASCII character other than a quote or newline, found {:?}",
                    f.delimiter.get_ref()
                ),
            );
            b','
        }
    };
    let declared: HashSet<&str> = spec
        .columns
        .iter()
        .map(|(n, _)| n.get_ref().as_str())
        .collect();
    let required_columns = match &f.required_columns {
        None => spec
            .columns
            .iter()
            .map(|(n, _)| n.get_ref().clone())
            .collect(),
        Some(list) => {
            for name in list {
                if !declared.contains(name.get_ref().as_str()) {
                    problems.span(
                        &name.span(),
                        format!(
                            "required column `{}` has no [columns.{}] table",
                            name.get_ref(),
                            name.get_ref()
                        ),
                    );
                }
            }
            list.iter().map(|n| n.get_ref().clone()).collect()
        }
    };
    let max_quarantined_fraction = f.max_quarantined_fraction.as_ref().map(|v| {
        let x = *v.get_ref();
        if !(0.0..=1.0).contains(&x) {
            problems.span(
                &v.span(),
                format!("max_quarantined_fraction must be between 0 and 1, found {x}"),
            );
        }
        x
    });
    FileRules {
        delimiter,
        required_columns,
        unexpected_columns: f.unexpected_columns,
        min_rows: f.min_rows,
        max_quarantined_fraction,
        null_values: f
            .null_values
            .iter()
            .map(|v| v.get_ref().clone())
            .filter(|v| !v.is_empty())
            .collect(),
    }
}

fn compile_column(
    name: &Spanned<String>,
    spec: &ColumnSpec,
    catalog: &mut Catalog,
    problems: &mut Problems<'_>,
) -> Column {
    let col = name.get_ref().as_str();
    let at = name.span();
    let sev = spec.severity;
    let mut misplaced = |key: &str, applies: &str| {
        problems.span(
            &at,
            format!(
                "column `{col}`: `{key}` applies only to {applies} columns, not {}",
                spec.ty.as_str()
            ),
        );
    };
    if spec.true_values.is_some() && spec.ty != ColumnType::Boolean {
        misplaced("true_values", "boolean");
    }
    if spec.false_values.is_some() && spec.ty != ColumnType::Boolean {
        misplaced("false_values", "boolean");
    }
    if spec.formats.is_some() && spec.ty != ColumnType::Date {
        misplaced("formats", "date");
    }
    if spec.keys.is_some() && !matches!(spec.ty, ColumnType::EntityList | ColumnType::Entity) {
        misplaced("keys", "entity_list and entity");
    }
    if spec.unique
        && matches!(
            spec.ty,
            ColumnType::EntityList | ColumnType::Entity | ColumnType::Json
        )
    {
        misplaced("unique", "scalar");
    }

    let parse = match spec.ty {
        ColumnType::String => TypeCheck::String,
        ColumnType::Integer => TypeCheck::Integer,
        ColumnType::Number => TypeCheck::Number,
        ColumnType::Json => TypeCheck::Json,
        ColumnType::Boolean => TypeCheck::Boolean {
            truthy: spec
                .true_values
                .clone()
                .unwrap_or_else(|| vec!["true".into(), "True".into(), "TRUE".into()]),
            falsy: spec
                .false_values
                .clone()
                .unwrap_or_else(|| vec!["false".into(), "False".into(), "FALSE".into()]),
        },
        ColumnType::Date => {
            let formats: Vec<String> = match &spec.formats {
                None => vec!["%Y-%m-%d".to_owned()],
                Some(list) => {
                    for f in list {
                        if !valid_date_format(f.get_ref()) {
                            problems.span(
                                &f.span(),
                                format!(
                                    "column `{col}`: {:?} is not a valid date format",
                                    f.get_ref()
                                ),
                            );
                        }
                    }
                    list.iter().map(|f| f.get_ref().clone()).collect()
                }
            };
            if formats.is_empty() {
                problems.span(
                    &at,
                    format!("column `{col}`: `formats` needs at least one format"),
                );
            }
            TypeCheck::Date { formats }
        }
        ColumnType::EntityList | ColumnType::Entity => {
            let keys: Vec<_> = spec
                .keys
                .as_ref()
                .map(|k| k.iter().map(|(name, ty)| (name.clone(), *ty)).collect())
                .unwrap_or_default();
            if spec.ty == ColumnType::EntityList {
                let layout = list_layout(&keys);
                TypeCheck::EntityList { keys, layout }
            } else {
                TypeCheck::Entity { keys }
            }
        }
    };

    let type_detail = match &parse {
        TypeCheck::Date { formats } => format!("date ({})", formats.join(" | ")),
        TypeCheck::Boolean { truthy, falsy } => {
            format!("boolean ({} / {})", truthy.join(","), falsy.join(","))
        }
        TypeCheck::EntityList { keys, .. } | TypeCheck::Entity { keys } if !keys.is_empty() => {
            format!(
                "{} with keys {}",
                spec.ty.as_str(),
                keys.iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        _ => spec.ty.as_str().to_owned(),
    };

    let required = spec.required.then(|| {
        catalog.add(
            format!("{col}.required"),
            Some(col),
            RuleKind::Required,
            sev,
            "not empty".into(),
        )
    });
    let type_rule = (spec.ty != ColumnType::String).then(|| {
        catalog.add(
            format!("{col}.type"),
            Some(col),
            RuleKind::Type,
            sev,
            type_detail,
        )
    });

    let mut bound = |which: &str,
                     value: &Option<Spanned<toml::Value>>,
                     kind: RuleKind,
                     op: &str,
                     catalog: &mut Catalog| {
        let value = value.as_ref()?;
        let b = convert_bound(col, which, spec.ty, value, problems)?;
        let shown = match b {
            Bound::Num(x) => format!("{op} {x}"),
            Bound::Date(d) => format!("{op} {d}"),
        };
        Some((
            b,
            catalog.add(format!("{col}.{which}"), Some(col), kind, sev, shown),
        ))
    };
    let min = bound("min", &spec.min, RuleKind::Min, ">=", catalog);
    let max = bound("max", &spec.max, RuleKind::Max, "<=", catalog);

    let length = (spec.min_length.is_some() || spec.max_length.is_some()).then(|| {
        let mut detail = String::from("length");
        if let Some(lo) = spec.min_length {
            let _ = write!(detail, " >= {lo}");
        }
        if let Some(hi) = spec.max_length {
            let _ = write!(detail, " <= {hi}");
        }
        (
            spec.min_length,
            spec.max_length,
            catalog.add(
                format!("{col}.length"),
                Some(col),
                RuleKind::Length,
                sev,
                detail,
            ),
        )
    });

    let pattern = spec.pattern.as_ref().and_then(|p| {
        // Parse the pattern as written so a syntax error points into it,
        // then anchor it: a pattern must match the whole field. The matcher
        // is regex's own engine, built directly so that each row checker
        // can own its search cache (`regex::Regex` shares one pool, a lock
        // per match for every thread but the first); parsing, not building
        // a `regex::Regex` as well, spares compiling every pattern twice.
        let built = regex_automata::util::syntax::parse(p.get_ref())
            .map_err(|err| err.to_string())
            .and_then(|_| {
                // The one-pass DFA and the backtracker find capture groups,
                // which a check never asks for: they are not built.
                regex_automata::meta::Regex::builder()
                    .configure(
                        regex_automata::meta::Config::new()
                            .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
                            .onepass(false)
                            .backtrack(false),
                    )
                    .build(&format!("^(?:{})$", p.get_ref()))
                    .map_err(|err| match err.size_limit() {
                        Some(limit) => {
                            format!("compiled, it would exceed the size limit of {limit} bytes")
                        }
                        None => err.to_string(),
                    })
            });
        match built {
            Ok(re) => Some((
                re,
                catalog.add(
                    format!("{col}.pattern"),
                    Some(col),
                    RuleKind::Pattern,
                    sev,
                    p.get_ref().clone(),
                ),
            )),
            Err(err) => {
                let reason = err.replace('\n', "\n      ");
                problems.span(
                    &p.span(),
                    format!("column `{col}`: invalid pattern: {reason}"),
                );
                None
            }
        }
    });

    let allowed = spec.allowed.as_ref().map(|values| {
        (
            values.iter().cloned().collect(),
            catalog.add(
                format!("{col}.allowed"),
                Some(col),
                RuleKind::Allowed,
                sev,
                values.join(", "),
            ),
        )
    });

    let unique = spec.unique.then(|| {
        catalog.add(
            format!("{col}.unique"),
            Some(col),
            RuleKind::Unique,
            sev,
            "no repeated value".into(),
        )
    });

    Column {
        name: col.to_owned(),
        ty: spec.ty,
        parse,
        required,
        type_rule,
        min,
        max,
        length,
        pattern,
        allowed,
        unique,
    }
}

fn convert_bound(
    col: &str,
    which: &str,
    ty: ColumnType,
    value: &Spanned<toml::Value>,
    problems: &mut Problems<'_>,
) -> Option<Bound> {
    let span = value.span();
    match (ty, value.get_ref()) {
        (ColumnType::Integer | ColumnType::Number, toml::Value::Integer(i)) => {
            Some(Bound::Num(*i as f64))
        }
        (ColumnType::Integer | ColumnType::Number, toml::Value::Float(x)) => Some(Bound::Num(*x)),
        (ColumnType::Date, toml::Value::String(s)) => {
            match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => Some(Bound::Date(d)),
                Err(_) => {
                    problems.span(&span, format!("column `{col}`: `{which}` must be a date written YYYY-MM-DD, found {s:?}"));
                    None
                }
            }
        }
        (ColumnType::Date, toml::Value::Datetime(dt)) => match dt.date {
            Some(d) => {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                    .map(Bound::Date)
            }
            None => {
                problems.span(&span, format!("column `{col}`: `{which}` must be a date"));
                None
            }
        },
        (ColumnType::Integer | ColumnType::Number | ColumnType::Date, other) => {
            let expected = if ty == ColumnType::Date {
                "a date"
            } else {
                "a number"
            };
            problems.span(
                &span,
                format!(
                    "column `{col}`: `{which}` must be {expected}, found a {}",
                    other.type_str()
                ),
            );
            None
        }
        (other, _) => {
            problems.span(
                &span,
                format!(
                    "column `{col}`: `{which}` applies to integer, number and date columns, not {} (use min_length/max_length for text)",
                    other.as_str()
                ),
            );
            None
        }
    }
}

fn valid_date_format(format: &str) -> bool {
    use chrono::format::{Item, StrftimeItems};
    let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
    !items.iter().any(|i| matches!(i, Item::Error))
        && items
            .iter()
            .any(|i| !matches!(i, Item::Literal(_) | Item::Space(_)))
}

/// The byte-for-byte layout of lists with these keys, when every key's
/// type is one the layout reads in place (integer or string).
fn list_layout(keys: &[(String, KeyType)]) -> Option<ListLayout> {
    let kinds = keys
        .iter()
        .map(|(name, ty)| match ty {
            KeyType::Integer => Some((name.as_str(), PlainKind::Int)),
            KeyType::String => Some((name.as_str(), PlainKind::Str)),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    ListLayout::new(kinds)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::rules::{RuleFileError, RuleSet};

    fn problems(text: &str) -> Vec<(usize, usize, String)> {
        match RuleSet::from_source(Path::new("t.toml"), text) {
            Ok(_) => Vec::new(),
            Err(RuleFileError::Invalid { problems, .. }) => problems
                .into_iter()
                .map(|p| (p.line, p.column, p.message))
                .collect(),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn compiles_a_small_rule_file() {
        let set = RuleSet::from_source(
            Path::new("t.toml"),
            r#"
[file]
max_quarantined_fraction = 0.1

[columns.id]
type = "integer"
required = true
min = 1
unique = true

[columns.day]
type = "date"
min = "1900-01-01"

[[rules]]
name = "recent"
expr = "day is null or year(day) > 1950"
severity = "warn"
"#,
        )
        .unwrap();
        let names: Vec<_> = set.catalog.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "csv.field_count",
                "csv.empty_record",
                "csv.quotes",
                "csv.utf8",
                "csv.nul",
                "csv.too_large",
                "promotion.existing_id",
                "file.header",
                "id.required",
                "id.type",
                "id.min",
                "id.unique",
                "day.type",
                "day.min",
                "recent"
            ]
        );
        assert_eq!(set.file.required_columns, ["id", "day"]);
        assert_eq!(set.row_rules[0].reads, [1]);
    }

    #[test]
    fn reports_every_problem_with_line_and_column() {
        let text = r#"[file]
delimiter = ";;"

[columns.id]
type = "integr"

[columns.name]
maxx = 3
pattern = "(["

[columns.when]
type = "date"
min = 5

[[rules]]
name = "r1"
expr = "nme == 'x'"

[extra]
"#;
        let found = problems(text);
        let at: Vec<_> = found.iter().map(|(l, c, _)| (*l, *c)).collect();
        assert_eq!(
            at,
            vec![(2, 13), (5, 8), (8, 1), (13, 7), (17, 9), (19, 2)],
            "{found:#?}"
        );
        let all = found
            .iter()
            .map(|(_, _, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        for needle in [
            "delimiter must be one ASCII character",
            "unknown variant `integr`",
            "unknown field `maxx`",
            "`min` must be a date",
            "in rule `r1`: no column named 'nme'",
            "unknown section `extra`",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn reports_bad_patterns_misplaced_keys_and_duplicate_rule_names() {
        let found = problems(
            r#"
[columns.code]
pattern = "(["
formats = ["%Y"]
min = 1

[columns.other]
pattern = "x+"

[[rules]]
name = "other.pattern"
expr = "true"
"#,
        );
        let all = found
            .iter()
            .map(|(_, _, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        for needle in [
            "invalid pattern",
            "`formats` applies only to date columns",
            "`min` applies to integer, number and date columns",
            "a rule named `other.pattern` is already defined",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn reports_toml_syntax_errors() {
        let found = problems("[columns.id\ntype = 1\n");
        assert!(!found.is_empty());
        assert_eq!(found[0].0, 1);
    }
}
