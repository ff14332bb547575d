//! The engine's position ledger: signed position, cost of the open position, realized P&L and
//! fees per market, from deduplicated fills. (An adapter until `core::portfolio` offers a
//! position ledger; it holds only what the risk gate and the breach monitor need.)

use std::collections::BTreeMap;

use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};
use crate::core::order::OrderSide;

/// One market's position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// + YES / − NO contracts.
    #[serde(with = "crate::core::num::signed_count")]
    pub count: Count,
    /// What the open contracts cost (always ≥ 0), in the held contract's own prices.
    pub cost: Money,
    /// Realized P&L, net of fees.
    pub realized: Money,
    pub fees: Money,
}

impl Position {
    /// Value of the open contracts if sold at `exit_price` (the held contract's bid).
    pub fn value_at(&self, held_contract_bid: Price) -> Money {
        held_contract_bid.cost_of(self.count.abs())
    }
}

/// Every market's position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions {
    by_market: BTreeMap<Ticker, Position>,
}

impl Positions {
    pub fn get(&self, ticker: &str) -> Position {
        self.by_market.get(ticker).copied().unwrap_or_default()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Ticker, &Position)> {
        self.by_market.iter()
    }

    pub fn knows(&self, ticker: &str) -> bool {
        self.by_market.contains_key(ticker)
    }

    /// Adopt the exchange's position for a market we hold no record of (start-up
    /// reconciliation), at an unknown cost valued at `cost_hint`.
    pub fn adopt(&mut self, ticker: &Ticker, count: Count, cost_hint: Money) {
        self.by_market.insert(
            ticker.clone(),
            Position {
                count,
                cost: cost_hint,
                ..Position::default()
            },
        );
    }

    /// Book one fill. Buying the contract already held (or from flat) adds to it at its own
    /// price; buying the other contract closes the held one first (selling it at `1 − price`)
    /// and realizes the difference against the average cost.
    pub fn apply_fill(
        &mut self,
        ticker: &Ticker,
        side: OrderSide,
        yes_price: Price,
        count: Count,
        fee: Money,
    ) -> Position {
        let position = self.by_market.entry(ticker.clone()).or_default();
        let bought_price = side.outcome_price(yes_price);
        let signed = match side {
            OrderSide::Bid => count,
            OrderSide::Ask => -count,
        };
        let adds =
            position.count.is_zero() || (position.count.is_positive() == signed.is_positive());
        if adds {
            position.cost = position.cost.saturating_add(bought_price.cost_of(count));
            position.count = position.count.saturating_add(signed);
        } else {
            let held = position.count.abs();
            let closed = count.min(held);
            // Cost of the closed part, pro rata (rounded toward zero: exact for whole-cent costs).
            let closed_cost = Money::from_micros(
                i64::try_from(
                    i128::from(position.cost.micros()) * i128::from(closed.centi())
                        / i128::from(held.centi().max(1)),
                )
                .unwrap_or(i64::MAX),
            );
            let proceeds = bought_price.complement().cost_of(closed);
            position.realized = position
                .realized
                .saturating_add(proceeds.saturating_sub(closed_cost));
            position.cost = position.cost.saturating_sub(closed_cost);
            let opened = count.saturating_sub(closed);
            position.count = position.count.saturating_add(match side {
                OrderSide::Bid => closed,
                OrderSide::Ask => -closed,
            });
            if opened.is_positive() {
                position.cost = bought_price.cost_of(opened);
                position.count = match side {
                    OrderSide::Bid => opened,
                    OrderSide::Ask => -opened,
                };
            }
        }
        position.fees = position.fees.saturating_add(fee);
        position.realized = position.realized.saturating_sub(fee);
        *position
    }

    /// Total realized P&L over every market.
    pub fn total_realized(&self) -> Money {
        self.by_market
            .values()
            .fold(Money::ZERO, |sum, p| sum.saturating_add(p.realized))
    }

    /// The market with the largest |position|.
    pub fn largest(&self) -> Option<(Ticker, Count)> {
        self.by_market
            .iter()
            .filter(|(_, p)| !p.count.is_zero())
            .max_by_key(|(_, p)| p.count.abs())
            .map(|(t, p)| (t.clone(), p.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Price {
        Price::parse(text).unwrap()
    }

    #[test]
    fn adds_closes_and_flips() {
        let mut positions = Positions::default();
        let t = Ticker::new("M");
        let c = Count::from_contracts;
        positions.apply_fill(&t, OrderSide::Bid, p("0.40"), c(10), Money::ZERO);
        let pos = positions.apply_fill(&t, OrderSide::Bid, p("0.50"), c(10), Money::ZERO);
        assert_eq!(pos.count, c(20));
        assert_eq!(pos.cost, Money::parse("9").unwrap());
        // Sell 5 YES at 0.60 (an ask): average 0.45, realize 5 × 0.15 = 0.75 less a 0.02 fee.
        let pos = positions.apply_fill(
            &t,
            OrderSide::Ask,
            p("0.60"),
            c(5),
            Money::parse("0.02").unwrap(),
        );
        assert_eq!(pos.count, c(15));
        assert_eq!(pos.cost, Money::parse("6.75").unwrap());
        assert_eq!(pos.realized, Money::parse("0.73").unwrap());
        // Ask 25 at 0.50: closes 15 (realize 15 × 0.05 = 0.75), opens 10 NO at 0.50.
        let pos = positions.apply_fill(&t, OrderSide::Ask, p("0.50"), c(25), Money::ZERO);
        assert_eq!(pos.count, c(-10));
        assert_eq!(pos.cost, Money::parse("5").unwrap());
        assert_eq!(pos.realized, Money::parse("1.48").unwrap());
        assert_eq!(positions.largest(), Some((t.clone(), c(-10))));
        // Buy back the NO via a bid at 0.45 (sells NO at 0.55): +0.05 × 10.
        let pos = positions.apply_fill(&t, OrderSide::Bid, p("0.45"), c(10), Money::ZERO);
        assert_eq!(pos.count, Count::ZERO);
        assert_eq!(pos.cost, Money::ZERO);
        assert_eq!(pos.realized, Money::parse("1.98").unwrap());
        assert_eq!(positions.total_realized(), Money::parse("1.98").unwrap());
        assert_eq!(positions.largest(), None);
    }
}
