//! SQLite journal and feed tapes (in progress).
