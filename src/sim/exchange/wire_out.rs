//! Domain records → kalshi::wire messages, with the spec's field names and units.

use std::str::FromStr;

use crate::core::num::{Count, MICROS, Money, Price};
use crate::kalshi::wire;

use super::accounts::{FillRecord, Position, SettlementRecord, cents_truncated};
use super::events::{GroupUpdate, PositionUpdate, TickerSnapshot, TradeRecord};
use super::groups::GroupEventType;
use super::lifecycle::{LifecycleEventType, LifecycleStep, MarketState};
use super::orders::OrderRecord;
use super::types::{
    BookSide, FeeMultiplier, FeeType, MarketResult, OrderStatus, OutcomeSide, SelfTradePrevention,
    TimeInForce,
};

/// RFC3339 text of a Unix-ms time, clamped into years 1970..=9999.
pub fn timestamp(ms: i64) -> wire::Timestamp {
    const MAX_MS: i64 = 253_402_300_799_999;
    match wire::Timestamp::from_unix_ms(ms.clamp(0, MAX_MS)) {
        Some(t) => t,
        // Every clamped value is representable; the epoch literal always parses.
        None => wire::Timestamp::parse("1970-01-01T00:00:00Z").expect("epoch literal parses"),
    }
}

/// A strike as a JSON number (`None` for a non-finite value, which JSON cannot carry).
pub fn strike(value: Option<f64>) -> Option<serde_json::Number> {
    value.and_then(serde_json::Number::from_f64)
}

pub fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

pub fn book_side(side: BookSide) -> wire::BookSide {
    match side {
        BookSide::Bid => wire::BookSide::Bid,
        BookSide::Ask => wire::BookSide::Ask,
    }
}

pub fn book_side_in(side: wire::BookSide) -> BookSide {
    match side {
        wire::BookSide::Bid => BookSide::Bid,
        wire::BookSide::Ask => BookSide::Ask,
    }
}

pub fn outcome(side: OutcomeSide) -> wire::OutcomeSide {
    match side {
        OutcomeSide::Yes => wire::OutcomeSide::Yes,
        OutcomeSide::No => wire::OutcomeSide::No,
    }
}

pub fn outcome_of(side: BookSide) -> wire::OutcomeSide {
    match side {
        BookSide::Bid => wire::OutcomeSide::Yes,
        BookSide::Ask => wire::OutcomeSide::No,
    }
}

pub fn time_in_force_in(tif: wire::TimeInForce) -> TimeInForce {
    match tif {
        wire::TimeInForce::FillOrKill => TimeInForce::FillOrKill,
        wire::TimeInForce::GoodTillCanceled => TimeInForce::GoodTillCanceled,
        wire::TimeInForce::ImmediateOrCancel => TimeInForce::ImmediateOrCancel,
    }
}

pub fn stp_in(stp: wire::SelfTradePrevention) -> SelfTradePrevention {
    match stp {
        wire::SelfTradePrevention::TakerAtCross => SelfTradePrevention::TakerAtCross,
        wire::SelfTradePrevention::Maker => SelfTradePrevention::Maker,
    }
}

pub fn stp(stp: SelfTradePrevention) -> wire::SelfTradePrevention {
    match stp {
        SelfTradePrevention::TakerAtCross => wire::SelfTradePrevention::TakerAtCross,
        SelfTradePrevention::Maker => wire::SelfTradePrevention::Maker,
    }
}

pub fn order_status(status: OrderStatus) -> wire::OrderStatus {
    match status {
        OrderStatus::Resting => wire::OrderStatus::Resting,
        OrderStatus::Canceled => wire::OrderStatus::Canceled,
        OrderStatus::Executed => wire::OrderStatus::Executed,
    }
}

pub fn market_result(result: Option<MarketResult>) -> wire::MarketResult {
    match result {
        None => wire::MarketResult::Undetermined,
        Some(MarketResult::Yes) => wire::MarketResult::Yes,
        Some(MarketResult::No) => wire::MarketResult::No,
        Some(MarketResult::Scalar(_)) => wire::MarketResult::Scalar,
    }
}

pub fn fee_type(fee_type: FeeType) -> wire::FeeType {
    match fee_type {
        FeeType::Quadratic => wire::FeeType::Quadratic,
        FeeType::QuadraticWithMakerFees => wire::FeeType::QuadraticWithMakerFees,
        FeeType::Flat => wire::FeeType::Flat,
    }
}

/// A fee multiplier as the JSON number Kalshi sends (`1`, `0.5`).
pub fn fee_multiplier(multiplier: FeeMultiplier) -> serde_json::Number {
    let text = crate::core::num::format_scaled(multiplier.per_10k(), 4, 0);
    serde_json::Number::from_str(&text).unwrap_or_else(|_| serde_json::Number::from(0))
}

/// Whole dollars of an amount, truncated (the WS ticker's `dollar_volume`).
fn whole_dollars(amount: Money) -> i64 {
    amount.micros() / MICROS
}

pub fn order(record: &OrderRecord, exchange_index: i32) -> wire::Order {
    wire::Order {
        order_id: record.order_id.clone(),
        user_id: record.user_id.clone(),
        client_order_id: record.client_order_id.clone(),
        ticker: record.ticker.clone(),
        side: Some(outcome_of(record.side)),
        action: Some(wire::Action::Buy),
        outcome_side: outcome_of(record.side),
        book_side: book_side(record.side),
        order_type: wire::OrderType::Limit,
        status: order_status(record.status),
        yes_price_dollars: record.price,
        no_price_dollars: record.price.complement(),
        fill_count_fp: record.filled,
        remaining_count_fp: record.remaining,
        initial_count_fp: record.initial,
        taker_fill_cost_dollars: record.taker_fill_cost,
        maker_fill_cost_dollars: record.maker_fill_cost,
        taker_fees_dollars: record.taker_fees,
        maker_fees_dollars: record.maker_fees,
        expiration_time: record.expiration_ms.map(timestamp),
        created_time: Some(timestamp(record.created_ms)),
        last_update_time: Some(timestamp(record.updated_ms)),
        self_trade_prevention_type: Some(stp(record.self_trade_prevention)),
        order_group_id: record.order_group_id.clone(),
        cancel_order_on_pause: Some(record.cancel_order_on_pause),
        subaccount_number: Some(record.subaccount),
        exchange_index: Some(exchange_index),
        last_update_reason: None,
    }
}

pub fn user_order(record: &OrderRecord) -> wire::UserOrder {
    wire::UserOrder {
        order_id: record.order_id.clone(),
        user_id: record.user_id.clone(),
        ticker: record.ticker.clone(),
        status: order_status(record.status),
        side: Some(outcome_of(record.side)),
        is_yes: Some(record.side == BookSide::Bid),
        outcome_side: Some(outcome_of(record.side)),
        book_side: Some(book_side(record.side)),
        yes_price_dollars: record.price,
        fill_count_fp: record.filled,
        remaining_count_fp: record.remaining,
        initial_count_fp: record.initial,
        taker_fill_cost_dollars: record.taker_fill_cost,
        maker_fill_cost_dollars: record.maker_fill_cost,
        taker_fees_dollars: Some(record.taker_fees),
        maker_fees_dollars: Some(record.maker_fees),
        client_order_id: record.client_order_id.clone(),
        order_group_id: record.order_group_id.clone(),
        self_trade_prevention_type: Some(stp(record.self_trade_prevention)),
        created_time: Some(timestamp(record.created_ms)),
        created_ts_ms: record.created_ms,
        last_update_time: Some(timestamp(record.updated_ms)),
        last_updated_ts_ms: Some(record.updated_ms),
        expiration_time: record.expiration_ms.map(timestamp),
        expiration_ts_ms: record.expiration_ms,
        subaccount_number: Some(record.subaccount),
    }
}

pub fn fill(record: &FillRecord, exchange_index: i32) -> wire::Fill {
    wire::Fill {
        fill_id: record.trade_id.clone(),
        trade_id: record.trade_id.clone(),
        order_id: record.order_id.clone(),
        ticker: record.ticker.clone(),
        market_ticker: record.ticker.clone(),
        side: Some(outcome_of(record.side)),
        action: Some(wire::Action::Buy),
        outcome_side: outcome_of(record.side),
        book_side: book_side(record.side),
        count_fp: record.count,
        yes_price_dollars: record.price,
        no_price_dollars: record.price.complement(),
        is_taker: record.is_taker,
        created_time: Some(timestamp(record.ts_ms)),
        fee_cost: record.fee,
        subaccount_number: Some(record.subaccount),
        ts: Some(seconds(record.ts_ms)),
        exchange_index: Some(exchange_index),
    }
}

pub fn ws_fill(record: &FillRecord, exchange_index: i32) -> wire::WsFill {
    wire::WsFill {
        trade_id: record.trade_id.clone(),
        order_id: record.order_id.clone(),
        market_ticker: record.ticker.clone(),
        exchange_index,
        is_taker: record.is_taker,
        side: Some(outcome_of(record.side)),
        yes_price_dollars: record.price,
        count_fp: record.count,
        fee_cost: Some(record.fee),
        action: Some(wire::Action::Buy),
        outcome_side: Some(outcome_of(record.side)),
        book_side: Some(book_side(record.side)),
        ts: Some(seconds(record.ts_ms)),
        ts_ms: record.ts_ms,
        client_order_id: Some(record.client_order_id.clone()).filter(|c| !c.is_empty()),
        post_position_fp: record.post_position,
        purchased_side: Some(outcome_of(record.side)),
        subaccount: Some(record.subaccount),
    }
}

pub fn trade(record: &TradeRecord) -> wire::Trade {
    wire::Trade {
        trade_id: record.trade_id.clone(),
        ticker: record.ticker.clone(),
        count_fp: record.count,
        yes_price_dollars: record.price,
        no_price_dollars: record.price.complement(),
        taker_side: Some(outcome_of(record.taker_side)),
        taker_outcome_side: outcome_of(record.taker_side),
        taker_book_side: book_side(record.taker_side),
        created_time: timestamp(record.ts_ms),
        is_block_trade: false,
    }
}

pub fn ws_trade(record: &TradeRecord) -> wire::WsTrade {
    wire::WsTrade {
        trade_id: record.trade_id.clone(),
        market_ticker: record.ticker.clone(),
        yes_price_dollars: record.price,
        no_price_dollars: record.price.complement(),
        count_fp: record.count,
        taker_side: Some(outcome_of(record.taker_side)),
        taker_outcome_side: Some(outcome_of(record.taker_side)),
        taker_book_side: Some(book_side(record.taker_side)),
        is_block_trade: false,
        ts: Some(seconds(record.ts_ms)),
        ts_ms: record.ts_ms,
    }
}

pub fn ws_ticker(snapshot: &TickerSnapshot, market_id: &str) -> wire::WsTicker {
    let (yes_bid, yes_bid_size) = snapshot.yes_bid.unwrap_or((Price::ZERO, Count::ZERO));
    let (yes_ask, yes_ask_size) = snapshot.yes_ask.unwrap_or((Price::ONE, Count::ZERO));
    wire::WsTicker {
        market_ticker: snapshot.ticker.clone(),
        market_id: market_id.to_string(),
        price_dollars: snapshot.last_price.unwrap_or(Price::ZERO),
        yes_bid_dollars: yes_bid,
        yes_ask_dollars: yes_ask,
        yes_bid_size_fp: yes_bid_size,
        yes_ask_size_fp: yes_ask_size,
        last_trade_size_fp: snapshot.last_trade_size,
        volume_fp: snapshot.volume,
        open_interest_fp: snapshot.open_interest,
        dollar_volume: whole_dollars(snapshot.dollar_volume),
        dollar_open_interest: whole_dollars(snapshot.dollar_open_interest),
        ts: Some(seconds(snapshot.ts_ms)),
        ts_ms: snapshot.ts_ms,
        time: Some(timestamp(snapshot.ts_ms)),
    }
}

pub fn ws_position(update: &PositionUpdate) -> wire::WsMarketPosition {
    let position = &update.position;
    wire::WsMarketPosition {
        user_id: update.user_id.clone(),
        market_ticker: update.ticker.clone(),
        position_fp: position.position,
        position_cost_dollars: position.cost,
        realized_pnl_dollars: position.realized_pnl,
        fees_paid_dollars: position.fees_paid,
        position_fee_cost_dollars: position.position_fees,
        volume_fp: position.volume,
        subaccount: Some(update.subaccount),
    }
}

pub fn market_position(
    ticker: &crate::core::market::Ticker,
    position: &Position,
    exchange_index: i32,
) -> wire::MarketPosition {
    wire::MarketPosition {
        ticker: ticker.clone(),
        total_traded_dollars: position.total_traded,
        position_fp: position.position,
        market_exposure_dollars: position.cost,
        realized_pnl_dollars: position.realized_pnl,
        fees_paid_dollars: position.fees_paid,
        last_updated_ts: timestamp(position.last_updated_ms),
        exchange_index: Some(exchange_index),
    }
}

pub fn settlement(record: &SettlementRecord, exchange_index: i32) -> wire::Settlement {
    wire::Settlement {
        ticker: record.ticker.clone(),
        event_ticker: record.event_ticker.clone(),
        market_result: market_result(Some(record.result)),
        yes_count_fp: record.yes_count,
        yes_total_cost_dollars: record.yes_total_cost,
        no_count_fp: record.no_count,
        no_total_cost_dollars: record.no_total_cost,
        revenue: cents_truncated(record.revenue),
        settled_time: timestamp(record.settled_ms),
        fee_cost: record.fee_cost,
        value: Some(record.result.yes_value().micros() / 10_000),
        exchange_index: Some(exchange_index),
    }
}

pub fn group_update(update: &GroupUpdate) -> wire::OrderGroupUpdate {
    wire::OrderGroupUpdate {
        event_type: match update.event_type {
            GroupEventType::Created => wire::OrderGroupEventType::Created,
            GroupEventType::Triggered => wire::OrderGroupEventType::Triggered,
            GroupEventType::Reset => wire::OrderGroupEventType::Reset,
            GroupEventType::Deleted => wire::OrderGroupEventType::Deleted,
            GroupEventType::LimitUpdated => wire::OrderGroupEventType::LimitUpdated,
        },
        order_group_id: update.order_group_id.clone(),
        contracts_limit_fp: update.contracts_limit,
        ts_ms: Some(update.ts_ms),
    }
}

pub fn price_ranges(market: &MarketState) -> Vec<wire::PriceRange> {
    market
        .grid
        .ranges()
        .into_iter()
        .map(|r| wire::PriceRange {
            start: r.start,
            end: r.end,
            step: r.step,
        })
        .collect()
}

/// A lifecycle step as a `market_lifecycle_v2` message; `created` carries the market's grid
/// and metadata.
pub fn lifecycle(
    step: &LifecycleStep,
    market: Option<&MarketState>,
    exchange_index: i32,
) -> wire::MarketLifecycle {
    let created = step.event_type == LifecycleEventType::Created;
    let event_type = match step.event_type {
        LifecycleEventType::Created => wire::LifecycleEventType::Created,
        LifecycleEventType::Activated => wire::LifecycleEventType::Activated,
        LifecycleEventType::Deactivated => wire::LifecycleEventType::Deactivated,
        LifecycleEventType::CloseDateUpdated => wire::LifecycleEventType::CloseDateUpdated,
        LifecycleEventType::Determined => wire::LifecycleEventType::Determined,
        LifecycleEventType::Settled => wire::LifecycleEventType::Settled,
    };
    let metadata = market.filter(|_| created).map(|m| wire::LifecycleMetadata {
        name: Some(m.spec.title.clone()),
        title: Some(m.spec.title.clone()),
        yes_sub_title: Some(m.spec.yes_sub_title.clone()),
        no_sub_title: Some(m.spec.no_sub_title.clone()),
        rules_primary: Some(m.spec.rules_primary.clone()),
        rules_secondary: Some(m.spec.rules_secondary.clone()),
        can_close_early: Some(m.spec.can_close_early),
        event_ticker: Some(m.spec.event_ticker.clone()),
        expected_expiration_ts: Some(seconds(m.spec.expected_expiration_ms)),
        strike_type: m.spec.strike_type.clone(),
        floor_strike: strike(m.spec.floor_strike),
        cap_strike: strike(m.spec.cap_strike),
        custom_strike: None,
    });
    wire::MarketLifecycle {
        event_type,
        market_ticker: step.ticker.clone(),
        exchange_index: created.then_some(exchange_index),
        open_ts: step.open_ts.map(seconds),
        close_ts: step.close_ts.map(seconds),
        result: step.result.map(|r| market_result(Some(r))),
        determination_ts: step.determination_ts.map(seconds),
        settlement_value: step.settlement_value,
        settled_ts: step.settled_ts.map(seconds),
        is_deactivated: step.is_deactivated,
        price_level_structure: market
            .filter(|_| created)
            .map(|m| m.spec.price_level_structure.clone()),
        price_ranges: market.filter(|_| created).map(price_ranges),
        strike_type: None,
        floor_strike: None,
        cap_strike: None,
        custom_strike: None,
        yes_sub_title: None,
        additional_metadata: metadata,
    }
}
