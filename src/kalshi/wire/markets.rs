//! Public market data over REST: markets, events, series, order books, public trades.
//! Field names and required-ness follow `openapi-3.27.0.yaml` components/schemas (plus the 3.34
//! additions listed in DIGEST.md section 0, as optional fields).

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::common::serde_util::{null_as_default, opt_timestamp};
use super::common::{
    BookSide, FeeType, MarketResult, MarketStatus, MarketStatusFilter, MarketType, OutcomeSide,
    PriceLevel, PriceRange, Timestamp,
};
use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};

/// `Market` (GET /markets, /markets/{ticker}, /events/{event_ticker}).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Market {
    pub ticker: Ticker,
    pub event_ticker: String,
    pub market_type: MarketType,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    pub yes_sub_title: String,
    pub no_sub_title: String,
    pub created_time: Timestamp,
    pub updated_time: Timestamp,
    pub open_time: Timestamp,
    pub close_time: Timestamp,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub expected_expiration_time: Option<Timestamp>,
    /// Deprecated.
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration_time: Option<Timestamp>,
    pub latest_expiration_time: Timestamp,
    pub settlement_timer_seconds: i64,
    pub status: MarketStatus,
    pub yes_bid_dollars: Price,
    pub yes_bid_size_fp: Count,
    pub yes_ask_dollars: Price,
    pub yes_ask_size_fp: Count,
    pub no_bid_dollars: Price,
    pub no_ask_dollars: Price,
    pub last_price_dollars: Price,
    pub volume_fp: Count,
    pub volume_24h_fp: Count,
    pub result: MarketResult,
    pub can_close_early: bool,
    pub open_interest_fp: Count,
    pub notional_value_dollars: Money,
    pub previous_yes_bid_dollars: Price,
    pub previous_yes_ask_dollars: Price,
    pub previous_price_dollars: Price,
    /// Always "0.0000" in 3.27; removed in 3.34.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liquidity_dollars: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_value_dollars: Option<Price>,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub settlement_ts: Option<Timestamp>,
    pub expiration_value: String,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub occurrence_datetime: Option<Timestamp>,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub fee_waiver_expiration_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_close_condition: Option<String>,
    /// `greater|greater_or_equal|less|less_or_equal|between|functional|custom|structured`; kept
    /// as text so a new strike type does not fail the market.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strike_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_strike: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_strike: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functional_strike: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_strike: Option<Value>,
    pub rules_primary: String,
    pub rules_secondary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mve_collection_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mve_selected_legs: Option<Vec<MveSelectedLeg>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_participant_key: Option<String>,
    /// A label only; `price_ranges` is the grid.
    pub price_level_structure: String,
    pub price_ranges: Vec<PriceRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_provisional: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
    /// 3.34 (`default|floor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_bounds_type: Option<String>,
    /// 3.34.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_floor_dollars: Option<Money>,
}

/// A leg of a combo (multivariate) market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MveSelectedLeg {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yes_settlement_value_dollars: Option<Price>,
}

/// `GET /markets` → `{markets, cursor}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetMarketsResponse {
    pub markets: Vec<Market>,
    /// Empty when there are no more pages (absent or `null` decode as empty too).
    #[serde(default, deserialize_with = "null_as_default")]
    pub cursor: String,
}

/// `GET /markets/{ticker}` → `{market}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetMarketResponse {
    pub market: Market,
}

/// `SettlementSource {name?, url?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `EventData`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    pub event_ticker: String,
    pub series_ticker: String,
    pub sub_title: String,
    pub title: String,
    pub collateral_return_type: String,
    pub mutually_exclusive: bool,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub strike_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strike_period: Option<String>,
    /// Only with `with_nested_markets=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markets: Option<Vec<Market>>,
    /// Required in 3.27, removed after Aug 27 2026, so absence is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_on_brokers: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_metadata: Option<Value>,
    /// Required but nullable: `null` decodes as empty.
    #[serde(deserialize_with = "null_as_default")]
    pub settlement_sources: Vec<SettlementSource>,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_updated_ts: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_type_override: Option<FeeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_multiplier_override: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// `GET /events` → `{events, milestones?, cursor}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetEventsResponse {
    pub events: Vec<EventData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestones: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cursor: String,
}

/// `GET /events/{event_ticker}` → `{event, markets}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetEventResponse {
    pub event: EventData,
    pub markets: Vec<Market>,
}

/// `Series`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub ticker: String,
    pub frequency: String,
    pub title: String,
    pub category: String,
    /// 3.34.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    #[serde(deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub settlement_sources: Vec<SettlementSource>,
    pub contract_url: String,
    pub contract_terms_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_metadata: Option<Value>,
    pub fee_type: FeeType,
    /// A multiplier, not money: kept as the exact JSON number.
    pub fee_multiplier: Number,
    #[serde(deserialize_with = "null_as_default")]
    pub additional_prohibitions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_fp: Option<Count>,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_updated_ts: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// `GET /series/{series_ticker}` → `{series}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetSeriesResponse {
    pub series: Series,
}

/// `GET /series` → `{series: [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetSeriesListResponse {
    pub series: Vec<Series>,
}

/// `OrderbookCountFp`: YES bids and NO bids (NO prices), each ascending, best last.
///
/// Whether an empty side is `[]`, `null` or absent is UNCONFIRMED on REST, so all three decode
/// as empty; we always send `[]` (the spec marks both keys required).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderbookFp {
    #[serde(default, deserialize_with = "null_as_default")]
    pub yes_dollars: Vec<PriceLevel>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub no_dollars: Vec<PriceLevel>,
}

/// `GET /markets/{ticker}/orderbook` → `{orderbook_fp}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetMarketOrderbookResponse {
    pub orderbook_fp: OrderbookFp,
}

/// One entry of `GET /markets/orderbooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketOrderbookFp {
    pub ticker: Ticker,
    pub orderbook_fp: OrderbookFp,
}

/// `GET /markets/orderbooks?tickers=A&tickers=B` → `{orderbooks}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetMarketOrderbooksResponse {
    pub orderbooks: Vec<MarketOrderbookFp>,
}

/// A public `Trade` (GET /markets/trades).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub trade_id: String,
    pub ticker: Ticker,
    pub count_fp: Count,
    pub yes_price_dollars: Price,
    pub no_price_dollars: Price,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taker_side: Option<OutcomeSide>,
    pub taker_outcome_side: OutcomeSide,
    pub taker_book_side: BookSide,
    pub created_time: Timestamp,
    pub is_block_trade: bool,
}

/// `GET /markets/trades` → `{trades, cursor}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetTradesResponse {
    pub trades: Vec<Trade>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cursor: String,
}

/// Query of `GET /markets` (timestamp filter families are mutually exclusive; see the spec).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetMarketsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MarketStatusFilter>,
    /// Comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickers: Option<String>,
    /// `only|exclude`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mve_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_created_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_created_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_close_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_close_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_settled_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_settled_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_updated_ts: Option<i64>,
}

/// Query of `GET /events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetEventsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_ticker: Option<String>,
    /// `unopened|open|closed|settled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_nested_markets: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_milestones: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_close_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_updated_ts: Option<i64>,
}

/// Query of `GET /markets/trades`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetTradesParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_block_trade: Option<bool>,
}

/// Query of `GET /markets/{ticker}/orderbook` (`depth` 0 = all levels).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOrderbookParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
}

/// Query of `GET /markets/orderbooks`: `tickers` is a repeated parameter
/// (`?tickers=A&tickers=B`, 1–100), which form encoders of structs cannot express, hence
/// [`GetMarketOrderbooksParams::to_query_pairs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetMarketOrderbooksParams {
    pub tickers: Vec<String>,
}

impl GetMarketOrderbooksParams {
    pub fn to_query_pairs(&self) -> Vec<(&'static str, String)> {
        self.tickers
            .iter()
            .map(|t| ("tickers", t.clone()))
            .collect()
    }

    /// From decoded query pairs (server side); other keys are ignored.
    pub fn from_query_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        GetMarketOrderbooksParams {
            tickers: pairs
                .into_iter()
                .filter(|(k, _)| *k == "tickers")
                .map(|(_, v)| v.to_string())
                .collect(),
        }
    }
}

/// Query of `GET /events/{event_ticker}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetEventParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_nested_markets: Option<bool>,
}

/// Query of `GET /series` (and `include_volume` of `GET /series/{series_ticker}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSeriesParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_product_metadata: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_volume: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_updated_ts: Option<i64>,
}

impl GetMarketsResponse {
    /// The cursor for the next page, `None` on the last page.
    pub fn next_cursor(&self) -> Option<&str> {
        non_empty(&self.cursor)
    }
}

impl GetEventsResponse {
    pub fn next_cursor(&self) -> Option<&str> {
        non_empty(&self.cursor)
    }
}

impl GetTradesResponse {
    pub fn next_cursor(&self) -> Option<&str> {
        non_empty(&self.cursor)
    }
}

pub(crate) fn non_empty(cursor: &str) -> Option<&str> {
    if cursor.is_empty() {
        None
    } else {
        Some(cursor)
    }
}
