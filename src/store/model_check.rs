//! The model a store holds, against the model of the rule file: the store
//! records the tables and columns it was made for (`dq_model`); a rule file
//! that adds a table, or a column outside a key, is migrated (each change
//! numbered in `dq_model_changes`); any other difference is refused, with
//! every difference named.

use std::collections::BTreeMap;

use super::StoreError;
use super::driver::{Datum, Driver, Param};
use super::schema;
use crate::rules::model::{Model, Table};

/// One recorded column: `(position, name, type, position in the key)`.
type Recorded = Vec<(i64, String, String, Option<i64>)>;

/// What the store must do to hold `model`.
#[derive(Debug, Default, PartialEq)]
struct Plan {
    /// Statements and the change each makes, in words.
    changes: Vec<(String, String)>,
    /// Differences that cannot be migrated safely.
    refused: Vec<String>,
    /// Whether the model must be recorded (again).
    record: bool,
}

/// Makes the store hold `model`'s production tables, or refuses.
pub(super) fn apply(driver: &mut dyn Driver, model: &Model) -> Result<(), StoreError> {
    let first = plan(driver, model)?;
    refuse(driver, &first)?;
    if !first.record {
        return Ok(());
    }
    driver.begin_migration()?;
    let result = (|| {
        // Planned again under the lock: another process may have changed it.
        let plan = plan(driver, model)?;
        refuse(driver, &plan)?;
        let first_change = next_change(driver)?;
        for (next, (sql, change)) in (first_change..).zip(&plan.changes) {
            driver.execute(sql, "changing the store's tables to the rule file's model")?;
            driver.rows(
                "INSERT INTO dq_model_changes (change_id, applied_at, change) VALUES ($1, $2, $3) RETURNING change_id",
                &[
                    Param::Int(next),
                    Param::Text(&chrono::Utc::now().to_rfc3339()),
                    Param::Text(change),
                ],
                "recording a model change",
            )?;
        }
        record(driver, model)
    })();
    match result {
        Ok(()) => driver.commit("committing the model's tables"),
        Err(e) => {
            let _ = driver.rollback();
            Err(e)
        }
    }
}

fn refuse(driver: &dyn Driver, plan: &Plan) -> Result<(), StoreError> {
    if plan.refused.is_empty() {
        return Ok(());
    }
    Err(StoreError::ModelChanged {
        location: driver.location(),
        differences: plan.refused.clone(),
    })
}

fn next_change(driver: &mut dyn Driver) -> Result<i64, StoreError> {
    let rows = driver.rows(
        "SELECT COALESCE(MAX(change_id), 0) + 1 FROM dq_model_changes",
        &[],
        "numbering a model change",
    )?;
    Ok(rows.first().and_then(|r| r.first()).map_or(1, Datum::int))
}

/// The recorded model, per table.
fn recorded(driver: &mut dyn Driver) -> Result<BTreeMap<String, Recorded>, StoreError> {
    let rows = driver.rows(
        "SELECT table_name, position, column_name, column_type, key_position FROM dq_model ORDER BY table_name, position",
        &[],
        "reading the store's model",
    )?;
    let mut out: BTreeMap<String, Recorded> = BTreeMap::new();
    for row in rows {
        let mut r = row.into_iter();
        let table = r.next().map(Datum::text).unwrap_or_default();
        let position = r.next().map_or(0, |d| d.int());
        let name = r.next().map(Datum::text).unwrap_or_default();
        let ty = r.next().map(Datum::text).unwrap_or_default();
        let key = match r.next() {
            None | Some(Datum::Null) => None,
            Some(d) => Some(d.int()),
        };
        out.entry(table)
            .or_default()
            .push((position, name, ty, key));
    }
    Ok(out)
}

/// The model's table as it would be recorded.
fn as_recorded(table: &Table) -> Recorded {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                i as i64,
                c.name.clone(),
                c.ty.as_str().to_owned(),
                table.key.iter().position(|&k| k == i).map(|p| p as i64),
            )
        })
        .collect()
}

fn key_of(columns: &Recorded) -> Vec<&str> {
    let mut key: Vec<(i64, &str)> = columns
        .iter()
        .filter_map(|(_, n, _, k)| k.map(|k| (k, n.as_str())))
        .collect();
    key.sort();
    key.into_iter().map(|(_, n)| n).collect()
}

fn plan(driver: &mut dyn Driver, model: &Model) -> Result<Plan, StoreError> {
    let recorded = recorded(driver)?;
    let mut plan = Plan::default();
    let records_meta = driver.rows(
        "SELECT value FROM dq_meta WHERE key = 'record_table'",
        &[],
        "reading the store's model",
    )?;
    let records_now = model.records().name.clone();
    if let Some(before) = records_meta
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .map(Datum::text)
        && before != records_now
    {
        plan.refused.push(format!(
            "records are table `{before}` in the store, `{records_now}` in the rule file (the first [[tables]] entry)"
        ));
    }
    for name in recorded.keys() {
        if !model.tables.iter().any(|t| t.name == *name) {
            plan.refused.push(format!(
                "table `{name}` is in the store's model but not in the rule file; promoting without it would leave its rows stale"
            ));
        }
    }
    for table in &model.tables {
        let now = as_recorded(table);
        match recorded.get(&table.name) {
            None => {
                plan.record = true;
                let existing = driver.table_columns(&table.name)?;
                if existing.is_empty() {
                    plan.changes.push((
                        schema::create_table(driver, table, "", false),
                        format!("created table {}", table.name),
                    ));
                } else {
                    let mut found: Vec<String> = existing
                        .iter()
                        .map(|(n, _)| n.to_ascii_lowercase())
                        .collect();
                    let mut wanted: Vec<String> = table
                        .columns
                        .iter()
                        .map(|c| c.name.to_ascii_lowercase())
                        .collect();
                    found.sort();
                    wanted.sort();
                    if found != wanted {
                        plan.refused.push(format!(
                            "table `{}` exists in the store with columns ({}), but the rule file's model gives it ({})",
                            table.name,
                            found.join(", "),
                            wanted.join(", ")
                        ));
                    }
                }
            }
            Some(before) => compare_table(driver, table, before, &now, &mut plan),
        }
    }
    Ok(plan)
}

fn compare_table(
    driver: &dyn Driver,
    table: &Table,
    before: &Recorded,
    now: &Recorded,
    plan: &mut Plan,
) {
    let name = &table.name;
    if key_of(before) != key_of(now) {
        plan.refused.push(format!(
            "table `{name}` is keyed by ({}) in the store, by ({}) in the rule file",
            key_of(before).join(", "),
            key_of(now).join(", ")
        ));
    }
    for (_, column, ty, _) in before {
        match now.iter().find(|(_, n, _, _)| n == column) {
            None => plan.refused.push(format!(
                "table `{name}`: column `{column}` is in the store but not in the rule file"
            )),
            Some((_, _, new_ty, _)) if new_ty != ty => plan.refused.push(format!(
                "table `{name}`: column `{column}` is {ty} in the store, {new_ty} in the rule file"
            )),
            Some(_) => {}
        }
    }
    for (i, (_, column, _, key)) in now.iter().enumerate() {
        if before.iter().any(|(_, n, _, _)| n == column) || key.is_some() {
            continue;
        }
        plan.record = true;
        plan.changes.push((
            format!(
                "ALTER TABLE {} ADD COLUMN {} {}",
                schema::quote(name),
                schema::quote(column),
                driver.column_type(table.columns[i].ty)
            ),
            format!("added column {name}.{column} (null in the rows already stored)"),
        ));
    }
}

fn record(driver: &mut dyn Driver, model: &Model) -> Result<(), StoreError> {
    driver.execute("DELETE FROM dq_model", "recording the store's model")?;
    let rows: Vec<(String, Recorded)> = model
        .tables
        .iter()
        .map(|t| (t.name.clone(), as_recorded(t)))
        .collect();
    let mut params = rows.iter().flat_map(|(table, columns)| {
        columns.iter().map(move |(position, name, ty, key)| {
            vec![
                Param::Text(table),
                Param::Int(*position),
                Param::Text(name),
                Param::Text(ty),
                key.map_or(Param::Null, Param::Int),
            ]
        })
    });
    driver.load(
        "dq_model",
        &[
            "table_name",
            "position",
            "column_name",
            "column_type",
            "key_position",
        ],
        &mut params,
    )?;
    driver.rows(
        "INSERT INTO dq_meta (key, value) VALUES ('record_table', $1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value RETURNING key",
        &[Param::Text(&model.records().name)],
        "recording the store's model",
    )?;
    Ok(())
}
