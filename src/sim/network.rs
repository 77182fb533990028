//! The network: one link per ordered pair of nodes, seeded latency, FIFO delivery per link
//! (Kafka runs over TCP, so requests on one connection arrive in order), cuts, delays and
//! injected drops.

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
}

/// A fault's effect on one link, remembered so it can be undone when the fault ends.
#[derive(Clone, Copy, Debug)]
enum LinkEffect {
    Cut,
    Delay(u64),
}

#[derive(Clone, Debug, Default)]
pub struct Network {
    nodes: usize,
    links: Vec<Link>,
    latency_us: (u64, u64),
    loss: f64,
    /// Produce responses still to be dropped, per receiving node (`drop-acks`).
    drop_acks: Vec<u32>,
    effects: Vec<(u32, usize, LinkEffect)>,
}

impl Network {
    pub fn new(nodes: usize, latency_ms: [u64; 2], loss: f64) -> Network {
        let mut net = Network {
            nodes: 0,
            links: Vec::new(),
            latency_us: (latency_ms[0] * 1000, latency_ms[1] * 1000),
            loss,
            drop_acks: Vec::new(),
            effects: Vec::new(),
        };
        net.ensure_nodes(nodes);
        net
    }

    /// Grow the link table when nodes join (e.g. `add-consumer`).
    pub fn ensure_nodes(&mut self, n: usize) {
        if n <= self.nodes {
            return;
        }
        let mut links = vec![Link::default(); n * n];
        for a in 0..self.nodes {
            for b in 0..self.nodes {
                links[a * n + b] = self.links[a * self.nodes + b];
            }
        }
        for e in &mut self.effects {
            let (a, b) = (e.1 / self.nodes, e.1 % self.nodes);
            e.1 = a * n + b;
        }
        self.links = links;
        self.nodes = n;
        self.drop_acks.resize(n, 0);
    }

    fn idx(&self, from: NodeId, to: NodeId) -> usize {
        from.idx() * self.nodes + to.idx()
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
        let i = self.idx(from, to);
        if self.links[i].cuts > 0 {
            return Err(DropReason::Cut);
        }
        if self.links[i].drop_next > 0 {
            self.links[i].drop_next -= 1;
            return Err(DropReason::Injected);
        }
        if is_produce_response && self.drop_acks[to.idx()] > 0 {
            self.drop_acks[to.idx()] -= 1;
            return Err(DropReason::Injected);
        }
        if self.loss > 0.0 && rng.random_bool(self.loss) {
            return Err(DropReason::Loss);
        }
        let (lo, hi) = self.latency_us;
        let latency = if lo == hi {
            lo
        } else {
            rng.random_range(lo..=hi)
        };
        let link = &mut self.links[i];
        let arrive = now.plus_us(latency + link.extra_us).max(link.last_arrival);
        link.last_arrival = arrive;
        Ok(arrive)
    }

    /// Whether the link is cut right now (checked again on arrival).
    pub fn cut_now(&self, from: NodeId, to: NodeId) -> bool {
        self.links[self.idx(from, to)].cuts > 0
    }

    fn cut(&mut self, from: NodeId, to: NodeId, fault: u32) {
        if from == to {
            return;
        }
        let i = self.idx(from, to);
        self.links[i].cuts += 1;
        self.effects.push((fault, i, LinkEffect::Cut));
    }

    /// Cut every link to and from `node`.
    pub fn isolate(&mut self, node: NodeId, fault: u32) {
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
        for link in &mut self.links {
            link.cuts = 0;
            link.extra_us = 0;
        }
        self.effects.clear();
    }

    /// Undo what one fault did to the links (its `duration_ms` ran out).
    pub fn end_fault(&mut self, fault: u32) {
        let mut k = 0;
        while k < self.effects.len() {
            let (f, i, effect) = self.effects[k];
            if f == fault {
                match effect {
                    LinkEffect::Cut => self.links[i].cuts = self.links[i].cuts.saturating_sub(1),
                    LinkEffect::Delay(us) => {
                        self.links[i].extra_us = self.links[i].extra_us.saturating_sub(us)
                    }
                }
                self.effects.swap_remove(k);
            } else {
                k += 1;
            }
        }
    }

    pub fn drop_next(&mut self, from: NodeId, to: NodeId, count: u32) {
        let i = self.idx(from, to);
        self.links[i].drop_next += count;
    }

    pub fn drop_next_to(&mut self, to: NodeId, count: u32) {
        self.drop_acks[to.idx()] += count;
    }

    pub fn add_delay(&mut self, from: NodeId, to: NodeId, extra_us: u64, fault: u32) {
        let i = self.idx(from, to);
        self.links[i].extra_us += extra_us;
        self.effects.push((fault, i, LinkEffect::Delay(extra_us)));
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
