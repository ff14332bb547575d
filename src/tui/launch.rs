//! `kdesk` with no subcommand: load settings and keymap (a bad keymap stops start-up before the
//! alternate screen, exit 2), start the embedded simulator when no exchange key is configured,
//! start the live desk through `runtime::desk::start`, and run the screen on it.

use std::sync::Arc;

use crate::cli::{CommonArgs, DeskArgs, load_keymap, load_settings};
use crate::config::settings::{Environment, OnUiExit};
use crate::config::{Paths, Settings};
use crate::core::market::Ticker;
use crate::core::num::Money;
use crate::core::strategy::{MakerParams, StrategyParams};
use crate::runtime::desk::{self, DeskConfig};
use crate::runtime::paper_executor::PaperSettings;
use crate::sim::server::{SimConfig, SimServer};
use crate::tui::app::{AppConfig, AppState, Msg, TicketLimits};
use crate::tui::replica::LogLevel;
use crate::tui::theme::Theme;

/// Exit status for configuration errors (bad keymap, missing opt-in, missing key).
const CONFIG_ERROR: i32 = 2;

pub fn start_desk(common: &CommonArgs, args: &DeskArgs, paths: &Paths) -> anyhow::Result<i32> {
    let mut settings = match load_settings(common, paths) {
        Ok(settings) => settings,
        Err(report) => {
            eprintln!("{report}");
            return Ok(CONFIG_ERROR);
        }
    };
    if let Err(why) = apply_flags(&mut settings, args) {
        eprintln!("kdesk: {why}");
        return Ok(CONFIG_ERROR);
    }
    let keymap = match load_keymap(&settings, paths) {
        Ok((keymap, warnings)) => {
            if !warnings.is_empty() {
                eprintln!("{warnings}");
            }
            keymap
        }
        Err(report) => {
            eprintln!("{report}");
            eprintln!(
                "kdesk: not starting with a keymap that has errors (fix it or run `kdesk check-config`)"
            );
            return Ok(CONFIG_ERROR);
        }
    };
    let environment = settings.environment;
    if environment == Environment::Prod && !settings.real_money {
        eprintln!(
            "kdesk: --env prod trades real money: pass --i-understand-this-is-real-money or set real_money = true in the config"
        );
        return Ok(CONFIG_ERROR);
    }
    if environment != Environment::Sim && (settings.key_id.is_none() || settings.key_file.is_none())
    {
        eprintln!(
            "kdesk: --env {} needs a key: --key-id and --key-file (or KALSHI_KEY_ID / KALSHI_KEY_FILE, or key_id / key_file in the config)",
            environment.name()
        );
        return Ok(CONFIG_ERROR);
    }
    let extras = match DeskExtras::from_args(args) {
        Ok(extras) => extras,
        Err(why) => {
            eprintln!("kdesk: {why}");
            return Ok(CONFIG_ERROR);
        }
    };
    let theme_load = Theme::load(&settings.theme, Some(&paths.config_dir));
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run_desk(
        settings,
        keymap,
        theme_load,
        paths.clone(),
        extras,
    ))
}

/// Desk flags beyond the exchange: paper mode, metrics endpoint, tape directory.
struct DeskExtras {
    paper: Option<PaperSettings>,
    metrics: Option<std::net::SocketAddr>,
    tape_dir: Option<std::path::PathBuf>,
}

impl DeskExtras {
    fn from_args(args: &DeskArgs) -> Result<DeskExtras, String> {
        let paper = if args.paper {
            let mut settings = PaperSettings::default();
            if let Some(latency_ms) = args.paper_latency_ms {
                settings.latency_ms = latency_ms;
            }
            if let Some(cash) = &args.paper_cash {
                settings.starting_cash =
                    Money::parse(cash).map_err(|e| format!("--paper-cash {cash:?}: {e}"))?;
            }
            Some(settings)
        } else {
            None
        };
        Ok(DeskExtras {
            paper,
            metrics: args.metrics,
            tape_dir: args.tape_dir.clone(),
        })
    }
}

fn apply_flags(settings: &mut Settings, args: &DeskArgs) -> Result<(), String> {
    if let Some(env) = &args.environment {
        settings.environment = match env.as_str() {
            "sim" => Environment::Sim,
            "demo" => Environment::Demo,
            "prod" => Environment::Prod,
            other => return Err(format!("--env '{other}': expected sim, demo or prod")),
        };
    }
    if let Some(key_id) = &args.key_id {
        settings.key_id = Some(key_id.clone());
    }
    if let Some(key_file) = &args.key_file {
        settings.key_file = Some(key_file.clone());
    }
    settings.allow_insecure_key |= args.allow_insecure_key;
    settings.real_money |= args.real_money;
    if let Some(theme) = &args.theme {
        settings.theme = theme.clone();
    }
    Ok(())
}

/// Strategies from the config (`[strategies."TICKER"]` tables): the desk starts with the good
/// ones and shows each bad one as a notice.
fn configured_strategies(settings: &Settings) -> (Vec<(Ticker, StrategyParams)>, Vec<String>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (ticker, table) in &settings.strategies {
        match crate::config::trading::strategy_params(ticker, table) {
            Ok(params) => good.push((Ticker::from(ticker.as_str()), params)),
            Err(error) => bad.push(error.to_string()),
        }
    }
    (good, bad)
}

/// Where the desk on the embedded simulator keeps its lock, control socket and journal:
/// `<state dir>/sim` (`$XDG_STATE_HOME/kalshi-desk/sim`, else `~/.local/state/kalshi-desk/sim`).
pub fn embedded_state_dir(paths: &Paths) -> std::path::PathBuf {
    paths.state_dir.join("sim")
}

/// Each run of the embedded simulator is a fresh exchange with no order of the last run: a
/// halt the last run ended in has nothing left to guard, so it is journaled as reset.
fn fresh_exchange_resets_halt(config: &DeskConfig) -> Result<(), String> {
    use crate::store::journal::{HaltRecord, HaltState, Journal, Mode};
    let Some(dir) = &config.state_dir else {
        return Ok(());
    };
    let path = config
        .journal_path
        .clone()
        .unwrap_or_else(|| dir.join(format!("journal-{}.sqlite", config.account().slug())));
    if !path.exists() {
        return Ok(());
    }
    let mut journal = Journal::open(&path).map_err(|e| e.to_string())?;
    let halted = journal
        .last_halt(Mode::Live)
        .map_err(|e| e.to_string())?
        .is_some_and(|halt| halt.state != HaltState::Reset);
    if halted {
        journal
            .record_halt(&HaltRecord {
                ts_ms: crate::runtime::clock::wall_ms(),
                mode: Mode::Live,
                state: HaltState::Reset,
                reason: "a fresh embedded simulator".to_string(),
                payload: serde_json::json!({}),
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

async fn run_desk(
    settings: Settings,
    keymap: crate::tui::keymap::Keymap,
    theme_load: crate::tui::theme::ThemeLoad,
    paths: Paths,
    extras: DeskExtras,
) -> anyhow::Result<i32> {
    let (mut strategies, strategy_errors) = configured_strategies(&settings);
    let mut watchlist: Vec<Ticker> = settings
        .watchlist
        .iter()
        .map(|t| Ticker::from(t.as_str()))
        .collect();
    let mut sim = None;
    let config = match settings.environment {
        Environment::Sim => {
            let sim_config = SimConfig {
                seed: settings.sim.seed,
                markets: settings.sim.markets,
                flow: true,
                key_dir: paths.state_dir.join("sim-keys"),
                ..SimConfig::default()
            };
            let handle = SimServer::start(sim_config).await?;
            if watchlist.is_empty() {
                watchlist = handle.with_exchange(|exchange| {
                    exchange
                        .market_states()
                        .filter(|m| m.status == crate::core::market::MarketStatus::Active)
                        .map(|m| m.ticker.clone())
                        .collect()
                });
            }
            // On the simulator every watched market gets a default maker, so arming works from
            // the first minute; the config's strategies win.
            for ticker in &watchlist {
                if !strategies.iter().any(|(t, _)| t == ticker) {
                    strategies.push((
                        ticker.clone(),
                        StrategyParams::Maker(MakerParams::default()),
                    ));
                }
            }
            let mut config = DeskConfig::new(
                "sim",
                &handle.rest_base_url,
                &handle.ws_url,
                &handle.key_id,
                handle.key_file.clone(),
            );
            // Lock, journal and control socket like any desk, so `kdesk kill` reaches it.
            let state_dir = embedded_state_dir(&paths);
            config.state_dir = Some(state_dir);
            if let Err(error) = fresh_exchange_resets_halt(&config) {
                eprintln!("kdesk: journal: {error}");
            }
            sim = Some(handle);
            config
        }
        Environment::Demo | Environment::Prod => {
            let (rest, ws) = if settings.environment == Environment::Prod {
                (
                    crate::kalshi::rest::PROD_BASE_URL,
                    "wss://external-api.kalshi.com/trade-api/ws/v2",
                )
            } else {
                (
                    crate::kalshi::rest::DEMO_BASE_URL,
                    "wss://external-api.demo.kalshi.co/trade-api/ws/v2",
                )
            };
            let key_id = settings.key_id.clone().unwrap_or_default();
            let key_file = settings.key_file.clone().unwrap_or_default();
            let mut config =
                DeskConfig::new(settings.environment.name(), rest, ws, &key_id, key_file);
            config.allow_insecure_key_permissions = settings.allow_insecure_key;
            config.subaccount = (settings.subaccount != 0).then_some(settings.subaccount);
            config.state_dir = Some(paths.state_dir.clone());
            config
        }
    };
    let mut config = config;
    if extras.paper.is_some() {
        // Paper keeps its own lock and journal: it may run beside a live desk on the same key.
        config.environment = format!("{}-paper", config.environment);
        if config.state_dir.is_none() {
            let _ = std::fs::create_dir_all(&paths.state_dir);
            config.journal_path = Some(
                paths
                    .state_dir
                    .join(format!("journal-{}.sqlite", config.environment)),
            );
        }
    }
    config.paper = extras.paper.clone();
    config.tape_dir = extras
        .tape_dir
        .clone()
        .or_else(|| Some(paths.state_dir.join("tapes")));
    config.watchlist = watchlist.clone();
    let initial_params = strategies.clone();
    config.strategies = strategies;
    config.engine.limits = crate::config::trading::risk_limits(&settings.risk);
    let account = format!(
        "{}{}",
        crate::tui::fmt::fit(&config.key_id, 12),
        if settings.subaccount != 0 {
            format!("/{}", settings.subaccount)
        } else {
            String::new()
        }
    );
    let desk = match desk::start(config).await {
        Ok(desk) => Arc::new(desk),
        Err(e) => {
            if let Some(sim) = sim {
                sim.shutdown().await;
            }
            eprintln!("kdesk: the desk did not start: {e}");
            return Ok(1);
        }
    };
    let metrics_server = match extras.metrics {
        Some(addr) => {
            let metrics = Arc::new(crate::runtime::metrics::DeskMetrics::new());
            match crate::runtime::metrics::serve(addr, metrics.clone()).await {
                Ok((bound, server)) => {
                    let feeder = crate::runtime::metrics::feed_from_desk(&desk, metrics);
                    Some((bound, server, feeder))
                }
                Err(e) => {
                    eprintln!("kdesk: metrics on {addr}: {e}");
                    if let Ok(desk) = Arc::try_unwrap(desk) {
                        desk.shutdown().await;
                    }
                    if let Some(sim) = sim {
                        sim.shutdown().await;
                    }
                    return Ok(CONFIG_ERROR);
                }
            }
        }
        None => None,
    };
    let paper = extras.paper.is_some();
    let app_config = AppConfig {
        environment: if paper {
            "PAPER".to_string()
        } else {
            settings.environment.name().to_uppercase()
        },
        account: if paper {
            format!("{} · {account}", settings.environment.name())
        } else {
            account
        },
        halt_on_exit: settings.on_ui_exit == OnUiExit::Halt,
        bell: settings.bell,
        limits: TicketLimits {
            max_order_contracts: settings.risk.max_order_contracts,
            max_order_cost: settings.risk.max_order_cost,
            collar: Money::from_micros(settings.risk.collar.micros()),
        },
        max_daily_loss: settings.risk.max_daily_loss,
        watchlist: if settings.watchlist.is_empty() {
            Vec::new()
        } else {
            watchlist
        },
    };
    let mut state = AppState::new(app_config, keymap);
    state.strategy_params.extend(initial_params);
    let now = crate::runtime::clock::wall_ms();
    for diagnostic in &theme_load.diagnostics {
        crate::tui::app::update(
            &mut state,
            Msg::Notice {
                level: LogLevel::Warn,
                text: format!("theme: {}", diagnostic.message),
            },
            now,
        );
    }
    if theme_load.fell_back {
        crate::tui::app::update(
            &mut state,
            Msg::Notice {
                level: LogLevel::Warn,
                text: format!("theme '{}' has errors: using the default", settings.theme),
            },
            now,
        );
    }
    for error in strategy_errors {
        crate::tui::app::update(
            &mut state,
            Msg::Notice {
                level: LogLevel::Warn,
                text: error,
            },
            now,
        );
    }
    if let Some((bound, _, _)) = &metrics_server {
        crate::tui::app::update(
            &mut state,
            Msg::Notice {
                level: LogLevel::Info,
                text: format!("metrics on http://{bound}/metrics"),
            },
            now,
        );
    }
    if paper {
        crate::tui::app::update(
            &mut state,
            Msg::Notice {
                level: LogLevel::Warn,
                text: "PAPER TRADING: orders fill locally against the live books and never reach the exchange".to_string(),
            },
            now,
        );
    }
    let report = desk.startup();
    let mut started = format!(
        "reconciled: {} positions, {} orphan orders cancelled, {} of your orders kept",
        report.positions,
        report.orphans_cancelled.len(),
        report.kept_orders.len()
    );
    if !report.orphans_failed.is_empty() {
        started.push_str(&format!(
            ", {} orphans NOT cancelled",
            report.orphans_failed.len()
        ));
    }
    if let Some(reason) = &report.started_halted {
        started.push_str(&format!("; HALTED from the last run: {reason}"));
    }
    let level = if report.started_halted.is_some() || !report.orphans_failed.is_empty() {
        LogLevel::Warn
    } else {
        LogLevel::Info
    };
    crate::tui::app::update(
        &mut state,
        Msg::Notice {
            level,
            text: started,
        },
        now,
    );
    let outcome =
        crate::tui::run::run(desk.clone(), state, theme_load.theme, settings.max_fps).await;
    if let Some((_, server, feeder)) = metrics_server {
        server.abort();
        feeder.abort();
    }
    if let Ok(desk) = Arc::try_unwrap(desk) {
        desk.shutdown().await;
    }
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    outcome?;
    Ok(0)
}
