//! Round-trip latency per endpoint, for the health panel. Lock-free: one set of atomics per
//! endpoint, updated once per attempt.

use super::endpoint::Endpoint;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
struct EndpointCounters {
    requests: AtomicU64,
    failures: AtomicU64,
    total_us: AtomicU64,
    last_us: AtomicU64,
    max_us: AtomicU64,
}

/// Per-endpoint counters shared by every clone of a client.
#[derive(Debug)]
pub struct LatencyStats {
    counters: Vec<EndpointCounters>,
    retries: AtomicU64,
}

/// One endpoint's figures at the time of reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointLatency {
    pub endpoint: Endpoint,
    /// Attempts that got an HTTP answer (any status).
    pub requests: u64,
    /// Attempts that got no answer (timeout, connection failure).
    pub failures: u64,
    pub last_us: u64,
    pub max_us: u64,
    pub mean_us: u64,
}

impl Default for LatencyStats {
    fn default() -> LatencyStats {
        LatencyStats {
            counters: Endpoint::ALL
                .iter()
                .map(|_| EndpointCounters::default())
                .collect(),
            retries: AtomicU64::new(0),
        }
    }
}

impl LatencyStats {
    /// An attempt that got an HTTP answer after `round_trip_us`.
    pub fn record(&self, endpoint: Endpoint, round_trip_us: u64) {
        if let Some(counters) = self.counters.get(endpoint.index()) {
            counters.requests.fetch_add(1, Ordering::Relaxed);
            counters
                .total_us
                .fetch_add(round_trip_us, Ordering::Relaxed);
            counters.last_us.store(round_trip_us, Ordering::Relaxed);
            counters.max_us.fetch_max(round_trip_us, Ordering::Relaxed);
        }
    }

    /// A call is about to be attempted again.
    pub fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Attempts beyond the first, over every call so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// An attempt that got no answer.
    pub fn record_failure(&self, endpoint: Endpoint) {
        if let Some(counters) = self.counters.get(endpoint.index()) {
            counters.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn get(&self, endpoint: Endpoint) -> EndpointLatency {
        let counters = &self.counters[endpoint.index()];
        let requests = counters.requests.load(Ordering::Relaxed);
        let total_us = counters.total_us.load(Ordering::Relaxed);
        EndpointLatency {
            endpoint,
            requests,
            failures: counters.failures.load(Ordering::Relaxed),
            last_us: counters.last_us.load(Ordering::Relaxed),
            max_us: counters.max_us.load(Ordering::Relaxed),
            mean_us: total_us.checked_div(requests).unwrap_or(0),
        }
    }

    /// Every endpoint that has been called at least once.
    pub fn snapshot(&self) -> Vec<EndpointLatency> {
        Endpoint::ALL
            .iter()
            .map(|endpoint| self.get(*endpoint))
            .filter(|latency| latency.requests + latency.failures > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_count_mean_last_and_max() {
        let stats = LatencyStats::default();
        stats.record(Endpoint::Markets, 300);
        stats.record(Endpoint::Markets, 100);
        stats.record_failure(Endpoint::CreateOrder);
        let markets = stats.get(Endpoint::Markets);
        assert_eq!(
            (
                markets.requests,
                markets.mean_us,
                markets.last_us,
                markets.max_us
            ),
            (2, 200, 100, 300)
        );
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.len(), 2);
        assert_eq!(stats.get(Endpoint::CreateOrder).failures, 1);
    }
}
