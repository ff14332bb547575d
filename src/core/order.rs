//! Orders: identity and ownership ([`ids`]), the lifecycle state table ([`state`]) and the
//! bookkeeping store ([`store::Orders`]) that follows every order from intent to its end.
//!
//! Sides are Kalshi's V2 `book_side` on the YES book with a YES price: `bid` buys YES at `p`,
//! `ask` sells YES at `p`, which is the same as buying NO at `1 − p`.

pub mod ids;
pub mod state;
pub mod store;

pub use ids::{
    ClientOrderId, ClientOrderIdIssuer, OrderId, OrderIdError, OrderOwner, ParsedClientOrderId,
    TradeId, parse_client_order_id,
};
pub use state::{ExchangeStatus, IllegalTransition, OrderState, StateEvent, transition};
pub use store::{
    AmendAck, AmendRequest, CreateAck, FillOutcome, LostWrite, OpenQuantity, Order, OrderError,
    OrderReport, OrderRequest, Orders, ReportOutcome,
};

use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};

/// V2 `book_side`: which side of the YES book an order rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderSide {
    /// Buy YES at the YES price.
    Bid,
    /// Sell YES at the YES price ≡ buy NO at `1 − price`.
    Ask,
}

/// V2 `outcome_side`: which contract the order buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeSide {
    Yes,
    No,
}

impl OrderSide {
    pub const fn opposite(self) -> OrderSide {
        match self {
            OrderSide::Bid => OrderSide::Ask,
            OrderSide::Ask => OrderSide::Bid,
        }
    }

    /// The contract this side buys (`outcome_side = yes ⇔ book_side = bid`).
    pub const fn outcome(self) -> OutcomeSide {
        match self {
            OrderSide::Bid => OutcomeSide::Yes,
            OrderSide::Ask => OutcomeSide::No,
        }
    }

    /// The price of the contract bought: `p` for a bid, `1 − p` (the NO price) for an ask.
    pub const fn outcome_price(self, yes_price: Price) -> Price {
        match self {
            OrderSide::Bid => yes_price,
            OrderSide::Ask => yes_price.complement(),
        }
    }

    /// "Buy `outcome` at `outcome_price`" as a book side and a YES price.
    pub const fn for_buy(outcome: OutcomeSide, outcome_price: Price) -> (OrderSide, Price) {
        match outcome {
            OutcomeSide::Yes => (OrderSide::Bid, outcome_price),
            OutcomeSide::No => (OrderSide::Ask, outcome_price.complement()),
        }
    }

    /// +1 for a bid (adds YES), −1 for an ask (adds NO / removes YES): the sign of its effect on
    /// a position counted YES-positive.
    pub const fn position_sign(self) -> i64 {
        match self {
            OrderSide::Bid => 1,
            OrderSide::Ask => -1,
        }
    }
}

/// One execution of one of our orders, as the exchange reported it (WS `fill` or REST fills).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fill {
    pub trade_id: TradeId,
    pub order_id: OrderId,
    pub client_order_id: Option<ClientOrderId>,
    pub ticker: Ticker,
    /// Our order's `book_side`.
    pub side: OrderSide,
    pub yes_price: Price,
    pub count: Count,
    pub is_taker: bool,
    /// The fee the exchange charged for this fill (`fee_cost`).
    pub fee_cost: Money,
    /// Exchange time of the fill, Unix milliseconds.
    pub ts_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_map_to_outcomes() {
        let p = Price::parse("0.30").unwrap();
        assert_eq!(OrderSide::Bid.outcome(), OutcomeSide::Yes);
        assert_eq!(OrderSide::Ask.outcome(), OutcomeSide::No);
        assert_eq!(
            OrderSide::Ask.outcome_price(p),
            Price::parse("0.70").unwrap()
        );
        // Buy NO at 0.70 = ask at YES 0.30; sell NO at q = bid at 1 − q is the opposite side.
        assert_eq!(
            OrderSide::for_buy(OutcomeSide::No, Price::parse("0.70").unwrap()),
            (OrderSide::Ask, p)
        );
        assert_eq!(OrderSide::for_buy(OutcomeSide::Yes, p), (OrderSide::Bid, p));
        assert_eq!(OrderSide::Ask.opposite(), OrderSide::Bid);
        assert_eq!(serde_json::to_string(&OrderSide::Ask).unwrap(), "\"ask\"");
    }
}
