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
