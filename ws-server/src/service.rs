//! The resources as an HTTP service: what the standalone server runs for each request, and
//! [`WsService`], the same as a tower `Service` for axum, hyper and other tower stacks.

use std::{
    convert::Infallible,
    fmt,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use http::StatusCode;
use tower_service::Service;
use tracing::debug;

use crate::{
    ServerHandle,
    rejection::{Body, plain_response},
    routing::{Entry, Router},
    upgrade::{Admissions, ResponseFuture, UpgradeContext},
};

/// A server's resources and what their connections share.
#[derive(Debug)]
pub(crate) struct Resources {
    pub(crate) router: Router,
    pub(crate) server: ServerHandle,
    pub(crate) admissions: Arc<Admissions>,
    /// How long to wait for the peer's close frame after sending one.
    pub(crate) close_timeout: Duration,
}

impl Resources {
    /// The resource served at `path`, if any.
    pub(crate) fn at(&self, path: &str) -> Option<&Entry> {
        self.router.get(path)
    }

    /// Upgrades `request` to the resource `entry` (or answers why not). `peer` is the TCP
    /// peer, where known.
    pub(crate) fn upgrade<B>(
        &self,
        entry: &Entry,
        mut request: http::Request<B>,
        peer: Option<SocketAddr>,
    ) -> ResponseFuture {
        let on_upgrade = hyper::upgrade::on(&mut request);
        let (parts, _body) = request.into_parts();
        let cx = UpgradeContext {
            peer,
            settings: entry.settings,
            close_timeout: self.close_timeout,
            server: self.server.clone(),
            members: entry.members.clone(),
            admissions: self.admissions.clone(),
            count: entry.count.clone(),
        };
        entry.route.upgrade(parts, on_upgrade, cx)
    }
}

/// The resources of a [`Builder`](crate::Builder) as a tower [`Service`], to serve them
/// inside another server: an axum `Router` (`route_service`, `nest_service`,
/// `fallback_service`), a hyper server (through hyper-util's `TowerToHyperService`, with
/// `with_upgrades`), any tower stack. Each request to a
/// resource's path is upgraded with the same engine, limits, policies, compression,
/// heartbeat, topics and backplane as the standalone server; other paths get 404.
///
/// The peer's address comes from the request's extensions where it is there: axum's
/// `ConnectInfo<SocketAddr>` (serve the app with `into_make_service_with_connect_info`), or
/// a `SocketAddr`. Extensions set by middleware in front (an authentication layer's user,
/// say) are readable in [`Handler::accept`](crate::Handler::accept) through
/// [`Request::extensions`](crate::Request::extensions).
///
/// Upgraded connections live on after the HTTP server that accepted them stops: shut them
/// down with [`handle`](WsService::handle)`().shutdown()`, which closes each with 1001 and
/// runs every `on_close`.
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
/// # async fn run() -> std::io::Result<()> {
/// let ws = Server::builder().route::<Echo>().into_service()?;
/// let app = axum::Router::new()
///     .route("/health", axum::routing::get(|| async { "ok" }))
///     .route_service("/echo", ws.clone());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app).await?;
/// ws.handle().shutdown().await;
/// # Ok(())
/// # }
/// # let _ = run;
/// ```
#[derive(Clone)]
pub struct WsService {
    resources: Arc<Resources>,
}

impl WsService {
    pub(crate) fn new(resources: Arc<Resources>) -> WsService {
        WsService { resources }
    }

    /// The handle to the connections this service upgraded: broadcast, topics, state,
    /// shutdown.
    pub fn handle(&self) -> ServerHandle {
        self.resources.server.clone()
    }
}

impl fmt::Debug for WsService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsService")
            .field("paths", &self.resources.router.paths().collect::<Vec<_>>())
            .finish()
    }
}

impl<B> Service<http::Request<B>> for WsService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Some(entry) = self.resources.at(request.uri().path()) else {
            debug!(path = request.uri().path(), "no resource at this path");
            return Box::pin(async { Ok(not_found()) });
        };
        let peer = peer_of(request.extensions());
        let upgrade = self.resources.upgrade(entry, request, peer);
        Box::pin(async move { Ok(upgrade.await) })
    }
}

/// What a request to a path with no resource gets.
pub(crate) fn not_found() -> http::Response<Body> {
    plain_response(
        StatusCode::NOT_FOUND,
        "no WebSocket resource at this path\n",
    )
}

/// The TCP peer as the request's extensions tell it, if they do.
fn peer_of(extensions: &http::Extensions) -> Option<SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(peer)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*peer);
    }
    extensions.get::<SocketAddr>().copied()
}
