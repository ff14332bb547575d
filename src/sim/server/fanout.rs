//! Turning the exchange's events into WS feed items, with the `msg` of every message built to the
//! AsyncAPI payload schemas (current fields plus the deprecated ones still sent).

use super::ws::commands::Channel;
use super::ws::feed::{BookDelta, BookLadder, DeltaOwner, FeedItem};
use crate::core::num::{Count, Money, Price};
use crate::sim::exchange::accounts::FillRecord;
use crate::sim::exchange::events::{
    ExchangeEvent, GroupUpdate, PositionUpdate, TickerSnapshot, TradeRecord,
};
use crate::sim::exchange::lifecycle::LifecycleStep;
use crate::sim::exchange::orders::OrderRecord;
use crate::sim::exchange::types::{BookSide, BookSideExt as _, OutcomeSide, SelfTradePrevention};
use serde_json::{Value, json};
use sha2::Digest as _;

/// A stable uuid-shaped id for a market (the simulator's markets have no other id).
pub fn market_id_of(ticker: &str) -> String {
    uuid_for(&format!("market/{ticker}"))
}

/// A stable uuid (version 4 layout) derived from `name`.
pub fn uuid_for(name: &str) -> String {
    let digest = sha2::Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    // Version 4 and RFC 4122 variant nibbles, so strict uuid checks accept it.
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

fn rfc3339(ts_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ts_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn seconds(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(1000)
}

/// `self_trade_prevention_type` on the wire.
pub fn stp_name(stp: SelfTradePrevention) -> &'static str {
    match stp {
        SelfTradePrevention::TakerAtCross => "taker_at_cross",
        SelfTradePrevention::Maker => "maker",
    }
}

fn whole_dollars(money: Money) -> i64 {
    money.micros().max(0) / 1_000_000
}

fn outcome_name(side: OutcomeSide) -> &'static str {
    side.as_str()
}

/// Deprecated (side, action) of a V2 book side, in terms of the contract bought: a bid buys
/// YES, an ask buys NO (the same as `purchased_side`/`outcome_side`).
fn legacy_side_action(side: BookSide) -> (&'static str, &'static str) {
    (outcome_name(side.outcome()), "buy")
}

/// Every item an event becomes.
pub fn feed_items(event: &ExchangeEvent) -> Vec<FeedItem> {
    match event {
        ExchangeEvent::BookDelta(delta) => vec![FeedItem::Book(BookDelta {
            market_ticker: delta.ticker.to_string(),
            market_id: market_id_of(delta.ticker.as_str()),
            ladder: match delta.side {
                OutcomeSide::Yes => BookLadder::Yes,
                OutcomeSide::No => BookLadder::No,
            },
            price: delta.price,
            delta: delta.delta,
            owner: delta.user_id.as_ref().map(|user_id| DeltaOwner {
                user_id: user_id.clone(),
                client_order_id: delta.client_order_id.clone(),
                subaccount: delta.subaccount,
            }),
            ts_ms: delta.ts_ms,
        })],
        ExchangeEvent::Trade(trade) => vec![message(
            Channel::Trade,
            "trade",
            Some(trade.ticker.as_str()),
            None,
            trade_msg(trade),
        )],
        ExchangeEvent::Ticker(snapshot) => vec![message(
            Channel::Ticker,
            "ticker",
            Some(snapshot.ticker.as_str()),
            None,
            ticker_msg(snapshot),
        )],
        ExchangeEvent::Fill(fill) => vec![message(
            Channel::Fill,
            "fill",
            Some(fill.ticker.as_str()),
            Some(&fill.user_id),
            fill_msg(fill),
        )],
        ExchangeEvent::UserOrder(order) => vec![message(
            Channel::UserOrders,
            "user_order",
            Some(order.ticker.as_str()),
            Some(&order.user_id),
            user_order_msg(order),
        )],
        ExchangeEvent::MarketPosition(update) => vec![message(
            Channel::MarketPositions,
            "market_position",
            Some(update.ticker.as_str()),
            Some(&update.user_id),
            position_msg(update),
        )],
        ExchangeEvent::Lifecycle(step) => vec![message(
            Channel::MarketLifecycleV2,
            "market_lifecycle_v2",
            Some(step.ticker.as_str()),
            None,
            lifecycle_msg(step),
        )],
        ExchangeEvent::OrderGroup(update) => vec![message(
            Channel::OrderGroupUpdates,
            "order_group_updates",
            None,
            Some(&update.user_id),
            group_msg(update),
        )],
    }
}

fn message(
    channel: Channel,
    msg_type: &'static str,
    market_ticker: Option<&str>,
    user_id: Option<&str>,
    msg: Value,
) -> FeedItem {
    FeedItem::Message {
        channel,
        msg_type,
        market_ticker: market_ticker.map(str::to_string),
        user_id: user_id.map(str::to_string),
        msg,
    }
}

fn trade_msg(trade: &TradeRecord) -> Value {
    let taker = trade.taker_side;
    json!({
        "trade_id": trade.trade_id,
        "market_ticker": trade.ticker.as_str(),
        "yes_price_dollars": trade.price.to_dollars(),
        "no_price_dollars": trade.price.complement().to_dollars(),
        "count_fp": trade.count.to_fp(),
        "taker_side": outcome_name(taker.outcome()),
        "taker_outcome_side": outcome_name(taker.outcome()),
        "taker_book_side": taker.wire_name(),
        "is_block_trade": false,
        "ts": seconds(trade.ts_ms),
        "ts_ms": trade.ts_ms,
    })
}

/// The `ticker` message of a market's current state.
pub fn ticker_msg(snapshot: &TickerSnapshot) -> Value {
    let (yes_bid, yes_bid_size) = snapshot.yes_bid.unwrap_or((Price::ZERO, Count::ZERO));
    let (yes_ask, yes_ask_size) = snapshot.yes_ask.unwrap_or((Price::ONE, Count::ZERO));
    json!({
        "market_ticker": snapshot.ticker.as_str(),
        "market_id": market_id_of(snapshot.ticker.as_str()),
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
        "ts": seconds(snapshot.ts_ms),
        "ts_ms": snapshot.ts_ms,
        "time": rfc3339(snapshot.ts_ms),
    })
}

fn fill_msg(fill: &FillRecord) -> Value {
    let (side, action) = legacy_side_action(fill.side);
    let mut msg = json!({
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "market_ticker": fill.ticker.as_str(),
        "exchange_index": 0,
        "is_taker": fill.is_taker,
        "side": side,
        "action": action,
        "purchased_side": outcome_name(fill.side.outcome()),
        "outcome_side": outcome_name(fill.side.outcome()),
        "book_side": fill.side.wire_name(),
        "yes_price_dollars": fill.price.to_dollars(),
        "count_fp": fill.count.to_fp(),
        "fee_cost": fill.fee.to_dollars(),
        "post_position_fp": fill.post_position.to_fp(),
        "ts": seconds(fill.ts_ms),
        "ts_ms": fill.ts_ms,
    });
    if !fill.client_order_id.is_empty() {
        msg["client_order_id"] = json!(fill.client_order_id);
    }
    if fill.subaccount > 0 {
        msg["subaccount"] = json!(fill.subaccount);
    }
    msg
}

fn user_order_msg(order: &OrderRecord) -> Value {
    let outcome = order.side.outcome();
    let mut msg = json!({
        "order_id": order.order_id,
        "user_id": order.user_id,
        "ticker": order.ticker.as_str(),
        "status": order.status.as_str(),
        "side": outcome_name(outcome),
        "is_yes": outcome == OutcomeSide::Yes,
        "outcome_side": outcome_name(outcome),
        "book_side": order.side.wire_name(),
        "yes_price_dollars": order.price.to_dollars(),
        "fill_count_fp": order.filled.to_fp(),
        "remaining_count_fp": order.remaining.to_fp(),
        "initial_count_fp": order.initial.to_fp(),
        "taker_fill_cost_dollars": order.taker_fill_cost.to_dollars(),
        "maker_fill_cost_dollars": order.maker_fill_cost.to_dollars(),
        "taker_fees_dollars": order.taker_fees.to_dollars(),
        "maker_fees_dollars": order.maker_fees.to_dollars(),
        "client_order_id": order.client_order_id,
        "self_trade_prevention_type": stp_name(order.self_trade_prevention),
        "created_time": rfc3339(order.created_ms),
        "created_ts_ms": order.created_ms,
        "last_update_time": rfc3339(order.updated_ms),
        "last_updated_ts_ms": order.updated_ms,
    });
    if let Some(group) = &order.order_group_id {
        msg["order_group_id"] = json!(group);
    }
    if let Some(expiration_ms) = order.expiration_ms {
        msg["expiration_time"] = json!(rfc3339(expiration_ms));
        msg["expiration_ts_ms"] = json!(expiration_ms);
    }
    if order.subaccount > 0 {
        msg["subaccount_number"] = json!(order.subaccount);
    }
    msg
}

fn position_msg(update: &PositionUpdate) -> Value {
    let position = &update.position;
    let mut msg = json!({
        "user_id": update.user_id,
        "market_ticker": update.ticker.as_str(),
        "position_fp": position.position.to_fp(),
        "position_cost_dollars": position.cost.to_dollars(),
        "realized_pnl_dollars": position.realized_pnl.to_dollars(),
        "fees_paid_dollars": position.fees_paid.to_dollars(),
        "position_fee_cost_dollars": position.position_fees.to_dollars(),
        "volume_fp": position.volume.to_fp(),
    });
    if update.subaccount > 0 {
        msg["subaccount"] = json!(update.subaccount);
    }
    msg
}

fn lifecycle_msg(step: &LifecycleStep) -> Value {
    let mut msg = json!({
        "event_type": step.event_type.as_str(),
        "market_ticker": step.ticker.as_str(),
        "exchange_index": 0,
    });
    let seconds_field = |msg: &mut Value, name: &str, ms: Option<i64>| {
        if let Some(ms) = ms {
            msg[name] = json!(seconds(ms));
        }
    };
    seconds_field(&mut msg, "open_ts", step.open_ts);
    seconds_field(&mut msg, "close_ts", step.close_ts);
    seconds_field(&mut msg, "determination_ts", step.determination_ts);
    seconds_field(&mut msg, "settled_ts", step.settled_ts);
    if let Some(result) = step.result {
        msg["result"] = json!(result.as_str());
    }
    if let Some(value) = step.settlement_value {
        msg["settlement_value"] = json!(value.to_dollars());
    }
    if let Some(deactivated) = step.is_deactivated {
        msg["is_deactivated"] = json!(deactivated);
    }
    msg
}

fn group_msg(update: &GroupUpdate) -> Value {
    let mut msg = json!({
        "event_type": update.event_type.as_str(),
        "order_group_id": update.order_group_id,
        "ts_ms": update.ts_ms,
    });
    if let Some(limit) = update.contracts_limit {
        msg["contracts_limit_fp"] = json!(limit.to_fp());
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_ids_are_stable_uuids() {
        let id = market_id_of("KXFED-26DEC-T4.00");
        assert_eq!(id, market_id_of("KXFED-26DEC-T4.00"));
        assert_ne!(id, market_id_of("KXFED-26DEC-T4.25"));
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert_eq!(id.len(), 36);
    }
}
