//! The order lifecycle as an explicit state table.
//!
//! | from \ event     | `Rejected` | `AnswerLost` | `Reported(Resting)` | `Reported(Executed)` | `Reported(Canceled)` | `NotFound`     |
//! |------------------|------------|--------------|---------------------|----------------------|----------------------|----------------|
//! | `PendingCreate`  | Rejected   | Unknown      | Resting             | Executed             | Canceled             | NeverExisted   |
//! | `Resting`        | illegal    | Unknown      | Resting             | Executed             | Canceled             | illegal        |
//! | `Unknown`        | Rejected   | Unknown      | Resting             | Executed             | Canceled             | NeverExisted   |
//! | `Executed`       | illegal    | illegal      | Executed (stale)    | Executed             | illegal              | illegal        |
//! | `Canceled`       | illegal    | illegal      | Canceled (stale)    | illegal              | Canceled             | illegal        |
//! | `Rejected`       | Rejected   | illegal      | illegal             | illegal              | illegal              | Rejected       |
//! | `NeverExisted`   | illegal    | illegal      | Resting             | Executed             | Canceled             | NeverExisted   |
//!
//! - `Rejected`: the exchange refused the create (a business error answer).
//! - `AnswerLost`: a create or amend was sent and its answer never came (timeout, dropped
//!   connection). The order is UNKNOWN and its market's writes wait until it is resolved.
//! - `Reported(status)`: the exchange said so — a write's answer, a `user_order` frame, or a REST
//!   read (which is how an UNKNOWN order is resolved when it is found).
//! - `NotFound`: a read newer than the send shows no such order: it never existed.
//!
//! Executed and Canceled are final for the status: an older `resting` report arriving late is
//! stale and changes nothing (an order is never resurrected). Fills are not events here — they are
//! booked in every state, because on Kalshi a fill may arrive after the cancel acknowledgement
//! (REST and WS race). A NeverExisted order that is later reported is revived: the report is the
//! exchange's word, and a live order must never be hidden.

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Intent recorded and (about to be) sent; no answer yet.
    PendingCreate,
    /// On the book with size left.
    Resting,
    /// Filled in full.
    Executed,
    /// Cancelled (by us, by expiry, IOC remainder, or by the exchange).
    Canceled,
    /// The create was refused.
    Rejected,
    /// A create or amend whose answer was lost; its market's writes wait.
    Unknown,
    /// An unknown create that the exchange does not have.
    NeverExisted,
}

impl OrderState {
    /// Still able to trade (or might be, for Unknown and PendingCreate).
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            OrderState::PendingCreate | OrderState::Resting | OrderState::Unknown
        )
    }

    pub const fn is_final(self) -> bool {
        !self.is_open()
    }
}

/// An order status as the exchange reports it (`resting|canceled|executed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeStatus {
    Resting,
    Executed,
    Canceled,
}

impl ExchangeStatus {
    pub const fn as_state(self) -> OrderState {
        match self {
            ExchangeStatus::Resting => OrderState::Resting,
            ExchangeStatus::Executed => OrderState::Executed,
            ExchangeStatus::Canceled => OrderState::Canceled,
        }
    }
}

/// What can happen to an order's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum StateEvent {
    Rejected,
    AnswerLost,
    Reported(ExchangeStatus),
    NotFound,
}

/// A transition the table forbids; the order keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("order in state {from:?} cannot take {event:?}")]
pub struct IllegalTransition {
    pub from: OrderState,
    pub event: StateEvent,
}

/// The state table above, as code.
pub fn transition(from: OrderState, event: StateEvent) -> Result<OrderState, IllegalTransition> {
    use ExchangeStatus as X;
    use OrderState as S;
    use StateEvent as E;
    let to = match (from, event) {
        (S::PendingCreate | S::Unknown, E::Rejected) => S::Rejected,
        (S::PendingCreate | S::Resting | S::Unknown, E::AnswerLost) => S::Unknown,
        (S::PendingCreate | S::Resting | S::Unknown | S::NeverExisted, E::Reported(status)) => {
            status.as_state()
        }
        (S::PendingCreate | S::Unknown | S::NeverExisted, E::NotFound) => S::NeverExisted,
        (S::Executed, E::Reported(X::Resting | X::Executed)) => S::Executed,
        (S::Canceled, E::Reported(X::Resting | X::Canceled)) => S::Canceled,
        (S::Rejected, E::Rejected | E::NotFound) => S::Rejected,
        _ => return Err(IllegalTransition { from, event }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [OrderState; 7] = [
        OrderState::PendingCreate,
        OrderState::Resting,
        OrderState::Unknown,
        OrderState::Executed,
        OrderState::Canceled,
        OrderState::Rejected,
        OrderState::NeverExisted,
    ];
    const EVENTS: [StateEvent; 6] = [
        StateEvent::Rejected,
        StateEvent::AnswerLost,
        StateEvent::Reported(ExchangeStatus::Resting),
        StateEvent::Reported(ExchangeStatus::Executed),
        StateEvent::Reported(ExchangeStatus::Canceled),
        StateEvent::NotFound,
    ];

    /// The doc table, row by row (`None` = illegal), so the two cannot drift apart.
    #[test]
    fn code_matches_the_documented_table() {
        use OrderState::*;
        let table: [[Option<OrderState>; 6]; 7] = [
            [
                Some(Rejected),
                Some(Unknown),
                Some(Resting),
                Some(Executed),
                Some(Canceled),
                Some(NeverExisted),
            ],
            [
                None,
                Some(Unknown),
                Some(Resting),
                Some(Executed),
                Some(Canceled),
                None,
            ],
            [
                Some(Rejected),
                Some(Unknown),
                Some(Resting),
                Some(Executed),
                Some(Canceled),
                Some(NeverExisted),
            ],
            [None, None, Some(Executed), Some(Executed), None, None],
            [None, None, Some(Canceled), None, Some(Canceled), None],
            [Some(Rejected), None, None, None, None, Some(Rejected)],
            [
                None,
                None,
                Some(Resting),
                Some(Executed),
                Some(Canceled),
                Some(NeverExisted),
            ],
        ];
        for (row, from) in STATES.iter().enumerate() {
            for (column, event) in EVENTS.iter().enumerate() {
                let got = transition(*from, *event).ok();
                assert_eq!(got, table[row][column], "{from:?} + {event:?}");
            }
        }
    }

    #[test]
    fn final_states_never_return_to_resting() {
        for from in [
            OrderState::Executed,
            OrderState::Canceled,
            OrderState::Rejected,
        ] {
            for event in EVENTS {
                if let Ok(to) = transition(from, event) {
                    assert!(to.is_final(), "{from:?} + {event:?} reopened to {to:?}");
                }
            }
        }
    }
}
