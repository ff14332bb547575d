//! Key loading and request signing against fixed keys and OpenSSL-made signature vectors.

use kalshi_desk::kalshi::auth::{
    AuthError, HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, KeyKind, Signer, VerifyingKey,
    generate_key_pair,
};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture present")
}

/// Copy a fixture key into a private temp dir with the given mode (git does not keep 0600).
fn key_with_mode(name: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, read(name)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    (dir, path)
}

struct Vector {
    message: String,
    rsa_signature: String,
    ed25519_signature: String,
}

fn openssl_vectors() -> Vec<Vector> {
    read("openssl-vectors.tsv")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut cols = line.split('\t');
            Vector {
                message: cols.next().unwrap().to_string(),
                rsa_signature: cols.next().unwrap().to_string(),
                ed25519_signature: cols.next().unwrap().to_string(),
            }
        })
        .collect()
}

#[test]
fn openssl_signatures_verify_with_our_verifier() {
    let rsa = VerifyingKey::from_public_pem(&read("rsa2048-public.pem"), "rsa").unwrap();
    let ed = VerifyingKey::from_public_pem(&read("ed25519-public.pem"), "ed").unwrap();
    let vectors = openssl_vectors();
    assert_eq!(vectors.len(), 3);
    for v in &vectors {
        rsa.verify_bytes(v.message.as_bytes(), &v.rsa_signature)
            .unwrap_or_else(|e| panic!("rsa vector {:?}: {e}", v.message));
        ed.verify_bytes(v.message.as_bytes(), &v.ed25519_signature)
            .unwrap_or_else(|e| panic!("ed25519 vector {:?}: {e}", v.message));
        // A signature over one message never verifies another.
        let other = format!("{}x", v.message);
        assert!(
            rsa.verify_bytes(other.as_bytes(), &v.rsa_signature)
                .is_err()
        );
        assert!(
            ed.verify_bytes(other.as_bytes(), &v.ed25519_signature)
                .is_err()
        );
    }
    // The first vector is DIGEST.md's worked example: GET with a query, signed without it.
    let (ts, rest) = vectors[0].message.split_at(13);
    let ts: i64 = ts.parse().unwrap();
    assert!(rest.starts_with("GET"));
    rsa.verify(
        ts,
        "GET",
        "/trade-api/v2/portfolio/orders?limit=5",
        &vectors[0].rsa_signature,
    )
    .unwrap();
}

#[test]
fn pkcs1_pkcs8_and_ed25519_keys_sign_what_their_public_keys_verify() {
    let rsa_public = VerifyingKey::from_public_pem(&read("rsa2048-public.pem"), "pub").unwrap();
    let ed_public = VerifyingKey::from_public_pem(&read("ed25519-public.pem"), "pub").unwrap();
    for (file, public, kind) in [
        ("rsa2048-pkcs1.pem", &rsa_public, KeyKind::Rsa2048),
        ("rsa2048-pkcs8.pem", &rsa_public, KeyKind::Rsa2048),
        ("ed25519-pkcs8.pem", &ed_public, KeyKind::Ed25519),
    ] {
        let (_dir, path) = key_with_mode(file, 0o600);
        let signer = Signer::from_key_file("key-id-1", &path, false).unwrap();
        assert_eq!(signer.kind(), kind, "{file}");
        let headers = signer.sign(
            1_764_097_200_000,
            "DELETE",
            "/trade-api/v2/portfolio/events/orders?subaccount=0",
        );
        let pairs = headers.pairs();
        assert_eq!(pairs[0], (HEADER_KEY, "key-id-1"));
        assert_eq!(pairs[1], (HEADER_TIMESTAMP, "1764097200000"));
        assert_eq!(pairs[2].0, HEADER_SIGNATURE);
        public
            .verify(
                1_764_097_200_000,
                "DELETE",
                "/trade-api/v2/portfolio/events/orders",
                &headers.signature,
            )
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        // The same signature does not cover another method, path or time.
        assert!(
            public
                .verify(
                    1_764_097_200_000,
                    "GET",
                    "/trade-api/v2/portfolio/events/orders",
                    &headers.signature
                )
                .is_err()
        );
        assert!(
            public
                .verify(
                    1_764_097_200_001,
                    "DELETE",
                    "/trade-api/v2/portfolio/events/orders",
                    &headers.signature
                )
                .is_err()
        );
        // The signer's own public half agrees with the fixture's.
        signer
            .verifying_key()
            .verify(1, "GET", "/x", &signer.sign(1, "GET", "/x").signature)
            .unwrap();
    }
}

#[test]
fn rsa_signatures_are_pss_randomized_and_verified_not_compared() {
    let (_dir, path) = key_with_mode("rsa2048-pkcs1.pem", 0o600);
    let signer = Signer::from_key_file("k", &path, false).unwrap();
    let a = signer.sign(5, "GET", "/trade-api/ws/v2");
    let b = signer.sign(5, "GET", "/trade-api/ws/v2");
    assert_ne!(
        a.signature, b.signature,
        "PSS salts must differ per signature"
    );
    let public = signer.verifying_key();
    public
        .verify(5, "GET", "/trade-api/ws/v2", &a.signature)
        .unwrap();
    public
        .verify(5, "GET", "/trade-api/ws/v2", &b.signature)
        .unwrap();
}

#[test]
fn group_or_world_readable_keys_are_refused_unless_allowed() {
    let (_dir, path) = key_with_mode("ed25519-pkcs8.pem", 0o644);
    let err = Signer::from_key_file("k", &path, false).unwrap_err();
    assert!(
        matches!(err, AuthError::InsecurePermissions { mode: 0o644, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains("chmod 600"),
        "{text}"
    );
    Signer::from_key_file("k", &path, true).expect("allowed when insecure keys are allowed");
    let (_dir2, path2) = key_with_mode("ed25519-pkcs8.pem", 0o640);
    assert!(Signer::from_key_file("k", &path2, false).is_err());
    let (_dir3, path3) = key_with_mode("ed25519-pkcs8.pem", 0o400);
    Signer::from_key_file("k", &path3, false).expect("owner read-only is fine");
}

#[test]
fn bad_key_files_give_errors_naming_the_file_and_the_problem_without_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let err = Signer::from_key_file("k", &missing, false).unwrap_err();
    assert!(matches!(err, AuthError::Unreadable { .. }));
    assert!(err.to_string().contains("nope.pem"));

    type IsExpected = fn(&AuthError) -> bool;
    let cases: [(&str, String, IsExpected); 6] = [
        ("empty.pem", String::new(), |e| {
            matches!(e, AuthError::Empty { .. })
        }),
        ("text.pem", "not a key at all\n".into(), |e| {
            matches!(e, AuthError::NotPem { .. })
        }),
        ("encrypted.pem", read("rsa2048-encrypted.pem"), |e| {
            matches!(e, AuthError::Encrypted { .. })
        }),
        ("ec.pem", read("ec-p256-unsupported.pem"), |e| {
            matches!(e, AuthError::UnsupportedKey { .. })
        }),
        ("public.pem", read("rsa2048-public.pem"), |e| {
            matches!(e, AuthError::UnsupportedKey { .. })
        }),
        (
            "truncated.pem",
            read("rsa2048-pkcs1.pem")
                .lines()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
                + "\n-----END RSA PRIVATE KEY-----\n",
            |e| matches!(e, AuthError::Malformed { .. }),
        ),
    ];
    use std::os::unix::fs::PermissionsExt as _;
    for (name, contents, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = Signer::from_key_file("k", &path, false).unwrap_err();
        assert!(expected(&err), "{name}: unexpected error {err:?}");
        let text = format!("{err} {err:?}");
        assert!(
            text.contains(name),
            "{name}: error does not name the file: {text}"
        );
        for line in contents
            .lines()
            .filter(|l| l.len() > 20 && !l.starts_with("-----"))
        {
            assert!(!text.contains(line), "{name}: key material in error");
        }
    }
}

#[test]
fn signer_debug_never_shows_key_material() {
    let pem = read("rsa2048-pkcs1.pem");
    let signer = Signer::from_pem("abc", &pem, "mem").unwrap();
    let debug = format!("{signer:?} {:?}", signer.sign(1, "GET", "/"));
    assert!(debug.contains("abc") && debug.contains("redacted"));
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!debug.contains(line));
    }
}

#[test]
fn generated_keys_of_both_kinds_work() {
    for kind in [KeyKind::Ed25519, KeyKind::Rsa2048] {
        let generated = generate_key_pair(kind).unwrap();
        let signer = Signer::from_pem("g", &generated.private_pem, "generated").unwrap();
        let public = VerifyingKey::from_public_pem(&generated.public_pem, "generated").unwrap();
        let headers = signer.sign(42, "POST", "/trade-api/v2/portfolio/events/orders");
        public
            .verify(
                42,
                "POST",
                "/trade-api/v2/portfolio/events/orders",
                &headers.signature,
            )
            .unwrap();
        assert_eq!(
            public.to_public_pem().unwrap().trim(),
            generated.public_pem.trim()
        );
    }
}
