//! The embedded SQLite store (rusqlite, bundled).
//!
//! Staged rows live in `stg_*` TEMP tables, private to this connection, so
//! concurrent runs never share a batch. A query runs against staging
//! through TEMP views named like the production tables: SQLite resolves an
//! unqualified name in the temp schema first, so one query text serves both.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, TransactionBehavior, params};

use super::RollupState;
use super::{
    Applied, BatchEntry, OnExisting, QueryOutput, SCHEMA_VERSION, StageCounts, Store, StoreError,
    Target,
};
use crate::fields::cell::Cell;
use crate::store::model::ModelBatch;

/// Upper bound of each page cache (the store's and the staging tables'), in KiB.
const PAGE_CACHE_KIB: u32 = 64 * 1024;

/// This connection's private staging tables.
const STAGING: &str = include_str!("staging.sql");

/// Migrations in order; migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: [&str; 4] = [
    include_str!("schema.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
];

/// A SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    location: String,
    target: Target,
    /// The file opened, as (device, inode): a commit checks that the path
    /// still names it. `None` in memory.
    file: Option<(PathBuf, (u64, u64))>,
}

/// The (device, inode) a path names now.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        let conn = Connection::open(path).map_err(|source: rusqlite::Error| StoreError::Open {
            location: location.clone(),
            source: source.into(),
        })?;
        let mut store = Self::init(conn, location)?;
        store.file = file_identity(path).map(|id| (path.to_owned(), id));
        Ok(store)
    }

    /// An in-memory store, for tests and dry runs.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let location = ":memory:".to_owned();
        let conn =
            Connection::open_in_memory().map_err(|source: rusqlite::Error| StoreError::Open {
                location: location.clone(),
                source: source.into(),
            })?;
        Self::init(conn, location)
    }

    fn init(conn: Connection, location: String) -> Result<Self, StoreError> {
        let open_error = |source: rusqlite::Error| StoreError::Open {
            location: location.clone(),
            source: source.into(),
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        // A page cache of up to 64 MiB for the store and for this run's
        // staging tables (SQLite's default is 2 MiB): staging, the queries'
        // sorts and the promotion then rarely go back to disk. It is a
        // bound, not an allocation.
        conn.execute_batch(&format!(
            "PRAGMA cache_size = -{PAGE_CACHE_KIB}; PRAGMA temp.cache_size = -{PAGE_CACHE_KIB};"
        ))
        .map_err(db("setting the page cache"))?;
        let mut store = SqliteStore {
            conn,
            location,
            target: Target::Production,
            file: None,
        };
        store.migrate()?;
        store
            .conn
            .execute_batch(STAGING)
            .map_err(db("creating this run's staging tables"))?;
        Ok(store)
    }

    /// Applies the migrations this version knows, in one transaction. A
    /// store that is already current is only read, so opening it never
    /// waits for a run that holds the write lock.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let version = |conn: &Connection| -> Result<i64, rusqlite::Error> {
            let exists: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dq_meta')",
                [],
                |r| r.get(0),
            )?;
            if !exists {
                return Ok(0);
            }
            conn.query_row(
                "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM dq_meta WHERE key = 'schema_version'), 0)",
                [],
                |r| r.get(0),
            )
        };
        let found = version(&self.conn).map_err(db("reading the schema version"))?;
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                location: self.location.clone(),
                found,
            });
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting the migration"))?;
        // Read again under the write lock: another process may have migrated.
        let found = version(&tx).map_err(db("reading the schema version"))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS dq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        )
        .map_err(db("creating dq_meta"))?;
        for migration in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
            tx.execute_batch(migration)
                .map_err(db("migrating the schema"))?;
        }
        tx.execute(
            "INSERT INTO dq_meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![SCHEMA_VERSION.to_string()],
        )
        .map_err(db("recording the schema version"))?;
        tx.commit().map_err(db("committing the migration"))
    }

    /// Points unqualified table names at staging or production.
    fn set_target(&mut self, target: Target) -> Result<(), StoreError> {
        if self.target == target {
            return Ok(());
        }
        let sql = super::target_sql(target, "temp", "temp");
        self.conn
            .execute_batch(&sql)
            .map_err(db("switching between staging and production"))?;
        self.target = target;
        Ok(())
    }
}

/// How long a run waits for another process's lock on the store.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Maps a driver error to a store error saying what dqgate was doing.
fn db(doing: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Locked {
                doing,
                waited_s: BUSY_TIMEOUT.as_secs(),
            }
        }
        _ => StoreError::Database {
            doing,
            source: source.into(),
        },
    }
}

/// Inserts `(id, name)` rows into `stg_genres` or `stg_companies`.
fn insert_names(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    rows: &[(i64, String)],
) -> Result<u64, StoreError> {
    let doing = "staging genres and companies";
    let mut insert = tx
        .prepare(&format!("INSERT INTO {table} (id, name) VALUES (?1, ?2)"))
        .map_err(db(doing))?;
    for (id, name) in rows {
        insert.execute(params![id, name]).map_err(db(doing))?;
    }
    Ok(rows.len() as u64)
}

impl Store for SqliteStore {
    fn location(&self) -> String {
        format!("sqlite://{}", self.location)
    }

    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn stage(&mut self, batch: &ModelBatch, batch_id: i64) -> Result<StageCounts, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting the staging transaction"))?;
        tx.execute_batch(
            "DELETE FROM stg_movie_genres; DELETE FROM stg_movie_companies;
             DELETE FROM stg_movies; DELETE FROM stg_genres; DELETE FROM stg_companies;
             DELETE FROM stg_sources; DELETE FROM stg_subset;",
        )
        .map_err(db("clearing staging"))?;
        let mut counts = StageCounts {
            movies: 0,
            genres: 0,
            companies: 0,
            movie_genres: 0,
            movie_companies: 0,
        };
        {
            let mut movie = tx
                .prepare(
                    "INSERT INTO stg_movies (id, title, release_date, release_year, budget, revenue, popularity,
                     runtime, vote_average, vote_count, status, original_language, imdb_id, batch_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .map_err(db("preparing the movie insert"))?;
            let mut genre_link = tx
                .prepare("INSERT INTO stg_movie_genres (movie_id, genre_id) VALUES (?1, ?2)")
                .map_err(db("preparing the genre link insert"))?;
            let mut company_link = tx
                .prepare("INSERT INTO stg_movie_companies (movie_id, company_id) VALUES (?1, ?2)")
                .map_err(db("preparing the company link insert"))?;
            for m in &batch.movies {
                movie
                    .execute(params![
                        m.id,
                        m.title,
                        m.release_date,
                        m.release_year,
                        m.budget,
                        m.revenue,
                        m.popularity,
                        m.runtime,
                        m.vote_average,
                        m.vote_count,
                        m.status,
                        m.original_language,
                        m.imdb_id,
                        batch_id
                    ])
                    .map_err(|source| match source {
                        rusqlite::Error::SqliteFailure(e, _)
                            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                        {
                            StoreError::DuplicateMovie { id: m.id }
                        }
                        source => StoreError::Database {
                            doing: "staging a movie",
                            source: source.into(),
                        },
                    })?;
                counts.movies += 1;
                for g in &m.genre_ids {
                    genre_link
                        .execute(params![m.id, g])
                        .map_err(db("staging a genre link"))?;
                    counts.movie_genres += 1;
                }
                for c in &m.company_ids {
                    company_link
                        .execute(params![m.id, c])
                        .map_err(db("staging a company link"))?;
                    counts.movie_companies += 1;
                }
            }
            counts.genres = insert_names(&tx, "stg_genres", &batch.genres)?;
            counts.companies = insert_names(&tx, "stg_companies", &batch.companies)?;
        }
        {
            let mut source = tx
                .prepare("INSERT INTO stg_sources (movie_id, line, record) VALUES (?1, ?2, ?3)")
                .map_err(db("preparing the source insert"))?;
            for (id, line, record) in &batch.sources {
                source
                    .execute(params![id, line, record])
                    .map_err(db("staging a source record"))?;
            }
        }
        tx.execute(
            "INSERT INTO stg_subset (movie_id) SELECT id FROM stg_movies",
            [],
        )
        .map_err(db("marking the compared subset"))?;
        tx.commit().map_err(db("committing staging"))?;
        Ok(counts)
    }

    fn set_subset(&mut self, ids: Option<&[i64]>) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting to mark the subset"))?;
        tx.execute("DELETE FROM stg_subset", [])
            .map_err(db("clearing the subset"))?;
        match ids {
            None => {
                tx.execute(
                    "INSERT INTO stg_subset (movie_id) SELECT id FROM stg_movies",
                    [],
                )
                .map_err(db("marking the subset"))?;
            }
            Some(ids) => {
                let mut insert = tx
                    .prepare("INSERT OR IGNORE INTO stg_subset (movie_id) VALUES (?1)")
                    .map_err(db("preparing the subset insert"))?;
                for id in ids {
                    insert
                        .execute(params![id])
                        .map_err(db("marking the subset"))?;
                }
            }
        }
        tx.commit().map_err(db("committing the subset"))
    }

    fn promoted_batch(&mut self, blake3: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT batch_id FROM dq_batches WHERE blake3 = ?1 AND status = 'promoted' ORDER BY batch_id LIMIT 1",
                params![blake3],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                source => Err(StoreError::Database {
                    doing: "looking up the ledger",
                    source: source.into(),
                }),
            })
    }

    fn existing_ids(&mut self) -> Result<std::collections::HashMap<i64, i64>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT id, COALESCE(batch_id, 0) FROM movies")
            .map_err(db("reading production ids"))?;
        let rows = statement
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .map_err(db("reading production ids"))?;
        rows.collect::<Result<_, _>>()
            .map_err(db("reading production ids"))
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        self.set_target(Target::Production)?;
        // IMMEDIATE takes the write lock now: a second promotion waits for
        // the busy timeout, then fails, and never interleaves with this one.
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db(
            "starting the promotion (is another dqgate promoting into this store?)",
        ))
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if let Some((path, opened)) = &self.file
            && file_identity(path) != Some(*opened)
        {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(StoreError::Vanished {
                location: self.location.clone(),
            });
        }
        self.conn
            .execute_batch("COMMIT")
            .map_err(db("committing the promotion"))
    }

    fn rollback(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("ROLLBACK")
            .map_err(db("rolling back the promotion"))
    }

    fn insert_batch(&mut self, e: &BatchEntry) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO dq_batches (file, blake3, rules_blake3, header, rows_in, accepted, quarantined, warned,
                 new_movies, updated_movies, skipped_movies, verdict, diff_outcome, query_timings, status, reasons,
                 started_at, finished_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                params![
                    e.file,
                    e.blake3,
                    e.rules_blake3,
                    e.header,
                    e.rows_in,
                    e.accepted,
                    e.quarantined,
                    e.warned,
                    e.new_movies,
                    e.updated_movies,
                    e.skipped_movies,
                    e.verdict,
                    e.diff_outcome,
                    e.query_timings,
                    e.status,
                    e.reasons,
                    e.started_at,
                    e.finished_at
                ],
            )
            .map_err(db("writing the ledger"))?;
        Ok(self.conn.last_insert_rowid())
    }

    fn set_applied(&mut self, batch_id: i64, a: Applied) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE dq_batches SET new_movies = ?2, updated_movies = ?3, skipped_movies = ?4 WHERE batch_id = ?1",
                params![batch_id, a.new_movies, a.updated_movies, a.skipped_movies],
            )
            .map(|_| ())
            .map_err(db("writing the ledger"))
    }

    fn replaced_sources(&mut self) -> Result<Vec<(String, u64, Vec<u8>)>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT b.header, s.line, s.record FROM movie_sources AS s
                 JOIN dq_batches AS b ON b.batch_id = s.batch_id
                 WHERE s.movie_id IN (SELECT id FROM stg_movies)
                 ORDER BY s.batch_id, s.line",
            )
            .map_err(db("reading replaced records"))?;
        let rows = statement
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(db("reading replaced records"))?;
        rows.collect::<Result<_, _>>()
            .map_err(db("reading replaced records"))
    }

    fn staged_existing(&mut self) -> Result<Vec<i64>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT id FROM stg_movies WHERE id IN (SELECT id FROM movies) ORDER BY id")
            .map_err(db("comparing staging with production"))?;
        let rows = statement
            .query_map([], |r| r.get::<_, i64>(0))
            .map_err(db("comparing staging with production"))?;
        rows.collect::<Result<_, _>>()
            .map_err(db("comparing staging with production"))
    }

    fn apply_staging(&mut self, batch_id: i64, policy: OnExisting) -> Result<Applied, StoreError> {
        let staged: u64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM stg_movies", [], |r| r.get(0))
            .map_err(db("counting staged movies"))?;
        let existing: u64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM stg_movies WHERE id IN (SELECT id FROM movies)",
                [],
                |r| r.get(0),
            )
            .map_err(db("counting replaced movies"))?;
        // The ids this promotion writes: all staged ones, or (skip) the new ones.
        self.conn
            .execute_batch(&super::promotion_sql(policy, batch_id, "temp"))
            .map_err(db("promoting staging into production"))?;
        Ok(super::applied(policy, staged, existing))
    }

    fn read_rollups(&mut self) -> Result<RollupState, StoreError> {
        let triples =
            |conn: &Connection, sql: &str| -> Result<Vec<(String, String, String)>, StoreError> {
                let mut statement = conn.prepare(sql).map_err(db("reading the rollups"))?;
                let rows = statement
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(db("reading the rollups"))?;
                rows.collect::<Result<_, _>>()
                    .map_err(db("reading the rollups"))
            };
        Ok(RollupState {
            groups: triples(
                &self.conn,
                "SELECT aggregate, key, state FROM dq_rollups ORDER BY aggregate, key",
            )?,
            labels: triples(
                &self.conn,
                "SELECT label, key, value FROM dq_rollup_labels ORDER BY label, key",
            )?,
        })
    }

    fn write_rollups(&mut self, state: &RollupState) -> Result<(), StoreError> {
        self.conn
            .execute_batch("DELETE FROM dq_rollups; DELETE FROM dq_rollup_labels;")
            .map_err(db("clearing the rollups"))?;
        let mut group = self
            .conn
            .prepare("INSERT INTO dq_rollups (aggregate, key, state) VALUES (?1, ?2, ?3)")
            .map_err(db("writing the rollups"))?;
        for (aggregate, key, value) in &state.groups {
            group
                .execute(params![aggregate, key, value])
                .map_err(db("writing the rollups"))?;
        }
        let mut label = self
            .conn
            .prepare("INSERT INTO dq_rollup_labels (label, key, value) VALUES (?1, ?2, ?3)")
            .map_err(db("writing the rollups"))?;
        for (name, key, value) in &state.labels {
            label
                .execute(params![name, key, value])
                .map_err(db("writing the rollups"))?;
        }
        Ok(())
    }

    fn history(&mut self) -> Result<Vec<BatchEntry>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT batch_id, file, COALESCE(blake3, 'sha256:' || sha256),
                    COALESCE(rules_blake3, 'sha256:' || rules_sha256), header, rows_in, accepted, quarantined, warned,
                 new_movies, updated_movies, skipped_movies, verdict, diff_outcome, query_timings, status, reasons,
                 started_at, finished_at FROM dq_batches ORDER BY batch_id",
            )
            .map_err(db("reading the ledger"))?;
        let rows = statement
            .query_map([], |r| {
                Ok(BatchEntry {
                    batch_id: r.get(0)?,
                    file: r.get(1)?,
                    blake3: r.get(2)?,
                    rules_blake3: r.get(3)?,
                    header: r.get(4)?,
                    rows_in: r.get(5)?,
                    accepted: r.get(6)?,
                    quarantined: r.get(7)?,
                    warned: r.get(8)?,
                    new_movies: r.get(9)?,
                    updated_movies: r.get(10)?,
                    skipped_movies: r.get(11)?,
                    verdict: r.get(12)?,
                    diff_outcome: r.get(13)?,
                    query_timings: r.get(14)?,
                    status: r.get(15)?,
                    reasons: r.get(16)?,
                    started_at: r.get(17)?,
                    finished_at: r.get(18)?,
                })
            })
            .map_err(db("reading the ledger"))?;
        rows.collect::<Result<_, _>>()
            .map_err(db("reading the ledger"))
    }

    fn query(&mut self, name: &str, sql: &str, target: Target) -> Result<QueryOutput, StoreError> {
        self.set_target(target)?;
        // Audit queries may only read: `query_only` refuses any write while
        // the statement runs, and the authorizer refuses, when the statement
        // is prepared, anything but reading tables and calling functions
        // (no PRAGMA, ATTACH, transaction control or temp-table writes).
        let doing = "making the connection read-only for an audit query";
        self.conn
            .pragma_update(None, "query_only", true)
            .map_err(db(doing))?;
        self.conn
            .authorizer(Some(read_only_authorizer))
            .map_err(db(doing))?;
        let output = self.read_only_query(name, sql);
        let doing = "making the connection writable again after an audit query";
        self.conn
            .authorizer(None::<fn(AuthContext<'_>) -> Authorization>)
            .map_err(db(doing))?;
        self.conn
            .pragma_update(None, "query_only", false)
            .map_err(db(doing))?;
        output
    }
}

/// Allows what a read-only query needs and nothing else.
fn read_only_authorizer(context: AuthContext<'_>) -> Authorization {
    match context.action {
        AuthAction::Select
        | AuthAction::Read { .. }
        | AuthAction::Function { .. }
        | AuthAction::Recursive => Authorization::Allow,
        _ => Authorization::Deny,
    }
}

impl SqliteStore {
    /// Runs `sql` under the read-only guards [`Store::query`] set.
    fn read_only_query(&mut self, name: &str, sql: &str) -> Result<QueryOutput, StoreError> {
        let query_error = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(
                rusqlite::ErrorCode::AuthorizationForStatementDenied
                | rusqlite::ErrorCode::ReadOnly,
            ) => StoreError::NotReadOnly {
                name: name.to_owned(),
                detail: format!("SQLite: {source}"),
            },
            _ => StoreError::Query {
                name: name.to_owned(),
                source: source.into(),
            },
        };
        let started = Instant::now();
        let mut statement = self.conn.prepare(sql).map_err(query_error)?;
        if !statement.readonly() || statement.column_count() == 0 {
            return Err(StoreError::NotReadOnly {
                name: name.to_owned(),
                detail: "SQLite: the statement returns no rows or writes".into(),
            });
        }
        let columns: Vec<String> = statement.column_names().map(str::to_owned).collect();
        let width = columns.len();
        let mut rows = statement.query([]).map_err(query_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(query_error)? {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(match row.get_ref(i).map_err(query_error)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(i) => Cell::Int(i),
                    ValueRef::Real(x) => Cell::Num(x),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Text(format!("<{} byte blob>", b.len())),
                });
            }
            out.push(cells);
        }
        Ok(QueryOutput {
            columns,
            rows: out,
            elapsed: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(SqliteStore::open(&path).unwrap());
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE dq_meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "has schema version 99, newer than this dqgate supports ({SCHEMA_VERSION})"
            )),
            "{err}"
        );
    }

    #[test]
    fn version_4_keeps_the_sha256_ledger_and_identifies_new_batches_by_blake3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = Connection::open(&path).unwrap();
        for migration in &MIGRATIONS[..3] {
            conn.execute_batch(migration).unwrap();
        }
        conn.execute_batch(
            "CREATE TABLE dq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO dq_meta VALUES ('schema_version', '3');
             INSERT INTO dq_batches (file, sha256, rules_sha256, header, rows_in, accepted,
                 quarantined, warned, verdict, diff_outcome, query_timings, status, reasons,
                 started_at, finished_at)
             VALUES ('old.csv', 'aa11', 'bb22', 'id', 2, 2, 0, 0, 'pass', 'agree', '{}',
                 'promoted', '[]', 't0', 't1');",
        )
        .unwrap();
        drop(conn);
        let mut store = SqliteStore::open(&path).unwrap();
        let entry = BatchEntry {
            file: "new.csv".into(),
            blake3: "cc33".into(),
            rules_blake3: "dd44".into(),
            status: "promoted".into(),
            ..BatchEntry::default()
        };
        let id = store.insert_batch(&entry).unwrap();
        assert_eq!(id, 2, "batch ids go on after the migrated ones");
        assert_eq!(store.promoted_batch("cc33").unwrap(), Some(2));
        assert_eq!(store.promoted_batch("aa11").unwrap(), None);
        let history: Vec<(String, String, String)> = store
            .history()
            .unwrap()
            .into_iter()
            .map(|b| (b.file, b.blake3, b.rules_blake3))
            .collect();
        assert_eq!(
            history,
            [
                ("old.csv".into(), "sha256:aa11".into(), "sha256:bb22".into()),
                ("new.csv".into(), "cc33".into(), "dd44".into()),
            ]
        );
    }

    #[test]
    fn version_3_keeps_the_links_of_a_version_2_store_in_without_rowid_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.execute_batch(
            "CREATE TABLE dq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO dq_meta VALUES ('schema_version', '2');
             INSERT INTO movie_genres VALUES (1, 16), (1, 35), (2, 16);
             INSERT INTO movie_companies VALUES (1, 3), (2, 3), (2, 4);",
        )
        .unwrap();
        drop(conn);
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let links = |table: &str| -> Vec<(i64, i64)> {
            let mut statement = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
                .unwrap();
            statement
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(links("movie_genres"), [(1, 16), (1, 35), (2, 16)]);
        assert_eq!(links("movie_companies"), [(1, 3), (2, 3), (2, 4)]);
        for table in ["movie_genres", "movie_companies"] {
            let sql: String = conn
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(sql.ends_with("WITHOUT ROWID"), "{sql}");
        }
        let version: String = conn
            .query_row(
                "SELECT value FROM dq_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION.to_string());
        // The key indexes survived the rebuild.
        let indexes: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' \
                 AND name IN ('movie_genres_genre', 'movie_companies_company')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 2);
    }

    fn movie(id: i64, title: &str) -> crate::store::model::Movie {
        crate::store::model::Movie {
            id,
            title: title.into(),
            release_date: None,
            release_year: None,
            budget: None,
            revenue: None,
            popularity: None,
            runtime: None,
            vote_average: None,
            vote_count: None,
            status: None,
            original_language: None,
            imdb_id: None,
            genre_ids: vec![],
            company_ids: vec![],
        }
    }

    #[test]
    fn two_runs_on_one_store_never_see_each_others_staging() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let (mut a, mut b) = (
            SqliteStore::open(&path).unwrap(),
            SqliteStore::open(&path).unwrap(),
        );
        let mut batch_a = ModelBatch::default();
        batch_a.movies.push(movie(1, "from run a"));
        let mut batch_b = ModelBatch::default();
        batch_b.movies.push(movie(2, "from run b"));
        a.stage(&batch_a, 0).unwrap();
        b.stage(&batch_b, 0).unwrap();
        let titles = |store: &mut SqliteStore| {
            store
                .query("q", "SELECT title FROM movies", Target::Staging)
                .unwrap()
                .rows
        };
        assert_eq!(titles(&mut a), vec![vec![Cell::Text("from run a".into())]]);
        assert_eq!(titles(&mut b), vec![vec![Cell::Text("from run b".into())]]);
    }

    #[test]
    fn the_same_query_reads_staging_or_production() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store
            .conn
            .execute(
                "INSERT INTO movies (id, title) VALUES (1, 'in production')",
                [],
            )
            .unwrap();
        let mut batch = ModelBatch::default();
        batch.movies.push(movie(2, "staged"));
        store.stage(&batch, 7).unwrap();
        let sql = "SELECT id, title FROM movies";
        let staged = store.query("q", sql, Target::Staging).unwrap();
        assert_eq!(
            staged.rows,
            vec![vec![Cell::Int(2), Cell::Text("staged".into())]]
        );
        let production = store.query("q", sql, Target::Production).unwrap();
        assert_eq!(
            production.rows,
            vec![vec![Cell::Int(1), Cell::Text("in production".into())]]
        );
        let mut duplicate = ModelBatch::default();
        duplicate.movies = vec![batch.movies[0].clone(), batch.movies[0].clone()];
        assert!(matches!(
            store.stage(&duplicate, 8),
            Err(StoreError::DuplicateMovie { id: 2 })
        ));
    }
}
