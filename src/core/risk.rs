//! The risk gate and breach detection (DESIGN.md §5).
//!
//! Every order and every amend, manual or automated, passes [`check_order`] before it may leave.
//! Its inputs are plain values the engine gathers (reference price, the market's position,
//! resting and in-flight quantities, the event's legs, desk totals), so the gate is a pure
//! function that tests can drive number by number. A refusal names the rule and the numbers.
//!
//! [`BreachMonitor`] watches for conditions that halt the desk; a breach must persist for N
//! consecutive evaluations before it halts.

use std::collections::{BTreeSet, VecDeque};

use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};

pub use crate::core::order::OrderSide as Side;

/// Money arithmetic on a side, for the gate and the strategies.
pub trait SideExt {
    /// What one contract of this side costs when it opens a position: `p` for a bid, `1 − p`
    /// for an ask (it buys NO).
    fn unit_cost(self, price: Price) -> Price;
    /// The signed position change a fill of `count` makes (+YES / −NO).
    fn signed(self, count: Count) -> Count;
    fn label(self) -> &'static str;
}

impl SideExt for Side {
    fn unit_cost(self, price: Price) -> Price {
        self.outcome_price(price)
    }

    fn signed(self, count: Count) -> Count {
        match self {
            Side::Bid => count,
            Side::Ask => -count,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Side::Bid => "bid",
            Side::Ask => "ask",
        }
    }
}

/// Kalshi's time in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    GoodTillCanceled,
    ImmediateOrCancel,
    FillOrKill,
}

/// The price the collar is centred on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reference {
    /// Mid of a fresh two-sided book.
    Mid(Price),
    /// Only the bid side is present and fresh.
    BidOnly(Price),
    /// Only the ask side is present and fresh.
    AskOnly(Price),
    /// No fresh side: every order is refused.
    None,
}

impl Reference {
    pub fn price(self) -> Option<Price> {
        match self {
            Reference::Mid(p) | Reference::BidOnly(p) | Reference::AskOnly(p) => Some(p),
            Reference::None => None,
        }
    }
}

/// The limits the gate and the breach monitor enforce. Loaded from config per desk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RiskLimits {
    /// Largest order (contracts).
    pub max_order_count: Count,
    /// Largest cost of one order, by direction.
    pub max_order_cost: Money,
    /// |position + resting + in-flight| on either side, per market.
    pub max_position: Count,
    /// Worst-case loss across one event's markets.
    pub max_event_loss: Money,
    /// Sum over markets of position cost plus open-order cost.
    pub max_gross_exposure: Money,
    /// Resting plus in-flight orders, desk-wide.
    pub max_open_orders: u32,
    /// Places and amends allowed per `rate_window_ms`.
    pub max_orders_per_window: u32,
    pub rate_window_ms: u64,
    /// Write attempts per window (places and amends, accepted or refused, plus strategy
    /// cancels and decreases) that count as a runaway; halts after persistence.
    pub runaway_orders_per_window: u32,
    /// Loss (positive number) beyond which risk-increasing orders are refused and the desk halts.
    pub max_daily_loss: Money,
    /// Half-width of the price collar around the reference, per contract.
    pub collar: Money,
    /// Consecutive business rejects that count as a breach.
    pub reject_streak_limit: u32,
    /// Consecutive evaluations a breach must persist before it halts.
    pub breach_persistence: u32,
}

impl Default for RiskLimits {
    fn default() -> RiskLimits {
        RiskLimits {
            max_order_count: Count::from_contracts(100),
            max_order_cost: Money::from_cents(5_000),
            max_position: Count::from_contracts(500),
            max_event_loss: Money::from_cents(50_000),
            max_gross_exposure: Money::from_cents(200_000),
            max_open_orders: 200,
            max_orders_per_window: 20,
            rate_window_ms: 1_000,
            runaway_orders_per_window: 50,
            max_daily_loss: Money::from_cents(50_000),
            collar: Money::from_cents(10),
            reject_streak_limit: 5,
            breach_persistence: 3,
        }
    }
}

/// Why the gate allows only position-reducing orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReduceOnlyCause {
    Reducing,
    Halted,
}

/// One market's exposure excluding the order being checked (for an amend, excluding the order
/// being amended).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarketExposure {
    /// Signed: + YES, − NO.
    pub position: Count,
    pub resting_bid: Count,
    pub resting_ask: Count,
    pub in_flight_bid: Count,
    pub in_flight_ask: Count,
}

impl MarketExposure {
    pub fn pending(&self, side: Side) -> Count {
        match side {
            Side::Bid => self.resting_bid.saturating_add(self.in_flight_bid),
            Side::Ask => self.resting_ask.saturating_add(self.in_flight_ask),
        }
    }

    /// How much of an order on `side` would close existing position rather than open new, after
    /// other pending orders on that side have claimed theirs.
    pub fn closable(&self, side: Side) -> Count {
        let held_against = match side {
            Side::Bid => -self.position,
            Side::Ask => self.position,
        };
        held_against
            .saturating_sub(self.pending(side))
            .max(Count::ZERO)
    }

    /// Cost of an order on `side` given this exposure: only the opening part costs money.
    pub fn order_cost(&self, side: Side, price: Price, count: Count) -> Money {
        let opening = count.saturating_sub(self.closable(side).min(count));
        side.unit_cost(price).cost_of(opening)
    }
}

/// One open or hypothetical order in an event leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegOrder {
    pub side: Side,
    pub price: Price,
    pub count: Count,
}

/// One market of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub ticker: Ticker,
    /// Signed position (+ YES / − NO).
    pub position: Count,
    /// What the position cost (positive: money paid).
    pub position_cost: Money,
    /// Resting and in-flight orders, each of which may or may not fill.
    pub orders: Vec<LegOrder>,
}

/// How an event's markets settle together.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum EventStructure {
    /// Markets settle independently (or we do not know better).
    Independent,
    /// Brackets: at most one market settles YES; if `exhaustive`, exactly one.
    MutuallyExclusive { exhaustive: bool },
    /// Nested strikes ordered by ascending strike. `above`: market i is YES when the value is at
    /// or above strike i (so YES on i implies YES on every lower strike); otherwise "below"
    /// markets, YES when the value is under strike i.
    StrikeLadder { above: bool },
}

impl EventStructure {
    /// Every possible outcome as the set of leg indices that settle YES; `None` for independent
    /// legs (each leg is then its own two-outcome event).
    pub fn outcomes(&self, legs: usize) -> Option<Vec<BTreeSet<usize>>> {
        match self {
            EventStructure::Independent => None,
            EventStructure::MutuallyExclusive { exhaustive } => {
                let mut outcomes: Vec<BTreeSet<usize>> =
                    (0..legs).map(|i| BTreeSet::from([i])).collect();
                if !exhaustive {
                    outcomes.push(BTreeSet::new());
                }
                Some(outcomes)
            }
            EventStructure::StrikeLadder { above } => Some(
                (0..=legs)
                    .map(|region| {
                        // `region` strikes lie at or below the value.
                        if *above {
                            (0..region).collect()
                        } else {
                            (region..legs).collect()
                        }
                    })
                    .collect(),
            ),
        }
    }
}

/// Loss (positive) of an order on one leg if that leg settles `yes`, were it filled.
fn order_loss(order: &LegOrder, yes: bool) -> Money {
    let price = order.price;
    match (order.side, yes) {
        // Bought YES: lose the price if NO, gain 1 − price if YES.
        (Side::Bid, true) => -price.complement().cost_of(order.count),
        (Side::Bid, false) => price.cost_of(order.count),
        // Sold YES (≡ bought NO): lose 1 − price if YES, gain the price if NO.
        (Side::Ask, true) => price.complement().cost_of(order.count),
        (Side::Ask, false) => -price.cost_of(order.count),
    }
}

/// Worst loss of one leg if it settles `yes`: its position's loss plus, for each order, the
/// loss if that order fills and it hurts (an order that would help may not fill).
fn leg_loss(leg: &Leg, yes: bool) -> Money {
    let payout_count = match (yes, leg.position.is_positive()) {
        (true, true) => leg.position,
        (false, false) => leg.position.abs(),
        _ => Count::ZERO,
    };
    let mut loss = leg
        .position_cost
        .saturating_sub(Price::ONE.cost_of(payout_count));
    for order in &leg.orders {
        loss = loss.saturating_add(order_loss(order, yes).max(Money::ZERO));
    }
    loss
}

/// The worst-case loss over every outcome of an event, given positions and every open order.
pub fn event_worst_case_loss(legs: &[Leg], structure: &EventStructure) -> Money {
    match structure.outcomes(legs.len()) {
        None => legs.iter().fold(Money::ZERO, |total, leg| {
            total.saturating_add(leg_loss(leg, true).max(leg_loss(leg, false)))
        }),
        Some(outcomes) => outcomes
            .iter()
            .map(|yes_set| {
                legs.iter()
                    .enumerate()
                    .fold(Money::ZERO, |total, (i, leg)| {
                        total.saturating_add(leg_loss(leg, yes_set.contains(&i)))
                    })
            })
            .max()
            .unwrap_or(Money::ZERO),
    }
}

/// The event the checked market belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventExposure {
    pub event_ticker: String,
    pub structure: EventStructure,
    /// Every leg, including the checked market's (without the checked order).
    pub legs: Vec<Leg>,
}

/// Desk-wide totals, excluding the checked order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeskExposure {
    /// Σ position cost + Σ open-order cost over every market.
    pub gross_exposure: Money,
    /// Available balance as the exchange last reported it.
    pub available_balance: Money,
    /// Cost of orders sent but not yet reflected in the balance.
    pub in_flight_cost: Money,
    /// Resting plus in-flight orders.
    pub open_orders: u32,
    /// Places and amends accepted in the current rate window.
    pub orders_in_window: u32,
    /// Today's realized + mark-to-market P&L.
    pub daily_pnl: Money,
}

/// An order or amend to be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCheck {
    pub ticker: Ticker,
    pub side: Side,
    pub price: Price,
    /// For an amend: the new remaining count.
    pub count: Count,
    pub time_in_force: TimeInForce,
    pub reduce_only: bool,
    pub is_amend: bool,
    /// Whether `price` lies on the market's grid.
    pub on_grid: bool,
    pub reference: Reference,
    /// `Some` in REDUCING or HALTED.
    pub reduce_only_cause: Option<ReduceOnlyCause>,
    pub market: MarketExposure,
    pub event: Option<EventExposure>,
    pub desk: DeskExposure,
}

/// The gate's answer when an order may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approved {
    /// Cost by direction of the order (opening part only).
    pub cost: Money,
}

/// Which rule refused an order, with its numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Refusal {
    #[error("count: order count must be positive (got {count})")]
    ZeroCount { count: Count },
    #[error("grid: price {price} is not on the market's price grid")]
    OffGrid { price: Price },
    #[error("collar: no reference price (no fresh side of the book)")]
    NoReference,
    #[error("collar: price {price} is outside {reference} ± {collar}")]
    OutsideCollar {
        price: Price,
        reference: Price,
        collar: Money,
    },
    #[error("max order: count {count} exceeds {max}")]
    OrderCount { count: Count, max: Count },
    #[error("max order: cost {cost} exceeds {max}")]
    OrderCost { cost: Money, max: Money },
    #[error("position cap: {} would take position to {projected} (cap ±{cap})", .side.label())]
    PositionCap {
        side: Side,
        projected: Count,
        cap: Count,
    },
    #[error("event loss: worst case {worst} on {event} exceeds {max}")]
    EventLoss {
        event: String,
        worst: Money,
        max: Money,
    },
    #[error("gross exposure: {projected} would exceed {max}")]
    GrossExposure { projected: Money, max: Money },
    #[error("balance: cost {cost} exceeds available {available}")]
    Balance { cost: Money, available: Money },
    #[error("open orders: {open} open, max {max}")]
    OpenOrders { open: u32, max: u32 },
    #[error("order rate: {in_window} orders in {window_ms} ms, max {max}")]
    OrderRate {
        in_window: u32,
        window_ms: u64,
        max: u32,
    },
    #[error("daily loss: P&L {pnl} is at or beyond -{max_loss}; only reducing orders")]
    DailyLoss { pnl: Money, max_loss: Money },
    #[error(
        "reduce-only ({cause:?}): order must be reduce-only IOC (got reduce_only={reduce_only}, {time_in_force:?}, amend={is_amend})"
    )]
    ReduceOnlyForm {
        cause: ReduceOnlyCause,
        reduce_only: bool,
        time_in_force: TimeInForce,
        is_amend: bool,
    },
    #[error(
        "reduce-only ({cause:?}): {} {count} would not reduce position {position} (reducible {reducible})",
        .side.label()
    )]
    NotReducing {
        cause: ReduceOnlyCause,
        side: Side,
        count: Count,
        position: Count,
        reducible: Count,
    },
}

impl Refusal {
    /// The rule's short name, for counters and the log.
    pub fn rule(&self) -> &'static str {
        match self {
            Refusal::ZeroCount { .. } => "count",
            Refusal::OffGrid { .. } => "grid",
            Refusal::NoReference | Refusal::OutsideCollar { .. } => "collar",
            Refusal::OrderCount { .. } | Refusal::OrderCost { .. } => "max_order",
            Refusal::PositionCap { .. } => "position_cap",
            Refusal::EventLoss { .. } => "event_loss",
            Refusal::GrossExposure { .. } => "gross_exposure",
            Refusal::Balance { .. } => "balance",
            Refusal::OpenOrders { .. } => "open_orders",
            Refusal::OrderRate { .. } => "order_rate",
            Refusal::DailyLoss { .. } => "daily_loss",
            Refusal::ReduceOnlyForm { .. } | Refusal::NotReducing { .. } => "reduce_only",
        }
    }
}

/// The pre-trade gate. Rules run in a fixed order; the first that fails is reported.
pub fn check_order(limits: &RiskLimits, order: &OrderCheck) -> Result<Approved, Refusal> {
    let OrderCheck {
        side, price, count, ..
    } = *order;
    let market = &order.market;
    if !count.is_positive() {
        return Err(Refusal::ZeroCount { count });
    }
    if !order.on_grid {
        return Err(Refusal::OffGrid { price });
    }
    let reference = order.reference.price().ok_or(Refusal::NoReference)?;
    if price.diff(reference).abs() > limits.collar {
        return Err(Refusal::OutsideCollar {
            price,
            reference,
            collar: limits.collar,
        });
    }
    let reducible = market.closable(side);
    let reduces = count <= reducible;
    if let Some(cause) = order.reduce_only_cause {
        if !order.reduce_only
            || order.time_in_force != TimeInForce::ImmediateOrCancel
            || order.is_amend
        {
            return Err(Refusal::ReduceOnlyForm {
                cause,
                reduce_only: order.reduce_only,
                time_in_force: order.time_in_force,
                is_amend: order.is_amend,
            });
        }
        if !reduces {
            return Err(Refusal::NotReducing {
                cause,
                side,
                count,
                position: market.position,
                reducible,
            });
        }
    }
    if count > limits.max_order_count {
        return Err(Refusal::OrderCount {
            count,
            max: limits.max_order_count,
        });
    }
    let cost = market.order_cost(side, price, count);
    if cost > limits.max_order_cost {
        return Err(Refusal::OrderCost {
            cost,
            max: limits.max_order_cost,
        });
    }
    let projected = market
        .position
        .saturating_add(side.signed(market.pending(side)))
        .saturating_add(side.signed(count));
    if projected.abs() > limits.max_position && !reduces {
        return Err(Refusal::PositionCap {
            side,
            projected,
            cap: limits.max_position,
        });
    }
    if let Some(event) = &order.event {
        let mut legs = event.legs.clone();
        let new_order = LegOrder { side, price, count };
        match legs.iter_mut().find(|leg| leg.ticker == order.ticker) {
            Some(leg) => leg.orders.push(new_order),
            None => legs.push(Leg {
                ticker: order.ticker.clone(),
                position: market.position,
                position_cost: Money::ZERO,
                orders: vec![new_order],
            }),
        }
        let worst = event_worst_case_loss(&legs, &event.structure);
        let before = event_worst_case_loss(&event.legs, &event.structure);
        if worst > limits.max_event_loss && worst > before {
            return Err(Refusal::EventLoss {
                event: event.event_ticker.clone(),
                worst,
                max: limits.max_event_loss,
            });
        }
    }
    let desk = &order.desk;
    let projected_gross = desk.gross_exposure.saturating_add(cost);
    if cost > Money::ZERO && projected_gross > limits.max_gross_exposure {
        return Err(Refusal::GrossExposure {
            projected: projected_gross,
            max: limits.max_gross_exposure,
        });
    }
    let available = desk.available_balance.saturating_sub(desk.in_flight_cost);
    if cost > available {
        return Err(Refusal::Balance { cost, available });
    }
    if !order.is_amend && desk.open_orders >= limits.max_open_orders {
        return Err(Refusal::OpenOrders {
            open: desk.open_orders,
            max: limits.max_open_orders,
        });
    }
    if desk.orders_in_window >= limits.max_orders_per_window {
        return Err(Refusal::OrderRate {
            in_window: desk.orders_in_window,
            window_ms: limits.rate_window_ms,
            max: limits.max_orders_per_window,
        });
    }
    if !reduces && desk.daily_pnl <= -limits.max_daily_loss {
        return Err(Refusal::DailyLoss {
            pnl: desk.daily_pnl,
            max_loss: limits.max_daily_loss,
        });
    }
    Ok(Approved { cost })
}

/// Timestamps of recent events in a sliding window (monotonic ns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateWindow {
    stamps: VecDeque<u64>,
}

impl RateWindow {
    pub fn record(&mut self, mono_ns: u64) {
        self.stamps.push_back(mono_ns);
    }

    /// Events within the last `window_ms` up to `mono_ns`; forgets older ones.
    pub fn count(&mut self, mono_ns: u64, window_ms: u64) -> u32 {
        let window_ns = window_ms.saturating_mul(1_000_000);
        while let Some(&first) = self.stamps.front() {
            if mono_ns.saturating_sub(first) >= window_ns {
                self.stamps.pop_front();
            } else {
                break;
            }
        }
        u32::try_from(self.stamps.len()).unwrap_or(u32::MAX)
    }
}

/// How a gateway reject counts toward the reject streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectClass {
    /// The exchange refused the order on its merits (balance, size, invalid order…).
    Business,
    /// 429: our pacing, not the order.
    RateLimited,
    /// A post-only order would have crossed: normal for a maker.
    PostOnlyCross,
    /// The market is closed or paused.
    MarketClosed,
    /// Transport, 5xx, auth: not the order's fault.
    Transient,
    /// A cancel or decrease found the order already gone (filled, expired or cancelled by an
    /// earlier cancel-all): the goal of the write is met, nothing was refused.
    AlreadyGone,
}

impl RejectClass {
    /// Only business rejects count toward the streak.
    pub const fn is_business(self) -> bool {
        matches!(self, RejectClass::Business)
    }

    /// Classifies a refused write: a cancel or decrease answered `not_found` is
    /// [`RejectClass::AlreadyGone`] (after a kill the batch cancel races the cancel-all, and each
    /// order it finds gone must not count toward the reject streak or alarm the operator).
    pub fn classify_write(
        shrinks_order: bool,
        http_status: Option<u16>,
        code: &str,
        details: &str,
    ) -> RejectClass {
        if shrinks_order && code.to_ascii_lowercase().contains("not_found") {
            return RejectClass::AlreadyGone;
        }
        RejectClass::classify(http_status, code, details)
    }

    /// Classifies an HTTP status and Kalshi error code/details.
    pub fn classify(http_status: Option<u16>, code: &str, details: &str) -> RejectClass {
        let code_l = code.to_ascii_lowercase();
        let details_l = details.to_ascii_lowercase();
        if http_status == Some(429) || code_l.contains("too many requests") {
            return RejectClass::RateLimited;
        }
        if details_l.contains("post only") || code_l.contains("post_only") {
            return RejectClass::PostOnlyCross;
        }
        if code_l.contains("market_closed")
            || code_l.contains("trading_paused")
            || code_l.contains("market_paused")
        {
            return RejectClass::MarketClosed;
        }
        match http_status {
            None => RejectClass::Transient,
            Some(status) if status >= 500 || status == 401 || status == 403 => {
                RejectClass::Transient
            }
            Some(_) => RejectClass::Business,
        }
    }
}

/// A condition that halts the desk once it persists.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum HaltRule {
    DailyLoss,
    OrderRate,
    PositionCap,
    RejectStreak,
}

impl HaltRule {
    const ALL: [HaltRule; 4] = [
        HaltRule::DailyLoss,
        HaltRule::OrderRate,
        HaltRule::PositionCap,
        HaltRule::RejectStreak,
    ];

    const fn index(self) -> usize {
        match self {
            HaltRule::DailyLoss => 0,
            HaltRule::OrderRate => 1,
            HaltRule::PositionCap => 2,
            HaltRule::RejectStreak => 3,
        }
    }
}

/// What the monitor measures on each evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BreachInputs {
    pub daily_pnl: Money,
    /// Order attempts (accepted or refused) in the current rate window.
    pub attempts_in_window: u32,
    /// The market with the largest |position|, if any.
    pub largest_position: Option<(Ticker, Count)>,
    pub business_reject_streak: u32,
}

/// A persisted breach: the rule and its numbers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Breach {
    pub rule: HaltRule,
    pub detail: String,
    pub evaluations: u32,
}

/// Counts consecutive evaluations in breach for each rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BreachMonitor {
    consecutive: [u32; 4],
}

impl BreachMonitor {
    pub fn consecutive(&self, rule: HaltRule) -> u32 {
        self.consecutive[rule.index()]
    }

    /// One evaluation. Returns the first rule whose breach has persisted for
    /// `limits.breach_persistence` consecutive evaluations.
    pub fn evaluate(&mut self, limits: &RiskLimits, inputs: &BreachInputs) -> Option<Breach> {
        let mut fired = None;
        for rule in HaltRule::ALL {
            let detail = breach_detail(rule, limits, inputs);
            let slot = &mut self.consecutive[rule.index()];
            match detail {
                Some(detail) => {
                    *slot = slot.saturating_add(1);
                    if *slot >= limits.breach_persistence.max(1) && fired.is_none() {
                        fired = Some(Breach {
                            rule,
                            detail,
                            evaluations: *slot,
                        });
                    }
                }
                None => *slot = 0,
            }
        }
        fired
    }
}

fn breach_detail(rule: HaltRule, limits: &RiskLimits, inputs: &BreachInputs) -> Option<String> {
    match rule {
        HaltRule::DailyLoss => (inputs.daily_pnl < -limits.max_daily_loss).then(|| {
            format!(
                "daily loss: P&L {} beyond -{}",
                inputs.daily_pnl, limits.max_daily_loss
            )
        }),
        HaltRule::OrderRate => {
            (inputs.attempts_in_window > limits.runaway_orders_per_window).then(|| {
                format!(
                    "order rate: {} attempts in {} ms, runaway limit {}",
                    inputs.attempts_in_window,
                    limits.rate_window_ms,
                    limits.runaway_orders_per_window
                )
            })
        }
        HaltRule::PositionCap => inputs
            .largest_position
            .as_ref()
            .filter(|(_, position)| position.abs() > limits.max_position)
            .map(|(ticker, position)| {
                format!(
                    "position cap: {ticker} position {position} beyond ±{}",
                    limits.max_position
                )
            }),
        HaltRule::RejectStreak => (inputs.business_reject_streak >= limits.reject_streak_limit
            && limits.reject_streak_limit > 0)
            .then(|| {
                format!(
                    "reject streak: {} business rejects in a row, limit {}",
                    inputs.business_reject_streak, limits.reject_streak_limit
                )
            }),
    }
}

#[cfg(test)]
mod tests;
