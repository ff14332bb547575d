//! The REST client against small loopback servers: an axum server that checks every
//! signature and answers from a per-test script, and a raw TCP server that reads a request
//! and drops the connection. Rate limiting runs on virtual time (ManualClock).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::{Count, Price};
use kalshi_desk::kalshi::auth::{
    HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, Signer, VerifyingKey,
};
use kalshi_desk::kalshi::ratelimit::{
    BucketKind, BucketLimit, Clock, CostTable, LimiterConfig, ManualClock, RateLimiter, Route,
};
use kalshi_desk::kalshi::rest::{Endpoint, RestClient, RestConfig, RestError, sim_base_url};
use kalshi_desk::kalshi::wire::{
    AmendOrderV2Request, BatchCancelOrderV2, BookSide, CancelOrderV2Params, CreateOrderV2Request,
    DecreaseOrderV2Request, GetBalanceParams, GetTradesParams,
};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const KEY_ID: &str = "3f6c1c5e-0000-4000-8000-00000000beef";
const API: &str = "/trade-api/v2";
/// Generous guard so a broken client fails the test instead of hanging it.
const GUARD: Duration = Duration::from_secs(20);

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keys")
            .join(name),
    )
    .expect("fixture key present")
}

fn ed25519_signer() -> Signer {
    Signer::from_pem(KEY_ID, &fixture("ed25519-pkcs8.pem"), "ed25519 fixture").unwrap()
}

fn ed25519_public() -> VerifyingKey {
    VerifyingKey::from_public_pem(&fixture("ed25519-public.pem"), "ed25519 fixture").unwrap()
}

/// One request as the test server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    body: String,
}

impl Seen {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == format!("{API}{path}")
    }
}

/// What the script answers.
enum Reply {
    Json(u16, String),
    Text(u16, &'static str),
    Empty(u16),
    /// Never answer (the client must time out).
    Hang,
}

fn ok(body: serde_json::Value) -> Reply {
    Reply::Json(200, body.to_string())
}

/// The script: the request and how many earlier requests had the same method and path.
type Script = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

#[derive(Clone)]
struct ServerState {
    key: Arc<VerifyingKey>,
    script: Script,
    seen: Arc<Mutex<Vec<Seen>>>,
    auth_failures: Arc<AtomicUsize>,
}

struct TestServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    auth_failures: Arc<AtomicUsize>,
}

impl TestServer {
    async fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> TestServer {
        TestServer::start_with_key(ed25519_public(), Arc::new(script)).await
    }

    async fn start_with_key(key: VerifyingKey, script: Script) -> TestServer {
        let state = ServerState {
            key: Arc::new(key),
            script,
            seen: Arc::new(Mutex::new(Vec::new())),
            auth_failures: Arc::new(AtomicUsize::new(0)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = TestServer {
            addr,
            seen: Arc::clone(&state.seen),
            auth_failures: Arc::clone(&state.auth_failures),
        };
        let app = axum::Router::new().fallback(answer).with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        server
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self, method: &str, path: &str) -> usize {
        self.seen().iter().filter(|s| s.is(method, path)).count()
    }
}

/// Check the three headers and the signature over `ts_ms + METHOD + path` (no query), then
/// let the script answer.
async fn answer(
    State(state): State<ServerState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let verdict = (|| {
        let key = header(HEADER_KEY).ok_or("no key header")?;
        if key != KEY_ID {
            return Err("wrong key id");
        }
        let ts_ms: i64 = header(HEADER_TIMESTAMP)
            .ok_or("no timestamp header")?
            .parse()
            .map_err(|_| "timestamp is not an integer")?;
        // Milliseconds, close to now.
        if (ts_ms - kalshi_desk::runtime::clock::wall_ms()).abs() > 60_000 {
            return Err("timestamp is not the current time in ms");
        }
        let signature = header(HEADER_SIGNATURE).ok_or("no signature header")?;
        if !uri.path().starts_with(API) {
            return Err("path lacks the API prefix");
        }
        state
            .key
            .verify(ts_ms, method.as_str(), uri.path(), &signature)
            .map_err(|_| "signature does not verify")
    })();
    if let Err(reason) = verdict {
        state.auth_failures.fetch_add(1, Ordering::SeqCst);
        let body = serde_json::json!({"error": {"code": "unauthorized", "message": reason}});
        return (StatusCode::UNAUTHORIZED, body.to_string()).into_response();
    }
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let nth = {
        let mut log = state.seen.lock().unwrap();
        let nth = log
            .iter()
            .filter(|s| s.method == seen.method && s.path == seen.path)
            .count();
        log.push(seen.clone());
        nth
    };
    match (state.script)(&seen, nth) {
        Reply::Json(status, body) => (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            body,
        )
            .into_response(),
        Reply::Text(status, body) => (StatusCode::from_u16(status).unwrap(), body).into_response(),
        Reply::Empty(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Reply::Hang => {
            std::future::pending::<()>().await;
            StatusCode::OK.into_response()
        }
    }
}

/// A server that reads one whole request per connection, counts it, and hangs up without
/// answering (a reset after send).
async fn start_hang_up_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Ok(read) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    if let Some(end) = find(&request, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, received)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn config(addr: SocketAddr) -> RestConfig {
    RestConfig {
        request_timeout: Duration::from_millis(400),
        max_attempts: 3,
        backoff_initial: Duration::from_millis(1),
        backoff_max: Duration::from_millis(4),
        ..RestConfig::new(sim_base_url(addr))
    }
}

fn limiter_on(clock: &ManualClock, write: BucketLimit, cancel_reserve: u32) -> Arc<RateLimiter> {
    Arc::new(RateLimiter::new(
        Arc::new(clock.clone()),
        LimiterConfig {
            read: BucketLimit::new(200, 400),
            write,
            cancel_reserve,
            costs: CostTable::digest_defaults(),
        },
    ))
}

/// A client on virtual time that jumps forward whenever the limiter waits.
fn client(addr: SocketAddr) -> RestClient {
    let clock = ManualClock::auto_advancing(0);
    let limiter = limiter_on(&clock, BucketLimit::new(1000, 2000), 200);
    RestClient::with_limiter(config(addr), Some(ed25519_signer()), limiter).unwrap()
}

fn order(ticker: &str, client_order_id: &str) -> CreateOrderV2Request {
    let mut order = CreateOrderV2Request::limit(
        Ticker::new(ticker),
        BookSide::Bid,
        Price::parse("0.4200").unwrap(),
        Count::parse("1.00").unwrap(),
    );
    order.client_order_id = Some(client_order_id.to_string());
    order
}

fn created(client_order_id: &str, order_id: &str) -> serde_json::Value {
    serde_json::json!({
        "order_id": order_id,
        "client_order_id": client_order_id,
        "fill_count": "0.00",
        "remaining_count": "1.00",
        "ts_ms": 1_764_000_000_000_i64,
    })
}

fn cancelled(order_id: &str) -> serde_json::Value {
    serde_json::json!({"order_id": order_id, "reduced_by": "1.00", "ts_ms": 1_764_000_000_000_i64})
}

fn trade(id: u32) -> serde_json::Value {
    serde_json::json!({
        "trade_id": format!("t-{id}"),
        "ticker": "KXTEST-1",
        "count_fp": "2.00",
        "yes_price_dollars": "0.4200",
        "no_price_dollars": "0.5800",
        "taker_outcome_side": "yes",
        "taker_book_side": "bid",
        "created_time": "2026-11-25T19:00:00Z",
        "is_block_trade": false,
    })
}

async fn guarded<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, future)
        .await
        .expect("the client answered in time")
}

// ---------------------------------------------------------------- signing

async fn signs_every_kind_of_request(signer: Signer, key: VerifyingKey) {
    let server = TestServer::start_with_key(
        key,
        Arc::new(|seen: &Seen, _| {
            if seen.is("GET", "/markets/trades") {
                ok(serde_json::json!({"trades": [], "cursor": ""}))
            } else if seen.is("POST", "/portfolio/events/orders") {
                Reply::Json(201, created("sig-1", "o-1").to_string())
            } else if seen.is("DELETE", "/portfolio/events/orders/batched") {
                ok(serde_json::json!({"orders": [cancelled("o-1")]}))
            } else if seen.is("DELETE", "/portfolio/events/orders") {
                Reply::Empty(204)
            } else {
                Reply::Text(404, "no route")
            }
        }),
    )
    .await;
    let clock = ManualClock::auto_advancing(0);
    let limiter = limiter_on(&clock, BucketLimit::new(1000, 2000), 200);
    let client = RestClient::with_limiter(config(server.addr), Some(signer), limiter).unwrap();

    let params = GetTradesParams {
        ticker: Some("KXTEST-1".into()),
        limit: Some(5),
        ..GetTradesParams::default()
    };
    guarded(client.trades(&params)).await.unwrap();
    guarded(client.create_order(order("KXTEST-1", "sig-1")))
        .await
        .unwrap();
    let cancels = guarded(client.batch_cancel_orders(vec![BatchCancelOrderV2 {
        order_id: "o-1".into(),
        subaccount: None,
        exchange_index: None,
        market_ticker: None,
    }]))
    .await;
    assert!(cancels[0].is_ok(), "{cancels:?}");
    guarded(client.cancel_all_orders(Some(3))).await.unwrap();

    assert_eq!(server.auth_failures.load(Ordering::SeqCst), 0);
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    // The query was sent (and left out of the signature, or verification would have failed).
    let query = seen[0].query.clone().unwrap_or_default();
    assert!(
        query.contains("ticker=KXTEST-1") && query.contains("limit=5"),
        "{query}"
    );
    assert_eq!(seen[1].json()["client_order_id"], "sig-1");
    assert_eq!(seen[1].json()["price"], "0.4200");
    // The batch cancel's JSON body travelled on the DELETE.
    assert_eq!(seen[2].json()["orders"][0]["order_id"], "o-1");
    assert_eq!(seen[3].query.as_deref(), Some("subaccount=3"));
}

#[tokio::test]
async fn ed25519_signatures_verify_on_every_method() {
    signs_every_kind_of_request(ed25519_signer(), ed25519_public()).await;
}

#[tokio::test]
async fn rsa_pss_signatures_verify_on_every_method() {
    let signer = Signer::from_pem(KEY_ID, &fixture("rsa2048-pkcs1.pem"), "rsa fixture").unwrap();
    let key = VerifyingKey::from_public_pem(&fixture("rsa2048-public.pem"), "rsa fixture").unwrap();
    signs_every_kind_of_request(signer, key).await;
}

#[tokio::test]
async fn a_signature_from_another_key_is_refused_and_not_retried() {
    let server = TestServer::start(|_, _| ok(serde_json::json!({}))).await;
    let other = Signer::from_pem(KEY_ID, &fixture("rsa2048-pkcs8.pem"), "rsa fixture").unwrap();
    let clock = ManualClock::auto_advancing(0);
    let limiter = limiter_on(&clock, BucketLimit::new(1000, 2000), 200);
    let client = RestClient::with_limiter(config(server.addr), Some(other), limiter).unwrap();
    let error = guarded(client.exchange_status()).await.unwrap_err();
    assert!(
        matches!(&error, RestError::Api { status: 401, code, .. } if code == "unauthorized"),
        "{error:?}"
    );
    assert_eq!(server.auth_failures.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------- error envelopes

#[tokio::test]
async fn every_error_envelope_maps_to_a_typed_error() {
    let server = TestServer::start(|seen, _| {
        let client_order_id = seen.json()["client_order_id"].as_str().unwrap_or("").to_string();
        if seen.is("POST", "/portfolio/events/orders") {
            match client_order_id.as_str() {
                "wrapped" => Reply::Json(
                    409,
                    r#"{"error":{"code":"order_already_exists","message":"order already exists","service":"exchange"}}"#.into(),
                ),
                "bare" => Reply::Json(
                    400,
                    r#"{"code":"invalid_order","message":"bad price","details":"post only cross"}"#.into(),
                ),
                _ => Reply::Json(429, r#"{"error":"too many requests"}"#.into()),
            }
        } else if seen.is("GET", "/markets/NOPE") {
            Reply::Text(404, "<html>not here</html>")
        } else if seen.is("GET", "/portfolio/balance") {
            Reply::Json(
                503,
                r#"{"error":{"code":"service_unavailable","message":"maintenance"}}"#.into(),
            )
        } else {
            Reply::Text(500, "unexpected")
        }
    })
    .await;
    let client = client(server.addr);

    let wrapped = guarded(client.create_order(order("KXTEST-1", "wrapped")))
        .await
        .unwrap_err();
    assert_eq!(
        wrapped,
        RestError::Api {
            endpoint: "create_order",
            status: 409,
            code: "order_already_exists".into(),
            message: "order already exists".into(),
            details: None,
        }
    );
    let bare = guarded(client.create_order(order("KXTEST-1", "bare")))
        .await
        .unwrap_err();
    assert_eq!(bare.code(), Some("invalid_order"));
    assert!(
        matches!(&bare, RestError::Api { status: 400, details: Some(d), .. } if d == "post only cross")
    );
    let limited = guarded(client.create_order(order("KXTEST-1", "limited")))
        .await
        .unwrap_err();
    assert_eq!(
        limited,
        RestError::RateLimited {
            endpoint: "create_order"
        }
    );
    // A create is never resent, not even after a 429.
    assert_eq!(server.count("POST", "/portfolio/events/orders"), 3);

    let missing = guarded(client.market("NOPE")).await.unwrap_err();
    assert!(
        matches!(&missing, RestError::Api { status: 404, code, message, .. } if code.is_empty() && message == "<html>not here</html>"),
        "{missing:?}"
    );
    assert_eq!(
        server.count("GET", "/markets/NOPE"),
        1,
        "4xx reads are not retried"
    );

    // A 5xx read is retried up to max_attempts, then reported with the exchange's code.
    let unavailable = guarded(client.balance(&GetBalanceParams::default()))
        .await
        .unwrap_err();
    assert_eq!(unavailable.code(), Some("service_unavailable"));
    assert_eq!(unavailable.status(), Some(503));
    assert_eq!(server.count("GET", "/portfolio/balance"), 3);
}

#[tokio::test]
async fn a_429_then_success_is_retried_after_draining_the_bucket() {
    let server = TestServer::start(|seen, nth| {
        if seen.is("GET", "/markets/trades") && nth == 0 {
            Reply::Json(429, r#"{"error":"too many requests"}"#.into())
        } else {
            ok(serde_json::json!({"trades": [trade(1)], "cursor": null}))
        }
    })
    .await;
    let clock = ManualClock::auto_advancing(0);
    let limiter = limiter_on(&clock, BucketLimit::new(1000, 2000), 200);
    let client = RestClient::with_limiter(
        config(server.addr),
        Some(ed25519_signer()),
        Arc::clone(&limiter),
    )
    .unwrap();
    let page = guarded(client.trades(&GetTradesParams::default()))
        .await
        .unwrap();
    assert_eq!(page.trades.len(), 1);
    assert_eq!(server.count("GET", "/markets/trades"), 2);
    // The 429 emptied our read bucket, so the retry waited (virtual time moved) for a refill.
    assert!(clock.now_ns() >= 50_000_000, "waited {} ns", clock.now_ns());
    assert_eq!(limiter.snapshot().write_available, 2000);
}

// ---------------------------------------------------------------- lost writes

#[tokio::test]
async fn a_create_whose_answer_is_a_5xx_is_unknown_and_never_resent() {
    let server = TestServer::start(|_, _| Reply::Text(502, "bad gateway")).await;
    let client = client(server.addr);
    let error = guarded(client.create_order(order("KXTEST-1", "lost-502")))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RestError::Unknown { client_order_id: Some(id), .. } if id == "lost-502"),
        "{error:?}"
    );
    assert_eq!(server.count("POST", "/portfolio/events/orders"), 1);
}

#[tokio::test]
async fn a_create_that_times_out_is_unknown_and_never_resent() {
    let server = TestServer::start(|_, _| Reply::Hang).await;
    let client = client(server.addr);
    let error = guarded(client.create_order(order("KXTEST-1", "lost-timeout")))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RestError::Unknown { client_order_id: Some(id), .. } if id == "lost-timeout"),
        "{error:?}"
    );
    assert_eq!(server.count("POST", "/portfolio/events/orders"), 1);
    // A read that times out is retried, then reported as a timeout.
    let error = guarded(client.exchange_schedule()).await.unwrap_err();
    assert_eq!(
        error,
        RestError::Timeout {
            endpoint: "exchange_schedule"
        }
    );
    assert_eq!(server.count("GET", "/exchange/schedule"), 3);
}

#[tokio::test]
async fn a_reset_after_send_makes_creates_unknown_and_cancels_retry() {
    let (addr, received) = start_hang_up_server().await;
    let client = client(addr);
    let error = guarded(client.create_order(order("KXTEST-1", "lost-reset")))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RestError::Unknown { client_order_id: Some(id), .. } if id == "lost-reset"),
        "{error:?}"
    );
    assert_eq!(
        received.load(Ordering::SeqCst),
        1,
        "the create was sent once"
    );

    // An amend is never resent either; it is identified by its new client id.
    let amend = AmendOrderV2Request {
        ticker: Ticker::new("KXTEST-1"),
        side: BookSide::Bid,
        price: Price::parse("0.4300").unwrap(),
        count: Count::parse("1.00").unwrap(),
        client_order_id: Some("old".into()),
        updated_client_order_id: Some("new".into()),
        expiration_time: None,
        exchange_index: None,
    };
    let error = guarded(client.amend_order("o-9", &amend, None))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RestError::Unknown { client_order_id: Some(id), order_id: Some(o), .. } if id == "new" && o == "o-9"),
        "{error:?}"
    );
    assert_eq!(received.load(Ordering::SeqCst), 2);

    // A decrease by an amount would double if resent: unknown after one send.
    let error = guarded(client.decrease_order(
        "o-9",
        &DecreaseOrderV2Request::by(Count::parse("1.00").unwrap()),
        None,
    ))
    .await
    .unwrap_err();
    assert!(error.is_unknown_outcome(), "{error:?}");
    assert_eq!(received.load(Ordering::SeqCst), 3);

    // A cancel is safe to repeat: three attempts, then a transport error.
    let error = guarded(client.cancel_order("o-9", &CancelOrderV2Params::default()))
        .await
        .unwrap_err();
    assert!(matches!(error, RestError::Transport { .. }), "{error:?}");
    assert_eq!(received.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn an_unreadable_create_answer_is_unknown() {
    let server = TestServer::start(|_, _| Reply::Json(201, r#"{"order_id": 5}"#.into())).await;
    let client = client(server.addr);
    let error = guarded(client.create_order(order("KXTEST-1", "garbled")))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RestError::Unknown { client_order_id: Some(id), .. } if id == "garbled"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_create_without_a_client_order_id_gets_one_so_it_can_be_resolved() {
    let server = TestServer::start(|_, _| Reply::Text(500, "oops")).await;
    let client = client(server.addr);
    let mut anonymous = order("KXTEST-1", "x");
    anonymous.client_order_id = None;
    let error = guarded(client.create_order(anonymous)).await.unwrap_err();
    let RestError::Unknown {
        client_order_id: Some(generated),
        ..
    } = error
    else {
        panic!("expected Unknown with an id, got {error:?}");
    };
    assert_eq!(
        server.seen()[0].json()["client_order_id"],
        generated.as_str()
    );
}

#[tokio::test]
async fn nothing_sent_when_the_connection_is_refused_is_a_transport_error_not_unknown() {
    // Bind then drop, so the port is (almost certainly) closed.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = client(addr);
    let error = guarded(client.create_order(order("KXTEST-1", "refused")))
        .await
        .unwrap_err();
    assert!(matches!(error, RestError::Transport { .. }), "{error:?}");
}

// ---------------------------------------------------------------- pagination

#[tokio::test]
async fn all_pages_are_followed_until_the_cursor_is_empty() {
    let server = TestServer::start(|seen, _| {
        let query = seen.query.clone().unwrap_or_default();
        let (trades, cursor) = if query.contains("cursor=page-3") {
            (vec![trade(5)], serde_json::Value::String(String::new()))
        } else if query.contains("cursor=page-2") {
            (vec![trade(3), trade(4)], "page-3".into())
        } else {
            (vec![trade(1), trade(2)], "page-2".into())
        };
        ok(serde_json::json!({"trades": trades, "cursor": cursor}))
    })
    .await;
    let client = client(server.addr);
    let params = GetTradesParams {
        ticker: Some("KXTEST-1".into()),
        limit: Some(2),
        cursor: Some("ignored".into()),
        ..GetTradesParams::default()
    };
    let trades = guarded(client.all_trades(&params)).await.unwrap();
    let ids: Vec<_> = trades.iter().map(|t| t.trade_id.as_str()).collect();
    assert_eq!(ids, vec!["t-1", "t-2", "t-3", "t-4", "t-5"]);
    let queries: Vec<_> = server
        .seen()
        .into_iter()
        .map(|s| s.query.unwrap_or_default())
        .collect();
    assert_eq!(queries.len(), 3);
    assert!(!queries[0].contains("cursor"), "{queries:?}");
    assert!(queries[1].contains("cursor=page-2") && queries[1].contains("limit=2"));
    assert!(queries[2].contains("ticker=KXTEST-1"));
}

// ---------------------------------------------------------------- batches

#[tokio::test]
async fn batch_cancels_are_split_to_fit_the_write_bucket() {
    let server = TestServer::start(|seen, _| {
        let orders = seen.json()["orders"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let results: Vec<_> = orders
            .iter()
            .map(|o| {
                let id = o["order_id"].as_str().unwrap_or_default();
                if id == "o-7" {
                    serde_json::json!({"order_id": id, "reduced_by": "0.00", "ts_ms": null,
                        "error": {"code": "not_found", "message": "order not found"}})
                } else {
                    cancelled(id)
                }
            })
            .collect();
        ok(serde_json::json!({"orders": results}))
    })
    .await;
    // Basic write bucket: 100 tokens, 2 per cancel, so at most 50 cancels a request.
    let clock = ManualClock::auto_advancing(0);
    let limiter = limiter_on(&clock, BucketLimit::new(100, 100), 20);
    let client =
        RestClient::with_limiter(config(server.addr), Some(ed25519_signer()), limiter).unwrap();
    let orders: Vec<_> = (0..120)
        .map(|i| BatchCancelOrderV2 {
            order_id: format!("o-{i}"),
            subaccount: None,
            exchange_index: None,
            market_ticker: None,
        })
        .collect();
    let results = guarded(client.batch_cancel_orders(orders)).await;
    assert_eq!(results.len(), 120);
    let sizes: Vec<_> = server
        .seen()
        .iter()
        .map(|s| s.json()["orders"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, vec![50, 50, 20]);
    assert_eq!(results[0].as_ref().unwrap().order_id, "o-0");
    assert_eq!(results[119].as_ref().unwrap().order_id, "o-119");
    assert_eq!(results[7].as_ref().unwrap_err().code(), Some("not_found"));
    // The later parts waited for refill on virtual time: 50 cancels = 100 tokens = 1 s each.
    assert!(clock.now_ns() >= 1_400_000_000, "{}", clock.now_ns());
}

#[tokio::test]
async fn batch_creates_send_what_the_budget_covers_and_refuse_the_rest() {
    let server = TestServer::start(|seen, _| {
        let orders = seen.json()["orders"].as_array().cloned().unwrap_or_default();
        let results: Vec<_> = orders
            .iter()
            .map(|o| {
                let id = o["client_order_id"].as_str().unwrap_or_default();
                if id == "b-1" {
                    serde_json::json!({"client_order_id": id, "order_id": null, "fill_count": null,
                        "remaining_count": null, "average_fill_price": null, "average_fee_paid": null,
                        "ts_ms": null, "error": {"code": "invalid_order", "message": "off grid"}})
                } else {
                    created(id, &format!("o-{id}"))
                }
            })
            .collect();
        Reply::Json(201, serde_json::json!({"orders": results}).to_string())
    })
    .await;
    let clock = ManualClock::new(0);
    // 100 tokens, 20 kept for cancels: 8 creates at 10 tokens.
    let limiter = limiter_on(&clock, BucketLimit::new(100, 100), 20);
    let client = RestClient::with_limiter(
        config(server.addr),
        Some(ed25519_signer()),
        Arc::clone(&limiter),
    )
    .unwrap();
    let orders: Vec<_> = (0..12)
        .map(|i| order("KXTEST-1", &format!("b-{i}")))
        .collect();
    let results = guarded(client.batch_create_orders(orders)).await;
    assert_eq!(results.len(), 12);
    assert_eq!(server.count("POST", "/portfolio/events/orders/batched"), 1);
    assert_eq!(
        server.seen()[0].json()["orders"].as_array().unwrap().len(),
        8
    );
    assert_eq!(
        results[0].as_ref().unwrap().order_id.as_deref(),
        Some("o-b-0")
    );
    assert_eq!(
        results[1].as_ref().unwrap_err().code(),
        Some("invalid_order")
    );
    for refused in &results[8..] {
        assert!(
            matches!(
                refused,
                Err(RestError::WouldExceed {
                    needed: 10,
                    available: 0
                })
            ),
            "{refused:?}"
        );
    }
    // After a second of refill the rest fit.
    clock.advance(Duration::from_secs(1));
    let rest: Vec<_> = (8..12)
        .map(|i| order("KXTEST-1", &format!("b-{i}")))
        .collect();
    let results = guarded(client.batch_create_orders(rest)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

#[tokio::test]
async fn a_batch_create_whose_answer_is_lost_is_unknown_item_by_item() {
    let (addr, received) = start_hang_up_server().await;
    let client = client(addr);
    let orders = vec![order("KXTEST-1", "u-1"), order("KXTEST-2", "u-2")];
    let results = guarded(client.batch_create_orders(orders)).await;
    let ids: Vec<_> = results
        .iter()
        .map(|r| match r {
            Err(RestError::Unknown {
                client_order_id, ..
            }) => client_order_id.clone().unwrap_or_default(),
            other => panic!("expected Unknown, got {other:?}"),
        })
        .collect();
    assert_eq!(ids, vec!["u-1", "u-2"]);
    assert_eq!(received.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------- cancel lane

#[tokio::test]
async fn cancels_spend_the_reserve_that_new_orders_cannot_touch() {
    let server = TestServer::start(|seen, _| {
        if seen.method == "POST" {
            let id = seen.json()["client_order_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            Reply::Json(201, created(&id, &format!("o-{id}")).to_string())
        } else {
            let id = seen.path.rsplit('/').next().unwrap_or_default().to_string();
            ok(cancelled(&id))
        }
    })
    .await;
    let clock = ManualClock::new(0);
    let limiter = limiter_on(&clock, BucketLimit::new(100, 100), 20);
    let client = RestClient::with_limiter(
        config(server.addr),
        Some(ed25519_signer()),
        Arc::clone(&limiter),
    )
    .unwrap();

    for i in 0..8 {
        guarded(client.create_order(order("KXTEST-1", &format!("c-{i}"))))
            .await
            .unwrap();
    }
    let refused = guarded(client.create_order(order("KXTEST-1", "c-8")))
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        RestError::WouldExceed {
            needed: 10,
            available: 0
        }
    );
    assert_eq!(server.count("POST", "/portfolio/events/orders"), 8);

    // The 20-token reserve covers ten cancels at once, with no time passing.
    for i in 0..10 {
        guarded(client.cancel_order(&format!("o-c-{i}"), &CancelOrderV2Params::default()))
            .await
            .unwrap();
    }
    assert_eq!(clock.now_ns(), 0);
    assert_eq!(limiter.snapshot().write_available, 0);

    // The eleventh waits in the lane until the bucket refills; new orders stay refused.
    let waiting = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .cancel_order("o-c-10", &CancelOrderV2Params::default())
                .await
        }
    });
    while limiter.snapshot().cancels_waiting == 0 {
        tokio::task::yield_now().await;
    }
    assert!(!waiting.is_finished());
    clock.advance(Duration::from_millis(15));
    assert!(matches!(
        client.create_order(order("KXTEST-1", "c-9")).await,
        Err(RestError::WouldExceed { .. })
    ));
    clock.advance(Duration::from_millis(5));
    let answer = guarded(waiting).await.unwrap().unwrap();
    assert_eq!(answer.order_id, "o-c-10");
    assert_eq!(server.count("POST", "/portfolio/events/orders"), 8);
}

#[tokio::test]
async fn exchange_status_during_maintenance_is_a_status_not_an_error() {
    let server = TestServer::start(|_, nth| {
        if nth == 0 {
            Reply::Json(
                503,
                serde_json::json!({"exchange_active": false, "trading_active": false}).to_string(),
            )
        } else {
            Reply::Text(502, "<html>bad gateway</html>")
        }
    })
    .await;
    let client = client(server.addr);
    let status = guarded(client.exchange_status()).await.unwrap();
    assert!(!status.exchange_active && !status.trading_active);
    // A 5xx that carries no status body is an ordinary read failure, retried.
    let error = guarded(client.exchange_status()).await.unwrap_err();
    assert_eq!(error.status(), Some(502));
    assert_eq!(server.count("GET", "/exchange/status"), 1 + 1 + 3);
}

#[tokio::test]
async fn orderbooks_for_many_tickers_go_in_requests_of_at_most_100() {
    let server = TestServer::start(|seen, _| {
        let query = seen.query.clone().unwrap_or_default();
        let books: Vec<_> = query
            .split('&')
            .filter_map(|pair| pair.strip_prefix("tickers="))
            .map(|ticker| {
                serde_json::json!({"ticker": ticker,
                    "orderbook_fp": {"yes_dollars": [["0.4100", "10.00"]], "no_dollars": []}})
            })
            .collect();
        ok(serde_json::json!({"orderbooks": books}))
    })
    .await;
    let client = client(server.addr);
    let tickers: Vec<_> = (0..230).map(|i| Ticker::new(&format!("KX-{i}"))).collect();
    let books = guarded(client.orderbooks(&tickers)).await.unwrap();
    assert_eq!(books.orderbooks.len(), 230);
    let per_request: Vec<_> = server
        .seen()
        .iter()
        .map(|s| {
            s.query
                .clone()
                .unwrap_or_default()
                .matches("tickers=")
                .count()
        })
        .collect();
    assert_eq!(per_request, vec![100, 100, 30]);
}

// ---------------------------------------------------------------- limits, costs, stats

#[tokio::test]
async fn exchange_limits_and_costs_replace_the_defaults() {
    let server = TestServer::start(|seen, _| {
        if seen.is("GET", "/account/limits") {
            ok(serde_json::json!({
                "usage_tier": "premier",
                "read": {"refill_rate": 1000, "bucket_capacity": 1000},
                "write": {"refill_rate": 1000, "bucket_capacity": 2000},
                "grants": [],
            }))
        } else {
            ok(serde_json::json!({
                "default_cost": 10,
                "endpoint_costs": [
                    {"method": "DELETE", "path": "/trade-api/v2/portfolio/events/orders/{order_id}", "cost": 1},
                    {"method": "GET", "path": "/portfolio/orders/{order_id}", "cost": 3},
                ],
            }))
        }
    })
    .await;
    let client = client(server.addr);
    guarded(client.refresh_rate_limits()).await.unwrap();
    let limiter = client.limiter();
    let budget = limiter.snapshot();
    assert_eq!(budget.write, BucketLimit::new(1000, 2000));
    assert_eq!(budget.read, BucketLimit::new(1000, 1000));
    assert_eq!(limiter.cost(Endpoint::CancelOrder.route()), 1);
    assert_eq!(limiter.cost(Endpoint::Order.route()), 3);
    assert_eq!(
        limiter.cost(Route::new(
            "DELETE",
            "/portfolio/events/orders/batched",
            BucketKind::Write
        )),
        10,
        "an endpoint the exchange does not list costs its default"
    );
    let stats = client.latency().get(Endpoint::AccountLimits);
    assert_eq!(stats.requests, 1);
    assert!(stats.max_us >= stats.last_us);
}
