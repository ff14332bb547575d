//! Order groups: a contracts limit over a rolling window (15 s at Kalshi). When the contracts
//! matched by the group's orders inside the window reach the limit, the group triggers: its
//! resting orders are cancelled and it takes no new orders until reset.
//!
//! The limit is checked after each matching pass (one incoming order against the book, or one
//! resting order being hit), so a single large match can overshoot the limit before the group
//! triggers; Kalshi does not document whether it caps the match itself.

use std::collections::{BTreeSet, VecDeque};

use crate::core::num::Count;

use super::types::ApiError;

/// `order_group_updates` event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupEventType {
    Created,
    Triggered,
    Reset,
    Deleted,
    LimitUpdated,
}

impl GroupEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupEventType::Created => "created",
            GroupEventType::Triggered => "triggered",
            GroupEventType::Reset => "reset",
            GroupEventType::Deleted => "deleted",
            GroupEventType::LimitUpdated => "limit_updated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderGroup {
    pub order_group_id: String,
    pub user_id: String,
    pub subaccount: u32,
    pub contracts_limit: Count,
    /// `(ts_ms, contracts)` matched by the group's orders, oldest first.
    matched: VecDeque<(i64, Count)>,
    /// Triggered and not yet reset: new orders are refused.
    pub triggered: bool,
    /// Every order placed in the group, in placement order.
    pub order_ids: Vec<String>,
    order_id_set: BTreeSet<String>,
}

/// Parse a group's limit from the spec's `contracts_limit` (int) / `contracts_limit_fp` pair:
/// at least one is needed, both must agree, whole contracts ≥ 1 only.
pub fn parse_contracts_limit(
    contracts_limit: Option<i64>,
    contracts_limit_fp: Option<&str>,
) -> Result<Count, ApiError> {
    // checked: the integer comes from the client and its hundredths may not fit.
    let from_int = match contracts_limit {
        Some(contracts) => Some(
            contracts
                .checked_mul(crate::core::num::CENTI)
                .map(Count::from_centi)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("contracts_limit {contracts} is out of range"))
                })?,
        ),
        None => None,
    };
    let from_fp = match contracts_limit_fp {
        Some(text) => Some(Count::parse(text).map_err(|e| {
            ApiError::bad_request(format!("contracts_limit_fp {text:?} is invalid: {e}"))
        })?),
        None => None,
    };
    let limit = match (from_int, from_fp) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::bad_request(format!(
                "contracts_limit {} and contracts_limit_fp {} do not match",
                a.to_fp(),
                b.to_fp()
            )));
        }
        (Some(a), _) => a,
        (None, Some(b)) => b,
        (None, None) => {
            return Err(ApiError::bad_request(
                "contracts_limit or contracts_limit_fp is required",
            ));
        }
    };
    if limit.centi() < 100 || limit.centi() % 100 != 0 {
        return Err(ApiError::bad_request(format!(
            "contracts limit {} must be a whole number of contracts, at least 1",
            limit.to_fp()
        )));
    }
    Ok(limit)
}

impl OrderGroup {
    pub fn new(order_group_id: String, user_id: &str, subaccount: u32, limit: Count) -> OrderGroup {
        OrderGroup {
            order_group_id,
            user_id: user_id.to_string(),
            subaccount,
            contracts_limit: limit,
            matched: VecDeque::new(),
            triggered: false,
            order_ids: Vec::new(),
            order_id_set: BTreeSet::new(),
        }
    }

    pub fn add_order(&mut self, order_id: &str) {
        if self.order_id_set.insert(order_id.to_string()) {
            self.order_ids.push(order_id.to_string());
        }
    }

    fn prune(&mut self, now_ms: i64, window_ms: i64) {
        while let Some(&(ts, _)) = self.matched.front() {
            if ts <= now_ms - window_ms {
                self.matched.pop_front();
            } else {
                break;
            }
        }
    }

    /// Contracts matched inside the window ending at `now_ms`.
    pub fn matched_in_window(&mut self, now_ms: i64, window_ms: i64) -> Count {
        self.prune(now_ms, window_ms);
        self.matched
            .iter()
            .fold(Count::ZERO, |sum, &(_, c)| sum.saturating_add(c))
    }

    /// Record matched contracts. Returns true when this makes the group trigger.
    pub fn record_match(&mut self, contracts: Count, now_ms: i64, window_ms: i64) -> bool {
        if contracts.is_zero() {
            return false;
        }
        self.matched.push_back((now_ms, contracts));
        self.should_trigger(now_ms, window_ms)
    }

    /// True when the window's matches reach the limit and the group is not yet triggered.
    pub fn should_trigger(&mut self, now_ms: i64, window_ms: i64) -> bool {
        !self.triggered && self.matched_in_window(now_ms, window_ms) >= self.contracts_limit
    }

    /// Reset: zero the matched counter and accept orders again.
    pub fn reset(&mut self) {
        self.matched.clear();
        self.triggered = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_too_large_for_hundredths_is_refused_not_overflowed() {
        // Found by fuzzing (tests/it/fuzz.rs, simulator_writes): this panicked the handler.
        for huge in [92_233_720_368_547_759, i64::MAX, i64::MIN] {
            assert!(parse_contracts_limit(Some(huge), None).is_err(), "{huge}");
        }
    }

    #[test]
    fn limit_parsing_accepts_either_form_and_refuses_mismatch_and_fractions() {
        assert_eq!(
            parse_contracts_limit(Some(5), None).unwrap(),
            Count::from_contracts(5)
        );
        assert_eq!(
            parse_contracts_limit(None, Some("5.00")).unwrap(),
            Count::from_contracts(5)
        );
        assert_eq!(
            parse_contracts_limit(Some(5), Some("5")).unwrap(),
            Count::from_contracts(5)
        );
        assert!(parse_contracts_limit(Some(5), Some("6")).is_err());
        assert!(parse_contracts_limit(None, Some("1.50")).is_err());
        assert!(parse_contracts_limit(Some(0), None).is_err());
        assert!(parse_contracts_limit(None, None).is_err());
    }

    #[test]
    fn the_window_rolls_off_old_matches() {
        let mut group = OrderGroup::new("g".into(), "u", 0, Count::from_contracts(10));
        assert!(!group.record_match(Count::from_contracts(6), 1_000, 15_000));
        // 16 s later the first 6 are outside the window.
        assert!(!group.record_match(Count::from_contracts(6), 17_000, 15_000));
        assert_eq!(
            group.matched_in_window(17_000, 15_000),
            Count::from_contracts(6)
        );
        // Inside the window they add up to the limit: trigger.
        assert!(group.record_match(Count::from_contracts(4), 20_000, 15_000));
    }

    #[test]
    fn reset_clears_the_counter() {
        let mut group = OrderGroup::new("g".into(), "u", 0, Count::from_contracts(2));
        assert!(group.record_match(Count::from_contracts(2), 0, 15_000));
        group.triggered = true;
        assert!(!group.should_trigger(1, 15_000));
        group.reset();
        assert!(!group.triggered);
        assert_eq!(group.matched_in_window(1, 15_000), Count::ZERO);
    }
}
