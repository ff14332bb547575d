//! A fixed desk: markets, books, orders, positions, health and a clock, built from engine types.

use std::sync::Arc;

use kalshi_desk::core::book::Level;
use kalshi_desk::core::control::{MarketState, PauseReason, TradingState};
use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::{Count, Money, Price};
use kalshi_desk::core::order::{ClientOrderId, Order, OrderId, OrderOwner, OrderSide, OrderState};
use kalshi_desk::runtime::snapshot::{
    DeskSnapshot, Health, KillPhase, KillProgress, MarketView, PnlView,
};
use kalshi_desk::tui::adapt::{PositionFacts, flat_position, position_with};
use kalshi_desk::tui::app::{AppConfig, AppState, Msg, update};
use kalshi_desk::tui::keymap::{KeyChord, Keymap};
use kalshi_desk::tui::replica::MarketMeta;

/// 2026-11-25 21:00:00 UTC.
pub const NOW_MS: i64 = 1_795_640_400_000;

pub fn p(cents: i64) -> Price {
    Price::from_cents(cents).expect("price")
}

fn levels(prices: &[(i64, i64)]) -> Vec<Level> {
    prices
        .iter()
        .map(|(c, n)| Level {
            price: p(*c),
            size: Count::from_contracts(*n),
        })
        .collect()
}

pub fn market(
    ticker: &str,
    state: MarketState,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) -> MarketView {
    let t = Ticker::from(ticker);
    MarketView {
        position: flat_position(&t),
        ticker: t,
        reasons: match &state {
            MarketState::Paused(r) => r.iter().copied().collect(),
            _ => Vec::new(),
        },
        state,
        yes_bids: levels(bids),
        yes_asks: levels(asks),
        book_age_ms: Some(120),
        resyncing: false,
        strategy: Some("maker"),
    }
}

pub fn order(
    id: &str,
    ticker: &str,
    side: OrderSide,
    cents: i64,
    remaining: i64,
    owner: OrderOwner,
) -> Order {
    Order {
        client_order_id: ClientOrderId::new(id),
        current_client_order_id: ClientOrderId::new(id),
        order_id: Some(OrderId::new(&format!("x-{id}"))),
        ticker: Ticker::from(ticker),
        owner,
        side,
        yes_price: p(cents),
        initial_count: Count::from_contracts(remaining),
        reported_fill_count: Count::ZERO,
        booked_fill_count: Count::ZERO,
        remaining_count: Count::from_contracts(remaining),
        state: OrderState::Resting,
        lost_write: None,
        cancel_requested: false,
        cancel_acked: false,
        pending_amend: None,
        fees_paid: Money::ZERO,
        reject_reason: None,
        created_mono_ns: 0,
        last_exchange_ts_ms: None,
    }
}

pub fn snapshot() -> DeskSnapshot {
    let mut fed = market(
        "KXFED-26DEC-T4.25",
        MarketState::Armed,
        &[(44, 120), (43, 300), (42, 80), (40, 500)],
        &[(46, 90), (47, 250), (49, 60), (52, 400)],
    );
    fed.position = position_with(
        &fed.ticker,
        PositionFacts {
            contracts: Count::from_contracts(25),
            cost: Money::from_cents(1_075),
            realized: Money::from_cents(312),
            fees: Money::from_cents(41),
        },
    );
    let mut cpi = market(
        "KXCPI-26NOV-T0.3",
        MarketState::Manual,
        &[(31, 40), (30, 75)],
        &[(35, 20), (36, 110)],
    );
    cpi.position = position_with(
        &cpi.ticker,
        PositionFacts {
            contracts: Count::from_contracts(-10),
            cost: Money::from_cents(660),
            realized: Money::from_cents(-95),
            fees: Money::from_cents(12),
        },
    );
    let mut paused = market(
        "KXHIGHNY-26NOV25-B60.5",
        MarketState::Paused([PauseReason::StaleBook].into_iter().collect()),
        &[(12, 30)],
        &[(15, 30)],
    );
    paused.book_age_ms = Some(42_000);
    let disarmed = market(
        "KXCPI-26NOV-T0.4",
        MarketState::Disarmed,
        &[(9, 50)],
        &[(12, 40)],
    );
    DeskSnapshot {
        version: 7,
        wall_ms: NOW_MS,
        last_audit_seq: 0,
        trading: TradingState::Active,
        markets: vec![fed, cpi, paused, disarmed],
        orders: vec![
            order(
                "m-maker-1-1",
                "KXFED-26DEC-T4.25",
                OrderSide::Bid,
                44,
                20,
                OrderOwner::strategy("maker"),
            ),
            order(
                "m-maker-1-2",
                "KXFED-26DEC-T4.25",
                OrderSide::Ask,
                47,
                20,
                OrderOwner::strategy("maker"),
            ),
            order(
                "op-1-3",
                "KXCPI-26NOV-T0.3",
                OrderSide::Bid,
                30,
                5,
                OrderOwner::Operator,
            ),
        ],
        pnl: PnlView {
            realized: Money::from_cents(217),
            unrealized: Money::from_cents(-140),
            daily: Money::from_cents(-3_523),
            fees: Money::from_cents(53),
        },
        balance: Some(Money::from_cents(9_876_543)),
        health: Health {
            connected: true,
            reconnects: 1,
            resyncs: 2,
            gaps: 2,
            ws_frames: 18_344,
            feed_lag_p50_ms: Some(4),
            feed_lag_p99_ms: Some(19),
            clock_offset_ms: -12,
            rejects: 3,
            business_reject_streak: 0,
            read_tokens: 18,
            read_capacity: 20,
            write_tokens: 9,
            write_capacity: 10,
            cancels_waiting: 0,
            writes_in_flight: 1,
            last_reconcile_wall_ms: Some(NOW_MS - 5_000),
            reconcile_failures: 0,
            journal_dropped: 0,
            exchange_trading_active: Some(true),
        },
        kill: KillProgress::default(),
    }
}

pub fn halted_snapshot() -> DeskSnapshot {
    let mut s = snapshot();
    s.version = 8;
    s.trading = TradingState::Halted {
        reason: "kill switch: operator kill switch".into(),
        at_wall_ms: NOW_MS - 2_000,
    };
    for m in &mut s.markets {
        m.state = MarketState::Disarmed;
    }
    s.orders.clear();
    s.kill = KillProgress {
        phase: KillPhase::Flat,
        reason: Some("operator kill switch".into()),
        started_wall_ms: Some(NOW_MS - 2_000),
        cancels_pending: 0,
        exchange_resting: Some(0),
        sweeps: 2,
        time_to_flat_ms: Some(184),
    };
    s
}

pub fn catalog() -> Vec<MarketMeta> {
    let meta = |ticker: &str, event: &str, title: &str, sub: &str, last: i64, vol: i64| {
        MarketMeta {
            ticker: ticker.into(),
            event_ticker: event.into(),
            title: title.into(),
            yes_subtitle: sub.into(),
            status: "active".into(),
            close_ms: Some(NOW_MS + 3 * 86_400_000 + 3_723_000),
            last_price: Some(p(last)),
            volume_24h: Count::from_contracts(vol),
            rules: format!(
                "If {title} resolves Yes per the source agency's first release, the market resolves to Yes."
            ),
        }
    };
    vec![
        meta(
            "KXFED-26DEC-T4.25",
            "KXFED-26DEC",
            "Fed upper bound above 4.25% after December?",
            "Above 4.25%",
            45,
            12_400,
        ),
        meta(
            "KXCPI-26NOV-T0.3",
            "KXCPI-26NOV",
            "CPI m/m above 0.3% in November?",
            "Above 0.3%",
            33,
            3_210,
        ),
        meta(
            "KXCPI-26NOV-T0.4",
            "KXCPI-26NOV",
            "CPI m/m above 0.4% in November?",
            "Above 0.4%",
            11,
            950,
        ),
        meta(
            "KXCPI-26NOV-T0.2",
            "KXCPI-26NOV",
            "CPI m/m above 0.2% in November?",
            "Above 0.2%",
            64,
            2_020,
        ),
        meta(
            "KXHIGHNY-26NOV25-B60.5",
            "KXHIGHNY-26NOV25",
            "NYC high 60-61°F on Nov 25?",
            "60° to 61°",
            13,
            410,
        ),
    ]
}

pub fn app_at(width: u16, height: u16) -> AppState {
    let mut state = AppState::new(
        AppConfig {
            account: "a1b2c3d4".into(),
            ..AppConfig::default()
        },
        Keymap::builtin(),
    );
    update(&mut state, Msg::Resize { width, height }, NOW_MS);
    update(&mut state, Msg::Snapshot(Arc::new(snapshot())), NOW_MS);
    update(&mut state, Msg::Catalog(catalog()), NOW_MS);
    state.strategy_params.insert(
        Ticker::from("KXFED-26DEC-T4.25"),
        kalshi_desk::core::strategy::StrategyParams::Maker(Default::default()),
    );
    state.notices.clear();
    state
}

pub fn key(text: &str) -> Msg {
    Msg::Key(KeyChord::parse(text).expect("key"))
}
