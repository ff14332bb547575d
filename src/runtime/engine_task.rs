//! The engine task: the one owner of the engine. It reads, most urgent first (`biased`), the
//! kill lane, the control socket, operator commands, private events, gateway answers and REST
//! reads, then the timers, and market data last; every output goes on at once (intents to the
//! gateway, audits to the journal writer and the audit stream). It reconciles after reconnects
//! and on a timer, and publishes conflated snapshots.
//!
//! Every halt (hotkey, control socket, automatic breach, a restart that finds the last run
//! halted) goes through the one kill path, [`kill::execute_kill`]: the engine's own kill step
//! disarms and marks its orders cancel-requested, and its exchange-side first wave (cancel-all,
//! group trigger, per-order cancels) is handed to the executor instead of the gateway, which
//! then sweeps until flat and measures the time to flat.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{Interval, MissedTickBehavior};

use crate::core::book::PriceConvention;
use crate::core::control::MarketState;
use crate::core::control::{PauseReason, TradingState};
use crate::core::engine::{
    AuditEvent, AuditKind, Command, Engine, GatewayResult, Input, MarketInput, OrderIntent, Outputs,
};
use crate::core::market::Ticker;
use crate::core::order::OrderId;
use crate::kalshi::rest::RestClient;
use crate::kalshi::ws::{MarketEvent, PrivateEvent, WsClient, WsHandle};
use crate::runtime::clock;
use crate::runtime::control_socket::{ControlCommand, ControlReply, ControlRequest};
use crate::runtime::convert;
use crate::runtime::desk::DeskConfig;
use crate::runtime::feed_clock::FeedClock;
use crate::runtime::gateway::GatewayStats;
use crate::runtime::kill::{self, HaltFlag, KillContext, KillOutcome, KillReport, WriteTracker};
use crate::runtime::paper_executor::PaperLink;
use crate::runtime::reconcile::{self, ReadOutcome, ReadPurpose, ReadRequest};
use crate::runtime::snapshot::{self, DeskSnapshot, KillPhase, KillProgress};
use crate::runtime::startup::StartupReport;
use crate::store::journal::{HaltRecord, HaltState, JournalHandle, JournalRecord, Mode};

pub struct EngineTaskParts {
    pub config: DeskConfig,
    pub startup: StartupReport,
    pub rest: RestClient,
    pub ws: WsClient,
    pub commands: mpsc::Receiver<Command>,
    pub kills: mpsc::UnboundedReceiver<String>,
    pub control: mpsc::Receiver<ControlRequest>,
    /// Markets added to or removed from the watchlist while running.
    pub watch: mpsc::Receiver<WatchRequest>,
    pub intents: mpsc::UnboundedSender<OrderIntent>,
    pub results: mpsc::UnboundedReceiver<GatewayResult>,
    pub halt: HaltFlag,
    /// New orders and amends in flight at the REST client (its write gate counts them).
    pub writes: WriteTracker,
    /// Trade ids the journal already holds (start-up journals the fills it lacks).
    pub journaled_trades: HashSet<String>,
    pub snapshots: watch::Sender<Arc<DeskSnapshot>>,
    pub audits: broadcast::Sender<AuditEvent>,
    pub journal: Option<JournalHandle>,
    pub gateway: Arc<GatewayStats>,
    pub shutdown: watch::Receiver<bool>,
    /// Paper mode: the local exchange sees market data first and answers account reads.
    pub paper: Option<PaperLink>,
}

/// Add a market to the live watchlist or take one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchChange {
    Add,
    Remove,
}

/// A watchlist change and where its answer goes (`Err` names what went wrong).
#[derive(Debug)]
pub struct WatchRequest {
    pub ticker: Ticker,
    pub change: WatchChange,
    pub reply: oneshot::Sender<Result<(), String>>,
}

/// A market's details fetched for a watchlist addition.
struct MarketFetched {
    ticker: Ticker,
    market: Result<crate::kalshi::wire::Market, String>,
    reply: oneshot::Sender<Result<(), String>>,
}

/// The kill as the desk tracks it beyond the engine's single step.
#[derive(Debug, Default)]
struct KillTrack {
    progress: KillProgress,
    /// The executor running now, if any.
    running: Option<tokio::task::JoinHandle<()>>,
    /// Another halt arrived while the executor ran: run it again when it ends.
    again: bool,
    /// Executor runs of this kill.
    runs: u32,
}

struct Task {
    engine: Engine,
    config: DeskConfig,
    rest: RestClient,
    intents: mpsc::UnboundedSender<OrderIntent>,
    halt: HaltFlag,
    snapshots: watch::Sender<Arc<DeskSnapshot>>,
    audits: broadcast::Sender<AuditEvent>,
    journal: Option<JournalHandle>,
    gateway: Arc<GatewayStats>,
    ws_stats: Arc<crate::kalshi::ws::WsStats>,
    writes: WriteTracker,
    kill_reports: mpsc::UnboundedSender<KillReport>,
    ws: WsHandle,
    fetched: mpsc::UnboundedSender<MarketFetched>,
    /// Watchlist additions whose market details are being fetched.
    fetching: HashSet<Ticker>,
    order_groups: Vec<String>,
    /// When the desk last asked the exchange to reset its order groups (operator reset).
    groups_reset_wall_ms: Option<i64>,
    convention: PriceConvention,
    feed_clock: FeedClock,
    reads: mpsc::UnboundedSender<ReadOutcome>,
    read_in_flight: bool,
    /// A reconcile asked for while another read was running.
    reconcile_wanted: bool,
    fills_since_ms: i64,
    /// Fills already given to the engine: a reconcile re-reads an overlap it need not repeat.
    seen_trades: HashSet<String>,
    /// Fills from before the start, inside the adopted positions: the feed must not apply them.
    prior_trades: HashSet<String>,
    drift_rounds: HashMap<Ticker, u32>,
    kill: KillTrack,
    dirty: bool,
    version: u64,
    last_reconcile_wall_ms: Option<i64>,
    reconcile_failures: u64,
    exchange_trading_active: Option<bool>,
    disconnected: bool,
    paper: Option<crate::runtime::paper_executor::PaperExchange>,
}

fn interval(ms: u64) -> Interval {
    let mut interval = tokio::time::interval(Duration::from_millis(ms.max(1)));
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

pub async fn run(parts: EngineTaskParts) {
    let EngineTaskParts {
        config,
        startup,
        rest,
        ws,
        mut commands,
        mut kills,
        mut control,
        mut watch,
        intents,
        mut results,
        halt,
        writes,
        journaled_trades,
        snapshots,
        audits,
        journal,
        gateway,
        mut shutdown,
        paper,
    } = parts;
    let (paper_exchange, mut paper_inputs) = match paper {
        Some(link) => (Some(link.exchange), Some(link.inputs)),
        None => (None, None),
    };
    let WsClient {
        handle: ws_handle,
        market: mut market_rx,
        private: mut private_rx,
        stats: ws_stats,
        task: ws_task,
    } = ws;
    let (reads_tx, mut reads_rx) = mpsc::unbounded_channel();
    let (kill_reports_tx, mut kill_reports_rx) = mpsc::unbounded_channel();
    let (fetched_tx, mut fetched_rx) = mpsc::unbounded_channel();
    let mut task = Task {
        engine: Engine::new(config.engine.clone()),
        order_groups: startup.order_group_id.iter().cloned().collect(),
        groups_reset_wall_ms: None,
        convention: PriceConvention::from_use_yes_price(true),
        rest,
        intents,
        halt,
        snapshots,
        audits,
        journal,
        gateway,
        ws_stats,
        writes,
        kill_reports: kill_reports_tx,
        ws: ws_handle.clone(),
        fetched: fetched_tx,
        fetching: HashSet::new(),
        feed_clock: FeedClock::new(),
        reads: reads_tx,
        read_in_flight: false,
        reconcile_wanted: false,
        fills_since_ms: startup.read_wall_ms,
        seen_trades: HashSet::new(),
        prior_trades: HashSet::new(),
        drift_rounds: HashMap::new(),
        kill: KillTrack::default(),
        dirty: true,
        version: 0,
        last_reconcile_wall_ms: Some(startup.read_wall_ms),
        reconcile_failures: 0,
        exchange_trading_active: startup.exchange_trading_active,
        disconnected: false,
        paper: paper_exchange,
        config,
    };
    task.prime(&startup, &journaled_trades);

    let timing = task.config.timing.clone();
    let mut tick = interval(timing.tick_ms);
    let mut publish = interval(timing.snapshot_every_ms);
    let mut reconcile_timer = interval(timing.reconcile_every_ms);
    let mut status_timer = interval(timing.status_every_ms);
    let mut kill_retry_timer = interval(timing.sweep_every_ms);
    let mut market_open = true;
    let mut private_open = true;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => break,
            Some(reason) = kills.recv() => task.kill(&reason),
            Some(request) = control.recv() => task.control(request),
            Some(command) = commands.recv() => task.command(command),
            event = private_rx.recv(), if private_open => match event {
                Some(event) => task.private(event),
                None => private_open = false,
            },
            Some(report) = kill_reports_rx.recv() => task.kill_done(report),
            Some(result) = results.recv() => task.gateway_result(result),
            Some(input) = recv_paper(&mut paper_inputs) => task.paper_input(input),
            Some(outcome) = reads_rx.recv() => task.read_done(outcome),
            Some(request) = watch.recv() => task.watch(request),
            Some(fetched) = fetched_rx.recv() => task.market_fetched(fetched),
            _ = tick.tick() => {
                task.handle(Input::Tick);
                task.maybe_read_again();
            }
            _ = kill_retry_timer.tick() => task.retry_pending_kill(),
            _ = publish.tick() => task.publish(),
            _ = reconcile_timer.tick() => {
                task.start_read(ReadPurpose::Reconcile);
                task.retry_failed_kill();
            }
            _ = status_timer.tick() => task.start_read(ReadPurpose::Status),
            event = market_rx.recv(), if market_open => match event {
                Some(event) => task.market(event),
                None => market_open = false,
            },
        }
    }
    if let Some(running) = task.kill.running.take() {
        running.abort();
    }
    let _ = ws_handle.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), ws_task).await;
    task.publish();
}

/// The paper exchange's answers and fills; never ready outside paper mode.
async fn recv_paper(inputs: &mut Option<mpsc::UnboundedReceiver<Input>>) -> Option<Input> {
    match inputs {
        Some(inputs) => inputs.recv().await,
        None => std::future::pending().await,
    }
}

impl Task {
    /// Paper records are kept apart from live ones.
    fn mode(&self) -> Mode {
        self.config.journal_mode()
    }

    /// Start-up inputs, the configured strategies, and the halt the last run ended in.
    fn prime(&mut self, startup: &StartupReport, journaled_trades: &HashSet<String>) {
        for input in startup.inputs.clone() {
            self.handle(input);
        }
        // Fills already inside the adopted positions: never applied again; the ones made while
        // no desk ran (or lost with a killed process before the journal had them) go on record.
        for fill in &startup.prior_fills {
            self.seen_trades.insert(fill.trade_id.as_str().to_string());
            self.prior_trades.insert(fill.trade_id.as_str().to_string());
            self.fills_since_ms = self.fills_since_ms.max(fill.ts_ms);
            if let Some(journal) = &self.journal
                && !journaled_trades.contains(fill.trade_id.as_str())
            {
                journal.record(JournalRecord {
                    ts_ms: fill.ts_ms,
                    mode: Mode::Live,
                    kind: "fill".to_string(),
                    ticker: Some(fill.ticker.to_string()),
                    client_order_id: None,
                    order_id: Some(fill.order_id.as_str().to_string()),
                    trade_id: Some(fill.trade_id.as_str().to_string()),
                    payload: serde_json::json!({
                        "recovered_at_start": true,
                        "fill": fill,
                    }),
                });
            }
        }
        for (ticker, params) in self.config.strategies.clone() {
            self.handle(Input::Command(Command::SetStrategy { ticker, params }));
        }
        if let Some(reason) = &startup.started_halted {
            self.halt.halt();
            self.handle(Input::Command(Command::Kill {
                reason: reason.clone(),
            }));
        }
    }

    fn now(&self) -> crate::core::time::Now {
        clock::now(self.feed_clock.reported_offset_ms())
    }

    /// One input through the engine and every output on its way.
    fn handle(&mut self, input: Input) {
        let now = self.now();
        let outputs = self.engine.handle(input, now);
        self.dispatch(outputs);
    }

    fn dispatch(&mut self, outputs: Outputs) {
        if outputs.is_empty() {
            return;
        }
        self.dirty = true;
        let kill_step = outputs
            .audits
            .iter()
            .any(|audit| matches!(audit.event, AuditKind::Killed { .. }));
        let mut refused = Vec::new();
        for intent in outputs.intents {
            // The kill step's exchange-side wave is the executor's job, done once.
            if kill_step && is_kill_wave(&intent) {
                continue;
            }
            // While the exchange is closed or paused, new orders and amends are refused here
            // (markets are paused for quoting by the engine; this covers manual tickets).
            if self.exchange_trading_active == Some(false)
                && let Some(refusal) = closed_refusal(&intent)
            {
                refused.push(refusal);
                continue;
            }
            let _ = self.intents.send(intent);
        }
        for audit in outputs.audits {
            self.observe_audit(&audit);
            if let Some(journal) = &self.journal {
                let mut row = journal_record(&audit);
                row.mode = self.mode();
                journal.record(row);
            }
            let _ = self.audits.send(audit);
        }
        for refusal in refused {
            self.handle(Input::Gateway(refusal));
        }
    }

    /// Audits the desk acts on itself: halts and resets.
    fn observe_audit(&mut self, audit: &AuditEvent) {
        match &audit.event {
            AuditKind::Killed { reason, .. } => {
                self.halt.halt();
                self.begin_kill(reason);
            }
            AuditKind::TradingChanged {
                state: TradingState::Active,
            } => {
                // A sweep must never cancel what is placed after the operator's reset.
                if let Some(running) = self.kill.running.take() {
                    running.abort();
                }
                self.halt.reset();
                self.kill = KillTrack::default();
                self.record_halt(HaltState::Reset, "operator reset", serde_json::json!({}));
                self.reset_order_groups();
            }
            _ => {}
        }
    }

    /// The kill triggered the desk's order groups, and the exchange refuses every order in a
    /// triggered group until it is reset: without this, the first automated order after an
    /// operator reset is refused, and the streak of those refusals halts the desk again.
    /// A reset is idempotent, so it is retried until it is answered.
    fn reset_order_groups(&mut self) {
        if self.order_groups.is_empty() {
            return;
        }
        self.groups_reset_wall_ms = Some(clock::wall_ms());
        let rest = self.rest.clone();
        let groups = self.order_groups.clone();
        let params = crate::kalshi::wire::OrderGroupWriteParams {
            subaccount: self.config.subaccount,
            exchange_index: None,
        };
        tokio::spawn(async move {
            for group in groups {
                for attempt in 1..=10u64 {
                    match rest.reset_order_group(&group, &params).await {
                        Ok(()) => break,
                        Err(error) => {
                            tracing::warn!(%error, attempt, "order group reset failed");
                            tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                        }
                    }
                }
            }
        });
    }

    /// A halt: the executor starts (or runs again once the running one ends).
    fn begin_kill(&mut self, reason: &str) {
        if self.kill.running.is_some() {
            self.kill.again = true;
            return;
        }
        let first = !matches!(
            self.kill.progress.phase,
            KillPhase::Sweeping | KillPhase::Pending | KillPhase::Failed
        );
        if first {
            self.kill.progress = KillProgress {
                phase: KillPhase::Sweeping,
                reason: Some(reason.to_string()),
                started_wall_ms: self.halt.halted_at_wall_ms().or(Some(clock::wall_ms())),
                ..KillProgress::default()
            };
            self.kill.runs = 0;
            self.record_halt(HaltState::Pending, reason, serde_json::json!({}));
        }
        self.run_kill();
    }

    /// Start [`kill::execute_kill`] on every order the engine holds open.
    fn run_kill(&mut self) {
        if self.kill.running.is_some() {
            return;
        }
        self.kill.again = false;
        self.kill.runs += 1;
        self.kill.progress.phase = KillPhase::Sweeping;
        self.dirty = true;
        if let Some(paper) = &self.paper {
            // Nothing of a paper desk rests at the exchange: it is killed on the local one.
            let (inputs, report) = paper.kill(&self.halt);
            for input in inputs {
                self.handle(input);
            }
            let _ = self.kill_reports.send(report);
            return;
        }
        let known = kill::known_orders(self.engine.orders());
        let mut ctx = KillContext::new(self.rest.clone(), self.config.subaccount.unwrap_or(0));
        ctx.order_group_ids = self.order_groups.clone();
        // The desk knows its own groups; the operator's other groups are not its to trigger.
        ctx.trigger_listed_groups = false;
        ctx.writes = self.writes.clone();
        ctx.policy.max_sweeps = self.config.timing.max_sweeps.max(1);
        let halt = self.halt.clone();
        let reports = self.kill_reports.clone();
        self.kill.running = Some(tokio::spawn(async move {
            let report = kill::execute_kill(&ctx, known, &halt).await;
            let _ = reports.send(report);
        }));
    }

    /// The executor ended: record what it found, bring the engine's orders up to date.
    fn kill_done(&mut self, report: KillReport) {
        self.kill.running = None;
        self.dirty = true;
        let progress = &mut self.kill.progress;
        progress.sweeps = progress
            .sweeps
            .saturating_add(u32::try_from(report.sweeps.len()).unwrap_or(u32::MAX));
        progress.exchange_resting = report
            .sweeps
            .iter()
            .rev()
            .find_map(|sweep| sweep.resting_seen);
        progress.phase = match report.outcome {
            KillOutcome::Flat => KillPhase::Flat,
            KillOutcome::NotFlat => KillPhase::Failed,
            KillOutcome::Pending => KillPhase::Pending,
        };
        if let Some(us) = report.time_to_flat_us {
            // Rounded up: a flat in 0.4 ms shows as 1 ms, never as 0.
            progress.time_to_flat_ms = Some(us.div_ceil(1000));
        }
        let reason = progress.reason.clone().unwrap_or_default();
        if let Some(journal) = &self.journal {
            let _ = journal.record_halt(report.halt_record(self.mode(), &reason));
            if report.outcome == KillOutcome::NotFlat {
                journal.record(JournalRecord::new(
                    clock::wall_ms(),
                    self.mode(),
                    "kill_not_flat",
                    serde_json::to_value(&report).unwrap_or(serde_json::Value::Null),
                ));
            }
        }
        match report.outcome {
            KillOutcome::Flat => {
                tracing::warn!(time_to_flat_us = ?report.time_to_flat_us, "kill: flat at the exchange")
            }
            _ => tracing::error!(summary = %report.summary(), "kill not flat"),
        }
        // The executor cancelled by id and by cancel-all: read back the final state of every
        // order the engine still holds open.
        self.start_read(ReadPurpose::Reconcile);
        if self.kill.again && self.engine.is_halted() {
            self.run_kill();
        }
    }

    /// A kill that ran out of sweeps with orders still resting tries again on the slow timer.
    fn retry_failed_kill(&mut self) {
        if self.engine.is_halted()
            && self.kill.running.is_none()
            && self.kill.progress.phase == KillPhase::Failed
        {
            self.run_kill();
        }
    }

    /// A kill left PENDING (exchange unreachable) tries again on the retry timer.
    fn retry_pending_kill(&mut self) {
        if self.engine.is_halted()
            && self.kill.running.is_none()
            && self.kill.progress.phase == KillPhase::Pending
        {
            self.run_kill();
        }
    }

    fn record_halt(&self, state: HaltState, reason: &str, payload: serde_json::Value) {
        if let Some(journal) = &self.journal {
            let _ = journal.record_halt(HaltRecord {
                ts_ms: clock::wall_ms(),
                mode: self.mode(),
                state,
                reason: reason.to_string(),
                payload,
            });
        }
    }

    fn kill(&mut self, reason: &str) {
        self.halt.halt();
        self.handle(Input::Command(Command::Kill {
            reason: reason.to_string(),
        }));
    }

    fn gateway_result(&mut self, result: GatewayResult) {
        // The exchange says trading is closed before our status poll does: read the status
        // now, so quoting stops within a round trip rather than a poll interval.
        if let GatewayResult::Rejected {
            http_status,
            code,
            details,
            ..
        } = &result
            && self.exchange_trading_active != Some(false)
            && crate::core::risk::RejectClass::classify(*http_status, code, details)
                == crate::core::risk::RejectClass::MarketClosed
        {
            self.start_read(ReadPurpose::Status);
        }
        self.handle(Input::Gateway(result));
    }

    /// What the paper exchange said: answers go the way the gateway's do.
    fn paper_input(&mut self, input: Input) {
        match input {
            Input::Gateway(result) => self.gateway_result(result),
            other => self.handle(other),
        }
    }

    fn command(&mut self, command: Command) {
        if let Command::Kill { reason } = &command {
            let reason = reason.clone();
            self.kill(&reason);
        } else {
            self.handle(Input::Command(command));
        }
    }

    fn control(&mut self, request: ControlRequest) {
        let reply = match request.command {
            ControlCommand::Kill { reason } => {
                self.kill(&reason);
                ControlReply {
                    ok: true,
                    state: self.state_word().to_string(),
                    message: format!("halted: {reason}"),
                }
            }
            ControlCommand::Status => ControlReply {
                ok: true,
                state: self.state_word().to_string(),
                message: match self.engine.control().trading() {
                    TradingState::Active => "trading".to_string(),
                    TradingState::Halted { reason, .. } => {
                        let progress = &self.kill.progress;
                        match (progress.phase, progress.time_to_flat_ms) {
                            (KillPhase::Flat, Some(ms)) => {
                                format!("halted: {reason}; flat in {ms} ms")
                            }
                            (KillPhase::Failed | KillPhase::Pending, _) => format!(
                                "halted: {reason}; NOT FLAT: {}",
                                progress.exchange_resting.map_or_else(
                                    || "the exchange could not be read".to_string(),
                                    |n| format!("{n} order(s) still resting")
                                )
                            ),
                            _ => format!("halted: {reason}"),
                        }
                    }
                },
            },
        };
        let _ = request.reply.send(reply);
    }

    // ---- live watchlist ----

    fn watch(&mut self, request: WatchRequest) {
        let WatchRequest {
            ticker,
            change,
            reply,
        } = request;
        match change {
            WatchChange::Add => {
                if self.config.watchlist.contains(&ticker) {
                    let _ = reply.send(Ok(()));
                    return;
                }
                if !self.fetching.insert(ticker.clone()) {
                    let _ = reply.send(Err(format!("{ticker}: already being added")));
                    return;
                }
                // The engine needs the market's grid, status and close before its book.
                let rest = self.rest.clone();
                let fetched = self.fetched.clone();
                tokio::spawn(async move {
                    let market = rest
                        .market(ticker.as_str())
                        .await
                        .map_err(|error| format!("market {ticker}: {error}"));
                    let _ = fetched.send(MarketFetched {
                        ticker,
                        market,
                        reply,
                    });
                });
            }
            WatchChange::Remove => {
                let Some(at) = self.config.watchlist.iter().position(|t| *t == ticker) else {
                    let _ = reply.send(Ok(()));
                    return;
                };
                // A strategy must not quote on a book nobody feeds any more.
                let state = self.engine.control().market(&ticker).state();
                if !matches!(state, MarketState::Disarmed | MarketState::Manual) {
                    self.handle(Input::Command(Command::Disarm {
                        ticker: ticker.clone(),
                    }));
                }
                self.config.watchlist.remove(at);
                self.dirty = true;
                let ws = self.ws.clone();
                tokio::spawn(async move {
                    let answer = ws
                        .remove_markets(vec![ticker.clone()])
                        .await
                        .map_err(|_| format!("{ticker}: the market feed has stopped"));
                    let _ = reply.send(answer);
                });
            }
        }
    }

    fn market_fetched(&mut self, fetched: MarketFetched) {
        let MarketFetched {
            ticker,
            market,
            reply,
        } = fetched;
        self.fetching.remove(&ticker);
        let market = match market {
            Ok(market) => market,
            Err(error) => {
                let _ = reply.send(Err(error));
                return;
            }
        };
        if market.ticker != ticker {
            let _ = reply.send(Err(format!(
                "market {ticker}: the exchange answered with {}",
                market.ticker
            )));
            return;
        }
        self.handle(Input::Market(MarketInput::Info(convert::market_info(
            &market,
        ))));
        if !self.config.watchlist.contains(&ticker) {
            self.config.watchlist.push(ticker.clone());
        }
        self.dirty = true;
        let ws = self.ws.clone();
        tokio::spawn(async move {
            let answer = ws
                .add_markets(vec![ticker.clone()])
                .await
                .map_err(|_| format!("{ticker}: the market feed has stopped"));
            let _ = reply.send(answer);
        });
    }

    fn state_word(&self) -> &'static str {
        match (self.engine.is_halted(), self.kill.progress.phase) {
            (false, _) => "active",
            (true, KillPhase::Pending) => "kill_pending",
            (true, KillPhase::Sweeping) => "halted_sweeping",
            (true, KillPhase::Failed) => "halted_not_flat",
            (true, _) => "halted",
        }
    }

    fn private(&mut self, event: PrivateEvent) {
        if let PrivateEvent::ReconciliationNeeded { .. } = &event {
            self.start_read(ReadPurpose::Reconcile);
            return;
        }
        if let PrivateEvent::Fill(fill) = &event {
            if self.prior_trades.contains(fill.trade_id.as_str()) {
                return;
            }
            self.fills_since_ms = self.fills_since_ms.max(fill.ts_ms);
            self.seen_trades.insert(fill.trade_id.clone());
            self.observe_ts(fill.ts_ms);
        }
        if let PrivateEvent::OrderGroupUpdate { update, .. } = &event
            && update.event_type == crate::kalshi::wire::OrderGroupEventType::Triggered
            && self.trigger_predates_reset(update.ts_ms)
        {
            tracing::info!(
                group = %update.order_group_id,
                "order group trigger from before the operator's reset (the kill's own), ignored"
            );
            return;
        }
        for input in convert::private_inputs(&event, &self.order_groups) {
            self.handle(input);
        }
    }

    /// The kill triggers the desk's own groups, and the news of it can arrive after the operator
    /// has already reset (a slow or delayed feed): that trigger is history, not a new kill from
    /// elsewhere. A trigger stamped before the reset (exchange clock), or unstamped within a few
    /// seconds of it, is the kill's own.
    fn trigger_predates_reset(&self, trigger_ts_ms: Option<i64>) -> bool {
        let Some(reset_wall_ms) = self.groups_reset_wall_ms else {
            return false;
        };
        let reset_exchange_ms = reset_wall_ms + self.feed_clock.reported_offset_ms();
        match trigger_ts_ms {
            Some(ts_ms) => ts_ms < reset_exchange_ms,
            None => clock::wall_ms().saturating_sub(reset_wall_ms) < 5_000,
        }
    }

    fn market(&mut self, event: MarketEvent) {
        match &event {
            MarketEvent::Connected { connection } => {
                let reconnect = *connection > 1 || self.disconnected;
                self.disconnected = false;
                self.dirty = true;
                if reconnect && self.engine.is_halted() && self.kill_unfinished() {
                    // The kill runs first on reconnect.
                    self.run_kill();
                }
            }
            MarketEvent::Disconnected { .. } => {
                self.disconnected = true;
                self.dirty = true;
            }
            MarketEvent::Ticker(ticker) => self.observe_ts(ticker.ts_ms),
            MarketEvent::Trade(trade) => self.observe_ts(trade.ts_ms),
            MarketEvent::Book { update, .. } => {
                if let crate::kalshi::ws::BookUpdate::Delta(delta) = update
                    && let Some(ts) = delta.ts_ms
                {
                    self.observe_ts(ts);
                }
            }
            _ => {}
        }
        for input in convert::market_inputs(&event, self.convention) {
            // Books and trades are what the screen shows: a market input changes the snapshot
            // even when the engine has nothing to say about it (no strategy armed).
            self.dirty = true;
            // The paper exchange sees the book first, so our orders fill on the trade the
            // engine sees, right after it.
            let fills = match &self.paper {
                Some(paper) => paper.on_input(&input, clock::wall_ms()),
                None => Vec::new(),
            };
            self.handle(input);
            for fill in fills {
                self.handle(fill);
            }
        }
    }

    fn observe_ts(&mut self, ts_ms: i64) {
        if let Some(offset_ms) = self.feed_clock.observe(ts_ms, clock::wall_ms()) {
            self.handle(Input::ClockOffset { offset_ms });
        }
    }

    fn kill_unfinished(&self) -> bool {
        matches!(
            self.kill.progress.phase,
            KillPhase::Sweeping | KillPhase::Pending | KillPhase::Failed
        )
    }

    // ---- REST reads ----

    fn start_read(&mut self, purpose: ReadPurpose) {
        if self.read_in_flight {
            if purpose != ReadPurpose::Status {
                self.reconcile_wanted = true;
            }
            return;
        }
        self.read_in_flight = true;
        let open_orders: Vec<OrderId> = self
            .engine
            .orders()
            .open_orders()
            .filter_map(|o| o.order_id.clone())
            .collect();
        let positioned = self
            .engine
            .portfolio()
            .positions()
            .filter(|p| !p.contracts.is_zero())
            .map(|p| p.ticker.clone())
            .collect();
        let request = ReadRequest {
            purpose,
            subaccount: self.config.subaccount,
            open_orders,
            positioned,
            // A little overlap: fills are deduplicated by trade id.
            fills_since_ms: self.fills_since_ms.saturating_sub(5_000),
        };
        if let Some(paper) = &self.paper
            && purpose != ReadPurpose::Status
        {
            // The paper account lives here, not at the exchange.
            let _ = self.reads.send(paper.read(&request));
            return;
        }
        let rest = self.rest.clone();
        let reads = self.reads.clone();
        tokio::spawn(async move {
            let outcome = reconcile::read(&rest, request).await;
            let _ = reads.send(outcome);
        });
    }

    fn maybe_read_again(&mut self) {
        if self.reconcile_wanted && !self.read_in_flight {
            self.reconcile_wanted = false;
            self.start_read(ReadPurpose::Reconcile);
        }
    }

    fn read_done(&mut self, outcome: ReadOutcome) {
        self.read_in_flight = false;
        self.dirty = true;
        if let Some(newest) = outcome.newest_fill_ms {
            self.fills_since_ms = self.fills_since_ms.max(newest);
        }
        for input in outcome.inputs.iter().cloned() {
            if let Input::Private(crate::core::engine::PrivateInput::Fill { fill, .. }) = &input
                && !self.seen_trades.insert(fill.trade_id.as_str().to_string())
            {
                continue;
            }
            if let Input::Exchange(crate::core::engine::ExchangeInput::TradingActive { active }) =
                &input
            {
                self.exchange_trading_active = Some(*active);
            }
            self.handle(input);
        }
        if outcome.purpose == ReadPurpose::Status {
            return;
        }
        match &outcome.error {
            Some(error) => {
                self.reconcile_failures += 1;
                tracing::warn!(%error, "reconciliation read failed");
            }
            None => self.last_reconcile_wall_ms = Some(clock::wall_ms()),
        }
        self.check_drift();
        if self.engine.is_halted() && self.kill_unfinished() {
            // Cancel whatever the read found still resting, now rather than on the next tick.
            self.handle(Input::Tick);
        }
    }

    /// Repeated drift in a market halts the desk (one round only pauses it, in the engine).
    fn check_drift(&mut self) {
        let drifting: Vec<Ticker> = self
            .engine
            .control()
            .markets()
            .filter(|(_, c)| c.reasons.contains(&PauseReason::PositionDrift))
            .map(|(t, _)| t.clone())
            .collect();
        self.drift_rounds.retain(|t, _| drifting.contains(t));
        let mut halt_for = None;
        for ticker in drifting {
            let rounds = self.drift_rounds.entry(ticker.clone()).or_insert(0);
            *rounds += 1;
            if *rounds >= self.config.timing.drift_halt_after {
                halt_for = Some((ticker, *rounds));
            }
        }
        if let Some((ticker, rounds)) = halt_for
            && !self.engine.is_halted()
        {
            self.kill(&format!(
                "{ticker}: position differs from the exchange's in {rounds} reconciliations"
            ));
        }
    }

    // ---- snapshots ----

    fn publish(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.version += 1;
        let mut snap = snapshot::build(
            &self.engine,
            &self.config.watchlist,
            self.config.book_depth,
            clock::mono_ns(),
        );
        snap.version = self.version;
        snap.wall_ms = clock::wall_ms();
        let ws = self.ws_stats.snapshot();
        let budget = self.rest.limiter().snapshot();
        snap.health = snapshot::Health {
            connected: ws.connected,
            reconnects: ws.reconnects,
            resyncs: ws.resyncs,
            gaps: ws.gaps,
            ws_frames: ws.frames,
            feed_lag_p50_ms: self.feed_clock.lag_percentile_ms(50),
            feed_lag_p99_ms: self.feed_clock.lag_percentile_ms(99),
            clock_offset_ms: self.feed_clock.reported_offset_ms(),
            rejects: self.gateway.rejects(),
            business_reject_streak: self.engine.business_reject_streak(),
            read_tokens: budget.read_available,
            read_capacity: budget.read.capacity,
            write_tokens: budget.write_available,
            write_capacity: budget.write.capacity,
            cancels_waiting: budget.cancels_waiting,
            writes_in_flight: self.gateway.in_flight(),
            last_reconcile_wall_ms: self.last_reconcile_wall_ms,
            reconcile_failures: self.reconcile_failures,
            journal_dropped: self.journal.as_ref().map_or(0, |j| {
                j.stats().dropped.load(std::sync::atomic::Ordering::Relaxed)
            }),
            exchange_trading_active: self.exchange_trading_active,
        };
        let mut kill = self.kill.progress.clone();
        kill.cancels_pending = snap.orders.len();
        snap.kill = kill;
        let _ = self.snapshots.send(Arc::new(snap));
    }
}

/// The refusal a new order or amend gets while the exchange is closed or paused.
fn closed_refusal(intent: &OrderIntent) -> Option<GatewayResult> {
    let (client_order_id, write) = match intent {
        OrderIntent::Place {
            client_order_id, ..
        } => (
            client_order_id.clone(),
            crate::core::engine::WriteKind::Place,
        ),
        OrderIntent::Amend {
            client_order_id, ..
        } => (
            client_order_id.clone(),
            crate::core::engine::WriteKind::Amend,
        ),
        _ => return None,
    };
    Some(GatewayResult::Rejected {
        client_order_id,
        write,
        http_status: None,
        code: "trading_paused".to_string(),
        details: "the exchange is closed or paused (status or schedule); not sent".to_string(),
    })
}

/// The engine's kill step: what the executor sends itself.
fn is_kill_wave(intent: &OrderIntent) -> bool {
    matches!(
        intent,
        OrderIntent::CancelAll | OrderIntent::TriggerOrderGroups | OrderIntent::Cancel { .. }
    )
}

/// An audit as a journal row: its kind, the ids it names for lookups, and itself as JSON.
pub fn journal_record(audit: &AuditEvent) -> JournalRecord {
    let payload = serde_json::to_value(audit).unwrap_or(serde_json::Value::Null);
    let event = payload.get("event");
    let kind = event
        .and_then(|e| e.get("kind"))
        .and_then(|k| k.as_str())
        .unwrap_or("audit")
        .to_string();
    let find = |key: &str| -> Option<String> {
        let event = event?;
        event
            .get(key)
            .or_else(|| event.get("intent").and_then(|i| i.get(key)))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    JournalRecord {
        ts_ms: audit.wall_ms,
        mode: Mode::Live,
        kind,
        ticker: find("ticker"),
        client_order_id: find("client_order_id"),
        order_id: find("order_id"),
        trade_id: find("trade_id"),
        payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::order::ClientOrderId;

    #[test]
    fn audits_become_journal_rows_with_their_ids() {
        let audit = AuditEvent {
            seq: 7,
            mono_ns: 1,
            wall_ms: 1_700_000_000_000,
            event: AuditKind::IntentEmitted {
                origin: crate::core::engine::Origin::Strategy,
                intent: OrderIntent::Cancel {
                    order_id: Some(OrderId::new("o-1")),
                    client_order_id: ClientOrderId::new("c-1"),
                    ticker: Ticker::from("MKT"),
                },
            },
        };
        let row = journal_record(&audit);
        assert_eq!(row.kind, "intent_emitted");
        assert_eq!(row.ticker.as_deref(), Some("MKT"));
        assert_eq!(row.client_order_id.as_deref(), Some("c-1"));
        assert_eq!(row.order_id.as_deref(), Some("o-1"));
        assert_eq!(row.ts_ms, 1_700_000_000_000);
        assert_eq!(row.payload["seq"], 7);
    }
}
