//! Scenario files: serde structs, parsing and validation with file:line:column errors, and the
//! bundled scenarios.

pub mod model;

pub use model::*;
