use super::*;
use proptest::prelude::*;

fn p(text: &str) -> Price {
    Price::parse(text).unwrap()
}

fn c(contracts: i64) -> Count {
    Count::from_contracts(contracts)
}

fn usd(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn limits() -> RiskLimits {
    RiskLimits {
        max_order_count: c(50),
        max_order_cost: usd("20"),
        max_position: c(100),
        max_event_loss: usd("60"),
        max_gross_exposure: usd("500"),
        max_open_orders: 10,
        max_orders_per_window: 5,
        rate_window_ms: 1_000,
        runaway_orders_per_window: 8,
        max_daily_loss: usd("100"),
        collar: usd("0.10"),
        reject_streak_limit: 3,
        breach_persistence: 2,
    }
}

fn bid(price: &str, count: i64) -> OrderCheck {
    OrderCheck {
        ticker: Ticker::new("M"),
        side: Side::Bid,
        price: p(price),
        count: c(count),
        time_in_force: TimeInForce::GoodTillCanceled,
        reduce_only: false,
        is_amend: false,
        on_grid: true,
        reference: Reference::Mid(p("0.50")),
        reduce_only_cause: None,
        market: MarketExposure::default(),
        event: None,
        desk: DeskExposure {
            available_balance: usd("1000"),
            ..DeskExposure::default()
        },
    }
}

fn ask(price: &str, count: i64) -> OrderCheck {
    OrderCheck {
        side: Side::Ask,
        ..bid(price, count)
    }
}

#[test]
fn plain_order_is_approved_with_cost_by_direction() {
    assert_eq!(
        check_order(&limits(), &bid("0.45", 10)),
        Ok(Approved { cost: usd("4.5") })
    );
    // An ask that opens NO costs 1 − p per contract.
    assert_eq!(
        check_order(&limits(), &ask("0.45", 10)),
        Ok(Approved { cost: usd("5.5") })
    );
}

#[test]
fn ask_that_closes_a_long_costs_nothing() {
    let mut order = ask("0.50", 10);
    order.market.position = c(6);
    // 6 close the long, 4 open NO at 0.50.
    assert_eq!(
        check_order(&limits(), &order),
        Ok(Approved { cost: usd("2") })
    );
    // Another resting ask already claims the long.
    order.market.resting_ask = c(6);
    assert_eq!(
        check_order(&limits(), &order),
        Ok(Approved { cost: usd("5") })
    );
}

#[test]
fn zero_count_refused() {
    let err = check_order(&limits(), &bid("0.50", 0)).unwrap_err();
    assert_eq!(err, Refusal::ZeroCount { count: c(0) });
}

#[test]
fn off_grid_refused() {
    let mut order = bid("0.505", 1);
    order.on_grid = false;
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(err, Refusal::OffGrid { price: p("0.505") });
    assert_eq!(
        err.to_string(),
        "grid: price 0.5050 is not on the market's price grid"
    );
}

#[test]
fn collar_needs_a_reference_and_bounds_the_price() {
    let mut order = bid("0.50", 1);
    order.reference = Reference::None;
    assert_eq!(check_order(&limits(), &order), Err(Refusal::NoReference));
    order.reference = Reference::BidOnly(p("0.30"));
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(
        err,
        Refusal::OutsideCollar {
            price: p("0.50"),
            reference: p("0.30"),
            collar: usd("0.10")
        }
    );
    assert_eq!(
        err.to_string(),
        "collar: price 0.5000 is outside 0.3000 ± 0.1000"
    );
    order.reference = Reference::AskOnly(p("0.60"));
    assert!(
        check_order(&limits(), &order).is_ok(),
        "exactly at the collar edge passes"
    );
}

#[test]
fn max_order_count_and_cost() {
    let err = check_order(&limits(), &bid("0.50", 51)).unwrap_err();
    assert_eq!(
        err,
        Refusal::OrderCount {
            count: c(51),
            max: c(50)
        }
    );
    let err = check_order(&limits(), &bid("0.50", 41)).unwrap_err();
    assert_eq!(
        err,
        Refusal::OrderCost {
            cost: usd("20.5"),
            max: usd("20")
        }
    );
    assert_eq!(err.to_string(), "max order: cost 20.5000 exceeds 20.0000");
}

#[test]
fn position_cap_counts_resting_and_in_flight() {
    let mut order = bid("0.50", 10);
    order.market.position = c(60);
    order.market.resting_bid = c(20);
    order.market.in_flight_bid = c(15);
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(
        err,
        Refusal::PositionCap {
            side: Side::Bid,
            projected: c(105),
            cap: c(100)
        }
    );
    assert_eq!(
        err.to_string(),
        "position cap: bid would take position to 105.00 (cap ±100.00)"
    );
    // The other direction is measured on its own side.
    let mut order = ask("0.50", 10);
    order.market.position = c(-95);
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(
        err,
        Refusal::PositionCap {
            side: Side::Ask,
            projected: c(-105),
            cap: c(100)
        }
    );
    // Reducing an over-cap position is allowed.
    let mut order = ask("0.50", 10);
    order.market.position = c(150);
    assert!(check_order(&limits(), &order).is_ok());
}

fn leg(name: &str, position: i64, cost: &str) -> Leg {
    Leg {
        ticker: Ticker::new(name),
        position: c(position),
        position_cost: usd(cost),
        orders: vec![],
    }
}

#[test]
fn worst_case_over_exclusive_brackets() {
    // Long 10 YES on A at 0.40 (cost 4) and long 10 YES on B at 0.50 (cost 5): exactly one of
    // A, B, C settles YES. Outcome C loses 9; outcome A: 9 − 10 = −1.
    let legs = vec![leg("A", 10, "4"), leg("B", 10, "5"), leg("C", 0, "0")];
    let exclusive = EventStructure::MutuallyExclusive { exhaustive: true };
    assert_eq!(event_worst_case_loss(&legs, &exclusive), usd("9"));
    // Independent legs would be worst-cased leg by leg: same 9 here.
    assert_eq!(
        event_worst_case_loss(&legs, &EventStructure::Independent),
        usd("9")
    );
    // Short NO on both (i.e. long NO 10 each at 0.60): at most one YES → at least one NO pays.
    let legs = vec![leg("A", -10, "6"), leg("B", -10, "6")];
    // Outcome A: A pays 0, B pays 10 → loss 12 − 10 = 2. Non-exhaustive "none": both pay → −8.
    assert_eq!(
        event_worst_case_loss(
            &legs,
            &EventStructure::MutuallyExclusive { exhaustive: false }
        ),
        usd("2")
    );
    assert_eq!(
        event_worst_case_loss(&legs, &EventStructure::Independent),
        usd("12")
    );
}

#[test]
fn worst_case_over_strike_ladder() {
    // "Above 1", "above 2": long YES above-2 (cost 3 for 10) and long NO above-1 (cost 2 for 10).
    // Regions: below 1 → above-1 NO pays 10, above-2 loses → 5 − 10 = −5;
    // between → neither pays → loss 5; above 2 → above-2 pays 10 → −5.
    let legs = vec![leg("ABOVE1", -10, "2"), leg("ABOVE2", 10, "3")];
    assert_eq!(
        event_worst_case_loss(&legs, &EventStructure::StrikeLadder { above: true }),
        usd("5")
    );
    // Read as a "below" ladder the nesting flips: below-1 YES implies below-2 YES.
    // Regions: v<1 → both YES: ABOVE2 pays 10 → −5; 1≤v<2 → ABOVE1 NO pays and ABOVE2 YES pays
    // → −15; v≥2 → ABOVE1 NO pays → −5. Worst is −5 (a gain).
    assert_eq!(
        event_worst_case_loss(&legs, &EventStructure::StrikeLadder { above: false }),
        usd("-5")
    );
}

#[test]
fn orders_only_count_when_they_hurt() {
    let mut a = leg("A", 0, "0");
    a.orders.push(LegOrder {
        side: Side::Bid,
        price: p("0.30"),
        count: c(10),
    });
    a.orders.push(LegOrder {
        side: Side::Ask,
        price: p("0.40"),
        count: c(10),
    });
    // If YES: the bid would gain, the ask would lose 6. If NO: the bid loses 3, the ask gains.
    assert_eq!(
        event_worst_case_loss(&[a], &EventStructure::Independent),
        usd("6")
    );
}

#[test]
fn event_loss_rule_refuses_with_numbers() {
    let mut order = bid("0.50", 40);
    order.market.position = c(0);
    order.event = Some(EventExposure {
        event_ticker: "EV".into(),
        structure: EventStructure::MutuallyExclusive { exhaustive: true },
        legs: vec![leg("M", 0, "0"), leg("N", 100, "45")],
    });
    // Outcome M: N loses 45, the new bid gains 20 only if it fills (not counted) → 45.
    // Outcome N: N pays 100 → −55, the bid loses 20 → −35. Worst 45 + 20 → outcome M? No:
    // in outcome M the bid pays out; it cannot hurt. Worst stays 45 < 60: approved.
    assert!(check_order(&limits(), &order).is_ok());
    order.event.as_mut().unwrap().legs[1].position_cost = usd("70");
    // Now outcome M loses 70 > 60 already; the bid cannot make it worse there, but outcome N
    // becomes 70 − 100 + 20 = −10 — still not worse than 70: approved (does not increase worst).
    assert!(check_order(&limits(), &order).is_ok());
    // An order on N that adds to the worst outcome is refused.
    let mut order = bid("0.50", 40);
    order.ticker = Ticker::new("N");
    order.event = Some(EventExposure {
        event_ticker: "EV".into(),
        structure: EventStructure::MutuallyExclusive { exhaustive: true },
        legs: vec![leg("M", 0, "0"), leg("N", 100, "45")],
    });
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(
        err,
        Refusal::EventLoss {
            event: "EV".into(),
            worst: usd("65"),
            max: usd("60")
        }
    );
    assert_eq!(
        err.to_string(),
        "event loss: worst case 65.0000 on EV exceeds 60.0000"
    );
}

#[test]
fn gross_exposure_balance_open_orders_rate() {
    let mut order = bid("0.50", 10);
    order.desk.gross_exposure = usd("496");
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(
        err,
        Refusal::GrossExposure {
            projected: usd("501"),
            max: usd("500")
        }
    );

    let mut order = bid("0.50", 10);
    order.desk.available_balance = usd("7");
    order.desk.in_flight_cost = usd("3");
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(
        err,
        Refusal::Balance {
            cost: usd("5"),
            available: usd("4")
        }
    );

    let mut order = bid("0.50", 10);
    order.desk.open_orders = 10;
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(err, Refusal::OpenOrders { open: 10, max: 10 });
    order.is_amend = true;
    assert!(
        check_order(&limits(), &order).is_ok(),
        "an amend does not add an open order"
    );

    let mut order = bid("0.50", 10);
    order.desk.orders_in_window = 5;
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(
        err,
        Refusal::OrderRate {
            in_window: 5,
            window_ms: 1_000,
            max: 5
        }
    );
    assert_eq!(err.to_string(), "order rate: 5 orders in 1000 ms, max 5");
}

#[test]
fn daily_loss_allows_only_reducing() {
    let mut order = bid("0.50", 10);
    order.desk.daily_pnl = usd("-100");
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(
        err,
        Refusal::DailyLoss {
            pnl: usd("-100"),
            max_loss: usd("100")
        }
    );
    order.market.position = c(-10);
    assert!(check_order(&limits(), &order).is_ok());
}

#[test]
fn reduce_only_rules() {
    let mut order = ask("0.50", 5);
    order.reduce_only_cause = Some(ReduceOnlyCause::Reducing);
    order.market.position = c(8);
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(err.rule(), "reduce_only");
    assert!(matches!(
        err,
        Refusal::ReduceOnlyForm {
            reduce_only: false,
            ..
        }
    ));
    order.reduce_only = true;
    order.time_in_force = TimeInForce::ImmediateOrCancel;
    assert_eq!(
        check_order(&limits(), &order),
        Ok(Approved { cost: Money::ZERO })
    );
    order.count = c(9);
    let err = check_order(&limits(), &order).unwrap_err();
    assert_eq!(
        err,
        Refusal::NotReducing {
            cause: ReduceOnlyCause::Reducing,
            side: Side::Ask,
            count: c(9),
            position: c(8),
            reducible: c(8)
        }
    );
    // A bid against a long never reduces.
    let mut order = bid("0.50", 1);
    order.reduce_only = true;
    order.time_in_force = TimeInForce::ImmediateOrCancel;
    order.reduce_only_cause = Some(ReduceOnlyCause::Halted);
    order.market.position = c(8);
    assert!(matches!(
        check_order(&limits(), &order),
        Err(Refusal::NotReducing { .. })
    ));
}

#[test]
fn rate_window_slides() {
    let mut window = RateWindow::default();
    for i in 0..5 {
        window.record(i * 100_000_000);
    }
    assert_eq!(window.count(400_000_000, 1_000), 5);
    assert_eq!(window.count(1_000_000_000, 1_000), 4);
    assert_eq!(window.count(1_450_000_000, 1_000), 0);
}

#[test]
fn reject_classes() {
    assert_eq!(
        RejectClass::classify(Some(429), "", ""),
        RejectClass::RateLimited
    );
    assert_eq!(
        RejectClass::classify(Some(400), "invalid order", "post only cross"),
        RejectClass::PostOnlyCross
    );
    assert_eq!(
        RejectClass::classify(Some(409), "market_closed", ""),
        RejectClass::MarketClosed
    );
    assert_eq!(
        RejectClass::classify(Some(400), "available_balance_too_low", ""),
        RejectClass::Business
    );
    assert_eq!(
        RejectClass::classify(Some(503), "service_unavailable", ""),
        RejectClass::Transient
    );
    assert_eq!(
        RejectClass::classify_write(true, Some(200), "not_found", "order is canceled"),
        RejectClass::AlreadyGone
    );
    assert!(!RejectClass::AlreadyGone.is_business());
    assert_eq!(
        RejectClass::classify_write(false, Some(404), "not_found", "market not found"),
        RejectClass::Business
    );
    assert!(RejectClass::Business.is_business());
    assert!(!RejectClass::RateLimited.is_business());
}

#[test]
fn breaches_must_persist() {
    let limits = limits();
    let mut monitor = BreachMonitor::default();
    let breach = BreachInputs {
        daily_pnl: usd("-100.01"),
        ..BreachInputs::default()
    };
    assert_eq!(monitor.evaluate(&limits, &breach), None);
    // A clean evaluation resets the count.
    assert_eq!(monitor.evaluate(&limits, &BreachInputs::default()), None);
    assert_eq!(monitor.evaluate(&limits, &breach), None);
    let fired = monitor.evaluate(&limits, &breach).unwrap();
    assert_eq!(fired.rule, HaltRule::DailyLoss);
    assert_eq!(fired.detail, "daily loss: P&L -100.0100 beyond -100.0000");

    let mut monitor = BreachMonitor::default();
    let runaway = BreachInputs {
        attempts_in_window: 9,
        ..BreachInputs::default()
    };
    assert_eq!(monitor.evaluate(&limits, &runaway), None);
    assert_eq!(
        monitor.evaluate(&limits, &runaway).unwrap().rule,
        HaltRule::OrderRate
    );

    let mut monitor = BreachMonitor::default();
    let position = BreachInputs {
        largest_position: Some((Ticker::new("M"), c(-101))),
        ..BreachInputs::default()
    };
    monitor.evaluate(&limits, &position);
    let fired = monitor.evaluate(&limits, &position).unwrap();
    assert_eq!(
        fired.detail,
        "position cap: M position -101.00 beyond ±100.00"
    );

    let mut monitor = BreachMonitor::default();
    let streak = BreachInputs {
        business_reject_streak: 3,
        ..BreachInputs::default()
    };
    monitor.evaluate(&limits, &streak);
    assert_eq!(
        monitor.evaluate(&limits, &streak).unwrap().rule,
        HaltRule::RejectStreak
    );
}

fn side_strategy() -> impl proptest::strategy::Strategy<Value = Side> {
    prop_oneof![Just(Side::Bid), Just(Side::Ask)]
}

proptest! {
    /// Brute force over every fill subset agrees with the closed form.
    #[test]
    fn worst_case_matches_brute_force(
        legs in proptest::collection::vec(
            (-20i64..20, 0i64..20, proptest::collection::vec((side_strategy(), 1i64..99, 1i64..10), 0..3)),
            1..4),
        exclusive in any::<bool>(),
    ) {
        let legs: Vec<Leg> = legs.into_iter().enumerate().map(|(i, (pos, cost, orders))| Leg {
            ticker: Ticker::new(&format!("L{i}")),
            position: c(pos),
            position_cost: Money::from_cents(cost * 100),
            orders: orders.into_iter().map(|(side, cents, n)| LegOrder {
                side, price: Price::from_cents(cents).unwrap(), count: c(n) }).collect(),
        }).collect();
        let structure = if exclusive {
            EventStructure::MutuallyExclusive { exhaustive: true }
        } else {
            EventStructure::StrikeLadder { above: true }
        };
        let all_orders: Vec<(usize, LegOrder)> = legs.iter().enumerate()
            .flat_map(|(i, leg)| leg.orders.iter().map(move |o| (i, *o))).collect();
        let mut brute = Money::from_micros(i64::MIN);
        for outcome in structure.outcomes(legs.len()).unwrap() {
            for mask in 0u32..(1 << all_orders.len()) {
                let mut loss = Money::ZERO;
                for (i, leg) in legs.iter().enumerate() {
                    let mut flat = leg.clone();
                    flat.orders.clear();
                    loss = loss.saturating_add(leg_loss(&flat, outcome.contains(&i)));
                }
                for (bit, (i, order)) in all_orders.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        loss = loss.saturating_add(order_loss(order, outcome.contains(i)));
                    }
                }
                brute = brute.max(loss);
            }
        }
        prop_assert_eq!(event_worst_case_loss(&legs, &structure), brute);
    }

    /// An approved order never leaves the position cap breached unless it reduces, and its cost
    /// never exceeds count × unit cost.
    #[test]
    fn approved_orders_respect_cap_and_cost(
        side in side_strategy(),
        cents in 41i64..60,
        count in 1i64..60,
        position in -120i64..120,
        resting in 0i64..40,
    ) {
        let mut order = bid("0.50", count);
        order.side = side;
        order.price = Price::from_cents(cents).unwrap();
        order.market.position = c(position);
        order.market.resting_bid = c(resting);
        order.market.resting_ask = c(resting);
        if let Ok(approved) = check_order(&limits(), &order) {
            let projected = c(position).saturating_add(side.signed(c(resting))).saturating_add(side.signed(c(count)));
            let reduces = c(count) <= order.market.closable(side);
            prop_assert!(projected.abs() <= c(100) || reduces);
            prop_assert!(approved.cost <= side.unit_cost(order.price).cost_of(c(count)));
        }
    }
}
