use std::process::ExitCode;

use clap::Parser;

/// Counts heap bytes only while `bench --step-back` asks it to (see `brokerlab::heap`).
#[global_allocator]
static ALLOC: brokerlab::heap::CountingAlloc = brokerlab::heap::CountingAlloc;

fn main() -> ExitCode {
    brokerlab::heap::mark_installed();
    brokerlab::commands::dispatch(brokerlab::cli::Cli::parse())
}
