//! `maker`: two-sided quotes around a fair value, skewed by inventory.

use crate::core::num::{Count, Money, Price};
use crate::core::risk::{Side, TimeInForce};

use super::{
    DesiredOrder, OwnOrder, ParamError, Strategy, StrategyInput, expiration_after, invalid,
};

/// Where the maker's fair value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FairSource {
    Mid,
    Microprice,
    /// The operator's model (JSON lines), no older than `fair_max_age_ms`.
    External,
}

/// The maker's parameters, per market.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakerParams {
    pub fair_source: FairSource,
    /// Distance from the (skewed) fair value to each quote.
    pub half_spread: Money,
    /// Contracts per quote.
    pub size: Count,
    /// The centre moves against the position by this much per contract held.
    pub skew_per_contract: Money,
    /// No quote that would take |position| beyond this.
    pub max_inventory: Count,
    /// A resting quote within this distance of its new target is left where it is.
    pub requote_threshold: Money,
    pub post_only: bool,
    /// Quote time-to-live via `expiration_time`; 0 = none. Refreshed when less than half is left.
    pub quote_ttl_ms: u64,
    pub cancel_order_on_pause: bool,
    /// No quotes when the book is older than this.
    pub stale_book_ms: u64,
    /// No quotes within this long of the market's close.
    pub pull_before_close_ms: u64,
    /// Max age of an external fair value.
    pub fair_max_age_ms: u64,
}

impl Default for MakerParams {
    fn default() -> MakerParams {
        MakerParams {
            fair_source: FairSource::Mid,
            half_spread: Money::from_cents(2),
            size: Count::from_contracts(10),
            skew_per_contract: Money::ZERO,
            max_inventory: Count::from_contracts(100),
            requote_threshold: Money::from_cents(1),
            post_only: true,
            quote_ttl_ms: 30_000,
            cancel_order_on_pause: true,
            stale_book_ms: 10_000,
            pull_before_close_ms: 60_000,
            fair_max_age_ms: 5_000,
        }
    }
}

impl MakerParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        let dollar = Money::from_micros(1_000_000);
        if self.half_spread.is_negative() || self.half_spread >= dollar {
            return Err(invalid(
                "half_spread",
                self.half_spread,
                "must be in [0, 1)",
            ));
        }
        if !self.size.is_positive() {
            return Err(invalid("size", self.size, "must be positive"));
        }
        if self.skew_per_contract.is_negative() || self.skew_per_contract >= dollar {
            return Err(invalid(
                "skew_per_contract",
                self.skew_per_contract,
                "must be in [0, 1)",
            ));
        }
        if !self.max_inventory.is_positive() {
            return Err(invalid(
                "max_inventory",
                self.max_inventory,
                "must be positive",
            ));
        }
        if self.requote_threshold.is_negative() {
            return Err(invalid(
                "requote_threshold",
                self.requote_threshold,
                "must not be negative",
            ));
        }
        if self.quote_ttl_ms != 0 && self.quote_ttl_ms < 2_000 {
            return Err(invalid(
                "quote_ttl_ms",
                self.quote_ttl_ms,
                "must be 0 (none) or at least 2000",
            ));
        }
        if self.stale_book_ms == 0 {
            return Err(invalid(
                "stale_book_ms",
                self.stale_book_ms,
                "must be positive",
            ));
        }
        if self.fair_source == FairSource::External && self.fair_max_age_ms == 0 {
            return Err(invalid(
                "fair_max_age_ms",
                self.fair_max_age_ms,
                "must be positive with an external fair value",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Maker {
    params: MakerParams,
}

impl Maker {
    pub fn new(params: MakerParams) -> Maker {
        Maker { params }
    }

    pub fn params(&self) -> &MakerParams {
        &self.params
    }

    fn fair(&self, input: &StrategyInput<'_>) -> Option<Price> {
        match self.params.fair_source {
            FairSource::Mid => input.view.mid,
            FairSource::Microprice => input.view.microprice,
            FairSource::External => input
                .fair
                .as_ref()
                .filter(|f| f.age_ms(input.now.wall_ms) <= self.params.fair_max_age_ms)
                .map(|f| f.fair),
        }
    }

    /// Whether the maker must stand aside (no quotes at all).
    fn must_pull(&self, input: &StrategyInput<'_>) -> bool {
        let stale = input
            .view
            .book_age_ms
            .is_none_or(|age| age > self.params.stale_book_ms);
        let closing = input.view.close_exchange_ms.is_some_and(|close| {
            close.saturating_sub(input.now.exchange_ms())
                <= i64::try_from(self.params.pull_before_close_ms).unwrap_or(i64::MAX)
        });
        stale || closing
    }

    fn quote(
        &self,
        input: &StrategyInput<'_>,
        side: Side,
        target: Price,
        count: Count,
    ) -> Option<DesiredOrder> {
        let view = &input.view;
        let grid = view.grid;
        let mut price = grid.snap(target, side == Side::Bid)?;
        if self.params.post_only {
            // Never cross the opposite side: a post-only cross is a wasted write.
            match side {
                Side::Bid => {
                    if let Some(ask) = view.best_ask.filter(|ask| price >= ask.price) {
                        price = grid.next_tick_down(ask.price)?;
                    }
                }
                Side::Ask => {
                    if let Some(bid) = view.best_bid.filter(|bid| price <= bid.price) {
                        price = grid.next_tick_up(bid.price)?;
                    }
                }
            }
        }
        if !grid.is_tradeable(price) {
            return None;
        }
        let existing = own_resting(input.own_orders, side);
        if let Some(existing) = existing {
            let crosses = self.params.post_only
                && match side {
                    Side::Bid => view.best_ask.is_some_and(|a| existing.price >= a.price),
                    Side::Ask => view.best_bid.is_some_and(|b| existing.price <= b.price),
                };
            if existing.price.diff(price).abs() < self.params.requote_threshold && !crosses {
                price = existing.price;
            }
        }
        let expiration_s = (self.params.quote_ttl_ms > 0).then(|| {
            let fresh = expiration_after(&input.now, self.params.quote_ttl_ms);
            let half_life_ms = i64::try_from(self.params.quote_ttl_ms / 2).unwrap_or(i64::MAX);
            match existing.and_then(|o| o.expiration_s.map(|e| (o, e))) {
                Some((o, exp))
                    if o.price == price
                        && o.remaining == count
                        && exp
                            .saturating_mul(1000)
                            .saturating_sub(input.now.exchange_ms())
                            > half_life_ms =>
                {
                    exp
                }
                _ => fresh,
            }
        });
        Some(DesiredOrder {
            side,
            price,
            count,
            time_in_force: TimeInForce::GoodTillCanceled,
            post_only: self.params.post_only,
            reduce_only: false,
            expiration_s,
            cancel_on_pause: self.params.cancel_order_on_pause,
        })
    }
}

/// The best-priced non-busy resting order of the strategy on `side`.
fn own_resting(own: &[OwnOrder], side: Side) -> Option<&OwnOrder> {
    own.iter()
        .filter(|o| o.side == side && o.time_in_force == TimeInForce::GoodTillCanceled)
        .max_by(|a, b| match side {
            Side::Bid => a.price.cmp(&b.price),
            Side::Ask => b.price.cmp(&a.price),
        })
}

impl Strategy for Maker {
    fn kind(&self) -> &'static str {
        "maker"
    }

    fn desired(&mut self, input: &StrategyInput<'_>) -> Vec<DesiredOrder> {
        if self.must_pull(input) {
            return Vec::new();
        }
        let Some(fair) = self.fair(input) else {
            return Vec::new();
        };
        let skew = self
            .params
            .skew_per_contract
            .per_contract_times(input.position);
        let center = fair.offset_clamped(-skew.micros());
        let half = self.params.half_spread.micros();
        let position = input.position;
        let max = self.params.max_inventory;
        let bid_room = max.saturating_sub(position).min(self.params.size);
        let ask_room = max.saturating_add(position).min(self.params.size);
        let mut quotes = Vec::with_capacity(2);
        if bid_room.is_positive()
            && let Some(q) = self.quote(input, Side::Bid, center.offset_clamped(-half), bid_room)
        {
            quotes.push(q);
        }
        if ask_room.is_positive()
            && let Some(q) = self.quote(input, Side::Ask, center.offset_clamped(half), ask_room)
        {
            quotes.push(q);
        }
        // A skewed centre near the edge can put both quotes on one tick: quote neither side
        // rather than self-cross.
        if let [bid, ask] = quotes.as_slice()
            && bid.price >= ask.price
        {
            return Vec::new();
        }
        quotes
    }

    fn external_fair_max_age_ms(&self) -> Option<u64> {
        (self.params.fair_source == FairSource::External).then_some(self.params.fair_max_age_ms)
    }
}
