mod bundled;
mod cli;
mod determinism;
mod properties;
mod scenario_files;
mod tui;
