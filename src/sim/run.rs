//! `kdesk sim`: run the simulator in the foreground until Ctrl-C.

use crate::sim::faults::{FaultConfig, FaultFlags};
use crate::sim::server::ratelimit::Tier;
use crate::sim::server::variants::{
    ErrorEnvelope, OrderbookAuth, SnapshotLevelOrder, SnapshotSeq, Variants, WsAuthFailure,
};
use crate::sim::server::{KeyAlgorithm, SimConfig, SimServer};
use anyhow::Context as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// Arguments of `kdesk sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// TCP port; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Address to bind. Loopback unless you mean to expose it.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Seed of the synthetic market (same seed, same market).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Number of markets.
    #[arg(long, default_value_t = 40)]
    pub markets: usize,
    /// Fault file (TOML); `--fault-*` flags override it.
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    #[command(flatten)]
    pub fault_flags: FaultFlags,
    /// Directory of the key registry (`keys.toml`) and generated private keys.
    #[arg(long, value_name = "DIR")]
    pub key_dir: Option<PathBuf>,
    /// Algorithm of the key generated when the registry has none for the user.
    #[arg(long, value_enum, default_value_t = KeyAlgorithm::Ed25519)]
    pub key_type: KeyAlgorithm,
    /// Rate-limit tier of every user.
    #[arg(long, value_enum, default_value_t = Tier::Basic)]
    pub tier: Tier,
    /// Turn the token buckets off.
    #[arg(long)]
    pub no_rate_limit: bool,
    /// Keep the market still: no synthetic agents trade.
    #[arg(long)]
    pub no_flow: bool,
    /// REST error envelope.
    #[arg(long, value_enum, default_value_t = ErrorEnvelope::Wrapped)]
    pub error_envelope: ErrorEnvelope,
    /// seq of snapshots sent for `get_snapshot`.
    #[arg(long, value_enum, default_value_t = SnapshotSeq::Continue)]
    pub snapshot_seq: SnapshotSeq,
    /// Whether the orderbook endpoints need a signature.
    #[arg(long, value_enum, default_value_t = OrderbookAuth::Required)]
    pub orderbook_auth: OrderbookAuth,
    /// Level order in WS snapshots.
    #[arg(long, value_enum, default_value_t = SnapshotLevelOrder::Ascending)]
    pub snapshot_level_order: SnapshotLevelOrder,
    /// Status of a refused WS upgrade.
    #[arg(long, value_enum, default_value_t = WsAuthFailure::Unauthorized401)]
    pub ws_auth_failure: WsAuthFailure,
}

/// Where keys live when `--key-dir` is not given: `$XDG_CONFIG_HOME/kalshi-desk/sim-keys`.
pub fn default_key_dir() -> PathBuf {
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(std::env::temp_dir);
    config_home.join("kalshi-desk").join("sim-keys")
}

impl SimArgs {
    /// The server configuration these arguments describe.
    pub fn to_config(&self) -> anyhow::Result<SimConfig> {
        let mut faults = match &self.faults {
            Some(path) => FaultConfig::load(path)?,
            None => FaultConfig::default(),
        };
        self.fault_flags.apply(&mut faults)?;
        Ok(SimConfig {
            bind: SocketAddr::new(self.bind, self.port),
            seed: self.seed,
            markets: self.markets,
            flow: !self.no_flow,
            faults,
            variants: Variants {
                error_envelope: self.error_envelope,
                snapshot_seq: self.snapshot_seq,
                orderbook_auth: self.orderbook_auth,
                snapshot_level_order: self.snapshot_level_order,
                ws_auth_failure: self.ws_auth_failure,
            },
            key_dir: self.key_dir.clone().unwrap_or_else(default_key_dir),
            key_algorithm: self.key_type,
            rate_limits: (!self.no_rate_limit).then(|| self.tier.limits()),
            ..SimConfig::default()
        })
    }
}

/// Run `kdesk sim` until Ctrl-C.
pub async fn run_sim(args: SimArgs) -> anyhow::Result<()> {
    let config = args.to_config()?;
    let handle = SimServer::start(config)
        .await
        .context("starting the simulator")?;
    println!("kalshi-desk simulator");
    println!("  REST base URL: {}", handle.rest_base_url);
    println!("  WS URL:        {}", handle.ws_url);
    println!("  key id:        {}", handle.key_id);
    println!("  key file:      {}", handle.key_file.display());
    println!("  user id:       {}", handle.user_id);
    println!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    println!("stopping…");
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn parse(args: &[&str]) -> SimArgs {
        Cli::try_parse_from(std::iter::once("sim").chain(args.iter().copied()))
            .unwrap()
            .sim
    }

    #[test]
    fn defaults_bind_loopback_on_a_free_port() {
        let config = parse(&[]).to_config().unwrap();
        assert_eq!(config.bind, "127.0.0.1:0".parse().unwrap());
        assert_eq!((config.seed, config.markets), (7, 40));
        assert!(config.flow);
        assert_eq!(config.rate_limits, Some(Tier::Basic.limits()));
    }

    #[test]
    fn flags_reach_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let faults = dir.path().join("faults.toml");
        std::fs::write(
            &faults,
            "[ws]\nskip_seq_every_n = 9\n[rest]\nlatency_ms = 5\n",
        )
        .unwrap();
        let args = parse(&[
            "--port",
            "9100",
            "--bind",
            "0.0.0.0",
            "--seed",
            "3",
            "--markets",
            "12",
            "--faults",
            faults.to_str().unwrap(),
            "--fault-rest-latency-ms",
            "8",
            "--fault-freeze-book",
            "KXA-1",
            "--tier",
            "prime",
            "--no-flow",
            "--error-envelope",
            "bare",
            "--snapshot-seq",
            "reset",
            "--key-type",
            "rsa",
            "--key-dir",
            dir.path().to_str().unwrap(),
        ]);
        let config = args.to_config().unwrap();
        assert_eq!(config.bind, "0.0.0.0:9100".parse().unwrap());
        assert_eq!((config.seed, config.markets, config.flow), (3, 12, false));
        assert_eq!(config.faults.ws.skip_seq_every_n, 9);
        assert_eq!(config.faults.rest.latency_ms, 8, "flags override the file");
        assert!(config.faults.market.frozen_books.contains("KXA-1"));
        assert_eq!(config.rate_limits.unwrap().usage_tier, "prime");
        assert_eq!(config.variants.error_envelope, ErrorEnvelope::Bare);
        assert_eq!(config.variants.snapshot_seq, SnapshotSeq::Reset);
        assert_eq!(config.key_algorithm, KeyAlgorithm::Rsa);
        assert_eq!(config.key_dir, dir.path());
        let missing = parse(&["--faults", "/nonexistent/faults.toml"]).to_config();
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/faults.toml")
        );
    }

    #[test]
    fn keys_new_defaults_to_the_simulators_member_and_refuses_a_non_uuid() {
        use crate::cli::{Cli as Kdesk, Command, KeysCommand};
        let parsed = Kdesk::try_parse_from(["kdesk", "keys", "new"]).unwrap();
        let Some(Command::Keys {
            command: KeysCommand::New(args),
        }) = parsed.command
        else {
            panic!("`kdesk keys new` parses as the keys command");
        };
        assert_eq!(args.user, crate::sim::server::DEFAULT_USER_ID);
        let err = Kdesk::try_parse_from(["kdesk", "keys", "new", "--user", "sim-user"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a UUID"), "{err}");
    }
}
