//! Pure views: `render(frame, &AppState, &Theme)` draws the whole screen from the state. No I/O,
//! no clock reads (the time shown is `state.now_ms`).
//!
//! ```text
//! ┌ status bar: ENV · account · connection · lag · budget · trading state · clock ───────┐
//! │ HALTED banner (only while halted)                                                     │
//! │ newest notice                                                                         │
//! ├ watchlist ───────────────┬ book ladder ───────────┬ strategies / health / tape / log ┤
//! │ orders · positions       │ price chart · P&L      │                                  │
//! └──────────────────────────┴────────────────────────┴──────────────────────────────────┘
//! ```
//! Three columns from 160x45, two from 100 columns, one stacked layout below. A focused panel
//! that has no slot in the current layout takes the last slot, so every panel is reachable.

mod chrome;
mod dialogs;
mod panels;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use crate::tui::app::{AppState, Panel};
use crate::tui::theme::{Role, Theme};

pub use chrome::keys_table_markdown;

/// Draw the whole screen.
pub fn render(frame: &mut Frame, state: &AppState, theme: &Theme) {
    let area = frame.area();
    frame.render_widget(Block::new().style(theme.style(Role::Text)), area);
    let halted = state.is_halted();
    let banner = if halted { 3 } else { 0 };
    let notice = u16::from(!state.notices.is_empty());
    let [status, banner_area, notice_area, main] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner),
        Constraint::Length(notice),
        Constraint::Fill(1),
    ])
    .areas(area);
    chrome::status_bar(frame, status, state, theme);
    if halted {
        chrome::halt_banner(frame, banner_area, state, theme);
    }
    if notice > 0 {
        chrome::notice_line(frame, notice_area, state, theme);
    }
    for (panel, rect) in place_panels(main, state) {
        panels::render_panel(frame, rect, panel, state, theme);
    }
    dialogs::render_modal(frame, area, state, theme);
}

/// Where each panel goes in `area` for the state's size, hidden set, zoom and focus.
pub fn place_panels(area: Rect, state: &AppState) -> Vec<(Panel, Rect)> {
    use Panel::*;
    if state.zoomed {
        return vec![(state.focus, area)];
    }
    let columns: Vec<(u16, Vec<(Panel, u16)>)> = if area.width >= 160 && area.height >= 40 {
        vec![
            (45, vec![(Watchlist, 50), (Orders, 25), (Positions, 25)]),
            (30, vec![(Ladder, 45), (Chart, 25), (Pnl, 30)]),
            (
                25,
                vec![(Strategies, 25), (Health, 25), (Tape, 25), (Log, 25)],
            ),
        ]
    } else if area.width >= 100 {
        vec![
            (
                55,
                vec![(Watchlist, 45), (Orders, 20), (Positions, 20), (Log, 15)],
            ),
            (45, vec![(Ladder, 50), (Pnl, 25), (Strategies, 25)]),
        ]
    } else {
        vec![(100, vec![(Watchlist, 50), (Ladder, 50)])]
    };
    let mut columns: Vec<(u16, Vec<(Panel, u16)>)> = columns
        .into_iter()
        .map(|(w, panels)| {
            (
                w,
                panels
                    .into_iter()
                    .filter(|(p, _)| !state.hidden.contains(p))
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, panels)| !panels.is_empty())
        .collect();
    let placed = columns
        .iter()
        .flat_map(|(_, ps)| ps.iter().map(|(p, _)| *p))
        .any(|p| p == state.focus);
    if !placed
        && !state.hidden.contains(&state.focus)
        && let Some((_, last_column)) = columns.last_mut()
        && let Some(last) = last_column.last_mut()
    {
        last.0 = state.focus;
    }
    if area.width < 100 && columns.len() == 1 {
        // Stacked: the watchlist on top, the rest side by side below.
        let (_, panels) = &columns[0];
        if panels.len() == 2 {
            let [top, bottom] =
                Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(area);
            return vec![(panels[0].0, top), (panels[1].0, bottom)];
        }
    }
    let col_rects =
        Layout::horizontal(columns.iter().map(|(w, _)| Constraint::Fill(*w))).split(area);
    let mut out = Vec::new();
    for ((_, panels), col) in columns.iter().zip(col_rects.iter()) {
        let rows = Layout::vertical(panels.iter().map(|(_, h)| Constraint::Fill(*h))).split(*col);
        for ((panel, _), rect) in panels.iter().zip(rows.iter()) {
            out.push((*panel, *rect));
        }
    }
    out
}

/// A bordered block titled with the panel name; the focused one is marked by style and by a
/// `▶` so focus never depends on colour.
fn panel_block<'a>(panel: Panel, extra: &str, state: &AppState, theme: &Theme) -> Block<'a> {
    let focused = state.focus == panel;
    let (border, title_style) = if focused {
        (
            theme.style(Role::BorderFocused),
            theme.style(Role::TitleFocused),
        )
    } else {
        (theme.style(Role::Border), theme.style(Role::Title))
    };
    let marker = if focused { "▶ " } else { "" };
    let mut spans = vec![Span::styled(
        format!("{marker}{}", panel.title()),
        title_style,
    )];
    if !extra.is_empty() {
        spans.push(Span::styled(
            format!(" {extra}"),
            theme.style(Role::TextMuted),
        ));
    }
    Block::bordered()
        .border_style(border)
        .title(Line::from(spans))
        .style(theme.style(Role::Text))
}

fn styled<'a>(text: impl Into<String>, style: Style) -> Span<'a> {
    Span::styled(text.into(), style)
}
