//! The simulator's exchange state: markets, accounts, orders, order groups, settlement.
//!
//! Synchronous and deterministic: no I/O and no clock reads; time arrives as `now_ms`
//! arguments. The HTTP/WS server wraps one [`Exchange`] in a mutex, calls the writes and reads
//! below, and fans out [`Exchange::take_events`] (or `take_wire_events`) to WebSocket
//! subscribers.
//!
//! Parts: [`accounts`] (cash, collateral, positions, settlement; the collateral rule is
//! documented there), [`orders`] (order records), [`groups`] (order groups), [`lifecycle`]
//! (market status and `market_lifecycle_v2` steps), [`events`] (domain announcements), [`types`]
//! (specs, config, errors, the order log). Matching is core::matching's `MatchingBook`, fees are
//! core::portfolio::fees (trade fee, balance-precision rounding, per-order accumulator).
//!
//! # API for the server (kalshi::wire types in and out)
//! - setup: `new(ExchangeConfig)`, `add_series`, `add_event`, `add_market -> Result`,
//!   `open_account(user, balance)` (idempotent), `deposit(user, subaccount, amount)`.
//! - writes: `create_order`, `batch_create_orders`, `cancel_order(user, id, subaccount)`,
//!   `batch_cancel_orders`, `cancel_all(user, subaccount)`, `amend_order(user, id, subaccount,
//!   &AmendOrderV2Request)`, `decrease_order(user, id, subaccount, &DecreaseOrderV2Request)`;
//!   order groups `create_order_group`, `get_order_group`, `list_order_groups`,
//!   `delete_order_group`, `reset_order_group`, `trigger_order_group`,
//!   `update_order_group_limit` (each with `subaccount: Option<u32>` from the query).
//! - reads: `exchange_status`, `schedule`, `markets(&GetMarketsParams)`, `market`,
//!   `events(&GetEventsParams)`, `event(ticker, with_nested)`, `series_list`, `series`,
//!   `orderbook(ticker, depth) -> OrderbookFp`, `book_levels`, `market_id`,
//!   `trades(&GetTradesParams)`, `balance(user, subaccount)`, `positions(user,
//!   &GetPositionsParams) -> GetPositionsResponse`, `fills(user, &GetFillsParams)`,
//!   `settlements(user, &SettlementFilter)`, `orders(user, &GetOrdersParams)`, `order`,
//!   `queue_position`, `queue_positions(user, tickers, event)`, `total_resting_order_value`.
//!   Lists are complete and in a stable order; the server slices them for pagination.
//! - time and control: `advance(now)`, `set_trading_active`, `set_exchange_active`,
//!   `set_market_paused`, `determine_market -> Result`, `settle_market -> Result`.
//! - out: `take_events() -> Vec<events::ExchangeEvent>` (domain records, in order) or
//!   `take_wire_events() -> Vec<WireEvent>` (the same as wire WS messages), `order_log()`.
//!
//! Differences from the brief's sketch: the list filters are the wire query types
//! (`GetMarketsParams`, …; `SettlementFilter` where wire has none); the wire-message event enum
//! is `WireEvent` (from `take_wire_events`), because `take_events` keeps the domain events the
//! server already consumes; `determine_market`/`settle_market` return `Result`; domain-level
//! twins of every write (`place_order`, `cancel_order_by_id`, …) exist for in-process callers.
//!
//! Choices where Kalshi documents nothing (each also noted where it is implemented):
//! - an unknown user gets 403 `forbidden`; the server authenticates before calling in;
//! - writes while the exchange's trading is paused or the exchange is down (maintenance), or on
//!   a market that is not `active`, get 409 `market_closed`; cancels always work;
//! - an order for a triggered order group gets 400 `invalid_order` with details
//!   `order_group_triggered`;
//! - a fill-or-kill that cannot fill is accepted (201) and reported `canceled` with no fills;
//!   IOC remainders end `canceled`;
//! - self-trade prevention applies per member (across its subaccounts);
//! - `client_order_id` must be unique per member over all its orders (open or not);
//! - a scheduled close emits `deactivated` (`is_deactivated: true`); an early close emits
//!   `close_date_updated`; legacy `side`/`action` on orders and fills are the bought outcome
//!   and `buy`;
//! - weekly trading hours are reported but not enforced (the simulator trades around the
//!   clock); maintenance windows are enforced by `advance`.

pub mod accounts;
mod api;
mod control;
pub mod events;
pub mod groups;
mod index;
pub mod lifecycle;
pub mod orders;
#[cfg(test)]
mod tests;
mod trading;
mod wire_out;

pub use crate::core::matching::Decrease;
pub use api::{SettlementFilter, WireEvent};
pub use trading::{AmendRequest, CancelAck, DecreaseAck, OrderAck, OrderRequest};
pub mod types;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::core::market::{PriceGrid, Ticker};
use crate::core::matching::{MatchingBook, OrderId, OwnerId};
use crate::core::num::{Count, Money};
use crate::core::portfolio::fees::FeeSchedule;

use accounts::{Account, FillRecord, SettlementRecord};
use events::{ExchangeEvent, TickerSnapshot, TradeRecord};
use groups::OrderGroup;
use index::RecordIndex;
use lifecycle::MarketState;
use orders::OrderRecord;
use types::{
    ApiError, EventSpec, ExchangeConfig, MarketSpec, OrderLogEntry, OrderStatus, SeriesSpec,
    WriteKind, WriteOutcome,
};

/// A member known to the exchange.
#[derive(Debug, Clone)]
struct Member {
    owner: OwnerId,
    account: Account,
}

/// The whole exchange. See the module docs.
#[derive(Debug, Clone)]
pub struct Exchange {
    config: ExchangeConfig,
    series: BTreeMap<String, SeriesSpec>,
    events_by_ticker: BTreeMap<String, EventSpec>,
    markets: BTreeMap<Ticker, MarketState>,
    books: HashMap<Ticker, MatchingBook>,
    members: BTreeMap<String, Member>,
    user_by_owner: Vec<String>,
    /// Every order ever accepted; the matching book's `OrderId` is the index + 1.
    orders: Vec<OrderRecord>,
    order_numbers: HashMap<String, OrderId>,
    /// `(user_id, client_order_id)` of every accepted order.
    client_order_ids: HashSet<(String, String)>,
    /// Each member's orders (all, and resting per market), fills and settlements.
    index: RecordIndex,
    groups: BTreeMap<String, OrderGroup>,
    fills: Vec<FillRecord>,
    settlements: Vec<SettlementRecord>,
    trades: Vec<TradeRecord>,
    log: Vec<OrderLogEntry>,
    pending: Vec<ExchangeEvent>,
    exchange_active: bool,
    trading_active: bool,
    /// When a paused exchange expects to resume (ms), reported by the status endpoint.
    estimated_resume_ms: Option<i64>,
    next_trade: u64,
    next_group: u64,
    /// The latest time the exchange has been told (writes and `advance`), for reads that need
    /// a clock (24 h volume, `updated_ts`).
    clock_ms: i64,
    /// Inside a scheduled maintenance window (set and cleared by `advance`).
    in_maintenance: bool,
}

/// Deterministic uuid-shaped ids: `kind` tells orders, trades and groups apart.
fn make_id(kind: u16, number: u64) -> String {
    format!("00000000-0000-4000-{:04x}-{:012x}", 0x8000 | kind, number)
}

impl Exchange {
    pub fn new(config: ExchangeConfig) -> Exchange {
        Exchange {
            config,
            series: BTreeMap::new(),
            events_by_ticker: BTreeMap::new(),
            markets: BTreeMap::new(),
            books: HashMap::new(),
            members: BTreeMap::new(),
            user_by_owner: Vec::new(),
            orders: Vec::new(),
            order_numbers: HashMap::new(),
            client_order_ids: HashSet::new(),
            index: RecordIndex::default(),
            groups: BTreeMap::new(),
            fills: Vec::new(),
            settlements: Vec::new(),
            trades: Vec::new(),
            log: Vec::new(),
            pending: Vec::new(),
            exchange_active: true,
            trading_active: true,
            estimated_resume_ms: None,
            next_trade: 0,
            next_group: 0,
            clock_ms: 0,
            in_maintenance: false,
        }
    }

    pub fn config(&self) -> &ExchangeConfig {
        &self.config
    }

    // ---- catalogue ----

    pub fn add_series(&mut self, series: SeriesSpec) {
        self.series.insert(series.ticker.clone(), series);
    }

    pub fn add_event(&mut self, event: EventSpec) {
        self.events_by_ticker
            .insert(event.event_ticker.clone(), event);
    }

    /// List a market (status `initialized`, a `created` lifecycle event); `advance` opens it at
    /// its open time. Refuses a duplicate ticker, an unknown event or a bad price grid.
    pub fn add_market(&mut self, spec: MarketSpec) -> Result<(), ApiError> {
        let ticker = Ticker::new(&spec.ticker);
        if self.markets.contains_key(&ticker) {
            return Err(ApiError::new(
                409,
                "market_already_exists",
                format!("market {ticker} is already listed"),
            ));
        }
        if !self.events_by_ticker.contains_key(&spec.event_ticker) {
            return Err(ApiError::not_found(format!(
                "event {} of market {ticker} is not listed",
                spec.event_ticker
            )));
        }
        let grid = PriceGrid::from_ranges(&spec.price_ranges).map_err(|e| {
            ApiError::bad_request(format!("price_ranges of market {ticker} are invalid: {e}"))
        })?;
        let mut market = MarketState::new(spec, grid.clone());
        market.market_id = make_id(3, self.markets.len() as u64 + 1);
        self.pending
            .push(ExchangeEvent::Lifecycle(market.created_step()));
        self.books
            .insert(ticker.clone(), MatchingBook::new(ticker.clone(), grid));
        self.markets.insert(ticker, market);
        Ok(())
    }

    pub fn market_state(&self, ticker: &str) -> Option<&MarketState> {
        self.markets.get(ticker)
    }

    pub fn series_spec(&self, ticker: &str) -> Option<&SeriesSpec> {
        self.series.get(ticker)
    }

    pub fn event_spec(&self, event_ticker: &str) -> Option<&EventSpec> {
        self.events_by_ticker.get(event_ticker)
    }

    pub fn series_specs(&self) -> impl Iterator<Item = &SeriesSpec> + '_ {
        self.series.values()
    }

    pub fn event_specs(&self) -> impl Iterator<Item = &EventSpec> + '_ {
        self.events_by_ticker.values()
    }

    /// Every market, in ticker order.
    pub fn market_states(&self) -> impl Iterator<Item = &MarketState> + '_ {
        self.markets.values()
    }

    /// The fee schedule of a market: the event's override, else its series', else the default.
    pub fn fee_schedule(&self, ticker: &str) -> FeeSchedule {
        let event = self
            .markets
            .get(ticker)
            .and_then(|m| self.events_by_ticker.get(&m.spec.event_ticker));
        let series = event.and_then(|e| self.series.get(&e.series_ticker));
        let fee_type = event
            .and_then(|e| e.fee_type_override)
            .or(series.map(|s| s.fee_type))
            .unwrap_or(self.config.default_fee_type);
        let multiplier = event
            .and_then(|e| e.fee_multiplier_override)
            .or(series.map(|s| s.fee_multiplier))
            .unwrap_or(self.config.default_fee_multiplier);
        FeeSchedule::new(fee_type, multiplier)
    }

    // ---- members ----

    /// Open a member with `balance` in its primary account. Idempotent: an existing member is
    /// left as it is. Subaccounts 1..=63 open empty on first use.
    pub fn open_account(&mut self, user_id: &str, balance: Money) {
        if self.members.contains_key(user_id) {
            return;
        }
        let owner = self.user_by_owner.len() as OwnerId;
        self.user_by_owner.push(user_id.to_string());
        self.members.insert(
            user_id.to_string(),
            Member {
                owner,
                account: Account::with_balance(balance),
            },
        );
    }

    /// Add (or with a negative amount, withdraw) cash; for tests and the demo's funding.
    pub fn deposit(
        &mut self,
        user_id: &str,
        subaccount: u32,
        amount: Money,
    ) -> Result<(), ApiError> {
        let sub = self
            .member_mut(user_id)?
            .account
            .subaccount_mut(subaccount)?;
        sub.cash = sub.cash.saturating_add(amount);
        Ok(())
    }

    pub fn account(&self, user_id: &str) -> Option<&Account> {
        self.members.get(user_id).map(|m| &m.account)
    }

    fn member_mut(&mut self, user_id: &str) -> Result<&mut Member, ApiError> {
        self.members
            .get_mut(user_id)
            .ok_or_else(|| unknown_user(user_id))
    }

    fn member(&self, user_id: &str) -> Result<&Member, ApiError> {
        self.members
            .get(user_id)
            .ok_or_else(|| unknown_user(user_id))
    }

    // ---- records ----

    /// An order by its id, whoever owns it.
    pub fn order_record(&self, order_id: &str) -> Option<&OrderRecord> {
        let number = *self.order_numbers.get(order_id)?;
        self.orders.get(number as usize - 1)
    }

    /// Every order of a member, oldest first.
    pub fn order_records(
        &self,
        user_id: &str,
    ) -> impl DoubleEndedIterator<Item = &OrderRecord> + '_ {
        self.index
            .orders_of(user_id)
            .iter()
            .filter_map(|&number| self.orders.get(number as usize - 1))
    }

    /// Every fill of a member, oldest first.
    fn fills_of(&self, user_id: &str) -> impl DoubleEndedIterator<Item = &FillRecord> + '_ {
        self.index
            .fills_of(user_id)
            .iter()
            .filter_map(|&i| self.fills.get(i))
    }

    /// Every settlement of a member, oldest first.
    fn settlements_of(
        &self,
        user_id: &str,
    ) -> impl DoubleEndedIterator<Item = &SettlementRecord> + '_ {
        self.index
            .settlements_of(user_id)
            .iter()
            .filter_map(|&i| self.settlements.get(i))
    }

    /// Every fill, oldest first.
    pub fn fill_records(&self) -> &[FillRecord] {
        &self.fills
    }

    pub fn settlement_records(&self) -> &[SettlementRecord] {
        &self.settlements
    }

    /// Public trades, oldest first.
    pub fn trade_records(&self) -> &[TradeRecord] {
        &self.trades
    }

    pub fn order_group(&self, order_group_id: &str) -> Option<&OrderGroup> {
        self.groups.get(order_group_id)
    }

    pub fn order_groups_of(&self, user_id: &str) -> impl Iterator<Item = &OrderGroup> + '_ {
        let user_id = user_id.to_string();
        self.groups.values().filter(move |g| g.user_id == user_id)
    }

    /// The matching book of a market.
    pub fn matching_book(&self, ticker: &str) -> Option<&MatchingBook> {
        self.books.get(ticker)
    }

    pub fn is_trading_active(&self) -> bool {
        self.trading_active
    }

    pub fn is_exchange_active(&self) -> bool {
        self.exchange_active
    }

    pub fn estimated_resume_ms(&self) -> Option<i64> {
        self.estimated_resume_ms
    }

    /// Everything announced since the last call, in order, in domain terms (`take_wire_events`
    /// gives them as wire messages instead; use one or the other).
    pub fn take_events(&mut self) -> Vec<ExchangeEvent> {
        std::mem::take(&mut self.pending)
    }

    /// Every write that reached the exchange, accepted or refused, in arrival order.
    pub fn order_log(&self) -> &[OrderLogEntry] {
        &self.log
    }

    /// Creates and amends (any member's) accepted after `after_ms`: what a kill at that instant
    /// must have stopped.
    pub fn exposure_accepted_after(&self, after_ms: i64) -> usize {
        self.log
            .iter()
            .filter(|e| e.now_ms > after_ms && e.kind.adds_exposure())
            .filter(|e| e.outcome == WriteOutcome::Accepted)
            .count()
    }

    // ---- helpers shared by the write paths ----

    /// Resting orders in one market or all, of one owner or all, in placement order. One
    /// owner's come from the index (its own orders only); everyone's from the books.
    fn resting_numbers(&self, ticker: Option<&str>, owner: Option<OwnerId>) -> Vec<OrderId> {
        if let Some(owner) = owner {
            return self.index.resting_of(owner, ticker);
        }
        let books: Vec<&MatchingBook> = match ticker {
            Some(t) => self.books.get(t).into_iter().collect(),
            None => self.books.values().collect(),
        };
        let mut numbers: Vec<OrderId> = books
            .into_iter()
            .flat_map(|book| book.resting_orders())
            .map(|order| order.order_id)
            .collect();
        numbers.sort_unstable();
        numbers
    }

    /// Change an order's status, keeping the resting index in step.
    fn set_status(&mut self, number: OrderId, status: OrderStatus) {
        let Some(record) = self.orders.get_mut((number as usize).wrapping_sub(1)) else {
            return;
        };
        let was_resting = record.is_resting();
        record.status = status;
        let is_resting = record.is_resting();
        if was_resting != is_resting
            && let Some(member) = self.members.get(&record.user_id)
        {
            self.index
                .set_resting(member.owner, &record.ticker, number, is_resting);
        }
    }

    /// Test check: the index lists, per member, exactly the orders the books hold.
    #[cfg(test)]
    fn assert_index_matches_books(&self) {
        for member in self.members.values() {
            let mut in_books: Vec<OrderId> = self
                .books
                .values()
                .flat_map(|book| book.resting_orders())
                .filter(|order| order.owner == member.owner)
                .map(|order| order.order_id)
                .collect();
            in_books.sort_unstable();
            assert_eq!(self.index.resting_of(member.owner, None), in_books);
            assert_eq!(self.index.resting_count(member.owner), in_books.len());
            for (ticker, book) in &self.books {
                let mut here: Vec<OrderId> = book
                    .resting_orders()
                    .filter(|order| order.owner == member.owner)
                    .map(|order| order.order_id)
                    .collect();
                here.sort_unstable();
                assert_eq!(
                    self.index.resting_of(member.owner, Some(ticker.as_str())),
                    here
                );
            }
        }
        for (i, order) in self.orders.iter().enumerate() {
            if order.is_resting() && order.reducing_claim.is_positive() {
                let owner = self.members[&order.user_id].owner;
                let number = i as OrderId + 1;
                assert!(
                    self.index
                        .claiming_of(owner, order.ticker.as_str())
                        .any(|n| n == number),
                    "order {number} claims but is not indexed as claiming"
                );
            }
        }
    }

    fn log_write(&mut self, entry: OrderLogEntry) {
        self.clock_ms = self.clock_ms.max(entry.now_ms);
        self.log.push(entry);
    }

    fn ticker_snapshot(&self, ticker: &Ticker, ts_ms: i64) -> Option<TickerSnapshot> {
        let market = self.markets.get(ticker)?;
        let book = self.books.get(ticker)?;
        let stats = &market.stats;
        Some(TickerSnapshot {
            ticker: ticker.clone(),
            last_price: stats.last_price,
            yes_bid: book.best_bid(),
            yes_ask: book.best_ask(),
            last_trade_size: stats.last_trade_size,
            volume: stats.volume,
            open_interest: stats.open_interest,
            dollar_volume: stats.dollar_volume,
            dollar_open_interest: whole_dollars(stats.open_interest),
            ts_ms,
        })
    }

    fn emit_ticker(&mut self, ticker: &Ticker, ts_ms: i64) {
        if let Some(snapshot) = self.ticker_snapshot(ticker, ts_ms) {
            self.pending.push(ExchangeEvent::Ticker(snapshot));
        }
    }
}

fn unknown_user(user_id: &str) -> ApiError {
    ApiError::new(
        403,
        "forbidden",
        format!("user {user_id:?} has no account on this exchange"),
    )
}

/// A log entry for a write that names no order fields yet.
fn log_entry(now_ms: i64, user_id: &str, kind: WriteKind) -> OrderLogEntry {
    OrderLogEntry {
        now_ms,
        user_id: user_id.to_string(),
        subaccount: None,
        kind,
        ticker: None,
        order_id: None,
        client_order_id: None,
        order_group_id: None,
        side: None,
        price: None,
        count: None,
        outcome: WriteOutcome::Accepted,
    }
}

fn outcome_of<T>(result: &Result<T, ApiError>) -> WriteOutcome {
    match result {
        Ok(_) => WriteOutcome::Accepted,
        Err(e) => WriteOutcome::Refused {
            status: e.status,
            code: e.code.clone(),
        },
    }
}

/// Contracts × $1: the dollar value of open interest.
fn whole_dollars(count: Count) -> Money {
    Money::from_micros(count.centi().saturating_mul(10_000))
}
