//! The simulator's key registry: which API key ids it accepts, their public keys, and the member
//! each belongs to. Kept as a TOML file so a user can read it and add their own public key:
//!
//! ```toml
//! [[keys]]
//! key_id = "6f1c…"
//! user_id = "5a1d0c3e-7e57-4d35-9000-00000000c0de"
//! public_key = """
//! -----BEGIN PUBLIC KEY-----
//! …
//! -----END PUBLIC KEY-----
//! """
//! ```
//!
//! A member id must be a hyphenated UUID: Kalshi's user ids are, and the AsyncAPI spec types
//! `user_order.user_id` as `uuid`, so any other id would make the simulator's frames invalid.
//!
//! `kdesk keys new` calls [`create_key`]: a fresh key pair, the private half written 0600 next to
//! the registry, the public half registered.

use crate::kalshi::auth::{AuthError, KeyKind, VerifyingKey, generate_key_pair};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// File name of the registry inside a key directory.
pub const REGISTRY_FILE: &str = "keys.toml";

#[derive(Debug, thiserror::Error)]
pub enum KeyRegistryError {
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{source_name}: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: key {key_id:?}: {error}")]
    BadKey {
        source_name: String,
        key_id: String,
        error: AuthError,
    },
    #[error("{source_name}: key id {key_id:?} is listed twice")]
    Duplicate { source_name: String, key_id: String },
    #[error("{source_name}: key {key_id:?}: {reason}")]
    BadUserId {
        source_name: String,
        key_id: String,
        reason: String,
    },
    #[error("{0}")]
    Auth(#[from] AuthError),
}

/// One accepted key.
#[derive(Debug, Clone)]
pub struct RegisteredKey {
    pub key_id: String,
    pub user_id: String,
    pub public_pem: String,
    pub verifying_key: VerifyingKey,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    keys: Vec<KeyEntry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    key_id: String,
    user_id: String,
    public_key: String,
}

/// Key id → registered key.
#[derive(Debug, Clone, Default)]
pub struct KeyRegistry {
    keys: BTreeMap<String, RegisteredKey>,
}

impl KeyRegistry {
    pub fn new() -> KeyRegistry {
        KeyRegistry::default()
    }

    /// Load a registry file.
    pub fn load(path: &Path) -> Result<KeyRegistry, KeyRegistryError> {
        let text = std::fs::read_to_string(path).map_err(|e| KeyRegistryError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        KeyRegistry::parse(&text, &path.display().to_string())
    }

    /// Parse registry TOML; `source_name` names the file in errors (with TOML's line:col).
    pub fn parse(text: &str, source_name: &str) -> Result<KeyRegistry, KeyRegistryError> {
        let file: RegistryFile = toml::from_str(text).map_err(|e| KeyRegistryError::Parse {
            source_name: source_name.to_string(),
            message: describe_toml_error(text, &e),
        })?;
        let mut registry = KeyRegistry::new();
        for entry in file.keys {
            if registry.keys.contains_key(&entry.key_id) {
                return Err(KeyRegistryError::Duplicate {
                    source_name: source_name.to_string(),
                    key_id: entry.key_id,
                });
            }
            check_user_id(&entry.user_id).map_err(|reason| KeyRegistryError::BadUserId {
                source_name: source_name.to_string(),
                key_id: entry.key_id.clone(),
                reason,
            })?;
            let verifying_key = VerifyingKey::from_public_pem(&entry.public_key, source_name)
                .map_err(|error| KeyRegistryError::BadKey {
                    source_name: source_name.to_string(),
                    key_id: entry.key_id.clone(),
                    error,
                })?;
            registry.keys.insert(
                entry.key_id.clone(),
                RegisteredKey {
                    key_id: entry.key_id,
                    user_id: entry.user_id,
                    public_pem: entry.public_key,
                    verifying_key,
                },
            );
        }
        Ok(registry)
    }

    /// Accept `key_id` for `user_id` with this SPKI public key (replacing an earlier entry).
    pub fn register(
        &mut self,
        key_id: &str,
        user_id: &str,
        public_pem: &str,
    ) -> Result<(), KeyRegistryError> {
        check_user_id(user_id).map_err(|reason| KeyRegistryError::BadUserId {
            source_name: "registration".to_string(),
            key_id: key_id.to_string(),
            reason,
        })?;
        let verifying_key = VerifyingKey::from_public_pem(public_pem, key_id)?;
        self.keys.insert(
            key_id.to_string(),
            RegisteredKey {
                key_id: key_id.to_string(),
                user_id: user_id.to_string(),
                public_pem: public_pem.to_string(),
                verifying_key,
            },
        );
        Ok(())
    }

    pub fn lookup(&self, key_id: &str) -> Option<&RegisteredKey> {
        self.keys.get(key_id)
    }

    pub fn keys(&self) -> impl Iterator<Item = &RegisteredKey> {
        self.keys.values()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn to_toml(&self) -> String {
        let file = RegistryFile {
            keys: self
                .keys
                .values()
                .map(|k| KeyEntry {
                    key_id: k.key_id.clone(),
                    user_id: k.user_id.clone(),
                    public_key: k.public_pem.clone(),
                })
                .collect(),
        };
        let body = toml::to_string(&file).unwrap_or_default();
        format!("# kalshi-desk simulator: API keys it accepts (public keys only)\n{body}")
    }

    /// Write the registry (public keys only), replacing the file atomically.
    pub fn save(&self, path: &Path) -> Result<(), KeyRegistryError> {
        let io = |e: std::io::Error| KeyRegistryError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, self.to_toml()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}:{col}: {}", error.message())
        }
        None => error.message().to_string(),
    }
}

/// A member id must be a hyphenated UUID (`8-4-4-4-12` hex digits), the shape Kalshi's user ids
/// have and the spec's `uuid` format checks.
pub fn check_user_id(user_id: &str) -> Result<(), String> {
    let hyphenated = user_id.len() == 36
        && user_id
            .char_indices()
            .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'));
    if hyphenated && uuid::Uuid::try_parse(user_id).is_ok() {
        Ok(())
    } else {
        Err(format!(
            "user id {user_id:?} is not a UUID (like 5a1d0c3e-7e57-4d35-9000-00000000c0de); \
             Kalshi's user ids are UUIDs"
        ))
    }
}

/// What [`create_key`] made.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key_id: String,
    pub kind: KeyKind,
    pub private_key_path: PathBuf,
    pub registry_path: PathBuf,
}

/// Make a key pair in `dir`: the private key as `<key_id>.pem` (mode 0600, never overwritten) and
/// its public half registered for `user_id` in `dir/keys.toml`.
pub fn create_key(dir: &Path, kind: KeyKind, user_id: &str) -> Result<NewKey, KeyRegistryError> {
    // Refuse a bad member before anything is written.
    check_user_id(user_id).map_err(|reason| KeyRegistryError::BadUserId {
        source_name: dir.join(REGISTRY_FILE).display().to_string(),
        key_id: "(new)".to_string(),
        reason,
    })?;
    let io = |path: &Path, e: std::io::Error| KeyRegistryError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let registry_path = dir.join(REGISTRY_FILE);
    let mut registry = if registry_path.exists() {
        KeyRegistry::load(&registry_path)?
    } else {
        KeyRegistry::new()
    };
    let generated = generate_key_pair(kind)?;
    let key_id = uuid::Uuid::new_v4().to_string();
    let private_key_path = dir.join(format!("{key_id}.pem"));
    write_private_file(&private_key_path, generated.private_pem.as_bytes())
        .map_err(|e| io(&private_key_path, e))?;
    registry.register(&key_id, user_id, &generated.public_pem)?;
    registry.save(&registry_path)?;
    Ok(NewKey {
        key_id,
        kind,
        private_key_path,
        registry_path,
    })
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kalshi::auth::Signer;

    const ALICE: &str = "a11ce000-0000-4000-8000-000000000001";
    const BOB: &str = "b0b00000-0000-4000-8000-000000000002";

    #[test]
    fn create_key_writes_a_private_key_0600_and_registers_its_public_half() {
        let dir = tempfile::tempdir().unwrap();
        let first = create_key(dir.path(), KeyKind::Ed25519, ALICE).unwrap();
        let second = create_key(dir.path(), KeyKind::Ed25519, BOB).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&first.private_key_path)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let registry = KeyRegistry::load(&first.registry_path).unwrap();
        assert_eq!(registry.len(), 2);
        let registered = registry.lookup(&second.key_id).unwrap();
        assert_eq!(registered.user_id, BOB);
        let signer = Signer::from_key_file(&first.key_id, &first.private_key_path, false).unwrap();
        let headers = signer.sign(7, "GET", "/trade-api/v2/portfolio/balance");
        registry
            .lookup(&first.key_id)
            .unwrap()
            .verifying_key
            .verify(
                7,
                "GET",
                "/trade-api/v2/portfolio/balance",
                &headers.signature,
            )
            .unwrap();
        // The registry holds no private key material.
        let text = std::fs::read_to_string(&first.registry_path).unwrap();
        assert!(!text.contains("PRIVATE"));
    }

    #[test]
    fn registry_errors_name_the_file_and_line() {
        let err = KeyRegistry::parse("[[keys]]\nkey_id = 3\n", "reg.toml").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("reg.toml: line 2:"), "{text}");
        let err = KeyRegistry::parse(
            "[[keys]]\nkey_id = \"a\"\nuser_id = \"a11ce000-0000-4000-8000-000000000001\"\npublic_key = \"junk\"\n",
            "reg.toml",
        )
        .unwrap_err();
        assert!(matches!(err, KeyRegistryError::BadKey { .. }), "{err}");
        let err = KeyRegistry::parse(
            "[[keys]]\nkey_id = \"a\"\nuser_id = \"u\"\npublic_key = \"x\"\nsecret = 1\n",
            "reg.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn a_member_id_that_is_not_a_uuid_is_refused_everywhere() {
        assert!(check_user_id(ALICE).is_ok());
        assert!(check_user_id(&ALICE.to_uppercase()).is_ok());
        for bad in [
            "sim-user",
            "",
            "a11ce0000000400080000000000000000001",
            "{a11ce000-0000-4000-8000-000000000001}",
            "a11ce000-0000-4000-8000-00000000000g",
            "a11ce000-0000-4000-8000_000000000001",
        ] {
            assert!(check_user_id(bad).is_err(), "{bad:?} passed");
        }
        let dir = tempfile::tempdir().unwrap();
        let err = create_key(dir.path(), KeyKind::Ed25519, "sim-user").unwrap_err();
        assert!(
            err.to_string().contains("\"sim-user\" is not a UUID"),
            "{err}"
        );
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "nothing is written for a refused member"
        );
        let pair = generate_key_pair(KeyKind::Ed25519).unwrap();
        let mut registry = KeyRegistry::new();
        let err = registry
            .register("k", "sim-user", &pair.public_pem)
            .unwrap_err();
        assert!(matches!(err, KeyRegistryError::BadUserId { .. }), "{err}");
        let text = format!(
            "[[keys]]\nkey_id = \"k\"\nuser_id = \"sim-user\"\npublic_key = \"\"\"\n{}\"\"\"\n",
            pair.public_pem
        );
        let err = KeyRegistry::parse(&text, "reg.toml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("reg.toml: key \"k\": user id \"sim-user\""),
            "{err}"
        );
    }
}
