//! Price-time matching for one market, with Kalshi's YES/NO duality. Pure and synchronous.
//!
//! One book per market, kept as the **YES book**: a YES bid at `p` is a bid; a NO bid at `q` rests
//! as a YES **ask** at `1 − q` (Kalshi's V2 `side: ask`). A bid at `p` crosses an ask at `a` when
//! `a ≤ p`, which is the same as a YES bid at `p` meeting a NO bid at `q` when `p + q ≥ 1`.
//! Trades print at the resting (maker) order's YES price.
//!
//! # API
//! - [`MatchingBook::new`]`(ticker, grid)`: empty book on a [`PriceGrid`].
//! - [`MatchingBook::submit`]`(NewOrder, now_ms) -> Result<SubmitOutcome, MatchReject>`: limit
//!   orders only; [`TimeInForce`] GTC (optionally with `expiration_ms`), IOC, FoK; `post_only`
//!   (rejected with [`MatchReject::PostOnlyCross`] if it would cross); reduce-only (IOC only,
//!   capped at the position the caller passes in `reduce_only_position`); self-trade prevention
//!   [`SelfTradePrevention::TakerAtCross`] (the incoming order's remainder is cancelled at the
//!   self-cross, earlier fills stand) or [`SelfTradePrevention::Maker`] (the resting own order is
//!   cancelled and matching goes on). A FoK is killed whole (no fills) when the crossing liquidity
//!   of other owners cannot fill it; a FoK that self-crosses under `TakerAtCross` behaves like IoC
//!   (fills before the self-cross stand), per Kalshi's Sep 2025 changelog.
//! - [`MatchingBook::amend`]`(order_id, new_price, new_total_count, now_ms)`: `new_total_count` is
//!   filled + desired remaining, as on Kalshi. Same price and smaller remaining keeps queue
//!   priority; a price change or size increase re-enters the book at the back (and may cross).
//! - [`MatchingBook::decrease`]`(order_id, Decrease::By | Decrease::To)`: keeps priority; to zero
//!   cancels. [`MatchingBook::cancel`]`(order_id)`.
//! - [`MatchingBook::expire`]`(now_ms)`: removes GTD orders whose `expiration_ms <= now_ms`.
//!   `submit` and `amend` expire first too; every expired order is reported exactly once, in a
//!   [`SubmitOutcome::expired`] or in `expire`'s return (a rejected submit keeps them for the next).
//! - Reads: [`MatchingBook::levels`] (YES bids ascending, NO bids ascending in NO prices, as the
//!   REST orderbook), [`MatchingBook::best_bid`]/[`MatchingBook::best_ask`],
//!   [`MatchingBook::resting_orders`], [`MatchingBook::order`],
//!   [`MatchingBook::queue_position`] (size ahead at the same price).
//!
//! Counts are centi-contracts ([`Count`]), so fractional orders just work. Order and owner ids are
//! the caller's `u64`s (the simulator maps them to its uuids and accounts).
//!
//! Storage: levels are a dense array indexed by grid tick, each a doubly linked FIFO of order
//! slots in one slab, so placing, cancelling and matching allocate nothing per level.

use crate::core::FastMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::core::market::{PriceGrid, Ticker};
use crate::core::num::{Count, Price};

/// The caller's order id.
pub type OrderId = u64;
/// The caller's account id.
pub type OwnerId = u64;

/// Side on the YES book: `Bid` buys YES, `Ask` sells YES (≡ buys NO at `1 − price`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BookSide {
    Bid,
    Ask,
}

impl BookSide {
    pub const fn opposite(self) -> BookSide {
        match self {
            BookSide::Bid => BookSide::Ask,
            BookSide::Ask => BookSide::Bid,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Rests until filled or cancelled; with `expiration_ms` it is good-till-date.
    GoodTillCanceled,
    ImmediateOrCancel,
    FillOrKill,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SelfTradePrevention {
    /// Cancel the incoming order's remainder when it reaches its owner's resting order.
    TakerAtCross,
    /// Cancel the owner's resting order and keep matching.
    Maker,
}

/// An incoming limit order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    pub order_id: OrderId,
    pub owner: OwnerId,
    pub side: BookSide,
    /// YES price; must be on the grid and strictly between 0 and 1.
    pub price: Price,
    pub count: Count,
    pub time_in_force: TimeInForce,
    pub post_only: bool,
    /// `Some(position)` makes the order reduce-only: the owner's signed position in this market
    /// (+YES / −NO) caps the size at what reduces it. Only with IOC.
    pub reduce_only_position: Option<Count>,
    pub self_trade_prevention: SelfTradePrevention,
    /// Good-till-date: the order expires when `now_ms >= expiration_ms`. Only with GTC.
    pub expiration_ms: Option<i64>,
}

impl NewOrder {
    /// A plain GTC limit order with `taker_at_cross` STP.
    pub fn limit(
        order_id: OrderId,
        owner: OwnerId,
        side: BookSide,
        price: Price,
        count: Count,
    ) -> NewOrder {
        NewOrder {
            order_id,
            owner,
            side,
            price,
            count,
            time_in_force: TimeInForce::GoodTillCanceled,
            post_only: false,
            reduce_only_position: None,
            self_trade_prevention: SelfTradePrevention::TakerAtCross,
            expiration_ms: None,
        }
    }
}

/// An order in the book.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    pub order_id: OrderId,
    pub owner: OwnerId,
    pub side: BookSide,
    pub price: Price,
    pub remaining: Count,
    /// Filled so far over the order's life (amend's `count` is `filled + remaining`).
    pub filled: Count,
    pub post_only: bool,
    pub self_trade_prevention: SelfTradePrevention,
    pub expiration_ms: Option<i64>,
    /// Time priority: lower was queued earlier. Re-queued orders get a new one.
    pub priority_seq: u64,
}

/// One match between the incoming order and a resting one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchFill {
    pub taker_order_id: OrderId,
    pub maker_order_id: OrderId,
    pub taker_owner: OwnerId,
    pub maker_owner: OwnerId,
    /// The resting order's YES price.
    pub price: Price,
    pub count: Count,
    pub taker_side: BookSide,
    /// What the maker has left after this fill (zero = fully executed and gone).
    pub maker_remaining: Count,
}

/// Why the unfilled part of an incoming order did not rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemainderCancel {
    ImmediateOrCancel,
    /// Not enough liquidity: the whole order was killed without fills.
    FillOrKill,
    /// Stopped at its owner's resting order (`taker_at_cross`).
    SelfTrade,
    /// Post-only IOC/FoK that did not cross: nothing could execute.
    PostOnlyNoRest,
}

/// What happened to an incoming (or amended) order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitOutcome {
    pub fills: Vec<MatchFill>,
    /// Size left resting in the book, if any.
    pub rested: Option<Count>,
    /// Size that neither filled nor rested.
    pub cancelled_remainder: Count,
    pub cancel_reason: Option<RemainderCancel>,
    /// The owner's resting orders cancelled by `maker` self-trade prevention.
    pub stp_cancelled_makers: Vec<RestingOrder>,
    /// Orders that expired before this order was processed.
    pub expired: Vec<RestingOrder>,
    /// The size the order was accepted for (after the reduce-only cap).
    pub accepted_count: Count,
}

impl SubmitOutcome {
    pub fn filled(&self) -> Count {
        self.fills
            .iter()
            .fold(Count::ZERO, |sum, f| sum.saturating_add(f.count))
    }
}

/// Why an order, amend or decrease was refused. Nothing in the book changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatchReject {
    #[error("count {0} must be positive")]
    InvalidCount(Count),
    #[error("price {0} is not on the market's price grid")]
    OffGrid(Price),
    #[error("price {0} must be strictly between 0 and 1")]
    PriceOutOfRange(Price),
    #[error("order id {0} is already in use")]
    DuplicateOrderId(OrderId),
    #[error("post-only order would cross the book")]
    PostOnlyCross,
    #[error("reduce-only orders must be immediate_or_cancel")]
    ReduceOnlyRequiresIoc,
    #[error("reduce-only order would not reduce the position {position}")]
    ReduceOnlyWouldIncrease { position: Count },
    #[error("expiration is only allowed with good_till_canceled")]
    ExpirationRequiresGtc,
    #[error("expiration {expiration_ms} ms is not after now ({now_ms} ms)")]
    ExpirationInPast { expiration_ms: i64, now_ms: i64 },
    #[error("order {0} is not resting in this book")]
    UnknownOrder(OrderId),
    #[error("new total count {new_total} is not above the {filled} already filled")]
    AmendBelowFilled { new_total: Count, filled: Count },
}

/// How to shrink a resting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decrease {
    By(Count),
    To(Count),
}

/// Result of a decrease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecreaseOutcome {
    pub reduced_by: Count,
    /// The order after the decrease; its `remaining` is zero when it was cancelled.
    pub order: RestingOrder,
}

/// Aggregated book, as Kalshi's REST orderbook shows it: both arrays ascending, best last.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BookLevels {
    pub yes_bids: Vec<(Price, Count)>,
    /// NO bids in NO prices (each is a YES ask at `1 − price`).
    pub no_bids: Vec<(Price, Count)>,
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Level {
    head: u32,
    tail: u32,
    total: i64,
}

const EMPTY_LEVEL: Level = Level {
    head: NIL,
    tail: NIL,
    total: 0,
};

#[derive(Clone, Debug)]
struct Slot {
    order: RestingOrder,
    tick: usize,
    prev: u32,
    next: u32,
}

/// The incoming side of a match.
struct Taker {
    order_id: OrderId,
    owner: OwnerId,
    side: BookSide,
    tick: usize,
    remaining: i64,
    stp: SelfTradePrevention,
}

/// One market's book. See the module docs.
#[derive(Clone, Debug)]
pub struct MatchingBook {
    ticker: Ticker,
    grid: PriceGrid,
    bids: Vec<Level>,
    asks: Vec<Level>,
    best_bid: Option<usize>,
    best_ask: Option<usize>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    by_id: FastMap<OrderId, u32>,
    expiries: BinaryHeap<Reverse<(i64, OrderId)>>,
    expired_unreported: Vec<RestingOrder>,
    next_seq: u64,
}

impl MatchingBook {
    pub fn new(ticker: Ticker, grid: PriceGrid) -> MatchingBook {
        let ticks = grid.tick_count();
        MatchingBook {
            ticker,
            grid,
            bids: vec![EMPTY_LEVEL; ticks],
            asks: vec![EMPTY_LEVEL; ticks],
            best_bid: None,
            best_ask: None,
            slots: Vec::new(),
            free_slots: Vec::new(),
            by_id: Default::default(),
            expiries: BinaryHeap::new(),
            expired_unreported: Vec::new(),
            next_seq: 0,
        }
    }

    pub fn ticker(&self) -> &Ticker {
        &self.ticker
    }

    pub fn grid(&self) -> &PriceGrid {
        &self.grid
    }

    /// Match an incoming limit order and rest what is left (GTC) or cancel it (IOC/FoK).
    pub fn submit(&mut self, order: NewOrder, now_ms: i64) -> Result<SubmitOutcome, MatchReject> {
        if !order.count.is_positive() {
            return Err(MatchReject::InvalidCount(order.count));
        }
        let tick = self.tradeable_tick(order.price)?;
        if self.by_id.contains_key(&order.order_id) {
            return Err(MatchReject::DuplicateOrderId(order.order_id));
        }
        if let Some(expiration_ms) = order.expiration_ms {
            if order.time_in_force != TimeInForce::GoodTillCanceled {
                return Err(MatchReject::ExpirationRequiresGtc);
            }
            if expiration_ms <= now_ms {
                return Err(MatchReject::ExpirationInPast {
                    expiration_ms,
                    now_ms,
                });
            }
        }
        let mut count = order.count;
        if let Some(position) = order.reduce_only_position {
            if order.time_in_force != TimeInForce::ImmediateOrCancel {
                return Err(MatchReject::ReduceOnlyRequiresIoc);
            }
            // A YES bid reduces a NO (negative) position; an ask reduces a YES position.
            let reducible = match order.side {
                BookSide::Bid => (-position).max(Count::ZERO),
                BookSide::Ask => position.max(Count::ZERO),
            };
            if !reducible.is_positive() {
                return Err(MatchReject::ReduceOnlyWouldIncrease { position });
            }
            count = count.min(reducible);
        }
        self.expire_due(now_ms);
        if order.post_only && self.crosses(order.side, tick) {
            return Err(MatchReject::PostOnlyCross);
        }

        let mut outcome = SubmitOutcome {
            accepted_count: count,
            expired: std::mem::take(&mut self.expired_unreported),
            ..SubmitOutcome::default()
        };
        let mut taker = Taker {
            order_id: order.order_id,
            owner: order.owner,
            side: order.side,
            tick,
            remaining: count.centi(),
            stp: order.self_trade_prevention,
        };
        if order.time_in_force == TimeInForce::FillOrKill
            && self.crossing_liquidity(&taker) < taker.remaining
        {
            outcome.cancelled_remainder = count;
            outcome.cancel_reason = Some(RemainderCancel::FillOrKill);
            return Ok(outcome);
        }
        let stopped_by_self_trade = self.run_match(&mut taker, &mut outcome);
        let remaining = Count::from_centi(taker.remaining);
        if taker.remaining > 0 {
            let reason = if stopped_by_self_trade {
                Some(RemainderCancel::SelfTrade)
            } else {
                match order.time_in_force {
                    TimeInForce::GoodTillCanceled => None,
                    TimeInForce::ImmediateOrCancel if order.post_only => {
                        Some(RemainderCancel::PostOnlyNoRest)
                    }
                    TimeInForce::FillOrKill if order.post_only => {
                        Some(RemainderCancel::PostOnlyNoRest)
                    }
                    TimeInForce::ImmediateOrCancel => Some(RemainderCancel::ImmediateOrCancel),
                    // Only reachable when own orders were skipped by the liquidity check.
                    TimeInForce::FillOrKill => Some(RemainderCancel::ImmediateOrCancel),
                }
            };
            match reason {
                Some(reason) => {
                    outcome.cancelled_remainder = remaining;
                    outcome.cancel_reason = Some(reason);
                }
                None => {
                    let filled = count.saturating_sub(remaining);
                    self.rest(
                        RestingOrder {
                            order_id: order.order_id,
                            owner: order.owner,
                            side: order.side,
                            price: order.price,
                            remaining,
                            filled,
                            post_only: order.post_only,
                            self_trade_prevention: order.self_trade_prevention,
                            expiration_ms: order.expiration_ms,
                            priority_seq: 0,
                        },
                        tick,
                    );
                    outcome.rested = Some(remaining);
                }
            }
        }
        Ok(outcome)
    }

    /// Change a resting order's price and/or total size (`filled + remaining`). Same price and
    /// a smaller remaining keeps priority; anything else re-queues it (and it may cross).
    pub fn amend(
        &mut self,
        order_id: OrderId,
        new_price: Price,
        new_total_count: Count,
        now_ms: i64,
    ) -> Result<SubmitOutcome, MatchReject> {
        let slot = *self
            .by_id
            .get(&order_id)
            .ok_or(MatchReject::UnknownOrder(order_id))?;
        let tick = self.tradeable_tick(new_price)?;
        let current = self.slots[slot as usize].order.clone();
        let new_remaining = new_total_count
            .checked_sub(current.filled)
            .filter(|c| c.is_positive())
            .ok_or(MatchReject::AmendBelowFilled {
                new_total: new_total_count,
                filled: current.filled,
            })?;
        self.expire_due(now_ms);
        let mut outcome = SubmitOutcome {
            accepted_count: new_remaining,
            expired: std::mem::take(&mut self.expired_unreported),
            ..SubmitOutcome::default()
        };
        if !self.by_id.contains_key(&order_id) {
            // It expired just now: the amend finds nothing to change.
            self.expired_unreported = std::mem::take(&mut outcome.expired);
            return Err(MatchReject::UnknownOrder(order_id));
        }
        if new_price == current.price && new_remaining <= current.remaining {
            let shrink = current.remaining.saturating_sub(new_remaining);
            self.shrink_in_place(slot, shrink);
            outcome.rested = Some(new_remaining);
            return Ok(outcome);
        }
        // Leaving the book first means the order can never match itself.
        let side = current.side;
        let would_cross = {
            self.unlink(slot);
            self.crosses(side, tick)
        };
        if current.post_only && would_cross {
            let original_tick = self.slots[slot as usize].tick;
            self.relink_original(slot, original_tick, current);
            self.expired_unreported = std::mem::take(&mut outcome.expired);
            return Err(MatchReject::PostOnlyCross);
        }
        self.release(slot);
        let mut taker = Taker {
            order_id,
            owner: current.owner,
            side,
            tick,
            remaining: new_remaining.centi(),
            stp: current.self_trade_prevention,
        };
        let stopped_by_self_trade = self.run_match(&mut taker, &mut outcome);
        let remaining = Count::from_centi(taker.remaining);
        if taker.remaining > 0 {
            if stopped_by_self_trade {
                outcome.cancelled_remainder = remaining;
                outcome.cancel_reason = Some(RemainderCancel::SelfTrade);
            } else {
                let filled_now = new_remaining.saturating_sub(remaining);
                self.rest(
                    RestingOrder {
                        price: new_price,
                        remaining,
                        filled: current.filled.saturating_add(filled_now),
                        ..current
                    },
                    tick,
                );
                outcome.rested = Some(remaining);
            }
        }
        Ok(outcome)
    }

    /// Shrink a resting order without losing its place; shrinking to zero cancels it.
    pub fn decrease(
        &mut self,
        order_id: OrderId,
        decrease: Decrease,
    ) -> Result<DecreaseOutcome, MatchReject> {
        let slot = *self
            .by_id
            .get(&order_id)
            .ok_or(MatchReject::UnknownOrder(order_id))?;
        let remaining = self.slots[slot as usize].order.remaining;
        let reduced_by = match decrease {
            Decrease::By(by) if by.is_positive() => by.min(remaining),
            Decrease::To(to) if !to.is_negative() => remaining.saturating_sub(to).max(Count::ZERO),
            Decrease::By(bad) | Decrease::To(bad) => return Err(MatchReject::InvalidCount(bad)),
        };
        if reduced_by == remaining {
            let mut order = self.remove(slot);
            order.remaining = Count::ZERO;
            return Ok(DecreaseOutcome { reduced_by, order });
        }
        self.shrink_in_place(slot, reduced_by);
        Ok(DecreaseOutcome {
            reduced_by,
            order: self.slots[slot as usize].order.clone(),
        })
    }

    /// Remove a resting order; `None` if it is not in the book.
    pub fn cancel(&mut self, order_id: OrderId) -> Option<RestingOrder> {
        let slot = *self.by_id.get(&order_id)?;
        Some(self.remove(slot))
    }

    /// Remove every resting order of one owner (cancel-all, order-group trigger), in id order.
    pub fn cancel_owner(&mut self, owner: OwnerId) -> Vec<RestingOrder> {
        let mut ids: Vec<OrderId> = self
            .resting_orders()
            .filter(|o| o.owner == owner)
            .map(|o| o.order_id)
            .collect();
        ids.sort_unstable();
        ids.into_iter().filter_map(|id| self.cancel(id)).collect()
    }

    /// Remove every resting order (market closed), in id order.
    pub fn cancel_all(&mut self) -> Vec<RestingOrder> {
        let mut ids: Vec<OrderId> = self.by_id.keys().copied().collect();
        ids.sort_unstable();
        ids.into_iter().filter_map(|id| self.cancel(id)).collect()
    }

    /// Remove GTD orders with `expiration_ms <= now_ms`, plus any expired earlier and not yet
    /// reported, in expiry order.
    pub fn expire(&mut self, now_ms: i64) -> Vec<RestingOrder> {
        self.expire_due(now_ms);
        std::mem::take(&mut self.expired_unreported)
    }

    /// Switch to a new grid (`price_level_structure_updated`). Orders keep their priority;
    /// orders whose price is not tradeable on the new grid are cancelled and returned.
    pub fn set_grid(&mut self, grid: PriceGrid) -> Vec<RestingOrder> {
        let mut orders: Vec<RestingOrder> = self.resting_orders().cloned().collect();
        orders.sort_by_key(|o| o.priority_seq);
        let keep_seq = self.next_seq;
        let expired_unreported = std::mem::take(&mut self.expired_unreported);
        let expiries = std::mem::take(&mut self.expiries);
        *self = MatchingBook::new(self.ticker.clone(), grid);
        self.expired_unreported = expired_unreported;
        self.expiries = expiries;
        self.next_seq = keep_seq;
        let mut dropped = Vec::new();
        for order in orders {
            match self.grid.tick_index(order.price) {
                Some(tick) if self.grid.is_tradeable(order.price) => {
                    self.link_tail_with_seq(order, tick);
                }
                _ => dropped.push(order),
            }
        }
        dropped
    }

    pub fn order(&self, order_id: OrderId) -> Option<&RestingOrder> {
        self.by_id
            .get(&order_id)
            .map(|&slot| &self.slots[slot as usize].order)
    }

    /// Every resting order, in no particular order.
    pub fn resting_orders(&self) -> impl Iterator<Item = &RestingOrder> + '_ {
        self.by_id
            .values()
            .map(|&slot| &self.slots[slot as usize].order)
    }

    pub fn order_count(&self) -> usize {
        self.by_id.len()
    }

    /// Size queued ahead of the order at its price; `None` if it is not resting.
    pub fn queue_position(&self, order_id: OrderId) -> Option<Count> {
        let mut slot = self.slots[*self.by_id.get(&order_id)? as usize].prev;
        let mut ahead = 0i64;
        while slot != NIL {
            let s = &self.slots[slot as usize];
            ahead += s.order.remaining.centi();
            slot = s.prev;
        }
        Some(Count::from_centi(ahead))
    }

    /// Highest YES bid and its size.
    pub fn best_bid(&self) -> Option<(Price, Count)> {
        self.best_bid.map(|tick| self.level_view(&self.bids, tick))
    }

    /// Lowest YES ask (= 1 − best NO bid) and its size.
    pub fn best_ask(&self) -> Option<(Price, Count)> {
        self.best_ask.map(|tick| self.level_view(&self.asks, tick))
    }

    /// Size resting at one YES price on one side.
    pub fn size_at(&self, side: BookSide, price: Price) -> Count {
        let levels = match side {
            BookSide::Bid => &self.bids,
            BookSide::Ask => &self.asks,
        };
        self.grid
            .tick_index(price)
            .and_then(|tick| levels.get(tick))
            .map_or(Count::ZERO, |level| Count::from_centi(level.total))
    }

    /// The aggregated book: YES bids ascending; NO bids ascending in NO prices.
    pub fn levels(&self) -> BookLevels {
        let collect = |levels: &[Level]| -> Vec<(Price, Count)> {
            levels
                .iter()
                .enumerate()
                .filter(|(_, level)| level.total > 0)
                .filter_map(|(tick, level)| {
                    Some((self.grid.price_at(tick)?, Count::from_centi(level.total)))
                })
                .collect()
        };
        let yes_bids = collect(&self.bids);
        let no_bids = collect(&self.asks)
            .into_iter()
            .rev()
            .map(|(price, size)| (price.complement(), size))
            .collect();
        BookLevels { yes_bids, no_bids }
    }

    // ---- internals ----

    fn tradeable_tick(&self, price: Price) -> Result<usize, MatchReject> {
        if price <= Price::ZERO || price >= Price::ONE {
            return Err(MatchReject::PriceOutOfRange(price));
        }
        self.grid
            .tick_index(price)
            .ok_or(MatchReject::OffGrid(price))
    }

    fn level_view(&self, levels: &[Level], tick: usize) -> (Price, Count) {
        (
            self.grid.price_at(tick).unwrap_or(Price::ZERO),
            Count::from_centi(levels[tick].total),
        )
    }

    /// Would an order on `side` at `tick` meet the opposite side?
    fn crosses(&self, side: BookSide, tick: usize) -> bool {
        match side {
            BookSide::Bid => self.best_ask.is_some_and(|ask| ask <= tick),
            BookSide::Ask => self.best_bid.is_some_and(|bid| bid >= tick),
        }
    }

    /// Crossing size from other owners, counted until `taker.remaining` is reached.
    fn crossing_liquidity(&self, taker: &Taker) -> i64 {
        let mut found = 0i64;
        let mut tick = match taker.side {
            BookSide::Bid => self.best_ask,
            BookSide::Ask => self.best_bid,
        };
        while let Some(t) = tick {
            let level = match taker.side {
                BookSide::Bid if t <= taker.tick => &self.asks[t],
                BookSide::Ask if t >= taker.tick => &self.bids[t],
                _ => break,
            };
            let mut slot = level.head;
            while slot != NIL {
                let s = &self.slots[slot as usize];
                if s.order.owner != taker.owner {
                    found += s.order.remaining.centi();
                    if found >= taker.remaining {
                        return found;
                    }
                }
                slot = s.next;
            }
            tick = match taker.side {
                BookSide::Bid => self.next_nonempty_up(&self.asks, t + 1),
                BookSide::Ask => t
                    .checked_sub(1)
                    .and_then(|below| self.next_nonempty_down(&self.bids, below)),
            };
        }
        found
    }

    /// Match `taker` against the opposite side. Returns true when stopped by a self-cross.
    fn run_match(&mut self, taker: &mut Taker, outcome: &mut SubmitOutcome) -> bool {
        while taker.remaining > 0 {
            let best = match taker.side {
                BookSide::Bid => self.best_ask.filter(|&ask| ask <= taker.tick),
                BookSide::Ask => self.best_bid.filter(|&bid| bid >= taker.tick),
            };
            let Some(tick) = best else { break };
            let head = match taker.side {
                BookSide::Bid => self.asks[tick].head,
                BookSide::Ask => self.bids[tick].head,
            };
            let maker = &self.slots[head as usize].order;
            if maker.owner == taker.owner {
                match taker.stp {
                    SelfTradePrevention::TakerAtCross => return true,
                    SelfTradePrevention::Maker => {
                        let cancelled = self.remove(head);
                        outcome.stp_cancelled_makers.push(cancelled);
                        continue;
                    }
                }
            }
            let fill = taker.remaining.min(maker.remaining.centi());
            let (maker_order_id, maker_owner, price) = (maker.order_id, maker.owner, maker.price);
            taker.remaining -= fill;
            let maker_remaining = self.fill_maker(head, fill);
            outcome.fills.push(MatchFill {
                taker_order_id: taker.order_id,
                maker_order_id,
                taker_owner: taker.owner,
                maker_owner,
                price,
                count: Count::from_centi(fill),
                taker_side: taker.side,
                maker_remaining,
            });
        }
        false
    }

    /// Take `fill` from the maker in `slot`; removes it when done. Returns what it has left.
    fn fill_maker(&mut self, slot: u32, fill: i64) -> Count {
        let s = &mut self.slots[slot as usize];
        s.order.remaining = Count::from_centi(s.order.remaining.centi() - fill);
        s.order.filled = s.order.filled.saturating_add(Count::from_centi(fill));
        let left = s.order.remaining;
        let (side, tick) = (s.order.side, s.tick);
        self.levels_mut(side)[tick].total -= fill;
        if left.is_zero() {
            self.remove(slot);
        }
        left
    }

    fn shrink_in_place(&mut self, slot: u32, by: Count) {
        let s = &mut self.slots[slot as usize];
        s.order.remaining = s.order.remaining.saturating_sub(by);
        let (side, tick) = (s.order.side, s.tick);
        self.levels_mut(side)[tick].total -= by.centi();
    }

    fn levels_mut(&mut self, side: BookSide) -> &mut Vec<Level> {
        match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        }
    }

    /// Queue a new (or re-queued) order at the back of its level.
    fn rest(&mut self, order: RestingOrder, tick: usize) {
        if let Some(expiration_ms) = order.expiration_ms {
            self.expiries.push(Reverse((expiration_ms, order.order_id)));
        }
        let order = RestingOrder {
            priority_seq: self.next_seq,
            ..order
        };
        self.next_seq += 1;
        self.link_tail_with_seq(order, tick);
    }

    fn link_tail_with_seq(&mut self, order: RestingOrder, tick: usize) {
        let order_id = order.order_id;
        let side = order.side;
        let remaining = order.remaining.centi();
        let slot_data = Slot {
            order,
            tick,
            prev: NIL,
            next: NIL,
        };
        let slot = match self.free_slots.pop() {
            Some(free) => {
                self.slots[free as usize] = slot_data;
                free
            }
            None => {
                self.slots.push(slot_data);
                (self.slots.len() - 1) as u32
            }
        };
        self.by_id.insert(order_id, slot);
        self.link_tail(slot, side, tick, remaining);
    }

    fn link_tail(&mut self, slot: u32, side: BookSide, tick: usize, remaining: i64) {
        let level = &mut self.levels_mut(side)[tick];
        let old_tail = level.tail;
        level.tail = slot;
        if old_tail == NIL {
            level.head = slot;
        }
        level.total += remaining;
        {
            let s = &mut self.slots[slot as usize];
            s.prev = old_tail;
            s.next = NIL;
            s.tick = tick;
        }
        if old_tail != NIL {
            self.slots[old_tail as usize].next = slot;
        }
        match side {
            BookSide::Bid => {
                if self.best_bid.is_none_or(|best| tick > best) {
                    self.best_bid = Some(tick);
                }
            }
            BookSide::Ask => {
                if self.best_ask.is_none_or(|best| tick < best) {
                    self.best_ask = Some(tick);
                }
            }
        }
    }

    /// Put an order back exactly where it was (a refused amend).
    fn relink_original(&mut self, slot: u32, tick: usize, original: RestingOrder) {
        // The slot was unlinked from its level but still holds its neighbours' ids only if
        // they are unchanged, which holds because nothing else touched the book in between.
        let (prev, next) = {
            let s = &self.slots[slot as usize];
            (s.prev, s.next)
        };
        let side = original.side;
        let remaining = original.remaining.centi();
        self.slots[slot as usize].order = original;
        let level = &mut self.levels_mut(side)[tick];
        level.total += remaining;
        if prev == NIL {
            level.head = slot;
        }
        if next == NIL {
            level.tail = slot;
        }
        if prev != NIL {
            self.slots[prev as usize].next = slot;
        }
        if next != NIL {
            self.slots[next as usize].prev = slot;
        }
        match side {
            BookSide::Bid => {
                if self.best_bid.is_none_or(|best| tick > best) {
                    self.best_bid = Some(tick);
                }
            }
            BookSide::Ask => {
                if self.best_ask.is_none_or(|best| tick < best) {
                    self.best_ask = Some(tick);
                }
            }
        }
    }

    /// Detach a slot from its level (keeping its prev/next for `relink_original`) and fix the
    /// best price. The slot stays allocated and indexed.
    fn unlink(&mut self, slot: u32) {
        let (side, tick, prev, next, remaining) = {
            let s = &self.slots[slot as usize];
            (
                s.order.side,
                s.tick,
                s.prev,
                s.next,
                s.order.remaining.centi(),
            )
        };
        if prev != NIL {
            self.slots[prev as usize].next = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        }
        let level = &mut self.levels_mut(side)[tick];
        if level.head == slot {
            level.head = next;
        }
        if level.tail == slot {
            level.tail = prev;
        }
        level.total -= remaining;
        let emptied = level.head == NIL;
        if emptied {
            match side {
                BookSide::Bid if self.best_bid == Some(tick) => {
                    self.best_bid = tick
                        .checked_sub(1)
                        .and_then(|below| self.next_nonempty_down(&self.bids, below));
                }
                BookSide::Ask if self.best_ask == Some(tick) => {
                    self.best_ask = self.next_nonempty_up(&self.asks, tick + 1);
                }
                _ => {}
            }
        }
    }

    /// Free an unlinked slot and forget its id.
    fn release(&mut self, slot: u32) -> RestingOrder {
        let order = self.slots[slot as usize].order.clone();
        self.by_id.remove(&order.order_id);
        self.free_slots.push(slot);
        order
    }

    fn remove(&mut self, slot: u32) -> RestingOrder {
        self.unlink(slot);
        self.release(slot)
    }

    fn next_nonempty_up(&self, levels: &[Level], from: usize) -> Option<usize> {
        (from..levels.len()).find(|&tick| levels[tick].head != NIL)
    }

    fn next_nonempty_down(&self, levels: &[Level], from: usize) -> Option<usize> {
        (0..=from.min(levels.len().saturating_sub(1)))
            .rev()
            .find(|&tick| levels[tick].head != NIL)
    }

    fn expire_due(&mut self, now_ms: i64) {
        while let Some(&Reverse((expiration_ms, order_id))) = self.expiries.peek() {
            if expiration_ms > now_ms {
                break;
            }
            self.expiries.pop();
            // The heap is lazy: the order may be gone, or amended to another expiration.
            let due = self
                .order(order_id)
                .is_some_and(|o| o.expiration_ms == Some(expiration_ms));
            if due && let Some(order) = self.cancel(order_id) {
                self.expired_unreported.push(order);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Price {
        Price::parse(text).unwrap()
    }

    fn c(contracts: i64) -> Count {
        Count::from_contracts(contracts)
    }

    fn book() -> MatchingBook {
        MatchingBook::new(Ticker::new("KXTEST-26DEC-T50"), PriceGrid::linear_cent())
    }

    fn bid(id: OrderId, owner: OwnerId, price: &str, count: i64) -> NewOrder {
        NewOrder::limit(id, owner, BookSide::Bid, p(price), c(count))
    }

    fn ask(id: OrderId, owner: OwnerId, price: &str, count: i64) -> NewOrder {
        NewOrder::limit(id, owner, BookSide::Ask, p(price), c(count))
    }

    /// A NO bid at `no_price` is a YES ask at `1 − no_price`.
    fn no_bid(id: OrderId, owner: OwnerId, no_price: &str, count: i64) -> NewOrder {
        NewOrder::limit(id, owner, BookSide::Ask, p(no_price).complement(), c(count))
    }

    #[test]
    fn resting_orders_aggregate_into_both_ladders() {
        let mut b = book();
        b.submit(bid(1, 1, "0.41", 10), 0).unwrap();
        b.submit(bid(2, 2, "0.42", 13), 0).unwrap();
        b.submit(bid(3, 3, "0.42", 2), 0).unwrap();
        b.submit(no_bid(4, 1, "0.56", 17), 0).unwrap();
        b.submit(no_bid(5, 1, "0.50", 1), 0).unwrap();
        let levels = b.levels();
        assert_eq!(
            levels.yes_bids,
            vec![(p("0.41"), c(10)), (p("0.42"), c(15))]
        );
        assert_eq!(levels.no_bids, vec![(p("0.50"), c(1)), (p("0.56"), c(17))]);
        assert_eq!(b.best_bid(), Some((p("0.42"), c(15))));
        assert_eq!(b.best_ask(), Some((p("0.44"), c(17))));
        assert_eq!(b.queue_position(3), Some(c(13)));
        assert_eq!(b.queue_position(2), Some(Count::ZERO));
        assert_eq!(b.queue_position(99), None);
        assert_eq!(b.size_at(BookSide::Ask, p("0.44")), c(17));
    }

    #[test]
    fn yes_bid_crosses_no_bid_when_prices_sum_to_one_and_prints_at_the_maker_price() {
        let mut b = book();
        b.submit(no_bid(1, 1, "0.40", 5), 0).unwrap(); // YES ask at 0.60
        let out = b.submit(bid(2, 2, "0.59", 5), 0).unwrap();
        assert!(out.fills.is_empty(), "0.59 + 0.40 < 1 must not cross");
        let out = b.submit(bid(3, 2, "0.65", 3), 0).unwrap();
        assert_eq!(out.fills.len(), 1);
        let fill = &out.fills[0];
        assert_eq!((fill.price, fill.count), (p("0.60"), c(3)));
        assert_eq!((fill.maker_order_id, fill.taker_order_id), (1, 3));
        assert_eq!((fill.maker_owner, fill.taker_owner), (1, 2));
        assert_eq!(fill.taker_side, BookSide::Bid);
        assert_eq!(fill.maker_remaining, c(2));
        assert_eq!(out.rested, None);
        assert_eq!(b.order(1).unwrap().filled, c(3));
    }

    #[test]
    fn price_then_time_priority_across_levels() {
        let mut b = book();
        b.submit(ask(1, 1, "0.52", 5), 0).unwrap();
        b.submit(ask(2, 2, "0.51", 5), 0).unwrap();
        b.submit(ask(3, 3, "0.51", 5), 0).unwrap();
        let out = b.submit(bid(4, 9, "0.52", 12), 0).unwrap();
        let order: Vec<(OrderId, Count, Price)> = out
            .fills
            .iter()
            .map(|f| (f.maker_order_id, f.count, f.price))
            .collect();
        assert_eq!(
            order,
            vec![
                (2, c(5), p("0.51")),
                (3, c(5), p("0.51")),
                (1, c(2), p("0.52"))
            ]
        );
        assert_eq!(out.rested, None);
        assert_eq!(b.best_ask(), Some((p("0.52"), c(3))));
        // An ask sweeping bids goes best (highest) first.
        b.submit(bid(5, 1, "0.40", 1), 0).unwrap();
        b.submit(bid(6, 2, "0.45", 1), 0).unwrap();
        let out = b.submit(ask(7, 9, "0.40", 3), 0).unwrap();
        let makers: Vec<OrderId> = out.fills.iter().map(|f| f.maker_order_id).collect();
        assert_eq!(makers, vec![6, 5]);
        assert_eq!(out.rested, Some(c(1)));
        assert_eq!(b.best_ask(), Some((p("0.40"), c(1))));
    }

    #[test]
    fn ioc_and_fok() {
        let mut b = book();
        b.submit(ask(1, 1, "0.50", 4), 0).unwrap();
        let mut ioc = bid(2, 2, "0.50", 10);
        ioc.time_in_force = TimeInForce::ImmediateOrCancel;
        let out = b.submit(ioc, 0).unwrap();
        assert_eq!(out.filled(), c(4));
        assert_eq!(out.cancelled_remainder, c(6));
        assert_eq!(out.cancel_reason, Some(RemainderCancel::ImmediateOrCancel));
        assert_eq!(b.order_count(), 0);

        b.submit(ask(3, 1, "0.50", 4), 0).unwrap();
        b.submit(ask(4, 1, "0.51", 4), 0).unwrap();
        let mut fok = bid(5, 2, "0.50", 5);
        fok.time_in_force = TimeInForce::FillOrKill;
        let out = b.submit(fok.clone(), 0).unwrap();
        assert!(out.fills.is_empty());
        assert_eq!(out.cancelled_remainder, c(5));
        assert_eq!(out.cancel_reason, Some(RemainderCancel::FillOrKill));
        assert_eq!(b.order(3).unwrap().remaining, c(4));
        fok.price = p("0.51");
        let out = b.submit(fok, 0).unwrap();
        assert_eq!(out.filled(), c(5));
        assert_eq!(out.cancelled_remainder, Count::ZERO);
        assert_eq!(b.best_ask(), Some((p("0.51"), c(3))));
    }

    #[test]
    fn post_only_is_rejected_when_it_would_cross_and_rests_otherwise() {
        let mut b = book();
        b.submit(ask(1, 1, "0.50", 4), 0).unwrap();
        let mut post = bid(2, 2, "0.50", 1);
        post.post_only = true;
        assert_eq!(b.submit(post.clone(), 0), Err(MatchReject::PostOnlyCross));
        assert_eq!(b.order_count(), 1);
        post.price = p("0.49");
        assert_eq!(b.submit(post, 0).unwrap().rested, Some(c(1)));
    }

    #[test]
    fn reduce_only_needs_ioc_and_is_capped_at_the_position() {
        let mut b = book();
        b.submit(bid(1, 1, "0.50", 100), 0).unwrap();
        let mut sell = ask(2, 2, "0.50", 10);
        sell.reduce_only_position = Some(c(3));
        assert_eq!(
            b.submit(sell.clone(), 0),
            Err(MatchReject::ReduceOnlyRequiresIoc)
        );
        sell.time_in_force = TimeInForce::ImmediateOrCancel;
        let out = b.submit(sell.clone(), 0).unwrap();
        assert_eq!(out.accepted_count, c(3));
        assert_eq!(out.filled(), c(3));
        assert_eq!(out.cancelled_remainder, Count::ZERO);
        // Selling YES while short YES (long NO) would grow the position.
        sell.order_id = 3;
        sell.reduce_only_position = Some(-c(4));
        assert_eq!(
            b.submit(sell.clone(), 0),
            Err(MatchReject::ReduceOnlyWouldIncrease { position: -c(4) })
        );
        // A bid reduces a NO position.
        b.submit(ask(4, 1, "0.60", 10), 0).unwrap();
        let mut buy = bid(5, 2, "0.60", 10);
        buy.time_in_force = TimeInForce::ImmediateOrCancel;
        buy.reduce_only_position = Some(-c(4));
        assert_eq!(b.submit(buy, 0).unwrap().filled(), c(4));
    }

    #[test]
    fn self_trade_taker_at_cross_stops_the_incoming_order() {
        let mut b = book();
        b.submit(ask(1, 1, "0.50", 2), 0).unwrap();
        b.submit(ask(2, 7, "0.51", 2), 0).unwrap();
        b.submit(ask(3, 1, "0.52", 2), 0).unwrap();
        let out = b.submit(bid(4, 7, "0.55", 10), 0).unwrap();
        assert_eq!(out.filled(), c(2));
        assert_eq!(out.fills[0].maker_order_id, 1);
        assert_eq!(out.cancelled_remainder, c(8));
        assert_eq!(out.cancel_reason, Some(RemainderCancel::SelfTrade));
        assert_eq!(out.rested, None);
        assert!(b.order(2).is_some(), "the resting own order stays");
        assert!(b.order(3).is_some());
    }

    #[test]
    fn self_trade_maker_cancels_the_resting_own_order_and_continues() {
        let mut b = book();
        b.submit(ask(1, 1, "0.50", 2), 0).unwrap();
        b.submit(ask(2, 7, "0.51", 2), 0).unwrap();
        b.submit(ask(3, 1, "0.52", 2), 0).unwrap();
        let mut taker = bid(4, 7, "0.55", 10);
        taker.self_trade_prevention = SelfTradePrevention::Maker;
        let out = b.submit(taker, 0).unwrap();
        assert_eq!(out.filled(), c(4));
        let makers: Vec<OrderId> = out.fills.iter().map(|f| f.maker_order_id).collect();
        assert_eq!(makers, vec![1, 3]);
        assert_eq!(out.stp_cancelled_makers.len(), 1);
        assert_eq!(out.stp_cancelled_makers[0].order_id, 2);
        assert_eq!(out.rested, Some(c(6)));
        assert!(b.order(2).is_none());
        assert_eq!(b.best_bid(), Some((p("0.55"), c(6))));
    }

    #[test]
    fn fok_that_self_crosses_behaves_like_ioc() {
        let mut b = book();
        b.submit(ask(1, 1, "0.50", 2), 0).unwrap();
        b.submit(ask(2, 7, "0.51", 2), 0).unwrap();
        b.submit(ask(3, 1, "0.52", 5), 0).unwrap();
        let mut fok = bid(4, 7, "0.55", 6);
        fok.time_in_force = TimeInForce::FillOrKill;
        let out = b.submit(fok, 0).unwrap();
        assert_eq!(out.filled(), c(2), "fills before the self-cross stand");
        assert_eq!(out.cancelled_remainder, c(4));
        assert_eq!(out.cancel_reason, Some(RemainderCancel::SelfTrade));
    }

    #[test]
    fn amend_keeps_priority_only_for_same_price_size_decrease() {
        let mut b = book();
        b.submit(bid(1, 1, "0.40", 10), 0).unwrap();
        b.submit(bid(2, 2, "0.40", 10), 0).unwrap();
        // Partly fill order 1 so amend's total includes the filled part.
        b.submit(ask(3, 3, "0.40", 4), 0).unwrap();
        assert_eq!(b.order(1).unwrap().filled, c(4));
        let out = b.amend(1, p("0.40"), c(8), 0).unwrap();
        assert_eq!(out.rested, Some(c(4)));
        assert_eq!(b.queue_position(2), Some(c(4)), "order 1 kept its place");
        // Increase: back of the queue.
        b.amend(1, p("0.40"), c(12), 0).unwrap();
        assert_eq!(b.order(1).unwrap().remaining, c(8));
        assert_eq!(b.queue_position(1), Some(c(10)));
        assert_eq!(b.queue_position(2), Some(Count::ZERO));
        assert_eq!(
            b.amend(1, p("0.40"), c(4), 0),
            Err(MatchReject::AmendBelowFilled {
                new_total: c(4),
                filled: c(4)
            })
        );
        assert_eq!(
            b.amend(9, p("0.40"), c(4), 0),
            Err(MatchReject::UnknownOrder(9))
        );
        assert_eq!(
            b.amend(1, p("0.405"), c(9), 0),
            Err(MatchReject::OffGrid(p("0.405")))
        );
        // Price change can cross and fill.
        b.submit(ask(4, 3, "0.45", 3), 0).unwrap();
        let out = b.amend(2, p("0.46"), c(10), 0).unwrap();
        assert_eq!(out.filled(), c(3));
        assert_eq!(out.fills[0].price, p("0.45"));
        assert_eq!(out.rested, Some(c(7)));
        assert_eq!(b.order(2).unwrap().filled, c(3));
        assert_eq!(b.best_bid(), Some((p("0.46"), c(7))));
    }

    #[test]
    fn refused_post_only_amend_leaves_the_order_where_it_was() {
        let mut b = book();
        b.submit(bid(1, 1, "0.40", 1), 0).unwrap();
        let mut post = bid(2, 2, "0.40", 1);
        post.post_only = true;
        b.submit(post, 0).unwrap();
        b.submit(bid(3, 3, "0.40", 1), 0).unwrap();
        b.submit(ask(4, 4, "0.45", 1), 0).unwrap();
        assert_eq!(
            b.amend(2, p("0.45"), c(1), 0),
            Err(MatchReject::PostOnlyCross)
        );
        assert_eq!(b.queue_position(2), Some(c(1)));
        assert_eq!(b.queue_position(3), Some(c(2)));
        assert_eq!(b.best_bid(), Some((p("0.40"), c(3))));
    }

    #[test]
    fn decrease_keeps_priority_and_to_zero_cancels() {
        let mut b = book();
        b.submit(bid(1, 1, "0.40", 10), 0).unwrap();
        b.submit(bid(2, 2, "0.40", 10), 0).unwrap();
        let out = b.decrease(1, Decrease::By(c(3))).unwrap();
        assert_eq!(out.reduced_by, c(3));
        assert_eq!(out.order.remaining, c(7));
        assert_eq!(b.queue_position(2), Some(c(7)));
        let out = b.decrease(1, Decrease::To(c(2))).unwrap();
        assert_eq!(out.reduced_by, c(5));
        assert_eq!(b.size_at(BookSide::Bid, p("0.40")), c(12));
        assert_eq!(
            b.decrease(1, Decrease::To(c(5))).unwrap().reduced_by,
            Count::ZERO
        );
        let out = b.decrease(1, Decrease::By(c(50))).unwrap();
        assert_eq!((out.reduced_by, out.order.remaining), (c(2), Count::ZERO));
        assert!(b.order(1).is_none());
        assert_eq!(
            b.decrease(2, Decrease::By(Count::ZERO)),
            Err(MatchReject::InvalidCount(Count::ZERO))
        );
        assert_eq!(
            b.decrease(1, Decrease::By(c(1))),
            Err(MatchReject::UnknownOrder(1))
        );
        assert_eq!(b.cancel(2).map(|o| o.remaining), Some(c(10)));
        assert_eq!(b.best_bid(), None);
    }

    #[test]
    fn validation() {
        let mut b = book();
        assert_eq!(
            b.submit(bid(1, 1, "0.405", 1), 0),
            Err(MatchReject::OffGrid(p("0.405")))
        );
        assert_eq!(
            b.submit(bid(1, 1, "0", 1), 0),
            Err(MatchReject::PriceOutOfRange(Price::ZERO))
        );
        assert_eq!(
            b.submit(ask(1, 1, "1", 1), 0),
            Err(MatchReject::PriceOutOfRange(Price::ONE))
        );
        assert_eq!(
            b.submit(bid(1, 1, "0.40", 0), 0),
            Err(MatchReject::InvalidCount(Count::ZERO))
        );
        b.submit(bid(1, 1, "0.40", 1), 0).unwrap();
        assert_eq!(
            b.submit(bid(1, 1, "0.40", 1), 0),
            Err(MatchReject::DuplicateOrderId(1))
        );
        let mut gtd = bid(2, 1, "0.40", 1);
        gtd.expiration_ms = Some(1_000);
        assert_eq!(
            b.submit(gtd.clone(), 1_000),
            Err(MatchReject::ExpirationInPast {
                expiration_ms: 1_000,
                now_ms: 1_000
            })
        );
        gtd.time_in_force = TimeInForce::ImmediateOrCancel;
        assert_eq!(b.submit(gtd, 0), Err(MatchReject::ExpirationRequiresGtc));
    }

    #[test]
    fn fractional_counts_and_sub_cent_grids() {
        let mut b = MatchingBook::new(
            Ticker::new("KXCOMBO"),
            PriceGrid::from_structure("center_deci_edge_centi_cent").unwrap(),
        );
        let frac = |id, side, price: &str, centi| {
            NewOrder::limit(id, 1 + id, side, p(price), Count::from_centi(centi))
        };
        b.submit(frac(1, BookSide::Ask, "0.0037", 250), 0).unwrap();
        assert_eq!(
            b.submit(frac(2, BookSide::Ask, "0.5037", 1), 0),
            Err(MatchReject::OffGrid(p("0.5037")))
        );
        let out = b.submit(frac(3, BookSide::Bid, "0.0040", 101), 0).unwrap();
        assert_eq!(out.fills[0].count, Count::from_centi(101));
        assert_eq!(out.fills[0].price, p("0.0037"));
        assert_eq!(b.best_ask(), Some((p("0.0037"), Count::from_centi(149))));
        assert_eq!(
            b.levels().no_bids,
            vec![(p("0.9963"), Count::from_centi(149))]
        );
    }

    #[test]
    fn gtd_orders_expire_and_are_reported_once() {
        let mut b = book();
        let mut gtd = ask(1, 1, "0.50", 1);
        gtd.expiration_ms = Some(5_000);
        b.submit(gtd, 0).unwrap();
        b.submit(ask(2, 2, "0.51", 1), 0).unwrap();
        assert!(b.expire(4_999).is_empty());
        // A taker arriving after expiry does not meet the expired order.
        let out = b.submit(bid(3, 3, "0.55", 1), 5_000).unwrap();
        assert_eq!(
            out.expired.iter().map(|o| o.order_id).collect::<Vec<_>>(),
            vec![1]
        );
        assert_eq!(out.fills[0].maker_order_id, 2);
        assert!(b.expire(10_000).is_empty());

        // Expired during a rejected submit: reported by the next call instead.
        let mut gtd = bid(4, 1, "0.40", 1);
        gtd.expiration_ms = Some(20_000);
        b.submit(gtd, 10_000).unwrap();
        b.submit(ask(6, 2, "0.45", 1), 10_000).unwrap();
        let mut post = bid(5, 9, "0.45", 1);
        post.post_only = true;
        assert_eq!(b.submit(post, 20_000), Err(MatchReject::PostOnlyCross));
        let expired = b.expire(20_000);
        assert_eq!(
            expired.iter().map(|o| o.order_id).collect::<Vec<_>>(),
            vec![4]
        );
    }

    #[test]
    fn changing_the_grid_keeps_priority_and_drops_off_grid_orders() {
        let mut b = MatchingBook::new(Ticker::new("KX"), PriceGrid::deci_cent());
        b.submit(bid(1, 1, "0.405", 1), 0).unwrap();
        b.submit(bid(2, 2, "0.40", 1), 0).unwrap();
        b.submit(bid(3, 3, "0.40", 1), 0).unwrap();
        let dropped = b.set_grid(PriceGrid::linear_cent());
        assert_eq!(
            dropped.iter().map(|o| o.order_id).collect::<Vec<_>>(),
            vec![1]
        );
        assert_eq!(b.queue_position(3), Some(c(1)));
        assert_eq!(b.best_bid(), Some((p("0.40"), c(2))));
    }

    #[test]
    fn cancel_owner_and_cancel_all() {
        let mut b = book();
        b.submit(bid(1, 1, "0.40", 1), 0).unwrap();
        b.submit(bid(2, 2, "0.41", 1), 0).unwrap();
        b.submit(ask(3, 1, "0.60", 1), 0).unwrap();
        let gone: Vec<OrderId> = b.cancel_owner(1).iter().map(|o| o.order_id).collect();
        assert_eq!(gone, vec![1, 3]);
        assert_eq!(b.best_ask(), None);
        assert_eq!(b.cancel_all().len(), 1);
        assert_eq!(b.levels(), BookLevels::default());
    }

    // ---- property tests against a naive reference book ----

    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// (fills as (maker id, price, centi), stp-cancelled maker ids, remaining centi, stopped)
    type ReferenceRun = (Vec<(OrderId, Price, i64)>, Vec<OrderId>, i64, bool);

    /// Straightforward re-statement of the rules over a flat list, to check the fast book.
    #[derive(Clone, Default)]
    struct ReferenceBook {
        orders: Vec<RestingOrder>,
        seq: u64,
    }

    impl ReferenceBook {
        fn crossing(&self, side: BookSide, price: Price) -> Vec<usize> {
            let mut idx: Vec<usize> = (0..self.orders.len())
                .filter(|&i| {
                    let o = &self.orders[i];
                    o.side != side
                        && match side {
                            BookSide::Bid => o.price <= price,
                            BookSide::Ask => o.price >= price,
                        }
                })
                .collect();
            idx.sort_by_key(|&i| {
                let o = &self.orders[i];
                let price_rank = match side {
                    BookSide::Bid => o.price.micros(),
                    BookSide::Ask => -o.price.micros(),
                };
                (price_rank, o.priority_seq)
            });
            idx
        }

        /// Returns (fills as (maker id, price, count), stp-cancelled ids, remaining, stopped).
        fn run(
            &mut self,
            id: OrderId,
            owner: OwnerId,
            side: BookSide,
            price: Price,
            mut remaining: i64,
            stp: SelfTradePrevention,
        ) -> ReferenceRun {
            let mut fills = Vec::new();
            let mut stp_cancelled = Vec::new();
            let mut stopped = false;
            for i in self.crossing(side, price) {
                if remaining == 0 {
                    break;
                }
                let maker = &mut self.orders[i];
                if maker.owner == owner {
                    if stp == SelfTradePrevention::TakerAtCross {
                        stopped = true;
                        break;
                    }
                    stp_cancelled.push(maker.order_id);
                    maker.remaining = Count::ZERO;
                    continue;
                }
                let fill = remaining.min(maker.remaining.centi());
                remaining -= fill;
                maker.remaining = Count::from_centi(maker.remaining.centi() - fill);
                maker.filled = maker.filled.saturating_add(Count::from_centi(fill));
                fills.push((maker.order_id, maker.price, fill));
            }
            let _ = id;
            self.orders.retain(|o| o.remaining.is_positive());
            (fills, stp_cancelled, remaining, stopped)
        }

        fn push(&mut self, order: RestingOrder) {
            self.orders.push(RestingOrder {
                priority_seq: self.seq,
                ..order
            });
            self.seq += 1;
        }

        fn levels(&self) -> BookLevels {
            let mut bids: BTreeMap<Price, i64> = BTreeMap::new();
            let mut asks: BTreeMap<Price, i64> = BTreeMap::new();
            for o in &self.orders {
                let map = match o.side {
                    BookSide::Bid => &mut bids,
                    BookSide::Ask => &mut asks,
                };
                *map.entry(o.price).or_default() += o.remaining.centi();
            }
            BookLevels {
                yes_bids: bids
                    .into_iter()
                    .map(|(p, n)| (p, Count::from_centi(n)))
                    .collect(),
                no_bids: asks
                    .into_iter()
                    .rev()
                    .map(|(p, n)| (p.complement(), Count::from_centi(n)))
                    .collect(),
            }
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Submit {
            owner: u64,
            bid: bool,
            tick: i64,
            centi: i64,
            tif: u8,
            post_only: bool,
            maker_stp: bool,
            ttl_ms: Option<i64>,
        },
        Cancel(usize),
        /// (which order, new tick or keep the price, size mode: 0 random total / 1 same total /
        /// 2 shrink remaining by n, n)
        Amend(usize, Option<i64>, u8, i64),
        Decrease(usize, i64),
        Advance(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u64..4, any::<bool>(), 0i64..12, 1i64..800, 0u8..6, prop::bool::weighted(0.15),
                  any::<bool>(), prop::option::weighted(0.2, 1i64..5_000))
                .prop_map(|(owner, bid, tick, centi, tif, post_only, maker_stp, ttl_ms)| Op::Submit {
                    owner, bid, tick, centi, tif, post_only, maker_stp, ttl_ms
                }),
            1 => any::<usize>().prop_map(Op::Cancel),
            2 => (any::<usize>(), prop::option::of(0i64..12), 0u8..3, 1i64..900)
                .prop_map(|(i, t, mode, n)| Op::Amend(i, t, mode, n)),
            1 => (any::<usize>(), 1i64..400).prop_map(|(i, n)| Op::Decrease(i, n)),
            1 => (0i64..3_000).prop_map(Op::Advance),
        ]
    }

    /// Checks one op's outcome against the reference and the book-wide invariants.
    struct Harness {
        book: MatchingBook,
        reference: ReferenceBook,
        now_ms: i64,
        next_id: OrderId,
        /// Per order: accepted size, and where it went.
        accepted: BTreeMap<OrderId, i64>,
        filled: BTreeMap<OrderId, i64>,
        cancelled: BTreeMap<OrderId, i64>,
        /// tick → grid price, for ops.
        prices: Vec<Price>,
    }

    impl Harness {
        fn new(grid: PriceGrid, center: Price) -> Harness {
            let start = grid.tick_index(grid.snap_down(center).unwrap()).unwrap() - 6;
            let prices = (start..start + 12)
                .map(|i| grid.price_at(i).unwrap())
                .collect();
            Harness {
                book: MatchingBook::new(Ticker::new("KXPROP"), grid),
                reference: ReferenceBook::default(),
                now_ms: 0,
                next_id: 1,
                accepted: BTreeMap::new(),
                filled: BTreeMap::new(),
                cancelled: BTreeMap::new(),
                prices,
            }
        }

        fn ref_expire(&mut self) -> Vec<OrderId> {
            let now = self.now_ms;
            let mut gone: Vec<&RestingOrder> = self
                .reference
                .orders
                .iter()
                .filter(|o| o.expiration_ms.is_some_and(|e| e <= now))
                .collect();
            gone.sort_by_key(|o| (o.expiration_ms, o.order_id));
            let ids: Vec<OrderId> = gone.iter().map(|o| o.order_id).collect();
            for o in &gone {
                *self.cancelled.entry(o.order_id).or_default() += o.remaining.centi();
            }
            self.reference.orders.retain(|o| !ids.contains(&o.order_id));
            ids
        }

        fn record_fills(&mut self, out: &SubmitOutcome) -> Result<(), TestCaseError> {
            for f in &out.fills {
                prop_assert_ne!(f.maker_owner, f.taker_owner, "self trade");
                prop_assert!(f.count.is_positive());
                prop_assert!(
                    self.accepted.contains_key(&f.maker_order_id),
                    "unknown maker"
                );
                *self.filled.entry(f.maker_order_id).or_default() += f.count.centi();
                *self.filled.entry(f.taker_order_id).or_default() += f.count.centi();
            }
            for o in &out.stp_cancelled_makers {
                *self.cancelled.entry(o.order_id).or_default() += o.remaining.centi();
            }
            Ok(())
        }

        fn live_ids(&self) -> Vec<OrderId> {
            let mut ids: Vec<OrderId> = self.reference.orders.iter().map(|o| o.order_id).collect();
            ids.sort_unstable();
            ids
        }

        fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
            match op {
                Op::Advance(ms) => {
                    self.now_ms += ms;
                    let expected = self.ref_expire();
                    let got: Vec<OrderId> = self
                        .book
                        .expire(self.now_ms)
                        .iter()
                        .map(|o| o.order_id)
                        .collect();
                    prop_assert_eq!(got, expected);
                }
                Op::Submit {
                    owner,
                    bid,
                    tick,
                    centi,
                    tif,
                    post_only,
                    maker_stp,
                    ttl_ms,
                } => {
                    let id = self.next_id;
                    self.next_id += 1;
                    let side = if bid { BookSide::Bid } else { BookSide::Ask };
                    let price = self.prices[tick as usize];
                    let time_in_force = match tif {
                        0 => TimeInForce::ImmediateOrCancel,
                        1 => TimeInForce::FillOrKill,
                        _ => TimeInForce::GoodTillCanceled,
                    };
                    let expiration_ms = match time_in_force {
                        TimeInForce::GoodTillCanceled => ttl_ms.map(|t| self.now_ms + t),
                        _ => None,
                    };
                    let stp = if maker_stp {
                        SelfTradePrevention::Maker
                    } else {
                        SelfTradePrevention::TakerAtCross
                    };
                    let order = NewOrder {
                        order_id: id,
                        owner,
                        side,
                        price,
                        count: Count::from_centi(centi),
                        time_in_force,
                        post_only,
                        reduce_only_position: None,
                        self_trade_prevention: stp,
                        expiration_ms,
                    };
                    let expired = self.ref_expire();
                    let result = self.book.submit(order, self.now_ms);
                    let crosses = !self.reference.crossing(side, price).is_empty();
                    if post_only && crosses {
                        prop_assert_eq!(result, Err(MatchReject::PostOnlyCross));
                        let got: Vec<OrderId> = self
                            .book
                            .expire(self.now_ms)
                            .iter()
                            .map(|o| o.order_id)
                            .collect();
                        prop_assert_eq!(got, expired);
                        return Ok(());
                    }
                    let out = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(
                        out.expired.iter().map(|o| o.order_id).collect::<Vec<_>>(),
                        expired
                    );
                    self.accepted.insert(id, centi);
                    let liquidity: i64 = self
                        .reference
                        .crossing(side, price)
                        .iter()
                        .map(|&i| &self.reference.orders[i])
                        .filter(|o| o.owner != owner)
                        .map(|o| o.remaining.centi())
                        .sum();
                    let (fills, stp_cancelled, remaining, stopped) =
                        if time_in_force == TimeInForce::FillOrKill && liquidity < centi {
                            (Vec::new(), Vec::new(), centi, false)
                        } else {
                            self.reference.run(id, owner, side, price, centi, stp)
                        };
                    let got: Vec<(OrderId, Price, i64)> = out
                        .fills
                        .iter()
                        .map(|f| (f.maker_order_id, f.price, f.count.centi()))
                        .collect();
                    prop_assert_eq!(got, fills);
                    prop_assert_eq!(
                        out.stp_cancelled_makers
                            .iter()
                            .map(|o| o.order_id)
                            .collect::<Vec<_>>(),
                        stp_cancelled
                    );
                    let rests =
                        remaining > 0 && !stopped && time_in_force == TimeInForce::GoodTillCanceled;
                    if rests {
                        prop_assert_eq!(out.rested, Some(Count::from_centi(remaining)));
                        prop_assert_eq!(out.cancelled_remainder, Count::ZERO);
                        self.reference.push(RestingOrder {
                            order_id: id,
                            owner,
                            side,
                            price,
                            remaining: Count::from_centi(remaining),
                            filled: Count::from_centi(centi - remaining),
                            post_only,
                            self_trade_prevention: stp,
                            expiration_ms,
                            priority_seq: 0,
                        });
                    } else {
                        prop_assert_eq!(out.rested, None);
                        prop_assert_eq!(out.cancelled_remainder, Count::from_centi(remaining));
                        *self.cancelled.entry(id).or_default() += remaining;
                    }
                    self.record_fills(&out)?;
                }
                Op::Cancel(pick) => {
                    let ids = self.live_ids();
                    if ids.is_empty() {
                        return Ok(());
                    }
                    let id = ids[pick % ids.len()];
                    let got = self.book.cancel(id);
                    let i = self
                        .reference
                        .orders
                        .iter()
                        .position(|o| o.order_id == id)
                        .unwrap();
                    let expected = self.reference.orders.remove(i);
                    prop_assert_eq!(got.map(|o| o.remaining), Some(expected.remaining));
                    *self.cancelled.entry(id).or_default() += expected.remaining.centi();
                }
                Op::Decrease(pick, by) => {
                    let ids = self.live_ids();
                    if ids.is_empty() {
                        return Ok(());
                    }
                    let id = ids[pick % ids.len()];
                    let out = self
                        .book
                        .decrease(id, Decrease::By(Count::from_centi(by)))
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let i = self
                        .reference
                        .orders
                        .iter()
                        .position(|o| o.order_id == id)
                        .unwrap();
                    let reduced = by.min(self.reference.orders[i].remaining.centi());
                    prop_assert_eq!(out.reduced_by.centi(), reduced);
                    self.reference.orders[i].remaining =
                        Count::from_centi(self.reference.orders[i].remaining.centi() - reduced);
                    self.reference.orders.retain(|o| o.remaining.is_positive());
                    *self.cancelled.entry(id).or_default() += reduced;
                }
                Op::Amend(pick, tick, size_mode, n) => {
                    let ids = self.live_ids();
                    if ids.is_empty() {
                        return Ok(());
                    }
                    let id = ids[pick % ids.len()];
                    let before = self.book.order(id).cloned().unwrap();
                    let price = tick.map_or(before.price, |t| self.prices[t as usize]);
                    let total_before = before.filled.centi() + before.remaining.centi();
                    let new_total = match size_mode {
                        0 => n,
                        1 => total_before,
                        _ => total_before - n.min(before.remaining.centi() - 1).max(0),
                    };
                    let expired = self.ref_expire();
                    let Some(i) = self.reference.orders.iter().position(|o| o.order_id == id)
                    else {
                        prop_assert_eq!(
                            self.book
                                .amend(id, price, Count::from_centi(new_total), self.now_ms),
                            Err(MatchReject::UnknownOrder(id))
                        );
                        prop_assert_eq!(
                            self.book
                                .expire(self.now_ms)
                                .iter()
                                .map(|o| o.order_id)
                                .collect::<Vec<_>>(),
                            expired
                        );
                        return Ok(());
                    };
                    let current = self.reference.orders[i].clone();
                    let result =
                        self.book
                            .amend(id, price, Count::from_centi(new_total), self.now_ms);
                    let new_remaining = new_total - current.filled.centi();
                    if new_remaining <= 0 {
                        let below_filled =
                            matches!(result, Err(MatchReject::AmendBelowFilled { .. }));
                        prop_assert!(below_filled);
                        prop_assert_eq!(
                            self.book
                                .expire(self.now_ms)
                                .iter()
                                .map(|o| o.order_id)
                                .collect::<Vec<_>>(),
                            expired
                        );
                        return Ok(());
                    }
                    if price == current.price && new_remaining <= current.remaining.centi() {
                        let out = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        prop_assert_eq!(
                            out.expired.iter().map(|o| o.order_id).collect::<Vec<_>>(),
                            expired
                        );
                        let shrink = current.remaining.centi() - new_remaining;
                        *self.cancelled.entry(id).or_default() += shrink;
                        self.reference.orders[i].remaining = Count::from_centi(new_remaining);
                        return Ok(());
                    }
                    let removed = self.reference.orders.remove(i);
                    if removed.post_only && !self.reference.crossing(removed.side, price).is_empty()
                    {
                        prop_assert_eq!(result, Err(MatchReject::PostOnlyCross));
                        self.reference.orders.insert(i, removed);
                        prop_assert_eq!(
                            self.book
                                .expire(self.now_ms)
                                .iter()
                                .map(|o| o.order_id)
                                .collect::<Vec<_>>(),
                            expired
                        );
                        return Ok(());
                    }
                    let out = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(
                        out.expired.iter().map(|o| o.order_id).collect::<Vec<_>>(),
                        expired
                    );
                    // The accepted size moves by the change in total size.
                    let old_total = removed.filled.centi() + removed.remaining.centi();
                    *self.accepted.get_mut(&id).unwrap() += new_total - old_total;
                    let (fills, stp_cancelled, remaining, stopped) = self.reference.run(
                        id,
                        removed.owner,
                        removed.side,
                        price,
                        new_remaining,
                        removed.self_trade_prevention,
                    );
                    let got: Vec<(OrderId, Price, i64)> = out
                        .fills
                        .iter()
                        .map(|f| (f.maker_order_id, f.price, f.count.centi()))
                        .collect();
                    prop_assert_eq!(got, fills);
                    prop_assert_eq!(
                        out.stp_cancelled_makers
                            .iter()
                            .map(|o| o.order_id)
                            .collect::<Vec<_>>(),
                        stp_cancelled
                    );
                    if remaining > 0 && !stopped {
                        self.reference.push(RestingOrder {
                            price,
                            remaining: Count::from_centi(remaining),
                            filled: Count::from_centi(
                                removed.filled.centi() + new_remaining - remaining,
                            ),
                            ..removed
                        });
                    } else if remaining > 0 {
                        *self.cancelled.entry(id).or_default() += remaining;
                    }
                    self.record_fills(&out)?;
                }
            }
            self.check_invariants()
        }

        fn check_invariants(&self) -> Result<(), TestCaseError> {
            // Never crossed after matching.
            if let (Some((bid, _)), Some((ask, _))) = (self.book.best_bid(), self.book.best_ask()) {
                prop_assert!(bid < ask, "crossed: {:?} >= {:?}", bid, ask);
            }
            // Same book as the reference, level by level.
            prop_assert_eq!(self.book.levels(), self.reference.levels());
            prop_assert_eq!(self.book.order_count(), self.reference.orders.len());
            // Queue order: each resting order has exactly the size of earlier orders ahead of it.
            for o in &self.reference.orders {
                let ahead: i64 = self
                    .reference
                    .orders
                    .iter()
                    .filter(|x| {
                        x.side == o.side && x.price == o.price && x.priority_seq < o.priority_seq
                    })
                    .map(|x| x.remaining.centi())
                    .sum();
                prop_assert_eq!(
                    self.book.queue_position(o.order_id),
                    Some(Count::from_centi(ahead))
                );
                let got = self.book.order(o.order_id).unwrap();
                prop_assert_eq!((got.remaining, got.filled), (o.remaining, o.filled));
            }
            // Contracts are conserved: every accepted contract filled, rests, or was cancelled.
            for (&id, &accepted) in &self.accepted {
                let resting = self.book.order(id).map_or(0, |o| o.remaining.centi());
                let filled = self.filled.get(&id).copied().unwrap_or(0);
                let cancelled = self.cancelled.get(&id).copied().unwrap_or(0);
                prop_assert_eq!(accepted, filled + resting + cancelled, "order {}", id);
            }
            Ok(())
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(0x6b646573), ..ProptestConfig::default() })]

        #[test]
        fn random_streams_match_the_reference_book(
            grid_choice in 0usize..3,
            ops in prop::collection::vec(op(), 1..120),
        ) {
            let (grid, center) = match grid_choice {
                0 => (PriceGrid::linear_cent(), Price::from_cents(50).unwrap()),
                1 => (PriceGrid::tapered_deci_cent(), Price::from_cents(10).unwrap()),
                _ => (PriceGrid::from_structure("center_deci_edge_centi_cent").unwrap(), Price::from_cents(1).unwrap()),
            };
            let mut harness = Harness::new(grid, center);
            for op in ops {
                harness.apply(op)?;
            }
        }
    }
}
