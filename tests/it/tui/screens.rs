//! Whole screens rendered into a TestBackend and snapshotted (text), plus style checks.

use std::sync::Arc;

use kalshi_desk::core::engine::{AuditEvent, AuditKind};
use kalshi_desk::tui::app::{AppState, Msg, update};
use kalshi_desk::tui::keymap::Keymap;
use kalshi_desk::tui::theme::{Role, Theme};
use kalshi_desk::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

use super::fixtures::{NOW_MS, app_at, halted_snapshot, key};

fn draw(state: &AppState, theme: &Theme) -> Buffer {
    let (w, h) = state.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal
        .draw(|f| views::render(f, state, theme))
        .expect("draw");
    terminal.backend().buffer().clone()
}

fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn snap(name: &str, state: &AppState) {
    let buffer = draw(state, &Theme::builtin_default());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, text(&buffer)));
}

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 60)];

#[test]
fn main_view_at_every_size() {
    for (w, h) in SIZES {
        let state = app_at(w, h);
        snap(&format!("main_{w}x{h}"), &state);
    }
}

#[test]
fn halted_banner_at_every_size() {
    for (w, h) in SIZES {
        let mut state = app_at(w, h);
        update(
            &mut state,
            Msg::Snapshot(Arc::new(halted_snapshot())),
            NOW_MS,
        );
        state.notices.clear();
        let buffer = draw(&state, &Theme::builtin_default());
        let screen = text(&buffer);
        assert!(screen.contains("HALTED"), "{screen}");
        assert!(screen.contains("cancels pending 0"), "{screen}");
        assert!(screen.contains("time to flat 184ms"), "{screen}");
        snap(&format!("halted_{w}x{h}"), &state);
    }
}

#[test]
fn order_ticket_shows_verdict_fill_and_slippage() {
    for (w, h) in SIZES {
        let mut state = app_at(w, h);
        update(&mut state, key("n"), NOW_MS);
        for _ in 0..1 {
            update(&mut state, key("+"), NOW_MS);
        }
        update(&mut state, key("tab"), NOW_MS);
        update(&mut state, key("1"), NOW_MS);
        update(&mut state, key("5"), NOW_MS);
        let screen = text(&draw(&state, &Theme::builtin_default()));
        assert!(screen.contains("risk pre-check"), "{screen}");
        snap(&format!("ticket_{w}x{h}"), &state);
    }
}

#[test]
fn event_view_lists_the_ladder_rules_and_countdown() {
    for (w, h) in SIZES {
        let mut state = app_at(w, h);
        update(&mut state, key("j"), NOW_MS);
        update(&mut state, key("v"), NOW_MS);
        let screen = text(&draw(&state, &Theme::builtin_default()));
        assert!(screen.contains("closes in 3d 01:02:03"), "{screen}");
        assert!(
            screen.contains("KXCPI-26NOV-T0.2"),
            "siblings listed: {screen}"
        );
        snap(&format!("event_{w}x{h}"), &state);
    }
}

#[test]
fn help_overlay_is_generated_from_the_live_keymap() {
    for (w, h) in SIZES {
        let mut state = app_at(w, h);
        update(&mut state, key("?"), NOW_MS);
        snap(&format!("help_{w}x{h}"), &state);
    }
    // A user keymap changes the help.
    let overlay =
        kalshi_desk::tui::keymap::KeymapSource::new("mine.toml", "[market]\narm = [\"A\"]\n");
    let (keymap, _) = Keymap::load(&[overlay]).expect("keymap");
    let mut state = app_at(120, 40);
    state.keymap = keymap;
    update(&mut state, key("?"), NOW_MS);
    let screen = text(&draw(&state, &Theme::builtin_default()));
    assert!(
        screen.contains("A                 Arm the selected"),
        "{screen}"
    );
}

#[test]
fn theme_styles_reach_the_cells() {
    let theme = Theme::builtin_default();
    let mut state = app_at(120, 40);
    update(
        &mut state,
        Msg::Snapshot(Arc::new(halted_snapshot())),
        NOW_MS,
    );
    let buffer = draw(&state, &theme);
    // The banner row uses the halt banner style.
    let banner = theme.style(Role::HaltBanner);
    let row = (0..120)
        .map(|x| &buffer[(x, 1)])
        .find(|c| c.symbol() == "■")
        .expect("banner cell");
    assert_eq!(row.fg, banner.fg.unwrap_or(row.fg));
    assert_eq!(row.bg, banner.bg.unwrap_or(row.bg));
    // Status bar: the environment badge uses status_sim, the trading state status_halted.
    let sim = theme.style(Role::StatusSim);
    assert_eq!(buffer[(1, 0)].bg, sim.bg.unwrap_or(buffer[(1, 0)].bg));
    // Another theme gives other colours for the same cells, the text stays the same.
    let light = Theme::load("high-contrast", None);
    assert!(!light.fell_back, "{:?}", light.diagnostics);
    let other = draw(&state, &light.theme);
    assert_eq!(text(&buffer), text(&other), "themes change colour only");
    let differs = (0..120).any(|x| buffer[(x, 1)].style() != other[(x, 1)].style())
        || (0..120).any(|x| buffer[(x, 0)].style() != other[(x, 0)].style());
    assert!(
        differs,
        "high-contrast styles the banner or status bar differently"
    );
}

#[test]
fn frozen_display_is_marked_and_distinct_from_pause() {
    let mut state = app_at(120, 40);
    update(&mut state, key("ctrl-f"), NOW_MS);
    let mut newer = halted_snapshot();
    newer.trading = kalshi_desk::core::control::TradingState::Active;
    newer.version = 9;
    newer.orders.clear();
    update(&mut state, Msg::Snapshot(Arc::new(newer)), NOW_MS);
    let screen = text(&draw(&state, &Theme::builtin_default()));
    assert!(screen.contains("FROZEN"), "{screen}");
    assert!(
        screen.contains("Working orders 3"),
        "frozen copy still shows the old orders: {screen}"
    );
    assert_eq!(
        state.replica.snapshot.version, 9,
        "the live replica kept updating"
    );
    update(&mut state, key("ctrl-f"), NOW_MS);
    let screen = text(&draw(&state, &Theme::builtin_default()));
    assert!(
        screen.contains("Working orders 0") && !screen.contains("FROZEN"),
        "{screen}"
    );
}

#[test]
fn fills_show_in_the_tape_and_as_a_notice() {
    let mut state = app_at(200, 60);
    let audit = AuditEvent {
        seq: 1,
        mono_ns: 0,
        wall_ms: NOW_MS,
        event: AuditKind::Fill {
            trade_id: kalshi_desk::core::order::TradeId::new("t1"),
            ticker: "KXFED-26DEC-T4.25".into(),
            side: kalshi_desk::core::order::OrderSide::Bid,
            yes_price: super::fixtures::p(46),
            count: kalshi_desk::core::num::Count::from_contracts(5),
            fee_cost: kalshi_desk::core::num::Money::from_cents(9),
            position: kalshi_desk::core::num::Count::from_contracts(30),
        },
    };
    update(&mut state, Msg::Audit(Box::new(audit)), NOW_MS);
    let screen = text(&draw(&state, &Theme::builtin_default()));
    assert!(
        screen.contains("FILL KXFED-26DEC-T4.25 BUY YES 5 @ 0.46"),
        "{screen}"
    );
    assert!(screen.contains("mine"), "{screen}");
}

/// The README's keys table is generated from the default keymap; this keeps them equal.
#[test]
fn readme_keys_table_matches_the_default_keymap() {
    let table = views::keys_table_markdown(&Keymap::builtin());
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let begin = "<!-- keys:begin -->\n";
    let end = "<!-- keys:end -->";
    let start = readme.find(begin).map(|i| i + begin.len());
    let stop = readme.find(end);
    match (start, stop) {
        (Some(a), Some(b)) if readme[a..b] == table => {}
        _ => {
            if std::env::var_os("KDESK_WRITE_README").is_some() {
                let mut out = readme.clone();
                if let (Some(a), Some(b)) = (start, stop) {
                    out.replace_range(a..b, &table);
                } else {
                    out.push_str(&format!("\n## Keys\n\n{begin}{table}{end}\n"));
                }
                std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"), out)
                    .expect("write");
            }
            panic!("README keys table is out of date: run with KDESK_WRITE_README=1 to regenerate");
        }
    }
}

#[test]
fn a_six_figure_balance_does_not_run_into_the_next_label() {
    let mut state = app_at(200, 60);
    let mut richer = super::fixtures::snapshot();
    richer.version += 1;
    richer.balance = Some(kalshi_desk::core::num::Money::from_cents(10_000_000));
    update(&mut state, Msg::Snapshot(Arc::new(richer)), NOW_MS);
    let screen = text(&draw(&state, &Theme::builtin_default()));
    assert!(screen.contains("$100000.00 buying pwr"), "{screen}");
}

#[test]
fn book_ages_keep_growing_between_snapshots() {
    // A market whose book stops updating must not keep the age it had when the last snapshot
    // was taken: the engine only publishes on change.
    let mut state = app_at(120, 40);
    let screen = text(&draw(&state, &Theme::builtin_default()));
    assert!(screen.contains("120ms"), "{screen}");
    update(&mut state, Msg::Tick, NOW_MS + 5_000);
    let screen = text(&draw(&state, &Theme::builtin_default()));
    assert!(screen.contains("5.1s"), "{screen}");
    assert!(!screen.contains("120ms"), "{screen}");
}
