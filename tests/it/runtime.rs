//! The live desk (runtime::desk) end to end against the simulator over loopback: the real REST
//! and WS clients, the engine task, the gateway, the reconciler and the journal. Every wait is on
//! a snapshot or an audit with a generous timeout; nothing sleeps to synchronise.

use std::time::Duration;

use kalshi_desk::core::control::{MarketState, PauseReason, TradingState};
use kalshi_desk::core::engine::{AuditEvent, AuditKind, Command, ManualOrder, OrderIntent};
use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::{Count, Money, Price};
use kalshi_desk::core::order::{OrderOwner, OrderSide, OrderState};
use kalshi_desk::core::risk::TimeInForce;
use kalshi_desk::core::strategy::{MakerParams, StrategyParams};
use kalshi_desk::kalshi::ratelimit::{LimiterConfig, Tier};
use kalshi_desk::kalshi::wire::BookSide;
use kalshi_desk::runtime::desk::{self, DeskConfig, DeskHandle, DeskSnapshot, KillPhase};
use kalshi_desk::sim::exchange::types::{OrderStatus as SimOrderStatus, WriteKind as SimWriteKind};
use kalshi_desk::sim::server::{SimConfig, SimHandle, SimServer};
use kalshi_desk::store::journal::{HaltState, Journal, Mode};
use tokio::sync::broadcast;

use crate::desk_wait::{WAIT, wait_audit, wait_snapshot};
use crate::sim_desk::{member_order, sim_desk_config};
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
    fn cross(
        &self,
        user: &str,
        ticker: &Ticker,
        side: BookSide,
        price: &str,
        count: i64,
        take: bool,
    ) {
        member_order(&self.sim, user, ticker, side, price, count, take);
    }

    fn config(&self, watchlist: Vec<Ticker>) -> DeskConfig {
        sim_desk_config(&self.sim, &self.dir.path().join("state"), watchlist)
    }

    /// Resting orders of the desk's user at the exchange: (client_order_id, ticker, group).
    fn exchange_resting(&self) -> Vec<(String, Ticker, Option<String>)> {
        let user = self.sim.user_id.clone();
        self.sim.with_exchange(|exchange| {
            exchange
                .order_records(&user)
                .filter(|o| o.status == SimOrderStatus::Resting)
                .map(|o| {
                    (
                        o.client_order_id.clone(),
                        o.ticker.clone(),
                        o.order_group_id.clone(),
                    )
                })
                .collect()
        })
    }
}

fn maker(size: i64) -> StrategyParams {
    StrategyParams::Maker(MakerParams {
        size: Count::from_contracts(size),
        half_spread: Money::from_cents(3),
        // Wide enough that the maker does not chase the mid its own quotes move.
        requote_threshold: Money::from_cents(5),
        stale_book_ms: 60_000,
        ..MakerParams::default()
    })
}

fn strategy_orders<'a>(
    snapshot: &'a DeskSnapshot,
    ticker: &'a Ticker,
) -> Vec<&'a kalshi_desk::core::order::Order> {
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
    orders
        .iter()
        .any(|o| o.side == OrderSide::Bid && o.state == OrderState::Resting)
        && orders
            .iter()
            .any(|o| o.side == OrderSide::Ask && o.state == OrderState::Resting)
}

fn manual_bid(ticker: &Ticker) -> ManualOrder {
    ManualOrder {
        ticker: ticker.clone(),
        side: OrderSide::Bid,
        price: Price::parse("0.42").expect("price"),
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
    let desk = desk::start(fx.config(markets.clone()))
        .await
        .expect("desk starts");
    assert!(
        desk.order_group_id().is_some(),
        "automated orders get an order group"
    );
    assert!(!desk.is_halted());
    let snapshot = wait_snapshot(&desk, "books of every watched market", |s| {
        books_ready(s, &markets)
    })
    .await;
    assert_eq!(snapshot.trading, TradingState::Active);
    assert!(snapshot.health.connected);
    for ticker in &markets {
        assert_eq!(
            snapshot.market(ticker.as_str()).map(|m| m.state.clone()),
            Some(MarketState::Disarmed)
        );
    }
    desk.shutdown().await;
    fx.sim.shutdown().await;
}

/// Cancel intents seen on the audit stream until `done` holds for a snapshot.
fn cancels_in(audits: &[AuditEvent]) -> Vec<(String, Ticker)> {
    audits
        .iter()
        .filter_map(|a| match &a.event {
            AuditKind::IntentEmitted {
                intent:
                    OrderIntent::Cancel {
                        client_order_id,
                        ticker,
                        ..
                    },
                ..
            } => Some((client_order_id.as_str().to_string(), ticker.clone())),
            _ => None,
        })
        .collect()
}

fn drain(audits: &mut broadcast::Receiver<AuditEvent>) -> Vec<AuditEvent> {
    let mut out = Vec::new();
    while let Ok(audit) = audits.try_recv() {
        out.push(audit);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maker_quotes_fills_requotes_and_obeys_pause_disarm_and_override() {
    let fx = simulator(|_| {}).await;
    let markets = fx.seeded_markets(3);
    let mut config = fx.config(markets.clone());
    config.strategies = markets.iter().map(|t| (t.clone(), maker(2))).collect();
    let desk = desk::start(config).await.expect("desk starts");
    let mut audits = desk.subscribe_audits();
    if std::env::var("RT_DEBUG").is_ok() {
        let mut debug = desk.subscribe_audits();
        tokio::spawn(async move {
            while let Ok(a) = debug.recv().await {
                eprintln!("AUDIT {} {:?}", a.seq, a.event);
            }
        });
    }
    wait_snapshot(&desk, "books", |s| books_ready(s, &markets)).await;

    // A manual order the strategies must never touch.
    desk.send(Command::PlaceManual(manual_bid(&markets[0])))
        .await
        .expect("sent");
    let snapshot = wait_snapshot(&desk, "the manual order resting", |s| {
        s.orders_in(markets[0].as_str())
            .any(|o| o.owner == OrderOwner::Operator && o.state == OrderState::Resting)
    })
    .await;
    let manual_id = snapshot
        .orders_in(markets[0].as_str())
        .find(|o| o.owner == OrderOwner::Operator)
        .map(|o| o.client_order_id.as_str().to_string())
        .expect("manual order");

    for ticker in &markets {
        desk.send(Command::Arm {
            ticker: ticker.clone(),
        })
        .await
        .expect("sent");
    }
    let snapshot = wait_snapshot(&desk, "two-sided quotes in every market", |s| {
        markets.iter().all(|t| quoting(s, t))
    })
    .await;
    for ticker in &markets {
        assert_eq!(
            snapshot.market(ticker.as_str()).map(|m| m.state.clone()),
            Some(MarketState::Armed)
        );
    }
    // At the exchange: every strategy quote rests in the desk's order group; the manual one not.
    let group = desk.order_group_id().map(str::to_string);
    let resting = fx.exchange_resting();
    for order in snapshot
        .orders
        .iter()
        .filter(|o| matches!(o.owner, OrderOwner::Strategy { .. }))
    {
        let at_exchange = resting
            .iter()
            .find(|(id, _, _)| id == order.client_order_id.as_str())
            .unwrap_or_else(|| panic!("{} rests at the exchange", order.client_order_id));
        assert_eq!(
            at_exchange.2, group,
            "strategy orders live in the desk's order group"
        );
    }
    let manual_at_exchange = resting
        .iter()
        .find(|(id, _, _)| *id == manual_id)
        .expect("manual rests");
    assert_eq!(
        manual_at_exchange.2, None,
        "manual orders are not in the group"
    );

    // A taker hits market 1's bid quote: the fill is booked and the maker quotes again.
    let bid = strategy_orders(&snapshot, &markets[1])
        .into_iter()
        .find(|o| o.side == OrderSide::Bid)
        .map(|o| (o.client_order_id.clone(), o.yes_price))
        .expect("bid quote");
    let price = bid.1.to_dollars();
    fx.cross(TAKER, &markets[1], BookSide::Ask, &price, 2, true);
    let fill = wait_audit(
        &mut audits,
        "our fill",
        |e| matches!(e, AuditKind::Fill { ticker, .. } if *ticker == markets[1]),
    )
    .await;
    let AuditKind::Fill { position, .. } = fill.event else {
        unreachable!()
    };
    assert_eq!(position, Count::from_contracts(2), "bought 2 YES");
    wait_snapshot(&desk, "a new bid after the fill", |s| {
        strategy_orders(s, &markets[1]).iter().any(|o| {
            o.side == OrderSide::Bid && o.state == OrderState::Resting && o.client_order_id != bid.0
        })
    })
    .await;

    // Pause market 2: its quotes and only its quotes are cancelled.
    let _ = drain(&mut audits);
    desk.send(Command::Pause {
        ticker: markets[2].clone(),
    })
    .await
    .expect("sent");
    let snapshot = wait_snapshot(&desk, "market 2 without quotes", |s| {
        strategy_orders(s, &markets[2]).is_empty()
            && matches!(s.market(markets[2].as_str()).map(|m| &m.state), Some(MarketState::Paused(r)) if r.contains(&PauseReason::Operator))
    })
    .await;
    let cancels = cancels_in(&drain(&mut audits));
    assert!(!cancels.is_empty(), "pausing cancelled the quotes");
    assert!(
        cancels
            .iter()
            .all(|(id, t)| *t == markets[2] && *id != manual_id),
        "{cancels:?}"
    );
    assert!(quoting(&snapshot, &markets[0]) && quoting(&snapshot, &markets[1]));

    // Override market 1 (MANUAL): its quotes go, nothing else.
    desk.send(Command::OverrideManual {
        ticker: markets[1].clone(),
    })
    .await
    .expect("sent");
    wait_snapshot(&desk, "market 1 manual without quotes", |s| {
        strategy_orders(s, &markets[1]).is_empty()
            && s.market(markets[1].as_str()).map(|m| &m.state) == Some(&MarketState::Manual)
    })
    .await;
    let cancels = cancels_in(&drain(&mut audits));
    assert!(
        cancels
            .iter()
            .all(|(id, t)| *t == markets[1] && *id != manual_id),
        "{cancels:?}"
    );

    // Disarm market 0: its quotes go, the manual order stays (locally and at the exchange).
    desk.send(Command::Disarm {
        ticker: markets[0].clone(),
    })
    .await
    .expect("sent");
    let snapshot = wait_snapshot(&desk, "market 0 disarmed without quotes", |s| {
        strategy_orders(s, &markets[0]).is_empty()
            && s.market(markets[0].as_str()).map(|m| &m.state) == Some(&MarketState::Disarmed)
    })
    .await;
    let cancels = cancels_in(&drain(&mut audits));
    assert!(
        cancels
            .iter()
            .all(|(id, t)| *t == markets[0] && *id != manual_id),
        "{cancels:?}"
    );
    assert!(
        snapshot
            .orders
            .iter()
            .any(|o| o.client_order_id.as_str() == manual_id && o.state == OrderState::Resting)
    );
    let resting = fx.exchange_resting();
    assert!(
        resting.iter().any(|(id, _, _)| *id == manual_id),
        "the manual order still rests"
    );
    // Once the cancels are answered the exchange holds no strategy quote.
    wait_snapshot(&desk, "cancels answered", |s| s.orders.len() == 1).await;
    let resting = fx.exchange_resting();
    assert_eq!(resting.len(), 1, "only the manual order rests: {resting:?}");

    desk.shutdown().await;
    fx.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_is_unknown_then_resolved_by_client_order_id_and_never_resent() {
    let fx = simulator(|_| {}).await;
    let markets = fx.seeded_markets(1);
    let desk = desk::start(fx.config(markets.clone()))
        .await
        .expect("desk starts");
    let mut audits = desk.subscribe_audits();
    wait_snapshot(&desk, "books", |s| books_ready(s, &markets)).await;

    // Every write is applied and its answer cut off.
    fx.sim
        .faults()
        .update(|f| f.rest.lost_answer_rate = 1.0)
        .expect("fault set");
    desk.send(Command::PlaceManual(manual_bid(&markets[0])))
        .await
        .expect("sent");
    let unknown = wait_audit(&mut audits, "the order going UNKNOWN", |e| {
        matches!(e, AuditKind::OrderUnknown { .. })
    })
    .await;
    let AuditKind::OrderUnknown { client_order_id } = unknown.event else {
        unreachable!()
    };
    let resolved = wait_audit(&mut audits, "its resolution", |e| {
        matches!(e, AuditKind::UnknownResolved { client_order_id: id, .. } if *id == client_order_id)
    })
    .await;
    assert!(matches!(
        resolved.event,
        AuditKind::UnknownResolved { found: true, .. }
    ));
    fx.sim
        .faults()
        .update(|f| f.rest.lost_answer_rate = 0.0)
        .expect("fault cleared");

    let snapshot = wait_snapshot(&desk, "the order resting", |s| {
        s.orders.iter().any(|o| {
            o.client_order_id == client_order_id
                && o.state == OrderState::Resting
                && o.order_id.is_some()
        })
    })
    .await;
    assert!(
        snapshot
            .orders
            .iter()
            .all(|o| o.state != OrderState::Unknown)
    );
    let creates = fx.sim.with_exchange(|exchange| {
        exchange
            .order_log()
            .iter()
            .filter(|entry| entry.client_order_id.as_deref() == Some(client_order_id.as_str()))
            .filter(|entry| {
                matches!(
                    entry.kind,
                    SimWriteKind::CreateOrder | SimWriteKind::BatchCreateItem
                )
            })
            .count()
    });
    assert_eq!(
        creates, 1,
        "the create reached the exchange once and was never re-sent"
    );
    let resting = fx.exchange_resting();
    assert_eq!(
        resting
            .iter()
            .filter(|(id, _, _)| id == client_order_id.as_str())
            .count(),
        1
    );

    desk.shutdown().await;
    fx.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_goes_flat_is_journaled_and_a_restart_stays_halted() {
    let fx = simulator(|_| {}).await;
    let markets = fx.seeded_markets(2);
    let journal_path = fx.dir.path().join("journal.sqlite");
    let mut config = fx.config(markets.clone());
    config.journal_path = Some(journal_path.clone());
    config.strategies = markets.iter().map(|t| (t.clone(), maker(2))).collect();
    let desk = desk::start(config.clone()).await.expect("desk starts");
    let mut audits = desk.subscribe_audits();
    wait_snapshot(&desk, "books", |s| books_ready(s, &markets)).await;

    desk.send(Command::PlaceManual(manual_bid(&markets[0])))
        .await
        .expect("sent");
    wait_snapshot(&desk, "the manual order resting", |s| {
        s.orders_in(markets[0].as_str())
            .any(|o| o.owner == OrderOwner::Operator && o.state == OrderState::Resting)
    })
    .await;
    // Fill the manual order so the journal has a fill.
    fx.cross(TAKER, &markets[0], BookSide::Ask, "0.42", 1, true);
    wait_audit(&mut audits, "the manual fill", |e| {
        matches!(e, AuditKind::Fill { .. })
    })
    .await;
    for ticker in &markets {
        desk.send(Command::Arm {
            ticker: ticker.clone(),
        })
        .await
        .expect("sent");
    }
    wait_snapshot(&desk, "quotes", |s| markets.iter().all(|t| quoting(s, t))).await;
    assert!(!fx.exchange_resting().is_empty());

    desk.kill("test kill switch");
    assert!(desk.is_halted(), "the flag is set before kill returns");
    let snapshot = wait_snapshot(&desk, "flat", |s| s.kill.phase == KillPhase::Flat).await;
    assert!(matches!(snapshot.trading, TradingState::Halted { .. }));
    assert!(snapshot.kill.time_to_flat_ms.is_some());
    assert_eq!(snapshot.kill.exchange_resting, Some(0));
    assert!(
        fx.exchange_resting().is_empty(),
        "nothing rests at the exchange"
    );
    // The HALTED banner's "cancels pending" counts down to zero once the engine has read back
    // what the executor cancelled.
    wait_snapshot(&desk, "no order left open", |s| {
        s.kill.cancels_pending == 0 && s.orders.is_empty()
    })
    .await;
    let killed_at = snapshot.kill.started_wall_ms.expect("kill instant");
    let late_writes = fx
        .sim
        .with_exchange(|exchange| exchange.exposure_accepted_after(killed_at));
    assert_eq!(
        late_writes, 0,
        "no non-cancel write was accepted after the kill"
    );
    // Nothing arms while halted.
    desk.send(Command::Arm {
        ticker: markets[0].clone(),
    })
    .await
    .expect("sent");
    wait_audit(&mut audits, "arm refused", |e| {
        matches!(e, AuditKind::CommandRefused { .. })
    })
    .await;
    desk.shutdown().await;

    {
        let journal = Journal::open(&journal_path).expect("journal opens");
        let intents = journal
            .events_of_kind("intent_emitted", Mode::Live)
            .expect("intents");
        assert!(intents.iter().any(|r| {
            r.client_order_id
                .as_deref()
                .is_some_and(|id| id.starts_with("op-"))
        }));
        assert!(intents.iter().any(|r| {
            r.client_order_id
                .as_deref()
                .is_some_and(|id| id.starts_with("m-"))
        }));
        let fills = journal.events_of_kind("fill", Mode::Live).expect("fills");
        assert_eq!(fills.len(), 1, "the one fill, once");
        assert!(
            !journal
                .events_of_kind("killed", Mode::Live)
                .expect("kills")
                .is_empty()
        );
        let halt = journal
            .last_halt(Mode::Live)
            .expect("halt")
            .expect("a halt record");
        assert_eq!(halt.state, HaltState::Flat);
    }

    // A restart honours the journal: HALTED from the start, nothing arms.
    let desk = desk::start(config).await.expect("desk restarts");
    assert!(
        desk.startup().started_halted.is_some(),
        "{:?}",
        desk.startup()
    );
    assert!(desk.is_halted());
    let mut audits = desk.subscribe_audits();
    let snapshot = wait_snapshot(&desk, "halted snapshot", |s| s.version > 0).await;
    assert!(matches!(snapshot.trading, TradingState::Halted { .. }));
    desk.send(Command::Arm {
        ticker: markets[1].clone(),
    })
    .await
    .expect("sent");
    wait_audit(&mut audits, "arm refused after restart", |e| {
        matches!(e, AuditKind::CommandRefused { .. })
    })
    .await;
    wait_snapshot(&desk, "the restart sweep flat", |s| {
        s.kill.phase == KillPhase::Flat
    })
    .await;
    desk.shutdown().await;
    fx.sim.shutdown().await;
}

/// Add one contract to a far YES bid of every market in `tickers` at the exchange and wait
/// until the desk's book of `watch` (a market whose feed still flows) shows it grow.
async fn touch_book(fx: &Fixture, desk: &DeskHandle, tickers: &[Ticker], watch: &Ticker) {
    let level = Price::parse("0.10").expect("price");
    let size_of = |s: &DeskSnapshot| {
        s.market(watch.as_str())
            .and_then(|m| m.yes_bids.iter().find(|l| l.price == level).map(|l| l.size))
            .unwrap_or(Count::ZERO)
    };
    let before = size_of(&desk.snapshot());
    for ticker in tickers {
        fx.cross(LIQUIDITY, ticker, BookSide::Bid, "0.10", 1, false);
    }
    wait_snapshot(desk, "the touched book", |s| size_of(s) > before).await;
}

/// A maker that only requotes when its book moves: no quote TTL refresh, so a market nobody
/// touches sends no book frame at all.
fn still_maker() -> StrategyParams {
    let StrategyParams::Maker(params) = maker(1) else {
        unreachable!("maker() is a maker")
    };
    StrategyParams::Maker(MakerParams {
        quote_ttl_ms: 0,
        ..params
    })
}

/// Two markets, each on its own orderbook subscription, both quoting and ARMED.
async fn two_quoting_markets(
    stale_book_ms: u64,
) -> (
    Fixture,
    DeskHandle,
    broadcast::Receiver<AuditEvent>,
    Ticker,
    Ticker,
) {
    let fx = simulator(|_| {}).await;
    let markets = fx.seeded_markets(2);
    let mut config = fx.config(markets.clone());
    config.engine.stale_book_ms = stale_book_ms;
    config.orderbook_batch_size = 1;
    config.strategies = markets.iter().map(|t| (t.clone(), still_maker())).collect();
    let desk = desk::start(config).await.expect("desk starts");
    let audits = desk.subscribe_audits();
    wait_snapshot(&desk, "books", |s| books_ready(s, &markets)).await;
    for ticker in &markets {
        desk.send(Command::Arm {
            ticker: ticker.clone(),
        })
        .await
        .expect("sent");
    }
    wait_snapshot(&desk, "quotes and both markets ARMED", |s| {
        markets.iter().all(|t| {
            quoting(s, t)
                && s.market(t.as_str())
                    .is_some_and(|m| m.state == MarketState::Armed && !m.resyncing)
        })
    })
    .await;
    let (quiet, live) = (markets[0].clone(), markets[1].clone());
    (fx, desk, audits, quiet, live)
}

// Kalshi folds a second `orderbook_delta` subscribe on one connection into the existing
// subscription, and `seq` is per subscription: a gap says some book of that subscription missed
// a delta, not which one, so every market on it HOLDs and resyncs. The session-1 version of
// this test expected the other market to stay ARMED; it passed only when `wait_audit` happened
// to discard the other market's HOLD audit, which arrives just before the live one's (the
// flake). What must hold: the gap HOLDs (quotes kept, nothing cancelled), resyncs, and pauses
// no market; the other market, whose own book lost nothing, is back ARMED with the same quotes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seq_gap_holds_then_resyncs_without_pausing_any_market() {
    let (fx, desk, mut audits, quiet, live) = two_quoting_markets(600_000).await;
    let before = drain(&mut audits);
    let quotes_before: Vec<String> = {
        let snapshot = desk.snapshot();
        let mut ids: Vec<String> = snapshot
            .orders
            .iter()
            .map(|o| o.client_order_id.as_str().to_string())
            .collect();
        ids.sort();
        ids
    };
    fx.sim
        .faults()
        .update(|f| f.ws.skip_seq_every_n = 2)
        .expect("fault set");
    let is_live_hold = |e: &AuditKind| matches!(e, AuditKind::ControlChanged { ticker, to: MarketState::Hold, .. } if *ticker == live);
    for _ in 0..6 {
        fx.cross(LIQUIDITY, &live, BookSide::Bid, "0.10", 1, false);
    }
    // Every audit is kept (wait_audit would drop the ones before its match).
    let mut seen = Vec::new();
    let collect = async {
        loop {
            match audits.recv().await {
                Ok(audit) => {
                    let done = is_live_hold(&audit.event);
                    seen.push(audit);
                    if done {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => panic!("lagged {n} audits"),
                Err(broadcast::error::RecvError::Closed) => panic!("audit stream closed"),
            }
        }
    };
    tokio::time::timeout(WAIT, collect)
        .await
        .expect("the live market holding");
    fx.sim
        .faults()
        .update(|f| f.ws.skip_seq_every_n = 0)
        .expect("fault cleared");
    // A fresh change after the fault: the resynced book shows it.
    fx.cross(LIQUIDITY, &live, BookSide::Bid, "0.11", 1, false);
    let level = Price::parse("0.11").expect("price");
    let snapshot = wait_snapshot(&desk, "both markets resynced and armed", |s| {
        s.market(live.as_str())
            .is_some_and(|m| m.yes_bids.iter().any(|l| l.price == level))
            && [&quiet, &live].iter().all(|t| {
                s.market(t.as_str())
                    .is_some_and(|m| !m.resyncing && m.state == MarketState::Armed)
            })
    })
    .await;
    seen.extend(drain(&mut audits));
    assert!(snapshot.health.gaps > 0, "{:?}", snapshot.health);
    assert!(
        !seen.iter().any(|a| matches!(
            &a.event,
            AuditKind::ControlChanged {
                to: MarketState::Paused(_),
                ..
            }
        )),
        "no market paused: {seen:#?}\nbefore the fault: {before:#?}"
    );
    assert!(
        !seen.iter().any(|a| matches!(
            &a.event,
            AuditKind::IntentEmitted {
                intent: OrderIntent::Cancel { .. } | OrderIntent::CancelAll,
                ..
            }
        )),
        "a HOLD keeps the quotes: {seen:#?}"
    );
    let mut quotes_after: Vec<String> = snapshot
        .orders
        .iter()
        .map(|o| o.client_order_id.as_str().to_string())
        .collect();
    quotes_after.sort();
    assert_eq!(quotes_after, quotes_before, "the same quotes rest");
    assert!(quoting(&snapshot, &quiet) && quoting(&snapshot, &live));
    desk.shutdown().await;
    fx.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_book_pauses_its_market_and_not_the_others() {
    let (fx, desk, _audits, frozen, live) = two_quoting_markets(3_000).await;
    let markets = [frozen.clone(), live.clone()];
    fx.sim
        .faults()
        .update(|f| {
            f.market.frozen_books.insert(frozen.to_string());
        })
        .expect("fault set");
    // Keep the live book moving (each round waits until the desk has seen it) until the frozen
    // one pauses for staleness.
    let mut paused = false;
    for _ in 0..5_000 {
        touch_book(&fx, &desk, &markets, &live).await;
        let snapshot = desk.snapshot();
        let frozen_view = snapshot.market(frozen.as_str()).expect("frozen market");
        if matches!(&frozen_view.state, MarketState::Paused(r) if r.contains(&PauseReason::StaleBook))
        {
            let live_view = snapshot.market(live.as_str()).expect("live market");
            assert_eq!(
                live_view.state,
                MarketState::Armed,
                "the live market keeps quoting: {live_view:?}"
            );
            paused = true;
            break;
        }
    }
    assert!(
        paused,
        "the frozen market paused for a stale book: {:#?}",
        desk.snapshot().market(frozen.as_str())
    );
    wait_snapshot(&desk, "the frozen market's quotes cancelled", |s| {
        strategy_orders(s, &frozen).is_empty()
    })
    .await;
    let snapshot = desk.snapshot();
    assert!(
        snapshot
            .market(live.as_str())
            .is_some_and(|m| !m.reasons.contains(&PauseReason::StaleBook)),
        "the live market is not paused for staleness: {:?}",
        snapshot.market(live.as_str())
    );
    assert!(quoting(&snapshot, &live), "the live market keeps quoting");
    desk.shutdown().await;
    fx.sim.shutdown().await;
}

impl Fixture {
    fn exchange_position(&self, ticker: &Ticker) -> Count {
        let user = self.sim.user_id.clone();
        self.sim.with_exchange(|exchange| {
            exchange
                .account(&user)
                .and_then(|a| a.subaccounts.get(&0))
                .map(|s| s.position(ticker))
                .unwrap_or(Count::ZERO)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ws_drop_while_quoting_ends_with_orders_and_positions_equal_to_the_exchange() {
    let fx = simulator(|_| {}).await;
    let markets = fx.seeded_markets(2);
    let mut config = fx.config(markets.clone());
    config.strategies = markets.iter().map(|t| (t.clone(), maker(2))).collect();
    let desk = desk::start(config).await.expect("desk starts");
    wait_snapshot(&desk, "books", |s| books_ready(s, &markets)).await;
    for ticker in &markets {
        desk.send(Command::Arm {
            ticker: ticker.clone(),
        })
        .await
        .expect("sent");
    }
    let snapshot = wait_snapshot(&desk, "quotes", |s| markets.iter().all(|t| quoting(s, t))).await;
    let bid = strategy_orders(&snapshot, &markets[1])
        .into_iter()
        .find(|o| o.side == OrderSide::Bid)
        .map(|o| o.yes_price.to_dollars())
        .expect("bid quote");

    // Connections now die every few frames; a fill and book changes happen meanwhile.
    let reconnects_before = snapshot.health.reconnects;
    fx.sim
        .faults()
        .update(|f| f.ws.drop_every_n_messages = 3)
        .expect("fault set");
    fx.cross(TAKER, &markets[1], BookSide::Ask, &bid, 2, true);
    for _ in 0..20 {
        fx.cross(LIQUIDITY, &markets[0], BookSide::Bid, "0.10", 1, false);
        if desk.snapshot().health.reconnects > reconnects_before {
            break;
        }
    }
    wait_snapshot(&desk, "a reconnect", |s| {
        s.health.reconnects > reconnects_before
    })
    .await;
    fx.sim
        .faults()
        .update(|f| f.ws.drop_every_n_messages = 0)
        .expect("fault cleared");

    let expected_position = fx.exchange_position(&markets[1]);
    assert_eq!(
        expected_position,
        Count::from_contracts(2),
        "the taker filled our bid"
    );
    let settled = |s: &DeskSnapshot| {
        let mut ours: Vec<String> = s
            .orders
            .iter()
            .map(|o| o.client_order_id.as_str().to_string())
            .collect();
        let mut theirs: Vec<String> = fx
            .exchange_resting()
            .into_iter()
            .map(|(id, _, _)| id)
            .collect();
        ours.sort();
        theirs.sort();
        s.health.connected
            && ours == theirs
            && s.orders.iter().all(|o| o.state == OrderState::Resting)
            && markets.iter().all(|t| {
                s.market(t.as_str()).map(|m| m.position.contracts) == Some(fx.exchange_position(t))
            })
    };
    let snapshot = wait_snapshot(
        &desk,
        "orders and positions equal to the exchange's",
        settled,
    )
    .await;
    assert_eq!(
        snapshot
            .market(markets[1].as_str())
            .map(|m| m.position.contracts),
        Some(Count::from_contracts(2))
    );
    desk.shutdown().await;
    fx.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markets_join_and_leave_the_watchlist_while_the_desk_runs() {
    let fx = simulator(|_| {}).await;
    let markets = fx.seeded_markets(3);
    let desk = desk::start(fx.config(vec![markets[0].clone()]))
        .await
        .expect("desk starts");
    wait_snapshot(&desk, "the first book", |s| books_ready(s, &markets[..1])).await;
    assert!(desk.snapshot().market(markets[1].as_str()).is_none());

    let unknown = desk
        .subscribe_market(Ticker::from("KXNOSUCH-MARKET"))
        .await
        .expect_err("an unknown market is refused");
    assert!(unknown.to_string().contains("KXNOSUCH-MARKET"), "{unknown}");

    desk.subscribe_market(markets[1].clone())
        .await
        .expect("subscribed");
    desk.subscribe_market(markets[2].clone())
        .await
        .expect("subscribed");
    desk.subscribe_market(markets[1].clone())
        .await
        .expect("a second add of a watched market is a no-op");
    wait_snapshot(&desk, "the added books", |s| books_ready(s, &markets)).await;
    // The added book is live: a change at the exchange reaches it.
    fx.cross(LIQUIDITY, &markets[1], BookSide::Bid, "0.10", 3, false);
    let level = Price::parse("0.10").expect("price");
    wait_snapshot(&desk, "the added market's book moving", |s| {
        s.market(markets[1].as_str()).is_some_and(|m| {
            m.yes_bids
                .iter()
                .any(|l| l.price == level && l.size == Count::from_contracts(3))
        })
    })
    .await;

    // The engine has the market's details: a maker armed on it quotes both sides.
    desk.send(Command::SetStrategy {
        ticker: markets[1].clone(),
        params: maker(1),
    })
    .await
    .expect("sent");
    desk.send(Command::Arm {
        ticker: markets[1].clone(),
    })
    .await
    .expect("sent");
    wait_snapshot(&desk, "quotes on the added market", |s| {
        quoting(s, &markets[1])
    })
    .await;

    // Removing it disarms its strategy (quotes cancelled at the exchange); the never-armed
    // market leaves the snapshot.
    desk.unsubscribe_market(markets[1].clone())
        .await
        .expect("unsubscribed");
    desk.unsubscribe_market(markets[2].clone())
        .await
        .expect("unsubscribed");
    wait_snapshot(&desk, "the removed markets", |s| {
        s.market(markets[2].as_str()).is_none()
            && strategy_orders(s, &markets[1]).is_empty()
            && s.market(markets[1].as_str())
                .is_some_and(|m| m.state == MarketState::Disarmed)
    })
    .await;
    wait_until("the removed market's quotes gone from the exchange", || {
        fx.exchange_resting()
            .iter()
            .all(|(_, t, _)| *t != markets[1])
    })
    .await;
    desk.shutdown().await;
    fx.sim.shutdown().await;
}

/// Wait (with a deadline) until `ok` holds; for state outside the desk's snapshots.
async fn wait_until(what: &str, ok: impl Fn() -> bool) {
    let deadline_ns = kalshi_desk::runtime::clock::mono_ns() + WAIT.as_nanos() as u64;
    while !ok() {
        assert!(
            kalshi_desk::runtime::clock::mono_ns() < deadline_ns,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_waiting_behind_a_cancel_for_tokens_is_never_sent_once_the_kill_lands() {
    use kalshi_desk::kalshi::ratelimit::{BucketLimit, CostTable};
    use kalshi_desk::kalshi::rest::Endpoint;
    let fx = simulator(|_| {}).await;
    let markets = fx.seeded_markets(2);
    let mut config = fx.config(markets.clone());
    // One write token a second: a cancel that finds the bucket empty waits for seconds.
    config.limiter = LimiterConfig {
        read: Tier::Expert.limits().0,
        write: BucketLimit::new(1, 100),
        cancel_reserve: 20,
        costs: CostTable::digest_defaults(),
    };
    config.refresh_rate_limits = false;
    config.use_order_group = false;
    let desk = desk::start(config).await.expect("desk starts");
    let mut audits = desk.subscribe_audits();
    wait_snapshot(&desk, "books", |s| books_ready(s, &markets)).await;
    desk.send(Command::PlaceManual(manual_bid(&markets[0])))
        .await
        .expect("sent");
    let snapshot = wait_snapshot(&desk, "the manual order resting", |s| {
        s.orders_in(markets[0].as_str())
            .any(|o| o.state == OrderState::Resting)
    })
    .await;
    let resting = snapshot
        .orders_in(markets[0].as_str())
        .find(|o| o.state == OrderState::Resting)
        .map(|o| o.client_order_id.clone())
        .expect("resting order");

    // Empty the write bucket, then ask for a cancel: it waits in the cancel lane.
    let limiter = desk.rest().limiter().clone();
    let cancel_route = Endpoint::CancelOrder.route();
    let per_cancel = limiter.cost(cancel_route).max(1);
    let items = limiter.snapshot().write_available / per_cancel;
    if items > 0 {
        limiter
            .acquire_cancel(cancel_route, items)
            .await
            .expect("drained");
    }
    desk.send(Command::CancelManual {
        client_order_id: resting,
    })
    .await
    .expect("sent");
    wait_until("the cancel waiting for tokens", || {
        limiter.snapshot().cancels_waiting > 0
    })
    .await;
    // A new order behind it in the gateway's queue.
    desk.send(Command::PlaceManual(manual_bid(&markets[1])))
        .await
        .expect("sent");
    let emitted = wait_audit(&mut audits, "the create emitted", |e| {
        matches!(e, AuditKind::IntentEmitted { intent: OrderIntent::Place { ticker, .. }, .. } if *ticker == markets[1])
    })
    .await;
    let AuditKind::IntentEmitted {
        intent: OrderIntent::Place {
            client_order_id, ..
        },
        ..
    } = &emitted.event
    else {
        unreachable!("matched above")
    };
    assert!(
        limiter.snapshot().cancels_waiting > 0,
        "the cancel is still waiting when the kill lands"
    );

    desk.kill("kill while a create waits");
    // Tokens again: the waiting cancel goes, then the create's turn comes after the kill.
    limiter.set_limits(Tier::Expert.limits().0, BucketLimit::new(1200, 1200));
    let snapshot = wait_snapshot(&desk, "flat", |s| s.kill.phase == KillPhase::Flat).await;
    assert!(fx.exchange_resting().is_empty());
    let killed_at = snapshot.kill.started_wall_ms.expect("kill instant");
    let (sent, late_creates) = fx.sim.with_exchange(|exchange| {
        let log = exchange.order_log();
        let sent = log
            .iter()
            .any(|e| e.client_order_id.as_deref() == Some(client_order_id.as_str()));
        let late = log
            .iter()
            .filter(|e| e.now_ms >= killed_at)
            .filter(|e| e.kind.adds_exposure())
            .count();
        (sent, late)
    });
    assert!(!sent, "the waiting create never reached the exchange");
    assert_eq!(
        late_creates, 0,
        "no create or amend reached it after the kill"
    );
    desk.shutdown().await;
    fx.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_pause_stops_quoting_and_refuses_new_orders_until_trading_resumes() {
    let fx = simulator(|_| {}).await;
    let markets = fx.seeded_markets(2);
    let mut config = fx.config(markets.clone());
    config.strategies = markets.iter().map(|t| (t.clone(), maker(1))).collect();
    // The exchange cancels the quotes when it pauses, and the makers may try again before the
    // desk has read the pause: the order-rate limit is not what this test is about.
    config.engine.limits.max_orders_per_window = 1_000;
    config.engine.limits.runaway_orders_per_window = 2_000;
    let desk = desk::start(config).await.expect("desk starts");
    let mut audits = desk.subscribe_audits();
    wait_snapshot(&desk, "books", |s| books_ready(s, &markets)).await;
    for ticker in &markets {
        desk.send(Command::Arm {
            ticker: ticker.clone(),
        })
        .await
        .expect("sent");
    }
    wait_snapshot(&desk, "quotes", |s| markets.iter().all(|t| quoting(s, t))).await;

    fx.sim
        .faults()
        .update(|f| f.exchange.trading_paused = true)
        .expect("fault set");
    wait_snapshot(&desk, "every market paused and its quotes gone", |s| {
        s.health.exchange_trading_active == Some(false)
            && markets.iter().all(|t| {
                strategy_orders(s, t).is_empty()
                    && s.market(t.as_str()).is_some_and(|m| {
                        matches!(&m.state, MarketState::Paused(r) if r.contains(&PauseReason::ExchangePause))
                    })
            })
    })
    .await;
    let _ = drain(&mut audits);
    desk.send(Command::PlaceManual(manual_bid(&markets[0])))
        .await
        .expect("sent");
    let refused = wait_audit(&mut audits, "the manual order refused", |e| {
        matches!(e, AuditKind::OrderRejected { code, .. } if code.starts_with("trading_paused"))
    })
    .await;
    let AuditKind::OrderRejected {
        client_order_id, ..
    } = &refused.event
    else {
        unreachable!("matched above")
    };
    let sent = fx.sim.with_exchange(|exchange| {
        exchange
            .order_log()
            .iter()
            .any(|e| e.client_order_id.as_deref() == Some(client_order_id.as_str()))
    });
    assert!(!sent, "the refused order never reached the exchange");

    fx.sim
        .faults()
        .update(|f| f.exchange.trading_paused = false)
        .expect("fault cleared");
    wait_snapshot(&desk, "quoting again once trading resumes", |s| {
        s.health.exchange_trading_active == Some(true)
            && markets.iter().all(|t| {
                quoting(s, t)
                    && s.market(t.as_str())
                        .is_some_and(|m| m.state == MarketState::Armed)
            })
    })
    .await;
    desk.shutdown().await;
    fx.sim.shutdown().await;
}

/// The environment variable that turns `crash_child_desk_process` into the desk process the
/// crash-recovery test starts and kills.
const CRASH_CHILD_ENV: &str = "KDESK_TEST_CRASH_CHILD";

/// Run only as a child of the crash-recovery test (it returns at once otherwise): a desk with
/// its state dir, a maker armed on the given markets, "READY" on stdout once both quote, then
/// running until SIGKILLed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the desk process a_desk_killed_with_sigkill_restarts_… starts and kills"]
async fn crash_child_desk_process() {
    let Ok(spec) = std::env::var(CRASH_CHILD_ENV) else {
        return;
    };
    let spec: serde_json::Value = serde_json::from_str(&spec).expect("child spec");
    let text = |key: &str| spec[key].as_str().expect("spec member").to_string();
    let markets: Vec<Ticker> = spec["markets"]
        .as_array()
        .expect("markets")
        .iter()
        .filter_map(|t| t.as_str().map(Ticker::from))
        .collect();
    let mut config = DeskConfig::new(
        "sim",
        &text("rest"),
        &text("ws"),
        &text("key_id"),
        text("key_file").into(),
    );
    config.watchlist = markets.clone();
    config.state_dir = Some(text("state_dir").into());
    config.ws_jitter_seed = Some(5);
    config.limiter = LimiterConfig::for_tier(Tier::Expert);
    config.strategies = markets.iter().map(|t| (t.clone(), maker(2))).collect();
    let desk = desk::start(config).await.expect("child desk starts");
    wait_snapshot(&desk, "books", |s| books_ready(s, &markets)).await;
    for ticker in &markets {
        desk.send(Command::Arm {
            ticker: ticker.clone(),
        })
        .await
        .expect("sent");
    }
    wait_snapshot(&desk, "quotes", |s| markets.iter().all(|t| quoting(s, t))).await;
    println!("READY");
    std::future::pending::<()>().await;
}

/// Start `crash_child_desk_process` as its own process and wait until its desk quotes.
async fn spawn_child_desk(
    fx: &Fixture,
    state_dir: &std::path::Path,
    markets: &[Ticker],
) -> tokio::process::Child {
    use tokio::io::AsyncBufReadExt as _;
    let spec = serde_json::json!({
        "rest": fx.sim.rest_base_url,
        "ws": fx.sim.ws_url,
        "key_id": fx.sim.key_id,
        "key_file": fx.sim.key_file,
        "state_dir": state_dir,
        "markets": markets,
    });
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "runtime::crash_child_desk_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CRASH_CHILD_ENV, spec.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the child desk starts");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.expect("child output") {
            // The harness prints the test's name on the same line.
            if line.trim_end().ends_with("READY") {
                return;
            }
        }
        panic!("the child desk ended before it quoted");
    })
    .await
    .expect("the child desk quoting");
    child
}

/// The journal the desk on `fx` keeps in `state_dir`.
fn desk_journal_path(fx: &Fixture, state_dir: &std::path::Path) -> std::path::PathBuf {
    let account = kalshi_desk::runtime::lock::AccountId {
        environment: "sim".into(),
        key_id: fx.sim.key_id.clone(),
        subaccount: 0,
    };
    state_dir.join(format!("journal-{}.sqlite", account.slug()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_killed_with_sigkill_restarts_equal_to_the_exchange_and_loses_no_fill() {
    let fx = simulator(|_| {}).await;
    let markets = fx.seeded_markets(2);
    let state_dir = fx.dir.path().join("state");
    let mut child = spawn_child_desk(&fx, &state_dir, &markets).await;

    // A fill while it runs: the child journals it.
    let user = fx.sim.user_id.clone();
    let quote = |ticker: &Ticker, side: BookSide| -> String {
        fx.sim.with_exchange(|exchange| {
            exchange
                .order_records(&user)
                .find(|o| {
                    o.status == SimOrderStatus::Resting
                        && o.ticker == *ticker
                        && matches!(o.side, kalshi_desk::core::matching::BookSide::Bid)
                            == (side == BookSide::Bid)
                })
                .map(|o| o.price.to_dollars())
                .expect("a quote of the child desk")
        })
    };
    let bid = quote(&markets[0], BookSide::Bid);
    fx.cross(TAKER, &markets[0], BookSide::Ask, &bid, 2, true);
    let journal_path = desk_journal_path(&fx, &state_dir);
    let journaled_fills = || -> Vec<String> {
        Journal::open(&journal_path)
            .and_then(|j| j.events_of_kind("fill", Mode::Live))
            .map(|rows| rows.into_iter().filter_map(|r| r.trade_id).collect())
            .unwrap_or_default()
    };
    wait_until("the child journaling its fill", || {
        !journaled_fills().is_empty()
    })
    .await;

    child.start_kill().expect("SIGKILL");
    let status = child.wait().await.expect("the child ended");
    assert!(!status.success(), "killed, not exited: {status:?}");

    // The exchange keeps trading while no desk runs: the other market's ask fills too.
    let ask = quote(&markets[1], BookSide::Ask);
    fx.cross(TAKER, &markets[1], BookSide::Bid, &ask, 2, true);
    let exchange_fills = || -> std::collections::BTreeSet<String> {
        fx.sim.with_exchange(|exchange| {
            exchange
                .fill_records()
                .iter()
                .filter(|f| f.user_id == user)
                .map(|f| f.trade_id.clone())
                .collect()
        })
    };
    assert_eq!(exchange_fills().len(), 2);

    let mut config = fx.config(markets.clone());
    config.state_dir = Some(state_dir.clone());
    config.strategies = markets.iter().map(|t| (t.clone(), maker(2))).collect();
    let desk = desk::start(config).await.expect("desk restarts");
    let report = desk.startup().clone();
    assert!(
        report.started_halted.is_none(),
        "a crash is not a halt: {report:?}"
    );
    assert!(
        !report.orphans_cancelled.is_empty(),
        "the dead desk's quotes are orphans: {report:?}"
    );
    assert!(
        report
            .orphans_cancelled
            .iter()
            .all(|id| id.starts_with("m-")),
        "{report:?}"
    );
    assert!(
        fx.exchange_resting().is_empty(),
        "no orphaned strategy order rests: {:?}",
        fx.exchange_resting()
    );
    // Positions, fills and orders equal the exchange's; no drift pause.
    let snapshot = wait_snapshot(&desk, "positions equal to the exchange's", |s| {
        s.orders.is_empty()
            && markets.iter().all(|t| {
                s.market(t.as_str()).is_some_and(|m| {
                    m.position.contracts == fx.exchange_position(t)
                        && !m.reasons.contains(&PauseReason::PositionDrift)
                })
            })
    })
    .await;
    assert_eq!(
        snapshot
            .market(markets[0].as_str())
            .map(|m| m.position.contracts),
        Some(Count::from_contracts(2))
    );
    assert_eq!(
        snapshot
            .market(markets[1].as_str())
            .map(|m| m.position.contracts),
        Some(Count::from_contracts(-2))
    );
    // No fill lost: the journal (the dead desk's rows and the restart's) holds every fill the
    // exchange has, once.
    wait_until("every fill in the journal", || {
        let journaled = journaled_fills();
        let unique: std::collections::BTreeSet<String> = journaled.iter().cloned().collect();
        unique == exchange_fills() && journaled.len() == unique.len()
    })
    .await;
    // Still equal after a reconciliation round: nothing is applied twice.
    let reconciled = snapshot.health.last_reconcile_wall_ms.unwrap_or(0);
    let snapshot = wait_snapshot(&desk, "a reconciliation after the restart", |s| {
        s.health.last_reconcile_wall_ms.unwrap_or(0) > reconciled
    })
    .await;
    for ticker in &markets {
        assert_eq!(
            snapshot
                .market(ticker.as_str())
                .map(|m| m.position.contracts),
            Some(fx.exchange_position(ticker)),
            "{ticker}"
        );
    }
    desk.shutdown().await;
    fx.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_process_killed_mid_kill_restarts_halted_and_completes_the_kill() {
    let fx = simulator(|_| {}).await;
    let markets = fx.seeded_markets(2);
    let state_dir = fx.dir.path().join("state");
    let mut child = spawn_child_desk(&fx, &state_dir, &markets).await;
    assert!(!fx.exchange_resting().is_empty());
    // Slow answers keep the kill running while the process dies.
    fx.sim
        .faults()
        .update(|f| f.rest.latency_ms = 400)
        .expect("fault set");
    let account = kalshi_desk::runtime::lock::AccountId {
        environment: "sim".into(),
        key_id: fx.sim.key_id.clone(),
        subaccount: 0,
    };
    let contact =
        kalshi_desk::runtime::kill::tell_desk(&state_dir, &account, "mid-kill crash", WAIT).await;
    assert!(
        matches!(
            contact,
            kalshi_desk::runtime::kill::DeskContact::Told { .. }
        ),
        "{contact:?}"
    );
    let journal_path = desk_journal_path(&fx, &state_dir);
    let last_halt = || {
        Journal::open(&journal_path)
            .and_then(|j| j.last_halt(Mode::Live))
            .ok()
            .flatten()
    };
    wait_until("the kill journaled as pending", || {
        last_halt().is_some_and(|h| h.state == HaltState::Pending)
    })
    .await;
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    let killed_at = last_halt().map(|h| h.ts_ms).expect("the pending halt");
    fx.sim
        .faults()
        .update(|f| f.rest.latency_ms = 0)
        .expect("fault cleared");

    let mut config = fx.config(markets.clone());
    config.state_dir = Some(state_dir.clone());
    config.strategies = markets.iter().map(|t| (t.clone(), maker(2))).collect();
    let desk = desk::start(config).await.expect("desk restarts");
    assert!(
        desk.startup()
            .started_halted
            .as_deref()
            .is_some_and(|r| r.contains("mid-kill crash")),
        "{:?}",
        desk.startup()
    );
    assert!(desk.is_halted());
    let snapshot = wait_snapshot(&desk, "the restart's kill flat", |s| {
        s.kill.phase == KillPhase::Flat && matches!(s.trading, TradingState::Halted { .. })
    })
    .await;
    assert!(
        fx.exchange_resting().is_empty(),
        "{:?}",
        fx.exchange_resting()
    );
    assert_eq!(snapshot.kill.exchange_resting, Some(0));
    let late = fx
        .sim
        .with_exchange(|exchange| exchange.exposure_accepted_after(killed_at));
    assert_eq!(late, 0, "no create or amend accepted after the kill");
    desk.shutdown().await;
    fx.sim.shutdown().await;
}
