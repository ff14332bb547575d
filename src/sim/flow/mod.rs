//! A believable synthetic market for the simulator.
//!
//! [`Flow::new`] builds, from one seed and a start time, a catalogue of ~50 markets in several
//! series ([`catalogue`]): two Fed meetings (mutually exclusive rate brackets), CPI and core CPI
//! strike ladders, four cities' daily highs (mutually exclusive buckets), and two games (winner
//! plus spread markets). Each underlying has a hidden true value and a public belief that drifts
//! toward it and jumps on scheduled news ([`belief`]); a market's hidden fair value is the
//! belief's probability of its YES range. Some markets close within minutes of the start (weather,
//! CPI, the first game) and the catalogue carries each one's result, so the exchange determines
//! and settles them during a long run; one game's markets open a few minutes in. A few markets
//! use sub-cent grids (`deci_cent`, `tapered_deci_cent`, `center_deci_edge_centi_cent`).
//!
//! [`Flow::step`]`(&mut venue, now_ms)` moves beliefs to `now_ms` and lets the agents act through
//! a [`FlowVenue`] (the exchange's normal order API under the agents' own accounts):
//! - market makers (two per market) quote two levels a side around their own lagging estimate
//!   of fair value, post-only, and requote when their estimate moves, a quote fills, or a quote
//!   gets old;
//! - noise takers send small marketable IOC orders at random (Poisson) times;
//! - informed traders see the hidden fair value and pick off quotes that are stale by more than
//!   an edge, so news reaches prices through trades.
//!
//! Every family of events recurs: the next instance (the next day's high, the next CPI print, the
//! next game) is listed through [`FlowVenue::list_event`] half a period before the current one
//! closes, so a run of any length keeps ~50 markets trading while older ones settle.
//!
//! Running it on the simulator: `flow.install(&mut exchange)` once, then per tick
//! `exchange.advance(now_ms)` and `flow.step(&mut exchange, now_ms)` ([`exchange_venue`]).
//!
//! Everything is driven by one ChaCha8 stream seeded from `--seed`; time only arrives as
//! `now_ms` arguments, so the same seed and the same step times give the same orders and trades.

pub mod belief;
pub mod book_venue;
pub mod catalogue;
pub mod exchange_venue;
pub mod venue;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::core::market::{MarketStatus, PriceGrid};
use crate::core::matching::{BookSide, TimeInForce};
use crate::core::num::{Count, MICROS, Money, Price};

pub use catalogue::{Catalogue, Listing, MarketModel, Underlying};
pub use venue::{AgentId, FlowOrder, FlowVenue, Placed, TopOfBook, VenueError, VenueErrorKind};

/// Tunables. [`FlowConfig::new`] gives the defaults the simulator runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowConfig {
    pub seed: u64,
    /// Unix ms the catalogue's schedule is built around (markets open before it, close after).
    pub start_ms: i64,
    pub market_makers: u32,
    pub noise_takers: u32,
    pub informed_traders: u32,
    /// Noise-taker orders per second per market, before each market's activity multiplier.
    pub noise_rate_per_market: f64,
    /// Mean time for an informed trader to react to a mispriced quote.
    pub informed_reaction_ms: f64,
    /// How far a quote must be from fair value (in dollars) before informed traders take it.
    pub informed_edge: f64,
    /// Starting cash of every agent account.
    pub agent_balance: Money,
}

impl FlowConfig {
    pub fn new(seed: u64, start_ms: i64) -> FlowConfig {
        FlowConfig {
            seed,
            start_ms,
            market_makers: 6,
            noise_takers: 3,
            informed_traders: 2,
            noise_rate_per_market: 0.09,
            informed_reaction_ms: 900.0,
            informed_edge: 0.012,
            agent_balance: Money::from_micros(10_000_000 * MICROS),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgentRole {
    MarketMaker,
    NoiseTaker,
    Informed,
}

/// An account the venue must open for the flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentSpec {
    pub id: AgentId,
    /// The exchange member id (`f10a0000-0000-4000-8000-0000000000NN`).
    pub name: String,
    pub role: AgentRole,
    pub balance: Money,
}

/// A news item as it broke.
#[derive(Clone, Debug, PartialEq)]
pub struct NewsEvent {
    pub at_ms: i64,
    pub underlying: String,
    pub headline: String,
}

/// Counters of what the agents did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub orders_placed: u64,
    pub orders_cancelled: u64,
    /// Taker (IOC) orders that filled at least partly.
    pub taker_orders_filled: u64,
    pub contracts_taken: Count,
    pub rejected_post_only: u64,
    pub rejected_other: u64,
    /// Events listed after the start (each family's next instance).
    pub events_listed: u64,
    /// Listings the venue refused.
    pub listing_errors: u64,
}

/// A maker's quoting style.
#[derive(Clone, Debug)]
struct MakerStyle {
    half_spread: f64,
    lag_ms: f64,
    min_size: i64,
    max_size: i64,
    depth: f64,
    requote_threshold: f64,
}

#[derive(Clone, Debug)]
struct LiveQuote {
    order_id: String,
    side: BookSide,
    price: Price,
    contracts: i64,
}

#[derive(Clone, Debug)]
struct MakerSlot {
    agent: AgentId,
    estimate: Option<f64>,
    quotes: Vec<LiveQuote>,
    center: f64,
    refresh_at_ms: i64,
}

#[derive(Clone, Debug)]
struct MarketRuntime {
    makers: Vec<MakerSlot>,
    fair: f64,
}

/// The synthetic market. See the module docs.
pub struct Flow {
    config: FlowConfig,
    rng: ChaCha8Rng,
    listing: Listing,
    recurrences: Vec<catalogue::Recurrence>,
    maker_ids: Vec<AgentId>,
    agents: Vec<AgentSpec>,
    styles: Vec<MakerStyle>,
    runtime: Vec<MarketRuntime>,
    last_ms: Option<i64>,
    next_client_id: u64,
    stats: FlowStats,
    news: Vec<NewsEvent>,
}

impl Flow {
    pub fn new(config: FlowConfig) -> Flow {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let (listing, recurrences) = catalogue::build(&mut rng, config.start_ms);
        let mut agents = Vec::new();
        let roles = [
            (AgentRole::MarketMaker, config.market_makers.max(2)),
            (AgentRole::NoiseTaker, config.noise_takers.max(1)),
            (AgentRole::Informed, config.informed_traders.max(1)),
        ];
        for (role, n) in roles {
            for _ in 0..n {
                let id = AgentId(agents.len() as u32);
                agents.push(AgentSpec {
                    id,
                    name: exchange_venue::agent_user_id(id),
                    role,
                    balance: config.agent_balance,
                });
            }
        }
        let maker_ids: Vec<AgentId> = agents
            .iter()
            .filter(|a| a.role == AgentRole::MarketMaker)
            .map(|a| a.id)
            .collect();
        let styles = maker_ids
            .iter()
            .map(|_| MakerStyle {
                half_spread: 0.008 + 0.02 * rng.random::<f64>(),
                lag_ms: 800.0 + 3_000.0 * rng.random::<f64>(),
                min_size: rng.random_range(3..10),
                max_size: rng.random_range(20..80),
                depth: 0.02 + 0.04 * rng.random::<f64>(),
                requote_threshold: 0.01 + 0.01 * rng.random::<f64>(),
            })
            .collect();
        let runtime = (0..listing.markets.len())
            .map(|i| market_runtime(i, &maker_ids))
            .collect();
        Flow {
            config,
            rng,
            listing,
            recurrences,
            maker_ids,
            agents,
            styles,
            runtime,
            last_ms: None,
            next_client_id: 0,
            stats: FlowStats::default(),
            news: Vec::new(),
        }
    }

    pub fn config(&self) -> &FlowConfig {
        &self.config
    }

    /// Series, events and markets for the exchange to list.
    pub fn catalogue(&self) -> &Catalogue {
        &self.listing.catalogue
    }

    /// The hidden models (tests and diagnostics; agents other than the informed never see them).
    pub fn listing(&self) -> &Listing {
        &self.listing
    }

    /// Accounts the venue must open before the first step.
    pub fn agents(&self) -> &[AgentSpec] {
        &self.agents
    }

    pub fn stats(&self) -> &FlowStats {
        &self.stats
    }

    /// News that has broken so far, oldest first.
    pub fn news(&self) -> &[NewsEvent] {
        &self.news
    }

    /// The hidden fair value of a market as of the last step (a probability, not on any grid).
    pub fn fair_value(&self, ticker: &str) -> Option<f64> {
        self.listing
            .markets
            .iter()
            .position(|m| m.ticker.as_str() == ticker)
            .map(|i| self.runtime[i].fair)
    }

    /// Advance the hidden world to `now_ms` and let every agent act once. Steps of 50–500 ms
    /// give a lively market; the same seed and step times always produce the same orders.
    pub fn step(&mut self, venue: &mut impl FlowVenue, now_ms: i64) {
        let dt_ms = self
            .last_ms
            .map_or(0.0, |last| (now_ms - last).max(0) as f64);
        self.last_ms = Some(now_ms);
        for underlying in &mut self.listing.underlyings {
            for item in underlying.belief.advance(now_ms, &mut self.rng) {
                self.news.push(NewsEvent {
                    at_ms: item.at_ms,
                    underlying: underlying.name.clone(),
                    headline: item.headline.clone(),
                });
            }
        }
        self.list_due(venue, now_ms);
        let noise: Vec<AgentId> = self.ids_with(AgentRole::NoiseTaker);
        let informed: Vec<AgentId> = self.ids_with(AgentRole::Informed);
        for index in 0..self.listing.markets.len() {
            let model = &self.listing.markets[index];
            let belief = &self.listing.underlyings[model.underlying].belief;
            let fair = belief.probability(model.lo, model.hi);
            let runtime = &mut self.runtime[index];
            runtime.fair = fair;
            if venue.market_status(&model.ticker) != Some(MarketStatus::Active) {
                // Quotes stay tracked: a paused market's orders keep resting and are replaced on
                // resume; a closed market's were cancelled by the exchange and it never reopens.
                continue;
            }
            let mut ctx = AgentContext {
                rng: &mut self.rng,
                venue: &mut *venue,
                model,
                now_ms,
                next_client_id: &mut self.next_client_id,
                stats: &mut self.stats,
            };
            for slot in &mut runtime.makers {
                let style = &self.styles[slot.agent.0 as usize % self.styles.len()];
                ctx.make(slot, style, fair, dt_ms);
            }
            let dt_s = dt_ms / 1000.0;
            let noise_chance =
                1.0 - (-self.config.noise_rate_per_market * model.activity * dt_s).exp();
            if ctx.rng.random::<f64>() < noise_chance {
                let agent = noise[ctx.rng.random_range(0..noise.len())];
                ctx.take_noisily(agent);
            }
            let react_chance = 1.0 - (-dt_ms / self.config.informed_reaction_ms).exp();
            if ctx.rng.random::<f64>() < react_chance {
                let agent = informed[ctx.rng.random_range(0..informed.len())];
                ctx.take_informed(agent, fair, self.config.informed_edge);
            }
        }
    }

    /// List each family's next instance when its time has come.
    fn list_due(&mut self, venue: &mut impl FlowVenue, now_ms: i64) {
        for recurrence in &mut self.recurrences {
            while recurrence.next_list_ms <= now_ms {
                let added = catalogue::list_next(
                    &mut self.rng,
                    &mut self.listing,
                    recurrence,
                    self.config.start_ms,
                    now_ms,
                );
                for index in added.markets.clone() {
                    self.runtime.push(market_runtime(index, &self.maker_ids));
                }
                let catalogue = &self.listing.catalogue;
                for event in &catalogue.events[added.events] {
                    let markets: Vec<_> = catalogue.markets[added.markets.clone()]
                        .iter()
                        .filter(|m| m.event_ticker == event.event_ticker)
                        .cloned()
                        .collect();
                    match venue.list_event(event, &markets) {
                        Ok(()) => self.stats.events_listed += 1,
                        Err(_) => self.stats.listing_errors += 1,
                    }
                }
            }
        }
    }

    fn ids_with(&self, role: AgentRole) -> Vec<AgentId> {
        self.agents
            .iter()
            .filter(|a| a.role == role)
            .map(|a| a.id)
            .collect()
    }
}

/// Quoting state for the market at `index`: two makers, spread over the maker accounts.
fn market_runtime(index: usize, maker_ids: &[AgentId]) -> MarketRuntime {
    let n = maker_ids.len();
    let first = index % n;
    let second = (index + 1 + index / n) % n;
    let second = if second == first {
        (first + 1) % n
    } else {
        second
    };
    MarketRuntime {
        makers: [first, second]
            .into_iter()
            .map(|m| MakerSlot {
                agent: maker_ids[m],
                estimate: None,
                quotes: Vec::new(),
                center: 0.0,
                refresh_at_ms: 0,
            })
            .collect(),
        fair: 0.5,
    }
}

/// What one agent action needs, borrowed from the flow for one market.
struct AgentContext<'a, V: FlowVenue> {
    rng: &'a mut ChaCha8Rng,
    venue: &'a mut V,
    model: &'a MarketModel,
    now_ms: i64,
    next_client_id: &'a mut u64,
    stats: &'a mut FlowStats,
}

/// A probability as a price, clamped into 0..=1 (not yet on a grid).
fn to_price(value: f64) -> Price {
    let micros = (value.clamp(0.0, 1.0) * MICROS as f64).round() as i64;
    Price::from_micros(micros).unwrap_or(Price::ZERO)
}

/// Lowest and highest tradeable grid prices.
fn tradeable_bounds(grid: &PriceGrid) -> Option<(Price, Price)> {
    let low = grid.snap_up(Price::from_micros(1)?)?;
    let high = grid.snap_down(Price::from_micros(MICROS - 1)?)?;
    (low < high).then_some((low, high))
}

impl<V: FlowVenue> AgentContext<'_, V> {
    fn count(&mut self, contracts: i64) -> Count {
        let mut centi = contracts.max(1) * 100;
        if self.model.fractional && self.rng.random::<f64>() < 0.3 {
            centi += self.rng.random_range(1..100);
        }
        Count::from_centi(centi)
    }

    fn send(
        &mut self,
        agent: AgentId,
        side: BookSide,
        price: Price,
        count: Count,
        time_in_force: TimeInForce,
    ) -> Option<Placed> {
        *self.next_client_id += 1;
        let order = FlowOrder {
            ticker: self.model.ticker.clone(),
            side,
            price,
            count,
            time_in_force,
            post_only: time_in_force == TimeInForce::GoodTillCanceled,
            client_order_id: format!("flow-{}", self.next_client_id),
        };
        self.stats.orders_placed += 1;
        match self.venue.place(agent, &order, self.now_ms) {
            Ok(placed) => {
                if time_in_force != TimeInForce::GoodTillCanceled && placed.filled.is_positive() {
                    self.stats.taker_orders_filled += 1;
                    self.stats.contracts_taken =
                        self.stats.contracts_taken.saturating_add(placed.filled);
                }
                Some(placed)
            }
            Err(error) => {
                if error.kind == VenueErrorKind::PostOnlyCross {
                    self.stats.rejected_post_only += 1;
                } else {
                    self.stats.rejected_other += 1;
                }
                None
            }
        }
    }

    /// A market maker's turn: track fair value with a lag and keep a two-level quote around it.
    fn make(&mut self, slot: &mut MakerSlot, style: &MakerStyle, fair: f64, dt_ms: f64) {
        let estimate = match slot.estimate {
            None => (fair + 0.01 * (self.rng.random::<f64>() - 0.5)).clamp(0.0, 1.0),
            Some(previous) => {
                let pull = 1.0 - (-dt_ms / style.lag_ms).exp();
                let jitter = 0.002 * (self.rng.random::<f64>() - 0.5) * (dt_ms / 1000.0).sqrt();
                (previous + pull * (fair - previous) + jitter).clamp(0.0, 1.0)
            }
        };
        slot.estimate = Some(estimate);
        let ticker = &self.model.ticker;
        let stale = (estimate - slot.center).abs() > style.requote_threshold
            || self.now_ms >= slot.refresh_at_ms;
        if !slot.quotes.is_empty() && !stale {
            // Refill levels that traded away, at the same price, keeping the rest in the queue.
            let mut kept = Vec::with_capacity(slot.quotes.len());
            for quote in std::mem::take(&mut slot.quotes) {
                if self
                    .venue
                    .resting_count(slot.agent, ticker, &quote.order_id)
                    .is_some()
                {
                    kept.push(quote);
                    continue;
                }
                let count = self.count(quote.contracts);
                if let Some(placed) = self.send(
                    slot.agent,
                    quote.side,
                    quote.price,
                    count,
                    TimeInForce::GoodTillCanceled,
                ) && placed.resting.is_positive()
                {
                    kept.push(LiveQuote {
                        order_id: placed.order_id,
                        ..quote
                    });
                }
            }
            slot.quotes = kept;
            return;
        }
        for quote in slot.quotes.drain(..) {
            if self
                .venue
                .cancel(slot.agent, ticker, &quote.order_id, self.now_ms)
                .is_ok()
            {
                self.stats.orders_cancelled += 1;
            }
        }
        slot.center = estimate;
        slot.refresh_at_ms = self.now_ms + self.rng.random_range(20_000..60_000);
        let grid = &self.model.grid;
        let Some((low, high)) = tradeable_bounds(grid) else {
            return;
        };
        // Tighter near 0 and 1, where a cent is a large share of the value.
        let half = (style.half_spread * (0.4 + 2.4 * estimate * (1.0 - estimate))).max(0.003);
        let bid = grid
            .snap_down(to_price(estimate - half))
            .unwrap_or(low)
            .clamp(low, grid.next_tick_down(high).unwrap_or(low));
        let ask = grid
            .snap_up(to_price(estimate + half))
            .unwrap_or(high)
            .clamp(grid.next_tick_up(bid).unwrap_or(high), high);
        let inner = self.rng.random_range(style.min_size..=style.max_size);
        let outer = inner * self.rng.random_range(2..5);
        let mut ladder = vec![(BookSide::Bid, bid, inner), (BookSide::Ask, ask, inner)];
        let deep_bid = grid.snap_down(to_price(bid.micros() as f64 / 1e6 - style.depth));
        if let Some(deep_bid) = deep_bid.filter(|p| *p >= low && *p < bid) {
            ladder.push((BookSide::Bid, deep_bid, outer));
        }
        let deep_ask = grid.snap_up(to_price(ask.micros() as f64 / 1e6 + style.depth));
        if let Some(deep_ask) = deep_ask.filter(|p| *p <= high && *p > ask) {
            ladder.push((BookSide::Ask, deep_ask, outer));
        }
        for (side, price, contracts) in ladder {
            let count = self.count(contracts);
            if let Some(placed) = self.send(
                slot.agent,
                side,
                price,
                count,
                TimeInForce::GoodTillCanceled,
            ) && placed.resting.is_positive()
            {
                slot.quotes.push(LiveQuote {
                    order_id: placed.order_id,
                    side,
                    price,
                    contracts,
                });
            }
        }
    }

    /// A noise trader: a small marketable IOC on a random side, sometimes a tick or two through.
    fn take_noisily(&mut self, agent: AgentId) {
        let top = self.venue.top_of_book(&self.model.ticker);
        let side = if self.rng.random::<bool>() {
            BookSide::Bid
        } else {
            BookSide::Ask
        };
        let target = match side {
            BookSide::Bid => top.best_ask,
            BookSide::Ask => top.best_bid,
        };
        let Some((mut price, _)) = target else { return };
        let grid = &self.model.grid;
        for _ in 0..self.rng.random_range(0..3) {
            let through = match side {
                BookSide::Bid => grid.next_tick_up(price),
                BookSide::Ask => grid.next_tick_down(price),
            };
            match through {
                Some(next) if grid.is_tradeable(next) => price = next,
                _ => break,
            }
        }
        let u: f64 = self.rng.random();
        let contracts = 1 + (u * u * 20.0) as i64;
        let count = self.count(contracts);
        self.send(agent, side, price, count, TimeInForce::ImmediateOrCancel);
    }

    /// An informed trader: takes quotes that are on the wrong side of fair value by `edge`.
    fn take_informed(&mut self, agent: AgentId, fair: f64, edge: f64) {
        let top = self.venue.top_of_book(&self.model.ticker);
        let grid = &self.model.grid;
        let (side, limit, available) = match (top.best_ask, top.best_bid) {
            (Some((ask, size)), _) if ask < to_price(fair - edge) => {
                match grid.snap_down(to_price(fair - edge)) {
                    Some(limit) => (BookSide::Bid, limit, size),
                    None => return,
                }
            }
            (_, Some((bid, size))) if bid > to_price(fair + edge) => {
                match grid.snap_up(to_price(fair + edge)) {
                    Some(limit) => (BookSide::Ask, limit, size),
                    None => return,
                }
            }
            _ => return,
        };
        if !grid.is_tradeable(limit) {
            return;
        }
        let wanted = Count::from_contracts(self.rng.random_range(5..60));
        let count = wanted.min(available.max(Count::from_contracts(1)));
        self.send(agent, side, limit, count, TimeInForce::ImmediateOrCancel);
    }
}

#[cfg(test)]
mod tests;
