//! The hidden model behind an event: a true value of the underlying (the CPI print, the day's
//! high, the game's final margin) drawn at the start, and the market's public belief about it,
//! a normal distribution whose mean wanders toward the truth as information arrives.
//!
//! Information arrives continuously (the variance shrinks as resolution nears) and in jumps at
//! scheduled news (the variance drops by a factor). Each shrink is a Gaussian update on a signal
//! drawn given the truth, so the mean is a martingale to an observer who does not know the truth
//! (fair prices behave like prices) and still converges to it (markets settle consistently).
//!
//! This is the simulator's latent model, not money: it runs in f64 and only becomes prices
//! through [`crate::core::market::PriceGrid`] snapping in the agents.

use rand::Rng;

/// A scheduled piece of news for one event.
#[derive(Clone, Debug, PartialEq)]
pub struct NewsItem {
    pub at_ms: i64,
    pub headline: String,
    /// Fraction of the belief variance that remains after the news (0..1).
    pub variance_kept: f64,
}

/// The belief about one event's underlying.
#[derive(Clone, Debug)]
pub struct Belief {
    truth: f64,
    mean: f64,
    variance: f64,
    prior_variance: f64,
    start_ms: i64,
    resolve_ms: i64,
    news: Vec<NewsItem>,
    /// News items already applied.
    news_applied: usize,
}

/// Variance left when the outcome is known: tiny but positive so the arithmetic stays finite.
const RESOLVED_FRACTION: f64 = 1e-8;

impl Belief {
    /// `news` must be sorted by time.
    pub fn new(
        truth: f64,
        prior_mean: f64,
        prior_sd: f64,
        start_ms: i64,
        resolve_ms: i64,
        news: Vec<NewsItem>,
    ) -> Belief {
        Belief {
            truth,
            mean: prior_mean,
            variance: prior_sd * prior_sd,
            prior_variance: prior_sd * prior_sd,
            start_ms,
            resolve_ms: resolve_ms.max(start_ms + 1),
            news,
            news_applied: 0,
        }
    }

    pub fn truth(&self) -> f64 {
        self.truth
    }

    pub fn mean(&self) -> f64 {
        self.mean
    }

    pub fn sd(&self) -> f64 {
        self.variance.sqrt()
    }

    pub fn news(&self) -> &[NewsItem] {
        &self.news
    }

    /// The variance the schedule calls for at `now_ms`.
    fn scheduled_variance(&self, now_ms: i64) -> f64 {
        if now_ms >= self.resolve_ms {
            return self.prior_variance * RESOLVED_FRACTION;
        }
        let span = (self.resolve_ms - self.start_ms) as f64;
        let left = ((self.resolve_ms - now_ms) as f64 / span).clamp(RESOLVED_FRACTION, 1.0);
        let news_factor: f64 = self
            .news
            .iter()
            .take_while(|n| n.at_ms <= now_ms)
            .map(|n| n.variance_kept)
            .product();
        self.prior_variance * left * news_factor
    }

    /// Move the belief to `now_ms`. Returns the news that broke since the last call.
    pub fn advance(&mut self, now_ms: i64, rng: &mut impl Rng) -> &[NewsItem] {
        let first_new = self.news_applied;
        while self.news_applied < self.news.len() && self.news[self.news_applied].at_ms <= now_ms {
            self.news_applied += 1;
        }
        let target = self.scheduled_variance(now_ms);
        if target < self.variance {
            // Signal y = truth + ε with var r chosen so the posterior variance becomes `target`.
            let gain = (self.variance - target) / self.variance;
            let step_sd = ((self.variance - target) * target / self.variance).sqrt();
            self.mean += gain * (self.truth - self.mean) + step_sd * standard_normal(rng);
            self.variance = target;
        }
        &self.news[first_new..self.news_applied]
    }

    /// P(lo < X ≤ hi) under the current belief; `None` bounds are open.
    pub fn probability(&self, lo: Option<f64>, hi: Option<f64>) -> f64 {
        let sd = self.sd().max(1e-12);
        let below =
            |x: Option<f64>, open: f64| x.map_or(open, |x| normal_cdf((x - self.mean) / sd));
        (below(hi, 1.0) - below(lo, 0.0)).clamp(0.0, 1.0)
    }
}

/// Box–Muller from two uniforms.
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Standard normal CDF via erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

fn erf(x: f64) -> f64 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * (-x * x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((normal_cdf(-1.96) - 0.024_997_9).abs() < 1e-6);
        assert!(normal_cdf(9.0) > 0.999_999);
    }

    #[test]
    fn belief_converges_to_the_truth_and_news_jumps() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let news = vec![NewsItem {
            at_ms: 50_000,
            headline: "data".into(),
            variance_kept: 0.1,
        }];
        let mut belief = Belief::new(3.0, 0.0, 2.0, 0, 100_000, news);
        belief.advance(49_000, &mut rng);
        let sd_before = belief.sd();
        assert_eq!(belief.advance(50_000, &mut rng).len(), 1);
        assert!(belief.sd() < sd_before * 0.4);
        assert!(belief.advance(60_000, &mut rng).is_empty());
        belief.advance(100_000, &mut rng);
        assert!((belief.mean() - 3.0).abs() < 1e-3, "{}", belief.mean());
        assert!(belief.probability(Some(2.5), None) > 0.999);
        assert!(belief.probability(None, Some(2.5)) < 0.001);
    }

    #[test]
    fn the_mean_is_unbiased_for_an_observer() {
        // Averaged over truths drawn from the prior, the mean at any time averages the prior mean.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let runs = 4000;
        let mut total = 0.0;
        for _ in 0..runs {
            let truth = 1.0 + 2.0 * standard_normal(&mut rng);
            let mut belief = Belief::new(truth, 1.0, 2.0, 0, 1000, Vec::new());
            belief.advance(500, &mut rng);
            total += belief.mean();
        }
        assert!(
            (total / runs as f64 - 1.0).abs() < 0.08,
            "{}",
            total / runs as f64
        );
    }
}
