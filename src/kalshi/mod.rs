//! The Kalshi wire, client side: keys and signing, serde types, REST, rate limits, websocket.

pub mod auth;
pub mod ratelimit;
pub mod rest;
pub mod wire;
pub mod ws;
