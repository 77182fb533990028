//! Embeds every `scenarios/*.toml` into the binary: writes `$OUT_DIR/bundled.rs`, a slice
//! expression of `Bundled { name, text: include_str!(ABSOLUTE_PATH) }` sorted by name, which
//! `src/scenario/bundled.rs` includes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=scenarios");
    println!("cargo:rerun-if-changed=build.rs");
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dir = manifest.join("scenarios");
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") || !path.is_file() {
                continue;
            }
            // Editors' lock and backup files (`.#x.toml`, `.x.toml.swp`) are not scenarios.
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if name.is_empty() || name.starts_with('.') {
                continue;
            }
            found.push((name.to_string(), path));
        }
    }
    found.sort();
    let mut out = String::from("&[\n");
    for (name, path) in &found {
        let abs: &Path = path;
        let abs = abs.to_str().expect("scenario paths are UTF-8");
        writeln!(
            out,
            "    Bundled {{ name: {name:?}, text: include_str!({abs:?}) }},"
        )
        .unwrap();
    }
    out.push_str("]\n");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out_dir.join("bundled.rs"), out).expect("write bundled.rs");
}
