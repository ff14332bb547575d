//! Command line: `kdesk` and its subcommands.

/// Entry point for the `kdesk` binary; returns the process exit status.
pub fn run() -> i32 {
    println!("kalshi-desk {}", env!("CARGO_PKG_VERSION"));
    println!("The desk is being built; see README.md for what works today.");
    0
}
