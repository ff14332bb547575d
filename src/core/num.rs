//! Exact fixed-point numbers for prices, contract counts and money.
//!
//! Kalshi sends every price and count as a decimal string (`"0.5600"`, `"10.00"`). We keep them as
//! integers so they round-trip exactly and arithmetic never drifts:
//! - [`Price`]: a YES price in micro-dollars (`"0.5600"` → 560_000); a NO price is `1 − yes`.
//! - [`Count`]: contracts in hundredths (`"10.00"` → 1000); signed where Kalshi sends deltas or
//!   positions (negative position = NO contracts).
//! - [`Money`]: signed micro-dollars (`"-54.00"` → -54_000_000).
//!
//! Parsing accepts only plain decimal strings: an optional `-` where a sign is allowed, digits, and
//! an optional fraction. Exponents, `+`, whitespace, empty strings, `.5`, `5.`, overflow and
//! fractions finer than the type's unit (non-zero digits past it) are errors, never rounded.

use std::fmt;
use std::ops::Neg;

/// Micro-units per whole unit for prices and money.
pub const MICROS: i64 = 1_000_000;
/// Hundredths per whole contract.
pub const CENTI: i64 = 100;

/// Why a decimal string was refused. The offending text is kept so errors can quote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumError {
    #[error("empty number")]
    Empty,
    #[error("{0:?} is not a plain decimal number (digits, optional '.' and fraction)")]
    Malformed(String),
    #[error("{0:?} has a sign where none is allowed")]
    SignNotAllowed(String),
    #[error("{text:?} has more than {max_decimals} significant decimals")]
    TooPrecise { text: String, max_decimals: u32 },
    #[error("{0:?} is out of range")]
    Overflow(String),
    #[error("price {0:?} is outside 0..=1 dollars")]
    PriceOutOfRange(String),
}

/// Parse a decimal string into an integer scaled by `10^scale`.
///
/// Trailing zeros past `scale` are accepted (the value is still exact); a non-zero digit past it
/// is [`NumError::TooPrecise`].
pub fn parse_scaled(text: &str, scale: u32, signed: bool) -> Result<i64, NumError> {
    if text.is_empty() {
        return Err(NumError::Empty);
    }
    let malformed = || NumError::Malformed(text.to_string());
    let (negative, body) = match text.as_bytes()[0] {
        b'-' => {
            if !signed {
                return Err(NumError::SignNotAllowed(text.to_string()));
            }
            (true, &text[1..])
        }
        b'+' => {
            return Err(if signed {
                malformed()
            } else {
                NumError::SignNotAllowed(text.to_string())
            });
        }
        _ => (false, text),
    };
    // One scan for the point (every price and count on the wire has one).
    let dot = body.bytes().position(|b| b == b'.');
    let (whole, fraction) = match dot {
        Some(at) => (&body[..at], &body[at + 1..]),
        None => (body, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    if dot.is_some() && fraction.is_empty() {
        return Err(malformed());
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let scale_usize = scale as usize;
    if whole.len() + scale_usize <= 18 && fraction.len() <= scale_usize {
        // Fewer than 19 digits once scaled: below 10^18, so nothing can overflow and the
        // checked i128 arithmetic below is not needed (every price and count on the wire).
        let mut value: i64 = 0;
        for b in whole.bytes() {
            value = value * 10 + i64::from(b - b'0');
        }
        let digits = fraction.as_bytes();
        for i in 0..scale_usize {
            value = value * 10 + digits.get(i).map_or(0, |b| i64::from(b - b'0'));
        }
        return Ok(if negative { -value } else { value });
    }
    let overflow = || NumError::Overflow(text.to_string());
    // Accumulate in i128 so i64::MIN's magnitude fits before the sign is applied.
    let mut value: i128 = 0;
    for b in whole.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(b - b'0')))
            .filter(|v| *v <= i128::from(i64::MAX) + 1)
            .ok_or_else(overflow)?;
    }
    let (kept, excess) = if fraction.len() > scale_usize {
        fraction.split_at(scale_usize)
    } else {
        (fraction, "")
    };
    if excess.bytes().any(|b| b != b'0') {
        return Err(NumError::TooPrecise {
            text: text.to_string(),
            max_decimals: scale,
        });
    }
    for i in 0..scale_usize {
        let digit = kept.as_bytes().get(i).map_or(0, |b| i128::from(b - b'0'));
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(digit))
            .filter(|v| *v <= i128::from(i64::MAX) + 1)
            .ok_or_else(overflow)?;
    }
    let signed_value = if negative { -value } else { value };
    i64::try_from(signed_value).map_err(|_| overflow())
}

/// Format `value / 10^scale` with between `min_decimals` and `scale` decimals: trailing zeros past
/// `min_decimals` are dropped, so `560_000` at scale 6 with 4 minimum prints `0.5600`.
pub fn format_scaled(value: i64, scale: u32, min_decimals: u32) -> String {
    let unit = 10_i128.pow(scale);
    let magnitude = i128::from(value).abs();
    let whole = magnitude / unit;
    let mut fraction = format!("{:0width$}", magnitude % unit, width = scale as usize);
    while fraction.len() > min_decimals as usize && fraction.ends_with('0') {
        fraction.pop();
    }
    let sign = if value < 0 { "-" } else { "" };
    if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    }
}

/// A YES price in micro-dollars, `0..=1_000_000`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(i64);

impl Price {
    pub const ZERO: Price = Price(0);
    pub const ONE: Price = Price(MICROS);

    /// From micro-dollars; `None` outside `0..=1_000_000`.
    pub const fn from_micros(micros: i64) -> Option<Price> {
        if micros >= 0 && micros <= MICROS {
            Some(Price(micros))
        } else {
            None
        }
    }

    /// From whole cents (1..=99 for ordinary prices); `None` outside 0..=100.
    pub const fn from_cents(cents: i64) -> Option<Price> {
        Price::from_micros(cents * 10_000)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Parse Kalshi's dollar string (`"0.56"`, `"0.5600"`, `"0.560000"`).
    pub fn parse(text: &str) -> Result<Price, NumError> {
        let micros = parse_scaled(text, 6, false)?;
        Price::from_micros(micros).ok_or_else(|| NumError::PriceOutOfRange(text.to_string()))
    }

    /// The NO price of the same contract: `1 − yes`.
    pub const fn complement(self) -> Price {
        Price(MICROS - self.0)
    }

    /// Dollar string at 4 decimals, or 6 when the price has sub-$0.0001 digits.
    pub fn to_dollars(self) -> String {
        format_scaled(self.0, 6, 4)
    }

    /// What `count` contracts cost at this price, rounded up to the micro-dollar (only reachable
    /// with prices finer than $0.0001, which no live grid uses).
    pub fn cost_of(self, count: Count) -> Money {
        let micro_centi = i128::from(self.0) * i128::from(count.0);
        let cost = div_ceil_i128(micro_centi, i128::from(CENTI));
        Money(clamp_i128(cost))
    }

    pub fn checked_add(self, other: Price) -> Option<Price> {
        Price::from_micros(self.0.checked_add(other.0)?)
    }

    pub fn checked_sub(self, other: Price) -> Option<Price> {
        Price::from_micros(self.0.checked_sub(other.0)?)
    }

    /// Signed distance `self − other` as money per contract.
    pub const fn diff(self, other: Price) -> Money {
        Money(self.0 - other.0)
    }

    /// Move by a signed number of micro-dollars, clamped into `0..=1`.
    pub fn offset_clamped(self, micros: i64) -> Price {
        Price(self.0.saturating_add(micros).clamp(0, MICROS))
    }
}

/// A contract count in hundredths. Signed: deltas and positions can be negative.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Count(i64);

impl Count {
    pub const ZERO: Count = Count(0);

    pub const fn from_centi(centi: i64) -> Count {
        Count(centi)
    }

    /// Whole contracts.
    pub const fn from_contracts(contracts: i64) -> Count {
        Count(contracts * CENTI)
    }

    pub const fn centi(self) -> i64 {
        self.0
    }

    /// Parse a non-negative count (`"10"`, `"10.00"`, `"2.50"`).
    pub fn parse(text: &str) -> Result<Count, NumError> {
        parse_scaled(text, 2, false).map(Count)
    }

    /// Parse a signed count (`"-54.00"` in deltas, `position_fp`).
    pub fn parse_signed(text: &str) -> Result<Count, NumError> {
        parse_scaled(text, 2, true).map(Count)
    }

    /// Always two decimals, as Kalshi's responses are.
    pub fn to_fp(self) -> String {
        format_scaled(self.0, 2, 2)
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub const fn abs(self) -> Count {
        Count(self.0.abs())
    }

    pub fn checked_add(self, other: Count) -> Option<Count> {
        self.0.checked_add(other.0).map(Count)
    }

    pub fn checked_sub(self, other: Count) -> Option<Count> {
        self.0.checked_sub(other.0).map(Count)
    }

    pub fn saturating_add(self, other: Count) -> Count {
        Count(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Count) -> Count {
        Count(self.0.saturating_sub(other.0))
    }

    pub fn min(self, other: Count) -> Count {
        Count(self.0.min(other.0))
    }

    pub fn max(self, other: Count) -> Count {
        Count(self.0.max(other.0))
    }
}

impl Neg for Count {
    type Output = Count;
    fn neg(self) -> Count {
        Count(-self.0)
    }
}

/// Signed money in micro-dollars.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_micros(micros: i64) -> Money {
        Money(micros)
    }

    /// From integer cents (Kalshi's `balance`, settlement `revenue`).
    pub const fn from_cents(cents: i64) -> Money {
        Money(cents * 10_000)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Parse a dollar string, signed (`"-54.00"`, `"0.0175"`, `"12.345678"`).
    pub fn parse(text: &str) -> Result<Money, NumError> {
        parse_scaled(text, 6, true).map(Money)
    }

    /// Dollar string at 4 decimals, or 6 when there are sub-$0.0001 digits.
    pub fn to_dollars(self) -> String {
        format_scaled(self.0, 6, 4)
    }

    /// Dollars at exactly 2 decimals, truncated toward zero; for display only.
    pub fn to_cents_string(self) -> String {
        let truncated = self.0 / 10_000 * 10_000;
        format_scaled(truncated, 6, 2)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Money) -> Money {
        Money(self.0.saturating_sub(other.0))
    }

    /// Money per contract times a count, exact to the micro-dollar, rounded toward +∞.
    pub fn per_contract_times(self, count: Count) -> Money {
        let total = i128::from(self.0) * i128::from(count.0);
        Money(clamp_i128(div_ceil_i128(total, i128::from(CENTI))))
    }

    pub const fn abs(self) -> Money {
        Money(self.0.abs())
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

fn div_ceil_i128(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator.div_euclid(denominator);
    if numerator.rem_euclid(denominator) == 0 {
        quotient
    } else {
        quotient + 1
    }
}

fn clamp_i128(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_dollars())
    }
}
impl fmt::Debug for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Price({})", self.to_dollars())
    }
}
impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_fp())
    }
}
impl fmt::Debug for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Count({})", self.to_fp())
    }
}
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_dollars())
    }
}
impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({})", self.to_dollars())
    }
}

// Wire form: Kalshi's decimal strings. `Count` deserializes unsigned by default; fields that can
// be negative (`delta_fp`, `position_fp`, `post_position_fp`) use `#[serde(with = "signed_count")]`.
/// Deserializes a decimal string with `parse`, without allocating: serde_json hands us the
/// borrowed text when it has no escapes (a `Cow<str>` would always copy it).
struct DecimalVisitor<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, NumError>,
}

impl<T> serde::de::Visitor<'_> for DecimalVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        (self.parse)(text).map_err(E::custom)
    }
}

fn deserialize_decimal<'de, D: serde::Deserializer<'de>, T>(
    d: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, NumError>,
) -> Result<T, D::Error> {
    d.deserialize_str(DecimalVisitor { expecting, parse })
}

impl serde::Serialize for Price {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_dollars())
    }
}
impl<'de> serde::Deserialize<'de> for Price {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Price, D::Error> {
        deserialize_decimal(d, "a dollar price string like \"0.5600\"", Price::parse)
    }
}
impl serde::Serialize for Count {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_fp())
    }
}
impl<'de> serde::Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        deserialize_decimal(d, "a contract count string like \"10.00\"", Count::parse)
    }
}
impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_dollars())
    }
}
impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        deserialize_decimal(d, "a dollar amount string like \"-54.00\"", Money::parse)
    }
}

/// `#[serde(with = "crate::core::num::signed_count")]` for counts that may be negative.
pub mod signed_count {
    use super::Count;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(count: &Count, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&count.to_fp())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        super::deserialize_decimal(
            d,
            "a signed contract count string like \"-54.00\"",
            Count::parse_signed,
        )
    }
}

/// `#[serde(with = "crate::core::num::signed_count_opt")]` for optional signed counts.
pub mod signed_count_opt {
    use super::Count;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(count: &Option<Count>, s: S) -> Result<S::Ok, S::Error> {
        match count {
            Some(c) => s.serialize_str(&c.to_fp()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Count>, D::Error> {
        #[derive(serde::Deserialize)]
        struct Signed(#[serde(with = "super::signed_count")] Count);
        Ok(Option::<Signed>::deserialize(d)?.map(|Signed(count)| count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_kalshi_price_strings_exactly() {
        assert_eq!(Price::parse("0.56").unwrap().micros(), 560_000);
        assert_eq!(Price::parse("0.5600").unwrap().micros(), 560_000);
        assert_eq!(Price::parse("0.560000").unwrap().micros(), 560_000);
        assert_eq!(Price::parse("0.960").unwrap().micros(), 960_000);
        assert_eq!(Price::parse("0.0001").unwrap().micros(), 100);
        assert_eq!(Price::parse("1.0000").unwrap(), Price::ONE);
        assert_eq!(Price::parse("0").unwrap(), Price::ZERO);
        assert_eq!(Price::parse("0.123456").unwrap().micros(), 123_456);
    }

    #[test]
    fn parses_counts_and_money() {
        assert_eq!(Count::parse("10").unwrap().centi(), 1000);
        assert_eq!(Count::parse("10.00").unwrap().centi(), 1000);
        assert_eq!(Count::parse("2.50").unwrap().centi(), 250);
        assert_eq!(Count::parse("0.01").unwrap().centi(), 1);
        assert_eq!(Count::parse_signed("-54.00").unwrap().centi(), -5400);
        assert_eq!(Money::parse("-54.00").unwrap().micros(), -54_000_000);
        assert_eq!(Money::parse("0.0175").unwrap().micros(), 17_500);
        assert_eq!(Money::parse("12.345678").unwrap().micros(), 12_345_678);
    }

    #[test]
    fn rejects_what_is_not_an_exact_decimal() {
        for bad in [
            "", "1e3", "1E-2", "+1", " 1", "1 ", ".5", "5.", "0x10", "1.2.3", "--1", "-", "NaN",
            "inf", "1,5", "١",
        ] {
            assert!(Count::parse_signed(bad).is_err(), "{bad:?} accepted");
            assert!(Money::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Count::parse(""), Err(NumError::Empty));
        assert!(matches!(
            Count::parse("-1"),
            Err(NumError::SignNotAllowed(_))
        ));
        assert!(matches!(
            Price::parse("-0.5"),
            Err(NumError::SignNotAllowed(_))
        ));
        assert!(matches!(
            Count::parse("1.001"),
            Err(NumError::TooPrecise { .. })
        ));
        assert!(matches!(
            Price::parse("0.1234567"),
            Err(NumError::TooPrecise { .. })
        ));
        assert!(matches!(
            Price::parse("1.0001"),
            Err(NumError::PriceOutOfRange(_))
        ));
        assert!(matches!(
            Money::parse("99999999999999999999"),
            Err(NumError::Overflow(_))
        ));
        assert!(matches!(
            Count::parse("92233720368547758.08"),
            Err(NumError::Overflow(_))
        ));
        // Trailing zeros past the unit are still exact.
        assert_eq!(Count::parse("1.000").unwrap().centi(), 100);
    }

    #[test]
    fn formats_at_the_spec_precision() {
        assert_eq!(Price::parse("0.56").unwrap().to_dollars(), "0.5600");
        assert_eq!(
            Price::from_micros(123_456).unwrap().to_dollars(),
            "0.123456"
        );
        assert_eq!(Price::from_micros(123_450).unwrap().to_dollars(), "0.12345");
        assert_eq!(Count::parse("10").unwrap().to_fp(), "10.00");
        assert_eq!(Count::from_centi(-5400).to_fp(), "-54.00");
        assert_eq!(Money::from_micros(-54_000_000).to_dollars(), "-54.0000");
        assert_eq!(Money::from_micros(-1).to_dollars(), "-0.000001");
        assert_eq!(Money::from_cents(12345).to_dollars(), "123.4500");
    }

    #[test]
    fn no_price_is_one_minus_yes() {
        let yes = Price::parse("0.5600").unwrap();
        assert_eq!(yes.complement().to_dollars(), "0.4400");
        assert_eq!(yes.complement().complement(), yes);
        assert_eq!(Price::ZERO.complement(), Price::ONE);
    }

    #[test]
    fn cost_and_checked_arithmetic() {
        let p = Price::parse("0.5600").unwrap();
        assert_eq!(
            p.cost_of(Count::parse("10").unwrap()).to_dollars(),
            "5.6000"
        );
        assert_eq!(p.cost_of(Count::parse("0.01").unwrap()).micros(), 5_600);
        assert_eq!(Price::ONE.checked_add(Price::from_micros(1).unwrap()), None);
        assert_eq!(
            Price::ZERO.checked_sub(Price::from_micros(1).unwrap()),
            None
        );
        assert_eq!(
            Money::from_micros(i64::MAX).checked_add(Money::from_micros(1)),
            None
        );
        assert_eq!(
            Count::from_centi(i64::MIN).checked_sub(Count::from_centi(1)),
            None
        );
        assert_eq!(
            Money::from_micros(17_500).per_contract_times(Count::from_contracts(3)),
            Money::from_micros(52_500)
        );
    }

    #[test]
    fn serde_uses_strings_and_refuses_numbers() {
        let p: Price = serde_json::from_str("\"0.4200\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"0.4200\"");
        assert!(serde_json::from_str::<Price>("0.42").is_err());
        assert!(serde_json::from_str::<Count>("\"-1.00\"").is_err());
        #[derive(serde::Deserialize)]
        struct Delta {
            #[serde(with = "signed_count")]
            delta_fp: Count,
        }
        let d: Delta = serde_json::from_str(r#"{"delta_fp":"-54.00"}"#).unwrap();
        assert_eq!(d.delta_fp.centi(), -5400);
    }

    proptest! {
        #[test]
        fn price_round_trips(micros in 0i64..=MICROS) {
            let p = Price::from_micros(micros).unwrap();
            prop_assert_eq!(Price::parse(&p.to_dollars()).unwrap(), p);
        }

        #[test]
        fn count_round_trips(centi in any::<i64>()) {
            let c = Count::from_centi(centi);
            prop_assert_eq!(Count::parse_signed(&c.to_fp()).unwrap(), c);
        }

        #[test]
        fn money_round_trips(micros in any::<i64>()) {
            let m = Money::from_micros(micros);
            prop_assert_eq!(Money::parse(&m.to_dollars()).unwrap(), m);
        }

        #[test]
        fn short_and_long_spellings_agree(
            negative in any::<bool>(),
            whole in "[0-9]{1,20}",
            fraction in "[0-9]{0,8}",
            scale in 0u32..=6,
        ) {
            // Reference: exact arithmetic on the digits, with the checks the parser promises.
            let text = format!(
                "{}{whole}{}{fraction}",
                if negative { "-" } else { "" },
                if fraction.is_empty() { "" } else { "." },
            );
            let digits = format!("{whole}{fraction:0<width$}", width = scale as usize);
            let kept = &digits[..whole.len() + scale as usize];
            let excess = &digits[whole.len() + scale as usize..];
            let magnitude: i128 = kept.parse().unwrap_or(i128::MAX);
            let value = if negative { -magnitude } else { magnitude };
            let expected = if excess.bytes().any(|b| b != b'0') {
                None
            } else {
                i64::try_from(value).ok()
            };
            prop_assert_eq!(parse_scaled(&text, scale, true).ok(), expected);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,24}") {
            let _ = Price::parse(&text);
            let _ = Count::parse_signed(&text);
            let _ = Money::parse(&text);
        }
    }
}
