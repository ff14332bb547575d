//! Connection management: connect with the signed upgrade, run one connection until it ends,
//! reconnect with backoff. One task owns all state; a small writer task owns the socket's sink
//! so a slow send never stalls reading.

use super::backoff::Backoff;
use super::outbox::{Delivery, Outbox};
use super::seq::{MarketCheck, SeqCheck, SeqTracker};
use super::subs::{Registry, SpecId, SubChange};
use super::{
    BookUpdate, Channel, MarketEvent, PrivateEvent, ResyncCause, TeeEvent, WsCommand, WsConfig,
    WsStats, account_stream, sequenced,
};
use crate::core::book::PriceConvention;
use crate::core::market::Ticker;
use crate::kalshi::wire::{
    Command, ServerFrame, ServerMsg, SubscribeParams, UpdateAction, decode_server_frame,
};
use crate::runtime::clock;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("bad websocket url {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("auth header {0} is not a valid header value")]
    Header(&'static str),
    #[error("no websocket handshake within {0:?}")]
    Timeout(Duration),
    #[error("websocket handshake failed: {0}")]
    Handshake(Box<tungstenite::Error>),
}

/// Open the socket: the upgrade carries exactly the three signed headers (no Origin, which
/// Kalshi's CDN refuses, DIGEST 12.1), signed over `ts + GET + path`.
async fn connect(config: &WsConfig) -> Result<Socket, ConnectError> {
    let mut request =
        config
            .url
            .as_str()
            .into_client_request()
            .map_err(|err| ConnectError::Url {
                url: config.url.clone(),
                reason: err.to_string(),
            })?;
    let path = request.uri().path().to_owned();
    let auth = config.signer.sign(clock::wall_ms(), "GET", &path);
    for (name, value) in auth.pairs() {
        let header =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| ConnectError::Header(name))?;
        let value = HeaderValue::from_str(value).map_err(|_| ConnectError::Header(name))?;
        request.headers_mut().insert(header, value);
    }
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(config.max_frame_bytes))
        .max_frame_size(Some(config.max_frame_bytes));
    let handshake = tokio_tungstenite::connect_async_with_config(request, Some(ws_config), true);
    match tokio::time::timeout(config.connect_timeout, handshake).await {
        Err(_) => Err(ConnectError::Timeout(config.connect_timeout)),
        Ok(Err(err)) => Err(ConnectError::Handshake(Box::new(err))),
        Ok(Ok((socket, _response))) => Ok(socket),
    }
}

/// How a connection ended.
enum End {
    Shutdown,
    Dropped(String),
}

/// The client task: connect, run, back off, repeat, until shut down.
pub(super) async fn run(
    config: WsConfig,
    mut commands: mpsc::Receiver<WsCommand>,
    mut outbox: Outbox,
    stats: Arc<WsStats>,
) {
    let mut registry = Registry::new(
        &config.channels,
        &config.markets,
        config.orderbook_batch_size,
    );
    let mut backoff = Backoff::new(config.backoff_min, config.backoff_max, config.jitter_seed);
    let mut next_id: u64 = 1;
    let mut connection: u64 = 0;
    let mut announced_down = false;
    loop {
        let attempt = offline(
            connect(&config),
            &mut commands,
            &mut outbox,
            &mut registry,
            &config,
        );
        let Some(attempt) = attempt.await else {
            return;
        };
        match attempt {
            Ok(socket) => {
                connection += 1;
                stats.connected.store(true, Ordering::Relaxed);
                tracing::info!(connection, url = %config.url, "websocket connected");
                let session = Session {
                    config: &config,
                    registry: &mut registry,
                    next_id: &mut next_id,
                    connection,
                    outbox: &mut outbox,
                    stats: &stats,
                    backoff: &mut backoff,
                    tracker: SeqTracker::new(),
                    pending: HashMap::new(),
                    writer: None,
                    deferred: BTreeMap::new(),
                    resyncing: HashSet::new(),
                    deadlines: HashMap::new(),
                    reconcile: Some(if connection == 1 {
                        "connected".to_owned()
                    } else {
                        "reconnected: private events may have been missed".to_owned()
                    }),
                    last_frame: clock::instant(),
                    last_ping: clock::instant(),
                };
                let end = session.run(socket, &mut commands).await;
                registry.forget_sids();
                stats.connected.store(false, Ordering::Relaxed);
                match end {
                    End::Shutdown => {
                        tracing::info!("websocket client shut down");
                        return;
                    }
                    End::Dropped(reason) => {
                        tracing::warn!(connection, %reason, "websocket connection lost");
                        config.tee.tap(|| TeeEvent::Disconnected {
                            rx_ms: clock::wall_ms(),
                            connection,
                            reason: reason.clone(),
                        });
                        WsStats::bump(&stats.reconnects);
                        announced_down = true;
                        outbox.control(MarketEvent::Disconnected { reason });
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, url = %config.url, "websocket connect failed");
                if !announced_down {
                    announced_down = true;
                    outbox.control(MarketEvent::Disconnected {
                        reason: err.to_string(),
                    });
                }
            }
        }
        let delay = backoff.next_delay();
        let pause = offline(
            tokio::time::sleep(delay),
            &mut commands,
            &mut outbox,
            &mut registry,
            &config,
        );
        if pause.await.is_none() {
            return;
        }
    }
}

/// Wait for `work` while not connected, still taking commands (market changes apply to the next
/// connection; every book is resynced and every subscription listed anew on connect anyway) and
/// still draining the control backlog. None: shut down.
async fn offline<T>(
    work: impl std::future::Future<Output = T>,
    commands: &mut mpsc::Receiver<WsCommand>,
    outbox: &mut Outbox,
    registry: &mut Registry,
    config: &WsConfig,
) -> Option<T> {
    tokio::pin!(work);
    loop {
        let market_tx = outbox.market_sender();
        let congested = outbox.market_congested();
        tokio::select! {
            done = &mut work => return Some(done),
            permit = market_tx.reserve_owned(), if congested => {
                if let Ok(permit) = permit {
                    outbox.flush_market(permit);
                }
            }
            command = commands.recv() => match command {
                None | Some(WsCommand::Shutdown) => return None,
                Some(WsCommand::AddMarkets(markets)) => {
                    registry.add_markets(&config.channels, &markets);
                }
                Some(WsCommand::RemoveMarkets(markets)) => {
                    registry.remove_markets(&markets);
                }
                Some(WsCommand::Resync(_) | WsCommand::ListSubscriptions) => {}
            }
        }
    }
}

/// An outstanding command, by id.
#[derive(Debug)]
enum Pending {
    Subscribe { spec: SpecId },
    Unsubscribe,
    Snapshot { spec: SpecId, sid: u64 },
    Update,
    List,
}

struct Session<'a> {
    config: &'a WsConfig,
    registry: &'a mut Registry,
    next_id: &'a mut u64,
    connection: u64,
    outbox: &'a mut Outbox,
    stats: &'a WsStats,
    backoff: &'a mut Backoff,
    tracker: SeqTracker,
    pending: HashMap<u64, Pending>,
    writer: Option<mpsc::UnboundedSender<Message>>,
    /// Books waiting for a snapshot request, sent once the market queue has room.
    deferred: BTreeMap<u64, (BTreeSet<Ticker>, ResyncCause)>,
    /// Books with a `ResyncStarted` not yet closed by `ResyncDone`.
    resyncing: HashSet<Ticker>,
    /// When a subscription's confirmation or snapshots are overdue.
    deadlines: HashMap<SpecId, Instant>,
    /// Why the consumer must reconcile, once the account streams are live (again).
    reconcile: Option<String>,
    last_frame: Instant,
    last_ping: Instant,
}

async fn write_loop(
    mut sink: SplitSink<Socket, Message>,
    mut outgoing: mpsc::UnboundedReceiver<Message>,
) -> Result<(), String> {
    while let Some(message) = outgoing.recv().await {
        let closing = matches!(message, Message::Close(_));
        sink.send(message).await.map_err(|err| err.to_string())?;
        if closing {
            break;
        }
    }
    let _ = sink.close().await;
    Ok(())
}

fn excerpt(text: &str) -> &str {
    text.char_indices()
        .nth(200)
        .map_or(text, |(at, _)| &text[..at])
}

impl Session<'_> {
    async fn run(mut self, socket: Socket, commands: &mut mpsc::Receiver<WsCommand>) -> End {
        let (sink, stream) = socket.split();
        let (writer_tx, writer_rx) = mpsc::unbounded_channel();
        self.writer = Some(writer_tx);
        let mut writer = tokio::spawn(write_loop(sink, writer_rx));
        let end = self.serve(stream, commands, &mut writer).await;
        if matches!(end, End::Shutdown) {
            self.write(Message::Close(None));
            self.writer = None;
            let _ = tokio::time::timeout(Duration::from_secs(1), &mut writer).await;
        }
        writer.abort();
        end
    }

    fn housekeeping_interval(&self) -> Duration {
        let quarter = |d: Duration| d / 4;
        Duration::from_secs(1)
            .min(quarter(self.config.resync_timeout))
            .min(quarter(self.config.idle_timeout))
            .min(quarter(self.config.ping_interval))
            .max(Duration::from_millis(5))
    }

    async fn serve(
        &mut self,
        mut stream: futures_util::stream::SplitStream<Socket>,
        commands: &mut mpsc::Receiver<WsCommand>,
        writer: &mut tokio::task::JoinHandle<Result<(), String>>,
    ) -> End {
        let connection = self.connection;
        self.config.tee.tap(|| TeeEvent::Connected {
            rx_ms: clock::wall_ms(),
            connection,
        });
        self.outbox.control(MarketEvent::Connected {
            connection: self.connection,
        });
        if self.connection > 1 {
            let books = self.registry.book_markets();
            if !books.is_empty() {
                self.resyncing.extend(books.iter().cloned());
                self.outbox.control(MarketEvent::ResyncStarted {
                    tickers: books,
                    cause: ResyncCause::Reconnect,
                });
            }
        }
        for spec in self.registry.ids() {
            self.subscribe(spec);
        }
        self.check_confirmed();
        let market_tx = self.outbox.market_sender();
        let private_tx = self.outbox.private_sender();
        let mut housekeeping = tokio::time::interval(self.housekeeping_interval());
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let congested = self.outbox.market_congested();
            let private_waiting = self.outbox.private_backlog_len() > 0;
            tokio::select! {
                incoming = stream.next() => match incoming {
                    Some(Ok(message)) => {
                        if let Some(end) = self.on_message(message) {
                            return end;
                        }
                    }
                    Some(Err(err)) => return End::Dropped(format!("read failed: {err}")),
                    None => return End::Dropped("connection closed".to_owned()),
                },
                command = commands.recv() => match command {
                    None | Some(WsCommand::Shutdown) => return End::Shutdown,
                    Some(command) => self.on_command(command),
                },
                permit = market_tx.clone().reserve_owned(), if congested => {
                    if let Ok(permit) = permit {
                        self.outbox.flush_market(permit);
                    }
                }
                permit = private_tx.clone().reserve_owned(), if private_waiting => {
                    if let Ok(permit) = permit {
                        self.outbox.flush_private(permit);
                    }
                }
                _ = housekeeping.tick() => {
                    if let Some(end) = self.housekeeping() {
                        return end;
                    }
                }
                result = &mut *writer => {
                    let reason = match result {
                        Ok(Ok(())) => "writer stopped".to_owned(),
                        Ok(Err(err)) => format!("write failed: {err}"),
                        Err(err) => format!("writer task failed: {err}"),
                    };
                    return End::Dropped(reason);
                }
            }
            if self.outbox.private_backlog_len() > self.config.private_backlog_limit {
                tracing::warn!(
                    backlog = self.outbox.private_backlog_len(),
                    "private events back up; waiting for the consumer"
                );
                self.outbox.drain_private_waiting().await;
            }
            if !self.outbox.market_congested() {
                self.flush_resyncs();
            }
        }
    }

    fn write(&mut self, message: Message) {
        if let Some(writer) = &self.writer {
            // a closed writer ends the session through its join handle
            let _ = writer.send(message);
        }
    }

    /// Send the command `build` makes with the next id, remembering what it was for.
    fn send(&mut self, build: impl FnOnce(u64) -> Command, pending: Pending) -> u64 {
        let id = *self.next_id;
        *self.next_id += 1;
        let command = build(id);
        tracing::debug!(id, cmd = command.body.cmd_name(), "websocket command");
        self.write(Message::text(command.to_json()));
        self.pending.insert(id, pending);
        id
    }

    fn subscribe(&mut self, spec_id: SpecId) {
        let Some(spec) = self.registry.get(spec_id) else {
            return;
        };
        let mut params = SubscribeParams::new(vec![spec.channel]);
        if let Some(markets) = spec.market_list() {
            params = params.market_tickers(&tickers_as_str(&markets));
        }
        if spec.channel == Channel::OrderbookDelta {
            params = params.use_yes_price(self.config.use_yes_price);
        }
        let id = self.send(
            |id| Command::subscribe(id, params),
            Pending::Subscribe { spec: spec_id },
        );
        if let Some(spec) = self.registry.get_mut(spec_id) {
            spec.subscribe_id = Some(id);
        }
        self.deadlines
            .insert(spec_id, clock::instant() + self.config.resync_timeout);
    }

    /// Drop the subscription and make it again: fresh sid, fresh snapshots.
    fn resubscribe(&mut self, spec_id: SpecId, cause: ResyncCause) {
        let Some(spec) = self.registry.get(spec_id) else {
            return;
        };
        tracing::info!(channel = spec.channel.as_str(), ?cause, "resubscribing");
        WsStats::bump(&self.stats.resubscribes);
        if account_stream(spec.channel) && spec.sid.is_some() {
            self.reconcile = Some(format!(
                "{} resubscribed ({cause:?}): private events may have been missed",
                spec.channel.as_str()
            ));
        }
        if let Some(old_sid) = self.registry.release(spec_id) {
            self.tracker.remove_sid(old_sid);
            self.deferred.remove(&old_sid);
            self.send(
                |id| Command::unsubscribe(id, vec![old_sid]),
                Pending::Unsubscribe,
            );
        }
        if let Some(spec) = self.registry.get(spec_id)
            && spec.channel == Channel::OrderbookDelta
        {
            let tickers = spec.market_list().unwrap_or_default();
            if !tickers.is_empty() {
                WsStats::bump(&self.stats.resyncs);
                self.resyncing.extend(tickers.iter().cloned());
                self.tap_gap(&tickers, &cause);
                self.outbox
                    .control(MarketEvent::ResyncStarted { tickers, cause });
            }
        }
        self.subscribe(spec_id);
    }

    fn request_resync(&mut self, sid: u64, tickers: Vec<Ticker>, cause: ResyncCause) {
        if tickers.is_empty() {
            return;
        }
        self.deferred
            .entry(sid)
            .or_insert_with(|| (BTreeSet::new(), cause))
            .0
            .extend(tickers);
    }

    /// Send the deferred snapshot requests, one `get_snapshot` per subscription.
    fn flush_resyncs(&mut self) {
        if self.deferred.is_empty() {
            return;
        }
        for (sid, (tickers, cause)) in std::mem::take(&mut self.deferred) {
            let Some(spec_id) = self.registry.by_sid(sid) else {
                continue;
            };
            let stale: Vec<Ticker> = tickers
                .into_iter()
                .filter(|ticker| self.tracker.is_awaiting(sid, ticker))
                .collect();
            if stale.is_empty() {
                continue;
            }
            tracing::info!(
                sid,
                markets = stale.len(),
                ?cause,
                "requesting fresh snapshots"
            );
            let markets = tickers_as_str(&stale);
            self.send(
                |id| Command::get_snapshot(id, sid, &markets),
                Pending::Snapshot { spec: spec_id, sid },
            );
            WsStats::bump(&self.stats.resyncs);
            self.deadlines
                .insert(spec_id, clock::instant() + self.config.resync_timeout);
            self.resyncing.extend(stale.iter().cloned());
            self.tap_gap(&stale, &cause);
            self.outbox.control(MarketEvent::ResyncStarted {
                tickers: stale,
                cause,
            });
        }
    }

    /// A recording marks books being rebuilt (a new connection is marked by its own events).
    fn tap_gap(&self, tickers: &[Ticker], cause: &ResyncCause) {
        if *cause == ResyncCause::Reconnect {
            return;
        }
        self.config.tee.tap(|| TeeEvent::Gap {
            rx_ms: clock::wall_ms(),
            connection: self.connection,
            tickers: tickers.to_vec(),
            reason: format!("{cause:?}"),
        });
    }

    /// Once the private subscriptions of this connection are live, the consumer reconciles over
    /// REST. A confirmed subscription also shows the exchange accepts us: backoff starts over
    /// (a subscription it refuses for good must not stretch every later reconnect).
    fn check_confirmed(&mut self) {
        let mut private_live = true;
        let mut any_live = false;
        for (_, spec) in self.registry.specs() {
            let live = spec.sid.is_some();
            any_live |= live;
            if account_stream(spec.channel) {
                private_live &= live;
            }
        }
        if private_live && let Some(reason) = self.reconcile.take() {
            self.outbox.private(PrivateEvent::ReconciliationNeeded {
                connection: self.connection,
                reason,
            });
        }
        if any_live {
            self.backoff.reset();
        }
    }

    fn housekeeping(&mut self) -> Option<End> {
        let now = clock::instant();
        let silent = now.saturating_duration_since(self.last_frame);
        if silent > self.config.idle_timeout {
            return Some(End::Dropped(format!(
                "no frame for {} ms",
                silent.as_millis()
            )));
        }
        if now.saturating_duration_since(self.last_ping) >= self.config.ping_interval {
            self.last_ping = now;
            self.write(Message::Ping(b"kdesk".to_vec().into()));
        }
        let overdue: Vec<SpecId> = self
            .deadlines
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(spec, _)| *spec)
            .collect();
        for spec_id in overdue {
            let Some(spec) = self.registry.get(spec_id) else {
                self.deadlines.remove(&spec_id);
                continue;
            };
            let late = match spec.sid {
                None => true,
                Some(sid) => {
                    spec.channel == Channel::OrderbookDelta
                        && !self.tracker.awaiting(sid).is_empty()
                        // books left waiting by a slow consumer are asked for once it drains
                        && !self.outbox.market_congested()
                        && !self.deferred.contains_key(&sid)
                }
            };
            if late {
                self.resubscribe(spec_id, ResyncCause::Timeout);
            } else if spec.sid.is_some() && !self.outbox.market_congested() {
                self.deadlines.remove(&spec_id);
            }
        }
        None
    }

    fn on_command(&mut self, command: WsCommand) {
        match command {
            WsCommand::Resync(tickers) => {
                let mut by_sid: BTreeMap<u64, Vec<Ticker>> = BTreeMap::new();
                for ticker in tickers {
                    let sid = self
                        .registry
                        .book_spec_of(&ticker)
                        .and_then(|spec| self.registry.get(spec))
                        .and_then(|spec| spec.sid);
                    if let Some(sid) = sid {
                        by_sid.entry(sid).or_default().push(ticker);
                    }
                }
                for (sid, tickers) in by_sid {
                    self.tracker.begin_resync(sid, &tickers);
                    self.request_resync(sid, tickers, ResyncCause::Requested);
                }
            }
            WsCommand::AddMarkets(markets) => {
                let changes = self.registry.add_markets(&self.config.channels, &markets);
                self.apply(changes);
            }
            WsCommand::RemoveMarkets(markets) => {
                for ticker in &markets {
                    self.resyncing.remove(ticker);
                }
                let changes = self.registry.remove_markets(&markets);
                self.apply(changes);
            }
            WsCommand::ListSubscriptions => {
                self.send(Command::list_subscriptions, Pending::List);
            }
            WsCommand::Shutdown => {}
        }
    }

    fn apply(&mut self, changes: Vec<SubChange>) {
        for change in changes {
            match change {
                SubChange::Subscribe(spec) => self.subscribe(spec),
                SubChange::Add { spec, sid, markets } => {
                    let books = self
                        .registry
                        .get(spec)
                        .is_some_and(|spec| sequenced(spec.channel));
                    if books {
                        self.tracker.add_markets(sid, markets.iter().cloned());
                        self.deadlines
                            .insert(spec, clock::instant() + self.config.resync_timeout);
                    }
                    let names = tickers_as_str(&markets);
                    self.send(
                        |id| {
                            Command::update_subscription(id, sid, UpdateAction::AddMarkets, &names)
                        },
                        Pending::Update,
                    );
                }
                SubChange::Delete { sid, markets, .. } => {
                    self.tracker.remove_markets(sid, &markets);
                    let names = tickers_as_str(&markets);
                    self.send(
                        |id| {
                            Command::update_subscription(
                                id,
                                sid,
                                UpdateAction::DeleteMarkets,
                                &names,
                            )
                        },
                        Pending::Update,
                    );
                }
                SubChange::Unsubscribe { sid } => {
                    self.tracker.remove_sid(sid);
                    self.deferred.remove(&sid);
                    self.send(
                        |id| Command::unsubscribe(id, vec![sid]),
                        Pending::Unsubscribe,
                    );
                }
            }
        }
    }

    fn on_message(&mut self, message: Message) -> Option<End> {
        WsStats::bump(&self.stats.frames);
        self.last_frame = clock::instant();
        match message {
            Message::Text(text) => {
                self.stats
                    .bytes
                    .fetch_add(text.len() as u64, Ordering::Relaxed);
                self.config.tee.tap(|| TeeEvent::Frame {
                    rx_ms: clock::wall_ms(),
                    connection: self.connection,
                    text: text.as_str().to_owned(),
                });
                match decode_server_frame(text.as_str()) {
                    Ok(frame) => self.on_frame(frame),
                    Err(err) => self.malformed(&err, text.as_str()),
                }
            }
            Message::Binary(bytes) => {
                self.stats
                    .bytes
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                self.malformed(&format!("binary frame of {} bytes", bytes.len()), "");
            }
            // tungstenite queues the Pong itself and sends it with the next read or write
            Message::Ping(_) => WsStats::bump(&self.stats.pings),
            Message::Pong(_) | Message::Frame(_) => {}
            Message::Close(frame) => {
                let reason = match frame {
                    Some(frame) => format!("closed by server: {} {}", frame.code, frame.reason),
                    None => "closed by server".to_owned(),
                };
                return Some(End::Dropped(reason));
            }
        }
        None
    }

    fn malformed(&self, error: &dyn std::fmt::Display, text: &str) {
        let count = self.stats.malformed.fetch_add(1, Ordering::Relaxed) + 1;
        // a server spewing garbage must not flood the log: the first few, then every 1000th
        if count <= 20 || count.is_multiple_of(1000) {
            tracing::warn!(error = %error, frame = excerpt(text), count, "malformed websocket frame");
        }
    }

    fn on_frame(&mut self, frame: ServerFrame) {
        let ServerFrame { id, sid, seq, msg } = frame;
        if let Some(ts_ms) = event_time(&msg) {
            self.stats
                .last_lag_ms
                .store(clock::wall_ms().saturating_sub(ts_ms), Ordering::Relaxed);
        }
        match msg {
            ServerMsg::Subscribed(subscribed) => {
                self.on_subscribed(id, &subscribed.channel, subscribed.sid)
            }
            ServerMsg::Unsubscribed => match sid {
                Some(sid) => {
                    let ours = id.and_then(|id| self.pending.remove(&id)).is_some();
                    if !ours && let Some(spec) = self.registry.by_sid(sid) {
                        // the server ended a subscription we still want
                        self.resubscribe(spec, ResyncCause::ErrorFrame { code: 0 });
                    }
                }
                None => self.malformed(&"`unsubscribed` without `sid`", ""),
            },
            ServerMsg::Ok(_) => {
                let pending = id.and_then(|id| self.pending.remove(&id));
                if let (Some(Pending::Subscribe { spec }), Some(sid)) = (&pending, sid) {
                    self.confirm(*spec, sid);
                }
                if let (Some(sid), Some(seq)) = (sid, seq)
                    && self.sequenced_sid(sid)
                {
                    let check = self.tracker.on_sequenced(sid, seq);
                    self.on_seq_check(sid, check);
                }
            }
            ServerMsg::SubscriptionList(listed) => {
                if let Some(id) = id {
                    self.pending.remove(&id);
                }
                self.outbox.control(MarketEvent::Subscriptions { listed });
            }
            ServerMsg::Error(error) => self.on_error(
                id,
                sid,
                error.code,
                error.msg,
                error.market_ticker.map(Ticker::from),
            ),
            ServerMsg::OrderbookSnapshot(snapshot) => {
                self.on_book(sid, seq, BookUpdate::Snapshot(snapshot))
            }
            ServerMsg::OrderbookDelta(delta) => self.on_book(sid, seq, BookUpdate::Delta(delta)),
            ServerMsg::OrderGroupUpdates(update) => match (sid, seq) {
                (Some(sid), Some(seq)) => {
                    let check = self.tracker.on_sequenced(sid, seq);
                    let repeat = matches!(check, SeqCheck::Repeat { .. });
                    self.on_seq_check(sid, check);
                    if !repeat {
                        self.private(PrivateEvent::OrderGroupUpdate { sid, seq, update });
                    }
                }
                _ => self.malformed(&"`order_group_updates` without `sid`/`seq`", ""),
            },
            ServerMsg::Fill(fill) => self.private(PrivateEvent::Fill(fill)),
            ServerMsg::UserOrder(order) => self.private(PrivateEvent::UserOrder(order)),
            ServerMsg::MarketPosition(position) => {
                self.private(PrivateEvent::MarketPosition(position))
            }
            ServerMsg::Ticker(ticker) => {
                let market = ticker.market_ticker.clone();
                self.market_data(MarketEvent::Ticker(ticker), Some(market));
            }
            ServerMsg::Trade(trade) => {
                let market = trade.market_ticker.clone();
                self.market_data(MarketEvent::Trade(trade), Some(market));
            }
            ServerMsg::MarketLifecycleV2(lifecycle)
            | ServerMsg::MultivariateMarketLifecycle(lifecycle) => {
                let market = lifecycle.market_ticker.clone();
                self.market_data(
                    MarketEvent::MarketLifecycle(Box::new(lifecycle)),
                    Some(market),
                );
            }
            ServerMsg::EventLifecycle(event) => {
                self.market_data(MarketEvent::EventLifecycle(event), None)
            }
            ServerMsg::EventFeeUpdate(update) => {
                self.market_data(MarketEvent::EventFeeUpdate(update), None)
            }
            ServerMsg::Unknown { type_name } => {
                WsStats::bump(&self.stats.unknown_types);
                tracing::debug!(%type_name, "websocket message of unknown type");
            }
        }
    }

    fn on_subscribed(&mut self, id: Option<u64>, channel: &str, sid: u64) {
        let spec = match id.and_then(|id| self.pending.remove(&id).map(|p| (id, p))) {
            Some((_, Pending::Subscribe { spec })) => Some(spec),
            Some((id, other)) => {
                self.pending.insert(id, other);
                None
            }
            None => None,
        };
        match spec {
            Some(spec) if self.registry.get(spec).is_some() => {
                if self.registry.get(spec).map(|s| s.channel.as_str()) != Some(channel) {
                    tracing::warn!(%channel, sid, "subscribed reply names another channel");
                }
                self.confirm(spec, sid);
            }
            _ => {
                // a subscription nobody wants any more (removed while pending, or unsolicited)
                if self.registry.by_sid(sid).is_none() {
                    self.send(
                        |id| Command::unsubscribe(id, vec![sid]),
                        Pending::Unsubscribe,
                    );
                }
            }
        }
    }

    fn sequenced_sid(&self, sid: u64) -> bool {
        self.registry
            .by_sid(sid)
            .and_then(|spec| self.registry.get(spec))
            .is_some_and(|spec| sequenced(spec.channel))
    }

    fn confirm(&mut self, spec_id: SpecId, sid: u64) {
        let markets = self
            .registry
            .get(spec_id)
            .and_then(|spec| spec.market_list())
            .unwrap_or_default();
        let holder = self.registry.confirm(spec_id, sid);
        let Some(spec) = self.registry.get(holder) else {
            return;
        };
        if sequenced(spec.channel) {
            if holder == spec_id {
                self.tracker.subscribed(sid, markets);
            } else {
                // the server folded this batch into an existing subscription
                self.tracker.add_markets(sid, markets);
                self.deadlines.remove(&spec_id);
            }
        }
        if spec.channel != Channel::OrderbookDelta {
            self.deadlines.remove(&holder);
        }
        self.check_confirmed();
    }

    fn on_error(
        &mut self,
        id: Option<u64>,
        sid: Option<u64>,
        code: u32,
        message: String,
        market_ticker: Option<Ticker>,
    ) {
        WsStats::bump(&self.stats.error_frames);
        tracing::warn!(?id, ?sid, code, %message, ?market_ticker, "websocket error frame");
        self.outbox.control(MarketEvent::ErrorFrame {
            code,
            message,
            id,
            sid,
            market_ticker: market_ticker.clone(),
        });
        // 10, 17 and 25 end the subscription on the server: it must be made again
        let terminal = matches!(code, 10 | 17 | 25);
        let pending = id.and_then(|id| self.pending.remove(&id));
        match pending {
            // get_snapshot refused: fall back to a fresh subscription, unless that already
            // happened (the old sid is gone)
            Some(Pending::Snapshot { spec, sid })
                if self.registry.get(spec).and_then(|s| s.sid) == Some(sid) =>
            {
                self.resubscribe(spec, ResyncCause::ErrorFrame { code });
            }
            Some(Pending::Subscribe { spec }) => {
                if code == 6 {
                    // an older server refusing a second subscription to a channel: fold the
                    // batch into the live one
                    if let Some(into) = self.registry.live_sibling(spec) {
                        let moved = self.registry.merge_into(spec, into);
                        self.deadlines.remove(&spec);
                        let sid = self.registry.get(into).and_then(|s| s.sid);
                        if let Some(sid) = sid {
                            self.apply(vec![SubChange::Add {
                                spec: into,
                                sid,
                                markets: moved,
                            }]);
                        }
                    }
                } else if !terminal && code != 18 {
                    // refused for good on this connection (bad market, no permission...):
                    // reported above, not retried in a loop
                    self.deadlines.remove(&spec);
                }
                // terminal or timed out: the deadline resubscribes it
            }
            Some(_) => {}
            None if terminal => {
                let targets: Vec<SpecId> =
                    if let Some(spec) = sid.and_then(|sid| self.registry.by_sid(sid)) {
                        vec![spec]
                    } else if let Some(spec) = id.and_then(|id| self.registry.by_subscribe_id(id)) {
                        vec![spec]
                    } else if let Some(ticker) = &market_ticker {
                        self.registry.specs_of(ticker)
                    } else {
                        // the error names no subscription: redo them all
                        self.registry
                            .specs()
                            .filter(|(_, spec)| spec.sid.is_some())
                            .map(|(id, _)| id)
                            .collect()
                    };
                for spec in targets {
                    self.resubscribe(spec, ResyncCause::ErrorFrame { code });
                }
            }
            None => {}
        }
    }

    fn on_seq_check(&mut self, sid: u64, check: SeqCheck) {
        match check {
            SeqCheck::InOrder | SeqCheck::Baseline => {}
            SeqCheck::Restarted { expected, got } => {
                tracing::debug!(
                    sid,
                    expected,
                    got,
                    "sequence restarted after a snapshot request"
                );
            }
            SeqCheck::UnknownSid => WsStats::bump(&self.stats.stray_frames),
            SeqCheck::Repeat { seq } => tracing::debug!(sid, seq, "repeated frame dropped"),
            SeqCheck::Gap {
                expected,
                got,
                stale_markets,
            } => {
                WsStats::bump(&self.stats.gaps);
                tracing::warn!(
                    sid,
                    expected,
                    got,
                    markets = stale_markets.len(),
                    "sequence gap"
                );
                let channel = self
                    .registry
                    .by_sid(sid)
                    .and_then(|spec| self.registry.get(spec))
                    .map(|spec| spec.channel);
                if channel == Some(Channel::OrderGroupUpdates) {
                    self.private(PrivateEvent::ReconciliationNeeded {
                        connection: self.connection,
                        reason: format!(
                            "order_group_updates sequence gap: expected {expected}, got {got}"
                        ),
                    });
                }
                self.request_resync(sid, stale_markets, ResyncCause::Gap { sid, expected, got });
            }
        }
    }

    fn private(&mut self, event: PrivateEvent) {
        self.outbox.private(event);
    }

    fn market_data(&mut self, event: MarketEvent, market: Option<Ticker>) {
        if self.outbox.data(event, market.as_ref()) == Delivery::Dropped {
            WsStats::bump(&self.stats.market_dropped);
        }
    }

    fn on_book(&mut self, sid: Option<u64>, seq: Option<u64>, update: BookUpdate) {
        let (Some(sid), Some(seq)) = (sid, seq) else {
            self.malformed(&"orderbook message without `sid`/`seq`", "");
            return;
        };
        let ticker = update.ticker().clone();
        let check = match &update {
            BookUpdate::Snapshot(_) => self.tracker.on_snapshot(sid, seq, &ticker),
            BookUpdate::Delta(_) => self.tracker.on_delta(sid, seq, &ticker),
        };
        let unknown_sid = check.seq == SeqCheck::UnknownSid;
        self.on_seq_check(sid, check.seq);
        match check.market {
            MarketCheck::Deliver | MarketCheck::Recovered => {
                let event = MarketEvent::Book {
                    sid,
                    seq,
                    convention: PriceConvention::from_use_yes_price(self.config.use_yes_price),
                    update,
                };
                if self.outbox.data(event, Some(&ticker)) == Delivery::Dropped {
                    WsStats::bump(&self.stats.market_dropped);
                    self.tracker
                        .begin_resync(sid, std::slice::from_ref(&ticker));
                    self.request_resync(sid, vec![ticker], ResyncCause::Overflow);
                } else if check.market == MarketCheck::Recovered && self.resyncing.remove(&ticker) {
                    self.outbox.control(MarketEvent::ResyncDone { ticker });
                }
            }
            // the coming snapshot includes it; a repeat was applied already
            MarketCheck::AwaitingSnapshot | MarketCheck::Repeat => {}
            MarketCheck::NotSubscribed => {
                if !unknown_sid {
                    WsStats::bump(&self.stats.stray_frames);
                }
            }
        }
    }
}

fn tickers_as_str(tickers: &[Ticker]) -> Vec<&str> {
    tickers.iter().map(Ticker::as_str).collect()
}

/// The exchange time a message carries, for the feed-lag gauge.
fn event_time(msg: &ServerMsg) -> Option<i64> {
    match msg {
        ServerMsg::OrderbookDelta(delta) => delta.ts_ms,
        ServerMsg::Ticker(ticker) => Some(ticker.ts_ms),
        ServerMsg::Trade(trade) => Some(trade.ts_ms),
        ServerMsg::Fill(fill) => Some(fill.ts_ms),
        _ => None,
    }
}
