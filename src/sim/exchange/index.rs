//! Where each member's orders, fills and settlements are, so that a write or a member's read
//! touches only that member's records instead of every record the exchange ever made.
//!
//! The resting part holds exactly the orders whose record says `resting`; between exchange
//! calls that is the same set as the matching books hold (the exchange tests check both).

use std::collections::{BTreeSet, HashMap};

use crate::core::market::Ticker;
use crate::core::matching::{OrderId, OwnerId};

#[derive(Debug, Clone, Default)]
pub(super) struct RecordIndex {
    /// Every order of each member, oldest first.
    orders_by_user: HashMap<String, Vec<OrderId>>,
    /// Positions in the fill list of each member's fills, oldest first.
    fills_by_user: HashMap<String, Vec<usize>>,
    /// Positions in the settlement list of each member's settlements, oldest first.
    settlements_by_user: HashMap<String, Vec<usize>>,
    /// Resting orders of each member, per market, in placement order.
    resting: PerMarket,
    /// How many orders each member has resting, over all markets.
    resting_counts: HashMap<OwnerId, usize>,
    /// Per member and market, every resting order that may hold a reducing claim (a superset:
    /// claims only shrink between the places that add here, and re-fits prune it), so summing
    /// the claims walks only the orders that can hold one.
    claiming: PerMarket,
}

impl RecordIndex {
    pub(super) fn add_order(&mut self, user_id: &str, number: OrderId) {
        push_for(&mut self.orders_by_user, user_id, number);
    }

    pub(super) fn add_fill(&mut self, user_id: &str, position: usize) {
        push_for(&mut self.fills_by_user, user_id, position);
    }

    pub(super) fn add_settlement(&mut self, user_id: &str, position: usize) {
        push_for(&mut self.settlements_by_user, user_id, position);
    }

    pub(super) fn orders_of(&self, user_id: &str) -> &[OrderId] {
        self.orders_by_user.get(user_id).map_or(&[], Vec::as_slice)
    }

    pub(super) fn fills_of(&self, user_id: &str) -> &[usize] {
        self.fills_by_user.get(user_id).map_or(&[], Vec::as_slice)
    }

    pub(super) fn settlements_of(&self, user_id: &str) -> &[usize] {
        self.settlements_by_user
            .get(user_id)
            .map_or(&[], Vec::as_slice)
    }

    /// Record that an order started or stopped resting (one that stops holds no claim).
    pub(super) fn set_resting(
        &mut self,
        owner: OwnerId,
        ticker: &Ticker,
        number: OrderId,
        resting: bool,
    ) {
        let changed = if resting {
            insert_for(&mut self.resting, owner, ticker, number)
        } else {
            self.set_claiming(owner, ticker, number, false);
            remove_for(&mut self.resting, owner, ticker, number)
        };
        if changed {
            let count = self.resting_counts.entry(owner).or_default();
            *count = if resting {
                *count + 1
            } else {
                count.saturating_sub(1)
            };
        }
    }

    /// A member's resting orders in one market (or all), in placement order.
    pub(super) fn resting_of(&self, owner: OwnerId, ticker: Option<&str>) -> Vec<OrderId> {
        let Some(markets) = self.resting.get(&owner) else {
            return Vec::new();
        };
        match ticker {
            Some(ticker) => markets
                .get(ticker)
                .map(|set| set.iter().copied().collect())
                .unwrap_or_default(),
            None => {
                let mut numbers: Vec<OrderId> = markets.values().flatten().copied().collect();
                numbers.sort_unstable();
                numbers
            }
        }
    }

    pub(super) fn resting_count(&self, owner: OwnerId) -> usize {
        self.resting_counts.get(&owner).copied().unwrap_or(0)
    }

    /// Record whether a resting order holds a reducing claim.
    pub(super) fn set_claiming(
        &mut self,
        owner: OwnerId,
        ticker: &Ticker,
        number: OrderId,
        claiming: bool,
    ) {
        if claiming {
            insert_for(&mut self.claiming, owner, ticker, number);
        } else {
            remove_for(&mut self.claiming, owner, ticker, number);
        }
    }

    /// A member's orders in one market that may hold a reducing claim, in placement order.
    pub(super) fn claiming_of(
        &self,
        owner: OwnerId,
        ticker: &str,
    ) -> impl Iterator<Item = OrderId> + '_ {
        self.claiming
            .get(&owner)
            .and_then(|markets| markets.get(ticker))
            .into_iter()
            .flatten()
            .copied()
    }
}

type PerMarket = HashMap<OwnerId, HashMap<Ticker, BTreeSet<OrderId>>>;

/// Add `number` under `(owner, ticker)`; true if it was not there.
fn insert_for(map: &mut PerMarket, owner: OwnerId, ticker: &Ticker, number: OrderId) -> bool {
    map.entry(owner)
        .or_default()
        .entry(ticker.clone())
        .or_default()
        .insert(number)
}

/// Remove `number` from `(owner, ticker)`, dropping emptied sets; true if it was there.
fn remove_for(map: &mut PerMarket, owner: OwnerId, ticker: &Ticker, number: OrderId) -> bool {
    let Some(markets) = map.get_mut(&owner) else {
        return false;
    };
    let removed = markets
        .get_mut(ticker.as_str())
        .is_some_and(|set| set.remove(&number));
    if markets.get(ticker.as_str()).is_some_and(BTreeSet::is_empty) {
        markets.remove(ticker.as_str());
    }
    removed
}

fn push_for<T>(map: &mut HashMap<String, Vec<T>>, user_id: &str, value: T) {
    match map.get_mut(user_id) {
        Some(values) => values.push(value),
        None => {
            map.insert(user_id.to_string(), vec![value]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resting_orders_are_listed_per_member_and_market_in_placement_order() {
        let mut index = RecordIndex::default();
        let a = Ticker::new("A");
        let b = Ticker::new("B");
        index.set_resting(1, &b, 5, true);
        index.set_resting(1, &a, 7, true);
        index.set_resting(1, &a, 2, true);
        index.set_resting(2, &a, 3, true);
        assert_eq!(index.resting_of(1, Some("A")), vec![2, 7]);
        assert_eq!(index.resting_of(1, None), vec![2, 5, 7]);
        assert_eq!(index.resting_count(1), 3);
        index.set_resting(1, &a, 2, false);
        // Removing twice, or something never added, changes nothing.
        index.set_resting(1, &a, 2, false);
        index.set_resting(1, &b, 9, false);
        assert_eq!(index.resting_of(1, None), vec![5, 7]);
        assert_eq!(index.resting_count(1), 2);
        assert_eq!(index.resting_of(2, None), vec![3]);
        assert_eq!(index.resting_of(3, None), Vec::<OrderId>::new());
    }

    #[test]
    fn an_order_that_stops_resting_stops_claiming() {
        let mut index = RecordIndex::default();
        let a = Ticker::new("A");
        index.set_resting(1, &a, 4, true);
        index.set_resting(1, &a, 6, true);
        index.set_claiming(1, &a, 6, true);
        index.set_claiming(1, &a, 4, true);
        assert_eq!(index.claiming_of(1, "A").collect::<Vec<_>>(), vec![4, 6]);
        index.set_resting(1, &a, 4, false);
        index.set_claiming(1, &a, 6, false);
        assert_eq!(index.claiming_of(1, "A").count(), 0);
        assert_eq!(index.claiming_of(2, "B").count(), 0);
    }

    #[test]
    fn records_are_listed_per_member_oldest_first() {
        let mut index = RecordIndex::default();
        index.add_order("u1", 1);
        index.add_order("u2", 2);
        index.add_order("u1", 3);
        index.add_fill("u2", 0);
        index.add_settlement("u1", 4);
        assert_eq!(index.orders_of("u1"), &[1, 3]);
        assert_eq!(index.orders_of("nobody"), &[] as &[OrderId]);
        assert_eq!(index.fills_of("u2"), &[0]);
        assert_eq!(index.settlements_of("u1"), &[4]);
    }
}
