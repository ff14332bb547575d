//! The security pass: key files other users can read are refused wherever a key is loaded
//! (unless the operator opts in); the private key never reaches logs, Debug output, the journal,
//! tapes or the state directory; the simulator listens on loopback and refuses unsigned private
//! calls with Kalshi's error envelope; production needs the explicit opt-in; secret-looking config
//! values are refused without being echoed.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use kalshi_desk::core::engine::{AuditKind, Command, ManualOrder};
use kalshi_desk::core::market::{MarketStatus, Ticker};
use kalshi_desk::core::num::{Count, Money, Price};
use kalshi_desk::core::order::{OrderOwner, OrderSide, OrderState};
use kalshi_desk::core::risk::TimeInForce;
use kalshi_desk::core::strategy::{MakerParams, StrategyParams};
use kalshi_desk::kalshi::auth::{AuthError, Signer};
use kalshi_desk::kalshi::ratelimit::{LimiterConfig, Tier};
use kalshi_desk::kalshi::wire::BookSide;
use kalshi_desk::runtime::desk::{self, DeskConfig, KillPhase};
use kalshi_desk::sim::keys::KeyRegistry;
use kalshi_desk::sim::server::{KeyAlgorithm, SimConfig, SimHandle, SimServer};

use crate::desk_wait::{WAIT, wait_snapshot};

async fn start_sim(dir: &Path, algorithm: KeyAlgorithm) -> SimHandle {
    SimServer::start(SimConfig {
        key_dir: dir.join("sim-keys"),
        key_algorithm: algorithm,
        flow: false,
        rate_limits: None,
        seed: 23,
        markets: 6,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn active_markets(sim: &SimHandle, n: usize) -> Vec<Ticker> {
    sim.with_exchange(|exchange| {
        exchange
            .market_states()
            .filter(|m| m.status == MarketStatus::Active)
            .map(|m| m.ticker.clone())
            .take(n)
            .collect()
    })
}

/// Another member's order straight into the exchange: 100 resting, or 1 taken.
fn cross(sim: &SimHandle, user: &str, ticker: &Ticker, side: BookSide, price: &str, take: bool) {
    let count = if take { 1 } else { 100 };
    crate::sim_desk::member_order(sim, user, ticker, side, price, count, take);
}

/// A copy of the simulator's key with `mode`.
fn key_copy(sim: &SimHandle, dir: &Path, mode: u32) -> PathBuf {
    let path = dir.join(format!("key-{mode:o}.pem"));
    std::fs::copy(&sim.key_file, &path).expect("key copied");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

fn desk_config(sim: &SimHandle, key_file: PathBuf) -> DeskConfig {
    let mut config = DeskConfig::new(
        "sim",
        sim.rest_base_url.as_str(),
        sim.ws_url.as_str(),
        &sim.key_id,
        key_file,
    );
    config.ws_jitter_seed = Some(3);
    config.limiter = LimiterConfig::for_tier(Tier::Expert);
    config.refresh_rate_limits = false;
    config
}

/// A config file for the binary: `environment` with the simulator's key at `key_file`.
fn write_config(dir: &Path, environment: &str, sim: &SimHandle, key_file: &Path) -> PathBuf {
    let path = dir.join(format!("config-{environment}.toml"));
    std::fs::write(
        &path,
        format!(
            "environment = \"{environment}\"\nkey_id = \"{}\"\nkey_file = \"{}\"\n",
            sim.key_id,
            key_file.display()
        ),
    )
    .expect("config written");
    path
}

struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn text(&self) -> String {
        format!("status {:?}\n{}\n{}", self.status, self.stdout, self.stderr)
    }
}

/// Run `kdesk` with its config and state under `home`, never the user's.
async fn kdesk(home: &Path, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kdesk"));
    command
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("xdg-config"))
        .env("XDG_STATE_HOME", home.join("xdg-state"))
        .env_remove("KALSHI_KEY_ID")
        .env_remove("KALSHI_KEY_FILE")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("kdesk finishes")
        .expect("kdesk runs");
    Run {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Key file permissions.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_others_can_read_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = start_sim(dir.path(), KeyAlgorithm::Ed25519).await;
    assert_eq!(
        std::fs::metadata(&sim.key_file)
            .expect("key file")
            .permissions()
            .mode()
            & 0o777,
        0o600,
        "the simulator writes its keys 0600"
    );
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666] {
        let path = key_copy(&sim, dir.path(), mode);
        let error = Signer::from_key_file(&sim.key_id, &path, false).expect_err("refused");
        assert!(
            matches!(error, AuthError::InsecurePermissions { mode: m, .. } if m == mode),
            "{error}"
        );
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("chmod 600"), "{message}");
        assert!(message.contains("--allow-insecure-key"), "{message}");
        Signer::from_key_file(&sim.key_id, &path, true).expect("accepted when allowed");
    }
    for mode in [0o600, 0o400] {
        let path = key_copy(&sim, dir.path(), mode);
        Signer::from_key_file(&sim.key_id, &path, false).expect("owner-only key accepted");
    }

    // The desk refuses before it talks to the exchange, and starts when allowed.
    let loose = key_copy(&sim, dir.path(), 0o644);
    let error = match desk::start(desk_config(&sim, loose.clone())).await {
        Ok(_) => panic!("the desk started with a world-readable key"),
        Err(error) => error.to_string(),
    };
    assert!(error.contains("permissions 644"), "{error}");
    let mut allowed = desk_config(&sim, loose);
    allowed.allow_insecure_key_permissions = true;
    let handle = desk::start(allowed).await.expect("starts when allowed");
    handle.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_record_paper_and_the_desk_refuse_a_loose_key_unless_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    let sim = start_sim(home, KeyAlgorithm::Ed25519).await;
    let loose = key_copy(&sim, home, 0o644);
    let config = write_config(home, "demo", &sim, &loose);
    let config = config.to_str().expect("utf-8 path");
    let market = active_markets(&sim, 1)[0].to_string();
    let refused = |run: &Run, what: &str| {
        assert_ne!(
            run.status,
            Some(0),
            "{what} accepted a loose key: {}",
            run.text()
        );
        assert!(
            run.stderr.contains("permissions 644") && run.stderr.contains("--allow-insecure-key"),
            "{what}: {}",
            run.text()
        );
    };

    let journal = home.join("kill.sqlite");
    let journal = journal.to_str().expect("utf-8 path");
    let kill_args = [
        "--config",
        config,
        "kill",
        "--base-url",
        sim.rest_base_url.as_str(),
        "--journal",
        journal,
    ];
    refused(&kdesk(home, &kill_args).await, "kdesk kill");
    let mut allowed = kill_args.to_vec();
    allowed.push("--allow-insecure-key");
    let run = kdesk(home, &allowed).await;
    assert_eq!(run.status, Some(0), "{}", run.text());

    let tapes = home.join("tapes");
    let tapes = tapes.to_str().expect("utf-8 path");
    let record_args = [
        "--config",
        config,
        "record",
        "--rest-url",
        sim.rest_base_url.as_str(),
        "--ws-url",
        sim.ws_url.as_str(),
        "--markets",
        market.as_str(),
        "--seconds",
        "1",
        "--out",
        tapes,
    ];
    refused(&kdesk(home, &record_args).await, "kdesk record");
    let mut allowed = record_args.to_vec();
    allowed.push("--allow-insecure-key");
    let run = kdesk(home, &allowed).await;
    assert_eq!(run.status, Some(0), "{}", run.text());

    // `kdesk paper` is the desk in paper mode: with the config's demo environment it stops at
    // the key, before any connection.
    let paper_args = ["--config", config, "paper"];
    refused(&kdesk(home, &paper_args).await, "kdesk paper");

    // The desk itself (demo: it stops at the key, before any connection).
    refused(&kdesk(home, &["--config", config]).await, "kdesk");

    // The config's own opt-in works too.
    let opted = home.join("opted.toml");
    std::fs::write(
        &opted,
        format!(
            "environment = \"demo\"\nkey_id = \"{}\"\nkey_file = \"{}\"\nallow_insecure_key = true\n",
            sim.key_id,
            loose.display()
        ),
    )
    .expect("config written");
    let run = kdesk(
        home,
        &[
            "--config",
            opted.to_str().expect("utf-8 path"),
            "kill",
            "--base-url",
            sim.rest_base_url.as_str(),
            "--journal",
            journal,
        ],
    )
    .await;
    assert_eq!(run.status, Some(0), "{}", run.text());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kdesk_keys_new_and_the_simulator_write_private_keys_0600() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys");
    let run = kdesk(
        dir.path(),
        &["keys", "new", "--dir", keys.to_str().expect("utf-8 path")],
    )
    .await;
    assert_eq!(run.status, Some(0), "{}", run.text());
    let pems: Vec<PathBuf> = std::fs::read_dir(&keys)
        .expect("key dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .collect();
    assert_eq!(pems.len(), 1, "{pems:?}");
    let mode = std::fs::metadata(&pems[0])
        .expect("key")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // The key id and path are printed; the key is not.
    let pem = std::fs::read_to_string(&pems[0]).expect("key");
    for line in pem_body_lines(&pem) {
        assert!(!run.stdout.contains(line) && !run.stderr.contains(line));
    }
}

// ---------------------------------------------------------------------------------------------
// The private key never leaves its file.

fn pem_body_lines(pem: &str) -> Vec<&str> {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect()
}

fn pem_der(pem: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(pem_body_lines(pem).concat())
        .expect("PEM body is base64")
}

/// 16-byte needles cut from the private key: its PEM text (so any PEM line or base64 run of the
/// DER), and its raw DER bytes. Needles that also occur in the public key are left out: the
/// public half is not a secret, and an RSA private key embeds it.
struct Needles {
    set: HashSet<Vec<u8>>,
}

const NEEDLE: usize = 16;

impl Needles {
    fn new(private_pem: &str, public_pem: &str) -> Needles {
        let private_b64 = pem_body_lines(private_pem).concat();
        let public_b64 = pem_body_lines(public_pem).concat();
        let private_der = pem_der(private_pem);
        let public_der = pem_der(public_pem);
        let public_windows: HashSet<&[u8]> = public_b64
            .as_bytes()
            .windows(NEEDLE)
            .chain(public_der.windows(NEEDLE))
            .collect();
        let mut set = HashSet::new();
        for window in private_b64
            .as_bytes()
            .windows(NEEDLE)
            .step_by(4)
            .chain(private_der.windows(NEEDLE).step_by(4))
        {
            if !public_windows.contains(window) {
                set.insert(window.to_vec());
            }
        }
        // Every PEM line is longer than a needle, so each contains several.
        assert!(set.len() > 20, "too few needles: {}", set.len());
        Needles { set }
    }

    /// The first needle found in `haystack`, hex-free (never print the key on failure).
    fn find(&self, haystack: &[u8]) -> Option<usize> {
        haystack
            .windows(NEEDLE)
            .position(|window| self.set.contains(window))
    }

    fn assert_absent(&self, what: &str, haystack: &[u8]) {
        if let Some(at) = self.find(haystack) {
            panic!("private key material in {what} at byte {at}");
        }
    }
}

/// Every file under `dir` as bytes, and decompressed too when it is zstd.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            if let Ok(plain) = zstd::decode_all(bytes.as_slice()) {
                out.push((path.with_extension("decompressed"), plain));
            }
            out.push((path, bytes));
        }
    }
    out
}

/// A writer the tracing subscriber formats into.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Run the desk with the key: orders, a fill, a strategy armed, the kill switch; then record a
/// tape and run `kdesk kill` with the same key. Logs at trace level, stdout and stderr of the
/// binaries, Debug output, the journal, the tape and every file of the state directories are
/// then searched for any slice of the private key.
#[test]
fn the_private_key_never_reaches_logs_debug_output_journal_tapes_or_state() {
    let captured = Captured::default();
    let writer = captured.clone();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    );
    // Every runtime thread (workers and blocking) logs into the capture.
    let thread_dispatch = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&thread_dispatch));
        })
        .build()
        .expect("runtime");
    let _main_thread = tracing::dispatcher::set_default(&dispatch);
    let dir = tempfile::tempdir().expect("temp dir");
    let outputs = runtime.block_on(leak_scenario(dir.path()));

    let sim_keys = dir.path().join("sim-keys");
    let private_pem = std::fs::read_to_string(sim_keys.join(format!("{}.pem", outputs.key_id)))
        .expect("private key");
    let registry = KeyRegistry::load(&sim_keys.join("keys.toml")).expect("registry");
    let public_pem = registry
        .keys()
        .find(|k| k.key_id == outputs.key_id)
        .expect("registered key")
        .public_pem
        .clone();
    let needles = Needles::new(&private_pem, &public_pem);
    // The search can find the key: it is in its own file.
    assert!(needles.find(private_pem.as_bytes()).is_some());
    assert!(needles.find(&pem_der(&private_pem)).is_some());

    let logs = captured.0.lock().expect("logs").clone();
    assert!(!logs.is_empty(), "nothing was logged");
    needles.assert_absent("the trace-level logs", &logs);
    for (what, text) in &outputs.texts {
        needles.assert_absent(what, text.as_bytes());
    }
    let mut scanned = 0;
    for dir_name in ["state", "xdg-state", "xdg-config", "tapes"] {
        for (path, bytes) in files_under(&dir.path().join(dir_name)) {
            needles.assert_absent(&path.display().to_string(), &bytes);
            scanned += 1;
        }
    }
    assert!(
        outputs.journal.exists() && outputs.tape_files > 0,
        "the journal and the tape were written"
    );
    assert!(scanned >= 3, "only {scanned} files scanned");
    eprintln!(
        "searched {} bytes of logs, {} outputs and {scanned} files for {} slices of the key",
        logs.len(),
        outputs.texts.len(),
        needles.set.len()
    );
    drop(runtime);
}

struct LeakOutputs {
    key_id: String,
    journal: PathBuf,
    tape_files: usize,
    /// (what, text) of every printed or formatted output.
    texts: Vec<(String, String)>,
}

async fn leak_scenario(home: &Path) -> LeakOutputs {
    let sim = start_sim(home, KeyAlgorithm::Rsa).await;
    let markets = active_markets(&sim, 2);
    for ticker in &markets {
        cross(&sim, "liquidity", ticker, BookSide::Bid, "0.40", false);
        cross(&sim, "liquidity", ticker, BookSide::Ask, "0.60", false);
    }
    let mut texts = Vec::new();
    let signer = Signer::from_key_file(&sim.key_id, &sim.key_file, false).expect("key");
    texts.push((
        "Signer Debug".to_string(),
        format!("{signer:?} {signer:#?}"),
    ));
    texts.push(("SimHandle Debug".to_string(), format!("{sim:?}")));
    // A damaged copy of the key: the error names the file, not the contents.
    let pem = std::fs::read_to_string(&sim.key_file).expect("key");
    let damaged = pem.replacen('A', "*", 3);
    if let Err(error) = Signer::from_pem("k", &damaged, "damaged.pem") {
        texts.push(("key parse error".into(), format!("{error} {error:?}")));
    }
    if let Err(error) = Signer::from_pem("k", &pem[..pem.len() / 2], "half.pem") {
        texts.push(("key parse error".into(), format!("{error} {error:?}")));
    }

    let state = home.join("state");
    let journal = state.join("journal.sqlite");
    let mut config = desk_config(&sim, sim.key_file.clone());
    config.watchlist = markets.clone();
    config.state_dir = Some(state.clone());
    config.journal_path = Some(journal.clone());
    config.strategies = vec![(
        markets[1].clone(),
        StrategyParams::Maker(MakerParams {
            size: Count::from_contracts(2),
            half_spread: Money::from_cents(3),
            requote_threshold: Money::from_cents(5),
            stale_book_ms: 60_000,
            ..MakerParams::default()
        }),
    )];
    texts.push(("DeskConfig Debug".into(), format!("{config:?}")));
    let desk = desk::start(config).await.expect("desk starts");
    let mut audits = desk.subscribe_audits();
    wait_snapshot(&desk, "books", |s| {
        markets.iter().all(|t| {
            s.market(t.as_str())
                .is_some_and(|m| !m.yes_bids.is_empty() && !m.yes_asks.is_empty())
        })
    })
    .await;
    desk.send(Command::PlaceManual(ManualOrder {
        ticker: markets[0].clone(),
        side: OrderSide::Bid,
        price: Price::parse("0.42").expect("price"),
        count: Count::from_contracts(1),
        time_in_force: TimeInForce::GoodTillCanceled,
        post_only: false,
        reduce_only: false,
        expiration_s: None,
    }))
    .await
    .expect("sent");
    wait_snapshot(&desk, "the manual order resting", |s| {
        s.orders_in(markets[0].as_str())
            .any(|o| o.owner == OrderOwner::Operator && o.state == OrderState::Resting)
    })
    .await;
    cross(&sim, "taker", &markets[0], BookSide::Ask, "0.42", true);
    tokio::time::timeout(WAIT, async {
        loop {
            match audits.recv().await {
                Ok(audit) if matches!(audit.event, AuditKind::Fill { .. }) => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(error) => panic!("audit stream: {error}"),
            }
        }
    })
    .await
    .expect("the fill arrives");
    desk.send(Command::Arm {
        ticker: markets[1].clone(),
    })
    .await
    .expect("sent");
    wait_snapshot(&desk, "quotes", |s| {
        s.orders_in(markets[1].as_str()).any(|o| {
            matches!(o.owner, OrderOwner::Strategy { .. }) && o.state == OrderState::Resting
        })
    })
    .await;
    desk.kill("security test kill");
    let snapshot = wait_snapshot(&desk, "flat", |s| s.kill.phase == KillPhase::Flat).await;
    texts.push(("DeskSnapshot Debug".into(), format!("{snapshot:?}")));
    texts.push((
        "StartupReport Debug".into(),
        format!("{:?}", desk.startup()),
    ));
    desk.shutdown().await;

    // The binaries with the same key: a recording and the external kill switch.
    let config = write_config(home, "demo", &sim, &sim.key_file);
    let config = config.to_str().expect("utf-8 path");
    let tapes = home.join("tapes");
    let market_list = markets
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let record = kdesk(
        home,
        &[
            "--config",
            config,
            "record",
            "--rest-url",
            sim.rest_base_url.as_str(),
            "--ws-url",
            sim.ws_url.as_str(),
            "--markets",
            market_list.as_str(),
            "--seconds",
            "1",
            "--out",
            tapes.to_str().expect("utf-8 path"),
        ],
    )
    .await;
    assert_eq!(record.status, Some(0), "{}", record.text());
    texts.push(("kdesk record output".into(), record.text()));
    let kill = kdesk(
        home,
        &[
            "--config",
            config,
            "kill",
            "--base-url",
            sim.rest_base_url.as_str(),
            "--journal",
            state
                .join("kill-journal.sqlite")
                .to_str()
                .expect("utf-8 path"),
            "--json",
        ],
    )
    .await;
    assert_eq!(kill.status, Some(0), "{}", kill.text());
    texts.push(("kdesk kill output".into(), kill.text()));
    let check = kdesk(home, &["--config", config, "check-config"]).await;
    texts.push(("kdesk check-config output".into(), check.text()));
    let tape_files = std::fs::read_dir(&tapes).map_or(0, |d| d.count());
    let key_id = sim.key_id.clone();
    sim.shutdown().await;
    LeakOutputs {
        key_id,
        journal,
        tape_files,
        texts,
    }
}

// ---------------------------------------------------------------------------------------------
// The simulator.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_listens_on_loopback_and_refuses_unsigned_private_calls() {
    assert!(SimConfig::default().bind.ip().is_loopback());
    let dir = tempfile::tempdir().expect("temp dir");

    // `kdesk sim` with no --bind prints a loopback address.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kdesk"))
        .args(["sim", "--no-flow", "--markets", "2", "--key-dir"])
        .arg(dir.path().join("cli-keys"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kdesk sim runs");
    let stdout = child.stdout.take().expect("stdout");
    let rest_line = tokio::time::timeout(WAIT, async {
        use tokio::io::AsyncBufReadExt as _;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("REST base URL") {
                return line;
            }
        }
        panic!("kdesk sim printed no REST URL");
    })
    .await
    .expect("kdesk sim starts");
    assert!(
        rest_line.contains("http://127.0.0.1:"),
        "not loopback: {rest_line}"
    );
    child.start_kill().expect("stop kdesk sim");
    let _ = child.wait().await;

    let sim = start_sim(dir.path(), KeyAlgorithm::Ed25519).await;
    assert!(sim.rest_base_url.starts_with("http://127.0.0.1:"));
    assert!(sim.ws_url.starts_with("ws://127.0.0.1:"));
    let http = reqwest::Client::new();
    let ticker = active_markets(&sim, 1)[0].to_string();
    let order = serde_json::json!({
        "ticker": ticker, "side": "bid", "count": "1.00", "price": "0.10",
        "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"
    });
    let private: [(&str, &str, Option<&serde_json::Value>); 7] = [
        ("GET", "/portfolio/balance", None),
        ("GET", "/portfolio/positions", None),
        ("GET", "/portfolio/orders", None),
        ("GET", "/portfolio/fills", None),
        ("POST", "/portfolio/events/orders", Some(&order)),
        ("DELETE", "/portfolio/events/orders", None),
        ("GET", "/account/limits", None),
    ];
    let signer = Signer::from_key_file(&sim.key_id, &sim.key_file, false).expect("key");
    let other = kalshi_desk::sim::keys::create_key(
        &dir.path().join("other-keys"),
        kalshi_desk::kalshi::auth::KeyKind::Ed25519,
        "0f0e0d0c-0b0a-4009-8807-060504030201",
    )
    .expect("another key");
    let impostor =
        Signer::from_key_file(&sim.key_id, &other.private_key_path, false).expect("other key");
    for (method, path, body) in private {
        let url = format!("{}{path}", sim.rest_base_url);
        let full_path = url::Url::parse(&url).expect("url").path().to_string();
        let now = kalshi_desk::runtime::clock::wall_ms();
        let cases: [(&str, Option<(&Signer, i64)>); 3] = [
            ("unsigned", None),
            ("signed by another key", Some((&impostor, now))),
            ("a stale timestamp", Some((&signer, now - 120_000))),
        ];
        for (case, signing) in cases {
            let mut request = http.request(method.parse().expect("method"), &url);
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some((signer, ts)) = signing {
                for (name, value) in signer.sign(ts, method, &full_path).pairs() {
                    request = request.header(name, value);
                }
            }
            let response = request.send().await.expect("response");
            assert_eq!(response.status().as_u16(), 401, "{method} {path} {case}");
            let body: serde_json::Value = response.json().await.expect("JSON error body");
            assert!(
                body["error"]["code"].is_string() && body["error"]["message"].is_string(),
                "{method} {path} {case}: not Kalshi's envelope: {body}"
            );
        }
        // Signed properly, the same call is served (so the 401s are about the signature).
        let mut request = http.request(method.parse().expect("method"), &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in signer.sign(now, method, &full_path).pairs() {
            request = request.header(name, value);
        }
        let status = request.send().await.expect("response").status();
        assert!(status.is_success(), "{method} {path} signed: {status}");
    }
    // The websocket refuses an unsigned upgrade.
    match tokio_tungstenite::connect_async(sim.ws_url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 401)
        }
        Err(other) => panic!("unexpected websocket error: {other}"),
        Ok(_) => panic!("unsigned websocket upgrade accepted"),
    }
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Production opt-in and secrets in the config, through the binary.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_needs_the_explicit_opt_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    let write = |name: &str, text: &str| {
        let path = home.join(name);
        std::fs::write(&path, text).expect("config written");
        path.to_str().expect("utf-8 path").to_string()
    };
    let prod = write("prod.toml", "environment = \"prod\"\n");
    let run = kdesk(home, &["--config", prod.as_str()]).await;
    assert_eq!(run.status, Some(2), "{}", run.text());
    assert!(run.stderr.contains("real money"), "{}", run.text());

    let demo = write("demo.toml", "environment = \"demo\"\n");
    let run = kdesk(home, &["--config", demo.as_str(), "--env", "prod"]).await;
    assert_eq!(run.status, Some(2), "{}", run.text());
    assert!(run.stderr.contains("real money"), "{}", run.text());

    // With the opt-in (config or flag) the desk goes on, and stops at the missing key: the
    // refusal above was the opt-in, not something else.
    let opted = write("opted.toml", "environment = \"prod\"\nreal_money = true\n");
    let run = kdesk(home, &["--config", opted.as_str()]).await;
    assert_eq!(run.status, Some(2), "{}", run.text());
    assert!(!run.stderr.contains("real money"), "{}", run.text());
    assert!(run.stderr.contains("needs a key"), "{}", run.text());
    let run = kdesk(
        home,
        &[
            "--config",
            demo.as_str(),
            "--env",
            "prod",
            "--i-understand-this-is-real-money",
        ],
    )
    .await;
    assert_eq!(run.status, Some(2), "{}", run.text());
    assert!(run.stderr.contains("needs a key"), "{}", run.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_looking_config_values_are_refused_without_echoing_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    let secret = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
    let cases = [
        ("private_key", format!("private_key = \"{secret}\"\n"), 1),
        (
            "api_secret",
            format!("environment = \"demo\"\napi_secret = \"{secret}\"\n"),
            2,
        ),
        ("password", format!("[sim]\npassword = \"{secret}\"\n"), 2),
        (
            "pem",
            format!(
                "environment = \"sim\"\nkey_id = \"\"\"\n-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\"\"\"\n"
            ),
            3,
        ),
    ];
    for (name, text, line) in cases {
        let path = home.join(format!("{name}.toml"));
        std::fs::write(&path, &text).expect("config written");
        let path = path.to_str().expect("utf-8 path");
        for args in [
            vec!["--config", path, "check-config"],
            vec!["--config", path],
        ] {
            let run = kdesk(home, &args).await;
            assert_eq!(run.status, Some(2), "{name} {args:?}: {}", run.text());
            assert!(
                run.stderr
                    .contains("secrets do not belong in the config file")
                    && run.stderr.contains(&format!("{path}:{line}:")),
                "{name} {args:?}: {}",
                run.text()
            );
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{name}: the secret was echoed"
            );
        }
    }
    // A key file passed as the config by mistake: refused, and its body not printed.
    let pem_path = home.join("mistake.pem");
    std::fs::write(
        &pem_path,
        format!("-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n"),
    )
    .expect("written");
    let run = kdesk(
        home,
        &[
            "--config",
            pem_path.to_str().expect("utf-8 path"),
            "check-config",
        ],
    )
    .await;
    assert_eq!(run.status, Some(2), "{}", run.text());
    assert!(!run.stderr.contains(secret), "the key body was echoed");
}
