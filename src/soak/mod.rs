//! The fault soak (`kdesk soak --minutes N`, and its short form in the integration tests).
//!
//! The real desk (`runtime::desk`) runs against the in-process simulator over loopback with the
//! `maker` strategy armed on many markets, the simulator's synthetic flow trading, and every
//! fault mode on: random WS resets, duplicate and delayed frames, sequence skips, REST latency,
//! 5xx (cancel-all included), lost answers and 429s, plus scripted episodes (429 storms, a
//! forced WS drop, a frozen book, an exchange trading pause) and a manual kill and reset in the
//! middle. After the flow, the soak quiesces (disarms, turns the faults off, lets the desk
//! reconcile) and compares the end state with the exchange's ([`check`]); [`report`] prints
//! the counts and the verdicts.
//!
//! Waits are on the desk's snapshots and audits with generous timeouts; the only timed sleeps
//! are the schedule of the episodes themselves (the point is to let flow happen).

pub mod check;
pub mod report;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::core::control::{MarketState, TradingState};
use crate::core::engine::{
    AuditEvent, AuditKind, Command, ConfirmAction, ManualOrder, OrderIntent,
};
use crate::core::market::{MarketStatus, Ticker};
use crate::core::num::{Count, Money, Price};
use crate::core::order::{OrderOwner, OrderSide};
use crate::core::risk::{RiskLimits, TimeInForce};
use crate::core::strategy::{MakerParams, StrategyParams};
use crate::kalshi::ratelimit::{LimiterConfig, Tier as ClientTier};
use crate::runtime::clock;
use crate::runtime::desk::{
    self, DeskConfig, DeskError, DeskHandle, DeskSnapshot, DeskTiming, KillPhase,
};
use crate::sim::exchange::types::{OrderStatus as SimOrderStatus, WriteKind, WriteOutcome};
use crate::sim::faults::{ExchangeFaults, FaultConfig, MarketFaults, RestFaults, WsFaults};
use crate::sim::server::ratelimit::Tier as SimTier;
use crate::sim::server::{SimConfig, SimError, SimHandle, SimServer};
use crate::store::journal::{Journal, JournalError, Mode};
use check::{AcceptedWrite, BookLevels, CheckOutcome, HaltSeen, HaltWindow, RestingOrder};
use report::{Activity, Episodes, Recoveries, SoakReport};

/// The monotonic clock, read through the runtime's one clock.
fn now() -> Instant {
    Instant::from_std(clock::instant())
}

/// The reason the soak's own kill carries; halts naming it are expected.
pub const MANUAL_KILL_REASON: &str = "soak manual kill";

/// Writes accepted this soon after the halt instant were already on the wire when the key was
/// pressed (loopback round trips are well under this, even in a debug build).
pub const IN_FLIGHT_GRACE_MS: i64 = 50;

/// Strategies may not arm within a minute of a cancel-all (Kalshi may cancel what is placed in
/// that minute); the soak re-arms a little after.
const REARM_AFTER_KILL: Duration = Duration::from_secs(62);

/// Longest wait for one thing the desk should do (books, flat, reconciled).
const WAIT: Duration = Duration::from_secs(90);

/// How a soak is run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Flow with faults, from arming to quiescing.
    pub duration: Duration,
    /// Markets the maker is armed on.
    pub markets: usize,
    /// Seed of the market flow and of the random faults.
    pub seed: u64,
    /// Keys, journal and lock live here.
    pub work_dir: PathBuf,
    /// The random faults on for the whole flow.
    pub background: FaultConfig,
    /// Print a line per episode to stderr.
    pub verbose: bool,
}

impl SoakConfig {
    /// A soak of `duration` in `work_dir` with the standard fault mix.
    pub fn new(duration: Duration, work_dir: PathBuf) -> SoakConfig {
        SoakConfig {
            duration,
            markets: 24,
            seed: 7,
            work_dir,
            background: background_faults(),
            verbose: false,
        }
    }
}

/// The random faults the whole flow runs under: frequent enough that every kind fires in a
/// short soak, rare enough that the desk still trades between them.
pub fn background_faults() -> FaultConfig {
    FaultConfig {
        ws: WsFaults {
            drop_every_n_messages: 0,
            drop_rate: 0.0005,
            skip_seq_every_n: 97,
            duplicate_rate: 0.01,
            delay_rate: 0.003,
            delay_ms: 250,
        },
        rest: RestFaults {
            latency_ms: 3,
            error_5xx_rate: 0.02,
            cancel_all_5xx_rate: 0.5,
            lost_answer_rate: 0.02,
            storm_429_rate: 0.01,
        },
        market: MarketFaults::default(),
        exchange: ExchangeFaults::default(),
    }
}

/// Why a soak could not run to its checks (a failed check is a report, not an error).
#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    #[error("simulator: {0}")]
    Sim(#[from] SimError),
    #[error("desk: {0}")]
    Desk(#[from] DeskError),
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("work directory {path}: {reason}")]
    WorkDir { path: String, reason: String },
    #[error("the simulator has only {found} markets open past the soak, {wanted} wanted")]
    TooFewMarkets { found: usize, wanted: usize },
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("the desk stopped while waiting for {0}")]
    DeskStopped(String),
}

/// Panics in library code (src/…) while soaks run; tests elsewhere in the process that panic on
/// purpose are in tests/ and not counted.
fn panics() -> &'static Mutex<Vec<String>> {
    static PANICS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    static HOOK: OnceLock<()> = OnceLock::new();
    let panics = PANICS.get_or_init(|| Mutex::new(Vec::new()));
    HOOK.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(location) = info.location()
                && location.file().starts_with("src/")
                && let Some(store) = PANICS.get()
            {
                let mut store = match store.lock() {
                    Ok(store) => store,
                    Err(poisoned) => poisoned.into_inner(),
                };
                store.push(format!("{location}: {info}"));
            }
            previous(info);
        }));
    });
    panics
}

fn panics_so_far() -> Vec<String> {
    match panics().lock() {
        Ok(list) => list.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// What the audit stream showed, tallied as it arrives.
#[derive(Debug, Default)]
struct AuditTally {
    halts: Vec<HaltSeen>,
    unknown: u64,
    unknown_resolved: u64,
    duplicate_fills: u64,
    fills: u64,
    places: u64,
    rejects: u64,
    business_rejects: u64,
    reject_codes: BTreeMap<String, u64>,
    drifts: u64,
    alarms: u64,
    lagged: u64,
}

fn tally_audit(tally: &mut AuditTally, audit: &AuditEvent) {
    match &audit.event {
        AuditKind::TradingChanged {
            state: TradingState::Halted { reason, at_wall_ms },
        } => tally.halts.push(HaltSeen {
            wall_ms: *at_wall_ms,
            reason: reason.clone(),
        }),
        AuditKind::OrderUnknown { .. } => tally.unknown += 1,
        AuditKind::UnknownResolved { .. } => tally.unknown_resolved += 1,
        AuditKind::DuplicateFill { .. } => tally.duplicate_fills += 1,
        AuditKind::Fill { .. } => tally.fills += 1,
        AuditKind::IntentEmitted {
            intent: OrderIntent::Place { .. },
            ..
        } => tally.places += 1,
        AuditKind::OrderRejected { business, code, .. } => {
            tally.rejects += 1;
            let code = code.split(':').next().unwrap_or_default();
            *tally.reject_codes.entry(code.to_string()).or_default() += 1;
            if *business {
                tally.business_rejects += 1;
            }
        }
        AuditKind::PositionDrift { .. } => tally.drifts += 1,
        AuditKind::Alarm(_) => tally.alarms += 1,
        _ => {}
    }
}

fn spawn_tally(
    mut audits: broadcast::Receiver<AuditEvent>,
) -> (Arc<Mutex<AuditTally>>, tokio::task::JoinHandle<()>) {
    let tally = Arc::new(Mutex::new(AuditTally::default()));
    let shared = tally.clone();
    let task = tokio::spawn(async move {
        loop {
            let received = audits.recv().await;
            let mut tally = match shared.lock() {
                Ok(tally) => tally,
                Err(poisoned) => poisoned.into_inner(),
            };
            match received {
                Ok(audit) => tally_audit(&mut tally, &audit),
                Err(broadcast::error::RecvError::Lagged(missed)) => tally.lagged += missed,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    (tally, task)
}

fn lock_tally(tally: &Mutex<AuditTally>) -> std::sync::MutexGuard<'_, AuditTally> {
    match tally.lock() {
        Ok(tally) => tally,
        Err(poisoned) => poisoned.into_inner(),
    }
}

async fn wait_snapshot(
    desk: &DeskHandle,
    what: &str,
    timeout: Duration,
    ok: impl Fn(&DeskSnapshot) -> bool,
) -> Result<Arc<DeskSnapshot>, SoakError> {
    desk.wait_for_snapshot(timeout, ok)
        .await
        .map_err(|error| match error {
            DeskError::WaitTimedOut(_) => SoakError::Timeout(what.to_string()),
            _ => SoakError::DeskStopped(what.to_string()),
        })
}

async fn wait_audit<T>(
    audits: &mut broadcast::Receiver<AuditEvent>,
    what: &str,
    pick: impl Fn(&AuditKind) -> Option<T>,
) -> Result<T, SoakError> {
    let found = tokio::time::timeout(WAIT, async {
        loop {
            match audits.recv().await {
                Ok(audit) => {
                    if let Some(found) = pick(&audit.event) {
                        return Ok(found);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(SoakError::DeskStopped(what.to_string()));
                }
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| Err(SoakError::Timeout(what.to_string())))
}

/// The soak's scripted steps, in time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    StormOn,
    StormOff,
    LoseAnswers,
    LoseAnswersOff,
    DropFeed,
    DropFeedOff,
    Freeze,
    Unfreeze,
    PauseTrading,
    ResumeTrading,
    KillAndReset,
    Rearm,
}

/// The steps of a soak of `duration`: offsets from the start of the flow.
fn schedule(duration: Duration) -> Vec<(Duration, Step)> {
    let at = |fraction: f64| duration.mul_f64(fraction);
    let short = |cap_s: f64, fraction: f64| {
        Duration::from_secs_f64(cap_s.min(duration.as_secs_f64() * fraction))
    };
    let mut steps = vec![
        // Lost answers are rare in the background flow; a burst makes sure a short soak sees
        // creates and amends whose answers never came (the UNKNOWN path). It ends before the
        // first storm: a 429 comes before any answer could be lost.
        (at(0.05), Step::LoseAnswers),
        (at(0.05) + short(2.0, 0.04), Step::LoseAnswersOff),
        (at(0.10), Step::StormOn),
        (at(0.10) + short(1.5, 0.05), Step::StormOff),
        (at(0.15), Step::DropFeed),
        (at(0.15) + short(1.0, 0.03), Step::DropFeedOff),
        (at(0.20), Step::Freeze),
        (at(0.36), Step::Unfreeze),
        (at(0.26), Step::PauseTrading),
        (at(0.26) + short(4.0, 0.08), Step::ResumeTrading),
        (at(0.45), Step::KillAndReset),
        (at(0.70), Step::StormOn),
        (at(0.70) + short(1.5, 0.05), Step::StormOff),
    ];
    steps.sort();
    steps
}

/// Everything the soak holds while it runs.
struct Soak {
    config: SoakConfig,
    sim: SimHandle,
    desk: DeskHandle,
    markets: Vec<Ticker>,
    episodes: Episodes,
    halt_windows: Vec<HaltWindow>,
    kill_instant: Option<Instant>,
    time_to_flat_ms: Option<u64>,
    /// Steps whose wait for the desk ran out.
    script_problems: Vec<String>,
    /// Answers the simulator had lost when the lost-answer burst began.
    lost_before_burst: u64,
    /// Frames the simulator had withheld when a book was frozen (`None`: nothing frozen).
    withheld_before_freeze: Option<u64>,
}

impl Soak {
    fn log(&self, started: Instant, text: &str) {
        if self.config.verbose {
            eprintln!("[soak {:>6.1}s] {text}", started.elapsed().as_secs_f64());
        }
    }

    fn set_faults(&self, change: impl FnOnce(&mut FaultConfig)) {
        // Only a rate outside 0..1 is refused, and every rate here is a constant.
        let _ = self.sim.faults().update(change);
    }

    /// The market that has traded most so far (a frozen quiet book would prove little);
    /// skips the markets that get the operator's orders after the reset.
    fn busiest_market(&self) -> Option<Ticker> {
        let candidates: Vec<&Ticker> = self
            .markets
            .iter()
            .filter(|t| !self.manual_markets().contains(t))
            .collect();
        let trades: BTreeMap<&str, usize> = self.sim.with_exchange(|exchange| {
            let mut trades = BTreeMap::new();
            for trade in exchange.trade_records() {
                *trades.entry(trade.ticker.as_str()).or_default() += 1;
            }
            candidates
                .iter()
                .map(|t| (t.as_str(), trades.get(t.as_str()).copied().unwrap_or(0)))
                .collect()
        });
        candidates
            .into_iter()
            .max_by_key(|t| {
                (
                    trades.get(t.as_str()).copied().unwrap_or(0),
                    std::cmp::Reverse((*t).clone()),
                )
            })
            .cloned()
    }

    /// Markets that get one of the operator's orders after the reset.
    fn manual_markets(&self) -> Vec<&Ticker> {
        self.markets.iter().skip(1).take(4).collect()
    }

    async fn arm_all(&self) -> Result<(), SoakError> {
        for ticker in &self.markets {
            self.desk
                .send(Command::Arm {
                    ticker: ticker.clone(),
                })
                .await?;
        }
        Ok(())
    }

    async fn step(&mut self, step: Step, started: Instant) -> Result<(), SoakError> {
        self.log(started, &format!("{step:?}"));
        let background = self.config.background.clone();
        match step {
            Step::StormOn => {
                self.episodes.storms_429 += 1;
                self.set_faults(|f| f.rest.storm_429_rate = 1.0);
            }
            Step::StormOff => {
                self.set_faults(|f| f.rest.storm_429_rate = background.rest.storm_429_rate);
            }
            Step::LoseAnswers => {
                self.episodes.lost_answer_bursts += 1;
                self.lost_before_burst = self.sim.faults().injected().lost_answers;
                self.set_faults(|f| f.rest.lost_answer_rate = 0.5);
            }
            Step::LoseAnswersOff => {
                // The burst lasts until it has cost the desk an answer: on a loaded machine its
                // nominal window can pass without one write reaching the exchange. Snapshots
                // keep coming while books move, so each one re-checks the count.
                let before = self.lost_before_burst;
                let faults = self.sim.faults();
                let lost = wait_snapshot(&self.desk, "an answer lost in the burst", WAIT, |_| {
                    faults.injected().lost_answers > before
                })
                .await;
                self.set_faults(|f| f.rest.lost_answer_rate = background.rest.lost_answer_rate);
                lost?;
            }
            Step::DropFeed => {
                self.episodes.forced_ws_drops += 1;
                self.set_faults(|f| f.ws.drop_every_n_messages = 3);
            }
            Step::DropFeedOff => {
                self.set_faults(|f| {
                    f.ws.drop_every_n_messages = background.ws.drop_every_n_messages;
                });
            }
            Step::Freeze => {
                if let Some(ticker) = self.busiest_market() {
                    self.episodes.frozen_books += 1;
                    self.withheld_before_freeze = Some(self.sim.faults().injected().frozen_frames);
                    self.set_faults(|f| {
                        f.market.frozen_books.insert(ticker.to_string());
                    });
                }
            }
            Step::Unfreeze => {
                // As with lost answers: the freeze lasts until it has withheld a frame, as a
                // quiet market on a loaded machine may send none in the nominal window.
                let withheld = match self.withheld_before_freeze.take() {
                    Some(before) => {
                        let faults = self.sim.faults();
                        wait_snapshot(&self.desk, "a frame withheld by the freeze", WAIT, |_| {
                            faults.injected().frozen_frames > before
                        })
                        .await
                        .map(|_| ())
                    }
                    None => Ok(()),
                };
                self.set_faults(|f| f.market.frozen_books.clear());
                withheld?;
            }
            Step::PauseTrading => {
                self.episodes.trading_pauses += 1;
                self.sim.set_trading_paused(true);
            }
            Step::ResumeTrading => self.sim.set_trading_paused(false),
            Step::KillAndReset => self.kill_and_reset(started).await?,
            Step::Rearm => {
                self.episodes.rearms += 1;
                self.arm_all().await?;
            }
        }
        Ok(())
    }

    /// The operator's kill switch mid-flow, faults still on; once flat, a confirmed reset and a
    /// few manual orders (which must be accepted again).
    async fn kill_and_reset(&mut self, started: Instant) -> Result<(), SoakError> {
        self.episodes.kills += 1;
        // The kill's cancel-all fails: the desk must fall back to per-order cancels and sweeps.
        self.set_faults(|f| f.rest.cancel_all_5xx_rate = 1.0);
        self.kill_instant = Some(now());
        let kill_wall = clock::wall_ms();
        self.desk.kill(MANUAL_KILL_REASON);
        // Already halted (by something else) keeps the earlier instant: halted since then.
        let halted_at = self
            .desk
            .halt_flag()
            .halted_at_wall_ms()
            .unwrap_or(kill_wall)
            .min(kill_wall);
        self.halt_windows.push(HaltWindow {
            from_ms: halted_at,
            to_ms: i64::MAX,
        });
        // Flat for this kill, not a flat left over from an earlier one.
        let flat = wait_snapshot(&self.desk, "flat after the kill", WAIT, |s| {
            matches!(s.kill.phase, KillPhase::Flat | KillPhase::Failed)
                && s.kill.started_wall_ms.is_some_and(|at| at >= kill_wall)
        })
        .await?;
        self.time_to_flat_ms = flat.kill.time_to_flat_ms;
        let background = self.config.background.rest.cancel_all_5xx_rate;
        self.set_faults(|f| f.rest.cancel_all_5xx_rate = background);
        self.log(
            started,
            &format!(
                "kill {:?} after {} sweeps, time to flat {:?} ms",
                flat.kill.phase, flat.kill.sweeps, flat.kill.time_to_flat_ms
            ),
        );

        let mut audits = self.desk.subscribe_audits();
        self.desk
            .send(Command::RequestConfirmation {
                action: ConfirmAction::ResetHalt,
            })
            .await?;
        let token = wait_audit(&mut audits, "the reset confirmation", |e| match e {
            AuditKind::ConfirmationIssued {
                action: ConfirmAction::ResetHalt,
                token,
            } => Some(*token),
            _ => None,
        })
        .await?;
        let reset_at = clock::wall_ms();
        self.desk.send(Command::ResetHalt { token }).await?;
        let reset = wait_audit(&mut audits, "ACTIVE after the reset", |e| match e {
            AuditKind::TradingChanged {
                state: TradingState::Active,
            } => Some(Ok(())),
            AuditKind::CommandRefused { command, reason } if command == "reset_halt" => {
                Some(Err(reason.clone()))
            }
            _ => None,
        })
        .await?;
        if let Err(reason) = reset {
            self.script_problems
                .push(format!("the reset was refused: {reason}"));
            return Ok(());
        }
        self.episodes.resets += 1;
        if let Some(window) = self.halt_windows.last_mut() {
            window.to_ms = reset_at;
        }

        // Operator orders a few cents under the best bid: they rest through the rest of the soak
        // (the strategy never touches them) and are compared with the exchange at the end.
        let snapshot = self.desk.snapshot();
        for ticker in self.manual_markets() {
            let best_bid = snapshot
                .market(ticker.as_str())
                .and_then(|m| m.yes_bids.first().map(|l| l.price));
            let Some(best_bid) = best_bid else { continue };
            let price = Price::from_cents((best_bid.micros() / 10_000 - 4).max(1));
            let Some(price) = price else { continue };
            self.desk
                .send(Command::PlaceManual(ManualOrder {
                    ticker: ticker.clone(),
                    side: OrderSide::Bid,
                    price,
                    count: Count::from_contracts(1),
                    time_in_force: TimeInForce::GoodTillCanceled,
                    post_only: false,
                    reduce_only: false,
                    expiration_s: None,
                }))
                .await?;
        }
        Ok(())
    }

    /// Disarm, faults off, and wait for the desk to settle: connected, no resync running, no
    /// strategy order left, no write in flight.
    async fn quiesce(&mut self, started: Instant) -> Result<(), SoakError> {
        self.log(started, "quiesce: disarm, faults off");
        self.sim.faults().set(FaultConfig::default()).ok();
        self.sim.set_trading_paused(false);
        for ticker in &self.markets {
            self.desk
                .send(Command::Disarm {
                    ticker: ticker.clone(),
                })
                .await?;
        }
        let markets = self.markets.clone();
        wait_snapshot(&self.desk, "a quiet desk", WAIT, move |s| {
            s.health.connected
                && s.health.writes_in_flight == 0
                && s.orders.iter().all(|o| o.owner == OrderOwner::Operator)
                && markets.iter().all(|t| {
                    s.market(t.as_str())
                        .is_some_and(|m| !m.resyncing && m.state == MarketState::Disarmed)
                })
        })
        .await?;
        Ok(())
    }

    fn exchange_resting(&self) -> Vec<RestingOrder> {
        let user = self.sim.user_id.clone();
        self.sim.with_exchange(|exchange| {
            exchange
                .order_records(&user)
                .filter(|o| o.status == SimOrderStatus::Resting)
                .map(|o| RestingOrder {
                    client_order_id: o.client_order_id.clone(),
                    ticker: o.ticker.to_string(),
                    side: format!("{:?}", o.side),
                    yes_price: o.price,
                    remaining: o.remaining,
                })
                .collect()
        })
    }

    fn exchange_positions(&self) -> BTreeMap<String, Count> {
        let user = self.sim.user_id.clone();
        self.sim.with_exchange(|exchange| {
            let Some(account) = exchange.account(&user).and_then(|a| a.subaccounts.get(&0)) else {
                return BTreeMap::new();
            };
            exchange
                .market_states()
                .map(|m| (m.ticker.to_string(), account.position(&m.ticker)))
                .filter(|(_, position)| *position != Count::ZERO)
                .collect()
        })
    }

    /// Orders and positions, compared until they agree or the wait runs out (fills of the
    /// operator's resting orders may still be arriving).
    async fn compare_orders_and_positions(&self) -> (CheckOutcome, CheckOutcome) {
        let deadline = now() + WAIT;
        let mut snapshots = self.desk.watch_snapshots();
        loop {
            let snapshot = snapshots.borrow_and_update().clone();
            let local_orders: Vec<RestingOrder> = snapshot
                .orders
                .iter()
                .map(|o| RestingOrder {
                    client_order_id: o.current_client_order_id.as_str().to_string(),
                    ticker: o.ticker.to_string(),
                    side: format!("{:?}", o.side),
                    yes_price: o.yes_price,
                    remaining: o.remaining_count,
                })
                .collect();
            let local_positions: BTreeMap<String, Count> = snapshot
                .markets
                .iter()
                .map(|m| (m.ticker.to_string(), m.position.contracts))
                .collect();
            let orders = check::compare_orders(&local_orders, &self.exchange_resting());
            let positions = check::compare_positions(&local_positions, &self.exchange_positions());
            if (orders.passed && positions.passed) || now() >= deadline {
                return (orders, positions);
            }
            let _ = tokio::time::timeout_at(deadline, snapshots.changed()).await;
        }
    }

    /// Every armed market's book against the REST orderbook, retried per market while the
    /// flow keeps moving them (a wrong book stays wrong; a moving one agrees within a few tries).
    async fn compare_books(&self) -> CheckOutcome {
        let deadline = now() + WAIT;
        let mut pending: Vec<Ticker> = self.markets.clone();
        let mut last_local = BTreeMap::new();
        let mut last_exchange = BTreeMap::new();
        let mut snapshots = self.desk.watch_snapshots();
        while !pending.is_empty() && now() < deadline {
            let answer = self.desk.rest().orderbooks(&pending).await;
            let snapshot = snapshots.borrow_and_update().clone();
            if let Ok(answer) = answer {
                for book in &answer.orderbooks {
                    let exchange = BookLevels::from_rest(&book.orderbook_fp);
                    let local = snapshot
                        .market(book.ticker.as_str())
                        .map(|m| BookLevels {
                            yes_bids: m.yes_bids.iter().map(|l| (l.price, l.size)).collect(),
                            yes_asks: m.yes_asks.iter().map(|l| (l.price, l.size)).collect(),
                        })
                        .unwrap_or_default();
                    if local == exchange {
                        pending.retain(|t| *t != book.ticker);
                        last_local.remove(book.ticker.as_str());
                        last_exchange.remove(book.ticker.as_str());
                    } else {
                        last_local.insert(book.ticker.to_string(), local);
                        last_exchange.insert(book.ticker.to_string(), exchange);
                    }
                }
            }
            if !pending.is_empty() {
                let _ = tokio::time::timeout_at(deadline, snapshots.changed()).await;
            }
        }
        let mut outcome = check::compare_books(&last_local, &last_exchange);
        for ticker in pending
            .iter()
            .filter(|t| !last_exchange.contains_key(t.as_str()))
        {
            outcome.passed = false;
            outcome.detail = format!(
                "{ticker}: the REST orderbook never answered; {}",
                outcome.detail
            );
        }
        if outcome.passed {
            outcome.detail = format!("{} books, every level", self.markets.len());
        }
        outcome
    }
}

/// Active markets that stay open well past the soak, latest-closing first.
fn pick_markets(
    sim: &SimHandle,
    wanted: usize,
    open_until_ms: i64,
) -> Result<Vec<Ticker>, SoakError> {
    let mut open: Vec<(i64, Ticker)> = sim.with_exchange(|exchange| {
        exchange
            .market_states()
            .filter(|m| m.status == MarketStatus::Active && m.close_ms > open_until_ms)
            .map(|m| (m.close_ms, m.ticker.clone()))
            .collect()
    });
    if open.len() < wanted {
        return Err(SoakError::TooFewMarkets {
            found: open.len(),
            wanted,
        });
    }
    open.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut picked: Vec<Ticker> = open.into_iter().take(wanted).map(|(_, t)| t).collect();
    picked.sort();
    Ok(picked)
}

fn maker_params() -> StrategyParams {
    StrategyParams::Maker(MakerParams {
        size: Count::from_contracts(1),
        half_spread: Money::from_cents(2),
        requote_threshold: Money::from_cents(2),
        stale_book_ms: 5_000,
        ..MakerParams::default()
    })
}

fn soak_limits() -> RiskLimits {
    RiskLimits {
        // Two dozen markets arming at once place about fifty quotes in a second.
        max_orders_per_window: 200,
        runaway_orders_per_window: 400,
        max_open_orders: 400,
        collar: Money::from_cents(20),
        ..RiskLimits::default()
    }
}

fn desk_config(config: &SoakConfig, sim: &SimHandle, markets: &[Ticker]) -> DeskConfig {
    let mut desk = DeskConfig::new(
        "sim",
        &sim.rest_base_url,
        &sim.ws_url,
        &sim.key_id,
        sim.key_file.clone(),
    );
    desk.watchlist = markets.to_vec();
    desk.strategies = markets
        .iter()
        .map(|t| (t.clone(), maker_params()))
        .collect();
    desk.state_dir = Some(config.work_dir.join("state"));
    desk.journal_path = Some(config.work_dir.join("journal.sqlite"));
    desk.ws_jitter_seed = Some(config.seed);
    desk.limiter = LimiterConfig::for_tier(ClientTier::Expert);
    desk.book_depth = 1_000;
    desk.engine.limits = soak_limits();
    desk.engine.stale_book_ms = 5_000;
    desk.timing = DeskTiming {
        tick_ms: 50,
        reconcile_every_ms: 2_000,
        status_every_ms: 1_000,
        snapshot_every_ms: 20,
        sweep_every_ms: 100,
        max_sweeps: 200,
        ..DeskTiming::default()
    };
    desk
}

/// What the soak read from the exchange after the flow, for the checks that need the journal
/// (read after the desk has stopped and flushed it).
struct ExchangeRecord {
    our_trade_ids: Vec<String>,
}

impl Soak {
    /// Books ready, faults on, maker armed; then the scripted steps until the flow ends.
    /// Returns how long the flow ran.
    async fn drive(&mut self, started: Instant) -> Result<u64, SoakError> {
        let markets = self.markets.clone();
        wait_snapshot(&self.desk, "books of every market", WAIT, |s| {
            markets.iter().all(|t| {
                s.market(t.as_str())
                    .is_some_and(|m| !m.yes_bids.is_empty() || !m.yes_asks.is_empty())
            })
        })
        .await?;
        self.sim.faults().set(self.config.background.clone()).ok();
        self.arm_all().await?;
        let markets = self.markets.clone();
        wait_snapshot(&self.desk, "every market armed", WAIT, |s| {
            markets.iter().all(|t| {
                s.market(t.as_str())
                    .is_some_and(|m| m.state != MarketState::Disarmed)
            })
        })
        .await?;
        self.log(
            started,
            &format!("{} markets armed; faults on", self.markets.len()),
        );

        let flow_start = now();
        let end = flow_start + self.config.duration;
        let mut steps = schedule(self.config.duration);
        let mut next = 0;
        while next < steps.len() {
            let (offset, step) = steps[next];
            next += 1;
            tokio::time::sleep_until(flow_start + offset).await;
            match self.step(step, started).await {
                Ok(()) => {}
                // The desk did not do what the step waits for: a finding, not the end of the run.
                Err(SoakError::Timeout(what)) => {
                    self.log(started, &format!("{step:?}: timed out waiting for {what}"));
                    self.script_problems
                        .push(format!("{step:?}: timed out waiting for {what}"));
                }
                Err(error) => return Err(error),
            }
            if step == Step::KillAndReset
                && let Some(killed) = self.kill_instant
            {
                let rearm = killed + REARM_AFTER_KILL;
                // Re-arming is worth it only with time left to trade afterwards.
                if rearm + Duration::from_secs(10) < end {
                    steps.push((rearm - flow_start, Step::Rearm));
                    steps[next..].sort();
                }
            }
        }
        tokio::time::sleep_until(end.max(now())).await;
        Ok(flow_start.elapsed().as_millis() as u64)
    }

    /// Quiesce, compare, count. The journal check is added by [`run`] once the desk is down.
    async fn finish(
        &mut self,
        flow_ms: u64,
        started: Instant,
        tally: &Mutex<AuditTally>,
        panics_before: usize,
    ) -> Result<(SoakReport, ExchangeRecord), SoakError> {
        match self.quiesce(started).await {
            Ok(()) => {}
            Err(SoakError::Timeout(what)) => {
                self.script_problems
                    .push(format!("quiesce: timed out waiting for {what}"));
            }
            Err(error) => return Err(error),
        }
        self.log(started, "comparing with the exchange");
        let (orders, positions) = self.compare_orders_and_positions().await;
        let books = self.compare_books().await;
        let end_ms = clock::wall_ms();

        let user = self.sim.user_id.clone();
        let (order_ids, accepted_creates, accepted_writes, our_trade_ids) =
            self.sim.with_exchange(|exchange| {
                let order_ids: Vec<String> = exchange
                    .order_records(&user)
                    .map(|o| o.client_order_id.clone())
                    .collect();
                let ours = exchange
                    .order_log()
                    .iter()
                    .filter(|e| e.user_id == user && e.outcome == WriteOutcome::Accepted);
                let accepted_creates: Vec<String> = ours
                    .clone()
                    .filter(|e| {
                        matches!(e.kind, WriteKind::CreateOrder | WriteKind::BatchCreateItem)
                    })
                    .filter_map(|e| e.client_order_id.clone())
                    .collect();
                let accepted_writes: Vec<AcceptedWrite> = ours
                    .filter(|e| e.kind.adds_exposure())
                    .map(|e| AcceptedWrite {
                        now_ms: e.now_ms,
                        kind: format!("{:?}", e.kind),
                        client_order_id: e.client_order_id.clone(),
                    })
                    .collect();
                let our_trade_ids: Vec<String> = exchange
                    .fill_records()
                    .iter()
                    .filter(|f| f.user_id == user)
                    .map(|f| f.trade_id.clone())
                    .collect();
                (order_ids, accepted_creates, accepted_writes, our_trade_ids)
            });

        let (halts, reject_codes, tallied) = {
            let tally = lock_tally(tally);
            let mut codes: Vec<(String, u64)> = tally
                .reject_codes
                .iter()
                .map(|(code, n)| (code.clone(), *n))
                .collect();
            codes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            (
                tally.halts.clone(),
                codes,
                (
                    tally.unknown,
                    tally.unknown_resolved,
                    tally.duplicate_fills,
                    tally.fills,
                    tally.places,
                    tally.rejects,
                    tally.business_rejects,
                    tally.drifts,
                    tally.alarms,
                    tally.lagged,
                ),
            )
        };
        let (
            unknown,
            resolved,
            dup_fills,
            fills,
            places,
            rejects,
            business,
            drifts,
            alarms,
            lagged,
        ) = tallied;
        let mut windows: Vec<HaltWindow> = self
            .halt_windows
            .iter()
            .map(|w| HaltWindow {
                from_ms: w.from_ms,
                to_ms: w.to_ms.min(end_ms),
            })
            .collect();
        for halt in halts
            .iter()
            .filter(|h| !h.reason.contains(MANUAL_KILL_REASON))
        {
            windows.push(HaltWindow {
                from_ms: halt.wall_ms,
                to_ms: end_ms,
            });
        }
        let (halted_writes, in_flight) =
            check::no_writes_while_halted(&accepted_writes, &windows, IN_FLIGHT_GRACE_MS);
        let mut halted_writes = halted_writes;
        if self.episodes.kills > 0 && self.episodes.resets == 0 {
            halted_writes.passed = false;
            halted_writes.detail = format!("the kill was never reset; {}", halted_writes.detail);
        }

        let snapshot = self.desk.snapshot();
        let latency = self.desk.rest().latency();
        let unanswered: u64 = latency.snapshot().iter().map(|e| e.failures).sum();
        let panics: Vec<String> = panics_so_far().into_iter().skip(panics_before).collect();
        let report = SoakReport {
            seed: self.config.seed,
            markets: self.markets.len(),
            flow_ms,
            wall_ms: 0,
            injected: self.sim.faults().injected(),
            episodes: self.episodes,
            recoveries: Recoveries {
                reconnects: snapshot.health.reconnects,
                resyncs: snapshot.health.resyncs,
                seq_gaps: snapshot.health.gaps,
                unknown_orders: unknown,
                unknown_resolved: resolved,
                duplicate_fills_dropped: dup_fills,
                rest_attempts_unanswered: unanswered,
                rest_retries: latency.retries(),
                rejects,
                business_rejects: business,
                reject_codes,
                position_drifts: drifts,
                reconcile_failures: snapshot.health.reconcile_failures,
                alarms,
                audits_lagged: lagged,
            },
            activity: Activity {
                ws_frames: snapshot.health.ws_frames,
                intents_placed: places,
                accepted_creates: accepted_creates.len() as u64,
                fills,
                time_to_flat_ms: self.time_to_flat_ms,
                writes_in_flight_at_halt: in_flight,
            },
            expected_halts: vec![format!(
                "\"{MANUAL_KILL_REASON}\": the operator's kill in the middle (no fault here should halt the desk: 5xx, 429s, lost answers, drops and gaps are transient; a trading pause and a stale book pause markets, not the desk)"
            )],
            halts: halts.clone(),
            checks: vec![
                books,
                orders,
                positions,
                check::no_duplicate_orders(&order_ids, &accepted_creates),
                halted_writes,
                check::only_expected_halts(&halts, &[MANUAL_KILL_REASON]),
                check::script_completed(&self.script_problems),
                check::no_panics(&panics),
            ],
        };
        Ok((report, ExchangeRecord { our_trade_ids }))
    }
}

/// Run one soak to its report. `Err` only when the soak itself could not run (the simulator
/// or the desk did not start, or never became ready); a desk that misbehaves fails checks.
pub async fn run(config: SoakConfig) -> Result<SoakReport, SoakError> {
    let wall_started = now();
    let panics_before = panics_so_far().len();
    std::fs::create_dir_all(&config.work_dir).map_err(|e| SoakError::WorkDir {
        path: config.work_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let journal_path = config.work_dir.join("journal.sqlite");
    let sim = SimServer::start(SimConfig {
        key_dir: config.work_dir.join("keys"),
        seed: config.seed,
        markets: (config.markets + 16).max(40),
        flow: true,
        rate_limits: Some(SimTier::Expert.limits()),
        ..SimConfig::default()
    })
    .await?;
    let open_until = clock::wall_ms()
        + i64::try_from(config.duration.as_millis()).unwrap_or(i64::MAX / 2)
        + 300_000;
    let markets = match pick_markets(&sim, config.markets, open_until) {
        Ok(markets) => markets,
        Err(error) => {
            sim.shutdown().await;
            return Err(error);
        }
    };
    let desk = match desk::start(desk_config(&config, &sim, &markets)).await {
        Ok(desk) => desk,
        Err(error) => {
            sim.shutdown().await;
            return Err(error.into());
        }
    };
    let (tally, tally_task) = spawn_tally(desk.subscribe_audits());
    let mut soak = Soak {
        config,
        sim,
        desk,
        markets,
        episodes: Episodes::default(),
        halt_windows: Vec::new(),
        kill_instant: None,
        time_to_flat_ms: None,
        script_problems: Vec::new(),
        lost_before_burst: 0,
        withheld_before_freeze: None,
    };
    let outcome = match soak.drive(wall_started).await {
        Ok(flow_ms) => {
            soak.finish(flow_ms, wall_started, &tally, panics_before)
                .await
        }
        Err(error) => Err(error),
    };
    let Soak { sim, desk, .. } = soak;
    // The journal is complete once the desk has stopped and flushed it.
    desk.shutdown().await;
    tally_task.abort();
    sim.shutdown().await;
    let (mut report, exchange) = outcome?;
    let journal = Journal::open(&journal_path)?;
    let journaled: Vec<String> = journal
        .events_of_kind("fill", Mode::Live)?
        .into_iter()
        .filter_map(|r| r.trade_id)
        .collect();
    report
        .checks
        .push(check::no_missing_fills(&exchange.our_trade_ids, &journaled));
    report.wall_ms = wall_started.elapsed().as_millis() as u64;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lost-answer burst waits for a lost answer before it ends, and a storm's 429s would
    /// keep any answer from being lost: the burst must end before the first storm begins.
    #[test]
    fn the_lost_answer_burst_ends_before_the_first_storm() {
        for duration in [Duration::from_secs(30), Duration::from_secs(600)] {
            let steps = schedule(duration);
            let position = |wanted: Step| steps.iter().position(|(_, step)| *step == wanted);
            let (Some(off), Some(storm)) =
                (position(Step::LoseAnswersOff), position(Step::StormOn))
            else {
                panic!("both steps are scheduled: {steps:?}");
            };
            assert!(off < storm, "{duration:?}: {steps:?}");
            assert!(steps[off].0 < steps[storm].0, "{duration:?}: {steps:?}");
        }
    }
}
