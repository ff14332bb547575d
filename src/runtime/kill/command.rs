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
use std::path::PathBuf;
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
