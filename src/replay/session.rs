//! The engine with a local exchange in place of the order gateway: intents reach the fill model
//! after the configured latency, answers and fills go back to the engine as the gateway and the
//! private feed would deliver them. Shared by backtest (virtual clock) and paper (wall clock).

use std::collections::VecDeque;

use crate::core::engine::{
    AuditEvent, Command, Engine, EngineConfig, Input, MarketInput, OrderIntent, PrivateInput,
};
use crate::core::fill_model::FillModel;
use crate::core::market::Ticker;
use crate::core::num::Money;
use crate::core::portfolio::MarketResult;
use crate::core::portfolio::fees::FeeSchedule;
use crate::core::time::Now;
use crate::replay::ledger::Ledger;
use crate::replay::local::{LocalEvent, LocalExchange};

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

/// Engine + local exchange + our ledger.
pub struct Session {
    engine: Engine,
    exchange: LocalExchange,
    ledger: Ledger,
    in_flight: VecDeque<InFlight>,
    latency_ms: i64,
    audits: Vec<AuditEvent>,
    keep_audits: bool,
    halted: Option<String>,
}

impl Session {
    pub fn new(config: SessionConfig, now: Now) -> Session {
        let mut session = Session {
            engine: Engine::new(config.engine),
            exchange: LocalExchange::new(&config.id_prefix),
            ledger: Ledger::default(),
            in_flight: VecDeque::new(),
            latency_ms: config.latency_ms.max(0),
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
        self.exchange.model()
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
        self.exchange.set_fees(ticker, fees);
    }

    pub fn command(&mut self, command: Command, now: Now) {
        self.input(Input::Command(command), now);
    }

    /// Deliver everything due by `now`, then one input to the engine (market data goes to the
    /// fill model first, so our resting orders fill on the same trade the engine sees).
    pub fn input(&mut self, input: Input, now: Now) {
        self.advance(now);
        if let Input::Market(market) = &input {
            let fills = self.exchange.on_market(market, now.wall_ms);
            if let MarketInput::Snapshot { ticker, .. }
            | MarketInput::Delta { ticker, .. }
            | MarketInput::Trade { ticker, .. } = market
                && let Some(mid) = self.exchange.model().mid(ticker.as_str())
            {
                self.ledger.mark(ticker, mid);
            }
            self.engine_input(input, now);
            for fill in fills {
                self.deliver(LocalEvent::Fill(fill), now);
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
        for event in self.exchange.expire(now.wall_ms) {
            self.deliver(event, now);
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
            self.in_flight.push_back(InFlight {
                due_ms: now.wall_ms + self.latency_ms,
                intent,
            });
        }
    }

    /// What the local exchange said, to the ledger and the engine.
    fn deliver(&mut self, event: LocalEvent, now: Now) {
        if let LocalEvent::Fill(fill) = &event {
            self.ledger.apply_fill(fill);
        }
        self.engine_input(event.into_input(), now);
    }

    fn execute(&mut self, intent: OrderIntent, now: Now) {
        for event in self.exchange.execute(intent, now.wall_ms) {
            self.deliver(event, now);
        }
    }
}
