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
