//! The WS feed at `/trade-api/ws/v2` (DIGEST.md section 7): a signed upgrade, then one
//! [`session`] per connection.

pub mod commands;
pub mod feed;
pub mod session;

use super::AppState;
use super::errors::RestError;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `GET /trade-api/ws/v2`: the upgrade carries the same three auth headers as REST, signed over
/// `ts + "GET" + "/trade-api/ws/v2"`; a refused upgrade never becomes a socket.
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    OriginalUri(uri): OriginalUri,
    headers: http::HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let caller = match state.gate.authenticate(&headers, "GET", uri.path()) {
        Ok(caller) => caller,
        Err(failure) => {
            let status = state.gate.variants.ws_auth_failure.status();
            return RestError::new(status, "unauthorized", failure.to_string()).into_response();
        }
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let context = state.ws.clone();
    upgrade.on_upgrade(move |socket| session::run(socket, caller.user_id, context))
}
