//! End-to-end over loopback: a flood server in a child process (this same binary, run with
//! `--flood-server`) speaks Kalshi's websocket frames — `subscribed`, one `orderbook_snapshot`
//! per market, then `orderbook_delta`s with consecutive `seq` and `ts_ms` stamped at send time,
//! as fast as it can write them. In this process `kalshi::ws::WsClient` (signed upgrade,
//! sequence checks, bounded queue) receives them and the consumer applies every book update to
//! `core::book::Books`. Reported: applied deltas per second, and the lag from `ts_ms` to
//! applied (ms): under the flood (socket buffers full, so mostly queueing) and in a second,
//! paced run at 100,000 msg/s.
//!
//! The simulator has no flood mode; this driver stands in for it (bench-only).
//!
//! `cargo bench --bench e2e_ws [-- DELTAS MARKETS]` (flood defaults 1,000,000 and 50).

#[path = "common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use kalshi_desk::core::book::{ApplyOutcome, BookSide, Books};
use kalshi_desk::core::market::Ticker;
use kalshi_desk::kalshi::auth::Signer;
use kalshi_desk::kalshi::wire::OutcomeSide;
use kalshi_desk::kalshi::ws::{BookUpdate, Channel, MarketEvent, WS_PATH, WsClient, WsConfig};
use kalshi_desk::runtime::clock;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use common::{Bar, result};

fn ticker(i: usize) -> String {
    format!("KXFLOOD-26NOV-M{i:04}")
}

// ---------------------------------------------------------------------------------------------
// The flood server (child process).

fn snapshot_frame(sid: u64, seq: u64, market: usize) -> String {
    format!(
        "{{\"type\":\"orderbook_snapshot\",\"sid\":{sid},\"seq\":{seq},\"msg\":{{\"market_ticker\":\"{}\",\"market_id\":\"00000000-0000-4000-8000-{market:012}\",\"yes_dollars_fp\":[[\"0.3000\",\"100.00\"],[\"0.3500\",\"100.00\"],[\"0.4000\",\"100.00\"]],\"no_dollars_fp\":[[\"0.4500\",\"100.00\"],[\"0.5000\",\"100.00\"]]}}}}",
        ticker(market)
    )
}

/// Delta `k` of the flood: per market, +1 then −1 at the same YES price, so books never go
/// negative and never cross.
fn delta_frame(out: &mut String, sid: u64, seq: u64, k: u64, markets: u64, ts_ms: i64) {
    let market = (k % markets) as usize;
    let round = k / markets;
    let sign = if round.is_multiple_of(2) { "" } else { "-" };
    let cents = 30 + (round / 2) % 10;
    out.clear();
    let _ = write!(
        out,
        "{{\"type\":\"orderbook_delta\",\"sid\":{sid},\"seq\":{seq},\"msg\":{{\"market_ticker\":\"{}\",\"market_id\":\"00000000-0000-4000-8000-{market:012}\",\"price_dollars\":\"0.{cents:02}00\",\"delta_fp\":\"{sign}1.00\",\"side\":\"yes\",\"ts_ms\":{ts_ms}}}}}",
        ticker(market)
    );
}

/// `rate` 0 floods; otherwise deltas go out at about `rate` per second (in bursts of 100).
async fn flood_server(deltas: u64, markets: u64, rate: u64) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("PORT {}", listener.local_addr()?.port());
    let (stream, _) = listener.accept().await?;
    stream.set_nodelay(true)?;
    let socket = tokio_tungstenite::accept_async(stream).await?;
    let (mut sink, mut source) = socket.split();
    // Wait for the orderbook subscription.
    let id = loop {
        let Some(message) = source.next().await else {
            anyhow::bail!("the client left before subscribing");
        };
        if let Message::Text(text) = message? {
            let command: serde_json::Value = serde_json::from_str(text.as_str())?;
            if command["cmd"] == "subscribe" {
                break command["id"].as_u64().unwrap_or(0);
            }
        }
    };
    // Keep reading (pings are answered on the next write); resync requests are not expected.
    let reader = tokio::spawn(async move {
        let mut commands = 0u64;
        while let Some(Ok(message)) = source.next().await {
            if matches!(message, Message::Text(_)) {
                commands += 1;
            }
        }
        commands
    });
    let sid = 1;
    sink.send(Message::text(format!(
        "{{\"type\":\"subscribed\",\"id\":{id},\"msg\":{{\"channel\":\"orderbook_delta\",\"sid\":{sid}}}}}"
    )))
    .await?;
    let mut seq = 0;
    for market in 0..markets as usize {
        seq += 1;
        sink.feed(Message::text(snapshot_frame(sid, seq, market)))
            .await?;
    }
    sink.flush().await?;
    let started = clock::instant();
    let mut text = String::with_capacity(256);
    for k in 0..deltas {
        seq += 1;
        delta_frame(&mut text, sid, seq, k, markets, clock::wall_ms());
        sink.feed(Message::text(text.as_str())).await?;
        if rate > 0 && k % 100 == 99 {
            sink.flush().await?;
            let due = started + Duration::from_secs_f64((k + 1) as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
        } else if k % 64 == 63 {
            sink.flush().await?;
        }
    }
    sink.flush().await?;
    let elapsed = started.elapsed();
    println!("SENT {deltas} {}", elapsed.as_secs_f64());
    // Stay until the client hangs up.
    let commands = reader.await.unwrap_or(0);
    println!("COMMANDS {commands}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The client side (this process).

fn signer() -> anyhow::Result<Signer> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys/ed25519-pkcs8.pem");
    let pem = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    Ok(Signer::from_pem("bench-key", &pem, "ed25519-pkcs8.pem")?)
}

struct Received {
    applied: u64,
    not_applied: u64,
    snapshots: u64,
    dropped_events: u64,
    elapsed: Duration,
    lag_ms: Histogram<u64>,
}

async fn client(port: u16, deltas: u64, markets: usize) -> anyhow::Result<(Received, WsClient)> {
    let mut config = WsConfig::new(format!("ws://127.0.0.1:{port}{WS_PATH}"), signer()?);
    config.markets = (0..markets)
        .map(|i| Ticker::from(ticker(i).as_str()))
        .collect();
    config.channels = vec![Channel::OrderbookDelta];
    config.orderbook_batch_size = markets;
    config.use_yes_price = false;
    config.jitter_seed = Some(1);
    let mut ws = WsClient::spawn(config);
    let mut books = Books::new();
    let mut received = Received {
        applied: 0,
        not_applied: 0,
        snapshots: 0,
        dropped_events: 0,
        elapsed: Duration::ZERO,
        lag_ms: Histogram::new(3)?,
    };
    let mut first = None;
    let patience = Duration::from_secs(5);
    while received.applied + received.not_applied < deltas {
        let event = match tokio::time::timeout(patience, ws.market.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => anyhow::bail!("the websocket client stopped"),
            // Deltas held back for a resync the flood server never answers: stop counting.
            Err(_) => break,
        };
        match event {
            MarketEvent::Book {
                convention,
                update: BookUpdate::Delta(delta),
                ..
            } => {
                let started = *first.get_or_insert_with(clock::instant);
                let side = match delta.side {
                    OutcomeSide::Yes => BookSide::Yes,
                    OutcomeSide::No => BookSide::No,
                };
                let outcome = books.apply_delta(
                    delta.market_ticker.as_str(),
                    side,
                    delta.price_dollars,
                    delta.delta_fp,
                    convention,
                    clock::mono_ns(),
                );
                if outcome == ApplyOutcome::Applied {
                    received.applied += 1;
                } else {
                    received.not_applied += 1;
                }
                if let Some(ts_ms) = delta.ts_ms {
                    let lag = clock::wall_ms().saturating_sub(ts_ms).max(0) as u64;
                    received.lag_ms.record(lag)?;
                }
                received.elapsed = started.elapsed();
            }
            MarketEvent::Book {
                convention,
                update: BookUpdate::Snapshot(snapshot),
                ..
            } => {
                received.snapshots += 1;
                books.apply_snapshot(
                    &snapshot.market_ticker,
                    snapshot.yes_dollars_fp.iter().map(|l| (l.0, l.1)),
                    snapshot.no_dollars_fp.iter().map(|l| (l.0, l.1)),
                    convention,
                    clock::mono_ns(),
                );
            }
            MarketEvent::MarketDataDropped { .. } | MarketEvent::ResyncStarted { .. } => {
                received.dropped_events += 1;
            }
            _ => {}
        }
    }
    Ok((received, ws))
}

/// One connection's worth: the applied deltas, the client's counters, the server's send rate.
struct Session {
    received: Received,
    stats: kalshi_desk::kalshi::ws::WsStatsSnapshot,
    sent_per_second: Option<f64>,
}

fn session(
    runtime: &tokio::runtime::Runtime,
    deltas: u64,
    markets: u64,
    rate: u64,
) -> anyhow::Result<Session> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "--flood-server",
            &deltas.to_string(),
            &markets.to_string(),
            &format!("--rate={rate}"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the flood server")?;
    let stdout = child.stdout.take().context("flood server stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let port: u16 = lines
        .next()
        .context("flood server said nothing")??
        .strip_prefix("PORT ")
        .context("flood server's first line names its port")?
        .parse()?;
    let outcome = runtime.block_on(async {
        let (received, ws) = client(port, deltas, markets as usize).await?;
        let stats = ws.stats.snapshot();
        let _ = ws.handle.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), ws.task).await;
        anyhow::Ok((received, stats))
    });
    if outcome.is_err() {
        // The server may still wait for a connection that will not come.
        let _ = child.kill();
    }
    let mut sent_per_second = None;
    for line in lines.map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("SENT ") {
            let mut parts = rest.split(' ');
            let count: f64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
            let seconds: f64 = parts
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            sent_per_second = Some(count / seconds);
        }
    }
    let _ = child.wait();
    let (received, stats) = outcome?;
    Ok(Session {
        received,
        stats,
        sent_per_second,
    })
}

/// Paced run: a rate the client sustains, so the lag is the path's, not the socket buffers'.
const PACED_RATE: u64 = 100_000;
const PACED_DELTAS: u64 = 300_000;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let deltas = numbers.first().copied().unwrap_or(1_000_000);
    let markets = numbers.get(1).copied().unwrap_or(50).max(1);
    let rate = args
        .iter()
        .find_map(|a| a.strip_prefix("--rate=")?.parse().ok())
        .unwrap_or(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.iter().any(|a| a == "--flood-server") {
        return runtime.block_on(flood_server(deltas, markets, rate));
    }

    let flood = session(&runtime, deltas, markets, 0)?;
    let received = &flood.received;
    let applied_rate = received.applied as f64 / received.elapsed.as_secs_f64().max(1e-9);
    let complete = received.applied == deltas;
    result(
        "e2e loopback WS: applied (flood)",
        applied_rate,
        "msg/s",
        Bar::AtLeast(200_000.0),
        &format!(
            "{} of {deltas} deltas applied over {markets} markets in {:.2} s{}; {} dropped by the client's queue; lag p50 {} ms, p99 {} ms (socket buffers full)",
            received.applied,
            received.elapsed.as_secs_f64(),
            if complete { "" } else { " (INCOMPLETE)" },
            flood.stats.market_dropped,
            received.lag_ms.value_at_quantile(0.5),
            received.lag_ms.value_at_quantile(0.99),
        ),
    );
    if let Some(sent) = flood.sent_per_second {
        result(
            "e2e loopback WS: server send rate (peer)",
            sent,
            "msg/s",
            Bar::Info,
            "flood server, child process, same run",
        );
    }

    let paced = session(&runtime, PACED_DELTAS, markets, PACED_RATE)?;
    let lag = &paced.received.lag_ms;
    result(
        "e2e loopback WS: lag ts_ms -> applied p99 (paced)",
        lag.value_at_quantile(0.99) as f64,
        "ms",
        Bar::Info,
        &format!(
            "{} deltas at {PACED_RATE} msg/s; p50 {} ms, max {} ms (ts_ms has 1 ms resolution)",
            paced.received.applied,
            lag.value_at_quantile(0.5),
            lag.max()
        ),
    );
    Ok(())
}
