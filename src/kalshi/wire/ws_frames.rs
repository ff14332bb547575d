//! Server → client WebSocket frames: the envelope `{type, id?, sid?, seq?, msg?}` and every
//! payload the desk uses, decoded in one pass.
//!
//! The envelope is read key by key; as soon as `type` is known, `msg` is deserialized straight
//! into its typed payload (no intermediate `serde_json::Value`). Kalshi sends `type` before
//! `msg`; if a frame does not, `msg` is buffered as a `Value` and decoded once `type` arrives.
//! Unknown types become [`ServerMsg::Unknown`] (reported, not an error); a known type with a
//! malformed payload is an error that names the type and the field.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Number, Value};

use super::common::serde_util::{
    null_as_default, opt_timestamp, price as de_price, signed_count as de_signed_count,
    ticker as de_ticker,
};
use super::common::{
    Action, BookSide, FeeType, MarketResult, OrderStatus, OutcomeSide, PriceLevel, PriceRange,
    SelfTradePrevention, Timestamp, outcome_from_legacy,
};
use super::errors::WireError;
use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};

/// One decoded server frame: the envelope numbers plus the typed message.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerFrame {
    /// The command id this frame answers (`subscribed`, `ok`, `unsubscribed`, `error`).
    pub id: Option<u64>,
    /// Subscription id (data frames, `ok`, `unsubscribed`).
    pub sid: Option<u64>,
    /// Per-sid sequence number (orderbook, order-group frames and `ok`/`unsubscribed`).
    pub seq: Option<u64>,
    pub msg: ServerMsg,
}

impl ServerFrame {
    /// A data frame `{type, sid, seq?, msg}`.
    pub fn data(sid: u64, seq: Option<u64>, msg: ServerMsg) -> ServerFrame {
        ServerFrame {
            id: None,
            sid: Some(sid),
            seq,
            msg,
        }
    }

    /// A reply to command `id` (0 = no id, so none is sent).
    pub fn reply(id: u64, msg: ServerMsg) -> ServerFrame {
        ServerFrame {
            id: (id != 0).then_some(id),
            sid: None,
            seq: None,
            msg,
        }
    }

    /// The wire text.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and integers to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Decode one WS text frame. Unknown `type`s decode to [`ServerMsg::Unknown`].
#[inline]
pub fn decode_server_frame(text: &str) -> Result<ServerFrame, WireError> {
    // One pass even when `msg` precedes `type` (the simulator sorts its keys): the type is read
    // ahead from the text. Any failure there is decided again by the plain decoder below, which
    // also words the errors.
    if let Ok(frame) = decode_with_type_hint(text) {
        return Ok(frame);
    }
    match serde_json::from_str::<ServerFrame>(text) {
        Ok(frame) => Ok(frame),
        Err(e) if e.is_syntax() || e.is_eof() => Err(WireError::Json(e)),
        Err(e) => {
            // Error path only: find the type again so the error can name it.
            #[derive(Deserialize)]
            struct Probe {
                #[serde(rename = "type")]
                kind: Option<String>,
            }
            match serde_json::from_str::<Probe>(text) {
                Ok(Probe {
                    kind: Some(type_name),
                }) => Err(WireError::BadFrame {
                    type_name,
                    source: e,
                }),
                Ok(Probe { kind: None }) => Err(WireError::MissingType),
                Err(_) => Err(WireError::Json(e)),
            }
        }
    }
}

#[inline]
fn decode_with_type_hint(text: &str) -> Result<ServerFrame, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let frame = (&mut deserializer).deserialize_map(FrameVisitor { text: Some(text) })?;
    deserializer.end()?;
    Ok(frame)
}

/// The frame type a text names, read ahead of decoding: the last `"type":"…"` in it (the
/// envelope's own comes last when keys are sorted; an earlier one may be nested in `msg`).
/// Only a hint: the decoder checks it against the envelope's `type`.
fn type_hint(text: &str) -> Option<Kind> {
    const KEY: &[u8] = b"\"type\":\"";
    let bytes = text.as_bytes();
    // A plain backward scan: the key sits a few bytes from the end of a sorted frame, and
    // setting up a substring searcher per frame costs more than the scan.
    let start = (0..=bytes.len().checked_sub(KEY.len())?)
        .rev()
        .find(|&at| &bytes[at..at + KEY.len()] == KEY)?
        + KEY.len();
    let rest = &bytes[start..];
    let end = rest.iter().position(|&b| b == b'"')?;
    // The key and the quote are ASCII, so both cuts fall on character boundaries.
    let name = text.get(start..start + end)?;
    match Kind::from_name(name) {
        Kind::Unknown(_) => None,
        kind => Some(kind),
    }
}

/// The message of a frame, by `type`.
#[allow(clippy::large_enum_variant)] // frames live for one dispatch; boxing would cost an allocation per message
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMsg {
    /// `subscribed` `{channel, sid}`.
    Subscribed(Subscribed),
    /// `ok` answering `update_subscription`: `{market_tickers?, market_ids?}`.
    Ok(OkMarkets),
    /// `ok` answering `list_subscriptions`: `[{channel, sid}]`.
    SubscriptionList(Vec<SubscriptionInfo>),
    /// `unsubscribed` (no msg; `sid`/`seq` in the envelope).
    Unsubscribed,
    /// `error` `{code, msg, market_ticker?, market_id?}`.
    Error(WsError),
    OrderbookSnapshot(OrderbookSnapshot),
    OrderbookDelta(OrderbookDelta),
    Ticker(WsTicker),
    Trade(WsTrade),
    Fill(WsFill),
    UserOrder(UserOrder),
    MarketPosition(WsMarketPosition),
    MarketLifecycleV2(MarketLifecycle),
    /// Same payload as `market_lifecycle_v2`, for combo markets.
    MultivariateMarketLifecycle(MarketLifecycle),
    EventLifecycle(EventLifecycle),
    EventFeeUpdate(EventFeeUpdate),
    OrderGroupUpdates(OrderGroupUpdate),
    /// A `type` we do not handle (RFQ, index feeds, anything new). Report it, keep reading.
    Unknown {
        type_name: String,
    },
}

impl ServerMsg {
    /// The wire `type`.
    pub fn type_name(&self) -> &str {
        match self {
            ServerMsg::Subscribed(_) => "subscribed",
            ServerMsg::Ok(_) | ServerMsg::SubscriptionList(_) => "ok",
            ServerMsg::Unsubscribed => "unsubscribed",
            ServerMsg::Error(_) => "error",
            ServerMsg::OrderbookSnapshot(_) => "orderbook_snapshot",
            ServerMsg::OrderbookDelta(_) => "orderbook_delta",
            ServerMsg::Ticker(_) => "ticker",
            ServerMsg::Trade(_) => "trade",
            ServerMsg::Fill(_) => "fill",
            ServerMsg::UserOrder(_) => "user_order",
            ServerMsg::MarketPosition(_) => "market_position",
            ServerMsg::MarketLifecycleV2(_) => "market_lifecycle_v2",
            ServerMsg::MultivariateMarketLifecycle(_) => "multivariate_market_lifecycle",
            ServerMsg::EventLifecycle(_) => "event_lifecycle",
            ServerMsg::EventFeeUpdate(_) => "event_fee_update",
            ServerMsg::OrderGroupUpdates(_) => "order_group_updates",
            ServerMsg::Unknown { type_name } => type_name,
        }
    }
}

/// `subscribed` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    pub channel: String,
    pub sid: u64,
}

/// `ok` reply to `update_subscription`: the full market list after the update (absent with
/// `skip_ticker_ack`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OkMarkets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_tickers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_ids: Option<Vec<String>>,
}

/// One entry of the `list_subscriptions` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionInfo {
    pub channel: String,
    pub sid: u64,
}

/// `error` reply. Codes per DIGEST.md 7.5 (10 and 25 are terminal for the subscription).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsError {
    pub code: u32,
    pub msg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_id: Option<String>,
}

impl WsError {
    /// Channel error (10) and buffer overflow (25) end the subscription: resubscribe.
    pub fn is_terminal(&self) -> bool {
        matches!(self.code, 10 | 17 | 25)
    }
}

/// `orderbook_snapshot`: full book of one market. A side's key is absent when it is empty;
/// `null` and `[]` are accepted too. With `use_yes_price: true`, NO levels are in YES prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderbookSnapshot {
    #[serde(deserialize_with = "de_ticker")]
    pub market_ticker: Ticker,
    pub market_id: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub yes_dollars_fp: Vec<PriceLevel>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub no_dollars_fp: Vec<PriceLevel>,
}

/// `orderbook_delta`: signed change of resting size at one level (the level goes when it
/// reaches 0). The deprecated RFC3339 `ts` is read past, not kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderbookDelta {
    #[serde(deserialize_with = "de_ticker")]
    pub market_ticker: Ticker,
    pub market_id: String,
    #[serde(deserialize_with = "de_price")]
    pub price_dollars: Price,
    #[serde(
        serialize_with = "crate::core::num::signed_count::serialize",
        deserialize_with = "de_signed_count"
    )]
    pub delta_fp: Count,
    pub side: OutcomeSide,
    /// Only when your own order caused the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts_ms: Option<i64>,
}

/// `ticker`: top of book and stats, sent on any change. `dollar_volume` and
/// `dollar_open_interest` are whole dollars. `ts` (s) and `time` (RFC3339) are deprecated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsTicker {
    #[serde(deserialize_with = "de_ticker")]
    pub market_ticker: Ticker,
    pub market_id: String,
    /// Last traded price.
    pub price_dollars: Price,
    pub yes_bid_dollars: Price,
    pub yes_ask_dollars: Price,
    pub yes_bid_size_fp: Count,
    pub yes_ask_size_fp: Count,
    pub last_trade_size_fp: Count,
    pub volume_fp: Count,
    pub open_interest_fp: Count,
    pub dollar_volume: i64,
    pub dollar_open_interest: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    pub ts_ms: i64,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub time: Option<Timestamp>,
}

/// Public `trade`. The spec requires `taker_outcome_side`/`taker_book_side`, but Kalshi's own
/// example omits them, so they are optional here: use [`WsTrade::taker_outcome`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsTrade {
    pub trade_id: String,
    #[serde(deserialize_with = "de_ticker")]
    pub market_ticker: Ticker,
    pub yes_price_dollars: Price,
    pub no_price_dollars: Price,
    pub count_fp: Count,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taker_side: Option<OutcomeSide>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taker_outcome_side: Option<OutcomeSide>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taker_book_side: Option<BookSide>,
    pub is_block_trade: bool,
    /// Deprecated (Unix s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    pub ts_ms: i64,
}

impl WsTrade {
    /// The taker's direction from the current fields, else the deprecated `taker_side`.
    pub fn taker_outcome(&self) -> Option<OutcomeSide> {
        self.taker_outcome_side
            .or(self.taker_book_side.map(BookSide::outcome_side))
            .or(self.taker_side)
    }
}

/// Private `fill`. `fee_cost`, `outcome_side` and `book_side` are required by the spec but
/// missing from Kalshi's own example, so they are optional: use [`WsFill::outcome`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsFill {
    pub trade_id: String,
    pub order_id: String,
    #[serde(deserialize_with = "de_ticker")]
    pub market_ticker: Ticker,
    pub exchange_index: i32,
    pub is_taker: bool,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<OutcomeSide>,
    pub yes_price_dollars: Price,
    pub count_fp: Count,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_cost: Option<Money>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_side: Option<OutcomeSide>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book_side: Option<BookSide>,
    /// Deprecated (Unix s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    pub ts_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    /// Position after the fill: positive YES, negative NO.
    #[serde(with = "crate::core::num::signed_count")]
    pub post_position_fp: Count,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchased_side: Option<OutcomeSide>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
}

impl WsFill {
    /// The fill's direction: `outcome_side`, else `book_side`, else the legacy
    /// `(side, action)` pair, else `purchased_side`.
    pub fn outcome(&self) -> Option<OutcomeSide> {
        self.outcome_side
            .or(self.book_side.map(BookSide::outcome_side))
            .or(match (self.side, self.action) {
                (Some(side), Some(action)) => Some(outcome_from_legacy(side, action)),
                _ => None,
            })
            .or(self.purchased_side)
    }
}

/// `user_order` (channel `user_orders`). `outcome_side`, `book_side` and the fee totals are
/// required by the spec but missing from Kalshi's own example, so they are optional here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserOrder {
    pub order_id: String,
    pub user_id: String,
    #[serde(deserialize_with = "de_ticker")]
    pub ticker: Ticker,
    pub status: OrderStatus,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<OutcomeSide>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_yes: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_side: Option<OutcomeSide>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book_side: Option<BookSide>,
    pub yes_price_dollars: Price,
    pub fill_count_fp: Count,
    pub remaining_count_fp: Count,
    pub initial_count_fp: Count,
    pub taker_fill_cost_dollars: Money,
    pub maker_fill_cost_dollars: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taker_fees_dollars: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maker_fees_dollars: Option<Money>,
    pub client_order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_trade_prevention_type: Option<SelfTradePrevention>,
    /// Deprecated.
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_time: Option<Timestamp>,
    pub created_ts_ms: i64,
    /// Deprecated.
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_update_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_ts_ms: Option<i64>,
    /// Deprecated.
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_ts_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount_number: Option<u32>,
}

impl UserOrder {
    /// The order's direction from `book_side` or `outcome_side` (the deprecated `side`/`is_yes`
    /// lack the action, so they cannot give it).
    pub fn book(&self) -> Option<BookSide> {
        self.book_side
            .or(self.outcome_side.map(OutcomeSide::book_side))
    }
}

/// `market_position` (channel `market_positions`): positive YES, negative NO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsMarketPosition {
    pub user_id: String,
    #[serde(deserialize_with = "de_ticker")]
    pub market_ticker: Ticker,
    #[serde(with = "crate::core::num::signed_count")]
    pub position_fp: Count,
    pub position_cost_dollars: Money,
    pub realized_pnl_dollars: Money,
    pub fees_paid_dollars: Money,
    pub position_fee_cost_dollars: Money,
    pub volume_fp: Count,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
}

/// `market_lifecycle_v2` event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleEventType {
    Created,
    Activated,
    Deactivated,
    CloseDateUpdated,
    Determined,
    Settled,
    PriceLevelStructureUpdated,
    MetadataUpdated,
    #[serde(other)]
    Unknown,
}

/// `market_lifecycle_v2` (and `multivariate_market_lifecycle`): which keys are present depends
/// on `event_type`. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketLifecycle {
    pub event_type: LifecycleEventType,
    #[serde(deserialize_with = "de_ticker")]
    pub market_ticker: Ticker,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<MarketResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determination_ts: Option<i64>,
    /// Dollars (e.g. "0.5000").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_value: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_ts: Option<i64>,
    /// Trading paused (true) or resumed (false) on an open market.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_deactivated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_level_structure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_ranges: Option<Vec<PriceRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strike_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_strike: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_strike: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_strike: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yes_sub_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_metadata: Option<LifecycleMetadata>,
}

/// `additional_metadata` of a `created` lifecycle event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LifecycleMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yes_sub_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_sub_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_primary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_secondary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_close_early: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_expiration_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strike_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_strike: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_strike: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_strike: Option<Value>,
}

/// `event_lifecycle` (on the lifecycle channels).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLifecycle {
    pub event_ticker: String,
    pub exchange_index: i32,
    pub title: String,
    pub subtitle: String,
    /// `MECNET|DIRECNET|""`.
    pub collateral_return_type: String,
    pub series_ticker: String,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strike_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strike_period: Option<String>,
}

/// `event_fee_update`: both overrides are required keys, `null` when cleared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventFeeUpdate {
    pub event_ticker: String,
    #[serde(deserialize_with = "required_nullable")]
    pub fee_type_override: Option<FeeType>,
    #[serde(deserialize_with = "required_nullable")]
    pub fee_multiplier_override: Option<Number>,
}

/// A key that must be present but may be `null` (absence is still "missing field").
fn required_nullable<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

/// `order_group_updates` event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderGroupEventType {
    Created,
    Triggered,
    Reset,
    Deleted,
    LimitUpdated,
    #[serde(other)]
    Unknown,
}

/// `order_group_updates`. `ts_ms` is required by the spec but missing from Kalshi's example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderGroupUpdate {
    pub event_type: OrderGroupEventType,
    pub order_group_id: String,
    /// Present for `created` and `limit_updated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contracts_limit_fp: Option<Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts_ms: Option<i64>,
}

// ---- decoding -------------------------------------------------------------------------------

/// The frame `type`, matched without allocating for the known ones.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Subscribed,
    Ok,
    Unsubscribed,
    Error,
    OrderbookSnapshot,
    OrderbookDelta,
    Ticker,
    Trade,
    Fill,
    UserOrder,
    MarketPosition,
    MarketLifecycleV2,
    MultivariateMarketLifecycle,
    EventLifecycle,
    EventFeeUpdate,
    OrderGroupUpdates,
    Unknown(String),
}

impl Kind {
    fn from_name(name: &str) -> Kind {
        match name {
            "orderbook_delta" => Kind::OrderbookDelta,
            "orderbook_snapshot" => Kind::OrderbookSnapshot,
            "ticker" => Kind::Ticker,
            "trade" => Kind::Trade,
            "fill" => Kind::Fill,
            "user_order" => Kind::UserOrder,
            "market_position" => Kind::MarketPosition,
            "subscribed" => Kind::Subscribed,
            "ok" => Kind::Ok,
            "unsubscribed" => Kind::Unsubscribed,
            "error" => Kind::Error,
            "market_lifecycle_v2" => Kind::MarketLifecycleV2,
            "multivariate_market_lifecycle" => Kind::MultivariateMarketLifecycle,
            "event_lifecycle" => Kind::EventLifecycle,
            "event_fee_update" => Kind::EventFeeUpdate,
            "order_group_updates" => Kind::OrderGroupUpdates,
            other => Kind::Unknown(other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a message type string")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Kind, E> {
                Ok(Kind::from_name(name))
            }
        }
        d.deserialize_str(V)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum EnvelopeKey {
    Type,
    Id,
    Sid,
    Seq,
    Msg,
    #[serde(other)]
    Other,
}

/// Decodes `msg` for a known kind.
struct MsgSeed<'k>(&'k Kind);

impl<'de> DeserializeSeed<'de> for MsgSeed<'_> {
    type Value = ServerMsg;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ServerMsg, D::Error> {
        Ok(match self.0 {
            Kind::OrderbookDelta => ServerMsg::OrderbookDelta(OrderbookDelta::deserialize(d)?),
            Kind::OrderbookSnapshot => {
                ServerMsg::OrderbookSnapshot(OrderbookSnapshot::deserialize(d)?)
            }
            Kind::Ticker => ServerMsg::Ticker(WsTicker::deserialize(d)?),
            Kind::Trade => ServerMsg::Trade(WsTrade::deserialize(d)?),
            Kind::Fill => ServerMsg::Fill(WsFill::deserialize(d)?),
            Kind::UserOrder => ServerMsg::UserOrder(UserOrder::deserialize(d)?),
            Kind::MarketPosition => ServerMsg::MarketPosition(WsMarketPosition::deserialize(d)?),
            Kind::Subscribed => ServerMsg::Subscribed(Subscribed::deserialize(d)?),
            Kind::Ok => d.deserialize_any(OkVisitor)?,
            Kind::Unsubscribed => {
                IgnoredAny::deserialize(d)?;
                ServerMsg::Unsubscribed
            }
            Kind::Error => ServerMsg::Error(WsError::deserialize(d)?),
            Kind::MarketLifecycleV2 => {
                ServerMsg::MarketLifecycleV2(MarketLifecycle::deserialize(d)?)
            }
            Kind::MultivariateMarketLifecycle => {
                ServerMsg::MultivariateMarketLifecycle(MarketLifecycle::deserialize(d)?)
            }
            Kind::EventLifecycle => ServerMsg::EventLifecycle(EventLifecycle::deserialize(d)?),
            Kind::EventFeeUpdate => ServerMsg::EventFeeUpdate(EventFeeUpdate::deserialize(d)?),
            Kind::OrderGroupUpdates => {
                ServerMsg::OrderGroupUpdates(OrderGroupUpdate::deserialize(d)?)
            }
            Kind::Unknown(name) => {
                IgnoredAny::deserialize(d)?;
                ServerMsg::Unknown {
                    type_name: name.clone(),
                }
            }
        })
    }
}

/// `ok`'s msg is an object (update_subscription), an array (list_subscriptions) or null.
struct OkVisitor;

impl<'de> Visitor<'de> for OkVisitor {
    type Value = ServerMsg;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with market_tickers or an array of subscriptions")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ServerMsg, A::Error> {
        let markets = OkMarkets::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(ServerMsg::Ok(markets))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ServerMsg, A::Error> {
        let list =
            Vec::<SubscriptionInfo>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(ServerMsg::SubscriptionList(list))
    }

    fn visit_unit<E: de::Error>(self) -> Result<ServerMsg, E> {
        Ok(ServerMsg::Ok(OkMarkets::default()))
    }
}

struct FrameVisitor<'t> {
    /// The frame's whole text, to read its `type` ahead when `msg` comes first.
    text: Option<&'t str>,
}

impl<'de> Visitor<'de> for FrameVisitor<'_> {
    type Value = ServerFrame;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kalshi WS frame object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ServerFrame, A::Error> {
        let mut kind: Option<Kind> = None;
        let (mut id, mut sid, mut seq) = (None, None, None);
        let mut msg: Option<ServerMsg> = None;
        let mut early_msg: Option<Value> = None;
        let mut hinted: Option<Kind> = None;
        while let Some(key) = map.next_key::<EnvelopeKey>()? {
            match key {
                EnvelopeKey::Type => kind = Some(map.next_value::<Kind>()?),
                EnvelopeKey::Id => id = map.next_value::<Option<u64>>()?,
                EnvelopeKey::Sid => sid = map.next_value::<Option<u64>>()?,
                EnvelopeKey::Seq => seq = map.next_value::<Option<u64>>()?,
                EnvelopeKey::Msg => match &kind {
                    Some(k) => msg = Some(map.next_value_seed(MsgSeed(k))?),
                    None => match self.text.and_then(type_hint) {
                        Some(hint) => {
                            msg = Some(map.next_value_seed(MsgSeed(&hint))?);
                            hinted = Some(hint);
                        }
                        None => early_msg = Some(map.next_value::<Value>()?),
                    },
                },
                EnvelopeKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
        if hinted.is_some_and(|hint| hint != kind) {
            return Err(de::Error::custom(
                "`msg` was read as another type than the frame's `type`",
            ));
        }
        // Matched one by one rather than as a tuple: a `ServerMsg` is large, and every move of
        // it shows on the feed path.
        let msg = match msg {
            Some(m) => m,
            None => match early_msg {
                Some(value) => MsgSeed(&kind)
                    .deserialize(value)
                    .map_err(de::Error::custom)?,
                None => match kind {
                    Kind::Unsubscribed => ServerMsg::Unsubscribed,
                    Kind::Ok => ServerMsg::Ok(OkMarkets::default()),
                    Kind::Unknown(type_name) => ServerMsg::Unknown { type_name },
                    _ => return Err(de::Error::missing_field("msg")),
                },
            },
        };
        Ok(ServerFrame { id, sid, seq, msg })
    }
}

impl<'de> Deserialize<'de> for ServerFrame {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ServerFrame, D::Error> {
        d.deserialize_map(FrameVisitor { text: None })
    }
}

impl Serialize for ServerFrame {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", self.msg.type_name())?;
        if let Some(id) = self.id {
            map.serialize_entry("id", &id)?;
        }
        if let Some(sid) = self.sid {
            map.serialize_entry("sid", &sid)?;
        }
        if let Some(seq) = self.seq {
            map.serialize_entry("seq", &seq)?;
        }
        match &self.msg {
            ServerMsg::Subscribed(m) => map.serialize_entry("msg", m)?,
            ServerMsg::Ok(m) => map.serialize_entry("msg", m)?,
            ServerMsg::SubscriptionList(m) => map.serialize_entry("msg", m)?,
            ServerMsg::Unsubscribed | ServerMsg::Unknown { .. } => {}
            ServerMsg::Error(m) => map.serialize_entry("msg", m)?,
            ServerMsg::OrderbookSnapshot(m) => map.serialize_entry("msg", m)?,
            ServerMsg::OrderbookDelta(m) => map.serialize_entry("msg", m)?,
            ServerMsg::Ticker(m) => map.serialize_entry("msg", m)?,
            ServerMsg::Trade(m) => map.serialize_entry("msg", m)?,
            ServerMsg::Fill(m) => map.serialize_entry("msg", m)?,
            ServerMsg::UserOrder(m) => map.serialize_entry("msg", m)?,
            ServerMsg::MarketPosition(m) => map.serialize_entry("msg", m)?,
            ServerMsg::MarketLifecycleV2(m) | ServerMsg::MultivariateMarketLifecycle(m) => {
                map.serialize_entry("msg", m)?
            }
            ServerMsg::EventLifecycle(m) => map.serialize_entry("msg", m)?,
            ServerMsg::EventFeeUpdate(m) => map.serialize_entry("msg", m)?,
            ServerMsg::OrderGroupUpdates(m) => map.serialize_entry("msg", m)?,
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DELTA: &str = r#"{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"FED-23DEC-T3.00","market_id":"9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1","price_dollars":"0.960","delta_fp":"-54.00","side":"yes","ts":"2022-11-22T20:44:01Z","ts_ms":1669149841000}}"#;

    #[test]
    fn delta_decodes_in_one_pass() {
        let frame = decode_server_frame(DELTA).unwrap();
        assert_eq!((frame.id, frame.sid, frame.seq), (None, Some(2), Some(3)));
        let ServerMsg::OrderbookDelta(d) = frame.msg else {
            panic!("not a delta")
        };
        assert_eq!(d.delta_fp.centi(), -5400);
        assert_eq!(d.price_dollars.micros(), 960_000);
        // Escaped strings (never seen in tickers, but legal JSON) still decode.
        let escaped = DELTA.replace("FED-23DEC", "FED\\u002d23DEC");
        let ServerMsg::OrderbookDelta(d) = decode_server_frame(&escaped).unwrap().msg else {
            panic!("not a delta")
        };
        assert_eq!(d.market_ticker.as_str(), "FED-23DEC-T3.00");
    }

    #[test]
    fn envelope_numbers_may_be_null_or_absent() {
        let frame = decode_server_frame(
            r#"{"type":"subscribed","id":null,"msg":{"channel":"ticker","sid":7}}"#,
        )
        .unwrap();
        assert_eq!(frame.id, None);
        assert!(decode_server_frame(r#"{"type":"ticker","sid":"seven","msg":{}}"#).is_err());
        assert!(decode_server_frame(r#"[1,2]"#).is_err());
        assert!(decode_server_frame(r#""heartbeat""#).is_err());
    }

    #[test]
    fn terminal_errors() {
        let e = |code| WsError {
            code,
            msg: String::new(),
            market_ticker: None,
            market_id: None,
        };
        assert!(e(25).is_terminal());
        assert!(e(10).is_terminal());
        assert!(!e(6).is_terminal());
    }

    #[test]
    fn msg_before_type_for_every_shape() {
        let list =
            decode_server_frame(r#"{"msg":[{"channel":"fill","sid":3}],"type":"ok","id":3}"#)
                .unwrap();
        assert_eq!(
            list.msg,
            ServerMsg::SubscriptionList(vec![SubscriptionInfo {
                channel: "fill".into(),
                sid: 3
            }])
        );
        let unknown =
            decode_server_frame(r#"{"msg":{"x":1},"type":"pyth_value","sid":1}"#).unwrap();
        assert_eq!(unknown.msg.type_name(), "pyth_value");
        let bad = decode_server_frame(r#"{"msg":{"market_ticker":"A"},"type":"orderbook_delta"}"#);
        assert!(matches!(bad, Err(WireError::BadFrame { .. })), "{bad:?}");
    }

    #[test]
    fn sorted_keys_decode_like_kalshi_order() {
        let sorted = r#"{"msg":{"delta_fp":"-54.00","market_id":"9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1","market_ticker":"FED-23DEC-T3.00","price_dollars":"0.960","side":"yes","ts":"2022-11-22T20:44:01Z","ts_ms":1669149841000},"seq":3,"sid":2,"type":"orderbook_delta"}"#;
        assert_eq!(
            decode_server_frame(sorted).unwrap(),
            decode_server_frame(DELTA).unwrap()
        );
        assert!(matches!(
            decode_with_type_hint(sorted).unwrap().msg,
            ServerMsg::OrderbookDelta(_)
        ));
    }

    #[test]
    fn a_misleading_type_hint_falls_back_to_the_envelope_type() {
        // The last `"type":"…"` is nested and names another known type.
        let nested_after = r#"{"msg":{"channel":"ticker","sid":7},"type":"subscribed","id":1,"extra":{"type":"fill"}}"#;
        let frame = decode_server_frame(nested_after).unwrap();
        assert_eq!(
            frame.msg,
            ServerMsg::Subscribed(Subscribed {
                channel: "ticker".into(),
                sid: 7
            })
        );
        // The hint's type decodes `msg` fine, but the envelope says otherwise.
        let delta_msg = &DELTA[DELTA.find("\"msg\":").unwrap() + 6..DELTA.len() - 1];
        let mismatched = format!(
            r#"{{"msg":{delta_msg},"type":"pyth_value","extra":{{"type":"orderbook_delta"}}}}"#
        );
        assert!(decode_with_type_hint(&mismatched).is_err());
        let frame = decode_server_frame(&mismatched).unwrap();
        assert_eq!(frame.msg.type_name(), "pyth_value");
        // A hinted frame with a bad payload still gets the plain decoder's error.
        let bad = decode_server_frame(r#"{"msg":{"market_ticker":"A"},"type":"orderbook_delta"}"#);
        assert!(matches!(bad, Err(WireError::BadFrame { .. })), "{bad:?}");
    }

    proptest! {
        #[test]
        fn deltas_round_trip(
            sid in 1u64..1_000,
            seq in 1u64..u64::MAX / 2,
            micros in 0i64..=1_000_000,
            centi in -1_000_000_000i64..1_000_000_000,
            yes in any::<bool>(),
            ts_ms in proptest::option::of(0i64..4_000_000_000_000),
            client in proptest::option::of("[a-z0-9-]{1,20}"),
        ) {
            let frame = ServerFrame::data(sid, Some(seq), ServerMsg::OrderbookDelta(OrderbookDelta {
                market_ticker: Ticker::new("KX-26DEC-T4.00"),
                market_id: "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1".into(),
                price_dollars: Price::from_micros(micros).unwrap(),
                delta_fp: Count::from_centi(centi),
                side: if yes { OutcomeSide::Yes } else { OutcomeSide::No },
                client_order_id: client,
                subaccount: None,
                ts_ms,
            }));
            prop_assert_eq!(decode_server_frame(&frame.to_json()).unwrap(), frame);
        }

        #[test]
        fn decoding_never_panics(text in "\\PC{0,200}") {
            let _ = decode_server_frame(&text);
        }

        #[test]
        fn decoding_mutated_frames_never_panics(cut in 0usize..300, byte in any::<u8>()) {
            let mut bytes = DELTA.as_bytes().to_vec();
            let at = cut % bytes.len();
            bytes[at] = byte;
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = decode_server_frame(text);
            }
            let _ = decode_server_frame(&DELTA[..at]);
        }
    }
}
