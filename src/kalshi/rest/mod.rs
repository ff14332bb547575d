//! The REST client: every endpoint the desk needs (DIGEST section 4), signed, rate-limited,
//! with Kalshi's error envelopes mapped to [`RestError`], cursor pagination, timeouts, and a
//! retry policy that never sends a create or amend twice.
//!
//! [`RestClient`] is `Clone` (an `Arc` inside) so a gateway task and readers can share one
//! client, one rate limiter and one set of latency counters.

mod account;
mod endpoint;
mod error;
mod gate;
mod markets;
mod orders;
mod pages;
mod portfolio;
mod stats;
mod transport;

pub use account::cost_table;
pub use markets::MAX_ORDERBOOK_TICKERS;
pub use orders::new_client_order_id;
pub use pages::{MAX_PAGES, collect_pages};

pub use endpoint::{Endpoint, Lane};
pub use error::{RestError, error_from_status};
pub use gate::WriteGate;
pub use stats::{EndpointLatency, LatencyStats};

use crate::kalshi::auth::Signer;
use crate::kalshi::ratelimit::{LimiterConfig, RateLimiter, SystemClock};
use std::sync::Arc;
use std::time::Duration;
use transport::Shared;

/// Production REST base (DIGEST section 1).
pub const PROD_BASE_URL: &str = "https://external-api.kalshi.com/trade-api/v2";
/// Demo REST base.
pub const DEMO_BASE_URL: &str = "https://external-api.demo.kalshi.co/trade-api/v2";
/// The path every REST base ends with; signatures cover it.
pub const API_PREFIX: &str = "/trade-api/v2";

/// Where the client talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    Prod,
    Demo,
    /// The local simulator at `addr` (`http://addr/trade-api/v2`).
    Sim(std::net::SocketAddr),
}

impl Environment {
    pub fn base_url(&self) -> String {
        match self {
            Environment::Prod => PROD_BASE_URL.to_string(),
            Environment::Demo => DEMO_BASE_URL.to_string(),
            Environment::Sim(addr) => sim_base_url(*addr),
        }
    }
}

/// The simulator's REST base on `addr`.
pub fn sim_base_url(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}{API_PREFIX}")
}

/// Timeouts and retry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestConfig {
    /// Any host; the path is normally `/trade-api/v2`.
    pub base_url: String,
    /// Whole request, connect to last body byte.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Attempts for reads and cancels (creates and amends are always sent once).
    pub max_attempts: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl RestConfig {
    pub fn new(base_url: impl Into<String>) -> RestConfig {
        RestConfig {
            base_url: base_url.into(),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_attempts: 4,
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
        }
    }

    pub fn for_environment(environment: &Environment) -> RestConfig {
        RestConfig::new(environment.base_url())
    }
}

/// Kalshi's REST API for one key. Cheap to clone.
#[derive(Clone)]
pub struct RestClient {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("base", &self.shared.base.as_str())
            .field("signer", &self.shared.signer)
            .finish_non_exhaustive()
    }
}

impl RestClient {
    /// A client with its own limiter on the process clock at the Basic tier.
    pub fn new(config: RestConfig, signer: Option<Signer>) -> Result<RestClient, RestError> {
        let limiter = Arc::new(RateLimiter::new(
            Arc::new(SystemClock),
            LimiterConfig::default(),
        ));
        RestClient::with_limiter(config, signer, limiter)
    }

    /// A client sharing `limiter` (one limiter per key: REST and anything else on the key
    /// draw from the same exchange buckets). Without a signer only public endpoints work.
    pub fn with_limiter(
        config: RestConfig,
        signer: Option<Signer>,
        limiter: Arc<RateLimiter>,
    ) -> Result<RestClient, RestError> {
        let base = url::Url::parse(&config.base_url).map_err(|error| {
            RestError::InvalidRequest(format!("base URL {:?}: {error}", config.base_url))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(RestError::InvalidRequest(format!(
                "base URL {:?} is not an http(s) URL",
                config.base_url
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(RestError::InvalidRequest(format!(
                "base URL {:?} must not carry a query or fragment",
                config.base_url
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            // Every retry is ours, decided per endpoint; the HTTP layer must never resend.
            .retry(reqwest::retry::never())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("kalshi-desk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| RestError::InvalidRequest(format!("HTTP client: {error}")))?;
        Ok(RestClient {
            shared: Arc::new(Shared {
                http,
                base,
                signer,
                limiter,
                config,
                stats: LatencyStats::default(),
                gate: std::sync::OnceLock::new(),
            }),
        })
    }

    pub fn base_url(&self) -> &str {
        self.shared.base.as_str()
    }

    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.shared.limiter
    }

    /// Install the gate every new order and amend must pass right before it is sent (the
    /// desk's halted flag). Shared by every clone; only the first call takes effect (false
    /// when a gate was already installed).
    pub fn set_write_gate(&self, gate: Arc<dyn WriteGate>) -> bool {
        self.shared.gate.set(gate).is_ok()
    }

    /// Round-trip latency per endpoint, for the health panel.
    pub fn latency(&self) -> &LatencyStats {
        &self.shared.stats
    }
}
