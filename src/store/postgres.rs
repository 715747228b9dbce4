//! PostgreSQL as a store engine (also PostgreSQL-compatible engines).
//!
//! Everything lives in one schema (default `dqgate`, `?schema=NAME` in the
//! URL) reached through `search_path`, so the shipped query files run
//! unchanged. Staging lives in TEMP tables, private to the session, and
//! staging queries read TEMP views named like the production tables
//! (PostgreSQL searches `pg_temp` first, as SQLite searches `temp`). Bulk
//! loads use `COPY ... FROM STDIN`. A session advisory lock, taken when a
//! promotion starts and held until the session ends, keeps two promotions
//! into one store from interleaving.

use std::io::Write as _;
use std::time::Instant;

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, SimpleQueryMessage};

use super::driver::{Datum, Driver, Param, RowSource};
use super::pg_url::PgUrl;
use super::{DriverError, QueryOutput, StoreError};
use crate::fields::cell::Cell;
use crate::rules::model::SqlType;

/// How long a run waits for another run's lock, and for the server.
const LOCK_TIMEOUT: &str = "10s";

/// A PostgreSQL store's session.
pub(super) struct PostgresDriver {
    client: Client,
    location: String,
    schema: String,
    locked: bool,
}

impl std::fmt::Debug for PostgresDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDriver")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn driver(err: postgres::Error) -> DriverError {
    Box::new(err)
}

impl PostgresDriver {
    /// Connects and selects the store's schema (which may not exist yet).
    pub(super) fn open(url: &str) -> Result<Self, StoreError> {
        let url = PgUrl::parse(url)?;
        let location = url.location.clone();
        let mut client = url.config.connect(NoTls).map_err(|e| StoreError::Open {
            location: location.clone(),
            source: driver(e),
        })?;
        client
            .batch_execute(&format!("SET search_path TO \"{}\"", url.schema))
            .map_err(Self::db("selecting the schema"))?;
        Ok(PostgresDriver {
            client,
            location,
            schema: url.schema,
            locked: false,
        })
    }

    /// Runs `sql` inside the read-only transaction [`Driver::audit`] opened.
    fn read_only_query(&mut self, name: &str, sql: &str) -> Result<QueryOutput, StoreError> {
        let query_error = |e: postgres::Error| {
            if e.code() == Some(&postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION) {
                StoreError::NotReadOnly {
                    name: name.to_owned(),
                    detail: format!("PostgreSQL: {}", driver(e)),
                }
            } else if e.code().is_some_and(|c| c.code().starts_with("22")) {
                // Class 22, data exceptions: a value out of range and the like.
                StoreError::Data {
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
}

/// A value for `COPY ... FROM STDIN` in text format: `\N` is null, and
/// backslash, tab, newline and carriage return are escaped, so an empty
/// text stays an empty text.
fn copy_text(out: &mut Vec<u8>, param: &Param<'_>) {
    match param {
        Param::Null => out.extend_from_slice(b"\\N"),
        Param::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Param::Num(x) => out.extend_from_slice(x.to_string().as_bytes()),
        Param::Text(t) => {
            for &b in t.as_bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(b),
                }
            }
        }
        Param::Bytes(b) => {
            out.extend_from_slice(b"\\\\x");
            out.extend_from_slice(crate::read::input::hex(b).as_bytes());
        }
    }
}

/// A parameter as the client library sends it.
fn to_sql<'a>(param: &'a Param<'a>) -> Box<dyn ToSql + Sync + 'a> {
    match *param {
        Param::Null => Box::new(None::<i64>),
        Param::Int(i) => Box::new(i),
        Param::Num(x) => Box::new(x),
        Param::Text(t) => Box::new(t),
        Param::Bytes(b) => Box::new(b),
    }
}

/// A column of a row read with the extended protocol.
fn datum(row: &postgres::Row, i: usize) -> Result<Datum, postgres::Error> {
    let ty = row.columns()[i].type_();
    Ok(match *ty {
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(Datum::Null, |v| Datum::Int(v.into())),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Datum::Null, |v| Datum::Int(v.into())),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Datum::Null, Datum::Int),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)?
            .map_or(Datum::Null, |v| Datum::Num(v.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)?
            .map_or(Datum::Null, Datum::Num),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Datum::Null, |v| Datum::Int(v.into())),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Datum::Null, Datum::Bytes),
        _ => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Datum::Null, Datum::Text),
    })
}

impl Driver for PostgresDriver {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn column_type(&self, ty: SqlType) -> &'static str {
        match ty {
            SqlType::Integer => "BIGINT",
            SqlType::Number => "DOUBLE PRECISION",
            SqlType::Text => "TEXT",
            SqlType::Boolean => "BOOLEAN",
            SqlType::Date => "DATE",
        }
    }

    fn own_types(&self) -> (&'static str, &'static str, &'static str) {
        ("BIGINT", "BYTEA", "BIGSERIAL PRIMARY KEY")
    }

    fn temp_schema(&self) -> &'static str {
        "pg_temp"
    }

    fn execute(&mut self, sql: &str, doing: &'static str) -> Result<(), StoreError> {
        self.client.batch_execute(sql).map_err(Self::db(doing))
    }

    fn rows(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        doing: &'static str,
    ) -> Result<Vec<Vec<Datum>>, StoreError> {
        let boxed: Vec<Box<dyn ToSql + Sync + '_>> = params.iter().map(to_sql).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| &**b as _).collect();
        let rows = self.client.query(sql, &refs).map_err(Self::db(doing))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| datum(row, i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(Self::db(doing))
    }

    fn load(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &mut RowSource<'_>,
    ) -> Result<u64, StoreError> {
        let io = |e: std::io::Error| StoreError::Database {
            doing: "sending COPY data",
            source: Box::new(e),
        };
        let mut copy = self
            .client
            .copy_in(&format!("COPY {table} ({}) FROM STDIN", columns.join(", ")))
            .map_err(Self::db("starting a COPY"))?;
        let mut buffer = Vec::with_capacity(1 << 20);
        let mut n = 0;
        for row in rows {
            for (i, value) in row.iter().enumerate() {
                if i > 0 {
                    buffer.push(b'\t');
                }
                copy_text(&mut buffer, value);
            }
            buffer.push(b'\n');
            n += 1;
            if buffer.len() >= 1 << 20 {
                copy.write_all(&buffer).map_err(io)?;
                buffer.clear();
            }
        }
        copy.write_all(&buffer).map_err(io)?;
        copy.finish().map_err(Self::db("loading rows"))?;
        Ok(n)
    }

    fn begin_migration(&mut self) -> Result<(), StoreError> {
        let schema = self.schema.clone();
        self.client
            .batch_execute(&format!(
                "BEGIN; SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
                 SELECT pg_advisory_xact_lock(hashtext('dqgate-migrate:{schema}'));"
            ))
            .map_err(Self::db("waiting for the migration lock"))?;
        // A schema made for the gate by an administrator (`dqgate grants`)
        // is used as it is: creating it, even with IF NOT EXISTS, needs the
        // right to create schemas in the database, which the gate's own
        // role need not have.
        let exists = self
            .client
            .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
            .map_err(Self::db("looking for the schema"))?
            .is_some();
        if !exists {
            self.client
                .batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
                .map_err(Self::db("creating the schema"))?;
        }
        Ok(())
    }

    fn begin_write(&mut self) -> Result<(), StoreError> {
        if !self.locked {
            let schema = self.schema.clone();
            self.client
                .batch_execute(&format!(
                    "SET lock_timeout = '{LOCK_TIMEOUT}';
                     SELECT pg_advisory_lock(hashtext('dqgate-run:{schema}'));
                     SET lock_timeout = 0;"
                ))
                .map_err(|e| StoreError::Database {
                    doing: "waiting for the store's lock (another dqgate run is promoting into this store)",
                    source: driver(e),
                })?;
            self.locked = true;
        }
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .map_err(Self::db("starting the promotion"))
    }

    fn commit(&mut self, doing: &'static str) -> Result<(), StoreError> {
        self.client.batch_execute("COMMIT").map_err(Self::db(doing))
    }

    fn rollback(&mut self) -> Result<(), StoreError> {
        self.client
            .batch_execute("ROLLBACK")
            .map_err(Self::db("rolling back"))
    }

    fn audit(
        &mut self,
        name: &str,
        sql: &str,
        in_transaction: bool,
    ) -> Result<QueryOutput, StoreError> {
        // Audit queries may only read. They run in a read-only transaction
        // (a read-only savepoint inside the promotion's), which PostgreSQL
        // enforces on every table but temporary ones, and that transaction
        // is always rolled back, which undoes whatever a query wrote to a
        // temporary (staging) table.
        let (open, close) = if in_transaction {
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

    fn table_columns(&mut self, table: &str) -> Result<Vec<(String, String)>, StoreError> {
        let schema = self.schema.clone();
        let rows = self.rows(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
             FROM pg_attribute AS a
             JOIN pg_class AS c ON c.oid = a.attrelid
             JOIN pg_namespace AS n ON n.oid = c.relnamespace
             WHERE n.nspname = $1::text AND c.relname = $2::text AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum",
            &[Param::Text(&schema), Param::Text(table)],
            "reading the store's tables",
        )?;
        Ok(super::driver::text_pairs(rows))
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
            // An integer beyond 64 bits stays exact, as its decimal text (as
            // the reference and the SQLite store give it).
            Err(_) if text.parse::<i128>().is_ok() => Cell::Text(text.to_owned()),
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
