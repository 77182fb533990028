mod bundled;
mod cli;
mod scenario_files;
mod transactions;
