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
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
