//! Plain data the exchange is configured with and reports in: specs, statuses, errors, the order log.

use crate::core::market::Ticker;
pub use crate::core::market::{MarketStatus, PriceRange};
pub use crate::core::matching::{BookSide, SelfTradePrevention, TimeInForce};
use crate::core::num::{Count, Money, Price};
pub use crate::core::portfolio::fees::{BalancePrecision, FeeMultiplier, FeeType};

/// Which contract a book level or position holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutcomeSide {
    Yes,
    No,
}

impl OutcomeSide {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeSide::Yes => "yes",
            OutcomeSide::No => "no",
        }
    }
}

/// Wire names and collateral of [`BookSide`] (defined by core::matching).
pub trait BookSideExt: Sized {
    fn wire_name(self) -> &'static str;
    /// `bid` ⇔ `yes`, `ask` ⇔ `no` (DIGEST 4.5: reported direction).
    fn outcome(self) -> OutcomeSide;
    /// Collateral one contract of this order locks at YES price `price`: a bid pays `p`, an ask
    /// (a NO bid at `1 − p`) pays `1 − p`.
    fn cost_per_contract(self, price: Price) -> Price;
}

impl BookSideExt for BookSide {
    fn wire_name(self) -> &'static str {
        match self {
            BookSide::Bid => "bid",
            BookSide::Ask => "ask",
        }
    }

    fn outcome(self) -> OutcomeSide {
        match self {
            BookSide::Bid => OutcomeSide::Yes,
            BookSide::Ask => OutcomeSide::No,
        }
    }

    fn cost_per_contract(self, price: Price) -> Price {
        match self {
            BookSide::Bid => price,
            BookSide::Ask => price.complement(),
        }
    }
}

pub fn parse_book_side(text: &str) -> Option<BookSide> {
    match text {
        "bid" => Some(BookSide::Bid),
        "ask" => Some(BookSide::Ask),
        _ => None,
    }
}

pub fn parse_time_in_force(text: &str) -> Option<TimeInForce> {
    match text {
        "fill_or_kill" => Some(TimeInForce::FillOrKill),
        "good_till_canceled" => Some(TimeInForce::GoodTillCanceled),
        "immediate_or_cancel" => Some(TimeInForce::ImmediateOrCancel),
        _ => None,
    }
}

pub fn time_in_force_str(tif: TimeInForce) -> &'static str {
    match tif {
        TimeInForce::FillOrKill => "fill_or_kill",
        TimeInForce::GoodTillCanceled => "good_till_canceled",
        TimeInForce::ImmediateOrCancel => "immediate_or_cancel",
    }
}

pub fn parse_stp(text: &str) -> Option<SelfTradePrevention> {
    match text {
        "taker_at_cross" => Some(SelfTradePrevention::TakerAtCross),
        "maker" => Some(SelfTradePrevention::Maker),
        _ => None,
    }
}

pub fn stp_str(stp: SelfTradePrevention) -> &'static str {
    match stp {
        SelfTradePrevention::TakerAtCross => "taker_at_cross",
        SelfTradePrevention::Maker => "maker",
    }
}

/// Order status as `/portfolio/orders` reports it (`pending` was removed Nov 2025).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Resting,
    Canceled,
    Executed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Resting => "resting",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Executed => "executed",
        }
    }

    pub fn parse(text: &str) -> Option<OrderStatus> {
        match text {
            "resting" => Some(OrderStatus::Resting),
            "canceled" => Some(OrderStatus::Canceled),
            "executed" => Some(OrderStatus::Executed),
            _ => None,
        }
    }
}

/// How a market resolved. `Scalar` carries the YES settlement value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketResult {
    Yes,
    No,
    Scalar(Price),
}

impl MarketResult {
    /// What one YES contract pays.
    pub fn yes_value(self) -> Price {
        match self {
            MarketResult::Yes => Price::ONE,
            MarketResult::No => Price::ZERO,
            MarketResult::Scalar(value) => value,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MarketResult::Yes => "yes",
            MarketResult::No => "no",
            MarketResult::Scalar(_) => "scalar",
        }
    }
}

/// A series as the simulator lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSpec {
    pub ticker: String,
    pub title: String,
    pub category: String,
    pub frequency: String,
    pub tags: Vec<String>,
    pub fee_type: FeeType,
    pub fee_multiplier: FeeMultiplier,
    pub contract_url: String,
    pub contract_terms_url: String,
}

/// An event: a group of markets under one series.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSpec {
    pub event_ticker: String,
    pub series_ticker: String,
    pub title: String,
    pub sub_title: String,
    pub mutually_exclusive: bool,
    pub strike_date_ms: Option<i64>,
    pub fee_type_override: Option<FeeType>,
    pub fee_multiplier_override: Option<FeeMultiplier>,
}

/// A market with its schedule. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketSpec {
    pub ticker: String,
    pub event_ticker: String,
    pub title: String,
    pub yes_sub_title: String,
    pub no_sub_title: String,
    pub rules_primary: String,
    pub rules_secondary: String,
    /// `binary` or `scalar`.
    pub market_type: String,
    pub strike_type: Option<String>,
    /// Strikes are the underlying's values (an index level, a temperature), not money.
    pub floor_strike: Option<f64>,
    pub cap_strike: Option<f64>,
    pub price_level_structure: String,
    pub price_ranges: Vec<PriceRange>,
    pub created_ms: i64,
    pub open_ms: i64,
    pub close_ms: i64,
    /// When the outcome is expected to be known; a market with a `scheduled_result` is determined
    /// by `advance` once this time has passed and the market is closed.
    pub expected_expiration_ms: i64,
    pub latest_expiration_ms: i64,
    /// Settlement follows determination after this many seconds.
    pub settlement_timer_seconds: i64,
    pub can_close_early: bool,
    pub fractional_trading_enabled: bool,
    /// The outcome `advance` determines at expiration, if the simulator knows it in advance.
    pub scheduled_result: Option<MarketResult>,
}

/// One day's trading hours in the exchange schedule (`"HH:MM"` ET, as the spec sends them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyHours {
    pub open_time: String,
    pub close_time: String,
}

/// `GET /exchange/schedule` content. The simulator trades around the clock by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    /// Seven entries, Monday first.
    pub weekly_hours: [Vec<DailyHours>; 7],
    /// `(start_ms, end_ms)` of planned maintenance.
    pub maintenance_windows: Vec<(i64, i64)>,
}

impl Default for ScheduleSpec {
    fn default() -> ScheduleSpec {
        let all_day = || {
            vec![DailyHours {
                open_time: "00:00".to_string(),
                close_time: "23:59".to_string(),
            }]
        };
        ScheduleSpec {
            weekly_hours: std::array::from_fn(|_| all_day()),
            maintenance_windows: Vec::new(),
        }
    }
}

/// Exchange-wide settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeConfig {
    /// Balances are kept at this precision (DIGEST 4.8): $0.0001 for direct members (the
    /// default), $0.01 otherwise. The rounding fee restores it after every fill.
    pub balance_precision: BalancePrecision,
    /// Fee model for markets whose series is unknown.
    pub default_fee_type: FeeType,
    pub default_fee_multiplier: FeeMultiplier,
    /// `exchange_index` echoed on every record (the simulator runs one shard).
    pub exchange_index: i32,
    /// Rolling window of order groups' contracts limit.
    pub order_group_window_ms: i64,
    /// Kalshi's cap on open orders per user.
    pub max_open_orders_per_user: usize,
    pub schedule: ScheduleSpec,
}

impl Default for ExchangeConfig {
    fn default() -> ExchangeConfig {
        ExchangeConfig {
            balance_precision: BalancePrecision::Direct,
            default_fee_type: FeeType::Quadratic,
            default_fee_multiplier: FeeMultiplier::ONE,
            exchange_index: 0,
            order_group_window_ms: 15_000,
            max_open_orders_per_user: 200_000,
            schedule: ScheduleSpec::default(),
        }
    }
}

/// An error the REST layer sends as Kalshi's error envelope (DIGEST 9).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub details: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> ApiError {
        self.details = Some(details.into());
        self
    }

    pub fn invalid_order(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "invalid_order", message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "bad_request", message)
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(404, "not_found", what)
    }

    pub fn market_closed(ticker: &str) -> ApiError {
        ApiError::new(
            409,
            "market_closed",
            format!("market {ticker} is not open for trading"),
        )
    }

    pub fn balance_too_low(needed: Money, available: Money) -> ApiError {
        ApiError::new(
            400,
            "available_balance_too_low",
            "available balance too low",
        )
        .with_details(format!(
            "order needs {} of collateral, available {}",
            needed.to_dollars(),
            available.to_dollars()
        ))
    }
}

/// The kind of a write in the order log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    CreateOrder,
    /// One item of a batch create (each item is logged on its own).
    BatchCreateItem,
    CancelOrder,
    BatchCancelItem,
    CancelAll,
    AmendOrder,
    DecreaseOrder,
    CreateOrderGroup,
    DeleteOrderGroup,
    ResetOrderGroup,
    TriggerOrderGroup,
    UpdateOrderGroupLimit,
}

impl WriteKind {
    /// A create or amend: a write that can add exposure, which no halted desk may get accepted
    /// (cancels, decreases and group triggers only take it away).
    pub const fn adds_exposure(self) -> bool {
        matches!(
            self,
            WriteKind::CreateOrder | WriteKind::BatchCreateItem | WriteKind::AmendOrder
        )
    }
}

/// What the exchange made of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    Accepted,
    Refused { status: u16, code: String },
}

/// One write as it reached the exchange: the evidence tests use to prove what was accepted when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLogEntry {
    pub now_ms: i64,
    pub user_id: String,
    pub subaccount: Option<u32>,
    pub kind: WriteKind,
    pub ticker: Option<Ticker>,
    pub order_id: Option<String>,
    pub client_order_id: Option<String>,
    pub order_group_id: Option<String>,
    /// For creates: side, YES price and count as requested (after parsing).
    pub side: Option<BookSide>,
    pub price: Option<Price>,
    pub count: Option<Count>,
    pub outcome: WriteOutcome,
}
