//! Record → backtest on scripted tapes: hand-computed P&L, determinism, gap handling.

use kalshi_desk::core::control::MarketState;
use kalshi_desk::core::engine::AuditKind;
use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::{Count, Money};
use kalshi_desk::core::strategy::StrategyParams;
use kalshi_desk::replay::backtest::{self, BacktestConfig, Replay};
use kalshi_desk::replay::config::strategy_params;
use kalshi_desk::store::tape::{TapeEntry, TapeHeader, TapeWriter, read_tape};
use serde_json::json;

const T0: i64 = 1_790_000_000_000;
const TICKER: &str = "KXTEST-26DEC31-B1";

fn header() -> TapeHeader {
    TapeHeader {
        version: 1,
        environment: "sim".into(),
        started_ms: T0,
        markets: vec![json!({
            "ticker": TICKER,
            "event_ticker": "KXTEST-26DEC31",
            "status": "active",
            "close_time": "2026-12-31T21:00:00Z",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]
        })],
        series: vec![json!({"ticker": "KXTEST", "fee_type": "quadratic", "fee_multiplier": 1})],
        use_yes_price: false,
    }
}

fn frame(rx_ms: i64, value: serde_json::Value) -> TapeEntry {
    TapeEntry::Frame {
        rx_ms,
        conn: 1,
        text: value.to_string(),
    }
}

fn snapshot(rx_ms: i64, seq: u64, yes: &[(&str, &str)], no: &[(&str, &str)]) -> TapeEntry {
    frame(
        rx_ms,
        json!({"type": "orderbook_snapshot", "sid": 1, "seq": seq, "msg": {
            "market_ticker": TICKER, "market_id": "m-1",
            "yes_dollars_fp": yes, "no_dollars_fp": no}}),
    )
}

fn delta(rx_ms: i64, seq: u64, side: &str, price: &str, delta: &str) -> TapeEntry {
    frame(
        rx_ms,
        json!({"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": {
            "market_ticker": TICKER, "market_id": "m-1", "price_dollars": price,
            "delta_fp": delta, "side": side, "ts_ms": rx_ms}}),
    )
}

fn determined(rx_ms: i64, result: &str) -> TapeEntry {
    frame(
        rx_ms,
        json!({"type": "market_lifecycle_v2", "sid": 3, "msg": {
            "market_ticker": TICKER, "event_type": "determined", "result": result,
            "determination_ts": rx_ms / 1000}}),
    )
}

/// Write entries through the recorder's writer and read them back, as `kdesk backtest` does.
fn record(entries: &[TapeEntry]) -> kalshi_desk::store::tape::Tape {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = TapeWriter::create(dir.path(), "scripted", header(), 1 << 20).unwrap();
    for entry in entries {
        writer.append(entry).unwrap();
    }
    let files = writer.finish().unwrap();
    read_tape(&files).unwrap()
}

fn trigger_yes_at_or_below(threshold: &str, contracts: i64) -> StrategyParams {
    let table: toml::Table = toml::from_str(&format!(
        r#"strategy = "trigger"
field = "yes_ask"
comparison = "at_or_below"
threshold = "{threshold}"
take = "yes"
max_count = "{contracts}.00"
limit_price = "{threshold}"
"#
    ))
    .unwrap();
    strategy_params(TICKER, &table).unwrap()
}

fn maker() -> StrategyParams {
    let table: toml::Table = toml::from_str(
        r#"strategy = "maker"
half_spread = "0.02"
size = "5.00"
"#,
    )
    .unwrap();
    strategy_params(TICKER, &table).unwrap()
}

fn m(text: &str) -> Money {
    Money::parse(text).unwrap()
}

#[test]
fn record_then_backtest_gives_the_hand_computed_pnl() {
    // YES ask 0.35 × 10 (a NO bid at 0.65); the trigger buys 10 YES at or below 0.35; the
    // market settles YES.
    let tape = record(&[
        TapeEntry::Connected { rx_ms: T0, conn: 1 },
        snapshot(T0 + 10, 1, &[("0.3000", "50.00")], &[("0.6500", "10.00")]),
        delta(T0 + 2_000, 2, "yes", "0.3000", "-5.00"),
        determined(T0 + 10_000, "yes"),
    ]);
    let config = BacktestConfig::new(vec![(
        Ticker::from(TICKER),
        trigger_yes_at_or_below("0.35", 10),
    )]);
    let report = backtest::run(&tape, &config, &mut |_, _| {});
    // Cost 10 × 0.35 = 3.50; payout 10 × 1.00; taker fee ⌈0.07 × 10 × 0.35 × 0.65⌉ to the
    // centicent = ⌈0.15925⌉ = 0.1593. P&L = 10.00 − 3.50 − 0.1593 = 6.3407.
    let whole = &report.whole;
    assert_eq!(whole.fees, m("0.1593"), "{}", report.to_text());
    assert_eq!(whole.pnl, m("6.3407"), "{}", report.to_text());
    assert_eq!(
        (whole.fills, whole.taker_fills, whole.maker_fills),
        (1, 1, 0)
    );
    assert_eq!(whole.contracts, Count::from_contracts(10));
    let market = &whole.markets[TICKER];
    assert_eq!(market.position, Count::ZERO, "settled");
    // Held from the fill (after 50 ms latency) until the settlement.
    assert_eq!(market.time_in_market_ms, 10_000 - 10 - 50);
    // Our take emptied the ask, so there is no mid: the position is marked at the fill price
    // and equity sits at −fee until the settlement.
    assert_eq!(whole.max_drawdown, m("0.1593"));
    assert_eq!(report.in_sample.fills, 1);
    assert_eq!(report.out_of_sample.fills, 0);
    assert_eq!(
        report
            .in_sample
            .pnl
            .saturating_add(report.out_of_sample.pnl),
        whole.pnl
    );
}

#[test]
fn without_the_liquidity_there_is_no_fill() {
    // The same trigger but the ask is at 0.36: nothing happens, P&L zero.
    let tape = record(&[
        TapeEntry::Connected { rx_ms: T0, conn: 1 },
        snapshot(T0 + 10, 1, &[("0.3000", "50.00")], &[("0.6400", "10.00")]),
        determined(T0 + 10_000, "yes"),
    ]);
    let config = BacktestConfig::new(vec![(
        Ticker::from(TICKER),
        trigger_yes_at_or_below("0.35", 10),
    )]);
    let report = backtest::run(&tape, &config, &mut |_, _| {});
    assert_eq!(report.whole.fills, 0);
    assert_eq!(report.whole.pnl, Money::ZERO);
}

fn busy_tape() -> kalshi_desk::store::tape::Tape {
    let mut entries = vec![
        TapeEntry::Connected { rx_ms: T0, conn: 1 },
        snapshot(T0 + 10, 1, &[("0.4500", "20.00")], &[("0.5000", "20.00")]),
    ];
    for i in 0..200i64 {
        let seq = 2 + i as u64;
        let at = T0 + 100 + i * 250;
        let (side, price) = if i % 2 == 0 {
            ("yes", "0.4500")
        } else {
            ("no", "0.5000")
        };
        entries.push(delta(
            at,
            seq,
            side,
            price,
            if i % 4 < 2 { "3.00" } else { "-2.00" },
        ));
        let taker = if i % 3 == 0 { "no" } else { "yes" };
        let (yes_price, no_price) = if taker == "no" {
            ("0.4500", "0.5500")
        } else {
            ("0.5000", "0.5000")
        };
        entries.push(frame(
            at + 5,
            json!({"type": "trade", "sid": 2, "msg": {
                "trade_id": format!("t{i}"), "market_ticker": TICKER,
                "yes_price_dollars": yes_price, "no_price_dollars": no_price,
                "count_fp": "4.00", "taker_side": taker, "is_block_trade": false,
                "ts": (at + 5) / 1000, "ts_ms": at + 5}}),
        ));
    }
    record(&entries)
}

#[test]
fn the_same_tape_gives_the_same_report_twice() {
    let tape = busy_tape();
    let config = BacktestConfig::new(vec![(Ticker::from(TICKER), maker())]);
    let first = backtest::run(&tape, &config, &mut |_, _| {});
    let second = backtest::run(&tape, &config, &mut |_, _| {});
    assert_eq!(first.tape.malformed, 0);
    assert!(
        first.whole.fills > 0,
        "the maker should trade: {}",
        first.to_text()
    );
    assert_eq!(first, second);
    assert_eq!(first.to_text(), second.to_text());
    assert_eq!(first.equity_csv(), second.equity_csv());
    assert_eq!(first.markets_csv(), second.markets_csv());
    assert_eq!(first.chart_svg(), second.chart_svg());
    assert!(first.chart_svg().starts_with("<svg"));
}

fn states(audits: &[kalshi_desk::core::engine::AuditEvent]) -> Vec<MarketState> {
    audits
        .iter()
        .filter_map(|a| match &a.event {
            AuditKind::ControlChanged { to, .. } => Some(to.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_gap_marker_pauses_the_strategy_until_the_book_is_resynced() {
    let tape = record(&[
        TapeEntry::Connected { rx_ms: T0, conn: 1 },
        snapshot(T0 + 10, 1, &[("0.4500", "20.00")], &[("0.5000", "20.00")]),
        delta(T0 + 500, 2, "yes", "0.4500", "1.00"),
        TapeEntry::Gap {
            rx_ms: T0 + 1_000,
            conn: 1,
            tickers: vec![TICKER.into()],
            reason: "seq 3 missing".into(),
        },
        // Deltas before the new snapshot are not applied.
        delta(T0 + 1_100, 4, "yes", "0.4500", "100.00"),
        snapshot(
            T0 + 6_000,
            5,
            &[("0.4500", "20.00")],
            &[("0.5000", "20.00")],
        ),
        delta(T0 + 7_000, 6, "yes", "0.4500", "1.00"),
    ]);
    let config = BacktestConfig::new(vec![(Ticker::from(TICKER), maker())]);
    let mut replay = Replay::start(&tape, &config);
    let mut armed_before_gap = false;
    let mut held_or_paused = false;
    let mut rearmed = false;
    let ticker = Ticker::from(TICKER);
    let mut changes = Vec::new();
    for entry in &tape.entries {
        replay.entry(entry);
        changes.extend(states(&replay.session.take_audits()));
        let state = replay.session.engine().control().state(&ticker);
        let at = entry.rx_ms() - T0;
        if at == 500 {
            armed_before_gap = state == MarketState::Armed;
        }
        if (1_000..6_000).contains(&at) {
            held_or_paused |= state != MarketState::Armed;
        }
        if at >= 6_000 && state == MarketState::Armed {
            rearmed = true;
        }
    }
    assert!(armed_before_gap, "armed on a fresh book: {changes:?}");
    assert!(held_or_paused, "the gap must stop quoting: {changes:?}");
    assert!(rearmed, "the resync must re-arm the market: {changes:?}");
}

/// The desk itself (runtime::desk) on the simulator over loopback: paper mode, the metrics
/// endpoint and the recording toggle. Every wait is on a snapshot or an audit with a generous
/// timeout.
mod desk_modes {
    use std::sync::Arc;
    use std::time::Duration;

    use kalshi_desk::core::engine::{AuditKind, Command, ManualOrder};
    use kalshi_desk::core::market::{MarketStatus, Ticker};
    use kalshi_desk::core::num::{Count, Money, Price};
    use kalshi_desk::core::order::OrderSide;
    use kalshi_desk::core::risk::TimeInForce;
    use kalshi_desk::kalshi::wire::BookSide;
    use kalshi_desk::replay::backtest::{BacktestConfig, Replay};
    use kalshi_desk::runtime::desk::{self, DeskConfig, DeskHandle, DeskSnapshot};
    use kalshi_desk::runtime::metrics::{self, DeskMetrics};
    use kalshi_desk::runtime::paper_executor::PaperSettings;
    use kalshi_desk::sim::server::{SimConfig, SimHandle, SimServer};
    use kalshi_desk::store::journal::{Journal, Mode};
    use kalshi_desk::store::tape::{TapeEntry, read_tape};

    use crate::desk_wait::{WAIT, wait_audit, wait_snapshot};
    use crate::sim_desk::{member_order, sim_desk_config};

    struct Fixture {
        sim: SimHandle,
        dir: tempfile::TempDir,
        ticker: Ticker,
    }

    /// A quiet simulator (no synthetic traders) with one market whose book is YES bid 0.45 x100
    /// (and 0.44 x50 below it), YES ask 0.55 x100, all from another member.
    async fn fixture() -> Fixture {
        fixture_with(|fx| {
            fx.cross("liquidity", BookSide::Bid, "0.45", 100, false);
            fx.cross("liquidity", BookSide::Bid, "0.44", 50, false);
            fx.cross("liquidity", BookSide::Ask, "0.55", 100, false);
        })
        .await
    }

    /// A quiet simulator (no synthetic traders) with one active market, its book set by `book`.
    async fn fixture_with(book: impl FnOnce(&Fixture)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimServer::start(SimConfig {
            key_dir: dir.path().join("keys"),
            flow: false,
            rate_limits: None,
            seed: 13,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let ticker = sim
            .with_exchange(|exchange| {
                exchange
                    .market_states()
                    .find(|m| m.status == MarketStatus::Active)
                    .map(|m| m.ticker.clone())
            })
            .unwrap();
        let fx = Fixture { sim, dir, ticker };
        book(&fx);
        fx
    }

    impl Fixture {
        fn cross(&self, user: &str, side: BookSide, price: &str, count: i64, take: bool) {
            member_order(&self.sim, user, &self.ticker, side, price, count, take);
        }

        fn config(&self) -> DeskConfig {
            let mut config = sim_desk_config(
                &self.sim,
                &self.dir.path().join("state"),
                vec![self.ticker.clone()],
            );
            config.tape_dir = Some(self.dir.path().join("tapes"));
            config
        }

        /// Every write of the desk's key the exchange ever received.
        fn writes_of_desk_key(&self) -> usize {
            let user = self.sim.user_id.clone();
            self.sim.with_exchange(|exchange| {
                exchange
                    .order_log()
                    .iter()
                    .filter(|entry| entry.user_id == user)
                    .count()
            })
        }
    }

    fn bid_size(snapshot: &DeskSnapshot, ticker: &Ticker, price: &str) -> Option<Count> {
        let price = Price::parse(price).unwrap();
        snapshot.market(ticker.as_str()).and_then(|m| {
            m.yes_bids
                .iter()
                .find(|level| level.price == price)
                .map(|level| level.size)
        })
    }

    fn order(ticker: &Ticker, side: OrderSide, price: &str, count: i64) -> ManualOrder {
        ManualOrder {
            ticker: ticker.clone(),
            side,
            price: Price::parse(price).unwrap(),
            count: Count::from_contracts(count),
            time_in_force: TimeInForce::GoodTillCanceled,
            post_only: false,
            reduce_only: false,
            expiration_s: None,
        }
    }

    /// Wait (on snapshots) until the metrics text satisfies `ok`, then return it.
    async fn scrape_until(
        desk: &DeskHandle,
        addr: std::net::SocketAddr,
        ok: impl Fn(&str) -> bool,
    ) -> String {
        let mut snapshots = desk.watch_snapshots();
        let mut body = String::new();
        let found = tokio::time::timeout(WAIT, async {
            loop {
                body = reqwest::get(format!("http://{addr}/metrics"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                if ok(&body) {
                    return;
                }
                // The feeder updates on snapshots: scrape again after the next one.
                let _ = tokio::time::timeout(Duration::from_secs(1), snapshots.changed()).await;
            }
        })
        .await;
        assert!(found.is_ok(), "metrics never matched; last scrape:\n{body}");
        body
    }

    /// Paper mode of the real desk: the order joins behind the 100 contracts shown at its
    /// price, a trade that only eats into that queue does not fill it, a trade through its
    /// price does; nothing of the desk's key reaches the exchange; the journal holds only
    /// paper rows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn paper_desk_fills_behind_the_queue_and_never_writes_to_the_exchange() {
        let fx = fixture().await;
        let mut config = fx.config();
        config.paper = Some(PaperSettings::default());
        let journal_path = fx.dir.path().join("paper-journal.sqlite");
        config.journal_path = Some(journal_path.clone());
        let desk = desk::start(config).await.unwrap();
        assert!(desk.paper().is_some());
        let ticker = fx.ticker.clone();
        wait_snapshot(&desk, "the book", |s| {
            bid_size(s, &ticker, "0.45") == Some(Count::from_contracts(100))
        })
        .await;
        let mut audits = desk.subscribe_audits();
        desk.send(Command::PlaceManual(order(
            &ticker,
            OrderSide::Bid,
            "0.45",
            5,
        )))
        .await
        .unwrap();
        let sent = wait_audit(&mut audits, "the place intent", |e| {
            matches!(e, AuditKind::IntentEmitted { .. })
        })
        .await;
        let acked = wait_audit(&mut audits, "the paper ack", |e| {
            matches!(e, AuditKind::OrderAcked { .. })
        })
        .await;
        assert!(
            acked.mono_ns - sent.mono_ns >= 50_000_000,
            "the order travelled the configured 50 ms to the local book"
        );
        let paper = desk.paper().unwrap().clone();
        let resting = paper.resting(ticker.as_str());
        assert_eq!(resting.len(), 1);
        assert_eq!(resting[0].queue_ahead, Count::from_contracts(100));

        // 60 contracts trade at our price: all from the queue ahead of us.
        fx.cross("taker", BookSide::Ask, "0.45", 60, true);
        wait_snapshot(&desk, "the level down to 40", |s| {
            bid_size(s, &ticker, "0.45") == Some(Count::from_contracts(40))
                && paper.resting(ticker.as_str())[0].queue_ahead == Count::from_contracts(40)
        })
        .await;
        assert_eq!(desk.snapshot().pnl.fees, Money::ZERO);
        assert_eq!(
            paper.resting(ticker.as_str())[0].remaining,
            Count::from_contracts(5),
            "not filled ahead of the queue"
        );

        // 50 more sell: 40 clear the rest of the queue at 0.45, 10 print through at 0.44.
        fx.cross("taker", BookSide::Ask, "0.44", 50, true);
        let fill = wait_audit(&mut audits, "our paper fill", |e| {
            matches!(e, AuditKind::Fill { .. })
        })
        .await;
        match fill.event {
            AuditKind::Fill {
                yes_price, count, ..
            } => {
                assert_eq!(yes_price, Price::parse("0.45").unwrap());
                assert_eq!(count, Count::from_contracts(5));
            }
            other => panic!("{other:?}"),
        }
        assert!(paper.resting(ticker.as_str()).is_empty());
        wait_snapshot(&desk, "the position", |s| {
            s.markets
                .iter()
                .any(|m| m.ticker == ticker && m.position.contracts == Count::from_contracts(5))
        })
        .await;

        // A kill cancels locally too: still no write at the exchange.
        desk.send(Command::PlaceManual(order(
            &ticker,
            OrderSide::Bid,
            "0.44",
            3,
        )))
        .await
        .unwrap();
        wait_audit(&mut audits, "the second ack", |e| {
            matches!(e, AuditKind::OrderAcked { .. })
        })
        .await;
        desk.kill("paper kill test");
        wait_snapshot(&desk, "flat", |s| {
            s.kill.phase == kalshi_desk::runtime::desk::KillPhase::Flat
        })
        .await;
        assert_eq!(paper.resting_count(), 0);
        assert_eq!(
            fx.writes_of_desk_key(),
            0,
            "a paper desk wrote to the exchange"
        );
        desk.shutdown().await;

        let journal = Journal::open(&journal_path).unwrap();
        assert!(
            !journal
                .events_of_kind("fill", Mode::Paper)
                .unwrap()
                .is_empty()
        );
        assert!(
            journal.recent(1_000, Some(Mode::Live)).unwrap().is_empty(),
            "live rows in a paper journal"
        );
        assert!(journal.last_halt(Mode::Paper).unwrap().is_some());
        assert!(journal.last_halt(Mode::Live).unwrap().is_none());
    }

    /// What the public does at our paper bid's price after it joined.
    #[derive(Debug, Clone)]
    enum Flow {
        /// Another member bids at our price: behind us.
        AddBehind(i64),
        /// A taker sells into our price level only.
        SellAt(i64),
        /// A taker sells the whole level and this many more one tick below.
        SellThrough(i64),
    }

    fn flow() -> impl proptest::strategy::Strategy<Value = Flow> {
        use proptest::prelude::*;
        prop_oneof![
            (1i64..15).prop_map(Flow::AddBehind),
            (1i64..25).prop_map(Flow::SellAt),
            (1i64..8).prop_map(Flow::SellThrough),
        ]
    }

    /// One case: a paper bid for `ours` at 0.45 behind `initial` public contracts, then the
    /// flows; returns (filled, sold at or through 0.45).
    async fn paper_queue_case(initial: i64, ours: i64, flows: &[Flow]) -> (Count, i64) {
        let fx = fixture_with(|fx| {
            if initial > 0 {
                fx.cross("liquidity", BookSide::Bid, "0.45", initial, false);
            }
            fx.cross("liquidity", BookSide::Bid, "0.44", 500, false);
            fx.cross("liquidity", BookSide::Ask, "0.55", 100, false);
        })
        .await;
        let mut config = fx.config();
        config.paper = Some(PaperSettings::default());
        config.state_dir = None;
        let desk = desk::start(config).await.unwrap();
        let ticker = fx.ticker.clone();
        wait_snapshot(&desk, "the book", |s| {
            bid_size(s, &ticker, "0.44") == Some(Count::from_contracts(500))
        })
        .await;
        let mut audits = desk.subscribe_audits();
        desk.send(Command::PlaceManual(order(
            &ticker,
            OrderSide::Bid,
            "0.45",
            ours,
        )))
        .await
        .unwrap();
        wait_audit(&mut audits, "the paper ack", |e| {
            matches!(e, AuditKind::OrderAcked { .. })
        })
        .await;
        let mut level = initial;
        let mut sold = 0;
        for flow in flows {
            match flow {
                Flow::AddBehind(n) => {
                    fx.cross("behind", BookSide::Bid, "0.45", *n, false);
                    level += n;
                }
                Flow::SellAt(n) => {
                    let n = (*n).min(level);
                    if n > 0 {
                        fx.cross("taker", BookSide::Ask, "0.45", n, true);
                        level -= n;
                        sold += n;
                    }
                }
                Flow::SellThrough(n) => {
                    fx.cross("taker", BookSide::Ask, "0.44", level + n, true);
                    sold += level + n;
                    level = 0;
                }
            }
        }
        // One connection delivers in order: once this bid shows, every earlier trade and
        // delta (and the paper fills they caused) went through the desk.
        fx.cross("sentinel", BookSide::Bid, "0.30", 1, false);
        wait_snapshot(&desk, "the sentinel", |s| {
            bid_size(s, &ticker, "0.30") == Some(Count::from_contracts(1))
        })
        .await;
        let remaining = desk
            .paper()
            .unwrap()
            .resting(ticker.as_str())
            .first()
            .map_or(Count::ZERO, |o| o.remaining);
        let filled = Count::from_contracts(ours).saturating_sub(remaining);
        assert_eq!(fx.writes_of_desk_key(), 0);
        desk.shutdown().await;
        (filled, sold)
    }

    /// Property, through the whole desk: a paper order never fills ahead of the queue it
    /// joined — its fills never exceed what traded at or through its price minus the public
    /// size that was ahead of it — and never beyond its size. Seeded, few cases (each starts a
    /// simulator and a desk).
    #[test]
    fn a_paper_desk_never_fills_ahead_of_the_queue() {
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
        let config = Config {
            cases: 4,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
        let strategy = (0i64..60, 1i64..20, proptest::collection::vec(flow(), 1..6));
        let result = runner.run(&strategy, |(initial, ours, flows)| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let (filled, sold) = runtime.block_on(paper_queue_case(initial, ours, &flows));
            let bound = (sold - initial).max(0).min(ours);
            proptest::prop_assert!(
                filled <= Count::from_contracts(bound),
                "filled {filled} of {ours} behind {initial} with {sold} sold: {flows:?}"
            );
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
    }

    fn metric(body: &str, series: &str) -> Option<i64> {
        body.lines()
            .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
            .and_then(|line| line[series.len()..].trim().parse().ok())
    }

    /// `--metrics` on a live desk: an order placed and filled at the exchange, then a kill,
    /// show up in the scraped series with their values.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_desk_serves_its_metrics() {
        let fx = fixture().await;
        let desk = desk::start(fx.config()).await.unwrap();
        let metrics = Arc::new(DeskMetrics::new());
        let (addr, server) = metrics::serve("127.0.0.1:0".parse().unwrap(), metrics.clone())
            .await
            .unwrap();
        let feeder = metrics::feed_from_desk(&desk, metrics);
        let ticker = fx.ticker.clone();
        wait_snapshot(&desk, "the book", |s| {
            bid_size(s, &ticker, "0.45") == Some(Count::from_contracts(100))
        })
        .await;
        let mut audits = desk.subscribe_audits();
        // Buy 2 YES at the ask: takes from the resting 0.55 offer.
        desk.send(Command::PlaceManual(order(
            &ticker,
            OrderSide::Bid,
            "0.55",
            2,
        )))
        .await
        .unwrap();
        wait_audit(&mut audits, "the fill", |e| {
            matches!(e, AuditKind::Fill { .. })
        })
        .await;
        // An order the risk gate refuses (size over the per-order cap).
        desk.send(Command::PlaceManual(order(
            &ticker,
            OrderSide::Bid,
            "0.45",
            1_000_000,
        )))
        .await
        .unwrap();
        let body = scrape_until(&desk, addr, |b| {
            metric(b, "kdesk_fills_total") == Some(1)
                && metric(b, "kdesk_orders_placed_total") == Some(1)
                && metric(b, "kdesk_feed_messages_total").is_some_and(|n| n > 0)
                && b.contains("kdesk_orders_refused_total{rule=\"max_order\"} 1")
        })
        .await;
        assert!(
            metric(&body, "kdesk_feed_messages_total").unwrap_or(0) > 0,
            "{body}"
        );
        assert_eq!(metric(&body, "kdesk_trading_halted"), Some(0), "{body}");
        assert_eq!(metric(&body, "kdesk_paper"), Some(0), "{body}");
        assert!(
            body.contains("kdesk_ratelimit_available_tokens{bucket=\"write\"}"),
            "{body}"
        );
        assert!(body.contains("kdesk_daily_pnl_micro_dollars"), "{body}");
        assert!(body.contains("kdesk_feed_lag_p99_ms"), "{body}");

        desk.kill("metrics test");
        let flat = wait_snapshot(&desk, "flat", |s| s.kill.time_to_flat_ms.is_some()).await;
        let ms = flat.kill.time_to_flat_ms.unwrap() as i64;
        let body = scrape_until(&desk, addr, |b| {
            metric(b, "kdesk_trading_halted") == Some(1)
                && metric(b, "kdesk_last_kill_time_to_flat_ms") == Some(ms)
        })
        .await;
        assert!(body.contains("kdesk_feed_reconnects_total 0"), "{body}");
        feeder.abort();
        server.abort();
        desk.shutdown().await;
    }

    /// The recording toggle tees the desk's own feed: on, frames flow, off, and the tape
    /// replays to the book the desk saw.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_recording_toggle_tapes_the_desk_feed_and_the_tape_replays() {
        let fx = fixture().await;
        let desk = desk::start(fx.config()).await.unwrap();
        let ticker = fx.ticker.clone();
        wait_snapshot(&desk, "the book", |s| {
            bid_size(s, &ticker, "0.45") == Some(Count::from_contracts(100))
        })
        .await;
        let recorder = desk.recorder().clone();
        let first = recorder.start().await.unwrap();
        assert!(recorder.is_recording());
        assert!(first.starts_with(fx.dir.path().join("tapes")));
        // Frames flow: the book changes while recording.
        fx.cross("taker", BookSide::Ask, "0.45", 30, true);
        wait_snapshot(&desk, "the trade applied", |s| {
            bid_size(s, &ticker, "0.45") == Some(Count::from_contracts(70))
        })
        .await;
        let summary = recorder.stop().await.unwrap();
        assert!(!recorder.is_recording());
        assert!(summary.frames > 0, "{summary:?}");
        // Off: later frames are not taped.
        fx.cross("taker", BookSide::Ask, "0.45", 10, true);
        wait_snapshot(&desk, "the next trade", |s| {
            bid_size(s, &ticker, "0.45") == Some(Count::from_contracts(60))
        })
        .await;
        desk.shutdown().await;

        let tape = read_tape(&summary.files).unwrap();
        assert!(tape.header.use_yes_price);
        assert!(
            tape.header
                .markets
                .iter()
                .any(|m| m["ticker"] == ticker.as_str())
        );
        assert!(matches!(tape.entries.first(), Some(TapeEntry::Gap { .. })));
        assert!(matches!(tape.entries.last(), Some(TapeEntry::Note { .. })));
        let frames = tape
            .entries
            .iter()
            .filter(|e| matches!(e, TapeEntry::Frame { .. }))
            .count() as u64;
        assert_eq!(frames, summary.frames);
        let mut replay = Replay::start(&tape, &BacktestConfig::new(Vec::new()));
        for entry in &tape.entries {
            replay.entry(entry);
        }
        let best = replay
            .session
            .engine()
            .books()
            .best_yes_bid(ticker.as_str())
            .unwrap();
        assert_eq!(best.price, Price::parse("0.45").unwrap());
        assert_eq!(best.size, Count::from_contracts(70), "the book as recorded");
    }
}

#[test]
fn a_resting_order_expires_at_its_expiration_time() {
    use kalshi_desk::core::engine::{Command, ManualOrder};
    use kalshi_desk::core::num::Price;
    use kalshi_desk::core::risk::{Side, TimeInForce};
    use kalshi_desk::core::time::Now;

    let tape = record(&[
        TapeEntry::Connected { rx_ms: T0, conn: 1 },
        snapshot(T0 + 10, 1, &[("0.4500", "20.00")], &[("0.5000", "20.00")]),
        delta(T0 + 1_000, 2, "yes", "0.4500", "1.00"),
        delta(T0 + 9_000, 3, "yes", "0.4500", "1.00"),
    ]);
    let config = BacktestConfig::new(Vec::new());
    let mut replay = Replay::start(&tape, &config);
    replay.entry(&tape.entries[0]);
    replay.entry(&tape.entries[1]);
    replay.session.command(
        Command::PlaceManual(ManualOrder {
            ticker: Ticker::from(TICKER),
            side: Side::Bid,
            price: Price::parse("0.44").unwrap(),
            count: Count::from_contracts(3),
            time_in_force: TimeInForce::GoodTillCanceled,
            post_only: true,
            reduce_only: false,
            expiration_s: Some((T0 + 5_000) / 1000),
        }),
        Now::new(10_000_000, T0 + 10, 0),
    );
    replay.entry(&tape.entries[2]);
    assert_eq!(
        replay.session.model().resting_count(),
        1,
        "placed after the latency"
    );
    assert_eq!(replay.session.engine().orders().open_orders().count(), 1);
    replay.entry(&tape.entries[3]);
    assert_eq!(
        replay.session.model().resting_count(),
        0,
        "expired at the exchange"
    );
    assert_eq!(
        replay.session.engine().orders().open_orders().count(),
        0,
        "and the engine knows"
    );
}
