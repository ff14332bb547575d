//! Market data, account events, gateway answers and exchange news.

use crate::core::book::{ApplyOutcome, ResyncReason};
use crate::core::control::PauseReason;
use crate::core::market::{MarketStatus, PriceGrid, Ticker};
use crate::core::order::{AmendAck, CreateAck, LostWrite, OrderError, OrderOwner};
use crate::core::risk::RejectClass;
use crate::core::strategy::OwnFill;

use super::Touched;
use super::{
    AlarmLevel, AuditKind, Engine, ExchangeInput, GatewayResult, MarketInput, OrderIntent, Origin,
    PrivateInput, WriteKind,
};

impl Engine {
    pub(super) fn on_market(&mut self, input: MarketInput, touched: &mut Touched) {
        let mono = self.now.mono_ns;
        match input {
            MarketInput::Snapshot {
                ticker,
                yes,
                no,
                convention,
                ..
            } => {
                let outcome = self
                    .books
                    .apply_snapshot(&ticker, yes, no, convention, mono);
                self.note_book_outcome(&ticker, outcome);
                touched.insert(ticker);
            }
            MarketInput::Delta {
                ticker,
                side,
                price,
                delta,
                convention,
                ..
            } => {
                let outcome =
                    self.books
                        .apply_delta(ticker.as_str(), side, price, delta, convention, mono);
                self.note_book_outcome(&ticker, outcome);
                touched.insert(ticker);
            }
            MarketInput::Trade {
                ticker, yes_price, ..
            } => {
                self.last_trade.insert(ticker.clone(), yes_price);
                touched.insert(ticker);
            }
            MarketInput::Ticker {
                ticker, last_price, ..
            } => {
                if let Some(price) = last_price {
                    self.last_trade.insert(ticker.clone(), price);
                }
            }
            MarketInput::ResyncNeeded { tickers } => {
                for ticker in tickers {
                    self.books
                        .mark_resync(ticker.as_str(), ResyncReason::SequenceGap);
                    touched.insert(ticker);
                }
            }
            MarketInput::Info(info) => {
                let grid = if info.price_ranges.is_empty() {
                    PriceGrid::linear_cent()
                } else {
                    match PriceGrid::from_ranges(&info.price_ranges) {
                        Ok(grid) => grid,
                        Err(err) => {
                            self.alarm(
                                AlarmLevel::Warning,
                                format!(
                                    "{}: bad price_ranges ({err}); using whole cents",
                                    info.ticker
                                ),
                            );
                            PriceGrid::linear_cent()
                        }
                    }
                };
                let record = self.markets.entry(info.ticker.clone()).or_default();
                record.grid = grid;
                record.event_ticker = info.event_ticker;
                record.close_ms = info.close_ms;
                record.status = info.status;
                record.strike_rank = info.strike_rank;
                touched.insert(info.ticker);
            }
        }
    }

    fn note_book_outcome(&mut self, ticker: &Ticker, outcome: ApplyOutcome) {
        match outcome {
            ApplyOutcome::Applied => {}
            ApplyOutcome::NeedsResync(reason) => {
                // Only the first problem is worth a line; later deltas are dropped quietly.
                let first = self.control.market(ticker).hold_since_ns.is_none();
                if first {
                    self.out.resync_requests.push(ticker.clone());
                    self.alarm(
                        AlarmLevel::Warning,
                        format!("{ticker}: book needs resync ({reason})"),
                    );
                }
            }
            ApplyOutcome::UnknownMarket => {}
        }
    }

    pub(super) fn on_private(&mut self, input: PrivateInput, touched: &mut Touched) {
        match input {
            PrivateInput::Fill {
                fill,
                post_position,
            } => {
                touched.insert(fill.ticker.clone());
                let outcome = self.orders.record_fill(&fill);
                if !outcome.is_new {
                    self.audit(AuditKind::DuplicateFill {
                        trade_id: fill.trade_id,
                    });
                    return;
                }
                let Some(effect) = self.portfolio.apply_fill(&fill, self.now.wall_ms) else {
                    // The store had not seen this trade, the portfolio had: keep them apart
                    // rather than double-book.
                    self.audit(AuditKind::DuplicateFill {
                        trade_id: fill.trade_id,
                    });
                    return;
                };
                self.audit(AuditKind::Fill {
                    trade_id: fill.trade_id.clone(),
                    ticker: fill.ticker.clone(),
                    side: fill.side,
                    yes_price: fill.yes_price,
                    count: fill.count,
                    fee_cost: fill.fee_cost,
                    position: effect.position_after,
                });
                if let Some(exchange) = post_position {
                    self.check_drift(&fill.ticker, exchange);
                }
                let owner = outcome
                    .client_order_id
                    .and_then(|id| self.orders.get(id.as_str()).map(|o| o.owner.clone()));
                if let (Some(owner), Some(slot)) = (owner, self.strategies.get_mut(&fill.ticker))
                    && owner == slot.owner()
                {
                    slot.strategy.on_fill(&OwnFill {
                        side: fill.side,
                        price: fill.yes_price,
                        count: fill.count,
                    });
                }
            }
            PrivateInput::UserOrder(report) => {
                touched.insert(report.ticker.clone());
                let was_unknown = self
                    .orders
                    .by_order_id(report.order_id.as_str())
                    .or_else(|| {
                        report
                            .client_order_id
                            .as_ref()
                            .and_then(|id| self.orders.get(id.as_str()))
                    })
                    .filter(|o| o.state == crate::core::order::OrderState::Unknown)
                    .map(|o| o.client_order_id.clone());
                match self.orders.apply_report(report) {
                    Ok(_) => {
                        if let Some(client_order_id) = was_unknown {
                            self.audit(AuditKind::UnknownResolved {
                                client_order_id,
                                found: true,
                            });
                        }
                    }
                    Err(err) => self.store_error("user_order", err),
                }
            }
            PrivateInput::MarketPosition {
                ticker,
                position,
                cost,
            } => {
                touched.insert(ticker.clone());
                if self.portfolio.position(ticker.as_str()).is_some() {
                    self.check_drift(&ticker, position);
                } else if !position.is_zero() {
                    // Start-up reconciliation: adopt the exchange's position. Without its cost it
                    // is valued at the worst case, a full dollar per contract.
                    let cost = cost
                        .unwrap_or_else(|| crate::core::num::Price::ONE.cost_of(position.abs()));
                    self.portfolio.reconcile_position(&ticker, position, cost);
                }
            }
            PrivateInput::Balance {
                available,
                as_of_ms,
            } => {
                let as_of = as_of_ms.unwrap_or_else(|| self.now.exchange_ms());
                self.portfolio.set_exchange_balance(available, as_of);
            }
        }
    }

    /// Compare our position with the exchange's; a difference pauses the market until a later
    /// report agrees.
    fn check_drift(&mut self, ticker: &Ticker, exchange: crate::core::num::Count) {
        let ours = self.portfolio.contracts(ticker.as_str());
        let drift = ours != exchange;
        let was = self
            .control
            .market(ticker)
            .reasons
            .contains(&PauseReason::PositionDrift);
        if drift && !was {
            self.audit(AuditKind::PositionDrift {
                ticker: ticker.clone(),
                ours,
                exchange,
            });
            self.alarm(
                AlarmLevel::Warning,
                format!("{ticker}: position {ours} but the exchange says {exchange}"),
            );
            self.position_drifts = self.position_drifts.saturating_add(1);
        }
        self.set_reason(ticker, PauseReason::PositionDrift, drift);
        if drift && !was && self.position_drifts >= self.config.max_position_drifts {
            let reason = format!(
                "position drift: {} drifts this session (limit {}), last on {ticker}",
                self.position_drifts, self.config.max_position_drifts
            );
            self.kill(&reason);
        }
    }

    /// A cancel was sent before the exchange's `order_id` was known (kill, flatten): send it
    /// again with the id as soon as the create is answered, if the order still rests.
    fn cancel_now_that_id_is_known(&mut self, client_order_id: &str) {
        let Some(order) = self.orders.get(client_order_id).cloned() else {
            return;
        };
        if !self.cancels_without_id.remove(&order.client_order_id) || !order.is_open() {
            return;
        }
        if let Some(order_id) = order.order_id.clone() {
            self.emit(
                Origin::Operator,
                OrderIntent::Cancel {
                    order_id: Some(order_id),
                    client_order_id: order.current_client_order_id.clone(),
                    ticker: order.ticker.clone(),
                },
            );
        }
    }

    fn forget_decrease(&mut self, client_order_id: &str) {
        if let Some(order) = self.orders.get(client_order_id) {
            let key = order.client_order_id.clone();
            self.pending_decreases.remove(&key);
        }
    }

    fn store_error(&mut self, context: &str, err: OrderError) {
        self.alarm(AlarmLevel::Warning, format!("{context}: {err}"));
    }

    fn ticker_of(&self, client_order_id: &str) -> Option<Ticker> {
        self.orders.get(client_order_id).map(|o| o.ticker.clone())
    }

    pub(super) fn on_gateway(&mut self, result: GatewayResult, touched: &mut Touched) {
        let id = match &result {
            GatewayResult::Placed {
                client_order_id, ..
            }
            | GatewayResult::Amended {
                client_order_id, ..
            }
            | GatewayResult::Decreased {
                client_order_id, ..
            }
            | GatewayResult::Canceled {
                client_order_id, ..
            }
            | GatewayResult::Rejected {
                client_order_id, ..
            }
            | GatewayResult::Lost {
                client_order_id, ..
            }
            | GatewayResult::Resolved {
                client_order_id, ..
            } => Some(client_order_id.clone()),
            GatewayResult::CancelAllDone { .. } => None,
        };
        if let Some(ticker) = id.as_ref().and_then(|id| self.ticker_of(id.as_str())) {
            touched.insert(ticker);
        }
        let outcome = match result {
            GatewayResult::Placed {
                client_order_id,
                order_id,
                fill_count,
                remaining_count,
            } => {
                self.business_reject_streak = 0;
                let ack = CreateAck {
                    order_id: order_id.clone(),
                    fill_count,
                    remaining_count,
                    ts_ms: None,
                };
                let result = self.orders.create_acked(client_order_id.as_str(), ack);
                if result.is_ok() {
                    self.audit(AuditKind::OrderAcked {
                        client_order_id: client_order_id.clone(),
                        order_id,
                    });
                    self.cancel_now_that_id_is_known(client_order_id.as_str());
                }
                result.map(|_| ())
            }
            GatewayResult::Amended {
                client_order_id,
                fill_count,
                remaining_count,
                ..
            } => {
                self.business_reject_streak = 0;
                let ack = AmendAck {
                    fill_count: Some(fill_count),
                    remaining_count: Some(remaining_count),
                    ts_ms: None,
                };
                self.orders
                    .amend_acked(client_order_id.as_str(), ack)
                    .map(|_| ())
            }
            GatewayResult::Decreased {
                client_order_id,
                remaining_count,
            } => {
                self.forget_decrease(client_order_id.as_str());
                self.orders
                    .decrease_acked(client_order_id.as_str(), remaining_count, None)
                    .map(|_| ())
            }
            GatewayResult::Canceled {
                client_order_id,
                reduced_by,
            } => self
                .orders
                .cancel_acked(client_order_id.as_str(), reduced_by, None)
                .map(|_| {
                    self.audit(AuditKind::OrderCanceled {
                        client_order_id,
                        reduced_by,
                    })
                }),
            GatewayResult::Rejected {
                client_order_id,
                write,
                http_status,
                code,
                details,
            } => {
                // A 404 or `not_found` on an amend, cancel or decrease: the order is already gone
                // (executed, expired, or cancelled by an earlier cancel-all) and its final state
                // is on its way. That is no verdict on an order, so it does not feed the reject
                // streak; an amend's order is looked up like a lost amend instead of being
                // amended again and again until the news arrives.
                let targets_existing_order = !matches!(write, WriteKind::Place);
                let class = RejectClass::classify_write(
                    targets_existing_order,
                    http_status,
                    &code,
                    &details,
                );
                let gone = class == RejectClass::AlreadyGone;
                let business = class.is_business();
                if business {
                    self.business_reject_streak = self.business_reject_streak.saturating_add(1);
                }
                self.audit(AuditKind::OrderRejected {
                    client_order_id: client_order_id.clone(),
                    code: if details.is_empty() {
                        code.clone()
                    } else {
                        format!("{code}: {details}")
                    },
                    business,
                });
                let id = client_order_id.as_str();
                match write {
                    WriteKind::Place => self.orders.create_rejected(id, &code).map(|_| ()),
                    WriteKind::Amend if gone => {
                        let lost = self.orders.answer_lost(id, LostWrite::Amend).map(|_| ());
                        if lost.is_ok() {
                            self.audit(AuditKind::OrderUnknown {
                                client_order_id: client_order_id.clone(),
                            });
                        }
                        lost
                    }
                    WriteKind::Amend => self.orders.amend_rejected(id),
                    WriteKind::Decrease => {
                        self.forget_decrease(id);
                        Ok(())
                    }
                    WriteKind::Cancel => self.orders.cancel_failed(id),
                }
            }
            GatewayResult::Lost {
                client_order_id,
                write,
            } => {
                let id = client_order_id.as_str();
                let result = match write {
                    WriteKind::Place => self.orders.answer_lost(id, LostWrite::Create).map(|_| ()),
                    WriteKind::Amend => self.orders.answer_lost(id, LostWrite::Amend).map(|_| ()),
                    // A lost cancel or decrease is harmless: it may simply be sent again (a
                    // decrease to an absolute size is idempotent).
                    WriteKind::Decrease => {
                        self.forget_decrease(id);
                        Ok(())
                    }
                    WriteKind::Cancel => self.orders.cancel_failed(id),
                };
                if matches!(write, WriteKind::Place | WriteKind::Amend) && result.is_ok() {
                    self.audit(AuditKind::OrderUnknown {
                        client_order_id: client_order_id.clone(),
                    });
                    self.alarm(
                        AlarmLevel::Warning,
                        format!("{client_order_id}: answer lost; its market's writes wait"),
                    );
                }
                result
            }
            GatewayResult::Resolved {
                client_order_id,
                found,
            } => {
                let id = client_order_id.as_str();
                let found_it = found.is_some();
                let result = match found {
                    Some(report) => self.orders.apply_report(report).map(|_| ()),
                    None => self.orders.resolve_not_found(id).map(|_| ()),
                };
                if result.is_ok() {
                    self.audit(AuditKind::UnknownResolved {
                        client_order_id: client_order_id.clone(),
                        found: found_it,
                    });
                    self.cancel_now_that_id_is_known(client_order_id.as_str());
                }
                result
            }
            GatewayResult::CancelAllDone { ok } => {
                if ok {
                    self.control.note_cancel_all(self.now.mono_ns);
                } else {
                    self.alarm(
                        AlarmLevel::Critical,
                        "exchange cancel-all failed: orders may still rest".to_string(),
                    );
                }
                Ok(())
            }
        };
        if let Err(err) = outcome {
            self.store_error("gateway", err);
        }
    }

    /// Returns true when the news concerns every market.
    pub(super) fn on_exchange(&mut self, news: ExchangeInput, touched: &mut Touched) -> bool {
        match news {
            ExchangeInput::TradingActive { active } => {
                if self.exchange_active != active {
                    self.exchange_active = active;
                    let word = if active { "resumed" } else { "paused" };
                    self.alarm(AlarmLevel::Warning, format!("exchange trading {word}"));
                }
                true
            }
            ExchangeInput::MarketPaused { ticker, paused } => {
                self.markets
                    .entry(ticker.clone())
                    .or_default()
                    .paused_at_exchange = paused;
                touched.insert(ticker);
                false
            }
            ExchangeInput::MarketStatus { ticker, status } => {
                self.markets.entry(ticker.clone()).or_default().status = status;
                if matches!(status, MarketStatus::Closed) || status.is_determined() {
                    // Nothing more can trade here: the strategy has no reason to stay armed.
                    if let Ok(Some(change)) = self.control.disarm(&ticker) {
                        self.record_changes([change]);
                    }
                }
                touched.insert(ticker);
                false
            }
            ExchangeInput::CloseTime { ticker, close_ms } => {
                self.markets.entry(ticker.clone()).or_default().close_ms = Some(close_ms);
                touched.insert(ticker);
                false
            }
            ExchangeInput::Settled {
                ticker,
                result,
                fee,
                ts_ms,
            } => {
                if let Ok(Some(change)) = self.control.disarm(&ticker) {
                    self.record_changes([change]);
                }
                let record =
                    self.portfolio
                        .settle(ticker.as_str(), result, fee, ts_ms, self.now.wall_ms);
                if let Some(record) = record {
                    self.audit(AuditKind::Settled {
                        ticker: ticker.clone(),
                        result,
                        payout: record.payout,
                        realized: record.realized,
                    });
                }
                touched.insert(ticker);
                false
            }
            ExchangeInput::EventStructure {
                event_ticker,
                structure,
            } => {
                self.events.insert(event_ticker, structure);
                false
            }
            ExchangeInput::OrderGroupTriggered { order_group_id } => {
                if !self.is_halted() {
                    self.kill(&format!(
                        "order group {order_group_id} triggered at the exchange"
                    ));
                }
                false
            }
        }
    }

    /// The strategy owner of an order, if a strategy owns it.
    pub(super) fn is_strategy_owned(owner: &OrderOwner) -> bool {
        matches!(owner, OrderOwner::Strategy { .. })
    }
}
