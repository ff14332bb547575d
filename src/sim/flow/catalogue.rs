//! The simulator's listings: series, events and markets with titles, rules, strikes, grids, fee
//! types and schedules relative to a start time, plus the hidden model each market is priced
//! from (which underlying, which range of it pays YES).
//!
//! Markets that share an underlying share one [`Belief`]: a Fed meeting's mutually exclusive
//! brackets sum to one, a CPI strike ladder is monotone, a game's winner and spread markets move
//! together. Each market's scheduled result is fixed by the underlying's drawn truth, so the
//! exchange determines every market consistently with the prices that traded.

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::core::market::{PriceGrid, Ticker};
use crate::sim::exchange::types::{
    EventSpec, FeeMultiplier, FeeType, MarketResult, MarketSpec, SeriesSpec,
};

use super::belief::{Belief, NewsItem, standard_normal};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Everything the exchange loads to list the flow's markets.
#[derive(Clone, Debug, PartialEq)]
pub struct Catalogue {
    pub series: Vec<SeriesSpec>,
    pub events: Vec<EventSpec>,
    pub markets: Vec<MarketSpec>,
}

/// A hidden quantity some markets settle on.
#[derive(Clone, Debug)]
pub struct Underlying {
    pub name: String,
    pub belief: Belief,
}

/// How one market is priced: YES pays when `lo < X ≤ hi` for its underlying X.
#[derive(Clone, Debug)]
pub struct MarketModel {
    pub ticker: Ticker,
    pub underlying: usize,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub grid: PriceGrid,
    pub fractional: bool,
    /// Relative trading intensity (noise-taker arrival rate multiplier).
    pub activity: f64,
}

/// The catalogue and its hidden models, built together from one seed.
#[derive(Clone, Debug)]
pub struct Listing {
    pub catalogue: Catalogue,
    pub underlyings: Vec<Underlying>,
    pub markets: Vec<MarketModel>,
}

/// One market of an event, before it becomes a spec.
struct Leg {
    suffix: String,
    yes_sub_title: String,
    lo: Option<f64>,
    hi: Option<f64>,
    strike_type: &'static str,
}

impl Leg {
    fn new(
        suffix: impl Into<String>,
        yes: impl Into<String>,
        lo: Option<f64>,
        hi: Option<f64>,
    ) -> Leg {
        let strike_type = match (lo, hi) {
            (Some(_), Some(_)) => "between",
            (Some(_), None) => "greater",
            (None, Some(_)) => "less",
            (None, None) => "custom",
        };
        Leg {
            suffix: suffix.into(),
            yes_sub_title: yes.into(),
            lo,
            hi,
            strike_type,
        }
    }
}

/// One event to list.
struct EventPlan<'a> {
    series: &'a str,
    event_ticker: String,
    title: String,
    sub_title: String,
    mutually_exclusive: bool,
    underlying: usize,
    legs: Vec<Leg>,
    open_ms: i64,
    close_ms: i64,
    grid_label: &'static str,
    /// Legs (by index) that use a finer grid than the event's.
    fine_grid_legs: Vec<(usize, &'static str)>,
    fractional: bool,
    activity: f64,
    /// Rules text: "{yes_sub_title}" is replaced per market.
    rules: String,
    unit: &'static str,
}

struct Builder<'l> {
    /// The flow's start: names (months, days) count from it so they never repeat.
    start_ms: i64,
    /// When the instance being built is listed: its belief starts here.
    listed_ms: i64,
    listing: &'l mut Listing,
}

impl Builder<'_> {
    fn series(
        &mut self,
        ticker: &str,
        title: &str,
        category: &str,
        frequency: &str,
        fee_type: FeeType,
        tags: &[&str],
    ) {
        self.listing.catalogue.series.push(SeriesSpec {
            ticker: ticker.to_string(),
            title: title.to_string(),
            category: category.to_string(),
            frequency: frequency.to_string(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            fee_type,
            fee_multiplier: FeeMultiplier::ONE,
            contract_url: format!("https://sim.kalshi-desk.local/series/{ticker}"),
            contract_terms_url: format!("https://sim.kalshi-desk.local/series/{ticker}/terms.pdf"),
        });
    }

    fn underlying(
        &mut self,
        rng: &mut impl Rng,
        name: &str,
        prior_mean: f64,
        prior_sd: f64,
        resolve_ms: i64,
        news: Vec<NewsItem>,
    ) -> usize {
        let truth = prior_mean + prior_sd * standard_normal(rng);
        let belief = Belief::new(
            truth,
            prior_mean,
            prior_sd,
            self.listed_ms,
            resolve_ms,
            news,
        );
        self.listing.underlyings.push(Underlying {
            name: name.to_string(),
            belief,
        });
        self.listing.underlyings.len() - 1
    }

    fn event(&mut self, plan: EventPlan<'_>) {
        let truth = self.listing.underlyings[plan.underlying].belief.truth();
        self.listing.catalogue.events.push(EventSpec {
            event_ticker: plan.event_ticker.clone(),
            series_ticker: plan.series.to_string(),
            title: plan.title.clone(),
            sub_title: plan.sub_title.clone(),
            mutually_exclusive: plan.mutually_exclusive,
            strike_date_ms: Some(plan.close_ms),
            fee_type_override: None,
            fee_multiplier_override: None,
        });
        for (index, leg) in plan.legs.into_iter().enumerate() {
            let label = plan
                .fine_grid_legs
                .iter()
                .find(|(i, _)| *i == index)
                .map_or(plan.grid_label, |(_, label)| *label);
            let grid =
                PriceGrid::from_structure(label).unwrap_or_else(|_| PriceGrid::linear_cent());
            let ticker = format!("{}-{}", plan.event_ticker, leg.suffix);
            let pays = leg.lo.is_none_or(|lo| truth > lo) && leg.hi.is_none_or(|hi| truth <= hi);
            let no_sub_title = format!("Not {}", leg.yes_sub_title);
            let rules_primary = plan.rules.replace("{yes_sub_title}", &leg.yes_sub_title);
            self.listing.catalogue.markets.push(MarketSpec {
                ticker: ticker.clone(),
                event_ticker: plan.event_ticker.clone(),
                title: plan.title.clone(),
                yes_sub_title: leg.yes_sub_title.clone(),
                no_sub_title,
                rules_primary,
                rules_secondary: format!(
                    "Simulated market: the outcome is drawn by the simulator's flow model; {} values are synthetic.",
                    plan.unit
                ),
                market_type: "binary".to_string(),
                strike_type: Some(leg.strike_type.to_string()),
                floor_strike: leg.lo,
                cap_strike: leg.hi,
                price_level_structure: label.to_string(),
                price_ranges: grid.ranges(),
                created_ms: self.listed_ms.min(plan.open_ms),
                open_ms: plan.open_ms,
                close_ms: plan.close_ms,
                expected_expiration_ms: plan.close_ms + MINUTE,
                latest_expiration_ms: plan.close_ms + 7 * DAY,
                settlement_timer_seconds: 60,
                can_close_early: false,
                fractional_trading_enabled: plan.fractional,
                scheduled_result: Some(if pays { MarketResult::Yes } else { MarketResult::No }),
            });
            self.listing.markets.push(MarketModel {
                ticker: Ticker::from(ticker),
                underlying: plan.underlying,
                lo: leg.lo,
                hi: leg.hi,
                grid,
                fractional: plan.fractional,
                activity: plan.activity,
            });
        }
    }
}

/// Random minor news for an underlying: about one item per `every_ms`, each keeping 65–95% of
/// the variance, plus the named scheduled items.
fn news_schedule(
    rng: &mut impl Rng,
    start_ms: i64,
    resolve_ms: i64,
    every_ms: i64,
    headline: &str,
    scheduled: &[(i64, &str, f64)],
) -> Vec<NewsItem> {
    let mut news: Vec<NewsItem> = scheduled
        .iter()
        .map(|&(offset, text, kept)| NewsItem {
            at_ms: start_ms + offset,
            headline: text.to_string(),
            variance_kept: kept,
        })
        .collect();
    let mut at = start_ms;
    loop {
        let gap = (-(rng.random::<f64>().max(1e-9)).ln() * every_ms as f64) as i64;
        at += gap.max(1_000);
        if at >= resolve_ms {
            break;
        }
        news.push(NewsItem {
            at_ms: at,
            headline: headline.to_string(),
            variance_kept: 0.65 + 0.3 * rng.random::<f64>(),
        });
    }
    news.sort_by_key(|n| n.at_ms);
    news
}

fn date_code(ms: i64, with_day: bool) -> String {
    let when = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let format = if with_day { "%y%b%d" } else { "%y%b" };
    when.format(format).to_string().to_uppercase()
}

fn long_date(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%b %-d, %Y")
        .to_string()
}

/// A recurring kind of event. Each instance is listed with fresh hidden values; the next one is
/// listed before the current one closes, so a long run always has markets in every series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Fed meetings; `far` meetings resolve later and trade on a finer grid.
    Fed {
        far: bool,
    },
    Inflation {
        core: bool,
    },
    Weather {
        city: usize,
    },
    Game {
        league: usize,
    },
}

/// When a family's instances close and how long each one trades.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recurrence {
    pub family: Family,
    pub period_ms: i64,
    /// The instance number the next listing gets.
    pub next_instance: u32,
    /// When the next instance is listed (and opens).
    pub next_list_ms: i64,
    /// Close time of the instance listed last.
    pub last_close_ms: i64,
}

/// Half-open index ranges of what one listing added to the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    pub events: std::ops::Range<usize>,
    pub markets: std::ops::Range<usize>,
}

struct City {
    series: &'static str,
    name: &'static str,
    place: &'static str,
    normal_high: f64,
    period_ms: i64,
    fee: FeeType,
    grid: &'static str,
}

const CITIES: [City; 4] = [
    City {
        series: "KXHIGHNY",
        name: "NYC",
        place: "Central Park, New York",
        normal_high: 58.0,
        // Short enough that a 10-minute run (the soak) sees a market close, be determined and
        // settle: closes 6 minutes in, determined a minute later, settled a minute after that.
        period_ms: 6 * MINUTE,
        fee: FeeType::QuadraticWithMakerFees,
        grid: "linear_cent",
    },
    City {
        series: "KXHIGHCHI",
        name: "Chicago",
        place: "Chicago Midway",
        normal_high: 44.0,
        period_ms: 20 * MINUTE,
        fee: FeeType::QuadraticWithMakerFees,
        grid: "linear_cent",
    },
    City {
        series: "KXHIGHMIA",
        name: "Miami",
        place: "Miami International Airport",
        normal_high: 81.0,
        period_ms: 45 * MINUTE,
        fee: FeeType::Quadratic,
        grid: "tapered_deci_cent",
    },
    City {
        series: "KXHIGHAUS",
        name: "Austin",
        place: "Austin Bergstrom",
        normal_high: 70.0,
        period_ms: 3 * HOUR,
        fee: FeeType::Quadratic,
        grid: "linear_cent",
    },
];

struct League {
    code: &'static str,
    teams: &'static [(&'static str, &'static str)],
    /// First game: opens this long after the start (0 = already open), lasts `period_ms`.
    first_open_ms: i64,
    period_ms: i64,
    tip_off_ms: i64,
    home_edge: f64,
    margin_sd: f64,
}

const LEAGUES: [League; 2] = [
    League {
        code: "NBA",
        teams: &[
            ("BOS", "Boston"),
            ("LAL", "Los Angeles L"),
            ("NYK", "New York"),
            ("GSW", "Golden State"),
            ("MIA", "Miami"),
            ("DEN", "Denver"),
            ("PHX", "Phoenix"),
            ("MIL", "Milwaukee"),
        ],
        first_open_ms: 0,
        period_ms: 15 * MINUTE,
        tip_off_ms: MINUTE,
        home_edge: 3.0,
        margin_sd: 12.0,
    },
    League {
        code: "NFL",
        teams: &[
            ("KC", "Kansas City"),
            ("BUF", "Buffalo"),
            ("PHI", "Philadelphia"),
            ("SF", "San Francisco"),
            ("DAL", "Dallas"),
            ("DET", "Detroit"),
        ],
        first_open_ms: 5 * MINUTE,
        period_ms: 2 * HOUR,
        tip_off_ms: 5 * MINUTE,
        home_edge: 1.5,
        margin_sd: 13.0,
    },
];

/// Every series the flow lists, all at the start.
fn all_series(b: &mut Builder<'_>) {
    b.series(
        "KXFEDDECISION",
        "Fed rate decision",
        "Economics",
        "custom",
        FeeType::Quadratic,
        &["Fed", "Rates"],
    );
    b.series(
        "KXCPI",
        "CPI month over month",
        "Economics",
        "monthly",
        FeeType::Quadratic,
        &["Inflation"],
    );
    b.series(
        "KXCPICORE",
        "Core CPI month over month",
        "Economics",
        "monthly",
        FeeType::Quadratic,
        &["Inflation"],
    );
    for city in &CITIES {
        b.series(
            city.series,
            &format!("Highest temperature in {}", city.name),
            "Climate and Weather",
            "daily",
            city.fee,
            &["Weather"],
        );
    }
    for league in &LEAGUES {
        b.series(
            &format!("KX{}GAME", league.code),
            &format!("{} game winner", league.code),
            "Sports",
            "custom",
            FeeType::Quadratic,
            &[league.code],
        );
        b.series(
            &format!("KX{}SPREAD", league.code),
            &format!("{} spread", league.code),
            "Sports",
            "custom",
            FeeType::Quadratic,
            &[league.code],
        );
    }
}

/// The families, their periods and their first instances' schedule relative to `start_ms`.
fn recurrences(start_ms: i64) -> Vec<Recurrence> {
    let mut all = vec![
        (Family::Fed { far: false }, 6 * HOUR, 0),
        (Family::Fed { far: true }, 3 * DAY, 0),
        (Family::Inflation { core: false }, 30 * MINUTE, 0),
        (Family::Inflation { core: true }, 30 * MINUTE, 0),
    ];
    for (city, spec) in CITIES.iter().enumerate() {
        all.push((Family::Weather { city }, spec.period_ms, 0));
    }
    for (league, spec) in LEAGUES.iter().enumerate() {
        all.push((Family::Game { league }, spec.period_ms, spec.first_open_ms));
    }
    all.into_iter()
        .map(|(family, period_ms, first_open)| Recurrence {
            family,
            period_ms,
            next_instance: 0,
            next_list_ms: start_ms + first_open,
            last_close_ms: start_ms + first_open,
        })
        .collect()
}

/// Schedule of an instance: (open, close). The first instance of a family that is open at the
/// start opened an hour earlier; later ones open half a period before the previous one closes.
fn instance_schedule(recurrence: &Recurrence, start_ms: i64) -> (i64, i64) {
    if recurrence.next_instance == 0 {
        let open = if recurrence.next_list_ms <= start_ms {
            start_ms - HOUR
        } else {
            recurrence.next_list_ms
        };
        (open, recurrence.last_close_ms + recurrence.period_ms)
    } else {
        (
            recurrence.next_list_ms,
            recurrence.last_close_ms + recurrence.period_ms,
        )
    }
}

/// Build the listing with every family's first instance. Deterministic in `rng` and `start_ms`.
pub fn build(rng: &mut impl Rng, start_ms: i64) -> (Listing, Vec<Recurrence>) {
    let mut listing = Listing {
        catalogue: Catalogue {
            series: Vec::new(),
            events: Vec::new(),
            markets: Vec::new(),
        },
        underlyings: Vec::new(),
        markets: Vec::new(),
    };
    all_series(&mut Builder {
        start_ms,
        listed_ms: start_ms,
        listing: &mut listing,
    });
    let mut recurrences = recurrences(start_ms);
    for recurrence in &mut recurrences {
        if recurrence.next_list_ms <= start_ms {
            list_next(rng, &mut listing, recurrence, start_ms, start_ms);
        }
    }
    (listing, recurrences)
}

/// List the next instance of a family at `now_ms` and schedule the one after it.
pub fn list_next(
    rng: &mut impl Rng,
    listing: &mut Listing,
    recurrence: &mut Recurrence,
    start_ms: i64,
    now_ms: i64,
) -> Added {
    let (open_ms, close_ms) = instance_schedule(recurrence, start_ms);
    let before = (
        listing.catalogue.events.len(),
        listing.catalogue.markets.len(),
    );
    let mut b = Builder {
        start_ms,
        listed_ms: now_ms,
        listing,
    };
    let instance = recurrence.next_instance;
    match recurrence.family {
        Family::Fed { far } => fed(&mut b, rng, far, instance, open_ms, close_ms),
        Family::Inflation { core } => inflation(&mut b, rng, core, instance, open_ms, close_ms),
        Family::Weather { city } => {
            weather(&mut b, rng, &CITIES[city], instance, open_ms, close_ms)
        }
        Family::Game { league } => game(&mut b, rng, &LEAGUES[league], instance, open_ms, close_ms),
    }
    recurrence.next_instance += 1;
    recurrence.last_close_ms = close_ms;
    recurrence.next_list_ms = close_ms - recurrence.period_ms / 2;
    Added {
        events: before.0..listing.catalogue.events.len(),
        markets: before.1..listing.catalogue.markets.len(),
    }
}

fn fed(
    b: &mut Builder<'_>,
    rng: &mut impl Rng,
    far: bool,
    instance: u32,
    open_ms: i64,
    close_ms: i64,
) {
    let s = b.listed_ms;
    // Meetings alternate between the near and far families, a month apart in name.
    let months_ahead = 2 * i64::from(instance) + i64::from(far);
    let code = date_code(b.start_ms + months_ahead * 31 * DAY, false);
    let (mean, sd, label) = if far {
        (-15.0, 25.0, "deci_cent")
    } else {
        (-8.0, 18.0, "linear_cent")
    };
    let mean = mean + 10.0 * standard_normal(&mut *rng);
    let news = news_schedule(
        &mut *rng,
        s,
        close_ms,
        90_000,
        "Fed speaker remarks",
        &[
            (4 * MINUTE, "Jobs report", 0.55),
            (25 * MINUTE, "Retail sales", 0.7),
        ],
    );
    let u = b.underlying(
        &mut *rng,
        &format!("Fed {code} change (bps)"),
        mean,
        sd,
        close_ms,
        news,
    );
    b.event(EventPlan {
        series: "KXFEDDECISION",
        event_ticker: format!("KXFEDDECISION-{code}"),
        title: format!("Fed decision in {}", code.get(2..).unwrap_or(&code)),
        sub_title: if far { "Later meeting".into() } else { "Next meeting".into() },
        mutually_exclusive: true,
        underlying: u,
        legs: vec![
            Leg::new("C26", "Cut >25bps", None, Some(-37.5)),
            Leg::new("C25", "Cut 25bps", Some(-37.5), Some(-12.5)),
            Leg::new("H0", "Hold", Some(-12.5), Some(12.5)),
            Leg::new("H25", "Hike 25bps", Some(12.5), Some(37.5)),
            Leg::new("H26", "Hike >25bps", Some(37.5), None),
        ],
        open_ms,
        close_ms,
        grid_label: label,
        fine_grid_legs: Vec::new(),
        fractional: false,
        activity: 0.8,
        rules: "If the FOMC's announced change to the federal funds target is {yes_sub_title}, the market resolves to Yes.".into(),
        unit: "rate change",
    });
}

fn inflation(
    b: &mut Builder<'_>,
    rng: &mut impl Rng,
    core: bool,
    instance: u32,
    open_ms: i64,
    close_ms: i64,
) {
    let s = b.listed_ms;
    let (series, name, mean, sd, strikes, label): (&str, &str, f64, f64, &[f64], &str) = if core {
        (
            "KXCPICORE",
            "Core CPI",
            0.28,
            0.08,
            &[0.2, 0.25, 0.3, 0.35],
            "deci_cent",
        )
    } else {
        (
            "KXCPI",
            "CPI",
            0.25,
            0.12,
            &[0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
            "tapered_deci_cent",
        )
    };
    let month = date_code(b.start_ms + i64::from(instance) * 31 * DAY, false);
    let news = news_schedule(
        &mut *rng,
        s,
        close_ms,
        150_000,
        "Nowcast update",
        &[
            (3 * MINUTE, "PPI release", 0.6),
            (12 * MINUTE, "Import prices", 0.75),
            (20 * MINUTE, "Used-car index", 0.7),
        ],
    );
    let u = b.underlying(
        &mut *rng,
        &format!("{name} {month} MoM (%)"),
        mean,
        sd,
        close_ms,
        news,
    );
    b.event(EventPlan {
        series,
        event_ticker: format!("{series}-{month}"),
        title: format!("{name} in {month}"),
        sub_title: "Month over month, seasonally adjusted".into(),
        mutually_exclusive: false,
        underlying: u,
        legs: strikes.iter().map(|&k| Leg::new(format!("T{k}"), format!("above {k}%"), Some(k), None)).collect(),
        open_ms,
        close_ms,
        grid_label: label,
        fine_grid_legs: Vec::new(),
        fractional: !core,
        activity: 1.3,
        rules: format!("If the BLS reports {name} month-over-month change {{yes_sub_title}}, the market resolves to Yes."),
        unit: "CPI",
    });
}

fn weather(
    b: &mut Builder<'_>,
    rng: &mut impl Rng,
    city: &City,
    instance: u32,
    open_ms: i64,
    close_ms: i64,
) {
    let s = b.listed_ms;
    // Simulated time runs faster than the calendar: instance k is the k-th day after the start.
    let day_ms = b.start_ms + i64::from(instance) * DAY;
    let news = news_schedule(&mut *rng, s, close_ms, 120_000, "Hourly observation", &[]);
    let forecast = city.normal_high + 2.0 * standard_normal(&mut *rng);
    let c = forecast.round();
    let u = b.underlying(
        &mut *rng,
        &format!("{} high {} (°F)", city.name, date_code(day_ms, true)),
        forecast,
        3.0,
        close_ms,
        news,
    );
    let edges = [c - 3.5, c - 1.5, c + 0.5, c + 2.5, c + 4.5];
    let mut legs = vec![Leg::new(
        format!("T{}", edges[0] + 0.5),
        format!("{}° or below", edges[0] - 0.5),
        None,
        Some(edges[0]),
    )];
    for pair in edges.windows(2) {
        legs.push(Leg::new(
            format!("B{}", pair[0] + 1.0),
            format!("{}° to {}°", pair[0] + 0.5, pair[1] - 0.5),
            Some(pair[0]),
            Some(pair[1]),
        ));
    }
    legs.push(Leg::new(
        format!("T{}", edges[4] - 0.5),
        format!("{}° or above", edges[4] + 0.5),
        Some(edges[4]),
        None,
    ));
    b.event(EventPlan {
        series: city.series,
        event_ticker: format!("{}-{}", city.series, date_code(day_ms, true)),
        title: format!("Highest temperature in {} on {}", city.name, long_date(day_ms)),
        sub_title: format!("Recorded at {}", city.place),
        mutually_exclusive: true,
        underlying: u,
        legs,
        open_ms,
        close_ms,
        grid_label: city.grid,
        fine_grid_legs: Vec::new(),
        fractional: false,
        activity: 1.0,
        rules: format!("If the highest temperature recorded at {} on {} is {{yes_sub_title}}, the market resolves to Yes.", city.place, long_date(day_ms)),
        unit: "temperature",
    });
}

fn game(
    b: &mut Builder<'_>,
    rng: &mut impl Rng,
    league: &League,
    instance: u32,
    open_ms: i64,
    close_ms: i64,
) {
    let s = b.listed_ms;
    let n = league.teams.len();
    let k = instance as usize;
    // Pairs rotate so consecutive games have new matchups; the date moves a day per game.
    let (away, away_name) = league.teams[(2 * k) % n];
    let (home, home_name) = league.teams[(2 * k + 1 + k / n) % n];
    let (home, home_name) = if home == away {
        league.teams[(2 * k + 2) % n]
    } else {
        (home, home_name)
    };
    let day_ms = b.start_ms + i64::from(instance) * DAY;
    let start = open_ms.max(s) + league.tip_off_ms;
    let game_series = format!("KX{}GAME", league.code);
    let spread_series = format!("KX{}SPREAD", league.code);
    let scoring = news_schedule(
        &mut *rng,
        start,
        close_ms,
        30_000,
        "Scoring run",
        &[(0, "Tip-off", 0.95)],
    );
    let mean = league.home_edge + 4.0 * standard_normal(&mut *rng);
    let u = b.underlying(
        &mut *rng,
        &format!("{home} margin vs {away} {}", date_code(day_ms, true)),
        mean,
        league.margin_sd,
        close_ms,
        scoring,
    );
    let code = format!("{}{away}{home}", date_code(day_ms, true));
    let title = format!("{away_name} at {home_name}");
    b.event(EventPlan {
        series: &game_series,
        event_ticker: format!("{game_series}-{code}"),
        title: format!("{title} winner"),
        sub_title: long_date(day_ms),
        mutually_exclusive: true,
        underlying: u,
        legs: vec![
            Leg::new(home, home_name, Some(0.0), None),
            Leg::new(away, away_name, None, Some(0.0)),
        ],
        open_ms,
        close_ms,
        grid_label: "linear_cent",
        fine_grid_legs: Vec::new(),
        fractional: true,
        activity: 2.0,
        rules: format!("If {{yes_sub_title}} wins the {title} game, the market resolves to Yes."),
        unit: "score",
    });
    b.event(EventPlan {
        series: &spread_series,
        event_ticker: format!("{spread_series}-{code}"),
        title: format!("{title}: winning margin"),
        sub_title: long_date(day_ms),
        mutually_exclusive: false,
        underlying: u,
        legs: vec![
            Leg::new(
                format!("{home}4"),
                format!("{home_name} wins by over 4.5"),
                Some(4.5),
                None,
            ),
            Leg::new(
                format!("{home}9"),
                format!("{home_name} wins by over 9.5"),
                Some(9.5),
                None,
            ),
            Leg::new(
                format!("{away}4"),
                format!("{away_name} wins by over 4.5"),
                None,
                Some(-4.5),
            ),
        ],
        open_ms,
        close_ms,
        grid_label: "linear_cent",
        fine_grid_legs: vec![(1, "center_deci_edge_centi_cent")],
        fractional: false,
        activity: 1.5,
        rules: format!("If {{yes_sub_title}} in the {title} game, the market resolves to Yes."),
        unit: "score",
    });
}
