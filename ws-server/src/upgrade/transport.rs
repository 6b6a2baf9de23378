//! What carries a connection's bytes once hyper hands the upgraded socket over: the socket
//! itself where its type is known (plain TCP, TLS over TCP), so that every read and write is
//! a direct call, else hyper's boxed `Upgraded` (an HTTP/2 stream, or a server's own
//! stream type).

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::{rt::TokioIo, server::conn::auto};
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
        let upgraded = match unwrap::<TcpStream>(upgraded) {
            Ok((tcp, read)) => return (Transport::Tcp(tcp), read),
            Err(upgraded) => upgraded,
        };
        #[cfg(feature = "tls")]
        let upgraded = match unwrap::<TlsStream>(upgraded) {
            Ok((tls, read)) => return (Transport::Tls(Box::new(tls)), read),
            Err(upgraded) => upgraded,
        };
        (Transport::Other(TokioIo::new(upgraded)), Bytes::new())
    }
}

/// The `S` under `upgraded`, with the bytes read already: served by hyper-util's
/// HTTP/1.1-or-HTTP/2 server (ours, and axum's), which wraps it in a type of its own, or
/// by hyper's HTTP/1.1 server directly.
fn unwrap<S>(upgraded: Upgraded) -> Result<(S, Bytes), Upgraded>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let upgraded = match auto::upgrade::downcast::<TokioIo<S>>(upgraded) {
        Ok(parts) => return Ok((parts.io.into_inner(), parts.read_buf)),
        Err(upgraded) => upgraded,
    };
    upgraded
        .downcast::<TokioIo<S>>()
        .map(|parts| (parts.io.into_inner(), parts.read_buf))
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

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, sync::Mutex};

    use http_body_util::Empty;
    use hyper::{Request, Response, body::Incoming, service::service_fn};
    use hyper_util::rt::TokioExecutor;
    use tokio::{io::AsyncWriteExt, net::TcpListener, sync::oneshot};

    use super::*;

    /// Upgrades one connection served by hyper-util's HTTP/1.1-or-HTTP/2 server, as the
    /// standalone server and axum serve them: whether it came back as the TCP socket, and
    /// the bytes read past the request.
    async fn upgrade_through_auto_server(request: &[u8]) -> (bool, Bytes) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (taken, result) = oneshot::channel();
        let taken = Mutex::new(Some(taken));
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let service = service_fn(move |mut request: Request<Incoming>| {
                let on_upgrade = hyper::upgrade::on(&mut request);
                let taken = taken.lock().expect("lock").take();
                tokio::spawn(async move {
                    let (transport, early) = Transport::of(on_upgrade.await.expect("upgraded"));
                    let tcp = matches!(transport, Transport::Tcp(_));
                    let _ = taken.expect("one request").send((tcp, early));
                });
                let response = Response::builder()
                    .status(101)
                    .header("connection", "upgrade")
                    .header("upgrade", "websocket")
                    .body(Empty::<Bytes>::new());
                async move { Ok::<_, Infallible>(response.expect("response")) }
            });
            let server = auto::Builder::new(TokioExecutor::new());
            let _ = server
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
        });
        let mut client = TcpStream::connect(addr).await.expect("connect");
        client.write_all(request).await.expect("write");
        let taken = result.await.expect("upgraded");
        drop(client);
        taken
    }

    #[tokio::test]
    async fn a_socket_served_by_hyper_utils_server_is_taken_back_as_tcp() {
        let request =
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
        let (tcp, early) = upgrade_through_auto_server(request).await;
        assert!(tcp, "the socket itself, not hyper's boxed stream");
        assert!(early.is_empty());
    }
}
