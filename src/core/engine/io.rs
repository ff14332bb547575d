//! What goes into the engine and what comes out. Every type is plain data and serde-serializable,
//! so the same streams can be journaled, replayed, or cross a local socket.

use crate::core::book::{BookSide, PriceConvention};
use crate::core::control::{MarketState, TradingState};
use crate::core::market::{MarketStatus, PriceRange, Ticker};
use crate::core::num::{Count, Money, Price};
use crate::core::order::{ClientOrderId, Fill, OrderId, OrderReport, TradeId};
use crate::core::portfolio::MarketResult;
use crate::core::risk::{EventStructure, Refusal, RiskLimits, Side, TimeInForce};
use crate::core::strategy::{FairValue, StrategyParams};

/// One input to [`super::Engine::handle`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "input")]
pub enum Input {
    Market(MarketInput),
    Private(PrivateInput),
    Gateway(GatewayResult),
    Command(Command),
    Exchange(ExchangeInput),
    FairValue(FairValue),
    /// A new estimate of `exchange clock − wall clock`.
    ClockOffset {
        offset_ms: i64,
    },
    /// Periodic: ages, expiries, sweeps, breach evaluation.
    Tick,
}

/// Public market data and book bookkeeping from the WS layer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum MarketInput {
    Snapshot {
        ticker: Ticker,
        /// YES bids `(price, size)`.
        yes: Vec<(Price, Count)>,
        /// NO bids `(price, size)`, priced per `convention`.
        no: Vec<(Price, Count)>,
        convention: PriceConvention,
        ts_ms: Option<i64>,
    },
    Delta {
        ticker: Ticker,
        side: BookSide,
        price: Price,
        #[serde(with = "crate::core::num::signed_count")]
        delta: Count,
        convention: PriceConvention,
        ts_ms: Option<i64>,
    },
    Trade {
        ticker: Ticker,
        yes_price: Price,
        count: Count,
        taker_side: Side,
        ts_ms: i64,
    },
    Ticker {
        ticker: Ticker,
        last_price: Option<Price>,
        yes_bid: Option<Price>,
        yes_ask: Option<Price>,
        ts_ms: i64,
    },
    /// The feed skipped a sequence number for these markets: HOLD while they resync.
    ResyncNeeded { tickers: Vec<Ticker> },
    /// Reference data for a market (from REST `GET /markets` or lifecycle events).
    Info(MarketInfo),
}

/// What the engine needs to know about a market besides its book.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MarketInfo {
    pub ticker: Ticker,
    pub event_ticker: Option<String>,
    /// The market's `price_ranges`; whole cents if empty.
    pub price_ranges: Vec<PriceRange>,
    /// Close on the exchange clock, Unix ms.
    pub close_ms: Option<i64>,
    pub status: MarketStatus,
    /// Position within its event's strike ladder (ascending), when the event is a ladder.
    pub strike_rank: Option<u32>,
}

/// Events about our own account.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PrivateInput {
    Fill {
        fill: Fill,
        /// The exchange's position after this fill (`post_position_fp`), when sent.
        #[serde(with = "crate::core::num::signed_count_opt")]
        post_position: Option<Count>,
    },
    UserOrder(OrderReport),
    MarketPosition {
        ticker: Ticker,
        #[serde(with = "crate::core::num::signed_count")]
        position: Count,
        /// `position_cost_dollars`, when sent.
        cost: Option<Money>,
    },
    /// The exchange's available balance (`balance_dollars`) as of exchange time `as_of_ms`
    /// (now, if unknown); our newer fills are added to it.
    Balance {
        available: Money,
        as_of_ms: Option<i64>,
    },
}

/// Which write a gateway result answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    Place,
    Amend,
    Decrease,
    Cancel,
}

/// What became of an intent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum GatewayResult {
    Placed {
        client_order_id: ClientOrderId,
        order_id: OrderId,
        fill_count: Count,
        remaining_count: Count,
    },
    Amended {
        client_order_id: ClientOrderId,
        order_id: OrderId,
        price: Price,
        fill_count: Count,
        remaining_count: Count,
    },
    Decreased {
        client_order_id: ClientOrderId,
        remaining_count: Count,
    },
    Canceled {
        client_order_id: ClientOrderId,
        reduced_by: Count,
    },
    Rejected {
        client_order_id: ClientOrderId,
        write: WriteKind,
        http_status: Option<u16>,
        code: String,
        details: String,
    },
    /// The answer to a place or amend was lost: the order's state is unknown.
    Lost {
        client_order_id: ClientOrderId,
        write: WriteKind,
    },
    /// An unknown order looked up (by `client_order_id`, newer than the send).
    Resolved {
        client_order_id: ClientOrderId,
        found: Option<OrderReport>,
    },
    /// The exchange cancel-all went through (or every attempt failed).
    CancelAllDone { ok: bool },
}

/// Operator commands. Kill is always accepted; everything else may be refused with a reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    Arm {
        ticker: Ticker,
    },
    Pause {
        ticker: Ticker,
    },
    Resume {
        ticker: Ticker,
    },
    Disarm {
        ticker: Ticker,
    },
    OverrideManual {
        ticker: Ticker,
    },
    ReleaseManual {
        ticker: Ticker,
    },
    Reducing {
        ticker: Ticker,
    },
    SetStrategy {
        ticker: Ticker,
        params: StrategyParams,
    },
    SetLimits {
        limits: RiskLimits,
    },
    PlaceManual(ManualOrder),
    AmendManual {
        client_order_id: ClientOrderId,
        price: Price,
        count: Count,
    },
    CancelManual {
        client_order_id: ClientOrderId,
    },
    CancelAllInMarket {
        ticker: Ticker,
    },
    Kill {
        reason: String,
    },
    /// Ask for a token to confirm a dangerous action; answered by a `ConfirmationIssued` audit.
    RequestConfirmation {
        action: ConfirmAction,
    },
    ResetHalt {
        token: u64,
    },
    FlattenAll {
        token: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmAction {
    ResetHalt,
    FlattenAll,
}

/// A manual order ticket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManualOrder {
    pub ticker: Ticker,
    pub side: Side,
    pub price: Price,
    pub count: Count,
    pub time_in_force: TimeInForce,
    pub post_only: bool,
    pub reduce_only: bool,
    pub expiration_s: Option<i64>,
}

/// Exchange-wide and market lifecycle news.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ExchangeInput {
    /// `GET /exchange/status`: whether trading is active.
    TradingActive {
        active: bool,
    },
    /// Lifecycle: the market was deactivated (paused) or reactivated.
    MarketPaused {
        ticker: Ticker,
        paused: bool,
    },
    MarketStatus {
        ticker: Ticker,
        status: MarketStatus,
    },
    CloseTime {
        ticker: Ticker,
        close_ms: i64,
    },
    /// The market settled: positions are paid out.
    Settled {
        ticker: Ticker,
        result: MarketResult,
        /// The settlement fee the exchange charged (`fee_cost`).
        fee: Money,
        ts_ms: i64,
    },
    /// An event's markets settle together in this way.
    EventStructure {
        event_ticker: String,
        structure: EventStructure,
    },
    /// One of our order groups was triggered at the exchange: the desk halts.
    OrderGroupTriggered {
        order_group_id: String,
    },
}

/// An order intent for the gateway.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "intent")]
pub enum OrderIntent {
    Place {
        client_order_id: ClientOrderId,
        ticker: Ticker,
        side: Side,
        price: Price,
        count: Count,
        time_in_force: TimeInForce,
        post_only: bool,
        reduce_only: bool,
        /// Unix seconds (Kalshi's `expiration_time`).
        expiration_s: Option<i64>,
        cancel_order_on_pause: bool,
        /// Automated orders live in the desk's order group.
        order_group_id: Option<String>,
        /// An engine-issued flatten order (IOC, reduce-only, confirmed by the operator): the
        /// only non-cancel write the gateway lets through while HALTED.
        flatten_permit: bool,
    },
    Amend {
        order_id: OrderId,
        client_order_id: ClientOrderId,
        ticker: Ticker,
        side: Side,
        price: Price,
        /// Kalshi's amend `count`: the new total = already filled + desired remaining.
        count: Count,
        expiration_s: Option<i64>,
    },
    /// Shrink a resting order in place (keeps its queue position, unlike an amend).
    Decrease {
        order_id: OrderId,
        client_order_id: ClientOrderId,
        ticker: Ticker,
        /// The new remaining size.
        reduce_to: Count,
    },
    Cancel {
        /// `None` while the place is still in flight: the gateway cancels once the id is known.
        order_id: Option<OrderId>,
        client_order_id: ClientOrderId,
        ticker: Ticker,
    },
    /// `DELETE /portfolio/events/orders`.
    CancelAll,
    /// Trigger the desk's order groups at the exchange.
    TriggerOrderGroups,
}

impl OrderIntent {
    /// Cancels (and cancel-all, group triggers) are the only writes allowed while halted.
    pub fn is_cancel(&self) -> bool {
        matches!(
            self,
            OrderIntent::Cancel { .. } | OrderIntent::CancelAll | OrderIntent::TriggerOrderGroups
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmLevel {
    Warning,
    Critical,
}

/// Something the operator must see.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Alarm {
    pub level: AlarmLevel,
    pub text: String,
}

/// Who asked for an order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Operator,
    Strategy,
    Flatten,
}

/// One entry of the ordered audit stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEvent {
    /// Strictly increasing, from 1, for the engine's life.
    pub seq: u64,
    pub mono_ns: u64,
    pub wall_ms: i64,
    pub event: AuditKind,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AuditKind {
    IntentEmitted {
        origin: Origin,
        intent: OrderIntent,
    },
    OrderRefused {
        origin: Origin,
        ticker: Ticker,
        refusal: Refusal,
    },
    CommandRefused {
        command: String,
        reason: String,
    },
    ControlChanged {
        ticker: Ticker,
        from: MarketState,
        to: MarketState,
    },
    TradingChanged {
        state: TradingState,
    },
    Killed {
        reason: String,
        cancels: usize,
    },
    ConfirmationIssued {
        action: ConfirmAction,
        token: u64,
    },
    OrderAcked {
        client_order_id: ClientOrderId,
        order_id: OrderId,
    },
    OrderRejected {
        client_order_id: ClientOrderId,
        code: String,
        business: bool,
    },
    OrderCanceled {
        client_order_id: ClientOrderId,
        reduced_by: Count,
    },
    OrderUnknown {
        client_order_id: ClientOrderId,
    },
    UnknownResolved {
        client_order_id: ClientOrderId,
        found: bool,
    },
    Fill {
        trade_id: TradeId,
        ticker: Ticker,
        side: Side,
        yes_price: Price,
        count: Count,
        fee_cost: Money,
        #[serde(with = "crate::core::num::signed_count")]
        position: Count,
    },
    DuplicateFill {
        trade_id: TradeId,
    },
    Settled {
        ticker: Ticker,
        result: MarketResult,
        payout: Money,
        realized: Money,
    },
    PositionDrift {
        ticker: Ticker,
        #[serde(with = "crate::core::num::signed_count")]
        ours: Count,
        #[serde(with = "crate::core::num::signed_count")]
        exchange: Count,
    },
    StrategySet {
        ticker: Ticker,
        strategy: String,
    },
    Alarm(Alarm),
}

/// Everything one `handle` call produced, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outputs {
    pub intents: Vec<OrderIntent>,
    pub alarms: Vec<Alarm>,
    pub audits: Vec<AuditEvent>,
    /// Books the engine found inconsistent (negative level, crossed): the WS layer should fetch
    /// fresh snapshots for them.
    pub resync_requests: Vec<Ticker>,
    /// Set when this call halted the desk (the reason): the runtime raises the shared halted
    /// flag and journals it in the reserved slot.
    pub halted: Option<String>,
}

impl Outputs {
    pub fn is_empty(&self) -> bool {
        self.intents.is_empty()
            && self.alarms.is_empty()
            && self.audits.is_empty()
            && self.resync_requests.is_empty()
            && self.halted.is_none()
    }
}
