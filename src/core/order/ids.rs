//! Order identity: who owns an order, encoded in its `client_order_id`.
//!
//! Grammar (every part ASCII, nothing else is ours):
//! - operator: `op-{nonce}-{seq}`
//! - strategy: `m-{strategy}-{nonce}-{seq}`
//!
//! `nonce` is 8 lowercase hex digits chosen once per session (the runtime draws it at start-up), so
//! ids stay unique across restarts; `seq` is a decimal counter within the session. A strategy name
//! is 1–24 characters of `[A-Za-z0-9_]` (no `-`, so the id splits unambiguously). Anything that does
//! not match exactly (a UUID typed on the website, another tool's ids) is [`OrderOwner::External`]:
//! strategies never touch such orders.

use std::fmt;
use std::sync::Arc;

const OPERATOR_PREFIX: &str = "op-";
const STRATEGY_PREFIX: &str = "m-";
const NONCE_DIGITS: usize = 8;
const MAX_STRATEGY_NAME: usize = 24;
const MAX_SEQ_DIGITS: usize = 20;

/// Kalshi's `client_order_id`: ours or anyone's.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ClientOrderId(Arc<str>);

impl ClientOrderId {
    pub fn new(text: &str) -> ClientOrderId {
        ClientOrderId(Arc::from(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Who owns the order this id names.
    pub fn owner(&self) -> OrderOwner {
        parse_client_order_id(&self.0).map_or(OrderOwner::External, |parsed| parsed.owner)
    }
}

impl std::borrow::Borrow<str> for ClientOrderId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ClientOrderId {
    fn from(text: &str) -> ClientOrderId {
        ClientOrderId::new(text)
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

/// The exchange's `order_id`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct OrderId(Arc<str>);

impl OrderId {
    pub fn new(text: &str) -> OrderId {
        OrderId(Arc::from(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for OrderId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for OrderId {
    fn from(text: &str) -> OrderId {
        OrderId::new(text)
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

/// A fill's `trade_id` (the REST `fill_id`): the key fills are deduplicated on.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TradeId(Arc<str>);

impl TradeId {
    pub fn new(text: &str) -> TradeId {
        TradeId(Arc::from(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for TradeId {
    fn from(text: &str) -> TradeId {
        TradeId::new(text)
    }
}

impl fmt::Debug for TradeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

/// Who placed an order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderOwner {
    /// The trader, by hand (ticket, flatten).
    Operator,
    /// An automated strategy, by its configured name.
    Strategy { name: String },
    /// Not placed by this desk (website, another tool); never touched by a strategy.
    External,
}

impl OrderOwner {
    pub fn strategy(name: &str) -> OrderOwner {
        OrderOwner::Strategy {
            name: name.to_string(),
        }
    }

    pub fn is_strategy(&self, name: &str) -> bool {
        matches!(self, OrderOwner::Strategy { name: own } if own == name)
    }
}

impl fmt::Display for OrderOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderOwner::Operator => f.write_str("operator"),
            OrderOwner::Strategy { name } => write!(f, "strategy {name}"),
            OrderOwner::External => f.write_str("external"),
        }
    }
}

/// Why an id could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderIdError {
    #[error(
        "strategy name {0:?} must be 1-{MAX_STRATEGY_NAME} characters of letters, digits and '_'"
    )]
    InvalidStrategyName(String),
    #[error("orders cannot be issued for an external owner")]
    ExternalOwner,
}

/// A decoded id of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedClientOrderId {
    pub owner: OrderOwner,
    pub nonce: u32,
    pub seq: u64,
}

/// Decode one of our ids; `None` for anything else.
pub fn parse_client_order_id(text: &str) -> Option<ParsedClientOrderId> {
    let (owner, rest) = if let Some(rest) = text.strip_prefix(OPERATOR_PREFIX) {
        (None, rest)
    } else if let Some(rest) = text.strip_prefix(STRATEGY_PREFIX) {
        let (name, rest) = rest.split_once('-')?;
        if !valid_strategy_name(name) {
            return None;
        }
        (Some(name), rest)
    } else {
        return None;
    };
    let (nonce_text, seq_text) = rest.split_once('-')?;
    if nonce_text.len() != NONCE_DIGITS
        || !nonce_text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        || seq_text.is_empty()
        || seq_text.len() > MAX_SEQ_DIGITS
        || !seq_text.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let nonce = u32::from_str_radix(nonce_text, 16).ok()?;
    let seq = seq_text.parse::<u64>().ok()?;
    let owner = match owner {
        None => OrderOwner::Operator,
        Some(name) => OrderOwner::strategy(name),
    };
    Some(ParsedClientOrderId { owner, nonce, seq })
}

pub fn valid_strategy_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_STRATEGY_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Issues this session's ids.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientOrderIdIssuer {
    nonce: u32,
    next_seq: u64,
}

impl ClientOrderIdIssuer {
    /// `session_nonce` must differ between sessions (the runtime draws it at random).
    pub const fn new(session_nonce: u32) -> ClientOrderIdIssuer {
        ClientOrderIdIssuer {
            nonce: session_nonce,
            next_seq: 1,
        }
    }

    pub const fn nonce(&self) -> u32 {
        self.nonce
    }

    /// Whether `id` was issued in this session.
    pub fn issued_here(&self, id: &ClientOrderId) -> bool {
        parse_client_order_id(id.as_str()).is_some_and(|parsed| parsed.nonce == self.nonce)
    }

    pub fn issue(&mut self, owner: &OrderOwner) -> Result<ClientOrderId, OrderIdError> {
        let text = match owner {
            OrderOwner::Operator => {
                format!("{OPERATOR_PREFIX}{:08x}-{}", self.nonce, self.next_seq)
            }
            OrderOwner::Strategy { name } => {
                if !valid_strategy_name(name) {
                    return Err(OrderIdError::InvalidStrategyName(name.clone()));
                }
                format!(
                    "{STRATEGY_PREFIX}{name}-{:08x}-{}",
                    self.nonce, self.next_seq
                )
            }
            OrderOwner::External => return Err(OrderIdError::ExternalOwner),
        };
        self.next_seq += 1;
        Ok(ClientOrderId::new(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn issues_and_decodes_owners() {
        let mut issuer = ClientOrderIdIssuer::new(0x00c0_ffee);
        let op = issuer.issue(&OrderOwner::Operator).unwrap();
        assert_eq!(op.as_str(), "op-00c0ffee-1");
        assert_eq!(op.owner(), OrderOwner::Operator);
        let maker = issuer.issue(&OrderOwner::strategy("maker_1")).unwrap();
        assert_eq!(maker.as_str(), "m-maker_1-00c0ffee-2");
        assert_eq!(maker.owner(), OrderOwner::strategy("maker_1"));
        assert!(issuer.issued_here(&maker));
        assert!(!ClientOrderIdIssuer::new(1).issued_here(&maker));
        assert_eq!(
            issuer.issue(&OrderOwner::strategy("bad-name")),
            Err(OrderIdError::InvalidStrategyName("bad-name".into()))
        );
        assert_eq!(
            issuer.issue(&OrderOwner::External),
            Err(OrderIdError::ExternalOwner)
        );
    }

    #[test]
    fn foreign_ids_are_external() {
        for foreign in [
            "",
            "8c1f6c1e-3b4a-4c8e-9f00-0a1b2c3d4e5f",
            "op-",
            "op-00c0ffee-",
            "op-00C0FFEE-1",
            "op-0c0ffee-1",
            "op-00c0ffee-1x",
            "m--00c0ffee-1",
            "m-maker-00c0ffee",
            "m-a.b-00c0ffee-1",
            "m-maker-00c0ffee-1-2",
            "op-00c0ffee-123456789012345678901",
            "op-00c0ffee-99999999999999999999",
        ] {
            assert_eq!(
                ClientOrderId::new(foreign).owner(),
                OrderOwner::External,
                "{foreign:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn issued_ids_round_trip(nonce in any::<u32>(), name in "[A-Za-z0-9_]{1,24}", skip in 0u64..1000, operator in any::<bool>()) {
            let mut issuer = ClientOrderIdIssuer::new(nonce);
            for _ in 0..skip % 7 {
                issuer.issue(&OrderOwner::Operator).unwrap();
            }
            let owner = if operator { OrderOwner::Operator } else { OrderOwner::Strategy { name } };
            let id = issuer.issue(&owner).unwrap();
            let parsed = parse_client_order_id(id.as_str()).unwrap();
            prop_assert_eq!(parsed.owner, owner);
            prop_assert_eq!(parsed.nonce, nonce);
            prop_assert_eq!(parsed.seq, skip % 7 + 1);
        }

        #[test]
        fn decoding_never_panics(text in "\\PC{0,40}") {
            let _ = ClientOrderId::new(&text).owner();
        }
    }
}
