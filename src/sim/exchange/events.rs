//! What the exchange announces, in the order it happened. The WebSocket layer fans these out to
//! its subscribers.

use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};

use super::accounts::{FillRecord, Position};
use super::groups::GroupEventType;
use super::lifecycle::LifecycleStep;
use super::orders::OrderRecord;
use super::types::{BookSide, BookSideExt, OutcomeSide};

/// A public trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRecord {
    pub trade_id: String,
    pub ticker: Ticker,
    /// YES price the trade printed at (the resting order's price).
    pub price: Price,
    pub count: Count,
    pub taker_side: BookSide,
    pub ts_ms: i64,
}

impl TradeRecord {
    pub fn taker_outcome(&self) -> OutcomeSide {
        self.taker_side.outcome()
    }
}

/// Top of book and statistics, as the `ticker` channel reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickerSnapshot {
    pub ticker: Ticker,
    pub last_price: Option<Price>,
    pub yes_bid: Option<(Price, Count)>,
    /// Best YES ask (= 1 − best NO bid) and its size.
    pub yes_ask: Option<(Price, Count)>,
    pub last_trade_size: Count,
    pub volume: Count,
    pub open_interest: Count,
    pub dollar_volume: Money,
    pub dollar_open_interest: Money,
    pub ts_ms: i64,
}

/// A change of resting size at one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookDelta {
    pub ticker: Ticker,
    /// `Yes` for the YES-bid ladder, `No` for the NO-bid ladder.
    pub side: OutcomeSide,
    /// In that side's own price (a NO level carries a NO price).
    pub price: Price,
    pub delta: Count,
    /// The owner of the order whose resting size changed, with its ids, so the WS layer can add
    /// `client_order_id`/`subaccount` for that user only.
    pub user_id: Option<String>,
    pub client_order_id: Option<String>,
    pub subaccount: Option<u32>,
    pub ts_ms: i64,
}

/// An `order_group_updates` frame's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupUpdate {
    pub user_id: String,
    pub subaccount: u32,
    pub order_group_id: String,
    pub event_type: GroupEventType,
    pub contracts_limit: Option<Count>,
    pub ts_ms: i64,
}

/// A position after a change, for `market_positions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionUpdate {
    pub user_id: String,
    pub subaccount: u32,
    pub ticker: Ticker,
    pub position: Position,
}

/// Everything the exchange announces, in domain terms (`Exchange::take_wire_events` gives
/// the same as wire messages).
#[derive(Debug, Clone, PartialEq)]
pub enum ExchangeEvent {
    BookDelta(BookDelta),
    Trade(TradeRecord),
    Ticker(TickerSnapshot),
    Fill(FillRecord),
    /// The order as it is after the change.
    UserOrder(Box<OrderRecord>),
    MarketPosition(PositionUpdate),
    Lifecycle(LifecycleStep),
    OrderGroup(GroupUpdate),
}
