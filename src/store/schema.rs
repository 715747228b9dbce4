//! The SQL text of a store, generated once for every engine from the
//! model and the engine's column types: the store's own tables (ledger,
//! lineage, running totals, the recorded model), the model's production and
//! staging tables, the views that point queries at staging, and the
//! promotion.

use crate::rules::model::{Model, Table};
use crate::rules::spec::OnExisting;

use super::driver::Driver;

/// The layout of the store's own tables that this build writes and reads.
/// Versions 1 to 4 were the layout of dqgate's fixed movie model.
pub const SCHEMA_VERSION: i64 = 5;

/// The first version of the model-driven layout.
pub(super) const FIRST_MODEL_VERSION: i64 = 5;

/// The migrations of the store's own tables: `(version, statements)`,
/// applied in order to a store below `version`. The same on every engine,
/// in its types.
pub(super) fn migrations(driver: &dyn Driver) -> Vec<(i64, String)> {
    let (int, bytes, serial) = driver.own_types();
    vec![(
        5,
        format!(
            "CREATE TABLE dq_batches (
                batch_id        {serial},
                file            TEXT NOT NULL,
                blake3          TEXT NOT NULL,
                rules_blake3    TEXT NOT NULL,
                header          TEXT NOT NULL,
                rows_in         {int} NOT NULL,
                accepted        {int} NOT NULL,
                quarantined     {int} NOT NULL,
                warned          {int} NOT NULL,
                new_records     {int} NOT NULL DEFAULT 0,
                updated_records {int} NOT NULL DEFAULT 0,
                skipped_records {int} NOT NULL DEFAULT 0,
                verdict         TEXT NOT NULL,
                diff_outcome    TEXT NOT NULL,
                query_timings   TEXT NOT NULL,
                status          TEXT NOT NULL,
                reasons         TEXT NOT NULL,
                started_at      TEXT NOT NULL,
                finished_at     TEXT NOT NULL
            );
            CREATE INDEX dq_batches_blake3 ON dq_batches (blake3, status);
            CREATE TABLE dq_sources (
                record_key TEXT PRIMARY KEY,
                batch_id   {int} NOT NULL,
                line       {int} NOT NULL,
                record     {bytes} NOT NULL
            );
            CREATE TABLE dq_rollups (
                aggregate TEXT NOT NULL,
                key       TEXT NOT NULL,
                state     TEXT NOT NULL,
                PRIMARY KEY (aggregate, key)
            );
            CREATE TABLE dq_rollup_labels (
                label TEXT NOT NULL,
                key   TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (label, key)
            );
            CREATE TABLE dq_model (
                table_name  TEXT NOT NULL,
                position    {int} NOT NULL,
                column_name TEXT NOT NULL,
                column_type TEXT NOT NULL,
                key_position {int},
                PRIMARY KEY (table_name, column_name)
            );
            CREATE TABLE dq_model_changes (
                change_id  {int} PRIMARY KEY,
                applied_at TEXT NOT NULL,
                change     TEXT NOT NULL
            );"
        ),
    )]
}

/// `name` as a quoted identifier, so that a column named like a keyword
/// (`order`, `user`, `group`) works on every engine; model names are lower
/// case, so quoting never changes how a query's unquoted name resolves.
pub(super) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The table called `prefix` + `name`, quoted.
fn table_name(prefix: &str, name: &str) -> String {
    quote(&format!("{prefix}{name}"))
}

/// `CREATE TABLE` for a model table: `prefix` is `""` for production and
/// `stg_` for staging, `temp` adds `TEMP`.
pub(super) fn create_table(driver: &dyn Driver, table: &Table, prefix: &str, temp: bool) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let not_null = if table.key.contains(&i) {
                " NOT NULL"
            } else {
                ""
            };
            format!("{} {}{not_null}", quote(&c.name), driver.column_type(c.ty))
        })
        .collect();
    format!(
        "CREATE {}TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}));",
        if temp { "TEMP " } else { "" },
        table_name(prefix, &table.name),
        columns.join(", "),
        quoted(&key_names(table))
    )
}

/// Names, quoted and separated by commas.
pub(super) fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| quote(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names of a table's key columns.
pub(super) fn key_names(table: &Table) -> Vec<&str> {
    table
        .key
        .iter()
        .map(|&k| table.columns[k].name.as_str())
        .collect()
}

/// Names of a table's columns.
pub(super) fn column_names(table: &Table) -> Vec<&str> {
    table.columns.iter().map(|c| c.name.as_str()).collect()
}

/// Columns `key_1`... of the record key in the staging bookkeeping tables.
pub(super) fn key_slots(model: &Model) -> Vec<String> {
    (1..=model.record_key.len())
        .map(|i| format!("key_{i}"))
        .collect()
}

/// This connection's staging: a `stg_` table per model table, the staged
/// records' sources, and the keys compared by the audit.
pub(super) fn staging(driver: &dyn Driver, model: &Model) -> String {
    let (int, bytes, _) = driver.own_types();
    let records = model.records();
    let typed_slots: Vec<String> = key_slots(model)
        .iter()
        .zip(&records.key)
        .map(|(slot, &k)| format!("{slot} {}", driver.column_type(records.columns[k].ty)))
        .collect();
    let mut sql: String = model
        .tables
        .iter()
        .map(|t| create_table(driver, t, "stg_", true))
        .collect();
    sql.push_str(&format!(
        "CREATE TEMP TABLE IF NOT EXISTS stg_sources (record_key TEXT PRIMARY KEY, {}, line {int} NOT NULL, record {bytes} NOT NULL);
         CREATE TEMP TABLE IF NOT EXISTS stg_subset ({}, PRIMARY KEY ({}));",
        typed_slots.join(", "),
        typed_slots.join(", "),
        key_slots(model).join(", ")
    ));
    sql
}

/// The statements that empty this connection's staging.
pub(super) fn clear_staging(model: &Model) -> String {
    let mut sql: String = model
        .tables
        .iter()
        .map(|t| format!("DELETE FROM {};", table_name("stg_", &t.name)))
        .collect();
    sql.push_str("DELETE FROM stg_sources; DELETE FROM stg_subset;");
    sql
}

/// `EXISTS (...)`: a row of `alias` (a table that belongs to the record)
/// whose record key is among the keys of `keys` (`key_1`... columns).
fn owned_by(table: &Table, alias: &str, keys: &str) -> String {
    let owner = table.owner.as_deref().unwrap_or(&[]);
    let matches: Vec<String> = owner
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            format!(
                "k.key_{} = {alias}.{}",
                i + 1,
                quote(&table.columns[c].name)
            )
        })
        .collect();
    format!(
        "EXISTS (SELECT 1 FROM {keys} AS k WHERE {})",
        matches.join(" AND ")
    )
}

/// The statements that point the model's table names at staging (TEMP
/// views over the `stg_` tables, showing only the compared records) or
/// back at production (dropping those views). Both engines search their
/// temporary schema first, so one query text serves both.
pub(super) fn point_at_staging(model: &Model, temp: &str) -> String {
    model
        .tables
        .iter()
        .map(|t| {
            let filter = if t.is_shared() {
                String::new()
            } else {
                format!(" WHERE {}", owned_by(t, "s", &format!("{temp}.stg_subset")))
            };
            format!(
                "CREATE TEMP VIEW {} AS SELECT * FROM {temp}.{} AS s{filter};",
                quote(&t.name),
                table_name("stg_", &t.name)
            )
        })
        .collect()
}

/// The statements that drop the staging views.
pub(super) fn point_at_production(model: &Model, temp: &str) -> String {
    model
        .tables
        .iter()
        .map(|t| format!("DROP VIEW IF EXISTS {temp}.{};", quote(&t.name)))
        .collect()
}

/// A condition on `alias` (a row of the records table) that production
/// holds its key.
fn in_production(model: &Model, alias: &str) -> String {
    let records = model.records();
    let matches: Vec<String> = records
        .key
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            format!(
                "p.{} = {alias}.key_{}",
                quote(&records.columns[k].name),
                i + 1
            )
        })
        .collect();
    format!(
        "EXISTS (SELECT 1 FROM {} AS p WHERE {})",
        quote(&records.name),
        matches.join(" AND ")
    )
}

/// Staged records whose key production holds.
pub(super) fn staged_existing(model: &Model) -> String {
    format!(
        "SELECT s.record_key FROM stg_sources AS s WHERE {} ORDER BY s.record_key",
        in_production(model, "s")
    )
}

/// The statements that copy staging into production under a policy, the
/// same on every engine; `temp` names the engine's temporary schema. The
/// records of `policy`'s choosing replace their rows in every table that
/// belongs to the record; rows of shared tables never change once written
/// (the first wins).
pub(super) fn promotion(model: &Model, policy: OnExisting, batch_id: i64, temp: &str) -> String {
    let slots = key_slots(model).join(", ");
    let chosen = match policy {
        OnExisting::Skip => format!(" WHERE NOT {}", in_production(model, "s")),
        OnExisting::Update | OnExisting::Reject => String::new(),
    };
    let promoted = format!("{temp}.dq_promoted");
    let mut sql = format!(
        "DROP TABLE IF EXISTS {promoted};
         CREATE TEMP TABLE dq_promoted AS SELECT s.record_key, {slots} FROM stg_sources AS s{chosen};"
    );
    for table in &model.tables {
        let name = quote(&table.name);
        let staged = table_name("stg_", &table.name);
        let columns = quoted(&column_names(table));
        if table.is_shared() {
            sql.push_str(&format!(
                "INSERT INTO {name} ({columns}) SELECT {columns} FROM {staged} WHERE true
                 ON CONFLICT ({}) DO NOTHING;",
                quoted(&key_names(table))
            ));
        } else {
            sql.push_str(&format!(
                "DELETE FROM {name} WHERE {};
                 INSERT INTO {name} ({columns}) SELECT {columns} FROM {staged} AS s WHERE {};",
                owned_by(table, &name, &promoted),
                owned_by(table, "s", &promoted),
            ));
        }
    }
    sql.push_str(&format!(
        "INSERT INTO dq_sources (record_key, batch_id, line, record)
             SELECT record_key, {batch_id}, line, record FROM stg_sources
             WHERE record_key IN (SELECT record_key FROM {promoted})
         ON CONFLICT (record_key) DO UPDATE SET batch_id = excluded.batch_id, line = excluded.line,
             record = excluded.record;
         DROP TABLE {promoted};"
    ));
    sql
}
