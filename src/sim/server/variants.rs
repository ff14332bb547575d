//! Switches for behaviours Kalshi has not pinned down (DIGEST.md marks them UNCONFIRMED). Each
//! switch serves one plausible answer, so a client can be tested against all of them.

/// How REST errors are enveloped (DIGEST 9): the spec shows a bare `ErrorResponse`, independent
/// clients observe it wrapped in `{"error": …}`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorEnvelope {
    /// `{"error":{"code":…,"message":…,"details":…}}`
    #[default]
    Wrapped,
    /// `{"code":…,"message":…,"details":…}`
    Bare,
}

/// The seq of `orderbook_snapshot`s sent for `get_snapshot` (DIGEST 7.4).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotSeq {
    /// The subscription's counter carries on: the snapshot takes the next number.
    #[default]
    Continue,
    /// The subscription's counter restarts: the snapshot carries seq 1.
    Reset,
}

/// Whether `GET /markets/{ticker}/orderbook` and `/markets/orderbooks` need a signature
/// (the spec says yes, the guide says no).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderbookAuth {
    #[default]
    Required,
    Public,
}

/// The order of levels in a WS `orderbook_snapshot` (not stated by Kalshi).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotLevelOrder {
    /// Ascending price, like REST.
    #[default]
    Ascending,
    /// Best first.
    Descending,
}

/// The HTTP status of a refused WS upgrade (401 expected; CloudFront answers 403).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum WsAuthFailure {
    #[default]
    Unauthorized401,
    Forbidden403,
}

impl WsAuthFailure {
    pub fn status(self) -> http::StatusCode {
        match self {
            WsAuthFailure::Unauthorized401 => http::StatusCode::UNAUTHORIZED,
            WsAuthFailure::Forbidden403 => http::StatusCode::FORBIDDEN,
        }
    }
}

/// All switches; the defaults are the likeliest answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Variants {
    pub error_envelope: ErrorEnvelope,
    pub snapshot_seq: SnapshotSeq,
    pub orderbook_auth: OrderbookAuth,
    pub snapshot_level_order: SnapshotLevelOrder,
    pub ws_auth_failure: WsAuthFailure,
}
