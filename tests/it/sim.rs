//! The simulator, driven only over HTTP and WebSocket on 127.0.0.1 (reqwest, tokio-tungstenite,
//! requests signed with kalshi::auth); every REST body and WS frame it sends is checked against
//! Kalshi's OpenAPI and AsyncAPI schemas as it arrives (see `harness`).

mod auth;
mod faults;
mod feed;
mod harness;
mod market_data;
mod trading;
