//! PostgreSQL as the production store (also PostgreSQL-compatible engines).
//!
//! Everything lives in one schema (default `dqgate`, `?schema=NAME` in the
//! URL) reached through `search_path`, so the shipped query files run
//! unchanged. Staging queries read TEMP views named like the production
//! tables (PostgreSQL searches `pg_temp` first, as SQLite searches `temp`).
//! Staging is bulk-loaded with `COPY ... FROM STDIN`. A session advisory
//! lock, taken when a run starts staging and held until it ends, keeps two
//! runs on one store from interleaving.

use std::collections::HashMap;
use std::io::Write as _;
use std::time::Instant;

use postgres::types::Type;
use postgres::{Client, NoTls, SimpleQueryMessage};

use super::RollupState;
use super::pg_url::PgUrl;
use super::{
    Applied, BatchEntry, DriverError, OnExisting, QueryOutput, SCHEMA_VERSION, StageCounts, Store,
    StoreError, Target,
};
use crate::fields::cell::Cell;
use crate::store::model::ModelBatch;

const SCHEMA: &str = include_str!("postgres_schema.sql");

/// How long a run waits for another run's lock, and for the server.
const LOCK_TIMEOUT: &str = "10s";

/// A PostgreSQL store.
pub struct PostgresStore {
    client: Client,
    location: String,
    schema: String,
    target: Target,
    locked: bool,
    /// Inside the promotion's transaction (between `begin` and its end).
    in_transaction: bool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn driver(err: postgres::Error) -> DriverError {
    Box::new(err)
}

impl PostgresStore {
    /// Connects, creates the schema if needed and migrates it.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let url = PgUrl::parse(url)?;
        let location = url.location.clone();
        let client = url.config.connect(NoTls).map_err(|e| StoreError::Open {
            location: location.clone(),
            source: driver(e),
        })?;
        let mut store = PostgresStore {
            client,
            location,
            schema: url.schema,
            target: Target::Production,
            locked: false,
            in_transaction: false,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Runs `sql` inside the read-only transaction [`Store::query`] opened.
    fn read_only_query(&mut self, name: &str, sql: &str) -> Result<QueryOutput, StoreError> {
        let query_error = |e: postgres::Error| {
            if e.code() == Some(&postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION) {
                StoreError::NotReadOnly {
                    name: name.to_owned(),
                    detail: format!("PostgreSQL: {}", driver(e)),
                }
            } else {
                StoreError::Query {
                    name: name.to_owned(),
                    source: driver(e),
                }
            }
        };
        let started = Instant::now();
        // The prepared statement gives the column types; the simple protocol
        // gives every value as text, NUMERIC included, without a decimal type.
        // Preparing also refuses more than one statement.
        let statement = self.client.prepare(sql).map_err(query_error)?;
        if statement.columns().is_empty() {
            // Transaction control, DDL and writes without RETURNING.
            return Err(StoreError::NotReadOnly {
                name: name.to_owned(),
                detail: "PostgreSQL: the statement returns no rows".into(),
            });
        }
        let types: Vec<Type> = statement
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        let columns: Vec<String> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let mut rows = Vec::new();
        for message in self.client.simple_query(sql).map_err(query_error)? {
            if let SimpleQueryMessage::Row(row) = message {
                rows.push(
                    (0..types.len())
                        .map(|i| cell(row.get(i), &types[i]))
                        .collect(),
                );
            }
        }
        Ok(QueryOutput {
            columns,
            rows,
            elapsed: started.elapsed(),
        })
    }

    fn db(doing: &'static str) -> impl Fn(postgres::Error) -> StoreError {
        move |e| StoreError::Database {
            doing,
            source: driver(e),
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let schema = self.schema.clone();
        let mut tx = self
            .client
            .transaction()
            .map_err(Self::db("starting the migration"))?;
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
             SELECT pg_advisory_xact_lock(hashtext('dqgate-migrate:{schema}'));"
        ))
        .map_err(Self::db("waiting for the migration lock"))?;
        // A schema made for the gate by an administrator (`dqgate grants`)
        // is used as it is: creating it, even with IF NOT EXISTS, needs the
        // right to create schemas in the database, which the gate's own
        // role need not have.
        let exists = tx
            .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
            .map_err(Self::db("looking for the schema"))?
            .is_some();
        if !exists {
            tx.batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
                .map_err(Self::db("creating the schema"))?;
        }
        tx.batch_execute(&format!(
            "SET search_path TO \"{schema}\";
             CREATE TABLE IF NOT EXISTS dq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        ))
        .map_err(Self::db("creating the schema"))?;
        let found: i64 = tx
            .query_opt(
                "SELECT value FROM dq_meta WHERE key = 'schema_version'",
                &[],
            )
            .map_err(Self::db("reading the schema version"))?
            .and_then(|row| row.get::<_, String>(0).parse().ok())
            .unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                location: self.location.clone(),
                found,
            });
        }
        if found < SCHEMA_VERSION {
            tx.batch_execute(SCHEMA)
                .map_err(Self::db("migrating the schema"))?;
        }
        tx.execute(
            "INSERT INTO dq_meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&SCHEMA_VERSION.to_string()],
        )
        .map_err(Self::db("recording the schema version"))?;
        tx.commit().map_err(Self::db("committing the migration"))?;
        // The session's search_path (SET LOCAL ended with the transaction).
        self.client
            .batch_execute(&format!("SET search_path TO \"{schema}\""))
            .map_err(Self::db("selecting the schema"))
    }

    /// Takes the store's lock for the rest of the session (one run at a time).
    fn lock(&mut self) -> Result<(), StoreError> {
        if self.locked {
            return Ok(());
        }
        let schema = self.schema.clone();
        self.client
            .batch_execute(&format!(
                "SET lock_timeout = '{LOCK_TIMEOUT}';
                 SELECT pg_advisory_lock(hashtext('dqgate-run:{schema}'));
                 SET lock_timeout = 0;"
            ))
            .map_err(|e| StoreError::Database {
                doing: "waiting for the store's lock (another dqgate run is using this store)",
                source: driver(e),
            })?;
        self.locked = true;
        Ok(())
    }

    fn set_target(&mut self, target: Target) -> Result<(), StoreError> {
        if self.target == target {
            return Ok(());
        }
        let sql = super::target_sql(target, &format!("\"{}\"", self.schema), "pg_temp");
        self.client
            .batch_execute(&sql)
            .map_err(Self::db("switching between staging and production"))?;
        self.target = target;
        Ok(())
    }

    fn count(&mut self, sql: &str, doing: &'static str) -> Result<u64, StoreError> {
        let n: i64 = self
            .client
            .query_one(sql, &[])
            .map_err(Self::db(doing))?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Writes rows as CSV for `COPY ... FROM STDIN (FORMAT csv)`: an empty
/// unquoted field is NULL.
fn copy_csv(
    client: &mut Client,
    statement: &str,
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<u64, StoreError> {
    let io = |doing: &'static str| {
        move |e: std::io::Error| StoreError::Database {
            doing,
            source: Box::new(e),
        }
    };
    let copy = client
        .copy_in(statement)
        .map_err(PostgresStore::db("starting a COPY"))?;
    let mut csv = csv::WriterBuilder::new()
        .buffer_capacity(1 << 20)
        .from_writer(copy);
    let mut n = 0;
    for row in rows {
        csv.write_record(&row).map_err(|e| StoreError::Database {
            doing: "sending COPY data",
            source: Box::new(e),
        })?;
        n += 1;
    }
    let mut copy = csv
        .into_inner()
        .map_err(|e| io("sending COPY data")(e.into_error()))?;
    copy.flush().map_err(io("sending COPY data"))?;
    copy.finish()
        .map_err(PostgresStore::db("finishing a COPY"))?;
    Ok(n)
}

fn opt<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(String::new, ToString::to_string)
}

fn hex_bytea(bytes: &[u8]) -> String {
    format!("\\x{}", crate::read::input::hex(bytes))
}

impl Store for PostgresStore {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn stage(&mut self, batch: &ModelBatch, batch_id: i64) -> Result<StageCounts, StoreError> {
        self.lock()?;
        self.set_target(Target::Production)?;
        self.client
            .batch_execute(
                "TRUNCATE stg_movies, stg_genres, stg_companies, stg_movie_genres, stg_movie_companies,
                 stg_sources, stg_subset",
            )
            .map_err(Self::db("clearing staging"))?;
        let movies = copy_csv(
            &mut self.client,
            "COPY stg_movies (id, title, release_date, release_year, budget, revenue, popularity, runtime,
             vote_average, vote_count, status, original_language, imdb_id, batch_id) FROM STDIN (FORMAT csv)",
            batch.movies.iter().map(|m| {
                vec![
                    m.id.to_string(),
                    m.title.clone(),
                    opt(&m.release_date),
                    opt(&m.release_year),
                    opt(&m.budget),
                    opt(&m.revenue),
                    opt(&m.popularity),
                    opt(&m.runtime),
                    opt(&m.vote_average),
                    opt(&m.vote_count),
                    opt(&m.status),
                    opt(&m.original_language),
                    opt(&m.imdb_id),
                    batch_id.to_string(),
                ]
            }),
        )
        .map_err(|e| match e {
            StoreError::Database { source, .. } if source.to_string().contains("stg_movies_pkey") => {
                let id = batch.movies.iter().map(|m| m.id).find(|id| batch.movies.iter().filter(|m| m.id == *id).count() > 1);
                StoreError::DuplicateMovie { id: id.unwrap_or(0) }
            }
            other => other,
        })?;
        let genres = copy_csv(
            &mut self.client,
            "COPY stg_genres (id, name) FROM STDIN (FORMAT csv)",
            batch
                .genres
                .iter()
                .map(|(id, name)| vec![id.to_string(), name.clone()]),
        )?;
        let companies = copy_csv(
            &mut self.client,
            "COPY stg_companies (id, name) FROM STDIN (FORMAT csv)",
            batch
                .companies
                .iter()
                .map(|(id, name)| vec![id.to_string(), name.clone()]),
        )?;
        let movie_genres = copy_csv(
            &mut self.client,
            "COPY stg_movie_genres (movie_id, genre_id) FROM STDIN (FORMAT csv)",
            batch.movies.iter().flat_map(|m| {
                m.genre_ids
                    .iter()
                    .map(move |g| vec![m.id.to_string(), g.to_string()])
            }),
        )?;
        let movie_companies = copy_csv(
            &mut self.client,
            "COPY stg_movie_companies (movie_id, company_id) FROM STDIN (FORMAT csv)",
            batch.movies.iter().flat_map(|m| {
                m.company_ids
                    .iter()
                    .map(move |c| vec![m.id.to_string(), c.to_string()])
            }),
        )?;
        copy_csv(
            &mut self.client,
            "COPY stg_sources (movie_id, line, record) FROM STDIN (FORMAT csv)",
            batch.sources.iter().map(|(id, line, record)| {
                vec![id.to_string(), line.to_string(), hex_bytea(record)]
            }),
        )?;
        self.client
            .batch_execute(
                "INSERT INTO stg_subset (movie_id) SELECT id FROM stg_movies; ANALYZE stg_movies",
            )
            .map_err(Self::db("marking the compared subset"))?;
        Ok(StageCounts {
            movies,
            genres,
            companies,
            movie_genres,
            movie_companies,
        })
    }

    fn query(&mut self, name: &str, sql: &str, target: Target) -> Result<QueryOutput, StoreError> {
        self.set_target(target)?;
        // Audit queries may only read. They run in a read-only transaction
        // (a read-only savepoint inside the promotion's), which PostgreSQL
        // enforces on every table but temporary ones, and that transaction
        // is always rolled back, which undoes whatever a query wrote to a
        // temporary (staging) table.
        let (open, close) = if self.in_transaction {
            (
                "SAVEPOINT dq_audit; SET TRANSACTION READ ONLY",
                "ROLLBACK TO SAVEPOINT dq_audit; RELEASE SAVEPOINT dq_audit",
            )
        } else {
            ("BEGIN READ ONLY", "ROLLBACK")
        };
        self.client.batch_execute(open).map_err(Self::db(
            "starting a read-only transaction for an audit query",
        ))?;
        let output = self.read_only_query(name, sql);
        self.client
            .batch_execute(close)
            .map_err(Self::db("ending an audit query's read-only transaction"))?;
        output
    }

    fn set_subset(&mut self, ids: Option<&[i64]>) -> Result<(), StoreError> {
        self.client
            .batch_execute("TRUNCATE stg_subset")
            .map_err(Self::db("clearing the subset"))?;
        match ids {
            None => self
                .client
                .batch_execute("INSERT INTO stg_subset (movie_id) SELECT id FROM stg_movies")
                .map_err(Self::db("marking the subset")),
            Some(ids) => {
                copy_csv(
                    &mut self.client,
                    "COPY stg_subset (movie_id) FROM STDIN (FORMAT csv)",
                    ids.iter().map(|id| vec![id.to_string()]),
                )?;
                Ok(())
            }
        }
    }

    fn promoted_batch(&mut self, blake3: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .client
            .query_opt(
                "SELECT batch_id FROM dq_batches WHERE blake3 = $1 AND status = 'promoted' ORDER BY batch_id LIMIT 1",
                &[&blake3],
            )
            .map_err(Self::db("looking up the ledger"))?
            .map(|row| row.get(0)))
    }

    fn existing_ids(&mut self) -> Result<HashMap<i64, i64>, StoreError> {
        Ok(self
            .client
            .query("SELECT id, COALESCE(batch_id, 0) FROM movies", &[])
            .map_err(Self::db("reading production ids"))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        self.lock()?;
        self.set_target(Target::Production)?;
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .map_err(Self::db("starting the promotion"))?;
        self.in_transaction = true;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.in_transaction = false;
        self.client
            .batch_execute("COMMIT")
            .map_err(Self::db("committing the promotion"))
    }

    fn rollback(&mut self) -> Result<(), StoreError> {
        self.in_transaction = false;
        self.client
            .batch_execute("ROLLBACK")
            .map_err(Self::db("rolling back the promotion"))
    }

    fn insert_batch(&mut self, e: &BatchEntry) -> Result<i64, StoreError> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Ok(self
            .client
            .query_one(
                "INSERT INTO dq_batches (file, blake3, rules_blake3, header, rows_in, accepted, quarantined, warned,
                 new_movies, updated_movies, skipped_movies, verdict, diff_outcome, query_timings, status, reasons,
                 started_at, finished_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                 RETURNING batch_id",
                &[
                    &e.file,
                    &e.blake3,
                    &e.rules_blake3,
                    &e.header,
                    &n(e.rows_in),
                    &n(e.accepted),
                    &n(e.quarantined),
                    &n(e.warned),
                    &n(e.new_movies),
                    &n(e.updated_movies),
                    &n(e.skipped_movies),
                    &e.verdict,
                    &e.diff_outcome,
                    &e.query_timings,
                    &e.status,
                    &e.reasons,
                    &e.started_at,
                    &e.finished_at,
                ],
            )
            .map_err(Self::db("writing the ledger"))?
            .get(0))
    }

    fn set_applied(&mut self, batch_id: i64, a: Applied) -> Result<(), StoreError> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.client
            .execute(
                "UPDATE dq_batches SET new_movies = $2, updated_movies = $3, skipped_movies = $4 WHERE batch_id = $1",
                &[&batch_id, &n(a.new_movies), &n(a.updated_movies), &n(a.skipped_movies)],
            )
            .map(|_| ())
            .map_err(Self::db("writing the ledger"))
    }

    fn replaced_sources(&mut self) -> Result<Vec<(String, u64, Vec<u8>)>, StoreError> {
        Ok(self
            .client
            .query(
                "SELECT b.header, s.line, s.record FROM movie_sources AS s
                 JOIN dq_batches AS b ON b.batch_id = s.batch_id
                 WHERE s.movie_id IN (SELECT id FROM stg_movies)
                 ORDER BY s.batch_id, s.line",
                &[],
            )
            .map_err(Self::db("reading replaced records"))?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                    r.get(2),
                )
            })
            .collect())
    }

    fn staged_existing(&mut self) -> Result<Vec<i64>, StoreError> {
        Ok(self
            .client
            .query(
                "SELECT id FROM stg_movies WHERE id IN (SELECT id FROM movies) ORDER BY id",
                &[],
            )
            .map_err(Self::db("comparing staging with production"))?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn apply_staging(&mut self, batch_id: i64, policy: OnExisting) -> Result<Applied, StoreError> {
        let staged = self.count("SELECT COUNT(*) FROM stg_movies", "counting staged movies")?;
        let existing = self.count(
            "SELECT COUNT(*) FROM stg_movies WHERE id IN (SELECT id FROM movies)",
            "counting replaced movies",
        )?;
        self.client
            .batch_execute(&super::promotion_sql(policy, batch_id, "pg_temp"))
            .map_err(Self::db("promoting staging into production"))?;
        Ok(super::applied(policy, staged, existing))
    }

    fn read_rollups(&mut self) -> Result<RollupState, StoreError> {
        let mut triples = |sql: &str| -> Result<Vec<(String, String, String)>, StoreError> {
            Ok(self
                .client
                .query(sql, &[])
                .map_err(Self::db("reading the rollups"))?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect())
        };
        Ok(RollupState {
            groups: triples(
                "SELECT aggregate, key, state FROM dq_rollups ORDER BY aggregate, key",
            )?,
            labels: triples("SELECT label, key, value FROM dq_rollup_labels ORDER BY label, key")?,
        })
    }

    fn write_rollups(&mut self, state: &RollupState) -> Result<(), StoreError> {
        self.client
            .batch_execute("DELETE FROM dq_rollups; DELETE FROM dq_rollup_labels;")
            .map_err(Self::db("clearing the rollups"))?;
        copy_csv(
            &mut self.client,
            "COPY dq_rollups (aggregate, key, state) FROM STDIN (FORMAT csv)",
            state
                .groups
                .iter()
                .map(|(a, k, v)| vec![a.clone(), k.clone(), v.clone()]),
        )?;
        copy_csv(
            &mut self.client,
            "COPY dq_rollup_labels (label, key, value) FROM STDIN (FORMAT csv)",
            state
                .labels
                .iter()
                .map(|(a, k, v)| vec![a.clone(), k.clone(), v.clone()]),
        )?;
        Ok(())
    }

    fn history(&mut self) -> Result<Vec<BatchEntry>, StoreError> {
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(self
            .client
            .query(
                "SELECT batch_id, file, COALESCE(blake3, 'sha256:' || sha256),
                    COALESCE(rules_blake3, 'sha256:' || rules_sha256), header, rows_in, accepted, quarantined, warned,
                 new_movies, updated_movies, skipped_movies, verdict, diff_outcome, query_timings, status, reasons,
                 started_at, finished_at FROM dq_batches ORDER BY batch_id",
                &[],
            )
            .map_err(Self::db("reading the ledger"))?
            .iter()
            .map(|r| BatchEntry {
                batch_id: r.get(0),
                file: r.get(1),
                blake3: r.get(2),
                rules_blake3: r.get(3),
                header: r.get(4),
                rows_in: u(r.get(5)),
                accepted: u(r.get(6)),
                quarantined: u(r.get(7)),
                warned: u(r.get(8)),
                new_movies: u(r.get(9)),
                updated_movies: u(r.get(10)),
                skipped_movies: u(r.get(11)),
                verdict: r.get(12),
                diff_outcome: r.get(13),
                query_timings: r.get(14),
                status: r.get(15),
                reasons: r.get(16),
                started_at: r.get(17),
                finished_at: r.get(18),
            })
            .collect())
    }
}

/// A text value from the simple protocol, typed by its column.
fn cell(text: Option<&str>, ty: &Type) -> Cell {
    let Some(text) = text else { return Cell::Null };
    match *ty {
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => text
            .parse()
            .map_or_else(|_| Cell::Text(text.into()), Cell::Int),
        Type::FLOAT4 | Type::FLOAT8 => text
            .parse()
            .map_or_else(|_| Cell::Text(text.into()), Cell::Num),
        Type::NUMERIC => match text.parse::<i64>() {
            Ok(i) => Cell::Int(i),
            Err(_) => text
                .parse()
                .map_or_else(|_| Cell::Text(text.into()), Cell::Num),
        },
        Type::BOOL => Cell::Int(i64::from(text == "t")),
        _ => Cell::Text(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_text_values_by_column() {
        assert_eq!(cell(Some("12"), &Type::INT8), Cell::Int(12));
        assert_eq!(
            cell(Some("1183379152"), &Type::NUMERIC),
            Cell::Int(1_183_379_152)
        );
        assert_eq!(
            cell(Some("8.7508792307692308"), &Type::NUMERIC),
            Cell::Num("8.7508792307692308".parse::<f64>().unwrap())
        );
        assert_eq!(cell(Some("1990"), &Type::TEXT), Cell::Text("1990".into()));
        assert_eq!(cell(None, &Type::TEXT), Cell::Null);
    }
}
