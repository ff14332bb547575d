//! Text for prices, counts, money and ages. Pure; colour is never the only signal, so signed
//! amounts carry a sign and an arrow.

use crate::core::num::{Count, Money, Price};

const MICROS: i64 = 1_000_000;

/// A YES price as dollars: `0.56`, or more digits when it is off the cent grid (`0.565`).
pub fn price(p: Price) -> String {
    micros_as_dollars(p.micros())
}

/// The NO price of a YES price (`1 − p`).
pub fn no_price(p: Price) -> String {
    micros_as_dollars(MICROS - p.micros())
}

/// The NO price as a `Price`.
pub fn complement(p: Price) -> Price {
    Price::from_micros(MICROS - p.micros()).unwrap_or(p)
}

fn micros_as_dollars(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let whole = abs / 1_000_000;
    let frac = abs % 1_000_000;
    let mut digits = format!("{frac:06}");
    while digits.len() > 2 && digits.ends_with('0') {
        digits.pop();
    }
    format!("{sign}{whole}.{digits}")
}

/// Contracts: whole numbers without decimals, fractions with two.
pub fn count(c: Count) -> String {
    let centi = c.centi();
    if centi % 100 == 0 {
        format!("{}", centi / 100)
    } else {
        let sign = if centi < 0 { "-" } else { "" };
        format!("{sign}{}.{:02}", centi.abs() / 100, centi.abs() % 100)
    }
}

/// Signed contracts (`+12`, `-3`, `0`).
pub fn signed_count(c: Count) -> String {
    if c.is_positive() {
        format!("+{}", count(c))
    } else {
        count(c)
    }
}

/// Dollars, exact: two decimals, more only when the amount has sub-cent parts (Kalshi fees and
/// sub-cent grids produce them): `$1234.56`, `-$3.10`, `$0.988`, `$0.0175`.
pub fn money(m: Money) -> String {
    let sign = if m.micros() < 0 { "-" } else { "" };
    format!("{sign}${}", unsigned_dollars(m))
}

/// P&L with a sign and an arrow so it reads without colour: `▲+1.23`, `▼-0.40`, `·0.00`.
pub fn pnl(m: Money) -> String {
    let body = unsigned_dollars(m);
    match m.micros().signum() {
        1 => format!("▲+{body}"),
        -1 => format!("▼-{body}"),
        _ => format!("·{body}"),
    }
}

/// `|m|` as dollars with at least two decimals and no trailing zeros beyond them.
fn unsigned_dollars(m: Money) -> String {
    let micros = m.micros().unsigned_abs();
    let (whole, fraction) = (micros / 1_000_000, micros % 1_000_000);
    let mut digits = format!("{fraction:06}");
    while digits.len() > 2 && digits.ends_with('0') {
        digits.pop();
    }
    format!("{whole}.{digits}")
}

/// An age: `45ms`, `3.2s`, `4m`, `2h`.
pub fn age_ms(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}.{}s", ms / 1_000, (ms % 1_000) / 100)
    } else if ms < 3_600_000 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}h", ms / 3_600_000)
    }
}

/// Time left until a close: `2d 03:04:05`, `03:04:05`, `closed`.
pub fn countdown(ms: i64) -> String {
    if ms <= 0 {
        return "closed".to_string();
    }
    let secs = ms / 1_000;
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// Wall clock `HH:MM:SS` UTC of Unix ms.
pub fn clock(wall_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(wall_ms)
        .map(|t| t.format("%H:%M:%S").to_string())
        .unwrap_or_else(|| "--:--:--".to_string())
}

/// Cut `text` to at most `width` characters, marking the cut with `…`.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_as_dollars_on_and_off_the_cent_grid() {
        assert_eq!(price(Price::from_micros(560_000).unwrap()), "0.56");
        assert_eq!(price(Price::from_micros(565_000).unwrap()), "0.565");
        assert_eq!(no_price(Price::from_micros(560_000).unwrap()), "0.44");
        assert_eq!(price(Price::from_micros(1_000_000).unwrap()), "1.00");
    }

    #[test]
    fn counts_money_and_pnl_carry_signs() {
        assert_eq!(count(Count::from_contracts(12)), "12");
        assert_eq!(count(Count::from_centi(250)), "2.50");
        assert_eq!(signed_count(Count::from_contracts(3)), "+3");
        assert_eq!(signed_count(Count::from_contracts(-3)), "-3");
        assert_eq!(money(Money::from_cents(-310)), "-$3.10");
        assert_eq!(pnl(Money::from_cents(123)), "▲+1.23");
        assert_eq!(pnl(Money::from_cents(-40)), "▼-0.40");
        assert_eq!(pnl(Money::ZERO), "·0.00");
        assert_eq!(money(Money::from_micros(988_000)), "$0.988");
        assert_eq!(money(Money::from_micros(17_500)), "$0.0175");
        assert_eq!(money(Money::from_micros(-1)), "-$0.000001");
        assert_eq!(pnl(Money::from_micros(-4_000)), "▼-0.004");
    }

    #[test]
    fn ages_and_countdowns() {
        assert_eq!(age_ms(45), "45ms");
        assert_eq!(age_ms(3_250), "3.2s");
        assert_eq!(age_ms(240_000), "4m");
        assert_eq!(countdown(3_723_000), "01:02:03");
        assert_eq!(countdown(90_061_000), "1d 01:01:01");
        assert_eq!(countdown(0), "closed");
        assert_eq!(fit("abcdef", 4), "abc…");
    }
}
