//! The kill executor: from "halted" to "flat at the exchange", measured.
//!
//! DESIGN section 5. The caller has already set the shared [`HaltFlag`] (so the gateway refuses
//! every new non-cancel write); [`execute_kill`] then, at the same time, sends the exchange's
//! cancel-all for the subaccount, batch-cancels every order the desk knows to be resting (through
//! the cancel lane, split to the write budget) and triggers the desk's order groups. Then it
//! sweeps: it asks the exchange for resting orders and cancels whatever is left, until a read
//! shows none or the sweeps are used up (a loud alarm in the report).
//!
//! "Flat" is declared only when no tracked non-cancel write is in flight, every UNKNOWN order is
//! resolved, and a read that started after the last such write finished shows no resting order.
//! Cancels in flight do not block flat: a late cancel can only remove orders. If the exchange
//! cannot be reached the result is [`KillOutcome::Pending`], and the caller runs the kill again
//! first thing on reconnect.

use crate::kalshi::rest::{RestClient, RestError};
use crate::kalshi::wire::{
    BatchCancelOrderV2, GetOrdersParams, Order, OrderGroupWriteParams, OrderStatus,
};
use crate::runtime::clock;
use crate::store::journal::{HaltRecord, HaltState, Mode};
use std::collections::BTreeSet;
use std::time::Duration;

mod command;
mod flag;

pub use command::{
    ControlReplyView, DeskContact, DeskKill, RemoteKill, RemoteKillOptions, kill_desk_at,
    remote_kill, running_desks, tell_desk,
};
pub use flag::{HaltFlag, HaltGate, WriteGuard, WriteMark, WriteTracker};

/// An order the desk believes may rest at the exchange.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderRef {
    /// Known once the exchange acknowledged the order.
    pub order_id: Option<String>,
    pub client_order_id: Option<String>,
    pub ticker: Option<String>,
    pub state: OrderRefState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderRefState {
    /// Acknowledged and resting as far as the desk knows.
    Resting,
    /// A create or amend whose answer was lost: it may or may not rest.
    Unknown,
}

impl OrderRef {
    pub fn resting(order_id: &str, client_order_id: Option<&str>, ticker: Option<&str>) -> Self {
        OrderRef {
            order_id: Some(order_id.to_string()),
            client_order_id: client_order_id.map(str::to_string),
            ticker: ticker.map(str::to_string),
            state: OrderRefState::Resting,
        }
    }

    pub fn unknown(client_order_id: &str, ticker: Option<&str>) -> Self {
        OrderRef {
            order_id: None,
            client_order_id: Some(client_order_id.to_string()),
            ticker: ticker.map(str::to_string),
            state: OrderRefState::Unknown,
        }
    }
}

/// Every open order of the engine's order store as the kill sees it: acknowledged orders by
/// their exchange id (cancelling covers a lost amend too), creates with no id yet as UNKNOWN.
pub fn known_orders(orders: &crate::core::order::Orders) -> Vec<OrderRef> {
    orders
        .open_orders()
        .map(|order| match &order.order_id {
            Some(order_id) => OrderRef::resting(
                order_id.as_str(),
                Some(order.current_client_order_id.as_str()),
                Some(&order.ticker.to_string()),
            ),
            None => OrderRef::unknown(
                order.current_client_order_id.as_str(),
                Some(&order.ticker.to_string()),
            ),
        })
        .collect()
}

/// Bounds of the sweep loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillPolicy {
    /// Reads of resting orders before giving up with an alarm.
    pub max_sweeps: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// How long the first wave (cancel-all, batch cancel, group triggers) may run before the
    /// sweeps start anyway; a cancel still running keeps running, it can only help.
    pub first_wave_wait: Duration,
    /// How long a sweep waits for in-flight writes to finish before reading anyway.
    pub quiesce_wait: Duration,
    /// Consecutive reads that got no answer at all before the kill is left PENDING.
    pub unreachable_after: u32,
}

impl Default for KillPolicy {
    fn default() -> KillPolicy {
        KillPolicy {
            max_sweeps: 12,
            backoff_initial: Duration::from_millis(25),
            backoff_max: Duration::from_secs(1),
            first_wave_wait: Duration::from_secs(3),
            quiesce_wait: Duration::from_secs(2),
            unreachable_after: 3,
        }
    }
}

impl KillPolicy {
    fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX);
        self.backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// Everything the executor needs.
#[derive(Debug, Clone)]
pub struct KillContext {
    pub rest: RestClient,
    pub subaccount: u32,
    /// The desk's order groups (known locally).
    pub order_group_ids: Vec<String>,
    /// Also list the subaccount's order groups at the exchange and trigger every one (what
    /// `kdesk kill` does, since it cannot know which groups the desk made).
    pub trigger_listed_groups: bool,
    /// The gateway's non-cancel writes.
    pub writes: WriteTracker,
    pub policy: KillPolicy,
}

impl KillContext {
    pub fn new(rest: RestClient, subaccount: u32) -> KillContext {
        KillContext {
            rest,
            subaccount,
            order_group_ids: Vec::new(),
            trigger_listed_groups: true,
            writes: WriteTracker::new(),
            policy: KillPolicy::default(),
        }
    }
}

/// How the kill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillOutcome {
    /// A read newer than every write showed no resting order.
    Flat,
    /// The exchange answered but orders were still resting when the sweeps ran out: ALARM.
    NotFlat,
    /// The exchange could not be read: run the kill again first thing on reconnect.
    Pending,
}

/// What became of one first-wave step.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "result", content = "detail", rename_all = "snake_case")]
pub enum StepResult {
    Done,
    Failed(String),
    /// Still waiting for its answer when the sweeps began.
    StillRunning,
    /// Nothing to do.
    Skipped,
}

/// One read-and-cancel pass.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SweepRecord {
    /// Resting orders the read showed; `None` when the read failed.
    pub resting_seen: Option<usize>,
    /// Whether the read started after every tracked write finished.
    pub read_newer_than_writes: bool,
    pub cancelled: usize,
    pub cancel_failed: usize,
    pub error: Option<String>,
}

/// Everything the kill did, for the journal, the screen and `kdesk kill`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KillReport {
    pub outcome: KillOutcome,
    /// The loud part: why the desk is not known flat.
    pub alarm: Option<String>,
    pub halted_at_wall_ms: i64,
    pub finished_wall_ms: i64,
    /// Halt instant → flat confirmed, in microseconds.
    pub time_to_flat_us: Option<u64>,
    pub cancel_all: StepResult,
    pub batch_cancel: StepResult,
    pub known_cancelled: usize,
    pub known_cancel_failed: usize,
    pub groups_triggered: Vec<String>,
    pub group_errors: Vec<String>,
    pub sweeps: Vec<SweepRecord>,
    pub unknown_resolved: usize,
    pub unknown_unresolved: Vec<OrderRef>,
    /// Order ids the last successful read showed resting.
    pub still_resting: Vec<String>,
}

impl KillReport {
    pub fn is_flat(&self) -> bool {
        self.outcome == KillOutcome::Flat
    }

    pub fn time_to_flat(&self) -> Option<Duration> {
        self.time_to_flat_us.map(Duration::from_micros)
    }

    /// The journal's view of this kill.
    pub fn halt_state(&self) -> HaltState {
        if self.is_flat() {
            HaltState::Flat
        } else {
            HaltState::Pending
        }
    }

    /// A halt record carrying the whole report as its payload.
    pub fn halt_record(&self, mode: Mode, reason: &str) -> HaltRecord {
        HaltRecord {
            ts_ms: self.finished_wall_ms,
            mode,
            state: self.halt_state(),
            reason: reason.to_string(),
            payload: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }

    /// Publish the measured time to flat (whole milliseconds) on the metrics endpoint.
    pub fn record_metrics(&self, metrics: &crate::runtime::metrics::DeskMetrics) {
        if let Some(us) = self.time_to_flat_us {
            metrics
                .last_kill_time_to_flat_ms
                .set(i64::try_from(us / 1000).unwrap_or(i64::MAX));
        }
    }

    /// One line for a status bar or a terminal.
    pub fn summary(&self) -> String {
        let sweeps = self.sweeps.len();
        match self.outcome {
            KillOutcome::Flat => format!(
                "FLAT in {:.1} ms ({} sweep{}, {} known order{} cancelled)",
                self.time_to_flat_us.unwrap_or(0) as f64 / 1000.0,
                sweeps,
                if sweeps == 1 { "" } else { "s" },
                self.known_cancelled,
                if self.known_cancelled == 1 { "" } else { "s" }
            ),
            KillOutcome::NotFlat | KillOutcome::Pending => {
                let label = if self.outcome == KillOutcome::Pending {
                    "KILL PENDING"
                } else {
                    "NOT FLAT"
                };
                format!(
                    "{label}: {}",
                    self.alarm.as_deref().unwrap_or("flat not confirmed")
                )
            }
        }
    }
}

/// Whether an error means the exchange gave no answer at all.
fn no_answer(error: &RestError) -> bool {
    matches!(
        error,
        RestError::Transport { .. } | RestError::Timeout { .. } | RestError::Unknown { .. }
    )
}

/// A cancel refused because the order is already gone counts as done.
fn already_gone(error: &RestError) -> bool {
    match error {
        RestError::Api { status, code, .. } => {
            *status == 404 || code.contains("not_found") || code.contains("not found")
        }
        _ => false,
    }
}

fn cancel_items(order_ids: &[String], subaccount: u32) -> Vec<BatchCancelOrderV2> {
    order_ids
        .iter()
        .map(|order_id| BatchCancelOrderV2 {
            order_id: order_id.clone(),
            subaccount: Some(subaccount),
            exchange_index: None,
            market_ticker: None,
        })
        .collect()
}

/// Batch-cancel `order_ids`: (cancelled or already gone, failed, first error).
async fn cancel_orders(
    rest: &RestClient,
    order_ids: &[String],
    subaccount: u32,
) -> (usize, usize, Option<String>) {
    if order_ids.is_empty() {
        return (0, 0, None);
    }
    let results = rest
        .batch_cancel_orders(cancel_items(order_ids, subaccount))
        .await;
    let mut done = 0;
    let mut failed = 0;
    let mut first_error = None;
    for result in results {
        match result {
            Ok(_) => done += 1,
            Err(error) if already_gone(&error) => done += 1,
            Err(error) => {
                failed += 1;
                first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }
    (done, failed, first_error)
}

/// Trigger the known groups and, when asked, every group the subaccount has.
async fn trigger_groups(
    rest: RestClient,
    known: Vec<String>,
    list: bool,
    subaccount: u32,
) -> (Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    let mut groups: BTreeSet<(String, Option<i32>)> =
        known.into_iter().map(|id| (id, None)).collect();
    if list {
        match rest.order_groups(Some(subaccount)).await {
            Ok(answer) => {
                for group in answer.order_groups {
                    groups.retain(|(id, _)| *id != group.id);
                    groups.insert((group.id, group.exchange_index));
                }
            }
            Err(error) => errors.push(format!("listing order groups: {error}")),
        }
    }
    let triggers = groups.into_iter().map(|(id, exchange_index)| {
        let rest = rest.clone();
        async move {
            let params = OrderGroupWriteParams {
                subaccount: Some(subaccount),
                exchange_index,
            };
            let result = rest.trigger_order_group(&id, &params).await;
            (id, result)
        }
    });
    let mut triggered = Vec::new();
    for (id, result) in futures_util::future::join_all(triggers).await {
        match result {
            Ok(()) => triggered.push(id),
            Err(error) => errors.push(format!("triggering order group {id}: {error}")),
        }
    }
    (triggered, errors)
}

fn step_from<T>(result: Option<Result<T, String>>) -> StepResult {
    match result {
        None => StepResult::StillRunning,
        Some(Ok(_)) => StepResult::Done,
        Some(Err(error)) => StepResult::Failed(error),
    }
}

/// Run the kill sequence; see the module docs. Never panics and never returns early on an
/// error: every failure is in the report.
pub async fn execute_kill(
    ctx: &KillContext,
    known_resting: Vec<OrderRef>,
    halted: &HaltFlag,
) -> KillReport {
    // The caller should have raised it already; raising it again keeps the original instant.
    halted.halt();
    let start_mono = halted.halted_at_mono_ns().unwrap_or_else(clock::mono_ns);
    let halted_at_wall_ms = halted.halted_at_wall_ms().unwrap_or_else(clock::wall_ms);
    let subaccount = ctx.subaccount;

    let mut unknown: Vec<OrderRef> = Vec::new();
    let mut known_ids: Vec<String> = Vec::new();
    for order in known_resting {
        match (&order.state, &order.order_id) {
            (OrderRefState::Resting, Some(order_id)) => known_ids.push(order_id.clone()),
            _ => unknown.push(order),
        }
    }
    known_ids.sort_unstable();
    known_ids.dedup();

    // First wave, all at once: tasks, so a hung answer never holds up the sweeps.
    let mut cancel_all_task = {
        let rest = ctx.rest.clone();
        tokio::spawn(async move {
            rest.cancel_all_orders(Some(subaccount))
                .await
                .map_err(|error| error.to_string())
        })
    };
    let mut batch_task = {
        let rest = ctx.rest.clone();
        let ids = known_ids.clone();
        tokio::spawn(async move { cancel_orders(&rest, &ids, subaccount).await })
    };
    let mut groups_task = tokio::spawn(trigger_groups(
        ctx.rest.clone(),
        ctx.order_group_ids.clone(),
        ctx.trigger_listed_groups,
        subaccount,
    ));
    let deadline = tokio::time::sleep(ctx.policy.first_wave_wait);
    tokio::pin!(deadline);
    let batch_result = tokio::select! {
        biased;
        joined = &mut batch_task => Some(joined.unwrap_or_else(|e| (0, 0, Some(e.to_string())))),
        () = &mut deadline => None,
    };
    let groups_result = tokio::select! {
        biased;
        joined = &mut groups_task => Some(joined.unwrap_or_else(|e| (Vec::new(), vec![e.to_string()]))),
        () = &mut deadline => None,
    };
    // Once every known order has had its own cancel, a slow cancel-all is not waited for: the
    // sweeps find whatever it has not done yet. Without known orders it is the main tool.
    let known_all_answered = !known_ids.is_empty() && batch_result.is_some();
    let cancel_all_result = tokio::select! {
        biased;
        joined = &mut cancel_all_task => Some(joined.unwrap_or_else(|e| Err(e.to_string()))),
        () = &mut deadline => None,
        () = std::future::ready(()), if known_all_answered => None,
    };
    let (batch_cancel, known_cancelled, known_cancel_failed) = if known_ids.is_empty() {
        (StepResult::Skipped, 0, 0)
    } else {
        match batch_result {
            None => (StepResult::StillRunning, 0, 0),
            Some((done, failed, error)) => (
                error.map_or(StepResult::Done, StepResult::Failed),
                done,
                failed,
            ),
        }
    };
    let (groups_triggered, group_errors) = groups_result.unwrap_or_else(|| {
        (
            Vec::new(),
            vec!["order group triggers still running".into()],
        )
    });

    // Sweeps.
    let mut sweeps = Vec::new();
    let mut unknown_resolved = 0;
    let mut still_resting = Vec::new();
    let mut flat_at = None;
    let mut no_answer_streak = 0;
    let mut last_read_failed = true;
    let mut retry = 0;
    for _ in 0..ctx.policy.max_sweeps.max(1) {
        ctx.writes.wait_idle(ctx.policy.quiesce_wait).await;
        let mark = ctx.writes.mark();
        let read = ctx
            .rest
            .all_orders(&GetOrdersParams {
                status: Some(OrderStatus::Resting),
                subaccount: Some(subaccount),
                limit: Some(1000),
                ..GetOrdersParams::default()
            })
            .await;
        let newer = ctx.writes.read_is_newer(mark);
        let orders: Vec<Order> = match read {
            Ok(orders) => orders,
            Err(error) => {
                last_read_failed = true;
                no_answer_streak = if no_answer(&error) {
                    no_answer_streak + 1
                } else {
                    0
                };
                sweeps.push(SweepRecord {
                    resting_seen: None,
                    read_newer_than_writes: newer,
                    cancelled: 0,
                    cancel_failed: 0,
                    error: Some(error.to_string()),
                });
                if no_answer_streak >= ctx.policy.unreachable_after.max(1) {
                    break;
                }
                tokio::time::sleep(ctx.policy.backoff(retry)).await;
                retry += 1;
                continue;
            }
        };
        last_read_failed = false;
        no_answer_streak = 0;
        // A server that ignores the status filter must not make us cancel finished orders.
        let resting: Vec<&Order> = orders
            .iter()
            .filter(|order| order.status == OrderStatus::Resting)
            .collect();
        if newer {
            // A read newer than every write settles each UNKNOWN order: resting ones are in
            // this list and get cancelled below, the others are not resting.
            unknown_resolved += unknown.len();
            unknown.clear();
        }
        still_resting = resting.iter().map(|order| order.order_id.clone()).collect();
        if resting.is_empty() && newer && unknown.is_empty() {
            flat_at = Some(clock::mono_ns());
            sweeps.push(SweepRecord {
                resting_seen: Some(0),
                read_newer_than_writes: true,
                cancelled: 0,
                cancel_failed: 0,
                error: None,
            });
            break;
        }
        let (cancelled, cancel_failed, error) =
            cancel_orders(&ctx.rest, &still_resting, subaccount).await;
        sweeps.push(SweepRecord {
            resting_seen: Some(resting.len()),
            read_newer_than_writes: newer,
            cancelled,
            cancel_failed,
            error,
        });
        if cancel_failed > 0 || !newer {
            tokio::time::sleep(ctx.policy.backoff(retry)).await;
            retry += 1;
        }
    }

    // A cancel-all not waited for may have answered by now.
    let cancel_all_result = match cancel_all_result {
        None if cancel_all_task.is_finished() => {
            Some(cancel_all_task.await.unwrap_or_else(|e| Err(e.to_string())))
        }
        other => other,
    };
    let cancel_all = step_from(cancel_all_result);
    let finished_wall_ms = clock::wall_ms();
    let (outcome, alarm) = match flat_at {
        Some(_) => (KillOutcome::Flat, None),
        None if last_read_failed => (
            KillOutcome::Pending,
            Some(format!(
                "the exchange could not be read ({}); the kill stays PENDING and runs again on reconnect",
                sweeps
                    .iter()
                    .rev()
                    .find_map(|s| s.error.clone())
                    .unwrap_or_else(|| "no answer".into())
            )),
        ),
        None => (
            KillOutcome::NotFlat,
            Some(format!(
                "{} order(s) still resting after {} sweeps{}",
                still_resting.len(),
                sweeps.len(),
                if unknown.is_empty() {
                    String::new()
                } else {
                    format!(", {} unknown order(s) unresolved", unknown.len())
                }
            )),
        ),
    };
    if let Some(alarm) = &alarm {
        tracing::error!(%alarm, "KILL NOT FLAT");
    }
    let report = KillReport {
        outcome,
        alarm,
        halted_at_wall_ms,
        finished_wall_ms,
        time_to_flat_us: flat_at.map(|at| at.saturating_sub(start_mono) / 1000),
        cancel_all,
        batch_cancel,
        known_cancelled,
        known_cancel_failed,
        groups_triggered,
        group_errors,
        sweeps,
        unknown_resolved,
        unknown_unresolved: unknown,
        still_resting: if flat_at.is_some() {
            Vec::new()
        } else {
            still_resting
        },
    };
    tracing::info!(summary = %report.summary(), "kill finished");
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_store_gives_resting_orders_by_id_and_lost_creates_as_unknown() {
        use crate::core::num::{Count, Price};
        use crate::core::order::{
            ClientOrderId, CreateAck, LostWrite, OrderId, OrderOwner, OrderRequest, OrderSide,
            Orders,
        };
        let mut orders = Orders::new();
        let request = |id: &str| OrderRequest {
            client_order_id: ClientOrderId::new(id),
            ticker: "KX-A".into(),
            side: OrderSide::Bid,
            yes_price: Price::parse("0.4000").unwrap(),
            count: Count::parse("2.00").unwrap(),
        };
        for id in ["op-0000beef-1", "op-0000beef-2", "op-0000beef-3"] {
            orders
                .record_intent(request(id), OrderOwner::Operator, 1)
                .unwrap();
        }
        orders
            .create_acked(
                "op-0000beef-1",
                CreateAck {
                    order_id: OrderId::new("ex-1"),
                    fill_count: Count::ZERO,
                    remaining_count: Count::parse("2.00").unwrap(),
                    ts_ms: None,
                },
            )
            .unwrap();
        orders
            .answer_lost("op-0000beef-2", LostWrite::Create)
            .unwrap();
        orders.create_rejected("op-0000beef-3", "no").unwrap();
        let mut known = known_orders(&orders);
        known.sort_by(|a, b| a.client_order_id.cmp(&b.client_order_id));
        assert_eq!(
            known,
            vec![
                OrderRef::resting("ex-1", Some("op-0000beef-1"), Some("KX-A")),
                OrderRef::unknown("op-0000beef-2", Some("KX-A")),
            ]
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = KillPolicy {
            backoff_initial: Duration::from_millis(10),
            backoff_max: Duration::from_millis(70),
            ..KillPolicy::default()
        };
        let waits: Vec<u64> = (0..6)
            .map(|retry| policy.backoff(retry).as_millis() as u64)
            .collect();
        assert_eq!(waits, vec![10, 20, 40, 70, 70, 70]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_millis(70));
    }

    #[test]
    fn only_a_missing_order_counts_as_already_cancelled() {
        let api = |status: u16, code: &str| RestError::Api {
            endpoint: "batch_cancel_orders",
            status,
            code: code.into(),
            message: String::new(),
            details: None,
        };
        assert!(already_gone(&api(404, "not_found")));
        assert!(!already_gone(&api(500, "internal_error")));
        assert!(!already_gone(&RestError::RateLimited {
            endpoint: "batch_cancel_orders"
        }));
        assert!(no_answer(&RestError::Timeout { endpoint: "orders" }));
        assert!(!no_answer(&api(503, "unavailable")));
    }

    #[test]
    fn the_report_maps_to_the_journal_and_a_summary() {
        let mut report = KillReport {
            outcome: KillOutcome::Flat,
            alarm: None,
            halted_at_wall_ms: 1,
            finished_wall_ms: 2,
            time_to_flat_us: Some(12_500),
            cancel_all: StepResult::Done,
            batch_cancel: StepResult::Skipped,
            known_cancelled: 3,
            known_cancel_failed: 0,
            groups_triggered: vec![],
            group_errors: vec![],
            sweeps: vec![],
            unknown_resolved: 0,
            unknown_unresolved: vec![],
            still_resting: vec![],
        };
        assert_eq!(report.halt_state(), HaltState::Flat);
        assert!(report.summary().starts_with("FLAT in 12.5 ms"));
        let record = report.halt_record(Mode::Live, "operator");
        assert_eq!(record.state, HaltState::Flat);
        assert_eq!(record.payload["outcome"], "flat");
        report.outcome = KillOutcome::Pending;
        report.alarm = Some("exchange unreachable".into());
        assert_eq!(report.halt_state(), HaltState::Pending);
        assert!(report.summary().starts_with("KILL PENDING: exchange"));
    }
}
