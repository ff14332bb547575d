//! `kdesk record`: raw market-data frames from a Kalshi-compatible websocket into a tape.
//!
//! The recorder keeps its own connection (the desk's client decodes frames; a tape must hold
//! them exactly as received). Book sequence numbers are checked per subscription: a skip is
//! written as a `Gap` marker and the connection is re-opened so every book restarts from a
//! snapshot; drops are `Disconnected`/`Connected` pairs.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

use crate::core::market::Ticker;
use crate::kalshi::auth::Signer;
use crate::kalshi::rest::RestClient;
use crate::kalshi::wire::{GetMarketsParams, ServerMsg, decode_server_frame};
use crate::runtime::clock;
use crate::store::tape::{TAPE_VERSION, TapeEntry, TapeError, TapeHeader, TapeWriter};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Tape(#[from] TapeError),
    #[error("reading markets for the tape header: {0}")]
    Describe(String),
    #[error("websocket {url}: {reason}")]
    Connect { url: String, reason: String },
}

/// What and how long to record.
#[derive(Debug, Clone)]
pub struct RecordPlan {
    pub ws_url: String,
    pub markets: Vec<Ticker>,
    /// Stop after this long (wall clock); `None` runs until `stop` fires.
    pub duration: Option<Duration>,
}

/// Counters of a recording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    pub frames: u64,
    pub gaps: u64,
    pub connections: u32,
}

/// The markets to follow (`wanted`, or every market the exchange lists when empty) and a tape
/// header describing them from REST: metadata, price grids, fee types of their series.
pub async fn describe(
    rest: &RestClient,
    wanted: &[String],
    environment: &str,
    use_yes_price: bool,
) -> Result<(Vec<Ticker>, TapeHeader), RecordError> {
    let markets = if wanted.is_empty() {
        rest.all_markets(&GetMarketsParams::default())
            .await
            .map_err(|e| RecordError::Describe(e.to_string()))?
    } else {
        let mut markets = Vec::with_capacity(wanted.len());
        for ticker in wanted {
            match rest.market(ticker).await {
                Ok(market) => markets.push(market),
                Err(error) => tracing::warn!(%error, %ticker, "market not described"),
            }
        }
        markets
    };
    let mut series_tickers: Vec<String> = markets
        .iter()
        .filter_map(|m| m.event_ticker.split('-').next().map(str::to_string))
        .collect();
    series_tickers.sort();
    series_tickers.dedup();
    let mut series = Vec::new();
    for ticker in series_tickers {
        if let Ok(found) = rest.series(&ticker).await {
            series.push(
                serde_json::to_value(found).map_err(|e| RecordError::Describe(e.to_string()))?,
            );
        }
    }
    let tickers: Vec<Ticker> = markets.iter().map(|m| m.ticker.clone()).collect();
    let header = TapeHeader {
        version: TAPE_VERSION,
        environment: environment.to_string(),
        started_ms: clock::wall_ms(),
        markets: markets
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()
            .map_err(|e| RecordError::Describe(e.to_string()))?,
        series,
        use_yes_price,
    };
    Ok((tickers, header))
}

const CHANNELS: [&str; 4] = ["orderbook_delta", "ticker", "trade", "market_lifecycle_v2"];

/// Record until the duration passes or `stop` resolves.
pub async fn record(
    plan: &RecordPlan,
    signer: &Signer,
    writer: &mut TapeWriter,
    stop: impl std::future::Future<Output = ()>,
) -> Result<RecordStats, RecordError> {
    let mut stats = RecordStats::default();
    let deadline = plan
        .duration
        .map(|d| tokio::time::Instant::from_std(clock::instant()) + d);
    tokio::pin!(stop);
    let mut backoff = Duration::from_millis(200);
    loop {
        stats.connections += 1;
        let conn = stats.connections;
        let outcome = tokio::select! {
            outcome = connection(plan, signer, writer, conn, &mut stats) => outcome,
            () = &mut stop => return finish(writer, conn, "stopped", stats),
            () = sleep_until(deadline) => return finish(writer, conn, "recording time is up", stats),
        };
        let reason = match outcome {
            Ok(reason) => reason,
            Err(RecordError::Tape(error)) => return Err(RecordError::Tape(error)),
            Err(error) => error.to_string(),
        };
        writer.append(&TapeEntry::Disconnected {
            rx_ms: clock::wall_ms(),
            conn,
            reason: reason.clone(),
        })?;
        writer.flush()?;
        tracing::warn!(%reason, "recorder reconnecting");
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = &mut stop => return Ok(stats),
            () = sleep_until(deadline) => return Ok(stats),
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn finish(
    writer: &mut TapeWriter,
    conn: u32,
    reason: &str,
    stats: RecordStats,
) -> Result<RecordStats, RecordError> {
    writer.append(&TapeEntry::Disconnected {
        rx_ms: clock::wall_ms(),
        conn,
        reason: reason.to_string(),
    })?;
    writer.flush()?;
    Ok(stats)
}

/// One connection: returns why it ended (or a tape error, which stops the recording).
async fn connection(
    plan: &RecordPlan,
    signer: &Signer,
    writer: &mut TapeWriter,
    conn: u32,
    stats: &mut RecordStats,
) -> Result<String, RecordError> {
    let connect_error = |reason: String| RecordError::Connect {
        url: plan.ws_url.clone(),
        reason,
    };
    let mut request = plan
        .ws_url
        .as_str()
        .into_client_request()
        .map_err(|e| connect_error(e.to_string()))?;
    let path = request.uri().path().to_owned();
    let auth = signer.sign(clock::wall_ms(), "GET", &path);
    for (name, value) in auth.pairs() {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| connect_error(e.to_string()))?;
        let value = HeaderValue::from_str(value).map_err(|e| connect_error(e.to_string()))?;
        request.headers_mut().insert(name, value);
    }
    let (mut socket, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .map_err(|_| connect_error("connect timed out".into()))?
    .map_err(|e| connect_error(e.to_string()))?;
    writer.append(&TapeEntry::Connected {
        rx_ms: clock::wall_ms(),
        conn,
    })?;
    let tickers: Vec<&str> = plan.markets.iter().map(Ticker::as_str).collect();
    let mut params = serde_json::json!({ "channels": CHANNELS });
    if !tickers.is_empty() {
        params["market_tickers"] = serde_json::json!(tickers);
    }
    let subscribe = serde_json::json!({"id": 1, "cmd": "subscribe", "params": params});
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let mut last_seq: HashMap<u64, u64> = HashMap::new();
    let mut sid_markets: HashMap<u64, Vec<String>> = HashMap::new();
    while let Some(message) = socket.next().await {
        let message = match message {
            Ok(message) => message,
            Err(error) => return Ok(error.to_string()),
        };
        let text = match message {
            Message::Text(text) => text.to_string(),
            Message::Ping(payload) => {
                let _ = socket.send(Message::Pong(payload)).await;
                continue;
            }
            Message::Close(_) => return Ok("closed by the server".into()),
            _ => continue,
        };
        let rx_ms = clock::wall_ms();
        let gap = match decode_server_frame(&text) {
            Ok(frame) => check_seq(&frame, &mut last_seq, &mut sid_markets),
            Err(_) => None,
        };
        writer.append(&TapeEntry::Frame { rx_ms, conn, text })?;
        stats.frames += 1;
        if let Some((tickers, reason)) = gap {
            stats.gaps += 1;
            writer.append(&TapeEntry::Gap {
                rx_ms,
                conn,
                tickers,
                reason: reason.clone(),
            })?;
            // A fresh connection brings fresh snapshots of every book.
            let _ = socket.close(None).await;
            return Ok(reason);
        }
    }
    Ok("connection ended".into())
}

/// A skipped book sequence number: the markets of that subscription and why.
fn check_seq(
    frame: &crate::kalshi::wire::ServerFrame,
    last_seq: &mut HashMap<u64, u64>,
    sid_markets: &mut HashMap<u64, Vec<String>>,
) -> Option<(Vec<String>, String)> {
    let (Some(sid), Some(seq)) = (frame.sid, frame.seq) else {
        return None;
    };
    match &frame.msg {
        ServerMsg::OrderbookSnapshot(snapshot) => {
            last_seq.insert(sid, seq);
            let markets = sid_markets.entry(sid).or_default();
            let ticker = snapshot.market_ticker.as_str().to_string();
            if !markets.contains(&ticker) {
                markets.push(ticker);
            }
            None
        }
        ServerMsg::OrderbookDelta(_) => {
            // checked: a server's seq of u64::MAX must read as a gap, not overflow.
            match last_seq.insert(sid, seq) {
                Some(last) if last.checked_add(1) != Some(seq) => Some((
                    sid_markets.get(&sid).cloned().unwrap_or_default(),
                    format!("sid {sid}: seq {seq} after {last}"),
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kalshi::wire::decode_server_frame;

    #[test]
    fn a_seq_at_u64_max_reads_as_a_gap_not_an_overflow() {
        let delta = |seq: u64| {
            decode_server_frame(&format!(
                r#"{{"type":"orderbook_delta","sid":1,"seq":{seq},"msg":{{"market_ticker":"T","market_id":"m","price_dollars":"0.5000","delta_fp":"1.00","side":"yes","ts":"2022-11-22T20:44:01Z","ts_ms":1}}}}"#
            ))
            .unwrap()
        };
        let mut last = HashMap::new();
        let mut markets = HashMap::new();
        assert!(check_seq(&delta(u64::MAX), &mut last, &mut markets).is_none());
        let (_, why) = check_seq(&delta(u64::MAX), &mut last, &mut markets).expect("a gap");
        assert!(why.contains("after 18446744073709551615"), "{why}");
        assert!(check_seq(&delta(0), &mut last, &mut markets).is_some());
        assert!(check_seq(&delta(1), &mut last, &mut markets).is_none());
    }
}
