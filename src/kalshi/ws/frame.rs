//! Server → client frames, decoded only as far as the client needs to route them and keep the
//! sequence honest: envelope (`type`, `id`, `sid`, `seq`), the market a data message is about,
//! its `ts_ms`, and the payload (`msg`) handed on for the consumer's typed decoding.

use crate::core::market::Ticker;
use serde::Deserialize;
use serde_json::Value;

/// Why a text frame could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("not a JSON object with a string `type`: {0}")]
    Envelope(String),
    #[error("`{kind}` frame without `{field}`")]
    MissingField {
        kind: &'static str,
        field: &'static str,
    },
    #[error("`{kind}` frame with a malformed `{field}`")]
    BadField {
        kind: &'static str,
        field: &'static str,
    },
}

/// Kinds of data messages (DIGEST 7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataKind {
    OrderbookSnapshot,
    OrderbookDelta,
    Ticker,
    Trade,
    Fill,
    UserOrder,
    MarketPosition,
    OrderGroupUpdates,
    MarketLifecycleV2,
    EventLifecycle,
    EventFeeUpdate,
    MultivariateMarketLifecycle,
    /// A type this client does not know (Kalshi adds channels); passed over, counted.
    Other(String),
}

impl DataKind {
    fn from_type(kind: &str) -> DataKind {
        match kind {
            "orderbook_snapshot" => DataKind::OrderbookSnapshot,
            "orderbook_delta" => DataKind::OrderbookDelta,
            "ticker" => DataKind::Ticker,
            "trade" => DataKind::Trade,
            "fill" => DataKind::Fill,
            "user_order" => DataKind::UserOrder,
            "market_position" => DataKind::MarketPosition,
            "order_group_updates" => DataKind::OrderGroupUpdates,
            "market_lifecycle_v2" => DataKind::MarketLifecycleV2,
            "event_lifecycle" => DataKind::EventLifecycle,
            "event_fee_update" => DataKind::EventFeeUpdate,
            "multivariate_market_lifecycle" => DataKind::MultivariateMarketLifecycle,
            other => DataKind::Other(other.to_owned()),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            DataKind::OrderbookSnapshot => "orderbook_snapshot",
            DataKind::OrderbookDelta => "orderbook_delta",
            DataKind::Ticker => "ticker",
            DataKind::Trade => "trade",
            DataKind::Fill => "fill",
            DataKind::UserOrder => "user_order",
            DataKind::MarketPosition => "market_position",
            DataKind::OrderGroupUpdates => "order_group_updates",
            DataKind::MarketLifecycleV2 => "market_lifecycle_v2",
            DataKind::EventLifecycle => "event_lifecycle",
            DataKind::EventFeeUpdate => "event_fee_update",
            DataKind::MultivariateMarketLifecycle => "multivariate_market_lifecycle",
            DataKind::Other(_) => "other",
        }
    }
}

/// One entry of a `list_subscriptions` reply.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListedSubscription {
    pub channel: String,
    pub sid: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    Subscribed {
        id: Option<u64>,
        channel: String,
        sid: u64,
    },
    Unsubscribed {
        id: Option<u64>,
        sid: u64,
        seq: Option<u64>,
    },
    /// Reply to `update_subscription` (with the full market list) or another `ok`.
    Ok {
        id: Option<u64>,
        sid: Option<u64>,
        seq: Option<u64>,
        market_tickers: Option<Vec<Ticker>>,
    },
    SubscriptionList {
        id: Option<u64>,
        subscriptions: Vec<ListedSubscription>,
    },
    Error {
        id: Option<u64>,
        sid: Option<u64>,
        code: i64,
        message: String,
        market_ticker: Option<Ticker>,
    },
    Data(DataFrame),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DataFrame {
    pub kind: DataKind,
    pub sid: Option<u64>,
    pub seq: Option<u64>,
    /// `market_ticker` (or `ticker` on `user_order`) when the message names one market.
    pub market: Option<Ticker>,
    /// Exchange time of the event, when the message carries it.
    pub ts_ms: Option<i64>,
    pub msg: Value,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    sid: Option<u64>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    msg: Value,
}

fn field_u64(msg: &Value, field: &'static str, kind: &'static str) -> Result<u64, DecodeError> {
    match msg.get(field) {
        None | Some(Value::Null) => Err(DecodeError::MissingField { kind, field }),
        Some(value) => value.as_u64().ok_or(DecodeError::BadField { kind, field }),
    }
}

fn field_str<'a>(
    msg: &'a Value,
    field: &'static str,
    kind: &'static str,
) -> Result<Option<&'a str>, DecodeError> {
    match msg.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(DecodeError::BadField { kind, field }),
    }
}

/// Decode one text frame.
pub fn decode(text: &str) -> Result<ServerFrame, DecodeError> {
    let envelope: Envelope =
        serde_json::from_str(text).map_err(|err| DecodeError::Envelope(err.to_string()))?;
    let Envelope {
        kind,
        id,
        sid,
        seq,
        msg,
    } = envelope;
    match kind.as_str() {
        "subscribed" => {
            const KIND: &str = "subscribed";
            let sid = field_u64(&msg, "sid", KIND)?;
            let channel = field_str(&msg, "channel", KIND)?
                .ok_or(DecodeError::MissingField {
                    kind: KIND,
                    field: "channel",
                })?
                .to_owned();
            Ok(ServerFrame::Subscribed { id, channel, sid })
        }
        "unsubscribed" => Ok(ServerFrame::Unsubscribed {
            id,
            sid: sid.ok_or(DecodeError::MissingField {
                kind: "unsubscribed",
                field: "sid",
            })?,
            seq,
        }),
        "ok" => match msg {
            Value::Array(_) => {
                let subscriptions: Vec<ListedSubscription> =
                    serde_json::from_value(msg).map_err(|_| DecodeError::BadField {
                        kind: "ok",
                        field: "msg",
                    })?;
                Ok(ServerFrame::SubscriptionList { id, subscriptions })
            }
            msg => {
                let market_tickers = match msg.get("market_tickers") {
                    None | Some(Value::Null) => None,
                    Some(list) => Some(serde_json::from_value(list.clone()).map_err(|_| {
                        DecodeError::BadField {
                            kind: "ok",
                            field: "market_tickers",
                        }
                    })?),
                };
                Ok(ServerFrame::Ok {
                    id,
                    sid,
                    seq,
                    market_tickers,
                })
            }
        },
        "error" => {
            const KIND: &str = "error";
            let code =
                msg.get("code")
                    .and_then(Value::as_i64)
                    .ok_or(DecodeError::MissingField {
                        kind: KIND,
                        field: "code",
                    })?;
            let message = field_str(&msg, "msg", KIND)?.unwrap_or_default().to_owned();
            let market_ticker = field_str(&msg, "market_ticker", KIND)?.map(Ticker::new);
            Ok(ServerFrame::Error {
                id,
                sid,
                code,
                message,
                market_ticker,
            })
        }
        other => {
            let kind = DataKind::from_type(other);
            let name = kind.type_name();
            if !msg.is_object() {
                return Err(DecodeError::MissingField {
                    kind: name,
                    field: "msg",
                });
            }
            let market_field = if kind == DataKind::UserOrder {
                "ticker"
            } else {
                "market_ticker"
            };
            let market = field_str(&msg, market_field, name)?.map(Ticker::new);
            let ts_ms = msg.get("ts_ms").and_then(Value::as_i64);
            let sequenced = matches!(
                kind,
                DataKind::OrderbookSnapshot
                    | DataKind::OrderbookDelta
                    | DataKind::OrderGroupUpdates
            );
            if sequenced {
                if sid.is_none() {
                    return Err(DecodeError::MissingField {
                        kind: name,
                        field: "sid",
                    });
                }
                if seq.is_none() {
                    return Err(DecodeError::MissingField {
                        kind: name,
                        field: "seq",
                    });
                }
            }
            let is_book = matches!(kind, DataKind::OrderbookSnapshot | DataKind::OrderbookDelta);
            if is_book && market.is_none() {
                return Err(DecodeError::MissingField {
                    kind: name,
                    field: "market_ticker",
                });
            }
            Ok(ServerFrame::Data(DataFrame {
                kind,
                sid,
                seq,
                market,
                ts_ms,
                msg,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_replies_from_the_spec_examples() {
        assert_eq!(
            decode(r#"{"id":1,"type":"subscribed","msg":{"channel":"orderbook_delta","sid":1}}"#),
            Ok(ServerFrame::Subscribed {
                id: Some(1),
                channel: "orderbook_delta".into(),
                sid: 1
            })
        );
        assert_eq!(
            decode(r#"{"id":102,"sid":2,"seq":7,"type":"unsubscribed"}"#),
            Ok(ServerFrame::Unsubscribed {
                id: Some(102),
                sid: 2,
                seq: Some(7)
            })
        );
        assert_eq!(
            decode(
                r#"{"id":123,"sid":456,"seq":222,"type":"ok","msg":{"market_tickers":["MARKET-1"]}}"#
            ),
            Ok(ServerFrame::Ok {
                id: Some(123),
                sid: Some(456),
                seq: Some(222),
                market_tickers: Some(vec![Ticker::new("MARKET-1")])
            })
        );
        assert_eq!(
            decode(r#"{"id":3,"type":"ok","msg":[{"channel":"ticker","sid":2}]}"#),
            Ok(ServerFrame::SubscriptionList {
                id: Some(3),
                subscriptions: vec![ListedSubscription {
                    channel: "ticker".into(),
                    sid: 2
                }]
            })
        );
        assert_eq!(
            decode(
                r#"{"id":127,"type":"error","msg":{"code":16,"msg":"Market not found","market_ticker":"X"}}"#
            ),
            Ok(ServerFrame::Error {
                id: Some(127),
                sid: None,
                code: 16,
                message: "Market not found".into(),
                market_ticker: Some(Ticker::new("X"))
            })
        );
    }

    #[test]
    fn decodes_data_with_market_and_time() {
        let frame = decode(
            r#"{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"FED","price_dollars":"0.960",
                "delta_fp":"-54.00","side":"yes","ts_ms":1669149841000}}"#,
        );
        let Ok(ServerFrame::Data(data)) = frame else {
            panic!("{frame:?}")
        };
        assert_eq!(data.kind, DataKind::OrderbookDelta);
        assert_eq!((data.sid, data.seq), (Some(2), Some(3)));
        assert_eq!(data.market, Some(Ticker::new("FED")));
        assert_eq!(data.ts_ms, Some(1669149841000));
        let order =
            decode(r#"{"type":"user_order","sid":4,"msg":{"ticker":"K","status":"resting"}}"#);
        let Ok(ServerFrame::Data(order)) = order else {
            panic!("{order:?}")
        };
        assert_eq!(order.market, Some(Ticker::new("K")));
    }

    #[test]
    fn rejects_malformed_frames_with_a_reason() {
        assert!(matches!(decode("not json"), Err(DecodeError::Envelope(_))));
        assert!(matches!(
            decode(r#"{"sid":1}"#),
            Err(DecodeError::Envelope(_))
        ));
        assert!(matches!(decode("[1,2]"), Err(DecodeError::Envelope(_))));
        assert_eq!(
            decode(r#"{"type":"orderbook_delta","sid":2,"msg":{"market_ticker":"A"}}"#),
            Err(DecodeError::MissingField {
                kind: "orderbook_delta",
                field: "seq"
            })
        );
        assert_eq!(
            decode(r#"{"type":"orderbook_snapshot","sid":2,"seq":1,"msg":{}}"#),
            Err(DecodeError::MissingField {
                kind: "orderbook_snapshot",
                field: "market_ticker"
            })
        );
        assert_eq!(
            decode(r#"{"type":"subscribed","msg":{"channel":"x","sid":"one"}}"#),
            Err(DecodeError::BadField {
                kind: "subscribed",
                field: "sid"
            })
        );
        assert!(decode(r#"{"type":"ticker","sid":1,"seq":-4,"msg":{}}"#).is_err());
        assert!(decode(r#"{"type":"ticker","sid":1,"msg":7}"#).is_err());
    }
}
