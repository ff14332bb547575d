//! `kdesk record` and `kdesk backtest`: arguments and the glue between the command line, the
//! config, the simulator or exchange, and the replay modules. (`kdesk paper` is the desk in
//! paper mode: see `runtime::paper_executor`.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::config::{Environment, Settings};
use crate::core::market::Ticker;
use crate::core::num::Money;
use crate::kalshi::auth::Signer;
use crate::kalshi::rest::{RestClient, RestConfig};
use crate::replay::backtest::{self, BacktestConfig};
use crate::replay::config::{self as replay_config, ReplaySettings};
use crate::replay::record::{self, RecordPlan};
use crate::sim::server::{SimConfig, SimHandle, SimServer};
use crate::store::tape::{TapeHeader, TapeWriter, read_tape};

/// Where market data comes from.
#[derive(Debug, Args, Clone)]
pub struct SourceArgs {
    /// Use an in-process simulator (seeded, with synthetic traders) instead of the config's
    /// environment.
    #[arg(long)]
    pub sim: bool,
    /// Simulator seed (with --sim).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Simulator markets (with --sim).
    #[arg(long, default_value_t = 12)]
    pub sim_markets: usize,
    /// Markets to follow (comma-separated tickers); default: the config's strategies and
    /// watchlist, or every open market.
    #[arg(long, value_delimiter = ',')]
    pub markets: Vec<String>,
    /// Override the REST base URL (`…/trade-api/v2`).
    #[arg(long, value_name = "URL")]
    pub rest_url: Option<String>,
    /// Override the websocket URL (`…/trade-api/ws/v2`).
    #[arg(long, value_name = "URL")]
    pub ws_url: Option<String>,
    /// Accept a key file other users can read.
    #[arg(long)]
    pub allow_insecure_key: bool,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Directory the tape files go to.
    #[arg(long, value_name = "DIR", default_value = "tapes")]
    pub out: PathBuf,
    /// File name stem (`<stem>-0001.jsonl.zst`, …).
    #[arg(long, default_value = "tape")]
    pub name: String,
    /// Rotate files after this many MB of uncompressed frames.
    #[arg(long, default_value_t = 256)]
    pub max_mb: u64,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long)]
    pub seconds: Option<u64>,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Tape file(s), in order (rotated files of one recording).
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub tape: Vec<PathBuf>,
    /// Directory for report.txt, equity.csv, markets.csv and chart.svg.
    #[arg(long, value_name = "DIR", default_value = "backtest-out")]
    pub out: PathBuf,
    /// One-way order latency, ms.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: i64,
    /// Starting cash, dollars.
    #[arg(long, default_value = "10000")]
    pub cash: String,
    /// Share of the tape (by time) that is in-sample, percent.
    #[arg(long, default_value_t = 70, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub in_sample: u8,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn load_settings(config: Option<&Path>) -> anyhow::Result<(Settings, ReplaySettings)> {
    let settings = match config {
        Some(path) => Settings::load(path, true).map_err(|diagnostics| {
            anyhow::anyhow!(
                "{}",
                diagnostics
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?,
        None => Settings::default(),
    };
    let replay = replay_config::from_settings(&settings)?;
    Ok((settings, replay))
}

fn parse_cash(text: &str) -> anyhow::Result<Money> {
    Money::parse(text).with_context(|| format!("--cash {text:?} is not a dollar amount"))
}

/// A connected market-data source: URLs, a signer, and the simulator if we started one.
struct Source {
    rest_url: String,
    ws_url: String,
    signer: Signer,
    environment: String,
    _sim: Option<SimHandle>,
}

async fn open_source(args: &SourceArgs, settings: &Settings) -> anyhow::Result<Source> {
    if args.sim || (settings.environment == Environment::Sim && args.ws_url.is_none()) {
        let key_dir = std::env::temp_dir().join(format!("kdesk-replay-sim-keys-{}", args.seed));
        let sim = SimServer::start(SimConfig {
            seed: args.seed,
            markets: args.sim_markets,
            key_dir,
            ..SimConfig::default()
        })
        .await
        .context("starting the simulator")?;
        let signer = Signer::from_key_file(sim.key_id.clone(), &sim.key_file, false)?;
        return Ok(Source {
            rest_url: sim.rest_base_url.clone(),
            ws_url: sim.ws_url.clone(),
            signer,
            environment: "sim".into(),
            _sim: Some(sim),
        });
    }
    let (rest_default, ws_default) = match settings.environment {
        Environment::Prod => (
            "https://external-api.kalshi.com/trade-api/v2",
            "wss://external-api-ws.kalshi.com/trade-api/ws/v2",
        ),
        _ => (
            "https://external-api.demo.kalshi.co/trade-api/v2",
            "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
        ),
    };
    let key_id = settings
        .key_id
        .clone()
        .context("no key_id (config `key_id` or KALSHI_KEY_ID)")?;
    let key_file = settings
        .key_file
        .clone()
        .context("no key_file (config `key_file` or KALSHI_KEY_FILE)")?;
    let signer = Signer::from_key_file(
        key_id,
        &key_file,
        settings.allow_insecure_key || args.allow_insecure_key,
    )?;
    Ok(Source {
        rest_url: args.rest_url.clone().unwrap_or_else(|| rest_default.into()),
        ws_url: args.ws_url.clone().unwrap_or_else(|| ws_default.into()),
        signer,
        environment: settings.environment.name().into(),
        _sim: None,
    })
}

/// The markets to follow and a tape header describing them (metadata from REST).
async fn describe_markets(
    source: &Source,
    args: &SourceArgs,
    settings: &Settings,
    replay: &ReplaySettings,
) -> anyhow::Result<(Vec<Ticker>, TapeHeader)> {
    let rest = RestClient::new(
        RestConfig::new(source.rest_url.clone()),
        Some(source.signer.clone()),
    )?;
    let mut wanted: Vec<String> = args.markets.clone();
    if wanted.is_empty() {
        wanted.extend(
            replay
                .strategies
                .iter()
                .map(|(t, _)| t.as_str().to_string()),
        );
        wanted.extend(settings.watchlist.iter().cloned());
    }
    wanted.sort();
    wanted.dedup();
    // `kdesk record` subscribes with Kalshi's default pricing of NO levels.
    let (tickers, header) = record::describe(&rest, &wanted, &source.environment, false).await?;
    Ok((tickers, header))
}

async fn ctrl_c_or(seconds: Option<u64>) {
    match seconds {
        Some(s) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = tokio::time::sleep(Duration::from_secs(s)) => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub fn record_command(args: &RecordArgs, config: Option<&Path>) -> anyhow::Result<i32> {
    let (settings, replay) = load_settings(config)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let source = open_source(&args.source, &settings).await?;
        let (markets, header) = describe_markets(&source, &args.source, &settings, &replay).await?;
        eprintln!(
            "recording {} markets from {} into {}",
            markets.len(),
            source.ws_url,
            args.out.display()
        );
        let mut writer = TapeWriter::create(
            &args.out,
            &args.name,
            header,
            args.max_mb.saturating_mul(1 << 20),
        )?;
        let plan = RecordPlan {
            ws_url: source.ws_url.clone(),
            markets,
            duration: args.seconds.map(Duration::from_secs),
        };
        let stats = record::record(&plan, &source.signer, &mut writer, ctrl_c_or(None)).await?;
        let files = writer.finish()?;
        eprintln!(
            "recorded {} frames, {} gaps, {} connections",
            stats.frames, stats.gaps, stats.connections
        );
        for file in files {
            println!("{}", file.display());
        }
        Ok(0)
    })
}

pub fn backtest_command(args: &BacktestArgs, config: Option<&Path>) -> anyhow::Result<i32> {
    let (_, replay) = load_settings(config)?;
    let tape = read_tape(&args.tape)?;
    let mut backtest_config = BacktestConfig::from_settings(&replay);
    backtest_config.latency_ms = args.latency_ms;
    backtest_config.starting_cash = parse_cash(&args.cash)?;
    backtest_config.in_sample_percent = args.in_sample;
    if backtest_config.strategies.is_empty() {
        eprintln!("note: the config sets no strategies: nothing will trade");
    }
    let show = !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut last_percent = usize::MAX;
    let report = backtest::run(&tape, &backtest_config, &mut |done, total| {
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        if show && percent != last_percent {
            last_percent = percent;
            let bar = "#".repeat(percent / 4);
            eprint!("\r[{bar:<25}] {percent:>3}%  {done}/{total} entries");
        }
    });
    if show {
        eprintln!();
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let text = report.to_text();
    for (name, body) in [
        ("report.txt", text.as_str()),
        ("equity.csv", report.equity_csv().as_str()),
        ("markets.csv", report.markets_csv().as_str()),
        ("chart.svg", report.chart_svg().as_str()),
    ] {
        let path = args.out.join(name);
        std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
    }
    print!("{text}");
    println!(
        "\nwrote {}/{{report.txt,equity.csv,markets.csv,chart.svg}}",
        args.out.display()
    );
    Ok(0)
}
