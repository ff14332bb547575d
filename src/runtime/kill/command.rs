//! `kdesk kill`: the kill from outside the desk — another terminal, a script, or after the desk
//! froze or died. It acts at the exchange itself with the same key (order groups triggered,
//! cancel-all, sweeps until flat), tells a running desk through the control socket next to its
//! lock, and journals the halt (Pending first, then Flat when confirmed) so the next start
//! honours it.

use super::{HaltFlag, KillContext, KillPolicy, KillReport, execute_kill};
use crate::kalshi::rest::RestClient;
use crate::runtime::control_socket::{self, ControlCommand, ControlReply};
use crate::runtime::lock::{AccountId, DeskLock};
use crate::store::journal::{HaltRecord, HaltState, Journal, Mode};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `kdesk kill` needs.
#[derive(Debug, Clone)]
pub struct RemoteKillOptions {
    pub rest: RestClient,
    pub account: AccountId,
    /// Where the desk's lock and control socket live.
    pub state_dir: PathBuf,
    pub journal_path: PathBuf,
    pub reason: String,
    pub policy: KillPolicy,
    /// How long to wait for a running desk's answer.
    pub desk_timeout: Duration,
}

/// Whether a running desk was reached.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "desk", rename_all = "snake_case")]
pub enum DeskContact {
    /// No desk holds the account's lock.
    NotRunning,
    /// The desk answered.
    Told { reply: ControlReplyView },
    /// A desk holds the lock but did not answer (frozen or dying): the exchange-side kill and
    /// the triggered order groups still stop it.
    NoAnswer { error: String },
}

/// [`ControlReply`] in the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ControlReplyView {
    pub ok: bool,
    pub state: String,
    pub message: String,
}

impl From<ControlReply> for ControlReplyView {
    fn from(reply: ControlReply) -> ControlReplyView {
        ControlReplyView {
            ok: reply.ok,
            state: reply.state,
            message: reply.message,
        }
    }
}

/// What `kdesk kill` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoteKill {
    pub report: KillReport,
    pub desk: DeskContact,
    /// Journal failures do not stop the kill, but they are shown.
    pub journal_errors: Vec<String>,
}

/// Tell the desk holding `account`'s lock, if any, to halt.
pub async fn tell_desk(
    state_dir: &std::path::Path,
    account: &AccountId,
    reason: &str,
    timeout: Duration,
) -> DeskContact {
    let Some(socket) = DeskLock::running_desk_socket(state_dir, account) else {
        return DeskContact::NotRunning;
    };
    let command = ControlCommand::Kill {
        reason: reason.to_string(),
    };
    match control_socket::send(&socket, &command, timeout).await {
        Ok(reply) => DeskContact::Told {
            reply: reply.into(),
        },
        Err(error) => DeskContact::NoAnswer {
            error: error.to_string(),
        },
    }
}

fn journal_halt(path: &std::path::Path, record: &HaltRecord) -> Result<(), String> {
    let mut journal = Journal::open(path).map_err(|error| error.to_string())?;
    journal
        .record_halt(record)
        .map_err(|error| format!("journal {}: {error}", path.display()))
}

/// Run `kdesk kill`; see the module docs.
pub async fn remote_kill(options: RemoteKillOptions) -> RemoteKill {
    let halted = HaltFlag::new();
    halted.halt();
    let mut journal_errors = Vec::new();
    let pending = HaltRecord {
        ts_ms: halted
            .halted_at_wall_ms()
            .unwrap_or_else(crate::runtime::clock::wall_ms),
        mode: Mode::Live,
        state: HaltState::Pending,
        reason: options.reason.clone(),
        payload: serde_json::json!({ "source": "kdesk kill" }),
    };
    if let Err(error) = journal_halt(&options.journal_path, &pending) {
        journal_errors.push(error);
    }
    let ctx = KillContext {
        policy: options.policy.clone(),
        ..KillContext::new(options.rest.clone(), options.account.subaccount)
    };
    let (desk, report) = tokio::join!(
        tell_desk(
            &options.state_dir,
            &options.account,
            &options.reason,
            options.desk_timeout
        ),
        execute_kill(&ctx, Vec::new(), &halted)
    );
    // Flat when confirmed; otherwise Pending again, now carrying what was tried.
    let last = report.halt_record(Mode::Live, &options.reason);
    if let Err(error) = journal_halt(&options.journal_path, &last) {
        journal_errors.push(error);
    }
    RemoteKill {
        report,
        desk,
        journal_errors,
    }
}

/// The control sockets of the desks running in `state_dir` (each holds its `desk-*.lock`).
/// Used by `kdesk kill` without a key, for desks on the embedded simulator.
pub fn running_desks(state_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return Vec::new();
    };
    let mut sockets: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("desk-") && name.ends_with(".lock"))
        })
        .filter(|path| {
            // A lock nobody holds can be taken shared: that desk is gone.
            std::fs::File::open(path).is_ok_and(|file| file.try_lock_shared().is_err())
        })
        .map(|path| path.with_extension("sock"))
        .collect();
    sockets.sort();
    sockets
}

/// What a desk told `kdesk kill` through its control socket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeskKill {
    pub socket: PathBuf,
    /// The answer to the kill, then the last status read while waiting for flat.
    pub reply: Result<ControlReplyView, String>,
    /// The desk said it is flat at the exchange.
    pub flat: bool,
}

/// The state word a desk answers with once its kill is flat.
const FLAT_STATE: &str = "halted";

/// Tell the desk listening on `socket` to halt, then ask its status until its kill is flat (or
/// `patience` runs out): the desk runs the kill itself, with its own key.
pub async fn kill_desk_at(socket: &Path, reason: &str, patience: Duration) -> DeskKill {
    let ask = Duration::from_secs(2).min(patience);
    let command = ControlCommand::Kill {
        reason: reason.to_string(),
    };
    let mut reply = match control_socket::send(socket, &command, ask).await {
        Ok(reply) => ControlReplyView::from(reply),
        Err(error) => {
            return DeskKill {
                socket: socket.to_path_buf(),
                reply: Err(error.to_string()),
                flat: false,
            };
        }
    };
    let deadline_ns = crate::runtime::clock::mono_ns()
        .saturating_add(u64::try_from(patience.as_nanos()).unwrap_or(u64::MAX));
    let mut wait = Duration::from_millis(10);
    while reply.state != FLAT_STATE && crate::runtime::clock::mono_ns() < deadline_ns {
        // Polling another process: there is nothing to wait on but its answers.
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_millis(250));
        match control_socket::send(socket, &ControlCommand::Status, ask).await {
            Ok(status) => reply = status.into(),
            Err(error) => {
                return DeskKill {
                    socket: socket.to_path_buf(),
                    reply: Err(format!("told to halt, then: {error}")),
                    flat: false,
                };
            }
        }
    }
    DeskKill {
        socket: socket.to_path_buf(),
        flat: reply.state == FLAT_STATE,
        reply: Ok(reply),
    }
}
