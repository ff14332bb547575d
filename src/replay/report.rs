//! The backtest report: totals, per-market table, in-sample / out-of-sample split, equity curve
//! as CSV and an SVG chart. Everything is a pure function of the replay, so the same tape and
//! config give byte-identical files.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::core::market::Ticker;
use crate::core::num::{Count, Money};
use crate::replay::ledger::{Ledger, MarketLedger};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TapeSummary {
    pub entries: u64,
    pub frames: u64,
    pub malformed: u64,
    pub gaps: u64,
    pub disconnects: u64,
    pub rejects: u64,
    pub truncated: bool,
    pub start_ms: i64,
    pub end_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EquityPoint {
    pub ts_ms: i64,
    /// P&L net of fees so far, open positions at mid.
    pub equity: Money,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketSummary {
    pub pnl: Money,
    pub fees: Money,
    pub fills: u64,
    pub maker_fills: u64,
    pub taker_fills: u64,
    pub contracts: Count,
    pub time_in_market_ms: i64,
    /// Position at the end of the segment (YES-equivalent).
    pub position: Count,
}

/// Figures over one stretch of the tape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    pub label: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub pnl: Money,
    pub fees: Money,
    pub fills: u64,
    pub maker_fills: u64,
    pub taker_fills: u64,
    pub contracts: Count,
    pub max_drawdown: Money,
    pub time_in_market_ms: i64,
    pub markets: BTreeMap<Ticker, MarketSummary>,
}

impl Segment {
    /// The difference between the ledger at the segment's start and at its end.
    pub fn from_ledgers(
        label: &str,
        from_ms: i64,
        to_ms: i64,
        start: &Ledger,
        end: &Ledger,
        equity: &[EquityPoint],
    ) -> Segment {
        let empty = MarketLedger::default();
        let mut segment = Segment {
            label: label.to_string(),
            from_ms,
            to_ms,
            ..Segment::default()
        };
        for (ticker, after) in &end.markets {
            let before = start.markets.get(ticker).unwrap_or(&empty);
            let summary = MarketSummary {
                pnl: after.pnl().saturating_sub(before.pnl()),
                fees: after.fees.saturating_sub(before.fees),
                fills: after.fills - before.fills,
                maker_fills: after.maker_fills - before.maker_fills,
                taker_fills: after.taker_fills - before.taker_fills,
                contracts: after
                    .contracts_traded
                    .saturating_sub(before.contracts_traded),
                time_in_market_ms: after.time_in_market_ms - before.time_in_market_ms,
                position: after.position,
            };
            segment.pnl = segment.pnl.saturating_add(summary.pnl);
            segment.fees = segment.fees.saturating_add(summary.fees);
            segment.fills += summary.fills;
            segment.maker_fills += summary.maker_fills;
            segment.taker_fills += summary.taker_fills;
            segment.contracts = segment.contracts.saturating_add(summary.contracts);
            segment.time_in_market_ms += summary.time_in_market_ms;
            segment.markets.insert(ticker.clone(), summary);
        }
        segment.max_drawdown = max_drawdown(
            equity
                .iter()
                .filter(|p| p.ts_ms >= from_ms && p.ts_ms <= to_ms)
                .map(|p| p.equity),
        );
        segment
    }
}

/// Largest fall from a running peak (a positive number).
pub fn max_drawdown(equity: impl Iterator<Item = Money>) -> Money {
    let mut peak: Option<Money> = None;
    let mut worst = Money::ZERO;
    for value in equity {
        let top = match peak {
            Some(p) if p.micros() >= value.micros() => p,
            _ => value,
        };
        peak = Some(top);
        let fall = top.saturating_sub(value);
        if fall.micros() > worst.micros() {
            worst = fall;
        }
    }
    worst
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacktestReport {
    pub tape: TapeSummary,
    pub whole: Segment,
    pub in_sample: Segment,
    pub out_of_sample: Segment,
    pub equity: Vec<EquityPoint>,
    pub halted: Option<String>,
}

fn duration(ms: i64) -> String {
    let s = ms / 1000;
    format!("{}h{:02}m{:02}s", s / 3600, (s / 60) % 60, s % 60)
}

fn share(part: u64, whole: u64) -> String {
    match (part * 100).checked_div(whole) {
        Some(percent) => format!("{percent}%"),
        None => "-".into(),
    }
}

impl BacktestReport {
    /// The printed report.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let t = &self.tape;
        let _ = writeln!(
            out,
            "BACKTEST (simulated fills; nothing was sent to an exchange)"
        );
        let _ = writeln!(
            out,
            "tape: {} entries, {} frames, {} malformed, {} gap markers, {} disconnects{}, span {}",
            t.entries,
            t.frames,
            t.malformed,
            t.gaps,
            t.disconnects,
            if t.truncated { ", TRUNCATED" } else { "" },
            duration(t.end_ms - t.start_ms)
        );
        if let Some(reason) = &self.halted {
            let _ = writeln!(out, "HALTED during the replay: {reason}");
        }
        let _ = writeln!(out, "local rejects: {}", t.rejects);
        for segment in [&self.whole, &self.in_sample, &self.out_of_sample] {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "== {} ({}) ==",
                segment.label,
                duration(segment.to_ms - segment.from_ms)
            );
            let _ = writeln!(
                out,
                "P&L net of fees {}  fees {}  fills {} (maker {} / taker {}, maker share {})  contracts {}  max drawdown {}  time in market {}",
                segment.pnl.to_dollars(),
                segment.fees.to_dollars(),
                segment.fills,
                segment.maker_fills,
                segment.taker_fills,
                share(segment.maker_fills, segment.fills),
                segment.contracts.to_fp(),
                segment.max_drawdown.to_dollars(),
                duration(segment.time_in_market_ms),
            );
            if !segment.markets.is_empty() {
                let _ = writeln!(
                    out,
                    "{:<32} {:>12} {:>10} {:>6} {:>6} {:>6} {:>10} {:>10}",
                    "market", "pnl", "fees", "fills", "maker", "taker", "position", "in market"
                );
                for (ticker, m) in &segment.markets {
                    let _ = writeln!(
                        out,
                        "{:<32} {:>12} {:>10} {:>6} {:>6} {:>6} {:>10} {:>10}",
                        ticker.as_str(),
                        m.pnl.to_dollars(),
                        m.fees.to_dollars(),
                        m.fills,
                        m.maker_fills,
                        m.taker_fills,
                        m.position.to_fp(),
                        duration(m.time_in_market_ms)
                    );
                }
            }
        }
        out
    }

    /// `ts_ms,equity_dollars`.
    pub fn equity_csv(&self) -> String {
        let mut out = String::from("ts_ms,equity_dollars\n");
        for point in &self.equity {
            let _ = writeln!(out, "{},{}", point.ts_ms, point.equity.to_dollars());
        }
        out
    }

    /// One row per market and segment.
    pub fn markets_csv(&self) -> String {
        let mut out = String::from(
            "segment,market,pnl_dollars,fees_dollars,fills,maker_fills,taker_fills,contracts,position,time_in_market_ms\n",
        );
        for segment in [&self.whole, &self.in_sample, &self.out_of_sample] {
            for (ticker, m) in &segment.markets {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{}",
                    segment.label,
                    ticker.as_str(),
                    m.pnl.to_dollars(),
                    m.fees.to_dollars(),
                    m.fills,
                    m.maker_fills,
                    m.taker_fills,
                    m.contracts.to_fp(),
                    m.position.to_fp(),
                    m.time_in_market_ms
                );
            }
        }
        out
    }

    /// Equity curve (top, split marked) and per-market P&L bars (bottom).
    pub fn chart_svg(&self) -> String {
        const W: i64 = 900;
        const CURVE_H: i64 = 300;
        const BAR_ROW: i64 = 18;
        const LEFT: i64 = 90;
        const RIGHT: i64 = 20;
        let markets: Vec<(&Ticker, &MarketSummary)> = self.whole.markets.iter().collect();
        let bars_h = BAR_ROW * markets.len().max(1) as i64 + 40;
        let height = 40 + CURVE_H + 40 + bars_h;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" font-family="monospace" font-size="12">"##
        );
        let _ = writeln!(
            svg,
            r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<text x="{LEFT}" y="24" font-size="15">Backtest equity (P&amp;L net of fees, $) — simulated fills</text>"##
        );
        // Equity curve.
        let t0 = self.tape.start_ms;
        let t1 = self.tape.end_ms.max(t0 + 1);
        let values: Vec<i64> = self.equity.iter().map(|p| p.equity.micros()).collect();
        let lo = values.iter().copied().min().unwrap_or(0).min(0);
        let hi = values.iter().copied().max().unwrap_or(0).max(0);
        let span = (hi - lo).max(1);
        let top = 40;
        let plot_w = W - LEFT - RIGHT;
        let x_of = |ts: i64| LEFT + (ts - t0).clamp(0, t1 - t0) * plot_w / (t1 - t0);
        let y_of = |v: i64| top + (hi - v) * CURVE_H / span;
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{CURVE_H}" fill="none" stroke="#999"/>"##
        );
        let zero = y_of(0);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{zero}" x2="{}" y2="{zero}" stroke="#bbb" stroke-dasharray="4 3"/>"##,
            LEFT + plot_w
        );
        for (value, y) in [(hi, top), (0, zero), (lo, top + CURVE_H)] {
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{}" text-anchor="end">{}</text>"##,
                LEFT - 6,
                y + 4,
                Money::from_micros(value).to_dollars()
            );
        }
        let split_x = x_of(self.in_sample.to_ms);
        let _ = writeln!(
            svg,
            r##"<line x1="{split_x}" y1="{top}" x2="{split_x}" y2="{}" stroke="#c60" stroke-dasharray="6 4"/><text x="{}" y="{}" fill="#c60">in-sample | out-of-sample</text>"##,
            top + CURVE_H,
            split_x + 4,
            top + 14
        );
        let points: Vec<String> = self
            .equity
            .iter()
            .map(|p| format!("{},{}", x_of(p.ts_ms), y_of(p.equity.micros())))
            .collect();
        let _ = writeln!(
            svg,
            r##"<polyline fill="none" stroke="#1f4e9c" stroke-width="1.5" points="{}"/>"##,
            points.join(" ")
        );
        let _ = writeln!(
            svg,
            r##"<text x="{LEFT}" y="{}">0s</text><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            top + CURVE_H + 16,
            LEFT + plot_w,
            top + CURVE_H + 16,
            duration(t1 - t0)
        );
        // Per-market bars.
        let bars_top = top + CURVE_H + 40;
        let _ = writeln!(
            svg,
            r##"<text x="{LEFT}" y="{bars_top}" font-size="14">P&amp;L by market ($, whole tape; ▲ gain ▼ loss)</text>"##
        );
        let widest = markets
            .iter()
            .map(|(_, m)| m.pnl.micros().abs())
            .max()
            .unwrap_or(0)
            .max(1);
        let mid_x = LEFT + 260 + (plot_w - 360) / 2;
        let half = (plot_w - 360) / 2;
        for (row, (ticker, m)) in markets.iter().enumerate() {
            let y = bars_top + 12 + row as i64 * BAR_ROW;
            let len = m.pnl.micros().abs() * half / widest;
            let (x, colour, mark) = if m.pnl.is_negative() {
                (mid_x - len, "#b22", "▼")
            } else {
                (mid_x, "#282", "▲")
            };
            let _ = writeln!(
                svg,
                r##"<text x="{LEFT}" y="{}">{}</text><rect x="{x}" y="{}" width="{}" height="{}" fill="{colour}"/><text x="{}" y="{}">{mark} {}</text>"##,
                y + 12,
                xml_escape(ticker.as_str()),
                y + 2,
                len.max(1),
                BAR_ROW - 4,
                mid_x + half + 8,
                y + 12,
                m.pnl.to_dollars()
            );
        }
        let _ = writeln!(svg, "</svg>");
        svg
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_is_the_largest_fall_from_a_running_peak() {
        let values = [0, 5, 2, 8, 1, 4, 9].map(Money::from_cents);
        assert_eq!(max_drawdown(values.into_iter()), Money::from_cents(7));
        assert_eq!(max_drawdown(std::iter::empty()), Money::ZERO);
        let falling = [-1, -3].map(Money::from_cents);
        assert_eq!(max_drawdown(falling.into_iter()), Money::from_cents(2));
    }
}
