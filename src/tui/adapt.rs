//! Adapters from other modules' types to what the screen shows, kept in one place so a change
//! in the runtime's snapshot types touches one file.

use crate::core::num::{Count, Money};
use crate::runtime::snapshot::MarketView;

/// A market's position as the screen shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PositionFacts {
    /// + YES / − NO contracts.
    pub contracts: Count,
    /// What the open contracts cost.
    pub cost: Money,
    pub realized: Money,
    pub fees: Money,
}

pub fn position(market: &MarketView) -> PositionFacts {
    let p = &market.position;
    PositionFacts {
        contracts: p.contracts,
        cost: p.cost_basis,
        realized: p.realized_pnl,
        fees: p.fees_paid,
    }
}

/// The position type inside the runtime's `MarketView`.
pub type SnapshotPosition = crate::core::portfolio::Position;

/// A flat position, for snapshots built in tests.
pub fn flat_position(ticker: &crate::core::market::Ticker) -> SnapshotPosition {
    SnapshotPosition::new(ticker.clone())
}

/// Builds a position with these facts, for snapshots built in tests.
pub fn position_with(
    ticker: &crate::core::market::Ticker,
    facts: PositionFacts,
) -> SnapshotPosition {
    let mut p = flat_position(ticker);
    p.contracts = facts.contracts;
    p.cost_basis = facts.cost;
    p.realized_pnl = facts.realized;
    p.fees_paid = facts.fees;
    p
}
