//! What an engine must provide to be a store: a small driver interface
//! (statements, parameterized reads, bulk loads, the write lock, read-only
//! audit queries, introspection and the engine's column types). Everything
//! else, from the schema to promotion, is written once on top of it.

use super::{QueryOutput, StoreError};
use crate::rules::model::SqlType;

/// A value sent to the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Param<'a> {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Num(f64),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Bytes(&'a [u8]),
}

/// A value read back from the engine.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Datum {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Num(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl Datum {
    /// The value as an integer (0 when it is not one).
    pub(super) fn int(&self) -> i64 {
        match self {
            Datum::Int(i) => *i,
            Datum::Num(x) => *x as i64,
            Datum::Text(t) => t.parse().unwrap_or(0),
            _ => 0,
        }
    }

    /// The value as a count (0 when negative or not a number).
    pub(super) fn count(&self) -> u64 {
        u64::try_from(self.int()).unwrap_or(0)
    }

    /// The value as text (empty when null).
    pub(super) fn text(self) -> String {
        match self {
            Datum::Text(t) => t,
            Datum::Int(i) => i.to_string(),
            Datum::Num(x) => x.to_string(),
            Datum::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
            Datum::Null => String::new(),
        }
    }

    /// The value as bytes.
    pub(super) fn bytes(self) -> Vec<u8> {
        match self {
            Datum::Bytes(b) => b,
            other => other.text().into_bytes(),
        }
    }
}

/// Rows of two text columns as pairs, such as the `(name, type)` rows of
/// [`Driver::table_columns`].
pub(super) fn text_pairs(rows: Vec<Vec<Datum>>) -> Vec<(String, String)> {
    rows.into_iter()
        .map(|r| {
            let mut r = r.into_iter().map(Datum::text);
            (r.next().unwrap_or_default(), r.next().unwrap_or_default())
        })
        .collect()
}

/// Rows for a bulk load, produced one at a time.
pub(super) type RowSource<'a> = dyn Iterator<Item = Vec<Param<'a>>> + 'a;

/// One engine.
pub(super) trait Driver {
    /// `sqlite` or `postgres`: picks per-engine query files.
    fn engine(&self) -> &'static str;
    /// Where the store is, for messages (never with credentials).
    fn location(&self) -> String;
    /// The engine's column type for a model type.
    fn column_type(&self, ty: SqlType) -> &'static str;
    /// The engine's types for the store's own tables: `(integer, bytes,
    /// auto-numbered primary key)`.
    fn own_types(&self) -> (&'static str, &'static str, &'static str);
    /// The schema of this connection's temporary tables and views.
    fn temp_schema(&self) -> &'static str;
    /// Runs statements that return nothing.
    fn execute(&mut self, sql: &str, doing: &'static str) -> Result<(), StoreError>;
    /// Runs one statement with `$1`, `$2`... parameters and returns its rows.
    fn rows(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        doing: &'static str,
    ) -> Result<Vec<Vec<Datum>>, StoreError>;
    /// Loads rows into `table`'s `columns`; returns how many.
    fn load(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &mut RowSource<'_>,
    ) -> Result<u64, StoreError>;
    /// Starts the transaction of a schema change, under the engine's
    /// migration lock, so two processes never migrate at once.
    fn begin_migration(&mut self) -> Result<(), StoreError>;
    /// Starts the promotion's transaction, taking the store's write lock.
    fn begin_write(&mut self) -> Result<(), StoreError>;
    /// Commits the open transaction.
    fn commit(&mut self, doing: &'static str) -> Result<(), StoreError>;
    /// Abandons the open transaction.
    fn rollback(&mut self) -> Result<(), StoreError>;
    /// Runs an audit query under the engine's read-only guards; nothing it
    /// attempts can change the store. `in_transaction`: inside the
    /// promotion's transaction.
    fn audit(
        &mut self,
        name: &str,
        sql: &str,
        in_transaction: bool,
    ) -> Result<QueryOutput, StoreError>;
    /// The columns of a table in the store's schema, in order, with the
    /// engine's type names; empty when there is no such table.
    fn table_columns(&mut self, table: &str) -> Result<Vec<(String, String)>, StoreError>;
}
