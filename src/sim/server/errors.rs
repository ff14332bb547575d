//! REST error answers. Handlers return [`RestError`]; the outermost layer renders it in the
//! envelope the server's [`ErrorEnvelope`] switch selects, so no handler needs to know it.

use super::variants::ErrorEnvelope;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// Kalshi's 429 body: a plain string, not an `ErrorResponse` (DIGEST 8).
pub const TOO_MANY_REQUESTS_BODY: &str = r#"{"error":"too many requests"}"#;

/// An error answer: status plus Kalshi's `ErrorResponse` fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct RestError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub details: Option<String>,
}

impl RestError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> RestError {
        RestError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> RestError {
        self.details = Some(details.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn internal(message: impl Into<String>) -> RestError {
        RestError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            message,
        )
    }

    pub fn service_unavailable(message: impl Into<String>) -> RestError {
        RestError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            message,
        )
    }

    /// The `ErrorResponse` object itself (what batch items embed, unwrapped).
    pub fn error_response(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(details) = &self.details {
            body["details"] = serde_json::Value::String(details.clone());
        }
        body
    }

    /// The full body in the chosen envelope.
    pub fn body(&self, envelope: ErrorEnvelope) -> serde_json::Value {
        match envelope {
            ErrorEnvelope::Bare => self.error_response(),
            ErrorEnvelope::Wrapped => serde_json::json!({ "error": self.error_response() }),
        }
    }
}

/// Carried in a response's extensions until [`render`] writes the body.
#[derive(Debug, Clone)]
pub struct PendingError(pub RestError);

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = self.status;
        response.extensions_mut().insert(PendingError(self));
        response
    }
}

/// The 429 answer.
pub fn too_many_requests() -> Response {
    json_response(
        StatusCode::TOO_MANY_REQUESTS,
        TOO_MANY_REQUESTS_BODY.to_string(),
    )
}

/// A JSON answer with a ready body.
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Write the body of a [`RestError`] answer in `envelope`; other answers pass unchanged.
pub fn render(response: Response, envelope: ErrorEnvelope) -> Response {
    match response.extensions().get::<PendingError>() {
        Some(PendingError(error)) => json_response(error.status, error.body(envelope).to_string()),
        None => response,
    }
}

impl From<crate::sim::exchange::types::ApiError> for RestError {
    fn from(error: crate::sim::exchange::types::ApiError) -> RestError {
        RestError {
            status: StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: error.code,
            message: error.message,
            details: error.details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes() {
        let error = RestError::new(
            StatusCode::CONFLICT,
            "order_already_exists",
            "order already exists",
        );
        assert_eq!(
            error.body(ErrorEnvelope::Wrapped),
            serde_json::json!({"error":{"code":"order_already_exists","message":"order already exists"}})
        );
        let detailed = RestError::bad_request("bad").with_details("post only cross");
        assert_eq!(
            detailed.body(ErrorEnvelope::Bare),
            serde_json::json!({"code":"bad_request","message":"bad","details":"post only cross"})
        );
    }
}
