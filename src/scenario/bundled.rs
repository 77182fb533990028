//! The bundled scenarios: every `scenarios/*.toml`, embedded at build time (see `build.rs`) so
//! the binary works from any directory.

use super::{Scenario, ScenarioError};

/// The bundled scenario `brokerlab` opens first (and runs when given no arguments): a guided
/// tour of a leader failover.
pub const DEFAULT_SCENARIO: &str = "tour";

/// One bundled scenario file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bundled {
    /// The file stem, e.g. `acks1-leader-failover`; what users type on the command line.
    pub name: &'static str,
    /// The file's text.
    pub text: &'static str,
}

impl Bundled {
    /// The label used in error messages: `scenarios/NAME.toml`, as in the source tree.
    pub fn label(&self) -> String {
        format!("scenarios/{}.toml", self.name)
    }

    /// Parses and validates this scenario.
    pub fn parse(&self) -> Result<Scenario, ScenarioError> {
        super::parse(&self.label(), self.text)
    }
}

static BUNDLED: &[Bundled] = include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// Every bundled scenario, sorted by name.
pub fn bundled() -> &'static [Bundled] {
    BUNDLED
}

/// The bundled scenario with this name (the file stem).
pub fn find_bundled(name: &str) -> Option<&'static Bundled> {
    BUNDLED.iter().find(|b| b.name == name)
}
