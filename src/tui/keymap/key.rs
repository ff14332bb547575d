//! Key chords: parse and print the keymap syntax, and normalise terminal key events to it.
//!
//! Syntax: lowercase, dash-joined modifiers (`ctrl-`, `alt-`, `shift-`, `super-`) and a key name
//! (`enter`, `esc`, `tab`, `backtab`, `space`, `backspace`, `delete`, `insert`, `home`, `end`,
//! `pageup`, `pagedown`, `up`, `down`, `left`, `right`, `f1`…`f12`, `minus`, or one character). An
//! uppercase letter is the same chord as `shift-` + the letter. A sequence is space-separated
//! (`g e`). Parsing and printing round-trip, so help shows what the user wrote.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::fmt;

/// Modifier bits, kept small and ordered so chords compare and print canonically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mods {
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
    pub super_: bool,
}

impl Mods {
    pub const NONE: Mods = Mods {
        ctrl: false,
        alt: false,
        shift: false,
        super_: false,
    };

    pub fn is_empty(self) -> bool {
        self == Mods::NONE
    }
}

/// The key itself, without modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyName {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Space,
    Backspace,
    Delete,
    Insert,
    Home,
    End,
    PageUp,
    PageDown,
    Up,
    Down,
    Left,
    Right,
}

/// One key press with its modifiers, in canonical form: letters are lowercase with `shift`
/// carrying case; other characters carry no `shift` (the character already says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyChord {
    pub mods: Mods,
    pub key: KeyName,
}

const NAMED: [(&str, KeyName); 17] = [
    ("enter", KeyName::Enter),
    ("esc", KeyName::Esc),
    ("tab", KeyName::Tab),
    ("backtab", KeyName::BackTab),
    ("space", KeyName::Space),
    ("backspace", KeyName::Backspace),
    ("delete", KeyName::Delete),
    ("insert", KeyName::Insert),
    ("home", KeyName::Home),
    ("end", KeyName::End),
    ("pageup", KeyName::PageUp),
    ("pagedown", KeyName::PageDown),
    ("up", KeyName::Up),
    ("down", KeyName::Down),
    ("left", KeyName::Left),
    ("right", KeyName::Right),
    ("minus", KeyName::Char('-')),
];

/// What a key string may look like, for error help.
pub const KEY_SYNTAX_HELP: &str = "a key is an optional 'ctrl-', 'alt-', 'shift-' or 'super-' \
     prefix and a key name: one character, 'enter', 'esc', 'tab', 'backtab', 'space', 'backspace', \
     'delete', 'insert', 'home', 'end', 'pageup', 'pagedown', 'up', 'down', 'left', 'right', \
     'minus' or 'f1'..'f12'; a sequence is keys separated by spaces, e.g. 'g e'";

impl KeyChord {
    pub const fn plain(key: KeyName) -> KeyChord {
        KeyChord {
            mods: Mods::NONE,
            key,
        }
    }

    pub fn ctrl(c: char) -> KeyChord {
        KeyChord {
            mods: Mods {
                ctrl: true,
                ..Mods::NONE
            },
            key: KeyName::Char(c),
        }
    }

    /// Parse one chord (`ctrl-k`, `F12`, `?`, `shift-tab`, `G`).
    pub fn parse(text: &str) -> Result<KeyChord, String> {
        if text.is_empty() {
            return Err("empty key".into());
        }
        let mut mods = Mods::NONE;
        let mut rest = text;
        // A lone '-' is the minus key; otherwise peel `mod-` prefixes.
        loop {
            let lower = rest.to_ascii_lowercase();
            let (prefix_len, flag) = if lower.starts_with("ctrl-") && rest.len() > 5 {
                (5, &mut mods.ctrl)
            } else if lower.starts_with("alt-") && rest.len() > 4 {
                (4, &mut mods.alt)
            } else if lower.starts_with("shift-") && rest.len() > 6 {
                (6, &mut mods.shift)
            } else if lower.starts_with("super-") && rest.len() > 6 {
                (6, &mut mods.super_)
            } else {
                break;
            };
            if *flag {
                return Err(format!("modifier repeated in '{text}'"));
            }
            *flag = true;
            rest = &rest[prefix_len..];
        }
        let key = parse_key_name(rest).ok_or_else(|| format!("unknown key '{rest}'"))?;
        Ok(KeyChord { mods, key }.canonical())
    }

    /// Normalise case and shift so equal presses compare equal.
    fn canonical(mut self) -> KeyChord {
        match self.key {
            KeyName::Char(c) if c.is_ascii_uppercase() => {
                self.key = KeyName::Char(c.to_ascii_lowercase());
                self.mods.shift = true;
            }
            KeyName::Char(c) if !c.is_ascii_alphabetic() => {
                // '?' arrives as shift + '?' on some terminals; the character says it all.
                self.mods.shift = false;
            }
            KeyName::Char(' ') => self.key = KeyName::Space,
            KeyName::Tab if self.mods.shift => {
                self.key = KeyName::BackTab;
                self.mods.shift = false;
            }
            KeyName::BackTab => self.mods.shift = false,
            _ => {}
        }
        if let KeyName::Char(' ') = self.key {
            self.key = KeyName::Space;
        }
        self
    }

    /// From a terminal key event; `None` for keys the keymap cannot name.
    pub fn from_event(event: &KeyEvent) -> Option<KeyChord> {
        let m = event.modifiers;
        let mods = Mods {
            ctrl: m.contains(KeyModifiers::CONTROL),
            alt: m.contains(KeyModifiers::ALT),
            shift: m.contains(KeyModifiers::SHIFT),
            super_: m.contains(KeyModifiers::SUPER),
        };
        let key = match event.code {
            KeyCode::Char(c) => KeyName::Char(c),
            KeyCode::F(n) if (1..=12).contains(&n) => KeyName::F(n),
            KeyCode::Enter => KeyName::Enter,
            KeyCode::Esc => KeyName::Esc,
            KeyCode::Tab => KeyName::Tab,
            KeyCode::BackTab => KeyName::BackTab,
            KeyCode::Backspace => KeyName::Backspace,
            KeyCode::Delete => KeyName::Delete,
            KeyCode::Insert => KeyName::Insert,
            KeyCode::Home => KeyName::Home,
            KeyCode::End => KeyName::End,
            KeyCode::PageUp => KeyName::PageUp,
            KeyCode::PageDown => KeyName::PageDown,
            KeyCode::Up => KeyName::Up,
            KeyCode::Down => KeyName::Down,
            KeyCode::Left => KeyName::Left,
            KeyCode::Right => KeyName::Right,
            _ => return None,
        };
        Some(KeyChord { mods, key }.canonical())
    }

    /// The printable character this chord types into a text field, if any.
    pub fn typed_char(&self) -> Option<char> {
        if self.mods.ctrl || self.mods.alt || self.mods.super_ {
            return None;
        }
        match self.key {
            KeyName::Char(c) if self.mods.shift => Some(c.to_ascii_uppercase()),
            KeyName::Char(c) => Some(c),
            KeyName::Space => Some(' '),
            _ => None,
        }
    }

    /// Would typing this chord put a character into a text field?
    pub fn is_printable(&self) -> bool {
        self.typed_char().is_some()
    }

    /// A modifier other than shift, or a function key: safe from accidental typing.
    pub fn is_guarded(&self) -> bool {
        self.mods.ctrl || self.mods.alt || self.mods.super_ || matches!(self.key, KeyName::F(_))
    }
}

fn parse_key_name(text: &str) -> Option<KeyName> {
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(KeyName::Char(c));
    }
    let lower = text.to_ascii_lowercase();
    if let Some((_, key)) = NAMED.iter().find(|(name, _)| *name == lower) {
        return Some(*key);
    }
    let n: u8 = lower.strip_prefix('f')?.parse().ok()?;
    (1..=12).contains(&n).then_some(KeyName::F(n))
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.mods.alt {
            f.write_str("alt-")?;
        }
        if self.mods.super_ {
            f.write_str("super-")?;
        }
        match self.key {
            KeyName::Char(c) if self.mods.shift && !self.mods.ctrl && !self.mods.alt => {
                write!(f, "{}", c.to_ascii_uppercase())
            }
            key => {
                if self.mods.shift {
                    f.write_str("shift-")?;
                }
                match key {
                    KeyName::Char('-') => f.write_str("minus"),
                    KeyName::Char(c) => write!(f, "{c}"),
                    KeyName::F(n) => write!(f, "f{n}"),
                    other => {
                        let name = NAMED
                            .iter()
                            .find(|(_, k)| *k == other)
                            .map_or("?", |(n, _)| n);
                        f.write_str(name)
                    }
                }
            }
        }
    }
}

/// One or more chords pressed in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeySequence(pub Vec<KeyChord>);

impl KeySequence {
    pub fn parse(text: &str) -> Result<KeySequence, String> {
        let chords: Result<Vec<_>, _> = text
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(KeyChord::parse)
            .collect();
        let chords = chords?;
        if chords.is_empty() {
            return Err("empty key".into());
        }
        Ok(KeySequence(chords))
    }

    pub fn single(chord: KeyChord) -> KeySequence {
        KeySequence(vec![chord])
    }

    pub fn first(&self) -> KeyChord {
        self.0[0]
    }

    pub fn starts_with(&self, prefix: &[KeyChord]) -> bool {
        self.0.len() >= prefix.len() && self.0[..prefix.len()] == *prefix
    }
}

impl fmt::Display for KeySequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, chord) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{chord}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for text in [
            "ctrl-k",
            "f12",
            "?",
            "G",
            "ctrl-shift-tab",
            "alt-x",
            "enter",
            "backtab",
            "space",
            "pageup",
            "minus",
            "+",
            "g e",
            "ctrl-alt-delete",
        ] {
            let seq = KeySequence::parse(text).unwrap();
            assert_eq!(KeySequence::parse(&seq.to_string()).unwrap(), seq, "{text}");
        }
        assert_eq!(
            KeyChord::parse("G").unwrap(),
            KeyChord::parse("shift-g").unwrap()
        );
        assert_eq!(
            KeyChord::parse("shift-tab").unwrap(),
            KeyChord::parse("backtab").unwrap()
        );
        assert_eq!(KeyChord::parse("F12").unwrap().to_string(), "f12");
        assert_eq!(KeyChord::parse("-").unwrap().to_string(), "minus");
    }

    #[test]
    fn rejects_unknown_keys() {
        for bad in ["", "ctrl-", "f13", "hyper-k", "ctrl-ctrl-k", "enterr"] {
            assert!(KeySequence::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn terminal_events_normalise_to_the_parsed_chord() {
        let shifted_k = KeyEvent::new(KeyCode::Char('K'), KeyModifiers::SHIFT);
        assert_eq!(
            KeyChord::from_event(&shifted_k),
            Some(KeyChord::parse("K").unwrap())
        );
        let ctrl_k = KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL);
        assert_eq!(
            KeyChord::from_event(&ctrl_k),
            Some(KeyChord::parse("ctrl-k").unwrap())
        );
        let question = KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(
            KeyChord::from_event(&question),
            Some(KeyChord::parse("?").unwrap())
        );
        let backtab = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(
            KeyChord::from_event(&backtab),
            Some(KeyChord::parse("backtab").unwrap())
        );
        let f12 = KeyEvent::new(KeyCode::F(12), KeyModifiers::NONE);
        assert_eq!(
            KeyChord::from_event(&f12),
            Some(KeyChord::parse("f12").unwrap())
        );
    }
}
