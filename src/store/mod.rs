//! Persistence: the SQLite journal (and, in progress, feed tapes for record/replay).

pub mod journal;
pub mod tape;
