//! Recorded frames → engine inputs, with the same sequence discipline as the live client: a
//! skipped `seq`, a gap marker or a dropped connection puts the affected books on HOLD
//! (`ResyncNeeded`) and their deltas are ignored until a fresh snapshot arrives.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::core::book::{BookSide, PriceConvention};
use crate::core::engine::{ExchangeInput, Input, MarketInfo, MarketInput};
use crate::core::market::{MarketStatus, PriceRange, Ticker};
use crate::core::num::{Money, Price};
use crate::core::order::OrderSide;
use crate::core::portfolio::MarketResult;
use crate::core::portfolio::fees::{FeeMultiplier, FeeSchedule, FeeType};
use crate::kalshi::wire::{self, ServerMsg, decode_server_frame};
use crate::store::tape::{TapeEntry, TapeHeader};

/// Reference data read from a tape header.
#[derive(Debug, Clone, Default)]
pub struct TapeMarkets {
    pub infos: Vec<MarketInfo>,
    pub fees: BTreeMap<Ticker, FeeSchedule>,
}

/// Read markets' metadata and fee schedules from a header; markets it cannot read are skipped
/// (their books still replay, on the default whole-cent grid and quadratic fees).
pub fn header_markets(header: &TapeHeader) -> TapeMarkets {
    let mut series_fees: HashMap<String, FeeSchedule> = HashMap::new();
    for series in &header.series {
        let Some(ticker) = series.get("ticker").and_then(|v| v.as_str()) else {
            continue;
        };
        if let Some(schedule) = fee_schedule(series) {
            series_fees.insert(ticker.to_string(), schedule);
        }
    }
    let mut out = TapeMarkets::default();
    for market in &header.markets {
        let Some(ticker) = market.get("ticker").and_then(|v| v.as_str()) else {
            continue;
        };
        let ticker = Ticker::from(ticker);
        let event_ticker = market
            .get("event_ticker")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let price_ranges = market
            .get("price_ranges")
            .and_then(|v| v.as_array())
            .map(|ranges| {
                ranges
                    .iter()
                    .filter_map(|r| {
                        Some(PriceRange {
                            start: price_field(r, "start")?,
                            end: price_field(r, "end")?,
                            step: price_field(r, "step")?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let close_ms = market
            .get("close_time")
            .and_then(|v| v.as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis());
        let status = market
            .get("status")
            .and_then(|v| v.as_str())
            .map(market_status)
            .unwrap_or(MarketStatus::Active);
        let series = market
            .get("series_ticker")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or_else(|| {
                event_ticker
                    .as_deref()
                    .and_then(|e| e.split('-').next())
                    .map(str::to_string)
            });
        let fees = fee_schedule(market)
            .or_else(|| series.and_then(|s| series_fees.get(&s).copied()))
            .unwrap_or_else(FeeSchedule::quadratic);
        out.fees.insert(ticker.clone(), fees);
        out.infos.push(MarketInfo {
            ticker,
            event_ticker,
            price_ranges,
            close_ms,
            status,
            strike_rank: None,
        });
    }
    out
}

fn price_field(value: &serde_json::Value, key: &str) -> Option<Price> {
    value.get(key)?.as_str().and_then(|s| Price::parse(s).ok())
}

fn fee_schedule(value: &serde_json::Value) -> Option<FeeSchedule> {
    let fee_type = match value.get("fee_type")?.as_str()? {
        "quadratic" => FeeType::Quadratic,
        "quadratic_with_maker_fees" | "quadratic_with_combo_maker_fees" => {
            FeeType::QuadraticWithMakerFees
        }
        "flat" => FeeType::Flat,
        _ => return None,
    };
    let multiplier = match value.get("fee_multiplier") {
        Some(serde_json::Value::Number(n)) => FeeMultiplier::parse(&n.to_string()).ok()?,
        Some(serde_json::Value::String(s)) => FeeMultiplier::parse(s).ok()?,
        _ => FeeMultiplier::ONE,
    };
    Some(FeeSchedule::new(fee_type, multiplier))
}

fn market_status(text: &str) -> MarketStatus {
    match text {
        "initialized" | "unopened" => MarketStatus::Initialized,
        "inactive" | "paused" => MarketStatus::Inactive,
        "closed" => MarketStatus::Closed,
        "determined" => MarketStatus::Determined,
        "disputed" => MarketStatus::Disputed,
        "amended" => MarketStatus::Amended,
        "finalized" | "settled" => MarketStatus::Finalized,
        _ => MarketStatus::Active,
    }
}

/// What one tape entry means for the replay.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    pub inputs: Vec<Input>,
    /// A market was determined: settle positions at this result.
    pub settlements: Vec<(Ticker, MarketResult)>,
    /// The frame could not be read (kept out of the replay, counted in the report).
    pub malformed: bool,
}

/// Turns tape entries into engine inputs, checking book sequence numbers per subscription.
#[derive(Debug)]
pub struct FeedDecoder {
    /// sid → last book seq.
    last_seq: HashMap<u64, u64>,
    /// sid → markets its books came from.
    sid_markets: HashMap<u64, BTreeSet<Ticker>>,
    /// Markets whose deltas are ignored until a snapshot.
    awaiting: BTreeSet<Ticker>,
    known: BTreeSet<Ticker>,
    convention: PriceConvention,
}

impl Default for FeedDecoder {
    fn default() -> FeedDecoder {
        FeedDecoder::new()
    }
}

impl FeedDecoder {
    /// Tapes hold frames as Kalshi sends them by default (`use_yes_price` off).
    pub fn new() -> FeedDecoder {
        FeedDecoder {
            last_seq: HashMap::new(),
            sid_markets: HashMap::new(),
            awaiting: BTreeSet::new(),
            known: BTreeSet::new(),
            convention: PriceConvention::NoPrices,
        }
    }

    /// A decoder for the frames of a tape with this header.
    pub fn for_header(header: &TapeHeader) -> FeedDecoder {
        FeedDecoder {
            convention: PriceConvention::from_use_yes_price(header.use_yes_price),
            ..FeedDecoder::new()
        }
    }

    /// Markets currently held for a resync.
    pub fn awaiting(&self) -> &BTreeSet<Ticker> {
        &self.awaiting
    }

    pub fn decode(&mut self, entry: &TapeEntry) -> Decoded {
        let mut out = Decoded::default();
        match entry {
            TapeEntry::Frame { text, .. } => match decode_server_frame(text) {
                Ok(frame) => self.frame(frame.sid, frame.seq, frame.msg, &mut out),
                Err(_) => out.malformed = true,
            },
            TapeEntry::Connected { .. } | TapeEntry::Note { .. } => {}
            TapeEntry::Disconnected { .. } => {
                // Sequence numbers restart on the next connection.
                self.last_seq.clear();
                self.sid_markets.clear();
                let tickers: Vec<Ticker> = self.known.iter().cloned().collect();
                self.hold(tickers, &mut out);
            }
            TapeEntry::Gap { tickers, .. } => {
                let tickers: Vec<Ticker> = if tickers.is_empty() {
                    self.known.iter().cloned().collect()
                } else {
                    tickers.iter().map(|t| Ticker::from(t.as_str())).collect()
                };
                self.hold(tickers, &mut out);
            }
        }
        out
    }

    fn hold(&mut self, tickers: Vec<Ticker>, out: &mut Decoded) {
        if tickers.is_empty() {
            return;
        }
        self.awaiting.extend(tickers.iter().cloned());
        out.inputs
            .push(Input::Market(MarketInput::ResyncNeeded { tickers }));
    }

    fn frame(&mut self, sid: Option<u64>, seq: Option<u64>, msg: ServerMsg, out: &mut Decoded) {
        let convention = self.convention;
        match msg {
            ServerMsg::OrderbookSnapshot(snapshot) => {
                let ticker = snapshot.market_ticker.clone();
                if let (Some(sid), Some(seq)) = (sid, seq) {
                    self.last_seq.insert(sid, seq);
                    self.sid_markets
                        .entry(sid)
                        .or_default()
                        .insert(ticker.clone());
                }
                self.known.insert(ticker.clone());
                self.awaiting.remove(&ticker);
                out.inputs.push(snapshot_input(&snapshot, convention));
            }
            ServerMsg::OrderbookDelta(delta) => {
                if let (Some(sid), Some(seq)) = (sid, seq) {
                    // checked: a corrupt tape's seq of u64::MAX must read as a gap, not overflow.
                    let gap = self
                        .last_seq
                        .get(&sid)
                        .is_some_and(|last| last.checked_add(1) != Some(seq));
                    self.last_seq.insert(sid, seq);
                    if gap {
                        let tickers: Vec<Ticker> = self
                            .sid_markets
                            .get(&sid)
                            .map(|m| m.iter().cloned().collect())
                            .unwrap_or_else(|| vec![delta.market_ticker.clone()]);
                        self.hold(tickers, out);
                    }
                }
                if self.awaiting.contains(&delta.market_ticker) {
                    return;
                }
                out.inputs.push(delta_input(&delta, convention));
            }
            ServerMsg::Trade(trade) => out.inputs.extend(trade_input(&trade)),
            ServerMsg::Ticker(ticker) => out.inputs.push(ticker_input(&ticker)),
            ServerMsg::MarketLifecycleV2(lifecycle)
            | ServerMsg::MultivariateMarketLifecycle(lifecycle) => {
                lifecycle_inputs(&lifecycle, out);
            }
            _ => {}
        }
    }
}

pub fn snapshot_input(snapshot: &wire::OrderbookSnapshot, convention: PriceConvention) -> Input {
    Input::Market(MarketInput::Snapshot {
        ticker: snapshot.market_ticker.clone(),
        yes: snapshot.yes_dollars_fp.iter().map(|l| (l.0, l.1)).collect(),
        no: snapshot.no_dollars_fp.iter().map(|l| (l.0, l.1)).collect(),
        convention,
        ts_ms: None,
    })
}

pub fn delta_input(delta: &wire::OrderbookDelta, convention: PriceConvention) -> Input {
    Input::Market(MarketInput::Delta {
        ticker: delta.market_ticker.clone(),
        side: match delta.side {
            wire::OutcomeSide::Yes => BookSide::Yes,
            wire::OutcomeSide::No => BookSide::No,
        },
        price: delta.price_dollars,
        delta: delta.delta_fp,
        convention,
        ts_ms: delta.ts_ms,
    })
}

/// A trade whose taker side is not given cannot be placed against the queue: skipped.
pub fn trade_input(trade: &wire::WsTrade) -> Option<Input> {
    let outcome = trade.taker_outcome()?;
    Some(Input::Market(MarketInput::Trade {
        ticker: trade.market_ticker.clone(),
        yes_price: trade.yes_price_dollars,
        count: trade.count_fp,
        taker_side: match outcome {
            wire::OutcomeSide::Yes => OrderSide::Bid,
            wire::OutcomeSide::No => OrderSide::Ask,
        },
        ts_ms: trade.ts_ms,
    }))
}

pub fn ticker_input(ticker: &wire::WsTicker) -> Input {
    Input::Market(MarketInput::Ticker {
        ticker: ticker.market_ticker.clone(),
        last_price: Some(ticker.price_dollars),
        yes_bid: Some(ticker.yes_bid_dollars),
        yes_ask: Some(ticker.yes_ask_dollars),
        ts_ms: ticker.ts_ms,
    })
}

/// Lifecycle news: pauses, close times, and determinations (settlements).
pub fn lifecycle_inputs(lifecycle: &wire::MarketLifecycle, out: &mut Decoded) {
    {
        use wire::LifecycleEventType as Kind;
        let ticker = lifecycle.market_ticker.clone();
        match lifecycle.event_type {
            Kind::Deactivated | Kind::Activated => {
                let paused = lifecycle
                    .is_deactivated
                    .unwrap_or(lifecycle.event_type == Kind::Deactivated);
                out.inputs
                    .push(Input::Exchange(ExchangeInput::MarketPaused {
                        ticker,
                        paused,
                    }));
            }
            Kind::Determined | Kind::Settled => {
                let result = match lifecycle.result {
                    Some(wire::MarketResult::Yes) => Some(MarketResult::Yes),
                    Some(wire::MarketResult::No) => Some(MarketResult::No),
                    Some(wire::MarketResult::Scalar) => {
                        lifecycle.settlement_value.map(MarketResult::Scalar)
                    }
                    _ => None,
                };
                if let Some(result) = result {
                    out.settlements.push((ticker.clone(), result));
                    out.inputs.push(Input::Exchange(ExchangeInput::Settled {
                        ticker,
                        result,
                        fee: Money::ZERO,
                        ts_ms: lifecycle
                            .settled_ts
                            .or(lifecycle.determination_ts)
                            .map(|s| s.saturating_mul(1000))
                            .unwrap_or(0),
                    }));
                } else {
                    out.inputs
                        .push(Input::Exchange(ExchangeInput::MarketStatus {
                            ticker,
                            status: MarketStatus::Determined,
                        }));
                }
            }
            Kind::CloseDateUpdated | Kind::Created => {
                if let Some(close_ts) = lifecycle.close_ts {
                    out.inputs.push(Input::Exchange(ExchangeInput::CloseTime {
                        ticker,
                        close_ms: close_ts.saturating_mul(1000),
                    }));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: serde_json::Value) -> TapeEntry {
        TapeEntry::Frame {
            rx_ms: 1,
            conn: 1,
            text: text.to_string(),
        }
    }

    fn delta(seq: u64) -> TapeEntry {
        frame(
            serde_json::json!({"type": "orderbook_delta", "sid": 4, "seq": seq, "msg": {
            "market_ticker": "KX-A", "market_id": "a", "price_dollars": "0.40",
            "delta_fp": "1.00", "side": "yes"}}),
        )
    }

    #[test]
    fn a_skipped_seq_holds_the_book_until_its_snapshot() {
        let mut decoder = FeedDecoder::new();
        let snapshot = frame(
            serde_json::json!({"type": "orderbook_snapshot", "sid": 4, "seq": 1,
            "msg": {"market_ticker": "KX-A", "market_id": "a",
                    "yes_dollars_fp": [["0.40", "5.00"]], "no_dollars_fp": []}}),
        );
        assert_eq!(decoder.decode(&snapshot).inputs.len(), 1);
        assert_eq!(decoder.decode(&delta(2)).inputs.len(), 1);
        let gap = decoder.decode(&delta(4));
        assert_eq!(
            gap.inputs,
            vec![Input::Market(MarketInput::ResyncNeeded {
                tickers: vec![Ticker::from("KX-A")]
            })]
        );
        assert!(decoder.decode(&delta(5)).inputs.is_empty(), "held");
        assert!(decoder.decode(&snapshot).inputs.len() == 1);
        assert!(decoder.awaiting().is_empty());
        assert!(
            decoder
                .decode(&frame(serde_json::json!({"type": "orderbook_delta"})))
                .malformed
        );
    }

    #[test]
    fn header_gives_grids_close_times_and_series_fees() {
        let header = TapeHeader {
            version: 1,
            environment: "sim".into(),
            started_ms: 0,
            markets: vec![serde_json::json!({
                "ticker": "KXHIGHNY-26NOV25-B56.5", "event_ticker": "KXHIGHNY-26NOV25",
                "status": "active", "close_time": "2026-11-25T21:00:00Z",
                "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]})],
            series: vec![serde_json::json!({"ticker": "KXHIGHNY",
                "fee_type": "quadratic_with_maker_fees", "fee_multiplier": 0.5})],
            use_yes_price: false,
        };
        let markets = header_markets(&header);
        assert_eq!(markets.infos.len(), 1);
        assert_eq!(markets.infos[0].price_ranges.len(), 1);
        assert_eq!(markets.infos[0].close_ms, Some(1_795_640_400_000));
        let fees = markets.fees[&Ticker::from("KXHIGHNY-26NOV25-B56.5")];
        assert_eq!(fees.fee_type, FeeType::QuadraticWithMakerFees);
        assert_eq!(fees.multiplier, FeeMultiplier::parse("0.5").unwrap());
    }
}
