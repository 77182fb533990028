use std::process::ExitCode;

use clap::Parser;

/// Counts heap bytes on the threads that ask it to: `bench --step-back` and the interactive
/// session, which keeps its checkpoints within a share of the state (see `brokerlab::heap`).
#[global_allocator]
static ALLOC: brokerlab::heap::CountingAlloc = brokerlab::heap::CountingAlloc;

fn main() -> ExitCode {
    brokerlab::commands::dispatch(brokerlab::cli::Cli::parse())
}
