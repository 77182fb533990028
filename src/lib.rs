//! BrokerLab: a deterministic simulation of a Kafka-style cluster, with a checker that says
//! which messages were lost, duplicated or reordered.

pub mod bench;
pub mod check;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod explain;
pub mod export;
pub mod glossary;
pub mod heap;
pub mod life;
pub mod marks;
pub mod metrics;
pub mod order_index;
pub mod queue_words;
pub mod quiz;
pub mod report;
pub mod scenario;
pub mod session;
pub mod sim;
pub mod sweep;
pub mod tui;

/// The test build counts heap bytes as the binary does, so that sessions under test keep their
/// checkpoints within budget as they do for a user.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOC: heap::CountingAlloc = heap::CountingAlloc;
