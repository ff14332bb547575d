//! Semantic roles: widgets ask for a role, never a colour. Each role falls back to a more general
//! one, so a partial theme still styles everything sensibly.

macro_rules! roles {
    ($( $variant:ident = $name:literal => $fallback:expr, $doc:literal; )+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Role { $( #[doc = $doc] $variant, )+ }

        impl Role {
            pub const ALL: &'static [Role] = &[ $( Role::$variant, )+ ];

            pub fn name(self) -> &'static str {
                match self { $( Role::$variant => $name, )+ }
            }

            /// The more general role used when a theme leaves this one out.
            pub fn fallback(self) -> Option<Role> {
                match self { $( Role::$variant => $fallback, )+ }
            }

            pub fn description(self) -> &'static str {
                match self { $( Role::$variant => $doc, )+ }
            }
        }
    };
}

roles! {
    Text = "text" => None, "Ordinary text";
    TextMuted = "text_muted" => Some(Role::Text), "Secondary text: labels, units, hints";
    Border = "border" => Some(Role::TextMuted), "Panel borders";
    BorderFocused = "border_focused" => Some(Role::Border), "The focused panel's border";
    Title = "title" => Some(Role::Text), "Panel titles";
    TitleFocused = "title_focused" => Some(Role::Title), "The focused panel's title";
    Header = "header" => Some(Role::TextMuted), "Table column headers";
    Selection = "selection" => Some(Role::Text), "The selected row";
    Yes = "yes" => Some(Role::Text), "YES side labels and prices";
    No = "no" => Some(Role::Text), "NO side labels and prices";
    BookBid = "book_bid" => Some(Role::Yes), "Bid levels in the ladder";
    BookAsk = "book_ask" => Some(Role::No), "Ask levels in the ladder";
    BookBidDepth = "book_bid_depth" => Some(Role::BookBid), "Depth bars behind bid levels";
    BookAskDepth = "book_ask_depth" => Some(Role::BookAsk), "Depth bars behind ask levels";
    BookOwnOrder = "book_own_order" => Some(Role::Text), "Own orders marked in the ladder";
    BookSpread = "book_spread" => Some(Role::TextMuted), "The spread row of the ladder";
    PriceUp = "price_up" => Some(Role::Text), "A price that went up";
    PriceDown = "price_down" => Some(Role::Text), "A price that went down";
    PnlPositive = "pnl_positive" => Some(Role::PriceUp), "Positive P&L";
    PnlNegative = "pnl_negative" => Some(Role::PriceDown), "Negative P&L";
    BadgeDisarmed = "badge_disarmed" => Some(Role::TextMuted), "DISARMED control badge";
    BadgeArmed = "badge_armed" => Some(Role::Text), "ARMED control badge";
    BadgePaused = "badge_paused" => Some(Role::Text), "PAUSED control badge";
    BadgeHold = "badge_hold" => Some(Role::BadgePaused), "HOLD (resync) control badge";
    BadgeManual = "badge_manual" => Some(Role::Text), "MANUAL control badge";
    BadgeReducing = "badge_reducing" => Some(Role::Text), "REDUCING control badge";
    StatusBar = "status_bar" => Some(Role::Text), "The status bar";
    StatusLive = "status_live" => Some(Role::StatusBar), "Environment badge: production";
    StatusDemo = "status_demo" => Some(Role::StatusBar), "Environment badge: demo";
    StatusSim = "status_sim" => Some(Role::StatusBar), "Environment badge: simulator";
    StatusPaper = "status_paper" => Some(Role::StatusBar), "PAPER badge";
    StatusOk = "status_ok" => Some(Role::StatusBar), "Healthy connection / trading active";
    StatusWarn = "status_warn" => Some(Role::StatusBar), "Degraded: lag, reconnecting, budget low";
    StatusHalted = "status_halted" => Some(Role::StatusBar), "Trading halted";
    HaltBanner = "halt_banner" => Some(Role::StatusHalted), "The HALTED banner";
    Frozen = "frozen" => Some(Role::StatusWarn), "Display frozen marker";
    Stale = "stale" => Some(Role::TextMuted), "Data older than its freshness limit";
    NoticeInfo = "notice_info" => Some(Role::Text), "Informational notice";
    NoticeWarn = "notice_warn" => Some(Role::StatusWarn), "Warning notice";
    NoticeError = "notice_error" => Some(Role::StatusHalted), "Error notice";
    Input = "input" => Some(Role::Text), "Text fields";
    InputFocused = "input_focused" => Some(Role::Selection), "The text field being edited";
    KeyHint = "key_hint" => Some(Role::TextMuted), "Key names in hints and help";
    Chart = "chart" => Some(Role::Text), "Chart lines";
    GaugeOk = "gauge_ok" => Some(Role::PnlPositive), "Gauge with headroom";
    GaugeDanger = "gauge_danger" => Some(Role::PnlNegative), "Gauge near its limit";
    LogInfo = "log_info" => Some(Role::Text), "Log lines: info";
    LogWarn = "log_warn" => Some(Role::NoticeWarn), "Log lines: warnings";
    LogError = "log_error" => Some(Role::NoticeError), "Log lines: errors";
}

impl Role {
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fallback_chain_ends_at_text_without_cycles() {
        for role in Role::ALL {
            let mut current = *role;
            for _ in 0..Role::ALL.len() {
                match current.fallback() {
                    Some(next) => current = next,
                    None => break,
                }
            }
            assert_eq!(
                current,
                Role::Text,
                "{} does not fall back to text",
                role.name()
            );
        }
    }
}
