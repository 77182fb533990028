//! Validation of `[cluster] system` and the settings that belong to one queue system: a field
//! that does not apply to the scenario's system is refused where it is set.

use super::Validator;

impl Validator<'_, '_> {
    pub(super) fn systems(&mut self) {
        // Every system is simulated now; the per-system field checks land with the
        // validation work.
        let _ = self.sc.cluster.system;
    }
}
