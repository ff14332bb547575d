//! The conflated picture of the desk the screen draws from: built by the engine task from its
//! own state at most every `snapshot_every`, only when something changed, and published on a
//! `watch` channel (a slow reader simply sees the newest one).

use crate::core::book::Level;
use crate::core::control::{MarketState, PauseReason, TradingState};
use crate::core::engine::Engine;
use crate::core::market::Ticker;
use crate::core::num::Money;
use crate::core::order::Order;
use crate::core::portfolio::Position;

/// One market row: book top-N, control state, position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MarketView {
    pub ticker: Ticker,
    pub state: MarketState,
    /// The automatic and operator pause reasons currently set (also when not armed).
    pub reasons: Vec<PauseReason>,
    /// Best first.
    pub yes_bids: Vec<Level>,
    /// YES asks derived from NO bids, best (lowest) first.
    pub yes_asks: Vec<Level>,
    /// Age of the book (ms since its last update); `None` without a book.
    pub book_age_ms: Option<u64>,
    pub resyncing: bool,
    pub position: Position,
    pub strategy: Option<&'static str>,
}

/// Daily P&L summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PnlView {
    pub realized: Money,
    pub unrealized: Money,
    pub daily: Money,
    pub fees: Money,
}

/// Feed, REST and clock health.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    pub connected: bool,
    pub reconnects: u64,
    pub resyncs: u64,
    pub gaps: u64,
    pub ws_frames: u64,
    /// Receive wall time − message `ts_ms`, over the last samples.
    pub feed_lag_p50_ms: Option<i64>,
    pub feed_lag_p99_ms: Option<i64>,
    /// Exchange clock − our wall clock, as estimated from `ts_ms`.
    pub clock_offset_ms: i64,
    pub rejects: u64,
    pub business_reject_streak: u32,
    pub read_tokens: u32,
    pub read_capacity: u32,
    pub write_tokens: u32,
    pub write_capacity: u32,
    pub cancels_waiting: usize,
    pub writes_in_flight: u64,
    pub last_reconcile_wall_ms: Option<i64>,
    pub reconcile_failures: u64,
    pub journal_dropped: u64,
    pub exchange_trading_active: Option<bool>,
}

/// Where the kill sequence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KillPhase {
    /// No kill since start (or since the last reset).
    Idle,
    /// Cancels sent; sweeping until a read of the exchange shows nothing resting.
    Sweeping,
    /// The exchange could not be reached: runs first on reconnect.
    Pending,
    /// Flat: no write in flight, no unknown order, a read newer than the last write shows no
    /// resting order.
    Flat,
    /// Sweeps exhausted with orders still resting: an alarm was raised.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KillProgress {
    pub phase: KillPhase,
    pub reason: Option<String>,
    pub started_wall_ms: Option<i64>,
    /// Our orders still open (resting, pending or unknown) as the engine knows them.
    pub cancels_pending: usize,
    /// Resting orders the last exchange read showed.
    pub exchange_resting: Option<usize>,
    pub sweeps: u32,
    pub time_to_flat_ms: Option<u64>,
}

impl Default for KillProgress {
    fn default() -> KillProgress {
        KillProgress {
            phase: KillPhase::Idle,
            reason: None,
            started_wall_ms: None,
            cancels_pending: 0,
            exchange_resting: None,
            sweeps: 0,
            time_to_flat_ms: None,
        }
    }
}

/// Everything the screen shows, at one instant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeskSnapshot {
    /// Increases with every snapshot published.
    pub version: u64,
    pub wall_ms: i64,
    /// The audit `seq` this snapshot includes (audits above it come later on the stream).
    pub last_audit_seq: u64,
    pub trading: TradingState,
    pub markets: Vec<MarketView>,
    /// Open and unknown orders (ours and the operator's), by `client_order_id`.
    pub orders: Vec<Order>,
    pub pnl: PnlView,
    pub balance: Option<Money>,
    pub health: Health,
    pub kill: KillProgress,
}

impl DeskSnapshot {
    /// An empty snapshot (before the engine task publishes its first).
    pub fn empty() -> DeskSnapshot {
        DeskSnapshot {
            version: 0,
            wall_ms: 0,
            last_audit_seq: 0,
            trading: TradingState::Active,
            markets: Vec::new(),
            orders: Vec::new(),
            pnl: PnlView::default(),
            balance: None,
            health: Health::default(),
            kill: KillProgress::default(),
        }
    }

    pub fn market(&self, ticker: &str) -> Option<&MarketView> {
        self.markets.iter().find(|m| m.ticker.as_str() == ticker)
    }

    /// Open orders of one market.
    pub fn orders_in<'a>(&'a self, ticker: &'a str) -> impl Iterator<Item = &'a Order> + 'a {
        self.orders
            .iter()
            .filter(move |o| o.ticker.as_str() == ticker)
    }
}

/// Build the engine-owned part of a snapshot (health and kill progress are filled by the task).
pub fn build(engine: &Engine, markets: &[Ticker], depth: usize, mono_ns: u64) -> DeskSnapshot {
    let mut tickers: Vec<Ticker> = markets.to_vec();
    // Off the watchlist, a market still shows while the operator has something there: a
    // strategy, a state other than DISARMED, or an open order (positions follow below).
    for (ticker, control) in engine.control().markets() {
        let in_use = control.state() != MarketState::Disarmed
            || engine.strategy_kind(ticker.as_str()).is_some()
            || engine.orders().open_orders().any(|o| o.ticker == *ticker);
        if in_use && !tickers.contains(ticker) {
            tickers.push(ticker.clone());
        }
    }
    for position in engine.portfolio().positions() {
        if !tickers.contains(&position.ticker) {
            tickers.push(position.ticker.clone());
        }
    }
    let markets = tickers
        .into_iter()
        .map(|ticker| {
            let control = engine.control().market(&ticker);
            let book = engine.books().get(ticker.as_str());
            MarketView {
                state: control.state(),
                reasons: control.reasons.iter().copied().collect(),
                yes_bids: book
                    .map(|b| b.yes_bids().take(depth).collect())
                    .unwrap_or_default(),
                yes_asks: book
                    .map(|b| b.yes_asks().take(depth).collect())
                    .unwrap_or_default(),
                book_age_ms: book.map(|b| b.age_ms(mono_ns)),
                resyncing: book.is_some_and(|b| b.is_resync_needed()),
                position: engine
                    .portfolio()
                    .position(ticker.as_str())
                    .cloned()
                    .unwrap_or_else(|| Position::new(ticker.clone())),
                strategy: engine.strategy_kind(ticker.as_str()),
                ticker,
            }
        })
        .collect();
    let mut orders: Vec<Order> = engine.orders().open_orders().cloned().collect();
    orders.extend(engine.orders().unknown_orders().cloned());
    orders.sort_by(|a, b| a.client_order_id.cmp(&b.client_order_id));
    orders.dedup_by(|a, b| a.client_order_id == b.client_order_id);
    let realized = engine.portfolio().realized_net_of_fees();
    let fees = engine.portfolio().fees_paid();
    DeskSnapshot {
        version: 0,
        wall_ms: 0,
        last_audit_seq: engine.last_audit_seq(),
        trading: engine.control().trading().clone(),
        markets,
        orders,
        pnl: PnlView {
            realized,
            unrealized: engine
                .portfolio()
                .unrealized_at_mid(|t| engine.books().mid(t.as_str())),
            daily: engine.daily_pnl(),
            fees,
        },
        balance: Some(engine.portfolio().available_balance()),
        health: Health::default(),
        kill: KillProgress::default(),
    }
}
