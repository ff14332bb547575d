//! The panels of the main screen, their order for focus, and which keymap layer each uses.

use crate::tui::keymap::Layer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Panel {
    Watchlist,
    Ladder,
    Orders,
    Positions,
    Strategies,
    Pnl,
    Chart,
    Tape,
    Health,
    Log,
}

impl Panel {
    pub const ALL: [Panel; 10] = [
        Panel::Watchlist,
        Panel::Ladder,
        Panel::Orders,
        Panel::Positions,
        Panel::Strategies,
        Panel::Pnl,
        Panel::Chart,
        Panel::Tape,
        Panel::Health,
        Panel::Log,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Panel::Watchlist => "Watchlist",
            Panel::Ladder => "Book",
            Panel::Orders => "Working orders",
            Panel::Positions => "Positions",
            Panel::Strategies => "Strategies",
            Panel::Pnl => "P&L",
            Panel::Chart => "Price",
            Panel::Tape => "Tape",
            Panel::Health => "Health",
            Panel::Log => "Log",
        }
    }

    /// The keymap layer under the global one while this panel has focus.
    pub fn layer(self) -> Layer {
        match self {
            Panel::Orders => Layer::Orders,
            _ => Layer::Market,
        }
    }
}
