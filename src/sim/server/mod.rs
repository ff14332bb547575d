//! The simulator's HTTP and WebSocket front: Kalshi's REST paths under `/trade-api/v2` and the
//! WS feed at `/trade-api/ws/v2`, over the in-process exchange.

pub mod auth;
pub mod errors;
pub mod ratelimit;
pub mod variants;
pub mod ws;
