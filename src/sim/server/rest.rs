//! The REST router and its handlers. Each handler parses (query, path, JSON body), calls the
//! exchange under its lock, and serializes; statuses and shapes follow OpenAPI 3.27 (and the 3.34
//! SDK for cancel-all).

use super::auth::Caller;
use super::errors::{RestError, json_response};
use super::gate::{self, REST_PREFIX, WS_PATH};
use super::query::{QueryParams, page};
use super::ratelimit::{DEFAULT_COST, ENDPOINT_COSTS};
use super::{AppState, SimConfig, views, ws};
use crate::core::market::{MarketStatus, Ticker};
use crate::core::num::{Count, Money};
use crate::kalshi::wire;
use crate::runtime::clock;
use crate::sim::exchange::Exchange;
use crate::sim::exchange::orders::OrderRecord;
use crate::sim::exchange::types::{BookSide, SelfTradePrevention, TimeInForce};
use crate::sim::exchange::{AmendRequest, OrderAck, OrderRequest};
use crate::sim::flow::Flow;
use crate::sim::keys::KeyRegistry;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use http::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
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

// ---- exchange ----

async fn exchange_status(State(state): Shared) -> Answer {
    let body = state.market.read(|exchange| {
        let mut body = json!({
            "exchange_active": exchange.is_exchange_active(),
            "trading_active": exchange.is_trading_active(),
        });
        if let Some(resume_ms) = exchange.estimated_resume_ms() {
            body["exchange_estimated_resume_time"] = json!(views::rfc3339(resume_ms));
        }
        body
    });
    ok(body)
}

async fn exchange_schedule(State(state): Shared) -> Answer {
    let body = state.market.read(|exchange| {
        let schedule = &exchange.config().schedule;
        let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
        let mut week = json!({
            "start_time": views::rfc3339(0),
            "end_time": "9999-12-31T23:59:59Z",
        });
        for (day, hours) in days.iter().zip(schedule.weekly_hours.iter()) {
            week[*day] = Value::Array(
                hours
                    .iter()
                    .map(|h| json!({ "open_time": h.open_time, "close_time": h.close_time }))
                    .collect(),
            );
        }
        let windows: Vec<Value> = schedule
            .maintenance_windows
            .iter()
            .map(|(start, end)| {
                json!({ "start_datetime": views::rfc3339(*start), "end_datetime": views::rfc3339(*end) })
            })
            .collect();
        json!({ "schedule": { "standard_hours": [week], "maintenance_windows": windows } })
    });
    ok(body)
}

async fn user_data_timestamp(caller_ext: CallerExt) -> Answer {
    caller(caller_ext)?;
    ok(json!({ "as_of_time": views::rfc3339(clock::wall_ms()) }))
}

// ---- markets ----

async fn list_markets(State(state): Shared, RawQuery(raw): RawQuery) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
    let limit = query.limit(100, 1000, true)?;
    let offset = query.cursor()?;
    let status = query.text("status");
    check_one_of(
        "status",
        status,
        &["unopened", "open", "paused", "closed", "settled"],
    )?;
    let tickers = query.list("tickers");
    let event_ticker = query.text("event_ticker");
    let series_ticker = query.text("series_ticker");
    let min_close_ms = query.int("min_close_ts")?.map(|s| s * 1000);
    let max_close_ms = query.int("max_close_ts")?.map(|s| s * 1000);
    let min_created_ms = query.int("min_created_ts")?.map(|s| s * 1000);
    let max_created_ms = query.int("max_created_ts")?.map(|s| s * 1000);
    let min_settled_ms = query.int("min_settled_ts")?.map(|s| s * 1000);
    let max_settled_ms = query.int("max_settled_ts")?.map(|s| s * 1000);
    let min_updated_ms = query.int("min_updated_ts")?.map(|s| s * 1000);
    let now_ms = clock::wall_ms();
    let body = state.market.read(|exchange| {
        let markets: Vec<Value> = exchange
            .market_states()
            .filter(|m| status.is_none_or(|s| views::status_filter_of(m.status) == s))
            .filter(|m| tickers.is_empty() || tickers.iter().any(|t| t == m.ticker.as_str()))
            .filter(|m| event_ticker.is_none_or(|e| m.spec.event_ticker == e))
            .filter(|m| {
                series_ticker.is_none_or(|s| {
                    exchange
                        .event_spec(&m.spec.event_ticker)
                        .is_some_and(|e| e.series_ticker == s)
                })
            })
            .filter(|m| min_close_ms.is_none_or(|t| m.close_ms >= t))
            .filter(|m| max_close_ms.is_none_or(|t| m.close_ms <= t))
            .filter(|m| min_created_ms.is_none_or(|t| m.spec.created_ms >= t))
            .filter(|m| max_created_ms.is_none_or(|t| m.spec.created_ms <= t))
            .filter(|m| min_settled_ms.is_none_or(|t| m.settled_ms.is_some_and(|s| s >= t)))
            .filter(|m| max_settled_ms.is_none_or(|t| m.settled_ms.is_some_and(|s| s <= t)))
            .filter(|m| min_updated_ms.is_none_or(|t| m.updated_ms >= t))
            .map(|m| views::market(exchange, m, now_ms))
            .collect();
        let (markets, cursor) = page(markets, offset, limit);
        json!({ "markets": markets, "cursor": cursor })
    });
    ok(body)
}

async fn get_market(State(state): Shared, Path(ticker): Path<String>) -> Answer {
    let now_ms = clock::wall_ms();
    let market = state.market.read(|exchange| {
        exchange
            .market_state(&ticker)
            .map(|m| views::market(exchange, m, now_ms))
    });
    match market {
        Some(market) => ok(json!({ "market": market })),
        None => Err(RestError::not_found(format!("market {ticker} not found"))),
    }
}

fn book_json(exchange: &Exchange, ticker: &str, depth: usize) -> Option<Value> {
    let levels = exchange.matching_book(ticker)?.levels();
    Some(json!({
        "yes_dollars": views::levels(&levels.yes_bids, depth),
        "no_dollars": views::levels(&levels.no_bids, depth),
    }))
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
    match state
        .market
        .read(|exchange| book_json(exchange, &ticker, depth))
    {
        Some(book) => ok(json!({ "orderbook_fp": book })),
        None => Err(RestError::not_found(format!("market {ticker} not found"))),
    }
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
                book_json(exchange, ticker, 0)
                    .map(|book| json!({ "ticker": ticker, "orderbook_fp": book }))
                    .ok_or_else(|| RestError::bad_request(format!("market {ticker} not found")))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    ok(json!({ "orderbooks": books }))
}

async fn list_trades(State(state): Shared, RawQuery(raw): RawQuery) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
    let limit = query.limit(100, 1000, true)?;
    let offset = query.cursor()?;
    let ticker = query.text("ticker");
    let min_ms = query.int("min_ts")?.map(|s| s * 1000);
    let max_ms = query.int("max_ts")?.map(|s| s * 1000);
    let block_only = match query.text("is_block_trade") {
        Some("true") => Some(true),
        Some("false") => Some(false),
        None => None,
        Some(other) => {
            return Err(RestError::bad_request(format!(
                "is_block_trade={other:?} must be true or false"
            )));
        }
    };
    let body = state.market.read(|exchange| {
        // Newest first, as Kalshi lists trades.
        let trades: Vec<Value> = exchange
            .trade_records()
            .iter()
            .rev()
            .filter(|t| ticker.is_none_or(|x| t.ticker.as_str() == x))
            .filter(|t| min_ms.is_none_or(|m| t.ts_ms >= m))
            .filter(|t| max_ms.is_none_or(|m| t.ts_ms <= m))
            .filter(|_| block_only != Some(true))
            .map(views::trade)
            .collect();
        let (trades, cursor) = page(trades, offset, limit);
        json!({ "trades": trades, "cursor": cursor })
    });
    ok(body)
}

fn event_status_filter(exchange: &Exchange, event_ticker: &str) -> &'static str {
    let statuses: Vec<&'static str> = exchange
        .market_states()
        .filter(|m| m.spec.event_ticker == event_ticker)
        .map(|m| views::status_filter_of(m.status))
        .collect();
    if statuses.iter().any(|s| *s == "open" || *s == "paused") {
        "open"
    } else if !statuses.is_empty() && statuses.iter().all(|s| *s == "settled") {
        "settled"
    } else if statuses.iter().any(|s| *s == "closed" || *s == "settled") {
        "closed"
    } else {
        "unopened"
    }
}

fn event_markets(exchange: &Exchange, event_ticker: &str, now_ms: i64) -> Vec<Value> {
    exchange
        .market_states()
        .filter(|m| m.spec.event_ticker == event_ticker)
        .map(|m| views::market(exchange, m, now_ms))
        .collect()
}

async fn list_events(State(state): Shared, RawQuery(raw): RawQuery) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
    let limit = query.limit(200, 200, false)?;
    let offset = query.cursor()?;
    let nested = query.flag("with_nested_markets")?;
    let status = query.text("status");
    check_one_of("status", status, &["unopened", "open", "closed", "settled"])?;
    let series_ticker = query.text("series_ticker");
    let tickers = query.list("tickers");
    let now_ms = clock::wall_ms();
    let body = state.market.read(|exchange| {
        let events: Vec<Value> = exchange
            .event_specs()
            .filter(|e| series_ticker.is_none_or(|s| e.series_ticker == s))
            .filter(|e| tickers.is_empty() || tickers.contains(&e.event_ticker))
            .filter(|e| status.is_none_or(|s| event_status_filter(exchange, &e.event_ticker) == s))
            .map(|e| {
                views::event(
                    e,
                    nested.then(|| event_markets(exchange, &e.event_ticker, now_ms)),
                )
            })
            .collect();
        let (events, cursor) = page(events, offset, limit);
        json!({ "events": events, "cursor": cursor })
    });
    ok(body)
}

async fn get_event(
    State(state): Shared,
    Path(event_ticker): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
    let nested = query.flag("with_nested_markets")?;
    let now_ms = clock::wall_ms();
    let body = state.market.read(|exchange| {
        let spec = exchange.event_spec(&event_ticker)?;
        let markets = event_markets(exchange, &event_ticker, now_ms);
        Some(if nested {
            json!({ "event": views::event(spec, Some(markets)), "markets": [] })
        } else {
            json!({ "event": views::event(spec, None), "markets": markets })
        })
    });
    body.map_or_else(
        || {
            Err(RestError::not_found(format!(
                "event {event_ticker} not found"
            )))
        },
        ok,
    )
}

fn series_volume(exchange: &Exchange, series_ticker: &str) -> Count {
    exchange
        .market_states()
        .filter(|m| {
            exchange
                .event_spec(&m.spec.event_ticker)
                .is_some_and(|e| e.series_ticker == series_ticker)
        })
        .fold(Count::ZERO, |sum, m| sum.saturating_add(m.stats.volume))
}

async fn list_series(State(state): Shared, RawQuery(raw): RawQuery) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
    let category = query.text("category");
    let tags = query.list("tags");
    let include_volume = query.flag("include_volume")?;
    let body = state.market.read(|exchange| {
        let series: Vec<Value> = exchange
            .series_specs()
            .filter(|s| category.is_none_or(|c| s.category == c))
            .filter(|s| tags.is_empty() || tags.iter().any(|t| s.tags.contains(t)))
            .map(|s| {
                views::series(
                    s,
                    include_volume.then(|| series_volume(exchange, &s.ticker)),
                )
            })
            .collect();
        json!({ "series": series })
    });
    ok(body)
}

async fn get_series(
    State(state): Shared,
    Path(series_ticker): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = QueryParams::parse(raw.as_deref());
    let include_volume = query.flag("include_volume")?;
    let body = state.market.read(|exchange| {
        exchange.series_spec(&series_ticker).map(|s| {
            views::series(
                s,
                include_volume.then(|| series_volume(exchange, &s.ticker)),
            )
        })
    });
    match body {
        Some(series) => ok(json!({ "series": series })),
        None => Err(RestError::not_found(format!(
            "series {series_ticker} not found"
        ))),
    }
}

// ---- portfolio ----

async fn balance(State(state): Shared, caller_ext: CallerExt, RawQuery(raw): RawQuery) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let subaccount = query.subaccount()?.unwrap_or(0);
    let now_ms = clock::wall_ms();
    let body = state.market.read(|exchange| {
        let account = exchange.account(&caller.user_id).ok_or_else(|| {
            RestError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "no account for this key",
            )
        })?;
        let (available, exposure) =
            account
                .subaccount(subaccount)
                .map_or((Money::ZERO, Money::ZERO), |sub| {
                    let exposure = sub
                        .positions
                        .values()
                        .fold(Money::ZERO, |sum, p| sum.saturating_add(p.cost));
                    (sub.available(), exposure)
                });
        Ok::<Value, RestError>(json!({
            "balance": views::cents(available),
            "balance_dollars": available.to_dollars(),
            "portfolio_value": views::cents(exposure),
            "updated_ts": now_ms.div_euclid(1000),
        }))
    })?;
    ok(body)
}

async fn positions(State(state): Shared, caller_ext: CallerExt, RawQuery(raw): RawQuery) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let limit = query.limit(100, 1000, false)?;
    let offset = query.cursor()?;
    let subaccount = query.subaccount()?.unwrap_or(0);
    let ticker = query.text("ticker");
    let event_ticker = query.text("event_ticker");
    let count_filter = query.list("count_filter");
    for filter in &count_filter {
        if filter != "position" && filter != "total_traded" {
            return Err(RestError::bad_request(format!(
                "count_filter {filter:?} is not position or total_traded"
            )));
        }
    }
    let body = state.market.read(|exchange| {
        let Some(sub) = exchange.account(&caller.user_id).and_then(|a| a.subaccount(subaccount)) else {
            return json!({ "market_positions": [], "event_positions": [], "cursor": "" });
        };
        let unsettled = |t: &Ticker| {
            exchange
                .market_state(t.as_str())
                .is_some_and(|m| !matches!(m.status, MarketStatus::Finalized | MarketStatus::Amended))
        };
        let event_of = |t: &Ticker| {
            exchange
                .market_state(t.as_str())
                .map(|m| m.spec.event_ticker.clone())
                .unwrap_or_default()
        };
        let selected: Vec<(&Ticker, _)> = sub
            .positions
            .iter()
            .filter(|(t, _)| unsettled(t))
            .filter(|(t, _)| ticker.is_none_or(|x| t.as_str() == x))
            .filter(|(t, _)| event_ticker.is_none_or(|e| event_of(t) == e))
            .filter(|(_, p)| {
                count_filter.iter().all(|f| match f.as_str() {
                    "position" => !p.position.is_zero(),
                    _ => p.total_traded != Money::ZERO,
                })
            })
            .collect();
        let mut by_event: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for (t, p) in &selected {
            by_event.entry(event_of(t)).or_default().push(*p);
        }
        let market_positions: Vec<Value> = selected
            .iter()
            .map(|(t, p)| views::market_position(t.as_str(), p))
            .collect();
        let event_positions: Vec<Value> = by_event
            .iter()
            .map(|(event, positions)| views::event_position(event, positions))
            .collect();
        let (market_positions, cursor) = page(market_positions, offset, limit);
        json!({ "market_positions": market_positions, "event_positions": event_positions, "cursor": cursor })
    });
    ok(body)
}

async fn fills(State(state): Shared, caller_ext: CallerExt, RawQuery(raw): RawQuery) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let limit = query.limit(100, 1000, false)?;
    let offset = query.cursor()?;
    let subaccount = query.subaccount()?;
    let ticker = query.text("ticker");
    let order_id = query.text("order_id");
    let min_ms = query.int("min_ts")?.map(|s| s * 1000);
    let max_ms = query.int("max_ts")?.map(|s| s * 1000);
    let body = state.market.read(|exchange| {
        let fills: Vec<Value> = exchange
            .fill_records()
            .iter()
            .rev()
            .filter(|f| f.user_id == caller.user_id)
            .filter(|f| subaccount.is_none_or(|s| f.subaccount == s))
            .filter(|f| ticker.is_none_or(|t| f.ticker.as_str() == t))
            .filter(|f| order_id.is_none_or(|o| f.order_id == o))
            .filter(|f| min_ms.is_none_or(|m| f.ts_ms >= m))
            .filter(|f| max_ms.is_none_or(|m| f.ts_ms <= m))
            .map(views::fill)
            .collect();
        let (fills, cursor) = page(fills, offset, limit);
        json!({ "fills": fills, "cursor": cursor })
    });
    ok(body)
}

async fn settlements(
    State(state): Shared,
    caller_ext: CallerExt,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let limit = query.limit(100, 1000, false)?;
    let offset = query.cursor()?;
    let subaccount = query.subaccount()?;
    let ticker = query.text("ticker");
    let event_ticker = query.text("event_ticker");
    let min_ms = query.int("min_ts")?.map(|s| s * 1000);
    let max_ms = query.int("max_ts")?.map(|s| s * 1000);
    let body = state.market.read(|exchange| {
        let settlements: Vec<Value> = exchange
            .settlement_records()
            .iter()
            .rev()
            .filter(|s| s.user_id == caller.user_id)
            .filter(|s| subaccount.is_none_or(|n| s.subaccount == n))
            .filter(|s| ticker.is_none_or(|t| s.ticker.as_str() == t))
            .filter(|s| event_ticker.is_none_or(|e| s.event_ticker == e))
            .filter(|s| min_ms.is_none_or(|m| s.settled_ms >= m))
            .filter(|s| max_ms.is_none_or(|m| s.settled_ms <= m))
            .map(views::settlement)
            .collect();
        let (settlements, cursor) = page(settlements, offset, limit);
        json!({ "settlements": settlements, "cursor": cursor })
    });
    ok(body)
}

async fn resting_order_value(State(state): Shared, caller_ext: CallerExt) -> Answer {
    let caller = caller(caller_ext)?;
    let total = state.market.read(|exchange| {
        exchange
            .order_records(&caller.user_id)
            .filter(|o| o.is_resting())
            .fold(Money::ZERO, |sum, o| {
                sum.saturating_add(o.cost_per_contract().cost_of(o.remaining))
            })
    });
    ok(json!({ "total_resting_order_value": views::cents(total) }))
}

// ---- orders: reads ----

async fn list_orders(
    State(state): Shared,
    caller_ext: CallerExt,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let limit = query.limit(100, 1000, false)?;
    let offset = query.cursor()?;
    let subaccount = query.subaccount()?;
    let ticker = query.text("ticker");
    let event_tickers = query.list("event_ticker");
    if event_tickers.len() > 10 {
        return Err(RestError::bad_request(
            "event_ticker: at most 10 event tickers",
        ));
    }
    let status = query.text("status");
    check_one_of("status", status, &["resting", "canceled", "executed"])?;
    let min_ms = query.int("min_ts")?.map(|s| s * 1000);
    let max_ms = query.int("max_ts")?.map(|s| s * 1000);
    let body = state.market.read(|exchange| {
        let mut orders: Vec<_> = exchange
            .order_records(&caller.user_id)
            .filter(|o| subaccount.is_none_or(|s| o.subaccount == s))
            .filter(|o| ticker.is_none_or(|t| o.ticker.as_str() == t))
            .filter(|o| event_tickers.is_empty() || event_tickers.contains(&o.event_ticker))
            .filter(|o| status.is_none_or(|s| o.status.as_str() == s))
            .filter(|o| min_ms.is_none_or(|m| o.created_ms >= m))
            .filter(|o| max_ms.is_none_or(|m| o.created_ms <= m))
            .collect();
        // Newest first.
        orders.reverse();
        let orders: Vec<Value> = orders.into_iter().map(views::order).collect();
        let (orders, cursor) = page(orders, offset, limit);
        json!({ "orders": orders, "cursor": cursor })
    });
    ok(body)
}

async fn get_order(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(order_id): Path<String>,
) -> Answer {
    let caller = caller(caller_ext)?;
    let order = state.market.read(|exchange| {
        exchange
            .order_record(&order_id)
            .filter(|o| o.user_id == caller.user_id)
            .map(views::order)
    });
    match order {
        Some(order) => ok(json!({ "order": order })),
        None => Err(RestError::not_found(format!("order {order_id} not found"))),
    }
}

async fn queue_position(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(order_id): Path<String>,
) -> Answer {
    let caller = caller(caller_ext)?;
    let position = state.market.read(|exchange| {
        exchange
            .order_record(&order_id)
            .filter(|o| o.user_id == caller.user_id && o.is_resting())
            .and_then(|o| queue_position_of(exchange, o))
    });
    match position {
        Some(position) => ok(json!({ "queue_position_fp": position.to_fp() })),
        None => Err(RestError::not_found(format!(
            "resting order {order_id} not found"
        ))),
    }
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
    let subaccount = query.subaccount()?.unwrap_or(0);
    let body = state.market.read(|exchange| {
        let positions: Vec<Value> = exchange
            .order_records(&caller.user_id)
            .filter(|o| o.is_resting() && o.subaccount == subaccount)
            .filter(|o| tickers.is_empty() || tickers.iter().any(|t| t == o.ticker.as_str()))
            .filter(|o| event_ticker.is_none_or(|e| o.event_ticker == e))
            .filter_map(|o| {
                queue_position_of(exchange, o).map(|position| {
                    json!({
                        "order_id": o.order_id,
                        "market_ticker": o.ticker.as_str(),
                        "queue_position_fp": position.to_fp(),
                    })
                })
            })
            .collect();
        json!({ "queue_positions": positions })
    });
    ok(body)
}

/// Contracts queued ahead of a resting order at its price. The exchange numbers orders in its
/// matching books by creation (`make_id(0, n)`, n = the book's order id); the book's own record
/// of that id is checked against the order before it is trusted.
fn queue_position_of(exchange: &Exchange, order: &OrderRecord) -> Option<Count> {
    let number = u64::from_str_radix(order.order_id.rsplit('-').next()?, 16).ok()?;
    let book = exchange.matching_book(order.ticker.as_str())?;
    let resting = book.order(number)?;
    (resting.price == order.price
        && resting.side == order.side
        && resting.remaining == order.remaining)
        .then(|| book.queue_position(number))
        .flatten()
}

// ---- orders: writes ----

fn order_request(wire_request: &wire::CreateOrderV2Request) -> Result<OrderRequest, RestError> {
    if wire_request.count <= Count::ZERO {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "invalid_order_size",
            "count must be positive",
        ));
    }
    Ok(OrderRequest {
        ticker: wire_request.ticker.to_string(),
        side: match wire_request.side {
            wire::BookSide::Bid => BookSide::Bid,
            wire::BookSide::Ask => BookSide::Ask,
        },
        count: wire_request.count,
        price: wire_request.price,
        time_in_force: match wire_request.time_in_force {
            wire::TimeInForce::FillOrKill => TimeInForce::FillOrKill,
            wire::TimeInForce::GoodTillCanceled => TimeInForce::GoodTillCanceled,
            wire::TimeInForce::ImmediateOrCancel => TimeInForce::ImmediateOrCancel,
        },
        self_trade_prevention: match wire_request.self_trade_prevention_type {
            wire::SelfTradePrevention::TakerAtCross => SelfTradePrevention::TakerAtCross,
            wire::SelfTradePrevention::Maker => SelfTradePrevention::Maker,
        },
        client_order_id: wire_request.client_order_id.clone(),
        expiration_ms: wire_request.expiration_time.map(|s| s.saturating_mul(1000)),
        post_only: wire_request.post_only.unwrap_or(false),
        reduce_only: wire_request.reduce_only.unwrap_or(false),
        cancel_order_on_pause: wire_request.cancel_order_on_pause.unwrap_or(false),
        order_group_id: wire_request.order_group_id.clone(),
        subaccount: wire_request.subaccount.unwrap_or(0),
    })
}

fn ack_json(ack: &OrderAck) -> Value {
    let mut body = json!({
        "order_id": ack.order_id,
        "client_order_id": ack.client_order_id,
        "fill_count": ack.fill_count.to_fp(),
        "remaining_count": ack.remaining_count.to_fp(),
        "ts_ms": ack.ts_ms,
    });
    if let Some(price) = ack.average_fill_price {
        body["average_fill_price"] = json!(price.to_dollars());
    }
    if let Some(fee) = ack.average_fee_paid {
        body["average_fee_paid"] = json!(fee.to_dollars());
    }
    body
}

async fn create_order(State(state): Shared, caller_ext: CallerExt, body: Bytes) -> Answer {
    let caller = caller(caller_ext)?;
    let wire_request: wire::CreateOrderV2Request = parse_body(&body)?;
    let request = order_request(&wire_request)?;
    let now_ms = clock::wall_ms();
    let ack = state.market.write(now_ms, |exchange| {
        exchange.place_order(&caller.user_id, &request, now_ms)
    })?;
    created(ack_json(&ack))
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
    // Items that do not parse fail on their own; the rest go to the exchange together.
    let parsed: Vec<Result<OrderRequest, RestError>> = items
        .iter()
        .map(|item| {
            serde_json::from_value::<wire::CreateOrderV2Request>(item.clone())
                .map_err(|e| RestError::bad_request("invalid order").with_details(e.to_string()))
                .and_then(|r| order_request(&r))
        })
        .collect();
    let valid: Vec<OrderRequest> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let now_ms = clock::wall_ms();
    let mut results = state
        .market
        .write(now_ms, |exchange| {
            exchange.place_orders(&caller.user_id, &valid, now_ms)
        })
        .into_iter();
    let orders: Vec<Value> = parsed
        .iter()
        .zip(items)
        .map(|(p, item)| {
            let client_order_id = item.get("client_order_id").cloned().unwrap_or(Value::Null);
            let failed = |error: RestError| {
                // A failed item has no order id; the spec's `order_id` is a non-null string.
                json!({
                    "client_order_id": client_order_id,
                    "fill_count": Value::Null,
                    "remaining_count": Value::Null,
                    "ts_ms": Value::Null,
                    "error": error.error_response(),
                })
            };
            match p {
                Err(error) => failed(error.clone()),
                Ok(_) => match results.next() {
                    Some(Ok(ack)) => ack_json(&ack),
                    Some(Err(error)) => failed(error.into()),
                    None => failed(RestError::internal("missing result")),
                },
            }
        })
        .collect();
    created(json!({ "orders": orders }))
}

async fn cancel_order(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(order_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let subaccount = query.subaccount()?;
    let now_ms = clock::wall_ms();
    let ack = state.market.write(now_ms, |exchange| {
        exchange.cancel_order_by_id(&caller.user_id, &order_id, subaccount, now_ms)
    })?;
    ok(json!({
        "order_id": ack.order_id,
        "client_order_id": ack.client_order_id,
        "reduced_by": ack.reduced_by.to_fp(),
        "ts_ms": ack.ts_ms,
    }))
}

async fn batch_cancel(State(state): Shared, caller_ext: CallerExt, body: Bytes) -> Answer {
    let caller = caller(caller_ext)?;
    let request: wire::BatchCancelOrdersV2Request = parse_body(&body)?;
    if request.orders.is_empty() {
        return Err(RestError::bad_request(
            "orders: at least one order is required",
        ));
    }
    let items: Vec<(String, Option<u32>)> = request
        .orders
        .iter()
        .map(|o| (o.order_id.clone(), o.subaccount))
        .collect();
    let now_ms = clock::wall_ms();
    let results = state.market.write(now_ms, |exchange| {
        exchange.cancel_orders_by_id(&caller.user_id, &items, now_ms)
    });
    let orders: Vec<Value> = items
        .iter()
        .zip(results)
        .map(|((order_id, _), result)| match result {
            Ok(ack) => json!({
                "order_id": ack.order_id,
                "client_order_id": ack.client_order_id,
                "reduced_by": ack.reduced_by.to_fp(),
                "ts_ms": ack.ts_ms,
            }),
            Err(error) => json!({
                "order_id": order_id,
                "reduced_by": Count::ZERO.to_fp(),
                "error": RestError::from(error).error_response(),
            }),
        })
        .collect();
    ok(json!({ "orders": orders }))
}

async fn cancel_all(
    State(state): Shared,
    caller_ext: CallerExt,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let subaccount = query.subaccount()?;
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
    let query = QueryParams::parse(raw.as_deref());
    let subaccount = query.subaccount()?;
    let wire_request: wire::AmendOrderV2Request = parse_body(&body)?;
    let request = AmendRequest {
        ticker: wire_request.ticker.to_string(),
        side: match wire_request.side {
            wire::BookSide::Bid => BookSide::Bid,
            wire::BookSide::Ask => BookSide::Ask,
        },
        price: wire_request.price,
        count: wire_request.count,
        client_order_id: wire_request.client_order_id.clone(),
        updated_client_order_id: wire_request.updated_client_order_id.clone(),
    };
    let now_ms = clock::wall_ms();
    let ack = state.market.write(now_ms, |exchange| {
        exchange.amend_order_by_id(&caller.user_id, &order_id, subaccount, &request, now_ms)
    })?;
    ok(ack_json(&ack))
}

async fn decrease_order(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(order_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let subaccount = query.subaccount()?;
    let wire_request: wire::DecreaseOrderV2Request = parse_body(&body)?;
    let decrease = match wire_request.validate().map_err(RestError::bad_request)? {
        wire::Decrease::By(count) => crate::core::matching::Decrease::By(count),
        wire::Decrease::To(count) => crate::core::matching::Decrease::To(count),
    };
    let now_ms = clock::wall_ms();
    let ack = state.market.write(now_ms, |exchange| {
        exchange.decrease_order_by_id(&caller.user_id, &order_id, subaccount, decrease, now_ms)
    })?;
    ok(json!({
        "order_id": ack.order_id,
        "client_order_id": ack.client_order_id,
        "remaining_count": ack.remaining_count.to_fp(),
        "ts_ms": ack.ts_ms,
    }))
}

// ---- order groups ----

async fn list_order_groups(
    State(state): Shared,
    caller_ext: CallerExt,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let subaccount = query.subaccount()?;
    let groups = state.market.read(|exchange| {
        exchange
            .groups_of(&caller.user_id, subaccount)
            .map(|groups| {
                groups
                    .into_iter()
                    .map(views::order_group)
                    .collect::<Vec<_>>()
            })
    })?;
    ok(json!({ "order_groups": groups }))
}

fn contracts_limit(limit: Option<i64>, limit_fp: Option<Count>) -> Result<Count, RestError> {
    match (limit.map(Count::from_contracts), limit_fp) {
        (Some(a), Some(b)) if a != b => Err(RestError::bad_request(
            "contracts_limit and contracts_limit_fp disagree",
        )),
        (Some(limit), _) | (None, Some(limit)) => Ok(limit),
        (None, None) => Err(RestError::bad_request(
            "contracts_limit or contracts_limit_fp is required",
        )),
    }
}

async fn create_order_group(State(state): Shared, caller_ext: CallerExt, body: Bytes) -> Answer {
    let caller = caller(caller_ext)?;
    let request: wire::CreateOrderGroupRequest = parse_body(&body)?;
    let limit = contracts_limit(request.contracts_limit, request.contracts_limit_fp)?;
    let subaccount = request.subaccount.unwrap_or(0);
    let now_ms = clock::wall_ms();
    let group_id = state.market.write(now_ms, |exchange| {
        exchange.create_group(&caller.user_id, subaccount, limit, now_ms)
    })?;
    created(json!({ "order_group_id": group_id, "subaccount": subaccount }))
}

async fn get_order_group(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let query = QueryParams::parse(raw.as_deref());
    let subaccount = query.subaccount()?;
    let body = state.market.read(|exchange| {
        exchange
            .group_of(&caller.user_id, &group_id, subaccount)
            .map(|group| {
                json!({
                    "is_auto_cancel_enabled": !group.triggered,
                    "contracts_limit_fp": group.contracts_limit.to_fp(),
                    "orders": group.order_ids,
                })
            })
    })?;
    ok(body)
}

async fn delete_order_group(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let now_ms = clock::wall_ms();
    state.market.write(now_ms, |exchange| {
        exchange.delete_group(&caller.user_id, &group_id, subaccount, now_ms)
    })?;
    ok(json!({}))
}

async fn reset_order_group(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let now_ms = clock::wall_ms();
    state.market.write(now_ms, |exchange| {
        exchange.reset_group(&caller.user_id, &group_id, subaccount, now_ms)
    })?;
    ok(json!({}))
}

async fn trigger_order_group(
    State(state): Shared,
    caller_ext: CallerExt,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let caller = caller(caller_ext)?;
    let subaccount = QueryParams::parse(raw.as_deref()).subaccount()?;
    let now_ms = clock::wall_ms();
    state.market.write(now_ms, |exchange| {
        exchange.trigger_group(&caller.user_id, &group_id, subaccount, now_ms)
    })?;
    ok(json!({}))
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
    let limit = contracts_limit(request.contracts_limit, request.contracts_limit_fp)?;
    let now_ms = clock::wall_ms();
    state.market.write(now_ms, |exchange| {
        exchange.update_group_limit(&caller.user_id, &group_id, subaccount, limit, now_ms)
    })?;
    ok(json!({}))
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
