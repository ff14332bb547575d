//! Request authentication, the exchange's way (DIGEST.md section 2): three headers, a signature
//! over `timestamp_ms ‖ METHOD ‖ path-without-query` checked with the key's public half (RSA-PSS
//! or Ed25519), and a timestamp no further than [`TIMESTAMP_TOLERANCE_MS`] from the server clock.

use crate::kalshi::auth::{HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use crate::sim::keys::KeyRegistry;
use http::HeaderMap;

/// How far a request's timestamp may be from the server's clock (Kalshi's window is not
/// published; 30 s either way is what the simulator enforces).
pub const TIMESTAMP_TOLERANCE_MS: i64 = 30_000;

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: String,
    pub user_id: String,
}

/// Why a request was not authenticated. Every variant is a 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("header {0} is not valid text")]
    UnreadableHeader(&'static str),
    #[error("unknown API key id")]
    UnknownKey,
    #[error("{HEADER_TIMESTAMP} must be Unix milliseconds")]
    MalformedTimestamp,
    #[error("request timestamp is {skew_ms} ms away from the exchange clock (more than 30 s)")]
    StaleTimestamp { skew_ms: i64 },
    #[error("signature does not verify")]
    BadSignature,
}

/// Whether the request carries any of the auth headers (a public endpoint checks them only then).
pub fn has_auth_headers(headers: &HeaderMap) -> bool {
    [HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE]
        .iter()
        .any(|name| headers.contains_key(*name))
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, AuthFailure> {
    headers
        .get(name)
        .ok_or(AuthFailure::MissingHeader(name))?
        .to_str()
        .map_err(|_| AuthFailure::UnreadableHeader(name))
}

/// Check a request's signature. `path` is the request path from the root (a query is ignored);
/// `now_ms` is the server's wall clock.
pub fn verify_request(
    registry: &KeyRegistry,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    now_ms: i64,
) -> Result<Caller, AuthFailure> {
    let key_id = header(headers, HEADER_KEY)?;
    let timestamp = header(headers, HEADER_TIMESTAMP)?;
    let signature = header(headers, HEADER_SIGNATURE)?;
    let ts_ms: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| AuthFailure::MalformedTimestamp)?;
    let key = registry.lookup(key_id).ok_or(AuthFailure::UnknownKey)?;
    let skew_ms = ts_ms.saturating_sub(now_ms);
    if skew_ms.abs() > TIMESTAMP_TOLERANCE_MS {
        return Err(AuthFailure::StaleTimestamp { skew_ms });
    }
    key.verifying_key
        .verify(ts_ms, method, path, signature)
        .map_err(|_| AuthFailure::BadSignature)?;
    Ok(Caller {
        key_id: key_id.to_string(),
        user_id: key.user_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kalshi::auth::{KeyKind, Signer, generate_key_pair};

    const USER: &str = "0a5e4000-0000-4000-8000-000000000001";

    fn signed(signer: &Signer, ts_ms: i64, method: &str, path: &str) -> HeaderMap {
        let auth = signer.sign(ts_ms, method, path);
        let mut headers = HeaderMap::new();
        for (name, value) in auth.pairs() {
            headers.insert(name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn accepts_good_signatures_and_names_each_refusal() {
        let now = 1_764_000_000_000;
        for kind in [KeyKind::Ed25519, KeyKind::Rsa2048] {
            let pair = generate_key_pair(kind).unwrap();
            let signer = Signer::from_pem("key-1", &pair.private_pem, "test").unwrap();
            let mut registry = KeyRegistry::new();
            registry.register("key-1", USER, &pair.public_pem).unwrap();
            let path = "/trade-api/v2/portfolio/orders";

            let headers = signed(&signer, now, "GET", path);
            let caller =
                verify_request(&registry, &headers, "GET", &format!("{path}?limit=5"), now)
                    .unwrap();
            assert_eq!(caller.user_id, USER);

            assert_eq!(
                verify_request(&registry, &headers, "POST", path, now),
                Err(AuthFailure::BadSignature)
            );
            let stale = signed(&signer, now - 30_001, "GET", path);
            assert!(matches!(
                verify_request(&registry, &stale, "GET", path, now),
                Err(AuthFailure::StaleTimestamp { skew_ms: -30_001 })
            ));
            let edge = signed(&signer, now + 30_000, "GET", path);
            assert!(verify_request(&registry, &edge, "GET", path, now).is_ok());

            let mut missing = headers.clone();
            missing.remove(HEADER_SIGNATURE);
            assert_eq!(
                verify_request(&registry, &missing, "GET", path, now),
                Err(AuthFailure::MissingHeader(HEADER_SIGNATURE))
            );
            let other = signed(
                &Signer::from_pem("key-2", &pair.private_pem, "t").unwrap(),
                now,
                "GET",
                path,
            );
            assert_eq!(
                verify_request(&registry, &other, "GET", path, now),
                Err(AuthFailure::UnknownKey)
            );
        }
    }
}
