//! The order bookkeeping store: every order we know of, keyed by `client_order_id` and by the
//! exchange's `order_id`, driven by write answers, `user_order` frames, REST reads and fills.
//!
//! Counts: the exchange reports `fill_count`/`remaining_count` in write answers and order updates,
//! and fills arrive separately (often before or after those reports). An order keeps both the
//! highest reported fill count and the sum of the fills booked against it; its fill count is the
//! larger, and its remaining size drops by whatever the fills add beyond the last report, so a
//! fill is never counted twice and never missed.

use crate::core::{FastMap, FastSet};

use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};

use super::ids::{ClientOrderId, OrderId, OrderOwner, TradeId};
use super::state::{ExchangeStatus, IllegalTransition, OrderState, StateEvent, transition};

use super::{Fill, OrderSide};

/// Which write's answer was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LostWrite {
    Create,
    Amend,
}

/// A new order about to be sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderRequest {
    pub client_order_id: ClientOrderId,
    pub ticker: Ticker,
    pub side: OrderSide,
    pub yes_price: Price,
    pub count: Count,
}

/// The create answer (`order_id`, `fill_count`, `remaining_count`, `ts_ms`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CreateAck {
    pub order_id: OrderId,
    pub fill_count: Count,
    pub remaining_count: Count,
    pub ts_ms: Option<i64>,
}

/// An amend about to be sent: `count` is the new total (already filled + wanted remaining).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AmendRequest {
    pub yes_price: Price,
    pub count: Count,
    pub updated_client_order_id: Option<ClientOrderId>,
}

/// The amend answer (counts are optional in Kalshi's response).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AmendAck {
    pub fill_count: Option<Count>,
    pub remaining_count: Option<Count>,
    pub ts_ms: Option<i64>,
}

/// The exchange's view of one order: a `user_order` frame or a REST order read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderReport {
    pub order_id: OrderId,
    pub client_order_id: Option<ClientOrderId>,
    pub ticker: Ticker,
    pub side: OrderSide,
    pub yes_price: Price,
    pub status: ExchangeStatus,
    pub fill_count: Count,
    pub remaining_count: Count,
    pub initial_count: Option<Count>,
    /// `last_updated_ts_ms` (WS) or `last_update_time` (REST) when present: orders the reports.
    pub updated_ts_ms: Option<i64>,
}

/// What a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Applied to a known order; carries its state afterwards.
    Updated(OrderState),
    /// An order we had no record of (placed elsewhere or before a restart) is now tracked.
    Discovered(OrderState),
    /// Older than what we already hold; nothing changed.
    Stale,
}

/// What a fill did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillOutcome {
    /// False when this `trade_id` was booked before (a duplicate delivery).
    pub is_new: bool,
    /// The order it was booked against, if we know it.
    pub client_order_id: Option<ClientOrderId>,
}

/// Why the store refused an operation. The store is unchanged when it returns one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("no order with client_order_id {0:?}")]
    UnknownClientOrderId(String),
    #[error("client_order_id {0:?} is already in use")]
    DuplicateClientOrderId(String),
    #[error("order {client_order_id:?}: {source}")]
    Illegal {
        client_order_id: String,
        #[source]
        source: IllegalTransition,
    },
    #[error("order {0:?} has no exchange order_id yet")]
    NoOrderId(String),
    #[error("order {client_order_id:?} already carries order_id {existing:?}, not {given:?}")]
    OrderIdMismatch {
        client_order_id: String,
        existing: String,
        given: String,
    },
    #[error("order {0:?} has no amend in flight")]
    NoAmendInFlight(String),
    #[error(
        "order {client_order_id:?} cannot be amended in state {state:?} or with an amend in flight"
    )]
    NotAmendable {
        client_order_id: String,
        state: OrderState,
    },
}

/// One order as we know it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    /// The id the order was created with (the store's key; an amend may give it a new one).
    pub client_order_id: ClientOrderId,
    /// The id the exchange knows it by now (differs after an amend that renamed it).
    pub current_client_order_id: ClientOrderId,
    pub order_id: Option<OrderId>,
    pub ticker: Ticker,
    pub owner: OrderOwner,
    pub side: OrderSide,
    pub yes_price: Price,
    /// Total fillable size: filled + remaining (+ what a cancel took off); an amend or a
    /// decrease sets it. Not Kalshi's `initial_count`, which never changes.
    pub initial_count: Count,
    /// Highest fill count the exchange reported.
    pub reported_fill_count: Count,
    /// Sum of the fills booked against this order.
    pub booked_fill_count: Count,
    pub remaining_count: Count,
    pub state: OrderState,
    /// Set while the order is Unknown.
    pub lost_write: Option<LostWrite>,
    pub cancel_requested: bool,
    /// The exchange acknowledged a cancel; any size left is fills still on their way.
    pub cancel_acked: bool,
    pub pending_amend: Option<AmendRequest>,
    /// Fees the exchange charged on booked fills.
    pub fees_paid: Money,
    pub reject_reason: Option<String>,
    pub created_mono_ns: u64,
    /// Exchange timestamp of the newest report applied.
    pub last_exchange_ts_ms: Option<i64>,
}

impl Order {
    pub fn fill_count(&self) -> Count {
        self.reported_fill_count.max(self.booked_fill_count)
    }

    pub fn is_open(&self) -> bool {
        self.state.is_open()
    }

    /// Size whose existence depends on a write nobody has answered yet.
    pub fn in_flight_count(&self) -> Count {
        let amend_growth = self.pending_amend.as_ref().map_or(Count::ZERO, |amend| {
            amend
                .count
                .saturating_sub(self.initial_count)
                .max(Count::ZERO)
        });
        match self.state {
            OrderState::PendingCreate => self.remaining_count.saturating_add(amend_growth),
            OrderState::Unknown => match self.lost_write {
                Some(LostWrite::Create) | None => self.remaining_count.saturating_add(amend_growth),
                Some(LostWrite::Amend) => amend_growth,
            },
            OrderState::Resting => amend_growth,
            _ => Count::ZERO,
        }
    }

    /// What the remaining size costs if it all fills: `p` per contract for a bid, `1 − p` for an
    /// ask (it buys NO).
    pub fn remaining_cost(&self) -> Money {
        self.side
            .outcome_price(self.yes_price)
            .cost_of(self.remaining_count)
    }

    /// Apply newly learned fill information; returns how much the effective fill count grew.
    fn grow_fills(&mut self, reported: Option<Count>, booked: Count) -> Count {
        let before = self.fill_count();
        if let Some(reported) = reported {
            self.reported_fill_count = self.reported_fill_count.max(reported);
        }
        self.booked_fill_count = self.booked_fill_count.saturating_add(booked);
        self.fill_count().saturating_sub(before)
    }

    fn apply_event(&mut self, event: StateEvent) -> Result<OrderState, OrderError> {
        let to = transition(self.state, event).map_err(|source| OrderError::Illegal {
            client_order_id: self.client_order_id.to_string(),
            source,
        })?;
        if to != OrderState::Unknown {
            self.lost_write = None;
        }
        if to.is_final() {
            // Nothing of a finished order can trade any more; late fills still add to its
            // fill count.
            self.remaining_count = Count::ZERO;
            self.cancel_requested = false;
            self.pending_amend = None;
        }
        self.state = to;
        Ok(to)
    }

    /// After counts changed: a resting order with nothing left is done.
    fn settle_if_empty(&mut self) {
        if self.state == OrderState::Resting && self.remaining_count.is_zero() {
            let status = if self.cancel_acked || self.fill_count() < self.initial_count {
                ExchangeStatus::Canceled
            } else {
                ExchangeStatus::Executed
            };
            // Resting → Executed/Canceled is always legal.
            let _ = self.apply_event(StateEvent::Reported(status));
        }
    }

    /// Take the exchange's `fill_count`/`remaining_count` reported at one instant, keeping fills
    /// booked since then.
    fn take_reported_counts(&mut self, fill_count: Count, remaining_count: Count) {
        // Fill counts only grow on the exchange: a smaller one was reported earlier.
        if fill_count < self.reported_fill_count {
            return;
        }
        let booked_beyond_report = self.booked_fill_count.saturating_sub(fill_count);
        self.reported_fill_count = self.reported_fill_count.max(fill_count);
        self.remaining_count = remaining_count
            .saturating_sub(booked_beyond_report.max(Count::ZERO))
            .max(Count::ZERO);
    }
}

/// Net resting or in-flight size on each side of one market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct OpenQuantity {
    pub bids: Count,
    pub asks: Count,
}

impl OpenQuantity {
    pub fn total(&self) -> Count {
        self.bids.saturating_add(self.asks)
    }

    fn add(&mut self, side: OrderSide, count: Count) {
        match side {
            OrderSide::Bid => self.bids = self.bids.saturating_add(count),
            OrderSide::Ask => self.asks = self.asks.saturating_add(count),
        }
    }
}

/// Every order we know of.
#[derive(Debug, Clone, Default)]
pub struct Orders {
    orders: FastMap<ClientOrderId, Order>,
    by_order_id: FastMap<OrderId, ClientOrderId>,
    /// Renamed ids (amend `updated_client_order_id`) → the key the order is stored under.
    aliases: FastMap<ClientOrderId, ClientOrderId>,
    /// Open orders per market, for the per-market queries on the decision path.
    open_by_market: FastMap<Ticker, Vec<ClientOrderId>>,
    booked_trades: FastSet<TradeId>,
    /// Fills for an `order_id` we cannot place yet (the create answer is still on its way).
    unmatched_fills: FastMap<OrderId, (Count, Money)>,
}

impl Orders {
    pub fn new() -> Orders {
        Orders::default()
    }

    fn key_of(&self, client_order_id: &str) -> Option<ClientOrderId> {
        if let Some((key, _)) = self.orders.get_key_value(client_order_id) {
            return Some(key.clone());
        }
        self.aliases.get(client_order_id).cloned()
    }

    fn key_or_err(&self, client_order_id: &str) -> Result<ClientOrderId, OrderError> {
        self.key_of(client_order_id)
            .ok_or_else(|| OrderError::UnknownClientOrderId(client_order_id.to_string()))
    }

    /// Run `change` on a copy of the order and commit it only if it succeeds, so a refused
    /// operation leaves the store as it was; then keep the indexes in step.
    fn update<T>(
        &mut self,
        key: &ClientOrderId,
        change: impl FnOnce(&mut Order) -> Result<T, OrderError>,
    ) -> Result<T, OrderError> {
        let Some(order) = self.orders.get(key) else {
            return Err(OrderError::UnknownClientOrderId(key.to_string()));
        };
        let mut updated = order.clone();
        let result = change(&mut updated)?;
        self.commit(updated);
        Ok(result)
    }

    fn commit(&mut self, order: Order) {
        let key = order.client_order_id.clone();
        let open_list = self.open_by_market.entry(order.ticker.clone()).or_default();
        let listed = open_list.iter().position(|k| *k == key);
        match (order.is_open(), listed) {
            (true, None) => open_list.push(key.clone()),
            (false, Some(index)) => {
                open_list.swap_remove(index);
            }
            _ => {}
        }
        if open_list.is_empty() {
            self.open_by_market.remove(&order.ticker);
        }
        let unmatched = order
            .order_id
            .as_ref()
            .and_then(|order_id| self.unmatched_fills.remove(order_id));
        if let Some(order_id) = &order.order_id {
            self.by_order_id.insert(order_id.clone(), key.clone());
        }
        if order.current_client_order_id != key {
            self.aliases
                .insert(order.current_client_order_id.clone(), key.clone());
        }
        self.orders.insert(key.clone(), order);
        // Fills that arrived before we knew this order's id are booked now.
        if let Some((count, fee)) = unmatched
            && let Some(order) = self.orders.get(&key)
        {
            let mut order = order.clone();
            let grown = order.grow_fills(None, count);
            order.remaining_count = order.remaining_count.saturating_sub(grown).max(Count::ZERO);
            order.fees_paid = order.fees_paid.saturating_add(fee);
            order.settle_if_empty();
            self.commit(order);
        }
    }

    /// Record an order about to be sent (PendingCreate).
    pub fn record_intent(
        &mut self,
        request: OrderRequest,
        owner: OrderOwner,
        now_mono_ns: u64,
    ) -> Result<&Order, OrderError> {
        if self.key_of(request.client_order_id.as_str()).is_some() {
            return Err(OrderError::DuplicateClientOrderId(
                request.client_order_id.to_string(),
            ));
        }
        let key = request.client_order_id.clone();
        self.commit(Order {
            client_order_id: request.client_order_id.clone(),
            current_client_order_id: request.client_order_id,
            order_id: None,
            ticker: request.ticker,
            owner,
            side: request.side,
            yes_price: request.yes_price,
            initial_count: request.count,
            reported_fill_count: Count::ZERO,
            booked_fill_count: Count::ZERO,
            remaining_count: request.count,
            state: OrderState::PendingCreate,
            lost_write: None,
            cancel_requested: false,
            cancel_acked: false,
            pending_amend: None,
            fees_paid: Money::ZERO,
            reject_reason: None,
            created_mono_ns: now_mono_ns,
            last_exchange_ts_ms: None,
        });
        self.orders
            .get(&key)
            .ok_or(OrderError::UnknownClientOrderId(key.to_string()))
    }

    /// The create was answered: the order rests, or filled in full, or (IOC) ended cancelled.
    pub fn create_acked(
        &mut self,
        client_order_id: &str,
        ack: CreateAck,
    ) -> Result<OrderState, OrderError> {
        let key = self.key_or_err(client_order_id)?;
        self.update(&key, |order| {
            check_order_id(order, &ack.order_id)?;
            let status = if ack.remaining_count.is_positive() {
                ExchangeStatus::Resting
            } else if ack.fill_count >= order.initial_count {
                ExchangeStatus::Executed
            } else {
                ExchangeStatus::Canceled
            };
            // A user_order frame may have overtaken this answer (and even finished the order);
            // its counts are then newer than the answer's.
            let overtaken = matches!(
                (ack.ts_ms, order.last_exchange_ts_ms),
                (Some(answer), Some(held)) if answer < held
            );
            let state = order.apply_event(StateEvent::Reported(status))?;
            order.order_id = Some(ack.order_id);
            if !overtaken && (state == OrderState::Resting || status != ExchangeStatus::Resting) {
                order.take_reported_counts(ack.fill_count, ack.remaining_count);
            }
            if let Some(ts) = ack.ts_ms {
                order.last_exchange_ts_ms =
                    Some(order.last_exchange_ts_ms.map_or(ts, |t| t.max(ts)));
            }
            order.settle_if_empty();
            Ok(order.state)
        })
    }

    /// The create was refused.
    pub fn create_rejected(
        &mut self,
        client_order_id: &str,
        reason: &str,
    ) -> Result<OrderState, OrderError> {
        let key = self.key_or_err(client_order_id)?;
        self.update(&key, |order| {
            let state = order.apply_event(StateEvent::Rejected)?;
            order.remaining_count = Count::ZERO;
            order.reject_reason = Some(reason.to_string());
            Ok(state)
        })
    }

    /// A create or amend was sent and its answer lost: the order becomes Unknown.
    pub fn answer_lost(
        &mut self,
        client_order_id: &str,
        write: LostWrite,
    ) -> Result<OrderState, OrderError> {
        let key = self.key_or_err(client_order_id)?;
        self.update(&key, |order| {
            let state = order.apply_event(StateEvent::AnswerLost)?;
            // A create lost twice stays a lost create.
            if order.lost_write != Some(LostWrite::Create) {
                order.lost_write = Some(write);
            }
            Ok(state)
        })
    }

    /// An Unknown (or pending) order was looked for by a read newer than the send and is not
    /// there: it never existed.
    pub fn resolve_not_found(&mut self, client_order_id: &str) -> Result<OrderState, OrderError> {
        let key = self.key_or_err(client_order_id)?;
        self.update(&key, |order| {
            let state = order.apply_event(StateEvent::NotFound)?;
            order.remaining_count = Count::ZERO;
            order.pending_amend = None;
            Ok(state)
        })
    }

    /// A cancel is being sent.
    pub fn cancel_requested(&mut self, client_order_id: &str) -> Result<(), OrderError> {
        let key = self.key_or_err(client_order_id)?;
        self.update(&key, |order| {
            if order.is_open() {
                order.cancel_requested = true;
            }
            Ok(())
        })
    }

    /// The cancel failed or its answer was lost; it may be sent again.
    pub fn cancel_failed(&mut self, client_order_id: &str) -> Result<(), OrderError> {
        let key = self.key_or_err(client_order_id)?;
        self.update(&key, |order| {
            order.cancel_requested = false;
            Ok(())
        })
    }

    /// The cancel was answered: `reduced_by` contracts were taken off the book. If less than the
    /// remaining size was reduced, the rest was filled meanwhile and those fills are on their way:
    /// the order stays open for them.
    pub fn cancel_acked(
        &mut self,
        client_order_id: &str,
        reduced_by: Count,
        ts_ms: Option<i64>,
    ) -> Result<OrderState, OrderError> {
        let key = self.key_or_err(client_order_id)?;
        self.update(&key, |order| {
            order.cancel_requested = false;
            if order.state.is_final() {
                return Ok(order.state);
            }
            order.cancel_acked = true;
            order.remaining_count = order
                .remaining_count
                .saturating_sub(reduced_by)
                .max(Count::ZERO);
            if let Some(ts) = ts_ms {
                order.last_exchange_ts_ms =
                    Some(order.last_exchange_ts_ms.map_or(ts, |t| t.max(ts)));
            }
            if order.remaining_count.is_zero() {
                order.apply_event(StateEvent::Reported(ExchangeStatus::Canceled))?;
            }
            Ok(order.state)
        })
    }

    /// An amend is being sent (optionally renaming the order).
    pub fn amend_requested(
        &mut self,
        client_order_id: &str,
        amend: AmendRequest,
    ) -> Result<(), OrderError> {
        let key = self.key_or_err(client_order_id)?;
        if let Some(new_id) = &amend.updated_client_order_id
            && self.key_of(new_id.as_str()).is_some_and(|k| k != key)
        {
            return Err(OrderError::DuplicateClientOrderId(new_id.to_string()));
        }
        self.update(&key, |order| {
            if order.state != OrderState::Resting || order.pending_amend.is_some() {
                return Err(OrderError::NotAmendable {
                    client_order_id: order.client_order_id.to_string(),
                    state: order.state,
                });
            }
            order.pending_amend = Some(amend);
            Ok(())
        })
    }

    /// The amend was refused; the order is as it was.
    pub fn amend_rejected(&mut self, client_order_id: &str) -> Result<(), OrderError> {
        let key = self.key_or_err(client_order_id)?;
        self.update(&key, |order| {
            order.pending_amend = None;
            Ok(())
        })
    }

    /// The amend was answered: new price and total size, possibly a new id, possibly filled.
    pub fn amend_acked(
        &mut self,
        client_order_id: &str,
        ack: AmendAck,
    ) -> Result<OrderState, OrderError> {
        let key = self.key_or_err(client_order_id)?;
        self.update(&key, |order| {
            let Some(amend) = order.pending_amend.take() else {
                return Err(OrderError::NoAmendInFlight(
                    order.client_order_id.to_string(),
                ));
            };
            if order.state.is_final() {
                return Ok(order.state);
            }
            order.yes_price = amend.yes_price;
            order.initial_count = amend.count;
            if let Some(new_id) = amend.updated_client_order_id {
                order.current_client_order_id = new_id;
            }
            let fill_count = ack.fill_count.unwrap_or(order.fill_count());
            let remaining = ack
                .remaining_count
                .unwrap_or_else(|| amend.count.saturating_sub(fill_count).max(Count::ZERO));
            order.take_reported_counts(fill_count, remaining);
            if order.state == OrderState::Unknown {
                order.apply_event(StateEvent::Reported(ExchangeStatus::Resting))?;
            }
            if let Some(ts) = ack.ts_ms {
                order.last_exchange_ts_ms =
                    Some(order.last_exchange_ts_ms.map_or(ts, |t| t.max(ts)));
            }
            order.settle_if_empty();
            Ok(order.state)
        })
    }

    /// A decrease was answered with the order's new remaining size (zero ≡ cancelled).
    pub fn decrease_acked(
        &mut self,
        client_order_id: &str,
        remaining_count: Count,
        ts_ms: Option<i64>,
    ) -> Result<OrderState, OrderError> {
        let key = self.key_or_err(client_order_id)?;
        self.update(&key, |order| {
            if order.state.is_final() {
                return Ok(order.state);
            }
            let reduced = order
                .remaining_count
                .saturating_sub(remaining_count)
                .max(Count::ZERO);
            order.initial_count = order.initial_count.saturating_sub(reduced);
            order.remaining_count = remaining_count.min(order.remaining_count);
            if let Some(ts) = ts_ms {
                order.last_exchange_ts_ms =
                    Some(order.last_exchange_ts_ms.map_or(ts, |t| t.max(ts)));
            }
            if order.remaining_count.is_zero() {
                order.cancel_acked = true;
                order.apply_event(StateEvent::Reported(ExchangeStatus::Canceled))?;
            }
            Ok(order.state)
        })
    }

    /// The exchange's view of an order (`user_order`, REST read, or an Unknown order found).
    /// Older reports (by `updated_ts_ms`, or by a smaller fill count when there is no time) never
    /// undo newer ones, and a finished order is never reopened.
    pub fn apply_report(&mut self, report: OrderReport) -> Result<ReportOutcome, OrderError> {
        let key = self.by_order_id.get(&report.order_id).cloned().or_else(|| {
            report
                .client_order_id
                .as_ref()
                .and_then(|id| self.key_of(id.as_str()))
        });
        let Some(key) = key else {
            return Ok(ReportOutcome::Discovered(self.discover(report)));
        };
        self.update(&key, |order| {
            check_order_id(order, &report.order_id)?;
            let older = match (report.updated_ts_ms, order.last_exchange_ts_ms) {
                (Some(reported), Some(held)) => reported < held,
                _ => report.fill_count < order.reported_fill_count,
            };
            if older {
                return Ok(ReportOutcome::Stale);
            }
            order.order_id = Some(report.order_id.clone());
            let before = order.state;
            let state = order.apply_event(StateEvent::Reported(report.status))?;
            let stale_status = before.is_final() && report.status == ExchangeStatus::Resting;
            if !stale_status {
                if before == OrderState::Unknown {
                    // The report is the resolution: whatever the lost write did is in it.
                    order.pending_amend = None;
                }
                order.yes_price = report.yes_price;
                if report.status == ExchangeStatus::Resting {
                    order.initial_count = report.fill_count.saturating_add(report.remaining_count);
                }
                order.take_reported_counts(report.fill_count, report.remaining_count);
                if let Some(id) = &report.client_order_id {
                    order.current_client_order_id = id.clone();
                }
            }
            if let Some(ts) = report.updated_ts_ms {
                order.last_exchange_ts_ms =
                    Some(order.last_exchange_ts_ms.map_or(ts, |t| t.max(ts)));
            }
            if state.is_final() {
                order.remaining_count = Count::ZERO;
            } else {
                order.settle_if_empty();
            }
            Ok(ReportOutcome::Updated(order.state))
        })
    }

    fn discover(&mut self, report: OrderReport) -> OrderState {
        let client_order_id = report
            .client_order_id
            .clone()
            .unwrap_or_else(|| ClientOrderId::new(&format!("order:{}", report.order_id)));
        let owner = client_order_id.owner();
        let state = report.status.as_state();
        let remaining_count = if state.is_final() {
            Count::ZERO
        } else {
            report.remaining_count
        };
        let initial_count = report
            .initial_count
            .unwrap_or_else(|| report.fill_count.saturating_add(report.remaining_count));
        self.commit(Order {
            client_order_id: client_order_id.clone(),
            current_client_order_id: client_order_id,
            order_id: Some(report.order_id),
            ticker: report.ticker,
            owner,
            side: report.side,
            yes_price: report.yes_price,
            initial_count,
            reported_fill_count: report.fill_count,
            booked_fill_count: Count::ZERO,
            remaining_count,
            state,
            lost_write: None,
            cancel_requested: false,
            cancel_acked: false,
            pending_amend: None,
            fees_paid: Money::ZERO,
            reject_reason: None,
            created_mono_ns: 0,
            last_exchange_ts_ms: report.updated_ts_ms,
        });
        state
    }

    /// Book a fill against its order whatever the order's state. Duplicates (same `trade_id`)
    /// are recognised and change nothing.
    pub fn record_fill(&mut self, fill: &Fill) -> FillOutcome {
        if !self.booked_trades.insert(fill.trade_id.clone()) {
            return FillOutcome {
                is_new: false,
                client_order_id: self.by_order_id.get(&fill.order_id).cloned(),
            };
        }
        let key = self.by_order_id.get(&fill.order_id).cloned().or_else(|| {
            fill.client_order_id
                .as_ref()
                .and_then(|id| self.key_of(id.as_str()))
        });
        let Some(key) = key else {
            let entry = self
                .unmatched_fills
                .entry(fill.order_id.clone())
                .or_insert((Count::ZERO, Money::ZERO));
            entry.0 = entry.0.saturating_add(fill.count);
            entry.1 = entry.1.saturating_add(fill.fee_cost);
            return FillOutcome {
                is_new: true,
                client_order_id: None,
            };
        };
        let booked = self.update(&key, |order| {
            if order.order_id.is_none() {
                order.order_id = Some(fill.order_id.clone());
            }
            let grown = order.grow_fills(None, fill.count);
            order.remaining_count = order.remaining_count.saturating_sub(grown).max(Count::ZERO);
            order.fees_paid = order.fees_paid.saturating_add(fill.fee_cost);
            order.settle_if_empty();
            Ok(())
        });
        FillOutcome {
            is_new: true,
            client_order_id: booked.ok().map(|()| key),
        }
    }

    /// Whether this `trade_id` has been booked.
    pub fn has_fill(&self, trade_id: &TradeId) -> bool {
        self.booked_trades.contains(trade_id)
    }

    pub fn get(&self, client_order_id: &str) -> Option<&Order> {
        let key = self.key_of(client_order_id)?;
        self.orders.get(&key)
    }

    pub fn by_order_id(&self, order_id: &str) -> Option<&Order> {
        self.orders.get(self.by_order_id.get(order_id)?)
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Order> {
        self.orders.values()
    }

    /// Open orders (pending, resting, unknown) in one market.
    pub fn open_in_market<'a>(&'a self, ticker: &str) -> impl Iterator<Item = &'a Order> + 'a {
        self.open_by_market
            .get(ticker)
            .into_iter()
            .flatten()
            .filter_map(|key| self.orders.get(key))
    }

    /// Resting orders in one market.
    pub fn resting_in_market<'a>(&'a self, ticker: &str) -> impl Iterator<Item = &'a Order> + 'a {
        self.open_in_market(ticker)
            .filter(|order| order.state == OrderState::Resting)
    }

    /// Open orders owned by `owner`, any market.
    pub fn open_by_owner<'a>(
        &'a self,
        owner: &'a OrderOwner,
    ) -> impl Iterator<Item = &'a Order> + 'a {
        self.open_by_market
            .values()
            .flatten()
            .filter_map(|key| self.orders.get(key))
            .filter(move |order| order.owner == *owner)
    }

    /// Markets with at least one open order.
    pub fn markets_with_open_orders(&self) -> impl Iterator<Item = &Ticker> {
        self.open_by_market.keys()
    }

    /// Every open order, any market.
    pub fn open_orders(&self) -> impl Iterator<Item = &Order> {
        self.open_by_market
            .values()
            .flatten()
            .filter_map(|key| self.orders.get(key))
    }

    /// Resting size per side in one market.
    pub fn resting_quantity(&self, ticker: &str) -> OpenQuantity {
        let mut quantity = OpenQuantity::default();
        for order in self.resting_in_market(ticker) {
            quantity.add(order.side, order.remaining_count);
        }
        quantity
    }

    /// Size per side in one market that depends on unanswered writes (pending or lost creates,
    /// amends that grow an order).
    pub fn in_flight(&self, ticker: &str) -> OpenQuantity {
        let mut quantity = OpenQuantity::default();
        for order in self.open_in_market(ticker) {
            quantity.add(order.side, order.in_flight_count());
        }
        quantity
    }

    /// Total in-flight size in one market, both sides.
    pub fn in_flight_quantity(&self, ticker: &str) -> Count {
        self.in_flight(ticker).total()
    }

    /// What every open order would cost if it filled (`p` per contract for bids, `1 − p` for
    /// asks), including the growth of amends in flight: the cash new orders must leave for them.
    pub fn open_order_cost(&self) -> Money {
        self.open_orders()
            .map(|order| {
                let amend_growth = order.pending_amend.as_ref().map_or(Count::ZERO, |amend| {
                    amend
                        .count
                        .saturating_sub(order.initial_count)
                        .max(Count::ZERO)
                });
                order
                    .side
                    .outcome_price(order.yes_price)
                    .cost_of(order.remaining_count.saturating_add(amend_growth))
            })
            .fold(Money::ZERO, Money::saturating_add)
    }

    /// True while an order in this market is Unknown: its writes must wait.
    pub fn market_blocked_by_unknown(&self, ticker: &str) -> bool {
        self.open_in_market(ticker)
            .any(|order| order.state == OrderState::Unknown)
    }

    /// Every Unknown order (to resolve by REST).
    pub fn unknown_orders(&self) -> impl Iterator<Item = &Order> {
        self.open_orders()
            .filter(|order| order.state == OrderState::Unknown)
    }

    /// Drop finished orders the caller no longer needs (`keep` returns false to drop).
    pub fn retain_final(&mut self, mut keep: impl FnMut(&Order) -> bool) {
        let dropped: Vec<ClientOrderId> = self
            .orders
            .values()
            .filter(|order| order.state.is_final() && !keep(order))
            .map(|order| order.client_order_id.clone())
            .collect();
        for key in dropped {
            if let Some(order) = self.orders.remove(&key) {
                if let Some(order_id) = &order.order_id {
                    self.by_order_id.remove(order_id);
                }
                self.aliases.remove(&order.current_client_order_id);
            }
        }
    }
}

fn check_order_id(order: &Order, given: &OrderId) -> Result<(), OrderError> {
    match &order.order_id {
        Some(existing) if existing != given => Err(OrderError::OrderIdMismatch {
            client_order_id: order.client_order_id.to_string(),
            existing: existing.to_string(),
            given: given.to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::order::ids::ClientOrderIdIssuer;
    use proptest::prelude::*;

    const T: &str = "KXTEST-26-A";

    fn c(contracts: i64) -> Count {
        Count::from_contracts(contracts)
    }
    fn p(text: &str) -> Price {
        Price::parse(text).unwrap()
    }

    fn new_order(orders: &mut Orders, cid: &str, side: OrderSide, contracts: i64) {
        let request = OrderRequest {
            client_order_id: ClientOrderId::new(cid),
            ticker: Ticker::new(T),
            side,
            yes_price: p("0.40"),
            count: c(contracts),
        };
        let owner = request.client_order_id.owner();
        orders.record_intent(request, owner, 7).unwrap();
    }

    fn ack(order_id: &str, filled: i64, remaining: i64) -> CreateAck {
        CreateAck {
            order_id: OrderId::new(order_id),
            fill_count: c(filled),
            remaining_count: c(remaining),
            ts_ms: None,
        }
    }

    fn fill(trade: &str, order_id: &str, contracts: i64) -> Fill {
        Fill {
            trade_id: TradeId::new(trade),
            order_id: OrderId::new(order_id),
            client_order_id: None,
            ticker: Ticker::new(T),
            side: OrderSide::Bid,
            yes_price: p("0.40"),
            count: c(contracts),
            is_taker: false,
            fee_cost: Money::from_micros(1_000),
            ts_ms: 0,
        }
    }

    fn report(
        order_id: &str,
        status: ExchangeStatus,
        filled: i64,
        remaining: i64,
        ts: Option<i64>,
    ) -> OrderReport {
        OrderReport {
            order_id: OrderId::new(order_id),
            client_order_id: None,
            ticker: Ticker::new(T),
            side: OrderSide::Bid,
            yes_price: p("0.40"),
            status,
            fill_count: c(filled),
            remaining_count: c(remaining),
            initial_count: None,
            updated_ts_ms: ts,
        }
    }

    #[test]
    fn intent_ack_fills_execute() {
        let mut orders = Orders::new();
        new_order(&mut orders, "op-00000001-1", OrderSide::Bid, 10);
        assert_eq!(
            orders.in_flight(T),
            OpenQuantity {
                bids: c(10),
                asks: Count::ZERO
            }
        );
        assert_eq!(orders.resting_quantity(T), OpenQuantity::default());
        assert!(matches!(
            orders.record_intent(
                OrderRequest {
                    client_order_id: ClientOrderId::new("op-00000001-1"),
                    ticker: Ticker::new(T),
                    side: OrderSide::Bid,
                    yes_price: p("0.40"),
                    count: c(1),
                },
                OrderOwner::Operator,
                8
            ),
            Err(OrderError::DuplicateClientOrderId(_))
        ));
        assert_eq!(
            orders
                .create_acked("op-00000001-1", ack("X1", 2, 8))
                .unwrap(),
            OrderState::Resting
        );
        assert_eq!(orders.in_flight_quantity(T), Count::ZERO);
        assert_eq!(orders.resting_quantity(T).bids, c(8));
        // The 2 contracts the ack already counted arrive as a fill: not counted twice.
        assert!(orders.record_fill(&fill("t1", "X1", 2)).is_new);
        let order = orders.by_order_id("X1").unwrap();
        assert_eq!((order.fill_count(), order.remaining_count), (c(2), c(8)));
        assert!(orders.record_fill(&fill("t2", "X1", 5)).is_new);
        assert!(!orders.record_fill(&fill("t2", "X1", 5)).is_new);
        assert_eq!(orders.get("op-00000001-1").unwrap().remaining_count, c(3));
        orders.record_fill(&fill("t3", "X1", 3));
        let order = orders.get("op-00000001-1").unwrap();
        assert_eq!(order.state, OrderState::Executed);
        assert_eq!(order.fees_paid, Money::from_micros(3_000));
        assert_eq!(orders.open_in_market(T).count(), 0);
    }

    #[test]
    fn create_answer_overtaken_by_user_order() {
        let mut orders = Orders::new();
        new_order(&mut orders, "a", OrderSide::Bid, 10);
        // The user_order frame (5 filled) arrives before the create answer (0 filled).
        let mut frame = report("X1", ExchangeStatus::Resting, 5, 5, Some(2_000));
        frame.client_order_id = Some(ClientOrderId::new("a"));
        orders.apply_report(frame).unwrap();
        let mut answer = ack("X1", 0, 10);
        answer.ts_ms = Some(1_000);
        assert_eq!(
            orders.create_acked("a", answer).unwrap(),
            OrderState::Resting
        );
        let order = orders.get("a").unwrap();
        assert_eq!((order.fill_count(), order.remaining_count), (c(5), c(5)));
        // Without timestamps the smaller fill count still marks the answer as older.
        new_order(&mut orders, "b", OrderSide::Bid, 10);
        let mut frame = report("X2", ExchangeStatus::Resting, 5, 5, None);
        frame.client_order_id = Some(ClientOrderId::new("b"));
        orders.apply_report(frame).unwrap();
        orders.create_acked("b", ack("X2", 0, 10)).unwrap();
        assert_eq!(orders.get("b").unwrap().remaining_count, c(5));
    }

    #[test]
    fn ioc_remainder_ends_cancelled_and_reject_ends_rejected() {
        let mut orders = Orders::new();
        new_order(&mut orders, "a", OrderSide::Ask, 10);
        assert_eq!(
            orders.create_acked("a", ack("X1", 4, 0)).unwrap(),
            OrderState::Canceled
        );
        new_order(&mut orders, "b", OrderSide::Ask, 10);
        assert_eq!(
            orders.create_acked("b", ack("X2", 10, 0)).unwrap(),
            OrderState::Executed
        );
        new_order(&mut orders, "r", OrderSide::Bid, 1);
        assert_eq!(
            orders.create_rejected("r", "insufficient_balance").unwrap(),
            OrderState::Rejected
        );
        assert_eq!(
            orders.get("r").unwrap().reject_reason.as_deref(),
            Some("insufficient_balance")
        );
        // Illegal: a finished order cannot be rejected; the store is unchanged.
        let before = orders.get("a").cloned();
        assert!(matches!(
            orders.create_rejected("a", "late"),
            Err(OrderError::Illegal { .. })
        ));
        assert_eq!(orders.get("a").cloned(), before);
        assert!(matches!(
            orders.create_acked("nope", ack("X9", 0, 1)),
            Err(OrderError::UnknownClientOrderId(_))
        ));
    }

    #[test]
    fn fill_after_cancel_ack_is_booked() {
        let mut orders = Orders::new();
        new_order(&mut orders, "a", OrderSide::Bid, 10);
        orders.create_acked("a", ack("X1", 0, 10)).unwrap();
        orders.cancel_requested("a").unwrap();
        assert!(orders.get("a").unwrap().cancel_requested);
        // The exchange filled 4 while the cancel was in flight: it reduced only 6.
        assert_eq!(
            orders.cancel_acked("a", c(6), None).unwrap(),
            OrderState::Resting
        );
        let order = orders.get("a").unwrap();
        assert_eq!(order.remaining_count, c(4));
        assert!(order.cancel_acked && !order.cancel_requested);
        orders.record_fill(&fill("t1", "X1", 4));
        let order = orders.get("a").unwrap();
        assert_eq!(order.state, OrderState::Canceled);
        assert_eq!(order.fill_count(), c(4));
        // And a fill after the order is finished is still booked.
        new_order(&mut orders, "b", OrderSide::Bid, 5);
        orders.create_acked("b", ack("X2", 0, 5)).unwrap();
        orders.cancel_acked("b", c(5), None).unwrap();
        assert_eq!(orders.get("b").unwrap().state, OrderState::Canceled);
        let outcome = orders.record_fill(&fill("t2", "X2", 1));
        assert_eq!(outcome.client_order_id, Some(ClientOrderId::new("b")));
        assert_eq!(orders.get("b").unwrap().fill_count(), c(1));
    }

    #[test]
    fn older_updates_never_resurrect() {
        let mut orders = Orders::new();
        new_order(&mut orders, "a", OrderSide::Bid, 10);
        orders.create_acked("a", ack("X1", 0, 10)).unwrap();
        let cancel = report("X1", ExchangeStatus::Canceled, 3, 0, Some(2_000));
        assert_eq!(
            orders.apply_report(cancel).unwrap(),
            ReportOutcome::Updated(OrderState::Canceled)
        );
        let older = report("X1", ExchangeStatus::Resting, 3, 7, Some(1_000));
        assert_eq!(orders.apply_report(older).unwrap(), ReportOutcome::Stale);
        // Even without a timestamp a resting report cannot reopen it.
        let untimed = report("X1", ExchangeStatus::Resting, 3, 7, None);
        assert_eq!(
            orders.apply_report(untimed).unwrap(),
            ReportOutcome::Updated(OrderState::Canceled)
        );
        let order = orders.get("a").unwrap();
        assert_eq!(
            (order.state, order.remaining_count),
            (OrderState::Canceled, Count::ZERO)
        );
        assert_eq!(order.fill_count(), c(3));
    }

    #[test]
    fn unknown_blocks_the_market_until_resolved() {
        let mut orders = Orders::new();
        new_order(&mut orders, "a", OrderSide::Bid, 10);
        assert_eq!(
            orders.answer_lost("a", LostWrite::Create).unwrap(),
            OrderState::Unknown
        );
        assert!(orders.market_blocked_by_unknown(T));
        assert_eq!(orders.unknown_orders().count(), 1);
        assert_eq!(orders.in_flight_quantity(T), c(10));
        // Found resting by a REST read (matched by client_order_id).
        let mut found = report("X1", ExchangeStatus::Resting, 1, 9, Some(5));
        found.client_order_id = Some(ClientOrderId::new("a"));
        assert_eq!(
            orders.apply_report(found).unwrap(),
            ReportOutcome::Updated(OrderState::Resting)
        );
        assert!(!orders.market_blocked_by_unknown(T));
        assert_eq!(orders.by_order_id("X1").unwrap().remaining_count, c(9));
        // Another lost create, not found: never existed.
        new_order(&mut orders, "b", OrderSide::Ask, 3);
        orders.answer_lost("b", LostWrite::Create).unwrap();
        assert_eq!(
            orders.resolve_not_found("b").unwrap(),
            OrderState::NeverExisted
        );
        assert!(!orders.market_blocked_by_unknown(T));
        assert_eq!(orders.in_flight_quantity(T), Count::ZERO);
        assert!(matches!(
            orders.resolve_not_found("a"),
            Err(OrderError::Illegal { .. })
        ));
    }

    #[test]
    fn amend_renames_and_resizes() {
        let mut orders = Orders::new();
        new_order(&mut orders, "a", OrderSide::Bid, 10);
        orders.create_acked("a", ack("X1", 2, 8)).unwrap();
        let amend = AmendRequest {
            yes_price: p("0.42"),
            count: c(15),
            updated_client_order_id: Some(ClientOrderId::new("a2")),
        };
        orders.amend_requested("a", amend.clone()).unwrap();
        assert!(matches!(
            orders.amend_requested("a", amend.clone()),
            Err(OrderError::NotAmendable { .. })
        ));
        // Growing 10 → 15 puts 5 in flight until the answer.
        assert_eq!(orders.in_flight(T).bids, c(5));
        let state = orders
            .amend_acked(
                "a",
                AmendAck {
                    fill_count: Some(c(2)),
                    remaining_count: Some(c(13)),
                    ts_ms: Some(10),
                },
            )
            .unwrap();
        assert_eq!(state, OrderState::Resting);
        let order = orders.get("a2").unwrap();
        assert_eq!(order.client_order_id.as_str(), "a");
        assert_eq!((order.yes_price, order.remaining_count), (p("0.42"), c(13)));
        assert_eq!(orders.in_flight_quantity(T), Count::ZERO);
        // A lost amend: Unknown, the growth stays in flight, the market waits.
        orders
            .amend_requested(
                "a2",
                AmendRequest {
                    yes_price: p("0.43"),
                    count: c(20),
                    updated_client_order_id: None,
                },
            )
            .unwrap();
        orders.answer_lost("a2", LostWrite::Amend).unwrap();
        assert!(orders.market_blocked_by_unknown(T));
        assert_eq!(orders.in_flight_quantity(T), c(5));
        let mut found = report("X1", ExchangeStatus::Resting, 2, 18, Some(20));
        found.yes_price = p("0.43");
        orders.apply_report(found).unwrap();
        let order = orders.get("a").unwrap();
        assert_eq!(order.state, OrderState::Resting);
        assert_eq!((order.yes_price, order.initial_count), (p("0.43"), c(20)));
        assert_eq!(order.pending_amend, None);
        assert!(!orders.market_blocked_by_unknown(T));
        // Decrease to zero is a cancel.
        assert_eq!(
            orders.decrease_acked("a", Count::ZERO, None).unwrap(),
            OrderState::Canceled
        );
    }

    #[test]
    fn fills_before_the_ack_are_kept() {
        let mut orders = Orders::new();
        new_order(&mut orders, "a", OrderSide::Bid, 10);
        // A REST fill without client_order_id, before we know X1.
        let outcome = orders.record_fill(&fill("t1", "X1", 3));
        assert!(outcome.is_new && outcome.client_order_id.is_none());
        orders.create_acked("a", ack("X1", 3, 7)).unwrap();
        let order = orders.get("a").unwrap();
        assert_eq!((order.fill_count(), order.remaining_count), (c(3), c(7)));
        assert_eq!(order.fees_paid, Money::from_micros(1_000));
        // A WS fill carrying the client_order_id before the ack.
        new_order(&mut orders, "b", OrderSide::Bid, 4);
        let mut early = fill("t2", "X2", 4);
        early.client_order_id = Some(ClientOrderId::new("b"));
        orders.record_fill(&early);
        assert_eq!(
            orders.create_acked("b", ack("X2", 4, 0)).unwrap(),
            OrderState::Executed
        );
        assert_eq!(orders.get("b").unwrap().fill_count(), c(4));
    }

    #[test]
    fn discovered_orders_and_owner_queries() {
        let mut issuer = ClientOrderIdIssuer::new(0xabcd_0001);
        let mut orders = Orders::new();
        let mine = issuer.issue(&OrderOwner::strategy("maker")).unwrap();
        new_order(&mut orders, mine.as_str(), OrderSide::Bid, 2);
        orders.create_acked(mine.as_str(), ack("X1", 0, 2)).unwrap();
        // Found after a restart: an id from an earlier session still decodes to its strategy.
        let mut earlier = report("X2", ExchangeStatus::Resting, 0, 5, None);
        earlier.client_order_id = Some(ClientOrderId::new("m-maker-00000007-3"));
        assert_eq!(
            orders.apply_report(earlier).unwrap(),
            ReportOutcome::Discovered(OrderState::Resting)
        );
        let mut web = report("X3", ExchangeStatus::Resting, 0, 1, None);
        web.client_order_id = Some(ClientOrderId::new("0a6a3f1c-web"));
        orders.apply_report(web).unwrap();
        let maker = OrderOwner::strategy("maker");
        assert_eq!(orders.open_by_owner(&maker).count(), 2);
        assert_eq!(orders.open_by_owner(&OrderOwner::External).count(), 1);
        assert_eq!(orders.resting_in_market(T).count(), 3);
        assert_eq!(orders.resting_quantity(T).bids, c(8));
        orders
            .apply_report(report("X3", ExchangeStatus::Canceled, 0, 0, None))
            .unwrap();
        orders.retain_final(|_| false);
        assert!(orders.by_order_id("X3").is_none());
        assert_eq!(orders.len(), 2);
    }

    #[test]
    fn journaled_types_round_trip() {
        let mut orders = Orders::new();
        new_order(&mut orders, "op-00000001-1", OrderSide::Ask, 3);
        let order = orders.get("op-00000001-1").unwrap().clone();
        let text = serde_json::to_string(&order).unwrap();
        assert_eq!(serde_json::from_str::<Order>(&text).unwrap(), order);
        let fill = fill("t1", "X1", 1);
        let text = serde_json::to_string(&fill).unwrap();
        assert_eq!(serde_json::from_str::<Fill>(&text).unwrap(), fill);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Ack(i64, i64),
        Reject,
        Lost(bool),
        NotFound,
        CancelRequest,
        CancelAck(i64),
        AmendRequest(i64),
        AmendAck(i64),
        Decrease(i64),
        Report(u8, i64, i64, Option<i64>),
        Fill(u8, i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0i64..=10, 0i64..=10).prop_map(|(f, r)| Op::Ack(f, r)),
            Just(Op::Reject),
            any::<bool>().prop_map(Op::Lost),
            Just(Op::NotFound),
            Just(Op::CancelRequest),
            (0i64..=10).prop_map(Op::CancelAck),
            (1i64..=20).prop_map(Op::AmendRequest),
            (0i64..=20).prop_map(Op::AmendAck),
            (0i64..=10).prop_map(Op::Decrease),
            (0u8..3, 0i64..=10, 0i64..=10, prop::option::of(0i64..100))
                .prop_map(|(s, f, r, t)| Op::Report(s, f, r, t)),
            (0u8..6, 1i64..=3).prop_map(|(t, n)| Op::Fill(t, n)),
        ]
    }

    proptest! {
        /// Any sequence of answers, reports and fills: nothing panics, a refused operation
        /// changes nothing, an executed or cancelled order never rests again, and a duplicate
        /// fill is never booked twice.
        #[test]
        fn random_histories_keep_the_rules(ops in prop::collection::vec(op(), 1..40)) {
            let mut orders = Orders::new();
            new_order(&mut orders, "a", OrderSide::Bid, 10);
            let mut fills_seen = std::collections::BTreeMap::new();
            for op in ops {
                let before = orders.get("a").cloned().unwrap();
                let result: Result<(), OrderError> = match op {
                    Op::Ack(f, r) => orders.create_acked("a", ack("X1", f, r)).map(drop),
                    Op::Reject => orders.create_rejected("a", "no").map(drop),
                    Op::Lost(create) => orders
                        .answer_lost("a", if create { LostWrite::Create } else { LostWrite::Amend })
                        .map(drop),
                    Op::NotFound => orders.resolve_not_found("a").map(drop),
                    Op::CancelRequest => orders.cancel_requested("a"),
                    Op::CancelAck(n) => orders.cancel_acked("a", c(n), None).map(drop),
                    Op::AmendRequest(n) => orders.amend_requested(
                        "a",
                        AmendRequest { yes_price: p("0.41"), count: c(n), updated_client_order_id: None },
                    ),
                    Op::AmendAck(r) => orders
                        .amend_acked("a", AmendAck { fill_count: None, remaining_count: Some(c(r)), ts_ms: None })
                        .map(drop),
                    Op::Decrease(r) => orders.decrease_acked("a", c(r), None).map(drop),
                    Op::Report(s, f, r, t) => {
                        let status = [ExchangeStatus::Resting, ExchangeStatus::Executed, ExchangeStatus::Canceled][usize::from(s)];
                        let mut update = report("X1", status, f, r, t);
                        update.client_order_id = Some(ClientOrderId::new("a"));
                        orders.apply_report(update).map(drop)
                    }
                    Op::Fill(t, n) => {
                        let first = !fills_seen.contains_key(&t);
                        let n = *fills_seen.entry(t).or_insert(n);
                        let mut f = fill(&format!("t{t}"), "X1", n);
                        f.client_order_id = Some(ClientOrderId::new("a"));
                        prop_assert_eq!(orders.record_fill(&f).is_new, first);
                        Ok(())
                    }
                };
                let after = orders.get("a").cloned().unwrap();
                if result.is_err() {
                    prop_assert_eq!(&after, &before);
                }
                if matches!(before.state, OrderState::Executed | OrderState::Canceled) {
                    prop_assert!(after.state.is_final(), "{:?} reopened to {:?}", before.state, after.state);
                }
                if after.state.is_final() {
                    prop_assert_eq!(after.remaining_count, Count::ZERO);
                }
                prop_assert!(!after.remaining_count.is_negative());
                let booked: i64 = fills_seen.values().sum();
                prop_assert!(after.booked_fill_count <= c(booked));
                prop_assert_eq!(
                    orders.market_blocked_by_unknown(T),
                    after.state == OrderState::Unknown
                );
            }
        }

        /// Fills (with duplicate deliveries) and timestamped reports arrive in any order: the
        /// order never counts a contract twice, fill + remaining stays the order size, and once
        /// every fill is in, it is executed with exactly the fills' total.
        #[test]
        fn fills_and_reports_in_any_order(
            chunks in prop::collection::vec(1i64..=5, 1..12),
            delivery in prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 1..40),
        ) {
            let total: i64 = chunks.iter().sum();
            let mut orders = Orders::new();
            new_order(&mut orders, "a", OrderSide::Bid, total);
            orders.create_acked("a", ack("X1", 0, total)).unwrap();
            // Events in exchange order: fill i, then a report of the cumulative count.
            let mut events = Vec::new();
            let mut cumulative = 0;
            for (i, chunk) in chunks.iter().enumerate() {
                cumulative += chunk;
                events.push((true, i, *chunk, cumulative));
            }
            // Shuffle by the generated indices, with duplicates.
            let mut schedule: Vec<(bool, usize, i64, i64)> = Vec::new();
            for (index, duplicate) in &delivery {
                let event = events[index.index(events.len())];
                schedule.push(event);
                if *duplicate {
                    schedule.push((false, event.1, event.2, event.3));
                }
            }
            schedule.extend(events.iter().copied());
            for (is_fill, i, chunk, cumulative) in schedule {
                if is_fill {
                    orders.record_fill(&fill(&format!("t{i}"), "X1", chunk));
                } else {
                    let status = if cumulative == total { ExchangeStatus::Executed } else { ExchangeStatus::Resting };
                    let _ = orders.apply_report(report("X1", status, cumulative, total - cumulative, Some(i as i64)));
                }
                let order = orders.get("a").unwrap();
                prop_assert!(order.fill_count() <= c(total));
                if order.is_open() {
                    prop_assert_eq!(order.fill_count().saturating_add(order.remaining_count), c(total));
                }
            }
            let order = orders.get("a").unwrap();
            prop_assert_eq!(order.state, OrderState::Executed);
            prop_assert_eq!(order.fill_count(), c(total));
            prop_assert_eq!(order.booked_fill_count, c(total));
            prop_assert_eq!(order.remaining_count, Count::ZERO);
        }
    }
}
