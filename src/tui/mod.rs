//! The terminal screen (in progress).
