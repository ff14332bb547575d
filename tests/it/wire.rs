//! kalshi::wire against Kalshi's own examples and spec schemas.

use std::path::{Path, PathBuf};

use kalshi_desk::kalshi::wire::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kalshi")
}

fn example(name: &str) -> String {
    let path = fixtures().join("examples/ws").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn decode(name: &str) -> ServerFrame {
    let text = example(name);
    decode_server_frame(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every server→client example of a channel we handle decodes to its typed variant.
#[test]
fn kalshi_ws_examples_decode_to_their_types() {
    let expected = [
        ("orderbookSnapshot-0.json", "orderbook_snapshot"),
        ("orderbookDelta-0.json", "orderbook_delta"),
        ("ticker-0.json", "ticker"),
        ("trade-0.json", "trade"),
        ("fill-0.json", "fill"),
        ("userOrder-0.json", "user_order"),
        ("marketPosition-0.json", "market_position"),
        ("marketLifecycleV2-0.json", "market_lifecycle_v2"),
        ("marketLifecycleV2-1.json", "market_lifecycle_v2"),
        ("marketLifecycleV2-2.json", "market_lifecycle_v2"),
        ("marketLifecycleV2-3.json", "market_lifecycle_v2"),
        (
            "multivariateMarketLifecycle-0.json",
            "multivariate_market_lifecycle",
        ),
        ("eventLifecycle-0.json", "event_lifecycle"),
        ("eventFeeUpdate-0.json", "event_fee_update"),
        ("eventFeeUpdate-1.json", "event_fee_update"),
        ("orderGroupUpdates-0.json", "order_group_updates"),
        ("subscribedResponse-0.json", "subscribed"),
        ("okResponse-0.json", "ok"),
        ("listSubscriptionsResponse-0.json", "ok"),
        ("unsubscribedResponse-0.json", "unsubscribed"),
        ("errorResponse-0.json", "error"),
        ("errorResponse-1.json", "error"),
        ("errorResponse-2.json", "error"),
        ("errorResponse-3.json", "error"),
        ("errorResponse-4.json", "error"),
    ];
    for (file, type_name) in expected {
        let frame = decode(file);
        assert_eq!(frame.msg.type_name(), type_name, "{file}");
        assert!(
            !matches!(frame.msg, ServerMsg::Unknown { .. }),
            "{file} decoded as unknown"
        );
    }
}

#[test]
fn kalshi_ws_example_values_are_exact() {
    let f = decode("orderbookDelta-0.json");
    assert_eq!((f.sid, f.seq), (Some(2), Some(3)));
    let ServerMsg::OrderbookDelta(d) = f.msg else {
        panic!("not a delta")
    };
    assert_eq!(d.market_ticker.as_str(), "FED-23DEC-T3.00");
    assert_eq!(d.price_dollars.micros(), 960_000);
    assert_eq!(d.delta_fp.centi(), -5400);
    assert_eq!(d.side, OutcomeSide::Yes);
    assert_eq!(d.ts_ms, Some(1_669_149_841_000));

    let ServerMsg::OrderbookSnapshot(s) = decode("orderbookSnapshot-0.json").msg else {
        panic!("not a snapshot")
    };
    assert_eq!(s.yes_dollars_fp.len(), 2);
    assert_eq!(s.yes_dollars_fp[1].price().micros(), 220_000);
    assert_eq!(s.no_dollars_fp[1].count().centi(), 14_600);

    let ServerMsg::Fill(fill) = decode("fill-0.json").msg else {
        panic!("not a fill")
    };
    assert_eq!(fill.post_position_fp.centi(), 50_000);
    assert_eq!(fill.outcome(), Some(OutcomeSide::Yes));
    assert_eq!(fill.subaccount, Some(3));

    let ServerMsg::Trade(trade) = decode("trade-0.json").msg else {
        panic!("not a trade")
    };
    assert_eq!(trade.taker_outcome(), Some(OutcomeSide::No));
    assert_eq!(trade.no_price_dollars.micros(), 640_000);

    let ServerMsg::Ticker(t) = decode("ticker-0.json").msg else {
        panic!("not a ticker")
    };
    assert_eq!(t.dollar_volume, 16_948);
    assert_eq!(t.yes_ask_size_fp.centi(), 15_000);

    let ServerMsg::MarketPosition(p) = decode("marketPosition-0.json").msg else {
        panic!("not a position")
    };
    assert_eq!(p.position_fp.centi(), 10_000);
    assert_eq!(p.position_fee_cost_dollars.micros(), 500_000);

    let ServerMsg::UserOrder(o) = decode("userOrder-0.json").msg else {
        panic!("not a user order")
    };
    assert_eq!(o.status, OrderStatus::Resting);
    assert_eq!(o.remaining_count_fp.centi(), 1000);
    assert_eq!(
        o.self_trade_prevention_type,
        Some(SelfTradePrevention::TakerAtCross)
    );
    assert_eq!(
        o.created_time.as_ref().map(Timestamp::unix_ms),
        Some(1_733_047_200_000)
    );

    let ServerMsg::MarketLifecycleV2(l) = decode("marketLifecycleV2-1.json").msg else {
        panic!("not a lifecycle")
    };
    assert_eq!(l.event_type, LifecycleEventType::PriceLevelStructureUpdated);
    let ranges = l.price_ranges.unwrap();
    assert_eq!(ranges[0].step.micros(), 1_000);

    let ServerMsg::OrderGroupUpdates(g) = decode("orderGroupUpdates-0.json").msg else {
        panic!("not an order group update")
    };
    assert_eq!(g.event_type, OrderGroupEventType::LimitUpdated);
    assert_eq!(g.contracts_limit_fp.map(|c| c.centi()), Some(15_000));

    let ok = decode("okResponse-0.json");
    assert_eq!((ok.id, ok.sid, ok.seq), (Some(123), Some(456), Some(222)));
    let ServerMsg::Ok(markets) = ok.msg else {
        panic!("not ok")
    };
    assert_eq!(markets.market_tickers.unwrap().len(), 3);

    let ServerMsg::SubscriptionList(list) = decode("listSubscriptionsResponse-0.json").msg else {
        panic!("not a list")
    };
    assert_eq!(list[2].channel, "fill");
    assert_eq!(list[2].sid, 3);

    let unsub = decode("unsubscribedResponse-0.json");
    assert_eq!(
        (unsub.id, unsub.sid, unsub.seq),
        (Some(102), Some(2), Some(7))
    );

    let ServerMsg::Error(e) = decode("errorResponse-4.json").msg else {
        panic!("not an error")
    };
    assert_eq!(e.code, 16);
    assert_eq!(e.market_ticker.as_deref(), Some("INVALID-MARKET"));

    let ServerMsg::EventFeeUpdate(fee) = decode("eventFeeUpdate-1.json").msg else {
        panic!("not a fee update")
    };
    assert_eq!(fee.fee_type_override, None);
}

/// Every example file, whatever it is (commands, pings, RFQ, index feeds), is handled without
/// a panic: server frames of other channels are reported as unknown, never as errors.
#[test]
fn every_example_file_is_handled() {
    let dir = fixtures().join("examples/ws");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        seen += 1;
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        if value.get("cmd").is_some() {
            // Client commands: market-channel ones decode as commands; the index-feed
            // update_subscription actions are refused with "unsupported action".
            match decode_command(&text) {
                Ok(cmd) => assert_eq!(Some(cmd.body.cmd_name()), value["cmd"].as_str(), "{name}"),
                Err(e) => assert_eq!(e.code, 13, "{name}: {e}"),
            }
        } else if value.get("type").is_some() {
            let frame = decode_server_frame(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            if let ServerMsg::Unknown { type_name } = &frame.msg {
                assert_eq!(Some(type_name.as_str()), value["type"].as_str());
            }
        } else {
            // Ping/pong control-frame payloads are bare strings, not frames.
            assert!(value.is_string(), "{name}");
            assert!(decode_server_frame(&text).is_err());
        }
    }
    assert!(seen >= 60, "only {seen} examples");
}

// ---- helpers ------------------------------------------------------------------------------------

use crate::schema::{
    validate_rest_request, validate_rest_response, validate_rest_schema, validate_ws_message,
};
use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::{Count, Money, Price};
use serde_json::{Value, json};

fn price(text: &str) -> Price {
    Price::parse(text).unwrap()
}

fn count(text: &str) -> Count {
    Count::parse_signed(text).unwrap()
}

fn money(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn sample_market() -> Market {
    Market {
        ticker: Ticker::new("KXFED-26DEC-T4.00"),
        event_ticker: "KXFED-26DEC".into(),
        market_type: MarketType::Binary,
        title: None,
        subtitle: None,
        yes_sub_title: "Above 4.00%".into(),
        no_sub_title: "Not above 4.00%".into(),
        created_time: ts("2026-11-01T00:00:00Z"),
        updated_time: ts("2026-11-25T12:00:00Z"),
        open_time: ts("2026-11-01T14:00:00Z"),
        close_time: ts("2026-12-10T19:00:00Z"),
        expected_expiration_time: Some(ts("2026-12-10T20:00:00Z")),
        expiration_time: None,
        latest_expiration_time: ts("2026-12-17T20:00:00Z"),
        settlement_timer_seconds: 300,
        status: MarketStatus::Active,
        yes_bid_dollars: price("0.4100"),
        yes_bid_size_fp: count("10.00"),
        yes_ask_dollars: price("0.4400"),
        yes_ask_size_fp: count("17.00"),
        no_bid_dollars: price("0.5600"),
        no_ask_dollars: price("0.5900"),
        last_price_dollars: price("0.4200"),
        volume_fp: count("1200.00"),
        volume_24h_fp: count("300.00"),
        result: MarketResult::Undetermined,
        can_close_early: true,
        open_interest_fp: count("800.00"),
        notional_value_dollars: money("1.0000"),
        previous_yes_bid_dollars: price("0.4000"),
        previous_yes_ask_dollars: price("0.4300"),
        previous_price_dollars: price("0.4100"),
        liquidity_dollars: None,
        settlement_value_dollars: None,
        settlement_ts: None,
        expiration_value: String::new(),
        occurrence_datetime: None,
        fee_waiver_expiration_time: None,
        early_close_condition: None,
        strike_type: Some("greater".into()),
        floor_strike: Some(serde_json::Number::from(4)),
        cap_strike: None,
        functional_strike: None,
        custom_strike: None,
        rules_primary: "If the upper bound is above 4.00%...".into(),
        rules_secondary: String::new(),
        mve_collection_ticker: None,
        mve_selected_legs: None,
        primary_participant_key: None,
        price_level_structure: "linear_cent".into(),
        price_ranges: vec![PriceRange {
            start: price("0.0000"),
            end: price("1.0000"),
            step: price("0.0100"),
        }],
        is_provisional: None,
        exchange_index: Some(0),
        settlement_bounds_type: None,
        settlement_floor_dollars: None,
    }
}

fn sample_order() -> Order {
    Order {
        order_id: "3b23c1c7-f4ef-4f0d-8b9a-9e53c61f1a0d".into(),
        user_id: "a1b2c3d4-e5f6-7890-abcd-ef1234567890".into(),
        client_order_id: "desk-mk-000001".into(),
        ticker: Ticker::new("KXFED-26DEC-T4.00"),
        side: Some(OutcomeSide::Yes),
        action: Some(Action::Buy),
        outcome_side: OutcomeSide::Yes,
        book_side: BookSide::Bid,
        order_type: OrderType::Limit,
        status: OrderStatus::Resting,
        yes_price_dollars: price("0.4100"),
        no_price_dollars: price("0.5900"),
        fill_count_fp: count("2.00"),
        remaining_count_fp: count("8.00"),
        initial_count_fp: count("10.00"),
        taker_fill_cost_dollars: money("0.0000"),
        maker_fill_cost_dollars: money("0.8200"),
        taker_fees_dollars: money("0.0000"),
        maker_fees_dollars: money("0.0034"),
        expiration_time: None,
        created_time: Some(ts("2026-11-25T12:00:00.123Z")),
        last_update_time: Some(ts("2026-11-25T12:00:01Z")),
        self_trade_prevention_type: Some(SelfTradePrevention::TakerAtCross),
        order_group_id: None,
        cancel_order_on_pause: Some(true),
        subaccount_number: Some(0),
        exchange_index: Some(0),
        last_update_reason: None,
    }
}

fn delta_frame(sid: u64, seq: u64, delta: &str) -> ServerFrame {
    ServerFrame::data(
        sid,
        Some(seq),
        ServerMsg::OrderbookDelta(OrderbookDelta {
            market_ticker: Ticker::new("KXFED-26DEC-T4.00"),
            market_id: "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1".into(),
            price_dollars: price("0.4100"),
            delta_fp: count(delta),
            side: OutcomeSide::No,
            client_order_id: None,
            subaccount: None,
            ts_ms: Some(1_764_072_000_000),
        }),
    )
}

/// Decode → encode → decode is the identity for every example we decode.
#[test]
fn decoded_examples_round_trip() {
    let dir = fixtures().join("examples/ws");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(frame) = decode_server_frame(&text) else {
            continue;
        };
        if matches!(frame.msg, ServerMsg::Unknown { .. }) {
            continue;
        }
        let again = decode_server_frame(&frame.to_json()).unwrap();
        assert_eq!(again, frame, "{}", path.display());
    }
}

/// Where an example carries only current fields, our encoding is the example itself.
#[test]
fn encoding_matches_kalshi_examples_exactly() {
    for file in [
        "orderbookSnapshot-0.json",
        "marketPosition-0.json",
        "subscribedResponse-0.json",
        "okResponse-0.json",
        "listSubscriptionsResponse-0.json",
        "unsubscribedResponse-0.json",
        "errorResponse-4.json",
        "eventLifecycle-0.json",
        "eventFeeUpdate-1.json",
        "orderGroupUpdates-0.json",
        "marketLifecycleV2-1.json",
        "userOrder-0.json",
    ] {
        let text = example(file);
        let frame = decode_server_frame(&text).unwrap();
        let original: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(to_value(&frame), original, "{file}");
    }
}

#[test]
fn missing_required_field_is_an_error_naming_it() {
    let text = r#"{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"A","market_id":"x","delta_fp":"-1.00","side":"yes"}}"#;
    let err = decode_server_frame(text).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("price_dollars"), "{shown}");
    assert!(shown.contains("orderbook_delta"), "{shown}");
    assert!(matches!(err, WireError::BadFrame { .. }));

    let err = decode_server_frame(r#"{"sid":2,"msg":{}}"#).unwrap_err();
    assert!(matches!(err, WireError::MissingType), "{err}");
    let err = decode_server_frame(r#"{"type":"ticker","sid":2}"#).unwrap_err();
    assert!(err.to_string().contains("msg"), "{err}");
    assert!(matches!(
        decode_server_frame("{\"type\":"),
        Err(WireError::Json(_))
    ));

    // A number where Kalshi sends a decimal string is refused, not coerced.
    let text = r#"{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"A","market_id":"x","price_dollars":0.41,"delta_fp":"-1.00","side":"yes"}}"#;
    assert!(decode_server_frame(text).is_err());

    let market = to_value(&sample_market());
    let mut without = market.clone();
    without.as_object_mut().unwrap().remove("yes_bid_dollars");
    let err = serde_json::from_value::<Market>(without).unwrap_err();
    assert!(err.to_string().contains("yes_bid_dollars"), "{err}");

    let mut order = to_value(&sample_order());
    order.as_object_mut().unwrap().remove("book_side");
    let err = serde_json::from_value::<Order>(order).unwrap_err();
    assert!(err.to_string().contains("book_side"), "{err}");
}

#[test]
fn unknown_fields_are_ignored_and_unknown_types_reported() {
    let text = r#"{"type":"orderbook_delta","extra":{"a":[1,2]},"sid":2,"seq":3,"msg":{"market_ticker":"A","market_id":"x","price_dollars":"0.41","delta_fp":"5.00","side":"no","Clock":12345,"new_field":null}}"#;
    let frame = decode_server_frame(text).unwrap();
    assert_eq!(frame.seq, Some(3));
    let ServerMsg::OrderbookDelta(d) = frame.msg else {
        panic!("not a delta")
    };
    assert_eq!(d.delta_fp.centi(), 500);

    let mut market = to_value(&sample_market());
    market["brand_new_field"] = json!({"x": 1});
    market["status"] = json!("some_future_status");
    let back: Market = serde_json::from_value(market).unwrap();
    assert_eq!(back.status, MarketStatus::Unknown);

    let frame =
        decode_server_frame(r#"{"type":"rfq_created","sid":15,"msg":{"id":"rfq"}}"#).unwrap();
    assert_eq!(
        frame.msg,
        ServerMsg::Unknown {
            type_name: "rfq_created".into()
        }
    );
    assert_eq!(frame.sid, Some(15));
    let frame = decode_server_frame(r#"{"type":"brand_new"}"#).unwrap();
    assert_eq!(frame.msg.type_name(), "brand_new");

    let frame = decode_server_frame(r#"{"type":"user_order","sid":1,"msg":{"order_id":"o","user_id":"u","ticker":"T","status":"pending","yes_price_dollars":"0.5","fill_count_fp":"0","remaining_count_fp":"1","initial_count_fp":"1","taker_fill_cost_dollars":"0","maker_fill_cost_dollars":"0","client_order_id":"c","created_ts_ms":1}}"#).unwrap();
    let ServerMsg::UserOrder(o) = frame.msg else {
        panic!("not a user order")
    };
    assert_eq!(o.status, OrderStatus::Unknown);
}

/// Every UNCONFIRMED shape in DIGEST.md decodes.
#[test]
fn unconfirmed_shapes_all_decode() {
    // WS snapshot: an empty side absent, null or [].
    for side in ["", r#","yes_dollars_fp":null"#, r#","yes_dollars_fp":[]"#] {
        let text = format!(
            r#"{{"type":"orderbook_snapshot","sid":1,"seq":1,"msg":{{"market_ticker":"A","market_id":"x"{side},"no_dollars_fp":[["0.5","1.00"]]}}}}"#
        );
        let ServerMsg::OrderbookSnapshot(s) = decode_server_frame(&text).unwrap().msg else {
            panic!("not a snapshot")
        };
        assert!(s.yes_dollars_fp.is_empty());
        assert_eq!(s.no_dollars_fp.len(), 1);
        // We emit the empty side as absent, as Kalshi documents for WS.
        assert!(
            !to_value(&s)
                .as_object()
                .unwrap()
                .contains_key("yes_dollars_fp")
        );
    }
    // REST orderbook: absent, null or [].
    for body in [
        r#"{"orderbook_fp":{"no_dollars":[["0.5600","17.00"]]}}"#,
        r#"{"orderbook_fp":{"yes_dollars":null,"no_dollars":[["0.5600","17.00"]]}}"#,
        r#"{"orderbook_fp":{"yes_dollars":[],"no_dollars":[["0.5600","17.00"]]}}"#,
    ] {
        let book: GetMarketOrderbookResponse = serde_json::from_str(body).unwrap();
        assert!(book.orderbook_fp.yes_dollars.is_empty());
        // We emit both keys, as the REST schema requires.
        let out = to_value(&book);
        assert_eq!(out["orderbook_fp"]["yes_dollars"], json!([]));
        validate_rest_response("GET", "/markets/{ticker}/orderbook", 200, &out).unwrap();
    }
    // Error envelopes: wrapped, bare, string, unknown.
    assert_eq!(
        decode_error_body(
            409,
            br#"{"error":{"code":"order_already_exists","message":"m"}}"#
        )
        .code(),
        Some("order_already_exists")
    );
    assert_eq!(
        decode_error_body(
            400,
            br#"{"code":"invalid_order","message":"m","details":"d"}"#
        )
        .code(),
        Some("invalid_order")
    );
    assert_eq!(
        decode_error_body(429, br#"{"error":"too many requests"}"#).shape,
        ErrorShape::Text
    );
    assert_eq!(
        decode_error_body(503, b"Service Unavailable")
            .raw
            .as_deref(),
        Some("Service Unavailable")
    );
    // Cursor: absent, null or "" all mean "last page".
    for body in [
        r#"{"markets":[]}"#,
        r#"{"markets":[],"cursor":null}"#,
        r#"{"markets":[],"cursor":""}"#,
    ] {
        let page: GetMarketsResponse = serde_json::from_str(body).unwrap();
        assert_eq!(page.next_cursor(), None);
    }
    let page: GetMarketsResponse =
        serde_json::from_str(r#"{"markets":[],"cursor":"abc"}"#).unwrap();
    assert_eq!(page.next_cursor(), Some("abc"));
    // `msg` before `type`; `ok` with no msg, null msg, or empty object (skip_ticker_ack).
    let frame = decode_server_frame(
        r#"{"msg":{"market_ticker":"A","market_id":"x","price_dollars":"0.41","delta_fp":"-2.00","side":"yes"},"seq":9,"sid":4,"type":"orderbook_delta"}"#,
    )
    .unwrap();
    assert_eq!((frame.sid, frame.seq), (Some(4), Some(9)));
    assert!(matches!(frame.msg, ServerMsg::OrderbookDelta(_)));
    for text in [
        r#"{"id":5,"sid":4,"seq":2,"type":"ok"}"#,
        r#"{"id":5,"sid":4,"seq":2,"type":"ok","msg":null}"#,
        r#"{"id":5,"sid":4,"seq":2,"type":"ok","msg":{}}"#,
    ] {
        let frame = decode_server_frame(text).unwrap();
        assert_eq!(frame.msg, ServerMsg::Ok(OkMarkets::default()), "{text}");
    }
    // Events without the removed `available_on_brokers`; series `tags` null.
    let event: EventData = serde_json::from_value(json!({
        "event_ticker": "E", "series_ticker": "S", "sub_title": "s", "title": "t",
        "collateral_return_type": "", "mutually_exclusive": true, "settlement_sources": null
    }))
    .unwrap();
    assert!(event.settlement_sources.is_empty());
    assert_eq!(event.available_on_brokers, None);
    // A blank optional time does not sink the market.
    let mut market = to_value(&sample_market());
    market["settlement_ts"] = json!("");
    market["expected_expiration_time"] = json!(null);
    let back: Market = serde_json::from_value(market).unwrap();
    assert_eq!(back.settlement_ts, None);
    assert_eq!(back.expected_expiration_time, None);
}

// ---- REST bodies ------------------------------------------------------------------------------

#[test]
fn rest_bodies_round_trip_and_match_the_spec() {
    let market = sample_market();
    let value = to_value(&market);
    assert_eq!(value["yes_bid_dollars"], json!("0.4100"));
    assert_eq!(value["volume_fp"], json!("1200.00"));
    assert_eq!(value["result"], json!(""));
    assert!(value.get("title").is_none(), "None is omitted");
    assert_eq!(
        serde_json::from_value::<Market>(value.clone()).unwrap(),
        market
    );
    validate_rest_schema("Market", &value).unwrap();
    validate_rest_response("GET", "/markets/{ticker}", 200, &json!({ "market": value })).unwrap();
    validate_rest_response(
        "GET",
        "/trade-api/v2/markets?limit=5",
        200,
        &to_value(&GetMarketsResponse {
            markets: vec![market.clone()],
            cursor: String::new(),
        }),
    )
    .unwrap();

    let order = sample_order();
    let value = to_value(&order);
    assert_eq!(value["type"], json!("limit"));
    assert_eq!(
        serde_json::from_value::<Order>(value.clone()).unwrap(),
        order
    );
    validate_rest_schema("Order", &value).unwrap();
    validate_rest_response(
        "GET",
        "/portfolio/orders/3b23c1c7",
        200,
        &to_value(&GetOrderResponse { order }),
    )
    .unwrap();

    let create = CreateOrderV2Request {
        client_order_id: Some("desk-mk-000002".into()),
        post_only: Some(true),
        expiration_time: Some(1_764_072_030),
        cancel_order_on_pause: Some(true),
        ..CreateOrderV2Request::limit(
            Ticker::new("KXFED-26DEC-T4.00"),
            BookSide::Ask,
            price("0.4400"),
            count("5"),
        )
    };
    let value = to_value(&create);
    assert_eq!(
        value,
        json!({"ticker":"KXFED-26DEC-T4.00","client_order_id":"desk-mk-000002","side":"ask",
               "count":"5.00","price":"0.4400","expiration_time":1764072030,
               "time_in_force":"good_till_canceled","post_only":true,
               "self_trade_prevention_type":"taker_at_cross","cancel_order_on_pause":true})
    );
    validate_rest_request("POST", "/portfolio/events/orders", &value).unwrap();
    let batch = to_value(&BatchCreateOrdersV2Request {
        orders: vec![create.clone(), create],
    });
    validate_rest_request("POST", "/portfolio/events/orders/batched", &batch).unwrap();

    let created = CreateOrderV2Response {
        order_id: "a6d6010d-6d5f-40a1-a7e7-5501386bb621".into(),
        client_order_id: Some("desk-mk-000002".into()),
        fill_count: count("5.00"),
        remaining_count: count("0.00"),
        average_fill_price: Some(price("0.5800")),
        average_fee_paid: Some(money("0.0012")),
        ts_ms: 1_715_793_600_456,
    };
    let value = to_value(&created);
    validate_rest_response("POST", "/portfolio/events/orders", 201, &value).unwrap();
    assert_eq!(
        serde_json::from_value::<CreateOrderV2Response>(value).unwrap(),
        created
    );

    let batch_result = BatchCreateOrdersV2Response {
        orders: vec![
            BatchCreateOrderV2Result {
                order_id: Some("a".into()),
                client_order_id: None,
                fill_count: Some(count("0.00")),
                remaining_count: Some(count("10.00")),
                average_fill_price: None,
                average_fee_paid: None,
                ts_ms: Some(1),
                error: None,
            },
            BatchCreateOrderV2Result {
                order_id: None,
                client_order_id: Some("dup".into()),
                fill_count: None,
                remaining_count: None,
                average_fill_price: None,
                average_fee_paid: None,
                ts_ms: None,
                error: Some(
                    ErrorResponse::new("invalid order", "invalid order")
                        .with_details("post only cross"),
                ),
            },
        ],
    };
    let value = to_value(&batch_result);
    assert_eq!(value["orders"][1]["ts_ms"], Value::Null, "never omitted");
    validate_rest_response("POST", "/portfolio/events/orders/batched", 201, &value).unwrap();

    let cancel = CancelOrderV2Response {
        order_id: "a".into(),
        client_order_id: None,
        reduced_by: count("8.00"),
        ts_ms: 5,
    };
    validate_rest_response(
        "DELETE",
        "/portfolio/events/orders/a",
        200,
        &to_value(&cancel),
    )
    .unwrap();
    let batch_cancel = BatchCancelOrdersV2Request {
        orders: vec![BatchCancelOrderV2 {
            order_id: "a".into(),
            subaccount: Some(0),
            exchange_index: None,
            market_ticker: None,
        }],
    };
    validate_rest_request(
        "DELETE",
        "/portfolio/events/orders/batched",
        &to_value(&batch_cancel),
    )
    .unwrap();
    let batch_cancelled = BatchCancelOrdersV2Response {
        orders: vec![BatchCancelOrderV2Result {
            order_id: "a".into(),
            client_order_id: None,
            reduced_by: count("0.00"),
            ts_ms: None,
            error: Some(ErrorResponse::new("not_found", "order not found")),
        }],
    };
    validate_rest_response(
        "DELETE",
        "/portfolio/events/orders/batched",
        200,
        &to_value(&batch_cancelled),
    )
    .unwrap();

    let amend = AmendOrderV2Request {
        ticker: Ticker::new("T"),
        side: BookSide::Bid,
        price: price("0.4200"),
        count: count("12"),
        client_order_id: Some("c1".into()),
        updated_client_order_id: Some("c2".into()),
        expiration_time: None,
        exchange_index: None,
    };
    validate_rest_request(
        "POST",
        "/portfolio/events/orders/a/amend",
        &to_value(&amend),
    )
    .unwrap();
    let amended = AmendOrderV2Response {
        order_id: "a".into(),
        client_order_id: Some("c2".into()),
        remaining_count: Some(count("10.00")),
        fill_count: Some(count("2.00")),
        average_fill_price: None,
        average_fee_paid: None,
        ts_ms: 9,
    };
    validate_rest_response(
        "POST",
        "/portfolio/events/orders/a/amend",
        200,
        &to_value(&amended),
    )
    .unwrap();

    let decrease = DecreaseOrderV2Request::to(count("3"));
    assert_eq!(to_value(&decrease), json!({"reduce_to": "3.00"}));
    assert_eq!(decrease.validate(), Ok(Decrease::To(count("3"))));
    assert!(DecreaseOrderV2Request::default().validate().is_err());
    let both = DecreaseOrderV2Request {
        reduce_by: Some(count("1")),
        ..DecreaseOrderV2Request::to(count("3"))
    };
    assert!(both.validate().is_err());
    validate_rest_request(
        "POST",
        "/portfolio/events/orders/a/decrease",
        &to_value(&decrease),
    )
    .unwrap();
    let decreased = DecreaseOrderV2Response {
        order_id: "a".into(),
        client_order_id: None,
        remaining_count: count("3.00"),
        ts_ms: 10,
    };
    validate_rest_response(
        "POST",
        "/portfolio/events/orders/a/decrease",
        200,
        &to_value(&decreased),
    )
    .unwrap();
}

#[test]
fn portfolio_exchange_and_group_bodies_match_the_spec() {
    let balance = GetBalanceResponse {
        balance: 12_345,
        balance_dollars: money("123.4567"),
        portfolio_value: 20_000,
        updated_ts: 1_764_072_000,
        balance_breakdown: Some(vec![IndexedBalance {
            exchange_index: 0,
            balance: money("123.4567"),
        }]),
    };
    validate_rest_response("GET", "/portfolio/balance", 200, &to_value(&balance)).unwrap();

    let positions = GetPositionsResponse {
        cursor: String::new(),
        market_positions: vec![MarketPosition {
            ticker: Ticker::new("T"),
            total_traded_dollars: money("54.0000"),
            position_fp: count("-54.00"),
            market_exposure_dollars: money("30.2400"),
            realized_pnl_dollars: money("-1.5000"),
            fees_paid_dollars: money("0.3400"),
            last_updated_ts: ts("2026-11-25T12:00:00Z"),
            exchange_index: None,
        }],
        event_positions: vec![EventPosition {
            event_ticker: "E".into(),
            total_cost_dollars: money("30.2400"),
            total_cost_shares_fp: count("54.00"),
            event_exposure_dollars: money("30.2400"),
            realized_pnl_dollars: money("0"),
            fees_paid_dollars: money("0.3400"),
        }],
    };
    let value = to_value(&positions);
    assert_eq!(value["market_positions"][0]["position_fp"], json!("-54.00"));
    validate_rest_response("GET", "/portfolio/positions", 200, &value).unwrap();
    assert_eq!(
        serde_json::from_value::<GetPositionsResponse>(value).unwrap(),
        positions
    );

    let fills = GetFillsResponse {
        fills: vec![Fill {
            fill_id: "f1".into(),
            trade_id: "f1".into(),
            order_id: "o1".into(),
            ticker: Ticker::new("T"),
            market_ticker: Ticker::new("T"),
            side: Some(OutcomeSide::No),
            action: Some(Action::Buy),
            outcome_side: OutcomeSide::No,
            book_side: BookSide::Ask,
            count_fp: count("3.00"),
            yes_price_dollars: price("0.9450"),
            no_price_dollars: price("0.0550"),
            is_taker: true,
            created_time: Some(ts("2026-11-25T12:00:00Z")),
            fee_cost: money("0.0100"),
            subaccount_number: None,
            ts: Some(1_764_072_000),
            exchange_index: None,
        }],
        cursor: "next".into(),
    };
    validate_rest_response("GET", "/portfolio/fills", 200, &to_value(&fills)).unwrap();

    let settlements = GetSettlementsResponse {
        settlements: vec![Settlement {
            ticker: Ticker::new("T"),
            event_ticker: "E".into(),
            market_result: MarketResult::Yes,
            yes_count_fp: count("10.00"),
            yes_total_cost_dollars: money("4.1000"),
            no_count_fp: count("0.00"),
            no_total_cost_dollars: money("0.0000"),
            revenue: 1000,
            settled_time: ts("2026-12-10T20:05:00Z"),
            fee_cost: money("0.0700"),
            value: Some(100),
            exchange_index: None,
        }],
        cursor: String::new(),
    };
    validate_rest_response(
        "GET",
        "/portfolio/settlements",
        200,
        &to_value(&settlements),
    )
    .unwrap();

    let trades = GetTradesResponse {
        trades: vec![Trade {
            trade_id: "t1".into(),
            ticker: Ticker::new("T"),
            count_fp: count("1.00"),
            yes_price_dollars: price("0.3600"),
            no_price_dollars: price("0.6400"),
            taker_side: Some(OutcomeSide::No),
            taker_outcome_side: OutcomeSide::No,
            taker_book_side: BookSide::Ask,
            created_time: ts("2026-11-25T12:00:00Z"),
            is_block_trade: false,
        }],
        cursor: String::new(),
    };
    validate_rest_response("GET", "/markets/trades", 200, &to_value(&trades)).unwrap();

    let status = ExchangeStatus {
        exchange_active: true,
        trading_active: false,
        intra_exchange_transfers_active: None,
        exchange_estimated_resume_time: Some(ts("2026-11-26T09:00:00Z")),
        exchange_index_statuses: None,
    };
    for code in [200, 503, 504] {
        validate_rest_response("GET", "/exchange/status", code, &to_value(&status)).unwrap();
    }
    let day = vec![DailySchedule {
        open_time: "08:00".into(),
        close_time: "03:00".into(),
    }];
    let schedule = GetExchangeScheduleResponse {
        schedule: Schedule {
            standard_hours: vec![WeeklySchedule {
                start_time: ts("2026-01-01T00:00:00Z"),
                end_time: ts("2027-01-01T00:00:00Z"),
                monday: day.clone(),
                tuesday: day.clone(),
                wednesday: day.clone(),
                thursday: day.clone(),
                friday: day.clone(),
                saturday: day.clone(),
                sunday: day,
            }],
            maintenance_windows: vec![],
        },
    };
    validate_rest_response("GET", "/exchange/schedule", 200, &to_value(&schedule)).unwrap();

    let limits = GetAccountApiLimitsResponse {
        usage_tier: "basic".into(),
        read: BucketLimit {
            refill_rate: 200,
            bucket_capacity: 400,
        },
        write: BucketLimit {
            refill_rate: 100,
            bucket_capacity: 100,
        },
        grants: vec![],
    };
    validate_rest_response("GET", "/account/limits", 200, &to_value(&limits)).unwrap();
    let costs = GetAccountEndpointCostsResponse {
        default_cost: 10,
        endpoint_costs: vec![EndpointTokenCost {
            method: "DELETE".into(),
            path: "/trade-api/v2/portfolio/events/orders/{order_id}".into(),
            cost: 2,
        }],
    };
    validate_rest_response("GET", "/account/endpoint_costs", 200, &to_value(&costs)).unwrap();

    let create_group = CreateOrderGroupRequest {
        contracts_limit_fp: Some(count("150")),
        ..CreateOrderGroupRequest::default()
    };
    validate_rest_request(
        "POST",
        "/portfolio/order_groups/create",
        &to_value(&create_group),
    )
    .unwrap();
    let created = CreateOrderGroupResponse {
        order_group_id: "og_1".into(),
        subaccount: 0,
        exchange_index: Some(0),
    };
    validate_rest_response(
        "POST",
        "/portfolio/order_groups/create",
        201,
        &to_value(&created),
    )
    .unwrap();
    let groups = GetOrderGroupsResponse {
        order_groups: vec![OrderGroup {
            id: "og_1".into(),
            contracts_limit_fp: Some(count("150.00")),
            is_auto_cancel_enabled: true,
            exchange_index: None,
        }],
    };
    validate_rest_response("GET", "/portfolio/order_groups", 200, &to_value(&groups)).unwrap();
    let group = GetOrderGroupResponse {
        is_auto_cancel_enabled: false,
        contracts_limit_fp: None,
        orders: vec!["o1".into()],
        exchange_index: None,
    };
    validate_rest_response(
        "GET",
        "/portfolio/order_groups/og_1",
        200,
        &to_value(&group),
    )
    .unwrap();
    for path in [
        "/portfolio/order_groups/og_1/reset",
        "/portfolio/order_groups/og_1/trigger",
        "/portfolio/order_groups/og_1/limit",
    ] {
        validate_rest_response("PUT", path, 200, &to_value(&EmptyResponse {})).unwrap();
    }
    validate_rest_request(
        "PUT",
        "/portfolio/order_groups/og_1/limit",
        &to_value(&UpdateOrderGroupLimitRequest {
            contracts_limit: Some(10),
            contracts_limit_fp: None,
        }),
    )
    .unwrap();

    validate_rest_response(
        "GET",
        "/markets/orderbooks",
        200,
        &to_value(&GetMarketOrderbooksResponse {
            orderbooks: vec![MarketOrderbookFp {
                ticker: Ticker::new("T"),
                orderbook_fp: OrderbookFp {
                    yes_dollars: vec![PriceLevel(price("0.41"), count("10"))],
                    no_dollars: vec![],
                },
            }],
        }),
    )
    .unwrap();
    validate_rest_response(
        "GET",
        "/portfolio/orders/queue_positions",
        200,
        &to_value(&GetOrderQueuePositionsResponse {
            queue_positions: vec![OrderQueuePosition {
                order_id: "o".into(),
                market_ticker: Ticker::new("T"),
                queue_position_fp: count("25.00"),
            }],
        }),
    )
    .unwrap();
    validate_rest_response(
        "GET",
        "/portfolio/summary/total_resting_order_value",
        200,
        &to_value(&GetPortfolioRestingOrderTotalValueResponse {
            total_resting_order_value: 4100,
        }),
    )
    .unwrap();
    // Error bodies: the spec's ErrorResponse has no required members.
    validate_rest_response(
        "POST",
        "/portfolio/events/orders",
        409,
        &to_value(&ErrorResponse::new(
            "order_already_exists",
            "order already exists",
        )),
    )
    .unwrap();
}

// ---- the schema helper itself -----------------------------------------------------------------

#[test]
fn schema_helper_rejects_bad_bodies() {
    let good = to_value(&sample_market());
    validate_rest_schema("Market", &good).unwrap();

    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("ticker");
    let err = validate_rest_schema("Market", &missing).unwrap_err();
    assert!(err.contains("ticker"), "{err}");

    let mut number = good.clone();
    number["yes_bid_dollars"] = json!(0.41);
    assert!(validate_rest_schema("Market", &number).is_err());

    let mut bad_enum = good.clone();
    bad_enum["status"] = json!("open");
    assert!(validate_rest_schema("Market", &bad_enum).is_err());

    let mut bad_time = good.clone();
    bad_time["close_time"] = json!("tomorrow");
    assert!(validate_rest_schema("Market", &bad_time).is_err());

    // nullable: null passes where the spec says nullable, fails where it does not.
    let mut nulls = good.clone();
    nulls["expected_expiration_time"] = Value::Null;
    validate_rest_schema("Market", &nulls).unwrap();
    nulls["close_time"] = Value::Null;
    assert!(validate_rest_schema("Market", &nulls).is_err());

    // Responses: wrong status, unknown path, wrong wrapper.
    assert!(validate_rest_response("GET", "/markets/{ticker}", 418, &good).is_err());
    assert!(validate_rest_response("GET", "/nope", 200, &good).is_err());
    assert!(validate_rest_response("GET", "/markets/{ticker}", 200, &good).is_err());
    assert!(validate_rest_schema("NoSuchSchema", &good).is_err());
    let bad_create = json!({"ticker":"T","side":"buy","count":"1","price":"0.5",
        "time_in_force":"good_till_canceled","self_trade_prevention_type":"maker"});
    assert!(validate_rest_request("POST", "/portfolio/events/orders", &bad_create).is_err());

    // WS: a good frame passes, a broken one fails.
    let delta = to_value(&delta_frame(2, 3, "-54.00"));
    validate_ws_message("orderbook_delta", &delta).unwrap();
    validate_ws_message("orderbookDelta", &delta).unwrap();
    let mut no_seq = delta.clone();
    no_seq.as_object_mut().unwrap().remove("seq");
    assert!(validate_ws_message("orderbook_delta", &no_seq).is_err());
    let mut bad_side = delta.clone();
    bad_side["msg"]["side"] = json!("bid");
    assert!(validate_ws_message("orderbook_delta", &bad_side).is_err());
    let mut numeric = delta;
    numeric["msg"]["delta_fp"] = json!(-54);
    assert!(validate_ws_message("orderbook_delta", &numeric).is_err());
    assert!(validate_ws_message("no_such_message", &json!({})).is_err());
}

/// Kalshi's own examples against Kalshi's own schemas: most pass; the ones that omit fields
/// the schema requires fail, which is why our decoder treats those fields as optional.
#[test]
fn kalshi_examples_against_their_schemas() {
    for file in [
        "orderbookDelta-0.json",
        "orderbookSnapshot-0.json",
        "ticker-0.json",
        "subscribedResponse-0.json",
        "okResponse-0.json",
        "listSubscriptionsResponse-0.json",
        "unsubscribedResponse-0.json",
        "errorResponse-0.json",
        "eventLifecycle-0.json",
        "eventFeeUpdate-1.json",
        "subscribeCommand-1.json",
        "unsubscribeCommand-0.json",
        "updateSubscriptionCommand-0.json",
        "updateSubscriptionSingleSidCommand-0.json",
        "listSubscriptionsCommand-0.json",
    ] {
        let value: Value = serde_json::from_str(&example(file)).unwrap();
        let name = value
            .get("type")
            .or_else(|| value.get("cmd"))
            .and_then(Value::as_str)
            .unwrap();
        validate_ws_message(name, &value).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    for (file, missing) in [
        ("fill-0.json", "outcome_side"),
        ("trade-0.json", "taker_outcome_side"),
        ("userOrder-0.json", "book_side"),
        ("orderGroupUpdates-0.json", "ts_ms"),
    ] {
        let value: Value = serde_json::from_str(&example(file)).unwrap();
        let err = validate_ws_message(value["type"].as_str().unwrap(), &value).unwrap_err();
        assert!(err.contains(missing), "{file}: {err}");
        assert!(decode_server_frame(&example(file)).is_ok());
    }
}

/// What our types emit for every WS payload the simulator sends passes the AsyncAPI schemas
/// (with the deprecated-but-required fields filled, as the simulator must).
#[test]
fn our_ws_frames_match_the_asyncapi_schemas() {
    let ticker = Ticker::new("KXFED-26DEC-T4.00");
    let market_id = "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1".to_string();
    let frames = vec![
        delta_frame(2, 3, "12.00"),
        ServerFrame::data(
            2,
            Some(1),
            ServerMsg::OrderbookSnapshot(OrderbookSnapshot {
                market_ticker: ticker.clone(),
                market_id: market_id.clone(),
                yes_dollars_fp: vec![PriceLevel(price("0.4100"), count("10.00"))],
                no_dollars_fp: vec![],
            }),
        ),
        ServerFrame::data(
            3,
            None,
            ServerMsg::Ticker(WsTicker {
                market_ticker: ticker.clone(),
                market_id: market_id.clone(),
                price_dollars: price("0.4200"),
                yes_bid_dollars: price("0.4100"),
                yes_ask_dollars: price("0.4400"),
                yes_bid_size_fp: count("10.00"),
                yes_ask_size_fp: count("17.00"),
                last_trade_size_fp: count("1.00"),
                volume_fp: count("1200.00"),
                open_interest_fp: count("800.00"),
                dollar_volume: 504,
                dollar_open_interest: 336,
                ts: Some(1_764_072_000),
                ts_ms: 1_764_072_000_000,
                time: Timestamp::from_unix_ms(1_764_072_000_000),
            }),
        ),
        ServerFrame::data(
            4,
            None,
            ServerMsg::Trade(WsTrade {
                trade_id: "d91bc706-ee49-470d-82d8-11418bda6fed".into(),
                market_ticker: ticker.clone(),
                yes_price_dollars: price("0.4200"),
                no_price_dollars: price("0.5800"),
                count_fp: count("1.00"),
                taker_side: Some(OutcomeSide::Yes),
                taker_outcome_side: Some(OutcomeSide::Yes),
                taker_book_side: Some(BookSide::Bid),
                is_block_trade: false,
                ts: Some(1_764_072_000),
                ts_ms: 1_764_072_000_000,
            }),
        ),
        ServerFrame::data(
            5,
            None,
            ServerMsg::Fill(WsFill {
                trade_id: "d91bc706-ee49-470d-82d8-11418bda6fed".into(),
                order_id: "ee587a1c-8b87-4dcf-b721-9f6f790619fa".into(),
                market_ticker: ticker.clone(),
                exchange_index: 0,
                is_taker: false,
                side: Some(OutcomeSide::Yes),
                yes_price_dollars: price("0.4100"),
                count_fp: count("2.00"),
                fee_cost: Some(money("0.0034")),
                action: Some(Action::Buy),
                outcome_side: Some(OutcomeSide::Yes),
                book_side: Some(BookSide::Bid),
                ts: Some(1_764_072_000),
                ts_ms: 1_764_072_000_000,
                client_order_id: Some("desk-mk-000001".into()),
                post_position_fp: count("2.00"),
                purchased_side: Some(OutcomeSide::Yes),
                subaccount: None,
            }),
        ),
        ServerFrame::data(
            6,
            None,
            ServerMsg::UserOrder(UserOrder {
                order_id: "ee587a1c-8b87-4dcf-b721-9f6f790619fa".into(),
                user_id: "a1b2c3d4-e5f6-7890-abcd-ef1234567890".into(),
                ticker: ticker.clone(),
                status: OrderStatus::Executed,
                side: Some(OutcomeSide::Yes),
                is_yes: Some(true),
                outcome_side: Some(OutcomeSide::Yes),
                book_side: Some(BookSide::Bid),
                yes_price_dollars: price("0.4100"),
                fill_count_fp: count("2.00"),
                remaining_count_fp: count("0.00"),
                initial_count_fp: count("2.00"),
                taker_fill_cost_dollars: money("0.0000"),
                maker_fill_cost_dollars: money("0.8200"),
                taker_fees_dollars: Some(money("0.0000")),
                maker_fees_dollars: Some(money("0.0034")),
                client_order_id: "desk-mk-000001".into(),
                order_group_id: None,
                self_trade_prevention_type: Some(SelfTradePrevention::Maker),
                created_time: Timestamp::from_unix_ms(1_764_071_990_000),
                created_ts_ms: 1_764_071_990_000,
                last_update_time: None,
                last_updated_ts_ms: Some(1_764_072_000_000),
                expiration_time: None,
                expiration_ts_ms: None,
                subaccount_number: Some(0),
            }),
        ),
        ServerFrame::data(
            7,
            None,
            ServerMsg::MarketPosition(WsMarketPosition {
                user_id: "a1b2c3d4-e5f6-7890-abcd-ef1234567890".into(),
                market_ticker: ticker.clone(),
                position_fp: count("-2.00"),
                position_cost_dollars: money("1.1800"),
                realized_pnl_dollars: money("0.0000"),
                fees_paid_dollars: money("0.0034"),
                position_fee_cost_dollars: money("0.0034"),
                volume_fp: count("2.00"),
                subaccount: None,
            }),
        ),
        ServerFrame::data(
            8,
            None,
            ServerMsg::MarketLifecycleV2(MarketLifecycle {
                event_type: LifecycleEventType::Determined,
                market_ticker: ticker.clone(),
                exchange_index: None,
                open_ts: None,
                close_ts: None,
                result: Some(MarketResult::Yes),
                determination_ts: Some(1_764_072_000),
                settlement_value: Some(price("1.0000")),
                settled_ts: None,
                is_deactivated: None,
                price_level_structure: None,
                price_ranges: None,
                strike_type: None,
                floor_strike: None,
                cap_strike: None,
                custom_strike: None,
                yes_sub_title: None,
                additional_metadata: None,
            }),
        ),
        ServerFrame::data(
            9,
            Some(4),
            ServerMsg::OrderGroupUpdates(OrderGroupUpdate {
                event_type: OrderGroupEventType::Triggered,
                order_group_id: "og_1".into(),
                contracts_limit_fp: None,
                ts_ms: Some(1_764_072_000_000),
            }),
        ),
        ServerFrame::reply(
            1,
            ServerMsg::Subscribed(Subscribed {
                channel: "orderbook_delta".into(),
                sid: 2,
            }),
        ),
        ServerFrame {
            id: Some(4),
            sid: Some(2),
            seq: Some(9),
            msg: ServerMsg::Ok(OkMarkets {
                market_tickers: Some(vec![ticker.to_string()]),
                market_ids: None,
            }),
        },
        ServerFrame::reply(
            5,
            ServerMsg::SubscriptionList(vec![SubscriptionInfo {
                channel: "ticker".into(),
                sid: 3,
            }]),
        ),
        ServerFrame {
            id: Some(6),
            sid: Some(2),
            seq: Some(10),
            msg: ServerMsg::Unsubscribed,
        },
        ServerFrame::reply(
            7,
            ServerMsg::Error(WsError {
                code: 8,
                msg: "Unknown channel name".into(),
                market_ticker: None,
                market_id: None,
            }),
        ),
    ];
    for frame in frames {
        let value = to_value(&frame);
        validate_ws_message(frame.msg.type_name(), &value)
            .unwrap_or_else(|e| panic!("{}: {e}\n{value}", frame.msg.type_name()));
        assert_eq!(decode_server_frame(&frame.to_json()).unwrap(), frame);
    }
}

// ---- WS commands ------------------------------------------------------------------------------

#[test]
fn commands_serialize_as_kalshi_expects() {
    let cmd = Command::subscribe_orderbook(1, &["A-1", "B-2"], true);
    assert_eq!(
        to_value(&cmd),
        json!({"id":1,"cmd":"subscribe","params":{"channels":["orderbook_delta"],
               "market_tickers":["A-1","B-2"],"use_yes_price":true}})
    );
    // use_yes_price is explicit on every orderbook subscription, even when not chosen...
    let cmd = Command::subscribe(
        2,
        SubscribeParams::new(vec![Channel::OrderbookDelta, Channel::Ticker]).market_tickers(&["A"]),
    );
    assert_eq!(to_value(&cmd)["params"]["use_yes_price"], json!(false));
    let literal = Command {
        id: 3,
        body: CommandBody::Subscribe(SubscribeParams::new(vec![Channel::OrderbookDelta])),
    };
    assert_eq!(to_value(&literal)["params"]["use_yes_price"], json!(false));
    // ...and absent elsewhere.
    let cmd = Command::subscribe(
        4,
        SubscribeParams::new(vec![Channel::Fill, Channel::UserOrders]),
    );
    assert_eq!(
        to_value(&cmd),
        json!({"id":4,"cmd":"subscribe","params":{"channels":["fill","user_orders"]}})
    );
    assert_eq!(
        to_value(&Command::unsubscribe(5, vec![1, 2])),
        json!({"id":5,"cmd":"unsubscribe","params":{"sids":[1,2]}})
    );
    assert_eq!(
        to_value(&Command::get_snapshot(6, 456, &["M-1"])),
        json!({"id":6,"cmd":"update_subscription",
               "params":{"sid":456,"market_tickers":["M-1"],"action":"get_snapshot"}})
    );
    assert_eq!(
        to_value(&Command::list_subscriptions(7)),
        json!({"id":7,"cmd":"list_subscriptions"})
    );
    for cmd in [
        Command::subscribe_orderbook(1, &["A-1"], false),
        Command::unsubscribe(5, vec![1, 2]),
        Command::update_subscription(6, 4, UpdateAction::AddMarkets, &["M-1"]),
        Command::update_subscription(6, 4, UpdateAction::DeleteMarkets, &["M-1"]),
        Command::get_snapshot(6, 456, &["M-1"]),
        Command::list_subscriptions(7),
    ] {
        let value = to_value(&cmd);
        validate_ws_message(cmd.body.cmd_name(), &value).unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(decode_command(&cmd.to_json()).unwrap(), cmd);
    }
}

#[test]
fn kalshi_command_examples_decode_and_re_encode() {
    for file in [
        "subscribeCommand-0.json",
        "subscribeCommand-1.json",
        "subscribeCommand-2.json",
        "subscribeCommand-3.json",
        "subscribeCommand-8.json",
        "unsubscribeCommand-0.json",
        "listSubscriptionsCommand-0.json",
        "updateSubscriptionCommand-0.json",
        "updateSubscriptionDeleteCommand-0.json",
        "updateSubscriptionGetSnapshotCommand-0.json",
        "updateSubscriptionSingleSidCommand-0.json",
    ] {
        let text = example(file);
        let cmd = decode_command(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut original: Value = serde_json::from_str(&text).unwrap();
        if original["params"]["channels"]
            .as_array()
            .is_some_and(|c| c.contains(&json!("orderbook_delta")))
        {
            // We always state use_yes_price on orderbook subscriptions.
            original["params"]["use_yes_price"] = json!(false);
        }
        assert_eq!(to_value(&cmd), original, "{file}");
    }
    let cmd = decode_command(&example("updateSubscriptionCommand-0.json")).unwrap();
    let CommandBody::UpdateSubscription(p) = cmd.body else {
        panic!("not an update")
    };
    assert_eq!(p.single_sid(), Some(456));
    assert_eq!(p.tickers(), ["NEW-MARKET-1", "NEW-MARKET-2"]);
}

#[test]
fn bad_commands_get_kalshi_error_codes() {
    let code = |text: &str| decode_command(text).unwrap_err().code;
    assert_eq!(code("not json"), 1);
    assert_eq!(code(r#"{"id":1,"cmd":"subscribe"}"#), 2);
    assert_eq!(code(r#"{"id":1,"cmd":"subscribe","params":{}}"#), 3);
    assert_eq!(
        code(r#"{"id":1,"cmd":"subscribe","params":{"channels":[]}}"#),
        3
    );
    assert_eq!(code(r#"{"id":1,"cmd":"unsubscribe","params":{}}"#), 4);
    assert_eq!(code(r#"{"id":1,"cmd":"dance","params":{}}"#), 5);
    assert_eq!(
        code(r#"{"id":1,"cmd":"subscribe","params":{"channels":["orderbook_delta","nope"]}}"#),
        8
    );
    assert_eq!(
        code(r#"{"id":1,"cmd":"subscribe","params":{"channels":["ticker"],"market_tickers":"A"}}"#),
        11
    );
    assert_eq!(
        code(
            r#"{"id":1,"cmd":"update_subscription","params":{"sids":[1,2],"action":"add_markets","market_tickers":["A"]}}"#
        ),
        12
    );
    assert_eq!(
        code(
            r#"{"id":1,"cmd":"update_subscription","params":{"action":"add_markets","market_tickers":["A"]}}"#
        ),
        12
    );
    assert_eq!(
        code(r#"{"id":1,"cmd":"update_subscription","params":{"sid":1,"action":"indexlist"}}"#),
        13
    );
    assert_eq!(
        code(r#"{"id":1,"cmd":"update_subscription","params":{"sid":1,"action":"add_markets"}}"#),
        14
    );
    assert_eq!(
        code(r#"{"id":1,"cmd":"update_subscription","params":{"sid":1}}"#),
        15
    );
    let err = decode_command(r#"{"id":9,"cmd":"dance"}"#).unwrap_err();
    let frame = err.to_frame();
    assert_eq!(frame.id, Some(9));
    validate_ws_message("error", &to_value(&frame)).unwrap();
}

#[test]
fn events_series_and_timestamps_match_the_spec() {
    let event = EventData {
        event_ticker: "KXFED-26DEC".into(),
        series_ticker: "KXFED".into(),
        sub_title: "Dec 2026".into(),
        title: "Fed rate in December?".into(),
        collateral_return_type: "MECNET".into(),
        mutually_exclusive: false,
        category: None,
        strike_date: Some(ts("2026-12-10T19:00:00Z")),
        strike_period: None,
        markets: Some(vec![sample_market()]),
        available_on_brokers: Some(true),
        product_metadata: None,
        settlement_sources: vec![SettlementSource {
            name: Some("Federal Reserve".into()),
            url: Some("https://www.federalreserve.gov".into()),
        }],
        last_updated_ts: None,
        fee_type_override: None,
        fee_multiplier_override: None,
        exchange_index: Some(0),
    };
    let page = GetEventsResponse {
        events: vec![event.clone()],
        milestones: None,
        cursor: String::new(),
    };
    validate_rest_response("GET", "/events", 200, &to_value(&page)).unwrap();
    let one = GetEventResponse {
        event: EventData {
            markets: None,
            ..event
        },
        markets: vec![sample_market()],
    };
    let value = to_value(&one);
    validate_rest_response("GET", "/events/KXFED-26DEC", 200, &value).unwrap();
    assert_eq!(
        serde_json::from_value::<GetEventResponse>(value).unwrap(),
        one
    );

    let series = Series {
        ticker: "KXFED".into(),
        frequency: "custom".into(),
        title: "Fed funds rate".into(),
        category: "Economics".into(),
        categories: None,
        tags: vec!["Fed".into()],
        settlement_sources: vec![],
        contract_url: "https://kalshi.com/x.pdf".into(),
        contract_terms_url: "https://kalshi.com/y.pdf".into(),
        product_metadata: None,
        fee_type: FeeType::QuadraticWithMakerFees,
        fee_multiplier: serde_json::Number::from(1),
        additional_prohibitions: vec![],
        volume_fp: Some(count("1000.00")),
        last_updated_ts: None,
        exchange_index: None,
    };
    validate_rest_response(
        "GET",
        "/series/KXFED",
        200,
        &to_value(&GetSeriesResponse {
            series: series.clone(),
        }),
    )
    .unwrap();
    let list = to_value(&GetSeriesListResponse {
        series: vec![series],
    });
    validate_rest_response("GET", "/series", 200, &list).unwrap();
    let back: GetSeriesListResponse = serde_json::from_value(list).unwrap();
    assert_eq!(back.series[0].fee_type, FeeType::QuadraticWithMakerFees);

    let stamp = GetUserDataTimestampResponse {
        as_of_time: Timestamp::from_unix_ms(1_764_072_000_500).unwrap(),
    };
    let value = to_value(&stamp);
    assert_eq!(value["as_of_time"], json!("2025-11-25T12:00:00.500Z"));
    validate_rest_response("GET", "/exchange/user_data_timestamp", 200, &value).unwrap();
}

#[test]
fn book_levels_are_strict_pairs() {
    for bad in [
        r#"{"orderbook_fp":{"yes_dollars":[["0.41"]],"no_dollars":[]}}"#,
        r#"{"orderbook_fp":{"yes_dollars":[["0.41","1.00","x"]],"no_dollars":[]}}"#,
        r#"{"orderbook_fp":{"yes_dollars":[["1.41","1.00"]],"no_dollars":[]}}"#,
        r#"{"orderbook_fp":{"yes_dollars":[["0.41","-1.00"]],"no_dollars":[]}}"#,
        r#"{"orderbook_fp":{"yes_dollars":[[0.41,1]],"no_dollars":[]}}"#,
    ] {
        assert!(
            serde_json::from_str::<GetMarketOrderbookResponse>(bad).is_err(),
            "{bad}"
        );
    }
    let ok: GetMarketOrderbookResponse = serde_json::from_str(
        r#"{"orderbook_fp":{"yes_dollars":[["0.4100","10.00"],["0.4200","13.00"]],"no_dollars":[["0.5600","17.00"]]}}"#,
    )
    .unwrap();
    assert_eq!(ok.orderbook_fp.yes_dollars[1].price().micros(), 420_000);
    assert_eq!(ok.orderbook_fp.no_dollars[0].count().centi(), 1700);
}

/// Query structs encode the way the REST client sends them (reqwest) and decode the way the
/// simulator reads them (axum `Query`).
#[test]
fn query_params_encode_and_decode() {
    let params = GetMarketsParams {
        limit: Some(200),
        status: Some(MarketStatusFilter::Open),
        series_ticker: Some("KXFED".into()),
        tickers: Some("A-1,B-2".into()),
        ..GetMarketsParams::default()
    };
    let request = reqwest::Client::new()
        .get("http://127.0.0.1:1/trade-api/v2/markets")
        .query(&params)
        .build()
        .unwrap();
    let query = request.url().query().unwrap().to_string();
    assert_eq!(
        query,
        "limit=200&series_ticker=KXFED&status=open&tickers=A-1%2CB-2"
    );
    let uri: http::Uri = format!("/markets?{query}").parse().unwrap();
    let axum::extract::Query(back) =
        axum::extract::Query::<GetMarketsParams>::try_from_uri(&uri).unwrap();
    assert_eq!(back, params);

    let orders = GetOrdersParams {
        status: Some(OrderStatus::Resting),
        subaccount: Some(0),
        ..GetOrdersParams::default()
    };
    let uri: http::Uri = "/portfolio/orders?status=resting&subaccount=0"
        .parse()
        .unwrap();
    let axum::extract::Query(back) =
        axum::extract::Query::<GetOrdersParams>::try_from_uri(&uri).unwrap();
    assert_eq!(back, orders);

    let events = GetEventsParams {
        with_nested_markets: Some(true),
        ..GetEventsParams::default()
    };
    let uri: http::Uri = "/events?with_nested_markets=true".parse().unwrap();
    let axum::extract::Query(back) =
        axum::extract::Query::<GetEventsParams>::try_from_uri(&uri).unwrap();
    assert_eq!(back, events);

    let books = GetMarketOrderbooksParams {
        tickers: vec!["A-1".into(), "B-2".into()],
    };
    let request = reqwest::Client::new()
        .get("http://127.0.0.1:1/trade-api/v2/markets/orderbooks")
        .query(&books.to_query_pairs())
        .build()
        .unwrap();
    assert_eq!(request.url().query(), Some("tickers=A-1&tickers=B-2"));
    let pairs: Vec<(String, String)> = request.url().query_pairs().into_owned().collect();
    let back = GetMarketOrderbooksParams::from_query_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    assert_eq!(back, books);

    let cancel = CancelOrderV2Params {
        exchange_index: Some(-1),
        market_ticker: Some("A-1".into()),
        ..CancelOrderV2Params::default()
    };
    let request = reqwest::Client::new()
        .delete("http://127.0.0.1:1/x")
        .query(&cancel)
        .build()
        .unwrap();
    assert_eq!(
        request.url().query(),
        Some("exchange_index=-1&market_ticker=A-1")
    );
}

#[test]
fn cancel_all_is_known_to_the_validator() {
    validate_rest_response("DELETE", "/portfolio/events/orders", 204, &Value::Null).unwrap();
    validate_rest_response(
        "DELETE",
        "/trade-api/v2/portfolio/events/orders?subaccount=0",
        429,
        &json!({"code": "too_many_requests", "message": "too many requests"}),
    )
    .unwrap();
    assert!(validate_rest_response("DELETE", "/portfolio/events/orders", 200, &json!({})).is_err());
    // The create operation on the same path is untouched.
    validate_rest_response("POST", "/portfolio/events/orders", 400, &json!({})).unwrap();
}
