//! User configuration: where files live, and how mistakes in them are reported.

pub mod diagnostic;
