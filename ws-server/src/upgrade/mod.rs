//! The WebSocket upgrade, in three steps: [`negotiate`] decides from the request alone
//! (its checks, origin, subprotocol, permessage-deflate, admission); then the handler's
//! `accept` builds the per-connection value or refuses; then the connection's task runs
//! over whatever carries the bytes once the 101 is sent.

mod admission;
mod checks;
mod origin;
mod rejection;
mod transport;

use std::{future::Future, io, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use hyper::upgrade::OnUpgrade;
use tokio::io::AsyncWriteExt;
use tracing::{debug, field, info, warn};

use admission::Slot;
pub(crate) use admission::{Admissions, ResourceCount};
use checks::Form;
pub(crate) use rejection::HandshakeRejection;
use transport::Transport;

use crate::{
    Compression, Connection, Handler, Rejection, Request, ServerHandle,
    config::{Handshake, ResourceSettings},
    hub::Members,
    in_use::InUseGuard,
    metrics,
    outbox::SendDeflate,
    proto::{DeflateParams, OutFrame, negotiate_deflate},
    rejection::Body,
    task::{self, Settings},
};

/// What the HTTP layer knows when a request reaches a resource.
pub(crate) struct UpgradeContext {
    pub(crate) server: ServerHandle,
    /// The TCP peer, where known (a service inside another server may not know it).
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) settings: ResourceSettings,
    pub(crate) close_timeout: Duration,
    pub(crate) members: Arc<Members>,
    pub(crate) admissions: Arc<Admissions>,
    pub(crate) count: Arc<ResourceCount>,
}

/// The outcome of a negotiation that allows the upgrade.
pub(crate) struct Negotiated {
    form: Form,
    protocol: Option<&'static str>,
    /// permessage-deflate's parameters and the response's extension header, if agreed.
    deflate: Option<(DeflateParams, String)>,
    /// The connection's place in the connection counts, held until it ends.
    slot: Slot,
}

/// Why [`negotiate`] refused an upgrade: a malformed request (400, 426), or one the
/// resource's policy refuses (403, 400, 429, 503).
pub(crate) enum Refusal {
    Malformed(HandshakeRejection),
    Policy(Rejection),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Malformed(rejection) => rejection.status(),
            Refusal::Policy(rejection) => rejection.status(),
        }
    }

    pub(crate) fn into_response(self) -> Response<Body> {
        match self {
            Refusal::Malformed(rejection) => rejection.into_response(),
            Refusal::Policy(rejection) => rejection.into_response(),
        }
    }
}

/// Step one: whether and how to upgrade, from the request and the resource's settings
/// alone. Refusals are logged.
pub(crate) fn negotiate(
    request: &http::request::Parts,
    cx: &UpgradeContext,
) -> Result<Negotiated, Refusal> {
    let path = request.uri.path();
    let peer = cx
        .peer
        .map_or_else(|| "unknown".to_owned(), |peer| peer.to_string());
    let form = checks::check(request).map_err(|rejection| {
        info!(%peer, path, %rejection, "refused handshake");
        Refusal::Malformed(rejection)
    })?;
    let Handshake {
        origins,
        subprotocols,
        max_connections,
    } = cx.settings.handshake;
    let headers = &request.headers;
    if !origin::allowed(origins, headers, origin::host_of(request)) {
        let origin = headers.get(header::ORIGIN);
        info!(%peer, path, ?origin, "refused handshake: origin not allowed");
        let refusal = Rejection::new(StatusCode::FORBIDDEN, "origin not allowed\n");
        return Err(Refusal::Policy(refusal));
    }
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|protocol| !protocol.is_empty());
    let protocol = subprotocols.select(offered).map_err(|error| {
        let offered = headers.get(header::SEC_WEBSOCKET_PROTOCOL);
        info!(%peer, path, ?offered, "refused handshake: {error}");
        Refusal::Policy(Rejection::new(
            StatusCode::BAD_REQUEST,
            format!("{error}\n"),
        ))
    })?;
    let slot = cx
        .admissions
        .admit(&cx.count, max_connections, cx.peer.map(|peer| peer.ip()))
        .map_err(|rejection| {
            warn!(%peer, path, status = %rejection.status(), "refused handshake: {}", rejection.body());
            Refusal::Policy(rejection)
        })?;
    let compression = cx.settings.compression;
    let deflate = compression
        .enabled()
        .then(|| {
            let offers = headers
                .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
                .iter()
                .filter_map(|value| value.to_str().ok());
            negotiate_deflate(offers, &compression)
        })
        .flatten();
    Ok(Negotiated {
        form,
        protocol,
        deflate,
        slot,
    })
}

impl Negotiated {
    /// The answer that completes the handshake: 101 to an HTTP/1.1 upgrade, 200 to an
    /// HTTP/2 extended CONNECT.
    fn response(&self) -> Response<Body> {
        let mut response = Response::new(Full::new(Bytes::new()));
        let headers = response.headers_mut();
        if let Form::Upgrade { accept_key } = &self.form {
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept_key.clone());
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        }
        let headers = response.headers_mut();
        let extensions = self.deflate.as_ref().map(|(_, header)| header.as_str());
        if let Some(value) = extensions.and_then(|value| HeaderValue::from_str(value).ok()) {
            headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
        }
        if let Some(value) = self.protocol.map(HeaderValue::from_static) {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
        }
        response
    }
}

/// Answers `accept`'s refusal: with its HTTP status, or for [`Rejection::close`] with the
/// 101 and then, at once, a close frame with its code and reason (a browser's `WebSocket`
/// sees no HTTP status, only the close). The admission slot is held until that socket is
/// closed.
fn refuse(
    rejection: Rejection,
    request: &Request,
    negotiated: Negotiated,
    on_upgrade: OnUpgrade,
    cx: &UpgradeContext,
) -> Response<Body> {
    let path = request.path();
    let peer = request.peer_addr().map(field::display);
    let resource = cx.members.path();
    let Some(code) = rejection.close_code() else {
        metrics::handshake_rejected(resource, rejection.status().as_u16());
        info!(peer, path, status = %rejection.status(), "upgrade refused by accept");
        return rejection.into_response();
    };
    metrics::handshake_rejected(resource, code.as_u16());
    info!(peer, path, %code, reason = rejection.body(), "upgrade refused by accept with a close");
    let response = negotiated.response();
    let slot = negotiated.slot;
    let close_timeout = cx.close_timeout;
    let frame = OutFrame::close(Some((code, rejection.body())));
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let (mut transport, _) = Transport::of(upgraded);
            let close = async {
                transport.write_all(frame.header()).await?;
                transport.write_all(frame.payload()).await?;
                transport.shutdown().await?;
                task::discard_until_end(&mut transport).await;
                io::Result::Ok(())
            };
            let _ = tokio::time::timeout(close_timeout, close).await;
        }
        drop(slot);
    });
    response
}

/// How this connection compresses what it sends, if it does.
fn send_deflate(compression: Compression, params: DeflateParams) -> SendDeflate {
    SendDeflate {
        params,
        threshold: compression.threshold(),
        level: compression.level(),
    }
}

pub(crate) type ResponseFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// The upgrade entry point of resource `H`, stored in its [`Route`](crate::routing::Route):
/// the request's head, what completes hyper's upgrade, and the resource's context.
pub(crate) fn upgrade_to<H: Handler>(
    request: http::request::Parts,
    on_upgrade: OnUpgrade,
    cx: UpgradeContext,
) -> ResponseFuture {
    Box::pin(upgrade::<H>(request, on_upgrade, cx))
}

/// The three steps for a request to resource `H`.
async fn upgrade<H: Handler>(
    mut request: http::request::Parts,
    on_upgrade: OnUpgrade,
    cx: UpgradeContext,
) -> Response<Body> {
    // The HTTP connection is in use while the WebSocket on it is.
    let in_use = request.extensions.remove::<InUseGuard>();
    let negotiated = match negotiate(&request, &cx) {
        Ok(negotiated) => negotiated,
        Err(refusal) => {
            metrics::handshake_rejected(cx.members.path(), refusal.status().as_u16());
            return refusal.into_response();
        }
    };
    let request =
        Request::new(request, cx.peer, cx.server.clone()).with_protocol(negotiated.protocol);
    let handler = match H::accept(&request).await {
        Ok(handler) => handler,
        Err(rejection) => return refuse(rejection, &request, negotiated, on_upgrade, &cx),
    };
    let response = negotiated.response();
    let Negotiated { deflate, slot, .. } = negotiated;
    let compression = cx.settings.compression;
    let hub = cx.server.hub();
    let conn = Connection::new(
        hub.next_conn_id(),
        request,
        cx.members,
        cx.settings.backpressure,
        deflate
            .as_ref()
            .map(|(params, _)| send_deflate(compression, *params)),
    );
    let settings = Settings {
        limits: cx.settings.limits,
        close_timeout: cx.close_timeout,
        heartbeat: cx.settings.heartbeat,
    };
    // Counted among the open connections until the connection has ended.
    let keep = (hub.task_started(), slot, in_use);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let params = deflate.map(|(params, _)| params);
                let (transport, early) = Transport::of(upgraded);
                // A task of its own, sized for the connection alone, not for this wait.
                tokio::spawn(task::run(
                    transport, early, handler, conn, settings, params, keep,
                ));
            }
            Err(error) => {
                debug!(peer = conn.peer_addr().map(field::display), %error, "upgrade did not complete")
            }
        }
    });
    response
}
