//! The command line: clap definitions and the dispatch to library calls.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::check::row::Limits;
use crate::check::{CheckOptions, check_file, write_report};
use crate::diff::command::{DiffOptions, StoreSide, diff_file};
use crate::project::Settings;
use crate::report::{
    Report, Verdict, render_github, render_history, render_junit, render_markdown, render_table,
};
use crate::rules::RuleSet;
use crate::rules::aggregate::Subset;
use crate::run::{RunOptions, run_file};
use crate::store::OnExisting;
use crate::text::printable;

/// The exit codes, shown at the end of `--help`.
const EXIT_CODES: &str = "Exit codes:
  0  the gate passed (bad rows may have been quarantined, within the file's limits)
  1  the data failed the gate; the report says why
  2  a usage, rule-file, input, output or store error: no verdict was reached";

/// A data-quality gate for CSV feeds: declarative rules, quarantine, full accounting.
#[derive(Debug, Parser)]
#[command(
    name = "dqgate",
    version,
    about,
    propagate_version = true,
    after_help = EXIT_CODES,
    after_long_help = EXIT_CODES
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a CSV file against a rule file: verdict, report, quarantine.
    #[command(after_help = EXIT_CODES)]
    Check(CheckArgs),
    /// Check a file, then compare the reference aggregates of its accepted
    /// rows with the store's production queries over the same rows.
    #[command(after_help = EXIT_CODES)]
    Diff(DiffArgs),
    /// Check, stage, diff and, when every gate passes, promote the file into
    /// production in one transaction, recorded in the ledger.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// The ledger: every batch over time, movies in versus movies out.
    History(HistoryArgs),
    /// Run the aggregates' production queries and write their results to
    /// `OUT/<aggregate>.csv` (the form `diff --store-output` reads).
    Export(ExportArgs),
    /// Print the SQL that gives a PostgreSQL store's role its schema (no
    /// superuser needed) and a reader role read access to production and
    /// the ledger, and nothing else.
    Grants(GrantsArgs),
    /// Profile a sample of a CSV file and print a starting rule file that
    /// passes on it: `dqgate init FILE > rules/new.toml`.
    Init {
        /// The CSV file.
        file: PathBuf,
        /// Records to profile.
        #[arg(long, default_value_t = 100_000)]
        sample: u64,
        /// Field delimiter (default: the one of `,` tab `;` `|` that splits
        /// the first lines alike).
        #[arg(long)]
        delimiter: Option<char>,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or with --out write one page per
    /// command (dqgate.1, dqgate-check.1, ...) into a folder.
    Man {
        /// The folder for every page.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Work with rule files.
    #[command(subcommand)]
    Rules(RulesCommand),
}

/// `dqgate rules ...`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate a rule file without any data; lists every problem.
    Check {
        /// The rule file (default: DQGATE_RULES, else the project file's).
        #[arg(env = "DQGATE_RULES")]
        rules: Option<PathBuf>,
        /// Also match the rule file against this CSV file's header (its
        /// rows are not read): exit 1 when required columns are missing,
        /// 2 when a declared column looks like a misspelling.
        #[arg(long, value_name = "FILE")]
        header: Option<PathBuf>,
    },
    /// Print the compiled rules as tables: every rule with its severity, and
    /// the aggregates with their query files.
    Explain {
        /// The rule file (default: DQGATE_RULES, else the project file's).
        #[arg(env = "DQGATE_RULES")]
        rules: Option<PathBuf>,
    },
}

/// How the report is printed on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for a terminal.
    Table,
    /// The JSON report (the same as report.json).
    Json,
    /// Markdown, for a pull request or a review.
    Markdown,
    /// JUnit XML, for GitLab, Jenkins and other test reporters.
    Junit,
    /// GitHub Actions annotations, then the tables; with
    /// GITHUB_STEP_SUMMARY set, the Markdown report is appended to it.
    Github,
}

/// How `history` is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// A table for a terminal.
    Table,
    /// The ledger rows as JSON.
    Json,
}

/// `dqgate check ...`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The CSV file to check.
    pub file: PathBuf,
    /// The rule file (default: DQGATE_RULES, else the rule file named in
    /// the nearest dqgate.toml).
    #[arg(long, env = "DQGATE_RULES")]
    pub rules: Option<PathBuf>,
    /// Directory for report.json, quarantine.csv and accepted.csv
    /// (default: the project file's, else dqgate-out).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write the accepted rows to accepted.csv.
    #[arg(long)]
    pub write_accepted: bool,
    /// Largest field in bytes; larger fields quarantine their record.
    #[arg(long, default_value_t = Limits::default().max_field_bytes)]
    pub max_field_bytes: usize,
    /// Largest record in bytes; larger records are quarantined (their
    /// bytes are copied to the quarantine, never held in memory).
    #[arg(long, default_value_t = Limits::default().max_record_bytes)]
    pub max_record_bytes: usize,
    /// Threads checking records; the report and outputs are the same for
    /// any number. Default: every core.
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Examples kept per failing rule in the report.
    #[arg(long, default_value_t = 3)]
    pub examples: usize,
    /// Print the verdict line (and its reasons) instead of the terminal
    /// tables, and no progress; JSON, Markdown, JUnit and GitHub output
    /// are written as usual.
    #[arg(long, short)]
    pub quiet: bool,
    /// Color the verdict: auto (on a terminal, unless NO_COLOR is set),
    /// always or never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print how long the pass over the rows took, and the share of it
    /// done in file order on one thread (uniqueness, tallies, outputs),
    /// on standard error: what more threads cannot speed up.
    #[arg(long)]
    pub timings: bool,
    /// The input's text encoding when it is not UTF-8, such as latin1,
    /// windows-1252 or utf-16 (a byte-order mark wins); it is transcoded
    /// while it streams. Compressed inputs (gzip, zstd, bzip2, xz) are
    /// recognised by their first bytes and need no option.
    #[arg(long, value_parser = parse_encoding, value_name = "LABEL")]
    pub encoding: Option<Encoding>,
}

/// An encoding label, checked.
#[derive(Debug, Clone, Copy)]
pub struct Encoding(Option<&'static encoding_rs::Encoding>);

fn parse_encoding(text: &str) -> Result<Encoding, String> {
    crate::read::decode::encoding_for(text).map(Encoding)
}

/// When to color the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `dqgate diff ...`
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Everything `check` takes.
    #[command(flatten)]
    pub check: CheckArgs,
    /// The production store.
    #[arg(long, env = "DQGATE_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// Rows compared: a number of accepted rows from the start, or `all`
    /// (default: `[reference].subset` of the rule file).
    #[arg(long, value_parser = parse_subset, conflicts_with = "sample")]
    pub subset: Option<Subset>,
    /// Compare a deterministic sample of this fraction of the keys instead.
    #[arg(long, value_parser = parse_fraction)]
    pub sample: Option<f64>,
    /// Seed of the sample.
    #[arg(long, default_value_t = 0, requires = "sample")]
    pub seed: u64,
    /// Compare with `DIR/<aggregate>.csv` exported from another engine
    /// instead of running the queries.
    #[arg(long, value_name = "DIR", conflicts_with = "store")]
    pub store_output: Option<PathBuf>,
}

/// `dqgate run ...`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Everything `check` takes.
    #[command(flatten)]
    pub check: CheckArgs,
    /// The production store.
    #[arg(long, env = "DQGATE_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// Rows diffed on staging: a number of accepted rows, or `all`
    /// (default: `[reference].subset` of the rule file).
    #[arg(long, value_parser = parse_subset)]
    pub subset: Option<Subset>,
    /// What to do with a record whose key production already holds (default:
    /// `[promotion].on_existing` of the rule file, else `update`).
    #[arg(long, value_enum)]
    pub on_existing: Option<OnExisting>,
    /// Run every gate but do not promote.
    #[arg(long)]
    pub dry_run: bool,
}

/// `dqgate history ...`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The production store.
    #[arg(long, env = "DQGATE_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Table)]
    pub format: HistoryFormat,
}

/// `dqgate grants ...`
#[derive(Debug, Args)]
pub struct GrantsArgs {
    /// The rule file whose model's tables the reader may read.
    #[arg(long, env = "DQGATE_RULES")]
    pub rules: Option<PathBuf>,
    /// The PostgreSQL store; its user is the gate's own role.
    #[arg(long, env = "DQGATE_STORE", hide_env_values = true)]
    pub store: String,
    /// The role that reads production and the ledger.
    #[arg(long)]
    pub reader: String,
}

/// `dqgate export ...`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The rule file whose aggregates are exported.
    #[arg(long, env = "DQGATE_RULES")]
    pub rules: Option<PathBuf>,
    /// The production store.
    #[arg(long, env = "DQGATE_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// Directory for the CSV files.
    #[arg(long, default_value = "dqgate-export")]
    pub out: PathBuf,
}

fn parse_subset(text: &str) -> Result<Subset, String> {
    if text == "all" {
        return Ok(Subset::All);
    }
    text.parse::<u64>()
        .map(Subset::First)
        .map_err(|_| format!("expected a number of rows or `all`, found {text:?}"))
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "expected a fraction between 0 and 1, found {text:?}"
        )),
    }
}

pub use crate::gate::Outcome;

/// Runs the parsed command line. Errors are usage, rule-file, I/O or store
/// errors (exit 2); a failed gate is `Ok(Outcome::Failed)`.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let here = std::env::current_dir().context("cannot read the current folder")?;
    let settings = Settings::from(&here)?;
    let settings = &settings;
    match cli.command {
        Command::Check(args) => run_check(&args, settings),
        Command::Diff(args) => run_diff(&args, settings),
        Command::Run(args) => run_run(&args, settings),
        Command::History(args) => run_history(&args, settings),
        Command::Init {
            file,
            sample,
            delimiter,
        } => {
            let delimiter = delimiter
                .map(|d| {
                    u8::try_from(d)
                        .ok()
                        .filter(|d| d.is_ascii() && *d != b'"')
                        .context("--delimiter must be one ASCII character other than a quote")
                })
                .transpose()?;
            let file_reader = std::fs::File::open(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            // A compressed file is profiled as its content.
            let reader: Box<dyn std::io::Read + Send> =
                match crate::read::decode::Compression::of_file(&file_reader) {
                    Some(c) => c
                        .decoder(file_reader)
                        .with_context(|| format!("cannot read {}", file.display()))?,
                    None => Box::new(file_reader),
                };
            let text =
                crate::profile::init_rules(&file.display().to_string(), reader, delimiter, sample)
                    .with_context(|| format!("cannot profile {}", file.display()))?;
            write_stdout(&text)?;
            Ok(Outcome::Passed)
        }
        Command::Grants(args) => {
            let rules = RuleSet::load(&settings.rules(args.rules.as_deref())?)?;
            let model = crate::diff::command::model_of(&rules)?;
            write_stdout(&crate::store::grants(&args.store, &args.reader, model)?)?;
            Ok(Outcome::Passed)
        }
        Command::Completions { shell } => {
            let mut text = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "dqgate",
                &mut text,
            );
            write_stdout(&String::from_utf8_lossy(&text))?;
            Ok(Outcome::Passed)
        }
        Command::Man { out: Some(dir) } => {
            std::fs::create_dir_all(&dir)
                .and_then(|()| {
                    clap_mangen::generate_to(<Cli as clap::CommandFactory>::command(), &dir)
                })
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            Ok(Outcome::Passed)
        }
        Command::Man { out: None } => {
            let mut text = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut text)
                .context("cannot render the man page")?;
            write_stdout(&String::from_utf8_lossy(&text))?;
            Ok(Outcome::Passed)
        }
        Command::Rules(RulesCommand::Explain { rules }) => {
            let set = RuleSet::load(&settings.rules(rules.as_deref())?)?;
            write_stdout(&crate::report::render_rules(&set))?;
            Ok(Outcome::Passed)
        }
        Command::Export(args) => {
            let rules = RuleSet::load(&settings.rules(args.rules.as_deref())?)?;
            let url = settings.store(args.store.as_deref());
            let mut store = crate::store::open_existing(&url, None)?;
            let written = crate::diff::command::export_production(&rules, &mut store, &args.out)?;
            let listing: String = written
                .iter()
                .map(|path| format!("{}\n", printable(&path.display().to_string())))
                .collect();
            write_stdout(&listing)?;
            Ok(Outcome::Passed)
        }
        Command::Rules(RulesCommand::Check { rules, header }) => {
            let rules = settings.rules(rules.as_deref())?;
            let set = RuleSet::load(&rules)?;
            let mut text = format!(
                "{}: ok ({} columns, {} row rules, {} rules in all)\n",
                printable(&rules.display().to_string()),
                set.columns.len(),
                set.row_rules.len(),
                set.catalog.len()
            );
            let mut outcome = Outcome::Passed;
            if let Some(file) = header {
                let binding = crate::check::check_header(&file, &set)?;
                let file = printable(&file.display().to_string());
                if binding.usable() {
                    text.push_str(&format!("{file}: the header has every required column\n"));
                } else {
                    text.push_str(&format!("{file}: {}\n", binding.unusable_reason()));
                    outcome = Outcome::Failed;
                }
                for (what, names) in [
                    ("declared but absent (not checked)", &binding.not_checked),
                    ("in the header but not declared", &binding.unexpected),
                ] {
                    if !names.is_empty() {
                        text.push_str(&format!("{file}: {what}: {}\n", names.join(", ")));
                    }
                }
                for hint in &binding.hints {
                    text.push_str(&format!("{file}: {hint}\n"));
                }
            }
            write_stdout(&text)?;
            Ok(outcome)
        }
    }
}

fn check_options(args: &CheckArgs, settings: &Settings) -> CheckOptions {
    CheckOptions {
        out_dir: settings.out(args.out.as_deref()),
        write_accepted: args.write_accepted,
        limits: Limits {
            max_field_bytes: args.max_field_bytes,
            max_record_bytes: args.max_record_bytes,
        },
        max_examples: args.examples,
        reject_existing: None,
        progress: !args.quiet && args.format == Format::Table,
        threads: args.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, usize::from),
            usize::from,
        ),
        timings: args.timings,
        encoding: args.encoding.and_then(|e| e.0),
    }
}

fn run_check(args: &CheckArgs, settings: &Settings) -> anyhow::Result<Outcome> {
    let rules = RuleSet::load(&settings.rules(args.rules.as_deref())?)?;
    let report = check_file(&args.file, &rules, &check_options(args, settings))?;
    print_report(&report, args)
}

fn run_diff(args: &DiffArgs, settings: &Settings) -> anyhow::Result<Outcome> {
    let rules = RuleSet::load(&settings.rules(args.check.rules.as_deref())?)?;
    let options = check_options(&args.check, settings);
    let url = settings.store(args.store.as_deref());
    let diff_options = DiffOptions {
        store: match &args.store_output {
            Some(dir) => StoreSide::Exported(dir.clone()),
            None => StoreSide::Url(url.clone()),
        },
        subset: match args.sample {
            Some(fraction) => Some(Subset::Sample {
                fraction,
                seed: args.seed,
            }),
            None => args.subset,
        },
        max_examples: args.check.examples.max(1) * 3,
    };
    let report = diff_file(&args.check.file, &rules, &options, &diff_options)
        .map_err(|e| name_the_store(e, &url))?;
    write_report(&report, &options)?;
    print_report(&report, &args.check)
}

fn run_run(args: &RunArgs, settings: &Settings) -> anyhow::Result<Outcome> {
    let rules = RuleSet::load(&settings.rules(args.check.rules.as_deref())?)?;
    let options = check_options(&args.check, settings);
    let url = settings.store(args.store.as_deref());
    let run_options = RunOptions {
        store: url.clone(),
        subset: args.subset,
        on_existing: args.on_existing,
        dry_run: args.dry_run,
        max_examples: args.check.examples.max(1) * 3,
    };
    let report = run_file(&args.check.file, &rules, &options, &run_options)
        .map_err(|e| name_the_store(e, &url))?;
    write_report(&report, &options)?;
    print_report(&report, &args.check)
}

/// Names the store (its URL without a password) in an error that happened
/// inside it and does not say which store it was.
fn name_the_store(err: crate::diff::command::CompareError, url: &str) -> anyhow::Error {
    use crate::diff::command::CompareError;
    use crate::store::StoreError;
    let unnamed = matches!(
        err,
        CompareError::Store(StoreError::Database { .. } | StoreError::Locked { .. })
    );
    let err = anyhow::Error::from(err);
    if unnamed {
        err.context(format!("store {}", crate::store::redact(url)))
    } else {
        err
    }
}

fn run_history(args: &HistoryArgs, settings: &Settings) -> anyhow::Result<Outcome> {
    let mut store = crate::store::open_existing(&settings.store(args.store.as_deref()), None)?;
    let batches = store.history()?;
    let text = match args.format {
        HistoryFormat::Table => render_history(&store.location(), &batches),
        HistoryFormat::Json => crate::report::to_json_string(&batches)?,
    };
    write_stdout(&text)?;
    Ok(Outcome::Passed)
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A closed pipe (`dqgate ... | head`) must not change the outcome.
        if err.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(err).context("cannot write to standard output");
        }
    }
    Ok(())
}

/// The verdict on one line, with its reasons: all `--quiet` prints.
fn quiet_line(report: &Report) -> String {
    match report.verdict {
        Verdict::Pass => "verdict: PASS\n".to_owned(),
        Verdict::Fail => format!("verdict: FAIL: {}\n", report.reasons.join("; ")),
    }
}

/// Whether to color: `always`, or `auto` on a terminal without `NO_COLOR`.
fn colored(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// Colors the verdict line: green for a pass, red for a failure.
fn color_verdict(text: &str) -> String {
    text.replacen("verdict: PASS", "\x1b[1;32mverdict: PASS\x1b[0m", 1)
        .replacen("verdict: FAIL", "\x1b[1;31mverdict: FAIL\x1b[0m", 1)
}

/// Appends text to a file (GitHub's step summary).
fn append(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the step summary {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write the step summary {}", path.display()))
}

fn print_report(report: &Report, args: &CheckArgs) -> anyhow::Result<Outcome> {
    // `--quiet` quiets the terminal table only: `--format` always decides
    // what reaches standard output, so `--format json -q | jq` works.
    let table = || {
        if args.quiet {
            quiet_line(report)
        } else {
            render_table(report)
        }
    };
    let text = match args.format {
        Format::Table => table(),
        Format::Json => crate::report::to_json_string(report)?,
        Format::Markdown => render_markdown(report),
        Format::Junit => render_junit(report),
        Format::Github => {
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                append(std::path::Path::new(&path), &render_markdown(report))?;
            }
            render_github(report) + &table()
        }
    };
    let plain = matches!(args.format, Format::Table | Format::Github);
    let text = if plain && colored(args.color) {
        color_verdict(&text)
    } else {
        text
    };
    write_stdout(&text)?;
    Ok(Outcome::of(report))
}
