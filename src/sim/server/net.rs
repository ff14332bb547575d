//! A TCP listener whose connections a handler can cut: the "lost answer" fault applies a write
//! and then kills the connection before hyper writes a byte of the response.

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Per connection: its peer and the switch that cuts it. Handlers get it as `ConnectInfo`.
#[derive(Debug, Clone)]
pub struct Connection {
    pub remote: SocketAddr,
    cut: Arc<AtomicBool>,
}

impl Connection {
    /// From now on every write fails and the connection closes; no response reaches the peer.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, CuttableListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Connection {
        stream.remote_addr().clone()
    }
}

/// Wraps a bound `TcpListener`.
pub struct CuttableListener {
    inner: TcpListener,
}

impl CuttableListener {
    pub fn new(inner: TcpListener) -> CuttableListener {
        CuttableListener { inner }
    }
}

impl axum::serve::Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = Connection;

    async fn accept(&mut self) -> (CuttableStream, Connection) {
        loop {
            match self.inner.accept().await {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    let cut = Arc::new(AtomicBool::new(false));
                    let connection = Connection {
                        remote,
                        cut: cut.clone(),
                    };
                    return (CuttableStream { stream, cut }, connection);
                }
                // Out of file descriptors and the like: back off briefly instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Connection> {
        Ok(Connection {
            remote: self.inner.local_addr()?,
            cut: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// A TCP stream that fails every write once its connection is cut.
pub struct CuttableStream {
    stream: TcpStream,
    cut: Arc<AtomicBool>,
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection cut by fault injection",
    )
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.cut.load(Ordering::SeqCst) {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.cut.load(Ordering::SeqCst) {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.cut.load(Ordering::SeqCst) {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
