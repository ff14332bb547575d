//! Time as the core sees it: handed in by the caller, never read from a clock here.

/// The moment an input is handled.
///
/// - `mono_ns`: monotonic nanoseconds since the runtime started; for ages, rates and timeouts.
/// - `wall_ms`: the local wall clock in Unix milliseconds; for the trading-day boundary.
/// - `exchange_offset_ms`: estimated `exchange clock − wall clock` (from frames' `ts_ms`); for
///   market closes and order expirations, which the exchange judges on its own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Now {
    pub mono_ns: u64,
    pub wall_ms: i64,
    pub exchange_offset_ms: i64,
}

impl Now {
    pub const fn new(mono_ns: u64, wall_ms: i64, exchange_offset_ms: i64) -> Now {
        Now {
            mono_ns,
            wall_ms,
            exchange_offset_ms,
        }
    }

    /// The exchange's clock in Unix milliseconds, as best we know it.
    pub const fn exchange_ms(&self) -> i64 {
        self.wall_ms + self.exchange_offset_ms
    }

    /// Milliseconds of monotonic time since `earlier_mono_ns` (0 if it is in the future).
    pub const fn ms_since(&self, earlier_mono_ns: u64) -> u64 {
        self.mono_ns.saturating_sub(earlier_mono_ns) / 1_000_000
    }

    /// A copy advanced by `ms` milliseconds on both clocks (virtual time in tests and replay).
    pub const fn plus_ms(&self, ms: u64) -> Now {
        Now {
            mono_ns: self.mono_ns + ms * 1_000_000,
            wall_ms: self.wall_ms + ms as i64,
            exchange_offset_ms: self.exchange_offset_ms,
        }
    }
}
