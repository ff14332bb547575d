//! The desk screen: update-loop scenarios (keys → engine commands, kill switch from every layer
//! and dialog), screen snapshots at 80x24, 120x40 and 200x60 with styles checked, the README keys
//! table, and the real binary driven in tmux.

mod binary;
mod fixtures;
mod screens;
mod update;
