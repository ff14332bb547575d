//! What can go wrong with a REST call, and how Kalshi's error bodies are read.
//!
//! Kalshi answers errors in three shapes (DIGEST section 9), all accepted here:
//! `{"error":{"code","message","details"}}` (what the wire carries), the spec's bare
//! `{"code","message","details"}`, and the 429 body `{"error":"too many requests"}`.

use crate::kalshi::ratelimit::RateLimitError;

/// The typed error of every [`RestClient`](super::RestClient) call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    /// The exchange refused the request and said why.
    #[error("{endpoint}: HTTP {status} {code}: {message}{}", details_suffix(.details))]
    Api {
        endpoint: &'static str,
        status: u16,
        code: String,
        message: String,
        details: Option<String>,
    },
    /// The exchange answered 429 (after any retries this call allows).
    #[error("{endpoint}: rate limited by the exchange (HTTP 429)")]
    RateLimited { endpoint: &'static str },
    /// Our own budget is short for a write that must not wait (a new order or an amend).
    #[error("rate budget short: needs {needed} tokens, {available} available")]
    WouldExceed { needed: u32, available: u32 },
    /// The request costs more tokens than the bucket can hold; it must be split.
    #[error("request costs {needed} tokens, more than the bucket holds ({capacity})")]
    TooLarge { needed: u32, capacity: u32 },
    /// A write was sent and its answer was lost (timeout, reset, 5xx, unreadable body): it may
    /// or may not have happened. It is never re-sent; resolve it by `client_order_id`.
    #[error(
        "{endpoint}: outcome unknown ({cause}); resolve by client_order_id {client_order_id:?}"
    )]
    Unknown {
        endpoint: &'static str,
        client_order_id: Option<String>,
        order_id: Option<String>,
        cause: String,
    },
    /// No answer in time (reads and cancels: after every allowed attempt).
    #[error("{endpoint}: timed out")]
    Timeout { endpoint: &'static str },
    /// The connection failed (reads and cancels: after every allowed attempt; writes: only
    /// when nothing was sent).
    #[error("{endpoint}: transport error: {message}")]
    Transport {
        endpoint: &'static str,
        message: String,
    },
    /// A success answer whose body did not match the expected shape.
    #[error("cannot decode {what}: {error}")]
    Decode { what: String, error: String },
    /// The request could not be built (bad base URL, a body that does not serialize, no key
    /// for a signed endpoint).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

fn details_suffix(details: &Option<String>) -> String {
    match details {
        Some(details) if !details.is_empty() => format!(" ({details})"),
        _ => String::new(),
    }
}

impl RestError {
    /// The exchange's error code, when it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            RestError::Api { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// HTTP status of an exchange answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::Api { status, .. } => Some(*status),
            RestError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// True when the write may have happened and must be resolved before the market writes
    /// again.
    pub fn is_unknown_outcome(&self) -> bool {
        matches!(self, RestError::Unknown { .. })
    }

    /// True for a rate-limit refusal, ours or the exchange's (not a business reject).
    pub fn is_rate_limit(&self) -> bool {
        matches!(
            self,
            RestError::RateLimited { .. }
                | RestError::WouldExceed { .. }
                | RestError::TooLarge { .. }
        )
    }
}

impl From<RateLimitError> for RestError {
    fn from(error: RateLimitError) -> RestError {
        match error {
            RateLimitError::WouldExceed { needed, available } => {
                RestError::WouldExceed { needed, available }
            }
            RateLimitError::ExceedsCapacity { needed, capacity } => {
                RestError::TooLarge { needed, capacity }
            }
        }
    }
}

/// An error body as Kalshi sends it, whichever of its shapes it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub details: Option<String>,
}

/// Read an error body. Anything that is not one of Kalshi's shapes (HTML from a proxy, an
/// empty body) becomes an empty code with the text, shortened, as the message.
pub fn decode_error_body(body: &[u8]) -> ErrorBody {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(parsed) = error_object(&value) {
            return parsed;
        }
    }
    ErrorBody {
        code: String::new(),
        message: shorten(&String::from_utf8_lossy(body)),
        details: None,
    }
}

fn error_object(value: &serde_json::Value) -> Option<ErrorBody> {
    let object = value.as_object()?;
    match object.get("error") {
        // {"error":{"code":…,"message":…,"details":…}}
        Some(inner @ serde_json::Value::Object(_)) => bare_error(inner),
        // {"error":"too many requests"}
        Some(serde_json::Value::String(message)) => Some(ErrorBody {
            code: String::new(),
            message: message.clone(),
            details: None,
        }),
        _ => bare_error(value),
    }
}

/// The spec's `ErrorResponse`: `{code, message, details?}`, every member optional on read.
fn bare_error(value: &serde_json::Value) -> Option<ErrorBody> {
    let object = value.as_object()?;
    let text = |key: &str| match object.get(key) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(text)) => Some(text.clone()),
        Some(other) => Some(other.to_string()),
    };
    let code = text("code");
    let message = text("message");
    if code.is_none() && message.is_none() {
        return None;
    }
    Some(ErrorBody {
        code: code.unwrap_or_default(),
        message: message.unwrap_or_default(),
        details: text("details"),
    })
}

fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    let trimmed = text.trim();
    if trimmed.chars().count() <= MAX_CHARS {
        trimmed.to_string()
    } else {
        let mut short: String = trimmed.chars().take(MAX_CHARS).collect();
        short.push('…');
        short
    }
}

/// The error for a non-success status: 429 is [`RestError::RateLimited`] whatever its body,
/// everything else is [`RestError::Api`] with the body's code and message.
pub fn error_from_status(endpoint: &'static str, status: u16, body: &[u8]) -> RestError {
    if status == 429 {
        return RestError::RateLimited { endpoint };
    }
    let ErrorBody {
        code,
        message,
        details,
    } = decode_error_body(body);
    RestError::Api {
        endpoint,
        status,
        code,
        message,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_envelope_is_read_and_extra_members_ignored() {
        let body = br#"{"error":{"code":"order_already_exists","message":"order already exists","service":"exchange"}}"#;
        assert_eq!(
            decode_error_body(body),
            ErrorBody {
                code: "order_already_exists".into(),
                message: "order already exists".into(),
                details: None
            }
        );
    }

    #[test]
    fn bare_envelope_with_details_is_read() {
        let body = br#"{"code":"invalid order","message":"bad","details":"post only cross"}"#;
        let parsed = decode_error_body(body);
        assert_eq!(parsed.code, "invalid order");
        assert_eq!(parsed.details.as_deref(), Some("post only cross"));
    }

    #[test]
    fn string_error_and_garbage_are_kept_as_messages() {
        assert_eq!(
            decode_error_body(br#"{"error":"too many requests"}"#).message,
            "too many requests"
        );
        let html = decode_error_body(b"<html>502 Bad Gateway</html>");
        assert_eq!(html.code, "");
        assert_eq!(html.message, "<html>502 Bad Gateway</html>");
        assert_eq!(decode_error_body(b"").message, "");
        let long = "x".repeat(1000);
        assert_eq!(
            decode_error_body(long.as_bytes()).message.chars().count(),
            201
        );
        // Non-string details (an object) are kept as JSON text.
        let parsed =
            decode_error_body(br#"{"error":{"code":"c","message":"m","details":{"k":1}}}"#);
        assert_eq!(parsed.details.as_deref(), Some(r#"{"k":1}"#));
    }

    #[test]
    fn status_429_is_rate_limited_whatever_the_body() {
        assert_eq!(
            error_from_status("create_order", 429, b"{}"),
            RestError::RateLimited {
                endpoint: "create_order"
            }
        );
        let api = error_from_status(
            "cancel_order",
            404,
            br#"{"error":{"code":"not_found","message":"order not found"}}"#,
        );
        assert_eq!(api.code(), Some("not_found"));
        assert_eq!(api.status(), Some(404));
        assert!(api.to_string().contains("order not found"));
    }
}
