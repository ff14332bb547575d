//! Backtest replay speed on the sample tape: tape entries per second through decode, the
//! engine, the strategies and the fill model (reading and decompressing the file excluded).
//!
//! `cargo bench --bench replay_speed [-- TAPE CONFIG]` (defaults: the sample tape and
//! testdata/backtest.toml). Prints messages/s over several runs; nothing is asserted. The peer
//! printed beside it is the feed decoder alone (`replay::feed::FeedDecoder` over the same
//! entries: decode + sequence checks, no engine).

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use kalshi_desk::replay::backtest::{self, BacktestConfig};
use kalshi_desk::replay::config;
use kalshi_desk::replay::feed::FeedDecoder;
use kalshi_desk::runtime::clock;
use kalshi_desk::store::tape::read_tape;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tape_path = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("testdata/tapes/sim-seed7-0001.jsonl.zst"));
    let config_path = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("testdata/backtest.toml"));
    let tape = read_tape(std::slice::from_ref(&tape_path))?;
    let settings = config::load(&config_path)?;
    let config = BacktestConfig::from_settings(&settings);
    let frames = tape.entries.len() as f64;
    let mut best = Duration::MAX;
    let mut total = Duration::ZERO;
    let runs = 5;
    let mut fills = 0;
    for _ in 0..runs {
        let started = clock::instant();
        let report = backtest::run(&tape, &config, &mut |_, _| {});
        let elapsed = started.elapsed();
        fills = report.whole.fills;
        best = best.min(elapsed);
        total += elapsed;
    }
    let mean = total / runs;
    println!(
        "replay_speed: {} entries ({} markets, {} strategies, {} fills) from {}",
        tape.entries.len(),
        tape.header.markets.len(),
        config.strategies.len(),
        fills,
        tape_path.display()
    );
    println!(
        "replay_speed: best {:.0} msg/s ({:?}), mean {:.0} msg/s over {runs} runs",
        frames / best.as_secs_f64(),
        best,
        frames / mean.as_secs_f64()
    );
    let mut decode_best = Duration::MAX;
    for _ in 0..runs {
        let started = clock::instant();
        let mut decoder = FeedDecoder::new();
        for entry in &tape.entries {
            std::hint::black_box(decoder.decode(entry));
        }
        decode_best = decode_best.min(started.elapsed());
    }
    common::result(
        "backtest replay (sample tape)",
        frames / best.as_secs_f64(),
        "msg/s",
        common::Bar::AtLeast(1_000_000.0),
        &format!(
            "{} entries, {} markets, {} maker strategies, {fills} fills; best of {runs}",
            tape.entries.len(),
            tape.header.markets.len(),
            config.strategies.len()
        ),
    );
    // What limits it: the engine's timer. Every virtual 100 ms `Input::Tick` refreshes the pause
    // reasons and runs the strategy of every market; the sample tape has ~107 entries per second
    // of tape time, so ticks outweigh frames. The same replay with a 1 s tick shows the share.
    let mut slow_tick = config.clone();
    slow_tick.tick_ms = 1_000;
    let mut slow_best = Duration::MAX;
    for _ in 0..runs {
        let started = clock::instant();
        std::hint::black_box(backtest::run(&tape, &slow_tick, &mut |_, _| {}));
        slow_best = slow_best.min(started.elapsed());
    }
    common::result(
        "backtest replay, 1 s engine tick (peer)",
        frames / slow_best.as_secs_f64(),
        "msg/s",
        common::Bar::Info,
        &format!("same tape; default tick is {} ms", config.tick_ms),
    );
    common::result(
        "backtest replay: feed decoder only (peer)",
        frames / decode_best.as_secs_f64(),
        "msg/s",
        common::Bar::Info,
        "same entries, no engine",
    );
    Ok(())
}
