//! The simulator's exchange state: markets, accounts, orders, order groups, settlement.
//! Synchronous and deterministic: no I/O, no clock reads; time arrives as `now_ms` arguments.
//! (The `Exchange` facade over these parts is being written.)

pub mod accounts;
pub mod groups;
pub mod lifecycle;
pub mod orders;
pub mod types;
