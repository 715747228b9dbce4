//! The same file checked on one thread and on several gives the same
//! report, quarantine, accepted rows and reference figures, byte for byte.

use std::path::Path;

use crate::harness::{fixture, run};

/// A file of several chunks built from the movies sample: an original
/// copy, a copy with new ids, and a copy repeating the first copy's ids
/// (duplicates whose first sighting is chunks earlier), with malformed
/// records scattered through it.
fn many_chunks(dir: &Path) -> String {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(fixture("movies_sample.csv"))
        .unwrap();
    let header = reader.byte_headers().unwrap().clone();
    let id = header.iter().position(|h| h == b"id").unwrap();
    let records: Vec<csv::ByteRecord> = reader.byte_records().map(Result::unwrap).collect();
    let path = dir.join("many_chunks.csv");
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_path(&path)
        .unwrap();
    writer.write_byte_record(&header).unwrap();
    for copy in 0..8u64 {
        for (n, record) in records.iter().enumerate() {
            let mut fields: Vec<Vec<u8>> = record.iter().map(<[u8]>::to_vec).collect();
            if copy % 2 == 1
                && let Ok(i) = std::str::from_utf8(&fields[id])
                    .unwrap_or("")
                    .parse::<u64>()
            {
                fields[id] = (i + copy * 10_000_000).to_string().into_bytes();
            }
            if n == 17 * (copy as usize + 1) {
                fields.pop();
            }
            writer.write_record(&fields).unwrap();
        }
    }
    writer.flush().unwrap();
    path.display().to_string()
}

/// The report with what names the output directory removed.
fn comparable(report: &serde_json::Value) -> serde_json::Value {
    let mut report = report.clone();
    report["outputs"] = serde_json::Value::Null;
    if let Some(diff) = report.get_mut("diff")
        && let Some(aggregates) = diff["aggregates"].as_array_mut()
    {
        for a in aggregates {
            a["query_ms"] = serde_json::Value::Null;
        }
    }
    report
}

#[test]
fn one_thread_and_many_give_identical_reports_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let file = many_chunks(dir.path());
    assert!(
        std::fs::metadata(&file).unwrap().len() > 1 << 20,
        "several chunks"
    );
    let single = run(
        "check",
        &file,
        "rules/movies.toml",
        &["--threads", "1", "--write-accepted"],
    );
    let many = run(
        "check",
        &file,
        "rules/movies.toml",
        &["--threads", "4", "--write-accepted", "--timings"],
    );
    assert_eq!(single.code, 1, "{}", single.stderr);
    // --timings writes one line to standard error and changes nothing else.
    let timings: Vec<&str> = many
        .stderr
        .lines()
        .filter(|l| l.starts_with("timings: "))
        .collect();
    assert_eq!(timings.len(), 1, "{}", many.stderr);
    assert!(
        timings[0].contains(" s on 4 threads; in file order "),
        "{}",
        timings[0]
    );
    assert_eq!(many.code, single.code);
    single.assert_balanced();
    let report = single.report();
    assert!(
        report["rows"]["quarantined"].as_u64().unwrap() > 300,
        "duplicates and ragged rows"
    );
    assert_eq!(comparable(&many.report()), comparable(&report));
    // Read in blocks hashed by 4 threads and joined: still the file's digest.
    let digest = blake3::hash(&std::fs::read(&file).unwrap()).to_hex();
    assert_eq!(many.report()["blake3"], digest.as_str());
    for name in ["quarantine.csv", "accepted.csv"] {
        let one = std::fs::read(single.out_path().join(name)).unwrap();
        let other = std::fs::read(many.out_path().join(name)).unwrap();
        assert!(one == other, "{name} differs between 1 and 4 threads");
    }
    assert_eq!(
        single.stdout,
        many.stdout.replace(
            &many.out_path().display().to_string(),
            &single.out_path().display().to_string()
        )
    );
}

#[test]
fn the_reference_figures_do_not_depend_on_threads() {
    let dir = tempfile::tempdir().unwrap();
    let file = many_chunks(dir.path());
    let store = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    let single = run(
        "diff",
        &file,
        "rules/movies.toml",
        &[
            "--threads",
            "1",
            "--subset",
            "all",
            "--store",
            &store("one.db"),
        ],
    );
    let many = run(
        "diff",
        &file,
        "rules/movies.toml",
        &[
            "--threads",
            "3",
            "--subset",
            "all",
            "--store",
            &store("many.db"),
        ],
    );
    assert_eq!(
        comparable(&many.report())["diff"]["aggregates"],
        comparable(&single.report())["diff"]["aggregates"]
    );
    for aggregate in [
        "genre_year",
        "company_year",
        "company_genre_year",
        "genre_year_top",
    ] {
        let path = format!("reference/{aggregate}.csv");
        let one = std::fs::read(single.out_path().join(&path)).unwrap();
        let other = std::fs::read(many.out_path().join(&path)).unwrap();
        assert!(one == other, "{path} differs between 1 and 3 threads");
    }
}
