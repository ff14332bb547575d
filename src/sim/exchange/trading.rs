//! Order writes: create, cancel, amend, decrease, cancel-all, and what a match does to the
//! accounts (collateral, positions, fees, fills) and the announcements it makes.

use crate::core::market::Ticker;
use crate::core::matching::{
    Decrease, MatchReject, NewOrder, OrderId, RestingOrder, SubmitOutcome,
};
use crate::core::num::{Count, Money, Price};
use crate::core::portfolio::fees::{Liquidity, OrderFeeAccumulator};

use super::accounts::{FillRecord, money_ceil};
use super::events::{BookDelta, ExchangeEvent, PositionUpdate, TradeRecord};
use super::orders::OrderRecord;
use super::types::{
    ApiError, BookSide, BookSideExt, MarketStatus, OrderStatus, OutcomeSide, SelfTradePrevention,
    TimeInForce, WriteKind,
};
use super::{Exchange, log_entry, make_id, outcome_of};

/// A new order, parsed from a V2 create request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub ticker: String,
    pub side: BookSide,
    pub count: Count,
    pub price: Price,
    pub time_in_force: TimeInForce,
    pub self_trade_prevention: SelfTradePrevention,
    pub client_order_id: Option<String>,
    pub expiration_ms: Option<i64>,
    pub post_only: bool,
    pub reduce_only: bool,
    pub cancel_order_on_pause: bool,
    pub order_group_id: Option<String>,
    pub subaccount: u32,
}

impl OrderRequest {
    /// A plain GTC limit order on the primary account, `taker_at_cross`.
    pub fn limit(ticker: &str, side: BookSide, price: Price, count: Count) -> OrderRequest {
        OrderRequest {
            ticker: ticker.to_string(),
            side,
            count,
            price,
            time_in_force: TimeInForce::GoodTillCanceled,
            self_trade_prevention: SelfTradePrevention::TakerAtCross,
            client_order_id: None,
            expiration_ms: None,
            post_only: false,
            reduce_only: false,
            cancel_order_on_pause: false,
            order_group_id: None,
            subaccount: 0,
        }
    }
}

/// What a create or amend reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderAck {
    pub order_id: String,
    pub client_order_id: String,
    /// Filled by this request.
    pub fill_count: Count,
    /// Left resting after this request.
    pub remaining_count: Count,
    /// Mean YES price of this request's fills.
    pub average_fill_price: Option<Price>,
    /// Mean net fee per contract of this request's fills.
    pub average_fee_paid: Option<Money>,
    pub ts_ms: i64,
}

/// What a cancel reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelAck {
    pub order_id: String,
    pub client_order_id: String,
    pub reduced_by: Count,
    pub ts_ms: i64,
}

/// A V2 amend: new YES price and new total size (`filled + remaining`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmendRequest {
    pub ticker: String,
    pub side: BookSide,
    pub price: Price,
    pub count: Count,
    pub client_order_id: Option<String>,
    pub updated_client_order_id: Option<String>,
}

/// What a decrease reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecreaseAck {
    pub order_id: String,
    pub client_order_id: String,
    pub remaining_count: Count,
    pub ts_ms: i64,
}

/// Fills of one request, summed for its acknowledgement.
#[derive(Debug, Default)]
struct FillTotals {
    count: Count,
    /// Σ price × count in micro-dollar·centi-contracts.
    price_weighted: i128,
    fees: Money,
}

impl FillTotals {
    fn add(&mut self, price: Price, count: Count, fee: Money) {
        self.count = self.count.saturating_add(count);
        self.price_weighted += i128::from(price.micros()) * i128::from(count.centi());
        self.fees = self.fees.saturating_add(fee);
    }

    fn average_price(&self) -> Option<Price> {
        if !self.count.is_positive() {
            return None;
        }
        let micros = self.price_weighted / i128::from(self.count.centi());
        Price::from_micros(i64::try_from(micros).ok()?)
    }

    fn average_fee(&self) -> Option<Money> {
        if !self.count.is_positive() {
            return None;
        }
        let per_contract = i128::from(self.fees.micros()) * 100 / i128::from(self.count.centi());
        Some(Money::from_micros(i64::try_from(per_contract).ok()?))
    }
}

fn reject_to_api(reject: MatchReject) -> ApiError {
    match reject {
        MatchReject::PostOnlyCross => {
            ApiError::invalid_order("post only order would cross").with_details("post only cross")
        }
        MatchReject::InvalidCount(_) => {
            ApiError::new(400, "invalid_order_size", reject.to_string())
        }
        MatchReject::UnknownOrder(_) => ApiError::not_found(reject.to_string()),
        other => ApiError::invalid_order(other.to_string()),
    }
}

/// The book level an order rests on, as a delta names it.
fn level_of(side: BookSide, price: Price) -> (OutcomeSide, Price) {
    match side {
        BookSide::Bid => (OutcomeSide::Yes, price),
        BookSide::Ask => (OutcomeSide::No, price.complement()),
    }
}

impl Exchange {
    fn record(&self, number: OrderId) -> &OrderRecord {
        &self.orders[number as usize - 1]
    }

    fn record_mut(&mut self, number: OrderId) -> &mut OrderRecord {
        &mut self.orders[number as usize - 1]
    }

    /// The order `order_id` of `user_id`, if `subaccount` (when given) matches.
    fn owned_order(
        &self,
        user_id: &str,
        order_id: &str,
        subaccount: Option<u32>,
    ) -> Result<OrderId, ApiError> {
        let not_found = || ApiError::not_found(format!("order {order_id} not found"));
        let number = *self.order_numbers.get(order_id).ok_or_else(not_found)?;
        let record = self.record(number);
        if record.user_id != user_id || subaccount.is_some_and(|s| s != record.subaccount) {
            return Err(not_found());
        }
        Ok(number)
    }

    /// Can orders be placed or changed in `ticker` now?
    fn check_tradeable(&self, ticker: &str) -> Result<(), ApiError> {
        let market = self
            .markets
            .get(ticker)
            .ok_or_else(|| ApiError::not_found(format!("market {ticker} not found")))?;
        if !self.exchange_active || !self.trading_active {
            return Err(ApiError::market_closed(ticker).with_details("exchange trading is paused"));
        }
        if market.status != MarketStatus::Active {
            return Err(ApiError::market_closed(ticker)
                .with_details(format!("market status is {}", market.status)));
        }
        Ok(())
    }

    /// Contracts of opposite position that other resting orders of the same direction in this
    /// market and subaccount have not claimed yet (see the accounts module's collateral rule).
    fn unclaimed_reducible(
        &self,
        user_id: &str,
        subaccount: u32,
        ticker: &Ticker,
        side: BookSide,
        excluding: Option<OrderId>,
    ) -> Count {
        let position = self
            .members
            .get(user_id)
            .and_then(|m| m.account.subaccount(subaccount))
            .map(|s| s.position(ticker))
            .unwrap_or(Count::ZERO);
        let opposite = match side {
            BookSide::Bid => (-position).max(Count::ZERO),
            BookSide::Ask => position.max(Count::ZERO),
        };
        let Some(owner) = self.members.get(user_id).map(|m| m.owner) else {
            return Count::ZERO;
        };
        if !opposite.is_positive() {
            return Count::ZERO;
        }
        let claimed = self
            .index
            .claiming_of(owner, ticker.as_str())
            .filter(|&n| excluding != Some(n))
            .map(|n| self.record(n))
            .filter(|o| o.is_resting() && o.subaccount == subaccount && o.side == side)
            .fold(Count::ZERO, |sum, o| sum.saturating_add(o.reducing_claim));
        opposite.saturating_sub(claimed).max(Count::ZERO)
    }

    // ---- create ----

    /// Place an order (V2 create). Every call is logged.
    pub fn place_order(
        &mut self,
        user_id: &str,
        request: &OrderRequest,
        now_ms: i64,
    ) -> Result<OrderAck, ApiError> {
        self.place_logged(user_id, request, now_ms, WriteKind::CreateOrder)
    }

    /// Place several orders; each item succeeds or fails on its own and is logged on its own.
    pub fn place_orders(
        &mut self,
        user_id: &str,
        requests: &[OrderRequest],
        now_ms: i64,
    ) -> Vec<Result<OrderAck, ApiError>> {
        requests
            .iter()
            .map(|r| self.place_logged(user_id, r, now_ms, WriteKind::BatchCreateItem))
            .collect()
    }

    fn place_logged(
        &mut self,
        user_id: &str,
        request: &OrderRequest,
        now_ms: i64,
        kind: WriteKind,
    ) -> Result<OrderAck, ApiError> {
        let result = self.place(user_id, request, now_ms);
        let mut entry = log_entry(now_ms, user_id, kind);
        entry.subaccount = Some(request.subaccount);
        entry.ticker = Some(Ticker::new(&request.ticker));
        entry.order_id = result.as_ref().ok().map(|a| a.order_id.clone());
        entry.client_order_id = request.client_order_id.clone();
        entry.order_group_id = request.order_group_id.clone();
        entry.side = Some(request.side);
        entry.price = Some(request.price);
        entry.count = Some(request.count);
        entry.outcome = outcome_of(&result);
        self.log_write(entry);
        result
    }

    fn validate_new_order(&self, user_id: &str, request: &OrderRequest) -> Result<(), ApiError> {
        let member = self.member(user_id)?;
        super::accounts::check_subaccount(request.subaccount)?;
        self.check_tradeable(&request.ticker)?;
        let market = &self.markets[request.ticker.as_str()];
        if !request.count.is_positive() {
            return Err(ApiError::new(
                400,
                "invalid_order_size",
                format!("count {} must be positive", request.count.to_fp()),
            ));
        }
        if request.count.centi() % 100 != 0 && !market.spec.fractional_trading_enabled {
            return Err(ApiError::new(
                400,
                "invalid_order_size",
                format!(
                    "count {} is fractional and market {} trades whole contracts only",
                    request.count.to_fp(),
                    request.ticker
                ),
            ));
        }
        if !market.grid.is_tradeable(request.price) {
            return Err(ApiError::invalid_order(format!(
                "price {} is not on the price grid of market {}",
                request.price.to_dollars(),
                request.ticker
            )));
        }
        if let Some(client_order_id) = &request.client_order_id {
            if client_order_id.is_empty() {
                return Err(ApiError::invalid_order("client_order_id must not be empty"));
            }
            if self
                .client_order_ids
                .contains(&(user_id.to_string(), client_order_id.clone()))
            {
                return Err(
                    ApiError::new(409, "order_already_exists", "order already exists")
                        .with_details(format!(
                            "client_order_id {client_order_id:?} was already used"
                        )),
                );
            }
        }
        if request.reduce_only && request.time_in_force != TimeInForce::ImmediateOrCancel {
            return Err(ApiError::invalid_order(
                "reduce_only orders must be immediate_or_cancel",
            ));
        }
        if let Some(group_id) = &request.order_group_id {
            let group = self
                .groups
                .get(group_id)
                .filter(|g| g.user_id == user_id && g.subaccount == request.subaccount);
            let group = group
                .ok_or_else(|| ApiError::not_found(format!("order group {group_id} not found")))?;
            if group.triggered {
                return Err(ApiError::invalid_order(format!(
                    "order group {group_id} was triggered and takes no orders until reset"
                ))
                .with_details("order_group_triggered"));
            }
        }
        let max = self.config.max_open_orders_per_user;
        let open_orders = self.index.resting_count(member.owner);
        if open_orders >= max {
            return Err(ApiError::invalid_order(format!(
                "user already has {open_orders} open orders (the maximum)"
            )));
        }
        Ok(())
    }

    fn place(
        &mut self,
        user_id: &str,
        request: &OrderRequest,
        now_ms: i64,
    ) -> Result<OrderAck, ApiError> {
        self.flush_expired(&request.ticker, now_ms);
        self.validate_new_order(user_id, request)?;
        let ticker = Ticker::new(&request.ticker);
        let owner = self.member(user_id)?.owner;
        let position = self
            .member(user_id)?
            .account
            .subaccount(request.subaccount)
            .map(|s| s.position(&ticker))
            .unwrap_or(Count::ZERO);
        // Collateral: reduce-only orders only close, so they lock nothing.
        let (claim, lock) = if request.reduce_only {
            (request.count, Money::ZERO)
        } else {
            let claim = request.count.min(self.unclaimed_reducible(
                user_id,
                request.subaccount,
                &ticker,
                request.side,
                None,
            ));
            let locked_contracts = request.count.saturating_sub(claim);
            (
                claim,
                money_ceil(
                    request.side.cost_per_contract(request.price),
                    locked_contracts,
                ),
            )
        };
        let available = self
            .member(user_id)?
            .account
            .subaccount(request.subaccount)
            .map_or(Money::ZERO, |s| s.available());
        if lock > available {
            return Err(ApiError::balance_too_low(lock, available));
        }
        let number = self.orders.len() as OrderId + 1;
        let book = self
            .books
            .get_mut(ticker.as_str())
            .ok_or_else(|| ApiError::not_found(format!("market {ticker} not found")))?;
        let outcome = book
            .submit(
                NewOrder {
                    order_id: number,
                    owner,
                    side: request.side,
                    price: request.price,
                    count: request.count,
                    time_in_force: request.time_in_force,
                    post_only: request.post_only,
                    reduce_only_position: request.reduce_only.then_some(position),
                    self_trade_prevention: request.self_trade_prevention,
                    expiration_ms: request.expiration_ms,
                },
                now_ms,
            )
            .map_err(reject_to_api)?;

        let order_id = make_id(0, number);
        let client_order_id = request.client_order_id.clone().unwrap_or_default();
        let event_ticker = self.markets[ticker.as_str()].spec.event_ticker.clone();
        let accepted = outcome.accepted_count;
        self.orders.push(OrderRecord {
            order_id: order_id.clone(),
            user_id: user_id.to_string(),
            subaccount: request.subaccount,
            ticker: ticker.clone(),
            event_ticker,
            side: request.side,
            price: request.price,
            initial: accepted,
            filled: Count::ZERO,
            remaining: accepted,
            status: OrderStatus::Resting,
            time_in_force: request.time_in_force,
            self_trade_prevention: request.self_trade_prevention,
            client_order_id: client_order_id.clone(),
            order_group_id: request.order_group_id.clone(),
            cancel_order_on_pause: request.cancel_order_on_pause,
            post_only: request.post_only,
            reduce_only: request.reduce_only,
            expiration_ms: request.expiration_ms,
            created_ms: now_ms,
            updated_ms: now_ms,
            taker_fill_cost: Money::ZERO,
            maker_fill_cost: Money::ZERO,
            taker_fees: Money::ZERO,
            maker_fees: Money::ZERO,
            fee_accumulator: Money::ZERO,
            locked: lock,
            reducing_claim: claim.min(accepted),
        });
        self.order_numbers.insert(order_id.clone(), number);
        self.index.add_order(user_id, number);
        // The record starts `resting` (apply_outcome settles its final status).
        self.index.set_resting(owner, &ticker, number, true);
        self.index
            .set_claiming(owner, &ticker, number, claim.min(accepted).is_positive());
        if !client_order_id.is_empty() {
            self.client_order_ids
                .insert((user_id.to_string(), client_order_id.clone()));
        }
        if let Ok(member) = self.member_mut(user_id)
            && let Ok(sub) = member.account.subaccount_mut(request.subaccount)
        {
            // Checked against `available` above.
            sub.locked = sub.locked.saturating_add(lock);
        }
        if let Some(group_id) = &request.order_group_id
            && let Some(group) = self.groups.get_mut(group_id)
        {
            group.add_order(&order_id);
        }

        let totals = self.apply_outcome(&ticker, number, &outcome, None, now_ms);
        let record = self.record(number);
        Ok(OrderAck {
            order_id,
            client_order_id,
            fill_count: totals.count,
            remaining_count: record.remaining,
            average_fill_price: totals.average_price(),
            average_fee_paid: totals.average_fee(),
            ts_ms: now_ms,
        })
    }

    /// Book everything a submit or amend did: expiries, self-trade cancels, fills, and the
    /// incoming order's final state. `amended_from` is the order's `(price, remaining)` before an
    /// amend, for the book delta that removes it from its old level.
    fn apply_outcome(
        &mut self,
        ticker: &Ticker,
        taker: OrderId,
        outcome: &SubmitOutcome,
        amended_from: Option<(Price, Count)>,
        now_ms: i64,
    ) -> FillTotals {
        for expired in &outcome.expired {
            self.retire_removed(expired, now_ms);
        }
        for cancelled in &outcome.stp_cancelled_makers {
            self.retire_removed(cancelled, now_ms);
        }
        if let Some((old_price, old_remaining)) = amended_from {
            let taker_side = self.record(taker).side;
            self.push_delta(taker, taker_side, old_price, -old_remaining, now_ms);
        }
        let mut totals = FillTotals::default();
        let mut touched_groups: Vec<String> = Vec::new();
        for fill in &outcome.fills {
            let maker = fill.maker_order_id;
            let maker_side = fill.taker_side.opposite();
            {
                let record = self.record_mut(maker);
                record.filled = record.filled.saturating_add(fill.count);
                record.remaining = fill.maker_remaining;
            }
            if fill.maker_remaining.is_zero() {
                self.set_status(maker, OrderStatus::Executed);
            }
            self.push_delta(maker, maker_side, fill.price, -fill.count, now_ms);
            {
                let record = self.record_mut(taker);
                record.filled = record.filled.saturating_add(fill.count);
                record.remaining = record.remaining.saturating_sub(fill.count);
            }
            let trade_id = make_id(1, {
                self.next_trade += 1;
                self.next_trade
            });
            let trade = TradeRecord {
                trade_id: trade_id.clone(),
                ticker: ticker.clone(),
                price: fill.price,
                count: fill.count,
                taker_side: fill.taker_side,
                ts_ms: now_ms,
            };
            self.trades.push(trade.clone());
            self.pending.push(ExchangeEvent::Trade(trade));
            let (taker_fee, taker_opened, taker_closed) =
                self.book_fill(taker, &trade_id, true, fill.price, fill.count, now_ms);
            let (_, maker_opened, maker_closed) =
                self.book_fill(maker, &trade_id, false, fill.price, fill.count, now_ms);
            totals.add(fill.price, fill.count, taker_fee);
            if let Some(market) = self.markets.get_mut(ticker.as_str()) {
                market.stats.record_trade(fill.price, fill.count, now_ms);
                let opened = taker_opened.saturating_add(maker_opened);
                let closed = taker_closed.saturating_add(maker_closed);
                // Both open: +count; both close: −count; one each: unchanged.
                let change = Count::from_centi((opened.centi() - closed.centi()) / 2);
                market.stats.open_interest = market
                    .stats
                    .open_interest
                    .saturating_add(change)
                    .max(Count::ZERO);
                market.updated_ms = now_ms;
            }
            for number in [taker, maker] {
                if let Some(group_id) = self.record(number).order_group_id.clone() {
                    let window = self.config.order_group_window_ms;
                    if let Some(group) = self.groups.get_mut(&group_id) {
                        group.record_match(fill.count, now_ms, window);
                        if !touched_groups.contains(&group_id) {
                            touched_groups.push(group_id);
                        }
                    }
                }
            }
            self.push_user_order(maker);
            self.push_position(maker);
        }
        // The incoming order's final state.
        let taker_side = self.record(taker).side;
        let taker_price = self.record(taker).price;
        if let Some(rested) = outcome.rested {
            let record = self.record_mut(taker);
            record.remaining = rested;
            record.updated_ms = now_ms;
            self.set_status(taker, OrderStatus::Resting);
            self.push_delta(taker, taker_side, taker_price, rested, now_ms);
        } else {
            let cancelled = outcome.cancelled_remainder;
            // IOC/FoK remainders and self-trade stops end `canceled`; a full fill `executed`.
            self.set_status(
                taker,
                if cancelled.is_positive() {
                    OrderStatus::Canceled
                } else {
                    OrderStatus::Executed
                },
            );
            let release = {
                let record = self.record_mut(taker);
                record.remaining = Count::ZERO;
                record.updated_ms = now_ms;
                record.reducing_claim = Count::ZERO;
                std::mem::take(&mut record.locked)
            };
            self.release_collateral(taker, release);
        }
        self.push_user_order(taker);
        if totals.count.is_positive() {
            self.push_position(taker);
        }
        // Positions moved: re-fit every touched member's claims and locks in this market.
        let mut touched_accounts: Vec<(String, u32)> = Vec::new();
        for number in std::iter::once(taker).chain(outcome.fills.iter().map(|f| f.maker_order_id)) {
            let record = self.record(number);
            let key = (record.user_id.clone(), record.subaccount);
            if !touched_accounts.contains(&key) {
                touched_accounts.push(key);
            }
        }
        for (user_id, subaccount) in touched_accounts {
            self.refit_claims(&user_id, subaccount, ticker);
        }
        self.emit_ticker(ticker, now_ms);
        for group_id in touched_groups {
            let window = self.config.order_group_window_ms;
            let due = self
                .groups
                .get_mut(&group_id)
                .is_some_and(|g| g.should_trigger(now_ms, window));
            if due {
                self.trigger_group_orders(&group_id, now_ms);
            }
        }
        totals
    }

    /// Re-fit the collateral of one member's resting orders in one market to its position now:
    /// per direction, the opposite position is claimed by the oldest resting orders first, and
    /// each order locks exactly the price of its unclaimed remainder. Run after fills, so a claim
    /// whose position has gone is backed by money again (which can take `available` below zero;
    /// new orders are then refused until money is freed).
    pub(super) fn refit_claims(&mut self, user_id: &str, subaccount: u32, ticker: &Ticker) {
        let Some(member) = self.members.get(user_id) else {
            return;
        };
        let owner = member.owner;
        let position = member
            .account
            .subaccount(subaccount)
            .map(|s| s.position(ticker))
            .unwrap_or(Count::ZERO);
        let numbers: Vec<OrderId> = self
            .resting_numbers(Some(ticker.as_str()), Some(owner))
            .into_iter()
            .filter(|&n| self.record(n).subaccount == subaccount)
            .collect();
        let mut reducible_bid = (-position).max(Count::ZERO);
        let mut reducible_ask = position.max(Count::ZERO);
        let mut lock_change = Money::ZERO;
        for number in numbers {
            let order = self.record_mut(number);
            let reducible = match order.side {
                BookSide::Bid => &mut reducible_bid,
                BookSide::Ask => &mut reducible_ask,
            };
            let claim = order.remaining.min(*reducible);
            *reducible = reducible.saturating_sub(claim);
            let lock = money_ceil(
                order.cost_per_contract(),
                order.remaining.saturating_sub(claim),
            );
            lock_change = lock_change.saturating_add(lock.saturating_sub(order.locked));
            order.reducing_claim = claim;
            order.locked = lock;
            self.index
                .set_claiming(owner, ticker, number, claim.is_positive());
        }
        if let Some(member) = self.members.get_mut(user_id)
            && let Ok(sub) = member.account.subaccount_mut(subaccount)
        {
            sub.locked = sub.locked.saturating_add(lock_change).max(Money::ZERO);
        }
    }

    /// Book one fill for one order: collateral, position, fees, the fill record and its event.
    /// Returns the net fee and the contracts opened and closed.
    fn book_fill(
        &mut self,
        number: OrderId,
        trade_id: &str,
        is_taker: bool,
        price: Price,
        count: Count,
        now_ms: i64,
    ) -> (Money, Count, Count) {
        let schedule = self.fee_schedule(self.record(number).ticker.as_str());
        let precision = self.config.balance_precision;
        let release = self.record_mut(number).take_collateral_for_fill(count);
        let record = self.record(number).clone();
        let liquidity = Liquidity::from_is_taker(is_taker);
        let trade_fee = schedule.trade_fee(liquidity, price, count);
        let mut accumulator = OrderFeeAccumulator {
            accumulated: record.fee_accumulator,
        };
        let Some(member) = self.members.get_mut(&record.user_id) else {
            return (Money::ZERO, Count::ZERO, Count::ZERO);
        };
        let Ok(sub) = member.account.subaccount_mut(record.subaccount) else {
            return (Money::ZERO, Count::ZERO, Count::ZERO);
        };
        sub.release(release);
        let position = sub.positions.entry(record.ticker.clone()).or_default();
        let effect = position.apply_fill(record.side, price, count, now_ms);
        let fee = accumulator.apply_fill(effect.revenue, trade_fee, precision);
        position.add_fee(fee.net_fee);
        let post_position = position.position;
        sub.cash = sub.cash.saturating_add(fee.balance_change);
        sub.updated_ms = now_ms;
        let paid = money_ceil(record.side.cost_per_contract(price), count);
        {
            let order = self.record_mut(number);
            order.fee_accumulator = accumulator.accumulated;
            order.updated_ms = now_ms;
            if is_taker {
                order.taker_fill_cost = order.taker_fill_cost.saturating_add(paid);
                order.taker_fees = order.taker_fees.saturating_add(fee.net_fee);
            } else {
                order.maker_fill_cost = order.maker_fill_cost.saturating_add(paid);
                order.maker_fees = order.maker_fees.saturating_add(fee.net_fee);
            }
        }
        let fill = FillRecord {
            trade_id: trade_id.to_string(),
            order_id: record.order_id.clone(),
            user_id: record.user_id.clone(),
            subaccount: record.subaccount,
            ticker: record.ticker.clone(),
            side: record.side,
            price,
            count,
            is_taker,
            fee: fee.net_fee,
            post_position,
            client_order_id: record.client_order_id.clone(),
            ts_ms: now_ms,
        };
        self.index.add_fill(&fill.user_id, self.fills.len());
        self.fills.push(fill.clone());
        self.pending.push(ExchangeEvent::Fill(fill));
        (fee.net_fee, effect.opened, effect.closed)
    }

    fn release_collateral(&mut self, number: OrderId, amount: Money) {
        if amount.micros() == 0 {
            return;
        }
        let (user_id, subaccount) = {
            let record = self.record(number);
            (record.user_id.clone(), record.subaccount)
        };
        if let Some(member) = self.members.get_mut(&user_id)
            && let Ok(sub) = member.account.subaccount_mut(subaccount)
        {
            sub.release(amount);
        }
    }

    fn push_delta(
        &mut self,
        number: OrderId,
        side: BookSide,
        price: Price,
        delta: Count,
        now_ms: i64,
    ) {
        if delta.is_zero() {
            return;
        }
        let record = self.record(number);
        let (outcome_side, level_price) = level_of(side, price);
        let event = ExchangeEvent::BookDelta(BookDelta {
            ticker: record.ticker.clone(),
            side: outcome_side,
            price: level_price,
            delta,
            user_id: Some(record.user_id.clone()),
            client_order_id: Some(record.client_order_id.clone()).filter(|c| !c.is_empty()),
            subaccount: Some(record.subaccount),
            ts_ms: now_ms,
        });
        self.pending.push(event);
    }

    fn push_user_order(&mut self, number: OrderId) {
        let record = self.record(number).clone();
        self.pending
            .push(ExchangeEvent::UserOrder(Box::new(record)));
    }

    fn push_position(&mut self, number: OrderId) {
        let record = self.record(number);
        let (user_id, subaccount, ticker) = (
            record.user_id.clone(),
            record.subaccount,
            record.ticker.clone(),
        );
        let position = self
            .members
            .get(&user_id)
            .and_then(|m| m.account.subaccount(subaccount))
            .and_then(|s| s.positions.get(&ticker))
            .cloned()
            .unwrap_or_default();
        self.pending
            .push(ExchangeEvent::MarketPosition(PositionUpdate {
                user_id,
                subaccount,
                ticker,
                position,
            }));
    }

    /// Finish an order the book already removed (expired, self-trade cancelled, cancelled):
    /// release its collateral, mark it canceled, announce it.
    pub(super) fn retire_removed(&mut self, removed: &RestingOrder, now_ms: i64) {
        let number = removed.order_id;
        if number == 0 || number as usize > self.orders.len() {
            return;
        }
        self.set_status(number, OrderStatus::Canceled);
        let release = {
            let record = self.record_mut(number);
            let reduced = record.remaining;
            record.remaining = Count::ZERO;
            record.updated_ms = now_ms;
            let release = record.take_collateral_for_reduction(reduced);
            record.reducing_claim = Count::ZERO;
            release
        };
        self.release_collateral(number, release);
        self.push_delta(
            number,
            removed.side,
            removed.price,
            -removed.remaining,
            now_ms,
        );
        self.push_user_order(number);
    }

    /// Retire the orders of one market whose good-till-date expiry has passed, so a write sees
    /// the same resting orders as the book.
    pub(super) fn flush_expired(&mut self, ticker: &str, now_ms: i64) {
        let expired = match self.books.get_mut(ticker) {
            Some(book) => book.expire(now_ms),
            None => return,
        };
        for order in &expired {
            self.retire_removed(order, now_ms);
        }
        if let (false, Some(market)) = (expired.is_empty(), self.markets.get(ticker)) {
            let ticker = market.ticker.clone();
            self.emit_ticker(&ticker, now_ms);
        }
    }

    /// Cancel a resting order by number; returns the contracts removed.
    pub(super) fn cancel_number(&mut self, number: OrderId, now_ms: i64) -> Option<Count> {
        let ticker = self.record(number).ticker.clone();
        let removed = self.books.get_mut(ticker.as_str())?.cancel(number)?;
        let reduced = removed.remaining;
        self.retire_removed(&removed, now_ms);
        Some(reduced)
    }

    // ---- cancel ----

    /// Cancel one order (V2 cancel). Logged.
    pub fn cancel_order_by_id(
        &mut self,
        user_id: &str,
        order_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
    ) -> Result<CancelAck, ApiError> {
        self.cancel_logged(
            user_id,
            order_id,
            subaccount,
            now_ms,
            WriteKind::CancelOrder,
        )
    }

    /// Cancel several orders; each item on its own.
    pub fn cancel_orders_by_id(
        &mut self,
        user_id: &str,
        items: &[(String, Option<u32>)],
        now_ms: i64,
    ) -> Vec<Result<CancelAck, ApiError>> {
        items
            .iter()
            .map(|(order_id, sub)| {
                self.cancel_logged(user_id, order_id, *sub, now_ms, WriteKind::BatchCancelItem)
            })
            .collect()
    }

    fn cancel_logged(
        &mut self,
        user_id: &str,
        order_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
        kind: WriteKind,
    ) -> Result<CancelAck, ApiError> {
        let result = self.cancel_one(user_id, order_id, subaccount, now_ms);
        let mut entry = log_entry(now_ms, user_id, kind);
        entry.subaccount = subaccount;
        entry.order_id = Some(order_id.to_string());
        if let Some(record) = self.order_record(order_id).filter(|r| r.user_id == user_id) {
            entry.ticker = Some(record.ticker.clone());
            entry.client_order_id = Some(record.client_order_id.clone()).filter(|c| !c.is_empty());
        }
        entry.outcome = outcome_of(&result);
        self.log_write(entry);
        result
    }

    fn cancel_one(
        &mut self,
        user_id: &str,
        order_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
    ) -> Result<CancelAck, ApiError> {
        self.member(user_id)?;
        let number = self.owned_order(user_id, order_id, subaccount)?;
        let ticker = self.record(number).ticker.clone();
        self.flush_expired(ticker.as_str(), now_ms);
        if !self.record(number).is_resting() {
            return Err(ApiError::not_found(format!(
                "order {order_id} is {} and cannot be cancelled",
                self.record(number).status.as_str()
            )));
        }
        let reduced_by = self.cancel_number(number, now_ms).unwrap_or(Count::ZERO);
        let (ticker, subaccount) = {
            let record = self.record(number);
            (record.ticker.clone(), record.subaccount)
        };
        // A freed claim passes to the member's next order in that market.
        self.refit_claims(user_id, subaccount, &ticker);
        self.emit_ticker(&ticker, now_ms);
        Ok(CancelAck {
            order_id: order_id.to_string(),
            client_order_id: self.record(number).client_order_id.clone(),
            reduced_by,
            ts_ms: now_ms,
        })
    }

    /// Cancel every resting order of a member, in one subaccount or (with `None`) in all.
    /// Logged as one `CancelAll` write.
    pub fn cancel_all(
        &mut self,
        user_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let result = self.cancel_all_inner(user_id, subaccount, now_ms);
        let mut entry = log_entry(now_ms, user_id, WriteKind::CancelAll);
        entry.subaccount = subaccount;
        entry.outcome = outcome_of(&result);
        self.log_write(entry);
        result
    }

    fn cancel_all_inner(
        &mut self,
        user_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let owner = self.member(user_id)?.owner;
        if let Some(sub) = subaccount {
            super::accounts::check_subaccount(sub)?;
        }
        let numbers: Vec<OrderId> = self
            .resting_numbers(None, Some(owner))
            .into_iter()
            .filter(|&n| subaccount.is_none_or(|s| s == self.record(n).subaccount))
            .collect();
        self.cancel_numbers(&numbers, now_ms);
        Ok(())
    }

    /// Cancel these resting orders, then announce each touched market's ticker once.
    pub(super) fn cancel_numbers(&mut self, numbers: &[OrderId], now_ms: i64) {
        let mut tickers: Vec<Ticker> = Vec::new();
        for &number in numbers {
            if self.cancel_number(number, now_ms).is_some() {
                let ticker = self.record(number).ticker.clone();
                if !tickers.contains(&ticker) {
                    tickers.push(ticker);
                }
            }
        }
        for ticker in tickers {
            self.emit_ticker(&ticker, now_ms);
        }
    }

    // ---- amend and decrease ----

    /// Amend price and/or total size (V2 amend). Logged.
    pub fn amend_order_by_id(
        &mut self,
        user_id: &str,
        order_id: &str,
        subaccount: Option<u32>,
        request: &AmendRequest,
        now_ms: i64,
    ) -> Result<OrderAck, ApiError> {
        let result = self.amend(user_id, order_id, subaccount, request, now_ms);
        let mut entry = log_entry(now_ms, user_id, WriteKind::AmendOrder);
        entry.subaccount = subaccount;
        entry.ticker = Some(Ticker::new(&request.ticker));
        entry.order_id = Some(order_id.to_string());
        entry.client_order_id = request
            .updated_client_order_id
            .clone()
            .or_else(|| request.client_order_id.clone());
        entry.side = Some(request.side);
        entry.price = Some(request.price);
        entry.count = Some(request.count);
        entry.outcome = outcome_of(&result);
        self.log_write(entry);
        result
    }

    fn amend(
        &mut self,
        user_id: &str,
        order_id: &str,
        subaccount: Option<u32>,
        request: &AmendRequest,
        now_ms: i64,
    ) -> Result<OrderAck, ApiError> {
        self.member(user_id)?;
        let number = self.owned_order(user_id, order_id, subaccount)?;
        let ticker = self.record(number).ticker.clone();
        self.flush_expired(ticker.as_str(), now_ms);
        let record = self.record(number).clone();
        if record.ticker.as_str() != request.ticker {
            return Err(ApiError::new(
                400,
                "order_ticker_mismatch",
                format!(
                    "order {order_id} is in {}, not {}",
                    record.ticker, request.ticker
                ),
            ));
        }
        if record.side != request.side {
            return Err(ApiError::new(
                400,
                "order_side_mismatch",
                format!("order {order_id} is a {}", record.side.wire_name()),
            ));
        }
        if let Some(client_order_id) = &request.client_order_id
            && *client_order_id != record.client_order_id
        {
            return Err(ApiError::new(
                400,
                "order_id_and_client_order_id_mismatch",
                format!("order {order_id} does not have client_order_id {client_order_id:?}"),
            ));
        }
        if !record.is_resting() {
            return Err(ApiError::not_found(format!(
                "order {order_id} is {} and cannot be amended",
                record.status.as_str()
            )));
        }
        self.check_tradeable(&request.ticker)?;
        if let Some(updated) = &request.updated_client_order_id
            && *updated != record.client_order_id
            && self
                .client_order_ids
                .contains(&(user_id.to_string(), updated.clone()))
        {
            return Err(
                ApiError::new(409, "order_already_exists", "order already exists")
                    .with_details(format!("client_order_id {updated:?} was already used")),
            );
        }
        let market = &self.markets[request.ticker.as_str()];
        if !market.grid.is_tradeable(request.price) {
            return Err(ApiError::invalid_order(format!(
                "price {} is not on the price grid of market {}",
                request.price.to_dollars(),
                request.ticker
            )));
        }
        let new_remaining = request.count.saturating_sub(record.filled);
        if !new_remaining.is_positive() {
            return Err(ApiError::invalid_order(format!(
                "count {} must exceed the {} already filled",
                request.count.to_fp(),
                record.filled.to_fp()
            )));
        }
        // Collateral for the amended order, as if it were placed fresh.
        let claim = new_remaining.min(self.unclaimed_reducible(
            user_id,
            record.subaccount,
            &record.ticker,
            record.side,
            Some(number),
        ));
        let lock = money_ceil(
            record.side.cost_per_contract(request.price),
            new_remaining.saturating_sub(claim),
        );
        let available = self
            .member(user_id)?
            .account
            .subaccount(record.subaccount)
            .map_or(Money::ZERO, |s| s.available())
            .saturating_add(record.locked);
        if lock > available {
            return Err(ApiError::balance_too_low(lock, available));
        }
        let book = self
            .books
            .get_mut(record.ticker.as_str())
            .ok_or_else(|| ApiError::not_found(format!("market {} not found", record.ticker)))?;
        let outcome = book
            .amend(number, request.price, request.count, now_ms)
            .map_err(reject_to_api)?;
        // Swap the collateral.
        self.release_collateral(number, record.locked);
        if let Some(member) = self.members.get_mut(user_id)
            && let Ok(sub) = member.account.subaccount_mut(record.subaccount)
        {
            sub.locked = sub.locked.saturating_add(lock);
        }
        if let Some(updated) = &request.updated_client_order_id {
            self.client_order_ids
                .insert((user_id.to_string(), updated.clone()));
        }
        {
            let order = self.record_mut(number);
            order.price = request.price;
            order.initial = request.count;
            order.remaining = new_remaining;
            order.locked = lock;
            order.reducing_claim = claim;
            order.updated_ms = now_ms;
            if let Some(updated) = &request.updated_client_order_id {
                order.client_order_id = updated.clone();
            }
        }
        if let Some(owner) = self.members.get(user_id).map(|m| m.owner) {
            self.index
                .set_claiming(owner, &record.ticker, number, claim.is_positive());
        }
        let totals = self.apply_outcome(
            &record.ticker,
            number,
            &outcome,
            Some((record.price, record.remaining)),
            now_ms,
        );
        let after = self.record(number);
        Ok(OrderAck {
            order_id: order_id.to_string(),
            client_order_id: after.client_order_id.clone(),
            fill_count: totals.count,
            remaining_count: after.remaining,
            average_fill_price: totals.average_price(),
            average_fee_paid: totals.average_fee(),
            ts_ms: now_ms,
        })
    }

    /// Shrink a resting order (V2 decrease); to zero cancels it. Logged.
    pub fn decrease_order_by_id(
        &mut self,
        user_id: &str,
        order_id: &str,
        subaccount: Option<u32>,
        decrease: Decrease,
        now_ms: i64,
    ) -> Result<DecreaseAck, ApiError> {
        let result = self.decrease(user_id, order_id, subaccount, decrease, now_ms);
        let mut entry = log_entry(now_ms, user_id, WriteKind::DecreaseOrder);
        entry.subaccount = subaccount;
        entry.order_id = Some(order_id.to_string());
        if let Some(record) = self.order_record(order_id).filter(|r| r.user_id == user_id) {
            entry.ticker = Some(record.ticker.clone());
            entry.client_order_id = Some(record.client_order_id.clone()).filter(|c| !c.is_empty());
        }
        entry.count = Some(match decrease {
            Decrease::By(c) | Decrease::To(c) => c,
        });
        entry.outcome = outcome_of(&result);
        self.log_write(entry);
        result
    }

    fn decrease(
        &mut self,
        user_id: &str,
        order_id: &str,
        subaccount: Option<u32>,
        decrease: Decrease,
        now_ms: i64,
    ) -> Result<DecreaseAck, ApiError> {
        self.member(user_id)?;
        let number = self.owned_order(user_id, order_id, subaccount)?;
        let ticker = self.record(number).ticker.clone();
        self.flush_expired(ticker.as_str(), now_ms);
        let record = self.record(number).clone();
        if !record.is_resting() {
            return Err(ApiError::not_found(format!(
                "order {order_id} is {} and cannot be decreased",
                record.status.as_str()
            )));
        }
        let book = self
            .books
            .get_mut(record.ticker.as_str())
            .ok_or_else(|| ApiError::not_found(format!("market {} not found", record.ticker)))?;
        let outcome = book.decrease(number, decrease).map_err(reject_to_api)?;
        let remaining = outcome.order.remaining;
        if remaining.is_zero() {
            self.set_status(number, OrderStatus::Canceled);
        }
        let release = {
            let order = self.record_mut(number);
            order.remaining = remaining;
            order.updated_ms = now_ms;
            let release = order.take_collateral_for_reduction(outcome.reduced_by);
            if remaining.is_zero() {
                order.reducing_claim = Count::ZERO;
            }
            release
        };
        self.release_collateral(number, release);
        self.refit_claims(user_id, record.subaccount, &record.ticker);
        self.push_delta(
            number,
            record.side,
            record.price,
            -outcome.reduced_by,
            now_ms,
        );
        self.push_user_order(number);
        self.emit_ticker(&record.ticker, now_ms);
        Ok(DecreaseAck {
            order_id: order_id.to_string(),
            client_order_id: record.client_order_id,
            remaining_count: remaining,
            ts_ms: now_ms,
        })
    }
}
