//! Operator commands. Kill is always obeyed; every other command may be refused, and a refusal
//! is audited with its reason.

use crate::core::control::{ArmConditions, OperatorMode};
use crate::core::market::Ticker;
use crate::core::num::Count;
use crate::core::order::{AmendRequest, OrderOwner, OrderState};
use crate::core::risk::{BreachMonitor, ReduceOnlyCause, Side, TimeInForce};
use crate::core::strategy::DesiredOrder;

use super::Touched;
use super::decide::OrderTicket;
use super::{AuditKind, Command, ConfirmAction, Engine, ManualOrder, Origin, PendingConfirmation};

impl Engine {
    pub(super) fn on_command(&mut self, command: Command, touched: &mut Touched) {
        let name = command_name(&command);
        if let Err(reason) = self.apply_command(command, touched) {
            self.audit(AuditKind::CommandRefused {
                command: name.to_string(),
                reason,
            });
        }
    }

    fn arm_facts(&self, ticker: &Ticker) -> ArmConditions {
        ArmConditions {
            mono_ns: self.now.mono_ns,
            clock_offset_ms: self.clock_offset_ms,
            has_strategy: self.strategies.contains_key(ticker),
        }
    }

    fn apply_command(&mut self, command: Command, touched: &mut Touched) -> Result<(), String> {
        match command {
            Command::Arm { ticker } => {
                touched.insert(ticker.clone());
                let facts = self.arm_facts(&ticker);
                let change = self
                    .control
                    .arm(&ticker, facts)
                    .map_err(|e| e.to_string())?;
                self.record_changes(change);
                Ok(())
            }
            Command::Pause { ticker } => {
                touched.insert(ticker.clone());
                let change = self.control.pause(&ticker).map_err(|e| e.to_string())?;
                self.record_changes(change);
                Ok(())
            }
            Command::Resume { ticker } => {
                touched.insert(ticker.clone());
                let facts = self.arm_facts(&ticker);
                let change = self
                    .control
                    .resume(&ticker, facts)
                    .map_err(|e| e.to_string())?;
                self.record_changes(change);
                Ok(())
            }
            Command::Disarm { ticker } => {
                touched.insert(ticker.clone());
                let change = self.control.disarm(&ticker).map_err(|e| e.to_string())?;
                self.record_changes(change);
                Ok(())
            }
            Command::OverrideManual { ticker } => {
                touched.insert(ticker.clone());
                let change = self
                    .control
                    .override_manual(&ticker)
                    .map_err(|e| e.to_string())?;
                self.record_changes(change);
                Ok(())
            }
            Command::ReleaseManual { ticker } => {
                touched.insert(ticker.clone());
                let change = self
                    .control
                    .release_manual(&ticker)
                    .map_err(|e| e.to_string())?;
                self.record_changes(change);
                Ok(())
            }
            Command::Reducing { ticker } => {
                touched.insert(ticker.clone());
                let change = self.control.reducing(&ticker).map_err(|e| e.to_string())?;
                self.record_changes(change);
                Ok(())
            }
            Command::SetStrategy { ticker, params } => {
                let strategy = params.build().map_err(|e| e.to_string())?;
                let kind = strategy.kind().to_string();
                self.strategies.insert(
                    ticker.clone(),
                    super::StrategySlot {
                        params: Some(params),
                        strategy,
                    },
                );
                self.control.register(&ticker, &[]);
                self.audit(AuditKind::StrategySet {
                    ticker: ticker.clone(),
                    strategy: kind,
                });
                touched.insert(ticker);
                Ok(())
            }
            Command::SetLimits { limits } => {
                self.config.limits = limits;
                Ok(())
            }
            Command::PlaceManual(ticket) => {
                touched.insert(ticket.ticker.clone());
                self.place_manual(ticket)
            }
            Command::AmendManual {
                client_order_id,
                price,
                count,
            } => self.amend_manual(client_order_id.as_str(), price, count, touched),
            Command::CancelManual { client_order_id } => {
                let order = self
                    .orders
                    .get(client_order_id.as_str())
                    .cloned()
                    .ok_or_else(|| format!("no order {client_order_id}"))?;
                if !order.is_open() {
                    return Err(format!("{client_order_id} is {:?}", order.state));
                }
                if order.cancel_requested {
                    return Err(format!("{client_order_id}: a cancel is already in flight"));
                }
                touched.insert(order.ticker.clone());
                self.cancel_order(Origin::Operator, &order);
                Ok(())
            }
            Command::CancelAllInMarket { ticker } => {
                touched.insert(ticker.clone());
                self.cancel_orders(Origin::Operator, |order| order.ticker == ticker);
                Ok(())
            }
            Command::Kill { reason } => {
                self.kill(&format!("kill switch: {reason}"));
                Ok(())
            }
            Command::RequestConfirmation { action } => {
                let token = self.next_token();
                self.confirmation = Some(PendingConfirmation { action, token });
                self.audit(AuditKind::ConfirmationIssued { action, token });
                Ok(())
            }
            Command::ResetHalt { token } => {
                self.take_confirmation(ConfirmAction::ResetHalt, token)?;
                self.control.reset_halt().map_err(|e| e.to_string())?;
                // The operator has looked at what halted the desk: measurements start afresh.
                self.breaches = BreachMonitor::default();
                self.business_reject_streak = 0;
                self.attempted_writes = Default::default();
                let state = self.control.trading().clone();
                self.audit(AuditKind::TradingChanged { state });
                Ok(())
            }
            Command::FlattenAll { token } => {
                self.take_confirmation(ConfirmAction::FlattenAll, token)?;
                self.flatten_all(touched);
                Ok(())
            }
        }
    }

    /// Tokens are derived from the session nonce and the audit sequence: unique per request,
    /// reproducible in replay, and useless once consumed.
    fn next_token(&self) -> u64 {
        let mut z = (u64::from(self.config.session_nonce) << 32) ^ self.seq.wrapping_add(1);
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn take_confirmation(&mut self, action: ConfirmAction, token: u64) -> Result<(), String> {
        match self.confirmation {
            Some(pending) if pending.action == action && pending.token == token => {
                self.confirmation = None;
                Ok(())
            }
            Some(pending) if pending.action == action => {
                Err(format!("{action:?}: confirmation token does not match"))
            }
            _ => Err(format!("{action:?}: no confirmation was requested")),
        }
    }

    /// Writes in a market wait while one of its orders is UNKNOWN.
    pub(super) fn unknown_order_in(&self, ticker: &str) -> Option<String> {
        self.orders
            .open_in_market(ticker)
            .find(|o| o.state == OrderState::Unknown)
            .map(|o| o.client_order_id.to_string())
    }

    fn place_manual(&mut self, ticket: ManualOrder) -> Result<(), String> {
        if self.is_halted() {
            return Err(
                "trading is HALTED: only cancels and confirmed flatten orders may leave".into(),
            );
        }
        if let Some(id) = self.unknown_order_in(ticket.ticker.as_str()) {
            return Err(format!(
                "{}: writes wait until order {id} (unknown) is resolved",
                ticket.ticker
            ));
        }
        let mut order = DesiredOrder {
            side: ticket.side,
            price: ticket.price,
            count: ticket.count,
            time_in_force: ticket.time_in_force,
            post_only: ticket.post_only,
            reduce_only: ticket.reduce_only,
            expiration_s: ticket.expiration_s,
            cancel_on_pause: false,
        };
        if self.control.market(&ticket.ticker).mode == OperatorMode::Reducing {
            // Wind-down: sent as IOC reduce-only, the only form Kalshi accepts reduce_only in.
            order.time_in_force = TimeInForce::ImmediateOrCancel;
            order.reduce_only = true;
            order.post_only = false;
            order.expiration_s = None;
        } else if order.reduce_only && order.time_in_force != TimeInForce::ImmediateOrCancel {
            return Err("reduce_only orders must be immediate_or_cancel".into());
        }
        self.send_place(OrderTicket {
            origin: Origin::Operator,
            owner: OrderOwner::Operator,
            ticker: ticket.ticker,
            order,
            reduce_only_cause: None,
            flatten_permit: false,
        });
        Ok(())
    }

    fn amend_manual(
        &mut self,
        client_order_id: &str,
        price: crate::core::num::Price,
        remaining: Count,
        touched: &mut Touched,
    ) -> Result<(), String> {
        if self.is_halted() {
            return Err("trading is HALTED: amends may not leave".into());
        }
        let order = self
            .orders
            .get(client_order_id)
            .cloned()
            .ok_or_else(|| format!("no order {client_order_id}"))?;
        touched.insert(order.ticker.clone());
        if order.owner != OrderOwner::Operator {
            return Err(format!(
                "{client_order_id} belongs to {}; only the operator's own orders are amended by hand",
                order.owner
            ));
        }
        if order.state != OrderState::Resting
            || order.pending_amend.is_some()
            || order.cancel_requested
        {
            return Err(format!(
                "{client_order_id} cannot be amended now ({:?})",
                order.state
            ));
        }
        if let Some(id) = self.unknown_order_in(order.ticker.as_str()) {
            return Err(format!(
                "{}: writes wait until order {id} (unknown) is resolved",
                order.ticker
            ));
        }
        let reduce_cause = (self.control.market(&order.ticker).mode == OperatorMode::Reducing)
            .then_some(ReduceOnlyCause::Reducing);
        let refused = self.gate_amend(Origin::Operator, &order, price, remaining, reduce_cause);
        if refused {
            return Ok(());
        }
        self.send_amend(
            Origin::Operator,
            &order,
            AmendRequest {
                yes_price: price,
                count: order.fill_count().saturating_add(remaining),
                updated_client_order_id: None,
            },
            None,
        );
        Ok(())
    }

    /// Cancel every open order and send an IOC reduce-only order against every position, at the
    /// held contract's best bid. Allowed while HALTED: these orders carry a flatten permit.
    fn flatten_all(&mut self, touched: &mut Touched) {
        // Strategies would only open the positions again.
        let armed: Vec<Ticker> = self
            .control
            .markets()
            .filter(|(_, m)| m.mode == OperatorMode::Armed)
            .map(|(t, _)| t.clone())
            .collect();
        for ticker in armed {
            if let Ok(change) = self.control.disarm(&ticker) {
                self.record_changes(change);
            }
        }
        self.cancel_orders(Origin::Flatten, |_| true);
        let targets: Vec<(Ticker, Count)> = self
            .portfolio
            .positions()
            .filter(|p| !p.is_flat())
            .map(|p| (p.ticker.clone(), p.contracts))
            .collect();
        let cause = if self.is_halted() {
            ReduceOnlyCause::Halted
        } else {
            ReduceOnlyCause::Reducing
        };
        for (ticker, position) in targets {
            touched.insert(ticker.clone());
            let book = self.books.get(ticker.as_str());
            // Long YES: sell YES into the YES bid. Long NO: buy YES at the YES ask (sells NO).
            let (side, price) = if position.is_positive() {
                (
                    Side::Ask,
                    book.and_then(|b| b.best_yes_bid()).map(|l| l.price),
                )
            } else {
                (
                    Side::Bid,
                    book.and_then(|b| b.best_yes_ask()).map(|l| l.price),
                )
            };
            let Some(price) = price else {
                self.alarm(
                    super::AlarmLevel::Critical,
                    format!("{ticker}: cannot flatten {position}: no bid to sell into"),
                );
                continue;
            };
            self.send_place(OrderTicket {
                origin: Origin::Flatten,
                owner: OrderOwner::Operator,
                ticker,
                order: DesiredOrder {
                    side,
                    price,
                    count: position.abs(),
                    time_in_force: TimeInForce::ImmediateOrCancel,
                    post_only: false,
                    reduce_only: true,
                    expiration_s: None,
                    cancel_on_pause: false,
                },
                reduce_only_cause: Some(cause),
                flatten_permit: true,
            });
        }
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Arm { .. } => "arm",
        Command::Pause { .. } => "pause",
        Command::Resume { .. } => "resume",
        Command::Disarm { .. } => "disarm",
        Command::OverrideManual { .. } => "override_manual",
        Command::ReleaseManual { .. } => "release_manual",
        Command::Reducing { .. } => "reducing",
        Command::SetStrategy { .. } => "set_strategy",
        Command::SetLimits { .. } => "set_limits",
        Command::PlaceManual(_) => "place_manual",
        Command::AmendManual { .. } => "amend_manual",
        Command::CancelManual { .. } => "cancel_manual",
        Command::CancelAllInMarket { .. } => "cancel_all_in_market",
        Command::Kill { .. } => "kill",
        Command::RequestConfirmation { .. } => "request_confirmation",
        Command::ResetHalt { .. } => "reset_halt",
        Command::FlattenAll { .. } => "flatten_all",
    }
}
