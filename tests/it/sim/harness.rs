//! Driving the simulator from outside: signed reqwest calls and a tokio-tungstenite socket,
//! with every REST body and WS frame checked against Kalshi's schemas as it arrives.

use crate::schema::{validate_rest_response, validate_rest_schema, validate_ws_message};
use futures_util::{SinkExt as _, StreamExt as _};
use kalshi_desk::kalshi::auth::{KeyKind, Signer, generate_key_pair};
use kalshi_desk::runtime::clock::wall_ms;
use kalshi_desk::sim::server::{SimConfig, SimHandle, SimServer};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

pub const REST_PREFIX: &str = "/trade-api/v2";
/// How long a test waits for anything before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct Sim {
    pub handle: SimHandle,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A member with a key the simulator accepts.
pub struct User {
    pub signer: Signer,
    pub user_id: String,
}

/// Levels of a REST book side: (price, count) strings.
pub type Levels = Vec<(String, String)>;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// Start a quiet simulator (no synthetic traders, no rate limits unless `configure` sets them).
pub async fn start(configure: impl FnOnce(&mut SimConfig)) -> Sim {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = SimConfig {
        key_dir: dir.path().join("keys"),
        flow: false,
        rate_limits: None,
        ..SimConfig::default()
    };
    configure(&mut config);
    let handle = SimServer::start(config).await.expect("simulator starts");
    Sim {
        handle,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

/// Check a REST answer against the spec: the documented schema for its status, or, for a
/// status the spec does not document for that operation (or an operation newer than the 3.27
/// file, like cancel-all), Kalshi's error shapes.
pub fn check_rest(method: &str, path: &str, status: u16, body: &Value) {
    if status == 204 {
        assert_eq!(body, &Value::Null, "204 carries no body");
        return;
    }
    match validate_rest_response(method, path, status, body) {
        Ok(()) => {}
        Err(e) if e.contains("does not document status") || e.starts_with("no operation") => {
            check_error_shape(status, body);
        }
        Err(e) => panic!("{method} {path} {status}: schema violation: {e}\nbody: {body}"),
    }
    // The exchange status endpoint answers its 5xx with an ExchangeStatus body (checked above).
    if status >= 400 && !path.starts_with("/exchange/status") {
        check_error_shape(status, body);
    }
}

/// A 429 is `{"error":"too many requests"}`; any other error is an `ErrorResponse`, wrapped or
/// bare, with a code and a message.
pub fn check_error_shape(status: u16, body: &Value) {
    if status == 429 {
        assert_eq!(body, &json!({"error": "too many requests"}));
        return;
    }
    assert!(
        status >= 400,
        "status {status} with body {body} is not an error"
    );
    let inner = body.get("error").unwrap_or(body);
    validate_rest_schema("ErrorResponse", inner).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(
        inner["code"].is_string() && inner["message"].is_string(),
        "error without code/message: {body}"
    );
}

/// The error `code` of an error body in either envelope.
pub fn error_code(body: &Value) -> &str {
    body.get("error").unwrap_or(body)["code"]
        .as_str()
        .unwrap_or_default()
}

impl Sim {
    /// The simulator's own provisioned key.
    pub fn main_user(&self) -> User {
        User {
            signer: Signer::from_key_file(&self.handle.key_id, &self.handle.key_file, false)
                .expect("provisioned key loads"),
            user_id: self.handle.user_id.clone(),
        }
    }

    /// A second member with a fresh key of `kind`, registered at runtime.
    pub fn new_user(&self, kind: KeyKind) -> User {
        let pair = generate_key_pair(kind).expect("key pair");
        let key_id = uuid::Uuid::new_v4().to_string();
        let user_id = uuid::Uuid::new_v4().to_string();
        self.handle
            .register_key(&key_id, &user_id, &pair.public_pem)
            .expect("register key");
        User {
            signer: Signer::from_pem(key_id, &pair.private_pem, "test key").expect("signer"),
            user_id,
        }
    }

    /// Send a request (signed when `user` is given) and check the answer against the spec.
    /// `path` is under the REST prefix and may carry a query.
    pub async fn call(
        &self,
        user: Option<&User>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let reply = self
            .send_raw(user, method.clone(), path, body, |_| {})
            .await
            .expect("request answered");
        check_rest(method.as_str(), path, reply.status, &reply.body);
        reply
    }

    /// Send without checking; `tweak` may change the headers (tests of auth failures).
    pub async fn send_raw(
        &self,
        user: Option<&User>,
        method: Method,
        path: &str,
        body: Option<&Value>,
        tweak: impl FnOnce(&mut reqwest::header::HeaderMap),
    ) -> Result<Reply, reqwest::Error> {
        let url = format!("{}{}", self.handle.rest_base_url, path);
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(user) = user {
            let signed =
                user.signer
                    .sign(wall_ms(), method.as_str(), &format!("{REST_PREFIX}{path}"));
            for (name, value) in signed.pairs() {
                headers.insert(name, value.parse().expect("header value"));
            }
        }
        tweak(&mut headers);
        let mut request = self.http.request(method, url).headers(headers);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("non-JSON body ({e}): {bytes:?}"))
        };
        Ok(Reply { status, body })
    }

    pub async fn get(&self, user: &User, path: &str) -> Reply {
        self.call(Some(user), Method::GET, path, None).await
    }

    pub async fn post(&self, user: &User, path: &str, body: Value) -> Reply {
        self.call(Some(user), Method::POST, path, Some(&body)).await
    }

    pub async fn delete(&self, user: &User, path: &str, body: Option<Value>) -> Reply {
        self.call(Some(user), Method::DELETE, path, body.as_ref())
            .await
    }

    pub async fn put(&self, user: &User, path: &str) -> Reply {
        self.call(Some(user), Method::PUT, path, None).await
    }

    /// An open market of `series` on a whole-cent grid that stays open for hours.
    pub async fn open_market(&self, user: &User, series: &str) -> String {
        let reply = self
            .get(
                user,
                &format!("/markets?series_ticker={series}&status=open"),
            )
            .await;
        reply.body["markets"]
            .as_array()
            .expect("markets")
            .iter()
            .find(|m| m["price_level_structure"] == "linear_cent")
            .and_then(|m| m["ticker"].as_str())
            .unwrap_or_else(|| panic!("no open linear_cent market in {series}: {}", reply.body))
            .to_string()
    }

    /// Place a GTC order; returns the create reply.
    pub async fn order(
        &self,
        user: &User,
        ticker: &str,
        side: &str,
        price: &str,
        count: &str,
    ) -> Reply {
        self.post(
            user,
            "/portfolio/events/orders",
            json!({
                "ticker": ticker, "side": side, "price": price, "count": count,
                "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "taker_at_cross",
            }),
        )
        .await
    }

    /// The REST book of `ticker` as (yes levels, no levels).
    pub async fn book(
        &self,
        user: &User,
        ticker: &str,
    ) -> (Vec<(String, String)>, Vec<(String, String)>) {
        let reply = self
            .get(user, &format!("/markets/{ticker}/orderbook"))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let side = |name: &str| -> Vec<(String, String)> {
            reply.body["orderbook_fp"][name]
                .as_array()
                .expect("levels")
                .iter()
                .map(|l| {
                    (
                        l[0].as_str().unwrap().to_string(),
                        l[1].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        (side("yes_dollars"), side("no_dollars"))
    }

    pub async fn ws(&self, user: &User) -> Ws {
        let mut request = self
            .handle
            .ws_url
            .as_str()
            .into_client_request()
            .expect("ws request");
        let signed = user.signer.sign(wall_ms(), "GET", "/trade-api/ws/v2");
        for (name, value) in signed.pairs() {
            request
                .headers_mut()
                .insert(name, value.parse().expect("header"));
        }
        let (stream, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("ws connects");
        Ws { stream, next_id: 1 }
    }
}

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Ws {
    pub stream: Stream,
    next_id: u64,
}

/// What the socket yielded.
#[derive(Debug)]
#[allow(dead_code)] // the payloads are read through Debug when a test fails
pub enum Event {
    Frame(Value),
    Ping(Vec<u8>),
    Closed,
    Error(String),
}

impl Ws {
    /// Send a command with the next id; returns the id.
    pub async fn command(&mut self, cmd: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let command = if params.is_null() {
            json!({ "id": id, "cmd": cmd })
        } else {
            json!({ "id": id, "cmd": cmd, "params": params })
        };
        validate_ws_message(cmd, &command)
            .unwrap_or_else(|e| panic!("our command is off-spec: {e}"));
        self.send_text(&command.to_string()).await;
        id
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("ws send");
    }

    /// The next event; JSON frames are checked against the AsyncAPI message of their `type`.
    pub async fn event(&mut self) -> Event {
        let next = tokio::time::timeout(PATIENCE, self.stream.next()).await;
        match next {
            Err(_) => panic!("no WS event within {PATIENCE:?}"),
            Ok(None) => Event::Closed,
            Ok(Some(Err(e))) => Event::Error(e.to_string()),
            Ok(Some(Ok(Message::Text(text)))) => {
                let frame: Value = serde_json::from_str(text.as_str()).expect("JSON frame");
                let kind = frame["type"].as_str().expect("frame type").to_string();
                validate_ws_message(&kind, &frame)
                    .unwrap_or_else(|e| panic!("frame off-spec: {e}\n{frame}"));
                Event::Frame(frame)
            }
            Ok(Some(Ok(Message::Ping(payload)))) => Event::Ping(payload.to_vec()),
            Ok(Some(Ok(Message::Close(_)))) => Event::Closed,
            Ok(Some(Ok(other))) => Event::Error(format!("unexpected {other:?}")),
        }
    }

    /// The next JSON frame, skipping pings.
    pub async fn frame(&mut self) -> Value {
        loop {
            match self.event().await {
                Event::Frame(frame) => return frame,
                Event::Ping(_) => continue,
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }

    /// Frames until one satisfies `wanted`; returns it and everything before it.
    pub async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> (Value, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            let frame = self.frame().await;
            if wanted(&frame) {
                return (frame, before);
            }
            before.push(frame);
        }
    }

    /// Subscribe and return the reply's sid (plus any frames that came with it).
    pub async fn subscribe(&mut self, params: Value) -> (u64, Vec<Value>) {
        let id = self.command("subscribe", params).await;
        let (reply, before) = self.until(|f| f["id"] == id).await;
        assert_eq!(reply["type"], "subscribed", "{reply}");
        (reply["msg"]["sid"].as_u64().expect("sid"), before)
    }
}

/// A book kept from WS frames, the way a client keeps it (NO prices on the NO side).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WsBook {
    pub yes: std::collections::BTreeMap<String, i64>,
    pub no: std::collections::BTreeMap<String, i64>,
}

fn centi(count: &str) -> i64 {
    let value = kalshi_desk::core::num::Count::parse_signed(count).expect("count");
    value.centi()
}

fn no_price(price: &str, use_yes_price: bool) -> String {
    if use_yes_price {
        let p = kalshi_desk::core::num::Price::parse(price).expect("price");
        p.complement().to_dollars()
    } else {
        kalshi_desk::core::num::Price::parse(price)
            .expect("price")
            .to_dollars()
    }
}

impl WsBook {
    pub fn from_snapshot(msg: &Value, use_yes_price: bool) -> WsBook {
        let mut book = WsBook::default();
        for (key, side) in [
            ("yes_dollars_fp", &mut book.yes),
            ("no_dollars_fp", &mut book.no),
        ] {
            if let Some(levels) = msg.get(key).and_then(Value::as_array) {
                for level in levels {
                    let price = level[0].as_str().unwrap();
                    let price = if key == "no_dollars_fp" {
                        no_price(price, use_yes_price)
                    } else {
                        kalshi_desk::core::num::Price::parse(price)
                            .unwrap()
                            .to_dollars()
                    };
                    side.insert(price, centi(level[1].as_str().unwrap()));
                }
            }
        }
        book
    }

    pub fn apply(&mut self, msg: &Value, use_yes_price: bool) {
        let price = msg["price_dollars"].as_str().unwrap();
        let (side, price) = if msg["side"] == "yes" {
            (
                &mut self.yes,
                kalshi_desk::core::num::Price::parse(price)
                    .unwrap()
                    .to_dollars(),
            )
        } else {
            (&mut self.no, no_price(price, use_yes_price))
        };
        let level = side.entry(price.clone()).or_insert(0);
        *level += centi(msg["delta_fp"].as_str().unwrap());
        assert!(*level >= 0, "level {price} went negative");
        if *level == 0 {
            side.remove(&price);
        }
    }

    /// The same book from REST levels.
    pub fn from_rest(levels: &(Levels, Levels)) -> WsBook {
        let mut book = WsBook::default();
        for (price, count) in &levels.0 {
            book.yes.insert(price.clone(), centi(count));
        }
        for (price, count) in &levels.1 {
            book.no.insert(price.clone(), centi(count));
        }
        book
    }
}
