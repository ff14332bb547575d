//! The config's trading sections in the engine's terms: `[risk]` as `RiskLimits` and each
//! `[strategies."TICKER"]` table as validated `StrategyParams`. The desk, paper, backtest and
//! `kdesk check-config` all read them through here, so a config means the same thing everywhere.

use crate::config::settings::{RiskSettings, Settings};
use crate::core::market::Ticker;
use crate::core::num::Money;
use crate::core::risk::RiskLimits;
use crate::core::strategy::StrategyParams;
use crate::core::strategy::maker::MakerParams;

/// One `[strategies."TICKER"]` table that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("strategy for {ticker}: {reason}")]
pub struct StrategyConfigError {
    pub ticker: String,
    pub reason: String,
}

/// The engine's limits from the operator's config; the config speaks per minute, the engine per
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
        collar: Money::from_micros(risk.collar.micros()),
        reject_streak_limit: risk.reject_streak,
        breach_persistence: risk.breach_persistence,
    }
}

/// Every configured strategy, or every table that is wrong (all of them, not just the first).
pub fn strategies(
    settings: &Settings,
) -> Result<Vec<(Ticker, StrategyParams)>, Vec<StrategyConfigError>> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (ticker, table) in &settings.strategies {
        match strategy_params(ticker, table) {
            Ok(params) => good.push((Ticker::from(ticker.as_str()), params)),
            Err(error) => bad.push(error),
        }
    }
    if bad.is_empty() { Ok(good) } else { Err(bad) }
}

/// `{ strategy = "maker", half_spread = "0.02", … }`: keys not given take the strategy's
/// defaults; the result is validated.
pub fn strategy_params(
    ticker: &str,
    table: &toml::Table,
) -> Result<StrategyParams, StrategyConfigError> {
    let error = |reason: String| StrategyConfigError {
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
                "unknown strategy `{other}` (accepted: maker, trigger)"
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
        .map_err(|e: toml::de::Error| error(e.message().trim().to_string()))?;
    params.validate().map_err(|e| error(e.to_string()))?;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings::parse(text, "config.toml").expect("config parses")
    }

    #[test]
    fn a_partial_maker_table_takes_the_defaults() {
        let parsed = strategies(&settings(
            "[strategies.\"KXFED-26DEC-T4.25\"]\nstrategy = \"maker\"\nhalf_spread = \"0.03\"\n",
        ))
        .expect("valid");
        let StrategyParams::Maker(maker) = &parsed[0].1 else {
            panic!("not a maker: {parsed:?}")
        };
        assert_eq!(maker.half_spread, Money::from_cents(3));
        assert_eq!(maker.size, MakerParams::default().size);
    }

    #[test]
    fn every_bad_table_is_named() {
        let errors = strategies(&settings(
            "[strategies.A]\nstrategy = \"martingale\"\n[strategies.B]\nhalf_spread = \"0.01\"\n[strategies.C]\nstrategy = \"maker\"\nsize = \"lots\"\n",
        ))
        .expect_err("invalid");
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{text:?}");
        assert!(text[0].contains("strategy for A: unknown strategy `martingale`"));
        assert!(text[1].contains("strategy for B: missing `strategy"));
        assert!(text[2].starts_with("strategy for C:"), "{text:?}");
    }

    #[test]
    fn limits_are_per_minute() {
        let limits = risk_limits(&RiskSettings::default());
        assert_eq!(limits.rate_window_ms, 60_000);
        assert_eq!(
            limits.max_orders_per_window,
            RiskSettings::default().max_orders_per_minute
        );
    }
}
