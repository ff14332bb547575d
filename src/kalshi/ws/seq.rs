//! Sequence integrity per subscription: Kalshi numbers every sequenced message of a subscription
//! (`sid`) with `seq` +1 across all its markets, so a hole says "some market of this sid missed
//! something" and every book of that sid must be rebuilt from a fresh snapshot. This struct only
//! decides; the session sends the commands.

use crate::core::market::Ticker;
use std::collections::{BTreeMap, HashMap};

/// What one sequenced message means for its subscription's counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeqCheck {
    /// `seq` was the one expected.
    InOrder,
    /// First sequenced message since the subscription (re)started: it sets the baseline.
    Baseline,
    /// A lower `seq` while a snapshot request was outstanding: the server restarted its counter
    /// (DIGEST 7.4 leaves open whether `get_snapshot` does), taken as the new baseline.
    Restarted { expected: u64, got: u64 },
    /// A hole (or an unexpected step back). `stale_markets` are the markets of this sid that now
    /// wait for a snapshot (not including the one a snapshot just refreshed).
    Gap {
        expected: u64,
        got: u64,
        stale_markets: Vec<Ticker>,
    },
    /// The same `seq` as the message just before: the server sent one frame twice. Dropped,
    /// and the counter is untouched (applying a repeated delta would double-count it).
    Repeat { seq: u64 },
    /// The sid is not (or no longer) tracked: a late frame of a dropped subscription.
    UnknownSid,
}

/// Whether a book message may be passed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookCheck {
    pub seq: SeqCheck,
    pub market: MarketCheck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketCheck {
    /// A delta for a live book, or a snapshot for a book that was already live.
    Deliver,
    /// A snapshot that made a waiting book live again (its resync is done).
    Recovered,
    /// A delta for a book that waits for its snapshot: the snapshot will include it.
    AwaitingSnapshot,
    /// A message for a market this sid does not carry.
    NotSubscribed,
    /// A repeat of the message just before: dropped.
    Repeat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BookState {
    AwaitingSnapshot,
    Live,
}

#[derive(Debug, Default)]
struct SidState {
    /// The `seq` the next sequenced message must carry; None until the first one.
    next: Option<u64>,
    markets: BTreeMap<Ticker, BookState>,
    /// A snapshot request or market addition is outstanding, so a step back in `seq` is read
    /// as the server restarting its counter rather than as an error.
    restart_allowed: bool,
}

impl SidState {
    fn awaiting(&self) -> bool {
        self.markets
            .values()
            .any(|state| *state == BookState::AwaitingSnapshot)
    }

    fn check(&mut self, seq: u64, fresh_market: Option<&Ticker>) -> SeqCheck {
        let Some(expected) = self.next else {
            self.next = Some(seq.saturating_add(1));
            return SeqCheck::Baseline;
        };
        // A snapshot while a restart is allowed may legitimately reuse the last number.
        if seq.saturating_add(1) == expected && (fresh_market.is_none() || !self.restart_allowed) {
            return SeqCheck::Repeat { seq };
        }
        self.next = Some(seq.saturating_add(1));
        if seq == expected {
            return SeqCheck::InOrder;
        }
        if seq < expected && self.restart_allowed {
            return SeqCheck::Restarted { expected, got: seq };
        }
        let mut stale_markets = Vec::new();
        for (ticker, state) in &mut self.markets {
            if Some(ticker) == fresh_market {
                continue;
            }
            if *state == BookState::Live {
                *state = BookState::AwaitingSnapshot;
                stale_markets.push(ticker.clone());
            }
        }
        if !stale_markets.is_empty() {
            self.restart_allowed = true;
        }
        SeqCheck::Gap {
            expected,
            got: seq,
            stale_markets,
        }
    }

    fn settle(&mut self) {
        if !self.awaiting() {
            self.restart_allowed = false;
        }
    }
}

/// Per-sid expected `seq` and per-market snapshot state.
#[derive(Debug, Default)]
pub struct SeqTracker {
    sids: HashMap<u64, SidState>,
}

impl SeqTracker {
    pub fn new() -> SeqTracker {
        SeqTracker::default()
    }

    /// A `subscribed` reply: the counter starts afresh and every market waits for its snapshot.
    pub fn subscribed(&mut self, sid: u64, markets: impl IntoIterator<Item = Ticker>) {
        let markets = markets
            .into_iter()
            .map(|ticker| (ticker, BookState::AwaitingSnapshot))
            .collect();
        self.sids.insert(
            sid,
            SidState {
                next: None,
                markets,
                restart_allowed: false,
            },
        );
    }

    pub fn is_tracked(&self, sid: u64) -> bool {
        self.sids.contains_key(&sid)
    }

    /// Markets added to a live subscription wait for their snapshot; whether the server restarts
    /// the counter for them is unconfirmed, so a restart is accepted until they arrive.
    pub fn add_markets(&mut self, sid: u64, markets: impl IntoIterator<Item = Ticker>) {
        let state = self.sids.entry(sid).or_default();
        let mut added = false;
        for ticker in markets {
            state
                .markets
                .entry(ticker)
                .or_insert(BookState::AwaitingSnapshot);
            added = true;
        }
        if added {
            state.restart_allowed = true;
        }
    }

    pub fn remove_markets(&mut self, sid: u64, markets: &[Ticker]) {
        if let Some(state) = self.sids.get_mut(&sid) {
            for ticker in markets {
                state.markets.remove(ticker);
            }
            state.settle();
        }
    }

    /// Forget a subscription; returns its markets.
    pub fn remove_sid(&mut self, sid: u64) -> Vec<Ticker> {
        self.sids
            .remove(&sid)
            .map(|state| state.markets.into_keys().collect())
            .unwrap_or_default()
    }

    pub fn clear(&mut self) {
        self.sids.clear();
    }

    /// Mark `markets` of `sid` as waiting for a snapshot (a snapshot request is about to go out);
    /// returns the ones that were live, i.e. the ones whose resync starts now.
    pub fn begin_resync(&mut self, sid: u64, markets: &[Ticker]) -> Vec<Ticker> {
        let Some(state) = self.sids.get_mut(&sid) else {
            return Vec::new();
        };
        let mut started = Vec::new();
        for ticker in markets {
            if let Some(book) = state.markets.get_mut(ticker) {
                if *book == BookState::Live {
                    *book = BookState::AwaitingSnapshot;
                    started.push(ticker.clone());
                }
                state.restart_allowed = true;
            }
        }
        started
    }

    /// Markets of `sid` still waiting for a snapshot.
    pub fn awaiting(&self, sid: u64) -> Vec<Ticker> {
        self.sids
            .get(&sid)
            .map(|state| {
                state
                    .markets
                    .iter()
                    .filter(|(_, book)| **book == BookState::AwaitingSnapshot)
                    .map(|(ticker, _)| ticker.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn is_awaiting(&self, sid: u64, ticker: &Ticker) -> bool {
        self.sids
            .get(&sid)
            .and_then(|state| state.markets.get(ticker))
            .is_some_and(|book| *book == BookState::AwaitingSnapshot)
    }

    /// A sequenced message that belongs to no market (`ok`, `unsubscribed`, order-group updates).
    pub fn on_sequenced(&mut self, sid: u64, seq: u64) -> SeqCheck {
        match self.sids.get_mut(&sid) {
            Some(state) => state.check(seq, None),
            None => SeqCheck::UnknownSid,
        }
    }

    /// An `orderbook_snapshot`: its `seq` becomes the baseline whether the server restarted or
    /// continued the counter; the market's book is live again.
    pub fn on_snapshot(&mut self, sid: u64, seq: u64, ticker: &Ticker) -> BookCheck {
        let Some(state) = self.sids.get_mut(&sid) else {
            return BookCheck {
                seq: SeqCheck::UnknownSid,
                market: MarketCheck::NotSubscribed,
            };
        };
        let check = state.check(seq, Some(ticker));
        if matches!(check, SeqCheck::Repeat { .. }) {
            return BookCheck {
                seq: check,
                market: MarketCheck::Repeat,
            };
        }
        let market = match state.markets.get_mut(ticker) {
            None => MarketCheck::NotSubscribed,
            Some(book) => {
                let was = *book;
                *book = BookState::Live;
                if was == BookState::AwaitingSnapshot {
                    MarketCheck::Recovered
                } else {
                    MarketCheck::Deliver
                }
            }
        };
        state.settle();
        BookCheck { seq: check, market }
    }

    /// An `orderbook_delta`: passed on only while its book is live and the counter is whole.
    pub fn on_delta(&mut self, sid: u64, seq: u64, ticker: &Ticker) -> BookCheck {
        let Some(state) = self.sids.get_mut(&sid) else {
            return BookCheck {
                seq: SeqCheck::UnknownSid,
                market: MarketCheck::NotSubscribed,
            };
        };
        let check = state.check(seq, None);
        let market = match state.markets.get(ticker) {
            _ if matches!(check, SeqCheck::Repeat { .. }) => MarketCheck::Repeat,
            None => MarketCheck::NotSubscribed,
            Some(BookState::AwaitingSnapshot) => MarketCheck::AwaitingSnapshot,
            Some(BookState::Live) => MarketCheck::Deliver,
        };
        BookCheck { seq: check, market }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_frame_is_dropped_even_while_a_resync_is_outstanding() {
        let a = Ticker::new("A");
        let b = Ticker::new("B");
        let mut tracker = SeqTracker::new();
        tracker.subscribed(1, [a.clone(), b.clone()]);
        assert_eq!(tracker.on_snapshot(1, 1, &a).market, MarketCheck::Recovered);
        assert_eq!(tracker.on_snapshot(1, 2, &b).market, MarketCheck::Recovered);
        assert_eq!(tracker.on_delta(1, 3, &a).market, MarketCheck::Deliver);
        let repeat = tracker.on_delta(1, 3, &a);
        assert_eq!(repeat.seq, SeqCheck::Repeat { seq: 3 });
        assert_eq!(repeat.market, MarketCheck::Repeat);
        assert_eq!(tracker.on_delta(1, 4, &b).seq, SeqCheck::InOrder);
        // A gap puts both books to wait; a snapshot of B is requested, restarts are allowed.
        assert!(matches!(
            tracker.on_delta(1, 6, &a).seq,
            SeqCheck::Gap { .. }
        ));
        assert_eq!(tracker.on_snapshot(1, 7, &a).market, MarketCheck::Recovered);
        assert_eq!(tracker.on_delta(1, 8, &a).market, MarketCheck::Deliver);
        // The repeat of a delta while B still waits must not be taken for a restart.
        let repeat = tracker.on_delta(1, 8, &a);
        assert_eq!(repeat.market, MarketCheck::Repeat);
        assert_eq!(tracker.on_delta(1, 9, &a).seq, SeqCheck::InOrder);
        assert_eq!(tracker.on_sequenced(1, 9), SeqCheck::Repeat { seq: 9 });
    }

    fn t(name: &str) -> Ticker {
        Ticker::new(name)
    }

    fn live_sid(tracker: &mut SeqTracker, sid: u64, markets: &[&str]) {
        tracker.subscribed(sid, markets.iter().map(|m| t(m)));
        for (i, m) in markets.iter().enumerate() {
            tracker.on_snapshot(sid, i as u64 + 1, &t(m));
        }
    }

    #[test]
    fn first_message_sets_baseline_then_counts_by_one() {
        let mut tracker = SeqTracker::new();
        tracker.subscribed(1, [t("A")]);
        let first = tracker.on_snapshot(1, 1, &t("A"));
        assert_eq!(first.seq, SeqCheck::Baseline);
        assert_eq!(first.market, MarketCheck::Recovered);
        let delta = tracker.on_delta(1, 2, &t("A"));
        assert_eq!(delta.seq, SeqCheck::InOrder);
        assert_eq!(delta.market, MarketCheck::Deliver);
        assert_eq!(tracker.on_sequenced(1, 3), SeqCheck::InOrder);
    }

    #[test]
    fn delta_before_snapshot_is_held_back() {
        let mut tracker = SeqTracker::new();
        tracker.subscribed(1, [t("A"), t("B")]);
        tracker.on_snapshot(1, 1, &t("A"));
        let delta = tracker.on_delta(1, 2, &t("B"));
        assert_eq!(delta.market, MarketCheck::AwaitingSnapshot);
        assert_eq!(
            tracker.on_delta(1, 3, &t("Z")).market,
            MarketCheck::NotSubscribed
        );
    }

    #[test]
    fn gap_marks_every_market_of_that_sid_and_no_other() {
        let mut tracker = SeqTracker::new();
        live_sid(&mut tracker, 1, &["A", "B"]);
        live_sid(&mut tracker, 2, &["C"]);
        let check = tracker.on_delta(1, 5, &t("A"));
        assert_eq!(
            check.seq,
            SeqCheck::Gap {
                expected: 3,
                got: 5,
                stale_markets: vec![t("A"), t("B")]
            }
        );
        assert_eq!(check.market, MarketCheck::AwaitingSnapshot);
        assert_eq!(tracker.awaiting(1), vec![t("A"), t("B")]);
        assert!(tracker.awaiting(2).is_empty());
        assert_eq!(tracker.on_delta(2, 2, &t("C")).market, MarketCheck::Deliver);
        // the counter follows the server after a gap, so the next one is in order again
        assert_eq!(tracker.on_sequenced(1, 6), SeqCheck::InOrder);
    }

    #[test]
    fn snapshot_after_get_snapshot_may_restart_the_counter() {
        let mut tracker = SeqTracker::new();
        live_sid(&mut tracker, 1, &["A", "B"]);
        assert_eq!(tracker.on_delta(1, 3, &t("A")).seq, SeqCheck::InOrder);
        assert_eq!(tracker.begin_resync(1, &[t("A")]), vec![t("A")]);
        let snap = tracker.on_snapshot(1, 1, &t("A"));
        assert_eq!(
            snap.seq,
            SeqCheck::Restarted {
                expected: 4,
                got: 1
            }
        );
        assert_eq!(snap.market, MarketCheck::Recovered);
        assert_eq!(tracker.on_delta(1, 2, &t("B")).seq, SeqCheck::InOrder);
        // once the resync is over, a step back is an error again
        assert!(matches!(
            tracker.on_delta(1, 1, &t("B")).seq,
            SeqCheck::Gap { .. }
        ));
    }

    #[test]
    fn snapshot_after_get_snapshot_may_continue_the_counter() {
        let mut tracker = SeqTracker::new();
        live_sid(&mut tracker, 1, &["A", "B"]);
        tracker.begin_resync(1, &[t("B")]);
        assert_eq!(tracker.on_sequenced(1, 3), SeqCheck::InOrder);
        let snap = tracker.on_snapshot(1, 4, &t("B"));
        assert_eq!(snap.seq, SeqCheck::InOrder);
        assert_eq!(snap.market, MarketCheck::Recovered);
        assert!(tracker.awaiting(1).is_empty());
    }

    #[test]
    fn snapshot_that_skips_ahead_still_flags_the_other_markets() {
        let mut tracker = SeqTracker::new();
        live_sid(&mut tracker, 1, &["A", "B"]);
        tracker.begin_resync(1, &[t("A")]);
        let snap = tracker.on_snapshot(1, 9, &t("A"));
        assert_eq!(
            snap.seq,
            SeqCheck::Gap {
                expected: 3,
                got: 9,
                stale_markets: vec![t("B")]
            }
        );
        assert_eq!(snap.market, MarketCheck::Recovered);
    }

    #[test]
    fn unexpected_step_back_is_a_gap() {
        let mut tracker = SeqTracker::new();
        live_sid(&mut tracker, 1, &["A"]);
        // A step back by one is the same frame again (a repeat); further back is a gap.
        assert_eq!(tracker.on_delta(1, 2, &t("A")).seq, SeqCheck::InOrder);
        assert!(matches!(tracker.on_sequenced(1, 1), SeqCheck::Gap { .. }));
    }

    #[test]
    fn unknown_and_removed_sids() {
        let mut tracker = SeqTracker::new();
        assert_eq!(tracker.on_sequenced(9, 1), SeqCheck::UnknownSid);
        live_sid(&mut tracker, 1, &["A"]);
        assert_eq!(tracker.remove_sid(1), vec![t("A")]);
        assert_eq!(tracker.on_delta(1, 3, &t("A")).seq, SeqCheck::UnknownSid);
    }

    #[test]
    fn added_markets_wait_for_snapshot_and_tolerate_a_restart() {
        let mut tracker = SeqTracker::new();
        live_sid(&mut tracker, 1, &["A"]);
        tracker.add_markets(1, [t("B")]);
        assert!(tracker.is_awaiting(1, &t("B")));
        let snap = tracker.on_snapshot(1, 1, &t("B"));
        assert_eq!(
            snap.seq,
            SeqCheck::Restarted {
                expected: 2,
                got: 1
            }
        );
        tracker.remove_markets(1, &[t("A")]);
        assert_eq!(
            tracker.on_delta(1, 2, &t("A")).market,
            MarketCheck::NotSubscribed
        );
    }
}
