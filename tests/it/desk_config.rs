//! The desk configuration the integration tests start desks with: the simulator's endpoints and
//! key, a state dir, a seeded reconnect jitter, and timers short enough that reconciles, sweeps
//! and snapshots happen within a test's wait. Shared by the runtime, replay and kill tests.

use std::path::Path;

use kalshi_desk::core::market::Ticker;
use kalshi_desk::kalshi::ratelimit::{LimiterConfig, Tier};
use kalshi_desk::runtime::desk::{DeskConfig, DeskTiming};
use kalshi_desk::sim::server::SimHandle;

/// A desk on `sim` watching `watchlist`, with its lock, journal and socket in `state_dir`.
pub fn sim_desk_config(sim: &SimHandle, state_dir: &Path, watchlist: Vec<Ticker>) -> DeskConfig {
    let mut config = DeskConfig::new(
        "sim",
        &sim.rest_base_url,
        &sim.ws_url,
        &sim.key_id,
        sim.key_file.clone(),
    );
    config.watchlist = watchlist;
    config.state_dir = Some(state_dir.to_path_buf());
    config.ws_jitter_seed = Some(5);
    config.limiter = LimiterConfig::for_tier(Tier::Expert);
    config.timing = DeskTiming {
        tick_ms: 50,
        reconcile_every_ms: 2_000,
        status_every_ms: 1_000,
        snapshot_every_ms: 20,
        sweep_every_ms: 100,
        max_sweeps: 100,
        drift_halt_after: 50,
    };
    config
}
