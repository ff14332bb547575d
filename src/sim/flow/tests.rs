use std::collections::{BTreeMap, BTreeSet};

use super::book_venue::{BookVenue, TapeTrade};
use super::*;
use crate::core::market::Ticker;
use crate::sim::exchange::lifecycle::LifecycleEventType;
use crate::sim::exchange::types::MarketResult;

/// 2026-11-25T14:00:00Z.
const START_MS: i64 = 1_795_615_200_000;

struct Run {
    flow: Flow,
    venue: BookVenue,
    /// Per market: (samples while active, samples two-sided).
    two_sided: BTreeMap<Ticker, (u32, u32)>,
    /// Per market: fair values sampled once a second.
    fairs: BTreeMap<Ticker, Vec<f64>>,
    /// |trade price − hidden fair value| for every trade, at the step it printed.
    trade_errors: Vec<f64>,
}

fn run(seed: u64, seconds: i64, step_ms: i64) -> Run {
    let mut flow = Flow::new(FlowConfig::new(seed, START_MS));
    let mut venue = BookVenue::new(flow.catalogue()).expect("catalogue grids are valid");
    let mut two_sided = BTreeMap::new();
    let mut fairs: BTreeMap<Ticker, Vec<f64>> = BTreeMap::new();
    let tickers: Vec<Ticker> = flow
        .listing()
        .markets
        .iter()
        .map(|m| m.ticker.clone())
        .collect();
    let mut trade_errors = Vec::new();
    let mut now = START_MS;
    while now <= START_MS + seconds * 1000 {
        venue.advance(now);
        let printed = venue.tape().len();
        flow.step(&mut venue, now);
        for trade in &venue.tape()[printed..] {
            let fair = flow.fair_value(trade.ticker.as_str()).unwrap();
            trade_errors.push((trade.price.micros() as f64 / 1e6 - fair).abs());
        }
        if (now - START_MS) % 1000 == 0 && now > START_MS + 5_000 {
            for ticker in &tickers {
                fairs
                    .entry(ticker.clone())
                    .or_default()
                    .push(flow.fair_value(ticker.as_str()).unwrap());
                if venue.market_status(ticker) == Some(MarketStatus::Active) {
                    let entry: &mut (u32, u32) = two_sided.entry(ticker.clone()).or_default();
                    entry.0 += 1;
                    if venue.top_of_book(ticker).is_two_sided() {
                        entry.1 += 1;
                    }
                }
            }
        }
        now += step_ms;
    }
    Run {
        flow,
        venue,
        two_sided,
        fairs,
        trade_errors,
    }
}

#[test]
fn catalogue_spans_series_with_consistent_results() {
    let flow = Flow::new(FlowConfig::new(1, START_MS));
    let catalogue = flow.catalogue();
    assert!(catalogue.markets.len() >= 30, "{}", catalogue.markets.len());
    assert!(catalogue.series.len() >= 6);
    let categories: BTreeSet<&str> = catalogue
        .series
        .iter()
        .map(|s| s.category.as_str())
        .collect();
    assert!(categories.len() >= 3, "{categories:?}");
    let tickers: BTreeSet<&str> = catalogue
        .markets
        .iter()
        .map(|m| m.ticker.as_str())
        .collect();
    assert_eq!(tickers.len(), catalogue.markets.len(), "tickers are unique");
    let labels: BTreeSet<&str> = catalogue
        .markets
        .iter()
        .map(|m| m.price_level_structure.as_str())
        .collect();
    for label in [
        "linear_cent",
        "deci_cent",
        "tapered_deci_cent",
        "center_deci_edge_centi_cent",
    ] {
        assert!(labels.contains(label), "no market uses {label}");
    }
    for market in &catalogue.markets {
        let grid = PriceGrid::from_ranges(&market.price_ranges).unwrap();
        assert_eq!(
            grid,
            PriceGrid::from_structure(&market.price_level_structure).unwrap()
        );
        assert!(
            market.open_ms < market.close_ms && market.close_ms < market.expected_expiration_ms
        );
        assert!(!market.rules_primary.contains("{yes_sub_title}"));
        assert!(market.ticker.starts_with(&market.event_ticker));
        assert!(
            catalogue
                .events
                .iter()
                .any(|e| e.event_ticker == market.event_ticker)
        );
    }
    for event in &catalogue.events {
        assert!(
            catalogue
                .series
                .iter()
                .any(|s| s.ticker == event.series_ticker)
        );
        let results: Vec<MarketResult> = catalogue
            .markets
            .iter()
            .filter(|m| m.event_ticker == event.event_ticker)
            .map(|m| m.scheduled_result.unwrap())
            .collect();
        assert!(results.len() >= 2);
        if event.mutually_exclusive {
            let yes = results.iter().filter(|r| **r == MarketResult::Yes).count();
            assert_eq!(yes, 1, "{} must have exactly one YES", event.event_ticker);
        }
    }
    // A strike ladder: "above k" is YES for every strike below the print and NO above it.
    let ladder: Vec<MarketResult> = catalogue
        .markets
        .iter()
        .filter(|m| m.event_ticker.starts_with("KXCPI-"))
        .map(|m| m.scheduled_result.unwrap())
        .collect();
    let first_no = ladder
        .iter()
        .position(|r| *r == MarketResult::No)
        .unwrap_or(ladder.len());
    assert!(
        ladder[first_no..].iter().all(|r| *r == MarketResult::No),
        "{ladder:?}"
    );
    // Some markets close within the first hour so a long run sees settlements.
    let soon = catalogue
        .markets
        .iter()
        .filter(|m| m.close_ms <= START_MS + 45 * 60_000)
        .count();
    assert!(soon >= 10, "{soon}");
    // Fair values of mutually exclusive brackets sum to one.
    let fed: f64 = flow
        .listing()
        .markets
        .iter()
        .filter(|m| {
            m.ticker.as_str().starts_with("KXFEDDECISION") && m.grid == PriceGrid::linear_cent()
        })
        .map(|m| {
            flow.listing().underlyings[m.underlying]
                .belief
                .probability(m.lo, m.hi)
        })
        .sum();
    assert!((fed - 1.0).abs() < 1e-9, "{fed}");
}

#[test]
fn books_are_two_sided_trade_often_and_move() {
    let seconds = 240;
    let r = run(42, seconds, 100);
    // Two-sided most of the time, in every market that traded.
    let mut worst = (1.0f64, String::new());
    for (ticker, (active, two)) in &r.two_sided {
        let share = f64::from(*two) / f64::from(*active);
        if share < worst.0 {
            worst = (share, ticker.to_string());
        }
    }
    assert!(
        worst.0 >= 0.8,
        "{} two-sided only {:.0}% of the time",
        worst.1,
        worst.0 * 100.0
    );
    assert!(
        r.two_sided.len() >= 30,
        "{} active markets",
        r.two_sided.len()
    );
    // Several trades a second in total, in most markets.
    let tape = r.venue.tape();
    let per_second = tape.len() as f64 / seconds as f64;
    assert!(per_second >= 3.0, "{per_second:.2} trades/s");
    let traded: BTreeSet<&Ticker> = tape.iter().map(|t| &t.ticker).collect();
    assert!(traded.len() >= 30, "{} markets traded", traded.len());
    // Sub-cent grids get used: some trades print between whole cents.
    assert!(
        tape.iter().any(|t| t.price.micros() % 10_000 != 0),
        "no sub-cent trade"
    );
    for trade in tape {
        assert_ne!(trade.taker, trade.maker);
        assert!(trade.count.is_positive());
    }
    // Fair values move (drift and news), and prices follow them.
    let moving = r
        .fairs
        .values()
        .filter(|f| {
            let lo = f.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            hi - lo > 0.02
        })
        .count();
    assert!(moving >= 20, "only {moving} markets' fair values moved");
    assert!(!r.flow.news().is_empty());
    let stats = r.flow.stats();
    assert!(
        stats.orders_cancelled > 0 && stats.taker_orders_filled > 0,
        "{stats:?}"
    );
    assert_eq!(stats.rejected_other, 0, "{stats:?}");
    // Prices track the hidden value: most trades print within a few cents of it.
    let mut errors = r.trade_errors.clone();
    errors.sort_by(f64::total_cmp);
    let median = errors[errors.len() / 2];
    let p90 = errors[errors.len() * 9 / 10];
    eprintln!(
        "trades/s {per_second:.2}, markets traded {}, worst two-sided {:.2} ({}), median |price-fair| {median:.4}, p90 {p90:.4}, {stats:?}",
        traded.len(),
        worst.0,
        worst.1
    );
    assert!(median < 0.03, "median |price − fair| {median}");
    assert!(p90 < 0.08, "p90 |price − fair| {p90}");
}

fn tape_fingerprint(tape: &[TapeTrade]) -> Vec<(i64, String, i64, i64)> {
    tape.iter()
        .map(|t| {
            (
                t.ts_ms,
                t.ticker.to_string(),
                t.price.micros(),
                t.count.centi(),
            )
        })
        .collect()
}

#[test]
fn same_seed_same_trades() {
    let a = run(7, 60, 100);
    let b = run(7, 60, 100);
    let c = run(8, 60, 100);
    assert!(!a.venue.tape().is_empty());
    assert_eq!(
        tape_fingerprint(a.venue.tape()),
        tape_fingerprint(b.venue.tape())
    );
    assert_eq!(a.flow.stats(), b.flow.stats());
    assert_ne!(
        tape_fingerprint(a.venue.tape()),
        tape_fingerprint(c.venue.tape())
    );
}

#[test]
fn markets_close_determine_and_settle_during_a_long_run() {
    let r = run(3, 50 * 60, 500);
    let steps = r.venue.lifecycle();
    let of = |kind: LifecycleEventType| -> BTreeSet<&Ticker> {
        steps
            .iter()
            .filter(|s| s.event_type == kind)
            .map(|s| &s.ticker)
            .collect()
    };
    let settled = of(LifecycleEventType::Settled);
    assert!(settled.len() >= 20, "{} settled", settled.len());
    assert!(of(LifecycleEventType::Determined).len() >= settled.len());
    // Every family lists its next instance before the current one closes, so the market stays
    // full: new events were listed without a clash, and plenty of markets are still trading.
    let stats = r.flow.stats();
    assert!(stats.events_listed >= 10, "{stats:?}");
    assert_eq!(stats.listing_errors, 0, "{stats:?}");
    let catalogue = r.flow.catalogue();
    let tickers: BTreeSet<&str> = catalogue
        .markets
        .iter()
        .map(|m| m.ticker.as_str())
        .collect();
    assert_eq!(tickers.len(), catalogue.markets.len(), "tickers are unique");
    let events: BTreeSet<&str> = catalogue
        .events
        .iter()
        .map(|e| e.event_ticker.as_str())
        .collect();
    assert_eq!(
        events.len(),
        catalogue.events.len(),
        "event tickers are unique"
    );
    let trading = catalogue
        .markets
        .iter()
        .filter(|m| r.venue.market_status(&Ticker::new(&m.ticker)) == Some(MarketStatus::Active))
        .count();
    assert!(
        trading >= 40,
        "only {trading} markets trading after 50 minutes"
    );
    // The NFL game opens a few minutes in.
    assert!(
        of(LifecycleEventType::Activated)
            .iter()
            .any(|t| t.as_str().starts_with("KXNFLGAME"))
    );
    // The hidden value converged to each settled market's result before it closed.
    for ticker in settled {
        let state = r.venue.market(ticker).unwrap();
        assert_eq!(state.status, MarketStatus::Finalized);
        let fair = r.flow.fair_value(ticker.as_str()).unwrap();
        let expected = match state.result {
            Some(MarketResult::Yes) => 1.0,
            _ => 0.0,
        };
        assert!(
            (fair - expected).abs() < 0.01,
            "{ticker}: fair {fair} vs {:?}",
            state.result
        );
        assert!(r.venue.book(ticker).unwrap().order_count() == 0);
    }
}

mod on_the_exchange {
    use super::*;
    use crate::sim::exchange::Exchange;
    use crate::sim::exchange::types::ExchangeConfig;

    struct ExchangeRun {
        flow: Flow,
        exchange: Exchange,
        active_samples: u32,
        two_sided_samples: u32,
    }

    fn run_on_exchange(seed: u64, seconds: i64, step_ms: i64) -> ExchangeRun {
        let flow_config = FlowConfig::new(seed, START_MS);
        let mut flow = Flow::new(flow_config);
        let mut exchange = Exchange::new(ExchangeConfig::default());
        flow.install(&mut exchange).expect("catalogue installs");
        let tickers: Vec<Ticker> = flow
            .listing()
            .markets
            .iter()
            .map(|m| m.ticker.clone())
            .collect();
        let (mut active_samples, mut two_sided_samples) = (0, 0);
        let mut now = START_MS;
        while now <= START_MS + seconds * 1000 {
            exchange.advance(now);
            flow.step(&mut exchange, now);
            exchange.take_events();
            if (now - START_MS) % 1000 == 0 && now > START_MS + 5_000 {
                for ticker in &tickers {
                    if exchange.market_status(ticker) == Some(MarketStatus::Active) {
                        active_samples += 1;
                        if exchange.top_of_book(ticker).is_two_sided() {
                            two_sided_samples += 1;
                        }
                    }
                }
            }
            now += step_ms;
        }
        ExchangeRun {
            flow,
            exchange,
            active_samples,
            two_sided_samples,
        }
    }

    #[test]
    fn agents_trade_through_the_exchange_order_api() {
        let seconds = 90;
        let r = run_on_exchange(42, seconds, 100);
        let trades = r.exchange.trade_records().len();
        assert!(
            trades as f64 / seconds as f64 >= 3.0,
            "{trades} trades in {seconds}s"
        );
        let share = f64::from(r.two_sided_samples) / f64::from(r.active_samples);
        assert!(share >= 0.9, "two-sided {share:.2}");
        let stats = r.flow.stats();
        assert_eq!(stats.rejected_other, 0, "{stats:?}");
        // Every agent account is a member; fills carry fees on the taker side.
        for agent in r.flow.agents() {
            assert!(r.exchange.account(&agent.name).is_some());
        }
        assert!(!r.exchange.fill_records().is_empty());
        let again = run_on_exchange(42, 20, 100);
        let first = run_on_exchange(42, 20, 100);
        let fingerprint = |e: &Exchange| -> Vec<String> {
            e.trade_records().iter().map(|t| format!("{t:?}")).collect()
        };
        assert_eq!(fingerprint(&again.exchange), fingerprint(&first.exchange));
    }

    #[test]
    fn markets_settle_on_the_exchange() {
        let r = run_on_exchange(5, 15 * 60, 1000);
        // The NYC high closes 6 minutes in (and again at 12) and settles a minute after determination; every
        // market whose settlement time has passed is finalized.
        let end_ms = START_MS + 15 * 60_000;
        let due: Vec<&str> = r
            .flow
            .catalogue()
            .markets
            .iter()
            .filter(|m| m.expected_expiration_ms + m.settlement_timer_seconds * 1000 < end_ms)
            .map(|m| m.ticker.as_str())
            .collect();
        assert!(due.len() >= 6, "{due:?}");
        assert!(due.iter().any(|t| t.starts_with("KXHIGHNY")));
        for ticker in due {
            let state = r.exchange.market_state(ticker).unwrap();
            assert_eq!(state.status, MarketStatus::Finalized, "{ticker}");
        }
        assert!(r.flow.stats().events_listed >= 1);
        assert_eq!(r.flow.stats().listing_errors, 0);
        assert!(!r.exchange.settlement_records().is_empty());
    }

    #[test]
    fn agents_wait_out_a_pause_and_requote_after_it() {
        let mut flow = Flow::new(FlowConfig::new(9, START_MS));
        let mut exchange = Exchange::new(ExchangeConfig::default());
        flow.install(&mut exchange).unwrap();
        let ticker = Ticker::new(&flow.catalogue().markets[0].ticker);
        let mut now = START_MS;
        let tick = |flow: &mut Flow, exchange: &mut Exchange, now: &mut i64, seconds: i64| {
            for _ in 0..seconds * 10 {
                exchange.advance(*now);
                flow.step(exchange, *now);
                exchange.take_events();
                *now += 100;
            }
        };
        tick(&mut flow, &mut exchange, &mut now, 10);
        assert!(exchange.top_of_book(&ticker).is_two_sided());
        exchange
            .set_market_paused(ticker.as_str(), true, now)
            .unwrap();
        let trades_before = exchange
            .trade_records()
            .iter()
            .filter(|t| t.ticker == ticker)
            .count();
        tick(&mut flow, &mut exchange, &mut now, 10);
        let trades_paused = exchange
            .trade_records()
            .iter()
            .filter(|t| t.ticker == ticker)
            .count();
        assert_eq!(trades_before, trades_paused, "no trades while paused");
        assert_eq!(
            flow.stats().rejected_other,
            0,
            "agents do not send into a paused market"
        );
        exchange
            .set_market_paused(ticker.as_str(), false, now)
            .unwrap();
        tick(&mut flow, &mut exchange, &mut now, 10);
        assert!(exchange.top_of_book(&ticker).is_two_sided());
        assert_eq!(flow.stats().rejected_other, 0);
    }
}
