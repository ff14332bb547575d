//! Turning the exchange's wire events into WS feed items: the routing keys a session needs
//! (channel, market, owner) next to the spec-shaped `msg`.

use super::ws::commands::Channel;
use super::ws::feed::{BookDelta, BookLadder, DeltaOwner, FeedItem};
use crate::core::num::{Count, Money, Price};
use crate::kalshi::wire;
use crate::sim::exchange::WireEvent;
use crate::sim::exchange::events::TickerSnapshot;
use serde_json::{Value, json};

fn rfc3339(ts_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ts_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn whole_dollars(money: Money) -> i64 {
    money.micros().max(0) / 1_000_000
}

/// The feed item of a wire event; `market_id` names a market's uuid.
pub fn feed_item(event: WireEvent, market_id: impl Fn(&str) -> String) -> FeedItem {
    let encode = |value: Result<Value, serde_json::Error>| value.unwrap_or(Value::Null);
    match event {
        WireEvent::BookDelta {
            ticker,
            side,
            price,
            delta,
            user_id,
            client_order_id,
            subaccount,
            ts_ms,
        } => FeedItem::Book(BookDelta {
            market_id: market_id(ticker.as_str()),
            market_ticker: ticker.to_string(),
            ladder: match side {
                wire::OutcomeSide::Yes => BookLadder::Yes,
                wire::OutcomeSide::No => BookLadder::No,
            },
            price,
            delta,
            owner: user_id.map(|user_id| DeltaOwner {
                user_id,
                client_order_id,
                subaccount,
            }),
            ts_ms,
        }),
        WireEvent::Trade(trade) => message(
            Channel::Trade,
            "trade",
            Some(trade.market_ticker.to_string()),
            None,
            encode(serde_json::to_value(&trade)),
        ),
        WireEvent::Ticker(ticker) => message(
            Channel::Ticker,
            "ticker",
            Some(ticker.market_ticker.to_string()),
            None,
            encode(serde_json::to_value(&ticker)),
        ),
        WireEvent::Fill { user_id, msg } => message(
            Channel::Fill,
            "fill",
            Some(msg.market_ticker.to_string()),
            Some(user_id),
            encode(serde_json::to_value(&msg)),
        ),
        WireEvent::UserOrder { user_id, msg } => message(
            Channel::UserOrders,
            "user_order",
            Some(msg.ticker.to_string()),
            Some(user_id),
            encode(serde_json::to_value(&msg)),
        ),
        WireEvent::MarketPosition { user_id, msg } => message(
            Channel::MarketPositions,
            "market_position",
            Some(msg.market_ticker.to_string()),
            Some(user_id),
            encode(serde_json::to_value(&msg)),
        ),
        WireEvent::Lifecycle(step) => message(
            Channel::MarketLifecycleV2,
            "market_lifecycle_v2",
            Some(step.market_ticker.to_string()),
            None,
            encode(serde_json::to_value(&step)),
        ),
        WireEvent::OrderGroup { user_id, msg } => message(
            Channel::OrderGroupUpdates,
            "order_group_updates",
            None,
            Some(user_id),
            encode(serde_json::to_value(&msg)),
        ),
    }
}

fn message(
    channel: Channel,
    msg_type: &'static str,
    market_ticker: Option<String>,
    user_id: Option<String>,
    msg: Value,
) -> FeedItem {
    FeedItem::Message {
        channel,
        msg_type,
        market_ticker,
        user_id,
        msg,
    }
}

/// The `ticker` message of a market's current state.
pub fn ticker_msg(snapshot: &TickerSnapshot, market_id: &str) -> Value {
    let (yes_bid, yes_bid_size) = snapshot.yes_bid.unwrap_or((Price::ZERO, Count::ZERO));
    let (yes_ask, yes_ask_size) = snapshot.yes_ask.unwrap_or((Price::ONE, Count::ZERO));
    json!({
        "market_ticker": snapshot.ticker.as_str(),
        "market_id": market_id,
        "price_dollars": snapshot.last_price.unwrap_or(Price::ZERO).to_dollars(),
        "yes_bid_dollars": yes_bid.to_dollars(),
        "yes_ask_dollars": yes_ask.to_dollars(),
        "yes_bid_size_fp": yes_bid_size.to_fp(),
        "yes_ask_size_fp": yes_ask_size.to_fp(),
        "last_trade_size_fp": snapshot.last_trade_size.to_fp(),
        "volume_fp": snapshot.volume.to_fp(),
        "open_interest_fp": snapshot.open_interest.to_fp(),
        "dollar_volume": whole_dollars(snapshot.dollar_volume),
        "dollar_open_interest": whole_dollars(snapshot.dollar_open_interest),
        "ts": snapshot.ts_ms.div_euclid(1000),
        "ts_ms": snapshot.ts_ms,
        "time": rfc3339(snapshot.ts_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::market::Ticker;

    #[test]
    fn a_ticker_without_a_book_shows_zero_bid_and_a_one_dollar_ask() {
        let snapshot = TickerSnapshot {
            ticker: Ticker::new("M-1"),
            last_price: None,
            yes_bid: None,
            yes_ask: None,
            last_trade_size: Count::ZERO,
            volume: Count::ZERO,
            open_interest: Count::from_contracts(3),
            dollar_volume: Money::from_micros(12_500_000),
            dollar_open_interest: Money::ZERO,
            ts_ms: 1_700_000_000_123,
        };
        let msg = ticker_msg(&snapshot, "id");
        assert_eq!(msg["yes_bid_dollars"], "0.0000");
        assert_eq!(msg["yes_ask_dollars"], "1.0000");
        assert_eq!(msg["dollar_volume"], 12);
        assert_eq!(msg["ts"], 1_700_000_000);
        assert_eq!(msg["open_interest_fp"], "3.00");
    }
}
