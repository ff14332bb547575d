//! The embedded exchange: the server side of the same wire, for new users and for every test.

pub mod exchange;
pub mod faults;
pub mod flow;
pub mod keys;
pub mod run;
pub mod server;
