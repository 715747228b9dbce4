//! Output files: `quarantine.csv`, `accepted.csv` and `report.json`, each
//! written to a temporary file in the output directory and renamed into
//! place only when complete, so no reader ever sees a half-written file.
//! A run removes the previous `report.json` just before it renames its first
//! file and writes its own last: a folder with a report holds one run's files.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use tempfile::NamedTempFile;

use crate::check::row::Violation;
use crate::read::input::Fields;
use crate::rules::RuleSet;

/// Name of the quarantine file in the output directory.
pub(crate) const QUARANTINE_FILE: &str = "quarantine.csv";
/// Name of the accepted-rows file in the output directory.
pub(crate) const ACCEPTED_FILE: &str = "accepted.csv";
/// Name of the JSON report in the output directory.
pub(crate) const REPORT_FILE: &str = "report.json";

/// Columns of `quarantine.csv`.
pub(crate) const QUARANTINE_HEADER: [&str; 6] =
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
pub(crate) struct Outputs {
    dir: PathBuf,
    /// `None` only while a spilled record is copied by hand.
    quarantine: Option<CsvSink>,
    accepted: Option<CsvSink>,
}

/// Where the outputs ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutputPaths {
    /// `quarantine.csv`.
    pub quarantine: PathBuf,
    /// `accepted.csv`, when asked for.
    pub accepted: Option<PathBuf>,
}

impl Outputs {
    /// Creates the directory and the temporary files. `header` is the
    /// input's header, repeated at the top of `accepted.csv`.
    pub(crate) fn create(
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
            quarantine: Some(quarantine),
            accepted,
        })
    }

    /// Writes one quarantined record: its line, the first error rule (and
    /// the others), the reason, and the record's original bytes.
    pub(crate) fn quarantine(
        &mut self,
        rules: &RuleSet,
        line: u64,
        violations: &[Violation],
        raw: &[u8],
    ) -> Result<(), OutputError> {
        let [line, rule, column, reason, others] = quarantine_fields(rules, line, violations);
        self.quarantine_writer()?
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

    /// Writes a quarantined record too large to hold in memory: like
    /// [`Outputs::quarantine`], with the record's `len` bytes copied from
    /// `spill`, quoted, in pieces.
    pub(crate) fn quarantine_spilled(
        &mut self,
        rules: &RuleSet,
        line: u64,
        violations: &[Violation],
        spill: &mut std::fs::File,
        len: u64,
    ) -> Result<(), OutputError> {
        let fields = quarantine_fields(rules, line, violations);
        let dir = self.dir.clone();
        let io_error = |source| OutputError {
            path: dir.clone(),
            source,
        };
        for field in &fields {
            self.quarantine_writer()?
                .write_field(field)
                .map_err(|e| csv_error(&self.dir, e))?;
        }
        // The csv writer cannot take a field in pieces: finish its part of
        // the row, write the record field by hand, quoted, and go on with a
        // new writer over the same file.
        self.quarantine_writer()?;
        let Some(writer) = self.quarantine.take() else {
            unreachable!("quarantine_writer checked it")
        };
        let mut out = writer.into_inner().map_err(|e| io_error(e.into_error()))?;
        out.write_all(b",\"").map_err(io_error)?;
        let mut left = len;
        let mut piece = vec![0u8; 64 * 1024];
        while left > 0 {
            let want = piece.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            std::io::Read::read_exact(spill, &mut piece[..want]).map_err(io_error)?;
            for part in piece[..want].split_inclusive(|&b| b == b'"') {
                out.write_all(part).map_err(io_error)?;
                if part.ends_with(b"\"") {
                    out.write_all(b"\"").map_err(io_error)?;
                }
            }
            left -= want as u64;
        }
        out.write_all(b"\"\n").map_err(io_error)?;
        self.quarantine = Some(temp_csv_writer(out));
        Ok(())
    }

    fn quarantine_writer(&mut self) -> Result<&mut CsvSink, OutputError> {
        self.quarantine.as_mut().ok_or_else(|| OutputError {
            path: self.dir.join(QUARANTINE_FILE),
            source: std::io::Error::other("an earlier write error left the quarantine unusable"),
        })
    }

    /// Writes one accepted record, when `accepted.csv` was asked for.
    pub(crate) fn accept(&mut self, fields: &Fields<'_>) -> Result<(), OutputError> {
        match &mut self.accepted {
            Some(w) => w
                .write_record(fields.iter())
                .map_err(|e| csv_error(&self.dir, e)),
            None => Ok(()),
        }
    }

    /// Flushes the files to disk, then renames them into place. Until the
    /// first rename the folder keeps the previous run's files untouched (a
    /// full disk fails here); right before it, the previous `report.json`
    /// is removed: the report is written last and names the files of its
    /// run, so a run stopped while it publishes never leaves its files
    /// beside another run's report.
    pub(crate) fn finish(mut self) -> Result<OutputPaths, OutputError> {
        self.quarantine_writer()?;
        let Some(writer) = self.quarantine.take() else {
            unreachable!("quarantine_writer checked it")
        };
        let quarantine = seal(writer, &self.dir.join(QUARANTINE_FILE))?;
        let accepted = match self.accepted {
            Some(w) => Some(seal(w, &self.dir.join(ACCEPTED_FILE))?),
            None => None,
        };
        let report = self.dir.join(REPORT_FILE);
        match fs::remove_file(&report) {
            Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                return Err(OutputError {
                    path: report,
                    source,
                });
            }
            _ => {}
        }
        let quarantine = publish(quarantine, &self.dir.join(QUARANTINE_FILE))?;
        let accepted = match accepted {
            Some(file) => Some(publish(file, &self.dir.join(ACCEPTED_FILE))?),
            None => None,
        };
        Ok(OutputPaths {
            quarantine,
            accepted,
        })
    }
}

/// The first five columns of a quarantine row: line, first error rule,
/// its column, its reason, and the other error rules.
fn quarantine_fields(rules: &RuleSet, line: u64, violations: &[Violation]) -> [String; 5] {
    let mut errors = violations
        .iter()
        .filter(|v| rules.catalog[v.rule].severity == crate::rules::Severity::Error);
    let first = errors.next();
    let (rule, column, reason) = match first {
        Some(v) => {
            let info = &rules.catalog[v.rule];
            (
                info.name.clone(),
                info.column.clone().unwrap_or_default(),
                v.reason.clone(),
            )
        }
        None => Default::default(),
    };
    // Each other rule once, whatever number of fields failed it.
    let mut others: Vec<&str> = Vec::new();
    for v in errors {
        let name = rules.catalog[v.rule].name.as_str();
        if first.is_some_and(|f| f.rule == v.rule) || others.contains(&name) {
            continue;
        }
        others.push(name);
    }
    [line.to_string(), rule, column, reason, others.join(";")]
}

fn temp_csv(dir: &Path) -> Result<CsvSink, OutputError> {
    let file = temp_file(dir).map_err(|source| OutputError {
        path: dir.to_owned(),
        source,
    })?;
    Ok(temp_csv_writer(BufWriter::with_capacity(256 * 1024, file)))
}

/// The csv writer every output file uses.
fn temp_csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().flexible(true).from_writer(out)
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

/// Flushes a temporary output file to disk; `path` is where it goes.
fn seal(writer: CsvSink, path: &Path) -> Result<NamedTempFile, OutputError> {
    let err = |source| OutputError {
        path: path.to_owned(),
        source,
    };
    let buffered = writer.into_inner().map_err(|e| err(e.into_error()))?;
    let file = buffered.into_inner().map_err(|e| err(e.into_error()))?;
    file.as_file().sync_all().map_err(err)?;
    Ok(file)
}

/// Renames a sealed temporary file to `path`.
fn publish(file: NamedTempFile, path: &Path) -> Result<PathBuf, OutputError> {
    let temp = file.path().to_owned();
    let published = file.persist(path).map_err(|e| OutputError {
        path: path.to_owned(),
        source: e.error,
    });
    crate::interrupt::forget(&temp);
    published?;
    Ok(path.to_owned())
}

/// A new output file in `dir`, removed if the run is interrupted: a hidden
/// temporary name, renamed by [`publish`] when complete, with the
/// permissions the process's umask gives a new file (0644 under the usual
/// 022; a temporary file is 0600 by default, which a CI artifact step or a
/// loader running as another user cannot read).
fn temp_file(dir: &Path) -> std::io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".dqgate-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // open(2) applies the umask to this mode.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let file = builder.tempfile_in(dir)?;
    crate::interrupt::register(file.path());
    Ok(file)
}

/// Records as CSV text (LF line ends), or the writer's error: a record
/// the writer refuses is an error, never a missing line.
pub(crate) fn csv_bytes<R, F>(records: impl IntoIterator<Item = R>) -> Result<Vec<u8>, csv::Error>
where
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for record in records {
        writer.write_record(record)?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// Writes `bytes` to `path` atomically (temporary file, then rename).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let err = |source| OutputError {
        path: path.to_owned(),
        source,
    };
    let mut file = temp_file(dir).map_err(err)?;
    if let Err(source) = file
        .write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
    {
        crate::interrupt::forget(file.path());
        return Err(err(source));
    }
    publish(file, path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_text_is_written_whole_or_is_an_error() {
        let text = csv_bytes([vec!["id", "name"], vec!["1", "a,b"]]).unwrap();
        assert_eq!(text, b"id,name\n1,\"a,b\"\n");
        // A record the writer refuses (another width) is an error, where it
        // used to be a missing line in an export or an empty ledger field.
        let refused = csv_bytes([vec!["id", "name"], vec!["1"]]).unwrap_err();
        assert!(
            refused.to_string().contains("found record with 1 fields"),
            "{refused}"
        );
    }
}
