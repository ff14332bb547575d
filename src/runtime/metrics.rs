//! Prometheus metrics (`--metrics 127.0.0.1:9184`): feed health, orders, fills, P&L, trading
//! state, rate-limit budget and the last kill's time to flat. Updating a metric is an atomic
//! operation, so the engine and the I/O tasks record without locks; the HTTP endpoint encodes on
//! request. Money is exported in integer micro-dollars (exact, like everything else here).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;

type Labels = Vec<(String, String)>;

/// Every metric the desk exports.
pub struct DeskMetrics {
    registry: Registry,
    pub feed_messages: Counter,
    pub feed_lag_ms: Histogram,
    pub feed_resyncs: Counter,
    pub feed_reconnects: Counter,
    pub feed_malformed: Counter,
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
            feed_lag_ms: Histogram::new([
                1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0, 5000.0,
            ]),
            feed_resyncs: Counter::default(),
            feed_reconnects: Counter::default(),
            feed_malformed: Counter::default(),
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
            registry: Registry::default(),
        };
        registry.register(
            "feed_messages",
            "Websocket messages received",
            metrics.feed_messages.clone(),
        );
        registry.register(
            "feed_lag_ms",
            "Delay from the exchange's ts_ms to applied, in ms",
            metrics.feed_lag_ms.clone(),
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
            "feed_malformed",
            "Websocket frames that could not be decoded",
            metrics.feed_malformed.clone(),
        );
        registry.register(
            "orders_placed",
            "Orders sent to the exchange",
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
        metrics.feed_lag_ms.observe(4.0);
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
            "kdesk_feed_lag_ms_count 1",
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
