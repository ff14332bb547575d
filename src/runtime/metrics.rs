//! Prometheus metrics (`--metrics 127.0.0.1:9184`): feed health, orders, fills, P&L, trading
//! state, rate-limit budget and the last kill's time to flat. Updating a metric is an atomic
//! operation; the HTTP endpoint encodes on request. Money is exported in integer micro-dollars
//! (exact, like everything else here).
//!
//! A running desk is observed, never slowed: [`feed_from_desk`] follows its published snapshots
//! (feed lag, P&L, trading state, kill progress), its audit stream (orders, refusals, rejects,
//! fills) and, on a short timer, the websocket client's and rate limiter's own counters (feed
//! messages, gaps, resyncs, reconnects, budget), so the engine's hot path does no metrics work.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::core::control::TradingState;
use crate::core::engine::{AuditEvent, AuditKind, OrderIntent};
use crate::runtime::desk::{DeskHandle, DeskSnapshot};

type Labels = Vec<(String, String)>;

/// Every metric the desk exports.
pub struct DeskMetrics {
    registry: Registry,
    pub feed_messages: Counter,
    pub feed_lag_p50_ms: Gauge,
    pub feed_lag_p99_ms: Gauge,
    pub feed_resyncs: Counter,
    pub feed_reconnects: Counter,
    pub feed_gaps: Counter,
    pub orders_placed: Counter,
    pub orders_refused: Family<Labels, Counter>,
    pub orders_rejected: Family<Labels, Counter>,
    pub fills: Counter,
    pub daily_pnl_micros: Gauge,
    pub realized_pnl_micros: Gauge,
    pub unrealized_pnl_micros: Gauge,
    pub trading_halted: Gauge,
    pub ratelimit_available: Family<Labels, Gauge>,
    pub last_kill_time_to_flat_ms: Gauge,
    pub paper: Gauge,
    pub recording: Gauge,
}

impl Default for DeskMetrics {
    fn default() -> DeskMetrics {
        DeskMetrics::new()
    }
}

impl DeskMetrics {
    pub fn new() -> DeskMetrics {
        let mut registry = Registry::with_prefix("kdesk");
        let metrics = DeskMetrics {
            feed_messages: Counter::default(),
            feed_lag_p50_ms: Gauge::default(),
            feed_lag_p99_ms: Gauge::default(),
            feed_resyncs: Counter::default(),
            feed_reconnects: Counter::default(),
            feed_gaps: Counter::default(),
            orders_placed: Counter::default(),
            orders_refused: Family::default(),
            orders_rejected: Family::default(),
            fills: Counter::default(),
            daily_pnl_micros: Gauge::default(),
            realized_pnl_micros: Gauge::default(),
            unrealized_pnl_micros: Gauge::default(),
            trading_halted: Gauge::default(),
            ratelimit_available: Family::default(),
            last_kill_time_to_flat_ms: Gauge::default(),
            paper: Gauge::default(),
            recording: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "feed_messages",
            "Websocket messages received",
            metrics.feed_messages.clone(),
        );
        registry.register(
            "feed_lag_p50_ms",
            "Receive time minus the exchange's ts_ms, median of recent messages, ms",
            metrics.feed_lag_p50_ms.clone(),
        );
        registry.register(
            "feed_lag_p99_ms",
            "Receive time minus the exchange's ts_ms, 99th percentile of recent messages, ms",
            metrics.feed_lag_p99_ms.clone(),
        );
        registry.register(
            "feed_resyncs",
            "Order books resynced after a gap or inconsistency",
            metrics.feed_resyncs.clone(),
        );
        registry.register(
            "feed_reconnects",
            "Websocket reconnects",
            metrics.feed_reconnects.clone(),
        );
        registry.register(
            "feed_gaps",
            "Sequence gaps in book subscriptions",
            metrics.feed_gaps.clone(),
        );
        registry.register(
            "orders_placed",
            "Orders sent to the exchange (the local paper exchange in paper mode)",
            metrics.orders_placed.clone(),
        );
        registry.register(
            "orders_refused",
            "Orders refused by the desk's risk gate, by rule",
            metrics.orders_refused.clone(),
        );
        registry.register(
            "orders_rejected",
            "Orders rejected by the exchange, by error code",
            metrics.orders_rejected.clone(),
        );
        registry.register("fills", "Fills received", metrics.fills.clone());
        registry.register(
            "daily_pnl_micro_dollars",
            "Today's P&L (realized + marked), micro-dollars",
            metrics.daily_pnl_micros.clone(),
        );
        registry.register(
            "realized_pnl_micro_dollars",
            "Realized P&L, micro-dollars",
            metrics.realized_pnl_micros.clone(),
        );
        registry.register(
            "unrealized_pnl_micro_dollars",
            "Unrealized P&L at the exit price, micro-dollars",
            metrics.unrealized_pnl_micros.clone(),
        );
        registry.register(
            "trading_halted",
            "1 while trading is HALTED",
            metrics.trading_halted.clone(),
        );
        registry.register(
            "ratelimit_available_tokens",
            "Rate-limit tokens available, by bucket",
            metrics.ratelimit_available.clone(),
        );
        registry.register(
            "last_kill_time_to_flat_ms",
            "Time from the last kill to flat at the exchange, ms",
            metrics.last_kill_time_to_flat_ms.clone(),
        );
        registry.register(
            "paper",
            "1 while the desk paper-trades (no order reaches the exchange)",
            metrics.paper.clone(),
        );
        registry.register(
            "recording",
            "1 while the desk records its feed into a tape",
            metrics.recording.clone(),
        );
        DeskMetrics {
            registry,
            ..metrics
        }
    }

    pub fn refused(&self, rule: &str) {
        self.orders_refused
            .get_or_create(&vec![("rule".into(), rule.into())])
            .inc();
    }

    pub fn rejected(&self, code: &str) {
        self.orders_rejected
            .get_or_create(&vec![("code".into(), code.into())])
            .inc();
    }

    pub fn set_budget(&self, bucket: &str, tokens: i64) {
        self.ratelimit_available
            .get_or_create(&vec![("bucket".into(), bucket.into())])
            .set(tokens);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Encoding into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// Counters in the snapshot are totals since start; the exported counters advance by the
/// difference.
#[derive(Debug, Default)]
struct SeenTotals {
    frames: u64,
    resyncs: u64,
    reconnects: u64,
    gaps: u64,
}

fn advance(counter: &Counter, seen: &mut u64, total: u64) {
    if total > *seen {
        counter.inc_by(total - *seen);
        *seen = total;
    }
}

impl DeskMetrics {
    /// What one published snapshot says.
    pub fn observe_snapshot(&self, snapshot: &DeskSnapshot) {
        let health = &snapshot.health;
        self.feed_lag_p50_ms
            .set(health.feed_lag_p50_ms.unwrap_or(0));
        self.feed_lag_p99_ms
            .set(health.feed_lag_p99_ms.unwrap_or(0));
        self.realized_pnl_micros.set(snapshot.pnl.realized.micros());
        self.unrealized_pnl_micros
            .set(snapshot.pnl.unrealized.micros());
        self.daily_pnl_micros.set(snapshot.pnl.daily.micros());
        self.trading_halted.set(i64::from(matches!(
            snapshot.trading,
            TradingState::Halted { .. }
        )));
        if let Some(ms) = snapshot.kill.time_to_flat_ms {
            self.last_kill_time_to_flat_ms
                .set(i64::try_from(ms).unwrap_or(i64::MAX));
        }
    }

    /// What one audit says (orders, refusals, rejects, fills).
    pub fn observe_audit(&self, audit: &AuditEvent) {
        match &audit.event {
            AuditKind::IntentEmitted {
                intent: OrderIntent::Place { .. },
                ..
            } => {
                self.orders_placed.inc();
            }
            AuditKind::OrderRefused { refusal, .. } => self.refused(refusal.rule()),
            AuditKind::OrderRejected { code, .. } => self.rejected(code),
            AuditKind::Fill { .. } => {
                self.fills.inc();
            }
            _ => {}
        }
    }
}

/// How often the client's and limiter's counters are read.
const COUNTERS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Feed `metrics` from a running desk until the desk stops (or the task is aborted).
pub fn feed_from_desk(desk: &DeskHandle, metrics: Arc<DeskMetrics>) -> tokio::task::JoinHandle<()> {
    let mut snapshots = desk.watch_snapshots();
    let mut audits = desk.subscribe_audits();
    let recorder = desk.recorder().clone();
    let ws_stats = desk.ws_stats().clone();
    let rest = desk.rest().clone();
    metrics.paper.set(i64::from(desk.paper().is_some()));
    tokio::spawn(async move {
        let mut seen = SeenTotals::default();
        let mut counters = tokio::time::interval(COUNTERS_EVERY);
        counters.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                audit = audits.recv() => match audit {
                    Ok(audit) => metrics.observe_audit(&audit),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "metrics fell behind the audit stream");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let snapshot = snapshots.borrow_and_update().clone();
                    metrics.observe_snapshot(&snapshot);
                }
                _ = counters.tick() => {
                    let ws = ws_stats.snapshot();
                    advance(&metrics.feed_messages, &mut seen.frames, ws.frames);
                    advance(&metrics.feed_resyncs, &mut seen.resyncs, ws.resyncs);
                    advance(&metrics.feed_reconnects, &mut seen.reconnects, ws.reconnects);
                    advance(&metrics.feed_gaps, &mut seen.gaps, ws.gaps);
                    let budget = rest.limiter().snapshot();
                    metrics.set_budget("read", i64::from(budget.read_available));
                    metrics.set_budget("write", i64::from(budget.write_available));
                    metrics.recording.set(i64::from(recorder.is_recording()));
                }
            }
        }
    })
}

/// Serve `GET /metrics` on `addr` until the returned task is aborted. Returns the bound address
/// (useful with port 0).
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<DeskMetrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    use axum::http::header::CONTENT_TYPE;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_endpoint_answers_with_the_expected_series() {
        let metrics = Arc::new(DeskMetrics::new());
        metrics.feed_messages.inc_by(3);
        metrics.feed_lag_p99_ms.set(4);
        metrics.refused("max_order_count");
        metrics.rejected("post_only_cross");
        metrics.trading_halted.set(1);
        metrics.daily_pnl_micros.set(-1_250_000);
        metrics.set_budget("write", 87);
        metrics.last_kill_time_to_flat_ms.set(42);
        let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), metrics.clone())
            .await
            .unwrap();
        let body = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for series in [
            "kdesk_feed_messages_total 3",
            "kdesk_feed_lag_p99_ms 4",
            "kdesk_orders_refused_total{rule=\"max_order_count\"} 1",
            "kdesk_orders_rejected_total{code=\"post_only_cross\"} 1",
            "kdesk_trading_halted 1",
            "kdesk_daily_pnl_micro_dollars -1250000",
            "kdesk_ratelimit_available_tokens{bucket=\"write\"} 87",
            "kdesk_last_kill_time_to_flat_ms 42",
            "kdesk_feed_reconnects_total 0",
        ] {
            assert!(body.contains(series), "missing {series:?} in\n{body}");
        }
        task.abort();
    }
}
