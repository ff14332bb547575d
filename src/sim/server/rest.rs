//! The REST router and its handlers. Each handler parses (query, path, JSON body), calls the
//! exchange under its lock, and serializes; statuses and shapes follow OpenAPI 3.27 (and the 3.34
//! SDK for cancel-all).

use super::auth::Caller;
use super::errors::{RestError, json_response};
use super::gate::{self, REST_PREFIX, WS_PATH};
use super::query::{QueryParams, page};
use super::ratelimit::{DEFAULT_COST, ENDPOINT_COSTS};
use super::{AppState, SimConfig, ws};
use crate::core::num::Money;
use crate::kalshi::wire;
use crate::runtime::clock;
use crate::sim::exchange::{Exchange, SettlementFilter};
use crate::sim::flow::Flow;
use crate::sim::keys::KeyRegistry;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use http::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

type Shared = State<Arc<AppState>>;
type Answer = Result<Response, RestError>;

fn ok(body: Value) -> Answer {
    Ok(json_response(StatusCode::OK, body.to_string()))
}

fn created(body: Value) -> Answer {
    Ok(json_response(StatusCode::CREATED, body.to_string()))
}

/// The signed caller; the gate has already refused unsigned requests to private endpoints.
fn caller(caller: Option<axum::Extension<Caller>>) -> Result<Caller, RestError> {
    caller
        .map(|axum::Extension(c)| c)
        .ok_or_else(|| RestError::unauthorized("authentication required"))
}

type CallerExt = Option<axum::Extension<Caller>>;

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, RestError> {
    if body.is_empty() {
        return Err(RestError::bad_request("request body is required"));
    }
    serde_json::from_slice(body)
        .map_err(|e| RestError::bad_request("invalid request body").with_details(e.to_string()))
}

/// A query value that must be one of `allowed`.
fn check_one_of(name: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), RestError> {
    match value {
        Some(value) if !allowed.contains(&value) => Err(RestError::bad_request(format!(
            "{name} {value:?} is not one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

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

// ---- helpers ----

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, RestError> {
    serde_json::to_value(value)
        .map_err(|e| RestError::internal(format!("cannot encode the answer: {e}")))
}

/// One page of a complete list under `key`, with the next cursor.
fn paged<T: serde::Serialize>(
    key: &str,
    items: Vec<T>,
    query: &QueryParams,
    default: usize,
    max: usize,
) -> Answer {
    let limit = query.limit(default, max, true)?;
    let offset = query.cursor()?;
    let (items, cursor) = page(items, offset, limit);
    ok(json!({ key: to_json(&items)?, "cursor": cursor }))
}

fn seconds(query: &QueryParams, name: &str) -> Result<Option<i64>, RestError> {
    query.int(name)
}

fn owned(query: &QueryParams, name: &str) -> Option<String> {
    query.text(name).map(str::to_string)
}

/// A query value that must be one of Kalshi's words, decoded into its wire enum.
fn word<T: serde::de::DeserializeOwned>(
    query: &QueryParams,
    name: &str,
    allowed: &[&str],
) -> Result<Option<T>, RestError> {
    let value = query.text(name);
    check_one_of(name, value, allowed)?;
    value
        .map(|v| serde_json::from_value(Value::String(v.to_string())))
        .transpose()
        .map_err(|e| RestError::bad_request(format!("{name}: {e}")))
}

// ---- exchange ----

async fn exchange_status(State(state): Shared) -> Answer {
    let status = state.market.read(|exchange| exchange.exchange_status());
    ok(to_json(&status)?)
}

async fn exchange_schedule(State(state): Shared) -> Answer {
    let schedule = state.market.read(|exchange| exchange.schedule());
    ok(to_json(&schedule)?)
}

async fn user_data_timestamp(caller_ext: CallerExt) -> Answer {
    caller(caller_ext)?;
    let now = chrono::DateTime::from_timestamp_millis(clock::wall_ms()).unwrap_or_default();
    ok(json!({ "as_of_time": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true) }))
}

// ---- markets ----

async fn list_markets(State(state): Shared, RawQuery(raw): RawQuery) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
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
    let markets = state.market.read(|exchange| exchange.markets(&filter));
    paged("markets", markets, &query, 100, 1000)
}

async fn get_market(State(state): Shared, Path(ticker): Path<String>) -> Answer {
    let market = state.market.read(|exchange| exchange.market(&ticker))?;
    ok(json!({ "market": to_json(&market)? }))
}

async fn orderbook(
    State(state): Shared,
    Path(ticker): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
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
    let book = state
        .market
        .read(|exchange| exchange.orderbook(&ticker, depth))?;
    ok(json!({ "orderbook_fp": to_json(&book)? }))
}

async fn orderbooks(State(state): Shared, RawQuery(raw): RawQuery) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
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
    ok(json!({ "orderbooks": books }))
}

async fn list_trades(State(state): Shared, RawQuery(raw): RawQuery) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
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
    let trades = state.market.read(|exchange| exchange.trades(&filter));
    paged("trades", trades, &query, 100, 1000)
}

async fn list_events(State(state): Shared, RawQuery(raw): RawQuery) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
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
    let events: Vec<wire::EventData> = state
        .market
        .read(|exchange| exchange.events(&filter))
        .into_iter()
        .filter(|e| tickers.is_empty() || tickers.contains(&e.event_ticker))
        .collect();
    let limit = query.limit(200, 200, false)?;
    let offset = query.cursor()?;
    let (events, cursor) = page(events, offset, limit);
    ok(json!({ "events": to_json(&events)?, "cursor": cursor }))
}

async fn get_event(
    State(state): Shared,
    Path(event_ticker): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
    let nested = query.flag("with_nested_markets")?;
    let event = state
        .market
        .read(|exchange| exchange.event(&event_ticker, nested))?;
    ok(to_json(&event)?)
}

async fn list_series(State(state): Shared, RawQuery(raw): RawQuery) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
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
    ok(json!({ "series": series }))
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
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
    let include_volume = query.flag("include_volume")?;
    let series = state
        .market
        .read(|exchange| exchange.series(&series_ticker))?;
    ok(json!({ "series": series_json(&series, include_volume)? }))
}

// ---- portfolio ----

async fn balance(State(state): Shared, caller_ext: CallerExt, RawQuery(raw): RawQuery) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let balance = state
        .market
        .read(|exchange| exchange.balance(&caller.user_id, subaccount))?;
    ok(to_json(&balance)?)
}

async fn positions(State(state): Shared, caller_ext: CallerExt, RawQuery(raw): RawQuery) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    for filter in query.list("count_filter") {
        check_one_of("count_filter", Some(&filter), &["position", "total_traded"])?;
    }
    let filter = wire::GetPositionsParams {
        ticker: owned(&query, "ticker"),
        event_ticker: owned(&query, "event_ticker"),
        count_filter: owned(&query, "count_filter"),
        subaccount: query.subaccount()?,
        ..Default::default()
    };
    let mut positions = state
        .market
        .read(|exchange| exchange.positions(&caller.user_id, &filter))?;
    let limit = query.limit(100, 1000, false)?;
    let offset = query.cursor()?;
    let (market_positions, cursor) = page(positions.market_positions, offset, limit);
    positions.market_positions = market_positions;
    positions.cursor = cursor;
    ok(to_json(&positions)?)
}

async fn fills(State(state): Shared, caller_ext: CallerExt, RawQuery(raw): RawQuery) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let filter = wire::GetFillsParams {
        ticker: owned(&query, "ticker"),
        order_id: owned(&query, "order_id"),
        min_ts: seconds(&query, "min_ts")?,
        max_ts: seconds(&query, "max_ts")?,
        subaccount: query.subaccount()?,
        ..Default::default()
    };
    let fills = state
        .market
        .read(|exchange| exchange.fills(&caller.user_id, &filter))?;
    paged("fills", fills, &query, 100, 1000)
}

async fn settlements(
    State(state): Shared,
    caller_ext: CallerExt,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let filter = SettlementFilter {
        ticker: owned(&query, "ticker"),
        event_ticker: owned(&query, "event_ticker"),
        min_ts: seconds(&query, "min_ts")?,
        max_ts: seconds(&query, "max_ts")?,
        subaccount: query.subaccount()?,
    };
    let settlements = state
        .market
        .read(|exchange| exchange.settlements(&caller.user_id, &filter))?;
    paged("settlements", settlements, &query, 100, 1000)
}

async fn resting_order_value(
    State(state): Shared,
    caller_ext: CallerExt,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let value = state
        .market
        .read(|exchange| exchange.total_resting_order_value(&caller.user_id, subaccount))?;
    ok(to_json(&value)?)
}

// ---- orders: reads ----

async fn list_orders(
    State(state): Shared,
    caller_ext: CallerExt,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    if query.list("event_ticker").len() > 10 {
        return Err(RestError::bad_request(
            "event_ticker: at most 10 event tickers",
        ));
    }
    let filter = wire::GetOrdersParams {
        ticker: owned(&query, "ticker"),
        event_ticker: owned(&query, "event_ticker"),
        min_ts: seconds(&query, "min_ts")?,
        max_ts: seconds(&query, "max_ts")?,
        status: word(&query, "status", &["resting", "canceled", "executed"])?,
        subaccount: query.subaccount()?,
        ..Default::default()
    };
    let orders = state
        .market
        .read(|exchange| exchange.orders(&caller.user_id, &filter))?;
    paged("orders", orders, &query, 100, 1000)
}

async fn get_order(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(order_id): Path<String>,
) -> Answer {
    let caller = caller(caller_ext)?;
    let order = state
        .market
        .read(|exchange| exchange.order(&caller.user_id, &order_id))?;
    ok(json!({ "order": to_json(&order)? }))
}

async fn queue_position(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(order_id): Path<String>,
) -> Answer {
    let caller = caller(caller_ext)?;
    let position = state
        .market
        .read(|exchange| exchange.queue_position(&caller.user_id, &order_id))?;
    ok(to_json(&position)?)
}

async fn queue_positions(
    State(state): Shared,
    caller_ext: CallerExt,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let tickers = query.list("market_tickers");
    let event_ticker = query.text("event_ticker");
    if tickers.is_empty() && event_ticker.is_none() {
        return Err(RestError::bad_request(
            "give market_tickers or event_ticker",
        ));
    }
    let positions = state
        .market
        .read(|exchange| exchange.queue_positions(&caller.user_id, &tickers, event_ticker))?;
    ok(json!({ "queue_positions": to_json(&positions)? }))
}

// ---- orders: writes ----

async fn create_order(State(state): Shared, caller_ext: CallerExt, body: Bytes) -> Answer {
    let caller = caller(caller_ext)?;
    let request: wire::CreateOrderV2Request = parse_body(&body)?;
    let now_ms = clock::wall_ms();
    let created_order = state.market.write(now_ms, |exchange| {
        exchange.create_order(&caller.user_id, &request, now_ms)
    })?;
    created(to_json(&created_order)?)
}

async fn batch_create(State(state): Shared, caller_ext: CallerExt, body: Bytes) -> Answer {
    let caller = caller(caller_ext)?;
    let batch: Value = parse_body(&body)?;
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
        exchange.batch_create_orders(&caller.user_id, &request, now_ms)
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
    created(json!({ "orders": orders }))
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

async fn cancel_order(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(order_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let now_ms = clock::wall_ms();
    let canceled = state.market.write(now_ms, |exchange| {
        exchange.cancel_order(&caller.user_id, &order_id, subaccount, now_ms)
    })?;
    ok(to_json(&canceled)?)
}

async fn batch_cancel(State(state): Shared, caller_ext: CallerExt, body: Bytes) -> Answer {
    let caller = caller(caller_ext)?;
    let request: wire::BatchCancelOrdersV2Request = parse_body(&body)?;
    if request.orders.is_empty() {
        return Err(RestError::bad_request(
            "orders: at least one order is required",
        ));
    }
    let now_ms = clock::wall_ms();
    let canceled = state.market.write(now_ms, |exchange| {
        exchange.batch_cancel_orders(&caller.user_id, &request, now_ms)
    })?;
    ok(to_json(&canceled)?)
}

async fn cancel_all(
    State(state): Shared,
    caller_ext: CallerExt,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let now_ms = clock::wall_ms();
    state.market.write(now_ms, |exchange| {
        exchange.cancel_all(&caller.user_id, subaccount, now_ms)
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn amend_order(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(order_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let request: wire::AmendOrderV2Request = parse_body(&body)?;
    let now_ms = clock::wall_ms();
    let amended = state.market.write(now_ms, |exchange| {
        exchange.amend_order(&caller.user_id, &order_id, subaccount, &request, now_ms)
    })?;
    ok(to_json(&amended)?)
}

async fn decrease_order(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(order_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let request: wire::DecreaseOrderV2Request = parse_body(&body)?;
    request.validate().map_err(RestError::bad_request)?;
    let now_ms = clock::wall_ms();
    let decreased = state.market.write(now_ms, |exchange| {
        exchange.decrease_order(&caller.user_id, &order_id, subaccount, &request, now_ms)
    })?;
    ok(to_json(&decreased)?)
}

// ---- order groups ----

async fn list_order_groups(
    State(state): Shared,
    caller_ext: CallerExt,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let groups = state
        .market
        .read(|exchange| exchange.list_order_groups(&caller.user_id, subaccount))?;
    ok(to_json(&groups)?)
}

async fn create_order_group(State(state): Shared, caller_ext: CallerExt, body: Bytes) -> Answer {
    let caller = caller(caller_ext)?;
    let request: wire::CreateOrderGroupRequest = parse_body(&body)?;
    let now_ms = clock::wall_ms();
    let group = state.market.write(now_ms, |exchange| {
        exchange.create_order_group(&caller.user_id, &request, now_ms)
    })?;
    created(to_json(&group)?)
}

async fn get_order_group(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let group = state
        .market
        .read(|exchange| exchange.get_order_group(&caller.user_id, &group_id, subaccount))?;
    ok(to_json(&group)?)
}

/// The order-group writes that take only the group id (and `subaccount`).
#[derive(Clone, Copy)]
enum GroupWrite {
    Delete,
    Reset,
    Trigger,
}

async fn group_write(
    state: Arc<AppState>,
    caller_ext: CallerExt,
    group_id: String,
    raw: Option<String>,
    write: GroupWrite,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let now_ms = clock::wall_ms();
    let done = state.market.write(now_ms, |exchange| match write {
        GroupWrite::Delete => {
            exchange.delete_order_group(&caller.user_id, &group_id, subaccount, now_ms)
        }
        GroupWrite::Reset => {
            exchange.reset_order_group(&caller.user_id, &group_id, subaccount, now_ms)
        }
        GroupWrite::Trigger => {
            exchange.trigger_order_group(&caller.user_id, &group_id, subaccount, now_ms)
        }
    })?;
    ok(to_json(&done)?)
}

async fn delete_order_group(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    group_write(state, caller_ext, group_id, raw, GroupWrite::Delete).await
}

async fn reset_order_group(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    group_write(state, caller_ext, group_id, raw, GroupWrite::Reset).await
}

async fn trigger_order_group(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    group_write(state, caller_ext, group_id, raw, GroupWrite::Trigger).await
}

async fn update_order_group_limit(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let request: wire::UpdateOrderGroupLimitRequest = parse_body(&body)?;
    let now_ms = clock::wall_ms();
    let done = state.market.write(now_ms, |exchange| {
        exchange.update_order_group_limit(&caller.user_id, &group_id, subaccount, &request, now_ms)
    })?;
    ok(to_json(&done)?)
}

// ---- account ----

async fn account_limits(State(state): Shared, caller_ext: CallerExt) -> Answer {
    caller(caller_ext)?;
    // With rate limiting off the simulator reports the top tier's numbers.
    let limits = state
        .gate
        .limiter
        .limits()
        .cloned()
        .unwrap_or_else(|| super::ratelimit::Tier::Prestige.limits());
    ok(json!({
        "usage_tier": limits.usage_tier,
        "read": { "refill_rate": limits.read.refill_rate, "bucket_capacity": limits.read.bucket_capacity },
        "write": { "refill_rate": limits.write.refill_rate, "bucket_capacity": limits.write.bucket_capacity },
        "grants": [],
    }))
}

async fn endpoint_costs() -> Answer {
    let costs: Vec<Value> = ENDPOINT_COSTS
        .iter()
        .map(|(method, path, cost)| json!({ "method": method, "path": format!("{REST_PREFIX}{path}"), "cost": cost }))
        .collect();
    ok(json!({ "default_cost": DEFAULT_COST, "endpoint_costs": costs }))
}
