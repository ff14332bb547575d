//! Each injected fault produces the client-visible effect documented next to it in
//! `sim::faults`, and the token buckets refuse what does not fit.

use super::harness::{Event, Sim, WsBook, check_error_shape, error_code, start};
use kalshi_desk::kalshi::auth::KeyKind;
use kalshi_desk::runtime::clock;
use kalshi_desk::sim::faults::FaultConfig;
use kalshi_desk::sim::server::ratelimit::{BucketLimit, Tier, TierLimits};
use reqwest::Method;
use serde_json::json;

fn faults(change: impl FnOnce(&mut FaultConfig)) -> FaultConfig {
    let mut config = FaultConfig::default();
    change(&mut config);
    config
}

async fn resting_count(sim: &Sim, user: &super::harness::User) -> usize {
    let reply = sim.get(user, "/portfolio/orders?status=resting").await;
    reply.body["orders"].as_array().unwrap().len()
}

#[tokio::test]
async fn ws_drop_every_n_closes_after_n_frames() {
    let sim = start(|c| c.faults = faults(|f| f.ws.drop_every_n_messages = 3)).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let mut ws = sim.ws(&user).await;
    ws.subscribe(json!({"channels": ["orderbook_delta"], "market_ticker": ticker}))
        .await; // frame 1
    assert_eq!(ws.frame().await["type"], "orderbook_snapshot"); // frame 2
    assert_eq!(
        sim.order(&user, &ticker, "bid", "0.30", "1").await.status,
        201
    );
    assert_eq!(ws.frame().await["type"], "orderbook_delta"); // frame 3, then the close
    assert!(
        matches!(ws.event().await, Event::Closed),
        "a Close frame after the 3rd frame"
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn ws_drop_rate_cuts_without_a_close_frame() {
    let sim = start(|c| c.faults = faults(|f| f.ws.drop_rate = 1.0)).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let mut ws = sim.ws(&user).await;
    ws.command("list_subscriptions", serde_json::Value::Null)
        .await;
    match ws.event().await {
        Event::Error(_) => {}
        other => panic!("expected the stream to fail without a close handshake, got {other:?}"),
    }
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn seq_skip_leaves_a_gap_and_a_wrong_book_until_resync() {
    let sim = start(|c| c.faults = faults(|f| f.ws.skip_seq_every_n = 3)).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let mut ws = sim.ws(&user).await;
    let (sid, _) = ws
        .subscribe(json!({"channels": ["orderbook_delta"], "market_ticker": ticker}))
        .await;
    let snapshot = ws.frame().await;
    assert_eq!(snapshot["seq"], 1);
    let mut book = WsBook::from_snapshot(&snapshot["msg"], false);
    for price in ["0.30", "0.31", "0.32"] {
        assert_eq!(
            sim.order(&user, &ticker, "bid", price, "1").await.status,
            201
        );
    }
    let first = ws.frame().await;
    let second = ws.frame().await;
    assert_eq!(
        (first["seq"].as_u64(), second["seq"].as_u64()),
        (Some(2), Some(4)),
        "seq 3 never arrives"
    );
    book.apply(&first["msg"], false);
    book.apply(&second["msg"], false);
    let rest = WsBook::from_rest(&sim.book(&user, &ticker).await);
    assert_ne!(
        book, rest,
        "the withheld delta is missing from the client's book"
    );

    let id = ws
        .command(
            "update_subscription",
            json!({"sid": sid, "action": "get_snapshot", "market_tickers": [ticker]}),
        )
        .await;
    let (_, _) = ws.until(|f| f["id"] == id).await;
    let (fresh, _) = ws.until(|f| f["type"] == "orderbook_snapshot").await;
    assert_eq!(
        WsBook::from_snapshot(&fresh["msg"], false),
        rest,
        "a snapshot repairs it"
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn duplicated_frames_repeat_their_seq() {
    let sim = start(|c| c.faults = faults(|f| f.ws.duplicate_rate = 1.0)).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let mut ws = sim.ws(&user).await;
    ws.command(
        "subscribe",
        json!({"channels": ["orderbook_delta"], "market_ticker": ticker}),
    )
    .await;
    let a = ws.frame().await;
    let b = ws.frame().await;
    assert_eq!(a, b);
    assert_eq!(a["type"], "subscribed");
    let c = ws.frame().await;
    let d = ws.frame().await;
    assert_eq!(c, d);
    assert_eq!(
        (c["type"].as_str(), c["seq"].as_u64()),
        (Some("orderbook_snapshot"), Some(1))
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn delayed_frames_arrive_late() {
    let sim = start(|c| {
        c.faults = faults(|f| {
            f.ws.delay_rate = 1.0;
            f.ws.delay_ms = 400;
        })
    })
    .await;
    let user = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let mut ws = sim.ws(&user).await;
    ws.subscribe(json!({"channels": ["orderbook_delta"], "market_ticker": ticker}))
        .await;
    ws.frame().await;
    assert_eq!(
        sim.order(&user, &ticker, "bid", "0.30", "1").await.status,
        201
    );
    let delta = ws.frame().await;
    let lag = clock::wall_ms() - delta["msg"]["ts_ms"].as_i64().unwrap();
    assert!(
        lag >= 400,
        "the frame was held back at least delay_ms (lag {lag} ms)"
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn rest_latency_delays_every_answer() {
    let sim = start(|c| c.faults = faults(|f| f.rest.latency_ms = 300)).await;
    let started = clock::instant();
    let reply = sim.call(None, Method::GET, "/exchange/status", None).await;
    assert_eq!(reply.status, 200);
    assert!(started.elapsed().as_millis() >= 300);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_not_applied_and_can_hit_cancel_all_alone() {
    let sim = start(|c| c.faults = faults(|f| f.rest.error_5xx_rate = 1.0)).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let first = sim.get(&user, "/portfolio/balance").await;
    let second = sim.get(&user, "/portfolio/balance").await;
    assert_eq!((first.status, second.status), (500, 503));
    assert_eq!(error_code(&first.body), "internal_server_error");
    assert_eq!(error_code(&second.body), "service_unavailable");
    let status = sim.call(None, Method::GET, "/exchange/status", None).await;
    assert_eq!(status.status, 500);
    assert_eq!(status.body["exchange_active"], false);
    let ticker = sim.handle.with_exchange(|e| {
        e.market_states()
            .find(|m| m.status == kalshi_desk::core::market::MarketStatus::Active)
            .map(|m| m.ticker.to_string())
            .unwrap()
    });
    let create = sim.order(&user, &ticker, "bid", "0.30", "1").await;
    assert!(create.status >= 500);
    sim.handle
        .faults()
        .update(|f| f.rest.error_5xx_rate = 0.0)
        .unwrap();
    assert_eq!(
        resting_count(&sim, &user).await,
        0,
        "the failed create was not applied"
    );

    // Only cancel-all fails: the kill switch's first step errors and the orders stay.
    assert_eq!(
        sim.order(&user, &ticker, "bid", "0.30", "1").await.status,
        201
    );
    sim.handle
        .faults()
        .update(|f| f.rest.cancel_all_5xx_rate = 1.0)
        .unwrap();
    let cancel_all = sim.delete(&user, "/portfolio/events/orders", None).await;
    assert!(cancel_all.status >= 500, "{cancel_all:?}");
    assert_eq!(resting_count(&sim, &user).await, 1);
    let listed = sim.get(&user, "/portfolio/orders?status=resting").await;
    let order_id = listed.body["orders"][0]["order_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        sim.delete(&user, &format!("/portfolio/events/orders/{order_id}"), None)
            .await
            .status,
        200,
        "single cancels still work"
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn a_lost_answer_applies_the_write_and_cuts_the_connection() {
    let sim = start(|c| c.faults = faults(|f| f.rest.lost_answer_rate = 1.0)).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let body = json!({"ticker": ticker, "side": "bid", "price": "0.30", "count": "2",
        "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross", "client_order_id": "lost-1"});
    let outcome = sim
        .send_raw(
            Some(&user),
            Method::POST,
            "/portfolio/events/orders",
            Some(&body),
            |_| {},
        )
        .await;
    assert!(
        outcome.is_err(),
        "no status or body reaches the client: {outcome:?}"
    );
    // Reads are not cut; the order is there.
    let listed = sim.get(&user, "/portfolio/orders?status=resting").await;
    let orders = listed.body["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["client_order_id"], "lost-1");
    let accepted = sim.handle.with_exchange(|e| {
        e.order_log()
            .iter()
            .filter(|entry| entry.client_order_id.as_deref() == Some("lost-1"))
            .count()
    });
    assert_eq!(accepted, 1);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn a_429_storm_refuses_everything_and_applies_nothing() {
    let sim = start(|c| c.faults = faults(|f| f.rest.storm_429_rate = 1.0)).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.handle.with_exchange(|e| {
        e.market_states()
            .next()
            .map(|m| m.ticker.to_string())
            .unwrap()
    });
    for _ in 0..3 {
        let reply = sim.order(&user, &ticker, "bid", "0.30", "1").await;
        assert_eq!(reply.status, 429);
        assert_eq!(reply.body, json!({"error": "too many requests"}));
    }
    let status = sim.call(None, Method::GET, "/exchange/status", None).await;
    assert_eq!(status.status, 429);
    sim.handle
        .faults()
        .update(|f| f.rest.storm_429_rate = 0.0)
        .unwrap();
    assert_eq!(resting_count(&sim, &user).await, 0);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn a_frozen_book_goes_quiet_while_the_socket_and_other_markets_carry_on() {
    let sim = start(|_| {}).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let frozen = sim.open_market(&user, "KXFEDDECISION").await;
    let live = sim.open_market(&user, "KXHIGHAUS").await;
    sim.handle
        .faults()
        .update(|f| {
            f.market.frozen_books.insert(frozen.clone());
        })
        .unwrap();
    let mut ws = sim.ws(&user).await;
    let (_, _) = ws
        .subscribe(json!({"channels": ["orderbook_delta"], "market_tickers": [frozen, live]}))
        .await;
    let (snapshot, _) = ws.until(|f| f["type"] == "orderbook_snapshot").await;
    assert_eq!(
        snapshot["msg"]["market_ticker"],
        live.as_str(),
        "no snapshot for the frozen market"
    );
    assert_eq!(
        sim.order(&user, &frozen, "bid", "0.30", "5").await.status,
        201
    );
    assert_eq!(
        sim.order(&user, &live, "bid", "0.30", "5").await.status,
        201
    );
    let (delta, skipped) = ws.until(|f| f["type"] == "orderbook_delta").await;
    assert_eq!(delta["msg"]["market_ticker"], live.as_str());
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(
        delta["seq"], 2,
        "frozen frames are not sent and consume no seq"
    );
    let (yes, _) = sim.book(&user, &frozen).await;
    assert_eq!(
        yes,
        vec![("0.3000".to_string(), "5.00".to_string())],
        "REST shows the frozen market moving"
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn an_exchange_wide_trading_pause() {
    let sim = start(|_| {}).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let keep = sim.order(&user, &ticker, "bid", "0.30", "1").await;
    let mut body = json!({"ticker": ticker, "side": "bid", "price": "0.31", "count": "1",
        "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross", "cancel_order_on_pause": true});
    let pausable = sim
        .post(&user, "/portfolio/events/orders", body.clone())
        .await;
    let mut ws = sim.ws(&user).await;
    ws.subscribe(json!({"channels": ["user_orders"]})).await;

    sim.handle.set_trading_paused(true);
    let status = sim.call(None, Method::GET, "/exchange/status", None).await;
    assert_eq!(status.body["trading_active"], false);
    let (canceled, _) = ws
        .until(|f| f["type"] == "user_order" && f["msg"]["status"] == "canceled")
        .await;
    assert_eq!(canceled["msg"]["order_id"], pausable.body["order_id"]);
    body["price"] = json!("0.32");
    let refused = sim
        .post(&user, "/portfolio/events/orders", body.clone())
        .await;
    assert_eq!(refused.status, 409);
    assert_eq!(error_code(&refused.body), "market_closed");
    let kept = sim
        .get(
            &user,
            &format!(
                "/portfolio/orders/{}",
                keep.body["order_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(kept.body["order"]["status"], "resting");

    sim.handle.set_trading_paused(false);
    assert_eq!(
        sim.call(None, Method::GET, "/exchange/status", None)
            .await
            .body["trading_active"],
        true
    );
    assert_eq!(
        sim.post(&user, "/portfolio/events/orders", body)
            .await
            .status,
        201
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn token_buckets_refuse_what_does_not_fit_and_whole_batches() {
    let tight = TierLimits {
        usage_tier: "basic".into(),
        read: BucketLimit {
            refill_rate: 1,
            bucket_capacity: 1000,
        },
        write: BucketLimit {
            refill_rate: 1,
            bucket_capacity: 30,
        },
    };
    let sim = start(|c| c.rate_limits = Some(tight)).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    // A batch of 4 creates costs 40 > 30: refused whole, nothing placed.
    let orders: Vec<_> = (0..4)
        .map(|i| {
            json!({"ticker": ticker, "side": "bid", "price": format!("0.3{i}"), "count": "1",
            "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"})
        })
        .collect();
    let batch = sim
        .post(
            &user,
            "/portfolio/events/orders/batched",
            json!({"orders": orders}),
        )
        .await;
    assert_eq!(batch.status, 429);
    check_error_shape(429, &batch.body);
    assert_eq!(resting_count(&sim, &user).await, 0);
    // Three creates fit (10 tokens each); the fourth does not.
    for price in ["0.30", "0.31", "0.32"] {
        assert_eq!(
            sim.order(&user, &ticker, "bid", price, "1").await.status,
            201
        );
    }
    let fourth = sim.order(&user, &ticker, "bid", "0.33", "1").await;
    assert_eq!(fourth.status, 429);
    assert_eq!(fourth.body, json!({"error": "too many requests"}));
    // Reads draw from their own bucket.
    assert_eq!(resting_count(&sim, &user).await, 3);
    // Another member has a full bucket of their own.
    let other = sim.new_user(KeyKind::Ed25519);
    assert_eq!(
        sim.order(&other, &ticker, "bid", "0.30", "1").await.status,
        201
    );
    sim.handle.shutdown().await;

    // Basic: a batch of 11 (110 tokens) never fits a 100-token bucket.
    let sim = start(|c| c.rate_limits = Some(Tier::Basic.limits())).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let orders: Vec<_> = (0..11)
        .map(|_| {
            json!({"ticker": ticker, "side": "bid", "price": "0.30", "count": "1",
            "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"})
        })
        .collect();
    assert_eq!(
        sim.post(
            &user,
            "/portfolio/events/orders/batched",
            json!({"orders": orders})
        )
        .await
        .status,
        429
    );
    sim.handle.shutdown().await;
}
