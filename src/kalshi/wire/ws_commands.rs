//! Client → server WebSocket commands: `{"id", "cmd", "params"}`.
//!
//! Build with [`Command::subscribe`], [`Command::subscribe_orderbook`], [`Command::unsubscribe`],
//! [`Command::update_subscription`], [`Command::get_snapshot`], [`Command::list_subscriptions`].
//! The simulator decodes with [`decode_command`], whose errors carry Kalshi's WS error code.

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::ws_frames::{ServerFrame, ServerMsg, WsError};

/// Subscribable channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    OrderbookDelta,
    Ticker,
    Trade,
    Fill,
    MarketPositions,
    MarketLifecycleV2,
    MultivariateMarketLifecycle,
    Communications,
    OrderGroupUpdates,
    UserOrders,
    CfbenchmarksValue,
    PythValue,
}

impl Channel {
    pub const ALL: [Channel; 12] = [
        Channel::OrderbookDelta,
        Channel::Ticker,
        Channel::Trade,
        Channel::Fill,
        Channel::MarketPositions,
        Channel::MarketLifecycleV2,
        Channel::MultivariateMarketLifecycle,
        Channel::Communications,
        Channel::OrderGroupUpdates,
        Channel::UserOrders,
        Channel::CfbenchmarksValue,
        Channel::PythValue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::OrderbookDelta => "orderbook_delta",
            Channel::Ticker => "ticker",
            Channel::Trade => "trade",
            Channel::Fill => "fill",
            Channel::MarketPositions => "market_positions",
            Channel::MarketLifecycleV2 => "market_lifecycle_v2",
            Channel::MultivariateMarketLifecycle => "multivariate_market_lifecycle",
            Channel::Communications => "communications",
            Channel::OrderGroupUpdates => "order_group_updates",
            Channel::UserOrders => "user_orders",
            Channel::CfbenchmarksValue => "cfbenchmarks_value",
            Channel::PythValue => "pyth_value",
        }
    }

    pub fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Channels that need an authenticated connection.
    pub fn is_private(self) -> bool {
        matches!(
            self,
            Channel::Fill
                | Channel::MarketPositions
                | Channel::Communications
                | Channel::OrderGroupUpdates
                | Channel::UserOrders
                | Channel::CfbenchmarksValue
                | Channel::PythValue
        )
    }
}

/// `subscribe` params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeParams {
    pub channels: Vec<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_tickers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_initial_snapshot: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_ticker_ack: Option<bool>,
    /// Orderbook only. Always sent explicitly on orderbook subscriptions (Kalshi will flip the
    /// default): when absent there, `false` is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_yes_price: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_factor: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underlying_tickers: Option<Vec<String>>,
}

impl SubscribeParams {
    pub fn new(channels: Vec<Channel>) -> SubscribeParams {
        SubscribeParams {
            channels,
            ..SubscribeParams::default()
        }
    }

    pub fn market_tickers<S: AsRef<str>>(mut self, tickers: &[S]) -> SubscribeParams {
        self.market_tickers = Some(tickers.iter().map(|t| t.as_ref().to_string()).collect());
        self
    }

    pub fn use_yes_price(mut self, yes_price: bool) -> SubscribeParams {
        self.use_yes_price = Some(yes_price);
        self
    }

    pub fn send_initial_snapshot(mut self, send: bool) -> SubscribeParams {
        self.send_initial_snapshot = Some(send);
        self
    }

    /// Every market the params name, single or list form.
    pub fn tickers(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.market_ticker.iter().map(String::as_str).collect();
        all.extend(self.market_tickers.iter().flatten().map(String::as_str));
        all
    }

    fn with_explicit_yes_price(&self) -> SubscribeParams {
        let mut params = self.clone();
        if params.use_yes_price.is_none() && params.channels.contains(&Channel::OrderbookDelta) {
            params.use_yes_price = Some(false);
        }
        params
    }
}

/// `unsubscribe` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsubscribeParams {
    pub sids: Vec<u64>,
}

/// `update_subscription` actions for market-keyed channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateAction {
    AddMarkets,
    DeleteMarkets,
    /// Fresh `orderbook_snapshot`s for `market_tickers` (orderbook_delta only).
    GetSnapshot,
}

/// `update_subscription` params: exactly one sid, as `sid` or `sids: [sid]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateSubscriptionParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sids: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_ticker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_tickers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_initial_snapshot: Option<bool>,
    pub action: UpdateAction,
}

impl UpdateSubscriptionParams {
    /// The one sid, or `None` when zero or several are given (error code 12).
    pub fn single_sid(&self) -> Option<u64> {
        match (self.sid, self.sids.as_deref()) {
            (Some(sid), None) => Some(sid),
            (None, Some([sid])) => Some(*sid),
            _ => None,
        }
    }

    /// Every market the params name, single or list form.
    pub fn tickers(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.market_ticker.iter().map(String::as_str).collect();
        all.extend(self.market_tickers.iter().flatten().map(String::as_str));
        all
    }
}

/// What a command asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    Subscribe(SubscribeParams),
    Unsubscribe(UnsubscribeParams),
    UpdateSubscription(UpdateSubscriptionParams),
    ListSubscriptions,
}

impl CommandBody {
    pub fn cmd_name(&self) -> &'static str {
        match self {
            CommandBody::Subscribe(_) => "subscribe",
            CommandBody::Unsubscribe(_) => "unsubscribe",
            CommandBody::UpdateSubscription(_) => "update_subscription",
            CommandBody::ListSubscriptions => "list_subscriptions",
        }
    }
}

/// A client command. `id` should be unique per session; 0 means "no id".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub id: u64,
    pub body: CommandBody,
}

impl Command {
    pub fn subscribe(id: u64, params: SubscribeParams) -> Command {
        Command {
            id,
            body: CommandBody::Subscribe(params.with_explicit_yes_price()),
        }
    }

    /// `orderbook_delta` for `tickers`, with `use_yes_price` stated.
    pub fn subscribe_orderbook<S: AsRef<str>>(
        id: u64,
        tickers: &[S],
        use_yes_price: bool,
    ) -> Command {
        Command::subscribe(
            id,
            SubscribeParams::new(vec![Channel::OrderbookDelta])
                .market_tickers(tickers)
                .use_yes_price(use_yes_price),
        )
    }

    pub fn unsubscribe(id: u64, sids: Vec<u64>) -> Command {
        Command {
            id,
            body: CommandBody::Unsubscribe(UnsubscribeParams { sids }),
        }
    }

    pub fn update_subscription<S: AsRef<str>>(
        id: u64,
        sid: u64,
        action: UpdateAction,
        market_tickers: &[S],
    ) -> Command {
        Command {
            id,
            body: CommandBody::UpdateSubscription(UpdateSubscriptionParams {
                sid: Some(sid),
                sids: None,
                market_ticker: None,
                market_tickers: Some(
                    market_tickers
                        .iter()
                        .map(|t| t.as_ref().to_string())
                        .collect(),
                ),
                market_id: None,
                market_ids: None,
                send_initial_snapshot: None,
                action,
            }),
        }
    }

    /// Fresh snapshots for `market_tickers` on orderbook subscription `sid`.
    pub fn get_snapshot<S: AsRef<str>>(id: u64, sid: u64, market_tickers: &[S]) -> Command {
        Command::update_subscription(id, sid, UpdateAction::GetSnapshot, market_tickers)
    }

    pub fn list_subscriptions(id: u64) -> Command {
        Command {
            id,
            body: CommandBody::ListSubscriptions,
        }
    }

    /// The wire text.
    pub fn to_json(&self) -> String {
        // Plain strings, integers and booleans: serializing to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for Command {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("cmd", self.body.cmd_name())?;
        match &self.body {
            CommandBody::Subscribe(p) => {
                map.serialize_entry("params", &p.with_explicit_yes_price())?
            }
            CommandBody::Unsubscribe(p) => map.serialize_entry("params", p)?,
            CommandBody::UpdateSubscription(p) => map.serialize_entry("params", p)?,
            CommandBody::ListSubscriptions => {}
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Command, D::Error> {
        let value = Value::deserialize(d)?;
        command_from_value(value).map_err(|e| serde::de::Error::custom(e.msg))
    }
}

/// A command the server refuses, with Kalshi's WS error code (DIGEST.md 7.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("WS command error {code}: {msg}")]
pub struct CommandError {
    /// The command's id when it could be read.
    pub id: Option<u64>,
    pub code: u32,
    pub msg: String,
}

impl CommandError {
    fn new(id: Option<u64>, code: u32, msg: impl Into<String>) -> CommandError {
        CommandError {
            id,
            code,
            msg: msg.into(),
        }
    }

    /// The `error` frame answering the command.
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::reply(
            self.id.unwrap_or(0),
            ServerMsg::Error(WsError {
                code: self.code,
                msg: self.msg.clone(),
                market_ticker: None,
                market_id: None,
            }),
        )
    }
}

/// Decode a client command as the exchange would, refusing with its error codes:
/// 1 unreadable, 2 params required, 3 channels required, 4 sids required, 5 unknown command,
/// 8 unknown channel, 11 invalid parameter, 12 exactly one sid, 13 unsupported action,
/// 14 market ticker required, 15 action required.
pub fn decode_command(text: &str) -> Result<Command, CommandError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| CommandError::new(None, 1, format!("Unable to process message: {e}")))?;
    command_from_value(value)
}

fn command_from_value(value: Value) -> Result<Command, CommandError> {
    let Value::Object(mut object) = value else {
        return Err(CommandError::new(
            None,
            1,
            "Unable to process message: not a JSON object",
        ));
    };
    let id = match object.get("id") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_u64().ok_or_else(|| {
            CommandError::new(
                None,
                1,
                "Unable to process message: id must be an integer >= 0",
            )
        })?,
    };
    let fail = |code: u32, msg: String| CommandError::new(Some(id), code, msg);
    let cmd = match object.get("cmd") {
        Some(Value::String(cmd)) => cmd.clone(),
        _ => return Err(fail(5, "Unknown command: cmd missing".into())),
    };
    let params = object.remove("params");
    let require_params = || match &params {
        Some(p @ Value::Object(_)) => Ok(p.clone()),
        _ => Err(fail(2, "Params required".into())),
    };
    let invalid = |e: serde_json::Error| fail(11, format!("Invalid parameter: {e}"));
    let body = match cmd.as_str() {
        "subscribe" => {
            let params = require_params()?;
            match params.get("channels") {
                Some(Value::Array(channels)) if !channels.is_empty() => {
                    for channel in channels {
                        let name = channel.as_str().unwrap_or_default();
                        if Channel::from_name(name).is_none() {
                            return Err(fail(8, format!("Unknown channel name {channel}")));
                        }
                    }
                }
                _ => return Err(fail(3, "Channels required".into())),
            }
            CommandBody::Subscribe(serde_json::from_value(params).map_err(invalid)?)
        }
        "unsubscribe" => {
            let params = require_params()?;
            match params.get("sids") {
                Some(Value::Array(sids)) if !sids.is_empty() => {}
                _ => return Err(fail(4, "Subscription IDs required".into())),
            }
            CommandBody::Unsubscribe(serde_json::from_value(params).map_err(invalid)?)
        }
        "update_subscription" => {
            let params = require_params()?;
            match params.get("action") {
                None | Some(Value::Null) => return Err(fail(15, "Action required".into())),
                Some(Value::String(action))
                    if matches!(
                        action.as_str(),
                        "add_markets" | "delete_markets" | "get_snapshot"
                    ) => {}
                Some(other) => return Err(fail(13, format!("Unsupported action {other}"))),
            }
            let update: UpdateSubscriptionParams =
                serde_json::from_value(params).map_err(invalid)?;
            if update.single_sid().is_none() {
                return Err(fail(12, "Exactly one subscription ID is required".into()));
            }
            if update.tickers().is_empty()
                && update.market_id.is_none()
                && update.market_ids.as_ref().is_none_or(Vec::is_empty)
            {
                return Err(fail(14, "Market Ticker required".into()));
            }
            CommandBody::UpdateSubscription(update)
        }
        "list_subscriptions" => CommandBody::ListSubscriptions,
        other => return Err(fail(5, format!("Unknown command {other:?}"))),
    };
    Ok(Command { id, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        for channel in Channel::ALL {
            assert_eq!(Channel::from_name(channel.as_str()), Some(channel));
            let text = serde_json::to_string(&channel).unwrap();
            assert_eq!(text, format!("\"{}\"", channel.as_str()));
        }
        assert_eq!(Channel::from_name("ticker_v2"), None);
        assert!(Channel::Fill.is_private());
        assert!(!Channel::OrderbookDelta.is_private());
    }

    #[test]
    fn single_sid_rules() {
        let mut p = UpdateSubscriptionParams {
            sid: Some(3),
            sids: None,
            market_ticker: Some("A".into()),
            market_tickers: Some(vec!["B".into()]),
            market_id: None,
            market_ids: None,
            send_initial_snapshot: None,
            action: UpdateAction::AddMarkets,
        };
        assert_eq!(p.single_sid(), Some(3));
        assert_eq!(p.tickers(), ["A", "B"]);
        p.sids = Some(vec![3]);
        assert_eq!(p.single_sid(), None);
        p.sid = None;
        assert_eq!(p.single_sid(), Some(3));
        p.sids = Some(vec![]);
        assert_eq!(p.single_sid(), None);
    }

    #[test]
    fn command_without_id_defaults_to_zero() {
        let cmd = decode_command(r#"{"cmd":"list_subscriptions"}"#).unwrap();
        assert_eq!(cmd, Command::list_subscriptions(0));
        let err = decode_command(r#"{"id":-1,"cmd":"list_subscriptions"}"#).unwrap_err();
        assert_eq!(err.code, 1);
        let cmd: Command =
            serde_json::from_str(r#"{"id":2,"cmd":"unsubscribe","params":{"sids":[4]}}"#).unwrap();
        assert_eq!(cmd, Command::unsubscribe(2, vec![4]));
    }
}
