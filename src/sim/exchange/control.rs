//! Order groups, time, trading pauses and the market lifecycle (open, close, determine, settle).

use crate::core::market::Ticker;
use crate::core::matching::OrderId;
use crate::core::num::Count;

use super::accounts::SettledMarket;
use super::events::{ExchangeEvent, GroupUpdate, PositionUpdate};
use super::groups::{GroupEventType, OrderGroup};
use super::types::{ApiError, MarketResult, MarketStatus, WriteKind};
use super::{Exchange, log_entry, make_id, outcome_of};

impl Exchange {
    // ---- order groups ----

    fn push_group_event(
        &mut self,
        group_id: &str,
        event_type: GroupEventType,
        with_limit: bool,
        now_ms: i64,
    ) {
        let Some(group) = self.groups.get(group_id) else {
            return;
        };
        let update = GroupUpdate {
            user_id: group.user_id.clone(),
            subaccount: group.subaccount,
            order_group_id: group.order_group_id.clone(),
            event_type,
            contracts_limit: with_limit.then_some(group.contracts_limit),
            ts_ms: now_ms,
        };
        self.pending.push(ExchangeEvent::OrderGroup(update));
    }

    /// Cancel a group's resting orders and block it until reset; announces `triggered`.
    pub(super) fn trigger_group_orders(&mut self, group_id: &str, now_ms: i64) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        group.triggered = true;
        let order_ids = group.order_ids.clone();
        let numbers: Vec<OrderId> = order_ids
            .iter()
            .filter_map(|id| self.order_numbers.get(id).copied())
            .filter(|&n| self.orders[n as usize - 1].is_resting())
            .collect();
        self.cancel_numbers(&numbers, now_ms);
        self.push_group_event(group_id, GroupEventType::Triggered, false, now_ms);
    }

    fn owned_group(
        &self,
        user_id: &str,
        group_id: &str,
        subaccount: Option<u32>,
    ) -> Result<&OrderGroup, ApiError> {
        self.member(user_id)?;
        self.groups
            .get(group_id)
            .filter(|g| g.user_id == user_id && subaccount.is_none_or(|s| s == g.subaccount))
            .ok_or_else(|| ApiError::not_found(format!("order group {group_id} not found")))
    }

    fn log_group_write<T>(
        &mut self,
        user_id: &str,
        kind: WriteKind,
        group_id: Option<&str>,
        subaccount: Option<u32>,
        result: &Result<T, ApiError>,
        now_ms: i64,
    ) {
        let mut entry = log_entry(now_ms, user_id, kind);
        entry.subaccount = subaccount;
        entry.order_group_id = group_id.map(str::to_string);
        entry.outcome = outcome_of(result);
        self.log_write(entry);
    }

    /// Create an order group with a contracts limit over the rolling window. Returns its id.
    pub fn create_group(
        &mut self,
        user_id: &str,
        subaccount: u32,
        contracts_limit: Count,
        now_ms: i64,
    ) -> Result<String, ApiError> {
        let result = self.create_group_inner(user_id, subaccount, contracts_limit, now_ms);
        let id = result.as_ref().ok().cloned();
        self.log_group_write(
            user_id,
            WriteKind::CreateOrderGroup,
            id.as_deref(),
            Some(subaccount),
            &result,
            now_ms,
        );
        result
    }

    fn create_group_inner(
        &mut self,
        user_id: &str,
        subaccount: u32,
        contracts_limit: Count,
        now_ms: i64,
    ) -> Result<String, ApiError> {
        self.member(user_id)?;
        super::accounts::check_subaccount(subaccount)?;
        if contracts_limit.centi() < 100 || contracts_limit.centi() % 100 != 0 {
            return Err(ApiError::bad_request(format!(
                "contracts limit {} must be a whole number of contracts, at least 1",
                contracts_limit.to_fp()
            )));
        }
        self.next_group += 1;
        let group_id = make_id(2, self.next_group);
        self.groups.insert(
            group_id.clone(),
            OrderGroup::new(group_id.clone(), user_id, subaccount, contracts_limit),
        );
        self.push_group_event(&group_id, GroupEventType::Created, true, now_ms);
        Ok(group_id)
    }

    /// The group, if it belongs to `user_id` (and `subaccount`, when given).
    pub fn group_of(
        &self,
        user_id: &str,
        group_id: &str,
        subaccount: Option<u32>,
    ) -> Result<&OrderGroup, ApiError> {
        self.owned_group(user_id, group_id, subaccount)
    }

    /// A member's groups (in one subaccount, or all), in id order.
    pub fn groups_of(
        &self,
        user_id: &str,
        subaccount: Option<u32>,
    ) -> Result<Vec<&OrderGroup>, ApiError> {
        self.member(user_id)?;
        Ok(self
            .groups
            .values()
            .filter(|g| g.user_id == user_id && subaccount.is_none_or(|s| s == g.subaccount))
            .collect())
    }

    /// Delete a group, cancelling its resting orders.
    pub fn delete_group(
        &mut self,
        user_id: &str,
        group_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let result = self.owned_group(user_id, group_id, subaccount).map(|_| ());
        if result.is_ok() {
            let order_ids = self.groups[group_id].order_ids.clone();
            let numbers: Vec<OrderId> = order_ids
                .iter()
                .filter_map(|id| self.order_numbers.get(id).copied())
                .filter(|&n| self.orders[n as usize - 1].is_resting())
                .collect();
            self.cancel_numbers(&numbers, now_ms);
            self.push_group_event(group_id, GroupEventType::Deleted, false, now_ms);
            self.groups.remove(group_id);
        }
        self.log_group_write(
            user_id,
            WriteKind::DeleteOrderGroup,
            Some(group_id),
            subaccount,
            &result,
            now_ms,
        );
        result
    }

    /// Reset the matched counter and accept orders again.
    pub fn reset_group(
        &mut self,
        user_id: &str,
        group_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let result = self.owned_group(user_id, group_id, subaccount).map(|_| ());
        if result.is_ok() {
            if let Some(group) = self.groups.get_mut(group_id) {
                group.reset();
            }
            self.push_group_event(group_id, GroupEventType::Reset, false, now_ms);
        }
        self.log_group_write(
            user_id,
            WriteKind::ResetOrderGroup,
            Some(group_id),
            subaccount,
            &result,
            now_ms,
        );
        result
    }

    /// Trigger by hand: cancel the group's orders and block it until reset.
    pub fn trigger_group(
        &mut self,
        user_id: &str,
        group_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let result = self.owned_group(user_id, group_id, subaccount).map(|_| ());
        if result.is_ok() {
            self.trigger_group_orders(group_id, now_ms);
        }
        self.log_group_write(
            user_id,
            WriteKind::TriggerOrderGroup,
            Some(group_id),
            subaccount,
            &result,
            now_ms,
        );
        result
    }

    /// Change the limit; if the window's matches already reach it, the group triggers.
    pub fn update_group_limit(
        &mut self,
        user_id: &str,
        group_id: &str,
        subaccount: Option<u32>,
        contracts_limit: Count,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let mut result = self.owned_group(user_id, group_id, subaccount).map(|_| ());
        if result.is_ok() && (contracts_limit.centi() < 100 || contracts_limit.centi() % 100 != 0) {
            result = Err(ApiError::bad_request(format!(
                "contracts limit {} must be a whole number of contracts, at least 1",
                contracts_limit.to_fp()
            )));
        }
        if result.is_ok() {
            let window = self.config.order_group_window_ms;
            let due = match self.groups.get_mut(group_id) {
                Some(group) => {
                    group.contracts_limit = contracts_limit;
                    group.should_trigger(now_ms, window)
                }
                None => false,
            };
            self.push_group_event(group_id, GroupEventType::LimitUpdated, true, now_ms);
            if due {
                self.trigger_group_orders(group_id, now_ms);
            }
        }
        self.log_group_write(
            user_id,
            WriteKind::UpdateOrderGroupLimit,
            Some(group_id),
            subaccount,
            &result,
            now_ms,
        );
        result
    }

    // ---- time, pauses, lifecycle ----

    /// Move the exchange's clock to `now_ms`: expire good-till-date orders, open and close
    /// markets on schedule, determine markets with a scheduled result once they expire, and
    /// settle determined markets when their settlement timer has run.
    ///
    /// Inside a configured maintenance window the exchange is down (`exchange_active: false`,
    /// resume estimate = the window's end, `cancel_order_on_pause` orders cancelled); it comes
    /// back at the first `advance` after the window.
    pub fn advance(&mut self, now_ms: i64) {
        self.clock_ms = self.clock_ms.max(now_ms);
        let window = self
            .config
            .schedule
            .maintenance_windows
            .iter()
            .find(|&&(start, end)| start <= now_ms && now_ms < end)
            .copied();
        match (window, self.in_maintenance) {
            (Some((_, end)), false) => {
                self.in_maintenance = true;
                self.set_exchange_active(false, Some(end));
                self.cancel_on_pause(None, now_ms);
            }
            (None, true) => {
                self.in_maintenance = false;
                self.set_exchange_active(true, None);
            }
            _ => {}
        }
        let tickers: Vec<Ticker> = self.markets.keys().cloned().collect();
        for ticker in &tickers {
            let expired = self
                .books
                .get_mut(ticker.as_str())
                .map(|book| book.expire(now_ms))
                .unwrap_or_default();
            for order in &expired {
                self.retire_removed(order, now_ms);
            }
            if !expired.is_empty() {
                self.emit_ticker(ticker, now_ms);
            }
        }
        for ticker in &tickers {
            let Some(market) = self.markets.get_mut(ticker.as_str()) else {
                continue;
            };
            if let Some(step) = market.open_if_due(now_ms) {
                self.pending.push(ExchangeEvent::Lifecycle(step));
            }
            let Some(market) = self.markets.get_mut(ticker.as_str()) else {
                continue;
            };
            if let Some(step) = market.close_if_due(now_ms) {
                self.cancel_market_orders(ticker, now_ms);
                self.pending.push(ExchangeEvent::Lifecycle(step));
            }
            let due = self
                .markets
                .get(ticker.as_str())
                .and_then(|m| m.determination_due(now_ms));
            if let Some(result) = due {
                // Cannot fail: the market is closed.
                let _ = self.determine_market(ticker.as_str(), result, now_ms);
            }
            let settle = self
                .markets
                .get(ticker.as_str())
                .is_some_and(|m| m.settlement_due(now_ms));
            if settle {
                let _ = self.settle_market(ticker.as_str(), now_ms);
            }
        }
    }

    fn cancel_market_orders(&mut self, ticker: &Ticker, now_ms: i64) {
        let removed = self
            .books
            .get_mut(ticker.as_str())
            .map(|book| book.cancel_all())
            .unwrap_or_default();
        for order in &removed {
            self.retire_removed(order, now_ms);
        }
        if !removed.is_empty() {
            self.emit_ticker(ticker, now_ms);
        }
    }

    /// Cancel resting orders that asked to be cancelled on a pause, in one market or all.
    fn cancel_on_pause(&mut self, ticker: Option<&Ticker>, now_ms: i64) {
        let numbers: Vec<OrderId> = self
            .resting_numbers(ticker.map(|t| t.as_str()), None)
            .into_iter()
            .filter(|&n| self.orders[n as usize - 1].cancel_order_on_pause)
            .collect();
        self.cancel_numbers(&numbers, now_ms);
    }

    /// Exchange-wide trading pause (`trading_active: false`) or resume. Pausing cancels every
    /// resting order placed with `cancel_order_on_pause`; other orders stay and trade again on
    /// resume. While paused, new orders and amends get 409 `market_closed`; cancels still work.
    pub fn set_trading_active(&mut self, active: bool, now_ms: i64) {
        if self.trading_active == active {
            return;
        }
        self.trading_active = active;
        if !active {
            self.cancel_on_pause(None, now_ms);
        } else {
            self.estimated_resume_ms = None;
        }
    }

    /// Exchange up/down (`exchange_active`), with an optional resume estimate.
    pub fn set_exchange_active(&mut self, active: bool, estimated_resume_ms: Option<i64>) {
        self.exchange_active = active;
        self.estimated_resume_ms = if active { None } else { estimated_resume_ms };
    }

    /// Pause (`inactive`, `deactivated` event) or resume (`active`, `activated`) one market.
    /// Pausing cancels that market's `cancel_order_on_pause` orders.
    pub fn set_market_paused(
        &mut self,
        ticker: &str,
        paused: bool,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let market = self
            .markets
            .get_mut(ticker)
            .ok_or_else(|| ApiError::not_found(format!("market {ticker} not found")))?;
        let step = market.set_paused(paused, now_ms).ok_or_else(|| {
            ApiError::bad_request(format!(
                "market {ticker} is {} and cannot be {}",
                market.status,
                if paused { "paused" } else { "resumed" }
            ))
        })?;
        let ticker = market.ticker.clone();
        if paused {
            self.cancel_on_pause(Some(&ticker), now_ms);
        }
        self.pending.push(ExchangeEvent::Lifecycle(step));
        Ok(())
    }

    /// Record a market's outcome. An open market closes first (its resting orders are
    /// cancelled, `close_date_updated`), then `determined` is announced.
    pub fn determine_market(
        &mut self,
        ticker: &str,
        result: MarketResult,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let market = self
            .markets
            .get_mut(ticker)
            .ok_or_else(|| ApiError::not_found(format!("market {ticker} not found")))?;
        let was_open = matches!(
            market.status,
            MarketStatus::Initialized | MarketStatus::Active | MarketStatus::Inactive
        );
        let steps = market
            .determine(result, now_ms)
            .map_err(ApiError::bad_request)?;
        let ticker = market.ticker.clone();
        if was_open {
            self.cancel_market_orders(&ticker, now_ms);
        }
        for step in steps {
            self.pending.push(ExchangeEvent::Lifecycle(step));
        }
        Ok(())
    }

    /// Pay out every position in a determined market and finalize it (`settled` event).
    pub fn settle_market(&mut self, ticker: &str, now_ms: i64) -> Result<(), ApiError> {
        let market = self
            .markets
            .get_mut(ticker)
            .ok_or_else(|| ApiError::not_found(format!("market {ticker} not found")))?;
        let step = market.settle(now_ms).map_err(ApiError::bad_request)?;
        let Some(result) = market.result else {
            return Err(ApiError::bad_request(format!(
                "market {ticker} has no result to settle on"
            )));
        };
        market.stats.open_interest = Count::ZERO;
        let ticker = market.ticker.clone();
        let event_ticker = market.spec.event_ticker.clone();
        let precision = self.config.balance_precision;
        let settled = SettledMarket {
            ticker: &ticker,
            event_ticker: &event_ticker,
            result,
            now_ms,
        };
        let mut records = Vec::new();
        let mut updates = Vec::new();
        for (user_id, member) in self.members.iter_mut() {
            for (&number, sub) in member.account.subaccounts.iter_mut() {
                let before = sub.positions.get(&ticker).cloned();
                if let Some(record) = sub.settle((user_id, number), &settled, precision) {
                    records.push(record);
                    if let Some(mut position) = before {
                        position.realized_pnl = position
                            .realized_pnl
                            .saturating_add(records[records.len() - 1].revenue)
                            .saturating_sub(position.cost);
                        position.position = Count::ZERO;
                        position.cost = crate::core::num::Money::ZERO;
                        position.last_updated_ms = now_ms;
                        updates.push(PositionUpdate {
                            user_id: user_id.clone(),
                            subaccount: number,
                            ticker: ticker.clone(),
                            position,
                        });
                    }
                }
            }
        }
        for record in records {
            self.index
                .add_settlement(&record.user_id, self.settlements.len());
            self.settlements.push(record);
        }
        for update in updates {
            self.pending.push(ExchangeEvent::MarketPosition(update));
        }
        self.pending.push(ExchangeEvent::Lifecycle(step));
        Ok(())
    }
}
