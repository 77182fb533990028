//! Validation of `[cluster] system` and the settings that belong to one queue system: a field
//! that does not apply to the scenario's system is refused where it is set.

use super::Validator;

impl Validator<'_, '_> {
    /// Every system (Kafka, RabbitMQ, SQS, Redis) is simulated: nothing to refuse here yet.
    pub(super) fn systems(&mut self) {}
}
