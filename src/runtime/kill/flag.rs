//! The halted flag every writer checks, and the count of non-cancel writes in flight that tells
//! a kill whether a read is newer than the last write.

use crate::runtime::clock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The desk-wide halted flag: set by whoever halts (kill key, automatic halt, `kdesk kill` via
/// the control socket), read by the gateway before every write and after every token wait.
#[derive(Clone, Default)]
pub struct HaltFlag {
    inner: Arc<HaltInner>,
}

#[derive(Default)]
struct HaltInner {
    halted: AtomicBool,
    /// (mono ns, wall ms) of the instant the flag went up; read after the flag, so any write
    /// that saw the flag down began before this instant.
    halted_at: Mutex<Option<(u64, i64)>>,
    notify: Notify,
}

impl std::fmt::Debug for HaltFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HaltFlag")
            .field("halted", &self.is_halted())
            .field("halted_at_wall_ms", &self.halted_at_wall_ms())
            .finish()
    }
}

impl HaltFlag {
    pub fn new() -> HaltFlag {
        HaltFlag::default()
    }

    /// Raise the flag and wake everything waiting on it. Returns true when this call raised it
    /// (false when it was already up, whose instant is kept).
    pub fn halt(&self) -> bool {
        let raised = self
            .inner
            .halted
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if raised {
            let instant = (clock::mono_ns(), clock::wall_ms());
            *lock(&self.inner.halted_at) = Some(instant);
        }
        self.inner.notify.notify_waiters();
        raised
    }

    pub fn is_halted(&self) -> bool {
        self.inner.halted.load(Ordering::SeqCst)
    }

    /// Lower the flag: only an explicit, confirmed operator reset does this.
    pub fn reset(&self) {
        *lock(&self.inner.halted_at) = None;
        self.inner.halted.store(false, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Monotonic instant the flag went up (the start of time to flat).
    pub fn halted_at_mono_ns(&self) -> Option<u64> {
        lock(&self.inner.halted_at).map(|(mono, _)| mono)
    }

    /// Wall-clock instant the flag went up (for the journal and the order-log proof).
    pub fn halted_at_wall_ms(&self) -> Option<i64> {
        lock(&self.inner.halted_at).map(|(_, wall)| wall)
    }

    /// Wait until the flag is up (returns at once if it already is).
    pub async fn wait_halted(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_halted() {
                return;
            }
            notified.await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Counts non-cancel writes (creates, amends) in flight, so a kill can tell whether a read is
/// newer than the last of them. The gateway wraps each such write in [`WriteTracker::begin`].
#[derive(Clone, Default)]
pub struct WriteTracker {
    inner: Arc<TrackerInner>,
}

#[derive(Default)]
struct TrackerInner {
    in_flight: AtomicUsize,
    started: AtomicU64,
    idle: Notify,
}

impl std::fmt::Debug for WriteTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTracker")
            .field("in_flight", &self.in_flight())
            .field("started", &self.started())
            .finish()
    }
}

/// One write in flight; dropping it marks the write finished (answered, failed or lost).
#[derive(Debug)]
pub struct WriteGuard {
    tracker: WriteTracker,
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        self.tracker.finish_one();
    }
}

/// What a read saw of the writes when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteMark {
    in_flight: usize,
    started: u64,
}

impl WriteTracker {
    pub fn new() -> WriteTracker {
        WriteTracker::default()
    }

    /// Mark a write as started; hold the guard until its answer (or its loss) is known.
    pub fn begin(&self) -> WriteGuard {
        self.start_one();
        WriteGuard {
            tracker: self.clone(),
        }
    }

    fn start_one(&self) {
        self.inner.started.fetch_add(1, Ordering::SeqCst);
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    fn finish_one(&self) {
        if self.inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.idle.notify_waiters();
        }
    }

    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// How many writes ever began.
    pub fn started(&self) -> u64 {
        self.inner.started.load(Ordering::SeqCst)
    }

    /// Taken just before a read.
    pub fn mark(&self) -> WriteMark {
        WriteMark {
            in_flight: self.in_flight(),
            started: self.started(),
        }
    }

    /// True when the read that began at `mark` is newer than every write: none was in flight
    /// when it began and none began since.
    pub fn read_is_newer(&self, mark: WriteMark) -> bool {
        mark.in_flight == 0 && self.started() == mark.started
    }

    /// Wait until no write is in flight, up to `timeout`. True when idle.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.inner.idle.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.in_flight() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

/// The REST client's write gate for a desk: closed while the halted flag is up, and counting
/// every new order and amend in flight for the kill's "read newer than every write" test.
#[derive(Debug, Clone)]
pub struct HaltGate {
    pub halt: HaltFlag,
    pub writes: WriteTracker,
}

impl crate::kalshi::rest::WriteGate for HaltGate {
    fn is_open(&self) -> bool {
        !self.halt.is_halted()
    }

    fn write_started(&self) {
        self.writes.start_one();
    }

    fn write_finished(&self) {
        self.writes.finish_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_halt_flag_keeps_its_first_instant_and_wakes_waiters() {
        let flag = HaltFlag::new();
        assert!(!flag.is_halted());
        assert_eq!(flag.halted_at_wall_ms(), None);
        let waiter = {
            let flag = flag.clone();
            tokio::spawn(async move { flag.wait_halted().await })
        };
        tokio::task::yield_now().await;
        assert!(flag.halt());
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("waiter woke")
            .expect("waiter ran");
        let first = flag.halted_at_mono_ns();
        assert!(first.is_some());
        assert!(!flag.halt(), "a second halt does not raise it again");
        assert_eq!(flag.halted_at_mono_ns(), first);
        flag.wait_halted().await;
        flag.reset();
        assert!(!flag.is_halted());
        assert_eq!(flag.halted_at_mono_ns(), None);
    }

    #[tokio::test]
    async fn a_read_is_newer_only_when_no_write_overlaps_it() {
        let writes = WriteTracker::new();
        let mark = writes.mark();
        assert!(writes.read_is_newer(mark));
        let guard = writes.begin();
        assert!(
            !writes.read_is_newer(mark),
            "a write began after the read began"
        );
        let during = writes.mark();
        assert!(!writes.read_is_newer(during), "a write was in flight");
        assert!(!writes.wait_idle(Duration::from_millis(10)).await);
        let waiter = {
            let writes = writes.clone();
            tokio::spawn(async move { writes.wait_idle(Duration::from_secs(5)).await })
        };
        tokio::task::yield_now().await;
        drop(guard);
        assert!(waiter.await.expect("waiter ran"));
        assert_eq!(writes.in_flight(), 0);
        assert!(writes.read_is_newer(writes.mark()));
    }
}
