use std::process::ExitCode;

use clap::Parser;

/// See Cargo.toml: glibc's malloc was costly for the request handlers and the writer.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    postback_ledger::cli::run(postback_ledger::cli::Cli::parse())
}
