//! The wire-typed surface the HTTP/WS server calls: V2 order writes, order groups, reads and
//! WS events, each taking and returning kalshi::wire types.
//!
//! Lists come back complete, in a stable order (newest first for orders, fills, trades and
//! settlements; ticker order for markets, events, series and positions); the server paginates
//! them. Filters are the wire query-parameter types (their `limit`/`cursor` are ignored here).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};
use crate::kalshi::wire;

use super::Decrease;
use super::Exchange;
use super::accounts::cents_truncated;
use super::events::ExchangeEvent;
use super::groups::parse_contracts_limit;
use super::lifecycle::MarketState;
use super::trading::{AmendRequest, OrderRequest};
use super::types::ApiError;
use super::wire_out::{self, seconds, timestamp};

/// One aggregated book level: price and resting size.
pub type Level = (Price, Count);

/// An announcement as kalshi::wire WS messages (see `Exchange::take_wire_events`).
#[derive(Debug, Clone, PartialEq)]
pub enum WireEvent {
    /// A resting-size change at one level. `price` is in that side's own price (a NO level
    /// carries a NO price); `user_id`/`client_order_id`/`subaccount` name the owner of the order
    /// whose size changed, so the server can add them for that user only.
    BookDelta {
        ticker: Ticker,
        side: wire::OutcomeSide,
        price: Price,
        delta: Count,
        user_id: Option<String>,
        client_order_id: Option<String>,
        subaccount: Option<u32>,
        ts_ms: i64,
    },
    Trade(wire::WsTrade),
    Ticker(wire::WsTicker),
    Fill {
        user_id: String,
        msg: wire::WsFill,
    },
    UserOrder {
        user_id: String,
        msg: wire::UserOrder,
    },
    MarketPosition {
        user_id: String,
        msg: wire::WsMarketPosition,
    },
    Lifecycle(wire::MarketLifecycle),
    OrderGroup {
        user_id: String,
        msg: wire::OrderGroupUpdate,
    },
}

/// `GET /portfolio/settlements` filters (the wire module has no params type for it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementFilter {
    #[serde(default)]
    pub ticker: Option<String>,
    #[serde(default)]
    pub event_ticker: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub min_ts: Option<i64>,
    #[serde(default)]
    pub max_ts: Option<i64>,
    #[serde(default)]
    pub subaccount: Option<u32>,
}

fn error_response(error: &ApiError) -> wire::ErrorResponse {
    wire::ErrorResponse {
        code: Some(error.code.clone()),
        message: Some(error.message.clone()),
        details: error.details.clone(),
        service: None,
    }
}

fn csv_contains(csv: &str, value: &str) -> bool {
    csv.split(',').map(str::trim).any(|item| item == value)
}

fn in_seconds_range(ms: i64, min_s: Option<i64>, max_s: Option<i64>) -> bool {
    let s = seconds(ms);
    min_s.is_none_or(|min| s >= min) && max_s.is_none_or(|max| s <= max)
}

impl OrderRequest {
    /// From a V2 create request. `now_ms` turns a past `expiration_time` into an error here so
    /// the message names the field.
    pub fn from_wire(request: &wire::CreateOrderV2Request, now_ms: i64) -> Result<Self, ApiError> {
        let expiration_ms = match request.expiration_time {
            Some(seconds) => {
                let ms = seconds.saturating_mul(1000);
                if ms <= now_ms {
                    return Err(ApiError::invalid_order(format!(
                        "expiration_time {seconds} is not in the future"
                    )));
                }
                Some(ms)
            }
            None => None,
        };
        if request.exchange_index.is_some_and(|i| i != 0 && i != -1) {
            return Err(ApiError::bad_request(format!(
                "exchange_index {} is not served by this exchange (shard 0 only)",
                request.exchange_index.unwrap_or_default()
            )));
        }
        Ok(OrderRequest {
            ticker: request.ticker.as_str().to_string(),
            side: wire_out::book_side_in(request.side),
            count: request.count,
            price: request.price,
            time_in_force: wire_out::time_in_force_in(request.time_in_force),
            self_trade_prevention: wire_out::stp_in(request.self_trade_prevention_type),
            client_order_id: request.client_order_id.clone(),
            expiration_ms,
            post_only: request.post_only.unwrap_or(false),
            reduce_only: request.reduce_only.unwrap_or(false),
            cancel_order_on_pause: request.cancel_order_on_pause.unwrap_or(false),
            order_group_id: request.order_group_id.clone(),
            subaccount: request.subaccount.unwrap_or(0),
        })
    }
}

impl Exchange {
    // ---- writes ----

    /// `POST /portfolio/events/orders`. A request that cannot be parsed into an order is
    /// refused and logged like any other refusal.
    pub fn create_order(
        &mut self,
        user_id: &str,
        request: &wire::CreateOrderV2Request,
        now_ms: i64,
    ) -> Result<wire::CreateOrderV2Response, ApiError> {
        let parsed = match OrderRequest::from_wire(request, now_ms) {
            Ok(parsed) => parsed,
            Err(error) => {
                self.log_unparsed_create(user_id, request, &error, now_ms, false);
                return Err(error);
            }
        };
        let ack = self.place_order(user_id, &parsed, now_ms)?;
        Ok(wire::CreateOrderV2Response {
            order_id: ack.order_id,
            client_order_id: Some(ack.client_order_id).filter(|c| !c.is_empty()),
            fill_count: ack.fill_count,
            remaining_count: ack.remaining_count,
            average_fill_price: ack.average_fill_price,
            average_fee_paid: ack.average_fee_paid,
            ts_ms: ack.ts_ms,
        })
    }

    fn log_unparsed_create(
        &mut self,
        user_id: &str,
        request: &wire::CreateOrderV2Request,
        error: &ApiError,
        now_ms: i64,
        batch: bool,
    ) {
        let kind = if batch {
            super::types::WriteKind::BatchCreateItem
        } else {
            super::types::WriteKind::CreateOrder
        };
        let mut entry = super::log_entry(now_ms, user_id, kind);
        entry.subaccount = request.subaccount;
        entry.ticker = Some(request.ticker.clone());
        entry.client_order_id = request.client_order_id.clone();
        entry.order_group_id = request.order_group_id.clone();
        entry.side = Some(wire_out::book_side_in(request.side));
        entry.price = Some(request.price);
        entry.count = Some(request.count);
        entry.outcome = super::types::WriteOutcome::Refused {
            status: error.status,
            code: error.code.clone(),
        };
        self.log_write(entry);
    }

    /// `POST /portfolio/events/orders/batched`: every item succeeds or fails on its own.
    pub fn batch_create_orders(
        &mut self,
        user_id: &str,
        request: &wire::BatchCreateOrdersV2Request,
        now_ms: i64,
    ) -> Result<wire::BatchCreateOrdersV2Response, ApiError> {
        self.member(user_id)?;
        let mut results = Vec::with_capacity(request.orders.len());
        for item in &request.orders {
            let outcome = match OrderRequest::from_wire(item, now_ms) {
                Ok(parsed) => self.place_orders(user_id, std::slice::from_ref(&parsed), now_ms),
                Err(error) => {
                    self.log_unparsed_create(user_id, item, &error, now_ms, true);
                    vec![Err(error)]
                }
            };
            for result in outcome {
                results.push(match result {
                    Ok(ack) => wire::BatchCreateOrderV2Result {
                        order_id: Some(ack.order_id),
                        client_order_id: Some(ack.client_order_id).filter(|c| !c.is_empty()),
                        fill_count: Some(ack.fill_count),
                        remaining_count: Some(ack.remaining_count),
                        average_fill_price: ack.average_fill_price,
                        average_fee_paid: ack.average_fee_paid,
                        ts_ms: Some(ack.ts_ms),
                        error: None,
                    },
                    Err(error) => wire::BatchCreateOrderV2Result {
                        order_id: None,
                        client_order_id: item.client_order_id.clone(),
                        fill_count: None,
                        remaining_count: None,
                        average_fill_price: None,
                        average_fee_paid: None,
                        ts_ms: None,
                        error: Some(error_response(&error)),
                    },
                });
            }
        }
        Ok(wire::BatchCreateOrdersV2Response { orders: results })
    }

    /// `DELETE /portfolio/events/orders/{order_id}`.
    pub fn cancel_order(
        &mut self,
        user_id: &str,
        order_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
    ) -> Result<wire::CancelOrderV2Response, ApiError> {
        let ack = self.cancel_order_by_id(user_id, order_id, subaccount, now_ms)?;
        Ok(wire::CancelOrderV2Response {
            order_id: ack.order_id,
            client_order_id: Some(ack.client_order_id).filter(|c| !c.is_empty()),
            reduced_by: ack.reduced_by,
            ts_ms: ack.ts_ms,
        })
    }

    /// `DELETE /portfolio/events/orders/batched`: per-item errors, `reduced_by` "0.00" on error.
    pub fn batch_cancel_orders(
        &mut self,
        user_id: &str,
        request: &wire::BatchCancelOrdersV2Request,
        now_ms: i64,
    ) -> Result<wire::BatchCancelOrdersV2Response, ApiError> {
        self.member(user_id)?;
        let items: Vec<(String, Option<u32>)> = request
            .orders
            .iter()
            .map(|o| (o.order_id.clone(), o.subaccount))
            .collect();
        let results = self.cancel_orders_by_id(user_id, &items, now_ms);
        let orders = items
            .iter()
            .zip(results)
            .map(|((order_id, _), result)| match result {
                Ok(ack) => wire::BatchCancelOrderV2Result {
                    order_id: ack.order_id,
                    client_order_id: Some(ack.client_order_id).filter(|c| !c.is_empty()),
                    reduced_by: ack.reduced_by,
                    ts_ms: Some(ack.ts_ms),
                    error: None,
                },
                Err(error) => wire::BatchCancelOrderV2Result {
                    order_id: order_id.clone(),
                    client_order_id: None,
                    reduced_by: Count::ZERO,
                    ts_ms: None,
                    error: Some(error_response(&error)),
                },
            })
            .collect();
        Ok(wire::BatchCancelOrdersV2Response { orders })
    }

    /// `POST /portfolio/events/orders/{order_id}/amend`. (`expiration_time`, new in 3.34, is
    /// not applied: the matching book keeps an order's original expiry.)
    pub fn amend_order(
        &mut self,
        user_id: &str,
        order_id: &str,
        subaccount: Option<u32>,
        request: &wire::AmendOrderV2Request,
        now_ms: i64,
    ) -> Result<wire::AmendOrderV2Response, ApiError> {
        let amend = AmendRequest {
            ticker: request.ticker.as_str().to_string(),
            side: wire_out::book_side_in(request.side),
            price: request.price,
            count: request.count,
            client_order_id: request.client_order_id.clone(),
            updated_client_order_id: request.updated_client_order_id.clone(),
        };
        let ack = self.amend_order_by_id(user_id, order_id, subaccount, &amend, now_ms)?;
        Ok(wire::AmendOrderV2Response {
            order_id: ack.order_id,
            client_order_id: Some(ack.client_order_id).filter(|c| !c.is_empty()),
            remaining_count: Some(ack.remaining_count),
            fill_count: Some(ack.fill_count),
            average_fill_price: ack.average_fill_price,
            average_fee_paid: ack.average_fee_paid,
            ts_ms: ack.ts_ms,
        })
    }

    /// `POST /portfolio/events/orders/{order_id}/decrease`: exactly one of `reduce_by` /
    /// `reduce_to`.
    pub fn decrease_order(
        &mut self,
        user_id: &str,
        order_id: &str,
        subaccount: Option<u32>,
        request: &wire::DecreaseOrderV2Request,
        now_ms: i64,
    ) -> Result<wire::DecreaseOrderV2Response, ApiError> {
        let decrease = match request.validate() {
            Ok(wire::Decrease::By(by)) => Decrease::By(by),
            Ok(wire::Decrease::To(to)) => Decrease::To(to),
            Err(problem) => {
                let error = ApiError::bad_request(problem);
                let mut entry =
                    super::log_entry(now_ms, user_id, super::types::WriteKind::DecreaseOrder);
                entry.subaccount = subaccount;
                entry.order_id = Some(order_id.to_string());
                entry.outcome = super::types::WriteOutcome::Refused {
                    status: error.status,
                    code: error.code.clone(),
                };
                self.log_write(entry);
                return Err(error);
            }
        };
        let ack = self.decrease_order_by_id(user_id, order_id, subaccount, decrease, now_ms)?;
        Ok(wire::DecreaseOrderV2Response {
            order_id: ack.order_id,
            client_order_id: Some(ack.client_order_id).filter(|c| !c.is_empty()),
            remaining_count: ack.remaining_count,
            ts_ms: ack.ts_ms,
        })
    }

    // ---- order groups ----

    /// `POST /portfolio/order_groups/create`.
    pub fn create_order_group(
        &mut self,
        user_id: &str,
        request: &wire::CreateOrderGroupRequest,
        now_ms: i64,
    ) -> Result<wire::CreateOrderGroupResponse, ApiError> {
        let subaccount = request.subaccount.unwrap_or(0);
        let limit = parse_contracts_limit(
            request.contracts_limit,
            request.contracts_limit_fp.map(|c| c.to_fp()).as_deref(),
        );
        let limit = match limit {
            Ok(limit) => limit,
            Err(error) => {
                let mut entry =
                    super::log_entry(now_ms, user_id, super::types::WriteKind::CreateOrderGroup);
                entry.subaccount = Some(subaccount);
                entry.outcome = super::types::WriteOutcome::Refused {
                    status: error.status,
                    code: error.code.clone(),
                };
                self.log_write(entry);
                return Err(error);
            }
        };
        let order_group_id = self.create_group(user_id, subaccount, limit, now_ms)?;
        Ok(wire::CreateOrderGroupResponse {
            order_group_id,
            subaccount,
            exchange_index: Some(self.config.exchange_index),
        })
    }

    /// `GET /portfolio/order_groups/{id}`. `is_auto_cancel_enabled` is always true: every
    /// simulated group cancels its orders when its limit is hit.
    pub fn get_order_group(
        &self,
        user_id: &str,
        order_group_id: &str,
        subaccount: Option<u32>,
    ) -> Result<wire::GetOrderGroupResponse, ApiError> {
        let group = self.group_of(user_id, order_group_id, subaccount)?;
        Ok(wire::GetOrderGroupResponse {
            is_auto_cancel_enabled: true,
            contracts_limit_fp: Some(group.contracts_limit),
            orders: group.order_ids.clone(),
            exchange_index: Some(self.config.exchange_index),
        })
    }

    /// `GET /portfolio/order_groups`, in id order.
    pub fn list_order_groups(
        &self,
        user_id: &str,
        subaccount: Option<u32>,
    ) -> Result<wire::GetOrderGroupsResponse, ApiError> {
        let order_groups = self
            .groups_of(user_id, subaccount)?
            .into_iter()
            .map(|g| wire::OrderGroup {
                id: g.order_group_id.clone(),
                contracts_limit_fp: Some(g.contracts_limit),
                is_auto_cancel_enabled: true,
                exchange_index: Some(self.config.exchange_index),
            })
            .collect();
        Ok(wire::GetOrderGroupsResponse { order_groups })
    }

    /// `DELETE /portfolio/order_groups/{id}`.
    pub fn delete_order_group(
        &mut self,
        user_id: &str,
        order_group_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
    ) -> Result<wire::EmptyResponse, ApiError> {
        self.delete_group(user_id, order_group_id, subaccount, now_ms)
            .map(|()| wire::EmptyResponse {})
    }

    /// `PUT /portfolio/order_groups/{id}/reset`.
    pub fn reset_order_group(
        &mut self,
        user_id: &str,
        order_group_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
    ) -> Result<wire::EmptyResponse, ApiError> {
        self.reset_group(user_id, order_group_id, subaccount, now_ms)
            .map(|()| wire::EmptyResponse {})
    }

    /// `PUT /portfolio/order_groups/{id}/trigger`.
    pub fn trigger_order_group(
        &mut self,
        user_id: &str,
        order_group_id: &str,
        subaccount: Option<u32>,
        now_ms: i64,
    ) -> Result<wire::EmptyResponse, ApiError> {
        self.trigger_group(user_id, order_group_id, subaccount, now_ms)
            .map(|()| wire::EmptyResponse {})
    }

    /// `PUT /portfolio/order_groups/{id}/limit`.
    pub fn update_order_group_limit(
        &mut self,
        user_id: &str,
        order_group_id: &str,
        subaccount: Option<u32>,
        request: &wire::UpdateOrderGroupLimitRequest,
        now_ms: i64,
    ) -> Result<wire::EmptyResponse, ApiError> {
        let limit = parse_contracts_limit(
            request.contracts_limit,
            request.contracts_limit_fp.map(|c| c.to_fp()).as_deref(),
        );
        let limit = match limit {
            Ok(limit) => limit,
            Err(error) => {
                let mut entry = super::log_entry(
                    now_ms,
                    user_id,
                    super::types::WriteKind::UpdateOrderGroupLimit,
                );
                entry.subaccount = subaccount;
                entry.order_group_id = Some(order_group_id.to_string());
                entry.outcome = super::types::WriteOutcome::Refused {
                    status: error.status,
                    code: error.code.clone(),
                };
                self.log_write(entry);
                return Err(error);
            }
        };
        self.update_group_limit(user_id, order_group_id, subaccount, limit, now_ms)
            .map(|()| wire::EmptyResponse {})
    }

    // ---- events ----

    /// Everything to fan out since the last call, in order, as wire messages.
    pub fn take_wire_events(&mut self) -> Vec<WireEvent> {
        let index = self.config.exchange_index;
        self.take_events()
            .into_iter()
            .map(|announcement| match announcement {
                ExchangeEvent::BookDelta(d) => WireEvent::BookDelta {
                    ticker: d.ticker,
                    side: wire_out::outcome(d.side),
                    price: d.price,
                    delta: d.delta,
                    user_id: d.user_id,
                    client_order_id: d.client_order_id,
                    subaccount: d.subaccount,
                    ts_ms: d.ts_ms,
                },
                ExchangeEvent::Trade(t) => WireEvent::Trade(wire_out::ws_trade(&t)),
                ExchangeEvent::Ticker(t) => {
                    let market_id = self.market_id(t.ticker.as_str()).unwrap_or_default();
                    WireEvent::Ticker(wire_out::ws_ticker(&t, market_id))
                }
                ExchangeEvent::Fill(f) => WireEvent::Fill {
                    user_id: f.user_id.clone(),
                    msg: wire_out::ws_fill(&f, index),
                },
                ExchangeEvent::UserOrder(o) => WireEvent::UserOrder {
                    user_id: o.user_id.clone(),
                    msg: wire_out::user_order(&o),
                },
                ExchangeEvent::MarketPosition(p) => WireEvent::MarketPosition {
                    user_id: p.user_id.clone(),
                    msg: wire_out::ws_position(&p),
                },
                ExchangeEvent::Lifecycle(step) => {
                    let market = self.markets.get(step.ticker.as_str());
                    WireEvent::Lifecycle(wire_out::lifecycle(&step, market, index))
                }
                ExchangeEvent::OrderGroup(g) => WireEvent::OrderGroup {
                    user_id: g.user_id.clone(),
                    msg: wire_out::group_update(&g),
                },
            })
            .collect()
    }

    // ---- reads: exchange ----

    /// `GET /exchange/status`.
    pub fn exchange_status(&self) -> wire::ExchangeStatus {
        wire::ExchangeStatus {
            exchange_active: self.exchange_active,
            trading_active: self.exchange_active && self.trading_active,
            intra_exchange_transfers_active: None,
            exchange_estimated_resume_time: self.estimated_resume_ms.map(timestamp),
            exchange_index_statuses: None,
        }
    }

    /// `GET /exchange/schedule`: the configured weekly hours (in force from the epoch, with no
    /// end) and maintenance windows.
    pub fn schedule(&self) -> wire::GetExchangeScheduleResponse {
        let schedule = &self.config.schedule;
        let day = |i: usize| -> Vec<wire::DailySchedule> {
            schedule.weekly_hours[i]
                .iter()
                .map(|h| wire::DailySchedule {
                    open_time: h.open_time.clone(),
                    close_time: h.close_time.clone(),
                })
                .collect()
        };
        wire::GetExchangeScheduleResponse {
            schedule: wire::Schedule {
                standard_hours: vec![wire::WeeklySchedule {
                    start_time: timestamp(0),
                    end_time: timestamp(253_402_300_799_000),
                    monday: day(0),
                    tuesday: day(1),
                    wednesday: day(2),
                    thursday: day(3),
                    friday: day(4),
                    saturday: day(5),
                    sunday: day(6),
                }],
                maintenance_windows: schedule
                    .maintenance_windows
                    .iter()
                    .map(|&(start, end)| wire::MaintenanceWindow {
                        start_datetime: timestamp(start),
                        end_datetime: timestamp(end),
                    })
                    .collect(),
            },
        }
    }

    // ---- reads: catalogue ----

    /// The uuid a market's WS frames carry as `market_id`.
    pub fn market_id(&self, ticker: &str) -> Option<&str> {
        self.markets.get(ticker).map(|m| m.market_id.as_str())
    }

    fn wire_market(&self, market: &MarketState) -> wire::Market {
        let book = self.books.get(market.ticker.as_str());
        let (yes_bid, yes_bid_size) = book
            .and_then(|b| b.best_bid())
            .unwrap_or((Price::ZERO, Count::ZERO));
        let (yes_ask, yes_ask_size) = book
            .and_then(|b| b.best_ask())
            .unwrap_or((Price::ONE, Count::ZERO));
        let spec = &market.spec;
        let stats = &market.stats;
        wire::Market {
            ticker: market.ticker.clone(),
            event_ticker: spec.event_ticker.clone(),
            market_type: if spec.market_type == "scalar" {
                wire::MarketType::Scalar
            } else {
                wire::MarketType::Binary
            },
            title: Some(spec.title.clone()),
            subtitle: None,
            yes_sub_title: spec.yes_sub_title.clone(),
            no_sub_title: spec.no_sub_title.clone(),
            created_time: timestamp(spec.created_ms),
            updated_time: timestamp(market.updated_ms),
            open_time: timestamp(spec.open_ms),
            close_time: timestamp(market.close_ms),
            expected_expiration_time: Some(timestamp(spec.expected_expiration_ms)),
            expiration_time: None,
            latest_expiration_time: timestamp(spec.latest_expiration_ms),
            settlement_timer_seconds: spec.settlement_timer_seconds,
            status: market.status.into(),
            yes_bid_dollars: yes_bid,
            yes_bid_size_fp: yes_bid_size,
            yes_ask_dollars: yes_ask,
            yes_ask_size_fp: yes_ask_size,
            no_bid_dollars: yes_ask.complement(),
            no_ask_dollars: yes_bid.complement(),
            last_price_dollars: stats.last_price.unwrap_or(Price::ZERO),
            volume_fp: stats.volume,
            volume_24h_fp: stats.volume_24h(self.clock_ms),
            result: wire_out::market_result(market.result),
            can_close_early: spec.can_close_early,
            open_interest_fp: stats.open_interest,
            notional_value_dollars: Money::from_micros(1_000_000),
            previous_yes_bid_dollars: stats.previous_yes_bid.unwrap_or(Price::ZERO),
            previous_yes_ask_dollars: stats.previous_yes_ask.unwrap_or(Price::ZERO),
            previous_price_dollars: stats.previous_price.unwrap_or(Price::ZERO),
            liquidity_dollars: None,
            settlement_value_dollars: market.result.map(|r| r.yes_value()),
            settlement_ts: market.settled_ms.map(timestamp),
            expiration_value: String::new(),
            occurrence_datetime: None,
            fee_waiver_expiration_time: None,
            early_close_condition: None,
            strike_type: spec.strike_type.clone(),
            floor_strike: wire_out::strike(spec.floor_strike),
            cap_strike: wire_out::strike(spec.cap_strike),
            functional_strike: None,
            custom_strike: None,
            rules_primary: spec.rules_primary.clone(),
            rules_secondary: spec.rules_secondary.clone(),
            mve_collection_ticker: None,
            mve_selected_legs: None,
            primary_participant_key: None,
            price_level_structure: spec.price_level_structure.clone(),
            price_ranges: wire_out::price_ranges(market),
            is_provisional: None,
            exchange_index: Some(self.config.exchange_index),
            settlement_bounds_type: None,
            settlement_floor_dollars: None,
        }
    }

    fn market_matches(&self, market: &MarketState, filter: &wire::GetMarketsParams) -> bool {
        let spec = &market.spec;
        if filter
            .event_ticker
            .as_ref()
            .is_some_and(|e| *e != spec.event_ticker)
        {
            return false;
        }
        if let Some(series) = &filter.series_ticker {
            let of_series = self
                .events_by_ticker
                .get(&spec.event_ticker)
                .is_some_and(|e| e.series_ticker == *series);
            if !of_series {
                return false;
            }
        }
        if let Some(status) = filter.status {
            let word = match status {
                wire::MarketStatusFilter::Unopened => "unopened",
                wire::MarketStatusFilter::Open => "open",
                wire::MarketStatusFilter::Paused => "paused",
                wire::MarketStatusFilter::Closed => "closed",
                wire::MarketStatusFilter::Settled => "settled",
            };
            if market.status.filter_word() != word {
                return false;
            }
        }
        if filter
            .tickers
            .as_ref()
            .is_some_and(|t| !csv_contains(t, market.ticker.as_str()))
        {
            return false;
        }
        if filter.mve_filter.as_deref() == Some("only") {
            return false;
        }
        if !in_seconds_range(
            spec.created_ms,
            filter.min_created_ts,
            filter.max_created_ts,
        ) || !in_seconds_range(market.close_ms, filter.min_close_ts, filter.max_close_ts)
            || !in_seconds_range(market.updated_ms, filter.min_updated_ts, None)
        {
            return false;
        }
        if filter.min_settled_ts.is_some() || filter.max_settled_ts.is_some() {
            match market.settled_ms {
                Some(ms) => {
                    if !in_seconds_range(ms, filter.min_settled_ts, filter.max_settled_ts) {
                        return false;
                    }
                }
                None => return false,
            }
        }
        true
    }

    /// `GET /markets`, in ticker order.
    pub fn markets(&self, filter: &wire::GetMarketsParams) -> Vec<wire::Market> {
        self.markets
            .values()
            .filter(|m| self.market_matches(m, filter))
            .map(|m| self.wire_market(m))
            .collect()
    }

    /// `GET /markets/{ticker}`.
    pub fn market(&self, ticker: &str) -> Result<wire::Market, ApiError> {
        self.markets
            .get(ticker)
            .map(|m| self.wire_market(m))
            .ok_or_else(|| ApiError::not_found(format!("market {ticker} not found")))
    }

    fn wire_event(&self, event: &super::types::EventSpec, with_markets: bool) -> wire::EventData {
        let markets: Vec<wire::Market> = self
            .markets
            .values()
            .filter(|m| m.spec.event_ticker == event.event_ticker)
            .map(|m| self.wire_market(m))
            .collect();
        wire::EventData {
            event_ticker: event.event_ticker.clone(),
            series_ticker: event.series_ticker.clone(),
            sub_title: event.sub_title.clone(),
            title: event.title.clone(),
            collateral_return_type: if event.mutually_exclusive {
                "MECNET".to_string()
            } else {
                String::new()
            },
            mutually_exclusive: event.mutually_exclusive,
            category: self
                .series
                .get(&event.series_ticker)
                .map(|s| s.category.clone()),
            strike_date: event.strike_date_ms.map(timestamp),
            strike_period: None,
            markets: with_markets.then_some(markets),
            // Required by the 3.27 spec (deprecated in 3.34).
            available_on_brokers: Some(false),
            product_metadata: None,
            settlement_sources: Vec::new(),
            last_updated_ts: None,
            fee_type_override: event.fee_type_override.map(wire_out::fee_type),
            fee_multiplier_override: event.fee_multiplier_override.map(wire_out::fee_multiplier),
            exchange_index: Some(self.config.exchange_index),
        }
    }

    /// `GET /events`, in event-ticker order. The `status` filter (`unopened|open|closed|
    /// settled`) keeps events with at least one market in that state.
    pub fn events(&self, filter: &wire::GetEventsParams) -> Vec<wire::EventData> {
        let with_markets = filter.with_nested_markets.unwrap_or(false);
        self.events_by_ticker
            .values()
            .filter(|e| {
                filter
                    .series_ticker
                    .as_ref()
                    .is_none_or(|s| *s == e.series_ticker)
            })
            .filter(|e| {
                filter.status.as_ref().is_none_or(|status| {
                    self.markets.values().any(|m| {
                        m.spec.event_ticker == e.event_ticker
                            && m.status.filter_word() == status.as_str()
                    })
                })
            })
            .filter(|e| {
                filter.min_close_ts.is_none_or(|min| {
                    self.markets.values().any(|m| {
                        m.spec.event_ticker == e.event_ticker && seconds(m.close_ms) >= min
                    })
                })
            })
            .map(|e| self.wire_event(e, with_markets))
            .collect()
    }

    /// `GET /events/{event_ticker}`: the event and its markets (nested too when asked).
    pub fn event(
        &self,
        event_ticker: &str,
        with_nested_markets: bool,
    ) -> Result<wire::GetEventResponse, ApiError> {
        let event = self
            .events_by_ticker
            .get(event_ticker)
            .ok_or_else(|| ApiError::not_found(format!("event {event_ticker} not found")))?;
        let markets = self
            .markets
            .values()
            .filter(|m| m.spec.event_ticker == event_ticker)
            .map(|m| self.wire_market(m))
            .collect();
        Ok(wire::GetEventResponse {
            event: self.wire_event(event, with_nested_markets),
            markets,
        })
    }

    fn wire_series(&self, series: &super::types::SeriesSpec) -> wire::Series {
        let volume = self
            .markets
            .values()
            .filter(|m| {
                self.events_by_ticker
                    .get(&m.spec.event_ticker)
                    .is_some_and(|e| e.series_ticker == series.ticker)
            })
            .fold(Count::ZERO, |sum, m| sum.saturating_add(m.stats.volume));
        wire::Series {
            ticker: series.ticker.clone(),
            frequency: series.frequency.clone(),
            title: series.title.clone(),
            category: series.category.clone(),
            categories: Some(vec![series.category.clone()]),
            tags: series.tags.clone(),
            settlement_sources: Vec::new(),
            contract_url: series.contract_url.clone(),
            contract_terms_url: series.contract_terms_url.clone(),
            product_metadata: None,
            fee_type: wire_out::fee_type(series.fee_type),
            fee_multiplier: wire_out::fee_multiplier(series.fee_multiplier),
            additional_prohibitions: Vec::new(),
            volume_fp: Some(volume),
            last_updated_ts: None,
            exchange_index: Some(self.config.exchange_index),
        }
    }

    /// `GET /series`, in ticker order.
    pub fn series_list(&self) -> Vec<wire::Series> {
        self.series.values().map(|s| self.wire_series(s)).collect()
    }

    /// `GET /series/{series_ticker}`.
    pub fn series(&self, series_ticker: &str) -> Result<wire::Series, ApiError> {
        self.series
            .get(series_ticker)
            .map(|s| self.wire_series(s))
            .ok_or_else(|| ApiError::not_found(format!("series {series_ticker} not found")))
    }

    /// `GET /markets/{ticker}/orderbook`: both ladders ascending, best last; `depth` 0 = all,
    /// otherwise the best `depth` levels per side.
    pub fn orderbook(&self, ticker: &str, depth: usize) -> Result<wire::OrderbookFp, ApiError> {
        let (yes, no) = self
            .book_levels(ticker)
            .ok_or_else(|| ApiError::not_found(format!("market {ticker} not found")))?;
        let keep = |levels: Vec<(Price, Count)>| -> Vec<wire::PriceLevel> {
            let skip = if depth == 0 {
                0
            } else {
                levels.len().saturating_sub(depth)
            };
            levels
                .into_iter()
                .skip(skip)
                .map(|(p, c)| wire::PriceLevel(p, c))
                .collect()
        };
        Ok(wire::OrderbookFp {
            yes_dollars: keep(yes),
            no_dollars: keep(no),
        })
    }

    /// YES bids and NO bids (NO prices), ascending, for WS snapshots.
    pub fn book_levels(&self, ticker: &str) -> Option<(Vec<Level>, Vec<Level>)> {
        let levels = self.books.get(ticker)?.levels();
        Some((levels.yes_bids, levels.no_bids))
    }

    /// `GET /markets/trades`, newest first.
    pub fn trades(&self, filter: &wire::GetTradesParams) -> Vec<wire::Trade> {
        if filter.is_block_trade == Some(true) {
            return Vec::new();
        }
        self.trades
            .iter()
            .rev()
            .filter(|t| {
                filter
                    .ticker
                    .as_ref()
                    .is_none_or(|x| x == t.ticker.as_str())
            })
            .filter(|t| in_seconds_range(t.ts_ms, filter.min_ts, filter.max_ts))
            .map(wire_out::trade)
            .collect()
    }

    // ---- reads: portfolio ----

    /// `GET /portfolio/balance`: the primary account unless `subaccount` is given. `balance` is
    /// the available cash (cash minus collateral locked by resting orders); `portfolio_value`
    /// marks positions at the last trade price (YES at `p`, NO at `1 − p`).
    pub fn balance(
        &self,
        user_id: &str,
        subaccount: Option<u32>,
    ) -> Result<wire::GetBalanceResponse, ApiError> {
        let member = self.member(user_id)?;
        let number = subaccount.unwrap_or(0);
        super::accounts::check_subaccount(number)?;
        let empty = super::accounts::Subaccount::default();
        let sub = member.account.subaccount(number).unwrap_or(&empty);
        let available = sub.available();
        let portfolio = sub
            .positions
            .iter()
            .fold(Money::ZERO, |sum, (ticker, position)| {
                let last = self
                    .markets
                    .get(ticker.as_str())
                    .and_then(|m| m.stats.last_price)
                    .unwrap_or(Price::ZERO);
                let per_contract = if position.position.is_negative() {
                    last.complement()
                } else {
                    last
                };
                sum.saturating_add(super::accounts::money_floor(
                    per_contract,
                    position.position.abs(),
                ))
            });
        Ok(wire::GetBalanceResponse {
            balance: cents_truncated(available),
            balance_dollars: available,
            portfolio_value: cents_truncated(portfolio),
            updated_ts: seconds(sub.updated_ms.max(self.clock_ms)),
            balance_breakdown: Some(vec![wire::IndexedBalance {
                exchange_index: self.config.exchange_index,
                balance: available,
            }]),
        })
    }

    /// `GET /portfolio/positions`: unsettled positions in ticker order (one entry per
    /// subaccount when `subaccount` is omitted), plus one entry per event.
    pub fn positions(
        &self,
        user_id: &str,
        filter: &wire::GetPositionsParams,
    ) -> Result<wire::GetPositionsResponse, ApiError> {
        let member = self.member(user_id)?;
        let index = self.config.exchange_index;
        let mut market_positions = Vec::new();
        let mut by_event: BTreeMap<String, wire::EventPosition> = BTreeMap::new();
        for (&number, sub) in &member.account.subaccounts {
            if filter.subaccount.is_some_and(|s| s != number) {
                continue;
            }
            for (ticker, position) in &sub.positions {
                let event_ticker = self
                    .markets
                    .get(ticker.as_str())
                    .map(|m| m.spec.event_ticker.clone())
                    .unwrap_or_default();
                let keep = filter.ticker.as_ref().is_none_or(|t| t == ticker.as_str())
                    && filter
                        .event_ticker
                        .as_ref()
                        .is_none_or(|e| csv_contains(e, &event_ticker))
                    && match filter.count_filter.as_deref() {
                        Some(f) if csv_contains(f, "position") => !position.position.is_zero(),
                        Some(f) if csv_contains(f, "total_traded") => {
                            position.total_traded.micros() != 0
                        }
                        _ => true,
                    };
                if !keep {
                    continue;
                }
                market_positions.push(wire_out::market_position(ticker, position, index));
                let entry =
                    by_event
                        .entry(event_ticker.clone())
                        .or_insert_with(|| wire::EventPosition {
                            event_ticker: event_ticker.clone(),
                            total_cost_dollars: Money::ZERO,
                            total_cost_shares_fp: Count::ZERO,
                            event_exposure_dollars: Money::ZERO,
                            realized_pnl_dollars: Money::ZERO,
                            fees_paid_dollars: Money::ZERO,
                        });
                entry.total_cost_dollars = entry.total_cost_dollars.saturating_add(position.cost);
                entry.total_cost_shares_fp = entry
                    .total_cost_shares_fp
                    .saturating_add(position.position.abs());
                entry.event_exposure_dollars =
                    entry.event_exposure_dollars.saturating_add(position.cost);
                entry.realized_pnl_dollars = entry
                    .realized_pnl_dollars
                    .saturating_add(position.realized_pnl);
                entry.fees_paid_dollars =
                    entry.fees_paid_dollars.saturating_add(position.fees_paid);
            }
        }
        Ok(wire::GetPositionsResponse {
            cursor: String::new(),
            market_positions,
            event_positions: by_event.into_values().collect(),
        })
    }

    /// `GET /portfolio/fills`, newest first.
    pub fn fills(
        &self,
        user_id: &str,
        filter: &wire::GetFillsParams,
    ) -> Result<Vec<wire::Fill>, ApiError> {
        self.member(user_id)?;
        let index = self.config.exchange_index;
        Ok(self
            .fills_of(user_id)
            .rev()
            .filter(|f| filter.subaccount.is_none_or(|s| s == f.subaccount))
            .filter(|f| {
                filter
                    .ticker
                    .as_ref()
                    .is_none_or(|t| t == f.ticker.as_str())
            })
            .filter(|f| filter.order_id.as_ref().is_none_or(|o| *o == f.order_id))
            .filter(|f| {
                filter.event_ticker.as_ref().is_none_or(|e| {
                    self.markets
                        .get(f.ticker.as_str())
                        .is_some_and(|m| csv_contains(e, &m.spec.event_ticker))
                })
            })
            .filter(|f| in_seconds_range(f.ts_ms, filter.min_ts, filter.max_ts))
            .map(|f| wire_out::fill(f, index))
            .collect())
    }

    /// `GET /portfolio/settlements`, newest first.
    pub fn settlements(
        &self,
        user_id: &str,
        filter: &SettlementFilter,
    ) -> Result<Vec<wire::Settlement>, ApiError> {
        self.member(user_id)?;
        let index = self.config.exchange_index;
        Ok(self
            .settlements_of(user_id)
            .rev()
            .filter(|s| filter.subaccount.is_none_or(|n| n == s.subaccount))
            .filter(|s| {
                filter
                    .ticker
                    .as_ref()
                    .is_none_or(|t| t == s.ticker.as_str())
            })
            .filter(|s| {
                filter
                    .event_ticker
                    .as_ref()
                    .is_none_or(|e| csv_contains(e, &s.event_ticker))
            })
            .filter(|s| in_seconds_range(s.settled_ms, filter.min_ts, filter.max_ts))
            .map(|s| wire_out::settlement(s, index))
            .collect())
    }

    /// `GET /portfolio/orders`, newest first. `event_ticker` may be a comma-separated list;
    /// `min_ts`/`max_ts` (seconds) filter on the creation time.
    pub fn orders(
        &self,
        user_id: &str,
        filter: &wire::GetOrdersParams,
    ) -> Result<Vec<wire::Order>, ApiError> {
        self.member(user_id)?;
        let index = self.config.exchange_index;
        Ok(self
            .order_records(user_id)
            .rev()
            .filter(|o| filter.subaccount.is_none_or(|s| s == o.subaccount))
            .filter(|o| {
                filter
                    .ticker
                    .as_ref()
                    .is_none_or(|t| t == o.ticker.as_str())
            })
            .filter(|o| {
                filter
                    .event_ticker
                    .as_ref()
                    .is_none_or(|e| csv_contains(e, &o.event_ticker))
            })
            .filter(|o| {
                filter
                    .status
                    .is_none_or(|s| s == wire_out::order_status(o.status))
            })
            .filter(|o| in_seconds_range(o.created_ms, filter.min_ts, filter.max_ts))
            .map(|o| wire_out::order(o, index))
            .collect())
    }

    /// `GET /portfolio/orders/{order_id}`.
    pub fn order(&self, user_id: &str, order_id: &str) -> Result<wire::Order, ApiError> {
        self.member(user_id)?;
        self.order_record(order_id)
            .filter(|o| o.user_id == user_id)
            .map(|o| wire_out::order(o, self.config.exchange_index))
            .ok_or_else(|| ApiError::not_found(format!("order {order_id} not found")))
    }

    /// `GET /portfolio/orders/{order_id}/queue_position`: contracts ahead at the same price
    /// (0 for an order that is no longer resting).
    pub fn queue_position(
        &self,
        user_id: &str,
        order_id: &str,
    ) -> Result<wire::GetOrderQueuePositionResponse, ApiError> {
        self.member(user_id)?;
        let record = self
            .order_record(order_id)
            .filter(|o| o.user_id == user_id)
            .ok_or_else(|| ApiError::not_found(format!("order {order_id} not found")))?;
        let number = self.order_numbers.get(order_id).copied().unwrap_or(0);
        let ahead = self
            .books
            .get(record.ticker.as_str())
            .and_then(|b| b.queue_position(number))
            .unwrap_or(Count::ZERO);
        Ok(wire::GetOrderQueuePositionResponse {
            queue_position_fp: ahead,
        })
    }

    /// `GET /portfolio/orders/queue_positions`: the member's resting orders in the given markets
    /// (or the event's markets), oldest first.
    pub fn queue_positions(
        &self,
        user_id: &str,
        market_tickers: &[String],
        event_ticker: Option<&str>,
    ) -> Result<Vec<wire::OrderQueuePosition>, ApiError> {
        let owner = self.member(user_id)?.owner;
        Ok(self
            .resting_numbers(None, Some(owner))
            .into_iter()
            .filter_map(|number| Some((number, self.orders.get(number as usize - 1)?)))
            .filter(|(_, o)| {
                (market_tickers.is_empty() && event_ticker.is_none())
                    || market_tickers.iter().any(|t| t == o.ticker.as_str())
                    || event_ticker.is_some_and(|e| e == o.event_ticker)
            })
            .map(|(number, o)| wire::OrderQueuePosition {
                order_id: o.order_id.clone(),
                market_ticker: o.ticker.clone(),
                queue_position_fp: self
                    .books
                    .get(o.ticker.as_str())
                    .and_then(|b| b.queue_position(number))
                    .unwrap_or(Count::ZERO),
            })
            .collect())
    }

    /// `GET /portfolio/summary/total_resting_order_value`: collateral locked by resting orders,
    /// in cents.
    pub fn total_resting_order_value(
        &self,
        user_id: &str,
        subaccount: Option<u32>,
    ) -> Result<wire::GetPortfolioRestingOrderTotalValueResponse, ApiError> {
        let member = self.member(user_id)?;
        let locked = member
            .account
            .subaccounts
            .iter()
            .filter(|(n, _)| subaccount.is_none_or(|s| s == **n))
            .fold(Money::ZERO, |sum, (_, s)| sum.saturating_add(s.locked));
        Ok(wire::GetPortfolioRestingOrderTotalValueResponse {
            total_resting_order_value: cents_truncated(locked),
        })
    }
}
