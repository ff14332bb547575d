//! Positions, cost basis, P&L, settlement and Kalshi's fees.

pub mod fees;
