//! The shared halted flag: the one bit the kill switch sets before anything else happens.
//!
//! Whoever kills (the hotkey, an automatic halt, the control socket) sets it itself, so the
//! gateway refuses new non-cancel writes from that instant without waiting for the engine task to
//! get round to the kill command; the `Notify` wakes a gateway that is idle or queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

/// Cheap to clone; every clone is the same flag.
#[derive(Debug, Clone, Default)]
pub struct HaltFlag {
    inner: Arc<HaltInner>,
}

#[derive(Debug, Default)]
struct HaltInner {
    halted: AtomicBool,
    wake: Notify,
}

impl HaltFlag {
    pub fn new() -> HaltFlag {
        HaltFlag::default()
    }

    /// Set the flag and wake everyone waiting on it. Returns true if it was not set before.
    pub fn set(&self) -> bool {
        let first = !self.inner.halted.swap(true, Ordering::SeqCst);
        self.inner.wake.notify_waiters();
        first
    }

    /// Cleared only by a confirmed operator reset (the engine left HALTED).
    pub fn clear(&self) {
        self.inner.halted.store(false, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.inner.halted.load(Ordering::SeqCst)
    }

    /// Resolves at the next `set` (register before checking `is_set` to miss nothing).
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.wake.notified()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn set_wakes_waiters_and_is_shared_by_clones() {
        let flag = HaltFlag::new();
        let other = flag.clone();
        let waiter = tokio::spawn(async move {
            let notified = other.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !other.is_set() {
                notified.await;
            }
            other.is_set()
        });
        assert!(flag.set());
        assert!(!flag.set());
        assert!(waiter.await.unwrap());
        flag.clear();
        assert!(!flag.is_set());
    }
}
