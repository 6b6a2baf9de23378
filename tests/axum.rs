//! ws-server inside an axum app, on one port: resources mounted with `route_service`, a
//! tower layer's extension seen by `accept`, a layer that refuses before the upgrade,
//! broadcast across resources, and shutdown that closes every WebSocket with 1001 and runs
//! every `on_close`.

mod support;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    Router,
    extract::Request as AxumRequest,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use support::{STEP, connect, eventually, expect_close, masked, next, raw_upgrade, round_trip};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::{self, Message};
use ws_server::{
    CloseCode, Connection, Handler, Rejection, Request, Server, ServerHandle, WsService,
    http::StatusCode, ws_resource,
};

echo_resource!(Echo, "/echo", max_payload = 1000);

/// What an authentication layer in front of the resource found.
#[derive(Clone)]
struct User(String);

/// Greets with the layer's user; `accept` refuses without one.
#[ws_resource("/me")]
struct Me {
    user: String,
}

impl Handler for Me {
    async fn accept(request: &Request) -> Result<Self, Rejection> {
        match request.extensions().get::<User>() {
            Some(User(user)) => Ok(Me { user: user.clone() }),
            None => Err(StatusCode::UNAUTHORIZED.into()),
        }
    }

    async fn on_open(&mut self, conn: &Connection) {
        let _ = conn.send_text(format!("hello {}", self.user)).await;
    }
}

/// Counts its `on_close` calls and the codes they saw.
#[derive(Default)]
struct Closes {
    total: AtomicUsize,
    going_away: AtomicUsize,
}

#[ws_resource("/counted")]
#[derive(Default)]
struct Counted;

impl Handler for Counted {
    async fn on_close(&mut self, conn: &Connection, code: CloseCode, _reason: &str) {
        let closes = conn.state::<Arc<Closes>>().expect("state");
        closes.total.fetch_add(1, Ordering::SeqCst);
        if code == CloseCode::GOING_AWAY {
            closes.going_away.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The layer: `x-user: NAME` becomes a [`User`] extension; `x-user: banned` is refused with
/// 403 before the request reaches the resource.
async fn authenticate(mut request: AxumRequest, next: Next) -> Response {
    let user = request
        .headers()
        .get("x-user")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    match user.as_deref() {
        Some("banned") => (StatusCode::FORBIDDEN, "banned").into_response(),
        Some(name) => {
            request.extensions_mut().insert(User(name.to_owned()));
            next.run(request).await
        }
        None => next.run(request).await,
    }
}

/// An axum app on a free port with the resources mounted beside an ordinary route, served
/// as a user would: axum's graceful shutdown on a signal (sent through the returned
/// sender), then the WebSockets'.
async fn app() -> (
    SocketAddr,
    WsService,
    Arc<Closes>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let closes = Arc::new(Closes::default());
    let ws = Server::builder()
        .route::<Echo>()
        .route::<Me>()
        .route::<Counted>()
        .state(closes.clone())
        .into_service()
        .expect("service");
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route_service("/echo", ws.clone())
        .route_service("/counted", ws.clone())
        .route_service("/me", ws.clone())
        .layer(middleware::from_fn(authenticate));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, signal) = tokio::sync::oneshot::channel::<()>();
    let handle = ws.handle();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = signal.await;
        })
        .await
        .expect("serve");
        // Upgraded connections outlive axum's: they are shut down here.
        handle.shutdown().await;
    });
    (addr, ws, closes, stop, server)
}

async fn connect_as(
    addr: SocketAddr,
    path: &str,
    user: &str,
) -> tungstenite::Result<support::Client> {
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}{path}"))?;
    request
        .headers_mut()
        .insert("x-user", user.parse().expect("header value"));
    let connecting = tokio_tungstenite::connect_async(request);
    let (client, _) = tokio::time::timeout(STEP, connecting)
        .await
        .expect("handshake in time")?;
    Ok(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_answer_inside_an_axum_router_beside_its_routes() {
    let (addr, ws, _, _stop, _server) = app().await;
    let health = support::http_head(addr, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let mut client = connect(addr, "/echo").await;
    assert_eq!(
        round_trip(&mut client, "through axum").await,
        "through axum"
    );
    // The peer's address came from axum's ConnectInfo.
    let conns = ws.handle().connections_at("/echo");
    assert!(
        conns[0]
            .peer_addr()
            .is_some_and(|peer| peer.ip().is_loopback())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_apply_inside_axum_as_on_the_standalone_server() {
    let (addr, _, _, _stop, _server) = app().await;
    let mut stream = raw_upgrade(addr, "/echo", &[]).await;
    stream
        .write_all(&masked(true, 2, &[0; 1001]))
        .await
        .expect("write");
    let (code, _) = support::close_frame_of(stream).await;
    assert_eq!(code, 1009);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_sees_what_a_tower_layer_put_in_the_request() {
    let (addr, _, _, _stop, _server) = app().await;
    let mut alice = connect_as(addr, "/me", "alice").await.expect("upgrade");
    assert_eq!(next(&mut alice).await, Message::text("hello alice"));
    // Without the layer's extension, `accept` refuses.
    let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/me")).await;
    assert!(
        matches!(refused, Err(tungstenite::Error::Http(ref response)) if response.status() == 401),
        "{refused:?}"
    );
    // The layer itself refuses before the request reaches the resource.
    let banned = connect_as(addr, "/me", "banned").await;
    assert!(
        matches!(banned, Err(tungstenite::Error::Http(ref response)) if response.status() == 403),
        "{banned:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_reaches_every_resource_mounted_in_the_router() {
    let (addr, ws, _, _stop, _server) = app().await;
    let mut echo = connect(addr, "/echo").await;
    let mut counted = connect(addr, "/counted").await;
    let handle: ServerHandle = ws.handle();
    eventually("both connections", || handle.connection_count() == 2).await;
    let delivery = handle.broadcast_all("to everyone").await;
    assert_eq!(delivery.queued(), 2);
    assert_eq!(next(&mut echo).await, Message::text("to everyone"));
    assert_eq!(next(&mut counted).await, Message::text("to everyone"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_axum_closes_every_websocket_with_1001_and_runs_every_on_close() {
    let (addr, ws, closes, stop, server) = app().await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(connect(addr, "/counted").await);
    }
    let handle = ws.handle();
    eventually("every connection", || handle.connection_count() == 5).await;
    stop.send(()).expect("signal");
    for client in &mut clients {
        assert_eq!(expect_close(client).await.0, 1001);
    }
    tokio::time::timeout(STEP, server)
        .await
        .expect("shutdown in time")
        .expect("server task");
    assert_eq!(closes.total.load(Ordering::SeqCst), 5);
    assert_eq!(closes.going_away.load(Ordering::SeqCst), 5);
}

/// Under `nest_service`, axum strips the prefix: resources declared at `/echo` answer at
/// `/ws/echo`; under `fallback_service`, any path the router leaves is theirs to answer or
/// refuse with 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_and_fallback_services_route_by_the_path_axum_hands_over() {
    let ws = Server::builder()
        .route::<Echo>()
        .into_service()
        .expect("service");
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .nest_service("/ws", ws.clone())
        .fallback_service(ws.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut nested = connect(addr, "/ws/echo").await;
    assert_eq!(round_trip(&mut nested, "nested").await, "nested");
    let mut fallback = connect(addr, "/echo").await;
    assert_eq!(round_trip(&mut fallback, "fallback").await, "fallback");
    let head = support::http_head(addr, "GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

/// The same service in a plain hyper server, without axum: hyper-util adapts any tower
/// service, and the connection is served with upgrades.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_runs_in_a_plain_hyper_server() {
    let ws = Server::builder()
        .route::<Echo>()
        .into_service()
        .expect("service");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            // hyper knows no peer; the request carries it as a `SocketAddr` extension.
            let ws = ws.clone();
            let service = tower::ServiceBuilder::new()
                .map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(peer);
                    request
                })
                .service(ws);
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(stream),
                        hyper_util::service::TowerToHyperService::new(service),
                    )
                    .with_upgrades(),
            );
        }
    });
    let mut client = connect(addr, "/echo").await;
    assert_eq!(round_trip(&mut client, "plain hyper").await, "plain hyper");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_axum_over_http2_websockets_open_on_streams_through_the_layers() {
    let (addr, _ws, _, _stop, _server) = app().await;
    let mut client = support::h2::H2Client::connect(addr).await;
    let (_, stream) = client.open_raw("/me", &[("x-user", "alice")]).await;
    let mut me = tokio_tungstenite::WebSocketStream::from_raw_socket(
        stream,
        tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    let greeting = tokio::time::timeout(STEP, futures_util::StreamExt::next(&mut me))
        .await
        .expect("in time")
        .expect("a message")
        .expect("a message");
    assert_eq!(greeting, Message::text("hello alice"));
    let banned = client
        .try_open("/me", &[("x-user", "banned")])
        .await
        .expect("an answer");
    assert_eq!(banned.status(), StatusCode::FORBIDDEN);
}
