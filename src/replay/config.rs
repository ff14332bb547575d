//! The desk's `config.toml` read for a replay: risk limits and per-market strategies, in the same
//! terms as the live desk (`config::trading`).

use std::path::Path;

use crate::config::settings::Settings;
use crate::config::trading;
use crate::core::market::Ticker;
use crate::core::risk::RiskLimits;
use crate::core::strategy::StrategyParams;

pub use crate::config::trading::{risk_limits, strategy_params};

#[derive(Debug, thiserror::Error)]
pub enum ReplayConfigError {
    #[error("{0}")]
    Config(String),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Strategies(Vec<trading::StrategyConfigError>),
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
    Ok(ReplaySettings {
        limits: risk_limits(&settings.risk),
        strategies: trading::strategies(settings).map_err(ReplayConfigError::Strategies)?,
        day_boundary: settings.day_boundary.clone(),
    })
}
