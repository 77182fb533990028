//! Mutations of every bundled scenario: each is either refused with a located error or runs,
//! and nothing panics. Runs are cut after a bounded number of events, so every case finishes.

use brokerlab::scenario;
use brokerlab::sim::Sim;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Mutations per bundled scenario.
const MUTATIONS: u64 = 12;
/// Events a mutated run may take before it is cut off.
const MAX_EVENTS: u64 = 100_000;

/// Values that break assumptions: zero, one, negatives, the edges of `i32` and `u64`, a fraction.
const EDGES: [&str; 9] = [
    "0",
    "1",
    "-1",
    "2147483647",
    "2147483648",
    "18446744073709551615",
    "99999999999999999999",
    "0.5",
    "\"x\"",
];

/// One seeded mutation of `text`: a number replaced by an edge value, a line dropped, a line
/// doubled, or a value swapped for a string.
fn mutate(text: &str, rng: &mut ChaCha8Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let edits = rng.random_range(1..=3u32);
    for _ in 0..edits {
        if lines.is_empty() {
            break;
        }
        let i = rng.random_range(0..lines.len());
        match rng.random_range(0..4u32) {
            0 => {
                // Replace the first number on the line.
                let line = &lines[i];
                if let Some(start) = line.find(|c: char| c.is_ascii_digit()) {
                    let end = line[start..]
                        .find(|c: char| !c.is_ascii_digit())
                        .map_or(line.len(), |e| start + e);
                    let edge = EDGES[rng.random_range(0..EDGES.len())];
                    lines[i] = format!("{}{edge}{}", &line[..start], &line[end..]);
                }
            }
            1 => {
                lines.remove(i);
            }
            2 => {
                let copy = lines[i].clone();
                lines.insert(i, copy);
            }
            _ => {
                if let Some(eq) = lines[i].find(" = ") {
                    let edge = EDGES[rng.random_range(0..EDGES.len())];
                    lines[i] = format!("{} = {edge}", &lines[i][..eq]);
                }
            }
        }
    }
    lines.join("\n") + "\n"
}

#[test]
fn mutated_bundled_scenarios_are_refused_with_a_location_or_run() {
    let mut refused = 0;
    let mut ran = 0;
    for (k, b) in scenario::bundled().iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(0xF022 + k as u64);
        for m in 0..MUTATIONS {
            let text = mutate(b.text, &mut rng);
            let name = format!("{}-mutation-{m}.toml", b.name);
            let outcome = std::panic::catch_unwind(|| match scenario::parse(&name, &text) {
                Err(e) => {
                    // A refusal says where and what.
                    let shown = e.to_string();
                    assert!(!shown.is_empty());
                    assert!(shown.contains(&name), "{shown}");
                    false
                }
                Ok(sc) => {
                    let mut sim = Sim::new(&sc);
                    while sim.events() < MAX_EVENTS && sim.step() {
                        sim.drain_trace().for_each(drop);
                    }
                    true
                }
            });
            match outcome {
                Ok(true) => ran += 1,
                Ok(false) => refused += 1,
                Err(_) => panic!("{name} panicked; the mutated file:\n{text}"),
            }
        }
    }
    // The mutations exercise both paths.
    assert!(refused > 20, "{refused} refused");
    assert!(ran > 20, "{ran} ran");
}
