//! Client-side token buckets that mirror Kalshi's (DIGEST section 8), so the desk spends its
//! budget on purpose instead of discovering the limit through 429s.
//!
//! - Two buckets, Read and Write, refilled continuously at `refill_per_s` up to `capacity`.
//! - Every endpoint has a token cost: the defaults from DIGEST section 8, replaced by
//!   `GET /account/endpoint_costs` and `GET /account/limits` when they answer.
//! - New orders (and amends) fail fast with [`RateLimitError::WouldExceed`] when the budget is
//!   short: a stale order is worse than none. They may never dip into the cancel reserve.
//! - Cancels wait in a FIFO lane and may spend the reserve, so a kill switch can always cancel.
//! - Batches must fit the bucket in one go (Kalshi rejects a whole batch that does not), so
//!   callers ask [`RateLimiter::max_batch_items`] and split.
//!
//! Time comes from a [`Clock`], so tests run on virtual time ([`ManualClock`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Kalshi's documented default cost for an endpoint not listed in `endpoint_costs`.
pub const DEFAULT_ENDPOINT_COST: u32 = 10;

/// Where the limiter reads the time and how it waits. Monotonic nanoseconds.
pub trait Clock: Send + Sync + 'static {
    fn now_ns(&self) -> u64;
    /// Resolves once `now_ns() >= deadline_ns`.
    fn sleep_until(&self, deadline_ns: u64) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// The process clock (`runtime::clock::mono_ns`) with tokio timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> u64 {
        crate::runtime::clock::mono_ns()
    }

    fn sleep_until(&self, deadline_ns: u64) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let wait = deadline_ns.saturating_sub(self.now_ns());
        Box::pin(tokio::time::sleep(Duration::from_nanos(wait)))
    }
}

/// Virtual time for tests and replays: time moves only when [`ManualClock::advance`] is called,
/// or, when built with [`ManualClock::auto_advancing`], jumps to a sleeper's deadline the moment
/// it sleeps (like tokio's paused clock, but independent of socket I/O).
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<tokio::sync::watch::Sender<u64>>,
    auto_advance: bool,
}

impl ManualClock {
    pub fn new(start_ns: u64) -> ManualClock {
        ManualClock {
            now: Arc::new(tokio::sync::watch::Sender::new(start_ns)),
            auto_advance: false,
        }
    }

    pub fn auto_advancing(start_ns: u64) -> ManualClock {
        ManualClock {
            auto_advance: true,
            ..ManualClock::new(start_ns)
        }
    }

    pub fn advance(&self, by: Duration) {
        let by_ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.now.send_modify(|now| *now = now.saturating_add(by_ns));
    }

    pub fn set_ns(&self, now_ns: u64) {
        self.now.send_modify(|now| *now = (*now).max(now_ns));
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> u64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline_ns: u64) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        if self.auto_advance {
            self.set_ns(deadline_ns);
        }
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // The sender lives in `self`; if every clock handle is gone nobody can advance time,
            // so returning is as good as waiting forever and avoids a hang.
            let _ = now.wait_for(|now| *now >= deadline_ns).await;
        })
    }
}

/// Which of Kalshi's two buckets an endpoint draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BucketKind {
    Read,
    Write,
}

/// One bucket's budget: refill rate and capacity, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BucketLimit {
    pub refill_per_s: u32,
    pub capacity: u32,
}

impl BucketLimit {
    pub const fn new(refill_per_s: u32, capacity: u32) -> BucketLimit {
        BucketLimit {
            refill_per_s,
            capacity,
        }
    }
}

/// Kalshi's usage tiers (DIGEST section 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Tier {
    Basic,
    Advanced,
    Expert,
    Premier,
    Paragon,
    Prime,
    Prestige,
}

impl Tier {
    /// (read, write) budgets. Basic/Advanced Read and Write above Basic hold 2 s of refill;
    /// Basic Write and Read above Advanced hold 1 s.
    pub const fn limits(self) -> (BucketLimit, BucketLimit) {
        match self {
            Tier::Basic => (BucketLimit::new(200, 400), BucketLimit::new(100, 100)),
            Tier::Advanced => (BucketLimit::new(300, 600), BucketLimit::new(300, 600)),
            Tier::Expert => (BucketLimit::new(600, 600), BucketLimit::new(600, 1200)),
            Tier::Premier => (BucketLimit::new(1000, 1000), BucketLimit::new(1000, 2000)),
            Tier::Paragon => (BucketLimit::new(2000, 2000), BucketLimit::new(2000, 4000)),
            Tier::Prime => (BucketLimit::new(4000, 4000), BucketLimit::new(4000, 8000)),
            Tier::Prestige => (
                BucketLimit::new(10000, 10000),
                BucketLimit::new(8000, 16000),
            ),
        }
    }

    /// The tier named by `GET /account/limits`'s `usage_tier` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Tier> {
        let tier = match name.to_ascii_lowercase().as_str() {
            "basic" => Tier::Basic,
            "advanced" => Tier::Advanced,
            "expert" => Tier::Expert,
            "premier" => Tier::Premier,
            "paragon" => Tier::Paragon,
            "prime" => Tier::Prime,
            "prestige" => Tier::Prestige,
            _ => return None,
        };
        Some(tier)
    }
}

/// An endpoint as the limiter sees it: method, route template (relative to `/trade-api/v2`,
/// parameters in braces) and bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    pub method: &'static str,
    pub template: &'static str,
    pub bucket: BucketKind,
}

impl Route {
    pub const fn new(method: &'static str, template: &'static str, bucket: BucketKind) -> Route {
        Route {
            method,
            template,
            bucket,
        }
    }
}

/// Token cost per endpoint. For batch endpoints the cost is per item (Kalshi bills batches per
/// order: "batches do not save tokens").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostTable {
    default_cost: u32,
    costs: HashMap<(String, String), u32>,
}

impl CostTable {
    /// The costs DIGEST section 8 lists, used until `GET /account/endpoint_costs` answers.
    pub fn digest_defaults() -> CostTable {
        let mut table = CostTable::new(DEFAULT_ENDPOINT_COST);
        table.set("DELETE", "/portfolio/events/orders/{order_id}", 2);
        table.set("DELETE", "/portfolio/events/orders/batched", 2);
        table.set("POST", "/portfolio/events/orders/batched", 10);
        table.set("POST", "/portfolio/events/orders", 10);
        table.set("GET", "/portfolio/orders/{order_id}", 2);
        table
    }

    pub fn new(default_cost: u32) -> CostTable {
        CostTable {
            default_cost,
            costs: HashMap::new(),
        }
    }

    /// Set one endpoint's cost. `path` may carry the `/trade-api/v2` prefix and name its
    /// parameters any way (`{order_id}`, `{id}`, `:order_id`): they are normalised away.
    pub fn set(&mut self, method: &str, path: &str, cost: u32) {
        self.costs
            .insert((method.to_ascii_uppercase(), normalize_route(path)), cost);
    }

    pub fn default_cost(&self) -> u32 {
        self.default_cost
    }

    pub fn cost(&self, route: Route) -> u32 {
        self.costs
            .get(&(route.method.to_string(), normalize_route(route.template)))
            .copied()
            .unwrap_or(self.default_cost)
    }
}

/// Route templates compare equal whatever their parameters are called and whether or not they
/// carry the API prefix, so costs from the exchange match our templates.
fn normalize_route(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let path = path.strip_prefix("/trade-api/v2").unwrap_or(path);
    let mut normalized = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        normalized.push('/');
        let is_param = (segment.starts_with('{') && segment.ends_with('}'))
            || segment.starts_with(':')
            || (segment.starts_with('<') && segment.ends_with('>'));
        normalized.push_str(if is_param { "{}" } else { segment });
    }
    if normalized.is_empty() {
        normalized.push('/');
    }
    normalized
}

/// Why the limiter refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    /// Not enough budget right now for a write that must not wait.
    #[error("rate budget short: needs {needed} tokens, {available} available")]
    WouldExceed { needed: u32, available: u32 },
    /// The request costs more than the bucket can ever hold; split it.
    #[error("request costs {needed} tokens but the bucket holds at most {capacity}")]
    ExceedsCapacity { needed: u32, capacity: u32 },
}

/// A token bucket on a caller-supplied clock. Levels are kept in token-nanoseconds, so
/// continuous refill at any rate is exact in integers.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    limit: BucketLimit,
    level: u128,
    updated_ns: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: BucketLimit, now_ns: u64) -> TokenBucket {
        TokenBucket {
            limit,
            level: scaled(limit.capacity),
            updated_ns: now_ns,
        }
    }

    pub fn limit(&self) -> BucketLimit {
        self.limit
    }

    /// Change the budget, keeping the tokens held (clamped to the new capacity).
    pub fn set_limit(&mut self, limit: BucketLimit, now_ns: u64) {
        self.refill(now_ns);
        self.limit = limit;
        self.level = self.level.min(scaled(limit.capacity));
    }

    fn refill(&mut self, now_ns: u64) {
        if now_ns > self.updated_ns {
            let elapsed = u128::from(now_ns - self.updated_ns);
            self.level = self
                .level
                .saturating_add(elapsed * u128::from(self.limit.refill_per_s))
                .min(scaled(self.limit.capacity));
            self.updated_ns = now_ns;
        }
    }

    /// Whole tokens held now.
    pub fn available(&mut self, now_ns: u64) -> u32 {
        self.refill(now_ns);
        whole_tokens(self.level)
    }

    /// Take `cost` tokens if at least `keep` remain afterwards.
    pub fn try_take(&mut self, cost: u32, keep: u32, now_ns: u64) -> Result<(), RateLimitError> {
        self.refill(now_ns);
        let needed = u64::from(cost) + u64::from(keep);
        if needed > u64::from(self.limit.capacity) {
            return Err(RateLimitError::ExceedsCapacity {
                needed: cost,
                capacity: self.limit.capacity.saturating_sub(keep),
            });
        }
        if self.level >= u128::from(needed) * u128::from(NANOS_PER_SEC) {
            self.level -= scaled(cost);
            Ok(())
        } else {
            Err(RateLimitError::WouldExceed {
                needed: cost,
                available: whole_tokens(self.level).saturating_sub(keep),
            })
        }
    }

    /// Nanoseconds until `cost` tokens can be taken leaving `keep` (0 if now); `None` when the
    /// bucket can never hold that much or does not refill.
    pub fn wait_ns(&mut self, cost: u32, keep: u32, now_ns: u64) -> Option<u64> {
        self.refill(now_ns);
        let needed = u64::from(cost) + u64::from(keep);
        if needed > u64::from(self.limit.capacity) {
            return None;
        }
        let target = u128::from(needed) * u128::from(NANOS_PER_SEC);
        if self.level >= target {
            return Some(0);
        }
        if self.limit.refill_per_s == 0 {
            return None;
        }
        let rate = u128::from(self.limit.refill_per_s);
        let wait = (target - self.level).div_ceil(rate);
        Some(u64::try_from(wait).unwrap_or(u64::MAX))
    }

    /// Empty the bucket: the exchange answered 429, so its bucket is emptier than ours.
    pub fn drain(&mut self, now_ns: u64) {
        self.refill(now_ns);
        self.level = 0;
    }
}

fn scaled(tokens: u32) -> u128 {
    u128::from(tokens) * u128::from(NANOS_PER_SEC)
}

fn whole_tokens(level: u128) -> u32 {
    u32::try_from(level / u128::from(NANOS_PER_SEC)).unwrap_or(u32::MAX)
}

/// Starting budget and the write tokens only cancels may spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterConfig {
    pub read: BucketLimit,
    pub write: BucketLimit,
    pub cancel_reserve: u32,
    pub costs: CostTable,
}

impl LimiterConfig {
    /// A tier's budget with DIGEST's costs and a cancel reserve of a fifth of the write bucket.
    pub fn for_tier(tier: Tier) -> LimiterConfig {
        let (read, write) = tier.limits();
        LimiterConfig {
            read,
            write,
            cancel_reserve: write.capacity / 5,
            costs: CostTable::digest_defaults(),
        }
    }
}

impl Default for LimiterConfig {
    fn default() -> LimiterConfig {
        LimiterConfig::for_tier(Tier::Basic)
    }
}

/// What the status bar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSnapshot {
    pub read_available: u32,
    pub read: BucketLimit,
    pub write_available: u32,
    pub write: BucketLimit,
    pub cancel_reserve: u32,
    pub cancels_waiting: usize,
}

struct LimiterState {
    read: TokenBucket,
    write: TokenBucket,
    cancel_reserve: u32,
    costs: CostTable,
}

impl LimiterState {
    fn bucket(&mut self, kind: BucketKind) -> &mut TokenBucket {
        match kind {
            BucketKind::Read => &mut self.read,
            BucketKind::Write => &mut self.write,
        }
    }

    /// Tokens that must stay in the bucket after a non-cancel request of this kind.
    fn keep(&self, kind: BucketKind) -> u32 {
        match kind {
            BucketKind::Read => 0,
            BucketKind::Write => self.cancel_reserve,
        }
    }
}

/// The read and write buckets with their cost table, shared by every request of one key.
pub struct RateLimiter {
    clock: Arc<dyn Clock>,
    state: Mutex<LimiterState>,
    /// Cancels queue here in arrival order; only the head waits for tokens.
    cancel_lane: tokio::sync::Mutex<()>,
    cancels_waiting: AtomicUsize,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("budget", &self.snapshot())
            .finish()
    }
}

impl RateLimiter {
    pub fn new(clock: Arc<dyn Clock>, config: LimiterConfig) -> RateLimiter {
        let now = clock.now_ns();
        RateLimiter {
            state: Mutex::new(LimiterState {
                read: TokenBucket::new(config.read, now),
                write: TokenBucket::new(config.write, now),
                cancel_reserve: config.cancel_reserve.min(config.write.capacity),
                costs: config.costs,
            }),
            clock,
            cancel_lane: tokio::sync::Mutex::new(()),
            cancels_waiting: AtomicUsize::new(0),
        }
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn state(&self) -> MutexGuard<'_, LimiterState> {
        // A panic while holding this lock cannot leave the buckets inconsistent (every update
        // is a single assignment), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tokens one request (or one batch item) of `route` costs.
    pub fn cost(&self, route: Route) -> u32 {
        self.state().costs.cost(route)
    }

    /// Replace the cost table (from `GET /account/endpoint_costs`).
    pub fn set_costs(&self, costs: CostTable) {
        self.state().costs = costs;
    }

    /// Replace the budgets (from `GET /account/limits`); tokens held are kept, clamped. The
    /// cancel reserve keeps its share of the write bucket.
    pub fn set_limits(&self, read: BucketLimit, write: BucketLimit) {
        let now = self.clock.now_ns();
        let mut state = self.state();
        let old_capacity = state.write.limit().capacity;
        state.read.set_limit(read, now);
        state.write.set_limit(write, now);
        let scaled_reserve = (u64::from(state.cancel_reserve) * u64::from(write.capacity))
            .checked_div(u64::from(old_capacity))
            .unwrap_or(0);
        state.cancel_reserve = u32::try_from(scaled_reserve)
            .unwrap_or(u32::MAX)
            .min(write.capacity);
    }

    pub fn set_cancel_reserve(&self, reserve: u32) {
        let mut state = self.state();
        state.cancel_reserve = reserve.min(state.write.limit().capacity);
    }

    /// The exchange said 429: our bucket is fuller than its, so empty ours.
    pub fn note_rejected(&self, bucket: BucketKind) {
        let now = self.clock.now_ns();
        self.state().bucket(bucket).drain(now);
    }

    pub fn snapshot(&self) -> BudgetSnapshot {
        let now = self.clock.now_ns();
        let mut state = self.state();
        BudgetSnapshot {
            read_available: state.read.available(now),
            read: state.read.limit(),
            write_available: state.write.available(now),
            write: state.write.limit(),
            cancel_reserve: state.cancel_reserve,
            cancels_waiting: self.cancels_waiting.load(Ordering::Acquire),
        }
    }

    /// The most items of a batch on `route` that can ever be sent at once: cancels may use the
    /// whole bucket, other writes all but the cancel reserve. At least 1.
    pub fn max_batch_items(&self, route: Route, is_cancel: bool) -> usize {
        let state = self.state();
        let per_item = state.costs.cost(route).max(1);
        let capacity = match route.bucket {
            BucketKind::Read => state.read.limit().capacity,
            BucketKind::Write if is_cancel => state.write.limit().capacity,
            BucketKind::Write => state
                .write
                .limit()
                .capacity
                .saturating_sub(state.cancel_reserve),
        };
        usize::try_from(capacity / per_item)
            .unwrap_or(usize::MAX)
            .max(1)
    }

    /// New orders and amends: take the cost of `items` now or fail. Never spends the cancel
    /// reserve, and yields to cancels already waiting.
    pub fn try_acquire_now(&self, route: Route, items: u32) -> Result<(), RateLimitError> {
        let now = self.clock.now_ns();
        let mut state = self.state();
        let cost = state.costs.cost(route).saturating_mul(items.max(1));
        if route.bucket == BucketKind::Write && self.cancels_waiting.load(Ordering::Acquire) > 0 {
            return Err(RateLimitError::WouldExceed {
                needed: cost,
                available: 0,
            });
        }
        let keep = state.keep(route.bucket);
        state.bucket(route.bucket).try_take(cost, keep, now)
    }

    /// A batch of new orders: take the cost of as many leading items as the budget allows now
    /// (at least one, or fail) and say how many.
    pub fn try_acquire_up_to(&self, route: Route, items: u32) -> Result<u32, RateLimitError> {
        let now = self.clock.now_ns();
        let mut state = self.state();
        let per_item = state.costs.cost(route);
        if route.bucket == BucketKind::Write && self.cancels_waiting.load(Ordering::Acquire) > 0 {
            return Err(RateLimitError::WouldExceed {
                needed: per_item,
                available: 0,
            });
        }
        let keep = state.keep(route.bucket);
        let bucket = state.bucket(route.bucket);
        let spendable = bucket.available(now).saturating_sub(keep);
        let affordable = spendable.checked_div(per_item).unwrap_or(items);
        let granted = affordable.min(items.max(1));
        if granted == 0 {
            return Err(RateLimitError::WouldExceed {
                needed: per_item,
                available: spendable,
            });
        }
        bucket.try_take(per_item.saturating_mul(granted), keep, now)?;
        Ok(granted)
    }

    /// Reads and non-cancel writes that may wait: sleep until the budget covers `items`.
    pub async fn acquire(&self, route: Route, items: u32) -> Result<(), RateLimitError> {
        loop {
            let wait = {
                let now = self.clock.now_ns();
                let mut state = self.state();
                let cost = state.costs.cost(route).saturating_mul(items.max(1));
                let keep = state.keep(route.bucket);
                let bucket = state.bucket(route.bucket);
                match bucket.try_take(cost, keep, now) {
                    Ok(()) => return Ok(()),
                    Err(RateLimitError::WouldExceed { .. }) => {}
                    Err(too_big) => return Err(too_big),
                }
                match bucket.wait_ns(cost, keep, now) {
                    Some(wait) => now.saturating_add(wait.max(1)),
                    None => {
                        return Err(RateLimitError::ExceedsCapacity {
                            needed: cost,
                            capacity: bucket.limit().capacity,
                        });
                    }
                }
            };
            self.clock.sleep_until(wait).await;
        }
    }

    /// Cancels: queue in the cancel lane and wait for the budget, reserve included.
    pub async fn acquire_cancel(&self, route: Route, items: u32) -> Result<(), RateLimitError> {
        self.cancels_waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = WaitingCancel(&self.cancels_waiting);
        let _head_of_lane = self.cancel_lane.lock().await;
        loop {
            let deadline = {
                let now = self.clock.now_ns();
                let mut state = self.state();
                let cost = state.costs.cost(route).saturating_mul(items.max(1));
                let bucket = state.bucket(route.bucket);
                match bucket.try_take(cost, 0, now) {
                    Ok(()) => return Ok(()),
                    Err(RateLimitError::WouldExceed { .. }) => {}
                    Err(too_big) => return Err(too_big),
                }
                match bucket.wait_ns(cost, 0, now) {
                    Some(wait) => now.saturating_add(wait.max(1)),
                    None => {
                        return Err(RateLimitError::ExceedsCapacity {
                            needed: cost,
                            capacity: bucket.limit().capacity,
                        });
                    }
                }
            };
            self.clock.sleep_until(deadline).await;
        }
    }
}

/// Counts a cancel as waiting until it has its tokens (or its future is dropped).
struct WaitingCancel<'a>(&'a AtomicUsize);

impl Drop for WaitingCancel<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Split `items` into consecutive chunks of at most `max_per_chunk` (at least 1).
pub fn split_batch<T>(items: Vec<T>, max_per_chunk: usize) -> Vec<Vec<T>> {
    let max_per_chunk = max_per_chunk.max(1);
    let mut chunks = Vec::with_capacity(items.len().div_ceil(max_per_chunk));
    let mut current = Vec::with_capacity(max_per_chunk.min(items.len()));
    for item in items {
        current.push(item);
        if current.len() == max_per_chunk {
            chunks.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const CREATE: Route = Route::new("POST", "/portfolio/events/orders", BucketKind::Write);
    const BATCH_CREATE: Route = Route::new(
        "POST",
        "/portfolio/events/orders/batched",
        BucketKind::Write,
    );
    const CANCEL: Route = Route::new(
        "DELETE",
        "/portfolio/events/orders/{order_id}",
        BucketKind::Write,
    );
    const BATCH_CANCEL: Route = Route::new(
        "DELETE",
        "/portfolio/events/orders/batched",
        BucketKind::Write,
    );
    const MARKETS: Route = Route::new("GET", "/markets", BucketKind::Read);

    fn limiter(write: BucketLimit, reserve: u32) -> (ManualClock, RateLimiter) {
        let clock = ManualClock::new(1_000 * MS);
        let config = LimiterConfig {
            read: BucketLimit::new(200, 400),
            write,
            cancel_reserve: reserve,
            costs: CostTable::digest_defaults(),
        };
        (clock.clone(), RateLimiter::new(Arc::new(clock), config))
    }

    #[test]
    fn bucket_starts_full_and_refills_continuously_up_to_capacity() {
        let mut bucket = TokenBucket::new(BucketLimit::new(100, 100), 0);
        assert_eq!(bucket.available(0), 100);
        bucket.try_take(100, 0, 0).unwrap();
        assert_eq!(bucket.available(0), 0);
        // 100 tokens/s: one token every 10 ms, none before.
        assert_eq!(bucket.available(9 * MS), 0);
        assert_eq!(bucket.available(10 * MS), 1);
        assert_eq!(bucket.available(505 * MS), 50);
        assert_eq!(bucket.available(1_000 * MS), 100);
        assert_eq!(bucket.available(60_000 * MS), 100);
    }

    #[test]
    fn fractional_refill_is_not_lost_between_reads() {
        // 3 tokens/s read every millisecond must still give 3 tokens after one second.
        let mut bucket = TokenBucket::new(BucketLimit::new(3, 3), 0);
        bucket.try_take(3, 0, 0).unwrap();
        for ms in 1..=1_000 {
            bucket.available(ms * MS);
        }
        assert_eq!(bucket.available(1_000 * MS), 3);
    }

    #[test]
    fn take_refuses_when_short_and_reports_what_is_spendable() {
        let mut bucket = TokenBucket::new(BucketLimit::new(100, 100), 0);
        bucket.try_take(85, 0, 0).unwrap();
        assert_eq!(
            bucket.try_take(16, 0, 0),
            Err(RateLimitError::WouldExceed {
                needed: 16,
                available: 15
            })
        );
        // Keeping a reserve of 10 leaves only 5 spendable.
        assert_eq!(
            bucket.try_take(10, 10, 0),
            Err(RateLimitError::WouldExceed {
                needed: 10,
                available: 5
            })
        );
        bucket.try_take(5, 10, 0).unwrap();
        assert_eq!(bucket.available(0), 10);
        assert_eq!(
            bucket.try_take(101, 0, 0),
            Err(RateLimitError::ExceedsCapacity {
                needed: 101,
                capacity: 100
            })
        );
    }

    #[test]
    fn wait_is_the_exact_refill_time() {
        let mut bucket = TokenBucket::new(BucketLimit::new(100, 100), 0);
        bucket.try_take(100, 0, 0).unwrap();
        assert_eq!(bucket.wait_ns(10, 0, 0), Some(100 * MS));
        assert_eq!(bucket.wait_ns(10, 20, 0), Some(300 * MS));
        assert_eq!(bucket.wait_ns(10, 0, 100 * MS), Some(0));
        assert_eq!(bucket.wait_ns(101, 0, 0), None);
        let mut frozen = TokenBucket::new(BucketLimit::new(0, 10), 0);
        frozen.try_take(10, 0, 0).unwrap();
        assert_eq!(frozen.wait_ns(1, 0, 0), None);
    }

    #[test]
    fn new_limit_keeps_tokens_clamped_to_capacity() {
        let mut bucket = TokenBucket::new(BucketLimit::new(100, 100), 0);
        bucket.set_limit(BucketLimit::new(50, 40), 0);
        assert_eq!(bucket.available(0), 40);
        bucket.try_take(40, 0, 0).unwrap();
        bucket.set_limit(BucketLimit::new(1000, 2000), 0);
        assert_eq!(bucket.available(0), 0);
        assert_eq!(bucket.available(2_000 * MS), 2000);
    }

    #[test]
    fn drain_empties_the_bucket() {
        let mut bucket = TokenBucket::new(BucketLimit::new(100, 100), 0);
        bucket.drain(0);
        assert_eq!(bucket.available(0), 0);
        assert_eq!(bucket.available(10 * MS), 1);
    }

    #[test]
    fn cost_table_matches_exchange_paths_whatever_their_form() {
        let defaults = CostTable::digest_defaults();
        assert_eq!(defaults.cost(CANCEL), 2);
        assert_eq!(defaults.cost(BATCH_CANCEL), 2);
        assert_eq!(defaults.cost(CREATE), 10);
        assert_eq!(defaults.cost(MARKETS), DEFAULT_ENDPOINT_COST);
        assert_eq!(
            defaults.cost(Route::new(
                "GET",
                "/portfolio/orders/{order_id}",
                BucketKind::Read
            )),
            2
        );

        let mut table = CostTable::new(7);
        table.set("delete", "/trade-api/v2/portfolio/events/orders/:id", 3);
        table.set("GET", "/markets/{ticker}/orderbook/", 1);
        assert_eq!(table.cost(CANCEL), 3);
        assert_eq!(
            table.cost(Route::new(
                "GET",
                "/markets/{market_ticker}/orderbook",
                BucketKind::Read
            )),
            1
        );
        assert_eq!(table.cost(MARKETS), 7);
        // The method matters.
        assert_eq!(
            table.cost(Route::new(
                "GET",
                "/portfolio/events/orders/{order_id}",
                BucketKind::Read
            )),
            7
        );
    }

    #[test]
    fn tiers_follow_digest_section_8() {
        assert_eq!(
            Tier::Basic.limits(),
            (BucketLimit::new(200, 400), BucketLimit::new(100, 100))
        );
        assert_eq!(Tier::Premier.limits().1, BucketLimit::new(1000, 2000));
        assert_eq!(Tier::Prestige.limits().0, BucketLimit::new(10000, 10000));
        assert_eq!(Tier::from_name("Expert"), Some(Tier::Expert));
        assert_eq!(Tier::from_name("gold"), None);
    }

    #[test]
    fn new_orders_fail_fast_and_never_spend_the_cancel_reserve() {
        let (clock, limiter) = limiter(BucketLimit::new(100, 100), 20);
        for _ in 0..8 {
            limiter.try_acquire_now(CREATE, 1).unwrap();
        }
        assert_eq!(limiter.snapshot().write_available, 20);
        assert_eq!(
            limiter.try_acquire_now(CREATE, 1),
            Err(RateLimitError::WouldExceed {
                needed: 10,
                available: 0
            })
        );
        // Ten cancels fit in the reserve without waiting.
        for _ in 0..10 {
            limiter.try_acquire_now(CANCEL, 1).unwrap_err();
        }
        let cancels = async {
            for _ in 0..10 {
                limiter.acquire_cancel(CANCEL, 1).await.unwrap();
            }
        };
        futures_util::FutureExt::now_or_never(cancels).expect("reserve covers ten cancels");
        assert_eq!(limiter.snapshot().write_available, 0);
        // After 100 ms, 10 tokens are back but the reserve is not: a create still fails.
        clock.advance(Duration::from_millis(100));
        assert!(limiter.try_acquire_now(CREATE, 1).is_err());
        clock.advance(Duration::from_millis(200));
        limiter.try_acquire_now(CREATE, 1).unwrap();
    }

    #[tokio::test]
    async fn cancels_wait_for_refill_in_arrival_order_and_block_new_orders_meanwhile() {
        let (clock, limiter) = limiter(BucketLimit::new(100, 100), 20);
        let limiter = Arc::new(limiter);
        limiter.acquire_cancel(BATCH_CANCEL, 50).await.unwrap();
        assert_eq!(limiter.snapshot().write_available, 0);

        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        for name in ["first", "second"] {
            let limiter = Arc::clone(&limiter);
            let done_tx = done_tx.clone();
            tokio::spawn(async move {
                limiter.acquire_cancel(BATCH_CANCEL, 5).await.unwrap();
                done_tx.send(name).unwrap();
            });
            tokio::task::yield_now().await;
        }
        tokio::task::yield_now().await;
        assert!(done_rx.try_recv().is_err(), "no budget yet");
        assert_eq!(limiter.snapshot().cancels_waiting, 2);

        // Waiting cancels come before new orders, even once tokens are back.
        clock.advance(Duration::from_millis(99));
        tokio::task::yield_now().await;
        assert!(done_rx.try_recv().is_err());

        clock.advance(Duration::from_millis(1));
        assert_eq!(done_rx.recv().await, Some("first"));
        assert!(matches!(
            limiter.try_acquire_now(CREATE, 1),
            Err(RateLimitError::WouldExceed { available: 0, .. })
        ));
        clock.advance(Duration::from_millis(100));
        assert_eq!(done_rx.recv().await, Some("second"));
        assert_eq!(limiter.snapshot().cancels_waiting, 0);
    }

    #[tokio::test]
    async fn reads_wait_for_their_own_bucket() {
        let (clock, limiter) = limiter(BucketLimit::new(100, 100), 20);
        for _ in 0..40 {
            limiter.acquire(MARKETS, 1).await.unwrap();
        }
        // The write bucket is untouched by reads.
        assert_eq!(limiter.snapshot().write_available, 100);
        let limiter = Arc::new(limiter);
        let waiting = tokio::spawn({
            let limiter = Arc::clone(&limiter);
            async move { limiter.acquire(MARKETS, 1).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        clock.advance(Duration::from_millis(50));
        waiting.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn auto_advancing_clock_jumps_to_the_deadline() {
        let clock = ManualClock::auto_advancing(0);
        let limiter = RateLimiter::new(
            Arc::new(clock.clone()),
            LimiterConfig {
                write: BucketLimit::new(100, 100),
                cancel_reserve: 0,
                ..LimiterConfig::default()
            },
        );
        limiter.acquire_cancel(BATCH_CANCEL, 50).await.unwrap();
        limiter.acquire_cancel(CANCEL, 1).await.unwrap();
        assert_eq!(clock.now_ns(), 20 * MS);
    }

    #[tokio::test]
    async fn a_request_larger_than_the_bucket_is_refused_not_awaited_forever() {
        let (_clock, limiter) = limiter(BucketLimit::new(100, 100), 20);
        assert_eq!(
            limiter.acquire_cancel(BATCH_CANCEL, 51).await,
            Err(RateLimitError::ExceedsCapacity {
                needed: 102,
                capacity: 100
            })
        );
        assert!(matches!(
            limiter.try_acquire_now(BATCH_CREATE, 9),
            Err(RateLimitError::ExceedsCapacity { .. })
        ));
        assert_eq!(limiter.snapshot().cancels_waiting, 0);
    }

    #[test]
    fn batch_sizes_fit_the_bucket() {
        let (_clock, limiter) = limiter(BucketLimit::new(100, 100), 20);
        assert_eq!(limiter.max_batch_items(BATCH_CANCEL, true), 50);
        assert_eq!(limiter.max_batch_items(BATCH_CREATE, false), 8);
        limiter.set_limits(BucketLimit::new(200, 400), BucketLimit::new(1000, 2000));
        // The reserve keeps its fifth of the bucket: 400 of 2000.
        assert_eq!(limiter.snapshot().cancel_reserve, 400);
        assert_eq!(limiter.max_batch_items(BATCH_CREATE, false), 160);
        let mut costs = CostTable::new(10);
        costs.set("POST", "/portfolio/events/orders/batched", 0);
        limiter.set_costs(costs);
        assert!(limiter.max_batch_items(BATCH_CREATE, false) >= 1);

        let chunks = split_batch((0..23).collect(), 10);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[2], vec![20, 21, 22]);
        assert_eq!(split_batch::<u8>(Vec::new(), 5).len(), 0);
        assert_eq!(split_batch(vec![1, 2], 0).len(), 2);
    }

    #[test]
    fn batch_of_new_orders_takes_what_fits_now() {
        let (_clock, limiter) = limiter(BucketLimit::new(100, 100), 20);
        assert_eq!(limiter.try_acquire_up_to(BATCH_CREATE, 3), Ok(3));
        assert_eq!(limiter.try_acquire_up_to(BATCH_CREATE, 30), Ok(5));
        assert_eq!(
            limiter.try_acquire_up_to(BATCH_CREATE, 1),
            Err(RateLimitError::WouldExceed {
                needed: 10,
                available: 0
            })
        );
    }

    #[test]
    fn a_429_empties_our_bucket() {
        let (clock, limiter) = limiter(BucketLimit::new(100, 100), 0);
        limiter.note_rejected(BucketKind::Write);
        assert!(limiter.try_acquire_now(CREATE, 1).is_err());
        assert_eq!(limiter.snapshot().read_available, 400);
        clock.advance(Duration::from_millis(100));
        limiter.try_acquire_now(CREATE, 1).unwrap();
    }

    proptest::proptest! {
        /// Over any schedule of attempts, tokens granted never exceed capacity plus refill.
        #[test]
        fn granted_never_exceeds_capacity_plus_refill(
            steps in proptest::collection::vec((0u64..50, 1u32..30), 1..200),
            rate in 1u32..500,
            capacity in 1u32..500,
        ) {
            let mut bucket = TokenBucket::new(BucketLimit::new(rate, capacity), 0);
            let mut now_ms = 0u64;
            let mut granted = 0u64;
            for (gap_ms, cost) in steps {
                now_ms += gap_ms;
                if bucket.try_take(cost, 0, now_ms * MS).is_ok() {
                    granted += u64::from(cost);
                }
                let allowance = u64::from(capacity) + u64::from(rate) * now_ms / 1_000;
                proptest::prop_assert!(granted <= allowance);
            }
        }
    }
}
