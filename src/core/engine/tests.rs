//! Engine scenarios: inputs fed one at a time, outputs and state asserted after each step.

use super::*;
use crate::core::book::PriceConvention;
use crate::core::control::{MarketState, TradingState};
use crate::core::num::Count;
use crate::core::order::{ExchangeStatus, Fill, OrderId, OrderReport, TradeId};
use crate::core::risk::{ReduceOnlyCause, Refusal, Side};
use crate::core::strategy::{
    DesiredOrder, FairSource, MakerParams, Strategy, StrategyInput, StrategyParams,
};
use std::collections::BTreeSet;

fn p(text: &str) -> Price {
    Price::parse(text).unwrap()
}

fn c(contracts: i64) -> Count {
    Count::from_contracts(contracts)
}

fn usd(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn t(name: &str) -> Ticker {
    Ticker::new(name)
}

fn test_limits() -> RiskLimits {
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

const NONCE: u32 = 0xabcd_ef01;

struct Desk {
    engine: Engine,
    now: Now,
    next_order_id: u64,
}

impl Desk {
    fn new() -> Desk {
        Desk::with_config(EngineConfig {
            session_nonce: NONCE,
            limits: test_limits(),
            stale_book_ms: 5_000,
            hold_limit_ms: 500,
            closing_soon_ms: 60_000,
            order_group_id: Some("grp-1".into()),
            day_boundary: crate::core::portfolio::DayBoundary::default(),
            max_position_drifts: 2,
        })
    }

    fn with_config(config: EngineConfig) -> Desk {
        let mut desk = Desk {
            engine: Engine::new(config),
            now: Now::new(100_000_000_000, 1_700_000_000_000, 0),
            next_order_id: 1,
        };
        desk.step(Input::Private(PrivateInput::Balance {
            available: usd("1000"),
            as_of_ms: None,
        }));
        desk
    }

    /// Feeds one input 10 ms after the previous one.
    fn step(&mut self, input: Input) -> Outputs {
        self.now = self.now.plus_ms(10);
        let before = self.engine.last_audit_seq();
        let out = self.engine.handle(input, self.now);
        // The audit stream is gap-free and strictly increasing across steps.
        for (i, audit) in out.audits.iter().enumerate() {
            assert_eq!(audit.seq, before + 1 + i as u64);
        }
        // Every output is plain serializable data.
        serde_json::to_string(&out).unwrap();
        out
    }

    fn wait(&mut self, ms: u64) -> Outputs {
        self.now = self.now.plus_ms(ms.saturating_sub(10));
        self.step(Input::Tick)
    }

    /// A market's automatic and operator pause reasons, whatever its state shows.
    fn reasons(&self, ticker: &str) -> BTreeSet<PauseReason> {
        self.engine.control().market(&t(ticker)).reasons.clone()
    }

    /// The market closes `ms` from now on the exchange clock.
    fn closes_in(&mut self, ticker: &str, ms: i64) -> Outputs {
        let close_ms = self.now.exchange_ms() + ms;
        self.step(Input::Exchange(ExchangeInput::CloseTime {
            ticker: t(ticker),
            close_ms,
        }))
    }

    fn cmd(&mut self, command: Command) -> Outputs {
        self.step(Input::Command(command))
    }

    fn book(&mut self, ticker: &str, bid: &str, ask: &str) -> Outputs {
        self.step(Input::Market(MarketInput::Snapshot {
            ticker: t(ticker),
            yes: vec![(p(bid), c(100))],
            no: vec![(p(ask).complement(), c(100))],
            convention: PriceConvention::NoPrices,
            ts_ms: None,
        }))
    }

    fn manual(&mut self, ticker: &str, side: Side, price: &str, count: i64) -> Outputs {
        self.cmd(Command::PlaceManual(ManualOrder {
            ticker: t(ticker),
            side,
            price: p(price),
            count: c(count),
            time_in_force: TimeInForce::GoodTillCanceled,
            post_only: false,
            reduce_only: false,
            expiration_s: None,
        }))
    }

    /// Acknowledges a placed order as resting with nothing filled; returns its order id.
    fn ack(&mut self, client_order_id: &ClientOrderId) -> OrderId {
        let order_id = OrderId::new(&format!("ord-{}", self.next_order_id));
        self.next_order_id += 1;
        let count = self
            .engine
            .orders()
            .get(client_order_id.as_str())
            .unwrap()
            .remaining_count;
        let out = self.step(Input::Gateway(GatewayResult::Placed {
            client_order_id: client_order_id.clone(),
            order_id: order_id.clone(),
            fill_count: Count::ZERO,
            remaining_count: count,
        }));
        assert!(out.alarms.is_empty(), "{:?}", out.alarms);
        order_id
    }

    fn ack_all(&mut self, out: &Outputs) {
        for id in placed_ids(out) {
            self.ack(&id);
        }
    }

    fn cancel_ack_all(&mut self, out: &Outputs) {
        for intent in &out.intents {
            if let OrderIntent::Cancel {
                client_order_id, ..
            } = intent
            {
                let remaining = self
                    .engine
                    .orders()
                    .get(client_order_id.as_str())
                    .unwrap()
                    .remaining_count;
                self.step(Input::Gateway(GatewayResult::Canceled {
                    client_order_id: client_order_id.clone(),
                    reduced_by: remaining,
                }));
            }
        }
    }

    fn fill(
        &mut self,
        trade: &str,
        order_id: &str,
        ticker: &str,
        side: Side,
        price: &str,
        n: i64,
    ) -> Outputs {
        self.step(Input::Private(PrivateInput::Fill {
            fill: Fill {
                trade_id: TradeId::new(trade),
                order_id: OrderId::new(order_id),
                client_order_id: None,
                ticker: t(ticker),
                side,
                yes_price: p(price),
                count: c(n),
                is_taker: false,
                fee_cost: Money::ZERO,
                ts_ms: self.now.wall_ms,
            },
            post_position: None,
        }))
    }

    fn state(&self, ticker: &str) -> MarketState {
        self.engine.control().state(&t(ticker))
    }
}

fn placed_ids(out: &Outputs) -> Vec<ClientOrderId> {
    out.intents
        .iter()
        .filter_map(|i| match i {
            OrderIntent::Place {
                client_order_id, ..
            } => Some(client_order_id.clone()),
            _ => None,
        })
        .collect()
}

fn places(out: &Outputs) -> Vec<(Side, Price, Count)> {
    out.intents
        .iter()
        .filter_map(|i| match i {
            OrderIntent::Place {
                side, price, count, ..
            } => Some((*side, *price, *count)),
            _ => None,
        })
        .collect()
}

fn cancel_ids(out: &Outputs) -> Vec<ClientOrderId> {
    out.intents
        .iter()
        .filter_map(|i| match i {
            OrderIntent::Cancel {
                client_order_id, ..
            } => Some(client_order_id.clone()),
            _ => None,
        })
        .collect()
}

fn refusals(out: &Outputs) -> Vec<Refusal> {
    out.audits
        .iter()
        .filter_map(|a| match &a.event {
            AuditKind::OrderRefused { refusal, .. } => Some(refusal.clone()),
            _ => None,
        })
        .collect()
}

fn command_refusals(out: &Outputs) -> Vec<String> {
    out.audits
        .iter()
        .filter_map(|a| match &a.event {
            AuditKind::CommandRefused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

fn has_non_cancel_intent(out: &Outputs) -> bool {
    out.intents.iter().any(|i| !i.is_cancel())
}

fn maker_params() -> StrategyParams {
    StrategyParams::Maker(MakerParams {
        fair_source: FairSource::Mid,
        half_spread: usd("0.02"),
        size: c(10),
        skew_per_contract: Money::ZERO,
        max_inventory: c(50),
        requote_threshold: usd("0.01"),
        post_only: true,
        quote_ttl_ms: 10_000,
        cancel_order_on_pause: true,
        stale_book_ms: 5_000,
        pull_before_close_ms: 60_000,
        fair_max_age_ms: 2_000,
    })
}

/// A desk with market M (book 0.40 / 0.50) quoting with the maker, both quotes acked.
fn armed_maker_desk() -> (Desk, Vec<ClientOrderId>) {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    desk.cmd(Command::SetStrategy {
        ticker: t("M"),
        params: maker_params(),
    });
    let out = desk.cmd(Command::Arm { ticker: t("M") });
    assert_eq!(desk.state("M"), MarketState::Armed);
    assert_eq!(
        places(&out),
        vec![(Side::Bid, p("0.43"), c(10)), (Side::Ask, p("0.47"), c(10))]
    );
    for intent in &out.intents {
        let OrderIntent::Place {
            client_order_id,
            post_only,
            cancel_order_on_pause,
            expiration_s,
            order_group_id,
            ..
        } = intent
        else {
            panic!("unexpected {intent:?}");
        };
        assert!(client_order_id.as_str().starts_with("m-maker-abcdef01-"));
        assert!(*post_only && *cancel_order_on_pause);
        assert!(expiration_s.is_some());
        assert_eq!(order_group_id.as_deref(), Some("grp-1"));
    }
    let ids = placed_ids(&out);
    desk.ack_all(&out);
    (desk, ids)
}

#[test]
fn manual_order_goes_through_and_rests() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let out = desk.manual("M", Side::Bid, "0.45", 10);
    assert_eq!(places(&out), vec![(Side::Bid, p("0.45"), c(10))]);
    let id = placed_ids(&out)[0].clone();
    assert_eq!(id.as_str(), "op-abcdef01-1");
    let OrderIntent::Place {
        order_group_id,
        flatten_permit,
        ..
    } = &out.intents[0]
    else {
        panic!()
    };
    assert_eq!(
        order_group_id, &None,
        "manual orders stay out of the strategy group"
    );
    assert!(!flatten_permit);
    assert!(matches!(
        &out.audits[0].event,
        AuditKind::IntentEmitted {
            origin: Origin::Operator,
            ..
        }
    ));
    assert_eq!(
        desk.engine.orders().get(id.as_str()).unwrap().state,
        OrderState::PendingCreate
    );
    desk.ack(&id);
    assert_eq!(
        desk.engine.orders().get(id.as_str()).unwrap().state,
        OrderState::Resting
    );
}

#[test]
fn fill_arriving_after_cancel_ack() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let out = desk.manual("M", Side::Bid, "0.45", 10);
    let id = placed_ids(&out)[0].clone();
    let order_id = desk.ack(&id);
    let out = desk.cmd(Command::CancelManual {
        client_order_id: id.clone(),
    });
    assert_eq!(
        out.intents,
        vec![OrderIntent::Cancel {
            order_id: Some(order_id.clone()),
            client_order_id: id.clone(),
            ticker: t("M"),
        }]
    );
    // 4 filled while the cancel travelled: the exchange took only 6 off the book.
    desk.step(Input::Gateway(GatewayResult::Canceled {
        client_order_id: id.clone(),
        reduced_by: c(6),
    }));
    let order = desk.engine.orders().get(id.as_str()).unwrap();
    assert!(
        order.is_open(),
        "the order waits for the fills still on their way"
    );
    assert_eq!(order.remaining_count, c(4));
    assert_eq!(desk.engine.portfolio().contracts("M"), Count::ZERO);
    // The fill arrives after the cancel acknowledgement: it is booked, and the order ends.
    let out = desk.fill("T1", order_id.as_str(), "M", Side::Bid, "0.45", 4);
    assert!(
        out.audits
            .iter()
            .any(|a| matches!(a.event, AuditKind::Fill { .. }))
    );
    assert_eq!(desk.engine.portfolio().contracts("M"), c(4));
    let order = desk.engine.orders().get(id.as_str()).unwrap();
    assert_eq!(order.state, OrderState::Canceled);
    assert_eq!(order.fill_count(), c(4));
    assert!(out.intents.is_empty());
}

#[test]
fn duplicated_fill_is_booked_once() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let out = desk.manual("M", Side::Bid, "0.45", 10);
    let id = placed_ids(&out)[0].clone();
    let order_id = desk.ack(&id);
    desk.fill("T1", order_id.as_str(), "M", Side::Bid, "0.45", 3);
    assert_eq!(desk.engine.portfolio().contracts("M"), c(3));
    let out = desk.fill("T1", order_id.as_str(), "M", Side::Bid, "0.45", 3);
    assert!(matches!(
        &out.audits[..],
        [AuditEvent {
            event: AuditKind::DuplicateFill { .. },
            ..
        }]
    ));
    assert_eq!(desk.engine.portfolio().contracts("M"), c(3));
    assert_eq!(
        desk.engine
            .orders()
            .get(id.as_str())
            .unwrap()
            .remaining_count,
        c(7)
    );
}

fn lost_order_desk() -> (Desk, ClientOrderId) {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let out = desk.manual("M", Side::Bid, "0.45", 10);
    let id = placed_ids(&out)[0].clone();
    let out = desk.step(Input::Gateway(GatewayResult::Lost {
        client_order_id: id.clone(),
        write: WriteKind::Place,
    }));
    assert!(
        out.audits
            .iter()
            .any(|a| matches!(&a.event, AuditKind::OrderUnknown { .. }))
    );
    assert_eq!(out.alarms.len(), 1);
    assert_eq!(
        desk.engine.orders().get(id.as_str()).unwrap().state,
        OrderState::Unknown
    );
    // That market's writes wait.
    let out = desk.manual("M", Side::Bid, "0.44", 1);
    assert!(out.intents.is_empty());
    assert_eq!(
        command_refusals(&out),
        vec![format!(
            "M: writes wait until order {id} (unknown) is resolved"
        )]
    );
    // Other markets are not held up.
    desk.book("N", "0.40", "0.50");
    assert_eq!(places(&desk.manual("N", Side::Bid, "0.44", 1)).len(), 1);
    (desk, id)
}

#[test]
fn unknown_order_resolved_as_found() {
    let (mut desk, id) = lost_order_desk();
    let out = desk.step(Input::Gateway(GatewayResult::Resolved {
        client_order_id: id.clone(),
        found: Some(OrderReport {
            order_id: OrderId::new("ord-x"),
            client_order_id: Some(id.clone()),
            ticker: t("M"),
            side: Side::Bid,
            yes_price: p("0.45"),
            status: ExchangeStatus::Resting,
            fill_count: Count::ZERO,
            remaining_count: c(10),
            initial_count: Some(c(10)),
            updated_ts_ms: None,
        }),
    }));
    assert!(
        out.audits
            .iter()
            .any(|a| matches!(&a.event, AuditKind::UnknownResolved { found: true, .. }))
    );
    let order = desk.engine.orders().get(id.as_str()).unwrap();
    assert_eq!(order.state, OrderState::Resting);
    assert_eq!(order.order_id, Some(OrderId::new("ord-x")));
    assert_eq!(places(&desk.manual("M", Side::Bid, "0.44", 1)).len(), 1);
}

#[test]
fn unknown_order_resolved_as_never_existed() {
    let (mut desk, id) = lost_order_desk();
    let out = desk.step(Input::Gateway(GatewayResult::Resolved {
        client_order_id: id.clone(),
        found: None,
    }));
    assert!(
        out.audits
            .iter()
            .any(|a| matches!(&a.event, AuditKind::UnknownResolved { found: false, .. }))
    );
    assert_eq!(
        desk.engine.orders().get(id.as_str()).unwrap().state,
        OrderState::NeverExisted
    );
    assert_eq!(places(&desk.manual("M", Side::Bid, "0.44", 1)).len(), 1);
}

#[test]
fn unknown_order_resolved_by_user_order_frame() {
    let (mut desk, id) = lost_order_desk();
    let out = desk.step(Input::Private(PrivateInput::UserOrder(OrderReport {
        order_id: OrderId::new("ord-y"),
        client_order_id: Some(id.clone()),
        ticker: t("M"),
        side: Side::Bid,
        yes_price: p("0.45"),
        status: ExchangeStatus::Canceled,
        fill_count: Count::ZERO,
        remaining_count: Count::ZERO,
        initial_count: Some(c(10)),
        updated_ts_ms: Some(1),
    })));
    assert!(
        out.audits
            .iter()
            .any(|a| matches!(&a.event, AuditKind::UnknownResolved { found: true, .. }))
    );
    assert_eq!(
        desk.engine.orders().get(id.as_str()).unwrap().state,
        OrderState::Canceled
    );
}

#[test]
fn strategy_waits_while_an_order_is_unknown() {
    let (mut desk, ids) = armed_maker_desk();
    // The maker wants to requote after the book moves, but its bid's amend answer is lost.
    let out = desk.book("M", "0.30", "0.40");
    let amended: Vec<ClientOrderId> = out
        .intents
        .iter()
        .filter_map(|i| match i {
            OrderIntent::Amend {
                client_order_id, ..
            } => Some(client_order_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(amended, ids);
    desk.step(Input::Gateway(GatewayResult::Lost {
        client_order_id: ids[0].clone(),
        write: WriteKind::Amend,
    }));
    let out = desk.book("M", "0.20", "0.30");
    assert!(out.intents.is_empty(), "writes wait: {:?}", out.intents);
}

#[test]
fn each_risk_rule_refuses_with_its_numbers() {
    // grid
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let out = desk.manual("M", Side::Bid, "0.455", 1);
    assert_eq!(refusals(&out), vec![Refusal::OffGrid { price: p("0.455") }]);
    assert!(out.intents.is_empty());
    // collar
    let out = desk.manual("M", Side::Bid, "0.60", 1);
    assert_eq!(
        refusals(&out),
        vec![Refusal::OutsideCollar {
            price: p("0.60"),
            reference: p("0.45"),
            collar: usd("0.10")
        }]
    );
    // no reference: no book at all, then a stale one
    let out = desk.manual("X", Side::Bid, "0.50", 1);
    assert_eq!(refusals(&out), vec![Refusal::NoReference]);
    desk.wait(5_001);
    let out = desk.manual("M", Side::Bid, "0.45", 1);
    assert_eq!(refusals(&out), vec![Refusal::NoReference]);
    desk.book("M", "0.40", "0.50");
    // one side only: the fresh side is the reference
    desk.step(Input::Market(MarketInput::Snapshot {
        ticker: t("B"),
        yes: vec![(p("0.20"), c(5))],
        no: vec![],
        convention: PriceConvention::NoPrices,
        ts_ms: None,
    }));
    let out = desk.manual("B", Side::Ask, "0.31", 1);
    assert_eq!(
        refusals(&out),
        vec![Refusal::OutsideCollar {
            price: p("0.31"),
            reference: p("0.20"),
            collar: usd("0.10")
        }]
    );
    // max order count and cost
    let out = desk.manual("M", Side::Bid, "0.45", 51);
    assert_eq!(
        refusals(&out),
        vec![Refusal::OrderCount {
            count: c(51),
            max: c(50)
        }]
    );
    let out = desk.manual("M", Side::Bid, "0.50", 41);
    assert_eq!(
        refusals(&out),
        vec![Refusal::OrderCost {
            cost: usd("20.5"),
            max: usd("20")
        }]
    );
    // an ask that opens NO costs 1 − p
    let out = desk.manual("M", Side::Ask, "0.50", 41);
    assert_eq!(
        refusals(&out),
        vec![Refusal::OrderCost {
            cost: usd("20.5"),
            max: usd("20")
        }]
    );
}

#[test]
fn position_cap_counts_position_resting_and_in_flight() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    desk.fill("T1", "ext-1", "M", Side::Bid, "0.45", 60);
    let out = desk.manual("M", Side::Bid, "0.45", 20);
    let resting = placed_ids(&out)[0].clone();
    desk.ack(&resting);
    desk.manual("M", Side::Bid, "0.45", 15); // in flight, not acked
    let out = desk.manual("M", Side::Bid, "0.45", 10);
    assert_eq!(
        refusals(&out),
        vec![Refusal::PositionCap {
            side: Side::Bid,
            projected: c(105),
            cap: c(100)
        }]
    );
    // Selling is fine: it reduces.
    assert_eq!(places(&desk.manual("M", Side::Ask, "0.45", 10)).len(), 1);
}

#[test]
fn event_worst_case_refuses_across_brackets() {
    let mut desk = Desk::new();
    for ticker in ["EV-A", "EV-B"] {
        desk.step(Input::Market(MarketInput::Info(MarketInfo {
            ticker: t(ticker),
            event_ticker: Some("EV".into()),
            price_ranges: vec![],
            close_ms: None,
            status: MarketStatus::Active,
            strike_rank: None,
        })));
        desk.book(ticker, "0.40", "0.50");
    }
    desk.step(Input::Exchange(ExchangeInput::EventStructure {
        event_ticker: "EV".into(),
        structure: EventStructure::MutuallyExclusive { exhaustive: true },
    }));
    desk.fill("T1", "ext-1", "EV-A", Side::Bid, "0.45", 40); // cost 18
    let mut limits = test_limits();
    limits.max_event_loss = usd("30");
    desk.cmd(Command::SetLimits { limits });
    // Buying more A adds to the outcome "B wins": 18 + 18 = 36 > 30.
    let out = desk.manual("EV-A", Side::Bid, "0.45", 40);
    assert_eq!(
        refusals(&out),
        vec![Refusal::EventLoss {
            event: "EV".into(),
            worst: usd("36"),
            max: usd("30")
        }]
    );
    // Buying B hedges that outcome: worst becomes 18 + 4.5 − 0 = at most 22.5 → allowed.
    let out = desk.manual("EV-B", Side::Bid, "0.45", 10);
    assert_eq!(places(&out).len(), 1, "{:?}", refusals(&out));
}

#[test]
fn gross_exposure_balance_open_orders_rate_daily_loss() {
    // gross exposure
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let mut limits = test_limits();
    limits.max_gross_exposure = usd("10");
    desk.cmd(Command::SetLimits { limits });
    let out = desk.manual("M", Side::Bid, "0.45", 30);
    assert_eq!(
        refusals(&out),
        vec![Refusal::GrossExposure {
            projected: usd("13.5"),
            max: usd("10")
        }]
    );
    // balance, less what is in flight
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    desk.step(Input::Private(PrivateInput::Balance {
        available: usd("12"),
        as_of_ms: None,
    }));
    desk.manual("M", Side::Bid, "0.45", 10); // 4.50 in flight
    let out = desk.manual("M", Side::Bid, "0.45", 20);
    assert_eq!(
        refusals(&out),
        vec![Refusal::Balance {
            cost: usd("9"),
            available: usd("7.5")
        }]
    );
    // open orders
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let mut limits = test_limits();
    limits.max_open_orders = 2;
    desk.cmd(Command::SetLimits { limits });
    desk.manual("M", Side::Bid, "0.45", 1);
    desk.manual("M", Side::Bid, "0.45", 1);
    let out = desk.manual("M", Side::Bid, "0.45", 1);
    assert_eq!(
        refusals(&out),
        vec![Refusal::OpenOrders { open: 2, max: 2 }]
    );
    // order rate: five in a second, the sixth waits for the window to move
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    for _ in 0..5 {
        assert_eq!(places(&desk.manual("M", Side::Bid, "0.45", 1)).len(), 1);
    }
    let out = desk.manual("M", Side::Bid, "0.45", 1);
    assert_eq!(
        refusals(&out),
        vec![Refusal::OrderRate {
            in_window: 5,
            window_ms: 1_000,
            max: 5
        }]
    );
    desk.wait(1_000);
    assert_eq!(places(&desk.manual("M", Side::Bid, "0.45", 1)).len(), 1);
    // daily loss: only reducing orders
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let mut limits = test_limits();
    limits.max_daily_loss = usd("1");
    desk.cmd(Command::SetLimits { limits });
    desk.fill("T1", "ext-1", "M", Side::Bid, "0.50", 20); // marked at the 0.45 mid: −1.00
    assert_eq!(desk.engine.daily_pnl(), usd("-1"));
    let out = desk.manual("M", Side::Bid, "0.45", 1);
    assert_eq!(
        refusals(&out),
        vec![Refusal::DailyLoss {
            pnl: usd("-1"),
            max_loss: usd("1")
        }]
    );
    assert_eq!(places(&desk.manual("M", Side::Ask, "0.45", 5)).len(), 1);
}

#[test]
fn reducing_market_sends_ioc_reduce_only_and_refuses_growth() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    desk.fill("T1", "ext-1", "M", Side::Bid, "0.45", 8);
    let out = desk.cmd(Command::Reducing { ticker: t("M") });
    assert_eq!(desk.state("M"), MarketState::Reducing);
    assert!(out.intents.is_empty());
    let out = desk.manual("M", Side::Bid, "0.45", 1);
    assert_eq!(
        refusals(&out),
        vec![Refusal::NotReducing {
            cause: ReduceOnlyCause::Reducing,
            side: Side::Bid,
            count: c(1),
            position: c(8),
            reducible: Count::ZERO,
        }]
    );
    let out = desk.manual("M", Side::Ask, "0.40", 8);
    let OrderIntent::Place {
        time_in_force,
        reduce_only,
        ..
    } = &out.intents[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        (*time_in_force, *reduce_only),
        (TimeInForce::ImmediateOrCancel, true)
    );
    let out = desk.manual("M", Side::Ask, "0.40", 1);
    assert!(
        matches!(refusals(&out)[..], [Refusal::NotReducing { .. }]),
        "8 already on the way"
    );
}

/// A strategy that wants ten bids every time it is asked.
#[derive(Debug)]
struct Runaway;

impl Strategy for Runaway {
    fn kind(&self) -> &'static str {
        "runaway"
    }

    fn desired(&mut self, _input: &StrategyInput<'_>) -> Vec<DesiredOrder> {
        (0..10)
            .map(|i| DesiredOrder {
                side: Side::Bid,
                price: Price::from_cents(36 + i).unwrap(),
                count: c(1),
                time_in_force: TimeInForce::GoodTillCanceled,
                post_only: true,
                reduce_only: false,
                expiration_s: None,
                cancel_on_pause: true,
            })
            .collect()
    }
}

#[test]
fn runaway_strategy_is_halted_by_the_order_rate_rule() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let mut limits = test_limits();
    limits.max_orders_per_window = 50;
    desk.cmd(Command::SetLimits { limits });
    desk.engine.install_strategy(t("M"), Box::new(Runaway));
    let out = desk.cmd(Command::Arm { ticker: t("M") });
    assert_eq!(places(&out).len(), 10);
    assert!(
        !desk.engine.is_halted(),
        "one evaluation in breach is not enough"
    );
    let out = desk.step(Input::Tick);
    assert!(desk.engine.is_halted());
    let TradingState::Halted { reason, .. } = desk.engine.control().trading() else {
        panic!()
    };
    assert!(
        reason.starts_with("order rate: 10 attempts in 1000 ms, runaway limit 8"),
        "{reason}"
    );
    assert!(!has_non_cancel_intent(&out) || out.intents.iter().all(|i| i.is_cancel()));
    assert_eq!(out.intents[0], OrderIntent::CancelAll);
    assert_eq!(out.intents[1], OrderIntent::TriggerOrderGroups);
    assert_eq!(cancel_ids(&out).len(), 10);
    assert_eq!(desk.state("M"), MarketState::Disarmed);
    // Nothing but cancels leaves afterwards, whatever arrives.
    let ids: Vec<ClientOrderId> = cancel_ids(&out);
    for id in &ids {
        let order_id = OrderId::new(&format!("o-{id}"));
        let out = desk.step(Input::Gateway(GatewayResult::Placed {
            client_order_id: id.clone(),
            order_id: order_id.clone(),
            fill_count: Count::ZERO,
            remaining_count: c(1),
        }));
        // The kill's cancel went out before the exchange id was known: it is repeated with it.
        assert_eq!(
            out.intents,
            vec![OrderIntent::Cancel {
                order_id: Some(order_id),
                client_order_id: id.clone(),
                ticker: t("M"),
            }]
        );
    }
    for _ in 0..5 {
        let out = desk.wait(300);
        assert!(!has_non_cancel_intent(&out), "{:?}", out.intents);
    }
    let out = desk.cmd(Command::Arm { ticker: t("M") });
    assert!(!has_non_cancel_intent(&out));
    assert_eq!(command_refusals(&out).len(), 1);
    let out = desk.manual("M", Side::Bid, "0.45", 1);
    assert!(out.intents.is_empty());
    assert!(command_refusals(&out)[0].contains("HALTED"));
}

#[test]
fn kill_disarms_cancels_and_halts_in_one_step() {
    let (mut desk, maker_ids) = armed_maker_desk();
    let out = desk.manual("M", Side::Bid, "0.41", 1);
    let manual = placed_ids(&out)[0].clone();
    desk.ack(&manual);
    let kill = desk.cmd(Command::Kill {
        reason: "ctrl-k".into(),
    });
    let out = kill.clone();
    assert!(desk.engine.is_halted());
    assert_eq!(out.halted.as_deref(), Some("kill switch: ctrl-k"));
    assert_eq!(desk.state("M"), MarketState::Disarmed);
    assert_eq!(out.intents[0], OrderIntent::CancelAll);
    assert_eq!(out.intents[1], OrderIntent::TriggerOrderGroups);
    let mut cancelled = cancel_ids(&out);
    cancelled.sort();
    let mut expected = maker_ids.clone();
    expected.push(manual.clone());
    expected.sort();
    assert_eq!(
        cancelled, expected,
        "every known resting order is cancelled"
    );
    assert!(
        out.audits
            .iter()
            .any(|a| matches!(&a.event, AuditKind::Killed { cancels: 3, .. }))
    );
    assert!(out.audits.iter().any(|a| matches!(
        &a.event,
        AuditKind::TradingChanged {
            state: TradingState::Halted { .. }
        }
    )));
    assert_eq!(out.alarms[0].level, AlarmLevel::Critical);
    // The sweep: an order the cancel missed is cancelled again on a tick.
    desk.step(Input::Gateway(GatewayResult::Rejected {
        client_order_id: manual.clone(),
        write: WriteKind::Cancel,
        http_status: Some(503),
        code: "service_unavailable".into(),
        details: String::new(),
    }));
    let out = desk.step(Input::Tick);
    assert_eq!(cancel_ids(&out), vec![manual.clone()]);
    desk.cancel_ack_all(&kill);
    assert_eq!(desk.engine.orders().open_orders().count(), 0);
    // Reset needs a confirmation token.
    let out = desk.cmd(Command::ResetHalt { token: 42 });
    assert_eq!(
        command_refusals(&out),
        vec!["ResetHalt: no confirmation was requested".to_string()]
    );
    let out = desk.cmd(Command::RequestConfirmation {
        action: ConfirmAction::ResetHalt,
    });
    let token = out
        .audits
        .iter()
        .find_map(|a| match a.event {
            AuditKind::ConfirmationIssued { token, .. } => Some(token),
            _ => None,
        })
        .unwrap();
    let out = desk.cmd(Command::ResetHalt { token: token ^ 1 });
    assert_eq!(command_refusals(&out).len(), 1);
    assert!(desk.engine.is_halted());
    desk.cmd(Command::ResetHalt { token });
    assert!(!desk.engine.is_halted());
    assert!(
        desk.cmd(Command::ResetHalt { token })
            .audits
            .iter()
            .any(|a| matches!(a.event, AuditKind::CommandRefused { .. }))
    );
    // No arming within a minute of the cancel-all.
    desk.book("M", "0.40", "0.50");
    let out = desk.cmd(Command::Arm { ticker: t("M") });
    assert!(command_refusals(&out)[0].starts_with("cannot arm within 60 s of a cancel-all"));
    desk.wait(60_000);
    desk.book("M", "0.40", "0.50");
    let out = desk.cmd(Command::Arm { ticker: t("M") });
    assert_eq!(desk.state("M"), MarketState::Armed);
    assert_eq!(places(&out).len(), 2);
}

#[test]
fn flatten_all_needs_confirmation_and_sends_permitted_ioc() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    desk.book("N", "0.60", "0.70");
    desk.fill("T1", "ext-1", "M", Side::Bid, "0.45", 8);
    desk.fill("T2", "ext-2", "N", Side::Ask, "0.65", 5);
    desk.cmd(Command::Kill {
        reason: "test".into(),
    });
    let out = desk.cmd(Command::FlattenAll { token: 7 });
    assert!(out.intents.is_empty());
    let out = desk.cmd(Command::RequestConfirmation {
        action: ConfirmAction::FlattenAll,
    });
    let token = out
        .audits
        .iter()
        .find_map(|a| match a.event {
            AuditKind::ConfirmationIssued { token, .. } => Some(token),
            _ => None,
        })
        .unwrap();
    let out = desk.cmd(Command::FlattenAll { token });
    let sent: Vec<_> = out
        .intents
        .iter()
        .filter_map(|i| match i {
            OrderIntent::Place {
                ticker,
                side,
                price,
                count,
                time_in_force,
                reduce_only,
                flatten_permit,
                ..
            } => Some((
                ticker.clone(),
                *side,
                *price,
                *count,
                *time_in_force,
                *reduce_only,
                *flatten_permit,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        vec![
            (
                t("M"),
                Side::Ask,
                p("0.40"),
                c(8),
                TimeInForce::ImmediateOrCancel,
                true,
                true
            ),
            (
                t("N"),
                Side::Bid,
                p("0.70"),
                c(5),
                TimeInForce::ImmediateOrCancel,
                true,
                true
            ),
        ]
    );
}

#[test]
fn paused_reasons_set_and_cleared_in_every_order() {
    #[derive(Debug, Clone, Copy)]
    enum Cause {
        Operator,
        Exchange,
        Market,
        Closing,
    }
    let causes = [
        Cause::Operator,
        Cause::Exchange,
        Cause::Market,
        Cause::Closing,
    ];
    let reason_of = |cause: Cause| match cause {
        Cause::Operator => PauseReason::Operator,
        Cause::Exchange => PauseReason::ExchangePause,
        Cause::Market => PauseReason::MarketPause,
        Cause::Closing => PauseReason::ClosingSoon,
    };
    let set = |desk: &mut Desk, cause: Cause, on: bool| -> Outputs {
        match (cause, on) {
            (Cause::Operator, true) => desk.cmd(Command::Pause { ticker: t("M") }),
            (Cause::Operator, false) => desk.cmd(Command::Resume { ticker: t("M") }),
            (Cause::Exchange, on) => desk.step(Input::Exchange(ExchangeInput::TradingActive {
                active: !on,
            })),
            (Cause::Market, paused) => desk.step(Input::Exchange(ExchangeInput::MarketPaused {
                ticker: t("M"),
                paused,
            })),
            (Cause::Closing, on) => {
                let close_ms = desk.now.exchange_ms() + if on { 30_000 } else { 86_400_000 };
                desk.step(Input::Exchange(ExchangeInput::CloseTime {
                    ticker: t("M"),
                    close_ms,
                }))
            }
        }
    };
    let permutations = permutations(&[0, 1, 2, 3]);
    assert_eq!(permutations.len(), 24);
    for set_order in [vec![0, 1, 2, 3], vec![3, 2, 1, 0]] {
        for clear_order in &permutations {
            let (mut desk, quotes) = armed_maker_desk();
            let mut active = BTreeSet::new();
            for (i, &index) in set_order.iter().enumerate() {
                let out = set(&mut desk, causes[index], true);
                active.insert(reason_of(causes[index]));
                assert_eq!(desk.state("M"), MarketState::Paused(active.clone()));
                assert!(places(&out).is_empty());
                if i == 0 {
                    // The first reason pulls the strategy's quotes.
                    let mut cancelled = cancel_ids(&out);
                    cancelled.sort();
                    let mut expected = quotes.clone();
                    expected.sort();
                    assert_eq!(cancelled, expected);
                    desk.cancel_ack_all(&out);
                } else {
                    assert!(out.intents.is_empty());
                }
            }
            for (i, &index) in clear_order.iter().enumerate() {
                let out = set(&mut desk, causes[index], false);
                active.remove(&reason_of(causes[index]));
                if i + 1 < clear_order.len() {
                    assert_eq!(
                        desk.state("M"),
                        MarketState::Paused(active.clone()),
                        "clear order {clear_order:?} step {i}"
                    );
                    assert!(out.intents.is_empty(), "{:?}", out.intents);
                } else {
                    assert_eq!(desk.state("M"), MarketState::Armed);
                    assert_eq!(
                        places(&out).len(),
                        2,
                        "quotes return only when every reason is gone"
                    );
                }
            }
        }
    }
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (i, &first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            all.push(tail);
        }
    }
    all
}

#[test]
fn strategy_never_cancels_or_amends_a_manual_order() {
    let (mut desk, _) = armed_maker_desk();
    let out = desk.manual("M", Side::Bid, "0.44", 3);
    let manual = placed_ids(&out)[0].clone();
    desk.ack(&manual);
    let mut all = Vec::new();
    // Book moves: the maker amends its own quotes.
    all.push(desk.book("M", "0.30", "0.40"));
    for out in all.clone() {
        for intent in &out.intents {
            if let OrderIntent::Amend {
                client_order_id, ..
            } = intent
            {
                desk.step(Input::Gateway(GatewayResult::Amended {
                    client_order_id: client_order_id.clone(),
                    order_id: OrderId::new("x"),
                    price: p("0.33"),
                    fill_count: Count::ZERO,
                    remaining_count: c(10),
                }));
            }
        }
    }
    all.push(desk.cmd(Command::Pause { ticker: t("M") }));
    all.push(desk.cmd(Command::Resume { ticker: t("M") }));
    all.push(desk.cmd(Command::OverrideManual { ticker: t("M") }));
    all.push(desk.cmd(Command::ReleaseManual { ticker: t("M") }));
    assert_eq!(
        desk.state("M"),
        MarketState::Paused([PauseReason::Operator].into())
    );
    all.push(desk.cmd(Command::Disarm { ticker: t("M") }));
    for _ in 0..3 {
        all.push(desk.wait(200));
    }
    let strategy_cancels = all.iter().flat_map(cancel_ids).count();
    assert!(strategy_cancels >= 2, "the maker did cancel its own quotes");
    for out in &all {
        for intent in &out.intents {
            match intent {
                OrderIntent::Cancel {
                    client_order_id, ..
                }
                | OrderIntent::Amend {
                    client_order_id, ..
                } => {
                    assert_ne!(
                        client_order_id, &manual,
                        "strategy touched the manual order"
                    )
                }
                _ => {}
            }
        }
    }
    assert_eq!(
        desk.engine.orders().get(manual.as_str()).unwrap().state,
        OrderState::Resting
    );
}

#[test]
fn hold_keeps_quotes_then_pauses_then_recovers() {
    let (mut desk, quotes) = armed_maker_desk();
    let out = desk.step(Input::Market(MarketInput::ResyncNeeded {
        tickers: vec![t("M")],
    }));
    assert_eq!(desk.state("M"), MarketState::Hold);
    assert!(
        out.intents.is_empty(),
        "HOLD keeps resting quotes and sends nothing"
    );
    // A manual order has no reference while the book resyncs.
    let out = desk.manual("M", Side::Bid, "0.44", 1);
    assert_eq!(refusals(&out), vec![Refusal::NoReference]);
    let out = desk.wait(480);
    assert_eq!(desk.state("M"), MarketState::Hold);
    assert!(out.intents.is_empty());
    let out = desk.wait(100);
    assert_eq!(
        desk.state("M"),
        MarketState::Paused([PauseReason::Resync].into())
    );
    let mut cancelled = cancel_ids(&out);
    cancelled.sort();
    let mut expected = quotes.clone();
    expected.sort();
    assert_eq!(cancelled, expected);
    desk.cancel_ack_all(&out);
    let out = desk.book("M", "0.40", "0.50");
    assert_eq!(desk.state("M"), MarketState::Armed);
    assert_eq!(places(&out).len(), 2);
}

#[test]
fn business_reject_streak_halts_but_429s_do_not_count() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let reject = |desk: &mut Desk, status: u16, code: &str| {
        desk.wait(300);
        let out = desk.manual("M", Side::Bid, "0.45", 1);
        let id = placed_ids(&out)[0].clone();
        desk.step(Input::Gateway(GatewayResult::Rejected {
            client_order_id: id,
            write: WriteKind::Place,
            http_status: Some(status),
            code: code.into(),
            details: String::new(),
        }))
    };
    for _ in 0..5 {
        reject(&mut desk, 429, "too many requests");
    }
    assert_eq!(desk.engine.business_reject_streak(), 0);
    reject(&mut desk, 400, "invalid_order");
    reject(&mut desk, 400, "invalid_order");
    assert!(!desk.engine.is_halted());
    reject(&mut desk, 400, "available_balance_too_low");
    assert_eq!(desk.engine.business_reject_streak(), 3);
    assert!(!desk.engine.is_halted(), "must persist for two evaluations");
    desk.step(Input::Tick);
    assert!(desk.engine.is_halted());
}

#[test]
fn cancels_that_find_the_order_gone_are_not_business_rejects() {
    // After a kill the batch cancel races the cancel-all: every order it finds already
    // cancelled answers `not_found`, which must neither alarm nor feed the reject streak.
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    for _ in 0..5 {
        desk.wait(300);
        let out = desk.manual("M", Side::Bid, "0.45", 1);
        let id = placed_ids(&out)[0].clone();
        let out = desk.step(Input::Gateway(GatewayResult::Rejected {
            client_order_id: id,
            write: WriteKind::Cancel,
            http_status: Some(200),
            code: "not_found".into(),
            details: "order is canceled and cannot be cancelled".into(),
        }));
        assert!(out.audits.iter().any(|audit| matches!(
            &audit.event,
            AuditKind::OrderRejected {
                business: false,
                ..
            }
        )));
    }
    assert_eq!(desk.engine.business_reject_streak(), 0);
    desk.step(Input::Tick);
    assert!(!desk.engine.is_halted());
}

#[test]
fn position_beyond_cap_halts_after_persistence() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    desk.fill("T1", "ext-1", "M", Side::Ask, "0.45", 101);
    assert!(!desk.engine.is_halted());
    desk.step(Input::Tick);
    let TradingState::Halted { reason, .. } = desk.engine.control().trading() else {
        panic!("not halted")
    };
    assert!(
        reason.starts_with("position cap: M position -101.00 beyond ±100.00"),
        "{reason}"
    );
}

#[test]
fn daily_loss_halts_after_persistence() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let mut limits = test_limits();
    limits.max_daily_loss = usd("1");
    desk.cmd(Command::SetLimits { limits });
    desk.fill("T1", "ext-1", "M", Side::Bid, "0.50", 40); // −2.00 at the mid
    desk.step(Input::Tick);
    assert!(desk.engine.is_halted());
}

#[test]
fn arming_rules_through_the_engine() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let out = desk.cmd(Command::Arm { ticker: t("M") });
    assert_eq!(
        command_refusals(&out),
        vec!["M: no strategy is configured".to_string()]
    );
    desk.cmd(Command::SetStrategy {
        ticker: t("M"),
        params: maker_params(),
    });
    desk.step(Input::ClockOffset { offset_ms: 1_500 });
    let out = desk.cmd(Command::Arm { ticker: t("M") });
    assert_eq!(
        command_refusals(&out),
        vec!["cannot arm while the exchange clock offset is 1500 ms (limit 1000 ms)".to_string()]
    );
    desk.step(Input::ClockOffset { offset_ms: 20 });
    desk.cmd(Command::Arm { ticker: t("M") });
    assert_eq!(desk.state("M"), MarketState::Armed);
    // An offset going bad while armed pauses the market.
    desk.step(Input::ClockOffset { offset_ms: -2_000 });
    assert_eq!(
        desk.state("M"),
        MarketState::Paused([PauseReason::ClockOffset].into())
    );
    // Bad parameters are refused with the field named.
    let mut bad = maker_params();
    if let StrategyParams::Maker(m) = &mut bad {
        m.size = Count::ZERO;
    }
    let out = desk.cmd(Command::SetStrategy {
        ticker: t("M"),
        params: bad,
    });
    assert_eq!(
        command_refusals(&out),
        vec!["size: must be positive (got 0.00)".to_string()]
    );
}

#[test]
fn external_fair_value_staleness_pauses_the_strategy() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let mut params = maker_params();
    if let StrategyParams::Maker(m) = &mut params {
        m.fair_source = FairSource::External;
    }
    desk.cmd(Command::SetStrategy {
        ticker: t("M"),
        params,
    });
    desk.cmd(Command::Arm { ticker: t("M") });
    assert_eq!(
        desk.state("M"),
        MarketState::Paused([PauseReason::FairValueStale].into())
    );
    let fair = crate::core::strategy::fair_value::parse_line(&format!(
        r#"{{"ticker":"M","fair":"0.4600","ts_ms":{}}}"#,
        desk.now.wall_ms
    ))
    .unwrap();
    let out = desk.step(Input::FairValue(fair));
    assert_eq!(desk.state("M"), MarketState::Armed);
    assert_eq!(
        places(&out),
        vec![(Side::Bid, p("0.44"), c(10)), (Side::Ask, p("0.48"), c(10))]
    );
    desk.ack_all(&out);
    let out = desk.wait(2_100);
    assert_eq!(
        desk.state("M"),
        MarketState::Paused([PauseReason::FairValueStale].into())
    );
    assert_eq!(cancel_ids(&out).len(), 2);
}

#[test]
fn position_drift_pauses_until_the_exchange_agrees() {
    let (mut desk, _) = armed_maker_desk();
    desk.fill("T1", "ext-1", "M", Side::Bid, "0.45", 2);
    let out = desk.step(Input::Private(PrivateInput::MarketPosition {
        ticker: t("M"),
        position: c(3),
        cost: None,
    }));
    assert_eq!(
        desk.state("M"),
        MarketState::Paused([PauseReason::PositionDrift].into())
    );
    assert!(
        out.audits
            .iter()
            .any(|a| matches!(a.event, AuditKind::PositionDrift { .. }))
    );
    desk.fill("T2", "ext-1", "M", Side::Bid, "0.45", 1);
    desk.step(Input::Private(PrivateInput::MarketPosition {
        ticker: t("M"),
        position: c(3),
        cost: None,
    }));
    assert_eq!(desk.state("M"), MarketState::Armed);
}

#[test]
fn repeated_position_drift_halts() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    desk.fill("T1", "ext-1", "M", Side::Bid, "0.45", 2);
    let report = |n: i64| {
        Input::Private(PrivateInput::MarketPosition {
            ticker: t("M"),
            position: c(n),
            cost: None,
        })
    };
    desk.step(report(3));
    assert!(!desk.engine.is_halted());
    desk.step(report(2));
    assert_eq!(desk.state("M"), MarketState::Disarmed);
    assert!(
        !desk
            .engine
            .control()
            .market(&t("M"))
            .reasons
            .contains(&PauseReason::PositionDrift)
    );
    let out = desk.step(report(4));
    assert!(desk.engine.is_halted());
    assert_eq!(
        out.halted.as_deref(),
        Some("position drift: 2 drifts this session (limit 2), last on M")
    );
}

#[test]
fn trigger_takes_through_the_gate() {
    let mut desk = Desk::new();
    desk.book("M", "0.30", "0.40");
    let params = StrategyParams::Trigger(crate::core::strategy::TriggerParams {
        field: crate::core::strategy::PriceField::YesAsk,
        comparison: crate::core::strategy::Comparison::AtOrBelow,
        threshold: p("0.35"),
        take: crate::core::strategy::trigger::Outcome::Yes,
        max_count: c(5),
        limit_price: None,
        take_profit: None,
        stop_loss: None,
        repeat: false,
        stale_book_ms: 5_000,
    });
    desk.cmd(Command::SetStrategy {
        ticker: t("M"),
        params,
    });
    let out = desk.cmd(Command::Arm { ticker: t("M") });
    assert!(out.intents.is_empty());
    let out = desk.book("M", "0.30", "0.35");
    assert_eq!(places(&out), vec![(Side::Bid, p("0.35"), c(5))]);
    let OrderIntent::Place { time_in_force, .. } = &out.intents[0] else {
        panic!()
    };
    assert_eq!(*time_in_force, TimeInForce::ImmediateOrCancel);
    // No second IOC while the first is in flight.
    let out = desk.book("M", "0.30", "0.34");
    assert!(out.intents.is_empty());
}

#[test]
fn determined_market_disarms() {
    let (mut desk, quotes) = armed_maker_desk();
    let out = desk.step(Input::Exchange(ExchangeInput::MarketStatus {
        ticker: t("M"),
        status: MarketStatus::Determined,
    }));
    assert_eq!(desk.state("M"), MarketState::Disarmed);
    assert_eq!(cancel_ids(&out).len(), quotes.len());
}

#[test]
fn settlement_pays_out_and_disarms() {
    let (mut desk, _) = armed_maker_desk();
    desk.fill("T1", "ext-1", "M", Side::Bid, "0.45", 10);
    let out = desk.step(Input::Exchange(ExchangeInput::Settled {
        ticker: t("M"),
        result: crate::core::portfolio::MarketResult::Yes,
        fee: Money::ZERO,
        ts_ms: desk.now.wall_ms,
    }));
    assert_eq!(desk.state("M"), MarketState::Disarmed);
    assert!(out.audits.iter().any(|a| matches!(
        &a.event,
        AuditKind::Settled { payout, realized, .. } if *payout == usd("10") && *realized == usd("5.5")
    )));
    assert_eq!(desk.engine.portfolio().contracts("M"), Count::ZERO);
}

#[test]
fn order_group_trigger_halts() {
    let (mut desk, _) = armed_maker_desk();
    let out = desk.step(Input::Exchange(ExchangeInput::OrderGroupTriggered {
        order_group_id: "grp-1".into(),
    }));
    assert!(desk.engine.is_halted());
    assert_eq!(cancel_ids(&out).len(), 2);
}

#[test]
fn inputs_round_trip_as_json() {
    let inputs = vec![
        Input::Tick,
        Input::Command(Command::Kill { reason: "x".into() }),
        Input::Command(Command::SetStrategy {
            ticker: t("M"),
            params: maker_params(),
        }),
        Input::Market(MarketInput::Delta {
            ticker: t("M"),
            side: crate::core::book::BookSide::No,
            price: p("0.5"),
            delta: c(-3),
            convention: PriceConvention::YesPrices,
            ts_ms: Some(5),
        }),
    ];
    let inputs = inputs.into_iter().chain([
        Input::FairValue(
            crate::core::strategy::fair_value::parse_line(
                r#"{"ticker":"M","fair":"0.62","ts_ms":5}"#,
            )
            .unwrap(),
        ),
        Input::Command(Command::PlaceManual(ManualOrder {
            ticker: t("M"),
            side: Side::Ask,
            price: p("0.55"),
            count: c(3),
            time_in_force: TimeInForce::ImmediateOrCancel,
            post_only: false,
            reduce_only: true,
            expiration_s: None,
        })),
        Input::Gateway(GatewayResult::Rejected {
            client_order_id: ClientOrderId::new("op-00000001-1"),
            write: WriteKind::Place,
            http_status: Some(400),
            code: "invalid_order".into(),
            details: "post only cross".into(),
        }),
        Input::Private(PrivateInput::MarketPosition {
            ticker: t("M"),
            position: c(-4),
            cost: None,
        }),
        Input::Exchange(ExchangeInput::EventStructure {
            event_ticker: "EV".into(),
            structure: EventStructure::StrikeLadder { above: true },
        }),
    ]);
    for input in inputs {
        let json = serde_json::to_string(&input).unwrap();
        assert_eq!(
            serde_json::from_str::<Input>(&json).unwrap(),
            input,
            "{json}"
        );
    }
}

#[test]
fn maker_shrinks_a_quote_in_place_with_a_decrease() {
    let (mut desk, quotes) = armed_maker_desk();
    let bid_order_id = desk
        .engine
        .orders()
        .get(quotes[0].as_str())
        .unwrap()
        .order_id
        .clone();
    // A fill elsewhere takes inventory to 45 of 50: the bid may only be 5 now, same price.
    let out = desk.fill("T1", "ext-1", "M", Side::Bid, "0.45", 45);
    assert_eq!(
        out.intents,
        vec![OrderIntent::Decrease {
            order_id: bid_order_id.unwrap(),
            client_order_id: quotes[0].clone(),
            ticker: t("M"),
            reduce_to: c(5),
        }]
    );
    // Not sent twice while in flight.
    assert!(desk.step(Input::Tick).intents.is_empty());
    desk.step(Input::Gateway(GatewayResult::Decreased {
        client_order_id: quotes[0].clone(),
        remaining_count: c(5),
    }));
    assert_eq!(
        desk.engine
            .orders()
            .get(quotes[0].as_str())
            .unwrap()
            .remaining_count,
        c(5)
    );
    assert!(desk.step(Input::Tick).intents.is_empty());
}

#[test]
fn inconsistent_book_asks_for_a_snapshot_and_holds() {
    let (mut desk, _) = armed_maker_desk();
    let out = desk.step(Input::Market(MarketInput::Delta {
        ticker: t("M"),
        side: crate::core::book::BookSide::Yes,
        price: p("0.40"),
        delta: c(-150),
        convention: PriceConvention::NoPrices,
        ts_ms: None,
    }));
    assert_eq!(out.resync_requests, vec![t("M")]);
    assert_eq!(desk.state("M"), MarketState::Hold);
    assert!(out.intents.is_empty());
    let out = desk.book("M", "0.40", "0.50");
    assert!(out.resync_requests.is_empty());
    assert_eq!(desk.state("M"), MarketState::Armed);
}

mod properties {
    use super::*;
    use proptest::prelude::{Just, ProptestConfig, any, prop_assert, prop_oneof, proptest};
    use proptest::strategy::Strategy as _;

    #[derive(Debug, Clone)]
    enum Op {
        Book(i64, i64),
        AckPending(bool),
        CancelAck,
        FillResting(i64),
        Tick(u64),
        Command(u8),
        Manual(bool, i64, i64),
        LoseAnswer,
        Resolve(bool),
        ExchangePause(bool),
        Kill,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        prop_oneof![
            (30i64..60, 1i64..8).prop_map(|(bid, spread)| Op::Book(bid, spread)),
            any::<bool>().prop_map(Op::AckPending),
            Just(Op::CancelAck),
            (1i64..20).prop_map(Op::FillResting),
            (1u64..3_000).prop_map(Op::Tick),
            (0u8..6).prop_map(Op::Command),
            (any::<bool>(), 30i64..60, 1i64..20).prop_map(|(b, p, n)| Op::Manual(b, p, n)),
            Just(Op::LoseAnswer),
            any::<bool>().prop_map(Op::Resolve),
            any::<bool>().prop_map(Op::ExchangePause),
            Just(Op::Kill),
        ]
    }

    fn first_order(desk: &Desk, state: OrderState) -> Option<Order> {
        let mut orders: Vec<&Order> = desk
            .engine
            .orders()
            .iter()
            .filter(|o| o.state == state)
            .collect();
        orders.sort_by(|a, b| a.client_order_id.cmp(&b.client_order_id));
        orders.first().map(|o| (*o).clone())
    }

    fn apply(desk: &mut Desk, op: Op) -> Outputs {
        match op {
            Op::Book(bid, spread) => {
                let bid = Price::from_cents(bid).unwrap().to_dollars();
                let ask = Price::from_cents(bid_cents(&bid) + spread)
                    .unwrap()
                    .to_dollars();
                desk.book("M", &bid, &ask)
            }
            Op::AckPending(fill_all) => match first_order(desk, OrderState::PendingCreate) {
                Some(order) => {
                    let (fill, remaining) = if fill_all {
                        (order.remaining_count, Count::ZERO)
                    } else {
                        (Count::ZERO, order.remaining_count)
                    };
                    desk.step(Input::Gateway(GatewayResult::Placed {
                        client_order_id: order.client_order_id.clone(),
                        order_id: OrderId::new(&format!("o-{}", order.client_order_id)),
                        fill_count: fill,
                        remaining_count: remaining,
                    }))
                }
                None => desk.step(Input::Tick),
            },
            Op::CancelAck => {
                let order = desk
                    .engine
                    .orders()
                    .open_orders()
                    .filter(|o| o.cancel_requested && o.order_id.is_some())
                    .min_by(|a, b| a.client_order_id.cmp(&b.client_order_id))
                    .cloned();
                match order {
                    Some(order) => desk.step(Input::Gateway(GatewayResult::Canceled {
                        client_order_id: order.client_order_id.clone(),
                        reduced_by: order.remaining_count,
                    })),
                    None => desk.step(Input::Tick),
                }
            }
            Op::FillResting(n) => match first_order(desk, OrderState::Resting) {
                Some(order) => {
                    let count = c(n).min(order.remaining_count);
                    let trade = format!("tr-{}", desk.now.mono_ns);
                    desk.step(Input::Private(PrivateInput::Fill {
                        fill: Fill {
                            trade_id: TradeId::new(&trade),
                            order_id: order.order_id.clone().unwrap(),
                            client_order_id: Some(order.client_order_id.clone()),
                            ticker: order.ticker.clone(),
                            side: order.side,
                            yes_price: order.yes_price,
                            count,
                            is_taker: false,
                            fee_cost: Money::ZERO,
                            ts_ms: desk.now.wall_ms,
                        },
                        post_position: None,
                    }))
                }
                None => desk.step(Input::Tick),
            },
            Op::Tick(ms) => desk.wait(ms),
            Op::Command(which) => {
                let ticker = t("M");
                desk.cmd(match which {
                    0 => Command::Arm { ticker },
                    1 => Command::Pause { ticker },
                    2 => Command::Resume { ticker },
                    3 => Command::Disarm { ticker },
                    4 => Command::OverrideManual { ticker },
                    _ => Command::ReleaseManual { ticker },
                })
            }
            Op::Manual(bid, cents, n) => {
                let side = if bid { Side::Bid } else { Side::Ask };
                desk.manual(
                    "M",
                    side,
                    &Price::from_cents(cents).unwrap().to_dollars(),
                    n,
                )
            }
            Op::LoseAnswer => match first_order(desk, OrderState::PendingCreate) {
                Some(order) => desk.step(Input::Gateway(GatewayResult::Lost {
                    client_order_id: order.client_order_id.clone(),
                    write: WriteKind::Place,
                })),
                None => desk.step(Input::Tick),
            },
            Op::Resolve(found) => match first_order(desk, OrderState::Unknown) {
                Some(order) => desk.step(Input::Gateway(GatewayResult::Resolved {
                    client_order_id: order.client_order_id.clone(),
                    found: found.then(|| OrderReport {
                        order_id: OrderId::new(&format!("o-{}", order.client_order_id)),
                        client_order_id: Some(order.client_order_id.clone()),
                        ticker: order.ticker.clone(),
                        side: order.side,
                        yes_price: order.yes_price,
                        status: ExchangeStatus::Resting,
                        fill_count: Count::ZERO,
                        remaining_count: order.remaining_count,
                        initial_count: None,
                        updated_ts_ms: None,
                    }),
                })),
                None => desk.step(Input::Tick),
            },
            Op::ExchangePause(paused) => desk.step(Input::Exchange(ExchangeInput::TradingActive {
                active: !paused,
            })),
            Op::Kill => desk.cmd(Command::Kill {
                reason: "prop".into(),
            }),
        }
    }

    fn bid_cents(dollars: &str) -> i64 {
        Price::parse(dollars).unwrap().micros() / 10_000
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Over any sequence of inputs: once halted, only cancels leave; a strategy never
        /// touches an order it does not own; every order that leaves is on the grid, within the
        /// collar and the size limit; the audit stream stays gap-free (checked in `step`).
        #[test]
        fn engine_invariants(ops in proptest::collection::vec(op(), 1..80)) {
            let mut desk = Desk::new();
            desk.book("M", "0.40", "0.50");
            desk.cmd(Command::SetStrategy { ticker: t("M"), params: maker_params() });
            desk.cmd(Command::Arm { ticker: t("M") });
            for op in ops {
                let was_halted = desk.engine.is_halted();
                let out = apply(&mut desk, op);
                if was_halted {
                    prop_assert!(out.intents.iter().all(|i| i.is_cancel()), "{:?}", out.intents);
                }
                for audit in &out.audits {
                    if let AuditKind::IntentEmitted { origin: Origin::Strategy, intent } = &audit.event {
                        match intent {
                            OrderIntent::Cancel { client_order_id, .. }
                            | OrderIntent::Amend { client_order_id, .. }
                            | OrderIntent::Decrease { client_order_id, .. } => {
                                prop_assert!(client_order_id.as_str().starts_with("m-maker-"));
                            }
                            OrderIntent::Place { client_order_id, .. } => {
                                prop_assert!(client_order_id.as_str().starts_with("m-maker-"));
                            }
                            _ => {}
                        }
                    }
                    if let AuditKind::IntentEmitted { intent: OrderIntent::Place { price, count, .. }, .. } = &audit.event {
                        prop_assert!(PriceGrid::linear_cent().is_tradeable(*price));
                        prop_assert!(*count <= c(50));
                    }
                }
            }
        }
    }
}

#[test]
fn a_full_rate_window_throttles_strategies_without_refusal_spam() {
    let mut desk = Desk::new();
    desk.book("M", "0.40", "0.50");
    let mut limits = test_limits();
    limits.max_orders_per_window = 2;
    desk.cmd(Command::SetLimits { limits });
    desk.manual("M", Side::Bid, "0.41", 1);
    desk.manual("M", Side::Bid, "0.41", 1);
    desk.cmd(Command::SetStrategy {
        ticker: t("M"),
        params: maker_params(),
    });
    let out = desk.cmd(Command::Arm { ticker: t("M") });
    assert_eq!(desk.state("M"), MarketState::Armed);
    assert!(out.intents.is_empty());
    assert!(refusals(&out).is_empty());
    for _ in 0..20 {
        let out = desk.book("M", "0.40", "0.50");
        assert!(out.intents.is_empty() && refusals(&out).is_empty());
    }
    assert!(!desk.engine.is_halted());
    let out = desk.wait(1_000);
    assert_eq!(places(&out).len(), 2);
}

#[test]
fn engine_moves_to_its_own_task() {
    fn is_send<T: Send + 'static>() {}
    is_send::<Engine>();
    is_send::<Outputs>();
    is_send::<Input>();
}

/// A tick looks at every market only when some market's stale-book or closing-soon deadline is
/// due; these reasons must still turn on by time alone for a market nobody trades, and an input
/// that freshens its book must move its deadline.
#[test]
fn time_alone_marks_an_untraded_market_stale_and_closing() {
    let (mut desk, _) = armed_maker_desk();
    desk.book("W", "0.30", "0.35");
    desk.closes_in("W", 60_000 + 2_000);
    desk.wait(1_000);
    assert!(desk.reasons("W").is_empty(), "{:?}", desk.reasons("W"));
    desk.wait(1_000);
    assert_eq!(
        desk.reasons("W"),
        BTreeSet::from([PauseReason::ClosingSoon]),
        "closing soon turns on with no input for W"
    );
    // The book was last updated ~2 s ago; the limit is 5 s.
    desk.wait(2_500);
    assert!(!desk.reasons("W").contains(&PauseReason::StaleBook));
    desk.wait(1_000);
    assert!(desk.reasons("W").contains(&PauseReason::StaleBook));
    desk.book("W", "0.31", "0.35");
    assert!(!desk.reasons("W").contains(&PauseReason::StaleBook));
    desk.wait(4_000);
    assert!(!desk.reasons("W").contains(&PauseReason::StaleBook));
    desk.wait(1_500);
    assert!(
        desk.reasons("W").contains(&PauseReason::StaleBook),
        "the fresh snapshot moved W's deadline, and it came due again"
    );
    // The armed market's own book went stale on the same clock and pulled its quotes.
    assert!(
        matches!(desk.state("M"), MarketState::Paused(r) if r.contains(&PauseReason::StaleBook))
    );
}

fn long_lived_books_desk() -> Desk {
    Desk::with_config(EngineConfig {
        session_nonce: NONCE,
        limits: test_limits(),
        stale_book_ms: 600_000,
        hold_limit_ms: 500,
        closing_soon_ms: 60_000,
        order_group_id: Some("grp-1".into()),
        day_boundary: crate::core::portfolio::DayBoundary::default(),
        max_position_drifts: 2,
    })
}

/// A market touched only during a cancel-all cooldown that no tick saw still loses the
/// cooldown reason on the first tick after it ends.
#[test]
fn a_cooldown_no_tick_saw_still_ends_for_an_untouched_market() {
    let mut desk = long_lived_books_desk();
    desk.book("W", "0.30", "0.35");
    desk.wait(1_000);
    assert!(desk.reasons("W").is_empty());
    desk.cmd(Command::Kill {
        reason: "test".into(),
    });
    desk.book("W", "0.30", "0.36");
    assert!(desk.reasons("W").contains(&PauseReason::CancelAllCooldown));
    desk.wait(61_000);
    assert!(
        !desk.reasons("W").contains(&PauseReason::CancelAllCooldown),
        "{:?}",
        desk.reasons("W")
    );
}

/// Closing soon ends when the exchange clock steps back below the threshold (a stepped wall
/// clock), for a market no input touches.
#[test]
fn closing_soon_follows_the_clock_back_for_an_untouched_market() {
    let mut desk = long_lived_books_desk();
    desk.book("W", "0.30", "0.35");
    desk.closes_in("W", 60_000 + 500);
    desk.wait(1_000);
    assert!(desk.reasons("W").contains(&PauseReason::ClosingSoon));
    // The wall clock steps back 5 s; monotonic time goes on.
    desk.now = Now::new(desk.now.mono_ns, desk.now.wall_ms - 5_000, 0);
    desk.wait(100);
    assert!(
        !desk.reasons("W").contains(&PauseReason::ClosingSoon),
        "{:?}",
        desk.reasons("W")
    );
}
