//! Our own book-keeping of a replay: cash, positions and fees per market from the fill model's
//! fills, in YES-equivalent contracts (a NO bought at `1 − p` is a YES sold at `p`), so P&L can
//! be checked by hand and does not depend on the engine's view.

use std::collections::BTreeMap;

use crate::core::fill_model::ModelFill;
use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};
use crate::core::order::OrderSide;
use crate::core::portfolio::MarketResult;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketLedger {
    /// Cash from trades and settlement (before fees).
    pub cash: Money,
    /// YES-equivalent position: + long YES, − long NO.
    pub position: Count,
    pub fees: Money,
    pub fills: u64,
    pub maker_fills: u64,
    pub taker_fills: u64,
    pub contracts_traded: Count,
    /// Time with a non-zero position, ms.
    pub time_in_market_ms: i64,
    open_since_ms: Option<i64>,
    /// Last price we could value the position at.
    pub mark: Option<Price>,
    pub settled: Option<MarketResult>,
}

impl MarketLedger {
    /// P&L net of fees with the position valued at `mark` (or its cost if never marked).
    pub fn pnl(&self) -> Money {
        let value = match self.mark {
            Some(mark) => signed_value(mark, self.position),
            None => Money::ZERO,
        };
        self.cash.saturating_add(value).saturating_sub(self.fees)
    }
}

/// `position × price`, signed.
fn signed_value(price: Price, position: Count) -> Money {
    let value = price.cost_of(position.abs());
    if position.is_negative() {
        -value
    } else {
        value
    }
}

#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub markets: BTreeMap<Ticker, MarketLedger>,
}

impl Ledger {
    pub fn apply_fill(&mut self, fill: &ModelFill) {
        let market = self.markets.entry(fill.ticker.clone()).or_default();
        let before = market.position;
        let cost = fill.yes_price.cost_of(fill.count);
        match fill.side {
            OrderSide::Bid => {
                market.cash = market.cash.saturating_sub(cost);
                market.position = market.position.saturating_add(fill.count);
            }
            OrderSide::Ask => {
                market.cash = market.cash.saturating_add(cost);
                market.position = market.position.saturating_sub(fill.count);
            }
        }
        market.fees = market.fees.saturating_add(fill.fee_cost);
        market.fills += 1;
        if fill.is_taker {
            market.taker_fills += 1;
        } else {
            market.maker_fills += 1;
        }
        market.contracts_traded = market.contracts_traded.saturating_add(fill.count);
        market.mark.get_or_insert(fill.yes_price);
        track_open(market, before, fill.ts_ms);
    }

    pub fn mark(&mut self, ticker: &Ticker, price: Price) {
        if let Some(market) = self.markets.get_mut(ticker)
            && market.settled.is_none()
        {
            market.mark = Some(price);
        }
    }

    /// Pay the position out at the result.
    pub fn settle(&mut self, ticker: &Ticker, result: MarketResult, ts_ms: i64) {
        let Some(market) = self.markets.get_mut(ticker) else {
            return;
        };
        let yes_value = match result {
            MarketResult::Yes => Price::ONE,
            MarketResult::No => Price::ZERO,
            MarketResult::Scalar(value) => value,
        };
        let before = market.position;
        market.cash = market
            .cash
            .saturating_add(signed_value(yes_value, market.position));
        market.position = Count::ZERO;
        market.mark = Some(yes_value);
        market.settled = Some(result);
        track_open(market, before, ts_ms);
    }

    /// Close the open-position clocks at the end of the replay.
    pub fn finish(&mut self, ts_ms: i64) {
        for market in self.markets.values_mut() {
            if let Some(since) = market.open_since_ms.take() {
                market.time_in_market_ms += (ts_ms - since).max(0);
            }
        }
    }

    pub fn total_pnl(&self) -> Money {
        self.markets
            .values()
            .fold(Money::ZERO, |sum, m| sum.saturating_add(m.pnl()))
    }
}

fn track_open(market: &mut MarketLedger, before: Count, ts_ms: i64) {
    let after = market.position;
    if before.is_zero() && !after.is_zero() {
        market.open_since_ms = Some(ts_ms);
    } else if !before.is_zero() && (after.is_zero() || after.is_negative() != before.is_negative())
    {
        if let Some(since) = market.open_since_ms.take() {
            market.time_in_market_ms += (ts_ms - since).max(0);
        }
        if !after.is_zero() {
            market.open_since_ms = Some(ts_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::order::{ClientOrderId, OrderId, TradeId};

    fn fill(side: OrderSide, cents: i64, contracts: i64, fee_micros: i64, ts_ms: i64) -> ModelFill {
        ModelFill {
            trade_id: TradeId::new("t"),
            order_id: OrderId::new("o"),
            client_order_id: ClientOrderId::new("c"),
            ticker: Ticker::from("KX"),
            side,
            yes_price: Price::from_cents(cents).unwrap(),
            count: Count::from_contracts(contracts),
            is_taker: false,
            fee_cost: Money::from_micros(fee_micros),
            ts_ms,
        }
    }

    #[test]
    fn a_no_position_settles_in_yes_terms() {
        // Sell 10 YES at 0.40 ≡ buy 10 NO at 0.60; NO wins: +0.40 × 10 = 4.00, less the fee.
        let mut ledger = Ledger::default();
        ledger.apply_fill(&fill(OrderSide::Ask, 40, 10, 10_000, 1_000));
        let ticker = Ticker::from("KX");
        ledger.mark(&ticker, Price::from_cents(30).unwrap());
        assert_eq!(ledger.total_pnl(), Money::parse("0.99").unwrap());
        ledger.settle(&ticker, MarketResult::No, 5_000);
        assert_eq!(ledger.total_pnl(), Money::parse("3.99").unwrap());
        // A mark after settlement does not move it.
        ledger.mark(&ticker, Price::from_cents(90).unwrap());
        assert_eq!(ledger.total_pnl(), Money::parse("3.99").unwrap());
        assert_eq!(ledger.markets[&ticker].time_in_market_ms, 4_000);
    }

    #[test]
    fn flipping_through_zero_keeps_the_clock_running() {
        let mut ledger = Ledger::default();
        ledger.apply_fill(&fill(OrderSide::Bid, 50, 5, 0, 0));
        ledger.apply_fill(&fill(OrderSide::Ask, 50, 10, 0, 1_000));
        ledger.apply_fill(&fill(OrderSide::Bid, 50, 5, 0, 3_000));
        ledger.finish(10_000);
        let market = &ledger.markets[&Ticker::from("KX")];
        assert_eq!(market.time_in_market_ms, 3_000);
        assert_eq!((market.fills, market.maker_fills), (3, 3));
    }
}
