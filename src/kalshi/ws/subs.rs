//! The subscriptions the client wants, independent of any connection: which channel, which
//! markets, and (on the current connection) which `sid` the server gave each. Orderbook markets
//! are spread over several subscriptions so a sequence gap touches few books.

use super::{Channel, per_market};
use crate::core::market::Ticker;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub type SpecId = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubSpec {
    pub channel: Channel,
    /// None: the whole channel, unfiltered.
    pub markets: Option<BTreeSet<Ticker>>,
    /// The server's id for it on the current connection, once confirmed.
    pub sid: Option<u64>,
    /// The id of the latest `subscribe` sent for it (errors may name it later).
    pub subscribe_id: Option<u64>,
}

impl SubSpec {
    pub fn market_list(&self) -> Option<Vec<Ticker>> {
        self.markets
            .as_ref()
            .map(|set| set.iter().cloned().collect())
    }

    pub fn carries(&self, ticker: &Ticker) -> bool {
        self.markets
            .as_ref()
            .is_some_and(|set| set.contains(ticker))
    }
}

/// What to do on the wire after changing the market list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubChange {
    /// A new subscription to send.
    Subscribe(SpecId),
    /// Markets to add to a live subscription.
    Add {
        spec: SpecId,
        sid: u64,
        markets: Vec<Ticker>,
    },
    /// Markets to drop from a live subscription.
    Delete {
        spec: SpecId,
        sid: u64,
        markets: Vec<Ticker>,
    },
    /// A subscription left with no market.
    Unsubscribe { sid: u64 },
}

#[derive(Debug)]
pub struct Registry {
    specs: BTreeMap<SpecId, SubSpec>,
    by_sid: HashMap<u64, SpecId>,
    next_spec: SpecId,
    batch_size: usize,
}

impl Registry {
    pub fn new(channels: &[Channel], markets: &[Ticker], batch_size: usize) -> Registry {
        let mut registry = Registry {
            specs: BTreeMap::new(),
            by_sid: HashMap::new(),
            next_spec: 1,
            batch_size: batch_size.max(1),
        };
        let mut seen = Vec::new();
        for channel in channels {
            if seen.contains(channel) {
                continue;
            }
            seen.push(*channel);
            if !per_market(*channel) {
                registry.insert(*channel, None);
            }
        }
        registry.add_markets(channels, markets);
        registry
    }

    fn insert(&mut self, channel: Channel, markets: Option<BTreeSet<Ticker>>) -> SpecId {
        let id = self.next_spec;
        self.next_spec += 1;
        self.specs.insert(
            id,
            SubSpec {
                channel,
                markets,
                sid: None,
                subscribe_id: None,
            },
        );
        id
    }

    pub fn get(&self, spec: SpecId) -> Option<&SubSpec> {
        self.specs.get(&spec)
    }

    pub fn get_mut(&mut self, spec: SpecId) -> Option<&mut SubSpec> {
        self.specs.get_mut(&spec)
    }

    pub fn ids(&self) -> Vec<SpecId> {
        self.specs.keys().copied().collect()
    }

    pub fn specs(&self) -> impl Iterator<Item = (SpecId, &SubSpec)> {
        self.specs.iter().map(|(id, spec)| (*id, spec))
    }

    pub fn by_sid(&self, sid: u64) -> Option<SpecId> {
        self.by_sid.get(&sid).copied()
    }

    /// The spec whose latest `subscribe` had command id `id`.
    pub fn by_subscribe_id(&self, id: u64) -> Option<SpecId> {
        self.specs
            .iter()
            .find(|(_, spec)| spec.subscribe_id == Some(id))
            .map(|(spec_id, _)| *spec_id)
    }

    /// The orderbook subscription carrying `ticker`.
    pub fn book_spec_of(&self, ticker: &Ticker) -> Option<SpecId> {
        self.specs
            .iter()
            .find(|(_, spec)| spec.channel == Channel::OrderbookDelta && spec.carries(ticker))
            .map(|(id, _)| *id)
    }

    /// Every spec carrying `ticker`, any channel.
    pub fn specs_of(&self, ticker: &Ticker) -> Vec<SpecId> {
        self.specs
            .iter()
            .filter(|(_, spec)| spec.carries(ticker))
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn book_markets(&self) -> Vec<Ticker> {
        self.specs
            .values()
            .filter(|spec| spec.channel == Channel::OrderbookDelta)
            .flat_map(|spec| spec.markets.iter().flatten().cloned())
            .collect()
    }

    /// The connection is gone: every sid with it.
    pub fn forget_sids(&mut self) {
        self.by_sid.clear();
        for spec in self.specs.values_mut() {
            spec.sid = None;
            spec.subscribe_id = None;
        }
    }

    /// Record the server's `sid` for `spec`. When the server gave a sid another spec already
    /// holds (Kalshi treats a repeated subscribe to a channel as "add these markets"), the two
    /// are merged and the surviving spec is returned.
    pub fn confirm(&mut self, spec_id: SpecId, sid: u64) -> SpecId {
        if let Some(&holder) = self.by_sid.get(&sid)
            && holder != spec_id
        {
            if let Some(spec) = self.specs.remove(&spec_id)
                && let (Some(target), Some(markets)) = (self.specs.get_mut(&holder), spec.markets)
            {
                target
                    .markets
                    .get_or_insert_with(BTreeSet::new)
                    .extend(markets);
            }
            return holder;
        }
        if let Some(spec) = self.specs.get_mut(&spec_id) {
            if let Some(old) = spec.sid.replace(sid) {
                self.by_sid.remove(&old);
            }
            self.by_sid.insert(sid, spec_id);
        }
        spec_id
    }

    /// Forget the sid of `spec` (it is being resubscribed); returns the old one.
    pub fn release(&mut self, spec_id: SpecId) -> Option<u64> {
        let spec = self.specs.get_mut(&spec_id)?;
        let sid = spec.sid.take()?;
        self.by_sid.remove(&sid);
        Some(sid)
    }

    /// Fold the markets of `from` into `into` (the server refused a second subscription to the
    /// same channel); returns the moved markets.
    pub fn merge_into(&mut self, from: SpecId, into: SpecId) -> Vec<Ticker> {
        let Some(spec) = self.specs.remove(&from) else {
            return Vec::new();
        };
        if let Some(sid) = spec.sid {
            self.by_sid.remove(&sid);
        }
        let moved: Vec<Ticker> = spec.markets.into_iter().flatten().collect();
        if let Some(target) = self.specs.get_mut(&into) {
            target
                .markets
                .get_or_insert_with(BTreeSet::new)
                .extend(moved.iter().cloned());
        }
        moved
    }

    /// Another live spec of the same channel as `spec`, to fold into.
    pub fn live_sibling(&self, spec_id: SpecId) -> Option<SpecId> {
        let channel = self.specs.get(&spec_id)?.channel;
        self.specs
            .iter()
            .find(|(id, spec)| **id != spec_id && spec.channel == channel && spec.sid.is_some())
            .map(|(id, _)| *id)
    }

    /// Add markets to the per-market channels among `channels`.
    pub fn add_markets(&mut self, channels: &[Channel], markets: &[Ticker]) -> Vec<SubChange> {
        let mut changes = Vec::new();
        let mut wanted: Vec<Channel> = Vec::new();
        for channel in channels {
            if per_market(*channel) && !wanted.contains(channel) {
                wanted.push(*channel);
            }
        }
        for channel in wanted {
            let mut new: Vec<Ticker> = Vec::new();
            for ticker in markets {
                let present = self
                    .specs
                    .values()
                    .any(|spec| spec.channel == channel && spec.carries(ticker));
                if !present && !new.contains(ticker) {
                    new.push(ticker.clone());
                }
            }
            if new.is_empty() {
                continue;
            }
            let limit = if channel == Channel::OrderbookDelta {
                self.batch_size
            } else {
                usize::MAX
            };
            // fill the last live subscription of this channel first
            let last_live = self
                .specs
                .iter()
                .rev()
                .find(|(_, spec)| spec.channel == channel)
                .filter(|(_, spec)| spec.sid.is_some())
                .map(|(id, _)| *id);
            if let Some(spec_id) = last_live
                && let Some(spec) = self.specs.get_mut(&spec_id)
                && let Some(sid) = spec.sid
            {
                let set = spec.markets.get_or_insert_with(BTreeSet::new);
                let room = limit.saturating_sub(set.len()).min(new.len());
                if room > 0 {
                    let added: Vec<Ticker> = new.drain(..room).collect();
                    set.extend(added.iter().cloned());
                    changes.push(SubChange::Add {
                        spec: spec_id,
                        sid,
                        markets: added,
                    });
                }
            }
            let chunk = limit.min(new.len()).max(1);
            for batch in new.chunks(chunk) {
                let id = self.insert(channel, Some(batch.iter().cloned().collect()));
                changes.push(SubChange::Subscribe(id));
            }
        }
        changes
    }

    /// Remove markets from every subscription carrying them; empty subscriptions are dropped.
    pub fn remove_markets(&mut self, markets: &[Ticker]) -> Vec<SubChange> {
        let mut changes = Vec::new();
        let mut emptied = Vec::new();
        for (spec_id, spec) in &mut self.specs {
            let Some(set) = spec.markets.as_mut() else {
                continue;
            };
            let removed: Vec<Ticker> = markets.iter().filter(|t| set.remove(*t)).cloned().collect();
            if removed.is_empty() {
                continue;
            }
            match (set.is_empty(), spec.sid) {
                (true, sid) => {
                    emptied.push(*spec_id);
                    if let Some(sid) = sid {
                        changes.push(SubChange::Unsubscribe { sid });
                    }
                }
                (false, Some(sid)) => changes.push(SubChange::Delete {
                    spec: *spec_id,
                    sid,
                    markets: removed,
                }),
                (false, None) => {}
            }
        }
        for spec_id in emptied {
            if let Some(spec) = self.specs.remove(&spec_id)
                && let Some(sid) = spec.sid
            {
                self.by_sid.remove(&sid);
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tickers(names: &[&str]) -> Vec<Ticker> {
        names.iter().map(|n| Ticker::new(n)).collect()
    }

    #[test]
    fn orderbook_markets_are_batched_others_subscribed_whole() {
        let registry = Registry::new(
            &[
                Channel::OrderbookDelta,
                Channel::Ticker,
                Channel::Fill,
                Channel::Fill,
            ],
            &tickers(&["A", "B", "C", "D", "E"]),
            2,
        );
        let specs: Vec<&SubSpec> = registry.specs().map(|(_, spec)| spec).collect();
        let books: Vec<Vec<Ticker>> = specs
            .iter()
            .filter(|s| s.channel == Channel::OrderbookDelta)
            .map(|s| s.market_list().unwrap())
            .collect();
        assert_eq!(
            books,
            vec![tickers(&["A", "B"]), tickers(&["C", "D"]), tickers(&["E"])]
        );
        let ticker: Vec<_> = specs
            .iter()
            .filter(|s| s.channel == Channel::Ticker)
            .collect();
        assert_eq!(ticker.len(), 1);
        assert_eq!(ticker[0].markets.as_ref().map(|m| m.len()), Some(5));
        let fills: Vec<_> = specs
            .iter()
            .filter(|s| s.channel == Channel::Fill)
            .collect();
        assert_eq!(fills.len(), 1);
        assert_eq!(fills[0].markets, None);
        assert_eq!(registry.book_markets().len(), 5);
    }

    #[test]
    fn added_markets_fill_the_last_live_batch_then_open_new_ones() {
        let mut registry = Registry::new(&[Channel::OrderbookDelta], &tickers(&["A"]), 2);
        let first = registry.ids()[0];
        registry.confirm(first, 10);
        let changes = registry.add_markets(
            &[Channel::OrderbookDelta],
            &tickers(&["A", "B", "C", "D", "E"]),
        );
        assert_eq!(
            changes[0],
            SubChange::Add {
                spec: first,
                sid: 10,
                markets: tickers(&["B"])
            }
        );
        assert_eq!(changes.len(), 3);
        assert!(matches!(changes[1], SubChange::Subscribe(_)));
        assert_eq!(registry.book_spec_of(&Ticker::new("A")), Some(first));
        assert_ne!(registry.book_spec_of(&Ticker::new("E")), Some(first));
    }

    #[test]
    fn a_shared_sid_merges_the_batches() {
        let mut registry = Registry::new(&[Channel::OrderbookDelta], &tickers(&["A", "B", "C"]), 2);
        let ids = registry.ids();
        assert_eq!(registry.confirm(ids[0], 7), ids[0]);
        assert_eq!(registry.confirm(ids[1], 7), ids[0]);
        assert_eq!(registry.ids(), vec![ids[0]]);
        assert_eq!(registry.book_spec_of(&Ticker::new("C")), Some(ids[0]));
        assert_eq!(registry.by_sid(7), Some(ids[0]));
    }

    #[test]
    fn removing_markets_deletes_or_unsubscribes() {
        let mut registry = Registry::new(&[Channel::OrderbookDelta], &tickers(&["A", "B", "C"]), 2);
        let ids = registry.ids();
        registry.confirm(ids[0], 1);
        registry.confirm(ids[1], 2);
        let changes = registry.remove_markets(&tickers(&["A", "C"]));
        assert_eq!(
            changes,
            vec![
                SubChange::Delete {
                    spec: ids[0],
                    sid: 1,
                    markets: tickers(&["A"])
                },
                SubChange::Unsubscribe { sid: 2 }
            ]
        );
        assert_eq!(registry.by_sid(2), None);
        assert_eq!(registry.ids(), vec![ids[0]]);
    }

    #[test]
    fn forgetting_sids_and_merging_after_a_refusal() {
        let mut registry = Registry::new(&[Channel::OrderbookDelta], &tickers(&["A", "B", "C"]), 2);
        let ids = registry.ids();
        registry.confirm(ids[0], 1);
        assert_eq!(registry.live_sibling(ids[1]), Some(ids[0]));
        assert_eq!(registry.merge_into(ids[1], ids[0]), tickers(&["C"]));
        assert_eq!(registry.book_spec_of(&Ticker::new("C")), Some(ids[0]));
        assert_eq!(registry.release(ids[0]), Some(1));
        registry.confirm(ids[0], 3);
        registry.forget_sids();
        assert_eq!(registry.by_sid(3), None);
        assert!(registry.specs().all(|(_, spec)| spec.sid.is_none()));
    }
}
