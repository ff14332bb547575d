//! The live desk: `start(DeskConfig) -> DeskHandle`.
//!
//! # Using the handle (the TUI, scripts, tests)
//!
//! ```text
//! let desk = runtime::desk::start(config).await?;     // reconciled, maybe HALTED, never armed
//! desk.kill("operator hotkey");                        // sync, never blocks: the kill switch
//! desk.send(Command::Arm { ticker }).await?;           // operator commands (priority lane)
//! desk.subscribe_market(ticker).await?;                // live watchlist (also unsubscribe_market)
//! let snapshot = desk.snapshot();                      // Arc<DeskSnapshot>, newest
//! let mut snaps = desk.watch_snapshots();              // watch::Receiver<Arc<DeskSnapshot>>
//! let mut audits = desk.subscribe_audits();            // broadcast::Receiver<AuditEvent>
//! desk.startup()                                       // &StartupReport: orphans, kept orders, halt
//! desk.shutdown().await                                // cancels nothing; stops the tasks
//! ```
//!
//! * `kill(reason)` is the one function behind the hotkey, the control socket and `on_ui_exit`:
//!   it sets the shared [`HaltFlag`] itself (the gateway refuses every new non-cancel write from
//!   that instant and drops queued ones), then queues `Command::Kill` on an unbounded lane the
//!   engine task reads before anything else. The engine disarms every market; the desk then
//!   runs `runtime::kill::execute_kill` (the same executor `kdesk kill` uses): exchange
//!   cancel-all, batch cancel of every known open order, the order-group trigger, then sweeps
//!   (reads resting orders from the exchange, cancels what is left) until flat as DESIGN.md §5
//!   defines it, and reports the time to flat in `snapshot.kill` and the journal.
//! * `send(command)` queues any [`Command`] (arm, pause, resume, disarm, override, reducing,
//!   set strategy/limits, manual orders, cancel, confirmations, reset, flatten). Refusals come
//!   back as `AuditKind::CommandRefused` / `OrderRefused` on the audit stream.
//! * Snapshots are conflated: at most one every `DeskTiming::snapshot_every_ms`, only when
//!   something changed; `last_audit_seq` says which audits they include.
//! * The audit stream is the engine's ordered `AuditEvent`s (seq strictly increasing from 1).
//!   A receiver that falls more than `AUDIT_BUFFER` behind gets `RecvError::Lagged`: rebuild
//!   from the next snapshot and carry on.
//! * Health (feed lag p50/p99, reconnects, resyncs, rejects, rate-limit budget, clock offset)
//!   and kill progress (phase, cancels pending → 0, time to flat) are in every snapshot.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use crate::core::engine::{AuditEvent, Command, EngineConfig};
use crate::core::market::Ticker;
use crate::core::strategy::StrategyParams;
use crate::kalshi::auth::Signer;
use crate::kalshi::ratelimit::{LimiterConfig, RateLimiter, SystemClock};
use crate::kalshi::rest::{RestClient, RestConfig};
use crate::runtime::control_socket;
use crate::runtime::engine_task::{self, EngineTaskParts, WatchChange, WatchRequest};
use crate::runtime::gateway::{self, GatewayStats};
use crate::runtime::kill::{HaltFlag, HaltGate, WriteTracker};
use crate::runtime::lock::{AccountId, DeskLock};
use crate::runtime::paper_executor::{self, PaperExchange, PaperSettings};
use crate::runtime::recording::{Recorder, RecorderConfig};
use crate::runtime::startup::{self, StartupReport};
use crate::store::journal::{self, JournalHandle, Mode};

pub use crate::runtime::snapshot::{
    DeskSnapshot, Health, KillPhase, KillProgress, MarketView, PnlView,
};

/// Operator commands are the engine's commands.
pub type OperatorCommand = Command;

/// Audits a subscriber may fall behind by before it sees `Lagged`.
pub const AUDIT_BUFFER: usize = 65_536;

/// Timers of the desk. Defaults suit a live desk; tests shorten them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskTiming {
    /// Engine `Tick` (ages, holds, sweeps while halted).
    pub tick_ms: u64,
    /// REST reconciliation while running.
    pub reconcile_every_ms: u64,
    /// `GET /exchange/status`.
    pub status_every_ms: u64,
    /// Shortest interval between two published snapshots.
    pub snapshot_every_ms: u64,
    /// Exchange reads while a kill is not yet flat.
    pub sweep_every_ms: u64,
    /// Sweeps before the kill gives up with a loud alarm (reads continue on the slow timer).
    pub max_sweeps: u32,
    /// Consecutive reconciliations with a position drift in one market that halt the desk.
    pub drift_halt_after: u32,
}

impl Default for DeskTiming {
    fn default() -> DeskTiming {
        DeskTiming {
            tick_ms: 100,
            reconcile_every_ms: 30_000,
            status_every_ms: 10_000,
            snapshot_every_ms: 50,
            sweep_every_ms: 250,
            max_sweeps: 40,
            drift_halt_after: 3,
        }
    }
}

/// Everything a desk is started with.
#[derive(Debug, Clone)]
pub struct DeskConfig {
    /// `sim`, `demo` or `prod`: names the lock and the journal.
    pub environment: String,
    /// `…/trade-api/v2`.
    pub rest_base_url: String,
    /// `…/trade-api/ws/v2`.
    pub ws_url: String,
    pub key_id: String,
    pub key_file: PathBuf,
    pub allow_insecure_key_permissions: bool,
    pub subaccount: Option<u32>,
    /// Markets subscribed and shown.
    pub watchlist: Vec<Ticker>,
    /// Strategy per market (set, not armed: nothing arms at start).
    pub strategies: Vec<(Ticker, StrategyParams)>,
    /// `session_nonce` 0 is replaced by a random one.
    pub engine: EngineConfig,
    /// Lock file, control socket and (unless `journal_path` is set) the journal live here.
    /// `None`: no lock, no control socket.
    pub state_dir: Option<PathBuf>,
    /// `None` with a `state_dir`: `<state_dir>/journal-<account>.sqlite`.
    pub journal_path: Option<PathBuf>,
    /// Create an order group for automated orders (the exchange-side kill backstop).
    pub use_order_group: bool,
    pub timing: DeskTiming,
    /// Book levels per side in snapshots.
    pub book_depth: usize,
    /// Seed for the WS reconnect jitter (tests); `None` seeds from the OS.
    pub ws_jitter_seed: Option<u64>,
    /// The key's rate budget until the exchange says otherwise.
    pub limiter: LimiterConfig,
    /// Ask the exchange for the key's real buckets and endpoint costs at start.
    pub refresh_rate_limits: bool,
    /// Markets per orderbook subscription: a sequence gap resyncs (and HOLDs) only the
    /// markets of its subscription.
    pub orderbook_batch_size: usize,
    /// Paper mode: orders fill locally against the live books and never reach the exchange;
    /// journal rows are `Mode::Paper`.
    pub paper: Option<PaperSettings>,
    /// Where the recording toggle writes tapes (`None`: `<state_dir>/tapes`, else `./tapes`).
    pub tape_dir: Option<PathBuf>,
}

impl DeskConfig {
    /// A desk on `rest_base_url`/`ws_url` with the given key and defaults elsewhere.
    pub fn new(
        environment: &str,
        rest_base_url: &str,
        ws_url: &str,
        key_id: &str,
        key_file: PathBuf,
    ) -> DeskConfig {
        DeskConfig {
            environment: environment.to_string(),
            rest_base_url: rest_base_url.to_string(),
            ws_url: ws_url.to_string(),
            key_id: key_id.to_string(),
            key_file,
            allow_insecure_key_permissions: false,
            subaccount: None,
            watchlist: Vec::new(),
            strategies: Vec::new(),
            engine: EngineConfig::default(),
            state_dir: None,
            journal_path: None,
            use_order_group: true,
            timing: DeskTiming::default(),
            book_depth: 10,
            ws_jitter_seed: None,
            limiter: LimiterConfig::default(),
            refresh_rate_limits: true,
            orderbook_batch_size: 25,
            paper: None,
            tape_dir: None,
        }
    }

    /// `Mode::Paper` for a paper desk.
    pub fn journal_mode(&self) -> Mode {
        if self.paper.is_some() {
            Mode::Paper
        } else {
            Mode::Live
        }
    }

    pub fn account(&self) -> AccountId {
        AccountId {
            environment: self.environment.clone(),
            key_id: self.key_id.clone(),
            subaccount: self.subaccount.unwrap_or(0),
        }
    }

    fn journal_file(&self) -> Option<PathBuf> {
        self.journal_path.clone().or_else(|| {
            self.state_dir
                .as_ref()
                .map(|dir| dir.join(format!("journal-{}.sqlite", self.account().slug())))
        })
    }
}

/// Why the desk could not start or take a command.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("key: {0}")]
    Key(#[from] crate::kalshi::auth::AuthError),
    #[error("REST client: {0}")]
    Rest(#[from] crate::kalshi::rest::RestError),
    #[error(transparent)]
    Lock(#[from] crate::runtime::lock::LockError),
    #[error("journal: {0}")]
    Journal(#[from] crate::store::journal::JournalError),
    #[error(transparent)]
    Control(#[from] crate::runtime::control_socket::ControlError),
    #[error("start-up reconciliation failed, nothing was armed: {0}")]
    Reconcile(String),
    #[error("the desk has stopped")]
    Stopped,
    #[error("no snapshot within {0:?} showed what was waited for")]
    WaitTimedOut(std::time::Duration),
    #[error("watchlist: {0}")]
    Watchlist(String),
}

/// Adds markets to and removes them from a running desk's watchlist. Cheap to clone, so a UI
/// can hand it to a task and not wait on the exchange itself.
#[derive(Debug, Clone)]
pub struct WatchlistControl {
    requests: mpsc::Sender<WatchRequest>,
}

impl WatchlistControl {
    async fn change(&self, ticker: Ticker, change: WatchChange) -> Result<(), DeskError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.requests
            .send(WatchRequest {
                ticker,
                change,
                reply,
            })
            .await
            .map_err(|_| DeskError::Stopped)?;
        answer
            .await
            .map_err(|_| DeskError::Stopped)?
            .map_err(DeskError::Watchlist)
    }

    /// Watch `ticker` from now on: its details are read (`GET /markets/{ticker}`) and given to
    /// the engine, its book, ticker and trades are subscribed, and snapshots show it. Returns
    /// once the subscription is asked for; an unknown market is an error.
    pub async fn subscribe(&self, ticker: Ticker) -> Result<(), DeskError> {
        self.change(ticker, WatchChange::Add).await
    }

    /// Stop watching `ticker`: a strategy armed on it is disarmed (its quotes cancelled), the
    /// feed is unsubscribed, and snapshots drop its row unless it still holds a position or a
    /// strategy. Manual orders stay.
    pub async fn unsubscribe(&self, ticker: Ticker) -> Result<(), DeskError> {
        self.change(ticker, WatchChange::Remove).await
    }
}

/// A running desk. Dropping it without `shutdown` leaves the tasks running until the runtime
/// ends.
pub struct DeskHandle {
    commands: mpsc::Sender<Command>,
    watchlist: WatchlistControl,
    kills: mpsc::UnboundedSender<String>,
    halt: HaltFlag,
    snapshots: watch::Receiver<Arc<DeskSnapshot>>,
    audits: broadcast::Sender<AuditEvent>,
    startup: StartupReport,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    control_socket: Option<JoinHandle<()>>,
    journal: Option<(JournalHandle, std::thread::JoinHandle<()>)>,
    gateway_stats: Arc<GatewayStats>,
    rest: RestClient,
    order_group_id: Option<String>,
    recorder: Arc<Recorder>,
    paper: Option<PaperExchange>,
    ws_stats: Arc<crate::kalshi::ws::WsStats>,
    _lock: Option<DeskLock>,
}

impl std::fmt::Debug for DeskHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeskHandle")
            .field("halted", &self.halt.is_halted())
            .field("startup", &self.startup)
            .finish_non_exhaustive()
    }
}

impl DeskHandle {
    /// The kill switch. Never blocks and never fails: the flag is set before this returns.
    pub fn kill(&self, reason: &str) {
        self.halt.halt();
        let _ = self.kills.send(reason.to_string());
    }

    /// Queue an operator command for the engine (ahead of market data).
    pub async fn send(&self, command: Command) -> Result<(), DeskError> {
        if let Command::Kill { reason } = &command {
            self.kill(reason);
            return Ok(());
        }
        self.commands
            .send(command)
            .await
            .map_err(|_| DeskError::Stopped)
    }

    /// The sender for operator commands (for a UI loop that owns its own copy).
    pub fn commands(&self) -> mpsc::Sender<Command> {
        self.commands.clone()
    }

    /// Add a market to the watchlist while running; see [`WatchlistControl::subscribe`].
    pub async fn subscribe_market(&self, ticker: Ticker) -> Result<(), DeskError> {
        self.watchlist.subscribe(ticker).await
    }

    /// Take a market off the watchlist; see [`WatchlistControl::unsubscribe`].
    pub async fn unsubscribe_market(&self, ticker: Ticker) -> Result<(), DeskError> {
        self.watchlist.unsubscribe(ticker).await
    }

    /// The watchlist control, for a UI loop that owns its own copy.
    pub fn watchlist(&self) -> WatchlistControl {
        self.watchlist.clone()
    }

    /// The newest snapshot.
    pub fn snapshot(&self) -> Arc<DeskSnapshot> {
        self.snapshots.borrow().clone()
    }

    pub fn watch_snapshots(&self) -> watch::Receiver<Arc<DeskSnapshot>> {
        self.snapshots.clone()
    }

    /// The first snapshot (the current one included) for which `ok` holds, waiting at most
    /// `within`: scripts, soaks and tests wait on the desk's state instead of sleeping.
    pub async fn wait_for_snapshot(
        &self,
        within: std::time::Duration,
        ok: impl Fn(&DeskSnapshot) -> bool,
    ) -> Result<Arc<DeskSnapshot>, DeskError> {
        let mut snapshots = self.watch_snapshots();
        let found = tokio::time::timeout(within, async {
            loop {
                let snapshot = snapshots.borrow_and_update().clone();
                if ok(&snapshot) {
                    return Ok(snapshot);
                }
                if snapshots.changed().await.is_err() {
                    return Err(DeskError::Stopped);
                }
            }
        })
        .await;
        found.unwrap_or(Err(DeskError::WaitTimedOut(within)))
    }

    /// The ordered audit stream from now on.
    pub fn subscribe_audits(&self) -> broadcast::Receiver<AuditEvent> {
        self.audits.subscribe()
    }

    pub fn halt_flag(&self) -> HaltFlag {
        self.halt.clone()
    }

    pub fn is_halted(&self) -> bool {
        self.halt.is_halted()
    }

    /// What start-up reconciliation found.
    pub fn startup(&self) -> &StartupReport {
        &self.startup
    }

    /// The desk's order group at the exchange, if it made one.
    pub fn order_group_id(&self) -> Option<&str> {
        self.order_group_id.as_deref()
    }

    /// The REST client (shared limiter and latency counters), for the health panel.
    pub fn rest(&self) -> &RestClient {
        &self.rest
    }

    /// The recording toggle (the desk's own feed into a tape).
    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    /// The websocket client's live counters (frames, gaps, resyncs, reconnects).
    pub fn ws_stats(&self) -> &Arc<crate::kalshi::ws::WsStats> {
        &self.ws_stats
    }

    /// The local exchange of a paper desk (`None` when live).
    pub fn paper(&self) -> Option<&PaperExchange> {
        self.paper.as_ref()
    }

    /// Writes sent and answered so far.
    pub fn writes_sent(&self) -> u64 {
        self.gateway_stats.sent()
    }

    /// Stop every task, flush the journal. Resting orders stay (quotes carry a TTL and
    /// `cancel_order_on_pause`); a desk that must leave nothing behind kills first.
    pub async fn shutdown(mut self) {
        if self.recorder.is_recording()
            && let Err(error) = self.recorder.stop().await
        {
            tracing::warn!(%error, "the recording did not finish cleanly");
        }
        let _ = self.shutdown.send(true);
        if let Some(socket) = self.control_socket.take() {
            socket.abort();
        }
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        if let Some((journal, thread)) = self.journal.take() {
            let _ = tokio::task::spawn_blocking(move || {
                let _ = journal.flush_blocking();
                drop(journal);
                let _ = thread.join();
            })
            .await;
        }
    }
}

/// Start a desk: lock, journal, REST, start-up reconciliation (orphans cancelled, operator
/// orders kept, HALTED again if the journal says the last run ended halted), then the engine
/// task, gateway, WS intake, reconciler and control socket.
pub async fn start(mut config: DeskConfig) -> Result<DeskHandle, DeskError> {
    let account = config.account();
    let lock = match &config.state_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| crate::runtime::lock::LockError::Io {
                path: dir.clone(),
                reason: e.to_string(),
            })?;
            Some(DeskLock::acquire(dir, &account)?)
        }
        None => None,
    };
    let journal_file = config.journal_file();
    let (last_halt, journaled_fills) = match &journal_file {
        Some(path) => {
            let journal = journal::Journal::open(path)?;
            let mode = config.journal_mode();
            let fills = journal.events_of_kind("fill", mode)?;
            (journal.last_halt(mode)?, fills)
        }
        None => (None, Vec::new()),
    };
    let last_journaled_fill_ms = journaled_fills.iter().map(|row| row.ts_ms).max();
    let journaled_trades: std::collections::HashSet<String> = journaled_fills
        .into_iter()
        .filter_map(|row| row.trade_id)
        .collect();
    let journal = match &journal_file {
        Some(path) => Some(journal::spawn_writer(path, 65_536)?),
        None => None,
    };

    let signer = Signer::from_key_file(
        config.key_id.clone(),
        &config.key_file,
        config.allow_insecure_key_permissions,
    )?;
    let limiter = Arc::new(RateLimiter::new(
        Arc::new(SystemClock),
        config.limiter.clone(),
    ));
    let rest = RestClient::with_limiter(
        RestConfig::new(config.rest_base_url.clone()),
        Some(signer.clone()),
        limiter,
    )?;
    if config.refresh_rate_limits
        && let Err(error) = rest.refresh_rate_limits().await
    {
        tracing::warn!(%error, "keeping the configured rate budget");
    }
    if config.engine.session_nonce == 0 {
        config.engine.session_nonce = rand::random::<u32>().max(1);
    }

    let paper = config.paper.as_ref().map(|_| PaperExchange::new());
    let startup = match (&config.paper, &paper) {
        (Some(settings), Some(exchange)) => {
            // No order group: nothing of a paper desk rests at the exchange.
            config.use_order_group = false;
            paper_executor::prepare(&rest, &config, settings, exchange, last_halt.as_ref()).await
        }
        _ => startup::prepare(&rest, &config, last_halt.as_ref(), last_journaled_fill_ms).await,
    }
    .map_err(DeskError::Reconcile)?;
    let (paper_executor, paper_link) = match (&paper, &config.paper) {
        (Some(exchange), Some(settings)) => {
            let (executor, link) = paper_executor::link(exchange, settings);
            (Some(executor), Some(link))
        }
        _ => (None, None),
    };
    config.engine.order_group_id = startup.order_group_id.clone();

    let halt = HaltFlag::new();
    if startup.started_halted.is_some() {
        // Halted from the first instant: nothing but cancels leaves before the engine knows.
        halt.halt();
    }
    // The REST client's last look before every new order and amend: whatever waited (in the
    // gateway's queue, for tokens, for a retry) is not sent once the flag is up.
    let writes = WriteTracker::new();
    rest.set_write_gate(Arc::new(HaltGate {
        halt: halt.clone(),
        writes: writes.clone(),
    }));
    let (command_tx, command_rx) = mpsc::channel(1024);
    let (kill_tx, kill_rx) = mpsc::unbounded_channel();
    let (snapshot_tx, snapshot_rx) = watch::channel(Arc::new(DeskSnapshot::empty()));
    let (audit_tx, _) = broadcast::channel(AUDIT_BUFFER);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (intent_tx, intent_rx) = mpsc::unbounded_channel();
    let (result_tx, result_rx) = mpsc::unbounded_channel();
    let gateway_stats = Arc::new(GatewayStats::default());

    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(gateway::run(gateway::GatewayParts {
        rest: rest.clone(),
        intents: intent_rx,
        results: result_tx,
        halt: halt.clone(),
        subaccount: config.subaccount,
        order_group_id: startup.order_group_id.clone(),
        stats: gateway_stats.clone(),
        shutdown: shutdown_rx.clone(),
        paper: paper_executor,
    })));

    let (control_tx, control_rx) = mpsc::channel(16);
    let (watch_tx, watch_rx) = mpsc::channel(64);
    let control_socket = match &lock {
        Some(lock) => Some(control_socket::serve(lock.socket_path(), control_tx)?),
        None => None,
    };

    let tee = crate::kalshi::ws::FrameTee::new();
    let ws = crate::kalshi::ws::WsClient::spawn({
        let mut ws = crate::kalshi::ws::WsConfig::new(config.ws_url.clone(), signer);
        ws.markets = config.watchlist.clone();
        ws.jitter_seed = config.ws_jitter_seed;
        ws.orderbook_batch_size = config.orderbook_batch_size.max(1);
        ws.tee = tee.clone();
        if config.paper.is_some() {
            // The real account's fills and orders are not the paper account's.
            ws.channels = crate::runtime::recording::MARKET_CHANNELS.to_vec();
        }
        ws
    });
    let ws_stats = ws.stats.clone();
    let recorder = Arc::new(Recorder::new(RecorderConfig {
        tee,
        ws: ws.handle.clone(),
        rest: rest.clone(),
        environment: config.environment.clone(),
        markets: config.watchlist.clone(),
        dir: config.tape_dir.clone().unwrap_or_else(|| {
            config
                .state_dir
                .as_ref()
                .map_or_else(|| PathBuf::from("tapes"), |dir| dir.join("tapes"))
        }),
    }));

    tasks.push(tokio::spawn(engine_task::run(EngineTaskParts {
        config: config.clone(),
        startup: startup.clone(),
        rest: rest.clone(),
        ws,
        commands: command_rx,
        kills: kill_rx,
        control: control_rx,
        watch: watch_rx,
        intents: intent_tx,
        results: result_rx,
        halt: halt.clone(),
        writes,
        journaled_trades,
        snapshots: snapshot_tx,
        audits: audit_tx.clone(),
        journal: journal.as_ref().map(|(handle, _)| handle.clone()),
        gateway: gateway_stats.clone(),
        shutdown: shutdown_rx,
        paper: paper_link,
    })));

    Ok(DeskHandle {
        commands: command_tx,
        watchlist: WatchlistControl { requests: watch_tx },
        kills: kill_tx,
        halt,
        snapshots: snapshot_rx,
        audits: audit_tx,
        order_group_id: startup.order_group_id.clone(),
        startup,
        shutdown: shutdown_tx,
        tasks,
        control_socket,
        journal,
        gateway_stats,
        rest,
        recorder,
        paper,
        ws_stats,
        _lock: lock,
    })
}
