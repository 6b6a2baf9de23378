//! The HTTP/1.1 upgrade: request checks, the `accept` hook, the 101 answer and the hand-over
//! of the socket to the connection task.

mod admission;
mod checks;
mod origin;
mod rejection;

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use hyper::{body::Incoming, upgrade::Upgraded};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

pub(crate) use admission::{Admissions, ResourceCount};
pub(crate) use rejection::HandshakeRejection;

use crate::{
    Connection, Handler, Origins, Request, ServerHandle, Subprotocols,
    conn::{self, SendDeflate, Settings},
    proto::{DeflateParams, negotiate_deflate},
    registry::Members,
    rejection::{Body, plain_response},
};

/// Who may connect to a resource, and how many.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HandshakePolicy {
    pub(crate) origins: Origins,
    pub(crate) protocols: Subprotocols,
    pub(crate) max_connections: Option<usize>,
}

/// What the HTTP layer knows when a request reaches a resource.
pub(crate) struct UpgradeContext {
    pub(crate) server: ServerHandle,
    pub(crate) peer: SocketAddr,
    pub(crate) settings: Settings,
    pub(crate) policy: HandshakePolicy,
    pub(crate) members: Arc<Members>,
    pub(crate) admissions: Arc<Admissions>,
    pub(crate) count: Arc<ResourceCount>,
}

pub(crate) type ResponseFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// The upgrade entry point of resource `H`, stored in its [`Route`](crate::routing::Route).
pub(crate) fn upgrade_to<H: Handler>(
    request: hyper::Request<Incoming>,
    cx: UpgradeContext,
) -> ResponseFuture {
    Box::pin(upgrade::<H>(request, cx))
}

async fn upgrade<H: Handler>(
    mut request: hyper::Request<Incoming>,
    cx: UpgradeContext,
) -> Response<Body> {
    let accept_key = match checks::check(&request) {
        Ok(key) => key,
        Err(rejection) => {
            info!(peer = %cx.peer, path = request.uri().path(), %rejection, "refused handshake");
            return rejection.into_response();
        }
    };
    let path = request.uri().path();
    if !origin::allowed(cx.policy.origins, request.headers()) {
        let origin = request.headers().get(header::ORIGIN);
        info!(peer = %cx.peer, path, ?origin, "refused handshake: origin not allowed");
        return plain_response(StatusCode::FORBIDDEN, "origin not allowed\n");
    }
    let offered = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|protocol| !protocol.is_empty());
    let protocol = match cx.policy.protocols.select(offered) {
        Ok(protocol) => protocol,
        Err(error) => {
            let offered = request.headers().get(header::SEC_WEBSOCKET_PROTOCOL);
            info!(peer = %cx.peer, path, ?offered, "refused handshake: {error}");
            return plain_response(StatusCode::BAD_REQUEST, format!("{error}\n"));
        }
    };
    let slot = match cx
        .admissions
        .admit(&cx.count, cx.policy.max_connections, cx.peer.ip())
    {
        Ok(slot) => slot,
        Err(rejection) => {
            warn!(peer = %cx.peer, path, status = %rejection.status(), "refused handshake: {}", rejection.body());
            return rejection.into_response();
        }
    };
    let compression = cx.settings.compression;
    let deflate = if compression.is_enabled() {
        let offers = request
            .headers()
            .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
            .iter()
            .filter_map(|value| value.to_str().ok());
        negotiate_deflate(offers, &compression)
    } else {
        None
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    let (parts, _body) = request.into_parts();
    let request = Request::new(parts, cx.peer, cx.server.clone()).with_protocol(protocol);
    let handler = match H::accept(&request).await {
        Ok(handler) => handler,
        Err(rejection) => {
            info!(peer = %cx.peer, path = request.path(), status = %rejection.status(), "upgrade refused by accept");
            return rejection.into_response();
        }
    };
    let hub = cx.server.hub();
    let conn = Connection::new(
        hub.next_conn_id(),
        request,
        cx.members,
        cx.settings.backpressure,
        deflate.as_ref().map(|(params, _)| SendDeflate {
            params: *params,
            threshold: compression.threshold_len(),
            level: compression.level_value(),
        }),
    );
    let (params, extensions) = deflate.unzip();
    let settings = cx.settings;
    let task = hub.task_started();
    tokio::spawn(async move {
        match on_upgrade.await {
            // Counted among the open connections until the connection has ended.
            Ok(upgraded) => run_upgraded(upgraded, handler, conn, settings, params, (task, slot)),
            Err(error) => debug!(peer = %conn.peer_addr(), %error, "upgrade did not complete"),
        }
    });
    switching_protocols(accept_key, extensions, protocol)
}

/// Starts the connection's task on the upgraded socket, unwrapped from hyper's box where
/// its type is known (plain TCP, or TLS over TCP) so that reads and writes are direct
/// calls. The task is the connection's driver alone, sized for it, not for this wait.
fn run_upgraded<H: Handler, K: Send + 'static>(
    upgraded: Upgraded,
    handler: H,
    conn: Connection,
    settings: Settings,
    params: Option<DeflateParams>,
    keep: K,
) {
    let upgraded = match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            let io = parts.io.into_inner();
            let run = conn::run(io, parts.read_buf, handler, conn, settings, params, keep);
            tokio::spawn(run);
            return;
        }
        Err(upgraded) => upgraded,
    };
    #[cfg(feature = "tls")]
    let upgraded = match upgraded.downcast::<TokioIo<tokio_rustls::server::TlsStream<TcpStream>>>()
    {
        Ok(parts) => {
            let io = parts.io.into_inner();
            let run = conn::run(io, parts.read_buf, handler, conn, settings, params, keep);
            tokio::spawn(run);
            return;
        }
        Err(upgraded) => upgraded,
    };
    let io = TokioIo::new(upgraded);
    tokio::spawn(conn::run(
        io,
        Bytes::new(),
        handler,
        conn,
        settings,
        params,
        keep,
    ));
}

fn switching_protocols(
    accept_key: HeaderValue,
    extensions: Option<String>,
    protocol: Option<&'static str>,
) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept_key);
    if let Some(value) = extensions.and_then(|value| HeaderValue::from_str(&value).ok()) {
        headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
    }
    if let Some(value) = protocol.and_then(|value| HeaderValue::from_str(value).ok()) {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    response
}
