//! Orders over REST: reads on `/portfolio/orders`, V2 writes on `/portfolio/events/orders`
//! (create, batch create, cancel, batch cancel, cancel all, amend, decrease) and order groups.

use serde::{Deserialize, Serialize};

use super::common::serde_util::{null_as_default, opt_timestamp};
use super::common::{
    Action, BookSide, OrderStatus, OrderType, OutcomeSide, SelfTradePrevention, TimeInForce,
    Timestamp,
};
use super::errors::ErrorResponse;
use super::markets::non_empty;
use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};

/// `Order` as read back (REST `GET /portfolio/orders[/{id}]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: String,
    pub user_id: String,
    pub client_order_id: String,
    pub ticker: Ticker,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<OutcomeSide>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    pub outcome_side: OutcomeSide,
    pub book_side: BookSide,
    #[serde(rename = "type")]
    pub order_type: OrderType,
    pub status: OrderStatus,
    pub yes_price_dollars: Price,
    pub no_price_dollars: Price,
    pub fill_count_fp: Count,
    pub remaining_count_fp: Count,
    pub initial_count_fp: Count,
    pub taker_fill_cost_dollars: Money,
    pub maker_fill_cost_dollars: Money,
    pub taker_fees_dollars: Money,
    pub maker_fees_dollars: Money,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration_time: Option<Timestamp>,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_time: Option<Timestamp>,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_update_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_trade_prevention_type: Option<SelfTradePrevention>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_order_on_pause: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount_number: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
    /// Mentioned by the changelog (`PostOnlyCrossCancel`, `Decrease`), not in the schema:
    /// UNCONFIRMED, read if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_reason: Option<String>,
}

/// `GET /portfolio/orders` → `{orders, cursor}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOrdersResponse {
    pub orders: Vec<Order>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cursor: String,
}

impl GetOrdersResponse {
    pub fn next_cursor(&self) -> Option<&str> {
        non_empty(&self.cursor)
    }
}

/// `GET /portfolio/orders/{order_id}` → `{order}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOrderResponse {
    pub order: Order,
}

/// Query of `GET /portfolio/orders`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOrdersParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticker: Option<String>,
    /// Comma-separated, at most 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
}

/// Query of `GET /portfolio/orders/queue_positions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOrderQueuePositionsParams {
    /// Comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_tickers: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
}

/// `GET /portfolio/orders/{order_id}/queue_position` → `{queue_position_fp}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOrderQueuePositionResponse {
    pub queue_position_fp: Count,
}

/// One entry of `GET /portfolio/orders/queue_positions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderQueuePosition {
    pub order_id: String,
    pub market_ticker: Ticker,
    pub queue_position_fp: Count,
}

/// `GET /portfolio/orders/queue_positions` → `{queue_positions}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOrderQueuePositionsResponse {
    pub queue_positions: Vec<OrderQueuePosition>,
}

/// `POST /portfolio/events/orders` body (V2). `side` is on the YES book and `price` is the YES
/// price: bid = buy YES, ask = sell YES (≡ buy NO at 1 − price).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrderV2Request {
    pub ticker: Ticker,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    pub side: BookSide,
    pub count: Count,
    pub price: Price,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<i64>,
    pub time_in_force: TimeInForce,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_only: Option<bool>,
    pub self_trade_prevention_type: SelfTradePrevention,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_order_on_pause: Option<bool>,
    /// Rejected unless `time_in_force` is `immediate_or_cancel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduce_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

impl CreateOrderV2Request {
    /// A plain GTC limit order with `taker_at_cross` self-trade prevention; set the optional
    /// fields directly.
    pub fn limit(ticker: Ticker, side: BookSide, price: Price, count: Count) -> Self {
        CreateOrderV2Request {
            ticker,
            client_order_id: None,
            side,
            count,
            price,
            expiration_time: None,
            time_in_force: TimeInForce::GoodTillCanceled,
            post_only: None,
            self_trade_prevention_type: SelfTradePrevention::TakerAtCross,
            cancel_order_on_pause: None,
            reduce_only: None,
            subaccount: None,
            order_group_id: None,
            exchange_index: None,
        }
    }
}

/// `POST /portfolio/events/orders` → 201. Averages only when something filled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrderV2Response {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    pub fill_count: Count,
    pub remaining_count: Count,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_fill_price: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_fee_paid: Option<Money>,
    /// Matching-engine time, Unix ms.
    pub ts_ms: i64,
}

/// `POST /portfolio/events/orders/batched` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCreateOrdersV2Request {
    pub orders: Vec<CreateOrderV2Request>,
}

/// One result of a V2 batch create. A failed item has `error` and null fills/`ts_ms`; the
/// spec marks the null-able members "never omitted", so they are sent as `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCreateOrderV2Result {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    #[serde(default)]
    pub fill_count: Option<Count>,
    #[serde(default)]
    pub remaining_count: Option<Count>,
    #[serde(default)]
    pub average_fill_price: Option<Price>,
    #[serde(default)]
    pub average_fee_paid: Option<Money>,
    #[serde(default)]
    pub ts_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorResponse>,
}

/// `POST /portfolio/events/orders/batched` → 201 `{orders}` (same order as the request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCreateOrdersV2Response {
    pub orders: Vec<BatchCreateOrderV2Result>,
}

/// Query of `DELETE /portfolio/events/orders/{order_id}` (`market_ticker` is required when
/// `exchange_index` is -1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelOrderV2Params {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_ticker: Option<String>,
}

/// `DELETE /portfolio/events/orders/{order_id}` → `{order_id, client_order_id?, reduced_by, ts_ms}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelOrderV2Response {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    pub reduced_by: Count,
    pub ts_ms: i64,
}

/// One order of a V2 batch cancel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCancelOrderV2 {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_ticker: Option<String>,
}

/// `DELETE /portfolio/events/orders/batched` body (a JSON body on DELETE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCancelOrdersV2Request {
    pub orders: Vec<BatchCancelOrderV2>,
}

/// One result of a V2 batch cancel: `reduced_by` is "0.00" and `ts_ms` null on error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCancelOrderV2Result {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    pub reduced_by: Count,
    #[serde(default)]
    pub ts_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorResponse>,
}

/// `DELETE /portfolio/events/orders/batched` → `{orders}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCancelOrdersV2Response {
    pub orders: Vec<BatchCancelOrderV2Result>,
}

/// Query of `DELETE /portfolio/events/orders` (cancel every resting order; 204, no body).
/// All subaccounts when `subaccount` is omitted. Not in the 3.27 spec file (3.34 SDK).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelAllOrdersParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
}

/// Query carrying only `subaccount` (amend, decrease, order-group reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubaccountParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
}

/// `POST /portfolio/events/orders/{order_id}/amend` body. `count` is the new *total* fillable
/// size: already filled + desired remaining.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendOrderV2Request {
    pub ticker: Ticker,
    pub side: BookSide,
    pub price: Price,
    pub count: Count,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_client_order_id: Option<String>,
    /// Unix seconds; 3.34.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// `POST …/amend` → 200 (an amend can cross and fill).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendOrderV2Response {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_count: Option<Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_count: Option<Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_fill_price: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_fee_paid: Option<Money>,
    pub ts_ms: i64,
}

/// `POST /portfolio/events/orders/{order_id}/decrease` body: exactly one of `reduce_by` /
/// `reduce_to` (checked by [`DecreaseOrderV2Request::validate`], not by serde, so a server can
/// answer with its own error).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecreaseOrderV2Request {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduce_by: Option<Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduce_to: Option<Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_ticker: Option<String>,
}

/// What a decrease asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decrease {
    By(Count),
    To(Count),
}

impl DecreaseOrderV2Request {
    pub fn by(count: Count) -> Self {
        DecreaseOrderV2Request {
            reduce_by: Some(count),
            ..Default::default()
        }
    }

    pub fn to(count: Count) -> Self {
        DecreaseOrderV2Request {
            reduce_to: Some(count),
            ..Default::default()
        }
    }

    /// `Err` names the problem when both or neither are given.
    pub fn validate(&self) -> Result<Decrease, &'static str> {
        match (self.reduce_by, self.reduce_to) {
            (Some(by), None) => Ok(Decrease::By(by)),
            (None, Some(to)) => Ok(Decrease::To(to)),
            (Some(_), Some(_)) => Err("exactly one of reduce_by or reduce_to, not both"),
            (None, None) => Err("one of reduce_by or reduce_to is required"),
        }
    }
}

/// `POST …/decrease` → `{order_id, client_order_id?, remaining_count, ts_ms}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecreaseOrderV2Response {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    pub remaining_count: Count,
    pub ts_ms: i64,
}

/// `OrderGroup` (in `GET /portfolio/order_groups`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderGroup {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contracts_limit_fp: Option<Count>,
    pub is_auto_cancel_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// `GET /portfolio/order_groups` → `{order_groups?}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOrderGroupsResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub order_groups: Vec<OrderGroup>,
}

/// `GET /portfolio/order_groups/{order_group_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOrderGroupResponse {
    pub is_auto_cancel_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contracts_limit_fp: Option<Count>,
    /// Order ids in the group.
    pub orders: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// `POST /portfolio/order_groups/create` body: the contracts limit over a rolling 15 s window
/// (`contracts_limit` integer or `contracts_limit_fp` string).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrderGroupRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contracts_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contracts_limit_fp: Option<Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// `POST /portfolio/order_groups/create` → 201.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrderGroupResponse {
    pub order_group_id: String,
    pub subaccount: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// `PUT /portfolio/order_groups/{order_group_id}/limit` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateOrderGroupLimitRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contracts_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contracts_limit_fp: Option<Count>,
}

/// Query of the order-group writes (`DELETE`, `…/reset`, `…/trigger`, `…/limit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderGroupWriteParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// `EmptyResponse` `{}` (order-group delete/reset/trigger/limit answers; also the optional
/// body of reset/trigger). Unknown members are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyResponse {}
