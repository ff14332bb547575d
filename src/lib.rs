//! kalshi-desk: a terminal trading desk for Kalshi, with an embedded exchange simulator.
//!
//! The module map follows DESIGN.md section 2: `core` is pure and synchronous; everything that
//! touches the network, the disk, the terminal or the clock lives in the other modules.

pub mod cli;
pub mod config;
pub mod core;
pub mod kalshi;
pub mod replay;
pub mod runtime;
pub mod sim;
pub mod soak;
pub mod store;
pub mod tui;
