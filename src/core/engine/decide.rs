//! Strategy cycles, the risk gate's inputs, and sending orders.

use crate::core::control::OperatorMode;
use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};
use crate::core::order::{AmendRequest, Order, OrderOwner, OrderRequest, OrderState};
use crate::core::risk::{
    self, Approved, DeskExposure, EventExposure, EventStructure, Leg, LegOrder, MarketExposure,
    OrderCheck, ReduceOnlyCause, Reference, Refusal, Side, TimeInForce,
};
use crate::core::strategy::{
    DesiredOrder, MarketView, OrderAction, OwnOrder, StrategyInput, diff_orders,
};

use super::{AlarmLevel, AuditKind, Engine, OrderIntent, Origin, StrategySlot};

/// An order on its way to the gate.
pub(super) struct OrderTicket {
    pub origin: Origin,
    pub owner: OrderOwner,
    pub ticker: Ticker,
    pub order: DesiredOrder,
    pub reduce_only_cause: Option<ReduceOnlyCause>,
    pub flatten_permit: bool,
}

/// What the gate is asked about.
struct GateQuery<'a> {
    ticker: &'a Ticker,
    side: Side,
    price: Price,
    count: Count,
    time_in_force: TimeInForce,
    reduce_only: bool,
    /// For an amend: the order being amended (its current exposure is replaced).
    amending: Option<&'a Order>,
    reduce_only_cause: Option<ReduceOnlyCause>,
}

/// Orders that count toward exposure: open, and not on their way out.
fn counts_toward_exposure(order: &Order, excluded: Option<&Order>) -> bool {
    !order.cancel_requested && excluded.is_none_or(|ex| ex.client_order_id != order.client_order_id)
}

impl Engine {
    /// One strategy cycle for one market: cancel the strategy's orders if the market may not
    /// quote, otherwise ask the strategy and reconcile its own orders with what it wants.
    pub(super) fn run_market(&mut self, ticker: &Ticker) {
        let (must_go, may_trade) = self.control.market_ref(ticker).map_or(
            // A market the control has never seen is DISARMED.
            (true, false),
            |m| (m.strategy_orders_must_go(), m.strategy_may_trade()),
        );
        // Orders still being created or unknown cannot be cancelled by id yet: the next cycle
        // after their answer will.
        let cancellable = |o: &Order| o.state == OrderState::Resting && !o.cancel_requested;
        if must_go {
            let doomed: Vec<Order> = self
                .orders
                .open_in_market(ticker.as_str())
                .filter(|o| Self::is_strategy_owned(&o.owner) && cancellable(o))
                .cloned()
                .collect();
            for order in &doomed {
                self.cancel_order(Origin::Strategy, order);
            }
            return;
        }
        if !may_trade || self.unknown_order_in(ticker.as_str()).is_some() {
            return;
        }
        // While the desk's order-rate window is full the strategy is not asked at all: its
        // orders would only be refused, and it would look like a runaway for wanting them.
        let in_window = self
            .accepted_writes
            .count(self.now.mono_ns, self.config.limits.rate_window_ms);
        if in_window >= self.config.limits.max_orders_per_window {
            return;
        }
        let Some(owner) = self.strategies.get(ticker).map(StrategySlot::owner) else {
            return;
        };
        // Another strategy's orders (the market's strategy was replaced) go.
        let foreign: Vec<Order> = self
            .orders
            .open_in_market(ticker.as_str())
            .filter(|o| Self::is_strategy_owned(&o.owner) && o.owner != owner && cancellable(o))
            .cloned()
            .collect();
        for order in &foreign {
            self.cancel_order(Origin::Strategy, order);
        }
        let own: Vec<OwnOrder> = self
            .orders
            .open_in_market(ticker.as_str())
            .filter(|o| o.owner == owner)
            .map(|o| OwnOrder {
                client_order_id: o.client_order_id.to_string(),
                side: o.side,
                price: o.yes_price,
                remaining: o.remaining_count,
                time_in_force: self
                    .order_tifs
                    .get(&o.client_order_id)
                    .copied()
                    .unwrap_or(TimeInForce::GoodTillCanceled),
                expiration_s: self.expirations.get(&o.client_order_id).copied(),
                busy: o.state != OrderState::Resting
                    || o.cancel_requested
                    || o.pending_amend.is_some()
                    || self.pending_decreases.contains(&o.client_order_id),
            })
            .collect();
        let record = self.markets.get(ticker).unwrap_or(&self.default_market);
        let book = self
            .books
            .get(ticker.as_str())
            .filter(|b| !b.is_resync_needed());
        let view = MarketView {
            ticker,
            grid: &record.grid,
            best_bid: book.and_then(|b| b.best_yes_bid()),
            best_ask: book.and_then(|b| b.best_yes_ask()),
            mid: book.and_then(|b| b.mid()),
            microprice: book.and_then(|b| b.microprice()),
            last_trade: self.last_trade.get(ticker).copied(),
            book_age_ms: book.map(|b| b.age_ms(self.now.mono_ns)),
            close_exchange_ms: record.close_ms,
        };
        let input = StrategyInput {
            view,
            own_orders: &own,
            position: self.portfolio.contracts(ticker.as_str()),
            fair: self.fair_values.get(ticker.as_str()).cloned(),
            now: self.now,
        };
        let Some(slot) = self.strategies.get_mut(ticker) else {
            return;
        };
        let desired = slot.strategy.desired(&input);
        let actions = diff_orders(&desired, &own);
        for action in &actions {
            if !matches!(action, OrderAction::Place(_) | OrderAction::Amend { .. }) {
                // Places and amends are counted by the gate; the rest count here.
                self.attempted_writes.record(self.now.mono_ns);
            }
        }
        for action in actions {
            if self.is_halted() {
                // A halt mid-cycle (never expected here, but cheap to honour) stops everything.
                break;
            }
            match action {
                OrderAction::Place(order) => {
                    self.send_place(OrderTicket {
                        origin: Origin::Strategy,
                        owner: owner.clone(),
                        ticker: ticker.clone(),
                        order,
                        reduce_only_cause: None,
                        flatten_permit: false,
                    });
                }
                OrderAction::Amend {
                    client_order_id,
                    to,
                } => {
                    let Some(order) = self.orders.get(&client_order_id).cloned() else {
                        continue;
                    };
                    if self.gate_amend(Origin::Strategy, &order, to.price, to.count, None) {
                        continue;
                    }
                    self.send_amend(
                        Origin::Strategy,
                        &order,
                        AmendRequest {
                            yes_price: to.price,
                            count: order.fill_count().saturating_add(to.count),
                            updated_client_order_id: None,
                        },
                        to.expiration_s,
                    );
                }
                OrderAction::Decrease {
                    client_order_id,
                    to,
                } => {
                    if let Some(order) = self.orders.get(&client_order_id).cloned() {
                        self.send_decrease(Origin::Strategy, &order, to);
                    }
                }
                OrderAction::Cancel { client_order_id } => {
                    if let Some(order) = self.orders.get(&client_order_id).cloned() {
                        self.cancel_order(Origin::Strategy, &order);
                    }
                }
            }
        }
    }

    /// The collar's reference: mid of a fresh two-sided book, else its fresh side, else none.
    fn reference(&self, ticker: &str) -> Reference {
        if !self.book_fresh(ticker) {
            return Reference::None;
        }
        let Some(book) = self.books.get(ticker) else {
            return Reference::None;
        };
        match (book.best_yes_bid(), book.best_yes_ask(), book.mid()) {
            (Some(_), Some(_), Some(mid)) => Reference::Mid(mid),
            (Some(bid), None, _) => Reference::BidOnly(bid.price),
            (None, Some(ask), _) => Reference::AskOnly(ask.price),
            _ => Reference::None,
        }
    }

    fn market_exposure(&self, ticker: &str, excluded: Option<&Order>) -> MarketExposure {
        let mut exposure = MarketExposure {
            position: self.portfolio.contracts(ticker),
            ..MarketExposure::default()
        };
        for order in self
            .orders
            .open_in_market(ticker)
            .filter(|o| counts_toward_exposure(o, excluded))
        {
            let in_flight = order.in_flight_count();
            let resting = if order.state == OrderState::Resting {
                order.remaining_count
            } else {
                Count::ZERO
            };
            match order.side {
                Side::Bid => {
                    exposure.resting_bid = exposure.resting_bid.saturating_add(resting);
                    exposure.in_flight_bid = exposure.in_flight_bid.saturating_add(in_flight);
                }
                Side::Ask => {
                    exposure.resting_ask = exposure.resting_ask.saturating_add(resting);
                    exposure.in_flight_ask = exposure.in_flight_ask.saturating_add(in_flight);
                }
            }
        }
        exposure
    }

    fn event_exposure(&self, ticker: &Ticker, excluded: Option<&Order>) -> Option<EventExposure> {
        let event_ticker = self.markets.get(ticker)?.event_ticker.clone()?;
        let structure = self
            .events
            .get(&event_ticker)
            .cloned()
            .unwrap_or(EventStructure::Independent);
        let mut members: Vec<(Option<u32>, &Ticker)> = self
            .markets
            .iter()
            .filter(|(_, r)| r.event_ticker.as_deref() == Some(event_ticker.as_str()))
            .map(|(t, r)| (r.strike_rank, t))
            .collect();
        members.sort();
        let legs = members
            .into_iter()
            .map(|(_, member)| {
                let position = self.portfolio.position(member.as_str());
                Leg {
                    ticker: member.clone(),
                    position: position.map_or(Count::ZERO, |p| p.contracts),
                    position_cost: position.map_or(Money::ZERO, |p| p.cost_basis),
                    orders: self
                        .orders
                        .open_in_market(member.as_str())
                        .filter(|o| counts_toward_exposure(o, excluded))
                        .map(|o| LegOrder {
                            side: o.side,
                            price: o.yes_price,
                            count: o.remaining_count.max(o.in_flight_count()),
                        })
                        .collect(),
                }
            })
            .collect();
        Some(EventExposure {
            event_ticker,
            structure,
            legs,
        })
    }

    fn desk_exposure(&mut self, excluded: Option<&Order>) -> DeskExposure {
        let mut gross = self.portfolio.gross_exposure();
        let mut in_flight_cost = Money::ZERO;
        let mut open_orders = 0u32;
        for order in self.orders.open_orders() {
            open_orders = open_orders.saturating_add(1);
            if !counts_toward_exposure(order, excluded) {
                continue;
            }
            gross = gross.saturating_add(order.remaining_cost());
            if matches!(order.state, OrderState::PendingCreate | OrderState::Unknown) {
                in_flight_cost = in_flight_cost.saturating_add(order.remaining_cost());
            }
        }
        DeskExposure {
            gross_exposure: gross,
            available_balance: self.portfolio.available_balance(),
            in_flight_cost,
            open_orders,
            orders_in_window: self
                .accepted_writes
                .count(self.now.mono_ns, self.config.limits.rate_window_ms),
            daily_pnl: self.daily_pnl(),
        }
    }

    /// The risk gate with this engine's numbers. Every attempt counts toward the runaway rule.
    fn gate(&mut self, query: GateQuery<'_>) -> Result<Approved, Refusal> {
        self.attempted_writes.record(self.now.mono_ns);
        let on_grid = self
            .markets
            .get(query.ticker)
            .unwrap_or(&self.default_market)
            .grid
            .is_tradeable(query.price);
        let cause = query.reduce_only_cause.or_else(|| {
            if self.is_halted() {
                Some(ReduceOnlyCause::Halted)
            } else if self.control.market(query.ticker).mode == OperatorMode::Reducing {
                Some(ReduceOnlyCause::Reducing)
            } else {
                None
            }
        });
        let check = OrderCheck {
            ticker: query.ticker.clone(),
            side: query.side,
            price: query.price,
            count: query.count,
            time_in_force: query.time_in_force,
            reduce_only: query.reduce_only,
            is_amend: query.amending.is_some(),
            on_grid,
            reference: self.reference(query.ticker.as_str()),
            reduce_only_cause: cause,
            market: self.market_exposure(query.ticker.as_str(), query.amending),
            event: self.event_exposure(query.ticker, query.amending),
            desk: self.desk_exposure(query.amending),
        };
        let verdict = risk::check_order(&self.config.limits, &check);
        if verdict.is_ok() {
            self.accepted_writes.record(self.now.mono_ns);
        }
        verdict
    }

    /// Gate, record and emit a new order. Returns whether it was sent.
    pub(super) fn send_place(&mut self, ticket: OrderTicket) -> bool {
        let OrderTicket {
            origin,
            owner,
            ticker,
            order,
            reduce_only_cause,
            flatten_permit,
        } = ticket;
        let verdict = self.gate(GateQuery {
            ticker: &ticker,
            side: order.side,
            price: order.price,
            count: order.count,
            time_in_force: order.time_in_force,
            reduce_only: order.reduce_only,
            amending: None,
            reduce_only_cause,
        });
        if let Err(refusal) = verdict {
            self.audit(AuditKind::OrderRefused {
                origin,
                ticker,
                refusal,
            });
            return false;
        }
        let client_order_id = match self.issuer.issue(&owner) {
            Ok(id) => id,
            Err(err) => {
                self.alarm(AlarmLevel::Warning, format!("{ticker}: {err}"));
                return false;
            }
        };
        let request = OrderRequest {
            client_order_id: client_order_id.clone(),
            ticker: ticker.clone(),
            side: order.side,
            yes_price: order.price,
            count: order.count,
        };
        if let Err(err) = self.orders.record_intent(request, owner, self.now.mono_ns) {
            self.alarm(AlarmLevel::Warning, format!("{ticker}: {err}"));
            return false;
        }
        if order.time_in_force != TimeInForce::GoodTillCanceled {
            self.order_tifs
                .insert(client_order_id.clone(), order.time_in_force);
        }
        if let Some(expiration) = order.expiration_s {
            self.expirations.insert(client_order_id.clone(), expiration);
        }
        let order_group_id = match origin {
            Origin::Strategy => self.config.order_group_id.clone(),
            Origin::Operator | Origin::Flatten => None,
        };
        self.emit(
            origin,
            OrderIntent::Place {
                client_order_id,
                ticker,
                side: order.side,
                price: order.price,
                count: order.count,
                time_in_force: order.time_in_force,
                post_only: order.post_only,
                reduce_only: order.reduce_only,
                expiration_s: order.expiration_s,
                cancel_order_on_pause: order.cancel_on_pause,
                order_group_id,
                flatten_permit,
            },
        );
        true
    }

    /// Gate an amend; returns true if it was refused (and audited).
    pub(super) fn gate_amend(
        &mut self,
        origin: Origin,
        order: &Order,
        price: Price,
        remaining: Count,
        reduce_only_cause: Option<ReduceOnlyCause>,
    ) -> bool {
        let verdict = self.gate(GateQuery {
            ticker: &order.ticker,
            side: order.side,
            price,
            count: remaining,
            time_in_force: TimeInForce::GoodTillCanceled,
            reduce_only: false,
            amending: Some(order),
            reduce_only_cause,
        });
        match verdict {
            Ok(_) => false,
            Err(refusal) => {
                self.audit(AuditKind::OrderRefused {
                    origin,
                    ticker: order.ticker.clone(),
                    refusal,
                });
                true
            }
        }
    }

    pub(super) fn send_amend(
        &mut self,
        origin: Origin,
        order: &Order,
        amend: AmendRequest,
        expiration_s: Option<i64>,
    ) {
        let Some(order_id) = order.order_id.clone() else {
            return;
        };
        let (price, count) = (amend.yes_price, amend.count);
        if let Err(err) = self
            .orders
            .amend_requested(order.client_order_id.as_str(), amend)
        {
            self.alarm(AlarmLevel::Warning, format!("{}: {err}", order.ticker));
            return;
        }
        match expiration_s {
            Some(expiration) => {
                self.expirations
                    .insert(order.client_order_id.clone(), expiration);
            }
            None => {
                self.expirations.remove(&order.client_order_id);
            }
        }
        self.emit(
            origin,
            OrderIntent::Amend {
                order_id,
                client_order_id: order.current_client_order_id.clone(),
                ticker: order.ticker.clone(),
                side: order.side,
                price,
                count,
                expiration_s,
            },
        );
    }
}

impl Engine {
    /// Shrinks a resting order in place. Needs no gate: it only lowers exposure.
    pub(super) fn send_decrease(&mut self, origin: Origin, order: &Order, reduce_to: Count) {
        let Some(order_id) = order.order_id.clone() else {
            return;
        };
        if !self.pending_decreases.insert(order.client_order_id.clone()) {
            return;
        }
        self.emit(
            origin,
            OrderIntent::Decrease {
                order_id,
                client_order_id: order.current_client_order_id.clone(),
                ticker: order.ticker.clone(),
                reduce_to,
            },
        );
    }
}
