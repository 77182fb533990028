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

/// A fresh directory under the system's temp directory, named for the test and this process,
/// removed with everything in it when dropped: also when the test fails, so that `cargo test`
/// leaves nothing behind.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("brokerlab-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    pub fn join(&self, file: &str) -> std::path::PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A scenario of twelve producers, `shop-1` to `shop-12`, each sending `count` records of its
/// own key every 100 ms to topic `orders` of `partitions` partitions on three brokers; `more`
/// is appended (groups, faults).
pub fn twelve_shops(partitions: u32, count: u32, stop_at_ms: u64, more: &str) -> String {
    let mut text = format!(
        "[scenario]\ntitle = \"twelve shops\"\nseed = 3\nstop_at_ms = {stop_at_ms}\n\n\
         [cluster]\nbrokers = 3\n\n\
         [[topics]]\nname = \"orders\"\npartitions = {partitions}\nreplication_factor = 3\n"
    );
    for i in 1..=12 {
        text.push_str(&format!(
            "\n[[producers]]\nname = \"shop-{i}\"\ntopic = \"orders\"\n\
             send = {{ count = {count}, every_ms = 100, keys = [\"k{i}\"] }}\n"
        ));
    }
    text.push_str(more);
    text
}
