//! A local control socket next to the desk lock, so `kdesk kill` (or a script) can reach a running
//! desk directly: one JSON line in, one JSON line out. The socket is private to the user (0600).
//! The kill path never depends on it alone — `kdesk kill` also acts at the exchange — but when the
//! desk is alive this makes it halt and show HALTED at once.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// What a local client may ask of a running desk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum ControlCommand {
    /// Halt now: the same path as the kill-switch key.
    Kill { reason: String },
    /// Report trading state.
    Status,
}

/// The desk's answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ControlReply {
    pub ok: bool,
    /// `active`, `halted`, `kill_pending`, …
    pub state: String,
    pub message: String,
}

/// A command with the channel to answer it on.
#[derive(Debug)]
pub struct ControlRequest {
    pub command: ControlCommand,
    pub reply: oneshot::Sender<ControlReply>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("control socket {path}: no answer within {timeout_ms} ms")]
    Timeout { path: PathBuf, timeout_ms: u64 },
    #[error("control socket {path}: unreadable answer: {reason}")]
    BadReply { path: PathBuf, reason: String },
}

/// Listen on `path` (replacing a stale socket file) and forward each command to `requests`.
/// Returns the task's handle; it runs until the receiver side is dropped.
pub fn serve(
    path: &Path,
    requests: mpsc::Sender<ControlRequest>,
) -> Result<tokio::task::JoinHandle<()>, ControlError> {
    let io = |e: std::io::Error| ControlError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if path.exists() {
        std::fs::remove_file(path).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            if requests.is_closed() {
                return;
            }
            let requests = requests.clone();
            tokio::spawn(handle_client(stream, requests));
        }
    }))
}

async fn handle_client(stream: UnixStream, requests: mpsc::Sender<ControlRequest>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    // One command per connection keeps the protocol obvious for scripts (`nc -U`).
    let reply = match tokio::time::timeout(Duration::from_secs(5), lines.next_line()).await {
        Ok(Ok(Some(line))) => match serde_json::from_str::<ControlCommand>(&line) {
            Ok(command) => {
                let (reply_tx, reply_rx) = oneshot::channel();
                if requests
                    .send(ControlRequest {
                        command,
                        reply: reply_tx,
                    })
                    .await
                    .is_err()
                {
                    refusal("the desk is shutting down")
                } else {
                    reply_rx
                        .await
                        .unwrap_or_else(|_| refusal("the desk did not answer"))
                }
            }
            Err(e) => refusal(&format!("not a control command: {e}")),
        },
        _ => refusal("no command received"),
    };
    if let Ok(mut text) = serde_json::to_string(&reply) {
        text.push('\n');
        let _ = write.write_all(text.as_bytes()).await;
    }
}

fn refusal(message: &str) -> ControlReply {
    ControlReply {
        ok: false,
        state: "unknown".into(),
        message: message.into(),
    }
}

/// Send one command to the desk listening on `path` and wait up to `timeout` for its answer.
pub async fn send(
    path: &Path,
    command: &ControlCommand,
    timeout: Duration,
) -> Result<ControlReply, ControlError> {
    let io = |e: std::io::Error| ControlError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let exchange = async {
        let mut stream = UnixStream::connect(path).await.map_err(io)?;
        let mut text = serde_json::to_string(command).map_err(|e| ControlError::BadReply {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        text.push('\n');
        stream.write_all(text.as_bytes()).await.map_err(io)?;
        let mut lines = BufReader::new(stream).lines();
        let line = lines.next_line().await.map_err(io)?.unwrap_or_default();
        serde_json::from_str::<ControlReply>(&line).map_err(|e| ControlError::BadReply {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ControlError::Timeout {
            path: path.to_path_buf(),
            timeout_ms: timeout.as_millis() as u64,
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_kill_reaches_the_desk_and_its_answer_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.sock");
        let (tx, mut rx) = mpsc::channel(4);
        let _server = serve(&path, tx).unwrap();
        let desk = tokio::spawn(async move {
            let request = rx.recv().await.unwrap();
            assert_eq!(
                request.command,
                ControlCommand::Kill {
                    reason: "script".into()
                }
            );
            request
                .reply
                .send(ControlReply {
                    ok: true,
                    state: "halted".into(),
                    message: "flat in 12 ms".into(),
                })
                .unwrap();
        });
        let reply = send(
            &path,
            &ControlCommand::Kill {
                reason: "script".into(),
            },
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(reply.state, "halted");
        desk.await.unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[tokio::test]
    async fn garbage_gets_a_refusal_and_no_desk_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.sock");
        let (tx, _rx) = mpsc::channel(4);
        let _server = serve(&path, tx).unwrap();
        let mut stream = UnixStream::connect(&path).await.unwrap();
        stream.write_all(b"{\"cmd\":\"explode\"}\n").await.unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await.unwrap();
        let reply: ControlReply = serde_json::from_str(&line).unwrap();
        assert!(
            !reply.ok && reply.message.contains("not a control command"),
            "{reply:?}"
        );
        let missing = dir.path().join("none.sock");
        assert!(matches!(
            send(&missing, &ControlCommand::Status, Duration::from_secs(1)).await,
            Err(ControlError::Io { .. })
        ));
    }
}
