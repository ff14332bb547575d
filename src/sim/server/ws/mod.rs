//! The WS feed at `/trade-api/ws/v2` (DIGEST.md section 7).

pub mod commands;
pub mod feed;
pub mod session;
