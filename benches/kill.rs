//! Kill switch, through the desk's own hotkey path: `runtime::desk::DeskHandle::kill` (what the
//! TUI's kill key and the control socket call) on a live desk connected to the simulator, with
//! 500 orders resting across 50 markets. A small TCP proxy between the desk's REST client and
//! the simulator stamps the moment the cancel-all request's bytes reach the wire. Measured per
//! run, from the instant the desk's `HaltFlag` went up:
//! - keypress → cancel-all on the wire (the proxy sees `DELETE …/portfolio/events/orders`);
//! - keypress → flat at the simulator (its order book for the account holds nothing resting);
//!   the desk's own confirmed time to flat (after reading the exchange back) is in the note.
//!
//! `cargo bench --bench kill [-- RUNS]` (default 7); medians are reported.

#[path = "common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::{Count, Money, Price};
use kalshi_desk::kalshi::ratelimit::{LimiterConfig, Tier};
use kalshi_desk::kalshi::wire::{BookSide, CreateOrderV2Request};
use kalshi_desk::runtime::clock;
use kalshi_desk::runtime::desk::{self, DeskConfig, DeskTiming, KillPhase};
use kalshi_desk::sim::server::{SimConfig, SimHandle, SimServer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use common::{Bar, result};

const MARKETS: usize = 50;
const ORDERS: usize = 500;
/// The request line of `DELETE /portfolio/events/orders` (cancel-all; batch cancels have a
/// longer path).
const CANCEL_ALL: &[u8] = b"DELETE /trade-api/v2/portfolio/events/orders";

/// Forwards every connection to `target`; stamps the first cancel-all request sent upstream.
async fn start_proxy(
    target: SocketAddr,
    cancel_all_ns: Arc<AtomicU64>,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let stamp = cancel_all_ns.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let upstream = async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let n = match client_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &buffer[..n];
                        if let Some(at) = chunk
                            .windows(CANCEL_ALL.len())
                            .position(|w| w == CANCEL_ALL)
                            && matches!(chunk.get(at + CANCEL_ALL.len()), Some(b' ' | b'?'))
                        {
                            let _ = stamp.compare_exchange(
                                0,
                                clock::mono_ns(),
                                Ordering::SeqCst,
                                Ordering::SeqCst,
                            );
                        }
                        if server_write.write_all(chunk).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown().await;
                };
                let downstream = async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(upstream, downstream);
            });
        }
    });
    Ok(address)
}

fn resting_count(sim: &SimHandle) -> usize {
    let user = sim.user_id.clone();
    sim.with_exchange(|exchange| {
        exchange
            .order_records(&user)
            .filter(|o| o.is_resting())
            .count()
    })
}

/// 500 low YES bids (nothing trades against them: the simulator's flow is off).
fn rest_orders(sim: &SimHandle, tickers: &[Ticker], run: usize) -> anyhow::Result<()> {
    let user = sim.user_id.clone();
    sim.exchange_write(|exchange| {
        exchange.open_account(&user, Money::from_cents(100_000_000));
        for i in 0..ORDERS {
            let mut request = CreateOrderV2Request::limit(
                tickers[i % tickers.len()].clone(),
                BookSide::Bid,
                Price::from_cents(2 + (i / tickers.len()) as i64).unwrap_or(Price::ZERO),
                Count::from_contracts(1),
            );
            request.client_order_id = Some(format!("bench-{run}-{i}"));
            exchange
                .create_order(&user, &request, clock::wall_ms())
                .map_err(|e| anyhow::anyhow!("placing a resting order: {e:?}"))?;
        }
        anyhow::Ok(())
    })
}

struct Run {
    to_wire_ms: f64,
    to_flat_ms: f64,
    desk_confirmed_ms: Option<u64>,
}

async fn one_run(run: usize) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let sim = SimServer::start(SimConfig {
        key_dir: dir.path().join("keys"),
        flow: false,
        seed: 11 + run as u64,
        rate_limits: Some(kalshi_desk::sim::server::ratelimit::Tier::Prestige.limits()),
        ..SimConfig::default()
    })
    .await?;
    let tickers = common::open_markets(&sim, MARKETS).await?;
    rest_orders(&sim, &tickers, run)?;

    let cancel_all_ns = Arc::new(AtomicU64::new(0));
    let proxy = start_proxy(sim.local_addr, cancel_all_ns.clone()).await?;
    let rest_url = sim
        .rest_base_url
        .replace(&sim.local_addr.to_string(), &proxy.to_string());
    let mut config = DeskConfig::new(
        "sim",
        &rest_url,
        &sim.ws_url,
        &sim.key_id,
        sim.key_file.clone(),
    );
    config.watchlist = tickers.clone();
    config.state_dir = Some(dir.path().join("state"));
    config.ws_jitter_seed = Some(5);
    config.limiter = LimiterConfig::for_tier(Tier::Prestige);
    config.timing = DeskTiming {
        sweep_every_ms: 50,
        ..DeskTiming::default()
    };
    let desk = desk::start(config).await?;
    anyhow::ensure!(
        resting_count(&sim) == ORDERS,
        "the desk's start-up left {} of {ORDERS} orders resting",
        resting_count(&sim)
    );

    desk.kill("bench kill switch");
    let halted_ns = desk
        .halt_flag()
        .halted_at_mono_ns()
        .context("the halt instant")?;
    // Poll the simulator's own state (in this process, no I/O) until nothing rests.
    let deadline = clock::instant() + Duration::from_secs(10);
    let flat_ns = loop {
        if resting_count(&sim) == 0 {
            break clock::mono_ns();
        }
        anyhow::ensure!(clock::instant() < deadline, "not flat after 10 s");
        tokio::time::sleep(Duration::from_micros(200)).await;
    };
    let mut snapshots = desk.watch_snapshots();
    let confirmed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let snapshot = snapshots.borrow_and_update().clone();
            if snapshot.kill.phase == KillPhase::Flat {
                return snapshot.kill.time_to_flat_ms;
            }
            if snapshots.changed().await.is_err() {
                return None;
            }
        }
    })
    .await
    .unwrap_or(None);
    let wire_ns = cancel_all_ns.load(Ordering::SeqCst);
    anyhow::ensure!(wire_ns != 0, "no cancel-all request went through the proxy");
    desk.shutdown().await;
    sim.shutdown().await;
    Ok(Run {
        to_wire_ms: wire_ns.saturating_sub(halted_ns) as f64 / 1e6,
        to_flat_ms: flat_ns.saturating_sub(halted_ns) as f64 / 1e6,
        desk_confirmed_ms: confirmed,
    })
}

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(7);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut wire = Vec::new();
    let mut flat = Vec::new();
    let mut confirmed = Vec::new();
    for run in 0..runs {
        let r = runtime.block_on(one_run(run))?;
        wire.push(r.to_wire_ms);
        flat.push(r.to_flat_ms);
        if let Some(ms) = r.desk_confirmed_ms {
            confirmed.push(ms as f64);
        }
    }
    let spread = |samples: &[f64]| {
        let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = samples.iter().copied().fold(0.0, f64::max);
        format!("min {min:.2}, max {max:.2}")
    };
    let wire_spread = spread(&wire);
    let flat_spread = spread(&flat);
    result(
        "kill: keypress -> cancel-all on the wire",
        common::median(&mut wire),
        "ms",
        Bar::Below(5.0),
        &format!("median of {runs} runs ({wire_spread}); desk.kill() on a live desk"),
    );
    let confirmed_note = if confirmed.is_empty() {
        "the desk did not report its time to flat".to_string()
    } else {
        format!(
            "desk-confirmed (read back) median {:.0} ms",
            common::median(&mut confirmed)
        )
    };
    result(
        "kill: keypress -> flat at the simulator",
        common::median(&mut flat),
        "ms",
        Bar::Below(250.0),
        &format!(
            "{ORDERS} orders in {MARKETS} markets, median of {runs} ({flat_spread}); {confirmed_note}"
        ),
    );
    Ok(())
}
