//! Portfolio reads over REST: balance, positions, fills, settlements, resting order value.

use serde::{Deserialize, Serialize};

use super::common::serde_util::{null_as_default, opt_timestamp};
use super::common::{Action, BookSide, MarketResult, OutcomeSide, Timestamp};
use super::markets::non_empty;
use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};

/// `IndexedBalance`: the balance on one exchange shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedBalance {
    pub exchange_index: i32,
    pub balance: Money,
}

/// `GET /portfolio/balance`. `balance` and `portfolio_value` are still integer cents; use
/// `balance_dollars` (it keeps the sub-cent part).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetBalanceResponse {
    pub balance: i64,
    pub balance_dollars: Money,
    pub portfolio_value: i64,
    /// Unix seconds.
    pub updated_ts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_breakdown: Option<Vec<IndexedBalance>>,
}

/// `MarketPosition`: unsettled position in one market; positive = YES, negative = NO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketPosition {
    pub ticker: Ticker,
    pub total_traded_dollars: Money,
    #[serde(with = "crate::core::num::signed_count")]
    pub position_fp: Count,
    pub market_exposure_dollars: Money,
    pub realized_pnl_dollars: Money,
    pub fees_paid_dollars: Money,
    pub last_updated_ts: Timestamp,
    /// 3.34.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// `EventPosition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPosition {
    pub event_ticker: String,
    pub total_cost_dollars: Money,
    #[serde(with = "crate::core::num::signed_count")]
    pub total_cost_shares_fp: Count,
    pub event_exposure_dollars: Money,
    pub realized_pnl_dollars: Money,
    pub fees_paid_dollars: Money,
}

/// `GET /portfolio/positions` → `{market_positions, event_positions, cursor?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetPositionsResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub cursor: String,
    pub market_positions: Vec<MarketPosition>,
    pub event_positions: Vec<EventPosition>,
}

/// A private `Fill` (REST).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    pub fill_id: String,
    /// Same value as `fill_id` (legacy name).
    pub trade_id: String,
    pub order_id: String,
    pub ticker: Ticker,
    pub market_ticker: Ticker,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<OutcomeSide>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    pub outcome_side: OutcomeSide,
    pub book_side: BookSide,
    pub count_fp: Count,
    pub yes_price_dollars: Price,
    pub no_price_dollars: Price,
    pub is_taker: bool,
    #[serde(
        default,
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_time: Option<Timestamp>,
    /// The fee the exchange charged on this fill (book this, not an estimate).
    pub fee_cost: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount_number: Option<u32>,
    /// Legacy Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    /// 3.34.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// `GET /portfolio/fills` → `{fills, cursor}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetFillsResponse {
    pub fills: Vec<Fill>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cursor: String,
}

/// `Settlement`. `revenue` and `value` are integer cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub ticker: Ticker,
    pub event_ticker: String,
    pub market_result: MarketResult,
    pub yes_count_fp: Count,
    pub yes_total_cost_dollars: Money,
    pub no_count_fp: Count,
    pub no_total_cost_dollars: Money,
    pub revenue: i64,
    pub settled_time: Timestamp,
    pub fee_cost: Money,
    /// Cents per YES contract; `null` when not applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    /// 3.34.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// `GET /portfolio/settlements` → `{settlements, cursor?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSettlementsResponse {
    pub settlements: Vec<Settlement>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cursor: String,
}

/// `GET /portfolio/summary/total_resting_order_value` (cents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetPortfolioRestingOrderTotalValueResponse {
    pub total_resting_order_value: i64,
}

/// `GET /exchange/user_data_timestamp` → `{as_of_time}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetUserDataTimestampResponse {
    pub as_of_time: Timestamp,
}

/// Query of `GET /portfolio/balance`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetBalanceParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_index: Option<i32>,
}

/// Query of `GET /portfolio/positions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetPositionsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_ticker: Option<String>,
    /// `position` and/or `total_traded`, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
}

/// Query of `GET /portfolio/fills` and `GET /portfolio/settlements` (`order_id` is fills only,
/// `event_ticker` settlements only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetFillsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<u32>,
}

impl GetPositionsResponse {
    pub fn next_cursor(&self) -> Option<&str> {
        non_empty(&self.cursor)
    }
}

impl GetFillsResponse {
    pub fn next_cursor(&self) -> Option<&str> {
        non_empty(&self.cursor)
    }
}

impl GetSettlementsResponse {
    pub fn next_cursor(&self) -> Option<&str> {
        non_empty(&self.cursor)
    }
}
