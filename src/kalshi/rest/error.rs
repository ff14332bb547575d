//! What can go wrong with a REST call, and how Kalshi's error bodies are read.
//!
//! Kalshi answers errors in three shapes (DIGEST section 9), all accepted (by
//! `wire::decode_error_body`): `{"error":{"code","message","details"}}` (what the wire
//! carries), the spec's bare `{"code","message","details"}`, and the 429 body
//! `{"error":"too many requests"}`.

use crate::kalshi::ratelimit::RateLimitError;
use crate::kalshi::wire::decode_error_body;

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
    /// A batch item that was not sent because an earlier part of the batch has an unknown
    /// outcome (its market must wait until that is resolved).
    #[error("{endpoint}: not sent: {reason}")]
    NotSent {
        endpoint: &'static str,
        reason: String,
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

/// The error for a non-success status: 429 is [`RestError::RateLimited`] whatever its body,
/// everything else is [`RestError::Api`] with the body's code and message.
pub fn error_from_status(endpoint: &'static str, status: u16, body: &[u8]) -> RestError {
    if status == 429 {
        return RestError::RateLimited { endpoint };
    }
    let decoded = decode_error_body(status, body);
    RestError::Api {
        endpoint,
        status,
        code: decoded.error.code.unwrap_or_default(),
        // An unrecognised body (a proxy's HTML page, nothing at all) is kept as the message.
        message: decoded.error.message.or(decoded.raw).unwrap_or_default(),
        details: decoded.error.details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, body: &[u8]) -> (String, String, Option<String>) {
        match error_from_status("create_order", status, body) {
            RestError::Api {
                code,
                message,
                details,
                ..
            } => (code, message, details),
            other => panic!("expected Api, got {other:?}"),
        }
    }

    #[test]
    fn wrapped_envelope_is_read_and_extra_members_ignored() {
        let body = br#"{"error":{"code":"order_already_exists","message":"order already exists","service":"exchange"}}"#;
        assert_eq!(
            api(409, body),
            (
                "order_already_exists".into(),
                "order already exists".into(),
                None
            )
        );
    }

    #[test]
    fn bare_envelope_with_details_is_read() {
        let body = br#"{"code":"invalid order","message":"bad","details":"post only cross"}"#;
        assert_eq!(
            api(400, body),
            (
                "invalid order".into(),
                "bad".into(),
                Some("post only cross".into())
            )
        );
    }

    #[test]
    fn string_error_and_garbage_are_kept_as_messages() {
        assert_eq!(
            api(403, br#"{"error":"forbidden"}"#).1,
            "forbidden".to_string()
        );
        let (code, message, _) = api(502, b"<html>502 Bad Gateway</html>");
        assert_eq!(code, "");
        assert_eq!(message, "<html>502 Bad Gateway</html>");
        assert_eq!(api(500, b"").1, "");
    }

    #[test]
    fn status_429_is_rate_limited_whatever_the_body() {
        assert_eq!(
            error_from_status("create_order", 429, br#"{"error":"too many requests"}"#),
            RestError::RateLimited {
                endpoint: "create_order"
            }
        );
        let error = error_from_status(
            "cancel_order",
            404,
            br#"{"error":{"code":"not_found","message":"order not found"}}"#,
        );
        assert_eq!(error.code(), Some("not_found"));
        assert_eq!(error.status(), Some(404));
        assert!(error.to_string().contains("order not found"));
    }
}
