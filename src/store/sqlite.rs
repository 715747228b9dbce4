//! The embedded SQLite engine (rusqlite, bundled).
//!
//! Staged rows live in `stg_*` TEMP tables, private to this connection, so
//! concurrent runs never share a batch. A query runs against staging
//! through TEMP views named like the production tables: SQLite resolves an
//! unqualified name in the temp schema first, so one query text serves both.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, params_from_iter};

use super::driver::{Datum, Driver, Param, RowSource};
use super::{QueryOutput, StoreError};
use crate::fields::cell::Cell;
use crate::rules::model::SqlType;

/// Upper bound of each page cache (the store's and the staging tables'), in KiB.
const PAGE_CACHE_KIB: u32 = 64 * 1024;

/// How long a run waits for another process's lock on the store.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A SQLite store's connection.
#[derive(Debug)]
pub(super) struct SqliteDriver {
    conn: Connection,
    location: String,
    /// The file opened, as (device, inode): a commit checks that the path
    /// still names it. `None` in memory.
    file: Option<(PathBuf, (u64, u64))>,
}

/// The (device, inode) a path names now.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl SqliteDriver {
    /// Opens (creating if needed) the database at `path`.
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        let conn = Connection::open(path).map_err(|source: rusqlite::Error| StoreError::Open {
            location: location.clone(),
            source: source.into(),
        })?;
        let mut driver = Self::init(conn, location)?;
        driver.file = file_identity(path).map(|id| (path.to_owned(), id));
        Ok(driver)
    }

    /// The database at `path` opened read-only, for an audit of staging
    /// (which lives in the connection's temporary tables); when there is
    /// no file there, an empty database in memory, named like the path.
    pub(super) fn open_for_audit(path: &Path) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        let open_error = |source: rusqlite::Error| StoreError::Open {
            location: location.clone(),
            source: source.into(),
        };
        let conn = if path.exists() {
            Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        } else {
            Connection::open_in_memory()
        }
        .map_err(open_error)?;
        Self::init(conn, location)
    }

    /// An in-memory database, for tests and dry runs.
    pub(super) fn open_in_memory() -> Result<Self, StoreError> {
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
        super::sqlite_sums::install(&conn).map_err(db("installing exact sums"))?;
        Ok(SqliteDriver {
            conn,
            location,
            file: None,
        })
    }
}

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

/// `$1`, `$2`... (the store's spelling of parameters) as SQLite's `?1`, `?2`.
fn numbered_parameters(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Param::Null => ValueRef::Null,
            Param::Int(i) => ValueRef::Integer(i),
            Param::Num(x) => ValueRef::Real(x),
            Param::Text(t) => ValueRef::Text(t.as_bytes()),
            Param::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

fn datum(value: ValueRef<'_>) -> Datum {
    match value {
        ValueRef::Null => Datum::Null,
        ValueRef::Integer(i) => Datum::Int(i),
        ValueRef::Real(x) => Datum::Num(x),
        ValueRef::Text(t) => Datum::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Datum::Bytes(b.to_vec()),
    }
}

impl Driver for SqliteDriver {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> String {
        format!("sqlite://{}", self.location)
    }

    fn column_type(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Integer | SqlType::Boolean => "INTEGER",
            SqlType::Number => "REAL",
            SqlType::Text | SqlType::Date => "TEXT",
        }
    }

    fn own_types(&self) -> (&'static str, &'static str, &'static str) {
        ("INTEGER", "BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT")
    }

    fn temp_schema(&self) -> &'static str {
        "temp"
    }

    fn execute(&mut self, sql: &str, doing: &'static str) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).map_err(db(doing))
    }

    fn rows(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        doing: &'static str,
    ) -> Result<Vec<Vec<Datum>>, StoreError> {
        let mut statement = self
            .conn
            .prepare(&numbered_parameters(sql))
            .map_err(db(doing))?;
        let width = statement.column_count();
        let mut rows = statement
            .query(params_from_iter(params.iter()))
            .map_err(db(doing))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db(doing))? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(datum(row.get_ref(i).map_err(db(doing))?));
            }
            out.push(values);
        }
        Ok(out)
    }

    fn load(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &mut RowSource<'_>,
    ) -> Result<u64, StoreError> {
        let doing = "loading rows";
        // One transaction for the whole load unless one is open already:
        // a transaction per row would sync the file per row.
        let own = self.conn.is_autocommit();
        if own {
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(db(doing))?;
        }
        let result = (|| {
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            let mut insert = self
                .conn
                .prepare(&format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    columns.join(", "),
                    placeholders.join(", ")
                ))
                .map_err(db(doing))?;
            let mut n = 0;
            for row in rows {
                insert
                    .execute(params_from_iter(row.iter()))
                    .map_err(db(doing))?;
                n += 1;
            }
            Ok(n)
        })();
        if own {
            match &result {
                Ok(_) => self.conn.execute_batch("COMMIT").map_err(db(doing))?,
                Err(_) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
            }
        }
        result
    }

    fn begin_migration(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(db("starting the migration"))
    }

    fn begin_write(&mut self) -> Result<(), StoreError> {
        // IMMEDIATE takes the write lock now: a second promotion waits for
        // the busy timeout, then fails, and never interleaves with this one.
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db(
            "starting the promotion (is another dqgate promoting into this store?)",
        ))
    }

    fn commit(&mut self, doing: &'static str) -> Result<(), StoreError> {
        if let Some((path, opened)) = &self.file
            && file_identity(path) != Some(*opened)
        {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(StoreError::Vanished {
                location: self.location.clone(),
            });
        }
        self.conn.execute_batch("COMMIT").map_err(db(doing))
    }

    fn rollback(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("ROLLBACK")
            .map_err(db("rolling back"))
    }

    fn audit(
        &mut self,
        name: &str,
        sql: &str,
        _in_transaction: bool,
    ) -> Result<QueryOutput, StoreError> {
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

    fn table_columns(&mut self, table: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self.rows(
            "SELECT name, type FROM pragma_table_info($1, 'main') ORDER BY cid",
            &[Param::Text(table)],
            "reading the store's tables",
        )?;
        Ok(super::driver::text_pairs(rows))
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

impl SqliteDriver {
    /// Runs `sql` under the read-only guards [`Driver::audit`] set.
    fn read_only_query(&mut self, name: &str, sql: &str) -> Result<QueryOutput, StoreError> {
        let query_error = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(
                rusqlite::ErrorCode::AuthorizationForStatementDenied
                | rusqlite::ErrorCode::ReadOnly,
            ) => StoreError::NotReadOnly {
                name: name.to_owned(),
                detail: format!("SQLite: {source}"),
            },
            _ if source
                .to_string()
                .contains(super::sqlite_sums::OUT_OF_RANGE) =>
            {
                StoreError::Data {
                    name: name.to_owned(),
                    detail: format!("SQLite: {source}"),
                }
            }
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
    fn parameters_are_numbered_for_sqlite() {
        assert_eq!(
            numbered_parameters("SELECT $1, '$' || $12 FROM t"),
            "SELECT ?1, '$' || ?12 FROM t"
        );
    }

    #[test]
    fn migrates_once_and_refuses_a_newer_or_a_fixed_model_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let url = format!("sqlite://{}", path.display());
        drop(crate::store::open(&url, None).unwrap());
        drop(crate::store::open(&url, None).unwrap());
        let conn = Connection::open(&path).unwrap();
        for (version, expected) in [
            (
                "99",
                "has schema version 99, newer than this dqgate supports (5)",
            ),
            (
                "4",
                "has schema version 4, the fixed movie layout of dqgate before version 5",
            ),
        ] {
            conn.execute(
                "UPDATE dq_meta SET value = ?1 WHERE key = 'schema_version'",
                [version],
            )
            .unwrap();
            let err = crate::store::open(&url, None).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }
}
