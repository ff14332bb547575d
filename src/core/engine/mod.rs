//! The engine: owns all trading state; `handle(input, now) -> outputs`.

pub mod io;
