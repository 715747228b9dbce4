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
use dqgate::reference::subset::SubsetCollector;
use dqgate::rules::RuleSet;
use dqgate::rules::aggregate::Subset;
use dqgate::store::model::ModelBatch;
use dqgate::store::{PostgresStore, Store};

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
    let out = tempfile::tempdir()?;
    let options = CheckOptions {
        out_dir: out.path().to_owned(),
        ..CheckOptions::default()
    };
    let mut collector = SubsetCollector::new(&rules, Subset::All)?;
    let report = check_path(Path::new(file), &rules, &options, &mut collector)?;
    let batch = collector.batch;
    let links: usize = batch
        .movies
        .iter()
        .map(|m| m.genre_ids.len() + m.company_ids.len())
        .sum();
    println!(
        "{file}: {} bytes, {} accepted rows ({} movies, {links} links) checked in {:.1} s",
        report.bytes,
        report.rows.accepted,
        batch.movies.len(),
        started.elapsed().as_secs_f64()
    );

    let schema = format!("dqgate_bench_{}", std::process::id());
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut store = PostgresStore::open(&format!("{base}{separator}schema={schema}"))?;
    let copy_started = Instant::now();
    let counts = store.stage(&batch, 0)?;
    let copy_s = copy_started.elapsed().as_secs_f64();
    let copy_rows = counts.movies
        + counts.movie_genres
        + counts.movie_companies
        + counts.genres
        + counts.companies;
    drop(store);

    let mut client = postgres::Client::connect(&base, postgres::NoTls)?;
    client.batch_execute(&format!(
        "SET search_path TO \"{schema}\"; TRUNCATE stg_movies, stg_genres, stg_companies, stg_movie_genres, stg_movie_companies"
    ))?;
    let sample = prefix(&batch, insert_rows);
    let insert_started = Instant::now();
    let insert_rows_done = insert(&mut client, &sample)?;
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
        format!("prepared INSERTs, first {} movies", sample.movies.len()),
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

/// The first `n` movies with the genres and companies they use.
fn prefix(batch: &ModelBatch, n: usize) -> ModelBatch {
    let mut out = ModelBatch::default();
    out.movies = batch.movies.iter().take(n).cloned().collect();
    let genres: std::collections::HashSet<i64> = out
        .movies
        .iter()
        .flat_map(|m| m.genre_ids.clone())
        .collect();
    let companies: std::collections::HashSet<i64> = out
        .movies
        .iter()
        .flat_map(|m| m.company_ids.clone())
        .collect();
    out.genres = batch
        .genres
        .iter()
        .filter(|(id, _)| genres.contains(id))
        .cloned()
        .collect();
    out.companies = batch
        .companies
        .iter()
        .filter(|(id, _)| companies.contains(id))
        .cloned()
        .collect();
    out
}

/// Row-by-row prepared INSERTs in one transaction; returns the rows written.
fn insert(client: &mut postgres::Client, batch: &ModelBatch) -> Result<u64, postgres::Error> {
    let mut tx = client.transaction()?;
    let movie = tx.prepare(
        "INSERT INTO stg_movies (id, title, release_date, release_year, budget, revenue, popularity, runtime,
         vote_average, vote_count, status, original_language, imdb_id, batch_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0)",
    )?;
    let genre_link =
        tx.prepare("INSERT INTO stg_movie_genres (movie_id, genre_id) VALUES ($1, $2)")?;
    let company_link =
        tx.prepare("INSERT INTO stg_movie_companies (movie_id, company_id) VALUES ($1, $2)")?;
    let genre = tx.prepare("INSERT INTO stg_genres (id, name) VALUES ($1, $2)")?;
    let company = tx.prepare("INSERT INTO stg_companies (id, name) VALUES ($1, $2)")?;
    let mut rows = 0;
    for m in &batch.movies {
        tx.execute(
            &movie,
            &[
                &m.id,
                &m.title,
                &m.release_date,
                &m.release_year,
                &m.budget,
                &m.revenue,
                &m.popularity,
                &m.runtime,
                &m.vote_average,
                &m.vote_count,
                &m.status,
                &m.original_language,
                &m.imdb_id,
            ],
        )?;
        rows += 1;
        for g in &m.genre_ids {
            tx.execute(&genre_link, &[&m.id, g])?;
            rows += 1;
        }
        for c in &m.company_ids {
            tx.execute(&company_link, &[&m.id, c])?;
            rows += 1;
        }
    }
    for (id, name) in &batch.genres {
        tx.execute(&genre, &[id, name])?;
        rows += 1;
    }
    for (id, name) in &batch.companies {
        tx.execute(&company, &[id, name])?;
        rows += 1;
    }
    tx.commit()?;
    Ok(rows)
}
