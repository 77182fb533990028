mod bundled;
mod cli;
mod determinism;
mod drain;
mod properties;
mod scenario_files;
mod tui;
