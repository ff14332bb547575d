//! Building the simulator's market from the flow's catalogue: the first `markets` markets (with
//! the events and series they belong to) and an account per synthetic trader. The flow trades
//! through the exchange's own `FlowVenue` implementation, like any member.

use crate::sim::exchange::Exchange;
use crate::sim::exchange::types::ExchangeConfig;
use crate::sim::flow::exchange_venue::agent_user_id;
use crate::sim::flow::{Flow, FlowConfig};
use std::collections::BTreeSet;

/// The exchange listing the first `market_count` markets of the catalogue seeded by `seed`
/// around `now_ms`, and the flow that trades them.
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
        exchange.open_account(&agent_user_id(agent.id), agent.balance);
    }
    exchange.advance(now_ms);
    Ok((exchange, flow))
}
