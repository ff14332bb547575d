//! A minimal venue straight on `core::matching`: one [`MatchingBook`] per listed market, the
//! exchange's market lifecycle (`sim::exchange::lifecycle::MarketState`) for open → close →
//! determine → settle, and a tape of trades. No accounts, collateral or fees: it is what the
//! flow's own tests and headless runs (e.g. paper fills) trade against; the full simulator runs
//! the flow on `sim::exchange`.

use std::collections::HashMap;

use crate::core::market::{GridError, MarketStatus, PriceGrid, Ticker};
use crate::core::matching::{
    BookSide, MatchReject, MatchingBook, NewOrder, OrderId, SelfTradePrevention,
};
use crate::core::num::{Count, Price};
use crate::sim::exchange::lifecycle::{LifecycleStep, MarketState};
use crate::sim::exchange::types::{EventSpec, MarketSpec};

use super::catalogue::Catalogue;
use super::venue::{AgentId, FlowOrder, FlowVenue, Placed, TopOfBook, VenueError, VenueErrorKind};

/// One printed trade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapeTrade {
    pub ts_ms: i64,
    pub ticker: Ticker,
    pub price: Price,
    pub count: Count,
    pub taker_side: BookSide,
    pub taker: AgentId,
    pub maker: AgentId,
}

struct VenueMarket {
    state: MarketState,
    book: MatchingBook,
}

/// See the module docs.
pub struct BookVenue {
    markets: Vec<VenueMarket>,
    by_ticker: HashMap<Ticker, usize>,
    next_order_id: OrderId,
    tape: Vec<TapeTrade>,
    lifecycle: Vec<LifecycleStep>,
}

const ORDER_PREFIX: &str = "bv-";

fn parse_order_id(text: &str) -> Option<OrderId> {
    text.strip_prefix(ORDER_PREFIX)?.parse().ok()
}

fn refused(kind: VenueErrorKind, message: impl Into<String>) -> VenueError {
    VenueError {
        kind,
        message: message.into(),
    }
}

impl BookVenue {
    /// List every market of the catalogue (status `initialized` until [`BookVenue::advance`]).
    pub fn new(catalogue: &Catalogue) -> Result<BookVenue, GridError> {
        let mut venue = BookVenue {
            markets: Vec::with_capacity(catalogue.markets.len()),
            by_ticker: HashMap::new(),
            next_order_id: 1,
            tape: Vec::new(),
            lifecycle: Vec::new(),
        };
        for spec in &catalogue.markets {
            // A repeated ticker keeps its first listing, as the exchange would refuse the second.
            venue.add_market(spec)?;
        }
        Ok(venue)
    }

    /// List one market. Returns false (and changes nothing) if the ticker is already listed.
    pub fn add_market(&mut self, spec: &MarketSpec) -> Result<bool, GridError> {
        let grid = PriceGrid::from_ranges(&spec.price_ranges)?;
        let ticker = Ticker::new(&spec.ticker);
        if self.by_ticker.contains_key(&ticker) {
            return Ok(false);
        }
        self.by_ticker.insert(ticker.clone(), self.markets.len());
        self.markets.push(VenueMarket {
            book: MatchingBook::new(ticker, grid.clone()),
            state: MarketState::new(spec.clone(), grid),
        });
        Ok(true)
    }

    /// Run the schedule up to `now_ms`: open, close (cancelling resting orders), determine with
    /// the scheduled result, settle after the timer; expire GTD orders.
    pub fn advance(&mut self, now_ms: i64) {
        for market in &mut self.markets {
            if let Some(step) = market.state.open_if_due(now_ms) {
                self.lifecycle.push(step);
            }
            if let Some(step) = market.state.close_if_due(now_ms) {
                market.book.cancel_all();
                self.lifecycle.push(step);
            }
            if let Some(result) = market.state.determination_due(now_ms)
                && let Ok(steps) = market.state.determine(result, now_ms)
            {
                self.lifecycle.extend(steps);
            }
            if market.state.settlement_due(now_ms)
                && let Ok(step) = market.state.settle(now_ms)
            {
                self.lifecycle.push(step);
            }
            market.book.expire(now_ms);
        }
    }

    pub fn tape(&self) -> &[TapeTrade] {
        &self.tape
    }

    pub fn lifecycle(&self) -> &[LifecycleStep] {
        &self.lifecycle
    }

    pub fn book(&self, ticker: &Ticker) -> Option<&MatchingBook> {
        self.by_ticker.get(ticker).map(|&i| &self.markets[i].book)
    }

    pub fn market(&self, ticker: &Ticker) -> Option<&MarketState> {
        self.by_ticker.get(ticker).map(|&i| &self.markets[i].state)
    }

    fn market_mut(&mut self, ticker: &Ticker) -> Result<&mut VenueMarket, VenueError> {
        match self.by_ticker.get(ticker) {
            Some(&i) => Ok(&mut self.markets[i]),
            None => Err(refused(
                VenueErrorKind::NotFound,
                format!("no market {ticker}"),
            )),
        }
    }
}

impl FlowVenue for BookVenue {
    fn market_status(&self, ticker: &Ticker) -> Option<MarketStatus> {
        self.market(ticker).map(|m| m.status)
    }

    fn top_of_book(&self, ticker: &Ticker) -> TopOfBook {
        self.book(ticker)
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
        let order_id = self.next_order_id;
        let market = self.market_mut(&order.ticker)?;
        if !market.state.status.accepts_orders() {
            return Err(refused(
                VenueErrorKind::MarketNotOpen,
                format!("market {} is {}", order.ticker, market.state.status),
            ));
        }
        let outcome = market
            .book
            .submit(
                NewOrder {
                    order_id,
                    owner: u64::from(agent.0),
                    side: order.side,
                    price: order.price,
                    count: order.count,
                    time_in_force: order.time_in_force,
                    post_only: order.post_only,
                    reduce_only_position: None,
                    self_trade_prevention: SelfTradePrevention::TakerAtCross,
                    expiration_ms: None,
                },
                now_ms,
            )
            .map_err(|reject| {
                let kind = match reject {
                    MatchReject::PostOnlyCross => VenueErrorKind::PostOnlyCross,
                    _ => VenueErrorKind::Other,
                };
                refused(kind, reject.to_string())
            })?;
        self.next_order_id += 1;
        let filled = outcome.filled();
        for fill in &outcome.fills {
            self.tape.push(TapeTrade {
                ts_ms: now_ms,
                ticker: order.ticker.clone(),
                price: fill.price,
                count: fill.count,
                taker_side: fill.taker_side,
                taker: agent,
                maker: AgentId(fill.maker_owner as u32),
            });
        }
        Ok(Placed {
            order_id: format!("{ORDER_PREFIX}{order_id}"),
            filled,
            resting: outcome.rested.unwrap_or(Count::ZERO),
        })
    }

    fn cancel(
        &mut self,
        agent: AgentId,
        ticker: &Ticker,
        order_id: &str,
        _now_ms: i64,
    ) -> Result<Count, VenueError> {
        let not_found = || {
            refused(
                VenueErrorKind::NotFound,
                format!("no resting order {order_id}"),
            )
        };
        let id = parse_order_id(order_id).ok_or_else(not_found)?;
        let market = self.market_mut(ticker)?;
        match market.book.order(id) {
            Some(order) if order.owner == u64::from(agent.0) => {}
            _ => return Err(not_found()),
        }
        market
            .book
            .cancel(id)
            .map(|o| o.remaining)
            .ok_or_else(not_found)
    }

    fn resting_count(&self, agent: AgentId, ticker: &Ticker, order_id: &str) -> Option<Count> {
        let order = self.book(ticker)?.order(parse_order_id(order_id)?)?;
        (order.owner == u64::from(agent.0)).then_some(order.remaining)
    }

    fn list_event(&mut self, _event: &EventSpec, markets: &[MarketSpec]) -> Result<(), VenueError> {
        for market in markets {
            let listed = self
                .add_market(market)
                .map_err(|e| refused(VenueErrorKind::Other, e.to_string()))?;
            if !listed {
                return Err(refused(
                    VenueErrorKind::Other,
                    format!("market {} is already listed", market.ticker),
                ));
            }
        }
        Ok(())
    }
}
