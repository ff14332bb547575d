//! Market identity, lifecycle status and the price grid.
//!
//! The grid: every market publishes `price_ranges: [{start, end, step}]` (dollar strings); the
//! valid prices are `start, start+step, …, end` of each range. [`PriceGrid`] is built from those
//! ranges (validated: ordered, contiguous, each step dividing its range, all within 0..=1) and
//! answers: is a price on the grid, snap a bid down / an ask up, next tick up/down, tick index ↔
//! price (dense, so books can index levels by tick), iterate ticks. Prices 0 and 1 may be grid
//! points but are never tradeable ([`PriceGrid::is_tradeable`]).
//!
//! `price_level_structure` is only a label; [`PriceGrid::from_structure`] builds the known label
//! families for the simulator's catalogue, but a market's `price_ranges` is the source of truth.

use std::fmt;
use std::sync::Arc;

use crate::core::num::{MICROS, NumError, Price};

/// A market ticker (`KXFEDDECISION-26DEC-H25`). Cheap to clone: books, orders and screens all
/// key on it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Ticker(Arc<str>);

impl Ticker {
    pub fn new(text: &str) -> Ticker {
        Ticker(Arc::from(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Ticker {
    fn from(text: &str) -> Ticker {
        Ticker::new(text)
    }
}

impl From<String> for Ticker {
    fn from(text: String) -> Ticker {
        Ticker(Arc::from(text))
    }
}

impl std::borrow::Borrow<str> for Ticker {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

/// A market's lifecycle status as Kalshi's `Market.status` reports it. (The `GET /markets`
/// `status` *filter* uses a different vocabulary: `unopened|open|paused|closed|settled`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketStatus {
    Initialized,
    Inactive,
    Active,
    Closed,
    Determined,
    Disputed,
    Amended,
    Finalized,
}

impl MarketStatus {
    pub const ALL: [MarketStatus; 8] = [
        MarketStatus::Initialized,
        MarketStatus::Inactive,
        MarketStatus::Active,
        MarketStatus::Closed,
        MarketStatus::Determined,
        MarketStatus::Disputed,
        MarketStatus::Amended,
        MarketStatus::Finalized,
    ];

    /// The spec's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            MarketStatus::Initialized => "initialized",
            MarketStatus::Inactive => "inactive",
            MarketStatus::Active => "active",
            MarketStatus::Closed => "closed",
            MarketStatus::Determined => "determined",
            MarketStatus::Disputed => "disputed",
            MarketStatus::Amended => "amended",
            MarketStatus::Finalized => "finalized",
        }
    }

    pub fn parse(text: &str) -> Option<MarketStatus> {
        MarketStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Orders may be placed and matched only while the market is active.
    pub const fn accepts_orders(self) -> bool {
        matches!(self, MarketStatus::Active)
    }

    /// The outcome is known (possibly still under dispute or amendment).
    pub const fn is_determined(self) -> bool {
        matches!(
            self,
            MarketStatus::Determined
                | MarketStatus::Disputed
                | MarketStatus::Amended
                | MarketStatus::Finalized
        )
    }

    /// The filter word `GET /markets?status=` most plausibly matches for this status. The spec
    /// lists both vocabularies but not the mapping; `determined`/`disputed` count as `closed`
    /// (not yet paid out) and `amended`/`finalized` as `settled`.
    pub const fn filter_word(self) -> &'static str {
        match self {
            MarketStatus::Initialized => "unopened",
            MarketStatus::Inactive => "paused",
            MarketStatus::Active => "open",
            MarketStatus::Closed | MarketStatus::Determined | MarketStatus::Disputed => "closed",
            MarketStatus::Amended | MarketStatus::Finalized => "settled",
        }
    }
}

impl fmt::Display for MarketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `price_ranges` entry as Kalshi sends it (`{"start":"0.0000","end":"1.0000","step":"0.0100"}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PriceRange {
    pub start: Price,
    pub end: Price,
    pub step: Price,
}

impl PriceRange {
    /// From dollar strings, as they appear on the wire.
    pub fn parse(start: &str, end: &str, step: &str) -> Result<PriceRange, GridError> {
        let field = |name: &'static str, text: &str| {
            Price::parse(text).map_err(|source| GridError::BadNumber {
                field: name,
                source,
            })
        };
        Ok(PriceRange {
            start: field("start", start)?,
            end: field("end", end)?,
            step: field("step", step)?,
        })
    }
}

/// Why a set of `price_ranges` does not form a grid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GridError {
    #[error("price_ranges is empty")]
    Empty,
    #[error("price_ranges {field} is not a price: {source}")]
    BadNumber {
        field: &'static str,
        source: NumError,
    },
    #[error("price range {index} has step {step}, which must be positive")]
    ZeroStep { index: usize, step: Price },
    #[error("price range {index} runs backwards or is empty: start {start} >= end {end}")]
    NotIncreasing {
        index: usize,
        start: Price,
        end: Price,
    },
    #[error("price range {index}: step {step} does not divide {start}..{end}")]
    StepDoesNotDivide {
        index: usize,
        start: Price,
        end: Price,
        step: Price,
    },
    #[error("price range {index} starts at {start} but the previous range ends at {previous_end}")]
    NotContiguous {
        index: usize,
        start: Price,
        previous_end: Price,
    },
    #[error("unknown price_level_structure {0:?}")]
    UnknownStructure(String),
}

/// One validated band of the grid, in micro-dollars. `first_tick` is the tick index of `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Band {
    start: i64,
    end: i64,
    step: i64,
    first_tick: usize,
}

impl Band {
    /// Ticks strictly after `start` up to and including `end`.
    fn steps(&self) -> usize {
        ((self.end - self.start) / self.step) as usize
    }
}

/// A market's valid prices. Cheap to query (a handful of bands); clone is a small Vec copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceGrid {
    bands: Vec<Band>,
    tick_count: usize,
}

/// Step sizes named in the `center_{c}_edge_{e}_cent` labels.
fn named_step(word: &str) -> Option<i64> {
    Some(match word {
        "whole" => 10_000,
        "half" => 5_000,
        "quint" => 2_000,
        "deci" => 1_000,
        "centi" => 100,
        _ => return None,
    })
}

impl PriceGrid {
    /// Build and validate a grid from `price_ranges`.
    pub fn from_ranges(ranges: &[PriceRange]) -> Result<PriceGrid, GridError> {
        if ranges.is_empty() {
            return Err(GridError::Empty);
        }
        let mut bands = Vec::with_capacity(ranges.len());
        let mut next_tick = 0usize;
        for (index, range) in ranges.iter().enumerate() {
            let (start, end, step) = (
                range.start.micros(),
                range.end.micros(),
                range.step.micros(),
            );
            if step <= 0 {
                return Err(GridError::ZeroStep {
                    index,
                    step: range.step,
                });
            }
            if start >= end {
                return Err(GridError::NotIncreasing {
                    index,
                    start: range.start,
                    end: range.end,
                });
            }
            if (end - start) % step != 0 {
                return Err(GridError::StepDoesNotDivide {
                    index,
                    start: range.start,
                    end: range.end,
                    step: range.step,
                });
            }
            if let Some(previous) = bands.last() {
                let previous: &Band = previous;
                if previous.end != start {
                    return Err(GridError::NotContiguous {
                        index,
                        start: range.start,
                        previous_end: Price::from_micros(previous.end).unwrap_or(Price::ONE),
                    });
                }
            }
            // The shared boundary of two bands is one tick: it belongs to the earlier band.
            let first_tick = if bands.is_empty() { 0 } else { next_tick - 1 };
            let band = Band {
                start,
                end,
                step,
                first_tick,
            };
            next_tick = first_tick + band.steps() + 1;
            bands.push(band);
        }
        Ok(PriceGrid {
            bands,
            tick_count: next_tick,
        })
    }

    /// Parse wire `price_ranges` given as `(start, end, step)` dollar strings.
    pub fn parse_ranges<'a>(
        ranges: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Result<PriceGrid, GridError> {
        let parsed = ranges
            .into_iter()
            .map(|(start, end, step)| PriceRange::parse(start, end, step))
            .collect::<Result<Vec<_>, _>>()?;
        PriceGrid::from_ranges(&parsed)
    }

    fn band_micros(bands: &[(i64, i64, i64)]) -> PriceGrid {
        let ranges: Vec<PriceRange> = bands
            .iter()
            .map(|&(start, end, step)| PriceRange {
                start: Price::from_micros(start).unwrap_or(Price::ZERO),
                end: Price::from_micros(end).unwrap_or(Price::ONE),
                step: Price::from_micros(step).unwrap_or(Price::ZERO),
            })
            .collect();
        // The built-in families are valid by construction; fall back to cents if one ever is not.
        PriceGrid::from_ranges(&ranges).unwrap_or_else(|_| PriceGrid::linear_cent())
    }

    /// `linear_cent`: 0..1 by $0.01.
    pub fn linear_cent() -> PriceGrid {
        PriceGrid {
            bands: vec![Band {
                start: 0,
                end: MICROS,
                step: 10_000,
                first_tick: 0,
            }],
            tick_count: 101,
        }
    }

    /// `deci_cent`: 0..1 by $0.001.
    pub fn deci_cent() -> PriceGrid {
        PriceGrid::band_micros(&[(0, MICROS, 1_000)])
    }

    /// `tapered_deci_cent`: $0.001 below 0.10 and above 0.90, $0.01 between.
    pub fn tapered_deci_cent() -> PriceGrid {
        PriceGrid::band_micros(&[
            (0, 100_000, 1_000),
            (100_000, 900_000, 10_000),
            (900_000, MICROS, 1_000),
        ])
    }

    /// `center_{c}_edge_{e}_cent`: step `edge` below 0.01 and above 0.99, `center` between
    /// (the edge width is that of `center_deci_edge_centi_cent`, the one member Kalshi documents).
    pub fn center_edge(center_micros: i64, edge_micros: i64) -> Result<PriceGrid, GridError> {
        let step = |micros: i64| Price::from_micros(micros).unwrap_or(Price::ZERO);
        let at = |micros: i64| Price::from_micros(micros).unwrap_or(Price::ZERO);
        PriceGrid::from_ranges(&[
            PriceRange {
                start: at(0),
                end: at(10_000),
                step: step(edge_micros),
            },
            PriceRange {
                start: at(10_000),
                end: at(990_000),
                step: step(center_micros),
            },
            PriceRange {
                start: at(990_000),
                end: at(MICROS),
                step: step(edge_micros),
            },
        ])
    }

    /// The grid a `price_level_structure` label names.
    pub fn from_structure(label: &str) -> Result<PriceGrid, GridError> {
        let unknown = || GridError::UnknownStructure(label.to_string());
        match label {
            "linear_cent" => Ok(PriceGrid::linear_cent()),
            "deci_cent" => Ok(PriceGrid::deci_cent()),
            "tapered_deci_cent" => Ok(PriceGrid::tapered_deci_cent()),
            _ => {
                let rest = label.strip_prefix("center_").ok_or_else(unknown)?;
                let rest = rest.strip_suffix("_cent").ok_or_else(unknown)?;
                let (center, edge) = rest.split_once("_edge_").ok_or_else(unknown)?;
                let center = named_step(center).ok_or_else(unknown)?;
                let edge = named_step(edge).ok_or_else(unknown)?;
                PriceGrid::center_edge(center, edge)
            }
        }
    }

    /// The ranges back in wire form.
    pub fn ranges(&self) -> Vec<PriceRange> {
        self.bands
            .iter()
            .map(|b| PriceRange {
                start: Price::from_micros(b.start).unwrap_or(Price::ZERO),
                end: Price::from_micros(b.end).unwrap_or(Price::ONE),
                step: Price::from_micros(b.step).unwrap_or(Price::ZERO),
            })
            .collect()
    }

    /// Lowest and highest grid price.
    pub fn min_price(&self) -> Price {
        self.price_at(0).unwrap_or(Price::ZERO)
    }

    pub fn max_price(&self) -> Price {
        self.price_at(self.tick_count - 1).unwrap_or(Price::ONE)
    }

    /// The finest step anywhere on the grid.
    pub fn finest_step(&self) -> Price {
        let micros = self.bands.iter().map(|b| b.step).min().unwrap_or(10_000);
        Price::from_micros(micros).unwrap_or(Price::ZERO)
    }

    /// How many grid prices there are (including 0 and 1 when the grid reaches them).
    pub fn tick_count(&self) -> usize {
        self.tick_count
    }

    /// The band holding `micros` (the earlier one on a shared boundary).
    fn band_of(&self, micros: i64) -> Option<&Band> {
        self.bands
            .iter()
            .find(|b| micros >= b.start && micros <= b.end)
    }

    pub fn is_on_grid(&self, price: Price) -> bool {
        let micros = price.micros();
        self.band_of(micros)
            .is_some_and(|b| (micros - b.start) % b.step == 0)
    }

    /// On the grid and strictly between 0 and 1: a price an order may carry.
    pub fn is_tradeable(&self, price: Price) -> bool {
        price > Price::ZERO && price < Price::ONE && self.is_on_grid(price)
    }

    /// Dense index of a grid price (0 = lowest); `None` off the grid.
    pub fn tick_index(&self, price: Price) -> Option<usize> {
        let micros = price.micros();
        let band = self.band_of(micros)?;
        let offset = micros - band.start;
        (offset % band.step == 0).then(|| band.first_tick + (offset / band.step) as usize)
    }

    /// The grid price at a dense index.
    pub fn price_at(&self, index: usize) -> Option<Price> {
        let band = self
            .bands
            .iter()
            .find(|b| index >= b.first_tick && index <= b.first_tick + b.steps())?;
        let micros = band.start + (index - band.first_tick) as i64 * band.step;
        Price::from_micros(micros)
    }

    /// Highest grid price `<= price` (where a bid goes); `None` below the grid.
    pub fn snap_down(&self, price: Price) -> Option<Price> {
        let micros = price.micros();
        let last = self.bands.last()?;
        if micros > last.end {
            return Price::from_micros(last.end);
        }
        let band = self.band_of(micros)?;
        Price::from_micros(band.start + (micros - band.start) / band.step * band.step)
    }

    /// Lowest grid price `>= price` (where an ask goes); `None` above the grid.
    pub fn snap_up(&self, price: Price) -> Option<Price> {
        let micros = price.micros();
        let first = self.bands.first()?;
        if micros < first.start {
            return Price::from_micros(first.start);
        }
        let band = self.band_of(micros)?;
        let offset = micros - band.start;
        let steps = offset / band.step + i64::from(offset % band.step != 0);
        Price::from_micros(band.start + steps * band.step)
    }

    /// Snap to the side's conservative grid price: bids down, asks up. (`is_bid` = YES bid.)
    pub fn snap(&self, price: Price, is_bid: bool) -> Option<Price> {
        if is_bid {
            self.snap_down(price)
        } else {
            self.snap_up(price)
        }
    }

    /// The next grid price strictly above `price`.
    pub fn next_tick_up(&self, price: Price) -> Option<Price> {
        match self.tick_index(price) {
            Some(index) => self.price_at(index + 1),
            None => self.snap_up(price),
        }
    }

    /// The next grid price strictly below `price`.
    pub fn next_tick_down(&self, price: Price) -> Option<Price> {
        match self.tick_index(price) {
            Some(index) => index.checked_sub(1).and_then(|i| self.price_at(i)),
            None => self.snap_down(price),
        }
    }

    /// Every grid price, ascending.
    pub fn ticks(&self) -> impl Iterator<Item = Price> + '_ {
        (0..self.tick_count).filter_map(|index| self.price_at(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(text: &str) -> Price {
        Price::parse(text).unwrap()
    }

    fn families() -> Vec<(&'static str, PriceGrid)> {
        let mut all = vec![
            ("linear_cent", PriceGrid::linear_cent()),
            ("deci_cent", PriceGrid::deci_cent()),
            ("tapered_deci_cent", PriceGrid::tapered_deci_cent()),
        ];
        for label in [
            "center_deci_edge_centi_cent",
            "center_whole_edge_deci_cent",
            "center_half_edge_quint_cent",
            "center_whole_edge_half_cent",
            "center_quint_edge_centi_cent",
        ] {
            all.push((label, PriceGrid::from_structure(label).unwrap()));
        }
        all
    }

    #[test]
    fn linear_cent_from_wire_ranges() {
        let grid = PriceGrid::parse_ranges([("0.0000", "1.0000", "0.0100")]).unwrap();
        assert_eq!(grid, PriceGrid::linear_cent());
        assert_eq!(grid.tick_count(), 101);
        assert!(grid.is_on_grid(p("0.56")));
        assert!(!grid.is_on_grid(p("0.565")));
        assert_eq!(grid.snap_down(p("0.565")), Some(p("0.56")));
        assert_eq!(grid.snap_up(p("0.561")), Some(p("0.57")));
        assert_eq!(grid.next_tick_up(p("0.99")), Some(Price::ONE));
        assert_eq!(grid.next_tick_up(Price::ONE), None);
        assert_eq!(grid.next_tick_down(Price::ZERO), None);
        assert!(!grid.is_tradeable(Price::ZERO) && !grid.is_tradeable(Price::ONE));
        assert!(grid.is_tradeable(p("0.01")));
        assert_eq!(grid.finest_step(), p("0.01"));
    }

    #[test]
    fn deci_cent_grid() {
        let grid = PriceGrid::from_structure("deci_cent").unwrap();
        assert_eq!(grid.tick_count(), 1001);
        assert!(grid.is_on_grid(p("0.565")));
        assert!(!grid.is_on_grid(p("0.5655")));
        assert_eq!(grid.snap_down(p("0.5659")), Some(p("0.565")));
        assert_eq!(grid.snap_up(p("0.5651")), Some(p("0.566")));
        assert_eq!(
            grid,
            PriceGrid::parse_ranges([("0.0000", "1.0000", "0.0010")]).unwrap()
        );
    }

    #[test]
    fn tapered_deci_cent_grid() {
        let grid = PriceGrid::parse_ranges([
            ("0.0000", "0.1000", "0.0010"),
            ("0.1000", "0.9000", "0.0100"),
            ("0.9000", "1.0000", "0.0010"),
        ])
        .unwrap();
        assert_eq!(
            grid,
            PriceGrid::from_structure("tapered_deci_cent").unwrap()
        );
        assert_eq!(grid.tick_count(), 100 + 80 + 100 + 1);
        assert!(grid.is_on_grid(p("0.055")));
        assert!(!grid.is_on_grid(p("0.555")));
        assert!(grid.is_on_grid(p("0.955")));
        assert_eq!(grid.snap_down(p("0.555")), Some(p("0.55")));
        assert_eq!(grid.snap_up(p("0.555")), Some(p("0.56")));
        assert_eq!(grid.snap_up(p("0.0995")), Some(p("0.10")));
        assert_eq!(grid.snap_down(p("0.105")), Some(p("0.10")));
        assert_eq!(grid.next_tick_up(p("0.099")), Some(p("0.10")));
        assert_eq!(grid.next_tick_up(p("0.10")), Some(p("0.11")));
        assert_eq!(grid.next_tick_down(p("0.10")), Some(p("0.099")));
        assert_eq!(grid.next_tick_up(p("0.89")), Some(p("0.90")));
        assert_eq!(grid.next_tick_up(p("0.90")), Some(p("0.901")));
        assert_eq!(grid.next_tick_down(p("0.901")), Some(p("0.90")));
        assert_eq!(grid.tick_index(p("0.10")), Some(100));
        assert_eq!(grid.tick_index(p("0.11")), Some(101));
        assert_eq!(grid.price_at(180), Some(p("0.90")));
        assert_eq!(grid.price_at(181), Some(p("0.901")));
        assert_eq!(grid.finest_step(), p("0.001"));
    }

    #[test]
    fn center_edge_family() {
        let combo = PriceGrid::from_structure("center_deci_edge_centi_cent").unwrap();
        assert_eq!(
            combo,
            PriceGrid::parse_ranges([
                ("0.0000", "0.0100", "0.0001"),
                ("0.0100", "0.9900", "0.0010"),
                ("0.9900", "1.0000", "0.0001"),
            ])
            .unwrap()
        );
        assert!(combo.is_on_grid(p("0.0037")));
        assert!(!combo.is_on_grid(p("0.5037")));
        assert!(combo.is_on_grid(p("0.503")));
        assert!(combo.is_on_grid(p("0.9963")));
        assert_eq!(combo.snap_up(p("0.5031")), Some(p("0.504")));
        assert_eq!(combo.tick_count(), 100 + 980 + 100 + 1);

        let half = PriceGrid::from_structure("center_half_edge_quint_cent").unwrap();
        assert!(half.is_on_grid(p("0.505")));
        assert!(!half.is_on_grid(p("0.502")));
        assert!(half.is_on_grid(p("0.004")));
        assert!(!half.is_on_grid(p("0.005")));
        assert_eq!(half.snap_down(p("0.5049")), Some(p("0.50")));

        for bad in [
            "center_tenth_edge_centi_cent",
            "center_deci_centi_cent",
            "cents",
            "",
        ] {
            assert!(
                matches!(
                    PriceGrid::from_structure(bad),
                    Err(GridError::UnknownStructure(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn whole_cents_are_valid_on_every_family() {
        for (label, grid) in families() {
            for cents in 1..=99 {
                let price = Price::from_cents(cents).unwrap();
                assert!(grid.is_tradeable(price), "{label} {price}");
            }
        }
    }

    #[test]
    fn construction_refuses_bad_ranges() {
        assert_eq!(PriceGrid::from_ranges(&[]), Err(GridError::Empty));
        assert!(matches!(
            PriceGrid::parse_ranges([("0.0000", "1.0000", "0.0000")]),
            Err(GridError::ZeroStep { index: 0, .. })
        ));
        assert!(matches!(
            PriceGrid::parse_ranges([("0.5000", "0.5000", "0.0100")]),
            Err(GridError::NotIncreasing { .. })
        ));
        assert!(matches!(
            PriceGrid::parse_ranges([("0.9000", "0.1000", "0.0100")]),
            Err(GridError::NotIncreasing { .. })
        ));
        assert!(matches!(
            PriceGrid::parse_ranges([("0.0000", "1.0000", "0.0300")]),
            Err(GridError::StepDoesNotDivide { .. })
        ));
        assert!(matches!(
            PriceGrid::parse_ranges([
                ("0.0000", "0.1000", "0.0010"),
                ("0.2000", "1.0000", "0.0100")
            ]),
            Err(GridError::NotContiguous { index: 1, .. })
        ));
        assert!(matches!(
            PriceGrid::parse_ranges([
                ("0.1000", "1.0000", "0.0100"),
                ("0.0000", "0.1000", "0.0010")
            ]),
            Err(GridError::NotContiguous { index: 1, .. })
        ));
        assert!(matches!(
            PriceGrid::parse_ranges([("0.0000", "1.5000", "0.0100")]),
            Err(GridError::BadNumber { field: "end", .. })
        ));
        assert!(matches!(
            PriceGrid::parse_ranges([("-0.1", "1.0000", "0.0100")]),
            Err(GridError::BadNumber { field: "start", .. })
        ));
        assert!(matches!(
            PriceGrid::parse_ranges([("0.0000", "1.0000", "abc")]),
            Err(GridError::BadNumber { field: "step", .. })
        ));
        let message = PriceGrid::parse_ranges([("0.0000", "1.0000", "0.0300")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("0.0300"), "{message}");
    }

    #[test]
    fn a_grid_need_not_reach_zero_or_one() {
        let grid = PriceGrid::parse_ranges([("0.0100", "0.9900", "0.0100")]).unwrap();
        assert_eq!(grid.min_price(), p("0.01"));
        assert_eq!(grid.max_price(), p("0.99"));
        assert_eq!(grid.snap_down(p("0.005")), None);
        assert_eq!(grid.snap_up(p("0.005")), Some(p("0.01")));
        assert_eq!(grid.snap_up(p("0.995")), None);
        assert_eq!(grid.snap_down(p("0.995")), Some(p("0.99")));
        assert_eq!(grid.next_tick_up(p("0.995")), None);
        assert_eq!(grid.next_tick_down(p("0.005")), None);
    }

    #[test]
    fn iteration_and_index_round_trip_on_every_family() {
        for (label, grid) in families() {
            let ticks: Vec<Price> = grid.ticks().collect();
            assert_eq!(ticks.len(), grid.tick_count(), "{label}");
            assert!(ticks.windows(2).all(|w| w[0] < w[1]), "{label}");
            for (index, price) in ticks.iter().enumerate() {
                assert_eq!(grid.tick_index(*price), Some(index), "{label}");
                assert!(grid.is_on_grid(*price));
            }
            assert_eq!(PriceGrid::from_ranges(&grid.ranges()).unwrap(), grid);
            let wire = serde_json::to_string(&grid.ranges()).unwrap();
            let back: Vec<PriceRange> = serde_json::from_str(&wire).unwrap();
            assert_eq!(PriceGrid::from_ranges(&back).unwrap(), grid);
        }
    }

    #[test]
    fn status_spellings_round_trip() {
        for status in MarketStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(MarketStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::from_str::<MarketStatus>(&json).unwrap(), status);
        }
        assert_eq!(MarketStatus::parse("open"), None);
        assert!(MarketStatus::Active.accepts_orders());
        assert!(!MarketStatus::Closed.accepts_orders());
        assert!(MarketStatus::Finalized.is_determined());
    }

    proptest! {
        #[test]
        fn snapping_lands_on_the_grid_and_brackets_the_price(
            family in 0usize..8,
            micros in 0i64..=MICROS,
        ) {
            let (label, grid) = families().swap_remove(family);
            let price = Price::from_micros(micros).unwrap();
            let down = grid.snap_down(price).unwrap();
            let up = grid.snap_up(price).unwrap();
            prop_assert!(grid.is_on_grid(down), "{} {:?}", label, down);
            prop_assert!(grid.is_on_grid(up), "{} {:?}", label, up);
            prop_assert!(down <= price && price <= up);
            prop_assert_eq!(grid.snap_down(down), Some(down));
            prop_assert_eq!(grid.snap_up(up), Some(up));
            // No grid price lies strictly between the snaps.
            if down != up {
                prop_assert_eq!(grid.next_tick_up(down), Some(up));
                prop_assert_eq!(grid.next_tick_down(up), Some(down));
            } else {
                prop_assert!(grid.is_on_grid(price));
            }
            prop_assert_eq!(grid.is_on_grid(price), down == up);
            if let Some(next) = grid.next_tick_up(price) {
                prop_assert!(next > price && grid.is_on_grid(next));
            }
            if let Some(previous) = grid.next_tick_down(price) {
                prop_assert!(previous < price && grid.is_on_grid(previous));
            }
        }
    }
}
