//! Validation of `[cluster] system` and the settings that belong to one queue system: a field
//! that does not apply to the scenario's system is refused where it is set.

use super::super::doc::fp;
use super::super::model::System;
use super::Validator;

impl Validator<'_, '_> {
    pub(super) fn systems(&mut self) {
        let system = self.sc.cluster.system;
        if system != System::Kafka {
            // Landing in steps: the other systems' processes come next.
            self.err(
                fp!["cluster", "system"],
                format!("`system = \"{}\"` is not simulated yet", system.name()),
            )
            .expected("`system = \"kafka\"`");
        }
    }
}
