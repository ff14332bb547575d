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

struct Builder {
    start_ms: i64,
    listing: Listing,
}

impl Builder {
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
        let belief = Belief::new(truth, prior_mean, prior_sd, self.start_ms, resolve_ms, news);
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
                created_ms: self.start_ms.min(plan.open_ms) - HOUR,
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

/// Build the listing. Deterministic in `rng`'s state and `start_ms`.
pub fn build(rng: &mut impl Rng, start_ms: i64) -> Listing {
    let mut b = Builder {
        start_ms,
        listing: Listing {
            catalogue: Catalogue {
                series: Vec::new(),
                events: Vec::new(),
                markets: Vec::new(),
            },
            underlyings: Vec::new(),
            markets: Vec::new(),
        },
    };
    let s = start_ms;
    let today = date_code(s, true);
    let month = date_code(s, false);
    let next_month = date_code(s + 31 * DAY, false);
    let open_already = s - HOUR;

    // ---- Rates: two Fed meetings, mutually exclusive brackets on the change in bps ----
    b.series(
        "KXFEDDECISION",
        "Fed rate decision",
        "Economics",
        "custom",
        FeeType::Quadratic,
        &["Fed", "Rates"],
    );
    for (meeting, code, resolve, mean, sd, label) in [
        (1, month.clone(), s + 6 * HOUR, -8.0, 18.0, "linear_cent"),
        (2, next_month.clone(), s + 3 * DAY, -15.0, 25.0, "deci_cent"),
    ] {
        let news = news_schedule(
            &mut *rng,
            s,
            resolve,
            90_000,
            "Fed speaker remarks",
            &[
                (4 * MINUTE, "Jobs report", 0.55),
                (25 * MINUTE, "Retail sales", 0.7),
            ],
        );
        let u = b.underlying(
            &mut *rng,
            &format!("Fed meeting {meeting} change (bps)"),
            mean,
            sd,
            resolve,
            news,
        );
        let legs = vec![
            Leg::new("C26", "Cut >25bps", None, Some(-37.5)),
            Leg::new("C25", "Cut 25bps", Some(-37.5), Some(-12.5)),
            Leg::new("H0", "Hold", Some(-12.5), Some(12.5)),
            Leg::new("H25", "Hike 25bps", Some(12.5), Some(37.5)),
            Leg::new("H26", "Hike >25bps", Some(37.5), None),
        ];
        b.event(EventPlan {
            series: "KXFEDDECISION",
            event_ticker: format!("KXFEDDECISION-{code}"),
            title: format!("Fed decision in {}", code.get(2..).unwrap_or(&code)),
            sub_title: format!("Meeting {meeting}"),
            mutually_exclusive: true,
            underlying: u,
            legs,
            open_ms: open_already,
            close_ms: resolve,
            grid_label: label,
            fine_grid_legs: Vec::new(),
            fractional: false,
            activity: 0.8,
            rules: "If the FOMC's announced change to the federal funds target is {yes_sub_title}, the market resolves to Yes.".into(),
            unit: "rate change",
        });
    }

    // ---- Inflation: CPI and core CPI strike ladders (nested: above each strike) ----
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
    let cpi_release = s + 30 * MINUTE;
    for (series, name, mean, sd, strikes, label) in [
        (
            "KXCPI",
            "CPI",
            0.25,
            0.12,
            vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
            "tapered_deci_cent",
        ),
        (
            "KXCPICORE",
            "Core CPI",
            0.28,
            0.08,
            vec![0.2, 0.25, 0.3, 0.35],
            "deci_cent",
        ),
    ] {
        let news = news_schedule(
            &mut *rng,
            s,
            cpi_release,
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
            &format!("{name} MoM (%)"),
            mean,
            sd,
            cpi_release,
            news,
        );
        let legs = strikes
            .iter()
            .map(|&k| Leg::new(format!("T{k}"), format!("above {k}%"), Some(k), None))
            .collect();
        b.event(EventPlan {
            series,
            event_ticker: format!("{series}-{month}"),
            title: format!("{name} in {}", long_date(s)),
            sub_title: "Month over month, seasonally adjusted".into(),
            mutually_exclusive: false,
            underlying: u,
            legs,
            open_ms: open_already,
            close_ms: cpi_release,
            grid_label: label,
            fine_grid_legs: Vec::new(),
            fractional: series == "KXCPI",
            activity: 1.3,
            rules: format!("If the BLS reports {name} month-over-month change {{yes_sub_title}}, the market resolves to Yes."),
            unit: "CPI",
        });
    }

    // ---- Weather: daily highs, mutually exclusive 2° buckets with open-ended tails ----
    for (series, city, place, mean, resolve, fee, label) in [
        (
            "KXHIGHNY",
            "NYC",
            "Central Park, New York",
            58.0,
            s + 12 * MINUTE,
            FeeType::QuadraticWithMakerFees,
            "linear_cent",
        ),
        (
            "KXHIGHCHI",
            "Chicago",
            "Chicago Midway",
            44.0,
            s + 20 * MINUTE,
            FeeType::QuadraticWithMakerFees,
            "linear_cent",
        ),
        (
            "KXHIGHMIA",
            "Miami",
            "Miami International Airport",
            81.0,
            s + 45 * MINUTE,
            FeeType::Quadratic,
            "tapered_deci_cent",
        ),
        (
            "KXHIGHAUS",
            "Austin",
            "Austin Bergstrom",
            70.0,
            s + 3 * HOUR,
            FeeType::Quadratic,
            "linear_cent",
        ),
    ] {
        b.series(
            series,
            &format!("Highest temperature in {city}"),
            "Climate and Weather",
            "daily",
            fee,
            &["Weather"],
        );
        let news = news_schedule(&mut *rng, s, resolve, 120_000, "Hourly observation", &[]);
        let forecast = mean + 2.0 * standard_normal(&mut *rng);
        let c = forecast.round();
        let u = b.underlying(
            &mut *rng,
            &format!("{city} high (°F)"),
            forecast,
            3.0,
            resolve,
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
            series,
            event_ticker: format!("{series}-{today}"),
            title: format!("Highest temperature in {city} on {}", long_date(s)),
            sub_title: format!("Recorded at {place}"),
            mutually_exclusive: true,
            underlying: u,
            legs,
            open_ms: open_already,
            close_ms: resolve,
            grid_label: label,
            fine_grid_legs: Vec::new(),
            fractional: false,
            activity: 1.0,
            rules: format!("If the highest temperature recorded at {place} on {} is {{yes_sub_title}}, the market resolves to Yes.", long_date(s)),
            unit: "temperature",
        });
    }

    // ---- Sports: two games, winner (mutually exclusive) and spread markets on the margin ----
    for (league, away, home, away_name, home_name, open, start, end, mean, sd) in [
        (
            "NBA",
            "BOS",
            "LAL",
            "Boston",
            "Los Angeles L",
            open_already,
            s + MINUTE,
            s + 15 * MINUTE,
            3.0,
            12.0,
        ),
        (
            "NFL",
            "KC",
            "BUF",
            "Kansas City",
            "Buffalo",
            s + 5 * MINUTE,
            s + 10 * MINUTE,
            s + 2 * HOUR,
            -1.5,
            13.0,
        ),
    ] {
        let game_series = format!("KX{league}GAME");
        let spread_series = format!("KX{league}SPREAD");
        b.series(
            &game_series,
            &format!("{league} game winner"),
            "Sports",
            "custom",
            FeeType::Quadratic,
            &[league],
        );
        b.series(
            &spread_series,
            &format!("{league} spread"),
            "Sports",
            "custom",
            FeeType::Quadratic,
            &[league],
        );
        let scoring = news_schedule(
            &mut *rng,
            start,
            end,
            30_000,
            "Scoring run",
            &[(start - s, "Tip-off/kick-off", 0.95)],
        );
        let u = b.underlying(
            &mut *rng,
            &format!("{home} margin vs {away}"),
            mean,
            sd,
            end,
            scoring,
        );
        let code = format!("{today}{away}{home}");
        let title = format!("{away_name} at {home_name}");
        b.event(EventPlan {
            series: &game_series,
            event_ticker: format!("{game_series}-{code}"),
            title: format!("{title} winner"),
            sub_title: long_date(start),
            mutually_exclusive: true,
            underlying: u,
            legs: vec![
                Leg::new(home, home_name, Some(0.0), None),
                Leg::new(away, away_name, None, Some(0.0)),
            ],
            open_ms: open,
            close_ms: end,
            grid_label: "linear_cent",
            fine_grid_legs: Vec::new(),
            fractional: true,
            activity: 2.0,
            rules: format!(
                "If {{yes_sub_title}} wins the {title} game, the market resolves to Yes."
            ),
            unit: "score",
        });
        b.event(EventPlan {
            series: &spread_series,
            event_ticker: format!("{spread_series}-{code}"),
            title: format!("{title}: winning margin"),
            sub_title: long_date(start),
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
            open_ms: open,
            close_ms: end,
            grid_label: "linear_cent",
            fine_grid_legs: vec![(1, "center_deci_edge_centi_cent")],
            fractional: false,
            activity: 1.5,
            rules: format!("If {{yes_sub_title}} in the {title} game, the market resolves to Yes."),
            unit: "score",
        });
    }
    b.listing
}
