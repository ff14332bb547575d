//! Kalshi's wire format: serde types for every REST body and WS frame the desk and the
//! simulator use, with the spec's exact field names (openapi-3.27.0 / asyncapi-2026-08-22).
//!
//! Both sides use these types: the desk decodes what Kalshi (or the simulator) sends, the
//! simulator serializes the same types, so each derives `Serialize` and `Deserialize`.
//! Prices are [`Price`](crate::core::num::Price), counts [`Count`](crate::core::num::Count)
//! (signed where Kalshi sends deltas/positions), dollar amounts [`Money`](crate::core::num::Money),
//! and the few remaining cent fields plain `i64`. Required spec fields are non-`Option` (a
//! missing one is an error naming it); optional ones are `Option` and omitted when `None`.
//! Unknown members are ignored; status-like enums have an `Unknown` variant.
//!
//! Main types, by area:
//! - common: [`OutcomeSide`] (yes|no), [`BookSide`] (bid|ask), [`Action`], [`OrderStatus`],
//!   [`TimeInForce`], [`SelfTradePrevention`], [`MarketStatus`], [`MarketResult`], [`FeeType`],
//!   [`PriceLevel`] (`[price, count]`), [`PriceRange`], [`Timestamp`] (RFC3339, exact text kept).
//! - markets: [`Market`], [`GetMarketsResponse`], [`GetMarketResponse`], [`EventData`],
//!   [`GetEventsResponse`], [`GetEventResponse`], [`Series`], [`GetSeriesResponse`],
//!   [`GetSeriesListResponse`], [`OrderbookFp`], [`GetMarketOrderbookResponse`],
//!   [`GetMarketOrderbooksResponse`], [`Trade`], [`GetTradesResponse`]; queries
//!   [`GetMarketsParams`], [`GetEventsParams`], [`GetEventParams`], [`GetSeriesParams`],
//!   [`GetTradesParams`], [`GetOrderbookParams`], [`GetMarketOrderbooksParams`].
//! - portfolio: [`GetBalanceResponse`], [`MarketPosition`], [`EventPosition`],
//!   [`GetPositionsResponse`], [`Fill`], [`GetFillsResponse`], [`Settlement`],
//!   [`GetSettlementsResponse`], [`GetPortfolioRestingOrderTotalValueResponse`],
//!   [`GetUserDataTimestampResponse`]; queries [`GetBalanceParams`], [`GetPositionsParams`],
//!   [`GetFillsParams`].
//! - orders: [`Order`], [`GetOrdersResponse`], [`GetOrderResponse`], [`GetOrdersParams`],
//!   queue positions; V2 writes [`CreateOrderV2Request`]/[`CreateOrderV2Response`],
//!   [`BatchCreateOrdersV2Request`]/[`BatchCreateOrdersV2Response`],
//!   [`CancelOrderV2Params`]/[`CancelOrderV2Response`],
//!   [`BatchCancelOrdersV2Request`]/[`BatchCancelOrdersV2Response`], [`CancelAllOrdersParams`]
//!   (`DELETE /portfolio/events/orders`, 204), [`AmendOrderV2Request`]/[`AmendOrderV2Response`],
//!   [`DecreaseOrderV2Request`]/[`DecreaseOrderV2Response`]; order groups [`OrderGroup`],
//!   [`GetOrderGroupsResponse`], [`GetOrderGroupResponse`], [`CreateOrderGroupRequest`],
//!   [`CreateOrderGroupResponse`], [`UpdateOrderGroupLimitRequest`], [`EmptyResponse`].
//! - exchange and account: [`ExchangeStatus`], [`GetExchangeScheduleResponse`],
//!   [`GetAccountApiLimitsResponse`], [`GetAccountEndpointCostsResponse`].
//! - errors: [`decode_error_body`] → [`ApiErrorBody`] (wrapped, bare, `{"error":"text"}` or raw),
//!   [`ErrorResponse`], [`WrappedErrorResponse`], [`wrapped_error_json`],
//!   [`TOO_MANY_REQUESTS_BODY`], [`WireError`].
//! - WS out: [`Command`] (`subscribe`, `subscribe_orderbook`, `unsubscribe`,
//!   `update_subscription`, `get_snapshot`, `list_subscriptions`, `to_json`), [`Channel`],
//!   [`SubscribeParams`], [`UpdateAction`]; server side [`decode_command`] → [`CommandError`]
//!   with Kalshi's WS error codes.
//! - WS in: [`decode_server_frame`] → [`ServerFrame`] `{id, sid, seq, msg: ServerMsg}`;
//!   payloads [`OrderbookSnapshot`], [`OrderbookDelta`], [`WsTicker`], [`WsTrade`], [`WsFill`],
//!   [`UserOrder`], [`WsMarketPosition`], [`MarketLifecycle`], [`EventLifecycle`],
//!   [`EventFeeUpdate`], [`OrderGroupUpdate`], [`Subscribed`], [`OkMarkets`],
//!   [`SubscriptionInfo`], [`WsError`]; unknown types → `ServerMsg::Unknown { type_name }`.
//!
//! Where the spec marks a WS field required but Kalshi's own example omits it (`fill`'s
//! `outcome_side`/`book_side`/`fee_cost`, `trade`'s `taker_outcome_side`, `user_order`'s
//! `book_side` and fee totals, `order_group_updates`' `ts_ms`), or a required field is
//! deprecated and may go (`ts`, `time`, `side`, `action`, `is_yes`, `purchased_side`), the field is
//! an `Option`; helpers such as [`WsFill::outcome`] fall back to the legacy fields. The
//! simulator fills them all, which `tests/it/schema.rs` checks.
//!
//! The WS decoder is the feed's hot path: one pass over the text, the envelope read key by key,
//! `msg` deserialized straight into its payload, prices and counts parsed from the borrowed
//! text; an `orderbook_delta` costs two small allocations (ticker and market id).

mod common;
mod errors;
mod exchange;
mod markets;
mod orders;
mod portfolio;
mod ws_commands;
mod ws_frames;

pub use common::serde_util;
pub use common::{
    Action, BookSide, FeeType, MarketResult, MarketStatus, MarketStatusFilter, MarketType,
    OrderStatus, OrderType, OutcomeSide, PriceLevel, PriceRange, SelfTradePrevention, TimeInForce,
    Timestamp, outcome_from_legacy,
};
pub use errors::{
    ApiErrorBody, ErrorResponse, ErrorShape, RAW_ERROR_KEEP, TOO_MANY_REQUESTS_BODY, WireError,
    WrappedErrorResponse, decode_error_body, wrapped_error_json,
};
pub use exchange::{
    ApiUsageLevelGrant, BucketLimit, DailySchedule, EndpointTokenCost, ExchangeIndexStatus,
    ExchangeStatus, GetAccountApiLimitsResponse, GetAccountEndpointCostsResponse,
    GetExchangeScheduleResponse, MaintenanceWindow, Schedule, WeeklySchedule,
};
pub use markets::{
    EventData, GetEventParams, GetEventResponse, GetEventsParams, GetEventsResponse,
    GetMarketOrderbookResponse, GetMarketOrderbooksParams, GetMarketOrderbooksResponse,
    GetMarketResponse, GetMarketsParams, GetMarketsResponse, GetOrderbookParams,
    GetSeriesListResponse, GetSeriesParams, GetSeriesResponse, GetTradesParams, GetTradesResponse,
    Market, MarketOrderbookFp, MveSelectedLeg, OrderbookFp, Series, SettlementSource, Trade,
};
pub use orders::{
    AmendOrderV2Request, AmendOrderV2Response, BatchCancelOrderV2, BatchCancelOrderV2Result,
    BatchCancelOrdersV2Request, BatchCancelOrdersV2Response, BatchCreateOrderV2Result,
    BatchCreateOrdersV2Request, BatchCreateOrdersV2Response, CancelAllOrdersParams,
    CancelOrderV2Params, CancelOrderV2Response, CreateOrderGroupRequest, CreateOrderGroupResponse,
    CreateOrderV2Request, CreateOrderV2Response, Decrease, DecreaseOrderV2Request,
    DecreaseOrderV2Response, EmptyResponse, GetOrderGroupResponse, GetOrderGroupsResponse,
    GetOrderQueuePositionResponse, GetOrderQueuePositionsParams, GetOrderQueuePositionsResponse,
    GetOrderResponse, GetOrdersParams, GetOrdersResponse, Order, OrderGroup, OrderGroupWriteParams,
    OrderQueuePosition, SubaccountParams, UpdateOrderGroupLimitRequest,
};
pub use portfolio::{
    EventPosition, Fill, GetBalanceParams, GetBalanceResponse, GetFillsParams, GetFillsResponse,
    GetPortfolioRestingOrderTotalValueResponse, GetPositionsParams, GetPositionsResponse,
    GetSettlementsResponse, GetUserDataTimestampResponse, IndexedBalance, MarketPosition,
    Settlement,
};
pub use ws_commands::{
    Channel, Command, CommandBody, CommandError, SubscribeParams, UnsubscribeParams, UpdateAction,
    UpdateSubscriptionParams, decode_command,
};
pub use ws_frames::{
    EventFeeUpdate, EventLifecycle, LifecycleEventType, LifecycleMetadata, MarketLifecycle,
    OkMarkets, OrderGroupEventType, OrderGroupUpdate, OrderbookDelta, OrderbookSnapshot,
    ServerFrame, ServerMsg, Subscribed, SubscriptionInfo, UserOrder, WsError, WsFill,
    WsMarketPosition, WsTicker, WsTrade, decode_server_frame,
};
