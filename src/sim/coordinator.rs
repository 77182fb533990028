//! What the group and the transaction coordinators share: where a coordinator lives, and the
//! broker metadata they read.
//!
//! In Kafka a group's coordinator is the leader of the group's partition of `__consumer_offsets`
//! and a transactional id's is the leader of its partition of `__transaction_state`. Here those
//! topics are not modelled: the coordinator is the first unfenced broker counting up from a hash
//! of the key, and its state survives its failover as it would in the replicated topic.

use crate::sim::controller::BrokerRegistration;
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

/// A broker's copy of the cluster metadata, kept current by the controller's
/// `MetadataUpdate`s (KRaft brokers replicate the metadata log and keep it on disk, so it
/// survives the broker's crash; the controller brings a returning broker up to date when it
/// unfences it).
#[derive(Clone, Debug, Default)]
pub struct MetadataCache {
    brokers: u32,
    unfenced: BrokerSet,
    leaders: Vec<Option<BrokerId>>,
}

impl MetadataCache {
    /// The metadata log's content as the controller has it (at boot, before any update).
    pub(crate) fn of(controller: &crate::sim::controller::Controller) -> MetadataCache {
        MetadataCache {
            brokers: controller.brokers.len() as u32,
            unfenced: controller.unfenced_brokers(),
            leaders: controller.parts.iter().map(|st| st.leader).collect(),
        }
    }

    /// Apply one published change.
    pub(crate) fn update(
        &mut self,
        unfenced: BrokerSet,
        partition: Option<(PartitionId, Option<BrokerId>)>,
    ) {
        self.unfenced = unfenced;
        if let Some((p, leader)) = partition {
            if self.leaders.len() <= p.idx() {
                self.leaders.resize(p.idx() + 1, None);
            }
            self.leaders[p.idx()] = leader;
        }
    }
}

/// What a coordinator reads from the metadata of the broker hosting it (the same process): who
/// coordinates which key, and partition leaders (for transaction markers).
#[derive(Clone, Copy)]
pub(crate) struct Metadata<'a> {
    cache: &'a MetadataCache,
}

impl<'a> Metadata<'a> {
    pub(crate) fn new(cache: &'a MetadataCache) -> Metadata<'a> {
        Metadata { cache }
    }

    /// The broker coordinating `key` (a `group.id` or a `transactional.id`): the first unfenced
    /// one counting up from the key's hash.
    pub(crate) fn coordinator_for(&self, key: &str) -> Option<BrokerId> {
        let n = self.cache.brokers;
        let start = partition_for_key(key, n);
        (0..n)
            .map(|i| BrokerId((start + i) % n))
            .find(|&b| self.cache.unfenced.contains(b))
    }

    pub(crate) fn leader(&self, p: PartitionId) -> Option<BrokerId> {
        self.cache.leaders.get(p.idx()).copied().flatten()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::controller::Controller;

    #[test]
    fn a_coordinator_reads_its_host_brokers_metadata_as_published() {
        let mut cache = MetadataCache::of(&Controller::new(3));
        let meta = Metadata::new(&cache);
        let first = meta.coordinator_for("billing").expect("all unfenced");
        assert_eq!(meta.leader(PartitionId(4)), None, "unknown partition");
        // The controller publishes first's fencing and a new leader for partition 4.
        let unfenced: BrokerSet = (0..3).map(BrokerId).filter(|&b| b != first).collect();
        cache.update(unfenced, Some((PartitionId(4), Some(BrokerId(2)))));
        let meta = Metadata::new(&cache);
        let moved = meta.coordinator_for("billing").expect("two left");
        assert_ne!(moved, first, "the coordinator moves off a fenced broker");
        assert_eq!(moved.0, (first.0 + 1) % 3, "to the next one counting up");
        assert_eq!(meta.leader(PartitionId(4)), Some(BrokerId(2)));
    }
}
