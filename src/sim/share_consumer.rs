//! A share consumer (KIP-932, Kafka's `KafkaShareConsumer` with `ShareConsumerImpl` and
//! `ShareConsumeRequestManager`) and the application's poll → process → acknowledge loop
//! around it.
//!
//! It joins its share group with `ShareGroupHeartbeat` (member epoch 0), heartbeats at the
//! interval the coordinator gives (`group.share.heartbeat.interval.ms`), and sends a
//! `ShareFetch` to the leader of every partition it is assigned. A fetch carries the
//! acknowledgements of the records the application finished from that partition, so records
//! are acknowledged with the next fetch, as the client does (implicit acknowledgement: a
//! record polled and processed is accepted). A record whose processing fails (a poison
//! message, `fail_keys` / `fail_every`) is released (`AcknowledgeType.RELEASE`, the explicit
//! acknowledgement an application makes for "try again"), so it is delivered again until the
//! leader archives it at `share.delivery.count.limit`.
//!
//! A crash loses every record the client holds: their locks run out after
//! `share.record.lock.duration.ms` and the leader delivers them again. `close()` releases what
//! it holds (a ShareAcknowledge) and leaves the group (member epoch -1).
//!
//! Simplifications: the client finds its group coordinator by trying the brokers in the order
//! of the group id's hash, from the first unfenced one (standing in for FindCoordinator); it
//! asks the controller for a partition's leader after a fetch fails; a fetch that acquires
//! nothing is repeated after `fetch.max.wait.ms` (the leader answers at once; Kafka's holds
//! the fetch for up to that long); acknowledgements a failed fetch carried are dropped (their
//! records come back when their locks run out).

use crate::sim::Timer;
use crate::sim::config::{GroupConfig, ShareConfig};
use crate::sim::consumer::{BootstrapMetadata, ConsumerState};
use crate::sim::cx::Cx;
use crate::sim::ids::*;
use crate::sim::partitioner::partition_for_key;
use crate::sim::queue_policy::OnFailure;
use crate::sim::share_partition::AckType;
use crate::sim::trace::Trace;
use crate::sim::wire::{AcquiredRecord, Msg, ShareMsg};

/// `retry.backoff.ms`.
const RETRY_BACKOFF_MS: u64 = 100;

/// A share consumer's timers (wrapped in [`Timer::ShareConsumer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShareConsumerTimer {
    /// Heartbeat now (the interval passed, or a backoff after an error).
    Heartbeat { token: u32 },
    /// The record being processed is done.
    Process { token: u32 },
    /// Fetch from this partition again (after an empty fetch or an error).
    Fetch { partition: PartitionId, token: u32 },
    /// The fetch `token` got no answer within `request.timeout.ms`.
    FetchTimeout { partition: PartitionId, token: u32 },
    /// A RabbitMQ consumer's heartbeat frame is due (it keeps the channel alive).
    Keepalive,
}

/// What a ShareFetch is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fetching {
    Receive,
    AcksOnly,
    /// `close()`: releasing what the member holds (`true`), or only acknowledging.
    Close(bool),
}

/// One assigned partition, from the client's side.
#[derive(Clone, Debug)]
pub struct SharePart {
    pub partition: PartitionId,
    /// The token of the fetch in flight.
    fetching: Option<u32>,
    /// Acquired records not yet handed to the application.
    buffered: Vec<AcquiredRecord>,
    /// Acknowledgements for the next fetch.
    acks: Vec<(u64, AckType)>,
    /// A retry or an empty fetch's wait is pending.
    waiting: bool,
}

impl SharePart {
    fn new(partition: PartitionId) -> SharePart {
        SharePart {
            partition,
            fetching: None,
            buffered: Vec::new(),
            acks: Vec::new(),
            waiting: false,
        }
    }

    /// Acquired records not yet handed to the application.
    pub fn buffered(&self) -> usize {
        self.buffered.len()
    }
}

/// The volatile part: a crash replaces it whole.
#[derive(Clone, Debug)]
struct ShareMem {
    state: ConsumerState,
    member_epoch: i32,
    /// Where heartbeats go, counting up from the group id's hash.
    coordinator_try: u32,
    heartbeat_token: u32,
    heartbeat_in_flight: bool,
    heartbeat_interval_ms: u64,
    /// Each of the topic's partitions' leader (in `partitions` order).
    leaders: Vec<Option<BrokerId>>,
    unfenced: BrokerSet,
    parts: Vec<SharePart>,
    /// The poll being processed: a partition and its records.
    batch: Vec<AcquiredRecord>,
    batch_part: Option<PartitionId>,
    batch_pos: usize,
    process_token: u32,
    /// Round-robin start for the next poll.
    next_part: usize,
}

impl ShareMem {
    fn new(state: ConsumerState) -> ShareMem {
        ShareMem {
            state,
            member_epoch: 0,
            coordinator_try: 0,
            heartbeat_token: 0,
            heartbeat_in_flight: false,
            heartbeat_interval_ms: 0,
            leaders: Vec::new(),
            unfenced: BrokerSet::default(),
            parts: Vec::new(),
            batch: Vec::new(),
            batch_part: None,
            batch_pos: 0,
            process_token: 0,
            next_part: 0,
        }
    }
}

/// The share consumer's process state (embedded in its [`crate::sim::consumer::Consumer`],
/// whose id, name and node it uses).
#[derive(Clone, Debug)]
pub struct ShareClient {
    id: ConsumerId,
    group: GroupId,
    group_name: String,
    spec: GroupConfig,
    share: ShareConfig,
    /// The topic's partitions.
    partitions: Vec<PartitionId>,
    brokers: u32,
    next_token: u32,
    mem: ShareMem,
}

impl ShareClient {
    pub(crate) fn new(
        id: ConsumerId,
        group: GroupId,
        spec: &GroupConfig,
        share: ShareConfig,
        partitions: Vec<PartitionId>,
        brokers: u32,
    ) -> ShareClient {
        ShareClient {
            id,
            group,
            group_name: spec.name.clone(),
            spec: spec.clone(),
            share,
            partitions,
            brokers,
            next_token: 0,
            mem: ShareMem::new(ConsumerState::Idle),
        }
    }

    pub fn state(&self) -> ConsumerState {
        self.mem.state
    }

    /// The partitions it is assigned, with what it holds of each.
    pub fn parts(&self) -> &[SharePart] {
        &self.mem.parts
    }

    /// The messages the application holds and has not acknowledged, oldest first: the rest of
    /// the poll being processed, then the records fetched but not yet handed to it. Observers
    /// only (the TUI shows what a Redis BRPOP consumer holds, which nothing else remembers).
    pub fn held(&self) -> impl Iterator<Item = (MsgId, u32)> + '_ {
        let batch = self.mem.batch.get(self.mem.batch_pos..).unwrap_or_default();
        batch
            .iter()
            .chain(self.mem.parts.iter().flat_map(|p| p.buffered.iter()))
            .map(|r| (r.msg, r.delivery_count))
    }

    /// Processing a poll, or holding records not yet processed.
    pub(crate) fn busy(&self) -> bool {
        self.mem.batch_part.is_some()
            || self
                .mem
                .parts
                .iter()
                .any(|p| !p.buffered.is_empty() || p.fetching.is_some() && !p.acks.is_empty())
    }

    fn token(&mut self) -> u32 {
        self.next_token += 1;
        self.next_token
    }

    pub(crate) fn crash(&mut self) {
        self.mem = ShareMem::new(ConsumerState::Crashed);
    }

    pub(crate) fn partitions_added(&mut self, added: &[(PartitionId, Option<BrokerId>)]) {
        for &(p, leader) in added {
            self.partitions.push(p);
            self.mem.leaders.push(leader);
        }
    }

    pub(crate) fn on_start(&mut self, metadata: BootstrapMetadata, cx: &mut Cx) {
        self.mem = ShareMem::new(ConsumerState::Joining);
        self.mem.leaders = metadata.leaders;
        self.mem.unfenced = metadata.unfenced;
        self.mem.heartbeat_interval_ms = self.share.heartbeat_interval_ms;
        if let Some(policy) = cx.queue_policy(self.group) {
            // A queue consumer joins nothing: it reads the queue's partition from its leader,
            // competing with every other consumer of it.
            self.mem.state = ConsumerState::Active;
            self.mem.parts = self.partitions.iter().map(|&p| SharePart::new(p)).collect();
            if let Some(ms) = policy.keepalive_ms() {
                cx.set_timer_ms(ms, Timer::ShareConsumer(ShareConsumerTimer::Keepalive));
            }
            self.fetch_all(cx);
            return;
        }
        self.heartbeat(cx);
    }

    /// `close()`: release what it holds, leave the group, exit.
    pub(crate) fn close(&mut self, cx: &mut Cx) {
        if matches!(
            self.mem.state,
            ConsumerState::Crashed | ConsumerState::Left | ConsumerState::Idle
        ) {
            return;
        }
        let policy = cx.queue_policy(self.group);
        // Closing a RabbitMQ channel requeues what it holds, as a share consumer's close()
        // releases it; an SQS or Redis consumer that stops leaves its messages invisible (or
        // pending) until their timeout.
        let releases = policy.is_none_or(|p| p.channel);
        for i in 0..self.mem.parts.len() {
            let p = self.mem.parts[i].partition;
            let acks = std::mem::take(&mut self.mem.parts[i].acks);
            if let Some(leader) = self.leader(p)
                && (releases || !acks.is_empty())
            {
                let token = self.token();
                self.send_fetch(leader, p, token, acks, Fetching::Close(releases), cx);
            }
        }
        if policy.is_none() {
            self.mem.member_epoch = -1;
            self.send_heartbeat(cx);
        }
        self.mem.state = ConsumerState::Left;
        self.mem.parts.clear();
        cx.exit();
    }

    fn leader(&self, p: PartitionId) -> Option<BrokerId> {
        let i = self.partitions.iter().position(|&q| q == p)?;
        self.mem.leaders.get(i).copied().flatten()
    }

    fn set_leader(&mut self, p: PartitionId, leader: Option<BrokerId>) {
        if let Some(i) = self.partitions.iter().position(|&q| q == p)
            && i < self.mem.leaders.len()
        {
            self.mem.leaders[i] = leader;
        }
    }

    /// The broker heartbeats go to: the `coordinator_try`-th unfenced broker counting up from
    /// the group id's hash.
    fn coordinator(&self) -> BrokerId {
        let n = self.brokers.max(1);
        let start = partition_for_key(&self.group_name, n);
        let unfenced: Vec<BrokerId> = (0..n)
            .map(|i| BrokerId((start + i) % n))
            .filter(|&b| self.mem.unfenced.contains(b))
            .collect();
        if unfenced.is_empty() {
            return BrokerId((start + self.mem.coordinator_try) % n);
        }
        unfenced[self.mem.coordinator_try as usize % unfenced.len()]
    }

    fn heartbeat(&mut self, cx: &mut Cx) {
        if self.mem.heartbeat_in_flight {
            // The last one got no answer in a whole interval: try the next broker.
            self.mem.coordinator_try += 1;
        }
        self.send_heartbeat(cx);
        let token = self.mem.heartbeat_token;
        let wait = self.mem.heartbeat_interval_ms.max(RETRY_BACKOFF_MS);
        cx.set_timer_ms(
            wait,
            Timer::ShareConsumer(ShareConsumerTimer::Heartbeat { token }),
        );
    }

    fn send_heartbeat(&mut self, cx: &mut Cx) {
        let token = self.token();
        self.mem.heartbeat_token = token;
        self.mem.heartbeat_in_flight = true;
        let to = cx.broker_node(self.coordinator());
        cx.send(
            to,
            Msg::Share(ShareMsg::Heartbeat {
                group: self.group,
                consumer: self.id,
                member_epoch: self.mem.member_epoch,
                token,
            }),
        );
    }

    pub(crate) fn on_message(&mut self, msg: Msg, cx: &mut Cx) {
        match msg {
            Msg::Share(ShareMsg::HeartbeatResponse {
                token,
                error,
                member_epoch,
                heartbeat_interval_ms,
                assignment,
                ..
            }) => self.on_heartbeat_response(
                token,
                error,
                member_epoch,
                heartbeat_interval_ms,
                &assignment,
                cx,
            ),
            Msg::Share(ShareMsg::FetchResponse {
                partition,
                token,
                error,
                records,
                ..
            }) => self.on_fetch_response(partition, token, error, records, cx),
            Msg::MetadataResponse {
                partition,
                leader,
                unfenced,
                ..
            } => {
                self.mem.unfenced = unfenced;
                self.set_leader(partition, leader);
                self.fetch_all(cx);
            }
            Msg::ConnectionClosed { peer } => {
                let dead = BrokerId(peer.0);
                let failed: Vec<(PartitionId, u32)> = self
                    .mem
                    .parts
                    .iter()
                    .filter(|p| self.leader(p.partition) == Some(dead))
                    .filter_map(|p| p.fetching.map(|t| (p.partition, t)))
                    .collect();
                for (p, token) in failed {
                    self.on_fetch_response(p, token, ErrorCode::NetworkException, Box::new([]), cx);
                }
                if self.mem.heartbeat_in_flight && self.coordinator() == dead {
                    self.mem.heartbeat_in_flight = false;
                    self.mem.coordinator_try += 1;
                    self.retry_heartbeat(cx);
                }
            }
            _ => {}
        }
    }

    fn retry_heartbeat(&mut self, cx: &mut Cx) {
        let token = self.mem.heartbeat_token;
        cx.set_timer_ms(
            RETRY_BACKOFF_MS,
            Timer::ShareConsumer(ShareConsumerTimer::Heartbeat { token }),
        );
    }

    fn on_heartbeat_response(
        &mut self,
        token: u32,
        error: ErrorCode,
        member_epoch: i32,
        interval_ms: u64,
        assignment: &[PartitionId],
        cx: &mut Cx,
    ) {
        if token != self.mem.heartbeat_token || self.mem.state == ConsumerState::Left {
            return;
        }
        self.mem.heartbeat_in_flight = false;
        match error {
            ErrorCode::None => {}
            ErrorCode::UnknownMemberId => {
                // Removed by the coordinator: join again as a new member.
                self.mem.member_epoch = 0;
                self.mem.state = ConsumerState::Joining;
                self.retry_heartbeat(cx);
                return;
            }
            _ => {
                self.mem.coordinator_try += 1;
                self.retry_heartbeat(cx);
                return;
            }
        }
        self.mem.member_epoch = member_epoch;
        if interval_ms > 0 {
            self.mem.heartbeat_interval_ms = interval_ms;
        }
        self.mem.state = ConsumerState::Active;
        // Take the assignment at once: share partitions need no revocation.
        self.mem.parts.retain(|p| assignment.contains(&p.partition));
        for &p in assignment {
            if !self.mem.parts.iter().any(|q| q.partition == p) {
                self.mem.parts.push(SharePart::new(p));
            }
        }
        self.fetch_all(cx);
    }

    /// Send a ShareFetch for every assigned partition that has none in flight, nothing
    /// buffered and no wait pending.
    fn fetch_all(&mut self, cx: &mut Cx) {
        for i in 0..self.mem.parts.len() {
            self.fetch(i, cx);
        }
    }

    fn fetch(&mut self, i: usize, cx: &mut Cx) {
        if self.mem.state != ConsumerState::Active {
            return;
        }
        let part = &self.mem.parts[i];
        if part.fetching.is_some()
            || part.waiting
            || !part.buffered.is_empty()
            || self.mem.batch_part == Some(part.partition)
        {
            return;
        }
        let p = part.partition;
        let token = self.token();
        let Some(leader) = self.leader(p) else {
            // Ask the controller who leads it; fetch when it answers.
            cx.send(
                cx.controller_node(),
                Msg::MetadataRequest {
                    partition: p,
                    token,
                },
            );
            self.wait(i, RETRY_BACKOFF_MS, cx);
            return;
        };
        let acks = std::mem::take(&mut self.mem.parts[i].acks);
        self.mem.parts[i].fetching = Some(token);
        self.send_fetch(leader, p, token, acks, Fetching::Receive, cx);
        // A queue's leader holds a receive that finds nothing for up to the long-poll wait.
        let held = if cx.queue_policy(self.group).is_some() {
            crate::sim::queue_policy::LONG_POLL_MS
        } else {
            0
        };
        cx.set_timer_ms(
            self.spec.request_timeout_ms + held,
            Timer::ShareConsumer(ShareConsumerTimer::FetchTimeout {
                partition: p,
                token,
            }),
        );
    }

    /// A ShareFetch carrying `acks`: a receive, acknowledgements only (a queue consumer's,
    /// sent as each message is done), or the ShareAcknowledge of `close()`, which acquires
    /// nothing and (with `Close(true)`) releases what the member still holds.
    fn send_fetch(
        &self,
        leader: BrokerId,
        partition: PartitionId,
        token: u32,
        acks: Vec<(u64, AckType)>,
        what: Fetching,
        cx: &mut Cx,
    ) {
        let max_records = match (what, cx.queue_policy(self.group)) {
            (Fetching::Receive, Some(policy)) => policy.max_records,
            (Fetching::Receive, None) => self.spec.max_poll_records,
            _ => 0,
        };
        let close = what == Fetching::Close(true);
        cx.send(
            cx.broker_node(leader),
            Msg::Share(ShareMsg::Fetch {
                group: self.group,
                consumer: self.id,
                partition,
                token,
                max_records,
                acks: acks.into_boxed_slice(),
                close,
            }),
        );
    }

    fn wait(&mut self, i: usize, ms: u64, cx: &mut Cx) {
        let part = &mut self.mem.parts[i];
        part.waiting = true;
        let token = self.next_token;
        let partition = part.partition;
        cx.set_timer_ms(
            ms,
            Timer::ShareConsumer(ShareConsumerTimer::Fetch { partition, token }),
        );
    }

    fn on_fetch_response(
        &mut self,
        partition: PartitionId,
        token: u32,
        error: ErrorCode,
        records: Box<[AcquiredRecord]>,
        cx: &mut Cx,
    ) {
        let Some(i) = self
            .mem
            .parts
            .iter()
            .position(|p| p.partition == partition && p.fetching == Some(token))
        else {
            return;
        };
        self.mem.parts[i].fetching = None;
        if error != ErrorCode::None {
            // The leader moved or died: find it again, then fetch.
            self.set_leader(partition, None);
            self.wait(i, RETRY_BACKOFF_MS, cx);
            return;
        }
        if records.is_empty() {
            if cx.queue_policy(self.group).is_some() {
                // The long poll already waited at the leader: receive again.
                self.fetch(i, cx);
            } else {
                self.wait(i, self.spec.fetch_max_wait_ms, cx);
            }
            return;
        }
        self.mem.parts[i].buffered.extend_from_slice(&records);
        self.poll(cx);
    }

    /// poll(): hand the application the records of the next partition that has some.
    fn poll(&mut self, cx: &mut Cx) {
        if self.mem.batch_part.is_some() || self.mem.state != ConsumerState::Active {
            return;
        }
        let n = self.mem.parts.len();
        for k in 0..n {
            let i = (self.mem.next_part + k) % n;
            if self.mem.parts[i].buffered.is_empty() {
                continue;
            }
            self.mem.next_part = (i + 1) % n;
            let part = &mut self.mem.parts[i];
            self.mem.batch = std::mem::take(&mut part.buffered);
            self.mem.batch_part = Some(part.partition);
            self.mem.batch_pos = 0;
            self.schedule_process(cx);
            return;
        }
    }

    fn schedule_process(&mut self, cx: &mut Cx) {
        self.mem.process_token += 1;
        let token = self.mem.process_token;
        cx.set_timer_ms(
            self.spec.processing_ms,
            Timer::ShareConsumer(ShareConsumerTimer::Process { token }),
        );
    }

    fn is_poison(&self, msg: MsgId, cx: &Cx) -> bool {
        let info = cx.msg_info(msg);
        let by_key = info
            .key
            .is_some_and(|k| self.spec.fail_keys.iter().any(|f| f == cx.key_name(k)));
        let by_count = self
            .spec
            .fail_every
            .is_some_and(|n| n > 0 && (info.n as u64).is_multiple_of(n));
        by_key || by_count
    }

    /// One record's processing is over: apply it (and accept it), or release it.
    fn process_next(&mut self, cx: &mut Cx) {
        let Some(partition) = self.mem.batch_part else {
            return;
        };
        let policy = cx.queue_policy(self.group);
        let r = self.mem.batch[self.mem.batch_pos];
        let ack = if self.is_poison(r.msg, cx) {
            cx.emit(Trace::ProcessingFailed {
                group: self.group,
                consumer: self.id,
                msg: r.msg,
                attempt: r.delivery_count,
            });
            match policy {
                None => Some(AckType::Release),
                Some(p) if p.settle_on_send => None,
                Some(p) => match p.on_failure {
                    OnFailure::Release => Some(AckType::Release),
                    OnFailure::Reject => Some(AckType::Reject),
                    OnFailure::Leave => None,
                },
            }
        } else {
            // A dedup sink skips what it applied before (its delivery is already counted
            // as `redelivered` by its acquisition).
            if !(self.spec.dedup && cx.sink_apply(self.group, r.msg)) {
                cx.emit(Trace::Applied {
                    group: self.group,
                    consumer: self.id,
                    msg: r.msg,
                    partition,
                    offset: r.offset,
                });
            }
            // Settled on send: there is nothing left to acknowledge.
            (!policy.is_some_and(|p| p.settle_on_send)).then_some(AckType::Accept)
        };
        let i = self.mem.parts.iter().position(|p| p.partition == partition);
        if let (Some(i), Some(ack)) = (i, ack) {
            self.mem.parts[i].acks.push((r.offset, ack));
            if policy.is_some() {
                // basic.ack / DeleteMessage / XACK / LREM go out as each message is done.
                self.send_acks(i, cx);
            }
        }
        self.mem.batch_pos += 1;
        if self.mem.batch_pos < self.mem.batch.len() {
            self.schedule_process(cx);
            return;
        }
        // The poll is done: its acknowledgements go with the partition's next fetch.
        self.mem.batch.clear();
        self.mem.batch_part = None;
        if let Some(i) = i {
            self.fetch(i, cx);
        }
        self.poll(cx);
    }

    /// A queue consumer's acknowledgements, sent on their own (a request that receives
    /// nothing). If the leader is unknown they are dropped: the messages come back when
    /// their locks run out.
    fn send_acks(&mut self, i: usize, cx: &mut Cx) {
        let p = self.mem.parts[i].partition;
        let acks = std::mem::take(&mut self.mem.parts[i].acks);
        if let Some(leader) = self.leader(p) {
            let token = self.token();
            self.send_fetch(leader, p, token, acks, Fetching::AcksOnly, cx);
        }
    }

    /// A RabbitMQ heartbeat frame to the leader of every queue it reads.
    fn keepalive(&mut self, cx: &mut Cx) {
        for i in 0..self.mem.parts.len() {
            let p = self.mem.parts[i].partition;
            if let Some(leader) = self.leader(p) {
                let token = self.token();
                cx.send(
                    cx.broker_node(leader),
                    Msg::Share(ShareMsg::Fetch {
                        group: self.group,
                        consumer: self.id,
                        partition: p,
                        token,
                        max_records: 0,
                        acks: Box::new([]),
                        close: false,
                    }),
                );
            }
        }
        if let Some(ms) = cx.queue_policy(self.group).and_then(|p| p.keepalive_ms()) {
            cx.set_timer_ms(ms, Timer::ShareConsumer(ShareConsumerTimer::Keepalive));
        }
    }

    pub(crate) fn on_timer(&mut self, timer: ShareConsumerTimer, cx: &mut Cx) {
        if matches!(
            self.mem.state,
            ConsumerState::Crashed | ConsumerState::Left | ConsumerState::Idle
        ) {
            return;
        }
        match timer {
            ShareConsumerTimer::Heartbeat { token } => {
                if token == self.mem.heartbeat_token {
                    self.heartbeat(cx);
                }
            }
            ShareConsumerTimer::Process { token } => {
                if token == self.mem.process_token {
                    self.process_next(cx);
                }
            }
            ShareConsumerTimer::Fetch { partition, .. } => {
                if let Some(i) = self.mem.parts.iter().position(|p| p.partition == partition) {
                    self.mem.parts[i].waiting = false;
                    self.fetch(i, cx);
                }
            }
            ShareConsumerTimer::Keepalive => self.keepalive(cx),
            ShareConsumerTimer::FetchTimeout { partition, token } => {
                self.on_fetch_response(
                    partition,
                    token,
                    ErrorCode::RequestTimedOut,
                    Box::new([]),
                    cx,
                );
            }
        }
    }
}
