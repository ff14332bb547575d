//! Who may trade a market, and whether the desk may trade at all (DESIGN.md §5).
//!
//! Per market the operator chooses a *mode* (disarmed, armed, manual, reducing) and the desk keeps
//! a set of *pause reasons*. The state shown to the operator is derived from both: an armed market
//! with reasons is PAUSED, without reasons it is ARMED (or HOLD while its book resyncs). A reason
//! the operator set is cleared only by the operator; automatic reasons clear when their cause ends.
//! Every refused transition returns a [`ControlError`] naming why; nothing here panics.
//!
//! The per-market table as implemented (✗ = refused with a reason, state unchanged; `auto` is
//! any automatic reason: stale book, resync, exchange or market pause, closing soon, fair value
//! stale, cancel-all cooldown, clock offset, position drift). `kill` also latches HALTED.
//!
//! | from \ event  | arm       | pause       | resume    | disarm   | override | release     | reducing | auto set      | last auto cleared | gap (hold)   | hold expired   | resync done | kill     |
//! |---------------|-----------|-------------|-----------|----------|----------|-------------|----------|---------------|-------------------|--------------|----------------|-------------|----------|
//! | DISARMED      | ARMED¹    | ✗           | ✗         | DISARMED | MANUAL   | ✗           | REDUCING | DISARMED      | DISARMED          | DISARMED     | DISARMED       | DISARMED    | DISARMED |
//! | ARMED         | ✗         | PAUSED(op)  | ✗         | DISARMED | MANUAL   | ✗           | REDUCING | PAUSED(auto)  | ARMED             | HOLD         | ARMED          | ARMED       | DISARMED |
//! | HOLD          | ✗         | PAUSED(op)  | ✗         | DISARMED | MANUAL   | ✗           | REDUCING | PAUSED(auto)  | HOLD              | HOLD         | PAUSED(resync) | ARMED       | DISARMED |
//! | PAUSED(op)    | ARMED¹    | ✗           | ARMED¹    | DISARMED | MANUAL   | ✗           | REDUCING | PAUSED(op+a)  | PAUSED(op)        | PAUSED(op)   | PAUSED(op)     | PAUSED(op)  | DISARMED |
//! | PAUSED(auto)  | ✗         | PAUSED(op+a)| ✗         | DISARMED | MANUAL   | ✗           | REDUCING | PAUSED(auto)  | ARMED             | PAUSED(auto) | PAUSED(auto)   | PAUSED(auto)| DISARMED |
//! | MANUAL        | ✗         | ✗           | ✗         | ✗        | ✗        | PAUSED(op)  | ✗        | MANUAL        | MANUAL            | MANUAL       | MANUAL         | MANUAL      | MANUAL   |
//! | REDUCING      | ARMED¹    | ✗           | ✗         | DISARMED | MANUAL   | ✗           | ✗        | REDUCING      | REDUCING          | REDUCING     | REDUCING       | REDUCING    | REDUCING |
//!
//! ¹ Only while trading is ACTIVE, at least 60 s after the last cancel-all, with the clock offset
//! within ±1 s and a strategy configured; otherwise refused with the numbers. If automatic
//! reasons are present the market arms into PAUSED(those reasons) and trades when they clear.
//! "resume" from PAUSED(op) with automatic reasons left goes to PAUSED(auto). Only `release`
//! leaves MANUAL, and it goes to PAUSED(op): the operator resumes explicitly. A DISARMED,
//! MANUAL or REDUCING market still records automatic reasons, so arming later lands in the
//! right state. Kill leaves MANUAL and REDUCING markets as they are (no strategy runs there;
//! HALTED refuses their orders anyway).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::core::market::Ticker;

/// No strategy arms within this long after an exchange cancel-all: Kalshi may cancel orders placed
/// in the minute after one.
pub const CANCEL_ALL_COOLDOWN_MS: u64 = 60_000;
/// The desk refuses to arm while its estimate of the exchange clock is further off than this.
pub const MAX_CLOCK_OFFSET_MS: i64 = 1_000;

/// Why an armed market is not quoting.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// The operator paused it (or left MANUAL); only the operator clears it.
    Operator,
    /// The book has not updated within its freshness limit.
    StaleBook,
    /// A sequence gap was not resynced within the HOLD window.
    Resync,
    /// The exchange halted trading.
    ExchangePause,
    /// This market is paused or deactivated at the exchange.
    MarketPause,
    /// The market closes soon.
    ClosingSoon,
    /// The external fair value is older than its max age.
    FairValueStale,
    /// An exchange cancel-all happened under a minute ago.
    CancelAllCooldown,
    /// The clock offset to the exchange is over the limit.
    ClockOffset,
    /// Our position disagrees with the exchange's.
    PositionDrift,
}

impl PauseReason {
    pub const fn is_operator(self) -> bool {
        matches!(self, PauseReason::Operator)
    }

    pub const fn label(self) -> &'static str {
        match self {
            PauseReason::Operator => "operator",
            PauseReason::StaleBook => "stale book",
            PauseReason::Resync => "resync",
            PauseReason::ExchangePause => "exchange pause",
            PauseReason::MarketPause => "market pause",
            PauseReason::ClosingSoon => "closing soon",
            PauseReason::FairValueStale => "fair value stale",
            PauseReason::CancelAllCooldown => "cancel-all cooldown",
            PauseReason::ClockOffset => "clock offset",
            PauseReason::PositionDrift => "position drift",
        }
    }
}

impl fmt::Display for PauseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What the operator chose for a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorMode {
    #[default]
    Disarmed,
    Armed,
    Manual,
    Reducing,
}

/// The state the screen shows for a market (the badge).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reasons")]
pub enum MarketState {
    Disarmed,
    Armed,
    /// Armed, but its book is resyncing: resting quotes stay, no new orders or amends.
    Hold,
    Paused(BTreeSet<PauseReason>),
    Manual,
    Reducing,
}

impl MarketState {
    pub fn badge(&self) -> String {
        match self {
            MarketState::Disarmed => "DISARMED".to_string(),
            MarketState::Armed => "ARMED".to_string(),
            MarketState::Hold => "HOLD".to_string(),
            MarketState::Paused(reasons) => {
                let names: Vec<&str> = reasons.iter().map(|r| r.label()).collect();
                format!("PAUSED({})", names.join(", "))
            }
            MarketState::Manual => "MANUAL".to_string(),
            MarketState::Reducing => "REDUCING".to_string(),
        }
    }
}

/// Why a control transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("{ticker}: cannot {action} while {state}")]
    NotAllowed {
        ticker: Ticker,
        action: &'static str,
        state: String,
    },
    #[error("cannot arm while trading is halted ({reason})")]
    Halted { reason: String },
    #[error("cannot arm within {cooldown_s} s of a cancel-all ({elapsed_ms} ms ago)", cooldown_s = CANCEL_ALL_COOLDOWN_MS / 1000)]
    CancelAllCooldown { elapsed_ms: u64 },
    #[error("cannot arm while the exchange clock offset is {offset_ms} ms (limit {limit_ms} ms)")]
    ClockOffset { offset_ms: i64, limit_ms: i64 },
    #[error("{ticker}: no strategy is configured")]
    NoStrategy { ticker: Ticker },
    #[error("trading is not halted")]
    NotHalted,
}

/// One market's control record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MarketControl {
    pub mode: OperatorMode,
    pub reasons: BTreeSet<PauseReason>,
    /// Monotonic ns when a resync HOLD began; `None` when the book is in sequence.
    pub hold_since_ns: Option<u64>,
}

impl MarketControl {
    pub fn state(&self) -> MarketState {
        match self.mode {
            OperatorMode::Disarmed => MarketState::Disarmed,
            OperatorMode::Manual => MarketState::Manual,
            OperatorMode::Reducing => MarketState::Reducing,
            OperatorMode::Armed if !self.reasons.is_empty() => {
                MarketState::Paused(self.reasons.clone())
            }
            OperatorMode::Armed if self.hold_since_ns.is_some() => MarketState::Hold,
            OperatorMode::Armed => MarketState::Armed,
        }
    }

    /// The strategy may place and amend orders.
    pub fn strategy_may_trade(&self) -> bool {
        self.mode == OperatorMode::Armed && self.reasons.is_empty() && self.hold_since_ns.is_none()
    }

    /// The strategy's resting orders must go: anything but ARMED or HOLD.
    pub fn strategy_orders_must_go(&self) -> bool {
        !(self.mode == OperatorMode::Armed && self.reasons.is_empty())
    }
}

/// The desk-wide trading state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TradingState {
    Active,
    /// Latched until an explicit, confirmed operator reset. `at_wall_ms` is the wall clock.
    Halted {
        reason: String,
        at_wall_ms: i64,
    },
}

impl TradingState {
    pub fn is_halted(&self) -> bool {
        matches!(self, TradingState::Halted { .. })
    }
}

/// A control change worth recording: which market went from what to what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateChange {
    pub ticker: Ticker,
    pub from: MarketState,
    pub to: MarketState,
}

/// Facts about the desk the arming rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArmConditions {
    pub mono_ns: u64,
    pub clock_offset_ms: i64,
    pub has_strategy: bool,
}

/// All markets' control plus the global state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Control {
    markets: BTreeMap<Ticker, MarketControl>,
    trading: TradingState,
    /// Monotonic ns of the last exchange cancel-all.
    last_cancel_all_ns: Option<u64>,
}

impl Default for Control {
    fn default() -> Control {
        Control::new()
    }
}

impl Control {
    pub fn new() -> Control {
        Control {
            markets: BTreeMap::new(),
            trading: TradingState::Active,
            last_cancel_all_ns: None,
        }
    }

    pub fn trading(&self) -> &TradingState {
        &self.trading
    }

    pub fn market(&self, ticker: &Ticker) -> MarketControl {
        self.markets.get(ticker).cloned().unwrap_or_default()
    }

    /// One market's record, if the control has seen it (`market` answers the default when not).
    pub fn market_ref(&self, ticker: &Ticker) -> Option<&MarketControl> {
        self.markets.get(ticker)
    }

    pub fn state(&self, ticker: &Ticker) -> MarketState {
        self.market(ticker).state()
    }

    pub fn markets(&self) -> impl Iterator<Item = (&Ticker, &MarketControl)> {
        self.markets.iter()
    }

    pub fn last_cancel_all_ns(&self) -> Option<u64> {
        self.last_cancel_all_ns
    }

    fn entry(&mut self, ticker: &Ticker) -> &mut MarketControl {
        self.markets.entry(ticker.clone()).or_default()
    }

    /// Apply `change` to one market and report the state change, if any.
    fn apply(
        &mut self,
        ticker: &Ticker,
        change: impl FnOnce(&mut MarketControl),
    ) -> Option<StateChange> {
        let record = self.entry(ticker);
        let from = record.state();
        change(record);
        let to = record.state();
        (from != to).then(|| StateChange {
            ticker: ticker.clone(),
            from,
            to,
        })
    }

    fn refuse(&self, ticker: &Ticker, action: &'static str) -> ControlError {
        ControlError::NotAllowed {
            ticker: ticker.clone(),
            action,
            state: self.state(ticker).badge(),
        }
    }

    /// The global preconditions for anything that could make a strategy trade.
    fn check_may_arm(&self, ticker: &Ticker, facts: ArmConditions) -> Result<(), ControlError> {
        if let TradingState::Halted { reason, .. } = &self.trading {
            return Err(ControlError::Halted {
                reason: reason.clone(),
            });
        }
        if let Some(at) = self.last_cancel_all_ns {
            let elapsed_ms = facts.mono_ns.saturating_sub(at) / 1_000_000;
            if elapsed_ms < CANCEL_ALL_COOLDOWN_MS {
                return Err(ControlError::CancelAllCooldown { elapsed_ms });
            }
        }
        if facts.clock_offset_ms.abs() > MAX_CLOCK_OFFSET_MS {
            return Err(ControlError::ClockOffset {
                offset_ms: facts.clock_offset_ms,
                limit_ms: MAX_CLOCK_OFFSET_MS,
            });
        }
        if !facts.has_strategy {
            return Err(ControlError::NoStrategy {
                ticker: ticker.clone(),
            });
        }
        Ok(())
    }

    /// DISARMED / PAUSED(operator only) / REDUCING → ARMED (or PAUSED by automatic reasons).
    pub fn arm(
        &mut self,
        ticker: &Ticker,
        facts: ArmConditions,
    ) -> Result<Option<StateChange>, ControlError> {
        let record = self.market(ticker);
        match record.mode {
            OperatorMode::Manual => return Err(self.refuse(ticker, "arm (leave MANUAL first)")),
            OperatorMode::Armed if !record.reasons.contains(&PauseReason::Operator) => {
                return Err(self.refuse(ticker, "arm"));
            }
            _ => {}
        }
        self.check_may_arm(ticker, facts)?;
        Ok(self.apply(ticker, |m| {
            m.mode = OperatorMode::Armed;
            m.reasons.remove(&PauseReason::Operator);
        }))
    }

    /// ARMED / HOLD / PAUSED → PAUSED(operator).
    pub fn pause(&mut self, ticker: &Ticker) -> Result<Option<StateChange>, ControlError> {
        let record = self.market(ticker);
        if record.mode != OperatorMode::Armed || record.reasons.contains(&PauseReason::Operator) {
            return Err(self.refuse(ticker, "pause"));
        }
        Ok(self.apply(ticker, |m| {
            m.reasons.insert(PauseReason::Operator);
        }))
    }

    /// Clears the operator's pause; the market trades again once no automatic reason remains.
    pub fn resume(
        &mut self,
        ticker: &Ticker,
        facts: ArmConditions,
    ) -> Result<Option<StateChange>, ControlError> {
        let record = self.market(ticker);
        if record.mode != OperatorMode::Armed || !record.reasons.contains(&PauseReason::Operator) {
            return Err(self.refuse(ticker, "resume"));
        }
        self.check_may_arm(ticker, facts)?;
        Ok(self.apply(ticker, |m| {
            m.reasons.remove(&PauseReason::Operator);
        }))
    }

    /// Any state but MANUAL → DISARMED. The operator's reason goes; automatic reasons stay, as
    /// they describe the market, not the operator's choice. MANUAL is left only by `release`.
    pub fn disarm(&mut self, ticker: &Ticker) -> Result<Option<StateChange>, ControlError> {
        if self.market(ticker).mode == OperatorMode::Manual {
            return Err(self.refuse(ticker, "disarm (leave MANUAL first)"));
        }
        Ok(self.force_disarm(ticker))
    }

    fn force_disarm(&mut self, ticker: &Ticker) -> Option<StateChange> {
        self.apply(ticker, |m| {
            m.mode = OperatorMode::Disarmed;
            m.reasons.remove(&PauseReason::Operator);
        })
    }

    /// Any state but MANUAL → MANUAL.
    pub fn override_manual(
        &mut self,
        ticker: &Ticker,
    ) -> Result<Option<StateChange>, ControlError> {
        if self.market(ticker).mode == OperatorMode::Manual {
            return Err(self.refuse(ticker, "override"));
        }
        Ok(self.apply(ticker, |m| m.mode = OperatorMode::Manual))
    }

    /// MANUAL → PAUSED(operator), never straight to ARMED.
    pub fn release_manual(&mut self, ticker: &Ticker) -> Result<Option<StateChange>, ControlError> {
        if self.market(ticker).mode != OperatorMode::Manual {
            return Err(self.refuse(ticker, "leave MANUAL"));
        }
        Ok(self.apply(ticker, |m| {
            m.mode = OperatorMode::Armed;
            m.reasons.insert(PauseReason::Operator);
        }))
    }

    /// Any state but REDUCING or MANUAL → REDUCING (wind-down: only position-reducing orders).
    pub fn reducing(&mut self, ticker: &Ticker) -> Result<Option<StateChange>, ControlError> {
        match self.market(ticker).mode {
            OperatorMode::Reducing => return Err(self.refuse(ticker, "enter REDUCING")),
            OperatorMode::Manual => {
                return Err(self.refuse(ticker, "enter REDUCING (leave MANUAL first)"));
            }
            _ => {}
        }
        Ok(self.apply(ticker, |m| {
            m.mode = OperatorMode::Reducing;
            m.reasons.remove(&PauseReason::Operator);
        }))
    }

    /// Sets or clears an automatic reason. The operator's reason cannot be driven from here.
    pub fn set_automatic(
        &mut self,
        ticker: &Ticker,
        reason: PauseReason,
        active: bool,
    ) -> Option<StateChange> {
        if reason.is_operator() {
            return None;
        }
        let present = self
            .markets
            .get(ticker)
            .is_some_and(|m| m.reasons.contains(&reason));
        if present == active {
            return None;
        }
        self.apply(ticker, |m| {
            if active {
                m.reasons.insert(reason);
            } else {
                m.reasons.remove(&reason);
            }
        })
    }

    /// One market's automatic state in one look-up: its resync HOLD begins at `hold_since_ns`
    /// (or ends when `None`), then each automatic reason is set or cleared in the order given.
    /// The changes are those `begin_hold`/`end_hold` and `set_automatic` would report one by one.
    pub fn refresh_automatic(
        &mut self,
        ticker: &Ticker,
        hold_since_ns: Option<u64>,
        reasons: &[(PauseReason, bool)],
    ) -> Vec<StateChange> {
        let record = match self.markets.get_mut(ticker) {
            Some(record) => record,
            None => self.markets.entry(ticker.clone()).or_default(),
        };
        let mut changes = Vec::new();
        let mut step = |record: &mut MarketControl, change: &dyn Fn(&mut MarketControl)| {
            let from = record.state();
            change(record);
            let to = record.state();
            if from != to {
                changes.push(StateChange {
                    ticker: ticker.clone(),
                    from,
                    to,
                });
            }
        };
        match hold_since_ns {
            Some(at) if record.hold_since_ns.is_none() => {
                step(record, &|m| m.hold_since_ns = Some(at));
            }
            Some(_) => {}
            None if record.hold_since_ns.is_some()
                || record.reasons.contains(&PauseReason::Resync) =>
            {
                step(record, &|m| {
                    m.hold_since_ns = None;
                    m.reasons.remove(&PauseReason::Resync);
                });
            }
            None => {}
        }
        for &(reason, active) in reasons {
            if reason.is_operator() || record.reasons.contains(&reason) == active {
                continue;
            }
            step(record, &|m| {
                if active {
                    m.reasons.insert(reason);
                } else {
                    m.reasons.remove(&reason);
                }
            });
        }
        changes
    }

    /// Sets or clears an automatic reason on every known market (exchange pause, clock offset,
    /// cancel-all cooldown).
    pub fn set_automatic_all(&mut self, reason: PauseReason, active: bool) -> Vec<StateChange> {
        let tickers: Vec<Ticker> = self.markets.keys().cloned().collect();
        tickers
            .iter()
            .filter_map(|t| self.set_automatic(t, reason, active))
            .collect()
    }

    /// Makes a market known (so desk-wide reasons reach it) without changing its state.
    pub fn register(&mut self, ticker: &Ticker, desk_reasons: &[PauseReason]) {
        let record = self.entry(ticker);
        for reason in desk_reasons {
            record.reasons.insert(*reason);
        }
    }

    /// A sequence gap: HOLD begins (if not already held).
    pub fn begin_hold(&mut self, ticker: &Ticker, mono_ns: u64) -> Option<StateChange> {
        self.apply(ticker, |m| {
            m.hold_since_ns.get_or_insert(mono_ns);
        })
    }

    /// The resync finished: HOLD and any resync pause end.
    pub fn end_hold(&mut self, ticker: &Ticker) -> Option<StateChange> {
        self.apply(ticker, |m| {
            m.hold_since_ns = None;
            m.reasons.remove(&PauseReason::Resync);
        })
    }

    /// Holds that lasted longer than `hold_limit_ms` become PAUSED(resync).
    pub fn expire_holds(&mut self, mono_ns: u64, hold_limit_ms: u64) -> Vec<StateChange> {
        let expired: Vec<Ticker> = self
            .markets
            .iter()
            .filter(|(_, m)| {
                m.hold_since_ns
                    .is_some_and(|since| mono_ns.saturating_sub(since) / 1_000_000 >= hold_limit_ms)
                    && !m.reasons.contains(&PauseReason::Resync)
            })
            .map(|(t, _)| t.clone())
            .collect();
        expired
            .iter()
            .filter_map(|t| {
                self.apply(t, |m| {
                    m.reasons.insert(PauseReason::Resync);
                })
            })
            .collect()
    }

    /// The kill switch: every market that runs or could run a strategy is disarmed, trading is
    /// HALTED (latched; a second halt keeps the first reason), and the cancel-all cooldown starts.
    pub fn kill(&mut self, reason: &str, mono_ns: u64, wall_ms: i64) -> Vec<StateChange> {
        self.halt(reason, wall_ms);
        self.last_cancel_all_ns = Some(mono_ns);
        let armed: Vec<Ticker> = self
            .markets
            .iter()
            .filter(|(_, m)| m.mode == OperatorMode::Armed)
            .map(|(t, _)| t.clone())
            .collect();
        armed.iter().filter_map(|t| self.force_disarm(t)).collect()
    }

    /// Latches HALTED; returns whether this call halted the desk (false if it already was).
    pub fn halt(&mut self, reason: &str, wall_ms: i64) -> bool {
        if self.trading.is_halted() {
            return false;
        }
        self.trading = TradingState::Halted {
            reason: reason.to_string(),
            at_wall_ms: wall_ms,
        };
        true
    }

    /// An exchange cancel-all was sent: strategies may not arm for a minute.
    pub fn note_cancel_all(&mut self, mono_ns: u64) {
        self.last_cancel_all_ns = Some(mono_ns);
    }

    /// Whether the cancel-all cooldown is running at `mono_ns`.
    pub fn in_cancel_all_cooldown(&self, mono_ns: u64) -> bool {
        self.last_cancel_all_ns
            .is_some_and(|at| mono_ns.saturating_sub(at) / 1_000_000 < CANCEL_ALL_COOLDOWN_MS)
    }

    /// HALTED → ACTIVE. Markets stay disarmed; the confirmation is checked by the caller.
    pub fn reset_halt(&mut self) -> Result<(), ControlError> {
        if !self.trading.is_halted() {
            return Err(ControlError::NotHalted);
        }
        self.trading = TradingState::Active;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(name: &str) -> Ticker {
        Ticker::new(name)
    }

    fn ok_facts(mono_ns: u64) -> ArmConditions {
        ArmConditions {
            mono_ns,
            clock_offset_ms: 0,
            has_strategy: true,
        }
    }

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn starts_disarmed_and_active() {
        let control = Control::new();
        assert_eq!(control.state(&t("A")), MarketState::Disarmed);
        assert_eq!(control.trading(), &TradingState::Active);
    }

    #[test]
    fn arm_pause_resume_disarm() {
        let mut c = Control::new();
        let a = t("A");
        let change = c.arm(&a, ok_facts(0)).unwrap().unwrap();
        assert_eq!(change.from, MarketState::Disarmed);
        assert_eq!(change.to, MarketState::Armed);
        c.pause(&a).unwrap();
        assert_eq!(
            c.state(&a),
            MarketState::Paused([PauseReason::Operator].into())
        );
        assert!(c.pause(&a).is_err(), "pausing twice is refused");
        c.resume(&a, ok_facts(0)).unwrap();
        assert_eq!(c.state(&a), MarketState::Armed);
        assert!(c.resume(&a, ok_facts(0)).is_err());
        c.disarm(&a).unwrap();
        assert_eq!(c.state(&a), MarketState::Disarmed);
    }

    #[test]
    fn arming_twice_is_refused() {
        let mut c = Control::new();
        let a = t("A");
        c.arm(&a, ok_facts(0)).unwrap();
        let err = c.arm(&a, ok_facts(0)).unwrap_err();
        assert!(err.to_string().contains("ARMED"), "{err}");
    }

    #[test]
    fn leaving_manual_goes_to_paused_never_armed() {
        let mut c = Control::new();
        let a = t("A");
        c.arm(&a, ok_facts(0)).unwrap();
        c.override_manual(&a).unwrap();
        assert_eq!(c.state(&a), MarketState::Manual);
        assert!(c.arm(&a, ok_facts(0)).is_err());
        assert!(c.resume(&a, ok_facts(0)).is_err());
        c.release_manual(&a).unwrap();
        assert_eq!(
            c.state(&a),
            MarketState::Paused([PauseReason::Operator].into())
        );
        c.resume(&a, ok_facts(0)).unwrap();
        assert_eq!(c.state(&a), MarketState::Armed);
    }

    #[test]
    fn operator_reason_survives_automatic_clear() {
        let mut c = Control::new();
        let a = t("A");
        c.arm(&a, ok_facts(0)).unwrap();
        c.set_automatic(&a, PauseReason::StaleBook, true);
        c.pause(&a).unwrap();
        c.set_automatic(&a, PauseReason::StaleBook, false);
        assert_eq!(
            c.state(&a),
            MarketState::Paused([PauseReason::Operator].into())
        );
        assert_eq!(c.set_automatic(&a, PauseReason::Operator, false), None);
        assert_eq!(
            c.state(&a),
            MarketState::Paused([PauseReason::Operator].into())
        );
    }

    #[test]
    fn automatic_reasons_pause_and_rearm() {
        let mut c = Control::new();
        let a = t("A");
        c.arm(&a, ok_facts(0)).unwrap();
        let change = c
            .set_automatic(&a, PauseReason::ExchangePause, true)
            .unwrap();
        assert_eq!(
            change.to,
            MarketState::Paused([PauseReason::ExchangePause].into())
        );
        c.set_automatic(&a, PauseReason::ClosingSoon, true);
        c.set_automatic(&a, PauseReason::ExchangePause, false);
        assert_eq!(
            c.state(&a),
            MarketState::Paused([PauseReason::ClosingSoon].into())
        );
        c.set_automatic(&a, PauseReason::ClosingSoon, false);
        assert_eq!(c.state(&a), MarketState::Armed);
    }

    #[test]
    fn disarmed_market_with_automatic_reason_stays_disarmed_and_arms_into_paused() {
        let mut c = Control::new();
        let a = t("A");
        c.set_automatic(&a, PauseReason::StaleBook, true);
        assert_eq!(c.state(&a), MarketState::Disarmed);
        c.arm(&a, ok_facts(0)).unwrap();
        assert_eq!(
            c.state(&a),
            MarketState::Paused([PauseReason::StaleBook].into())
        );
    }

    #[test]
    fn no_arming_within_a_minute_of_cancel_all() {
        let mut c = Control::new();
        let a = t("A");
        c.note_cancel_all(10 * SEC);
        let err = c.arm(&a, ok_facts(69 * SEC)).unwrap_err();
        assert_eq!(err, ControlError::CancelAllCooldown { elapsed_ms: 59_000 });
        assert!(err.to_string().contains("59000 ms"), "{err}");
        c.arm(&a, ok_facts(70 * SEC)).unwrap();
        assert_eq!(c.state(&a), MarketState::Armed);
    }

    #[test]
    fn no_arming_with_clock_offset() {
        let mut c = Control::new();
        let a = t("A");
        let facts = ArmConditions {
            clock_offset_ms: -1_500,
            ..ok_facts(0)
        };
        let err = c.arm(&a, facts).unwrap_err();
        assert_eq!(
            err,
            ControlError::ClockOffset {
                offset_ms: -1_500,
                limit_ms: 1_000
            }
        );
        let facts = ArmConditions {
            clock_offset_ms: 1_000,
            ..ok_facts(0)
        };
        c.arm(&a, facts).unwrap();
    }

    #[test]
    fn no_arming_without_strategy_or_while_halted() {
        let mut c = Control::new();
        let a = t("A");
        let facts = ArmConditions {
            has_strategy: false,
            ..ok_facts(0)
        };
        assert!(matches!(
            c.arm(&a, facts),
            Err(ControlError::NoStrategy { .. })
        ));
        c.halt("test", 5);
        assert!(matches!(
            c.arm(&a, ok_facts(0)),
            Err(ControlError::Halted { .. })
        ));
    }

    #[test]
    fn kill_disarms_armed_markets_and_latches() {
        let mut c = Control::new();
        let (a, b, m) = (t("A"), t("B"), t("M"));
        c.arm(&a, ok_facts(0)).unwrap();
        c.arm(&b, ok_facts(0)).unwrap();
        c.pause(&b).unwrap();
        c.override_manual(&m).unwrap();
        let changes = c.kill("kill switch", 5 * SEC, 1_000);
        assert_eq!(changes.len(), 2);
        assert_eq!(c.state(&a), MarketState::Disarmed);
        assert_eq!(c.state(&b), MarketState::Disarmed);
        assert_eq!(
            c.state(&m),
            MarketState::Manual,
            "manual markets keep their operator"
        );
        assert_eq!(
            c.trading(),
            &TradingState::Halted {
                reason: "kill switch".into(),
                at_wall_ms: 1_000
            }
        );
        assert!(
            !c.halt("later", 2_000),
            "halt is latched with its first reason"
        );
        c.reset_halt().unwrap();
        assert!(c.reset_halt().is_err());
        assert!(c.in_cancel_all_cooldown(64 * SEC));
        assert!(c.arm(&a, ok_facts(64 * SEC)).is_err());
        c.arm(&a, ok_facts(65 * SEC)).unwrap();
    }

    #[test]
    fn hold_then_resync_pause_then_clear() {
        let mut c = Control::new();
        let a = t("A");
        c.arm(&a, ok_facts(0)).unwrap();
        c.begin_hold(&a, SEC);
        assert_eq!(c.state(&a), MarketState::Hold);
        assert!(!c.market(&a).strategy_may_trade());
        assert!(!c.market(&a).strategy_orders_must_go(), "HOLD keeps quotes");
        assert!(c.expire_holds(SEC + 499_000_000, 500).is_empty());
        let changes = c.expire_holds(SEC + 500_000_000, 500);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            c.state(&a),
            MarketState::Paused([PauseReason::Resync].into())
        );
        assert!(c.market(&a).strategy_orders_must_go());
        c.end_hold(&a);
        assert_eq!(c.state(&a), MarketState::Armed);
    }

    #[test]
    fn reducing_and_back() {
        let mut c = Control::new();
        let a = t("A");
        c.arm(&a, ok_facts(0)).unwrap();
        c.reducing(&a).unwrap();
        assert_eq!(c.state(&a), MarketState::Reducing);
        assert!(c.reducing(&a).is_err());
        assert!(c.pause(&a).is_err());
        c.arm(&a, ok_facts(0)).unwrap();
        assert_eq!(c.state(&a), MarketState::Armed);
    }

    /// The module doc's table, row by row, so code and documentation cannot drift apart.
    #[test]
    fn code_matches_the_documented_table() {
        const X: &str = "✗";
        let events = [
            "arm",
            "pause",
            "resume",
            "disarm",
            "override",
            "release",
            "reducing",
            "auto set",
            "last auto cleared",
            "gap",
            "hold expired",
            "resync done",
            "kill",
        ];
        let table: [(&str, [&str; 13]); 7] = [
            (
                "DISARMED",
                [
                    "ARMED", X, X, "DISARMED", "MANUAL", X, "REDUCING", "DISARMED", "DISARMED",
                    "DISARMED", "DISARMED", "DISARMED", "DISARMED",
                ],
            ),
            (
                "ARMED",
                [
                    X,
                    "PAUSED(operator)",
                    X,
                    "DISARMED",
                    "MANUAL",
                    X,
                    "REDUCING",
                    "PAUSED(stale book)",
                    "ARMED",
                    "HOLD",
                    "ARMED",
                    "ARMED",
                    "DISARMED",
                ],
            ),
            (
                "HOLD",
                [
                    X,
                    "PAUSED(operator)",
                    X,
                    "DISARMED",
                    "MANUAL",
                    X,
                    "REDUCING",
                    "PAUSED(stale book)",
                    "HOLD",
                    "HOLD",
                    "PAUSED(resync)",
                    "ARMED",
                    "DISARMED",
                ],
            ),
            (
                "PAUSED(operator)",
                [
                    "ARMED",
                    X,
                    "ARMED",
                    "DISARMED",
                    "MANUAL",
                    X,
                    "REDUCING",
                    "PAUSED(operator, stale book)",
                    "PAUSED(operator)",
                    "PAUSED(operator)",
                    "PAUSED(operator)",
                    "PAUSED(operator)",
                    "DISARMED",
                ],
            ),
            (
                "PAUSED(exchange pause)",
                [
                    X,
                    "PAUSED(operator, exchange pause)",
                    X,
                    "DISARMED",
                    "MANUAL",
                    X,
                    "REDUCING",
                    "PAUSED(stale book, exchange pause)",
                    "ARMED",
                    "PAUSED(exchange pause)",
                    "PAUSED(exchange pause)",
                    "PAUSED(exchange pause)",
                    "DISARMED",
                ],
            ),
            (
                "MANUAL",
                [
                    X,
                    X,
                    X,
                    X,
                    X,
                    "PAUSED(operator)",
                    X,
                    "MANUAL",
                    "MANUAL",
                    "MANUAL",
                    "MANUAL",
                    "MANUAL",
                    "MANUAL",
                ],
            ),
            (
                "REDUCING",
                [
                    "ARMED", X, X, "DISARMED", "MANUAL", X, X, "REDUCING", "REDUCING", "REDUCING",
                    "REDUCING", "REDUCING", "REDUCING",
                ],
            ),
        ];
        let a = t("A");
        let start = |row: &str| -> Control {
            let mut c = Control::new();
            match row {
                "DISARMED" => {}
                "ARMED" => {
                    c.arm(&a, ok_facts(0)).unwrap();
                }
                "HOLD" => {
                    c.arm(&a, ok_facts(0)).unwrap();
                    c.begin_hold(&a, 0);
                }
                "PAUSED(operator)" => {
                    c.arm(&a, ok_facts(0)).unwrap();
                    c.pause(&a).unwrap();
                }
                "PAUSED(exchange pause)" => {
                    c.arm(&a, ok_facts(0)).unwrap();
                    c.set_automatic(&a, PauseReason::ExchangePause, true);
                }
                "MANUAL" => {
                    c.override_manual(&a).unwrap();
                }
                _ => {
                    c.reducing(&a).unwrap();
                }
            }
            assert_eq!(c.state(&a).badge(), row);
            c
        };
        for (row, expected) in table {
            for (event, want) in events.iter().zip(expected) {
                let mut c = start(row);
                let at = 2 * SEC;
                let ok = match *event {
                    "arm" => c.arm(&a, ok_facts(at)).is_ok(),
                    "pause" => c.pause(&a).is_ok(),
                    "resume" => c.resume(&a, ok_facts(at)).is_ok(),
                    "disarm" => c.disarm(&a).is_ok(),
                    "override" => c.override_manual(&a).is_ok(),
                    "release" => c.release_manual(&a).is_ok(),
                    "reducing" => c.reducing(&a).is_ok(),
                    "auto set" => {
                        c.set_automatic(&a, PauseReason::StaleBook, true);
                        true
                    }
                    "last auto cleared" => {
                        for reason in [PauseReason::ExchangePause, PauseReason::StaleBook] {
                            c.set_automatic(&a, reason, false);
                        }
                        true
                    }
                    "gap" => {
                        c.begin_hold(&a, at);
                        true
                    }
                    "hold expired" => {
                        c.expire_holds(at, 500);
                        true
                    }
                    "resync done" => {
                        c.end_hold(&a);
                        true
                    }
                    _ => {
                        c.kill("k", at, 0);
                        true
                    }
                };
                let got = if ok {
                    c.state(&a).badge()
                } else {
                    X.to_string()
                };
                assert_eq!(got, want, "{row} + {event}");
                if !ok {
                    assert_eq!(c, start(row), "a refused transition changes nothing");
                }
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Arm,
        Pause,
        Resume,
        Disarm,
        Manual,
        Release,
        Reducing,
        Auto(u8, bool),
        Kill,
        Reset,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Arm),
            Just(Op::Pause),
            Just(Op::Resume),
            Just(Op::Disarm),
            Just(Op::Manual),
            Just(Op::Release),
            Just(Op::Reducing),
            (0u8..4, any::<bool>()).prop_map(|(r, on)| Op::Auto(r, on)),
            Just(Op::Kill),
            Just(Op::Reset),
        ]
    }

    proptest! {
        /// Invariants over any sequence: the operator reason is never removed except by the
        /// operator's resume/arm/disarm/reducing; MANUAL is never followed by ARMED; nothing arms
        /// while halted.
        #[test]
        fn invariants_hold_over_random_sequences(ops in proptest::collection::vec(op(), 1..60)) {
            let autos = [PauseReason::StaleBook, PauseReason::ExchangePause,
                         PauseReason::ClosingSoon, PauseReason::MarketPause];
            let mut c = Control::new();
            let a = t("A");
            let mut mono = 0u64;
            for op in ops {
                mono += 61 * SEC;
                let before = c.market(&a);
                let operator_clears = matches!(op, Op::Resume | Op::Arm | Op::Disarm | Op::Reducing | Op::Kill);
                let result = match op {
                    Op::Arm => c.arm(&a, ok_facts(mono)).map(|_| ()),
                    Op::Pause => c.pause(&a).map(|_| ()),
                    Op::Resume => c.resume(&a, ok_facts(mono)).map(|_| ()),
                    Op::Disarm => c.disarm(&a).map(|_| ()),
                    Op::Manual => c.override_manual(&a).map(|_| ()),
                    Op::Release => c.release_manual(&a).map(|_| ()),
                    Op::Reducing => c.reducing(&a).map(|_| ()),
                    Op::Auto(i, on) => { c.set_automatic(&a, autos[i as usize], on); Ok(()) }
                    Op::Kill => { c.kill("k", mono, 0); Ok(()) }
                    Op::Reset => c.reset_halt(),
                };
                let after = c.market(&a);
                if result.is_err() {
                    prop_assert_eq!(&before, &after, "a refused transition changes nothing");
                }
                if before.reasons.contains(&PauseReason::Operator) && !operator_clears {
                    prop_assert!(after.reasons.contains(&PauseReason::Operator));
                }
                if before.mode == OperatorMode::Manual {
                    prop_assert_ne!(after.state(), MarketState::Armed);
                }
                if c.trading().is_halted() {
                    prop_assert!(!(before.mode != OperatorMode::Armed && after.mode == OperatorMode::Armed && !after.reasons.contains(&PauseReason::Operator)));
                }
            }
        }
    }
}
