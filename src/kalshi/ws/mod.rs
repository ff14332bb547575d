//! The Kalshi websocket client (DIGEST 7): a signed upgrade on `/trade-api/ws/v2` carrying only
//! the three auth headers, subscriptions with command ids, per-`sid` sequence checks, resync of
//! just the books a gap touched, a reader that never waits on a slow consumer, and reconnects
//! with backoff that resubscribe everything and ask the consumer to reconcile.
//!
//! Output is two bounded queues. `private` carries fills, user orders, positions and order-group
//! updates and never drops. `market` carries book, ticker, trade and lifecycle messages plus the
//! control events, in order; when it is full, market data is dropped (and the books it touched
//! are resynced) while control events wait in a small backlog, so the socket is always read.

mod backoff;
mod outbox;
mod seq;
mod session;
mod subs;
mod tee;

pub use crate::kalshi::wire::Channel;
pub use backoff::Backoff;
pub use seq::{BookCheck, MarketCheck, SeqCheck, SeqTracker};
pub use session::ConnectError;
pub use tee::{FrameTee, TeeEvent};

use crate::core::book::PriceConvention;
use crate::core::market::Ticker;
use crate::kalshi::auth::Signer;
use crate::kalshi::wire::{
    EventFeeUpdate, EventLifecycle, MarketLifecycle, OrderGroupUpdate, OrderbookDelta,
    OrderbookSnapshot, SubscriptionInfo, UserOrder, WsFill, WsMarketPosition, WsTicker, WsTrade,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The websocket path Kalshi serves and the upgrade request signs.
pub const WS_PATH: &str = "/trade-api/ws/v2";

/// The channels a desk subscribes to by default (DIGEST 7.3).
pub const DEFAULT_CHANNELS: [Channel; 8] = [
    Channel::OrderbookDelta,
    Channel::Ticker,
    Channel::Trade,
    Channel::Fill,
    Channel::UserOrders,
    Channel::MarketPositions,
    Channel::OrderGroupUpdates,
    Channel::MarketLifecycleV2,
];

/// Subscribed per market (the watchlist); the others are subscribed whole: a desk wants every
/// fill and order update of the account, and lifecycle takes no filter.
fn per_market(channel: Channel) -> bool {
    matches!(
        channel,
        Channel::OrderbookDelta | Channel::Ticker | Channel::Trade
    )
}

/// Messages of this channel carry `seq`.
fn sequenced(channel: Channel) -> bool {
    matches!(
        channel,
        Channel::OrderbookDelta | Channel::OrderGroupUpdates
    )
}

/// The account's own streams, which must be reconciled over REST after a (re)connect.
fn account_stream(channel: Channel) -> bool {
    matches!(
        channel,
        Channel::Fill | Channel::UserOrders | Channel::MarketPositions | Channel::OrderGroupUpdates
    )
}

/// Everything the client needs. `WsConfig::new` fills sensible defaults.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// `wss://…/trade-api/ws/v2` (or `ws://127.0.0.1:…` for the simulator).
    pub url: String,
    pub signer: Signer,
    /// Markets watched at start (orderbook, ticker and trade channels).
    pub markets: Vec<Ticker>,
    pub channels: Vec<Channel>,
    /// Markets per orderbook subscription: a gap resyncs only the books of one subscription.
    pub orderbook_batch_size: usize,
    pub market_queue: usize,
    pub private_queue: usize,
    /// Private events held while the private queue is full before the reader finally waits.
    pub private_backlog_limit: usize,
    pub command_queue: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Seed for the reconnect jitter; None seeds from the OS.
    pub jitter_seed: Option<u64>,
    /// Sent explicitly on every orderbook subscription (Kalshi will flip the default).
    pub use_yes_price: bool,
    pub connect_timeout: Duration,
    /// Client pings this often (the server pings every 10 s on its own).
    pub ping_interval: Duration,
    /// No frame at all for this long means the connection is dead.
    pub idle_timeout: Duration,
    /// A snapshot (or subscription) that has not arrived by then is retried by resubscribing.
    pub resync_timeout: Duration,
    /// Largest frame accepted.
    pub max_frame_bytes: usize,
    /// Raw frames, connection events and gaps for a recorder (off until it starts).
    pub tee: FrameTee,
}

impl WsConfig {
    pub fn new(url: impl Into<String>, signer: Signer) -> WsConfig {
        WsConfig {
            url: url.into(),
            signer,
            markets: Vec::new(),
            channels: DEFAULT_CHANNELS.to_vec(),
            orderbook_batch_size: 25,
            market_queue: 65_536,
            private_queue: 4_096,
            private_backlog_limit: 65_536,
            command_queue: 256,
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            jitter_seed: None,
            use_yes_price: true,
            connect_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            resync_timeout: Duration::from_secs(10),
            max_frame_bytes: 16 << 20,
            tee: FrameTee::new(),
        }
    }
}

/// Why books are being rebuilt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResyncCause {
    /// `seq` jumped from `expected` to `got` on subscription `sid`.
    Gap { sid: u64, expected: u64, got: u64 },
    /// The market queue was full and messages for these books were dropped.
    Overflow,
    /// The consumer found a book inconsistent.
    Requested,
    /// The exchange ended the subscription (terminal error 10, 17 or 25, or an unsolicited
    /// `unsubscribed`, reported as code 0) or refused a snapshot request.
    ErrorFrame { code: u32 },
    /// A snapshot or subscription did not arrive within `resync_timeout`.
    Timeout,
    /// A new connection: every book starts from a fresh snapshot.
    Reconnect,
}

/// A book message whose `sid`/`seq` the client checked: a snapshot replaces the book, a delta
/// applies to a book that is whole (deltas of books waiting for a snapshot are held back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookUpdate {
    Snapshot(OrderbookSnapshot),
    Delta(OrderbookDelta),
}

impl BookUpdate {
    pub fn ticker(&self) -> &Ticker {
        match self {
            BookUpdate::Snapshot(snapshot) => &snapshot.market_ticker,
            BookUpdate::Delta(delta) => &delta.market_ticker,
        }
    }
}

/// Market data and connection events, in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketEvent {
    Book {
        sid: u64,
        seq: u64,
        /// How NO levels are priced (the `use_yes_price` this client subscribed with).
        convention: PriceConvention,
        update: BookUpdate,
    },
    Ticker(WsTicker),
    Trade(WsTrade),
    /// `market_lifecycle_v2` or `multivariate_market_lifecycle`.
    MarketLifecycle(Box<MarketLifecycle>),
    EventLifecycle(EventLifecycle),
    EventFeeUpdate(EventFeeUpdate),
    Connected {
        connection: u64,
    },
    Disconnected {
        reason: String,
    },
    /// These books are stale until their snapshot (and `ResyncDone`) arrives.
    ResyncStarted {
        tickers: Vec<Ticker>,
        cause: ResyncCause,
    },
    ResyncDone {
        ticker: Ticker,
    },
    /// Messages for these markets were dropped because the consumer fell behind; their books are
    /// resynced once the queue drains.
    MarketDataDropped {
        tickers: Vec<Ticker>,
    },
    ErrorFrame {
        code: u32,
        message: String,
        id: Option<u64>,
        sid: Option<u64>,
        market_ticker: Option<Ticker>,
    },
    /// Reply to `WsCommand::ListSubscriptions`.
    Subscriptions {
        listed: Vec<SubscriptionInfo>,
    },
}

/// Account events; never dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum PrivateEvent {
    Fill(WsFill),
    UserOrder(UserOrder),
    MarketPosition(WsMarketPosition),
    OrderGroupUpdate {
        sid: u64,
        seq: u64,
        update: OrderGroupUpdate,
    },
    /// The private streams (re)started on connection `connection`, or lost messages: orders,
    /// fills and positions must be read over REST. Sent once the private subscriptions of a new
    /// connection are confirmed, so REST reads after it cover the gap.
    ReconciliationNeeded {
        connection: u64,
        reason: String,
    },
}

/// What the consumer can ask of a running client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsCommand {
    /// These books are inconsistent: fetch fresh snapshots.
    Resync(Vec<Ticker>),
    AddMarkets(Vec<Ticker>),
    RemoveMarkets(Vec<Ticker>),
    ListSubscriptions,
    Shutdown,
}

/// Counters the health panel reads; all monotonic except `connected` and `last_lag_ms`.
#[derive(Debug, Default)]
pub struct WsStats {
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    pub malformed: AtomicU64,
    pub unknown_types: AtomicU64,
    pub gaps: AtomicU64,
    pub resyncs: AtomicU64,
    pub resubscribes: AtomicU64,
    pub reconnects: AtomicU64,
    pub market_dropped: AtomicU64,
    pub error_frames: AtomicU64,
    pub pings: AtomicU64,
    /// Frames of subscriptions no longer tracked, or for markets a subscription does not carry.
    pub stray_frames: AtomicU64,
    pub connected: AtomicBool,
    /// Receive wall time minus the message's `ts_ms`, for the latest message that had one.
    pub last_lag_ms: AtomicI64,
}

/// A plain copy of `WsStats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WsStatsSnapshot {
    pub frames: u64,
    pub bytes: u64,
    pub malformed: u64,
    pub unknown_types: u64,
    pub gaps: u64,
    pub resyncs: u64,
    pub resubscribes: u64,
    pub reconnects: u64,
    pub market_dropped: u64,
    pub error_frames: u64,
    pub pings: u64,
    pub stray_frames: u64,
    pub connected: bool,
    pub last_lag_ms: i64,
}

impl WsStats {
    pub fn snapshot(&self) -> WsStatsSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WsStatsSnapshot {
            frames: get(&self.frames),
            bytes: get(&self.bytes),
            malformed: get(&self.malformed),
            unknown_types: get(&self.unknown_types),
            gaps: get(&self.gaps),
            resyncs: get(&self.resyncs),
            resubscribes: get(&self.resubscribes),
            reconnects: get(&self.reconnects),
            market_dropped: get(&self.market_dropped),
            error_frames: get(&self.error_frames),
            pings: get(&self.pings),
            stray_frames: get(&self.stray_frames),
            connected: self.connected.load(Ordering::Relaxed),
            last_lag_ms: self.last_lag_ms.load(Ordering::Relaxed),
        }
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends commands to a running client. Dropping every handle stops the client.
#[derive(Debug, Clone)]
pub struct WsHandle {
    commands: mpsc::Sender<WsCommand>,
}

/// The client has stopped.
#[derive(Debug, thiserror::Error)]
#[error("the websocket client has stopped")]
pub struct ClientStopped;

impl WsHandle {
    pub async fn send(&self, command: WsCommand) -> Result<(), ClientStopped> {
        self.commands.send(command).await.map_err(|_| ClientStopped)
    }

    pub async fn resync(&self, tickers: Vec<Ticker>) -> Result<(), ClientStopped> {
        self.send(WsCommand::Resync(tickers)).await
    }

    pub async fn add_markets(&self, tickers: Vec<Ticker>) -> Result<(), ClientStopped> {
        self.send(WsCommand::AddMarkets(tickers)).await
    }

    pub async fn remove_markets(&self, tickers: Vec<Ticker>) -> Result<(), ClientStopped> {
        self.send(WsCommand::RemoveMarkets(tickers)).await
    }

    pub async fn list_subscriptions(&self) -> Result<(), ClientStopped> {
        self.send(WsCommand::ListSubscriptions).await
    }

    pub async fn shutdown(&self) -> Result<(), ClientStopped> {
        self.send(WsCommand::Shutdown).await
    }
}

/// A running client: its command handle, its two output queues and its counters.
#[derive(Debug)]
pub struct WsClient {
    pub handle: WsHandle,
    pub market: mpsc::Receiver<MarketEvent>,
    pub private: mpsc::Receiver<PrivateEvent>,
    pub stats: Arc<WsStats>,
    pub task: JoinHandle<()>,
}

impl WsClient {
    /// Start the client on the current tokio runtime. It connects, subscribes and keeps doing so
    /// until `WsCommand::Shutdown` (or every handle is dropped).
    pub fn spawn(config: WsConfig) -> WsClient {
        let (command_tx, command_rx) = mpsc::channel(config.command_queue.max(1));
        let (market_tx, market_rx) = mpsc::channel(config.market_queue.max(1));
        let (private_tx, private_rx) = mpsc::channel(config.private_queue.max(1));
        let stats = Arc::new(WsStats::default());
        let task = tokio::spawn(session::run(
            config,
            command_rx,
            outbox::Outbox::new(market_tx, private_tx),
            Arc::clone(&stats),
        ));
        WsClient {
            handle: WsHandle {
                commands: command_tx,
            },
            market: market_rx,
            private: private_rx,
            stats,
            task,
        }
    }
}
