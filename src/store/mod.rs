//! The production store: where accepted rows are staged, where the
//! production queries run (read-only), where batches are promoted in one
//! transaction, and where the ledger of batches and the running totals are
//! kept.
//!
//! Everything here is written once, driven by the rule file's model, on top
//! of a small [`driver::Driver`] per engine: SQLite is the embedded default
//! (`sqlite://PATH`), PostgreSQL the other engine (`postgres://...`). The
//! store's own tables are versioned by dqgate (a store written by a newer
//! dqgate is refused); the model's tables are recorded with the model they
//! were made for, and a rule file whose model differs is migrated where
//! that is safe (a new table, a new column outside the key) and refused
//! otherwise.

mod access;
pub mod batch;
mod driver;
mod model_check;
mod pg_url;
mod postgres;
mod redact;
mod schema;
mod sqlite;
mod sqlite_sums;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::report::{Applied, BatchEntry, StagedTable};
pub use crate::rules::spec::OnExisting;
pub use access::grants;
pub use redact::redact;
pub use schema::SCHEMA_VERSION;

use crate::fields::cell::Cell;
use crate::rules::model::Model;
use batch::ModelBatch;
use driver::{Driver, Param};

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

/// An error from a database driver.
pub type DriverError = Box<dyn std::error::Error + Send + Sync>;

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
    /// The store was written by a dqgate whose store held one fixed model.
    #[error(
        "store {location} has schema version {found}, the fixed movie layout of dqgate before version 5; this dqgate keeps the model in the rule file and cannot read it: promote into a new store, or export its figures with the dqgate that wrote it"
    )]
    TooOld {
        /// Where it is.
        location: String,
        /// Its version.
        found: i64,
    },
    /// The rule file's model differs from the store's in ways that cannot
    /// be migrated safely.
    #[error(
        "the rule file's model differs from the one store {location} holds:\n{}\nnothing was changed: restore the model in the rule file, or promote into a new store (another file, or another PostgreSQL schema with ?schema=NAME)",
        differences.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n")
    )]
    ModelChanged {
        /// Where it is.
        location: String,
        /// Each difference, in words.
        differences: Vec<String>,
    },
    /// A command that needs the model was given a rule file without one.
    #[error(
        "the rule file declares no [[tables]] and no column that is both `required` and `unique` to key records by, so the store has nothing to load; declare the model (see rules/README.md) or mark the key column `required = true` and `unique = true`"
    )]
    NoModel,
    /// The batch holds one record key twice.
    #[error(
        "the batch holds record key {key} twice (lines {first_line} and {line}); declare the key column(s) unique in the rule file so duplicates are quarantined"
    )]
    DuplicateKey {
        /// The key, as a JSON array.
        key: String,
        /// Line of the first record.
        first_line: u64,
        /// Line of the second.
        line: u64,
    },
    /// A query could not compute its result from this data (a value out
    /// of range): the data is at fault, not the query or the store.
    #[error("query {name} cannot be computed from this data: {detail}")]
    Data {
        /// The aggregate whose query failed.
        name: String,
        /// What the engine said.
        detail: String,
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

/// Opens an existing store for a command that only reads it (`history`,
/// `export`): a SQLite path that does not exist is an error, not a new store.
pub fn open_existing(url: &str, model: Option<&Model>) -> Result<Store, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://")
        && !path.is_empty()
        && !std::path::Path::new(path).exists()
    {
        return Err(StoreError::Missing {
            location: redact(url),
        });
    }
    open(url, model)
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

/// Opens the store named by a URL (`sqlite://PATH`, `sqlite::memory:` or
/// `postgres://USER@HOST:PORT/DB[?schema=NAME]`), brings its own tables to
/// this version, and, given a model, makes the store hold that model's
/// tables (see [`Store::open_with`]).
pub fn open(url: &str, model: Option<&Model>) -> Result<Store, StoreError> {
    let driver: Box<dyn Driver> =
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Box::new(postgres::PostgresDriver::open(url)?)
        } else if url == "sqlite::memory:" {
            Box::new(sqlite::SqliteDriver::open_in_memory()?)
        } else {
            match url.strip_prefix("sqlite://") {
                Some(path) if !path.is_empty() => {
                    Box::new(sqlite::SqliteDriver::open(&PathBuf::from(path))?)
                }
                _ => return Err(StoreError::Url { url: redact(url) }),
            }
        };
    Store::open_with(driver, model)
}

/// Opens the store named by a URL for an audit of staging only (`dqgate
/// diff`): its tables are neither created, migrated nor changed, since
/// staging lives in this connection's temporary tables. A SQLite file that
/// does not exist is not created: staging then lives in memory, on the
/// same engine.
pub fn open_for_audit(url: &str, model: &Model) -> Result<Store, StoreError> {
    let driver: Box<dyn Driver> = match url.strip_prefix("sqlite://") {
        Some(path) if !path.is_empty() && !keeps_nothing(url) => {
            Box::new(sqlite::SqliteDriver::open_for_audit(&PathBuf::from(path))?)
        }
        _ => return open(url, Some(model)),
    };
    Store::open_as(driver, Some(model), false)
}

/// A production store: the logic of every engine, over its driver.
pub struct Store {
    driver: Box<dyn Driver>,
    model: Option<Model>,
    target: Target,
    in_transaction: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.driver.location())
            .finish_non_exhaustive()
    }
}

/// A count as the engines store it.
fn stored(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Migrates the store's own tables; given a model, checks it against
    /// the one the store holds, applies the safe changes, and creates this
    /// connection's staging tables.
    fn open_with(driver: Box<dyn Driver>, model: Option<&Model>) -> Result<Store, StoreError> {
        Store::open_as(driver, model, true)
    }

    /// `production`: migrate the store's tables and make it hold the
    /// model's; otherwise leave every table as it is and only create this
    /// connection's (temporary) staging.
    fn open_as(
        driver: Box<dyn Driver>,
        model: Option<&Model>,
        production: bool,
    ) -> Result<Store, StoreError> {
        let mut store = Store {
            driver,
            model: model.cloned(),
            target: Target::Production,
            in_transaction: false,
        };
        if production {
            store.migrate()?;
        }
        if let Some(model) = model {
            if production {
                model_check::apply(store.driver.as_mut(), model)?;
            }
            let staging = schema::staging(store.driver.as_ref(), model);
            store
                .driver
                .execute(&staging, "creating this run's staging tables")?;
        }
        Ok(store)
    }

    /// Where the store is, for messages (never with credentials).
    pub fn location(&self) -> String {
        self.driver.location()
    }

    /// `sqlite` or `postgres`: picks per-engine query files.
    pub fn engine(&self) -> &'static str {
        self.driver.engine()
    }

    fn model(&self) -> Result<&Model, StoreError> {
        self.model.as_ref().ok_or(StoreError::NoModel)
    }

    /// The version of the store's own tables; 0 for a new store.
    fn version(&mut self) -> Result<i64, StoreError> {
        let meta = self.driver.table_columns("dq_meta")?;
        if meta.is_empty() {
            return Ok(0);
        }
        let rows = self.driver.rows(
            "SELECT value FROM dq_meta WHERE key = 'schema_version'",
            &[],
            "reading the schema version",
        )?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .map_or(0, |v| v.int()))
    }

    /// Applies the migrations this version knows, in one transaction under
    /// the engine's migration lock. A store that is already current is
    /// only read, so opening it never waits for a run that holds the lock.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let location = self.location();
        let check = |found: i64| match found {
            f if f > SCHEMA_VERSION => Err(StoreError::TooNew {
                location: location.clone(),
                found: f,
            }),
            f if f > 0 && f < schema::FIRST_MODEL_VERSION => Err(StoreError::TooOld {
                location: location.clone(),
                found: f,
            }),
            _ => Ok(()),
        };
        let found = self.version()?;
        check(found)?;
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        self.driver.begin_migration()?;
        let result = (|| {
            // Read again under the lock: another process may have migrated.
            let found = self.version()?;
            check(found)?;
            self.driver.execute(
                "CREATE TABLE IF NOT EXISTS dq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                "creating dq_meta",
            )?;
            for (version, sql) in schema::migrations(self.driver.as_ref()) {
                if version > found {
                    self.driver.execute(&sql, "migrating the schema")?;
                }
            }
            self.driver.rows(
                "INSERT INTO dq_meta (key, value) VALUES ('schema_version', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value RETURNING key",
                &[Param::Text(&SCHEMA_VERSION.to_string())],
                "recording the schema version",
            )?;
            Ok(())
        })();
        match result {
            Ok(()) => self.driver.commit("committing the migration"),
            Err(e) => {
                let _ = self.driver.rollback();
                Err(e)
            }
        }
    }

    /// Points unqualified table names at staging or production.
    fn set_target(&mut self, target: Target) -> Result<(), StoreError> {
        if self.target == target {
            return Ok(());
        }
        let temp = self.driver.temp_schema();
        let model = self.model()?;
        let sql = match target {
            Target::Staging => schema::point_at_staging(model, temp),
            Target::Production => schema::point_at_production(model, temp),
        };
        self.driver
            .execute(&sql, "switching between staging and production")?;
        self.target = target;
        Ok(())
    }

    /// Replaces the staged batch with `batch`, every staged record marked
    /// as compared; returns the rows per table.
    pub fn stage(&mut self, batch: &ModelBatch) -> Result<Vec<StagedTable>, StoreError> {
        if let Some(d) = &batch.duplicate {
            return Err(StoreError::DuplicateKey {
                key: d.key.clone(),
                first_line: d.first_line,
                line: d.line,
            });
        }
        self.set_target(Target::Production)?;
        let Store { driver, model, .. } = self;
        let model = model.as_ref().ok_or(StoreError::NoModel)?;
        driver.execute(&schema::clear_staging(model), "clearing staging")?;
        let mut staged = Vec::new();
        for (table, rows) in model.tables.iter().zip(&batch.tables) {
            let columns: Vec<String> = schema::column_names(table)
                .iter()
                .map(|c| schema::quote(c))
                .collect();
            let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
            let mut source = rows.rows.iter().map(|row| row.iter().map(param).collect());
            let n = driver.load(
                &schema::quote(&format!("stg_{}", table.name)),
                &columns,
                &mut source,
            )?;
            staged.push(StagedTable {
                table: table.name.clone(),
                rows: n,
            });
        }
        let slots = schema::key_slots(model);
        let mut columns = vec!["record_key"];
        columns.extend(slots.iter().map(String::as_str));
        columns.extend(["line", "record"]);
        let line_params: Vec<i64> = batch.sources.iter().map(|s| stored(s.line)).collect();
        let mut sources = batch.sources.iter().zip(&line_params).map(|(s, line)| {
            let mut row = vec![Param::Text(&s.key)];
            row.extend(s.key_cells.iter().map(param));
            row.push(Param::Int(*line));
            row.push(Param::Bytes(&s.record));
            row
        });
        driver.load("stg_sources", &columns, &mut sources)?;
        self.set_subset(None)?;
        Ok(staged)
    }

    /// Marks which staged records the reference computed (all when
    /// `None`), by their key cells, so staging queries see only those.
    pub fn set_subset(&mut self, keys: Option<&[Vec<Cell>]>) -> Result<(), StoreError> {
        let Store { driver, model, .. } = self;
        let model = model.as_ref().ok_or(StoreError::NoModel)?;
        let slots = schema::key_slots(model);
        driver.execute("DELETE FROM stg_subset", "clearing the subset")?;
        match keys {
            None => {
                let records = model.records();
                let sql = format!(
                    "INSERT INTO stg_subset ({}) SELECT {} FROM {}",
                    slots.join(", "),
                    schema::quoted(&schema::key_names(records)),
                    schema::quote(&format!("stg_{}", records.name))
                );
                driver.execute(&sql, "marking the subset")?;
            }
            Some(keys) => {
                let slot_names: Vec<&str> = slots.iter().map(String::as_str).collect();
                let mut rows = keys.iter().map(|k| k.iter().map(param).collect());
                driver.load("stg_subset", &slot_names, &mut rows)?;
            }
        }
        Ok(())
    }

    /// Runs an audit query against staging or production, read-only.
    /// `name` names it in errors.
    pub fn query(
        &mut self,
        name: &str,
        sql: &str,
        target: Target,
    ) -> Result<QueryOutput, StoreError> {
        if self.model.is_some() {
            self.set_target(target)?;
        }
        let in_transaction = self.in_transaction;
        self.driver.audit(name, sql, in_transaction)
    }

    /// The batch that promoted a file with this BLAKE3 digest, if any.
    pub fn promoted_batch(&mut self, blake3: &str) -> Result<Option<i64>, StoreError> {
        let rows = self.driver.rows(
            "SELECT batch_id FROM dq_batches WHERE blake3 = $1 AND status = 'promoted' ORDER BY batch_id LIMIT 1",
            &[Param::Text(blake3)],
            "looking up the ledger",
        )?;
        Ok(rows.first().and_then(|r| r.first()).map(driver::Datum::int))
    }

    /// Every production record key (as text) with the batch that promoted it.
    pub fn existing_keys(&mut self) -> Result<HashMap<String, i64>, StoreError> {
        let rows = self.driver.rows(
            "SELECT record_key, batch_id FROM dq_sources",
            &[],
            "reading production keys",
        )?;
        Ok(rows
            .into_iter()
            .map(|mut r| {
                let batch = r.pop().map_or(0, |d| d.int());
                (r.pop().map(driver::Datum::text).unwrap_or_default(), batch)
            })
            .collect())
    }

    /// Starts the promotion transaction, taking the store's write lock.
    pub fn begin(&mut self) -> Result<(), StoreError> {
        self.set_target(Target::Production)?;
        self.driver.begin_write()?;
        self.in_transaction = true;
        Ok(())
    }

    /// Commits the promotion transaction.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        self.in_transaction = false;
        self.driver.commit("committing the promotion")
    }

    /// Abandons the promotion transaction.
    pub fn rollback(&mut self) -> Result<(), StoreError> {
        self.in_transaction = false;
        self.driver.rollback()
    }

    /// Appends a ledger row and returns its batch id.
    pub fn insert_batch(&mut self, e: &BatchEntry) -> Result<i64, StoreError> {
        let rows = self.driver.rows(
            "INSERT INTO dq_batches (file, blake3, rules_blake3, header, rows_in, accepted, quarantined, warned,
             new_records, updated_records, skipped_records, verdict, diff_outcome, query_timings, status, reasons,
             started_at, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
             RETURNING batch_id",
            &[
                Param::Text(&e.file),
                Param::Text(&e.blake3),
                Param::Text(&e.rules_blake3),
                Param::Text(&e.header),
                Param::Int(stored(e.rows_in)),
                Param::Int(stored(e.accepted)),
                Param::Int(stored(e.quarantined)),
                Param::Int(stored(e.warned)),
                Param::Int(stored(e.new_records)),
                Param::Int(stored(e.updated_records)),
                Param::Int(stored(e.skipped_records)),
                Param::Text(&e.verdict),
                Param::Text(&e.diff_outcome),
                Param::Text(&e.query_timings),
                Param::Text(&e.status),
                Param::Text(&e.reasons),
                Param::Text(&e.started_at),
                Param::Text(&e.finished_at),
            ],
            "writing the ledger",
        )?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .map_or(0, driver::Datum::int))
    }

    /// Records what a promotion applied in its ledger row.
    pub fn set_applied(&mut self, batch_id: i64, a: Applied) -> Result<(), StoreError> {
        self.driver.rows(
            "UPDATE dq_batches SET new_records = $2, updated_records = $3, skipped_records = $4
             WHERE batch_id = $1 RETURNING batch_id",
            &[
                Param::Int(batch_id),
                Param::Int(stored(a.new_records)),
                Param::Int(stored(a.updated_records)),
                Param::Int(stored(a.skipped_records)),
            ],
            "writing the ledger",
        )?;
        Ok(())
    }

    /// The original records (with their batch's header) of the production
    /// records that the staged batch would replace.
    pub fn replaced_sources(&mut self) -> Result<Vec<(String, u64, Vec<u8>)>, StoreError> {
        let rows = self.driver.rows(
            "SELECT b.header, s.line, s.record FROM dq_sources AS s
             JOIN dq_batches AS b ON b.batch_id = s.batch_id
             WHERE s.record_key IN (SELECT record_key FROM stg_sources)
             ORDER BY s.batch_id, s.line",
            &[],
            "reading replaced records",
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut r = r.into_iter();
                let header = r.next().map(driver::Datum::text).unwrap_or_default();
                let line = r.next().map_or(0, |d| d.count());
                let record = r.next().map(driver::Datum::bytes).unwrap_or_default();
                (header, line, record)
            })
            .collect())
    }

    /// Keys (as text) of staged records that production already holds.
    pub fn staged_existing(&mut self) -> Result<Vec<String>, StoreError> {
        let sql = schema::staged_existing(self.model()?);
        let rows = self
            .driver
            .rows(&sql, &[], "comparing staging with production")?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().map(driver::Datum::text))
            .collect())
    }

    /// Copies staging into production under a policy.
    pub fn apply_staging(
        &mut self,
        batch_id: i64,
        policy: OnExisting,
    ) -> Result<Applied, StoreError> {
        let staged = self.count(
            "SELECT COUNT(*) FROM stg_sources",
            "counting staged records",
        )?;
        let existing = self.staged_existing()?.len() as u64;
        let sql = schema::promotion(self.model()?, policy, batch_id, self.driver.temp_schema());
        self.driver
            .execute(&sql, "promoting staging into production")?;
        Ok(match policy {
            OnExisting::Skip => Applied {
                new_records: staged - existing,
                updated_records: 0,
                skipped_records: existing,
            },
            OnExisting::Update | OnExisting::Reject => Applied {
                new_records: staged - existing,
                updated_records: existing,
                skipped_records: 0,
            },
        })
    }

    fn count(&mut self, sql: &str, doing: &'static str) -> Result<u64, StoreError> {
        let rows = self.driver.rows(sql, &[], doing)?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .map_or(0, driver::Datum::count))
    }

    fn triples(&mut self, sql: &str) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(self
            .driver
            .rows(sql, &[], "reading the rollups")?
            .into_iter()
            .map(|r| {
                let mut r = r.into_iter().map(driver::Datum::text);
                (
                    r.next().unwrap_or_default(),
                    r.next().unwrap_or_default(),
                    r.next().unwrap_or_default(),
                )
            })
            .collect())
    }

    /// The running totals.
    pub fn read_rollups(&mut self) -> Result<RollupState, StoreError> {
        Ok(RollupState {
            groups: self
                .triples("SELECT aggregate, key, state FROM dq_rollups ORDER BY aggregate, key")?,
            labels: self
                .triples("SELECT label, key, value FROM dq_rollup_labels ORDER BY label, key")?,
        })
    }

    /// Replaces the running totals.
    pub fn write_rollups(&mut self, state: &RollupState) -> Result<(), StoreError> {
        self.driver.execute(
            "DELETE FROM dq_rollups; DELETE FROM dq_rollup_labels;",
            "clearing the rollups",
        )?;
        fn triple((a, k, v): &(String, String, String)) -> Vec<Param<'_>> {
            vec![Param::Text(a), Param::Text(k), Param::Text(v)]
        }
        let mut groups = state.groups.iter().map(triple);
        self.driver
            .load("dq_rollups", &["aggregate", "key", "state"], &mut groups)?;
        let mut labels = state.labels.iter().map(triple);
        self.driver
            .load("dq_rollup_labels", &["label", "key", "value"], &mut labels)?;
        Ok(())
    }

    /// The ledger, oldest first.
    pub fn history(&mut self) -> Result<Vec<BatchEntry>, StoreError> {
        let rows = self.driver.rows(
            "SELECT batch_id, file, blake3, rules_blake3, header, rows_in, accepted, quarantined, warned,
             new_records, updated_records, skipped_records, verdict, diff_outcome, query_timings, status, reasons,
             started_at, finished_at FROM dq_batches ORDER BY batch_id",
            &[],
            "reading the ledger",
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut r = r.into_iter();
                let mut next = || r.next().unwrap_or(driver::Datum::Null);
                BatchEntry {
                    batch_id: next().int(),
                    file: next().text(),
                    blake3: next().text(),
                    rules_blake3: next().text(),
                    header: next().text(),
                    rows_in: next().count(),
                    accepted: next().count(),
                    quarantined: next().count(),
                    warned: next().count(),
                    new_records: next().count(),
                    updated_records: next().count(),
                    skipped_records: next().count(),
                    verdict: next().text(),
                    diff_outcome: next().text(),
                    query_timings: next().text(),
                    status: next().text(),
                    reasons: next().text(),
                    started_at: next().text(),
                    finished_at: next().text(),
                }
            })
            .collect())
    }
}

/// A cell as a driver parameter.
fn param(cell: &Cell) -> Param<'_> {
    match cell {
        Cell::Null => Param::Null,
        Cell::Int(i) => Param::Int(*i),
        Cell::Num(x) => Param::Num(*x),
        Cell::Text(t) => Param::Text(t),
    }
}

#[cfg(test)]
mod tests {
    use super::batch::ModelBatch;
    use super::*;
    use crate::rules::RuleSet;

    /// Runs `test` with the URL of a fresh PostgreSQL schema in the
    /// database `DQGATE_TEST_PG` names, dropped afterwards. The tests that
    /// call this are ignored unless asked for; asked for without a server,
    /// they fail.
    fn on_postgres(test: impl Fn(&str)) {
        let base = std::env::var("DQGATE_TEST_PG")
            .expect("this test needs PostgreSQL: set DQGATE_TEST_PG=postgres://USER@HOST:PORT/DB");
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let schema = format!(
            "dqgate_unit_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let separator = if base.contains('?') { '&' } else { '?' };
        test(&format!("{base}{separator}schema={schema}"));
        let mut client = ::postgres::Client::connect(&base, ::postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .unwrap();
    }

    /// Runs `test` with the URL of a new SQLite file.
    fn on_sqlite(test: impl Fn(&str)) {
        let dir = tempfile::tempdir().unwrap();
        test(&format!("sqlite://{}", dir.path().join("s.db").display()));
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

    const RULES: &str = r#"
[columns.country]
type = "string"
required = true
[columns.year]
type = "integer"
required = true
[columns.people]
type = "integer"
[columns.langs]
type = "entity_list"
keys = { code = "string", name = "string" }

[[tables]]
name = "counts"
key = ["country", "year"]
columns = [
  { name = "country", column = "country" },
  { name = "year", column = "year" },
  { name = "people", column = "people" },
]
[[tables]]
name = "languages"
explode = "langs"
key = ["code"]
columns = [{ name = "code", field = "code" }, { name = "name", field = "name" }]
[[tables]]
name = "spoken"
explode = "langs"
key = ["country", "year", "code"]
columns = [
  { name = "country", column = "country" },
  { name = "year", column = "year" },
  { name = "code", field = "code" },
]
"#;

    fn rules(extra_columns: &str) -> RuleSet {
        let text = RULES.replace(
            "  { name = \"people\", column = \"people\" },\n",
            &format!("  {{ name = \"people\", column = \"people\" }},\n{extra_columns}"),
        );
        RuleSet::from_source(std::path::Path::new("t.toml"), &text).unwrap()
    }

    /// A batch of `(country, year, people, langs)` records.
    fn batch(rules: &RuleSet, rows: &[(&str, &str, &str, &str)]) -> ModelBatch {
        let model = rules.model.as_ref().unwrap();
        let mut batch = ModelBatch::new(model);
        for (i, (c, y, p, l)) in rows.iter().enumerate() {
            let fields: Vec<Option<&str>> = [c, y, p, l]
                .iter()
                .map(|f| Some(**f).filter(|f| !f.is_empty()))
                .collect();
            let values = batch::declared_values(rules, &fields);
            let (key, key_cells) = batch.add(model, i as u64 + 2, &fields, &values);
            batch.sources.push(batch::SourceRecord {
                key,
                key_cells,
                line: i as u64 + 2,
                record: format!("{c},{y},{p},{l}").into_bytes(),
            });
        }
        batch
    }

    fn rows(store: &mut Store, sql: &str, target: Target) -> Vec<Vec<Cell>> {
        store.query("q", sql, target).unwrap().rows
    }

    on_both_engines!(
        a_batch_is_staged_audited_and_promoted_under_each_policy,
        super::stage_audit_promote
    );

    fn stage_audit_promote(url: &str) {
        let rules = rules("");
        let model = rules.model.as_ref();
        let mut store = open(url, model).unwrap();
        let first = batch(
            &rules,
            &[
                ("AT", "2020", "9", "[{'code': 'de', 'name': 'German'}]"),
                (
                    "BE",
                    "2020",
                    "11",
                    "[{'code': 'nl', 'name': 'Dutch'}, {'code': 'fr', 'name': 'French'}]",
                ),
            ],
        );
        let staged = store.stage(&first).unwrap();
        let counts: Vec<(&str, u64)> = staged.iter().map(|t| (t.table.as_str(), t.rows)).collect();
        assert_eq!(counts, [("counts", 2), ("languages", 3), ("spoken", 3)]);
        store
            .set_subset(Some(&[vec![Cell::Text("BE".into()), Cell::Int(2020)]]))
            .unwrap();
        let sql = "SELECT c.country, count(*) AS n FROM counts AS c JOIN spoken AS s \
                   ON s.country = c.country AND s.year = c.year GROUP BY c.country";
        assert_eq!(
            rows(&mut store, sql, Target::Staging),
            [vec![Cell::Text("BE".into()), Cell::Int(2)]],
            "staging shows the compared records only"
        );
        assert!(rows(&mut store, sql, Target::Production).is_empty());
        store.begin().unwrap();
        let batch_id = store
            .insert_batch(&BatchEntry {
                file: "a.csv".into(),
                status: "promoted".into(),
                ..BatchEntry::default()
            })
            .unwrap();
        let applied = store.apply_staging(batch_id, OnExisting::Update).unwrap();
        assert_eq!(applied.new_records, 2);
        store.commit().unwrap();
        assert_eq!(rows(&mut store, sql, Target::Production).len(), 2);
        let keys = store.existing_keys().unwrap();
        assert_eq!(keys.get("[\"BE\",2020]"), Some(&batch_id));

        // A revision: BE now speaks one language, and German is renamed,
        // which a shared table ignores (the first value is kept).
        let second = batch(
            &rules,
            &[
                ("BE", "2020", "12", "[{'code': 'nl', 'name': 'Dutch'}]"),
                ("CH", "2020", "8", "[{'code': 'de', 'name': 'Deutsch'}]"),
            ],
        );
        store.stage(&second).unwrap();
        assert_eq!(store.staged_existing().unwrap(), ["[\"BE\",2020]"]);
        let replaced = store.replaced_sources().unwrap();
        assert_eq!(replaced.len(), 1);
        assert_eq!(
            replaced[0].2,
            b"BE,2020,11,[{'code': 'nl', 'name': 'Dutch'}, {'code': 'fr', 'name': 'French'}]"
        );
        store.begin().unwrap();
        let applied = store
            .apply_staging(batch_id + 1, OnExisting::Update)
            .unwrap();
        assert_eq!((applied.new_records, applied.updated_records), (1, 1));
        store.commit().unwrap();
        assert_eq!(
            rows(&mut store, sql, Target::Production),
            [
                vec![Cell::Text("AT".into()), Cell::Int(1)],
                vec![Cell::Text("BE".into()), Cell::Int(1)],
                vec![Cell::Text("CH".into()), Cell::Int(1)],
            ],
            "a replaced record's old rows are gone"
        );
        assert_eq!(
            rows(
                &mut store,
                "SELECT name FROM languages WHERE code = 'de'",
                Target::Production
            ),
            [vec![Cell::Text("German".into())]]
        );

        // Skip keeps production's rows.
        let third = batch(&rules, &[("AT", "2020", "99", "[]")]);
        store.stage(&third).unwrap();
        store.begin().unwrap();
        let applied = store.apply_staging(batch_id + 2, OnExisting::Skip).unwrap();
        assert_eq!((applied.new_records, applied.skipped_records), (0, 1));
        store.commit().unwrap();
        assert_eq!(
            rows(
                &mut store,
                "SELECT people FROM counts WHERE country = 'AT'",
                Target::Production
            ),
            [vec![Cell::Int(9)]]
        );
    }

    on_both_engines!(
        two_connections_never_see_each_others_staging,
        super::private_staging
    );

    fn private_staging(url: &str) {
        let rules = rules("");
        let (mut a, mut b) = (
            open(url, rules.model.as_ref()).unwrap(),
            open(url, rules.model.as_ref()).unwrap(),
        );
        a.stage(&batch(&rules, &[("AT", "2020", "1", "[]")]))
            .unwrap();
        b.stage(&batch(&rules, &[("BE", "2021", "2", "[]")]))
            .unwrap();
        let sql = "SELECT country FROM counts";
        assert_eq!(
            rows(&mut a, sql, Target::Staging),
            [vec![Cell::Text("AT".into())]]
        );
        assert_eq!(
            rows(&mut b, sql, Target::Staging),
            [vec![Cell::Text("BE".into())]]
        );
    }

    on_both_engines!(
        a_key_twice_in_a_batch_is_refused_the_same_way,
        super::duplicate_key
    );

    fn duplicate_key(url: &str) {
        let rules = rules("");
        let mut store = open(url, rules.model.as_ref()).unwrap();
        let twice = batch(
            &rules,
            &[("AT", "2020", "1", "[]"), ("AT", "2020", "2", "[]")],
        );
        let err = store.stage(&twice).unwrap_err().to_string();
        assert_eq!(
            err,
            "the batch holds record key [\"AT\",2020] twice (lines 2 and 3); declare the key column(s) unique in the rule file so duplicates are quarantined"
        );
    }

    on_both_engines!(
        a_new_column_is_added_and_any_other_model_change_is_refused,
        super::model_changes
    );

    fn model_changes(url: &str) {
        let before = rules("");
        let mut store = open(url, before.model.as_ref()).unwrap();
        store
            .stage(&batch(&before, &[("AT", "2020", "9", "[]")]))
            .unwrap();
        store.begin().unwrap();
        store.apply_staging(1, OnExisting::Update).unwrap();
        store.commit().unwrap();
        drop(store);

        let wider = rules("  { name = \"decade\", expr = \"year - year % 10\" },\n");
        let mut store = open(url, wider.model.as_ref()).unwrap();
        assert_eq!(
            rows(
                &mut store,
                "SELECT country, decade FROM counts",
                Target::Production
            ),
            [vec![Cell::Text("AT".into()), Cell::Null]],
            "the new column is null in the rows already stored"
        );
        drop(store);
        assert!(
            open(url, wider.model.as_ref()).is_ok(),
            "the change is applied once"
        );

        let changed = rules("  { name = \"decade\", column = \"country\" },\n");
        let err = open(url, changed.model.as_ref()).unwrap_err().to_string();
        assert!(
            err.contains("column `decade` is integer in the store, text in the rule file"),
            "{err}"
        );
        let err = open(url, before.model.as_ref()).unwrap_err().to_string();
        assert!(
            err.contains("column `decade` is in the store but not in the rule file"),
            "{err}"
        );
        let rekeyed = RuleSet::from_source(
            std::path::Path::new("t.toml"),
            &RULES.replace("key = [\"code\"]", "key = [\"name\"]"),
        )
        .unwrap();
        let err = open(url, rekeyed.model.as_ref()).unwrap_err().to_string();
        assert!(
            err.contains(
                "table `languages` is keyed by (code) in the store, by (name) in the rule file"
            ),
            "{err}"
        );
    }

    /// What no audit query may do, whatever the parser of rule files let through.
    const HOSTILE: &[&str] = &[
        "DELETE FROM dq_batches RETURNING batch_id",
        "WITH gone AS (DELETE FROM dq_batches RETURNING batch_id) SELECT count(*) FROM gone",
        "UPDATE dq_batches SET status = 'x' RETURNING batch_id",
        "DROP TABLE dq_batches",
        "COMMIT",
        "BEGIN",
        "PRAGMA query_only = 0",
        "ATTACH DATABASE ':memory:' AS other",
        "CREATE TABLE other AS SELECT 1 AS x",
    ];

    on_both_engines!(
        audit_queries_cannot_change_production_the_ledger_or_staging,
        super::audit_queries_cannot_change_anything
    );

    fn audit_queries_cannot_change_anything(url: &str) {
        let rules = rules("");
        let mut store = open(url, rules.model.as_ref()).unwrap();
        let entry = BatchEntry {
            file: "a.csv".into(),
            status: "promoted".into(),
            ..BatchEntry::default()
        };
        store.insert_batch(&entry).unwrap();
        let before = store.history().unwrap();
        for target in [Target::Production, Target::Staging] {
            for sql in HOSTILE {
                let result = store.query("hostile", sql, target);
                assert!(result.is_err(), "{} ran: {sql}", store.engine());
                assert_eq!(
                    store.history().unwrap(),
                    before,
                    "{}: {sql}",
                    store.engine()
                );
            }
            assert_eq!(
                rows(&mut store, "SELECT count(*) AS n FROM counts", target),
                vec![vec![Cell::Int(0)]]
            );
            // A write to this run's own staging: SQLite refuses it;
            // PostgreSQL exempts temporary tables from read-only
            // transactions, and the audit's transaction, always rolled
            // back, undoes it.
            let write = "INSERT INTO stg_counts (country, year) VALUES ('x', 1) RETURNING year";
            let result = store.query("hostile", write, target);
            assert!(result.is_err() || store.engine() == "postgres");
            assert_eq!(
                rows(&mut store, "SELECT count(*) AS n FROM stg_counts", target),
                vec![vec![Cell::Int(0)]],
                "{}",
                store.engine()
            );
        }
        // Inside the promotion's transaction: refused the same way, and
        // the transaction goes on writing afterwards.
        store.begin().unwrap();
        for sql in HOSTILE {
            assert!(store.query("hostile", sql, Target::Production).is_err());
        }
        assert_eq!(
            rows(
                &mut store,
                "SELECT count(*) AS n FROM dq_batches",
                Target::Production
            ),
            vec![vec![Cell::Int(1)]]
        );
        store.insert_batch(&entry).unwrap();
        store.commit().unwrap();
        assert_eq!(store.history().unwrap().len(), 2, "{}", store.engine());
    }

    on_both_engines!(
        a_write_is_reported_as_a_refused_query,
        super::a_write_is_refused
    );

    fn a_write_is_refused(url: &str) {
        let mut store = open(url, None).unwrap();
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
