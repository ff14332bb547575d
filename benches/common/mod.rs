//! Shared by the bench binaries: the recorded frames, the result lines `benches/run.sh` turns
//! into the table, and readings of this process's CPU time and memory from /proc.

// Each bench binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::path::PathBuf;

use anyhow::Context as _;
use kalshi_desk::store::tape::{Tape, TapeEntry, read_tape};

/// The sample tape: 3 minutes of the simulator (40 markets, seeded traders).
pub fn sample_tape_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/tapes/sim-seed7-0001.jsonl.zst")
}

pub fn sample_tape() -> anyhow::Result<Tape> {
    let path = sample_tape_path();
    read_tape(std::slice::from_ref(&path)).with_context(|| format!("reading {}", path.display()))
}

/// The tape's `orderbook_snapshot` and `orderbook_delta` frames as received, in order.
pub fn book_frames(tape: &Tape) -> Vec<String> {
    tape.entries
        .iter()
        .filter_map(|entry| match entry {
            TapeEntry::Frame { text, .. }
                if text.contains("\"type\":\"orderbook_delta\"")
                    || text.contains("\"type\":\"orderbook_snapshot\"") =>
            {
                Some(text.clone())
            }
            _ => None,
        })
        .collect()
}

/// How a measurement compares with its bar.
#[derive(Debug, Clone, Copy)]
pub enum Bar {
    /// Pass when measured ≥ the bar.
    AtLeast(f64),
    /// Pass when measured < the bar.
    Below(f64),
    /// Reported for reference (a peer or a ceiling), no bar.
    Info,
}

/// One row of the table: `RESULT<TAB>name<TAB>measured<TAB>unit<TAB>target<TAB>verdict<TAB>note`.
pub fn result(name: &str, measured: f64, unit: &str, bar: Bar, note: &str) {
    let (target, verdict) = match bar {
        Bar::AtLeast(min) => (
            format!(">= {}", human(min)),
            if measured >= min { "pass" } else { "MISS" },
        ),
        Bar::Below(max) => (
            format!("< {}", human(max)),
            if measured < max { "pass" } else { "MISS" },
        ),
        Bar::Info => ("-".to_string(), "info"),
    };
    println!(
        "RESULT\t{name}\t{}\t{unit}\t{target}\t{verdict}\t{note}",
        human(measured)
    );
}

/// Numbers as a person reads them: thousands separated, at most 3 significant decimals.
pub fn human(value: f64) -> String {
    if value.abs() >= 1000.0 {
        let whole = value.round() as i64;
        let digits = whole.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        if whole < 0 {
            out.insert(0, '-');
        }
        out
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// Median of samples (sorted in place).
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    match samples.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => samples[n / 2],
        n => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
    }
}

/// A field of /proc/self/status in kB (`VmHWM`, `VmRSS`).
pub fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// CPU time (user + system) this process has used, in seconds, from /proc/self/stat.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks_per_second())
}

/// USER_HZ: 100 on every Linux this runs on (the kernel fixes it for /proc's tick counts).
fn clock_ticks_per_second() -> f64 {
    100.0
}

/// The simulator lists a fixed catalogue (about 49 open markets). Benches that need more list
/// copies of an open market (same event, grid and rules; ticker suffixed `-Xnnnn`) until
/// `wanted` are open, and return the open tickers (at most `wanted`).
pub async fn open_markets(
    sim: &kalshi_desk::sim::server::SimHandle,
    wanted: usize,
) -> anyhow::Result<Vec<kalshi_desk::core::market::Ticker>> {
    use kalshi_desk::core::market::{MarketStatus, Ticker};
    let open = |sim: &kalshi_desk::sim::server::SimHandle| -> Vec<Ticker> {
        sim.with_exchange(|exchange| {
            exchange
                .market_states()
                .filter(|m| m.status == MarketStatus::Active)
                .map(|m| m.ticker.clone())
                .collect()
        })
    };
    let listed = open(sim).len();
    if listed < wanted {
        sim.exchange_write(|exchange| {
            let template = exchange
                .market_states()
                .find(|m| m.status == MarketStatus::Active)
                .map(|m| m.spec.clone())
                .context("the simulator has no open market to copy")?;
            for i in 0..wanted - listed {
                let mut spec = template.clone();
                spec.ticker = format!("{}-X{i:04}", template.ticker);
                exchange
                    .add_market(spec)
                    .map_err(|e| anyhow::anyhow!("listing a copy of {}: {e:?}", template.ticker))?;
            }
            anyhow::Ok(())
        })?;
    }
    // Listed markets open on the simulator's next clock step.
    let deadline = kalshi_desk::runtime::clock::instant() + std::time::Duration::from_secs(10);
    loop {
        let tickers = open(sim);
        if tickers.len() >= wanted {
            return Ok(tickers.into_iter().take(wanted).collect());
        }
        anyhow::ensure!(
            kalshi_desk::runtime::clock::instant() < deadline,
            "only {} of {wanted} markets opened",
            tickers.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
