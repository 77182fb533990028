//! A handler's context: everything a process may do besides changing its own state.
//!
//! A process handler (`on_start`, `on_message`, `on_timer`) receives its own state and a
//! [`Cx`]. Through the context it sends messages, sets timers on itself, emits trace events and
//! draws random numbers; it can reach no other node's state. Every trace event it emits records
//! as its cause the delivery or timer that ran the handler.

use rand::RngExt;
use rand::distr::uniform::{SampleRange, SampleUniform};
use rand_chacha::ChaCha8Rng;

use crate::sim::replica::Entry;
use crate::sim::wire::Msg;
use crate::sim::{EventId, Kernel, MsgId, NodeId, Settings, SimTime, Timer, Trace};

pub(crate) struct Cx<'a> {
    k: &'a mut Kernel,
    me: NodeId,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(k: &'a mut Kernel, me: NodeId) -> Cx<'a> {
        Cx { k, me }
    }

    pub(crate) fn now(&self) -> SimTime {
        self.k.now
    }

    /// Cluster-wide settings: what every process reads from its configuration file.
    pub(crate) fn settings(&self) -> &Settings {
        &self.k.settings
    }

    /// The controller's address, as every node's configuration names it.
    pub(crate) fn controller_node(&self) -> NodeId {
        self.k.controller_node
    }

    /// Send `msg` from this node over the simulated network.
    pub(crate) fn send(&mut self, to: NodeId, msg: Msg) {
        self.k.send(self.me, to, msg);
    }

    /// Send, and get the message's `Sent` event: for a request whose later expiry must name
    /// it as its cause.
    pub(crate) fn send_request(&mut self, to: NodeId, msg: Msg) -> EventId {
        self.k.send(self.me, to, msg)
    }

    /// Fire `timer` on this node after `delay_us`. Timers of a crashed incarnation never fire.
    pub(crate) fn set_timer(&mut self, delay_us: u64, timer: Timer) {
        self.k.set_timer(self.me, delay_us, timer);
    }

    pub(crate) fn set_timer_ms(&mut self, delay_ms: u64, timer: Timer) {
        self.k.set_timer_ms(self.me, delay_ms, timer);
    }

    /// Record a trace event, caused by whatever ran this handler.
    pub(crate) fn emit(&mut self, kind: Trace) -> EventId {
        self.k.emit(kind)
    }

    /// What the running code's events are caused by (the handler's cause, or `caused_by`'s).
    pub(crate) fn cause(&self) -> Option<EventId> {
        self.k.cause
    }

    /// Run `f` with `cause` (if any) as the cause of what it emits, then restore the cause.
    pub(crate) fn caused_by_opt<R>(
        &mut self,
        cause: Option<EventId>,
        f: impl FnOnce(&mut Cx) -> R,
    ) -> R {
        let saved = std::mem::replace(&mut self.k.cause, cause);
        let r = f(self);
        self.k.cause = saved;
        r
    }

    /// Run `f` with `cause` as the cause of what it emits, then restore the handler's cause.
    pub(crate) fn caused_by<R>(&mut self, cause: EventId, f: impl FnOnce(&mut Cx) -> R) -> R {
        self.caused_by_opt(Some(cause), f)
    }

    /// The world's one seeded random source.
    pub(crate) fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.k.rng
    }

    pub(crate) fn random_range<T: SampleUniform, R: SampleRange<T>>(&mut self, range: R) -> T {
        self.k.rng.random_range(range)
    }

    // ----- pooled record buffers: messages carry an index into these ----------------------

    pub(crate) fn alloc_payload(&mut self) -> u32 {
        self.k.alloc_payload()
    }

    pub(crate) fn payload(&self, p: u32) -> &Vec<Entry> {
        &self.k.payloads[p as usize]
    }

    pub(crate) fn payload_mut(&mut self, p: u32) -> &mut Vec<Entry> {
        &mut self.k.payloads[p as usize]
    }

    pub(crate) fn free_payload(&mut self, p: u32) {
        self.k.free_payload(p);
    }

    pub(crate) fn alloc_record_buf(&mut self) -> u32 {
        self.k.alloc_record_buf()
    }

    pub(crate) fn record_buf(&self, p: u32) -> &Vec<MsgId> {
        &self.k.record_bufs[p as usize]
    }

    pub(crate) fn record_buf_mut(&mut self, p: u32) -> &mut Vec<MsgId> {
        &mut self.k.record_bufs[p as usize]
    }

    pub(crate) fn free_record_buf(&mut self, p: u32) {
        self.k.free_record_buf(p);
    }

    /// Call another part of this same process (see [`crate::sim::Local`]); it runs as soon as
    /// this handler returns.
    pub(crate) fn local(&mut self, call: crate::sim::Local) {
        self.k.locals.push_back(call);
    }

    // ----- the application's ledger: who sent which message (observed, not shared) --------

    /// Register an application `send()` and get its id.
    pub(crate) fn register_msg(&mut self, info: crate::sim::MsgInfo) -> MsgId {
        let id = MsgId(self.k.msgs.len() as u32);
        self.k.msgs.push(info);
        id
    }

    // ----- what a process knows of its own node and the run ---------------------------------

    /// How many times this node's process has crashed: 0 for the first process, more for a
    /// restarted one.
    pub(crate) fn incarnation(&self) -> u32 {
        self.k.nodes[self.me.idx()].incarnation
    }

    /// The run is still running (not draining): the applications still send.
    pub(crate) fn running(&self) -> bool {
        self.k.phase == crate::sim::Phase::Running
    }

    /// A broker's address, as `bootstrap.servers` and metadata name it.
    pub(crate) fn broker_node(&self, b: crate::sim::BrokerId) -> NodeId {
        NodeId(b.0)
    }

    /// A TCP connect to `node`: refused unless its process is up. Simplification: the outcome is
    /// known at once, without a handshake, and network cuts do not delay it.
    pub(crate) fn can_connect(&self, node: NodeId) -> bool {
        self.k.nodes[node.idx()].up
    }

    /// The text of an interned record key (what the partitioner hashes).
    pub(crate) fn key_name(&self, key: u32) -> &str {
        &self.k.keys[key as usize]
    }

    /// A group's `group.id` (static configuration, like a topic's name).
    pub(crate) fn group_name(&self, g: crate::sim::GroupId) -> &str {
        &self.k.group_names[g.idx()]
    }

    /// A transaction's `transactional.id`, by coordinator index (static configuration).
    pub(crate) fn txn_name(&self, txn: u32) -> &str {
        &self.k.txn_names[txn as usize]
    }

    /// What the application sent as message `m` (its key, its number): what a consumer reads
    /// in the record itself.
    pub(crate) fn msg_info(&self, m: MsgId) -> &crate::sim::MsgInfo {
        &self.k.msgs[m.idx()]
    }

    /// A group's deduplicating sink (outside Kafka, shared by the group's application
    /// instances) applies `msg`'s effect; true if it had already been applied.
    pub(crate) fn sink_apply(&mut self, group: crate::sim::GroupId, msg: MsgId) -> bool {
        let sinks = &mut self.k.dedup_sinks;
        if sinks.len() <= group.idx() {
            sinks.resize(group.idx() + 1, Default::default());
        }
        let applied = &mut sinks[group.idx()];
        if applied.len() <= msg.idx() {
            applied.resize(msg.idx() + 1, false);
        }
        std::mem::replace(&mut applied[msg.idx()], true)
    }

    /// A group's share-group settings (KIP-932's group configuration), `None` for a consumer
    /// group.
    pub(crate) fn share_config(
        &self,
        g: crate::sim::GroupId,
    ) -> Option<(
        crate::sim::config::ShareConfig,
        crate::sim::config::OffsetReset,
    )> {
        self.k.share_configs.get(g.idx()).copied().flatten()
    }

    /// A RabbitMQ, SQS or Redis group's delivery policy; `None` for a Kafka group.
    pub(crate) fn queue_policy(
        &self,
        g: crate::sim::GroupId,
    ) -> Option<crate::sim::queue_policy::QueuePolicy> {
        self.k.queue_policies.get(g.idx()).copied().flatten()
    }

    /// `ReadShareGroupState`: what the share coordinator holds for a share partition.
    pub(crate) fn share_state(
        &self,
        g: crate::sim::GroupId,
        p: crate::sim::PartitionId,
    ) -> Option<&crate::sim::share_partition::Persisted> {
        self.k.share_store.get(g, p)
    }

    /// `WriteShareGroupState`: replace what the share coordinator holds for a share partition.
    pub(crate) fn write_share_state(
        &mut self,
        g: crate::sim::GroupId,
        p: crate::sim::PartitionId,
        f: impl FnOnce(&mut crate::sim::share_partition::Persisted),
    ) {
        self.k.share_store.write(g, p, f);
    }

    /// The process exits: it handles nothing more (its timers die) until it is restarted.
    pub(crate) fn exit(&mut self) {
        let node = &mut self.k.nodes[self.me.idx()];
        node.up = false;
        node.incarnation += 1;
    }
}

/// Building blocks for unit tests of one process: a kernel with a few named nodes, and a way to
/// read back what a handler sent, which timers it set and what it traced.
#[cfg(test)]
pub(crate) mod testkit {
    use super::*;
    use crate::sim::{Event, NodeKind, NodeState};

    pub(crate) fn settings() -> Settings {
        Settings {
            seed: 7,
            stop_at: SimTime::from_ms(60_000),
            drain_limit: SimTime::from_ms(120_000),
            replica_lag_time_max_ms: 30_000,
            broker_session_timeout_ms: 9_000,
            broker_heartbeat_interval_ms: 2_000,
            replica_fetch_wait_max_ms: 500,
            replica_socket_timeout_ms: 30_000,
            group_initial_rebalance_delay_ms: 3_000,
            transaction_max_timeout_ms: 900_000,
            eligible_leader_replicas: false,
            replica_recovery: crate::sim::ReplicaRecovery::LeaderEpoch,
            transaction_version: 1,
            transaction_partition_verification: false,
            system: crate::sim::config::System::Kafka,
        }
    }

    /// A kernel with `kinds` as its nodes (node `i` is `kinds[i]`).
    pub(crate) fn kernel(kinds: &[NodeKind]) -> Kernel {
        let mut k = Kernel::new(settings());
        for (i, kind) in kinds.iter().enumerate() {
            if *kind == NodeKind::Controller {
                k.controller_node = NodeId(i as u32);
            }
            k.nodes.push(NodeState {
                name: format!("node-{i}"),
                kind: *kind,
                up: true,
                incarnation: 0,
                paused_until: None,
                host: None,
            });
        }
        k.net.ensure_nodes(kinds.len());
        k
    }

    /// Messages sent so far and still in flight, oldest first: `(from, to, msg)`.
    pub(crate) fn take_sent(k: &mut Kernel) -> Vec<(NodeId, NodeId, Msg)> {
        let mut out = Vec::new();
        let mut rest = Vec::new();
        for (time, event) in k.drain_queue() {
            match event {
                Event::Deliver { from, to, msg, .. } => out.push((from, to, msg)),
                other => rest.push((time, other)),
            }
        }
        for (time, event) in rest {
            k.schedule(time, event);
        }
        out
    }

    /// Timers set so far and not yet fired: `(when, node, timer)`, in firing order.
    pub(crate) fn timers(k: &mut Kernel) -> Vec<(SimTime, NodeId, Timer)> {
        let all = k.drain_queue();
        let mut out = Vec::new();
        for (time, event) in &all {
            if let Event::Timer { node, timer, .. } = event {
                out.push((*time, *node, *timer));
            }
        }
        for (time, event) in all {
            k.schedule(time, event);
        }
        out
    }

    /// Trace events emitted so far, taken.
    pub(crate) fn take_trace(k: &mut Kernel) -> Vec<Trace> {
        k.trace.drain(..).map(|e| e.kind).collect()
    }

    /// Move the clock (as the event loop would before running a handler).
    pub(crate) fn advance_to(k: &mut Kernel, t: SimTime) {
        k.now = t;
    }

    /// Take the next timer due at or before `until` out of the queue, moving the clock to it
    /// (the caller runs its handler): `(node, timer)`.
    pub(crate) fn pop_timer(k: &mut Kernel, until: SimTime) -> Option<(NodeId, Timer)> {
        let mut found = None;
        let mut rest = Vec::new();
        for (time, event) in k.drain_queue() {
            match event {
                Event::Timer { node, timer, .. } if found.is_none() && time <= until => {
                    found = Some((time, node, timer));
                }
                other => rest.push((time, other)),
            }
        }
        for (time, event) in rest {
            k.schedule(time, event);
        }
        let (time, node, timer) = found?;
        k.now = time;
        Some((node, timer))
    }
}
