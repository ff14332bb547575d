//! Signatures: RSA-PSS and Ed25519 accepted; wrong key, stale timestamp, missing headers and a
//! tampered path refused with 401; the WS upgrade is signed too.

use super::harness::{Reply, Sim, check_error_shape, error_code, start};
use kalshi_desk::kalshi::auth::{HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, KeyKind};
use kalshi_desk::runtime::clock::wall_ms;
use kalshi_desk::sim::server::variants::WsAuthFailure;
use reqwest::Method;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

async fn balance_with(
    sim: &Sim,
    user: &super::harness::User,
    tweak: impl FnOnce(&mut reqwest::header::HeaderMap),
) -> Reply {
    let reply = sim
        .send_raw(Some(user), Method::GET, "/portfolio/balance", None, tweak)
        .await
        .expect("answered");
    if reply.status != 200 {
        check_error_shape(reply.status, &reply.body);
    }
    reply
}

#[tokio::test]
async fn rsa_and_ed25519_signatures_are_accepted() {
    let sim = start(|_| {}).await;
    for kind in [KeyKind::Rsa2048, KeyKind::Ed25519] {
        let user = sim.new_user(kind);
        let reply = sim.get(&user, "/portfolio/balance").await;
        assert_eq!(reply.status, 200, "{kind:?}: {}", reply.body);
        assert_eq!(
            reply.body["balance"], 10_000_000,
            "a new member starts with $100,000"
        );
        // The query string is not signed.
        let reply = sim.get(&user, "/portfolio/orders?limit=5").await;
        assert_eq!(reply.status, 200);
    }
    let main = sim.main_user();
    assert_eq!(sim.get(&main, "/portfolio/balance").await.status, 200);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn wrong_key_stale_timestamp_missing_headers_and_tampering_are_401() {
    let sim = start(|_| {}).await;
    let user = sim.new_user(KeyKind::Ed25519);
    let other = sim.new_user(KeyKind::Ed25519);

    // Signed by another member's key but claiming this key id.
    let forged = balance_with(&sim, &other, |h| {
        h.insert(HEADER_KEY, user.signer.key_id().parse().unwrap());
    })
    .await;
    assert_eq!(forged.status, 401, "{}", forged.body);

    // An unknown key id.
    let unknown = balance_with(&sim, &user, |h| {
        h.insert(
            HEADER_KEY,
            "00000000-0000-4000-8000-000000000000".parse().unwrap(),
        );
    })
    .await;
    assert_eq!(unknown.status, 401);

    // A timestamp 31 s old, correctly signed.
    let stale_ts = wall_ms() - 31_000;
    let stale = balance_with(&sim, &user, |h| {
        let signed = user
            .signer
            .sign(stale_ts, "GET", "/trade-api/v2/portfolio/balance");
        for (name, value) in signed.pairs() {
            h.insert(name, value.parse().unwrap());
        }
    })
    .await;
    assert_eq!(stale.status, 401);
    assert_eq!(error_code(&stale.body), "unauthorized");

    // Each header missing in turn.
    for header in [HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE] {
        let missing = balance_with(&sim, &user, |h| {
            h.remove(header);
        })
        .await;
        assert_eq!(missing.status, 401, "without {header}");
    }

    // A signature over another path.
    let tampered = balance_with(&sim, &user, |h| {
        let signed = user
            .signer
            .sign(wall_ms(), "GET", "/trade-api/v2/portfolio/positions");
        h.insert(HEADER_SIGNATURE, signed.signature.parse().unwrap());
    })
    .await;
    assert_eq!(tampered.status, 401);

    // Public endpoints need no signature; private ones do.
    let public = sim.call(None, Method::GET, "/exchange/status", None).await;
    assert_eq!(public.status, 200);
    let private = sim
        .send_raw(None, Method::GET, "/portfolio/balance", None, |_| {})
        .await
        .unwrap();
    assert_eq!(private.status, 401);
    check_error_shape(401, &private.body);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn the_ws_upgrade_is_signed() {
    for (variant, status) in [
        (WsAuthFailure::Unauthorized401, 401),
        (WsAuthFailure::Forbidden403, 403),
    ] {
        let sim = start(|c| c.variants.ws_auth_failure = variant).await;
        let user = sim.new_user(KeyKind::Rsa2048);
        let mut ws = sim.ws(&user).await;
        let id = ws
            .command("list_subscriptions", serde_json::Value::Null)
            .await;
        let reply = ws.frame().await;
        assert_eq!(reply["id"], id);
        assert_eq!(reply["type"], "ok");

        // Unsigned, and signed over the wrong path.
        let unsigned = sim.handle.ws_url.as_str().into_client_request().unwrap();
        match tokio_tungstenite::connect_async(unsigned).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), status)
            }
            other => panic!("unsigned upgrade was not refused: {other:?}"),
        }
        let mut wrong_path = sim.handle.ws_url.as_str().into_client_request().unwrap();
        for (name, value) in user
            .signer
            .sign(wall_ms(), "GET", "/trade-api/v2/ws")
            .pairs()
        {
            wrong_path
                .headers_mut()
                .insert(name, value.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(wrong_path).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), status)
            }
            other => panic!("badly signed upgrade was not refused: {other:?}"),
        }
        sim.handle.shutdown().await;
    }
}

#[tokio::test]
async fn the_key_registry_is_reused_across_starts_and_keys_new_keys_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let key_dir = dir.path().join("keys");
    // What `kdesk keys new` does: a key pair in the directory, registered in keys.toml.
    let made = kalshi_desk::sim::keys::create_key(
        &key_dir,
        KeyKind::Rsa2048,
        "11111111-2222-4333-8444-555555555555",
    )
    .unwrap();
    let first = start(|c| {
        c.key_dir = key_dir.clone();
        c.user_id = "11111111-2222-4333-8444-555555555555".into();
    })
    .await;
    assert_eq!(
        first.handle.key_id, made.key_id,
        "the registered key is the one the simulator accepts"
    );
    assert_eq!(first.handle.key_file, made.private_key_path);
    let user = first.main_user();
    assert_eq!(first.get(&user, "/portfolio/balance").await.status, 200);
    first.handle.shutdown().await;

    // Without an explicit member, the simulator takes the key `kdesk keys new` left there.
    let reused = start(|c| c.key_dir = key_dir.clone()).await;
    assert_eq!(reused.handle.key_id, made.key_id);
    assert_eq!(
        reused.handle.user_id,
        "11111111-2222-4333-8444-555555555555"
    );
    reused.handle.shutdown().await;

    // A simulator for another member generates (and registers) its own key next to it.
    let second = start(|c| {
        c.key_dir = key_dir.clone();
        c.user_id = "99999999-2222-4333-8444-555555555555".into();
    })
    .await;
    assert_ne!(second.handle.key_id, made.key_id);
    let registry = kalshi_desk::sim::keys::KeyRegistry::load(&second.handle.registry_path).unwrap();
    assert_eq!(registry.len(), 2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&second.handle.key_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let user = second.main_user();
    assert_eq!(second.get(&user, "/portfolio/balance").await.status, 200);
    second.handle.shutdown().await;
}

/// Members are UUIDs (AsyncAPI types `user_order.user_id` as `uuid`): the simulator refuses any
/// other member id, its `user_order` frames carry the UUID, and the schema check used on every
/// frame would catch a non-UUID id.
#[tokio::test]
async fn members_are_uuids_and_the_schema_check_would_catch_one_that_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let refused = kalshi_desk::sim::server::SimServer::start(kalshi_desk::sim::server::SimConfig {
        key_dir: dir.path().join("keys"),
        user_id: "sim-user".into(),
        flow: false,
        ..Default::default()
    })
    .await;
    let Err(err) = refused else {
        panic!("a non-UUID member is refused");
    };
    let err = err.to_string();
    assert!(err.contains("\"sim-user\" is not a UUID"), "{err}");

    let sim = start(|c| c.flow = false).await;
    let pair = kalshi_desk::kalshi::auth::generate_key_pair(KeyKind::Ed25519).unwrap();
    assert!(
        sim.handle
            .register_key("another-key", "sim-user", &pair.public_pem)
            .is_err()
    );
    let user = sim.main_user();
    assert_eq!(user.user_id, kalshi_desk::sim::server::DEFAULT_USER_ID);
    let ticker = sim.open_market(&user, "KXFEDDECISION").await;
    let mut ws = sim.ws(&user).await;
    ws.subscribe(json!({"channels": ["user_orders"]})).await;
    let placed = sim.order(&user, &ticker, "bid", "0.01", "1").await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    // `frame` validates every frame against the AsyncAPI schema (formats included).
    let (frame, _) = ws.until(|f| f["type"] == "user_order").await;
    assert_eq!(frame["msg"]["user_id"], user.user_id);
    let mut renamed = frame.clone();
    renamed["msg"]["user_id"] = json!("sim-user");
    assert!(
        crate::schema::validate_ws_message("user_order", &renamed).is_err(),
        "a non-UUID user_id passed the schema check"
    );
    sim.handle.shutdown().await;
}
