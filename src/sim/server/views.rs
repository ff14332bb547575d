//! The exchange's records as Kalshi's REST JSON (OpenAPI 3.27 schemas): current `_dollars` /
//! `_fp` fields, the deprecated direction fields still sent, RFC3339 times.

use super::fanout::stp_name;
use crate::core::market::MarketStatus;
use crate::core::num::{Count, Money, Price};
use crate::sim::exchange::Exchange;
use crate::sim::exchange::accounts::{FillRecord, Position, SettlementRecord};
use crate::sim::exchange::events::TradeRecord;
use crate::sim::exchange::groups::OrderGroup;
use crate::sim::exchange::lifecycle::MarketState;
use crate::sim::exchange::orders::OrderRecord;
use crate::sim::exchange::types::{
    BookSideExt as _, EventSpec, FeeMultiplier, FeeType, SeriesSpec,
};
use serde_json::{Value, json};

pub fn rfc3339(ts_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ts_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Whole cents, truncated toward zero (Kalshi's integer `balance`, `revenue`).
pub fn cents(money: Money) -> i64 {
    money.micros() / 10_000
}

fn fee_multiplier_number(multiplier: FeeMultiplier) -> Value {
    // A ratio, not money: Kalshi sends it as a JSON number.
    serde_json::Number::from_f64(multiplier.per_10k() as f64 / 10_000.0)
        .map_or(Value::Null, Value::Number)
}

fn fee_type_name(fee_type: FeeType) -> Value {
    serde_json::to_value(fee_type).unwrap_or(Value::Null)
}

/// The `status` query vocabulary (`unopened|open|paused|closed|settled`) a market falls under.
pub fn status_filter_of(status: MarketStatus) -> &'static str {
    match status {
        MarketStatus::Initialized => "unopened",
        MarketStatus::Active => "open",
        MarketStatus::Inactive => "paused",
        MarketStatus::Closed | MarketStatus::Determined | MarketStatus::Disputed => "closed",
        MarketStatus::Amended | MarketStatus::Finalized => "settled",
    }
}

pub fn market(exchange: &Exchange, state: &MarketState, now_ms: i64) -> Value {
    let spec = &state.spec;
    let book = exchange.matching_book(state.ticker.as_str());
    let (yes_bid, yes_bid_size) = book
        .and_then(|b| b.best_bid())
        .unwrap_or((Price::ZERO, Count::ZERO));
    let (yes_ask, yes_ask_size) = book
        .and_then(|b| b.best_ask())
        .unwrap_or((Price::ONE, Count::ZERO));
    let stats = &state.stats;
    let or_zero = |price: Option<Price>| price.unwrap_or(Price::ZERO).to_dollars();
    let mut market = json!({
        "ticker": state.ticker.as_str(),
        "event_ticker": spec.event_ticker,
        "market_type": spec.market_type,
        "title": spec.title,
        "subtitle": "",
        "yes_sub_title": spec.yes_sub_title,
        "no_sub_title": spec.no_sub_title,
        "created_time": rfc3339(spec.created_ms),
        "updated_time": rfc3339(state.updated_ms),
        "open_time": rfc3339(spec.open_ms),
        "close_time": rfc3339(state.close_ms),
        "expected_expiration_time": rfc3339(spec.expected_expiration_ms),
        "expiration_time": rfc3339(spec.latest_expiration_ms),
        "latest_expiration_time": rfc3339(spec.latest_expiration_ms),
        "settlement_timer_seconds": spec.settlement_timer_seconds,
        "status": state.status.as_str(),
        "yes_bid_dollars": yes_bid.to_dollars(),
        "yes_bid_size_fp": yes_bid_size.to_fp(),
        "yes_ask_dollars": yes_ask.to_dollars(),
        "yes_ask_size_fp": yes_ask_size.to_fp(),
        "no_bid_dollars": yes_ask.complement().to_dollars(),
        "no_ask_dollars": yes_bid.complement().to_dollars(),
        "last_price_dollars": or_zero(stats.last_price),
        "previous_yes_bid_dollars": or_zero(stats.previous_yes_bid),
        "previous_yes_ask_dollars": or_zero(stats.previous_yes_ask),
        "previous_price_dollars": or_zero(stats.previous_price),
        "volume_fp": stats.volume.to_fp(),
        "volume_24h_fp": stats.volume_24h(now_ms).to_fp(),
        "open_interest_fp": stats.open_interest.to_fp(),
        "notional_value_dollars": Price::ONE.to_dollars(),
        "result": state.result.map_or("", |r| r.as_str()),
        "can_close_early": spec.can_close_early,
        "expiration_value": "",
        "rules_primary": spec.rules_primary,
        "rules_secondary": spec.rules_secondary,
        "price_level_structure": spec.price_level_structure,
        "price_ranges": spec.price_ranges.iter().map(|r| json!({
            "start": r.start.to_dollars(),
            "end": r.end.to_dollars(),
            "step": r.step.to_dollars(),
        })).collect::<Vec<_>>(),
    });
    if let Some(result) = state.result {
        market["settlement_value_dollars"] = json!(result.yes_value().to_dollars());
    }
    if let Some(settled_ms) = state.settled_ms {
        market["settlement_ts"] = json!(rfc3339(settled_ms));
    }
    if let Some(strike_type) = &spec.strike_type {
        market["strike_type"] = json!(strike_type);
    }
    if let Some(floor) = spec.floor_strike {
        market["floor_strike"] = json!(floor);
    }
    if let Some(cap) = spec.cap_strike {
        market["cap_strike"] = json!(cap);
    }
    market
}

pub fn event(spec: &EventSpec, markets: Option<Vec<Value>>) -> Value {
    let mut event = json!({
        "event_ticker": spec.event_ticker,
        "series_ticker": spec.series_ticker,
        "title": spec.title,
        "sub_title": spec.sub_title,
        "collateral_return_type": if spec.mutually_exclusive { "MECNET" } else { "" },
        "mutually_exclusive": spec.mutually_exclusive,
        "available_on_brokers": false,
        "settlement_sources": [],
    });
    if let Some(strike_ms) = spec.strike_date_ms {
        event["strike_date"] = json!(rfc3339(strike_ms));
    }
    if let Some(fee_type) = spec.fee_type_override {
        event["fee_type_override"] = fee_type_name(fee_type);
    }
    if let Some(multiplier) = spec.fee_multiplier_override {
        event["fee_multiplier_override"] = fee_multiplier_number(multiplier);
    }
    if let Some(markets) = markets {
        event["markets"] = Value::Array(markets);
    }
    event
}

pub fn series(spec: &SeriesSpec, volume: Option<Count>) -> Value {
    let mut series = json!({
        "ticker": spec.ticker,
        "frequency": spec.frequency,
        "title": spec.title,
        "category": spec.category,
        "tags": spec.tags,
        "settlement_sources": [],
        "contract_url": spec.contract_url,
        "contract_terms_url": spec.contract_terms_url,
        "fee_type": fee_type_name(spec.fee_type),
        "fee_multiplier": fee_multiplier_number(spec.fee_multiplier),
        "additional_prohibitions": [],
    });
    if let Some(volume) = volume {
        series["volume_fp"] = json!(volume.to_fp());
    }
    series
}

/// Levels as `[[price, count], …]`, ascending (best last).
pub fn levels(levels: &[(Price, Count)], depth: usize) -> Value {
    let skip = if depth == 0 {
        0
    } else {
        levels.len().saturating_sub(depth)
    };
    Value::Array(
        levels[skip..]
            .iter()
            .map(|(price, count)| json!([price.to_dollars(), count.to_fp()]))
            .collect(),
    )
}

pub fn trade(trade: &TradeRecord) -> Value {
    let outcome = trade.taker_side.outcome().as_str();
    json!({
        "trade_id": trade.trade_id,
        "ticker": trade.ticker.as_str(),
        "count_fp": trade.count.to_fp(),
        "yes_price_dollars": trade.price.to_dollars(),
        "no_price_dollars": trade.price.complement().to_dollars(),
        "taker_side": outcome,
        "taker_outcome_side": outcome,
        "taker_book_side": trade.taker_side.wire_name(),
        "created_time": rfc3339(trade.ts_ms),
        "is_block_trade": false,
    })
}

pub fn order(order: &OrderRecord) -> Value {
    let outcome = order.side.outcome().as_str();
    let mut value = json!({
        "order_id": order.order_id,
        "user_id": order.user_id,
        "client_order_id": order.client_order_id,
        "ticker": order.ticker.as_str(),
        "side": outcome,
        "action": "buy",
        "outcome_side": outcome,
        "book_side": order.side.wire_name(),
        "type": "limit",
        "status": order.status.as_str(),
        "yes_price_dollars": order.price.to_dollars(),
        "no_price_dollars": order.price.complement().to_dollars(),
        "fill_count_fp": order.filled.to_fp(),
        "remaining_count_fp": order.remaining.to_fp(),
        "initial_count_fp": order.initial.to_fp(),
        "taker_fill_cost_dollars": order.taker_fill_cost.to_dollars(),
        "maker_fill_cost_dollars": order.maker_fill_cost.to_dollars(),
        "taker_fees_dollars": order.taker_fees.to_dollars(),
        "maker_fees_dollars": order.maker_fees.to_dollars(),
        "created_time": rfc3339(order.created_ms),
        "last_update_time": rfc3339(order.updated_ms),
        "self_trade_prevention_type": stp_name(order.self_trade_prevention),
        "cancel_order_on_pause": order.cancel_order_on_pause,
        "subaccount_number": order.subaccount,
    });
    if let Some(expiration_ms) = order.expiration_ms {
        value["expiration_time"] = json!(rfc3339(expiration_ms));
    }
    if let Some(group) = &order.order_group_id {
        value["order_group_id"] = json!(group);
    }
    value
}

pub fn fill(fill: &FillRecord) -> Value {
    let outcome = fill.side.outcome().as_str();
    json!({
        "fill_id": fill.trade_id,
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "ticker": fill.ticker.as_str(),
        "market_ticker": fill.ticker.as_str(),
        "side": outcome,
        "action": "buy",
        "outcome_side": outcome,
        "book_side": fill.side.wire_name(),
        "count_fp": fill.count.to_fp(),
        "yes_price_dollars": fill.price.to_dollars(),
        "no_price_dollars": fill.price.complement().to_dollars(),
        "is_taker": fill.is_taker,
        "created_time": rfc3339(fill.ts_ms),
        "fee_cost": fill.fee.to_dollars(),
        "subaccount_number": fill.subaccount,
        "ts": fill.ts_ms.div_euclid(1000),
    })
}

pub fn market_position(ticker: &str, position: &Position) -> Value {
    json!({
        "ticker": ticker,
        "total_traded_dollars": position.total_traded.to_dollars(),
        "position_fp": position.position.to_fp(),
        "market_exposure_dollars": position.cost.to_dollars(),
        "realized_pnl_dollars": position.realized_pnl.to_dollars(),
        "fees_paid_dollars": position.fees_paid.to_dollars(),
        "last_updated_ts": rfc3339(position.last_updated_ms),
    })
}

/// An event's positions summed.
pub fn event_position(event_ticker: &str, positions: &[&Position]) -> Value {
    let sum = |f: fn(&Position) -> Money| {
        positions
            .iter()
            .fold(Money::ZERO, |total, p| total.saturating_add(f(p)))
    };
    let shares = positions.iter().fold(Count::ZERO, |total, p| {
        total.saturating_add(p.position.abs())
    });
    json!({
        "event_ticker": event_ticker,
        "total_cost_dollars": sum(|p| p.cost).to_dollars(),
        "total_cost_shares_fp": shares.to_fp(),
        "event_exposure_dollars": sum(|p| p.cost).to_dollars(),
        "realized_pnl_dollars": sum(|p| p.realized_pnl).to_dollars(),
        "fees_paid_dollars": sum(|p| p.fees_paid).to_dollars(),
    })
}

pub fn settlement(record: &SettlementRecord) -> Value {
    json!({
        "ticker": record.ticker.as_str(),
        "event_ticker": record.event_ticker,
        "market_result": record.result.as_str(),
        "yes_count_fp": record.yes_count.to_fp(),
        "yes_total_cost_dollars": record.yes_total_cost.to_dollars(),
        "no_count_fp": record.no_count.to_fp(),
        "no_total_cost_dollars": record.no_total_cost.to_dollars(),
        "revenue": cents(record.revenue),
        "settled_time": rfc3339(record.settled_ms),
        "fee_cost": record.fee_cost.to_dollars(),
        "value": cents(Money::from_micros(record.result.yes_value().micros())),
    })
}

pub fn order_group(group: &OrderGroup) -> Value {
    json!({
        "id": group.order_group_id,
        "contracts_limit_fp": group.contracts_limit.to_fp(),
        "is_auto_cancel_enabled": !group.triggered,
    })
}
