//! TerminalGuard: raw mode, alternate screen and a hidden cursor while the desk runs; restored on
//! drop, on panic (before the panic message prints, so it is readable) and on Ctrl-C.

use std::io::{self, Stdout, Write};
use std::sync::{Arc, Once};

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type DeskTerminal = Terminal<CrosstermBackend<Stdout>>;

/// Called from the panic hook before the terminal is restored (the desk halts there).
pub type PanicAction = Arc<dyn Fn() + Send + Sync>;

pub struct TerminalGuard {
    pub terminal: DeskTerminal,
}

/// Put the terminal back: leave the alternate screen, show the cursor, cooked mode. Idempotent.
pub fn restore() {
    let mut out = io::stdout();
    let _ = execute!(out, LeaveAlternateScreen, Show);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

impl TerminalGuard {
    /// Enter raw mode and the alternate screen; install the panic hook once, running
    /// `on_panic` (halt the desk if anything is armed) and then restoring the terminal.
    pub fn enter(on_panic: PanicAction) -> io::Result<TerminalGuard> {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                on_panic();
                restore();
                previous(info);
            }));
        });
        enable_raw_mode()?;
        let mut out = io::stdout();
        if let Err(e) = execute!(out, EnterAlternateScreen, Hide) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(out)) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}
