//! Order books as Kalshi shows them: two bid ladders, YES bids and NO bids.
//!
//! A YES bid at `p` is the same liquidity as a NO ask at `1 − p`, so there are no ask ladders: the
//! best YES ask is `1 − best NO bid` with that NO level's size, and the best NO ask is
//! `1 − best YES bid`. Each ladder is stored in its own side's prices (NO levels in NO prices)
//! whatever convention the feed used; [`PriceConvention`] converts on the way in.
//!
//! Integrity: a delta that would drive a level negative is refused and the book is flagged for
//! resync (it is left exactly as it was); a book that ends up crossed (best YES bid + best NO bid
//! ≥ 1.00, which a real Kalshi book never is at rest) keeps the update and is flagged. While a book
//! waits for its resync, deltas are dropped: they would be applied on top of a state the feed no
//! longer agrees with, and the next snapshot replaces everything anyway.
//!
//! Hot path: each ladder is a `Vec` of levels sorted by ascending price, so the best bid is the
//! last element. Finding a level is a binary search; changing its size touches one slot; adding
//! or removing a level shifts only the levels above it (near the top of book, where most activity
//! is, that is a handful). Snapshots reuse the vectors' capacity, so a warmed book applies deltas
//! without allocating.

use crate::core::FastMap;

use crate::core::market::Ticker;
use crate::core::num::{Count, MICROS, Money, Price};

/// Which ladder a level or delta belongs to (Kalshi's `side`: `yes` | `no`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookSide {
    Yes,
    No,
}

/// How the feed prices NO-side levels (the WS `use_yes_price` subscription flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PriceConvention {
    /// `use_yes_price = false` (Kalshi's default and REST's): NO levels carry NO prices.
    NoPrices,
    /// `use_yes_price = true`: NO levels carry YES prices (a NO bid at 0.30 arrives as 0.70).
    YesPrices,
}

impl PriceConvention {
    pub const fn from_use_yes_price(use_yes_price: bool) -> PriceConvention {
        if use_yes_price {
            PriceConvention::YesPrices
        } else {
            PriceConvention::NoPrices
        }
    }

    /// The price a `side` level has in its own ladder's terms.
    pub const fn own_side_price(self, side: BookSide, wire_price: Price) -> Price {
        match (self, side) {
            (PriceConvention::YesPrices, BookSide::No) => wire_price.complement(),
            _ => wire_price,
        }
    }
}

/// One price level: a price and the total size resting there (always > 0 inside a book).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Level {
    pub price: Price,
    pub size: Count,
}

/// Why a book needs a fresh snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
pub enum ResyncReason {
    /// A delta (or snapshot level) would leave a negative size at a level.
    #[error("{side:?} level {price} would hold {size_after}")]
    NegativeLevel {
        side: BookSide,
        price: Price,
        size_after: Count,
    },
    /// Best YES bid + best NO bid ≥ 1.00.
    #[error("crossed: YES bid {yes_bid} + NO bid {no_bid} >= 1.00")]
    Crossed { yes_bid: Price, no_bid: Price },
    /// The feed's sequence numbers skipped (set by the WS layer through [`Books::mark_resync`]).
    #[error("sequence gap")]
    SequenceGap,
    /// Someone asked for a resync (reconnect, operator, stale-book check).
    #[error("resync requested: {0}")]
    Requested(String),
}

/// What happened to an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    Applied,
    /// The book is flagged for resync: this update revealed the problem, or the book was already
    /// waiting for a snapshot and the delta was dropped. Carries the reason the book is flagged.
    NeedsResync(ResyncReason),
    /// A delta for a market with no snapshot yet; nothing was changed.
    UnknownMarket,
}

/// One side's bids, ascending by price (best = last), every size > 0.
#[derive(Debug, Clone, Default)]
struct Ladder {
    levels: Vec<Level>,
}

impl Ladder {
    fn with_capacity(capacity: usize) -> Ladder {
        Ladder {
            levels: Vec::with_capacity(capacity),
        }
    }

    fn best(&self) -> Option<Level> {
        self.levels.last().copied()
    }

    fn size_at(&self, price: Price) -> Count {
        match self.levels.binary_search_by(|l| l.price.cmp(&price)) {
            Ok(index) => self.levels[index].size,
            Err(_) => Count::ZERO,
        }
    }

    /// The size the level would have after `delta`, without changing anything.
    fn size_after(&self, price: Price, delta: Count) -> Option<Count> {
        self.size_at(price).checked_add(delta)
    }

    /// Set a level to `size` (removing it at zero). `size` must be ≥ 0.
    fn set(&mut self, price: Price, size: Count) {
        match self.levels.binary_search_by(|l| l.price.cmp(&price)) {
            Ok(index) if size.is_zero() => {
                self.levels.remove(index);
            }
            Ok(index) => self.levels[index].size = size,
            Err(_) if size.is_zero() => {}
            Err(index) => self.levels.insert(index, Level { price, size }),
        }
    }

    /// Replace with snapshot levels: zero sizes are skipped, repeated prices are summed. A
    /// negative level empties the ladder and is returned.
    fn load(&mut self, levels: impl IntoIterator<Item = Level>) -> Option<Level> {
        self.levels.clear();
        self.levels
            .extend(levels.into_iter().filter(|l| !l.size.is_zero()));
        if let Some(negative) = self.levels.iter().copied().find(|l| l.size.is_negative()) {
            self.levels.clear();
            return Some(negative);
        }
        self.levels.sort_unstable_by_key(|l| l.price);
        self.levels.dedup_by(|later, kept| {
            if later.price == kept.price {
                kept.size = kept.size.saturating_add(later.size);
                true
            } else {
                false
            }
        });
        None
    }

    fn total(&self) -> Count {
        self.levels
            .iter()
            .fold(Count::ZERO, |sum, l| sum.saturating_add(l.size))
    }
}

/// One market's book.
#[derive(Debug, Clone)]
pub struct OrderBook {
    ticker: Ticker,
    yes_bids: Ladder,
    /// In NO prices.
    no_bids: Ladder,
    resync_needed: Option<ResyncReason>,
    last_update_mono_ns: u64,
}

/// Ladder capacity reserved up front so a typical book never reallocates on a delta.
const INITIAL_LEVELS: usize = 64;

impl OrderBook {
    pub fn new(ticker: Ticker) -> OrderBook {
        OrderBook {
            ticker,
            yes_bids: Ladder::with_capacity(INITIAL_LEVELS),
            no_bids: Ladder::with_capacity(INITIAL_LEVELS),
            resync_needed: None,
            last_update_mono_ns: 0,
        }
    }

    pub fn ticker(&self) -> &Ticker {
        &self.ticker
    }

    /// Replace the whole book. Clears a pending resync unless the snapshot itself is bad: a
    /// negative level empties the book and flags it; a crossed snapshot is kept and flagged.
    pub fn apply_snapshot(
        &mut self,
        yes_levels: impl IntoIterator<Item = (Price, Count)>,
        no_levels: impl IntoIterator<Item = (Price, Count)>,
        convention: PriceConvention,
        now_mono_ns: u64,
    ) -> ApplyOutcome {
        self.last_update_mono_ns = now_mono_ns;
        self.resync_needed = None;
        let yes_negative = self.yes_bids.load(
            yes_levels
                .into_iter()
                .map(|(price, size)| Level { price, size }),
        );
        let no_negative = self
            .no_bids
            .load(no_levels.into_iter().map(|(price, size)| Level {
                price: convention.own_side_price(BookSide::No, price),
                size,
            }));
        let negative = yes_negative
            .map(|level| (BookSide::Yes, level))
            .or(no_negative.map(|level| (BookSide::No, level)));
        if let Some((side, level)) = negative {
            self.yes_bids.levels.clear();
            self.no_bids.levels.clear();
            return self.flag(ResyncReason::NegativeLevel {
                side,
                price: level.price,
                size_after: level.size,
            });
        }
        self.check_crossed()
    }

    /// Apply a signed change of resting size at one level. `wire_price` is in `convention`.
    pub fn apply_delta(
        &mut self,
        side: BookSide,
        wire_price: Price,
        delta: Count,
        convention: PriceConvention,
        now_mono_ns: u64,
    ) -> ApplyOutcome {
        if let Some(reason) = &self.resync_needed {
            return ApplyOutcome::NeedsResync(reason.clone());
        }
        let price = convention.own_side_price(side, wire_price);
        let ladder = match side {
            BookSide::Yes => &mut self.yes_bids,
            BookSide::No => &mut self.no_bids,
        };
        let size_after = ladder.size_after(price, delta);
        match size_after {
            Some(size) if !size.is_negative() => ladder.set(price, size),
            _ => {
                let size_after = size_after.unwrap_or(Count::from_centi(i64::MIN));
                return self.flag(ResyncReason::NegativeLevel {
                    side,
                    price,
                    size_after,
                });
            }
        }
        self.last_update_mono_ns = now_mono_ns;
        self.check_crossed()
    }

    /// Flag the book for resync (sequence gap, reconnect); deltas are dropped until a snapshot.
    pub fn mark_resync(&mut self, reason: ResyncReason) {
        if self.resync_needed.is_none() {
            self.resync_needed = Some(reason);
        }
    }

    fn flag(&mut self, reason: ResyncReason) -> ApplyOutcome {
        self.mark_resync(reason.clone());
        ApplyOutcome::NeedsResync(reason)
    }

    fn check_crossed(&mut self) -> ApplyOutcome {
        if let (Some(yes), Some(no)) = (self.yes_bids.best(), self.no_bids.best())
            && yes.price.micros() + no.price.micros() >= MICROS
        {
            return self.flag(ResyncReason::Crossed {
                yes_bid: yes.price,
                no_bid: no.price,
            });
        }
        ApplyOutcome::Applied
    }

    /// Whether the book waits for a snapshot, and why.
    pub fn resync_needed(&self) -> Option<&ResyncReason> {
        self.resync_needed.as_ref()
    }

    pub fn is_resync_needed(&self) -> bool {
        self.resync_needed.is_some()
    }

    pub fn last_update_mono_ns(&self) -> u64 {
        self.last_update_mono_ns
    }

    /// Milliseconds since the last snapshot or applied delta.
    pub fn age_ms(&self, now_mono_ns: u64) -> u64 {
        now_mono_ns.saturating_sub(self.last_update_mono_ns) / 1_000_000
    }

    /// Best YES bid (YES price).
    pub fn best_yes_bid(&self) -> Option<Level> {
        self.yes_bids.best()
    }

    /// Best NO bid (NO price).
    pub fn best_no_bid(&self) -> Option<Level> {
        self.no_bids.best()
    }

    /// Best YES ask (YES price) = 1 − best NO bid, with that NO level's size.
    pub fn best_yes_ask(&self) -> Option<Level> {
        self.no_bids.best().map(complement_level)
    }

    /// Best NO ask (NO price) = 1 − best YES bid, with that YES level's size.
    pub fn best_no_ask(&self) -> Option<Level> {
        self.yes_bids.best().map(complement_level)
    }

    /// Midpoint of the YES bid and ask, rounded down to the micro-dollar; `None` unless both
    /// sides have a level.
    pub fn mid(&self) -> Option<Price> {
        let (bid, ask) = (self.best_yes_bid()?, self.best_yes_ask()?);
        Price::from_micros((bid.price.micros() + ask.price.micros()).div_euclid(2))
    }

    /// Size-weighted mid: `(bid × ask_size + ask × bid_size) / (bid_size + ask_size)`, leaning
    /// toward the side with less size (the side more likely to be taken next). Rounded down.
    pub fn microprice(&self) -> Option<Price> {
        let (bid, ask) = (self.best_yes_bid()?, self.best_yes_ask()?);
        let bid_size = i128::from(bid.size.centi());
        let ask_size = i128::from(ask.size.centi());
        let weight = bid_size + ask_size;
        if weight <= 0 {
            return None;
        }
        let weighted =
            i128::from(bid.price.micros()) * ask_size + i128::from(ask.price.micros()) * bid_size;
        Price::from_micros(i64::try_from(weighted.div_euclid(weight)).ok()?)
    }

    /// YES ask − YES bid, per contract (negative only if the book is crossed).
    pub fn spread(&self) -> Option<Money> {
        let (bid, ask) = (self.best_yes_bid()?, self.best_yes_ask()?);
        Some(ask.price.diff(bid.price))
    }

    /// YES bids, best (highest) first, in YES prices.
    pub fn yes_bids(&self) -> impl DoubleEndedIterator<Item = Level> + ExactSizeIterator + '_ {
        self.yes_bids.levels.iter().rev().copied()
    }

    /// NO bids, best (highest) first, in NO prices.
    pub fn no_bids(&self) -> impl DoubleEndedIterator<Item = Level> + ExactSizeIterator + '_ {
        self.no_bids.levels.iter().rev().copied()
    }

    /// YES asks (the NO bids seen from the YES side), best (lowest) first, in YES prices.
    pub fn yes_asks(&self) -> impl DoubleEndedIterator<Item = Level> + ExactSizeIterator + '_ {
        self.no_bids
            .levels
            .iter()
            .rev()
            .copied()
            .map(complement_level)
    }

    /// NO asks (the YES bids seen from the NO side), best (lowest) first, in NO prices.
    pub fn no_asks(&self) -> impl DoubleEndedIterator<Item = Level> + ExactSizeIterator + '_ {
        self.yes_bids
            .levels
            .iter()
            .rev()
            .copied()
            .map(complement_level)
    }

    /// The top `n` YES bids and YES asks, best first, in YES prices (a ladder's view).
    pub fn depth_yes(&self, n: usize) -> Depth {
        Depth {
            bids: self.yes_bids().take(n).collect(),
            asks: self.yes_asks().take(n).collect(),
        }
    }

    /// Size resting at `price` on `side`'s ladder, `price` in that side's own terms.
    pub fn size_at(&self, side: BookSide, price: Price) -> Count {
        match side {
            BookSide::Yes => self.yes_bids.size_at(price),
            BookSide::No => self.no_bids.size_at(price),
        }
    }

    /// Size offered at YES ask price `yes_price` (the NO bids at `1 − yes_price`).
    pub fn yes_ask_size_at(&self, yes_price: Price) -> Count {
        self.no_bids.size_at(yes_price.complement())
    }

    /// Total resting size on one side's ladder.
    pub fn total_size(&self, side: BookSide) -> Count {
        match side {
            BookSide::Yes => self.yes_bids.total(),
            BookSide::No => self.no_bids.total(),
        }
    }

    /// Number of levels on one side's ladder.
    pub fn level_count(&self, side: BookSide) -> usize {
        match side {
            BookSide::Yes => self.yes_bids.levels.len(),
            BookSide::No => self.no_bids.levels.len(),
        }
    }
}

fn complement_level(level: Level) -> Level {
    Level {
        price: level.price.complement(),
        size: level.size,
    }
}

/// Top-of-book depth in YES terms, best first on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Depth {
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
}

/// Every market's book, keyed by ticker.
#[derive(Debug, Clone, Default)]
pub struct Books {
    books: FastMap<Ticker, OrderBook>,
}

impl Books {
    pub fn new() -> Books {
        Books::default()
    }

    /// Replace (or create) a market's book from a snapshot.
    pub fn apply_snapshot(
        &mut self,
        ticker: &Ticker,
        yes_levels: impl IntoIterator<Item = (Price, Count)>,
        no_levels: impl IntoIterator<Item = (Price, Count)>,
        convention: PriceConvention,
        now_mono_ns: u64,
    ) -> ApplyOutcome {
        let book = match self.books.get_mut(ticker.as_str()) {
            Some(book) => book,
            None => self
                .books
                .entry(ticker.clone())
                .or_insert_with(|| OrderBook::new(ticker.clone())),
        };
        book.apply_snapshot(yes_levels, no_levels, convention, now_mono_ns)
    }

    /// Apply a delta to a known market's book; a market without a snapshot is `UnknownMarket`.
    pub fn apply_delta(
        &mut self,
        ticker: &str,
        side: BookSide,
        wire_price: Price,
        delta: Count,
        convention: PriceConvention,
        now_mono_ns: u64,
    ) -> ApplyOutcome {
        match self.books.get_mut(ticker) {
            Some(book) => book.apply_delta(side, wire_price, delta, convention, now_mono_ns),
            None => ApplyOutcome::UnknownMarket,
        }
    }

    /// Flag one market's book for resync; returns false if there is no such book.
    pub fn mark_resync(&mut self, ticker: &str, reason: ResyncReason) -> bool {
        match self.books.get_mut(ticker) {
            Some(book) => {
                book.mark_resync(reason);
                true
            }
            None => false,
        }
    }

    /// Flag every book (a sequence gap on the shared subscription, a reconnect).
    pub fn mark_all_resync(&mut self, reason: &ResyncReason) {
        for book in self.books.values_mut() {
            book.mark_resync(reason.clone());
        }
    }

    pub fn get(&self, ticker: &str) -> Option<&OrderBook> {
        self.books.get(ticker)
    }

    pub fn remove(&mut self, ticker: &str) -> Option<OrderBook> {
        self.books.remove(ticker)
    }

    pub fn contains(&self, ticker: &str) -> bool {
        self.books.contains_key(ticker)
    }

    pub fn len(&self) -> usize {
        self.books.len()
    }

    pub fn is_empty(&self) -> bool {
        self.books.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Ticker, &OrderBook)> {
        self.books.iter()
    }

    /// Tickers whose books wait for a snapshot.
    pub fn needing_resync(&self) -> impl Iterator<Item = &Ticker> {
        self.books
            .iter()
            .filter(|(_, book)| book.is_resync_needed())
            .map(|(ticker, _)| ticker)
    }

    pub fn best_yes_bid(&self, ticker: &str) -> Option<Level> {
        self.get(ticker)?.best_yes_bid()
    }

    pub fn best_yes_ask(&self, ticker: &str) -> Option<Level> {
        self.get(ticker)?.best_yes_ask()
    }

    pub fn best_no_bid(&self, ticker: &str) -> Option<Level> {
        self.get(ticker)?.best_no_bid()
    }

    pub fn best_no_ask(&self, ticker: &str) -> Option<Level> {
        self.get(ticker)?.best_no_ask()
    }

    pub fn mid(&self, ticker: &str) -> Option<Price> {
        self.get(ticker)?.mid()
    }

    pub fn microprice(&self, ticker: &str) -> Option<Price> {
        self.get(ticker)?.microprice()
    }

    pub fn spread(&self, ticker: &str) -> Option<Money> {
        self.get(ticker)?.spread()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn p(text: &str) -> Price {
        Price::parse(text).unwrap()
    }
    fn c(contracts: i64) -> Count {
        Count::from_contracts(contracts)
    }
    fn lv(price: &str, contracts: i64) -> Level {
        Level {
            price: p(price),
            size: c(contracts),
        }
    }

    fn sample(convention: PriceConvention) -> (Books, Ticker) {
        let ticker = Ticker::new("KXTEST-26-A");
        let mut books = Books::new();
        // NO bids at 0.40 (size 7) and 0.38 (size 3); in YES-price convention they arrive as
        // 0.60 and 0.62.
        let no_levels = match convention {
            PriceConvention::NoPrices => vec![(p("0.38"), c(3)), (p("0.40"), c(7))],
            PriceConvention::YesPrices => vec![(p("0.62"), c(3)), (p("0.60"), c(7))],
        };
        let outcome = books.apply_snapshot(
            &ticker,
            vec![(p("0.55"), c(10)), (p("0.50"), c(4))],
            no_levels,
            convention,
            1_000,
        );
        assert_eq!(outcome, ApplyOutcome::Applied);
        (books, ticker)
    }

    #[test]
    fn derives_asks_from_the_other_ladder_in_both_conventions() {
        for convention in [PriceConvention::NoPrices, PriceConvention::YesPrices] {
            let (books, ticker) = sample(convention);
            let book = books.get(ticker.as_str()).unwrap();
            assert_eq!(book.best_yes_bid(), Some(lv("0.55", 10)));
            assert_eq!(book.best_no_bid(), Some(lv("0.40", 7)));
            assert_eq!(book.best_yes_ask(), Some(lv("0.60", 7)));
            assert_eq!(book.best_no_ask(), Some(lv("0.45", 10)));
            assert_eq!(book.spread(), Some(Money::from_micros(50_000)));
            // (0.55 + 0.60) / 2
            assert_eq!(book.mid(), Some(p("0.575")));
            // (0.55 × 7 + 0.60 × 10) / 17 = 9.85 / 17 = 0.579411…
            assert_eq!(
                book.microprice(),
                Some(Price::from_micros(579_411).unwrap())
            );
            assert_eq!(
                book.depth_yes(5),
                Depth {
                    bids: vec![lv("0.55", 10), lv("0.50", 4)],
                    asks: vec![lv("0.60", 7), lv("0.62", 3)],
                }
            );
            assert_eq!(book.yes_ask_size_at(p("0.62")), c(3));
            assert_eq!(
                book.no_asks().collect::<Vec<_>>(),
                vec![lv("0.45", 10), lv("0.50", 4)]
            );
            assert_eq!(book.size_at(BookSide::No, p("0.38")), c(3));
            assert_eq!(book.total_size(BookSide::Yes), c(14));
            assert_eq!(book.age_ms(1_000 + 2_500_000), 2);
        }
    }

    #[test]
    fn deltas_in_either_convention_hit_the_same_level() {
        for convention in [PriceConvention::NoPrices, PriceConvention::YesPrices] {
            let (mut books, ticker) = sample(convention);
            let wire = match convention {
                PriceConvention::NoPrices => p("0.40"),
                PriceConvention::YesPrices => p("0.60"),
            };
            let out = books.apply_delta(ticker.as_str(), BookSide::No, wire, c(-7), convention, 9);
            assert_eq!(out, ApplyOutcome::Applied);
            let book = books.get(ticker.as_str()).unwrap();
            assert_eq!(book.best_yes_ask(), Some(lv("0.62", 3)));
            assert_eq!(book.level_count(BookSide::No), 1);
            assert_eq!(book.last_update_mono_ns(), 9);
        }
    }

    #[test]
    fn negative_level_flags_without_corrupting() {
        let (mut books, ticker) = sample(PriceConvention::NoPrices);
        let before = books.get(ticker.as_str()).unwrap().depth_yes(10);
        let out = books.apply_delta(
            ticker.as_str(),
            BookSide::Yes,
            p("0.55"),
            c(-11),
            PriceConvention::NoPrices,
            5,
        );
        let reason = ResyncReason::NegativeLevel {
            side: BookSide::Yes,
            price: p("0.55"),
            size_after: c(-1),
        };
        assert_eq!(out, ApplyOutcome::NeedsResync(reason.clone()));
        let book = books.get(ticker.as_str()).unwrap();
        assert_eq!(book.depth_yes(10), before);
        assert_eq!(book.resync_needed(), Some(&reason));
        // A negative delta at an empty level is the same fault.
        let (mut books, ticker) = sample(PriceConvention::NoPrices);
        let out = books.apply_delta(
            ticker.as_str(),
            BookSide::No,
            p("0.10"),
            c(-1),
            PriceConvention::NoPrices,
            5,
        );
        assert!(matches!(
            out,
            ApplyOutcome::NeedsResync(ResyncReason::NegativeLevel { .. })
        ));
    }

    #[test]
    fn deltas_wait_for_the_resync_snapshot() {
        let (mut books, ticker) = sample(PriceConvention::NoPrices);
        assert!(books.mark_resync(ticker.as_str(), ResyncReason::SequenceGap));
        let out = books.apply_delta(
            ticker.as_str(),
            BookSide::Yes,
            p("0.56"),
            c(1),
            PriceConvention::NoPrices,
            5,
        );
        assert_eq!(out, ApplyOutcome::NeedsResync(ResyncReason::SequenceGap));
        assert_eq!(books.best_yes_bid(ticker.as_str()), Some(lv("0.55", 10)));
        assert_eq!(books.needing_resync().count(), 1);
        let out = books.apply_snapshot(
            &ticker,
            vec![(p("0.56"), c(1))],
            vec![],
            PriceConvention::NoPrices,
            6,
        );
        assert_eq!(out, ApplyOutcome::Applied);
        assert_eq!(books.needing_resync().count(), 0);
        assert_eq!(books.best_yes_ask(ticker.as_str()), None);
        assert_eq!(books.mid(ticker.as_str()), None);
    }

    #[test]
    fn crossed_book_is_flagged() {
        let (mut books, ticker) = sample(PriceConvention::NoPrices);
        // YES bid 0.60 + NO bid 0.40 = 1.00: crossed.
        let out = books.apply_delta(
            ticker.as_str(),
            BookSide::Yes,
            p("0.60"),
            c(1),
            PriceConvention::NoPrices,
            5,
        );
        assert_eq!(
            out,
            ApplyOutcome::NeedsResync(ResyncReason::Crossed {
                yes_bid: p("0.60"),
                no_bid: p("0.40")
            })
        );
        assert!(books.get(ticker.as_str()).unwrap().is_resync_needed());
        let out = books.apply_snapshot(
            &ticker,
            vec![(p("0.70"), c(1))],
            vec![(p("0.31"), c(1))],
            PriceConvention::NoPrices,
            6,
        );
        assert!(matches!(
            out,
            ApplyOutcome::NeedsResync(ResyncReason::Crossed { .. })
        ));
    }

    #[test]
    fn unknown_market_and_bad_snapshot() {
        let mut books = Books::new();
        let out = books.apply_delta(
            "NOPE",
            BookSide::Yes,
            p("0.5"),
            c(1),
            PriceConvention::NoPrices,
            1,
        );
        assert_eq!(out, ApplyOutcome::UnknownMarket);
        assert!(books.is_empty());
        assert!(!books.mark_resync("NOPE", ResyncReason::SequenceGap));
        let ticker = Ticker::new("T");
        let out = books.apply_snapshot(
            &ticker,
            vec![(p("0.5"), c(1)), (p("0.4"), Count::from_centi(-1))],
            vec![(p("0.3"), c(0)), (p("0.3"), c(2)), (p("0.3"), c(1))],
            PriceConvention::NoPrices,
            1,
        );
        assert!(matches!(
            out,
            ApplyOutcome::NeedsResync(ResyncReason::NegativeLevel { .. })
        ));
        let book = books.get("T").unwrap();
        assert_eq!(
            book.level_count(BookSide::Yes) + book.level_count(BookSide::No),
            0
        );
        // Zero levels are skipped and repeated prices summed.
        books.apply_snapshot(
            &ticker,
            vec![],
            vec![(p("0.3"), c(0)), (p("0.3"), c(2)), (p("0.3"), c(1))],
            PriceConvention::NoPrices,
            2,
        );
        assert_eq!(books.best_no_bid("T"), Some(lv("0.3", 3)));
        assert_eq!(books.get("T").unwrap().level_count(BookSide::No), 1);
    }

    #[test]
    fn microprice_leans_to_the_thin_side() {
        let mut book = OrderBook::new(Ticker::new("T"));
        book.apply_snapshot(
            vec![(p("0.40"), c(90))],
            vec![(p("0.50"), c(10))],
            PriceConvention::NoPrices,
            0,
        );
        // bid 0.40 × 90, ask 0.50 × 10: (0.40 × 10 + 0.50 × 90) / 100 = 0.49
        assert_eq!(book.microprice(), Some(p("0.49")));
        assert_eq!(book.mid(), Some(p("0.45")));
    }

    /// The naive model: a map per side in own-side prices, with the same resync rules.
    #[derive(Default)]
    struct Model {
        yes: BTreeMap<i64, i64>,
        no: BTreeMap<i64, i64>,
        flagged: bool,
    }

    impl Model {
        fn crossed(&self) -> bool {
            match (self.yes.keys().next_back(), self.no.keys().next_back()) {
                (Some(y), Some(n)) => y + n >= MICROS,
                _ => false,
            }
        }
        fn snapshot(&mut self, yes: &[(i64, i64)], no_own: &[(i64, i64)]) {
            self.yes.clear();
            self.no.clear();
            self.flagged = false;
            let negative = yes.iter().chain(no_own).any(|&(_, s)| s < 0);
            if negative {
                self.flagged = true;
                return;
            }
            for &(price, size) in yes {
                *self.yes.entry(price).or_default() += size;
            }
            for &(price, size) in no_own {
                *self.no.entry(price).or_default() += size;
            }
            self.yes.retain(|_, s| *s != 0);
            self.no.retain(|_, s| *s != 0);
            self.flagged = self.crossed();
        }
        fn delta(&mut self, side: BookSide, own_price: i64, delta: i64) {
            if self.flagged {
                return;
            }
            let ladder = match side {
                BookSide::Yes => &mut self.yes,
                BookSide::No => &mut self.no,
            };
            let after = ladder.get(&own_price).copied().unwrap_or(0) + delta;
            if after < 0 {
                self.flagged = true;
                return;
            }
            if after == 0 {
                ladder.remove(&own_price);
            } else {
                ladder.insert(own_price, after);
            }
            self.flagged = self.crossed();
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Snapshot(Vec<(i64, i64)>, Vec<(i64, i64)>, bool),
        Delta(bool, i64, i64, bool),
    }

    fn price_micros() -> impl Strategy<Value = i64> + Clone {
        // A coarse grid so levels collide often; 0..=0.55 keeps most books uncrossed (a cross
        // needs both best bids near the top of the band) while still letting some cross.
        (0i64..=55).prop_map(|cents| cents * 10_000)
    }

    fn op() -> impl Strategy<Value = Op> {
        let level = (price_micros(), -1i64..=500);
        prop_oneof![
            1 => (
                prop::collection::vec(level.clone(), 0..8),
                prop::collection::vec(level, 0..8),
                any::<bool>()
            )
                .prop_map(|(y, n, conv)| Op::Snapshot(y, n, conv)),
            12 => (any::<bool>(), price_micros(), -300i64..=300, any::<bool>())
                .prop_map(|(yes, price, delta, conv)| Op::Delta(yes, price, delta, conv)),
        ]
    }

    fn convention(use_yes: bool) -> PriceConvention {
        PriceConvention::from_use_yes_price(use_yes)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn book_matches_naive_model(ops in prop::collection::vec(op(), 1..120)) {
            let ticker = Ticker::new("PROP");
            let mut books = Books::new();
            let mut model = Model::default();
            let mut have_book = false;
            for (step, op) in ops.into_iter().enumerate() {
                let now = step as u64;
                match op {
                    Op::Snapshot(yes, no_own, use_yes) => {
                        let conv = convention(use_yes);
                        let wire_no: Vec<(Price, Count)> = no_own
                            .iter()
                            .map(|&(price, size)| {
                                let own = Price::from_micros(price).unwrap();
                                (conv.own_side_price(BookSide::No, own), Count::from_centi(size))
                            })
                            .collect();
                        let yes_levels: Vec<(Price, Count)> = yes
                            .iter()
                            .map(|&(price, size)| (Price::from_micros(price).unwrap(), Count::from_centi(size)))
                            .collect();
                        let out = books.apply_snapshot(&ticker, yes_levels, wire_no, conv, now);
                        model.snapshot(&yes, &no_own);
                        have_book = true;
                        prop_assert_eq!(out == ApplyOutcome::Applied, !model.flagged);
                    }
                    Op::Delta(is_yes, own_price, delta, use_yes) => {
                        let conv = convention(use_yes);
                        let side = if is_yes { BookSide::Yes } else { BookSide::No };
                        let own = Price::from_micros(own_price).unwrap();
                        let wire = conv.own_side_price(side, own);
                        let out = books.apply_delta(ticker.as_str(), side, wire, Count::from_centi(delta), conv, now);
                        if !have_book {
                            prop_assert_eq!(out, ApplyOutcome::UnknownMarket);
                            continue;
                        }
                        model.delta(side, own_price, delta);
                        prop_assert_eq!(out == ApplyOutcome::Applied, !model.flagged);
                    }
                }
                if let Some(book) = books.get(ticker.as_str()) {
                    prop_assert_eq!(book.is_resync_needed(), model.flagged);
                    let yes: Vec<(i64, i64)> = book.yes_bids().rev().map(|l| (l.price.micros(), l.size.centi())).collect();
                    let no: Vec<(i64, i64)> = book.no_bids().rev().map(|l| (l.price.micros(), l.size.centi())).collect();
                    let model_yes: Vec<(i64, i64)> = model.yes.iter().map(|(p, s)| (*p, *s)).collect();
                    let model_no: Vec<(i64, i64)> = model.no.iter().map(|(p, s)| (*p, *s)).collect();
                    prop_assert_eq!(&yes, &model_yes);
                    prop_assert_eq!(&no, &model_no);
                    prop_assert!(yes.iter().chain(&no).all(|&(_, s)| s > 0));
                    prop_assert!(yes.windows(2).all(|w| w[0].0 < w[1].0));
                    prop_assert!(no.windows(2).all(|w| w[0].0 < w[1].0));
                    let ask = model.no.keys().next_back().map(|n| MICROS - n);
                    prop_assert_eq!(book.best_yes_ask().map(|l| l.price.micros()), ask);
                }
            }
        }
    }
}
