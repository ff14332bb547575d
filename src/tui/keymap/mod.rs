//! Keymaps: which keys do which [`Action`] in which [`Layer`].
//!
//! The built-in `keymaps/default.toml` is embedded and binds every action. User files overlay it:
//! per action the user's list *replaces* the default list and `[]` unbinds; a user key that was
//! another action's default in the same layer takes that key over (reported as a warning).
//! Mistakes are collected, not first-only, and each names the file, line:col, the value and what
//! is accepted. The kill switch is special: it must stay bound, to guarded single keys (a
//! modifier or an F-key), and no binding in any layer may use its keys.

pub mod action;
pub mod key;

pub use action::{Action, Layer};
pub use key::{KEY_SYNTAX_HELP, KeyChord, KeyName, KeySequence};

use crate::config::diagnostic::{Diagnostic, Severity, did_you_mean};
use std::collections::BTreeMap;
use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// The shipped default keymap, embedded so the desk always has one.
pub const DEFAULT_KEYMAP: &str = include_str!("../../../keymaps/default.toml");
/// The shipped vim-flavoured overlay.
pub const VIM_KEYMAP: &str = include_str!("../../../keymaps/vim.toml");

/// Shipped keymaps by name, for `keymap = "vim"` in the config.
pub fn builtin_overlay(name: &str) -> Option<&'static str> {
    match name {
        "default" => Some(DEFAULT_KEYMAP),
        "vim" => Some(VIM_KEYMAP),
        _ => None,
    }
}

/// One keymap file's text and the name to report it by.
#[derive(Debug, Clone)]
pub struct KeymapSource {
    pub name: String,
    pub text: String,
}

impl KeymapSource {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> KeymapSource {
        KeymapSource {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// What a key press means right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Action(Action),
    /// The keys so far start a longer sequence: wait for the next key.
    Pending,
    Unbound,
}

#[derive(Debug, Clone)]
struct Binding {
    keys: KeySequence,
    action: Action,
    /// Which file (index into the sources) and where in it, for diagnostics.
    source: usize,
    span: Range<usize>,
}

/// A resolved, validated keymap.
#[derive(Debug, Clone)]
pub struct Keymap {
    layers: BTreeMap<Layer, Vec<Binding>>,
    kill_keys: Vec<KeyChord>,
}

impl Keymap {
    /// The built-in default keymap.
    pub fn builtin() -> Keymap {
        match Keymap::load(&[]) {
            Ok((keymap, _)) => keymap,
            // The embedded file is checked by tests; if it were ever broken the desk must still
            // have a working kill switch, so fall back to the minimum rather than panic.
            Err(_) => Keymap::kill_switch_only(),
        }
    }

    fn kill_switch_only() -> Keymap {
        let kill_keys = vec![KeyChord::ctrl('k'), KeyChord::plain(KeyName::F(12))];
        let bindings = kill_keys
            .iter()
            .map(|k| Binding {
                keys: KeySequence::single(*k),
                action: Action::KillSwitch,
                source: 0,
                span: 0..0,
            })
            .collect();
        Keymap {
            layers: BTreeMap::from([(Layer::Global, bindings)]),
            kill_keys,
        }
    }

    /// Build from the embedded default plus `overlays` applied left to right. On success returns
    /// the keymap and any warnings; on failure every error found (and the warnings).
    pub fn load(overlays: &[KeymapSource]) -> Result<(Keymap, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut sources = vec![KeymapSource::new(
            "keymaps/default.toml (built-in)",
            DEFAULT_KEYMAP,
        )];
        sources.extend(overlays.iter().cloned());
        let mut diagnostics = Vec::new();
        // (layer, action) -> bindings; later files replace whole lists.
        let mut assigned: BTreeMap<(Layer, Action), (usize, Vec<Binding>)> = BTreeMap::new();
        for (index, source) in sources.iter().enumerate() {
            let Some(file) = parse_file(index, source, &mut diagnostics) else {
                continue;
            };
            for ((layer, action), bindings) in file {
                // A user key that was an earlier file's key for another action in this layer
                // moves to this action; the displaced owner loses it, with a warning.
                for binding in &bindings {
                    for ((other_layer, other_action), (owner_source, others)) in assigned.iter_mut()
                    {
                        if *other_layer != layer
                            || *other_action == action
                            || *owner_source == index
                        {
                            continue;
                        }
                        let before = others.len();
                        others.retain(|b| b.keys != binding.keys);
                        if others.len() != before {
                            diagnostics.push(diag(
                                &sources,
                                Severity::Warning,
                                index,
                                binding.span.clone(),
                                format!(
                                    "'{}' now does '{}' in [{}]; it no longer does '{}'",
                                    binding.keys, action, layer, other_action
                                ),
                                None,
                            ));
                        }
                    }
                }
                assigned.insert((layer, action), (index, bindings));
            }
        }
        let mut layers: BTreeMap<Layer, Vec<Binding>> = BTreeMap::new();
        for ((layer, _), (_, bindings)) in assigned {
            layers.entry(layer).or_default().extend(bindings);
        }
        let kill_keys: Vec<KeyChord> = layers
            .get(&Layer::Global)
            .into_iter()
            .flatten()
            .filter(|b| b.action == Action::KillSwitch)
            .map(|b| b.keys.first())
            .collect();
        let keymap = Keymap { layers, kill_keys };
        keymap.validate(&sources, &mut diagnostics);
        if diagnostics.iter().any(Diagnostic::is_error) {
            Err(diagnostics)
        } else {
            Ok((keymap, diagnostics))
        }
    }

    fn validate(&self, sources: &[KeymapSource], out: &mut Vec<Diagnostic>) {
        let kill: Vec<&Binding> = self
            .bindings_of(Layer::Global, Action::KillSwitch)
            .collect();
        if kill.is_empty() {
            let message = "'kill_switch' has no key; it cannot be unbound".to_string();
            let help = Some("bind it to keys with a modifier or an F-key, e.g. kill_switch = [\"ctrl-k\", \"f12\"]".into());
            // Point at the last file's `kill_switch` line: that assignment emptied it.
            match last_kill_switch_line(sources) {
                Some((source, span)) => {
                    out.push(diag(sources, Severity::Error, source, span, message, help))
                }
                None => out.push(Diagnostic {
                    severity: Severity::Error,
                    file: sources.last().map_or(String::new(), |s| s.name.clone()),
                    line: 0,
                    col: 0,
                    source_line: String::new(),
                    message,
                    help,
                }),
            }
        }
        for b in &kill {
            if b.keys.0.len() != 1 || !b.keys.first().is_guarded() {
                out.push(diag(
                    sources,
                    Severity::Error,
                    b.source,
                    b.span.clone(),
                    format!("kill_switch key '{}' must be a single key with ctrl/alt/super or an F-key", b.keys),
                    Some("e.g. 'ctrl-k' or 'f12': a kill switch must not fire by typing, nor wait for a second key".into()),
                ));
            }
        }
        for (layer, bindings) in &self.layers {
            for (i, a) in bindings.iter().enumerate() {
                if a.action != Action::KillSwitch && self.kill_keys.contains(&a.keys.first()) {
                    out.push(diag(
                        sources,
                        Severity::Error,
                        a.source,
                        a.span.clone(),
                        format!(
                            "'{}' is the kill switch; '{}' in [{}] cannot use it",
                            a.keys, a.action, layer
                        ),
                        Some(
                            "the kill switch is resolved before every layer and cannot be shadowed"
                                .into(),
                        ),
                    ));
                }
                if layer.takes_text() && a.keys.first().is_printable() {
                    out.push(diag(
                        sources,
                        Severity::Error,
                        a.source,
                        a.span.clone(),
                        format!("'{}' would be typed into the search box; [{}] keys need a modifier or a named key", a.keys, layer),
                        Some("use e.g. 'enter', 'esc', 'down', 'ctrl-n'".into()),
                    ));
                }
                for b in &bindings[i + 1..] {
                    if a.keys == b.keys && a.action != b.action {
                        out.push(diag(
                            sources,
                            Severity::Error,
                            b.source,
                            b.span.clone(),
                            format!(
                                "'{}' is bound twice in [{}]: to '{}' and to '{}'",
                                b.keys, layer, a.action, b.action
                            ),
                            Some("remove it from one of them".into()),
                        ));
                    } else if a.keys != b.keys
                        && (a.keys.starts_with(&b.keys.0) || b.keys.starts_with(&a.keys.0))
                    {
                        let (short, long) = if a.keys.0.len() < b.keys.0.len() {
                            (a, b)
                        } else {
                            (b, a)
                        };
                        out.push(diag(
                            sources,
                            Severity::Error,
                            long.source,
                            long.span.clone(),
                            format!(
                                "'{}' ('{}') starts with '{}', which is already '{}' in [{}]",
                                long.keys, long.action, short.keys, short.action, layer
                            ),
                            Some(
                                "a key cannot be both a binding and the start of a sequence".into(),
                            ),
                        ));
                    }
                }
            }
        }
    }

    fn bindings_of(&self, layer: Layer, action: Action) -> impl Iterator<Item = &Binding> {
        self.layers
            .get(&layer)
            .into_iter()
            .flatten()
            .filter(move |b| b.action == action)
    }

    /// Is this chord a kill switch key? Checked before every layer, dialog and text field.
    pub fn is_kill_switch(&self, chord: &KeyChord) -> bool {
        self.kill_keys.contains(chord)
    }

    /// Resolve a press given the active layers (topmost first; `global` is implied last) and the
    /// keys already pressed of a pending sequence.
    pub fn resolve(&self, stack: &[Layer], pending: &[KeyChord], chord: KeyChord) -> Resolution {
        if self.is_kill_switch(&chord) {
            return Resolution::Action(Action::KillSwitch);
        }
        let mut pressed = pending.to_vec();
        pressed.push(chord);
        let global = [Layer::Global];
        for layer in stack
            .iter()
            .chain(global.iter().filter(|g| !stack.contains(g)))
        {
            let Some(bindings) = self.layers.get(layer) else {
                continue;
            };
            if let Some(b) = bindings.iter().find(|b| b.keys.0 == pressed) {
                return Resolution::Action(b.action);
            }
            if bindings
                .iter()
                .any(|b| b.keys.0.len() > pressed.len() && b.keys.starts_with(&pressed))
            {
                return Resolution::Pending;
            }
        }
        Resolution::Unbound
    }

    /// The keys bound to `action` in `layer`, as the user wrote them.
    pub fn keys_for(&self, layer: Layer, action: Action) -> Vec<&KeySequence> {
        self.bindings_of(layer, action).map(|b| &b.keys).collect()
    }

    /// Every binding of a layer, grouped by action in the order of [`Action::ALL`], for help.
    pub fn layer_bindings(&self, layer: Layer) -> Vec<(Action, Vec<&KeySequence>)> {
        Action::ALL
            .iter()
            .filter(|a| a.allowed_in(layer))
            .map(|a| (*a, self.keys_for(layer, *a)))
            .filter(|(_, keys)| !keys.is_empty())
            .collect()
    }

    /// The kill switch keys, for the status bar and the banner.
    pub fn kill_keys(&self) -> &[KeyChord] {
        &self.kill_keys
    }
}

/// The source and span of the last line that assigns `kill_switch`, searching files last first.
fn last_kill_switch_line(sources: &[KeymapSource]) -> Option<(usize, Range<usize>)> {
    sources
        .iter()
        .enumerate()
        .rev()
        .find_map(|(index, source)| {
            let mut offset = 0;
            let mut found = None;
            for line in source.text.split_inclusive('\n') {
                let key = line.trim_start();
                if key.starts_with("kill_switch") || key.starts_with("\"kill_switch\"") {
                    let start = offset + (line.len() - key.len());
                    found = Some(start..start + key.trim_end().len());
                }
                offset += line.len();
            }
            found.map(|span| (index, span))
        })
}

fn diag(
    sources: &[KeymapSource],
    severity: Severity,
    source: usize,
    span: Range<usize>,
    message: String,
    help: Option<String>,
) -> Diagnostic {
    let (name, text) = sources
        .get(source)
        .map_or(("", ""), |s| (s.name.as_str(), s.text.as_str()));
    Diagnostic::at(severity, name, text, span, message, help)
}

type FileBindings = BTreeMap<(Layer, Action), Vec<Binding>>;

/// Parse one keymap file into (layer, action) → bindings, reporting every problem.
fn parse_file(
    index: usize,
    source: &KeymapSource,
    out: &mut Vec<Diagnostic>,
) -> Option<FileBindings> {
    let root = match DeTable::parse(&source.text) {
        Ok(root) => root,
        Err(error) => {
            out.push(Diagnostic::from_toml(&source.name, &source.text, &error));
            return None;
        }
    };
    let here = |span: Range<usize>, message: String, help: Option<String>| {
        Diagnostic::at(
            Severity::Error,
            &source.name,
            &source.text,
            span,
            message,
            help,
        )
    };
    let layer_names: Vec<&str> = Layer::ALL.iter().map(|l| l.name()).collect();
    let mut file = FileBindings::new();
    for (layer_key, layer_value) in root.get_ref() {
        let layer_name = layer_key.get_ref().as_ref();
        let Some(layer) = Layer::from_name(layer_name) else {
            let help = did_you_mean(layer_name, layer_names.iter().copied())
                .map(|s| format!("did you mean '{s}'? layers are: {}", layer_names.join(", ")))
                .or_else(|| Some(format!("layers are: {}", layer_names.join(", "))));
            out.push(here(
                layer_key.span(),
                format!("unknown layer '{layer_name}'"),
                help,
            ));
            continue;
        };
        let DeValue::Table(actions) = layer_value.get_ref() else {
            out.push(here(
                layer_value.span(),
                format!("[{layer_name}] must be a table of action = [keys]"),
                None,
            ));
            continue;
        };
        let allowed: Vec<&str> = Action::ALL
            .iter()
            .filter(|a| a.allowed_in(layer))
            .map(|a| a.name())
            .collect();
        for (action_key, keys_value) in actions {
            let action_name = action_key.get_ref().as_ref();
            let action = match Action::from_name(action_name) {
                Some(a) if a.allowed_in(layer) => a,
                found => {
                    let message = if found.is_some() {
                        format!("action '{action_name}' cannot be bound in [{layer_name}]")
                    } else {
                        format!("unknown action '{action_name}' in [{layer_name}]")
                    };
                    let help = did_you_mean(action_name, allowed.iter().copied())
                        .map(|s| format!("did you mean '{s}'?"))
                        .or_else(|| {
                            Some(format!("actions in [{layer_name}]: {}", allowed.join(", ")))
                        });
                    out.push(here(action_key.span(), message, help));
                    continue;
                }
            };
            let DeValue::Array(items) = keys_value.get_ref() else {
                out.push(here(
                    keys_value.span(),
                    format!("'{action_name}' must be a list of keys, e.g. [\"ctrl-k\"] (or [] to unbind)"),
                    None,
                ));
                continue;
            };
            let mut bindings = Vec::new();
            for item in items {
                let DeValue::String(text) = item.get_ref() else {
                    out.push(here(
                        item.span(),
                        format!("keys of '{action_name}' must be strings"),
                        None,
                    ));
                    continue;
                };
                match KeySequence::parse(text) {
                    Ok(keys) => {
                        if !bindings.iter().any(|b: &Binding| b.keys == keys) {
                            bindings.push(Binding {
                                keys,
                                action,
                                source: index,
                                span: item.span(),
                            });
                        }
                    }
                    Err(problem) => out.push(here(
                        item.span(),
                        format!("'{text}' is not a key: {problem}"),
                        Some(KEY_SYNTAX_HELP.to_string()),
                    )),
                }
            }
            file.insert((layer, action), bindings);
        }
    }
    Some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chord(text: &str) -> KeyChord {
        KeyChord::parse(text).unwrap()
    }

    fn load(text: &str) -> Result<(Keymap, Vec<Diagnostic>), Vec<Diagnostic>> {
        Keymap::load(&[KeymapSource::new("user.toml", text)])
    }

    fn errors(text: &str) -> String {
        crate::config::diagnostic::render_all(&load(text).unwrap_err())
    }

    #[test]
    fn default_binds_every_action_and_the_kill_switch_first() {
        let (keymap, warnings) = Keymap::load(&[]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        for action in Action::ALL {
            let bound = action
                .layers()
                .iter()
                .any(|l| !keymap.keys_for(*l, *action).is_empty());
            assert!(bound, "default keymap leaves '{action}' unbound");
        }
        for layer in Layer::ALL {
            for key in ["ctrl-k", "f12"] {
                assert_eq!(
                    keymap.resolve(&[layer], &[], chord(key)),
                    Resolution::Action(Action::KillSwitch),
                    "{key} in {layer}"
                );
            }
        }
    }

    #[test]
    fn vim_overlay_is_valid() {
        let (keymap, _) = Keymap::load(&[KeymapSource::new("vim", VIM_KEYMAP)]).unwrap();
        assert_eq!(
            keymap.resolve(&[Layer::Market], &[], chord("j")),
            Resolution::Action(Action::SelectNext)
        );
    }

    #[test]
    fn user_lists_replace_defaults_and_empty_unbinds() {
        let (keymap, _) = load("[global]\nquit = [\"ctrl-x\"]\nhelp = []\n").unwrap();
        assert_eq!(
            keymap.resolve(&[], &[], chord("ctrl-x")),
            Resolution::Action(Action::Quit)
        );
        assert_eq!(
            keymap.resolve(&[], &[], chord("ctrl-q")),
            Resolution::Unbound
        );
        assert!(keymap.keys_for(Layer::Global, Action::Help).is_empty());
    }

    #[test]
    fn taking_another_actions_default_key_warns() {
        let (keymap, warnings) = load("[market]\narm = [\"p\"]\n").unwrap();
        assert_eq!(
            keymap.resolve(&[Layer::Market], &[], chord("p")),
            Resolution::Action(Action::Arm)
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].message.contains("no longer does 'pause'"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn sequences_wait_for_the_next_key() {
        let (keymap, _) = load("[market]\nedit_params = [\"g e\"]\n").unwrap();
        assert_eq!(
            keymap.resolve(&[Layer::Market], &[], chord("g")),
            Resolution::Pending
        );
        assert_eq!(
            keymap.resolve(&[Layer::Market], &[chord("g")], chord("e")),
            Resolution::Action(Action::EditParams)
        );
    }

    #[test]
    fn the_kill_switch_cannot_be_unbound_weakened_or_shadowed() {
        assert!(errors("[global]\nkill_switch = []\n").contains("cannot be unbound"));
        // Found by fuzzing: the error named no line; it points at the emptying assignment.
        let unbound = errors("[global]\n# the kill switch\nkill_switch = []\n");
        assert!(unbound.contains("user.toml:3:1"), "{unbound}");
        assert!(
            errors("[global]\nkill_switch = [\"k\"]\n")
                .contains("must be a single key with ctrl/alt/super or an F-key")
        );
        assert!(errors("[global]\nkill_switch = [\"ctrl-g ctrl-k\"]\n").contains("single key"));
        let shadow = errors("[market]\narm = [\"ctrl-k\"]\n");
        assert!(
            shadow.contains("is the kill switch") && shadow.contains("user.toml:2:"),
            "{shadow}"
        );
        // Moving the kill switch to other keys is allowed.
        let (keymap, _) = load("[global]\nkill_switch = [\"ctrl-alt-h\"]\n").unwrap();
        assert_eq!(
            keymap.resolve(&[Layer::Ticket], &[], chord("ctrl-alt-h")),
            Resolution::Action(Action::KillSwitch)
        );
    }

    #[test]
    fn mistakes_name_file_line_value_and_what_is_accepted() {
        let text = "[globl]\nquit = [\"ctrl-q\"]\n[market]\narmm = [\"a\"]\nfilter = [\"ctrl-qq\"]\ncancel_order = [\"x\"]\n[search]\naccept = [\"y\"]\n";
        let all = errors(text);
        assert!(
            all.contains("unknown layer 'globl'") && all.contains("did you mean 'global'"),
            "{all}"
        );
        assert!(
            all.contains("unknown action 'armm'") && all.contains("did you mean 'arm'"),
            "{all}"
        );
        assert!(
            all.contains("'ctrl-qq' is not a key") && all.contains("--> user.toml:5:11"),
            "{all}"
        );
        assert!(
            all.contains("action 'cancel_order' cannot be bound in [market]"),
            "{all}"
        );
        assert!(all.contains("typed into the search box"), "{all}");
        assert!(errors("[global\n").contains("--> user.toml:1:"));
        assert!(errors("[market]\narm = \"a\"\n").contains("must be a list of keys"));
    }

    #[test]
    fn duplicate_and_prefix_conflicts_are_errors() {
        let dup = errors("[market]\narm = [\"z\"]\ndisarm = [\"z\"]\n");
        assert!(dup.contains("bound twice in [market]"), "{dup}");
        let prefix = errors("[market]\narm = [\"z\"]\ndisarm = [\"z x\"]\n");
        assert!(prefix.contains("starts with 'z'"), "{prefix}");
    }

    #[test]
    fn modal_layers_shadow_panes_and_panes_shadow_global() {
        let (keymap, _) = Keymap::load(&[]).unwrap();
        let esc = chord("esc");
        assert_eq!(
            keymap.resolve(&[Layer::Ticket, Layer::Market], &[], esc),
            Resolution::Action(Action::Close)
        );
        assert_eq!(
            keymap.resolve(&[Layer::Confirm], &[], esc),
            Resolution::Action(Action::Reject)
        );
    }
}
