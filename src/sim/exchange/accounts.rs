//! Members' money and positions: cash, collateral locked by resting orders, positions with cost
//! basis, fills and settlements.
//!
//! Collateral rule (what the simulator implements):
//! - a YES bid at `p` locks `p` per contract; a YES ask (a NO bid at `1 − p`) locks `1 − p`;
//! - the part of an order that would reduce an existing opposite position locks nothing: at
//!   placement the order *claims* up to `|opposite position|` minus what other resting orders of
//!   the same direction in that market and subaccount already claim, and only the rest is locked;
//! - a fill consumes the claim first, then the locked part (at the order's own limit price); the
//!   locked money is released and the fill's real cash flow is booked from the position it meets;
//! - cancel and decrease release locked money first, then the claim;
//! - after every match, each touched member's resting orders in that market are re-fitted to
//!   the new position (oldest orders claim first), so claims never outlive the position they
//!   reduce. If that needs more money than is available, `available` goes below zero and new
//!   orders are refused until money is freed. Kalshi's exact rule is not published.
//!
//! `available` (Kalshi's `balance`) = cash − locked collateral.

use std::collections::BTreeMap;

use crate::core::market::Ticker;
use crate::core::num::{CENTI, Count, MICROS, Money, Price};

use super::types::{ApiError, BalancePrecision, BookSide, BookSideExt, MarketResult, OutcomeSide};

/// Highest subaccount number (0 = primary).
pub const MAX_SUBACCOUNT: u32 = 63;

/// A member's position in one market.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// Positive = YES contracts, negative = NO contracts.
    pub position: Count,
    /// What the open position cost (always ≥ 0): Kalshi's `market_exposure` / `position_cost`.
    pub cost: Money,
    /// Gross value traded (price paid per contract bought, either side).
    pub total_traded: Money,
    pub realized_pnl: Money,
    pub fees_paid: Money,
    /// Fees paid since the position was last flat.
    pub position_fees: Money,
    /// Contracts traded.
    pub volume: Count,
    pub last_updated_ms: i64,
}

/// What a fill did to a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillEffect {
    /// Signed cash the trade moves before fees: negative when paying to open, positive when
    /// closing (a YES+NO pair pays out $1).
    pub revenue: Money,
    pub closed: Count,
    pub opened: Count,
}

/// `count × price` exactly, where `price` may be any micro-dollar amount; rounded toward −∞.
pub fn money_floor(price: Price, count: Count) -> Money {
    let product = i128::from(price.micros()) * i128::from(count.centi());
    let value = product.div_euclid(i128::from(CENTI));
    Money::from_micros(i64::try_from(value).unwrap_or(i64::MAX))
}

/// `count × price` rounded toward +∞ (collateral is never under-locked).
pub fn money_ceil(price: Price, count: Count) -> Money {
    price.cost_of(count)
}

/// `total × part / whole` rounded toward zero, for pro-rating a cost basis.
fn pro_rata(total: Money, part: Count, whole: Count) -> Money {
    if whole.is_zero() {
        return Money::ZERO;
    }
    let value = i128::from(total.micros()) * i128::from(part.centi()) / i128::from(whole.centi());
    Money::from_micros(i64::try_from(value).unwrap_or(i64::MAX))
}

impl Position {
    /// Book a fill of `count` contracts on `side` at YES price `price`. Buying YES against a NO
    /// position closes it (each closed pair is worth $1), and the other way round.
    pub fn apply_fill(
        &mut self,
        side: BookSide,
        price: Price,
        count: Count,
        now_ms: i64,
    ) -> FillEffect {
        let paid_per_contract = side.cost_per_contract(price);
        let opposite = match side {
            BookSide::Bid => (-self.position).max(Count::ZERO),
            BookSide::Ask => self.position.max(Count::ZERO),
        };
        let closed = count.min(opposite);
        let opened = count.saturating_sub(closed);
        // Closing k contracts of the opposite side: we pay `paid_per_contract` for k of ours and
        // the pair pays $1, so we receive `1 − paid_per_contract` per contract.
        let close_proceeds = money_floor(paid_per_contract.complement(), closed);
        let open_cost = money_ceil(paid_per_contract, opened);
        if !closed.is_zero() {
            let held = self.position.abs();
            let removed_cost = if closed == held {
                self.cost
            } else {
                pro_rata(self.cost, closed, held)
            };
            self.cost = self.cost.saturating_sub(removed_cost);
            self.realized_pnl = self
                .realized_pnl
                .saturating_add(close_proceeds.saturating_sub(removed_cost));
        }
        self.cost = self.cost.saturating_add(open_cost);
        let signed = match side {
            BookSide::Bid => count,
            BookSide::Ask => -count,
        };
        self.position = self.position.saturating_add(signed);
        if self.position.is_zero() {
            self.cost = Money::ZERO;
        }
        self.total_traded = self
            .total_traded
            .saturating_add(money_ceil(paid_per_contract, count));
        self.volume = self.volume.saturating_add(count);
        self.last_updated_ms = now_ms;
        FillEffect {
            revenue: close_proceeds.saturating_sub(open_cost),
            closed,
            opened,
        }
    }

    /// Book a fee paid on a fill of this position.
    pub fn add_fee(&mut self, fee: Money) {
        self.fees_paid = self.fees_paid.saturating_add(fee);
        self.position_fees = if self.position.is_zero() {
            Money::ZERO
        } else {
            self.position_fees.saturating_add(fee)
        };
    }

    pub fn outcome_side(&self) -> Option<OutcomeSide> {
        if self.position.is_positive() {
            Some(OutcomeSide::Yes)
        } else if self.position.is_negative() {
            Some(OutcomeSide::No)
        } else {
            None
        }
    }
}

/// A fill as the member sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillRecord {
    pub trade_id: String,
    pub order_id: String,
    pub user_id: String,
    pub subaccount: u32,
    pub ticker: Ticker,
    pub side: BookSide,
    pub price: Price,
    pub count: Count,
    pub is_taker: bool,
    /// Net fee of this fill (trade fee + rounding fee − rebate).
    pub fee: Money,
    pub post_position: Count,
    pub client_order_id: String,
    pub ts_ms: i64,
}

/// A settled position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementRecord {
    pub user_id: String,
    pub subaccount: u32,
    pub ticker: Ticker,
    pub event_ticker: String,
    pub result: MarketResult,
    pub yes_count: Count,
    pub yes_total_cost: Money,
    pub no_count: Count,
    pub no_total_cost: Money,
    /// What the settlement paid into the balance.
    pub revenue: Money,
    pub fee_cost: Money,
    pub settled_ms: i64,
}

/// One subaccount's money and positions.
#[derive(Debug, Clone, Default)]
pub struct Subaccount {
    pub cash: Money,
    /// Collateral locked by resting orders.
    pub locked: Money,
    pub positions: BTreeMap<Ticker, Position>,
    pub updated_ms: i64,
}

impl Subaccount {
    /// Kalshi's `balance`: cash not locked by resting orders.
    pub fn available(&self) -> Money {
        self.cash.saturating_sub(self.locked)
    }

    pub fn position(&self, ticker: &Ticker) -> Count {
        self.positions
            .get(ticker)
            .map(|p| p.position)
            .unwrap_or(Count::ZERO)
    }

    /// Lock `amount` for a new order, or refuse with `available_balance_too_low`.
    pub fn lock(&mut self, amount: Money) -> Result<(), ApiError> {
        let available = self.available();
        if amount > available {
            return Err(ApiError::balance_too_low(amount, available));
        }
        self.locked = self.locked.saturating_add(amount);
        Ok(())
    }

    /// Give back locked collateral.
    pub fn release(&mut self, amount: Money) {
        self.locked = self.locked.saturating_sub(amount).max(Money::ZERO);
    }

    /// Settle this subaccount's position in `ticker` at the market's result. Returns the record,
    /// or `None` when it held no position. The payout is floored to `balance_precision`.
    pub fn settle(
        &mut self,
        owner: (&str, u32),
        market: &SettledMarket<'_>,
        balance_precision: BalancePrecision,
    ) -> Option<SettlementRecord> {
        let (user_id, subaccount) = owner;
        let SettledMarket {
            ticker,
            event_ticker,
            result,
            now_ms,
        } = *market;
        let position = self.positions.remove(ticker)?;
        if position.position.is_zero() {
            return None;
        }
        let yes_value = result.yes_value();
        let (yes_count, no_count, payout_per_contract) = if position.position.is_positive() {
            (position.position, Count::ZERO, yes_value)
        } else {
            (Count::ZERO, position.position.abs(), yes_value.complement())
        };
        let held = position.position.abs();
        let payout = balance_precision.floor(money_floor(payout_per_contract, held));
        self.cash = self.cash.saturating_add(payout);
        self.updated_ms = now_ms;
        let (yes_total_cost, no_total_cost) = if position.position.is_positive() {
            (position.cost, Money::ZERO)
        } else {
            (Money::ZERO, position.cost)
        };
        Some(SettlementRecord {
            user_id: user_id.to_string(),
            subaccount,
            ticker: ticker.clone(),
            event_ticker: event_ticker.to_string(),
            result,
            yes_count,
            yes_total_cost,
            no_count,
            no_total_cost,
            revenue: payout,
            fee_cost: Money::ZERO,
            settled_ms: now_ms,
        })
    }
}

/// The market a settlement is for.
#[derive(Debug, Clone, Copy)]
pub struct SettledMarket<'a> {
    pub ticker: &'a Ticker,
    pub event_ticker: &'a str,
    pub result: MarketResult,
    pub now_ms: i64,
}

/// A member: the primary account (0) and any subaccounts (1..=63) opened on first use.
#[derive(Debug, Clone, Default)]
pub struct Account {
    pub subaccounts: BTreeMap<u32, Subaccount>,
}

impl Account {
    pub fn with_balance(balance: Money) -> Account {
        let mut subaccounts = BTreeMap::new();
        subaccounts.insert(
            0,
            Subaccount {
                cash: balance,
                ..Subaccount::default()
            },
        );
        Account { subaccounts }
    }

    /// The subaccount, opened empty on first use.
    pub fn subaccount_mut(&mut self, number: u32) -> Result<&mut Subaccount, ApiError> {
        check_subaccount(number)?;
        Ok(self.subaccounts.entry(number).or_default())
    }

    pub fn subaccount(&self, number: u32) -> Option<&Subaccount> {
        self.subaccounts.get(&number)
    }
}

pub fn check_subaccount(number: u32) -> Result<(), ApiError> {
    if number > MAX_SUBACCOUNT {
        return Err(ApiError::bad_request(format!(
            "subaccount {number} is out of range 0..={MAX_SUBACCOUNT}"
        )));
    }
    Ok(())
}

/// Whole cents of `amount`, truncated toward zero (Kalshi's integer `balance`, `revenue`).
pub fn cents_truncated(amount: Money) -> i64 {
    amount.micros() / (MICROS / 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(text: &str) -> Price {
        Price::parse(text).unwrap()
    }

    fn count(contracts: i64) -> Count {
        Count::from_contracts(contracts)
    }

    fn dollars(text: &str) -> Money {
        Money::parse(text).unwrap()
    }

    #[test]
    fn buying_yes_opens_a_long_position_at_cost() {
        let mut position = Position::default();
        let effect = position.apply_fill(BookSide::Bid, price("0.40"), count(10), 1);
        assert_eq!(effect.revenue, dollars("-4.00"));
        assert_eq!(effect.opened, count(10));
        assert_eq!(position.position, count(10));
        assert_eq!(position.cost, dollars("4.00"));
    }

    #[test]
    fn selling_yes_opens_no_at_the_complement() {
        let mut position = Position::default();
        let effect = position.apply_fill(BookSide::Ask, price("0.40"), count(10), 1);
        // An ask at 0.40 buys NO at 0.60.
        assert_eq!(effect.revenue, dollars("-6.00"));
        assert_eq!(position.position, count(-10));
        assert_eq!(position.cost, dollars("6.00"));
    }

    #[test]
    fn closing_part_of_a_position_realizes_pnl_pro_rata() {
        let mut position = Position::default();
        position.apply_fill(BookSide::Bid, price("0.40"), count(10), 1);
        // Sell 4 YES at 0.55: receive 4 × 0.55 = 2.20; cost removed 4/10 × 4.00 = 1.60.
        let effect = position.apply_fill(BookSide::Ask, price("0.55"), count(4), 2);
        assert_eq!(effect.revenue, dollars("2.20"));
        assert_eq!(effect.closed, count(4));
        assert_eq!(position.position, count(6));
        assert_eq!(position.cost, dollars("2.40"));
        assert_eq!(position.realized_pnl, dollars("0.60"));
    }

    #[test]
    fn a_fill_through_zero_closes_then_opens_the_other_side() {
        let mut position = Position::default();
        position.apply_fill(BookSide::Bid, price("0.30"), count(5), 1);
        // Ask 8 at 0.50: close 5 YES (receive 2.50), open 3 NO at 0.50 (pay 1.50).
        let effect = position.apply_fill(BookSide::Ask, price("0.50"), count(8), 2);
        assert_eq!(effect.revenue, dollars("1.00"));
        assert_eq!(position.position, count(-3));
        assert_eq!(position.cost, dollars("1.50"));
        assert_eq!(position.realized_pnl, dollars("1.00"));
    }

    #[test]
    fn lock_refuses_more_than_available_and_release_gives_it_back() {
        let mut sub = Subaccount {
            cash: dollars("10.00"),
            ..Subaccount::default()
        };
        sub.lock(dollars("6.00")).unwrap();
        assert_eq!(sub.available(), dollars("4.00"));
        let err = sub.lock(dollars("4.01")).unwrap_err();
        assert_eq!(err.code, "available_balance_too_low");
        assert_eq!(err.status, 400);
        sub.release(dollars("6.00"));
        assert_eq!(sub.available(), dollars("10.00"));
    }

    #[test]
    fn settlement_pays_the_winning_side_and_records_costs() {
        let ticker = Ticker::new("M");
        let mut sub = Subaccount::default();
        sub.positions.insert(ticker.clone(), Position::default());
        sub.positions.get_mut(&ticker).unwrap().apply_fill(
            BookSide::Ask,
            price("0.30"),
            count(10),
            1,
        );
        // NO position of 10 bought at 0.70 each; market resolves NO → $10.
        let record = sub
            .settle(
                ("u", 0),
                &SettledMarket {
                    ticker: &ticker,
                    event_ticker: "E",
                    result: MarketResult::No,
                    now_ms: 5,
                },
                BalancePrecision::Direct,
            )
            .unwrap();
        assert_eq!(record.revenue, dollars("10.00"));
        assert_eq!(record.no_count, count(10));
        assert_eq!(record.no_total_cost, dollars("7.00"));
        assert_eq!(sub.cash, dollars("10.00"));
        assert!(!sub.positions.contains_key(&ticker));
    }

    #[test]
    fn scalar_settlement_floors_to_balance_precision() {
        let ticker = Ticker::new("M");
        let mut sub = Subaccount::default();
        let mut position = Position::default();
        position.apply_fill(BookSide::Bid, price("0.50"), Count::from_centi(1), 1);
        sub.positions.insert(ticker.clone(), position);
        // 0.01 contract × 0.5555 = 0.005555 → 0.0055 at $0.0001 precision.
        let record = sub
            .settle(
                ("u", 0),
                &SettledMarket {
                    ticker: &ticker,
                    event_ticker: "E",
                    result: MarketResult::Scalar(price("0.5555")),
                    now_ms: 5,
                },
                BalancePrecision::Direct,
            )
            .unwrap();
        assert_eq!(record.revenue, dollars("0.0055"));
    }

    #[test]
    fn subaccounts_beyond_63_are_refused() {
        let mut account = Account::with_balance(dollars("1.00"));
        assert!(account.subaccount_mut(63).is_ok());
        assert_eq!(account.subaccount_mut(64).unwrap_err().status, 400);
    }
}
