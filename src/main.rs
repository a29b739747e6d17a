use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    postback_ledger::cli::run(postback_ledger::cli::Cli::parse())
}
