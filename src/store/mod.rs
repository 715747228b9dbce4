//! The production store: where accepted rows are staged, where the
//! production queries run, and (later) where batches are promoted.
//!
//! SQLite is the embedded default (`sqlite://PATH`). The schema is created
//! and versioned by dqgate: migrations run when a store is opened, and a
//! store written by a newer dqgate is refused.

mod sqlite;

use std::path::PathBuf;
use std::time::Duration;

pub use sqlite::SqliteStore;

use crate::cell::Cell;
use crate::model::ModelBatch;

/// Schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// Which tables a query reads: the staged batch or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The `stg_` tables, seen under the production names.
    Staging,
    /// The production tables.
    Production,
}

/// The rows a query returned.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    /// Column names, as the query named them.
    pub columns: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<Cell>>,
    /// Wall time of the query.
    pub elapsed: Duration,
}

/// What staging loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageCounts {
    /// `stg_movies` rows.
    pub movies: u64,
    /// `stg_genres` rows.
    pub genres: u64,
    /// `stg_companies` rows.
    pub companies: u64,
    /// `stg_movie_genres` rows.
    pub movie_genres: u64,
    /// `stg_movie_companies` rows.
    pub movie_companies: u64,
}

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `--store` URL is not understood.
    #[error("unsupported store {url:?}: expected sqlite://PATH")]
    Url {
        /// The URL as given.
        url: String,
    },
    /// The store could not be opened.
    #[error("cannot open store {location}: {source}")]
    Open {
        /// Where it is.
        location: String,
        /// The driver's error.
        source: rusqlite::Error,
    },
    /// The store was written by a newer dqgate.
    #[error(
        "store {location} has schema version {found}, newer than this dqgate supports ({SCHEMA_VERSION}); upgrade dqgate"
    )]
    TooNew {
        /// Where it is.
        location: String,
        /// Its version.
        found: i64,
    },
    /// The batch holds a movie id twice.
    #[error(
        "the batch holds movie id {id} twice; declare `unique = true` on the id column so duplicates are quarantined"
    )]
    DuplicateMovie {
        /// The id.
        id: i64,
    },
    /// A query failed.
    #[error("query {name} failed: {source}")]
    Query {
        /// The aggregate whose query failed.
        name: String,
        /// The driver's error.
        source: rusqlite::Error,
    },
    /// Any other database error, with what was being done.
    #[error("{doing}: {source}")]
    Database {
        /// What dqgate was doing.
        doing: &'static str,
        /// The driver's error.
        source: rusqlite::Error,
    },
}

/// A production store.
pub trait Store {
    /// Where the store is, for messages (never with credentials).
    fn location(&self) -> String;
    /// Replaces the staged batch with `batch`, in one transaction.
    fn stage(&mut self, batch: &ModelBatch, batch_id: i64) -> Result<StageCounts, StoreError>;
    /// Runs a query against staging or production. `name` names it in errors.
    fn query(&mut self, name: &str, sql: &str, target: Target) -> Result<QueryOutput, StoreError>;
}

/// Opens the store named by a URL: `sqlite://PATH` or `sqlite::memory:`.
pub fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    if url == "sqlite::memory:" {
        return Ok(Box::new(SqliteStore::open_in_memory()?));
    }
    match url.strip_prefix("sqlite://") {
        Some(path) if !path.is_empty() => Ok(Box::new(SqliteStore::open(&PathBuf::from(path))?)),
        _ => Err(StoreError::Url {
            url: url.to_owned(),
        }),
    }
}
