//! What every REST handler shares: extractors for the signed caller, the query string and a JSON
//! body, and answers that run a read or a write under the exchange lock and serialize its
//! result. A handler then states only which exchange call it makes and how its answer is keyed.

use super::AppState;
use super::auth::Caller;
use super::errors::{RestError, json_response};
use super::query::{QueryParams, page};
use crate::runtime::clock;
use crate::sim::exchange::Exchange;
use crate::sim::exchange::types::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::Response;
use http::StatusCode;
use http::request::Parts;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

pub type Answer = Result<Response, RestError>;

/// A signed request: its caller and its query. The gate has already refused unsigned requests
/// to private endpoints; a request that reaches a private handler unsigned anyway is a 401.
pub struct Signed {
    pub user_id: String,
    pub query: QueryParams,
}

impl Signed {
    /// The `subaccount` query parameter (0..=63), if given.
    pub fn subaccount(&self) -> Result<Option<u32>, RestError> {
        self.query.subaccount()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Signed, RestError> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .ok_or_else(|| RestError::unauthorized("authentication required"))?;
        Ok(Signed {
            user_id: caller.user_id.clone(),
            query: QueryParams::parse(parts.uri.query()),
        })
    }
}

/// The query string of a public request.
pub struct Query(pub QueryParams);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Query, RestError> {
        Ok(Query(QueryParams::parse(parts.uri.query())))
    }
}

/// A JSON request body; a missing or undecodable body is a 400 naming what was wrong.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = RestError;

    async fn from_request(request: Request, state: &S) -> Result<Body<T>, RestError> {
        // A body that cannot be read keeps axum's status (413 for one over the size limit).
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            RestError::new(e.status(), "bad_request", "cannot read the request body")
                .with_details(e.body_text())
        })?;
        parse_body(&bytes).map(Body)
    }
}

pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, RestError> {
    if body.is_empty() {
        return Err(RestError::bad_request("request body is required"));
    }
    serde_json::from_slice(body)
        .map_err(|e| RestError::bad_request("invalid request body").with_details(e.to_string()))
}

/// `{ key: value }`, the envelope of most single-object answers (`{"market": …}`).
pub struct Keyed<T> {
    key: &'static str,
    value: T,
}

impl<T: Serialize> Serialize for Keyed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.key, &self.value)?;
        map.end()
    }
}

/// Wrap a value under `key`; for `.map(keyed("order"))`.
pub fn keyed<T>(key: &'static str) -> impl FnOnce(T) -> Keyed<T> {
    move |value| Keyed { key, value }
}

pub fn to_json<T: Serialize>(value: &T) -> Result<Value, RestError> {
    serde_json::to_value(value)
        .map_err(|e| RestError::internal(format!("cannot encode the answer: {e}")))
}

/// Answer `status` with the JSON of `value`.
pub fn reply<T: Serialize>(status: StatusCode, value: &T) -> Answer {
    Ok(json_response(status, to_json(value)?.to_string()))
}

/// A read under the lock, answered 200 with the JSON of what it returns.
pub fn read<T: Serialize>(
    state: &AppState,
    read: impl FnOnce(&Exchange) -> Result<T, ApiError>,
) -> Answer {
    let value = state.market.read(read)?;
    reply(StatusCode::OK, &value)
}

/// A write at the wall-clock time, answered `status` with the JSON of what it returns.
pub fn write<T: Serialize>(
    state: &AppState,
    status: StatusCode,
    write: impl FnOnce(&mut Exchange, i64) -> Result<T, ApiError>,
) -> Answer {
    let now_ms = clock::wall_ms();
    let value = state
        .market
        .write(now_ms, |exchange| write(exchange, now_ms))?;
    reply(status, &value)
}

/// How a list endpoint pages: the default and largest `limit`, and whether `limit=0` is
/// allowed (OpenAPI gives each endpoint its own bounds).
#[derive(Clone, Copy)]
pub struct Paging {
    pub default: usize,
    pub max: usize,
    pub zero_ok: bool,
}

/// `limit` 1..=1000, default 100; 0 allowed (markets, trades, fills, orders, settlements).
pub const PAGE_100_OF_1000: Paging = Paging {
    default: 100,
    max: 1000,
    zero_ok: true,
};

impl Paging {
    /// One page of a complete list, from the query's `cursor`, and the next cursor.
    pub fn page<T>(
        self,
        items: Vec<T>,
        query: &QueryParams,
    ) -> Result<(Vec<T>, String), RestError> {
        let limit = query.limit(self.default, self.max, self.zero_ok)?;
        let offset = query.cursor()?;
        Ok(page(items, offset, limit))
    }
}

/// A list read under the lock, answered with one page as `{ key: [...], "cursor": … }`.
pub fn read_page<T: Serialize>(
    state: &AppState,
    query: &QueryParams,
    key: &'static str,
    paging: Paging,
    read: impl FnOnce(&Exchange) -> Result<Vec<T>, ApiError>,
) -> Answer {
    let items = state.market.read(read)?;
    let (items, cursor) = paging.page(items, query)?;
    reply(StatusCode::OK, &PageOf { key, items, cursor })
}

/// `{ key: items, "cursor": cursor }`.
struct PageOf<T> {
    key: &'static str,
    items: Vec<T>,
    cursor: String,
}

impl<T: Serialize> Serialize for PageOf<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry(self.key, &self.items)?;
        map.serialize_entry("cursor", &self.cursor)?;
        map.end()
    }
}

/// A query value that must be one of `allowed`.
pub fn check_one_of(name: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), RestError> {
    match value {
        Some(value) if !allowed.contains(&value) => Err(RestError::bad_request(format!(
            "{name} {value:?} is not one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// A query value that must be one of Kalshi's words, decoded into its wire enum.
pub fn word<T: serde::de::DeserializeOwned>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_values_and_pages_serialize_as_kalshis_envelopes() {
        let value = to_json(&keyed("order")(serde_json::json!({"a": 1}))).unwrap();
        assert_eq!(value, serde_json::json!({"order": {"a": 1}}));
        let query = QueryParams::parse(Some("limit=2&cursor=1"));
        let (items, cursor) = PAGE_100_OF_1000.page(vec![1, 2, 3, 4], &query).unwrap();
        let page = to_json(&PageOf {
            key: "fills",
            items,
            cursor,
        })
        .unwrap();
        assert_eq!(page, serde_json::json!({"fills": [2, 3], "cursor": "3"}));
        assert!(check_one_of("status", Some("open"), &["open", "closed"]).is_ok());
        assert!(check_one_of("status", Some("x"), &["open"]).is_err());
        assert!(parse_body::<Value>(b"").is_err());
        assert!(parse_body::<Value>(b"{").is_err());
    }
}
