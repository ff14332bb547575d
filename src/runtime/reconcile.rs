//! REST reconciliation while running: after every reconnect, on a timer, and after a kill.
//! One read of the account turned into engine inputs: fills since the last known one
//! (deduplicated by `trade_id` in the engine), the resting orders and the final state of every
//! order the engine still holds open that no longer rests, and positions (`position_fp`)
//! so the engine can detect drift.

use std::collections::HashSet;

use crate::core::engine::{ExchangeInput, Input, PrivateInput};
use crate::core::market::Ticker;
use crate::core::num::Count;
use crate::core::order::OrderId;
use crate::kalshi::rest::RestClient;
use crate::kalshi::wire::{
    GetBalanceParams, GetFillsParams, GetOrdersParams, GetPositionsParams, OrderStatus,
};
use crate::runtime::clock;
use crate::runtime::convert;

/// Why a read was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPurpose {
    /// Full reconciliation (start of a connection, timer).
    Reconcile,
    /// `GET /exchange/status` only.
    Status,
}

/// What the engine task asks the reconciler to check.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    pub purpose: ReadPurpose,
    pub subaccount: Option<u32>,
    /// Orders the engine holds open that have an exchange id.
    pub open_orders: Vec<OrderId>,
    /// Markets where the engine holds a non-zero position.
    pub positioned: Vec<Ticker>,
    /// Fills from this wall time on (ms).
    pub fills_since_ms: i64,
}

/// The answer: inputs for the engine, in order, and what the sweep needs.
#[derive(Debug, Clone)]
pub struct ReadOutcome {
    pub purpose: ReadPurpose,
    pub inputs: Vec<Input>,
    /// Resting orders the exchange showed (None when that read failed).
    pub resting: Option<usize>,
    /// Monotonic ns when the resting-orders read was sent.
    pub read_started_ns: u64,
    /// Newest fill time seen (ms).
    pub newest_fill_ms: Option<i64>,
    /// The first read that failed, if any.
    pub error: Option<String>,
}

/// Make the reads. Never fails as a whole: what could be read is returned with the error.
pub async fn read(rest: &RestClient, request: ReadRequest) -> ReadOutcome {
    let mut outcome = ReadOutcome {
        purpose: request.purpose,
        inputs: Vec::new(),
        resting: None,
        read_started_ns: clock::mono_ns(),
        newest_fill_ms: None,
        error: None,
    };
    match rest.exchange_status().await {
        Ok(status) => outcome
            .inputs
            .push(Input::Exchange(ExchangeInput::TradingActive {
                active: status.trading_active,
            })),
        Err(error) => outcome.error = Some(format!("exchange status: {error}")),
    }
    if request.purpose == ReadPurpose::Status {
        return outcome;
    }

    // Fills first, so positions read afterwards are compared with our books including them.
    let fills = rest
        .all_fills(&GetFillsParams {
            min_ts: Some(request.fills_since_ms.div_euclid(1000)),
            subaccount: request.subaccount,
            ..GetFillsParams::default()
        })
        .await;
    match fills {
        Ok(mut fills) => {
            fills.sort_by_key(|f| f.created_time.as_ref().map(|t| t.unix_ms()).unwrap_or(0));
            for fill in &fills {
                let fill = convert::rest_fill(fill);
                outcome.newest_fill_ms = outcome.newest_fill_ms.max(Some(fill.ts_ms));
                outcome.inputs.push(Input::Private(PrivateInput::Fill {
                    fill,
                    post_position: None,
                }));
            }
        }
        Err(error) => {
            outcome.error.get_or_insert(format!("fills: {error}"));
        }
    }

    outcome.read_started_ns = clock::mono_ns();
    let resting = rest
        .all_orders(&GetOrdersParams {
            status: Some(OrderStatus::Resting),
            subaccount: request.subaccount,
            ..GetOrdersParams::default()
        })
        .await;
    let mut resting_ids = HashSet::new();
    match resting {
        Ok(orders) => {
            outcome.resting = Some(orders.len());
            for order in &orders {
                resting_ids.insert(order.order_id.clone());
                if let Some(report) = convert::order_report(order) {
                    outcome
                        .inputs
                        .push(Input::Private(PrivateInput::UserOrder(report)));
                }
            }
            // What we hold open but the exchange no longer rests: read its final state.
            for order_id in &request.open_orders {
                if resting_ids.contains(order_id.as_str()) {
                    continue;
                }
                match rest.order(order_id.as_str()).await {
                    Ok(order) => {
                        if let Some(report) = convert::order_report(&order) {
                            outcome
                                .inputs
                                .push(Input::Private(PrivateInput::UserOrder(report)));
                        }
                    }
                    Err(error) => {
                        outcome
                            .error
                            .get_or_insert(format!("order {order_id}: {error}"));
                    }
                }
            }
        }
        Err(error) => {
            outcome
                .error
                .get_or_insert(format!("resting orders: {error}"));
        }
    }

    let positions = rest
        .all_positions(&GetPositionsParams {
            subaccount: request.subaccount,
            ..GetPositionsParams::default()
        })
        .await;
    match positions {
        Ok((positions, _)) => {
            let mut seen = HashSet::new();
            for position in &positions {
                seen.insert(position.ticker.clone());
                outcome
                    .inputs
                    .push(Input::Private(PrivateInput::MarketPosition {
                        ticker: position.ticker.clone(),
                        position: position.position_fp,
                        cost: None,
                    }));
            }
            // A market the exchange no longer lists holds nothing there.
            for ticker in request.positioned.iter().filter(|t| !seen.contains(*t)) {
                outcome
                    .inputs
                    .push(Input::Private(PrivateInput::MarketPosition {
                        ticker: ticker.clone(),
                        position: Count::ZERO,
                        cost: None,
                    }));
            }
        }
        Err(error) => {
            outcome.error.get_or_insert(format!("positions: {error}"));
        }
    }
    if let Ok(balance) = rest
        .balance(&GetBalanceParams {
            subaccount: request.subaccount,
            exchange_index: None,
        })
        .await
    {
        outcome.inputs.push(Input::Private(PrivateInput::Balance {
            available: balance.balance_dollars,
            as_of_ms: Some(balance.updated_ts.saturating_mul(1000)),
        }));
    }
    outcome
}
