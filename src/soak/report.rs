//! What a soak prints: the faults injected, the recoveries the desk made, what it traded, and
//! the verdict of every end-state check.

use std::fmt::Write as _;

use crate::sim::faults::InjectedFaults;
use crate::soak::check::{CheckOutcome, HaltSeen};

/// Faults the soak switched on and off itself (on top of the random ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Episodes {
    pub storms_429: u32,
    pub lost_answer_bursts: u32,
    pub forced_ws_drops: u32,
    pub frozen_books: u32,
    pub trading_pauses: u32,
    pub kills: u32,
    pub resets: u32,
    pub rearms: u32,
}

/// How the desk recovered, from its health counters and its audit stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Recoveries {
    pub reconnects: u64,
    pub resyncs: u64,
    pub seq_gaps: u64,
    pub unknown_orders: u64,
    pub unknown_resolved: u64,
    pub duplicate_fills_dropped: u64,
    /// REST attempts that got no answer (cut connections, timeouts), reads and writes.
    pub rest_attempts_unanswered: u64,
    /// REST attempts beyond the first for a call (5xx, 429 and lost answers on reads/cancels).
    pub rest_retries: u64,
    pub rejects: u64,
    pub business_rejects: u64,
    /// Reject codes, most frequent first.
    pub reject_codes: Vec<(String, u64)>,
    pub position_drifts: u64,
    pub reconcile_failures: u64,
    pub alarms: u64,
    pub audits_lagged: u64,
}

/// What the desk did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Activity {
    pub ws_frames: u64,
    pub intents_placed: u64,
    pub accepted_creates: u64,
    pub fills: u64,
    pub time_to_flat_ms: Option<u64>,
    pub writes_in_flight_at_halt: usize,
}

/// The whole outcome of one soak.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SoakReport {
    pub seed: u64,
    pub markets: usize,
    pub flow_ms: u64,
    pub wall_ms: u64,
    pub injected: InjectedFaults,
    pub episodes: Episodes,
    pub recoveries: Recoveries,
    pub activity: Activity,
    pub halts: Vec<HaltSeen>,
    /// Which halts the soak expects, and why.
    pub expected_halts: Vec<String>,
    pub checks: Vec<CheckOutcome>,
}

impl SoakReport {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// The failed checks, for assertion messages.
    pub fn failures(&self) -> Vec<&CheckOutcome> {
        self.checks.iter().filter(|c| !c.passed).collect()
    }

    /// The printed report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "soak: {} markets armed, {:.1} s of flow, {:.1} s wall, seed {}",
            self.markets,
            self.flow_ms as f64 / 1000.0,
            self.wall_ms as f64 / 1000.0,
            self.seed
        );
        let i = &self.injected;
        let _ = writeln!(out, "faults injected:");
        let _ = writeln!(
            out,
            "  ws      resets {}  closes {}  duplicates {}  delays {}  seq skips {}  frozen-book frames {}",
            i.ws_resets, i.ws_closes, i.ws_duplicates, i.ws_delays, i.seq_skips, i.frozen_frames
        );
        let _ = writeln!(
            out,
            "  rest    429 {}  5xx {} (cancel-all {})  lost answers {}  delayed {}",
            i.rest_429, i.rest_5xx, i.cancel_all_5xx, i.lost_answers, i.rest_delayed
        );
        let e = &self.episodes;
        let _ = writeln!(
            out,
            "  scripted 429 storms {}  lost-answer bursts {}  forced ws drops {}  frozen books {}  trading pauses {}  kills {}  resets {}  re-arms {}",
            e.storms_429,
            e.lost_answer_bursts,
            e.forced_ws_drops,
            e.frozen_books,
            e.trading_pauses,
            e.kills,
            e.resets,
            e.rearms
        );
        let r = &self.recoveries;
        let _ = writeln!(out, "recoveries:");
        let _ = writeln!(
            out,
            "  reconnects {}  resyncs {}  seq gaps {}  unknown orders {} (resolved {})  duplicate fills dropped {}",
            r.reconnects,
            r.resyncs,
            r.seq_gaps,
            r.unknown_orders,
            r.unknown_resolved,
            r.duplicate_fills_dropped
        );
        let _ = writeln!(
            out,
            "  rest retries {}  unanswered attempts {}  rejects {} (business {})  position drifts {}  reconcile failures {}  alarms {}  audits lagged {}",
            r.rest_retries,
            r.rest_attempts_unanswered,
            r.rejects,
            r.business_rejects,
            r.position_drifts,
            r.reconcile_failures,
            r.alarms,
            r.audits_lagged
        );
        if !r.reject_codes.is_empty() {
            let codes: Vec<String> = r
                .reject_codes
                .iter()
                .take(6)
                .map(|(code, n)| format!("{code} {n}"))
                .collect();
            let _ = writeln!(out, "  reject codes: {}", codes.join(", "));
        }
        let a = &self.activity;
        let _ = writeln!(
            out,
            "activity: ws frames {}  place intents {}  creates accepted {}  fills {}  time to flat {}  writes on the wire at the halt {}",
            a.ws_frames,
            a.intents_placed,
            a.accepted_creates,
            a.fills,
            a.time_to_flat_ms
                .map_or("-".to_string(), |ms| format!("{ms} ms")),
            a.writes_in_flight_at_halt
        );
        let _ = writeln!(out, "halts:");
        for halt in &self.halts {
            let _ = writeln!(out, "  {}", halt.reason);
        }
        for expected in &self.expected_halts {
            let _ = writeln!(out, "  expected: {expected}");
        }
        let _ = writeln!(out, "checks:");
        for check in &self.checks {
            let _ = writeln!(
                out,
                "  [{}] {}: {}",
                if check.passed { "pass" } else { "FAIL" },
                check.name,
                check.detail
            );
        }
        let _ = writeln!(
            out,
            "soak {}",
            if self.passed() { "PASSED" } else { "FAILED" }
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_only_with_checks_that_all_pass() {
        let mut report = SoakReport {
            seed: 1,
            markets: 20,
            flow_ms: 1_000,
            wall_ms: 2_000,
            injected: InjectedFaults::default(),
            episodes: Episodes::default(),
            recoveries: Recoveries::default(),
            activity: Activity::default(),
            halts: Vec::new(),
            expected_halts: vec!["the manual kill".into()],
            checks: Vec::new(),
        };
        assert!(!report.passed(), "no checks is no pass");
        report.checks.push(CheckOutcome {
            name: "x",
            passed: true,
            detail: "fine".into(),
        });
        assert!(report.passed());
        assert!(report.render().contains("soak PASSED"));
        report.checks.push(CheckOutcome {
            name: "y",
            passed: false,
            detail: "broken".into(),
        });
        assert!(!report.passed());
        let text = report.render();
        assert!(
            text.contains("[FAIL] y: broken") && text.contains("soak FAILED"),
            "{text}"
        );
        assert_eq!(report.failures().len(), 1);
    }
}
