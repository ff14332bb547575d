//! The closed vocabulary of things a key can do, and the layers keys are bound in.
//! Every key resolves to an [`Action`] before any logic runs; descriptions feed the help overlay.

use std::fmt;

/// Where a binding applies. Modal layers (ticket, confirm, search, help) sit above the focused
/// pane's layer, which sits above `global`; the kill switch is resolved before all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Global,
    Market,
    Orders,
    Ticket,
    Confirm,
    Search,
    Help,
}

impl Layer {
    pub const ALL: [Layer; 7] = [
        Layer::Global,
        Layer::Market,
        Layer::Orders,
        Layer::Ticket,
        Layer::Confirm,
        Layer::Search,
        Layer::Help,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Layer::Global => "global",
            Layer::Market => "market",
            Layer::Orders => "orders",
            Layer::Ticket => "ticket",
            Layer::Confirm => "confirm",
            Layer::Search => "search",
            Layer::Help => "help",
        }
    }

    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Layers whose unmodified printable keys are typed into a text field, so bindings there must
    /// not be plain characters.
    pub fn takes_text(self) -> bool {
        matches!(self, Layer::Search)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Layer::Global => "everywhere",
            Layer::Market => "watchlist, book ladder, positions and strategies panes",
            Layer::Orders => "working orders pane",
            Layer::Ticket => "order ticket",
            Layer::Confirm => "confirmation dialogs",
            Layer::Search => "market search",
            Layer::Help => "help overlay",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! actions {
    ($( $variant:ident = $name:literal, [$($layer:ident),+], $doc:literal; )+) => {
        /// A named thing the operator can do from the keyboard.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Action { $( #[doc = $doc] $variant, )+ }

        impl Action {
            pub const ALL: &'static [Action] = &[ $( Action::$variant, )+ ];

            pub fn name(self) -> &'static str {
                match self { $( Action::$variant => $name, )+ }
            }

            pub fn description(self) -> &'static str {
                match self { $( Action::$variant => $doc, )+ }
            }

            /// The layers this action may be bound in.
            pub fn layers(self) -> &'static [Layer] {
                match self { $( Action::$variant => &[$(Layer::$layer),+], )+ }
            }
        }
    };
}

actions! {
    KillSwitch = "kill_switch", [Global], "Kill switch: halt trading, cancel every order, disarm every strategy";
    Quit = "quit", [Global], "Quit the desk (halts first if anything is armed)";
    Help = "help", [Global], "Show or hide this help";
    FocusNext = "focus_next", [Global], "Focus the next panel";
    FocusPrev = "focus_prev", [Global], "Focus the previous panel";
    ZoomPanel = "zoom_panel", [Global], "Zoom the focused panel / restore the layout";
    HidePanel = "hide_panel", [Global], "Hide the focused panel";
    ShowAllPanels = "show_all_panels", [Global], "Show every hidden panel";
    ToggleFreeze = "toggle_freeze", [Global], "Freeze / unfreeze the display (trading continues)";
    MarketSearch = "market_search", [Global], "Search all open markets to add one";
    PauseAll = "pause_all", [Global], "Pause every armed market";
    FlattenAll = "flatten_all", [Global], "Flatten every position (asks for confirmation)";
    ResetHalt = "reset_halt", [Global], "Reset a halt and resume trading (asks for confirmation)";
    ToggleBell = "toggle_bell", [Global], "Turn the alert bell on or off";
    ToggleRecording = "toggle_recording", [Global], "Start / stop recording the market feed to a tape";
    DismissNotice = "dismiss_notice", [Global], "Dismiss the newest notice";
    SelectNext = "select_next", [Market, Orders, Search, Help], "Select the next row";
    SelectPrev = "select_prev", [Market, Orders, Search, Help], "Select the previous row";
    PageDown = "page_down", [Market, Orders, Help], "Move a page down";
    PageUp = "page_up", [Market, Orders, Help], "Move a page up";
    SortNext = "sort_next", [Market], "Sort the watchlist by the next column";
    Filter = "filter", [Market], "Filter the watchlist by typing";
    Arm = "arm", [Market], "Arm the selected market's strategy";
    Pause = "pause", [Market], "Pause the selected market (operator reason)";
    Disarm = "disarm", [Market], "Disarm the selected market";
    Manual = "manual", [Market], "Override: take the selected market by hand (MANUAL)";
    ReduceOnly = "reduce_only", [Market], "Wind the selected market down (REDUCING)";
    NewOrder = "new_order", [Market, Orders], "Open the order ticket for the selected market";
    BuyYes = "buy_yes", [Market], "Order ticket: buy YES at the ask";
    BuyNo = "buy_no", [Market], "Order ticket: buy NO at the NO ask";
    CancelAllInMarket = "cancel_all_in_market", [Market, Orders], "Cancel every order of mine in the selected market";
    EditParams = "edit_params", [Market], "Edit the selected market's strategy parameters";
    EventView = "event_view", [Market], "Show the selected market's event (brackets, ladder, rules)";
    RemoveMarket = "remove_market", [Market], "Remove the selected market from the watchlist";
    PriceAlert = "price_alert", [Market], "Alert once when the selected market's mid leaves its current bid-ask band";
    CancelOrder = "cancel_order", [Orders], "Cancel the selected order";
    AmendOrder = "amend_order", [Orders], "Amend the selected order's price or size";
    Submit = "submit", [Ticket], "Send the order (after the risk gate's verdict)";
    Close = "close", [Ticket, Search, Help], "Close without acting";
    NextField = "next_field", [Ticket], "Next field";
    PrevField = "prev_field", [Ticket], "Previous field";
    ToggleAction = "toggle_action", [Ticket], "Switch buy / sell";
    ToggleOutcome = "toggle_outcome", [Ticket], "Switch YES / NO";
    PriceUp = "price_up", [Ticket], "Price up one tick";
    PriceDown = "price_down", [Ticket], "Price down one tick";
    CountUp = "count_up", [Ticket], "Count up one contract";
    CountDown = "count_down", [Ticket], "Count down one contract";
    TogglePostOnly = "toggle_post_only", [Ticket], "Post-only on / off";
    CycleTimeInForce = "cycle_time_in_force", [Ticket], "Next time in force (GTC, IOC, FOK)";
    Accept = "accept", [Confirm, Search], "Confirm / choose";
    Reject = "reject", [Confirm], "Decline";
}

impl Action {
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }

    pub fn allowed_in(self, layer: Layer) -> bool {
        self.layers().contains(&layer)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
