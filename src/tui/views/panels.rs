//! The main panels. Each draws from `state.view()` (the frozen copy while frozen).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph, Sparkline};

use super::{panel_block, styled};
use crate::core::control::MarketState;
use crate::core::num::{Money, Price};
use crate::core::order::{Order, OrderOwner};
use crate::core::risk::Side;
use crate::runtime::snapshot::MarketView;
use crate::tui::adapt;
use crate::tui::app::{AppState, Panel, short_id};
use crate::tui::fmt::{self, fit};
use crate::tui::replica::{LogLevel, mid_of};
use crate::tui::theme::{Role, Theme};

pub fn render_panel(frame: &mut Frame, area: Rect, panel: Panel, state: &AppState, theme: &Theme) {
    match panel {
        Panel::Watchlist => watchlist(frame, area, state, theme),
        Panel::Ladder => ladder(frame, area, state, theme),
        Panel::Orders => orders(frame, area, state, theme),
        Panel::Positions => positions(frame, area, state, theme),
        Panel::Strategies => strategies(frame, area, state, theme),
        Panel::Pnl => pnl(frame, area, state, theme),
        Panel::Chart => chart(frame, area, state, theme),
        Panel::Tape => tape(frame, area, state, theme),
        Panel::Health => health(frame, area, state, theme),
        Panel::Log => log(frame, area, state, theme),
    }
}

pub fn badge_role(state: &MarketState) -> Role {
    match state {
        MarketState::Disarmed => Role::BadgeDisarmed,
        MarketState::Armed => Role::BadgeArmed,
        MarketState::Hold => Role::BadgeHold,
        MarketState::Paused(_) => Role::BadgePaused,
        MarketState::Manual => Role::BadgeManual,
        MarketState::Reducing => Role::BadgeReducing,
    }
}

fn pnl_role(m: Money) -> Role {
    if m.is_negative() {
        Role::PnlNegative
    } else if m.micros() > 0 {
        Role::PnlPositive
    } else {
        Role::Text
    }
}

/// Rows `[first, first+height)` that keep `selected` in view.
fn window(len: usize, selected: usize, height: usize) -> (usize, usize) {
    if height == 0 || len == 0 {
        return (0, 0);
    }
    let first = selected
        .saturating_sub(height - 1)
        .min(len.saturating_sub(height));
    (first, (first + height).min(len))
}

/// Unrealized P&L of a position marked at the mid.
pub fn unrealized(market: &MarketView) -> Option<Money> {
    let facts = adapt::position(market);
    if facts.contracts.is_zero() {
        return Some(Money::ZERO);
    }
    let mid = mid_of(market)?;
    let per_contract = if facts.contracts.is_positive() {
        mid
    } else {
        1_000_000 - mid
    };
    let value = Price::from_micros(per_contract)?.cost_of(facts.contracts.abs());
    Some(value.saturating_sub(facts.cost))
}

fn watchlist(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let rows = state.visible_rows();
    let selected = state.selected_ticker();
    let mut extra = format!("sort: {}", state.sort.label());
    if !state.filter.is_empty() {
        extra.push_str(&format!(" · filter: {}", state.filter));
    }
    let block = panel_block(Panel::Watchlist, &extra, state, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let replica = state.view();
    let wide = inner.width >= 100;
    // Below 76 columns the last price and volume give way to the control badge and book age.
    let compact = inner.width < 76;
    let ticker_w = if inner.width >= 90 { 24 } else { 17 };
    let mut lines = Vec::new();
    let mut header = if compact {
        format!(
            "{:<tw$} {:>5} {:>5} {:>5} {:>8} {:<10} {:>5}",
            "market",
            "bid",
            "ask",
            "pos",
            "P&L",
            "control",
            "age",
            tw = ticker_w
        )
    } else {
        format!(
            "{:<tw$} {:>5} {:>5} {:>5} {:>7} {:>5} {:>8} {:<10} {:>5}",
            "market",
            "bid",
            "ask",
            "last",
            "24h vol",
            "pos",
            "P&L",
            "control",
            "age",
            tw = ticker_w
        )
    };
    if wide {
        header.push_str("  title");
    }
    lines.push(Line::from(styled(header, theme.style(Role::Header))));
    let height = inner.height.saturating_sub(1) as usize;
    let at = selected
        .as_ref()
        .and_then(|s| rows.iter().position(|r| r == s))
        .unwrap_or(0);
    let (first, last) = window(rows.len(), at, height);
    for ticker in &rows[first..last] {
        let market = replica.market(ticker.as_str());
        let meta = replica.meta(ticker.as_str());
        let bid = market
            .and_then(|m| m.yes_bids.first())
            .map_or("--".to_string(), |l| fmt::price(l.price));
        let ask = market
            .and_then(|m| m.yes_asks.first())
            .map_or("--".to_string(), |l| fmt::price(l.price));
        let last = meta
            .and_then(|m| m.last_price)
            .map_or("--".to_string(), fmt::price);
        let vol = meta.map_or("--".to_string(), |m| fmt::count(m.volume_24h));
        let facts = market.map(adapt::position).unwrap_or_default();
        let pnl = market
            .and_then(unrealized)
            .map(|u| u.saturating_add(facts.realized))
            .unwrap_or(facts.realized);
        let (badge, badge_role) = match market {
            Some(m) => (m.state.badge(), badge_role(&m.state)),
            None => ("NO FEED".to_string(), Role::Stale),
        };
        let book_age = market.and_then(|m| book_age_now(state, m));
        let age = book_age.map_or("--".to_string(), fmt::age_ms);
        let stale = market.is_some_and(|m| m.resyncing || book_age.is_none_or(|a| a > 10_000));
        let is_selected = selected.as_ref() == Some(ticker);
        let base = if is_selected {
            theme.style(Role::Selection)
        } else {
            theme.style(Role::Text)
        };
        let marker = if is_selected { "›" } else { " " };
        let mut spans = vec![
            styled(
                format!(
                    "{marker}{:<tw$}",
                    fit(ticker.as_str(), ticker_w - 1),
                    tw = ticker_w - 1
                ),
                base,
            ),
            styled(format!(" {bid:>5}"), base.patch(theme.style(Role::BookBid))),
            styled(format!(" {ask:>5}"), base.patch(theme.style(Role::BookAsk))),
            if compact {
                styled(format!(" {:>5}", fmt::signed_count(facts.contracts)), base)
            } else {
                styled(
                    format!(
                        " {last:>5} {vol:>7} {:>5}",
                        fmt::signed_count(facts.contracts)
                    ),
                    base,
                )
            },
            styled(
                format!(" {:>8}", fmt::pnl(pnl)),
                base.patch(theme.style(pnl_role(pnl))),
            ),
            styled(
                format!(" {:<10}", fit(&badge, 10)),
                base.patch(theme.style(badge_role)),
            ),
            styled(
                format!(" {age:>5}"),
                if stale {
                    base.patch(theme.style(Role::Stale))
                } else {
                    base
                },
            ),
        ];
        if wide {
            let title = meta.map_or(String::new(), |m| m.title.clone());
            let room = inner.width.saturating_sub(84) as usize;
            spans.push(styled(
                format!("  {}", fit(&title, room)),
                base.patch(theme.style(Role::TextMuted)),
            ));
        }
        lines.push(Line::from(spans));
    }
    if rows.is_empty() {
        lines.push(Line::from(styled(
            if state.view().snapshot.version == 0 {
                "waiting for the desk's first snapshot…"
            } else {
                "no markets (/ searches all open markets)"
            },
            theme.style(Role::TextMuted),
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn ladder(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let ticker = state.selected_ticker();
    let replica = state.view();
    let market = ticker.as_ref().and_then(|t| replica.market(t.as_str()));
    let title = ticker.as_ref().map_or(String::new(), |t| t.to_string());
    let block = panel_block(Panel::Ladder, &title, state, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(market) = market else {
        frame.render_widget(
            Paragraph::new(styled(
                "no book for the selected market",
                theme.style(Role::TextMuted),
            )),
            inner,
        );
        return;
    };
    let own: Vec<&Order> = replica.snapshot.orders_in(market.ticker.as_str()).collect();
    let rows_each = (inner.height.saturating_sub(3) / 2) as usize;
    let max_size = market
        .yes_bids
        .iter()
        .chain(market.yes_asks.iter())
        .take(64)
        .map(|l| l.size.centi())
        .max()
        .unwrap_or(1)
        .max(1);
    let bar_w = inner.width.saturating_sub(36) as usize;
    let mut lines = vec![Line::from(vec![
        styled(
            format!("{:<9}", market.state.badge()),
            theme.style(badge_role(&market.state)),
        ),
        styled(
            format!("{:>6} {:>6} {:>8} {:<12}", "NO", "YES", "size", "mine"),
            theme.style(Role::Header),
        ),
    ])];
    let level_line = |level: &crate::core::book::Level, side: Side| -> Line<'static> {
        let (price_role, depth_role) = match side {
            Side::Ask => (Role::BookAsk, Role::BookAskDepth),
            Side::Bid => (Role::BookBid, Role::BookBidDepth),
        };
        let mine: Vec<&&Order> = own
            .iter()
            .filter(|o| o.yes_price == level.price && o.side == side)
            .collect();
        let mine_text = if mine.is_empty() {
            String::new()
        } else {
            let size: i64 = mine.iter().map(|o| o.remaining_count.centi()).sum();
            let ahead = (level.size.centi() - size).max(0);
            format!(
                "◆{} q≤{}",
                fmt::count(crate::core::num::Count::from_centi(size)),
                fmt::count(crate::core::num::Count::from_centi(ahead))
            )
        };
        let bar = (level.size.centi() * bar_w as i64 / max_size).max(1) as usize;
        let label = match side {
            Side::Ask => "ask",
            Side::Bid => "bid",
        };
        Line::from(vec![
            styled(format!("{label:<9}"), theme.style(Role::TextMuted)),
            styled(
                format!("{:>6}", fmt::no_price(level.price)),
                theme.style(Role::No),
            ),
            styled(
                format!(" {:>6}", fmt::price(level.price)),
                theme.style(price_role),
            ),
            styled(
                format!(" {:>8}", fmt::count(level.size)),
                theme.style(Role::Text),
            ),
            styled(
                format!(" {:<12}", mine_text),
                theme.style(Role::BookOwnOrder),
            ),
            styled("█".repeat(bar.min(bar_w)), theme.style(depth_role)),
        ])
    };
    let asks: Vec<_> = market.yes_asks.iter().take(rows_each).collect();
    for _ in asks.len()..rows_each {
        lines.push(Line::from(""));
    }
    for level in asks.iter().rev() {
        lines.push(level_line(level, Side::Ask));
    }
    let spread = match (market.yes_bids.first(), market.yes_asks.first()) {
        (Some(b), Some(a)) => format!(
            "── spread {} · mid {} ──",
            fmt::price(
                Price::from_micros(a.price.micros() - b.price.micros()).unwrap_or(Price::ZERO)
            ),
            fmt::price(
                Price::from_micros((a.price.micros() + b.price.micros()) / 2)
                    .unwrap_or(Price::ZERO)
            )
        ),
        _ => "── one-sided book ──".to_string(),
    };
    let age = book_age_now(state, market).map_or("--".to_string(), fmt::age_ms);
    let resync = if market.resyncing { " RESYNCING" } else { "" };
    lines.push(Line::from(vec![
        styled(spread, theme.style(Role::BookSpread)),
        styled(
            format!(" age {age}{resync}"),
            theme.style(if market.resyncing {
                Role::Stale
            } else {
                Role::TextMuted
            }),
        ),
    ]));
    for level in market.yes_bids.iter().take(rows_each) {
        lines.push(level_line(level, Side::Bid));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn owner_label(owner: &OrderOwner) -> String {
    match owner {
        OrderOwner::Operator => "manual".to_string(),
        OrderOwner::Strategy { name } => name.clone(),
        OrderOwner::External => "external".to_string(),
    }
}

fn orders(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let rows = state.order_rows();
    let block = panel_block(Panel::Orders, &format!("{}", rows.len()), state, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = vec![Line::from(styled(
        format!(
            " {:<18} {:<8} {:>5} {:>5} {:>9} {:<10} {:<8} {}",
            "market", "side", "YES", "NO", "left/size", "state", "owner", "id"
        ),
        theme.style(Role::Header),
    ))];
    let height = inner.height.saturating_sub(1) as usize;
    let selected = state.order_selected.min(rows.len().saturating_sub(1));
    let (first, last) = window(rows.len(), selected, height);
    for (i, order) in rows[first..last].iter().enumerate() {
        let is_selected = state.focus == Panel::Orders && first + i == selected;
        let base = if is_selected {
            theme.style(Role::Selection)
        } else {
            theme.style(Role::Text)
        };
        let side_role = match order.side {
            Side::Bid => Role::BookBid,
            Side::Ask => Role::BookAsk,
        };
        let side = match order.side {
            Side::Bid => "BUY YES",
            Side::Ask => "SELL YES",
        };
        lines.push(Line::from(vec![
            styled(if is_selected { "›" } else { " " }, base),
            styled(format!("{:<18} ", fit(order.ticker.as_str(), 18)), base),
            styled(format!("{side:<8}"), base.patch(theme.style(side_role))),
            styled(
                format!(
                    " {:>5} {:>5} {:>9} {:<10} {:<8} {}",
                    fmt::price(order.yes_price),
                    fmt::no_price(order.yes_price),
                    format!(
                        "{}/{}",
                        fmt::count(order.remaining_count),
                        fmt::count(order.initial_count)
                    ),
                    fit(&format!("{:?}", order.state), 10),
                    fit(&owner_label(&order.owner), 8),
                    short_id(&order.client_order_id)
                ),
                base,
            ),
        ]));
    }
    if rows.is_empty() {
        lines.push(Line::from(styled(
            "no working orders",
            theme.style(Role::TextMuted),
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn positions(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let block = panel_block(Panel::Positions, "", state, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let replica = state.view();
    let mut lines = vec![Line::from(styled(
        format!(
            "{:<17} {:>5} {:>6} {:>5} {:>8} {:>8} {:>6}",
            "market", "qty", "avg", "mark", "unreal", "real", "fees"
        ),
        theme.style(Role::Header),
    ))];
    let held: Vec<&MarketView> = replica
        .snapshot
        .markets
        .iter()
        .filter(|m| {
            let f = adapt::position(m);
            !f.contracts.is_zero() || f.realized != Money::ZERO || f.fees != Money::ZERO
        })
        .collect();
    for market in held.iter().take(inner.height.saturating_sub(1) as usize) {
        let f = adapt::position(market);
        let avg = if f.contracts.is_zero() {
            "--".to_string()
        } else {
            let per = f.cost.micros() * 100 / f.contracts.centi().abs();
            let side = if f.contracts.is_positive() { "Y" } else { "N" };
            format!(
                "{side}{}",
                Price::from_micros(per).map_or("?".to_string(), fmt::price)
            )
        };
        let mark = mid_of(market)
            .and_then(Price::from_micros)
            .map_or("--".to_string(), fmt::price);
        let unreal = unrealized(market).unwrap_or(Money::ZERO);
        lines.push(Line::from(vec![
            styled(
                format!(
                    "{:<17} {:>5} {:>6} {:>5} ",
                    fit(market.ticker.as_str(), 17),
                    fmt::signed_count(f.contracts),
                    avg,
                    mark
                ),
                theme.style(Role::Text),
            ),
            styled(
                format!("{:>8}", fmt::pnl(unreal)),
                theme.style(pnl_role(unreal)),
            ),
            styled(
                format!(" {:>8}", fmt::pnl(f.realized)),
                theme.style(pnl_role(f.realized)),
            ),
            styled(
                format!(" {:>6}", fmt::money(f.fees)),
                theme.style(Role::TextMuted),
            ),
        ]));
    }
    if held.is_empty() {
        lines.push(Line::from(styled(
            "flat everywhere",
            theme.style(Role::TextMuted),
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn strategies(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let block = panel_block(Panel::Strategies, "", state, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let replica = state.view();
    let mut lines = Vec::new();
    for market in replica
        .snapshot
        .markets
        .iter()
        .filter(|m| m.strategy.is_some())
    {
        let activity = replica.strategies.get(&market.ticker);
        let reasons = if market.reasons.is_empty() {
            String::new()
        } else {
            format!(
                " [{}]",
                market
                    .reasons
                    .iter()
                    .map(|r| r.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        lines.push(Line::from(vec![
            styled(
                format!("{:<16} ", fit(market.ticker.as_str(), 16)),
                theme.style(Role::Text),
            ),
            styled(
                format!("{:<6} ", market.strategy.unwrap_or("-")),
                theme.style(Role::TextMuted),
            ),
            styled(market.state.badge(), theme.style(badge_role(&market.state))),
            styled(reasons, theme.style(Role::TextMuted)),
        ]));
        if let Some(params) = state.strategy_params.get(&market.ticker) {
            lines.push(Line::from(styled(
                format!(
                    "  {}",
                    fit(
                        &crate::tui::app::params_summary(params),
                        inner.width.saturating_sub(2) as usize
                    )
                ),
                theme.style(Role::TextMuted),
            )));
        }
        if let Some(activity) = activity {
            let last = activity.last_action.clone().unwrap_or_else(|| "-".into());
            let refusals = match &activity.last_refusal {
                Some(r) => format!(" · {} refused: {r}", activity.refusals),
                None => String::new(),
            };
            lines.push(Line::from(styled(
                format!(
                    "  {}{}",
                    fit(&last, inner.width.saturating_sub(4) as usize),
                    refusals
                ),
                theme.style(Role::TextMuted),
            )));
        }
    }
    if lines.is_empty() {
        lines.push(Line::from(styled(
            "no strategy set (e edits the selected market's)",
            theme.style(Role::TextMuted),
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A book's age now, not when the snapshot was taken: a quiet market's age keeps growing between
/// snapshots, so a book that stopped updating never looks fresh.
fn book_age_now(state: &AppState, market: &MarketView) -> Option<u64> {
    let published_ms = state.view().snapshot.wall_ms;
    let since_snapshot = if published_ms > 0 {
        u64::try_from(state.now_ms.saturating_sub(published_ms)).unwrap_or(0)
    } else {
        0
    };
    market
        .book_age_ms
        .map(|age| age.saturating_add(since_snapshot))
}

/// A P&L panel value padded to its column, with at least one space after it so a wide
/// value (a six-figure balance) never runs into the next label.
fn column(value: String) -> String {
    format!("{value:<9} ")
}

fn pnl(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let block = panel_block(Panel::Pnl, "today", state, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let replica = state.view();
    let p = &replica.snapshot.pnl;
    let balance = replica.snapshot.balance;
    let open_cost: i64 = replica
        .snapshot
        .orders
        .iter()
        .map(|o| {
            let per = match o.side {
                Side::Bid => o.yes_price.micros(),
                Side::Ask => 1_000_000 - o.yes_price.micros(),
            };
            per * o.remaining_count.centi() / 100
        })
        .sum();
    let mut lines = vec![
        Line::from(vec![
            styled("realized ", theme.style(Role::TextMuted)),
            styled(
                column(fmt::pnl(p.realized)),
                theme.style(pnl_role(p.realized)),
            ),
            styled("unrealized ", theme.style(Role::TextMuted)),
            styled(
                column(fmt::pnl(p.unrealized)),
                theme.style(pnl_role(p.unrealized)),
            ),
        ]),
        Line::from(vec![
            styled("fees     ", theme.style(Role::TextMuted)),
            styled(column(fmt::money(p.fees)), theme.style(Role::Text)),
            styled("daily      ", theme.style(Role::TextMuted)),
            styled(fmt::pnl(p.daily), theme.style(pnl_role(p.daily))),
        ]),
        Line::from(vec![
            styled("balance  ", theme.style(Role::TextMuted)),
            styled(
                column(balance.map_or("--".to_string(), fmt::money)),
                theme.style(Role::Text),
            ),
            styled("buying pwr ", theme.style(Role::TextMuted)),
            styled(
                balance.map_or("--".to_string(), |b| {
                    fmt::money(b.saturating_sub(Money::from_micros(open_cost)))
                }),
                theme.style(Role::Text),
            ),
        ]),
    ];
    lines.truncate(inner.height as usize);
    let used = lines.len() as u16;
    frame.render_widget(Paragraph::new(lines), inner);
    if inner.height > used {
        let headroom = replica.loss_headroom(state.config.max_daily_loss);
        let role = if headroom < 0.25 {
            Role::GaugeDanger
        } else {
            Role::GaugeOk
        };
        let gauge = Gauge::default()
            .ratio(headroom.clamp(0.0, 1.0))
            .label(format!(
                "loss-limit headroom {}% of {}",
                (headroom * 100.0).round() as i64,
                fmt::money(state.config.max_daily_loss)
            ))
            .gauge_style(theme.style(role));
        frame.render_widget(
            gauge,
            Rect {
                y: inner.y + used,
                height: 1,
                ..inner
            },
        );
    }
    if inner.height > used + 1 {
        let data = shifted(replica.pnl_history.iter().copied());
        let area = Rect {
            y: inner.y + used + 1,
            height: inner.height - used - 1,
            ..inner
        };
        frame.render_widget(sparkline(&data).style(theme.style(Role::Chart)), area);
    }
}

/// Series shifted so its minimum sits at 1 (sparklines start at zero).
fn shifted(values: impl Iterator<Item = i64> + Clone) -> Vec<u64> {
    let min = values.clone().min().unwrap_or(0);
    values.map(|v| (v - min) as u64 / 100 + 1).collect()
}

fn chart(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let ticker = state.selected_ticker();
    let replica = state.view();
    let series = ticker.as_ref().and_then(|t| replica.mids.get(t));
    let range = series
        .and_then(|s| Some((*s.iter().min()?, *s.iter().max()?)))
        .map(|(lo, hi)| {
            format!(
                "mid {}–{}",
                Price::from_micros(lo).map_or("?".into(), fmt::price),
                Price::from_micros(hi).map_or("?".into(), fmt::price)
            )
        })
        .unwrap_or_default();
    let block = panel_block(Panel::Chart, &range, state, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(series) = series else {
        return;
    };
    let width = inner.width as usize;
    let data = shifted(
        series
            .iter()
            .copied()
            .skip(series.len().saturating_sub(width)),
    );
    frame.render_widget(sparkline(&data).style(theme.style(Role::Chart)), inner);
}

/// A sparkline whose scale leaves a flat series near the bottom instead of filling the box.
fn sparkline(data: &[u64]) -> Sparkline<'_> {
    let top = data.iter().copied().max().unwrap_or(1);
    Sparkline::default().data(data).max(top.max(1) * 2)
}

fn tape(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let block = panel_block(Panel::Tape, "", state, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let replica = state.view();
    let lines: Vec<Line> = replica
        .tape
        .iter()
        .rev()
        .take(inner.height as usize)
        .map(|row| {
            let role = match row.side {
                Side::Bid => Role::PriceUp,
                Side::Ask => Role::PriceDown,
            };
            let arrow = match row.side {
                Side::Bid => "↑",
                Side::Ask => "↓",
            };
            Line::from(vec![
                styled(
                    format!("{} ", fmt::clock(row.wall_ms)),
                    theme.style(Role::TextMuted),
                ),
                styled(
                    format!("{:<14} ", fit(row.ticker.as_str(), 14)),
                    theme.style(Role::Text),
                ),
                styled(
                    format!(
                        "{arrow}{:>5} ×{:<5}",
                        fmt::price(row.yes_price),
                        fmt::count(row.count)
                    ),
                    theme.style(role),
                ),
                styled(
                    if row.ours { " mine" } else { "" },
                    theme.style(Role::BookOwnOrder),
                ),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn health(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let block = panel_block(Panel::Health, "", state, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let h = &state.view().snapshot.health;
    let opt = |v: Option<i64>| v.map_or("--".to_string(), |v| format!("{v}ms"));
    let text = [
        format!(
            "feed lag p50 {} p99 {}",
            opt(h.feed_lag_p50_ms),
            opt(h.feed_lag_p99_ms)
        ),
        format!(
            "reconnects {} resyncs {} gaps {}",
            h.reconnects, h.resyncs, h.gaps
        ),
        format!(
            "rejects {} (streak {})",
            h.rejects, h.business_reject_streak
        ),
        format!(
            "budget read {}/{} write {}/{}",
            h.read_tokens, h.read_capacity, h.write_tokens, h.write_capacity
        ),
        format!(
            "writes in flight {} cancels waiting {}",
            h.writes_in_flight, h.cancels_waiting
        ),
        format!(
            "clock offset {}ms · frames {}",
            h.clock_offset_ms, h.ws_frames
        ),
        format!(
            "exchange {} · reconcile fails {} · journal drops {}",
            match h.exchange_trading_active {
                Some(true) => "open",
                Some(false) => "PAUSED",
                None => "?",
            },
            h.reconcile_failures,
            h.journal_dropped
        ),
    ];
    let mut lines: Vec<Line> = text
        .into_iter()
        .map(|t| Line::from(styled(t, theme.style(Role::Text))))
        .collect();
    let rest = &state.view().rest;
    if !rest.is_empty() {
        lines.push(Line::from(styled(
            format!(
                "{:<22} {:>6} {:>5} {:>8} {:>8}",
                "REST endpoint", "calls", "fail", "mean", "max"
            ),
            theme.style(Role::Header),
        )));
    }
    let mut rows: Vec<_> = rest.iter().collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.requests));
    for row in rows {
        let role = if row.failures > 0 {
            Role::LogWarn
        } else {
            Role::Text
        };
        lines.push(Line::from(styled(
            format!(
                "{:<22} {:>6} {:>5} {:>8} {:>8}",
                fit(&row.endpoint, 22),
                row.requests,
                row.failures,
                micros(row.mean_us),
                micros(row.max_us)
            ),
            theme.style(role),
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A round trip: `850µs`, `12ms`.
fn micros(us: u64) -> String {
    if us < 10_000 {
        format!("{us}µs")
    } else {
        format!("{}ms", us / 1_000)
    }
}

fn log(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let block = panel_block(Panel::Log, "", state, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let replica = state.view();
    let height = inner.height as usize;
    let skip = replica.log.len().saturating_sub(height);
    let lines: Vec<Line> = replica
        .log
        .iter()
        .skip(skip)
        .map(|line| {
            let role = match line.level {
                LogLevel::Info => Role::LogInfo,
                LogLevel::Warn => Role::LogWarn,
                LogLevel::Error => Role::LogError,
            };
            Line::from(vec![
                Span::styled(
                    format!("{} ", fmt::clock(line.wall_ms)),
                    theme.style(Role::TextMuted),
                ),
                Span::styled(line.text.clone(), theme.style(role)),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
