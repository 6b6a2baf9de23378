//! hyper's HTTP/2 client, independent of the server's code: WebSockets opened with an
//! extended CONNECT (RFC 8441) on the streams of one connection.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::Empty;
use hyper::{body::Incoming, client::conn::http2::SendRequest, ext::Protocol, upgrade::Upgraded};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
    task::JoinHandle,
};
use tokio_tungstenite::{WebSocketStream, tungstenite::protocol::Role};

use super::STEP;

/// A WebSocket on an HTTP/2 stream, spoken by tokio-tungstenite.
pub(crate) type H2Socket = WebSocketStream<TokioIo<Upgraded>>;

/// One HTTP/2 connection to the server.
pub(crate) struct H2Client {
    sender: SendRequest<Empty<Bytes>>,
    authority: String,
    /// Ends when the connection does.
    pub(crate) connection: JoinHandle<()>,
}

impl H2Client {
    /// HTTP/2 with prior knowledge over plain TCP (h2c).
    pub(crate) async fn connect(addr: SocketAddr) -> H2Client {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        H2Client::over(tcp, addr.to_string()).await
    }

    /// HTTP/2 over `io`, already connected (and, for TLS, with `h2` agreed by ALPN).
    pub(crate) async fn over(
        io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
        authority: String,
    ) -> H2Client {
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
                .await
                .expect("HTTP/2 handshake");
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        H2Client {
            sender,
            authority,
            connection,
        }
    }

    /// Sends an extended CONNECT for a WebSocket at `path` with `headers`; the response,
    /// or hyper's error (say, when the server did not enable the protocol).
    pub(crate) async fn try_open(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> hyper::Result<Response<Incoming>> {
        let mut request = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri(format!("http://{}{path}", self.authority))
            .header("sec-websocket-version", "13");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(Empty::new()).expect("request");
        request
            .extensions_mut()
            .insert(Protocol::from_static("websocket"));
        self.sender.ready().await?;
        tokio::time::timeout(STEP, self.sender.send_request(request))
            .await
            .expect("an answer in time")
    }

    /// Opens a WebSocket at `path` with `headers`: the response and the stream.
    pub(crate) async fn open_raw(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (Response<()>, TokioIo<Upgraded>) {
        let mut response = self.try_open(path, headers).await.expect("CONNECT");
        assert_eq!(response.status(), StatusCode::OK, "{response:?}");
        let upgraded = hyper::upgrade::on(&mut response).await.expect("upgraded");
        (response.map(|_| ()), TokioIo::new(upgraded))
    }

    /// Opens a WebSocket at `path`, spoken by tokio-tungstenite.
    pub(crate) async fn open(&mut self, path: &str) -> H2Socket {
        let (_, stream) = self.open_raw(path, &[]).await;
        WebSocketStream::from_raw_socket(stream, Role::Client, None).await
    }
}
