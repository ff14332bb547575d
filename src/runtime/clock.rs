//! The one place the process reads a clock (clippy's `disallowed-methods` bans it elsewhere).

#![allow(clippy::disallowed_methods)]

use crate::core::time::Now;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Monotonic nanoseconds since the first clock read of this process.
pub fn mono_ns() -> u64 {
    u64::try_from(start().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Wall clock, Unix milliseconds.
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A monotonic instant, for code that needs `std::time::Instant` (timers, measured latencies).
pub fn instant() -> Instant {
    Instant::now()
}

/// `Now` for the engine, given the current exchange-offset estimate.
pub fn now(exchange_offset_ms: i64) -> Now {
    Now::new(mono_ns(), wall_ms(), exchange_offset_ms)
}
