//! The exchange behind its lock, and the publication of what it announces.
//!
//! Every write runs under the lock, and its events are numbered and broadcast before the lock
//! is released; a book snapshot taken under the same lock records the number it includes. So a
//! WS session can tell exactly which deltas its snapshot already contains, and no publication
//! is ever applied twice or missed. Nothing awaits while the lock is held.

use super::ws::feed::{BookSnapshot, FeedItem, Publication};
use super::ws::session::FeedSource;
use super::{fanout, venue};
use crate::core::num::Money;
use crate::sim::exchange::Exchange;
use crate::sim::exchange::events::TickerSnapshot;
use crate::sim::flow::Flow;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Publications buffered per WS session before it counts as too slow (error 25).
pub const HUB_CAPACITY: usize = 65_536;

struct Inner {
    exchange: Exchange,
    flow: Option<Flow>,
    /// Member id of each flow agent, by agent index.
    agent_users: Vec<String>,
    published: u64,
}

/// The exchange, its synthetic traders and the publication hub.
pub struct MarketCell {
    inner: Mutex<Inner>,
    hub: broadcast::Sender<Arc<Publication>>,
    /// Ticker of each market id, for WS commands that name markets by id.
    tickers_by_id: HashMap<String, String>,
}

impl MarketCell {
    pub fn new(exchange: Exchange, flow: Option<Flow>) -> MarketCell {
        let (hub, _) = broadcast::channel(HUB_CAPACITY);
        let tickers_by_id = exchange
            .market_states()
            .map(|m| {
                (
                    fanout::market_id_of(m.ticker.as_str()),
                    m.ticker.to_string(),
                )
            })
            .collect();
        MarketCell {
            inner: Mutex::new(Inner {
                agent_users: flow
                    .as_ref()
                    .map(|f| {
                        f.agents()
                            .iter()
                            .map(|a| venue::agent_user_id(&a.name))
                            .collect()
                    })
                    .unwrap_or_default(),
                exchange,
                flow,
                published: 0,
            }),
            hub,
            tickers_by_id,
        }
    }

    pub fn hub(&self) -> broadcast::Sender<Arc<Publication>> {
        self.hub.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Run a write at exchange time `now_ms` and publish what it announced.
    pub fn write<R>(&self, now_ms: i64, write: impl FnOnce(&mut Exchange) -> R) -> R {
        let mut inner = self.lock();
        inner.exchange.advance(now_ms);
        let result = write(&mut inner.exchange);
        self.publish(&mut inner);
        result
    }

    /// A read (no events).
    pub fn read<R>(&self, read: impl FnOnce(&Exchange) -> R) -> R {
        let inner = self.lock();
        read(&inner.exchange)
    }

    /// Move the exchange clock to `now_ms` and let the synthetic traders act.
    pub fn tick(&self, now_ms: i64) {
        let mut inner = self.lock();
        let Inner {
            exchange,
            flow,
            agent_users,
            ..
        } = &mut *inner;
        exchange.advance(now_ms);
        if let Some(flow) = flow {
            let mut venue = venue::ExchangeVenue {
                exchange,
                agent_users,
            };
            flow.step(&mut venue, now_ms);
        }
        self.publish(&mut inner);
    }

    fn publish(&self, inner: &mut Inner) {
        let events = inner.exchange.take_events();
        if events.is_empty() {
            return;
        }
        let items: Vec<FeedItem> = events.iter().flat_map(fanout::feed_items).collect();
        inner.published += 1;
        // No receivers is fine: nobody is connected.
        let _ = self.hub.send(Arc::new(Publication {
            number: inner.published,
            items,
        }));
    }
}

impl FeedSource for MarketCell {
    fn book_snapshots(&self, tickers: &[String]) -> (u64, Vec<Result<BookSnapshot, String>>) {
        let inner = self.lock();
        let books = tickers
            .iter()
            .map(|ticker| {
                let book = inner
                    .exchange
                    .matching_book(ticker)
                    .ok_or_else(|| ticker.clone())?;
                let levels = book.levels();
                Ok(BookSnapshot {
                    market_ticker: ticker.clone(),
                    market_id: fanout::market_id_of(ticker),
                    yes: levels.yes_bids,
                    no: levels.no_bids,
                })
            })
            .collect();
        (inner.published, books)
    }

    fn ticker_of_market_id(&self, market_id: &str) -> Option<String> {
        self.tickers_by_id.get(market_id).cloned()
    }

    fn market_exists(&self, ticker: &str) -> bool {
        self.lock().exchange.market_state(ticker).is_some()
    }

    fn ticker_message(&self, ticker: &str) -> Option<Value> {
        let inner = self.lock();
        let exchange = &inner.exchange;
        let market = exchange.market_state(ticker)?;
        let book = exchange.matching_book(ticker)?;
        let stats = &market.stats;
        let snapshot = TickerSnapshot {
            ticker: market.ticker.clone(),
            last_price: stats.last_price,
            yes_bid: book.best_bid(),
            yes_ask: book.best_ask(),
            last_trade_size: stats.last_trade_size,
            volume: stats.volume,
            open_interest: stats.open_interest,
            dollar_volume: stats.dollar_volume,
            dollar_open_interest: Money::from_micros(
                stats.open_interest.centi().saturating_mul(10_000),
            ),
            ts_ms: crate::runtime::clock::wall_ms(),
        };
        Some(fanout::ticker_msg(&snapshot))
    }
}
