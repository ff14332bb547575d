//! Restart recovery: before anything can arm, find out what the exchange holds and what the
//! journal says (DESIGN section 8).
//!
//! [`recover`] reads the open orders, the fills since the last journaled fill and the positions;
//! cancels orphaned orders tagged as the desk's strategies' (no strategy is running yet to own
//! them), keeps the operator's own orders and foreign ones (and reports them); and if the
//! journal's last halt is Pending or Flat (not Reset) the desk starts HALTED and the kill sweep
//! runs again. The report is what the runtime seeds the engine with and what the screen shows.

use crate::core::order::ids::{ClientOrderId, OrderOwner};
use crate::kalshi::rest::{RestClient, RestError};
use crate::kalshi::wire::{
    BatchCancelOrderV2, Fill, GetFillsParams, GetOrdersParams, GetPositionsParams, MarketPosition,
    Order, OrderStatus,
};
use crate::runtime::kill::{HaltFlag, KillContext, KillReport, OrderRef, execute_kill};
use crate::store::journal::{HaltRecord, HaltState, Journal, JournalError, Mode};

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("reading {what} from the exchange: {error}")]
    Read {
        what: &'static str,
        error: RestError,
    },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// What the journal remembers that recovery needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JournalView {
    pub last_halt: Option<HaltRecord>,
    /// `ts_ms` of the newest journaled fill.
    pub last_fill_ms: Option<i64>,
}

impl JournalView {
    /// Read the view from an open journal.
    pub fn read(journal: &Journal, mode: Mode) -> Result<JournalView, JournalError> {
        let last_fill_ms = journal
            .events_of_kind("fill", mode)?
            .iter()
            .map(|record| record.ts_ms)
            .max();
        Ok(JournalView {
            last_halt: journal.last_halt(mode)?,
            last_fill_ms,
        })
    }
}

/// Whether the desk may arm after recovery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum HaltDecision {
    /// No halt in force: strategies may be armed by the operator.
    MayArm,
    /// The desk stopped while halted (or mid-kill): start HALTED and sweep again.
    StayHaltedAndSweep {
        state: HaltState,
        reason: String,
        since_ms: i64,
    },
}

impl HaltDecision {
    pub fn from_last_halt(last: Option<&HaltRecord>) -> HaltDecision {
        match last {
            Some(halt) if halt.state != HaltState::Reset => HaltDecision::StayHaltedAndSweep {
                state: halt.state,
                reason: halt.reason.clone(),
                since_ms: halt.ts_ms,
            },
            _ => HaltDecision::MayArm,
        }
    }

    pub fn stays_halted(&self) -> bool {
        matches!(self, HaltDecision::StayHaltedAndSweep { .. })
    }
}

/// An order as recovery reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrderSummary {
    pub order_id: String,
    pub client_order_id: String,
    pub ticker: String,
    pub owner: OrderOwner,
}

impl OrderSummary {
    fn of(order: &Order) -> OrderSummary {
        OrderSummary {
            order_id: order.order_id.clone(),
            client_order_id: order.client_order_id.clone(),
            ticker: order.ticker.to_string(),
            owner: ClientOrderId::new(&order.client_order_id).owner(),
        }
    }
}

/// Everything recovery found and did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecoveryReport {
    pub halt: HaltDecision,
    /// The operator's own orders (placed by hand from the desk), left resting.
    pub kept_operator: Vec<OrderSummary>,
    /// Orders this desk did not place (website, other tools), left resting.
    pub kept_foreign: Vec<OrderSummary>,
    /// Strategy-tagged orders with no strategy running: cancelled.
    pub orphans_cancelled: Vec<OrderSummary>,
    pub orphans_failed: Vec<(OrderSummary, String)>,
    /// Resting orders at the end of recovery, to seed the engine's order store.
    pub resting: Vec<Order>,
    /// Fills newer than the journal's last one (the engine dedups by trade id).
    pub fills_since: Vec<Fill>,
    pub positions: Vec<MarketPosition>,
    /// The sweep run because the desk starts halted.
    #[serde(skip)]
    pub sweep: Option<KillReport>,
}

impl RecoveryReport {
    pub fn may_arm(&self) -> bool {
        !self.halt.stays_halted() && self.orphans_failed.is_empty()
    }

    /// Lines for the log pane and the start-up notice.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match &self.halt {
            HaltDecision::MayArm => lines.push("no halt in force".to_string()),
            HaltDecision::StayHaltedAndSweep { state, reason, .. } => lines.push(format!(
                "HALTED at start (last halt {state:?}: {reason}); stay halted and sweep"
            )),
        }
        if let Some(sweep) = &self.sweep {
            lines.push(format!("sweep: {}", sweep.summary()));
        }
        lines.push(format!(
            "orders: {} orphaned strategy order(s) cancelled, {} failed; kept {} operator and {} foreign order(s)",
            self.orphans_cancelled.len(),
            self.orphans_failed.len(),
            self.kept_operator.len(),
            self.kept_foreign.len()
        ));
        lines.push(format!(
            "{} fill(s) since the journal's last, {} position(s)",
            self.fills_since.len(),
            self.positions.len()
        ));
        lines
    }
}

/// Where recovery reads and writes.
#[derive(Debug, Clone)]
pub struct RecoveryContext {
    pub rest: RestClient,
    pub subaccount: u32,
    /// Used for the sweep when the desk starts halted.
    pub kill: KillContext,
}

async fn resting_orders(rest: &RestClient, subaccount: u32) -> Result<Vec<Order>, RecoveryError> {
    let orders = rest
        .all_orders(&GetOrdersParams {
            status: Some(OrderStatus::Resting),
            subaccount: Some(subaccount),
            limit: Some(1000),
            ..GetOrdersParams::default()
        })
        .await
        .map_err(|error| RecoveryError::Read {
            what: "open orders",
            error,
        })?;
    Ok(orders
        .into_iter()
        .filter(|order| order.status == OrderStatus::Resting)
        .collect())
}

/// Reconcile with the exchange; see the module docs. `halted` is raised when the journal says the
/// desk must stay halted.
pub async fn recover(
    ctx: &RecoveryContext,
    journal: &JournalView,
    halted: &HaltFlag,
) -> Result<RecoveryReport, RecoveryError> {
    let halt = HaltDecision::from_last_halt(journal.last_halt.as_ref());
    let mut sweep = None;
    if halt.stays_halted() {
        halted.halt();
        let open = resting_orders(&ctx.rest, ctx.subaccount).await?;
        let known = open
            .iter()
            .map(|order| {
                OrderRef::resting(
                    &order.order_id,
                    Some(&order.client_order_id),
                    Some(&order.ticker.to_string()),
                )
            })
            .collect();
        sweep = Some(execute_kill(&ctx.kill, known, halted).await);
    }

    let open = resting_orders(&ctx.rest, ctx.subaccount).await?;
    let mut kept_operator = Vec::new();
    let mut kept_foreign = Vec::new();
    let mut orphans = Vec::new();
    for order in &open {
        let summary = OrderSummary::of(order);
        match summary.owner {
            OrderOwner::Strategy { .. } => orphans.push(summary),
            OrderOwner::Operator => kept_operator.push(summary),
            OrderOwner::External => kept_foreign.push(summary),
        }
    }
    let (orphans_cancelled, orphans_failed) = cancel_orphans(ctx, orphans).await;

    let resting = if orphans_cancelled.is_empty() {
        open
    } else {
        resting_orders(&ctx.rest, ctx.subaccount).await?
    };
    let fills_since = ctx
        .rest
        .all_fills(&GetFillsParams {
            // Kalshi's min_ts is in seconds; the overlap is harmless since fills dedup by id.
            min_ts: journal.last_fill_ms.map(|ms| ms.div_euclid(1000)),
            subaccount: Some(ctx.subaccount),
            limit: Some(1000),
            ..GetFillsParams::default()
        })
        .await
        .map_err(|error| RecoveryError::Read {
            what: "fills",
            error,
        })?;
    let (positions, _) = ctx
        .rest
        .all_positions(&GetPositionsParams {
            subaccount: Some(ctx.subaccount),
            limit: Some(1000),
            ..GetPositionsParams::default()
        })
        .await
        .map_err(|error| RecoveryError::Read {
            what: "positions",
            error,
        })?;
    Ok(RecoveryReport {
        halt,
        kept_operator,
        kept_foreign,
        orphans_cancelled,
        orphans_failed,
        resting,
        fills_since,
        positions,
        sweep,
    })
}

async fn cancel_orphans(
    ctx: &RecoveryContext,
    orphans: Vec<OrderSummary>,
) -> (Vec<OrderSummary>, Vec<(OrderSummary, String)>) {
    if orphans.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let items = orphans
        .iter()
        .map(|orphan| BatchCancelOrderV2 {
            order_id: orphan.order_id.clone(),
            subaccount: Some(ctx.subaccount),
            exchange_index: None,
            market_ticker: None,
        })
        .collect();
    let results = ctx.rest.batch_cancel_orders(items).await;
    let mut cancelled = Vec::new();
    let mut failed = Vec::new();
    for (orphan, result) in orphans.into_iter().zip(results) {
        match result {
            Ok(_) => cancelled.push(orphan),
            Err(RestError::Api { status: 404, .. }) => cancelled.push(orphan),
            Err(error) => failed.push((orphan, error.to_string())),
        }
    }
    (cancelled, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halt(state: HaltState) -> HaltRecord {
        HaltRecord {
            ts_ms: 1_700_000_000_000,
            mode: Mode::Live,
            state,
            reason: "kill switch".into(),
            payload: serde_json::Value::Null,
        }
    }

    #[test]
    fn pending_and_flat_halts_stay_halted_reset_and_none_may_arm() {
        for state in [HaltState::Pending, HaltState::Flat] {
            let decision = HaltDecision::from_last_halt(Some(&halt(state)));
            assert!(decision.stays_halted(), "{state:?}");
            assert_eq!(
                decision,
                HaltDecision::StayHaltedAndSweep {
                    state,
                    reason: "kill switch".into(),
                    since_ms: 1_700_000_000_000
                }
            );
        }
        assert_eq!(
            HaltDecision::from_last_halt(Some(&halt(HaltState::Reset))),
            HaltDecision::MayArm
        );
        assert_eq!(HaltDecision::from_last_halt(None), HaltDecision::MayArm);
    }

    #[test]
    fn the_journal_view_reads_the_last_halt_and_the_newest_fill() {
        use crate::store::journal::JournalRecord;
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        assert_eq!(
            JournalView::read(&journal, Mode::Live).unwrap(),
            JournalView::default()
        );
        let mut fill = |ts_ms: i64, trade: &str, mode: Mode| {
            let mut record = JournalRecord::new(ts_ms, mode, "fill", serde_json::json!({}));
            record.trade_id = Some(trade.into());
            journal.append(&[record]).unwrap();
        };
        fill(5_000, "t1", Mode::Live);
        fill(9_000, "t2", Mode::Live);
        fill(99_000, "t3", Mode::Paper);
        journal.record_halt(&halt(HaltState::Pending)).unwrap();
        let view = JournalView::read(&journal, Mode::Live).unwrap();
        assert_eq!(view.last_fill_ms, Some(9_000));
        assert_eq!(view.last_halt.map(|h| h.state), Some(HaltState::Pending));
    }
}
