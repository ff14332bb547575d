//! Feed path on one core: parse + apply the `orderbook_snapshot` / `orderbook_delta` frames of
//! the sample tape (recorded from the simulator, 40 markets mixed in arrival order) into
//! `core::book::Books`, next to bare `serde_json` decoding of the same frames into the same
//! payload types with each frame's type known up front (the ceiling: a plain serde derive, no
//! dispatch on `type`, no error wording, no apply). The simulator writes `msg` before `type`
//! (sorted keys); Kalshi writes `type` first: the decoder is one pass either way.
//!
//! `cargo bench --bench feed` (criterion statistics, then the table rows).

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use kalshi_desk::core::book::{ApplyOutcome, BookSide, Books, PriceConvention};
use kalshi_desk::kalshi::wire::{
    OrderbookDelta, OrderbookSnapshot, OutcomeSide, ServerMsg, decode_server_frame,
};
use kalshi_desk::runtime::clock;
use serde::Deserialize;

use common::{Bar, result};

/// Tapes hold frames as Kalshi sends them by default: NO levels in NO prices.
const CONVENTION: PriceConvention = PriceConvention::NoPrices;

fn book_side(side: OutcomeSide) -> BookSide {
    match side {
        OutcomeSide::Yes => BookSide::Yes,
        OutcomeSide::No => BookSide::No,
    }
}

/// The envelope as a plain serde derive, for a decoder told each frame's type in advance.
#[derive(Deserialize)]
struct Bare<'a, T> {
    #[serde(rename = "type", borrow)]
    _kind: &'a str,
    sid: Option<u64>,
    seq: Option<u64>,
    msg: T,
}

/// Which payload type a frame holds, sorted out before any timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    Delta,
    Snapshot,
}

fn payloads(frames: &[String]) -> Vec<Payload> {
    frames
        .iter()
        .map(|text| {
            if text.contains("\"type\":\"orderbook_delta\"") {
                Payload::Delta
            } else {
                Payload::Snapshot
            }
        })
        .collect()
}

/// The ceiling: bare `serde_json` into the same payload types (`OrderbookDelta`,
/// `OrderbookSnapshot`), each frame's type known up front, nothing else.
fn decode_only(frames: &[String], kinds: &[Payload]) -> usize {
    let mut decoded = 0;
    for (text, kind) in frames.iter().zip(kinds) {
        let ok = match kind {
            Payload::Delta => serde_json::from_str::<Bare<OrderbookDelta>>(text)
                .map(|frame| black_box((frame.sid, frame.seq, frame.msg)))
                .is_ok(),
            Payload::Snapshot => serde_json::from_str::<Bare<OrderbookSnapshot>>(text)
                .map(|frame| black_box((frame.sid, frame.seq, frame.msg)))
                .is_ok(),
        };
        decoded += usize::from(ok);
    }
    decoded
}

/// Counts of what applying did, to show the run was a real one.
#[derive(Debug, Default, Clone, Copy)]
struct Applied {
    snapshots: usize,
    deltas: usize,
    not_applied: usize,
}

/// The feed path: decode (with the error reporting of the real decoder) and apply to the books.
fn decode_and_apply(frames: &[String], books: &mut Books) -> Applied {
    let mut applied = Applied::default();
    let now_ns = 1;
    for text in frames {
        let Ok(frame) = decode_server_frame(text) else {
            applied.not_applied += 1;
            continue;
        };
        let outcome = match frame.msg {
            ServerMsg::OrderbookDelta(delta) => {
                applied.deltas += 1;
                books.apply_delta(
                    delta.market_ticker.as_str(),
                    book_side(delta.side),
                    delta.price_dollars,
                    delta.delta_fp,
                    CONVENTION,
                    now_ns,
                )
            }
            ServerMsg::OrderbookSnapshot(snapshot) => {
                applied.snapshots += 1;
                books.apply_snapshot(
                    &snapshot.market_ticker,
                    snapshot.yes_dollars_fp.iter().map(|l| (l.0, l.1)),
                    snapshot.no_dollars_fp.iter().map(|l| (l.0, l.1)),
                    CONVENTION,
                    now_ns,
                )
            }
            _ => ApplyOutcome::UnknownMarket,
        };
        if outcome != ApplyOutcome::Applied {
            applied.not_applied += 1;
        }
    }
    applied
}

/// Best msg/s over `rounds` passes of the whole frame set.
fn best_rate(frames: &[String], rounds: usize, mut pass: impl FnMut()) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let started = clock::instant();
        pass();
        best = best.min(started.elapsed());
    }
    frames.len() as f64 / best.as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let tape = common::sample_tape()?;
    let frames = common::book_frames(&tape);
    let kinds = payloads(&frames);
    anyhow::ensure!(
        decode_only(&frames, &kinds) == frames.len(),
        "the bare decoder does not read every frame"
    );
    let check = decode_and_apply(&frames, &mut Books::new());
    anyhow::ensure!(
        check.deltas > 0 && check.not_applied * 100 <= frames.len(),
        "the recorded frames do not apply cleanly: {check:?}"
    );

    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    {
        let mut group = criterion.benchmark_group("feed");
        group.throughput(Throughput::Elements(frames.len() as u64));
        group.bench_function("bare serde_json decode, type known (ceiling)", |b| {
            b.iter(|| decode_only(&frames, &kinds))
        });
        group.bench_function("decode + apply to books", |b| {
            b.iter(|| {
                let mut books = Books::new();
                decode_and_apply(&frames, &mut books)
            })
        });
        group.finish();
    }
    criterion.final_summary();

    // The table rows: best of many passes, ceiling and feed interleaved so both see the same load.
    let mut ceiling = 0f64;
    let mut feed = 0f64;
    for _ in 0..5 {
        ceiling = ceiling.max(best_rate(&frames, 20, || {
            black_box(decode_only(&frames, &kinds));
        }));
        feed = feed.max(best_rate(&frames, 20, || {
            let mut books = Books::new();
            black_box(decode_and_apply(&frames, &mut books));
        }));
    }
    let note = format!(
        "{} frames ({} snapshots, {} deltas) of {} markets, one thread",
        frames.len(),
        check.snapshots,
        check.deltas,
        tape.header.markets.len()
    );
    result(
        "feed: decode+apply",
        feed,
        "msg/s",
        Bar::AtLeast(2_000_000.0),
        &note,
    );
    result(
        "feed: bare serde_json decode, type known (ceiling)",
        ceiling,
        "msg/s",
        Bar::Info,
        "same frames into OrderbookDelta/OrderbookSnapshot",
    );
    result(
        "feed: share of ceiling",
        100.0 * feed / ceiling,
        "%",
        Bar::AtLeast(65.0),
        "",
    );
    Ok(())
}
