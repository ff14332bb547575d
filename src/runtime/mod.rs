//! Wiring: tasks, channels, the engine task, the order gateway, the clock and shutdown.

pub mod clock;
pub mod control_socket;
pub mod convert;
pub mod desk;
pub mod engine_task;
pub mod feed_clock;
pub mod gateway;
pub mod kill;
pub mod lock;
pub mod metrics;
pub mod paper_executor;
pub mod reconcile;
pub mod recording;
pub mod snapshot;
pub mod startup;
