//! What the flow needs from an exchange: read a market's status and top of book, place and
//! cancel orders for its agents. `sim::exchange::Exchange` implements it for the real simulator;
//! [`super::book_venue::BookVenue`] implements it directly on `core::matching` books.

use std::fmt;

use crate::core::market::{MarketStatus, Ticker};
use crate::core::matching::{BookSide, TimeInForce};
use crate::core::num::{Count, Price};
use crate::sim::exchange::types::{EventSpec, MarketSpec};

/// One of the flow's trading accounts (index into [`super::Flow::agents`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(pub u32);

/// Best prices on the YES book.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TopOfBook {
    pub best_bid: Option<(Price, Count)>,
    pub best_ask: Option<(Price, Count)>,
}

impl TopOfBook {
    pub fn is_two_sided(&self) -> bool {
        self.best_bid.is_some() && self.best_ask.is_some()
    }
}

/// An order an agent sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowOrder {
    pub ticker: Ticker,
    pub side: BookSide,
    /// YES price, already on the market's grid.
    pub price: Price,
    pub count: Count,
    pub time_in_force: TimeInForce,
    pub post_only: bool,
    /// Unique per flow run, so venues that need an idempotency key have one.
    pub client_order_id: String,
}

/// What the venue did with a placed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub order_id: String,
    pub filled: Count,
    /// Size left resting (zero for IOC or when fully filled).
    pub resting: Count,
}

/// A refused write. Agents do not retry; the flow counts refusals by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueError {
    pub kind: VenueErrorKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VenueErrorKind {
    PostOnlyCross,
    MarketNotOpen,
    NotFound,
    InsufficientBalance,
    Other,
}

impl fmt::Display for VenueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

/// The exchange as the flow's agents see it.
pub trait FlowVenue {
    /// `None` if the venue does not list the market.
    fn market_status(&self, ticker: &Ticker) -> Option<MarketStatus>;
    fn top_of_book(&self, ticker: &Ticker) -> TopOfBook;
    fn place(
        &mut self,
        agent: AgentId,
        order: &FlowOrder,
        now_ms: i64,
    ) -> Result<Placed, VenueError>;
    /// Cancel a resting order; returns the size removed.
    fn cancel(
        &mut self,
        agent: AgentId,
        ticker: &Ticker,
        order_id: &str,
        now_ms: i64,
    ) -> Result<Count, VenueError>;
    /// Remaining size of an agent's order if it still rests.
    fn resting_count(&self, agent: AgentId, ticker: &Ticker, order_id: &str) -> Option<Count>;
    /// List a new event and its markets (the next instance of a recurring event; its series
    /// was listed with the initial catalogue).
    fn list_event(&mut self, event: &EventSpec, markets: &[MarketSpec]) -> Result<(), VenueError>;
}
