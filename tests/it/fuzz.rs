//! Fuzzing on the stable toolchain: proptest mutates the committed seed corpus
//! (tests/fixtures/fuzz/) and feeds every parser that reads outside input. Each target checks
//! that nothing panics, and more where a stronger property is cheap: what decodes re-encodes to
//! the same value, errors in user files name the file and a line:col.
//!
//! Case counts are small by default so `cargo test` stays fast. A longer run:
//! `KDESK_FUZZ_CASES=20000 KDESK_FUZZ_SEED=3 cargo test --test it fuzz::` (the seed picks the
//! random stream; the default is fixed so every run checks the same cases).

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use kalshi_desk::config::Settings;
use kalshi_desk::config::diagnostic::{Diagnostic, Severity};
use kalshi_desk::core::num::{Count, Money, NumError, Price};
use kalshi_desk::kalshi::wire::{self, decode_error_body, decode_server_frame};
use kalshi_desk::store::tape::{TapeError, read_tape};
use kalshi_desk::tui::keymap::{Keymap, KeymapSource};
use kalshi_desk::tui::theme::Theme;
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Runner, corpus and mutations.

/// Cases per target: `KDESK_FUZZ_CASES` when set, else the target's default.
fn cases(default: u32) -> u32 {
    std::env::var("KDESK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A seeded stream: fixed unless `KDESK_FUZZ_SEED` asks for another.
fn rng(target: &str) -> TestRng {
    let seed: u64 = std::env::var("KDESK_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6b64_6573_6b21);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    // Each target gets its own stream, so adding one does not change the others' cases.
    for (i, b) in target.bytes().enumerate() {
        bytes[8 + i % 24] ^= b;
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

fn fuzz<S>(
    target: &str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let config = ProptestConfig {
        cases: cases(default_cases),
        failure_persistence: None,
        max_shrink_iters: 4_000,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng(target));
    if let Err(failure) = runner.run(&strategy, test) {
        panic!("fuzz target {target} failed: {failure}");
    }
}

fn corpus_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(kind)
}

/// The seed files of one corpus, by name, in a stable order.
fn corpus(kind: &str) -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(kind))
        .expect("corpus dir")
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    let seeds: Vec<(String, String)> = files
        .into_iter()
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).expect("seed is text");
            (name, text)
        })
        .collect();
    assert!(!seeds.is_empty(), "empty corpus {kind}");
    seeds
}

/// Tokens worth inserting into JSON: structure, numbers at and past the integer edges, odd
/// number forms, escapes.
const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "null",
    "true",
    "-",
    "0",
    "-0",
    "1e400",
    "-1e400",
    "1E-400",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775807",
    "0.1e1",
    "00",
    ".5",
    "NaN",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"é🦀\"",
    "\"type\":\"fill\",",
    "\"msg\":{},",
    "\"sid\":-1,",
    "\"seq\":18446744073709551615,",
    "\"id\":1.5,",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
];

/// Tokens worth inserting into TOML.
const TOML_TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'",
    "'''",
    "\"\"\"",
    "\n",
    "\r\n",
    "#",
    ".",
    "{",
    "}",
    ",",
    "\\",
    "\\u",
    "inf",
    "nan",
    "-0",
    "1e999",
    "9223372036854775808",
    "-9223372036854775809",
    "1979-05-27T07:32:00Z",
    "[risk]\n",
    "[sim]\n",
    "[[risk]]\n",
    "[strategies.\"X\"]\nstrategy = \"maker\"\n",
    "a.b.c = 1\n",
    "key_file = 5\n",
    "private_key = \"-----BEGIN PRIVATE KEY-----\"\n",
    "password = \"hunter2\"\n",
    "extends = \"default\"\n",
    "extends = \"fuzz\"\n",
    "fg = \"#zzzzzz\"\n",
    "fg = \"#fff\"\n",
    "modifiers = [\"bold\", \"nope\"]\n",
    "kill_switch = [\"ctrl-k\"]\n",
    "= [\"ctrl-alt-shift-f99\", \"\", \"ctrl-\", \"g g g g\"]\n",
    "é",
    "\u{0}",
    "\u{feff}",
];

#[derive(Debug, Clone)]
enum ByteOp {
    Flip {
        at: usize,
        xor: u8,
    },
    Truncate {
        at: usize,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        token: usize,
    },
    /// Copy a stretch of another seed in.
    Splice {
        at: usize,
        seed: usize,
        start: usize,
        len: usize,
    },
    Duplicate {
        at: usize,
        len: usize,
    },
}

fn byte_op() -> impl Strategy<Value = ByteOp> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| ByteOp::Flip { at, xor }),
        any::<usize>().prop_map(|at| ByteOp::Truncate { at }),
        (any::<usize>(), 1usize..24).prop_map(|(at, len)| ByteOp::Delete { at, len }),
        (any::<usize>(), any::<usize>()).prop_map(|(at, token)| ByteOp::Insert { at, token }),
        (any::<usize>(), any::<usize>(), any::<usize>(), 1usize..80).prop_map(
            |(at, seed, start, len)| ByteOp::Splice {
                at,
                seed,
                start,
                len
            }
        ),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| ByteOp::Duplicate { at, len }),
    ]
}

fn apply_bytes(mut data: Vec<u8>, ops: &[ByteOp], seeds: &[Vec<u8>], tokens: &[&str]) -> Vec<u8> {
    for op in ops {
        let n = data.len();
        match *op {
            ByteOp::Flip { at, xor } => {
                if n > 0 {
                    data[at % n] ^= xor;
                }
            }
            ByteOp::Truncate { at } => data.truncate(at % (n + 1)),
            ByteOp::Delete { at, len } => {
                let start = at % (n + 1);
                let end = (start + len).min(n);
                data.drain(start..end);
            }
            ByteOp::Insert { at, token } => {
                let at = at % (n + 1);
                let token = tokens[token % tokens.len()].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            ByteOp::Splice {
                at,
                seed,
                start,
                len,
            } => {
                let other = &seeds[seed % seeds.len()];
                let start = start % (other.len() + 1);
                let end = (start + len).min(other.len());
                let at = at % (n + 1);
                data.splice(at..at, other[start..end].iter().copied());
            }
            ByteOp::Duplicate { at, len } => {
                let start = at % (n + 1);
                let end = (start + len).min(n);
                let copy = data[start..end].to_vec();
                data.splice(end..end, copy);
            }
        }
    }
    data
}

/// Structural edits on a JSON document.
#[derive(Debug, Clone)]
enum JsonOp {
    /// Replace a node with an odd value.
    Replace { node: usize, with: Value },
    /// Drop a member or element.
    Remove { node: usize },
    /// Rename a member to a key the decoders know.
    Rename { node: usize, key: &'static str },
    /// Bury a node under `depth` arrays or objects.
    Nest {
        node: usize,
        depth: usize,
        objects: bool,
    },
    /// Swap a node's type: string ↔ number, array ↔ object, scalar → array.
    SwapType { node: usize },
    /// Give the frame another message type (its payload stays).
    SetType { name: &'static str },
}

const KEYS: &[&str] = &[
    "type",
    "msg",
    "id",
    "sid",
    "seq",
    "market_ticker",
    "market_id",
    "price_dollars",
    "delta_fp",
    "side",
    "ts",
    "ts_ms",
    "yes_dollars_fp",
    "no_dollars_fp",
    "count_fp",
    "yes_price_dollars",
    "order_id",
    "client_order_id",
    "status",
    "action",
    "position_fp",
    "code",
    "error",
    "message",
    "cursor",
    "orders",
    "markets",
    "balance",
    "x",
];

const TYPES: &[&str] = &[
    "subscribed",
    "ok",
    "unsubscribed",
    "error",
    "orderbook_snapshot",
    "orderbook_delta",
    "ticker",
    "trade",
    "fill",
    "user_order",
    "market_position",
    "market_lifecycle_v2",
    "multivariate_market_lifecycle",
    "event_lifecycle",
    "event_fee_update",
    "order_group_updates",
    "rfq_created",
    "",
];

fn odd_value() -> impl Strategy<Value = Value> {
    let strings = prop::sample::select(vec![
        "",
        "-",
        "0",
        "-0",
        "1",
        "-1",
        "0.5",
        "0.5600",
        "0.56000001",
        "1.0000",
        "1.0001",
        "-54.00",
        "54.005",
        "99999999999999999999",
        "9223372036854.775807",
        "-9223372036854.775808",
        "9223372036854775807",
        "92233720368547758.07",
        "-92233720368547758.08",
        "1000000000.00",
        "0.0001",
        "0.9999",
        "1e3",
        "NaN",
        "inf",
        " 1",
        "1 ",
        "+1",
        ".5",
        "5.",
        "0x10",
        "yes",
        "no",
        "bid",
        "ask",
        "buy",
        "sell",
        "resting",
        "2022-11-22T20:44:01Z",
        "2022-13-45T99:99:99Z",
        "not a time",
        "\u{0}",
        "é🦀",
    ])
    .prop_map(|s| Value::String(s.to_string()));
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![
            json!(u64::MAX),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(-1),
            json!(0),
            json!(1.5),
            json!(-0.0),
            json!(1e300),
        ]),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        strings,
        "[a-z_]{0,12}".prop_map(Value::String),
        "\\PC{0,40}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!([["0.5000", "1.00"], ["2", -1]])),
        Just(json!({"price_dollars": "0.5", "delta_fp": "-1.00"})),
    ]
}

fn json_op() -> impl Strategy<Value = JsonOp> {
    prop_oneof![
        4 => (any::<usize>(), odd_value()).prop_map(|(node, with)| JsonOp::Replace { node, with }),
        2 => any::<usize>().prop_map(|node| JsonOp::Remove { node }),
        1 => (any::<usize>(), prop::sample::select(KEYS)).prop_map(|(node, key)| JsonOp::Rename { node, key }),
        1 => (any::<usize>(), 1usize..300, any::<bool>()).prop_map(|(node, depth, objects)| JsonOp::Nest { node, depth, objects }),
        2 => any::<usize>().prop_map(|node| JsonOp::SwapType { node }),
        1 => prop::sample::select(TYPES).prop_map(|name| JsonOp::SetType { name }),
    ]
}

/// JSON pointers of every node, root first.
fn pointers(value: &Value, here: String, out: &mut Vec<String>) {
    out.push(here.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                pointers(v, format!("{here}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn parent_and_last(pointer: &str) -> Option<(&str, String)> {
    let (parent, last) = pointer.rsplit_once('/')?;
    Some((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn apply_json(mut doc: Value, ops: &[JsonOp]) -> Value {
    for op in ops {
        let mut all = Vec::new();
        pointers(&doc, String::new(), &mut all);
        let pick = |node: usize| all[node % all.len()].clone();
        match op {
            JsonOp::Replace { node, with } => {
                if let Some(slot) = doc.pointer_mut(&pick(*node)) {
                    *slot = with.clone();
                }
            }
            JsonOp::Remove { node } => {
                let pointer = pick(*node);
                if let Some((parent, last)) = parent_and_last(&pointer) {
                    match doc.pointer_mut(parent) {
                        Some(Value::Object(map)) => {
                            map.remove(&last);
                        }
                        Some(Value::Array(items)) => {
                            if let Ok(i) = last.parse::<usize>()
                                && i < items.len()
                            {
                                items.remove(i);
                            }
                        }
                        _ => {}
                    }
                }
            }
            JsonOp::Rename { node, key } => {
                let pointer = pick(*node);
                if let Some((parent, last)) = parent_and_last(&pointer)
                    && let Some(Value::Object(map)) = doc.pointer_mut(parent)
                    && let Some(v) = map.remove(&last)
                {
                    map.insert((*key).to_string(), v);
                }
            }
            JsonOp::Nest {
                node,
                depth,
                objects,
            } => {
                if let Some(slot) = doc.pointer_mut(&pick(*node)) {
                    let mut v = slot.take();
                    for _ in 0..*depth {
                        v = if *objects {
                            json!({ "a": v })
                        } else {
                            json!([v])
                        };
                    }
                    *slot = v;
                }
            }
            JsonOp::SwapType { node } => {
                if let Some(slot) = doc.pointer_mut(&pick(*node)) {
                    *slot = match slot.take() {
                        Value::String(s) => s
                            .parse::<serde_json::Number>()
                            .map(Value::Number)
                            .unwrap_or(Value::Bool(s.is_empty())),
                        Value::Number(n) => Value::String(n.to_string()),
                        Value::Array(items) => Value::Object(
                            items
                                .into_iter()
                                .enumerate()
                                .map(|(i, v)| (i.to_string(), v))
                                .collect(),
                        ),
                        Value::Object(map) => Value::Array(map.into_values().collect()),
                        other => Value::Array(vec![other]),
                    };
                }
            }
            JsonOp::SetType { name } => {
                if let Value::Object(map) = &mut doc {
                    map.insert("type".into(), Value::String((*name).to_string()));
                }
            }
        }
    }
    doc
}

/// One fuzz input: a seed, structural edits (when the seed is JSON), then byte edits.
#[derive(Debug, Clone)]
struct Mutation {
    seed: usize,
    json_ops: Vec<JsonOp>,
    byte_ops: Vec<ByteOp>,
}

fn mutation(max_json_ops: usize, max_byte_ops: usize) -> impl Strategy<Value = Mutation> {
    (
        any::<usize>(),
        prop::collection::vec(json_op(), 0..=max_json_ops),
        prop::collection::vec(byte_op(), 0..=max_byte_ops),
    )
        .prop_map(|(seed, json_ops, byte_ops)| Mutation {
            seed,
            json_ops,
            byte_ops,
        })
}

impl Mutation {
    fn apply(&self, seeds: &[Vec<u8>], tokens: &[&str]) -> String {
        let seed = &seeds[self.seed % seeds.len()];
        let mut bytes = seed.clone();
        if !self.json_ops.is_empty()
            && let Ok(doc) = serde_json::from_slice::<Value>(seed)
        {
            bytes = serde_json::to_vec(&apply_json(doc, &self.json_ops)).unwrap_or(bytes);
        }
        let bytes = apply_bytes(bytes, &self.byte_ops, seeds, tokens);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn seed_bytes(seeds: &[(String, String)]) -> Vec<Vec<u8>> {
    seeds.iter().map(|(_, t)| t.as_bytes().to_vec()).collect()
}

// ---------------------------------------------------------------------------------------------
// WS frames.

/// What decodes must encode back to the same frame: the simulator serializes with the same
/// types the desk decodes with, so a frame that does not survive the trip is a wire bug.
fn check_frame(text: &str) -> Result<(), TestCaseError> {
    match decode_server_frame(text) {
        Ok(frame) => {
            let again = frame.to_json();
            let round = decode_server_frame(&again).map_err(|e| {
                TestCaseError::fail(format!("re-encoded frame does not decode: {e}\n{again}"))
            })?;
            prop_assert_eq!(round, frame, "frame changed on re-encoding: {}", again);
        }
        Err(error) => {
            prop_assert!(!error.to_string().is_empty());
        }
    }
    Ok(())
}

#[test]
fn ws_seed_corpus_decodes() {
    let seeds = corpus("ws");
    let mut decoded = 0;
    for (name, text) in &seeds {
        let has_type = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("type").cloned())
            .is_some();
        match decode_server_frame(text) {
            Ok(_) => decoded += 1,
            Err(e) => assert!(!has_type, "{name} has a type but does not decode: {e}"),
        }
        check_frame(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(decoded >= 40, "only {decoded} seeds decode");
}

#[test]
fn fuzz_ws_frames() {
    let seeds = seed_bytes(&corpus("ws"));
    let decoded = std::sync::atomic::AtomicU32::new(0);
    let total = std::sync::atomic::AtomicU32::new(0);
    // Few byte edits here (fuzz_ws_frames_bytes_only does the noise), so that many cases still
    // decode and reach the re-encoding check.
    fuzz("ws_frames", 600, mutation(2, 1), |m| {
        let text = m.apply(&seeds, JSON_TOKENS);
        total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if decode_server_frame(&text).is_ok() {
            decoded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        check_frame(&text)
    });
    // The mutations must reach the payload decoders, not only the JSON syntax check (about a
    // third of the seeds are client commands and pings, which never decode as server frames).
    let (decoded, total) = (decoded.into_inner(), total.into_inner());
    eprintln!("ws_frames: {decoded} of {total} mutated frames decoded");
    assert!(
        decoded * 20 >= total,
        "only {decoded} of {total} mutated frames decoded"
    );
}

#[test]
fn fuzz_ws_commands() {
    // What the simulator reads from its clients: never a panic; the re-encoding is stable.
    let seeds = seed_bytes(&corpus("ws"));
    fuzz("ws_commands", 400, mutation(3, 2), |m| {
        let text = m.apply(&seeds, JSON_TOKENS);
        match wire::decode_command(&text) {
            Ok(command) => {
                // The encoder states defaults the decoder leaves open (`use_yes_price`), so the
                // wire form, not the value, must be stable.
                let again = command.to_json();
                let round = wire::decode_command(&again).map_err(|e| {
                    TestCaseError::fail(format!(
                        "re-encoded command does not decode: {e:?}\n{again}"
                    ))
                })?;
                prop_assert_eq!(round.to_json(), again);
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
        Ok(())
    });
}

#[test]
fn fuzz_ws_frames_bytes_only() {
    // Pure byte noise on top of the seeds, many edits at once.
    let seeds = seed_bytes(&corpus("ws"));
    fuzz("ws_frames_bytes", 300, mutation(0, 12), |m| {
        check_frame(&m.apply(&seeds, JSON_TOKENS))
    });
}

#[test]
fn ws_regressions() {
    // Deep nesting stops at serde_json's recursion limit instead of the stack.
    let deep = format!(
        "{{\"type\":\"orderbook_delta\",\"sid\":1,\"msg\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(decode_server_frame(&deep).is_err());
    let deep_objects = format!(
        "{{\"type\":\"ticker\",\"msg\":{}1{}}}",
        "{\"a\":".repeat(50_000),
        "}".repeat(50_000)
    );
    assert!(decode_server_frame(&deep_objects).is_err());
    // The payload before the type (buffered before it is decoded).
    let deep_first = format!(
        "{{\"msg\":{}{},\"type\":\"rfq_created\"}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(decode_server_frame(&deep_first).is_err());
    for text in [
        "",
        "{",
        "null",
        "[]",
        "\"orderbook_delta\"",
        "{\"type\":null}",
        "{\"type\":7}",
        "{\"type\":\"orderbook_delta\"}",
        "{\"type\":\"orderbook_delta\",\"msg\":null}",
        "{\"type\":\"orderbook_delta\",\"sid\":-1,\"msg\":{}}",
        "{\"type\":\"orderbook_delta\",\"seq\":18446744073709551616}",
        "{\"type\":\"ok\",\"msg\":[{\"channel\":7}]}",
        "{\"type\":\"fill\",\"msg\":{\"yes_price_dollars\":\"1e3\"}}",
    ] {
        assert!(decode_server_frame(text).is_err(), "{text:?} decoded");
    }
}

// ---------------------------------------------------------------------------------------------
// REST bodies.

type RestCheck = fn(&str) -> Result<bool, String>;

/// Decode as `T`; on success, re-encode and decode again and require the same value.
fn rest_round_trip<T>(text: &str) -> Result<bool, String>
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + Debug,
{
    let Ok(value) = serde_json::from_str::<T>(text) else {
        return Ok(false);
    };
    let again = serde_json::to_string(&value).map_err(|e| format!("re-encode failed: {e}"))?;
    let round: T = serde_json::from_str(&again)
        .map_err(|e| format!("re-encoded body does not decode: {e}\n{again}"))?;
    if round != value {
        return Err(format!("body changed on re-encoding: {again}"));
    }
    Ok(true)
}

macro_rules! rest_types {
    ($($name:ident),+ $(,)?) => {
        const REST_TYPES: &[(&str, RestCheck)] = &[
            $((stringify!($name), rest_round_trip::<wire::$name> as RestCheck),)+
        ];
    };
}

rest_types!(
    ExchangeStatus,
    GetExchangeScheduleResponse,
    GetUserDataTimestampResponse,
    GetMarketsResponse,
    GetMarketResponse,
    GetMarketOrderbookResponse,
    GetMarketOrderbooksResponse,
    GetTradesResponse,
    GetEventsResponse,
    GetEventResponse,
    GetSeriesListResponse,
    GetSeriesResponse,
    GetBalanceResponse,
    GetPositionsResponse,
    GetFillsResponse,
    GetSettlementsResponse,
    GetPortfolioRestingOrderTotalValueResponse,
    GetOrdersResponse,
    GetOrderResponse,
    GetOrderQueuePositionsResponse,
    GetOrderQueuePositionResponse,
    CreateOrderV2Request,
    CreateOrderV2Response,
    BatchCreateOrdersV2Request,
    BatchCreateOrdersV2Response,
    CancelOrderV2Response,
    BatchCancelOrdersV2Request,
    BatchCancelOrdersV2Response,
    AmendOrderV2Request,
    AmendOrderV2Response,
    DecreaseOrderV2Request,
    DecreaseOrderV2Response,
    CreateOrderGroupRequest,
    CreateOrderGroupResponse,
    GetOrderGroupsResponse,
    GetOrderGroupResponse,
    UpdateOrderGroupLimitRequest,
    GetAccountApiLimitsResponse,
    GetAccountEndpointCostsResponse,
    ErrorResponse,
    WrappedErrorResponse,
    EmptyResponse,
);

fn check_rest(text: &str, type_index: usize) -> Result<(), TestCaseError> {
    let (name, check) = REST_TYPES[type_index % REST_TYPES.len()];
    check(text).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
    // Every body may come back as an error body instead.
    for status in [400, 401, 404, 429, 500] {
        let body = decode_error_body(status, text.as_bytes());
        let shown = format!("{body:?}");
        prop_assert!(!shown.is_empty());
    }
    Ok(())
}

#[test]
fn rest_seed_corpus_decodes_as_its_type() {
    for (file, text) in corpus("rest") {
        let stem = file.trim_end_matches(".json");
        let type_name = match stem {
            "GetExchangeStatus" => "ExchangeStatus",
            "ErrorResponse-404" => "WrappedErrorResponse",
            other => other,
        };
        let (_, check) = REST_TYPES
            .iter()
            .find(|(n, _)| *n == type_name)
            .unwrap_or_else(|| panic!("no REST type for seed {file}"));
        assert_eq!(
            check(&text),
            Ok(true),
            "{file} does not decode as {type_name}"
        );
    }
}

#[test]
fn fuzz_rest_bodies() {
    let seeds = seed_bytes(&corpus("rest"));
    let files = corpus_names("rest");
    // Any seed against any type: a body of the wrong shape must be refused, not crash.
    fuzz(
        "rest_bodies",
        500,
        (mutation(4, 2), any::<usize>(), any::<bool>()),
        |(m, type_index, own_type)| {
            let text = m.apply(&seeds, JSON_TOKENS);
            // Half the cases decode as the seed's own type (sorted file order = REST_TYPES
            // is not guaranteed, so look it up by name).
            let index = if own_type {
                let stem = files[m.seed % files.len()].trim_end_matches(".json");
                REST_TYPES
                    .iter()
                    .position(|(n, _)| {
                        *n == stem || (stem == "GetExchangeStatus" && *n == "ExchangeStatus")
                    })
                    .unwrap_or(type_index)
            } else {
                type_index
            };
            check_rest(&text, index)
        },
    );
}

fn corpus_names(kind: &str) -> Vec<String> {
    corpus(kind).into_iter().map(|(n, _)| n).collect()
}

// ---------------------------------------------------------------------------------------------
// Numbers.

/// The reference: plain decimal grammar, exact scaled value in i128, range checks.
fn reference_parse(text: &str, scale: u32, signed: bool) -> Option<i128> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) if signed => (true, rest),
        Some(_) => return None,
        None => (false, text),
    };
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || (body.contains('.') && fraction.is_empty())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let significant = fraction.trim_end_matches('0');
    if significant.len() > scale as usize {
        return None;
    }
    let whole: i128 = whole.trim_start_matches('0').parse().unwrap_or(0);
    let mut frac_value: i128 = 0;
    for i in 0..scale as usize {
        let digit = significant
            .as_bytes()
            .get(i)
            .map_or(0, |b| i128::from(b - b'0'));
        frac_value = frac_value * 10 + digit;
    }
    let value = whole
        .checked_mul(10_i128.pow(scale))?
        .checked_add(frac_value)?;
    let value = if negative { -value } else { value };
    (i128::from(i64::MIN)..=i128::from(i64::MAX))
        .contains(&value)
        .then_some(value)
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{1,3}(\\.[0-9]{0,8})?",
        "-?[0-9]{1,22}(\\.[0-9]{1,12})?",
        "[-+0-9.eE ]{0,24}",
        "\\PC{0,12}",
        prop::sample::select(vec![
            "9223372036854.775807",
            "9223372036854.775808",
            "-9223372036854.775808",
            "-9223372036854.775809",
            "92233720368547758.07",
            "92233720368547758.08",
            "-92233720368547758.08",
            "1.000000",
            "1.0000001",
            "0.000001",
            "0.0000010000",
            "00000000000000000000000000000001",
            "-0",
            "-0.00",
        ])
        .prop_map(String::from),
    ]
}

#[test]
fn fuzz_number_parsing_matches_the_reference() {
    fuzz("numbers", 3_000, number_text(), |text| {
        let price = Price::parse(&text);
        let expected = reference_parse(&text, 6, false).filter(|v| (0..=1_000_000).contains(v));
        prop_assert_eq!(
            price.as_ref().ok().map(|p| i128::from(p.micros())),
            expected
        );
        let count = Count::parse(&text);
        prop_assert_eq!(
            count.as_ref().ok().map(|c| i128::from(c.centi())),
            reference_parse(&text, 2, false)
        );
        let signed = Count::parse_signed(&text);
        prop_assert_eq!(
            signed.as_ref().ok().map(|c| i128::from(c.centi())),
            reference_parse(&text, 2, true)
        );
        let money = Money::parse(&text);
        prop_assert_eq!(
            money.as_ref().ok().map(|m| i128::from(m.micros())),
            reference_parse(&text, 6, true)
        );
        // Errors quote what was refused (or say it was empty).
        for error in [price.err(), count.err(), signed.err(), money.err()]
            .into_iter()
            .flatten()
        {
            let message = error.to_string();
            prop_assert!(
                matches!(error, NumError::Empty) || message.contains(&format!("{text:?}")),
                "{message}"
            );
        }
        Ok(())
    });
}

#[test]
fn fuzz_number_format_round_trips() {
    fuzz(
        "numbers_round_trip",
        3_000,
        (0i64..=1_000_000, any::<i64>(), any::<i64>()),
        |(micros, centi, money)| {
            let price = Price::from_micros(micros).expect("in range");
            prop_assert_eq!(Price::parse(&price.to_dollars()), Ok(price));
            let count = Count::from_centi(centi);
            prop_assert_eq!(Count::parse_signed(&count.to_fp()), Ok(count));
            if centi >= 0 {
                prop_assert_eq!(Count::parse(&count.to_fp()), Ok(count));
            }
            let money = Money::from_micros(money);
            prop_assert_eq!(Money::parse(&money.to_dollars()), Ok(money));
            // Through serde as Kalshi's strings too.
            let json = serde_json::to_string(&(price, money)).expect("encode");
            prop_assert_eq!(
                serde_json::from_str::<(Price, Money)>(&json).expect("decode"),
                (price, money)
            );
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// User files: config, keymap, theme. Errors must name the file and a line:col, never panic.

fn check_diagnostics(
    diagnostics: &[Diagnostic],
    file: &str,
    text: &str,
) -> Result<(), TestCaseError> {
    let lines = text.split('\n').count();
    for d in diagnostics {
        if d.file != file {
            continue;
        }
        prop_assert!(
            d.line >= 1 && d.col >= 1 && d.line <= lines,
            "diagnostic without a usable location: {:?}",
            d
        );
        let rendered = d.to_string();
        let location = format!("{file}:{}:{}", d.line, d.col);
        prop_assert!(rendered.contains(&location), "{}", rendered);
    }
    Ok(())
}

#[test]
fn fuzz_config_files() {
    let seeds = seed_bytes(&corpus("config"));
    let file = "fuzz/config.toml";
    fuzz("config", 400, mutation(0, 4), |m| {
        let text = m.apply(&seeds, TOML_TOKENS);
        match Settings::parse(&text, file) {
            Ok(_) => Ok(()),
            Err(diagnostics) => {
                prop_assert!(
                    diagnostics
                        .iter()
                        .any(|d| d.severity == Severity::Error && d.file == file),
                    "refused without naming the file: {:?}",
                    diagnostics
                );
                check_diagnostics(&diagnostics, file, &text)
            }
        }
    });
}

#[test]
fn fuzz_keymap_files() {
    let seeds = seed_bytes(&corpus("keymap"));
    let file = "fuzz/keymap.toml";
    fuzz("keymap", 300, mutation(0, 4), |m| {
        let text = m.apply(&seeds, TOML_TOKENS);
        match Keymap::load(&[KeymapSource::new(file, text.clone())]) {
            Ok((keymap, warnings)) => {
                // Whatever the overlay says, the kill switch stays bound.
                prop_assert!(!keymap.kill_keys().is_empty());
                check_diagnostics(&warnings, file, &text)
            }
            Err(diagnostics) => {
                prop_assert!(
                    diagnostics.iter().any(|d| d.file == file),
                    "refused without naming the file: {:?}",
                    diagnostics
                );
                check_diagnostics(&diagnostics, file, &text)
            }
        }
    });
}

#[test]
fn fuzz_theme_files() {
    let seeds = seed_bytes(&corpus("theme"));
    let dir = tempfile::tempdir().expect("temp dir");
    let themes = dir.path().join("themes");
    std::fs::create_dir_all(&themes).expect("themes dir");
    let path = themes.join("fuzz.toml");
    let file = path.display().to_string();
    fuzz("theme", 300, mutation(0, 4), |m| {
        let text = m.apply(&seeds, TOML_TOKENS);
        std::fs::write(&path, &text).expect("theme written");
        let load = Theme::load("fuzz", Some(dir.path()));
        if load.fell_back {
            prop_assert!(
                load.diagnostics.iter().any(Diagnostic::is_error),
                "fell back without an error"
            );
        }
        check_diagnostics(&load.diagnostics, &file, &text)
    });
}

// ---------------------------------------------------------------------------------------------
// Tapes.

fn tape_seed() -> Vec<String> {
    let text = std::fs::read_to_string(corpus_dir("tape").join("seed.jsonl")).expect("tape seed");
    text.lines().map(String::from).collect()
}

fn write_tape(path: &Path, text: &[u8]) {
    let compressed = zstd::encode_all(text, 3).expect("compress");
    std::fs::write(path, compressed).expect("tape written");
}

fn check_tape_result(
    result: Result<kalshi_desk::store::tape::Tape, TapeError>,
    path: &Path,
    lines: usize,
) -> Result<Option<kalshi_desk::store::tape::Tape>, TestCaseError> {
    match result {
        Ok(tape) => {
            prop_assert!(tape.entries.len() < lines.max(1));
            Ok(Some(tape))
        }
        Err(TapeError::Format {
            path: p, line: l, ..
        }) => {
            prop_assert_eq!(&p, path);
            prop_assert!(l <= lines, "line {} past the {} lines", l, lines);
            Ok(None)
        }
        Err(TapeError::Io { path: p, .. }) => {
            prop_assert_eq!(&p, path);
            Ok(None)
        }
    }
}

#[test]
fn tape_seed_reads() {
    let lines = tape_seed();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("seed-0001.jsonl.zst");
    write_tape(&path, (lines.join("\n") + "\n").as_bytes());
    let tape = read_tape(std::slice::from_ref(&path)).expect("seed tape reads");
    assert_eq!(tape.entries.len(), lines.len() - 1);
    assert!(!tape.truncated);
}

#[test]
fn fuzz_tape_lines() {
    // Bad JSON lines inside a well-formed zstd stream.
    let lines = tape_seed();
    let seeds: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fuzz-0001.jsonl.zst");
    fuzz(
        "tape_lines",
        150,
        (any::<usize>(), mutation(2, 3), any::<bool>()),
        |(line, m, newline)| {
            let mut edited = lines.clone();
            let index = line % edited.len();
            edited[index] = m.apply(&seeds, JSON_TOKENS).replace('\n', " ");
            let mut text = edited.join("\n");
            if newline {
                text.push('\n');
            }
            write_tape(&path, text.as_bytes());
            let count = text.split('\n').count();
            check_tape_result(read_tape(std::slice::from_ref(&path)), &path, count)?;
            Ok(())
        },
    );
}

#[test]
fn fuzz_tape_compressed_bytes() {
    // Corrupt or cut zstd: never a panic; a cut file reads as truncated or fails naming it.
    let lines = tape_seed();
    let text = lines.join("\n") + "\n";
    let compressed = zstd::encode_all(text.as_bytes(), 3).expect("compress");
    let seeds = vec![compressed.clone()];
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fuzz-0001.jsonl.zst");
    fuzz(
        "tape_bytes",
        200,
        (
            any::<usize>(),
            prop::collection::vec(byte_op(), 0..4),
            any::<bool>(),
        ),
        |(cut, ops, truncate_only)| {
            let data = if truncate_only {
                let mut d = compressed.clone();
                d.truncate(cut % compressed.len());
                d
            } else {
                apply_bytes(
                    compressed.clone(),
                    &ops,
                    &seeds,
                    &["\0", "\u{ff}", "(\u{b5}/\u{fd}"],
                )
            };
            std::fs::write(&path, &data).expect("tape written");
            // Corrupt blocks can decode to more lines than went in: no bound on the line.
            let tape =
                check_tape_result(read_tape(std::slice::from_ref(&path)), &path, usize::MAX)?;
            if truncate_only && let Some(tape) = tape {
                prop_assert!(tape.truncated, "a cut file read as complete");
            }
            Ok(())
        },
    );
}

#[test]
fn tape_regressions() {
    let lines = tape_seed();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad-0001.jsonl.zst");
    // A complete line that is not UTF-8 is an error at its line, not a silent truncation.
    let mut text = lines[..3].join("\n").into_bytes();
    text.extend_from_slice(b"\n{\"t\":\"note\",\"rx_ms\":1,\"text\":\"\xff\xfe\"}\n");
    text.extend_from_slice(lines[3].as_bytes());
    text.push(b'\n');
    write_tape(&path, &text);
    match read_tape(std::slice::from_ref(&path)) {
        Err(TapeError::Format { line, reason, .. }) => {
            assert_eq!(line, 4, "{reason}");
        }
        other => panic!("expected a format error at line 4, got {other:?}"),
    }
    // Not zstd at all.
    std::fs::write(&path, b"{\"t\":\"header\"}\n").expect("written");
    assert!(read_tape(std::slice::from_ref(&path)).is_err());
    // Empty file.
    std::fs::write(&path, b"").expect("written");
    assert!(read_tape(std::slice::from_ref(&path)).is_err());
}

// ---------------------------------------------------------------------------------------------
// Corrupt tapes through the whole engine.

/// A tape whose entries (their times, connections, tickers) and frames are edited, replayed
/// through the engine with the maker armed on every market: nothing may panic, whatever the
/// numbers say. This drives decoded frames through books, strategies, risk, the fill model and
/// the report, as a backtest of a damaged recording would.
#[test]
fn fuzz_tape_through_the_backtest() {
    use kalshi_desk::core::market::Ticker;
    use kalshi_desk::core::strategy::{MakerParams, StrategyParams};
    use kalshi_desk::replay::backtest::{self, BacktestConfig};
    use kalshi_desk::store::tape::{Tape, TapeEntry, TapeHeader};

    let lines = tape_seed();
    let header: TapeHeader = serde_json::from_str(&lines[0]).expect("seed header");
    let header_value: Value = serde_json::from_str(&lines[0]).expect("seed header");
    let entries: Vec<Value> = lines[1..]
        .iter()
        .map(|l| serde_json::from_str(l).expect("seed entry"))
        .collect();
    let strategies: Vec<(Ticker, StrategyParams)> = header
        .markets
        .iter()
        .filter_map(|m| m["ticker"].as_str())
        .map(|t| {
            (
                Ticker::from(t),
                StrategyParams::Maker(MakerParams {
                    size: Count::from_contracts(3),
                    half_spread: Money::from_cents(1),
                    ..MakerParams::default()
                }),
            )
        })
        .collect();
    assert!(!strategies.is_empty());
    let mut config = BacktestConfig::new(strategies);
    config.latency_ms = 5;
    let edit = (
        any::<usize>(),
        prop::collection::vec(json_op(), 1..3),
        any::<bool>(),
    );
    fuzz(
        "tape_backtest",
        150,
        (
            prop::collection::vec(edit, 1..6),
            prop::collection::vec(json_op(), 0..2),
        ),
        |(edits, header_ops)| {
            let mut edited = entries.clone();
            for (index, ops, inside_frame) in &edits {
                let entry = &mut edited[index % entries.len()];
                let frame = entry
                    .get("text")
                    .and_then(Value::as_str)
                    .and_then(|t| serde_json::from_str::<Value>(t).ok());
                match frame {
                    Some(frame) if *inside_frame => {
                        entry["text"] = Value::String(apply_json(frame, ops).to_string());
                    }
                    _ => *entry = apply_json(entry.take(), ops),
                }
            }
            let header =
                serde_json::from_value::<TapeHeader>(apply_json(header_value.clone(), &header_ops))
                    .unwrap_or_else(|_| header.clone());
            let tape = Tape {
                header,
                entries: edited
                    .into_iter()
                    .filter_map(|v| serde_json::from_value::<TapeEntry>(v).ok())
                    .collect(),
                truncated: false,
            };
            let report = backtest::run(&tape, &config, &mut |_, _| {});
            let rendered = [
                report.to_text(),
                report.equity_csv(),
                report.markets_csv(),
                report.chart_svg(),
            ];
            prop_assert!(rendered.iter().all(|r| !r.is_empty()));
            Ok(())
        },
    );
}

/// Found by `fuzz_tape_through_the_backtest`: one entry with a far-future time made the backtest
/// sample its equity curve once a second up to that time (out of memory), and extreme times
/// overflowed the virtual clock.
#[test]
fn backtest_regressions_corrupt_times() {
    use kalshi_desk::replay::backtest::{self, BacktestConfig};
    use kalshi_desk::store::tape::{Tape, TapeEntry, TapeHeader};
    let lines = tape_seed();
    let header: TapeHeader = serde_json::from_str(&lines[0]).expect("seed header");
    let good: Vec<TapeEntry> = lines[1..]
        .iter()
        .map(|l| serde_json::from_str(l).expect("seed entry"))
        .collect();
    let start = good[0].rx_ms();
    // A delta whose seq is u64::MAX, then another: a gap, not an overflow.
    let max_seq = lines
        .iter()
        .find(|l| l.contains("orderbook_delta") && l.contains("\\\"seq\\\""))
        .expect("a delta in the seed");
    let mut frame: Value = serde_json::from_str(max_seq).expect("entry");
    let mut text: Value =
        serde_json::from_str(frame["text"].as_str().expect("text")).expect("frame");
    text["seq"] = json!(u64::MAX);
    frame["text"] = Value::String(text.to_string());
    let delta: TapeEntry = serde_json::from_value(frame).expect("entry");
    let mut entries = good.clone();
    entries.push(delta.clone());
    entries.push(delta);
    let tape = Tape {
        header: header.clone(),
        entries,
        truncated: false,
    };
    backtest::run(&tape, &BacktestConfig::new(Vec::new()), &mut |_, _| {});
    for corrupt in [i64::MAX, i64::MIN, start + 400 * 365 * 86_400_000, -1, 0] {
        for at in [0, good.len() / 2, good.len() - 1] {
            let mut entries = good.clone();
            entries[at] = TapeEntry::Note {
                rx_ms: corrupt,
                text: "corrupt time".into(),
            };
            let tape = Tape {
                header: header.clone(),
                entries,
                truncated: false,
            };
            let report = backtest::run(&tape, &BacktestConfig::new(Vec::new()), &mut |_, _| {});
            let samples = report.equity_csv().lines().count();
            assert!(
                samples < 50_000,
                "{samples} equity samples for time {corrupt} at {at}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The simulator's write path: what its clients send, after the wire decoder let it through.

#[derive(Debug, Clone)]
struct OrderFields {
    ticker: usize,
    bid: bool,
    count: i64,
    price: i64,
    expiration_s: Option<i64>,
    tif: u8,
    maker_stp: bool,
    flags: (Option<bool>, Option<bool>, Option<bool>),
    subaccount: Option<u32>,
    client_order_id: Option<u8>,
    group: Option<usize>,
    exchange_index: Option<i32>,
}

#[derive(Debug, Clone)]
enum SimOp {
    Create {
        user: u8,
        order: OrderFields,
    },
    Batch {
        user: u8,
        orders: Vec<OrderFields>,
    },
    Amend {
        user: u8,
        target: usize,
        order: OrderFields,
        new_id: Option<u8>,
    },
    Decrease {
        user: u8,
        target: usize,
        by: Option<i64>,
        to: Option<i64>,
    },
    Cancel {
        user: u8,
        target: usize,
        subaccount: Option<u32>,
    },
    BatchCancel {
        user: u8,
        targets: Vec<usize>,
    },
    Group {
        user: u8,
        limit: Option<i64>,
        limit_fp: Option<i64>,
        subaccount: Option<u32>,
    },
    Trigger {
        user: u8,
        group: usize,
    },
    GroupLimit {
        user: u8,
        group: usize,
        limit: Option<i64>,
    },
    Advance {
        ms: i64,
    },
}

fn odd_count() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 0i64..=20_000,
        1 => Just(i64::MAX),
        1 => Just(i64::MAX / 100),
        1 => any::<u32>().prop_map(i64::from),
        1 => any::<i64>().prop_map(|v| v.saturating_abs()),
    ]
}

fn order_fields() -> impl Strategy<Value = OrderFields> {
    // Mostly valid orders, so that matching, fills and groups are reached; each field is odd
    // now and then.
    (
        (
            any::<usize>(),
            any::<bool>(),
            prop_oneof![12 => (1i64..=50).prop_map(|c| c * 100), 1 => odd_count()],
            prop_oneof![
                16 => (1i64..=99).prop_map(|c| c * 10_000),
                1 => 0i64..=1_000_000,
                1 => Just(0i64),
                1 => Just(1_000_000i64),
            ],
            prop_oneof![
                16 => Just(None),
                1 => any::<i64>().prop_map(Some),
                1 => (1_795_000_000i64..1_800_000_000).prop_map(Some),
                1 => prop::sample::select(vec![i64::MAX, i64::MIN]).prop_map(Some),
            ],
            0u8..3,
        ),
        (
            any::<bool>(),
            (
                prop::option::of(any::<bool>()),
                prop::option::of(any::<bool>()),
                prop_oneof![4 => Just(None), 1 => any::<bool>().prop_map(Some)],
            ),
            prop_oneof![
                12 => Just(None),
                2 => (0u32..3).prop_map(Some),
                1 => any::<u32>().prop_map(Some),
            ],
            prop_oneof![3 => Just(None), 1 => (0u8..8).prop_map(Some)],
            prop_oneof![4 => Just(None), 1 => any::<usize>().prop_map(Some)],
            prop_oneof![
                16 => Just(None),
                1 => Just(Some(0i32)),
                1 => any::<i32>().prop_map(Some),
            ],
        ),
    )
        .prop_map(
            |(
                (ticker, bid, count, price, expiration_s, tif),
                (maker_stp, flags, subaccount, client_order_id, group, exchange_index),
            )| OrderFields {
                ticker,
                bid,
                count,
                price,
                expiration_s,
                tif,
                maker_stp,
                flags,
                subaccount,
                client_order_id,
                group,
                exchange_index,
            },
        )
}

fn sim_op() -> impl Strategy<Value = SimOp> {
    let user = 0u8..3;
    prop_oneof![
        6 => (user.clone(), order_fields()).prop_map(|(user, order)| SimOp::Create { user, order }),
        1 => (user.clone(), prop::collection::vec(order_fields(), 0..5))
            .prop_map(|(user, orders)| SimOp::Batch { user, orders }),
        2 => (user.clone(), any::<usize>(), order_fields(), prop::option::of(0u8..4))
            .prop_map(|(user, target, order, new_id)| SimOp::Amend { user, target, order, new_id }),
        2 => (user.clone(), any::<usize>(), prop::option::of(odd_count()), prop::option::of(odd_count()))
            .prop_map(|(user, target, by, to)| SimOp::Decrease { user, target, by, to }),
        2 => (user.clone(), any::<usize>(), prop::option::of(0u32..3))
            .prop_map(|(user, target, subaccount)| SimOp::Cancel { user, target, subaccount }),
        1 => (user.clone(), prop::collection::vec(any::<usize>(), 0..4))
            .prop_map(|(user, targets)| SimOp::BatchCancel { user, targets }),
        1 => (user.clone(), prop::option::of(prop_oneof![0i64..50, any::<i64>()]), prop::option::of(odd_count()), prop::option::of(0u32..3))
            .prop_map(|(user, limit, limit_fp, subaccount)| SimOp::Group { user, limit, limit_fp, subaccount }),
        1 => (user.clone(), any::<usize>()).prop_map(|(user, group)| SimOp::Trigger { user, group }),
        1 => (user, any::<usize>(), prop::option::of(prop_oneof![0i64..50, any::<i64>()]))
            .prop_map(|(user, group, limit)| SimOp::GroupLimit { user, group, limit }),
        1 => prop_oneof![0i64..5_000, 0i64..3_600_000].prop_map(|ms| SimOp::Advance { ms }),
    ]
}

#[test]
fn fuzz_simulator_writes() {
    use kalshi_desk::core::market::Ticker;
    use kalshi_desk::kalshi::wire::{
        AmendOrderV2Request, BatchCancelOrderV2, BatchCancelOrdersV2Request,
        BatchCreateOrdersV2Request, BookSide, CreateOrderGroupRequest, CreateOrderV2Request,
        DecreaseOrderV2Request, SelfTradePrevention, TimeInForce, UpdateOrderGroupLimitRequest,
    };
    use kalshi_desk::sim::server::{SimConfig, SimServer};

    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sim = runtime
        .block_on(SimServer::start(SimConfig {
            key_dir: dir.path().join("keys"),
            flow: false,
            rate_limits: None,
            seed: 5,
            markets: 4,
            ..SimConfig::default()
        }))
        .expect("simulator");
    let users = ["alice", "bob", "poor"];
    let base = sim.exchange_write(|exchange| {
        exchange.open_account("alice", Money::from_cents(100_000_000));
        exchange.open_account("bob", Money::from_cents(100_000_000));
        exchange.open_account("poor", Money::from_cents(1));
        exchange.clone()
    });
    // Real markets five times over, so that an unknown ticker is the exception.
    let real: Vec<Ticker> = base.market_states().map(|m| m.ticker.clone()).collect();
    let tickers: Vec<Ticker> = std::iter::repeat_n(real.iter().cloned(), 5)
        .flatten()
        .chain([Ticker::from("NO-SUCH-MARKET"), Ticker::from("")])
        .collect();
    let start_ms = kalshi_desk::runtime::clock::wall_ms();
    let to_request = |o: &OrderFields, groups: &[String]| CreateOrderV2Request {
        ticker: tickers[o.ticker % tickers.len()].clone(),
        client_order_id: o.client_order_id.map(|c| format!("c{c}")),
        side: if o.bid { BookSide::Bid } else { BookSide::Ask },
        count: Count::from_centi(o.count),
        price: Price::from_micros(o.price).unwrap_or(Price::ZERO),
        expiration_time: o.expiration_s,
        time_in_force: match o.tif {
            0 => TimeInForce::GoodTillCanceled,
            1 => TimeInForce::ImmediateOrCancel,
            _ => TimeInForce::FillOrKill,
        },
        post_only: o.flags.0,
        self_trade_prevention_type: if o.maker_stp {
            SelfTradePrevention::Maker
        } else {
            SelfTradePrevention::TakerAtCross
        },
        cancel_order_on_pause: o.flags.1,
        reduce_only: o.flags.2,
        subaccount: o.subaccount,
        order_group_id: o
            .group
            .and_then(|g| groups.get(g % groups.len().max(1)).cloned()),
        exchange_index: o.exchange_index,
    };
    let accepted = std::sync::atomic::AtomicUsize::new(0);
    let wire_events = std::sync::atomic::AtomicUsize::new(0);
    fuzz(
        "simulator_writes",
        300,
        prop::collection::vec(sim_op(), 1..24),
        |ops| {
            let mut exchange = base.clone();
            let mut now = start_ms;
            let mut orders: Vec<String> = vec!["not-an-order".into()];
            let mut groups: Vec<String> = vec!["not-a-group".into()];
            let pick = |list: &[String], i: usize| list[i % list.len()].clone();
            for op in &ops {
                now += 1;
                match op {
                    SimOp::Create { user, order } => {
                        let request = to_request(order, &groups);
                        if let Ok(ack) = exchange.create_order(users[*user as usize], &request, now)
                        {
                            orders.push(ack.order_id);
                        }
                    }
                    SimOp::Batch {
                        user,
                        orders: items,
                    } => {
                        let request = BatchCreateOrdersV2Request {
                            orders: items.iter().map(|o| to_request(o, &groups)).collect(),
                        };
                        if let Ok(response) =
                            exchange.batch_create_orders(users[*user as usize], &request, now)
                        {
                            orders.extend(response.orders.into_iter().filter_map(|r| r.order_id));
                        }
                    }
                    SimOp::Amend {
                        user,
                        target,
                        order,
                        new_id,
                    } => {
                        let base_request = to_request(order, &groups);
                        let request = AmendOrderV2Request {
                            ticker: base_request.ticker,
                            side: base_request.side,
                            price: base_request.price,
                            count: base_request.count,
                            client_order_id: base_request.client_order_id,
                            updated_client_order_id: new_id.map(|c| format!("c{c}")),
                            expiration_time: base_request.expiration_time,
                            exchange_index: base_request.exchange_index,
                        };
                        let _ = exchange.amend_order(
                            users[*user as usize],
                            &pick(&orders, *target),
                            order.subaccount,
                            &request,
                            now,
                        );
                    }
                    SimOp::Decrease {
                        user,
                        target,
                        by,
                        to,
                    } => {
                        let request = DecreaseOrderV2Request {
                            reduce_by: by.map(Count::from_centi),
                            reduce_to: to.map(Count::from_centi),
                            exchange_index: None,
                            market_ticker: None,
                        };
                        let _ = exchange.decrease_order(
                            users[*user as usize],
                            &pick(&orders, *target),
                            None,
                            &request,
                            now,
                        );
                    }
                    SimOp::Cancel {
                        user,
                        target,
                        subaccount,
                    } => {
                        let _ = exchange.cancel_order(
                            users[*user as usize],
                            &pick(&orders, *target),
                            *subaccount,
                            now,
                        );
                    }
                    SimOp::BatchCancel { user, targets } => {
                        let request = BatchCancelOrdersV2Request {
                            orders: targets
                                .iter()
                                .map(|t| BatchCancelOrderV2 {
                                    order_id: pick(&orders, *t),
                                    subaccount: None,
                                    exchange_index: None,
                                    market_ticker: None,
                                })
                                .collect(),
                        };
                        let _ = exchange.batch_cancel_orders(users[*user as usize], &request, now);
                    }
                    SimOp::Group {
                        user,
                        limit,
                        limit_fp,
                        subaccount,
                    } => {
                        let request = CreateOrderGroupRequest {
                            subaccount: *subaccount,
                            contracts_limit: *limit,
                            contracts_limit_fp: limit_fp.map(Count::from_centi),
                            exchange_index: None,
                        };
                        if let Ok(group) =
                            exchange.create_order_group(users[*user as usize], &request, now)
                        {
                            groups.push(group.order_group_id);
                        }
                    }
                    SimOp::Trigger { user, group } => {
                        let _ = exchange.trigger_order_group(
                            users[*user as usize],
                            &pick(&groups, *group),
                            None,
                            now,
                        );
                    }
                    SimOp::GroupLimit { user, group, limit } => {
                        let request = UpdateOrderGroupLimitRequest {
                            contracts_limit: *limit,
                            contracts_limit_fp: None,
                        };
                        let _ = exchange.update_order_group_limit(
                            users[*user as usize],
                            &pick(&groups, *group),
                            None,
                            &request,
                            now,
                        );
                    }
                    SimOp::Advance { ms } => {
                        now += ms;
                        exchange.advance(now);
                    }
                }
            }
            // Every book the exchange shows is uncrossed (YES bid + NO bid < $1), sizes positive.
            for ticker in &tickers {
                if let Some((yes_bids, no_bids)) = exchange.book_levels(ticker.as_str()) {
                    prop_assert!(
                        yes_bids
                            .iter()
                            .chain(&no_bids)
                            .all(|(_, size)| size.is_positive())
                    );
                    let best_yes = yes_bids.iter().map(|(p, _)| p.micros()).max();
                    let best_no = no_bids.iter().map(|(p, _)| p.micros()).max();
                    if let (Some(yes), Some(no)) = (best_yes, best_no) {
                        prop_assert!(
                            yes + no < 1_000_000,
                            "{} crossed: yes {} no {}",
                            ticker,
                            yes,
                            no
                        );
                    }
                }
            }
            let events = exchange.take_wire_events();
            accepted.fetch_add(orders.len() - 1, std::sync::atomic::Ordering::Relaxed);
            wire_events.fetch_add(events.len(), std::sync::atomic::Ordering::Relaxed);
            Ok(())
        },
    );
    runtime.block_on(sim.shutdown());
    // The ops must get past validation often enough to exercise matching.
    let (accepted, wire_events) = (accepted.into_inner(), wire_events.into_inner());
    eprintln!("simulator_writes: {accepted} orders accepted, {wire_events} wire events");
    assert!(accepted >= 100, "only {accepted} orders accepted");
}
