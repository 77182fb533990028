//! The deterministic simulation core: pure, no I/O, no wall clock, one seeded RNG.

pub mod ids;
pub mod trace;

pub use ids::*;
pub use trace::*;
