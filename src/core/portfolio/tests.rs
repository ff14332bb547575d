//! P&L scenarios worked by hand (every number in the comments), and a conservation property.

use super::fees::{FeeSchedule, Liquidity};
use super::*;
use crate::core::order::{OrderId, TradeId};
use chrono::{NaiveDateTime, TimeZone, Utc};
use proptest::prelude::*;

fn p(text: &str) -> Price {
    Price::parse(text).unwrap()
}
fn m(text: &str) -> Money {
    Money::parse(text).unwrap()
}
fn c(contracts: i64) -> Count {
    Count::from_contracts(contracts)
}
fn utc_ms(text: &str) -> i64 {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
    Utc.from_utc_datetime(&naive).timestamp_millis()
}

struct Fills {
    next: u32,
}

impl Fills {
    fn make(
        &mut self,
        ticker: &str,
        side: OrderSide,
        count: Count,
        price: &str,
        fee: &str,
    ) -> Fill {
        self.next += 1;
        Fill {
            trade_id: TradeId::new(&format!("t{}", self.next)),
            order_id: OrderId::new("o1"),
            client_order_id: None,
            ticker: Ticker::new(ticker),
            side,
            yes_price: p(price),
            count,
            is_taker: true,
            fee_cost: m(fee),
            ts_ms: i64::from(self.next),
        }
    }
}

const NOW: i64 = 1_764_000_000_000; // 2025-11-24, any fixed instant works

#[test]
fn long_yes_partial_close_then_settles_yes() {
    let mut fills = Fills { next: 0 };
    let mut book = Portfolio::new(DayBoundary::default(), m("100"));
    // Buy 10 YES at 0.40: cost 4.00; taker fee 0.07 × 10 × 0.40 × 0.60 = 0.168.
    let a = fills.make("A", OrderSide::Bid, c(10), "0.40", "0.168");
    // Buy 10 YES at 0.50: cost 5.00; fee 0.07 × 10 × 0.25 = 0.175.
    let b = fills.make("A", OrderSide::Bid, c(10), "0.50", "0.175");
    // Sell 15 YES at 0.60 as maker (free under `quadratic`).
    let s = fills.make("A", OrderSide::Ask, c(15), "0.60", "0");
    // The fees are what the fee function predicts.
    let schedule = FeeSchedule::quadratic();
    assert_eq!(
        schedule.trade_fee(Liquidity::Taker, a.yes_price, a.count),
        a.fee_cost
    );
    assert_eq!(
        schedule.trade_fee(Liquidity::Taker, b.yes_price, b.count),
        b.fee_cost
    );
    assert_eq!(
        schedule.trade_fee(Liquidity::Maker, s.yes_price, s.count),
        s.fee_cost
    );

    book.apply_fill(&a, NOW).unwrap();
    book.apply_fill(&b, NOW).unwrap();
    let position = book.position("A").unwrap();
    // 20 YES for 9.00, average 0.45.
    assert_eq!(
        (position.contracts, position.cost_basis),
        (c(20), m("9.00"))
    );
    assert_eq!(position.average_price(), Some(p("0.45")));

    // Closing 15 of 20 removes 9.00 × 15/20 = 6.75 of cost; proceeds 15 × 0.60 = 9.00;
    // realized 2.25. Left: 5 YES for 2.25.
    let effect = book.apply_fill(&s, NOW).unwrap();
    assert_eq!((effect.closed, effect.opened), (c(15), Count::ZERO));
    assert_eq!(effect.realized, m("2.25"));
    assert_eq!(effect.cash_change, m("9.00"));
    assert_eq!(effect.position_after, c(5));
    let position = book.position("A").unwrap();
    assert_eq!(position.cost_basis, m("2.25"));

    // Marks with YES bid 0.58 / ask 0.62: exit 5 × 0.58 = 2.90 → +0.65; mid 0.60 → 3.00 → +0.75.
    assert_eq!(
        position.unrealized_at_exit(Some(p("0.58")), Some(p("0.62"))),
        Some(m("0.65"))
    );
    assert_eq!(position.unrealized_at_mid(p("0.60")), m("0.75"));
    assert_eq!(position.unrealized_at_exit(None, Some(p("0.62"))), None);

    // YES wins: 5 × $1 = 5.00 paid; realized 5.00 − 2.25 = 2.75; total realized 5.00.
    let settled = book
        .settle("A", MarketResult::Yes, Money::ZERO, 100, NOW)
        .unwrap();
    assert_eq!((settled.payout, settled.realized), (m("5.00"), m("2.75")));
    assert_eq!(book.realized_pnl(), m("5.00"));
    // Fees 0.168 + 0.175 = 0.343.
    assert_eq!(book.fees_paid(), m("0.343"));
    // Cash: 100 − 4.168 − 5.175 + 9.00 + 5.00 = 104.657 = 100 + 5.00 − 0.343.
    assert_eq!(book.available_balance(), m("104.657"));
    assert!(book.position("A").unwrap().is_flat());
    assert_eq!(
        book.settle("A", MarketResult::Yes, Money::ZERO, 101, NOW),
        None
    );
    // A duplicate delivery changes nothing.
    assert_eq!(book.apply_fill(&a, NOW), None);
    assert_eq!(book.realized_pnl(), m("5.00"));
}

#[test]
fn no_side_opens_closes_flips_and_settles_no() {
    let mut fills = Fills { next: 0 };
    let mut book = Portfolio::new(DayBoundary::default(), Money::ZERO);
    // Flat, ask 10 at YES 0.30: buys 10 NO at 0.70 = 7.00. Fee 0.07 × 10 × 0.30 × 0.70 = 0.147.
    let e = book
        .apply_fill(
            &fills.make("B", OrderSide::Ask, c(10), "0.30", "0.147"),
            NOW,
        )
        .unwrap();
    assert_eq!(
        (e.opened, e.position_after, e.cash_change),
        (c(10), c(-10), m("-7.147"))
    );
    let position = book.position("B").unwrap();
    assert_eq!(position.cost_basis, m("7.00"));
    assert_eq!(position.average_price(), Some(p("0.70")));
    // Bid 4 at 0.20 sells 4 NO at 0.80: proceeds 3.20; cost removed 7.00 × 4/10 = 2.80;
    // realized 0.40. Fee 0.07 × 4 × 0.20 × 0.80 = 0.0448. Left −6 for 4.20.
    let e = book
        .apply_fill(
            &fills.make("B", OrderSide::Bid, c(4), "0.20", "0.0448"),
            NOW,
        )
        .unwrap();
    assert_eq!(
        (e.closed, e.realized, e.position_after),
        (c(4), m("0.40"), c(-6))
    );
    // Bid 10 at 0.25: sells the 6 NO at 0.75 = 4.50 against 4.20 → realized 0.30, then buys
    // 4 YES at 0.25 = 1.00. Fee 0.07 × 10 × 0.25 × 0.75 = 0.13125 → 0.1313.
    let e = book
        .apply_fill(
            &fills.make("B", OrderSide::Bid, c(10), "0.25", "0.1313"),
            NOW,
        )
        .unwrap();
    assert_eq!((e.closed, e.opened, e.realized), (c(6), c(4), m("0.30")));
    assert_eq!(e.cash_change, m("3.3687")); // 4.50 − 1.00 − 0.1313
    let position = book.position("B").unwrap();
    assert_eq!((position.contracts, position.cost_basis), (c(4), m("1.00")));
    // NO wins: the 4 YES pay nothing: realized −1.00. Total 0.40 + 0.30 − 1.00 = −0.30.
    let settled = book
        .settle("B", MarketResult::No, Money::ZERO, 9, NOW)
        .unwrap();
    assert_eq!(
        (settled.payout, settled.realized),
        (Money::ZERO, m("-1.00"))
    );
    assert_eq!(book.realized_pnl(), m("-0.30"));
    // Fees 0.147 + 0.0448 + 0.1313 = 0.3231; cash −0.30 − 0.3231 = −0.6231.
    assert_eq!(book.fees_paid(), m("0.3231"));
    assert_eq!(book.available_balance(), m("-0.6231"));
}

#[test]
fn scalar_settlement_pays_value_and_complement() {
    let mut fills = Fills { next: 0 };
    let mut book = Portfolio::default();
    // 10 YES at 0.50 (5.00); settles at 0.37: pays 3.70, realized −1.30.
    book.apply_fill(&fills.make("S1", OrderSide::Bid, c(10), "0.50", "0"), NOW);
    let record = book
        .settle("S1", MarketResult::Scalar(p("0.37")), Money::ZERO, 5, NOW)
        .unwrap();
    assert_eq!((record.payout, record.realized), (m("3.70"), m("-1.30")));
    // 10 NO (ask at 0.40 → NO at 0.60, 6.00); NO pays 1 − 0.37 = 0.63: 6.30, realized +0.30;
    // a 0.01 settlement fee is booked beside it.
    book.apply_fill(&fills.make("S2", OrderSide::Ask, c(10), "0.40", "0"), NOW);
    let record = book
        .settle("S2", MarketResult::Scalar(p("0.37")), m("0.01"), 6, NOW)
        .unwrap();
    assert_eq!(
        (record.payout, record.realized, record.fee),
        (m("6.30"), m("0.30"), m("0.01"))
    );
    assert_eq!(book.realized_pnl(), m("-1.00"));
    assert_eq!(book.fees_paid(), m("0.01"));
    // Cash: −5.00 + 3.70 − 6.00 + 6.30 − 0.01 = −1.01.
    assert_eq!(book.available_balance(), m("-1.01"));
    assert_eq!(book.settlements().len(), 2);
    let json = serde_json::to_string(&book.settlements()[1]).unwrap();
    assert!(
        json.contains(r#""result":{"result":"scalar","value":"0.3700"}"#),
        "{json}"
    );
}

#[test]
fn short_marks_use_the_no_side() {
    let mut fills = Fills { next: 0 };
    let mut book = Portfolio::default();
    book.apply_fill(&fills.make("N", OrderSide::Ask, c(10), "0.30", "0"), NOW);
    let position = book.position("N").unwrap();
    // 10 NO for 7.00. Book YES 0.25 / 0.28: NO sells at 1 − 0.28 = 0.72 → 7.20 → +0.20.
    assert_eq!(
        position.unrealized_at_exit(Some(p("0.25")), Some(p("0.28"))),
        Some(m("0.20"))
    );
    // Mid 0.265 → NO 0.735 → 7.35 → +0.35.
    assert_eq!(position.unrealized_at_mid(p("0.265")), m("0.35"));
    assert_eq!(position.unrealized_at_exit(Some(p("0.25")), None), None);
    assert_eq!(book.unrealized_at_mid(|_| Some(p("0.265"))), m("0.35"));
    book.apply_fill(&fills.make("M", OrderSide::Bid, c(4), "0.50", "0.07"), NOW);
    assert_eq!(book.largest_position(), Some((Ticker::new("N"), c(-10))));
    assert_eq!(book.realized_net_of_fees(), m("-0.07"));
    // 7.00 of NO + 4 × 0.50 of YES.
    assert_eq!(book.gross_exposure(), m("9.00"));
}

#[test]
fn uneven_cost_split_still_realizes_exactly() {
    let mut fills = Fills { next: 0 };
    let mut book = Portfolio::default();
    // 1 at 0.33 + 2 at 0.335 = 0.33 + 0.67 = 1.00 for 3 contracts.
    book.apply_fill(&fills.make("U", OrderSide::Bid, c(1), "0.33", "0"), NOW);
    book.apply_fill(&fills.make("U", OrderSide::Bid, c(2), "0.335", "0"), NOW);
    // Sell 1 at 0.40: removes floor(1.00 / 3) = 0.333333; realized 0.40 − 0.333333 = 0.066667.
    let e = book
        .apply_fill(&fills.make("U", OrderSide::Ask, c(1), "0.40", "0"), NOW)
        .unwrap();
    assert_eq!(e.realized, m("0.066667"));
    // Sell the last 2 at 0.40: removes the remaining 0.666667; realized 0.80 − 0.666667.
    let e = book
        .apply_fill(&fills.make("U", OrderSide::Ask, c(2), "0.40", "0"), NOW)
        .unwrap();
    assert_eq!(e.realized, m("0.133333"));
    // Round trip: 1.20 − 1.00 = 0.20 exactly.
    assert_eq!(book.realized_pnl(), m("0.20"));
    // Fractional: 0.50 contract at 0.33 costs 0.165.
    let e = book
        .apply_fill(
            &fills.make(
                "F",
                OrderSide::Bid,
                Count::parse("0.50").unwrap(),
                "0.33",
                "0",
            ),
            NOW,
        )
        .unwrap();
    assert_eq!(e.cash_change, m("-0.165"));
}

#[test]
fn daily_pnl_resets_at_new_york_midnight() {
    let mut fills = Fills { next: 0 };
    let mut book = Portfolio::new(DayBoundary::default(), Money::ZERO);
    // 2026-11-24 15:00 New York (20:00 UTC): buy 10 YES at 0.40 for 4.00, fee 0.168.
    let day1 = utc_ms("2026-11-24 20:00:00");
    book.apply_fill(
        &fills.make("D", OrderSide::Bid, c(10), "0.40", "0.168"),
        day1,
    );
    // Day 1 at mid 0.45: unrealized 4.50 − 4.00 = 0.50, fees 0.168: 0.332.
    let pnl = book.daily_pnl(|_| Some(p("0.45")));
    assert_eq!(
        (pnl.realized, pnl.unrealized, pnl.fees),
        (Money::ZERO, m("0.50"), m("0.168"))
    );
    assert_eq!(pnl.total(), m("0.332"));
    // 23:59:59 New York is still day 1.
    assert!(!book.roll_day(utc_ms("2026-11-25 04:59:59"), |_| Some(p("0.50"))));
    // Midnight New York (05:00 UTC): the day's basis becomes the mark, 10 × 0.50 = 5.00.
    assert!(book.roll_day(utc_ms("2026-11-25 05:00:00"), |_| Some(p("0.50"))));
    assert_eq!(
        book.current_day(),
        Some(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap())
    );
    assert_eq!(book.daily_pnl(|_| Some(p("0.50"))).total(), Money::ZERO);
    // Day 2: sell 10 at 0.55, fee 0.07 × 10 × 0.55 × 0.45 = 0.17325 → 0.1733.
    // Today: 5.50 − 5.00 = 0.50 realized − 0.1733 = 0.3267. Since inception: 5.50 − 4.00 = 1.50.
    book.apply_fill(
        &fills.make("D", OrderSide::Ask, c(10), "0.55", "0.1733"),
        utc_ms("2026-11-25 15:00:00"),
    );
    let pnl = book.daily_pnl(|_| None);
    assert_eq!(
        (pnl.realized, pnl.fees, pnl.unmarked_positions),
        (m("0.50"), m("0.1733"), 0)
    );
    assert_eq!(pnl.total(), m("0.3267"));
    assert_eq!(book.realized_pnl(), m("1.50"));
    // A fill on day 3 with no roll before it starts the day from cost: flat positions dropped.
    book.apply_fill(
        &fills.make("E", OrderSide::Bid, c(1), "0.10", "0.0063"),
        utc_ms("2026-11-26 15:00:00"),
    );
    assert!(book.position("D").is_none());
    let pnl = book.daily_pnl(|_| Some(p("0.12")));
    // 0.12 − 0.10 = 0.02 unrealized − 0.0063 fee.
    assert_eq!(pnl.total(), m("0.0137"));
}

#[test]
fn balance_snapshots_and_buying_power() {
    let mut fills = Fills { next: 0 };
    let mut book = Portfolio::default();
    book.set_exchange_balance(m("100"), 1_000);
    // A fill at exchange time 900 is already in the balance read at 1 000.
    let mut old = fills.make("C", OrderSide::Bid, c(10), "0.40", "0.168");
    old.ts_ms = 900;
    book.apply_fill(&old, NOW);
    assert_eq!(book.available_balance(), m("100"));
    let mut new = fills.make("C", OrderSide::Bid, c(10), "0.40", "0.168");
    new.ts_ms = 1_100;
    book.apply_fill(&new, NOW);
    assert_eq!(book.available_balance(), m("95.832"));
    assert_eq!(book.buying_power(m("10")), m("85.832"));
    assert_eq!(book.buying_power(m("1000")), Money::ZERO);
    // A newer read includes the fill: it is not counted twice.
    book.set_exchange_balance(m("95.832"), 1_200);
    assert_eq!(book.available_balance(), m("95.832"));
    // Reconciling to the exchange's position: ours (20 for 8.00) agrees, then a different one
    // (the exchange saw one more contract) replaces it.
    assert!(!book.reconcile_position(&Ticker::new("C"), c(20), m("8.00")));
    assert!(book.reconcile_position(&Ticker::new("C"), c(21), m("8.40")));
    let position = book.position("C").unwrap();
    assert_eq!(
        (position.contracts, position.cost_basis),
        (c(21), m("8.40"))
    );
    assert_eq!(position.day_cost_basis, m("8.40"));
}

#[test]
fn positions_serialize_for_the_journal() {
    let mut fills = Fills { next: 0 };
    let mut book = Portfolio::default();
    book.apply_fill(&fills.make("J", OrderSide::Ask, c(3), "0.30", "0.01"), NOW);
    let position = book.position("J").unwrap().clone();
    let text = serde_json::to_string(&position).unwrap();
    assert!(text.contains(r#""contracts":"-3.00""#), "{text}");
    assert_eq!(serde_json::from_str::<Position>(&text).unwrap(), position);
}

proptest! {
    /// Whatever the fills, cash moved = realized − fees − cost still held; after settlement
    /// the position is flat and cash moved = realized − fees exactly.
    #[test]
    fn cash_realized_and_cost_agree(
        trades in prop::collection::vec((any::<bool>(), 1i64..=99, 1i64..=5_000, 0i64..=50_000), 1..40),
        result in prop_oneof![Just(MarketResult::Yes), Just(MarketResult::No), (0i64..=100).prop_map(|cents| MarketResult::Scalar(Price::from_cents(cents).unwrap()))],
    ) {
        let mut book = Portfolio::default();
        let mut expected_contracts = 0i64;
        let mut model_cash = 0i64;
        for (i, (bid, cents, centi, fee)) in trades.into_iter().enumerate() {
            let side = if bid { OrderSide::Bid } else { OrderSide::Ask };
            let fill = Fill {
                trade_id: TradeId::new(&format!("t{i}")),
                order_id: OrderId::new("o"),
                client_order_id: None,
                ticker: Ticker::new("P"),
                side,
                yes_price: Price::from_cents(cents).unwrap(),
                count: Count::from_centi(centi),
                is_taker: true,
                fee_cost: Money::from_micros(fee),
                ts_ms: i as i64,
            };
            // The model's cash flow, from first principles in micro-dollars: a bid pays
            // `cents` per YES bought, or receives 100 − cents per NO it closes; an ask receives
            // `cents` per YES it closes or pays 100 − cents per NO bought.
            let held = expected_contracts;
            let closing = if bid { held < 0 } else { held > 0 };
            let closed = if closing { centi.min(held.abs()) } else { 0 };
            let opened = centi - closed;
            let per_contract_micros = cents * 10_000;
            let (sale, buy) = if bid {
                (1_000_000 - per_contract_micros, per_contract_micros)
            } else {
                (per_contract_micros, 1_000_000 - per_contract_micros)
            };
            model_cash += (sale * closed - buy * opened) / 100 - fee;
            book.apply_fill(&fill, NOW).unwrap();
            expected_contracts += centi * side.position_sign();
            prop_assert_eq!(book.available_balance().micros(), model_cash);
            let position = book.position("P").unwrap();
            prop_assert_eq!(position.contracts.centi(), expected_contracts);
            prop_assert!(!position.cost_basis.is_negative());
            let cash = book.available_balance().micros();
            prop_assert_eq!(cash, position.realized_pnl.micros() - position.fees_paid.micros() - position.cost_basis.micros());
            // No roll happened: today's books equal the lifetime books.
            prop_assert_eq!(position.day_realized_pnl, position.realized_pnl);
            prop_assert_eq!(position.day_cost_basis, position.cost_basis);
        }
        book.settle("P", result, Money::ZERO, 1_000, NOW).unwrap();
        let yes_pays = result.yes_payout().micros();
        model_cash += if expected_contracts >= 0 {
            yes_pays * expected_contracts / 100
        } else {
            (1_000_000 - yes_pays) * -expected_contracts / 100
        };
        prop_assert_eq!(book.available_balance().micros(), model_cash);
        let position = book.position("P").unwrap();
        prop_assert!(position.is_flat());
        prop_assert_eq!(position.cost_basis, Money::ZERO);
        prop_assert_eq!(book.available_balance().micros(), book.realized_pnl().micros() - book.fees_paid().micros());
    }
}
