//! The streaming check: one pass over a CSV file, every record checked and
//! sent to the accepted or quarantined output, file-level rules evaluated at
//! the end, and the report written.

pub mod header;
pub(crate) mod int_index;
pub(crate) mod output;
pub(crate) mod quoting;
pub mod row;
pub(crate) mod tally;
mod typed;
pub mod unique;

use std::fs::File;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};

use crate::check::header::HeaderBinding;
use crate::check::output::{OutputError, Outputs};
use crate::check::row::{Limits, RowChecker, Violation, record_too_large};
use crate::check::tally::{Tally, Unbalanced};
use crate::check::unique::{ReadKey, UniqueKeys};
use crate::read::blocks::BlockReader;
use crate::read::input::{self, ChunkReader, Fields, RecordView};
use crate::read::pipeline::{self, Item, PassOptions, PipelineError, Source};
use crate::report::{
    BlankLines, FileRuleReport, HeaderReport, OutputsReport, Report, Rows, RuleReport, RulesFile,
    SCHEMA_VERSION, Tool,
};
use crate::rules::{RuleSet, UnexpectedColumns};

/// How a check runs and where it writes.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Directory for `report.json`, `quarantine.csv` and `accepted.csv`.
    pub out_dir: PathBuf,
    /// Also write `accepted.csv`.
    pub write_accepted: bool,
    /// Field and record size limits.
    pub limits: Limits,
    /// Examples kept per rule.
    pub max_examples: usize,
    /// Record keys (as JSON text) production holds, with their batch: a record with one of
    /// them is quarantined (the `reject` promotion policy).
    pub reject_existing: Option<std::sync::Arc<std::collections::HashMap<String, i64>>>,
    /// Show a progress bar on standard error (only ever drawn on a terminal).
    pub progress: bool,
    /// Threads checking records, the calling one included (1: everything
    /// on one thread).
    pub threads: usize,
    /// Print how long the pass took, and how much of it the in-order work
    /// took, on standard error.
    pub timings: bool,
    /// The input's encoding when it is not UTF-8 (transcoded as it streams).
    pub encoding: Option<&'static encoding_rs::Encoding>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            out_dir: PathBuf::from("dqgate-out"),
            write_accepted: false,
            limits: Limits::default(),
            max_examples: 3,
            reject_existing: None,
            progress: false,
            threads: 1,
            timings: false,
            encoding: None,
        }
    }
}

/// A check that could not complete (as opposed to a file that failed).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The input could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Input {
        /// The input file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An output could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The accounting did not balance (a bug in dqgate).
    #[error(transparent)]
    Unbalanced(#[from] Unbalanced),
    /// The report could not be serialized.
    #[error("cannot serialize the report: {0}")]
    Serialize(#[from] serde_json::Error),
    /// Declared columns look like misspellings of the header's: an error
    /// in the rule file, found before any row is read.
    #[error(
        "rule file {} does not match the header of {}: {}; fix the rule file (nothing was checked)",
        rules.display(),
        file.display(),
        typos.iter().map(|(declared, header)| format!("column `{declared}` is not in the header; did you mean `{header}`?")).collect::<Vec<_>>().join("; ")
    )]
    LikelyTypo {
        /// The rule file.
        rules: PathBuf,
        /// The input.
        file: PathBuf,
        /// `(declared, header name)` pairs.
        typos: Vec<(String, String)>,
    },
}

/// Receives every accepted record, in file order, while the check streams.
pub trait AcceptedSink {
    /// One accepted record; `binding` maps declared columns to its fields,
    /// `raw` is the record's original bytes.
    fn accepted(&mut self, line: u64, binding: &HeaderBinding, fields: &Fields<'_>, raw: &[u8]);
}

/// A sink that ignores accepted records.
#[derive(Debug, Default)]
pub struct NoSink;

impl AcceptedSink for NoSink {
    fn accepted(
        &mut self,
        _line: u64,
        _binding: &HeaderBinding,
        _fields: &Fields<'_>,
        _raw: &[u8],
    ) {
    }
}

/// Checks the file at `path`, writes the outputs and the report.
pub fn check_file(
    path: &Path,
    rules: &RuleSet,
    options: &CheckOptions,
) -> Result<Report, CheckError> {
    let report = check_path(path, rules, options, &mut NoSink)?;
    write_report(&report, options)?;
    Ok(report)
}

/// Checks the file at `path` and writes the row outputs, handing accepted
/// records to `sink`; the caller writes the report.
pub fn check_path(
    path: &Path,
    rules: &RuleSet,
    options: &CheckOptions,
    sink: &mut dyn AcceptedSink,
) -> Result<Report, CheckError> {
    let input_error = |source| CheckError::Input {
        path: path.to_owned(),
        source,
    };
    let stdin = path == Path::new("-");
    // The first bytes tell a compressed file; they are peeked, not taken.
    enum Source {
        Stdin(std::io::BufReader<std::io::Stdin>),
        File(File),
    }
    let (input, compression) = if stdin {
        use std::io::BufRead as _;
        let mut reader = std::io::BufReader::with_capacity(64 * 1024, std::io::stdin());
        let compression =
            crate::read::decode::Compression::sniff(reader.fill_buf().map_err(input_error)?);
        (Source::Stdin(reader), compression)
    } else {
        let file = File::open(path).map_err(input_error)?;
        let compression = crate::read::decode::Compression::of_file(&file);
        (Source::File(file), compression)
    };
    // `-`, a compressed file and another encoding are read as a stream,
    // decoded on the way.
    if stdin || compression.is_some() || options.encoding.is_some() {
        let source: Box<dyn Read + Send> = match input {
            Source::File(file) => Box::new(file),
            Source::Stdin(reader) => Box::new(reader),
        };
        let source = match compression {
            Some(c) => c.decoder(source).map_err(input_error)?,
            None => source,
        };
        let source = match options.encoding {
            Some(encoding) => crate::read::decode::transcoder(encoding, source),
            None => source,
        };
        return check_streaming(
            path,
            source,
            None,
            rules,
            options,
            sink,
            &indicatif::ProgressBar::hidden(),
        );
    }
    let Source::File(file) = input else {
        unreachable!("standard input is read as a stream above")
    };
    // Only a regular file can be read at offsets; a pipe, a FIFO or a
    // device (`/dev/stdin`, `<(zcat feed.csv.gz)`) is read as a stream.
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let progress = progress_bar(options.progress, size.unwrap_or(0));
    let report = check_streaming(
        path,
        &file,
        size.map(|size| (&file, size)),
        rules,
        options,
        sink,
        &progress,
    );
    progress.finish_and_clear();
    report
}

/// A bar of bytes read, rows per second and time left, drawn on standard
/// error when it is a terminal, and never in CI (the `CI` variable).
fn progress_bar(wanted: bool, size: u64) -> indicatif::ProgressBar {
    if !wanted || std::env::var_os("CI").is_some() || size == 0 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(size),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {msg} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Binds the header of the file at `path` to `rules` without reading its
/// rows: what `dqgate rules check --header` reports. Declared columns that
/// look like misspellings of the header's are an error.
pub fn check_header(path: &Path, rules: &RuleSet) -> Result<HeaderBinding, CheckError> {
    let read_error = |source| CheckError::Input {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let mut input = ChunkReader::new(file);
    let limit = Limits::default().max_record_bytes;
    let header =
        match input::read_header(&mut input, rules.file.delimiter, limit).map_err(read_error)? {
            input::HeaderRead::Header(h) => HeaderBinding::bind_raw(rules, &h.fields, &h.raw),
            input::HeaderRead::NoHeader { .. } | input::HeaderRead::TooLarge => {
                HeaderBinding::bind(rules, &csv::ByteRecord::new())
            }
        };
    if header.not_csv.is_none() && !header.typos.is_empty() {
        return Err(CheckError::LikelyTypo {
            rules: rules.path.clone(),
            file: path.to_owned(),
            typos: header.typos,
        });
    }
    Ok(header)
}

/// Writes `report.json` atomically into the output directory.
pub fn write_report(report: &Report, options: &CheckOptions) -> Result<(), CheckError> {
    let json = crate::report::to_json(report)?;
    output::write_atomic(&options.out_dir.join(output::REPORT_FILE), &json)?;
    Ok(())
}

/// Checks CSV read from `reader`; `path` names it in reports and messages.
pub fn check_reader<R: Read + Send>(
    path: &Path,
    reader: R,
    rules: &RuleSet,
    options: &CheckOptions,
    sink: &mut dyn AcceptedSink,
) -> Result<Report, CheckError> {
    check_streaming::<R>(
        path,
        reader,
        None,
        rules,
        options,
        sink,
        &indicatif::ProgressBar::hidden(),
    )
}

/// How many records pass between two updates of the progress bar's rate.
const PROGRESS_EVERY: u64 = 16 * 1024;

/// The header is read from `reader`; the records too, unless the input is
/// a `file` of known length, whose blocks every thread reads at their
/// offsets (`reader` then reads that file from its start).
fn check_streaming<R: Read + Send>(
    path: &Path,
    reader: R,
    file: Option<(&File, u64)>,
    rules: &RuleSet,
    options: &CheckOptions,
    sink: &mut dyn AcceptedSink,
    progress: &indicatif::ProgressBar,
) -> Result<Report, CheckError> {
    let read_error = |source| CheckError::Input {
        path: path.to_owned(),
        source,
    };
    let mut input = ChunkReader::new(reader);
    let mut tally = Tally::new(rules.catalog.len(), options.max_examples);
    let delimiter = rules.file.delimiter;

    let start = input::read_header(&mut input, delimiter, options.limits.max_record_bytes)
        .map_err(read_error)?;
    let (header, mut blank, too_large) = match start {
        input::HeaderRead::Header(h) => (Some(h), input::BlankLines::default(), None),
        input::HeaderRead::NoHeader { blank } => (None, blank, None),
        input::HeaderRead::TooLarge => (
            None,
            input::BlankLines::default(),
            Some(options.limits.max_record_bytes),
        ),
    };
    let binding = header
        .as_ref()
        .map(|h| HeaderBinding::bind_raw(rules, &h.fields, &h.raw));
    if let Some(b) = &binding
        && b.not_csv.is_none()
        && !b.typos.is_empty()
    {
        return Err(CheckError::LikelyTypo {
            rules: rules.path.clone(),
            file: path.to_owned(),
            typos: b.typos.clone(),
        });
    }
    let mut outputs = Outputs::create(
        &options.out_dir,
        header.as_ref().map(|h| &h.fields),
        options.write_accepted,
    )?;

    let mut digest = None;
    if let (Some(header), Some(binding)) = (header, &binding) {
        blank = header.blank_before;
        let unusable = (!binding.usable()).then(|| Violation {
            rule: rules.csv.header,
            value: String::new(),
            reason: binding.unusable_reason(),
        });
        let mut unique = UniqueKeys::new(rules, binding);
        let key_reader = unique.key_reader();
        let make_work = || {
            let mut checker = RowChecker::new(rules, binding, options.limits);
            let unusable = unusable.clone();
            let key_reader = key_reader.clone();
            move |record: &RecordView<'_>| {
                let mut violations = Vec::new();
                let accepted = match &unusable {
                    Some(v) => {
                        violations.push(v.clone());
                        false
                    }
                    None => checker.check(record, &mut violations),
                };
                Checked {
                    accepted,
                    violations,
                    key: accepted.then(|| key_reader.read(record)).flatten(),
                }
            }
        };
        if let Some(rows) = file.and_then(|(_, size)| input.rows_hint(size)) {
            unique.reserve(rows);
        }
        let consume = |item: Item<'_, Checked>| -> Result<(), CheckError> {
            match item {
                Item::Record(
                    record,
                    Checked {
                        accepted,
                        mut violations,
                        key,
                    },
                ) => {
                    let accepted = accepted
                        && unique.claim(&record, key, &mut violations)
                        && !held_by_production(rules, binding, options, &record, &mut violations);
                    tally.record(record.line, accepted, &violations);
                    if accepted {
                        outputs.accept(&record.fields)?;
                        sink.accepted(record.line, binding, &record.fields, record.raw);
                    } else {
                        outputs.quarantine(rules, record.line, &violations, record.raw)?;
                    }
                }
                Item::Upcoming(chunk) => {
                    unique.warm(chunk.results().iter().filter_map(|c| c.key));
                    progress.inc(chunk.chunk.data.len() as u64);
                    return Ok(());
                }
                Item::Oversized(record) => {
                    let violations = [record_too_large(rules, record.len, options.limits)];
                    tally.record(record.line, false, &violations);
                    outputs.quarantine_spilled(
                        rules,
                        record.line,
                        &violations,
                        &mut record.spill,
                        record.len,
                    )?;
                }
            }
            if tally.rows_in.is_multiple_of(PROGRESS_EVERY) && !progress.is_hidden() {
                let seconds = progress.elapsed().as_secs_f64().max(1e-3);
                progress.set_message(format!("{:.0} rows/s", tally.rows_in as f64 / seconds));
            }
            Ok(())
        };
        let pass = PassOptions {
            delimiter,
            threads: options.threads.max(1),
            max_record_bytes: options.limits.max_record_bytes,
        };
        let blocks =
            file.map(|(file, len)| BlockReader::new(file, len, input::CHUNK_BYTES, header.records));
        let source = match &blocks {
            Some(blocks) => Source::Blocks(blocks),
            None => Source::Stream(&mut input),
        };
        let started = std::time::Instant::now();
        let summary = pipeline::run(source, pass, &make_work, consume).map_err(|e| match e {
            PipelineError::Io(source) => read_error(source),
            PipelineError::Consumer(e) => e,
        })?;
        if options.timings {
            // Best effort: a closed standard error does not fail the check.
            let _ = writeln!(
                std::io::stderr(),
                "{}",
                timings_line(started.elapsed(), &summary, pass.threads)
            );
        }
        blank.merge(&summary.blank);
        digest = summary.digest.zip(blocks.map(|b| b.len()));
    } else {
        // Nothing to check: read on so that the size and hash are the file's.
        while input.next_chunk().map_err(read_error)?.is_some() {}
    }
    let (bytes, blake3) = match digest {
        Some((blake3, bytes)) => (bytes, blake3),
        None => input.finish(),
    };
    let summary = InputSummary {
        bytes,
        blake3,
        blank_lines: blank.count,
        blank_line_examples: blank.examples,
        header_too_large: too_large,
    };
    tally.balance()?;
    let paths = outputs.finish()?;

    let report_path = options.out_dir.join(output::REPORT_FILE);
    let report = build_report(
        path,
        rules,
        binding.as_ref(),
        &tally,
        &summary,
        OutputsReport {
            report: report_path.display().to_string(),
            quarantine: paths.quarantine.display().to_string(),
            accepted: paths.accepted.map(|p| p.display().to_string()),
        },
    );
    Ok(report)
}

/// How long a pass took on `threads` threads and how much of it went to
/// the work done in file order on one thread.
fn timings_line(
    pass: std::time::Duration,
    summary: &pipeline::PassSummary,
    threads: usize,
) -> String {
    let (pass, in_order) = (pass.as_secs_f64(), summary.in_order.as_secs_f64());
    format!(
        "timings: pass {pass:.3} s on {threads} thread{}; in file order (uniqueness, tallies, \
         outputs) {in_order:.3} s, {:.1}%",
        if threads == 1 { "" } else { "s" },
        100.0 * in_order / pass.max(f64::MIN_POSITIVE),
    )
}

/// What the row checks say of one record (uniqueness aside).
#[derive(Debug)]
struct Checked {
    accepted: bool,
    violations: Vec<Violation>,
    /// The record's primary key, read where it was checked, for the
    /// in-order claim (only for a record the row checks accept: no other
    /// claims a key).
    key: Option<ReadKey>,
}

/// What the whole pass over the input saw besides the records.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InputSummary {
    bytes: u64,
    blake3: String,
    blank_lines: u64,
    blank_line_examples: Vec<u64>,
    /// The header was not read: it is longer than this many bytes.
    header_too_large: Option<usize>,
}

/// The `reject` policy: true (with a violation) when production already
/// holds the record's movie id.
fn held_by_production(
    rules: &RuleSet,
    binding: &HeaderBinding,
    options: &CheckOptions,
    record: &RecordView<'_>,
    violations: &mut Vec<Violation>,
) -> bool {
    let Some(existing) = &options.reject_existing else {
        return false;
    };
    let Some(model) = &rules.model else {
        return false;
    };
    let mut cells = Vec::with_capacity(model.record_key.len());
    for &c in &model.record_key {
        let text = binding.field_of[c]
            .and_then(|f| record.fields.get(f))
            .filter(|b| !rules.file.is_null(b))
            .and_then(|b| std::str::from_utf8(b).ok());
        let value = text
            .and_then(|t| crate::check::row::typed_value(&rules.columns[c].parse, t))
            .unwrap_or(crate::fields::value::Value::Null);
        cells.push(crate::fields::cell::Cell::from_value(&value));
    }
    let key = crate::fields::cell::Cell::key_text(&cells);
    let Some(batch) = existing.get(&key) else {
        return false;
    };
    violations.push(Violation {
        rule: rules.csv.existing_id,
        value: key.clone(),
        reason: format!(
            "record key {key} is already in production (batch {batch}) and on_existing = reject"
        ),
    });
    true
}

fn build_report(
    path: &Path,
    rules: &RuleSet,
    binding: Option<&HeaderBinding>,
    tally: &Tally,
    summary: &InputSummary,
    outputs: OutputsReport,
) -> Report {
    let mut reasons = Vec::new();
    let mut file_rules = Vec::new();
    let header = match binding {
        None => {
            reasons.push(if let Some(limit) = summary.header_too_large {
                format!(
                    "the first record (the header) is longer than --max-record-bytes {limit}; \
                     no row was read"
                )
            } else if summary.bytes == 0 {
                "the file is empty: it has no header row".to_owned()
            } else {
                "the file has no header row (only blank lines)".to_owned()
            });
            HeaderReport::default()
        }
        Some(b) => {
            if !b.usable() {
                reasons.push(format!("{}, so no row was checked", b.unusable_reason()));
            }
            if rules.file.unexpected_columns == UnexpectedColumns::Fail && !b.unexpected.is_empty()
            {
                reasons.push(format!(
                    "the header has columns without rules: {}",
                    b.unexpected.join(", ")
                ));
            }
            HeaderReport {
                columns: b.width,
                missing: b.missing.clone(),
                unexpected: b.unexpected.clone(),
                duplicates: b.duplicates.clone(),
                not_checked: b.not_checked.clone(),
                hints: b.hints.clone(),
            }
        }
    };

    if binding.is_some() {
        let min_rows = rules.file.min_rows;
        let passed = tally.rows_in >= min_rows;
        file_rules.push(FileRuleReport {
            name: "file.min_rows".into(),
            limit: format!(">= {min_rows} rows"),
            limit_value: min_rows as f64,
            actual: format!("{} rows", tally.rows_in),
            actual_value: tally.rows_in as f64,
            passed,
        });
        if !passed {
            reasons.push(if tally.rows_in == 0 {
                format!("the file has a header but no data rows (at least {min_rows} required)")
            } else {
                format!(
                    "the file has {} rows, fewer than the minimum {min_rows}",
                    tally.rows_in
                )
            });
        }
        if let Some(max) = rules.file.max_quarantined_fraction {
            let fraction = tally.quarantined_fraction();
            let passed = fraction <= max;
            file_rules.push(FileRuleReport {
                name: "file.max_quarantined_fraction".into(),
                limit: format!("<= {:.2}%", max * 100.0),
                limit_value: max,
                actual_value: fraction,
                actual: format!(
                    "{:.2}% ({} of {})",
                    fraction * 100.0,
                    tally.quarantined,
                    tally.rows_in
                ),
                passed,
            });
            if !passed {
                reasons.push(format!(
                    "{} of {} rows ({:.2}%) were quarantined, above the limit of {:.2}%",
                    tally.quarantined,
                    tally.rows_in,
                    fraction * 100.0,
                    max * 100.0
                ));
            }
        }
    }

    let rule_reports = rules
        .catalog
        .iter()
        .zip(&tally.per_rule)
        .map(|(info, count)| RuleReport {
            name: info.name.clone(),
            column: info.column.clone(),
            kind: info.kind.as_str().to_owned(),
            severity: info.severity.as_str().to_owned(),
            rule: info.detail.clone(),
            failed: count.failed,
            examples: count.examples.clone(),
        })
        .collect();

    Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool::current(),
        file: path.display().to_string(),
        bytes: summary.bytes,
        blake3: summary.blake3.clone(),
        rules_file: RulesFile {
            path: rules.path.display().to_string(),
            blake3: rules.blake3.clone(),
            dataset: rules.name.clone(),
        },
        header,
        rows: Rows {
            rows_in: tally.rows_in,
            accepted: tally.accepted,
            quarantined: tally.quarantined,
            warned: tally.warned,
        },
        blank_lines: BlankLines {
            skipped: summary.blank_lines,
            lines: summary.blank_line_examples.clone(),
        },
        rules: rule_reports,
        file_rules,
        verdict: crate::gate::verdict_for(&reasons),
        reasons,
        outputs,
        diff: None,
        promotion: None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;

    const RULES: &str = r#"
[file]
max_quarantined_fraction = 1.0
[columns.id]
type = "integer"
required = true
unique = true
[columns.name]
type = "string"
[columns.genres]
type = "entity_list"
keys = { id = "integer" }
[[rules]]
name = "positive"
expr = "id > 0 or id is null"
"#;

    /// Bytes biased towards what breaks CSV readers.
    fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            4 => Just(b'a'),
            3 => Just(b','),
            3 => Just(b'"'),
            2 => Just(b'\n'),
            2 => Just(b'\r'),
            2 => Just(b'1'),
            1 => Just(b'['),
            1 => Just(b']'),
            1 => Just(0xff),
            1 => any::<u8>(),
        ];
        prop::collection::vec(byte, 0..300).prop_map(|mut body| {
            let mut data = b"id,name,genres\n".to_vec();
            data.append(&mut body);
            data
        })
    }

    fn run(data: &[u8]) -> (Report, Vec<csv::ByteRecord>, Vec<csv::ByteRecord>) {
        let rules = RuleSet::from_source(Path::new("t.toml"), RULES).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let options = CheckOptions {
            out_dir: dir.path().to_owned(),
            write_accepted: true,
            ..CheckOptions::default()
        };
        let report =
            check_reader(Path::new("in.csv"), data, &rules, &options, &mut NoSink).unwrap();
        let read = |name: &str| -> Vec<csv::ByteRecord> {
            csv::ReaderBuilder::new()
                .flexible(true)
                .from_path(dir.path().join(name))
                .unwrap()
                .byte_records()
                .map(Result::unwrap)
                .collect()
        };
        (report, read("accepted.csv"), read("quarantine.csv"))
    }

    #[test]
    fn a_quote_left_open_at_the_end_keeps_its_last_line_break() {
        // Found by the property below: the final LF is inside the quote,
        // not a terminator, and the quarantine must keep it.
        let data = b"id,name,genres\n1,\"open\n";
        let (report, _, quarantined) = run(data);
        assert_eq!(report.rows.quarantined, 1);
        assert_eq!(&quarantined[0][5], b"1,\"open\n");
    }

    /// Keeps every accepted record with its line.
    #[derive(Default)]
    struct Keep(Vec<(u64, Vec<Vec<u8>>)>);

    impl AcceptedSink for Keep {
        fn accepted(&mut self, line: u64, _: &HeaderBinding, fields: &Fields<'_>, _: &[u8]) {
            self.0
                .push((line, fields.iter().map(<[u8]>::to_vec).collect()));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Accepted and quarantined records, put in line order, are the
        /// input's records: nothing lost, added, changed or reordered.
        #[test]
        fn accepted_and_quarantined_by_line_reproduce_the_input(data in csv_bytes(), threads in 1usize..4) {
            let rules = RuleSet::from_source(Path::new("t.toml"), RULES).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let options = CheckOptions {
                out_dir: dir.path().to_owned(),
                threads,
                ..CheckOptions::default()
            };
            let mut kept = Keep::default();
            check_reader(Path::new("in.csv"), &data[..], &rules, &options, &mut kept).unwrap();
            let mut by_line = kept.0;
            let quarantine = csv::ReaderBuilder::new()
                .flexible(true)
                .from_path(dir.path().join("quarantine.csv"))
                .unwrap()
                .into_byte_records()
                .map(Result::unwrap);
            for row in quarantine {
                let line: u64 = std::str::from_utf8(&row[0]).unwrap().parse().unwrap();
                let fields = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(&row[5])
                    .byte_records()
                    .next()
                    .map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect())
                    .unwrap_or_else(|| vec![Vec::new()]);
                by_line.push((line, fields));
            }
            by_line.sort_by_key(|(line, _)| *line);
            let got: Vec<Vec<Vec<u8>>> = by_line.into_iter().map(|(_, f)| f).collect();
            let expected: Vec<Vec<Vec<u8>>> = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(&data[..])
                .byte_records()
                .map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect())
                .collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn any_bytes_are_accounted_for_and_never_panic(data in csv_bytes()) {
            let (report, accepted, quarantined) = run(&data);
            let rows = report.rows;
            prop_assert_eq!(rows.rows_in, rows.accepted + rows.quarantined);
            prop_assert_eq!(accepted.len() as u64, rows.accepted);
            prop_assert_eq!(quarantined.len() as u64, rows.quarantined);
            // Every record the csv crate reads is a row in, and nothing else.
            let expected = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&data[..])
                .byte_records()
                .count() as u64;
            prop_assert_eq!(rows.rows_in, expected.saturating_sub(1));
        }

        #[test]
        fn quarantined_records_keep_their_bytes_and_their_order(data in csv_bytes()) {
            let (_, _, quarantined) = run(&data);
            let mut last_line = 0;
            for row in &quarantined {
                let line: u64 = std::str::from_utf8(&row[0]).unwrap().parse().unwrap();
                prop_assert!(line > last_line, "lines ascend");
                last_line = line;
                let raw = &row[5];
                prop_assert!(data.windows(raw.len().max(1)).any(|w| w == raw) || raw.is_empty());
            }
        }
    }
}
