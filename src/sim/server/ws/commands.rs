//! Parsing client commands (DIGEST.md 7.2) into [`Command`]s, or into the error frame code the
//! spec assigns to each way a command can be wrong (DIGEST 7.5).

use serde_json::Value;

/// Channels a client can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    OrderbookDelta,
    Ticker,
    Trade,
    Fill,
    MarketPositions,
    UserOrders,
    MarketLifecycleV2,
    OrderGroupUpdates,
    /// Accepted; the simulator lists no multivariate markets, so nothing is ever sent on it.
    MultivariateMarketLifecycle,
    /// Accepted; the simulator runs no RFQs, so nothing is ever sent on it.
    Communications,
}

impl Channel {
    pub fn parse(name: &str) -> Option<Channel> {
        Some(match name {
            "orderbook_delta" => Channel::OrderbookDelta,
            "ticker" => Channel::Ticker,
            "trade" => Channel::Trade,
            "fill" => Channel::Fill,
            "market_positions" => Channel::MarketPositions,
            "user_orders" => Channel::UserOrders,
            "market_lifecycle_v2" => Channel::MarketLifecycleV2,
            "order_group_updates" => Channel::OrderGroupUpdates,
            "multivariate_market_lifecycle" => Channel::MultivariateMarketLifecycle,
            "communications" => Channel::Communications,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Channel::OrderbookDelta => "orderbook_delta",
            Channel::Ticker => "ticker",
            Channel::Trade => "trade",
            Channel::Fill => "fill",
            Channel::MarketPositions => "market_positions",
            Channel::UserOrders => "user_orders",
            Channel::MarketLifecycleV2 => "market_lifecycle_v2",
            Channel::OrderGroupUpdates => "order_group_updates",
            Channel::MultivariateMarketLifecycle => "multivariate_market_lifecycle",
            Channel::Communications => "communications",
        }
    }

    /// Whether its frames carry `seq` (DIGEST 7.4).
    pub fn is_sequenced(self) -> bool {
        matches!(self, Channel::OrderbookDelta | Channel::OrderGroupUpdates)
    }

    /// Whether a market filter narrows it (otherwise it is ignored: lifecycle, order groups).
    pub fn takes_market_filter(self) -> bool {
        !matches!(
            self,
            Channel::MarketLifecycleV2
                | Channel::OrderGroupUpdates
                | Channel::MultivariateMarketLifecycle
                | Channel::Communications
        )
    }
}

/// Error frame codes (DIGEST 7.5).
pub mod code {
    pub const UNABLE_TO_PROCESS: u32 = 1;
    pub const PARAMS_REQUIRED: u32 = 2;
    pub const CHANNELS_REQUIRED: u32 = 3;
    pub const SIDS_REQUIRED: u32 = 4;
    pub const UNKNOWN_COMMAND: u32 = 5;
    pub const UNKNOWN_SID: u32 = 7;
    pub const UNKNOWN_CHANNEL: u32 = 8;
    pub const INVALID_PARAMETER: u32 = 11;
    pub const EXACTLY_ONE_SID: u32 = 12;
    pub const UNSUPPORTED_ACTION: u32 = 13;
    pub const MARKET_TICKER_REQUIRED: u32 = 14;
    pub const ACTION_REQUIRED: u32 = 15;
    pub const MARKET_NOT_FOUND: u32 = 16;
    pub const BUFFER_OVERFLOW: u32 = 25;
}

/// A command that could not be accepted: the frame to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    pub id: Option<u64>,
    pub code: u32,
    pub msg: String,
    pub market_ticker: Option<String>,
}

impl CommandError {
    pub fn new(id: Option<u64>, code: u32, msg: impl Into<String>) -> CommandError {
        CommandError {
            id,
            code,
            msg: msg.into(),
            market_ticker: None,
        }
    }
}

/// Markets named in a command, by ticker or by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MarketSelection {
    pub tickers: Vec<String>,
    pub ids: Vec<String>,
}

impl MarketSelection {
    pub fn is_empty(&self) -> bool {
        self.tickers.is_empty() && self.ids.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateAction {
    AddMarkets,
    DeleteMarkets,
    GetSnapshot,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Subscribe {
        id: Option<u64>,
        channels: Vec<Channel>,
        markets: MarketSelection,
        use_yes_price: bool,
        send_initial_snapshot: bool,
    },
    Unsubscribe {
        id: Option<u64>,
        sids: Vec<u64>,
    },
    UpdateSubscription {
        id: Option<u64>,
        sid: u64,
        action: UpdateAction,
        markets: MarketSelection,
        send_initial_snapshot: bool,
    },
    ListSubscriptions {
        id: Option<u64>,
    },
}

fn string_list(
    params: &serde_json::Map<String, Value>,
    single: &str,
    many: &str,
    id: Option<u64>,
) -> Result<Vec<String>, CommandError> {
    let invalid = |name: &str| {
        CommandError::new(
            id,
            code::INVALID_PARAMETER,
            format!(
                "{name} must be {}",
                if name == single {
                    "a string"
                } else {
                    "an array of strings"
                }
            ),
        )
    };
    let mut out = Vec::new();
    if let Some(value) = params.get(single) {
        out.push(value.as_str().ok_or_else(|| invalid(single))?.to_string());
    }
    if let Some(value) = params.get(many) {
        for item in value.as_array().ok_or_else(|| invalid(many))? {
            out.push(item.as_str().ok_or_else(|| invalid(many))?.to_string());
        }
    }
    Ok(out)
}

fn flag(
    params: &serde_json::Map<String, Value>,
    name: &str,
    id: Option<u64>,
) -> Result<bool, CommandError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(CommandError::new(
            id,
            code::INVALID_PARAMETER,
            format!("{name} must be a boolean"),
        )),
    }
}

fn selection(
    params: &serde_json::Map<String, Value>,
    id: Option<u64>,
) -> Result<MarketSelection, CommandError> {
    Ok(MarketSelection {
        tickers: string_list(params, "market_ticker", "market_tickers", id)?,
        ids: string_list(params, "market_id", "market_ids", id)?,
    })
}

fn sid_list(value: &Value, id: Option<u64>) -> Result<Vec<u64>, CommandError> {
    let items = value.as_array().ok_or_else(|| {
        CommandError::new(
            id,
            code::INVALID_PARAMETER,
            "sids must be an array of integers",
        )
    })?;
    items
        .iter()
        .map(|item| {
            item.as_u64().ok_or_else(|| {
                CommandError::new(
                    id,
                    code::INVALID_PARAMETER,
                    "sids must be an array of integers",
                )
            })
        })
        .collect()
}

/// Parse one text frame.
pub fn parse(text: &str) -> Result<Command, CommandError> {
    let unable = |id| CommandError::new(id, code::UNABLE_TO_PROCESS, "Unable to process message");
    let value: Value = serde_json::from_str(text).map_err(|_| unable(None))?;
    let object = value.as_object().ok_or_else(|| unable(None))?;
    let id = match object.get("id") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_u64() {
            Some(0) => None,
            Some(id) => Some(id),
            None => return Err(unable(None)),
        },
    };
    let cmd = object
        .get("cmd")
        .and_then(Value::as_str)
        .ok_or_else(|| unable(id))?;
    if cmd == "list_subscriptions" {
        return Ok(Command::ListSubscriptions { id });
    }
    if !matches!(cmd, "subscribe" | "unsubscribe" | "update_subscription") {
        return Err(CommandError::new(
            id,
            code::UNKNOWN_COMMAND,
            format!("Unknown command {cmd:?}"),
        ));
    }
    let params = match object.get("params") {
        None | Some(Value::Null) => {
            return Err(CommandError::new(
                id,
                code::PARAMS_REQUIRED,
                "Params required",
            ));
        }
        Some(Value::Object(params)) => params,
        Some(_) => return Err(unable(id)),
    };
    match cmd {
        "subscribe" => {
            let names = match params.get("channels") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(names)) => names.clone(),
                Some(_) => {
                    return Err(CommandError::new(
                        id,
                        code::INVALID_PARAMETER,
                        "channels must be an array",
                    ));
                }
            };
            if names.is_empty() {
                return Err(CommandError::new(
                    id,
                    code::CHANNELS_REQUIRED,
                    "Channels required",
                ));
            }
            let mut channels = Vec::new();
            for name in names {
                let name = name.as_str().unwrap_or_default();
                let channel = Channel::parse(name).ok_or_else(|| {
                    CommandError::new(
                        id,
                        code::UNKNOWN_CHANNEL,
                        format!("Unknown channel name {name:?}"),
                    )
                })?;
                if !channels.contains(&channel) {
                    channels.push(channel);
                }
            }
            let markets = selection(params, id)?;
            if channels.contains(&Channel::OrderbookDelta) && markets.is_empty() {
                return Err(CommandError::new(
                    id,
                    code::MARKET_TICKER_REQUIRED,
                    "Market Ticker required",
                ));
            }
            Ok(Command::Subscribe {
                id,
                channels,
                markets,
                use_yes_price: flag(params, "use_yes_price", id)?,
                send_initial_snapshot: flag(params, "send_initial_snapshot", id)?,
            })
        }
        "unsubscribe" => {
            let sids = match params.get("sids") {
                None | Some(Value::Null) => Vec::new(),
                Some(value) => sid_list(value, id)?,
            };
            if sids.is_empty() {
                return Err(CommandError::new(
                    id,
                    code::SIDS_REQUIRED,
                    "Subscription IDs required",
                ));
            }
            Ok(Command::Unsubscribe { id, sids })
        }
        _ => {
            let mut sids = match params.get("sids") {
                None | Some(Value::Null) => Vec::new(),
                Some(value) => sid_list(value, id)?,
            };
            match params.get("sid") {
                None | Some(Value::Null) => {}
                Some(value) => sids.push(value.as_u64().ok_or_else(|| {
                    CommandError::new(id, code::INVALID_PARAMETER, "sid must be an integer")
                })?),
            }
            if sids.len() != 1 {
                return Err(CommandError::new(
                    id,
                    code::EXACTLY_ONE_SID,
                    "Exactly one subscription ID is required",
                ));
            }
            let action = match params.get("action").and_then(Value::as_str) {
                None => {
                    return Err(CommandError::new(
                        id,
                        code::ACTION_REQUIRED,
                        "Action required",
                    ));
                }
                Some("add_markets") => UpdateAction::AddMarkets,
                Some("delete_markets") => UpdateAction::DeleteMarkets,
                Some("get_snapshot") => UpdateAction::GetSnapshot,
                Some(other) => {
                    return Err(CommandError::new(
                        id,
                        code::UNSUPPORTED_ACTION,
                        format!("Unsupported action {other:?}"),
                    ));
                }
            };
            let markets = selection(params, id)?;
            if markets.is_empty() {
                return Err(CommandError::new(
                    id,
                    code::MARKET_TICKER_REQUIRED,
                    "Market Ticker required",
                ));
            }
            if action == UpdateAction::GetSnapshot && !markets.ids.is_empty() {
                return Err(CommandError::new(
                    id,
                    code::INVALID_PARAMETER,
                    "get_snapshot accepts market_tickers only",
                ));
            }
            Ok(Command::UpdateSubscription {
                id,
                sid: sids[0],
                action,
                markets,
                send_initial_snapshot: flag(params, "send_initial_snapshot", id)?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(text: &str) -> u32 {
        parse(text).unwrap_err().code
    }

    #[test]
    fn parses_the_spec_examples() {
        let subscribe = parse(r#"{"id":1,"cmd":"subscribe","params":{"channels":["orderbook_delta"],"market_ticker":"CPI-22DEC-TN0.1"}}"#).unwrap();
        assert_eq!(
            subscribe,
            Command::Subscribe {
                id: Some(1),
                channels: vec![Channel::OrderbookDelta],
                markets: MarketSelection {
                    tickers: vec!["CPI-22DEC-TN0.1".into()],
                    ids: vec![]
                },
                use_yes_price: false,
                send_initial_snapshot: false,
            }
        );
        let update = parse(r#"{"id":124,"cmd":"update_subscription","params":{"sids":[456],"market_tickers":["A","B"],"action":"get_snapshot"}}"#).unwrap();
        assert!(matches!(
            update,
            Command::UpdateSubscription {
                sid: 456,
                action: UpdateAction::GetSnapshot,
                ..
            }
        ));
        assert_eq!(
            parse(r#"{"id":3,"cmd":"list_subscriptions"}"#).unwrap(),
            Command::ListSubscriptions { id: Some(3) }
        );
        assert_eq!(
            parse(r#"{"id":0,"cmd":"unsubscribe","params":{"sids":[1,2]}}"#).unwrap(),
            Command::Unsubscribe {
                id: None,
                sids: vec![1, 2]
            }
        );
    }

    #[test]
    fn each_mistake_gets_its_code() {
        assert_eq!(code_of("not json"), code::UNABLE_TO_PROCESS);
        assert_eq!(
            code_of(r#"{"id":1,"cmd":"subscribe"}"#),
            code::PARAMS_REQUIRED
        );
        assert_eq!(
            code_of(r#"{"id":1,"cmd":"subscribe","params":{}}"#),
            code::CHANNELS_REQUIRED
        );
        assert_eq!(
            code_of(r#"{"id":1,"cmd":"unsubscribe","params":{}}"#),
            code::SIDS_REQUIRED
        );
        assert_eq!(
            code_of(r#"{"id":1,"cmd":"dance","params":{}}"#),
            code::UNKNOWN_COMMAND
        );
        assert_eq!(
            code_of(r#"{"id":1,"cmd":"subscribe","params":{"channels":["nope"]}}"#),
            code::UNKNOWN_CHANNEL
        );
        assert_eq!(
            code_of(r#"{"id":1,"cmd":"subscribe","params":{"channels":["orderbook_delta"]}}"#),
            code::MARKET_TICKER_REQUIRED
        );
        assert_eq!(
            code_of(
                r#"{"id":1,"cmd":"subscribe","params":{"channels":["ticker"],"use_yes_price":"yes"}}"#
            ),
            code::INVALID_PARAMETER
        );
        assert_eq!(
            code_of(
                r#"{"id":1,"cmd":"update_subscription","params":{"sids":[1,2],"action":"add_markets","market_ticker":"A"}}"#
            ),
            code::EXACTLY_ONE_SID
        );
        assert_eq!(
            code_of(
                r#"{"id":1,"cmd":"update_subscription","params":{"sid":1,"market_ticker":"A"}}"#
            ),
            code::ACTION_REQUIRED
        );
        assert_eq!(
            code_of(
                r#"{"id":1,"cmd":"update_subscription","params":{"sid":1,"action":"fly","market_ticker":"A"}}"#
            ),
            code::UNSUPPORTED_ACTION
        );
        assert_eq!(
            parse(r#"{"id":9,"cmd":"subscribe"}"#).unwrap_err().id,
            Some(9)
        );
    }
}
