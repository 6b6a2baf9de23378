//! What carries a connection's bytes once hyper hands the upgraded socket over: the socket
//! itself where its type is known (plain TCP, TLS over TCP), so that every read and write is
//! a direct call, else hyper's boxed `Upgraded`.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

#[cfg(feature = "tls")]
type TlsStream = tokio_rustls::server::TlsStream<TcpStream>;

/// A connection's transport.
pub(crate) enum Transport {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
    Other(TokioIo<Upgraded>),
}

impl Transport {
    /// The transport under `upgraded`, and the bytes the client sent behind its handshake
    /// that hyper had read already.
    pub(crate) fn of(upgraded: Upgraded) -> (Transport, Bytes) {
        let upgraded = match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => return (Transport::Tcp(parts.io.into_inner()), parts.read_buf),
            Err(upgraded) => upgraded,
        };
        #[cfg(feature = "tls")]
        let upgraded = match upgraded.downcast::<TokioIo<TlsStream>>() {
            Ok(parts) => {
                let tls = Box::new(parts.io.into_inner());
                return (Transport::Tls(tls), parts.read_buf);
            }
            Err(upgraded) => upgraded,
        };
        (Transport::Other(TokioIo::new(upgraded)), Bytes::new())
    }
}

/// Calls `$method` on whichever transport this is.
macro_rules! each {
    ($self:expr, $io:ident => $call:expr) => {
        match $self.get_mut() {
            Transport::Tcp($io) => $call,
            #[cfg(feature = "tls")]
            Transport::Tls($io) => $call,
            Transport::Other($io) => $call,
        }
    };
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, io => Pin::new(io).poll_read(cx, buf))
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, io => Pin::new(io).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, io => Pin::new(io).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Tcp(io) => io.is_write_vectored(),
            #[cfg(feature = "tls")]
            Transport::Tls(io) => io.is_write_vectored(),
            Transport::Other(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, io => Pin::new(io).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, io => Pin::new(io).poll_shutdown(cx))
    }
}
