//! Who may connect: the origin policy (403) and subprotocol negotiation (400 or the
//! chosen protocol in `Sec-WebSocket-Protocol` and on the `Connection`).

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use support::{Client, STEP, next, read_frame, start, status_of, try_upgrade};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};
use ws_server::{Connection, Handler, Origins, Server, ws_resource};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

echo_resource!(SameHostOnly, "/default");
echo_resource!(
    Listed,
    "/listed",
    origins = ["https://app.example.com", "https://*.example.org"]
);
echo_resource!(Public, "/public", origins = "any");

/// Tells the client which subprotocol was agreed.
#[ws_resource("/chat", protocols = ["chat.v2", "chat.v1"])]
#[derive(Default)]
struct Chat;

impl Handler for Chat {
    async fn on_open(&mut self, conn: &Connection) {
        tell_protocol(conn).await;
    }
}

async fn tell_protocol(conn: &Connection) {
    let agreed = conn.protocol().unwrap_or("none");
    let _ = conn.send_text(format!("protocol: {agreed}")).await;
}

#[ws_resource("/lenient", protocols = ["chat.v1"], allow_no_protocol = true)]
#[derive(Default)]
struct Lenient;

impl Handler for Lenient {
    async fn on_open(&mut self, conn: &Connection) {
        tell_protocol(conn).await;
    }
}

async fn server() -> SocketAddr {
    start(
        Server::builder()
            .route::<SameHostOnly>()
            .route::<Listed>()
            .route::<Public>()
            .route::<Chat>()
            .route::<Lenient>(),
    )
    .await
}

/// The status code of an upgrade to `path` with `headers`.
async fn status(addr: SocketAddr, path: &str, headers: &str) -> u16 {
    let (_stream, head) = try_upgrade(LOCAL, addr, path, headers).await;
    status_of(&head)
}

#[tokio::test]
async fn cross_origin_browser_requests_are_refused_by_default() {
    let addr = server().await;
    assert_eq!(
        status(addr, "/default", "").await,
        101,
        "no Origin: not a browser"
    );
    let own = format!("Origin: http://{addr}\r\n");
    assert_eq!(status(addr, "/default", &own).await, 101);
    let (_, head) = try_upgrade(LOCAL, addr, "/default", "Origin: https://evil.example\r\n").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert_eq!(status(addr, "/default", "Origin: null\r\n").await, 403);
    let other_port = format!("Origin: http://127.0.0.1:{}\r\n", addr.port() + 1);
    assert_eq!(status(addr, "/default", &other_port).await, 403);
}

#[tokio::test]
async fn allow_lists_and_the_opt_out_apply_per_resource() {
    let addr = server().await;
    let origin = |value: &str| format!("Origin: {value}\r\n");
    assert_eq!(
        status(addr, "/listed", &origin("https://app.example.com")).await,
        101
    );
    assert_eq!(
        status(addr, "/listed", &origin("https://eu.example.org")).await,
        101
    );
    assert_eq!(
        status(addr, "/listed", &origin("http://app.example.com")).await,
        403
    );
    assert_eq!(
        status(addr, "/listed", &origin(&format!("http://{addr}"))).await,
        403
    );
    assert_eq!(
        status(addr, "/public", &origin("https://evil.example")).await,
        101
    );
}

#[tokio::test]
async fn a_server_wide_origin_policy_applies_where_a_resource_sets_none() {
    let addr = start(
        Server::builder()
            .route::<SameHostOnly>()
            .route::<Public>()
            .origins(Origins::Only(&["https://trusted.example"])),
    )
    .await;
    let trusted = "Origin: https://trusted.example\r\n";
    assert_eq!(status(addr, "/default", trusted).await, 101);
    let own = format!("Origin: http://{addr}\r\n");
    assert_eq!(status(addr, "/default", &own).await, 403);
    assert_eq!(
        status(addr, "/public", "Origin: https://x.example\r\n").await,
        101
    );
}

/// Connects with tokio-tungstenite offering `protocols`; returns the client and the
/// `Sec-WebSocket-Protocol` the server answered.
async fn connect_offering(
    addr: SocketAddr,
    path: &str,
    protocols: &str,
) -> (Client, Option<String>) {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(protocols).expect("header"),
    );
    let (client, response) = tokio::time::timeout(STEP, connect_async(request))
        .await
        .expect("connect in time")
        .expect("handshake");
    let agreed = response
        .headers()
        .get("sec-websocket-protocol")
        .map(|value| value.to_str().expect("ascii").to_owned());
    (client, agreed)
}

#[tokio::test]
async fn the_server_picks_its_preferred_protocol_and_the_connection_knows_it() {
    let addr = server().await;
    let (mut client, agreed) = connect_offering(addr, "/chat", "chat.v1, chat.v2").await;
    assert_eq!(agreed.as_deref(), Some("chat.v2"));
    assert_eq!(next(&mut client).await, Message::text("protocol: chat.v2"));
    let (mut client, agreed) = connect_offering(addr, "/chat", "mqtt, chat.v1").await;
    assert_eq!(agreed.as_deref(), Some("chat.v1"));
    assert_eq!(next(&mut client).await, Message::text("protocol: chat.v1"));
}

#[tokio::test]
async fn unsupported_protocols_are_refused_unless_the_resource_allows_none() {
    let addr = server().await;
    let (_, head) = try_upgrade(
        LOCAL,
        addr,
        "/chat",
        "Sec-WebSocket-Protocol: mqtt, stomp\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    // No offer at all: the connection proceeds without a protocol.
    let (_, head) = try_upgrade(LOCAL, addr, "/chat", "").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("sec-websocket-protocol"),
        "{head}"
    );
    // Allowed to proceed without one (tungstenite, like browsers, would then give up, so
    // this client is raw).
    let (mut stream, head) =
        try_upgrade(LOCAL, addr, "/lenient", "Sec-WebSocket-Protocol: mqtt\r\n").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("sec-websocket-protocol"),
        "{head}"
    );
    assert_eq!(
        read_frame(&mut stream).await,
        (0x81, b"protocol: none".to_vec())
    );
    // The refused clients did not disturb the others.
    let (mut client, _) = connect_offering(addr, "/chat", "chat.v1").await;
    assert_eq!(next(&mut client).await, Message::text("protocol: chat.v1"));
}
