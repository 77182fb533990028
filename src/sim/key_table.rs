//! A table by interned key id, filled in the first time each key is met, and shared with
//! checkpoints: it holds an entry for every key id up to the highest one met, so copying it into
//! every checkpoint would pay for all the scenario's keys each time, while it changes only when
//! a new key first appears (copied on write then).

use std::rc::Rc;

/// Key id → a `u32`, or none yet.
#[derive(Clone, Debug, Default)]
pub struct KeyTable(Rc<Vec<u32>>);

/// No entry for the key yet.
const ABSENT: u32 = u32::MAX;

impl KeyTable {
    /// The entry of `key`, made by `fill` the first time (which must not return `u32::MAX`).
    pub fn get_or_fill(&mut self, key: u32, fill: impl FnOnce() -> u32) -> u32 {
        let k = key as usize;
        match self.0.get(k) {
            Some(&v) if v != ABSENT => v,
            _ => {
                let v = fill();
                debug_assert_ne!(v, ABSENT, "u32::MAX marks an absent entry");
                let table = Rc::make_mut(&mut self.0);
                if table.len() <= k {
                    table.resize(k + 1, ABSENT);
                }
                table[k] = v;
                v
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_each_key_once_and_a_clone_keeps_what_it_saw() {
        let mut t = KeyTable::default();
        let mut calls = 0;
        assert_eq!(
            t.get_or_fill(5, || {
                calls += 1;
                50
            }),
            50
        );
        assert_eq!(
            t.get_or_fill(5, || {
                calls += 1;
                99
            }),
            50,
            "filled once"
        );
        assert_eq!(calls, 1);
        let snapshot = t.clone();
        assert!(Rc::ptr_eq(&t.0, &snapshot.0), "a clone shares the table");
        assert_eq!(t.get_or_fill(2, || 20), 20);
        assert!(!Rc::ptr_eq(&t.0, &snapshot.0), "a new key copies it");
        let mut snapshot = snapshot;
        assert_eq!(
            snapshot.get_or_fill(2, || 7),
            7,
            "the clone never saw key 2"
        );
        assert_eq!(t.get_or_fill(2, || 7), 20);
    }
}
