//! The screen's state machine: `update(&mut AppState, Msg, now_ms) -> Vec<Effect>` is the only
//! place state changes. It does no I/O and reads no clock; the shell (`tui::run`) feeds it key
//! presses, snapshots, audits and ticks, and executes the effects it returns.
//!
//! Keys resolve to an [`Action`] through the live keymap before any logic runs; the kill switch
//! is resolved first, in every layer, dialog and text field.

pub mod panel;
pub mod ticket;

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use crate::core::control::MarketState;
use crate::core::engine::{AuditEvent, AuditKind, Command, ConfirmAction};
use crate::core::market::Ticker;
use crate::core::num::Money;
use crate::core::order::{ClientOrderId, Order};
use crate::core::strategy::StrategyParams;
use crate::runtime::snapshot::DeskSnapshot;
use crate::tui::adapt;
use crate::tui::keymap::{Action, KeyChord, KeyName, Keymap, Layer, Resolution};
use crate::tui::replica::{Alert, LogLevel, MarketMeta, Replica, TapeRow};

pub use panel::Panel;
pub use ticket::{Outcome, Ticket, TicketField, TicketLimits, TradeAction};

/// Notices shown at once (newest first).
const NOTICES: usize = 4;

/// Something that happened, for `update`.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyChord),
    Snapshot(Arc<DeskSnapshot>),
    Audit(Box<AuditEvent>),
    /// The audit stream dropped this many events (the next snapshot is the truth).
    AuditsLagged(u64),
    Catalog(Vec<MarketMeta>),
    Trades(Vec<TapeRow>),
    /// REST round trips per endpoint (read from the client's counters on each tick).
    RestLatency(Vec<crate::tui::replica::RestRow>),
    Resize {
        width: u16,
        height: u16,
    },
    /// A periodic tick (clocks, countdowns, ages).
    Tick,
    /// A text notice from the shell (start-up, theme fallback, …).
    Notice {
        level: LogLevel,
        text: String,
    },
    /// The feed recording started or stopped (or failed to): `text` says where and how much.
    Recording {
        on: bool,
        level: LogLevel,
        text: String,
    },
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The kill switch: `DeskHandle::kill(reason)`.
    Kill(String),
    /// An operator command for the engine.
    Engine(Command),
    /// Subscribe the desk to a market it does not watch yet (`DeskHandle::subscribe_market`).
    Watch(Ticker),
    /// Take a market off the desk's watchlist (`DeskHandle::unsubscribe_market`).
    Unwatch(Ticker),
    Bell,
    Quit,
    /// Start or stop recording the desk's feed (`Recorder::toggle`); the answer comes back as
    /// `Msg::Recording`.
    ToggleRecording,
}

/// Static facts and preferences the screen starts with.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// `SIM`, `DEMO`, `PROD` (and `PAPER`): always shown.
    pub environment: String,
    /// The key id and subaccount, shown in the status bar.
    pub account: String,
    pub halt_on_exit: bool,
    pub bell: bool,
    pub limits: TicketLimits,
    pub max_daily_loss: Money,
    /// Markets the config asks for (empty: everything the desk watches).
    pub watchlist: Vec<Ticker>,
}

impl Default for AppConfig {
    fn default() -> AppConfig {
        AppConfig {
            environment: "SIM".to_string(),
            account: "sim".to_string(),
            halt_on_exit: true,
            bell: false,
            limits: TicketLimits::default(),
            max_daily_loss: Money::from_cents(10_000),
            watchlist: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Ticker,
    Volume,
    Position,
    Pnl,
    Spread,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Ticker => SortKey::Volume,
            SortKey::Volume => SortKey::Position,
            SortKey::Position => SortKey::Pnl,
            SortKey::Pnl => SortKey::Spread,
            SortKey::Spread => SortKey::Ticker,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Ticker => "ticker",
            SortKey::Volume => "24h vol",
            SortKey::Position => "position",
            SortKey::Pnl => "P&L",
            SortKey::Spread => "spread",
        }
    }
}

/// A dialog above the panels; each has its own keymap layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Ticket(Ticket),
    Confirm(ConfirmDialog),
    Search {
        query: String,
        selected: usize,
    },
    /// Typing the watchlist filter.
    Filter,
    Params {
        ticker: Ticker,
        text: String,
        error: Option<String>,
    },
    Help {
        scroll: u16,
    },
    Event {
        ticker: Ticker,
        scroll: u16,
    },
}

impl Modal {
    pub fn layer(&self) -> Layer {
        match self {
            Modal::Ticket(_) => Layer::Ticket,
            Modal::Confirm(_) => Layer::Confirm,
            Modal::Search { .. } | Modal::Filter | Modal::Params { .. } => Layer::Search,
            Modal::Help { .. } | Modal::Event { .. } => Layer::Help,
        }
    }
}

/// A dangerous action awaiting the operator's yes, then the engine's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmDialog {
    pub action: ConfirmAction,
    /// Exactly what will happen, line by line.
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: LogLevel,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub config: AppConfig,
    pub keymap: Keymap,
    pub replica: Replica,
    /// While frozen, the views draw this copy; the live replica keeps updating.
    pub frozen: Option<Box<Replica>>,
    pub watchlist: Vec<Ticker>,
    watchlist_seeded: bool,
    pub selected: Option<Ticker>,
    pub sort: SortKey,
    pub filter: String,
    pub order_selected: usize,
    pub focus: Panel,
    pub hidden: BTreeSet<Panel>,
    pub zoomed: bool,
    pub modal: Option<Modal>,
    pub pending_keys: Vec<KeyChord>,
    pub notices: VecDeque<Notice>,
    pub bell: bool,
    /// Set the instant the kill switch is pressed, so the banner shows before the engine answers.
    pub kill_requested: Option<String>,
    /// Waiting for the engine's token for this action.
    pub awaiting_token: Option<ConfirmAction>,
    /// One-shot price alerts: (market, low, high) in YES micro-dollars; fires when the mid
    /// leaves the band.
    pub price_alerts: Vec<(Ticker, i64, i64)>,
    /// Parameters of each market's strategy as set from the config or this screen.
    pub strategy_params: std::collections::BTreeMap<Ticker, StrategyParams>,
    pub size: (u16, u16),
    pub now_ms: i64,
    pub quitting: bool,
    /// Something visible changed since the last frame.
    pub dirty: bool,
    /// The desk's feed is being recorded (REC in the status bar).
    pub recording: bool,
}

impl AppState {
    pub fn new(config: AppConfig, keymap: Keymap) -> AppState {
        let watchlist_seeded = !config.watchlist.is_empty();
        AppState {
            bell: config.bell,
            watchlist: config.watchlist.clone(),
            config,
            keymap,
            replica: Replica::default(),
            frozen: None,
            watchlist_seeded,
            selected: None,
            sort: SortKey::Ticker,
            filter: String::new(),
            order_selected: 0,
            focus: Panel::Watchlist,
            hidden: BTreeSet::new(),
            zoomed: false,
            modal: None,
            pending_keys: Vec::new(),
            notices: VecDeque::new(),
            kill_requested: None,
            awaiting_token: None,
            price_alerts: Vec::new(),
            strategy_params: std::collections::BTreeMap::new(),
            size: (120, 40),
            now_ms: 0,
            quitting: false,
            dirty: true,
            recording: false,
        }
    }

    /// The replica the views draw: the frozen copy while frozen.
    pub fn view(&self) -> &Replica {
        self.frozen.as_deref().unwrap_or(&self.replica)
    }

    pub fn is_halted(&self) -> bool {
        self.replica.snapshot.trading.is_halted() || self.kill_requested.is_some()
    }

    /// The keymap layers active now, topmost first (global is implied last).
    pub fn layer_stack(&self) -> Vec<Layer> {
        match &self.modal {
            Some(modal) => vec![modal.layer()],
            None => vec![self.focus.layer()],
        }
    }

    /// Watchlist rows after the filter and the sort.
    pub fn visible_rows(&self) -> Vec<Ticker> {
        let replica = self.view();
        let needle = self.filter.to_lowercase();
        let mut rows: Vec<Ticker> = self
            .watchlist
            .iter()
            .filter(|t| {
                needle.is_empty()
                    || t.as_str().to_lowercase().contains(&needle)
                    || replica
                        .meta(t.as_str())
                        .is_some_and(|m| m.title.to_lowercase().contains(&needle))
            })
            .cloned()
            .collect();
        let key = |t: &Ticker| -> i64 {
            let market = replica.market(t.as_str());
            match self.sort {
                SortKey::Ticker => 0,
                SortKey::Volume => -replica.meta(t.as_str()).map_or(0, |m| m.volume_24h.centi()),
                SortKey::Position => {
                    -market.map_or(0, |m| adapt::position(m).contracts.centi().abs())
                }
                SortKey::Pnl => -market.map_or(0, |m| adapt::position(m).realized.micros()),
                SortKey::Spread => market
                    .and_then(|m| {
                        Some(
                            m.yes_asks.first()?.price.micros() - m.yes_bids.first()?.price.micros(),
                        )
                    })
                    .unwrap_or(i64::MAX),
            }
        };
        rows.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.cmp(b)));
        rows
    }

    pub fn selected_ticker(&self) -> Option<Ticker> {
        let rows = self.visible_rows();
        match &self.selected {
            Some(t) if rows.contains(t) => Some(t.clone()),
            _ => rows.first().cloned(),
        }
    }

    /// Working orders in display order (the orders pane's rows).
    pub fn order_rows(&self) -> Vec<&Order> {
        self.view().snapshot.orders.iter().collect()
    }

    pub fn visible_panels(&self) -> Vec<Panel> {
        Panel::ALL
            .into_iter()
            .filter(|p| !self.hidden.contains(p))
            .collect()
    }

    fn push_notice(&mut self, level: LogLevel, text: String) {
        self.notices.push_front(Notice { level, text });
        self.notices.truncate(NOTICES);
    }

    fn any_armed(&self) -> bool {
        self.replica
            .snapshot
            .markets
            .iter()
            .any(|m| !matches!(m.state, MarketState::Disarmed | MarketState::Manual))
    }
}

/// Apply one message. `now_ms` is the wall clock the shell read for this message.
pub fn update(state: &mut AppState, msg: Msg, now_ms: i64) -> Vec<Effect> {
    state.now_ms = now_ms;
    let mut effects = Vec::new();
    match msg {
        Msg::Key(chord) => {
            state.dirty = true;
            on_key(state, chord, &mut effects);
        }
        Msg::Snapshot(snapshot) => {
            let alerts = state.replica.apply_snapshot(snapshot);
            if !state.watchlist_seeded && !state.replica.snapshot.markets.is_empty() {
                state.watchlist = state
                    .replica
                    .snapshot
                    .markets
                    .iter()
                    .map(|m| m.ticker.clone())
                    .collect();
                state.watchlist_seeded = true;
            }
            let mut alerts = alerts;
            alerts.extend(price_crossings(state));
            raise(state, alerts, &mut effects);
            state.dirty |= state.frozen.is_none();
        }
        Msg::Audit(audit) => {
            let alerts = state.replica.apply_audit(&audit);
            if let AuditKind::ConfirmationIssued { action, token } = audit.event
                && state.awaiting_token == Some(action)
            {
                state.awaiting_token = None;
                effects.push(Effect::Engine(match action {
                    ConfirmAction::ResetHalt => Command::ResetHalt { token },
                    ConfirmAction::FlattenAll => Command::FlattenAll { token },
                }));
            }
            if let AuditKind::TradingChanged { state: trading } = &audit.event
                && !trading.is_halted()
            {
                state.kill_requested = None;
            }
            raise(state, alerts, &mut effects);
            state.dirty |= state.frozen.is_none();
        }
        Msg::AuditsLagged(n) => {
            state.replica.audits_lagged += n;
            state.replica.log_line(
                now_ms,
                LogLevel::Warn,
                format!("screen fell behind: {n} audit events skipped"),
            );
            state.dirty = true;
        }
        Msg::Catalog(markets) => {
            state.replica.apply_catalog(markets);
            state.dirty |= state.frozen.is_none();
        }
        Msg::Trades(trades) => {
            state.replica.apply_trades(trades);
            state.dirty |= state.frozen.is_none();
        }
        Msg::RestLatency(rows) => {
            state.dirty |= state.frozen.is_none() && state.replica.rest != rows;
            state.replica.rest = rows;
        }
        Msg::Resize { width, height } => {
            state.size = (width, height);
            state.dirty = true;
        }
        Msg::Tick => state.dirty = true,
        Msg::Recording { on, level, text } => {
            state.recording = on;
            state.push_notice(level, text);
        }
        Msg::Notice { level, text } => {
            state.replica.log_line(now_ms, level, text.clone());
            state.push_notice(level, text);
            state.dirty = true;
        }
    }
    effects
}

/// Price alerts whose band the mid has left (each fires once).
fn price_crossings(state: &mut AppState) -> Vec<Alert> {
    let mut fired = Vec::new();
    let replica = &state.replica;
    state.price_alerts.retain(|(ticker, lo, hi)| {
        let Some(mid) = replica
            .market(ticker.as_str())
            .and_then(crate::tui::replica::mid_of)
        else {
            return true;
        };
        if mid < *lo || mid > *hi {
            let dir = if mid < *lo { "below" } else { "above" };
            let edge = if mid < *lo { *lo } else { *hi };
            let show = |m: i64| {
                crate::tui::fmt::price(
                    crate::core::num::Price::from_micros(m)
                        .unwrap_or(crate::core::num::Price::ZERO),
                )
            };
            fired.push(Alert {
                level: LogLevel::Warn,
                text: format!(
                    "PRICE {ticker}: mid {} crossed {dir} {}",
                    show(mid),
                    show(edge)
                ),
            });
            false
        } else {
            true
        }
    });
    fired
}

fn raise(state: &mut AppState, alerts: Vec<Alert>, effects: &mut Vec<Effect>) {
    for alert in alerts {
        if state.bell && alert.level >= LogLevel::Warn {
            effects.push(Effect::Bell);
        }
        state.push_notice(alert.level, alert.text);
    }
    if state.bell && effects.iter().filter(|e| **e == Effect::Bell).count() > 1 {
        let mut seen = false;
        effects.retain(|e| {
            if *e == Effect::Bell {
                let keep = !seen;
                seen = true;
                keep
            } else {
                true
            }
        });
    }
}

fn on_key(state: &mut AppState, chord: KeyChord, effects: &mut Vec<Effect>) {
    // The kill switch first: before sequences, dialogs and text fields.
    if state.keymap.is_kill_switch(&chord) {
        state.pending_keys.clear();
        kill(state, "operator kill switch", effects);
        return;
    }
    let stack = state.layer_stack();
    match state.keymap.resolve(&stack, &state.pending_keys, chord) {
        Resolution::Action(action) => {
            state.pending_keys.clear();
            on_action(state, action, effects);
        }
        Resolution::Pending => state.pending_keys.push(chord),
        Resolution::Unbound => {
            state.pending_keys.clear();
            // Ctrl-C quits like the quit key (the halt-on-exit rule applies) unless bound.
            if chord.mods.ctrl && chord.key == KeyName::Char('c') {
                on_action(state, Action::Quit, effects);
                return;
            }
            on_text(state, chord);
        }
    }
}

fn kill(state: &mut AppState, reason: &str, effects: &mut Vec<Effect>) {
    state.kill_requested = Some(reason.to_string());
    state.push_notice(LogLevel::Error, format!("KILL SWITCH: {reason}"));
    effects.push(Effect::Kill(reason.to_string()));
}

/// Unbound keys type into the open text field (search, filter, params, ticket digits).
fn on_text(state: &mut AppState, chord: KeyChord) {
    let typed = chord.typed_char();
    let backspace = chord.key == KeyName::Backspace && chord.mods.is_empty();
    match &mut state.modal {
        Some(Modal::Search { query, selected }) => {
            if backspace {
                query.pop();
            } else if let Some(c) = typed {
                query.push(c);
            }
            *selected = 0;
        }
        Some(Modal::Filter) => {
            if backspace {
                state.filter.pop();
            } else if let Some(c) = typed {
                state.filter.push(c);
            }
        }
        Some(Modal::Params { text, error, .. }) => {
            if backspace {
                text.pop();
            } else if let Some(c) = typed {
                text.push(c);
            }
            *error = None;
        }
        Some(Modal::Ticket(ticket)) => {
            if backspace {
                ticket.backspace();
            } else if let Some(c) = typed {
                ticket.type_digit(c);
            }
        }
        _ => {}
    }
}

fn on_action(state: &mut AppState, action: Action, effects: &mut Vec<Effect>) {
    use Action as A;
    // Modal actions first: a modal's layer is on top of the stack.
    if state.modal.is_some() && on_modal_action(state, action, effects) {
        return;
    }
    let ticker = state.selected_ticker();
    let command = |make: fn(Ticker) -> Command| ticker.clone().map(make);
    match action {
        A::KillSwitch => kill(state, "operator kill switch", effects),
        A::Quit => {
            if state.config.halt_on_exit && state.any_armed() {
                kill(state, "UI exit with armed markets", effects);
            }
            state.quitting = true;
            effects.push(Effect::Quit);
        }
        A::Help => state.modal = Some(Modal::Help { scroll: 0 }),
        A::FocusNext | A::FocusPrev => {
            let panels = state.visible_panels();
            if let Some(i) = panels.iter().position(|p| *p == state.focus) {
                let n = panels.len();
                let j = if action == A::FocusNext {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                state.focus = panels[j];
            } else if let Some(first) = panels.first() {
                state.focus = *first;
            }
        }
        A::ZoomPanel => state.zoomed = !state.zoomed,
        A::HidePanel => {
            if state.visible_panels().len() > 1 {
                state.hidden.insert(state.focus);
                state.zoomed = false;
                if let Some(next) = state.visible_panels().first() {
                    state.focus = *next;
                }
            }
        }
        A::ShowAllPanels => state.hidden.clear(),
        A::ToggleFreeze => {
            state.frozen = match state.frozen.take() {
                Some(_) => None,
                None => Some(Box::new(state.replica.clone())),
            };
        }
        A::MarketSearch => {
            state.modal = Some(Modal::Search {
                query: String::new(),
                selected: 0,
            })
        }
        A::PauseAll => {
            for market in &state.replica.snapshot.markets {
                if matches!(market.state, MarketState::Armed | MarketState::Hold) {
                    effects.push(Effect::Engine(Command::Pause {
                        ticker: market.ticker.clone(),
                    }));
                }
            }
            if effects.is_empty() {
                state.push_notice(LogLevel::Info, "pause all: nothing is armed".into());
            }
        }
        A::FlattenAll => {
            let positions: Vec<String> = state
                .replica
                .snapshot
                .markets
                .iter()
                .filter(|m| !adapt::position(m).contracts.is_zero())
                .map(|m| {
                    format!(
                        "  {}  {} contracts → 0",
                        m.ticker,
                        crate::tui::fmt::signed_count(adapt::position(m).contracts)
                    )
                })
                .collect();
            let mut lines = vec![
                "Flatten every position:".to_string(),
                "every strategy is disarmed, every order cancelled, then one".to_string(),
                "IOC reduce-only order per position at the visible book:".to_string(),
            ];
            if positions.is_empty() {
                lines.push("  (no open positions: only the cancels happen)".to_string());
            }
            lines.extend(positions);
            state.modal = Some(Modal::Confirm(ConfirmDialog {
                action: ConfirmAction::FlattenAll,
                lines,
            }));
        }
        A::ResetHalt => {
            let reason = match &state.replica.snapshot.trading {
                crate::core::control::TradingState::Halted { reason, .. } => reason.clone(),
                crate::core::control::TradingState::Active => {
                    state.push_notice(LogLevel::Info, "reset halt: trading is not halted".into());
                    return;
                }
            };
            state.modal = Some(Modal::Confirm(ConfirmDialog {
                action: ConfirmAction::ResetHalt,
                lines: vec![
                    format!("Reset the halt ({reason}) and resume trading."),
                    "Manual orders are allowed again. Every market stays DISARMED:".to_string(),
                    "nothing arms by itself, and no strategy arms within 60 s of".to_string(),
                    "the last cancel-all.".to_string(),
                ],
            }));
        }
        A::ToggleBell => {
            state.bell = !state.bell;
            let text = if state.bell {
                "alert bell on"
            } else {
                "alert bell off"
            };
            state.push_notice(LogLevel::Info, text.into());
        }
        A::ToggleRecording => effects.push(Effect::ToggleRecording),
        A::DismissNotice => {
            state.notices.pop_front();
        }
        A::SelectNext | A::SelectPrev | A::PageDown | A::PageUp => {
            let step: i64 = match action {
                A::SelectNext => 1,
                A::SelectPrev => -1,
                A::PageDown => 10,
                _ => -10,
            };
            if state.focus == Panel::Orders {
                let n = state.order_rows().len() as i64;
                if n > 0 {
                    state.order_selected =
                        (state.order_selected as i64 + step).clamp(0, n - 1) as usize;
                }
            } else {
                let rows = state.visible_rows();
                if !rows.is_empty() {
                    let at = ticker
                        .as_ref()
                        .and_then(|t| rows.iter().position(|r| r == t))
                        .unwrap_or(0) as i64;
                    let j = (at + step).clamp(0, rows.len() as i64 - 1) as usize;
                    state.selected = Some(rows[j].clone());
                }
            }
        }
        A::SortNext => state.sort = state.sort.next(),
        A::Filter => state.modal = Some(Modal::Filter),
        A::Arm => effects.extend(command(|ticker| Command::Arm { ticker }).map(Effect::Engine)),
        A::Pause => effects.extend(command(|ticker| Command::Pause { ticker }).map(Effect::Engine)),
        A::Disarm => {
            // Leaving MANUAL goes back to PAUSED, never straight to ARMED; disarm from MANUAL
            // releases first.
            let manual = ticker
                .as_ref()
                .and_then(|t| state.replica.market(t.as_str()))
                .is_some_and(|m| m.state == MarketState::Manual);
            if manual {
                effects.extend(
                    command(|ticker| Command::ReleaseManual { ticker }).map(Effect::Engine),
                );
            }
            effects.extend(command(|ticker| Command::Disarm { ticker }).map(Effect::Engine));
        }
        A::Manual => {
            let manual = ticker
                .as_ref()
                .and_then(|t| state.replica.market(t.as_str()))
                .is_some_and(|m| m.state == MarketState::Manual);
            let make: fn(Ticker) -> Command = if manual {
                |ticker| Command::ReleaseManual { ticker }
            } else {
                |ticker| Command::OverrideManual { ticker }
            };
            effects.extend(command(make).map(Effect::Engine));
        }
        A::ReduceOnly => {
            effects.extend(command(|ticker| Command::Reducing { ticker }).map(Effect::Engine))
        }
        A::NewOrder | A::BuyYes | A::BuyNo => {
            let ticker = if state.focus == Panel::Orders && action == A::NewOrder {
                state
                    .order_rows()
                    .get(state.order_selected)
                    .map(|o| o.ticker.clone())
                    .or(ticker)
            } else {
                ticker
            };
            if let Some(ticker) = ticker {
                let outcome = if action == A::BuyNo {
                    Outcome::No
                } else {
                    Outcome::Yes
                };
                let market = state.replica.market(ticker.as_str());
                state.modal = Some(Modal::Ticket(Ticket::new(ticker, outcome, market)));
            }
        }
        A::CancelAllInMarket => {
            let ticker = if state.focus == Panel::Orders {
                state
                    .order_rows()
                    .get(state.order_selected)
                    .map(|o| o.ticker.clone())
            } else {
                ticker
            };
            if let Some(ticker) = ticker {
                effects.push(Effect::Engine(Command::CancelAllInMarket { ticker }));
            }
        }
        A::EditParams => {
            if let Some(ticker) = ticker {
                state.modal = Some(Modal::Params {
                    text: default_params_text(),
                    ticker,
                    error: None,
                });
            }
        }
        A::EventView => {
            if let Some(ticker) = ticker {
                state.modal = Some(Modal::Event { ticker, scroll: 0 });
            }
        }
        A::RemoveMarket => {
            if let Some(ticker) = ticker {
                state.watchlist.retain(|t| *t != ticker);
                state.selected = None;
                effects.push(Effect::Unwatch(ticker));
            }
        }
        A::PriceAlert => {
            let band = ticker.as_ref().and_then(|t| {
                let m = state.replica.market(t.as_str())?;
                Some((
                    t.clone(),
                    m.yes_bids.first()?.price.micros(),
                    m.yes_asks.first()?.price.micros(),
                ))
            });
            match band {
                Some((ticker, lo, hi)) => {
                    let text = format!(
                        "alert set: {ticker} mid outside {}–{}",
                        crate::tui::fmt::price(
                            crate::core::num::Price::from_micros(lo)
                                .unwrap_or(crate::core::num::Price::ZERO)
                        ),
                        crate::tui::fmt::price(
                            crate::core::num::Price::from_micros(hi)
                                .unwrap_or(crate::core::num::Price::ZERO)
                        )
                    );
                    state.price_alerts.push((ticker, lo, hi));
                    state.push_notice(LogLevel::Info, text);
                }
                None => state.push_notice(LogLevel::Info, "price alert: no two-sided book".into()),
            }
        }
        A::CancelOrder => {
            if let Some(order) = state.order_rows().get(state.order_selected) {
                effects.push(Effect::Engine(Command::CancelManual {
                    client_order_id: order.client_order_id.clone(),
                }));
            }
        }
        A::AmendOrder => {
            if let Some(order) = state.order_rows().get(state.order_selected).copied() {
                let ticket = amend_ticket(order);
                state.modal = Some(Modal::Ticket(ticket));
            }
        }
        // Modal-only actions with no modal open do nothing.
        A::Submit
        | A::Close
        | A::NextField
        | A::PrevField
        | A::ToggleAction
        | A::ToggleOutcome
        | A::PriceUp
        | A::PriceDown
        | A::CountUp
        | A::CountDown
        | A::TogglePostOnly
        | A::CycleTimeInForce
        | A::Accept
        | A::Reject => {}
    }
}

/// A ticket that amends `order`: same side, its price and remaining size.
fn amend_ticket(order: &Order) -> Ticket {
    let mut ticket = Ticket::new(order.ticker.clone(), Outcome::Yes, None);
    ticket.action = match order.side {
        crate::core::risk::Side::Bid => TradeAction::Buy,
        crate::core::risk::Side::Ask => TradeAction::Sell,
    };
    ticket.price = order.yes_price;
    ticket.count = order.remaining_count;
    ticket.amend_of = Some(order.client_order_id.clone());
    ticket
}

/// The parameter text the editor starts from: a maker, one `key = value` per line.
fn default_params_text() -> String {
    "strategy = \"maker\"\nhalf_spread = \"0.02\"\nsize = \"10.00\"\nmax_inventory = \"100.00\"\nrequote_threshold = \"0.01\"\n".to_string()
}

/// The key parameters of a strategy in one short line.
pub fn params_summary(params: &StrategyParams) -> String {
    use crate::tui::fmt;
    match params {
        StrategyParams::Maker(m) => format!(
            "±{} ×{} inv≤{} requote {}{}",
            fmt::money(m.half_spread),
            fmt::count(m.size),
            fmt::count(m.max_inventory),
            fmt::money(m.requote_threshold),
            if m.post_only { " post-only" } else { "" }
        ),
        StrategyParams::Trigger(t) => format!(
            "{:?} {:?} {} → take {:?} ≤{}{}",
            t.field,
            t.comparison,
            fmt::price(t.threshold),
            t.take,
            fmt::count(t.max_count),
            if t.repeat { " repeat" } else { " once" }
        ),
    }
}

/// Parse and validate strategy parameters typed as TOML.
pub fn parse_params(text: &str) -> Result<StrategyParams, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let mut merged = match table.get("strategy").and_then(|s| s.as_str()) {
        Some("maker") => toml::Table::try_from(StrategyParams::Maker(Default::default()))
            .map_err(|e| e.to_string())?,
        _ => toml::Table::new(),
    };
    for (key, value) in table {
        merged.insert(key, value);
    }
    let params: StrategyParams = toml::Value::Table(merged)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    params.validate().map_err(|e| e.to_string())?;
    Ok(params)
}

/// Returns true when the modal consumed the action.
fn on_modal_action(state: &mut AppState, action: Action, effects: &mut Vec<Effect>) -> bool {
    use Action as A;
    let Some(modal) = state.modal.as_mut() else {
        return false;
    };
    match modal {
        Modal::Ticket(ticket) => match action {
            A::Submit => {
                let command = match &ticket.amend_of {
                    Some(id) => {
                        let (_, price) = ticket.side_and_yes_price();
                        Command::AmendManual {
                            client_order_id: id.clone(),
                            price,
                            count: ticket.count,
                        }
                    }
                    None => Command::PlaceManual(ticket.to_manual()),
                };
                effects.push(Effect::Engine(command));
                state.modal = None;
            }
            A::Close => state.modal = None,
            A::NextField => {
                ticket.field = ticket.field.next();
                ticket.typed.clear();
            }
            A::PrevField => {
                ticket.field = ticket.field.prev();
                ticket.typed.clear();
            }
            A::ToggleAction if ticket.amend_of.is_none() => ticket.toggle_action(),
            A::ToggleOutcome if ticket.amend_of.is_none() => ticket.toggle_outcome(),
            A::PriceUp => ticket.price_step(1),
            A::PriceDown => ticket.price_step(-1),
            A::CountUp => ticket.count_step(1),
            A::CountDown => ticket.count_step(-1),
            A::TogglePostOnly => ticket.post_only = !ticket.post_only,
            A::CycleTimeInForce => ticket.cycle_tif(),
            _ => return global_only(action),
        },
        Modal::Confirm(dialog) => match action {
            A::Accept => {
                let confirm = dialog.action;
                state.awaiting_token = Some(confirm);
                effects.push(Effect::Engine(Command::RequestConfirmation {
                    action: confirm,
                }));
                state.modal = None;
            }
            A::Reject => state.modal = None,
            _ => return global_only(action),
        },
        Modal::Search { query, selected } => {
            let matches = search_matches(&state.replica, query);
            match action {
                A::SelectNext => *selected = (*selected + 1).min(matches.len().saturating_sub(1)),
                A::SelectPrev => *selected = selected.saturating_sub(1),
                A::Accept => {
                    if let Some(ticker) = matches.get(*selected).cloned() {
                        let subscribed = state.replica.market(ticker.as_str()).is_some();
                        if !state.watchlist.contains(&ticker) {
                            state.watchlist.push(ticker.clone());
                        }
                        state.filter.clear();
                        state.selected = Some(ticker.clone());
                        if !subscribed {
                            state.push_notice(
                                LogLevel::Info,
                                format!("{ticker}: subscribing to its book"),
                            );
                            effects.push(Effect::Watch(ticker));
                        }
                    }
                    state.modal = None;
                }
                A::Close => state.modal = None,
                _ => return global_only(action),
            }
        }
        Modal::Filter => match action {
            A::Accept => state.modal = None,
            A::Close => {
                state.filter.clear();
                state.modal = None;
            }
            _ => return global_only(action),
        },
        Modal::Params {
            ticker,
            text,
            error,
        } => match action {
            A::Accept => match parse_params(text) {
                Ok(params) => {
                    let ticker = ticker.clone();
                    state.strategy_params.insert(ticker.clone(), params.clone());
                    effects.push(Effect::Engine(Command::SetStrategy { ticker, params }));
                    state.modal = None;
                }
                Err(why) => *error = Some(why),
            },
            A::Close => state.modal = None,
            _ => return global_only(action),
        },
        Modal::Help { scroll } | Modal::Event { scroll, .. } => match action {
            A::Close | A::Help => state.modal = None,
            A::SelectNext => *scroll = scroll.saturating_add(1),
            A::SelectPrev => *scroll = scroll.saturating_sub(1),
            A::PageDown => *scroll = scroll.saturating_add(10),
            A::PageUp => *scroll = scroll.saturating_sub(10),
            _ => return global_only(action),
        },
    }
    true
}

/// Inside a dialog only the global actions that make sense there pass through; the rest are
/// swallowed so a stray key cannot act on the panels behind it.
fn global_only(action: Action) -> bool {
    !matches!(
        action,
        Action::KillSwitch | Action::Quit | Action::ToggleFreeze | Action::DismissNotice
    )
}

/// Search results: tickers in the feed or the catalogue whose ticker or title contains the query.
pub fn search_matches(replica: &Replica, query: &str) -> Vec<Ticker> {
    let needle = query.to_lowercase();
    replica
        .known_tickers()
        .into_iter()
        .filter(|t| {
            let meta = replica.meta(t.as_str());
            let open = meta.is_none_or(|m| {
                m.status.is_empty()
                    || matches!(m.status.as_str(), "active" | "open" | "initialized")
            });
            open && (needle.is_empty()
                || t.as_str().to_lowercase().contains(&needle)
                || meta.is_some_and(|m| m.title.to_lowercase().contains(&needle)))
        })
        .collect()
}

/// For the orders pane and ladder: this order's id as shown.
pub fn short_id(id: &ClientOrderId) -> String {
    let text = id.as_str();
    let n = text.chars().count();
    if n <= 10 {
        text.to_string()
    } else {
        text.chars().skip(n - 10).collect()
    }
}
