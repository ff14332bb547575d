//! Command line: `kdesk` and its subcommands.

use crate::config::diagnostic::render_all;
use crate::config::{Paths, Settings};
use crate::kalshi::auth::KeyKind;
use crate::tui::keymap::{Keymap, KeymapSource, builtin_overlay};
use crate::tui::theme::Theme;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// kalshi-desk: a terminal trading desk for Kalshi.
#[derive(Debug, Parser)]
#[command(name = "kdesk", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub desk: DeskArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command understands.
#[derive(Debug, Args, Clone, Default)]
pub struct CommonArgs {
    /// Config file (default: <config dir>/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Config directory (default: $XDG_CONFIG_HOME/kalshi-desk).
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
}

/// Options of the desk itself (`kdesk` with no subcommand).
#[derive(Debug, Args, Clone, Default)]
pub struct DeskArgs {
    /// Exchange: the embedded simulator (default), Kalshi's demo, or production.
    #[arg(long = "env", value_name = "sim|demo|prod")]
    pub environment: Option<String>,
    /// API key id (also `KALSHI_KEY_ID`).
    #[arg(long, value_name = "ID")]
    pub key_id: Option<String>,
    /// Private key file, PEM (also `KALSHI_KEY_FILE`).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Accept a key file other users can read.
    #[arg(long)]
    pub allow_insecure_key: bool,
    /// Required for `--env prod` unless `real_money = true` is in the config.
    #[arg(long = "i-understand-this-is-real-money")]
    pub real_money: bool,
    /// Theme name or file (overrides the config).
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Paper-trade: live market data, orders filled locally (queue-aware) and never sent to
    /// the exchange; journal records are `mode = paper`.
    #[arg(long)]
    pub paper: bool,
    /// Paper account's starting cash, dollars (with --paper; default 10000).
    #[arg(long, value_name = "DOLLARS")]
    pub paper_cash: Option<String>,
    /// One-way delay before a paper order reaches the local book, ms (with --paper; default 50).
    #[arg(long, value_name = "MS")]
    pub paper_latency_ms: Option<u64>,
    /// Serve Prometheus metrics from the desk on this address (e.g. 127.0.0.1:9184).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Directory for tapes recorded with the recording key (default: <state dir>/tapes).
    #[arg(long, value_name = "DIR")]
    pub tape_dir: Option<PathBuf>,
}

// Parsed once at start-up; boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate config.toml, the keymaps and the theme, then exit.
    CheckConfig,
    /// Manage API keys for the simulator.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print recent journal events and daily summaries.
    Journal(JournalArgs),
    /// Kill switch from outside the desk: trigger the order groups, cancel every order, sweep
    /// until flat, tell a running desk, journal the halt. Exit 0 flat, 3 not flat, 2 config.
    Kill(KillArgs),
    /// Run the Kalshi-compatible exchange simulator in the foreground (Ctrl-C stops it).
    Sim(crate::sim::run::SimArgs),
    /// Record raw market-data frames to a tape (zstd JSON lines) for backtests.
    Record(crate::replay::cli::RecordArgs),
    /// Replay a tape through the engine and strategies with simulated fills; writes a report.
    Backtest(crate::replay::cli::BacktestArgs),
    /// The desk in paper mode (same as `kdesk --paper`): live market data, orders filled
    /// locally and never sent to the exchange.
    Paper(DeskArgs),
    /// Fault soak: the desk with `maker` armed on many markets against the simulator with every
    /// fault on, a kill and reset in the middle; checks the end state. Exit 0 pass, 1 fail.
    Soak(SoakArgs),
}

#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Minutes of flow with faults.
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// Markets the maker is armed on.
    #[arg(long, default_value_t = 24)]
    pub markets: usize,
    /// Seed of the market flow and the random faults.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Work directory for keys and the journal (default: a new one under the temp dir).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// No progress lines, only the report.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key pair: the private key (0600) and its registration in the simulator's registry.
    New(KeysNewArgs),
}

#[derive(Debug, Args)]
pub struct KeysNewArgs {
    /// Key algorithm (Ed25519 signs about 20x faster than RSA).
    #[arg(long, value_enum, default_value_t = KeyAlgorithm::Ed25519)]
    pub kind: KeyAlgorithm,
    /// Directory for the key and the registry (default: <config dir>/sim-keys).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Simulator member the key belongs to: a UUID, as Kalshi's user ids are (default: the
    /// simulator's own member).
    #[arg(
        long,
        default_value = crate::sim::server::DEFAULT_USER_ID,
        value_parser = parse_member_id
    )]
    pub user: String,
}

fn parse_member_id(text: &str) -> Result<String, String> {
    crate::sim::keys::check_user_id(text).map(|()| text.to_string())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyAlgorithm {
    Ed25519,
    Rsa,
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    /// How many recent events to print.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// How many daily summaries to print.
    #[arg(long, default_value_t = 7)]
    pub days: usize,
    /// Paper-trading records instead of live ones.
    #[arg(long)]
    pub paper: bool,
    /// Journal file (default: the most recently written desk journal under the state dir).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Why (journaled and shown on the desk's HALTED banner).
    #[arg(long, default_value = "kdesk kill")]
    pub reason: String,
    /// REST base of the exchange (default: from the environment in the config; needed for a
    /// standalone `kdesk sim`, e.g. http://127.0.0.1:8080/trade-api/v2).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Journal file (default: the desk's own, <state dir>/journal-<account>.sqlite, so its
    /// next start honours the halt).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Reads of resting orders before giving up with an alarm.
    #[arg(long, default_value_t = 12)]
    pub max_sweeps: u32,
    /// Print the full report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Accept a key file other users can read.
    #[arg(long)]
    pub allow_insecure_key: bool,
}

/// Entry point for the `kdesk` binary; returns the process exit status.
pub fn run() -> i32 {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kdesk: {error:#}");
            1
        }
    }
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let paths = Paths::resolve(cli.common.config_dir.as_deref(), env_lookup);
    match cli.command {
        Some(Command::CheckConfig) => Ok(check_config(&cli.common, &paths)),
        Some(Command::Keys {
            command: KeysCommand::New(args),
        }) => keys_new(&args, &paths),
        Some(Command::Journal(args)) => journal(&args, &paths),
        Some(Command::Kill(args)) => Ok(kill(&cli.common, &args, &paths)),
        Some(Command::Sim(args)) => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(crate::sim::run::run_sim(args))?;
            Ok(0)
        }
        Some(Command::Record(args)) => {
            crate::replay::cli::record_command(&args, cli.common.config.as_deref())
        }
        Some(Command::Backtest(args)) => {
            crate::replay::cli::backtest_command(&args, cli.common.config.as_deref())
        }
        Some(Command::Paper(mut args)) => {
            args.paper = true;
            crate::tui::launch::start_desk(&cli.common, &args, &paths)
        }
        Some(Command::Soak(args)) => soak(&args),
        None => crate::tui::launch::start_desk(&cli.common, &cli.desk, &paths),
    }
}

/// `kdesk soak`: run it, print the report; 0 when every check passed.
fn soak(args: &SoakArgs) -> anyhow::Result<i32> {
    if !(args.minutes.is_finite() && args.minutes > 0.0) {
        anyhow::bail!("--minutes {}: must be a positive number", args.minutes);
    }
    let work_dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "kdesk-soak-{}-{}",
            std::process::id(),
            crate::runtime::clock::wall_ms()
        ))
    });
    let mut config = crate::soak::SoakConfig::new(
        std::time::Duration::from_secs_f64(args.minutes * 60.0),
        work_dir.clone(),
    );
    config.markets = args.markets;
    config.seed = args.seed;
    config.verbose = !args.quiet;
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(crate::soak::run(config))?;
    print!("{}", report.render());
    println!("work dir (keys, journal): {}", work_dir.display());
    Ok(if report.passed() { 0 } else { 1 })
}

/// Load settings from `--config` or the default location, with environment overrides.
pub fn load_settings(common: &CommonArgs, paths: &Paths) -> Result<Settings, String> {
    let (path, explicit) = match &common.config {
        Some(path) => (path.clone(), true),
        None => (paths.config_file(), false),
    };
    let mut settings = Settings::load(&path, explicit).map_err(|d| render_all(&d))?;
    settings.apply_env(env_lookup);
    Ok(settings)
}

/// Keymap overlays named in the config: a shipped name or `<config dir>/keymaps/<name>.toml`.
pub fn load_keymap(settings: &Settings, paths: &Paths) -> Result<(Keymap, String), String> {
    let mut sources = Vec::new();
    for name in &settings.keymap {
        let user_file = paths
            .config_dir
            .join("keymaps")
            .join(format!("{name}.toml"));
        if let Ok(text) = std::fs::read_to_string(&user_file) {
            sources.push(KeymapSource::new(user_file.display().to_string(), text));
        } else if let Some(text) = builtin_overlay(name) {
            sources.push(KeymapSource::new(
                format!("keymaps/{name}.toml (built-in)"),
                text,
            ));
        } else {
            return Err(format!(
                "error: no keymap named '{name}' (looked for {} and the built-in 'default', 'vim')",
                user_file.display()
            ));
        }
    }
    match Keymap::load(&sources) {
        Ok((keymap, warnings)) => Ok((keymap, render_all(&warnings))),
        Err(diagnostics) => Err(render_all(&diagnostics)),
    }
}

fn check_config(common: &CommonArgs, paths: &Paths) -> i32 {
    let mut ok = true;
    let settings = match load_settings(common, paths) {
        Ok(settings) => {
            println!(
                "config: ok ({})",
                common
                    .config
                    .clone()
                    .unwrap_or_else(|| paths.config_file())
                    .display()
            );
            settings
        }
        Err(report) => {
            eprintln!("{report}");
            ok = false;
            Settings::default()
        }
    };
    match load_keymap(&settings, paths) {
        Ok((_, warnings)) => {
            println!("keymap: ok");
            if !warnings.is_empty() {
                eprintln!("{warnings}");
            }
        }
        Err(report) => {
            eprintln!("{report}");
            ok = false;
        }
    }
    match crate::config::trading::strategies(&settings) {
        Ok(strategies) => println!("strategies: ok ({})", strategies.len()),
        Err(errors) => {
            let file = common.config.clone().unwrap_or_else(|| paths.config_file());
            for error in errors {
                eprintln!(
                    "error: {}: [strategies.\"{}\"]: {}",
                    file.display(),
                    error.ticker,
                    error.reason
                );
            }
            ok = false;
        }
    }
    let theme = Theme::load(&settings.theme, Some(&paths.config_dir));
    if theme.fell_back {
        eprintln!("{}", render_all(&theme.diagnostics));
        ok = false;
    } else {
        println!("theme: ok ({})", settings.theme);
    }
    if ok { 0 } else { 2 }
}

fn keys_new(args: &KeysNewArgs, paths: &Paths) -> anyhow::Result<i32> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| paths.config_dir.join("sim-keys"));
    let kind = match args.kind {
        KeyAlgorithm::Ed25519 => KeyKind::Ed25519,
        KeyAlgorithm::Rsa => KeyKind::Rsa2048,
    };
    let key = crate::sim::keys::create_key(&dir, kind, &args.user)?;
    println!("key id:    {}", key.key_id);
    println!("key file:  {} (0600)", key.private_key_path.display());
    println!("registry:  {}", key.registry_path.display());
    Ok(0)
}

fn journal(args: &JournalArgs, paths: &Paths) -> anyhow::Result<i32> {
    use crate::store::journal::{Journal, Mode};
    let file = match &args.file {
        Some(file) => file.clone(),
        None => {
            let found = desk_journals(paths);
            let Some(newest) = found.first() else {
                println!(
                    "no journal under {} yet (a desk writes journal-<account>.sqlite there)",
                    paths.state_dir.display()
                );
                return Ok(0);
            };
            for other in &found[1..] {
                println!("also: {} (--file to read it)", other.display());
            }
            newest.clone()
        }
    };
    if !file.exists() {
        println!("no journal at {} yet", file.display());
        return Ok(0);
    }
    let journal = Journal::open(&file)?;
    let mode = if args.paper { Mode::Paper } else { Mode::Live };
    println!("journal {} ({})", file.display(), mode.as_str());
    if let Some(halt) = journal.last_halt(mode)? {
        println!(
            "last halt: {:?} at {} — {}",
            halt.state,
            format_ms(halt.ts_ms),
            halt.reason
        );
    }
    println!(
        "\n{:<10} {:>7} {:>7} {:>8} {:>7} {:>6} {:>7} {:>5}",
        "day", "events", "intents", "refusals", "rejects", "fills", "cancels", "halts"
    );
    for day in journal.daily_summaries(mode, new_york_offset_ms(), args.days)? {
        println!(
            "{:<10} {:>7} {:>7} {:>8} {:>7} {:>6} {:>7} {:>5}",
            day.day,
            day.events,
            day.intents,
            day.refusals,
            day.rejects,
            day.fills,
            day.cancels,
            day.halts
        );
    }
    println!("\nrecent events (newest first):");
    for event in journal.recent(args.limit, Some(mode))? {
        let ticker = event.ticker.as_deref().unwrap_or("-");
        println!(
            "{}  {:<12} {:<28} {}",
            format_ms(event.ts_ms),
            event.kind,
            ticker,
            event.payload
        );
    }
    Ok(0)
}

/// `kdesk kill`. Cancelling is the safe direction, so production needs no real-money opt-in here.
fn kill(common: &CommonArgs, args: &KillArgs, paths: &Paths) -> i32 {
    use crate::kalshi::auth::Signer;
    use crate::kalshi::rest::{DEMO_BASE_URL, PROD_BASE_URL, RestClient, RestConfig};
    use crate::runtime::kill::{KillPolicy, RemoteKillOptions, remote_kill};
    use crate::runtime::lock::AccountId;
    const CONFIG_ERROR: i32 = 2;
    const NOT_FLAT: i32 = 3;
    let mut settings = match load_settings(common, paths) {
        Ok(settings) => settings,
        Err(report) => {
            eprintln!("{report}");
            return CONFIG_ERROR;
        }
    };
    settings.allow_insecure_key |= args.allow_insecure_key;
    let (Some(key_id), Some(key_file)) = (settings.key_id.clone(), settings.key_file.clone())
    else {
        return kill_embedded_desks(args, paths);
    };
    let signer = match Signer::from_key_file(key_id.clone(), &key_file, settings.allow_insecure_key)
    {
        Ok(signer) => signer,
        Err(error) => {
            eprintln!("kdesk kill: {error}");
            return CONFIG_ERROR;
        }
    };
    let base_url = match (&args.base_url, settings.environment) {
        (Some(url), _) => url.clone(),
        (None, crate::config::Environment::Demo) => DEMO_BASE_URL.to_string(),
        (None, crate::config::Environment::Prod) => PROD_BASE_URL.to_string(),
        (None, crate::config::Environment::Sim) => {
            eprintln!(
                "kdesk kill: the environment is the simulator; pass --base-url with its REST address"
            );
            return CONFIG_ERROR;
        }
    };
    let config = RestConfig {
        request_timeout: std::time::Duration::from_secs(5),
        connect_timeout: std::time::Duration::from_secs(3),
        max_attempts: 3,
        ..RestConfig::new(base_url)
    };
    let rest = match RestClient::new(config, Some(signer)) {
        Ok(rest) => rest,
        Err(error) => {
            eprintln!("kdesk kill: {error}");
            return CONFIG_ERROR;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kdesk kill: cannot start the async runtime: {error}");
            return NOT_FLAT;
        }
    };
    let account = AccountId {
        environment: settings.environment.name().to_string(),
        key_id,
        subaccount: settings.subaccount,
    };
    let options = RemoteKillOptions {
        rest,
        account: account.clone(),
        state_dir: paths.state_dir.clone(),
        // The desk's own journal, so its next start honours this halt.
        journal_path: args.journal.clone().unwrap_or_else(|| {
            paths
                .state_dir
                .join(format!("journal-{}.sqlite", account.slug()))
        }),
        reason: args.reason.clone(),
        policy: KillPolicy {
            max_sweeps: args.max_sweeps.max(1),
            ..KillPolicy::default()
        },
        desk_timeout: std::time::Duration::from_secs(2),
    };
    let outcome = runtime.block_on(remote_kill(options));
    if args.json {
        match serde_json::to_string_pretty(&outcome) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("kdesk kill: report: {error}"),
        }
    }
    println!("{}", outcome.report.summary());
    match &outcome.desk {
        crate::runtime::kill::DeskContact::NotRunning => println!("desk: none running"),
        crate::runtime::kill::DeskContact::Told { reply } => {
            println!("desk: told ({}: {})", reply.state, reply.message)
        }
        crate::runtime::kill::DeskContact::NoAnswer { error } => {
            println!("desk: holds the lock but did not answer ({error})")
        }
    }
    for error in &outcome.journal_errors {
        eprintln!("kdesk kill: {error}");
    }
    if outcome.report.is_flat() {
        0
    } else {
        NOT_FLAT
    }
}

/// `kdesk kill` with no key configured: tell every desk running on the embedded simulator
/// (`kdesk` with no key; it holds a lock under `<state dir>/sim`) to halt, and wait until each
/// reports flat. Exit 0 when all are flat, 3 when one is not, 2 when none is running.
fn kill_embedded_desks(args: &KillArgs, paths: &Paths) -> i32 {
    use crate::runtime::kill::{kill_desk_at, running_desks};
    let dir = crate::tui::launch::embedded_state_dir(paths);
    let sockets = running_desks(&dir);
    if sockets.is_empty() {
        eprintln!(
            "kdesk kill: no key is configured and no desk on the embedded simulator is running (none holds a lock in {}); to kill a desk on demo or prod, set key_id and key_file in the config (or KALSHI_KEY_ID / KALSHI_KEY_FILE)",
            dir.display()
        );
        return 2;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kdesk kill: cannot start the async runtime: {error}");
            return 3;
        }
    };
    let patience = std::time::Duration::from_secs(30);
    let outcomes = runtime.block_on(futures_util::future::join_all(
        sockets
            .iter()
            .map(|socket| kill_desk_at(socket, &args.reason, patience)),
    ));
    if args.json {
        match serde_json::to_string_pretty(&outcomes) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("kdesk kill: report: {error}"),
        }
    }
    for outcome in &outcomes {
        match &outcome.reply {
            Ok(reply) => println!(
                "desk on the embedded simulator ({}): {} ({})",
                outcome.socket.display(),
                if outcome.flat { "FLAT" } else { "NOT FLAT" },
                reply.message
            ),
            Err(error) => println!(
                "desk on the embedded simulator ({}): did not answer ({error})",
                outcome.socket.display()
            ),
        }
    }
    if outcomes.iter().all(|outcome| outcome.flat) {
        0
    } else {
        3
    }
}

/// The desks' journals (`journal-<account>.sqlite` in the state dir and in its `sim` folder
/// for the embedded simulator), the most recently written first.
pub fn desk_journals(paths: &Paths) -> Vec<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for dir in [paths.state_dir.clone(), paths.state_dir.join("sim")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("journal-") && name.ends_with(".sqlite") {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                found.push((modified, entry.path()));
            }
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    found.into_iter().map(|(_, path)| path).collect()
}

fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Journal days are counted in New York time, like Kalshi's trading day; the offset of "now" is
/// close enough for grouping a summary.
fn new_york_offset_ms() -> i64 {
    use chrono::Offset as _;
    let now = crate::runtime::clock::wall_ms();
    chrono::DateTime::from_timestamp_millis(now)
        .map(|t| {
            t.with_timezone(&chrono_tz::America::New_York)
                .offset()
                .fix()
                .local_minus_utc() as i64
                * 1000
        })
        .unwrap_or(0)
}
