//! A follower broker's fetchers: what Kafka's `ReplicaFetcherManager` and its
//! `ReplicaFetcherThread`s do. A fetcher has at most one fetch request in flight to its leader,
//! and that request names every partition the fetcher fetches.
//!
//! This module keeps the fetchers' own state (which partitions, the request in flight, the
//! timers). The broker builds each request from its replicas' logs and hands each partition's
//! result to its replica (see [`crate::sim::broker`]).

use crate::sim::ids::*;
use crate::sim::wire::FetchSession;

/// What a fetcher serves: every partition a broker follows from one leader broker, or one
/// partition on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FetcherKey {
    /// One partition (a Raft group per queue).
    Partition(PartitionId),
    /// Every partition the broker follows from this leader.
    Leader(BrokerId),
}

/// One partition a fetcher fetches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FetchedPartition {
    pub(crate) partition: PartitionId,
    /// After a failed fetch, the partition is left out of requests until then
    /// (`replica.fetch.backoff.ms`, Kafka's `delayPartitions`).
    pub(crate) retry_at: Option<SimTime>,
}

/// One fetcher: a connection to a leader broker and the partitions fetched over it.
#[derive(Clone, Debug)]
pub(crate) struct Fetcher {
    pub(crate) key: FetcherKey,
    /// The broker it fetches from.
    pub(crate) leader: BrokerId,
    /// The partitions it fetches, in the order they joined.
    pub(crate) partitions: Vec<FetchedPartition>,
    /// A response for any other session is stale.
    pub(crate) session: FetchSession,
    /// When the request in flight was sent, if one is.
    pub(crate) in_flight: Option<SimTime>,
    /// A `replica.socket.timeout.ms` check is pending (one at a time; it re-arms itself for
    /// the request in flight, so no timer is queued per request).
    pub(crate) timeout_armed: bool,
}

impl Fetcher {
    fn new(key: FetcherKey, leader: BrokerId) -> Fetcher {
        Fetcher {
            key,
            leader,
            partitions: Vec::new(),
            session: FetchSession::default(),
            in_flight: None,
            timeout_armed: false,
        }
    }

    /// Start a new session: whatever is in flight is stale from now on.
    pub(crate) fn new_session(&mut self, incarnation: u32) {
        self.session = self.session.next(incarnation);
        self.in_flight = None;
    }

    /// The earliest time a partition in backoff may be fetched again, if one waits.
    pub(crate) fn next_retry(&self) -> Option<SimTime> {
        self.partitions.iter().filter_map(|p| p.retry_at).min()
    }
}

/// A broker's fetchers, in key order (volatile: a crash drops them with their connections).
#[derive(Clone, Debug, Default)]
pub(crate) struct Fetchers {
    list: Vec<Fetcher>,
}

impl Fetchers {
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn get(&self, i: usize) -> &Fetcher {
        &self.list[i]
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> &mut Fetcher {
        &mut self.list[i]
    }

    pub(crate) fn find(&self, key: FetcherKey) -> Option<usize> {
        self.list.binary_search_by_key(&key, |f| f.key).ok()
    }

    /// The fetcher for `key`, and whether it is new.
    pub(crate) fn find_or_add(&mut self, key: FetcherKey, leader: BrokerId) -> (usize, bool) {
        match self.list.binary_search_by_key(&key, |f| f.key) {
            Ok(i) => (i, false),
            Err(i) => {
                self.list.insert(i, Fetcher::new(key, leader));
                (i, true)
            }
        }
    }

    /// The process died: its connections, and the requests on them, are gone.
    pub(crate) fn clear(&mut self) {
        self.list.clear();
    }
}
