//! The REST router and its handlers. Each handler names the exchange call it makes and how its
//! answer is keyed; parsing, locking, paging and serializing are `handler`'s. Statuses and
//! shapes follow OpenAPI 3.27 (and the 3.34 SDK for cancel-all).

use super::errors::RestError;
use super::gate::{self, REST_PREFIX, WS_PATH};
use super::handler::{
    Answer, Body, PAGE_100_OF_1000, Paging, Query, Signed, check_one_of, keyed, read, read_page,
    reply, to_json, word, write,
};
use super::query::QueryParams;
use super::ratelimit::{DEFAULT_COST, ENDPOINT_COSTS};
use super::{AppState, SimConfig, ws};
use crate::core::num::Money;
use crate::kalshi::wire;
use crate::runtime::clock;
use crate::sim::exchange::types::ApiError;
use crate::sim::exchange::{Exchange, SettlementFilter};
use crate::sim::flow::Flow;
use crate::sim::keys::KeyRegistry;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use http::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

type Shared = State<Arc<AppState>>;

/// Build the exchange and (if enabled) the synthetic traders, with an account for every
/// registered user.
pub fn build_market(
    config: &SimConfig,
    registry: &KeyRegistry,
    now_ms: i64,
) -> Result<(Exchange, Option<Flow>), String> {
    let (mut exchange, flow) = super::venue::build(config.seed, config.markets, now_ms)?;
    for key in registry.keys() {
        ensure_account(&mut exchange, &key.user_id, config.starting_balance_cents);
    }
    ensure_account(
        &mut exchange,
        &config.user_id,
        config.starting_balance_cents,
    );
    Ok((exchange, config.flow.then_some(flow)))
}

/// Open an account for `user_id` if it has none.
pub fn ensure_account(exchange: &mut Exchange, user_id: &str, balance_cents: i64) {
    exchange.open_account(user_id, Money::from_cents(balance_cents));
}

/// Make the exchange's trading state follow the fault layer's `trading_paused`.
pub fn sync_trading_pause(state: &AppState, now_ms: i64) {
    let paused = state.gate.faults.trading_paused();
    let active = state.market.read(|exchange| exchange.is_trading_active());
    if active == paused {
        state.market.write(now_ms, |exchange| {
            exchange.set_trading_active(!paused, now_ms)
        });
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/exchange/status", get(exchange_status))
        .route("/exchange/schedule", get(exchange_schedule))
        .route("/exchange/user_data_timestamp", get(user_data_timestamp))
        .route("/markets", get(list_markets))
        .route("/markets/trades", get(list_trades))
        .route("/markets/orderbooks", get(orderbooks))
        .route("/markets/{ticker}", get(get_market))
        .route("/markets/{ticker}/orderbook", get(orderbook))
        .route("/events", get(list_events))
        .route("/events/{event_ticker}", get(get_event))
        .route("/series", get(list_series))
        .route("/series/{series_ticker}", get(get_series))
        .route("/portfolio/balance", get(balance))
        .route("/portfolio/positions", get(positions))
        .route("/portfolio/fills", get(fills))
        .route("/portfolio/settlements", get(settlements))
        .route(
            "/portfolio/summary/total_resting_order_value",
            get(resting_order_value),
        )
        .route("/portfolio/orders", get(list_orders))
        .route("/portfolio/orders/queue_positions", get(queue_positions))
        .route("/portfolio/orders/{order_id}", get(get_order))
        .route(
            "/portfolio/orders/{order_id}/queue_position",
            get(queue_position),
        )
        .route(
            "/portfolio/events/orders",
            post(create_order).delete(cancel_all),
        )
        .route(
            "/portfolio/events/orders/batched",
            post(batch_create).delete(batch_cancel),
        )
        .route("/portfolio/events/orders/{order_id}", delete(cancel_order))
        .route(
            "/portfolio/events/orders/{order_id}/amend",
            post(amend_order),
        )
        .route(
            "/portfolio/events/orders/{order_id}/decrease",
            post(decrease_order),
        )
        .route("/portfolio/order_groups", get(list_order_groups))
        .route("/portfolio/order_groups/create", post(create_order_group))
        .route(
            "/portfolio/order_groups/{order_group_id}",
            get(get_order_group).delete(delete_order_group),
        )
        .route(
            "/portfolio/order_groups/{order_group_id}/reset",
            put(reset_order_group),
        )
        .route(
            "/portfolio/order_groups/{order_group_id}/trigger",
            put(trigger_order_group),
        )
        .route(
            "/portfolio/order_groups/{order_group_id}/limit",
            put(update_order_group_limit),
        )
        .route("/account/limits", get(account_limits))
        .route("/account/endpoint_costs", get(endpoint_costs))
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn_with_state(
            state.gate.clone(),
            gate::admit,
        ))
        .with_state(state.clone());
    Router::new()
        .nest(REST_PREFIX, api)
        .route(WS_PATH, get(ws::upgrade))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.gate.clone(),
            gate::latency,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.gate.clone(),
            gate::render_errors,
        ))
        .with_state(state)
}

async fn not_found() -> RestError {
    RestError::not_found("no such endpoint")
}

fn seconds(query: &QueryParams, name: &str) -> Result<Option<i64>, RestError> {
    query.int(name)
}

fn owned(query: &QueryParams, name: &str) -> Option<String> {
    query.text(name).map(str::to_string)
}

// ---- exchange ----

async fn exchange_status(State(state): Shared) -> Answer {
    read(&state, |exchange| Ok(exchange.exchange_status()))
}

async fn exchange_schedule(State(state): Shared) -> Answer {
    read(&state, |exchange| Ok(exchange.schedule()))
}

async fn user_data_timestamp(_: Signed) -> Answer {
    let now = chrono::DateTime::from_timestamp_millis(clock::wall_ms()).unwrap_or_default();
    let as_of_time = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    reply(StatusCode::OK, &keyed("as_of_time")(as_of_time))
}

// ---- markets ----

async fn list_markets(State(state): Shared, Query(query): Query) -> Answer {
    let filter = wire::GetMarketsParams {
        event_ticker: owned(&query, "event_ticker"),
        series_ticker: owned(&query, "series_ticker"),
        status: word(
            &query,
            "status",
            &["unopened", "open", "paused", "closed", "settled"],
        )?,
        tickers: owned(&query, "tickers"),
        mve_filter: owned(&query, "mve_filter"),
        min_created_ts: seconds(&query, "min_created_ts")?,
        max_created_ts: seconds(&query, "max_created_ts")?,
        min_close_ts: seconds(&query, "min_close_ts")?,
        max_close_ts: seconds(&query, "max_close_ts")?,
        min_settled_ts: seconds(&query, "min_settled_ts")?,
        max_settled_ts: seconds(&query, "max_settled_ts")?,
        min_updated_ts: seconds(&query, "min_updated_ts")?,
        ..Default::default()
    };
    read_page(&state, &query, "markets", PAGE_100_OF_1000, |exchange| {
        Ok(exchange.markets(&filter))
    })
}

async fn get_market(State(state): Shared, Path(ticker): Path<String>) -> Answer {
    read(&state, |exchange| {
        exchange.market(&ticker).map(keyed("market"))
    })
}

async fn orderbook(
    State(state): Shared,
    Path(ticker): Path<String>,
    Query(query): Query,
) -> Answer {
    let depth = match query.int("depth")? {
        None => 0,
        Some(d) if d <= 0 => 0,
        Some(d) if d <= 100 => d as usize,
        Some(d) => {
            return Err(RestError::bad_request(format!(
                "depth {d} must be between 0 and 100"
            )));
        }
    };
    read(&state, |exchange| {
        exchange
            .orderbook(&ticker, depth)
            .map(keyed("orderbook_fp"))
    })
}

async fn orderbooks(State(state): Shared, Query(query): Query) -> Answer {
    let tickers = query.list("tickers");
    if tickers.is_empty() || tickers.len() > 100 {
        return Err(RestError::bad_request(
            "tickers: give between 1 and 100 market tickers",
        ));
    }
    let books = state.market.read(|exchange| {
        tickers
            .iter()
            .map(|ticker| {
                let book = exchange
                    .orderbook(ticker, 0)
                    .map_err(|_| RestError::bad_request(format!("market {ticker} not found")))?;
                Ok(json!({ "ticker": ticker, "orderbook_fp": to_json(&book)? }))
            })
            .collect::<Result<Vec<_>, RestError>>()
    })?;
    reply(StatusCode::OK, &keyed("orderbooks")(books))
}

async fn list_trades(State(state): Shared, Query(query): Query) -> Answer {
    let filter = wire::GetTradesParams {
        ticker: owned(&query, "ticker"),
        min_ts: seconds(&query, "min_ts")?,
        max_ts: seconds(&query, "max_ts")?,
        is_block_trade: match query.text("is_block_trade") {
            None => None,
            Some(_) => Some(query.flag("is_block_trade")?),
        },
        ..Default::default()
    };
    read_page(&state, &query, "trades", PAGE_100_OF_1000, |exchange| {
        Ok(exchange.trades(&filter))
    })
}

/// `GET /events` pages by at most 200 and refuses `limit=0`.
const EVENT_PAGES: Paging = Paging {
    default: 200,
    max: 200,
    zero_ok: false,
};

async fn list_events(State(state): Shared, Query(query): Query) -> Answer {
    let status = query.text("status");
    check_one_of("status", status, &["unopened", "open", "closed", "settled"])?;
    let filter = wire::GetEventsParams {
        series_ticker: owned(&query, "series_ticker"),
        status: status.map(str::to_string),
        with_nested_markets: Some(query.flag("with_nested_markets")?),
        min_close_ts: seconds(&query, "min_close_ts")?,
        min_updated_ts: seconds(&query, "min_updated_ts")?,
        ..Default::default()
    };
    let tickers = query.list("tickers");
    read_page(&state, &query, "events", EVENT_PAGES, |exchange| {
        Ok(exchange
            .events(&filter)
            .into_iter()
            .filter(|e| tickers.is_empty() || tickers.contains(&e.event_ticker))
            .collect())
    })
}

async fn get_event(
    State(state): Shared,
    Path(event_ticker): Path<String>,
    Query(query): Query,
) -> Answer {
    let nested = query.flag("with_nested_markets")?;
    read(&state, |exchange| exchange.event(&event_ticker, nested))
}

async fn list_series(State(state): Shared, Query(query): Query) -> Answer {
    let category = query.text("category");
    let tags = query.list("tags");
    let include_volume = query.flag("include_volume")?;
    let series: Vec<Value> = state
        .market
        .read(|exchange| exchange.series_list())
        .into_iter()
        .filter(|s| category.is_none_or(|c| s.category == c))
        .filter(|s| tags.is_empty() || tags.iter().any(|t| s.tags.contains(t)))
        .map(|s| series_json(&s, include_volume))
        .collect::<Result<_, _>>()?;
    reply(StatusCode::OK, &keyed("series")(series))
}

/// A series; `volume_fp` only when asked for (`include_volume`).
fn series_json(series: &wire::Series, include_volume: bool) -> Result<Value, RestError> {
    let mut value = to_json(series)?;
    if !include_volume && let Some(object) = value.as_object_mut() {
        object.remove("volume_fp");
    }
    Ok(value)
}

async fn get_series(
    State(state): Shared,
    Path(series_ticker): Path<String>,
    Query(query): Query,
) -> Answer {
    let include_volume = query.flag("include_volume")?;
    let series = state
        .market
        .read(|exchange| exchange.series(&series_ticker))?;
    reply(
        StatusCode::OK,
        &keyed("series")(series_json(&series, include_volume)?),
    )
}

// ---- portfolio ----

/// A read of the caller's own records that takes only the `subaccount` query parameter.
fn read_own<T: serde::Serialize>(
    state: &AppState,
    call: &Signed,
    read_for: fn(&Exchange, &str, Option<u32>) -> Result<T, ApiError>,
) -> Answer {
    let subaccount = call.subaccount()?;
    read(state, |exchange| {
        read_for(exchange, &call.user_id, subaccount)
    })
}

async fn balance(State(state): Shared, call: Signed) -> Answer {
    read_own(&state, &call, Exchange::balance)
}

async fn positions(State(state): Shared, call: Signed) -> Answer {
    let query = &call.query;
    for filter in query.list("count_filter") {
        check_one_of("count_filter", Some(&filter), &["position", "total_traded"])?;
    }
    let filter = wire::GetPositionsParams {
        ticker: owned(query, "ticker"),
        event_ticker: owned(query, "event_ticker"),
        count_filter: owned(query, "count_filter"),
        subaccount: query.subaccount()?,
        ..Default::default()
    };
    let mut positions = state
        .market
        .read(|exchange| exchange.positions(&call.user_id, &filter))?;
    let paging = Paging {
        default: 100,
        max: 1000,
        zero_ok: false,
    };
    (positions.market_positions, positions.cursor) =
        paging.page(positions.market_positions, query)?;
    reply(StatusCode::OK, &positions)
}

async fn fills(State(state): Shared, call: Signed) -> Answer {
    let query = &call.query;
    let filter = wire::GetFillsParams {
        ticker: owned(query, "ticker"),
        order_id: owned(query, "order_id"),
        min_ts: seconds(query, "min_ts")?,
        max_ts: seconds(query, "max_ts")?,
        subaccount: query.subaccount()?,
        ..Default::default()
    };
    read_page(&state, query, "fills", PAGE_100_OF_1000, |exchange| {
        exchange.fills(&call.user_id, &filter)
    })
}

async fn settlements(State(state): Shared, call: Signed) -> Answer {
    let query = &call.query;
    let filter = SettlementFilter {
        ticker: owned(query, "ticker"),
        event_ticker: owned(query, "event_ticker"),
        min_ts: seconds(query, "min_ts")?,
        max_ts: seconds(query, "max_ts")?,
        subaccount: query.subaccount()?,
    };
    read_page(&state, query, "settlements", PAGE_100_OF_1000, |exchange| {
        exchange.settlements(&call.user_id, &filter)
    })
}

async fn resting_order_value(State(state): Shared, call: Signed) -> Answer {
    read_own(&state, &call, Exchange::total_resting_order_value)
}

// ---- orders: reads ----

async fn list_orders(State(state): Shared, call: Signed) -> Answer {
    let query = &call.query;
    if query.list("event_ticker").len() > 10 {
        return Err(RestError::bad_request(
            "event_ticker: at most 10 event tickers",
        ));
    }
    let filter = wire::GetOrdersParams {
        ticker: owned(query, "ticker"),
        event_ticker: owned(query, "event_ticker"),
        min_ts: seconds(query, "min_ts")?,
        max_ts: seconds(query, "max_ts")?,
        status: word(query, "status", &["resting", "canceled", "executed"])?,
        subaccount: query.subaccount()?,
        ..Default::default()
    };
    read_page(&state, query, "orders", PAGE_100_OF_1000, |exchange| {
        exchange.orders(&call.user_id, &filter)
    })
}

async fn get_order(State(state): Shared, call: Signed, Path(order_id): Path<String>) -> Answer {
    read(&state, |exchange| {
        exchange.order(&call.user_id, &order_id).map(keyed("order"))
    })
}

async fn queue_position(
    State(state): Shared,
    call: Signed,
    Path(order_id): Path<String>,
) -> Answer {
    read(&state, |exchange| {
        exchange.queue_position(&call.user_id, &order_id)
    })
}

async fn queue_positions(State(state): Shared, call: Signed) -> Answer {
    let tickers = call.query.list("market_tickers");
    let event_ticker = call.query.text("event_ticker");
    if tickers.is_empty() && event_ticker.is_none() {
        return Err(RestError::bad_request(
            "give market_tickers or event_ticker",
        ));
    }
    read(&state, |exchange| {
        exchange
            .queue_positions(&call.user_id, &tickers, event_ticker)
            .map(keyed("queue_positions"))
    })
}

// ---- orders: writes ----

async fn create_order(
    State(state): Shared,
    call: Signed,
    Body(request): Body<wire::CreateOrderV2Request>,
) -> Answer {
    write(&state, StatusCode::CREATED, |exchange, now_ms| {
        exchange.create_order(&call.user_id, &request, now_ms)
    })
}

async fn batch_create(State(state): Shared, call: Signed, Body(batch): Body<Value>) -> Answer {
    let items = batch
        .get("orders")
        .and_then(Value::as_array)
        .ok_or_else(|| RestError::bad_request("orders: an array of orders is required"))?;
    if items.is_empty() {
        return Err(RestError::bad_request(
            "orders: at least one order is required",
        ));
    }
    // An item that does not decode fails on its own; the others go to the exchange together.
    let decoded: Vec<Result<wire::CreateOrderV2Request, RestError>> = items
        .iter()
        .map(|item| {
            serde_json::from_value(item.clone())
                .map_err(|e| RestError::bad_request("invalid order").with_details(e.to_string()))
        })
        .collect();
    let request = wire::BatchCreateOrdersV2Request {
        orders: decoded
            .iter()
            .filter_map(|d| d.as_ref().ok().cloned())
            .collect(),
    };
    let now_ms = clock::wall_ms();
    let answered = state.market.write(now_ms, |exchange| {
        exchange.batch_create_orders(&call.user_id, &request, now_ms)
    })?;
    let mut answers = answered.orders.into_iter();
    let mut orders = Vec::with_capacity(items.len());
    for (item, decoded) in items.iter().zip(&decoded) {
        match decoded {
            Ok(_) => match answers.next() {
                Some(answer) => orders.push(without_nulls(to_json(&answer)?)),
                None => return Err(RestError::internal("batch answer is missing an item")),
            },
            // A failed item has no order id (the spec's `order_id` is a non-null string).
            Err(error) => orders.push(json!({
                "client_order_id": item.get("client_order_id").cloned().unwrap_or(Value::Null),
                "fill_count": Value::Null,
                "remaining_count": Value::Null,
                "ts_ms": Value::Null,
                "error": error.error_response(),
            })),
        }
    }
    reply(StatusCode::CREATED, &keyed("orders")(orders))
}

/// Drop `null` members whose schema does not allow null (a batch item's `order_id`).
fn without_nulls(mut item: Value) -> Value {
    if let Some(object) = item.as_object_mut()
        && object.get("order_id").is_some_and(Value::is_null)
    {
        object.remove("order_id");
    }
    item
}

async fn cancel_order(State(state): Shared, call: Signed, Path(order_id): Path<String>) -> Answer {
    let subaccount = call.subaccount()?;
    write(&state, StatusCode::OK, |exchange, now_ms| {
        exchange.cancel_order(&call.user_id, &order_id, subaccount, now_ms)
    })
}

async fn batch_cancel(
    State(state): Shared,
    call: Signed,
    Body(request): Body<wire::BatchCancelOrdersV2Request>,
) -> Answer {
    if request.orders.is_empty() {
        return Err(RestError::bad_request(
            "orders: at least one order is required",
        ));
    }
    write(&state, StatusCode::OK, |exchange, now_ms| {
        exchange.batch_cancel_orders(&call.user_id, &request, now_ms)
    })
}

async fn cancel_all(State(state): Shared, call: Signed) -> Answer {
    let subaccount = call.subaccount()?;
    let now_ms = clock::wall_ms();
    state.market.write(now_ms, |exchange| {
        exchange.cancel_all(&call.user_id, subaccount, now_ms)
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn amend_order(
    State(state): Shared,
    call: Signed,
    Path(order_id): Path<String>,
    Body(request): Body<wire::AmendOrderV2Request>,
) -> Answer {
    let subaccount = call.subaccount()?;
    write(&state, StatusCode::OK, |exchange, now_ms| {
        exchange.amend_order(&call.user_id, &order_id, subaccount, &request, now_ms)
    })
}

async fn decrease_order(
    State(state): Shared,
    call: Signed,
    Path(order_id): Path<String>,
    Body(request): Body<wire::DecreaseOrderV2Request>,
) -> Answer {
    let subaccount = call.subaccount()?;
    request.validate().map_err(RestError::bad_request)?;
    write(&state, StatusCode::OK, |exchange, now_ms| {
        exchange.decrease_order(&call.user_id, &order_id, subaccount, &request, now_ms)
    })
}

// ---- order groups ----

async fn list_order_groups(State(state): Shared, call: Signed) -> Answer {
    read_own(&state, &call, Exchange::list_order_groups)
}

async fn create_order_group(
    State(state): Shared,
    call: Signed,
    Body(request): Body<wire::CreateOrderGroupRequest>,
) -> Answer {
    write(&state, StatusCode::CREATED, |exchange, now_ms| {
        exchange.create_order_group(&call.user_id, &request, now_ms)
    })
}

async fn get_order_group(
    State(state): Shared,
    call: Signed,
    Path(group_id): Path<String>,
) -> Answer {
    let subaccount = call.subaccount()?;
    read(&state, |exchange| {
        exchange.get_order_group(&call.user_id, &group_id, subaccount)
    })
}

/// An order-group write that takes only the group id (and `subaccount`).
type GroupWrite =
    fn(&mut Exchange, &str, &str, Option<u32>, i64) -> Result<wire::EmptyResponse, ApiError>;

fn group_write(state: &AppState, call: Signed, group_id: &str, apply: GroupWrite) -> Answer {
    let subaccount = call.subaccount()?;
    write(state, StatusCode::OK, |exchange, now_ms| {
        apply(exchange, &call.user_id, group_id, subaccount, now_ms)
    })
}

async fn delete_order_group(State(state): Shared, call: Signed, Path(id): Path<String>) -> Answer {
    group_write(&state, call, &id, Exchange::delete_order_group)
}

async fn reset_order_group(State(state): Shared, call: Signed, Path(id): Path<String>) -> Answer {
    group_write(&state, call, &id, Exchange::reset_order_group)
}

async fn trigger_order_group(State(state): Shared, call: Signed, Path(id): Path<String>) -> Answer {
    group_write(&state, call, &id, Exchange::trigger_order_group)
}

async fn update_order_group_limit(
    State(state): Shared,
    call: Signed,
    Path(group_id): Path<String>,
    Body(request): Body<wire::UpdateOrderGroupLimitRequest>,
) -> Answer {
    let subaccount = call.subaccount()?;
    write(&state, StatusCode::OK, |exchange, now_ms| {
        exchange.update_order_group_limit(&call.user_id, &group_id, subaccount, &request, now_ms)
    })
}

// ---- account ----

async fn account_limits(State(state): Shared, _: Signed) -> Answer {
    // With rate limiting off the simulator reports the top tier's numbers.
    let limits = state
        .gate
        .limiter
        .limits()
        .cloned()
        .unwrap_or_else(|| super::ratelimit::Tier::Prestige.limits());
    reply(
        StatusCode::OK,
        &json!({
            "usage_tier": limits.usage_tier,
            "read": { "refill_rate": limits.read.refill_rate, "bucket_capacity": limits.read.bucket_capacity },
            "write": { "refill_rate": limits.write.refill_rate, "bucket_capacity": limits.write.bucket_capacity },
            "grants": [],
        }),
    )
}

async fn endpoint_costs() -> Answer {
    let costs: Vec<Value> = ENDPOINT_COSTS
        .iter()
        .map(|(method, path, cost)| json!({ "method": method, "path": format!("{REST_PREFIX}{path}"), "cost": cost }))
        .collect();
    reply(
        StatusCode::OK,
        &json!({ "default_cost": DEFAULT_COST, "endpoint_costs": costs }),
    )
}
