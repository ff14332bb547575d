//! Reconnect delays: exponential, capped, with jitter so many desks (or many connections of one
//! desk) that lost the exchange at the same moment do not come back in lockstep.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Exponential backoff with "equal jitter": each delay is half the exponential step plus a
/// random share of the other half, so it never falls below `min / 2` and never exceeds `max`.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
    rng: ChaCha8Rng,
}

impl Backoff {
    /// `seed` makes the jitter reproducible (tests); None draws the seed from the OS.
    pub fn new(min: Duration, max: Duration, seed: Option<u64>) -> Backoff {
        let rng = match seed {
            Some(seed) => ChaCha8Rng::seed_from_u64(seed),
            None => ChaCha8Rng::from_os_rng(),
        };
        let min = min.max(Duration::from_millis(1));
        Backoff {
            min,
            max: max.max(min),
            failures: 0,
            rng,
        }
    }

    /// The exponential step for the current failure count, before jitter.
    fn step(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(20)).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt; each call counts one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step();
        self.failures = self.failures.saturating_add(1);
        let half = step / 2;
        let spread = u64::try_from((step - half).as_micros()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 {
            0
        } else {
            self.rng.random_range(0..=spread)
        };
        half + Duration::from_micros(jitter)
    }

    /// A connection that worked: the next failure starts from `min` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_bounds_and_resets() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        let mut backoff = Backoff::new(min, max, Some(7));
        let mut previous_step = Duration::ZERO;
        for attempt in 0..12u32 {
            let step = (min * 2u32.pow(attempt.min(20))).min(max);
            let delay = backoff.next_delay();
            assert!(
                delay >= step / 2,
                "attempt {attempt}: {delay:?} < {:?}",
                step / 2
            );
            assert!(delay <= step, "attempt {attempt}: {delay:?} > {step:?}");
            assert!(step >= previous_step);
            previous_step = step;
        }
        backoff.reset();
        assert!(backoff.next_delay() <= min);
    }

    #[test]
    fn same_seed_same_delays_different_seed_different_delays() {
        let run = |seed| {
            let mut backoff = Backoff::new(
                Duration::from_millis(50),
                Duration::from_secs(10),
                Some(seed),
            );
            (0..8).map(|_| backoff.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn never_overflows_after_many_failures() {
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(30), Some(3));
        for _ in 0..200 {
            assert!(backoff.next_delay() <= Duration::from_secs(30));
        }
    }
}
