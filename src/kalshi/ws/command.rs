//! Client → server commands (DIGEST 7.2): `{"id", "cmd", "params"}`, every one with its own id so
//! its reply can be matched.

use super::Channel;
use crate::core::market::Ticker;
use serde::Serialize;

/// `update_subscription` actions for market lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateAction {
    AddMarkets,
    DeleteMarkets,
    GetSnapshot,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Subscribe {
        channel: Channel,
        /// None subscribes to every market the channel offers.
        market_tickers: Option<Vec<Ticker>>,
        /// Sent on every orderbook subscription (Kalshi will flip its default).
        use_yes_price: Option<bool>,
    },
    Unsubscribe {
        sids: Vec<u64>,
    },
    UpdateSubscription {
        sid: u64,
        action: UpdateAction,
        market_tickers: Vec<Ticker>,
    },
    ListSubscriptions,
}

#[derive(Serialize)]
struct Frame<'a, P: Serialize> {
    id: u64,
    cmd: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<P>,
}

#[derive(Serialize)]
struct SubscribeParams<'a> {
    channels: [&'a str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    market_tickers: Option<&'a [Ticker]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    use_yes_price: Option<bool>,
}

#[derive(Serialize)]
struct UnsubscribeParams<'a> {
    sids: &'a [u64],
}

#[derive(Serialize)]
struct UpdateParams<'a> {
    sids: [u64; 1],
    market_tickers: &'a [Ticker],
    action: UpdateAction,
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Subscribe { .. } => "subscribe",
            Command::Unsubscribe { .. } => "unsubscribe",
            Command::UpdateSubscription { .. } => "update_subscription",
            Command::ListSubscriptions => "list_subscriptions",
        }
    }

    /// The JSON text frame for this command under `id`.
    pub fn to_json(&self, id: u64) -> Result<String, serde_json::Error> {
        let cmd = self.name();
        match self {
            Command::Subscribe {
                channel,
                market_tickers,
                use_yes_price,
            } => serde_json::to_string(&Frame {
                id,
                cmd,
                params: Some(SubscribeParams {
                    channels: [channel.wire_name()],
                    market_tickers: market_tickers.as_deref(),
                    use_yes_price: *use_yes_price,
                }),
            }),
            Command::Unsubscribe { sids } => serde_json::to_string(&Frame {
                id,
                cmd,
                params: Some(UnsubscribeParams { sids }),
            }),
            Command::UpdateSubscription {
                sid,
                action,
                market_tickers,
            } => serde_json::to_string(&Frame {
                id,
                cmd,
                params: Some(UpdateParams {
                    sids: [*sid],
                    market_tickers,
                    action: *action,
                }),
            }),
            Command::ListSubscriptions => serde_json::to_string(&Frame::<()> {
                id,
                cmd,
                params: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parsed(command: &Command, id: u64) -> Value {
        serde_json::from_str(&command.to_json(id).unwrap()).unwrap()
    }

    #[test]
    fn orderbook_subscribe_names_markets_and_price_convention() {
        let command = Command::Subscribe {
            channel: Channel::OrderbookDelta,
            market_tickers: Some(vec![Ticker::new("A-1"), Ticker::new("B-2")]),
            use_yes_price: Some(false),
        };
        assert_eq!(
            parsed(&command, 4),
            json!({"id":4,"cmd":"subscribe","params":{"channels":["orderbook_delta"],
                   "market_tickers":["A-1","B-2"],"use_yes_price":false}})
        );
    }

    #[test]
    fn unfiltered_subscribe_has_only_channels() {
        let command = Command::Subscribe {
            channel: Channel::Fill,
            market_tickers: None,
            use_yes_price: None,
        };
        assert_eq!(
            parsed(&command, 1),
            json!({"id":1,"cmd":"subscribe","params":{"channels":["fill"]}})
        );
    }

    #[test]
    fn update_unsubscribe_and_list_match_the_spec_examples() {
        let snapshot = Command::UpdateSubscription {
            sid: 456,
            action: UpdateAction::GetSnapshot,
            market_tickers: vec![Ticker::new("MARKET-1"), Ticker::new("MARKET-2")],
        };
        assert_eq!(
            parsed(&snapshot, 127),
            json!({"id":127,"cmd":"update_subscription","params":{"sids":[456],
                   "market_tickers":["MARKET-1","MARKET-2"],"action":"get_snapshot"}})
        );
        let unsubscribe = Command::Unsubscribe { sids: vec![1, 2] };
        assert_eq!(
            parsed(&unsubscribe, 124),
            json!({"id":124,"cmd":"unsubscribe","params":{"sids":[1,2]}})
        );
        assert_eq!(
            parsed(&Command::ListSubscriptions, 3),
            json!({"id":3,"cmd":"list_subscriptions"})
        );
    }
}
