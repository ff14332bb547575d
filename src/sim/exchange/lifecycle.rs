//! A market's life: `initialized` → `active` (⇄ `inactive` while paused) → `closed` →
//! `determined` → `finalized`, each step announced as a `market_lifecycle_v2` event.
//!
//! Event choice per step (the spec names the event types, not which step emits which):
//! - added: `created` (with open/close times, grid and metadata);
//! - opened on schedule or resumed: `activated` (`is_deactivated: false` on resume);
//! - paused: `deactivated` with `is_deactivated: true`;
//! - closed on schedule: `deactivated` (trading stops); closed early (determined before the close
//!   time): `close_date_updated` with the new `close_ts`, then `determined`;
//! - determined: `determined` with `result`, `determination_ts`, `settlement_value`;
//! - settled: `settled` with `settled_ts`; the market's status becomes `finalized`.

use crate::core::market::{PriceGrid, Ticker};
use crate::core::num::{Count, Money, Price};

use super::types::{MarketResult, MarketSpec, MarketStatus};

/// `market_lifecycle_v2` event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleEventType {
    Created,
    Activated,
    Deactivated,
    CloseDateUpdated,
    Determined,
    Settled,
}

impl LifecycleEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleEventType::Created => "created",
            LifecycleEventType::Activated => "activated",
            LifecycleEventType::Deactivated => "deactivated",
            LifecycleEventType::CloseDateUpdated => "close_date_updated",
            LifecycleEventType::Determined => "determined",
            LifecycleEventType::Settled => "settled",
        }
    }
}

/// One lifecycle step; fields are set only where the spec says the event carries them.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleStep {
    pub ticker: Ticker,
    pub event_type: LifecycleEventType,
    pub ts_ms: i64,
    pub open_ts: Option<i64>,
    pub close_ts: Option<i64>,
    pub result: Option<MarketResult>,
    pub determination_ts: Option<i64>,
    pub settlement_value: Option<Price>,
    pub settled_ts: Option<i64>,
    pub is_deactivated: Option<bool>,
}

impl LifecycleStep {
    fn new(ticker: &Ticker, event_type: LifecycleEventType, ts_ms: i64) -> LifecycleStep {
        LifecycleStep {
            ticker: ticker.clone(),
            event_type,
            ts_ms,
            open_ts: None,
            close_ts: None,
            result: None,
            determination_ts: None,
            settlement_value: None,
            settled_ts: None,
            is_deactivated: None,
        }
    }
}

/// Trading statistics the market reports (`Market` and the `ticker` channel).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketStats {
    pub last_price: Option<Price>,
    pub last_trade_size: Count,
    pub volume: Count,
    /// Contracts traded in the last 24 h: `(ts_ms, count)`, oldest first.
    pub recent_trades: std::collections::VecDeque<(i64, Count)>,
    pub open_interest: Count,
    /// Dollar value traded (YES price × count).
    pub dollar_volume: Money,
    pub previous_price: Option<Price>,
    pub previous_yes_bid: Option<Price>,
    pub previous_yes_ask: Option<Price>,
}

impl MarketStats {
    pub fn volume_24h(&self, now_ms: i64) -> Count {
        const DAY_MS: i64 = 24 * 3600 * 1000;
        self.recent_trades
            .iter()
            .filter(|(ts, _)| *ts > now_ms - DAY_MS)
            .fold(Count::ZERO, |sum, (_, c)| sum.saturating_add(*c))
    }

    pub fn record_trade(&mut self, price: Price, count: Count, now_ms: i64) {
        const DAY_MS: i64 = 24 * 3600 * 1000;
        self.last_price = Some(price);
        self.last_trade_size = count;
        self.volume = self.volume.saturating_add(count);
        self.dollar_volume = self.dollar_volume.saturating_add(price.cost_of(count));
        self.recent_trades.push_back((now_ms, count));
        while let Some(&(ts, _)) = self.recent_trades.front() {
            if ts <= now_ms - DAY_MS {
                self.recent_trades.pop_front();
            } else {
                break;
            }
        }
    }
}

/// A listed market: its spec, grid, status and outcome.
#[derive(Debug, Clone)]
pub struct MarketState {
    pub spec: MarketSpec,
    pub ticker: Ticker,
    /// The market's uuid (`market_id` in WS frames).
    pub market_id: String,
    pub grid: PriceGrid,
    pub status: MarketStatus,
    /// The close time in force (moves earlier when the market closes early).
    pub close_ms: i64,
    pub result: Option<MarketResult>,
    pub determined_ms: Option<i64>,
    pub settled_ms: Option<i64>,
    pub updated_ms: i64,
    pub stats: MarketStats,
}

impl MarketState {
    /// A market in `initialized`. Its `market_id` is empty until the exchange lists it.
    pub fn new(spec: MarketSpec, grid: PriceGrid) -> MarketState {
        MarketState {
            ticker: Ticker::new(&spec.ticker),
            market_id: String::new(),
            grid,
            status: MarketStatus::Initialized,
            close_ms: spec.close_ms,
            result: None,
            determined_ms: None,
            settled_ms: None,
            updated_ms: spec.created_ms,
            stats: MarketStats::default(),
            spec,
        }
    }

    pub fn created_step(&self) -> LifecycleStep {
        let mut step = LifecycleStep::new(
            &self.ticker,
            LifecycleEventType::Created,
            self.spec.created_ms,
        );
        step.open_ts = Some(self.spec.open_ms);
        step.close_ts = Some(self.close_ms);
        step
    }

    /// Initialized → active once the open time has come (and the close time has not).
    pub fn open_if_due(&mut self, now_ms: i64) -> Option<LifecycleStep> {
        if self.status != MarketStatus::Initialized || now_ms < self.spec.open_ms {
            return None;
        }
        if now_ms >= self.close_ms {
            return None;
        }
        self.status = MarketStatus::Active;
        self.updated_ms = now_ms;
        Some(LifecycleStep::new(
            &self.ticker,
            LifecycleEventType::Activated,
            now_ms,
        ))
    }

    /// Initialized/active/inactive → closed once the close time has passed.
    pub fn close_if_due(&mut self, now_ms: i64) -> Option<LifecycleStep> {
        let open_like = matches!(
            self.status,
            MarketStatus::Initialized | MarketStatus::Active | MarketStatus::Inactive
        );
        if !open_like || now_ms < self.close_ms {
            return None;
        }
        self.status = MarketStatus::Closed;
        self.updated_ms = now_ms;
        let mut step = LifecycleStep::new(&self.ticker, LifecycleEventType::Deactivated, now_ms);
        step.is_deactivated = Some(true);
        Some(step)
    }

    /// Pause (active → inactive) or resume (inactive → active) trading in this market.
    pub fn set_paused(&mut self, paused: bool, now_ms: i64) -> Option<LifecycleStep> {
        let (from, to, event_type) = if paused {
            (
                MarketStatus::Active,
                MarketStatus::Inactive,
                LifecycleEventType::Deactivated,
            )
        } else {
            (
                MarketStatus::Inactive,
                MarketStatus::Active,
                LifecycleEventType::Activated,
            )
        };
        if self.status != from {
            return None;
        }
        self.status = to;
        self.updated_ms = now_ms;
        let mut step = LifecycleStep::new(&self.ticker, event_type, now_ms);
        step.is_deactivated = Some(paused);
        Some(step)
    }

    /// Record the outcome. A market still open closes early first (`close_date_updated`).
    pub fn determine(
        &mut self,
        result: MarketResult,
        now_ms: i64,
    ) -> Result<Vec<LifecycleStep>, String> {
        let mut steps = Vec::new();
        match self.status {
            MarketStatus::Initialized | MarketStatus::Active | MarketStatus::Inactive => {
                self.close_ms = self.close_ms.min(now_ms);
                self.status = MarketStatus::Closed;
                let mut step =
                    LifecycleStep::new(&self.ticker, LifecycleEventType::CloseDateUpdated, now_ms);
                step.close_ts = Some(self.close_ms);
                steps.push(step);
            }
            MarketStatus::Closed => {}
            other => {
                return Err(format!(
                    "market {} is already {} and cannot be determined again",
                    self.ticker, other
                ));
            }
        }
        self.status = MarketStatus::Determined;
        self.result = Some(result);
        self.determined_ms = Some(now_ms);
        self.updated_ms = now_ms;
        let mut step = LifecycleStep::new(&self.ticker, LifecycleEventType::Determined, now_ms);
        step.result = Some(result);
        step.determination_ts = Some(now_ms);
        step.settlement_value = Some(result.yes_value());
        steps.push(step);
        Ok(steps)
    }

    /// Determined → finalized. The caller pays the positions out.
    pub fn settle(&mut self, now_ms: i64) -> Result<LifecycleStep, String> {
        if !matches!(
            self.status,
            MarketStatus::Determined | MarketStatus::Disputed | MarketStatus::Amended
        ) {
            return Err(format!(
                "market {} is {} and cannot be settled (it must be determined first)",
                self.ticker, self.status
            ));
        }
        self.status = MarketStatus::Finalized;
        self.settled_ms = Some(now_ms);
        self.updated_ms = now_ms;
        let mut step = LifecycleStep::new(&self.ticker, LifecycleEventType::Settled, now_ms);
        step.settled_ts = Some(now_ms);
        Ok(step)
    }

    /// Closed with a known outcome and past the expected expiration: time to determine.
    pub fn determination_due(&self, now_ms: i64) -> Option<MarketResult> {
        if self.status == MarketStatus::Closed && now_ms >= self.spec.expected_expiration_ms {
            self.spec.scheduled_result
        } else {
            None
        }
    }

    /// Determined and past the settlement timer.
    pub fn settlement_due(&self, now_ms: i64) -> bool {
        match (self.status, self.determined_ms) {
            (MarketStatus::Determined, Some(determined)) => {
                now_ms >= determined + self.spec.settlement_timer_seconds.max(0) * 1000
            }
            _ => false,
        }
    }
}
