//! Key presses through `update` and the engine commands they produce.

use std::sync::Arc;

use kalshi_desk::core::control::MarketState;
use kalshi_desk::core::engine::{AuditEvent, AuditKind, Command, ConfirmAction, ManualOrder};
use kalshi_desk::core::market::Ticker;
use kalshi_desk::core::num::Count;
use kalshi_desk::core::order::OrderSide;
use kalshi_desk::core::risk::TimeInForce;
use kalshi_desk::tui::app::{AppState, Effect, Modal, Msg, Panel, update};

use super::fixtures::{NOW_MS, app_at, halted_snapshot, key, p};

fn press(state: &mut AppState, keys: &[&str]) -> Vec<Effect> {
    keys.iter()
        .flat_map(|k| update(state, key(k), NOW_MS))
        .collect()
}

fn fed() -> Ticker {
    Ticker::from("KXFED-26DEC-T4.25")
}

#[test]
fn control_keys_command_the_selected_market() {
    let mut state = app_at(120, 40);
    // Sorted by ticker: KXCPI-26NOV-T0.3, KXCPI-26NOV-T0.4, KXFED-26DEC-T4.25, KXHIGHNY-…
    press(&mut state, &["j", "j"]);
    assert_eq!(state.selected_ticker(), Some(fed()));
    assert_eq!(
        press(&mut state, &["a"]),
        vec![Effect::Engine(Command::Arm { ticker: fed() })]
    );
    assert_eq!(
        press(&mut state, &["p"]),
        vec![Effect::Engine(Command::Pause { ticker: fed() })]
    );
    assert_eq!(
        press(&mut state, &["d"]),
        vec![Effect::Engine(Command::Disarm { ticker: fed() })]
    );
    assert_eq!(
        press(&mut state, &["m"]),
        vec![Effect::Engine(Command::OverrideManual { ticker: fed() })]
    );
    assert_eq!(
        press(&mut state, &["r"]),
        vec![Effect::Engine(Command::Reducing { ticker: fed() })]
    );
    assert_eq!(
        press(&mut state, &["C"]),
        vec![Effect::Engine(Command::CancelAllInMarket { ticker: fed() })]
    );
    // MANUAL market: m releases, d releases then disarms.
    press(&mut state, &["k", "k"]);
    let cpi = Ticker::from("KXCPI-26NOV-T0.3");
    assert_eq!(state.selected_ticker(), Some(cpi.clone()));
    assert_eq!(
        press(&mut state, &["m"]),
        vec![Effect::Engine(Command::ReleaseManual {
            ticker: cpi.clone()
        })]
    );
    assert_eq!(
        press(&mut state, &["d"]),
        vec![
            Effect::Engine(Command::ReleaseManual {
                ticker: cpi.clone()
            }),
            Effect::Engine(Command::Disarm { ticker: cpi })
        ]
    );
}

#[test]
fn pause_all_pauses_only_armed_markets() {
    let mut state = app_at(120, 40);
    assert_eq!(
        press(&mut state, &["P"]),
        vec![Effect::Engine(Command::Pause { ticker: fed() })]
    );
}

#[test]
fn ticket_sends_the_manual_order_it_shows() {
    let mut state = app_at(120, 40);
    press(&mut state, &["j", "j", "n"]);
    let Some(Modal::Ticket(ticket)) = &state.modal else {
        panic!("ticket open")
    };
    assert_eq!(ticket.price, p(46), "buy YES starts at the best ask");
    // price field focused: type 45, then count 3, IOC, then send.
    let effects = press(&mut state, &["4", "5", "tab", "3", "i", "enter"]);
    assert_eq!(
        effects,
        vec![Effect::Engine(Command::PlaceManual(ManualOrder {
            ticker: fed(),
            side: OrderSide::Bid,
            price: p(45),
            count: Count::from_contracts(3),
            time_in_force: TimeInForce::ImmediateOrCancel,
            post_only: false,
            reduce_only: false,
            expiration_s: None,
        }))]
    );
    assert!(state.modal.is_none());
    // Buy NO at its ask is a YES ask at the complement of the best YES bid.
    let effects = press(&mut state, &["B", "enter"]);
    let Effect::Engine(Command::PlaceManual(order)) = &effects[0] else {
        panic!("{effects:?}")
    };
    assert_eq!((order.side, order.price), (OrderSide::Ask, p(44)));
}

#[test]
fn orders_pane_cancels_and_amends_the_selected_order() {
    let mut state = app_at(120, 40);
    press(&mut state, &["tab", "tab"]);
    assert_eq!(state.focus, Panel::Orders);
    let first = state.order_rows()[0].client_order_id.clone();
    assert_eq!(
        press(&mut state, &["c"]),
        vec![Effect::Engine(Command::CancelManual {
            client_order_id: first.clone()
        })]
    );
    let effects = press(&mut state, &["a", "+", "enter"]);
    assert_eq!(
        effects,
        vec![Effect::Engine(Command::AmendManual {
            client_order_id: first,
            price: p(45),
            count: Count::from_contracts(20)
        })]
    );
}

#[test]
fn flatten_and_reset_need_a_confirmation_and_the_engines_token() {
    let mut state = app_at(120, 40);
    assert!(press(&mut state, &["F"]).is_empty());
    let Some(Modal::Confirm(dialog)) = &state.modal else {
        panic!("confirm open")
    };
    assert!(
        dialog
            .lines
            .iter()
            .any(|l| l.contains("KXFED-26DEC-T4.25  +25 contracts → 0")),
        "{:?}",
        dialog.lines
    );
    assert!(
        press(&mut state, &["n"]).is_empty(),
        "declining sends nothing"
    );
    press(&mut state, &["F"]);
    assert_eq!(
        press(&mut state, &["y"]),
        vec![Effect::Engine(Command::RequestConfirmation {
            action: ConfirmAction::FlattenAll
        })]
    );
    let token = AuditEvent {
        seq: 5,
        mono_ns: 0,
        wall_ms: NOW_MS,
        event: AuditKind::ConfirmationIssued {
            action: ConfirmAction::FlattenAll,
            token: 77,
        },
    };
    assert_eq!(
        update(&mut state, Msg::Audit(Box::new(token)), NOW_MS),
        vec![Effect::Engine(Command::FlattenAll { token: 77 })]
    );
    // Reset only offers itself while halted.
    assert!(press(&mut state, &["R"]).is_empty() && state.modal.is_none());
    update(
        &mut state,
        Msg::Snapshot(Arc::new(halted_snapshot())),
        NOW_MS,
    );
    press(&mut state, &["R"]);
    assert_eq!(
        press(&mut state, &["enter"]),
        vec![Effect::Engine(Command::RequestConfirmation {
            action: ConfirmAction::ResetHalt
        })]
    );
    let token = AuditEvent {
        seq: 6,
        mono_ns: 0,
        wall_ms: NOW_MS,
        event: AuditKind::ConfirmationIssued {
            action: ConfirmAction::ResetHalt,
            token: 9,
        },
    };
    assert_eq!(
        update(&mut state, Msg::Audit(Box::new(token)), NOW_MS),
        vec![Effect::Engine(Command::ResetHalt { token: 9 })]
    );
}

fn kill_effect(effects: &[Effect]) -> bool {
    effects.first() == Some(&Effect::Kill("operator kill switch".to_string())) && effects.len() == 1
}

/// The kill switch from every layer, dialog and text field, with both default keys, and in the
/// middle of a key sequence.
#[test]
fn kill_switch_wins_in_every_layer_and_dialog() {
    let openers: Vec<(&str, Vec<&str>)> = vec![
        ("market pane", vec![]),
        ("orders pane", vec!["tab", "tab"]),
        ("ticket", vec!["n"]),
        ("ticket with typed digits", vec!["n", "4"]),
        ("amend ticket", vec!["tab", "tab", "a"]),
        ("confirm", vec!["F"]),
        ("search text", vec!["/", "k", "x"]),
        ("filter text", vec!["f", "c"]),
        ("params text", vec!["e", "x"]),
        ("help", vec!["?"]),
        ("event view", vec!["v"]),
        ("frozen", vec!["ctrl-f"]),
        ("zoomed", vec!["z"]),
    ];
    for kill_key in ["ctrl-k", "f12"] {
        for (name, keys) in &openers {
            let mut state = app_at(120, 40);
            press(&mut state, keys);
            let modal_before = state.modal.clone();
            let effects = press(&mut state, &[kill_key]);
            assert!(kill_effect(&effects), "{kill_key} in {name}: {effects:?}");
            assert!(state.is_halted(), "{name}: banner shows at once");
            assert_eq!(
                state.modal, modal_before,
                "{name}: the kill does not type into or close the dialog"
            );
        }
    }
}

#[test]
fn quitting_with_armed_markets_halts_first() {
    let mut state = app_at(120, 40);
    let effects = press(&mut state, &["ctrl-q"]);
    assert_eq!(
        effects,
        vec![
            Effect::Kill("UI exit with armed markets".into()),
            Effect::Quit
        ]
    );
    let mut state = app_at(120, 40);
    update(
        &mut state,
        Msg::Snapshot(Arc::new(halted_snapshot())),
        NOW_MS,
    );
    assert_eq!(
        press(&mut state, &["ctrl-c"]),
        vec![Effect::Quit],
        "nothing armed: quit only"
    );
}

#[test]
fn watchlist_filters_sorts_searches_and_removes() {
    let mut state = app_at(120, 40);
    press(&mut state, &["f", "c", "p", "i", "enter"]);
    assert_eq!(state.visible_rows().len(), 2);
    press(&mut state, &["f", "esc"]);
    assert_eq!(state.visible_rows().len(), 4);
    press(&mut state, &["s"]);
    assert_eq!(state.visible_rows()[0], fed(), "by 24h volume");
    let added = Ticker::from("KXCPI-26NOV-T0.2");
    assert_eq!(
        press(&mut state, &["/", "0", ".", "2", "enter"]),
        vec![Effect::Watch(added.clone())],
        "a market outside the feed is subscribed live"
    );
    assert_eq!(state.selected_ticker(), Some(added.clone()));
    assert_eq!(state.visible_rows().len(), 5, "added from the catalogue");
    assert!(
        state
            .notices
            .front()
            .is_some_and(|n| n.text.contains("subscribing"))
    );
    assert_eq!(
        press(&mut state, &["delete"]),
        vec![Effect::Unwatch(added)],
        "removing a market unsubscribes it"
    );
    assert_eq!(state.visible_rows().len(), 4);
}

#[test]
fn strategy_params_are_validated_before_they_are_sent() {
    let mut state = app_at(120, 40);
    press(&mut state, &["j", "j", "e"]);
    // Break the text: an unknown field is refused with the parser's reason.
    for c in "bogus = 1".chars() {
        press(
            &mut state,
            &[if c == ' ' {
                "space"
            } else {
                Box::leak(c.to_string().into_boxed_str())
            }],
        );
    }
    assert!(press(&mut state, &["enter"]).is_empty());
    let Some(Modal::Params {
        error: Some(error), ..
    }) = &state.modal
    else {
        panic!("{:?}", state.modal)
    };
    assert!(!error.is_empty());
    for _ in 0.."bogus = 1".len() {
        press(&mut state, &["backspace"]);
    }
    let effects = press(&mut state, &["enter"]);
    let [Effect::Engine(Command::SetStrategy { ticker, .. })] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(*ticker, fed());
}

#[test]
fn focus_zoom_hide_and_show() {
    let mut state = app_at(120, 40);
    press(&mut state, &["tab"]);
    assert_eq!(state.focus, Panel::Ladder);
    press(&mut state, &["alt-h"]);
    assert!(state.hidden.contains(&Panel::Ladder));
    assert!(
        !kalshi_desk::tui::views::place_panels(ratatui::layout::Rect::new(0, 0, 120, 38), &state)
            .iter()
            .any(|(p, _)| *p == Panel::Ladder)
    );
    press(&mut state, &["alt-s", "z"]);
    assert!(state.hidden.is_empty() && state.zoomed);
    assert_eq!(
        kalshi_desk::tui::views::place_panels(ratatui::layout::Rect::new(0, 0, 120, 38), &state)
            .len(),
        1
    );
    let _ = MarketState::Armed;
}

#[test]
fn renders_only_when_something_changed() {
    let mut state = app_at(120, 40);
    state.dirty = false;
    update(&mut state, Msg::Catalog(vec![]), NOW_MS);
    assert!(state.dirty);
    state.dirty = false;
    press(&mut state, &["ctrl-f"]);
    state.dirty = false;
    update(
        &mut state,
        Msg::Snapshot(Arc::new(halted_snapshot())),
        NOW_MS,
    );
    assert!(
        !state.dirty,
        "a frozen display does not redraw for new data"
    );
}

#[test]
fn price_alert_fires_once_when_the_mid_leaves_the_band() {
    let mut state = app_at(120, 40);
    update(&mut state, key("ctrl-b"), NOW_MS); // bell on
    press(&mut state, &["j", "j", "!"]);
    assert_eq!(state.price_alerts.len(), 1);
    let mut moved = super::fixtures::snapshot();
    moved.version = 20;
    moved.markets[0].yes_bids[0].price = p(50);
    moved.markets[0].yes_asks[0].price = p(52);
    let effects = update(&mut state, Msg::Snapshot(Arc::new(moved.clone())), NOW_MS);
    assert_eq!(effects, vec![Effect::Bell]);
    assert!(
        state.notices.front().is_some_and(|n| n
            .text
            .contains("PRICE KXFED-26DEC-T4.25: mid 0.51 crossed above 0.46")),
        "{:?}",
        state.notices
    );
    moved.version = 21;
    assert!(
        update(&mut state, Msg::Snapshot(Arc::new(moved)), NOW_MS).is_empty(),
        "one-shot"
    );
}

#[test]
fn the_first_connection_is_logged_and_only_a_later_one_is_a_reconnect() {
    use kalshi_desk::tui::replica::Replica;
    let mut replica = Replica::default();
    let mut snapshot = super::fixtures::snapshot();
    let mut step = |replica: &mut Replica, version: u64, connected: bool| {
        snapshot.version = version;
        snapshot.health.connected = connected;
        replica
            .apply_snapshot(Arc::new(snapshot.clone()))
            .into_iter()
            .map(|alert| alert.text)
            .collect::<Vec<_>>()
    };
    assert!(step(&mut replica, 1, false).is_empty());
    assert!(
        step(&mut replica, 2, true).is_empty(),
        "first connection is no alert"
    );
    assert!(replica.log.iter().any(|line| line.text == "feed connected"));
    assert_eq!(step(&mut replica, 3, false), vec!["feed disconnected"]);
    assert_eq!(step(&mut replica, 4, true), vec!["feed reconnected"]);
}
