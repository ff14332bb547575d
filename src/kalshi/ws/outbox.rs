//! The two output queues and what happens when the consumer is slow. Market data is dropped
//! (never waited for: a stalled socket reader makes Kalshi close the subscription with error 25);
//! control and private events are kept in order in small backlogs and flushed as room appears.

use super::{MarketEvent, PrivateEvent};
use crate::core::market::Ticker;
use std::collections::VecDeque;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{OwnedPermit, Sender};

/// What became of a market-data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// The queue was full (or backed up): dropped, and reported in a `MarketDataDropped`.
    Dropped,
}

#[derive(Debug)]
pub struct Outbox {
    market: Sender<MarketEvent>,
    private: Sender<PrivateEvent>,
    /// Control events waiting for room; market data never overtakes them.
    control_backlog: VecDeque<MarketEvent>,
    private_backlog: VecDeque<PrivateEvent>,
}

impl Outbox {
    pub fn new(market: Sender<MarketEvent>, private: Sender<PrivateEvent>) -> Outbox {
        Outbox {
            market,
            private,
            control_backlog: VecDeque::new(),
            private_backlog: VecDeque::new(),
        }
    }

    pub fn market_sender(&self) -> Sender<MarketEvent> {
        self.market.clone()
    }

    pub fn private_sender(&self) -> Sender<PrivateEvent> {
        self.private.clone()
    }

    /// Market data is being dropped until the backlog drains.
    pub fn market_congested(&self) -> bool {
        !self.control_backlog.is_empty()
    }

    pub fn private_backlog_len(&self) -> usize {
        self.private_backlog.len()
    }

    /// Queue a control event; it is never dropped (unless the consumer is gone).
    pub fn control(&mut self, event: MarketEvent) {
        if !self.control_backlog.is_empty() {
            self.control_backlog.push_back(event);
            return;
        }
        match self.market.try_send(event) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(event)) => self.control_backlog.push_back(event),
        }
    }

    /// Offer market data about `market`; dropped when there is no room right now.
    pub fn data(&mut self, event: MarketEvent, market: Option<&Ticker>) -> Delivery {
        if self.control_backlog.is_empty() {
            match self.market.try_send(event) {
                Ok(()) | Err(TrySendError::Closed(_)) => return Delivery::Delivered,
                Err(TrySendError::Full(_)) => {}
            }
        }
        self.note_dropped(market);
        Delivery::Dropped
    }

    /// Record a dropped message in the pending `MarketDataDropped` at the end of the backlog.
    fn note_dropped(&mut self, market: Option<&Ticker>) {
        let ticker = market.cloned();
        if let Some(MarketEvent::MarketDataDropped { tickers }) = self.control_backlog.back_mut() {
            if let Some(ticker) = ticker
                && !tickers.contains(&ticker)
            {
                tickers.push(ticker);
            }
            return;
        }
        self.control_backlog
            .push_back(MarketEvent::MarketDataDropped {
                tickers: ticker.into_iter().collect(),
            });
    }

    /// Move backlog into the market queue: first through `permit`, then while there is room.
    pub fn flush_market(&mut self, permit: OwnedPermit<MarketEvent>) {
        let Some(first) = self.control_backlog.pop_front() else {
            return;
        };
        permit.send(first);
        while let Some(event) = self.control_backlog.pop_front() {
            match self.market.try_send(event) {
                Ok(()) | Err(TrySendError::Closed(_)) => {}
                Err(TrySendError::Full(event)) => {
                    self.control_backlog.push_front(event);
                    return;
                }
            }
        }
    }

    /// Queue a private event in order; returns the backlog length after it.
    pub fn private(&mut self, event: PrivateEvent) -> usize {
        if self.private_backlog.is_empty() {
            match self.private.try_send(event) {
                Ok(()) | Err(TrySendError::Closed(_)) => return 0,
                Err(TrySendError::Full(event)) => self.private_backlog.push_back(event),
            }
        } else {
            self.private_backlog.push_back(event);
        }
        self.private_backlog.len()
    }

    pub fn flush_private(&mut self, permit: OwnedPermit<PrivateEvent>) {
        let Some(first) = self.private_backlog.pop_front() else {
            return;
        };
        permit.send(first);
        while let Some(event) = self.private_backlog.pop_front() {
            match self.private.try_send(event) {
                Ok(()) | Err(TrySendError::Closed(_)) => {}
                Err(TrySendError::Full(event)) => {
                    self.private_backlog.push_front(event);
                    return;
                }
            }
        }
    }

    /// Last resort when the private backlog is over its limit: wait for the consumer. Private
    /// events are never dropped, and the private stream is small.
    pub async fn drain_private_waiting(&mut self) {
        while let Some(event) = self.private_backlog.pop_front() {
            if self.private.send(event).await.is_err() {
                self.private_backlog.clear();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn ticker_event(name: &str) -> MarketEvent {
        MarketEvent::ResyncDone {
            ticker: Ticker::new(name),
        }
    }

    #[tokio::test]
    async fn full_queue_drops_data_keeps_control_in_order() {
        let (market_tx, mut market_rx) = mpsc::channel(2);
        let (private_tx, _private_rx) = mpsc::channel(2);
        let mut outbox = Outbox::new(market_tx, private_tx);
        let a = Ticker::new("A");
        let b = Ticker::new("B");
        assert_eq!(
            outbox.data(ticker_event("1"), Some(&a)),
            Delivery::Delivered
        );
        assert_eq!(
            outbox.data(ticker_event("2"), Some(&a)),
            Delivery::Delivered
        );
        assert_eq!(outbox.data(ticker_event("3"), Some(&a)), Delivery::Dropped);
        outbox.control(MarketEvent::Connected { connection: 2 });
        assert_eq!(outbox.data(ticker_event("4"), Some(&b)), Delivery::Dropped);
        assert_eq!(outbox.data(ticker_event("5"), Some(&b)), Delivery::Dropped);
        assert!(outbox.market_congested());

        assert_eq!(market_rx.recv().await, Some(ticker_event("1")));
        assert_eq!(market_rx.recv().await, Some(ticker_event("2")));
        let permit = outbox.market_sender().reserve_owned().await.unwrap();
        outbox.flush_market(permit);
        assert_eq!(
            market_rx.recv().await,
            Some(MarketEvent::MarketDataDropped {
                tickers: vec![a.clone()]
            })
        );
        assert_eq!(
            market_rx.recv().await,
            Some(MarketEvent::Connected { connection: 2 })
        );
        // one more event was in the backlog and fits only now
        let permit = outbox.market_sender().reserve_owned().await.unwrap();
        outbox.flush_market(permit);
        assert_eq!(
            market_rx.recv().await,
            Some(MarketEvent::MarketDataDropped { tickers: vec![b] })
        );
        assert!(!outbox.market_congested());
        assert_eq!(
            outbox.data(ticker_event("6"), Some(&a)),
            Delivery::Delivered
        );
    }

    #[tokio::test]
    async fn private_events_are_backlogged_never_dropped() {
        let (market_tx, _market_rx) = mpsc::channel(1);
        let (private_tx, mut private_rx) = mpsc::channel(1);
        let mut outbox = Outbox::new(market_tx, private_tx);
        let event = |n: u64| PrivateEvent::ReconciliationNeeded {
            connection: n,
            reason: String::new(),
        };
        assert_eq!(outbox.private(event(1)), 0);
        assert_eq!(outbox.private(event(2)), 1);
        assert_eq!(outbox.private(event(3)), 2);
        assert_eq!(private_rx.recv().await, Some(event(1)));
        let permit = outbox.private_sender().reserve_owned().await.unwrap();
        outbox.flush_private(permit);
        assert_eq!(private_rx.recv().await, Some(event(2)));
        let waiting = tokio::spawn(async move {
            outbox.drain_private_waiting().await;
            outbox.private_backlog_len()
        });
        assert_eq!(private_rx.recv().await, Some(event(3)));
        assert_eq!(waiting.await.unwrap(), 0);
    }
}
