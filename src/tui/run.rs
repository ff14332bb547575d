//! The screen's select loop: `biased` — shutdown and terminal input first (the kill switch
//! arrives there), then engine audits, snapshots, side data and the tick — drains what is queued,
//! applies `app::update`, executes the effects and renders only when dirty, at most `max_fps`.
//! Nothing here blocks on I/O: commands go out with `try_send`, the kill switch through
//! `DeskHandle::kill` (sync, never blocks), exchange reads run in their own task.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, KeyEventKind};
use tokio::sync::{broadcast, mpsc};

use crate::core::market::Ticker;
use crate::kalshi::rest::RestClient;
use crate::kalshi::wire::{BookSide, GetMarketsParams, GetTradesParams, Market, Trade};
use crate::runtime::clock;
use crate::runtime::desk::DeskHandle;
use crate::tui::app::{self, AppState, Effect, Msg};
use crate::tui::keymap::{KeyChord, KeyName};
use crate::tui::replica::{LogLevel, MarketMeta, TapeRow};
use crate::tui::terminal::{DeskTerminal, TerminalGuard};
use crate::tui::theme::Theme;
use crate::tui::views;

/// How often the exchange's market list (titles, last, volume, rules) is re-read.
const CATALOG_EVERY: Duration = Duration::from_secs(15);
/// How often recent market trades are read for the tape.
const TRADES_EVERY: Duration = Duration::from_secs(2);

/// Why the screen stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    Interrupted,
    DeskStopped,
}

/// Whether any market is in a state where a strategy may act (the UI must not leave it alone).
pub fn anything_armed(desk: &DeskHandle) -> bool {
    use crate::core::control::MarketState;
    desk.snapshot()
        .markets
        .iter()
        .any(|m| !matches!(m.state, MarketState::Disarmed | MarketState::Manual))
}

/// Run the desk screen until quit. The terminal is restored on return, on panic and on Ctrl-C;
/// with `halt_on_exit`, the desk is halted first if anything is armed.
pub async fn run(
    desk: Arc<DeskHandle>,
    state: AppState,
    theme: Theme,
    max_fps: u32,
) -> anyhow::Result<Exit> {
    let halt_on_exit = state.config.halt_on_exit;
    let on_panic = {
        let desk = desk.clone();
        Arc::new(move || {
            if halt_on_exit && anything_armed(&desk) {
                desk.kill("UI panicked with armed markets");
            }
        })
    };
    let mut guard = TerminalGuard::enter(on_panic)?;
    let title = if desk.paper().is_some() {
        "kdesk — PAPER (simulated fills, nothing reaches the exchange)".to_string()
    } else {
        format!("kdesk — {}", state.config.environment)
    };
    let _ = crossterm::execute!(std::io::stdout(), crossterm::terminal::SetTitle(title));
    let exit = run_loop(&desk, &mut guard.terminal, state, &theme, max_fps).await;
    if halt_on_exit && anything_armed(&desk) {
        desk.kill("UI exited with armed markets");
    }
    drop(guard);
    exit
}

async fn run_loop(
    desk: &DeskHandle,
    terminal: &mut DeskTerminal,
    mut state: AppState,
    theme: &Theme,
    max_fps: u32,
) -> anyhow::Result<Exit> {
    let (input_tx, mut input_rx) = mpsc::unbounded_channel::<Event>();
    // crossterm's blocking reader on its own thread: input never waits behind anything else.
    std::thread::spawn(move || {
        while let Ok(event) = crossterm::event::read() {
            if input_tx.send(event).is_err() {
                break;
            }
        }
    });
    let (side_tx, mut side_rx) = mpsc::channel::<Msg>(64);
    let watch_notices = side_tx.clone();
    let watchlist = desk.watchlist();
    let reader = tokio::spawn(exchange_reads(desk.rest().clone(), side_tx.clone()));
    let mut snapshots = desk.watch_snapshots();
    let mut audits = desk.subscribe_audits();
    let commands = desk.commands();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let frame_ns = 1_000_000_000 / u64::from(max_fps.clamp(1, 240));
    let mut last_frame_ns = 0u64;
    let size = terminal.size()?;
    app::update(
        &mut state,
        Msg::Resize {
            width: size.width,
            height: size.height,
        },
        clock::wall_ms(),
    );
    app::update(&mut state, Msg::Snapshot(desk.snapshot()), clock::wall_ms());
    let mut exit = None;
    while exit.is_none() {
        let wait = if state.dirty {
            Duration::from_nanos(
                frame_ns.saturating_sub(clock::mono_ns().saturating_sub(last_frame_ns)),
            )
        } else {
            Duration::from_secs(3600)
        };
        let mut msgs = Vec::new();
        tokio::select! {
            biased;
            event = input_rx.recv() => match event {
                Some(event) => msgs.extend(input_msg(event, &mut exit)),
                None => exit = Some(Exit::Interrupted),
            },
            _ = tokio::signal::ctrl_c() => exit = Some(Exit::Interrupted),
            audit = audits.recv() => match audit {
                Ok(audit) => msgs.push(Msg::Audit(Box::new(audit))),
                Err(broadcast::error::RecvError::Lagged(n)) => msgs.push(Msg::AuditsLagged(n)),
                Err(broadcast::error::RecvError::Closed) => exit = Some(Exit::DeskStopped),
            },
            changed = snapshots.changed() => match changed {
                Ok(()) => msgs.push(Msg::Snapshot(snapshots.borrow_and_update().clone())),
                Err(_) => exit = Some(Exit::DeskStopped),
            },
            Some(msg) = side_rx.recv() => msgs.push(msg),
            _ = tick.tick() => {
                msgs.push(Msg::Tick);
                msgs.push(Msg::RestLatency(rest_rows(desk.rest())));
            }
            _ = tokio::time::sleep(wait) => {}
        }
        // Drain what is already queued, input first.
        while let Ok(event) = input_rx.try_recv() {
            msgs.extend(input_msg(event, &mut exit));
        }
        loop {
            match audits.try_recv() {
                Ok(audit) => msgs.push(Msg::Audit(Box::new(audit))),
                Err(broadcast::error::TryRecvError::Lagged(n)) => msgs.push(Msg::AuditsLagged(n)),
                Err(_) => break,
            }
        }
        for msg in msgs {
            for effect in app::update(&mut state, msg, clock::wall_ms()) {
                match effect {
                    Effect::Kill(reason) => desk.kill(&reason),
                    Effect::Engine(command) => {
                        if let Err(e) = commands.try_send(command) {
                            app::update(
                                &mut state,
                                Msg::Notice {
                                    level: LogLevel::Error,
                                    text: format!("command not queued: {e}"),
                                },
                                clock::wall_ms(),
                            );
                        }
                    }
                    Effect::Watch(ticker) => {
                        spawn_watch_change(&watchlist, &watch_notices, ticker, true);
                    }
                    Effect::Unwatch(ticker) => {
                        spawn_watch_change(&watchlist, &watch_notices, ticker, false);
                    }
                    Effect::Bell => {
                        let mut out = std::io::stdout();
                        let _ = out.write_all(b"\x07");
                        let _ = out.flush();
                    }
                    Effect::Quit => exit = Some(Exit::Quit),
                    Effect::ToggleRecording => {
                        tokio::spawn(toggle_recording(desk.recorder().clone(), side_tx.clone()));
                    }
                }
            }
        }
        let now = clock::mono_ns();
        if state.dirty && (now.saturating_sub(last_frame_ns) >= frame_ns || exit.is_some()) {
            terminal.draw(|frame| views::render(frame, &state, theme))?;
            state.dirty = false;
            last_frame_ns = now;
        }
    }
    reader.abort();
    Ok(exit.unwrap_or(Exit::Quit))
}

/// Start or stop the recording off the screen's loop (describing the markets reads REST);
/// the outcome comes back as a message.
/// Adds (`add`) or removes a market on the running desk without holding up the screen; a
/// failure comes back as a notice.
fn spawn_watch_change(
    watchlist: &crate::runtime::desk::WatchlistControl,
    notices: &mpsc::Sender<Msg>,
    ticker: Ticker,
    add: bool,
) {
    let (watchlist, notices) = (watchlist.clone(), notices.clone());
    tokio::spawn(async move {
        let result = if add {
            watchlist.subscribe(ticker).await
        } else {
            watchlist.unsubscribe(ticker).await
        };
        if let Err(e) = result {
            let notice = Msg::Notice {
                level: LogLevel::Error,
                text: e.to_string(),
            };
            let _ = notices.send(notice).await;
        }
    });
}

async fn toggle_recording(
    recorder: Arc<crate::runtime::recording::Recorder>,
    out: mpsc::Sender<Msg>,
) {
    use crate::runtime::recording::RecordingChange;
    let msg = match recorder.toggle().await {
        Ok(RecordingChange::Started { first_file }) => Msg::Recording {
            on: true,
            level: LogLevel::Info,
            text: format!("REC: recording the feed into {}", first_file.display()),
        },
        Ok(RecordingChange::Stopped(summary)) => Msg::Recording {
            on: false,
            level: LogLevel::Info,
            text: format!(
                "recording stopped: {} frames, {} gap markers in {}",
                summary.frames,
                summary.gaps,
                summary
                    .files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        Err(error) => Msg::Recording {
            on: recorder.is_recording(),
            level: LogLevel::Error,
            text: format!("recording: {error}"),
        },
    };
    let _ = out.send(msg).await;
}

/// Terminal events as messages. Ctrl-C quits like the quit key (through `update`, so the halt
/// rule applies) unless the keymap binds it.
fn input_msg(event: Event, exit: &mut Option<Exit>) -> Option<Msg> {
    let _ = exit;
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => {
            let chord = KeyChord::from_event(&key)?;
            Some(Msg::Key(chord))
        }
        Event::Resize(width, height) => Some(Msg::Resize { width, height }),
        _ => None,
    }
}

/// Reference data and recent trades, read in the background; the screen never waits on them.
async fn exchange_reads(rest: RestClient, out: mpsc::Sender<Msg>) {
    let mut catalog = tokio::time::interval(CATALOG_EVERY);
    let mut trades = tokio::time::interval(TRADES_EVERY);
    loop {
        tokio::select! {
            _ = catalog.tick() => {
                let params = GetMarketsParams { limit: Some(1000), ..GetMarketsParams::default() };
                match rest.all_markets(&params).await {
                    Ok(markets) => {
                        let metas = markets.iter().map(market_meta).collect();
                        if out.send(Msg::Catalog(metas)).await.is_err() { return; }
                    }
                    Err(e) => {
                        let msg = Msg::Notice { level: LogLevel::Warn, text: format!("market list: {e}") };
                        if out.send(msg).await.is_err() { return; }
                    }
                }
            }
            _ = trades.tick() => {
                let params = GetTradesParams { limit: Some(50), ..GetTradesParams::default() };
                if let Ok(answer) = rest.trades(&params).await {
                    let mut rows: Vec<TapeRow> = answer.trades.iter().map(tape_row).collect();
                    rows.sort_by_key(|r| r.wall_ms);
                    if out.send(Msg::Trades(rows)).await.is_err() { return; }
                }
            }
        }
    }
}

/// The REST client's per-endpoint counters (atomics: no I/O).
fn rest_rows(rest: &RestClient) -> Vec<crate::tui::replica::RestRow> {
    rest.latency()
        .snapshot()
        .into_iter()
        .map(|l| crate::tui::replica::RestRow {
            endpoint: format!("{:?}", l.endpoint),
            requests: l.requests,
            failures: l.failures,
            mean_us: l.mean_us,
            max_us: l.max_us,
        })
        .collect()
}

pub fn market_meta(market: &Market) -> MarketMeta {
    MarketMeta {
        ticker: market.ticker.to_string(),
        event_ticker: market.event_ticker.clone(),
        title: market.title.clone().unwrap_or_default(),
        yes_subtitle: market.yes_sub_title.clone(),
        status: serde_json::to_value(market.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        close_ms: Some(market.close_time.unix_ms()),
        last_price: Some(market.last_price_dollars),
        volume_24h: market.volume_24h_fp,
        rules: market.rules_primary.clone(),
    }
}

fn tape_row(trade: &Trade) -> TapeRow {
    TapeRow {
        wall_ms: trade.created_time.unix_ms(),
        ticker: Ticker::from(trade.ticker.as_str()),
        yes_price: trade.yes_price_dollars,
        count: trade.count_fp,
        side: match trade.taker_book_side {
            BookSide::Bid => crate::core::risk::Side::Bid,
            BookSide::Ask => crate::core::risk::Side::Ask,
        },
        ours: false,
    }
}

/// Ctrl-C as a chord (the quit fallback).
pub fn is_ctrl_c(chord: &KeyChord) -> bool {
    chord.mods.ctrl && chord.key == KeyName::Char('c')
}
