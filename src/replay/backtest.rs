//! `kdesk backtest`: a tape replayed through the engine on a virtual clock, orders filled by
//! [`crate::core::fill_model`], and a report of what the strategies would have done.

use crate::core::engine::{Command, EngineConfig, Input, MarketInput};
use crate::core::market::Ticker;
use crate::core::num::Money;
use crate::core::portfolio::DayBoundary;
use crate::core::strategy::StrategyParams;
use crate::core::time::Now;
use crate::replay::config::ReplaySettings;
use crate::replay::feed::{Decoded, FeedDecoder, header_markets};
use crate::replay::ledger::Ledger;
use crate::replay::report::{BacktestReport, EquityPoint, Segment, TapeSummary};
use crate::replay::session::{Session, SessionConfig};
use crate::store::tape::{Tape, TapeEntry};

/// How a backtest runs.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestConfig {
    pub engine: EngineConfig,
    pub strategies: Vec<(Ticker, StrategyParams)>,
    pub latency_ms: i64,
    pub starting_cash: Money,
    /// Engine timer in virtual time.
    pub tick_ms: i64,
    /// Equity curve resolution in virtual time.
    pub equity_every_ms: i64,
    /// Share of the tape's time span that is in-sample (the rest is out-of-sample), percent.
    pub in_sample_percent: u8,
}

impl BacktestConfig {
    pub fn new(strategies: Vec<(Ticker, StrategyParams)>) -> BacktestConfig {
        BacktestConfig {
            engine: EngineConfig::default(),
            strategies,
            latency_ms: 50,
            starting_cash: Money::from_cents(1_000_000),
            tick_ms: 100,
            equity_every_ms: 1_000,
            in_sample_percent: 70,
        }
    }

    pub fn from_settings(settings: &ReplaySettings) -> BacktestConfig {
        let mut config = BacktestConfig::new(settings.strategies.clone());
        config.engine.limits = settings.limits.clone();
        if let Ok(boundary) = DayBoundary::new(&settings.day_boundary, 0) {
            config.engine.day_boundary = boundary;
        }
        config
    }
}

/// The virtual clock: tape time drives both clocks; mono counts from the tape's start.
fn virtual_now(start_ms: i64, wall_ms: i64) -> Now {
    Now::new(((wall_ms - start_ms).max(0) as u64) * 1_000_000, wall_ms, 0)
}

/// Gaps in the tape longer than this are not filled with timer ticks (or equity samples, which
/// cannot change in a gap) one by one.
const MAX_TICKS_PER_GAP: i64 = 10_000;

/// Entry times are taken at face value only within this span after the first entry, which is
/// itself kept between 1970 and 2100: a corrupt time can then neither overflow the virtual
/// clocks nor stretch the replay (and its equity curve) over centuries.
const MAX_TAPE_SPAN_MS: i64 = 10 * 366 * 86_400_000;
const LATEST_START_MS: i64 = 4_102_444_800_000;

fn clamp_time(ms: i64, start_ms: i64) -> i64 {
    ms.clamp(start_ms, start_ms + MAX_TAPE_SPAN_MS)
}

/// Entries decoded per hand-over between the decoding thread and the engine.
const DECODE_CHUNK: usize = 1_024;

/// Replay `tape`; `progress(done, total)` is called every few thousand entries.
///
/// Two stages on two threads: one decodes frames (the feed decoder keeps its own sequence
/// state), the other runs the engine, the fill model and the ledger. Each stage is sequential,
/// so the report is the same as decoding inline ([`Replay::entry`]), byte for byte.
pub fn run(
    tape: &Tape,
    config: &BacktestConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> BacktestReport {
    let mut replay = Replay::start(tape, config);
    let total = tape.entries.len();
    let mut decoder = std::mem::take(&mut replay.decoder);
    progress(0, total);
    std::thread::scope(|scope| {
        let (chunks, decoded_chunks) = std::sync::mpsc::sync_channel::<Vec<Decoded>>(4);
        scope.spawn(move || {
            for chunk in tape.entries.chunks(DECODE_CHUNK) {
                let decoded = chunk.iter().map(|entry| decoder.decode(entry)).collect();
                if chunks.send(decoded).is_err() {
                    return;
                }
            }
        });
        let mut done = 0;
        for (chunk, decoded) in tape.entries.chunks(DECODE_CHUNK).zip(decoded_chunks) {
            for (entry, decoded) in chunk.iter().zip(decoded) {
                replay.apply(entry, decoded);
            }
            done += chunk.len();
            progress(done, total);
        }
    });
    replay.finish(tape)
}

/// A backtest in progress; tests drive it entry by entry to look at the engine between them.
pub struct Replay {
    pub session: Session,
    decoder: FeedDecoder,
    start_ms: i64,
    split_ms: i64,
    end_ms: i64,
    tick_ms: i64,
    next_tick_ms: i64,
    equity_every_ms: i64,
    next_equity_ms: i64,
    equity: Vec<EquityPoint>,
    at_split: Option<(Ledger, i64)>,
    summary: TapeSummary,
    last_ms: i64,
}

impl Replay {
    pub fn start(tape: &Tape, config: &BacktestConfig) -> Replay {
        let start_ms = tape
            .entries
            .first()
            .map(TapeEntry::rx_ms)
            .unwrap_or(tape.header.started_ms)
            .clamp(0, LATEST_START_MS);
        let end_ms = clamp_time(
            tape.entries
                .last()
                .map(TapeEntry::rx_ms)
                .unwrap_or(start_ms),
            start_ms,
        );
        let span = (end_ms - start_ms).max(0);
        let split_ms = start_ms + span * i64::from(config.in_sample_percent.min(100)) / 100;
        let now = virtual_now(start_ms, start_ms);
        let mut session = Session::new(
            SessionConfig {
                engine: config.engine.clone(),
                latency_ms: config.latency_ms,
                starting_cash: config.starting_cash,
                id_prefix: "bt".to_string(),
            },
            now,
        );
        let markets = header_markets(&tape.header);
        for (ticker, fees) in &markets.fees {
            session.set_fees(ticker, *fees);
        }
        for info in markets.infos {
            session.input(Input::Market(MarketInput::Info(info)), now);
        }
        for (ticker, params) in &config.strategies {
            session.command(
                Command::SetStrategy {
                    ticker: ticker.clone(),
                    params: params.clone(),
                },
                now,
            );
            session.command(
                Command::Arm {
                    ticker: ticker.clone(),
                },
                now,
            );
        }
        Replay {
            session,
            decoder: FeedDecoder::for_header(&tape.header),
            start_ms,
            split_ms,
            end_ms,
            tick_ms: config.tick_ms.max(1),
            next_tick_ms: start_ms + config.tick_ms.max(1),
            equity_every_ms: config.equity_every_ms.max(1),
            next_equity_ms: start_ms,
            equity: Vec::new(),
            at_split: None,
            summary: TapeSummary {
                entries: tape.entries.len() as u64,
                truncated: tape.truncated,
                start_ms,
                end_ms,
                ..TapeSummary::default()
            },
            last_ms: start_ms,
        }
    }

    /// Bring the clock up to `ms`: timer ticks, due intents, equity samples, the split.
    fn clock_to(&mut self, ms: i64) {
        if ms - self.next_tick_ms > self.tick_ms * MAX_TICKS_PER_GAP {
            self.next_tick_ms = ms - self.tick_ms * MAX_TICKS_PER_GAP;
        }
        while self.next_tick_ms <= ms {
            let at = self.next_tick_ms;
            self.sample_to(at);
            self.session
                .input(Input::Tick, virtual_now(self.start_ms, at));
            self.next_tick_ms += self.tick_ms;
        }
        self.sample_to(ms);
        self.session.advance(virtual_now(self.start_ms, ms));
        self.last_ms = self.last_ms.max(ms);
    }

    fn sample_to(&mut self, ms: i64) {
        if self.at_split.is_none() && ms >= self.split_ms && self.split_ms < self.end_ms {
            let mut ledger = self.session.ledger().clone();
            ledger.finish(self.split_ms);
            self.at_split = Some((ledger, self.split_ms));
        }
        if ms - self.next_equity_ms > self.equity_every_ms * MAX_TICKS_PER_GAP {
            self.next_equity_ms = ms - self.equity_every_ms * MAX_TICKS_PER_GAP;
        }
        while self.next_equity_ms <= ms {
            let at = self.next_equity_ms;
            self.equity.push(EquityPoint {
                ts_ms: at,
                equity: self.session.ledger().total_pnl(),
            });
            self.next_equity_ms += self.equity_every_ms;
        }
    }

    /// Replay one tape entry.
    pub fn entry(&mut self, entry: &TapeEntry) {
        let decoded = self.decoder.decode(entry);
        self.apply(entry, decoded);
    }

    /// Replay one tape entry already decoded (by a decoder that saw every entry before it).
    pub fn apply(&mut self, entry: &TapeEntry, decoded: Decoded) {
        let ms = clamp_time(entry.rx_ms(), self.start_ms).max(self.last_ms);
        self.clock_to(ms);
        let now = virtual_now(self.start_ms, ms);
        match entry {
            TapeEntry::Frame { .. } => self.summary.frames += 1,
            TapeEntry::Gap { .. } => self.summary.gaps += 1,
            TapeEntry::Disconnected { .. } => self.summary.disconnects += 1,
            _ => {}
        }
        if decoded.malformed {
            self.summary.malformed += 1;
        }
        for input in decoded.inputs {
            self.session.input(input, now);
        }
        for (ticker, result) in decoded.settlements {
            self.session.settle(&ticker, result, now);
        }
    }

    /// Let in-flight intents land, close the books and build the report.
    pub fn finish(mut self, tape: &Tape) -> BacktestReport {
        let end = self.end_ms.max(self.last_ms);
        self.clock_to(end);
        let mut ledger = self.session.ledger().clone();
        ledger.finish(end);
        self.equity.push(EquityPoint {
            ts_ms: end,
            equity: ledger.total_pnl(),
        });
        let (split_ledger, split_ms) = self
            .at_split
            .take()
            .unwrap_or_else(|| (ledger.clone(), end));
        let whole = Segment::from_ledgers(
            "whole tape",
            self.start_ms,
            end,
            &Ledger::default(),
            &ledger,
            &self.equity,
        );
        let in_sample = Segment::from_ledgers(
            "in-sample",
            self.start_ms,
            split_ms,
            &Ledger::default(),
            &split_ledger,
            &self.equity,
        );
        let out_of_sample = Segment::from_ledgers(
            "out-of-sample",
            split_ms,
            end,
            &split_ledger,
            &ledger,
            &self.equity,
        );
        let stats = self.session.model().stats();
        self.summary.rejects = stats.rejects;
        let _ = tape;
        BacktestReport {
            tape: self.summary,
            whole,
            in_sample,
            out_of_sample,
            equity: self.equity,
            halted: self.session.halted().map(str::to_string),
        }
    }
}
