//! Public and account reads: exchange status and schedule, markets (filters, cursor, single),
//! events, series, order books (depth, several), trades, account limits and endpoint costs.

use super::harness::{error_code, start};
use kalshi_desk::kalshi::auth::KeyKind;
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;

#[tokio::test]
async fn exchange_status_schedule_limits_and_costs() {
    let sim = start(|c| {
        c.rate_limits = Some(kalshi_desk::sim::server::ratelimit::Tier::Premier.limits())
    })
    .await;
    let user = sim.new_user(KeyKind::Ed25519);
    let status = sim.call(None, Method::GET, "/exchange/status", None).await;
    assert_eq!(status.status, 200);
    assert_eq!(status.body["exchange_active"], true);
    assert_eq!(status.body["trading_active"], true);

    let schedule = sim
        .call(None, Method::GET, "/exchange/schedule", None)
        .await;
    assert_eq!(schedule.status, 200);
    assert_eq!(
        schedule.body["schedule"]["standard_hours"][0]["monday"][0]["open_time"],
        "00:00"
    );

    let limits = sim.get(&user, "/account/limits").await;
    assert_eq!(limits.status, 200);
    assert_eq!(limits.body["usage_tier"], "premier");
    assert_eq!(limits.body["write"]["refill_rate"], 1000);
    assert_eq!(limits.body["write"]["bucket_capacity"], 2000);

    let costs = sim
        .call(None, Method::GET, "/account/endpoint_costs", None)
        .await;
    assert_eq!(costs.status, 200);
    assert_eq!(costs.body["default_cost"], 10);
    let cancel = costs.body["endpoint_costs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["method"] == "DELETE"
                && c["path"] == "/trade-api/v2/portfolio/events/orders/{order_id}"
        })
        .expect("cancel cost listed");
    assert_eq!(cancel["cost"], 2);

    let stamp = sim.get(&user, "/exchange/user_data_timestamp").await;
    assert_eq!(stamp.status, 200);
    assert!(stamp.body["as_of_time"].is_string());
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn markets_filter_page_and_404() {
    let sim = start(|c| c.markets = 40).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let all = sim
        .call(None, Method::GET, "/markets?limit=1000", None)
        .await;
    let markets = all.body["markets"].as_array().unwrap().clone();
    assert_eq!(markets.len(), 40, "--markets 40 lists 40 markets");
    assert_eq!(all.body["cursor"], "");

    // Pages of 7 cover the list exactly once, in order.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = sim
            .call(
                None,
                Method::GET,
                &format!("/markets?limit=7&cursor={cursor}"),
                None,
            )
            .await;
        assert_eq!(page.status, 200);
        let items = page.body["markets"].as_array().unwrap();
        assert!(items.len() <= 7);
        seen.extend(
            items
                .iter()
                .map(|m| m["ticker"].as_str().unwrap().to_string()),
        );
        cursor = page.body["cursor"].as_str().unwrap().to_string();
        if cursor.is_empty() {
            break;
        }
    }
    let expected: Vec<String> = markets
        .iter()
        .map(|m| m["ticker"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, expected);

    // Filters: series, event, tickers, status.
    let fed = sim
        .call(
            None,
            Method::GET,
            "/markets?series_ticker=KXFEDDECISION",
            None,
        )
        .await;
    let fed_markets = fed.body["markets"].as_array().unwrap();
    assert!(!fed_markets.is_empty());
    assert!(fed_markets.iter().all(|m| {
        m["event_ticker"]
            .as_str()
            .unwrap()
            .starts_with("KXFEDDECISION-")
    }));
    let event = fed_markets[0]["event_ticker"].as_str().unwrap();
    let by_event = sim
        .call(
            None,
            Method::GET,
            &format!("/markets?event_ticker={event}"),
            None,
        )
        .await;
    assert!(
        by_event.body["markets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["event_ticker"] == event)
    );
    let two: Vec<&str> = expected.iter().take(2).map(String::as_str).collect();
    let by_tickers = sim
        .call(
            None,
            Method::GET,
            &format!("/markets?tickers={},{}", two[0], two[1]),
            None,
        )
        .await;
    let got: BTreeSet<&str> = by_tickers.body["markets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ticker"].as_str().unwrap())
        .collect();
    assert_eq!(got, two.iter().copied().collect());
    let open = sim
        .call(None, Method::GET, "/markets?status=open&limit=1000", None)
        .await;
    assert!(
        open.body["markets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "active")
    );
    let settled = sim
        .call(None, Method::GET, "/markets?status=settled", None)
        .await;
    assert_eq!(settled.body["markets"].as_array().unwrap().len(), 0);

    // Bad parameters are 400s with the error envelope.
    for bad in [
        "/markets?status=frozen",
        "/markets?limit=1001",
        "/markets?cursor=zzz",
        "/markets?min_close_ts=soon",
    ] {
        let reply = sim
            .send_raw(None, Method::GET, bad, None, |_| {})
            .await
            .unwrap();
        assert_eq!(reply.status, 400, "{bad}");
        super::harness::check_error_shape(400, &reply.body);
    }

    let one = sim
        .call(
            None,
            Method::GET,
            &format!("/markets/{}", expected[0]),
            None,
        )
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["market"]["ticker"], expected[0].as_str());
    assert_eq!(one.body["market"]["notional_value_dollars"], "1.0000");
    let missing = sim.call(None, Method::GET, "/markets/NOPE-1", None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(error_code(&missing.body), "not_found");
    let _ = user;
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn events_and_series() {
    let sim = start(|_| {}).await;
    let events = sim.call(None, Method::GET, "/events", None).await;
    assert_eq!(events.status, 200);
    let list = events.body["events"].as_array().unwrap();
    assert!(!list.is_empty());
    assert!(list.iter().all(|e| e.get("markets").is_none()));
    let fed = list
        .iter()
        .find(|e| e["series_ticker"] == "KXFEDDECISION")
        .expect("a Fed event");
    assert_eq!(fed["mutually_exclusive"], true);
    let event_ticker = fed["event_ticker"].as_str().unwrap();

    let nested = sim
        .call(
            None,
            Method::GET,
            "/events?with_nested_markets=true&series_ticker=KXFEDDECISION",
            None,
        )
        .await;
    for event in nested.body["events"].as_array().unwrap() {
        assert_eq!(event["series_ticker"], "KXFEDDECISION");
        assert!(!event["markets"].as_array().unwrap().is_empty());
    }
    let paged = sim.call(None, Method::GET, "/events?limit=1", None).await;
    assert_eq!(paged.body["events"].as_array().unwrap().len(), 1);
    assert_eq!(paged.body["cursor"], "1");
    let open = sim
        .call(None, Method::GET, "/events?status=open", None)
        .await;
    assert_eq!(open.status, 200);
    let too_many = sim.call(None, Method::GET, "/events?limit=201", None).await;
    assert_eq!(too_many.status, 400);

    let one = sim
        .call(None, Method::GET, &format!("/events/{event_ticker}"), None)
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["event"]["event_ticker"], event_ticker);
    assert!(!one.body["markets"].as_array().unwrap().is_empty());
    let one_nested = sim
        .call(
            None,
            Method::GET,
            &format!("/events/{event_ticker}?with_nested_markets=true"),
            None,
        )
        .await;
    assert!(
        !one_nested.body["event"]["markets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let missing = sim.call(None, Method::GET, "/events/NOPE", None).await;
    assert_eq!(missing.status, 404);

    let series = sim
        .call(None, Method::GET, "/series?include_volume=true", None)
        .await;
    assert_eq!(series.status, 200);
    let all: Vec<&Value> = series.body["series"].as_array().unwrap().iter().collect();
    assert!(
        all.iter()
            .any(|s| s["ticker"] == "KXFEDDECISION" && s["fee_type"] == "quadratic")
    );
    assert!(all.iter().all(|s| s["volume_fp"].is_string()));
    let economics = sim
        .call(None, Method::GET, "/series?category=Economics", None)
        .await;
    assert!(
        economics.body["series"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["category"] == "Economics")
    );
    let one = sim
        .call(None, Method::GET, "/series/KXFEDDECISION", None)
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["series"]["ticker"], "KXFEDDECISION");
    assert_eq!(one.body["series"]["fee_multiplier"], 1.0);
    let missing = sim.call(None, Method::GET, "/series/NOPE", None).await;
    assert_eq!(missing.status, 404);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn orderbooks_with_depth_and_trades() {
    let sim = start(|_| {}).await;
    let maker = sim.new_user(KeyKind::Ed25519);
    let taker = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&maker, "KXFEDDECISION").await;

    // Three YES bid levels and two NO bid levels (asks at 0.60 and 0.61).
    for (side, price) in [
        ("bid", "0.40"),
        ("bid", "0.41"),
        ("bid", "0.42"),
        ("ask", "0.60"),
        ("ask", "0.61"),
    ] {
        assert_eq!(
            sim.order(&maker, &ticker, side, price, "10").await.status,
            201
        );
    }
    let (yes, no) = sim.book(&maker, &ticker).await;
    assert_eq!(
        yes,
        vec![
            ("0.4000".into(), "10.00".into()),
            ("0.4100".into(), "10.00".into()),
            ("0.4200".into(), "10.00".into())
        ]
    );
    // NO bids in NO prices, ascending: a YES ask at 0.61 is a NO bid at 0.39.
    assert_eq!(
        no,
        vec![
            ("0.3900".into(), "10.00".into()),
            ("0.4000".into(), "10.00".into())
        ]
    );

    let top = sim
        .get(&maker, &format!("/markets/{ticker}/orderbook?depth=1"))
        .await;
    assert_eq!(
        top.body["orderbook_fp"]["yes_dollars"],
        serde_json::json!([["0.4200", "10.00"]])
    );
    assert_eq!(
        top.body["orderbook_fp"]["no_dollars"],
        serde_json::json!([["0.4000", "10.00"]])
    );
    let bad_depth = sim
        .get(&maker, &format!("/markets/{ticker}/orderbook?depth=101"))
        .await;
    assert_eq!(bad_depth.status, 400);
    let missing = sim.get(&maker, "/markets/NOPE-1/orderbook").await;
    assert_eq!(missing.status, 404);
    // The spec lists the orderbook as signed.
    let unsigned = sim
        .send_raw(
            None,
            Method::GET,
            &format!("/markets/{ticker}/orderbook"),
            None,
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(unsigned.status, 401);

    let other = sim.open_market(&maker, "KXHIGHAUS").await;
    let many = sim
        .get(
            &maker,
            &format!("/markets/orderbooks?tickers={ticker}&tickers={other}"),
        )
        .await;
    assert_eq!(many.status, 200);
    let books = many.body["orderbooks"].as_array().unwrap();
    assert_eq!(books.len(), 2);
    assert_eq!(books[0]["ticker"], ticker.as_str());
    assert_eq!(
        books[1]["orderbook_fp"]["yes_dollars"],
        serde_json::json!([])
    );
    let none = sim.get(&maker, "/markets/orderbooks").await;
    assert_eq!(none.status, 400);

    // A taker lifts 4 at 0.60 and hits 3 at 0.42: two public trades, newest first.
    assert_eq!(
        sim.order(&taker, &ticker, "bid", "0.60", "4").await.status,
        201
    );
    assert_eq!(
        sim.order(&taker, &ticker, "ask", "0.42", "3").await.status,
        201
    );
    let trades = sim
        .call(
            None,
            Method::GET,
            &format!("/markets/trades?ticker={ticker}"),
            None,
        )
        .await;
    let list = trades.body["trades"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["yes_price_dollars"], "0.4200");
    assert_eq!(list[0]["count_fp"], "3.00");
    assert_eq!(list[0]["taker_book_side"], "ask");
    assert_eq!(list[0]["taker_outcome_side"], "no");
    assert_eq!(list[1]["yes_price_dollars"], "0.6000");
    assert_eq!(list[1]["no_price_dollars"], "0.4000");
    assert_eq!(list[1]["taker_book_side"], "bid");
    let page = sim
        .call(
            None,
            Method::GET,
            &format!("/markets/trades?ticker={ticker}&limit=1"),
            None,
        )
        .await;
    assert_eq!(page.body["trades"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["cursor"], "1");
    sim.handle.shutdown().await;
}
