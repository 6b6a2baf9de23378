//! The HTTP side: 404 for unknown paths, 400 for malformed upgrades, 426 for other
//! versions, refusals from `accept`, and bytes sent right after the handshake.

mod support;

use std::net::SocketAddr;

use futures_util::SinkExt;
use support::{Recorder, http_head, masked, raw_upgrade, start};
use tokio_tungstenite::tungstenite::{self, Message};
use ws_server::{
    Connection, Handler, Rejection, Request, Server, Text, http::StatusCode, ws_resource,
};

/// Refuses unless `?token=s3cret` or an `x-token: s3cret` header is given.
#[ws_resource("/private")]
struct Private {
    user: String,
}

impl Handler for Private {
    async fn accept(request: &Request) -> Result<Self, Rejection> {
        let token = request
            .query("token")
            .map(|t| t.into_owned())
            .or(request.header("x-token").map(str::to_owned));
        match token.as_deref() {
            Some("s3cret") => Ok(Private {
                user: "alice".into(),
            }),
            Some(_) => Err(Rejection::new(StatusCode::FORBIDDEN, "wrong token")),
            None => Err(Rejection::new(
                StatusCode::UNAUTHORIZED,
                "a token is required",
            )),
        }
    }

    async fn on_text(&mut self, conn: &Connection, text: Text) {
        let _ = conn.send_text(format!("{}: {text}", self.user)).await;
    }
}

/// Refuses every client with a close a browser can read.
#[ws_resource("/closed")]
struct Closed;

impl Handler for Closed {
    async fn accept(request: &Request) -> Result<Self, Rejection> {
        let code = match request.query("code") {
            Some(code) => code.parse().unwrap_or(4000),
            None => 4003,
        };
        Err(Rejection::close(ws_server::CloseCode::new(code), "go away"))
    }
}

/// Neither `Default` nor `accept`: cannot be built.
#[ws_resource("/unbuildable")]
struct Unbuildable {
    _state: std::sync::Arc<()>,
}

impl Handler for Unbuildable {}

async fn server() -> SocketAddr {
    start(
        Server::builder()
            .route::<Recorder>()
            .route::<Private>()
            .route::<Closed>()
            .route::<Unbuildable>(),
    )
    .await
}

fn upgrade_request(path: &str, change: impl Fn(&mut Vec<(&'static str, &'static str)>)) -> String {
    let mut headers = vec![
        ("Host", "localhost"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    change(&mut headers);
    let lines: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    format!("GET {path} HTTP/1.1\r\n{lines}\r\n")
}

fn status(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"))
}

#[tokio::test]
async fn unknown_path_is_404() {
    let addr = server().await;
    assert_eq!(
        status(&http_head(addr, &upgrade_request("/nowhere", |_| {})).await),
        404
    );
    let err = tokio_tungstenite::connect_async(format!("ws://{addr}/nowhere"))
        .await
        .expect_err("404");
    assert!(
        matches!(err, tungstenite::Error::Http(ref r) if r.status() == 404),
        "{err}"
    );
}

#[tokio::test]
async fn malformed_upgrades_are_400() {
    let addr = server().await;
    let remove =
        |name: &'static str| move |h: &mut Vec<(&str, &str)>| h.retain(|(k, _)| *k != name);
    for name in [
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
    ] {
        let head = http_head(addr, &upgrade_request("/record", remove(name))).await;
        assert_eq!(status(&head), 400, "without {name}: {head}");
    }
    let no_host = upgrade_request("/record", remove("Host"));
    assert_eq!(
        status(&http_head(addr, &no_host).await),
        400,
        "without Host"
    );
    let two_hosts = upgrade_request("/record", |h| h.push(("Host", "elsewhere")));
    assert_eq!(status(&http_head(addr, &two_hosts).await), 400, "two Hosts");
    let short_key = upgrade_request("/record", |h| h[3] = ("Sec-WebSocket-Key", "c2hvcnQ="));
    assert_eq!(status(&http_head(addr, &short_key).await), 400);
    let post = upgrade_request("/record", |_| {}).replacen("GET", "POST", 1);
    assert_eq!(status(&http_head(addr, &post).await), 400);
    let http10 = upgrade_request("/record", |_| {}).replacen("HTTP/1.1", "HTTP/1.0", 1);
    assert_eq!(status(&http_head(addr, &http10).await), 400);
}

#[tokio::test]
async fn other_versions_get_426_naming_version_13() {
    let addr = server().await;
    let head = http_head(
        addr,
        &upgrade_request("/record", |h| h[4] = ("Sec-WebSocket-Version", "8")),
    )
    .await;
    assert_eq!(status(&head), 426, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{head}"
    );
}

#[tokio::test]
async fn a_plain_http_request_gets_an_answer_not_a_hang() {
    let addr = server().await;
    let head = http_head(addr, "GET /record HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(status(&head), 400);
    let head = http_head(addr, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(status(&head), 404);
}

#[tokio::test]
async fn accept_refuses_with_its_status_and_admits_with_a_token() {
    let addr = server().await;
    for (path, expected) in [("/private", 401), ("/private?token=nope", 403)] {
        let err = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
            .await
            .expect_err("refused");
        match err {
            tungstenite::Error::Http(response) => {
                assert_eq!(response.status(), expected);
                let body = response
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                assert!(body.contains("token"), "{body}");
            }
            other => panic!("expected an HTTP refusal, got {other}"),
        }
    }
    let mut client = support::connect(addr, "/private?token=s3cret").await;
    assert_eq!(support::round_trip(&mut client, "hi").await, "alice: hi");
    let head = http_head(
        addr,
        &upgrade_request("/private", |h| h.push(("X-Token", "s3cret"))),
    )
    .await;
    assert_eq!(status(&head), 101);
}

#[tokio::test]
async fn a_handler_without_default_or_accept_is_refused_with_500() {
    let addr = server().await;
    assert_eq!(
        status(&http_head(addr, &upgrade_request("/unbuildable", |_| {})).await),
        500
    );
}

#[tokio::test]
async fn bytes_sent_with_the_handshake_are_not_lost() {
    let addr = server().await;
    let mut early = masked(true, 1, b"first");
    early.extend(masked(true, 1, b"second"));
    let stream = raw_upgrade(
        addr,
        &format!("/record?tag={}", support::unique_tag()),
        &early,
    )
    .await;
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let mut client = tokio_tungstenite::WebSocketStream::from_raw_socket(
        stream,
        tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    assert_eq!(support::next(&mut client).await, Message::text("first"));
    assert_eq!(support::next(&mut client).await, Message::text("second"));
    client.send(Message::text("third")).await.expect("send");
    assert_eq!(support::next(&mut client).await, Message::text("third"));
}

/// `extra` short header lines added to an upgrade request of about 2 KiB in all.
fn with_header_lines(extra: usize) -> String {
    let request = upgrade_request("/record", |_| {});
    let lines: String = (0..extra).map(|i| format!("x-{i}: y\r\n")).collect();
    request.replacen("\r\n\r\n", &format!("\r\n{lines}\r\n"), 1)
}

#[tokio::test]
async fn header_lines_are_capped_at_100_by_default_and_the_cap_is_a_setting() {
    let addr = server().await;
    // Far under the 16 KiB head limit, over the line count.
    let many = with_header_lines(100);
    assert!(many.len() < 2048);
    assert_eq!(status(&http_head(addr, &many).await), 431);
    assert_eq!(status(&http_head(addr, &with_header_lines(90)).await), 101);
    let roomy = start(
        Server::builder()
            .route::<Recorder>()
            .max_request_headers(200),
    )
    .await;
    assert_eq!(status(&http_head(roomy, &many).await), 101);
}

#[tokio::test]
async fn a_refusal_by_close_completes_the_handshake_and_closes_with_its_code() {
    let addr = server().await;
    let mut client = support::connect(addr, "/closed").await;
    assert_eq!(
        support::expect_close(&mut client).await,
        (4003, "go away".to_owned())
    );
    // Codes a refusal may not carry become 1008 (policy).
    let mut client = support::connect(addr, "/closed?code=1006").await;
    assert_eq!(support::expect_close(&mut client).await.0, 1008);
}
