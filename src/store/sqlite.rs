//! The embedded SQLite store (rusqlite, bundled).
//!
//! Staged rows live in `stg_*` tables. A query runs against staging through
//! TEMP views named like the production tables: SQLite resolves an
//! unqualified name in the temp schema first, so one query text serves both.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};

use super::{QueryOutput, SCHEMA_VERSION, StageCounts, Store, StoreError, Target};
use crate::cell::Cell;
use crate::model::ModelBatch;

const SCHEMA_V1: &str = include_str!("schema.sql");

/// The production tables that staging shadows.
const TABLES: [&str; 5] = [
    "movies",
    "genres",
    "companies",
    "movie_genres",
    "movie_companies",
];

/// A SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    location: String,
    target: Target,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            location: location.clone(),
            source,
        })?;
        Self::init(conn, location)
    }

    /// An in-memory store, for tests and dry runs.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let location = ":memory:".to_owned();
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            location: location.clone(),
            source,
        })?;
        Self::init(conn, location)
    }

    fn init(conn: Connection, location: String) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            location: location.clone(),
            source,
        };
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_error)?;
        let mut store = SqliteStore {
            conn,
            location,
            target: Target::Production,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Applies the migrations this version knows, in one transaction.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let db = |doing| move |source| StoreError::Database { doing, source };
        let tx = self
            .conn
            .transaction()
            .map_err(db("starting the migration"))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS dq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        )
        .map_err(db("creating dq_meta"))?;
        let found: i64 = tx
            .query_row("SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM dq_meta WHERE key = 'schema_version'), 0)", [], |r| r.get(0))
            .map_err(db("reading the schema version"))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                location: self.location.clone(),
                found,
            });
        }
        if found < 1 {
            tx.execute_batch(SCHEMA_V1)
                .map_err(db("creating the schema"))?;
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
        let sql: String = TABLES
            .iter()
            .map(|t| match target {
                Target::Staging => format!("CREATE TEMP VIEW {t} AS SELECT * FROM main.stg_{t};"),
                Target::Production => format!("DROP VIEW IF EXISTS temp.{t};"),
            })
            .collect();
        self.conn
            .execute_batch(&sql)
            .map_err(|source| StoreError::Database {
                doing: "switching between staging and production",
                source,
            })?;
        self.target = target;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn location(&self) -> String {
        format!("sqlite://{}", self.location)
    }

    fn stage(&mut self, batch: &ModelBatch, batch_id: i64) -> Result<StageCounts, StoreError> {
        let db = |doing| move |source| StoreError::Database { doing, source };
        let tx = self
            .conn
            .transaction()
            .map_err(db("starting the staging transaction"))?;
        tx.execute_batch(
            "DELETE FROM stg_movie_genres; DELETE FROM stg_movie_companies;
             DELETE FROM stg_movies; DELETE FROM stg_genres; DELETE FROM stg_companies;",
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
                            source,
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
            let mut genre = tx
                .prepare("INSERT INTO stg_genres (id, name) VALUES (?1, ?2)")
                .map_err(db("preparing the genre insert"))?;
            for (id, name) in &batch.genres {
                genre
                    .execute(params![id, name])
                    .map_err(db("staging a genre"))?;
                counts.genres += 1;
            }
            let mut company = tx
                .prepare("INSERT INTO stg_companies (id, name) VALUES (?1, ?2)")
                .map_err(db("preparing the company insert"))?;
            for (id, name) in &batch.companies {
                company
                    .execute(params![id, name])
                    .map_err(db("staging a company"))?;
                counts.companies += 1;
            }
        }
        tx.commit().map_err(db("committing staging"))?;
        Ok(counts)
    }

    fn query(&mut self, name: &str, sql: &str, target: Target) -> Result<QueryOutput, StoreError> {
        self.set_target(target)?;
        let query_error = |source| StoreError::Query {
            name: name.to_owned(),
            source,
        };
        let started = Instant::now();
        let mut statement = self.conn.prepare(sql).map_err(query_error)?;
        let columns: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
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
            err.to_string()
                .contains("has schema version 99, newer than this dqgate supports (1)"),
            "{err}"
        );
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
        batch.movies.push(crate::model::Movie {
            id: 2,
            title: "staged".into(),
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
        });
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
