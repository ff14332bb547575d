//! The terminal screen: keymaps, themes, the app state machine (`app`), the replica it draws
//! from, pure views, the terminal guard and the select loop that runs it all.

pub mod adapt;
pub mod app;
pub mod fmt;
pub mod keymap;
pub mod launch;
pub mod replica;
pub mod run;
pub mod terminal;
pub mod theme;
pub mod views;
