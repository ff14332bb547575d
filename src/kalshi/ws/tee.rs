//! A tap on the client's raw input for recording: every text frame exactly as received with its
//! receive time, plus connection events and gap markers, so a tape of the desk's own feed needs
//! no second connection. While nobody records, the client pays one relaxed atomic load per frame;
//! the frame's text is copied only while a recording is on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::core::market::Ticker;

/// What the tap saw, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeeEvent {
    Frame {
        rx_ms: i64,
        connection: u64,
        text: String,
    },
    Connected {
        rx_ms: i64,
        connection: u64,
    },
    Disconnected {
        rx_ms: i64,
        connection: u64,
        reason: String,
    },
    /// These books missed data (sequence gap, dropped subscription) and are being resynced.
    Gap {
        rx_ms: i64,
        connection: u64,
        tickers: Vec<Ticker>,
        reason: String,
    },
}

#[derive(Debug, Default)]
struct TeeInner {
    on: AtomicBool,
    sink: Mutex<Option<mpsc::UnboundedSender<TeeEvent>>>,
}

/// Shared by the client (which feeds it) and a recorder (which turns it on and off).
#[derive(Debug, Clone, Default)]
pub struct FrameTee {
    inner: Arc<TeeInner>,
}

impl FrameTee {
    pub fn new() -> FrameTee {
        FrameTee::default()
    }

    /// Start tapping; events flow to the returned receiver until [`FrameTee::stop`]. A second
    /// start replaces the first receiver (which then ends).
    pub fn start(&self) -> mpsc::UnboundedReceiver<TeeEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.lock() = Some(tx);
        self.inner.on.store(true, Ordering::Release);
        rx
    }

    /// Stop tapping: the receiver drains what was sent and then ends.
    pub fn stop(&self) {
        self.inner.on.store(false, Ordering::Release);
        self.lock().take();
    }

    pub fn is_on(&self) -> bool {
        self.inner.on.load(Ordering::Relaxed)
    }

    /// Tap one event if a recording is on; `event` is only built then.
    pub(crate) fn tap(&self, event: impl FnOnce() -> TeeEvent) {
        if !self.is_on() {
            return;
        }
        let sink = self.lock();
        if let Some(tx) = sink.as_ref()
            && tx.send(event()).is_err()
        {
            // The recorder went away without stopping: stop paying for it.
            self.inner.on.store(false, Ordering::Relaxed);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<mpsc::UnboundedSender<TeeEvent>>> {
        // A poisoned lock only means a tapping thread panicked; the sender is still usable.
        self.inner
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> TeeEvent {
        TeeEvent::Frame {
            rx_ms: 1,
            connection: 1,
            text: text.to_string(),
        }
    }

    #[test]
    fn nothing_is_built_or_sent_while_off() {
        let tee = FrameTee::new();
        tee.tap(|| panic!("built while off"));
        let mut rx = tee.start();
        tee.tap(|| frame("a"));
        tee.stop();
        tee.tap(|| panic!("built after stop"));
        assert_eq!(rx.try_recv().ok(), Some(frame("a")));
        assert!(matches!(
            rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn a_dropped_receiver_turns_the_tap_off() {
        let tee = FrameTee::new();
        drop(tee.start());
        assert!(tee.is_on());
        tee.tap(|| frame("lost"));
        assert!(!tee.is_on());
    }
}
