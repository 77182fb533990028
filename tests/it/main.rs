mod bundled;
mod cli;
mod compare_sweep;
mod determinism;
mod drain;
mod properties;
mod scenario_files;
mod tui;
