//! JSON-schema validation of REST bodies and WS frames against Kalshi's own spec files
//! (`tests/fixtures/kalshi/openapi-3.27.0.json`, `asyncapi-2026-08-22.json`), for any test
//! that wants to prove a body is wire-faithful (the simulator's tests run every body through it).
//!
//! - [`validate_rest_response`]: `(method, path, status, body)`; `path` is a spec template
//!   (`/portfolio/events/orders/{order_id}`) or a concrete path (`/portfolio/events/orders/abc`,
//!   with or without the `/trade-api/v2` prefix, query ignored).
//! - [`validate_rest_request`]: a request body against the operation's `requestBody` schema.
//! - [`validate_rest_schema`]: any `components/schemas` entry by name (`Market`, `Order`).
//! - [`validate_ws_message`]: a WS frame against an AsyncAPI message payload, named by message
//!   key (`orderbookDelta`), message name, or wire `type`/`cmd` (`orderbook_delta`, `subscribe`).
//!
//! OpenAPI 3.0 is not JSON Schema: `nullable: true` is rewritten to `anyOf [schema, null]`
//! (AsyncAPI uses it too). `format` is checked (`date-time`, `uuid`); unknown formats (`int64`,
//! `double`) are ignored. Each compiled validator is cached, so repeated checks are cheap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::Validator;
use serde_json::{Map, Value, json};

const OPENAPI: &str = include_str!("../fixtures/kalshi/openapi-3.27.0.json");
const ASYNCAPI: &str = include_str!("../fixtures/kalshi/asyncapi-2026-08-22.json");
const REST_PREFIX: &str = "/trade-api/v2";
const MAX_REPORTED: usize = 8;

struct Spec {
    /// The spec with `nullable` rewritten; every validator's root document.
    doc: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

impl Spec {
    fn load(text: &str) -> Spec {
        let mut doc: Value = serde_json::from_str(text).expect("spec fixture is JSON");
        rewrite_nullable(&mut doc);
        apply_errata(&mut doc);
        Spec {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The validator for the schema at JSON pointer `pointer` (`#/components/schemas/Market`),
    /// resolved inside the whole spec so every `$ref` works.
    fn validator(&self, pointer: &str) -> Result<Arc<Validator>, String> {
        let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.get(pointer) {
            return Ok(v.clone());
        }
        let target = pointer.strip_prefix('#').unwrap_or(pointer);
        if self.doc.pointer(target).is_none() {
            return Err(format!("no schema at {pointer}"));
        }
        let mut root = self.doc.clone();
        let Value::Object(map) = &mut root else {
            return Err("spec root is not an object".into());
        };
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert("$ref".into(), Value::String(uri_fragment(pointer)));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&root)
            .map_err(|e| format!("cannot compile {pointer}: {e}"))?;
        let validator = Arc::new(validator);
        cache.insert(pointer.to_string(), validator.clone());
        Ok(validator)
    }

    fn check(&self, pointer: &str, instance: &Value) -> Result<(), String> {
        let validator = self.validator(pointer)?;
        if validator.is_valid(instance) {
            return Ok(());
        }
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .take(MAX_REPORTED)
            .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
            .collect();
        Err(format!("{pointer}: {}", errors.join("; ")))
    }
}

fn openapi() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::load(OPENAPI))
}

fn asyncapi() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::load(ASYNCAPI))
}

/// Fixes for contradictions inside Kalshi's own spec, so that real traffic validates:
/// - AsyncAPI `marketTicker` has pattern `^[A-Z0-9-]+$`, but real tickers and the spec's own
///   examples contain `.` (`FED-23DEC-T3.00`, `HIGHNY-22DEC23-B53.5`): `.` is allowed.
/// - `DELETE /portfolio/events/orders` (cancel all; 204, no body) is in the 3.34 SDK, not in
///   the 3.27 file (DIGEST.md section 4): it is added with the SDK's statuses.
fn apply_errata(doc: &mut Value) {
    if let Some(pattern) = doc.pointer_mut("/components/schemas/marketTicker/pattern") {
        *pattern = json!("^[A-Z0-9.-]+$");
    }
    if let Some(Value::Object(path)) = doc.pointer_mut("/paths/~1portfolio~1events~1orders") {
        let error = json!({"content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/ErrorResponse"}}}});
        path.entry("delete").or_insert_with(|| {
            json!({
                "operationId": "CancelAllOrdersV2",
                "responses": {
                    "204": {"description": "All resting orders cancelled"},
                    "401": error.clone(),
                    "429": error.clone(),
                    "500": error,
                }
            })
        });
    }
}

/// OpenAPI 3.0 `nullable: true` → `anyOf: [schema without nullable, {type: null}]`.
fn rewrite_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                rewrite_nullable(child);
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                let inner = std::mem::take(map);
                let mut wrapped = Map::new();
                wrapped.insert(
                    "anyOf".into(),
                    json!([Value::Object(inner), {"type": "null"}]),
                );
                *map = wrapped;
            } else if map.get("nullable") == Some(&Value::Bool(false)) {
                map.remove("nullable");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_nullable),
        _ => {}
    }
}

/// A JSON pointer as a URI fragment: characters a fragment may not hold (`{`, `}`, space, …)
/// are percent-encoded, so path templates like `/markets/{ticker}` can be referenced.
fn uri_fragment(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for byte in pointer.bytes() {
        let allowed = byte.is_ascii_alphanumeric() || b"#/-._~!$&'()*+,;=:@?".contains(&byte);
        if allowed {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// JSON-pointer escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The spec's path template for `path` (exact template, or a concrete path matched segment by
/// segment; the template with the fewest parameters wins, so `/portfolio/orders/queue_positions`
/// beats `/portfolio/orders/{order_id}`).
fn find_path_template(paths: &Map<String, Value>, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let path = path.strip_prefix(REST_PREFIX).unwrap_or(path);
    if paths.contains_key(path) {
        return Some(path.to_string());
    }
    let wanted: Vec<&str> = path.split('/').collect();
    paths
        .keys()
        .filter(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == wanted.len()
                && parts
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| t == w || (t.starts_with('{') && t.ends_with('}')))
        })
        .min_by_key(|template| template.matches('{').count())
        .cloned()
}

fn operation_pointer(method: &str, path: &str) -> Result<String, String> {
    let spec = openapi();
    let paths = spec
        .doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("spec has no paths")?;
    let template = find_path_template(paths, path).ok_or_else(|| format!("no path {path}"))?;
    let method = method.to_ascii_lowercase();
    if paths[&template].get(&method).is_none() {
        return Err(format!("no operation {method} {template}"));
    }
    Ok(format!("#/paths/{}/{method}", escape(&template)))
}

/// Follow a `$ref` to `#/components/responses/...` or `#/components/requestBodies/...`.
fn follow_ref(doc: &Value, pointer: String) -> String {
    match doc
        .pointer(pointer.trim_start_matches('#'))
        .and_then(|v| v.get("$ref"))
        .and_then(Value::as_str)
    {
        Some(target) => target.to_string(),
        None => pointer,
    }
}

/// Validate a REST response body against the spec's schema for `(method, path, status)`.
/// A status the operation does not document is an error; a documented status without a JSON
/// schema (e.g. a bare "500 Internal server error") accepts any body.
pub fn validate_rest_response(
    method: &str,
    path_template: &str,
    status: u16,
    body: &Value,
) -> Result<(), String> {
    let spec = openapi();
    let op = operation_pointer(method, path_template)?;
    let responses = spec
        .doc
        .pointer(&format!("{}/responses", op.trim_start_matches('#')))
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{method} {path_template} has no responses"))?;
    let code = status.to_string();
    let key = if responses.contains_key(&code) {
        code
    } else if responses.contains_key("default") {
        "default".to_string()
    } else {
        return Err(format!(
            "{method} {path_template} does not document status {status} (has {:?})",
            responses.keys().collect::<Vec<_>>()
        ));
    };
    let response = follow_ref(&spec.doc, format!("{op}/responses/{key}"));
    let schema = format!("{response}/content/application~1json/schema");
    if spec.doc.pointer(schema.trim_start_matches('#')).is_none() {
        return Ok(());
    }
    spec.check(&schema, body)
        .map_err(|e| format!("{method} {path_template} {status}: {e}"))
}

/// Validate a REST request body against the operation's `requestBody` schema.
pub fn validate_rest_request(
    method: &str,
    path_template: &str,
    body: &Value,
) -> Result<(), String> {
    let spec = openapi();
    let op = operation_pointer(method, path_template)?;
    let request = follow_ref(&spec.doc, format!("{op}/requestBody"));
    let schema = format!("{request}/content/application~1json/schema");
    if spec.doc.pointer(schema.trim_start_matches('#')).is_none() {
        return Err(format!("{method} {path_template} takes no JSON body"));
    }
    spec.check(&schema, body)
        .map_err(|e| format!("{method} {path_template} request: {e}"))
}

/// Validate against `components/schemas/<name>` of the REST spec.
pub fn validate_rest_schema(component_name: &str, body: &Value) -> Result<(), String> {
    openapi().check(
        &format!("#/components/schemas/{}", escape(component_name)),
        body,
    )
}

/// AsyncAPI message keys whose payload matches `name`: the key itself, the message `name`, or
/// the payload's `type`/`cmd` constant.
fn ws_candidates(name: &str) -> Vec<String> {
    let doc = &asyncapi().doc;
    let Some(messages) = doc
        .pointer("/components/messages")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    if messages.contains_key(name) {
        return vec![name.to_string()];
    }
    let resolve = |schema: &Value| -> Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => doc
                .pointer(r.trim_start_matches('#'))
                .cloned()
                .unwrap_or(Value::Null),
            None => schema.clone(),
        }
    };
    let constant = |payload: &Value, field: &str| -> Option<String> {
        let mut parts = vec![payload.clone()];
        if let Some(all) = payload.get("allOf").and_then(Value::as_array) {
            parts.extend(all.iter().map(resolve));
        }
        parts.iter().rev().find_map(|p| {
            p.pointer(&format!("/properties/{field}/const"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    };
    messages
        .iter()
        .filter(|(_, message)| {
            let payload = resolve(message.get("payload").unwrap_or(&Value::Null));
            message.get("name").and_then(Value::as_str) == Some(name)
                || constant(&payload, "type").as_deref() == Some(name)
                || constant(&payload, "cmd").as_deref() == Some(name)
        })
        .map(|(key, _)| key.clone())
        .collect()
}

/// Validate a WS frame (or command) against the AsyncAPI payload schema of the message named
/// `message_name_or_type`. When several messages share a `type` (`ok`: update and list
/// replies; `update_subscription`: three command forms) any one passing is enough.
pub fn validate_ws_message(message_name_or_type: &str, frame: &Value) -> Result<(), String> {
    let candidates = ws_candidates(message_name_or_type);
    if candidates.is_empty() {
        return Err(format!("no AsyncAPI message {message_name_or_type:?}"));
    }
    let mut failures = Vec::new();
    for key in &candidates {
        let pointer = format!("#/components/messages/{}/payload", escape(key));
        match asyncapi().check(&pointer, frame) {
            Ok(()) => return Ok(()),
            Err(e) => failures.push(e),
        }
    }
    Err(failures.join(" | "))
}
