//! The `dqgate` binary: parse the command line, run, map the outcome to an
//! exit code (0 pass, 1 the gate failed, 2 usage or runtime error).

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use dqgate::cli::{Cli, Outcome, run};
use dqgate::text::printable;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = dqgate::interrupt::install() {
        let _ = writeln!(
            std::io::stderr(),
            "dqgate: warning: cannot watch for interrupts ({err}); an interrupted run may leave .dqgate-*.tmp files"
        );
    }
    // A panic (a bug, or an output that failed where nothing expected it
    // to) is an error like any other: exit 2 with a message, never 101.
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(
            std::io::stderr(),
            "error: internal error, please report it: {}",
            printable(&info.to_string())
        );
    }));
    let Ok(result) = std::panic::catch_unwind(|| run(cli)) else {
        return ExitCode::from(Outcome::ERROR_CODE);
    };
    match result {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(err) => {
            // A closed or full standard error must not turn exit 2 into a
            // panic: the message is lost, the exit code is not.
            let _ = writeln!(std::io::stderr(), "error: {}", describe(&err));
            ExitCode::from(Outcome::ERROR_CODE)
        }
    }
}

/// The error and its causes, skipping a cause whose text the message
/// already contains (most of dqgate's errors name their cause inline).
/// Messages name files and values from outside: every line is made
/// printable, and none may start a GitHub workflow command.
fn describe(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text.split('\n')
        .map(|line| {
            let line = printable(line);
            match line.trim_start().strip_prefix("::") {
                Some(rest) => format!("\\u{{3a}}:{rest}"),
                None => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
