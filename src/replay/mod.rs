//! Backtest, paper trading and recording around the engine (DESIGN.md §3, §8).

pub mod backtest;
pub mod cli;
pub mod config;
pub mod feed;
pub mod ledger;
pub mod local;
pub mod record;
pub mod report;
pub mod session;
