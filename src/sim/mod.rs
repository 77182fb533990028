//! The deterministic simulation core: pure, no I/O, no wall clock, no threads, one seeded RNG.
//!
//! Events are ordered by `(time, seq)`, where `seq` is an insertion counter, so ties always
//! break the same way. Every step appends typed [`TraceEvent`]s to a buffer the caller drains.

pub mod anchor;
pub mod broker;
pub mod chunked;
pub mod config;
pub mod consumer;
pub mod controller;
mod coordinator;
pub(crate) mod cx;
pub mod digest;
pub mod group_coordinator;
pub mod ids;
pub mod key_table;
pub mod network;
pub mod partitioner;
pub mod producer;
mod queue;
pub mod queue_policy;
pub mod replica;
mod setup;
pub mod share_consumer;
pub mod share_group;
pub mod share_leader;
pub mod share_partition;
pub mod shared_log;
pub mod trace;
pub mod txn_client;
pub mod txn_coordinator;
mod wire;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use config::{FaultKind, FaultSpec, Note, ReplicaRecovery, SimConfig, Target};
pub(crate) use cx::Cx;
pub use ids::*;
pub use trace::*;

use broker::Broker;
use consumer::{BootstrapMetadata, Consumer, ConsumerTimer};
use controller::Controller;
use group_coordinator::{GroupCoordinator, GroupTimer};
use network::Network;
use producer::{Producer, ProducerTimer};
use queue::{EventQueue, QueueKey};
use replica::{Partition, Replica};
use txn_coordinator::{TxnCoordinator, TxnTimer};
use wire::Msg;

/// What kind of node a [`NodeId`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Broker(BrokerId),
    Controller,
    Producer(ProducerId),
    Consumer(ConsumerId),
}

/// Liveness of one node.
#[derive(Clone, Debug)]
pub struct NodeState {
    pub name: String,
    pub kind: NodeKind,
    pub up: bool,
    /// Bumped on every crash so the timers of a dead incarnation are ignored.
    pub incarnation: u32,
    pub paused_until: Option<SimTime>,
    /// The node whose process this one is part of (a consumer's dead-letter producer, which
    /// has its own address): it is down or paused whenever its host is.
    pub host: Option<NodeId>,
}

/// One application message (a `send()`), named `<producer>#<n>`.
#[derive(Clone, Copy, Debug)]
pub struct MsgInfo {
    pub producer: ProducerId,
    pub n: u32,
    pub key: Option<u32>,
    pub partition: PartitionId,
}

#[derive(Clone, Debug)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionId>,
    pub min_insync_replicas: u32,
    pub unclean_leader_election: bool,
}

/// Cluster-wide settings in force for the run.
#[derive(Clone, Debug)]
pub struct Settings {
    pub seed: u64,
    pub stop_at: SimTime,
    /// How long the drain may run before the run is cut off.
    pub drain_limit: SimTime,
    pub replica_lag_time_max_ms: u64,
    pub broker_session_timeout_ms: u64,
    pub broker_heartbeat_interval_ms: u64,
    pub replica_fetch_wait_max_ms: u64,
    pub replica_socket_timeout_ms: u64,
    pub group_initial_rebalance_delay_ms: u64,
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a transaction
    /// coordinator accepts in `InitProducerId`.
    pub transaction_max_timeout_ms: u64,
    /// KIP-966 eligible leader replicas (the `eligible.leader.replicas.version` feature).
    pub eligible_leader_replicas: bool,
    /// `replica_recovery`: leader epochs (KIP-101) or the pre-KIP-101 HW truncation.
    pub replica_recovery: config::ReplicaRecovery,
    /// The `transaction.version` feature: 1 the classic protocol (KIP-98), 2 Transactions V2
    /// (KIP-890 part 2).
    pub transaction_version: u8,
    /// `transaction.partition.verification.enable` (KIP-890 part 1).
    pub transaction_partition_verification: bool,
    /// The queue system the brokers are.
    pub system: config::System,
}

#[derive(Clone, Debug)]
pub(crate) enum Event {
    Deliver {
        id: u64,
        from: NodeId,
        to: NodeId,
        msg: Msg,
        /// The `Sent` trace event of this message: the cause of what its delivery does.
        sent: EventId,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        timer: Timer,
        /// The cause of the handler that set the timer.
        cause: Option<EventId>,
    },
    Fault(u32),
    Note(u32),
    /// Undo one fault's network effect after its `duration_ms`.
    EndFault(u32),
    Stop,
    /// During the drain: is everything settled?
    QuiescenceCheck,
}

/// A call between two parts of one process: a consumer and the producers embedded in it (its
/// output and dead-letter producers). The event loop runs each as soon as the calling handler
/// returns, in the order made, within the same step: no time passes and nothing is queued.
#[derive(Clone, Debug)]
pub(crate) enum Local {
    /// The processor's transactional producer got its producer id (`initTransactions()`
    /// returned): processing may start.
    ProducerReady {
        consumer: ConsumerId,
        producer: ProducerId,
    },
    /// A record the consumer's producer sent was acknowledged or given up on: a `flush()` the
    /// consumer waits in may be over.
    SendCompleted {
        consumer: ConsumerId,
        producer: ProducerId,
    },
    /// The processor's transaction committed or aborted.
    TxnFinished {
        consumer: ConsumerId,
        producer: ProducerId,
        committed: bool,
    },
    /// The processor's producer was fenced by a newer instance: the application shuts down.
    ProducerFenced {
        consumer: ConsumerId,
        producer: ProducerId,
    },
    /// A consumer (re)starts its processor's output producer: the producer takes its leaders
    /// from bootstrap metadata and, if transactional, calls `initTransactions()`.
    StartOutputProducer { producer: ProducerId },
    /// A broker's controlled shutdown is granted: its process exits cleanly.
    BrokerShutDown { broker: BrokerId },
    /// A record for an embedded producer to send: a processor's output (the input's message
    /// id) or a poison record for the dead-letter topic.
    SendOutput { producer: ProducerId, msg: MsgId },
    /// `flush()`: the consumer waits until its output producer has nothing unacknowledged;
    /// once so, [`Consumer::on_outputs_flushed`] commits its input offsets.
    FlushOutputs {
        producer: ProducerId,
        consumer: ConsumerId,
    },
    /// `sendOffsetsToTransaction` followed by `commitTransaction`.
    CommitWithOffsets {
        producer: ProducerId,
        group: GroupId,
        consumer: ConsumerId,
        member: wire::GroupMetadata,
        offsets: Box<[(PartitionId, u64)]>,
    },
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Timer {
    Producer(ProducerTimer),
    Broker(broker::BrokerTimer),
    Controller(controller::ControllerTimer),
    /// A consumer's own timers.
    Consumer(ConsumerTimer),
    /// A group coordinator's timer, on the broker hosting it.
    GroupCoordinator(GroupTimer),
    /// A transaction coordinator's timer, on the broker hosting it.
    TxnCoordinator(TxnTimer),
    /// A share group's session check, on the broker hosting its coordinator.
    ShareGroup(GroupId),
    /// A broker's share-partition acquisition-lock timer.
    ShareLeader,
    /// A share consumer's own timers.
    ShareConsumer(share_consumer::ShareConsumerTimer),
}

/// Which trace events a run stores for its caller. Event ids, causes and the simulation are
/// the same in every mode; only what [`Sim::drain_trace`] hands out differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceMode {
    /// Every event is stored (the TUI, `explain`, the narrated trace, tests).
    Full,
    /// Headless with a digest: the kernel folds every event into [`Sim::trace_digest`] as it is
    /// emitted, in id order, and does not store `Sent` events (a third or more of a run's
    /// events, read by nothing else headless). The digest is the one a caller would compute over the
    /// full trace.
    Digest,
    /// Headless without a digest (sweeps, compare): `Sent` events are neither stored nor hashed.
    Outcome,
}

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Running,
    Draining,
    Finished,
}

/// Reusable buffers that messages refer to by index, so sending records allocates nothing once
/// the pool has grown. A message's buffer is freed by whoever consumes (or drops) the message.
#[derive(Clone, Debug)]
pub(crate) struct BufPool<T> {
    bufs: Vec<Vec<T>>,
    free: Vec<u32>,
}

impl<T> Default for BufPool<T> {
    fn default() -> Self {
        BufPool {
            bufs: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> BufPool<T> {
    fn alloc(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            self.bufs.push(Vec::new());
            (self.bufs.len() - 1) as u32
        })
    }

    fn free(&mut self, i: u32) {
        self.bufs[i as usize].clear();
        self.free.push(i);
    }
}

impl<T> std::ops::Index<usize> for BufPool<T> {
    type Output = Vec<T>;
    fn index(&self, i: usize) -> &Vec<T> {
        &self.bufs[i]
    }
}

impl<T> std::ops::IndexMut<usize> for BufPool<T> {
    fn index_mut(&mut self, i: usize) -> &mut Vec<T> {
        &mut self.bufs[i]
    }
}

/// What every process shares: the clock, the event queue, the network, the trace, the random
/// source and the message ledger. A handler reaches it only through its [`Cx`].
#[derive(Clone)]
pub(crate) struct Kernel {
    pub(crate) settings: Settings,
    pub(crate) now: SimTime,
    pub(crate) phase: Phase,
    pub(crate) rng: ChaCha8Rng,
    queue: EventQueue,
    slots: Vec<Option<Event>>,
    free_slots: Vec<u32>,
    seq: u64,
    next_net_id: u64,
    events: u64,
    pub(crate) trace: Vec<TraceEvent>,
    /// Trace events emitted so far (the next event's id).
    trace_seq: u64,
    /// Which events `emit` stores, and whether it folds them into `digest`.
    trace_mode: TraceMode,
    /// Every event emitted so far, in [`TraceMode::Digest`].
    digest: digest::Digest,
    /// What the running handler was triggered by; every event it emits records it as its cause.
    pub(crate) cause: Option<EventId>,
    /// Each fault's `FaultInjected` event once it has fired: the cause of its later effects.
    fault_events: Vec<Option<EventId>>,
    pub(crate) nodes: Vec<NodeState>,
    pub(crate) net: Network,
    pub(crate) topics: Vec<TopicInfo>,
    /// Each group's `group.id`, by [`GroupId`]: static configuration, like `topics`.
    pub(crate) group_names: Vec<String>,
    /// Each transaction's `transactional.id`, by coordinator index: where a partition leader
    /// finds the coordinator to verify with (KIP-890).
    pub(crate) txn_names: Vec<String>,
    pub(crate) msgs: chunked::ChunkedVec<MsgInfo>,
    pub(crate) keys: std::rc::Rc<Vec<String>>,
    pub(crate) faults: Vec<FaultSpec>,
    pub(crate) notes: Vec<Note>,
    /// The anchored notes not shown yet, in file order: each waits for its event (`emit`).
    pub(crate) waiting_notes: Vec<u32>,
    /// Record buffers for fetch responses, so the hot path reuses allocations.
    pub(crate) payloads: BufPool<replica::Entry>,
    /// Record buffers for produce requests.
    pub(crate) record_bufs: BufPool<MsgId>,
    /// Reused list of the clients a dying process's resets go to.
    pending_resets: Vec<NodeId>,
    pub(crate) controller_node: NodeId,
    /// In-process calls made by the running handler, run when it returns.
    pub(crate) locals: std::collections::VecDeque<Local>,
    /// Each group's deduplicating sink: a store outside Kafka that the group's application
    /// instances share. Per message id: its effect was applied.
    pub(crate) dedup_sinks: Vec<chunked::ChunkedVec<bool>>,
    /// Each group's `share.*` settings and `share.auto.offset.reset`, by [`GroupId`] (`None`
    /// for a consumer group): dynamic group configuration every broker reads, static here.
    pub(crate) share_configs: Vec<Option<(config::ShareConfig, config::OffsetReset)>>,
    /// The share coordinator's durable state (see [`share_leader`]).
    pub(crate) share_store: share_leader::ShareStore,
    /// Each RabbitMQ, SQS or Redis group's delivery policy, by [`GroupId`] (`None` on Kafka).
    pub(crate) queue_policies: Vec<Option<queue_policy::QueuePolicy>>,
}

/// The whole simulated world. `Clone` so that the TUI can keep checkpoints for rewinding.
#[derive(Clone)]
pub struct Sim {
    pub(crate) k: Kernel,
    /// Each partition's static configuration (its replicas live on the brokers).
    pub(crate) partitions: Vec<Partition>,
    pub(crate) brokers: Vec<Broker>,
    pub(crate) controller: Controller,
    pub(crate) producers: Vec<Producer>,
    /// The group coordinators, one per group.
    pub(crate) groups: Vec<GroupCoordinator>,
    pub(crate) consumers: Vec<Consumer>,
    /// The transaction coordinators, one per `transactional.id`.
    pub(crate) txns: Vec<TxnCoordinator>,
    /// The share groups' coordinators (KIP-932), one per share group.
    pub(crate) share_groups: Vec<share_group::ShareGroup>,
}

impl Sim {
    /// Bytes of the grow-only tables a checkpoint shares rather than copies: replica logs,
    /// message tables, batch lists and send lists. With the size of one copy of the rest, it
    /// is what the simulation state weighs (the session budgets its checkpoints against it).
    pub fn shared_bytes(&self) -> usize {
        let kernel = self.k.msgs.shared_bytes()
            + self
                .k
                .dedup_sinks
                .iter()
                .map(|t| t.shared_bytes())
                .sum::<usize>();
        let logs: usize = self
            .brokers
            .iter()
            .flat_map(|b| b.replicas())
            .map(|r| r.log().shared_bytes())
            .sum();
        let producers: usize = self
            .producers
            .iter()
            .map(|p| {
                let client = &p.client;
                client.batches.shared_bytes()
                    + client.parts.iter().map(|q| q.shared_bytes()).sum::<usize>()
            })
            .sum();
        kernel + logs + producers
    }

    /// Build the world with the config's own seed. A validated scenario lowers into a
    /// config, so `Sim::new(&scenario)` works too.
    pub fn new(config: impl Into<SimConfig>) -> Sim {
        let config = config.into();
        let seed = config.seed;
        setup::build(config, seed)
    }

    /// Build the world with another seed.
    pub fn with_seed(config: impl Into<SimConfig>, seed: u64) -> Sim {
        setup::build(config.into(), seed)
    }

    pub(crate) fn new_empty(settings: Settings) -> Sim {
        Sim {
            k: Kernel::new(settings),
            partitions: Vec::new(),
            brokers: Vec::new(),
            controller: Controller::default(),
            producers: Vec::new(),
            groups: Vec::new(),
            consumers: Vec::new(),
            txns: Vec::new(),
            share_groups: Vec::new(),
        }
    }

    // ----- public API ---------------------------------------------------------------------

    pub fn now(&self) -> SimTime {
        self.k.now
    }

    pub fn phase(&self) -> Phase {
        self.k.phase
    }

    pub fn settings(&self) -> &Settings {
        &self.k.settings
    }

    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.k.events
    }

    /// Time of the next event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.k.queue.peek_time()
    }

    /// Process one event. Returns false once the run is finished.
    pub fn step(&mut self) -> bool {
        if self.k.phase == Phase::Finished {
            return false;
        }
        let Some(key) = self.k.queue.pop() else {
            self.finish();
            return false;
        };
        let event = self.k.slots[key.slot as usize]
            .take()
            .expect("queued slot holds an event");
        self.k.free_slots.push(key.slot);
        self.k.now = key.time;
        if self.k.phase == Phase::Draining && self.k.now > self.k.settings.drain_limit {
            self.finish();
            return false;
        }
        self.k.events += 1;
        self.dispatch(event);
        self.run_locals();
        true
    }

    /// Run until the run finishes; trace events accumulate in the buffer.
    pub fn run_to_end(&mut self) {
        while self.step() {}
    }

    /// Take the trace events produced since the last call.
    pub fn drain_trace(&mut self) -> std::vec::Drain<'_, TraceEvent> {
        self.k.trace.drain(..)
    }

    /// Take the trace events produced since the last call by swapping them into `buf`, which
    /// must be empty (its allocation is reused for the next ones): no event is copied.
    pub fn swap_trace(&mut self, buf: &mut Vec<TraceEvent>) {
        debug_assert!(buf.is_empty(), "swap_trace takes an empty buffer");
        buf.clear();
        std::mem::swap(&mut self.k.trace, buf);
    }

    /// Read the pending trace events without taking them.
    pub fn pending_trace(&self) -> &[TraceEvent] {
        &self.k.trace
    }

    /// Chooses which trace events the run stores for [`Sim::drain_trace`] (see [`TraceMode`]).
    /// Set it before draining anything: switching to [`TraceMode::Digest`] folds the events
    /// still pending (those of the setup) into the digest, which then covers the whole run, and
    /// a headless mode drops the pending `Sent` events.
    pub fn set_trace_mode(&mut self, mode: TraceMode) {
        debug_assert_eq!(
            self.k.trace.len() as u64,
            self.k.trace_seq,
            "set the trace mode before draining the trace"
        );
        if mode == TraceMode::Digest && self.k.trace_mode != TraceMode::Digest {
            let mut d = digest::Digest::default();
            self.k.trace.iter().for_each(|ev| d.add(ev));
            self.k.digest = d;
        }
        if mode != TraceMode::Full {
            self.k
                .trace
                .retain(|ev| !matches!(ev.kind, Trace::Sent { .. }));
        }
        self.k.trace_mode = mode;
    }

    /// Replaying to a known point (the TUI stepping back): from here on the kernel folds
    /// every event into a digest that continues `digest` (that of every event drained so far)
    /// and stores no `Sent` event, as [`TraceMode::Digest`] does, so the replay builds none of
    /// the wire summaries nobody will read. Ended by
    /// [`Sim::end_replay`]; events, ids, causes and the simulation are the same in both modes.
    /// Events still pending are folded in now: the caller drains them without hashing them.
    pub fn begin_replay(&mut self, digest: digest::Digest) {
        debug_assert_eq!(self.k.trace_mode, TraceMode::Full);
        let mut digest = digest;
        self.k.trace.iter().for_each(|ev| digest.add(ev));
        self.k.digest = digest;
        self.k.trace_mode = TraceMode::Digest;
    }

    /// Back to storing every event ([`TraceMode::Full`]); returns the digest of the whole trace
    /// so far, the replay's events included. The events the replay stored (all but `Sent`)
    /// must have been drained: they are already in the digest.
    pub fn end_replay(&mut self) -> digest::Digest {
        debug_assert!(self.k.trace.is_empty(), "drain the replay's trace first");
        debug_assert_eq!(self.k.trace_mode, TraceMode::Digest);
        self.k.trace_mode = TraceMode::Full;
        std::mem::take(&mut self.k.digest)
    }

    /// Trace events emitted so far, stored or not (the next event's id).
    pub fn trace_emitted(&self) -> u64 {
        self.k.trace_seq
    }

    /// The digest of every trace event so far, in [`TraceMode::Digest`]; `None` otherwise
    /// (the caller then digests what it drains).
    pub fn trace_digest(&self) -> Option<digest::Digest> {
        (self.k.trace_mode == TraceMode::Digest).then_some(self.k.digest)
    }

    pub fn node_name(&self, node: NodeId) -> &str {
        &self.k.nodes[node.idx()].name
    }

    pub fn nodes(&self) -> &[NodeState] {
        &self.k.nodes
    }

    pub fn node_of_broker(&self, b: BrokerId) -> NodeId {
        NodeId(b.0)
    }

    pub fn broker_count(&self) -> u32 {
        self.brokers.len() as u32
    }

    pub fn broker_name(&self, b: BrokerId) -> &str {
        &self.k.nodes[b.idx()].name
    }

    pub fn controller_node(&self) -> NodeId {
        self.k.controller_node
    }

    pub fn topics(&self) -> &[TopicInfo] {
        &self.k.topics
    }

    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    pub fn brokers(&self) -> &[Broker] {
        &self.brokers
    }

    /// Partition `p`'s replica on broker `b`, if `b` hosts one.
    pub fn replica(&self, p: PartitionId, b: BrokerId) -> Option<&Replica> {
        self.brokers[b.idx()].replica(p)
    }

    /// Partition `p`'s replicas, in replica-list order.
    pub fn replicas(&self, p: PartitionId) -> impl Iterator<Item = &Replica> {
        self.partitions[p.idx()]
            .assignment
            .iter()
            .filter_map(move |&b| self.replica(p, b))
    }

    pub fn partition_name(&self, p: PartitionId) -> String {
        let part = &self.partitions[p.idx()];
        format!("{}/{}", self.k.topics[part.topic.idx()].name, part.index)
    }

    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    pub fn producers(&self) -> &[Producer] {
        &self.producers
    }

    pub fn groups(&self) -> &[GroupCoordinator] {
        &self.groups
    }

    pub fn txns(&self) -> &[TxnCoordinator] {
        &self.txns
    }

    /// The `transactional.id` owning a producer id, for naming markers.
    pub fn txn_id_of_producer(&self, pid: u32) -> Option<&str> {
        self.txns
            .iter()
            .find(|t| t.producer_id == pid)
            .map(|t| t.id.as_str())
    }

    /// The broker hosting a group's coordinator right now, by the controller's view.
    pub fn coordinator_host(&self, g: GroupId) -> Option<BrokerId> {
        coordinator::coordinator_for(&self.groups[g.idx()].name, &self.controller.brokers)
    }

    /// The broker hosting a transaction's coordinator right now, by the controller's view.
    pub fn txn_host(&self, txn: u32) -> Option<BrokerId> {
        coordinator::coordinator_for(&self.txns[txn as usize].id, &self.controller.brokers)
    }

    pub fn consumers(&self) -> &[Consumer] {
        &self.consumers
    }

    /// The share groups' coordinators (KIP-932).
    pub fn share_groups(&self) -> &[share_group::ShareGroup] {
        &self.share_groups
    }

    /// Share group `g`'s share partition on `p`, as its leader (by the controller's view)
    /// holds it in memory.
    pub fn share_partition(
        &self,
        g: GroupId,
        p: PartitionId,
    ) -> Option<&share_partition::SharePartition> {
        let leader = self.controller.parts.get(p.idx())?.leader?;
        self.brokers[leader.idx()].shares.get(g, p)
    }

    pub fn msg(&self, m: MsgId) -> &MsgInfo {
        &self.k.msgs[m.idx()]
    }

    pub fn msg_count(&self) -> usize {
        self.k.msgs.len()
    }

    /// `checkout#3`
    pub fn msg_name(&self, m: MsgId) -> String {
        let info = &self.k.msgs[m.idx()];
        format!("{}#{}", self.producers[info.producer.idx()].name, info.n)
    }

    pub fn key_name(&self, k: u32) -> &str {
        &self.k.keys[k as usize]
    }

    pub fn faults(&self) -> &[FaultSpec] {
        &self.k.faults
    }

    pub fn notes(&self) -> &[Note] {
        &self.k.notes
    }

    /// The anchored notes (indices into [`Sim::notes`]) whose event has not happened yet; at
    /// the end of the run, those never shown.
    pub fn waiting_notes(&self) -> &[u32] {
        &self.k.waiting_notes
    }

    pub fn network(&self) -> &Network {
        &self.k.net
    }

    /// Schedule a fault now (from the TUI). It is recorded like a scripted one, so the session
    /// can replay it.
    pub fn inject_fault(&mut self, mut fault: FaultSpec) -> u32 {
        fault.at = self.k.now;
        let index = self.k.faults.len() as u32;
        self.k.faults.push(fault);
        self.schedule(self.k.now, Event::Fault(index));
        index
    }

    // ----- kernel services, for handlers not yet written as processes ----------------------

    pub(crate) fn schedule(&mut self, time: SimTime, event: Event) {
        self.k.schedule(time, event)
    }

    pub(crate) fn emit(&mut self, kind: Trace) -> EventId {
        self.k.emit(kind)
    }

    pub(crate) fn send(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        self.k.send(from, to, msg);
    }

    fn release_msg(&mut self, msg: Msg) {
        self.k.release_msg(msg)
    }

    pub(crate) fn wire_summary(&self, msg: &Msg) -> Wire {
        self.k.wire_summary(msg)
    }

    // ----- coordinators -------------------------------------------------------------------

    /// The coordinator of a `transactional.id`, created on first use; its index.
    pub(crate) fn txn_index(&mut self, id: &str, timeout_ms: u64) -> u32 {
        if let Some(i) = self.txns.iter().position(|t| t.id == id) {
            return i as u32;
        }
        let i = self.txns.len() as u32;
        self.txns.push(TxnCoordinator::new(i, id, timeout_ms));
        self.k.txn_names.push(id.to_string());
        i
    }

    /// Every broker starts its transaction coordinators' housekeeping (when the cluster boots).
    pub(crate) fn start_coordinators(&mut self) {
        for b in 0..self.controller.brokers.len() {
            self.start_coordinators_on(BrokerId(b as u32));
        }
    }

    fn start_coordinators_on(&mut self, b: BrokerId) {
        let node = self.node_of_broker(b);
        txn_coordinator::start_housekeeping(&mut Cx::new(&mut self.k, node));
    }

    /// Group `g`'s topic grew by `count` partitions from `first`: its coordinator learns of
    /// them (on its host, if the group is loaded).
    pub(crate) fn group_partitions_added(&mut self, g: GroupId, first: PartitionId, count: u32) {
        // TODO(metadata): the coordinator should learn this from its host's metadata.
        let node = match self.groups[g.idx()].host() {
            Some(b) => self.node_of_broker(b),
            None => self.k.controller_node,
        };
        let added: Vec<PartitionId> = (0..count).map(|k| PartitionId(first.0 + k)).collect();
        self.groups[g.idx()].partitions_added(&added, &mut Cx::new(&mut self.k, node));
    }

    // ----- dispatch -----------------------------------------------------------------------

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Deliver {
                id,
                from,
                to,
                msg,
                sent,
            } => {
                self.k.cause = Some(sent);
                let node = &self.k.nodes[to.idx()];
                let host = &self.k.nodes[node.host.unwrap_or(to).idx()];
                if !node.up || !host.up {
                    // The dead process's OS resets the connection, so the sender learns at once.
                    if let Some(reply) = self.reset_reply(&msg) {
                        self.send(to, from, reply);
                    }
                    let wire = self.wire_summary(&msg);
                    self.emit(Trace::Dropped {
                        id,
                        from,
                        to,
                        wire,
                        reason: DropReason::NodeDown,
                    });
                    self.release_msg(msg);
                    return;
                }
                if let Some(until) = host.paused_until {
                    // A paused process reads its socket when it wakes up, in arrival order.
                    self.schedule(
                        until,
                        Event::Deliver {
                            id,
                            from,
                            to,
                            msg,
                            sent,
                        },
                    );
                    return;
                }
                if self.k.net.cut_now(from, to) {
                    let wire = self.wire_summary(&msg);
                    self.emit(Trace::Dropped {
                        id,
                        from,
                        to,
                        wire,
                        reason: DropReason::Cut,
                    });
                    self.release_msg(msg);
                    return;
                }
                self.deliver(from, to, msg);
            }
            Event::Timer {
                node,
                incarnation,
                timer,
                cause,
            } => {
                self.k.cause = cause;
                let state = &self.k.nodes[node.idx()];
                let host = &self.k.nodes[state.host.unwrap_or(node).idx()];
                if !state.up || state.incarnation != incarnation || !host.up {
                    return;
                }
                if let Some(until) = host.paused_until {
                    self.schedule(
                        until,
                        Event::Timer {
                            node,
                            incarnation,
                            timer,
                            cause,
                        },
                    );
                    return;
                }
                self.fire_timer(node, timer);
            }
            Event::Fault(i) => {
                if self.k.phase == Phase::Running {
                    // A fault is a root, and the cause of all it does.
                    self.k.cause = None;
                    let fired = self.emit(Trace::FaultInjected { index: i });
                    if self.k.fault_events.len() <= i as usize {
                        self.k.fault_events.resize(i as usize + 1, None);
                    }
                    self.k.fault_events[i as usize] = Some(fired);
                    self.k.cause = Some(fired);
                    self.apply_fault(i);
                }
            }
            Event::EndFault(i) => {
                self.k.cause = self.k.fault_events.get(i as usize).copied().flatten();
                self.end_fault(i);
            }
            Event::Note(i) => {
                self.k.cause = None;
                self.emit(Trace::Narration { index: i });
            }
            Event::Stop => {
                self.k.phase = Phase::Draining;
                self.k.cause = None;
                self.emit(Trace::Draining);
                self.schedule(self.k.now.plus_ms(100), Event::QuiescenceCheck);
            }
            Event::QuiescenceCheck => {
                if self.quiescent() {
                    self.finish();
                } else {
                    self.schedule(self.k.now.plus_ms(100), Event::QuiescenceCheck);
                }
            }
        }
    }

    /// Run the in-process calls the last handler made (each may make more).
    fn run_locals(&mut self) {
        while let Some(call) = self.k.locals.pop_front() {
            match call {
                // A producer's notices to the consumer it is embedded in.
                Local::ProducerReady { consumer, producer } => {
                    debug_assert_eq!(self.producers[producer.idx()].embedded_in, Some(consumer));
                    self.consumer_producer_ready(consumer);
                }
                Local::SendCompleted { consumer, producer } => {
                    debug_assert_eq!(self.producers[producer.idx()].embedded_in, Some(consumer));
                    self.processor_flushed(consumer);
                }
                Local::TxnFinished {
                    consumer,
                    producer,
                    committed,
                } => {
                    debug_assert_eq!(self.producers[producer.idx()].embedded_in, Some(consumer));
                    self.consumer_txn_done(consumer, committed);
                }
                Local::ProducerFenced { consumer, producer } => {
                    debug_assert_eq!(self.producers[producer.idx()].embedded_in, Some(consumer));
                    self.consumer_fenced(consumer);
                }
                Local::BrokerShutDown { broker } => {
                    let n = self.node_of_broker(broker);
                    self.take_down(n);
                }
                // A consumer's calls into the producers embedded in it.
                Local::StartOutputProducer { producer } => self.start_embedded_producer(producer),
                Local::SendOutput { producer, msg } => self.forward_record(producer, msg),
                Local::FlushOutputs { producer, consumer } => {
                    // Flushed already: the consumer goes on at once. If not, the producer calls
                    // `processor_flushed` when its last output is acknowledged.
                    if self.producers[producer.idx()].is_idle() {
                        self.with_consumer(consumer, |cons, cx| cons.on_outputs_flushed(cx));
                    }
                }
                Local::CommitWithOffsets {
                    producer,
                    group,
                    consumer,
                    member,
                    offsets,
                } => self.with_producer(producer, |prod, cx| {
                    prod.commit_with_offsets(group, consumer, member, offsets, cx)
                }),
            }
        }
    }

    fn finish(&mut self) {
        if self.k.phase != Phase::Finished {
            self.k.phase = Phase::Finished;
        }
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        self.deliver_to_process(from, to, msg);
        self.serve_parked_receives(to);
    }

    /// A queue receive held open at a broker is tried again after anything that happened
    /// there: a write, an acknowledgement or a lock running out may have made messages ready.
    fn serve_parked_receives(&mut self, node: NodeId) {
        if let NodeKind::Broker(b) = self.k.nodes[node.idx()].kind
            && self.k.nodes[node.idx()].up
            && self.brokers[b.idx()].shares.has_parked()
        {
            self.brokers[b.idx()].serve_parked(&mut Cx::new(&mut self.k, node));
        }
    }

    fn deliver_to_process(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        match self.k.nodes[to.idx()].kind {
            // A broker hands what its coordinators handle to them. TODO(metadata): the
            // controller's records stand in for the broker's metadata cache (see Metadata).
            NodeKind::Broker(b) => match msg {
                Msg::Group { group, .. }
                | Msg::TxnOffsetCommit { group, .. }
                | Msg::TxnOffsetMarker { group, .. } => {
                    let meta = coordinator::Metadata::new(&self.brokers[b.idx()].metadata);
                    let cx = &mut Cx::new(&mut self.k, to);
                    self.groups[group.idx()].on_message(b, from, msg, &meta, cx);
                }
                Msg::Share(wire::ShareMsg::Heartbeat {
                    group,
                    consumer,
                    member_epoch,
                    token,
                }) => {
                    let meta = coordinator::Metadata::new(&self.brokers[b.idx()].metadata);
                    let cx = &mut Cx::new(&mut self.k, to);
                    if let Some(sg) = self.share_groups.iter_mut().find(|s| s.group == group) {
                        let hb = share_group::Heartbeat {
                            consumer,
                            member_epoch,
                            token,
                        };
                        sg.on_heartbeat(b, from, hb, &meta, cx);
                    }
                }
                Msg::Share(wire::ShareMsg::Fetch {
                    group,
                    consumer,
                    partition,
                    token,
                    max_records,
                    acks,
                    close,
                }) => {
                    let req = share_leader::ShareFetchRequest {
                        group,
                        consumer,
                        partition,
                        token,
                        max_records,
                        acks: &acks,
                        close,
                        parked_until: None,
                    };
                    let cx = &mut Cx::new(&mut self.k, to);
                    self.brokers[b.idx()].on_share_fetch(from, req, cx);
                }
                Msg::Txn { txn, .. }
                | Msg::WriteTxnMarkerResponse { txn, .. }
                | Msg::TxnOffsetCommitResponse { txn, .. }
                | Msg::TxnOffsetMarkerResponse { txn, .. } => {
                    let meta = coordinator::Metadata::new(&self.brokers[b.idx()].metadata);
                    let cx = &mut Cx::new(&mut self.k, to);
                    self.txns[txn as usize].on_message(b, from, msg, &meta, cx);
                }
                // A queue consumer's connection was reset: it crashed.
                Msg::ConnectionClosed { peer }
                    if matches!(self.k.nodes[peer.idx()].kind, NodeKind::Consumer(_)) =>
                {
                    if let NodeKind::Consumer(c) = self.k.nodes[peer.idx()].kind {
                        let cx = &mut Cx::new(&mut self.k, to);
                        self.brokers[b.idx()].on_queue_consumer_gone(c, cx);
                    }
                }
                msg => self.brokers[b.idx()].on_message(from, msg, &mut Cx::new(&mut self.k, to)),
            },
            NodeKind::Controller => {
                self.controller
                    .on_message(from, msg, &mut Cx::new(&mut self.k, to))
            }
            NodeKind::Producer(p) => {
                self.with_producer(p, |prod, cx| prod.on_message(from, msg, cx))
            }
            NodeKind::Consumer(c) if self.consumers[c.idx()].share.is_some() => {
                let cx = &mut Cx::new(&mut self.k, to);
                if let Some(s) = self.consumers[c.idx()].share.as_mut() {
                    s.on_message(msg, cx);
                }
            }
            NodeKind::Consumer(c) => {
                // A reset reaches both parts of the process that share the node.
                if let (Msg::ConnectionClosed { .. }, Some(p)) =
                    (&msg, self.consumers[c.idx()].producer)
                {
                    self.producer_receive(p, msg.clone());
                }
                let cons = &mut self.consumers[c.idx()];
                // A processor's output producer shares the consumer's node.
                let for_producer = match &msg {
                    Msg::ProduceResponse { .. } | Msg::TxnResponse { .. } => true,
                    Msg::MetadataResponse { partition, .. } => !cons.reads(*partition),
                    _ => false,
                };
                match cons.producer {
                    Some(p) if for_producer => self.producer_receive(p, msg),
                    _ => cons.on_message(from, msg, &mut Cx::new(&mut self.k, to)),
                }
            }
        }
    }

    fn fire_timer(&mut self, node: NodeId, timer: Timer) {
        match (self.k.nodes[node.idx()].kind, timer) {
            (NodeKind::Broker(b), Timer::GroupCoordinator(t)) => {
                let cx = &mut Cx::new(&mut self.k, node);
                self.groups[t.group().idx()].on_timer(b, t, cx);
            }
            (NodeKind::Broker(b), Timer::TxnCoordinator(t)) => {
                let meta = coordinator::Metadata::new(&self.brokers[b.idx()].metadata);
                let cx = &mut Cx::new(&mut self.k, node);
                match t {
                    TxnTimer::Housekeeping => {
                        txn_coordinator::on_housekeeping(&mut self.txns, b, &meta, cx)
                    }
                    TxnTimer::MarkerRetry { txn, .. } => {
                        self.txns[txn as usize].on_timer(b, t, &meta, cx)
                    }
                }
            }
            (NodeKind::Producer(p), Timer::Producer(t)) => {
                self.with_producer(p, |prod, cx| prod.on_timer(t, cx))
            }
            (NodeKind::Producer(_), t) => {
                unreachable!("a producer sets only its own timers: {t:?}")
            }
            (NodeKind::Consumer(c), Timer::Consumer(ConsumerTimer::Start)) => {
                if self.consumers[c.idx()].state() == consumer::ConsumerState::Idle {
                    self.start_consumer(c);
                }
            }
            (NodeKind::Broker(_), Timer::ShareGroup(g)) => {
                let cx = &mut Cx::new(&mut self.k, node);
                if let Some(sg) = self.share_groups.iter_mut().find(|s| s.group == g) {
                    sg.expire_sessions(cx);
                }
            }
            (NodeKind::Broker(b), Timer::ShareLeader) => {
                self.brokers[b.idx()].on_share_lock_timer(&mut Cx::new(&mut self.k, node));
                self.serve_parked_receives(node);
            }
            (NodeKind::Consumer(c), Timer::ShareConsumer(t)) => {
                let cx = &mut Cx::new(&mut self.k, node);
                if let Some(s) = self.consumers[c.idx()].share.as_mut() {
                    s.on_timer(t, cx);
                }
            }
            (NodeKind::Consumer(c), Timer::Consumer(t)) => {
                self.consumers[c.idx()].on_timer(t, &mut Cx::new(&mut self.k, node));
            }
            // The processor's output producer shares the consumer's node: its timers (all of
            // them, delivery timeouts and reconnects included) are its own.
            (NodeKind::Consumer(c), t @ Timer::Producer(_)) => {
                if let Some(p) = self.consumers[c.idx()].producer {
                    self.producer_timer(p, t);
                }
            }
            (NodeKind::Broker(b), Timer::Broker(t)) => {
                self.brokers[b.idx()].on_timer(t, &mut Cx::new(&mut self.k, node))
            }
            (NodeKind::Controller, Timer::Controller(t)) => {
                self.controller.on_timer(t, &mut Cx::new(&mut self.k, node))
            }
            // Each timer is set by the process that handles it; no other pairing occurs.
            (NodeKind::Broker(_) | NodeKind::Controller | NodeKind::Consumer(_), _) => {}
        }
    }

    /// Everything in flight has settled: producers have nothing pending and every group has
    /// caught up with what it can read.
    fn quiescent(&self) -> bool {
        self.producers.iter().all(|p| p.is_idle())
            && self.replication_settled()
            && (0..self.groups.len()).all(|g| self.group_caught_up(GroupId(g as u32)))
    }

    /// For the drain: has this group consumed everything it can?
    fn group_caught_up(&self, g: GroupId) -> bool {
        use consumer::ConsumerState;
        use group_coordinator::GroupState;
        if self
            .k
            .share_configs
            .get(g.idx())
            .is_some_and(|c| c.is_some())
        {
            return self.share_group_caught_up(g);
        }
        let group = &self.groups[g.idx()];
        let live = group.consumers.iter().any(|&c| {
            !matches!(
                self.consumers[c.idx()].state(),
                ConsumerState::Crashed | ConsumerState::Left
            )
        });
        if !live {
            // Nobody left to make progress.
            return group.members().is_empty();
        }
        if group.state() != GroupState::Stable {
            return false;
        }
        for &p in &group.partitions {
            let st = self.controller.parts[p.idx()];
            let Some(leader) = st.leader else {
                continue;
            };
            let hw = self.replica(p, leader).map_or(0, |r| r.hw());
            let owner = group
                .members()
                .iter()
                .find(|m| m.assignment.contains(&p))
                .map(|m| m.consumer);
            let Some(owner) = owner else {
                return false;
            };
            let cons = &self.consumers[owner.idx()];
            if cons.state() != ConsumerState::Active || cons.busy() {
                return false;
            }
            let pos = cons
                .parts()
                .iter()
                .find(|cp| cp.partition == p)
                .and_then(|cp| cp.position);
            if pos.is_none_or(|pos| pos < hw) {
                return false;
            }
        }
        true
    }

    /// For the drain: a share group has consumed all it can when no live member is busy and
    /// every partition's share partition has nothing in flight up to the high watermark.
    fn share_group_caught_up(&self, g: GroupId) -> bool {
        use consumer::ConsumerState;
        let group = &self.groups[g.idx()];
        let live: Vec<&Consumer> = group
            .consumers
            .iter()
            .map(|&c| &self.consumers[c.idx()])
            .filter(|c| !matches!(c.state(), ConsumerState::Crashed | ConsumerState::Left))
            .collect();
        if live.is_empty() {
            return true;
        }
        if live.iter().any(|c| {
            c.state() != ConsumerState::Active || c.share.as_ref().is_some_and(|s| s.busy())
        }) {
            return false;
        }
        group.partitions.iter().all(|&p| {
            let Some(leader) = self.controller.parts[p.idx()].leader else {
                return true;
            };
            let hw = self.replica(p, leader).map_or(0, |r| r.hw());
            match self.share_partition(g, p) {
                Some(sp) => sp.spso() >= hw,
                None => hw == 0,
            }
        })
    }

    /// The brokers the controller has not fenced, as a Metadata response lists them.
    pub(crate) fn unfenced_brokers(&self) -> BrokerSet {
        self.controller
            .brokers
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.fenced)
            .map(|(b, _)| BrokerId(b as u32))
            .collect()
    }

    /// No live leader is still waiting for a live in-sync follower to catch up (its HW would
    /// still move, and consumers could still read more).
    fn replication_settled(&self) -> bool {
        (0..self.partitions.len()).all(|p| {
            let p = PartitionId(p as u32);
            let Some(leader) = self.controller.parts[p.idx()].leader else {
                return true;
            };
            let Some(r) = self.replica(p, leader).filter(|r| r.is_leader()) else {
                return true;
            };
            if !self.k.nodes[leader.idx()].up || r.hw() >= r.leo() {
                return true;
            }
            // Some follower in the ISR is alive: replication is still under way.
            !r.isr()
                .iter()
                .any(|f| f != leader && self.k.nodes[f.idx()].up)
        })
    }

    // ----- faults -------------------------------------------------------------------------

    fn apply_fault(&mut self, index: u32) {
        let fault = self.k.faults[index as usize].clone();
        match fault.kind {
            FaultKind::Crash(t) => {
                if let Some(n) = self.resolve(t) {
                    self.crash_node(n);
                }
            }
            FaultKind::Restart(t) => {
                if let Some(n) = self.resolve(t) {
                    self.restart_node(n);
                }
            }
            FaultKind::Stop(t) => {
                if let Some(n) = self.resolve(t)
                    && self.k.nodes[n.idx()].up
                    && let NodeKind::Broker(b) = self.k.nodes[n.idx()].kind
                {
                    let cx = &mut Cx::new(&mut self.k, n);
                    self.brokers[b.idx()].begin_controlled_shutdown(cx);
                }
            }
            FaultKind::Pause {
                target,
                duration_ms,
            } => {
                if let Some(n) = self.resolve(target) {
                    let until = self.k.now.plus_ms(duration_ms);
                    if self.k.nodes[n.idx()].up {
                        self.k.nodes[n.idx()].paused_until = Some(until);
                        self.emit(Trace::NodePaused { node: n, until });
                        self.schedule(until, Event::EndFault(index));
                    }
                }
            }
            FaultKind::Isolate {
                target,
                duration_ms,
            } => {
                if let Some(n) = self.resolve(target) {
                    self.k.net.isolate(n, index);
                    if let Some(d) = duration_ms {
                        self.schedule(self.k.now.plus_ms(d), Event::EndFault(index));
                    }
                }
            }
            FaultKind::Partition { sides, duration_ms } => {
                // A `leader:` with no leader right now is on no side.
                let sides: Vec<Vec<NodeId>> = sides
                    .iter()
                    .map(|side| side.iter().filter_map(|&t| self.resolve(t)).collect())
                    .collect();
                self.k.net.partition(&sides, index);
                if let Some(d) = duration_ms {
                    self.schedule(self.k.now.plus_ms(d), Event::EndFault(index));
                }
            }
            FaultKind::Heal => self.k.net.heal_all(),
            FaultKind::Drop { from, to, count } => {
                if let (Some(a), Some(b)) = (self.resolve(from), self.resolve(to)) {
                    self.k.net.drop_next(a, b, count);
                }
            }
            FaultKind::DropAcks { producer, count } => {
                let n = self.producers[producer.idx()].node;
                self.k.net.drop_next_to(n, count);
            }
            FaultKind::Delay {
                from,
                to,
                extra_ms,
                duration_ms,
            } => {
                if let (Some(a), Some(b)) = (self.resolve(from), self.resolve(to)) {
                    self.k.net.add_delay(a, b, extra_ms * 1000, index);
                    self.schedule(self.k.now.plus_ms(duration_ms), Event::EndFault(index));
                }
            }
            FaultKind::AddConsumer(g) => self.add_consumer(g),
            FaultKind::RemoveConsumer(c) => {
                let node = self.consumers[c.idx()].node;
                let cx = &mut Cx::new(&mut self.k, node);
                match self.consumers[c.idx()].share.as_mut() {
                    Some(s) => s.close(cx),
                    None => self.consumers[c.idx()].close(cx),
                }
            }
            FaultKind::ElectPreferred(p) => {
                let node = self.k.controller_node;
                if self.k.nodes[node.idx()].up {
                    self.controller
                        .elect_preferred(p, &mut Cx::new(&mut self.k, node));
                }
            }
            FaultKind::Zombie(p) => self.start_second_instance(p),
            FaultKind::AddPartitions { topic, count } => self.add_partitions(topic, count),
        }
    }

    fn end_fault(&mut self, index: u32) {
        match self.k.faults[index as usize].kind {
            FaultKind::Pause { target, .. } => {
                // The pause ends for whichever node it paused; `leader:` may have moved since,
                // so find the paused node by its deadline.
                let node = self
                    .k
                    .nodes
                    .iter()
                    .position(|n| n.paused_until == Some(self.k.now))
                    .map(|i| NodeId(i as u32))
                    .or_else(|| self.resolve(target));
                if let Some(n) = node
                    && self.k.nodes[n.idx()]
                        .paused_until
                        .is_some_and(|u| u <= self.k.now)
                {
                    self.k.nodes[n.idx()].paused_until = None;
                    self.emit(Trace::NodeResumed { node: n });
                }
            }
            _ => self.k.net.end_fault(index),
        }
    }

    pub(crate) fn crash_node(&mut self, n: NodeId) {
        if !self.k.nodes[n.idx()].up {
            return;
        }
        self.emit(Trace::NodeCrashed { node: n });
        self.take_down(n);
    }

    /// The process on `n` is gone, crashed or stopped: it loses its memory, its connections
    /// are reset and its timers die.
    fn take_down(&mut self, n: NodeId) {
        let node = &mut self.k.nodes[n.idx()];
        node.up = false;
        node.incarnation += 1;
        node.paused_until = None;
        match self.k.nodes[n.idx()].kind {
            NodeKind::Broker(b) => {
                for held in self.brokers[b.idx()].crash() {
                    self.k.free_record_buf(held);
                }
                self.reset_connections_to(n);
                // The coordinators it had loaded lose their memory; their next host reloads
                // them from their durable state.
                for g in &mut self.groups {
                    g.host_crashed(b);
                }
                for t in &mut self.txns {
                    t.host_crashed(b);
                }
            }
            NodeKind::Controller => self.controller.crash(),
            NodeKind::Producer(p) => self.producers[p.idx()].crash(),
            NodeKind::Consumer(c) => {
                // The output producer shares the consumer's node and dies with it.
                if let Some(p) = self.consumers[c.idx()].producer {
                    self.producer_crashed(p);
                }
                self.consumers[c.idx()].crash();
                // A queue consumer's connections to the brokers are reset: RabbitMQ closes
                // its channel, and no held receive answers a dead client.
                let group = self.consumers[c.idx()].group;
                if self
                    .k
                    .queue_policies
                    .get(group.idx())
                    .is_some_and(|p| p.is_some())
                {
                    for broker in 0..self.brokers.len() {
                        self.send(n, NodeId(broker as u32), Msg::ConnectionClosed { peer: n });
                    }
                }
            }
        }
        // The parts of the process with their own node die with it.
        for h in 0..self.k.nodes.len() {
            if self.k.nodes[h].host == Some(n) {
                self.crash_node(NodeId(h as u32));
            }
        }
    }

    /// The error a client sees when its request meets a dead process (connection reset).
    fn reset_reply(&self, msg: &Msg) -> Option<Msg> {
        use wire::{ConsumerFetchResult, ProduceResult, ReplicaFetchResult};
        let reset = ErrorCode::NetworkException;
        Some(match msg {
            Msg::Produce {
                partition,
                batch,
                attempt,
                ..
            } => {
                // Even an acks=0 client sees its connection reset (and refreshes metadata),
                // though nothing tells it whether the records arrived.
                Msg::ProduceResponse {
                    partition: *partition,
                    batch: *batch,
                    attempt: *attempt,
                    result: ProduceResult::Err(reset),
                }
            }
            Msg::ReplicaFetch {
                partition,
                leader_epoch,
                session,
                ..
            } => Msg::ReplicaFetchResponse {
                partition: *partition,
                leader_epoch: *leader_epoch,
                session: *session,
                result: ReplicaFetchResult::Err(reset),
            },
            Msg::ConsumerFetch {
                partition, token, ..
            } => Msg::ConsumerFetchResponse {
                partition: *partition,
                token: *token,
                result: ConsumerFetchResult::Err(reset),
            },
            Msg::WriteTxnMarker {
                partition,
                txn,
                token,
                ..
            } => Msg::WriteTxnMarkerResponse {
                partition: *partition,
                txn: *txn,
                token: *token,
                ok: false,
            },
            Msg::TxnOffsetCommit { txn, token, .. } => Msg::TxnOffsetCommitResponse {
                txn: *txn,
                token: *token,
                error: ErrorCode::NotCoordinator,
            },
            Msg::TxnOffsetMarker { txn, token, .. } => Msg::TxnOffsetMarkerResponse {
                txn: *txn,
                token: *token,
                ok: false,
            },
            Msg::Txn { req, .. } => Msg::TxnResponse {
                resp: txn_coordinator::error_response(req, ErrorCode::NotCoordinator),
            },
            Msg::ListOffsets {
                partition, token, ..
            } => Msg::ListOffsetsResponse {
                partition: *partition,
                token: *token,
                offset: None,
            },
            Msg::Group { req, .. } => Msg::GroupResponse {
                resp: group_coordinator::error_response(req, ErrorCode::NotCoordinator)?,
            },
            Msg::Share(m) => Msg::Share(m.reset_reply()?),
            _ => return None,
        })
    }

    /// A process died: its operating system resets every connection to it, and the reset
    /// reaches each client (over the network, so a cut link loses it and the client finds out
    /// only by its timeouts). Each client then fails its own requests in flight to it.
    fn reset_connections_to(&mut self, dead: NodeId) {
        let mut clients = std::mem::take(&mut self.k.pending_resets);
        self.k.net.reset_connections_to(dead, &mut clients);
        for &client in &clients {
            if client != dead {
                self.send(dead, client, Msg::ConnectionClosed { peer: dead });
            }
        }
        clients.clear();
        self.k.pending_resets = clients;
    }

    /// `zombie`: a second instance of a transactional producer starts while the first keeps
    /// running (say, the first was thought dead after a long pause). Both go on with the same
    /// workload; the new one's InitProducerId fences the first, whose next write or commit fails
    /// with INVALID_PRODUCER_EPOCH / PRODUCER_FENCED.
    fn start_second_instance(&mut self, p: ProducerId) {
        let old = &self.producers[p.idx()];
        let count = self
            .k
            .nodes
            .iter()
            .filter(|x| x.name.starts_with(&old.name))
            .count();
        let name = format!("{}-{}", old.name, count + 1);
        let id = ProducerId(self.producers.len() as u32);
        let node = NodeId(self.k.nodes.len() as u32);
        let new = old.second_instance(name.clone(), node, id);
        let bootstrap = self.bootstrap_metadata(new.topic);
        self.k.nodes.push(NodeState {
            name,
            kind: NodeKind::Producer(id),
            up: true,
            incarnation: 0,
            paused_until: None,
            host: None,
        });
        self.k.net.ensure_nodes(self.k.nodes.len());
        self.producers.push(new);
        self.with_producer(id, |prod, cx| prod.on_start(&bootstrap, cx));
    }

    /// New partitions of `t`: producers on it add them (keys now hash over more partitions) and
    /// groups on it rebalance. Simplification: a producer learns them at once; Kafka's would at
    /// its next metadata refresh (`metadata.max.age.ms`).
    pub(crate) fn topic_grew(&mut self, t: TopicId, first: PartitionId, count: u32) {
        let added: Vec<(PartitionId, Option<BrokerId>)> = (first.0..first.0 + count)
            .map(|p| (PartitionId(p), self.controller.parts[p as usize].leader))
            .collect();
        for prod in self.producers.iter_mut().filter(|prod| prod.topic == t) {
            prod.topic_grew(&added);
        }
        self.groups_topic_grew(t, first, count);
    }

    // ----- producers ----------------------------------------------------------------------

    /// A topic's partitions and their leaders: what a client's first Metadata request returns.
    pub(crate) fn bootstrap_metadata(&self, t: TopicId) -> Vec<(PartitionId, Option<BrokerId>)> {
        self.k.topics[t.idx()]
            .partitions
            .iter()
            .map(|&p| (p, self.controller.parts[p.idx()].leader))
            .collect()
    }

    /// Run `f` on producer `p` with its context. The producer's FindCoordinator is answered
    /// here, from the controller's view of the brokers (see [`producer::Client::coordinator`]).
    fn with_producer<R>(
        &mut self,
        p: ProducerId,
        f: impl FnOnce(&mut Producer, &mut Cx) -> R,
    ) -> R {
        let coordinator = self.producers[p.idx()]
            .transactional
            .and_then(|t| self.txn_host(t.txn));
        let prod = &mut self.producers[p.idx()];
        prod.client.coordinator = coordinator;
        let node = prod.node;
        f(prod, &mut Cx::new(&mut self.k, node))
    }

    // ----- shims for the consumer until it is a process -------------------------------------

    /// A processor's or dead-letter producer's timer, set on the consumer's node.
    pub(crate) fn producer_timer(&mut self, p: ProducerId, timer: Timer) {
        if let Timer::Producer(t) = timer {
            self.with_producer(p, |prod, cx| prod.on_timer(t, cx));
        }
    }

    /// A response for the processor's producer, which shares the consumer's node.
    pub(crate) fn producer_receive(&mut self, p: ProducerId, msg: Msg) {
        // The consumer does not say who sent it; the producer does not look.
        let from = self.producers[p.idx()].node;
        self.with_producer(p, |prod, cx| prod.on_message(from, msg, cx));
    }

    /// The consumer process started: so does the producer in it.
    pub(crate) fn start_embedded_producer(&mut self, p: ProducerId) {
        let bootstrap = self.bootstrap_metadata(self.producers[p.idx()].topic);
        self.with_producer(p, |prod, cx| prod.start_embedded(&bootstrap, cx));
    }

    /// The consumer hands its producer a record (an output, or a dead letter).
    pub(crate) fn forward_record(&mut self, p: ProducerId, msg: MsgId) {
        // The input record carries its key (the consumer read it from the log).
        let key = self.k.msgs[msg.idx()].key;
        self.with_producer(p, |prod, cx| prod.send_output(msg, key, cx));
    }

    /// The consumer process died, and its producer with it.
    pub(crate) fn producer_crashed(&mut self, p: ProducerId) {
        self.producers[p.idx()].crash();
    }

    pub(crate) fn restart_node(&mut self, n: NodeId) {
        if self.k.nodes[n.idx()].up {
            return;
        }
        self.k.nodes[n.idx()].up = true;
        self.emit(Trace::NodeRestarted { node: n });
        // The parts of the process with their own node come up first: the application
        // creates its producers before its consumer subscribes.
        for h in 0..self.k.nodes.len() {
            if self.k.nodes[h].host == Some(n) {
                self.restart_node(NodeId(h as u32));
            }
        }
        match self.k.nodes[n.idx()].kind {
            NodeKind::Broker(b) => {
                self.brokers[b.idx()].on_start(&mut Cx::new(&mut self.k, n));
                self.start_coordinators_on(b);
            }
            NodeKind::Controller => self.controller.on_start(&mut Cx::new(&mut self.k, n)),
            NodeKind::Producer(p) => {
                let bootstrap = self.bootstrap_metadata(self.producers[p.idx()].topic);
                self.with_producer(p, |prod, cx| prod.on_start(&bootstrap, cx));
            }
            NodeKind::Consumer(c) => self.start_consumer(c),
        }
    }
}

impl Sim {
    /// Start (or restart) a consumer's process with what a first Metadata request would
    /// return: the leaders of its topic's partitions and the unfenced brokers.
    pub(crate) fn start_consumer(&mut self, c: ConsumerId) {
        let cons = &self.consumers[c.idx()];
        let metadata = BootstrapMetadata {
            leaders: cons
                .partitions()
                .iter()
                .map(|p| self.controller.parts[p.idx()].leader)
                .collect(),
            unfenced: self.unfenced_brokers(),
        };
        let node = cons.node;
        let cx = &mut Cx::new(&mut self.k, node);
        match self.consumers[c.idx()].share.as_mut() {
            Some(s) => s.on_start(metadata, cx),
            None => self.consumers[c.idx()].on_start(metadata, cx),
        }
    }

    // ----- shims for the producer until it is a process -----------------------------------

    /// Run a consumer's handler (for the producer code that calls into its consumer).
    fn with_consumer(&mut self, c: ConsumerId, f: impl FnOnce(&mut Consumer, &mut Cx)) {
        let node = self.consumers[c.idx()].node;
        f(
            &mut self.consumers[c.idx()],
            &mut Cx::new(&mut self.k, node),
        );
    }

    /// The processor's producer got its producer id.
    pub(crate) fn consumer_producer_ready(&mut self, c: ConsumerId) {
        self.with_consumer(c, |cons, cx| cons.on_producer_ready(cx));
    }

    /// One of a processor's outputs was acknowledged or lost: if none is left, a consumer
    /// waiting in `flush()` goes on.
    pub(crate) fn processor_flushed(&mut self, c: ConsumerId) {
        let Some(p) = self.consumers[c.idx()].producer else {
            return;
        };
        let prod = &self.producers[p.idx()];
        if !prod.is_transactional() && prod.is_idle() {
            self.with_consumer(c, |cons, cx| cons.on_outputs_flushed(cx));
        }
    }

    /// The processor's transaction committed or aborted.
    pub(crate) fn consumer_txn_done(&mut self, c: ConsumerId, committed: bool) {
        self.with_consumer(c, |cons, cx| cons.on_txn_done(committed, cx));
    }

    /// The processor's producer was fenced.
    pub(crate) fn consumer_fenced(&mut self, c: ConsumerId) {
        self.with_consumer(c, |cons, cx| cons.on_producer_fenced(cx));
    }

    /// The groups' topic `t` grew by `count` partitions from `first`: each group's coordinator
    /// adds them and rebalances, and its consumers learn of them (in Kafka, at their next
    /// metadata refresh).
    pub(crate) fn groups_topic_grew(&mut self, t: TopicId, first: PartitionId, count: u32) {
        let added: Vec<(PartitionId, Option<BrokerId>)> = (0..count)
            .map(|k| PartitionId(first.0 + k))
            .map(|p| (p, self.controller.parts[p.idx()].leader))
            .collect();
        for g in 0..self.groups.len() {
            if self.groups[g].topic != t {
                continue;
            }
            for i in 0..self.groups[g].consumers.len() {
                let c = self.groups[g].consumers[i];
                self.consumers[c.idx()].partitions_added(&added);
            }
            self.group_partitions_added(GroupId(g as u32), first, count);
            let added: Vec<PartitionId> = added.iter().map(|&(p, _)| p).collect();
            for sg in self.share_groups.iter_mut().filter(|s| s.group.idx() == g) {
                sg.partitions_added(&added);
            }
        }
    }

    /// `add-consumer`: a new application instance starts now.
    pub(crate) fn add_consumer(&mut self, g: GroupId) {
        let c = setup::create_consumer(self, g);
        self.start_consumer(c);
    }

    /// Set up the cluster as if it had booted: the first replica leads every partition with
    /// the full replica list in the ISR, and followers start fetching.
    pub(crate) fn boot_cluster(&mut self) {
        self.controller.boot();
        // Every broker starts with the metadata log as the cluster boots with it.
        let cache = coordinator::MetadataCache::of(&self.controller);
        for b in &mut self.brokers {
            b.metadata = cache.clone();
        }
        for p in 0..self.partitions.len() {
            let pid = PartitionId(p as u32);
            let st = self.controller.parts[p];
            let leader = st.leader.expect("every partition boots with a leader");
            // In replica-list order: the leader (the first) leads before its followers fetch.
            for i in 0..self.partitions[p].assignment.len() {
                let b = self.partitions[p].assignment[i];
                let node = self.node_of_broker(b);
                self.brokers[b.idx()].boot_replica(
                    pid,
                    leader,
                    st.isr,
                    &mut Cx::new(&mut self.k, node),
                );
            }
        }
        for b in 0..self.brokers.len() {
            let node = self.node_of_broker(BrokerId(b as u32));
            self.brokers[b].boot(&mut Cx::new(&mut self.k, node));
        }
        let node = self.k.controller_node;
        self.controller.on_start(&mut Cx::new(&mut self.k, node));
    }

    /// `add-partitions`: the controller creates the new partitions (replicas spread like the
    /// first ones), their brokers host the new replicas, producers see the new partition count
    /// at once (in Kafka, at their next metadata refresh) and so remap keys, and every group
    /// on the topic rebalances to take the new partitions.
    fn add_partitions(&mut self, t: TopicId, total: u32) {
        let node = self.k.controller_node;
        let Some((first, count)) =
            self.controller
                .create_partitions(t, total, &mut Cx::new(&mut self.k, node))
        else {
            return;
        };
        for p in first.idx()..first.idx() + count as usize {
            let replicas = self.controller.assignments[p].replicas.clone();
            setup::provision_partition(self, t, replicas);
        }
        self.topic_grew(t, first, count);
    }
}

impl anchor::AnchorWorld for Kernel {
    fn msg_info(&self, m: MsgId) -> MsgInfo {
        self.msgs[m.idx()]
    }

    fn node_kind(&self, n: NodeId) -> NodeKind {
        self.nodes[n.idx()].kind
    }

    fn txn_name(&self, txn: u32) -> &str {
        &self.txn_names[txn as usize]
    }
}

impl anchor::AnchorWorld for Sim {
    fn msg_info(&self, m: MsgId) -> MsgInfo {
        self.k.msg_info(m)
    }

    fn node_kind(&self, n: NodeId) -> NodeKind {
        self.k.node_kind(n)
    }

    fn txn_name(&self, txn: u32) -> &str {
        self.k.txn_name(txn)
    }
}

impl Kernel {
    pub(crate) fn new(settings: Settings) -> Kernel {
        Kernel {
            rng: ChaCha8Rng::seed_from_u64(settings.seed),
            settings,
            now: SimTime::ZERO,
            phase: Phase::Running,
            queue: EventQueue::default(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            seq: 0,
            next_net_id: 0,
            events: 0,
            trace: Vec::new(),
            trace_seq: 0,
            trace_mode: TraceMode::Full,
            digest: digest::Digest::default(),
            cause: None,
            fault_events: Vec::new(),
            nodes: Vec::new(),
            net: Network::default(),
            topics: Vec::new(),
            group_names: Vec::new(),
            txn_names: Vec::new(),
            controller_node: NodeId(0),
            msgs: chunked::ChunkedVec::new(),
            keys: Default::default(),
            faults: Vec::new(),
            notes: Vec::new(),
            waiting_notes: Vec::new(),
            payloads: BufPool::default(),
            record_bufs: BufPool::default(),
            pending_resets: Vec::new(),
            locals: std::collections::VecDeque::new(),
            dedup_sinks: Vec::new(),
            share_configs: Vec::new(),
            share_store: Default::default(),
            queue_policies: Vec::new(),
        }
    }

    /// Take every queued event in `(time, seq)` order (tests put back what they do not read).
    #[cfg(test)]
    pub(crate) fn drain_queue(&mut self) -> Vec<(SimTime, Event)> {
        let mut out = Vec::new();
        while let Some(key) = self.queue.pop() {
            let event = self.slots[key.slot as usize]
                .take()
                .expect("queued slot holds an event");
            self.free_slots.push(key.slot);
            out.push((key.time, event));
        }
        out
    }

    pub(crate) fn schedule(&mut self, time: SimTime, event: Event) {
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(event);
                s
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(QueueKey { time, seq, slot });
    }

    pub(crate) fn set_timer(&mut self, node: NodeId, delay_us: u64, timer: Timer) {
        let incarnation = self.nodes[node.idx()].incarnation;
        self.schedule(
            self.now.plus_us(delay_us),
            Event::Timer {
                node,
                incarnation,
                timer,
                cause: self.cause,
            },
        );
    }

    pub(crate) fn set_timer_ms(&mut self, node: NodeId, delay_ms: u64, timer: Timer) {
        self.set_timer(node, delay_ms * 1000, timer);
    }

    /// Record a trace event caused by whatever triggered the running handler.
    #[inline]
    pub(crate) fn emit(&mut self, kind: Trace) -> EventId {
        let id = EventId(self.trace_seq);
        self.trace_seq += 1;
        let ev = TraceEvent {
            id,
            time: self.now,
            cause: self.cause,
            kind,
        };
        if self.trace_mode != TraceMode::Full {
            if self.trace_mode == TraceMode::Digest {
                self.digest.add(&ev);
            }
            // Inlined into `send`, this test is known true there: a headless `Sent` is never
            // built into the buffer.
            if matches!(ev.kind, Trace::Sent { .. }) {
                return id;
            }
        }
        let anchorable = !matches!(ev.kind, Trace::Sent { .. } | Trace::Narration { .. });
        self.trace.push(ev);
        if anchorable && !self.waiting_notes.is_empty() {
            self.show_anchored_notes();
        }
        id
    }

    /// Emit, right after the event just pushed, every waiting note anchored to it (in file
    /// order), caused by it: the note appears in the same step as the state it describes.
    fn show_anchored_notes(&mut self) {
        let at = self.trace.len() - 1;
        let mut i = 0;
        while i < self.waiting_notes.len() {
            let index = self.waiting_notes[i];
            let ev = &self.trace[at];
            let hit = self.notes[index as usize]
                .anchor
                .as_ref()
                .is_some_and(|a| a.matches(ev.time, &ev.kind, &*self));
            if hit {
                self.waiting_notes.remove(i);
                let saved = self.cause.replace(self.trace[at].id);
                self.emit(Trace::Narration { index });
                self.cause = saved;
            } else {
                i += 1;
            }
        }
    }

    /// Send a message over the network: seeded latency, FIFO per link, cuts and drops.
    /// Returns the message's `Sent` event: the cause of what its delivery (or its loss) does.
    pub(crate) fn send(&mut self, from: NodeId, to: NodeId, msg: Msg) -> EventId {
        if msg.is_request() {
            self.net.connect(from, to);
        }
        let id = self.next_net_id;
        self.next_net_id += 1;
        let wire = self.wire_summary(&msg);
        let is_ack = matches!(msg, Msg::ProduceResponse { .. });
        match self.net.route(from, to, self.now, &mut self.rng, is_ack) {
            Ok(arrive_at) => {
                let sent = self.emit(Trace::Sent {
                    id,
                    from,
                    to,
                    wire,
                    arrive_at,
                });
                self.schedule(
                    arrive_at,
                    Event::Deliver {
                        id,
                        from,
                        to,
                        msg,
                        sent,
                    },
                );
                sent
            }
            Err(reason) => {
                let sent = self.emit(Trace::Sent {
                    id,
                    from,
                    to,
                    wire,
                    arrive_at: self.now,
                });
                let cause = self.cause.replace(sent);
                self.emit(Trace::Dropped {
                    id,
                    from,
                    to,
                    wire,
                    reason,
                });
                self.cause = cause;
                self.release_msg(msg);
                sent
            }
        }
    }

    /// Return pooled buffers held by a message that will never be handled.
    fn release_msg(&mut self, msg: Msg) {
        if let Some(p) = msg.payload() {
            self.free_payload(p);
        }
        if let Msg::Produce { records, .. } = msg {
            self.free_record_buf(records);
        }
    }

    pub(crate) fn alloc_record_buf(&mut self) -> u32 {
        self.record_bufs.alloc()
    }

    pub(crate) fn free_record_buf(&mut self, p: u32) {
        self.record_bufs.free(p);
    }

    pub(crate) fn alloc_payload(&mut self) -> u32 {
        self.payloads.alloc()
    }

    pub(crate) fn free_payload(&mut self, p: u32) {
        self.payloads.free(p);
    }
}

// ----- faults as the scenario names them ------------------------------------------------

impl Sim {
    /// A target's name as a scenario file writes it: a node name or `leader:TOPIC/P`.
    pub fn target_name(&self, t: Target) -> String {
        match t {
            Target::Node(n) => self.node_name(n).to_string(),
            Target::Consumer(c) => self.consumers[c.idx()].name.clone(),
            Target::LeaderOf(p) => format!("leader:{}", self.partition_name(p)),
        }
    }

    /// The node a target names right now, if any.
    pub(crate) fn resolve(&self, t: Target) -> Option<NodeId> {
        match t {
            Target::Node(n) => Some(n),
            Target::Consumer(c) => Some(self.consumers[c.idx()].node),
            Target::LeaderOf(p) => self.controller.parts[p.idx()]
                .leader
                .map(|b| self.node_of_broker(b)),
        }
    }

    /// One line describing fault `index`, e.g. `crash target=broker-1 duration_ms=500`.
    pub fn fault_label(&self, index: u32) -> String {
        use std::fmt::Write as _;
        let f = &self.k.faults[index as usize];
        let mut s = f.kind.name().to_string();
        let mut field = |k: &str, v: &dyn std::fmt::Display| {
            let _ = write!(s, " {k}={v}");
        };
        match &f.kind {
            FaultKind::Crash(t) | FaultKind::Restart(t) | FaultKind::Stop(t) => {
                field("target", &self.target_name(*t))
            }
            FaultKind::Pause {
                target,
                duration_ms,
            } => {
                field("target", &self.target_name(*target));
                field("duration_ms", duration_ms);
            }
            FaultKind::Isolate {
                target,
                duration_ms,
            } => {
                field("target", &self.target_name(*target));
                if let Some(d) = duration_ms {
                    field("duration_ms", d);
                }
            }
            FaultKind::Partition { duration_ms, .. } => {
                if let Some(d) = duration_ms {
                    field("duration_ms", d);
                }
            }
            FaultKind::Heal | FaultKind::AddPartitions { .. } => {}
            FaultKind::Drop { from, to, count } => {
                let link = format!("{}->{}", self.target_name(*from), self.target_name(*to));
                field("link", &link);
                field("count", count);
            }
            FaultKind::DropAcks { producer, count } => {
                field("target", &self.producers[producer.idx()].name);
                field("count", count);
            }
            FaultKind::Delay {
                from,
                to,
                duration_ms,
                ..
            } => {
                let link = format!("{}->{}", self.target_name(*from), self.target_name(*to));
                field("link", &link);
                field("duration_ms", duration_ms);
            }
            FaultKind::AddConsumer(g) => field("group", &self.groups[g.idx()].name),
            FaultKind::RemoveConsumer(c) => field("target", &self.consumers[c.idx()].name),
            FaultKind::ElectPreferred(p) => field("partition", &self.partition_name(*p)),
            FaultKind::Zombie(p) => field("target", &self.producers[p.idx()].name),
        }
        s
    }
}
