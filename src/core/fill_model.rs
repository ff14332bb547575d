//! The fill model shared by backtest and paper trading: our orders are filled locally against
//! the public feed, never ahead of the queue we would really have stood in.
//!
//! Rules (issue 7), chosen so the model errs against us rather than for us:
//! * A resting order joins behind the size the feed shows at its price when it arrives
//!   (`queue_ahead`). Size added later joins behind us.
//! * Size removed from the level by the feed is assumed to come from behind us (cancels of
//!   later arrivals), so it does not move us up. Only when the level shrinks below our
//!   `queue_ahead` do we move up to the level's size — and that shrink is remembered as
//!   `credit`, so a trade printed for the same contracts afterwards is not counted twice.
//! * A trade at our price first clears the queue ahead; only what is left fills us. A trade
//!   printed through our price (worse for the taker than ours) means our level was cleared:
//!   we fill up to the trade's size.
//! * Our own marketable orders take liquidity from a shadow copy of the book: what we took is
//!   subtracted from the visible levels until the feed's next snapshot of that market, so two
//!   of our takes never consume the same contracts.
//! * Fees per fill from the market's fee schedule (DIGEST 4.8): taker fees on takes, maker fees
//!   on passive fills where the schedule charges them.
//!
//! Pure and deterministic: no clock (times arrive as arguments), no I/O. Latency is the
//! caller's business (it decides when an order reaches [`FillModel::place`]).

use crate::core::FastMap;
use std::collections::BTreeMap;

use crate::core::book::{BookSide, PriceConvention};
use crate::core::engine::MarketInput;
use crate::core::market::Ticker;
use crate::core::num::{Count, Money, Price};
use crate::core::order::{ClientOrderId, OrderId, OrderSide, TradeId};
use crate::core::portfolio::fees::{FeeSchedule, Liquidity};
use crate::core::risk::TimeInForce;

/// An order as it reaches the (simulated) exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub client_order_id: ClientOrderId,
    pub ticker: Ticker,
    pub side: OrderSide,
    /// YES price.
    pub price: Price,
    pub count: Count,
    pub time_in_force: TimeInForce,
    pub post_only: bool,
}

/// One fill of one of our orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFill {
    pub trade_id: TradeId,
    pub order_id: OrderId,
    pub client_order_id: ClientOrderId,
    pub ticker: Ticker,
    pub side: OrderSide,
    pub yes_price: Price,
    pub count: Count,
    pub is_taker: bool,
    pub fee_cost: Money,
    pub ts_ms: i64,
}

/// The answer to a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceOutcome {
    Accepted {
        order_id: OrderId,
        fills: Vec<ModelFill>,
        /// What rests on the book (zero for IOC/FOK or a fully filled order).
        remaining: Count,
    },
    Rejected {
        code: &'static str,
        details: String,
    },
}

/// A resting order of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestingOrder {
    pub order_id: OrderId,
    pub client_order_id: ClientOrderId,
    pub side: OrderSide,
    pub price: Price,
    pub remaining: Count,
    /// Contracts ahead of us at our price.
    pub queue_ahead: Count,
    /// Level shrink already credited to `queue_ahead` that a later trade may report again.
    credit: Count,
}

/// The visible book of one market in YES prices, plus what we took from it.
#[derive(Debug, Clone, Default)]
struct MarketState {
    /// YES bids: price → size.
    bids: BTreeMap<Price, Count>,
    /// YES asks (NO bids at `1 − price`): YES price → size.
    asks: BTreeMap<Price, Count>,
    /// Contracts our takes removed from `bids` / `asks`, until the next snapshot.
    taken_bids: BTreeMap<Price, Count>,
    taken_asks: BTreeMap<Price, Count>,
    resting: Vec<RestingOrder>,
    fees: Option<FeeSchedule>,
}

impl MarketState {
    fn visible(&self, book_side: OrderSide, price: Price) -> Count {
        let (levels, taken) = match book_side {
            OrderSide::Bid => (&self.bids, &self.taken_bids),
            OrderSide::Ask => (&self.asks, &self.taken_asks),
        };
        let size = levels.get(&price).copied().unwrap_or(Count::ZERO);
        let taken = taken.get(&price).copied().unwrap_or(Count::ZERO);
        size.saturating_sub(taken).max(Count::ZERO)
    }

    pub fn best_bid(&self) -> Option<Price> {
        self.bids
            .keys()
            .rev()
            .copied()
            .find(|p| self.visible(OrderSide::Bid, *p).is_positive())
    }

    pub fn best_ask(&self) -> Option<Price> {
        self.asks
            .keys()
            .copied()
            .find(|p| self.visible(OrderSide::Ask, *p).is_positive())
    }
}

/// Counters of what the model did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FillStats {
    pub maker_fills: u64,
    pub taker_fills: u64,
    pub rejects: u64,
}

/// The local exchange for our orders.
#[derive(Debug, Clone, Default)]
pub struct FillModel {
    markets: FastMap<Ticker, MarketState>,
    next_order: u64,
    next_trade: u64,
    /// Prefix of ids so paper and backtest ids never look like the exchange's.
    id_prefix: String,
    stats: FillStats,
}

impl FillModel {
    pub fn new(id_prefix: &str) -> FillModel {
        FillModel {
            id_prefix: id_prefix.to_string(),
            ..FillModel::default()
        }
    }

    pub fn stats(&self) -> FillStats {
        self.stats
    }

    /// The fee schedule of a market (quadratic taker-only if never set).
    pub fn set_fees(&mut self, ticker: &Ticker, fees: FeeSchedule) {
        self.market(ticker).fees = Some(fees);
    }

    fn market(&mut self, ticker: &Ticker) -> &mut MarketState {
        self.markets.entry(ticker.clone()).or_default()
    }

    pub fn best_bid(&self, ticker: &str) -> Option<Price> {
        self.markets.get(ticker).and_then(MarketState::best_bid)
    }

    pub fn best_ask(&self, ticker: &str) -> Option<Price> {
        self.markets.get(ticker).and_then(MarketState::best_ask)
    }

    /// Mid of the visible book, when both sides have size.
    pub fn mid(&self, ticker: &str) -> Option<Price> {
        let bid = self.best_bid(ticker)?;
        let ask = self.best_ask(ticker)?;
        Price::from_micros((bid.micros() + ask.micros()) / 2)
    }

    /// Our resting orders in a market.
    pub fn resting(&self, ticker: &str) -> &[RestingOrder] {
        self.markets
            .get(ticker)
            .map(|m| m.resting.as_slice())
            .unwrap_or(&[])
    }

    /// Every market with any of our resting orders.
    pub fn resting_count(&self) -> usize {
        self.markets.values().map(|m| m.resting.len()).sum()
    }

    /// Apply one public market input; returns the fills of our resting orders it caused.
    pub fn on_market(&mut self, input: &MarketInput, ts_ms: i64) -> Vec<ModelFill> {
        match input {
            MarketInput::Snapshot {
                ticker,
                yes,
                no,
                convention,
                ..
            } => {
                let market = self.market(ticker);
                market.bids = yes
                    .iter()
                    .filter(|(_, size)| size.is_positive())
                    .map(|(p, s)| (*p, *s))
                    .collect();
                market.asks = no
                    .iter()
                    .filter(|(_, size)| size.is_positive())
                    .map(|(p, s)| (yes_price_of_no(*p, *convention), *s))
                    .collect();
                market.taken_bids.clear();
                market.taken_asks.clear();
                for order in &mut market.resting {
                    let level = match order.side {
                        OrderSide::Bid => market.bids.get(&order.price),
                        OrderSide::Ask => market.asks.get(&order.price),
                    }
                    .copied()
                    .unwrap_or(Count::ZERO);
                    if level < order.queue_ahead {
                        order.credit = order
                            .credit
                            .saturating_add(order.queue_ahead.saturating_sub(level));
                        order.queue_ahead = level;
                    }
                }
                Vec::new()
            }
            MarketInput::Delta {
                ticker,
                side,
                price,
                delta,
                convention,
                ..
            } => {
                let (book_side, yes_price) = match side {
                    BookSide::Yes => (OrderSide::Bid, *price),
                    BookSide::No => (OrderSide::Ask, yes_price_of_no(*price, *convention)),
                };
                let market = self.market(ticker);
                let (levels, taken) = match book_side {
                    OrderSide::Bid => (&mut market.bids, &mut market.taken_bids),
                    OrderSide::Ask => (&mut market.asks, &mut market.taken_asks),
                };
                let new = levels
                    .get(&yes_price)
                    .copied()
                    .unwrap_or(Count::ZERO)
                    .saturating_add(*delta)
                    .max(Count::ZERO);
                if new.is_positive() {
                    levels.insert(yes_price, new);
                } else {
                    levels.remove(&yes_price);
                }
                if let Some(ours) = taken.get_mut(&yes_price) {
                    // What the feed removes is assumed to be what we had not taken yet (the
                    // smaller shadow level), so our takes stay consumed until a snapshot.
                    *ours = (*ours).min(new);
                    if !ours.is_positive() {
                        taken.remove(&yes_price);
                    }
                }
                for order in &mut market.resting {
                    if order.side == book_side
                        && order.price == yes_price
                        && new < order.queue_ahead
                    {
                        order.credit = order
                            .credit
                            .saturating_add(order.queue_ahead.saturating_sub(new));
                        order.queue_ahead = new;
                    }
                }
                Vec::new()
            }
            MarketInput::Trade {
                ticker,
                yes_price,
                count,
                taker_side,
                ..
            } => self.on_trade(ticker, *yes_price, *count, *taker_side, ts_ms),
            _ => Vec::new(),
        }
    }

    /// A public trade: the taker bought YES (`Bid`) from resting asks, or sold YES (`Ask`) into
    /// resting bids. Our resting orders on the hit side fill only past their queue.
    fn on_trade(
        &mut self,
        ticker: &Ticker,
        yes_price: Price,
        count: Count,
        taker_side: OrderSide,
        ts_ms: i64,
    ) -> Vec<ModelFill> {
        let hit_side = taker_side.opposite();
        let Some(market) = self.markets.get_mut(ticker) else {
            return Vec::new();
        };
        let fees = market.fees.unwrap_or_else(FeeSchedule::quadratic);
        let mut fills = Vec::new();
        // Best-priced of ours first; time priority among ours by placement order (stable sort).
        let mut order_idx: Vec<usize> = (0..market.resting.len())
            .filter(|&i| market.resting[i].side == hit_side)
            .collect();
        order_idx.sort_by(|&a, &b| {
            let (pa, pb) = (market.resting[a].price, market.resting[b].price);
            match hit_side {
                OrderSide::Bid => pb.cmp(&pa),
                OrderSide::Ask => pa.cmp(&pb),
            }
        });
        let mut left = count;
        for i in order_idx {
            if !left.is_positive() {
                break;
            }
            let order = &mut market.resting[i];
            let through = match hit_side {
                // A sell printed below our bid went through our level.
                OrderSide::Bid => yes_price < order.price,
                OrderSide::Ask => yes_price > order.price,
            };
            let at = yes_price == order.price;
            if !(through || at) {
                continue;
            }
            let mut volume = left;
            if at {
                let credited = order.credit.min(volume);
                order.credit = order.credit.saturating_sub(credited);
                volume = volume.saturating_sub(credited);
                let cleared = order.queue_ahead.min(volume);
                order.queue_ahead = order.queue_ahead.saturating_sub(cleared);
                volume = volume.saturating_sub(cleared);
            } else {
                order.queue_ahead = Count::ZERO;
                order.credit = Count::ZERO;
            }
            let filled = volume.min(order.remaining);
            if !filled.is_positive() {
                continue;
            }
            order.remaining = order.remaining.saturating_sub(filled);
            left = left.saturating_sub(filled);
            self.next_trade += 1;
            self.stats.maker_fills += 1;
            fills.push(ModelFill {
                trade_id: TradeId::new(&format!("{}-t{}", self.id_prefix, self.next_trade)),
                order_id: order.order_id.clone(),
                client_order_id: order.client_order_id.clone(),
                ticker: ticker.clone(),
                side: order.side,
                yes_price: order.price,
                count: filled,
                is_taker: false,
                fee_cost: fees.trade_fee(Liquidity::Maker, order.price, filled),
                ts_ms,
            });
        }
        market.resting.retain(|o| o.remaining.is_positive());
        fills
    }

    /// An order reaches the book: it takes what it crosses (from the shadow book), then rests
    /// behind the visible queue at its price (GTC) or is cancelled (IOC/FOK).
    pub fn place(&mut self, request: &OrderRequest, ts_ms: i64) -> PlaceOutcome {
        if !request.count.is_positive() {
            self.stats.rejects += 1;
            return PlaceOutcome::Rejected {
                code: "invalid_parameters",
                details: format!("count {} is not positive", request.count),
            };
        }
        let prefix = self.id_prefix.clone();
        let market = self.markets.entry(request.ticker.clone()).or_default();
        let fees = market.fees.unwrap_or_else(FeeSchedule::quadratic);
        let take_side = request.side.opposite();
        // Levels we would cross, best first, with what is left of them.
        let crossing: Vec<(Price, Count)> = match request.side {
            OrderSide::Bid => market
                .asks
                .keys()
                .copied()
                .take_while(|p| *p <= request.price)
                .map(|p| (p, market.visible(take_side, p)))
                .collect(),
            OrderSide::Ask => market
                .bids
                .keys()
                .rev()
                .copied()
                .take_while(|p| *p >= request.price)
                .map(|p| (p, market.visible(take_side, p)))
                .collect(),
        };
        let available = crossing
            .iter()
            .fold(Count::ZERO, |sum, (_, size)| sum.saturating_add(*size));
        if request.post_only && available.is_positive() {
            self.stats.rejects += 1;
            return PlaceOutcome::Rejected {
                code: "post_only_cross",
                details: format!("post-only {} would cross", request.price),
            };
        }
        if request.time_in_force == TimeInForce::FillOrKill && available < request.count {
            self.stats.rejects += 1;
            return PlaceOutcome::Rejected {
                code: "fill_or_kill_insufficient_resting_volume",
                details: format!("{} available of {}", available, request.count),
            };
        }
        self.next_order += 1;
        let order_id = OrderId::new(&format!("{prefix}-o{}", self.next_order));
        let mut fills = Vec::new();
        let mut left = request.count;
        for (price, size) in crossing {
            if !left.is_positive() {
                break;
            }
            let take = size.min(left);
            if !take.is_positive() {
                continue;
            }
            left = left.saturating_sub(take);
            let taken = match take_side {
                OrderSide::Bid => &mut market.taken_bids,
                OrderSide::Ask => &mut market.taken_asks,
            };
            let entry = taken.entry(price).or_insert(Count::ZERO);
            *entry = entry.saturating_add(take);
            self.next_trade += 1;
            fills.push(ModelFill {
                trade_id: TradeId::new(&format!("{prefix}-t{}", self.next_trade)),
                order_id: order_id.clone(),
                client_order_id: request.client_order_id.clone(),
                ticker: request.ticker.clone(),
                side: request.side,
                yes_price: price,
                count: take,
                is_taker: true,
                fee_cost: fees.trade_fee(Liquidity::Taker, price, take),
                ts_ms,
            });
        }
        self.stats.taker_fills += fills.len() as u64;
        let rests = request.time_in_force == TimeInForce::GoodTillCanceled && left.is_positive();
        if rests {
            let queue_ahead = market.visible(request.side, request.price);
            market.resting.push(RestingOrder {
                order_id: order_id.clone(),
                client_order_id: request.client_order_id.clone(),
                side: request.side,
                price: request.price,
                remaining: left,
                queue_ahead,
                credit: Count::ZERO,
            });
        }
        PlaceOutcome::Accepted {
            order_id,
            fills,
            remaining: if rests { left } else { Count::ZERO },
        }
    }

    /// Cancel a resting order; returns what was left of it.
    pub fn cancel(&mut self, ticker: &str, client_order_id: &ClientOrderId) -> Option<Count> {
        let market = self.markets.get_mut(ticker)?;
        let index = market
            .resting
            .iter()
            .position(|o| &o.client_order_id == client_order_id)?;
        Some(market.resting.remove(index).remaining)
    }

    /// Move a resting order to a new price and remaining size: like Kalshi's amend it loses its
    /// queue place (it is cancelled and placed again, and may take); a refused amend (a
    /// post-only order that would cross) leaves the original order where it was.
    pub fn amend(&mut self, request: &OrderRequest, ts_ms: i64) -> Option<PlaceOutcome> {
        let market = self.markets.get_mut(request.ticker.as_str())?;
        let index = market
            .resting
            .iter()
            .position(|o| o.client_order_id == request.client_order_id)?;
        let original = market.resting.remove(index);
        let outcome = self.place(request, ts_ms);
        if let PlaceOutcome::Rejected { .. } = outcome
            && let Some(market) = self.markets.get_mut(request.ticker.as_str())
        {
            let at = index.min(market.resting.len());
            market.resting.insert(at, original);
        }
        Some(outcome)
    }

    /// Shrink a resting order in place (it keeps its queue position).
    pub fn decrease(
        &mut self,
        ticker: &str,
        client_order_id: &ClientOrderId,
        reduce_to: Count,
    ) -> Option<Count> {
        let market = self.markets.get_mut(ticker)?;
        let order = market
            .resting
            .iter_mut()
            .find(|o| &o.client_order_id == client_order_id)?;
        order.remaining = order.remaining.min(reduce_to.max(Count::ZERO));
        let remaining = order.remaining;
        market.resting.retain(|o| o.remaining.is_positive());
        Some(remaining)
    }

    /// Cancel every resting order; returns (ticker, client order id, remaining) of each.
    pub fn cancel_all(&mut self) -> Vec<(Ticker, ClientOrderId, Count)> {
        let mut cancelled = Vec::new();
        let mut tickers: Vec<&Ticker> = self.markets.keys().collect();
        tickers.sort();
        let tickers: Vec<Ticker> = tickers.into_iter().cloned().collect();
        for ticker in tickers {
            if let Some(market) = self.markets.get_mut(&ticker) {
                for order in market.resting.drain(..) {
                    cancelled.push((ticker.clone(), order.client_order_id, order.remaining));
                }
            }
        }
        cancelled
    }
}

fn yes_price_of_no(price: Price, convention: PriceConvention) -> Price {
    match convention {
        PriceConvention::NoPrices => price.complement(),
        PriceConvention::YesPrices => price,
    }
}

#[cfg(test)]
mod tests;
