//! Loading accepted rows into PostgreSQL: dqgate's `COPY ... FROM STDIN`
//! staging against prepared row-by-row `INSERT`s in one transaction (the
//! fastest way without COPY), measured in the same run on the same rows.
//!
//!     DQGATE_BENCH_PG=postgres://$(id -un)@127.0.0.1:5432/test \
//!         cargo bench --bench pg_load -- [FILE] [INSERT_ROWS]
//!
//! FILE defaults to bench/data/movies_1g.csv (bench/generate.py makes it).
//! The INSERT baseline loads the first INSERT_ROWS movies (default 100000)
//! with their links, since loading a million rows that way takes minutes;
//! the two are compared as rates. Everything happens in a schema of its
//! own, dropped at the end.

use std::path::Path;
use std::time::Instant;

use dqgate::check::{CheckOptions, check_path};
use dqgate::fields::cell::Cell;
use dqgate::reference::subset::SubsetCollector;
use dqgate::rules::RuleSet;
use dqgate::rules::aggregate::Subset;
use dqgate::rules::model::{Model, SqlType};
use dqgate::store::batch::ModelBatch;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let file = args
        .first()
        .map_or("bench/data/movies_1g.csv", String::as_str);
    let insert_rows: usize = args.get(1).map_or(Ok(100_000), |n| n.parse())?;
    let Ok(base) = std::env::var("DQGATE_BENCH_PG").or_else(|_| std::env::var("DQGATE_TEST_PG"))
    else {
        println!("pg_load: set DQGATE_BENCH_PG (or DQGATE_TEST_PG) to a PostgreSQL URL; skipped");
        return Ok(());
    };
    if !Path::new(file).exists() {
        println!("pg_load: {file} is missing (bench/generate.py makes it); skipped");
        return Ok(());
    }

    let started = Instant::now();
    let rules = RuleSet::load(Path::new("rules/movies.toml"))?;
    let model = rules
        .model
        .as_ref()
        .ok_or("rules/movies.toml declares no model")?;
    let out = tempfile::tempdir()?;
    let options = CheckOptions {
        out_dir: out.path().to_owned(),
        ..CheckOptions::default()
    };
    let mut collector = SubsetCollector::new(&rules, Subset::All);
    let report = check_path(Path::new(file), &rules, &options, &mut collector)?;
    let batch = collector.batch;
    println!(
        "{file}: {} bytes, {} accepted rows checked in {:.1} s",
        report.bytes,
        report.rows.accepted,
        started.elapsed().as_secs_f64()
    );

    let schema = format!("dqgate_bench_{}", std::process::id());
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut store = dqgate::store::open(&format!("{base}{separator}schema={schema}"), Some(model))?;
    let copy_started = Instant::now();
    let staged = store.stage(&batch)?;
    let copy_s = copy_started.elapsed().as_secs_f64();
    let copy_rows: u64 = staged.iter().map(|t| t.rows).sum();
    drop(store);

    let mut client = postgres::Client::connect(&base, postgres::NoTls)?;
    let insert_started = Instant::now();
    let insert_rows_done = insert(&mut client, &schema, model, &batch, insert_rows)?;
    let insert_s = insert_started.elapsed().as_secs_f64();
    client.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))?;

    let copy_rate = copy_rows as f64 / copy_s;
    let insert_rate = insert_rows_done as f64 / insert_s;
    println!(
        "{:<44} {:>10} {:>9} {:>12}",
        "load into staging", "rows", "seconds", "rows/s"
    );
    println!(
        "{:<44} {:>10} {:>9.2} {:>12.0}",
        "COPY FROM STDIN (dqgate), all rows", copy_rows, copy_s, copy_rate
    );
    println!(
        "{:<44} {:>10} {:>9.2} {:>12.0}",
        format!("prepared INSERTs, first {insert_rows} rows per table"),
        insert_rows_done,
        insert_s,
        insert_rate
    );
    println!(
        "COPY is {:.1}x the rate of row inserts",
        copy_rate / insert_rate
    );
    Ok(())
}

/// Row-by-row prepared INSERTs of the first `n` rows of every table, in
/// one transaction, into temporary copies of the production tables;
/// returns the rows written.
fn insert(
    client: &mut postgres::Client,
    schema: &str,
    model: &Model,
    batch: &ModelBatch,
    n: usize,
) -> Result<u64, postgres::Error> {
    let mut tx = client.transaction()?;
    let mut rows = 0;
    for (table, staged) in model.tables.iter().zip(&batch.tables) {
        tx.batch_execute(&format!(
            "CREATE TEMP TABLE bench_{0} (LIKE \"{schema}\".{0} INCLUDING ALL)",
            table.name
        ))?;
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let values: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let ty = match c.ty {
                    SqlType::Integer => "bigint",
                    SqlType::Number => "double precision",
                    SqlType::Text => "text",
                    SqlType::Boolean => "boolean",
                    SqlType::Date => "date",
                };
                format!("${}::text::{ty}", i + 1)
            })
            .collect();
        let statement = tx.prepare(&format!(
            "INSERT INTO bench_{} ({}) VALUES ({})",
            table.name,
            columns.join(", "),
            values.join(", ")
        ))?;
        for row in staged.rows.iter().take(n) {
            let texts: Vec<Option<String>> = row
                .iter()
                .map(|c| match c {
                    Cell::Null => None,
                    other => Some(other.to_string()),
                })
                .collect();
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                texts.iter().map(|t| t as _).collect();
            tx.execute(&statement, &params)?;
            rows += 1;
        }
    }
    tx.commit()?;
    Ok(rows)
}
