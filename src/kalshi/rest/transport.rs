//! One REST call end to end: budget, signature, send, timeout, retry policy, latency.
//!
//! The retry rule is the heart of this file: reads and cancels may be sent again after a lost
//! answer, with exponential backoff; a create or amend whose answer was lost is never sent
//! again (a second copy could fill twice) and comes back as [`RestError::Unknown`] for the
//! caller to resolve by `client_order_id`.

use super::endpoint::{Endpoint, Lane};
use super::error::{RestError, error_from_status};
use super::{RestClient, RestConfig};
use crate::kalshi::auth::Signer;
use crate::kalshi::ratelimit::RateLimiter;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// One request to make: endpoint, filled-in path, query, body and what identifies it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub endpoint: Endpoint,
    /// Path parameters, in template order.
    pub params: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Batch items the cost is multiplied by (1 for single requests).
    pub items: u32,
    /// Whether a lost answer may be followed by a second copy.
    pub may_resend: bool,
    /// The caller already took the budget (batches of new orders size themselves by it).
    pub prepaid: bool,
    /// Hand a 5xx answer back as is, without retrying (exchange status sends its body with
    /// 503/504 during maintenance).
    pub keep_server_error_body: bool,
    pub client_order_id: Option<String>,
    pub order_id: Option<String>,
    /// An immediate-or-cancel reduce-only order (the engine's flatten permit): it can only
    /// shrink a position and never rests, so a closed write gate lets it through.
    pub passes_closed_gate: bool,
}

impl Call {
    pub fn new(endpoint: Endpoint) -> Call {
        Call {
            endpoint,
            params: Vec::new(),
            query: Vec::new(),
            body: None,
            items: 1,
            may_resend: endpoint.lane().may_resend(),
            prepaid: false,
            keep_server_error_body: false,
            client_order_id: None,
            order_id: None,
            passes_closed_gate: false,
        }
    }

    pub fn param(mut self, value: &str) -> Call {
        self.params.push(value.to_string());
        self
    }

    pub fn query_pair(mut self, key: &str, value: impl ToString) -> Call {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// Add every member of a serializable struct as query pairs: `None` members are skipped,
    /// arrays become repeated keys (`tickers=A&tickers=B`).
    pub fn query<Q: serde::Serialize>(mut self, params: &Q) -> Result<Call, RestError> {
        let value = serde_json::to_value(params).map_err(|error| {
            RestError::InvalidRequest(format!("{} query: {error}", self.endpoint.name()))
        })?;
        let serde_json::Value::Object(members) = value else {
            return Err(RestError::InvalidRequest(format!(
                "{} query is not a struct",
                self.endpoint.name()
            )));
        };
        for (key, member) in members {
            match member {
                serde_json::Value::Null => {}
                serde_json::Value::Array(values) => {
                    for value in values {
                        self.query.push((key.clone(), query_text(value)));
                    }
                }
                other => self.query.push((key, query_text(other))),
            }
        }
        Ok(self)
    }

    pub fn json<B: serde::Serialize>(mut self, body: &B) -> Result<Call, RestError> {
        let bytes = serde_json::to_vec(body).map_err(|error| {
            RestError::InvalidRequest(format!("{} body: {error}", self.endpoint.name()))
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    pub fn items(mut self, items: u32) -> Call {
        self.items = items.max(1);
        self
    }

    pub fn client_order_id(mut self, client_order_id: Option<String>) -> Call {
        self.client_order_id = client_order_id;
        self
    }

    pub fn order_id(mut self, order_id: &str) -> Call {
        self.order_id = Some(order_id.to_string());
        self
    }

    pub fn passes_closed_gate(mut self) -> Call {
        self.passes_closed_gate = true;
        self
    }

    pub fn never_resend(mut self) -> Call {
        self.may_resend = false;
        self
    }

    pub fn prepaid(mut self) -> Call {
        self.prepaid = true;
        self
    }

    pub fn keep_server_error_body(mut self) -> Call {
        self.keep_server_error_body = true;
        self
    }

    fn unknown(&self, cause: String) -> RestError {
        tracing::warn!(
            endpoint = self.endpoint.name(),
            client_order_id = ?self.client_order_id,
            order_id = ?self.order_id,
            %cause,
            "write outcome unknown; it will not be re-sent"
        );
        RestError::Unknown {
            endpoint: self.endpoint.name(),
            client_order_id: self.client_order_id.clone(),
            order_id: self.order_id.clone(),
            cause,
        }
    }
}

fn query_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    }
}

/// An HTTP answer: a success status (or a 5xx the call asked to keep).
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What one attempt produced.
enum Attempt {
    Answered {
        status: u16,
        body: Vec<u8>,
    },
    /// The connection was never made, so the request was not sent.
    NotSent(String),
    /// Sent (or possibly sent) and no full answer came back.
    Lost {
        cause: String,
        timed_out: bool,
    },
}

/// Everything one client owns; shared by its clones.
pub(crate) struct Shared {
    pub http: reqwest::Client,
    pub base: url::Url,
    pub signer: Option<Signer>,
    pub limiter: Arc<RateLimiter>,
    pub config: RestConfig,
    pub stats: super::stats::LatencyStats,
    pub gate: std::sync::OnceLock<Arc<dyn super::WriteGate>>,
}

impl RestClient {
    /// Run a call and decode its success body as `T`. A create or amend whose success body
    /// cannot be read is `Unknown`: it happened, but we do not know how.
    pub(crate) async fn call_json<T: DeserializeOwned>(&self, call: Call) -> Result<T, RestError> {
        let answer = self.execute(&call).await?;
        decode_answer(&call, &answer.body)
    }

    /// Run a call whose answer has no body we need (204, `{}`).
    pub(crate) async fn call_empty(&self, call: Call) -> Result<(), RestError> {
        self.execute(&call).await.map(|_| ())
    }

    pub(crate) async fn execute(&self, call: &Call) -> Result<Answer, RestError> {
        let shared = &self.shared;
        let url = self.url_for(call)?;
        let mut attempt_number = 0u32;
        loop {
            attempt_number += 1;
            self.take_budget(call, attempt_number).await?;
            // Started before the gate is asked: a kill raising its flag after this sees the
            // write in flight, one raised before it closes the gate.
            let _gated = match (call.endpoint.lane(), shared.gate.get()) {
                (Lane::Order, Some(gate)) => {
                    gate.write_started();
                    let write = super::gate::GateWrite(gate.as_ref());
                    if !gate.is_open() && !call.passes_closed_gate {
                        return Err(RestError::NotSent {
                            endpoint: call.endpoint.name(),
                            reason: "trading is halted".to_string(),
                        });
                    }
                    Some(write)
                }
                _ => None,
            };
            let outcome = self.attempt(call, &url).await;
            let retry_error = match outcome {
                Attempt::Answered { status, body } if (200..300).contains(&status) => {
                    return Ok(Answer { status, body });
                }
                Attempt::Answered { status: 429, body } => {
                    shared.limiter.note_rejected(call.endpoint.bucket());
                    // A 429 means the exchange did nothing, so even a create is safe to
                    // resend; but a new order that has to wait is stale, so only reads and
                    // cancels try again.
                    let error = error_from_status(call.endpoint.name(), 429, &body);
                    if call.endpoint.lane() == Lane::Order || call.endpoint.lane() == Lane::Write {
                        return Err(error);
                    }
                    error
                }
                Attempt::Answered { status, body }
                    if status >= 500 && call.keep_server_error_body =>
                {
                    return Ok(Answer { status, body });
                }
                Attempt::Answered { status, body } if status >= 500 => {
                    if !call.may_resend {
                        return Err(call.unknown(format!("HTTP {status} after send")));
                    }
                    error_from_status(call.endpoint.name(), status, &body)
                }
                Attempt::Answered { status, body } => {
                    return Err(error_from_status(call.endpoint.name(), status, &body));
                }
                Attempt::NotSent(message) => {
                    let error = RestError::Transport {
                        endpoint: call.endpoint.name(),
                        message,
                    };
                    if !call.may_resend {
                        return Err(error);
                    }
                    error
                }
                Attempt::Lost { cause, timed_out } => {
                    if !call.may_resend {
                        return Err(call.unknown(cause));
                    }
                    if timed_out {
                        RestError::Timeout {
                            endpoint: call.endpoint.name(),
                        }
                    } else {
                        RestError::Transport {
                            endpoint: call.endpoint.name(),
                            message: cause,
                        }
                    }
                }
            };
            if attempt_number >= shared.config.max_attempts.max(1) {
                return Err(retry_error);
            }
            tracing::debug!(
                endpoint = call.endpoint.name(),
                attempt = attempt_number,
                error = %retry_error,
                "retrying"
            );
            shared.stats.record_retry();
            tokio::time::sleep(backoff(&shared.config, attempt_number)).await;
        }
    }

    async fn take_budget(&self, call: &Call, attempt_number: u32) -> Result<(), RestError> {
        let limiter = &self.shared.limiter;
        let route = call.endpoint.route();
        match call.endpoint.lane() {
            _ if call.prepaid && attempt_number == 1 => Ok(()),
            Lane::Read | Lane::Write => Ok(limiter.acquire(route, call.items).await?),
            Lane::Cancel => Ok(limiter.acquire_cancel(route, call.items).await?),
            Lane::Order => Ok(limiter.try_acquire_now(route, call.items)?),
        }
    }

    fn url_for(&self, call: &Call) -> Result<url::Url, RestError> {
        let mut url = self.shared.base.clone();
        {
            let mut segments = url.path_segments_mut().map_err(|()| {
                RestError::InvalidRequest(format!(
                    "base URL {} cannot take a path",
                    self.shared.base
                ))
            })?;
            segments.pop_if_empty();
            let mut params = call.params.iter();
            for segment in call
                .endpoint
                .template()
                .split('/')
                .filter(|s| !s.is_empty())
            {
                if segment.starts_with('{') {
                    let value = params.next().ok_or_else(|| {
                        RestError::InvalidRequest(format!(
                            "{}: missing path parameter {segment}",
                            call.endpoint.name()
                        ))
                    })?;
                    if value.is_empty() {
                        return Err(RestError::InvalidRequest(format!(
                            "{}: empty path parameter {segment}",
                            call.endpoint.name()
                        )));
                    }
                    segments.push(value);
                } else {
                    segments.push(segment);
                }
            }
        }
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query.iter());
        }
        Ok(url)
    }

    async fn attempt(&self, call: &Call, url: &url::Url) -> Attempt {
        let shared = &self.shared;
        let method = match reqwest::Method::from_bytes(call.endpoint.method().as_bytes()) {
            Ok(method) => method,
            Err(_) => return Attempt::NotSent(format!("bad method {}", call.endpoint.method())),
        };
        let mut request = shared
            .http
            .request(method, url.clone())
            .timeout(shared.config.request_timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(signer) = &shared.signer {
            let headers = signer.sign(
                crate::runtime::clock::wall_ms(),
                call.endpoint.method(),
                url.path(),
            );
            for (name, value) in headers.pairs() {
                request = request.header(name, value);
            }
        }
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let started_ns = crate::runtime::clock::mono_ns();
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                shared.stats.record_failure(call.endpoint);
                return classify_send_error(&error);
            }
        };
        let status = response.status().as_u16();
        match response.bytes().await {
            Ok(body) => {
                let elapsed_us =
                    crate::runtime::clock::mono_ns().saturating_sub(started_ns) / 1_000;
                shared.stats.record(call.endpoint, elapsed_us);
                Attempt::Answered {
                    status,
                    body: body.to_vec(),
                }
            }
            Err(error) => {
                shared.stats.record_failure(call.endpoint);
                Attempt::Lost {
                    cause: format!("HTTP {status}, body lost: {}", describe(&error)),
                    timed_out: error.is_timeout(),
                }
            }
        }
    }
}

fn classify_send_error(error: &reqwest::Error) -> Attempt {
    // A connect error (refused, DNS, TLS handshake, connect timeout) means no byte of the
    // request reached the server.
    if error.is_connect() {
        return Attempt::NotSent(describe(error));
    }
    Attempt::Lost {
        cause: describe(error),
        timed_out: error.is_timeout(),
    }
}

/// The error and its causes on one line, without the URL (it may carry a query).
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn backoff(config: &RestConfig, attempt_number: u32) -> Duration {
    let factor = 1u32 << attempt_number.saturating_sub(1).min(16);
    config
        .backoff_initial
        .saturating_mul(factor)
        .min(config.backoff_max)
}

pub(crate) fn decode_answer<T: DeserializeOwned>(call: &Call, body: &[u8]) -> Result<T, RestError> {
    // 204 and empty bodies decode as JSON null, so `()`/Option targets still work.
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"null".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|error| {
        if call.endpoint.lane() == Lane::Order || call.endpoint.lane() == Lane::Write {
            call.unknown(format!("answer unreadable: {error}"))
        } else {
            RestError::Decode {
                what: format!("{} response", call.endpoint.name()),
                error: error.to_string(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_built_under_the_base_with_parameters_encoded() {
        let client =
            RestClient::new(RestConfig::new("http://127.0.0.1:9/trade-api/v2/"), None).unwrap();
        let call = Call::new(Endpoint::QueuePosition).param("a b/c?d");
        let url = client.url_for(&call).unwrap();
        assert_eq!(
            url.path(),
            "/trade-api/v2/portfolio/orders/a%20b%2Fc%3Fd/queue_position"
        );
        assert_eq!(url.query(), None);
        let call = Call::new(Endpoint::Orderbooks)
            .query_pair("tickers", "A")
            .query_pair("tickers", "B&C");
        let url = client.url_for(&call).unwrap();
        assert_eq!(url.path(), "/trade-api/v2/markets/orderbooks");
        assert_eq!(url.query(), Some("tickers=A&tickers=B%26C"));
        assert!(matches!(
            client.url_for(&Call::new(Endpoint::Market)),
            Err(RestError::InvalidRequest(_))
        ));
        assert!(matches!(
            client.url_for(&Call::new(Endpoint::Market).param("")),
            Err(RestError::InvalidRequest(_))
        ));
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for base in [
            "ftp://host/trade-api/v2",
            "not a url",
            "http://h/trade-api/v2?x=1",
        ] {
            assert!(
                matches!(
                    RestClient::new(RestConfig::new(base), None),
                    Err(RestError::InvalidRequest(_))
                ),
                "{base}"
            );
        }
        assert_eq!(
            super::super::Environment::Sim("127.0.0.1:4000".parse().unwrap()).base_url(),
            "http://127.0.0.1:4000/trade-api/v2"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let config = RestConfig {
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_millis(300),
            ..RestConfig::new("http://127.0.0.1:1/trade-api/v2")
        };
        let waits: Vec<_> = (1..=5).map(|n| backoff(&config, n).as_millis()).collect();
        assert_eq!(waits, vec![50, 100, 200, 300, 300]);
    }

    #[derive(serde::Serialize)]
    struct Params {
        limit: Option<u32>,
        cursor: Option<String>,
        tickers: Vec<String>,
        with_nested_markets: Option<bool>,
    }

    #[test]
    fn query_from_struct_skips_none_and_repeats_arrays() {
        let call = Call::new(Endpoint::Orderbooks)
            .query(&Params {
                limit: Some(5),
                cursor: None,
                tickers: vec!["A".into(), "B".into()],
                with_nested_markets: Some(true),
            })
            .unwrap();
        assert_eq!(
            call.query,
            vec![
                ("limit".to_string(), "5".to_string()),
                ("tickers".into(), "A".into()),
                ("tickers".into(), "B".into()),
                ("with_nested_markets".into(), "true".into()),
            ]
        );
    }

    #[test]
    fn unreadable_answers_are_unknown_for_orders_and_decode_errors_for_reads() {
        let create = Call::new(Endpoint::CreateOrder).client_order_id(Some("c-1".into()));
        let error = decode_answer::<serde_json::Map<String, serde_json::Value>>(&create, b"<html>")
            .unwrap_err();
        assert!(matches!(
            error,
            RestError::Unknown { client_order_id: Some(ref id), .. } if id == "c-1"
        ));
        let read = Call::new(Endpoint::Markets);
        assert!(matches!(
            decode_answer::<serde_json::Map<String, serde_json::Value>>(&read, b"[1]"),
            Err(RestError::Decode { .. })
        ));
        decode_answer::<()>(&Call::new(Endpoint::CancelAllOrders), b"").unwrap();
    }
}
