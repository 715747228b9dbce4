//! The rule file as written: serde types that mirror the TOML, with no logic.
//!
//! Every table denies unknown keys so a typo is an error, not a silently
//! ignored rule. Values whose meaning depends on other keys (bounds, patterns,
//! expressions) keep their source span so the compiler can point at them.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// `[dataset]`: what the file is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Short name shown in reports.
    pub name: Option<String>,
    /// Free text for people reading the rules.
    pub description: Option<String>,
}

/// `[file]`: how to read the file and the file-level rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Field delimiter, one ASCII character.
    #[serde(default = "default_delimiter")]
    pub delimiter: Spanned<String>,
    /// Header columns that must be present; default: every declared column.
    pub required_columns: Option<Vec<Spanned<String>>>,
    /// What a header column without a rule does: `report` (default) or `fail`.
    #[serde(default)]
    pub unexpected_columns: UnexpectedColumns,
    /// The file fails when it has fewer data rows than this.
    #[serde(default = "default_min_rows")]
    pub min_rows: u64,
    /// The file fails when more than this fraction of its rows is quarantined.
    pub max_quarantined_fraction: Option<Spanned<f64>>,
    /// Spellings of a missing value (such as `NA` or `\\N`), besides the
    /// empty field, which is always null.
    #[serde(default)]
    pub null_values: Vec<Spanned<String>>,
    /// Keys of several columns whose combination no two accepted rows may
    /// share, such as `[["country", "year"]]`.
    #[serde(default)]
    pub unique: Vec<Vec<Spanned<String>>>,
}

impl Default for FileSpec {
    fn default() -> Self {
        FileSpec {
            delimiter: Spanned::new(0..0, default_delimiter_str()),
            required_columns: None,
            unexpected_columns: UnexpectedColumns::default(),
            min_rows: default_min_rows(),
            max_quarantined_fraction: None,
            null_values: Vec::new(),
            unique: Vec::new(),
        }
    }
}

fn default_delimiter_str() -> String {
    ",".to_owned()
}

fn default_delimiter() -> Spanned<String> {
    Spanned::new(0..0, default_delimiter_str())
}

fn default_min_rows() -> u64 {
    1
}

/// What to do with header columns that no rule declares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnexpectedColumns {
    /// List them in the report; the file can still pass.
    #[default]
    Report,
    /// Fail the file.
    Fail,
}

/// How bad a failed rule is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The row is quarantined.
    #[default]
    Error,
    /// The row is kept and the failure counted.
    Warn,
}

impl Severity {
    /// The spelling used in rule files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
        }
    }
}

/// The declared type of a column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Any text.
    #[default]
    String,
    /// A whole number that fits in 64 bits.
    Integer,
    /// A finite decimal or scientific number.
    Number,
    /// One of the configured true/false spellings.
    Boolean,
    /// A calendar date in one of the configured formats.
    Date,
    /// A list of objects (Python literal or JSON), such as TMDB `genres`.
    EntityList,
    /// One object (Python literal or JSON), or empty.
    Entity,
    /// Any JSON document.
    Json,
}

impl ColumnType {
    /// The spelling used in rule files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Integer => "integer",
            ColumnType::Number => "number",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
            ColumnType::EntityList => "entity_list",
            ColumnType::Entity => "entity",
            ColumnType::Json => "json",
        }
    }
}

/// The type of a key inside an entity (`keys = { id = "integer" }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// An integer literal.
    Integer,
    /// A number literal (integer or float).
    Number,
    /// A string literal.
    String,
    /// A boolean literal.
    Boolean,
    /// Any value, including null.
    Any,
}

/// `[columns.NAME]`: the rules of one column.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The declared type; `string` when absent.
    #[serde(default, rename = "type")]
    pub ty: ColumnType,
    /// An empty field is a violation.
    #[serde(default)]
    pub required: bool,
    /// Severity of every rule of this column.
    #[serde(default)]
    pub severity: Severity,
    /// Smallest allowed value (number, or date string for dates).
    pub min: Option<Spanned<toml::Value>>,
    /// Largest allowed value (number, or date string for dates).
    pub max: Option<Spanned<toml::Value>>,
    /// Fewest characters.
    pub min_length: Option<usize>,
    /// Most characters.
    pub max_length: Option<usize>,
    /// A regular expression the whole field must match.
    pub pattern: Option<Spanned<String>>,
    /// The field must be one of these values.
    pub allowed: Option<Vec<String>>,
    /// No two accepted rows may share a value.
    #[serde(default)]
    pub unique: bool,
    /// Spellings of true, for booleans.
    pub true_values: Option<Vec<String>>,
    /// Spellings of false, for booleans.
    pub false_values: Option<Vec<String>>,
    /// strftime formats, for dates; default `%Y-%m-%d`.
    pub formats: Option<Vec<Spanned<String>>>,
    /// Keys every entity must have, with their types.
    pub keys: Option<BTreeMap<String, KeyType>>,
    /// Free text for people reading the rules.
    pub description: Option<String>,
}

/// `[[rules]]`: one cross-field rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowRuleSpec {
    /// Unique name of the rule.
    pub name: Spanned<String>,
    /// A boolean expression that every row must satisfy.
    pub expr: Spanned<String>,
    /// What a failure does.
    #[serde(default)]
    pub severity: Severity,
    /// Free text for people reading the rules.
    pub description: Option<String>,
}

/// `[reference]`: defaults for the reference/diff stage.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// Default subset: a number of accepted rows, or `"all"`.
    pub subset: Option<Spanned<toml::Value>>,
    /// The rule file declares no aggregates on purpose: `diff` then passes
    /// without comparing figures, and says so.
    #[serde(default)]
    pub no_aggregates: bool,
}

/// `[promotion]`: how `dqgate run` promotes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionSpec {
    /// What to do with a record whose key production already holds.
    #[serde(default)]
    pub on_existing: OnExisting,
}

/// What an aggregate function computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggFn {
    /// Rows in the group (that pass the filter).
    Count,
    /// Sum of `expr` (0 when no row passes the filter).
    Sum,
    /// Mean of `expr` over non-null values.
    Avg,
    /// Smallest `expr`.
    Min,
    /// Largest `expr`.
    Max,
    /// The `value` column of the parent row with the largest `by`; ties go
    /// to the lowest `tie_break` (only in aggregates with `from`).
    Argmax,
}

/// One group-by dimension or label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionSpec {
    /// Output column name.
    pub name: Spanned<String>,
    /// A plain column (of the file, or of the parent aggregate).
    pub column: Option<Spanned<String>>,
    /// A value derived from columns, such as `year(release_date)`.
    pub expr: Option<Spanned<String>>,
    /// A list column whose elements each form a group (the row is exploded).
    pub explode: Option<Spanned<String>>,
    /// With `explode`: the element key that gives the value.
    pub field: Option<Spanned<String>>,
}

/// One measure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureSpec {
    /// Output column name.
    pub name: Spanned<String>,
    /// The aggregate function.
    pub agg: AggFn,
    /// The value aggregated (not for `count` or `argmax`).
    pub expr: Option<Spanned<String>>,
    /// Only rows where this is true count.
    pub filter: Option<Spanned<String>>,
    /// `argmax`: the parent column to maximize.
    pub by: Option<Spanned<String>>,
    /// `argmax`: the parent column returned.
    pub value: Option<Spanned<String>>,
    /// `argmax`: ties go to the lowest value of this column (default `value`).
    pub tie_break: Option<Spanned<String>>,
    /// Allowed absolute difference between reference and store.
    pub abs_tolerance: Option<f64>,
    /// Allowed relative difference between reference and store.
    pub rel_tolerance: Option<f64>,
}

/// `[[aggregates]]`: one business figure computed twice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// Unique name; also the default query file name.
    pub name: Spanned<String>,
    /// Free text.
    pub description: Option<String>,
    /// SQL file run by the store, relative to the rule file's folder.
    pub query: Option<Spanned<String>>,
    /// Aggregate over the output of another aggregate instead of the rows.
    pub from: Option<Spanned<String>>,
    /// Only rows where this is true enter the aggregate.
    #[serde(rename = "where")]
    pub filter: Option<Spanned<String>>,
    /// The group-by key.
    pub dimensions: Vec<DimensionSpec>,
    /// Values shown alongside the key (such as a name for an id).
    #[serde(default)]
    pub labels: Vec<DimensionSpec>,
    /// The aggregated values.
    pub measures: Vec<MeasureSpec>,
}

/// A whole rule file, after every section deserialized.
#[derive(Debug, Clone, Default)]
pub struct RuleFileSpec {
    /// `[dataset]`.
    pub dataset: DatasetSpec,
    /// `[file]`.
    pub file: FileSpec,
    /// `[columns.*]` in file order.
    pub columns: Vec<(Spanned<String>, ColumnSpec)>,
    /// `[[rules]]` in file order.
    pub rules: Vec<RowRuleSpec>,
    /// `[reference]`.
    pub reference: ReferenceSpec,
    /// `[[aggregates]]` in file order.
    pub aggregates: Vec<AggregateSpec>,
    /// `[promotion]`.
    pub promotion: PromotionSpec,
    /// `[[tables]]` in file order: the store's model.
    pub tables: Vec<TableSpec>,
    /// Columns whose table did not load (their error is reported once;
    /// what refers to them is not reported again).
    pub broken_columns: Vec<String>,
}

/// `[[tables]]`: one table of the store's model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// Table name in the store.
    pub name: Spanned<String>,
    /// A list column: the table gets one row per element of the list.
    pub explode: Option<Spanned<String>>,
    /// The columns that identify a row.
    pub key: Vec<Spanned<String>>,
    /// The table's columns, in order.
    pub columns: Vec<TableColumnSpec>,
}

/// One column of a model table: a CSV column, an expression over the
/// record, or a field of the exploded list's element.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableColumnSpec {
    /// Column name in the store.
    pub name: Spanned<String>,
    /// The declared CSV column it holds.
    pub column: Option<Spanned<String>>,
    /// An expression over the record's columns.
    pub expr: Option<Spanned<String>>,
    /// A field of the exploded element.
    pub field: Option<Spanned<String>>,
    /// The field's type, when the list column declares no `keys`.
    #[serde(rename = "type")]
    pub ty: Option<Spanned<ColumnType>>,
}

/// What promotion does with a record whose key production already holds.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Deserialize,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum OnExisting {
    /// Replace the record's rows (in every table that belongs to it).
    #[default]
    Update,
    /// Keep the production rows; the batch's record is not promoted.
    Skip,
    /// Quarantine the batch's record, naming the batch that holds the key.
    Reject,
}

impl OnExisting {
    /// The spelling used in rule files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            OnExisting::Update => "update",
            OnExisting::Skip => "skip",
            OnExisting::Reject => "reject",
        }
    }
}
