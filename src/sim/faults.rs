//! Fault injection for the simulator: the ways a real exchange connection goes wrong, on demand.
//!
//! Faults come from a TOML file (`--faults faults.toml`), from `--fault-*` flags layered on top,
//! or from [`FaultControl`] at runtime (tests flip them mid-run). Every random decision draws from
//! one RNG seeded from the simulator's seed, so a run with the same seed, faults and traffic
//! injects the same faults.
//!
//! Each mode's doc comment says what a client sees when it fires; the simulator's integration
//! tests prove each of those effects over real sockets.

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Why a fault file or flag was refused.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("fault file {path}: cannot read it: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("fault file {path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("fault setting {name} = {value}: a rate must be between 0 and 1")]
    RateOutOfRange { name: &'static str, value: f64 },
}

/// Every fault mode. All default to off.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    pub ws: WsFaults,
    pub rest: RestFaults,
    pub market: MarketFaults,
    pub exchange: ExchangeFaults,
}

/// Faults on WebSocket connections. They apply to data frames (everything the server sends as
/// JSON text, command replies included), never to pings.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsFaults {
    /// Close each connection after it has sent this many data frames (0 = never).
    /// Client sees: a Close frame and then end of stream, every N frames; it must reconnect,
    /// resubscribe (sids are new) and rebuild books from fresh snapshots.
    pub drop_every_n_messages: u64,
    /// Chance per data frame that the connection is cut with no Close frame (TCP reset).
    /// Client sees: the stream ends with an error at a random point; same recovery as above.
    pub drop_rate: f64,
    /// Every Nth sequenced frame of a subscription (orderbook, order groups) is withheld and its
    /// seq number consumed (0 = never).
    /// Client sees: seq jumps from n to n+2 and its book misses that update until it resyncs
    /// (`get_snapshot` or resubscribe); a client that ignores seq ends with a wrong book.
    pub skip_seq_every_n: u64,
    /// Chance per data frame that it is sent twice.
    /// Client sees: the same frame (same sid and seq) twice in a row; it must drop the repeat
    /// (a client that applies it double-counts a book delta).
    pub duplicate_rate: f64,
    /// Chance per data frame that the connection stalls for `delay_ms` before sending it; frames
    /// behind it wait too, so order is kept.
    /// Client sees: bursts of late frames whose `ts_ms` lags its clock by about `delay_ms`.
    pub delay_rate: f64,
    pub delay_ms: u64,
}

/// Faults on REST requests. Each is decided per request, before the handler runs.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestFaults {
    /// Added to every REST response.
    /// Client sees: every answer arrives at least this many milliseconds late.
    pub latency_ms: u64,
    /// Chance that a request gets a 5xx (500 or 503 alternately, with the error envelope) and is
    /// not applied.
    /// Client sees: a 5xx it may retry; nothing changed at the exchange.
    pub error_5xx_rate: f64,
    /// Same, only for cancel-all (`DELETE /portfolio/events/orders`), on top of `error_5xx_rate`.
    /// Client sees: its kill switch's cancel-all fails with a 5xx and the orders still rest, so
    /// it must fall back to per-order cancels and re-read resting orders.
    pub cancel_all_5xx_rate: f64,
    /// Chance that a write (POST, PUT, DELETE) is applied and then the connection is cut before
    /// the response is complete.
    /// Client sees: a transport error with no status or body, although the write took effect;
    /// it must find out from reads or `user_orders` (by `client_order_id`) and never resend blindly.
    pub lost_answer_rate: f64,
    /// Chance that a request gets `429 {"error":"too many requests"}` whatever its budget
    /// (1.0 = a storm: every request).
    /// Client sees: 429s although its own token accounting says it has budget; nothing applied.
    pub storm_429_rate: f64,
}

/// Faults on single markets.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketFaults {
    /// Markets whose WS book is frozen: no `orderbook_snapshot`, `orderbook_delta` or `ticker`
    /// frames are sent for them, while the socket, pings and every other market carry on and the
    /// exchange keeps trading them.
    /// Client sees: that market's book stops changing (its age grows) while REST shows it moving.
    pub frozen_books: BTreeSet<String>,
}

/// Exchange-wide faults.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangeFaults {
    /// Trading paused on the whole exchange.
    /// Client sees: `/exchange/status` with `trading_active: false`, new orders refused, and its
    /// orders placed with `cancel_order_on_pause` cancelled (with `user_orders` frames).
    pub trading_paused: bool,
}

impl FaultConfig {
    /// Read a TOML fault file.
    pub fn load(path: &Path) -> Result<FaultConfig, FaultError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| FaultError::Unreadable {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        FaultConfig::parse(&text, &shown)
    }

    /// Parse TOML text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<FaultConfig, FaultError> {
        let config: FaultConfig = toml::from_str(text).map_err(|e| FaultError::Invalid {
            path: source.to_string(),
            reason: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), FaultError> {
        let rates = [
            ("ws.drop_rate", self.ws.drop_rate),
            ("ws.duplicate_rate", self.ws.duplicate_rate),
            ("ws.delay_rate", self.ws.delay_rate),
            ("rest.error_5xx_rate", self.rest.error_5xx_rate),
            ("rest.cancel_all_5xx_rate", self.rest.cancel_all_5xx_rate),
            ("rest.lost_answer_rate", self.rest.lost_answer_rate),
            ("rest.storm_429_rate", self.rest.storm_429_rate),
        ];
        for (name, value) in rates {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultError::RateOutOfRange { name, value });
            }
        }
        Ok(())
    }

    /// True when no fault is configured.
    pub fn is_quiet(&self) -> bool {
        *self == FaultConfig::default()
    }
}

/// What the fault layer decided for one REST request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestFault {
    /// Answer with this 5xx status and do not apply the request.
    ServerError(u16),
    /// Answer 429 and do not apply the request.
    TooManyRequests,
    /// Apply the request, then cut the connection instead of answering.
    LoseAnswer,
}

/// What the fault layer decided for one outgoing WS data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameFault {
    /// Stall this long before sending.
    pub delay_ms: u64,
    /// Send the frame twice.
    pub duplicate: bool,
    /// Close the connection politely after this frame.
    pub close_after: bool,
    /// Cut the connection instead of sending this frame.
    pub reset_instead: bool,
}

/// The live fault settings, shared by the server's tasks; tests change them at runtime.
#[derive(Clone)]
pub struct FaultControl {
    inner: Arc<FaultState>,
}

struct FaultState {
    config: RwLock<FaultConfig>,
    rng: Mutex<ChaCha8Rng>,
    server_errors_sent: Mutex<u64>,
    injected: InjectedCounters,
}

/// How many faults of each kind the simulator has injected so far (soak reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct InjectedFaults {
    pub rest_429: u64,
    /// 5xx answers, cancel-all's included.
    pub rest_5xx: u64,
    pub cancel_all_5xx: u64,
    pub lost_answers: u64,
    /// REST answers held back by `latency_ms`.
    pub rest_delayed: u64,
    pub ws_resets: u64,
    pub ws_closes: u64,
    pub ws_duplicates: u64,
    pub ws_delays: u64,
    pub seq_skips: u64,
    /// Book or ticker frames withheld because their market's book is frozen.
    pub frozen_frames: u64,
}

#[derive(Default)]
struct InjectedCounters {
    rest_429: AtomicU64,
    rest_5xx: AtomicU64,
    cancel_all_5xx: AtomicU64,
    lost_answers: AtomicU64,
    rest_delayed: AtomicU64,
    ws_resets: AtomicU64,
    ws_closes: AtomicU64,
    ws_duplicates: AtomicU64,
    ws_delays: AtomicU64,
    seq_skips: AtomicU64,
    frozen_frames: AtomicU64,
}

fn bump(counter: &AtomicU64, happened: bool) -> bool {
    if happened {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    happened
}

impl std::fmt::Debug for FaultControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultControl")
            .field("config", &self.config())
            .finish_non_exhaustive()
    }
}

impl FaultControl {
    pub fn new(config: FaultConfig, seed: u64) -> FaultControl {
        FaultControl {
            inner: Arc::new(FaultState {
                config: RwLock::new(config),
                // A different stream from the market flow's, so faults do not shift the market.
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0xFA17_FA17_FA17_FA17)),
                server_errors_sent: Mutex::new(0),
                injected: InjectedCounters::default(),
            }),
        }
    }

    /// A copy of the current settings.
    pub fn config(&self) -> FaultConfig {
        match self.inner.config.read() {
            Ok(config) => config.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replace the settings (rates are checked first).
    pub fn set(&self, config: FaultConfig) -> Result<(), FaultError> {
        config.validate()?;
        match self.inner.config.write() {
            Ok(mut current) => *current = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
        Ok(())
    }

    /// Change the settings in place.
    pub fn update(&self, change: impl FnOnce(&mut FaultConfig)) -> Result<(), FaultError> {
        let mut config = self.config();
        change(&mut config);
        self.set(config)
    }

    /// Faults injected so far.
    pub fn injected(&self) -> InjectedFaults {
        let c = &self.inner.injected;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        InjectedFaults {
            rest_429: get(&c.rest_429),
            rest_5xx: get(&c.rest_5xx),
            cancel_all_5xx: get(&c.cancel_all_5xx),
            lost_answers: get(&c.lost_answers),
            rest_delayed: get(&c.rest_delayed),
            ws_resets: get(&c.ws_resets),
            ws_closes: get(&c.ws_closes),
            ws_duplicates: get(&c.ws_duplicates),
            ws_delays: get(&c.ws_delays),
            seq_skips: get(&c.seq_skips),
            frozen_frames: get(&c.frozen_frames),
        }
    }

    fn roll(&self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        let mut rng = match self.inner.rng.lock() {
            Ok(rng) => rng,
            Err(poisoned) => poisoned.into_inner(),
        };
        rng.random_bool(rate)
    }

    fn next_server_error(&self) -> u16 {
        let mut sent = match self.inner.server_errors_sent.lock() {
            Ok(sent) => sent,
            Err(poisoned) => poisoned.into_inner(),
        };
        *sent += 1;
        if *sent % 2 == 1 { 500 } else { 503 }
    }

    /// The fault (if any) for a REST request. `is_cancel_all` marks
    /// `DELETE /portfolio/events/orders`.
    pub fn rest_fault(&self, method: &http::Method, is_cancel_all: bool) -> Option<RestFault> {
        let rest = self.config().rest;
        let counters = &self.inner.injected;
        if bump(&counters.rest_429, self.roll(rest.storm_429_rate)) {
            return Some(RestFault::TooManyRequests);
        }
        if self.roll(rest.error_5xx_rate) || (is_cancel_all && self.roll(rest.cancel_all_5xx_rate))
        {
            bump(&counters.rest_5xx, true);
            bump(&counters.cancel_all_5xx, is_cancel_all);
            return Some(RestFault::ServerError(self.next_server_error()));
        }
        let is_write = matches!(
            *method,
            http::Method::POST | http::Method::PUT | http::Method::DELETE
        );
        if bump(
            &counters.lost_answers,
            is_write && self.roll(rest.lost_answer_rate),
        ) {
            return Some(RestFault::LoseAnswer);
        }
        None
    }

    /// Extra latency for every REST answer.
    pub fn rest_latency_ms(&self) -> u64 {
        let latency_ms = self.config().rest.latency_ms;
        bump(&self.inner.injected.rest_delayed, latency_ms > 0);
        latency_ms
    }

    /// The fault for the `frames_sent`-th data frame (counting from 1) of a connection.
    pub fn frame_fault(&self, frames_sent: u64) -> FrameFault {
        let ws = self.config().ws;
        let reset_instead = self.roll(ws.drop_rate);
        let close_after =
            ws.drop_every_n_messages > 0 && frames_sent.is_multiple_of(ws.drop_every_n_messages);
        let duplicate = self.roll(ws.duplicate_rate);
        let delay_ms = if ws.delay_ms > 0 && self.roll(ws.delay_rate) {
            ws.delay_ms
        } else {
            0
        };
        let counters = &self.inner.injected;
        bump(&counters.ws_resets, reset_instead);
        bump(&counters.ws_closes, close_after && !reset_instead);
        bump(&counters.ws_duplicates, duplicate && !reset_instead);
        bump(&counters.ws_delays, delay_ms > 0);
        FrameFault {
            delay_ms,
            duplicate,
            close_after,
            reset_instead,
        }
    }

    /// Whether the sequenced frame that would carry `seq` is withheld (its number is consumed).
    pub fn skip_seq(&self, seq: u64) -> bool {
        let every = self.config().ws.skip_seq_every_n;
        bump(
            &self.inner.injected.seq_skips,
            every > 0 && seq.is_multiple_of(every),
        )
    }

    /// Whether WS book and ticker frames for `market` are frozen.
    pub fn book_frozen(&self, market: &str) -> bool {
        let frozen = match self.inner.config.read() {
            Ok(config) => config.market.frozen_books.contains(market),
            Err(poisoned) => poisoned.into_inner().market.frozen_books.contains(market),
        };
        bump(&self.inner.injected.frozen_frames, frozen)
    }

    /// Whether the fault layer holds the whole exchange's trading paused.
    pub fn trading_paused(&self) -> bool {
        self.config().exchange.trading_paused
    }
}

/// `--fault-*` flags for `kdesk sim`; each overrides the same setting from the fault file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FaultFlags {
    /// Close each WS connection after this many data frames.
    #[arg(long, value_name = "N")]
    pub fault_ws_drop_every: Option<u64>,
    /// Chance per WS frame of cutting the connection (0..1).
    #[arg(long, value_name = "RATE")]
    pub fault_ws_drop_rate: Option<f64>,
    /// Withhold every Nth sequenced WS frame (a seq gap).
    #[arg(long, value_name = "N")]
    pub fault_seq_skip_every: Option<u64>,
    /// Chance per WS frame of sending it twice (0..1).
    #[arg(long, value_name = "RATE")]
    pub fault_ws_duplicate_rate: Option<f64>,
    /// Chance per WS frame of a stall before it (0..1); see --fault-ws-delay-ms.
    #[arg(long, value_name = "RATE")]
    pub fault_ws_delay_rate: Option<f64>,
    /// Length of a WS stall in milliseconds.
    #[arg(long, value_name = "MS")]
    pub fault_ws_delay_ms: Option<u64>,
    /// Latency added to every REST answer, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub fault_rest_latency_ms: Option<u64>,
    /// Chance per REST request of a 5xx (0..1).
    #[arg(long, value_name = "RATE")]
    pub fault_5xx_rate: Option<f64>,
    /// Chance per cancel-all of a 5xx (0..1).
    #[arg(long, value_name = "RATE")]
    pub fault_cancel_all_5xx_rate: Option<f64>,
    /// Chance per REST write of applying it and cutting the connection before the answer (0..1).
    #[arg(long, value_name = "RATE")]
    pub fault_lost_answer_rate: Option<f64>,
    /// Chance per REST request of a 429 regardless of budget (0..1).
    #[arg(long, value_name = "RATE")]
    pub fault_429_rate: Option<f64>,
    /// Freeze this market's WS book (repeatable).
    #[arg(long, value_name = "TICKER")]
    pub fault_freeze_book: Vec<String>,
    /// Start with exchange-wide trading paused.
    #[arg(long)]
    pub fault_trading_paused: bool,
}

impl FaultFlags {
    /// Layer the flags over `config`.
    pub fn apply(&self, config: &mut FaultConfig) -> Result<(), FaultError> {
        fn set<T: Copy>(target: &mut T, flag: Option<T>) {
            if let Some(value) = flag {
                *target = value;
            }
        }
        set(
            &mut config.ws.drop_every_n_messages,
            self.fault_ws_drop_every,
        );
        set(&mut config.ws.drop_rate, self.fault_ws_drop_rate);
        set(&mut config.ws.skip_seq_every_n, self.fault_seq_skip_every);
        set(&mut config.ws.duplicate_rate, self.fault_ws_duplicate_rate);
        set(&mut config.ws.delay_rate, self.fault_ws_delay_rate);
        set(&mut config.ws.delay_ms, self.fault_ws_delay_ms);
        set(&mut config.rest.latency_ms, self.fault_rest_latency_ms);
        set(&mut config.rest.error_5xx_rate, self.fault_5xx_rate);
        set(
            &mut config.rest.cancel_all_5xx_rate,
            self.fault_cancel_all_5xx_rate,
        );
        set(
            &mut config.rest.lost_answer_rate,
            self.fault_lost_answer_rate,
        );
        set(&mut config.rest.storm_429_rate, self.fault_429_rate);
        config
            .market
            .frozen_books
            .extend(self.fault_freeze_book.iter().cloned());
        if self.fault_trading_paused {
            config.exchange.trading_paused = true;
        }
        config.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_fault_file_and_rejects_unknown_keys_and_bad_rates() {
        let text = r#"
            [ws]
            drop_every_n_messages = 50
            skip_seq_every_n = 7
            [rest]
            latency_ms = 20
            cancel_all_5xx_rate = 1.0
            [market]
            frozen_books = ["KXA-1"]
            [exchange]
            trading_paused = true
        "#;
        let config = FaultConfig::parse(text, "faults.toml").unwrap();
        assert_eq!(config.ws.drop_every_n_messages, 50);
        assert_eq!(config.ws.skip_seq_every_n, 7);
        assert_eq!(config.rest.latency_ms, 20);
        assert!(config.market.frozen_books.contains("KXA-1"));
        assert!(config.exchange.trading_paused);

        let unknown = FaultConfig::parse("[ws]\ndrop_evry = 3\n", "f.toml").unwrap_err();
        assert!(unknown.to_string().contains("f.toml"), "{unknown}");
        let bad_rate = FaultConfig::parse("[rest]\nerror_5xx_rate = 1.5\n", "f.toml").unwrap_err();
        assert!(
            bad_rate.to_string().contains("error_5xx_rate"),
            "{bad_rate}"
        );
    }

    #[test]
    fn flags_override_the_file() {
        let mut config = FaultConfig::parse("[rest]\nlatency_ms = 5\n", "f").unwrap();
        let flags = FaultFlags {
            fault_rest_latency_ms: Some(9),
            fault_freeze_book: vec!["M".into()],
            fault_trading_paused: true,
            ..FaultFlags::default()
        };
        flags.apply(&mut config).unwrap();
        assert_eq!(config.rest.latency_ms, 9);
        assert!(config.market.frozen_books.contains("M"));
        assert!(config.exchange.trading_paused);
        let bad = FaultFlags {
            fault_429_rate: Some(-0.1),
            ..FaultFlags::default()
        };
        assert!(bad.apply(&mut config).is_err());
    }

    #[test]
    fn decisions_follow_the_settings() {
        let control = FaultControl::new(FaultConfig::default(), 7);
        assert_eq!(control.rest_fault(&http::Method::POST, true), None);
        assert_eq!(control.frame_fault(1), FrameFault::default());
        control
            .update(|c| {
                c.rest.cancel_all_5xx_rate = 1.0;
                c.ws.drop_every_n_messages = 3;
                c.ws.skip_seq_every_n = 4;
            })
            .unwrap();
        assert_eq!(control.rest_fault(&http::Method::GET, false), None);
        assert_eq!(
            control.rest_fault(&http::Method::DELETE, true),
            Some(RestFault::ServerError(500))
        );
        assert_eq!(
            control.rest_fault(&http::Method::DELETE, true),
            Some(RestFault::ServerError(503))
        );
        assert!(!control.frame_fault(2).close_after);
        assert!(control.frame_fault(3).close_after);
        assert!(control.skip_seq(8) && !control.skip_seq(9));
        control.update(|c| c.rest.lost_answer_rate = 1.0).unwrap();
        assert_eq!(control.rest_fault(&http::Method::GET, false), None);
        assert_eq!(
            control.rest_fault(&http::Method::POST, false),
            Some(RestFault::LoseAnswer)
        );
        let injected = control.injected();
        assert_eq!(injected.rest_5xx, 2);
        assert_eq!(injected.cancel_all_5xx, 2);
        assert_eq!(injected.lost_answers, 1);
        assert_eq!(injected.ws_closes, 1);
        assert_eq!(injected.seq_skips, 1);
        assert_eq!(injected.rest_429, 0);
    }

    #[test]
    fn random_decisions_repeat_for_a_seed() {
        let config = FaultConfig {
            ws: WsFaults {
                duplicate_rate: 0.3,
                ..WsFaults::default()
            },
            ..FaultConfig::default()
        };
        let draws = |seed| {
            let control = FaultControl::new(config.clone(), seed);
            (1..200)
                .map(|n| control.frame_fault(n).duplicate)
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        let hits = draws(7).iter().filter(|d| **d).count();
        assert!((20..120).contains(&hits), "{hits}");
    }
}
