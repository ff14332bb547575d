//! What the exchange publishes to WS sessions, and the frames built from it.
//!
//! The exchange's events are turned into [`FeedItem`]s once, under the exchange lock, and
//! broadcast as numbered [`Publication`]s. A session routes each item to its subscriptions and
//! fills in what differs per subscription: sid, seq and the price convention.

use super::commands::Channel;
use crate::core::num::{Count, Price};
use serde_json::{Value, json};

/// Which ladder a book level sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookLadder {
    /// YES bids, priced in YES dollars.
    Yes,
    /// NO bids, priced in NO dollars (`1 − YES`).
    No,
}

impl BookLadder {
    pub fn name(self) -> &'static str {
        match self {
            BookLadder::Yes => "yes",
            BookLadder::No => "no",
        }
    }
}

/// Whose order changed a level (sent only to that user's sessions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaOwner {
    pub user_id: String,
    pub client_order_id: Option<String>,
    pub subaccount: Option<u32>,
}

/// A change of resting size at one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookDelta {
    pub market_ticker: String,
    pub market_id: String,
    pub ladder: BookLadder,
    /// The level's price on its own ladder (a NO level is in NO dollars).
    pub price: Price,
    pub delta: Count,
    pub owner: Option<DeltaOwner>,
    pub ts_ms: i64,
}

/// A whole book: levels as (price on its own ladder, size), any order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BookSnapshot {
    pub market_ticker: String,
    pub market_id: String,
    pub yes: Vec<(Price, Count)>,
    pub no: Vec<(Price, Count)>,
}

/// One thing the exchange published.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedItem {
    Book(BookDelta),
    /// A non-sequenced or lifecycle message: its `type`, its `msg`, the channel that carries it,
    /// the market it concerns (for market filters) and the user it belongs to (private channels).
    Message {
        channel: Channel,
        msg_type: &'static str,
        market_ticker: Option<String>,
        user_id: Option<String>,
        msg: Value,
    },
}

/// A batch of items from one exchange write or tick. `number` increases by one per publication;
/// a book snapshot taken under the same lock records the number it already includes.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub number: u64,
    pub items: Vec<FeedItem>,
}

/// The price a level is reported at: NO levels flip to YES dollars under `use_yes_price`.
pub fn reported_price(ladder: BookLadder, price: Price, use_yes_price: bool) -> Price {
    match ladder {
        BookLadder::No if use_yes_price => price.complement(),
        _ => price,
    }
}

fn rfc3339(ts_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ts_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The `orderbook_delta` frame of `delta` for one subscription; `viewer` is the session's user.
pub fn delta_frame(
    delta: &BookDelta,
    sid: u64,
    seq: u64,
    use_yes_price: bool,
    viewer: &str,
) -> Value {
    let mut msg = json!({
        "market_ticker": delta.market_ticker,
        "market_id": delta.market_id,
        "price_dollars": reported_price(delta.ladder, delta.price, use_yes_price).to_dollars(),
        "delta_fp": delta.delta.to_fp(),
        "side": delta.ladder.name(),
        "ts": rfc3339(delta.ts_ms),
        "ts_ms": delta.ts_ms,
    });
    if let Some(owner) = delta.owner.as_ref().filter(|o| o.user_id == viewer) {
        if let Some(client_order_id) = &owner.client_order_id {
            msg["client_order_id"] = json!(client_order_id);
        }
        if let Some(subaccount) = owner.subaccount.filter(|s| *s > 0) {
            msg["subaccount"] = json!(subaccount);
        }
    }
    json!({ "type": "orderbook_delta", "sid": sid, "seq": seq, "msg": msg })
}

/// The `orderbook_snapshot` frame; an empty side's key is left out (DIGEST 7.3).
pub fn snapshot_frame(
    book: &BookSnapshot,
    sid: u64,
    seq: u64,
    use_yes_price: bool,
    descending: bool,
) -> Value {
    let ladder = |levels: &[(Price, Count)], side: BookLadder| {
        let mut reported: Vec<(Price, Count)> = levels
            .iter()
            .filter(|(_, size)| *size > Count::ZERO)
            .map(|(price, size)| (reported_price(side, *price, use_yes_price), *size))
            .collect();
        reported.sort_by_key(|(price, _)| *price);
        if descending {
            reported.reverse();
        }
        reported
            .into_iter()
            .map(|(price, size)| json!([price.to_dollars(), size.to_fp()]))
            .collect::<Vec<_>>()
    };
    let mut msg = json!({ "market_ticker": book.market_ticker, "market_id": book.market_id });
    let yes = ladder(&book.yes, BookLadder::Yes);
    if !yes.is_empty() {
        msg["yes_dollars_fp"] = Value::Array(yes);
    }
    let no = ladder(&book.no, BookLadder::No);
    if !no.is_empty() {
        msg["no_dollars_fp"] = Value::Array(no);
    }
    json!({ "type": "orderbook_snapshot", "sid": sid, "seq": seq, "msg": msg })
}

/// A non-book message frame: `seq` only on sequenced channels.
pub fn message_frame(msg_type: &str, sid: u64, seq: Option<u64>, msg: &Value) -> Value {
    let mut frame = json!({ "type": msg_type, "sid": sid, "msg": msg });
    if let Some(seq) = seq {
        frame["seq"] = json!(seq);
    }
    frame
}

fn with_id(mut frame: Value, id: Option<u64>) -> Value {
    if let Some(id) = id {
        frame["id"] = json!(id);
    }
    frame
}

pub fn subscribed_frame(id: Option<u64>, channel: Channel, sid: u64) -> Value {
    with_id(
        json!({ "type": "subscribed", "msg": { "channel": channel.name(), "sid": sid } }),
        id,
    )
}

pub fn unsubscribed_frame(id: Option<u64>, sid: u64, seq: u64) -> Value {
    with_id(
        json!({ "type": "unsubscribed", "sid": sid, "seq": seq }),
        id,
    )
}

pub fn ok_frame(id: Option<u64>, sid: u64, seq: Option<u64>, market_tickers: &[String]) -> Value {
    let mut frame =
        json!({ "type": "ok", "sid": sid, "msg": { "market_tickers": market_tickers } });
    if let Some(seq) = seq {
        frame["seq"] = json!(seq);
    }
    with_id(frame, id)
}

pub fn list_frame(id: Option<u64>, subscriptions: &[(Channel, u64)]) -> Value {
    let list: Vec<Value> = subscriptions
        .iter()
        .map(|(channel, sid)| json!({ "channel": channel.name(), "sid": sid }))
        .collect();
    with_id(json!({ "type": "ok", "msg": list }), id)
}

pub fn error_frame(id: Option<u64>, code: u32, text: &str, market_ticker: Option<&str>) -> Value {
    let mut msg = json!({ "code": code, "msg": text });
    if let Some(ticker) = market_ticker {
        msg["market_ticker"] = json!(ticker);
    }
    with_id(json!({ "type": "error", "msg": msg }), id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(text: &str) -> Price {
        Price::parse(text).unwrap()
    }
    fn count(text: &str) -> Count {
        Count::parse(text).unwrap()
    }

    #[test]
    fn snapshot_omits_empty_sides_and_flips_no_prices_on_request() {
        let book = BookSnapshot {
            market_ticker: "M".into(),
            market_id: "id".into(),
            yes: vec![(price("0.42"), count("10")), (price("0.41"), count("3"))],
            no: vec![],
        };
        let frame = snapshot_frame(&book, 2, 1, false, false);
        assert_eq!(
            frame["msg"]["yes_dollars_fp"],
            json!([["0.4100", "3.00"], ["0.4200", "10.00"]])
        );
        assert!(frame["msg"].get("no_dollars_fp").is_none());

        let book = BookSnapshot {
            no: vec![(price("0.30"), count("5")), (price("0.40"), count("1"))],
            ..book
        };
        let yes_priced = snapshot_frame(&book, 2, 1, true, false);
        assert_eq!(
            yes_priced["msg"]["no_dollars_fp"],
            json!([["0.6000", "1.00"], ["0.7000", "5.00"]])
        );
        let descending = snapshot_frame(&book, 2, 1, false, true);
        assert_eq!(
            descending["msg"]["no_dollars_fp"],
            json!([["0.4000", "1.00"], ["0.3000", "5.00"]])
        );
    }

    #[test]
    fn delta_names_the_owner_only_to_the_owner() {
        let delta = BookDelta {
            market_ticker: "M".into(),
            market_id: "id".into(),
            ladder: BookLadder::No,
            price: price("0.3000"),
            delta: Count::parse_signed("-2.50").unwrap(),
            owner: Some(DeltaOwner {
                user_id: "u1".into(),
                client_order_id: Some("c1".into()),
                subaccount: None,
            }),
            ts_ms: 1_700_000_000_000,
        };
        let own = delta_frame(&delta, 4, 9, true, "u1");
        assert_eq!(own["msg"]["price_dollars"], "0.7000");
        assert_eq!(own["msg"]["delta_fp"], "-2.50");
        assert_eq!(own["msg"]["client_order_id"], "c1");
        let other = delta_frame(&delta, 4, 9, false, "u2");
        assert_eq!(other["msg"]["price_dollars"], "0.3000");
        assert!(other["msg"].get("client_order_id").is_none());
    }
}
