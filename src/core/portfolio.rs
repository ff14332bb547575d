//! Positions, cost basis, realized and unrealized P&L, daily P&L, settlement, cash and buying
//! power; Kalshi's fee model lives in [`fees`] (for estimates: booked fees are the exchange's
//! `fee_cost`).
//!
//! A position is counted YES-positive: +10 holds 10 YES contracts, −10 holds 10 NO contracts.
//! Fills arrive as V2 book sides on the YES book with a YES price `p`:
//! - a bid buys YES at `p`: it adds to a YES position at cost `p`, or closes NO contracts, which is
//!   selling them at `1 − p`;
//! - an ask sells YES at `p`: it closes YES contracts at `p`, or opens/adds NO contracts at cost
//!   `1 − p` when flat or short.
//!
//! Cost basis is the total paid for the open contracts (in the held contract's own price: YES
//! cost for YES, NO cost for NO). Closing `k` of `n` open contracts removes `cost × k / n`
//! (rounded down; closing the last contract removes what is left, so a round trip realizes
//! exactly proceeds − cost). Realized P&L is gross of fees; fees are kept beside it.
//!
//! Daily P&L is measured against a second basis that is reset, at each trading-day boundary, to
//! the positions' marks (mid) at that moment: realized today + today's change in mark − today's
//! fees. The engine calls [`Portfolio::roll_day`] with marks on its ticks; a fill that finds the
//! day changed without a roll carries the cost basis over (no mark was known).

pub mod day;
pub mod fees;

use crate::core::FastSet;
use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::core::market::Ticker;
use crate::core::num::{CENTI, Count, Money, Price};
use crate::core::order::{Fill, OrderSide, TradeId};

pub use day::{DayBoundary, DayBoundaryError};

/// How a market settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "result", content = "value", rename_all = "snake_case")]
pub enum MarketResult {
    /// YES pays $1 per YES contract.
    Yes,
    /// NO pays $1 per NO contract.
    No,
    /// YES pays `value` per contract, NO pays `1 − value`.
    Scalar(Price),
}

impl MarketResult {
    /// What one YES contract pays.
    pub const fn yes_payout(self) -> Price {
        match self {
            MarketResult::Yes => Price::ONE,
            MarketResult::No => Price::ZERO,
            MarketResult::Scalar(value) => value,
        }
    }
}

/// One market's position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub ticker: Ticker,
    /// Signed: YES positive, NO negative.
    #[serde(with = "crate::core::num::signed_count")]
    pub contracts: Count,
    /// Total paid for the open contracts.
    pub cost_basis: Money,
    /// Realized P&L, gross of fees, including settlement.
    pub realized_pnl: Money,
    /// Fees the exchange charged (fills and settlement).
    pub fees_paid: Money,
    /// Basis for today's P&L: the cost basis, reset to the mark at each day boundary.
    pub day_cost_basis: Money,
    pub day_realized_pnl: Money,
    pub day_fees: Money,
    /// Set once the market has settled.
    pub settled: Option<MarketResult>,
}

impl Position {
    pub fn new(ticker: Ticker) -> Position {
        Position {
            ticker,
            contracts: Count::ZERO,
            cost_basis: Money::ZERO,
            realized_pnl: Money::ZERO,
            fees_paid: Money::ZERO,
            day_cost_basis: Money::ZERO,
            day_realized_pnl: Money::ZERO,
            day_fees: Money::ZERO,
            settled: None,
        }
    }

    pub fn is_flat(&self) -> bool {
        self.contracts.is_zero()
    }

    /// Average price paid per held contract (YES price when long, NO price when short).
    pub fn average_price(&self) -> Option<Price> {
        let held = i128::from(self.contracts.centi().abs());
        if held == 0 {
            return None;
        }
        let micros = i128::from(self.cost_basis.micros()) * i128::from(CENTI) / held;
        Price::from_micros(i64::try_from(micros).ok()?)
    }

    /// What the position is worth if every held contract is valued at `yes_price` (a NO contract
    /// at `1 − yes_price`).
    pub fn value_at(&self, yes_price: Price) -> Money {
        if self.contracts.is_positive() {
            value_of(yes_price, self.contracts)
        } else {
            value_of(yes_price.complement(), self.contracts.abs())
        }
    }

    /// What selling out now would bring: YES sold at the best YES bid, NO sold at the best NO bid
    /// (= 1 − best YES ask). `None` when the side needed has no price.
    pub fn exit_value(
        &self,
        best_yes_bid: Option<Price>,
        best_yes_ask: Option<Price>,
    ) -> Option<Money> {
        if self.contracts.is_positive() {
            Some(value_of(best_yes_bid?, self.contracts))
        } else if self.contracts.is_negative() {
            Some(value_of(best_yes_ask?.complement(), self.contracts.abs()))
        } else {
            Some(Money::ZERO)
        }
    }

    /// Unrealized P&L at the price we could exit at.
    pub fn unrealized_at_exit(
        &self,
        best_yes_bid: Option<Price>,
        best_yes_ask: Option<Price>,
    ) -> Option<Money> {
        let value = self.exit_value(best_yes_bid, best_yes_ask)?;
        Some(value.saturating_sub(self.cost_basis))
    }

    /// Unrealized P&L at the mid.
    pub fn unrealized_at_mid(&self, mid: Price) -> Money {
        self.value_at(mid).saturating_sub(self.cost_basis)
    }

    /// Today's P&L: realized today + mark change since the day's basis − today's fees.
    pub fn day_pnl_at_mid(&self, mid: Option<Price>) -> Money {
        let unrealized = match mid {
            Some(mid) => self.value_at(mid).saturating_sub(self.day_cost_basis),
            None => Money::ZERO,
        };
        self.day_realized_pnl
            .saturating_add(unrealized)
            .saturating_sub(self.day_fees)
    }

    /// Book one fill's contracts; returns its effect (fees not included).
    fn trade(&mut self, side: OrderSide, yes_price: Price, count: Count) -> TradeEffect {
        let held = self.contracts.abs();
        let closing = match side {
            OrderSide::Bid => self.contracts.is_negative(),
            OrderSide::Ask => self.contracts.is_positive(),
        };
        let closed = if closing {
            count.min(held)
        } else {
            Count::ZERO
        };
        let opened = count.saturating_sub(closed);
        // A bid closes NO by selling it at 1 − p; an ask closes YES by selling it at p.
        let sale_price = match side {
            OrderSide::Bid => yes_price.complement(),
            OrderSide::Ask => yes_price,
        };
        let proceeds = value_of(sale_price, closed);
        let removed = removed_cost(self.cost_basis, closed, held);
        let day_removed = removed_cost(self.day_cost_basis, closed, held);
        let realized = proceeds.saturating_sub(removed);
        self.realized_pnl = self.realized_pnl.saturating_add(realized);
        self.day_realized_pnl = self
            .day_realized_pnl
            .saturating_add(proceeds.saturating_sub(day_removed));
        self.cost_basis = self.cost_basis.saturating_sub(removed);
        self.day_cost_basis = self.day_cost_basis.saturating_sub(day_removed);
        // Opening buys the side's own contract: YES at p for a bid, NO at 1 − p for an ask.
        let cost = side.outcome_price(yes_price).cost_of(opened);
        self.cost_basis = self.cost_basis.saturating_add(cost);
        self.day_cost_basis = self.day_cost_basis.saturating_add(cost);
        let signed = Count::from_centi(count.centi() * side.position_sign());
        self.contracts = self.contracts.saturating_add(signed);
        TradeEffect {
            closed,
            opened,
            realized,
            cash_change: proceeds.saturating_sub(cost),
        }
    }
}

/// `price × count`, rounded down to the micro-dollar (exact on every live grid).
fn value_of(price: Price, count: Count) -> Money {
    let scaled = i128::from(price.micros()) * i128::from(count.centi());
    Money::from_micros(clamp(scaled.div_euclid(i128::from(CENTI))))
}

/// The share of `cost` carried by `closed` of `held` contracts.
fn removed_cost(cost: Money, closed: Count, held: Count) -> Money {
    if closed.is_zero() || held.is_zero() {
        return Money::ZERO;
    }
    if closed >= held {
        return cost;
    }
    let share = i128::from(cost.micros()) * i128::from(closed.centi()) / i128::from(held.centi());
    Money::from_micros(clamp(share))
}

fn clamp(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

struct TradeEffect {
    closed: Count,
    opened: Count,
    realized: Money,
    cash_change: Money,
}

/// What one fill did to the portfolio.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FillEffect {
    pub ticker: Ticker,
    /// Contracts closed out of the existing position.
    pub closed: Count,
    /// Contracts opened (or added) on the fill's own side.
    pub opened: Count,
    /// Realized P&L of the closed part, before fees.
    pub realized: Money,
    pub fee: Money,
    /// Cash moved: proceeds − cost − fee.
    pub cash_change: Money,
    #[serde(with = "crate::core::num::signed_count")]
    pub position_after: Count,
}

/// A settled position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SettlementRecord {
    pub ticker: Ticker,
    pub result: MarketResult,
    #[serde(with = "crate::core::num::signed_count")]
    pub contracts: Count,
    pub payout: Money,
    /// payout − cost basis, before the settlement fee.
    pub realized: Money,
    pub fee: Money,
    pub ts_ms: i64,
}

/// Today's P&L across all positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct DailyPnl {
    pub realized: Money,
    pub unrealized: Money,
    pub fees: Money,
    /// Open positions that had no mark (their unrealized part is left out).
    pub unmarked_positions: usize,
}

impl DailyPnl {
    pub fn total(&self) -> Money {
        self.realized
            .saturating_add(self.unrealized)
            .saturating_sub(self.fees)
    }
}

/// Cash: the exchange's last balance plus our own fills and settlements newer than it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
struct CashLedger {
    balance: Money,
    /// Exchange time (ms) the balance is as of; changes at or before it are already in it.
    as_of_ms: Option<i64>,
    /// Changes booked since (exchange ms, amount).
    changes: Vec<(i64, Money)>,
}

impl CashLedger {
    fn available(&self) -> Money {
        self.changes
            .iter()
            .fold(self.balance, |sum, (_, change)| sum.saturating_add(*change))
    }

    fn book(&mut self, ts_ms: i64, change: Money) {
        if self.as_of_ms.is_some_and(|as_of| ts_ms <= as_of) {
            return;
        }
        self.changes.push((ts_ms, change));
    }

    fn set_snapshot(&mut self, balance: Money, as_of_ms: i64) {
        self.balance = balance;
        self.as_of_ms = Some(as_of_ms);
        self.changes.retain(|(ts, _)| *ts > as_of_ms);
    }
}

/// Every position, P&L, settlements and cash.
#[derive(Debug, Clone)]
pub struct Portfolio {
    positions: BTreeMap<Ticker, Position>,
    booked_trades: FastSet<TradeId>,
    day_boundary: DayBoundary,
    current_day: Option<NaiveDate>,
    /// The wall-clock second `current_day` was last checked in: time zone offsets are whole
    /// seconds, so the trading day cannot change within one, and the engine asks on every input.
    day_checked_s: Option<i64>,
    cash: CashLedger,
    settlements: Vec<SettlementRecord>,
}

impl Default for Portfolio {
    fn default() -> Portfolio {
        Portfolio::new(DayBoundary::default(), Money::ZERO)
    }
}

impl Portfolio {
    /// An empty portfolio with `starting_balance` cash (replaced by the exchange's balance when
    /// one is read).
    pub fn new(day_boundary: DayBoundary, starting_balance: Money) -> Portfolio {
        Portfolio {
            positions: BTreeMap::new(),
            booked_trades: Default::default(),
            day_boundary,
            current_day: None,
            day_checked_s: None,
            cash: CashLedger {
                balance: starting_balance,
                as_of_ms: None,
                changes: Vec::new(),
            },
            settlements: Vec::new(),
        }
    }

    pub fn day_boundary(&self) -> &DayBoundary {
        &self.day_boundary
    }

    /// The trading day P&L is being counted for.
    pub fn current_day(&self) -> Option<NaiveDate> {
        self.current_day
    }

    /// Start a new trading day if `now_wall_ms` is past the boundary: today's basis becomes each
    /// position's mark (`mid_of`, or its cost basis when there is no mark), today's realized P&L
    /// and fees restart at zero, and flat positions are dropped. Returns whether a day started.
    pub fn roll_day(
        &mut self,
        now_wall_ms: i64,
        mid_of: impl Fn(&Ticker) -> Option<Price>,
    ) -> bool {
        let second = now_wall_ms.div_euclid(1_000);
        if self.day_checked_s == Some(second) {
            return false;
        }
        self.day_checked_s = Some(second);
        let today = self.day_boundary.trading_day(now_wall_ms);
        match self.current_day {
            Some(day) if day >= today => return false,
            None => {
                self.current_day = Some(today);
                return false;
            }
            Some(_) => {}
        }
        self.current_day = Some(today);
        self.positions.retain(|_, position| !position.is_flat());
        for position in self.positions.values_mut() {
            position.day_cost_basis = match mid_of(&position.ticker) {
                Some(mid) => position.value_at(mid),
                None => position.cost_basis,
            };
            position.day_realized_pnl = Money::ZERO;
            position.day_fees = Money::ZERO;
        }
        true
    }

    /// Book a fill (contracts, cost, realized P&L, the exchange's `fee_cost`, cash). A `trade_id`
    /// booked before returns `None` and changes nothing.
    pub fn apply_fill(&mut self, fill: &Fill, now_wall_ms: i64) -> Option<FillEffect> {
        if !self.booked_trades.insert(fill.trade_id.clone()) {
            return None;
        }
        self.roll_day(now_wall_ms, |_| None);
        let position = self
            .positions
            .entry(fill.ticker.clone())
            .or_insert_with(|| Position::new(fill.ticker.clone()));
        let effect = position.trade(fill.side, fill.yes_price, fill.count);
        position.fees_paid = position.fees_paid.saturating_add(fill.fee_cost);
        position.day_fees = position.day_fees.saturating_add(fill.fee_cost);
        let cash_change = effect.cash_change.saturating_sub(fill.fee_cost);
        self.cash.book(fill.ts_ms, cash_change);
        Some(FillEffect {
            ticker: fill.ticker.clone(),
            closed: effect.closed,
            opened: effect.opened,
            realized: effect.realized,
            fee: fill.fee_cost,
            cash_change,
            position_after: position.contracts,
        })
    }

    /// Settle a market: pay out the held contracts, realize against the cost basis, book the
    /// settlement fee. `None` if there is no position or it has already settled.
    pub fn settle(
        &mut self,
        ticker: &str,
        result: MarketResult,
        settlement_fee: Money,
        ts_ms: i64,
        now_wall_ms: i64,
    ) -> Option<SettlementRecord> {
        self.roll_day(now_wall_ms, |_| None);
        let position = self.positions.get_mut(ticker)?;
        if position.settled.is_some() {
            return None;
        }
        let contracts = position.contracts;
        let payout = position.value_at(result.yes_payout());
        let realized = payout.saturating_sub(position.cost_basis);
        position.realized_pnl = position.realized_pnl.saturating_add(realized);
        position.day_realized_pnl = position
            .day_realized_pnl
            .saturating_add(payout.saturating_sub(position.day_cost_basis));
        position.fees_paid = position.fees_paid.saturating_add(settlement_fee);
        position.day_fees = position.day_fees.saturating_add(settlement_fee);
        position.contracts = Count::ZERO;
        position.cost_basis = Money::ZERO;
        position.day_cost_basis = Money::ZERO;
        position.settled = Some(result);
        self.cash.book(ts_ms, payout.saturating_sub(settlement_fee));
        let record = SettlementRecord {
            ticker: position.ticker.clone(),
            result,
            contracts,
            payout,
            realized,
            fee: settlement_fee,
            ts_ms,
        };
        self.settlements.push(record.clone());
        Some(record)
    }

    /// Replace a position's size and cost with the exchange's (`market_position`, REST
    /// positions). Returns true if ours differed.
    pub fn reconcile_position(
        &mut self,
        ticker: &Ticker,
        contracts: Count,
        cost_basis: Money,
    ) -> bool {
        let position = self
            .positions
            .entry(ticker.clone())
            .or_insert_with(|| Position::new(ticker.clone()));
        let differed = position.contracts != contracts || position.cost_basis != cost_basis;
        if differed {
            let cost_change = cost_basis.saturating_sub(position.cost_basis);
            position.contracts = contracts;
            position.cost_basis = cost_basis;
            position.day_cost_basis = position.day_cost_basis.saturating_add(cost_change);
        }
        differed
    }

    pub fn position(&self, ticker: &str) -> Option<&Position> {
        self.positions.get(ticker)
    }

    /// Signed contracts held in a market (zero when none).
    pub fn contracts(&self, ticker: &str) -> Count {
        self.positions
            .get(ticker)
            .map_or(Count::ZERO, |position| position.contracts)
    }

    /// Every position, by ticker.
    pub fn positions(&self) -> impl Iterator<Item = &Position> {
        self.positions.values()
    }

    pub fn settlements(&self) -> &[SettlementRecord] {
        &self.settlements
    }

    pub fn realized_pnl(&self) -> Money {
        self.positions
            .values()
            .fold(Money::ZERO, |sum, p| sum.saturating_add(p.realized_pnl))
    }

    pub fn fees_paid(&self) -> Money {
        self.positions
            .values()
            .fold(Money::ZERO, |sum, p| sum.saturating_add(p.fees_paid))
    }

    /// Realized P&L minus every fee paid.
    pub fn realized_net_of_fees(&self) -> Money {
        self.realized_pnl().saturating_sub(self.fees_paid())
    }

    /// The market with the largest open position by size, and that signed position.
    pub fn largest_position(&self) -> Option<(Ticker, Count)> {
        self.positions
            .values()
            .filter(|p| !p.is_flat())
            .max_by(|a, b| {
                // Ties go to the first ticker in order.
                a.contracts
                    .abs()
                    .cmp(&b.contracts.abs())
                    .then_with(|| b.ticker.cmp(&a.ticker))
            })
            .map(|p| (p.ticker.clone(), p.contracts))
    }

    /// Total cost of open positions (what they put at risk).
    pub fn gross_exposure(&self) -> Money {
        self.positions
            .values()
            .fold(Money::ZERO, |sum, p| sum.saturating_add(p.cost_basis))
    }

    /// Unrealized P&L of every open position at mid (`None` marks are skipped).
    pub fn unrealized_at_mid(&self, mid_of: impl Fn(&Ticker) -> Option<Price>) -> Money {
        self.positions
            .values()
            .filter(|p| !p.is_flat())
            .filter_map(|p| mid_of(&p.ticker).map(|mid| p.unrealized_at_mid(mid)))
            .fold(Money::ZERO, Money::saturating_add)
    }

    /// Today's P&L at mid.
    pub fn daily_pnl(&self, mid_of: impl Fn(&Ticker) -> Option<Price>) -> DailyPnl {
        let mut pnl = DailyPnl::default();
        for position in self.positions.values() {
            pnl.realized = pnl.realized.saturating_add(position.day_realized_pnl);
            pnl.fees = pnl.fees.saturating_add(position.day_fees);
            if position.is_flat() {
                continue;
            }
            match mid_of(&position.ticker) {
                Some(mid) => {
                    let change = position
                        .value_at(mid)
                        .saturating_sub(position.day_cost_basis);
                    pnl.unrealized = pnl.unrealized.saturating_add(change);
                }
                None => pnl.unmarked_positions += 1,
            }
        }
        pnl
    }

    /// Take the exchange's balance (`balance_dollars`) as of exchange time `as_of_ms`; our own
    /// changes at or before that instant are already in it.
    pub fn set_exchange_balance(&mut self, balance: Money, as_of_ms: i64) {
        self.cash.set_snapshot(balance, as_of_ms);
    }

    /// Cash available: the last exchange balance plus newer fills and settlements.
    pub fn available_balance(&self) -> Money {
        self.cash.available()
    }

    /// What new orders may still spend: available cash minus `reserved` (the cost of resting and
    /// in-flight orders that the exchange's balance does not yet reflect — see
    /// `Orders::open_order_cost`). Never negative.
    pub fn buying_power(&self, reserved: Money) -> Money {
        self.available_balance()
            .saturating_sub(reserved)
            .max(Money::ZERO)
    }
}

#[cfg(test)]
mod tests;
