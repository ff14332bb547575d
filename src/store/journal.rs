//! The journal: an append-only SQLite record (WAL) of everything the desk decided and everything
//! the exchange said — intents, acks, refusals, rejects, fills, cancels, control changes, halts and
//! resets — so a restart can honour a halt and a person can audit what happened.
//!
//! Writes happen on the journal's own thread; the engine hands records over through a bounded
//! queue and never waits on the disk. If that queue is full the record is counted as dropped.
//! Halt and kill records go through a separate queue that is drained first and whose sends wait,
//! so they are never dropped.

use rusqlite::{Connection, OptionalExtension as _, params};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Schema migrations, applied in order; `PRAGMA user_version` holds how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: events and the halt ledger.
    "CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts_ms INTEGER NOT NULL,
        mode TEXT NOT NULL,
        kind TEXT NOT NULL,
        ticker TEXT,
        client_order_id TEXT,
        order_id TEXT,
        trade_id TEXT,
        payload TEXT NOT NULL
    );
    CREATE INDEX events_kind_ts ON events(kind, ts_ms);
    CREATE INDEX events_ticker ON events(ticker);
    CREATE INDEX events_client_order_id ON events(client_order_id);
    CREATE UNIQUE INDEX events_fill_trade ON events(mode, trade_id) WHERE kind = 'fill';
    CREATE TABLE halts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts_ms INTEGER NOT NULL,
        mode TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload TEXT NOT NULL
    );",
];

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("journal: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(
        "journal {path}: schema version {found} is newer than this desk knows ({known}); upgrade kdesk"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("journal writer has stopped")]
    WriterGone,
}

/// Live trading and paper trading are journaled apart so paper never pollutes live records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Live,
    Paper,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Paper => "paper",
        }
    }

    fn parse(text: &str) -> Mode {
        if text == "paper" {
            Mode::Paper
        } else {
            Mode::Live
        }
    }
}

/// One journaled event. `payload` is the full event as JSON; the other columns are for lookups.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JournalRecord {
    pub ts_ms: i64,
    pub mode: Mode,
    pub kind: String,
    pub ticker: Option<String>,
    pub client_order_id: Option<String>,
    pub order_id: Option<String>,
    pub trade_id: Option<String>,
    pub payload: serde_json::Value,
}

impl JournalRecord {
    pub fn new(ts_ms: i64, mode: Mode, kind: &str, payload: serde_json::Value) -> JournalRecord {
        JournalRecord {
            ts_ms,
            mode,
            kind: kind.to_string(),
            ticker: None,
            client_order_id: None,
            order_id: None,
            trade_id: None,
            payload,
        }
    }
}

/// The state of the kill switch as last journaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HaltState {
    /// Halted; the kill sequence has not yet confirmed flat.
    Pending,
    /// Halted and confirmed flat at the exchange.
    Flat,
    /// The operator reset the halt; trading may resume.
    Reset,
}

impl HaltState {
    fn as_str(self) -> &'static str {
        match self {
            HaltState::Pending => "pending",
            HaltState::Flat => "flat",
            HaltState::Reset => "reset",
        }
    }

    fn parse(text: &str) -> HaltState {
        match text {
            "flat" => HaltState::Flat,
            "reset" => HaltState::Reset,
            _ => HaltState::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HaltRecord {
    pub ts_ms: i64,
    pub mode: Mode,
    pub state: HaltState,
    pub reason: String,
    pub payload: serde_json::Value,
}

/// Per-day counts for `kdesk journal`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DaySummary {
    pub day: String,
    pub events: u64,
    pub intents: u64,
    pub refusals: u64,
    pub rejects: u64,
    pub fills: u64,
    pub cancels: u64,
    pub halts: u64,
}

/// Direct access to a journal file (the writer thread, reads, `kdesk journal`, tests).
pub struct Journal {
    conn: Connection,
}

impl Journal {
    /// Open (creating if needed) and migrate the journal at `path`.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| JournalError::Open {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| JournalError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut journal = Journal { conn };
        journal.migrate(path)?;
        Ok(journal)
    }

    fn migrate(&mut self, path: &Path) -> Result<(), JournalError> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(JournalError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64, JournalError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Append records in one transaction. A fill already journaled (same mode and trade_id) is
    /// skipped, so replays of the same fill from WS and REST leave one row.
    pub fn append(&mut self, records: &[JournalRecord]) -> Result<usize, JournalError> {
        let tx = self.conn.transaction()?;
        let mut written = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO events
                 (ts_ms, mode, kind, ticker, client_order_id, order_id, trade_id, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for r in records {
                written += insert.execute(params![
                    r.ts_ms,
                    r.mode.as_str(),
                    r.kind,
                    r.ticker,
                    r.client_order_id,
                    r.order_id,
                    r.trade_id,
                    r.payload.to_string()
                ])?;
            }
        }
        tx.commit()?;
        Ok(written)
    }

    pub fn record_halt(&mut self, halt: &HaltRecord) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT INTO halts (ts_ms, mode, state, reason, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                halt.ts_ms,
                halt.mode.as_str(),
                halt.state.as_str(),
                halt.reason,
                halt.payload.to_string()
            ],
        )?;
        Ok(())
    }

    /// The newest halt record of `mode`: a start-up that finds `Pending` or `Flat` stays HALTED.
    pub fn last_halt(&self, mode: Mode) -> Result<Option<HaltRecord>, JournalError> {
        Ok(self
            .conn
            .query_row(
                "SELECT ts_ms, state, reason, payload FROM halts WHERE mode = ?1 ORDER BY id DESC LIMIT 1",
                params![mode.as_str()],
                |row| {
                    let payload: String = row.get(3)?;
                    Ok(HaltRecord {
                        ts_ms: row.get(0)?,
                        mode,
                        state: HaltState::parse(&row.get::<_, String>(1)?),
                        reason: row.get(2)?,
                        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                    })
                },
            )
            .optional()?)
    }

    /// The newest `limit` events (of any mode when `mode` is None), newest first.
    pub fn recent(
        &self,
        limit: usize,
        mode: Option<Mode>,
    ) -> Result<Vec<JournalRecord>, JournalError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT ts_ms, mode, kind, ticker, client_order_id, order_id, trade_id, payload
             FROM events WHERE (?1 IS NULL OR mode = ?1) ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows =
            statement.query_map(params![mode.map(Mode::as_str), limit as i64], row_to_record)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Every event of `kind` and `mode`, oldest first (e.g. all fills for reconciliation).
    pub fn events_of_kind(
        &self,
        kind: &str,
        mode: Mode,
    ) -> Result<Vec<JournalRecord>, JournalError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT ts_ms, mode, kind, ticker, client_order_id, order_id, trade_id, payload
             FROM events WHERE kind = ?1 AND mode = ?2 ORDER BY seq",
        )?;
        let rows = statement.query_map(params![kind, mode.as_str()], row_to_record)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Counts per UTC day offset by `utc_offset_ms` (e.g. New York's), newest day first.
    pub fn daily_summaries(
        &self,
        mode: Mode,
        utc_offset_ms: i64,
        days: usize,
    ) -> Result<Vec<DaySummary>, JournalError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT date((ts_ms + ?2) / 1000, 'unixepoch') AS day, kind, COUNT(*)
             FROM events WHERE mode = ?1 GROUP BY day, kind ORDER BY day DESC",
        )?;
        let rows = statement.query_map(params![mode.as_str(), utc_offset_ms], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?;
        let mut summaries: Vec<DaySummary> = Vec::new();
        for row in rows {
            let (day, kind, count) = row?;
            let count = count.max(0) as u64;
            if summaries.last().map(|s| &s.day) != Some(&day) {
                if summaries.len() == days {
                    break;
                }
                summaries.push(DaySummary {
                    day: day.clone(),
                    ..DaySummary::default()
                });
            }
            if let Some(summary) = summaries.last_mut() {
                summary.events += count;
                match kind.as_str() {
                    "intent" => summary.intents += count,
                    "refusal" => summary.refusals += count,
                    "reject" => summary.rejects += count,
                    "fill" => summary.fills += count,
                    "cancel" | "cancel_ack" => summary.cancels += count,
                    "halt" => summary.halts += count,
                    _ => {}
                }
            }
        }
        Ok(summaries)
    }
}

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<JournalRecord> {
    let payload: String = row.get(7)?;
    Ok(JournalRecord {
        ts_ms: row.get(0)?,
        mode: Mode::parse(&row.get::<_, String>(1)?),
        kind: row.get(2)?,
        ticker: row.get(3)?,
        client_order_id: row.get(4)?,
        order_id: row.get(5)?,
        trade_id: row.get(6)?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
    })
}

enum Job {
    Halt(HaltRecord),
    Flush(std::sync::mpsc::Sender<()>),
}

/// The engine's handle on the journal thread. Cloneable; sending never blocks on the disk.
#[derive(Clone)]
pub struct JournalHandle {
    records: tokio::sync::mpsc::Sender<JournalRecord>,
    priority: tokio::sync::mpsc::UnboundedSender<Job>,
    stats: Arc<JournalStats>,
}

/// Counters the health panel shows.
#[derive(Debug, Default)]
pub struct JournalStats {
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub errors: AtomicU64,
}

impl JournalHandle {
    /// Queue a record; if the queue is full it is dropped and counted (the engine never waits).
    pub fn record(&self, record: JournalRecord) {
        if self.records.try_send(record).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queue a halt record on the priority lane: never dropped, written before queued records.
    pub fn record_halt(&self, halt: HaltRecord) -> Result<(), JournalError> {
        self.priority
            .send(Job::Halt(halt))
            .map_err(|_| JournalError::WriterGone)
    }

    /// Wait (off the async runtime) until everything queued so far is on disk.
    pub fn flush_blocking(&self) -> Result<(), JournalError> {
        let (done, wait) = std::sync::mpsc::channel();
        self.priority
            .send(Job::Flush(done))
            .map_err(|_| JournalError::WriterGone)?;
        wait.recv().map_err(|_| JournalError::WriterGone)
    }

    pub fn stats(&self) -> &JournalStats {
        &self.stats
    }
}

/// Start the journal thread on `path`. Dropping every handle ends the thread after it has
/// written what was queued.
pub fn spawn_writer(
    path: &Path,
    capacity: usize,
) -> Result<(JournalHandle, std::thread::JoinHandle<()>), JournalError> {
    let mut journal = Journal::open(path)?;
    let (records_tx, mut records_rx) = tokio::sync::mpsc::channel::<JournalRecord>(capacity.max(1));
    let (priority_tx, mut priority_rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
    let stats = Arc::new(JournalStats::default());
    let thread_stats = stats.clone();
    let thread = std::thread::Builder::new()
        .name("journal".into())
        .spawn(move || {
            let mut batch = Vec::with_capacity(256);
            // A tiny runtime of this thread's own, only to sleep on both queues at once.
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
                thread_stats.errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            loop {
                // Halts first, then whatever records are waiting, in one transaction.
                let mut progressed = false;
                while let Ok(job) = priority_rx.try_recv() {
                    progressed = true;
                    match job {
                        Job::Halt(halt) => {
                            if journal.record_halt(&halt).is_err() {
                                thread_stats.errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Job::Flush(done) => {
                            drain(&mut records_rx, &mut batch);
                            write_batch(&mut journal, &mut batch, &thread_stats);
                            let _ = done.send(());
                        }
                    }
                }
                drain(&mut records_rx, &mut batch);
                if !batch.is_empty() {
                    progressed = true;
                    write_batch(&mut journal, &mut batch, &thread_stats);
                }
                if progressed {
                    continue;
                }
                // Nothing queued: sleep until either lane has work, or both are closed.
                let next = rt.block_on(async {
                    tokio::select! {
                        biased;
                        job = priority_rx.recv() => job.map(Err),
                        record = records_rx.recv() => record.map(Ok),
                    }
                });
                match next {
                    Some(Ok(record)) => batch.push(record),
                    Some(Err(Job::Halt(halt))) => {
                        if journal.record_halt(&halt).is_err() {
                            thread_stats.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Some(Err(Job::Flush(done))) => {
                        drain(&mut records_rx, &mut batch);
                        write_batch(&mut journal, &mut batch, &thread_stats);
                        let _ = done.send(());
                    }
                    None => {
                        // One lane closed; write what the other still holds, then stop when both are.
                        drain(&mut records_rx, &mut batch);
                        write_batch(&mut journal, &mut batch, &thread_stats);
                        if records_rx.is_closed() && priority_rx.is_closed() {
                            while let Ok(Job::Halt(halt)) = priority_rx.try_recv() {
                                let _ = journal.record_halt(&halt);
                            }
                            return;
                        }
                    }
                }
            }
        })
        .map_err(|e| JournalError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok((
        JournalHandle {
            records: records_tx,
            priority: priority_tx,
            stats,
        },
        thread,
    ))
}

fn drain(rx: &mut tokio::sync::mpsc::Receiver<JournalRecord>, batch: &mut Vec<JournalRecord>) {
    while let Ok(record) = rx.try_recv() {
        batch.push(record);
    }
}

fn write_batch(journal: &mut Journal, batch: &mut Vec<JournalRecord>, stats: &JournalStats) {
    if batch.is_empty() {
        return;
    }
    match journal.append(batch) {
        Ok(_) => {
            stats
                .written
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        Err(_) => {
            stats.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    batch.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fill(ts: i64, trade: &str) -> JournalRecord {
        JournalRecord {
            ticker: Some("KXTEST-1".into()),
            trade_id: Some(trade.into()),
            ..JournalRecord::new(ts, Mode::Live, "fill", json!({"trade_id": trade}))
        }
    }

    #[test]
    fn migrates_appends_dedups_fills_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        let mut journal = Journal::open(&path).unwrap();
        assert_eq!(journal.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let written = journal
            .append(&[
                JournalRecord::new(1_000, Mode::Live, "intent", json!({"n": 1})),
                fill(2_000, "t1"),
                fill(2_001, "t1"),
                JournalRecord {
                    trade_id: Some("t1".into()),
                    ..JournalRecord::new(2_002, Mode::Paper, "fill", json!({}))
                },
            ])
            .unwrap();
        assert_eq!(
            written, 3,
            "the duplicate live fill is skipped, the paper one kept"
        );
        drop(journal);
        let journal = Journal::open(&path).unwrap();
        let recent = journal.recent(10, Some(Mode::Live)).unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].kind, "fill");
        assert_eq!(recent[1].payload, json!({"n": 1}));
        assert_eq!(
            journal.events_of_kind("fill", Mode::Paper).unwrap().len(),
            1
        );
    }

    #[test]
    fn refuses_a_journal_from_a_newer_desk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        drop(Journal::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn halts_are_kept_and_the_latest_state_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        assert_eq!(journal.last_halt(Mode::Live).unwrap(), None);
        for (ts, state) in [(1, HaltState::Pending), (2, HaltState::Flat)] {
            journal
                .record_halt(&HaltRecord {
                    ts_ms: ts,
                    mode: Mode::Live,
                    state,
                    reason: "operator kill switch".into(),
                    payload: json!({}),
                })
                .unwrap();
        }
        let last = journal.last_halt(Mode::Live).unwrap().unwrap();
        assert_eq!((last.ts_ms, last.state), (2, HaltState::Flat));
        assert_eq!(journal.last_halt(Mode::Paper).unwrap(), None);
    }

    #[test]
    fn writer_thread_writes_everything_and_halts_survive_a_full_queue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let (handle, thread) = spawn_writer(&path, 4).unwrap();
        for i in 0..3 {
            handle.record(JournalRecord::new(
                i,
                Mode::Live,
                "intent",
                json!({ "i": i }),
            ));
        }
        handle
            .record_halt(HaltRecord {
                ts_ms: 10,
                mode: Mode::Live,
                state: HaltState::Pending,
                reason: "daily loss".into(),
                payload: json!({}),
            })
            .unwrap();
        handle.flush_blocking().unwrap();
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.recent(10, None).unwrap().len(), 3);
        assert_eq!(
            journal.last_halt(Mode::Live).unwrap().unwrap().reason,
            "daily loss"
        );
        drop(handle);
        thread.join().unwrap();
    }

    #[test]
    fn daily_summaries_count_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        let day1 = 1_764_000_000_000; // 2025-11-24 UTC
        let day2 = day1 + 86_400_000;
        journal
            .append(&[
                JournalRecord::new(day1, Mode::Live, "intent", json!({})),
                JournalRecord::new(day1 + 1, Mode::Live, "reject", json!({})),
                fill(day2, "a"),
                fill(day2 + 1, "b"),
                JournalRecord::new(day2 + 2, Mode::Live, "halt", json!({})),
            ])
            .unwrap();
        let days = journal.daily_summaries(Mode::Live, 0, 7).unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!((days[0].fills, days[0].halts, days[0].events), (2, 1, 3));
        assert_eq!((days[1].intents, days[1].rejects), (1, 1));
    }
}
