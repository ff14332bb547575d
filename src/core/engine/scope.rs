//! Which markets one input makes the engine look at. An input touches its own markets; a timer
//! tick touches the markets whose strategies act on time, and every market only when something
//! that can change a market nobody touched has happened: a stale-book or closing-soon deadline
//! came due, the cancel-all cooldown started or ended, or the exchange clock stepped back.

use std::collections::BTreeSet;

use crate::core::market::Ticker;
use crate::core::time::Now;

use super::Engine;

/// The markets one input touched: refreshed and run once each, in ticker order.
pub(super) struct Touched(Vec<Ticker>);

impl Touched {
    /// Collects into `buffer` (emptied), so no input allocates for it once it has grown.
    pub(super) fn reusing(mut buffer: Vec<Ticker>) -> Touched {
        buffer.clear();
        Touched(buffer)
    }

    pub(super) fn insert(&mut self, ticker: Ticker) {
        self.0.push(ticker);
    }

    pub(super) fn extend(&mut self, tickers: impl IntoIterator<Item = Ticker>) {
        self.0.extend(tickers);
    }

    pub(super) fn into_sorted(mut self) -> Vec<Ticker> {
        self.0.sort_unstable();
        self.0.dedup();
        self.0
    }
}

/// Deadlines on the two clocks the pause reasons read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Wake {
    mono_ns: u64,
    exchange_ms: i64,
}

impl Wake {
    pub(super) const NEVER: Wake = Wake {
        mono_ns: u64::MAX,
        exchange_ms: i64::MAX,
    };

    fn is_due(&self, now: &Now) -> bool {
        now.mono_ns >= self.mono_ns || now.exchange_ms() >= self.exchange_ms
    }
}

/// The desk-wide facts behind every market's time-driven reasons at the last full refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct FullRefresh {
    /// The cancel-all cooldown was running.
    cooldown: bool,
    /// The cancel-all that started it.
    cancel_all_ns: Option<u64>,
    /// The latest exchange time any refresh has used since (closing soon can only end if the
    /// exchange clock goes back, as a stepped wall clock does).
    exchange_ms_high: i64,
}

impl FullRefresh {
    /// Whether `now` differs in a way that can change a market nobody touched.
    fn is_stale(&self, now: &FullRefresh) -> bool {
        now.cooldown != self.cooldown
            || now.cancel_all_ns != self.cancel_all_ns
            || now.exchange_ms_high < self.exchange_ms_high
    }
}

impl Engine {
    /// Adds what a tick (or an input that concerns every market, `all`) must look at to
    /// `touched`; returns whether every market is in it.
    pub(super) fn widen_scope(&mut self, touched: &mut Touched, all: bool, tick: bool) -> bool {
        let now = self.now;
        let seen = FullRefresh {
            cooldown: self.control.in_cancel_all_cooldown(now.mono_ns),
            cancel_all_ns: self.control.last_cancel_all_ns(),
            exchange_ms_high: now.exchange_ms(),
        };
        let all =
            all || (tick && (self.timed_wake.is_due(&now) || self.full_refresh.is_stale(&seen)));
        if all {
            touched.extend(self.known_markets());
            self.timed_wake = Wake::NEVER;
            self.full_refresh = seen;
        } else {
            self.full_refresh.exchange_ms_high = self
                .full_refresh
                .exchange_ms_high
                .max(seen.exchange_ms_high);
            if tick {
                touched.extend(self.markets_run_on_time());
            }
        }
        all
    }

    pub(super) fn known_markets(&self) -> Vec<Ticker> {
        let mut tickers: BTreeSet<Ticker> = self.markets.keys().cloned().collect();
        tickers.extend(self.books.iter().map(|(t, _)| t.clone()));
        tickers.extend(self.strategies.keys().cloned());
        tickers.extend(self.control.markets().map(|(t, _)| t.clone()));
        tickers.into_iter().collect()
    }

    /// Markets a tick must look at even when no time-driven reason is due: those with a
    /// strategy (it may act on time alone: ttl, fair-value age) and those holding strategy
    /// orders without one (they must go when the market is not armed).
    fn markets_run_on_time(&self) -> Vec<Ticker> {
        let mut tickers: Vec<Ticker> = self.strategies.keys().cloned().collect();
        for ticker in self.orders.markets_with_open_orders() {
            if !self.strategies.contains_key(ticker)
                && self
                    .orders
                    .open_in_market(ticker.as_str())
                    .any(|o| Self::is_strategy_owned(&o.owner))
            {
                tickers.push(ticker.clone());
            }
        }
        tickers
    }

    /// When this market's stale-book or closing-soon reason would turn on by time alone.
    pub(super) fn note_timed_wake(&mut self, ticker: &Ticker, stale: bool, closing: bool) {
        if !stale && let Some(book) = self.books.get(ticker.as_str()) {
            // `age_ms` > limit ⇔ (now − last) ≥ (limit + 1) ms.
            let at = book.last_update_mono_ns().saturating_add(
                self.config
                    .stale_book_ms
                    .saturating_add(1)
                    .saturating_mul(1_000_000),
            );
            self.timed_wake.mono_ns = self.timed_wake.mono_ns.min(at);
        }
        if !closing && let Some(close) = self.markets.get(ticker).and_then(|r| r.close_ms) {
            let at = close
                .saturating_sub(i64::try_from(self.config.closing_soon_ms).unwrap_or(i64::MAX));
            self.timed_wake.exchange_ms = self.timed_wake.exchange_ms.min(at);
        }
    }
}
