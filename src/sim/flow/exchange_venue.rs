//! The flow on the real simulator: [`Flow::install`] lists the catalogue and opens the agents'
//! accounts on a `sim::exchange::Exchange`, and the exchange is a [`FlowVenue`], so agents trade
//! through the same order API (collateral, fees, STP, events) as every other member.
//!
//! Driving it: `exchange.advance(now_ms)` (opens, closes, determines and settles on the
//! catalogue's schedule), then `flow.step(&mut exchange, now_ms)`, then publish
//! `exchange.take_events()`.

use crate::core::market::{MarketStatus, Ticker};
use crate::core::num::Count;
use crate::sim::exchange::types::{ApiError, EventSpec, MarketSpec, SelfTradePrevention};
use crate::sim::exchange::{Exchange, OrderRequest};

use super::Flow;
use super::venue::{AgentId, FlowOrder, FlowVenue, Placed, TopOfBook, VenueError, VenueErrorKind};

/// The exchange member id of a flow agent: UUID-shaped like every Kalshi user id, with the
/// agent number in the last group.
pub fn agent_user_id(agent: AgentId) -> String {
    format!("f10a0000-0000-4000-8000-{:012x}", agent.0)
}

fn venue_error(error: ApiError) -> VenueError {
    let kind = match (error.status, error.code.as_str()) {
        (_, "market_closed") => VenueErrorKind::MarketNotOpen,
        (404, _) => VenueErrorKind::NotFound,
        (_, "available_balance_too_low") => VenueErrorKind::InsufficientBalance,
        _ if error.details.as_deref() == Some("post only cross") => VenueErrorKind::PostOnlyCross,
        _ => VenueErrorKind::Other,
    };
    VenueError {
        kind,
        message: error.to_string(),
    }
}

impl Flow {
    /// List every series, event and market of the catalogue and open the agents' accounts.
    pub fn install(&self, exchange: &mut Exchange) -> Result<(), ApiError> {
        let catalogue = self.catalogue();
        for series in &catalogue.series {
            exchange.add_series(series.clone());
        }
        for event in &catalogue.events {
            exchange.add_event(event.clone());
        }
        for market in &catalogue.markets {
            exchange.add_market(market.clone())?;
        }
        for agent in self.agents() {
            exchange.open_account(&agent_user_id(agent.id), agent.balance);
        }
        Ok(())
    }
}

impl FlowVenue for Exchange {
    fn market_status(&self, ticker: &Ticker) -> Option<MarketStatus> {
        if !self.is_trading_active() || !self.is_exchange_active() {
            // Paused trading looks like a closed market to the agents: they wait.
            return self
                .market_state(ticker.as_str())
                .map(|_| MarketStatus::Inactive);
        }
        self.market_state(ticker.as_str()).map(|m| m.status)
    }

    fn top_of_book(&self, ticker: &Ticker) -> TopOfBook {
        self.matching_book(ticker.as_str())
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
        let mut request =
            OrderRequest::limit(order.ticker.as_str(), order.side, order.price, order.count);
        request.time_in_force = order.time_in_force;
        request.post_only = order.post_only;
        request.self_trade_prevention = SelfTradePrevention::TakerAtCross;
        request.client_order_id = Some(order.client_order_id.clone());
        let ack = self
            .place_order(&agent_user_id(agent), &request, now_ms)
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
        self.cancel_order_by_id(&agent_user_id(agent), order_id, None, now_ms)
            .map(|ack| ack.reduced_by)
            .map_err(venue_error)
    }

    fn resting_count(&self, agent: AgentId, _ticker: &Ticker, order_id: &str) -> Option<Count> {
        let record = self.order_record(order_id)?;
        (record.is_resting() && record.user_id == agent_user_id(agent)).then_some(record.remaining)
    }

    fn list_event(&mut self, event: &EventSpec, markets: &[MarketSpec]) -> Result<(), VenueError> {
        self.add_event(event.clone());
        for market in markets {
            self.add_market(market.clone()).map_err(venue_error)?;
        }
        Ok(())
    }
}
