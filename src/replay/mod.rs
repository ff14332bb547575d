//! Backtest, paper trading and recording around the engine (DESIGN.md §3, §8).
