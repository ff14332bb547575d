//! Desks on the simulator in the integration tests: the configuration they start with (the
//! simulator's endpoints and key, a state dir, a seeded reconnect jitter, and timers short enough
//! that reconciles, sweeps and snapshots happen within a test's wait), and other members' orders
//! placed straight into the exchange. Shared by the runtime, replay, kill and security tests.

use std::path::Path;

use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::{Count, Money, Price};
use kalshi_desk::kalshi::ratelimit::{LimiterConfig, Tier};
use kalshi_desk::kalshi::wire::{BookSide, CreateOrderV2Request, TimeInForce};
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

/// Another member's limit order straight into the simulator's exchange (GTC, or IOC when `take`);
/// the member gets an account on first use.
pub fn member_order(
    sim: &SimHandle,
    user: &str,
    ticker: &Ticker,
    side: BookSide,
    price: &str,
    count: i64,
    take: bool,
) {
    let mut request = CreateOrderV2Request::limit(
        ticker.clone(),
        side,
        Price::parse(price).expect("price"),
        Count::from_contracts(count),
    );
    if take {
        request.time_in_force = TimeInForce::ImmediateOrCancel;
    }
    let user = user.to_string();
    sim.exchange_write(|exchange| {
        if exchange.account(&user).is_none() {
            exchange.open_account(&user, Money::from_cents(100_000_000));
        }
        exchange
            .create_order(&user, &request, kalshi_desk::runtime::clock::wall_ms())
            .expect("order accepted");
    });
}
