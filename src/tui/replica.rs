//! The screen's copy of the desk: the newest conflated snapshot plus what only the ordered audit
//! stream tells (fills for the tape, strategy actions and refusals, the log, alerts) and short
//! histories for the charts. Rebuilt from messages; never shares state with the engine.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::core::engine::{AlarmLevel, AuditEvent, AuditKind, OrderIntent, Origin};
use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};
use crate::core::risk::Side;
use crate::runtime::snapshot::{DeskSnapshot, MarketView};

/// Samples kept per chart.
pub const HISTORY: usize = 240;
/// Lines kept in the log pane and fills in the tape.
pub const LOG_LINES: usize = 500;

/// Reference data about a market, from the exchange's market list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MarketMeta {
    pub ticker: String,
    pub event_ticker: String,
    pub title: String,
    pub yes_subtitle: String,
    /// Open, closed, … as the exchange says.
    pub status: String,
    pub close_ms: Option<i64>,
    pub last_price: Option<Price>,
    pub volume_24h: Count,
    pub rules: String,
}

/// One print in the trades tape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeRow {
    pub wall_ms: i64,
    pub ticker: Ticker,
    pub yes_price: Price,
    pub count: Count,
    /// The taker's side for market trades; ours for fills.
    pub side: Side,
    pub ours: bool,
}

/// A line of the log pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub wall_ms: i64,
    pub level: LogLevel,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// What the strategies panel knows about one market beyond the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StrategyActivity {
    pub last_action: Option<String>,
    pub last_action_ms: Option<i64>,
    pub refusals: u64,
    pub last_refusal: Option<String>,
}

/// REST round trips of one endpoint, for the health panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestRow {
    pub endpoint: String,
    pub requests: u64,
    pub failures: u64,
    pub mean_us: u64,
    pub max_us: u64,
}

/// Something worth a notice (and maybe the bell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub level: LogLevel,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Replica {
    pub snapshot: Arc<DeskSnapshot>,
    pub catalog: BTreeMap<String, MarketMeta>,
    /// Mid (or the one side there is) per market, one sample per snapshot that changed it.
    pub mids: BTreeMap<Ticker, VecDeque<i64>>,
    /// Daily P&L (micro-dollars), one sample per snapshot.
    pub pnl_history: VecDeque<i64>,
    pub tape: VecDeque<TapeRow>,
    pub log: VecDeque<LogLine>,
    pub strategies: BTreeMap<Ticker, StrategyActivity>,
    pub rest: Vec<RestRow>,
    pub last_audit_seq: u64,
    /// Audits were lost (a slow screen): the snapshot is the truth until the next one.
    pub audits_lagged: u64,
    /// Last connection state seen, to alert on changes.
    connected: Option<bool>,
    /// The feed has been up at least once: only then is coming up again a *re*connection.
    ever_connected: bool,
}

impl Default for Replica {
    fn default() -> Replica {
        Replica::new(Arc::new(DeskSnapshot::empty()))
    }
}

impl Replica {
    pub fn new(snapshot: Arc<DeskSnapshot>) -> Replica {
        Replica {
            snapshot,
            catalog: BTreeMap::new(),
            mids: BTreeMap::new(),
            pnl_history: VecDeque::new(),
            tape: VecDeque::new(),
            log: VecDeque::new(),
            strategies: BTreeMap::new(),
            rest: Vec::new(),
            last_audit_seq: 0,
            audits_lagged: 0,
            connected: None,
            ever_connected: false,
        }
    }

    pub fn market(&self, ticker: &str) -> Option<&MarketView> {
        self.snapshot.market(ticker)
    }

    pub fn meta(&self, ticker: &str) -> Option<&MarketMeta> {
        self.catalog.get(ticker)
    }

    /// Take a newer snapshot; returns the alerts it implies (disconnects, halts).
    pub fn apply_snapshot(&mut self, snapshot: Arc<DeskSnapshot>) -> Vec<Alert> {
        let mut alerts = Vec::new();
        if snapshot.version != 0 && snapshot.version < self.snapshot.version {
            return alerts;
        }
        let connected = snapshot.health.connected;
        if self.connected == Some(true) && !connected {
            alerts.push(self.note(snapshot.wall_ms, LogLevel::Warn, "feed disconnected".into()));
        } else if self.connected == Some(false) && connected {
            if self.ever_connected {
                alerts.push(self.note(snapshot.wall_ms, LogLevel::Info, "feed reconnected".into()));
            } else {
                self.log_line(snapshot.wall_ms, LogLevel::Info, "feed connected".into());
            }
        }
        if connected {
            self.ever_connected = true;
        }
        if snapshot.version != 0 {
            self.connected = Some(connected);
        }
        for market in &snapshot.markets {
            if let Some(mid) = mid_of(market) {
                let series = self.mids.entry(market.ticker.clone()).or_default();
                if series.back() != Some(&mid) {
                    push_capped(series, mid, HISTORY);
                }
            }
        }
        if snapshot.version != self.snapshot.version {
            let daily = snapshot.pnl.daily.micros();
            push_capped(&mut self.pnl_history, daily, HISTORY);
        }
        self.snapshot = snapshot;
        alerts
    }

    pub fn apply_catalog(&mut self, markets: Vec<MarketMeta>) {
        for meta in markets {
            self.catalog.insert(meta.ticker.clone(), meta);
        }
    }

    /// Market trades for the tape (newest last), deduplicated against what is there.
    pub fn apply_trades(&mut self, trades: Vec<TapeRow>) {
        for trade in trades {
            if !self.tape.contains(&trade) {
                push_capped(&mut self.tape, trade, LOG_LINES);
            }
        }
    }

    /// Apply one audit in order; returns the alerts it raises.
    pub fn apply_audit(&mut self, audit: &AuditEvent) -> Vec<Alert> {
        if audit.seq <= self.last_audit_seq && audit.seq != 0 {
            return Vec::new();
        }
        self.last_audit_seq = audit.seq;
        let at = audit.wall_ms;
        let mut alerts = Vec::new();
        match &audit.event {
            AuditKind::IntentEmitted { origin, intent } => {
                let text = describe_intent(intent);
                if let (Origin::Strategy, Some(ticker)) = (origin, intent_ticker(intent)) {
                    let activity = self.strategies.entry(ticker.clone()).or_default();
                    activity.last_action = Some(text.clone());
                    activity.last_action_ms = Some(at);
                } else {
                    self.log_line(at, LogLevel::Info, format!("{origin:?}: {text}"));
                }
            }
            AuditKind::OrderRefused {
                origin,
                ticker,
                refusal,
            } => {
                let text = format!("{ticker}: refused ({origin:?}): {refusal}");
                if *origin == Origin::Strategy {
                    let activity = self.strategies.entry(ticker.clone()).or_default();
                    activity.refusals += 1;
                    activity.last_refusal = Some(refusal.to_string());
                    self.log_line(at, LogLevel::Warn, text);
                } else {
                    alerts.push(self.note(at, LogLevel::Warn, text));
                }
            }
            AuditKind::CommandRefused { command, reason } => {
                alerts.push(self.note(at, LogLevel::Warn, format!("{command} refused: {reason}")));
            }
            AuditKind::ControlChanged { ticker, from, to } => {
                self.log_line(
                    at,
                    LogLevel::Info,
                    format!("{ticker}: {} → {}", from.badge(), to.badge()),
                );
            }
            AuditKind::TradingChanged { state } => {
                let text = match state {
                    crate::core::control::TradingState::Active => "trading ACTIVE".to_string(),
                    crate::core::control::TradingState::Halted { reason, .. } => {
                        format!("HALTED: {reason}")
                    }
                };
                let level = if state.is_halted() {
                    LogLevel::Error
                } else {
                    LogLevel::Info
                };
                alerts.push(self.note(at, level, text));
            }
            AuditKind::Killed { reason, cancels } => {
                alerts.push(self.note(
                    at,
                    LogLevel::Error,
                    format!("KILL: {reason} ({cancels} cancels sent)"),
                ));
            }
            AuditKind::ConfirmationIssued { action, .. } => {
                self.log_line(
                    at,
                    LogLevel::Info,
                    format!("confirmation issued: {action:?}"),
                );
            }
            AuditKind::OrderAcked {
                client_order_id, ..
            } => {
                self.log_line(at, LogLevel::Info, format!("acked {client_order_id}"));
            }
            AuditKind::OrderRejected {
                client_order_id,
                code,
                business,
            } => {
                let level = if *business {
                    LogLevel::Warn
                } else {
                    LogLevel::Info
                };
                let text = format!("rejected {client_order_id}: {code}");
                if *business {
                    alerts.push(self.note(at, level, text));
                } else {
                    self.log_line(at, level, text);
                }
            }
            AuditKind::OrderCanceled {
                client_order_id,
                reduced_by,
            } => {
                self.log_line(
                    at,
                    LogLevel::Info,
                    format!(
                        "canceled {client_order_id} (-{})",
                        crate::tui::fmt::count(*reduced_by)
                    ),
                );
            }
            AuditKind::OrderUnknown { client_order_id } => {
                alerts.push(self.note(
                    at,
                    LogLevel::Warn,
                    format!("order {client_order_id} state UNKNOWN: writes in its market wait"),
                ));
            }
            AuditKind::UnknownResolved {
                client_order_id,
                found,
            } => {
                self.log_line(
                    at,
                    LogLevel::Info,
                    format!("resolved {client_order_id} (found: {found})"),
                );
            }
            AuditKind::Fill {
                ticker,
                side,
                yes_price,
                count,
                fee_cost,
                position,
                ..
            } => {
                push_capped(
                    &mut self.tape,
                    TapeRow {
                        wall_ms: at,
                        ticker: ticker.clone(),
                        yes_price: *yes_price,
                        count: *count,
                        side: *side,
                        ours: true,
                    },
                    LOG_LINES,
                );
                alerts.push(self.note(
                    at,
                    LogLevel::Info,
                    format!(
                        "FILL {ticker} {} {} @ {} (fee {}) → position {}",
                        side_word(*side),
                        crate::tui::fmt::count(*count),
                        crate::tui::fmt::price(*yes_price),
                        crate::tui::fmt::money(*fee_cost),
                        crate::tui::fmt::signed_count(*position)
                    ),
                ));
            }
            AuditKind::DuplicateFill { trade_id } => {
                self.log_line(
                    at,
                    LogLevel::Info,
                    format!("duplicate fill {trade_id:?} ignored"),
                );
            }
            AuditKind::PositionDrift {
                ticker,
                ours,
                exchange,
            } => {
                alerts.push(self.note(
                    at,
                    LogLevel::Warn,
                    format!(
                        "{ticker}: position drift (ours {}, exchange {})",
                        crate::tui::fmt::signed_count(*ours),
                        crate::tui::fmt::signed_count(*exchange)
                    ),
                ));
            }
            AuditKind::StrategySet { ticker, strategy } => {
                self.log_line(
                    at,
                    LogLevel::Info,
                    format!("{ticker}: strategy {strategy} set"),
                );
            }
            AuditKind::Alarm(alarm) => {
                let level = match alarm.level {
                    AlarmLevel::Warning => LogLevel::Warn,
                    AlarmLevel::Critical => LogLevel::Error,
                };
                alerts.push(self.note(at, level, alarm.text.clone()));
            }
            // Settlements and anything newer: shown as the engine describes them.
            #[allow(unreachable_patterns)]
            other => alerts.push(self.note(at, LogLevel::Info, format!("{other:?}"))),
        }
        alerts
    }

    pub fn log_line(&mut self, wall_ms: i64, level: LogLevel, text: String) {
        push_capped(
            &mut self.log,
            LogLine {
                wall_ms,
                level,
                text,
            },
            LOG_LINES,
        );
    }

    fn note(&mut self, wall_ms: i64, level: LogLevel, text: String) -> Alert {
        self.log_line(wall_ms, level, text.clone());
        Alert { level, text }
    }

    /// Markets any row names: the snapshot's, then the catalogue's (sorted by ticker).
    pub fn known_tickers(&self) -> Vec<Ticker> {
        let mut tickers: Vec<Ticker> = self
            .snapshot
            .markets
            .iter()
            .map(|m| m.ticker.clone())
            .collect();
        for ticker in self.catalog.keys() {
            if !tickers.iter().any(|t| t.as_str() == ticker) {
                tickers.push(Ticker::from(ticker.as_str()));
            }
        }
        tickers
    }

    /// Daily P&L against the loss limit: the fraction of headroom left (1.0 = untouched).
    pub fn loss_headroom(&self, max_daily_loss: Money) -> f64 {
        let limit = max_daily_loss.micros();
        if limit <= 0 {
            return 1.0;
        }
        let loss = (-self.snapshot.pnl.daily.micros()).max(0);
        let left = (limit - loss).max(0);
        // Display-only ratio for the gauge; money itself stays integral.
        left as f64 / limit as f64
    }
}

/// Mid of the book (or the side there is), in micro-dollars.
pub fn mid_of(market: &MarketView) -> Option<i64> {
    match (market.yes_bids.first(), market.yes_asks.first()) {
        (Some(bid), Some(ask)) => Some((bid.price.micros() + ask.price.micros()) / 2),
        (Some(bid), None) => Some(bid.price.micros()),
        (None, Some(ask)) => Some(ask.price.micros()),
        (None, None) => None,
    }
}

pub fn side_word(side: Side) -> &'static str {
    match side {
        Side::Bid => "BUY YES",
        Side::Ask => "SELL YES",
    }
}

fn intent_ticker(intent: &OrderIntent) -> Option<&Ticker> {
    match intent {
        OrderIntent::Place { ticker, .. }
        | OrderIntent::Amend { ticker, .. }
        | OrderIntent::Decrease { ticker, .. }
        | OrderIntent::Cancel { ticker, .. } => Some(ticker),
        OrderIntent::CancelAll | OrderIntent::TriggerOrderGroups => None,
    }
}

fn describe_intent(intent: &OrderIntent) -> String {
    use crate::tui::fmt::{count, price};
    match intent {
        OrderIntent::Place {
            ticker,
            side,
            price: p,
            count: c,
            ..
        } => format!(
            "place {ticker} {} {} @ {}",
            side_word(*side),
            count(*c),
            price(*p)
        ),
        OrderIntent::Amend {
            ticker,
            price: p,
            count: c,
            ..
        } => format!("amend {ticker} → {} @ {}", count(*c), price(*p)),
        OrderIntent::Decrease {
            ticker, reduce_to, ..
        } => format!("decrease {ticker} → {}", count(*reduce_to)),
        OrderIntent::Cancel { ticker, .. } => format!("cancel in {ticker}"),
        OrderIntent::CancelAll => "cancel-all at the exchange".to_string(),
        OrderIntent::TriggerOrderGroups => "trigger order groups".to_string(),
    }
}

fn push_capped<T>(queue: &mut VecDeque<T>, item: T, cap: usize) {
    if queue.len() == cap {
        queue.pop_front();
    }
    queue.push_back(item);
}
