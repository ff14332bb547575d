//! User configuration: `config.toml` (settings), where files live, and how mistakes in user files
//! are reported.

pub mod diagnostic;
pub mod settings;
pub mod trading;

pub use settings::{Environment, OnUiExit, Paths, RiskSettings, Settings, SimSettings};
