//! [`Builder`]: which resources a server serves, and its server-wide settings.

use std::{io, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::net::{TcpListener, ToSocketAddrs};
use tower::{Service, ServiceExt, util::BoxCloneSyncService};

use crate::{
    Backpressure, Compression, Handler, Heartbeat, Limits, Origins, Server, ServerHandle,
    ShutdownMode, Subprotocols,
    config::ResourceSettings,
    hub::{Bound, DEFAULT_SHUTDOWN_TIMEOUT, Hub},
    routing::{self, Route, Router},
    server::{BoxError, Fallback, HttpLimits, ServerShared},
    service::{Resources, WsService},
    state::StateMap,
    upgrade::Admissions,
};

/// Why a server with no resource does not start.
const NO_RESOURCES: &str = "no WebSocket resource to serve: no #[ws_resource] is linked into \
this program and none was added with Builder::route. If the resources are defined in \
another crate, name that crate somewhere in the program (`use my_resources as _;`) so that \
the linker keeps their registrations";

/// How long a node's presence outlives its last renewal, unless configured.
#[cfg(feature = "redis")]
const DEFAULT_PRESENCE_TTL: Duration = Duration::from_secs(15);

/// How long to wait for the peer's close frame after sending one, unless configured.
const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

impl Server {
    /// A builder with no resources and default settings.
    pub fn builder() -> Builder {
        Builder::new()
    }
}

/// Configures a [`Server`]: which resources it serves and the server-wide settings, which
/// apply wherever a resource does not set its own.
///
/// ```
/// use std::time::Duration;
/// use ws_server::{Backpressure, Heartbeat, Limits, Server, SlowConsumer};
///
/// struct Db; // e.g. a connection pool
///
/// let builder = Server::builder()
///     .registered_routes()
///     .limits(Limits::DEFAULT.with_max_message(1 << 20))
///     .backpressure(Backpressure::DEFAULT.with_slow_consumer(SlowConsumer::Drop))
///     .heartbeat(Heartbeat::DEFAULT.with_ping_interval(Some(Duration::from_secs(10))))
///     .close_timeout(Duration::from_secs(2))
///     .state(Db);
/// # let _ = builder;
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `bind` is awaited"]
pub struct Builder {
    routes: Vec<Route>,
    /// What a resource leaves unset.
    defaults: ResourceSettings,
    close_timeout: Duration,
    fallback: Option<Fallback>,
    state: StateMap,
    shutdown_timeout: Duration,
    shutdown_mode: ShutdownMode,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    http: HttpLimits,
    #[cfg(feature = "tls")]
    tls: Option<crate::TlsConfig>,
    hub: Arc<Hub>,
    #[cfg(feature = "redis")]
    redis: Option<String>,
    #[cfg(feature = "redis")]
    presence_ttl: Duration,
    #[cfg(feature = "redis")]
    histories: Vec<(String, crate::History)>,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder {
            routes: Vec::new(),
            defaults: ResourceSettings::DEFAULT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            fallback: None,
            state: StateMap::default(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            shutdown_mode: ShutdownMode::GoingAway,
            max_connections: None,
            max_connections_per_ip: None,
            http: HttpLimits::DEFAULT,
            #[cfg(feature = "tls")]
            tls: None,
            hub: Arc::new(Hub::new()),
            #[cfg(feature = "redis")]
            redis: None,
            #[cfg(feature = "redis")]
            presence_ttl: DEFAULT_PRESENCE_TTL,
            #[cfg(feature = "redis")]
            histories: Vec::new(),
        }
    }

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

    /// Server-wide limits on incoming data.
    pub fn limits(mut self, limits: Limits) -> Builder {
        self.defaults.limits = limits;
        self
    }

    /// Server-wide outbound queue bound and slow-consumer policy.
    pub fn backpressure(mut self, backpressure: Backpressure) -> Builder {
        self.defaults.backpressure = backpressure;
        self
    }

    /// Server-wide pings, pong deadline and idle timeout.
    pub fn heartbeat(mut self, heartbeat: Heartbeat) -> Builder {
        self.defaults.heartbeat = heartbeat;
        self
    }

    /// Server-wide permessage-deflate settings (on by default; [`Compression::OFF`] turns
    /// it off).
    pub fn compression(mut self, compression: Compression) -> Builder {
        self.defaults.compression = compression;
        self
    }

    /// How long to wait for the peer's close frame after sending one before closing the
    /// socket anyway. Default 5 seconds.
    pub fn close_timeout(mut self, timeout: Duration) -> Builder {
        self.close_timeout = timeout;
        self
    }

    /// How long a graceful shutdown waits for connections to finish their close handshake
    /// before stopping them (after the [`shutdown_mode`](Builder::shutdown_mode)'s window).
    /// Default 10 seconds.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Builder {
        self.shutdown_timeout = timeout;
        self
    }

    /// How a graceful shutdown closes the connections, whatever starts it (the signal of
    /// [`Server::with_graceful_shutdown`](crate::Server::with_graceful_shutdown), Ctrl-C or
    /// SIGTERM under `serve!`, [`ServerHandle::shutdown`]): all at once with 1001 (the
    /// default), or for a rolling restart with 1012 spread over a window.
    pub fn shutdown_mode(mut self, mode: ShutdownMode) -> Builder {
        self.shutdown_mode = mode;
        self
    }

    /// Which browser origins may connect, wherever a resource does not say (default:
    /// [`Origins::SameHost`]; requests without `Origin` are always allowed).
    pub fn origins(mut self, origins: Origins) -> Builder {
        self.defaults.handshake.origins = origins;
        self
    }

    /// The subprotocols of resources that do not name their own.
    pub fn subprotocols(mut self, protocols: Subprotocols) -> Builder {
        self.defaults.handshake.subprotocols = protocols;
        self
    }

    /// Caps the open WebSocket connections of the whole server; upgrades beyond it get
    /// 503 Service Unavailable. Default: no cap (the file descriptor limit is the cap).
    pub fn max_connections(mut self, connections: usize) -> Builder {
        self.max_connections = Some(connections);
        self
    }

    /// Caps the open WebSocket connections from one IP address; upgrades beyond it get
    /// 429 Too Many Requests. Default: no cap. Behind a proxy every client has the
    /// proxy's address, so leave this off there.
    pub fn max_connections_per_ip(mut self, connections: usize) -> Builder {
        self.max_connections_per_ip = Some(connections);
        self
    }

    /// How long a client has from connecting to completing the upgrade (or one plain HTTP
    /// exchange); slower clients are disconnected. Default 10 seconds.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Builder {
        self.http.handshake_timeout = timeout;
        self
    }

    /// The largest request head (request line and headers) accepted; larger ones get 431
    /// Request Header Fields Too Large. Default 16 KiB; at least 8 KiB is used.
    pub fn max_request_head(mut self, bytes: usize) -> Builder {
        self.http.max_request_head = bytes;
        self
    }

    /// The most header lines a request head may have; more get 431 Request Header Fields
    /// Too Large, however short they are. Default 100, what browsers and proxies stay well
    /// under.
    ///
    /// ```
    /// # use ws_server::Server;
    /// // A client behind proxies that each add a header or two.
    /// let builder = Server::builder().max_request_headers(200);
    /// # let _ = builder;
    /// ```
    pub fn max_request_headers(mut self, lines: usize) -> Builder {
        self.http.max_request_headers = lines;
        self
    }

    /// Whether clients may open WebSockets on the streams of an HTTP/2 connection with an
    /// extended CONNECT (RFC 8441), as browsers do when they already speak HTTP/2 to the
    /// site. Default on: the server then advertises it (`SETTINGS_ENABLE_CONNECT_PROTOCOL`),
    /// and every resource answers both that and HTTP/1.1's upgrade, through the same
    /// checks. Off, the setting is not sent, and clients open WebSockets over HTTP/1.1
    /// while HTTP/2 still serves the [`fallback`](Builder::fallback).
    pub fn http2_websockets(mut self, enabled: bool) -> Builder {
        self.http.http2_websockets = enabled;
        self
    }

    /// The most streams (requests and WebSockets) open at once on one HTTP/2 connection;
    /// a client that opens more has them refused (`REFUSED_STREAM`), which browsers retry
    /// on another connection. Default 100. Each WebSocket on a stream also counts toward
    /// [`max_connections`](Builder::max_connections) and
    /// [`max_connections_per_ip`](Builder::max_connections_per_ip), like one on a
    /// connection of its own.
    pub fn max_http2_streams(mut self, streams: u32) -> Builder {
        self.http.max_http2_streams = streams;
        self
    }

    /// Serves `wss://` (TLS) instead of `ws://`, on every connection. Requires the `tls`
    /// feature. The TLS handshake counts toward the
    /// [`handshake_timeout`](Builder::handshake_timeout).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::TlsConfig) -> Builder {
        self.tls = Some(tls);
        self
    }

    /// Answers plain HTTP requests to paths where no resource is served (by default: 404)
    /// with `service`: any tower service, such as an axum `Router` (the page that opens the
    /// WebSocket, an API, health checks), on the same port.
    ///
    /// ```
    /// use ws_server::Server;
    ///
    /// let app = axum::Router::new().route("/", axum::routing::get(|| async { "<h1>hi</h1>" }));
    /// let builder = Server::builder().fallback(app);
    /// # let _ = builder;
    /// ```
    pub fn fallback<S, B>(mut self, service: S) -> Builder
    where
        S: Service<http::Request<Incoming>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let service = service
            .map_response(|response: http::Response<B>| {
                response.map(|body| body.map_err(Into::into).boxed_unsync())
            })
            .map_err(Into::into);
        self.fallback = Some(BoxCloneSyncService::new(service));
        self
    }

    /// Adds a server-wide state value (a database pool, a configuration, counters),
    /// reachable as `state::<T>()` on the [`Request`](crate::Request) in `accept`, on every
    /// [`Connection`](crate::Connection) and on the [`ServerHandle`]. One value per type;
    /// a later value of the same type replaces the earlier.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Builder {
        self.state.insert(value);
        self
    }

    /// Makes several server processes act as one: broadcasts and publishes also go through
    /// Redis pub/sub at `url` (like `redis://127.0.0.1:6379`) to the other servers with the
    /// same backplane, and theirs come here. Each process keeps one subscription connection
    /// for all its channels: every resource path, and each topic while it has a local
    /// subscriber. If Redis goes away, local delivery goes on, publishes to the other
    /// servers are dropped and counted ([`ServerHandle::backplane_stats`]), and the
    /// backplane reconnects and resubscribes by itself.
    ///
    /// ```
    /// # use ws_server::Server;
    /// let builder = Server::builder()
    ///     .registered_routes()
    ///     .redis_backplane("redis://127.0.0.1:6379");
    /// # let _ = builder;
    /// ```
    #[cfg(feature = "redis")]
    pub fn redis_backplane(mut self, url: impl Into<String>) -> Builder {
        self.redis = Some(url.into());
        self
    }

    /// With a Redis backplane: how long a node's presence record and claims outlive its
    /// last renewal. A node renews them every third of this; one that dies without a
    /// goodbye (`kill -9`, a lost network) drops out of every node's
    /// [`cluster_connections`](ServerHandle::cluster_connections), and its claims become
    /// free, within this time. Default 15 seconds.
    #[cfg(feature = "redis")]
    pub fn presence_ttl(mut self, ttl: Duration) -> Builder {
        self.presence_ttl = ttl.max(Duration::from_millis(300));
        self
    }

    /// With a Redis backplane: the topics whose names start with `prefix` keep `history`
    /// (a Redis stream per topic), so that a connection that comes back, to any node, can
    /// get what it missed with
    /// [`Connection::subscribe_since`](crate::Connection::subscribe_since). Their messages
    /// reach every subscriber through Redis, those of this node too, so that all see them
    /// in the history's order. A topic takes the first history whose prefix it matches;
    /// `""` matches all.
    ///
    /// ```
    /// # use ws_server::{History, Server};
    /// let builder = Server::builder()
    ///     .registered_routes()
    ///     .redis_backplane("redis://127.0.0.1:6379")
    ///     .topic_history("room:", History::new(500));
    /// # let _ = builder;
    /// ```
    ///
    /// Binding fails (`InvalidInput`) without [`redis_backplane`](Builder::redis_backplane).
    #[cfg(feature = "redis")]
    pub fn topic_history(mut self, prefix: impl Into<String>, history: crate::History) -> Builder {
        self.histories.push((prefix.into(), history));
        self
    }

    /// The handle of the server this builder will bind; usable before it binds (it sees no
    /// connections until then).
    pub fn handle(&self) -> ServerHandle {
        ServerHandle::new(self.hub.clone())
    }

    /// Builds the route table and binds the listener.
    ///
    /// # Errors
    /// `InvalidInput` if there is no resource to serve (saying what to write when they are
    /// in a crate the program does not name), or naming both types if two resources share
    /// a path; otherwise what binding returns.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let (resources, rest) = self.into_resources()?;
        let shared = ServerShared {
            resources: Arc::new(resources),
            fallback: rest.fallback,
            http: rest.http,
            #[cfg(feature = "tls")]
            tls: rest.tls,
        };
        Ok(Server::new(listener, Arc::new(shared)))
    }

    /// The resources as a tower service, to serve them inside another server (an axum app,
    /// say) instead of binding a port of their own; see [`WsService`]. The HTTP settings
    /// (`handshake_timeout`, `max_request_head`, `max_request_headers`, `tls`, `fallback`)
    /// are the other server's business there and are not used.
    ///
    /// # Errors
    /// As [`bind`](Builder::bind) for the resources; for the Redis backplane, a URL it does
    /// not accept. Call it inside a tokio runtime when the server
    /// has a backplane.
    pub fn into_service(self) -> io::Result<WsService> {
        let (resources, _rest) = self.into_resources()?;
        Ok(WsService::new(Arc::new(resources)))
    }

    /// The resources and their hub, ready; and the settings of the HTTP side.
    fn into_resources(self) -> io::Result<(Resources, HttpSide)> {
        if self.routes.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, NO_RESOURCES));
        }
        #[cfg(feature = "redis")]
        if !self.histories.is_empty() && self.redis.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "`topic_history` keeps the history in Redis: it needs `redis_backplane`",
            ));
        }
        let router = Router::new(self.routes, self.defaults)?;
        self.hub.registry.set_routes(router.members());
        #[cfg(feature = "redis")]
        if let Some(url) = &self.redis {
            let paths: Vec<&str> = router.paths().collect();
            let hub = Arc::downgrade(&self.hub);
            let origin = self.hub.origin();
            let backplane = crate::backplane::RedisBackplane::start(
                url,
                hub,
                origin,
                &paths,
                self.presence_ttl,
            )?;
            self.hub.set_backplane(Box::new(backplane));
        }
        self.hub.bind(Bound {
            state: self.state,
            shutdown_timeout: self.shutdown_timeout,
            shutdown_mode: self.shutdown_mode,
            #[cfg(feature = "redis")]
            histories: self.histories,
        });
        let resources = Resources {
            router,
            server: ServerHandle::new(self.hub),
            admissions: Arc::new(Admissions::new(
                self.max_connections,
                self.max_connections_per_ip,
            )),
            close_timeout: self.close_timeout,
        };
        let http = HttpSide {
            fallback: self.fallback,
            http: self.http,
            #[cfg(feature = "tls")]
            tls: self.tls,
        };
        Ok((resources, http))
    }
}

/// What a bound server needs beyond its resources.
struct HttpSide {
    fallback: Option<Fallback>,
    http: HttpLimits,
    #[cfg(feature = "tls")]
    tls: Option<crate::TlsConfig>,
}
