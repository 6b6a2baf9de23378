//! A bound server: the accept loop, HTTP/1.1 and HTTP/2, and graceful shutdown.

use std::{convert::Infallible, future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use http::StatusCode;
use hyper::service::service_fn;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    time::Instant,
};
use tracing::{debug, error, info};

use bytes::Bytes;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use tower::{ServiceExt, util::BoxCloneSyncService};

use crate::{
    ServerHandle,
    in_use::InUse,
    rejection::{Body, plain_response},
    service::{Resources, not_found},
};

/// The HTTP side's settings: limits on the exchange before the upgrade, and HTTP/2.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpLimits {
    /// From accepting the TCP connection to the end of the HTTP exchange; how long an
    /// HTTP/2 connection may stay idle.
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_request_head: usize,
    pub(crate) max_request_headers: usize,
    /// Whether WebSockets may open on HTTP/2 streams (RFC 8441).
    pub(crate) http2_websockets: bool,
    /// Streams open at once on one HTTP/2 connection.
    pub(crate) max_http2_streams: u32,
}

/// hyper's count of header lines, which it parses without allocating.
const HYPER_MAX_HEADERS: usize = 100;

impl HttpLimits {
    pub(crate) const DEFAULT: HttpLimits = HttpLimits {
        handshake_timeout: Duration::from_secs(10),
        max_request_head: 16 * 1024,
        max_request_headers: HYPER_MAX_HEADERS,
        http2_websockets: true,
        max_http2_streams: 100,
    };
}

/// hyper's smallest read buffer.
const MIN_HEAD_BUFFER: usize = 8 * 1024;

/// A bound WebSocket server, ready to [`run`](Server::run).
///
/// ```no_run
/// use ws_server::{Connection, Handler, Server, Text, ws_resource};
///
/// #[ws_resource("/echo")]
/// #[derive(Default)]
/// struct Echo;
///
/// impl Handler for Echo {
///     async fn on_text(&mut self, conn: &Connection, text: Text) {
///         let _ = conn.send_text(text).await;
///     }
/// }
///
/// # async fn start() -> std::io::Result<()> {
/// let server = Server::builder().route::<Echo>().bind("127.0.0.1:0").await?;
/// println!("listening on {}", server.local_addr()?);
/// server.with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; }).await
/// # }
/// # let _ = start;
/// ```
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<ServerShared>,
}

/// What every HTTP connection of a server shares.
#[derive(Debug)]
pub(crate) struct ServerShared {
    pub(crate) resources: Arc<Resources>,
    pub(crate) fallback: Option<Fallback>,
    pub(crate) http: HttpLimits,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::TlsConfig>,
}

impl Server {
    pub(crate) fn new(listener: TcpListener, shared: Arc<ServerShared>) -> Server {
        Server { listener, shared }
    }

    /// The address the server listens on (useful after binding port 0).
    ///
    /// # Errors
    /// As [`TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle to the server's connections, topics, state and shutdown.
    pub fn handle(&self) -> ServerHandle {
        self.shared.resources.server.clone()
    }

    /// Accepts and serves connections until [`ServerHandle::shutdown`] is called, then
    /// returns once the graceful shutdown is complete.
    ///
    /// Errors accepting one connection (such as running out of file descriptors) are
    /// logged and retried; they do not stop the server.
    ///
    /// # Errors
    /// As [`TcpListener::local_addr`]; nothing after the server started.
    pub async fn run(self) -> io::Result<()> {
        self.with_graceful_shutdown(std::future::pending()).await
    }

    /// Like [`run`](Server::run), and also shuts down gracefully when `signal` resolves
    /// (for example `tokio::signal::ctrl_c()`).
    ///
    /// # Errors
    /// As [`run`](Server::run).
    pub async fn with_graceful_shutdown(self, signal: impl Future<Output = ()>) -> io::Result<()> {
        let paths: Vec<_> = self.shared.resources.router.paths().collect();
        info!(addr = %self.listener.local_addr()?, ?paths, "WebSocket server listening");
        let hub = self.shared.resources.server.hub().clone();
        tokio::select! {
            () = self.accept_loop() => {}
            () = signal => info!("shutdown signal received"),
            () = hub.stopping() => {}
        }
        drop(self.listener);
        hub.shutdown(hub.shutdown_mode()).await;
        Ok(())
    }

    async fn accept_loop(&self) {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    tokio::spawn(serve_connection(stream, peer, self.shared.clone()));
                }
                Err(err) => {
                    error!(error = %err, "accept failed");
                    // Typically out of file descriptors: give connections time to finish.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Serves one TCP connection: TLS if configured, then HTTP.
async fn serve_connection(stream: TcpStream, peer: SocketAddr, shared: Arc<ServerShared>) {
    // Small frames go out at once; the writer already batches what is queued together.
    let _ = stream.set_nodelay(true);
    let deadline = Instant::now() + shared.http.handshake_timeout;
    #[cfg(feature = "tls")]
    if let Some(acceptor) = shared.tls.as_ref().map(crate::TlsConfig::acceptor) {
        let hub = shared.resources.server.hub().clone();
        tokio::select! {
            result = tokio::time::timeout_at(deadline, acceptor.accept(stream)) => match result {
                Ok(Ok(tls)) => serve_http(tls, peer, shared, deadline).await,
                Ok(Err(error)) => info!(%peer, %error, "TLS handshake failed"),
                Err(_) => info!(%peer, "TLS handshake timed out: disconnected"),
            },
            () = hub.stopping() => {}
        }
        return;
    }
    serve_http(stream, peer, shared, deadline).await;
}

/// Serves HTTP (HTTP/1.1, or HTTP/2 where the client speaks it) on one connection until
/// it ends. HTTP/1.1, as a connection that has sent no request yet: until it is upgraded
/// or closed, the handshake deadline passes, or the server shuts down. HTTP/2: until it has
/// been idle (no request in progress, no WebSocket on it) at the handshake deadline or at
/// a later look, a handshake timeout apart; or once the server shuts down and its
/// WebSockets have closed.
async fn serve_http<S>(stream: S, peer: SocketAddr, shared: Arc<ServerShared>, deadline: Instant)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let hub = shared.resources.server.hub().clone();
    let settings = shared.http;
    let in_use = InUse::default();
    let service = service_fn({
        let in_use = in_use.clone();
        move |mut request: hyper::Request<Incoming>| {
            if request.version() == http::Version::HTTP_2 {
                in_use.mark_http2();
            }
            request.extensions_mut().insert(in_use.enter());
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(route_request(request, peer, shared).await) }
        }
    });
    let http = http_builder(&settings);
    let connection = http.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut deadline = deadline;
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    info!(%peer, %error, "HTTP connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(deadline) => {
                if !in_use.is_http2() {
                    info!(%peer, timeout = ?settings.handshake_timeout, "handshake timed out: disconnected");
                    return;
                }
                if !in_use.is_idle() {
                    let every = if closing { CLOSING_GRACE } else { settings.handshake_timeout };
                    deadline = Instant::now() + every;
                } else if closing {
                    debug!(%peer, "HTTP connection closed");
                    return;
                } else {
                    debug!(%peer, "idle HTTP/2 connection: closing");
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                    deadline = Instant::now() + CLOSING_GRACE;
                }
            }
            () = hub.stopping(), if !closing => {
                if !in_use.is_http2() {
                    debug!(%peer, "HTTP connection dropped by the shutdown");
                    return;
                }
                debug!(%peer, "HTTP/2 connection closing for the shutdown");
                connection.as_mut().graceful_shutdown();
                closing = true;
                deadline = Instant::now() + CLOSING_GRACE;
            }
        }
    }
}

/// How long a connection told to close (HTTP/2's GOAWAY, HTTP/1.1's last response) may
/// take to finish what it has in progress, between looks.
const CLOSING_GRACE: Duration = Duration::from_secs(1);

/// How often an HTTP/2 connection pings its client, and how long the pong may take: a
/// client gone without a word is found even while its WebSockets' own heartbeat is off.
const HTTP2_PING_INTERVAL: Duration = Duration::from_secs(30);
const HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// hyper's HTTP/1.1 and HTTP/2 server, set as the builder says.
fn http_builder(settings: &HttpLimits) -> auto::Builder<TokioExecutor> {
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.handshake_timeout)
        .max_buf_size(settings.max_request_head.max(MIN_HEAD_BUFFER));
    if settings.max_request_headers != HYPER_MAX_HEADERS {
        // Parsed into a vector then, one allocation per request.
        http.http1().max_headers(settings.max_request_headers);
    }
    let mut http2 = http.http2();
    http2
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.max_http2_streams)
        .max_header_list_size(u32::try_from(settings.max_request_head).unwrap_or(u32::MAX))
        .keep_alive_interval(HTTP2_PING_INTERVAL)
        .keep_alive_timeout(HTTP2_PING_TIMEOUT);
    if settings.http2_websockets {
        // SETTINGS_ENABLE_CONNECT_PROTOCOL: every resource answers an extended CONNECT.
        http2.enable_connect_protocol();
    }
    http
}

async fn route_request(
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
    shared: Arc<ServerShared>,
) -> http::Response<BoxBody> {
    if let Some(entry) = shared.resources.at(request.uri().path()) {
        let upgrade = shared.resources.upgrade(entry, request, Some(peer));
        return upgrade.await.map(boxed);
    }
    match &shared.fallback {
        Some(fallback) => fallback
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|error| {
                error!(%peer, %error, "the fallback service failed");
                plain_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").map(boxed)
            }),
        None => {
            debug!(%peer, path = request.uri().path(), "no resource at this path");
            not_found().map(boxed)
        }
    }
}

/// A response body of any kind, as hyper serves it.
pub(crate) type BoxBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// An error of any kind, from a fallback service or its body.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn boxed(body: Body) -> BoxBody {
    body.map_err(|never| match never {}).boxed_unsync()
}

/// The service that answers plain HTTP requests outside the resources.
pub(crate) type Fallback =
    BoxCloneSyncService<hyper::Request<Incoming>, http::Response<BoxBody>, BoxError>;
