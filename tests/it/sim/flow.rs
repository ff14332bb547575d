//! With the synthetic traders on, the market moves: books are two-sided and trades print, all
//! of it on the wire in the spec's shapes.

use super::harness::start;
use kalshi_desk::kalshi::auth::KeyKind;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn the_flow_quotes_and_trades_through_the_exchange() {
    let sim = start(|c| {
        c.flow = true;
        c.tick = Duration::from_millis(50);
        c.seed = 7;
    })
    .await;
    let user = sim.new_user(KeyKind::Ed25519);
    let mut ws = sim.ws(&user).await;
    ws.subscribe(json!({"channels": ["trade"]})).await;
    let mut trades = 0;
    while trades < 3 {
        let frame = ws.frame().await;
        if frame["type"] == "trade" {
            trades += 1;
        }
    }
    let markets = sim.get(&user, "/markets?status=open&limit=1000").await;
    let two_sided = markets.body["markets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["yes_bid_size_fp"] != "0.00" && m["yes_ask_size_fp"] != "0.00")
        .count();
    assert!(
        two_sided >= 10,
        "only {two_sided} open markets are two-sided"
    );
    sim.handle.shutdown().await;
}

/// A long run under the default flow (`SIM_SOAK_SECS`, default 600): every book stays
/// uncrossed with no negative level, seq stays contiguous, and books stay two-sided.
#[tokio::test]
#[ignore = "soak: minutes of wall time; run with --ignored"]
async fn soak_under_the_default_flow() {
    use super::harness::WsBook;
    use kalshi_desk::core::num::Price;
    use std::collections::BTreeMap;
    let seconds: u64 = std::env::var("SIM_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let sim = start(|c| c.flow = true).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let markets = sim.get(&user, "/markets?limit=1000").await;
    let tickers: Vec<String> = markets.body["markets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ticker"].as_str().unwrap().to_string())
        .collect();
    let mut ws = sim.ws(&user).await;
    let (sid, _) = ws
        .subscribe(json!({"channels": ["orderbook_delta"], "market_tickers": tickers, "use_yes_price": false}))
        .await;
    let mut last_seq = 0;
    let mut books: BTreeMap<String, WsBook> = BTreeMap::new();
    let started = kalshi_desk::runtime::clock::instant();
    let mut frames = 0_u64;
    while started.elapsed().as_secs() < seconds {
        let frame = ws.frame().await;
        if frame["sid"] != sid {
            continue;
        }
        frames += 1;
        let seq = frame["seq"].as_u64().unwrap();
        assert_eq!(seq, last_seq + 1, "seq gap at frame {frames}");
        last_seq = seq;
        let ticker = frame["msg"]["market_ticker"].as_str().unwrap().to_string();
        let book = books.entry(ticker.clone()).or_default();
        if frame["type"] == "orderbook_snapshot" {
            *book = WsBook::from_snapshot(&frame["msg"], false);
        } else {
            book.apply(&frame["msg"], false);
        }
        let best_yes = book.yes.keys().map(|p| Price::parse(p).unwrap()).max();
        let best_no = book.no.keys().map(|p| Price::parse(p).unwrap()).max();
        if let (Some(yes), Some(no)) = (best_yes, best_no) {
            assert!(
                yes.micros() + no.micros() < 1_000_000,
                "{ticker} crossed: yes {yes:?} + no {no:?}"
            );
        }
    }
    let open = sim.get(&user, "/markets?status=open&limit=1000").await;
    let open_markets = open.body["markets"].as_array().unwrap();
    let two_sided = open_markets
        .iter()
        .filter(|m| m["yes_bid_size_fp"] != "0.00" && m["yes_ask_size_fp"] != "0.00")
        .count();
    eprintln!(
        "soak: {frames} book frames, {} open markets, {two_sided} two-sided",
        open_markets.len()
    );
    assert!(
        two_sided * 10 >= open_markets.len() * 8,
        "books thinned out: {two_sided} of {}",
        open_markets.len()
    );
    sim.handle.shutdown().await;
}
