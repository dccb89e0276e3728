//! The listener and connection wrapper under axum.
//!
//! It exists for two faults axum cannot express on its own: a TCP reset with no answer at all
//! (the handler flags the connection, and the wrapper fails the next read or write after
//! setting `SO_LINGER` 0, so the kernel sends RST), and TCP_NODELAY on every accepted socket so
//! small answers are not held back by Nagle's algorithm.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Per-connection control shared between the socket wrapper and the request handlers.
#[derive(Debug, Default)]
pub(crate) struct ConnCtl {
    reset: AtomicBool,
}

/// A TCP listener that sets TCP_NODELAY and wraps each socket in [`SimStream`].
pub(crate) struct SimListener(pub TcpListener);

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        SimStream {
                            inner: stream,
                            ctl: Arc::new(ConnCtl::default()),
                        },
                        addr,
                    );
                }
                // Out of file descriptors or a connection aborted during accept: back off
                // briefly instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// An accepted socket that can be told to die with a reset.
pub(crate) struct SimStream {
    inner: TcpStream,
    ctl: Arc<ConnCtl>,
}

impl SimStream {
    fn check(&mut self) -> io::Result<()> {
        if self.ctl.reset.load(Ordering::SeqCst) {
            let _ = self.inner.set_zero_linger();
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "reset injected by hostup-sim",
            ));
        }
        Ok(())
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Err(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Err(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The handle a request handler gets to its connection (via `ConnectInfo`).
#[derive(Clone, Debug)]
pub(crate) struct Conn(Arc<ConnCtl>);

impl Conn {
    /// Makes the connection end with a TCP reset instead of the answer.
    pub fn reset(&self) {
        self.0.reset.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, SimListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        Conn(stream.io().ctl.clone())
    }
}
