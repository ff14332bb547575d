//! The real `kdesk` in tmux: start on the embedded simulator, arm a market, see its orders, send a
//! manual order from the ticket, press the kill switch, see HALTED and zero working orders, quit,
//! and find the terminal restored.

use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux runs");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn screen(session: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", session])
}

/// Poll the pane until `ok` holds (tmux has no event to wait on); fails after a generous timeout.
fn wait_for(session: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = kalshi_desk::runtime::clock::instant() + WAIT;
    loop {
        let s = screen(session);
        if ok(&s) {
            return s;
        }
        if kalshi_desk::runtime::clock::instant() > deadline {
            let _ = tmux(&["kill-session", "-t", session]);
            panic!("timed out waiting for {what}; screen:\n{s}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn working_orders(s: &str) -> Option<usize> {
    let at = s.find("Working orders ")? + "Working orders ".len();
    s[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn desk_on_the_simulator_arm_order_kill_quit() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed; the end-to-end screen test needs it");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let session = format!("kdesk-it-{}", std::process::id());
    let done = dir.path().join("exit-status");
    let command = format!(
        "env XDG_CONFIG_HOME={0}/c XDG_STATE_HOME={0}/s {1}; echo $? > {2}; sleep 60",
        dir.path().display(),
        env!("CARGO_BIN_EXE_kdesk"),
        done.display()
    );
    let _ = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "120",
        "-y",
        "40",
        &command,
    ]);
    wait_for(&session, "the desk with live books", |s| {
        s.contains("● FEED") && s.contains("DISARMED") && s.contains("spread")
    });
    tmux(&["send-keys", "-t", &session, "a"]);
    let s = wait_for(&session, "the armed market's quotes", |s| {
        s.contains("ARMED") && working_orders(s).is_some_and(|n| n >= 1)
    });
    assert!(s.contains("maker"), "{s}");
    tmux(&["send-keys", "-t", &session, "n"]);
    wait_for(&session, "the order ticket", |s| {
        s.contains("Order ticket") && s.contains("risk pre-check")
    });
    tmux(&["send-keys", "-t", &session, "Enter"]);
    wait_for(&session, "the manual order acted on", |s| {
        s.contains("FILL") || s.contains("manual")
    });
    tmux(&["send-keys", "-t", &session, "C-k"]);
    let s = wait_for(&session, "HALTED, flat and no working orders", |s| {
        s.contains("HALTED") && s.contains("FLAT") && working_orders(s) == Some(0)
    });
    assert!(s.contains("cancels pending 0"), "{s}");
    tmux(&["send-keys", "-t", &session, "C-q"]);
    let deadline = kalshi_desk::runtime::clock::instant() + WAIT;
    while !done.exists() {
        assert!(
            kalshi_desk::runtime::clock::instant() < deadline,
            "kdesk did not exit: {}",
            screen(&session)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = std::fs::read_to_string(&done).expect("status");
    let after = screen(&session);
    let _ = tmux(&["kill-session", "-t", &session]);
    assert_eq!(status.trim(), "0");
    assert!(
        !after.contains("Watchlist") && !after.contains("HALTED"),
        "alternate screen left: {after}"
    );
}

fn kdesk_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kdesk"))
        .args(["--config-dir", &dir.display().to_string()])
        .args(args)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env_remove("KALSHI_KEY_ID")
        .env_remove("KALSHI_KEY_FILE")
        .output()
        .expect("kdesk runs")
}

#[test]
fn a_bad_keymap_stops_start_up_before_the_screen_opens() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("keymaps")).expect("dir");
    std::fs::write(dir.path().join("config.toml"), "keymap = [\"mine\"]\n").expect("config");
    std::fs::write(
        dir.path().join("keymaps/mine.toml"),
        "[market]\narm = [\"ctrl-k\"]\n",
    )
    .expect("keymap");
    let out = kdesk_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mine.toml"), "names the file: {stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("\u{1b}[?1049h"),
        "no alternate screen"
    );
}

#[test]
fn prod_needs_the_explicit_opt_in_and_demo_needs_a_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = kdesk_in(
        dir.path(),
        &[
            "--env",
            "prod",
            "--key-id",
            "k",
            "--key-file",
            "/nonexistent.pem",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--i-understand-this-is-real-money"));
    let out = kdesk_in(dir.path(), &["--env", "demo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a key"));
    let out = kdesk_in(dir.path(), &["--env", "moon"]);
    assert_eq!(out.status.code(), Some(2));
}
