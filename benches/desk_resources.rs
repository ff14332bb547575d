//! The live desk's footprint, each phase in a fresh process (this binary again), with the
//! simulator in a child process of its own so only the desk's CPU and memory are counted:
//! - idle: a desk (`runtime::desk`, 100 watched markets, simulator flow off) plus the screen's
//!   once-a-second redraw of its real snapshot into a 200x60 `TestBackend` (what `tui::run`
//!   does on its tick); CPU time (utime + stime, /proc/self/stat) over 60 s after a warm-up;
//! - memory: a desk watching 1,000 markets while the simulator's traders trade and a bench
//!   member rests and cancels orders across all of them, 30 s; peak RSS (`VmHWM`,
//!   /proc/self/status). The simulator's catalogue is about 49 open markets: the rest are
//!   copies of one of them listed by the bench (`common::open_markets`).
//!
//! `cargo bench --bench desk_resources [-- idle|rss]`.

#[path = "common/mod.rs"]
mod common;

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::{Count, Money, Price};
use kalshi_desk::kalshi::ratelimit::{LimiterConfig, Tier};
use kalshi_desk::kalshi::wire::{BookSide, CreateOrderV2Request};
use kalshi_desk::runtime::clock;
use kalshi_desk::runtime::desk::{self, DeskConfig};
use kalshi_desk::sim::server::{SimConfig, SimHandle, SimServer};
use kalshi_desk::tui::app::{AppConfig, AppState, Msg, update};
use kalshi_desk::tui::keymap::Keymap;
use kalshi_desk::tui::theme::Theme;
use kalshi_desk::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde::{Deserialize, Serialize};

use common::{Bar, result};

const IDLE_MARKETS: usize = 100;
const IDLE_SECONDS: u64 = 60;
const RSS_MARKETS: usize = 1_000;
const RSS_SECONDS: u64 = 30;

/// What the simulator child tells its parent.
#[derive(Serialize, Deserialize)]
struct SimInfo {
    rest: String,
    ws: String,
    key_id: String,
    key_file: String,
    tickers: Vec<String>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Child: a simulator with `markets` markets; runs until its stdin closes.
fn sim_child(markets: usize, flow: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    runtime()?.block_on(async {
        let sim = SimServer::start(SimConfig {
            key_dir: dir.path().join("keys"),
            markets,
            flow,
            rate_limits: None,
            ..SimConfig::default()
        })
        .await?;
        let tickers = common::open_markets(&sim, markets).await?;
        let flow_markets = tickers.clone();
        let tickers: Vec<String> = tickers.iter().map(|t| t.to_string()).collect();
        let info = SimInfo {
            rest: sim.rest_base_url.clone(),
            ws: sim.ws_url.clone(),
            key_id: sim.key_id.clone(),
            key_file: sim.key_file.display().to_string(),
            tickers,
        };
        println!("{}", serde_json::to_string(&info)?);
        // The parent closes our stdin when it is done.
        let stop = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        });
        tokio::pin!(stop);
        if flow {
            let mut book_flow = BookFlow::new(&sim, flow_markets);
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                tokio::select! {
                    _ = &mut stop => break,
                    _ = tick.tick() => book_flow.step(&sim)?,
                }
            }
        } else {
            let _ = stop.await;
        }
        sim.shutdown().await;
        anyhow::Ok(())
    })
}

/// Book activity on every listed market (the simulator's own traders only trade its
/// catalogue): every 10 ms a member rests 1–5 contracts at a random low YES bid in 20 markets
/// and cancels its oldest orders beyond 2,000, so each step sends about 40 deltas.
struct BookFlow {
    markets: Vec<Ticker>,
    resting: std::collections::VecDeque<String>,
    state: u64,
}

const FLOW_USER: &str = "bench-flow";

impl BookFlow {
    fn new(sim: &SimHandle, markets: Vec<Ticker>) -> BookFlow {
        sim.exchange_write(|exchange| {
            exchange.open_account(FLOW_USER, Money::from_cents(10_000_000_000));
        });
        BookFlow {
            markets,
            resting: std::collections::VecDeque::new(),
            state: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// xorshift64: seeded, no dependency.
    fn next(&mut self, below: u64) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state % below.max(1)
    }

    fn step(&mut self, sim: &SimHandle) -> anyhow::Result<()> {
        let mut requests = Vec::new();
        for _ in 0..20 {
            let pick = self.next(self.markets.len() as u64) as usize;
            let ticker = self.markets[pick].clone();
            let cents = 1 + self.next(30) as i64;
            let count = 1 + self.next(5) as i64;
            requests.push(CreateOrderV2Request::limit(
                ticker,
                BookSide::Bid,
                Price::from_cents(cents).unwrap_or(Price::ZERO),
                Count::from_contracts(count),
            ));
        }
        let now_ms = clock::wall_ms();
        let placed: Vec<String> = sim.exchange_write(|exchange| {
            requests
                .iter()
                .filter_map(|request| exchange.create_order(FLOW_USER, request, now_ms).ok())
                .map(|answer| answer.order_id)
                .collect()
        });
        self.resting.extend(placed);
        let surplus = self.resting.len().saturating_sub(2_000);
        let cancels: Vec<String> = self.resting.drain(..surplus).collect();
        sim.exchange_write(|exchange| {
            for order_id in &cancels {
                let _ = exchange.cancel_order(FLOW_USER, order_id, None, now_ms);
            }
        });
        Ok(())
    }
}

struct SimChild {
    child: std::process::Child,
    info: SimInfo,
}

impl SimChild {
    fn start(markets: usize, flow: bool) -> anyhow::Result<SimChild> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([
                "--sim-child",
                &markets.to_string(),
                if flow { "flow" } else { "quiet" },
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the simulator")?;
        let stdout = child.stdout.take().context("simulator stdout")?;
        let line = std::io::BufReader::new(stdout)
            .lines()
            .next()
            .context("the simulator said nothing")??;
        let info: SimInfo = serde_json::from_str(&line).context("the simulator's first line")?;
        Ok(SimChild { child, info })
    }

    fn desk_config(&self, markets: usize, state_dir: &std::path::Path) -> DeskConfig {
        let mut config = DeskConfig::new(
            "sim",
            &self.info.rest,
            &self.info.ws,
            &self.info.key_id,
            self.info.key_file.clone().into(),
        );
        config.watchlist = self
            .info
            .tickers
            .iter()
            .take(markets)
            .map(|t| Ticker::from(t.as_str()))
            .collect();
        config.state_dir = Some(state_dir.to_path_buf());
        config.limiter = LimiterConfig::for_tier(Tier::Prestige);
        config
    }
}

impl Drop for SimChild {
    fn drop(&mut self) {
        // Closing stdin asks the simulator to stop; wait for it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Phase child: the idle desk. Prints one RESULT row.
fn idle_phase() -> anyhow::Result<()> {
    let sim = SimChild::start(IDLE_MARKETS, false)?;
    anyhow::ensure!(
        sim.info.tickers.len() >= IDLE_MARKETS,
        "too few open markets"
    );
    let dir = tempfile::tempdir()?;
    let config = sim.desk_config(IDLE_MARKETS, dir.path());
    let (cpu, seconds) = runtime()?.block_on(async {
        let desk = desk::start(config).await?;
        let theme = Theme::builtin_default();
        let mut state = AppState::new(AppConfig::default(), Keymap::builtin());
        let mut terminal = Terminal::new(TestBackend::new(200, 60))?;
        update(
            &mut state,
            Msg::Resize {
                width: 200,
                height: 60,
            },
            clock::wall_ms(),
        );
        let mut redraw = tokio::time::interval(Duration::from_secs(1));
        let mut redraw_once = |state: &mut AppState| -> anyhow::Result<()> {
            update(
                state,
                Msg::Snapshot(Arc::clone(&desk.snapshot())),
                clock::wall_ms(),
            );
            update(state, Msg::Tick, clock::wall_ms());
            terminal.draw(|f| views::render(f, state, &theme))?;
            Ok(())
        };
        // Warm-up: books arrive, the screen fills.
        for _ in 0..5 {
            redraw.tick().await;
            redraw_once(&mut state)?;
        }
        let cpu_before = common::cpu_seconds().context("/proc/self/stat")?;
        let started = clock::instant();
        for _ in 0..IDLE_SECONDS {
            redraw.tick().await;
            redraw_once(&mut state)?;
        }
        let seconds = started.elapsed().as_secs_f64();
        let cpu = common::cpu_seconds().context("/proc/self/stat")? - cpu_before;
        let markets = desk.snapshot().markets.len();
        anyhow::ensure!(markets >= IDLE_MARKETS, "the desk shows {markets} markets");
        desk.shutdown().await;
        anyhow::Ok((cpu, seconds))
    })?;
    result(
        "desk idle CPU",
        100.0 * cpu / seconds,
        "% of a core",
        Bar::Below(1.0),
        &format!(
            "{cpu:.2} s CPU over {seconds:.0} s: desk runtime on {IDLE_MARKETS} markets + 1 Hz redraw at 200x60, simulator quiet (own process)"
        ),
    );
    Ok(())
}

/// Phase child: 1,000 markets under flow. Prints one RESULT row.
fn rss_phase() -> anyhow::Result<()> {
    let sim = SimChild::start(RSS_MARKETS, true)?;
    let markets = sim.info.tickers.len().min(RSS_MARKETS);
    anyhow::ensure!(markets == RSS_MARKETS, "only {markets} open markets");
    let dir = tempfile::tempdir()?;
    let config = sim.desk_config(RSS_MARKETS, dir.path());
    let (frames, books) = runtime()?.block_on(async {
        let desk = desk::start(config).await?;
        tokio::time::sleep(Duration::from_secs(RSS_SECONDS)).await;
        let snapshot = desk.snapshot();
        let frames = snapshot.health.ws_frames;
        let books = snapshot
            .markets
            .iter()
            .filter(|m| m.book_age_ms.is_some())
            .count();
        desk.shutdown().await;
        anyhow::Ok((frames, books))
    })?;
    let peak_kb = common::status_kb("VmHWM").context("VmHWM in /proc/self/status")?;
    result(
        "desk peak RSS, 1,000 markets under flow",
        peak_kb as f64 / 1024.0,
        "MB",
        Bar::Below(50.0),
        &format!(
            "{books} books live, {frames} WS frames in {RSS_SECONDS} s; simulator in its own process"
        ),
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--sim-child") {
        let markets = args.get(at + 1).and_then(|m| m.parse().ok()).unwrap_or(100);
        let flow = args.get(at + 2).is_some_and(|f| f == "flow");
        return sim_child(markets, flow);
    }
    if args.iter().any(|a| a == "idle") {
        return idle_phase();
    }
    if args.iter().any(|a| a == "rss") {
        return rss_phase();
    }
    // Both phases, each in a fresh process so the peak RSS is the desk's alone.
    for phase in ["rss", "idle"] {
        let status = Command::new(std::env::current_exe()?).arg(phase).status()?;
        anyhow::ensure!(status.success(), "the {phase} phase failed");
    }
    Ok(())
}
