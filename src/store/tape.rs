//! Feed tapes: raw websocket frames with their receive times, as zstd-compressed JSON lines, for
//! backtests and bug reports.
//!
//! Every file starts with a [`TapeHeader`] (what was recorded: environment, markets' metadata with
//! price grids and fee types). Then one [`TapeEntry`] per line: a frame exactly as received, or a
//! connection event, or a gap marker, so a replay knows when data was missing instead of
//! silently trading through a hole. Files rotate by size; each new file repeats the header.
//! A tape cut short by a crash reads up to its last complete line and reports the truncation.

use std::fs::File;
use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};

pub const TAPE_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum TapeError {
    #[error("tape {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("tape {path}: line {line}: {reason}")]
    Format {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// What a tape holds, written first in every file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TapeHeader {
    pub version: u32,
    /// `sim`, `demo` or `prod`.
    pub environment: String,
    pub started_ms: i64,
    /// Markets' metadata as the exchange described them (`GET /markets` objects): tickers,
    /// events, price_ranges, fee types. Kept as JSON so a tape outlives our wire types.
    pub markets: Vec<serde_json::Value>,
    /// Series metadata (fee_type, fee_multiplier), same reason.
    #[serde(default)]
    pub series: Vec<serde_json::Value>,
    /// The book subscriptions asked for `use_yes_price` (NO levels priced in YES terms): the
    /// desk's own client does, `kdesk record` takes Kalshi's default. Absent in older tapes.
    #[serde(default)]
    pub use_yes_price: bool,
}

/// One line of a tape after the header.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum TapeEntry {
    /// A websocket text frame exactly as received.
    Frame { rx_ms: i64, conn: u32, text: String },
    /// A connection opened (frames before it belong to an earlier connection).
    Connected { rx_ms: i64, conn: u32 },
    /// A connection closed or failed; data is missing until the next `Connected` and snapshots.
    Disconnected {
        rx_ms: i64,
        conn: u32,
        reason: String,
    },
    /// A sequence gap or dropped data: these markets' books are unreliable until resynced.
    Gap {
        rx_ms: i64,
        conn: u32,
        tickers: Vec<String>,
        reason: String,
    },
    /// Recording paused or resumed by the operator.
    Note { rx_ms: i64, text: String },
}

impl TapeEntry {
    pub fn rx_ms(&self) -> i64 {
        match self {
            TapeEntry::Frame { rx_ms, .. }
            | TapeEntry::Connected { rx_ms, .. }
            | TapeEntry::Disconnected { rx_ms, .. }
            | TapeEntry::Gap { rx_ms, .. }
            | TapeEntry::Note { rx_ms, .. } => *rx_ms,
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum HeaderLine {
    Header(TapeHeader),
}

/// Writes a tape, rotating to a new numbered file past `max_bytes` of uncompressed input.
pub struct TapeWriter {
    dir: PathBuf,
    stem: String,
    max_bytes: u64,
    header: TapeHeader,
    file_index: u32,
    written: u64,
    encoder: Option<zstd::stream::write::Encoder<'static, BufWriter<File>>>,
    files: Vec<PathBuf>,
    lines_since_flush: u32,
}

impl TapeWriter {
    /// Start `dir/<stem>-0001.jsonl.zst`.
    pub fn create(
        dir: &Path,
        stem: &str,
        header: TapeHeader,
        max_bytes: u64,
    ) -> Result<TapeWriter, TapeError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
        let mut writer = TapeWriter {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            max_bytes: max_bytes.max(4096),
            header,
            file_index: 0,
            written: 0,
            encoder: None,
            files: Vec::new(),
            lines_since_flush: 0,
        };
        writer.rotate()?;
        Ok(writer)
    }

    fn rotate(&mut self) -> Result<(), TapeError> {
        self.finish_current()?;
        self.file_index += 1;
        let path = self
            .dir
            .join(format!("{}-{:04}.jsonl.zst", self.stem, self.file_index));
        let file = File::create(&path).map_err(|e| io_error(&path, &e))?;
        let encoder = zstd::stream::write::Encoder::new(BufWriter::new(file), 3)
            .map_err(|e| io_error(&path, &e))?;
        self.encoder = Some(encoder);
        self.files.push(path);
        self.written = 0;
        let header =
            serde_json::to_string(&HeaderLine::Header(self.header.clone())).unwrap_or_default();
        self.write_line(&header)
    }

    fn current_path(&self) -> PathBuf {
        self.files
            .last()
            .cloned()
            .unwrap_or_else(|| self.dir.clone())
    }

    fn write_line(&mut self, line: &str) -> Result<(), TapeError> {
        let path = self.current_path();
        let Some(encoder) = self.encoder.as_mut() else {
            return Err(TapeError::Io {
                path,
                reason: "tape is closed".into(),
            });
        };
        encoder
            .write_all(line.as_bytes())
            .map_err(|e| io_error(&path, &e))?;
        encoder.write_all(b"\n").map_err(|e| io_error(&path, &e))?;
        self.written += line.len() as u64 + 1;
        self.lines_since_flush += 1;
        // A flushed zstd block is readable even if the process dies before finishing the file.
        if self.lines_since_flush >= 1024 {
            encoder.flush().map_err(|e| io_error(&path, &e))?;
            self.lines_since_flush = 0;
        }
        Ok(())
    }

    /// The files written so far, in order (the last one is open).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Append one entry, rotating first if the current file is full.
    pub fn append(&mut self, entry: &TapeEntry) -> Result<(), TapeError> {
        if self.written >= self.max_bytes {
            self.rotate()?;
        }
        let line = serde_json::to_string(entry).map_err(|e| TapeError::Io {
            path: self.current_path(),
            reason: e.to_string(),
        })?;
        self.write_line(&line)
    }

    /// Make everything appended so far readable by another process.
    pub fn flush(&mut self) -> Result<(), TapeError> {
        let path = self.current_path();
        if let Some(encoder) = self.encoder.as_mut() {
            encoder.flush().map_err(|e| io_error(&path, &e))?;
        }
        self.lines_since_flush = 0;
        Ok(())
    }

    fn finish_current(&mut self) -> Result<(), TapeError> {
        let path = self.current_path();
        if let Some(encoder) = self.encoder.take() {
            let mut inner = encoder.finish().map_err(|e| io_error(&path, &e))?;
            inner.flush().map_err(|e| io_error(&path, &e))?;
        }
        Ok(())
    }

    /// Finish the last file; returns every file written, in order.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, TapeError> {
        self.finish_current()?;
        Ok(std::mem::take(&mut self.files))
    }
}

impl Drop for TapeWriter {
    fn drop(&mut self) {
        let _ = self.finish_current();
    }
}

fn io_error(path: &Path, error: &std::io::Error) -> TapeError {
    TapeError::Io {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

/// A tape read back: its header and entries in order.
#[derive(Debug, Clone)]
pub struct Tape {
    pub header: TapeHeader,
    pub entries: Vec<TapeEntry>,
    /// Set when a file ended mid-line or mid-block (a recording cut short).
    pub truncated: bool,
}

/// Read one tape file, or several rotated files in order (their headers must agree on the
/// environment; markets are the union of what they list).
pub fn read_tape(paths: &[PathBuf]) -> Result<Tape, TapeError> {
    let mut header: Option<TapeHeader> = None;
    let mut entries = Vec::new();
    let mut truncated = false;
    for path in paths {
        let file = File::open(path).map_err(|e| io_error(path, &e))?;
        let decoder = zstd::stream::read::Decoder::new(file).map_err(|e| io_error(path, &e))?;
        let mut reader = BufReader::new(decoder);
        // Bytes, not `read_line`: a complete line that is not UTF-8 is corruption at that line,
        // which `read_line` would report like a crash's cut-off end.
        let mut line = Vec::new();
        let mut number = 0;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) if line.last() != Some(&b'\n') => {
                    truncated = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => {
                    // A file cut short by a crash: keep what was complete.
                    truncated = true;
                    break;
                }
            }
            number += 1;
            let text = std::str::from_utf8(&line)
                .map_err(|e| TapeError::Format {
                    path: path.clone(),
                    line: number,
                    reason: format!("not UTF-8 text: {e}"),
                })?
                .trim_end();
            if number == 1 {
                let HeaderLine::Header(h) =
                    serde_json::from_str(text).map_err(|e| TapeError::Format {
                        path: path.clone(),
                        line: 1,
                        reason: format!("not a tape header: {e}"),
                    })?;
                if h.version > TAPE_VERSION {
                    return Err(TapeError::Format {
                        path: path.clone(),
                        line: 1,
                        reason: format!(
                            "tape version {} is newer than this desk reads ({TAPE_VERSION})",
                            h.version
                        ),
                    });
                }
                match &mut header {
                    None => header = Some(h),
                    Some(existing) => {
                        for market in h.markets {
                            if !existing.markets.contains(&market) {
                                existing.markets.push(market);
                            }
                        }
                    }
                }
                continue;
            }
            let entry: TapeEntry = serde_json::from_str(text).map_err(|e| TapeError::Format {
                path: path.clone(),
                line: number,
                reason: e.to_string(),
            })?;
            entries.push(entry);
        }
        if number == 0 {
            return Err(TapeError::Format {
                path: path.clone(),
                line: 0,
                reason: "empty file (no header)".into(),
            });
        }
    }
    let header = header.ok_or_else(|| TapeError::Format {
        path: PathBuf::new(),
        line: 0,
        reason: "no tape files given".into(),
    })?;
    Ok(Tape {
        header,
        entries,
        truncated,
    })
}

/// The files of a rotated tape `dir/<stem>-NNNN.jsonl.zst`, in order.
pub fn tape_files(dir: &Path, stem: &str) -> Result<Vec<PathBuf>, TapeError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, &e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{stem}-")) && n.ends_with(".jsonl.zst"))
        })
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header() -> TapeHeader {
        TapeHeader {
            version: TAPE_VERSION,
            environment: "sim".into(),
            started_ms: 1_000,
            markets: vec![
                json!({"ticker": "KXA-1", "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]}),
            ],
            series: vec![],
            use_yes_price: false,
        }
    }

    fn frame(i: i64) -> TapeEntry {
        TapeEntry::Frame {
            rx_ms: 1_000 + i,
            conn: 1,
            text: format!(
                "{{\"type\":\"orderbook_delta\",\"sid\":1,\"seq\":{i},\"msg\":{{\"market_ticker\":\"KXA-1\",\"price_dollars\":\"0.4200\",\"delta_fp\":\"-1.00\",\"side\":\"yes\"}}}}"
            ),
        }
    }

    #[test]
    fn round_trips_entries_in_order_across_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = TapeWriter::create(dir.path(), "rec", header(), 4096).unwrap();
        let mut expected = vec![TapeEntry::Connected {
            rx_ms: 1_000,
            conn: 1,
        }];
        writer.append(&expected[0]).unwrap();
        for i in 0..200 {
            let entry = frame(i);
            writer.append(&entry).unwrap();
            expected.push(entry);
        }
        let gap = TapeEntry::Gap {
            rx_ms: 2_000,
            conn: 1,
            tickers: vec!["KXA-1".into()],
            reason: "seq 201 expected, got 205".into(),
        };
        writer.append(&gap).unwrap();
        expected.push(gap);
        let files = writer.finish().unwrap();
        assert!(files.len() > 1, "should have rotated");
        assert_eq!(tape_files(dir.path(), "rec").unwrap(), files);
        let tape = read_tape(&files).unwrap();
        assert_eq!(tape.header, header());
        assert_eq!(tape.entries, expected);
        assert!(!tape.truncated);
    }

    #[test]
    fn a_tape_cut_short_reads_up_to_its_last_flushed_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = TapeWriter::create(dir.path(), "cut", header(), 1 << 30).unwrap();
        for i in 0..10 {
            writer.append(&frame(i)).unwrap();
        }
        writer.flush().unwrap();
        for i in 10..20 {
            writer.append(&frame(i)).unwrap();
        }
        writer.flush().unwrap();
        let path = writer.current_path();
        // Simulate a crash: the file is never finished.
        std::mem::forget(writer);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let tape = read_tape(&[path]).unwrap();
        assert!(tape.truncated);
        // The first flushed block survives whole; the cut one is lost, never half-read.
        assert!(
            tape.entries.len() >= 10 && tape.entries.len() < 20,
            "{}",
            tape.entries.len()
        );
        assert_eq!(
            tape.entries[..10],
            (0..10).map(frame).collect::<Vec<_>>()[..]
        );
    }

    #[test]
    fn malformed_tapes_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl.zst");
        let text = format!(
            "{}\n{{\"t\":\"frame\",\"rx_ms\":\"soon\"}}\n",
            serde_json::to_string(&HeaderLine::Header(header())).unwrap()
        );
        std::fs::write(&path, zstd::encode_all(text.as_bytes(), 1).unwrap()).unwrap();
        let err = read_tape(std::slice::from_ref(&path)).unwrap_err();
        assert!(err.to_string().contains("bad.jsonl.zst: line 2"), "{err}");
        std::fs::write(&path, zstd::encode_all(&b"{}\n"[..], 1).unwrap()).unwrap();
        assert!(
            read_tape(&[path])
                .unwrap_err()
                .to_string()
                .contains("not a tape header")
        );
    }
}
