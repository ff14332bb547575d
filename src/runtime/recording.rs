//! The desk's recording toggle: the frames the desk's own websocket client receives (raw text
//! and receive time, through [`FrameTee`]) go into a rotating tape (`store::tape`) with a header
//! describing the watched markets, connection events and gap markers. No second connection.
//!
//! A recording starts mid-stream, so the tape opens with a gap marker for every watched market
//! (a replay holds them until their snapshot) and the client is asked for fresh snapshots.

use std::path::{Path, PathBuf};

use tokio::sync::Mutex;

use crate::core::market::Ticker;
use crate::kalshi::rest::RestClient;
use crate::kalshi::wire::Channel;
use crate::kalshi::ws::{FrameTee, TeeEvent, WsHandle};
use crate::runtime::clock;
use crate::store::tape::{TapeEntry, TapeError, TapeWriter};

/// The public channels: what a paper desk subscribes to and what a tape needs.
pub const MARKET_CHANNELS: [Channel; 4] = [
    Channel::OrderbookDelta,
    Channel::Ticker,
    Channel::Trade,
    Channel::MarketLifecycleV2,
];

/// Tape files rotate past this much uncompressed text.
const ROTATE_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("already recording into {0}")]
    AlreadyRecording(PathBuf),
    #[error("not recording")]
    NotRecording,
    #[error("{0}")]
    Describe(String),
    #[error(transparent)]
    Tape(#[from] TapeError),
    #[error("the tape writer stopped unexpectedly")]
    WriterLost,
}

/// What the recorder is wired to.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    pub tee: FrameTee,
    /// To ask for fresh snapshots when a recording starts.
    pub ws: WsHandle,
    /// To describe the markets in the tape header.
    pub rest: RestClient,
    pub environment: String,
    pub markets: Vec<Ticker>,
    pub dir: PathBuf,
}

/// A finished recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingSummary {
    pub files: Vec<PathBuf>,
    pub frames: u64,
    pub gaps: u64,
    pub connection_events: u64,
}

/// What a toggle did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingChange {
    Started { first_file: PathBuf },
    Stopped(RecordingSummary),
}

struct Active {
    first_file: PathBuf,
    writer: std::thread::JoinHandle<Result<RecordingSummary, TapeError>>,
}

pub struct Recorder {
    config: RecorderConfig,
    active: Mutex<Option<Active>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("dir", &self.config.dir)
            .field("recording", &self.is_recording())
            .finish_non_exhaustive()
    }
}

impl Recorder {
    pub fn new(config: RecorderConfig) -> Recorder {
        Recorder {
            config,
            active: Mutex::new(None),
        }
    }

    /// Frames are flowing into a tape.
    pub fn is_recording(&self) -> bool {
        self.config.tee.is_on()
    }

    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    /// Start if stopped, stop if started.
    pub async fn toggle(&self) -> Result<RecordingChange, RecordingError> {
        let mut active = self.active.lock().await;
        match active.take() {
            Some(running) => Ok(RecordingChange::Stopped(self.finish(running).await?)),
            None => {
                let running = self.begin().await?;
                let first_file = running.first_file.clone();
                *active = Some(running);
                Ok(RecordingChange::Started { first_file })
            }
        }
    }

    /// Start recording; returns the first tape file.
    pub async fn start(&self) -> Result<PathBuf, RecordingError> {
        let mut active = self.active.lock().await;
        if let Some(running) = active.as_ref() {
            return Err(RecordingError::AlreadyRecording(running.first_file.clone()));
        }
        let running = self.begin().await?;
        let first_file = running.first_file.clone();
        *active = Some(running);
        Ok(first_file)
    }

    /// Stop recording and finish the tape.
    pub async fn stop(&self) -> Result<RecordingSummary, RecordingError> {
        let running = self
            .active
            .lock()
            .await
            .take()
            .ok_or(RecordingError::NotRecording)?;
        self.finish(running).await
    }

    async fn begin(&self) -> Result<Active, RecordingError> {
        let wanted: Vec<String> = self
            .config
            .markets
            .iter()
            .map(|t| t.as_str().to_string())
            .collect();
        // The desk's client subscribes with `use_yes_price`.
        let (_, header) = crate::replay::record::describe(
            &self.config.rest,
            &wanted,
            &self.config.environment,
            true,
        )
        .await
        .map_err(|e| RecordingError::Describe(e.to_string()))?;
        let stem = format!("desk-{}", stamp(clock::wall_ms()));
        let dir = self.config.dir.clone();
        let mut writer = tokio::task::spawn_blocking(move || {
            TapeWriter::create(&dir, &stem, header, ROTATE_BYTES)
        })
        .await
        .map_err(|_| RecordingError::WriterLost)??;
        let first_file = writer.files().first().cloned().unwrap_or_default();
        let rx_ms = clock::wall_ms();
        writer.append(&TapeEntry::Gap {
            rx_ms,
            conn: 0,
            tickers: wanted,
            reason: "recording started mid-stream: books unknown until their snapshot".into(),
        })?;
        let mut events = self.config.tee.start();
        let thread = std::thread::Builder::new()
            .name("kdesk-tape".into())
            .spawn(move || {
                let mut summary = RecordingSummary::default();
                while let Some(event) = events.blocking_recv() {
                    match &event {
                        TeeEvent::Frame { .. } => summary.frames += 1,
                        TeeEvent::Gap { .. } => summary.gaps += 1,
                        TeeEvent::Connected { .. } | TeeEvent::Disconnected { .. } => {
                            summary.connection_events += 1
                        }
                    }
                    writer.append(&tape_entry(event))?;
                }
                writer.append(&TapeEntry::Note {
                    rx_ms: clock::wall_ms(),
                    text: "recording stopped".into(),
                })?;
                summary.files = writer.finish()?;
                Ok(summary)
            })
            .map_err(|_| RecordingError::WriterLost);
        let thread = match thread {
            Ok(thread) => thread,
            Err(error) => {
                self.config.tee.stop();
                return Err(error);
            }
        };
        // Fresh snapshots, so the tape's books start whole.
        let _ = self.config.ws.resync(self.config.markets.clone()).await;
        Ok(Active {
            first_file,
            writer: thread,
        })
    }

    async fn finish(&self, running: Active) -> Result<RecordingSummary, RecordingError> {
        self.config.tee.stop();
        let joined = tokio::task::spawn_blocking(move || running.writer.join())
            .await
            .map_err(|_| RecordingError::WriterLost)?;
        match joined {
            Ok(result) => Ok(result?),
            Err(_) => Err(RecordingError::WriterLost),
        }
    }
}

/// A tapped event as a tape line.
pub fn tape_entry(event: TeeEvent) -> TapeEntry {
    let conn = |connection: u64| u32::try_from(connection).unwrap_or(u32::MAX);
    match event {
        TeeEvent::Frame {
            rx_ms,
            connection,
            text,
        } => TapeEntry::Frame {
            rx_ms,
            conn: conn(connection),
            text,
        },
        TeeEvent::Connected { rx_ms, connection } => TapeEntry::Connected {
            rx_ms,
            conn: conn(connection),
        },
        TeeEvent::Disconnected {
            rx_ms,
            connection,
            reason,
        } => TapeEntry::Disconnected {
            rx_ms,
            conn: conn(connection),
            reason,
        },
        TeeEvent::Gap {
            rx_ms,
            connection,
            tickers,
            reason,
        } => TapeEntry::Gap {
            rx_ms,
            conn: conn(connection),
            tickers: tickers.iter().map(|t| t.as_str().to_string()).collect(),
            reason,
        },
    }
}

/// `20261126-004500-123` (UTC, ms) for file names.
fn stamp(wall_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(wall_ms)
        .map(|t| t.format("%Y%m%d-%H%M%S-%3f").to_string())
        .unwrap_or_else(|| wall_ms.to_string())
}
