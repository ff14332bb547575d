//! Render: one full frame of the desk screen (every panel: watchlist, book ladder, working
//! orders, positions, strategies, P&L, chart, tape, health, log) with 100 markets, into
//! ratatui's `TestBackend` at 200x60. The peer is the same screen at 80x24.
//!
//! `cargo bench --bench render`.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use kalshi_desk::core::book::Level;
use kalshi_desk::core::control::{MarketState, TradingState};
use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::{Count, Money, Price};
use kalshi_desk::core::order::{ClientOrderId, Order, OrderId, OrderOwner, OrderSide, OrderState};
use kalshi_desk::core::strategy::{MakerParams, StrategyParams};
use kalshi_desk::runtime::clock;
use kalshi_desk::runtime::snapshot::{DeskSnapshot, Health, KillProgress, MarketView, PnlView};
use kalshi_desk::tui::adapt::{PositionFacts, position_with};
use kalshi_desk::tui::app::{AppConfig, AppState, Msg, update};
use kalshi_desk::tui::keymap::Keymap;
use kalshi_desk::tui::replica::{MarketMeta, TapeRow};
use kalshi_desk::tui::theme::Theme;
use kalshi_desk::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use common::{Bar, result};

/// 2026-11-25 21:00:00 UTC.
const NOW_MS: i64 = 1_795_640_400_000;
const MARKETS: usize = 100;
const LEVELS: i64 = 10;

fn price(cents: i64) -> Price {
    Price::from_cents(cents.clamp(1, 99)).unwrap_or(Price::ZERO)
}

fn ladder(best: i64, step: i64) -> Vec<Level> {
    (0..LEVELS)
        .map(|i| Level {
            price: price(best + step * i),
            size: Count::from_contracts(10 + 7 * i),
        })
        .collect()
}

fn ticker(i: usize) -> Ticker {
    Ticker::from(format!("KXBENCH-26NOV-T{}.{}", i / 10, i % 10).as_str())
}

fn snapshot() -> DeskSnapshot {
    let mut markets = Vec::new();
    let mut orders = Vec::new();
    for i in 0..MARKETS {
        let t = ticker(i);
        let mid = 15 + (i as i64 * 7) % 70;
        let contracts = if i % 3 == 0 { (i as i64 % 40) - 20 } else { 0 };
        markets.push(MarketView {
            position: position_with(
                &t,
                PositionFacts {
                    contracts: Count::from_contracts(contracts),
                    cost: Money::from_cents(contracts.abs() * mid),
                    realized: Money::from_cents((i as i64 % 17) * 13 - 100),
                    fees: Money::from_cents(i as i64 % 9),
                },
            ),
            ticker: t.clone(),
            state: match i % 4 {
                0 => MarketState::Armed,
                1 => MarketState::Manual,
                _ => MarketState::Disarmed,
            },
            reasons: Vec::new(),
            yes_bids: ladder(mid - 1, -1),
            yes_asks: ladder(mid + 1, 1),
            book_age_ms: Some(100 + i as u64),
            resyncing: false,
            strategy: (i % 4 == 0).then_some("maker"),
        });
        if i % 2 == 0 {
            for (n, (side, cents)) in [(OrderSide::Bid, mid - 2), (OrderSide::Ask, mid + 2)]
                .into_iter()
                .enumerate()
            {
                let id = format!("m-maker-{i}-{n}");
                orders.push(Order {
                    client_order_id: ClientOrderId::new(&id),
                    current_client_order_id: ClientOrderId::new(&id),
                    order_id: Some(OrderId::new(&format!("x-{id}"))),
                    ticker: t.clone(),
                    owner: OrderOwner::strategy("maker"),
                    side,
                    yes_price: price(cents),
                    initial_count: Count::from_contracts(5),
                    reported_fill_count: Count::ZERO,
                    booked_fill_count: Count::ZERO,
                    remaining_count: Count::from_contracts(5),
                    state: OrderState::Resting,
                    lost_write: None,
                    cancel_requested: false,
                    cancel_acked: false,
                    pending_amend: None,
                    fees_paid: Money::ZERO,
                    reject_reason: None,
                    created_mono_ns: 0,
                    last_exchange_ts_ms: None,
                });
            }
        }
    }
    DeskSnapshot {
        version: 1,
        wall_ms: NOW_MS,
        last_audit_seq: 0,
        trading: TradingState::Active,
        markets,
        orders,
        pnl: PnlView {
            realized: Money::from_cents(1_217),
            unrealized: Money::from_cents(-340),
            daily: Money::from_cents(877),
            fees: Money::from_cents(153),
        },
        balance: Some(Money::from_cents(9_876_543)),
        health: Health {
            connected: true,
            ws_frames: 1_834_400,
            feed_lag_p50_ms: Some(4),
            feed_lag_p99_ms: Some(19),
            read_tokens: 18,
            read_capacity: 20,
            write_tokens: 9,
            write_capacity: 10,
            exchange_trading_active: Some(true),
            ..Health::default()
        },
        kill: KillProgress::default(),
    }
}

fn catalog() -> Vec<MarketMeta> {
    (0..MARKETS)
        .map(|i| MarketMeta {
            ticker: ticker(i).to_string(),
            event_ticker: format!("KXBENCH-26NOV-{}", i / 10),
            title: format!("Benchmark index above {}.{} in November?", i / 10, i % 10),
            yes_subtitle: format!("Above {}.{}", i / 10, i % 10),
            status: "active".into(),
            close_ms: Some(NOW_MS + 86_400_000 + i as i64 * 60_000),
            last_price: Some(price(15 + (i as i64 * 7) % 70)),
            volume_24h: Count::from_contracts(1_000 + i as i64 * 37),
            rules: "If the benchmark index is above the strike, the market resolves to Yes.".into(),
        })
        .collect()
}

fn trades() -> Vec<TapeRow> {
    (0..200)
        .map(|i| TapeRow {
            wall_ms: NOW_MS - 200_000 + i * 1_000,
            ticker: ticker(i as usize % MARKETS),
            yes_price: price(20 + i % 60),
            count: Count::from_contracts(1 + i % 9),
            side: if i % 2 == 0 {
                OrderSide::Bid
            } else {
                OrderSide::Ask
            },
            ours: i % 10 == 0,
        })
        .collect()
}

fn app(width: u16, height: u16) -> AppState {
    let mut state = AppState::new(
        AppConfig {
            account: "bench".into(),
            ..AppConfig::default()
        },
        Keymap::builtin(),
    );
    update(&mut state, Msg::Resize { width, height }, NOW_MS);
    update(&mut state, Msg::Snapshot(Arc::new(snapshot())), NOW_MS);
    update(&mut state, Msg::Catalog(catalog()), NOW_MS);
    update(&mut state, Msg::Trades(trades()), NOW_MS);
    for i in (0..MARKETS).step_by(4) {
        state
            .strategy_params
            .insert(ticker(i), StrategyParams::Maker(MakerParams::default()));
    }
    state
}

/// Median ns of one full frame (`Terminal::draw` into a reused `TestBackend`).
fn frame_ns(state: &AppState, theme: &Theme, rounds: usize) -> anyhow::Result<f64> {
    let (w, h) = state.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h))?;
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        // A fresh back buffer each time: ratatui diffs against the last frame, and an
        // unchanged screen would only measure the diff.
        terminal.clear()?;
        let started = clock::mono_ns();
        terminal.draw(|f| views::render(f, state, theme))?;
        samples.push(clock::mono_ns().saturating_sub(started) as f64);
    }
    Ok(common::median(&mut samples))
}

fn main() -> anyhow::Result<()> {
    let theme = Theme::builtin_default();
    let big = app(200, 60);
    let small = app(80, 24);
    {
        // The screen really holds what the bench claims: markets in the watchlist, a ladder.
        let mut terminal = Terminal::new(TestBackend::new(200, 60))?;
        terminal.draw(|f| views::render(f, &big, &theme))?;
        let text: String = terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|cell| cell.symbol())
            .collect();
        anyhow::ensure!(
            text.contains("KXBENCH-26NOV-T0.0") && text.contains("Book"),
            "the 200x60 frame does not show the markets and the book"
        );
    }

    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    {
        let mut group = criterion.benchmark_group("render");
        for (name, state) in [
            ("200x60, 100 markets", &big),
            ("80x24, 100 markets", &small),
        ] {
            let (w, h) = state.size;
            let mut terminal = Terminal::new(TestBackend::new(w, h))?;
            group.bench_function(name, |b| {
                b.iter(|| {
                    let _ = terminal.clear();
                    let _ = terminal.draw(|f| views::render(f, state, &theme));
                })
            });
        }
        group.finish();
    }
    criterion.final_summary();

    let big_ns = frame_ns(&big, &theme, 400)?;
    let small_ns = frame_ns(&small, &theme, 400)?;
    result(
        "render: full frame 200x60",
        big_ns / 1_000_000.0,
        "ms",
        Bar::Below(1.0),
        "100 markets, 10-level ladder, 50 orders, 34 positions, 200 trades; median of 400",
    );
    result(
        "render: full frame 80x24 (peer)",
        small_ns / 1_000_000.0,
        "ms",
        Bar::Info,
        "same desk",
    );
    Ok(())
}
