//! Dialogs drawn above the panels: order ticket, confirmation, market search, watchlist filter,
//! strategy parameters, help (generated from the live keymap) and the event view.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::chrome::first_key;
use super::styled;
use crate::tui::app::{AppState, Modal, Outcome, Ticket, TicketField, TradeAction, search_matches};
use crate::tui::fmt::{self, fit};
use crate::tui::keymap::{Action, Layer};
use crate::tui::theme::{Role, Theme};

pub fn render_modal(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let Some(modal) = &state.modal else {
        return;
    };
    match modal {
        Modal::Ticket(ticket) => ticket_dialog(frame, area, state, theme, ticket),
        Modal::Confirm(dialog) => {
            let mut lines: Vec<Line> = dialog
                .lines
                .iter()
                .map(|l| Line::from(styled(l.clone(), theme.style(Role::Text))))
                .collect();
            lines.push(Line::from(""));
            lines.push(Line::from(styled(
                format!(
                    "{} confirm · {} cancel",
                    first_key(&state.keymap, Layer::Confirm, Action::Accept),
                    first_key(&state.keymap, Layer::Confirm, Action::Reject)
                ),
                theme.style(Role::KeyHint),
            )));
            boxed(
                frame,
                area,
                theme,
                "Confirm",
                70,
                lines.len() as u16 + 2,
                lines,
            );
        }
        Modal::Search { query, selected } => {
            let matches = search_matches(&state.replica, query);
            let mut lines = vec![Line::from(vec![
                styled("search: ", theme.style(Role::TextMuted)),
                styled(format!("{query}▏"), theme.style(Role::InputFocused)),
            ])];
            let height = area.height.saturating_sub(8).min(16) as usize;
            let first = selected.saturating_sub(height.saturating_sub(1));
            for (i, ticker) in matches.iter().enumerate().skip(first).take(height) {
                let meta = state.replica.meta(ticker.as_str());
                let watched = if state.watchlist.contains(ticker) {
                    "✓"
                } else {
                    " "
                };
                let style = if i == *selected {
                    theme.style(Role::Selection)
                } else {
                    theme.style(Role::Text)
                };
                lines.push(Line::from(styled(
                    format!(
                        "{}{watched} {:<26} {}",
                        if i == *selected { "›" } else { " " },
                        fit(ticker.as_str(), 26),
                        fit(&meta.map_or(String::new(), |m| m.title.clone()), 40)
                    ),
                    style,
                )));
            }
            if matches.is_empty() {
                lines.push(Line::from(styled(
                    "no open market matches",
                    theme.style(Role::TextMuted),
                )));
            }
            lines.push(Line::from(styled(
                format!(
                    "{} add to watchlist · {} close",
                    first_key(&state.keymap, Layer::Search, Action::Accept),
                    first_key(&state.keymap, Layer::Search, Action::Close)
                ),
                theme.style(Role::KeyHint),
            )));
            boxed(
                frame,
                area,
                theme,
                "Market search",
                76,
                lines.len() as u16 + 2,
                lines,
            );
        }
        Modal::Filter => {
            let lines = vec![
                Line::from(vec![
                    styled("filter: ", theme.style(Role::TextMuted)),
                    styled(
                        format!("{}▏", state.filter),
                        theme.style(Role::InputFocused),
                    ),
                ]),
                Line::from(styled("enter keep · esc clear", theme.style(Role::KeyHint))),
            ];
            boxed(frame, area, theme, "Filter watchlist", 50, 4, lines);
        }
        Modal::Params {
            ticker,
            text,
            error,
        } => {
            let mut lines: Vec<Line> = text
                .lines()
                .map(|l| Line::from(styled(l.to_string(), theme.style(Role::Input))))
                .collect();
            lines.push(Line::from(styled("▏", theme.style(Role::InputFocused))));
            match error {
                Some(e) => lines.push(Line::from(styled(
                    format!("invalid: {e}"),
                    theme.style(Role::NoticeError),
                ))),
                None => lines.push(Line::from(styled(
                    "TOML; unnamed fields keep the maker defaults",
                    theme.style(Role::TextMuted),
                ))),
            }
            lines.push(Line::from(styled(
                "enter validate & set · esc close",
                theme.style(Role::KeyHint),
            )));
            boxed(
                frame,
                area,
                theme,
                &format!("Strategy parameters: {ticker}"),
                70,
                lines.len() as u16 + 2,
                lines,
            );
        }
        Modal::Help { scroll } => help(frame, area, state, theme, *scroll),
        Modal::Event { ticker, scroll } => {
            event_view(frame, area, state, theme, ticker.as_str(), *scroll)
        }
    }
}

/// A centred box of `width`x`height` (clamped to the screen) with `lines` inside.
fn boxed(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: &str,
    width: u16,
    height: u16,
    lines: Vec<Line>,
) {
    let rect = centred(area, width.min(area.width), height.min(area.height));
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(Line::from(styled(
            format!(" {title} "),
            theme.style(Role::TitleFocused),
        )))
        .border_style(theme.style(Role::BorderFocused))
        .style(theme.style(Role::Text));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    cell
}

fn ticket_dialog(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, ticket: &Ticket) {
    let market = state.replica.market(ticket.ticker.as_str());
    let preview = ticket.preview(
        market,
        &state.replica.snapshot.trading,
        &state.config.limits,
    );
    let field = |f: TicketField, label: &str, value: String| -> Line<'static> {
        let focused = ticket.field == f;
        Line::from(vec![
            styled(
                format!("{}{label:<10}", if focused { "›" } else { " " }),
                theme.style(Role::TextMuted),
            ),
            styled(
                value,
                theme.style(if focused {
                    Role::InputFocused
                } else {
                    Role::Input
                }),
            ),
        ])
    };
    let outcome = match ticket.outcome {
        Outcome::Yes => "YES",
        Outcome::No => "NO",
    };
    let action = match ticket.action {
        TradeAction::Buy => "BUY",
        TradeAction::Sell => "SELL",
    };
    let tif = match ticket.time_in_force {
        crate::core::risk::TimeInForce::GoodTillCanceled => "GTC",
        crate::core::risk::TimeInForce::ImmediateOrCancel => "IOC",
        crate::core::risk::TimeInForce::FillOrKill => "FOK",
    };
    let mut lines = vec![
        field(TicketField::Outcome, "outcome", outcome.to_string()),
        field(TicketField::Action, "action", action.to_string()),
        field(
            TicketField::Price,
            "price",
            format!(
                "{} {outcome}  (= YES {} / NO {})",
                fmt::price(ticket.price),
                fmt::price(preview.yes_price),
                fmt::no_price(preview.yes_price)
            ),
        ),
        field(
            TicketField::Count,
            "count",
            format!("{} contracts", fmt::count(ticket.count)),
        ),
        field(TicketField::TimeInForce, "tif", tif.to_string()),
        field(
            TicketField::PostOnly,
            "post-only",
            if ticket.post_only { "yes" } else { "no" }.to_string(),
        ),
        Line::from(""),
        Line::from(styled(
            format!(
                "sends: {} {} @ YES {} · max cost {}",
                crate::tui::replica::side_word(preview.side),
                fmt::count(ticket.count),
                fmt::price(preview.yes_price),
                fmt::money(preview.max_cost)
            ),
            theme.style(Role::Text),
        )),
        Line::from(styled(
            match (preview.avg_fill, preview.slippage_micros) {
                (Some(avg), Some(slip)) => format!(
                    "visible book fills {} now, avg {} {outcome}, slippage {} vs best",
                    fmt::count(preview.fillable),
                    fmt::price(avg),
                    fmt::price(
                        crate::core::num::Price::from_micros(slip.max(0))
                            .unwrap_or(crate::core::num::Price::ZERO)
                    )
                ),
                _ => "rests on the book: nothing in the visible book crosses".to_string(),
            },
            theme.style(Role::Text),
        )),
        match &preview.verdict {
            Ok(()) => Line::from(styled(
                "risk pre-check: ✓ passes (the engine's gate decides)",
                theme.style(Role::PnlPositive),
            )),
            Err(why) => Line::from(styled(
                format!("risk pre-check: ✗ {why}"),
                theme.style(Role::PnlNegative),
            )),
        },
        Line::from(""),
        Line::from(styled(
            format!(
                "{} send · {} close · {} next · {}/{} price · {}/{} count · {} buy/sell · {} YES/NO",
                first_key(&state.keymap, Layer::Ticket, Action::Submit),
                first_key(&state.keymap, Layer::Ticket, Action::Close),
                first_key(&state.keymap, Layer::Ticket, Action::NextField),
                first_key(&state.keymap, Layer::Ticket, Action::PriceUp),
                first_key(&state.keymap, Layer::Ticket, Action::PriceDown),
                first_key(&state.keymap, Layer::Ticket, Action::CountUp),
                first_key(&state.keymap, Layer::Ticket, Action::CountDown),
                first_key(&state.keymap, Layer::Ticket, Action::ToggleAction),
                first_key(&state.keymap, Layer::Ticket, Action::ToggleOutcome),
            ),
            theme.style(Role::KeyHint),
        )),
    ];
    let title = match &ticket.amend_of {
        Some(id) => format!("Amend {} {}", ticket.ticker, crate::tui::app::short_id(id)),
        None => format!("Order ticket: {}", ticket.ticker),
    };
    if state.is_halted() {
        lines.insert(
            0,
            Line::from(styled(
                "HALTED: this order will be refused",
                theme.style(Role::HaltBanner),
            )),
        );
    }
    boxed(
        frame,
        area,
        theme,
        &title,
        74,
        lines.len() as u16 + 2,
        lines,
    );
}

fn help(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, scroll: u16) {
    let mut lines = vec![Line::from(styled(
        format!(
            "KILL SWITCH: {} (always, before every other key; no confirmation)",
            state
                .keymap
                .kill_keys()
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        theme.style(Role::HaltBanner),
    ))];
    for layer in Layer::ALL {
        let bindings = state.keymap.layer_bindings(layer);
        if bindings.is_empty() {
            continue;
        }
        lines.push(Line::from(""));
        lines.push(Line::from(styled(
            format!("{} — {}", layer.name(), layer.describe()),
            theme.style(Role::Header),
        )));
        for (action, keys) in bindings {
            let keys = keys
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(" ");
            lines.push(Line::from(vec![
                styled(format!("  {keys:<18}"), theme.style(Role::KeyHint)),
                styled(action.description().to_string(), theme.style(Role::Text)),
            ]));
        }
    }
    let width = area.width.saturating_sub(4).min(96);
    let height = area.height.saturating_sub(2);
    let rect = centred(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(Line::from(styled(
            " Help (from the live keymap) ",
            theme.style(Role::TitleFocused),
        )))
        .border_style(theme.style(Role::BorderFocused))
        .style(theme.style(Role::Text));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
}

fn event_view(
    frame: &mut Frame,
    area: Rect,
    state: &AppState,
    theme: &Theme,
    ticker: &str,
    scroll: u16,
) {
    let replica = &state.replica;
    let meta = replica.meta(ticker);
    let event = meta.map(|m| m.event_ticker.clone()).unwrap_or_default();
    // Narrow screens give the ticker and outcome columns less room so a row fits on one line.
    let (ticker_w, outcome_w) = if area.width >= 100 {
        (28, 22)
    } else {
        (20, 12)
    };
    let mut siblings: Vec<_> = replica
        .catalog
        .values()
        .filter(|m| !event.is_empty() && m.event_ticker == event)
        .collect();
    siblings.sort_by(|a, b| a.ticker.cmp(&b.ticker));
    let mut lines = vec![
        Line::from(styled(
            meta.map_or(ticker.to_string(), |m| m.title.clone()),
            theme.style(Role::Title),
        )),
        Line::from(styled(
            format!(
                "event {} · closes in {}",
                if event.is_empty() { "?" } else { &event },
                meta.and_then(|m| m.close_ms)
                    .map_or("?".to_string(), |c| fmt::countdown(c - state.now_ms))
            ),
            theme.style(Role::TextMuted),
        )),
        Line::from(""),
        Line::from(styled(
            format!(
                " {:<tw$} {:<ow$} {:>5} {:>5} {:>5} {:>10}",
                "market",
                "outcome",
                "bid",
                "ask",
                "pos",
                "control",
                tw = ticker_w,
                ow = outcome_w
            ),
            theme.style(Role::Header),
        )),
    ];
    for m in &siblings {
        let view = replica.market(&m.ticker);
        let bid = view
            .and_then(|v| v.yes_bids.first())
            .map_or("--".into(), |l| fmt::price(l.price));
        let ask = view
            .and_then(|v| v.yes_asks.first())
            .map_or("--".into(), |l| fmt::price(l.price));
        let pos = view.map_or("--".into(), |v| {
            fmt::signed_count(crate::tui::adapt::position(v).contracts)
        });
        let badge = view.map_or("no feed".into(), |v| v.state.badge());
        let style = if m.ticker == ticker {
            theme.style(Role::Selection)
        } else {
            theme.style(Role::Text)
        };
        lines.push(Line::from(styled(
            format!(
                "{}{:<tw$} {:<ow$} {bid:>5} {ask:>5} {pos:>5} {:>10}",
                if m.ticker == ticker { "›" } else { " " },
                fit(&m.ticker, ticker_w),
                fit(&m.yes_subtitle, outcome_w),
                fit(&badge, 10),
                tw = ticker_w,
                ow = outcome_w
            ),
            style,
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(styled("rules", theme.style(Role::Header))));
    lines.push(Line::from(styled(
        meta.map_or(
            "(no rules text: the market list has not arrived)".to_string(),
            |m| m.rules.clone(),
        ),
        theme.style(Role::Text),
    )));
    let width = area.width.saturating_sub(4).min(100);
    let height = area.height.saturating_sub(2).min(lines.len() as u16 + 6);
    let rect = centred(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(Line::from(styled(
            format!(" Event view: {ticker} "),
            theme.style(Role::TitleFocused),
        )))
        .border_style(theme.style(Role::BorderFocused))
        .style(theme.style(Role::Text));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        inner,
    );
}
