use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    brokerlab::commands::dispatch(brokerlab::cli::Cli::parse())
}
