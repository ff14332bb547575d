//! The engine with a local exchange in place of the order gateway: intents reach the fill model
//! after the configured latency, answers and fills go back to the engine as the gateway and the
//! private feed would deliver them. Shared by backtest (virtual clock) and paper (wall clock).

use std::collections::{HashMap, VecDeque};

use crate::core::engine::{
    AuditEvent, Command, Engine, EngineConfig, GatewayResult, Input, MarketInput, OrderIntent,
    PrivateInput, WriteKind,
};
use crate::core::fill_model::{FillModel, ModelFill, OrderRequest, PlaceOutcome};
use crate::core::market::Ticker;
use crate::core::num::{Count, Money};
use crate::core::order::{ClientOrderId, ExchangeStatus, Fill, OrderReport};
use crate::core::portfolio::MarketResult;
use crate::core::portfolio::fees::FeeSchedule;
use crate::core::risk::TimeInForce;
use crate::core::time::Now;
use crate::replay::ledger::Ledger;

/// How often resting orders are checked against their `expiration_time`, ms.
const EXPIRY_CHECK_MS: i64 = 100;

/// How the local exchange behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub engine: EngineConfig,
    /// One-way delay from an intent to the book, ms.
    pub latency_ms: i64,
    /// Cash the account starts with.
    pub starting_cash: Money,
    /// Prefix of local order and trade ids (`bt`, `paper`).
    pub id_prefix: String,
}

/// An intent on its way to the local book.
#[derive(Debug, Clone)]
struct InFlight {
    due_ms: i64,
    intent: OrderIntent,
}

/// Engine + fill model + our ledger.
pub struct Session {
    engine: Engine,
    model: FillModel,
    ledger: Ledger,
    in_flight: VecDeque<InFlight>,
    latency_ms: i64,
    /// Filled so far per order (Kalshi's amend `count` includes it).
    filled: HashMap<ClientOrderId, Count>,
    post_only: HashMap<ClientOrderId, bool>,
    /// `expiration_time` of resting orders (ms): the exchange cancels them then.
    expirations: HashMap<ClientOrderId, (Ticker, i64)>,
    next_expiry_check_ms: i64,
    audits: Vec<AuditEvent>,
    keep_audits: bool,
    halted: Option<String>,
}

impl Session {
    pub fn new(config: SessionConfig, now: Now) -> Session {
        let mut session = Session {
            engine: Engine::new(config.engine),
            model: FillModel::new(&config.id_prefix),
            ledger: Ledger::default(),
            in_flight: VecDeque::new(),
            latency_ms: config.latency_ms.max(0),
            filled: HashMap::new(),
            post_only: HashMap::new(),
            expirations: HashMap::new(),
            next_expiry_check_ms: i64::MIN,
            audits: Vec::new(),
            keep_audits: true,
            halted: None,
        };
        session.input(Input::ClockOffset { offset_ms: 0 }, now);
        session.input(
            Input::Private(PrivateInput::Balance {
                available: config.starting_cash,
                as_of_ms: Some(now.wall_ms),
            }),
            now,
        );
        session
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
    pub fn model(&self) -> &FillModel {
        &self.model
    }
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
    pub fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }
    /// Why the engine halted, if it did.
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Audits collected since the last call.
    pub fn take_audits(&mut self) -> Vec<AuditEvent> {
        std::mem::take(&mut self.audits)
    }

    /// Stop collecting audits (long backtests that only need the ledger).
    pub fn discard_audits(&mut self) {
        self.keep_audits = false;
        self.audits.clear();
    }

    pub fn set_fees(&mut self, ticker: &Ticker, fees: FeeSchedule) {
        self.model.set_fees(ticker, fees);
    }

    pub fn command(&mut self, command: Command, now: Now) {
        self.input(Input::Command(command), now);
    }

    /// Deliver everything due by `now`, then one input to the engine (market data goes to the
    /// fill model first, so our resting orders fill on the same trade the engine sees).
    pub fn input(&mut self, input: Input, now: Now) {
        self.advance(now);
        if let Input::Market(market) = &input {
            let fills = self.model.on_market(market, now.wall_ms);
            if let MarketInput::Snapshot { ticker, .. }
            | MarketInput::Delta { ticker, .. }
            | MarketInput::Trade { ticker, .. } = market
                && let Some(mid) = self.model.mid(ticker.as_str())
            {
                self.ledger.mark(ticker, mid);
            }
            self.engine_input(input, now);
            for fill in fills {
                self.deliver_fill(fill, now);
            }
        } else {
            self.engine_input(input, now);
        }
    }

    /// A market settled: pay out our ledger's position.
    pub fn settle(&mut self, ticker: &Ticker, result: MarketResult, now: Now) {
        self.ledger.settle(ticker, result, now.wall_ms);
    }

    /// Apply every in-flight intent due by `now` (each at its own due time).
    pub fn advance(&mut self, now: Now) {
        while self
            .in_flight
            .front()
            .is_some_and(|f| f.due_ms <= now.wall_ms)
        {
            let Some(flight) = self.in_flight.pop_front() else {
                break;
            };
            let at = Now {
                mono_ns: now
                    .mono_ns
                    .saturating_sub(((now.wall_ms - flight.due_ms).max(0) as u64) * 1_000_000),
                wall_ms: flight.due_ms,
                exchange_offset_ms: now.exchange_offset_ms,
            };
            self.execute(flight.intent, at);
        }
        if now.wall_ms >= self.next_expiry_check_ms {
            self.next_expiry_check_ms = now.wall_ms + EXPIRY_CHECK_MS;
            self.expire(now);
        }
    }

    /// Cancel resting orders past their `expiration_time`, as the exchange would, and tell the
    /// engine the way the exchange does (a `user_orders` update).
    fn expire(&mut self, now: Now) {
        let mut due: Vec<(ClientOrderId, Ticker)> = self
            .expirations
            .iter()
            .filter(|(_, (_, at))| *at <= now.wall_ms)
            .map(|(id, (ticker, _))| (id.clone(), ticker.clone()))
            .collect();
        due.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        for (client_order_id, ticker) in due {
            self.expirations.remove(&client_order_id);
            let resting = self
                .model
                .resting(ticker.as_str())
                .iter()
                .find(|o| o.client_order_id == client_order_id)
                .cloned();
            let Some(order) = resting else { continue };
            self.model.cancel(ticker.as_str(), &client_order_id);
            let filled = self
                .filled
                .get(&client_order_id)
                .copied()
                .unwrap_or(Count::ZERO);
            let report = OrderReport {
                order_id: order.order_id,
                client_order_id: Some(client_order_id),
                ticker,
                side: order.side,
                yes_price: order.price,
                status: ExchangeStatus::Canceled,
                fill_count: filled,
                remaining_count: Count::ZERO,
                initial_count: None,
                updated_ts_ms: Some(now.wall_ms),
            };
            self.engine_input(Input::Private(PrivateInput::UserOrder(report)), now);
        }
    }

    /// Intents still travelling.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn engine_input(&mut self, input: Input, now: Now) {
        let outputs = self.engine.handle(input, now);
        if self.halted.is_none() {
            self.halted = outputs.halted.clone();
        }
        if self.keep_audits {
            self.audits.extend(outputs.audits);
        }
        for intent in outputs.intents {
            if let OrderIntent::Place {
                client_order_id,
                post_only,
                ..
            } = &intent
            {
                self.post_only.insert(client_order_id.clone(), *post_only);
            }
            self.in_flight.push_back(InFlight {
                due_ms: now.wall_ms + self.latency_ms,
                intent,
            });
        }
    }

    fn gateway(&mut self, result: GatewayResult, now: Now) {
        self.engine_input(Input::Gateway(result), now);
    }

    fn deliver_fill(&mut self, fill: ModelFill, now: Now) {
        self.ledger.apply_fill(&fill);
        let total = self
            .filled
            .entry(fill.client_order_id.clone())
            .or_insert(Count::ZERO);
        *total = total.saturating_add(fill.count);
        let fill = Fill {
            trade_id: fill.trade_id,
            order_id: fill.order_id,
            client_order_id: Some(fill.client_order_id),
            ticker: fill.ticker,
            side: fill.side,
            yes_price: fill.yes_price,
            count: fill.count,
            is_taker: fill.is_taker,
            fee_cost: fill.fee_cost,
            ts_ms: fill.ts_ms,
        };
        self.engine_input(
            Input::Private(PrivateInput::Fill {
                fill,
                post_position: None,
            }),
            now,
        );
    }

    fn execute(&mut self, intent: OrderIntent, now: Now) {
        match intent {
            OrderIntent::Place {
                client_order_id,
                ticker,
                side,
                price,
                count,
                time_in_force,
                post_only,
                expiration_s,
                ..
            } => {
                self.note_expiration(&client_order_id, &ticker, expiration_s);
                let request = OrderRequest {
                    client_order_id: client_order_id.clone(),
                    ticker,
                    side,
                    price,
                    count,
                    time_in_force,
                    post_only,
                };
                self.place(request, WriteKind::Place, now);
            }
            OrderIntent::Amend {
                client_order_id,
                ticker,
                side,
                price,
                count,
                expiration_s,
                ..
            } => {
                self.note_expiration(&client_order_id, &ticker, expiration_s);
                let filled = self
                    .filled
                    .get(&client_order_id)
                    .copied()
                    .unwrap_or(Count::ZERO);
                let post_only = self
                    .post_only
                    .get(&client_order_id)
                    .copied()
                    .unwrap_or(false);
                let request = OrderRequest {
                    client_order_id: client_order_id.clone(),
                    ticker,
                    side,
                    price,
                    count: count.saturating_sub(filled),
                    time_in_force: TimeInForce::GoodTillCanceled,
                    post_only,
                };
                match self.model.amend(&request, now.wall_ms) {
                    Some(outcome) => self.answer(&request, outcome, WriteKind::Amend, now),
                    None => self.reject(client_order_id, WriteKind::Amend, "not_found", now),
                }
            }
            OrderIntent::Decrease {
                client_order_id,
                ticker,
                reduce_to,
                ..
            } => match self
                .model
                .decrease(ticker.as_str(), &client_order_id, reduce_to)
            {
                Some(remaining) => self.gateway(
                    GatewayResult::Decreased {
                        client_order_id,
                        remaining_count: remaining,
                    },
                    now,
                ),
                None => self.reject(client_order_id, WriteKind::Decrease, "not_found", now),
            },
            OrderIntent::Cancel {
                client_order_id,
                ticker,
                ..
            } => match self.model.cancel(ticker.as_str(), &client_order_id) {
                Some(reduced_by) => self.gateway(
                    GatewayResult::Canceled {
                        client_order_id,
                        reduced_by,
                    },
                    now,
                ),
                None => self.reject(client_order_id, WriteKind::Cancel, "not_found", now),
            },
            OrderIntent::CancelAll | OrderIntent::TriggerOrderGroups => {
                for (_, client_order_id, reduced_by) in self.model.cancel_all() {
                    self.gateway(
                        GatewayResult::Canceled {
                            client_order_id,
                            reduced_by,
                        },
                        now,
                    );
                }
                self.gateway(GatewayResult::CancelAllDone { ok: true }, now);
            }
        }
    }

    fn note_expiration(&mut self, id: &ClientOrderId, ticker: &Ticker, expiration_s: Option<i64>) {
        match expiration_s {
            Some(s) => {
                self.expirations
                    .insert(id.clone(), (ticker.clone(), s.saturating_mul(1000)));
            }
            None => {
                self.expirations.remove(id);
            }
        }
    }

    fn place(&mut self, request: OrderRequest, write: WriteKind, now: Now) {
        let outcome = self.model.place(&request, now.wall_ms);
        self.answer(&request, outcome, write, now);
    }

    /// Tell the engine what became of a place or amend, fills first.
    fn answer(
        &mut self,
        request: &OrderRequest,
        outcome: PlaceOutcome,
        write: WriteKind,
        now: Now,
    ) {
        let client_order_id = request.client_order_id.clone();
        match outcome {
            PlaceOutcome::Accepted {
                order_id,
                fills,
                remaining,
            } => {
                let already = self
                    .filled
                    .get(&client_order_id)
                    .copied()
                    .unwrap_or(Count::ZERO);
                let now_filled = fills
                    .iter()
                    .fold(already, |sum, f| sum.saturating_add(f.count));
                let result = match write {
                    WriteKind::Amend => GatewayResult::Amended {
                        client_order_id,
                        order_id,
                        price: request.price,
                        fill_count: now_filled,
                        remaining_count: remaining,
                    },
                    _ => GatewayResult::Placed {
                        client_order_id,
                        order_id,
                        fill_count: now_filled,
                        remaining_count: remaining,
                    },
                };
                // The fills first: the engine then never re-decides on a stale position
                // between the answer and its fills.
                for fill in fills {
                    self.deliver_fill(fill, now);
                }
                self.gateway(result, now);
            }
            PlaceOutcome::Rejected { code, details } => {
                self.gateway(
                    GatewayResult::Rejected {
                        client_order_id,
                        write,
                        http_status: Some(400),
                        code: code.to_string(),
                        details,
                    },
                    now,
                );
            }
        }
    }

    fn reject(&mut self, client_order_id: ClientOrderId, write: WriteKind, code: &str, now: Now) {
        self.gateway(
            GatewayResult::Rejected {
                client_order_id,
                write,
                http_status: Some(404),
                code: code.to_string(),
                details: "order not resting".to_string(),
            },
            now,
        );
    }
}
