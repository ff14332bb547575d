//! Start-up reconciliation, before anything can arm (DESIGN.md §8): the watchlist's reference
//! data, the account's resting orders (strategy-tagged orphans of an earlier run are cancelled,
//! the operator's and foreign orders kept and shown), positions and balance, the desk's order
//! group, and whether the journal says the last run ended HALTED or mid-kill.

use crate::core::engine::{ExchangeInput, Input, MarketInput, PrivateInput};
use crate::core::order::{ClientOrderId, OrderOwner};
use crate::kalshi::rest::RestClient;
use crate::kalshi::wire::{
    BatchCancelOrderV2, CreateOrderGroupRequest, GetBalanceParams, GetFillsParams, GetOrdersParams,
    GetPositionsParams, OrderStatus,
};
use crate::runtime::convert;
use crate::runtime::desk::DeskConfig;
use crate::store::journal::{HaltRecord, HaltState};

/// Contracts per rolling 15 s the desk's order group allows before the exchange trips it: far
/// above any sane quoting, so only a runaway trips it.
const ORDER_GROUP_CONTRACTS_LIMIT: i64 = 1_000_000;
/// Fills this long before the start are read even when the journal has a newer one: a running
/// desk's reconciliations re-read an overlap of a few seconds.
const PRIOR_FILL_WINDOW_MS: i64 = 30_000;

/// What start-up found and did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StartupReport {
    /// The desk's order group for automated orders.
    pub order_group_id: Option<String>,
    /// Strategy-tagged orders of an earlier run, cancelled.
    pub orphans_cancelled: Vec<String>,
    /// Orphans whose cancel failed (the kill sweep or the next reconcile retries them).
    pub orphans_failed: Vec<String>,
    /// The operator's own and foreign resting orders, kept (`client_order_id` or order id).
    pub kept_orders: Vec<String>,
    /// Markets with a non-zero position at the exchange.
    pub positions: usize,
    /// Set when the last run stopped HALTED or mid-kill: the desk starts HALTED and sweeps.
    pub started_halted: Option<String>,
    pub exchange_trading_active: Option<bool>,
    /// Wall ms of the start-up reads (fills after this come from the feed or later reads).
    pub read_wall_ms: i64,
    /// Inputs the engine is primed with, in order.
    #[serde(skip)]
    pub(crate) inputs: Vec<Input>,
    /// The account's fills from the last journaled one (and at least a short window before
    /// start) up to the start: already inside the positions adopted at start, so the engine
    /// must not apply them again; those the journal lacks are journaled by the desk.
    #[serde(skip)]
    pub(crate) prior_fills: Vec<crate::core::order::Fill>,
}

/// A report stamped now, with the exchange's trading status read first (a failed read is
/// logged and left unknown: the status poll retries it). Live and paper start-ups begin here.
pub(crate) async fn begin(rest: &RestClient) -> StartupReport {
    let mut report = StartupReport {
        read_wall_ms: crate::runtime::clock::wall_ms(),
        ..StartupReport::default()
    };
    match rest.exchange_status().await {
        Ok(status) => {
            report.exchange_trading_active = Some(status.trading_active);
            report
                .inputs
                .push(Input::Exchange(ExchangeInput::TradingActive {
                    active: status.trading_active,
                }));
        }
        Err(error) => tracing::warn!(%error, "exchange status unreadable at start"),
    }
    report
}

/// Read the account and prepare the engine's first inputs. An error means nothing is safe to
/// start: the exchange could not be read.
pub async fn prepare(
    rest: &RestClient,
    config: &DeskConfig,
    last_halt: Option<&HaltRecord>,
    last_journaled_fill_ms: Option<i64>,
) -> Result<StartupReport, String> {
    let mut report = begin(rest).await;
    for ticker in &config.watchlist {
        let market = rest
            .market(ticker.as_str())
            .await
            .map_err(|e| format!("market {ticker}: {e}"))?;
        report
            .inputs
            .push(Input::Market(MarketInput::Info(convert::market_info(
                &market,
            ))));
    }

    let resting = rest
        .all_orders(&GetOrdersParams {
            status: Some(OrderStatus::Resting),
            subaccount: config.subaccount,
            ..GetOrdersParams::default()
        })
        .await
        .map_err(|e| format!("resting orders: {e}"))?;
    let (orphans, kept): (Vec<_>, Vec<_>) = resting.into_iter().partition(|order| {
        matches!(
            ClientOrderId::new(&order.client_order_id).owner(),
            OrderOwner::Strategy { .. }
        )
    });
    if !orphans.is_empty() {
        let cancels = orphans
            .iter()
            .map(|order| BatchCancelOrderV2 {
                order_id: order.order_id.clone(),
                subaccount: config.subaccount,
                exchange_index: None,
                market_ticker: None,
            })
            .collect();
        let results = rest.batch_cancel_orders(cancels).await;
        for (order, result) in orphans.iter().zip(results) {
            match result {
                Ok(_) => report.orphans_cancelled.push(order.client_order_id.clone()),
                Err(error) => {
                    tracing::warn!(%error, order = %order.order_id, "orphan cancel failed");
                    report.orphans_failed.push(order.client_order_id.clone());
                    // Tracked, so a later sweep or the operator can see it.
                    if let Some(order_report) = convert::order_report(order) {
                        report
                            .inputs
                            .push(Input::Private(PrivateInput::UserOrder(order_report)));
                    }
                }
            }
        }
    }
    for order in &kept {
        report
            .kept_orders
            .push(if order.client_order_id.is_empty() {
                order.order_id.clone()
            } else {
                order.client_order_id.clone()
            });
        if let Some(order_report) = convert::order_report(order) {
            report
                .inputs
                .push(Input::Private(PrivateInput::UserOrder(order_report)));
        }
    }

    // Fills before the positions read: inside the positions, never to be applied again.
    let since_ms = last_journaled_fill_ms
        .unwrap_or(report.read_wall_ms)
        .min(report.read_wall_ms.saturating_sub(PRIOR_FILL_WINDOW_MS));
    let fills = rest
        .all_fills(&GetFillsParams {
            min_ts: Some(since_ms.div_euclid(1000)),
            subaccount: config.subaccount,
            ..GetFillsParams::default()
        })
        .await
        .map_err(|e| format!("fills: {e}"))?;
    report.prior_fills = fills.iter().map(convert::rest_fill).collect();
    report.prior_fills.sort_by_key(|fill| fill.ts_ms);

    let (positions, _) = rest
        .all_positions(&GetPositionsParams {
            subaccount: config.subaccount,
            ..GetPositionsParams::default()
        })
        .await
        .map_err(|e| format!("positions: {e}"))?;
    for position in positions.iter().filter(|p| !p.position_fp.is_zero()) {
        report.positions += 1;
        report
            .inputs
            .push(Input::Private(PrivateInput::MarketPosition {
                ticker: position.ticker.clone(),
                position: position.position_fp,
                cost: None,
            }));
    }
    match rest
        .balance(&GetBalanceParams {
            subaccount: config.subaccount,
            exchange_index: None,
        })
        .await
    {
        Ok(balance) => report.inputs.push(Input::Private(PrivateInput::Balance {
            available: balance.balance_dollars,
            as_of_ms: Some(balance.updated_ts.saturating_mul(1000)),
        })),
        Err(error) => tracing::warn!(%error, "balance unreadable at start"),
    }

    report.started_halted = last_halt
        .filter(|halt| halt.state != HaltState::Reset)
        .map(|halt| format!("the last run stopped halted ({})", halt.reason));

    if config.use_order_group && report.started_halted.is_none() {
        let request = CreateOrderGroupRequest {
            subaccount: config.subaccount,
            contracts_limit: Some(ORDER_GROUP_CONTRACTS_LIMIT),
            ..CreateOrderGroupRequest::default()
        };
        match rest.create_order_group(&request).await {
            Ok(created) => report.order_group_id = Some(created.order_group_id),
            Err(error) => {
                tracing::warn!(%error, "no order group: the exchange-side backstop is off")
            }
        }
    }
    Ok(report)
}
