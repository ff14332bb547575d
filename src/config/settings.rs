//! `config.toml`: environment, key, watchlist, risk limits, strategies, screen preferences.
//!
//! Every field has a safe default, so an empty or missing file starts the desk on the simulator.
//! Unknown keys and wrong types are errors with file:line:col; values that look like secrets are
//! refused (the private key lives in its own file, named by `key_file`).

use crate::config::diagnostic::{Diagnostic, Severity};
use crate::core::num::{Count, Money, Price};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which exchange the desk talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// The embedded simulator (default; no key needed).
    #[default]
    Sim,
    /// Kalshi's demo exchange (play money, its own keys).
    Demo,
    /// Kalshi production: real money; needs an explicit opt-in.
    Prod,
}

impl Environment {
    pub fn name(self) -> &'static str {
        match self {
            Environment::Sim => "sim",
            Environment::Demo => "demo",
            Environment::Prod => "prod",
        }
    }
}

/// What to do with armed strategies when the screen exits or crashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnUiExit {
    /// Halt (kill switch) before the terminal is restored: nothing runs unattended.
    #[default]
    Halt,
    /// Leave the engine as it is (only with a headless engine attached elsewhere).
    Keep,
}

/// Risk limits as the operator writes them (dollar and contract strings, exact).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskSettings {
    pub max_order_contracts: Count,
    pub max_order_cost: Money,
    pub max_position_contracts: Count,
    pub max_event_loss: Money,
    pub max_gross_exposure: Money,
    pub max_open_orders: u32,
    pub max_orders_per_minute: u32,
    pub runaway_orders_per_minute: u32,
    pub max_daily_loss: Money,
    /// Orders priced further than this from the reference (mid) are refused.
    pub collar: Price,
    pub reject_streak: u32,
    /// Consecutive evaluations a breach must persist before it halts the desk.
    pub breach_persistence: u32,
}

impl Default for RiskSettings {
    fn default() -> RiskSettings {
        RiskSettings {
            max_order_contracts: Count::from_contracts(100),
            max_order_cost: Money::from_cents(5_000),
            max_position_contracts: Count::from_contracts(500),
            max_event_loss: Money::from_cents(25_000),
            max_gross_exposure: Money::from_cents(100_000),
            max_open_orders: 400,
            max_orders_per_minute: 600,
            runaway_orders_per_minute: 1_200,
            max_daily_loss: Money::from_cents(10_000),
            collar: Price::from_cents(15).unwrap_or(Price::ZERO),
            reject_streak: 8,
            breach_persistence: 3,
        }
    }
}

/// Options for the embedded simulator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSettings {
    pub seed: u64,
    pub markets: usize,
    /// A fault-injection TOML file (see `kdesk sim --help`).
    pub faults: Option<PathBuf>,
}

impl Default for SimSettings {
    fn default() -> SimSettings {
        SimSettings {
            seed: 7,
            markets: 40,
            faults: None,
        }
    }
}

/// The whole config file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub environment: Environment,
    /// The API key id (a UUID; not a secret). `KALSHI_KEY_ID` overrides.
    pub key_id: Option<String>,
    /// Path of the private key file (0600). `KALSHI_KEY_FILE` overrides.
    pub key_file: Option<PathBuf>,
    pub allow_insecure_key: bool,
    /// Production opt-in: must be true (or `--i-understand-this-is-real-money`) for `prod`.
    pub real_money: bool,
    pub subaccount: u32,
    pub theme: String,
    /// Keymap overlays applied in order on the default (`"vim"`, or names in <config>/keymaps/).
    pub keymap: Vec<String>,
    pub max_fps: u32,
    pub on_ui_exit: OnUiExit,
    pub bell: bool,
    /// IANA time zone whose midnight starts the trading day for daily P&L.
    pub day_boundary: String,
    /// Markets shown at start (tickers); empty means the most active open markets.
    pub watchlist: Vec<String>,
    pub risk: RiskSettings,
    /// Per-market strategy settings: ticker → { strategy = "maker", ... parameters }.
    pub strategies: BTreeMap<String, toml::Table>,
    pub sim: SimSettings,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            environment: Environment::Sim,
            key_id: None,
            key_file: None,
            allow_insecure_key: false,
            real_money: false,
            subaccount: 0,
            theme: "default".into(),
            keymap: Vec::new(),
            max_fps: 60,
            on_ui_exit: OnUiExit::Halt,
            bell: false,
            day_boundary: "America/New_York".into(),
            watchlist: Vec::new(),
            risk: RiskSettings::default(),
            strategies: BTreeMap::new(),
            sim: SimSettings::default(),
        }
    }
}

/// Keys whose names say they hold a secret.
const SECRET_NAMES: [&str; 6] = [
    "private_key",
    "secret",
    "password",
    "passphrase",
    "api_secret",
    "token",
];

impl Settings {
    /// Parse config text; `file` names it in diagnostics.
    pub fn parse(text: &str, file: &str) -> Result<Settings, Vec<Diagnostic>> {
        let mut diagnostics = secret_findings(text, file);
        let settings = match toml::from_str::<Settings>(text) {
            Ok(settings) => Some(settings),
            Err(error) => {
                // A syntax error on a secret's line would quote the secret back; the secret
                // finding already names the line.
                let syntax = Diagnostic::from_toml(file, text, &error);
                if !diagnostics.iter().any(|d| d.line == syntax.line) {
                    diagnostics.push(syntax);
                }
                None
            }
        };
        if let Some(settings) = &settings {
            if settings.max_fps == 0 || settings.max_fps > 240 {
                diagnostics.push(at_key(
                    text,
                    file,
                    "max_fps",
                    format!("max_fps {} is outside 1..=240", settings.max_fps),
                ));
            }
            if settings.subaccount > 63 {
                diagnostics.push(at_key(
                    text,
                    file,
                    "subaccount",
                    format!("subaccount {} is outside 0..=63", settings.subaccount),
                ));
            }
            if settings.day_boundary.parse::<chrono_tz::Tz>().is_err() {
                diagnostics.push(at_key(
                    text,
                    file,
                    "day_boundary",
                    format!("'{}' is not an IANA time zone", settings.day_boundary),
                ));
            }
        }
        match settings {
            Some(settings) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(settings),
            _ => Err(diagnostics),
        }
    }

    /// Load `path`; a missing file at the default location means defaults, a missing file named
    /// explicitly is an error.
    pub fn load(path: &Path, explicit: bool) -> Result<Settings, Vec<Diagnostic>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Settings::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                Ok(Settings::default())
            }
            Err(e) => Err(vec![Diagnostic {
                severity: Severity::Error,
                file: path.display().to_string(),
                line: 0,
                col: 0,
                source_line: String::new(),
                message: format!("cannot read the config file: {e}"),
                help: None,
            }]),
        }
    }

    /// Apply `KALSHI_KEY_ID` / `KALSHI_KEY_FILE` from the environment (given as a lookup so tests
    /// need not touch the process environment).
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        if let Some(id) = lookup("KALSHI_KEY_ID").filter(|v| !v.is_empty()) {
            self.key_id = Some(id);
        }
        if let Some(file) = lookup("KALSHI_KEY_FILE").filter(|v| !v.is_empty()) {
            self.key_file = Some(PathBuf::from(file));
        }
    }
}

fn at_key(text: &str, file: &str, key: &str, message: String) -> Diagnostic {
    let offset = text
        .lines()
        .scan(0usize, |pos, line| {
            let start = *pos;
            *pos += line.len() + 1;
            Some((start, line))
        })
        .find(|(_, line)| line.trim_start().starts_with(key))
        .map_or(0, |(start, _)| start);
    Diagnostic::at(Severity::Error, file, text, offset..offset, message, None)
}

/// Lines that carry a secret: a PEM block, or a key named like a secret.
fn secret_findings(text: &str, file: &str) -> Vec<Diagnostic> {
    let mut findings = Vec::new();
    let mut offset = 0;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let key = trimmed
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"')
            .to_ascii_lowercase();
        let named_secret = trimmed.contains('=')
            && SECRET_NAMES
                .iter()
                .any(|s| key == *s || key.ends_with(&format!("_{s}")));
        if line.contains("PRIVATE KEY-----") || named_secret {
            let mut finding = Diagnostic::at(
                Severity::Error,
                file,
                text,
                offset..offset + line.len(),
                "secrets do not belong in the config file".to_string(),
                Some("put the private key in its own file (chmod 600) and name it with key_file = \"...\"".into()),
            );
            // Point at the line without printing the secret to the terminal (or a CI log).
            finding.source_line = match line.split_once('=') {
                Some((name, _)) => format!("{}= <redacted>", name),
                None => "<redacted>".into(),
            };
            findings.push(finding);
        }
        offset += line.len() + 1;
    }
    findings
}

/// Where the desk keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
}

impl Paths {
    /// `--config-dir` > `$XDG_CONFIG_HOME/kalshi-desk` > `~/.config/kalshi-desk`; the state dir
    /// likewise from `$XDG_STATE_HOME` or `~/.local/state`.
    pub fn resolve(
        config_dir_flag: Option<&Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Paths {
        let home = lookup("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let xdg = |var: &str, fallback: &[&str]| {
            lookup(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| fallback.iter().fold(home.clone(), |p, part| p.join(part)))
                .join("kalshi-desk")
        };
        Paths {
            config_dir: config_dir_flag
                .map_or_else(|| xdg("XDG_CONFIG_HOME", &[".config"]), Path::to_path_buf),
            state_dir: xdg("XDG_STATE_HOME", &[".local", "state"]),
        }
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_the_simulator_with_safe_defaults() {
        let settings = Settings::parse("", "config.toml").unwrap();
        assert_eq!(settings, Settings::default());
        assert_eq!(settings.environment, Environment::Sim);
        assert_eq!(settings.on_ui_exit, OnUiExit::Halt);
    }

    #[test]
    fn parses_a_full_config() {
        let text = r#"
environment = "demo"
key_id = "0b5e5f8c-0000-4000-8000-000000000001"
key_file = "/home/me/.kalshi/demo.pem"
keymap = ["vim"]
watchlist = ["KXFED-26DEC-T4.25"]
[risk]
max_order_contracts = "25"
max_daily_loss = "40.00"
collar = "0.05"
[strategies."KXFED-26DEC-T4.25"]
strategy = "maker"
half_spread = "0.02"
"#;
        let settings = Settings::parse(text, "config.toml").unwrap();
        assert_eq!(settings.environment, Environment::Demo);
        assert_eq!(settings.risk.max_order_contracts, Count::from_contracts(25));
        assert_eq!(settings.risk.max_daily_loss, Money::from_cents(4_000));
        assert_eq!(settings.risk.collar, Price::from_cents(5).unwrap());
        assert_eq!(
            settings.risk.max_open_orders,
            RiskSettings::default().max_open_orders
        );
        assert_eq!(
            settings.strategies["KXFED-26DEC-T4.25"]["strategy"].as_str(),
            Some("maker")
        );
    }

    #[test]
    fn secret_findings_never_quote_the_secret() {
        let text = "key_id = \"k\"\nprivate_key = \"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\"\n";
        let err = Settings::parse(text, "c.toml").unwrap_err();
        let rendered = crate::config::diagnostic::render_all(&err);
        assert!(rendered.contains("c.toml:2:1"), "{rendered}");
        assert!(!rendered.contains("MIIEvQ"), "{rendered}");
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
        let rendered =
            crate::config::diagnostic::render_all(&Settings::parse(pem, "k.pem").unwrap_err());
        assert!(rendered.contains("k.pem:1:1"), "{rendered}");
        assert!(!rendered.contains("MIIEvQ"), "{rendered}");
    }

    #[test]
    fn mistakes_are_located() {
        let err = Settings::parse("environment = \"production\"\n", "c.toml").unwrap_err();
        let text = crate::config::diagnostic::render_all(&err);
        assert!(
            text.contains("c.toml:1:") && text.contains("production"),
            "{text}"
        );
        let err = Settings::parse("[risk]\nmax_daily_los = \"1\"\n", "c.toml").unwrap_err();
        assert!(crate::config::diagnostic::render_all(&err).contains("max_daily_los"));
        let err = Settings::parse("[risk]\nmax_daily_loss = 40.0\n", "c.toml").unwrap_err();
        assert!(crate::config::diagnostic::render_all(&err).contains("c.toml:2:"));
        let err = Settings::parse("day_boundary = \"Mars/Olympus\"\n", "c.toml").unwrap_err();
        assert!(err[0].message.contains("IANA"));
    }

    #[test]
    fn secrets_are_refused() {
        for text in [
            "private_key = \"abc\"\n",
            "api_secret = \"abc\"\n",
            "key_id = \"x\"\nnote = \"\"\"\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n\"\"\"\n",
        ] {
            let err = Settings::parse(text, "c.toml").unwrap_err();
            assert!(
                err.iter()
                    .any(|d| d.message.contains("secrets do not belong")),
                "{text}"
            );
            assert!(!crate::config::diagnostic::render_all(&err).contains("MIIE"));
        }
    }

    #[test]
    fn environment_variables_name_the_key() {
        let mut settings = Settings::default();
        settings.apply_env(|v| match v {
            "KALSHI_KEY_ID" => Some("abc".into()),
            "KALSHI_KEY_FILE" => Some("/k.pem".into()),
            _ => None,
        });
        assert_eq!(settings.key_id.as_deref(), Some("abc"));
        assert_eq!(settings.key_file, Some(PathBuf::from("/k.pem")));
    }

    #[test]
    fn paths_follow_xdg() {
        let paths = Paths::resolve(None, |v| match v {
            "HOME" => Some("/home/t".into()),
            "XDG_STATE_HOME" => Some("/var/s".into()),
            _ => None,
        });
        assert_eq!(
            paths.config_dir,
            PathBuf::from("/home/t/.config/kalshi-desk")
        );
        assert_eq!(paths.state_dir, PathBuf::from("/var/s/kalshi-desk"));
        assert_eq!(
            Paths::resolve(Some(Path::new("/c")), |_| None).config_dir,
            PathBuf::from("/c")
        );
    }
}
