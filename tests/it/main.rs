/// Sessions count heap bytes here as in the binary (see `brokerlab::heap`).
#[global_allocator]
static ALLOC: brokerlab::heap::CountingAlloc = brokerlab::heap::CountingAlloc;

mod anchors;
mod bundled;
mod causes;
mod cli;
mod cluster_fidelity;
mod compare_sweep;
mod compare_systems;
mod consumer_groups;
mod determinism;
mod drain;
mod export;
mod fates;
mod fuzz;
mod producer_fidelity;
mod properties;
mod queue_replication;
mod queue_screens;
mod queues;
mod quiz;
mod reference;
mod scenario_files;
mod share_groups;
mod transactions;
mod tui;
mod util;
mod versions;
mod words;
