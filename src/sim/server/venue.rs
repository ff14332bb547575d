//! Building the simulator's market from the flow's catalogue, and letting the flow's agents
//! trade on the exchange through its ordinary order API (each agent is a member with an account).

use super::fanout::uuid_for;
use crate::core::market::{MarketStatus, Ticker};
use crate::core::num::Count;
use crate::sim::exchange::types::{ApiError, ExchangeConfig};
use crate::sim::exchange::{Exchange, OrderRequest};
use crate::sim::flow::{
    AgentId, Flow, FlowConfig, FlowOrder, FlowVenue, Placed, TopOfBook, VenueError, VenueErrorKind,
};
use std::collections::BTreeSet;

/// The exchange, loaded with the first `market_count` markets of the flow's catalogue (and the
/// events and series they belong to), an account per agent, and the flow itself.
pub fn build(seed: u64, market_count: usize, now_ms: i64) -> Result<(Exchange, Flow), String> {
    let flow = Flow::new(FlowConfig::new(seed, now_ms));
    let catalogue = flow.catalogue().clone();
    let mut exchange = Exchange::new(ExchangeConfig::default());
    let markets: Vec<_> = catalogue
        .markets
        .into_iter()
        .take(market_count.max(1))
        .collect();
    let events: BTreeSet<&str> = markets.iter().map(|m| m.event_ticker.as_str()).collect();
    let listed_events: Vec<_> = catalogue
        .events
        .into_iter()
        .filter(|e| events.contains(e.event_ticker.as_str()))
        .collect();
    let series: BTreeSet<&str> = listed_events
        .iter()
        .map(|e| e.series_ticker.as_str())
        .collect();
    for spec in catalogue
        .series
        .into_iter()
        .filter(|s| series.contains(s.ticker.as_str()))
    {
        exchange.add_series(spec);
    }
    for spec in listed_events.iter().cloned() {
        exchange.add_event(spec);
    }
    for spec in markets.iter().cloned() {
        let ticker = spec.ticker.clone();
        exchange
            .add_market(spec)
            .map_err(|e| format!("market {ticker}: {}", e.message))?;
    }
    for agent in flow.agents() {
        exchange.open_account(&agent_user_id(&agent.name), agent.balance);
    }
    exchange.advance(now_ms);
    Ok((exchange, flow))
}

/// The member id of a flow agent (uuid-shaped, like every Kalshi user id).
pub fn agent_user_id(agent_name: &str) -> String {
    uuid_for(&format!("flow-agent/{agent_name}"))
}

/// The exchange as the flow's agents see it.
pub struct ExchangeVenue<'a> {
    pub exchange: &'a mut Exchange,
    /// Member id of each agent, by `AgentId`.
    pub agent_users: &'a [String],
}

impl ExchangeVenue<'_> {
    fn user(&self, agent: AgentId) -> Result<&str, VenueError> {
        self.agent_users
            .get(agent.0 as usize)
            .map(String::as_str)
            .ok_or_else(|| VenueError {
                kind: VenueErrorKind::Other,
                message: format!("unknown agent {}", agent.0),
            })
    }
}

fn venue_error(error: ApiError) -> VenueError {
    let kind = match error.code.as_str() {
        "market_closed" => VenueErrorKind::MarketNotOpen,
        "not_found" => VenueErrorKind::NotFound,
        "available_balance_too_low" | "insufficient_balance" => VenueErrorKind::InsufficientBalance,
        _ if error.details.as_deref() == Some("post only cross") => VenueErrorKind::PostOnlyCross,
        _ => VenueErrorKind::Other,
    };
    VenueError {
        kind,
        message: error.message,
    }
}

impl FlowVenue for ExchangeVenue<'_> {
    fn market_status(&self, ticker: &Ticker) -> Option<MarketStatus> {
        self.exchange
            .market_state(ticker.as_str())
            .map(|m| m.status)
    }

    fn top_of_book(&self, ticker: &Ticker) -> TopOfBook {
        self.exchange
            .matching_book(ticker.as_str())
            .map_or_else(TopOfBook::default, |book| TopOfBook {
                best_bid: book.best_bid(),
                best_ask: book.best_ask(),
            })
    }

    fn place(
        &mut self,
        agent: AgentId,
        order: &FlowOrder,
        now_ms: i64,
    ) -> Result<Placed, VenueError> {
        let user = self.user(agent)?.to_string();
        let mut request =
            OrderRequest::limit(order.ticker.as_str(), order.side, order.price, order.count);
        request.time_in_force = order.time_in_force;
        request.post_only = order.post_only;
        request.client_order_id = Some(order.client_order_id.clone());
        let ack = self
            .exchange
            .place_order(&user, &request, now_ms)
            .map_err(venue_error)?;
        Ok(Placed {
            order_id: ack.order_id,
            filled: ack.fill_count,
            resting: ack.remaining_count,
        })
    }

    fn cancel(
        &mut self,
        agent: AgentId,
        _ticker: &Ticker,
        order_id: &str,
        now_ms: i64,
    ) -> Result<Count, VenueError> {
        let user = self.user(agent)?.to_string();
        self.exchange
            .cancel_order_by_id(&user, order_id, None, now_ms)
            .map(|ack| ack.reduced_by)
            .map_err(venue_error)
    }

    fn resting_count(&self, agent: AgentId, _ticker: &Ticker, order_id: &str) -> Option<Count> {
        let user = self.user(agent).ok()?;
        self.exchange
            .order_record(order_id)
            .filter(|o| o.user_id == user && o.is_resting())
            .map(|o| o.remaining)
    }
}
