//! Vocabulary shared by REST bodies and WS frames: direction enums, statuses, RFC3339 timestamps,
//! book levels, and the small serde helpers that make decoding tolerant where Kalshi is vague.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core::num::{Count, Price};

/// Outcome side of a contract (`yes|no`): Kalshi's `outcome_side`, `side` (legacy), `result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

    /// The book side carrying the same direction: `yes ⇔ bid`, `no ⇔ ask`.
    pub fn book_side(self) -> BookSide {
        match self {
            OutcomeSide::Yes => BookSide::Bid,
            OutcomeSide::No => BookSide::Ask,
        }
    }
}

/// Side of the YES book (`bid|ask`): V2 order `side`, `book_side`, `taker_book_side`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookSide {
    Bid,
    Ask,
}

impl BookSide {
    pub fn as_str(self) -> &'static str {
        match self {
            BookSide::Bid => "bid",
            BookSide::Ask => "ask",
        }
    }

    /// The outcome side carrying the same direction: `bid ⇔ yes`, `ask ⇔ no`.
    pub fn outcome_side(self) -> OutcomeSide {
        match self {
            BookSide::Bid => OutcomeSide::Yes,
            BookSide::Ask => OutcomeSide::No,
        }
    }
}

/// Legacy order action (`buy|sell`), deprecated but still emitted on orders and fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Buy,
    Sell,
}

/// Direction from the legacy `(side, action)` pair: buy YES and sell NO are `yes`.
pub fn outcome_from_legacy(side: OutcomeSide, action: Action) -> OutcomeSide {
    match (side, action) {
        (OutcomeSide::Yes, Action::Buy) | (OutcomeSide::No, Action::Sell) => OutcomeSide::Yes,
        (OutcomeSide::No, Action::Buy) | (OutcomeSide::Yes, Action::Sell) => OutcomeSide::No,
    }
}

/// Order status (`resting|canceled|executed`). `Unknown` keeps a frame decodable if Kalshi adds
/// a status; treat it as "ask REST".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Resting,
    Canceled,
    Executed,
    #[serde(other)]
    Unknown,
}

/// V2 `time_in_force`. Good-till-date is `good_till_canceled` plus `expiration_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    FillOrKill,
    GoodTillCanceled,
    ImmediateOrCancel,
}

/// `self_trade_prevention_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelfTradePrevention {
    /// Cancel the incoming order at the self-cross (fills before it stand).
    TakerAtCross,
    /// Cancel the resting own order and keep matching.
    Maker,
}

/// Order `type` on reads (`limit|market`); every new order is a limit order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    Limit,
    Market,
    #[serde(other)]
    Unknown,
}

/// `Market.status`. The `status` *filter* of `GET /markets` uses another vocabulary
/// ([`MarketStatusFilter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketStatus {
    Initialized,
    Inactive,
    Active,
    Closed,
    Determined,
    Disputed,
    Amended,
    Finalized,
    #[serde(other)]
    Unknown,
}

/// The same eight statuses as the core's [`crate::core::market::MarketStatus`]; the wire's
/// type also holds `Unknown`, because a status Kalshi adds later must not fail a whole body.
impl MarketStatus {
    /// The core's status, or `None` for a status this build does not know.
    pub fn known(self) -> Option<crate::core::market::MarketStatus> {
        use crate::core::market::MarketStatus as Core;
        Some(match self {
            MarketStatus::Initialized => Core::Initialized,
            MarketStatus::Inactive => Core::Inactive,
            MarketStatus::Active => Core::Active,
            MarketStatus::Closed => Core::Closed,
            MarketStatus::Determined => Core::Determined,
            MarketStatus::Disputed => Core::Disputed,
            MarketStatus::Amended => Core::Amended,
            MarketStatus::Finalized => Core::Finalized,
            MarketStatus::Unknown => return None,
        })
    }
}

impl From<crate::core::market::MarketStatus> for MarketStatus {
    fn from(status: crate::core::market::MarketStatus) -> MarketStatus {
        use crate::core::market::MarketStatus as Core;
        match status {
            Core::Initialized => MarketStatus::Initialized,
            Core::Inactive => MarketStatus::Inactive,
            Core::Active => MarketStatus::Active,
            Core::Closed => MarketStatus::Closed,
            Core::Determined => MarketStatus::Determined,
            Core::Disputed => MarketStatus::Disputed,
            Core::Amended => MarketStatus::Amended,
            Core::Finalized => MarketStatus::Finalized,
        }
    }
}

/// The `status` query filter of `GET /markets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketStatusFilter {
    Unopened,
    Open,
    Paused,
    Closed,
    Settled,
}

/// `Market.result`: `yes|no|scalar`, or `""` while undetermined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketResult {
    Yes,
    No,
    Scalar,
    #[serde(rename = "")]
    Undetermined,
    #[serde(other)]
    Unknown,
}

/// `Market.market_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketType {
    Binary,
    Scalar,
    #[serde(other)]
    Unknown,
}

/// Series/event fee model (`fee_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeType {
    Quadratic,
    QuadraticWithMakerFees,
    QuadraticWithComboMakerFees,
    Flat,
    #[serde(other)]
    Unknown,
}

/// One `price_ranges` band: prices `start..=end` in steps of `step` (all dollar strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRange {
    pub start: Price,
    pub end: Price,
    pub step: Price,
}

/// One book level `[price_dollars, count_fp]`, as Kalshi sends it (a two-string array).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PriceLevel(pub Price, pub Count);

impl<'de> Deserialize<'de> for PriceLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PriceLevel, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PriceLevel;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [price_dollars, count_fp] pair of strings")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<PriceLevel, A::Error> {
                use serde::de::Error;
                let price = seq
                    .next_element_seed(serde_util::PriceSeed)?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let count = seq
                    .next_element_seed(serde_util::CountSeed { signed: false })?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(3, &self));
                }
                Ok(PriceLevel(price, count))
            }
        }
        d.deserialize_seq(V)
    }
}

impl PriceLevel {
    pub fn price(&self) -> Price {
        self.0
    }

    pub fn count(&self) -> Count {
        self.1
    }
}

/// An RFC3339 timestamp: the exact text Kalshi sent (so it re-serializes byte for byte) plus its
/// value in Unix milliseconds. Malformed text is a decode error naming the field.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    text: String,
    unix_ms: i64,
}

impl Timestamp {
    pub fn parse(text: &str) -> Result<Timestamp, chrono::ParseError> {
        let parsed = chrono::DateTime::parse_from_rfc3339(text)?;
        Ok(Timestamp {
            text: text.to_string(),
            unix_ms: parsed.timestamp_millis(),
        })
    }

    /// From Unix milliseconds, rendered as Kalshi does (`2024-12-01T10:00:00Z`, milliseconds
    /// only when non-zero). `None` when out of chrono's range.
    pub fn from_unix_ms(unix_ms: i64) -> Option<Timestamp> {
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(unix_ms)?;
        Some(Timestamp {
            text: at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            unix_ms,
        })
    }

    pub fn unix_ms(&self) -> i64 {
        self.unix_ms
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Ordered by instant (then text, to agree with `Eq`).
impl Ord for Timestamp {
    fn cmp(&self, other: &Timestamp) -> std::cmp::Ordering {
        self.unix_ms
            .cmp(&other.unix_ms)
            .then_with(|| self.text.cmp(&other.text))
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Timestamp) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.text)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not an RFC3339 time: {e}")))
    }
}

/// Serde helpers for Kalshi's loose spots and the hot feed path.
pub mod serde_util {
    use std::fmt;

    use serde::de::{DeserializeSeed, Visitor};
    use serde::{Deserialize, Deserializer};

    use crate::core::market::Ticker;
    use crate::core::num::{Count, Price};

    /// Parses a price from the borrowed JSON text, without the intermediate `String` that
    /// `Price`'s own `Deserialize` allocates.
    pub struct PriceSeed;

    impl<'de> DeserializeSeed<'de> for PriceSeed {
        type Value = Price;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Price, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl Visitor<'_> for PriceSeed {
        type Value = Price;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a dollar price string")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Price, E> {
            Price::parse(text).map_err(E::custom)
        }
    }

    /// Parses a count from the borrowed JSON text (signed or not), without allocating.
    pub struct CountSeed {
        pub signed: bool,
    }

    impl<'de> DeserializeSeed<'de> for CountSeed {
        type Value = Count;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Count, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl Visitor<'_> for CountSeed {
        type Value = Count;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a fixed-point count string")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Count, E> {
            let parsed = if self.signed {
                Count::parse_signed(text)
            } else {
                Count::parse(text)
            };
            parsed.map_err(E::custom)
        }
    }

    /// `#[serde(deserialize_with = "price")]`: a `Price` without allocating.
    pub fn price<'de, D: Deserializer<'de>>(d: D) -> Result<Price, D::Error> {
        PriceSeed.deserialize(d)
    }

    /// `#[serde(deserialize_with = "signed_count")]`: a signed `Count` without allocating
    /// (serialize with `crate::core::num::signed_count::serialize`).
    pub fn signed_count<'de, D: Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        CountSeed { signed: true }.deserialize(d)
    }

    /// `null` decodes as the default (an empty list, an empty string). Combine with
    /// `#[serde(default)]` when the key may also be absent; without it, absence is still an
    /// error (for spec-required, nullable keys).
    pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Default,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }

    /// A ticker straight from the borrowed JSON text: one allocation instead of two on the hot
    /// feed path (`Ticker`'s own impl goes through `String`).
    pub fn ticker<'de, D: Deserializer<'de>>(d: D) -> Result<Ticker, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Ticker;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a market ticker string")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Ticker, E> {
                Ok(Ticker::new(text))
            }
        }
        d.deserialize_str(V)
    }

    /// An optional RFC3339 time where `null`, `""` and absence all mean "none" (with
    /// `#[serde(default)]`): a blank optional time must not sink the whole body.
    pub fn opt_timestamp<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<super::Timestamp>, D::Error> {
        let text = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
        match text {
            None => Ok(None),
            Some(t) if t.is_empty() => Ok(None),
            Some(t) => super::Timestamp::parse(&t).map(Some).map_err(|e| {
                serde::de::Error::custom(format!("{t:?} is not an RFC3339 time: {e}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_statuses_convert_both_ways_with_the_same_spelling() {
        for core in crate::core::market::MarketStatus::ALL {
            let wire = MarketStatus::from(core);
            assert_eq!(wire.known(), Some(core));
            assert_eq!(
                serde_json::to_string(&wire).unwrap(),
                format!("\"{}\"", core.as_str())
            );
        }
        let later: MarketStatus = serde_json::from_str("\"frozen\"").unwrap();
        assert_eq!(later.known(), None);
    }

    #[test]
    fn timestamps_round_trip_their_text() {
        let t: Timestamp = serde_json::from_str("\"2024-12-01T10:00:00Z\"").unwrap();
        assert_eq!(t.unix_ms(), 1_733_047_200_000);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2024-12-01T10:00:00Z\""
        );
        let t: Timestamp = serde_json::from_str("\"2024-12-01T10:00:00.123+00:00\"").unwrap();
        assert_eq!(t.unix_ms(), 1_733_047_200_123);
        assert_eq!(t.as_str(), "2024-12-01T10:00:00.123+00:00");
        let err = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("yesterday"), "{err}");
        let made = Timestamp::from_unix_ms(1_733_047_200_000).unwrap();
        assert_eq!(made.as_str(), "2024-12-01T10:00:00Z");
        let made = Timestamp::from_unix_ms(1_733_047_200_123).unwrap();
        assert_eq!(made.as_str(), "2024-12-01T10:00:00.123Z");
    }

    #[test]
    fn unknown_statuses_do_not_fail() {
        let s: OrderStatus = serde_json::from_str("\"pending\"").unwrap();
        assert_eq!(s, OrderStatus::Unknown);
        let s: MarketStatus = serde_json::from_str("\"paused_forever\"").unwrap();
        assert_eq!(s, MarketStatus::Unknown);
        let r: MarketResult = serde_json::from_str("\"\"").unwrap();
        assert_eq!(r, MarketResult::Undetermined);
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"\"");
        assert!(serde_json::from_str::<BookSide>("\"buy\"").is_err());
    }

    #[test]
    fn directions_agree() {
        assert_eq!(BookSide::Bid.outcome_side(), OutcomeSide::Yes);
        assert_eq!(OutcomeSide::No.book_side(), BookSide::Ask);
        assert_eq!(
            outcome_from_legacy(OutcomeSide::No, Action::Sell),
            OutcomeSide::Yes
        );
        assert_eq!(
            outcome_from_legacy(OutcomeSide::Yes, Action::Sell),
            OutcomeSide::No
        );
    }

    #[test]
    fn levels_are_two_string_arrays() {
        let l: PriceLevel = serde_json::from_str(r#"["0.4100","10.00"]"#).unwrap();
        assert_eq!(l.price().micros(), 410_000);
        assert_eq!(l.count().centi(), 1000);
        assert_eq!(serde_json::to_string(&l).unwrap(), r#"["0.4100","10.00"]"#);
        assert!(serde_json::from_str::<PriceLevel>(r#"["0.41"]"#).is_err());
    }
}
