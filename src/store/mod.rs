//! The production store: where accepted rows are staged, where the
//! production queries run, and (later) where batches are promoted.
//!
//! SQLite is the embedded default (`sqlite://PATH`). The schema is created
//! and versioned by dqgate: migrations run when a store is opened, and a
//! store written by a newer dqgate is refused.

mod postgres;
mod sqlite;

use std::path::PathBuf;
use std::time::Duration;

pub use postgres::{PostgresStore, redact};
pub use sqlite::SqliteStore;

use crate::cell::Cell;
use crate::model::ModelBatch;

/// Schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 2;

/// What promotion does with a movie id that production already holds.
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
    /// Replace the movie and its genre and company links.
    #[default]
    Update,
    /// Keep the production row; the batch's row is not promoted.
    Skip,
    /// Quarantine the batch's row, naming the batch that holds the id.
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

/// One row of the ledger, `dq_batches`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BatchEntry {
    /// Assigned by the store.
    pub batch_id: i64,
    /// The input file as given.
    pub file: String,
    /// Its sha256.
    pub sha256: String,
    /// The rule file's sha256.
    pub rules_sha256: String,
    /// The input's header, as a CSV line.
    pub header: String,
    /// Records read.
    pub rows_in: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Accepted records with warnings.
    pub warned: u64,
    /// Movies new to production.
    pub new_movies: u64,
    /// Movies that replaced a production row.
    pub updated_movies: u64,
    /// Movies not promoted because production holds them (`skip`).
    pub skipped_movies: u64,
    /// `pass` or `fail`.
    pub verdict: String,
    /// `agree`, `differ` or `not_run`.
    pub diff_outcome: String,
    /// Per-query timings as JSON: `{"genre_year": 4.2, ...}` in milliseconds.
    pub query_timings: String,
    /// `promoted`, `rejected` or `rolled_back`.
    pub status: String,
    /// Reasons as a JSON array.
    pub reasons: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 end time.
    pub finished_at: String,
}

/// How many staged movies a promotion applied, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// New ids.
    pub new_movies: u64,
    /// Replaced ids.
    pub updated_movies: u64,
    /// Ids left as they were.
    pub skipped_movies: u64,
}

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

/// An error from a database driver.
pub type DriverError = Box<dyn std::error::Error + Send + Sync>;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `--store` URL is not understood.
    #[error("unsupported store {url:?}: expected sqlite://PATH or postgres://USER@HOST:PORT/DB")]
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
        source: DriverError,
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
        source: DriverError,
    },
    /// Any other database error, with what was being done.
    #[error("{doing}: {source}")]
    Database {
        /// What dqgate was doing.
        doing: &'static str,
        /// The driver's error.
        source: DriverError,
    },
}

/// A production store.
pub trait Store {
    /// Where the store is, for messages (never with credentials).
    fn location(&self) -> String;
    /// `sqlite` or `postgres`: picks per-engine query files.
    fn engine(&self) -> &'static str;
    /// Replaces the staged batch with `batch`, in one transaction.
    fn stage(&mut self, batch: &ModelBatch, batch_id: i64) -> Result<StageCounts, StoreError>;
    /// Runs a query against staging or production. `name` names it in errors.
    fn query(&mut self, name: &str, sql: &str, target: Target) -> Result<QueryOutput, StoreError>;
    /// Marks which staged movies the reference computed (all when `None`),
    /// so staging queries see only those.
    fn set_subset(&mut self, ids: Option<&[i64]>) -> Result<(), StoreError>;
    /// The batch that promoted a file with this sha256, if any.
    fn promoted_batch(&mut self, sha256: &str) -> Result<Option<i64>, StoreError>;
    /// Every production movie id with the batch that promoted it.
    fn existing_ids(&mut self) -> Result<std::collections::HashMap<i64, i64>, StoreError>;
    /// Starts the promotion transaction, taking the store's write lock.
    fn begin(&mut self) -> Result<(), StoreError>;
    /// Commits the promotion transaction.
    fn commit(&mut self) -> Result<(), StoreError>;
    /// Abandons the promotion transaction.
    fn rollback(&mut self) -> Result<(), StoreError>;
    /// Appends a ledger row and returns its batch id.
    fn insert_batch(&mut self, entry: &BatchEntry) -> Result<i64, StoreError>;
    /// Records what a promotion applied in its ledger row.
    fn set_applied(&mut self, batch_id: i64, applied: Applied) -> Result<(), StoreError>;
    /// The original records (with their batch's header) of the production
    /// movies that the staged batch would replace.
    fn replaced_sources(&mut self) -> Result<Vec<(String, u64, Vec<u8>)>, StoreError>;
    /// Ids of staged movies that production already holds.
    fn staged_existing(&mut self) -> Result<Vec<i64>, StoreError>;
    /// Copies staging into production under a policy.
    fn apply_staging(&mut self, batch_id: i64, policy: OnExisting) -> Result<Applied, StoreError>;
    /// The running totals.
    fn read_rollups(&mut self) -> Result<crate::reference::RollupState, StoreError>;
    /// Replaces the running totals.
    fn write_rollups(&mut self, state: &crate::reference::RollupState) -> Result<(), StoreError>;
    /// The ledger, oldest first.
    fn history(&mut self) -> Result<Vec<BatchEntry>, StoreError>;
}

/// Opens the store named by a URL: `sqlite://PATH`, `sqlite::memory:` or
/// `postgres://USER@HOST:PORT/DB[?schema=NAME]`.
pub fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Box::new(PostgresStore::open(url)?));
    }
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
