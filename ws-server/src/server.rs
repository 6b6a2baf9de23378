//! Building, binding and running a server.

use std::{
    convert::Infallible,
    io,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use http::StatusCode;
use hyper::{server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tracing::{debug, error, info};

use crate::{
    ConnId, Handler, Limits,
    conn::Settings,
    rejection::{Body, plain_response},
    routing::{self, Route, Router},
    upgrade::UpgradeContext,
};

/// How long a client may take to send its request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

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
/// server.run().await
/// # }
/// # let _ = start;
/// ```
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<ServerShared>,
}

/// What every connection of a server shares.
#[derive(Debug)]
pub(crate) struct ServerShared {
    router: Router,
    next_id: AtomicU64,
}

impl ServerShared {
    pub(crate) fn next_conn_id(&self) -> ConnId {
        ConnId::new(self.next_id.fetch_add(1, Ordering::Relaxed))
    }
}

/// Configures a [`Server`]: which resources it serves and the server-wide settings.
///
/// ```
/// use std::time::Duration;
/// use ws_server::{Limits, Server};
///
/// let builder = Server::builder()
///     .registered_routes()
///     .limits(Limits::DEFAULT.max_message(1 << 20))
///     .close_timeout(Duration::from_secs(2));
/// # let _ = builder;
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `bind` is awaited"]
pub struct Builder {
    routes: Vec<Route>,
    settings: Settings,
}

impl Server {
    /// A builder with no resources and default settings.
    pub fn builder() -> Builder {
        Builder {
            routes: Vec::new(),
            settings: Settings {
                limits: Limits::DEFAULT,
                close_timeout: Duration::from_secs(5),
            },
        }
    }

    /// The address the server listens on (useful after binding port 0).
    ///
    /// # Errors
    /// As [`TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts and serves connections until the task is dropped.
    ///
    /// Errors accepting one connection (such as running out of file descriptors) are
    /// logged and retried; they do not stop the server.
    ///
    /// # Errors
    /// None at present; the `Result` leaves room for fatal listener errors.
    pub async fn run(self) -> io::Result<()> {
        let paths: Vec<_> = self.shared.router.paths().collect();
        info!(addr = %self.listener.local_addr()?, ?paths, "WebSocket server listening");
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    tokio::spawn(serve_http(stream, peer, self.shared.clone()));
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

impl Builder {
    /// Serves resource `H` (a type with `#[ws_resource]` and a [`Handler`] impl).
    pub fn route<H: Handler>(mut self) -> Builder {
        self.routes.push(Route::of::<H>());
        self
    }

    /// Serves every `#[ws_resource]` in the program, in any module or crate linked in.
    /// This is what `serve!` does.
    pub fn registered_routes(mut self) -> Builder {
        self.routes.extend(routing::registered());
        self
    }

    /// Server-wide limits, for the resources that do not set their own.
    pub fn limits(mut self, limits: Limits) -> Builder {
        self.settings.limits = limits;
        self
    }

    /// How long to wait for the peer's close frame after sending one before closing the
    /// socket anyway. Default 5 seconds.
    pub fn close_timeout(mut self, timeout: Duration) -> Builder {
        self.settings.close_timeout = timeout;
        self
    }

    /// Builds the route table and binds the listener.
    ///
    /// # Errors
    /// `InvalidInput` naming both types if two resources share a path; otherwise what
    /// binding returns.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<Server> {
        let router = Router::new(self.routes, self.settings)?;
        let listener = TcpListener::bind(addr).await?;
        Ok(Server {
            listener,
            shared: Arc::new(ServerShared {
                router,
                next_id: AtomicU64::new(1),
            }),
        })
    }
}

/// Serves HTTP/1.1 on one TCP connection until it is upgraded or closed.
async fn serve_http(stream: TcpStream, peer: SocketAddr, shared: Arc<ServerShared>) {
    // Small frames go out at once; the writer already batches what is queued together.
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(route_request(request, peer, shared).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    if let Err(error) = connection.await {
        debug!(%peer, %error, "HTTP connection ended with an error");
    }
}

async fn route_request(
    request: hyper::Request<hyper::body::Incoming>,
    peer: SocketAddr,
    shared: Arc<ServerShared>,
) -> http::Response<Body> {
    let Some(entry) = shared.router.get(request.uri().path()) else {
        debug!(%peer, path = request.uri().path(), "no resource at this path");
        return plain_response(
            StatusCode::NOT_FOUND,
            "no WebSocket resource at this path\n",
        );
    };
    let route = entry.route;
    let cx = UpgradeContext {
        peer,
        settings: entry.settings,
        shared: shared.clone(),
    };
    route.upgrade(request, cx).await
}
