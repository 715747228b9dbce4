//! The command line: clap definitions and the dispatch to library calls.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::check::{CheckOptions, check_file};
use crate::report::{Verdict, render_table};
use crate::row::Limits;
use crate::rules::RuleSet;

/// A data-quality gate for CSV feeds: declarative rules, quarantine, full accounting.
#[derive(Debug, Parser)]
#[command(name = "dqgate", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a CSV file against a rule file: verdict, report, quarantine.
    Check(CheckArgs),
    /// Work with rule files.
    #[command(subcommand)]
    Rules(RulesCommand),
}

/// `dqgate rules ...`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate a rule file without any data; lists every problem.
    Check {
        /// The rule file.
        #[arg(default_value = "rules/movies.toml")]
        rules: PathBuf,
    },
}

/// How the report is printed on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for a terminal.
    Table,
    /// The JSON report (the same as report.json).
    Json,
}

/// `dqgate check ...`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The CSV file to check.
    pub file: PathBuf,
    /// The rule file.
    #[arg(long, default_value = "rules/movies.toml")]
    pub rules: PathBuf,
    /// Directory for report.json, quarantine.csv and accepted.csv.
    #[arg(long, default_value = "dqgate-out")]
    pub out: PathBuf,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write the accepted rows to accepted.csv.
    #[arg(long)]
    pub write_accepted: bool,
    /// Largest field in bytes; larger fields quarantine their record.
    #[arg(long, default_value_t = Limits::default().max_field_bytes)]
    pub max_field_bytes: usize,
    /// Largest record in bytes; larger records are quarantined.
    #[arg(long, default_value_t = Limits::default().max_record_bytes)]
    pub max_record_bytes: usize,
    /// Examples kept per failing rule in the report.
    #[arg(long, default_value_t = 3)]
    pub examples: usize,
}

/// What a run decided; mapped to the exit code by `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Passed,
    /// Exit 1: the data failed the gate.
    Failed,
}

/// Runs the parsed command line. Errors are usage, rule-file, I/O or store
/// errors (exit 2); a failed gate is `Ok(Outcome::Failed)`.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Check(args) => run_check(&args),
        Command::Rules(RulesCommand::Check { rules }) => {
            let set = RuleSet::load(&rules)?;
            println!(
                "{}: ok ({} columns, {} row rules, {} rules in all)",
                rules.display(),
                set.columns.len(),
                set.row_rules.len(),
                set.catalog.len()
            );
            Ok(Outcome::Passed)
        }
    }
}

fn run_check(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let rules = RuleSet::load(&args.rules)?;
    let options = CheckOptions {
        out_dir: args.out.clone(),
        write_accepted: args.write_accepted,
        limits: Limits {
            max_field_bytes: args.max_field_bytes,
            max_record_bytes: args.max_record_bytes,
        },
        max_examples: args.examples,
    };
    let report = check_file(&args.file, &rules, &options)?;
    let text = match args.format {
        Format::Table => render_table(&report),
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A closed pipe (`dqgate check ... | head`) must not change the verdict.
        if err.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(err).context("cannot write to standard output");
        }
    }
    Ok(match report.verdict {
        Verdict::Pass => Outcome::Passed,
        Verdict::Fail => Outcome::Failed,
    })
}
