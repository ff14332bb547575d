//! The last look before a new order or an amend leaves: a kill raised while the write waited
//! (for its turn, for tokens, for a retry) must stop it. The desk installs its halted flag here;
//! the REST client asks it right before every send of an order-lane write and tells it when
//! such a write starts and ends, so a kill can tell whether a read is newer than every write.

/// What the REST client asks before and tells around every new order and amend it sends.
pub trait WriteGate: Send + Sync + 'static {
    /// Whether a new order or amend may be sent now. Asked after every wait, right before the
    /// bytes leave; a closed gate turns the call into `RestError::NotSent`.
    fn is_open(&self) -> bool;
    /// A write is about to be sent (called before `is_open`, so a kill that raised its flag
    /// after this call sees the write as in flight).
    fn write_started(&self);
    /// That write's outcome is known (answered, failed, lost or not sent).
    fn write_finished(&self);
}

/// Calls [`WriteGate::write_finished`] when dropped, so every exit path ends the write.
pub(crate) struct GateWrite<'a>(pub &'a dyn WriteGate);

impl Drop for GateWrite<'_> {
    fn drop(&mut self) {
        self.0.write_finished();
    }
}
