//! A stable 64-bit digest of the trace (FNV-1a over the derived `Hash` of each event), so two
//! runs can be compared by one number. Integer hashing in `std` writes native-endian bytes,
//! which is the same on every little-endian machine we target.

use std::hash::{Hash, Hasher};

use crate::sim::trace::TraceEvent;

#[derive(Clone, Copy, Debug)]
pub struct Digest {
    state: u64,
}

impl Default for Digest {
    fn default() -> Self {
        Digest {
            state: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl Digest {
    pub fn add(&mut self, ev: &TraceEvent) {
        ev.hash(self);
    }

    pub fn value(&self) -> u64 {
        self.state
    }

    /// The digest as 16 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.state)
    }
}

impl Hasher for Digest {
    fn finish(&self) -> u64 {
        self.state
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state ^= b as u64;
            self.state = self.state.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    // Whole words at a time: the digest stays stable and hashing stays off the profile.
    fn write_u64(&mut self, n: u64) {
        self.state ^= n;
        self.state = self.state.wrapping_mul(0x0000_0100_0000_01b3);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(n as u64);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_i32(&mut self, n: i32) {
        self.write_u64(n as u32 as u64);
    }
}
