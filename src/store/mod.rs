//! The production store: where accepted rows are staged, where the
//! production queries run (read-only), where batches are promoted in one
//! transaction, and where the ledger of batches and the running totals are
//! kept.
//!
//! SQLite is the embedded default (`sqlite://PATH`); PostgreSQL is the
//! other engine (`postgres://...`). The schema is created and versioned by
//! dqgate: migrations run when a store is opened, and a store written by a
//! newer dqgate is refused.

mod access;
pub mod model;
mod pg_url;
mod postgres;
mod redact;
mod sqlite;

use std::path::PathBuf;
use std::time::Duration;

pub use crate::report::{Applied, BatchEntry};
pub use crate::rules::spec::OnExisting;
pub use access::grants;
pub use postgres::PostgresStore;
pub use redact::redact;
pub use sqlite::SqliteStore;

use crate::fields::cell::Cell;
use crate::store::model::ModelBatch;

/// Schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 4;

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

/// The production tables that staging shadows.
pub(crate) const TABLES: [&str; 5] = [
    "movies",
    "genres",
    "companies",
    "movie_genres",
    "movie_companies",
];

/// The statements that point unqualified table names at staging (TEMP
/// views over `staging.stg_*`, showing only the compared subset) or back at
/// production (dropping those views from `temp`). Both engines search their
/// temporary schema first.
pub(crate) fn target_sql(target: Target, staging: &str, temp: &str) -> String {
    TABLES
        .iter()
        .map(|t| match (target, *t) {
            (Target::Staging, "movies") => format!(
                "CREATE TEMP VIEW movies AS SELECT * FROM {staging}.stg_movies \
                 WHERE id IN (SELECT movie_id FROM {staging}.stg_subset);"
            ),
            (Target::Staging, "movie_genres" | "movie_companies") => format!(
                "CREATE TEMP VIEW {t} AS SELECT * FROM {staging}.stg_{t} \
                 WHERE movie_id IN (SELECT movie_id FROM {staging}.stg_subset);"
            ),
            (Target::Staging, _) => {
                format!("CREATE TEMP VIEW {t} AS SELECT * FROM {staging}.stg_{t};")
            }
            (Target::Production, _) => format!("DROP VIEW IF EXISTS {temp}.{t};"),
        })
        .collect()
}

/// The statements that copy staging into production under a policy, the
/// same on both engines; `temp` names the engine's temporary schema.
/// Movies of `policy`'s choosing replace production's rows and links; names
/// of genres and companies never change once written (the first wins).
pub(crate) fn promotion_sql(policy: OnExisting, batch_id: i64, temp: &str) -> String {
    let write_ids = match policy {
        OnExisting::Skip => "SELECT id FROM stg_movies WHERE id NOT IN (SELECT id FROM movies)",
        OnExisting::Update | OnExisting::Reject => "SELECT id FROM stg_movies",
    };
    format!(
        "DROP TABLE IF EXISTS {temp}.promoted_ids;
         CREATE TEMP TABLE promoted_ids AS {write_ids};
         DELETE FROM movie_genres WHERE movie_id IN (SELECT id FROM {temp}.promoted_ids);
         DELETE FROM movie_companies WHERE movie_id IN (SELECT id FROM {temp}.promoted_ids);
         INSERT INTO movies (id, title, release_date, release_year, budget, revenue, popularity, runtime,
             vote_average, vote_count, status, original_language, imdb_id, batch_id)
         SELECT id, title, release_date, release_year, budget, revenue, popularity, runtime,
             vote_average, vote_count, status, original_language, imdb_id, {batch_id}
         FROM stg_movies WHERE id IN (SELECT id FROM {temp}.promoted_ids)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, release_date = excluded.release_date,
             release_year = excluded.release_year, budget = excluded.budget, revenue = excluded.revenue,
             popularity = excluded.popularity, runtime = excluded.runtime,
             vote_average = excluded.vote_average, vote_count = excluded.vote_count,
             status = excluded.status, original_language = excluded.original_language,
             imdb_id = excluded.imdb_id, batch_id = excluded.batch_id;
         INSERT INTO genres (id, name) SELECT id, name FROM stg_genres WHERE true ON CONFLICT (id) DO NOTHING;
         INSERT INTO companies (id, name) SELECT id, name FROM stg_companies WHERE true ON CONFLICT (id) DO NOTHING;
         INSERT INTO movie_genres (movie_id, genre_id)
             SELECT movie_id, genre_id FROM stg_movie_genres
             WHERE movie_id IN (SELECT id FROM {temp}.promoted_ids);
         INSERT INTO movie_companies (movie_id, company_id)
             SELECT movie_id, company_id FROM stg_movie_companies
             WHERE movie_id IN (SELECT id FROM {temp}.promoted_ids);
         INSERT INTO movie_sources (movie_id, batch_id, line, record)
             SELECT movie_id, {batch_id}, line, record FROM stg_sources
             WHERE movie_id IN (SELECT id FROM {temp}.promoted_ids)
         ON CONFLICT (movie_id) DO UPDATE SET batch_id = excluded.batch_id, line = excluded.line,
             record = excluded.record;
         DROP TABLE {temp}.promoted_ids;"
    )
}

/// What a promotion of `staged` movies, `existing` of them already in
/// production, applies under `policy`.
pub(crate) fn applied(policy: OnExisting, staged: u64, existing: u64) -> Applied {
    match policy {
        OnExisting::Skip => Applied {
            new_movies: staged - existing,
            updated_movies: 0,
            skipped_movies: existing,
        },
        OnExisting::Update | OnExisting::Reject => Applied {
            new_movies: staged - existing,
            updated_movies: existing,
            skipped_movies: 0,
        },
    }
}

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `--store` URL is not understood.
    #[error(
        "unsupported store {url:?}: expected sqlite://PATH or postgres://USER@HOST:PORT/DB (schemes are lower case)"
    )]
    Url {
        /// The URL, redacted.
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
    /// The store's file was removed or replaced while a run held it open:
    /// committing would write into a file nobody will read.
    #[error(
        "store {location} was removed or replaced during the run; nothing was promoted (the file now at that path, if any, is untouched)"
    )]
    Vanished {
        /// Where it was.
        location: String,
    },
    /// A command that only reads a store was given one that does not exist.
    #[error("there is no store at {location}; `dqgate run` creates one")]
    Missing {
        /// Where it was looked for.
        location: String,
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
    /// A query file tried to change the store; nothing was changed.
    #[error(
        "query {name} was refused: it is not a read-only query (audit queries may only read; {detail})"
    )]
    NotReadOnly {
        /// The aggregate whose query was refused.
        name: String,
        /// What the engine said.
        detail: String,
    },
    /// `run` was given a store that keeps nothing once the run ends.
    #[error(
        "store {location} keeps nothing after the run (it lives in memory), so `dqgate run` would report a promotion that no one can read; give a file (sqlite://PATH) or a server (postgres://...)"
    )]
    KeepsNothing {
        /// The store, redacted.
        location: String,
    },
    /// Another process held the store's lock for longer than dqgate waits.
    #[error(
        "{doing}: the store is locked by another process, and it stayed locked for {waited_s} s"
    )]
    Locked {
        /// What dqgate was doing.
        doing: &'static str,
        /// How long dqgate waited.
        waited_s: u64,
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

/// The persistent state of an engine: its groups and label dictionary as
/// JSON text, ready for the store's rollup tables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollupState {
    /// `(aggregate, key as JSON, group as JSON)`.
    pub groups: Vec<(String, String, String)>,
    /// `(label as JSON, key as JSON, value as JSON)`.
    pub labels: Vec<(String, String, String)>,
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
    /// The batch that promoted a file with this BLAKE3 digest, if any.
    fn promoted_batch(&mut self, blake3: &str) -> Result<Option<i64>, StoreError>;
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
    fn read_rollups(&mut self) -> Result<RollupState, StoreError>;
    /// Replaces the running totals.
    fn write_rollups(&mut self, state: &RollupState) -> Result<(), StoreError>;
    /// The ledger, oldest first.
    fn history(&mut self) -> Result<Vec<BatchEntry>, StoreError>;
}

/// Opens an existing store for a command that only reads it (`history`,
/// `export`): a SQLite path that does not exist is an error, not a new store.
pub fn open_existing(url: &str) -> Result<Box<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://")
        && !path.is_empty()
        && !std::path::Path::new(path).exists()
    {
        return Err(StoreError::Missing {
            location: redact(url),
        });
    }
    open(url)
}

/// Whether a store URL names a database that is gone when the run ends
/// (SQLite in memory: `sqlite::memory:`, `sqlite://:memory:`, a URI file
/// name with `mode=memory`, or the empty name of a temporary database).
pub fn keeps_nothing(url: &str) -> bool {
    let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return false;
    };
    let lower = path.to_ascii_lowercase();
    let (name, query) = lower.split_once('?').unwrap_or((&lower, ""));
    name.is_empty()
        || name == ":memory:"
        || (lower.starts_with("file:")
            && (name == "file:"
                || name == "file::memory:"
                || query.split('&').any(|p| p == "mode=memory")))
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
        _ => Err(StoreError::Url { url: redact(url) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `test` on a fresh PostgreSQL schema in the database
    /// `DQGATE_TEST_PG` names, dropped afterwards. The tests that call this
    /// are ignored unless asked for; asked for without a server, they fail.
    fn on_postgres(test: impl Fn(&mut dyn Store)) {
        let base = std::env::var("DQGATE_TEST_PG")
            .expect("this test needs PostgreSQL: set DQGATE_TEST_PG=postgres://USER@HOST:PORT/DB");
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let schema = format!(
            "dqgate_unit_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let separator = if base.contains('?') { '&' } else { '?' };
        let mut store = PostgresStore::open(&format!("{base}{separator}schema={schema}")).unwrap();
        test(&mut store);
        drop(store);
        let mut client = ::postgres::Client::connect(&base, ::postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .unwrap();
    }

    fn on_sqlite(test: impl Fn(&mut dyn Store)) {
        test(&mut SqliteStore::open_in_memory().unwrap());
    }

    /// Declares a test that runs on SQLite, and one on PostgreSQL that is
    /// ignored unless asked for.
    macro_rules! on_both_engines {
        ($name:ident, $check:path) => {
            mod $name {
                #[test]
                fn sqlite() {
                    super::on_sqlite($check);
                }

                #[test]
                #[ignore = "needs PostgreSQL: set DQGATE_TEST_PG and run cargo test -- --include-ignored, as .ci/run does"]
                fn postgres() {
                    super::on_postgres($check);
                }
            }
        };
    }

    /// What no audit query may do, whatever the parser of rule files let through.
    const HOSTILE: &[&str] = &[
        "DELETE FROM dq_batches RETURNING batch_id",
        "WITH gone AS (DELETE FROM dq_batches RETURNING batch_id) SELECT count(*) FROM gone",
        "UPDATE dq_batches SET status = 'x' RETURNING batch_id",
        "INSERT INTO stg_movies (id, title) VALUES (1, 'x') RETURNING id",
        "DROP TABLE dq_batches",
        "COMMIT",
        "BEGIN",
        "PRAGMA query_only = 0",
        "ATTACH DATABASE ':memory:' AS other",
        "CREATE TABLE other AS SELECT 1 AS x",
    ];

    fn ledger(store: &mut dyn Store) -> Vec<BatchEntry> {
        store.history().unwrap()
    }

    on_both_engines!(
        audit_queries_cannot_change_production_the_ledger_or_staging,
        super::audit_queries_cannot_change_anything
    );

    fn audit_queries_cannot_change_anything(store: &mut dyn Store) {
        let entry = BatchEntry {
            file: "a.csv".into(),
            status: "promoted".into(),
            ..BatchEntry::default()
        };
        store.insert_batch(&entry).unwrap();
        let before = ledger(store);
        for target in [Target::Production, Target::Staging] {
            for sql in HOSTILE {
                let result = store.query("hostile", sql, target);
                assert!(result.is_err(), "{} ran: {sql}", store.engine());
                assert_eq!(ledger(store), before, "{}: {sql}", store.engine());
            }
            let staged = store
                .query("staged", "SELECT count(*) AS n FROM movies", target)
                .unwrap();
            assert_eq!(staged.rows, vec![vec![crate::fields::cell::Cell::Int(0)]]);
        }
        // Inside the promotion's transaction: refused the same way, and
        // the transaction goes on writing afterwards.
        store.begin().unwrap();
        for sql in HOSTILE {
            assert!(store.query("hostile", sql, Target::Production).is_err());
        }
        let read = store
            .query(
                "ledger",
                "SELECT count(*) AS n FROM dq_batches",
                Target::Production,
            )
            .unwrap();
        assert_eq!(read.rows, vec![vec![crate::fields::cell::Cell::Int(1)]]);
        store.insert_batch(&entry).unwrap();
        store.commit().unwrap();
        assert_eq!(ledger(store).len(), 2, "{}", store.engine());
    }

    on_both_engines!(
        a_write_is_reported_as_a_refused_query,
        super::a_write_is_refused
    );

    fn a_write_is_refused(store: &mut dyn Store) {
        let err = store
            .query(
                "genre_year",
                "DELETE FROM dq_batches RETURNING batch_id",
                Target::Production,
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("query genre_year was refused: it is not a read-only query"),
            "{err}"
        );
    }

    #[test]
    fn stores_in_memory_are_told_from_stores_on_disk() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://",
            "sqlite://file:x?mode=memory",
            "sqlite://file:x?cache=shared&mode=memory",
            "sqlite://FILE:x?MODE=MEMORY",
            "sqlite://file::memory:",
        ] {
            assert!(keeps_nothing(url), "{url}");
        }
        for url in [
            "sqlite://dqgate.db",
            "sqlite://memory.db",
            "sqlite://file:x.db?mode=rwc",
            "postgres://ann@h/db",
        ] {
            assert!(!keeps_nothing(url), "{url}");
        }
    }
}
