//! The one integration-test binary: every test talks to the code over its public API, and to
//! the simulator or small loopback servers over real sockets on 127.0.0.1.

mod auth;
mod cli;
mod desk_wait;
mod fuzz;
mod kill;
mod replay;
mod rest;
mod runtime;
mod schema;
mod security;
mod sim;
mod sim_desk;
mod soak;
mod tui;
mod wire;
mod ws;
