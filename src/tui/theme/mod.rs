//! Themes: TOML files of a palette and semantic role styles, with `extends` chains.
//!
//! ```toml
//! extends = "default"           # optional; chains at most 8 deep, cycles are errors
//! [palette]
//! up = "#7fd962"
//! [styles]
//! book_bid = "up"                                    # string: foreground only
//! status_halted = { fg = "black", bg = "red", bold = true }
//! ```
//!
//! The embedded `themes/default.toml` defines every [`Role`]; other themes overlay it role by role.
//! A theme with any mistake is not used: the desk starts with the default theme and shows the
//! diagnostics as a notice (a wrong colour is not worth refusing to start over, unlike a keymap).

pub mod role;

pub use role::Role;

use crate::config::diagnostic::{Diagnostic, Severity, did_you_mean};
use ratatui::style::{Color, Modifier, Style};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use toml::de::{DeTable, DeValue};

pub const DEFAULT_THEME: &str = include_str!("../../../themes/default.toml");

/// Themes shipped with the desk, by name.
pub const BUILTIN_THEMES: [(&str, &str); 4] = [
    ("default", DEFAULT_THEME),
    ("light", include_str!("../../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../../themes/high-contrast.toml"),
    ),
    (
        "colour-blind",
        include_str!("../../../themes/colour-blind.toml"),
    ),
];

const MAX_EXTENDS_DEPTH: usize = 8;
const COLOR_HELP: &str = "a colour is a palette name, '#rrggbb', a number 0-255, 'reset', or one of \
     black, red, green, yellow, blue, magenta, cyan, gray, darkgray, lightred, lightgreen, \
     lightyellow, lightblue, lightmagenta, lightcyan, white";
const STYLE_FIELDS: [&str; 7] = [
    "fg",
    "bg",
    "bold",
    "italic",
    "underlined",
    "reversed",
    "dim",
];

/// A resolved theme: a concrete style for every role.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    styles: BTreeMap<Role, Style>,
}

/// The outcome of loading a theme: the theme to use, and what went wrong if it is the fallback.
#[derive(Debug, Clone)]
pub struct ThemeLoad {
    pub theme: Theme,
    pub diagnostics: Vec<Diagnostic>,
    /// True when the requested theme had errors and the default is used instead.
    pub fell_back: bool,
}

impl Theme {
    /// The built-in default theme.
    pub fn builtin_default() -> Theme {
        let mut diagnostics = Vec::new();
        let styles = parse_theme(
            "default",
            "themes/default.toml (built-in)",
            DEFAULT_THEME,
            &mut diagnostics,
        )
        .map(|file| resolve_chain(&[file]))
        .unwrap_or_default();
        Theme {
            name: "default".into(),
            styles,
        }
    }

    /// The style for a role, following fallbacks if the role is missing.
    pub fn style(&self, role: Role) -> Style {
        let mut current = Some(role);
        while let Some(r) = current {
            if let Some(style) = self.styles.get(&r) {
                return *style;
            }
            current = r.fallback();
        }
        Style::default()
    }

    /// Load theme `name`: `<config_dir>/themes/<name>.toml` if it exists, else a built-in; or a
    /// file path if `name` ends in `.toml`. Never fails: errors fall back to the default theme.
    pub fn load(name: &str, config_dir: Option<&Path>) -> ThemeLoad {
        let mut diagnostics = Vec::new();
        match load_chain(name, config_dir, &mut diagnostics) {
            Some(files) if !diagnostics.iter().any(Diagnostic::is_error) => ThemeLoad {
                theme: Theme {
                    name: name.to_string(),
                    styles: resolve_chain(&files),
                },
                diagnostics,
                fell_back: false,
            },
            _ => ThemeLoad {
                theme: Theme::builtin_default(),
                diagnostics,
                fell_back: true,
            },
        }
    }
}

/// One parsed theme file, values not yet resolved against palettes.
#[derive(Debug, Clone, Default)]
struct ThemeFile {
    extends: Option<String>,
    palette: BTreeMap<String, Color>,
    /// Role → style spec; colours may name palette entries of this file or its ancestors.
    styles: BTreeMap<Role, StyleSpec>,
}

#[derive(Debug, Clone, Default)]
struct StyleSpec {
    fg: Option<ColorRef>,
    bg: Option<ColorRef>,
    modifiers: Modifier,
}

#[derive(Debug, Clone)]
enum ColorRef {
    Direct(Color),
    Palette(String),
}

fn read_source(name: &str, config_dir: Option<&Path>) -> Option<(String, String)> {
    if name.ends_with(".toml") {
        let path = PathBuf::from(name);
        return std::fs::read_to_string(&path)
            .ok()
            .map(|text| (path.display().to_string(), text));
    }
    if let Some(dir) = config_dir {
        let path = dir.join("themes").join(format!("{name}.toml"));
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Some((path.display().to_string(), text));
        }
    }
    BUILTIN_THEMES
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(builtin, text)| {
            (
                format!("themes/{builtin}.toml (built-in)"),
                text.to_string(),
            )
        })
}

/// Follow `extends` from `name` up to the default; returns files root-first.
fn load_chain(
    name: &str,
    config_dir: Option<&Path>,
    out: &mut Vec<Diagnostic>,
) -> Option<Vec<ThemeFile>> {
    let mut chain: Vec<ThemeFile> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut next = Some(name.to_string());
    while let Some(current) = next.take() {
        if seen.contains(&current) {
            out.push(plain_error(
                &current,
                format!(
                    "theme '{current}' extends itself (cycle: {} -> {current})",
                    seen.join(" -> ")
                ),
            ));
            return None;
        }
        if seen.len() >= MAX_EXTENDS_DEPTH {
            out.push(plain_error(
                &current,
                format!(
                    "theme chain is deeper than {MAX_EXTENDS_DEPTH}: {}",
                    seen.join(" -> ")
                ),
            ));
            return None;
        }
        let Some((source_name, text)) = read_source(&current, config_dir) else {
            let known: Vec<&str> = BUILTIN_THEMES.iter().map(|(n, _)| *n).collect();
            let help = did_you_mean(&current, known.iter().copied())
                .map(|s| format!("did you mean '{s}'?"))
                .unwrap_or_else(|| {
                    format!(
                        "built-in themes: {}; user themes live in <config dir>/themes/<name>.toml",
                        known.join(", ")
                    )
                });
            out.push(Diagnostic {
                help: Some(help),
                ..plain_error(&current, format!("no theme named '{current}'"))
            });
            return None;
        };
        seen.push(current.clone());
        let file = parse_theme(&current, &source_name, &text, out)?;
        next = file.extends.clone();
        if next.is_none() && current != "default" {
            next = Some("default".into());
        }
        chain.push(file);
    }
    chain.reverse();
    // Palette references must resolve somewhere in the chain.
    let mut palette: BTreeMap<String, Color> = BTreeMap::new();
    for file in &chain {
        palette.extend(file.palette.clone());
    }
    let mut ok = true;
    for file in &chain {
        for (role, spec) in &file.styles {
            for colour in [&spec.fg, &spec.bg].into_iter().flatten() {
                if let ColorRef::Palette(p) = colour
                    && !palette.contains_key(p)
                {
                    ok = false;
                    out.push(plain_error(name, format!("style '{}' uses colour '{p}', which no palette in the theme chain defines", role.name())));
                }
            }
        }
    }
    ok.then_some(chain)
}

/// A finding about a whole theme (not a place in a file), named by the theme.
fn plain_error(theme: &str, message: String) -> Diagnostic {
    let file = format!("theme '{theme}'");
    Diagnostic {
        severity: Severity::Error,
        file,
        line: 0,
        col: 0,
        source_line: String::new(),
        message,
        help: None,
    }
}

fn resolve_chain(files: &[ThemeFile]) -> BTreeMap<Role, Style> {
    let mut palette: BTreeMap<String, Color> = BTreeMap::new();
    for file in files {
        palette.extend(file.palette.clone());
    }
    let colour = |c: &ColorRef| match c {
        ColorRef::Direct(c) => Some(*c),
        ColorRef::Palette(name) => palette.get(name).copied(),
    };
    let mut styles = BTreeMap::new();
    for file in files {
        for (role, spec) in &file.styles {
            let mut style = Style::default().add_modifier(spec.modifiers);
            if let Some(fg) = spec.fg.as_ref().and_then(colour) {
                style = style.fg(fg);
            }
            if let Some(bg) = spec.bg.as_ref().and_then(colour) {
                style = style.bg(bg);
            }
            styles.insert(*role, style);
        }
    }
    styles
}

fn parse_theme(
    theme_name: &str,
    source_name: &str,
    text: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<ThemeFile> {
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(error) => {
            out.push(Diagnostic::from_toml(source_name, text, &error));
            return None;
        }
    };
    let errors_before = out.iter().filter(|d| d.is_error()).count();
    let here = |span: Range<usize>, message: String, help: Option<String>| {
        Diagnostic::at(Severity::Error, source_name, text, span, message, help)
    };
    let mut file = ThemeFile::default();
    for (key, value) in root.get_ref() {
        match key.get_ref().as_ref() {
            "extends" => match value.get_ref() {
                DeValue::String(parent) if parent.as_ref() != theme_name => {
                    file.extends = Some(parent.to_string())
                }
                DeValue::String(_) => out.push(here(
                    value.span(),
                    format!("theme '{theme_name}' extends itself"),
                    None,
                )),
                _ => out.push(here(
                    value.span(),
                    "'extends' must be a theme name string".into(),
                    None,
                )),
            },
            "palette" => {
                let DeValue::Table(entries) = value.get_ref() else {
                    out.push(here(
                        value.span(),
                        "[palette] must be a table of name = colour".into(),
                        None,
                    ));
                    continue;
                };
                for (name, colour) in entries {
                    match colour.get_ref() {
                        DeValue::String(c) => match parse_colour(c) {
                            Some(parsed) => {
                                file.palette.insert(name.get_ref().to_string(), parsed);
                            }
                            None => out.push(here(
                                colour.span(),
                                format!("'{c}' is not a colour"),
                                Some(COLOR_HELP.into()),
                            )),
                        },
                        _ => out.push(here(
                            colour.span(),
                            "palette colours must be strings".into(),
                            Some(COLOR_HELP.into()),
                        )),
                    }
                }
            }
            "styles" => {
                let DeValue::Table(entries) = value.get_ref() else {
                    out.push(here(
                        value.span(),
                        "[styles] must be a table of role = style".into(),
                        None,
                    ));
                    continue;
                };
                for (role_key, spec) in entries {
                    let role_name = role_key.get_ref().as_ref();
                    let Some(role) = Role::from_name(role_name) else {
                        let help = did_you_mean(role_name, Role::ALL.iter().map(|r| r.name()))
                            .map(|s| format!("did you mean '{s}'?"))
                            .or_else(|| Some("see `kdesk check-config` or themes/default.toml for every role".into()));
                        out.push(here(
                            role_key.span(),
                            format!("unknown style role '{role_name}'"),
                            help,
                        ));
                        continue;
                    };
                    if let Some(parsed) =
                        parse_style(spec.get_ref(), spec.span(), &file.palette, out, &here)
                    {
                        file.styles.insert(role, parsed);
                    }
                }
            }
            other => {
                let help = did_you_mean(other, ["extends", "palette", "styles"])
                    .map(|s| format!("did you mean '{s}'?"))
                    .or_else(|| Some("a theme has 'extends', [palette] and [styles]".into()));
                out.push(here(
                    key.span(),
                    format!("unknown theme key '{other}'"),
                    help,
                ));
            }
        }
    }
    let errors_after = out.iter().filter(|d| d.is_error()).count();
    (errors_after == errors_before).then_some(file)
}

fn parse_colour_ref(text: &str, palette: &BTreeMap<String, Color>) -> Option<ColorRef> {
    if palette.contains_key(text) {
        return Some(ColorRef::Palette(text.to_string()));
    }
    if let Some(c) = parse_colour(text) {
        return Some(ColorRef::Direct(c));
    }
    // Could be a palette entry of an ancestor; checked once the chain is known.
    let looks_like_name = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    looks_like_name.then(|| ColorRef::Palette(text.to_string()))
}

fn parse_colour(text: &str) -> Option<Color> {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with('#') && lower.len() != 7 {
        return None;
    }
    Color::from_str(&lower).ok()
}

fn parse_style(
    value: &DeValue<'_>,
    span: Range<usize>,
    palette: &BTreeMap<String, Color>,
    out: &mut Vec<Diagnostic>,
    here: &dyn Fn(Range<usize>, String, Option<String>) -> Diagnostic,
) -> Option<StyleSpec> {
    match value {
        DeValue::String(text) => match parse_colour_ref(text, palette) {
            Some(fg) => Some(StyleSpec {
                fg: Some(fg),
                ..StyleSpec::default()
            }),
            None => {
                out.push(here(
                    span,
                    format!("'{text}' is not a colour"),
                    Some(COLOR_HELP.into()),
                ));
                None
            }
        },
        DeValue::Table(fields) => {
            let mut spec = StyleSpec::default();
            let mut ok = true;
            for (field, field_value) in fields {
                let name = field.get_ref().as_ref();
                match (name, field_value.get_ref()) {
                    ("fg" | "bg", DeValue::String(text)) => match parse_colour_ref(text, palette) {
                        Some(c) if name == "fg" => spec.fg = Some(c),
                        Some(c) => spec.bg = Some(c),
                        None => {
                            ok = false;
                            out.push(here(
                                field_value.span(),
                                format!("'{text}' is not a colour"),
                                Some(COLOR_HELP.into()),
                            ));
                        }
                    },
                    (
                        "bold" | "italic" | "underlined" | "reversed" | "dim",
                        DeValue::Boolean(on),
                    ) => {
                        let modifier = match name {
                            "bold" => Modifier::BOLD,
                            "italic" => Modifier::ITALIC,
                            "underlined" => Modifier::UNDERLINED,
                            "reversed" => Modifier::REVERSED,
                            _ => Modifier::DIM,
                        };
                        if *on {
                            spec.modifiers |= modifier;
                        }
                    }
                    (known, _) if STYLE_FIELDS.contains(&known) => {
                        ok = false;
                        let expected = if known == "fg" || known == "bg" {
                            "a colour string"
                        } else {
                            "true or false"
                        };
                        out.push(here(
                            field_value.span(),
                            format!("'{known}' must be {expected}"),
                            None,
                        ));
                    }
                    (unknown, _) => {
                        ok = false;
                        let help = did_you_mean(unknown, STYLE_FIELDS)
                            .map(|s| format!("did you mean '{s}'?"))
                            .or_else(|| Some(format!("style fields: {}", STYLE_FIELDS.join(", "))));
                        out.push(here(
                            field.span(),
                            format!("unknown style field '{unknown}'"),
                            help,
                        ));
                    }
                }
            }
            ok.then_some(spec)
        }
        _ => {
            out.push(here(
                span,
                "a style is a colour string or a table like { fg = \"red\", bold = true }".into(),
                None,
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_theme(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir.join("themes")).unwrap();
        std::fs::write(dir.join("themes").join(format!("{name}.toml")), text).unwrap();
    }

    #[test]
    fn default_defines_every_role_and_builtins_load_cleanly() {
        let mut diagnostics = Vec::new();
        let file = parse_theme("default", "default", DEFAULT_THEME, &mut diagnostics).unwrap();
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        for role in Role::ALL {
            assert!(
                file.styles.contains_key(role),
                "default theme lacks '{}'",
                role.name()
            );
        }
        for (name, _) in BUILTIN_THEMES {
            let load = Theme::load(name, None);
            assert!(!load.fell_back, "{name}: {:?}", load.diagnostics);
            assert!(
                load.diagnostics.is_empty(),
                "{name}: {:?}",
                load.diagnostics
            );
        }
    }

    #[test]
    fn themes_differ_where_they_should() {
        let default = Theme::load("default", None).theme;
        let blind = Theme::load("colour-blind", None).theme;
        assert_ne!(
            default.style(Role::PnlPositive),
            blind.style(Role::PnlPositive)
        );
        assert_eq!(
            blind.style(Role::HaltBanner).add_modifier,
            default.style(Role::HaltBanner).add_modifier
        );
    }

    #[test]
    fn user_theme_overlays_and_extends() {
        let dir = tempfile::tempdir().unwrap();
        user_theme(
            dir.path(),
            "mine",
            "extends = \"light\"\n[palette]\nhot = \"#ff0000\"\n[styles]\nbook_bid = \"hot\"\nhalt_banner = { fg = \"white\", bg = \"hot\", bold = true }\n",
        );
        let load = Theme::load("mine", Some(dir.path()));
        assert!(!load.fell_back, "{:?}", load.diagnostics);
        let theme = load.theme;
        assert_eq!(theme.style(Role::BookBid).fg, Some(Color::Rgb(255, 0, 0)));
        let banner = theme.style(Role::HaltBanner);
        assert_eq!(
            (banner.fg, banner.bg),
            (Some(Color::White), Some(Color::Rgb(255, 0, 0)))
        );
        assert!(banner.add_modifier.contains(Modifier::BOLD));
        // Untouched roles come from light, not default.
        let light = Theme::load("light", None).theme;
        assert_eq!(theme.style(Role::Text), light.style(Role::Text));
    }

    #[test]
    fn bad_themes_fall_back_with_located_diagnostics() {
        let dir = tempfile::tempdir().unwrap();
        user_theme(
            dir.path(),
            "bad",
            "[styles]\nbook_bidd = \"red\"\ntext = \"#12345\"\nborder = { fg = \"red\", blink = true }\n[colors]\n",
        );
        let load = Theme::load("bad", Some(dir.path()));
        assert!(load.fell_back);
        assert_eq!(load.theme, Theme::builtin_default());
        let all = crate::config::diagnostic::render_all(&load.diagnostics);
        assert!(
            all.contains("unknown style role 'book_bidd'")
                && all.contains("did you mean 'book_bid'"),
            "{all}"
        );
        assert!(
            all.contains("'#12345' is not a colour") && all.contains(":3:8"),
            "{all}"
        );
        assert!(all.contains("unknown style field 'blink'"), "{all}");
        assert!(all.contains("unknown theme key 'colors'"), "{all}");

        user_theme(dir.path(), "a", "extends = \"b\"\n");
        user_theme(dir.path(), "b", "extends = \"a\"\n");
        let cycle = Theme::load("a", Some(dir.path()));
        assert!(
            cycle.fell_back && cycle.diagnostics[0].message.contains("cycle"),
            "{:?}",
            cycle.diagnostics
        );

        let missing = Theme::load("solarised", None);
        assert!(missing.fell_back && missing.diagnostics[0].message.contains("no theme named"));

        user_theme(dir.path(), "ghost", "[styles]\ntext = \"nosuchpalette\"\n");
        let ghost = Theme::load("ghost", Some(dir.path()));
        assert!(ghost.fell_back && ghost.diagnostics[0].message.contains("nosuchpalette"));
    }
}
