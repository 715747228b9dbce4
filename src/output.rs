//! Output files: `quarantine.csv`, `accepted.csv` and `report.json`, each
//! written to a temporary file in the output directory and renamed into
//! place only when complete, so no reader ever sees a half-written file.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use tempfile::NamedTempFile;

use crate::row::Violation;
use crate::rules::RuleSet;

/// Name of the quarantine file in the output directory.
pub const QUARANTINE_FILE: &str = "quarantine.csv";
/// Name of the accepted-rows file in the output directory.
pub const ACCEPTED_FILE: &str = "accepted.csv";
/// Name of the JSON report in the output directory.
pub const REPORT_FILE: &str = "report.json";

/// Columns of `quarantine.csv`.
pub const QUARANTINE_HEADER: [&str; 6] =
    ["line", "rule", "column", "reason", "other_rules", "record"];

/// An output file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct OutputError {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

type CsvSink = csv::Writer<BufWriter<NamedTempFile>>;

/// Writers for the row-level outputs of one check.
#[derive(Debug)]
pub struct Outputs {
    dir: PathBuf,
    quarantine: CsvSink,
    accepted: Option<CsvSink>,
}

/// Where the outputs ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPaths {
    /// `quarantine.csv`.
    pub quarantine: PathBuf,
    /// `accepted.csv`, when asked for.
    pub accepted: Option<PathBuf>,
}

impl Outputs {
    /// Creates the directory and the temporary files. `header` is the
    /// input's header, repeated at the top of `accepted.csv`.
    pub fn create(
        dir: &Path,
        header: Option<&ByteRecord>,
        write_accepted: bool,
    ) -> Result<Self, OutputError> {
        fs::create_dir_all(dir).map_err(|source| OutputError {
            path: dir.to_owned(),
            source,
        })?;
        let mut quarantine = temp_csv(dir)?;
        quarantine
            .write_record(QUARANTINE_HEADER)
            .map_err(|e| csv_error(dir, e))?;
        let accepted = if write_accepted {
            let mut w = temp_csv(dir)?;
            if let Some(h) = header {
                w.write_byte_record(h).map_err(|e| csv_error(dir, e))?;
            }
            Some(w)
        } else {
            None
        };
        Ok(Outputs {
            dir: dir.to_owned(),
            quarantine,
            accepted,
        })
    }

    /// Writes one quarantined record: its line, the first error rule (and
    /// the others), the reason, and the record's original bytes.
    pub fn quarantine(
        &mut self,
        rules: &RuleSet,
        line: u64,
        violations: &[Violation],
        raw: &[u8],
    ) -> Result<(), OutputError> {
        let errors = violations
            .iter()
            .filter(|v| rules.catalog[v.rule].severity == crate::rules::Severity::Error);
        let mut errors = errors.peekable();
        let first = errors.next();
        let others: Vec<&str> = errors
            .map(|v| rules.catalog[v.rule].name.as_str())
            .collect();
        let line = line.to_string();
        let (rule, column, reason) = match first {
            Some(v) => {
                let info = &rules.catalog[v.rule];
                (
                    info.name.as_str(),
                    info.column.as_deref().unwrap_or(""),
                    v.reason.as_str(),
                )
            }
            None => ("", "", ""),
        };
        let others = others.join(";");
        self.quarantine
            .write_record([
                line.as_bytes(),
                rule.as_bytes(),
                column.as_bytes(),
                reason.as_bytes(),
                others.as_bytes(),
                raw,
            ])
            .map_err(|e| csv_error(&self.dir, e))
    }

    /// Writes one accepted record, when `accepted.csv` was asked for.
    pub fn accept(&mut self, fields: &ByteRecord) -> Result<(), OutputError> {
        match &mut self.accepted {
            Some(w) => w
                .write_byte_record(fields)
                .map_err(|e| csv_error(&self.dir, e)),
            None => Ok(()),
        }
    }

    /// Flushes and renames the files into place.
    pub fn finish(self) -> Result<OutputPaths, OutputError> {
        let quarantine = persist(self.quarantine, &self.dir.join(QUARANTINE_FILE))?;
        let accepted = match self.accepted {
            Some(w) => Some(persist(w, &self.dir.join(ACCEPTED_FILE))?),
            None => None,
        };
        Ok(OutputPaths {
            quarantine,
            accepted,
        })
    }
}

fn temp_csv(dir: &Path) -> Result<CsvSink, OutputError> {
    let file = tempfile::Builder::new()
        .prefix(".dqgate-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|source| OutputError {
            path: dir.to_owned(),
            source,
        })?;
    Ok(csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(BufWriter::with_capacity(256 * 1024, file)))
}

fn csv_error(dir: &Path, err: csv::Error) -> OutputError {
    let source = match err.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    };
    OutputError {
        path: dir.to_owned(),
        source,
    }
}

fn persist(writer: CsvSink, path: &Path) -> Result<PathBuf, OutputError> {
    let err = |source| OutputError {
        path: path.to_owned(),
        source,
    };
    let buffered = writer.into_inner().map_err(|e| err(e.into_error()))?;
    let file = buffered.into_inner().map_err(|e| err(e.into_error()))?;
    file.as_file().sync_all().map_err(err)?;
    file.persist(path).map_err(|e| err(e.error))?;
    Ok(path.to_owned())
}

/// Writes `bytes` to `path` atomically (temporary file, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let err = |source| OutputError {
        path: path.to_owned(),
        source,
    };
    let mut file = tempfile::Builder::new()
        .prefix(".dqgate-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.as_file().sync_all().map_err(err)?;
    file.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}
