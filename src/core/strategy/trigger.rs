//! `trigger`: take YES or NO up to N contracts when a price condition holds (e.g. "YES ask ≤
//! 0.35"), with an optional take-profit and stop; one-shot or repeating.
//!
//! Entries and exits are IOC orders. The position the engine reports is the truth for how much
//! is held; the trigger only remembers its average entry price (from its own fills) and its
//! phase.

use crate::core::num::{Count, Money, Price};
use crate::core::risk::{Side, TimeInForce};

use super::{DesiredOrder, OwnFill, ParamError, Strategy, StrategyInput, invalid};

/// The price a condition watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceField {
    YesBid,
    YesAsk,
    /// 1 − YES ask.
    NoBid,
    /// 1 − YES bid.
    NoAsk,
    Mid,
    LastTrade,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    AtOrBelow,
    AtOrAbove,
}

/// Which contract to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Yes,
    No,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerParams {
    pub field: PriceField,
    pub comparison: Comparison,
    pub threshold: Price,
    pub take: Outcome,
    /// Hold at most this many contracts of `take`.
    pub max_count: Count,
    /// Worst price paid per contract, in the taken contract's own terms (NO price for NO).
    pub limit_price: Option<Price>,
    /// Exit once the exit price is this much above the average entry.
    pub take_profit: Option<Money>,
    /// Exit once the exit price is this much below the average entry.
    pub stop_loss: Option<Money>,
    /// After an exit, wait for the condition again (otherwise the trigger is done).
    pub repeat: bool,
    /// No action on a book older than this.
    pub stale_book_ms: u64,
}

impl TriggerParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        if self.threshold <= Price::ZERO || self.threshold >= Price::ONE {
            return Err(invalid(
                "threshold",
                self.threshold,
                "must lie strictly between 0 and 1",
            ));
        }
        if !self.max_count.is_positive() {
            return Err(invalid("max_count", self.max_count, "must be positive"));
        }
        if let Some(limit) = self.limit_price
            && (limit <= Price::ZERO || limit >= Price::ONE)
        {
            return Err(invalid(
                "limit_price",
                limit,
                "must lie strictly between 0 and 1",
            ));
        }
        for (field, value) in [
            ("take_profit", self.take_profit),
            ("stop_loss", self.stop_loss),
        ] {
            if let Some(value) = value
                && value <= Money::ZERO
            {
                return Err(invalid(field, value, "must be positive"));
            }
        }
        if self.stale_book_ms == 0 {
            return Err(invalid(
                "stale_book_ms",
                self.stale_book_ms,
                "must be positive",
            ));
        }
        Ok(())
    }

    fn has_exit(&self) -> bool {
        self.take_profit.is_some() || self.stop_loss.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for the condition, or topping up to `max_count` while it holds.
    Entering,
    /// An exit fired; wait for the position to be flat.
    Exiting,
    /// One-shot and finished.
    Done,
}

#[derive(Debug, Clone)]
pub struct Trigger {
    params: TriggerParams,
    phase: Phase,
    /// Contracts and total cost of entry fills since the last flat, in the taken contract's
    /// own prices.
    entry_count: Count,
    entry_cost: Money,
}

impl Trigger {
    pub fn new(params: TriggerParams) -> Trigger {
        Trigger {
            params,
            phase: Phase::Entering,
            entry_count: Count::ZERO,
            entry_cost: Money::ZERO,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Average entry price of the current holding, own-contract terms.
    pub fn average_entry(&self) -> Option<Price> {
        if !self.entry_count.is_positive() {
            return None;
        }
        // cost (µ$) / count (centi) × 100 = µ$ per contract.
        let micros =
            i128::from(self.entry_cost.micros()) * 100 / i128::from(self.entry_count.centi());
        Price::from_micros(i64::try_from(micros).ok()?)
    }

    fn entry_side(&self) -> Side {
        match self.params.take {
            Outcome::Yes => Side::Bid,
            Outcome::No => Side::Ask,
        }
    }

    fn held(&self, position: Count) -> Count {
        match self.params.take {
            Outcome::Yes => position.max(Count::ZERO),
            Outcome::No => (-position).max(Count::ZERO),
        }
    }

    fn observed(&self, input: &StrategyInput<'_>) -> Option<Price> {
        let view = &input.view;
        match self.params.field {
            PriceField::YesBid => view.best_bid.map(|l| l.price),
            PriceField::YesAsk => view.best_ask.map(|l| l.price),
            PriceField::NoBid => view.best_ask.map(|l| l.price.complement()),
            PriceField::NoAsk => view.best_bid.map(|l| l.price.complement()),
            PriceField::Mid => view.mid,
            PriceField::LastTrade => view.last_trade,
        }
    }

    fn condition_holds(&self, input: &StrategyInput<'_>) -> bool {
        self.observed(input)
            .is_some_and(|price| match self.params.comparison {
                Comparison::AtOrBelow => price <= self.params.threshold,
                Comparison::AtOrAbove => price >= self.params.threshold,
            })
    }

    fn ioc(side: Side, price: Price, count: Count, reduce_only: bool) -> DesiredOrder {
        DesiredOrder {
            side,
            price,
            count,
            time_in_force: TimeInForce::ImmediateOrCancel,
            post_only: false,
            reduce_only,
            expiration_s: None,
            cancel_on_pause: false,
        }
    }

    /// The entry order: take the best offer of the taken contract, within the limit.
    fn entry(&self, input: &StrategyInput<'_>, count: Count) -> Option<DesiredOrder> {
        let (own_price, yes_price) = match self.params.take {
            // Buy YES at the YES ask.
            Outcome::Yes => {
                let ask = input.view.best_ask?.price;
                (ask, ask)
            }
            // Buy NO at the NO ask = 1 − YES bid, sent as an ask at the YES bid.
            Outcome::No => {
                let bid = input.view.best_bid?.price;
                (bid.complement(), bid)
            }
        };
        if self
            .params
            .limit_price
            .is_some_and(|limit| own_price > limit)
        {
            return None;
        }
        Some(Self::ioc(self.entry_side(), yes_price, count, false))
    }

    /// The exit order when take-profit or stop is hit: sell into the best bid of the held
    /// contract.
    fn exit(&self, input: &StrategyInput<'_>, held: Count) -> Option<DesiredOrder> {
        let entry = self.average_entry()?;
        let (own_bid, yes_price) = match self.params.take {
            Outcome::Yes => {
                let bid = input.view.best_bid?.price;
                (bid, bid)
            }
            Outcome::No => {
                let ask = input.view.best_ask?.price;
                (ask.complement(), ask)
            }
        };
        let gain = own_bid.diff(entry);
        let take_profit = self.params.take_profit.is_some_and(|tp| gain >= tp);
        let stop = self.params.stop_loss.is_some_and(|sl| gain <= -sl);
        (take_profit || stop)
            .then(|| Self::ioc(self.entry_side().opposite(), yes_price, held, true))
    }
}

impl Strategy for Trigger {
    fn kind(&self) -> &'static str {
        "trigger"
    }

    fn desired(&mut self, input: &StrategyInput<'_>) -> Vec<DesiredOrder> {
        let held = self.held(input.position);
        if held.is_zero() && self.phase == Phase::Exiting {
            self.phase = if self.params.repeat {
                Phase::Entering
            } else {
                Phase::Done
            };
            self.entry_count = Count::ZERO;
            self.entry_cost = Money::ZERO;
        }
        let stale = input
            .view
            .book_age_ms
            .is_none_or(|age| age > self.params.stale_book_ms);
        if stale || self.phase == Phase::Done {
            return Vec::new();
        }
        if held.is_positive() && self.params.has_exit() {
            if let Some(exit) = self.exit(input, held) {
                self.phase = Phase::Exiting;
                return vec![exit];
            }
            if self.phase == Phase::Exiting {
                // The exit IOC did not clear everything: keep trying while the rule holds.
                return Vec::new();
            }
        }
        if self.phase != Phase::Entering {
            return Vec::new();
        }
        let room = self.params.max_count.saturating_sub(held);
        if !room.is_positive() {
            if !self.params.has_exit() && !self.params.repeat {
                self.phase = Phase::Done;
            }
            return Vec::new();
        }
        if !self.condition_holds(input) {
            return Vec::new();
        }
        self.entry(input, room).into_iter().collect()
    }

    fn on_fill(&mut self, fill: &OwnFill) {
        if fill.side != self.entry_side() {
            return;
        }
        let own_price = match self.params.take {
            Outcome::Yes => fill.price,
            Outcome::No => fill.price.complement(),
        };
        self.entry_count = self.entry_count.saturating_add(fill.count);
        self.entry_cost = self
            .entry_cost
            .saturating_add(own_price.cost_of(fill.count));
    }
}
