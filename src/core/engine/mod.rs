//! The engine: the one owner of trading state (DESIGN.md §3, §5).
//!
//! `Engine::handle(input, now) -> Outputs` applies one input (market data, account events,
//! gateway answers, operator commands, exchange news, fair values, clock, timer), refreshes the
//! automatic pause reasons, lets the affected markets' strategies decide, checks every resulting
//! order against the risk gate, evaluates the halt rules, and returns order intents, alarms and
//! a sequence-numbered audit stream. It is pure and deterministic: the same inputs at the same
//! `Now`s give the same outputs.

mod account;
mod commands;
mod decide;
pub mod io;
mod scope;

use crate::core::{FastMap, FastSet};
use std::collections::BTreeMap;

use crate::core::book::Books;
use crate::core::control::{Control, MAX_CLOCK_OFFSET_MS, PauseReason, StateChange};
use crate::core::market::{MarketStatus, PriceGrid, Ticker};
use crate::core::num::{Money, Price};
use crate::core::order::{
    ClientOrderId, ClientOrderIdIssuer, Order, OrderOwner, OrderState, Orders,
};
use crate::core::portfolio::{DayBoundary, Portfolio};
use crate::core::risk::{
    BreachInputs, BreachMonitor, EventStructure, RateWindow, RiskLimits, TimeInForce,
};
use crate::core::strategy::{FairValues, Strategy, StrategyParams};
use crate::core::time::Now;

pub use io::*;
use scope::{FullRefresh, Touched, Wake};

/// Engine settings (from config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Drawn at random by the runtime each session; makes `client_order_id`s unique across runs.
    pub session_nonce: u32,
    pub limits: RiskLimits,
    /// A book older than this is stale: no collar reference, and armed markets pause.
    pub stale_book_ms: u64,
    /// How long a resync may HOLD before the market pauses.
    pub hold_limit_ms: u64,
    /// Markets closing within this pause (`ClosingSoon`).
    pub closing_soon_ms: u64,
    /// The desk's order group for automated orders, if one was created.
    pub order_group_id: Option<String>,
    /// Where one trading day ends for daily P&L.
    pub day_boundary: DayBoundary,
    /// Position drifts (ours ≠ the exchange's) tolerated in a session before the desk halts;
    /// each one pauses its market.
    pub max_position_drifts: u32,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            session_nonce: 0,
            limits: RiskLimits::default(),
            stale_book_ms: 300_000,
            hold_limit_ms: 2_000,
            closing_soon_ms: 60_000,
            order_group_id: None,
            day_boundary: DayBoundary::default(),
            max_position_drifts: 3,
        }
    }
}

/// Reference data per market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketRecord {
    pub grid: PriceGrid,
    pub event_ticker: Option<String>,
    pub close_ms: Option<i64>,
    pub status: MarketStatus,
    pub paused_at_exchange: bool,
    pub strike_rank: Option<u32>,
}

impl Default for MarketRecord {
    fn default() -> MarketRecord {
        MarketRecord {
            // Whole cents are valid on every Kalshi grid.
            grid: PriceGrid::linear_cent(),
            event_ticker: None,
            close_ms: None,
            status: MarketStatus::Active,
            paused_at_exchange: false,
            strike_rank: None,
        }
    }
}

/// A market's strategy and the parameters it was built from.
#[derive(Debug)]
struct StrategySlot {
    /// `None` for a strategy installed as code rather than built from parameters.
    params: Option<StrategyParams>,
    strategy: Box<dyn Strategy>,
}

impl StrategySlot {
    fn owner(&self) -> OrderOwner {
        OrderOwner::strategy(self.strategy.kind())
    }
}

/// A confirmation the operator asked for and has not used yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PendingConfirmation {
    action: ConfirmAction,
    token: u64,
}

pub struct Engine {
    config: EngineConfig,
    books: Books,
    orders: Orders,
    portfolio: Portfolio,
    control: Control,
    markets: BTreeMap<Ticker, MarketRecord>,
    /// What a market without reference data is assumed to be.
    default_market: MarketRecord,
    events: BTreeMap<String, EventStructure>,
    strategies: BTreeMap<Ticker, StrategySlot>,
    fair_values: FairValues,
    last_trade: FastMap<Ticker, Price>,
    /// Time in force of non-GTC orders (the store does not keep it).
    order_tifs: FastMap<ClientOrderId, TimeInForce>,
    /// Expiration (Unix s) last sent for an order (the store does not keep it).
    expirations: FastMap<ClientOrderId, i64>,
    /// Orders with a decrease in flight (the store has no flag for it).
    pending_decreases: FastSet<ClientOrderId>,
    /// Orders cancelled before their create was answered: re-cancelled by id once it is.
    cancels_without_id: FastSet<ClientOrderId>,
    issuer: ClientOrderIdIssuer,
    accepted_writes: RateWindow,
    attempted_writes: RateWindow,
    breaches: BreachMonitor,
    business_reject_streak: u32,
    position_drifts: u32,
    clock_offset_ms: i64,
    exchange_active: bool,
    /// The earliest instant at which some market's time-driven reasons (stale book, closing
    /// soon) could change with no input touching it. A tick refreshes every market only then;
    /// otherwise it looks at the markets whose strategies run on time.
    timed_wake: Wake,
    /// What every market was last refreshed against, besides `timed_wake`.
    full_refresh: FullRefresh,
    confirmation: Option<PendingConfirmation>,
    seq: u64,
    now: Now,
    out: Outputs,
    /// Kept between inputs so collecting the touched markets does not allocate each time.
    touched_buffer: Vec<Ticker>,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Engine {
        Engine {
            issuer: ClientOrderIdIssuer::new(config.session_nonce),
            portfolio: Portfolio::new(config.day_boundary, Money::ZERO),
            config,
            books: Books::new(),
            orders: Orders::new(),
            control: Control::new(),
            markets: BTreeMap::new(),
            default_market: MarketRecord::default(),
            events: BTreeMap::new(),
            strategies: BTreeMap::new(),
            fair_values: FairValues::default(),
            last_trade: Default::default(),
            order_tifs: Default::default(),
            expirations: Default::default(),
            pending_decreases: Default::default(),
            cancels_without_id: Default::default(),
            accepted_writes: RateWindow::default(),
            attempted_writes: RateWindow::default(),
            breaches: BreachMonitor::default(),
            business_reject_streak: 0,
            position_drifts: 0,
            clock_offset_ms: 0,
            exchange_active: true,
            timed_wake: Wake::NEVER,
            full_refresh: FullRefresh::default(),
            confirmation: None,
            seq: 0,
            now: Now::default(),
            out: Outputs::default(),
            touched_buffer: Vec::new(),
        }
    }

    // ---- read-only accessors for the screen and tests ----

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }
    pub fn limits(&self) -> &RiskLimits {
        &self.config.limits
    }
    pub fn books(&self) -> &Books {
        &self.books
    }
    pub fn orders(&self) -> &Orders {
        &self.orders
    }
    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }
    pub fn control(&self) -> &Control {
        &self.control
    }
    pub fn market(&self, ticker: &str) -> Option<&MarketRecord> {
        self.markets.get(ticker)
    }
    pub fn strategy_params(&self, ticker: &str) -> Option<&StrategyParams> {
        self.strategies
            .get(ticker)
            .and_then(|slot| slot.params.as_ref())
    }

    /// Installs a strategy written in code (anything implementing [`Strategy`]) on a market,
    /// replacing its current one. Built-in strategies go through `Command::SetStrategy`.
    pub fn install_strategy(&mut self, ticker: Ticker, strategy: Box<dyn Strategy>) -> Outputs {
        let kind = strategy.kind().to_string();
        self.strategies.insert(
            ticker.clone(),
            StrategySlot {
                params: None,
                strategy,
            },
        );
        self.control.register(&ticker, &[]);
        self.audit(AuditKind::StrategySet {
            ticker,
            strategy: kind,
        });
        std::mem::take(&mut self.out)
    }

    /// The strategy kind running (or ready) on a market.
    pub fn strategy_kind(&self, ticker: &str) -> Option<&'static str> {
        self.strategies.get(ticker).map(|slot| slot.strategy.kind())
    }
    pub fn fair_values(&self) -> &FairValues {
        &self.fair_values
    }
    pub fn business_reject_streak(&self) -> u32 {
        self.business_reject_streak
    }
    pub fn last_audit_seq(&self) -> u64 {
        self.seq
    }
    pub fn is_halted(&self) -> bool {
        self.control.trading().is_halted()
    }
    /// Today's P&L (realized + change in mark at mid − fees) over every position.
    pub fn daily_pnl(&self) -> Money {
        self.portfolio
            .daily_pnl(|ticker| self.books.mid(ticker.as_str()))
            .total()
    }

    /// One input at one instant.
    pub fn handle(&mut self, input: Input, now: Now) -> Outputs {
        self.now = now;
        self.roll_day();
        let mut touched = Touched::reusing(std::mem::take(&mut self.touched_buffer));
        let mut all = false;
        let mut tick = false;
        match input {
            Input::Market(market) => self.on_market(market, &mut touched),
            Input::Private(private) => self.on_private(private, &mut touched),
            Input::Gateway(result) => self.on_gateway(result, &mut touched),
            Input::Command(command) => self.on_command(command, &mut touched),
            Input::Exchange(news) => all = self.on_exchange(news, &mut touched),
            Input::FairValue(value) => {
                touched.insert(value.ticker.clone());
                self.fair_values.update(value);
            }
            Input::ClockOffset { offset_ms } => {
                self.clock_offset_ms = offset_ms;
                all = true;
            }
            Input::Tick => tick = true,
        }
        if all || tick {
            self.expire_holds();
            self.forget_finished_orders();
        }
        let all = self.widen_scope(&mut touched, all, tick);
        let touched = touched.into_sorted();
        for ticker in &touched {
            self.refresh_reasons(ticker);
        }
        if self.is_halted() {
            if all || tick {
                self.sweep_while_halted();
            }
        } else {
            for ticker in &touched {
                self.run_market(ticker);
            }
        }
        self.evaluate_breaches();
        self.touched_buffer = touched;
        std::mem::take(&mut self.out)
    }

    /// Side tables keep entries only for open orders.
    fn forget_finished_orders(&mut self) {
        let orders = &self.orders;
        let open = |id: &ClientOrderId| orders.get(id.as_str()).is_some_and(|o| o.is_open());
        self.order_tifs.retain(|id, _| open(id));
        self.expirations.retain(|id, _| open(id));
        self.pending_decreases.retain(|id| open(id));
        self.cancels_without_id.retain(|id| open(id));
    }

    fn roll_day(&mut self) {
        let books = &self.books;
        self.portfolio
            .roll_day(self.now.wall_ms, |ticker| books.mid(ticker.as_str()));
    }

    // ---- outputs ----

    fn audit(&mut self, event: AuditKind) {
        self.seq += 1;
        self.out.audits.push(AuditEvent {
            seq: self.seq,
            mono_ns: self.now.mono_ns,
            wall_ms: self.now.wall_ms,
            event,
        });
    }

    fn alarm(&mut self, level: AlarmLevel, text: String) {
        let alarm = Alarm { level, text };
        self.out.alarms.push(alarm.clone());
        self.audit(AuditKind::Alarm(alarm));
    }

    fn emit(&mut self, origin: Origin, intent: OrderIntent) {
        self.out.intents.push(intent.clone());
        self.audit(AuditKind::IntentEmitted { origin, intent });
    }

    fn record_changes(&mut self, changes: impl IntoIterator<Item = StateChange>) {
        for change in changes {
            self.audit(AuditKind::ControlChanged {
                ticker: change.ticker,
                from: change.from,
                to: change.to,
            });
        }
    }

    // ---- automatic pause reasons ----

    fn set_reason(&mut self, ticker: &Ticker, reason: PauseReason, active: bool) {
        if let Some(change) = self.control.set_automatic(ticker, reason, active) {
            self.record_changes([change]);
        }
    }

    /// Whether the market's book is usable and fresh.
    fn book_fresh(&self, ticker: &str) -> bool {
        self.books.get(ticker).is_some_and(|book| {
            !book.is_resync_needed() && book.age_ms(self.now.mono_ns) <= self.config.stale_book_ms
        })
    }

    /// Recompute every automatic reason of one market from its causes.
    fn refresh_reasons(&mut self, ticker: &Ticker) {
        let record = self.markets.get(ticker).unwrap_or(&self.default_market);
        let market_paused = record.paused_at_exchange || !record.status.accepts_orders();
        let closing = record.close_ms.is_some_and(|close| {
            close.saturating_sub(self.now.exchange_ms())
                <= i64::try_from(self.config.closing_soon_ms).unwrap_or(i64::MAX)
        });
        let book = self.books.get(ticker.as_str());
        let resyncing = book.is_some_and(|book| book.is_resync_needed());
        let stale = !resyncing
            && book.is_none_or(|book| book.age_ms(self.now.mono_ns) > self.config.stale_book_ms);
        let fair_stale = self
            .strategies
            .get(ticker)
            .and_then(|slot| slot.strategy.external_fair_max_age_ms())
            .is_some_and(|max_age| {
                self.fair_values
                    .fresh(ticker.as_str(), self.now.wall_ms, max_age)
                    .is_none()
            });
        let cooldown = self.control.in_cancel_all_cooldown(self.now.mono_ns);
        let offset_bad = self.clock_offset_ms.abs() > MAX_CLOCK_OFFSET_MS;
        let changes = self.control.refresh_automatic(
            ticker,
            resyncing.then_some(self.now.mono_ns),
            &[
                (PauseReason::StaleBook, stale),
                (PauseReason::ExchangePause, !self.exchange_active),
                (PauseReason::MarketPause, market_paused),
                (PauseReason::ClosingSoon, closing),
                (PauseReason::FairValueStale, fair_stale),
                (PauseReason::CancelAllCooldown, cooldown),
                (PauseReason::ClockOffset, offset_bad),
            ],
        );
        self.record_changes(changes);
        self.note_timed_wake(ticker, stale, closing);
    }

    fn expire_holds(&mut self) {
        let changes = self
            .control
            .expire_holds(self.now.mono_ns, self.config.hold_limit_ms);
        self.record_changes(changes);
    }

    // ---- halts ----

    fn evaluate_breaches(&mut self) {
        if self.is_halted() {
            return;
        }
        let inputs = BreachInputs {
            daily_pnl: self.daily_pnl(),
            attempts_in_window: self
                .attempted_writes
                .count(self.now.mono_ns, self.config.limits.rate_window_ms),
            largest_position: self.portfolio.largest_position(),
            business_reject_streak: self.business_reject_streak,
        };
        if let Some(breach) = self.breaches.evaluate(&self.config.limits, &inputs) {
            let reason = format!(
                "{} (persisted {} evaluations)",
                breach.detail, breach.evaluations
            );
            self.kill(&reason);
        }
    }

    /// The kill switch, in one step: trading HALTED, every strategy disarmed, the exchange
    /// cancel-all, the order groups triggered, and every open order cancelled individually.
    fn kill(&mut self, reason: &str) {
        let halted_now = !self.is_halted();
        let changes = self
            .control
            .kill(reason, self.now.mono_ns, self.now.wall_ms);
        if halted_now {
            let state = self.control.trading().clone();
            self.audit(AuditKind::TradingChanged { state });
            self.out.halted = Some(reason.to_string());
        }
        self.record_changes(changes);
        self.emit(Origin::Operator, OrderIntent::CancelAll);
        if self.config.order_group_id.is_some() {
            self.emit(Origin::Operator, OrderIntent::TriggerOrderGroups);
        }
        let cancels = self.cancel_orders(Origin::Operator, |_| true);
        self.audit(AuditKind::Killed {
            reason: reason.to_string(),
            cancels,
        });
        self.alarm(AlarmLevel::Critical, format!("HALTED: {reason}"));
    }

    /// While halted, on every tick: cancel again whatever still rests without a cancel in
    /// flight (the exchange's cancel-all may have missed it).
    fn sweep_while_halted(&mut self) {
        self.cancel_orders(Origin::Operator, |order| {
            order.state == OrderState::Resting && !order.cancel_acked
        });
    }

    /// Emits a cancel for every open order matching `filter` that has no cancel in flight, in
    /// `client_order_id` order. Returns how many.
    fn cancel_orders(&mut self, origin: Origin, filter: impl Fn(&Order) -> bool) -> usize {
        let mut targets: Vec<&Order> = self
            .orders
            .open_orders()
            .filter(|order| !order.cancel_requested && filter(order))
            .collect();
        targets.sort_by(|a, b| a.client_order_id.cmp(&b.client_order_id));
        let targets: Vec<Order> = targets.into_iter().cloned().collect();
        let count = targets.len();
        for order in targets {
            self.cancel_order(origin.clone(), &order);
        }
        count
    }

    fn cancel_order(&mut self, origin: Origin, order: &Order) {
        if self
            .orders
            .cancel_requested(order.client_order_id.as_str())
            .is_err()
        {
            return;
        }
        if order.order_id.is_none() {
            self.cancels_without_id
                .insert(order.client_order_id.clone());
        }
        self.emit(
            origin,
            OrderIntent::Cancel {
                order_id: order.order_id.clone(),
                client_order_id: order.current_client_order_id.clone(),
                ticker: order.ticker.clone(),
            },
        );
    }
}

#[cfg(test)]
mod tests;
