//! Exchange-level tests. Expected money values are worked out by hand in each test.

use super::*;
use crate::core::market::PriceRange;
use crate::core::num::Price;
use events::ExchangeEvent;
use lifecycle::LifecycleEventType;
use types::{
    BalancePrecision, BookSide, FeeMultiplier, FeeType, MarketResult, MarketStatus, OrderStatus,
    SelfTradePrevention, TimeInForce, WriteKind, WriteOutcome,
};

const MARKET: &str = "KXTEST-26DEC-T50";
/// Members are UUIDs, as Kalshi's user ids are (the AsyncAPI `user_order.user_id` is `uuid`).
const ALICE: &str = "a11ce000-0000-4000-8000-000000000001";
const BOB: &str = "b0b00000-0000-4000-8000-000000000002";
const CAROL: &str = "ca401000-0000-4000-8000-000000000003";

fn p(text: &str) -> Price {
    Price::parse(text).unwrap()
}

fn m(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn c(contracts: i64) -> Count {
    Count::from_contracts(contracts)
}

fn market_spec(ticker: &str, step: &str) -> MarketSpec {
    MarketSpec {
        ticker: ticker.to_string(),
        event_ticker: "KXTEST-26DEC".to_string(),
        title: "Test market".to_string(),
        yes_sub_title: "Above 50".to_string(),
        no_sub_title: "50 or below".to_string(),
        rules_primary: "Resolves YES if above 50.".to_string(),
        rules_secondary: String::new(),
        market_type: "binary".to_string(),
        strike_type: Some("greater".to_string()),
        floor_strike: Some(50.0),
        cap_strike: None,
        price_level_structure: "linear_cent".to_string(),
        price_ranges: vec![PriceRange {
            start: Price::ZERO,
            end: Price::ONE,
            step: p(step),
        }],
        created_ms: 0,
        open_ms: 0,
        close_ms: 1_000_000,
        expected_expiration_ms: 2_000_000,
        latest_expiration_ms: 3_000_000,
        settlement_timer_seconds: 60,
        can_close_early: true,
        fractional_trading_enabled: false,
        scheduled_result: None,
    }
}

fn exchange_with(config: ExchangeConfig, step: &str) -> Exchange {
    let mut exchange = Exchange::new(config);
    exchange.add_series(SeriesSpec {
        ticker: "KXTEST".to_string(),
        title: "Test series".to_string(),
        category: "Economics".to_string(),
        frequency: "daily".to_string(),
        tags: vec![],
        fee_type: FeeType::Quadratic,
        fee_multiplier: FeeMultiplier::ONE,
        contract_url: String::new(),
        contract_terms_url: String::new(),
    });
    exchange.add_event(EventSpec {
        event_ticker: "KXTEST-26DEC".to_string(),
        series_ticker: "KXTEST".to_string(),
        title: "Test event".to_string(),
        sub_title: String::new(),
        mutually_exclusive: false,
        strike_date_ms: None,
        fee_type_override: None,
        fee_multiplier_override: None,
    });
    exchange.add_market(market_spec(MARKET, step)).unwrap();
    exchange.advance(0);
    exchange.open_account(ALICE, m("100"));
    exchange.open_account(BOB, m("100"));
    exchange.take_events();
    exchange
}

fn exchange() -> Exchange {
    exchange_with(ExchangeConfig::default(), "0.01")
}

fn order(side: BookSide, price: &str, contracts: i64) -> OrderRequest {
    OrderRequest::limit(MARKET, side, p(price), c(contracts))
}

fn available(exchange: &Exchange, user: &str, sub: u32) -> Money {
    exchange
        .account(user)
        .and_then(|a| a.subaccount(sub))
        .map(|s| s.available())
        .unwrap()
}

fn cash(exchange: &Exchange, user: &str) -> Money {
    exchange.account(user).unwrap().subaccount(0).unwrap().cash
}

fn position(exchange: &Exchange, user: &str) -> Count {
    exchange
        .account(user)
        .unwrap()
        .subaccount(0)
        .unwrap()
        .position(&Ticker::new(MARKET))
}

fn status(exchange: &Exchange, order_id: &str) -> OrderStatus {
    exchange.order_record(order_id).unwrap().status
}

#[test]
fn a_bid_locks_its_price_and_a_cancel_releases_it() {
    let mut ex = exchange();
    let bid = ex
        .place_order(ALICE, &order(BookSide::Bid, "0.40", 10), 1)
        .unwrap();
    // 10 × 0.40 locked.
    assert_eq!(available(&ex, ALICE, 0), m("96"));
    assert_eq!(cash(&ex, ALICE), m("100"));
    let ack = ex
        .cancel_order_by_id(ALICE, &bid.order_id, None, 2)
        .unwrap();
    assert_eq!(ack.reduced_by, c(10));
    assert_eq!(available(&ex, ALICE, 0), m("100"));
    assert_eq!(status(&ex, &bid.order_id), OrderStatus::Canceled);
}

#[test]
fn an_ask_locks_the_no_price() {
    let mut ex = exchange();
    ex.place_order(ALICE, &order(BookSide::Ask, "0.40", 10), 1)
        .unwrap();
    // A YES ask at 0.40 is a NO bid at 0.60: 10 × 0.60 locked.
    assert_eq!(available(&ex, ALICE, 0), m("94"));
}

#[test]
fn an_order_beyond_the_available_balance_is_refused() {
    let mut ex = exchange();
    ex.open_account(CAROL, m("3.99"));
    let err = ex
        .place_order(CAROL, &order(BookSide::Bid, "0.40", 10), 1)
        .unwrap_err();
    assert_eq!(err.status, 400);
    assert_eq!(err.code, "available_balance_too_low");
    // Exactly enough is fine: 10 × 0.40 = 4.00.
    ex.deposit(CAROL, 0, m("0.01")).unwrap();
    ex.place_order(CAROL, &order(BookSide::Bid, "0.40", 10), 2)
        .unwrap();
    assert_eq!(available(&ex, CAROL, 0), m("0"));
    let err = ex
        .place_order(CAROL, &order(BookSide::Bid, "0.01", 1), 3)
        .unwrap_err();
    assert_eq!(err.code, "available_balance_too_low");
}

#[test]
fn a_trade_moves_cash_positions_and_fees_as_computed_by_hand() {
    let mut ex = exchange();
    let maker = ex
        .place_order(ALICE, &order(BookSide::Bid, "0.40", 10), 1)
        .unwrap();
    let taker = ex
        .place_order(BOB, &order(BookSide::Ask, "0.35", 10), 2)
        .unwrap();
    // Bob sells YES (buys NO) into Alice's bid; the trade prints at the maker's 0.40.
    assert_eq!(taker.fill_count, c(10));
    assert_eq!(taker.remaining_count, Count::ZERO);
    assert_eq!(taker.average_fill_price, Some(p("0.40")));
    // Taker fee: 0.07 × 10 × 0.40 × 0.60 = 0.168 → $0.1680; per contract $0.0168.
    assert_eq!(taker.average_fee_paid, Some(m("0.0168")));
    // Bob paid 10 × 0.60 for NO plus 0.1680 fee; nothing stays locked.
    assert_eq!(cash(&ex, BOB), m("93.832"));
    assert_eq!(available(&ex, BOB, 0), m("93.832"));
    // Alice (maker, quadratic: no maker fee) paid 10 × 0.40.
    assert_eq!(cash(&ex, ALICE), m("96"));
    assert_eq!(available(&ex, ALICE, 0), m("96"));
    assert_eq!(position(&ex, ALICE), c(10));
    assert_eq!(position(&ex, BOB), c(-10));
    assert_eq!(status(&ex, &maker.order_id), OrderStatus::Executed);
    assert_eq!(status(&ex, &taker.order_id), OrderStatus::Executed);
    let fills = ex.fill_records();
    assert_eq!(fills.len(), 2);
    let bob_fill = fills.iter().find(|f| f.user_id == BOB).unwrap();
    assert!(bob_fill.is_taker);
    assert_eq!(bob_fill.fee, m("0.168"));
    assert_eq!(bob_fill.post_position, c(-10));
    let alice_fill = fills.iter().find(|f| f.user_id == ALICE).unwrap();
    assert_eq!(alice_fill.fee, Money::ZERO);
    assert_eq!(alice_fill.price, p("0.40"));
    let bob_record = ex.order_record(&taker.order_id).unwrap();
    assert_eq!(bob_record.taker_fill_cost, m("6"));
    assert_eq!(bob_record.taker_fees, m("0.168"));
    let alice_pos =
        &ex.account(ALICE).unwrap().subaccount(0).unwrap().positions[&Ticker::new(MARKET)];
    assert_eq!(alice_pos.cost, m("4"));
    assert_eq!(ex.market_state(MARKET).unwrap().stats.open_interest, c(10));
}

#[test]
fn a_taker_fill_better_than_its_limit_releases_the_unused_collateral() {
    let mut ex = exchange();
    ex.place_order(BOB, &order(BookSide::Ask, "0.30", 5), 1)
        .unwrap();
    // Alice bids 0.50 for 10: 5 fill at 0.30, 5 rest at 0.50.
    let ack = ex
        .place_order(ALICE, &order(BookSide::Bid, "0.50", 10), 2)
        .unwrap();
    assert_eq!(ack.fill_count, c(5));
    assert_eq!(ack.remaining_count, c(5));
    // Cash: −5 × 0.30 − fee(0.07 × 5 × 0.30 × 0.70 = 0.0735) = 98.4265; locked 5 × 0.50.
    assert_eq!(cash(&ex, ALICE), m("98.4265"));
    assert_eq!(available(&ex, ALICE, 0), m("95.9265"));
}

fn deci_cent_exchange(precision: BalancePrecision) -> Exchange {
    let config = ExchangeConfig {
        balance_precision: precision,
        ..ExchangeConfig::default()
    };
    exchange_with(config, "0.001")
}

/// Kalshi's fee-rounding page, "buy 3 contracts at $0.055 (three 1-lot matches)", at the
/// page's $0.01 target precision. Per fill: trade fee 0.07 × 0.055 × 0.945 = 0.00363825 →
/// $0.0037; balance change −0.055 − 0.0037 = −0.0587 → floored to −0.06, rounding fee
/// $0.0013; the accumulator reaches 0.0039, no rebate. Total −0.18, the same as one 3-lot fill
/// (fee 0.0110, −0.165 − 0.011 = −0.176 → −0.18).
#[test]
fn fee_rounding_three_one_lot_matches_at_a_subpenny_price() {
    let mut ex = deci_cent_exchange(BalancePrecision::NonDirect);
    for t in 0..3 {
        ex.place_order(BOB, &order(BookSide::Ask, "0.055", 1), t)
            .unwrap();
    }
    let ack = ex
        .place_order(ALICE, &order(BookSide::Bid, "0.055", 3), 10)
        .unwrap();
    assert_eq!(ack.fill_count, c(3));
    let fees: Vec<Money> = ex
        .fill_records()
        .iter()
        .filter(|f| f.user_id == ALICE)
        .map(|f| f.fee)
        .collect();
    assert_eq!(fees, vec![m("0.005"), m("0.005"), m("0.005")]);
    assert_eq!(cash(&ex, ALICE), m("99.82"));
    let record = ex.order_record(&ack.order_id).unwrap();
    assert_eq!(record.fee_accumulator, m("0.0039"));
    assert_eq!(record.taker_fees, m("0.015"));
}

/// Two 1-lot taker fills at $0.505, $0.01 precision. Fill 1: fee 0.07 × 0.505 × 0.495 =
/// 0.01749825 → 0.0175; change −0.5225 → −0.53, rounding 0.0075. Fill 2: the same, the
/// accumulator reaches 0.0150 → a $0.01 rebate, net fee 0.0175 + 0.0075 − 0.01 = 0.0150.
/// Total −1.05 = one 2-lot fill (fee 0.0350; −1.01 − 0.035 = −1.045 → −1.05).
#[test]
fn fee_accumulator_pays_a_whole_cent_rebate() {
    let mut ex = deci_cent_exchange(BalancePrecision::NonDirect);
    ex.place_order(BOB, &order(BookSide::Ask, "0.505", 1), 1)
        .unwrap();
    ex.place_order(BOB, &order(BookSide::Ask, "0.505", 1), 2)
        .unwrap();
    let ack = ex
        .place_order(ALICE, &order(BookSide::Bid, "0.505", 2), 3)
        .unwrap();
    let fees: Vec<Money> = ex
        .fill_records()
        .iter()
        .filter(|f| f.user_id == ALICE)
        .map(|f| f.fee)
        .collect();
    assert_eq!(fees, vec![m("0.025"), m("0.015")]);
    assert_eq!(cash(&ex, ALICE), m("98.95"));
    assert_eq!(
        ex.order_record(&ack.order_id).unwrap().fee_accumulator,
        m("0.005")
    );
}

/// Direct members keep $0.0001: the same 1-lot at $0.055 costs 0.055 + 0.0037 exactly.
#[test]
fn direct_members_pay_no_rounding_fee_on_centicent_amounts() {
    let mut ex = deci_cent_exchange(BalancePrecision::Direct);
    ex.place_order(BOB, &order(BookSide::Ask, "0.055", 1), 1)
        .unwrap();
    ex.place_order(ALICE, &order(BookSide::Bid, "0.055", 1), 2)
        .unwrap();
    assert_eq!(cash(&ex, ALICE), m("99.9413"));
}

#[test]
fn an_order_that_reduces_an_opposite_position_locks_nothing_for_that_part() {
    let mut ex = exchange();
    ex.place_order(BOB, &order(BookSide::Ask, "0.40", 10), 1)
        .unwrap();
    ex.place_order(ALICE, &order(BookSide::Bid, "0.40", 10), 2)
        .unwrap();
    // Alice: long 10 YES, cash 100 − 4 − fee 0.168 = 95.832.
    assert_eq!(available(&ex, ALICE, 0), m("95.832"));
    // Asking 10 closes the long: no collateral.
    let close = ex
        .place_order(ALICE, &order(BookSide::Ask, "0.60", 10), 3)
        .unwrap();
    assert_eq!(available(&ex, ALICE, 0), m("95.832"));
    // A second ask of 15 finds the position already claimed: 15 × 0.40 locked.
    ex.place_order(ALICE, &order(BookSide::Ask, "0.60", 15), 4)
        .unwrap();
    assert_eq!(available(&ex, ALICE, 0), m("89.832"));
    // Cancelling the closing order frees its claim, which passes to the ask of 15: only its
    // last 5 stay locked (5 × 0.40).
    ex.cancel_order_by_id(ALICE, &close.order_id, None, 5)
        .unwrap();
    assert_eq!(available(&ex, ALICE, 0), m("93.832"));
    // Carol buys 10 from the ask of 15: the fill uses its claim and closes Alice's 10 YES at
    // 0.60.
    ex.open_account(CAROL, m("100"));
    ex.place_order(CAROL, &order(BookSide::Bid, "0.60", 10), 6)
        .unwrap();
    assert_eq!(position(&ex, ALICE), Count::ZERO);
    // Closing 10 YES at 0.60 pays 6.00 (maker: no fee); 10 of the 15 locked are released and
    // 5 × 0.40 stay locked: 95.832 + 6 − 2 = 99.832.
    assert_eq!(available(&ex, ALICE, 0), m("99.832"));
    assert_eq!(cash(&ex, ALICE), m("101.832"));
}

#[test]
fn settlement_pays_winners_and_records_it() {
    let mut ex = exchange();
    ex.place_order(ALICE, &order(BookSide::Bid, "0.40", 10), 1)
        .unwrap();
    ex.place_order(BOB, &order(BookSide::Ask, "0.40", 10), 2)
        .unwrap();
    ex.take_events();
    ex.determine_market(MARKET, MarketResult::Yes, 100).unwrap();
    assert_eq!(
        ex.market_state(MARKET).unwrap().status,
        MarketStatus::Determined
    );
    ex.settle_market(MARKET, 200).unwrap();
    assert_eq!(
        ex.market_state(MARKET).unwrap().status,
        MarketStatus::Finalized
    );
    // Alice: 96 + 10 × $1. Bob: 100 − 6 − 0.168, his NO pays nothing.
    assert_eq!(cash(&ex, ALICE), m("106"));
    assert_eq!(cash(&ex, BOB), m("93.832"));
    assert_eq!(position(&ex, ALICE), Count::ZERO);
    let settlements = ex.settlement_records();
    assert_eq!(settlements.len(), 2);
    let alice = settlements.iter().find(|s| s.user_id == ALICE).unwrap();
    assert_eq!(alice.yes_count, c(10));
    assert_eq!(alice.yes_total_cost, m("4"));
    assert_eq!(alice.revenue, m("10"));
    let bob = settlements.iter().find(|s| s.user_id == BOB).unwrap();
    assert_eq!(bob.no_count, c(10));
    assert_eq!(bob.no_total_cost, m("6"));
    assert_eq!(bob.revenue, Money::ZERO);
    let kinds: Vec<LifecycleEventType> = ex
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            ExchangeEvent::Lifecycle(step) => Some(step.event_type),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            LifecycleEventType::CloseDateUpdated,
            LifecycleEventType::Determined,
            LifecycleEventType::Settled
        ]
    );
    assert!(ex.settle_market(MARKET, 300).is_err());
}

#[test]
fn the_schedule_opens_closes_determines_and_settles_with_lifecycle_events() {
    let mut ex = exchange();
    let mut spec = market_spec("KXTEST-26DEC-T60", "0.01");
    spec.open_ms = 1_000;
    spec.close_ms = 2_000;
    spec.expected_expiration_ms = 3_000;
    spec.scheduled_result = Some(MarketResult::No);
    spec.settlement_timer_seconds = 60;
    ex.add_market(spec).unwrap();
    let ticker = "KXTEST-26DEC-T60";
    let lifecycle = |ex: &mut Exchange| -> Vec<(LifecycleEventType, Option<bool>)> {
        ex.take_events()
            .into_iter()
            .filter_map(|e| match e {
                ExchangeEvent::Lifecycle(step) if step.ticker.as_str() == ticker => {
                    Some((step.event_type, step.is_deactivated))
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        lifecycle(&mut ex),
        vec![(LifecycleEventType::Created, None)]
    );
    assert_eq!(
        ex.market_state(ticker).unwrap().status,
        MarketStatus::Initialized
    );
    let early = OrderRequest::limit(ticker, BookSide::Bid, p("0.50"), c(1));
    assert_eq!(
        ex.place_order(ALICE, &early, 500).unwrap_err().code,
        "market_closed"
    );
    ex.advance(999);
    assert!(lifecycle(&mut ex).is_empty());
    ex.advance(1_000);
    assert_eq!(
        lifecycle(&mut ex),
        vec![(LifecycleEventType::Activated, None)]
    );
    let resting = ex.place_order(ALICE, &early, 1_500).unwrap();
    ex.advance(2_000);
    assert_eq!(
        lifecycle(&mut ex),
        vec![(LifecycleEventType::Deactivated, Some(true))]
    );
    assert_eq!(
        ex.market_state(ticker).unwrap().status,
        MarketStatus::Closed
    );
    // Closing cancels resting orders and frees their collateral.
    assert_eq!(status(&ex, &resting.order_id), OrderStatus::Canceled);
    assert_eq!(available(&ex, ALICE, 0), m("100"));
    ex.advance(3_000);
    assert_eq!(
        lifecycle(&mut ex),
        vec![(LifecycleEventType::Determined, None)]
    );
    ex.advance(62_999);
    assert!(lifecycle(&mut ex).is_empty());
    ex.advance(63_000);
    assert_eq!(
        lifecycle(&mut ex),
        vec![(LifecycleEventType::Settled, None)]
    );
    assert_eq!(
        ex.market_state(ticker).unwrap().status,
        MarketStatus::Finalized
    );
}

#[test]
fn an_order_group_triggers_at_its_limit_cancels_its_orders_and_blocks_until_reset() {
    let mut ex = exchange();
    let group = ex.create_group(ALICE, 0, c(5), 0).unwrap();
    let mut in_group = order(BookSide::Bid, "0.40", 10);
    in_group.order_group_id = Some(group.clone());
    let first = ex.place_order(ALICE, &in_group, 1).unwrap();
    let mut second = order(BookSide::Bid, "0.30", 3);
    second.order_group_id = Some(group.clone());
    let second = ex.place_order(ALICE, &second, 2).unwrap();
    ex.take_events();
    // Bob takes 5 of the first order: the group has matched 5 = its limit.
    ex.place_order(BOB, &order(BookSide::Ask, "0.40", 5), 3_000)
        .unwrap();
    assert_eq!(status(&ex, &first.order_id), OrderStatus::Canceled);
    assert_eq!(status(&ex, &second.order_id), OrderStatus::Canceled);
    assert_eq!(ex.order_record(&first.order_id).unwrap().filled, c(5));
    assert!(ex.order_group(&group).unwrap().triggered);
    let group_events: Vec<groups::GroupEventType> = ex
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            ExchangeEvent::OrderGroup(update) => Some(update.event_type),
            _ => None,
        })
        .collect();
    assert_eq!(group_events, vec![groups::GroupEventType::Triggered]);
    // All of Alice's collateral is free again: 100 − 5 × 0.40 paid.
    assert_eq!(available(&ex, ALICE, 0), m("98"));
    let mut again = order(BookSide::Bid, "0.40", 1);
    again.order_group_id = Some(group.clone());
    let err = ex.place_order(ALICE, &again, 4_000).unwrap_err();
    assert_eq!(err.code, "invalid_order");
    assert_eq!(err.details.as_deref(), Some("order_group_triggered"));
    ex.reset_group(ALICE, &group, None, 5_000).unwrap();
    ex.place_order(ALICE, &again, 6_000).unwrap();
    // Bob cannot touch Alice's group.
    assert_eq!(
        ex.trigger_group(BOB, &group, None, 7_000)
            .unwrap_err()
            .status,
        404
    );
}

#[test]
fn a_manual_trigger_cancels_and_a_lower_limit_can_trigger() {
    let mut ex = exchange();
    let group = ex.create_group(ALICE, 0, c(100), 0).unwrap();
    let mut in_group = order(BookSide::Bid, "0.40", 10);
    in_group.order_group_id = Some(group.clone());
    let placed = ex.place_order(ALICE, &in_group, 1).unwrap();
    ex.trigger_group(ALICE, &group, Some(0), 2).unwrap();
    assert_eq!(status(&ex, &placed.order_id), OrderStatus::Canceled);
    ex.reset_group(ALICE, &group, Some(0), 3).unwrap();
    let placed = ex.place_order(ALICE, &in_group, 4).unwrap();
    ex.place_order(BOB, &order(BookSide::Ask, "0.40", 3), 5)
        .unwrap();
    assert!(!ex.order_group(&group).unwrap().triggered);
    // 3 matched inside the window; a limit of 3 triggers at once.
    ex.update_group_limit(ALICE, &group, None, c(3), 6).unwrap();
    assert!(ex.order_group(&group).unwrap().triggered);
    assert_eq!(status(&ex, &placed.order_id), OrderStatus::Canceled);
    ex.delete_group(ALICE, &group, None, 7).unwrap();
    assert!(ex.order_group(&group).is_none());
}

#[test]
fn cancel_all_per_subaccount_and_for_all() {
    let mut ex = exchange();
    ex.deposit(ALICE, 1, m("50")).unwrap();
    let primary = ex
        .place_order(ALICE, &order(BookSide::Bid, "0.40", 10), 1)
        .unwrap();
    let mut in_sub = order(BookSide::Bid, "0.30", 10);
    in_sub.subaccount = 1;
    let sub_order = ex.place_order(ALICE, &in_sub, 2).unwrap();
    let bobs = ex
        .place_order(BOB, &order(BookSide::Bid, "0.20", 1), 3)
        .unwrap();
    assert_eq!(available(&ex, ALICE, 1), m("47"));
    ex.cancel_all(ALICE, Some(1), 4).unwrap();
    assert_eq!(status(&ex, &sub_order.order_id), OrderStatus::Canceled);
    assert_eq!(status(&ex, &primary.order_id), OrderStatus::Resting);
    assert_eq!(available(&ex, ALICE, 1), m("50"));
    ex.place_order(ALICE, &in_sub, 5).unwrap();
    ex.cancel_all(ALICE, None, 6).unwrap();
    assert!(ex.order_records(ALICE).all(|o| !o.is_resting()));
    assert_eq!(status(&ex, &bobs.order_id), OrderStatus::Resting);
    let book = ex.matching_book(MARKET).unwrap().levels();
    assert_eq!(book.yes_bids, vec![(p("0.20"), c(1))]);
}

#[test]
fn a_trading_pause_cancels_only_orders_that_asked_for_it_and_blocks_new_ones() {
    let mut ex = exchange();
    let mut fragile = order(BookSide::Bid, "0.40", 10);
    fragile.cancel_order_on_pause = true;
    let fragile = ex.place_order(ALICE, &fragile, 1).unwrap();
    let sturdy = ex
        .place_order(ALICE, &order(BookSide::Bid, "0.30", 10), 2)
        .unwrap();
    ex.set_trading_active(false, 3);
    assert!(!ex.is_trading_active());
    assert_eq!(status(&ex, &fragile.order_id), OrderStatus::Canceled);
    assert_eq!(status(&ex, &sturdy.order_id), OrderStatus::Resting);
    let err = ex
        .place_order(BOB, &order(BookSide::Ask, "0.30", 1), 4)
        .unwrap_err();
    assert_eq!((err.status, err.code.as_str()), (409, "market_closed"));
    // Cancels still work while paused.
    ex.cancel_order_by_id(ALICE, &sturdy.order_id, None, 5)
        .unwrap();
    ex.set_trading_active(true, 6);
    ex.place_order(BOB, &order(BookSide::Ask, "0.30", 1), 7)
        .unwrap();
}

#[test]
fn a_market_pause_emits_deactivated_and_cancels_that_markets_pause_orders() {
    let mut ex = exchange();
    let mut fragile = order(BookSide::Bid, "0.40", 1);
    fragile.cancel_order_on_pause = true;
    let fragile = ex.place_order(ALICE, &fragile, 1).unwrap();
    ex.take_events();
    ex.set_market_paused(MARKET, true, 2).unwrap();
    assert_eq!(
        ex.market_state(MARKET).unwrap().status,
        MarketStatus::Inactive
    );
    assert_eq!(status(&ex, &fragile.order_id), OrderStatus::Canceled);
    let steps: Vec<(LifecycleEventType, Option<bool>)> = ex
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            ExchangeEvent::Lifecycle(s) => Some((s.event_type, s.is_deactivated)),
            _ => None,
        })
        .collect();
    assert_eq!(steps, vec![(LifecycleEventType::Deactivated, Some(true))]);
    ex.set_market_paused(MARKET, false, 3).unwrap();
    assert_eq!(
        ex.market_state(MARKET).unwrap().status,
        MarketStatus::Active
    );
}

#[test]
fn a_duplicate_client_order_id_is_a_409() {
    let mut ex = exchange();
    let mut first = order(BookSide::Bid, "0.40", 1);
    first.client_order_id = Some("abc".to_string());
    ex.place_order(ALICE, &first, 1).unwrap();
    let err = ex.place_order(ALICE, &first, 2).unwrap_err();
    assert_eq!(
        (err.status, err.code.as_str()),
        (409, "order_already_exists")
    );
    // Another member may use the same id.
    ex.place_order(BOB, &first, 3).unwrap();
}

#[test]
fn the_order_log_records_accepted_and_refused_writes_with_their_times() {
    let mut ex = exchange();
    let mut first = order(BookSide::Bid, "0.40", 1);
    first.client_order_id = Some("q1".to_string());
    let placed = ex.place_order(ALICE, &first, 10).unwrap();
    ex.place_order(ALICE, &first, 20).unwrap_err();
    ex.cancel_order_by_id(ALICE, &placed.order_id, None, 30)
        .unwrap();
    ex.cancel_all(BOB, None, 40).unwrap();
    let log = ex.order_log();
    assert_eq!(log.len(), 4);
    assert_eq!(log[0].now_ms, 10);
    assert_eq!(log[0].kind, WriteKind::CreateOrder);
    assert_eq!(log[0].outcome, WriteOutcome::Accepted);
    assert_eq!(log[0].order_id.as_deref(), Some(placed.order_id.as_str()));
    assert_eq!(log[0].client_order_id.as_deref(), Some("q1"));
    assert_eq!(log[0].price, Some(p("0.40")));
    assert_eq!(log[1].now_ms, 20);
    assert_eq!(
        log[1].outcome,
        WriteOutcome::Refused {
            status: 409,
            code: "order_already_exists".to_string()
        }
    );
    assert_eq!(log[1].order_id, None);
    assert_eq!((log[2].kind, log[2].now_ms), (WriteKind::CancelOrder, 30));
    assert_eq!(log[2].client_order_id.as_deref(), Some("q1"));
    assert_eq!(
        (log[3].kind, log[3].user_id.as_str()),
        (WriteKind::CancelAll, BOB)
    );
    // Only the accepted create adds exposure: the refused create and the cancels do not.
    assert_eq!(ex.exposure_accepted_after(9), 1);
    assert_eq!(ex.exposure_accepted_after(10), 0);
}

#[test]
fn ioc_fok_post_only_and_reduce_only_follow_kalshis_rules() {
    let mut ex = exchange();
    ex.place_order(BOB, &order(BookSide::Ask, "0.40", 3), 1)
        .unwrap();
    let mut ioc = order(BookSide::Bid, "0.40", 5);
    ioc.time_in_force = TimeInForce::ImmediateOrCancel;
    let ack = ex.place_order(ALICE, &ioc, 2).unwrap();
    assert_eq!((ack.fill_count, ack.remaining_count), (c(3), Count::ZERO));
    assert_eq!(status(&ex, &ack.order_id), OrderStatus::Canceled);
    // Nothing locked once the IOC is done: 100 − 1.20 − fee(0.07 × 3 × 0.4 × 0.6 = 0.0504).
    assert_eq!(available(&ex, ALICE, 0), m("98.7496"));
    let mut fok = order(BookSide::Bid, "0.40", 5);
    fok.time_in_force = TimeInForce::FillOrKill;
    let ack = ex.place_order(ALICE, &fok, 3).unwrap();
    assert_eq!(ack.fill_count, Count::ZERO);
    assert_eq!(status(&ex, &ack.order_id), OrderStatus::Canceled);
    ex.place_order(BOB, &order(BookSide::Ask, "0.45", 1), 4)
        .unwrap();
    let mut post = order(BookSide::Bid, "0.45", 1);
    post.post_only = true;
    let err = ex.place_order(ALICE, &post, 5).unwrap_err();
    assert_eq!(err.code, "invalid_order");
    assert_eq!(err.details.as_deref(), Some("post only cross"));
    let mut reduce = order(BookSide::Ask, "0.01", 10);
    reduce.reduce_only = true;
    assert_eq!(
        ex.place_order(ALICE, &reduce, 6).unwrap_err().code,
        "invalid_order"
    );
    reduce.time_in_force = TimeInForce::ImmediateOrCancel;
    // Alice holds 3 YES: the reduce-only IOC is capped at 3 and nothing rests.
    ex.place_order(BOB, &order(BookSide::Bid, "0.30", 10), 7)
        .unwrap();
    let ack = ex.place_order(ALICE, &reduce, 8).unwrap();
    assert_eq!(ack.fill_count, c(3));
    assert_eq!(position(&ex, ALICE), Count::ZERO);
}

#[test]
fn a_good_till_date_order_expires_on_advance_and_frees_its_collateral() {
    let mut ex = exchange();
    let mut gtd = order(BookSide::Bid, "0.40", 10);
    gtd.expiration_ms = Some(5_000);
    let placed = ex.place_order(ALICE, &gtd, 1).unwrap();
    ex.advance(4_999);
    assert_eq!(status(&ex, &placed.order_id), OrderStatus::Resting);
    ex.advance(5_000);
    assert_eq!(status(&ex, &placed.order_id), OrderStatus::Canceled);
    assert_eq!(available(&ex, ALICE, 0), m("100"));
}

#[test]
fn amend_and_decrease_adjust_the_order_and_its_collateral() {
    let mut ex = exchange();
    let placed = ex
        .place_order(ALICE, &order(BookSide::Bid, "0.40", 10), 1)
        .unwrap();
    let amend = AmendRequest {
        ticker: MARKET.to_string(),
        side: BookSide::Bid,
        price: p("0.45"),
        count: c(20),
        client_order_id: None,
        updated_client_order_id: Some("new-id".to_string()),
    };
    let ack = ex
        .amend_order_by_id(ALICE, &placed.order_id, None, &amend, 2)
        .unwrap();
    assert_eq!(ack.remaining_count, c(20));
    assert_eq!(ack.client_order_id, "new-id");
    // 20 × 0.45 locked.
    assert_eq!(available(&ex, ALICE, 0), m("91"));
    let wrong_side = AmendRequest {
        side: BookSide::Ask,
        ..amend.clone()
    };
    assert_eq!(
        ex.amend_order_by_id(ALICE, &placed.order_id, None, &wrong_side, 3)
            .unwrap_err()
            .code,
        "order_side_mismatch"
    );
    let ack = ex
        .decrease_order_by_id(ALICE, &placed.order_id, None, Decrease::By(c(5)), 4)
        .unwrap();
    assert_eq!(ack.remaining_count, c(15));
    assert_eq!(available(&ex, ALICE, 0), m("93.25"));
    ex.decrease_order_by_id(ALICE, &placed.order_id, None, Decrease::To(Count::ZERO), 5)
        .unwrap();
    assert_eq!(status(&ex, &placed.order_id), OrderStatus::Canceled);
    assert_eq!(available(&ex, ALICE, 0), m("100"));
    // Others cannot see it.
    assert_eq!(
        ex.cancel_order_by_id(BOB, &placed.order_id, None, 6)
            .unwrap_err()
            .status,
        404
    );
}

#[test]
fn book_deltas_carry_the_owner_and_no_levels_in_no_prices() {
    let mut ex = exchange();
    let mut ask = order(BookSide::Ask, "0.40", 2);
    ask.client_order_id = Some("mine".to_string());
    ex.place_order(ALICE, &ask, 1).unwrap();
    let deltas: Vec<events::BookDelta> = ex
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            ExchangeEvent::BookDelta(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(deltas.len(), 1);
    assert_eq!(deltas[0].side, types::OutcomeSide::No);
    assert_eq!(deltas[0].price, p("0.60"));
    assert_eq!(deltas[0].delta, c(2));
    assert_eq!(deltas[0].user_id.as_deref(), Some(ALICE));
    assert_eq!(deltas[0].client_order_id.as_deref(), Some("mine"));
}

#[test]
fn self_trade_prevention_cancels_the_taker_or_the_resting_maker() {
    let mut ex = exchange();
    let own = ex
        .place_order(ALICE, &order(BookSide::Ask, "0.40", 5), 1)
        .unwrap();
    // taker_at_cross: Alice's bid stops at her own ask; nothing trades, her bid is cancelled.
    let stopped = ex
        .place_order(ALICE, &order(BookSide::Bid, "0.45", 3), 2)
        .unwrap();
    assert_eq!(stopped.fill_count, Count::ZERO);
    assert_eq!(status(&ex, &stopped.order_id), OrderStatus::Canceled);
    assert_eq!(status(&ex, &own.order_id), OrderStatus::Resting);
    // maker: the resting own ask is cancelled instead and the bid rests; her collateral for the
    // cancelled ask (5 × 0.60) comes back.
    let mut maker_stp = order(BookSide::Bid, "0.45", 3);
    maker_stp.self_trade_prevention = SelfTradePrevention::Maker;
    let kept = ex.place_order(ALICE, &maker_stp, 3).unwrap();
    assert_eq!(status(&ex, &own.order_id), OrderStatus::Canceled);
    assert_eq!(status(&ex, &kept.order_id), OrderStatus::Resting);
    assert_eq!(available(&ex, ALICE, 0), m("98.65"));
    assert!(ex.fill_records().is_empty());
}

#[test]
fn an_amend_that_crosses_trades_as_a_taker() {
    let mut ex = exchange();
    ex.place_order(BOB, &order(BookSide::Ask, "0.50", 2), 1)
        .unwrap();
    let bid = ex
        .place_order(ALICE, &order(BookSide::Bid, "0.40", 5), 2)
        .unwrap();
    let amend = AmendRequest {
        ticker: MARKET.to_string(),
        side: BookSide::Bid,
        price: p("0.50"),
        count: c(5),
        client_order_id: None,
        updated_client_order_id: None,
    };
    let ack = ex
        .amend_order_by_id(ALICE, &bid.order_id, None, &amend, 3)
        .unwrap();
    assert_eq!(ack.fill_count, c(2));
    assert_eq!(ack.remaining_count, c(3));
    let alice_fill = ex
        .fill_records()
        .iter()
        .find(|f| f.user_id == ALICE)
        .unwrap();
    assert!(alice_fill.is_taker);
    // Taker fee 0.07 × 2 × 0.5 × 0.5 = 0.035; cash 100 − 1.00 − 0.035; 3 × 0.50 locked.
    assert_eq!(cash(&ex, ALICE), m("98.965"));
    assert_eq!(available(&ex, ALICE, 0), m("97.465"));
}

#[test]
fn an_expired_order_is_retired_before_a_write_touches_it() {
    let mut ex = exchange();
    let mut gtd = order(BookSide::Bid, "0.40", 10);
    gtd.expiration_ms = Some(5_000);
    let placed = ex.place_order(ALICE, &gtd, 1).unwrap();
    // No `advance` in between: the cancel at 6 000 finds the order already expired.
    let err = ex
        .cancel_order_by_id(ALICE, &placed.order_id, None, 6_000)
        .unwrap_err();
    assert_eq!(err.status, 404);
    assert_eq!(status(&ex, &placed.order_id), OrderStatus::Canceled);
    assert_eq!(available(&ex, ALICE, 0), m("100"));
}

#[test]
fn fractional_fills_pay_fees_on_the_fraction() {
    let mut ex = exchange();
    let mut spec = market_spec("KXTEST-26DEC-FRAC", "0.01");
    spec.fractional_trading_enabled = true;
    ex.add_market(spec).unwrap();
    ex.advance(1);
    let ticker = "KXTEST-26DEC-FRAC";
    let half = Count::from_centi(250);
    ex.place_order(
        BOB,
        &OrderRequest::limit(ticker, BookSide::Ask, p("0.33"), half),
        2,
    )
    .unwrap();
    let ack = ex
        .place_order(
            ALICE,
            &OrderRequest::limit(ticker, BookSide::Bid, p("0.33"), half),
            3,
        )
        .unwrap();
    assert_eq!(ack.fill_count, half);
    // Fee 0.07 × 2.5 × 0.33 × 0.67 = 0.0386925 → 0.0387; cost 2.5 × 0.33 = 0.825.
    assert_eq!(cash(&ex, ALICE), m("99.1363"));
    // Whole-contract markets refuse fractions.
    assert_eq!(
        ex.place_order(
            ALICE,
            &OrderRequest::limit(MARKET, BookSide::Bid, p("0.33"), half),
            4
        )
        .unwrap_err()
        .code,
        "invalid_order_size"
    );
}

#[test]
fn a_claim_whose_position_is_gone_is_backed_by_money_again() {
    let mut ex = exchange();
    ex.place_order(BOB, &order(BookSide::Ask, "0.40", 10), 1)
        .unwrap();
    ex.place_order(ALICE, &order(BookSide::Bid, "0.40", 10), 2)
        .unwrap();
    // Long 10 YES; an ask of 10 reduces it and locks nothing.
    let resting_ask = ex
        .place_order(ALICE, &order(BookSide::Ask, "0.60", 10), 3)
        .unwrap();
    assert_eq!(available(&ex, ALICE, 0), m("95.832"));
    // Alice sells her 10 YES elsewhere: + 4.00 − fee 0.168.
    ex.place_order(BOB, &order(BookSide::Bid, "0.40", 10), 4)
        .unwrap();
    let mut ioc = order(BookSide::Ask, "0.40", 10);
    ioc.time_in_force = TimeInForce::ImmediateOrCancel;
    ex.place_order(ALICE, &ioc, 5).unwrap();
    assert_eq!(position(&ex, ALICE), Count::ZERO);
    assert_eq!(cash(&ex, ALICE), m("99.664"));
    // The resting ask would now open NO: it locks 10 × 0.40.
    let record = ex.order_record(&resting_ask.order_id).unwrap();
    assert_eq!(record.reducing_claim, Count::ZERO);
    assert_eq!(record.locked, m("4"));
    assert_eq!(available(&ex, ALICE, 0), m("95.664"));
}

// ---- the wire-typed API ----

use crate::kalshi::wire;
use serde_json::{Value, json};

fn spec_document(text: &str) -> Value {
    let mut doc: Value = serde_json::from_str(text).unwrap();
    if let Some(object) = doc.as_object_mut() {
        object.remove("paths");
        object.remove("channels");
        object.remove("operations");
    }
    doc
}

/// Validate `instance` against `#/components/schemas/{name}` of a spec document.
fn assert_matches_schema(doc: &Value, name: &str, instance: &Value) {
    let errors = schema_errors(doc, name, instance);
    assert!(
        errors.is_empty(),
        "{name} does not match the spec: {errors:#?}\n{instance:#}"
    );
}

/// Why `instance` does not match `#/components/schemas/{name}` (formats checked).
fn schema_errors(doc: &Value, name: &str, instance: &Value) -> Vec<String> {
    let mut schema = doc.clone();
    schema["$ref"] = json!(format!("#/components/schemas/{name}"));
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(true)
        .build(&schema)
        .unwrap();
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn openapi() -> Value {
    spec_document(include_str!(
        "../../../tests/fixtures/kalshi/openapi-3.27.0.json"
    ))
}

fn asyncapi() -> Value {
    spec_document(include_str!(
        "../../../tests/fixtures/kalshi/asyncapi-2026-08-22.json"
    ))
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

fn wire_order(side: wire::BookSide, price: &str, contracts: i64) -> wire::CreateOrderV2Request {
    wire::CreateOrderV2Request::limit(Ticker::new(MARKET), side, p(price), c(contracts))
}

#[test]
fn wire_writes_answer_in_kalshis_shapes() {
    let mut ex = exchange();
    let mut request = wire_order(wire::BookSide::Bid, "0.40", 10);
    request.client_order_id = Some("w1".to_string());
    let created = ex.create_order(ALICE, &request, 1_000).unwrap();
    assert_eq!(created.client_order_id.as_deref(), Some("w1"));
    assert_eq!(created.remaining_count, c(10));
    assert_eq!(created.ts_ms, 1_000);
    let taker = ex
        .create_order(BOB, &wire_order(wire::BookSide::Ask, "0.40", 4), 2_000)
        .unwrap();
    assert_eq!(taker.fill_count, c(4));
    assert_eq!(taker.average_fill_price, Some(p("0.40")));
    let spec = openapi();
    assert_matches_schema(&spec, "CreateOrderV2Response", &to_json(&created));
    assert_matches_schema(&spec, "CreateOrderV2Response", &to_json(&taker));

    let decreased = ex
        .decrease_order(
            ALICE,
            &created.order_id,
            None,
            &wire::DecreaseOrderV2Request::by(c(1)),
            3_000,
        )
        .unwrap();
    assert_eq!(decreased.remaining_count, c(5));
    assert_matches_schema(&spec, "DecreaseOrderV2Response", &to_json(&decreased));
    let amended = ex
        .amend_order(
            ALICE,
            &created.order_id,
            None,
            &wire::AmendOrderV2Request {
                ticker: Ticker::new(MARKET),
                side: wire::BookSide::Bid,
                price: p("0.41"),
                count: c(8),
                client_order_id: Some("w1".to_string()),
                updated_client_order_id: None,
                expiration_time: None,
                exchange_index: None,
            },
            4_000,
        )
        .unwrap();
    // 4 were filled; a total of 8 leaves 4 resting.
    assert_eq!(amended.remaining_count, Some(c(4)));
    assert_matches_schema(&spec, "AmendOrderV2Response", &to_json(&amended));
    let cancelled = ex
        .cancel_order(ALICE, &created.order_id, None, 5_000)
        .unwrap();
    assert_eq!(cancelled.reduced_by, c(4));
    assert_matches_schema(&spec, "CancelOrderV2Response", &to_json(&cancelled));

    let bad = wire::DecreaseOrderV2Request::default();
    assert_eq!(
        ex.decrease_order(ALICE, &created.order_id, None, &bad, 6_000)
            .unwrap_err()
            .status,
        400
    );
}

#[test]
fn batch_writes_report_per_item_errors() {
    let mut ex = exchange();
    let mut duplicate = wire_order(wire::BookSide::Bid, "0.40", 1);
    duplicate.client_order_id = Some("dup".to_string());
    let off_grid = wire_order(wire::BookSide::Bid, "0.405", 1);
    let batch = wire::BatchCreateOrdersV2Request {
        orders: vec![duplicate.clone(), duplicate, off_grid],
    };
    let answer = ex.batch_create_orders(ALICE, &batch, 10).unwrap();
    assert_eq!(answer.orders.len(), 3);
    assert!(answer.orders[0].error.is_none());
    let second = answer.orders[1].error.as_ref().unwrap();
    assert_eq!(second.code.as_deref(), Some("order_already_exists"));
    let third = answer.orders[2].error.as_ref().unwrap();
    assert_eq!(third.code.as_deref(), Some("invalid_order"));
    assert_eq!(
        ex.order_log()
            .iter()
            .filter(|e| e.kind == WriteKind::BatchCreateItem)
            .count(),
        3
    );
    let first_id = answer.orders[0].order_id.clone().unwrap();
    let cancel = wire::BatchCancelOrdersV2Request {
        orders: vec![
            wire::BatchCancelOrderV2 {
                order_id: first_id,
                subaccount: None,
                exchange_index: None,
                market_ticker: None,
            },
            wire::BatchCancelOrderV2 {
                order_id: "no-such-order".to_string(),
                subaccount: None,
                exchange_index: None,
                market_ticker: None,
            },
        ],
    };
    let answer = ex.batch_cancel_orders(ALICE, &cancel, 20).unwrap();
    assert_eq!(answer.orders[0].reduced_by, c(1));
    assert!(answer.orders[0].error.is_none());
    assert_eq!(answer.orders[1].reduced_by, Count::ZERO);
    assert_eq!(
        answer.orders[1].error.as_ref().unwrap().code.as_deref(),
        Some("not_found")
    );
}

#[test]
fn a_past_expiration_time_is_refused_and_logged() {
    let mut ex = exchange();
    let mut request = wire_order(wire::BookSide::Bid, "0.40", 1);
    request.expiration_time = Some(10);
    let err = ex.create_order(ALICE, &request, 10_000).unwrap_err();
    assert_eq!(err.code, "invalid_order");
    assert_eq!(ex.order_log().len(), 1);
    assert!(matches!(
        ex.order_log()[0].outcome,
        WriteOutcome::Refused { status: 400, .. }
    ));
}

#[test]
fn reads_match_the_openapi_schemas() {
    let mut ex = exchange();
    let group = ex
        .create_order_group(
            ALICE,
            &wire::CreateOrderGroupRequest {
                subaccount: None,
                contracts_limit: Some(100),
                contracts_limit_fp: None,
                exchange_index: None,
            },
            1,
        )
        .unwrap();
    let mut maker = wire_order(wire::BookSide::Bid, "0.40", 10);
    maker.order_group_id = Some(group.order_group_id.clone());
    ex.create_order(ALICE, &maker, 1_000).unwrap();
    ex.create_order(BOB, &wire_order(wire::BookSide::Ask, "0.40", 4), 2_000)
        .unwrap();
    ex.create_order(BOB, &wire_order(wire::BookSide::Ask, "0.55", 3), 3_000)
        .unwrap();
    let spec = openapi();
    for market in ex.markets(&wire::GetMarketsParams::default()) {
        assert_matches_schema(&spec, "Market", &to_json(&market));
    }
    let market = ex.market(MARKET).unwrap();
    assert_eq!(market.yes_bid_dollars, p("0.40"));
    assert_eq!(market.yes_bid_size_fp, c(6));
    assert_eq!(market.yes_ask_dollars, p("0.55"));
    assert_eq!(market.last_price_dollars, p("0.40"));
    assert_eq!(market.volume_fp, c(4));
    assert_eq!(market.open_interest_fp, c(4));
    assert_eq!(market.status, wire::MarketStatus::Active);
    let open = wire::GetMarketsParams {
        status: Some(wire::MarketStatusFilter::Open),
        ..Default::default()
    };
    assert_eq!(ex.markets(&open).len(), 1);
    let settled = wire::GetMarketsParams {
        status: Some(wire::MarketStatusFilter::Settled),
        ..Default::default()
    };
    assert!(ex.markets(&settled).is_empty());
    let event = ex.event("KXTEST-26DEC", true).unwrap();
    assert_matches_schema(&spec, "GetEventResponse", &to_json(&event));
    for series in ex.series_list() {
        assert_matches_schema(&spec, "Series", &to_json(&series));
    }
    let book = wire::GetMarketOrderbookResponse {
        orderbook_fp: ex.orderbook(MARKET, 0).unwrap(),
    };
    assert_matches_schema(&spec, "GetMarketOrderbookResponse", &to_json(&book));
    assert_eq!(
        book.orderbook_fp.yes_dollars,
        vec![wire::PriceLevel(p("0.40"), c(6))]
    );
    assert_eq!(
        book.orderbook_fp.no_dollars,
        vec![wire::PriceLevel(p("0.45"), c(3))]
    );
    for trade in ex.trades(&wire::GetTradesParams::default()) {
        assert_matches_schema(&spec, "Trade", &to_json(&trade));
    }
    let balance = ex.balance(ALICE, None).unwrap();
    assert_matches_schema(&spec, "GetBalanceResponse", &to_json(&balance));
    // 100 − 4 × 0.40 paid − 6 × 0.40 locked.
    assert_eq!(balance.balance_dollars, m("96"));
    assert_eq!(balance.balance, 9600);
    let positions = ex
        .positions(ALICE, &wire::GetPositionsParams::default())
        .unwrap();
    assert_matches_schema(&spec, "GetPositionsResponse", &to_json(&positions));
    assert_eq!(positions.market_positions[0].position_fp, c(4));
    let bob_positions = ex
        .positions(BOB, &wire::GetPositionsParams::default())
        .unwrap();
    assert_eq!(bob_positions.market_positions[0].position_fp, c(-4));
    for fill in ex.fills(BOB, &wire::GetFillsParams::default()).unwrap() {
        assert_matches_schema(&spec, "Fill", &to_json(&fill));
    }
    let orders = ex.orders(ALICE, &wire::GetOrdersParams::default()).unwrap();
    for order in &orders {
        assert_matches_schema(&spec, "Order", &to_json(order));
    }
    assert_eq!(
        orders[0].order_group_id.as_ref(),
        Some(&group.order_group_id)
    );
    let queue = ex.queue_position(ALICE, &orders[0].order_id).unwrap();
    assert_matches_schema(&spec, "GetOrderQueuePositionResponse", &to_json(&queue));
    assert_matches_schema(&spec, "ExchangeStatus", &to_json(&ex.exchange_status()));
    assert_matches_schema(
        &spec,
        "GetExchangeScheduleResponse",
        &to_json(&ex.schedule()),
    );
    let groups = ex.list_order_groups(ALICE, None).unwrap();
    assert_matches_schema(&spec, "GetOrderGroupsResponse", &to_json(&groups));
    let one = ex
        .get_order_group(ALICE, &group.order_group_id, None)
        .unwrap();
    assert_matches_schema(&spec, "GetOrderGroupResponse", &to_json(&one));
    assert_matches_schema(&spec, "CreateOrderGroupResponse", &to_json(&group));

    ex.determine_market(MARKET, MarketResult::Yes, 5_000)
        .unwrap();
    ex.settle_market(MARKET, 6_000).unwrap();
    let settlements = ex.settlements(ALICE, &SettlementFilter::default()).unwrap();
    assert_eq!(settlements.len(), 1);
    assert_eq!(settlements[0].revenue, 400);
    assert_matches_schema(&spec, "Settlement", &to_json(&settlements[0]));
    let market = ex.market(MARKET).unwrap();
    assert_eq!(market.status, wire::MarketStatus::Finalized);
    assert_eq!(market.result, wire::MarketResult::Yes);
    assert_matches_schema(&spec, "Market", &to_json(&market));
}

#[test]
fn ws_events_match_the_asyncapi_payloads() {
    let mut ex = exchange();
    let group = ex.create_group(ALICE, 0, c(100), 0).unwrap();
    let mut maker = wire_order(wire::BookSide::Bid, "0.40", 10);
    maker.order_group_id = Some(group);
    maker.client_order_id = Some("m1".to_string());
    ex.create_order(ALICE, &maker, 1_000).unwrap();
    ex.create_order(BOB, &wire_order(wire::BookSide::Ask, "0.40", 4), 2_000)
        .unwrap();
    ex.determine_market(MARKET, MarketResult::No, 3_000)
        .unwrap();
    ex.settle_market(MARKET, 4_000).unwrap();
    let spec = asyncapi();
    let events = ex.take_wire_events();
    let mut seen = std::collections::BTreeSet::new();
    for event in &events {
        let (kind, schema, msg) = match event {
            WireEvent::BookDelta {
                ticker,
                side,
                price,
                delta,
                client_order_id,
                subaccount,
                ts_ms,
                ..
            } => {
                let msg = wire::OrderbookDelta {
                    market_ticker: ticker.clone(),
                    market_id: ex.market_id(ticker.as_str()).unwrap().to_string(),
                    price_dollars: *price,
                    delta_fp: *delta,
                    side: *side,
                    client_order_id: client_order_id.clone(),
                    subaccount: *subaccount,
                    ts_ms: Some(*ts_ms),
                };
                ("orderbook_delta", "orderbookDeltaPayload", to_json(&msg))
            }
            WireEvent::Trade(m) => ("trade", "tradePayload", to_json(m)),
            WireEvent::Ticker(m) => ("ticker", "tickerPayload", to_json(m)),
            WireEvent::Fill { msg, .. } => ("fill", "fillPayload", to_json(msg)),
            WireEvent::UserOrder { msg, .. } => ("user_order", "userOrderPayload", to_json(msg)),
            WireEvent::MarketPosition { msg, .. } => {
                ("market_position", "marketPositionPayload", to_json(msg))
            }
            WireEvent::Lifecycle(m) => (
                "market_lifecycle_v2",
                "marketLifecycleV2Payload",
                to_json(m),
            ),
            WireEvent::OrderGroup { msg, .. } => (
                "order_group_updates",
                "orderGroupUpdatesPayload",
                to_json(msg),
            ),
        };
        seen.insert(kind);
        let frame = json!({"type": kind, "sid": 1, "seq": 1, "msg": msg});
        assert_matches_schema(&spec, schema, &frame);
        if kind == "user_order" {
            // The check would catch a member id that is not a UUID (`sim-user` once was one).
            let mut renamed = frame.clone();
            renamed["msg"]["user_id"] = json!("sim-user");
            assert!(
                !schema_errors(&spec, schema, &renamed).is_empty(),
                "a non-UUID user_id passed the schema"
            );
        }
    }
    assert_eq!(seen.len(), 8, "every event kind was produced: {seen:?}");
    let fills: Vec<&wire::WsFill> = events
        .iter()
        .filter_map(|e| match e {
            WireEvent::Fill { user_id, msg } if user_id == ALICE => Some(msg),
            _ => None,
        })
        .collect();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].client_order_id.as_deref(), Some("m1"));
    assert_eq!(fills[0].post_position_fp, c(4));
    assert!(!fills[0].is_taker);
}

#[test]
fn a_maintenance_window_takes_the_exchange_down_and_back() {
    let config = ExchangeConfig {
        schedule: types::ScheduleSpec {
            maintenance_windows: vec![(10_000, 20_000)],
            ..types::ScheduleSpec::default()
        },
        ..ExchangeConfig::default()
    };
    let mut ex = exchange_with(config, "0.01");
    let mut fragile = order(BookSide::Bid, "0.40", 1);
    fragile.cancel_order_on_pause = true;
    let fragile = ex.place_order(ALICE, &fragile, 5_000).unwrap();
    ex.advance(10_000);
    let status_now = ex.exchange_status();
    assert!(!status_now.exchange_active && !status_now.trading_active);
    assert_eq!(
        status_now
            .exchange_estimated_resume_time
            .map(|t| t.unix_ms()),
        Some(20_000)
    );
    assert_eq!(status(&ex, &fragile.order_id), OrderStatus::Canceled);
    assert_eq!(
        ex.place_order(BOB, &order(BookSide::Bid, "0.40", 1), 15_000)
            .unwrap_err()
            .code,
        "market_closed"
    );
    ex.advance(20_000);
    assert!(ex.exchange_status().trading_active);
    ex.place_order(BOB, &order(BookSide::Bid, "0.40", 1), 20_001)
        .unwrap();
    let schedule = ex.schedule();
    assert_eq!(schedule.schedule.maintenance_windows.len(), 1);
}

// ---- conservation under random trading ----

mod random_trading {
    use super::*;
    use proptest::prelude::*;

    const USERS: [&str; 3] = [ALICE, BOB, CAROL];

    #[derive(Debug, Clone)]
    enum Op {
        Place {
            user: usize,
            sub: u32,
            bid: bool,
            cents: i64,
            contracts: i64,
            tif: u8,
            post_only: bool,
            on_pause: bool,
        },
        Cancel {
            user: usize,
            pick: usize,
        },
        Decrease {
            user: usize,
            pick: usize,
            by: i64,
        },
        Amend {
            user: usize,
            pick: usize,
            cents: i64,
            extra: i64,
        },
        CancelAll {
            user: usize,
        },
        Pause,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..3usize, 0..2u32, any::<bool>(), 40..60i64, 1..15i64, 0..6u8, prop::bool::weighted(0.2), any::<bool>())
                .prop_map(|(user, sub, bid, cents, contracts, tif, post_only, on_pause)| Op::Place {
                    user, sub, bid, cents, contracts, tif, post_only, on_pause
                }),
            1 => (0..3usize, 0..50usize).prop_map(|(user, pick)| Op::Cancel { user, pick }),
            1 => (0..3usize, 0..50usize, 1..5i64).prop_map(|(user, pick, by)| Op::Decrease { user, pick, by }),
            1 => (0..3usize, 0..50usize, 30..70i64, 0..10i64)
                .prop_map(|(user, pick, cents, extra)| Op::Amend { user, pick, cents, extra }),
            1 => (0..3usize).prop_map(|user| Op::CancelAll { user }),
            1 => Just(Op::Pause),
        ]
    }

    fn resting_of(ex: &Exchange, user: &str) -> Vec<String> {
        ex.order_records(user)
            .filter(|o| o.is_resting())
            .map(|o| o.order_id.clone())
            .collect()
    }

    fn check_invariants(ex: &Exchange, initial: Money) {
        let mut cash = Money::ZERO;
        let mut net_position = Count::ZERO;
        let mut long = Count::ZERO;
        for user in USERS {
            let account = ex.account(user).unwrap();
            for (&number, sub) in &account.subaccounts {
                cash = cash.saturating_add(sub.cash);
                let locked: Money = ex
                    .order_records(user)
                    .filter(|o| o.is_resting() && o.subaccount == number)
                    .fold(Money::ZERO, |sum, o| sum.saturating_add(o.locked));
                assert_eq!(sub.locked, locked, "{user}/{number} locked");
                assert!(!sub.locked.is_negative());
                for position in sub.positions.values() {
                    net_position = net_position.saturating_add(position.position);
                    long = long.saturating_add(position.position.max(Count::ZERO));
                }
            }
        }
        let fees = ex
            .fill_records()
            .iter()
            .fold(Money::ZERO, |sum, f| sum.saturating_add(f.fee));
        // Each resting order locks exactly the price of its unclaimed remainder, and claims
        // never exceed the opposite position.
        for user in USERS {
            let account = ex.account(user).unwrap();
            for (&number, sub) in &account.subaccounts {
                let held = sub.position(&Ticker::new(MARKET));
                let mut claimed_bid = Count::ZERO;
                let mut claimed_ask = Count::ZERO;
                for order in ex
                    .order_records(user)
                    .filter(|o| o.is_resting() && o.subaccount == number)
                {
                    let unclaimed = order.remaining.saturating_sub(order.reducing_claim);
                    assert_eq!(
                        order.locked,
                        order.cost_per_contract().cost_of(unclaimed),
                        "order {} lock",
                        order.order_id
                    );
                    match order.side {
                        BookSide::Bid => {
                            claimed_bid = claimed_bid.saturating_add(order.reducing_claim)
                        }
                        BookSide::Ask => {
                            claimed_ask = claimed_ask.saturating_add(order.reducing_claim)
                        }
                    }
                }
                assert!(claimed_bid <= (-held).max(Count::ZERO));
                assert!(claimed_ask <= held.max(Count::ZERO));
            }
        }
        let open_interest = ex.market_state(MARKET).unwrap().stats.open_interest;
        assert_eq!(net_position, Count::ZERO, "positions net to zero");
        assert_eq!(open_interest, long, "open interest = YES held");
        // Every open YES+NO pair took $1 out of cash; fees left the members.
        let pairs = Money::from_micros(open_interest.centi() * 10_000);
        assert_eq!(
            cash.saturating_add(fees).saturating_add(pairs),
            initial,
            "cash + fees + $1 per open pair is conserved"
        );
        let book = ex.matching_book(MARKET).unwrap();
        let mut resting = 0;
        for user in USERS {
            for order in ex.order_records(user).filter(|o| o.is_resting()) {
                resting += 1;
                let number = ex.order_numbers[&order.order_id];
                let in_book = book.order(number).expect("a resting order is in the book");
                assert_eq!(in_book.remaining, order.remaining);
                assert_eq!(in_book.price, order.price);
            }
        }
        assert_eq!(resting, book.order_count());
        ex.assert_index_matches_books();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn money_is_conserved_and_locks_match_resting_orders(ops in prop::collection::vec(op(), 1..80)) {
            let mut ex = exchange();
            ex.open_account(CAROL, m("100"));
            for user in USERS {
                ex.deposit(user, 1, m("50")).unwrap();
            }
            let initial = m("450");
            let mut now = 10;
            for op in ops {
                now += 100;
                match op {
                    Op::Place { user, sub, bid, cents, contracts, tif, post_only, on_pause } => {
                        let side = if bid { BookSide::Bid } else { BookSide::Ask };
                        let mut request = OrderRequest::limit(
                            MARKET, side, Price::from_cents(cents).unwrap(), c(contracts));
                        request.subaccount = sub;
                        request.time_in_force = match tif {
                            4 => TimeInForce::ImmediateOrCancel,
                            5 => TimeInForce::FillOrKill,
                            _ => TimeInForce::GoodTillCanceled,
                        };
                        request.post_only = post_only;
                        request.cancel_order_on_pause = on_pause;
                        let _ = ex.place_order(USERS[user], &request, now);
                    }
                    Op::Cancel { user, pick } => {
                        let resting = resting_of(&ex, USERS[user]);
                        if !resting.is_empty() {
                            let id = &resting[pick % resting.len()];
                            ex.cancel_order_by_id(USERS[user], id, None, now).unwrap();
                        }
                    }
                    Op::Decrease { user, pick, by } => {
                        let resting = resting_of(&ex, USERS[user]);
                        if !resting.is_empty() {
                            let id = &resting[pick % resting.len()];
                            ex.decrease_order_by_id(USERS[user], id, None, Decrease::By(c(by)), now)
                                .unwrap();
                        }
                    }
                    Op::Amend { user, pick, cents, extra } => {
                        let resting = resting_of(&ex, USERS[user]);
                        if !resting.is_empty() {
                            let id = resting[pick % resting.len()].clone();
                            let record = ex.order_record(&id).unwrap().clone();
                            let amend = AmendRequest {
                                ticker: MARKET.to_string(),
                                side: record.side,
                                price: Price::from_cents(cents).unwrap(),
                                count: record.filled.saturating_add(c(1 + extra)),
                                client_order_id: None,
                                updated_client_order_id: None,
                            };
                            let _ = ex.amend_order_by_id(USERS[user], &id, None, &amend, now);
                        }
                    }
                    Op::CancelAll { user } => ex.cancel_all(USERS[user], None, now).unwrap(),
                    Op::Pause => {
                        ex.set_trading_active(false, now);
                        ex.set_trading_active(true, now);
                    }
                }
                check_invariants(&ex, initial);
            }
            ex.determine_market(MARKET, MarketResult::Yes, now + 1).unwrap();
            ex.settle_market(MARKET, now + 2).unwrap();
            check_invariants(&ex, initial);
            for user in USERS {
                let account = ex.account(user).unwrap();
                for sub in account.subaccounts.values() {
                    prop_assert_eq!(sub.locked, Money::ZERO);
                    prop_assert!(sub.positions.is_empty());
                }
            }
        }
    }
}

// ---- scale ----

/// 20,000 resting orders from 100 members in one market, with another member trading,
/// cancelling and reading queue positions in between. Prints the time of each quarter: with
/// per-member indexes the quarters take about the same time (a write walks only its member's
/// orders); a scan over every order on each write makes each quarter slower than the last.
#[test]
#[ignore = "a measurement: cargo test --lib sim::exchange::tests::scale -- --ignored --nocapture"]
fn scale_twenty_thousand_resting_orders() {
    const ORDERS: usize = 20_000;
    const MAKERS: usize = 100;
    let mut ex = exchange();
    let makers: Vec<String> = (0..MAKERS).map(|i| format!("maker-{i:02}")).collect();
    for maker in &makers {
        ex.open_account(maker, m("1000"));
    }
    ex.deposit(BOB, 0, m("100000")).unwrap();
    let mut now = 10;
    let mut quarter_started = crate::runtime::clock::instant();
    for i in 0..ORDERS {
        now += 1;
        // Makers rest bids at 1..=40 cents and asks at 60..=99 cents: nothing crosses.
        let (side, cents) = if i % 2 == 0 {
            (BookSide::Bid, 1 + (i / 2 % 40) as i64)
        } else {
            (BookSide::Ask, 60 + (i / 2 % 40) as i64)
        };
        let request = OrderRequest::limit(MARKET, side, Price::from_cents(cents).unwrap(), c(1));
        ex.place_order(&makers[i % MAKERS], &request, now).unwrap();
        // Bob takes one contract now and then, rests and cancels one, and reads his queue.
        if i % 50 == 0 {
            let take = OrderRequest::limit(MARKET, BookSide::Bid, p("0.99"), c(1));
            ex.place_order(BOB, &take, now).unwrap();
            let rest = OrderRequest::limit(MARKET, BookSide::Bid, p("0.45"), c(1));
            let ack = ex.place_order(BOB, &rest, now).unwrap();
            ex.queue_positions(BOB, &[MARKET.to_string()], None)
                .unwrap();
            ex.queue_position(BOB, &ack.order_id).unwrap();
            ex.cancel_order_by_id(BOB, &ack.order_id, None, now)
                .unwrap();
        }
        ex.take_events();
        if (i + 1) % (ORDERS / 4) == 0 {
            let elapsed = quarter_started.elapsed();
            println!(
                "orders {:>6}: {:>8.1} ms",
                i + 1,
                elapsed.as_secs_f64() * 1e3
            );
            quarter_started = crate::runtime::clock::instant();
        }
    }
    let resting = ex.matching_book(MARKET).unwrap().order_count();
    let started = crate::runtime::clock::instant();
    ex.cancel_all(BOB, None, now).unwrap();
    ex.orders(BOB, &wire::GetOrdersParams::default()).unwrap();
    ex.fills(BOB, &wire::GetFillsParams::default()).unwrap();
    println!(
        "bob's cancel-all, order list and fill list beside {resting} resting: {:.2} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    ex.assert_index_matches_books();
    let started = crate::runtime::clock::instant();
    for maker in &makers {
        ex.cancel_all(maker, None, now).unwrap();
    }
    println!(
        "every maker's cancel-all: {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(ex.matching_book(MARKET).unwrap().order_count(), 0);
}
