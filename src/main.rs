//! The `dqgate` binary: parse the command line, run, map the outcome to an
//! exit code (0 pass, 1 the gate failed, 2 usage or runtime error).

use std::process::ExitCode;

use clap::Parser;
use dqgate::cli::{Cli, Outcome, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Passed) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, skipping a cause whose text the message
/// already contains (most of dqgate's errors name their cause inline).
fn describe(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
