//! The desk's `config.toml` read for a replay: risk limits and per-market strategies.

use std::path::Path;

use crate::config::settings::{RiskSettings, Settings};
use crate::core::market::Ticker;
use crate::core::risk::RiskLimits;
use crate::core::strategy::StrategyParams;
use crate::core::strategy::maker::MakerParams;

#[derive(Debug, thiserror::Error)]
pub enum ReplayConfigError {
    #[error("{0}")]
    Config(String),
    #[error("strategy for {ticker}: {reason}")]
    Strategy { ticker: String, reason: String },
}

/// What a replay takes from the config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaySettings {
    pub limits: RiskLimits,
    pub strategies: Vec<(Ticker, StrategyParams)>,
    pub day_boundary: String,
}

pub fn load(path: &Path) -> Result<ReplaySettings, ReplayConfigError> {
    let settings = Settings::load(path, true).map_err(|diagnostics| {
        ReplayConfigError::Config(
            diagnostics
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    from_settings(&settings)
}

pub fn from_settings(settings: &Settings) -> Result<ReplaySettings, ReplayConfigError> {
    let mut strategies = Vec::new();
    for (ticker, table) in &settings.strategies {
        strategies.push((
            Ticker::from(ticker.as_str()),
            strategy_params(ticker, table)?,
        ));
    }
    Ok(ReplaySettings {
        limits: risk_limits(&settings.risk),
        strategies,
        day_boundary: settings.day_boundary.clone(),
    })
}

/// The config's limits in the engine's terms; the config speaks per minute, the engine per
/// window, so the window is a minute.
pub fn risk_limits(risk: &RiskSettings) -> RiskLimits {
    RiskLimits {
        max_order_count: risk.max_order_contracts,
        max_order_cost: risk.max_order_cost,
        max_position: risk.max_position_contracts,
        max_event_loss: risk.max_event_loss,
        max_gross_exposure: risk.max_gross_exposure,
        max_open_orders: risk.max_open_orders,
        max_orders_per_window: risk.max_orders_per_minute,
        rate_window_ms: 60_000,
        runaway_orders_per_window: risk.runaway_orders_per_minute,
        max_daily_loss: risk.max_daily_loss,
        collar: crate::core::num::Money::from_micros(risk.collar.micros()),
        reject_streak_limit: risk.reject_streak,
        breach_persistence: risk.breach_persistence,
    }
}

/// `{ strategy = "maker", half_spread = "0.02", … }`: keys not given take the strategy's
/// defaults.
pub fn strategy_params(
    ticker: &str,
    table: &toml::Table,
) -> Result<StrategyParams, ReplayConfigError> {
    let error = |reason: String| ReplayConfigError::Strategy {
        ticker: ticker.to_string(),
        reason,
    };
    let kind = table
        .get("strategy")
        .and_then(|v| v.as_str())
        .ok_or_else(|| error("missing `strategy = \"maker\"` or `\"trigger\"`".into()))?;
    let defaults = match kind {
        "maker" => toml::Table::try_from(StrategyParams::Maker(MakerParams::default())),
        // A trigger has no sensible default condition: only its housekeeping fields default.
        "trigger" => Ok(toml::toml! {
            strategy = "trigger"
            repeat = false
            stale_book_ms = 10000
        }),
        other => {
            return Err(error(format!(
                "unknown strategy `{other}` (maker, trigger)"
            )));
        }
    }
    .map_err(|e| error(e.to_string()))?;
    let mut merged = defaults;
    for (key, value) in table {
        merged.insert(key.clone(), value.clone());
    }
    let params: StrategyParams = merged
        .try_into()
        .map_err(|e: toml::de::Error| error(e.to_string()))?;
    params.validate().map_err(|e| error(e.to_string()))?;
    Ok(params)
}
