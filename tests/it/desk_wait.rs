//! Waiting on a running desk in tests: for a snapshot or an audit that shows what a test needs,
//! never by sleeping. Shared by the runtime, replay and security tests.

use std::sync::Arc;
use std::time::Duration;

use kalshi_desk::core::engine::{AuditEvent, AuditKind};
use kalshi_desk::runtime::desk::{DeskHandle, DeskSnapshot};
use tokio::sync::broadcast;

/// Generous: a loaded 2-core machine runs the whole suite at once.
pub const WAIT: Duration = Duration::from_secs(30);

/// The first snapshot for which `ok` holds; panics naming `what` with the last snapshot.
pub async fn wait_snapshot(
    desk: &DeskHandle,
    what: &str,
    ok: impl Fn(&DeskSnapshot) -> bool,
) -> Arc<DeskSnapshot> {
    desk.wait_for_snapshot(WAIT, ok)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "waiting for {what}: {error}; last snapshot: {:#?}",
                desk.snapshot()
            )
        })
}

/// The first audit from now on for which `ok` holds (earlier ones are skipped).
pub async fn wait_audit(
    audits: &mut broadcast::Receiver<AuditEvent>,
    what: &str,
    ok: impl Fn(&AuditKind) -> bool,
) -> AuditEvent {
    let found = tokio::time::timeout(WAIT, async {
        loop {
            match audits.recv().await {
                Ok(audit) if ok(&audit.event) => return audit,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("audit stream closed"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for audit: {what}"))
}
