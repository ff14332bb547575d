//! REST error bodies and the module's error type.
//!
//! Kalshi's spec shows a bare `ErrorResponse {code, message, details?}`; clients observe it
//! wrapped as `{"error": {...}}` (sometimes with a deprecated `service`), and 429s answer
//! `{"error": "too many requests"}`. Which one a given endpoint sends is UNCONFIRMED, so
//! [`decode_error_body`] accepts all of them and keeps unknown shapes as (truncated) text.

use serde::{Deserialize, Serialize};

/// `ErrorResponse`: every member is optional in the spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Deprecated Jul 2026, removed Aug 2026; branch on `code` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl ErrorResponse {
    pub fn new(code: &str, message: &str) -> ErrorResponse {
        ErrorResponse {
            code: Some(code.to_string()),
            message: Some(message.to_string()),
            details: None,
            service: None,
        }
    }

    pub fn with_details(mut self, details: &str) -> ErrorResponse {
        self.details = Some(details.to_string());
        self
    }
}

/// The wrapped form `{"error": ErrorResponse}` the simulator sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedErrorResponse {
    pub error: ErrorResponse,
}

/// The shape an error body arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"error": {"code", "message", ...}}`.
    Wrapped,
    /// `{"code", "message", ...}`.
    Bare,
    /// `{"error": "too many requests"}`.
    Text,
    /// Empty, not JSON, or JSON of another shape: see [`ApiErrorBody::raw`].
    Unrecognized,
}

/// Longest raw text kept from an unrecognized body.
pub const RAW_ERROR_KEEP: usize = 512;

/// A decoded HTTP error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErrorBody {
    pub status: u16,
    pub shape: ErrorShape,
    pub error: ErrorResponse,
    /// The body text (lossy UTF-8, at most [`RAW_ERROR_KEEP`] bytes) when the shape was not
    /// recognised.
    pub raw: Option<String>,
}

impl ApiErrorBody {
    pub fn code(&self) -> Option<&str> {
        self.error.code.as_deref()
    }

    pub fn message(&self) -> Option<&str> {
        self.error.message.as_deref()
    }

    pub fn details(&self) -> Option<&str> {
        self.error.details.as_deref()
    }

    pub fn is_rate_limited(&self) -> bool {
        self.status == 429
    }

    /// The wrapped JSON form `{"error":{...}}` of this error (what the simulator sends).
    pub fn to_wrapped_json(&self) -> String {
        let body = WrappedErrorResponse {
            error: self.error.clone(),
        };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

impl std::fmt::Display for ApiErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.error.code {
            write!(f, " {code}")?;
        }
        if let Some(message) = &self.error.message {
            write!(f, ": {message}")?;
        }
        if let Some(details) = &self.error.details {
            write!(f, " ({details})")?;
        }
        if let Some(raw) = &self.raw {
            write!(f, ": {raw:?}")?;
        }
        Ok(())
    }
}

/// Decode an error body of any plausible shape. Never fails.
pub fn decode_error_body(status: u16, body: &[u8]) -> ApiErrorBody {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Envelope {
        Wrapped { error: ErrorResponse },
        Text { error: String },
        Bare(ErrorResponse),
    }
    let parsed = serde_json::from_slice::<Envelope>(body).ok();
    let (shape, error) = match parsed {
        Some(Envelope::Wrapped { error }) if error.code.is_some() || error.message.is_some() => {
            (ErrorShape::Wrapped, error)
        }
        Some(Envelope::Text { error }) => (
            ErrorShape::Text,
            ErrorResponse {
                message: Some(error),
                ..ErrorResponse::default()
            },
        ),
        Some(Envelope::Bare(error)) if error.code.is_some() || error.message.is_some() => {
            (ErrorShape::Bare, error)
        }
        _ => (ErrorShape::Unrecognized, ErrorResponse::default()),
    };
    let raw = (shape == ErrorShape::Unrecognized).then(|| truncated_text(body));
    ApiErrorBody {
        status,
        shape,
        error,
        raw,
    }
}

fn truncated_text(body: &[u8]) -> String {
    let mut end = body.len().min(RAW_ERROR_KEEP);
    // Cut on a character boundary so the kept text is the sender's, not replacement chars.
    while end > 0 && end < body.len() && std::str::from_utf8(&body[..end]).is_err() {
        end -= 1;
    }
    String::from_utf8_lossy(&body[..end]).into_owned()
}

/// `{"error":{"code":…,"message":…}}`, the body the simulator sends with 4xx/5xx.
pub fn wrapped_error_json(code: &str, message: &str) -> String {
    let body = WrappedErrorResponse {
        error: ErrorResponse::new(code, message),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// The exact 429 body Kalshi documents.
pub const TOO_MANY_REQUESTS_BODY: &str = r#"{"error":"too many requests"}"#;

/// Why a frame, command or body could not be decoded. Messages name the field or type.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("frame has no \"type\"")]
    MissingType,
    #[error("bad {type_name:?} frame: {source}")]
    BadFrame {
        type_name: String,
        #[source]
        source: serde_json::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_shape_decodes() {
        let w = decode_error_body(
            409,
            br#"{"error":{"code":"order_already_exists","message":"order already exists","service":"exchange"}}"#,
        );
        assert_eq!(w.shape, ErrorShape::Wrapped);
        assert_eq!(w.code(), Some("order_already_exists"));
        assert_eq!(w.error.service.as_deref(), Some("exchange"));

        let b = decode_error_body(
            400,
            br#"{"code":"invalid order","message":"bad","details":"post only cross"}"#,
        );
        assert_eq!(b.shape, ErrorShape::Bare);
        assert_eq!(b.details(), Some("post only cross"));

        let t = decode_error_body(429, TOO_MANY_REQUESTS_BODY.as_bytes());
        assert_eq!(t.shape, ErrorShape::Text);
        assert_eq!(t.message(), Some("too many requests"));
        assert!(t.is_rate_limited());

        let html = "<html>502 Bad Gateway</html>".repeat(100);
        let u = decode_error_body(502, html.as_bytes());
        assert_eq!(u.shape, ErrorShape::Unrecognized);
        assert_eq!(u.raw.as_ref().unwrap().len(), RAW_ERROR_KEEP);

        for odd in [
            &b""[..],
            b"{}",
            b"[]",
            b"null",
            br#"{"error":{}}"#,
            br#"{"error":5}"#,
        ] {
            let e = decode_error_body(500, odd);
            assert_eq!(e.shape, ErrorShape::Unrecognized, "{odd:?}");
        }
        // Multi-byte text is cut on a character boundary.
        let long = "é".repeat(RAW_ERROR_KEEP);
        let u = decode_error_body(500, long.as_bytes());
        assert!(u.raw.as_ref().unwrap().chars().all(|c| c == 'é'));
    }

    #[test]
    fn wrapped_form_round_trips() {
        let text = wrapped_error_json("market_closed", "market is closed");
        assert_eq!(
            text,
            r#"{"error":{"code":"market_closed","message":"market is closed"}}"#
        );
        let back = decode_error_body(409, text.as_bytes());
        assert_eq!(back.shape, ErrorShape::Wrapped);
        assert_eq!(back.code(), Some("market_closed"));
        assert!(back.to_string().contains("market_closed"));
    }
}
