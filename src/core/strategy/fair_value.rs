//! External fair values: the operator's own model, one JSON line per update,
//! `{"ticker":"…","fair":"0.6200","ts_ms":…}`. The runtime reads the file, pipe or socket; this
//! module parses lines and keeps the latest value per market.

use crate::core::FastMap;

use crate::core::market::Ticker;
use crate::core::num::Price;

/// One fair value for one market.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairValue {
    pub ticker: Ticker,
    /// YES fair value, a dollar string on the wire.
    pub fair: Price,
    /// When the model produced it (Unix ms, the model's wall clock).
    pub ts_ms: i64,
}

impl FairValue {
    /// Age at `wall_ms` (0 if it claims to be from the future).
    pub fn age_ms(&self, wall_ms: i64) -> u64 {
        u64::try_from(wall_ms.saturating_sub(self.ts_ms)).unwrap_or(0)
    }
}

/// Why a line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FairValueError {
    #[error("fair value line is not valid: {reason} (line: {line:?})")]
    Malformed { line: String, reason: String },
    #[error("fair value for {ticker} is {fair}: must lie strictly between 0 and 1")]
    OutOfRange { ticker: Ticker, fair: Price },
    #[error("empty ticker in fair value line")]
    EmptyTicker,
}

/// Parses one JSON line. Blank lines are not values: the caller skips them.
pub fn parse_line(line: &str) -> Result<FairValue, FairValueError> {
    let shown: String = line.chars().take(200).collect();
    let value: FairValue =
        serde_json::from_str(line.trim()).map_err(|e| FairValueError::Malformed {
            line: shown,
            reason: e.to_string(),
        })?;
    if value.ticker.as_str().is_empty() {
        return Err(FairValueError::EmptyTicker);
    }
    if value.fair <= Price::ZERO || value.fair >= Price::ONE {
        return Err(FairValueError::OutOfRange {
            ticker: value.ticker,
            fair: value.fair,
        });
    }
    Ok(value)
}

/// The latest fair value per market. An older timestamp never replaces a newer one.
#[derive(Debug, Clone, Default)]
pub struct FairValues {
    latest: FastMap<Ticker, FairValue>,
}

impl FairValues {
    /// Keeps `value` if it is newer than what we hold; returns whether it was kept.
    pub fn update(&mut self, value: FairValue) -> bool {
        match self.latest.get(&value.ticker) {
            Some(held) if held.ts_ms > value.ts_ms => false,
            _ => {
                self.latest.insert(value.ticker.clone(), value);
                true
            }
        }
    }

    pub fn get(&self, ticker: &str) -> Option<&FairValue> {
        self.latest.get(ticker)
    }

    /// The value if it is no older than `max_age_ms` at `wall_ms`.
    pub fn fresh(&self, ticker: &str, wall_ms: i64, max_age_ms: u64) -> Option<&FairValue> {
        self.get(ticker).filter(|v| v.age_ms(wall_ms) <= max_age_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_line() {
        let value =
            parse_line(r#"{"ticker":"KXFED-26DEC-H25","fair":"0.6200","ts_ms":1700000000000}"#)
                .unwrap();
        assert_eq!(value.ticker.as_str(), "KXFED-26DEC-H25");
        assert_eq!(value.fair, Price::parse("0.62").unwrap());
        assert_eq!(value.ts_ms, 1_700_000_000_000);
        assert_eq!(value.age_ms(1_700_000_000_250), 250);
    }

    #[test]
    fn refuses_bad_lines_with_reasons() {
        let err = parse_line(r#"{"ticker":"A","fair":0.62,"ts_ms":1}"#).unwrap_err();
        assert!(matches!(err, FairValueError::Malformed { .. }), "{err}");
        let err = parse_line(r#"{"ticker":"A","fair":"1.0000","ts_ms":1}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "fair value for A is 1.0000: must lie strictly between 0 and 1"
        );
        let err = parse_line(r#"{"ticker":"","fair":"0.5","ts_ms":1}"#).unwrap_err();
        assert_eq!(err, FairValueError::EmptyTicker);
        let err = parse_line(r#"{"ticker":"A","fair":"0.5"}"#).unwrap_err();
        assert!(err.to_string().contains("ts_ms"), "{err}");
        let err = parse_line("not json").unwrap_err();
        assert!(err.to_string().contains("not json"), "{err}");
        assert!(parse_line(r#"{"ticker":"A","fair":"0.5","ts_ms":1,"x":2}"#).is_err());
    }

    #[test]
    fn keeps_the_newest_and_ages_out() {
        let mut values = FairValues::default();
        let newer = parse_line(r#"{"ticker":"A","fair":"0.6","ts_ms":2000}"#).unwrap();
        let older = parse_line(r#"{"ticker":"A","fair":"0.4","ts_ms":1000}"#).unwrap();
        assert!(values.update(newer.clone()));
        assert!(!values.update(older));
        assert_eq!(values.get("A"), Some(&newer));
        assert!(values.fresh("A", 3000, 1000).is_some());
        assert!(values.fresh("A", 3001, 1000).is_none());
        assert!(values.fresh("B", 0, 1000).is_none());
    }
}
