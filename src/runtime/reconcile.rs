//! REST reconciliation while running: after every reconnect, on a timer, and after a kill.
//! One read of the account turned into engine inputs: fills since the last known one
//! (deduplicated by `trade_id` in the engine), the resting orders and the final state of every
//! order the engine still holds open that no longer rests, and positions (`position_fp`)
//! so the engine can detect drift.

use std::collections::HashSet;

use crate::core::engine::{ExchangeInput, Input, PrivateInput};
use crate::core::market::Ticker;
use crate::core::num::Count;
use crate::core::order::OrderId;
use crate::kalshi::rest::RestClient;
use crate::kalshi::wire::{
    GetBalanceParams, GetFillsParams, GetOrdersParams, GetPositionsParams, OrderStatus, Schedule,
};
use crate::runtime::clock;
use crate::runtime::convert;

/// How far apart the exchange's fill times and our wall clock may be (the desk refuses to arm
/// beyond 1 s of offset).
const FILL_CLOCK_MARGIN_MS: i64 = 2_000;

/// Why a read was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPurpose {
    /// Full reconciliation (start of a connection, timer).
    Reconcile,
    /// `GET /exchange/status` and `GET /exchange/schedule` only.
    Status,
}

/// What the engine task asks the reconciler to check.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    pub purpose: ReadPurpose,
    pub subaccount: Option<u32>,
    /// Orders the engine holds open that have an exchange id.
    pub open_orders: Vec<OrderId>,
    /// Markets where the engine holds a non-zero position.
    pub positioned: Vec<Ticker>,
    /// Fills from this wall time on (ms).
    pub fills_since_ms: i64,
}

/// The answer: inputs for the engine, in order, and what the sweep needs.
#[derive(Debug, Clone)]
pub struct ReadOutcome {
    pub purpose: ReadPurpose,
    pub inputs: Vec<Input>,
    /// Resting orders the exchange showed (None when that read failed).
    pub resting: Option<usize>,
    /// Monotonic ns when the resting-orders read was sent.
    pub read_started_ns: u64,
    /// Newest fill time seen (ms).
    pub newest_fill_ms: Option<i64>,
    /// The first read that failed, if any.
    pub error: Option<String>,
}

/// Make the reads. Never fails as a whole: what could be read is returned with the error.
pub async fn read(rest: &RestClient, request: ReadRequest) -> ReadOutcome {
    let mut outcome = ReadOutcome {
        purpose: request.purpose,
        inputs: Vec::new(),
        resting: None,
        read_started_ns: clock::mono_ns(),
        newest_fill_ms: None,
        error: None,
    };
    let status = match rest.exchange_status().await {
        Ok(status) => Some(status.exchange_active && status.trading_active),
        Err(error) => {
            outcome.error = Some(format!("exchange status: {error}"));
            None
        }
    };
    // The schedule is read with the status: it names closures (maintenance windows, hours)
    // the status may only report once they have begun.
    let scheduled = if request.purpose == ReadPurpose::Status {
        match rest.exchange_schedule().await {
            Ok(answer) => schedule_open_at(&answer.schedule, clock::wall_ms()),
            Err(error) => {
                tracing::debug!(%error, "exchange schedule unreadable");
                None
            }
        }
    } else {
        None
    };
    if status.is_some() || scheduled.is_some() {
        outcome
            .inputs
            .push(Input::Exchange(ExchangeInput::TradingActive {
                active: status.unwrap_or(true) && scheduled.unwrap_or(true),
            }));
    }
    if request.purpose == ReadPurpose::Status {
        return outcome;
    }

    // Fills first, so positions read afterwards are compared with our books including them.
    let fills_read_wall_ms = clock::wall_ms();
    let fills = rest
        .all_fills(&GetFillsParams {
            min_ts: Some(request.fills_since_ms.div_euclid(1000)),
            subaccount: request.subaccount,
            ..GetFillsParams::default()
        })
        .await;
    match fills {
        Ok(mut fills) => {
            fills.sort_by_key(|f| f.created_time.as_ref().map(|t| t.unix_ms()).unwrap_or(0));
            for fill in &fills {
                let fill = convert::rest_fill(fill);
                outcome.newest_fill_ms = outcome.newest_fill_ms.max(Some(fill.ts_ms));
                outcome.inputs.push(Input::Private(PrivateInput::Fill {
                    fill,
                    post_position: None,
                }));
            }
        }
        Err(error) => {
            outcome.error.get_or_insert(format!("fills: {error}"));
        }
    }

    outcome.read_started_ns = clock::mono_ns();
    let resting = rest
        .all_orders(&GetOrdersParams {
            status: Some(OrderStatus::Resting),
            subaccount: request.subaccount,
            ..GetOrdersParams::default()
        })
        .await;
    let mut resting_ids = HashSet::new();
    match resting {
        Ok(orders) => {
            outcome.resting = Some(orders.len());
            for order in &orders {
                resting_ids.insert(order.order_id.clone());
                if let Some(report) = convert::order_report(order) {
                    outcome
                        .inputs
                        .push(Input::Private(PrivateInput::UserOrder(report)));
                }
            }
            // What we hold open but the exchange no longer rests: read its final state.
            for order_id in &request.open_orders {
                if resting_ids.contains(order_id.as_str()) {
                    continue;
                }
                match rest.order(order_id.as_str()).await {
                    Ok(order) => {
                        if let Some(report) = convert::order_report(&order) {
                            outcome
                                .inputs
                                .push(Input::Private(PrivateInput::UserOrder(report)));
                        }
                    }
                    Err(error) => {
                        outcome
                            .error
                            .get_or_insert(format!("order {order_id}: {error}"));
                    }
                }
            }
        }
        Err(error) => {
            outcome
                .error
                .get_or_insert(format!("resting orders: {error}"));
        }
    }

    let positions = rest
        .all_positions(&GetPositionsParams {
            subaccount: request.subaccount,
            ..GetPositionsParams::default()
        })
        .await;
    // A fill that reaches the exchange while these reads run shows in the position read, in
    // our books (over WS), in both or in neither, depending on timing: such a market is
    // compared on a later read, or it would look like a drift that is not one. Fills are
    // read again after the positions; when that read fails, no position is compared.
    let busy: Option<HashSet<Ticker>> = if positions.is_ok() {
        let since_ms = fills_read_wall_ms.saturating_sub(FILL_CLOCK_MARGIN_MS);
        rest.all_fills(&GetFillsParams {
            min_ts: Some(since_ms.div_euclid(1000)),
            subaccount: request.subaccount,
            ..GetFillsParams::default()
        })
        .await
        .ok()
        .map(|fills| {
            fills
                .iter()
                .map(convert::rest_fill)
                .filter(|fill| fill.ts_ms >= since_ms)
                .map(|fill| fill.ticker)
                .collect()
        })
    } else {
        None
    };
    match (positions, busy) {
        (Ok(_), None) => {
            outcome
                .error
                .get_or_insert("fills after positions: unreadable, positions not compared".into());
        }
        (Ok((positions, _)), Some(busy)) => {
            let mut seen = HashSet::new();
            for position in &positions {
                seen.insert(position.ticker.clone());
                if busy.contains(&position.ticker) {
                    continue;
                }
                outcome
                    .inputs
                    .push(Input::Private(PrivateInput::MarketPosition {
                        ticker: position.ticker.clone(),
                        position: position.position_fp,
                        cost: None,
                    }));
            }
            // A market the exchange no longer lists holds nothing there.
            for ticker in request
                .positioned
                .iter()
                .filter(|t| !seen.contains(*t) && !busy.contains(*t))
            {
                outcome
                    .inputs
                    .push(Input::Private(PrivateInput::MarketPosition {
                        ticker: ticker.clone(),
                        position: Count::ZERO,
                        cost: None,
                    }));
            }
        }
        (Err(error), _) => {
            outcome.error.get_or_insert(format!("positions: {error}"));
        }
    }
    if let Ok(balance) = rest
        .balance(&GetBalanceParams {
            subaccount: request.subaccount,
            exchange_index: None,
        })
        .await
    {
        outcome.inputs.push(Input::Private(PrivateInput::Balance {
            available: balance.balance_dollars,
            as_of_ms: Some(balance.updated_ts.saturating_mul(1000)),
        }));
    }
    outcome
}

/// Whether `schedule` has the exchange open at `now_ms`: `Some(false)` inside a maintenance
/// window or outside the trading hours of the standard-hours period covering now, `Some(true)`
/// inside them, `None` when no period covers now or its hours cannot be read (the status then
/// decides alone). Hours are US Eastern `HH:MM`; a session whose close is not after its open runs
/// past midnight, and a close of `23:59` or `24:00` means the end of the day.
pub fn schedule_open_at(schedule: &Schedule, now_ms: i64) -> Option<bool> {
    use chrono::{Datelike, TimeZone, Timelike};
    let in_maintenance = schedule.maintenance_windows.iter().any(|window| {
        window.start_datetime.unix_ms() <= now_ms && now_ms < window.end_datetime.unix_ms()
    });
    if in_maintenance {
        return Some(false);
    }
    let period = schedule
        .standard_hours
        .iter()
        .find(|p| p.start_time.unix_ms() <= now_ms && now_ms < p.end_time.unix_ms())?;
    let local = chrono_tz::America::New_York
        .timestamp_millis_opt(now_ms)
        .single()?;
    let minute = local.hour() * 60 + local.minute();
    let days = [
        &period.monday,
        &period.tuesday,
        &period.wednesday,
        &period.thursday,
        &period.friday,
        &period.saturday,
        &period.sunday,
    ];
    let today = local.weekday().num_days_from_monday() as usize;
    let yesterday = (today + 6) % 7;
    let mut readable = false;
    let mut open = false;
    for session in days[today] {
        let (Some(from), Some(to)) = (minutes(&session.open_time), minutes(&session.close_time))
        else {
            continue;
        };
        readable = true;
        let to = end_of_day(to);
        open |= if to > from {
            from <= minute && minute < to
        } else {
            minute >= from
        };
    }
    for session in days[yesterday] {
        let (Some(from), Some(to)) = (minutes(&session.open_time), minutes(&session.close_time))
        else {
            continue;
        };
        // Yesterday's overnight session reaches into today's early hours.
        if end_of_day(to) <= from {
            open |= minute < to;
        }
    }
    if open {
        return Some(true);
    }
    if !readable && !days[today].is_empty() {
        tracing::warn!(day = ?days[today], "exchange hours unreadable; the status decides");
        return None;
    }
    Some(false)
}

/// `HH:MM` as minutes after midnight (`24:00` allowed).
fn minutes(text: &str) -> Option<u32> {
    let (hours, mins) = text.trim().split_once(':')?;
    let (hours, mins): (u32, u32) = (hours.parse().ok()?, mins.get(..2)?.parse().ok()?);
    (hours < 24 && mins < 60 || hours == 24 && mins == 0).then_some(hours * 60 + mins)
}

/// A close of 23:59 is the end of the day, not a minute's break before midnight.
fn end_of_day(close: u32) -> u32 {
    if close >= 23 * 60 + 59 {
        24 * 60
    } else {
        close
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kalshi::wire::{DailySchedule, MaintenanceWindow, Timestamp, WeeklySchedule};

    fn ms(text: &str) -> i64 {
        Timestamp::parse(text).expect("timestamp").unix_ms()
    }

    fn session(open: &str, close: &str) -> Vec<DailySchedule> {
        vec![DailySchedule {
            open_time: open.into(),
            close_time: close.into(),
        }]
    }

    /// Weekdays 08:00–17:00 ET, Friday overnight until Saturday 02:00, closed Sunday.
    fn schedule() -> Schedule {
        let ts = |t: &str| Timestamp::parse(t).expect("timestamp");
        Schedule {
            standard_hours: vec![WeeklySchedule {
                start_time: ts("2026-01-01T00:00:00Z"),
                end_time: ts("2027-01-01T00:00:00Z"),
                monday: session("08:00", "17:00"),
                tuesday: session("08:00", "17:00"),
                wednesday: session("00:00", "23:59"),
                thursday: session("08:00", "17:00"),
                friday: session("20:00", "02:00"),
                saturday: session("xx", "yy"),
                sunday: vec![],
            }],
            maintenance_windows: vec![MaintenanceWindow {
                start_datetime: ts("2026-11-25T15:00:00Z"),
                end_datetime: ts("2026-11-25T16:00:00Z"),
            }],
        }
    }

    #[test]
    fn the_schedule_opens_and_closes_the_exchange_in_eastern_time() {
        let s = schedule();
        // Monday 2026-11-23: 12:00 UTC is 07:00 EST (closed), 13:00 UTC is 08:00 (open).
        assert_eq!(
            schedule_open_at(&s, ms("2026-11-23T12:59:00Z")),
            Some(false)
        );
        assert_eq!(schedule_open_at(&s, ms("2026-11-23T13:00:00Z")), Some(true));
        assert_eq!(
            schedule_open_at(&s, ms("2026-11-23T22:00:00Z")),
            Some(false)
        );
        // Wednesday all day, 23:59 meaning midnight; but not inside the maintenance window.
        assert_eq!(schedule_open_at(&s, ms("2026-11-26T04:59:30Z")), Some(true));
        assert_eq!(
            schedule_open_at(&s, ms("2026-11-25T15:30:00Z")),
            Some(false)
        );
        assert_eq!(schedule_open_at(&s, ms("2026-11-25T16:00:00Z")), Some(true));
        // Friday 20:00 until Saturday 02:00 ET; Saturday's own hours are unreadable.
        assert_eq!(schedule_open_at(&s, ms("2026-11-28T02:00:00Z")), Some(true));
        assert_eq!(schedule_open_at(&s, ms("2026-11-28T06:30:00Z")), Some(true));
        assert_eq!(schedule_open_at(&s, ms("2026-11-28T07:30:00Z")), None);
        // Sunday: no session at all.
        assert_eq!(
            schedule_open_at(&s, ms("2026-11-29T18:00:00Z")),
            Some(false)
        );
        // Outside every standard-hours period the status decides.
        assert_eq!(schedule_open_at(&s, ms("2027-06-01T18:00:00Z")), None);
    }

    #[test]
    fn hours_parse_strictly() {
        assert_eq!(minutes("08:30"), Some(510));
        assert_eq!(minutes("24:00"), Some(1440));
        assert_eq!(minutes("24:01"), None);
        assert_eq!(minutes("8"), None);
        assert_eq!(minutes("12:75"), None);
    }
}
