//! TOML text to [`RuleFileSpec`], collecting every error instead of stopping
//! at the first: each section, column and rule is deserialized on its own,
//! with spans kept so errors point at the offending key.

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::error::Problems;
use super::spec::{ColumnSpec, RuleFileSpec};

const SECTIONS: &str = "dataset, file, columns, rules, reference, aggregates, promotion, tables";

/// Parses rule-file text; problems go to `problems`, and whatever parsed
/// cleanly is returned so that later stages can report their own errors too.
pub(crate) fn parse(source: &str, problems: &mut Problems<'_>) -> RuleFileSpec {
    let (root, syntax_errors) = DeTable::parse_recoverable(source);
    if !syntax_errors.is_empty() {
        for err in &syntax_errors {
            problems.toml(err, &(0..0));
        }
        // Deserializing a half-parsed document would only add noise.
        return RuleFileSpec::default();
    }
    let mut spec = RuleFileSpec::default();
    for (key, value) in root.into_inner() {
        let key_span = key.span();
        match key.get_ref().as_ref() {
            "dataset" => {
                if let Some(d) = deserialize(value, problems) {
                    spec.dataset = d;
                }
            }
            "file" => {
                if let Some(f) = deserialize(value, problems) {
                    spec.file = f;
                }
            }
            "columns" => (spec.columns, spec.broken_columns) = columns(value, problems),
            "rules" => spec.rules = array_of(value, "rules", problems),
            "reference" => {
                if let Some(r) = deserialize(value, problems) {
                    spec.reference = r;
                }
            }
            "aggregates" => spec.aggregates = array_of(value, "aggregates", problems),
            "tables" => spec.tables = array_of(value, "tables", problems),
            "promotion" => {
                if let Some(p) = deserialize(value, problems) {
                    spec.promotion = p;
                }
            }
            other => problems.span(
                &key_span,
                format!("unknown section `{other}`, expected one of {SECTIONS}"),
            ),
        }
    }
    spec
}

fn deserialize<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
    problems: &mut Problems<'_>,
) -> Option<T> {
    let span = value.span();
    T::deserialize(ValueDeserializer::from(value))
        .map_err(|err| problems.toml(&err, &span))
        .ok()
}

/// The columns that loaded, and the names of those that did not.
fn columns(
    value: Spanned<DeValue<'_>>,
    problems: &mut Problems<'_>,
) -> (Vec<(Spanned<String>, ColumnSpec)>, Vec<String>) {
    let span = value.span();
    let DeValue::Table(table) = value.into_inner() else {
        problems.span(
            &span,
            "`columns` must be a table of `[columns.NAME]` tables",
        );
        return (Vec::new(), Vec::new());
    };
    let mut out = Vec::new();
    let mut broken = Vec::new();
    for (name, column) in table {
        let name_span = name.span();
        let name = name.into_inner().into_owned();
        if !column.get_ref().is_table() {
            problems.span(
                &column.span(),
                format!("column `{name}` must be a table, like [columns.{name}]"),
            );
            continue;
        }
        match deserialize::<ColumnSpec>(column, problems) {
            Some(spec) => out.push((Spanned::new(name_span, name), spec)),
            None => broken.push(name),
        }
    }
    (out, broken)
}

fn array_of<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
    section: &str,
    problems: &mut Problems<'_>,
) -> Vec<T> {
    let span = value.span();
    let DeValue::Array(items) = value.into_inner() else {
        problems.span(
            &span,
            format!("`{section}` must be an array of tables, written [[{section}]]"),
        );
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| deserialize::<T>(item, problems))
        .collect()
}
