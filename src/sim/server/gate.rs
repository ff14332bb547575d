//! Everything a REST request passes before its handler, outermost first: error rendering in the
//! selected envelope, injected latency, authentication, the token buckets and the request faults.

use super::auth::{self, Caller};
use super::errors::{self, RestError};
use super::net::Connection;
use super::ratelimit::{self, RateLimiter};
use super::variants::{OrderbookAuth, Variants};
use crate::runtime::clock;
use crate::sim::faults::{FaultControl, RestFault};
use crate::sim::keys::KeyRegistry;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, OriginalUri, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use std::sync::{Arc, RwLock};

/// REST path prefix.
pub const REST_PREFIX: &str = "/trade-api/v2";
/// WS path.
pub const WS_PATH: &str = "/trade-api/ws/v2";

/// Largest request body the simulator reads (a 1000-order batch fits easily).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What the gate needs; shared by every request.
pub struct Gate {
    pub registry: Arc<RwLock<KeyRegistry>>,
    pub limiter: RateLimiter,
    pub faults: FaultControl,
    pub variants: Variants,
}

impl Gate {
    /// Check a signed request (REST or the WS upgrade) against the registry.
    pub fn authenticate(
        &self,
        headers: &http::HeaderMap,
        method: &str,
        path: &str,
    ) -> Result<Caller, auth::AuthFailure> {
        let registry = match self.registry.read() {
            Ok(registry) => registry,
            Err(poisoned) => poisoned.into_inner(),
        };
        auth::verify_request(&registry, headers, method, path, clock::wall_ms())
    }
}

/// The route template under the REST prefix (`/portfolio/orders/{order_id}`).
fn template_of(request: &Request) -> String {
    let full = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_string(),
        |m| m.as_str().to_string(),
    );
    full.strip_prefix(REST_PREFIX).unwrap_or(&full).to_string()
}

/// Endpoints anyone may call without a signature (DIGEST 4's auth column).
fn is_public(method: &Method, template: &str, variants: &Variants) -> bool {
    if *method != Method::GET {
        return false;
    }
    match template {
        "/exchange/status"
        | "/exchange/schedule"
        | "/markets"
        | "/markets/{ticker}"
        | "/markets/trades"
        | "/events"
        | "/events/{event_ticker}"
        | "/series"
        | "/series/{series_ticker}"
        | "/account/endpoint_costs" => true,
        "/markets/{ticker}/orderbook" | "/markets/orderbooks" => {
            variants.orderbook_auth == OrderbookAuth::Public
        }
        _ => false,
    }
}

/// Outermost layer: write pending errors in the selected envelope.
pub async fn render_errors(
    State(gate): State<Arc<Gate>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    errors::render(response, gate.variants.error_envelope)
}

/// Injected latency on every answer.
pub async fn latency(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let delay = gate.faults.rest_latency_ms();
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    response
}

/// Authentication, rate limit and request faults; puts the [`Caller`] in the request's
/// extensions for handlers.
pub async fn admit(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    let template = template_of(&request);
    let method = request.method().clone();
    // Inside the nested router the URI has lost its prefix; the signature covers the full path.
    let path = request.extensions().get::<OriginalUri>().map_or_else(
        || request.uri().path().to_string(),
        |uri| uri.path().to_string(),
    );
    let (mut parts, body) = request.into_parts();

    let caller = if is_public(&method, &template, &gate.variants)
        && !auth::has_auth_headers(&parts.headers)
    {
        None
    } else {
        match gate.authenticate(&parts.headers, method.as_str(), &path) {
            Ok(caller) => Some(caller),
            Err(failure) => return RestError::unauthorized(failure.to_string()).into_response(),
        }
    };

    // Batches are billed per order, so their size must be known before they are admitted.
    let is_batch = template == "/portfolio/events/orders/batched";
    let (body, batch_items) = if is_batch {
        let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return RestError::bad_request("request body too large or unreadable")
                    .into_response();
            }
        };
        let items = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("orders").and_then(|o| o.as_array()).map(Vec::len))
            .unwrap_or(1);
        (Body::from(bytes), items as u64)
    } else {
        (body, 1)
    };

    let cost = ratelimit::cost_of(&method, &template, batch_items);
    let bucket_owner = caller.as_ref().map_or("public", |c| c.user_id.as_str());
    if !gate.limiter.try_take(bucket_owner, cost, clock::mono_ns()) {
        return errors::too_many_requests();
    }

    let is_cancel_all = method == Method::DELETE && template == "/portfolio/events/orders";
    let fault = gate.faults.rest_fault(&method, is_cancel_all);
    match fault {
        Some(RestFault::TooManyRequests) => return errors::too_many_requests(),
        Some(RestFault::ServerError(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if template == "/exchange/status" {
                // The spec answers this endpoint's 5xx with an ExchangeStatus body.
                let body = r#"{"exchange_active":false,"trading_active":false}"#;
                return errors::json_response(status, body.to_string());
            }
            let error = if status == StatusCode::SERVICE_UNAVAILABLE {
                RestError::service_unavailable("service unavailable (injected fault)")
            } else {
                RestError::internal("internal server error (injected fault)")
            };
            return error.into_response();
        }
        _ => {}
    }

    if let Some(caller) = caller {
        parts.extensions.insert(caller);
    }
    let connection = parts.extensions.get::<ConnectInfo<Connection>>().cloned();
    let response = next.run(Request::from_parts(parts, body)).await;
    if fault == Some(RestFault::LoseAnswer)
        && let Some(ConnectInfo(connection)) = connection
    {
        connection.cut();
    }
    response
}
