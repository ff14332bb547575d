//! The terminal screen: keymaps, themes, and (in progress) the app state, views and terminal guard.

pub mod keymap;
pub mod theme;
