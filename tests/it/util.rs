//! Helpers shared by the integration tests that drive the `brokerlab` binary.

use std::process::{Command, Output};

/// Run the binary from the crate root.
pub fn brokerlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brokerlab"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run brokerlab")
}

/// Run the binary in `dir`.
pub fn brokerlab_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brokerlab"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run brokerlab")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
