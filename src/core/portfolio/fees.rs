//! Kalshi's trading fees, for estimates only (order ticket, paper, backtest, the simulator).
//!
//! The desk books the fee the exchange reports on each fill (`fee_cost`); this module predicts it.
//!
//! Fee model per series (an event may override it), P = fill price in dollars, C = contracts:
//! - `quadratic`: the taker pays `0.07 × multiplier × C × P × (1 − P)`; the maker pays nothing.
//! - `quadratic_with_maker_fees`: as `quadratic`, and the maker pays `0.0175 × multiplier × C × P × (1 − P)`.
//! - `flat`: Kalshi names it but documents no formula we could find (UNCONFIRMED). We charge the
//!   taker `multiplier × C × flat_per_contract` (default $0.0025, the old flat maker charge) and
//!   the maker nothing; the per-contract amount is a field so a known value can be configured.
//!
//! Rounding per fill (Kalshi's `fee_rounding` page):
//! 1. the trade fee is rounded up to $0.0001;
//! 2. `balance_change = revenue − trade_fee` (revenue signed, negative for a buyer);
//! 3. it is floored toward −∞ to the member's balance precision ($0.0001 direct, $0.01 otherwise);
//! 4. `rounding_fee = balance_change − floor(balance_change)`.
//!
//! A per-order accumulator collects rounding fees over all the order's fills (taker and maker);
//! once it reaches $0.01 a whole-cent rebate is paid and it drops by $0.01. Kalshi's page says
//! "exceeds $0.01"; we rebate at exactly $0.01 too, because that is what makes the total equal a
//! single equivalent fill, the page's stated purpose (UNCONFIRMED at the boundary). Net fee =
//! trade fee + rounding fee − rebate and is never negative, so a rebate larger than this fill's
//! fees waits for a later fill.
//!
//! Everything is exact integer arithmetic on micro-dollars and centi-contracts (i128 inside).

use std::fmt;

use crate::core::num::{Count, MICROS, Money, NumError, Price, parse_scaled};

/// $0.0001 in micro-dollars: the unit trade fees are rounded up to.
pub const CENTICENT_MICROS: i64 = 100;
/// $0.01 in micro-dollars.
pub const CENT_MICROS: i64 = 10_000;

/// Taker rate 0.07 and maker rate 0.0175, in parts per 10 000.
const TAKER_RATE_PER_10K: i128 = 700;
const MAKER_RATE_PER_10K: i128 = 175;
/// Denominator turning `rate(1/10⁴) × multiplier(1/10⁴) × count(1/10²) × p(1/10⁶) × (1−p)(1/10⁶)`
/// into micro-dollars: 10⁴ · 10⁴ · 10² · 10⁶ · 10⁶ / 10⁶ = 10¹⁶.
const QUADRATIC_TO_MICROS: i128 = 10_000_000_000_000_000;

/// A series' (or event override's) `fee_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeType {
    Quadratic,
    QuadraticWithMakerFees,
    Flat,
}

/// `fee_multiplier` as a fixed-point integer in parts per 10 000 (`1` → 10_000, `0.5` → 5_000).
///
/// Kalshi sends it as a JSON number; serde accepts a number or a decimal string and refuses a
/// value with more than 4 decimals rather than rounding it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeeMultiplier(i64);

impl FeeMultiplier {
    pub const ONE: FeeMultiplier = FeeMultiplier(10_000);
    pub const ZERO: FeeMultiplier = FeeMultiplier(0);

    /// From parts per 10 000; `None` if negative.
    pub const fn from_per_10k(per_10k: i64) -> Option<FeeMultiplier> {
        if per_10k >= 0 {
            Some(FeeMultiplier(per_10k))
        } else {
            None
        }
    }

    pub const fn per_10k(self) -> i64 {
        self.0
    }

    /// Parse a decimal (`"1"`, `"0.5"`, `"1.25"`), at most 4 decimals, not negative.
    pub fn parse(text: &str) -> Result<FeeMultiplier, NumError> {
        parse_scaled(text, 4, false).map(FeeMultiplier)
    }
}

impl fmt::Debug for FeeMultiplier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FeeMultiplier({})",
            crate::core::num::format_scaled(self.0, 4, 0)
        )
    }
}

impl serde::Serialize for FeeMultiplier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::core::num::format_scaled(self.0, 4, 0))
    }
}

impl<'de> serde::Deserialize<'de> for FeeMultiplier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FeeMultiplier, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = FeeMultiplier;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a fee multiplier (number or decimal string, up to 4 decimals)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FeeMultiplier, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(|v| v.checked_mul(10_000))
                    .map(FeeMultiplier)
                    .ok_or_else(|| E::custom(format!("fee multiplier {v} is out of range")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<FeeMultiplier, E> {
                v.checked_mul(10_000)
                    .and_then(FeeMultiplier::from_per_10k)
                    .ok_or_else(|| E::custom(format!("fee multiplier {v} is out of range")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<FeeMultiplier, E> {
                // The shortest text that round-trips the double is the decimal Kalshi wrote
                // (`0.5`, `1.25`); parse that exactly instead of scaling the float.
                FeeMultiplier::parse(&format!("{v}")).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FeeMultiplier, E> {
                FeeMultiplier::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Which side of the match a fill was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Liquidity {
    Taker,
    Maker,
}

impl Liquidity {
    pub const fn from_is_taker(is_taker: bool) -> Liquidity {
        if is_taker {
            Liquidity::Taker
        } else {
            Liquidity::Maker
        }
    }
}

/// The precision a member's balance is kept at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalancePrecision {
    /// Direct exchange members: $0.0001.
    Direct,
    /// Everyone else: $0.01.
    NonDirect,
}

impl BalancePrecision {
    pub const fn unit_micros(self) -> i64 {
        match self {
            BalancePrecision::Direct => CENTICENT_MICROS,
            BalancePrecision::NonDirect => CENT_MICROS,
        }
    }

    /// Floor toward −∞ to this precision.
    pub fn floor(self, amount: Money) -> Money {
        let unit = self.unit_micros();
        Money::from_micros(amount.micros().div_euclid(unit) * unit)
    }
}

/// How a market charges fees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeeSchedule {
    pub fee_type: FeeType,
    pub multiplier: FeeMultiplier,
    /// Per-contract charge for `flat` (see the module docs; UNCONFIRMED).
    pub flat_per_contract: Money,
}

/// The old flat maker charge, used for `flat` until a documented value replaces it.
pub const DEFAULT_FLAT_PER_CONTRACT: Money = Money::from_micros(2_500);

impl FeeSchedule {
    pub const fn new(fee_type: FeeType, multiplier: FeeMultiplier) -> FeeSchedule {
        FeeSchedule {
            fee_type,
            multiplier,
            flat_per_contract: DEFAULT_FLAT_PER_CONTRACT,
        }
    }

    /// The most common schedule: quadratic taker fees, multiplier 1, makers free.
    pub const fn quadratic() -> FeeSchedule {
        FeeSchedule::new(FeeType::Quadratic, FeeMultiplier::ONE)
    }

    /// The trade fee of one fill, rounded up to $0.0001.
    pub fn trade_fee(&self, liquidity: Liquidity, price: Price, count: Count) -> Money {
        let count = i128::from(count.centi().max(0));
        let multiplier = i128::from(self.multiplier.per_10k());
        let exact_micros_numerator = match (self.fee_type, liquidity) {
            (FeeType::Quadratic, Liquidity::Maker) => return Money::ZERO,
            (FeeType::Quadratic | FeeType::QuadraticWithMakerFees, _) => {
                let rate = match liquidity {
                    Liquidity::Taker => TAKER_RATE_PER_10K,
                    Liquidity::Maker => MAKER_RATE_PER_10K,
                };
                let p = i128::from(price.micros());
                let q = i128::from(MICROS - price.micros());
                // In units of 1/QUADRATIC_TO_MICROS micro-dollars.
                let numerator = [multiplier, count, p, q]
                    .into_iter()
                    .try_fold(rate, i128::checked_mul);
                (numerator, QUADRATIC_TO_MICROS)
            }
            (FeeType::Flat, Liquidity::Maker) => return Money::ZERO,
            (FeeType::Flat, Liquidity::Taker) => {
                let per_contract = i128::from(self.flat_per_contract.micros().max(0));
                // multiplier (1/10⁴) × count (1/10²) × micro-dollars.
                let numerator = multiplier
                    .checked_mul(count)
                    .and_then(|n| n.checked_mul(per_contract));
                (numerator, 1_000_000)
            }
        };
        let (numerator, denominator) = exact_micros_numerator;
        let Some(numerator) = numerator else {
            return Money::from_micros(i64::MAX);
        };
        // Round up to $0.0001 directly from the exact fraction.
        let unit = denominator * i128::from(CENTICENT_MICROS);
        let centicents = numerator.div_euclid(unit) + i128::from(numerator.rem_euclid(unit) != 0);
        let micros = centicents * i128::from(CENTICENT_MICROS);
        Money::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

/// The three fee components of one fill, and what it does to the balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FillFee {
    /// From the fee model, rounded up to $0.0001.
    pub trade_fee: Money,
    /// What restores the balance precision.
    pub rounding_fee: Money,
    /// Whole cents paid back from the order's accumulator.
    pub rebate: Money,
    /// `trade_fee + rounding_fee − rebate`, never negative.
    pub net_fee: Money,
    /// How much the balance moves: `revenue − net_fee`.
    pub balance_change: Money,
}

/// Rounding overpayment carried across all fills of one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct OrderFeeAccumulator {
    pub accumulated: Money,
}

impl OrderFeeAccumulator {
    pub const fn new() -> OrderFeeAccumulator {
        OrderFeeAccumulator {
            accumulated: Money::ZERO,
        }
    }

    /// Book one fill: `revenue` is signed (negative when paying for contracts), `trade_fee` is
    /// already rounded to $0.0001 (from [`FeeSchedule::trade_fee`]).
    pub fn apply_fill(
        &mut self,
        revenue: Money,
        trade_fee: Money,
        precision: BalancePrecision,
    ) -> FillFee {
        let unrounded = revenue.saturating_sub(trade_fee);
        let floored = precision.floor(unrounded);
        let rounding_fee = unrounded.saturating_sub(floored);
        self.accumulated = self.accumulated.saturating_add(rounding_fee);
        let fees = trade_fee.saturating_add(rounding_fee);
        let mut rebate = Money::ZERO;
        while self.accumulated.micros() >= CENT_MICROS
            && fees.micros() - rebate.micros() >= CENT_MICROS
        {
            rebate = rebate.saturating_add(Money::from_micros(CENT_MICROS));
            self.accumulated = self
                .accumulated
                .saturating_sub(Money::from_micros(CENT_MICROS));
        }
        let net_fee = fees.saturating_sub(rebate);
        FillFee {
            trade_fee,
            rounding_fee,
            rebate,
            net_fee,
            balance_change: revenue.saturating_sub(net_fee),
        }
    }
}

/// Estimate one fill's fees end to end: fee model, rounding and the order's accumulator.
pub fn estimate_fill_fee(
    schedule: &FeeSchedule,
    liquidity: Liquidity,
    price: Price,
    count: Count,
    revenue: Money,
    precision: BalancePrecision,
    accumulator: &mut OrderFeeAccumulator,
) -> FillFee {
    let trade_fee = schedule.trade_fee(liquidity, price, count);
    accumulator.apply_fill(revenue, trade_fee, precision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(text: &str) -> Price {
        Price::parse(text).unwrap()
    }
    fn m(text: &str) -> Money {
        Money::parse(text).unwrap()
    }
    fn c(contracts: i64) -> Count {
        Count::from_contracts(contracts)
    }

    #[test]
    fn taker_fee_on_100_at_half_is_1_75() {
        // 0.07 × 1 × 100 × 0.50 × 0.50 = 1.75 exactly.
        let fee = FeeSchedule::quadratic().trade_fee(Liquidity::Taker, p("0.50"), c(100));
        assert_eq!(fee, m("1.75"));
        // Makers pay nothing under plain `quadratic`.
        assert_eq!(
            FeeSchedule::quadratic().trade_fee(Liquidity::Maker, p("0.50"), c(100)),
            Money::ZERO
        );
    }

    #[test]
    fn maker_fee_with_maker_fees() {
        let schedule = FeeSchedule::new(FeeType::QuadraticWithMakerFees, FeeMultiplier::ONE);
        // 0.0175 × 100 × 0.25 = 0.4375: already on the $0.0001 grid.
        assert_eq!(
            schedule.trade_fee(Liquidity::Maker, p("0.50"), c(100)),
            m("0.4375")
        );
        // Non-direct member buying: revenue −50.00, balance_change −50.4375 floors to −50.44,
        // rounding fee 0.0025; the accumulator (0.0025) is under a cent, no rebate: net 0.44.
        let mut acc = OrderFeeAccumulator::new();
        let fill = acc.apply_fill(m("-50"), m("0.4375"), BalancePrecision::NonDirect);
        assert_eq!(fill.rounding_fee, m("0.0025"));
        assert_eq!(fill.rebate, Money::ZERO);
        assert_eq!(fill.net_fee, m("0.44"));
        assert_eq!(fill.balance_change, m("-50.44"));
        // One maker contract at 0.30: 0.0175 × 0.30 × 0.70 = 0.003675 → rounded up 0.0037.
        assert_eq!(
            schedule.trade_fee(Liquidity::Maker, p("0.30"), c(1)),
            m("0.0037")
        );
        // The taker side of the same schedule: 0.07 × 0.21 = 0.0147.
        assert_eq!(
            schedule.trade_fee(Liquidity::Taker, p("0.30"), c(1)),
            m("0.0147")
        );
    }

    #[test]
    fn kalshi_example_three_one_lots_at_0_055() {
        // Kalshi's fee-rounding example: buy 3 contracts at $0.055 in three 1-lot matches,
        // quadratic taker fee, multiplier 1, a non-direct member (balance in whole cents).
        //
        // Each fill: trade fee = 0.07 × 1 × 0.055 × 0.945 = 0.07 × 0.051975 = 0.00363825,
        // rounded up to $0.0001 → 0.0037.
        // revenue = −0.055; balance_change = −0.055 − 0.0037 = −0.0587; floored to the cent
        // → −0.06; rounding fee = −0.0587 − (−0.06) = 0.0013.
        // Accumulator: 0.0013, 0.0026, 0.0039 — never a cent, so no rebate.
        // Net fee per fill 0.0037 + 0.0013 = 0.0050; balance moves −0.06 each, −0.18 in all.
        //
        // One 3-lot fill would cost the same: fee 0.07 × 3 × 0.051975 = 0.01091475 → 0.0110;
        // balance_change −0.165 − 0.0110 = −0.176 → −0.18.
        let schedule = FeeSchedule::quadratic();
        let mut acc = OrderFeeAccumulator::new();
        let mut total = Money::ZERO;
        for expected_acc in ["0.0013", "0.0026", "0.0039"] {
            let fill = estimate_fill_fee(
                &schedule,
                Liquidity::Taker,
                p("0.055"),
                c(1),
                m("-0.055"),
                BalancePrecision::NonDirect,
                &mut acc,
            );
            assert_eq!(fill.trade_fee, m("0.0037"));
            assert_eq!(fill.rounding_fee, m("0.0013"));
            assert_eq!(fill.rebate, Money::ZERO);
            assert_eq!(fill.net_fee, m("0.0050"));
            assert_eq!(fill.balance_change, m("-0.06"));
            assert_eq!(acc.accumulated, m(expected_acc));
            total = total.saturating_add(fill.balance_change);
        }
        assert_eq!(total, m("-0.18"));
        let mut single = OrderFeeAccumulator::new();
        let one = estimate_fill_fee(
            &schedule,
            Liquidity::Taker,
            p("0.055"),
            c(3),
            m("-0.165"),
            BalancePrecision::NonDirect,
            &mut single,
        );
        assert_eq!(one.trade_fee, m("0.0110"));
        assert_eq!(one.balance_change, total);
        // A direct member keeps $0.0001: no rounding at all, −0.0587 per fill.
        let mut direct = OrderFeeAccumulator::new();
        let fill = direct.apply_fill(m("-0.055"), m("0.0037"), BalancePrecision::Direct);
        assert_eq!(fill.rounding_fee, Money::ZERO);
        assert_eq!(fill.balance_change, m("-0.0587"));
    }

    #[test]
    fn accumulator_pays_whole_cent_rebates() {
        // Two 1-lot buys at 0.505: fee 0.07 × 0.505 × 0.495 = 0.01749825 → 0.0175.
        // Fill 1: −0.505 − 0.0175 = −0.5225 → −0.53, rounding 0.0075, accumulator 0.0075.
        // Fill 2: rounding 0.0075, accumulator 0.0150 ≥ 0.01 → rebate 0.01, accumulator 0.0050;
        // net fee 0.0175 + 0.0075 − 0.01 = 0.0150, balance −0.505 − 0.015 = −0.52.
        // Total −1.05 = one 2-lot fill: fee 0.0350, −1.01 − 0.035 = −1.045 → −1.05.
        let schedule = FeeSchedule::quadratic();
        let mut acc = OrderFeeAccumulator::new();
        let fee = schedule.trade_fee(Liquidity::Taker, p("0.505"), c(1));
        assert_eq!(fee, m("0.0175"));
        let first = acc.apply_fill(m("-0.505"), fee, BalancePrecision::NonDirect);
        assert_eq!(
            (first.rounding_fee, first.rebate, first.balance_change),
            (m("0.0075"), Money::ZERO, m("-0.53"))
        );
        let second = acc.apply_fill(m("-0.505"), fee, BalancePrecision::NonDirect);
        assert_eq!(second.rebate, m("0.01"));
        assert_eq!(second.net_fee, m("0.015"));
        assert_eq!(second.balance_change, m("-0.52"));
        assert_eq!(acc.accumulated, m("0.005"));
        assert_eq!(
            schedule.trade_fee(Liquidity::Taker, p("0.505"), c(2)),
            m("0.0350")
        );
    }

    #[test]
    fn rebate_never_makes_the_net_fee_negative() {
        // A free maker fill with rounding: the accumulator is full but this fill's fees are
        // under a cent, so the rebate waits.
        let mut acc = OrderFeeAccumulator {
            accumulated: m("0.0099"),
        };
        let fill = acc.apply_fill(m("0.0553"), Money::ZERO, BalancePrecision::NonDirect);
        assert_eq!(fill.rounding_fee, m("0.0053"));
        assert_eq!(fill.rebate, Money::ZERO);
        assert_eq!(acc.accumulated, m("0.0152"));
        assert_eq!(fill.balance_change, m("0.05"));
    }

    #[test]
    fn multiplier_parses_exactly() {
        assert_eq!(FeeMultiplier::parse("1").unwrap(), FeeMultiplier::ONE);
        assert_eq!(FeeMultiplier::parse("0.5").unwrap().per_10k(), 5_000);
        assert!(FeeMultiplier::parse("0.00001").is_err());
        assert!(FeeMultiplier::parse("-1").is_err());
        let from_number: FeeMultiplier = serde_json::from_str("0.25").unwrap();
        assert_eq!(from_number.per_10k(), 2_500);
        let from_int: FeeMultiplier = serde_json::from_str("2").unwrap();
        assert_eq!(from_int.per_10k(), 20_000);
        let from_text: FeeMultiplier = serde_json::from_str("\"1.5\"").unwrap();
        assert_eq!(from_text.per_10k(), 15_000);
        assert!(serde_json::from_str::<FeeMultiplier>("-1").is_err());
        assert_eq!(serde_json::to_string(&from_text).unwrap(), "\"1.5\"");
        // Half multiplier halves the fee: 0.07 × 0.5 × 100 × 0.25 = 0.875.
        let half = FeeSchedule::new(FeeType::Quadratic, FeeMultiplier::parse("0.5").unwrap());
        assert_eq!(
            half.trade_fee(Liquidity::Taker, p("0.50"), c(100)),
            m("0.875")
        );
        let fee_type: FeeType = serde_json::from_str("\"quadratic_with_maker_fees\"").unwrap();
        assert_eq!(fee_type, FeeType::QuadraticWithMakerFees);
    }

    #[test]
    fn flat_fee_charges_takers_per_contract() {
        let flat = FeeSchedule::new(FeeType::Flat, FeeMultiplier::ONE);
        assert_eq!(
            flat.trade_fee(Liquidity::Taker, p("0.5"), c(10)),
            m("0.025")
        );
        assert_eq!(
            flat.trade_fee(Liquidity::Maker, p("0.5"), c(10)),
            Money::ZERO
        );
        // 0.01 contract × 0.0025 = 0.000025 → rounded up to 0.0001.
        assert_eq!(
            flat.trade_fee(Liquidity::Taker, p("0.5"), Count::from_centi(1)),
            m("0.0001")
        );
    }

    proptest! {
        #[test]
        fn fee_is_the_exact_formula_rounded_up(price in 0i64..=10_000, centi in 0i64..1_000_000, mult in 0i64..40_000) {
            // Prices on the $0.0001 grid.
            let price = Price::from_micros(price * 100).unwrap();
            let schedule = FeeSchedule::new(FeeType::Quadratic, FeeMultiplier::from_per_10k(mult).unwrap());
            let fee = schedule.trade_fee(Liquidity::Taker, price, Count::from_centi(centi)).micros();
            // Exact fee in units of 10⁻²² dollars (10⁻¹⁶ micro-dollars) against the rounded result.
            let exact = 700i128 * i128::from(mult) * i128::from(centi) * i128::from(price.micros()) * i128::from(MICROS - price.micros());
            let fee_scaled = i128::from(fee) * 10_000_000_000_000_000;
            prop_assert!(fee % CENTICENT_MICROS == 0);
            prop_assert!(fee_scaled >= exact);
            prop_assert!(fee_scaled - exact < i128::from(CENTICENT_MICROS) * 10_000_000_000_000_000);
        }

        #[test]
        fn balance_stays_on_its_precision(revenue in -10_000_000i64..10_000_000, fee_cc in 0i64..10_000, direct in any::<bool>(), fills in 1usize..10) {
            let precision = if direct { BalancePrecision::Direct } else { BalancePrecision::NonDirect };
            let mut acc = OrderFeeAccumulator::new();
            for _ in 0..fills {
                let fill = acc.apply_fill(Money::from_micros(revenue), Money::from_micros(fee_cc * 100), precision);
                prop_assert_eq!(fill.balance_change.micros().rem_euclid(precision.unit_micros()), 0);
                prop_assert!(!fill.net_fee.is_negative());
                prop_assert!(fill.rounding_fee.micros() >= 0 && fill.rounding_fee.micros() < precision.unit_micros());
                prop_assert_eq!(fill.balance_change, Money::from_micros(revenue - fill.net_fee.micros()));
                prop_assert!(acc.accumulated.micros() >= 0);
            }
        }
    }
}
