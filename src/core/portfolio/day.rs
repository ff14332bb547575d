//! The trading-day boundary for daily P&L: a time of day in a named time zone (default midnight
//! America/New_York). Computed from a wall-clock millisecond argument, never from the clock.

use chrono::{DateTime, NaiveDate, TimeDelta};
use chrono_tz::Tz;

/// Why a day boundary was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DayBoundaryError {
    #[error("unknown time zone {0:?} (expected an IANA name such as \"America/New_York\")")]
    UnknownTimeZone(String),
    #[error("day boundary {0} minutes after midnight is not within 0..1440")]
    MinutesOutOfRange(u32),
}

/// When one trading day ends and the next begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayBoundary {
    time_zone: Tz,
    minutes_after_midnight: u32,
}

impl Default for DayBoundary {
    fn default() -> DayBoundary {
        DayBoundary {
            time_zone: chrono_tz::America::New_York,
            minutes_after_midnight: 0,
        }
    }
}

impl DayBoundary {
    /// `time_zone` is an IANA name; the day starts `minutes_after_midnight` local time.
    pub fn new(
        time_zone: &str,
        minutes_after_midnight: u32,
    ) -> Result<DayBoundary, DayBoundaryError> {
        let time_zone: Tz = time_zone
            .parse()
            .map_err(|_| DayBoundaryError::UnknownTimeZone(time_zone.to_string()))?;
        if minutes_after_midnight >= 24 * 60 {
            return Err(DayBoundaryError::MinutesOutOfRange(minutes_after_midnight));
        }
        Ok(DayBoundary {
            time_zone,
            minutes_after_midnight,
        })
    }

    pub fn time_zone_name(&self) -> &'static str {
        self.time_zone.name()
    }

    pub fn minutes_after_midnight(&self) -> u32 {
        self.minutes_after_midnight
    }

    /// The trading day a wall-clock instant (Unix ms) belongs to, labelled by the local date on
    /// which it started: with a 17:00 boundary, 16:59 on the 15th is in the day labelled the 14th
    /// and 17:00 on the 15th starts the day labelled the 15th.
    pub fn trading_day(&self, wall_ms: i64) -> NaiveDate {
        let utc = DateTime::from_timestamp_millis(wall_ms).unwrap_or(DateTime::UNIX_EPOCH);
        let local = utc.with_timezone(&self.time_zone).naive_local();
        let shifted = local
            .checked_sub_signed(TimeDelta::minutes(i64::from(self.minutes_after_midnight)))
            .unwrap_or(local);
        shifted.date()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDateTime, TimeZone, Utc};

    fn ms(text: &str) -> i64 {
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
        Utc.from_utc_datetime(&naive).timestamp_millis()
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn new_york_midnight_in_winter_and_summer() {
        let boundary = DayBoundary::default();
        // EST is UTC−5: 04:59:59 UTC is 23:59:59 the day before.
        assert_eq!(
            boundary.trading_day(ms("2026-11-25 04:59:59")),
            day("2026-11-24")
        );
        assert_eq!(
            boundary.trading_day(ms("2026-11-25 05:00:00")),
            day("2026-11-25")
        );
        // EDT is UTC−4.
        assert_eq!(
            boundary.trading_day(ms("2026-07-01 03:59:59")),
            day("2026-06-30")
        );
        assert_eq!(
            boundary.trading_day(ms("2026-07-01 04:00:00")),
            day("2026-07-01")
        );
    }

    #[test]
    fn configurable_zone_and_time() {
        // A 17:00 Chicago boundary (CST, UTC−6 in January): 22:59 UTC is 16:59 local.
        let boundary = DayBoundary::new("America/Chicago", 17 * 60).unwrap();
        assert_eq!(
            boundary.trading_day(ms("2026-01-15 22:59:00")),
            day("2026-01-14")
        );
        assert_eq!(
            boundary.trading_day(ms("2026-01-15 23:00:00")),
            day("2026-01-15")
        );
        assert_eq!(boundary.time_zone_name(), "America/Chicago");
        assert_eq!(
            DayBoundary::new("Mars/Olympus", 0),
            Err(DayBoundaryError::UnknownTimeZone("Mars/Olympus".into()))
        );
        assert_eq!(
            DayBoundary::new("UTC", 1440),
            Err(DayBoundaryError::MinutesOutOfRange(1440))
        );
    }
}
