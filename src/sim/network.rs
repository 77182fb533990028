//! The network: one link per ordered pair of nodes, seeded latency, FIFO delivery per link
//! (Kafka runs over TCP, so requests on one connection arrive in order), cuts, delays and
//! injected drops.
//!
//! Clients talk only to servers (brokers and the controller, the first node ids), so the links
//! to and from servers are two dense tables of `nodes × servers`, and the few client-to-client
//! links (only ever touched by faults) live in a sorted map. Memory grows with the clients, not
//! with their square: 10,000 producers on 10 brokers take 220,000 links, not 100 million.

use std::collections::BTreeMap;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::sim::ids::{NodeId, SimTime};
use crate::sim::trace::DropReason;

#[derive(Clone, Copy, Debug, Default)]
struct Link {
    /// Arrival time of the last message sent on this link; later messages never overtake it.
    last_arrival: SimTime,
    /// How many active faults cut this link.
    cuts: u16,
    /// Messages still to be dropped by a `drop` fault.
    drop_next: u32,
    /// Extra one-way delay from `delay` faults, in microseconds.
    extra_us: u64,
    /// The sender has a connection open to the receiver (it sent a request since the receiver's
    /// process last died).
    open: bool,
}

/// A fault's effect on one link, remembered so it can be undone when the fault ends.
#[derive(Clone, Copy, Debug)]
enum LinkEffect {
    Cut,
    Delay(u64),
}

/// Where a link lives.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// `to_server[from * servers + to]`
    ToServer(usize),
    /// `from_server[to * servers + from]`
    FromServer(usize),
    /// `others[(from, to)]`: two clients.
    Other(NodeId, NodeId),
}

#[derive(Clone, Debug, Default)]
pub struct Network {
    nodes: usize,
    /// Node ids below this are servers.
    servers: usize,
    to_server: Vec<Link>,
    from_server: Vec<Link>,
    others: BTreeMap<(NodeId, NodeId), Link>,
    latency_us: (u64, u64),
    loss: f64,
    /// Produce responses still to be dropped, per receiving node (`drop-acks`).
    drop_acks: Vec<u32>,
    effects: Vec<(u32, NodeId, NodeId, LinkEffect)>,
    /// Nodes isolated by a fault still in force: a node that joins later is cut from them too.
    isolated: Vec<(u32, NodeId)>,
}

impl Network {
    /// `servers`: how many of the first node ids are brokers or the controller.
    pub fn new(nodes: usize, servers: usize, latency_ms: [u64; 2], loss: f64) -> Network {
        let mut net = Network {
            nodes: 0,
            servers,
            to_server: Vec::new(),
            from_server: Vec::new(),
            others: BTreeMap::new(),
            latency_us: (latency_ms[0] * 1000, latency_ms[1] * 1000),
            loss,
            drop_acks: Vec::new(),
            effects: Vec::new(),
            isolated: Vec::new(),
        };
        net.ensure_nodes(nodes);
        net
    }

    /// Grow the link tables when nodes join (e.g. `add-consumer`). Existing links keep their
    /// slots: both tables grow by rows.
    pub fn ensure_nodes(&mut self, n: usize) {
        if n <= self.nodes {
            return;
        }
        self.to_server.resize(n * self.servers, Link::default());
        self.from_server.resize(n * self.servers, Link::default());
        let old = self.nodes;
        self.nodes = n;
        self.drop_acks.resize(n, 0);
        for (fault, node) in self.isolated.clone() {
            for other in old..n {
                let other = NodeId(other as u32);
                self.cut(node, other, fault);
                self.cut(other, node, fault);
            }
        }
    }

    fn slot(&self, from: NodeId, to: NodeId) -> Slot {
        if to.idx() < self.servers {
            Slot::ToServer(from.idx() * self.servers + to.idx())
        } else if from.idx() < self.servers {
            Slot::FromServer(to.idx() * self.servers + from.idx())
        } else {
            Slot::Other(from, to)
        }
    }

    /// The link, if it has any state (a client-to-client link has none until a fault cuts it).
    fn link(&self, from: NodeId, to: NodeId) -> Option<&Link> {
        match self.slot(from, to) {
            Slot::ToServer(i) => self.to_server.get(i),
            Slot::FromServer(i) => self.from_server.get(i),
            Slot::Other(a, b) => self.others.get(&(a, b)),
        }
    }

    fn link_mut(&mut self, from: NodeId, to: NodeId) -> &mut Link {
        let slot = self.slot(from, to);
        self.link_at(slot)
    }

    fn link_at(&mut self, slot: Slot) -> &mut Link {
        match slot {
            Slot::ToServer(i) => &mut self.to_server[i],
            Slot::FromServer(i) => &mut self.from_server[i],
            Slot::Other(a, b) => self.others.entry((a, b)).or_default(),
        }
    }

    /// `client` sends `server` a request: the connection between them is open.
    pub fn connect(&mut self, client: NodeId, server: NodeId) {
        self.link_mut(client, server).open = true;
    }

    /// `server`'s process died: every connection to it is reset. Returns its clients, in node
    /// order, each of which the reset reaches.
    pub fn reset_connections_to(&mut self, server: NodeId, clients: &mut Vec<NodeId>) {
        for a in 0..self.nodes {
            let a = NodeId(a as u32);
            if self.link(a, server).is_some_and(|l| l.open) {
                self.link_mut(a, server).open = false;
                clients.push(a);
            }
        }
    }

    /// Decide the fate of one message: its arrival time, or why it is dropped.
    pub(crate) fn route(
        &mut self,
        from: NodeId,
        to: NodeId,
        now: SimTime,
        rng: &mut ChaCha8Rng,
        is_produce_response: bool,
    ) -> Result<SimTime, DropReason> {
        let drop_acks = is_produce_response && self.drop_acks[to.idx()] > 0;
        let draw_loss = self.loss > 0.0;
        let (lo, hi) = self.latency_us;
        let slot = self.slot(from, to);
        let link = self.link_at(slot);
        if link.cuts > 0 {
            return Err(DropReason::Cut);
        }
        if link.drop_next > 0 {
            link.drop_next -= 1;
            return Err(DropReason::Injected);
        }
        let link = *link;
        if drop_acks {
            self.drop_acks[to.idx()] -= 1;
            return Err(DropReason::Injected);
        }
        if draw_loss && rng.random_bool(self.loss) {
            return Err(DropReason::Loss);
        }
        let latency = if lo == hi {
            lo
        } else {
            rng.random_range(lo..=hi)
        };
        let arrive = now.plus_us(latency + link.extra_us).max(link.last_arrival);
        self.link_at(slot).last_arrival = arrive;
        Ok(arrive)
    }

    /// Whether the link is cut right now (checked again on arrival).
    pub fn cut_now(&self, from: NodeId, to: NodeId) -> bool {
        self.link(from, to).is_some_and(|l| l.cuts > 0)
    }

    fn cut(&mut self, from: NodeId, to: NodeId, fault: u32) {
        if from == to {
            return;
        }
        self.link_mut(from, to).cuts += 1;
        self.effects.push((fault, from, to, LinkEffect::Cut));
    }

    /// Cut every link to and from `node`.
    pub fn isolate(&mut self, node: NodeId, fault: u32) {
        self.isolated.push((fault, node));
        for other in 0..self.nodes {
            let other = NodeId(other as u32);
            self.cut(node, other, fault);
            self.cut(other, node, fault);
        }
    }

    /// Cut every link between nodes on different sides. Nodes on no side keep all links.
    pub fn partition(&mut self, sides: &[Vec<NodeId>], fault: u32) {
        for (i, a_side) in sides.iter().enumerate() {
            for (j, b_side) in sides.iter().enumerate() {
                if i == j {
                    continue;
                }
                for &a in a_side {
                    for &b in b_side {
                        self.cut(a, b, fault);
                    }
                }
            }
        }
    }

    /// `heal`: remove every cut and delay.
    pub fn heal_all(&mut self) {
        let clients = self.others.values_mut();
        for link in self
            .to_server
            .iter_mut()
            .chain(&mut self.from_server)
            .chain(clients)
        {
            link.cuts = 0;
            link.extra_us = 0;
        }
        self.effects.clear();
        self.isolated.clear();
    }

    /// Undo what one fault did to the links (its `duration_ms` ran out).
    pub fn end_fault(&mut self, fault: u32) {
        self.isolated.retain(|&(f, _)| f != fault);
        let mut k = 0;
        while k < self.effects.len() {
            let (f, from, to, effect) = self.effects[k];
            if f == fault {
                let link = self.link_mut(from, to);
                match effect {
                    LinkEffect::Cut => link.cuts = link.cuts.saturating_sub(1),
                    LinkEffect::Delay(us) => link.extra_us = link.extra_us.saturating_sub(us),
                }
                self.effects.swap_remove(k);
            } else {
                k += 1;
            }
        }
    }

    pub fn drop_next(&mut self, from: NodeId, to: NodeId, count: u32) {
        self.link_mut(from, to).drop_next += count;
    }

    pub fn drop_next_to(&mut self, to: NodeId, count: u32) {
        self.drop_acks[to.idx()] += count;
    }

    pub fn add_delay(&mut self, from: NodeId, to: NodeId, extra_us: u64, fault: u32) {
        self.link_mut(from, to).extra_us += extra_us;
        self.effects
            .push((fault, from, to, LinkEffect::Delay(extra_us)));
    }

    /// Whether any fault currently cuts the link (for display).
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.cut_now(from, to)
    }

    /// Produce responses still to be dropped for this node.
    pub fn pending_ack_drops(&self, node: NodeId) -> u32 {
        self.drop_acks.get(node.idx()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    const A: NodeId = NodeId(0);
    const B: NodeId = NodeId(1);
    const C: NodeId = NodeId(2);

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    fn send(
        net: &mut Network,
        rng: &mut ChaCha8Rng,
        from: NodeId,
        to: NodeId,
        at_ms: u64,
    ) -> Result<SimTime, DropReason> {
        net.route(from, to, SimTime::ZERO.plus_ms(at_ms), rng, false)
    }

    #[test]
    fn latency_stays_in_range_and_a_link_never_reorders() {
        let mut net = Network::new(3, 3, [1, 20], 0.0);
        let mut rng = rng();
        let mut last = SimTime::ZERO;
        for t in 0..500 {
            let at = send(&mut net, &mut rng, A, B, t / 10).unwrap();
            let sent = SimTime::ZERO.plus_ms(t / 10);
            assert!(at >= sent.plus_ms(1), "at least the minimum latency");
            // FIFO per link (TCP): a later message may wait for an earlier one, never pass it.
            assert!(at >= last);
            last = at;
        }
    }

    #[test]
    fn the_same_seed_routes_the_same_way() {
        let run = || {
            let mut net = Network::new(3, 3, [1, 50], 0.1);
            let mut rng = rng();
            (0..200)
                .map(|t| send(&mut net, &mut rng, A, C, t))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
        assert!(
            run().contains(&Err(DropReason::Loss)),
            "loss 0.1 loses some"
        );
    }

    #[test]
    fn isolate_cuts_both_ways_until_its_fault_ends() {
        let mut net = Network::new(3, 3, [1, 1], 0.0);
        let mut rng = rng();
        net.isolate(B, 4);
        assert_eq!(send(&mut net, &mut rng, A, B, 0), Err(DropReason::Cut));
        assert_eq!(send(&mut net, &mut rng, B, C, 0), Err(DropReason::Cut));
        assert!(
            send(&mut net, &mut rng, A, C, 0).is_ok(),
            "others still talk"
        );
        net.end_fault(4);
        assert!(send(&mut net, &mut rng, A, B, 1).is_ok());
        assert!(!net.is_cut(B, C));
    }

    #[test]
    fn overlapping_cuts_need_every_fault_to_end() {
        let mut net = Network::new(3, 3, [1, 1], 0.0);
        net.isolate(A, 1);
        net.partition(&[vec![A], vec![B, C]], 2);
        net.end_fault(1);
        assert!(net.is_cut(A, B), "the partition still cuts A from B");
        net.end_fault(2);
        assert!(!net.is_cut(A, B));
    }

    #[test]
    fn a_partition_keeps_each_side_connected() {
        let mut net = Network::new(3, 3, [1, 1], 0.0);
        net.partition(&[vec![A], vec![B, C]], 0);
        assert!(net.is_cut(A, B) && net.is_cut(C, A));
        assert!(!net.is_cut(B, C) && !net.is_cut(C, B));
        net.heal_all();
        assert!(!net.is_cut(A, B));
    }

    #[test]
    fn drops_take_exactly_the_next_n_messages_of_one_link() {
        let mut net = Network::new(3, 3, [1, 1], 0.0);
        let mut rng = rng();
        net.drop_next(A, B, 2);
        assert_eq!(send(&mut net, &mut rng, A, B, 0), Err(DropReason::Injected));
        assert!(
            send(&mut net, &mut rng, B, A, 0).is_ok(),
            "the other direction is untouched"
        );
        assert_eq!(send(&mut net, &mut rng, A, B, 0), Err(DropReason::Injected));
        assert!(send(&mut net, &mut rng, A, B, 0).is_ok());
    }

    #[test]
    fn drop_acks_takes_only_produce_responses_to_that_node() {
        let mut net = Network::new(3, 3, [1, 1], 0.0);
        let mut rng = rng();
        net.drop_next_to(C, 1);
        assert!(
            net.route(A, C, SimTime::ZERO, &mut rng, false).is_ok(),
            "not an ack"
        );
        assert_eq!(
            net.route(A, C, SimTime::ZERO, &mut rng, true),
            Err(DropReason::Injected)
        );
        assert_eq!(net.pending_ack_drops(C), 0);
        assert!(net.route(A, C, SimTime::ZERO, &mut rng, true).is_ok());
    }

    #[test]
    fn a_delay_adds_to_one_link_and_ends_with_its_fault() {
        let mut net = Network::new(3, 3, [2, 2], 0.0);
        let mut rng = rng();
        net.add_delay(A, B, 500_000, 9);
        assert_eq!(
            send(&mut net, &mut rng, A, B, 0),
            Ok(SimTime::ZERO.plus_us(502_000))
        );
        assert_eq!(
            send(&mut net, &mut rng, B, A, 0),
            Ok(SimTime::ZERO.plus_ms(2))
        );
        net.end_fault(9);
        // FIFO: the next message cannot pass the delayed one.
        assert_eq!(
            send(&mut net, &mut rng, A, B, 1),
            Ok(SimTime::ZERO.plus_us(502_000))
        );
        assert_eq!(
            send(&mut net, &mut rng, A, B, 600),
            Ok(SimTime::ZERO.plus_ms(602))
        );
    }

    #[test]
    fn nodes_that_join_keep_the_existing_links_state() {
        let mut net = Network::new(2, 2, [1, 1], 0.0);
        net.isolate(A, 3);
        net.ensure_nodes(3);
        assert!(net.is_cut(A, B));
        // An isolated node stays isolated from a node that joins while the fault lasts.
        assert!(net.is_cut(A, C) && net.is_cut(C, A));
        assert!(!net.is_cut(B, C));
        net.end_fault(3);
        assert!(!net.is_cut(A, B) && !net.is_cut(A, C));
    }

    #[test]
    fn clients_get_links_to_servers_only_until_a_fault_needs_one_between_them() {
        // Node 0 is the only server; 1 and 2 are clients.
        let mut net = Network::new(3, 1, [1, 1], 0.0);
        let mut rng = rng();
        assert_eq!(net.to_server.len() + net.from_server.len(), 6);
        assert!(send(&mut net, &mut rng, B, A, 0).is_ok());
        assert!(send(&mut net, &mut rng, A, C, 0).is_ok());
        assert!(
            net.others.is_empty(),
            "client-server traffic needs no map entry"
        );
        net.isolate(B, 1);
        assert!(net.is_cut(B, A) && net.is_cut(A, B) && net.is_cut(B, C) && net.is_cut(C, B));
        assert!(!net.is_cut(A, C) && !net.is_cut(C, A));
        net.end_fault(1);
        assert!(!net.is_cut(B, C) && send(&mut net, &mut rng, B, A, 1).is_ok());
        // Connections are per client: a server's death resets only those that were open.
        net.connect(B, A);
        let mut reset = Vec::new();
        net.reset_connections_to(A, &mut reset);
        assert_eq!(reset, vec![B]);
        // Clients that join later get their rows; the server's links keep their state.
        net.drop_next(A, C, 1);
        net.ensure_nodes(5);
        assert_eq!(send(&mut net, &mut rng, A, C, 2), Err(DropReason::Injected));
        assert!(send(&mut net, &mut rng, NodeId(4), A, 2).is_ok());
    }
}
