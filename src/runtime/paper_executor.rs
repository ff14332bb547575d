//! Paper mode: the desk runs exactly as live — same engine task, WS client, risk gate, TUI —
//! except at the gateway seam, where intents go to a local exchange ([`LocalExchange`] on
//! `core::fill_model`) instead of REST. Our orders join behind the size the live book shows at
//! their price and fill only when the feed's trades clear the queue ahead. Nothing here can
//! reach an exchange write endpoint: the paper gateway holds no REST client, and start-up
//! and account reads are answered locally, so the real account's orders, fills and positions
//! never mix with paper ones.
//!
//! * The gateway side ([`PaperExecutor`]) executes intents and sends the answers and fills to
//!   the engine task in order, on one channel (fills first, then the answer, as Kalshi's
//!   private feed usually beats the REST reply).
//! * The engine-task side ([`PaperLink`]) shows the local exchange each market input before
//!   the engine sees it, so a resting order fills on the same trade the engine sees; and it
//!   answers reconciliation reads from the local exchange.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::core::engine::{GatewayResult, Input, MarketInput, OrderIntent, PrivateInput};
use crate::core::fill_model::RestingOrder;
use crate::core::num::Money;
use crate::kalshi::rest::RestClient;
use crate::replay::feed::header_markets;
use crate::replay::local::{LocalEvent, LocalExchange};
use crate::runtime::clock;
use crate::runtime::desk::DeskConfig;
use crate::runtime::kill::{HaltFlag, KillOutcome, KillReport, StepResult, SweepRecord};
use crate::runtime::reconcile::{ReadOutcome, ReadRequest};
use crate::runtime::startup::StartupReport;
use crate::store::journal::{HaltRecord, HaltState};

/// Prefix of paper order and trade ids: they never look like the exchange's.
pub const PAPER_ID_PREFIX: &str = "paper";

/// How often resting paper orders are checked against their `expiration_time`.
const EXPIRY_EVERY: Duration = Duration::from_millis(100);

/// What a paper desk starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperSettings {
    pub starting_cash: Money,
    /// One-way delay from an intent to the local book, ms: what a real order would travel
    /// (and the book would move meanwhile).
    pub latency_ms: u64,
}

impl Default for PaperSettings {
    fn default() -> PaperSettings {
        PaperSettings {
            starting_cash: Money::from_micros(10_000_000_000),
            latency_ms: 50,
        }
    }
}

/// The local exchange, shared by the paper gateway (writes) and the engine task (market data,
/// reads).
#[derive(Debug, Clone)]
pub struct PaperExchange {
    inner: Arc<Mutex<LocalExchange>>,
}

impl Default for PaperExchange {
    fn default() -> PaperExchange {
        PaperExchange::new()
    }
}

impl PaperExchange {
    pub fn new() -> PaperExchange {
        PaperExchange {
            inner: Arc::new(Mutex::new(LocalExchange::new(PAPER_ID_PREFIX))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LocalExchange> {
        // The state is plain data: a panic elsewhere while holding the lock cannot leave it
        // half-updated in a way a reader must not see.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One input on its way to the engine: if it is market data, the fills it causes.
    pub fn on_input(&self, input: &Input, now_ms: i64) -> Vec<Input> {
        let Input::Market(market) = input else {
            return Vec::new();
        };
        self.lock()
            .on_market(market, now_ms)
            .into_iter()
            .map(|fill| LocalEvent::Fill(fill).into_input())
            .collect()
    }

    /// Execute one intent: the engine inputs it produces, in order.
    pub fn execute(&self, intent: OrderIntent, now_ms: i64) -> Vec<Input> {
        self.lock()
            .execute(intent, now_ms)
            .into_iter()
            .map(LocalEvent::into_input)
            .collect()
    }

    /// Orders past their `expiration_time`, cancelled.
    pub fn expire(&self, now_ms: i64) -> Vec<Input> {
        self.lock()
            .expire(now_ms)
            .into_iter()
            .map(LocalEvent::into_input)
            .collect()
    }

    /// The kill on a paper desk: every resting paper order cancelled on the local exchange (the
    /// answers are the engine's inputs), then flat, since nothing rests anywhere else.
    pub fn kill(&self, halted: &HaltFlag) -> (Vec<Input>, KillReport) {
        let start_mono = halted.halted_at_mono_ns().unwrap_or_else(clock::mono_ns);
        let halted_at_wall_ms = halted.halted_at_wall_ms().unwrap_or_else(clock::wall_ms);
        let inputs = self.execute(OrderIntent::CancelAll, clock::wall_ms());
        let cancelled = inputs
            .iter()
            .filter(|i| matches!(i, Input::Gateway(GatewayResult::Canceled { .. })))
            .count();
        let resting = self.resting_count();
        let flat = resting == 0;
        let report = KillReport {
            outcome: if flat {
                KillOutcome::Flat
            } else {
                KillOutcome::NotFlat
            },
            alarm: (!flat).then(|| format!("{resting} paper orders still resting")),
            halted_at_wall_ms,
            finished_wall_ms: clock::wall_ms(),
            time_to_flat_us: flat.then(|| clock::mono_ns().saturating_sub(start_mono) / 1_000),
            cancel_all: StepResult::Done,
            batch_cancel: StepResult::Skipped,
            known_cancelled: cancelled,
            known_cancel_failed: 0,
            groups_triggered: Vec::new(),
            group_errors: Vec::new(),
            sweeps: vec![SweepRecord {
                resting_seen: Some(resting),
                read_newer_than_writes: true,
                cancelled,
                cancel_failed: 0,
                error: None,
            }],
            unknown_resolved: 0,
            unknown_unresolved: Vec::new(),
            still_resting: Vec::new(),
        };
        (inputs, report)
    }

    /// Our resting paper orders in one market, with the queue ahead of each.
    pub fn resting(&self, ticker: &str) -> Vec<RestingOrder> {
        self.lock().model().resting(ticker).to_vec()
    }

    /// Our resting paper orders.
    pub fn resting_count(&self) -> usize {
        self.lock().model().resting_count()
    }

    /// A reconciliation read of the paper account. Fills, orders and positions already reached
    /// the engine in-process, in order and without loss, so there is nothing to re-read; the
    /// resting count is what the kill's "flat" test needs.
    pub fn read(&self, request: &ReadRequest) -> ReadOutcome {
        ReadOutcome {
            purpose: request.purpose,
            inputs: Vec::new(),
            resting: Some(self.resting_count()),
            read_started_ns: clock::mono_ns(),
            newest_fill_ms: None,
            error: None,
        }
    }
}

/// The gateway's side of paper mode.
#[derive(Debug)]
pub struct PaperExecutor {
    pub exchange: PaperExchange,
    /// One-way delay before an intent reaches the local book.
    pub latency: Duration,
    /// Answers and fills, in order, to the engine task.
    pub inputs: mpsc::UnboundedSender<Input>,
}

/// The engine task's side of paper mode.
#[derive(Debug)]
pub struct PaperLink {
    pub exchange: PaperExchange,
    pub inputs: mpsc::UnboundedReceiver<Input>,
}

/// Both sides of one paper exchange.
pub fn link(exchange: &PaperExchange, settings: &PaperSettings) -> (PaperExecutor, PaperLink) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        PaperExecutor {
            exchange: exchange.clone(),
            latency: Duration::from_millis(settings.latency_ms),
            inputs: tx,
        },
        PaperLink {
            exchange: exchange.clone(),
            inputs: rx,
        },
    )
}

impl PaperExecutor {
    fn send(&self, inputs: Vec<Input>) {
        for input in inputs {
            let _ = self.inputs.send(input);
        }
    }

    /// Execute one intent locally.
    pub(crate) fn execute(&self, intent: OrderIntent) {
        let inputs = self.exchange.execute(intent, clock::wall_ms());
        self.send(inputs);
    }

    /// Run the expiry timer until shutdown; intents arrive through [`PaperExecutor::execute`].
    pub(crate) async fn expire_until(&self, shutdown: &mut watch::Receiver<bool>) {
        let mut timer = tokio::time::interval(EXPIRY_EVERY);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                _ = timer.tick() => {
                    let inputs = self.exchange.expire(clock::wall_ms());
                    self.send(inputs);
                }
            }
        }
    }
}

/// Start-up of a paper desk: the watchlist's reference data and fee types from the exchange
/// (reads only), the paper account's cash, and the paper journal's last halt. The real
/// account's orders and positions are not read: they are not the paper account's.
pub async fn prepare(
    rest: &RestClient,
    config: &DeskConfig,
    settings: &PaperSettings,
    exchange: &PaperExchange,
    last_halt: Option<&HaltRecord>,
) -> Result<StartupReport, String> {
    let mut report = crate::runtime::startup::begin(rest).await;
    let wanted: Vec<String> = config
        .watchlist
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    let (_, header) = crate::replay::record::describe(rest, &wanted, &config.environment, true)
        .await
        .map_err(|e| e.to_string())?;
    let described = header_markets(&header);
    for ticker in &config.watchlist {
        let Some(info) = described.infos.iter().find(|i| &i.ticker == ticker) else {
            return Err(format!("market {ticker}: not listed by the exchange"));
        };
        report
            .inputs
            .push(Input::Market(MarketInput::Info(info.clone())));
    }
    {
        let mut local = exchange.lock();
        for (ticker, fees) in &described.fees {
            local.set_fees(ticker, *fees);
        }
    }
    report.inputs.push(Input::Private(PrivateInput::Balance {
        available: settings.starting_cash,
        as_of_ms: Some(report.read_wall_ms),
    }));
    report.started_halted = last_halt
        .filter(|halt| halt.state != HaltState::Reset)
        .map(|halt| format!("the last paper run stopped halted ({})", halt.reason));
    Ok(report)
}
