//! What the group and the transaction coordinators share: where a coordinator lives, and the
//! broker metadata they read.
//!
//! In Kafka a group's coordinator is the leader of the group's partition of `__consumer_offsets`
//! and a transactional id's is the leader of its partition of `__transaction_state`. Here those
//! topics are not modelled: the coordinator is the first unfenced broker counting up from a hash
//! of the key, and its state survives its failover as it would in the replicated topic.

use crate::sim::controller::{BrokerRegistration, Controller};
use crate::sim::ids::*;
use crate::sim::partitioner::partition_for_key;

/// The broker coordinating `key` (a `group.id` or a `transactional.id`) by `brokers`'
/// registrations: the first unfenced one counting up from the key's hash.
pub(crate) fn coordinator_for(key: &str, brokers: &[BrokerRegistration]) -> Option<BrokerId> {
    let n = brokers.len() as u32;
    let start = partition_for_key(key, n);
    (0..n)
        .map(|i| BrokerId((start + i) % n))
        .find(|b| !brokers[b.idx()].fenced)
}

/// What a coordinator reads from the metadata of the broker hosting it: who coordinates which
/// key, and partition leaders (for transaction markers).
///
/// TODO(metadata): the controller's records stand in for the hosting broker's metadata cache,
/// which brokers do not keep yet; the dispatcher builds this view for each handler.
#[derive(Clone, Copy)]
pub(crate) struct Metadata<'a> {
    controller: &'a Controller,
}

impl<'a> Metadata<'a> {
    pub(crate) fn new(controller: &'a Controller) -> Metadata<'a> {
        Metadata { controller }
    }

    /// The broker coordinating `key` (a `group.id` or a `transactional.id`).
    pub(crate) fn coordinator_for(&self, key: &str) -> Option<BrokerId> {
        coordinator_for(key, &self.controller.brokers)
    }

    pub(crate) fn leader(&self, p: PartitionId) -> Option<BrokerId> {
        self.controller.parts[p.idx()].leader
    }

    /// A broker's network address: brokers are the first nodes.
    pub(crate) fn node_of(&self, b: BrokerId) -> NodeId {
        NodeId(b.0)
    }
}

/// A coordinator's volatile memory, which exists only while a broker has the coordinator
/// loaded: that broker's crash drops it, and loading on another broker (a move) replaces it.
#[derive(Clone, Debug)]
pub(crate) struct Hosted<M>(Option<(BrokerId, M)>);

impl<M> Hosted<M> {
    pub(crate) fn unloaded() -> Self {
        Hosted(None)
    }

    /// The broker that has it loaded, if any.
    pub(crate) fn host(&self) -> Option<BrokerId> {
        self.0.as_ref().map(|(b, _)| *b)
    }

    /// Broker `b` crashed: if it had the coordinator loaded, that memory is gone.
    pub(crate) fn crashed(&mut self, b: BrokerId) {
        if self.host() == Some(b) {
            self.0 = None;
        }
    }

    /// Load fresh memory on `host` unless it is loaded there already; whether it was.
    pub(crate) fn load_on(&mut self, host: BrokerId, fresh: impl FnOnce() -> M) -> bool {
        if self.host() == Some(host) {
            return false;
        }
        self.0 = Some((host, fresh()));
        true
    }

    /// The memory, wherever it is loaded.
    pub(crate) fn get(&self) -> Option<&M> {
        self.0.as_ref().map(|(_, m)| m)
    }

    pub(crate) fn get_mut(&mut self) -> Option<&mut M> {
        self.0.as_mut().map(|(_, m)| m)
    }

    /// The memory if it is loaded on `host`: a timer or an answer that reaches another broker
    /// belongs to an earlier load.
    pub(crate) fn on(&self, host: BrokerId) -> Option<&M> {
        self.0.as_ref().filter(|(b, _)| *b == host).map(|(_, m)| m)
    }

    pub(crate) fn on_mut(&mut self, host: BrokerId) -> Option<&mut M> {
        self.0.as_mut().filter(|(b, _)| *b == host).map(|(_, m)| m)
    }
}
