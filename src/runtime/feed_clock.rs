//! Feed lag and the exchange clock offset, both from message `ts_ms` against our wall clock at
//! receipt. `ts_ms − received = offset − latency`, so the largest recent sample (the least
//! delayed message) is the best offset estimate, and `received − ts_ms` is the lag the health
//! panel shows.

use std::collections::VecDeque;

/// Samples kept for the lag percentiles and the offset estimate.
const WINDOW: usize = 512;
/// A new offset is worth telling the engine only when it moved this much.
const REPORT_STEP_MS: i64 = 50;

#[derive(Debug, Default)]
pub struct FeedClock {
    samples: VecDeque<i64>,
    reported_offset_ms: Option<i64>,
}

impl FeedClock {
    pub fn new() -> FeedClock {
        FeedClock::default()
    }

    /// Record one message stamped `ts_ms` received at `received_wall_ms`. Returns a new offset
    /// estimate when the engine should be told.
    pub fn observe(&mut self, ts_ms: i64, received_wall_ms: i64) -> Option<i64> {
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back(ts_ms.saturating_sub(received_wall_ms));
        let offset = self.offset_ms()?;
        let moved = self
            .reported_offset_ms
            .is_none_or(|reported| (offset - reported).abs() >= REPORT_STEP_MS);
        if moved {
            self.reported_offset_ms = Some(offset);
            Some(offset)
        } else {
            None
        }
    }

    /// Exchange clock − wall clock, from the least delayed recent message.
    pub fn offset_ms(&self) -> Option<i64> {
        self.samples.iter().copied().max()
    }

    /// The offset last told to the engine (0 before the first message).
    pub fn reported_offset_ms(&self) -> i64 {
        self.reported_offset_ms.unwrap_or(0)
    }

    /// Lag percentile (0..=100) over the window, in ms (never negative).
    pub fn lag_percentile_ms(&self, percentile: u32) -> Option<i64> {
        if self.samples.is_empty() {
            return None;
        }
        let mut lags: Vec<i64> = self.samples.iter().map(|s| (-s).max(0)).collect();
        lags.sort_unstable();
        let rank = (lags.len() - 1) * percentile.min(100) as usize / 100;
        lags.get(rank).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_the_least_delayed_sample_and_lag_is_measured() {
        let mut clock = FeedClock::new();
        // Exchange 500 ms ahead; latencies 10..=109 ms.
        let mut reported = Vec::new();
        for i in 0..100 {
            let received = 1_000_000 + i * 1000;
            let latency = 10 + (i * 37) % 100;
            if let Some(offset) = clock.observe(received + 500 - latency, received) {
                reported.push(offset);
            }
        }
        assert_eq!(clock.offset_ms(), Some(490));
        assert_eq!(reported.first(), Some(&(500 - 10)));
        assert_eq!(reported.len(), 1, "small moves are not re-reported: {reported:?}");
        assert!(clock.lag_percentile_ms(50).is_some());
        assert_eq!(clock.lag_percentile_ms(100), Some(0), "ahead clocks show no lag");
    }

    #[test]
    fn lag_percentiles_on_a_synced_clock() {
        let mut clock = FeedClock::new();
        for lag in 1..=100 {
            clock.observe(10_000 - lag, 10_000);
        }
        assert_eq!(clock.lag_percentile_ms(50), Some(50));
        assert_eq!(clock.lag_percentile_ms(99), Some(99));
        assert_eq!(clock.offset_ms(), Some(-1));
    }
}
