//! The WS feed: snapshot then deltas with contiguous per-sid seq (both price conventions), a
//! book rebuilt from frames equal to the REST book and to a fresh `get_snapshot` after a seeded
//! random run of orders, subscription updates, every private and public channel, error frames,
//! and heartbeat pings.

use super::harness::{Event, Sim, User, Ws, WsBook, start};
use kalshi_desk::kalshi::auth::KeyKind;
use kalshi_desk::sim::exchange::types::MarketResult;
use kalshi_desk::sim::server::variants::SnapshotSeq;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Books per market kept from one orderbook subscription, checking seq as it goes.
struct Tracker {
    sid: u64,
    use_yes_price: bool,
    last_seq: u64,
    books: BTreeMap<String, WsBook>,
}

impl Tracker {
    fn new(sid: u64, use_yes_price: bool) -> Tracker {
        Tracker {
            sid,
            use_yes_price,
            last_seq: 0,
            books: BTreeMap::new(),
        }
    }

    fn apply(&mut self, frame: &Value) {
        if frame["sid"] != self.sid {
            return;
        }
        let kind = frame["type"].as_str().unwrap_or_default();
        if kind != "orderbook_snapshot" && kind != "orderbook_delta" {
            return;
        }
        let seq = frame["seq"].as_u64().expect("seq");
        assert_eq!(seq, self.last_seq + 1, "seq gap or repeat: {frame}");
        self.last_seq = seq;
        let ticker = frame["msg"]["market_ticker"].as_str().unwrap().to_string();
        if kind == "orderbook_snapshot" {
            self.books.insert(
                ticker,
                WsBook::from_snapshot(&frame["msg"], self.use_yes_price),
            );
        } else {
            self.books
                .entry(ticker)
                .or_default()
                .apply(&frame["msg"], self.use_yes_price);
        }
    }
}

async fn subscribe_books(ws: &mut Ws, tickers: &[String], use_yes_price: bool) -> Tracker {
    let (sid, before) = ws
        .subscribe(json!({"channels": ["orderbook_delta"], "market_tickers": tickers, "use_yes_price": use_yes_price}))
        .await;
    let mut tracker = Tracker::new(sid, use_yes_price);
    for frame in &before {
        tracker.apply(frame);
    }
    while tracker.books.len() < tickers.len() {
        let frame = ws.frame().await;
        tracker.apply(&frame);
    }
    tracker
}

/// Read frames until the tracker's books equal `expected` (or fail after the harness timeout).
async fn converge(ws: &mut Ws, tracker: &mut Tracker, expected: &BTreeMap<String, WsBook>) {
    while &tracker.books != expected {
        let frame = ws.frame().await;
        tracker.apply(&frame);
    }
}

async fn rest_books(sim: &Sim, user: &User, tickers: &[String]) -> BTreeMap<String, WsBook> {
    let mut books = BTreeMap::new();
    for ticker in tickers {
        books.insert(
            ticker.clone(),
            WsBook::from_rest(&sim.book(user, ticker).await),
        );
    }
    books
}

/// A seeded random run of creates (GTC and IOC, both sides, crossing or not), cancels,
/// decreases and amends by two members on `tickers`.
async fn random_orders(sim: &Sim, users: &[&User], tickers: &[String], seed: u64, steps: usize) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut resting: Vec<(usize, String, String, String)> = Vec::new();
    for _ in 0..steps {
        let who = rng.random_range(0..users.len());
        let user = users[who];
        let action = rng.random_range(0..10);
        if action < 6 || resting.is_empty() {
            let ticker = &tickers[rng.random_range(0..tickers.len())];
            let side = if rng.random_bool(0.5) { "bid" } else { "ask" };
            let cents = rng.random_range(44..=56);
            let price = format!("0.{cents:02}");
            let count = rng.random_range(1..=12).to_string();
            let tif = if rng.random_bool(0.2) {
                "immediate_or_cancel"
            } else {
                "good_till_canceled"
            };
            let reply = sim
                .post(
                    user,
                    "/portfolio/events/orders",
                    json!({
                        "ticker": ticker, "side": side, "price": price, "count": count,
                        "time_in_force": tif, "self_trade_prevention_type": "maker",
                    }),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            if reply.body["remaining_count"] != "0.00" {
                resting.push((
                    who,
                    reply.body["order_id"].as_str().unwrap().to_string(),
                    ticker.clone(),
                    side.to_string(),
                ));
            }
        } else {
            let index = rng.random_range(0..resting.len());
            let (owner, order_id, ticker, side) = resting[index].clone();
            let user = users[owner];
            match action {
                6 | 7 => {
                    let _ = sim
                        .delete(user, &format!("/portfolio/events/orders/{order_id}"), None)
                        .await;
                    resting.swap_remove(index);
                }
                8 => {
                    let _ = sim
                        .post(
                            user,
                            &format!("/portfolio/events/orders/{order_id}/decrease"),
                            json!({"reduce_by": "1"}),
                        )
                        .await;
                }
                _ => {
                    let cents = rng.random_range(44..=56);
                    let _ = sim
                        .post(user, &format!("/portfolio/events/orders/{order_id}/amend"), json!({
                            "ticker": ticker, "side": side, "price": format!("0.{cents:02}"), "count": rng.random_range(1..=12).to_string(),
                        }))
                        .await;
                }
            }
        }
    }
}

#[tokio::test]
async fn ws_books_match_rest_and_get_snapshot_after_random_orders_in_both_conventions() {
    for seed in [11_u64, 12] {
        let sim = start(|_| {}).await;
        let alice = sim.new_user(KeyKind::Ed25519);
        let bob = sim.new_user(KeyKind::Ed25519);
        let first = sim.open_market(&alice, "KXFEDDECISION").await;
        let second = sim.open_market(&alice, "KXHIGHAUS").await;
        let tickers = vec![first.clone(), second.clone()];
        // A resting book before anyone subscribes, so the snapshot has something in it.
        assert_eq!(
            sim.order(&alice, &first, "bid", "0.40", "10").await.status,
            201
        );
        assert_eq!(
            sim.order(&bob, &first, "ask", "0.60", "5").await.status,
            201
        );

        let mut no_priced = sim.ws(&alice).await;
        let mut yes_priced = sim.ws(&bob).await;
        let mut no_tracker = subscribe_books(&mut no_priced, &tickers, false).await;
        let mut yes_tracker = subscribe_books(&mut yes_priced, &tickers, true).await;
        assert_eq!(
            no_tracker.books,
            rest_books(&sim, &alice, &tickers).await,
            "snapshots equal REST"
        );
        assert_eq!(
            yes_tracker.books, no_tracker.books,
            "use_yes_price flips NO prices only in transit"
        );

        random_orders(&sim, &[&alice, &bob], &tickers, seed, 80).await;
        let expected = rest_books(&sim, &alice, &tickers).await;
        converge(&mut no_priced, &mut no_tracker, &expected).await;
        converge(&mut yes_priced, &mut yes_tracker, &expected).await;

        // A fresh snapshot of both markets says the same.
        let id = no_priced
            .command(
                "update_subscription",
                json!({"sid": no_tracker.sid, "action": "get_snapshot", "market_tickers": tickers}),
            )
            .await;
        let (ok, _) = no_priced.until(|f| f["id"] == id).await;
        assert_eq!(ok["type"], "ok");
        let mut fresh = BTreeMap::new();
        while fresh.len() < 2 {
            let frame = no_priced.frame().await;
            if frame["type"] == "orderbook_snapshot" {
                assert_eq!(
                    frame["seq"].as_u64().unwrap(),
                    no_tracker.last_seq + 1,
                    "seq continues by default"
                );
                no_tracker.last_seq += 1;
                fresh.insert(
                    frame["msg"]["market_ticker"].as_str().unwrap().to_string(),
                    WsBook::from_snapshot(&frame["msg"], false),
                );
            }
        }
        assert_eq!(fresh, expected);
        sim.handle.shutdown().await;
    }
}

#[tokio::test]
async fn snapshot_omits_empty_sides_and_get_snapshot_can_reset_seq() {
    let sim = start(|c| c.variants.snapshot_seq = SnapshotSeq::Reset).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let mut ws = sim.ws(&user).await;
    let (sid, _) = ws
        .subscribe(json!({"channels": ["orderbook_delta"], "market_ticker": ticker}))
        .await;
    let snapshot = ws.frame().await;
    assert_eq!(snapshot["type"], "orderbook_snapshot");
    assert_eq!(snapshot["seq"], 1);
    assert!(
        snapshot["msg"].get("yes_dollars_fp").is_none()
            && snapshot["msg"].get("no_dollars_fp").is_none()
    );

    assert_eq!(
        sim.order(&user, &ticker, "bid", "0.33", "4").await.status,
        201
    );
    let (delta, _) = ws.until(|f| f["type"] == "orderbook_delta").await;
    assert_eq!(delta["seq"], 2);
    assert_eq!(delta["msg"]["side"], "yes");
    assert_eq!(delta["msg"]["price_dollars"], "0.3300");
    assert_eq!(delta["msg"]["delta_fp"], "4.00");
    assert!(delta["msg"]["ts_ms"].is_i64());

    let id = ws
        .command(
            "update_subscription",
            json!({"sids": [sid], "action": "get_snapshot", "market_tickers": [ticker]}),
        )
        .await;
    let (ok, _) = ws.until(|f| f["id"] == id).await;
    assert_eq!(ok["sid"], sid);
    let (again, _) = ws.until(|f| f["type"] == "orderbook_snapshot").await;
    assert_eq!(again["seq"], 1, "the Reset variant restarts the counter");
    assert_eq!(again["msg"]["yes_dollars_fp"], json!([["0.3300", "4.00"]]));
    assert!(again["msg"].get("no_dollars_fp").is_none());
    assert_eq!(
        sim.order(&user, &ticker, "bid", "0.34", "1").await.status,
        201
    );
    let (next, _) = ws.until(|f| f["type"] == "orderbook_delta").await;
    assert_eq!(next["seq"], 2);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn add_and_delete_markets() {
    let sim = start(|_| {}).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let first = sim.open_market(&user, "KXFEDDECISION").await;
    let second = sim.open_market(&user, "KXHIGHAUS").await;
    let mut ws = sim.ws(&user).await;
    let (sid, _) = ws
        .subscribe(json!({"channels": ["orderbook_delta"], "market_tickers": [first]}))
        .await;
    ws.until(|f| f["type"] == "orderbook_snapshot").await;

    let id = ws
        .command(
            "update_subscription",
            json!({"sid": sid, "action": "add_markets", "market_tickers": [second]}),
        )
        .await;
    let (ok, _) = ws.until(|f| f["id"] == id).await;
    let mut listed: Vec<&str> = ok["msg"]["market_tickers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    listed.sort();
    let mut both = vec![first.as_str(), second.as_str()];
    both.sort();
    assert_eq!(listed, both);
    let (snapshot, _) = ws.until(|f| f["type"] == "orderbook_snapshot").await;
    assert_eq!(snapshot["msg"]["market_ticker"], second.as_str());
    assert_eq!(snapshot["seq"], 2);

    let id = ws
        .command(
            "update_subscription",
            json!({"sid": sid, "action": "delete_markets", "market_tickers": [first]}),
        )
        .await;
    let (ok, _) = ws.until(|f| f["id"] == id).await;
    assert_eq!(ok["msg"]["market_tickers"], json!([second]));
    // An order in the deleted market sends nothing; one in the kept market does.
    assert_eq!(
        sim.order(&user, &first, "bid", "0.20", "1").await.status,
        201
    );
    assert_eq!(
        sim.order(&user, &second, "bid", "0.20", "1").await.status,
        201
    );
    let (delta, skipped) = ws.until(|f| f["type"] == "orderbook_delta").await;
    assert_eq!(delta["msg"]["market_ticker"], second.as_str());
    assert_eq!(delta["seq"], 3);
    assert!(skipped.is_empty(), "{skipped:?}");

    let id = ws.command("list_subscriptions", Value::Null).await;
    let (list, _) = ws.until(|f| f["id"] == id).await;
    assert_eq!(
        list["msg"],
        json!([{"channel": "orderbook_delta", "sid": sid}])
    );
    let id = ws.command("unsubscribe", json!({"sids": [sid]})).await;
    let (gone, _) = ws.until(|f| f["id"] == id).await;
    assert_eq!(gone["type"], "unsubscribed");
    assert_eq!(gone["sid"], sid);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn every_channel_carries_its_messages_to_the_right_members() {
    let sim = start(|_| {}).await;
    let alice = sim.new_user(KeyKind::Ed25519);
    let bob = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&alice, "KXFEDDECISION").await;
    let channels = json!([
        "ticker",
        "trade",
        "fill",
        "user_orders",
        "market_positions",
        "market_lifecycle_v2",
        "order_group_updates"
    ]);
    let mut alice_ws = sim.ws(&alice).await;
    let mut bob_ws = sim.ws(&bob).await;
    let mut sids = BTreeMap::new();
    for ws in [&mut alice_ws, &mut bob_ws] {
        let id = ws
            .command(
                "subscribe",
                json!({"channels": channels, "market_ticker": ticker}),
            )
            .await;
        for _ in 0..7 {
            let (reply, _) = ws.until(|f| f["id"] == id).await;
            assert_eq!(reply["type"], "subscribed");
            sids.insert(
                reply["msg"]["channel"].as_str().unwrap().to_string(),
                reply["msg"]["sid"].as_u64().unwrap(),
            );
        }
    }
    // Sids are per connection and one per channel.
    assert_eq!(sids.len(), 7);

    let group = sim
        .post(
            &alice,
            "/portfolio/order_groups/create",
            json!({"contracts_limit": 100}),
        )
        .await;
    let group_id = group.body["order_group_id"].as_str().unwrap().to_string();
    let mut bid = json!({"ticker": ticker, "side": "bid", "price": "0.40", "count": "10",
        "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross", "client_order_id": "alice-1"});
    bid["order_group_id"] = json!(group_id);
    assert_eq!(
        sim.post(&alice, "/portfolio/events/orders", bid)
            .await
            .status,
        201
    );
    assert_eq!(
        sim.order(&bob, &ticker, "ask", "0.40", "4").await.status,
        201
    );
    sim.handle.exchange_write(|exchange| {
        let now = kalshi_desk::runtime::clock::wall_ms();
        exchange
            .determine_market(&ticker, MarketResult::No, now)
            .unwrap();
    });

    let wanted = [
        "order_group_updates",
        "user_order",
        "ticker",
        "trade",
        "fill",
        "market_position",
        "market_lifecycle_v2",
    ];
    let mut seen: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let determined = |seen: &BTreeMap<String, Vec<Value>>| {
        seen.get("market_lifecycle_v2").is_some_and(|frames| {
            frames
                .iter()
                .any(|f| f["msg"]["event_type"] == "determined")
        })
    };
    while !wanted.iter().all(|w| seen.contains_key(*w)) || !determined(&seen) {
        let frame = alice_ws.frame().await;
        seen.entry(frame["type"].as_str().unwrap().to_string())
            .or_default()
            .push(frame);
    }
    let group_frame = &seen["order_group_updates"][0];
    assert_eq!(group_frame["msg"]["event_type"], "created");
    assert_eq!(group_frame["msg"]["order_group_id"], group_id.as_str());
    assert_eq!(group_frame["seq"], 1);
    let order_frame = &seen["user_order"][0];
    assert_eq!(order_frame["msg"]["client_order_id"], "alice-1");
    assert_eq!(order_frame["msg"]["user_id"], alice.user_id.as_str());
    let fill = &seen["fill"][0];
    assert_eq!(fill["msg"]["is_taker"], false);
    assert_eq!(fill["msg"]["count_fp"], "4.00");
    assert_eq!(fill["msg"]["post_position_fp"], "4.00");
    assert_eq!(fill["msg"]["client_order_id"], "alice-1");
    let position = seen["market_position"].last().unwrap();
    assert_eq!(position["msg"]["position_fp"], "4.00");
    assert_eq!(position["msg"]["position_cost_dollars"], "1.6000");
    let trade = &seen["trade"][0];
    assert_eq!(trade["msg"]["count_fp"], "4.00");
    assert_eq!(trade["msg"]["taker_outcome_side"], "no");
    assert!(
        seen["market_lifecycle_v2"]
            .iter()
            .any(|f| f["msg"]["event_type"] == "determined" && f["msg"]["result"] == "no")
    );

    // Bob sees the public trade and his own fill, never Alice's private frames.
    let mut bob_types = Vec::new();
    loop {
        let frame = bob_ws.frame().await;
        let kind = frame["type"].as_str().unwrap().to_string();
        if kind == "user_order" || kind == "fill" || kind == "market_position" {
            assert_ne!(
                frame["msg"]["client_order_id"], "alice-1",
                "Alice's order reached Bob: {frame}"
            );
            if let Some(user) = frame["msg"].get("user_id") {
                assert_eq!(user, bob.user_id.as_str());
            }
        }
        assert_ne!(kind, "order_group_updates", "another member's group");
        bob_types.push(kind.clone());
        if kind == "market_lifecycle_v2" && frame["msg"]["event_type"] == "determined" {
            break;
        }
    }
    assert!(bob_types.contains(&"fill".to_string()) && bob_types.contains(&"trade".to_string()));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn bad_commands_get_the_spec_error_codes() {
    let sim = start(|_| {}).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let mut ws = sim.ws(&user).await;
    let cases: Vec<(&str, u64)> = vec![
        ("this is not json", 1),
        (r#"{"id":41,"cmd":"subscribe"}"#, 2),
        (r#"{"id":42,"cmd":"subscribe","params":{"channels":[]}}"#, 3),
        (r#"{"id":43,"cmd":"unsubscribe","params":{}}"#, 4),
        (r#"{"id":44,"cmd":"fly","params":{}}"#, 5),
        (r#"{"id":45,"cmd":"unsubscribe","params":{"sids":[99]}}"#, 7),
        (
            r#"{"id":46,"cmd":"subscribe","params":{"channels":["nope"]}}"#,
            8,
        ),
        (
            r#"{"id":47,"cmd":"subscribe","params":{"channels":["ticker"],"use_yes_price":"x"}}"#,
            11,
        ),
        (
            r#"{"id":48,"cmd":"update_subscription","params":{"sids":[1,2],"action":"add_markets","market_ticker":"A"}}"#,
            12,
        ),
        (
            r#"{"id":49,"cmd":"update_subscription","params":{"sid":1,"action":"fly","market_ticker":"A"}}"#,
            13,
        ),
        (
            r#"{"id":50,"cmd":"subscribe","params":{"channels":["orderbook_delta"]}}"#,
            14,
        ),
        (
            r#"{"id":51,"cmd":"update_subscription","params":{"sid":1,"market_ticker":"A"}}"#,
            15,
        ),
        (
            r#"{"id":52,"cmd":"subscribe","params":{"channels":["orderbook_delta"],"market_ticker":"NOPE-1"}}"#,
            16,
        ),
    ];
    for (text, code) in cases {
        ws.send_text(text).await;
        let frame = ws.frame().await;
        assert_eq!(frame["type"], "error", "{text}");
        assert_eq!(frame["msg"]["code"], code, "{text}: {frame}");
        if code != 1 {
            assert!(frame["id"].is_u64(), "the error names the command: {frame}");
        }
    }
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn the_server_pings_with_heartbeat() {
    let sim = start(|c| c.ping_interval = Duration::from_millis(150)).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let mut ws = sim.ws(&user).await;
    for _ in 0..2 {
        match ws.event().await {
            Event::Ping(payload) => assert_eq!(payload, b"heartbeat"),
            other => panic!("expected a ping, got {other:?}"),
        }
    }
    sim.handle.shutdown().await;
    assert!(
        matches!(ws.event().await, Event::Closed | Event::Error(_)),
        "shutdown closes sockets"
    );
}
