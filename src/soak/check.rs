//! The end-state comparisons of a soak: each takes plain data read from the desk, the
//! simulator and the journal, and says pass or fail with the evidence.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::num::{Count, Price};
use crate::kalshi::wire::OrderbookFp;

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckOutcome {
    pub name: &'static str,
    pub passed: bool,
    /// What was compared, or the first differences found.
    pub detail: String,
}

impl CheckOutcome {
    fn new(name: &'static str, problems: Vec<String>, compared: String) -> CheckOutcome {
        let passed = problems.is_empty();
        let detail = if passed {
            compared
        } else {
            let shown: Vec<&str> = problems.iter().take(8).map(String::as_str).collect();
            let more = problems.len().saturating_sub(shown.len());
            let mut detail = shown.join("; ");
            if more > 0 {
                detail.push_str(&format!("; … and {more} more"));
            }
            detail
        };
        CheckOutcome {
            name,
            passed,
            detail,
        }
    }
}

/// A resting order as one side sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RestingOrder {
    pub client_order_id: String,
    pub ticker: String,
    /// "Bid" or "Ask" (YES side).
    pub side: String,
    pub yes_price: Price,
    pub remaining: Count,
}

/// A book as YES bids (best first) and YES asks (best first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookLevels {
    pub yes_bids: Vec<(Price, Count)>,
    pub yes_asks: Vec<(Price, Count)>,
}

impl BookLevels {
    /// The REST orderbook: YES bids and NO bids, whatever order they come in; a NO bid at p
    /// is a YES ask at 1 − p. Empty levels are dropped.
    pub fn from_rest(book: &OrderbookFp) -> BookLevels {
        let mut yes_bids: Vec<(Price, Count)> = book
            .yes_dollars
            .iter()
            .filter(|level| level.1 > Count::ZERO)
            .map(|level| (level.0, level.1))
            .collect();
        yes_bids.sort_by_key(|level| std::cmp::Reverse(level.0));
        let mut yes_asks: Vec<(Price, Count)> = book
            .no_dollars
            .iter()
            .filter(|level| level.1 > Count::ZERO)
            .map(|level| (level.0.complement(), level.1))
            .collect();
        yes_asks.sort_by_key(|level| level.0);
        BookLevels { yes_bids, yes_asks }
    }
}

fn show_levels(levels: &[(Price, Count)]) -> String {
    let shown: Vec<String> = levels
        .iter()
        .take(4)
        .map(|(p, c)| format!("{}x{}", p.to_dollars(), c.to_fp()))
        .collect();
    format!(
        "[{}{}]",
        shown.join(" "),
        if levels.len() > 4 { " …" } else { "" }
    )
}

/// Local books equal the exchange's, market by market.
pub fn compare_books(
    local: &BTreeMap<String, BookLevels>,
    exchange: &BTreeMap<String, BookLevels>,
) -> CheckOutcome {
    let mut problems = Vec::new();
    for (ticker, theirs) in exchange {
        match local.get(ticker) {
            None => problems.push(format!("{ticker}: no local book")),
            Some(ours) if ours != theirs => {
                if ours.yes_bids != theirs.yes_bids {
                    problems.push(format!(
                        "{ticker}: YES bids local {} exchange {}",
                        show_levels(&ours.yes_bids),
                        show_levels(&theirs.yes_bids)
                    ));
                }
                if ours.yes_asks != theirs.yes_asks {
                    problems.push(format!(
                        "{ticker}: YES asks local {} exchange {}",
                        show_levels(&ours.yes_asks),
                        show_levels(&theirs.yes_asks)
                    ));
                }
            }
            Some(_) => {}
        }
    }
    CheckOutcome::new(
        "books equal the exchange's",
        problems,
        format!("{} books, every level", exchange.len()),
    )
}

/// Local open orders equal the exchange's resting orders (id, market, side, price, size).
pub fn compare_orders(local: &[RestingOrder], exchange: &[RestingOrder]) -> CheckOutcome {
    let ours: BTreeMap<&str, &RestingOrder> = local
        .iter()
        .map(|o| (o.client_order_id.as_str(), o))
        .collect();
    let theirs: BTreeMap<&str, &RestingOrder> = exchange
        .iter()
        .map(|o| (o.client_order_id.as_str(), o))
        .collect();
    let mut problems = Vec::new();
    for (id, order) in &theirs {
        match ours.get(id) {
            None => problems.push(format!(
                "{id} rests at the exchange ({} {} {}x{}) but not locally",
                order.ticker,
                order.side,
                order.yes_price.to_dollars(),
                order.remaining.to_fp()
            )),
            Some(mine) if mine != order => problems.push(format!(
                "{id}: local {} {}x{}, exchange {} {}x{}",
                mine.side,
                mine.yes_price.to_dollars(),
                mine.remaining.to_fp(),
                order.side,
                order.yes_price.to_dollars(),
                order.remaining.to_fp()
            )),
            Some(_) => {}
        }
    }
    for id in ours.keys().filter(|id| !theirs.contains_key(*id)) {
        problems.push(format!("{id} is open locally but not at the exchange"));
    }
    CheckOutcome::new(
        "resting orders equal the exchange's",
        problems,
        format!("{} resting orders", theirs.len()),
    )
}

/// Local positions equal the exchange's; a market missing on one side counts as flat.
pub fn compare_positions(
    local: &BTreeMap<String, Count>,
    exchange: &BTreeMap<String, Count>,
) -> CheckOutcome {
    let tickers: BTreeSet<&String> = local.keys().chain(exchange.keys()).collect();
    let mut problems = Vec::new();
    let mut open = 0usize;
    for ticker in tickers {
        let ours = local.get(ticker).copied().unwrap_or(Count::ZERO);
        let theirs = exchange.get(ticker).copied().unwrap_or(Count::ZERO);
        if theirs != Count::ZERO {
            open += 1;
        }
        if ours != theirs {
            problems.push(format!(
                "{ticker}: local {} exchange {}",
                ours.to_fp(),
                theirs.to_fp()
            ));
        }
    }
    CheckOutcome::new(
        "positions equal the exchange's",
        problems,
        format!("{open} open positions"),
    )
}

/// No `client_order_id` names two orders at the exchange, nor two accepted creates in its log.
pub fn no_duplicate_orders(order_records: &[String], accepted_creates: &[String]) -> CheckOutcome {
    let mut problems = Vec::new();
    for (what, ids) in [
        ("orders", order_records),
        ("accepted creates in the order log", accepted_creates),
    ] {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for id in ids {
            *seen.entry(id.as_str()).or_default() += 1;
        }
        for (id, times) in seen.into_iter().filter(|(_, n)| *n > 1) {
            problems.push(format!("{id}: {times} {what}"));
        }
    }
    CheckOutcome::new(
        "no order created twice",
        problems,
        format!(
            "{} orders, {} accepted creates",
            order_records.len(),
            accepted_creates.len()
        ),
    )
}

/// Every fill of ours at the exchange is in the journal (by `trade_id`), exactly once.
pub fn no_missing_fills(
    exchange_trade_ids: &[String],
    journal_trade_ids: &[String],
) -> CheckOutcome {
    let mut journaled: BTreeMap<&str, usize> = BTreeMap::new();
    for id in journal_trade_ids {
        *journaled.entry(id.as_str()).or_default() += 1;
    }
    let mut problems = Vec::new();
    for id in exchange_trade_ids {
        match journaled.get(id.as_str()) {
            None => problems.push(format!("fill {id} is not in the journal")),
            Some(n) if *n > 1 => problems.push(format!("fill {id} is journaled {n} times")),
            Some(_) => {}
        }
    }
    let ours: BTreeSet<&str> = exchange_trade_ids.iter().map(String::as_str).collect();
    for id in journaled.keys().filter(|id| !ours.contains(*id)) {
        problems.push(format!("journal fill {id} is unknown to the exchange"));
    }
    CheckOutcome::new(
        "no fill missing from the journal",
        problems,
        format!("{} fills", exchange_trade_ids.len()),
    )
}

/// A non-cancel write (create, amend) the exchange accepted, from its order log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedWrite {
    pub now_ms: i64,
    pub kind: String,
    pub client_order_id: Option<String>,
}

/// A span the desk was halted: from the halt instant to the reset command (or the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HaltWindow {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// No non-cancel write accepted while halted. A write sent before the halt instant may still
/// land a moment after it (it was on the wire when the key was pressed), so writes within
/// `in_flight_ms` of the halt are reported apart and do not fail the check.
pub fn no_writes_while_halted(
    writes: &[AcceptedWrite],
    windows: &[HaltWindow],
    in_flight_ms: i64,
) -> (CheckOutcome, usize) {
    let mut problems = Vec::new();
    let mut in_flight = 0usize;
    for write in writes {
        for window in windows {
            if write.now_ms < window.from_ms || write.now_ms > window.to_ms {
                continue;
            }
            let after = write.now_ms - window.from_ms;
            if after <= in_flight_ms {
                in_flight += 1;
            } else {
                problems.push(format!(
                    "{} {} accepted {after} ms after the halt",
                    write.kind,
                    write.client_order_id.as_deref().unwrap_or("(no id)")
                ));
            }
        }
    }
    let check = CheckOutcome::new(
        "no non-cancel write accepted while halted",
        problems,
        format!(
            "{} halted span(s); {in_flight} write(s) already on the wire at the halt",
            windows.len()
        ),
    );
    (check, in_flight)
}

/// A halt the desk went through.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HaltSeen {
    pub wall_ms: i64,
    pub reason: String,
}

/// Every halt is one the soak caused on purpose (its reason contains one of `expected`).
pub fn only_expected_halts(halts: &[HaltSeen], expected: &[&str]) -> CheckOutcome {
    let problems: Vec<String> = halts
        .iter()
        .filter(|h| !expected.iter().any(|e| h.reason.contains(e)))
        .map(|h| format!("unexpected halt: {}", h.reason))
        .collect();
    CheckOutcome::new(
        "no halt except the expected ones",
        problems,
        format!("{} halt(s), all expected", halts.len()),
    )
}

/// Every scripted step got what it waited for from the desk (kill flat, reset taken, quiet).
pub fn script_completed(problems: &[String]) -> CheckOutcome {
    CheckOutcome::new(
        "every scripted step completed",
        problems.to_vec(),
        "kill flat, reset taken, desk quiet".to_string(),
    )
}

/// No panic anywhere in the library while the soak ran.
pub fn no_panics(panics: &[String]) -> CheckOutcome {
    CheckOutcome::new(
        "no panic",
        panics.iter().map(|p| format!("panic: {p}")).collect(),
        "0 panics".to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kalshi::wire::PriceLevel;

    fn p(text: &str) -> Price {
        Price::parse(text).unwrap()
    }

    fn order(id: &str, price: &str, remaining: i64) -> RestingOrder {
        RestingOrder {
            client_order_id: id.into(),
            ticker: "M".into(),
            side: "Bid".into(),
            yes_price: p(price),
            remaining: Count::from_contracts(remaining),
        }
    }

    #[test]
    fn rest_books_become_yes_bids_and_derived_asks_best_first() {
        let rest = OrderbookFp {
            yes_dollars: vec![
                PriceLevel(p("0.40"), Count::from_contracts(5)),
                PriceLevel(p("0.42"), Count::from_contracts(1)),
                PriceLevel(p("0.10"), Count::ZERO),
            ],
            no_dollars: vec![
                PriceLevel(p("0.50"), Count::from_contracts(2)),
                PriceLevel(p("0.55"), Count::from_contracts(3)),
            ],
        };
        let book = BookLevels::from_rest(&rest);
        assert_eq!(
            book.yes_bids,
            vec![
                (p("0.42"), Count::from_contracts(1)),
                (p("0.40"), Count::from_contracts(5))
            ]
        );
        assert_eq!(
            book.yes_asks,
            vec![
                (p("0.45"), Count::from_contracts(3)),
                (p("0.50"), Count::from_contracts(2))
            ]
        );
        let mut exchange = BTreeMap::new();
        exchange.insert("M".to_string(), book.clone());
        let mut local = exchange.clone();
        assert!(compare_books(&local, &exchange).passed);
        local.get_mut("M").unwrap().yes_bids[0].1 = Count::from_contracts(2);
        let verdict = compare_books(&local, &exchange);
        assert!(!verdict.passed);
        assert!(verdict.detail.contains("YES bids"), "{}", verdict.detail);
        assert!(!compare_books(&BTreeMap::new(), &exchange).passed);
    }

    #[test]
    fn orders_must_match_by_id_price_and_size_both_ways() {
        let exchange = vec![order("a", "0.40", 2), order("b", "0.41", 1)];
        assert!(compare_orders(&exchange, &exchange).passed);
        let missing = compare_orders(&exchange[..1], &exchange);
        assert!(!missing.passed && missing.detail.contains("b rests"));
        let ghost = compare_orders(&exchange, &exchange[..1]);
        assert!(!ghost.passed && ghost.detail.contains("not at the exchange"));
        let resized = compare_orders(&[order("a", "0.40", 1), order("b", "0.41", 1)], &exchange);
        assert!(!resized.passed && resized.detail.contains("a:"));
    }

    #[test]
    fn positions_missing_on_one_side_count_as_flat() {
        let mut local = BTreeMap::new();
        let mut exchange = BTreeMap::new();
        local.insert("A".to_string(), Count::ZERO);
        exchange.insert("B".to_string(), Count::ZERO);
        assert!(compare_positions(&local, &exchange).passed);
        exchange.insert("C".to_string(), Count::from_contracts(-3));
        let verdict = compare_positions(&local, &exchange);
        assert!(!verdict.passed && verdict.detail.contains("C:"));
    }

    #[test]
    fn duplicates_are_found_in_records_and_in_the_log() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(no_duplicate_orders(&ids(&["a", "b"]), &ids(&["a", "b"])).passed);
        assert!(!no_duplicate_orders(&ids(&["a", "a"]), &ids(&["a"])).passed);
        let logged = no_duplicate_orders(&ids(&["a"]), &ids(&["a", "a"]));
        assert!(!logged.passed && logged.detail.contains("order log"));
    }

    #[test]
    fn fills_must_be_journaled_exactly_once() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(no_missing_fills(&ids(&["t1", "t2"]), &ids(&["t2", "t1"])).passed);
        assert!(!no_missing_fills(&ids(&["t1", "t2"]), &ids(&["t1"])).passed);
        assert!(!no_missing_fills(&ids(&["t1"]), &ids(&["t1", "t1"])).passed);
        assert!(!no_missing_fills(&ids(&["t1"]), &ids(&["t1", "t9"])).passed);
    }

    #[test]
    fn writes_inside_a_halt_fail_unless_they_were_on_the_wire() {
        let write = |now_ms| AcceptedWrite {
            now_ms,
            kind: "create".into(),
            client_order_id: Some("x".into()),
        };
        let windows = [HaltWindow {
            from_ms: 1_000,
            to_ms: 5_000,
        }];
        let (ok, in_flight) =
            no_writes_while_halted(&[write(999), write(1_010), write(6_000)], &windows, 50);
        assert!(ok.passed, "{}", ok.detail);
        assert_eq!(in_flight, 1);
        let (bad, _) = no_writes_while_halted(&[write(1_200)], &windows, 50);
        assert!(!bad.passed && bad.detail.contains("200 ms after"));
    }

    #[test]
    fn only_the_named_halts_are_expected() {
        let halt = |reason: &str| HaltSeen {
            wall_ms: 1,
            reason: reason.into(),
        };
        assert!(
            only_expected_halts(
                &[halt("kill switch: soak manual kill")],
                &["soak manual kill"]
            )
            .passed
        );
        let verdict = only_expected_halts(&[halt("reject streak")], &["soak manual kill"]);
        assert!(!verdict.passed && verdict.detail.contains("reject streak"));
        assert!(no_panics(&[]).passed);
        assert!(!no_panics(&["src/x.rs:1".into()]).passed);
    }
}
