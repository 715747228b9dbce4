//! Who may touch what in a PostgreSQL store: the statements an
//! administrator runs so that the gate works without superuser rights and
//! readers of production can read it and nothing else.
//!
//! - The gate's own role (the store URL's user) owns the store's schema and
//!   nothing outside it: it creates and migrates its tables there, stages,
//!   promotes and keeps the ledger.
//! - A reader role may read the production tables and the ledger
//!   (`dq_batches`), and nothing else: no write anywhere, no staging, no
//!   running state.

use super::StoreError;
use super::pg_url::PgUrl;
use crate::rules::model::Model;

/// Tables a reader may read besides the model's: the ledger.
const READABLE: [&str; 1] = ["dq_batches"];

/// Tables a reader may not touch: the gate's lineage, running state and
/// bookkeeping. (Staging lives in each run's temporary tables, which no
/// other session can see.)
const PRIVATE: [&str; 6] = [
    "dq_meta",
    "dq_sources",
    "dq_rollups",
    "dq_rollup_labels",
    "dq_model",
    "dq_model_changes",
];

/// `name` quoted as a PostgreSQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQL script that gives the store URL's role the store's schema and
/// `reader` read access to production (the model's tables) and the ledger.
pub fn grants(url: &str, reader: &str, model: &Model) -> Result<String, StoreError> {
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(StoreError::Url {
            url: super::redact(url),
        });
    }
    let url = PgUrl::parse(url)?;
    let gate = quoted(url.user());
    let reader_name = quoted(reader);
    let db = quoted(url.dbname());
    let schema = quoted(url.schema());
    let table_list = |names: &[&str]| {
        names
            .iter()
            .map(|t| format!("{schema}.{}", quoted(t)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let readable: Vec<&str> = model
        .tables
        .iter()
        .map(|t| t.name.as_str())
        .chain(READABLE)
        .collect();
    Ok(format!(
        "-- Access to the dqgate store {location}.
-- Run as the database owner or a superuser. The roles must exist
-- (CREATE ROLE {gate} LOGIN; CREATE ROLE {reader_name} LOGIN;).

-- 1. Before the gate's first run: the gate's role owns the store's schema,
--    and needs no other right (no superuser, no CREATE on the database).
GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {gate};
CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {gate};
ALTER SCHEMA {schema} OWNER TO {gate};

-- 2. After the gate's first run has created its tables: the reader reads
--    production and the ledger, writes nothing, and sees no staging.
GRANT CONNECT ON DATABASE {db} TO {reader_name};
GRANT USAGE ON SCHEMA {schema} TO {reader_name};
GRANT SELECT ON {readable} TO {reader_name};
REVOKE ALL ON {private} FROM {reader_name}, PUBLIC;
",
        location = url.location(),
        readable = table_list(&readable),
        private = table_list(&PRIVATE),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_names_the_url_roles_schema_and_every_table() {
        let rules = crate::rules::RuleSet::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/rules/movies.toml"
        )))
        .unwrap();
        let model = rules.model.as_ref().unwrap();
        let script = grants(
            "postgres://dq_gate:secret@db.example/movies?schema=gate",
            "dq\"reader",
            model,
        )
        .unwrap();
        assert!(!script.contains("secret"));
        assert!(script.contains("CREATE SCHEMA IF NOT EXISTS \"gate\" AUTHORIZATION \"dq_gate\";"));
        assert!(script.contains("GRANT CONNECT ON DATABASE \"movies\" TO \"dq\"\"reader\";"));
        assert!(script.contains("\"gate\".\"movies\", \"gate\".\"genres\""));
        assert!(script.contains("\"gate\".\"dq_batches\" TO"));
        assert!(script.contains("REVOKE ALL ON \"gate\".\"dq_meta\", \"gate\".\"dq_sources\""));
        assert!(grants("sqlite://x.db", "r", model).is_err());
    }
}
