//! The exchange's record of each order: what was asked, what filled, what it cost, what
//! collateral it holds.

use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};

use super::accounts::money_ceil;
use super::types::{BookSide, BookSideExt, OrderStatus, SelfTradePrevention, TimeInForce};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub order_id: String,
    pub user_id: String,
    pub subaccount: u32,
    pub ticker: Ticker,
    pub event_ticker: String,
    pub side: BookSide,
    pub price: Price,
    pub initial: Count,
    pub filled: Count,
    pub remaining: Count,
    pub status: OrderStatus,
    pub time_in_force: TimeInForce,
    pub self_trade_prevention: SelfTradePrevention,
    pub client_order_id: String,
    pub order_group_id: Option<String>,
    pub cancel_order_on_pause: bool,
    pub post_only: bool,
    pub reduce_only: bool,
    pub expiration_ms: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub taker_fill_cost: Money,
    pub maker_fill_cost: Money,
    pub taker_fees: Money,
    pub maker_fees: Money,
    /// Rounding overpaid across this order's fills and not yet rebated (DIGEST 4.8).
    pub fee_accumulator: Money,
    /// Collateral still locked for the remaining non-reducing contracts.
    pub locked: Money,
    /// Remaining contracts that reduce an opposite position and so lock nothing.
    pub reducing_claim: Count,
}

impl OrderRecord {
    pub fn is_resting(&self) -> bool {
        self.status == OrderStatus::Resting
    }

    /// Collateral per contract of this order.
    pub fn cost_per_contract(&self) -> Price {
        self.side.cost_per_contract(self.price)
    }

    /// Consume `count` contracts of the order's claim/lock for a fill; returns the collateral to
    /// release. Once nothing remains, everything still locked is released.
    pub fn take_collateral_for_fill(&mut self, count: Count) -> Money {
        let from_claim = count.min(self.reducing_claim);
        self.reducing_claim = self.reducing_claim.saturating_sub(from_claim);
        let from_locked = count.saturating_sub(from_claim);
        let mut release = money_ceil(self.cost_per_contract(), from_locked).min(self.locked);
        if self.remaining.is_zero() {
            release = self.locked;
        }
        self.locked = self.locked.saturating_sub(release);
        release
    }

    /// Shrink the order by `count` contracts that will never trade (cancel, decrease, expiry):
    /// locked contracts go first, then the claim. Returns the collateral to release.
    pub fn take_collateral_for_reduction(&mut self, count: Count) -> Money {
        let locked_contracts = self.remaining_locked_contracts(count);
        let from_locked = count.min(locked_contracts);
        let from_claim = count.saturating_sub(from_locked);
        self.reducing_claim = self.reducing_claim.saturating_sub(from_claim);
        let mut release = money_ceil(self.cost_per_contract(), from_locked).min(self.locked);
        if self.remaining.is_zero() {
            release = self.locked;
        }
        self.locked = self.locked.saturating_sub(release);
        release
    }

    /// Contracts currently backed by locked money (remaining before the reduction minus claim).
    fn remaining_locked_contracts(&self, reduction: Count) -> Count {
        // Called after `remaining` was already lowered by `reduction`.
        self.remaining
            .saturating_add(reduction)
            .saturating_sub(self.reducing_claim)
            .max(Count::ZERO)
    }
}
