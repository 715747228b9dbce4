//! The store's normalized movie model: accepted CSV rows become `movies`
//! rows plus `genres`, `companies` and the two mapping tables.
//!
//! This mapping is deliberately separate from the reference engine: the
//! reference reads the CSV columns through the rule file's expressions, the
//! store answers through SQL over these tables, and the diff compares them.

use crate::report::NameConflict;

use std::collections::{BTreeSet, HashMap};

use chrono::Datelike;

use crate::check::header::HeaderBinding;
use crate::check::row::typed_value;
use crate::fields::literal::{self, Literal};
use crate::fields::value::Value;
use crate::rules::RuleSet;

/// CSV columns the model reads; `id`, `title`, `genres` and
/// `production_companies` must be declared in the rule file.
pub const MODEL_COLUMNS: [&str; 14] = [
    "id",
    "title",
    "release_date",
    "budget",
    "revenue",
    "popularity",
    "runtime",
    "vote_average",
    "vote_count",
    "status",
    "original_language",
    "imdb_id",
    "genres",
    "production_companies",
];

/// One `movies` row with its links.
#[derive(Debug, Clone, PartialEq)]
pub struct Movie {
    /// TMDB id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// ISO release date.
    pub release_date: Option<String>,
    /// Year of the release date.
    pub release_year: Option<i32>,
    /// Budget in dollars.
    pub budget: Option<i64>,
    /// Revenue in dollars.
    pub revenue: Option<i64>,
    /// TMDB popularity.
    pub popularity: Option<f64>,
    /// Minutes.
    pub runtime: Option<f64>,
    /// Mean vote.
    pub vote_average: Option<f64>,
    /// Votes.
    pub vote_count: Option<i64>,
    /// Release status.
    pub status: Option<String>,
    /// ISO 639-1 code.
    pub original_language: Option<String>,
    /// IMDb id.
    pub imdb_id: Option<String>,
    /// Distinct genre ids.
    pub genre_ids: Vec<i64>,
    /// Distinct company ids.
    pub company_ids: Vec<i64>,
}

/// The rows of one batch, normalized.
#[derive(Debug, Clone, Default)]
pub struct ModelBatch {
    /// Movies in file order.
    pub movies: Vec<Movie>,
    /// Genre id to its first-seen name, in first-seen order.
    pub genres: Vec<(i64, String)>,
    /// Company id to its first-seen name, in first-seen order.
    pub companies: Vec<(i64, String)>,
    /// Ids seen with two names.
    pub conflicts: Vec<NameConflict>,
    /// `(movie id, line, original record bytes)`, when a promotion needs them.
    pub sources: Vec<(i64, u64, Vec<u8>)>,
    genre_index: HashMap<i64, usize>,
    company_index: HashMap<i64, usize>,
}

/// The model needs a column the rule file does not declare.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the store model needs column `{0}`, which the rule file does not declare")]
pub struct MissingModelColumn(pub String);

/// Positions of the model's columns among the declared columns.
#[derive(Debug, Clone)]
pub struct ModelColumns {
    positions: Vec<Option<usize>>,
}

impl ModelColumns {
    /// Resolves the model's columns in a rule set.
    pub fn resolve(rules: &RuleSet) -> Result<ModelColumns, MissingModelColumn> {
        let positions: Vec<Option<usize>> = MODEL_COLUMNS
            .iter()
            .map(|c| rules.column_index(c))
            .collect();
        for required in ["id", "title", "genres", "production_companies"] {
            let i = MODEL_COLUMNS
                .iter()
                .position(|c| *c == required)
                .unwrap_or(0);
            if positions[i].is_none() {
                return Err(MissingModelColumn(required.to_owned()));
            }
        }
        Ok(ModelColumns { positions })
    }
}

impl ModelBatch {
    /// Adds one accepted record. `fields` holds the raw text of each
    /// declared column (`None` when absent from the file). Returns false
    /// when the record has no usable id (it cannot become a movie).
    pub fn add(
        &mut self,
        rules: &RuleSet,
        columns: &ModelColumns,
        line: u64,
        fields: &[Option<&str>],
    ) -> bool {
        let text = |name: &str| -> Option<&str> {
            let i = MODEL_COLUMNS.iter().position(|c| *c == name)?;
            let declared = columns.positions[i]?;
            fields[declared].filter(|t| !t.is_empty())
        };
        let typed = |name: &str| -> Value<'_> {
            let Some(i) = MODEL_COLUMNS.iter().position(|c| *c == name) else {
                return Value::Null;
            };
            match (columns.positions[i], text(name)) {
                (Some(declared), Some(t)) => {
                    typed_value(&rules.columns[declared].parse, t).unwrap_or(Value::Null)
                }
                _ => Value::Null,
            }
        };
        let int = |name: &str| match typed(name) {
            Value::Int(i) => Some(i),
            _ => None,
        };
        let num = |name: &str| typed(name).as_f64();
        let string = |name: &str| text(name).map(str::to_owned);
        let Some(id) = int("id") else { return false };
        let date = match typed("release_date") {
            Value::Date(d) => Some(d),
            _ => None,
        };
        let genre_ids = self.link("genres", text("genres"), line);
        let company_ids = self.link("production_companies", text("production_companies"), line);
        self.movies.push(Movie {
            id,
            title: string("title").unwrap_or_default(),
            release_date: date.map(|d| d.to_string()),
            release_year: date.map(|d| d.year()),
            budget: int("budget"),
            revenue: int("revenue"),
            popularity: num("popularity"),
            runtime: num("runtime"),
            vote_average: num("vote_average"),
            vote_count: int("vote_count"),
            status: string("status"),
            original_language: string("original_language"),
            imdb_id: string("imdb_id"),
            genre_ids,
            company_ids,
        });
        true
    }

    /// Reads `(id, name)` entities from a list field, records new ids and
    /// name conflicts, and returns the distinct ids in list order.
    fn link(&mut self, column: &str, text: Option<&str>, line: u64) -> Vec<i64> {
        let Some(Ok(Literal::List(items))) = text.map(literal::parse) else {
            return Vec::new();
        };
        let mut ids = Vec::new();
        let mut seen = BTreeSet::new();
        for item in &items {
            let (Some(Literal::Int(id)), Some(Literal::Str(name))) =
                (item.get("id"), item.get("name"))
            else {
                continue;
            };
            if seen.insert(*id) {
                ids.push(*id);
            }
            let (table, entries, index) = if column == "genres" {
                ("genres", &mut self.genres, &mut self.genre_index)
            } else {
                ("companies", &mut self.companies, &mut self.company_index)
            };
            match index.get(id) {
                None => {
                    index.insert(*id, entries.len());
                    entries.push((*id, name.to_string()));
                }
                Some(&at) if entries[at].1 != *name => {
                    let conflict = NameConflict {
                        table: table.to_owned(),
                        id: *id,
                        kept: entries[at].1.clone(),
                        other: name.to_string(),
                        line,
                    };
                    if !self.conflicts.contains(&conflict) {
                        self.conflicts.push(conflict);
                    }
                }
                Some(_) => {}
            }
        }
        ids
    }
}

/// Raw text of every declared column of a record whose field `i` is
/// `field(i)`, `None` when the column is absent from the file.
pub fn declared_fields<'a>(
    binding: &HeaderBinding,
    field: impl Fn(usize) -> Option<&'a [u8]>,
) -> Vec<Option<&'a str>> {
    binding
        .field_of
        .iter()
        .map(|f| f.and_then(&field).and_then(|b| std::str::from_utf8(b).ok()))
        .collect()
}

/// Typed values of every declared column (null when empty, absent or invalid).
pub fn declared_values<'a>(rules: &RuleSet, fields: &[Option<&'a str>]) -> Vec<Value<'a>> {
    rules
        .columns
        .iter()
        .zip(fields)
        .map(|(column, field)| match field {
            Some(text) if !text.is_empty() => {
                typed_value(&column.parse, text).unwrap_or(Value::Null)
            }
            _ => Value::Null,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn normalizes_rows_and_reports_an_id_with_two_names() {
        let rules = RuleSet::from_source(
            Path::new("t.toml"),
            r#"
[columns.id]
type = "integer"
[columns.title]
type = "string"
[columns.release_date]
type = "date"
[columns.budget]
type = "integer"
[columns.genres]
type = "entity_list"
[columns.production_companies]
type = "entity_list"
"#,
        )
        .unwrap();
        let columns = ModelColumns::resolve(&rules).unwrap();
        let mut batch = ModelBatch::default();
        let rows: [[&str; 6]; 2] = [
            [
                "1",
                "Toy Story",
                "1995-10-30",
                "30000000",
                "[{'id': 16, 'name': 'Animation'}, {'id': 16, 'name': 'Animation'}]",
                "[{'name': 'Pixar', 'id': 3}]",
            ],
            [
                "2",
                "Other",
                "",
                "",
                "[{'id': 16, 'name': 'Animated'}]",
                "[]",
            ],
        ];
        for (i, row) in rows.iter().enumerate() {
            let fields: Vec<Option<&str>> = row.iter().map(|f| Some(*f)).collect();
            batch.add(&rules, &columns, i as u64 + 2, &fields);
        }
        let toy = &batch.movies[0];
        assert_eq!(
            (toy.id, toy.release_year, toy.budget),
            (1, Some(1995), Some(30_000_000))
        );
        assert_eq!(toy.genre_ids, [16], "a repeated genre links once");
        assert_eq!(toy.company_ids, [3]);
        assert_eq!(batch.movies[1].release_date, None);
        assert_eq!(batch.genres, [(16, "Animation".to_owned())]);
        assert_eq!(
            batch.conflicts,
            [NameConflict {
                table: "genres".into(),
                id: 16,
                kept: "Animation".into(),
                other: "Animated".into(),
                line: 3,
            }]
        );
    }

    #[test]
    fn the_model_needs_its_key_columns() {
        let rules = RuleSet::from_source(Path::new("t.toml"), "[columns.id]\ntype = \"integer\"\n")
            .unwrap();
        assert_eq!(
            ModelColumns::resolve(&rules).unwrap_err().to_string(),
            "the store model needs column `title`, which the rule file does not declare"
        );
    }
}
