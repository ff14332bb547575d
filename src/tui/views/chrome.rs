//! Status bar, HALTED banner, notices, and the keys table generated from a keymap.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::styled;
use crate::core::control::TradingState;
use crate::runtime::snapshot::KillPhase;
use crate::tui::app::AppState;
use crate::tui::fmt;
use crate::tui::keymap::{Action, Keymap, Layer};
use crate::tui::replica::LogLevel;
use crate::tui::theme::{Role, Theme};

pub fn status_bar(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let snapshot = &state.view().snapshot;
    let health = &snapshot.health;
    let env_role = match state.config.environment.as_str() {
        "PROD" => Role::StatusLive,
        "DEMO" => Role::StatusDemo,
        "PAPER" => Role::StatusPaper,
        _ => Role::StatusSim,
    };
    let bar = theme.style(Role::StatusBar);
    let mut spans = vec![
        styled(
            format!(" {} ", state.config.environment),
            env_role_style(theme, env_role),
        ),
        styled(format!(" {} ", state.config.account), bar),
    ];
    let (conn, conn_role) = if snapshot.version == 0 {
        ("○ CONNECTING", Role::StatusWarn)
    } else if health.connected {
        ("● FEED", Role::StatusOk)
    } else {
        ("○ DISCONNECTED", Role::StatusWarn)
    };
    spans.push(styled(format!(" {conn} "), theme.style(conn_role)));
    let lag = match (health.feed_lag_p50_ms, health.feed_lag_p99_ms) {
        (Some(p50), Some(p99)) => format!(" lag {p50}/{p99}ms "),
        _ => " lag -- ".to_string(),
    };
    spans.push(styled(lag, bar));
    spans.push(styled(
        format!(
            " R {}/{} W {}/{} ",
            health.read_tokens, health.read_capacity, health.write_tokens, health.write_capacity
        ),
        bar,
    ));
    match &snapshot.trading {
        TradingState::Active if state.kill_requested.is_none() => {
            spans.push(styled(" ACTIVE ", theme.style(Role::StatusOk)))
        }
        _ => spans.push(styled(" HALTED ", theme.style(Role::StatusHalted))),
    }
    if state.config.environment == "PAPER" {
        spans.push(styled(
            " simulated fills: nothing reaches the exchange ",
            theme.style(Role::StatusPaper),
        ));
    }
    if state.recording {
        spans.push(styled(" ● REC ", theme.style(Role::StatusWarn)));
    }
    if state.frozen.is_some() {
        spans.push(styled(
            " ❄ FROZEN (display only) ",
            theme.style(Role::Frozen),
        ));
    }
    if state.bell {
        spans.push(styled(" bell ", bar));
    }
    let help = first_key(&state.keymap, Layer::Global, Action::Help);
    let kill = state
        .keymap
        .kill_keys()
        .first()
        .map(|k| k.to_string())
        .unwrap_or_default();
    spans.push(styled(
        format!(" {kill} KILL · {help} help "),
        theme.style(Role::KeyHint),
    ));
    spans.push(styled(format!(" {} UTC ", fmt::clock(state.now_ms)), bar));
    frame.render_widget(Paragraph::new(Line::from(spans)).style(bar), area);
}

fn env_role_style(theme: &Theme, role: Role) -> ratatui::style::Style {
    theme.style(role)
}

pub fn halt_banner(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let snapshot = &state.replica.snapshot;
    let reason = match &snapshot.trading {
        TradingState::Halted { reason, .. } => reason.clone(),
        TradingState::Active => state
            .kill_requested
            .clone()
            .unwrap_or_else(|| "kill requested".to_string()),
    };
    let kill = &snapshot.kill;
    let progress = match kill.phase {
        KillPhase::Idle => "cancels sent, waiting for the engine".to_string(),
        KillPhase::Sweeping => format!(
            "sweeping: cancels pending {} → 0 (sweep {})",
            kill.cancels_pending, kill.sweeps
        ),
        KillPhase::Pending => {
            "exchange unreachable: kill PENDING, runs first on reconnect".to_string()
        }
        KillPhase::Flat => match kill.time_to_flat_ms {
            Some(ms) => format!("FLAT: cancels pending 0, time to flat {}", fmt::age_ms(ms)),
            None => "FLAT: cancels pending 0".to_string(),
        },
        KillPhase::Failed => format!(
            "ALARM: sweeps exhausted, {} orders still resting",
            kill.exchange_resting.unwrap_or(kill.cancels_pending)
        ),
    };
    let reset = first_key(&state.keymap, Layer::Global, Action::ResetHalt);
    let style = theme.style(Role::HaltBanner);
    let lines = vec![
        Line::from(format!("■■ HALTED ■■  {reason}")),
        Line::from(progress),
        Line::from(format!(
            "only cancels leave · {reset} resets (asks to confirm)"
        )),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .style(style)
            .alignment(Alignment::Center),
        area,
    );
}

pub fn notice_line(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let Some(notice) = state.notices.front() else {
        return;
    };
    let (role, tag) = match notice.level {
        LogLevel::Info => (Role::NoticeInfo, "i"),
        LogLevel::Warn => (Role::NoticeWarn, "!"),
        LogLevel::Error => (Role::NoticeError, "!!"),
    };
    let more = if state.notices.len() > 1 {
        format!(
            "  (+{} · {} dismiss)",
            state.notices.len() - 1,
            first_key(&state.keymap, Layer::Global, Action::DismissNotice)
        )
    } else {
        format!(
            "  ({} dismiss)",
            first_key(&state.keymap, Layer::Global, Action::DismissNotice)
        )
    };
    let line = Line::from(vec![
        Span::styled(format!(" {tag} {}", notice.text), theme.style(role)),
        Span::styled(more, theme.style(Role::TextMuted)),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// The first key bound to `action` in `layer`, as the user wrote it.
pub fn first_key(keymap: &Keymap, layer: Layer, action: Action) -> String {
    keymap
        .keys_for(layer, action)
        .first()
        .map(|k| k.to_string())
        .unwrap_or_else(|| "(unbound)".to_string())
}

/// Every binding of `keymap` as one Markdown table per layer (the README's keys table).
pub fn keys_table_markdown(keymap: &Keymap) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Kill switch (checked before every other key, in every dialog and text field): {}\n",
        keymap
            .kill_keys()
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for layer in Layer::ALL {
        let bindings = keymap.layer_bindings(layer);
        if bindings.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n**{}** — {}\n\n| keys | action | what it does |\n|---|---|---|\n",
            layer.name(),
            layer.describe()
        ));
        for (action, keys) in bindings {
            let keys = keys
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(" ");
            out.push_str(&format!(
                "| {keys} | {} | {} |\n",
                action.name(),
                action.description()
            ));
        }
    }
    out
}
