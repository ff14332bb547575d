//! API keys and request signing (DIGEST.md section 2).
//!
//! Every signed request carries three headers; the signature covers
//! `timestamp_ms ‖ METHOD ‖ path` where `path` starts at `/trade-api/…` and has its query cut.
//! No body, no host. RSA keys sign with RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) and blinding;
//! Ed25519 keys sign the same text directly. Both are first-class (Ed25519 is about 20x faster).
//!
//! Key material never leaves this module in printable form: [`Signer`] and [`GeneratedKey`] have
//! redacting `Debug` impls, and errors name the file and the problem, never the contents.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};
use rsa::traits::PublicKeyParts as _;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const HEADER_KEY: &str = "KALSHI-ACCESS-KEY";
pub const HEADER_TIMESTAMP: &str = "KALSHI-ACCESS-TIMESTAMP";
pub const HEADER_SIGNATURE: &str = "KALSHI-ACCESS-SIGNATURE";

/// Why a key could not be loaded or a signature could not be made or checked.
/// Messages name the file (or other source) and the problem, never key material.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("key file {path}: cannot read it: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "key file {path}: permissions {mode:o} let other users read it; run `chmod 600 {path}` \
         (or pass --allow-insecure-key)"
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("{source_name}: the key is empty")]
    Empty { source_name: String },
    #[error("{source_name}: not a PEM key (expected a '-----BEGIN ... KEY-----' block)")]
    NotPem { source_name: String },
    #[error(
        "{source_name}: the key is passphrase-encrypted; decrypt it first \
         (openssl pkcs8 -in KEY -nocrypt -out KEY.pem)"
    )]
    Encrypted { source_name: String },
    #[error("{source_name}: unsupported key ({what}); Kalshi keys are RSA or Ed25519")]
    UnsupportedKey { source_name: String, what: String },
    #[error("{source_name}: malformed {kind} key")]
    Malformed {
        source_name: String,
        kind: &'static str,
    },
    #[error("signature is not valid base64")]
    SignatureEncoding,
    #[error("signature does not verify")]
    BadSignature,
    #[error("signing failed")]
    SigningFailed,
    #[error("key generation failed: {0}")]
    Generation(String),
}

/// The algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa2048,
    Ed25519,
}

impl KeyKind {
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "rsa",
            KeyKind::Ed25519 => "ed25519",
        }
    }
}

/// The text Kalshi signs: `ts_ms ‖ METHOD ‖ path`, with any query string cut off.
pub fn signing_message(ts_ms: i64, method: &str, path: &str) -> String {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let method = method.to_ascii_uppercase();
    format!("{ts_ms}{method}{path}")
}

/// The three authentication headers of one request.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthHeaders {
    pub key_id: String,
    pub timestamp: String,
    pub signature: String,
}

impl AuthHeaders {
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (HEADER_KEY, self.key_id.as_str()),
            (HEADER_TIMESTAMP, self.timestamp.as_str()),
            (HEADER_SIGNATURE, self.signature.as_str()),
        ]
    }
}

impl fmt::Debug for AuthHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The signature is not a secret, but it is noise in logs.
        f.debug_struct("AuthHeaders")
            .field("key_id", &self.key_id)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

enum PrivateKey {
    Rsa(Box<rsa::pss::SigningKey<Sha256>>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// Signs requests for one API key. Cheap to clone.
#[derive(Clone)]
pub struct Signer {
    key_id: Arc<str>,
    key: Arc<PrivateKey>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("kind", &self.kind())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Signer {
    /// Load a private key file, refusing one that other users can read unless
    /// `allow_insecure_permissions` is set.
    pub fn from_key_file(
        key_id: impl Into<String>,
        path: &Path,
        allow_insecure_permissions: bool,
    ) -> Result<Signer, AuthError> {
        let pem = read_key_file(path, allow_insecure_permissions)?;
        Signer::from_pem(key_id, &pem, &path.display().to_string())
    }

    /// Parse a PEM private key: PKCS#1 RSA, PKCS#8 RSA or PKCS#8 Ed25519. `source` names where
    /// it came from, for error messages.
    pub fn from_pem(
        key_id: impl Into<String>,
        pem: &str,
        source: &str,
    ) -> Result<Signer, AuthError> {
        let key = parse_private_pem(pem, source)?;
        Ok(Signer {
            key_id: Arc::from(key_id.into()),
            key: Arc::new(key),
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn kind(&self) -> KeyKind {
        match &*self.key {
            PrivateKey::Rsa(_) => KeyKind::Rsa2048,
            PrivateKey::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// Sign one request. `path` may carry a query string; it is not signed.
    pub fn sign(&self, ts_ms: i64, method: &str, path: &str) -> AuthHeaders {
        let message = signing_message(ts_ms, method, path);
        AuthHeaders {
            key_id: self.key_id.to_string(),
            timestamp: ts_ms.to_string(),
            signature: BASE64.encode(self.sign_bytes(message.as_bytes())),
        }
    }

    fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        match &*self.key {
            // rsa 0.10's PSS signer blinds the private-key operation with the OS RNG.
            PrivateKey::Rsa(key) => key.sign(message).to_vec(),
            PrivateKey::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
        }
    }

    /// The public half, for registering with the simulator.
    pub fn verifying_key(&self) -> VerifyingKey {
        match &*self.key {
            PrivateKey::Rsa(key) => VerifyingKey::Rsa(Box::new(
                rsa::pss::VerifyingKey::<Sha256>::new(key.as_ref().as_ref().to_public_key()),
            )),
            PrivateKey::Ed25519(key) => VerifyingKey::Ed25519(Box::new(key.verifying_key())),
        }
    }
}

fn read_key_file(path: &Path, allow_insecure_permissions: bool) -> Result<String, AuthError> {
    let unreadable = |reason: String| AuthError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let metadata = std::fs::metadata(path).map_err(|e| unreadable(e.kind().to_string()))?;
    if !metadata.is_file() {
        return Err(unreadable("not a regular file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 && !allow_insecure_permissions {
            return Err(AuthError::InsecurePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = allow_insecure_permissions;
    if metadata.len() > 64 * 1024 {
        return Err(unreadable("larger than any key file (64 KiB)".into()));
    }
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.kind().to_string()))?;
    String::from_utf8(bytes).map_err(|_| AuthError::NotPem {
        source_name: path.display().to_string(),
    })
}

/// The label of the first PEM block, e.g. `RSA PRIVATE KEY`.
fn pem_label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &pem[start..];
    let end = rest.find("-----")?;
    Some(&rest[..end])
}

fn parse_private_pem(pem: &str, source: &str) -> Result<PrivateKey, AuthError> {
    let source_name = source.to_string();
    if pem.trim().is_empty() {
        return Err(AuthError::Empty { source_name });
    }
    let Some(label) = pem_label(pem) else {
        return Err(AuthError::NotPem { source_name });
    };
    // Parse only the first block so trailing text (some downloads add a newline or a note)
    // does not matter.
    let pem = pem.trim();
    match label {
        "RSA PRIVATE KEY" => {
            if pem.contains("Proc-Type: 4,ENCRYPTED") {
                return Err(AuthError::Encrypted { source_name });
            }
            let key = rsa::PrivateKey::from_pkcs1_pem(pem).map_err(|_| AuthError::Malformed {
                source_name: source_name.clone(),
                kind: "PKCS#1 RSA",
            })?;
            rsa_signer(key, source_name)
        }
        "PRIVATE KEY" => {
            if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
                return Ok(PrivateKey::Ed25519(Box::new(key)));
            }
            match <rsa::PrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(pem) {
                Ok(key) => rsa_signer(key, source_name),
                Err(rsa::pkcs8::Error::KeyMalformed(_)) | Err(rsa::pkcs8::Error::Asn1(_)) => {
                    Err(AuthError::Malformed {
                        source_name,
                        kind: "PKCS#8",
                    })
                }
                Err(_) => Err(AuthError::UnsupportedKey {
                    source_name,
                    what: "a PKCS#8 key that is neither RSA nor Ed25519".into(),
                }),
            }
        }
        "ENCRYPTED PRIVATE KEY" => Err(AuthError::Encrypted { source_name }),
        "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(AuthError::UnsupportedKey {
            source_name,
            what: "a public key where the private key is needed".into(),
        }),
        "EC PRIVATE KEY" | "OPENSSH PRIVATE KEY" | "DSA PRIVATE KEY" => {
            Err(AuthError::UnsupportedKey {
                source_name,
                what: label.to_ascii_lowercase(),
            })
        }
        other => Err(AuthError::UnsupportedKey {
            source_name,
            what: format!("PEM block '{other}'"),
        }),
    }
}

fn rsa_signer(key: rsa::PrivateKey, source_name: String) -> Result<PrivateKey, AuthError> {
    let bits = key.size() * 8;
    if bits < 2048 {
        return Err(AuthError::UnsupportedKey {
            source_name,
            what: format!("RSA key of {bits} bits; at least 2048 are required"),
        });
    }
    // Salt length defaults to the digest length (32 bytes), as Kalshi requires.
    Ok(PrivateKey::Rsa(Box::new(
        rsa::pss::SigningKey::<Sha256>::new(key),
    )))
}

/// A public key that checks request signatures (the simulator's side).
#[derive(Clone)]
pub enum VerifyingKey {
    Rsa(Box<rsa::pss::VerifyingKey<Sha256>>),
    Ed25519(Box<ed25519_dalek::VerifyingKey>),
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyingKey::Rsa(_) => f.write_str("VerifyingKey(rsa)"),
            VerifyingKey::Ed25519(_) => f.write_str("VerifyingKey(ed25519)"),
        }
    }
}

impl VerifyingKey {
    /// Parse an SPKI public key PEM (`BEGIN PUBLIC KEY`), RSA or Ed25519.
    pub fn from_public_pem(pem: &str, source: &str) -> Result<VerifyingKey, AuthError> {
        let source_name = source.to_string();
        if pem.trim().is_empty() {
            return Err(AuthError::Empty { source_name });
        }
        match pem_label(pem) {
            Some("PUBLIC KEY") => {}
            Some("RSA PUBLIC KEY") => {
                use rsa::pkcs1::DecodeRsaPublicKey as _;
                let key = rsa::PublicKey::from_pkcs1_pem(pem.trim()).map_err(|_| {
                    AuthError::Malformed {
                        source_name,
                        kind: "PKCS#1 RSA public",
                    }
                })?;
                return Ok(VerifyingKey::Rsa(Box::new(rsa::pss::VerifyingKey::new(
                    key,
                ))));
            }
            Some(other) => {
                return Err(AuthError::UnsupportedKey {
                    source_name,
                    what: format!("PEM block '{other}' where a public key is needed"),
                });
            }
            None => return Err(AuthError::NotPem { source_name }),
        }
        let pem = pem.trim();
        if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            return Ok(VerifyingKey::Ed25519(Box::new(key)));
        }
        match <rsa::PublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_pem(pem) {
            Ok(key) => Ok(VerifyingKey::Rsa(Box::new(rsa::pss::VerifyingKey::new(
                key,
            )))),
            Err(_) => Err(AuthError::UnsupportedKey {
                source_name,
                what: "a public key that is neither RSA nor Ed25519".into(),
            }),
        }
    }

    pub fn kind(&self) -> KeyKind {
        match self {
            VerifyingKey::Rsa(_) => KeyKind::Rsa2048,
            VerifyingKey::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// Check a request's base64 signature over `ts_ms ‖ METHOD ‖ path-without-query`.
    pub fn verify(
        &self,
        ts_ms: i64,
        method: &str,
        path: &str,
        signature_b64: &str,
    ) -> Result<(), AuthError> {
        let message = signing_message(ts_ms, method, path);
        self.verify_bytes(message.as_bytes(), signature_b64)
    }

    /// Check a base64 signature over arbitrary bytes.
    pub fn verify_bytes(&self, message: &[u8], signature_b64: &str) -> Result<(), AuthError> {
        let signature = BASE64
            .decode(signature_b64.trim())
            .map_err(|_| AuthError::SignatureEncoding)?;
        match self {
            VerifyingKey::Rsa(key) => {
                let signature = rsa::pss::Signature::try_from(signature.as_slice())
                    .map_err(|_| AuthError::BadSignature)?;
                key.verify(message, &signature)
                    .map_err(|_| AuthError::BadSignature)
            }
            VerifyingKey::Ed25519(key) => {
                let signature = ed25519_dalek::Signature::from_slice(&signature)
                    .map_err(|_| AuthError::BadSignature)?;
                key.verify_strict(message, &signature)
                    .map_err(|_| AuthError::BadSignature)
            }
        }
    }

    /// SPKI PEM of this key, for a key registry file.
    pub fn to_public_pem(&self) -> Result<String, AuthError> {
        match self {
            VerifyingKey::Rsa(key) => key
                .as_ref()
                .as_ref()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| AuthError::Generation(e.to_string())),
            VerifyingKey::Ed25519(key) => {
                use ed25519_dalek::pkcs8::EncodePublicKey as _;
                key.to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                    .map_err(|e| AuthError::Generation(e.to_string()))
            }
        }
    }
}

/// A freshly generated key pair. The private half is redacted from `Debug`.
pub struct GeneratedKey {
    pub kind: KeyKind,
    pub private_pem: String,
    pub public_pem: String,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("kind", &self.kind)
            .field("private_pem", &"<redacted>")
            .field("public_pem", &self.public_pem)
            .finish()
    }
}

/// Make a new key pair: PKCS#8 private PEM and SPKI public PEM.
pub fn generate_key_pair(kind: KeyKind) -> Result<GeneratedKey, AuthError> {
    let failed = |e: &dyn fmt::Display| AuthError::Generation(e.to_string());
    match kind {
        KeyKind::Ed25519 => {
            let mut secret = [0u8; 32];
            rand::Rng::fill(&mut rand::rng(), &mut secret);
            let key = ed25519_dalek::SigningKey::from_bytes(&secret);
            secret.fill(0);
            use ed25519_dalek::pkcs8::EncodePrivateKey as _;
            use ed25519_dalek::pkcs8::EncodePublicKey as _;
            let line = ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF;
            let private_pem = key.to_pkcs8_pem(line).map_err(|e| failed(&e))?;
            let public_pem = key
                .verifying_key()
                .to_public_key_pem(line)
                .map_err(|e| failed(&e))?;
            Ok(GeneratedKey {
                kind,
                private_pem: private_pem.to_string(),
                public_pem,
            })
        }
        KeyKind::Rsa2048 => {
            let mut rng = rsa::rand_core::UnwrapErr(crypto_sys_rng());
            let key = rsa::PrivateKey::new(&mut rng, 2048).map_err(|e| failed(&e))?;
            let private_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| failed(&e))?;
            let public_pem = key
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| failed(&e))?;
            Ok(GeneratedKey {
                kind,
                private_pem: private_pem.to_string(),
                public_pem,
            })
        }
    }
}

fn crypto_sys_rng() -> getrandom::SysRng {
    getrandom::SysRng
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_message_cuts_the_query_and_uppercases_the_method() {
        assert_eq!(
            signing_message(
                1703123456789,
                "get",
                "/trade-api/v2/portfolio/orders?limit=5"
            ),
            "1703123456789GET/trade-api/v2/portfolio/orders"
        );
    }

    #[test]
    fn ed25519_round_trip_and_redaction() {
        let generated = generate_key_pair(KeyKind::Ed25519).unwrap();
        assert!(!format!("{generated:?}").contains("PRIVATE"));
        let signer = Signer::from_pem("key-1", &generated.private_pem, "test").unwrap();
        assert_eq!(signer.kind(), KeyKind::Ed25519);
        let headers = signer.sign(1_700_000_000_000, "POST", "/trade-api/v2/x?y=1");
        assert_eq!(headers.timestamp, "1700000000000");
        let verifier = VerifyingKey::from_public_pem(&generated.public_pem, "test").unwrap();
        verifier
            .verify(
                1_700_000_000_000,
                "POST",
                "/trade-api/v2/x",
                &headers.signature,
            )
            .unwrap();
        assert!(
            verifier
                .verify(
                    1_700_000_000_001,
                    "POST",
                    "/trade-api/v2/x",
                    &headers.signature
                )
                .is_err()
        );
        let debug = format!("{signer:?}");
        assert!(debug.contains("redacted") && !debug.contains("BEGIN"));
    }

    #[test]
    fn refuses_non_keys_with_named_errors() {
        assert!(matches!(
            Signer::from_pem("k", "", "f.pem"),
            Err(AuthError::Empty { .. })
        ));
        assert!(matches!(
            Signer::from_pem("k", "hello", "f.pem"),
            Err(AuthError::NotPem { .. })
        ));
        let err = Signer::from_pem(
            "k",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "f.pem",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("f.pem:"), "{err}");
        assert!(matches!(
            Signer::from_pem(
                "k",
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
                "f.pem"
            ),
            Err(AuthError::Encrypted { .. })
        ));
    }
}
