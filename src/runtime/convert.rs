//! Wire messages (WS frames, REST bodies) turned into the engine's inputs. Pure functions, so
//! the mapping is tested without a socket.

use crate::core::book::{BookSide, PriceConvention};
use crate::core::engine::{
    ExchangeInput, Input, MarketInfo, MarketInput, OrderIntent, PrivateInput,
};
use crate::core::market::{MarketStatus, PriceRange, Ticker};
use crate::core::num::{Count, Money};
use crate::core::order::{
    ClientOrderId, ExchangeStatus, Fill, OrderId, OrderReport, OrderSide, TradeId,
};
use crate::core::risk::TimeInForce;
use crate::kalshi::wire;
use crate::kalshi::ws::{BookUpdate, MarketEvent, PrivateEvent, ResyncCause};

/// Book side of an order from the wire's `book_side`.
pub fn order_side(side: wire::BookSide) -> OrderSide {
    match side {
        wire::BookSide::Bid => OrderSide::Bid,
        wire::BookSide::Ask => OrderSide::Ask,
    }
}

pub fn wire_side(side: OrderSide) -> wire::BookSide {
    match side {
        OrderSide::Bid => wire::BookSide::Bid,
        OrderSide::Ask => wire::BookSide::Ask,
    }
}

fn outcome_book_side(outcome: wire::OutcomeSide) -> OrderSide {
    match outcome {
        wire::OutcomeSide::Yes => OrderSide::Bid,
        wire::OutcomeSide::No => OrderSide::Ask,
    }
}

pub fn wire_tif(tif: TimeInForce) -> wire::TimeInForce {
    match tif {
        TimeInForce::GoodTillCanceled => wire::TimeInForce::GoodTillCanceled,
        TimeInForce::ImmediateOrCancel => wire::TimeInForce::ImmediateOrCancel,
        TimeInForce::FillOrKill => wire::TimeInForce::FillOrKill,
    }
}

fn exchange_status(status: wire::OrderStatus) -> Option<ExchangeStatus> {
    match status {
        wire::OrderStatus::Resting => Some(ExchangeStatus::Resting),
        wire::OrderStatus::Canceled => Some(ExchangeStatus::Canceled),
        wire::OrderStatus::Executed => Some(ExchangeStatus::Executed),
        wire::OrderStatus::Unknown => None,
    }
}

pub fn market_status(status: wire::MarketStatus) -> MarketStatus {
    // A status we cannot read must not be traded.
    status.known().unwrap_or(MarketStatus::Inactive)
}

fn client_id(text: &str) -> Option<ClientOrderId> {
    (!text.is_empty()).then(|| ClientOrderId::new(text))
}

/// A REST order read as the engine's order report. `None` when its status is unreadable.
pub fn order_report(order: &wire::Order) -> Option<OrderReport> {
    Some(OrderReport {
        order_id: OrderId::new(&order.order_id),
        client_order_id: client_id(&order.client_order_id),
        ticker: order.ticker.clone(),
        side: order_side(order.book_side),
        yes_price: order.yes_price_dollars,
        status: exchange_status(order.status)?,
        fill_count: order.fill_count_fp,
        remaining_count: order.remaining_count_fp,
        initial_count: Some(order.initial_count_fp),
        updated_ts_ms: order.last_update_time.as_ref().map(|t| t.unix_ms()),
    })
}

/// A `user_order` frame as an order report. `None` without a direction or a readable status.
pub fn user_order_report(order: &wire::UserOrder) -> Option<OrderReport> {
    Some(OrderReport {
        order_id: OrderId::new(&order.order_id),
        client_order_id: client_id(&order.client_order_id),
        ticker: order.ticker.clone(),
        side: order_side(order.book()?),
        yes_price: order.yes_price_dollars,
        status: exchange_status(order.status)?,
        fill_count: order.fill_count_fp,
        remaining_count: order.remaining_count_fp,
        initial_count: Some(order.initial_count_fp),
        updated_ts_ms: order.last_updated_ts_ms.or(Some(order.created_ts_ms)),
    })
}

/// A WS fill. `None` when it carries no direction at all.
pub fn ws_fill(fill: &wire::WsFill) -> Option<Fill> {
    Some(Fill {
        trade_id: TradeId::new(&fill.trade_id),
        order_id: OrderId::new(&fill.order_id),
        client_order_id: fill.client_order_id.as_deref().and_then(client_id),
        ticker: fill.market_ticker.clone(),
        side: outcome_book_side(fill.outcome()?),
        yes_price: fill.yes_price_dollars,
        count: fill.count_fp,
        is_taker: fill.is_taker,
        fee_cost: fill.fee_cost.unwrap_or(Money::ZERO),
        ts_ms: fill.ts_ms,
    })
}

/// A REST fill (`GET /portfolio/fills`).
pub fn rest_fill(fill: &wire::Fill) -> Fill {
    Fill {
        trade_id: TradeId::new(&fill.trade_id),
        order_id: OrderId::new(&fill.order_id),
        client_order_id: None,
        ticker: fill.market_ticker.clone(),
        side: order_side(fill.book_side),
        yes_price: fill.yes_price_dollars,
        count: fill.count_fp,
        is_taker: fill.is_taker,
        fee_cost: fill.fee_cost,
        ts_ms: fill
            .created_time
            .as_ref()
            .map(|t| t.unix_ms())
            .or(fill.ts.map(|s| s.saturating_mul(1000)))
            .unwrap_or(0),
    }
}

/// Reference data of a REST market.
pub fn market_info(market: &wire::Market) -> MarketInfo {
    MarketInfo {
        ticker: market.ticker.clone(),
        event_ticker: (!market.event_ticker.is_empty()).then(|| market.event_ticker.clone()),
        price_ranges: market
            .price_ranges
            .iter()
            .map(|r| PriceRange {
                start: r.start,
                end: r.end,
                step: r.step,
            })
            .collect(),
        close_ms: Some(market.close_time.unix_ms()),
        status: market_status(market.status),
        strike_rank: None,
    }
}

/// What a market-stream event means for the engine (and nothing when it is bookkeeping only).
pub fn market_inputs(event: &MarketEvent, convention: PriceConvention) -> Vec<Input> {
    match event {
        MarketEvent::Book { update, .. } => match update {
            BookUpdate::Snapshot(snapshot) => vec![Input::Market(MarketInput::Snapshot {
                ticker: snapshot.market_ticker.clone(),
                yes: snapshot.yes_dollars_fp.iter().map(|l| (l.0, l.1)).collect(),
                no: snapshot.no_dollars_fp.iter().map(|l| (l.0, l.1)).collect(),
                convention,
                ts_ms: None,
            })],
            BookUpdate::Delta(delta) => vec![Input::Market(MarketInput::Delta {
                ticker: delta.market_ticker.clone(),
                side: match delta.side {
                    wire::OutcomeSide::Yes => BookSide::Yes,
                    wire::OutcomeSide::No => BookSide::No,
                },
                price: delta.price_dollars,
                delta: delta.delta_fp,
                convention,
                ts_ms: delta.ts_ms,
            })],
        },
        MarketEvent::Ticker(ticker) => vec![Input::Market(MarketInput::Ticker {
            ticker: ticker.market_ticker.clone(),
            last_price: Some(ticker.price_dollars),
            yes_bid: Some(ticker.yes_bid_dollars),
            yes_ask: Some(ticker.yes_ask_dollars),
            ts_ms: ticker.ts_ms,
        })],
        MarketEvent::Trade(trade) => match trade.taker_outcome() {
            Some(outcome) => vec![Input::Market(MarketInput::Trade {
                ticker: trade.market_ticker.clone(),
                yes_price: trade.yes_price_dollars,
                count: trade.count_fp,
                taker_side: outcome_book_side(outcome),
                ts_ms: trade.ts_ms,
            })],
            None => Vec::new(),
        },
        MarketEvent::MarketLifecycle(lifecycle) => lifecycle_inputs(lifecycle),
        MarketEvent::ResyncStarted { tickers, cause } => match cause {
            // A new connection starts every book from a snapshot anyway; the HOLD is for gaps
            // and drops, where resting quotes sit on a book we no longer trust.
            ResyncCause::Reconnect => Vec::new(),
            _ => vec![Input::Market(MarketInput::ResyncNeeded {
                tickers: tickers.clone(),
            })],
        },
        MarketEvent::MarketDataDropped { tickers } => {
            vec![Input::Market(MarketInput::ResyncNeeded {
                tickers: tickers.clone(),
            })]
        }
        _ => Vec::new(),
    }
}

fn lifecycle_inputs(lifecycle: &wire::MarketLifecycle) -> Vec<Input> {
    use wire::LifecycleEventType as Kind;
    let ticker = lifecycle.market_ticker.clone();
    let mut inputs = Vec::new();
    match lifecycle.event_type {
        Kind::Deactivated | Kind::Activated => {
            let paused = lifecycle
                .is_deactivated
                .unwrap_or(lifecycle.event_type == Kind::Deactivated);
            inputs.push(Input::Exchange(ExchangeInput::MarketPaused {
                ticker: ticker.clone(),
                paused,
            }));
        }
        Kind::Determined => inputs.push(Input::Exchange(ExchangeInput::MarketStatus {
            ticker: ticker.clone(),
            status: MarketStatus::Determined,
        })),
        Kind::Settled => inputs.push(Input::Exchange(ExchangeInput::MarketStatus {
            ticker: ticker.clone(),
            status: MarketStatus::Finalized,
        })),
        _ => {}
    }
    if let Some(close_ts) = lifecycle.close_ts
        && matches!(lifecycle.event_type, Kind::CloseDateUpdated | Kind::Created)
    {
        inputs.push(Input::Exchange(ExchangeInput::CloseTime {
            ticker,
            close_ms: close_ts.saturating_mul(1000),
        }));
    }
    inputs
}

/// What a private-stream event means for the engine. `order_groups` are the desk's own groups:
/// only their triggers halt the desk.
pub fn private_inputs(event: &PrivateEvent, order_groups: &[String]) -> Vec<Input> {
    match event {
        PrivateEvent::Fill(fill) => ws_fill(fill)
            .map(|converted| {
                Input::Private(PrivateInput::Fill {
                    fill: converted,
                    post_position: Some(fill.post_position_fp),
                })
            })
            .into_iter()
            .collect(),
        PrivateEvent::UserOrder(order) => user_order_report(order)
            .map(|report| Input::Private(PrivateInput::UserOrder(report)))
            .into_iter()
            .collect(),
        PrivateEvent::MarketPosition(position) => {
            vec![Input::Private(PrivateInput::MarketPosition {
                ticker: position.market_ticker.clone(),
                position: position.position_fp,
                cost: Some(position.position_cost_dollars),
            })]
        }
        PrivateEvent::OrderGroupUpdate { update, .. } => {
            if update.event_type == wire::OrderGroupEventType::Triggered
                && order_groups.contains(&update.order_group_id)
            {
                vec![Input::Exchange(ExchangeInput::OrderGroupTriggered {
                    order_group_id: update.order_group_id.clone(),
                })]
            } else {
                Vec::new()
            }
        }
        PrivateEvent::ReconciliationNeeded { .. } => Vec::new(),
    }
}

/// The V2 create body for a place intent; `None` for any other intent.
pub fn create_request(
    intent: &OrderIntent,
    subaccount: Option<u32>,
) -> Option<wire::CreateOrderV2Request> {
    let OrderIntent::Place {
        client_order_id,
        ticker,
        side,
        price,
        count,
        time_in_force,
        post_only,
        reduce_only,
        expiration_s,
        cancel_order_on_pause,
        order_group_id,
        ..
    } = intent
    else {
        return None;
    };
    let mut request =
        wire::CreateOrderV2Request::limit(ticker.clone(), wire_side(*side), *price, *count);
    request.client_order_id = Some(client_order_id.as_str().to_string());
    request.time_in_force = wire_tif(*time_in_force);
    request.post_only = post_only.then_some(true);
    request.reduce_only = reduce_only.then_some(true);
    request.expiration_time = *expiration_s;
    request.cancel_order_on_pause = cancel_order_on_pause.then_some(true);
    request.subaccount = subaccount;
    request.order_group_id = order_group_id.clone();
    Some(request)
}

/// The ticker an intent writes to, if it names one.
pub fn intent_ticker(intent: &OrderIntent) -> Option<&Ticker> {
    match intent {
        OrderIntent::Place { ticker, .. }
        | OrderIntent::Amend { ticker, .. }
        | OrderIntent::Decrease { ticker, .. }
        | OrderIntent::Cancel { ticker, .. } => Some(ticker),
        OrderIntent::CancelAll | OrderIntent::TriggerOrderGroups => None,
    }
}

/// Zero when a count is missing from an answer.
pub fn count_or_zero(count: Option<Count>) -> Count {
    count.unwrap_or(Count::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::num::Price;

    fn fill_json(extra: &str) -> String {
        format!(
            r#"{{"trade_id":"t1","order_id":"o1","market_ticker":"MKT","exchange_index":0,"is_taker":true,
            "yes_price_dollars":"0.4200","count_fp":"3.00","ts_ms":1700000000000,
            "post_position_fp":"-3.00"{extra}}}"#
        )
    }

    #[test]
    fn ws_fill_takes_direction_from_outcome_and_keeps_post_position() {
        let fill: wire::WsFill =
            serde_json::from_str(&fill_json(r#","outcome_side":"no","fee_cost":"0.0100""#))
                .unwrap();
        let inputs = private_inputs(&PrivateEvent::Fill(fill), &[]);
        let [
            Input::Private(PrivateInput::Fill {
                fill,
                post_position,
            }),
        ] = inputs.as_slice()
        else {
            panic!("one fill input expected, got {inputs:?}");
        };
        assert_eq!(fill.side, OrderSide::Ask);
        assert_eq!(fill.yes_price, Price::parse("0.42").unwrap());
        assert_eq!(fill.count, Count::parse("3").unwrap());
        assert_eq!(fill.fee_cost, Money::from_cents(1));
        assert_eq!(*post_position, Some(Count::parse_signed("-3").unwrap()));
    }

    #[test]
    fn ws_fill_without_direction_is_dropped() {
        let fill: wire::WsFill = serde_json::from_str(&fill_json("")).unwrap();
        assert!(private_inputs(&PrivateEvent::Fill(fill), &[]).is_empty());
    }

    #[test]
    fn only_our_groups_triggering_halts() {
        let update = wire::OrderGroupUpdate {
            event_type: wire::OrderGroupEventType::Triggered,
            order_group_id: "g1".into(),
            contracts_limit_fp: None,
            ts_ms: None,
        };
        let event = PrivateEvent::OrderGroupUpdate {
            sid: 1,
            seq: 1,
            update,
        };
        assert!(private_inputs(&event, &["other".into()]).is_empty());
        assert_eq!(
            private_inputs(&event, &["g1".into()]),
            vec![Input::Exchange(ExchangeInput::OrderGroupTriggered {
                order_group_id: "g1".into()
            })]
        );
    }

    #[test]
    fn gaps_hold_but_reconnects_do_not() {
        let tickers = vec![Ticker::from("A")];
        let gap = MarketEvent::ResyncStarted {
            tickers: tickers.clone(),
            cause: ResyncCause::Gap {
                sid: 1,
                expected: 3,
                got: 5,
            },
        };
        assert_eq!(
            market_inputs(&gap, PriceConvention::YesPrices),
            vec![Input::Market(MarketInput::ResyncNeeded {
                tickers: tickers.clone()
            })]
        );
        let reconnect = MarketEvent::ResyncStarted {
            tickers,
            cause: ResyncCause::Reconnect,
        };
        assert!(market_inputs(&reconnect, PriceConvention::YesPrices).is_empty());
    }

    #[test]
    fn place_intent_becomes_a_v2_create_with_group_and_flags() {
        let intent = OrderIntent::Place {
            client_order_id: ClientOrderId::new("s-maker-1"),
            ticker: Ticker::from("MKT"),
            side: OrderSide::Ask,
            price: Price::parse("0.55").unwrap(),
            count: Count::parse("10").unwrap(),
            time_in_force: TimeInForce::GoodTillCanceled,
            post_only: true,
            reduce_only: false,
            expiration_s: Some(1_700_000_030),
            cancel_order_on_pause: true,
            order_group_id: Some("g1".into()),
            flatten_permit: false,
        };
        let request = create_request(&intent, Some(0)).unwrap();
        assert_eq!(request.side, wire::BookSide::Ask);
        assert_eq!(request.client_order_id.as_deref(), Some("s-maker-1"));
        assert_eq!(request.post_only, Some(true));
        assert_eq!(request.reduce_only, None);
        assert_eq!(request.order_group_id.as_deref(), Some("g1"));
        assert_eq!(request.expiration_time, Some(1_700_000_030));
        assert_eq!(request.subaccount, Some(0));
        assert!(create_request(&OrderIntent::CancelAll, None).is_none());
    }
}
