//! Automated strategies (DESIGN.md §6).
//!
//! A [`Strategy`] sees one market: a [`MarketView`] of the book, its own orders, the position and
//! an optional fair value, at a given [`Now`]; it answers with the orders it wants resting (or
//! sent). It is pure and deterministic. [`diff_orders`] turns "wanted" into place / amend / cancel
//! actions against the strategy's *own* orders only; the engine never lets a strategy see or
//! touch the operator's orders.

pub mod fair_value;
pub mod maker;
pub mod trigger;

use std::fmt;

use crate::core::book::Level;
use crate::core::market::{PriceGrid, Ticker};
use crate::core::num::{Count, Price};
use crate::core::risk::{Side, TimeInForce};
use crate::core::time::Now;

pub use fair_value::{FairValue, FairValueError, FairValues};
pub use maker::{FairSource, MakerParams};
pub use trigger::{Comparison, PriceField, TriggerParams};

/// What a strategy sees of its market.
#[derive(Debug, Clone)]
pub struct MarketView<'a> {
    pub ticker: &'a Ticker,
    pub grid: &'a PriceGrid,
    /// Best YES bid, in YES prices.
    pub best_bid: Option<Level>,
    /// Best YES ask (1 − best NO bid), in YES prices.
    pub best_ask: Option<Level>,
    pub mid: Option<Price>,
    pub microprice: Option<Price>,
    /// Last trade price (YES).
    pub last_trade: Option<Price>,
    /// Milliseconds since the book last changed; `None` when there is no usable book (no
    /// snapshot yet or waiting for a resync).
    pub book_age_ms: Option<u64>,
    /// When the market closes, on the exchange clock (Unix ms).
    pub close_exchange_ms: Option<i64>,
}

/// One of the strategy's own orders as the engine knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnOrder {
    pub client_order_id: String,
    pub side: Side,
    pub price: Price,
    pub remaining: Count,
    pub time_in_force: TimeInForce,
    /// Expiration on the exchange clock, Unix seconds (Kalshi's `expiration_time`).
    pub expiration_s: Option<i64>,
    /// A write for this order is in flight (or its state is unknown): leave it alone.
    pub busy: bool,
}

/// An order the strategy wants resting (or, for IOC, sent once).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DesiredOrder {
    pub side: Side,
    pub price: Price,
    pub count: Count,
    pub time_in_force: TimeInForce,
    pub post_only: bool,
    pub reduce_only: bool,
    /// Unix seconds on the exchange clock.
    pub expiration_s: Option<i64>,
    pub cancel_on_pause: bool,
}

/// A fill of one of the strategy's own orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnFill {
    pub side: Side,
    pub price: Price,
    pub count: Count,
}

/// Everything a strategy decides from.
#[derive(Debug, Clone)]
pub struct StrategyInput<'a> {
    pub view: MarketView<'a>,
    pub own_orders: &'a [OwnOrder],
    /// Signed position: + YES, − NO.
    pub position: Count,
    /// The external fair value, when one is known for this market.
    pub fair: Option<FairValue>,
    pub now: Now,
}

/// A strategy: pure and deterministic.
pub trait Strategy: fmt::Debug + Send {
    /// Short name for the screen and the log (`maker`, `trigger`).
    fn kind(&self) -> &'static str;

    /// The orders the strategy wants now.
    fn desired(&mut self, input: &StrategyInput<'_>) -> Vec<DesiredOrder>;

    /// One of its own orders filled.
    fn on_fill(&mut self, _fill: &OwnFill) {}

    /// `Some(max_age_ms)` when the strategy needs an external fair value no older than that; the
    /// engine pauses the market (`FairValueStale`) otherwise.
    fn external_fair_max_age_ms(&self) -> Option<u64> {
        None
    }
}

/// Why parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("{field}: {problem} (got {value})")]
    Invalid {
        field: &'static str,
        value: String,
        problem: &'static str,
    },
}

pub(crate) fn invalid(
    field: &'static str,
    value: impl fmt::Display,
    problem: &'static str,
) -> ParamError {
    ParamError::Invalid {
        field,
        value: value.to_string(),
        problem,
    }
}

/// A strategy's parameters as configured per market (config file or operator command).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "strategy")]
pub enum StrategyParams {
    Maker(MakerParams),
    Trigger(TriggerParams),
}

impl StrategyParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        match self {
            StrategyParams::Maker(params) => params.validate(),
            StrategyParams::Trigger(params) => params.validate(),
        }
    }

    /// Validates and builds a fresh strategy.
    pub fn build(&self) -> Result<Box<dyn Strategy>, ParamError> {
        self.validate()?;
        Ok(match self {
            StrategyParams::Maker(params) => Box::new(maker::Maker::new(params.clone())),
            StrategyParams::Trigger(params) => Box::new(trigger::Trigger::new(params.clone())),
        })
    }
}

/// What the engine should do to make the strategy's own orders match what it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderAction {
    Place(DesiredOrder),
    Amend {
        client_order_id: String,
        to: DesiredOrder,
    },
    /// Same price and expiration, smaller size: shrink in place and keep queue priority.
    Decrease {
        client_order_id: String,
        to: Count,
    },
    Cancel {
        client_order_id: String,
    },
}

/// Pairs wanted orders with own orders side by side (best price first) and returns the minimal
/// actions: decrease a resting GTC order that only shrinks, amend one whose price, expiration
/// or size (up) changed, cancel extras, place the rest. Busy orders (a write in flight, or unknown) are left alone and count as
/// matched, so nothing is duplicated while an answer is pending. IOC wants are always placed.
pub fn diff_orders(desired: &[DesiredOrder], own: &[OwnOrder]) -> Vec<OrderAction> {
    let mut actions = Vec::new();
    for side in [Side::Bid, Side::Ask] {
        let mut wants: Vec<&DesiredOrder> = desired
            .iter()
            .filter(|d| d.side == side && d.time_in_force == TimeInForce::GoodTillCanceled)
            .collect();
        let mut have: Vec<&OwnOrder> = own
            .iter()
            .filter(|o| o.side == side && o.time_in_force == TimeInForce::GoodTillCanceled)
            .collect();
        let better_first = |a: &Price, b: &Price| match side {
            Side::Bid => b.cmp(a),
            Side::Ask => a.cmp(b),
        };
        wants.sort_by(|a, b| better_first(&a.price, &b.price));
        have.sort_by(|a, b| better_first(&a.price, &b.price));
        let mut have = have.into_iter();
        for want in wants {
            match have.next() {
                Some(existing) if existing.busy => {}
                Some(existing) => {
                    let same_terms =
                        existing.price == want.price && existing.expiration_s == want.expiration_s;
                    if same_terms && want.count < existing.remaining {
                        actions.push(OrderAction::Decrease {
                            client_order_id: existing.client_order_id.clone(),
                            to: want.count,
                        });
                    } else if !same_terms || existing.remaining != want.count {
                        actions.push(OrderAction::Amend {
                            client_order_id: existing.client_order_id.clone(),
                            to: want.clone(),
                        });
                    }
                }
                None => actions.push(OrderAction::Place(want.clone())),
            }
        }
        for extra in have.filter(|o| !o.busy) {
            actions.push(OrderAction::Cancel {
                client_order_id: extra.client_order_id.clone(),
            });
        }
    }
    let ioc_in_flight = own
        .iter()
        .any(|o| o.time_in_force != TimeInForce::GoodTillCanceled);
    if !ioc_in_flight {
        for want in desired
            .iter()
            .filter(|d| d.time_in_force != TimeInForce::GoodTillCanceled)
        {
            actions.push(OrderAction::Place(want.clone()));
        }
    }
    actions
}

/// Expiration in Unix seconds `ttl_ms` from now on the exchange clock, rounded up.
pub fn expiration_after(now: &Now, ttl_ms: u64) -> i64 {
    let at_ms = now
        .exchange_ms()
        .saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX));
    at_ms.div_euclid(1000) + i64::from(at_ms.rem_euclid(1000) != 0)
}

#[cfg(test)]
mod tests;
