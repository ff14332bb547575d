use super::*;
use proptest::prelude::*;

fn p(cents: i64) -> Price {
    Price::from_cents(cents).unwrap()
}
fn c(contracts: i64) -> Count {
    Count::from_contracts(contracts)
}
fn t() -> Ticker {
    Ticker::from("KX-TEST")
}

fn snapshot(bids: &[(i64, i64)], asks: &[(i64, i64)]) -> MarketInput {
    MarketInput::Snapshot {
        ticker: t(),
        yes: bids.iter().map(|(pr, n)| (p(*pr), c(*n))).collect(),
        // NO bids in NO prices: a YES ask at 0.60 is a NO bid at 0.40.
        no: asks.iter().map(|(pr, n)| (p(100 - pr), c(*n))).collect(),
        convention: PriceConvention::NoPrices,
        ts_ms: None,
    }
}

fn delta(side: BookSide, yes_cents: i64, contracts: i64) -> MarketInput {
    let price = match side {
        BookSide::Yes => p(yes_cents),
        BookSide::No => p(100 - yes_cents),
    };
    MarketInput::Delta {
        ticker: t(),
        side,
        price,
        delta: c(contracts),
        convention: PriceConvention::NoPrices,
        ts_ms: None,
    }
}

fn trade(yes_cents: i64, contracts: i64, taker: OrderSide) -> MarketInput {
    MarketInput::Trade {
        ticker: t(),
        yes_price: p(yes_cents),
        count: c(contracts),
        taker_side: taker,
        ts_ms: 0,
    }
}

fn bid(id: &str, cents: i64, contracts: i64) -> OrderRequest {
    OrderRequest {
        client_order_id: ClientOrderId::new(id),
        ticker: t(),
        side: OrderSide::Bid,
        price: p(cents),
        count: c(contracts),
        time_in_force: TimeInForce::GoodTillCanceled,
        post_only: false,
    }
}

fn filled(fills: &[ModelFill]) -> Count {
    fills
        .iter()
        .fold(Count::ZERO, |s, f| s.saturating_add(f.count))
}

#[test]
fn resting_bid_waits_behind_the_visible_queue() {
    let mut model = FillModel::new("bt");
    model.on_market(&snapshot(&[(40, 30)], &[(45, 10)]), 0);
    let PlaceOutcome::Accepted {
        remaining, fills, ..
    } = model.place(&bid("a", 40, 10), 0)
    else {
        panic!("rejected");
    };
    assert!(fills.is_empty());
    assert_eq!(remaining, c(10));
    assert_eq!(model.resting("KX-TEST")[0].queue_ahead, c(30));
    // Size added after us and cancels (from behind) do not move us.
    model.on_market(&delta(BookSide::Yes, 40, 5), 0);
    model.on_market(&delta(BookSide::Yes, 40, -5), 0);
    assert_eq!(model.resting("KX-TEST")[0].queue_ahead, c(30));
    // 25 sold into the level: all of it goes to the queue ahead.
    assert!(
        model
            .on_market(&trade(40, 25, OrderSide::Ask), 0)
            .is_empty()
    );
    // 12 more: 5 clear the queue, 7 fill us, at our price, as maker.
    let fills = model.on_market(&trade(40, 12, OrderSide::Ask), 7);
    assert_eq!(filled(&fills), c(7));
    assert!(!fills[0].is_taker);
    assert_eq!(fills[0].yes_price, p(40));
    assert_eq!(fills[0].ts_ms, 7);
    assert_eq!(
        fills[0].fee_cost,
        Money::ZERO,
        "quadratic charges no maker fee"
    );
    assert_eq!(model.resting("KX-TEST")[0].remaining, c(3));
}

#[test]
fn a_shrink_below_the_queue_is_not_counted_twice_when_the_trade_prints() {
    let mut model = FillModel::new("bt");
    model.on_market(&snapshot(&[(40, 10)], &[]), 0);
    model.place(&bid("a", 40, 5), 0);
    // The delta of a 10-lot sale arrives before its trade message.
    model.on_market(&delta(BookSide::Yes, 40, -10), 0);
    assert_eq!(model.resting("KX-TEST")[0].queue_ahead, Count::ZERO);
    assert!(
        model
            .on_market(&trade(40, 10, OrderSide::Ask), 0)
            .is_empty()
    );
    assert_eq!(
        filled(&model.on_market(&trade(40, 2, OrderSide::Ask), 0)),
        c(2)
    );
}

#[test]
fn a_trade_through_our_price_fills_us_up_to_its_size() {
    let mut model = FillModel::new("bt");
    model.on_market(&snapshot(&[(40, 50)], &[]), 0);
    model.place(&bid("a", 42, 10), 0);
    assert_eq!(model.resting("KX-TEST")[0].queue_ahead, Count::ZERO);
    assert_eq!(
        filled(&model.on_market(&trade(39, 4, OrderSide::Ask), 0)),
        c(4)
    );
    // A buy does not fill a bid.
    assert!(model.on_market(&trade(39, 4, OrderSide::Bid), 0).is_empty());
}

#[test]
fn takes_consume_the_shadow_book_and_pay_taker_fees() {
    let mut model = FillModel::new("bt");
    model.on_market(&snapshot(&[(40, 10)], &[(45, 3), (46, 5)]), 0);
    let PlaceOutcome::Accepted {
        fills, remaining, ..
    } = model.place(
        &OrderRequest {
            time_in_force: TimeInForce::ImmediateOrCancel,
            ..bid("a", 46, 6)
        },
        0,
    )
    else {
        panic!("rejected");
    };
    assert_eq!(remaining, Count::ZERO);
    assert_eq!(fills.len(), 2);
    assert_eq!((fills[0].yes_price, fills[0].count), (p(45), c(3)));
    assert_eq!((fills[1].yes_price, fills[1].count), (p(46), c(3)));
    assert!(fills.iter().all(|f| f.is_taker && f.fee_cost.micros() > 0));
    // ceil(0.07 × 3 × 0.45 × 0.55 to the centicent) = 0.0520
    assert_eq!(fills[0].fee_cost, Money::parse("0.0520").unwrap());
    // The same liquidity cannot be taken twice.
    let PlaceOutcome::Accepted { fills, .. } = model.place(
        &OrderRequest {
            time_in_force: TimeInForce::ImmediateOrCancel,
            ..bid("b", 46, 10)
        },
        0,
    ) else {
        panic!("rejected");
    };
    assert_eq!(filled(&fills), c(2));
    assert_eq!(model.best_ask("KX-TEST"), None);
    // A new snapshot is the exchange's word again.
    model.on_market(&snapshot(&[(40, 10)], &[(45, 3)]), 0);
    assert_eq!(model.best_ask("KX-TEST"), Some(p(45)));
}

#[test]
fn post_only_and_fill_or_kill_are_refused_as_the_exchange_would() {
    let mut model = FillModel::new("bt");
    model.on_market(&snapshot(&[(40, 10)], &[(45, 3)]), 0);
    let post = OrderRequest {
        post_only: true,
        ..bid("a", 45, 1)
    };
    assert!(matches!(
        model.place(&post, 0),
        PlaceOutcome::Rejected {
            code: "post_only_cross",
            ..
        }
    ));
    let fok = OrderRequest {
        time_in_force: TimeInForce::FillOrKill,
        ..bid("b", 45, 4)
    };
    assert!(matches!(
        model.place(&fok, 0),
        PlaceOutcome::Rejected { .. }
    ));
    assert_eq!(model.stats().rejects, 2);
    assert_eq!(
        model.best_ask("KX-TEST"),
        Some(p(45)),
        "a refused order takes nothing"
    );
}

#[test]
fn cancel_decrease_and_cancel_all() {
    let mut model = FillModel::new("bt");
    model.on_market(&snapshot(&[(40, 10)], &[(45, 3)]), 0);
    model.place(&bid("a", 40, 5), 0);
    model.place(&bid("b", 41, 5), 0);
    assert_eq!(
        model.decrease("KX-TEST", &ClientOrderId::new("a"), c(2)),
        Some(c(2))
    );
    assert_eq!(
        model.resting("KX-TEST")[0].queue_ahead,
        c(10),
        "a decrease keeps the queue"
    );
    assert_eq!(
        model.cancel("KX-TEST", &ClientOrderId::new("b")),
        Some(c(5))
    );
    assert_eq!(model.cancel("KX-TEST", &ClientOrderId::new("b")), None);
    assert_eq!(model.cancel_all().len(), 1);
    assert_eq!(model.resting_count(), 0);
}

/// What the feed does at our level after we join.
#[derive(Debug, Clone)]
enum LevelEvent {
    Add(i64),
    Cancel(i64),
    /// A sale into the bids at our price: trade and its delta, in either order.
    Sale {
        size: i64,
        delta_first: bool,
    },
    SaleThrough(i64),
}

fn level_event() -> impl Strategy<Value = LevelEvent> {
    prop_oneof![
        (1i64..20).prop_map(LevelEvent::Add),
        (1i64..20).prop_map(LevelEvent::Cancel),
        (1i64..20, any::<bool>())
            .prop_map(|(size, delta_first)| LevelEvent::Sale { size, delta_first }),
        (1i64..10).prop_map(LevelEvent::SaleThrough),
    ]
}

proptest! {
    /// Every contract ahead of us must trade or be cancelled before we fill: our fills never
    /// exceed the volume sold at or through our price minus the queue we joined behind, less
    /// whatever cancels could have come from ahead of us.
    #[test]
    fn never_fills_ahead_of_the_queue(
        initial in 0i64..60,
        ours in 1i64..40,
        events in proptest::collection::vec(level_event(), 0..60),
    ) {
        let mut model = FillModel::new("bt");
        model.on_market(&snapshot(&[(40, initial)], &[(45, 100)]), 0);
        model.place(&bid("a", 40, ours), 0);
        let mut level = initial;
        let mut sold = 0i64;
        let mut cancelled = 0i64;
        let mut got = Count::ZERO;
        for event in events {
            let fills = match event {
                LevelEvent::Add(n) => {
                    level += n;
                    model.on_market(&delta(BookSide::Yes, 40, n), 0)
                }
                LevelEvent::Cancel(n) => {
                    let n = n.min(level);
                    level -= n;
                    cancelled += n;
                    model.on_market(&delta(BookSide::Yes, 40, -n), 0)
                }
                LevelEvent::Sale { size, delta_first } => {
                    // The public sale takes from the public level only (we are not in it).
                    let size = size.min(level);
                    if size == 0 { continue; }
                    level -= size;
                    sold += size;
                    let mut fills = Vec::new();
                    if delta_first {
                        fills.extend(model.on_market(&delta(BookSide::Yes, 40, -size), 0));
                        fills.extend(model.on_market(&trade(40, size, OrderSide::Ask), 0));
                    } else {
                        fills.extend(model.on_market(&trade(40, size, OrderSide::Ask), 0));
                        fills.extend(model.on_market(&delta(BookSide::Yes, 40, -size), 0));
                    }
                    fills
                }
                LevelEvent::SaleThrough(n) => {
                    // Only possible once the public level is empty.
                    if level > 0 { continue; }
                    sold += n;
                    model.on_market(&trade(39, n, OrderSide::Ask), 0)
                }
            };
            prop_assert!(fills.iter().all(|f| f.yes_price == p(40) && !f.is_taker));
            got = got.saturating_add(filled(&fills));
            let bound = (sold - (initial - cancelled).max(0)).max(0);
            prop_assert!(got <= c(bound), "filled {got} with {sold} sold behind {initial} less {cancelled} cancelled");
            prop_assert!(got <= c(ours));
        }
    }

    /// Repeated takes never consume more than the visible book held.
    #[test]
    fn takes_never_exceed_the_visible_book(
        asks in proptest::collection::vec((41i64..60, 1i64..30), 1..6),
        orders in proptest::collection::vec((41i64..60, 1i64..40), 1..8),
    ) {
        let mut model = FillModel::new("bt");
        model.on_market(&snapshot(&[], &asks), 0);
        let mut book: BTreeMap<i64, i64> = BTreeMap::new();
        for (pr, n) in &asks { book.insert(*pr, *n); }
        let mut taken: BTreeMap<i64, i64> = BTreeMap::new();
        for (i, (limit, n)) in orders.iter().enumerate() {
            let request = OrderRequest {
                time_in_force: TimeInForce::ImmediateOrCancel,
                ..bid(&format!("o{i}"), *limit, *n)
            };
            if let PlaceOutcome::Accepted { fills, .. } = model.place(&request, 0) {
                for f in fills {
                    prop_assert!(f.yes_price <= p(*limit));
                    *taken.entry(f.yes_price.micros() / 10_000).or_default() += f.count.centi() / 100;
                }
            }
        }
        for (pr, n) in taken {
            prop_assert!(n <= book.get(&pr).copied().unwrap_or(0));
        }
    }
}

#[test]
fn an_amend_requeues_and_a_refused_amend_keeps_the_order() {
    let mut model = FillModel::new("bt");
    model.on_market(&snapshot(&[(40, 10), (41, 4)], &[(45, 3)]), 0);
    model.place(
        &OrderRequest {
            post_only: true,
            ..bid("a", 40, 5)
        },
        0,
    );
    model.on_market(&trade(40, 6, OrderSide::Ask), 0);
    assert_eq!(model.resting("KX-TEST")[0].queue_ahead, c(4));
    // A post-only amend through the ask is refused: the order keeps its price and queue.
    let through = OrderRequest {
        post_only: true,
        ..bid("a", 45, 5)
    };
    assert!(matches!(
        model.amend(&through, 0),
        Some(PlaceOutcome::Rejected { .. })
    ));
    assert_eq!(model.resting("KX-TEST")[0].price, p(40));
    assert_eq!(model.resting("KX-TEST")[0].queue_ahead, c(4));
    // Amending to 0.41 joins behind the 4 already there.
    let up = OrderRequest {
        post_only: true,
        ..bid("a", 41, 5)
    };
    assert!(matches!(
        model.amend(&up, 0),
        Some(PlaceOutcome::Accepted { .. })
    ));
    assert_eq!(model.resting("KX-TEST")[0].queue_ahead, c(4));
    assert_eq!(model.resting("KX-TEST").len(), 1);
    assert!(model.amend(&bid("zz", 41, 1), 0).is_none());
}
