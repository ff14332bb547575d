//! Backtest replay speed on the sample tape: tape entries per second through decode, the
//! engine, the strategies and the fill model (reading and decompressing the file excluded).
//!
//! `cargo bench --bench replay_speed [-- TAPE CONFIG]` (defaults: the sample tape and
//! testdata/backtest.toml). Prints messages/s, best of several rounds; nothing is asserted.
//! `backtest::run` decodes on one thread and runs the engine on another, so the peers printed
//! beside it are its two stages alone: the feed decoder (`replay::feed::FeedDecoder` over the
//! same entries: decode + sequence checks) and the engine stage (`Replay::apply` over entries
//! decoded beforehand), plus the whole replay with a 1 s engine tick.

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use kalshi_desk::replay::backtest::{self, BacktestConfig, Replay};
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
    // What limits it besides decoding: the engine's timer. Every virtual 100 ms `Input::Tick`
    // reaches the markets whose strategies run on time; the same replay with a 1 s tick shows
    // that share. The three are measured in turn, round after round, so a noisy neighbour on the
    // machine slows all of them alike; each figure is the best round.
    let mut slow_tick = config.clone();
    slow_tick.tick_ms = 1_000;
    let rounds = 12;
    let mut best = Duration::MAX;
    let mut total = Duration::ZERO;
    let mut slow_best = Duration::MAX;
    let mut decode_best = Duration::MAX;
    let mut engine_best = Duration::MAX;
    let mut fills = 0;
    let decoded: Vec<_> = {
        let mut decoder = FeedDecoder::for_header(&tape.header);
        tape.entries.iter().map(|e| decoder.decode(e)).collect()
    };
    for _ in 0..rounds {
        let started = clock::instant();
        let report = backtest::run(&tape, &config, &mut |_, _| {});
        let elapsed = started.elapsed();
        fills = report.whole.fills;
        best = best.min(elapsed);
        total += elapsed;

        let started = clock::instant();
        let mut decoder = FeedDecoder::new();
        for entry in &tape.entries {
            std::hint::black_box(decoder.decode(entry));
        }
        decode_best = decode_best.min(started.elapsed());

        let started = clock::instant();
        std::hint::black_box(backtest::run(&tape, &slow_tick, &mut |_, _| {}));
        slow_best = slow_best.min(started.elapsed());

        let inputs = decoded.clone();
        let started = clock::instant();
        let mut replay = Replay::start(&tape, &config);
        for (entry, decoded) in tape.entries.iter().zip(inputs) {
            replay.apply(entry, decoded);
        }
        std::hint::black_box(replay.finish(&tape));
        engine_best = engine_best.min(started.elapsed());
    }
    let runs = rounds;
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
    let tick_note = format!("same tape; default tick is {} ms", config.tick_ms);
    let peers = [
        (
            "backtest replay, 1 s engine tick (peer)",
            slow_best,
            tick_note.as_str(),
        ),
        (
            "backtest replay: engine stage only (peer)",
            engine_best,
            "entries decoded beforehand: engine, strategies, fill model, ledger",
        ),
        (
            "backtest replay: feed decoder only (peer)",
            decode_best,
            "same entries, no engine",
        ),
    ];
    for (name, took, note) in peers {
        common::result(
            name,
            frames / took.as_secs_f64(),
            "msg/s",
            common::Bar::Info,
            note,
        );
    }
    Ok(())
}
