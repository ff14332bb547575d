//! The order ticket: what the operator is about to send, in the terms they think in (buy or sell,
//! YES or NO, that outcome's price), converted to the engine's YES-price order, with a preview
//! from walking the visible book and a local pre-check of the risk gate's rules.

use crate::core::book::Level;
use crate::core::control::{MarketState, TradingState};
use crate::core::engine::ManualOrder;
use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};
use crate::core::order::ClientOrderId;
use crate::core::risk::{Side, TimeInForce};
use crate::runtime::snapshot::MarketView;
use crate::tui::fmt;

const CENT: i64 = 10_000;
const DOLLAR: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Yes,
    No,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeAction {
    Buy,
    Sell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketField {
    Outcome,
    Action,
    Price,
    Count,
    TimeInForce,
    PostOnly,
}

impl TicketField {
    const ORDER: [TicketField; 6] = [
        TicketField::Outcome,
        TicketField::Action,
        TicketField::Price,
        TicketField::Count,
        TicketField::TimeInForce,
        TicketField::PostOnly,
    ];

    pub fn next(self) -> TicketField {
        let i = Self::ORDER.iter().position(|f| *f == self).unwrap_or(0);
        Self::ORDER[(i + 1) % Self::ORDER.len()]
    }

    pub fn prev(self) -> TicketField {
        let i = Self::ORDER.iter().position(|f| *f == self).unwrap_or(0);
        Self::ORDER[(i + Self::ORDER.len() - 1) % Self::ORDER.len()]
    }
}

/// Limits the ticket pre-checks locally (the engine's gate has the final word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketLimits {
    pub max_order_contracts: Count,
    pub max_order_cost: Money,
    /// Half-width of the collar around the mid, per contract.
    pub collar: Money,
}

impl Default for TicketLimits {
    fn default() -> TicketLimits {
        TicketLimits {
            max_order_contracts: Count::from_contracts(100),
            max_order_cost: Money::from_cents(5_000),
            collar: Money::from_cents(15),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub ticker: Ticker,
    pub outcome: Outcome,
    pub action: TradeAction,
    /// Limit price of the chosen outcome.
    pub price: Price,
    pub count: Count,
    pub time_in_force: TimeInForce,
    pub post_only: bool,
    pub field: TicketField,
    /// Digits typed into the price or count field, not yet applied.
    pub typed: String,
    /// Amending this order instead of placing a new one.
    pub amend_of: Option<ClientOrderId>,
}

/// What sending the ticket would do, as far as the visible book shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub side: Side,
    pub yes_price: Price,
    /// Cost by direction of the full order at its limit.
    pub max_cost: Money,
    /// Contracts the visible book would fill now.
    pub fillable: Count,
    /// Average fill price of that part, in the chosen outcome's terms.
    pub avg_fill: Option<Price>,
    /// Average fill minus the best price, in the outcome's terms (micro-dollars, ≥ 0 is worse).
    pub slippage_micros: Option<i64>,
    /// `Ok(())` when the local pre-check passes, else the rule and its numbers.
    pub verdict: Result<(), String>,
}

impl Ticket {
    /// A new ticket at the touch for buying `outcome`: the price that would take the best offer.
    pub fn new(ticker: Ticker, outcome: Outcome, market: Option<&MarketView>) -> Ticket {
        let price = market
            .and_then(|m| match outcome {
                Outcome::Yes => m.yes_asks.first().map(|l| l.price),
                Outcome::No => m.yes_bids.first().map(|l| fmt::complement(l.price)),
            })
            .unwrap_or(Price::from_micros(500_000).unwrap_or(Price::ZERO));
        Ticket {
            ticker,
            outcome,
            action: TradeAction::Buy,
            price,
            count: Count::from_contracts(1),
            time_in_force: TimeInForce::GoodTillCanceled,
            post_only: false,
            field: TicketField::Price,
            typed: String::new(),
            amend_of: None,
        }
    }

    /// The engine's view: buying YES or selling NO is a YES bid; the YES price of a NO price
    /// is its complement.
    pub fn side_and_yes_price(&self) -> (Side, Price) {
        let side = match (self.outcome, self.action) {
            (Outcome::Yes, TradeAction::Buy) | (Outcome::No, TradeAction::Sell) => Side::Bid,
            (Outcome::Yes, TradeAction::Sell) | (Outcome::No, TradeAction::Buy) => Side::Ask,
        };
        let yes = match self.outcome {
            Outcome::Yes => self.price,
            Outcome::No => fmt::complement(self.price),
        };
        (side, yes)
    }

    pub fn to_manual(&self) -> ManualOrder {
        let (side, price) = self.side_and_yes_price();
        ManualOrder {
            ticker: self.ticker.clone(),
            side,
            price,
            count: self.count,
            time_in_force: self.time_in_force,
            post_only: self.post_only,
            reduce_only: false,
            expiration_s: None,
        }
    }

    pub fn price_step(&mut self, cents: i64) {
        self.typed.clear();
        let next = (self.price.micros() + cents * CENT).clamp(CENT, DOLLAR - CENT);
        if let Some(p) = Price::from_micros(next) {
            self.price = p;
        }
    }

    pub fn count_step(&mut self, contracts: i64) {
        self.typed.clear();
        let next = (self.count.centi() + contracts * 100).max(100);
        self.count = Count::from_centi(next);
    }

    /// A digit typed into the price (cents) or count (contracts) field.
    pub fn type_digit(&mut self, digit: char) {
        if !digit.is_ascii_digit() {
            return;
        }
        match self.field {
            TicketField::Price => {
                if self.typed.len() >= 2 {
                    self.typed.clear();
                }
                self.typed.push(digit);
                if let Ok(cents) = self.typed.parse::<i64>()
                    && let Some(p) = Price::from_cents(cents.clamp(1, 99))
                {
                    self.price = p;
                }
            }
            TicketField::Count => {
                if self.typed.len() >= 6 {
                    self.typed.clear();
                }
                self.typed.push(digit);
                if let Ok(n) = self.typed.parse::<i64>() {
                    self.count = Count::from_contracts(n);
                }
            }
            _ => {}
        }
    }

    pub fn backspace(&mut self) {
        self.typed.pop();
        match self.field {
            TicketField::Price => {
                if let Ok(cents) = self.typed.parse::<i64>()
                    && let Some(p) = Price::from_cents(cents.clamp(1, 99))
                {
                    self.price = p;
                }
            }
            TicketField::Count => {
                let n = self.typed.parse::<i64>().unwrap_or(0);
                self.count = Count::from_contracts(n);
            }
            _ => {}
        }
    }

    pub fn cycle_tif(&mut self) {
        self.time_in_force = match self.time_in_force {
            TimeInForce::GoodTillCanceled => TimeInForce::ImmediateOrCancel,
            TimeInForce::ImmediateOrCancel => TimeInForce::FillOrKill,
            TimeInForce::FillOrKill => TimeInForce::GoodTillCanceled,
        };
    }

    /// Switch YES/NO keeping the same economic order (the price becomes its complement).
    pub fn toggle_outcome(&mut self) {
        self.typed.clear();
        self.outcome = match self.outcome {
            Outcome::Yes => Outcome::No,
            Outcome::No => Outcome::Yes,
        };
        self.action = match self.action {
            TradeAction::Buy => TradeAction::Sell,
            TradeAction::Sell => TradeAction::Buy,
        };
        self.price = fmt::complement(self.price);
    }

    pub fn toggle_action(&mut self) {
        self.action = match self.action {
            TradeAction::Buy => TradeAction::Sell,
            TradeAction::Sell => TradeAction::Buy,
        };
    }

    /// Walk the visible book and pre-check the gate's local rules.
    pub fn preview(
        &self,
        market: Option<&MarketView>,
        trading: &TradingState,
        limits: &TicketLimits,
    ) -> Preview {
        let (side, yes_price) = self.side_and_yes_price();
        let empty: Vec<Level> = Vec::new();
        let levels: &Vec<Level> = match (side, market) {
            (Side::Bid, Some(m)) => &m.yes_asks,
            (Side::Ask, Some(m)) => &m.yes_bids,
            (_, None) => &empty,
        };
        // A buy takes asks at or below its limit, a sell takes bids at or above it.
        let crosses = |level: Price, limit: Price| match side {
            Side::Bid => level <= limit,
            Side::Ask => level >= limit,
        };
        let mut left = self.count.centi();
        let mut filled = 0i64;
        let mut notional = 0i128;
        for level in levels.iter() {
            if left <= 0 || !crosses(level.price, yes_price) {
                break;
            }
            let take = left.min(level.size.centi());
            filled += take;
            left -= take;
            notional += i128::from(take) * i128::from(level.price.micros());
        }
        let to_outcome = |yes: i64| match self.outcome {
            Outcome::Yes => yes,
            Outcome::No => DOLLAR - yes,
        };
        let avg_yes = (filled > 0).then(|| (notional / i128::from(filled)) as i64);
        let avg_fill = avg_yes.and_then(|a| Price::from_micros(to_outcome(a)));
        let best = levels.first().map(|l| to_outcome(l.price.micros()));
        let slippage_micros = match (avg_fill, best) {
            (Some(avg), Some(best)) => Some(match self.action {
                TradeAction::Buy => avg.micros() - best,
                TradeAction::Sell => best - avg.micros(),
            }),
            _ => None,
        };
        let per_contract = match side {
            Side::Bid => yes_price.micros(),
            Side::Ask => DOLLAR - yes_price.micros(),
        };
        let max_cost = Money::from_micros(
            (i128::from(per_contract) * i128::from(self.count.centi()) / 100) as i64,
        );
        let verdict = self.check(market, trading, limits, yes_price, max_cost);
        Preview {
            side,
            yes_price,
            max_cost,
            fillable: Count::from_centi(filled),
            avg_fill,
            slippage_micros,
            verdict,
        }
    }

    fn check(
        &self,
        market: Option<&MarketView>,
        trading: &TradingState,
        limits: &TicketLimits,
        yes_price: Price,
        max_cost: Money,
    ) -> Result<(), String> {
        if let TradingState::Halted { reason, .. } = trading {
            return Err(format!(
                "halted ({reason}): only cancels and confirmed flattens leave"
            ));
        }
        if !self.count.is_positive() {
            return Err(format!(
                "count: must be positive (got {})",
                fmt::count(self.count)
            ));
        }
        if self.count > limits.max_order_contracts {
            return Err(format!(
                "max order: {} contracts > limit {}",
                fmt::count(self.count),
                fmt::count(limits.max_order_contracts)
            ));
        }
        if max_cost > limits.max_order_cost {
            return Err(format!(
                "max cost: {} > limit {}",
                fmt::money(max_cost),
                fmt::money(limits.max_order_cost)
            ));
        }
        let Some(market) = market else {
            return Err("collar: no book for this market".to_string());
        };
        if market.state == MarketState::Reducing {
            return Err("REDUCING: only position-reducing IOC orders are allowed".to_string());
        }
        let Some(mid) = crate::tui::replica::mid_of(market) else {
            return Err("collar: no reference price (empty book)".to_string());
        };
        let distance = (yes_price.micros() - mid).abs();
        if distance > limits.collar.micros() {
            return Err(format!(
                "collar: {} is outside mid {} ± {}",
                fmt::price(yes_price),
                fmt::price(Price::from_micros(mid).unwrap_or(Price::ZERO)),
                fmt::money(limits.collar)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(cents: i64) -> Price {
        Price::from_cents(cents).expect("price")
    }

    fn market() -> MarketView {
        MarketView {
            ticker: Ticker::from("T"),
            state: MarketState::Disarmed,
            reasons: vec![],
            yes_bids: vec![
                Level {
                    price: p(44),
                    size: Count::from_contracts(5),
                },
                Level {
                    price: p(43),
                    size: Count::from_contracts(10),
                },
            ],
            yes_asks: vec![
                Level {
                    price: p(46),
                    size: Count::from_contracts(3),
                },
                Level {
                    price: p(47),
                    size: Count::from_contracts(10),
                },
            ],
            book_age_ms: Some(10),
            resyncing: false,
            position: crate::tui::adapt::flat_position(&Ticker::from("T")),
            strategy: None,
        }
    }

    #[test]
    fn buying_yes_walks_the_asks_and_reports_slippage() {
        let m = market();
        let mut t = Ticket::new(Ticker::from("T"), Outcome::Yes, Some(&m));
        assert_eq!(t.price, p(46));
        t.price = p(47);
        t.count = Count::from_contracts(5);
        let preview = t.preview(Some(&m), &TradingState::Active, &TicketLimits::default());
        assert_eq!(preview.side, Side::Bid);
        assert_eq!(preview.fillable, Count::from_contracts(5));
        // 3 @ 0.46 + 2 @ 0.47 = 2.32 / 5 = 0.464
        assert_eq!(preview.avg_fill, Price::from_micros(464_000));
        assert_eq!(preview.slippage_micros, Some(4_000));
        assert_eq!(preview.max_cost, Money::from_cents(235));
        assert_eq!(preview.verdict, Ok(()));
    }

    #[test]
    fn buying_no_is_a_yes_ask_at_the_complement() {
        let m = market();
        let t = Ticket::new(Ticker::from("T"), Outcome::No, Some(&m));
        assert_eq!(t.price, p(56), "NO ask = 1 − best YES bid");
        let order = t.to_manual();
        assert_eq!(order.side, Side::Ask);
        assert_eq!(order.price, p(44));
        let preview = t.preview(Some(&m), &TradingState::Active, &TicketLimits::default());
        assert_eq!(preview.avg_fill, Some(p(56)));
        assert_eq!(preview.max_cost, Money::from_cents(56));
    }

    #[test]
    fn pre_check_names_the_rule() {
        let m = market();
        let mut t = Ticket::new(Ticker::from("T"), Outcome::Yes, Some(&m));
        t.price = p(90);
        let v = t
            .preview(Some(&m), &TradingState::Active, &TicketLimits::default())
            .verdict;
        assert!(v.unwrap_err().starts_with("collar"));
        t.price = p(46);
        t.count = Count::from_contracts(500);
        let v = t
            .preview(Some(&m), &TradingState::Active, &TicketLimits::default())
            .verdict;
        assert!(v.unwrap_err().starts_with("max order"));
        let halted = TradingState::Halted {
            reason: "k".into(),
            at_wall_ms: 0,
        };
        let v = t
            .preview(Some(&m), &halted, &TicketLimits::default())
            .verdict;
        assert!(v.unwrap_err().starts_with("halted"));
    }

    #[test]
    fn typing_digits_sets_price_and_count() {
        let mut t = Ticket::new(Ticker::from("T"), Outcome::Yes, None);
        t.field = TicketField::Price;
        t.type_digit('3');
        t.type_digit('7');
        assert_eq!(t.price, p(37));
        t.field = TicketField::Count;
        t.typed.clear();
        t.type_digit('1');
        t.type_digit('2');
        assert_eq!(t.count, Count::from_contracts(12));
        t.toggle_outcome();
        assert_eq!(
            (t.outcome, t.action, t.price),
            (Outcome::No, TradeAction::Sell, p(63))
        );
    }
}
