//! The exchange's side of rate limiting (DIGEST.md section 8): per user, a Read and a Write token
//! bucket sized by the usage tier, refilled continuously; a request that does not fit is refused
//! whole with `429 {"error":"too many requests"}` and costs nothing.
//!
//! This is the server's accounting, deliberately separate from the client's `kalshi::ratelimit`:
//! the two must agree only through the wire.

use std::collections::HashMap;
use std::sync::Mutex;

/// Tokens a request costs when `endpoint_costs` does not list it.
pub const DEFAULT_COST: u64 = 10;

/// Kalshi's public usage tiers.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    Basic,
    Advanced,
    Expert,
    Premier,
    Paragon,
    Prime,
    Prestige,
}

/// One bucket's budget, as `GET /account/limits` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BucketLimit {
    /// Tokens added per second.
    pub refill_rate: u64,
    /// Most tokens the bucket holds.
    pub bucket_capacity: u64,
}

/// A user's two buckets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TierLimits {
    pub usage_tier: String,
    pub read: BucketLimit,
    pub write: BucketLimit,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Basic => "basic",
            Tier::Advanced => "advanced",
            Tier::Expert => "expert",
            Tier::Premier => "premier",
            Tier::Paragon => "paragon",
            Tier::Prime => "prime",
            Tier::Prestige => "prestige",
        }
    }

    /// Refill rates from DIGEST 8; capacities hold 2 s of budget for Basic/Advanced Read and for
    /// Write above Basic, 1 s otherwise.
    pub fn limits(self) -> TierLimits {
        let (read_rate, write_rate) = match self {
            Tier::Basic => (200, 100),
            Tier::Advanced => (300, 300),
            Tier::Expert => (600, 600),
            Tier::Premier => (1000, 1000),
            Tier::Paragon => (2000, 2000),
            Tier::Prime => (4000, 4000),
            Tier::Prestige => (10_000, 8000),
        };
        let read_seconds = if matches!(self, Tier::Basic | Tier::Advanced) {
            2
        } else {
            1
        };
        let write_seconds = if self == Tier::Basic { 1 } else { 2 };
        TierLimits {
            usage_tier: self.name().to_string(),
            read: BucketLimit {
                refill_rate: read_rate,
                bucket_capacity: read_rate * read_seconds,
            },
            write: BucketLimit {
                refill_rate: write_rate,
                bucket_capacity: write_rate * write_seconds,
            },
        }
    }
}

/// Which bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BucketKind {
    Read,
    Write,
}

/// What one request costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub bucket: BucketKind,
    pub tokens: u64,
}

/// Endpoints whose cost is not [`DEFAULT_COST`]: (method, path template under `/trade-api/v2`,
/// tokens per request or per batch item). The same table answers `GET /account/endpoint_costs`.
pub const ENDPOINT_COSTS: &[(&str, &str, u64)] = &[
    ("GET", "/portfolio/orders/{order_id}", 2),
    ("DELETE", "/portfolio/events/orders/{order_id}", 2),
    ("DELETE", "/portfolio/events/orders/batched", 2),
];

/// Whether a request is an order-flow write (Write bucket) or anything else (Read bucket).
pub fn bucket_of(method: &http::Method, template: &str) -> BucketKind {
    let writes_orders = template.starts_with("/portfolio/events/orders")
        || template.starts_with("/portfolio/order_groups");
    if writes_orders && *method != http::Method::GET {
        BucketKind::Write
    } else {
        BucketKind::Read
    }
}

/// The cost of a request; `batch_items` is the number of orders in a batch body (1 otherwise).
/// Batches are billed per item, so a batch costs what its orders would cost one by one.
pub fn cost_of(method: &http::Method, template: &str, batch_items: u64) -> Cost {
    let per_item = ENDPOINT_COSTS
        .iter()
        .find(|(m, path, _)| *m == method.as_str() && *path == template)
        .map_or(DEFAULT_COST, |(_, _, cost)| *cost);
    Cost {
        bucket: bucket_of(method, template),
        tokens: per_item.saturating_mul(batch_items.max(1)),
    }
}

/// Billing unit: a token is a billion of these, so nanosecond refills stay exact integers.
const UNITS_PER_TOKEN: u128 = 1_000_000_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    units: u128,
    last_refill_ns: u64,
}

/// The buckets of every user.
#[derive(Debug)]
pub struct RateLimiter {
    limits: Option<TierLimits>,
    buckets: Mutex<HashMap<(String, BucketKind), Bucket>>,
}

impl RateLimiter {
    /// `None` turns rate limiting off (tests and soak runs that measure something else).
    pub fn new(limits: Option<TierLimits>) -> RateLimiter {
        RateLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self) -> Option<&TierLimits> {
        self.limits.as_ref()
    }

    /// Take `cost` from `user`'s bucket at monotonic time `now_ns`, or refuse it whole.
    pub fn try_take(&self, user: &str, cost: Cost, now_ns: u64) -> bool {
        let Some(limits) = &self.limits else {
            return true;
        };
        let limit = match cost.bucket {
            BucketKind::Read => limits.read,
            BucketKind::Write => limits.write,
        };
        let capacity = u128::from(limit.bucket_capacity) * UNITS_PER_TOKEN;
        let mut buckets = match self.buckets.lock() {
            Ok(buckets) => buckets,
            Err(poisoned) => poisoned.into_inner(),
        };
        let bucket = buckets
            .entry((user.to_string(), cost.bucket))
            .or_insert(Bucket {
                units: capacity,
                last_refill_ns: now_ns,
            });
        let elapsed_ns = u128::from(now_ns.saturating_sub(bucket.last_refill_ns));
        // refill_rate tokens per second = refill_rate units per nanosecond.
        bucket.units = capacity.min(bucket.units + elapsed_ns * u128::from(limit.refill_rate));
        bucket.last_refill_ns = bucket.last_refill_ns.max(now_ns);
        let wanted = u128::from(cost.tokens) * UNITS_PER_TOKEN;
        if wanted <= bucket.units {
            bucket.units -= wanted;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn costs_and_buckets_follow_the_digest() {
        let create = cost_of(&Method::POST, "/portfolio/events/orders", 1);
        assert_eq!(
            create,
            Cost {
                bucket: BucketKind::Write,
                tokens: 10
            }
        );
        let cancel = cost_of(&Method::DELETE, "/portfolio/events/orders/{order_id}", 1);
        assert_eq!(cancel.tokens, 2);
        assert_eq!(
            cost_of(&Method::POST, "/portfolio/events/orders/batched", 7).tokens,
            70
        );
        assert_eq!(
            cost_of(&Method::DELETE, "/portfolio/events/orders/batched", 7).tokens,
            14
        );
        assert_eq!(
            cost_of(&Method::GET, "/portfolio/orders/{order_id}", 1).tokens,
            2
        );
        assert_eq!(
            cost_of(&Method::GET, "/markets", 1),
            Cost {
                bucket: BucketKind::Read,
                tokens: 10
            }
        );
        assert_eq!(
            bucket_of(&Method::GET, "/portfolio/order_groups"),
            BucketKind::Read
        );
        assert_eq!(
            bucket_of(
                &Method::PUT,
                "/portfolio/order_groups/{order_group_id}/trigger"
            ),
            BucketKind::Write
        );
    }

    #[test]
    fn tiers_match_the_published_table() {
        let basic = Tier::Basic.limits();
        assert_eq!(
            basic.read,
            BucketLimit {
                refill_rate: 200,
                bucket_capacity: 400
            }
        );
        assert_eq!(
            basic.write,
            BucketLimit {
                refill_rate: 100,
                bucket_capacity: 100
            }
        );
        let prestige = Tier::Prestige.limits();
        assert_eq!(
            prestige.read,
            BucketLimit {
                refill_rate: 10_000,
                bucket_capacity: 10_000
            }
        );
        assert_eq!(
            prestige.write,
            BucketLimit {
                refill_rate: 8000,
                bucket_capacity: 16_000
            }
        );
    }

    #[test]
    fn a_bucket_drains_refills_and_refuses_whole_batches() {
        let limiter = RateLimiter::new(Some(Tier::Basic.limits()));
        let create = Cost {
            bucket: BucketKind::Write,
            tokens: 10,
        };
        let start = 1_000_000_000;
        for _ in 0..10 {
            assert!(limiter.try_take("u", create, start));
        }
        assert!(
            !limiter.try_take("u", create, start),
            "the 11th create in the same instant"
        );
        // Another user's bucket and this user's read bucket are untouched.
        assert!(limiter.try_take("v", create, start));
        assert!(limiter.try_take(
            "u",
            Cost {
                bucket: BucketKind::Read,
                tokens: 10
            },
            start
        ));
        // 100 tokens/s: 10 tokens after 100 ms, not after 99 ms.
        assert!(!limiter.try_take("u", create, start + 99_000_000));
        assert!(limiter.try_take("u", create, start + 100_000_000));
        // A batch larger than the bucket never fits; nothing is taken for a refusal.
        let batch = Cost {
            bucket: BucketKind::Write,
            tokens: 110,
        };
        assert!(!limiter.try_take("w", batch, start));
        assert!(limiter.try_take(
            "w",
            Cost {
                bucket: BucketKind::Write,
                tokens: 100
            },
            start
        ));
    }

    #[test]
    fn no_limits_means_everything_fits() {
        let limiter = RateLimiter::new(None);
        let huge = Cost {
            bucket: BucketKind::Write,
            tokens: u64::MAX,
        };
        assert!(limiter.try_take("u", huge, 0));
    }
}
