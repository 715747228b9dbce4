//! Rule files: loading, compiling, and the compiled [`RuleSet`] that the
//! checker runs.
//!
//! A rule file is TOML (documented in `rules/README.md`). It is parsed into
//! [`spec`] types, then compiled once into a [`RuleSet`]: regexes built,
//! bounds converted to the column's type, expressions parsed and
//! type-checked, every rule given a name, a severity and an id. All problems
//! found on the way are reported together, each with its line and column.

pub mod aggregate;
mod compile;
pub mod error;
pub mod expr;
mod load;
pub mod model;
pub mod spec;
mod sql;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use error::Problems;

use crate::fields::list_layout::ListLayout;
pub use error::{Problem, RuleFileError};
pub use spec::{ColumnType, KeyType, Severity, UnexpectedColumns};

/// Index of a rule in [`RuleSet::catalog`].
pub type RuleId = usize;

/// What kind of check a rule is; shown in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// The record could not be read as CSV (ragged, bad quoting, bad UTF-8, too large).
    Csv,
    /// The file's header lacks required columns, so no row could be checked.
    Header,
    /// An empty field where a value is required.
    Required,
    /// A value that does not parse as the column's type.
    Type,
    /// A value below `min`.
    Min,
    /// A value above `max`.
    Max,
    /// A value whose length is out of bounds.
    Length,
    /// A value that does not match `pattern`.
    Pattern,
    /// A value outside `allowed`.
    Allowed,
    /// A value seen before in an accepted row.
    Unique,
    /// A cross-field expression that was false.
    Expression,
    /// A row that the promotion policy refuses.
    Promotion,
}

impl RuleKind {
    /// The spelling used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Csv => "csv",
            RuleKind::Header => "header",
            RuleKind::Required => "required",
            RuleKind::Type => "type",
            RuleKind::Min => "min",
            RuleKind::Max => "max",
            RuleKind::Length => "length",
            RuleKind::Pattern => "pattern",
            RuleKind::Allowed => "allowed",
            RuleKind::Unique => "unique",
            RuleKind::Expression => "expression",
            RuleKind::Promotion => "promotion",
        }
    }
}

/// Everything a report says about one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleInfo {
    /// Unique name, such as `budget.min` or `released_has_date`.
    pub name: String,
    /// The column the rule is about, if any.
    pub column: Option<String>,
    /// What kind of check it is.
    pub kind: RuleKind,
    /// What a failure does.
    pub severity: Severity,
    /// The rule in words, such as `>= 0` or the expression text.
    pub detail: String,
}

/// Built-in rules about the CSV structure of a record, present in every set.
#[derive(Debug, Clone, Copy)]
pub struct CsvRules {
    /// Wrong number of fields.
    pub field_count: RuleId,
    /// Every field empty (such as the `,,,,` rows of an Excel re-save).
    pub empty_record: RuleId,
    /// Unterminated quoted field or quote in an unquoted field.
    pub quotes: RuleId,
    /// A field that is not valid UTF-8.
    pub utf8: RuleId,
    /// A field holding a NUL byte, which text columns of stores cannot hold.
    pub nul: RuleId,
    /// A field or record larger than the configured limits.
    pub too_large: RuleId,
    /// The header lacks columns, so the record could not be checked.
    pub header: RuleId,
    /// The id is already in production and the policy is `reject`.
    pub existing_id: RuleId,
}

/// A bound converted to the column's type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// For integer and number columns.
    Num(f64),
    /// For date columns.
    Date(NaiveDate),
}

/// How a column's text becomes a typed value.
#[derive(Debug, Clone)]
pub enum TypeCheck {
    /// Any text.
    String,
    /// `i64`.
    Integer,
    /// Finite `f64`.
    Number,
    /// Configured spellings.
    Boolean {
        /// Spellings of true.
        truthy: Vec<String>,
        /// Spellings of false.
        falsy: Vec<String>,
    },
    /// A date in one of the formats, tried in order.
    Date {
        /// strftime formats.
        formats: Vec<String>,
    },
    /// A list of entities with the given keys.
    EntityList {
        /// Required keys and their types.
        keys: Vec<(String, KeyType)>,
        /// The usual text of such a list, where the keys allow one.
        layout: Option<ListLayout>,
    },
    /// One entity with the given keys, or empty.
    Entity {
        /// Required keys and their types.
        keys: Vec<(String, KeyType)>,
    },
    /// Any JSON.
    Json,
}

/// The compiled rules of one column.
#[derive(Debug, Clone)]
pub struct Column {
    /// Header name.
    pub name: String,
    /// Declared type.
    pub ty: ColumnType,
    /// How to parse it.
    pub parse: TypeCheck,
    /// Rule for empty values, when required.
    pub required: Option<RuleId>,
    /// Rule for values that fail the type.
    pub type_rule: Option<RuleId>,
    /// Lower bound and its rule.
    pub min: Option<(Bound, RuleId)>,
    /// Upper bound and its rule.
    pub max: Option<(Bound, RuleId)>,
    /// Length bounds in characters and their rule.
    pub length: Option<(Option<usize>, Option<usize>, RuleId)>,
    /// Anchored pattern and its rule.
    pub pattern: Option<(regex_automata::meta::Regex, RuleId)>,
    /// Allowed values and their rule (hashed with foldhash: every value
    /// of the column is looked up, and the set is the rule file's).
    pub allowed: Option<(HashSet<String, foldhash::fast::RandomState>, RuleId)>,
    /// Uniqueness rule.
    pub unique: Option<RuleId>,
}

/// A key of several columns that no two accepted rows may share.
#[derive(Debug, Clone)]
pub struct UniqueKey {
    /// Positions of its columns among the declared columns.
    pub columns: Vec<usize>,
    /// Its rule.
    pub rule: RuleId,
}

/// A compiled cross-field rule.
#[derive(Debug, Clone)]
pub struct RowRule {
    /// Its id in the catalog.
    pub id: RuleId,
    /// The compiled expression.
    pub expr: expr::Expr,
    /// Positions of the columns it reads, for violation messages.
    pub reads: Vec<usize>,
}

/// File-level rules.
#[derive(Debug, Clone)]
pub struct FileRules {
    /// Field delimiter.
    pub delimiter: u8,
    /// Header columns that must be present.
    pub required_columns: Vec<String>,
    /// What an undeclared header column does.
    pub unexpected_columns: UnexpectedColumns,
    /// Fewest data rows.
    pub min_rows: u64,
    /// Largest quarantined fraction.
    pub max_quarantined_fraction: Option<f64>,
    /// Spellings of a missing value besides the empty field.
    pub null_values: Vec<String>,
}

impl FileRules {
    /// Whether a field's text means "no value".
    pub fn is_null(&self, text: &[u8]) -> bool {
        text.is_empty() || self.null_values.iter().any(|n| n.as_bytes() == text)
    }
}

/// A loaded and compiled rule file.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// BLAKE3 digest of its bytes (hex).
    pub blake3: String,
    /// `[dataset].name`, if given.
    pub name: Option<String>,
    /// File-level rules.
    pub file: FileRules,
    /// Declared columns in file order.
    pub columns: Vec<Column>,
    /// Cross-field rules in file order.
    pub row_rules: Vec<RowRule>,
    /// Every rule, indexed by [`RuleId`].
    pub catalog: Vec<RuleInfo>,
    /// Ids of the built-in CSV rules.
    pub csv: CsvRules,
    /// Declared aggregates, parents before the aggregates built on them.
    pub aggregates: Vec<aggregate::Aggregate>,
    /// The default subset for the reference/diff stage.
    pub subset: aggregate::Subset,
    /// What promotion does with ids production already holds.
    pub on_existing: spec::OnExisting,
    /// Keys of several columns that must be unique, with their rules.
    pub unique_keys: Vec<UniqueKey>,
    /// The store's model; `None` when the rule file declares no tables
    /// and has no required unique column to derive one from.
    pub model: Option<model::Model>,
    /// The rule file declares no aggregates on purpose.
    pub no_aggregates: bool,
}

impl RuleSet {
    /// Reads, parses and compiles a rule file.
    pub fn load(path: &Path) -> Result<RuleSet, RuleFileError> {
        let bytes = std::fs::read(path).map_err(|source| RuleFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|err| RuleFileError::Invalid {
            path: path.to_owned(),
            problems: vec![Problem {
                line: 1,
                column: 1,
                message: format!("the file is not valid UTF-8 ({err})"),
            }],
        })?;
        Self::from_source(path, &text)
    }

    /// Parses and compiles rule-file text; `path` is used in messages.
    pub fn from_source(path: &Path, text: &str) -> Result<RuleSet, RuleFileError> {
        let mut problems = Problems::new(text);
        let spec = load::parse(text, &mut problems);
        let base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let set = compile::compile(spec, text, base_dir, &mut problems);
        problems.finish(path)?;
        Ok(RuleSet {
            path: path.to_owned(),
            blake3: blake3::hash(text.as_bytes()).to_hex().to_string(),
            ..set
        })
    }

    /// Position of a declared column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}
