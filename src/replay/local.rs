//! The local exchange for our orders: [`FillModel`] plus what an exchange keeps around it (how
//! much of each order filled, post-only flags for amends, `expiration_time`s). It answers an
//! intent the way the gateway and the private feed would, as [`LocalEvent`]s, and has no engine
//! and no clock: backtest (virtual time) and the paper desk (wall time) drive it.

use crate::core::FastMap;

use crate::core::engine::{
    GatewayResult, Input, MarketInput, OrderIntent, PrivateInput, WriteKind,
};
use crate::core::fill_model::{FillModel, ModelFill, OrderRequest, PlaceOutcome};
use crate::core::market::Ticker;
use crate::core::num::Count;
use crate::core::order::{ClientOrderId, ExchangeStatus, Fill, OrderReport};
use crate::core::portfolio::fees::FeeSchedule;
use crate::core::risk::TimeInForce;

/// How often resting orders are checked against their `expiration_time`, ms.
const EXPIRY_CHECK_MS: i64 = 100;

/// What the local exchange tells the desk, in the order the desk must hear it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalEvent {
    /// One of our orders filled (the private `fill` stream).
    Fill(ModelFill),
    /// The answer to a write (what the gateway would return).
    Gateway(GatewayResult),
    /// An order changed without a write of ours (expiry), as `user_orders` reports it.
    Order(OrderReport),
}

impl LocalEvent {
    /// The engine input this event is.
    pub fn into_input(self) -> Input {
        match self {
            LocalEvent::Fill(fill) => Input::Private(PrivateInput::Fill {
                fill: engine_fill(fill),
                post_position: None,
            }),
            LocalEvent::Gateway(result) => Input::Gateway(result),
            LocalEvent::Order(report) => Input::Private(PrivateInput::UserOrder(report)),
        }
    }
}

/// A model fill as the engine's fill record.
pub fn engine_fill(fill: ModelFill) -> Fill {
    Fill {
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
    }
}

#[derive(Debug, Clone, Default)]
pub struct LocalExchange {
    model: FillModel,
    /// Filled so far per order (Kalshi's amend `count` includes it).
    filled: FastMap<ClientOrderId, Count>,
    post_only: FastMap<ClientOrderId, bool>,
    /// `expiration_time` of resting orders (ms): the exchange cancels them then.
    expirations: FastMap<ClientOrderId, (Ticker, i64)>,
    next_expiry_check_ms: i64,
}

impl LocalExchange {
    /// `id_prefix` starts every local order and trade id (`bt`, `paper`).
    pub fn new(id_prefix: &str) -> LocalExchange {
        LocalExchange {
            model: FillModel::new(id_prefix),
            next_expiry_check_ms: i64::MIN,
            ..LocalExchange::default()
        }
    }

    pub fn model(&self) -> &FillModel {
        &self.model
    }

    pub fn set_fees(&mut self, ticker: &Ticker, fees: FeeSchedule) {
        self.model.set_fees(ticker, fees);
    }

    /// Contracts of an order filled so far.
    pub fn filled(&self, client_order_id: &ClientOrderId) -> Count {
        self.filled
            .get(client_order_id)
            .copied()
            .unwrap_or(Count::ZERO)
    }

    /// One public market input: the fills of our resting orders it caused.
    pub fn on_market(&mut self, input: &MarketInput, ts_ms: i64) -> Vec<ModelFill> {
        let fills = self.model.on_market(input, ts_ms);
        for fill in &fills {
            self.note_fill(fill);
        }
        fills
    }

    fn note_fill(&mut self, fill: &ModelFill) {
        let total = self
            .filled
            .entry(fill.client_order_id.clone())
            .or_insert(Count::ZERO);
        *total = total.saturating_add(fill.count);
    }

    /// Cancel resting orders past their `expiration_time` (checked every 100 ms of `now_ms`),
    /// reported as `user_orders` would.
    pub fn expire(&mut self, now_ms: i64) -> Vec<LocalEvent> {
        if now_ms < self.next_expiry_check_ms {
            return Vec::new();
        }
        self.next_expiry_check_ms = now_ms + EXPIRY_CHECK_MS;
        let mut due: Vec<(ClientOrderId, Ticker)> = self
            .expirations
            .iter()
            .filter(|(_, (_, at))| *at <= now_ms)
            .map(|(id, (ticker, _))| (id.clone(), ticker.clone()))
            .collect();
        due.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        let mut events = Vec::new();
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
            events.push(LocalEvent::Order(OrderReport {
                order_id: order.order_id,
                fill_count: self.filled(&client_order_id),
                client_order_id: Some(client_order_id),
                ticker,
                side: order.side,
                yes_price: order.price,
                status: ExchangeStatus::Canceled,
                remaining_count: Count::ZERO,
                initial_count: None,
                updated_ts_ms: Some(now_ms),
            }));
        }
        events
    }

    /// Execute one intent at `now_ms`: fills first, then the write's answer.
    pub fn execute(&mut self, intent: OrderIntent, now_ms: i64) -> Vec<LocalEvent> {
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
                self.post_only.insert(client_order_id.clone(), post_only);
                self.note_expiration(&client_order_id, &ticker, expiration_s);
                let request = OrderRequest {
                    client_order_id,
                    ticker,
                    side,
                    price,
                    count,
                    time_in_force,
                    post_only,
                };
                let outcome = self.model.place(&request, now_ms);
                self.answer(&request, outcome, WriteKind::Place)
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
                let post_only = self
                    .post_only
                    .get(&client_order_id)
                    .copied()
                    .unwrap_or(false);
                let request = OrderRequest {
                    count: count.saturating_sub(self.filled(&client_order_id)),
                    client_order_id: client_order_id.clone(),
                    ticker,
                    side,
                    price,
                    time_in_force: TimeInForce::GoodTillCanceled,
                    post_only,
                };
                match self.model.amend(&request, now_ms) {
                    Some(outcome) => self.answer(&request, outcome, WriteKind::Amend),
                    None => vec![not_resting(client_order_id, WriteKind::Amend)],
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
                Some(remaining) => vec![LocalEvent::Gateway(GatewayResult::Decreased {
                    client_order_id,
                    remaining_count: remaining,
                })],
                None => vec![not_resting(client_order_id, WriteKind::Decrease)],
            },
            OrderIntent::Cancel {
                client_order_id,
                ticker,
                ..
            } => match self.model.cancel(ticker.as_str(), &client_order_id) {
                Some(reduced_by) => vec![LocalEvent::Gateway(GatewayResult::Canceled {
                    client_order_id,
                    reduced_by,
                })],
                None => vec![not_resting(client_order_id, WriteKind::Cancel)],
            },
            OrderIntent::CancelAll | OrderIntent::TriggerOrderGroups => {
                let mut events: Vec<LocalEvent> = self
                    .model
                    .cancel_all()
                    .into_iter()
                    .map(|(_, client_order_id, reduced_by)| {
                        LocalEvent::Gateway(GatewayResult::Canceled {
                            client_order_id,
                            reduced_by,
                        })
                    })
                    .collect();
                events.push(LocalEvent::Gateway(GatewayResult::CancelAllDone {
                    ok: true,
                }));
                events
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

    /// What became of a place or amend, fills first: the engine then never re-decides on a
    /// stale position between the answer and its fills.
    fn answer(
        &mut self,
        request: &OrderRequest,
        outcome: PlaceOutcome,
        write: WriteKind,
    ) -> Vec<LocalEvent> {
        let client_order_id = request.client_order_id.clone();
        match outcome {
            PlaceOutcome::Accepted {
                order_id,
                fills,
                remaining,
            } => {
                for fill in &fills {
                    self.note_fill(fill);
                }
                let fill_count = self.filled(&client_order_id);
                let result = match write {
                    WriteKind::Amend => GatewayResult::Amended {
                        client_order_id,
                        order_id,
                        price: request.price,
                        fill_count,
                        remaining_count: remaining,
                    },
                    _ => GatewayResult::Placed {
                        client_order_id,
                        order_id,
                        fill_count,
                        remaining_count: remaining,
                    },
                };
                let mut events: Vec<LocalEvent> = fills.into_iter().map(LocalEvent::Fill).collect();
                events.push(LocalEvent::Gateway(result));
                events
            }
            PlaceOutcome::Rejected { code, details } => {
                vec![LocalEvent::Gateway(GatewayResult::Rejected {
                    client_order_id,
                    write,
                    http_status: Some(400),
                    code: code.to_string(),
                    details,
                })]
            }
        }
    }
}

fn not_resting(client_order_id: ClientOrderId, write: WriteKind) -> LocalEvent {
    LocalEvent::Gateway(GatewayResult::Rejected {
        client_order_id,
        write,
        http_status: Some(404),
        code: "not_found".to_string(),
        details: "order not resting".to_string(),
    })
}
