//! One WebSocket connection: its subscriptions (a sid per channel, a seq counter per sid), the
//! commands that change them, routing of published exchange events, pings, and the faults that
//! act on its frames.

use super::commands::{self, Channel, Command, CommandError, MarketSelection, UpdateAction, code};
use super::feed::{self, BookSnapshot, FeedItem, Publication};
use crate::sim::faults::FaultControl;
use crate::sim::server::variants::{SnapshotLevelOrder, SnapshotSeq, Variants};
use axum::extract::ws::{Message, WebSocket};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// What a session reads from the exchange, always under the exchange's lock.
pub trait FeedSource: Send + Sync + 'static {
    /// Books of `tickers` and the number of the last publication they already include.
    /// Unknown tickers come back as `Err(ticker)`.
    fn book_snapshots(&self, tickers: &[String]) -> (u64, Vec<Result<BookSnapshot, String>>);
    /// The ticker of a market id.
    fn ticker_of_market_id(&self, market_id: &str) -> Option<String>;
    fn market_exists(&self, ticker: &str) -> bool;
    /// The current `ticker` message of a market (for `send_initial_snapshot`).
    fn ticker_message(&self, ticker: &str) -> Option<Value>;
}

/// What every session shares.
pub struct WsContext {
    pub hub: broadcast::Sender<Arc<Publication>>,
    pub source: Arc<dyn FeedSource>,
    pub faults: FaultControl,
    pub variants: Variants,
    pub ping_interval: Duration,
    pub shutdown: watch::Receiver<bool>,
}

struct Subscription {
    sid: u64,
    channel: Channel,
    /// `None`: every market.
    markets: Option<BTreeSet<String>>,
    use_yes_price: bool,
    /// Last seq used on this sid.
    seq: u64,
    /// Per market: the publication number its last snapshot already includes.
    book_as_of: HashMap<String, u64>,
}

/// Why the session ended.
enum End {
    /// Close politely (client closed, shutdown, or a fault that closes with a frame).
    Close,
    /// Drop the connection without a Close frame.
    Cut,
}

struct Session {
    socket: WebSocket,
    user_id: String,
    ctx: Arc<WsContext>,
    subscriptions: Vec<Subscription>,
    next_sid: u64,
    frames_sent: u64,
}

/// Serve one upgraded connection for `user_id` until it ends.
pub async fn run(socket: WebSocket, user_id: String, ctx: Arc<WsContext>) {
    let mut events = ctx.hub.subscribe();
    let mut shutdown = ctx.shutdown.clone();
    let mut ping = tokio::time::interval(ctx.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut session = Session {
        socket,
        user_id,
        ctx,
        subscriptions: Vec::new(),
        next_sid: 1,
        frames_sent: 0,
    };
    let end = loop {
        if *shutdown.borrow() {
            break End::Close;
        }
        let step = tokio::select! {
            biased;
            _ = shutdown.changed() => Err(End::Close),
            incoming = session.socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => session.handle_command(text.as_str()).await,
                Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                    Ok(text) => session.handle_command(text).await,
                    Err(_) => session.send_error(CommandError::new(None, code::UNABLE_TO_PROCESS, "Unable to process message")).await,
                },
                Some(Ok(Message::Close(_))) | None => Err(End::Close),
                Some(Ok(_)) => Ok(()),
                Some(Err(_)) => Err(End::Cut),
            },
            published = events.recv() => match published {
                Ok(publication) => session.route(&publication).await,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let frame = feed::error_frame(None, code::BUFFER_OVERFLOW, "Subscription buffer overflow", None);
                    let _ = session.send(frame).await;
                    Err(End::Close)
                }
                Err(broadcast::error::RecvError::Closed) => Err(End::Close),
            },
            _ = ping.tick() => session
                .socket
                .send(Message::Ping("heartbeat".into()))
                .await
                .map_err(|_| End::Cut),
        };
        if let Err(end) = step {
            break end;
        }
    };
    if let End::Close = end {
        let _ = session.socket.send(Message::Close(None)).await;
    }
    // Dropping the socket without a Close frame is how a cut looks to the client.
}

impl Session {
    /// Send one data frame through the fault layer.
    async fn send(&mut self, frame: Value) -> Result<(), End> {
        self.frames_sent += 1;
        let fault = self.ctx.faults.frame_fault(self.frames_sent);
        if fault.reset_instead {
            return Err(End::Cut);
        }
        if fault.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        }
        let text = frame.to_string();
        if fault.duplicate {
            self.socket
                .send(Message::Text(text.clone().into()))
                .await
                .map_err(|_| End::Cut)?;
        }
        self.socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| End::Cut)?;
        if fault.close_after {
            return Err(End::Close);
        }
        Ok(())
    }

    async fn send_error(&mut self, error: CommandError) -> Result<(), End> {
        let frame = feed::error_frame(
            error.id,
            error.code,
            &error.msg,
            error.market_ticker.as_deref(),
        );
        self.send(frame).await
    }

    async fn handle_command(&mut self, text: &str) -> Result<(), End> {
        match commands::parse(text) {
            Err(error) => self.send_error(error).await,
            Ok(Command::ListSubscriptions { id }) => {
                let list: Vec<(Channel, u64)> = self
                    .subscriptions
                    .iter()
                    .map(|s| (s.channel, s.sid))
                    .collect();
                self.send(feed::list_frame(id, &list)).await
            }
            Ok(Command::Unsubscribe { id, sids }) => self.unsubscribe(id, &sids).await,
            Ok(Command::Subscribe {
                id,
                channels,
                markets,
                use_yes_price,
                send_initial_snapshot,
            }) => {
                for channel in channels {
                    self.subscribe(id, channel, &markets, use_yes_price, send_initial_snapshot)
                        .await?;
                }
                Ok(())
            }
            Ok(Command::UpdateSubscription {
                id,
                sid,
                action,
                markets,
                send_initial_snapshot,
            }) => {
                self.update(id, sid, action, &markets, send_initial_snapshot)
                    .await
            }
        }
    }

    /// Tickers named by `selection`; unknown ones are answered with error 16 and left out.
    async fn resolve(
        &mut self,
        id: Option<u64>,
        selection: &MarketSelection,
    ) -> Result<Vec<String>, End> {
        let mut tickers = Vec::new();
        let mut unknown = Vec::new();
        for ticker in &selection.tickers {
            if self.ctx.source.market_exists(ticker) {
                tickers.push(ticker.clone());
            } else {
                unknown.push(ticker.clone());
            }
        }
        for market_id in &selection.ids {
            match self.ctx.source.ticker_of_market_id(market_id) {
                Some(ticker) => tickers.push(ticker),
                None => unknown.push(market_id.clone()),
            }
        }
        for missing in unknown {
            let mut error = CommandError::new(id, code::MARKET_NOT_FOUND, "Market not found");
            error.market_ticker = Some(missing);
            self.send_error(error).await?;
        }
        tickers.sort();
        tickers.dedup();
        Ok(tickers)
    }

    async fn subscribe(
        &mut self,
        id: Option<u64>,
        channel: Channel,
        selection: &MarketSelection,
        use_yes_price: bool,
        send_initial_snapshot: bool,
    ) -> Result<(), End> {
        let tickers = if channel.takes_market_filter() && !selection.is_empty() {
            let tickers = self.resolve(id, selection).await?;
            if tickers.is_empty() {
                return Ok(());
            }
            Some(tickers)
        } else {
            None
        };
        // Subscribing again to a channel adds markets to the existing subscription.
        let index = match self.subscriptions.iter().position(|s| s.channel == channel) {
            Some(index) => {
                let existing = &mut self.subscriptions[index];
                match (&mut existing.markets, &tickers) {
                    (Some(markets), Some(new)) => markets.extend(new.iter().cloned()),
                    (markets, None) => *markets = None,
                    (None, Some(_)) => {}
                }
                index
            }
            None => {
                let sid = self.next_sid;
                self.next_sid += 1;
                self.subscriptions.push(Subscription {
                    sid,
                    channel,
                    markets: tickers.as_ref().map(|t| t.iter().cloned().collect()),
                    use_yes_price,
                    seq: 0,
                    book_as_of: HashMap::new(),
                });
                self.subscriptions.len() - 1
            }
        };
        let sid = self.subscriptions[index].sid;
        self.send(feed::subscribed_frame(id, channel, sid)).await?;
        let tickers = tickers.unwrap_or_default();
        match channel {
            Channel::OrderbookDelta => self.send_snapshots(index, &tickers, false).await,
            Channel::Ticker if send_initial_snapshot => self.send_tickers(index, &tickers).await,
            _ => Ok(()),
        }
    }

    async fn send_snapshots(
        &mut self,
        index: usize,
        tickers: &[String],
        reset_seq: bool,
    ) -> Result<(), End> {
        let (as_of, books) = self.ctx.source.book_snapshots(tickers);
        if reset_seq {
            self.subscriptions[index].seq = 0;
        }
        let descending = self.ctx.variants.snapshot_level_order == SnapshotLevelOrder::Descending;
        for book in books.into_iter().flatten() {
            let subscription = &mut self.subscriptions[index];
            subscription
                .book_as_of
                .insert(book.market_ticker.clone(), as_of);
            if self.ctx.faults.book_frozen(&book.market_ticker) {
                continue;
            }
            subscription.seq += 1;
            let frame = feed::snapshot_frame(
                &book,
                subscription.sid,
                subscription.seq,
                subscription.use_yes_price,
                descending,
            );
            self.send(frame).await?;
        }
        Ok(())
    }

    async fn send_tickers(&mut self, index: usize, tickers: &[String]) -> Result<(), End> {
        let sid = self.subscriptions[index].sid;
        for ticker in tickers {
            if self.ctx.faults.book_frozen(ticker) {
                continue;
            }
            if let Some(msg) = self.ctx.source.ticker_message(ticker) {
                self.send(feed::message_frame("ticker", sid, None, &msg))
                    .await?;
            }
        }
        Ok(())
    }

    async fn unsubscribe(&mut self, id: Option<u64>, sids: &[u64]) -> Result<(), End> {
        for sid in sids {
            match self.subscriptions.iter().position(|s| s.sid == *sid) {
                Some(index) => {
                    let removed = self.subscriptions.remove(index);
                    self.send(feed::unsubscribed_frame(id, removed.sid, removed.seq + 1))
                        .await?;
                }
                None => {
                    self.send_error(CommandError::new(
                        id,
                        code::UNKNOWN_SID,
                        "Unknown subscription ID",
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn update(
        &mut self,
        id: Option<u64>,
        sid: u64,
        action: UpdateAction,
        selection: &MarketSelection,
        send_initial_snapshot: bool,
    ) -> Result<(), End> {
        let Some(index) = self.subscriptions.iter().position(|s| s.sid == sid) else {
            return self
                .send_error(CommandError::new(
                    id,
                    code::UNKNOWN_SID,
                    "Unknown subscription ID",
                ))
                .await;
        };
        let channel = self.subscriptions[index].channel;
        if !channel.takes_market_filter()
            || (action == UpdateAction::GetSnapshot && channel != Channel::OrderbookDelta)
        {
            return self
                .send_error(CommandError::new(
                    id,
                    code::UNSUPPORTED_ACTION,
                    "Unsupported action for this channel",
                ))
                .await;
        }
        let tickers = self.resolve(id, selection).await?;
        let subscription = &mut self.subscriptions[index];
        match action {
            UpdateAction::AddMarkets => {
                let added: Vec<String> = match &mut subscription.markets {
                    Some(markets) => tickers
                        .iter()
                        .filter(|t| markets.insert((*t).clone()))
                        .cloned()
                        .collect(),
                    None => Vec::new(),
                };
                self.send_ok(id, index).await?;
                match channel {
                    Channel::OrderbookDelta => self.send_snapshots(index, &added, false).await,
                    Channel::Ticker if send_initial_snapshot => {
                        self.send_tickers(index, &added).await
                    }
                    _ => Ok(()),
                }
            }
            UpdateAction::DeleteMarkets => {
                if let Some(markets) = &mut subscription.markets {
                    for ticker in &tickers {
                        markets.remove(ticker);
                        subscription.book_as_of.remove(ticker);
                    }
                }
                self.send_ok(id, index).await
            }
            UpdateAction::GetSnapshot => {
                let subscribed: Vec<String> = tickers
                    .into_iter()
                    .filter(|t| subscription.markets.as_ref().is_none_or(|m| m.contains(t)))
                    .collect();
                self.send_ok(id, index).await?;
                let reset = self.ctx.variants.snapshot_seq == SnapshotSeq::Reset;
                self.send_snapshots(index, &subscribed, reset).await
            }
        }
    }

    async fn send_ok(&mut self, id: Option<u64>, index: usize) -> Result<(), End> {
        let subscription = &self.subscriptions[index];
        let tickers: Vec<String> = subscription
            .markets
            .as_ref()
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default();
        let seq = (subscription.seq > 0).then_some(subscription.seq);
        let frame = feed::ok_frame(id, subscription.sid, seq, &tickers);
        self.send(frame).await
    }

    /// Send what `publication` holds to the subscriptions that want it.
    async fn route(&mut self, publication: &Publication) -> Result<(), End> {
        for item in &publication.items {
            for index in 0..self.subscriptions.len() {
                if let Some(frame) = self.frame_for(index, publication.number, item) {
                    self.send(frame).await?;
                }
            }
        }
        Ok(())
    }

    /// The frame subscription `index` gets for `item`, if any (allocating its seq).
    fn frame_for(&mut self, index: usize, number: u64, item: &FeedItem) -> Option<Value> {
        let faults = &self.ctx.faults;
        let user_id = &self.user_id;
        let subscription = &mut self.subscriptions[index];
        let wants_market = |markets: &Option<BTreeSet<String>>, ticker: &str| {
            markets.as_ref().is_none_or(|m| m.contains(ticker))
        };
        match item {
            FeedItem::Book(delta) => {
                if subscription.channel != Channel::OrderbookDelta
                    || !wants_market(&subscription.markets, &delta.market_ticker)
                    || subscription
                        .book_as_of
                        .get(&delta.market_ticker)
                        .is_none_or(|as_of| number <= *as_of)
                    || faults.book_frozen(&delta.market_ticker)
                {
                    return None;
                }
                subscription.seq += 1;
                if faults.skip_seq(subscription.seq) {
                    return None;
                }
                Some(feed::delta_frame(
                    delta,
                    subscription.sid,
                    subscription.seq,
                    subscription.use_yes_price,
                    user_id,
                ))
            }
            FeedItem::Message {
                channel,
                msg_type,
                market_ticker,
                user_id: owner,
                msg,
            } => {
                if subscription.channel != *channel
                    || owner.as_ref().is_some_and(|owner| owner != user_id)
                {
                    return None;
                }
                if let Some(ticker) = market_ticker {
                    if channel.takes_market_filter() && !wants_market(&subscription.markets, ticker)
                    {
                        return None;
                    }
                    if *channel == Channel::Ticker && faults.book_frozen(ticker) {
                        return None;
                    }
                }
                let seq = if channel.is_sequenced() {
                    subscription.seq += 1;
                    if faults.skip_seq(subscription.seq) {
                        return None;
                    }
                    Some(subscription.seq)
                } else {
                    None
                };
                Some(feed::message_frame(msg_type, subscription.sid, seq, msg))
            }
        }
    }
}
