//! Order writes and the portfolio they produce. Every expected number here is worked out by
//! hand from Kalshi's published rules (DIGEST 4.5-4.8), not taken from the simulator's fee code:
//! a quadratic taker fee is 0.07 x C x P x (1 - P) rounded up to $0.0001, a maker on a
//! `quadratic_with_maker_fees` series pays 0.0175 x C x P x (1 - P), and members start with
//! $100,000.

use super::harness::{Sim, User, error_code, start};
use kalshi_desk::kalshi::auth::KeyKind;
use kalshi_desk::sim::exchange::types::MarketResult;
use serde_json::{Value, json};

fn order_body(ticker: &str, side: &str, price: &str, count: &str, tif: &str) -> Value {
    json!({
        "ticker": ticker, "side": side, "price": price, "count": count,
        "time_in_force": tif, "self_trade_prevention_type": "taker_at_cross",
    })
}

async fn balance_dollars(sim: &Sim, user: &User) -> (String, i64) {
    let reply = sim.get(user, "/portfolio/balance").await;
    assert_eq!(reply.status, 200);
    (
        reply.body["balance_dollars"].as_str().unwrap().to_string(),
        reply.body["balance"].as_i64().unwrap(),
    )
}

async fn position(sim: &Sim, user: &User, ticker: &str) -> Option<Value> {
    let reply = sim
        .get(user, &format!("/portfolio/positions?ticker={ticker}"))
        .await;
    assert_eq!(reply.status, 200);
    reply.body["market_positions"]
        .as_array()
        .unwrap()
        .first()
        .cloned()
}

async fn fills_of(sim: &Sim, user: &User, ticker: &str) -> Vec<Value> {
    let reply = sim
        .get(user, &format!("/portfolio/fills?ticker={ticker}"))
        .await;
    assert_eq!(reply.status, 200);
    reply.body["fills"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_cross_books_fills_fees_positions_balances_and_settlement_by_hand() {
    let sim = start(|_| {}).await;
    let maker = sim.new_user(KeyKind::Ed25519);
    let taker = sim.new_user(KeyKind::Rsa2048);
    let ticker = sim.open_market(&maker, "KXFEDDECISION").await;

    // Maker bids 10 YES at 0.40: $4.00 of collateral locked.
    let bid = sim.order(&maker, &ticker, "bid", "0.40", "10").await;
    assert_eq!(bid.status, 201, "{}", bid.body);
    assert_eq!(bid.body["fill_count"], "0.00");
    assert_eq!(bid.body["remaining_count"], "10.00");
    assert_eq!(
        balance_dollars(&sim, &maker).await,
        ("99996.0000".into(), 9_999_600)
    );

    // Taker sells 10 YES at 0.40 (buys NO at 0.60): fee 0.07 x 10 x 0.4 x 0.6 = $0.1680.
    let ask = sim.order(&taker, &ticker, "ask", "0.40", "10").await;
    assert_eq!(ask.status, 201, "{}", ask.body);
    assert_eq!(ask.body["fill_count"], "10.00");
    assert_eq!(ask.body["remaining_count"], "0.00");
    assert_eq!(ask.body["average_fill_price"], "0.4000");
    assert_eq!(ask.body["average_fee_paid"], "0.0168");

    // Maker: paid $4.00, no maker fee on a quadratic series. Taker: paid $6.00 + $0.1680.
    assert_eq!(
        balance_dollars(&sim, &maker).await,
        ("99996.0000".into(), 9_999_600)
    );
    assert_eq!(
        balance_dollars(&sim, &taker).await,
        ("99993.8320".into(), 9_999_383)
    );

    let maker_fills = fills_of(&sim, &maker, &ticker).await;
    assert_eq!(maker_fills.len(), 1);
    assert_eq!(maker_fills[0]["is_taker"], false);
    assert_eq!(maker_fills[0]["fee_cost"], "0.0000");
    assert_eq!(maker_fills[0]["count_fp"], "10.00");
    assert_eq!(maker_fills[0]["yes_price_dollars"], "0.4000");
    assert_eq!(maker_fills[0]["book_side"], "bid");
    let taker_fills = fills_of(&sim, &taker, &ticker).await;
    assert_eq!(taker_fills[0]["is_taker"], true);
    assert_eq!(taker_fills[0]["fee_cost"], "0.1680");
    assert_eq!(taker_fills[0]["outcome_side"], "no");
    assert_eq!(taker_fills[0]["no_price_dollars"], "0.6000");
    assert_eq!(maker_fills[0]["trade_id"], taker_fills[0]["trade_id"]);

    let long = position(&sim, &maker, &ticker)
        .await
        .expect("maker position");
    assert_eq!(long["position_fp"], "10.00");
    assert_eq!(long["market_exposure_dollars"], "4.0000");
    assert_eq!(long["fees_paid_dollars"], "0.0000");
    let short = position(&sim, &taker, &ticker)
        .await
        .expect("taker position");
    assert_eq!(short["position_fp"], "-10.00");
    assert_eq!(short["market_exposure_dollars"], "6.0000");
    assert_eq!(short["fees_paid_dollars"], "0.1680");
    let positions = sim.get(&taker, "/portfolio/positions").await;
    let event_position = &positions.body["event_positions"][0];
    assert_eq!(event_position["total_cost_dollars"], "6.0000");
    assert_eq!(event_position["total_cost_shares_fp"], "10.00");

    // The market resolves YES: the maker's 10 YES pay $10.00, the taker's NO pay nothing.
    sim.handle.exchange_write(|exchange| {
        let now = kalshi_desk::runtime::clock::wall_ms();
        exchange
            .determine_market(&ticker, MarketResult::Yes, now)
            .unwrap();
        exchange.settle_market(&ticker, now).unwrap();
    });
    assert_eq!(
        balance_dollars(&sim, &maker).await,
        ("100006.0000".into(), 10_000_600)
    );
    assert_eq!(
        balance_dollars(&sim, &taker).await,
        ("99993.8320".into(), 9_999_383)
    );
    let settlements = sim.get(&maker, "/portfolio/settlements").await;
    let record = &settlements.body["settlements"][0];
    assert_eq!(record["ticker"], ticker.as_str());
    assert_eq!(record["market_result"], "yes");
    assert_eq!(record["yes_count_fp"], "10.00");
    assert_eq!(record["yes_total_cost_dollars"], "4.0000");
    assert_eq!(record["no_count_fp"], "0.00");
    assert_eq!(record["revenue"], 1000);
    assert_eq!(record["value"], 100);
    let settlements = sim.get(&taker, "/portfolio/settlements").await;
    let record = &settlements.body["settlements"][0];
    assert_eq!(record["no_count_fp"], "10.00");
    assert_eq!(record["no_total_cost_dollars"], "6.0000");
    assert_eq!(record["revenue"], 0);
    // Settled positions leave /portfolio/positions.
    assert!(position(&sim, &maker, &ticker).await.is_none());
    let market = sim.get(&maker, &format!("/markets/{ticker}")).await;
    assert_eq!(market.body["market"]["status"], "finalized");
    assert_eq!(market.body["market"]["result"], "yes");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn makers_pay_on_maker_fee_series() {
    let sim = start(|_| {}).await;
    let maker = sim.new_user(KeyKind::Ed25519);
    let taker = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&maker, "KXHIGHNY").await;
    assert_eq!(
        sim.order(&maker, &ticker, "bid", "0.30", "10").await.status,
        201
    );
    assert_eq!(
        sim.order(&taker, &ticker, "ask", "0.30", "10").await.status,
        201
    );
    // Maker: 0.0175 x 10 x 0.3 x 0.7 = 0.03675 -> $0.0368; pays $3.00.
    assert_eq!(balance_dollars(&sim, &maker).await.0, "99996.9632");
    assert_eq!(
        fills_of(&sim, &maker, &ticker).await[0]["fee_cost"],
        "0.0368"
    );
    // Taker: 0.07 x 10 x 0.3 x 0.7 = $0.1470; pays $7.00 for 10 NO at 0.70.
    assert_eq!(balance_dollars(&sim, &taker).await.0, "99992.8530");
    assert_eq!(
        fills_of(&sim, &taker, &ticker).await[0]["fee_cost"],
        "0.1470"
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn order_reads_amend_decrease_cancel_and_cancel_all() {
    let sim = start(|_| {}).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let stranger = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let first = sim.order(&user, &ticker, "bid", "0.40", "5").await;
    let second = sim
        .post(&user, "/portfolio/events/orders", {
            let mut body = order_body(&ticker, "bid", "0.40", "7", "good_till_canceled");
            body["client_order_id"] = json!("my-second");
            body
        })
        .await;
    assert_eq!(second.body["client_order_id"], "my-second");
    let first_id = first.body["order_id"].as_str().unwrap().to_string();
    let second_id = second.body["order_id"].as_str().unwrap().to_string();

    // A reused client_order_id is a 409.
    let duplicate = sim
        .post(&user, "/portfolio/events/orders", {
            let mut body = order_body(&ticker, "bid", "0.30", "1", "good_till_canceled");
            body["client_order_id"] = json!("my-second");
            body
        })
        .await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(error_code(&duplicate.body), "order_already_exists");

    let order = sim
        .get(&user, &format!("/portfolio/orders/{second_id}"))
        .await;
    assert_eq!(order.status, 200);
    assert_eq!(order.body["order"]["status"], "resting");
    assert_eq!(order.body["order"]["remaining_count_fp"], "7.00");
    assert_eq!(order.body["order"]["outcome_side"], "yes");
    assert_eq!(
        sim.get(&stranger, &format!("/portfolio/orders/{second_id}"))
            .await
            .status,
        404
    );

    let queue = sim
        .get(
            &user,
            &format!("/portfolio/orders/{second_id}/queue_position"),
        )
        .await;
    assert_eq!(queue.status, 200);
    assert_eq!(queue.body["queue_position_fp"], "5.00");
    let queues = sim
        .get(
            &user,
            &format!("/portfolio/orders/queue_positions?market_tickers={ticker}"),
        )
        .await;
    assert_eq!(queues.body["queue_positions"].as_array().unwrap().len(), 2);
    assert_eq!(
        sim.get(&user, "/portfolio/orders/queue_positions")
            .await
            .status,
        400
    );

    let listed = sim
        .get(
            &user,
            &format!("/portfolio/orders?ticker={ticker}&status=resting"),
        )
        .await;
    assert_eq!(listed.body["orders"].as_array().unwrap().len(), 2);
    let paged = sim.get(&user, "/portfolio/orders?limit=1").await;
    assert_eq!(
        paged.body["orders"][0]["order_id"],
        second_id.as_str(),
        "newest first"
    );
    assert_eq!(paged.body["cursor"], "1");
    assert_eq!(
        sim.get(&user, "/portfolio/orders?status=pending")
            .await
            .status,
        400
    );

    // Decrease by 3, then amend the price (new total 4 + nothing filled = 4).
    let decreased = sim
        .post(
            &user,
            &format!("/portfolio/events/orders/{second_id}/decrease"),
            json!({"reduce_by": "3"}),
        )
        .await;
    assert_eq!(decreased.status, 200, "{}", decreased.body);
    assert_eq!(decreased.body["remaining_count"], "4.00");
    let both = sim
        .post(
            &user,
            &format!("/portfolio/events/orders/{second_id}/decrease"),
            json!({"reduce_by": "1", "reduce_to": "1"}),
        )
        .await;
    assert_eq!(both.status, 400);
    let amended = sim
        .post(
            &user,
            &format!("/portfolio/events/orders/{second_id}/amend"),
            json!({"ticker": ticker, "side": "bid", "price": "0.41", "count": "4"}),
        )
        .await;
    assert_eq!(amended.status, 200, "{}", amended.body);
    let order = sim
        .get(&user, &format!("/portfolio/orders/{second_id}"))
        .await;
    assert_eq!(order.body["order"]["yes_price_dollars"], "0.4100");
    assert_eq!(order.body["order"]["remaining_count_fp"], "4.00");
    let wrong_side = sim
        .post(
            &user,
            &format!("/portfolio/events/orders/{second_id}/amend"),
            json!({"ticker": ticker, "side": "ask", "price": "0.41", "count": "4"}),
        )
        .await;
    assert_eq!(wrong_side.status, 400);
    assert_eq!(error_code(&wrong_side.body), "order_side_mismatch");
    let missing = sim
        .post(
            &user,
            "/portfolio/events/orders/nope/amend",
            json!({"ticker": ticker, "side": "bid", "price": "0.41", "count": "4"}),
        )
        .await;
    assert_eq!(missing.status, 404);

    // Cancel one: reduced_by is what was left.
    let cancel = sim
        .delete(&user, &format!("/portfolio/events/orders/{first_id}"), None)
        .await;
    assert_eq!(cancel.status, 200);
    assert_eq!(cancel.body["reduced_by"], "5.00");
    let again = sim
        .delete(&user, &format!("/portfolio/events/orders/{first_id}"), None)
        .await;
    assert_eq!(again.status, 404);

    // Cancel-all: 204 and nothing rests.
    let all = sim.delete(&user, "/portfolio/events/orders", None).await;
    assert_eq!(all.status, 204);
    let resting = sim.get(&user, "/portfolio/orders?status=resting").await;
    assert_eq!(resting.body["orders"].as_array().unwrap().len(), 0);
    let canceled = sim
        .get(&user, &format!("/portfolio/orders/{second_id}"))
        .await;
    assert_eq!(canceled.body["order"]["status"], "canceled");
    assert_eq!(
        balance_dollars(&sim, &user).await.0,
        "100000.0000",
        "all collateral released"
    );
    let resting_value = sim
        .get(&user, "/portfolio/summary/total_resting_order_value")
        .await;
    assert_eq!(resting_value.body["total_resting_order_value"], 0);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn batches_answer_item_by_item() {
    let sim = start(|_| {}).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let batch = sim
        .post(
            &user,
            "/portfolio/events/orders/batched",
            json!({"orders": [
                order_body(&ticker, "bid", "0.30", "2", "good_till_canceled"),
                order_body(&ticker, "bid", "0.305", "2", "good_till_canceled"),
                {"ticker": ticker, "price": "0.30", "count": "2", "time_in_force": "good_till_canceled", "self_trade_prevention_type": "maker"},
                order_body("NOPE-1", "bid", "0.30", "2", "good_till_canceled"),
                order_body(&ticker, "ask", "0.70", "3", "good_till_canceled"),
            ]}),
        )
        .await;
    assert_eq!(batch.status, 201, "{}", batch.body);
    let items = batch.body["orders"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(items[0]["error"].is_null() && items[0]["order_id"].is_string());
    assert_eq!(items[1]["error"]["code"], "invalid_order", "off-grid price");
    assert!(items[2]["error"]["code"].is_string(), "missing side");
    assert!(items[3]["error"]["code"].is_string(), "unknown market");
    assert!(items[4]["error"].is_null());
    let first = items[0]["order_id"].as_str().unwrap().to_string();
    let last = items[4]["order_id"].as_str().unwrap().to_string();

    let cancel = sim
        .delete(
            &user,
            "/portfolio/events/orders/batched",
            Some(json!({"orders": [{"order_id": first}, {"order_id": "does-not-exist"}, {"order_id": last}]})),
        )
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    let items = cancel.body["orders"].as_array().unwrap();
    assert_eq!(items[0]["reduced_by"], "2.00");
    assert!(items[0]["error"].is_null());
    assert_eq!(items[1]["reduced_by"], "0.00");
    assert_eq!(items[1]["error"]["code"], "not_found");
    assert_eq!(items[2]["reduced_by"], "3.00");
    let empty = sim
        .post(
            &user,
            "/portfolio/events/orders/batched",
            json!({"orders": []}),
        )
        .await;
    assert_eq!(empty.status, 400);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn ioc_fok_post_only_reduce_only_and_self_trade_prevention() {
    let sim = start(|_| {}).await;
    let maker = sim.new_user(KeyKind::Ed25519);
    let taker = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&maker, "KXFEDDECISION").await;
    let resting = sim.order(&maker, &ticker, "bid", "0.50", "5").await;
    let resting_id = resting.body["order_id"].as_str().unwrap().to_string();

    // Fill-or-kill for 8 against 5: nothing trades, the order ends canceled.
    let fok = sim
        .post(
            &taker,
            "/portfolio/events/orders",
            order_body(&ticker, "ask", "0.50", "8", "fill_or_kill"),
        )
        .await;
    assert_eq!(fok.status, 201, "{}", fok.body);
    assert_eq!(fok.body["fill_count"], "0.00");
    assert_eq!(fok.body["remaining_count"], "0.00");
    let fok_order = sim
        .get(
            &taker,
            &format!(
                "/portfolio/orders/{}",
                fok.body["order_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(fok_order.body["order"]["status"], "canceled");

    // Post-only that would cross is refused.
    let mut post_only = order_body(&ticker, "ask", "0.50", "1", "good_till_canceled");
    post_only["post_only"] = json!(true);
    let refused = sim
        .post(&taker, "/portfolio/events/orders", post_only)
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["error"]["details"], "post only cross");

    // Reduce-only must be IOC.
    let mut reduce_gtc = order_body(&ticker, "ask", "0.50", "1", "good_till_canceled");
    reduce_gtc["reduce_only"] = json!(true);
    assert_eq!(
        sim.post(&maker, "/portfolio/events/orders", reduce_gtc)
            .await
            .status,
        400
    );

    // IOC for 8 against 5: 5 fill, the rest is cancelled.
    let ioc = sim
        .post(
            &taker,
            "/portfolio/events/orders",
            order_body(&ticker, "ask", "0.50", "8", "immediate_or_cancel"),
        )
        .await;
    assert_eq!(ioc.body["fill_count"], "5.00");
    assert_eq!(ioc.body["remaining_count"], "0.00");
    let ioc_order = sim
        .get(
            &taker,
            &format!(
                "/portfolio/orders/{}",
                ioc.body["order_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(ioc_order.body["order"]["status"], "canceled");
    assert_eq!(ioc_order.body["order"]["fill_count_fp"], "5.00");
    let filled = sim
        .get(&maker, &format!("/portfolio/orders/{resting_id}"))
        .await;
    assert_eq!(filled.body["order"]["status"], "executed");

    // The maker is long 5 YES. A reduce-only IOC sell of 8 is capped at 5.
    assert_eq!(
        sim.order(&taker, &ticker, "bid", "0.45", "20").await.status,
        201
    );
    let mut reduce = order_body(&ticker, "ask", "0.45", "8", "immediate_or_cancel");
    reduce["reduce_only"] = json!(true);
    let reduced = sim.post(&maker, "/portfolio/events/orders", reduce).await;
    assert_eq!(reduced.status, 201, "{}", reduced.body);
    assert_eq!(reduced.body["fill_count"], "5.00");
    let flat = sim
        .get(
            &maker,
            &format!("/portfolio/positions?ticker={ticker}&count_filter=position"),
        )
        .await;
    assert_eq!(flat.body["market_positions"].as_array().unwrap().len(), 0);

    // Self-trade prevention, taker_at_cross: the incoming order dies, the resting one stays.
    let own = sim.order(&maker, &ticker, "ask", "0.60", "3").await;
    let own_id = own.body["order_id"].as_str().unwrap().to_string();
    let cross = sim.order(&maker, &ticker, "bid", "0.60", "3").await;
    assert_eq!(cross.body["fill_count"], "0.00");
    assert_eq!(cross.body["remaining_count"], "0.00");
    let still = sim
        .get(&maker, &format!("/portfolio/orders/{own_id}"))
        .await;
    assert_eq!(still.body["order"]["status"], "resting");
    // maker: the resting order is cancelled and the incoming one rests.
    let mut maker_stp = order_body(&ticker, "bid", "0.60", "3", "good_till_canceled");
    maker_stp["self_trade_prevention_type"] = json!("maker");
    let incoming = sim
        .post(&maker, "/portfolio/events/orders", maker_stp)
        .await;
    assert_eq!(incoming.body["remaining_count"], "3.00");
    let gone = sim
        .get(&maker, &format!("/portfolio/orders/{own_id}"))
        .await;
    assert_eq!(gone.body["order"]["status"], "canceled");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn order_groups_trigger_on_their_limit_and_reset() {
    let sim = start(|_| {}).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let taker = sim.new_user(KeyKind::Ed25519);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let created = sim
        .post(
            &user,
            "/portfolio/order_groups/create",
            json!({"contracts_limit": 5}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let group = created.body["order_group_id"].as_str().unwrap().to_string();
    let in_group = |price: &str, count: &str| {
        let mut body = order_body(&ticker, "bid", price, count, "good_till_canceled");
        body["order_group_id"] = json!(group);
        body
    };
    let first = sim
        .post(&user, "/portfolio/events/orders", in_group("0.45", "5"))
        .await;
    let second = sim
        .post(&user, "/portfolio/events/orders", in_group("0.44", "5"))
        .await;
    assert_eq!(second.status, 201);
    let listed = sim
        .get(&user, &format!("/portfolio/order_groups/{group}"))
        .await;
    assert_eq!(listed.body["orders"].as_array().unwrap().len(), 2);
    assert_eq!(listed.body["is_auto_cancel_enabled"], true);

    // 5 contracts match: the limit is reached, the group triggers and cancels the other order.
    assert_eq!(
        sim.order(&taker, &ticker, "ask", "0.45", "5").await.body["fill_count"],
        "5.00"
    );
    let second_id = second.body["order_id"].as_str().unwrap();
    let canceled = sim
        .get(&user, &format!("/portfolio/orders/{second_id}"))
        .await;
    assert_eq!(canceled.body["order"]["status"], "canceled");
    let refused = sim
        .post(&user, "/portfolio/events/orders", in_group("0.40", "1"))
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["error"]["details"], "order_group_triggered");
    let _ = first;

    assert_eq!(
        sim.put(&user, &format!("/portfolio/order_groups/{group}/reset"))
            .await
            .status,
        200
    );
    assert_eq!(
        sim.post(&user, "/portfolio/events/orders", in_group("0.40", "1"))
            .await
            .status,
        201
    );
    // A manual trigger cancels the group's resting orders at once.
    assert_eq!(
        sim.put(&user, &format!("/portfolio/order_groups/{group}/trigger"))
            .await
            .status,
        200
    );
    let resting = sim.get(&user, "/portfolio/orders?status=resting").await;
    assert_eq!(resting.body["orders"].as_array().unwrap().len(), 0);

    let limit = sim
        .call(
            Some(&user),
            reqwest::Method::PUT,
            &format!("/portfolio/order_groups/{group}/limit"),
            Some(&json!({"contracts_limit_fp": "9.00"})),
        )
        .await;
    assert_eq!(limit.status, 200);
    let groups = sim.get(&user, "/portfolio/order_groups").await;
    assert_eq!(groups.body["order_groups"][0]["contracts_limit_fp"], "9.00");
    assert_eq!(
        sim.get(&user, "/portfolio/order_groups/nope").await.status,
        404
    );
    assert_eq!(
        sim.delete(&user, &format!("/portfolio/order_groups/{group}"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        sim.get(&user, &format!("/portfolio/order_groups/{group}"))
            .await
            .status,
        404
    );
    sim.handle.shutdown().await;
}

/// The portfolio reads refuse bad query values with a 400 in the error envelope (OpenAPI
/// documents 400 for each), and answer 401 to an unsigned request.
#[tokio::test]
async fn portfolio_reads_refuse_bad_queries_and_unsigned_requests() {
    use reqwest::Method;
    let sim = start(|_| {}).await;
    let user = sim.new_user(KeyKind::Ed25519);
    for bad in [
        "/portfolio/balance?subaccount=64",
        "/portfolio/positions?count_filter=everything",
        "/portfolio/positions?limit=0",
        "/portfolio/fills?min_ts=yesterday",
        "/portfolio/fills?limit=1001",
        "/portfolio/settlements?max_ts=later",
        "/portfolio/settlements?cursor=zzz",
        "/portfolio/orders?status=open",
        "/portfolio/orders?event_ticker=A,B,C,D,E,F,G,H,I,J,K",
        "/portfolio/orders/queue_positions",
        "/portfolio/summary/total_resting_order_value?subaccount=-1",
        "/portfolio/order_groups?subaccount=99",
    ] {
        let reply = sim.get(&user, bad).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        assert_eq!(
            error_code(&reply.body),
            "bad_request",
            "{bad}: {}",
            reply.body
        );
    }
    for path in [
        "/portfolio/balance",
        "/portfolio/fills",
        "/portfolio/orders",
        "/portfolio/order_groups",
        "/exchange/user_data_timestamp",
        "/account/limits",
    ] {
        let reply = sim.call(None, Method::GET, path, None).await;
        assert_eq!(reply.status, 401, "{path}: {}", reply.body);
    }
    sim.handle.shutdown().await;
}
