//! Paper trading: live market data (Kalshi or the simulator) drives the engine; its orders are
//! filled locally by [`crate::core::fill_model`] and never sent to the exchange. Records go to
//! the journal as `Mode::Paper`, apart from live ones.
//!
//! This is an adapter around the engine and the websocket client, built so it does not depend
//! on the live desk's wiring: the runtime's gateway seam (src/runtime/desk.rs) does not yet
//! take a local fill model, so paper runs its own loop here. Only market channels are
//! subscribed: no account stream, no REST writes — there is no code path to the exchange's
//! order endpoints in this module.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::core::book::PriceConvention;
use crate::core::engine::{
    AuditKind, Command, EngineConfig, Input, MarketInfo, MarketInput, OrderIntent,
};
use crate::core::market::Ticker;
use crate::core::num::Money;
use crate::core::portfolio::fees::FeeSchedule;
use crate::core::strategy::StrategyParams;
use crate::kalshi::auth::Signer;
use crate::kalshi::ws::BookUpdate;
use crate::kalshi::ws::{Channel, MarketEvent, ResyncCause, WsClient, WsConfig};
use crate::replay::feed::{self, Decoded};
use crate::replay::session::{Session, SessionConfig};
use crate::runtime::clock;
use crate::runtime::metrics::DeskMetrics;
use crate::store::journal::{Journal, JournalError, JournalRecord, Mode};

#[derive(Debug, thiserror::Error)]
pub enum PaperError {
    #[error("paper journal: {0}")]
    Journal(#[from] JournalError),
}

/// Everything a paper session starts with.
#[derive(Debug, Clone)]
pub struct PaperConfig {
    pub ws_url: String,
    pub markets: Vec<Ticker>,
    pub infos: Vec<MarketInfo>,
    pub fees: Vec<(Ticker, FeeSchedule)>,
    pub strategies: Vec<(Ticker, StrategyParams)>,
    pub engine: EngineConfig,
    pub latency_ms: i64,
    pub starting_cash: Money,
    pub journal: Option<PathBuf>,
    pub tick_ms: u64,
    pub status_every_ms: u64,
}

/// What the screen shows once a second.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaperStatus {
    pub market_events: u64,
    pub orders: u64,
    pub fills: u64,
    pub resting: usize,
    /// P&L net of fees, open positions at mid.
    pub pnl: Money,
    pub fees: Money,
    pub halted: Option<String>,
}

impl PaperStatus {
    /// The status line; PAPER leads it so it is never mistaken for live trading.
    pub fn line(&self) -> String {
        format!(
            "PAPER (simulated fills, nothing sent to the exchange) | events {} | orders {} | fills {} | resting {} | P&L {} | fees {}{}",
            self.market_events,
            self.orders,
            self.fills,
            self.resting,
            self.pnl.to_dollars(),
            self.fees.to_dollars(),
            self.halted
                .as_deref()
                .map(|r| format!(" | HALTED: {r}"))
                .unwrap_or_default()
        )
    }
}

/// Run until `stop` resolves; `on_status` is called every `status_every_ms`.
pub async fn run(
    config: PaperConfig,
    signer: Signer,
    metrics: Option<Arc<DeskMetrics>>,
    stop: impl std::future::Future<Output = ()>,
    mut on_status: impl FnMut(&PaperStatus),
) -> Result<PaperStatus, PaperError> {
    let mut journal = match &config.journal {
        Some(path) => Some(Journal::open(path)?),
        None => None,
    };
    let mut ws_config = WsConfig::new(config.ws_url.clone(), signer);
    ws_config.markets = config.markets.clone();
    ws_config.channels = vec![
        Channel::OrderbookDelta,
        Channel::Ticker,
        Channel::Trade,
        Channel::MarketLifecycleV2,
    ];
    let mut client = WsClient::spawn(ws_config);
    let now = clock::now(0);
    let mut session = Session::new(
        SessionConfig {
            engine: config.engine.clone(),
            latency_ms: config.latency_ms,
            starting_cash: config.starting_cash,
            id_prefix: "paper".into(),
        },
        now,
    );
    for (ticker, fees) in &config.fees {
        session.set_fees(ticker, *fees);
    }
    for info in &config.infos {
        session.input(Input::Market(MarketInput::Info(info.clone())), now);
    }
    for (ticker, params) in &config.strategies {
        session.command(
            Command::SetStrategy {
                ticker: ticker.clone(),
                params: params.clone(),
            },
            now,
        );
        session.command(
            Command::Arm {
                ticker: ticker.clone(),
            },
            now,
        );
    }
    let mut status = PaperStatus::default();
    let mut pending_records = Vec::new();
    let mut ticks = tokio::time::interval(Duration::from_millis(config.tick_ms.max(10)));
    let mut reports = tokio::time::interval(Duration::from_millis(config.status_every_ms.max(50)));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            event = client.market.recv() => {
                let Some(event) = event else { break };
                status.market_events += 1;
                if let Some(metrics) = &metrics {
                    metrics.feed_messages.inc();
                    match &event {
                        MarketEvent::ResyncStarted { .. } => { metrics.feed_resyncs.inc(); }
                        MarketEvent::Connected { .. } => { metrics.feed_reconnects.inc(); }
                        _ => {}
                    }
                }
                let now = clock::now(0);
                let decoded = event_inputs(&event);
                for input in decoded.inputs {
                    session.input(input, now);
                }
                for (ticker, result) in decoded.settlements {
                    session.settle(&ticker, result, now);
                }
            }
            _ = ticks.tick() => {
                session.input(Input::Tick, clock::now(0));
            }
            _ = reports.tick() => {
                refresh(&session, &mut status);
                if let Some(metrics) = &metrics {
                    metrics.realized_pnl_micros.set(status.pnl.micros());
                    metrics.trading_halted.set(i64::from(status.halted.is_some()));
                }
                if let Some(journal) = journal.as_mut() && !pending_records.is_empty() {
                    journal.append(&pending_records)?;
                    pending_records.clear();
                }
                on_status(&status);
            }
        }
        for audit in session.take_audits() {
            match &audit.event {
                AuditKind::IntentEmitted {
                    intent: OrderIntent::Place { .. },
                    ..
                } => {
                    status.orders += 1;
                    if let Some(metrics) = &metrics {
                        metrics.orders_placed.inc();
                    }
                }
                AuditKind::Fill { .. } => {
                    status.fills += 1;
                    if let Some(metrics) = &metrics {
                        metrics.fills.inc();
                    }
                }
                AuditKind::OrderRejected { code, .. } => {
                    if let Some(metrics) = &metrics {
                        metrics.rejected(code);
                    }
                }
                _ => {}
            }
            if journal.is_some() {
                pending_records.push(journal_record(&audit));
            }
        }
    }
    let _ = client.handle.shutdown().await;
    refresh(&session, &mut status);
    if let Some(journal) = journal.as_mut()
        && !pending_records.is_empty()
    {
        journal.append(&pending_records)?;
    }
    Ok(status)
}

fn refresh(session: &Session, status: &mut PaperStatus) {
    status.resting = session.model().resting_count();
    status.pnl = session.ledger().total_pnl();
    status.fees = session
        .ledger()
        .markets
        .values()
        .fold(Money::ZERO, |sum, m| sum.saturating_add(m.fees));
    status.halted = session.halted().map(str::to_string);
}

/// A paper journal record for an audit (`kind` is the audit's kind).
pub fn journal_record(audit: &crate::core::engine::AuditEvent) -> JournalRecord {
    let payload = serde_json::to_value(&audit.event).unwrap_or(serde_json::Value::Null);
    let kind = payload
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or("audit")
        .to_string();
    let mut record = JournalRecord::new(audit.wall_ms, Mode::Paper, &kind, payload);
    if let AuditKind::Fill {
        trade_id, ticker, ..
    } = &audit.event
    {
        record.trade_id = Some(trade_id.as_str().to_string());
        record.ticker = Some(ticker.as_str().to_string());
    }
    record
}

/// What a live market event means for the engine (the same conversions the tape replay uses).
pub fn event_inputs(event: &MarketEvent) -> Decoded {
    let mut out = Decoded::default();
    let convention = PriceConvention::NoPrices;
    match event {
        MarketEvent::Book { update, .. } => out.inputs.push(match update {
            BookUpdate::Snapshot(snapshot) => feed::snapshot_input(snapshot, convention),
            BookUpdate::Delta(delta) => feed::delta_input(delta, convention),
        }),
        MarketEvent::Ticker(ticker) => out.inputs.push(feed::ticker_input(ticker)),
        MarketEvent::Trade(trade) => out.inputs.extend(feed::trade_input(trade)),
        MarketEvent::MarketLifecycle(lifecycle) => feed::lifecycle_inputs(lifecycle, &mut out),
        MarketEvent::ResyncStarted { tickers, cause } if *cause != ResyncCause::Reconnect => {
            out.inputs.push(Input::Market(MarketInput::ResyncNeeded {
                tickers: tickers.clone(),
            }));
        }
        MarketEvent::MarketDataDropped { tickers } => {
            out.inputs.push(Input::Market(MarketInput::ResyncNeeded {
                tickers: tickers.clone(),
            }));
        }
        _ => {}
    }
    out
}
