//! The live desk (runtime::desk) end to end against the simulator over loopback: the real REST
//! and WS clients, the engine task, the gateway, the reconciler and the journal. Every wait is on
//! a snapshot or an audit with a generous timeout; nothing sleeps to synchronise.

use std::sync::Arc;
use std::time::Duration;

use kalshi_desk::core::control::{MarketState, PauseReason, TradingState};
use kalshi_desk::core::engine::{AuditEvent, AuditKind, Command, ManualOrder, OrderIntent, Origin};
use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::{Count, Money, Price};
use kalshi_desk::core::order::{OrderOwner, OrderSide, OrderState};
use kalshi_desk::core::risk::TimeInForce;
use kalshi_desk::core::strategy::{MakerParams, StrategyParams};
use kalshi_desk::runtime::desk::{self, DeskConfig, DeskHandle, DeskSnapshot, DeskTiming, KillPhase};
use kalshi_desk::sim::exchange::types::OrderStatus as SimOrderStatus;
use kalshi_desk::sim::server::{SimConfig, SimHandle, SimServer};
use kalshi_desk::kalshi::wire::{BookSide, CreateOrderV2Request, TimeInForce as WireTif};
use tokio::sync::broadcast;

const WAIT: Duration = Duration::from_secs(30);
const LIQUIDITY: &str = "liquidity-provider";
const TAKER: &str = "taker";

struct Fixture {
    sim: SimHandle,
    dir: tempfile::TempDir,
}

async fn simulator(configure: impl FnOnce(&mut SimConfig)) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = SimConfig {
        key_dir: dir.path().join("keys"),
        flow: false,
        rate_limits: None,
        seed: 11,
        ..SimConfig::default()
    };
    configure(&mut config);
    let sim = SimServer::start(config).await.expect("simulator starts");
    Fixture { sim, dir }
}

impl Fixture {
    /// `n` active markets, each given a two-sided book by a liquidity account (YES bid 0.40,
    /// YES ask 0.60, 100 contracts each).
    fn seeded_markets(&self, n: usize) -> Vec<Ticker> {
        let tickers: Vec<Ticker> = self.sim.with_exchange(|exchange| {
            exchange
                .market_states()
                .filter(|m| m.status == kalshi_desk::core::market::MarketStatus::Active)
                .map(|m| m.ticker.clone())
                .take(n)
                .collect()
        });
        for ticker in &tickers {
            self.cross(LIQUIDITY, ticker, BookSide::Bid, "0.40", 100, false);
            self.cross(LIQUIDITY, ticker, BookSide::Ask, "0.60", 100, false);
        }
        tickers
    }

    /// Another member's order straight into the exchange (GTC, or IOC when `take`).
    fn cross(&self, user: &str, ticker: &Ticker, side: BookSide, price: &str, count: i64, take: bool) {
        let mut request = CreateOrderV2Request::limit(
            ticker.clone(),
            side,
            Price::parse(price).expect("price"),
            Count::from_contracts(count),
        );
        if take {
            request.time_in_force = WireTif::ImmediateOrCancel;
        }
        let user = user.to_string();
        self.sim.exchange_write(|exchange| {
            if exchange.account(&user).is_none() {
                exchange.open_account(&user, Money::from_cents(100_000_000));
            }
            exchange
                .create_order(&user, &request, kalshi_desk::runtime::clock::wall_ms())
                .expect("order accepted");
        });
    }

    fn config(&self, watchlist: Vec<Ticker>) -> DeskConfig {
        let mut config = DeskConfig::new(
            "sim",
            &self.sim.rest_base_url,
            &self.sim.ws_url,
            &self.sim.key_id,
            self.sim.key_file.clone(),
        );
        config.watchlist = watchlist;
        config.state_dir = Some(self.dir.path().join("state"));
        config.ws_jitter_seed = Some(5);
        config.timing = DeskTiming {
            tick_ms: 50,
            reconcile_every_ms: 2_000,
            status_every_ms: 1_000,
            snapshot_every_ms: 20,
            sweep_every_ms: 100,
            max_sweeps: 100,
            drift_halt_after: 50,
        };
        config
    }

    /// Resting orders of the desk's user at the exchange: (client_order_id, ticker, group).
    fn exchange_resting(&self) -> Vec<(String, Ticker, Option<String>)> {
        let user = self.sim.user_id.clone();
        self.sim.with_exchange(|exchange| {
            exchange
                .order_records(&user)
                .filter(|o| o.status == SimOrderStatus::Resting)
                .map(|o| (o.client_order_id.clone(), o.ticker.clone(), o.order_group_id.clone()))
                .collect()
        })
    }
}

fn maker(size: i64) -> StrategyParams {
    StrategyParams::Maker(MakerParams {
        size: Count::from_contracts(size),
        half_spread: Money::from_cents(3),
        requote_threshold: Money::from_cents(2),
        stale_book_ms: 60_000,
        ..MakerParams::default()
    })
}

async fn wait_snapshot(
    desk: &DeskHandle,
    what: &str,
    ok: impl Fn(&DeskSnapshot) -> bool,
) -> Arc<DeskSnapshot> {
    let mut snapshots = desk.watch_snapshots();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let snapshot = snapshots.borrow_and_update().clone();
            if ok(&snapshot) {
                return snapshot;
            }
            if snapshots.changed().await.is_err() {
                panic!("desk stopped while waiting for {what}");
            }
        }
    })
    .await;
    match found {
        Ok(snapshot) => snapshot,
        Err(_) => panic!("timed out waiting for {what}; last snapshot: {:#?}", desk.snapshot()),
    }
}

async fn wait_audit(
    audits: &mut broadcast::Receiver<AuditEvent>,
    what: &str,
    ok: impl Fn(&AuditKind) -> bool,
) -> AuditEvent {
    let found = tokio::time::timeout(WAIT, async {
        loop {
            match audits.recv().await {
                Ok(audit) if ok(&audit.event) => return audit,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("audit stream closed"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for audit: {what}"))
}

fn strategy_orders<'a>(snapshot: &'a DeskSnapshot, ticker: &'a Ticker) -> Vec<&'a kalshi_desk::core::order::Order> {
    snapshot
        .orders_in(ticker.as_str())
        .filter(|o| matches!(o.owner, OrderOwner::Strategy { .. }))
        .collect()
}

fn books_ready(snapshot: &DeskSnapshot, tickers: &[Ticker]) -> bool {
    tickers.iter().all(|t| {
        snapshot
            .market(t.as_str())
            .is_some_and(|m| !m.yes_bids.is_empty() && !m.yes_asks.is_empty())
    })
}

fn quoting(snapshot: &DeskSnapshot, ticker: &Ticker) -> bool {
    let orders = strategy_orders(snapshot, ticker);
    orders.iter().any(|o| o.side == OrderSide::Bid && o.state == OrderState::Resting)
        && orders.iter().any(|o| o.side == OrderSide::Ask && o.state == OrderState::Resting)
}

fn manual_bid(ticker: &Ticker) -> ManualOrder {
    ManualOrder {
        ticker: ticker.clone(),
        side: OrderSide::Bid,
        price: Price::parse("0.02").expect("price"),
        count: Count::from_contracts(1),
        time_in_force: TimeInForce::GoodTillCanceled,
        post_only: false,
        reduce_only: false,
        expiration_s: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_starts_reconciled_and_shows_live_books() {
    let fx = simulator(|_| {}).await;
    let markets = fx.seeded_markets(3);
    assert_eq!(markets.len(), 3, "the simulator lists active markets");
    let desk = desk::start(fx.config(markets.clone())).await.expect("desk starts");
    assert!(desk.order_group_id().is_some(), "automated orders get an order group");
    assert!(!desk.is_halted());
    let snapshot = wait_snapshot(&desk, "books of every watched market", |s| books_ready(s, &markets)).await;
    assert_eq!(snapshot.trading, TradingState::Active);
    assert!(snapshot.health.connected);
    for ticker in &markets {
        assert_eq!(snapshot.market(ticker.as_str()).map(|m| m.state.clone()), Some(MarketState::Disarmed));
    }
    desk.shutdown().await;
    fx.sim.shutdown().await;
}
