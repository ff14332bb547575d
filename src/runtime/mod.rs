//! Wiring: tasks, channels, the engine task, the order gateway, the clock and shutdown.

pub mod clock;
pub mod control_socket;
pub mod kill;
pub mod lock;
pub mod metrics;
pub mod recovery;
