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

mod paper_trading {
    use std::sync::Arc;
    use std::time::Duration;

    use kalshi_desk::core::engine::EngineConfig;
    use kalshi_desk::core::market::Ticker;
    use kalshi_desk::core::num::Money;
    use kalshi_desk::kalshi::auth::Signer;
    use kalshi_desk::kalshi::rest::{RestClient, RestConfig};
    use kalshi_desk::kalshi::wire::{GetMarketsParams, GetOrdersParams};
    use kalshi_desk::replay::paper::{self, PaperConfig};
    use kalshi_desk::runtime::metrics::{self, DeskMetrics};
    use kalshi_desk::sim::server::{SimConfig, SimServer};
    use kalshi_desk::store::journal::{Journal, Mode};

    fn metric(body: &str, name: &str) -> Option<f64> {
        body.lines()
            .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
            .and_then(|line| line[name.len()..].trim().parse().ok())
    }

    /// Paper on the simulator's live feed: the maker quotes and fills locally, the exchange
    /// never sees an order, the journal holds paper records only, and the metrics endpoint
    /// serves the feed and order series.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn paper_trades_live_data_without_sending_orders() {
        let keys = tempfile::tempdir().unwrap();
        let sim = SimServer::start(SimConfig {
            seed: 11,
            markets: 6,
            key_dir: keys.path().to_path_buf(),
            tick: Duration::from_millis(20),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let signer = Signer::from_key_file(sim.key_id.clone(), &sim.key_file, false).unwrap();
        let rest = RestClient::new(
            RestConfig::new(sim.rest_base_url.clone()),
            Some(signer.clone()),
        )
        .unwrap();
        let markets: Vec<Ticker> = rest
            .all_markets(&GetMarketsParams::default())
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.ticker)
            .take(3)
            .collect();
        let maker = super::maker();
        let state = tempfile::tempdir().unwrap();
        let journal_path = state.path().join("paper.sqlite");
        let desk_metrics = Arc::new(DeskMetrics::new());
        let (addr, server) = metrics::serve("127.0.0.1:0".parse().unwrap(), desk_metrics.clone())
            .await
            .unwrap();
        let config = PaperConfig {
            ws_url: sim.ws_url.clone(),
            markets: markets.clone(),
            infos: Vec::new(),
            fees: Vec::new(),
            strategies: markets.iter().map(|t| (t.clone(), maker.clone())).collect(),
            engine: EngineConfig::default(),
            latency_ms: 20,
            starting_cash: Money::from_cents(1_000_000),
            journal: Some(journal_path.clone()),
            tick_ms: 50,
            status_every_ms: 100,
        };
        let (progress_tx, mut progress_rx) = tokio::sync::watch::channel((0u64, 0u64));
        let stop = async move {
            // Enough market data and at least one local order; a generous bound otherwise.
            let _ = tokio::time::timeout(
                Duration::from_secs(60),
                progress_rx.wait_for(|(events, orders)| *events >= 100 && *orders >= 2),
            )
            .await;
        };
        let mut lines = Vec::new();
        let status = paper::run(config, signer, Some(desk_metrics.clone()), stop, |s| {
            lines.push(s.line());
            let _ = progress_tx.send((s.market_events, s.orders));
        })
        .await
        .unwrap();
        assert!(status.market_events >= 100, "{status:?}");
        assert!(status.orders >= 2, "{status:?}");
        assert!(lines.iter().all(|l| l.starts_with("PAPER ")));
        // The exchange never saw an order from us.
        let orders = rest.all_orders(&GetOrdersParams::default()).await.unwrap();
        assert!(
            orders.is_empty(),
            "paper orders reached the exchange: {orders:?}"
        );
        // Paper records, kept apart from live ones.
        let journal = Journal::open(&journal_path).unwrap();
        assert!(
            !journal
                .events_of_kind("intent_emitted", Mode::Paper)
                .unwrap()
                .is_empty()
        );
        assert!(journal.recent(100, Some(Mode::Live)).unwrap().is_empty());
        // The metrics endpoint answers with the series paper feeds.
        let body = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let feed = metric(&body, "kdesk_feed_messages_total").unwrap_or(0.0);
        assert!(feed >= 100.0, "feed messages {feed} in\n{body}");
        let placed = metric(&body, "kdesk_orders_placed_total").unwrap_or(0.0);
        assert_eq!(placed as u64, status.orders, "{body}");
        assert!(body.contains("kdesk_realized_pnl_micro_dollars"), "{body}");
        server.abort();
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
