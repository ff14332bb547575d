//! The order gateway: executes the engine's intents over REST, one at a time in the engine's
//! order, and answers each with a [`GatewayResult`].
//!
//! * New orders and amends fail fast when the write budget is short (the REST client refuses
//!   rather than waits); cancels wait in the reserved cancel lane. Consecutive cancels are sent
//!   as one batch cancel.
//! * The halted flag is checked before every non-cancel write and the gateway wakes when it is
//!   set: queued non-cancel intents are dropped (answered `Rejected` with code `desk_halted`),
//!   except flatten orders carrying the engine's permit.
//! * The executor behind the seam is REST, or in paper mode the local exchange
//!   ([`crate::runtime::paper_executor`]), which never writes to the exchange.
//! * A create or amend whose answer was lost is never re-sent: the engine is told `Lost`, and
//!   the gateway resolves it by `client_order_id` from a REST read made after the send, before
//!   it executes the next intent of that market. An order that cannot be resolved yet (the
//!   exchange unreachable) stays unresolved and is retried before that market writes again.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, watch};

use crate::core::engine::{GatewayResult, Input, OrderIntent, WriteKind};
use crate::core::market::Ticker;
use crate::core::order::{ClientOrderId, OrderId};
use crate::kalshi::rest::{RestClient, RestError};
use crate::kalshi::wire::{
    AmendOrderV2Request, BatchCancelOrderV2, CancelOrderV2Params, DecreaseOrderV2Request,
    GetOrdersParams, OrderGroupWriteParams,
};
use crate::runtime::convert;
use crate::runtime::kill::HaltFlag;
use crate::runtime::paper_executor::PaperExecutor;

/// Code of the refusal a dropped intent gets.
pub const HALTED_CODE: &str = "desk_halted";
/// Code of the refusal an intent gets while its market waits on an unresolved order.
pub const UNRESOLVED_CODE: &str = "unknown_order_unresolved";

/// Counters the desk reads for health and for the kill's "flat" test.
#[derive(Debug, Default)]
pub struct GatewayStats {
    sent: AtomicU64,
    in_flight: AtomicU64,
    /// Monotonic ns when the last write finished (answered or failed).
    last_write_done_ns: AtomicU64,
    rejects: AtomicU64,
    dropped_halted: AtomicU64,
    unresolved: AtomicU64,
}

impl GatewayStats {
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }
    pub fn last_write_done_ns(&self) -> u64 {
        self.last_write_done_ns.load(Ordering::SeqCst)
    }
    pub fn rejects(&self) -> u64 {
        self.rejects.load(Ordering::SeqCst)
    }
    pub fn dropped_halted(&self) -> u64 {
        self.dropped_halted.load(Ordering::SeqCst)
    }
    /// Lost writes not yet resolved.
    pub fn unresolved(&self) -> u64 {
        self.unresolved.load(Ordering::SeqCst)
    }

    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.sent.fetch_add(1, Ordering::SeqCst);
    }

    fn end(&self) {
        self.last_write_done_ns
            .store(crate::runtime::clock::mono_ns(), Ordering::SeqCst);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct GatewayParts {
    pub rest: RestClient,
    pub intents: mpsc::UnboundedReceiver<OrderIntent>,
    pub results: mpsc::UnboundedSender<GatewayResult>,
    pub halt: HaltFlag,
    pub subaccount: Option<u32>,
    pub order_group_id: Option<String>,
    pub stats: Arc<GatewayStats>,
    pub shutdown: watch::Receiver<bool>,
    /// Paper mode: intents execute on the local exchange and `rest` is never used.
    pub paper: Option<PaperExecutor>,
}

/// A lost write waiting to be resolved.
#[derive(Debug, Clone)]
struct Unresolved {
    client_order_id: ClientOrderId,
    ticker: Ticker,
}

struct Gateway {
    rest: RestClient,
    results: mpsc::UnboundedSender<GatewayResult>,
    halt: HaltFlag,
    subaccount: Option<u32>,
    order_group_id: Option<String>,
    stats: Arc<GatewayStats>,
    /// Exchange ids of orders this gateway placed (a cancel may arrive before its id).
    order_ids: HashMap<ClientOrderId, OrderId>,
    unresolved: Vec<Unresolved>,
}

/// Run until shutdown or until the engine drops its sender.
pub async fn run(parts: GatewayParts) {
    let GatewayParts {
        rest,
        mut intents,
        results,
        halt,
        subaccount,
        order_group_id,
        stats,
        mut shutdown,
        paper,
    } = parts;
    if let Some(paper) = paper {
        drop(rest);
        return run_paper(paper, intents, halt, stats, shutdown).await;
    }
    let mut gateway = Gateway {
        rest,
        results,
        halt,
        subaccount,
        order_group_id,
        stats,
        order_ids: HashMap::new(),
        unresolved: Vec::new(),
    };
    let mut queue: VecDeque<OrderIntent> = VecDeque::new();
    loop {
        if queue.is_empty() {
            // Nothing queued, so nothing a halt could drop: the flag is checked once an intent
            // arrives, before every non-cancel write.
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => return,
                intent = intents.recv() => match intent {
                    Some(intent) => queue.push_back(intent),
                    None => return,
                },
            }
        }
        while let Ok(intent) = intents.try_recv() {
            queue.push_back(intent);
        }
        if gateway.halt.is_halted() {
            gateway.drop_non_cancels(&mut queue);
        }
        let Some(intent) = queue.pop_front() else {
            continue;
        };
        if matches!(intent, OrderIntent::Cancel { .. }) {
            let mut cancels = vec![intent];
            while matches!(queue.front(), Some(OrderIntent::Cancel { .. })) {
                if let Some(next) = queue.pop_front() {
                    cancels.push(next);
                }
            }
            gateway.cancel_many(cancels).await;
        } else {
            gateway.execute(intent).await;
        }
    }
}

/// The paper executor behind the same seam: the same halt rules (queued non-cancels dropped,
/// the flag checked before every non-cancel write), the same counters for the kill's "flat"
/// test, and local execution in the engine's order.
async fn run_paper(
    paper: PaperExecutor,
    mut intents: mpsc::UnboundedReceiver<OrderIntent>,
    halt: HaltFlag,
    stats: Arc<GatewayStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut expiry_shutdown = shutdown.clone();
    let expiry = paper.expire_until(&mut expiry_shutdown);
    tokio::pin!(expiry);
    let latency_ns = u64::try_from(paper.latency.as_nanos()).unwrap_or(u64::MAX);
    // Intents with the monotonic time they left the engine: each reaches the local book one
    // latency later, and those queued behind it travel meanwhile (no delay piles up).
    let mut queue: VecDeque<(u64, OrderIntent)> = VecDeque::new();
    loop {
        if queue.is_empty() {
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => return,
                intent = intents.recv() => match intent {
                    Some(intent) => queue.push_back((crate::runtime::clock::mono_ns(), intent)),
                    None => return,
                },
                () = &mut expiry => return,
            }
        }
        while let Ok(intent) = intents.try_recv() {
            queue.push_back((crate::runtime::clock::mono_ns(), intent));
        }
        let Some((sent_ns, intent)) = queue.pop_front() else {
            continue;
        };
        let wait_ns = sent_ns
            .saturating_add(latency_ns)
            .saturating_sub(crate::runtime::clock::mono_ns());
        if wait_ns > 0 {
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = tokio::time::sleep(std::time::Duration::from_nanos(wait_ns)) => {}
            }
        }
        // Checked on arrival: a kill during the flight stops it, as at the exchange's door.
        if halt.is_halted() && !intent.is_cancel() && !is_flatten(&intent) {
            stats.dropped_halted.fetch_add(1, Ordering::SeqCst);
            if let Some((client_order_id, write)) = write_of(&intent) {
                let _ = paper.inputs.send(Input::Gateway(GatewayResult::Rejected {
                    client_order_id,
                    write,
                    http_status: None,
                    code: HALTED_CODE.to_string(),
                    details: "trading is halted".to_string(),
                }));
            }
            continue;
        }
        stats.begin();
        paper.execute(intent);
        stats.end();
    }
}

impl Gateway {
    fn answer(&self, result: GatewayResult) {
        let _ = self.results.send(result);
    }

    fn reject(&self, client_order_id: ClientOrderId, write: WriteKind, error: &RestError) {
        self.stats.rejects.fetch_add(1, Ordering::SeqCst);
        self.answer(GatewayResult::Rejected {
            client_order_id,
            write,
            http_status: error.status(),
            code: error
                .code()
                .map(str::to_string)
                .unwrap_or_else(|| error_kind(error).to_string()),
            details: error.to_string(),
        });
    }

    fn refuse(&self, client_order_id: ClientOrderId, write: WriteKind, code: &str, details: &str) {
        self.answer(GatewayResult::Rejected {
            client_order_id,
            write,
            http_status: None,
            code: code.to_string(),
            details: details.to_string(),
        });
    }

    /// The halt flag is up: everything but cancels (and permitted flatten orders) goes.
    fn drop_non_cancels(&self, queue: &mut VecDeque<OrderIntent>) {
        queue.retain(|intent| {
            if intent.is_cancel() || is_flatten(intent) {
                return true;
            }
            self.stats.dropped_halted.fetch_add(1, Ordering::SeqCst);
            if let Some((id, write)) = write_of(intent) {
                self.refuse(id, write, HALTED_CODE, "trading is halted");
            }
            false
        });
    }

    async fn execute(&mut self, intent: OrderIntent) {
        if !intent.is_cancel() && self.halt.is_halted() && !is_flatten(&intent) {
            let mut one = VecDeque::from([intent]);
            self.drop_non_cancels(&mut one);
            return;
        }
        if let Some(ticker) = convert::intent_ticker(&intent).cloned()
            && !intent.is_cancel()
            && self.unresolved.iter().any(|u| u.ticker == ticker)
        {
            self.resolve_market(&ticker).await;
            if self.unresolved.iter().any(|u| u.ticker == ticker) {
                if let Some((id, write)) = write_of(&intent) {
                    self.refuse(
                        id,
                        write,
                        UNRESOLVED_CODE,
                        "an earlier write's outcome is unknown",
                    );
                }
                return;
            }
        }
        match intent {
            OrderIntent::Place { .. } => self.place(intent).await,
            OrderIntent::Amend {
                order_id,
                client_order_id,
                ticker,
                side,
                price,
                count,
                expiration_s,
            } => {
                let request = AmendOrderV2Request {
                    ticker: ticker.clone(),
                    side: convert::wire_side(side),
                    price,
                    count,
                    client_order_id: Some(client_order_id.as_str().to_string()),
                    updated_client_order_id: None,
                    expiration_time: expiration_s,
                    exchange_index: None,
                };
                self.stats.begin();
                let answer = self
                    .rest
                    .amend_order(order_id.as_str(), &request, self.subaccount)
                    .await;
                self.stats.end();
                match answer {
                    Ok(amended) => self.answer(GatewayResult::Amended {
                        client_order_id,
                        order_id: OrderId::new(&amended.order_id),
                        price,
                        fill_count: convert::count_or_zero(amended.fill_count),
                        remaining_count: amended.remaining_count.unwrap_or(count),
                    }),
                    Err(error) if error.is_unknown_outcome() => {
                        self.lost(client_order_id, ticker, WriteKind::Amend).await;
                    }
                    Err(error) => self.reject(client_order_id, WriteKind::Amend, &error),
                }
            }
            OrderIntent::Decrease {
                order_id,
                client_order_id,
                reduce_to,
                ..
            } => {
                self.stats.begin();
                let answer = self
                    .rest
                    .decrease_order(
                        order_id.as_str(),
                        &DecreaseOrderV2Request::to(reduce_to),
                        self.subaccount,
                    )
                    .await;
                self.stats.end();
                match answer {
                    Ok(decreased) => self.answer(GatewayResult::Decreased {
                        client_order_id,
                        remaining_count: decreased.remaining_count,
                    }),
                    Err(error) => self.reject(client_order_id, WriteKind::Decrease, &error),
                }
            }
            OrderIntent::Cancel { .. } => self.cancel_many(vec![intent]).await,
            OrderIntent::CancelAll => {
                self.stats.begin();
                let answer = self.rest.cancel_all_orders(self.subaccount).await;
                self.stats.end();
                if let Err(error) = &answer {
                    tracing::warn!(%error, "exchange cancel-all failed");
                }
                self.answer(GatewayResult::CancelAllDone { ok: answer.is_ok() });
            }
            OrderIntent::TriggerOrderGroups => {
                if let Some(group) = self.order_group_id.clone() {
                    self.stats.begin();
                    let answer = self
                        .rest
                        .trigger_order_group(
                            &group,
                            &OrderGroupWriteParams {
                                subaccount: self.subaccount,
                                exchange_index: None,
                            },
                        )
                        .await;
                    self.stats.end();
                    if let Err(error) = answer {
                        tracing::warn!(%error, "order group trigger failed");
                    }
                }
            }
        }
    }

    async fn place(&mut self, intent: OrderIntent) {
        let Some(request) = convert::create_request(&intent, self.subaccount) else {
            return;
        };
        let OrderIntent::Place {
            client_order_id,
            ticker,
            ..
        } = intent
        else {
            return;
        };
        // The last look before a non-cancel write leaves: a kill may have landed meanwhile.
        if self.halt.is_halted() && !is_flatten_request(&request) {
            self.stats.dropped_halted.fetch_add(1, Ordering::SeqCst);
            self.refuse(
                client_order_id,
                WriteKind::Place,
                HALTED_CODE,
                "trading is halted",
            );
            return;
        }
        self.stats.begin();
        let answer = self.rest.create_order(request).await;
        self.stats.end();
        match answer {
            Ok(created) => {
                let order_id = OrderId::new(&created.order_id);
                self.order_ids
                    .insert(client_order_id.clone(), order_id.clone());
                self.answer(GatewayResult::Placed {
                    client_order_id,
                    order_id,
                    fill_count: created.fill_count,
                    remaining_count: created.remaining_count,
                });
            }
            Err(error) if error.is_unknown_outcome() => {
                self.lost(client_order_id, ticker, WriteKind::Place).await;
            }
            Err(error) => self.reject(client_order_id, WriteKind::Place, &error),
        }
    }

    /// Tell the engine the write's answer was lost, then try to resolve it at once.
    async fn lost(&mut self, client_order_id: ClientOrderId, ticker: Ticker, write: WriteKind) {
        self.answer(GatewayResult::Lost {
            client_order_id: client_order_id.clone(),
            write,
        });
        self.unresolved.push(Unresolved {
            client_order_id,
            ticker: ticker.clone(),
        });
        self.stats.unresolved.fetch_add(1, Ordering::SeqCst);
        self.resolve_market(&ticker).await;
    }

    /// Resolve every lost write of one market from a read of its orders (made after the
    /// writes, so it shows them if they happened).
    async fn resolve_market(&mut self, ticker: &Ticker) {
        let params = GetOrdersParams {
            ticker: Some(ticker.as_str().to_string()),
            subaccount: self.subaccount,
            ..GetOrdersParams::default()
        };
        let orders = match self.rest.all_orders(&params).await {
            Ok(orders) => orders,
            Err(error) => {
                tracing::warn!(%error, %ticker, "cannot resolve unknown orders yet");
                return;
            }
        };
        let (mine, others): (Vec<Unresolved>, Vec<Unresolved>) =
            self.unresolved.drain(..).partition(|u| u.ticker == *ticker);
        self.unresolved = others;
        for unresolved in mine {
            let found = orders
                .iter()
                .find(|o| o.client_order_id == unresolved.client_order_id.as_str())
                .and_then(convert::order_report);
            if let Some(report) = &found {
                self.order_ids
                    .insert(unresolved.client_order_id.clone(), report.order_id.clone());
            }
            self.stats.unresolved.fetch_sub(1, Ordering::SeqCst);
            self.answer(GatewayResult::Resolved {
                client_order_id: unresolved.client_order_id,
                found,
            });
        }
    }

    /// Cancels, as one batch where there is more than one with a known order id.
    async fn cancel_many(&mut self, cancels: Vec<OrderIntent>) {
        let mut batch: Vec<(ClientOrderId, OrderId)> = Vec::new();
        for cancel in cancels {
            let OrderIntent::Cancel {
                order_id,
                client_order_id,
                ..
            } = cancel
            else {
                continue;
            };
            match order_id.or_else(|| self.order_ids.get(&client_order_id).cloned()) {
                Some(order_id) => batch.push((client_order_id, order_id)),
                None => self.refuse(
                    client_order_id,
                    WriteKind::Cancel,
                    "no_order_id",
                    "the order has no exchange id (its create failed or is unresolved)",
                ),
            }
        }
        match batch.len() {
            0 => {}
            1 => {
                let (client_order_id, order_id) = batch.remove(0);
                self.stats.begin();
                let answer = self
                    .rest
                    .cancel_order(
                        order_id.as_str(),
                        &CancelOrderV2Params {
                            subaccount: self.subaccount,
                            ..CancelOrderV2Params::default()
                        },
                    )
                    .await;
                self.stats.end();
                match answer {
                    Ok(canceled) => self.answer(GatewayResult::Canceled {
                        client_order_id,
                        reduced_by: canceled.reduced_by,
                    }),
                    Err(error) => self.reject(client_order_id, WriteKind::Cancel, &error),
                }
            }
            _ => {
                let orders = batch
                    .iter()
                    .map(|(_, order_id)| BatchCancelOrderV2 {
                        order_id: order_id.as_str().to_string(),
                        subaccount: self.subaccount,
                        exchange_index: None,
                        market_ticker: None,
                    })
                    .collect();
                self.stats.begin();
                let answers = self.rest.batch_cancel_orders(orders).await;
                self.stats.end();
                for ((client_order_id, _), answer) in batch.into_iter().zip(answers) {
                    match answer {
                        Ok(canceled) => self.answer(GatewayResult::Canceled {
                            client_order_id,
                            reduced_by: canceled.reduced_by,
                        }),
                        Err(error) => self.reject(client_order_id, WriteKind::Cancel, &error),
                    }
                }
            }
        }
    }
}

fn is_flatten(intent: &OrderIntent) -> bool {
    matches!(
        intent,
        OrderIntent::Place {
            flatten_permit: true,
            reduce_only: true,
            ..
        }
    )
}

fn is_flatten_request(request: &crate::kalshi::wire::CreateOrderV2Request) -> bool {
    request.reduce_only == Some(true)
        && request.time_in_force == crate::kalshi::wire::TimeInForce::ImmediateOrCancel
}

/// The order and write kind an intent answers for.
fn write_of(intent: &OrderIntent) -> Option<(ClientOrderId, WriteKind)> {
    match intent {
        OrderIntent::Place {
            client_order_id, ..
        } => Some((client_order_id.clone(), WriteKind::Place)),
        OrderIntent::Amend {
            client_order_id, ..
        } => Some((client_order_id.clone(), WriteKind::Amend)),
        OrderIntent::Decrease {
            client_order_id, ..
        } => Some((client_order_id.clone(), WriteKind::Decrease)),
        OrderIntent::Cancel {
            client_order_id, ..
        } => Some((client_order_id.clone(), WriteKind::Cancel)),
        OrderIntent::CancelAll | OrderIntent::TriggerOrderGroups => None,
    }
}

/// A stable code for errors the exchange did not name.
fn error_kind(error: &RestError) -> &'static str {
    match error {
        RestError::Api { .. } => "api_error",
        RestError::RateLimited { .. } => "rate_limited",
        RestError::WouldExceed { .. } => "budget_short",
        RestError::TooLarge { .. } => "too_large",
        RestError::Unknown { .. } => "outcome_unknown",
        RestError::NotSent { .. } => "not_sent",
        RestError::Timeout { .. } => "timeout",
        RestError::Transport { .. } => "transport",
        RestError::Decode { .. } => "decode",
        RestError::InvalidRequest(_) => "invalid_request",
    }
}
