//! The pure domain core: synchronous, deterministic, no I/O, no clock reads, no async runtime.
//! CI checks the boundary (`.ci/check-core-boundary`).

pub mod book;
pub mod control;
pub mod engine;
pub mod fill_model;
pub mod market;
pub mod matching;
pub mod num;
pub mod order;
pub mod portfolio;
pub mod risk;
pub mod strategy;
pub mod time;

/// Hash maps keyed by tickers and order ids. Keys come from the exchange and our own issuer, not
/// from an attacker choosing collisions, so the hot paths use Fx hashing instead of SipHash.
pub type FastMap<K, V> = std::collections::HashMap<K, V, rustc_hash::FxBuildHasher>;
pub type FastSet<T> = std::collections::HashSet<T, rustc_hash::FxBuildHasher>;
