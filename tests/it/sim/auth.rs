//! Signatures: RSA-PSS and Ed25519 accepted; wrong key, stale timestamp, missing headers and a
//! tampered path refused with 401; the WS upgrade is signed too.

use super::harness::{Reply, Sim, check_error_shape, error_code, start};
use kalshi_desk::kalshi::auth::{HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, KeyKind};
use kalshi_desk::runtime::clock::wall_ms;
use kalshi_desk::sim::server::variants::WsAuthFailure;
use reqwest::Method;
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
