//! The simulator's HTTP and WebSocket front: Kalshi's REST paths under `/trade-api/v2` and the
//! WS feed at `/trade-api/ws/v2`, over the in-process exchange.
//!
//! [`SimServer::start`] binds (loopback by default), provisions an API key, builds the market,
//! and runs three kinds of task: the HTTP server, one task per WS connection, and the clock task
//! that advances the exchange and steps the synthetic traders. [`SimHandle`] gives tests and the
//! desk the URLs and key, runtime fault control, exchange access and a clean shutdown.

pub mod auth;
pub mod errors;
pub mod fanout;
pub mod gate;
mod handler;
pub mod market;
pub mod net;
pub mod query;
pub mod ratelimit;
pub mod rest;
pub mod variants;
pub mod venue;
pub mod ws;

use crate::kalshi::auth::KeyKind;
use crate::runtime::clock;
use crate::sim::exchange::Exchange;
use crate::sim::faults::{FaultConfig, FaultControl};
use crate::sim::keys::{self, KeyRegistry, KeyRegistryError};
use gate::Gate;
use market::MarketCell;
use ratelimit::{RateLimiter, Tier, TierLimits};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use variants::Variants;
use ws::session::WsContext;

/// The algorithm of a key the simulator generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum KeyAlgorithm {
    #[default]
    Ed25519,
    Rsa,
}

impl KeyAlgorithm {
    pub fn kind(self) -> KeyKind {
        match self {
            KeyAlgorithm::Ed25519 => KeyKind::Ed25519,
            KeyAlgorithm::Rsa => KeyKind::Rsa2048,
        }
    }
}

/// Everything the simulator is started with.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to bind; loopback and an ephemeral port by default.
    pub bind: SocketAddr,
    /// Seed of the synthetic market and of random faults.
    pub seed: u64,
    /// Number of markets in the catalogue.
    pub markets: usize,
    /// Whether synthetic traders trade.
    pub flow: bool,
    /// How often the clock task advances the exchange and steps the traders.
    pub tick: Duration,
    pub faults: FaultConfig,
    pub variants: Variants,
    /// Directory of the key registry (`keys.toml`) and generated private keys.
    pub key_dir: PathBuf,
    /// Algorithm of a key generated when the registry has none for `user_id`.
    pub key_algorithm: KeyAlgorithm,
    /// The member the provisioned key belongs to (a uuid, as Kalshi's user ids are).
    pub user_id: String,
    /// Cash every member starts with.
    pub starting_balance_cents: i64,
    /// Token buckets of every user; `None` turns rate limiting off.
    pub rate_limits: Option<TierLimits>,
    /// Interval of WS pings.
    pub ping_interval: Duration,
}

/// The default member of the simulator.
pub const DEFAULT_USER_ID: &str = "5a1d0c3e-7e57-4d35-9000-00000000c0de";

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            bind: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
            seed: 7,
            markets: 40,
            flow: true,
            tick: Duration::from_millis(100),
            faults: FaultConfig::default(),
            variants: Variants::default(),
            key_dir: std::env::temp_dir().join("kalshi-desk-sim-keys"),
            key_algorithm: KeyAlgorithm::Ed25519,
            user_id: DEFAULT_USER_ID.to_string(),
            starting_balance_cents: 10_000_000,
            rate_limits: Some(Tier::Basic.limits()),
            ping_interval: Duration::from_secs(10),
        }
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("key registry: {0}")]
    Keys(#[from] KeyRegistryError),
    #[error("fault settings: {0}")]
    Faults(#[from] crate::sim::faults::FaultError),
    #[error("building the market: {0}")]
    Market(String),
    #[error("member: {0}")]
    UserId(String),
}

/// Shared by every handler.
pub struct AppState {
    pub gate: Arc<Gate>,
    pub market: Arc<MarketCell>,
    pub ws: Arc<WsContext>,
    pub starting_balance_cents: i64,
}

/// Starts simulators.
pub struct SimServer;

/// A running simulator.
pub struct SimHandle {
    /// `http://127.0.0.1:<port>/trade-api/v2`
    pub rest_base_url: String,
    /// `ws://127.0.0.1:<port>/trade-api/ws/v2`
    pub ws_url: String,
    pub local_addr: SocketAddr,
    /// The key the simulator accepts for `user_id`, and its private key file.
    pub key_id: String,
    pub key_file: PathBuf,
    pub registry_path: PathBuf,
    pub user_id: String,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("rest_base_url", &self.rest_base_url)
            .field("ws_url", &self.ws_url)
            .field("key_id", &self.key_id)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

/// A key of `user_id` whose private file is in `dir`, generating one when there is none; also
/// returns the member the key belongs to.
fn provision_key(
    dir: &Path,
    algorithm: KeyAlgorithm,
    user_id: &str,
) -> Result<(String, PathBuf, PathBuf, KeyRegistry, String), SimError> {
    let registry_path = dir.join(keys::REGISTRY_FILE);
    if registry_path.exists() {
        let registry = KeyRegistry::load(&registry_path)?;
        let with_file = |k: &&keys::RegisteredKey| dir.join(format!("{}.pem", k.key_id)).exists();
        // The configured member's key; failing that, when the member was not chosen explicitly,
        // any key whose private half is here (what `kdesk keys new` made).
        let usable = registry
            .keys()
            .filter(|k| k.user_id == user_id)
            .find(with_file)
            .or_else(|| {
                (user_id == DEFAULT_USER_ID)
                    .then(|| registry.keys().find(with_file))
                    .flatten()
            })
            .map(|k| (k.key_id.clone(), k.user_id.clone()));
        if let Some((key_id, key_user)) = usable {
            let file = dir.join(format!("{key_id}.pem"));
            return Ok((key_id, file, registry_path, registry, key_user));
        }
    }
    let created = keys::create_key(dir, algorithm.kind(), user_id)?;
    let registry = KeyRegistry::load(&created.registry_path)?;
    Ok((
        created.key_id,
        created.private_key_path,
        created.registry_path,
        registry,
        user_id.to_string(),
    ))
}

impl SimServer {
    /// Bind, provision the key, build the market and serve until [`SimHandle::shutdown`].
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        config.faults.validate()?;
        keys::check_user_id(&config.user_id).map_err(SimError::UserId)?;
        let (key_id, key_file, registry_path, registry, user_id) =
            provision_key(&config.key_dir, config.key_algorithm, &config.user_id)?;
        let config = SimConfig { user_id, ..config };

        let now_ms = clock::wall_ms();
        let (exchange, flow) =
            rest::build_market(&config, &registry, now_ms).map_err(SimError::Market)?;
        let market = Arc::new(MarketCell::new(exchange, flow));

        let faults = FaultControl::new(config.faults.clone(), config.seed);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let gate = Arc::new(Gate {
            registry: Arc::new(RwLock::new(registry)),
            limiter: RateLimiter::new(config.rate_limits.clone()),
            faults: faults.clone(),
            variants: config.variants,
        });
        let ws = Arc::new(WsContext {
            hub: market.hub(),
            source: market.clone(),
            faults,
            variants: config.variants,
            ping_interval: config.ping_interval,
            shutdown: shutdown_rx.clone(),
        });
        let state = Arc::new(AppState {
            gate,
            market,
            ws,
            starting_balance_cents: config.starting_balance_cents,
        });

        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|e| SimError::Bind {
                addr: config.bind,
                reason: e.to_string(),
            })?;
        let local_addr = listener.local_addr().map_err(|e| SimError::Bind {
            addr: config.bind,
            reason: e.to_string(),
        })?;
        let app =
            rest::router(state.clone()).into_make_service_with_connect_info::<net::Connection>();
        let mut server_shutdown = shutdown_rx.clone();
        let server = tokio::spawn(async move {
            let serve = axum::serve(net::CuttableListener::new(listener), app)
                .with_graceful_shutdown(async move {
                    let _ = server_shutdown.wait_for(|stop| *stop).await;
                });
            if let Err(error) = serve.await {
                tracing::error!(%error, "simulator HTTP server stopped");
            }
        });
        let clock_task = tokio::spawn(run_clock(state.clone(), config.tick, shutdown_rx));

        let host = local_addr.to_string();
        Ok(SimHandle {
            rest_base_url: format!("http://{host}{}", gate::REST_PREFIX),
            ws_url: format!("ws://{host}{}", gate::WS_PATH),
            local_addr,
            key_id,
            key_file,
            registry_path,
            user_id: config.user_id.clone(),
            state,
            shutdown,
            tasks: vec![server, clock_task],
        })
    }
}

/// Advance the exchange on wall time and keep the fault layer's trading pause in force.
async fn run_clock(state: Arc<AppState>, tick: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            _ = interval.tick() => {
                let now_ms = clock::wall_ms();
                rest::sync_trading_pause(&state, now_ms);
                state.market.tick(now_ms);
            }
        }
    }
}

impl SimHandle {
    /// Stop serving: WS sessions get a Close frame, the HTTP server finishes its requests.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Runtime fault control.
    pub fn faults(&self) -> &FaultControl {
        &self.state.gate.faults
    }

    /// Pause or resume trading on the whole exchange now (the `exchange.trading_paused` fault).
    pub fn set_trading_paused(&self, paused: bool) {
        let _ = self.faults().update(|c| c.exchange.trading_paused = paused);
        rest::sync_trading_pause(&self.state, clock::wall_ms());
    }

    /// Read the exchange (order log, books, accounts) for assertions.
    pub fn with_exchange<R>(&self, read: impl FnOnce(&Exchange) -> R) -> R {
        self.state.market.read(read)
    }

    /// Change the exchange directly (settle a market, move its clock); its events are published
    /// to WS subscribers as after any write.
    pub fn exchange_write<R>(&self, write: impl FnOnce(&mut Exchange) -> R) -> R {
        self.state.market.write(clock::wall_ms(), write)
    }

    /// Accept another key (for tests of several users or key types).
    pub fn register_key(
        &self,
        key_id: &str,
        user_id: &str,
        public_pem: &str,
    ) -> Result<(), KeyRegistryError> {
        {
            let mut registry = match self.state.gate.registry.write() {
                Ok(registry) => registry,
                Err(poisoned) => poisoned.into_inner(),
            };
            registry.register(key_id, user_id, public_pem)?;
        }
        let balance = self.state.starting_balance_cents;
        self.state.market.write(clock::wall_ms(), |exchange| {
            rest::ensure_account(exchange, user_id, balance)
        });
        Ok(())
    }
}
