//! Decision latency: a book frame's text in hand → decoded → the engine (with `maker` armed on
//! every market of the sample tape) has its order intents ready, per frame, in an HdrHistogram.
//! The path is the paper/backtest one: `replay::feed::FeedDecoder` (decode + sequence checks →
//! engine inputs) and `replay::session::Session` (fill model's shadow book, then
//! `Engine::handle`); intents reach the local exchange after the backtest's 50 ms latency,
//! outside the timing.
//! Every limit is on, the reject-streak halt included. Then request signing apart: RSA-2048 PSS and Ed25519 (`kalshi::auth::Signer::sign`).
//!
//! `cargo bench --bench decision`.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use criterion::Criterion;
use hdrhistogram::Histogram;
use kalshi_desk::core::engine::{AuditKind, Command, Input, MarketInput};
use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::{Count, Money};
use kalshi_desk::core::strategy::{MakerParams, StrategyParams};
use kalshi_desk::core::time::Now;
use kalshi_desk::kalshi::auth::Signer;
use kalshi_desk::replay::backtest::BacktestConfig;
use kalshi_desk::replay::config;
use kalshi_desk::replay::feed::{FeedDecoder, header_markets};
use kalshi_desk::replay::session::{Session, SessionConfig};
use kalshi_desk::runtime::clock;
use kalshi_desk::store::tape::{Tape, TapeEntry};

use common::{Bar, result};

const TICK_MS: i64 = 100;

fn virtual_now(start_ms: i64, wall_ms: i64) -> Now {
    Now::new(((wall_ms - start_ms).max(0) as u64) * 1_000_000, wall_ms, 0)
}

/// Latencies in ns of book frames that led to at least one intent, and of every book frame.
struct Latencies {
    with_intent: Histogram<u64>,
    every_frame: Histogram<u64>,
    intents: usize,
}

fn one_pass(tape: &Tape, base: &BacktestConfig, latencies: &mut Latencies) -> anyhow::Result<()> {
    let start_ms = tape.entries.first().map(TapeEntry::rx_ms).unwrap_or(0);
    let now = virtual_now(start_ms, start_ms);
    let mut session = Session::new(
        SessionConfig {
            engine: base.engine.clone(),
            latency_ms: base.latency_ms,
            starting_cash: Money::from_cents(10_000_000),
            id_prefix: "bench".to_string(),
        },
        now,
    );
    let mut last_rejects: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let markets = header_markets(&tape.header);
    for (ticker, fees) in &markets.fees {
        session.set_fees(ticker, *fees);
    }
    let tickers: Vec<Ticker> = markets.infos.iter().map(|i| i.ticker.clone()).collect();
    for info in markets.infos {
        session.input(Input::Market(MarketInput::Info(info)), now);
    }
    for ticker in &tickers {
        let params = StrategyParams::Maker(MakerParams {
            half_spread: Money::from_cents(3),
            size: Count::from_contracts(5),
            max_inventory: Count::from_contracts(40),
            ..MakerParams::default()
        });
        session.command(
            Command::SetStrategy {
                ticker: ticker.clone(),
                params,
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
    let mut decoder = FeedDecoder::new();
    let mut next_tick_ms = start_ms + TICK_MS;
    let mut last_ms = start_ms;
    for entry in &tape.entries {
        let ms = entry.rx_ms().max(last_ms);
        last_ms = ms;
        while next_tick_ms <= ms {
            session.input(Input::Tick, virtual_now(start_ms, next_tick_ms));
            next_tick_ms += TICK_MS;
        }
        let now = virtual_now(start_ms, ms);
        // Earlier intents reach the local exchange (and their answers the engine) untimed.
        session.advance(now);
        let is_book = matches!(entry, TapeEntry::Frame { text, .. } if text.contains("\"type\":\"orderbook_"));
        let before = session.in_flight();
        let started = clock::mono_ns();
        let decoded = decoder.decode(entry);
        for input in decoded.inputs {
            session.input(input, now);
        }
        let took = clock::mono_ns().saturating_sub(started).max(1);
        for audit in session.take_audits() {
            if let AuditKind::OrderRejected { .. } = &audit.event {
                last_rejects.push_back(format!("{:?}", audit.event));
                if last_rejects.len() > 3 {
                    last_rejects.pop_front();
                }
            }
        }
        if is_book {
            latencies.every_frame.record(took).context("histogram")?;
            let emitted = session.in_flight().saturating_sub(before);
            if emitted > 0 {
                latencies.intents += emitted;
                latencies.with_intent.record(took).context("histogram")?;
            }
        }
    }
    anyhow::ensure!(
        session.halted().is_none(),
        "the engine halted during the bench: {:?}; last rejects: {last_rejects:?}",
        session.halted()
    );
    Ok(())
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

fn signer(file: &str) -> anyhow::Result<Signer> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(file);
    let pem = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    Ok(Signer::from_pem("bench-key", &pem, file)?)
}

fn sign_latency(signer: &Signer, rounds: usize) -> anyhow::Result<Histogram<u64>> {
    let mut histogram = Histogram::<u64>::new(3)?;
    for i in 0..rounds {
        let started = clock::mono_ns();
        black_box(signer.sign(
            1_795_641_016_359 + i as i64,
            "POST",
            "/trade-api/v2/portfolio/events/orders",
        ));
        histogram.record(clock::mono_ns().saturating_sub(started).max(1))?;
    }
    Ok(histogram)
}

fn main() -> anyhow::Result<()> {
    let tape = common::sample_tape()?;
    let settings =
        config::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/backtest.toml"))?;
    // Every limit stays on: an amend or cancel the local exchange answers "not resting" (the
    // order filled first) is an order already gone, not a business reject, so it cannot halt.
    let base = BacktestConfig::from_settings(&settings);
    let rsa = signer("rsa2048-pkcs8.pem")?;
    let ed25519 = signer("ed25519-pkcs8.pem")?;

    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    {
        let mut group = criterion.benchmark_group("sign");
        group.bench_function("RSA-2048 PSS", |b| {
            b.iter(|| {
                rsa.sign(
                    1_795_641_016_359,
                    "POST",
                    "/trade-api/v2/portfolio/events/orders",
                )
            })
        });
        group.bench_function("Ed25519", |b| {
            b.iter(|| {
                ed25519.sign(
                    1_795_641_016_359,
                    "POST",
                    "/trade-api/v2/portfolio/events/orders",
                )
            })
        });
        group.finish();
    }
    criterion.final_summary();

    let mut latencies = Latencies {
        with_intent: Histogram::new(3)?,
        every_frame: Histogram::new(3)?,
        intents: 0,
    };
    let passes = 5;
    for _ in 0..passes {
        one_pass(&tape, &base, &mut latencies)?;
    }
    let h = &latencies.with_intent;
    anyhow::ensure!(!h.is_empty(), "no frame led to an order intent");
    let note = format!(
        "{} frames with intents ({} intents) over {passes} passes of the sample tape, maker armed on {} markets; p50 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        h.len(),
        latencies.intents,
        tape.header.markets.len(),
        us(h.value_at_quantile(0.50)),
        us(h.value_at_quantile(0.999)),
        us(h.max()),
    );
    result(
        "decision: frame -> intent p99",
        us(h.value_at_quantile(0.99)),
        "µs",
        Bar::Below(50.0),
        &note,
    );
    let all = &latencies.every_frame;
    result(
        "decision: every book frame p99",
        us(all.value_at_quantile(0.99)),
        "µs",
        Bar::Info,
        &format!(
            "{} book frames; p50 {:.1} µs",
            all.len(),
            us(all.value_at_quantile(0.5))
        ),
    );

    for (name, signer, rounds) in [("RSA-2048", &rsa, 300), ("Ed25519", &ed25519, 3_000)] {
        let h = sign_latency(signer, rounds)?;
        result(
            &format!("sign: {name} p50"),
            us(h.value_at_quantile(0.5)),
            "µs",
            Bar::Info,
            &format!(
                "{rounds} signatures; p99 {:.1} µs",
                us(h.value_at_quantile(0.99))
            ),
        );
    }
    Ok(())
}
