use super::Strategy;
use super::maker::Maker;
use super::trigger::{Outcome, Phase, Trigger};
use super::*;
use crate::core::num::Money;
use proptest::prelude::{Just, prop_assert, prop_assert_eq, prop_assume, prop_oneof, proptest};

fn p(text: &str) -> Price {
    Price::parse(text).unwrap()
}

fn c(n: i64) -> Count {
    Count::from_contracts(n)
}

fn lvl(price: &str, size: i64) -> Level {
    Level {
        price: p(price),
        size: c(size),
    }
}

const NOW: Now = Now {
    mono_ns: 5_000_000_000,
    wall_ms: 1_700_000_000_000,
    exchange_offset_ms: 0,
};

struct Fixture {
    ticker: Ticker,
    grid: PriceGrid,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            ticker: Ticker::new("M"),
            grid: PriceGrid::linear_cent(),
        }
    }

    fn view(&self, bid: &str, ask: &str) -> MarketView<'_> {
        let best_bid = Some(lvl(bid, 10));
        let best_ask = Some(lvl(ask, 10));
        let mid = Price::from_micros((p(bid).micros() + p(ask).micros()) / 2);
        MarketView {
            ticker: &self.ticker,
            grid: &self.grid,
            best_bid,
            best_ask,
            mid,
            microprice: mid,
            last_trade: None,
            book_age_ms: Some(100),
            close_exchange_ms: None,
        }
    }
}

fn input<'a>(view: MarketView<'a>, own: &'a [OwnOrder], position: i64) -> StrategyInput<'a> {
    StrategyInput {
        view,
        own_orders: own,
        position: c(position),
        fair: None,
        now: NOW,
    }
}

fn maker_params() -> MakerParams {
    MakerParams {
        fair_source: FairSource::Mid,
        half_spread: Money::from_cents(2),
        size: c(10),
        skew_per_contract: Money::ZERO,
        max_inventory: c(50),
        requote_threshold: Money::from_cents(1),
        post_only: true,
        quote_ttl_ms: 10_000,
        cancel_order_on_pause: true,
        stale_book_ms: 1_000,
        pull_before_close_ms: 60_000,
        fair_max_age_ms: 2_000,
    }
}

fn prices(orders: &[DesiredOrder]) -> Vec<(Side, Price, Count)> {
    orders.iter().map(|o| (o.side, o.price, o.count)).collect()
}

fn resting(id: &str, side: Side, price: &str, count: i64, exp: Option<i64>) -> OwnOrder {
    OwnOrder {
        client_order_id: id.into(),
        side,
        price: p(price),
        remaining: c(count),
        time_in_force: TimeInForce::GoodTillCanceled,
        expiration_s: exp,
        busy: false,
    }
}

#[test]
fn maker_quotes_around_mid_with_ttl_and_flags() {
    let f = Fixture::new();
    let mut maker = Maker::new(maker_params());
    let quotes = maker.desired(&input(f.view("0.40", "0.50"), &[], 0));
    assert_eq!(
        prices(&quotes),
        vec![(Side::Bid, p("0.43"), c(10)), (Side::Ask, p("0.47"), c(10))]
    );
    let exp = expiration_after(&NOW, 10_000);
    assert_eq!(exp, 1_700_000_010);
    assert!(quotes.iter().all(|q| q.expiration_s == Some(exp)
        && q.post_only
        && q.cancel_on_pause
        && q.time_in_force == TimeInForce::GoodTillCanceled));
}

#[test]
fn maker_skews_and_caps_inventory() {
    let f = Fixture::new();
    let mut params = maker_params();
    params.skew_per_contract = Money::from_micros(1_000); // 0.1¢ per contract
    let mut maker = Maker::new(params);
    // Long 20: centre 0.45 − 0.02 = 0.43; bid 0.41, ask 0.45.
    let quotes = maker.desired(&input(f.view("0.40", "0.50"), &[], 20));
    assert_eq!(
        prices(&quotes),
        vec![(Side::Bid, p("0.41"), c(10)), (Side::Ask, p("0.45"), c(10))]
    );
    // Long 45 with max 50: the bid shrinks to 5.
    let quotes = maker.desired(&input(f.view("0.40", "0.60"), &[], 45));
    assert_eq!(quotes[0].count, c(5));
    // At max: no bid at all.
    let quotes = maker.desired(&input(f.view("0.30", "0.70"), &[], 50));
    assert_eq!(quotes.len(), 1);
    assert_eq!(quotes[0].side, Side::Ask);
}

#[test]
fn maker_post_only_never_crosses() {
    let f = Fixture::new();
    let mut params = maker_params();
    params.fair_source = FairSource::External;
    let mut maker = Maker::new(params);
    let view = f.view("0.40", "0.42");
    let mut inp = input(view, &[], 0);
    inp.fair = Some(FairValue {
        ticker: f.ticker.clone(),
        fair: p("0.60"),
        ts_ms: NOW.wall_ms,
    });
    let quotes = maker.desired(&inp);
    // Bid 0.58 would cross the 0.42 ask: moved to 0.41. Ask 0.62 stays.
    assert_eq!(
        prices(&quotes),
        vec![(Side::Bid, p("0.41"), c(10)), (Side::Ask, p("0.62"), c(10))]
    );
}

#[test]
fn maker_external_fair_missing_or_stale_quotes_nothing() {
    let f = Fixture::new();
    let mut params = maker_params();
    params.fair_source = FairSource::External;
    let mut maker = Maker::new(params);
    assert_eq!(maker.external_fair_max_age_ms(), Some(2_000));
    let mut inp = input(f.view("0.40", "0.50"), &[], 0);
    assert!(maker.desired(&inp).is_empty());
    inp.fair = Some(FairValue {
        ticker: f.ticker.clone(),
        fair: p("0.45"),
        ts_ms: NOW.wall_ms - 2_001,
    });
    assert!(maker.desired(&inp).is_empty());
    inp.fair = Some(FairValue {
        ticker: f.ticker.clone(),
        fair: p("0.45"),
        ts_ms: NOW.wall_ms - 2_000,
    });
    assert_eq!(maker.desired(&inp).len(), 2);
}

#[test]
fn maker_pulls_on_stale_book_and_near_close() {
    let f = Fixture::new();
    let mut maker = Maker::new(maker_params());
    let mut view = f.view("0.40", "0.50");
    view.book_age_ms = Some(1_001);
    assert!(maker.desired(&input(view, &[], 0)).is_empty());
    let mut view = f.view("0.40", "0.50");
    view.book_age_ms = None;
    assert!(maker.desired(&input(view, &[], 0)).is_empty());
    let mut view = f.view("0.40", "0.50");
    view.close_exchange_ms = Some(NOW.exchange_ms() + 60_000);
    assert!(maker.desired(&input(view, &[], 0)).is_empty());
    let mut view = f.view("0.40", "0.50");
    view.close_exchange_ms = Some(NOW.exchange_ms() + 60_001);
    assert_eq!(maker.desired(&input(view, &[], 0)).len(), 2);
}

#[test]
fn maker_requote_threshold_and_ttl_refresh() {
    let f = Fixture::new();
    let mut maker = Maker::new(maker_params());
    let fresh = expiration_after(&NOW, 10_000);
    // Resting bid at 0.425 (under 1¢ from the 0.43 target) with plenty of TTL left: kept as is.
    let own = vec![
        resting("b", Side::Bid, "0.425", 10, Some(fresh - 1)),
        resting("a", Side::Ask, "0.47", 10, Some(NOW.wall_ms / 1000 + 4)),
    ];
    let quotes = maker.desired(&input(f.view("0.40", "0.50"), &own, 0));
    assert_eq!(quotes[0].price, p("0.425"));
    assert_eq!(quotes[0].expiration_s, Some(fresh - 1));
    // The ask has 4 s of a 10 s TTL left: refreshed.
    assert_eq!(quotes[1].price, p("0.47"));
    assert_eq!(quotes[1].expiration_s, Some(fresh));
    let actions = diff_orders(&quotes, &own);
    assert_eq!(
        actions,
        vec![OrderAction::Amend {
            client_order_id: "a".into(),
            to: quotes[1].clone()
        }]
    );
    // A move of 1¢ or more requotes.
    let own = vec![resting("b", Side::Bid, "0.42", 10, Some(fresh))];
    let quotes = maker.desired(&input(f.view("0.40", "0.50"), &own, 0));
    assert_eq!(quotes[0].price, p("0.43"));
}

#[test]
fn maker_params_validation_names_the_field() {
    let mut params = maker_params();
    params.size = Count::ZERO;
    assert_eq!(
        params.validate().unwrap_err().to_string(),
        "size: must be positive (got 0.00)"
    );
    let mut params = maker_params();
    params.quote_ttl_ms = 500;
    assert!(
        params
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("quote_ttl_ms")
    );
    let mut params = maker_params();
    params.half_spread = Money::from_cents(-1);
    assert!(StrategyParams::Maker(params).build().is_err());
    assert!(StrategyParams::Maker(maker_params()).build().is_ok());
}

#[test]
fn strategy_params_round_trip_as_json() {
    let params = StrategyParams::Maker(maker_params());
    let json = serde_json::to_string(&params).unwrap();
    assert!(json.contains(r#""strategy":"maker""#), "{json}");
    assert_eq!(
        serde_json::from_str::<StrategyParams>(&json).unwrap(),
        params
    );
    let bad = r#"{"strategy":"maker","fair_source":"mid","bogus":1}"#;
    assert!(serde_json::from_str::<StrategyParams>(bad).is_err());
}

fn trigger_params() -> TriggerParams {
    TriggerParams {
        field: PriceField::YesAsk,
        comparison: Comparison::AtOrBelow,
        threshold: p("0.35"),
        take: Outcome::Yes,
        max_count: c(20),
        limit_price: None,
        take_profit: None,
        stop_loss: None,
        repeat: false,
        stale_book_ms: 1_000,
    }
}

#[test]
fn trigger_takes_yes_up_to_n_once() {
    let f = Fixture::new();
    let mut trigger = Trigger::new(trigger_params());
    assert!(
        trigger
            .desired(&input(f.view("0.30", "0.36"), &[], 0))
            .is_empty()
    );
    let orders = trigger.desired(&input(f.view("0.30", "0.35"), &[], 0));
    assert_eq!(orders.len(), 1);
    assert_eq!(
        (orders[0].side, orders[0].price, orders[0].count),
        (Side::Bid, p("0.35"), c(20))
    );
    assert_eq!(orders[0].time_in_force, TimeInForce::ImmediateOrCancel);
    // Partly filled (12): asks for the remaining 8.
    let orders = trigger.desired(&input(f.view("0.30", "0.34"), &[], 12));
    assert_eq!(orders[0].count, c(8));
    // Full: one-shot without exits is done.
    assert!(
        trigger
            .desired(&input(f.view("0.30", "0.34"), &[], 20))
            .is_empty()
    );
    assert_eq!(trigger.phase(), Phase::Done);
    assert!(
        trigger
            .desired(&input(f.view("0.30", "0.34"), &[], 0))
            .is_empty()
    );
}

#[test]
fn trigger_takes_no_with_limit() {
    let f = Fixture::new();
    let mut params = trigger_params();
    params.field = PriceField::NoAsk;
    params.threshold = p("0.40");
    params.take = Outcome::No;
    params.limit_price = Some(p("0.38"));
    let mut trigger = Trigger::new(params);
    // NO ask = 1 − 0.61 = 0.39: condition holds but the limit (0.38) does not.
    assert!(
        trigger
            .desired(&input(f.view("0.61", "0.70"), &[], 0))
            .is_empty()
    );
    let orders = trigger.desired(&input(f.view("0.62", "0.70"), &[], 0));
    assert_eq!((orders[0].side, orders[0].price), (Side::Ask, p("0.62")));
}

#[test]
fn trigger_take_profit_and_stop_then_repeat() {
    let f = Fixture::new();
    let mut params = trigger_params();
    params.take_profit = Some(Money::from_cents(10));
    params.stop_loss = Some(Money::from_cents(5));
    params.repeat = true;
    let mut trigger = Trigger::new(params);
    trigger.desired(&input(f.view("0.30", "0.35"), &[], 0));
    trigger.on_fill(&OwnFill {
        side: Side::Bid,
        price: p("0.34"),
        count: c(10),
    });
    trigger.on_fill(&OwnFill {
        side: Side::Bid,
        price: p("0.36"),
        count: c(10),
    });
    assert_eq!(trigger.average_entry(), Some(p("0.35")));
    // Bid 0.44: +9¢, no exit; ask 0.50 no longer meets the entry condition.
    assert!(
        trigger
            .desired(&input(f.view("0.44", "0.50"), &[], 20))
            .is_empty()
    );
    let orders = trigger.desired(&input(f.view("0.45", "0.50"), &[], 20));
    assert_eq!(orders.len(), 1);
    let exit = &orders[0];
    assert_eq!(
        (exit.side, exit.price, exit.count, exit.reduce_only),
        (Side::Ask, p("0.45"), c(20), true)
    );
    assert_eq!(exit.time_in_force, TimeInForce::ImmediateOrCancel);
    assert_eq!(trigger.phase(), Phase::Exiting);
    // Flat again: repeating, so it waits for the condition and enters again.
    let orders = trigger.desired(&input(f.view("0.30", "0.35"), &[], 0));
    assert_eq!(trigger.phase(), Phase::Entering);
    assert_eq!(orders[0].count, c(20));
    trigger.on_fill(&OwnFill {
        side: Side::Bid,
        price: p("0.35"),
        count: c(20),
    });
    // Stop: bid 0.30 is 5¢ under the entry.
    let orders = trigger.desired(&input(f.view("0.30", "0.36"), &[], 20));
    assert_eq!((orders[0].side, orders[0].reduce_only), (Side::Ask, true));
}

#[test]
fn trigger_validation() {
    let mut params = trigger_params();
    params.threshold = Price::ONE;
    assert!(
        params
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("threshold")
    );
    let mut params = trigger_params();
    params.take_profit = Some(Money::ZERO);
    assert_eq!(
        params.validate().unwrap_err().to_string(),
        "take_profit: must be positive (got 0.0000)"
    );
    assert!(StrategyParams::Trigger(trigger_params()).build().is_ok());
}

#[test]
fn diff_places_amends_cancels_and_respects_busy() {
    let want = |side, price: &str, count| DesiredOrder {
        side,
        price: p(price),
        count: c(count),
        time_in_force: TimeInForce::GoodTillCanceled,
        post_only: true,
        reduce_only: false,
        expiration_s: None,
        cancel_on_pause: true,
    };
    let desired = vec![want(Side::Bid, "0.40", 10), want(Side::Ask, "0.50", 10)];
    // Nothing resting: two places.
    let actions = diff_orders(&desired, &[]);
    assert_eq!(actions.len(), 2);
    assert!(actions.iter().all(|a| matches!(a, OrderAction::Place(_))));
    // Same bid resting, ask at another price, and an extra bid: amend the ask, cancel the extra.
    let own = vec![
        resting("b1", Side::Bid, "0.40", 10, None),
        resting("b2", Side::Bid, "0.38", 10, None),
        resting("a1", Side::Ask, "0.52", 10, None),
    ];
    let actions = diff_orders(&desired, &own);
    assert_eq!(
        actions,
        vec![
            OrderAction::Cancel {
                client_order_id: "b2".into()
            },
            OrderAction::Amend {
                client_order_id: "a1".into(),
                to: desired[1].clone()
            },
        ]
    );
    // A busy order is neither amended nor cancelled, nor duplicated.
    let mut busy = resting("a1", Side::Ask, "0.52", 10, None);
    busy.busy = true;
    let actions = diff_orders(&desired[1..], &[busy.clone()]);
    assert!(actions.is_empty());
    let actions = diff_orders(&[], &[busy]);
    assert!(actions.is_empty());
    // Only smaller at the same price: decreased in place.
    let smaller = vec![want(Side::Bid, "0.40", 4)];
    assert_eq!(
        diff_orders(&smaller, &own[..1]),
        vec![OrderAction::Decrease {
            client_order_id: "b1".into(),
            to: c(4)
        }]
    );
    // Larger at the same price: an amend.
    let larger = vec![want(Side::Bid, "0.40", 14)];
    assert!(matches!(
        &diff_orders(&larger, &own[..1])[..],
        [OrderAction::Amend { .. }]
    ));
    // Wanting nothing cancels everything that is not busy.
    let actions = diff_orders(&[], &own);
    assert_eq!(actions.len(), 3);
}

fn side_strategy() -> impl proptest::strategy::Strategy<Value = Side> {
    prop_oneof![Just(Side::Bid), Just(Side::Ask)]
}

proptest! {
    /// Applying the diff's actions to the own orders yields exactly the desired set.
    #[test]
    fn diff_converges(
        desired in proptest::collection::vec((side_strategy(), 1i64..99, 1i64..20), 0..4),
        own in proptest::collection::vec((side_strategy(), 1i64..99, 1i64..20), 0..4),
    ) {
        let desired: Vec<DesiredOrder> = desired.into_iter().map(|(side, cents, n)| DesiredOrder {
            side, price: Price::from_cents(cents).unwrap(), count: c(n),
            time_in_force: TimeInForce::GoodTillCanceled, post_only: true, reduce_only: false,
            expiration_s: None, cancel_on_pause: true }).collect();
        let own: Vec<OwnOrder> = own.into_iter().enumerate().map(|(i, (side, cents, n))| OwnOrder {
            client_order_id: format!("o{i}"), side, price: Price::from_cents(cents).unwrap(),
            remaining: c(n), time_in_force: TimeInForce::GoodTillCanceled, expiration_s: None,
            busy: false }).collect();
        let mut book: Vec<(u8, Price, Count)> = Vec::new();
        let mut remaining = own.clone();
        for action in diff_orders(&desired, &own) {
            match action {
                OrderAction::Place(d) => book.push((d.side as u8, d.price, d.count)),
                OrderAction::Amend { client_order_id, to } => {
                    remaining.retain(|o| o.client_order_id != client_order_id);
                    book.push((to.side as u8, to.price, to.count));
                }
                OrderAction::Decrease { client_order_id, to } => {
                    let order = remaining.iter().find(|o| o.client_order_id == client_order_id).unwrap().clone();
                    prop_assert!(to < order.remaining);
                    remaining.retain(|o| o.client_order_id != client_order_id);
                    book.push((order.side as u8, order.price, to));
                }
                OrderAction::Cancel { client_order_id } => {
                    remaining.retain(|o| o.client_order_id != client_order_id);
                }
            }
        }
        book.extend(remaining.iter().map(|o| (o.side as u8, o.price, o.remaining)));
        let mut want: Vec<_> = desired.iter().map(|d| (d.side as u8, d.price, d.count)).collect();
        book.sort();
        want.sort();
        prop_assert_eq!(book, want);
    }

    /// Maker quotes are always on the grid, never self-crossed, never cross the book when
    /// post-only, and never take inventory past the cap.
    #[test]
    fn maker_quotes_are_sane(
        bid in 1i64..98, spread in 1i64..10, position in -60i64..60,
        half in 0i64..6, skew in 0i64..2000,
    ) {
        let ask = (bid + spread).min(99);
        prop_assume!(ask > bid);
        let f = Fixture::new();
        let mut params = maker_params();
        params.half_spread = Money::from_cents(half);
        params.skew_per_contract = Money::from_micros(skew);
        let mut maker = Maker::new(params);
        let view = f.view(&Price::from_cents(bid).unwrap().to_dollars(), &Price::from_cents(ask).unwrap().to_dollars());
        let quotes = maker.desired(&input(view, &[], position));
        for q in &quotes {
            prop_assert!(f.grid.is_tradeable(q.price));
            match q.side {
                Side::Bid => {
                    prop_assert!(q.price < Price::from_cents(ask).unwrap());
                    prop_assert!(c(position).saturating_add(q.count) <= c(50));
                }
                Side::Ask => {
                    prop_assert!(q.price > Price::from_cents(bid).unwrap());
                    prop_assert!(c(position).saturating_sub(q.count) >= c(-50));
                }
            }
        }
        if let [b, a] = quotes.as_slice() {
            prop_assert!(b.price < a.price);
        }
    }
}
