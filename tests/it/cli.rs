//! The `kdesk` binary's own commands, run as a user would.

use std::path::Path;
use std::process::{Command, Output};

fn kdesk(config_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kdesk"))
        .arg("--config-dir")
        .arg(config_dir)
        .args(args)
        .env_remove("KALSHI_KEY_ID")
        .env_remove("KALSHI_KEY_FILE")
        .env("XDG_STATE_HOME", config_dir.join("state"))
        .output()
        .expect("kdesk runs")
}

#[test]
fn check_config_accepts_the_defaults_and_reports_a_bad_keymap_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let ok = kdesk(dir.path(), &["check-config"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    std::fs::create_dir_all(dir.path().join("keymaps")).unwrap();
    std::fs::write(
        dir.path().join("keymaps/mine.toml"),
        "[market]\narm = [\"ctrl-k\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "keymap = [\"mine\"]\ntheme = \"nope\"\n",
    )
    .unwrap();
    let bad = kdesk(dir.path(), &["check-config"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("mine.toml:2:8") && stderr.contains("is the kill switch"),
        "{stderr}"
    );
    assert!(stderr.contains("no theme named 'nope'"), "{stderr}");
}

#[test]
fn keys_new_writes_a_private_key_and_a_registry() {
    let dir = tempfile::tempdir().unwrap();
    let out = kdesk(
        dir.path(),
        &[
            "keys",
            "new",
            "--dir",
            dir.path().join("k").to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("key id:") && stdout.contains("(0600)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("PRIVATE"),
        "the key itself is never printed"
    );
    assert!(dir.path().join("k/keys.toml").exists());
}

#[test]
fn journal_without_a_journal_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = kdesk(dir.path(), &["journal"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no journal"));
}

#[test]
fn the_shipped_example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/config.example.toml");
    let out = kdesk(dir.path(), &["--config", example, "check-config"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("strategies: ok (2)"), "{stdout}");
}

#[test]
fn check_config_names_a_bad_strategy_table() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[strategies.\"KXFED-26DEC-T4.25\"]\nstrategy = \"maker\"\nhalf_spread = \"1.50\"\n",
    )
    .unwrap();
    let out = kdesk(dir.path(), &["check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("config.toml: [strategies.\"KXFED-26DEC-T4.25\"]")
            && stderr.contains("half_spread"),
        "{stderr}"
    );
}

#[test]
fn journal_finds_the_embedded_desks_journal() {
    use kalshi_desk::store::journal::{Journal, JournalRecord, Mode};
    let dir = tempfile::tempdir().unwrap();
    let sim_state = dir.path().join("state/kalshi-desk/sim");
    std::fs::create_dir_all(&sim_state).unwrap();
    let path = sim_state.join("journal-sim-5a1d0c3e-0.sqlite");
    let mut journal = Journal::open(&path).unwrap();
    journal
        .append(&[JournalRecord::new(
            1_764_000_000_000,
            Mode::Live,
            "fill",
            serde_json::json!({"ticker": "KXFED-26DEC-T4.25"}),
        )])
        .unwrap();
    drop(journal);
    let out = kdesk(dir.path(), &["journal"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("journal-sim-5a1d0c3e-0.sqlite") && stdout.contains("fill"),
        "{stdout}"
    );
}
